"""The nemesis: one fault per round against a three-broker cluster, then
the cluster is given back whole and must recover (every broker registered,
every partition's ISR full, and every client of the workload getting work
done again) before the next round.

Faults (each against one broker, chosen at random, held 1-6 s by default,
so some outlast `broker.session.timeout.ms` and move leaderships, some do
not):

- `kill`: SIGKILL, then start again on the same data;
- `pause`: SIGSTOP, then SIGCONT (a stalled process: its peers see silence);
- `restart`: SIGTERM (controlled shutdown), then start again;
- `isolate-broker`: the broker cut from the other two brokers, clients
  still reach it;
- `bridge`: the broker cut from one other broker only;
- `isolate-clients`: every client cut from the broker, the brokers still
  talk.

Each round's kinds come from a shuffled cycle over the enabled faults, so
a short campaign still hits every kind. A broker that exits on its own is
a crash: it is recorded and started again.
"""

from __future__ import annotations

import random
import time

from confluent_kafka.admin import AdminClient

from cluster_harness import bootstrap, in_sync
from conftest import BrokerError, wait_until

from .history import History
from .network import CLIENTS, Network

FAULTS = ("kill", "pause", "restart", "isolate-broker", "bridge", "isolate-clients")


class Nemesis:
    def __init__(self, cluster, network: Network, history: History, seed: int,
                 watched_topics: dict[str, int], workers: list,
                 hold_s: tuple[float, float] = (1.0, 6.0), faults: tuple[str, ...] = FAULTS,
                 recovery_timeout_s: float = 120.0):
        self.cluster = cluster
        self.workers = workers
        self.network = network
        self.history = history
        self.rng = random.Random(seed)
        self.watched_topics = dict(watched_topics)
        self.hold_s = hold_s
        self.faults = tuple(faults)
        self.recovery_timeout_s = recovery_timeout_s
        self._cycle: list[str] = []

    def node(self, broker) -> int:
        return self.cluster.index(broker) + 1

    def round(self, number: int) -> str:
        """Injects one fault, holds it, heals it, and waits for recovery;
        returns a one-line account."""
        if not self._cycle:
            self._cycle = list(self.faults)
            self.rng.shuffle(self._cycle)
        fault = self._cycle.pop()
        target = self.rng.choice(self.cluster)
        node = self.node(target)
        others = [self.node(b) for b in self.cluster if b is not target]
        hold = round(self.rng.uniform(*self.hold_s), 2)
        peers = {"isolate-broker": others, "bridge": [self.rng.choice(others)],
                 "isolate-clients": [CLIENTS]}.get(fault, [])
        self.history.record("nemesis", round=number, fault=fault, node=node, peers=peers,
                            hold=hold, phase="start")
        started = time.monotonic()
        try:
            if fault == "kill":
                target.kill()
                time.sleep(hold)
            elif fault == "pause":
                target.freeze()
                time.sleep(hold)
            elif fault == "restart":
                self.stop(target)
                time.sleep(min(hold, 1.0))
            else:
                for peer in peers:
                    self.network.cut(node, peer)
                time.sleep(hold)
        finally:
            self.network.heal()
            target.thaw()
            if fault in ("kill", "restart"):
                self.start(target)
        self.history.record("nemesis", round=number, fault=fault, node=node, peers=peers,
                            phase="end")
        recovered = self.recover()
        self.history.record("recovered", round=number, seconds=round(recovered, 2))
        cut = f" from {peers}" if peers else ""
        return (f"round {number}: {fault} broker {node}{cut} for {hold}s, "
                f"{time.monotonic() - started:.1f}s with recovery")

    def stop(self, broker) -> None:
        """SIGTERM; a broker that does not exit in time is SIGKILLed and
        recorded."""
        try:
            broker.stop()
        except BrokerError as error:
            self.history.record("unfinished", what=f"{broker.name}: clean shutdown",
                                error=str(error)[-2000:])

    def start(self, broker) -> None:
        """Starts a stopped broker; one that exits while starting is a
        crash, recorded, and gets one more try."""
        try:
            broker.start(timeout=60)
        except BrokerError as error:
            self.history.record("broker_crashed", node=self.node(broker), phase="start",
                                error=str(error)[-2000:])
            broker.start(timeout=60)

    def recover(self) -> float:
        """Restarts crashed brokers, then waits until every broker is
        registered and every watched partition is fully in sync (a cluster
        that does not get there is recorded), and for the clients' progress;
        returns how long that took."""
        started = time.monotonic()
        for broker in self.cluster:
            if not broker.running:
                code = broker.proc.returncode if broker.proc else None
                self.history.record("broker_crashed", node=self.node(broker), exit_code=code)
                broker.kill()
                self.start(broker)
        try:
            wait_until(self.healthy, timeout=self.recovery_timeout_s, interval=0.5,
                       what="every broker registered and every ISR full")
        except AssertionError as error:
            self.history.record("unfinished", what="recovery", error=str(error))
        self.await_progress()
        return time.monotonic() - started

    def await_progress(self, timeout: float = 60.0) -> None:
        """Waits until every client has finished an operation since now; one
        that has not within the timeout is recorded as stalled."""
        before = {w.name: w.progress for w in self.workers}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = [w.name for w in self.workers if w.progress == before[w.name]]
            if not behind:
                return
            time.sleep(0.2)
        self.history.record("stalled", clients=behind, waited=timeout)

    def healthy(self) -> bool:
        try:
            admin = AdminClient({"bootstrap.servers": bootstrap(self.cluster)})
            if len(admin.describe_cluster().result(timeout=5).nodes) != len(self.cluster):
                return False
            topics = admin.list_topics(timeout=5).topics
        except Exception:
            return False
        for topic, partitions in self.watched_topics.items():
            described = topics.get(topic)
            if described is None:
                return False
            seen = {p.id: (p.leader, list(p.replicas), sorted(p.isrs))
                    for p in described.partitions.values()}
            if not in_sync(seen, partitions):
                return False
        return True
