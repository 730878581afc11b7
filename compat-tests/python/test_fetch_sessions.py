"""Incremental fetch sessions (KIP-227): raw Fetch v7 requests walk a
session through its life (created by a full fetch, incremental fetches that
answer only what changed, forgotten partitions, replayed epochs, unknown
sessions, the final epoch) and a full cache; Kafka's Java client and
franz-go, which fetch in sessions when the broker offers them, read every
record through them (the broker's /metrics counts their incremental
fetches); librdkafka, which fetches without sessions, is unaffected."""

from __future__ import annotations

import re
import struct
import threading
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import go_client
import java_client
import kafka_wire as kw
from conftest import free_port, started_shared_broker, unique_topic

FETCH = 1
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

ADMIN_PORT = free_port()


@pytest.fixture(scope="module")
def sessions_broker():
    yield from started_shared_broker(
        "fetch-sessions",
        {"admin.listener": f"127.0.0.1:{ADMIN_PORT}", "group.initial.rebalance.delay.ms": "0"},
    )


def metric(name: str, port: int = ADMIN_PORT) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} missing from /metrics"
    return float(found.group(1))


def create_topic(broker, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def produce(broker, topic: str, records: list[tuple[int, str]]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for partition, value in records:
        producer.produce(topic, value=value.encode(), partition=partition)
    assert producer.flush(15) == 0


# ---------------------------------------------------------------------------
# Fetch v7 (the first version with sessions), by hand
# ---------------------------------------------------------------------------

def fetch_v7(sock, session_id: int, epoch: int, topic: str,
             partitions: list[tuple[int, int]], forgotten: list[int] = (),
             max_wait_ms: int = 0, correlation_id: int = 7) -> dict:
    """One Fetch v7; returns {"error", "session", "partitions": {p: (error,
    high watermark, record bytes)}}."""
    body = kw.i32(-1) + kw.i32(max_wait_ms) + kw.i32(1) + kw.i32(1 << 20) + kw.i8(0)
    body += kw.i32(session_id) + kw.i32(epoch)
    if partitions:
        body += kw.i32(1) + kw.string(topic) + kw.i32(len(partitions))
        for partition, offset in partitions:
            body += kw.i32(partition) + kw.i64(offset) + kw.i64(-1) + kw.i32(1 << 20)
    else:
        body += kw.i32(0)
    if forgotten:
        body += kw.i32(1) + kw.string(topic) + kw.i32(len(forgotten))
        body += b"".join(kw.i32(p) for p in forgotten)
    else:
        body += kw.i32(0)
    sock.sendall(kw.frame(kw.request_header(FETCH, 7, correlation_id, "sessions") + body))
    r = kw.Reader(kw.recv_frame(sock))
    assert r.i32() == correlation_id
    r.i32()  # throttle
    out = {"error": r.i16(), "session": r.i32(), "partitions": {}}
    for _ in range(r.i32()):
        name = r.string()
        for _ in range(r.i32()):
            index, error, high_watermark = r.i32(), r.i16(), r.i64()
            r.i64(), r.i64()  # last stable offset, log start offset
            aborted = r.i32()
            for _ in range(max(aborted, 0)):
                r.i64(), r.i64()
            size = r.i32()
            records = r.take(size) if size > 0 else b""
            assert name == topic
            out["partitions"][index] = (error, high_watermark, len(records))
    return out


def test_a_session_answers_only_what_changed(sessions_broker):
    topic = unique_topic("sessions-raw")
    create_topic(sessions_broker, topic, 3)
    produce(sessions_broker, topic, [(0, "a"), (0, "b"), (2, "c")])
    created = metric("gregor_fetch_sessions_created_total")
    incremental = metric("gregor_incremental_fetches_total")
    sock = kw.connect("127.0.0.1", sessions_broker.port)
    try:
        # A full fetch (epoch 0) creates the session and answers everything.
        full = fetch_v7(sock, 0, 0, topic, [(0, 0), (1, 0), (2, 0)])
        assert full["error"] == 0 and full["session"] > 0, full
        session = full["session"]
        assert {p: hw for p, (_, hw, _) in full["partitions"].items()} == {0: 2, 1: 0, 2: 1}
        assert full["partitions"][0][2] > 0 and full["partitions"][1][2] == 0

        # Epoch 1 moves 0 and 2 past their records: nothing is new.
        quiet = fetch_v7(sock, session, 1, topic, [(0, 2), (2, 1)], max_wait_ms=200)
        assert quiet == {"error": 0, "session": session, "partitions": {}}

        # A record in partition 1, which this request does not name: the
        # session still fetches it and answers only it.
        produce(sessions_broker, topic, [(1, "d")])
        new = fetch_v7(sock, session, 2, topic, [], max_wait_ms=5000)
        assert new["session"] == session and list(new["partitions"]) == [1], new
        assert new["partitions"][1][1] == 1 and new["partitions"][1][2] > 0

        # The same epoch again, and an unknown session: refused whole.
        replay = fetch_v7(sock, session, 2, topic, [])
        assert (replay["error"], replay["partitions"]) == (INVALID_FETCH_SESSION_EPOCH, {})
        unknown = fetch_v7(sock, session ^ 0x5a5a, 1, topic, [])
        assert (unknown["error"], unknown["partitions"]) == (FETCH_SESSION_ID_NOT_FOUND, {})

        # Partition 0 is forgotten; partition 1 moves on.
        forgot = fetch_v7(sock, session, 3, topic, [(1, 1)], forgotten=[0], max_wait_ms=200)
        assert forgot == {"error": 0, "session": session, "partitions": {}}
        produce(sessions_broker, topic, [(0, "e"), (2, "f")])
        after = fetch_v7(sock, session, 4, topic, [], max_wait_ms=5000)
        assert list(after["partitions"]) == [2], "partition 0 was forgotten"

        # The final epoch closes the session: a full answer, no session.
        final = fetch_v7(sock, session, -1, topic, [(0, 0)])
        assert final["session"] == 0 and final["partitions"][0][1] == 3
        gone = fetch_v7(sock, session, 5, topic, [])
        assert gone["error"] == FETCH_SESSION_ID_NOT_FOUND
    finally:
        sock.close()
    assert metric("gregor_fetch_sessions_created_total") == created + 1
    assert metric("gregor_incremental_fetches_total") == incremental + 4


def test_a_full_cache_keeps_its_young_sessions(broker_factory):
    port = free_port()
    broker = broker_factory(**{"max.incremental.fetch.session.cache.slots": "1",
                               "admin.listener": f"127.0.0.1:{port}"})
    topic = unique_topic("sessions-full")
    create_topic(broker, topic, 2)
    first_sock = kw.connect("127.0.0.1", broker.port)
    second_sock = kw.connect("127.0.0.1", broker.port)
    try:
        first = fetch_v7(first_sock, 0, 0, topic, [(0, 0)])
        assert first["session"] > 0
        # A consumer's session younger than two minutes is not evicted for
        # another consumer's: that one fetches without a session.
        second = fetch_v7(second_sock, 0, 0, topic, [(0, 0), (1, 0)])
        assert second["session"] == 0 and set(second["partitions"]) == {0, 1}
        still = fetch_v7(first_sock, first["session"], 1, topic, [])
        assert still["error"] == 0 and still["session"] == first["session"]
        assert metric("gregor_fetch_sessions", port) == 1
        assert metric("gregor_fetch_session_evictions_total", port) == 0
    finally:
        first_sock.close()
        second_sock.close()


def records_for(topic: str, partitions: int, per_partition: int) -> list[tuple[int, str]]:
    return [(p, f"{topic}-{p}-{i}") for p in range(partitions) for i in range(per_partition)]


def read_in_two_waves(broker, topic: str, records: list[tuple[int, str]], consume) -> list:
    """Runs `consume` (which reads every record and returns its output)
    with half the records produced before it starts and half once it has
    fetched in a session: it must fetch again, incrementally, to read them
    all (a consumer given everything by its first fetch would need no
    second)."""
    half = len(records) // 2
    produce(broker, topic, records[:half])
    sessions_before = metric("gregor_fetch_sessions_created_total")
    outcome = {}
    reader = threading.Thread(target=lambda: outcome.setdefault("read", consume()))
    reader.start()
    deadline = time.monotonic() + 30
    while metric("gregor_fetch_sessions_created_total") == sessions_before:
        assert time.monotonic() < deadline, "the consumer opened no fetch session"
        time.sleep(0.05)
    produce(broker, topic, records[half:])
    reader.join(90)
    assert "read" in outcome, "the consumer did not finish"
    return outcome["read"]


def test_the_java_client_reads_through_incremental_sessions(sessions_broker):
    topic = unique_topic("sessions-java")
    create_topic(sessions_broker, topic, 6)
    records = records_for(topic, 6, 10)
    before = metric("gregor_incremental_fetches_total")
    lines = read_in_two_waves(sessions_broker, topic, records, lambda: java_client.run(
        {"bootstrap.servers": sessions_broker.bootstrap},
        "consume", topic, unique_topic("sessions-java-g"), str(len(records))))
    read = sorted(line.split(" ", 2)[2] for line in lines if line.startswith("record "))
    assert read == sorted(value for _, value in records)
    assert metric("gregor_incremental_fetches_total") > before


def test_franz_go_reads_through_incremental_sessions(sessions_broker):
    topic = unique_topic("sessions-franz")
    create_topic(sessions_broker, topic, 6)
    records = records_for(topic, 6, 10)
    before = metric("gregor_incremental_fetches_total")
    outcome = read_in_two_waves(sessions_broker, topic, records, lambda: go_client.call(
        go_client.FRANZ, sessions_broker.bootstrap, "consume", topic,
        unique_topic("sessions-franz-g"), str(len(records))))
    assert outcome.code == 0, outcome.stderr
    # "record <partition> <offset> <value>" lines.
    read = sorted((int(p), v) for _, p, _, v in
                  (line.split(" ", 3) for line in outcome.lines if line.startswith("record ")))
    assert read == sorted(records)
    assert metric("gregor_incremental_fetches_total") > before


def test_librdkafka_reads_without_sessions(sessions_broker):
    topic = unique_topic("sessions-rdkafka")
    create_topic(sessions_broker, topic, 3)
    records = records_for(topic, 3, 5)
    produce(sessions_broker, topic, records)
    consumer = Consumer({"bootstrap.servers": sessions_broker.bootstrap,
                         "group.id": unique_topic("sessions-rdkafka-g"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    read = []
    try:
        for _ in range(100):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                read.append((message.partition(), message.value().decode()))
            if len(read) == len(records):
                break
    finally:
        consumer.close()
    assert sorted(read) == sorted(records)


def test_followers_replicate_through_sessions():
    """Followers fetch from their leaders in sessions too: after the first
    full fetch each one names only the partitions whose position moved, and
    every replica still ends byte for byte the same."""
    from cluster_harness import bootstrap as cluster_bootstrap
    from cluster_harness import create_topic as create_replicated
    from cluster_harness import layout
    from cluster_harness import replicas_identical
    from conftest import running_cluster, wait_until

    cluster_gen = running_cluster(3, {"offsets.topic.replication.factor": "3"},
                                  admin_listeners=True)
    cluster = next(cluster_gen)
    try:
        topic = unique_topic("sessions-followers")
        create_replicated(cluster, topic, 4, 3)
        producer = Producer({"bootstrap.servers": cluster_bootstrap(cluster), "acks": "all"})
        for i in range(200):
            producer.produce(topic, value=f"r-{i}".encode(), partition=i % 4)
        assert producer.flush(30) == 0
        wait_until(lambda: replicas_identical(cluster, topic, 4), timeout=30,
                   what="byte-identical replicas")
        # Each leader keeps a session for each of its two followers and
        # serves them incremental fetches.
        leaders = {leader for leader, _, _ in layout(cluster_bootstrap(cluster), topic).values()}
        assert leaders
        for broker in cluster:
            if int(broker.overrides["node.id"]) in leaders:
                assert metric("gregor_fetch_sessions", broker.admin_port) >= 2, broker.name
                assert metric("gregor_incremental_fetches_total", broker.admin_port) > 0, \
                    broker.name
    finally:
        next(cluster_gen, None)
