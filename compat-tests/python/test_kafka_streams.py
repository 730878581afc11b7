"""Kafka Streams 4.4.0 against gregor: compat-tests/java's StreamsApp, a
word count (a repartition topic, a state store and its compacted changelog)
with a stateless branch, run as a real Streams application on a dedicated
broker.

(a) With exactly_once_v2 (and with at_least_once): the output, read with
    read_committed by confluent-kafka and by kafka-python, holds each
    word's counts 1, 2, ..., n exactly once and in order, and the
    upper-cased branch exactly the input's records; the internal topics
    exist with the partitions and configs Streams asked for; the changelog
    holds the final counts; the application's group committed the input's
    end offsets; the repartition topic was purged (DeleteRecords).
(b) Stopped and started again (exactly_once_v2) on more input: the counts
    go on from the state, once with the local state (its checkpoint) and
    once with an empty state directory, restored from the changelog; no
    input record is counted twice or missed across the three runs. The
    first run leaves the group on close (LeaveGroup), the second stays in
    it as Streams does by default, so the third's join waits for its
    session to time out.
(c) exactly_once_v2 through a crash (the process halts with a transaction
    open): the next run fences and aborts it, and the output holds each
    count once for read_committed, the aborted attempt for
    read_uncommitted.

StreamsApp's own settings: commit.interval.ms=200, a 6 s session timeout,
the record cache off (one count update per word).
"""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, OffsetSpec, ResourceType

import java_client
from conftest import GROUP_BROKER_OVERRIDES, unique_topic
from txn_harness import create_topics, read_confluent, read_kafka_python

pytestmark = pytest.mark.timeout(180)

PARTITIONS = 2
# StreamsApp's names for its repartition topic and its store.
REPARTITION = "words"
STORE = "counts"

# A dedicated broker that rebalances at once (Streams' first join would
# otherwise wait group.initial.rebalance.delay.ms); for KIP-1071 streams
# groups too, whose members it also tells to heartbeat every 200 ms rather
# than Kafka's 5 s, so that a run starts in well under a second.
STREAMS_BROKER_OVERRIDES = {
    **GROUP_BROKER_OVERRIDES,
    "group.streams.initial.rebalance.delay.ms": "0",
    "group.streams.min.heartbeat.interval.ms": "200",
    "group.streams.heartbeat.interval.ms": "200",
}


def streams_config(broker, **extra) -> dict:
    """The settings the tests give StreamsApp, over its own."""
    return {
        "bootstrap.servers": broker.bootstrap,
        # Purge consumed repartition records (DeleteRecords) at every commit.
        "repartition.purge.interval.ms": "0",
        **extra,
    }


class App:
    """One Streams application: its topics, and runs of StreamsApp on them."""

    def __init__(self, broker, tmp_path, guarantee: str):
        self.broker = broker
        self.tmp_path = tmp_path
        self.guarantee = guarantee
        self.id = unique_topic("streams-app")
        self.input = unique_topic("streams-in")
        self.output = unique_topic("streams-counts")
        self.upper = unique_topic("streams-upper")
        self.repartition = f"{self.id}-{REPARTITION}-repartition"
        self.changelog = f"{self.id}-{STORE}-changelog"
        create_topics(broker.bootstrap, {self.input: PARTITIONS, self.output: PARTITIONS,
                                         self.upper: PARTITIONS})
        self.produced: list[tuple[str, str]] = []

    def produce(self, lines: list[str]) -> None:
        """Writes the lines to the input (keys line-N, spread over the
        partitions by the default partitioner) with confluent-kafka."""
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                      "enable.idempotence": True})
        errors = []
        for line in lines:
            key = f"line-{len(self.produced)}"
            self.produced.append((key, line))
            p.produce(self.input, key=key.encode(), value=line.encode(),
                      on_delivery=lambda err, msg: err and errors.append(err))
        assert p.flush(15) == 0
        assert errors == []

    def run(self, state_dir: str, records: int, linger_ms: int = 0,
            leave_group: bool = False, halt: bool = False, **settings) -> list[str]:
        """Runs StreamsApp until it has sent `records` records (this run's
        count updates plus upper-cased lines); returns what it printed.
        With `leave_group`, its close() leaves the group (Streams' default
        is to stay until the session times out); with `halt`, it does not
        close but halts (a crash). `settings` are more Streams settings
        (dots as underscores)."""
        config = streams_config(self.broker, **{k.replace("_", "."): str(v)
                                                for k, v in settings.items()})
        if leave_group:
            config["gregor.leave.group.on.close"] = "true"
        if halt:
            config["gregor.halt"] = "true"
        return java_client.run_streams(
            config, self.id, str(self.tmp_path / state_dir),
            self.guarantee, self.input, self.output, self.upper, str(records), "60",
            str(linger_ms))


