"""The checker: reads a campaign's history (history.py) and reports every
anomaly it proves, each with the events that show it.

What is checked, against the records read back at the end (read_committed)
and the group's committed offsets at the end:

- `lost`: an acknowledged idempotent record, or a record of a transaction
  whose commit was acknowledged, is not in the log;
- `misplaced`: an acknowledged record is in the log at another offset than
  the one acknowledged (or another record is at that offset);
- `duplicates`: a value is in the log more than once (every value is sent
  once, so any copy comes from a retry that idempotence should have
  absorbed);
- `aborted_reads`: a read_committed reader (a group consumer, or the final
  read) was given a record of a transaction that was aborted: one whose
  abort the coordinator confirmed, or whose records are not in the log;
- `torn_transactions`: part of a transaction is in the log and part is not;
- `inconsistent_reads`: a consumer was given a record that the log, at
  the end, does not hold at that offset (read, then truncated away or
  replaced), or a value never sent;
- `nonmonotonic`: within one assignment, a consumer was given an offset
  not above the one before (offsets going backwards or repeating);
- `skipped`: within one assignment, a consumer jumped over a record the
  log holds; or a record below the group's final committed offset that no
  consumer of the group was ever given;
- `committed_offsets_lost`: a consumer started a partition below an
  offset the coordinator had acknowledged before the assignment, or the
  group's final committed offset is below an acknowledged commit;
- `crashes`: a broker exited without being told to; `client_crashes`: a
  client thread died or stayed stuck; `unfinished`: the final read or the
  offset fetch could not complete; `diverged_replicas`: the replicas'
  logs are not byte-identical at the end.

Run on a saved history: `python -m campaign.checker history.jsonl`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

ANOMALIES = ("lost", "misplaced", "duplicates", "aborted_reads", "torn_transactions",
             "inconsistent_reads", "nonmonotonic", "skipped", "committed_offsets_lost",
             "crashes", "client_crashes", "stalled", "unfinished", "diverged_replicas")

EXAMPLES = 10


def check(events: list[dict]) -> dict:
    found: dict[str, list] = {kind: [] for kind in ANOMALIES}
    final = {}                          # (topic, partition, offset) -> value
    where = defaultdict(list)           # value -> [(topic, partition, offset)] in the log
    for e in events:
        if e["type"] == "final":
            tpo = (e["topic"], e["partition"], e["offset"])
            final[tpo] = e["value"]
            where[e["value"]].append(tpo)

    _check_writes(events, final, where, found)
    fate = _check_transactions(events, where, found)
    _check_consumers(events, final, fate, found)
    _check_run(events, found)
    return _report(events, final, fate, found)


def _check_writes(events, final, where, found) -> None:
    for e in events:
        if e["type"] != "ack":
            continue
        value, tpo = e["value"], (e["topic"], e["partition"], e["offset"])
        if value not in where:
            found["lost"].append({"ack": e})
        elif final.get(tpo) != value:
            found["misplaced"].append({"ack": e, "in_log_at": where[value],
                                       "at_acked_offset": final.get(tpo)})
    for value, places in where.items():
        if len(places) > 1:
            found["duplicates"].append({"value": value, "at": places})


def _check_transactions(events, where, found) -> dict[str, str]:
    """Checks each transaction against the log; returns value -> fate
    ('committed' or 'aborted') for every transactional value."""
    begun = {e["txn"]: e for e in events if e["type"] == "txn_begin"}
    ended = {e["txn"]: e for e in events if e["type"] == "txn_end"}
    fate = {}
    for txn, begin in begun.items():
        end = ended.get(txn)
        outcome = end["outcome"] if end else "unknown"
        values = begin["values"]
        present = [v for v in values if v in where]
        missing = [v for v in values if v not in where]
        evidence = {"txn": begin, "end": end, "present": present, "missing": missing}
        if present and missing:
            found["torn_transactions"].append(evidence)
        if outcome == "committed":
            found["lost"].extend({"txn": txn, "value": v, "end": end} for v in missing)
        elif outcome == "aborted" and present:
            found["aborted_reads"].append(dict(evidence, reader="final read_committed read"))
        committed = outcome == "committed" or (outcome == "unknown" and bool(present))
        for v in values:
            fate[v] = "committed" if committed else "aborted"
    return fate


def _check_consumers(events, final, fate, found) -> None:
    consumed_anywhere = set()
    acked_commits = defaultdict(list)       # (topic, partition) -> [(t, offset)]
    sessions = {}                           # (client, topic, partition) -> session state
    in_log = defaultdict(list)              # (topic, partition) -> sorted offsets
    for topic, partition, offset in sorted(final):
        in_log[(topic, partition)].append(offset)

    for e in events:
        kind = e["type"]
        if kind == "commit":
            for topic, partition, offset in e["offsets"]:
                acked_commits[(topic, partition)].append((e["t"], offset))
        elif kind == "assign":
            for topic, partition in e["partitions"]:
                sessions[(e["client"], topic, partition)] = {"start": e, "last": None}
        elif kind in ("revoke", "lost"):
            for topic, partition in e["partitions"]:
                sessions.pop((e["client"], topic, partition), None)
        elif kind == "consumer_closed":
            for key in [k for k in sessions if k[0] == e["client"]]:
                del sessions[key]
        elif kind == "consume":
            tp, offset, value = (e["topic"], e["partition"]), e["offset"], e["value"]
            consumed_anywhere.add((e["topic"], e["partition"], offset))
            if fate.get(value) == "aborted":
                found["aborted_reads"].append({"consume": e})
            if final.get((*tp, offset)) != value:
                found["inconsistent_reads"].append({"consume": e,
                                                    "log_at_offset": final.get((*tp, offset))})
            session = sessions.setdefault((e["client"], *tp), {"start": None, "last": None})
            last = session["last"]
            if last is None:
                started = session["start"]["t"] if session["start"] else e["t"]
                floor = max((o for t, o in acked_commits[tp] if t < started), default=None)
                if floor is not None and offset < floor:
                    found["committed_offsets_lost"].append(
                        {"consume": e, "assigned": session["start"], "acknowledged_commit": floor})
            elif offset <= last["offset"]:
                found["nonmonotonic"].append({"previous": last, "consume": e})
            else:
                jumped = [o for o in in_log[tp] if last["offset"] < o < offset]
                if jumped:
                    found["skipped"].append({"previous": last, "consume": e,
                                             "skipped_offsets": jumped[:EXAMPLES]})
            session["last"] = e

    for e in events:
        if e["type"] != "final_committed":
            continue
        tp = (e["topic"], e["partition"])
        best = max(acked_commits[tp], default=None, key=lambda c: c[1])
        if best is not None and (e["offset"] is None or e["offset"] < best[1]):
            found["committed_offsets_lost"].append(
                {"final_committed": e, "acknowledged_commit": best[1], "acknowledged_at": best[0]})
        if e["offset"] is not None:
            never = [o for o in in_log[tp]
                     if o < e["offset"] and (*tp, o) not in consumed_anywhere]
            if never:
                found["skipped"].append({"final_committed": e, "never_consumed": never[:EXAMPLES],
                                         "count": len(never)})


def _check_run(events, found) -> None:
    for e in events:
        kind = e["type"]
        if kind == "broker_crashed":
            found["crashes"].append(e)
        elif kind in ("client_crashed", "client_stuck"):
            found["client_crashes"].append(e)
        elif kind == "stalled":
            found["stalled"].append(e)
        elif kind == "unfinished":
            found["unfinished"].append(e)
        elif kind == "replicas" and not e["identical"]:
            found["diverged_replicas"].append(e)


def _report(events, final, fate, found) -> dict:
    types = Counter(e["type"] for e in events)
    outcomes = Counter(e["outcome"] for e in events if e["type"] == "txn_end")
    faults = Counter(e["fault"] for e in events
                     if e["type"] == "nemesis" and e["phase"] == "start")
    return {
        "rounds": len({e["round"] for e in events if e["type"] == "recovered"}),
        "faults": dict(sorted(faults.items())),
        "operations": {
            "acknowledged": types["ack"], "failed": types["fail"],
            "unflushed": sum(e.get("unflushed", 0) for e in events
                             if e["type"] == "producer_closed"),
            "transactions": dict(sorted(outcomes.items())),
            "transactional_records_committed": sum(1 for f in fate.values() if f == "committed"),
            "consumed": types["consume"], "commits": types["commit"],
            "rebalances": types["assign"], "read_back": len(final),
        },
        "anomalies": {kind: len(items) for kind, items in found.items()},
        "examples": {kind: items[:EXAMPLES] for kind, items in found.items() if items},
    }


def anomaly_count(report: dict) -> int:
    return sum(report["anomalies"].values())


def main(argv: list[str]) -> int:
    from .history import load
    if len(argv) != 1:
        print("usage: python -m campaign.checker HISTORY.jsonl", file=sys.stderr)
        return 2
    report = check(load(argv[0]))
    print(json.dumps(report, indent=2))
    return 1 if anomaly_count(report) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
