"""Transactions on the wire, and the transaction admin APIs.

(1) Raw protocol (txn_harness.TxnWire over kafka_wire): FindCoordinator with
    key type 1; a whole transaction by hand (InitProducerId, AddPartitionsToTxn,
    transactional Produce, EndTxn) checked after each step with ListOffsets and
    Fetch at both isolation levels (last stable offset, control batches at the
    marker offsets, the aborted-transactions list), DescribeProducers,
    DescribeTransactions and ListTransactions; retried EndTxn.
(2) Bad input: EndTxn for an unknown transactional id, wrong producer ids and
    epochs (INVALID_PRODUCER_EPOCH before KIP-588 versions, PRODUCER_FENCED
    after), EndTxn with no partitions, a transaction timeout above
    transaction.max.timeout.ms, transactional Produce to a partition not in
    the transaction, unknown ids and state filters in the admin APIs.
(3) kafka-python's KafkaAdminClient (describe_producers, list_transactions,
    describe_transactions) against the live state of a confluent-kafka
    transactional producer.
(4) The LSO with overlapping transactions of two producers; an aborted
    transaction spread over several 1 KiB segments, fetched from every start
    offset (raw and librdkafka), before and after kill -9 and a clean restart.
(5) TxnOffsetCommit against a group with a live member: unknown member,
    wrong generation, stale epoch.
(6) transactional.id.expiration.ms expires idle ids only, across kill -9.
"""

from __future__ import annotations

import time

import pytest

import kafka_wire as w
from conftest import kafka_python_knows
from txn_harness import (
    CONCURRENT_TRANSACTIONS, CONTROL_ABORT, CONTROL_COMMIT, INVALID_PRODUCER_EPOCH,
    INVALID_PRODUCER_ID_MAPPING, INVALID_TRANSACTION_TIMEOUT, INVALID_TXN_STATE, NONE,
    PRODUCER_FENCED, READ_COMMITTED, READ_UNCOMMITTED, TRANSACTIONAL_ID_NOT_FOUND,
    UNKNOWN_TOPIC_OR_PARTITION, TxnWire, confluent_txn_producer, create_topics, parse_batches,
    raw_batch, read_confluent, read_kafka_python, txn_broker_fixture, txn_factory_broker,
    wait_for,
)

txn_module_broker, txn_broker = txn_broker_fixture("txn-wire")

pytestmark = pytest.mark.timeout(60)


def init_txn(c: TxnWire, txn_id: str, version: int = 4, timeout_ms: int = 60000):
    """InitProducerId for a transactional id, retrying while the coordinator
    is loading or finishing an earlier transaction."""
    def attempt():
        res = c.init_producer_id(version, transactional_id=txn_id,
                                 transaction_timeout_ms=timeout_ms)
        return res if res.error_code == NONE else None
    res = wait_for(attempt, 15, f"InitProducerId({txn_id}) to succeed")
    assert res.producer_id >= 0 and res.producer_epoch >= 0, res
    return res.producer_id, res.producer_epoch


def batches_summary(batches: list[dict]) -> list[tuple]:
    """(base, last, transactional, control, control_type) per batch."""
    return [(b["base_offset"], b["last_offset"], b["transactional"], b["control"],
             b["control_type"]) for b in batches]


# ---------------------------------------------------------------------------
# (1) raw protocol
# ---------------------------------------------------------------------------

def test_find_coordinator_for_transactional_ids(txn_broker):
    b = txn_broker
    with TxnWire(b.host, b.port) as c:
        # the first request may create __transaction_state
        wait_for(lambda: c.find_coordinator("tx-find-a", 1, 1)["error_code"] == NONE, 15,
                 "FindCoordinator(key_type=1) without error")
        for version in (1, 2, 3, 4, 5, 6):
            for key in ("tx-find-a", "tx-find-b", "another transactional id"):
                got = c.find_coordinator(key, 1, version)
                assert got == {"error_code": NONE, "node_id": 1, "host": b.host,
                               "port": b.port}, f"FindCoordinator v{version} key {key!r}: {got}"


