"""Kafka Streams 4.4 (compat-tests/java's StreamsApp: a word count with a
repartition topic and a state store, exactly_once_v2) on a 3-broker gregor
cluster, through a SIGKILL of a Streams instance and a SIGKILL of the
broker coordinating its group, with both of Streams' group protocols:
classic (the client assigns the tasks) and KIP-1071's streams protocol
(the broker assigns them and creates the internal topics; the group's
members, epochs and tasks live in `__consumer_offsets`, so the coordinator
that takes over knows them).

Every topic is replicated three times (min.insync.replicas 2). Whatever the
kills interrupt, the output read with read_committed (by confluent-kafka
and by kafka-python) holds each word's counts 1, 2, ..., n exactly once and
in order: nothing counted twice, nothing lost.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

import java_client
from cluster_harness import bootstrap, create_topic, layout
from conftest import running_cluster, unique_topic, wait_until
from test_cluster_coordinators import java_partition
from txn_harness import read_confluent, read_kafka_python

pytestmark = pytest.mark.timeout(300)

PARTITIONS = 4
INTERNAL_PARTITIONS = 3
OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "10000",
    "offsets.topic.num.partitions": str(INTERNAL_PARTITIONS),
    "transaction.state.log.num.partitions": str(INTERNAL_PARTITIONS),
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "group.initial.rebalance.delay.ms": "0",
    # A killed instance's tasks move after 6 s rather than Kafka's 45 s
    # (the bounds allow it); members beat every 500 ms.
    "group.streams.initial.rebalance.delay.ms": "0",
    "group.streams.min.session.timeout.ms": "6000",
    "group.streams.session.timeout.ms": "6000",
    "group.streams.min.heartbeat.interval.ms": "500",
    "group.streams.heartbeat.interval.ms": "500",
}

LINES = [
    "the quick brown fox", "jumps over the lazy dog", "The Dog barks",
    "a fox and a dog", "quick quick QUICK", "the end", "the fox is back",
    "a new dog", "zebra crossing", "the last fox",
]


@pytest.fixture
def cluster():
    yield from running_cluster(3, OVERRIDES)


def produce(address: str, topic: str, lines: list[str], first: int) -> None:
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": address, "acks": "all",
                         "enable.idempotence": True})
    errors = []
    for i, line in enumerate(lines, start=first):
        producer.produce(topic, key=f"line-{i}".encode(), value=line.encode(),
                         on_delivery=lambda err, msg: err and errors.append(err))
    assert producer.flush(30) == 0
    assert errors == []


def words(lines: list[str]) -> Counter:
    return Counter(w for line in lines for w in line.lower().split())


def counts_by_word(address: str, topic: str) -> dict[str, list[str]]:
    """Each word's committed count updates, in offset order."""
    records = read_confluent(address, [(topic, p) for p in range(PARTITIONS)],
                             "read_committed", group=unique_topic("streams-reader"))
    seen: dict[str, list[str]] = {}
    for r in records:
        seen.setdefault(r.key.decode(), []).append(r.value.decode())
    return seen


def final(total: Counter) -> dict[str, str]:
    return {word: str(n) for word, n in total.items()}


def wait_for_counts(app: java_client.StreamsProcess, address: str, topic: str,
                    total: Counter, timeout: float) -> None:
    """Until every word's last committed count is its total."""
    seen: dict[str, list[str]] = {}

    def done() -> bool:
        nonlocal seen
        assert app.process.poll() is None, f"StreamsApp exited:\n{app.output()}"
        seen = counts_by_word(address, topic)
        return {w: c[-1] for w, c in seen.items()} == final(total)
    try:
        wait_until(done, timeout=timeout, interval=1.0,
                   what="the committed counts to reach the input's totals")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\ncounts: {seen}\nStreamsApp:\n{app.output()}") from None


@pytest.mark.parametrize("protocol", ["classic", "streams"])
def test_streams_counts_exactly_once_through_instance_and_broker_kills(
        cluster, tmp_path, protocol):
    address = bootstrap(cluster)
    app_id = unique_topic("streams-cluster")
    source, output, upper = (unique_topic(n) for n in ("sc-in", "sc-counts", "sc-upper"))
    for topic in (source, output, upper):
        create_topic(cluster, topic, PARTITIONS, 3, **{"min.insync.replicas": "2"})

    def start(state_dir: str) -> java_client.StreamsProcess:
        config = {
            "bootstrap.servers": address,
            "group.protocol": protocol,
            "replication.factor": "3",
            "gregor.stop.file": str(tmp_path / f"stop-{state_dir}"),
        }
        # Runs until its stop file appears (the expected count is never
        # reached), for at most 240 s.
        return java_client.StreamsProcess(
            config, app_id, str(tmp_path / state_dir), "exactly_once_v2",
            source, output, upper, "1000000000", "240")

    def stop(app: java_client.StreamsProcess, state_dir: str) -> list[str]:
        (tmp_path / f"stop-{state_dir}").touch()
        return app.wait(90)

    first, second, third = LINES[:4], LINES[4:7], LINES[7:]
    produce(address, source, first, 0)
    app = start("a")
    wait_for_counts(app, address, output, words(first), timeout=90)

    # More input, and the instance is killed while it works on it: its open
    # transaction (if any) is left for the next instance to abort.
    produce(address, source, second, len(first))
    time.sleep(0.5)
    app.kill()

    # The broker leading the group's __consumer_offsets partition goes too:
    # another broker becomes the group's coordinator.
    partition = java_partition(app_id, INTERNAL_PARTITIONS)
    coordinator = layout(address, "__consumer_offsets")[partition][0]
    cluster[coordinator - 1].kill()
    survivors = [b for i, b in enumerate(cluster) if i != coordinator - 1]
    address = bootstrap(survivors)
    wait_until(lambda: layout(address, "__consumer_offsets")[partition][0]
               not in (-1, coordinator),
               timeout=30, what="a new coordinator for the group")

    # A second instance (a new state directory: it restores the store from
    # the changelog) takes over, and processes the rest too.
    app = start("b")
    produce(address, source, third, len(first) + len(second))
    total = words(LINES)
    wait_for_counts(app, address, output, total, timeout=150)
    out = stop(app, "b")
    assert out[-1] == "closed" or "closed" in out[-2:], out

    # Exactly once: each word's committed updates are 1..n, once each.
    committed = counts_by_word(address, output)
    assert committed == {w: [str(i) for i in range(1, n + 1)] for w, n in total.items()}
    tps = [(output, p) for p in range(PARTITIONS)]
    by_confluent = read_confluent(address, tps, "read_committed",
                                  group=unique_topic("streams-reader"))
    by_kafka_python = read_kafka_python(address, tps, "read_committed")
    assert [(r.partition, r.offset, r.key, r.value) for r in by_kafka_python] == \
        [(r.partition, r.offset, r.key, r.value) for r in by_confluent]
    # The upper-cased branch: each input line once.
    uppers = read_confluent(address, [(upper, p) for p in range(PARTITIONS)],
                            "read_committed", group=unique_topic("streams-reader"))
    assert sorted(r.value.decode() for r in uppers) == sorted(line.upper() for line in LINES)
