"""Transactions with confluent-kafka (librdkafka).

(a) A transactional producer writes to several partitions of several topics
    and commits offsets with send_offsets_to_transaction; the next
    transaction aborts, a third commits (uncompressed, zstd and lz4 batches).
    read_committed consumers (librdkafka
    and kafka-python) see exactly the committed records (offsets, keys,
    values, headers) with gaps where the markers are; read_uncommitted sees
    every data record; the group's committed offsets are those of the
    committed transaction.
(b) Offsets sent to a transaction are pending until it ends: OffsetFetch
    without require_stable answers the previous offset, with require_stable
    UNSTABLE_OFFSET_COMMIT; after commit they are visible, after abort gone.
(c) An open transaction holds the last stable offset: records other
    producers append after it stay invisible to read_committed consumers
    (and ListOffsets latest under read_committed stays at the LSO) until it
    commits or aborts.
(d) Fencing: a second producer with the same transactional.id aborts the
    first one's open transaction; the first one's commit fails with a fatal
    fencing error.
(e) transaction.timeout.ms: a stalled transaction is aborted by the broker,
    read_committed consumers move past it, the stalled producer cannot
    commit it.
(g) A compacted topic written in transactions: the cleaner drops aborted
    records without letting them shadow committed values, leaves the open
    transaction alone, and read_committed never sees an aborted value.
(f) Consume-transform-produce in a worker process that is SIGKILLed in the
    middle of a transaction and restarted: the output holds every input
    record exactly once for read_committed readers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from txn_harness import (
    NONE, READ_COMMITTED, READ_UNCOMMITTED, UNSTABLE_OFFSET_COMMIT, Msg, TxnWire,
    confluent_eof_offset, confluent_txn_producer, create_topics, end_offsets_kafka_python,
    read_confluent, read_kafka_python, txn_broker_fixture, wait_for,
)

txn_module_broker, txn_broker = txn_broker_fixture("txn-confluent")

pytestmark = pytest.mark.timeout(60)

FENCING_CODES = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


def group_consumer(bootstrap: str, group: str) -> Consumer:
    """A consumer used only for its group metadata and committed()."""
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False})


def committed(bootstrap: str, group: str, tps: list[tuple[str, int]]) -> dict:
    c = group_consumer(bootstrap, group)
    try:
        res = c.committed([TopicPartition(t, p) for t, p in tps], timeout=10)
        return {(tp.topic, tp.partition): tp.offset for tp in res}
    finally:
        c.close()


def produce_plain(bootstrap: str, topic: str, partition: int, values: list[bytes]) -> list[int]:
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})
    offsets = []

    def dr(err, msg):
        assert err is None, err
        offsets.append(msg.offset())
    for v in values:
        p.produce(topic, value=v, key=v, partition=partition, on_delivery=dr)
    assert p.flush(15) == 0
    return offsets


# ---------------------------------------------------------------------------
# (a) commit / abort across topics and partitions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "zstd", "lz4"])
def test_commit_abort_commit_across_topics_and_partitions(txn_broker, make_topic, group_id,
                                                          compression):
    b = txn_broker
    t1, t2, src = make_topic("a"), make_topic("b"), make_topic("in")
    create_topics(b.bootstrap, {t1: 3, t2: 2, src: 2})
    tps = [(t1, 0), (t1, 1), (t1, 2), (t2, 0), (t2, 1)]
    p = confluent_txn_producer(b.bootstrap, f"tx-{t1}", **{"compression.type": compression})
    meta_consumer = group_consumer(b.bootstrap, group_id)
    expected_committed: list[Msg] = []
    all_data: list[Msg] = []
    try:
        p.init_transactions(15)

        def write(txn: str, count: int) -> list[Msg]:
            out = []
            for t, part in tps:
                for i in range(count):
                    key = f"{txn}-{t[-6:]}-{part}-{i}".encode()
                    value = f"value {txn} {i}".encode() * (1 + i)
                    headers = [("txn", txn.encode()), ("i", str(i).encode()), ("empty", b"")]
                    p.produce(t, key=key, value=value, headers=headers, partition=part)
                    out.append((t, part, key, value, tuple(headers)))
            assert p.flush(15) == 0
            return out

        # transaction 1: 3 records per partition (offsets 0..2), marker at 3
        p.begin_transaction()
        first = write("one", 3)
        p.send_offsets_to_transaction([TopicPartition(src, 0, 5), TopicPartition(src, 1, 7)],
                                      meta_consumer.consumer_group_metadata(), 15)
        p.commit_transaction(15)
        # transaction 2: 2 records per partition (4..5), abort marker at 6
        p.begin_transaction()
        second = write("two", 2)
        p.send_offsets_to_transaction([TopicPartition(src, 0, 50), TopicPartition(src, 1, 70)],
                                      meta_consumer.consumer_group_metadata(), 15)
        p.abort_transaction(15)
        # transaction 3: 1 record per partition (7), marker at 8
        p.begin_transaction()
        third = write("three", 1)
        p.commit_transaction(15)
    finally:
        meta_consumer.close()

    def at(records, offsets):
        out = []
        for (t, part) in tps:
            mine = [r for r in records if (r[0], r[1]) == (t, part)]
            assert len(mine) == len(offsets)
            out += [Msg(t, part, off, k, v, h) for (_, _, k, v, h), off in zip(mine, offsets)]
        return out

    expected_committed = at(first, [0, 1, 2]) + at(third, [7])
    all_data = at(first, [0, 1, 2]) + at(second, [4, 5]) + at(third, [7])
    key = lambda m: (m.topic, m.partition, m.offset)  # noqa: E731
    expected_committed.sort(key=key)
    all_data.sort(key=key)

    got = read_confluent(b.bootstrap, tps, "read_committed")
    assert got == expected_committed
    got = read_confluent(b.bootstrap, tps, "read_uncommitted")
    assert got == all_data
    got = read_kafka_python(b.bootstrap, tps, "read_committed")
    assert got == expected_committed
    assert end_offsets_kafka_python(b.bootstrap, tps, "read_committed") == {tp: 9 for tp in tps}
    assert committed(b.bootstrap, group_id, [(src, 0), (src, 1)]) == {(src, 0): 5, (src, 1): 7}
    with TxnWire(b.host, b.port) as c:
        for t, part in tps:
            batches, last = c.fetch_all(t, part, READ_UNCOMMITTED)
            markers = [(x["base_offset"], x["control_type"]) for x in batches if x["control"]]
            assert markers == [(3, 1), (6, 0), (8, 1)], f"{t}-{part}: markers {markers}"
            assert (last.high_watermark, last.last_stable_offset) == (9, 9)


# ---------------------------------------------------------------------------
# (b) offsets in a transaction
# ---------------------------------------------------------------------------

def test_send_offsets_visible_only_after_commit(txn_broker, make_topic, group_id):
    b = txn_broker
    out, src = make_topic("out"), make_topic("in")
    create_topics(b.bootstrap, {out: 1, src: 2})
    src_tps = [(src, 0), (src, 1)]
    p = confluent_txn_producer(b.bootstrap, f"tx-{out}")
    meta_consumer = group_consumer(b.bootstrap, group_id)
    wire = TxnWire(b.host, b.port)
    try:
        p.init_transactions(15)
        p.begin_transaction()
        p.produce(out, value=b"x", partition=0)
        p.send_offsets_to_transaction([TopicPartition(src, 0, 10), TopicPartition(src, 1, 11)],
                                      meta_consumer.consumer_group_metadata(), 15)
        assert p.flush(10) == 0
        # pending: not visible, and require_stable readers are told so
        err, res = wire.offset_fetch(group_id, {src: [0, 1]}, require_stable=False)
        assert (err, res) == (NONE, {(src, 0): (-1, NONE), (src, 1): (-1, NONE)})
        err, res = wire.offset_fetch(group_id, {src: [0, 1]}, require_stable=True)
        assert {k: v[1] for k, v in res.items()} == \
            {(src, 0): UNSTABLE_OFFSET_COMMIT, (src, 1): UNSTABLE_OFFSET_COMMIT}, res
        p.commit_transaction(15)
        assert committed(b.bootstrap, group_id, src_tps) == {(src, 0): 10, (src, 1): 11}
        err, res = wire.offset_fetch(group_id, {src: [0, 1]}, require_stable=True)
        assert (err, res) == (NONE, {(src, 0): (10, NONE), (src, 1): (11, NONE)})

        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 99)],
                                      meta_consumer.consumer_group_metadata(), 15)
        err, res = wire.offset_fetch(group_id, {src: [0]}, require_stable=False)
        assert res == {(src, 0): (10, NONE)}
        p.abort_transaction(15)
        assert committed(b.bootstrap, group_id, src_tps) == {(src, 0): 10, (src, 1): 11}
        err, res = wire.offset_fetch(group_id, {src: [0, 1]}, require_stable=True)
        assert (err, res) == (NONE, {(src, 0): (10, NONE), (src, 1): (11, NONE)})

        # an offsets-only transaction (no records) commits too
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 1, 12)],
                                      meta_consumer.consumer_group_metadata(), 15)
        p.commit_transaction(15)
        assert committed(b.bootstrap, group_id, src_tps) == {(src, 0): 10, (src, 1): 12}
    finally:
        wire.close()
        meta_consumer.close()
    assert [m.value for m in read_confluent(b.bootstrap, [(out, 0)], "read_committed")] == [b"x"]


# ---------------------------------------------------------------------------
# (c) last stable offset
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("other", ["plain", "transactional"])
@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_open_transaction_holds_back_read_committed(txn_broker, topic, outcome, other):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    a = confluent_txn_producer(b.bootstrap, f"A-{topic}")
    a.init_transactions(15)
    a.begin_transaction()
    for i in range(2):
        a.produce(topic, key=b"a%d" % i, value=b"A%d" % i, partition=0)
    assert a.flush(10) == 0                            # A's records at offsets 0, 1

    if other == "plain":
        assert produce_plain(b.bootstrap, topic, 0, [b"B0", b"B1", b"B2"]) == [2, 3, 4]
        b_end = 5
        b_offsets = [2, 3, 4]
    else:
        bp = confluent_txn_producer(b.bootstrap, f"B-{topic}")
        bp.init_transactions(15)
        bp.begin_transaction()
        for v in (b"B0", b"B1", b"B2"):
            bp.produce(topic, key=v, value=v, partition=0)
        bp.commit_transaction(15)                      # B's records 2..4, marker at 5
        b_end = 6
        b_offsets = [2, 3, 4]

    # read_committed consumers stop at the LSO (0): nothing of B's is visible
    assert confluent_eof_offset(b.bootstrap, topic, 0, "read_committed") == (0, [])
    assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == {(topic, 0): 0}
    assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_uncommitted") == \
        {(topic, 0): b_end}
    with TxnWire(b.host, b.port) as c:
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 0)
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert (f.high_watermark, f.last_stable_offset, f.records) == (b_end, 0, b""), f
    got = read_confluent(b.bootstrap, [(topic, 0)], "read_uncommitted")
    assert [(m.offset, m.value) for m in got] == \
        [(0, b"A0"), (1, b"A1")] + list(zip(b_offsets, [b"B0", b"B1", b"B2"]))

    if outcome == "commit":
        a.commit_transaction(15)
        want = [(0, b"A0"), (1, b"A1")] + list(zip(b_offsets, [b"B0", b"B1", b"B2"]))
    else:
        a.abort_transaction(15)
        want = list(zip(b_offsets, [b"B0", b"B1", b"B2"]))
    end = b_end + 1                                     # A's marker
    got = read_confluent(b.bootstrap, [(topic, 0)], "read_committed")
    assert [(m.offset, m.value) for m in got] == want
    got = read_kafka_python(b.bootstrap, [(topic, 0)], "read_committed")
    assert [(m.offset, m.value) for m in got] == want
    assert confluent_eof_offset(b.bootstrap, topic, 0, "read_committed")[0] == end
    assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == \
        {(topic, 0): end}


def test_consumer_waiting_at_lso_gets_records_when_transaction_commits(txn_broker, topic):
    """A read_committed consumer already polling at the LSO receives the
    records once the transaction commits (no restart of the consumer)."""
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    p = confluent_txn_producer(b.bootstrap, f"wait-{topic}")
    p.init_transactions(15)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=b"w%d" % i, partition=0)
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "lso-wait",
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            m = c.poll(0.1)
            assert m is None, f"record visible before commit: {m.offset() if m else None}"
        p.commit_transaction(15)
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None:
                assert not m.error(), m.error()
                got.append((m.offset(), m.value()))
        assert got == [(i, b"w%d" % i) for i in range(5)]
    finally:
        c.close()


# ---------------------------------------------------------------------------
# (d) fencing
# ---------------------------------------------------------------------------

def test_new_instance_fences_old_and_aborts_its_transaction(txn_broker, topic):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 2})
    txn_id = f"fence-{topic}"
    old = confluent_txn_producer(b.bootstrap, txn_id)
    old.init_transactions(15)
    old.begin_transaction()
    for part in (0, 1):
        for i in range(2):
            old.produce(topic, value=b"old-%d-%d" % (part, i), partition=part)
    assert old.flush(10) == 0                                   # offsets 0, 1

    new = confluent_txn_producer(b.bootstrap, txn_id)
    new.init_transactions(15)                                   # aborts old's txn: marker at 2
    with TxnWire(b.host, b.port) as c:
        d = c.describe_transactions([txn_id])[txn_id]
        assert d.state == "Empty" and d.producer_epoch >= 1, d
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 3)
    new.begin_transaction()
    new.produce(topic, value=b"new-0", partition=0)             # offset 3, marker 4
    new.commit_transaction(15)

    # the old instance's next write is refused by the partition ...
    # (librdkafka raises the fatal error from flush())
    with pytest.raises(KafkaException) as late:
        old.produce(topic, value=b"old-late", partition=0)
        old.flush(10)
    assert late.value.args[0].code() in FENCING_CODES, f"late produce: {late.value!r}"
    assert late.value.args[0].fatal()
    # ... and its commit fails with a fatal fencing error
    with pytest.raises(KafkaException) as info:
        old.commit_transaction(15)
    err = info.value.args[0]
    assert err.code() in FENCING_CODES, f"old producer's commit: {err!r}"
    assert err.fatal(), f"fencing must be fatal: {err!r}"
    # a fatal producer refuses everything afterwards
    with pytest.raises(KafkaException) as info2:
        old.begin_transaction()
    assert info2.value.args[0].fatal()

    got = read_confluent(b.bootstrap, [(topic, 0), (topic, 1)], "read_committed")
    assert [(m.partition, m.offset, m.value) for m in got] == [(0, 3, b"new-0")]
    got = read_confluent(b.bootstrap, [(topic, 0), (topic, 1)], "read_uncommitted")
    assert [(m.partition, m.offset, m.value) for m in got] == [
        (0, 0, b"old-0-0"), (0, 1, b"old-0-1"), (0, 3, b"new-0"),
        (1, 0, b"old-1-0"), (1, 1, b"old-1-1")]


# ---------------------------------------------------------------------------
# (e) transaction timeout
# ---------------------------------------------------------------------------

def test_timed_out_transaction_is_aborted(txn_broker, topic):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    txn_id = f"stall-{topic}"
    p = confluent_txn_producer(b.bootstrap, txn_id, **{"transaction.timeout.ms": 2000,
                                                       "message.timeout.ms": 2000})
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(topic, value=b"stalled-0", partition=0)
    p.produce(topic, value=b"stalled-1", partition=0)
    assert p.flush(10) == 0                                     # offsets 0, 1
    started = time.monotonic()
    assert produce_plain(b.bootstrap, topic, 0, [b"after-0", b"after-1"]) == [2, 3]
    assert confluent_eof_offset(b.bootstrap, topic, 0, "read_committed") == (0, [])

    with TxnWire(b.host, b.port) as c:
        def lso():
            err, off = c.list_offset_isolated(topic, 0, READ_COMMITTED)
            return off if off > 0 else None
        assert wait_for(lso, 15, "the broker to abort the timed-out transaction") == 5
        aborted_after = time.monotonic() - started
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_epoch) == ("CompleteAbort", 1), d
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert (f.last_stable_offset, f.aborted_transactions) == \
            (5, [(d.producer_id, 0)]), f
    assert aborted_after > 1.5, f"aborted after {aborted_after:.2f}s, timeout is 2s"
    got = read_confluent(b.bootstrap, [(topic, 0)], "read_committed")
    assert [(m.offset, m.value) for m in got] == [(2, b"after-0"), (3, b"after-1")]

    with pytest.raises(KafkaException) as info:
        p.commit_transaction(15)
    err = info.value.args[0]
    assert err.code() in FENCING_CODES, f"commit of a timed-out transaction: {err!r}"
    got = read_confluent(b.bootstrap, [(topic, 0)], "read_committed")
    assert [(m.offset, m.value) for m in got] == [(2, b"after-0"), (3, b"after-1")]


# ---------------------------------------------------------------------------
# (f) consume-transform-produce, worker killed mid-transaction
# ---------------------------------------------------------------------------

HARNESS = str(Path(__file__).resolve().parent / "txn_harness.py")


class Worker:
    def __init__(self, bootstrap, src, out, group, txn_id, batch, stall_after):
        self.proc = subprocess.Popen(
            [sys.executable, HARNESS, "ctp-worker", bootstrap, src, out, group, txn_id,
             str(batch), str(stall_after)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True, cwd=str(Path(HARNESS).parent))
        self.events: list[dict] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                pass

    def wait_event(self, name: str, timeout: float) -> dict:
        def find():
            if self.proc.poll() is not None and not any(e["event"] == name for e in self.events):
                raise AssertionError(f"worker exited ({self.proc.returncode}) before {name}: "
                                     f"{self.events}")
            return next((e for e in self.events if e["event"] == name), None)
        return wait_for(find, timeout, f"worker event {name}")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.mark.timeout(90)
def test_consume_transform_produce_exactly_once_across_worker_kill(txn_broker, make_topic,
                                                                  group_id):
    b = txn_broker
    src, out = make_topic("in"), make_topic("out")
    create_topics(b.bootstrap, {src: 3, out: 3})
    per_partition = 60
    for part in range(3):
        produce_plain(b.bootstrap, src, part,
                      [b"in-%d-%03d" % (part, i) for i in range(per_partition)])
    expected = sorted(f"{part}:{i}:in-{part}-{i:03d}"
                      for part in range(3) for i in range(per_partition))
    out_tps = [(out, p) for p in range(3)]
    txn_id = f"ctp-{out}"

    w1 = Worker(b.bootstrap, src, out, group_id, txn_id, batch=10, stall_after=4)
    try:
        stalled = w1.wait_event("stalled", 40)
    finally:
        w1.kill()
    done = [e for e in w1.events if e["event"] == "committed"]
    assert len(done) == 4
    committed_records = sum(e["records"] for e in done)
    # the stalled transaction blocks read_committed readers of its partitions
    got = read_confluent(b.bootstrap, out_tps, "read_committed")
    assert len(got) <= committed_records
    values = [m.value.decode() for m in got]
    assert len(values) == len(set(values)), "duplicates in the output"

    w2 = Worker(b.bootstrap, src, out, group_id, txn_id, batch=25, stall_after=0)
    try:
        w2.wait_event("ready", 30)
        with TxnWire(b.host, b.port) as c:
            def caught_up():
                _, res = c.offset_fetch(group_id, {src: [0, 1, 2]}, require_stable=False)
                return all(res[(src, p)][0] == per_partition for p in range(3))
            wait_for(caught_up, 40, "the restarted worker to commit every input offset",
                     interval=0.3)
    finally:
        w2.kill()

    got = read_confluent(b.bootstrap, out_tps, "read_committed")
    values = sorted(m.value.decode() for m in got)
    assert values == expected, (
        f"read_committed output: {len(values)} records, {len(set(values))} distinct, "
        f"missing {sorted(set(expected) - set(values))[:10]}, "
        f"extra {sorted(set(values) - set(expected))[:10]}")
    got = read_kafka_python(b.bootstrap, out_tps, "read_committed")
    assert sorted(m.value.decode() for m in got) == expected
    everything = read_confluent(b.bootstrap, out_tps, "read_uncommitted")
    assert len(everything) == len(expected) + stalled["records"], \
        "read_uncommitted should also hold the killed worker's aborted records"


# ---------------------------------------------------------------------------
# (g) compaction
# ---------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_compacted_topic_with_transactions(broker_factory, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    from txn_harness import txn_factory_broker
    b = txn_factory_broker(broker_factory, "txn-compact", **{
        "log.cleaner.backoff.ms": 300, "log.retention.check.interval.ms": 300})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(
        topic, 1, 1, config={"cleanup.policy": "compact", "segment.ms": "300",
                             "min.cleanable.dirty.ratio": "0.01",
                             "delete.retention.ms": "86400000"})])[topic].result(15)
    p = confluent_txn_producer(b.bootstrap, f"compact-{topic}")
    p.init_transactions(15)

    def txn(values: dict, end: str | None):
        p.begin_transaction()
        for k, v in values.items():
            p.produce(topic, key=k.encode(), value=v.encode(), partition=0)
        assert p.flush(10) == 0
        if end == "commit":
            p.commit_transaction(15)
        elif end == "abort":
            p.abort_transaction(15)

    keys = ["k0", "k1", "k2", "k3"]
    txn({k: "c1" for k in keys}, "commit")              # 0..3, marker 4
    txn({k: "ABORTED" for k in keys}, "abort")          # 5..8, marker 9
    txn({"k0": "c3", "k1": "c3"}, "commit")             # 10, 11, marker 12
    time.sleep(0.5)                                     # older than segment.ms: next append rolls
    plain = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    plain.produce(topic, key=b"filler", value=b"f", partition=0)      # 13
    assert plain.flush(10) == 0
    txn({"k2": "OPEN"}, None)                           # 14, left open

    def read(isolation):
        return [(m.offset, m.key.decode(), m.value.decode())
                for m in read_confluent(b.bootstrap, [(topic, 0)], isolation)]

    compacted_committed = [(2, "k2", "c1"), (3, "k3", "c1"), (10, "k0", "c3"), (11, "k1", "c3"),
                           (13, "filler", "f")]
    wait_for(lambda: read("read_uncommitted") == compacted_committed + [(14, "k2", "OPEN")],
             30, "the cleaner to compact the transactional records", interval=0.5)
    assert read("read_committed") == compacted_committed
    assert [(m.offset, m.value) for m in read_kafka_python(
        b.bootstrap, [(topic, 0)], "read_committed")] == \
        [(o, v.encode()) for o, _, v in compacted_committed]
    with TxnWire(b.host, b.port) as c:
        batches, _ = c.fetch_all(topic, 0, READ_UNCOMMITTED)
        markers = [(x["base_offset"], x["control_type"]) for x in batches if x["control"]]
        assert markers == [(4, 1), (9, 0), (12, 1)], f"markers after compaction: {markers}"
    p.commit_transaction(15)                            # marker 15
    # k2@2 is now shadowed by k2@14 and may be cleaned at any time
    want = [(3, "k3", "c1"), (10, "k0", "c3"), (11, "k1", "c3"), (13, "filler", "f"),
            (14, "k2", "OPEN")]
    got = read("read_committed")
    assert got in (want, [(2, "k2", "c1")] + want), got
    b.kill()
    b.start()
    got = read("read_committed")
    assert got in (want, [(2, "k2", "c1")] + want), got
