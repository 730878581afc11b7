"""A dev cluster (`gregor broker --dev --brokers N --port 0`): N brokers in
one process, each a voter of the metadata quorum, with real replication,
ISR and coordinators, and the cluster's fault plane (docs/testing.md,
"A cluster in one process"). Brokers are fenced after 3 s of silence and
followers leave the ISR after 5 s, so failover happens in seconds.

The cluster's plane has no request faults, journal or linter: those are
the single broker's (GregorBroker)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Mapping, Optional, Union

from .errors import GregorAdminError
from .process import STARTUP_TIMEOUT_S, GregorProcess, OverrideValue, find_binary
from .schema import BrokerState, ClientCutMode, Clock, PartitionState


class GregorCluster(GregorProcess):
    """A running dev cluster; `bootstrap` lists every broker. Nodes are
    numbered 1 to N. Every helper raises GregorAdminError on a non-2xx
    answer (404 for an unknown node, 409 for a move the cluster refuses)."""

    kind = "cluster"
    ready_path = "/brokers"

    @classmethod
    def start(cls, overrides: Optional[Mapping[str, OverrideValue]] = None, *, brokers: int = 3,
              binary: Optional[str] = None, emulate_kafka: Optional[str] = None,
              log_dir: Optional[Union[str, Path]] = None,
              startup_timeout: float = STARTUP_TIMEOUT_S) -> "GregorCluster":
        """Starts `brokers` brokers in one process and waits until its admin
        listener serves. `overrides` apply to every broker (e.g.
        `{"min.insync.replicas": 2}`); the other arguments are as for
        GregorBroker.start."""
        return cls._launch(binary or find_binary(), ["--brokers", str(brokers)], overrides,
                           emulate_kafka, log_dir, startup_timeout)

    # -- brokers ------------------------------------------------------------------

    def brokers(self) -> List[BrokerState]:
        """Each broker's node_id, address, and whether it is running,
        isolated, or cut off from its clients (clients_cut)."""
        return self._admin.get("/brokers")

    def kill(self, node: int) -> None:
        """Stops a broker as `kill -9` would: no clean shutdown."""
        self._admin.post(f"/brokers/{node}/kill")

    def stop(self, node: int) -> None:
        """Stops a broker cleanly: it hands its leaderships over first.
        (`shutdown()` stops the whole cluster.)"""
        self._admin.post(f"/brokers/{node}/stop")

    def restart(self, node: int) -> None:
        """Starts a stopped or killed broker again on its ports and data, and
        returns once every running broker lists it as alive. A running broker
        is stopped cleanly first."""
        self._admin.post(f"/brokers/{node}/restart")

    def isolate(self, node: int) -> None:
        """Cuts a broker off from the other brokers (replica fetching and the
        metadata quorum, both ways) while clients still reach it: the others
        fence it and move its leaderships; it still believes it leads."""
        self._admin.post(f"/brokers/{node}/isolate")

    def cut_clients(self, node: int, mode: ClientCutMode) -> None:
        """Cuts a broker off from its clients, not from the other brokers
        ("refuse" or "black_hole", as GregorBroker.cut_clients) until `heal`."""
        self._admin.post(f"/brokers/{node}/clients", {"mode": mode})

    def pause_broker(self, node: int) -> None:
        """Freezes a broker as SIGSTOP would, seen from outside: isolated and
        its clients black-holed until `heal` (its own timers keep running)."""
        self._admin.post(f"/brokers/{node}/pause")

    def heal(self) -> None:
        """Ends every isolation, client cut and pause."""
        self._admin.post("/heal")

    # -- partitions ----------------------------------------------------------------

    def partition(self, topic: str, partition: int) -> PartitionState:
        """The partition's leader and ISR as the brokers that are not
        isolated agree on them (no leader and an empty ISR while no broker
        knows the partition)."""
        try:
            return self._admin.get(f"/partitions/{topic}/{partition}")
        except GregorAdminError as error:
            if error.status != 404:
                raise
            return {"leader": None, "isr": []}

    def leader_of(self, topic: str, partition: int) -> Optional[int]:
        """The partition's leader, or None while it has none (or the
        partition does not exist)."""
        return self.partition(topic, partition)["leader"]

    def isr(self, topic: str, partition: int) -> List[int]:
        """The partition's in-sync replicas."""
        return self.partition(topic, partition)["isr"]

    def move_leader(self, topic: str, partition: int, to: int) -> None:
        """Moves the partition's leadership to `to`, which must be in its ISR
        (else GregorAdminError with status 409); returns once it leads."""
        self._admin.post(f"/partitions/{topic}/{partition}/leader", {"to": to})

    # -- time travel -----------------------------------------------------------------

    def advance_clock(self, ms: int) -> Clock:
        """Moves the clock of every broker (they share the process's) `ms`
        milliseconds forward; returns the clock after."""
        return self._admin.post(f"/clock/advance?ms={int(ms)}")

    def clock(self) -> Clock:
        """The cluster's clock: `now_ms` and `offset_ms`."""
        return self._admin.get("/clock")