def test_raw_transaction_lifecycle(txn_broker, topic):
    b = txn_broker
    txn_id = f"raw-{topic}"
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 2})
        pid, epoch = init_txn(c, txn_id)
        assert epoch == 0, f"first InitProducerId of {txn_id}: epoch {epoch}"

        # a fresh transactional id is Empty
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.error_code, d.state, d.producer_id, d.producer_epoch, d.timeout_ms,
                d.partitions) == (NONE, "Empty", pid, 0, 60000, {}), d

        # -- transaction 1: three records in partition 0, committed --------------
        assert c.add_partitions_to_txn(txn_id, pid, 0, {topic: [0]}) == {(topic, 0): NONE}
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"c0", b"c1", b"c2"], pid, 0, 0),
                            version=version)
        assert (res.error_code, res.base_offset) == (NONE, 0), res
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch, d.partitions) == \
            ("Ongoing", pid, 0, {topic: [0]}), d
        assert d.start_time_ms > 0
        err, unknown, txns = c.list_transactions()
        assert (err, unknown, txns.get(txn_id)) == (NONE, [], (pid, "Ongoing"))
        assert c.list_transactions(states=["Ongoing"])[2].get(txn_id) == (pid, "Ongoing")
        assert txn_id not in c.list_transactions(states=["CompleteCommit", "Empty"])[2]
        assert c.list_transactions(producer_ids=[pid])[2] == {txn_id: (pid, "Ongoing")}
        assert c.list_transactions(producer_ids=[pid + 100000])[2] == {}
        time.sleep(0.01)
        assert c.list_transactions(producer_ids=[pid], version=1, duration_ms=0)[2] == \
            {txn_id: (pid, "Ongoing")}
        assert c.list_transactions(producer_ids=[pid], version=1, duration_ms=600000)[2] == {}
        # v2 (KIP-1152): the whole id must match the pattern; null or empty
        # matches every id; a pattern that does not compile is refused.
        for pattern, listed in ((txn_id[:4] + ".*", True), (txn_id[:4], False),
                                ("", True), (None, True), (".*-nope", False)):
            got = c.list_transactions(producer_ids=[pid], version=2, pattern=pattern)
            assert got == (NONE, [], {txn_id: (pid, "Ongoing")} if listed else {}), pattern
        assert c.list_transactions(version=2, pattern="(unclosed")[0] == 128  # INVALID_REGULAR_EXPRESSION

        err, producers = c.describe_producers(topic, [0])[0]
        assert err == NONE
        assert [(p.producer_id, p.producer_epoch, p.last_sequence, p.current_txn_start_offset)
                for p in producers] == [(pid, 0, 2, 0)], producers

        # the open transaction holds the last stable offset at its first offset
        assert c.list_offset_isolated(topic, 0, READ_UNCOMMITTED) == (NONE, 3)
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 0)
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert (f.error_code, f.high_watermark, f.last_stable_offset, f.records) == \
            (NONE, 3, 0, b""), f
        f = c.fetch(topic, 0, 0, READ_UNCOMMITTED)
        assert (f.high_watermark, f.last_stable_offset) == (3, 0), f

        assert c.end_txn(txn_id, pid, 0, commit=True) == NONE
        # a retried EndTxn(commit) is answered NONE; an abort now is refused
        assert c.end_txn(txn_id, pid, 0, commit=True) == NONE
        assert c.end_txn(txn_id, pid, 0, commit=False) == INVALID_TXN_STATE

        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch, d.partitions) == \
            ("CompleteCommit", pid, 0, {}), d
        assert c.list_transactions(producer_ids=[pid])[2] == {txn_id: (pid, "CompleteCommit")}
        err, producers = c.describe_producers(topic, [0])[0]
        assert [(p.producer_id, p.producer_epoch, p.current_txn_start_offset)
                for p in producers] == [(pid, 0, -1)], producers
        # partition 1 was never touched by the producer
        assert c.describe_producers(topic, [1])[1] == (NONE, [])

        # the marker is at offset 3
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 4)
        assert c.list_offset_isolated(topic, 0, READ_UNCOMMITTED) == (NONE, 4)
        batches, last = c.fetch_all(topic, 0, READ_COMMITTED)
        assert batches_summary(batches) == [(0, 2, True, False, None),
                                            (3, 3, True, True, CONTROL_COMMIT)]
        assert [r[:3] for r in batches[0]["records"]] == \
            [(0, None, b"c0"), (1, None, b"c1"), (2, None, b"c2")]
        assert (batches[1]["producer_id"], batches[1]["producer_epoch"]) == (pid, 0)
        assert (last.high_watermark, last.last_stable_offset) == (4, 4)
        assert c.fetch(topic, 0, 0, READ_COMMITTED).aborted_transactions in (None, [])

        # -- transaction 2: two records in partition 0 and one in 1, aborted --
        assert c.add_partitions_to_txn(txn_id, pid, 0, {topic: [0, 1]}) == \
            {(topic, 0): NONE, (topic, 1): NONE}
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"a0", b"a1"], pid, 0, 3),
                            version=version)
        assert (res.error_code, res.base_offset) == (NONE, 4), res
        res = c.produce_txn(txn_id, topic, 1, raw_batch([b"a2"], pid, 0, 0), version=version)
        assert (res.error_code, res.base_offset) == (NONE, 0), res
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 4)
        assert c.list_offset_isolated(topic, 1, READ_COMMITTED) == (NONE, 0)
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.partitions) == ("Ongoing", {topic: [0, 1]}), d
        assert c.end_txn(txn_id, pid, 0, commit=False) == NONE
        assert c.end_txn(txn_id, pid, 0, commit=False) == NONE       # retry
        assert c.end_txn(txn_id, pid, 0, commit=True) == INVALID_TXN_STATE
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_epoch, d.partitions) == ("CompleteAbort", 0, {}), d

        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 7)
        assert c.list_offset_isolated(topic, 1, READ_COMMITTED) == (NONE, 2)
        # read_committed fetches return the aborted data with the list of
        # aborted transactions, and the abort markers
        f = c.fetch(topic, 0, 4, READ_COMMITTED)
        assert (f.high_watermark, f.last_stable_offset, f.aborted_transactions) == \
            (7, 7, [(pid, 4)]), f
        assert batches_summary(parse_batches(f.records)) == [
            (4, 5, True, False, None), (6, 6, True, True, CONTROL_ABORT)]
        f1 = c.fetch(topic, 1, 0, READ_COMMITTED)
        assert (f1.last_stable_offset, f1.aborted_transactions) == (2, [(pid, 0)]), f1
        assert batches_summary(parse_batches(f1.records)) == [
            (0, 0, True, False, None), (1, 1, True, True, CONTROL_ABORT)]
        # read_uncommitted fetches carry no aborted-transactions list
        f = c.fetch(topic, 0, 4, READ_UNCOMMITTED)
        assert f.aborted_transactions in (None, []), f
        # a fetch starting past the aborted transaction does not list it
        f = c.fetch(topic, 0, 7, READ_COMMITTED)
        assert (f.aborted_transactions or []) == [] and f.records == b"", f

        # -- a new InitProducerId bumps the epoch of the same producer id -------
        pid2, epoch2 = init_txn(c, txn_id)
        assert (pid2, epoch2) == (pid, 1)
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch) == ("Empty", pid, 1), d
        # the old epoch is fenced from the transactional APIs
        assert c.add_partitions_to_txn(txn_id, pid, 0, {topic: [0]}) == \
            {(topic, 0): PRODUCER_FENCED}
        assert c.add_partitions_to_txn(txn_id, pid, 1, {topic: [0]}) == {(topic, 0): NONE}
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"n0"], pid, 1, 0), version=version)
        assert (res.error_code, res.base_offset) == (NONE, 7), res
        assert c.end_txn(txn_id, pid, 1, commit=True) == NONE
        batches, last = c.fetch_all(topic, 0, READ_UNCOMMITTED)
        assert batches_summary(batches) == [
            (0, 2, True, False, None), (3, 3, True, True, CONTROL_COMMIT),
            (4, 5, True, False, None), (6, 6, True, True, CONTROL_ABORT),
            (7, 7, True, False, None), (8, 8, True, True, CONTROL_COMMIT)]
        assert [(bt["producer_id"], bt["producer_epoch"]) for bt in batches] == \
            [(pid, 0)] * 4 + [(pid, 1)] * 2
        assert (last.high_watermark, last.last_stable_offset) == (9, 9)


