"""Transactions across broker restarts, crashes and lost responses.

(a) An open transaction (records in two partitions, offsets sent) across a
    clean restart and across kill -9: afterwards it still holds the last
    stable offset and its offsets stay pending; a new instance of the
    producer aborts it; committed transactions before it stay committed; the
    aborted-transaction index survives a further restart.
(b) An open transaction whose producer never comes back is aborted by the
    transaction timeout after a kill -9 restart.
(c) Many committed and aborted transactions, then kill -9 (and tiny
    segments): every committed record visible exactly once, no aborted one,
    offsets of committed transactions kept.
(d) Responses of the transactional APIs lost on the way (the fault plane's
    disconnect): the clients retry and each transaction is applied once.
(e) The mixed-run checker: three transactional producers run 200
    transactions with random aborts over four partitions while the broker is
    kill -9ed and restarted three times; afterwards no aborted record is
    visible, no acknowledged commit lost, no record duplicated, and every
    transaction whose outcome the kill made unknown is all or nothing.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from conftest import FaultPlane, free_port
from txn_harness import (
    NONE, READ_COMMITTED, READ_UNCOMMITTED, UNSTABLE_OFFSET_COMMIT, TxnWire,
    confluent_txn_producer, create_topics, end_offsets_kafka_python, read_confluent,
    read_kafka_python, txn_factory_broker, wait_for,
)

pytestmark = pytest.mark.timeout(90)


def group_consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False})


def init_with_retry(p, timeout: float = 30.0) -> None:
    """init_transactions until it succeeds (the coordinator may still be
    loading, or finishing the previous instance's transaction)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            p.init_transactions(10)
            return
        except KafkaException as e:
            if e.args[0].fatal() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def values_of(msgs) -> list[tuple[int, int, bytes]]:
    return [(m.partition, m.offset, m.value) for m in msgs]


# ---------------------------------------------------------------------------
# (a) open transaction across restart
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_open_transaction_across_restart(broker_factory, topic, group_id, how):
    b = txn_factory_broker(broker_factory, "txn-restart")
    src = topic + "-in"
    create_topics(b.bootstrap, {topic: 2, src: 1})
    txn_id = f"restart-{topic}"
    tps = [(topic, 0), (topic, 1)]
    p = confluent_txn_producer(b.bootstrap, txn_id)
    meta = group_consumer(b.bootstrap, group_id)
    p.init_transactions(15)
    p.begin_transaction()
    for part in (0, 1):
        for i in range(3):
            p.produce(topic, value=b"c-%d-%d" % (part, i), partition=part)   # 0..2, marker 3
    p.send_offsets_to_transaction([TopicPartition(src, 0, 3)], meta.consumer_group_metadata(), 15)
    p.commit_transaction(15)
    p.begin_transaction()
    for part in (0, 1):
        for i in range(2):
            p.produce(topic, value=b"o-%d-%d" % (part, i), partition=part)   # 4, 5
    p.send_offsets_to_transaction([TopicPartition(src, 0, 5)], meta.consumer_group_metadata(), 15)
    assert p.flush(10) == 0
    meta.close()
    with TxnWire(b.host, b.port) as c:
        pid = c.describe_transactions([txn_id])[txn_id].producer_id

    if how == "sigterm":
        assert b.stop() == 0
    else:
        b.kill()
    del p                                  # the old instance is gone with the broker
    b.start()

    committed_values = [(part, i, b"c-%d-%d" % (part, i)) for part in (0, 1) for i in range(3)]
    with TxnWire(b.host, b.port) as c:
        # the open transaction still holds the LSO, and its offsets are pending
        for part in (0, 1):
            assert c.list_offset_isolated(topic, part, READ_UNCOMMITTED) == (NONE, 6)
            assert c.list_offset_isolated(topic, part, READ_COMMITTED) == (NONE, 4), \
                f"LSO of {topic}-{part} after {how}: the open transaction starts at 4"
            err, prods = c.describe_producers(topic, [part])[part]
            assert [(x.producer_id, x.current_txn_start_offset) for x in prods] == [(pid, 4)], \
                f"{topic}-{part} after {how}: {prods}"
        d = wait_for(lambda: c.describe_transactions([txn_id])[txn_id], 15,
                     "DescribeTransactions after restart")
        assert (d.error_code, d.state, d.producer_id, d.producer_epoch) == \
            (NONE, "Ongoing", pid, 0), d
        assert d.partitions.get(topic) == [0, 1], d
        err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=False)
        assert res == {(src, 0): (3, NONE)}, f"committed offset after {how}: {res}"
        err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=True)
        assert res[(src, 0)][1] == UNSTABLE_OFFSET_COMMIT, res
    assert values_of(read_confluent(b.bootstrap, tps, "read_committed")) == committed_values

    # a new instance aborts the open transaction
    p2 = confluent_txn_producer(b.bootstrap, txn_id)
    init_with_retry(p2)
    with TxnWire(b.host, b.port) as c:
        for part in (0, 1):
            assert c.list_offset_isolated(topic, part, READ_COMMITTED) == (NONE, 7)
        err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=True)
        assert res == {(src, 0): (3, NONE)}, res
    p2.begin_transaction()
    p2.produce(topic, value=b"n-0", partition=0)                         # 7, marker 8
    p2.commit_transaction(15)
    want = committed_values[:3] + [(0, 7, b"n-0")] + committed_values[3:]
    assert values_of(read_confluent(b.bootstrap, tps, "read_committed")) == want

    # and all of it survives one more crash (the abort is in the txn index)
    b.kill()
    b.start()
    assert values_of(read_confluent(b.bootstrap, tps, "read_committed")) == want
    assert values_of(read_kafka_python(b.bootstrap, tps, "read_committed")) == want
    with TxnWire(b.host, b.port) as c:
        f = c.fetch(topic, 1, 4, READ_COMMITTED)
        assert (f.last_stable_offset, f.aborted_transactions) == (7, [(pid, 4)]), f
        err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=True)
        assert res == {(src, 0): (3, NONE)}, res


