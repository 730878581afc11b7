"""One dev broker (`gregor broker --dev --port 0`) and its fault plane:
request faults, partition pauses, client cuts, time travel, the request
journal and the client-behaviour linter (docs/testing.md, sections 3-4)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Mapping, Optional, Union

from .process import STARTUP_TIMEOUT_S, GregorProcess, OverrideValue, find_binary
from .schema import After, ClientCutMode, Clock, Fault, FaultAction, JournalEntry, LintFinding


class GregorBroker(GregorProcess):
    """A running dev broker: topics are created on first use, groups
    rebalance without delay, and its data directory is removed when it
    stops. Every helper raises GregorAdminError on a non-2xx answer."""

    kind = "broker"
    ready_path = "/health"

    @classmethod
    def start(cls, overrides: Optional[Mapping[str, OverrideValue]] = None, *,
              binary: Optional[str] = None, emulate_kafka: Optional[str] = None,
              log_dir: Optional[Union[str, Path]] = None,
              startup_timeout: float = STARTUP_TIMEOUT_S) -> "GregorBroker":
        """Starts a broker and waits until its admin listener serves.

        `overrides` are broker settings by their Kafka names, as `--override`
        takes them (`{"num.partitions": 3}`); `emulate_kafka` a release such
        as "3.6" (`--emulate-kafka`); `binary` defaults to $GREGOR_BIN, then
        `gregor` on PATH; the log goes to `log_dir` (a new temporary
        directory by default). Use it as a context manager to stop it."""
        return cls._launch(binary or find_binary(), [], overrides, emulate_kafka, log_dir,
                           startup_timeout)

    # -- request faults -----------------------------------------------------

    def arm(self, *, api: Union[str, int], action: FaultAction, count: int = 1,
            topic: Optional[str] = None, partition: Optional[int] = None,
            client_id: Optional[str] = None, after: Optional[After] = None) -> Fault:
        """Arms a fault on the next `count` requests of `api` (a name such as
        "Produce" or a key such as 0) that match `topic`, `partition` and
        `client_id` when given; with `after={"topic": t, "records": n}` it
        waits until n more records have been appended to t. `action` is
        `{"error": code}` (answered in the API's own shape, nothing handled),
        `{"latency_ms": n}`, `{"throttle_ms": n}` or `"disconnect"`. Returns
        the armed fault with its id.

            broker.arm(api="Produce", topic="orders", action={"error": 6}, count=2)
        """
        fault = {"api": str(api), "action": action, "count": count, "topic": topic,
                 "partition": partition, "client_id": client_id}
        if after is not None:
            fault["after"] = after
        return self._admin.post("/faults", fault)

    def faults(self) -> List[Fault]:
        """The faults still armed, with their remaining counts (an exhausted
        fault is no longer listed)."""
        return self._admin.get("/faults")

    def clear_faults(self) -> None:
        """Disarms every fault."""
        self._admin.delete("/faults")

    # -- partitions and clients -----------------------------------------------

    def pause(self, topic: str, partition: int) -> None:
        """Holds the partition's appends: produce requests to it wait, unanswered,
        until `resume`. The partition must exist (produce to it first)."""
        self._admin.post(f"/partitions/{topic}/{partition}/pause")

    def resume(self, topic: str, partition: int) -> None:
        """Releases a paused partition's appends."""
        self._admin.post(f"/partitions/{topic}/{partition}/resume")

    def cut_clients(self, mode: ClientCutMode) -> None:
        """Cuts the broker off from its clients: with "refuse" their
        connections close at their next request, with "black_hole" their
        requests wait unanswered until `heal_clients` (then are answered)."""
        self._admin.post("/network/clients", {"mode": mode})

    def heal_clients(self) -> None:
        """Ends the client cut."""
        self._admin.delete("/network/clients")

    def clients_cut(self) -> Optional[ClientCutMode]:
        """The current client cut, or None."""
        return self._admin.get("/network/clients")

    # -- time travel ------------------------------------------------------------

    def advance_clock(self, ms: int) -> Clock:
        """Moves the broker's clock `ms` milliseconds forward: group sessions
        and rebalances, transaction timeouts, producer-id expiry, retention
        and delegation tokens expire at once. Returns the clock after."""
        return self._admin.post(f"/clock/advance?ms={int(ms)}")

    def clock(self) -> Clock:
        """The broker's clock: `now_ms` and `offset_ms` (how far it was moved)."""
        return self._admin.get("/clock")

    # -- what the broker saw ------------------------------------------------------

    def journal(self) -> List[JournalEntry]:
        """The last 1000 requests, oldest first: api, version, client id,
        correlation id, latency, the error code answered and the fault applied."""
        return self._admin.get("/journal")

    def lint(self) -> List[LintFinding]:
        """The client-behaviour linter's findings so far, e.g. rule
        "commit-beyond-high-watermark" for a client that committed past the
        high watermark (docs/testing.md lists the rules)."""
        return self._admin.get("/lint")