def words(lines: list[str]) -> list[str]:
    return [w for line in lines for w in line.lower().split()]


def expected_records(lines: list[str]) -> int:
    """What StreamsApp sends for these lines: one count update per word
    (the record cache is off) and one upper-cased line per line."""
    return len(words(lines)) + len(lines)


def counts_printed(out: list[str]) -> dict[str, int]:
    return {word: int(n) for _, word, n in
            (line.split() for line in out if line.startswith("count "))}


def assert_clean_run(out: list[str], records: int) -> None:
    assert "state RUNNING" in out, out
    assert f"sent {records}" in out, out
    # close() returned ("closed" is printed last); the state listener runs
    # on the thread that shut the client down, so its lines may come a bit
    # later or earlier.
    assert out[-1] == "closed" or out[-2:] == ["closed", "state NOT_RUNNING"], out
    assert "state PENDING_SHUTDOWN" in out and "state NOT_RUNNING" in out, out


def restored(out: list[str]) -> dict[int, int]:
    """Records restored from the changelog, by store partition."""
    got = {}
    for line in out:
        if line.startswith("restored "):
            _, store, partition, total = line.split()
            assert store == STORE, line
            got[int(partition)] = got.get(int(partition), 0) + int(total)
    return got


def by_key(records) -> dict[str, list[str]]:
    """Each key's values in offset order (one key lives in one partition)."""
    seen: dict[str, list[str]] = {}
    for r in records:
        seen.setdefault(r.key.decode(), []).append(r.value.decode())
    return seen


def assert_counts_output(app: App, total: Counter) -> None:
    """The output topic, read with read_committed by confluent-kafka and by
    kafka-python, holds for each word the counts 1..n, in order, once."""
    tps = [(app.output, p) for p in range(PARTITIONS)]
    want = {word: [str(i) for i in range(1, n + 1)] for word, n in total.items()}
    confluent = read_confluent(app.broker.bootstrap, tps, "read_committed",
                               group=unique_topic("streams-reader"))
    assert by_key(confluent) == want
    kafka_python = read_kafka_python(app.broker.bootstrap, tps, "read_committed")
    assert [(r.partition, r.offset, r.key, r.value) for r in kafka_python] == \
        [(r.partition, r.offset, r.key, r.value) for r in confluent]


def assert_upper_output(app: App) -> None:
    tps = [(app.upper, p) for p in range(PARTITIONS)]
    got = read_confluent(app.broker.bootstrap, tps, "read_committed",
                         group=unique_topic("streams-reader"))
    assert sorted((r.key.decode(), r.value.decode()) for r in got) == \
        sorted((key, line.upper()) for key, line in app.produced)
    # The branch keeps the input's keys, so its records stay in the input's
    # partitions, in the input's order.
    assert by_key(got) == {key: [line.upper()] for key, line in app.produced}
    kafka_python = read_kafka_python(app.broker.bootstrap, tps, "read_committed")
    assert [(r.partition, r.offset, r.key, r.value) for r in kafka_python] == \
        [(r.partition, r.offset, r.key, r.value) for r in got]


def changelog_counts(app: App) -> tuple[dict[str, int], int]:
    """The changelog's last count per word (values are 8-byte longs) and its
    number of (committed) records."""
    tps = [(app.changelog, p) for p in range(PARTITIONS)]
    records = read_confluent(app.broker.bootstrap, tps, "read_committed",
                             group=unique_topic("streams-reader"))
    last = {r.key.decode(): struct.unpack(">q", r.value)[0] for r in records}
    return last, len(records)


def offsets(admin: AdminClient, topic: str, spec: OffsetSpec) -> dict[int, int]:
    wanted = {TopicPartition(topic, p): spec for p in range(PARTITIONS)}
    return {tp.partition: future.result(10).offset
            for tp, future in admin.list_offsets(wanted).items()}


