#!/usr/bin/env python3
"""Records seed corpora for the fuzz targets from real client traffic.

Starts a gregor broker behind compat-tests' frame-aware TCP proxy (the broker
advertises the proxy, so every connection goes through it), runs sessions of
confluent-kafka (librdkafka), kafka-python and, if installed, kcat: topics
created and configured, records produced with every codec, idempotent and
transactional producers, consumer groups committing offsets, ListOffsets by
time. Every request frame is recorded. The broker is then stopped cleanly and
the files it wrote (segments, indexes, checkpoints, producer snapshots,
__consumer_offsets and __transaction_state records, the metadata log) become
seeds too, each in its target's input layout (see fuzz/fuzz_targets/*.rs).

    target/compat-venv/bin/python fuzz/record_seeds.py   # writes fuzz/seeds/

Needs a built broker (GREGOR_BIN, default target/debug/gregor) and the compat
venv (compat-tests/requirements.txt). Seeds are small by construction; the
whole set is printed at the end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
sys.path.insert(0, str(FUZZ.parent / "compat-tests" / "python"))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.admin import NewTopic as KpNewTopic  # noqa: E402

from conftest import Broker  # noqa: E402
from kafka_wire import Reader  # noqa: E402
from tcp_proxy import CuttingProxy  # noqa: E402

SEEDS = FUZZ / "seeds"
MAX_SEED_BYTES = 16 * 1024
MAX_SEEDS_PER_TARGET = 80
MAX_FRAMES_PER_API_VERSION = 2


class Seeds:
    """Seed files per target, deduplicated by content."""

    def __init__(self) -> None:
        self.by_target: dict[str, dict[str, bytes]] = {}

    def add(self, target: str, data: bytes) -> None:
        if len(data) > MAX_SEED_BYTES:
            return
        seeds = self.by_target.setdefault(target, {})
        if len(seeds) < MAX_SEEDS_PER_TARGET:
            seeds.setdefault(hashlib.sha1(data).hexdigest()[:16], data)

    def write(self) -> None:
        for target, seeds in sorted(self.by_target.items()):
            folder = SEEDS / target
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for name, data in seeds.items():
                (folder / f"seed-{name}").write_bytes(data)
            size = sum(len(d) for d in seeds.values())
            print(f"  {target:26} {len(seeds):4} seeds {size:8} bytes")


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n & 0xFFFFFFFF)


def i64(n: int) -> bytes:
    return struct.pack(">q", n)


# -- client sessions ---------------------------------------------------------

def confluent_session(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic("seed-plain", 2, 1),
              NewTopic("seed-compacted", 1, 1, config={"cleanup.policy": "compact"})]
    for future in admin.create_topics(topics, operation_timeout=10).values():
        future.result(15)
    admin.describe_configs([ConfigResource("topic", "seed-plain")])[
        ConfigResource("topic", "seed-plain")].result(15)
    admin.list_topics(timeout=10)

    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                             "enable.idempotence": codec != "none", "linger.ms": 5})
        for i in range(20):
            producer.produce("seed-plain", key=f"k{i % 4}".encode(),
                             value=f"{codec}-{i}-".encode() * 3, partition=i % 2,
                             headers=[("h", codec.encode())])
            producer.produce("seed-compacted", key=f"k{i % 3}".encode(), value=codec.encode())
        producer.flush(15)

    tx = Producer({"bootstrap.servers": bootstrap, "transactional.id": "seed-tx"})
    tx.init_transactions(15)
    for commit in (True, False):
        tx.begin_transaction()
        for i in range(3):
            tx.produce("seed-plain", key=b"tx", value=f"tx-{commit}-{i}".encode(), partition=0)
        tx.flush(15)  # else an abort purges the records unsent: nothing to index
        if commit:
            tx.commit_transaction(15)
        else:
            tx.abort_transaction(15)

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "seed-group",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe(["seed-plain"])
    deadline = time.monotonic() + 20
    seen = 0
    while time.monotonic() < deadline and seen < 100:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            seen += 1
    consumer.commit(asynchronous=False)
    consumer.offsets_for_times([TopicPartition("seed-plain", 0, int(time.time() * 1000) - 60_000)],
                               timeout=10)
    consumer.close()
    admin.list_consumer_groups().result(15)


def kafka_python_session(bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([KpNewTopic("seed-kp", 1, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip")
    for i in range(10):
        producer.send("seed-kp", key=b"kp", value=f"kafka-python-{i}".encode())
    producer.flush(15)
    producer.close()
    consumer = KafkaConsumer("seed-kp", bootstrap_servers=bootstrap, group_id="seed-kp-group",
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for _ in consumer:
        pass
    consumer.commit()
    consumer.close()
    admin.describe_groups(["seed-kp-group"])
    admin.list_group_offsets("seed-kp-group")
    admin.describe_log_dirs()
    admin.delete_topics(["seed-kp"])
    admin.close()


def kcat_session(bootstrap: str) -> None:
    if shutil.which("kcat") is None:
        print("  (kcat not installed: its session is skipped)")
        return
    subprocess.run(["kcat", "-b", bootstrap, "-L"], check=True, capture_output=True, timeout=30)
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "seed-kcat", "-z", "lz4", "-K:"],
                   input=b"a:1\nb:2\nc:3\n", check=True, capture_output=True, timeout=30)
    subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", "seed-kcat", "-e", "-o", "beginning"],
                   check=True, capture_output=True, timeout=30)


# -- seeds from request frames -----------------------------------------------

def request_seeds(frames: list[bytes], seeds: Seeds) -> None:
    per_version: dict[tuple[int, int], int] = {}
    for frame in frames:
        body = frame[4:]
        api_key, version = struct.unpack_from(">hh", body)
        if per_version.get((api_key, version), 0) >= MAX_FRAMES_PER_API_VERSION:
            continue
        per_version[(api_key, version)] = per_version.get((api_key, version), 0) + 1
        seeds.add("request_frame", body)
        # request_served: api key, version, then everything after the client id
        client_id_length = struct.unpack_from(">h", body, 8)[0]
        rest = body[10 + max(client_id_length, 0):]
        seeds.add("request_served", body[:4] + rest)


# -- seeds from the broker's files ---------------------------------------------

def batches(data: bytes):
    """(position, bytes) of the whole v2 batches at the start of a segment."""
    position = 0
    while position + 61 <= len(data):
        length = struct.unpack_from(">i", data, position + 8)[0]
        end = position + 12 + length
        if length < 49 or end > len(data):
            return
        yield position, data[position:end]
        position = end


def records(batch: bytes):
    """(key, value) of an uncompressed batch's records."""
    if struct.unpack_from(">h", batch, 21)[0] & 0x07:
        return
    count = struct.unpack_from(">i", batch, 57)[0]
    reader = Reader(batch[61:])
    for _ in range(count):
        end = reader.varint() + reader.pos
        reader.take(1)  # attributes
        reader.varint()  # timestamp delta
        reader.varint()  # offset delta
        key_length = reader.varint()
        key = reader.take(key_length) if key_length >= 0 else None
        value_length = reader.varint()
        value = reader.take(value_length) if value_length >= 0 else None
        reader.pos = end
        yield key, value