# ---------------------------------------------------------------------------
# (2) bad input
# ---------------------------------------------------------------------------

def test_end_txn_for_unknown_transactional_id(txn_broker, topic):
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    with TxnWire(b.host, b.port) as c:
        wait_for(lambda: c.find_coordinator("never-initialised", 1, 1)["error_code"] == NONE, 15,
                 "transaction coordinator")
        for version in range(5):
            for commit in (True, False):
                got = c.end_txn("never-initialised", 4242, 0, commit, version=version)
                assert got == INVALID_PRODUCER_ID_MAPPING, \
                    f"EndTxn v{version} commit={commit} for an unknown transactional id: {got}"
        for version in range(4):
            got = c.add_partitions_to_txn("never-initialised", 4242, 0, {topic: [0]},
                                          version=version)
            assert got == {(topic, 0): INVALID_PRODUCER_ID_MAPPING}, \
                f"AddPartitionsToTxn v{version} for an unknown transactional id: {got}"
            got = c.add_offsets_to_txn("never-initialised", 4242, 0, "g", version=version)
            assert got == INVALID_PRODUCER_ID_MAPPING, \
                f"AddOffsetsToTxn v{version} for an unknown transactional id: {got}"


def test_wrong_producer_id_and_epoch(txn_broker, topic):
    b = txn_broker
    txn_id = f"fence-{topic}"
    with TxnWire(b.host, b.port) as c:
        create_topics(b.bootstrap, {topic: 1})
        init_txn(c, txn_id)
        pid, epoch = init_txn(c, txn_id)
        assert epoch == 1
        for stale in (0, 2):
            for version in range(4):
                want = INVALID_PRODUCER_EPOCH if version < 2 else PRODUCER_FENCED
                got = c.add_partitions_to_txn(txn_id, pid, stale, {topic: [0]}, version=version)
                assert got == {(topic, 0): want}, \
                    f"AddPartitionsToTxn v{version} at epoch {stale} (current {epoch}): {got}"
                got = c.add_offsets_to_txn(txn_id, pid, stale, "g-fence", version=version)
                assert got == want, \
                    f"AddOffsetsToTxn v{version} at epoch {stale} (current {epoch}): {got}"
            for version in range(5):
                want = INVALID_PRODUCER_EPOCH if version < 2 else PRODUCER_FENCED
                got = c.end_txn(txn_id, pid, stale, True, version=version)
                assert got == want, f"EndTxn v{version} at epoch {stale} (current {epoch}): {got}"
        # another producer id for this transactional id
        got = c.add_partitions_to_txn(txn_id, pid + 1000, epoch, {topic: [0]})
        assert got == {(topic, 0): INVALID_PRODUCER_ID_MAPPING}, got
        assert c.end_txn(txn_id, pid + 1000, epoch, True) == INVALID_PRODUCER_ID_MAPPING
        # none of that changed the state
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch, d.partitions) == \
            ("Empty", pid, 1, {}), d


