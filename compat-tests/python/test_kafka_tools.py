"""Kafka 4.4's own command-line tools against gregor, run as their
`kafka-*.sh` scripts run them (the classes of the kafka-tools 4.4.0 jar),
each with its usual flags; the exit status and what it printed are checked
against facts established without it:

* kafka-get-offsets (GetOffsetShell): latest, earliest, max-timestamp and
  by-timestamp offsets of records produced with confluent-kafka at known
  offsets and timestamps; run once through `scripts/kafka-tool`, the
  wrapper the README shows, so that it cannot rot;
* kafka-delete-records: the low watermarks it prints, then the earliest
  offsets confluent-kafka lists and reads from; an offset past the end
  refused per partition;
* kafka-log-dirs: the JSON of the partitions in the broker's log dir, their
  sizes those of the segment files on disk; a broker that does not exist;
* kafka-transactions: a transaction left open by a confluent-kafka
  transactional producer that was killed, seen by `list`, `describe` and
  `describe-producers` (its producer id as the fetched batches carry it),
  not reported by `find-hanging` (its coordinator still expects to end it,
  as Kafka's tool decides), and aborted by `abort --start-offset`, after
  which a read_committed consumer reads past it;
* kafka-producer-perf-test and kafka-consumer-perf-test: N records produced
  (the end offsets and the values read back), N consumed (the bytes it
  counts, the group's committed offsets);
* kafka-leader-election: on a 3-broker cluster, nothing to do while the
  preferred replicas lead; after the preferred leader's restart, the
  partitions it no longer leads are given back (confluent-kafka's Metadata
  says so). On the shared broker, Kafka's answers for an unclean election
  that is not needed and for a partition that does not exist.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

import cluster_harness
import java_client
import txn_harness
from cluster_harness import bootstrap, create_topic, in_sync
from conftest import REPO_ROOT, now_ms, running_cluster, unique_topic, wait_until
from java_client import JavaClientError

pytestmark = pytest.mark.timeout(180)

KAFKA_TOOL = REPO_ROOT / "scripts" / "kafka-tool"

GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"
LOG_DIRS = "org.apache.kafka.tools.LogDirsCommand"
TRANSACTIONS = "org.apache.kafka.tools.TransactionsCommand"
LEADER_ELECTION = "org.apache.kafka.tools.LeaderElectionCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"

OUT_OF_RANGE = ("org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested "
                "offset is not within the range of offsets maintained by the server.")


def produce(bootstrap_servers: str, records: list[tuple[str, int, bytes, int | None]]
            ) -> list[tuple[int, int]]:
    """Produces (topic, partition, value, timestamp or None) in order with
    confluent-kafka; returns each record's (partition, offset) as acked."""
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 0,
                         "max.in.flight.requests.per.connection": 1})
    acked: dict[int, tuple[int, int]] = {}

    def report(index):
        def done(err, msg):
            assert err is None, err
            acked[index] = (msg.partition(), msg.offset())
        return done

    for index, (topic, partition, value, timestamp) in enumerate(records):
        extra = {"timestamp": timestamp} if timestamp is not None else {}
        producer.produce(topic, value=value, partition=partition, on_delivery=report(index),
                         **extra)
    assert producer.flush(30) == 0
    return [acked[i] for i in range(len(records))]


def table(out: str) -> list[dict[str, str]]:
    """The rows of a table kafka-transactions prints (columns padded, each
    ended by a tab), as {header: cell}."""
    lines = [[cell.rstrip() for cell in line.split("\t")[:-1]] for line in out.splitlines()]
    return [dict(zip(lines[0], row)) for row in lines[1:]]


# ---------------------------------------------------------------------------
# kafka-get-offsets, kafka-delete-records, kafka-log-dirs
# ---------------------------------------------------------------------------

