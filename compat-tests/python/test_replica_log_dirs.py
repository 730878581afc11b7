"""Moving a replica between a broker's log dirs (KIP-113) while it serves:
AlterReplicaLogDirs from the Java AdminClient (`alterReplicaLogDirs`,
`describeReplicaLogDirs`, `describeLogDirs`) and kafka-python's admin
client (`alter_replica_log_dirs`, `describe_log_dirs`), on a broker with
two `log.dirs`. A move under continuous produce with a consumer reading
loses and duplicates nothing and leaves the data in the new dir only; a
slow copy shows as a future replica with its lag; kill -9 mid-move keeps
every acknowledged record and the move resumes; unknown dirs and
partitions get Kafka's errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient, TopicPartitionReplica
from kafka import errors as kafka_errors

import java_client
from conftest import FaultPlane, free_port, unique_topic, wait_until

NODE_ID = 1


def two_dir_broker(broker_factory, tmp_path: Path, **overrides):
    """A broker on two log dirs with the fault plane on; returns it, its
    plane and the dirs."""
    dirs = [tmp_path / "disk-a", tmp_path / "disk-b"]
    port = free_port()
    b = broker_factory(**{"log.dirs": ",".join(map(str, dirs)),
                          "admin.listener": f"127.0.0.1:{port}",
                          "admin.fault.plane.enable": "true", **overrides})
    return b, FaultPlane(port), dirs


def create(bootstrap: str, topic: str, **configs) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = {"segment.bytes": "65536", "file.delete.delay.ms": "500", **configs}
    for future in admin.create_topics([NewTopic(topic, 1, 1, config=configs)]).values():
        future.result(timeout=30)


def home_of(dirs: list[Path], topic: str) -> tuple[Path, Path]:
    """The dir holding partition 0's folder, and the other one."""
    home = next(d for d in dirs if (d / f"{topic}-0").is_dir())
    return home, next(d for d in dirs if d != home)


def java(bootstrap: str, *args: str) -> list[str]:
    return java_client.run({"bootstrap.servers": bootstrap}, *args)


def replica_dirs(bootstrap: str, topic: str) -> tuple[list[str], list[list[str]]]:
    """describeReplicaLogDirs' fields, and describeLogDirs' replicas of the
    partition (dir, size, lag, is_future)."""
    lines = java(bootstrap, "replica-dirs", topic, "0", str(NODE_ID))
    replica = next(line.split()[1:] for line in lines if line.startswith("replica-dir "))
    replicas = [line.split()[1:] for line in lines if line.startswith("log-replica ")]
    return replica, replicas


def future_folders(directory: Path, topic: str) -> list[Path]:
    return [p for p in directory.glob(f"{topic}-0.*-future") if p.is_dir()]


class Load:
    """An idempotent acks=all producer writing numbered values and a
    consumer reading them, both running until stopped."""

    def __init__(self, bootstrap: str, topic: str):
        self.bootstrap, self.topic = bootstrap, topic
        self.acked: dict[int, bytes] = {}
        self.consumed: list[tuple[int, bytes]] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._produce, daemon=True),
                        threading.Thread(target=self._consume, daemon=True)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def _produce(self) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 5})

        def delivered(err, msg):
            if err is None:
                self.acked[msg.offset()] = msg.value()
            else:
                self.errors.append(f"produce: {err}")

        n = 0
        while not self.stopping.is_set():
            producer.produce(self.topic, value=f"v-{n:07d}".encode() + b"x" * 200,
                             partition=0, on_delivery=delivered)
            n += 1
            if n % 100 == 0:
                producer.poll(0)
                time.sleep(0.02)
        producer.flush(30)

    def _consume(self) -> None:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": unique_topic("g"),
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe([self.topic])
        idle_after_stop = 0
        try:
            while idle_after_stop < 6:
                message = consumer.poll(0.5)
                if message is None:
                    if self.stopping.is_set():
                        idle_after_stop += 1
                    continue
                if message.error() is not None:
                    self.errors.append(f"consume: {message.error()}")
                    continue
                self.consumed.append((message.offset(), message.value()))
        finally:
            consumer.close()


def test_a_replica_moves_under_produce_and_consume_losing_and_duplicating_nothing(
        broker_factory, tmp_path):
    b, _plane, dirs = two_dir_broker(broker_factory, tmp_path)
    topic = unique_topic("move")
    create(b.bootstrap, topic)
    home, other = home_of(dirs, topic)
    with Load(b.bootstrap, topic) as load:
        wait_until(lambda: len(load.acked) > 5_000, 60, what="a log of many segments")
        assert java(b.bootstrap, "move-replica", topic, "0", str(NODE_ID), str(other)) == \
            ["moved ok"]
        wait_until(lambda: (other / f"{topic}-0").is_dir(), 60, what="the swap")
        moved_at = max(load.acked)
        wait_until(lambda: max(load.acked) > moved_at + 2_000, 60,
                   what="produce going on after the move")
    assert load.errors == []
    # Nothing lost, nothing duplicated: each acknowledged record read once,
    # at its offset, with its payload.
    offsets = [offset for offset, _ in load.consumed]
    assert len(offsets) == len(set(offsets)), "duplicates"
    assert dict(load.consumed) == load.acked
    assert sorted(offsets) == list(range(len(offsets)))
    # The data lives in the new dir only; the old folder goes after
    # file.delete.delay.ms.
    wait_until(lambda: not list(home.glob(f"{topic}-0*")), 30, what="the old folder removed")
    assert future_folders(other, topic) == []
    assert sum(f.stat().st_size for f in (other / f"{topic}-0").glob("*.log")) > 1_000_000
    current, replicas = replica_dirs(b.bootstrap, topic)
    assert current[:2] == [str(other.resolve()), "-"], current
    assert [r[0] for r in replicas] == [str(other.resolve())] and replicas[0][3] == "false"


