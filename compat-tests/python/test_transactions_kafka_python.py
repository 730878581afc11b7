"""Transactions with kafka-python's KafkaProducer / KafkaConsumer.

(a) commit / abort across topics and partitions with
    send_offsets_to_transaction; read_committed readers (kafka-python and
    librdkafka) see exactly the committed records; the group's offsets are the
    committed transaction's.
(b) An open transaction holds back read_committed consumers (end_offsets under
    read_committed is the LSO) until it ends.
(c) Fencing by a second instance, and a transaction timed out by the broker:
    the old producer's commit fails with a fencing error, its records stay
    invisible.
(d) Consume-transform-produce, closing and recreating consumer and producer in
    the middle of a transaction: exactly-once output for read_committed.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import InvalidProducerEpochError, KafkaError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from txn_harness import (
    NONE, READ_COMMITTED, Msg, TxnWire, create_topics, end_offsets_kafka_python,
    read_confluent, read_kafka_python, txn_broker_fixture, wait_for,
)

txn_module_broker, txn_broker = txn_broker_fixture("txn-kafka-python")

pytestmark = pytest.mark.timeout(60)

FENCING = (ProducerFencedError, InvalidProducerEpochError)


def txn_producer(bootstrap: str, txn_id: str, **conf) -> KafkaProducer:
    c = dict(bootstrap_servers=bootstrap, transactional_id=txn_id, linger_ms=5,
             request_timeout_ms=10000, max_block_ms=20000)
    c.update(conf)
    return KafkaProducer(**c)


def offsets(topic: str, items: dict[int, int]) -> dict:
    return {TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in items.items()}


def committed_offsets(bootstrap: str, group: str, tps: list[tuple[str, int]]) -> dict:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {(t, p): c.committed(TopicPartition(t, p)) for t, p in tps}
    finally:
        c.close()


# ---------------------------------------------------------------------------
# (a)
# ---------------------------------------------------------------------------

def test_commit_and_abort_with_offsets(txn_broker, make_topic, group_id):
    b = txn_broker
    t1, t2, src = make_topic("a"), make_topic("b"), make_topic("in")
    create_topics(b.bootstrap, {t1: 2, t2: 3, src: 2})
    tps = [(t1, 0), (t1, 1), (t2, 0), (t2, 1), (t2, 2)]
    p = txn_producer(b.bootstrap, f"kp-{t1}")
    try:
        p.init_transactions()

        def write(txn: str, count: int) -> list[tuple]:
            out = []
            for t, part in tps:
                for i in range(count):
                    key = f"{txn}-{part}-{i}".encode()
                    value = f"{txn}/{t[-4:]}/{part}/{i}".encode()
                    headers = [("txn", txn.encode()), ("n", b"%d" % i)]
                    p.send(t, key=key, value=value, headers=headers, partition=part)
                    out.append((t, part, key, value, tuple(headers)))
            p.flush(15)
            return out

        p.begin_transaction()
        first = write("one", 2)                          # offsets 0..1, marker 2
        p.send_offsets_to_transaction(offsets(src, {0: 3, 1: 4}), group_id)
        p.commit_transaction()
        p.begin_transaction()
        second = write("two", 3)                         # 3..5, abort marker 6
        p.send_offsets_to_transaction(offsets(src, {0: 30, 1: 40}), group_id)
        p.abort_transaction()
        p.begin_transaction()
        third = write("three", 1)                        # 7, marker 8
        p.send_offsets_to_transaction(offsets(src, {1: 5}), group_id)
        p.commit_transaction()
    finally:
        p.close(5)

    def at(records, offs):
        out = []
        for t, part in tps:
            mine = [r for r in records if (r[0], r[1]) == (t, part)]
            out += [Msg(t, part, o, k, v, h) for (_, _, k, v, h), o in zip(mine, offs, strict=True)]
        return out
    key = lambda m: (m.topic, m.partition, m.offset)  # noqa: E731
    want = sorted(at(first, [0, 1]) + at(third, [7]), key=key)
    everything = sorted(at(first, [0, 1]) + at(second, [3, 4, 5]) + at(third, [7]), key=key)

    assert read_kafka_python(b.bootstrap, tps, "read_committed") == want
    assert read_confluent(b.bootstrap, tps, "read_committed") == want
    assert read_kafka_python(b.bootstrap, tps, "read_uncommitted") == everything
    assert end_offsets_kafka_python(b.bootstrap, tps, "read_committed") == {tp: 9 for tp in tps}
    assert committed_offsets(b.bootstrap, group_id, [(src, 0), (src, 1)]) == \
        {(src, 0): 3, (src, 1): 5}


# ---------------------------------------------------------------------------
# (b)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_open_transaction_holds_back_read_committed(txn_broker, topic, outcome):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    a = txn_producer(b.bootstrap, f"kpA-{topic}")
    plain = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=0)
    try:
        a.init_transactions()
        a.begin_transaction()
        a.send(topic, value=b"A0", partition=0)
        a.send(topic, value=b"A1", partition=0)
        a.flush(10)
        metas = [plain.send(topic, value=v, partition=0).get(10) for v in (b"B0", b"B1")]
        assert [m.offset for m in metas] == [2, 3]

        assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == \
            {(topic, 0): 0}
        assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_uncommitted") == \
            {(topic, 0): 4}
        # a read_committed consumer polling at the LSO gets nothing
        c = KafkaConsumer(bootstrap_servers=b.bootstrap, isolation_level="read_committed",
                          group_id=None, auto_offset_reset="earliest", fetch_max_wait_ms=100)
        try:
            c.assign([TopicPartition(topic, 0)])
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                got = c.poll(timeout_ms=100)
                assert not got, f"visible before the transaction ended: {got}"
            assert c.position(TopicPartition(topic, 0)) == 0
            if outcome == "commit":
                a.commit_transaction()
                want = [(0, b"A0"), (1, b"A1"), (2, b"B0"), (3, b"B1")]
            else:
                a.abort_transaction()
                want = [(2, b"B0"), (3, b"B1")]
            # the same consumer now receives them
            got = []
            deadline = time.monotonic() + 15
            while len(got) < len(want) and time.monotonic() < deadline:
                for msgs in c.poll(timeout_ms=200).values():
                    got += [(m.offset, m.value) for m in msgs]
            assert got == want
        finally:
            c.close()
        assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == \
            {(topic, 0): 5}
    finally:
        a.close(5)
        plain.close(5)


# ---------------------------------------------------------------------------
# (c)
# ---------------------------------------------------------------------------

def test_second_instance_fences_the_first(txn_broker, topic):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    txn_id = f"kp-fence-{topic}"
    old = txn_producer(b.bootstrap, txn_id)
    new = txn_producer(b.bootstrap, txn_id)
    try:
        old.init_transactions()
        old.begin_transaction()
        old.send(topic, value=b"old-0", partition=0)
        old.send(topic, value=b"old-1", partition=0)
        old.flush(10)                                          # 0, 1
        new.init_transactions()                                # abort marker at 2
        new.begin_transaction()
        new.send(topic, value=b"new-0", partition=0)           # 3
        new.commit_transaction()                               # marker 4
        with pytest.raises(KafkaError) as info:
            old.send(topic, value=b"old-late", partition=0)
            old.commit_transaction()
        assert isinstance(info.value, FENCING), f"old producer's commit: {info.value!r}"
    finally:
        old.close(2)
        new.close(5)
    assert [(m.offset, m.value) for m in read_kafka_python(b.bootstrap, [(topic, 0)],
                                                          "read_committed")] == [(3, b"new-0")]
    assert [(m.offset, m.value) for m in read_kafka_python(b.bootstrap, [(topic, 0)],
                                                          "read_uncommitted")] == \
        [(0, b"old-0"), (1, b"old-1"), (3, b"new-0")]


def test_timed_out_transaction_is_aborted(txn_broker, topic):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    txn_id = f"kp-stall-{topic}"
    p = txn_producer(b.bootstrap, txn_id, transaction_timeout_ms=2000)
    plain = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=0)
    try:
        p.init_transactions()
        p.begin_transaction()
        p.send(topic, value=b"stalled", partition=0)
        p.flush(10)                                            # 0
        assert plain.send(topic, value=b"after", partition=0).get(10).offset == 1
        assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == \
            {(topic, 0): 0}
        # the broker aborts the transaction after 2 s: marker at 2
        wait_for(lambda: end_offsets_kafka_python(b.bootstrap, [(topic, 0)],
                                                  "read_committed") == {(topic, 0): 3},
                 15, "the timed-out transaction to be aborted", interval=0.3)
        assert [(m.offset, m.value) for m in read_kafka_python(
            b.bootstrap, [(topic, 0)], "read_committed")] == [(1, b"after")]
        with pytest.raises(KafkaError) as info:
            p.commit_transaction()
        assert isinstance(info.value, FENCING), f"commit after the timeout: {info.value!r}"
        with TxnWire(b.host, b.port) as c:
            d = c.describe_transactions([txn_id])[txn_id]
            assert (d.state, d.producer_epoch, d.timeout_ms) == ("CompleteAbort", 1, 2000), d
            assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 3)
    finally:
        p.close(2)
        plain.close(5)
    assert [(m.offset, m.value) for m in read_kafka_python(
        b.bootstrap, [(topic, 0)], "read_committed")] == [(1, b"after")]


# ---------------------------------------------------------------------------
# (d) consume-transform-produce with close/recreate mid-transaction
# ---------------------------------------------------------------------------

@pytest.mark.timeout(90)
def test_consume_transform_produce_exactly_once_across_restart(txn_broker, make_topic, group_id):
    b = txn_broker
    src, out = make_topic("in"), make_topic("out")
    create_topics(b.bootstrap, {src: 2, out: 2})
    per_partition = 40
    plain = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=5)
    for part in range(2):
        for i in range(per_partition):
            plain.send(src, key=b"k%d" % i, value=b"in-%d-%02d" % (part, i), partition=part)
    plain.flush(15)
    plain.close(5)
    expected = sorted(f"{part}:{i}:in-{part}-{i:02d}"
                      for part in range(2) for i in range(per_partition))
    txn_id = f"kp-ctp-{out}"

    def run(max_txns: int | None, leave_open: bool) -> int:
        """One incarnation: process batches in transactions; after max_txns
        commits (if given) write one more batch and close without ending the
        transaction. Returns records processed in committed transactions."""
        consumer = KafkaConsumer(src, bootstrap_servers=b.bootstrap, group_id=group_id,
                                 isolation_level="read_committed", enable_auto_commit=False,
                                 auto_offset_reset="earliest", max_poll_records=7,
                                 session_timeout_ms=6000, heartbeat_interval_ms=500)
        producer = txn_producer(b.bootstrap, txn_id)
        done_records = 0
        txns = 0
        try:
            producer.init_transactions()
            idle_deadline = time.monotonic() + 20
            while time.monotonic() < idle_deadline:
                batch = consumer.poll(timeout_ms=300)
                msgs = [m for ms in batch.values() for m in ms]
                if not msgs:
                    if max_txns is None and all(
                            consumer.committed(TopicPartition(src, p)) == per_partition
                            for p in range(2)):
                        return done_records
                    continue
                producer.begin_transaction()
                for m in msgs:
                    producer.send(out, key=m.key, partition=m.partition,
                                  value=b"%d:%d:%s" % (m.partition, m.offset, m.value))
                if max_txns is not None and txns >= max_txns and leave_open:
                    producer.flush(10)
                    return done_records                       # closed with the txn open
                positions = {}
                for m in msgs:
                    positions[TopicPartition(m.topic, m.partition)] = \
                        OffsetAndMetadata(m.offset + 1, "", -1)
                producer.send_offsets_to_transaction(positions, consumer.group_metadata())
                producer.commit_transaction()
                txns += 1
                done_records += len(msgs)
            raise AssertionError(f"worker did not finish: {txns} transactions, "
                                 f"{done_records} records")
        finally:
            consumer.close()
            producer.close(0)

    first = run(max_txns=3, leave_open=True)
    assert 0 < first < 2 * per_partition
    got = read_kafka_python(b.bootstrap, [(out, 0), (out, 1)], "read_committed")
    assert len(got) <= first
    run(max_txns=None, leave_open=False)

    for reader in (read_kafka_python, read_confluent):
        got = reader(b.bootstrap, [(out, 0), (out, 1)], "read_committed")
        values = sorted(m.value.decode() for m in got)
        assert values == expected, (
            f"{reader.__name__}: {len(values)} records, {len(set(values))} distinct; missing "
            f"{sorted(set(expected) - set(values))[:10]}")
    assert committed_offsets(b.bootstrap, group_id, [(src, 0), (src, 1)]) == \
        {(src, 0): per_partition, (src, 1): per_partition}
    uncommitted = read_kafka_python(b.bootstrap, [(out, 0), (out, 1)], "read_uncommitted")
    assert len(uncommitted) > len(expected), "the abandoned transaction's records are missing"