def committed(admin: AdminClient, group: str, topic: str) -> dict[int, int]:
    request = [ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(PARTITIONS)])]
    result = admin.list_consumer_group_offsets(request)[group].result(10)
    return {tp.partition: tp.offset for tp in result.topic_partitions}


def topic_configs(admin: AdminClient, topic: str) -> dict[str, str]:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return {name: entry.value
            for name, entry in admin.describe_configs([resource])[resource].result(10).items()}


def assert_internal_topics(app: App, admin: AdminClient) -> None:
    topics = admin.list_topics(timeout=10).topics
    internal = sorted(t for t in topics if t.startswith(app.id))
    assert internal == sorted([app.changelog, app.repartition])
    assert len(topics[app.repartition].partitions) == PARTITIONS
    assert len(topics[app.changelog].partitions) == PARTITIONS
    # What Streams asked for in CreateTopics (RepartitionTopicConfig,
    # UnwindowedUnversionedChangelogTopicConfig).
    changelog = topic_configs(admin, app.changelog)
    assert changelog["cleanup.policy"] == "compact"
    assert changelog["message.timestamp.type"] == "CreateTime"
    repartition = topic_configs(admin, app.repartition)
    assert repartition["cleanup.policy"] == "delete"
    assert repartition["retention.ms"] == "-1"
    assert repartition["segment.bytes"] == "52428800"


LINES_1 = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "The Dog barks",
    "a fox and a dog",
    "quick quick QUICK",
    "the end",
]
LINES_2 = [
    "the fox is back",
    "a new dog",
    "quick",
]
LINES_3 = [
    "the last fox",
    "zebra",
]


@pytest.mark.parametrize("protocol", ["classic", "streams"])
@pytest.mark.parametrize("guarantee", ["exactly_once_v2", "at_least_once"])
def test_word_count(broker_factory, tmp_path, guarantee, protocol):
    """With Streams' classic group protocol (its partition assignor in the
    client) and with KIP-1071's (the broker assigns the tasks and creates
    the internal topics)."""
    broker = broker_factory(name="streams", **STREAMS_BROKER_OVERRIDES)
    app = App(broker, tmp_path, guarantee)
    app.produce(LINES_1)
    records = expected_records(LINES_1)
    # Lingers 1.5 s after the last record: commits, and purges the
    # repartition topic up to what it committed.
    out = app.run("state", records, linger_ms=1500, group_protocol=protocol)
    assert_clean_run(out, records)
    total = Counter(words(LINES_1))
    assert counts_printed(out) == dict(total)

    assert_counts_output(app, total)
    assert_upper_output(app)

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert_internal_topics(app, admin)
    changelog, _ = changelog_counts(app)
    assert changelog == dict(total)
    # The group (application.id) committed every input record.
    input_ends = offsets(admin, app.input, OffsetSpec.latest())
    assert sum(input_ends.values()) == len(LINES_1)
    assert committed(admin, app.id, app.input) == input_ends
    # Each word went through the repartition topic once; what Streams
    # consumed of it, it committed and then deleted (DeleteRecords).
    repartition_ends = offsets(admin, app.repartition, OffsetSpec.latest())
    repartition_committed = committed(admin, app.id, app.repartition)
    # The last commit's position is past everything (with exactly_once_v2,
    # past the last transaction's commit marker too, which a read_committed
    # fetch returns with the transaction's records).
    assert repartition_committed == repartition_ends
    assert offsets(admin, app.repartition, OffsetSpec.earliest()) == repartition_ends
    output_ends = offsets(admin, app.output, OffsetSpec.latest())
    if guarantee == "at_least_once":
        assert sum(repartition_ends.values()) == len(words(LINES_1))
        assert sum(output_ends.values()) == len(words(LINES_1))
    else:
        # Written in transactions: their commit markers take offsets too.
        assert sum(repartition_ends.values()) > len(words(LINES_1))
        assert sum(output_ends.values()) > len(words(LINES_1))