def test_end_txn_without_partitions_is_invalid(txn_broker):
    b = txn_broker
    with TxnWire(b.host, b.port) as c:
        pid, epoch = init_txn(c, "empty-end")
        for version in range(5):
            for commit in (True, False):
                got = c.end_txn("empty-end", pid, epoch, commit, version=version)
                assert got == INVALID_TXN_STATE, \
                    f"EndTxn v{version} commit={commit} in state Empty: {got}"
        d = c.describe_transactions(["empty-end"])["empty-end"]
        assert (d.state, d.producer_epoch) == ("Empty", epoch), d


def test_transaction_timeout_above_maximum(txn_broker):
    b = txn_broker
    with TxnWire(b.host, b.port) as c:
        wait_for(lambda: c.find_coordinator("too-long", 1, 1)["error_code"] == NONE, 15,
                 "transaction coordinator")
        for version in range(5):
            res = c.init_producer_id(version, transactional_id="too-long",
                                     transaction_timeout_ms=900_001)
            assert (res.error_code, res.producer_id, res.producer_epoch) == \
                (INVALID_TRANSACTION_TIMEOUT, -1, -1), \
                f"InitProducerId v{version} with timeout 900001 > transaction.max.timeout.ms: {res}"
            for bad in (0, -5):
                res = c.init_producer_id(version, transactional_id="too-long",
                                         transaction_timeout_ms=bad)
                assert res.error_code == INVALID_TRANSACTION_TIMEOUT, \
                    f"InitProducerId v{version} with timeout {bad}: {res}"
        res = c.init_producer_id(4, transactional_id="too-long", transaction_timeout_ms=900_000)
        assert (res.error_code, res.producer_epoch) == (NONE, 0), res