def head_batches(log: bytes, limit: int) -> bytes:
    """The whole batches at the start of `log`, at most `limit` bytes of them."""
    end = 0
    for position, batch in batches(log):
        if position + len(batch) > limit:
            break
        end = position + len(batch)
    return log[:end]


def partition_seeds(folder: Path, seeds: Seeds) -> None:
    for log_file in sorted(folder.glob("*.log")):
        base_offset = int(log_file.stem)
        log = log_file.read_bytes()
        index = log_file.with_suffix(".index")
        time_index = log_file.with_suffix(".timeindex")
        index_bytes = index.read_bytes() if index.exists() else b""
        time_index_bytes = time_index.read_bytes() if time_index.exists() else b""
        head = head_batches(log, 8 * 1024)
        for flags in (0, 1):  # active, sealed
            seeds.add("segment_recovery", bytes([flags]) + u32(base_offset) + u16(len(index_bytes))
                      + index_bytes + u16(len(time_index_bytes)) + time_index_bytes + head)
        for position, batch in batches(log):
            seeds.add("record_batch", b"\x00" + batch)
            if position > 8 * 1024:
                break
        if index_bytes:
            probes = b"".join(u32(1000 + d) for d in (0, 1, 10, 1000))
            seeds.add("offset_index", u32(base_offset) + u32(len(log)) + probes + index_bytes)
        if time_index_bytes:
            stamps = b"".join(i64(struct.unpack_from(">q", time_index_bytes, 0)[0] + d)
                              for d in (-1, 0, 1, 10_000))
            seeds.add("time_index", u32(base_offset) + u32(10_000) + stamps + time_index_bytes)
        if folder.name.startswith(("__consumer_offsets-", "__transaction_state-")):
            target = ("consumer_offsets" if folder.name.startswith("__consumer_offsets")
                      else "transaction_state")
            for _, batch in batches(log):
                for key, value in records(batch):
                    if key is not None:
                        seeds.add(target, u16(len(key)) + key + (value or b""))
    for txn_index in sorted(folder.glob("*.txnindex")):
        seeds.add("txn_index", i64(int(txn_index.stem) + 5) + txn_index.read_bytes())
    for snapshot in sorted(folder.glob("*.snapshot")):
        seeds.add("producer_snapshot", b"\x00" + snapshot.read_bytes())
    checkpoint = folder / "leader-epoch-checkpoint"
    if checkpoint.exists():
        text = checkpoint.read_bytes()
        changes = (bytes([0]) + struct.pack(">i", 5) + i64(100)
                   + bytes([3]) + struct.pack(">i", 0) + i64(200)
                   + bytes([2]) + struct.pack(">i", 0) + i64(1))
        seeds.add("leader_epoch_checkpoint", u16(len(text)) + text + changes)