def test_kafka_get_offsets_lists_latest_earliest_max_timestamp_and_by_time(broker, topic):
    create_topic([broker], topic, 3, 1)
    base = now_ms() - 60_000
    stamps = [base + delta for delta in (1000, 4000, 9000, 2000, 3000)]
    acked = produce(broker.bootstrap,
                    [(topic, 0, b"a%d" % i, ts) for i, ts in enumerate(stamps)]
                    + [(topic, 1, b"b%d" % i, base + 500 + i) for i in range(2)])
    assert acked == [(0, i) for i in range(5)] + [(1, 0), (1, 1)]

    # Latest (the default), through the wrapper the README shows.
    done = subprocess.run([str(KAFKA_TOOL), "kafka-get-offsets", "--bootstrap-server",
                           broker.bootstrap, "--topic", topic],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout == f"{topic}:0:5\n{topic}:1:2\n{topic}:2:0\n"

    # Earliest, for a topic-partition pattern (partitions 0 up to 2, exclusive).
    out = java_client.run_tool(GET_OFFSETS, "--bootstrap-server", broker.bootstrap,
                               "--topic-partitions", f"{topic}:0-2", "--time", "-2")
    assert out == f"{topic}:0:0\n{topic}:1:0\n"

    # Max timestamp: the record with the greatest timestamp, not the last one.
    out = java_client.run_tool(GET_OFFSETS, "--bootstrap-server", broker.bootstrap,
                               "--topic", topic, "--partitions", "0,1", "--time", "max-timestamp")
    assert out == f"{topic}:0:2\n{topic}:1:1\n"

    # By timestamp: the first offset at or after it; partitions without one
    # (all older, or empty) are left out.
    out = java_client.run_tool(GET_OFFSETS, "--bootstrap-server", broker.bootstrap,
                               "--topic", topic, "--time", str(base + 3500))
    assert out == f"{topic}:0:1\n"


def test_kafka_delete_records_moves_the_log_start_offsets(broker, topic, tmp_path):
    create_topic([broker], topic, 3, 1)
    produce(broker.bootstrap, [(topic, 0, b"a%d" % i, None) for i in range(10)]
            + [(topic, 1, b"b%d" % i, None) for i in range(4)]
            + [(topic, 2, b"c%d" % i, None) for i in range(3)])
    plan = tmp_path / "delete.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "offset": 6},
        {"topic": topic, "partition": 1, "offset": -1},     # up to the high watermark
        {"topic": topic, "partition": 2, "offset": 99},     # past the end
    ]}))
    out = java_client.run_tool(DELETE_RECORDS, "--bootstrap-server", broker.bootstrap,
                               "--offset-json-file", str(plan))
    lines = out.splitlines()
    assert lines[:2] == ["Executing records delete operation",
                         "Records delete operation completed:"]
    assert sorted(lines[2:]) == [f"partition: {topic}-0\tlow_watermark: 6",
                                 f"partition: {topic}-1\tlow_watermark: 4",
                                 f"partition: {topic}-2\terror: {OUT_OF_RANGE}"]

    # confluent-kafka: ListOffsets earliest, and a read from the beginning.
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.earliest()
                                 for p in range(3)}).items()
    assert {tp.partition: f.result(timeout=20).offset for tp, f in listed} == {0: 6, 1: 4, 2: 0}
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("dr"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 4 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            got.append((message.offset(), message.value()))
    consumer.close()
    assert got == [(i, b"a%d" % i) for i in range(6, 10)]


def test_kafka_log_dirs_describes_the_partitions_and_their_sizes(broker, topic):
    create_topic([broker], topic, 2, 1)
    produce(broker.bootstrap, [(topic, 0, b"x" * 100, None) for _ in range(7)]
            + [(topic, 1, b"y" * 10, None) for _ in range(3)])
    out = java_client.run_tool(LOG_DIRS, "--bootstrap-server", broker.bootstrap, "--describe",
                               "--topic-list", topic)
    lines = out.splitlines()
    assert lines[:2] == ["Querying brokers for log directories information",
                         "Received log directory information from brokers 1"]
    described = json.loads(lines[2])
    for log_dir in described["brokers"][0]["logDirs"]:
        log_dir["partitions"].sort(key=lambda p: p["partition"])

    def on_disk(partition: int) -> int:
        return sum(f.stat().st_size for f in broker.partition_dir(topic, partition).glob("*.log"))

    sizes = [on_disk(0), on_disk(1)]
    assert all(size > 0 for size in sizes) and sizes[0] > sizes[1]
    assert described == {"version": 1, "brokers": [{"broker": 1, "logDirs": [{
        "logDir": str(broker.data_dir), "error": None, "partitions": [
            {"partition": f"{topic}-{p}", "size": sizes[p], "offsetLag": 0, "isFuture": False}
            for p in range(2)]}]}]}

    with pytest.raises(JavaClientError) as refused:
        java_client.run_tool(LOG_DIRS, "--bootstrap-server", broker.bootstrap, "--describe",
                             "--broker-list", "1,7")
    assert " exited 1:" in str(refused.value)
    assert ("ERROR: The given brokers do not exist from --broker-list: 7. "
            "Current existent brokers: 1") in str(refused.value)


# ---------------------------------------------------------------------------
# kafka-transactions
# ---------------------------------------------------------------------------

# A transactional producer that writes three records to partition 0 in a
# transaction, and dies (SIGKILL) without ending it.
OPEN_AND_DIE = r"""
import json, os, signal, sys
from confluent_kafka import Producer
bootstrap, topic, txn_id = sys.argv[1:4]
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "transaction.timeout.ms": 600000, "linger.ms": 0})
producer.init_transactions(30)
producer.begin_transaction()
acked = []
for i in range(3):
    producer.produce(topic, value=b"open%d" % i, partition=0,
                     on_delivery=lambda err, msg: acked.append(None if err else msg.offset()))
assert producer.flush(30) == 0
print(json.dumps(acked), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def transactions(broker, *args: str) -> str:
    return java_client.run_tool(TRANSACTIONS, "--bootstrap-server", broker.bootstrap, *args)


def test_kafka_transactions_lists_describes_and_aborts_an_open_transaction(broker, topic):
    create_topic([broker], topic, 2, 1)
    txn_id = unique_topic("tools-txn")
    assert produce(broker.bootstrap, [(topic, 0, b"before", None)]) == [(0, 0)]
    started = now_ms()
    died = subprocess.run([sys.executable, "-c", OPEN_AND_DIE, broker.bootstrap, topic, txn_id],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert died.returncode == -9, died.stderr[-3000:]
    assert json.loads(died.stdout) == [1, 2, 3]
    assert produce(broker.bootstrap, [(topic, 0, b"after", None)]) == [(0, 4)]
    written = now_ms()

    # The producer id and epoch as the transactional batch carries them.
    with txn_harness.TxnWire("127.0.0.1", broker.port) as wire:
        fetched = wire.fetch(topic, 0, 0, txn_harness.READ_UNCOMMITTED)
    [batch] = [b for b in txn_harness.parse_batches(fetched.records) if b["transactional"]]
    assert (batch["base_offset"], batch["count"]) == (1, 3)
    pid, epoch = str(batch["producer_id"]), str(batch["producer_epoch"])
    # read_committed stops at the open transaction.
    assert [m.value for m in txn_harness.read_confluent(
        broker.bootstrap, [(topic, 0)], "read_committed")] == [b"before"]

    listed = [row for row in table(transactions(broker, "list"))
              if row["TransactionalId"] == txn_id]
    assert listed == [{"TransactionalId": txn_id, "Coordinator": "1", "ProducerId": pid,
                       "TransactionState": "Ongoing"}]

    [described] = table(transactions(broker, "describe", "--transactional-id", txn_id))
    start_ms = int(described.pop("CurrentTransactionStartTimeMs"))
    assert started <= start_ms <= written
    assert int(described.pop("TransactionDurationMs")) >= 0
    assert described == {"CoordinatorId": "1", "TransactionalId": txn_id, "ProducerId": pid,
                         "ProducerEpoch": epoch, "TransactionState": "Ongoing",
                         "TransactionTimeoutMs": "600000", "TopicPartitions": f"{topic}-0"}

    [producer] = table(transactions(broker, "describe-producers", "--topic", topic,
                                    "--partition", "0"))
    assert started <= int(producer.pop("LastTimestamp")) <= written
    assert producer == {"ProducerId": pid, "ProducerEpoch": epoch,
                        "LatestCoordinatorEpoch": "-1", "LastSequence": "2",
                        "CurrentTransactionStartOffset": "1"}

    # Open for longer than 0 minutes, but its coordinator still has the
    # partition in the ongoing transaction: not hanging.
    assert table(transactions(broker, "find-hanging", "--topic", topic,
                              "--max-transaction-timeout", "0")) == []

    with pytest.raises(JavaClientError) as refused:
        transactions(broker, "abort", "--topic", topic, "--partition", "0", "--start-offset", "2")
    assert " exited 1:" in str(refused.value)
    assert (f"Could not find any open transactions starting at offset 2 on partition {topic}-0"
            in str(refused.value))
    assert transactions(broker, "abort", "--topic", topic, "--partition", "0",
                        "--start-offset", "1") == ""

    [producer] = table(transactions(broker, "describe-producers", "--topic", topic,
                                    "--partition", "0"))
    assert producer["CurrentTransactionStartOffset"] == "None"
    assert producer["LatestCoordinatorEpoch"] == "0"
    committed = txn_harness.read_confluent(broker.bootstrap, [(topic, 0)], "read_committed")
    assert [(m.offset, m.value) for m in committed] == [(0, b"before"), (4, b"after")]


# ---------------------------------------------------------------------------
# kafka-producer-perf-test, kafka-consumer-perf-test
# ---------------------------------------------------------------------------

PERF_RECORDS = 5000


def test_kafka_producer_and_consumer_perf_tests_move_every_record(group_broker, topic, group_id):
    broker = group_broker
    create_topic([broker], topic, 3, 1)
    out = java_client.run_tool(PRODUCER_PERF, "--bootstrap-server", broker.bootstrap,
                               "--topic", topic, "--num-records", str(PERF_RECORDS),
                               "--throughput", "-1", "--payload-monotonic",
                               "--command-property", "acks=all", "linger.ms=5")
    summary = out.splitlines()[-1]
    assert re.fullmatch(
        rf"{PERF_RECORDS} records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg "
        r"latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.",
        summary), out

    # What confluent-kafka sees: the end offsets add up to N, the values are 0..N-1.
    reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("perf"),
                       "auto.offset.reset": "earliest", "enable.auto.commit": False})
    ends = {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(3)}
    assert sum(ends.values()) == PERF_RECORDS
    reader.assign([TopicPartition(topic, p, 0) for p in range(3)])
    values = []
    deadline = time.monotonic() + 30
    while len(values) < PERF_RECORDS and time.monotonic() < deadline:
        for message in reader.consume(1000, 0.5):
            assert not message.error(), message.error()
            values.append(message.value())
    reader.close()
    assert sorted(int(v) for v in values) == list(range(PERF_RECORDS))
    consumed_bytes = sum(len(v) for v in values)

    out = java_client.run_tool(CONSUMER_PERF, "--bootstrap-server", broker.bootstrap,
                               "--topic", topic, "--num-records", str(PERF_RECORDS),
                               "--group", group_id, "--timeout", "30000")
    lines = out.splitlines()
    assert lines[0] == ("start.time, end.time, data.consumed.in.MB, MB.sec, "
                        "data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, "
                        "fetch.MB.sec, fetch.nMsg.sec"), out
    assert len(lines) == 2, out      # no "WARNING: Exiting before consuming ..."
    fields = lines[1].split(", ")
    assert fields[2] == f"{consumed_bytes / (1024 * 1024):.4f}", out
    assert fields[4] == str(PERF_RECORDS), out

    # It closed with auto-commit on: its group committed the end offsets.
    admin_reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group_id,
                             "enable.auto.commit": False})
    committed = admin_reader.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    admin_reader.close()
    assert {tp.partition: tp.offset for tp in committed} == ends


# ---------------------------------------------------------------------------
# kafka-leader-election
# ---------------------------------------------------------------------------

def test_kafka_leader_election_answers_for_partitions_needing_none_or_unknown(broker, topic):
    """Kafka's answers where no leader moves (one broker is enough): an
    unclean election of a partition that has a leader is not needed; a
    partition that does not exist fails the tool with the controller's
    message."""
    create_topic([broker], topic, 2, 1)

    def election(*args: str) -> str:
        return java_client.run_tool(LEADER_ELECTION, "--bootstrap-server", broker.bootstrap,
                                    *args)

    assert election("--election-type", "unclean", "--topic", topic, "--partition", "1") \
        == f"Valid replica already elected for partitions {topic}-1\n"
    with pytest.raises(JavaClientError) as refused:
        election("--election-type", "preferred", "--topic", topic, "--partition", "7")
    assert " exited 1:" in str(refused.value)
    assert (f"Error completing leader election (PREFERRED) for partition: {topic}-7: "
            "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: "
            f"No such partition as {topic}-7") in str(refused.value)


# On 3 brokers: a preferred leader restarts and is given its partitions back.
CLUSTER_OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "4000",
    # Leadership stays where failover put it until an election moves it.
    "auto.leader.rebalance.enable": "false",
}


@pytest.fixture
def cluster():
    yield from running_cluster(3, CLUSTER_OVERRIDES)


def test_kafka_leader_election_gives_partitions_back_to_their_preferred_leaders(
        cluster, make_topic, tmp_path):
    topic = make_topic()
    create_topic(cluster, topic, 2, 3)

    def seen_by_all(check) -> bool:
        """Whether every running broker's Metadata passes `check`."""
        try:
            return all(check(cluster_harness.layout(b.bootstrap, topic))
                       for b in cluster if b.running)
        except (KafkaException, KeyError):     # a broker (re)starting
            return False

    wait_until(lambda: seen_by_all(lambda seen: in_sync(seen, 2)), 60, interval=0.2,
               what=f"{topic} fully replicated")
    created = cluster_harness.layout(bootstrap(cluster), topic)
    assert all(leader == replicas[0] for leader, replicas, _ in created.values()), created

    def election(*args: str) -> str:
        return java_client.run_tool(LEADER_ELECTION, "--bootstrap-server", bootstrap(cluster),
                                    *args)

    # The preferred replica leads: nothing to elect.
    assert election("--election-type", "preferred", "--topic", topic, "--partition", "0") \
        == f"Valid replica already elected for partitions {topic}-0\n"

    # Partition 0's preferred leader restarts; failover moved its leadership.
    preferred = created[0][1][0]
    restarted = cluster[preferred - 1]
    restarted.stop()
    wait_until(lambda: seen_by_all(lambda seen: seen[0][0] not in (-1, preferred)), 30,
               interval=0.2, what=f"{topic}-0 led by another broker")
    restarted.start()
    wait_until(lambda: seen_by_all(lambda seen: in_sync(seen, 2)), 60, interval=0.2,
               what=f"broker {preferred} back in sync")
    now = cluster_harness.layout(bootstrap(cluster), topic)
    displaced = {f"{topic}-{p}" for p, (leader, replicas, _) in now.items()
                 if leader != replicas[0]}
    assert f"{topic}-0" in displaced, now
    staying = {f"{topic}-{p}" for p in now} - displaced

    plan = tmp_path / "elect.json"
    plan.write_text(json.dumps({"partitions": [{"topic": topic, "partition": p}
                                               for p in range(2)]}))
    lines = election("--election-type", "PREFERRED", "--path-to-json-file", str(plan)).splitlines()
    prefix = "Successfully completed leader election (PREFERRED) for partitions "
    assert lines[0].startswith(prefix), lines
    assert set(lines[0][len(prefix):].split(", ")) == displaced
    if staying:
        assert lines[1:] == [f"Valid replica already elected for partitions {', '.join(staying)}"]
    else:
        assert lines[1:] == []
    wait_until(lambda: seen_by_all(lambda seen: all(
        leader == replicas[0] for leader, replicas, _ in seen.values())), 30, interval=0.2,
        what="every partition led by its preferred replica")