def test_transactional_produce_outside_the_transaction(txn_broker, topic):
    b = txn_broker
    txn_id = f"outside-{topic}"
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 2})
        pid, epoch = init_txn(c, txn_id)
        # before any AddPartitionsToTxn
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"x"], pid, epoch, 0), version=version)
        assert res.error_code == INVALID_TXN_STATE, \
            f"transactional produce with no open transaction: {res}"
        assert c.add_partitions_to_txn(txn_id, pid, epoch, {topic: [0]}) == {(topic, 0): NONE}
        # partition 1 is not in the transaction
        res = c.produce_txn(txn_id, topic, 1, raw_batch([b"y"], pid, epoch, 0), version=version)
        assert res.error_code == INVALID_TXN_STATE, \
            f"transactional produce to a partition not added to the transaction: {res}"
        assert c.list_offset(topic, 1) == 0, "the refused batch was appended"
        # partition 0 is
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"z"], pid, epoch, 0), version=version)
        assert (res.error_code, res.base_offset) == (NONE, 0), res
        assert c.end_txn(txn_id, pid, epoch, commit=False) == NONE
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 2)
        assert c.list_offset_isolated(topic, 1, READ_COMMITTED) == (NONE, 0)


def test_admin_apis_unknown_ids_and_filters(txn_broker, topic):
    b = txn_broker
    with TxnWire(b.host, b.port) as c:
        wait_for(lambda: c.find_coordinator("nope", 1, 1)["error_code"] == NONE, 15,
                 "transaction coordinator")
        d = c.describe_transactions(["no-such-transactional-id"])
        assert list(d) == ["no-such-transactional-id"]
        assert d["no-such-transactional-id"].error_code == TRANSACTIONAL_ID_NOT_FOUND, d
        err, unknown, _ = c.list_transactions(states=["Ongoing", "Bogus"])
        assert (err, unknown) == (NONE, ["Bogus"])
        res = c.describe_producers(f"{topic}-missing", [0])
        assert res[0][0] == UNKNOWN_TOPIC_OR_PARTITION, res
        create_topics(b.bootstrap, {topic: 1})
        assert c.describe_producers(topic, [0, 5]) == {0: (NONE, []),
                                                       5: (UNKNOWN_TOPIC_OR_PARTITION, [])}


def test_concurrent_init_while_transaction_open_aborts_it(txn_broker, topic):
    """InitProducerId while a transaction is Ongoing aborts that transaction
    and hands out a higher epoch of the same producer id (possibly after
    CONCURRENT_TRANSACTIONS while the abort is written)."""
    b = txn_broker
    txn_id = f"reinit-{topic}"
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 1})
        pid, epoch = init_txn(c, txn_id)
        assert c.add_partitions_to_txn(txn_id, pid, epoch, {topic: [0]}) == {(topic, 0): NONE}
        res = c.produce_txn(txn_id, topic, 0, raw_batch([b"o1", b"o2"], pid, epoch, 0),
                            version=version)
        assert (res.error_code, res.base_offset) == (NONE, 0)
        codes = []

        def attempt():
            r = c.init_producer_id(4, transactional_id=txn_id)
            codes.append(r.error_code)
            return r if r.error_code == NONE else None
        r = wait_for(attempt, 15, "InitProducerId to succeed")
        assert set(codes) <= {NONE, CONCURRENT_TRANSACTIONS}, codes
        assert r.producer_id == pid and r.producer_epoch > epoch, r
        assert c.end_txn(txn_id, pid, epoch, True) == PRODUCER_FENCED
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 3)
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert f.aborted_transactions == [(pid, 0)], f
        d = c.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_epoch) == ("Empty", r.producer_epoch), d


# ---------------------------------------------------------------------------
# (3) kafka-python admin client against a confluent-kafka transaction
# ---------------------------------------------------------------------------