def metadata_seeds(folder: Path, seeds: Seeds) -> None:
    raft_log = folder / "raft.log"
    if not raft_log.exists():
        return
    data = raft_log.read_bytes()
    seeds.add("metadata_log", b"\x00" + data[:MAX_SEED_BYTES - 1])
    bodies = []
    position = 0
    while position + 8 <= len(data):
        length = struct.unpack_from(">I", data, position)[0]
        bodies.append(data[position + 8:position + 8 + length])
        position += 8 + length
    for start in range(0, len(bodies), 8):
        seeds.add("metadata_log", b"\x01" + b"\n".join(bodies[start:start + 8]))
    state, last_log_id, membership = replay(bodies)
    seeds.add("metadata_snapshot", b"\x00" + json.dumps(state).encode())
    # the file carries the state as a JSON array of bytes: a small one fits
    state["topics"] = dict(list(state["topics"].items())[:1])
    snapshot = {"meta": {"last_log_id": last_log_id, "last_membership": membership,
                         "snapshot_id": "seed-1"},
                "data": list(json.dumps(state).encode())}
    seeds.add("metadata_snapshot", b"\x01" + json.dumps(snapshot).encode())


def replay(bodies: list[bytes]):
    """A metadata state like the one the log folds into, as JSON values: close
    enough to be a good starting point for the metadata_snapshot target."""
    state = {"cluster_id": None, "brokers": {}, "fenced": [], "topics": {},
             "next_producer_id": 0, "broker_configs": {"cluster_default": {}, "per_broker": {}}}
    last_log_id, membership = None, {"log_id": None, "membership": {"configs": [], "nodes": {}}}
    for body in bodies:
        entry = json.loads(body)
        last_log_id = entry.get("log_id")
        payload = entry.get("payload")
        if isinstance(payload, dict) and "Membership" in payload:
            membership = {"log_id": last_log_id, "membership": payload["Membership"]}
        record = payload.get("Normal") if isinstance(payload, dict) else None
        if not isinstance(record, dict):
            continue
        for kind, value in record.items():
            if kind == "InitCluster":
                state["cluster_id"] = state["cluster_id"] or value["cluster_id"]
            elif kind == "RegisterBroker":
                state["brokers"][str(value["node_id"])] = value
            elif kind == "PutTopic":
                state["topics"][value["name"]] = value
            elif kind == "AllocateProducerIds":
                state["next_producer_id"] += max(value["block_size"], 1)
            elif kind == "PutBrokerConfigs":
                state["broker_configs"] = value
    return state, last_log_id, membership


def main() -> None:
    seeds = Seeds()
    frames: list[bytes] = []
    proxy = CuttingProxy(seed=1).start()
    proxy.on_request = frames.append
    broker = Broker(name="seeds", overrides={
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port}",
        # small segments and index intervals: several segments, sealed ones too
        "log.segment.bytes": "4096", "log.index.interval.bytes": "256"})
    proxy.upstream = (broker.host, broker.port)
    started = time.monotonic()
    broker.start()
    try:
        for session in (confluent_session, kafka_python_session, kcat_session):
            print(f"session: {session.__name__}")
            session(proxy.address)
    finally:
        broker.stop()
        proxy.close()
    print(f"recorded {len(frames)} request frames in {time.monotonic() - started:.1f} s")
    request_seeds(frames, seeds)
    for folder in sorted(p for p in broker.data_dir.iterdir() if p.is_dir()):
        if folder.name.startswith("__cluster_metadata"):
            metadata_seeds(folder, seeds)
        else:
            partition_seeds(folder, seeds)
    seeds.write()
    total = sum(len(d) for s in seeds.by_target.values() for d in s.values())
    print(f"wrote {sum(len(s) for s in seeds.by_target.values())} seeds, {total} bytes, to {SEEDS}")
    shutil.rmtree(broker.data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