# ---------------------------------------------------------------------------
# (b) timeout after a crash
# ---------------------------------------------------------------------------

def test_open_transaction_times_out_after_kill(broker_factory, topic):
    b = txn_factory_broker(broker_factory, "txn-timeout-kill")
    create_topics(b.bootstrap, {topic: 1})
    txn_id = f"tk-{topic}"
    p = confluent_txn_producer(b.bootstrap, txn_id, **{"transaction.timeout.ms": 3000,
                                                       "message.timeout.ms": 3000})
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(topic, value=b"doomed-0", partition=0)
    p.produce(topic, value=b"doomed-1", partition=0)
    assert p.flush(10) == 0                                           # 0, 1
    b.kill()
    b.start()
    started = time.monotonic()
    with TxnWire(b.host, b.port) as c:
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 0)

        def lso():
            return c.list_offset_isolated(topic, 0, READ_COMMITTED)[1] or None
        assert wait_for(lso, 20, "the timed-out transaction to be aborted after restart") == 3
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_epoch) == ("CompleteAbort", 1), d
    assert time.monotonic() - started < 15
    assert read_confluent(b.bootstrap, [(topic, 0)], "read_committed") == []
    with pytest.raises(KafkaException) as info:
        p.commit_transaction(15)
    assert info.value.args[0].code() in {-144, 90, 47}, repr(info.value.args[0])


# ---------------------------------------------------------------------------
# (c) committed and aborted transactions across kill -9
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("segment_bytes", [None, 2048], ids=["default-segments", "2k-segments"])
def test_transactions_survive_kill(broker_factory, topic, group_id, segment_bytes):
    extra = {} if segment_bytes is None else {"log.segment.bytes": segment_bytes}
    b = txn_factory_broker(broker_factory, "txn-kill", **extra)
    src = topic + "-in"
    create_topics(b.bootstrap, {topic: 3, src: 1})
    tps = [(topic, p) for p in range(3)]
    p = confluent_txn_producer(b.bootstrap, f"k-{topic}")
    meta = group_consumer(b.bootstrap, group_id)
    p.init_transactions(15)
    rng = random.Random(7)
    committed_values, aborted_values = [], []
    last_committed_offset = None
    for n in range(30):
        p.begin_transaction()
        vals = []
        for i in range(rng.randint(1, 6)):
            v = b"t%02d-r%d-" % (n, i) + b"x" * rng.randint(0, 300)
            part = rng.randrange(3)
            p.produce(topic, value=v, partition=part)
            vals.append((part, v))
        p.send_offsets_to_transaction([TopicPartition(src, 0, n + 1)],
                                      meta.consumer_group_metadata(), 15)
        if n % 3 == 1:
            assert p.flush(10) == 0
            p.abort_transaction(15)
            aborted_values += vals
        else:
            p.commit_transaction(15)
            committed_values += vals
            last_committed_offset = n + 1
    meta.close()

    def check(when: str):
        for reader in (read_confluent, read_kafka_python):
            got = reader(b.bootstrap, tps, "read_committed")
            seen = sorted((m.partition, m.value) for m in got)
            assert seen == sorted(committed_values), \
                f"{when}, {reader.__name__}: {len(seen)} records visible, " \
                f"{len(committed_values)} committed; aborted visible: " \
                f"{len(set(seen) & set(aborted_values))}"
        got = read_confluent(b.bootstrap, tps, "read_uncommitted")
        assert sorted((m.partition, m.value) for m in got) == \
            sorted(committed_values + aborted_values), when
        with TxnWire(b.host, b.port) as c:
            err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=True)
            assert res == {(src, 0): (last_committed_offset, NONE)}, f"{when}: {res}"
            for t, part in tps:
                assert c.list_offset_isolated(t, part, READ_COMMITTED) == \
                    c.list_offset_isolated(t, part, READ_UNCOMMITTED), f"{when}: LSO < HW"

    check("before the crash")
    b.kill()
    b.start()
    check("after kill -9")
    assert b.stop() == 0
    b.start()
    check("after a clean restart")
    # the producer's next instance carries on at a higher epoch
    p2 = confluent_txn_producer(b.bootstrap, f"k-{topic}")
    init_with_retry(p2)
    p2.begin_transaction()
    p2.produce(topic, value=b"after", partition=0)
    p2.commit_transaction(15)
    committed_values.append((0, b"after"))
    check("after a new transaction")