def test_restart_restores_counts(broker_factory, tmp_path):
    broker = broker_factory(name="streams", **STREAMS_BROKER_OVERRIDES)
    app = App(broker, tmp_path, "exactly_once_v2")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})

    app.produce(LINES_1)
    out = app.run("state-1", expected_records(LINES_1), leave_group=True)
    assert_clean_run(out, expected_records(LINES_1))
    total = Counter(words(LINES_1))
    assert counts_printed(out) == dict(total)
    # It left the group (LeaveGroup), which is empty now.
    group = admin.describe_consumer_groups([app.id])[app.id].result(10)
    assert (group.state, group.members) == (ConsumerGroupState.EMPTY, [])

    # Again, with the same state directory: the store is the local one (its
    # checkpoint), the input's committed offsets say where to go on.
    app.produce(LINES_2)
    out = app.run("state-1", expected_records(LINES_2))
    assert_clean_run(out, expected_records(LINES_2))
    assert sum(restored(out).values()) == 0, out
    total += Counter(words(LINES_2))
    assert counts_printed(out) == dict(total)
    # This time it stays in the group (Streams' default) until its session
    # (6 s) times out; the next run's join waits for that.
    group = admin.describe_consumer_groups([app.id])[app.id].result(10)
    assert len(group.members) == 1 and group.partition_assignor == "stream", group

    # Again, with an empty state directory: the store is rebuilt from the
    # changelog, every (committed) record of it.
    changelog, changelog_records = changelog_counts(app)
    assert changelog == dict(total)
    assert changelog_records > 0
    app.produce(LINES_3)
    out = app.run("state-2", expected_records(LINES_3))
    assert_clean_run(out, expected_records(LINES_3))
    assert sum(restored(out).values()) == changelog_records, out
    total += Counter(words(LINES_3))
    assert counts_printed(out) == dict(total)

    # Across the three runs, every count once: no input record was
    # processed twice or skipped.
    assert_counts_output(app, total)
    assert_upper_output(app)
    assert committed(admin, app.id, app.input) == \
        offsets(admin, app.input, OffsetSpec.latest())
    changelog, _ = changelog_counts(app)
    assert changelog == dict(total)


def test_crash_mid_transaction_is_aborted(broker_factory, tmp_path):
    """exactly_once_v2 through a crash. The word counts read the
    repartition topic with read_committed, so they come one transaction
    after the words: the first run commits a transaction with the input's
    offsets, the words and the upper-cased lines, then counts in the next
    one and halts before committing it. The next run (the same state
    directory, so the same transactional.id) fences and aborts that one,
    counts again and commits. read_committed readers see each count once;
    read_uncommitted ones see the aborted attempt too."""
    broker = broker_factory(name="streams", **STREAMS_BROKER_OVERRIDES)
    app = App(broker, tmp_path, "exactly_once_v2")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    app.produce(LINES_1)
    total = Counter(words(LINES_1))
    outputs = [(app.output, p) for p in range(PARTITIONS)]

    # Commits every 5 s: the first commit ends the words' transaction; the
    # counts follow at once, then 1 s for the producer to send them, and
    # the crash, well before the next commit.
    out = app.run("state", expected_records(LINES_1), linger_ms=1000, halt=True,
                  commit_interval_ms=5000)
    assert out[-2:] == [f"sent {expected_records(LINES_1)}", "halted"], out
    uncommitted = read_confluent(broker.bootstrap, outputs, "read_uncommitted",
                                 group=unique_topic("streams-reader"))
    assert by_key(uncommitted) == {word: [str(i) for i in range(1, n + 1)]
                                   for word, n in total.items()}
    # The counts' transaction is open: nothing of it is committed, in the
    # output or in the group's offsets of the repartition topic. The first
    # transaction is: the input's offsets, the upper-cased lines.
    assert read_confluent(broker.bootstrap, outputs, "read_committed",
                          group=unique_topic("streams-reader")) == []
    assert all(offset < 0 for offset in committed(admin, app.id, app.repartition).values())
    assert committed(admin, app.id, app.input) == \
        offsets(admin, app.input, OffsetSpec.latest())
    assert_upper_output(app)

    # Only the counts again (the words were committed).
    out = app.run("state", len(words(LINES_1)))
    assert_clean_run(out, len(words(LINES_1)))
    assert counts_printed(out) == dict(total)
    assert_counts_output(app, total)
    assert_upper_output(app)
    # The aborted attempt stays in the log, for read_uncommitted.
    uncommitted = read_confluent(broker.bootstrap, outputs, "read_uncommitted",
                                 group=unique_topic("streams-reader"))
    assert by_key(uncommitted) == {word: 2 * [str(i) for i in range(1, n + 1)]
                                   for word, n in total.items()}
