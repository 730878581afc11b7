"""The campaign's history: every operation and its outcome, one JSON
object per line, written as it happens (so a run that dies still leaves
what it saw) and read back by the checker.

Every event has `t` (seconds since the campaign began, one clock for all
threads) and `type`; the file is in `t` order, and its first event,
`start`, gives the wall clock of t=0 (to match the brokers' logs). The
types:

- `ack` / `fail`: an idempotent producer's record acknowledged (topic,
  partition, offset, value) or given up (value, error);
  `producer_closed`: how many were sent and never answered.
- `txn_begin` / `txn_end`: a transaction's records (values, partitions),
  then its outcome as the client saw it: `committed`, `aborted` (abort
  confirmed), or `unknown` (no answer, or a fatal error); `intent` says
  whether it meant to commit.
- `consumer_opened` / `consumer_closed`: a group consumer's instances;
  `assign` / `revoke` / `lost`: its ownership of partitions; `consume`: a
  record it was given; `commit`: offsets the group coordinator
  acknowledged; `commit_failed`.
- `client_error`: anything else a client reported; `client_crashed`,
  `client_stuck`: a client thread that died, or did not stop.
- `nemesis`: a fault injected (`phase` start) and healed (`phase` end);
  `recovered`: the cluster whole and every client working again;
  `broker_crashed`: a broker that exited on its own or while starting;
  `stalled`: clients that got nothing done for a minute after a recovery;
  `unfinished`: a recovery, clean shutdown or read-back that did not
  complete.
- `final`: a record read back at the end (read_committed);
  `final_committed`: the group's committed offset of a partition at the
  end; `replicas`: whether the replicas ended byte-identical.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path


class History:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = open(self.path, "w", buffering=1)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self.record("start", wall_clock=datetime.now(timezone.utc).isoformat())

    def record(self, type: str, **fields) -> float:
        """Appends one event; returns its time."""
        with self._lock:
            t = round(time.monotonic() - self._start, 6)
            self._file.write(json.dumps({"t": t, "type": type, **fields}) + "\n")
        return t

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load(path: str | Path) -> list[dict]:
    """A history's events, in order (a torn last line is skipped)."""
    events = []
    with open(path) as lines:
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events