# ---------------------------------------------------------------------------
# (d) lost responses
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("api", ["InitProducerId", "AddPartitionsToTxn", "AddOffsetsToTxn",
                                 "TxnOffsetCommit", "EndTxn"])
def test_lost_transactional_responses_confluent(broker_factory, topic, group_id, api):
    port = free_port()
    b = txn_factory_broker(broker_factory, "txn-faults", **{"admin.listener": f"127.0.0.1:{port}", "admin.fault.plane.enable": "true"})
    admin = FaultPlane(port)
    src = topic + "-in"
    create_topics(b.bootstrap, {topic: 2, src: 1})
    p = confluent_txn_producer(b.bootstrap, f"lost-{topic}")
    meta = group_consumer(b.bootstrap, group_id)
    try:
        admin.arm(api=api, action="disconnect", count=1)
        init_with_retry(p)
        for n in range(2):
            p.begin_transaction()
            for part in (0, 1):
                p.produce(topic, value=b"v%d-%d" % (n, part), partition=part)
            p.send_offsets_to_transaction([TopicPartition(src, 0, n + 10)],
                                          meta.consumer_group_metadata(), 15)
            p.commit_transaction(20)
            if n == 0:
                admin.arm(api=api, action="disconnect", count=1)
    finally:
        meta.close()
    got = read_confluent(b.bootstrap, [(topic, 0), (topic, 1)], "read_committed")
    assert sorted((m.partition, m.value) for m in got) == \
        [(0, b"v0-0"), (0, b"v1-0"), (1, b"v0-1"), (1, b"v1-1")]
    with TxnWire(b.host, b.port) as c:
        err, res = c.offset_fetch(group_id, {src: [0]}, require_stable=True)
        assert res == {(src, 0): (11, NONE)}, res
    cut = [e for e in admin.journal() if e["fault"] == "disconnect" and e["api"] == api]
    assert len(cut) == (1 if api == "InitProducerId" else 2), \
        f"{api} responses cut: {len(cut)}"


def test_lost_end_txn_response_kafka_python(broker_factory, topic):
    from kafka import KafkaProducer
    port = free_port()
    b = txn_factory_broker(broker_factory, "txn-faults-kp",
                           **{"admin.listener": f"127.0.0.1:{port}", "admin.fault.plane.enable": "true"})
    admin = FaultPlane(port)
    create_topics(b.bootstrap, {topic: 1})
    p = KafkaProducer(bootstrap_servers=b.bootstrap, transactional_id=f"kp-lost-{topic}",
                      request_timeout_ms=10000, max_block_ms=20000)
    try:
        p.init_transactions()
        for n in range(3):
            admin.arm(api="EndTxn" if n != 1 else "AddPartitionsToTxn", action="disconnect",
                      count=1)
            p.begin_transaction()
            p.send(topic, value=b"kp-%d" % n, partition=0)
            p.commit_transaction()
    finally:
        p.close(5)
    got = read_kafka_python(b.bootstrap, [(topic, 0)], "read_committed")
    assert [m.value for m in got] == [b"kp-0", b"kp-1", b"kp-2"]
    assert end_offsets_kafka_python(b.bootstrap, [(topic, 0)], "read_committed") == {(topic, 0): 6}


