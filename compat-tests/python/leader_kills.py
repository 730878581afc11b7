"""Kill-the-leader rounds under acks=all load, shared by the CI test
(test_cluster_kill_rounds.py, 20 rounds) and the soak script
(soak_kill_leaders.py, 100 rounds by default).

A confluent-kafka producer (idempotent, acks=all) sends at a steady rate
from a thread while, each round, the leader of one partition is killed
with SIGKILL, a new leader is awaited, and the victim restarts and rejoins
every ISR. At the end every acknowledged record must be present exactly
once, at the offset it was acknowledged with, and the replicas' logs must
be byte-identical.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from confluent_kafka import Producer
from cluster_harness import (bootstrap, consume_all, create_topic, in_sync, layout,
                             replicas_identical)
from conftest import wait_until

TOPIC = "kill-rounds"
PARTITIONS = 3


def any_layout(cluster):
    for broker in cluster:
        if broker.running:
            try:
                return layout(broker.bootstrap, TOPIC)
            except Exception:
                continue
    return None


def fully_in_sync(cluster):
    seen = any_layout(cluster)
    return seen is not None and in_sync(seen, PARTITIONS)


class SteadyProducer(threading.Thread):
    def __init__(self, bootstrap: str, rate: float = 200.0):
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                                  "enable.idempotence": True, "linger.ms": 2,
                                  "message.timeout.ms": 120000})
        self.rate = rate
        self.sent = 0
        self.acked: list[tuple[int, int, bytes]] = []
        self.failed: list = []
        self.stopping = threading.Event()

    def _delivered(self, err, msg):
        if err is None:
            self.acked.append((msg.partition(), msg.offset(), msg.value()))
        else:
            self.failed.append(err)

    def run(self):
        while not self.stopping.is_set():
            self.producer.produce(TOPIC, value=f"m-{self.sent}".encode(),
                                  partition=self.sent % PARTITIONS, on_delivery=self._delivered)
            self.sent += 1
            self.producer.poll(0)
            time.sleep(1 / self.rate)

    def finish(self) -> int:
        self.stopping.set()
        self.join(10)
        return self.producer.flush(120)


def run_rounds(cluster, rounds: int, log=print) -> dict:
    create_topic(cluster, TOPIC, PARTITIONS, 3, **{"min.insync.replicas": "2"})
    wait_until(lambda: fully_in_sync(cluster), timeout=60, what="topic in sync")
    producer = SteadyProducer(bootstrap(cluster))
    producer.start()
    try:
        kill_rounds(cluster, rounds, producer, log)
    except BaseException:
        producer.stopping.set()     # no producer left running after a failure
        raise
    unflushed = producer.finish()
    return check(cluster, producer, unflushed)


def kill_rounds(cluster, rounds: int, producer: SteadyProducer, log) -> None:
    for round_ in range(rounds):
        partition = round_ % PARTITIONS
        before = any_layout(cluster)
        leader = before[partition][0]
        victim = cluster[leader - 1]
        victim.kill()
        wait_until(lambda: (lambda s: s is not None and s[partition][0] not in (-1, leader))(
            any_layout(cluster)), timeout=60, what=f"round {round_}: a new leader")
        time.sleep(0.5)
        victim.start()
        wait_until(lambda: fully_in_sync(cluster), timeout=90,
                   what=f"round {round_}: every ISR full again")
        log(f"round {round_ + 1}/{rounds}: killed broker {leader} (leader of partition "
            f"{partition}); sent {producer.sent}, acknowledged {len(producer.acked)}")


def check(cluster, producer: SteadyProducer, unflushed: int) -> dict:
    acked = producer.acked
    records = consume_all(bootstrap(cluster), TOPIC, PARTITIONS, len(acked), timeout=120)
    values = Counter(r.value for r in records)
    at = {(r.partition, r.offset): r.value for r in records}
    lost = [v for _, _, v in acked if v not in values]
    misplaced = [(p, o, v) for p, o, v in acked if at.get((p, o)) != v]
    duplicates = [v for v, n in values.items() if n > 1]
    try:
        wait_until(lambda: replicas_identical(cluster, TOPIC, PARTITIONS), timeout=60,
                   what="byte-identical replicas")
        same = True
    except AssertionError:
        same = False
    return {"sent": producer.sent, "acknowledged": len(acked), "failed": len(producer.failed),
            "unflushed": unflushed, "lost": len(lost), "misplaced": len(misplaced),
            "duplicates": len(duplicates), "identical_replicas": same}