def test_a_move_to_an_unknown_dir_or_of_an_unknown_partition_gets_kafkas_errors(
        broker_factory, tmp_path):
    b, _plane, dirs = two_dir_broker(broker_factory, tmp_path)
    topic = unique_topic("errors")
    create(b.bootstrap, topic)
    home, _other = home_of(dirs, topic)
    assert java(b.bootstrap, "move-replica", topic, "0", str(NODE_ID), str(tmp_path / "nope")) \
        == ["moved error LogDirNotFoundException"]
    # Already there: nothing to do.
    assert java(b.bootstrap, "move-replica", topic, "0", str(NODE_ID), str(home)) == ["moved ok"]
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        answered = admin.alter_replica_log_dirs({
            TopicPartitionReplica(topic, 0, NODE_ID): str(tmp_path / "nope"),
            TopicPartitionReplica(unique_topic("absent"), 0, NODE_ID): str(home),
        })
    finally:
        admin.close()
    errors = sorted(error.__name__ for error in answered.values())
    assert errors == [kafka_errors.LogDirNotFoundError.__name__,
                      kafka_errors.ReplicaNotAvailableError.__name__], answered
    assert not future_folders(home, topic) and not future_folders(_other, topic)


def test_describe_log_dirs_shows_the_future_replica_and_its_lag_during_a_slow_copy(
        broker_factory, tmp_path):
    b, plane, dirs = two_dir_broker(broker_factory, tmp_path)
    topic = unique_topic("slow")
    create(b.bootstrap, topic)
    home, other = home_of(dirs, topic)
    # Small batches: the copy writes each batch on its own, so a slow disk
    # makes it slow.
    producer = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5,
                         "batch.size": 4096})
    for n in range(20_000):
        producer.produce(topic, value=f"s-{n}".encode() + b"y" * 200, partition=0)
    producer.flush(60)
    # The next 400 writes into the target dir take 50 ms each: the copy
    # of ~4 MB in batches of ~4 KiB takes 20 s, until the faults are cleared.
    status, _ = plane.call("POST", "/faults/disk", {"log_dir": str(other), "op": "write",
                                                     "latency_ms": 50, "count": 400})
    assert status == 201
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        answered = admin.alter_replica_log_dirs({TopicPartitionReplica(topic, 0, NODE_ID):
                                                 str(other)})
        assert list(answered.values()) == [kafka_errors.NoError], answered
        current, replicas = replica_dirs(b.bootstrap, topic)
        assert current[0] == str(home.resolve()) and current[1] == str(other.resolve()), current
        assert int(current[3]) > 0, f"the future replica lags: {current}"
        future = next(r for r in replicas if r[3] == "true")
        assert future[0] == str(other.resolve()) and int(future[2]) > 0, replicas
        described = admin.describe_log_dirs()
        futures = [(d["log_dir"], p["offset_lag"] > 0)
                   for broker in described for d in broker["log_dirs"]
                   for t in d["topics"] if t["name"] == topic
                   for p in t["partitions"] if p["is_future_key"]]
        assert futures == [(str(other.resolve()), True)], described
    finally:
        admin.close()
    plane.call("DELETE", "/faults/disk")
    wait_until(lambda: (other / f"{topic}-0").is_dir(), 60, what="the move to finish")
    current, replicas = replica_dirs(b.bootstrap, topic)
    assert current[:2] == [str(other.resolve()), "-"], current
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    while got < 20_000 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            assert message.offset() == got and message.value().startswith(f"s-{got}".encode())
            got += 1
    consumer.close()
    assert got == 20_000


def test_kill_9_mid_move_keeps_every_acknowledged_record_and_the_move_resumes(
        broker_factory, tmp_path):
    b, plane, dirs = two_dir_broker(broker_factory, tmp_path)
    topic = unique_topic("crash")
    create(b.bootstrap, topic)
    home, other = home_of(dirs, topic)
    acked: dict[int, bytes] = {}
    producer = Producer({"bootstrap.servers": b.bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5, "batch.size": 4096})

    def delivered(err, msg):
        if err is None:
            acked[msg.offset()] = msg.value()

    for n in range(20_000):
        producer.produce(topic, value=f"k-{n}".encode() + b"z" * 200, partition=0,
                         on_delivery=delivered)
    producer.flush(60)
    status, _ = plane.call("POST", "/faults/disk", {"log_dir": str(other), "op": "write",
                                                     "latency_ms": 50, "count": 400})
    assert status == 201
    assert java(b.bootstrap, "move-replica", topic, "0", str(NODE_ID), str(other)) == \
        ["moved ok"]
    wait_until(lambda: future_folders(other, topic), 10, what="the future log")
    for n in range(20_000, 20_500):
        producer.produce(topic, value=f"k-{n}".encode(), partition=0, on_delivery=delivered)
    producer.flush(60)
    assert len(acked) == 20_500
    b.kill()
    b.start()
    # The move resumes (no fault now) and completes.
    wait_until(lambda: (other / f"{topic}-0").is_dir(), 60, what="the resumed move")
    wait_until(lambda: not future_folders(other, topic), 30, what="no future folder left")
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: dict[int, bytes] = {}
    deadline = time.monotonic() + 60
    while len(got) < len(acked) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            assert message.offset() not in got, "duplicate"
            got[message.offset()] = message.value()
    consumer.close()
    assert got == acked
    assert not (home / f"{topic}-0").exists()