# ---------------------------------------------------------------------------
# (e) the mixed-run checker
# ---------------------------------------------------------------------------

class TxnRunner(threading.Thread):
    """Runs transactions until ``quota`` are decided; records for each its
    records and outcome: "committed" (commit_transaction returned),
    "aborted" (the producer chose to abort: must never be visible),
    "abandoned" (after a broker kill the producer instance is dropped in the
    middle of the transaction, as if the client had crashed too, and a new
    instance takes over: never visible) or "unknown" (commit_transaction
    raised: all or nothing)."""

    def __init__(self, bootstrap, topic, partitions, name, quota, seed, counter, crashes):
        super().__init__(daemon=True, name=name)
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.txn_id = name
        self.quota = quota
        self.rng = random.Random(seed)
        self.counter = counter
        self.crashes = crashes              # appended to at each broker kill
        self.crashes_seen = 0
        self.txns: list[tuple[str, list[tuple[int, bytes]]]] = []
        self.errors: list[str] = []
        self.reinits = 0
        self.failure: BaseException | None = None

    def new_producer(self):
        p = confluent_txn_producer(self.bootstrap, self.txn_id, **{
            "transaction.timeout.ms": 10000, "message.timeout.ms": 10000,
            "socket.timeout.ms": 3000})
        init_with_retry(p, 40)
        return p

    def run(self):
        try:
            self._run()
        except BaseException as e:              # noqa: BLE001 - reported by the test
            self.failure = e

    def _run(self):
        p = self.new_producer()
        n = 0
        while len(self.txns) < self.quota:
            vals = [(self.rng.randrange(self.partitions), b"%s-t%03d-r%d" % (
                self.txn_id.encode(), n, i)) for i in range(self.rng.randint(1, 5))]
            abort = self.rng.random() < 0.3
            outcome = "aborted"
            try:
                p.begin_transaction()
                for part, v in vals:
                    p.produce(self.topic, value=v, partition=part)
                if len(self.crashes) > self.crashes_seen:
                    self.crashes_seen = len(self.crashes)
                    self.txns.append(("abandoned", vals))
                    n += 1
                    p = None
                    self.reinits += 1
                    p = self.new_producer()
                    continue
                if abort:
                    p.flush(10)
                    p.abort_transaction(10)
                else:
                    outcome = "unknown"
                    p.commit_transaction(10)
                    outcome = "committed"
            except KafkaException as e:
                self.errors.append(f"t{n} {outcome}: {e.args[0]!r}")
                self.txns.append((outcome, vals))
                n += 1
                p = None
                self.reinits += 1
                p = self.new_producer()
                continue
            self.txns.append((outcome, vals))
            self.counter.append(1)
            n += 1