def test_kafka_python_admin_describes_live_transaction(txn_broker, topic):
    from confluent_kafka import Producer
    from kafka import KafkaAdminClient, TopicPartition as KTP
    from kafka.admin._transactions import TransactionState

    b = txn_broker
    txn_id = f"kp-admin-{topic}"
    create_topics(b.bootstrap, {topic: 3})
    plain = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for _ in range(2):
        plain.produce(topic, value=b"plain", partition=1)
    assert plain.flush(10) == 0

    p = confluent_txn_producer(b.bootstrap, txn_id, **{"transaction.timeout.ms": 45000})
    p.init_transactions(15)
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=10000)
    try:
        d = admin.describe_transactions([txn_id])[txn_id]
        assert (d.coordinator_id, d.state, d.producer_epoch, d.transaction_timeout_ms,
                d.topic_partitions) == (1, TransactionState.EMPTY, 0, 45000, set()), d
        pid = d.producer_id

        p.begin_transaction()
        for part in (0, 1):
            for i in range(3):
                p.produce(topic, key=b"k%d" % i, value=b"v", partition=part)
        assert p.flush(10) == 0

        d = admin.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch, d.topic_partitions) == \
            (TransactionState.ONGOING, pid, 0, {KTP(topic, 0), KTP(topic, 1)}), d
        assert d.transaction_start_time_ms > 0
        listed = admin.list_transactions()
        assert list(listed) == [1]
        mine = [t for t in listed[1] if t.transactional_id == txn_id]
        assert [(t.producer_id, t.state) for t in mine] == [(pid, TransactionState.ONGOING)]
        assert [t.transactional_id for t in
                admin.list_transactions(producer_id_filters=[pid])[1]] == [txn_id]
        assert txn_id not in [t.transactional_id for t in
                              admin.list_transactions(state_filters=["CompleteAbort"])[1]]

        prods = admin.describe_producers([KTP(topic, 0), KTP(topic, 1), KTP(topic, 2)])
        summary = {tp.partition: [(s.producer_id, s.producer_epoch, s.last_sequence,
                                   s.current_transaction_start_offset)
                                  for s in st.active_producers]
                   for tp, st in prods.items()}
        # partition 1 holds two non-transactional records before the transaction
        assert summary == {0: [(pid, 0, 2, 0)], 1: [(pid, 0, 2, 2)], 2: []}, summary

        p.commit_transaction(15)
        d = admin.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.producer_id, d.producer_epoch, d.topic_partitions) == \
            (TransactionState.COMPLETE_COMMIT, pid, 0, set()), d
        prods = admin.describe_producers([KTP(topic, 0)])
        assert [(s.producer_id, s.current_transaction_start_offset)
                for s in prods[KTP(topic, 0)].active_producers] == [(pid, -1)]

        p.begin_transaction()
        p.produce(topic, value=b"doomed", partition=2)
        assert p.flush(10) == 0
        prods = admin.describe_producers([KTP(topic, 2)])
        assert [(s.producer_id, s.current_transaction_start_offset)
                for s in prods[KTP(topic, 2)].active_producers] == [(pid, 0)]
        p.abort_transaction(15)
        d = admin.describe_transactions([txn_id])[txn_id]
        assert (d.state, d.topic_partitions) == (TransactionState.COMPLETE_ABORT, set()), d
        assert [t.state for t in admin.list_transactions(producer_id_filters=[pid])[1]] == \
            [TransactionState.COMPLETE_ABORT]
    finally:
        admin.close()


# ---------------------------------------------------------------------------
# (4) last stable offset with overlapping transactions, aborted transactions
#     spanning segments, fetches starting inside them
# ---------------------------------------------------------------------------

def test_lso_is_the_first_offset_of_the_oldest_open_transaction(txn_broker, topic):
    b = txn_broker
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 1})
        p1, e1 = init_txn(c, f"lso1-{topic}")
        p2, e2 = init_txn(c, f"lso2-{topic}")

        def produce(txn_id, pid, epoch, seq, values, at):
            res = c.produce_txn(txn_id, topic, 0, raw_batch(values, pid, epoch, seq), version=version)
            assert (res.error_code, res.base_offset) == (NONE, at), res

        def lso():
            return c.list_offset_isolated(topic, 0, READ_COMMITTED)[1]

        assert c.add_partitions_to_txn(f"lso1-{topic}", p1, e1, {topic: [0]}) == {(topic, 0): NONE}
        produce(f"lso1-{topic}", p1, e1, 0, [b"p1-a", b"p1-b"], 0)       # 0, 1
        assert c.add_partitions_to_txn(f"lso2-{topic}", p2, e2, {topic: [0]}) == {(topic, 0): NONE}
        produce(f"lso2-{topic}", p2, e2, 0, [b"p2-a", b"p2-b"], 2)       # 2, 3
        assert lso() == 0
        assert c.end_txn(f"lso1-{topic}", p1, e1, True) == NONE           # marker 4
        assert lso() == 2, "LSO must stop at the first offset of the still open transaction"
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert f.last_stable_offset == 2
        assert batches_summary(parse_batches(f.records)) == [(0, 1, True, False, None)]
        assert c.add_partitions_to_txn(f"lso1-{topic}", p1, e1, {topic: [0]}) == {(topic, 0): NONE}
        produce(f"lso1-{topic}", p1, e1, 2, [b"p1-c"], 5)                 # 5
        assert lso() == 2
        assert c.end_txn(f"lso2-{topic}", p2, e2, False) == NONE          # abort marker 6
        assert lso() == 5
        f = c.fetch(topic, 0, 0, READ_COMMITTED)
        assert (f.last_stable_offset, f.aborted_transactions) == (5, [(p2, 2)]), f
        assert c.end_txn(f"lso1-{topic}", p1, e1, True) == NONE           # marker 7
        assert lso() == 8
        err, prods = c.describe_producers(topic, [0])[0]
        assert sorted((x.producer_id, x.current_txn_start_offset) for x in prods) == \
            sorted([(p1, -1), (p2, -1)])
    got = [(m.offset, m.value) for m in read_confluent(b.bootstrap, [(topic, 0)], "read_committed")]
    assert got == [(0, b"p1-a"), (1, b"p1-b"), (5, b"p1-c")]


