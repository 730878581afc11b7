"""The newest request versions of Kafka 4.4's clients (issue 12 point 2),
served since the protocol crate was brought up to them: TxnOffsetCommit v6
(topics by id, KIP-1319), DeleteGroups v3 (error messages), DescribeLogDirs
v5 (IsCordoned) and ListOffsets v11 (earliest pending upload, KIP-1023).
The Java client drives them in `NewestVersionsTest` (JUnit); here:
- franz-go (which knows every one of them) asks at its newest versions:
  DeleteGroups answers GROUP_ID_NOT_FOUND without a message, ListOffsets answers -6 with no offset and a
  made-up timestamp with UNSUPPORTED_VERSION, DescribeLogDirs says not
  cordoned; the broker's journal shows the versions it chose;
- franz-go's GroupTransactSession commits its group's offsets with
  TxnOffsetCommit v6, read back by confluent-kafka;
- raw TxnOffsetCommit requests: an unknown topic id is UNKNOWN_TOPIC_ID; a
  member of a group that does not exist gets GROUP_ID_NOT_FOUND at v6 and
  ILLEGAL_GENERATION before, as Kafka answers them."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicCollection
from confluent_kafka import TopicPartition as CKTopicPartition
from confluent_kafka.admin import AdminClient

import go_client
from conftest import free_port
from kafka_wire import (Reader, TAGS_NONE, WireClient, compact_string, frame, i16, i32, i64,
                        recv_frame, request_header, uvarint)

pytestmark = pytest.mark.timeout(180)


def journaled_versions(admin_port: int, api: str) -> set[int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/journal") as answer:
        return {entry["version"] for entry in json.load(answer) if entry["api"] == api}


@pytest.fixture
def journaled(broker_factory):
    port = free_port()
    return broker_factory(**{"admin.listener": f"127.0.0.1:{port}"}), port


def test_franz_go_asks_at_the_newest_versions(journaled, topic):
    broker, admin_port = journaled
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(3):
        producer.produce(topic, value=f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    lines = go_client.run("franz", broker.bootstrap, "newest", topic, "never-was")
    # No message, as Kafka (it fills one only for streams groups).
    assert "deleted never-was 69 null" in lines, lines
    offsets = {int(line.split()[1]): line.split()[2:] for line in lines
               if line.startswith("offset ")}
    assert offsets[-1][:2] == ["0", "3"], offsets        # latest: the high watermark
    assert offsets[-2][:2] == ["0", "0"], offsets        # earliest
    assert offsets[-6] == ["0", "-1", "-1"], offsets     # no remote tier: nothing pending
    assert offsets[-7][0] == "35", offsets               # UNSUPPORTED_VERSION
    assert [line.split()[:2] for line in lines if line.startswith("dir ")] == [
        ["dir", "0"]] and "cordoned=false" in " ".join(lines), lines
    assert journaled_versions(admin_port, "DeleteGroups") == {3}
    assert journaled_versions(admin_port, "ListOffsets") == {11}
    assert journaled_versions(admin_port, "DescribeLogDirs") == {5}


def test_franz_go_commits_transactional_offsets_by_topic_id(journaled, topic):
    broker, admin_port = journaled
    source, sink = topic, topic + "-out"
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        producer.produce(source, value=f"v{i}".encode(), partition=0)
    producer.produce(sink, value=b"first", partition=0)
    assert producer.flush(30) == 0
    go_client.run("franz", broker.bootstrap, "eos", source, sink, "franz-eos", "franz-eos-txn",
                  "5", timeout=120)
    assert 6 in journaled_versions(admin_port, "TxnOffsetCommit")
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "franz-eos"})
    committed = consumer.committed([CKTopicPartition(source, 0)], timeout=10)
    consumer.close()
    assert committed[0].offset == 5, committed


def add_offsets_to_txn(client: WireClient, txn_id: str, pid: int, epoch: int, group: str) -> int:
    body = compact_string(txn_id) + i64(pid) + i16(epoch) + compact_string(group) + TAGS_NONE
    corr = client.next_corr()
    client.sock.sendall(frame(request_header(25, 3, corr, flexible=True) + body))
    r = Reader(recv_frame(client.sock))
    assert r.i32() == corr
    r.skip_tags()
    r.i32()                                              # throttle
    return r.i16()


def txn_offset_commit(*args) -> list[int]:
    """As `txn_offset_commit_once`, while the group's coordinator is
    still loading (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR), as a
    client retries."""
    deadline = time.monotonic() + 20
    while True:
        errors = txn_offset_commit_once(*args)
        if not set(errors) & {14, 16} or time.monotonic() > deadline:
            return errors
        time.sleep(0.2)


def txn_offset_commit_once(client: WireClient, version: int, txn_id: str, pid: int, epoch: int,
                           group: str, generation: int, member: str,
                           topic: str | uuid.UUID) -> list[int]:
    """One partition (0) of one topic, by name before v6 and by id from v6;
    the partition's error codes."""
    partition = i32(0) + i64(1) + i32(-1) + compact_string("") + TAGS_NONE
    name = topic.bytes if version >= 6 else compact_string(topic)
    topics = uvarint(2) + name + uvarint(2) + partition + TAGS_NONE
    body = (compact_string(txn_id) + compact_string(group) + i64(pid) + i16(epoch)
            + i32(generation) + compact_string(member) + compact_string(None) + topics + TAGS_NONE)
    corr = client.next_corr()
    client.sock.sendall(frame(request_header(28, version, corr, flexible=True) + body))
    r = Reader(recv_frame(client.sock))
    assert r.i32() == corr
    r.skip_tags()
    r.i32()                                              # throttle
    errors = []
    for _ in range(r.uvarint() - 1):
        r.take(16) if version >= 6 else r.compact_string()
        for _ in range(r.uvarint() - 1):
            r.i32()
            errors.append(r.i16())
            r.skip_tags()
        r.skip_tags()
    return errors


def test_txn_offset_commit_v6_answers_by_topic_id(broker, topic):
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, value=b"x", partition=0)
    assert producer.flush(30) == 0
    txn_id = f"raw-{topic}"
    with WireClient(broker.host, broker.port) as client:
        init = client.init_producer_id(4, transactional_id=txn_id)
        assert init.error_code == 0, init
        pid, epoch = init.producer_id, init.producer_epoch
        group = f"ghost-{topic}"
        assert add_offsets_to_txn(client, txn_id, pid, epoch, group) == 0
        # No topic has this id.
        assert txn_offset_commit(client, 6, txn_id, pid, epoch, group, -1, "",
                                 uuid.uuid4()) == [100]
        # A member of a group that does not exist: v6 says so, older
        # versions answer ILLEGAL_GENERATION (Kafka's legacy mapping).
        assert txn_offset_commit(client, 5, txn_id, pid, epoch, group, 3, "m-1", topic) == [22]
        topic_id = describe_topic_id(broker, topic)
        assert txn_offset_commit(client, 6, txn_id, pid, epoch, group, 3, "m-1",
                                 topic_id) == [69]
        # Outside group management (generation -1) the commit is taken.
        assert txn_offset_commit(client, 6, txn_id, pid, epoch, group, -1, "", topic_id) == [0]


def describe_topic_id(broker, topic: str) -> uuid.UUID:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    described = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10)
    bits = (described.topic_id.get_most_significant_bits() << 64) | (
        described.topic_id.get_least_significant_bits() & (2**64 - 1))
    return uuid.UUID(int=bits & (2**128 - 1))