@pytest.mark.timeout(120)
def test_mixed_run_with_kill(broker_factory, topic):
    b = txn_factory_broker(broker_factory, "txn-mixed", **{"log.segment.bytes": 65536})
    partitions = 4
    create_topics(b.bootstrap, {topic: partitions})
    counter: list[int] = []
    crashes: list[int] = []
    runners = [TxnRunner(b.bootstrap, topic, partitions, f"mixed-{i}-{topic[-10:]}", 67, seed=i,
                         counter=counter, crashes=crashes) for i in range(3)]
    for r in runners:
        r.start()
    killed_at = []
    for at in (50, 100, 150):
        wait_for(lambda: len(counter) >= at or not any(r.is_alive() for r in runners), 40,
                 f"{at} transactions before a kill", interval=0.02)
        b.kill()
        crashes.append(1)
        killed_at.append(len(counter))
        time.sleep(0.3)
        b.start()
    for r in runners:
        r.join(90)
        assert not r.is_alive(), f"{r.name} did not finish ({len(r.txns)} transactions)"
        assert r.failure is None, f"{r.name} failed: {r.failure!r}\nerrors: {r.errors}"

    tps = [(topic, p) for p in range(partitions)]
    outcomes = {"committed": 0, "aborted": 0, "abandoned": 0, "unknown": 0}
    for r in runners:
        for outcome, _ in r.txns:
            outcomes[outcome] += 1
    assert sum(outcomes.values()) == 201 and outcomes["committed"] > 100, outcomes

    visible_by = {}
    for reader in (read_confluent, read_kafka_python):
        got = reader(b.bootstrap, tps, "read_committed", timeout=30)
        visible_by[reader.__name__] = [(m.partition, m.value) for m in got]
    visible = visible_by["read_confluent"]
    assert sorted(visible_by["read_kafka_python"]) == sorted(visible), \
        "librdkafka and kafka-python disagree on what is committed"
    dupes = {v for v in visible if visible.count(v) > 1}
    assert not dupes, f"duplicates visible to read_committed: {sorted(dupes)[:10]}"
    visible_set = set(visible)
    everything = set()
    problems = []
    for r in runners:
        for n, (outcome, vals) in enumerate(r.txns):
            everything |= set(vals)
            shown = [v for v in vals if v in visible_set]
            if outcome == "committed" and len(shown) != len(vals):
                problems.append(f"{r.txn_id} t{n} committed but {len(vals) - len(shown)} "
                                f"of {len(vals)} records missing")
            elif outcome in ("aborted", "abandoned") and shown:
                problems.append(f"{r.txn_id} t{n} {outcome} but {len(shown)} records visible")
            elif outcome == "unknown" and 0 < len(shown) < len(vals):
                problems.append(f"{r.txn_id} t{n} outcome unknown and partially visible "
                                f"({len(shown)} of {len(vals)})")
    stray = visible_set - everything
    assert not stray, f"visible records no producer wrote: {sorted(stray)[:5]}"
    assert not problems, "\n".join(problems + [f"errors: {r.errors}" for r in runners])
    # every partition's transactions are complete: LSO == HW
    with TxnWire(b.host, b.port) as c:
        for t, part in tps:
            assert c.list_offset_isolated(t, part, READ_COMMITTED) == \
                c.list_offset_isolated(t, part, READ_UNCOMMITTED)
    print(f"mixed run: {outcomes}, kills after {killed_at} decided transactions, "
          f"reinits {[r.reinits for r in runners]}")


# ---------------------------------------------------------------------------
# (f) __transaction_state in many small segments
# ---------------------------------------------------------------------------

def test_transaction_state_reloaded_from_small_segments(broker_factory, topic):
    b = txn_factory_broker(broker_factory, "txn-state-segments",
                           **{"transaction.state.log.segment.bytes": 1024})
    create_topics(b.bootstrap, {topic: 2})
    ids = [f"seg-{i}-{topic[-8:]}" for i in range(4)]
    producers = {i: confluent_txn_producer(b.bootstrap, i) for i in ids}
    for p in producers.values():
        p.init_transactions(15)
    for n in range(10):
        for i, p in producers.items():
            p.begin_transaction()
            p.produce(topic, value=b"%s-%d" % (i.encode(), n), partition=n % 2)
            if n == 9 and i == ids[0]:
                assert p.flush(10) == 0                  # left open
            elif n % 4 == 3:
                p.abort_transaction(15)
            else:
                p.commit_transaction(15)
    state_dirs = sorted(b.data_dir.glob("__transaction_state-*"))
    assert max(len(list(d.glob("*.log"))) for d in state_dirs) >= 3, \
        "__transaction_state should have rolled several segments"
    with TxnWire(b.host, b.port) as c:
        before = c.describe_transactions(ids)
    assert before[ids[0]].state == "Ongoing"
    assert {before[i].state for i in ids[1:]} == {"CompleteCommit"}
    b.kill()
    b.start()
    with TxnWire(b.host, b.port) as c:
        after = wait_for(lambda: c.describe_transactions(ids), 15, "describe after restart")
        for i in ids:
            assert (after[i].error_code, after[i].state, after[i].producer_id,
                    after[i].producer_epoch, after[i].partitions) == \
                (NONE, before[i].state, before[i].producer_id, before[i].producer_epoch,
                 before[i].partitions), f"{i}: before {before[i]}, after {after[i]}"
    for i in ids:
        p = confluent_txn_producer(b.bootstrap, i)
        init_with_retry(p)
    with TxnWire(b.host, b.port) as c:
        again = c.describe_transactions(ids)
        for i in ids:
            assert again[i].producer_id == before[i].producer_id, (i, again[i])
            assert again[i].producer_epoch > before[i].producer_epoch, (i, again[i])
            assert again[i].state == "Empty", again[i]
    got = read_confluent(b.bootstrap, [(topic, 0), (topic, 1)], "read_committed")
    want = sorted(b"%s-%d" % (i.encode(), n) for i in ids for n in range(10)
                  if n % 4 != 3 and not (n == 9 and i == ids[0]))
    assert sorted(m.value for m in got) == want