def test_aborted_transaction_spanning_segments(broker_factory, topic):
    """An aborted transaction whose batches spread over several 1 KiB
    segments, interleaved with plain records: every read_committed fetch
    that returns some of its batches lists it as aborted, from any start
    offset, before and after kill -9."""
    b = txn_factory_broker(broker_factory, "txn-segments", **{"log.segment.bytes": 1024})
    txn_id = f"span-{topic}"
    plain_values, aborted_offsets = [], []
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 1})
        pid, epoch = init_txn(c, txn_id)
        assert c.add_partitions_to_txn(txn_id, pid, epoch, {topic: [0]}) == {(topic, 0): NONE}
        offset = 0
        for i in range(12):
            res = c.produce_txn(txn_id, topic, 0,
                                raw_batch([b"ABORTED-%02d-" % i + b"x" * 200], pid, epoch, i),
                                version=version)
            assert (res.error_code, res.base_offset) == (NONE, offset), res
            aborted_offsets.append(offset)
            offset += 1
            plain = w.record_batch([w.Rec(None, b"plain-%02d" % i, int(time.time() * 1000))])
            res = c.produce(version, topic, 0, plain)
            assert (res.error_code, res.base_offset) == (NONE, offset), res
            plain_values.append((offset, b"plain-%02d" % i))
            offset += 1
        assert c.end_txn(txn_id, pid, epoch, commit=False) == NONE       # marker at 24
    segments = sorted(p.name for p in b.partition_dir(topic).glob("*.log"))
    assert len(segments) >= 3, f"expected several segments, got {segments}"

    def check(when):
        with TxnWire(b.host, b.port) as c:
            assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 25), when
            for start in range(25):
                f = c.fetch(topic, 0, start, READ_COMMITTED, max_bytes=600)
                got = parse_batches(f.records)
                returned_aborted = [x["base_offset"] for x in got
                                    if x["transactional"] and not x["control"]]
                if returned_aborted:
                    assert f.aborted_transactions == [(pid, 0)], \
                        f"{when}: fetch from {start} returned aborted batches at " \
                        f"{returned_aborted} with aborted_transactions={f.aborted_transactions}"
        for start in (0, 7, 13, 22):
            from confluent_kafka import Consumer, KafkaError, TopicPartition
            cons = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "span",
                             "isolation.level": "read_committed", "enable.partition.eof": True,
                             "max.partition.fetch.bytes": 600})
            try:
                cons.assign([TopicPartition(topic, 0, start)])
                seen, deadline = [], time.monotonic() + 15
                while time.monotonic() < deadline:
                    m = cons.poll(0.2)
                    if m is None:
                        continue
                    if m.error():
                        assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                        break
                    seen.append((m.offset(), m.value()))
                assert seen == [v for v in plain_values if v[0] >= start], \
                    f"{when}: read_committed from {start}: {seen}"
            finally:
                cons.close()
        assert [(m.offset, m.value) for m in read_kafka_python(
            b.bootstrap, [(topic, 0)], "read_committed")] == plain_values, when
        assert len(read_confluent(b.bootstrap, [(topic, 0)], "read_uncommitted")) == 24, when

    check("before restart")
    b.kill()
    b.start()
    check("after kill -9")
    assert b.stop() == 0
    b.start()
    check("after a clean restart")


# ---------------------------------------------------------------------------
# (5) TxnOffsetCommit against a live consumer group
# ---------------------------------------------------------------------------

def test_txn_offset_commit_checks_group_membership(txn_broker, topic, group_id):
    from kafka import KafkaConsumer
    b = txn_broker
    create_topics(b.bootstrap, {topic: 1})
    member = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, group_id=group_id,
                           enable_auto_commit=False, session_timeout_ms=10000)
    try:
        # kafka-python 3.0.12 loses its assignment if its first join races
        # the topic's metadata (see conftest.kafka_python_knows).
        kafka_python_knows(member, [topic])
        wait_for(lambda: (member.poll(timeout_ms=100) is not None and member.assignment()), 20,
                 "the consumer to join its group")
        gen = member.group_metadata()
        txn_id = f"toc-{topic}"
        with TxnWire(b.host, b.port) as c:
            pid, epoch = init_txn(c, txn_id)
            assert c.add_offsets_to_txn(txn_id, pid, epoch, group_id) == NONE
            tp = {(topic, 0): 3}
            assert c.txn_offset_commit(txn_id, group_id, pid, epoch, tp, version=3,
                                       generation_id=gen.generation_id, member_id="bogus") == \
                {(topic, 0): 25}, "unknown member id: UNKNOWN_MEMBER_ID"
            assert c.txn_offset_commit(txn_id, group_id, pid, epoch, tp, version=3,
                                       generation_id=gen.generation_id + 7,
                                       member_id=gen.member_id) == {(topic, 0): 22}, \
                "wrong generation: ILLEGAL_GENERATION"
            assert c.txn_offset_commit(txn_id, group_id, pid, epoch, tp, version=3,
                                       generation_id=gen.generation_id,
                                       member_id=gen.member_id) == {(topic, 0): NONE}
            # older versions carry no member: accepted
            assert c.txn_offset_commit(txn_id, group_id, pid, epoch, {(topic, 0): 4},
                                       version=2) == {(topic, 0): NONE}
            # a stale producer epoch is fenced
            got = c.txn_offset_commit(txn_id, group_id, pid, epoch + 1, tp, version=3,
                                      generation_id=gen.generation_id, member_id=gen.member_id)
            assert got[(topic, 0)] in (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED), got
            assert c.end_txn(txn_id, pid, epoch, commit=True) == NONE
            err, res = c.offset_fetch(group_id, {topic: [0]}, require_stable=True)
            assert res == {(topic, 0): (4, NONE)}, res
    finally:
        member.close()


# ---------------------------------------------------------------------------
# (6) transactional.id expiration
# ---------------------------------------------------------------------------

def test_transactional_id_expires_only_when_idle(broker_factory, topic):
    b = txn_factory_broker(broker_factory, "txn-expire", **{
        "transactional.id.expiration.ms": 1500,
        "transaction.remove.expired.transaction.cleanup.interval.ms": 300})
    with TxnWire(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topics(b.bootstrap, {topic: 1})
        idle_pid, _ = init_txn(c, "idle-id")
        busy_pid, busy_epoch = init_txn(c, "busy-id", timeout_ms=60000)
        assert c.add_partitions_to_txn("busy-id", busy_pid, busy_epoch, {topic: [0]}) == \
            {(topic, 0): NONE}
        res = c.produce_txn("busy-id", topic, 0, raw_batch([b"open"], busy_pid, busy_epoch, 0),
                            version=version)
        assert res.error_code == NONE
        wait_for(lambda: c.describe_transactions(["idle-id"])["idle-id"].error_code ==
                 TRANSACTIONAL_ID_NOT_FOUND, 15, "idle-id to expire", interval=0.3)
        assert "idle-id" not in c.list_transactions()[2]
        d = c.describe_transactions(["busy-id"])["busy-id"]
        assert (d.error_code, d.state) == (NONE, "Ongoing"), \
            f"a transactional id with an open transaction must not expire: {d}"
    b.kill()
    b.start()
    with TxnWire(b.host, b.port) as c:
        d = wait_for(lambda: c.describe_transactions(["idle-id", "busy-id"]), 15, "describe")
        assert d["idle-id"].error_code == TRANSACTIONAL_ID_NOT_FOUND, d["idle-id"]
        assert (d["busy-id"].error_code, d["busy-id"].state) == (NONE, "Ongoing"), d["busy-id"]
        # the expired id starts afresh at epoch 0
        pid, epoch = init_txn(c, "idle-id")
        assert epoch == 0 and pid != busy_pid
        assert c.end_txn("busy-id", busy_pid, busy_epoch, commit=True) == NONE
        assert c.list_offset_isolated(topic, 0, READ_COMMITTED) == (NONE, 2)
