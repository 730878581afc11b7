"""Shared pieces of the transaction tests (test_transactions*.py).

* ``TXN_OVERRIDES`` and ``txn_broker_fixture``: a module-scoped broker with
  small internal topics and a fast timed-out-transaction sweep.
* ``TxnWire``: raw-socket requests for the transactional APIs (FindCoordinator,
  AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, transactional
  Produce, ListOffsets and Fetch with an isolation level, OffsetFetch with
  require_stable, DescribeProducers, ListTransactions, DescribeTransactions),
  built on kafka_wire's primitives; ``parse_batches`` walks fetched record
  batches, control batches included.
* Client helpers: read a set of partitions to their end with confluent-kafka
  or kafka-python at either isolation level, end offsets under
  read_committed, topic creation.
* ``python txn_harness.py ctp-worker ...``: a consume-transform-produce
  worker process (confluent-kafka) that tests kill with SIGKILL.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from dataclasses import dataclass, field

import pytest

import kafka_wire as w
from conftest import lend_shared_broker, started_shared_broker

# Kafka error codes used by the transaction tests.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
TRANSACTIONAL_ID_NOT_FOUND = 105
UNSTABLE_OFFSET_COMMIT = 88
PRODUCER_FENCED = 90

READ_UNCOMMITTED = 0
READ_COMMITTED = 1

CONTROL_ABORT = 0
CONTROL_COMMIT = 1

# Small internal topics and a fast sweep of timed-out transactions.
TXN_OVERRIDES = {
    "transaction.state.log.num.partitions": "4",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "500",
    "num.partitions": "1",
}


def txn_broker_fixture(name: str):
    """Fixtures ``txn_module_broker`` (module scope) and ``txn_broker`` with
    TXN_OVERRIDES; bind both names in the test module. If the broker dies
    during a test, that test fails in teardown and the next one gets a
    restarted broker (same data dir)."""

    @pytest.fixture(scope="module", name="txn_module_broker")
    def _module_broker():
        yield from started_shared_broker(name, TXN_OVERRIDES)

    @pytest.fixture(name="txn_broker")
    def _broker(txn_module_broker, request):
        yield from lend_shared_broker(txn_module_broker, name, request)

    return _module_broker, _broker


def txn_factory_broker(broker_factory, name: str, **extra):
    overrides = dict(TXN_OVERRIDES)
    overrides.update({k: str(v) for k, v in extra.items()})
    return broker_factory(name=name, **overrides)


# ---------------------------------------------------------------------------
# raw wire protocol
# ---------------------------------------------------------------------------

def _arr(items: list[bytes], flexible: bool) -> bytes:
    if flexible:
        return w.uvarint(len(items) + 1) + b"".join(items)
    return w.i32(len(items)) + b"".join(items)


def _str(s: str | None, flexible: bool) -> bytes:
    return w.compact_string(s) if flexible else w.string(s)


def _tags(flexible: bool) -> bytes:
    return w.TAGS_NONE if flexible else b""


class _R(w.Reader):
    """kafka_wire.Reader with flexible-aware helpers."""

    def __init__(self, data: bytes, flexible: bool):
        super().__init__(data)
        self.flex = flexible

    def s(self):
        return self.compact_string() if self.flex else self.string()

    def n(self) -> int:
        return self.array_len(self.flex)

    def tags(self):
        if self.flex:
            self.skip_tags()

    def nbytes(self):
        if self.flex:
            n = self.uvarint() - 1
        else:
            n = self.i32()
        return None if n < 0 else self.take(n)


@dataclass
class FetchedPartition:
    error_code: int
    high_watermark: int
    last_stable_offset: int
    aborted_transactions: list[tuple[int, int]] | None
    records: bytes


@dataclass
class ActiveProducer:
    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int
    current_txn_start_offset: int


@dataclass
class TxnDescription:
    error_code: int
    transactional_id: str
    state: str
    timeout_ms: int
    start_time_ms: int
    producer_id: int
    producer_epoch: int
    partitions: dict[str, list[int]]


class TxnWire(w.WireClient):
    """A raw connection speaking the transactional APIs."""

    def call(self, api_key: int, version: int, body: bytes, flexible: bool) -> _R:
        corr = self.next_corr()
        self.sock.sendall(w.frame(w.request_header(api_key, version, corr, flexible=flexible)
                                  + body))
        r = _R(w.recv_frame(self.sock), flexible)
        got = r.i32()
        assert got == corr, f"api {api_key} v{version}: correlation id {got}, expected {corr}"
        r.tags()
        return r

    # -- FindCoordinator (10) ---------------------------------------------
    def find_coordinator(self, key: str, key_type: int, version: int = 1) -> dict:
        """{error_code, node_id, host, port} (v1..v6; v4+ batch one key)."""
        flex = version >= 3
        if version >= 4:
            body = w.i8(key_type) + _arr([w.compact_string(key)], True) + _tags(True)
        else:
            body = _str(key, flex) + w.i8(key_type) + _tags(flex)
        r = self.call(10, version, body, flex)
        r.i32()                                         # throttle
        if version >= 4:
            n = r.n()
            assert n == 1, f"FindCoordinator v{version}: {n} coordinators for one key"
            got_key = r.s()
            assert got_key == key, f"FindCoordinator v{version}: answered key {got_key!r}"
            node, host, port, err = r.i32(), r.s(), r.i32(), r.i16()
            r.s()
            r.tags()
            return {"error_code": err, "node_id": node, "host": host, "port": port}
        err = r.i16()
        r.s()                                           # error message
        node, host, port = r.i32(), r.s(), r.i32()
        return {"error_code": err, "node_id": node, "host": host, "port": port}

    # -- AddPartitionsToTxn (24) -------------------------------------------
    def add_partitions_to_txn(self, txn_id: str, producer_id: int, producer_epoch: int,
                              partitions: dict[str, list[int]], version: int = 3
                              ) -> dict[tuple[str, int], int]:
        flex = version >= 3
        topics = [_str(t, flex) + _arr([w.i32(p) for p in ps], flex) + _tags(flex)
                  for t, ps in partitions.items()]
        body = (_str(txn_id, flex) + w.i64(producer_id) + w.i16(producer_epoch)
                + _arr(topics, flex) + _tags(flex))
        r = self.call(24, version, body, flex)
        r.i32()
        out = {}
        for _ in range(r.n()):
            name = r.s()
            for _ in range(r.n()):
                p, err = r.i32(), r.i16()
                r.tags()
                out[(name, p)] = err
            r.tags()
        return out

    # -- AddOffsetsToTxn (25) ----------------------------------------------
    def add_offsets_to_txn(self, txn_id: str, producer_id: int, producer_epoch: int,
                           group_id: str, version: int = 3) -> int:
        flex = version >= 3
        body = (_str(txn_id, flex) + w.i64(producer_id) + w.i16(producer_epoch)
                + _str(group_id, flex) + _tags(flex))
        r = self.call(25, version, body, flex)
        r.i32()
        return r.i16()

    # -- EndTxn (26) ---------------------------------------------------------
    def end_txn(self, txn_id: str, producer_id: int, producer_epoch: int, commit: bool,
                version: int = 3) -> int:
        flex = version >= 3
        body = (_str(txn_id, flex) + w.i64(producer_id) + w.i16(producer_epoch)
                + w.i8(1 if commit else 0) + _tags(flex))
        r = self.call(26, version, body, flex)
        r.i32()
        return r.i16()

    # -- TxnOffsetCommit (28) ------------------------------------------------
    def txn_offset_commit(self, txn_id: str, group_id: str, producer_id: int,
                          producer_epoch: int, offsets: dict[tuple[str, int], int],
                          version: int = 3, generation_id: int = -1, member_id: str = "",
                          group_instance_id: str | None = None) -> dict[tuple[str, int], int]:
        flex = version >= 3
        by_topic: dict[str, list[tuple[int, int]]] = {}
        for (t, p), off in offsets.items():
            by_topic.setdefault(t, []).append((p, off))
        topics = []
        for t, parts in by_topic.items():
            ps = []
            for p, off in parts:
                x = w.i32(p) + w.i64(off)
                if version >= 2:
                    x += w.i32(-1)
                x += _str(None, flex) + _tags(flex)
                ps.append(x)
            topics.append(_str(t, flex) + _arr(ps, flex) + _tags(flex))
        body = (_str(txn_id, flex) + _str(group_id, flex) + w.i64(producer_id)
                + w.i16(producer_epoch))
        if version >= 3:
            body += w.i32(generation_id) + _str(member_id, flex) + _str(group_instance_id, flex)
        body += _arr(topics, flex) + _tags(flex)
        r = self.call(28, version, body, flex)
        r.i32()
        out = {}
        for _ in range(r.n()):
            name = r.s()
            for _ in range(r.n()):
                p, err = r.i32(), r.i16()
                r.tags()
                out[(name, p)] = err
            r.tags()
        return out

    # -- Produce (0) with a transactional id -------------------------------
    def produce_txn(self, txn_id: str | None, topic: str, partition: int, records: bytes,
                    version: int = 9) -> w.ProducePartitionResult:
        corr = self.next_corr()
        self.sock.sendall(w.produce_request(version, corr, topic, partition, records,
                                            transactional_id=txn_id))
        got, res = w.parse_produce_response(version, w.recv_frame(self.sock))
        assert got == corr
        return res[(topic, partition)]

    # -- ListOffsets (2) v2 with an isolation level --------------------------
    def list_offset_isolated(self, topic: str, partition: int, isolation: int,
                             timestamp: int = w.LATEST_TIMESTAMP) -> tuple[int, int]:
        """(error_code, offset) of ListOffsets v2."""
        body = (w.i32(-1) + w.i8(isolation) + w.i32(1) + w.string(topic) + w.i32(1)
                + w.i32(partition) + w.i64(timestamp))
        r = self.call(2, 2, body, False)
        r.i32()
        out = None
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                r.i32()
                err, _ts, off = r.i16(), r.i64(), r.i64()
                out = (err, off)
        return out

    # -- Fetch (1) v4 ----------------------------------------------------------
    def fetch(self, topic: str, partition: int, offset: int, isolation: int,
              max_bytes: int = 1 << 20, max_wait_ms: int = 0) -> FetchedPartition:
        body = (w.i32(-1) + w.i32(max_wait_ms) + w.i32(0) + w.i32(max_bytes) + w.i8(isolation)
                + w.i32(1) + w.string(topic) + w.i32(1)
                + w.i32(partition) + w.i64(offset) + w.i32(max_bytes))
        r = self.call(1, 4, body, False)
        r.i32()
        out = None
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                r.i32()
                err, hw, lso = r.i16(), r.i64(), r.i64()
                n = r.i32()
                aborted = None if n < 0 else [(r.i64(), r.i64()) for _ in range(n)]
                recs = r.nbytes() or b""
                out = FetchedPartition(err, hw, lso, aborted, recs)
        return out

    def fetch_all(self, topic: str, partition: int, isolation: int,
                  start: int = 0) -> tuple[list[dict], FetchedPartition]:
        """Every batch from ``start`` up to what the broker returns for the
        isolation level (HW or LSO), following next offsets. Returns the
        batches and the last response's partition header."""
        batches: list[dict] = []
        offset = start
        last = None
        for _ in range(1000):
            res = self.fetch(topic, partition, offset, isolation)
            assert res.error_code == NONE, f"Fetch {topic}-{partition}@{offset}: error {res.error_code}"
            last = res
            got = parse_batches(res.records)
            if not got:
                return batches, last
            for b in got:
                if b["last_offset"] >= offset:
                    batches.append(b)
            offset = got[-1]["last_offset"] + 1
        raise AssertionError("fetch_all did not end")

    # -- OffsetFetch (9) v7 with require_stable -----------------------------
    def offset_fetch(self, group_id: str, partitions: dict[str, list[int]],
                     require_stable: bool) -> tuple[int, dict[tuple[str, int], tuple[int, int]]]:
        """(group error, {(topic, partition): (committed_offset, error_code)})."""
        topics = [w.compact_string(t) + _arr([w.i32(p) for p in ps], True) + w.TAGS_NONE
                  for t, ps in partitions.items()]
        body = (w.compact_string(group_id) + _arr(topics, True)
                + w.i8(1 if require_stable else 0) + w.TAGS_NONE)
        r = self.call(9, 7, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            name = r.s()
            for _ in range(r.n()):
                p, off, _epoch = r.i32(), r.i64(), r.i32()
                r.s()
                err = r.i16()
                r.tags()
                out[(name, p)] = (off, err)
            r.tags()
        return r.i16(), out

    # -- DescribeProducers (61) v0 -------------------------------------------
    def describe_producers(self, topic: str, partitions: list[int]
                           ) -> dict[int, tuple[int, list[ActiveProducer]]]:
        body = (_arr([w.compact_string(topic) + _arr([w.i32(p) for p in partitions], True)
                      + w.TAGS_NONE], True) + w.TAGS_NONE)
        r = self.call(61, 0, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            r.s()
            for _ in range(r.n()):
                p, err = r.i32(), r.i16()
                r.s()
                prods = []
                for _ in range(r.n()):
                    prods.append(ActiveProducer(r.i64(), r.i32(), r.i32(), r.i64(), r.i32(),
                                                r.i64()))
                    r.tags()
                r.tags()
                out[p] = (err, prods)
            r.tags()
        return out

    # -- ListTransactions (66) v0/v1 ---------------------------------------------
    def list_transactions(self, states: list[str] = (), producer_ids: list[int] = (),
                          version: int = 0, duration_ms: int = -1,
                          pattern: str | None = None
                          ) -> tuple[int, list[str], dict[str, tuple[int, str]]]:
        """(error_code, unknown_state_filters, {transactional_id: (producer_id, state)});
        v2 (KIP-1152) filters by a transactional id `pattern`."""
        body = (_arr([w.compact_string(s) for s in states], True)
                + _arr([w.i64(p) for p in producer_ids], True))
        if version >= 1:
            body += w.i64(duration_ms)
        if version >= 2:
            body += w.compact_string(pattern)
        body += w.TAGS_NONE
        r = self.call(66, version, body, True)
        r.i32()
        err = r.i16()
        unknown = [r.s() for _ in range(r.n())]
        txns = {}
        for _ in range(r.n()):
            tid, pid, state = r.s(), r.i64(), r.s()
            r.tags()
            txns[tid] = (pid, state)
        return err, unknown, txns

    # -- DescribeTransactions (65) v0 ----------------------------------------------
    def describe_transactions(self, txn_ids: list[str]) -> dict[str, TxnDescription]:
        body = _arr([w.compact_string(t) for t in txn_ids], True) + w.TAGS_NONE
        r = self.call(65, 0, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            err, tid, state = r.i16(), r.s(), r.s()
            timeout, start, pid, epoch = r.i32(), r.i64(), r.i64(), r.i16()
            parts = {}
            for _ in range(r.n()):
                t = r.s()
                parts[t] = sorted(r.i32() for _ in range(r.n()))
                r.tags()
            r.tags()
            out[tid] = TxnDescription(err, tid, state, timeout, start, pid, epoch, parts)
        return out


def parse_batches(data: bytes) -> list[dict]:
    """Record batches (magic 2) of a fetch response: header fields, and for
    uncompressed batches the records as (offset, key, value, headers); for
    control batches the marker type (0 abort, 1 commit). A trailing partial
    batch is ignored."""
    out = []
    pos = 0
    while pos + 61 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        magic = data[pos + 16]
        assert magic == 2, f"batch at {base_offset}: magic {magic}"
        attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
        pid, epoch, base_seq, count = struct.unpack_from(">qhii", data, pos + 43)
        b = {"base_offset": base_offset, "last_offset": base_offset + last_delta,
             "codec": attributes & 7, "transactional": bool(attributes & 0x10),
             "control": bool(attributes & 0x20), "producer_id": pid,
             "producer_epoch": epoch, "base_sequence": base_seq, "count": count,
             "records": None, "control_type": None}
        if attributes & 7 == 0:
            r = w.Reader(data[pos + 61:end])
            recs = []
            for _ in range(count):
                r.varint()                          # length
                r.i8()
                r.varint()                          # timestamp delta
                delta = r.varint()
                kl = r.varint()
                key = None if kl < 0 else r.take(kl)
                vl = r.varint()
                value = None if vl < 0 else r.take(vl)
                headers = []
                for _ in range(r.varint()):
                    hk = r.take(r.varint()).decode()
                    hl = r.varint()
                    headers.append((hk, None if hl < 0 else r.take(hl)))
                recs.append((base_offset + delta, key, value, headers))
            b["records"] = recs
            if b["control"] and recs and recs[0][1] is not None and len(recs[0][1]) >= 4:
                b["control_type"] = struct.unpack_from(">h", recs[0][1], 2)[0]
        out.append(b)
        pos = end
    return out


def raw_batch(values: list[bytes], producer_id: int, producer_epoch: int, base_sequence: int,
              transactional: bool = True, key_prefix: bytes | None = None) -> bytes:
    ts = int(time.time() * 1000)
    recs = [w.Rec(key=(key_prefix + b"%d" % i) if key_prefix else None, value=v, timestamp=ts)
            for i, v in enumerate(values)]
    return w.record_batch(recs, attributes=0x10 if transactional else 0,
                          producer_id=producer_id, producer_epoch=producer_epoch,
                          base_sequence=base_sequence)


# ---------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------

def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([NewTopic(t, n, 1) for t, n in topics.items()], operation_timeout=10)
    for t, f in fs.items():
        f.result(15)


def confluent_txn_producer(bootstrap: str, txn_id: str, **conf):
    from confluent_kafka import Producer
    c = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
         "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 500}
    c.update(conf)
    return Producer(c)


@dataclass(frozen=True)
class Msg:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple = field(default=())


def read_confluent(bootstrap: str, tps: list[tuple[str, int]], isolation: str,
                   timeout: float = 20.0, group: str = "txn-reader") -> list[Msg]:
    """Every record of the given partitions from offset 0 to the end the
    isolation level allows (the consumer's end-of-partition event, which
    librdkafka raises at the LSO under read_committed and the HW otherwise),
    sorted by (topic, partition, offset)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error",
                  "isolation.level": isolation, "fetch.wait.max.ms": 50})
    try:
        c.assign([TopicPartition(t, p, 0) for t, p in tps])
        out: list[Msg] = []
        pending = set(tps)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"{isolation} consumer: no end of partition for {sorted(pending)} "
                                     f"within {timeout}s ({len(out)} records read)")
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((m.topic(), m.partition()))
                    continue
                raise AssertionError(f"{isolation} consumer error: {m.error()}")
            pending.add((m.topic(), m.partition()))
            out.append(Msg(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                           tuple(m.headers() or ())))
        return sorted(out, key=lambda x: (x.topic, x.partition, x.offset))
    finally:
        c.close()


def read_kafka_python(bootstrap: str, tps: list[tuple[str, int]], isolation: str,
                      timeout: float = 20.0) -> list[Msg]:
    """The same with kafka-python: reads until every partition's position
    reaches end_offsets() for the isolation level (LSO under read_committed)."""
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation,
                      enable_auto_commit=False, group_id=None, auto_offset_reset="earliest",
                      fetch_max_wait_ms=50, request_timeout_ms=10000)
    try:
        parts = [TopicPartition(t, p) for t, p in tps]
        c.assign(parts)
        c.seek_to_beginning(*parts)
        ends = c.end_offsets(parts)
        out: list[Msg] = []
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"kafka-python {isolation}: positions "
                    f"{ {str(tp): c.position(tp) for tp in parts} } short of {ends} after {timeout}s")
            for tp, msgs in c.poll(timeout_ms=200).items():
                for m in msgs:
                    out.append(Msg(m.topic, m.partition, m.offset, m.key, m.value,
                                   tuple((k, v) for k, v in (m.headers or []))))
        return sorted(out, key=lambda x: (x.topic, x.partition, x.offset))
    finally:
        c.close()


def end_offsets_kafka_python(bootstrap: str, tps: list[tuple[str, int]],
                             isolation: str) -> dict[tuple[str, int], int]:
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation, group_id=None,
                      enable_auto_commit=False, request_timeout_ms=10000)
    try:
        res = c.end_offsets([TopicPartition(t, p) for t, p in tps])
        return {(tp.topic, tp.partition): off for tp, off in res.items()}
    finally:
        c.close()


def confluent_eof_offset(bootstrap: str, topic: str, partition: int, isolation: str,
                         timeout: float = 10.0) -> tuple[int, list[int]]:
    """(offset at which the consumer reports end of partition, offsets of the
    records it delivered before that)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-eof",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "error", "isolation.level": isolation,
                  "fetch.wait.max.ms": 50})
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return m.offset(), seen
                raise AssertionError(f"consumer error: {m.error()}")
            seen.append(m.offset())
        raise AssertionError(f"{isolation}: no end of partition within {timeout}s (saw {seen})")
    finally:
        c.close()


def wait_for(pred, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")


# ---------------------------------------------------------------------------
# consume-transform-produce worker (a separate process, so tests can SIGKILL it)
# ---------------------------------------------------------------------------

def ctp_worker(bootstrap: str, input_topic: str, output_topic: str, group: str, txn_id: str,
               batch: int, stall_after: int) -> None:
    """Reads ``input_topic`` in group ``group`` (read_committed), writes
    ``<partition>:<offset>:<value>`` of each record to ``output_topic`` and
    commits the consumed offsets in the same transaction. Prints one JSON
    line per event. After ``stall_after`` committed transactions (if > 0) it
    opens one more transaction, flushes its records, prints "stalled" and
    waits to be killed."""
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

    def say(**kw):
        print(json.dumps(kw), flush=True)

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "group.instance.id": f"{group}-worker",
                         "session.timeout.ms": 6000, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.partition.eof": True})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                         "linger.ms": 5})
    producer.init_transactions(20)
    say(event="ready")
    consumer.subscribe([input_topic])
    committed = 0
    idle_since = None
    while True:
        msgs = consumer.consume(batch, 0.5)
        data = [m for m in msgs if not m.error()]
        for m in msgs:
            if m.error() and m.error().code() != KafkaError._PARTITION_EOF:
                say(event="error", error=str(m.error()))
        if not data:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 2.0:
                say(event="idle", committed=committed)
                idle_since = time.monotonic()
            continue
        idle_since = None
        producer.begin_transaction()
        for m in data:
            producer.produce(output_topic, key=m.key(),
                             value=b"%d:%d:%s" % (m.partition(), m.offset(), m.value()),
                             partition=m.partition())
        positions = {}
        for m in data:
            positions[(m.topic(), m.partition())] = m.offset() + 1
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        if stall_after and committed >= stall_after:
            producer.flush(10)
            say(event="stalled", records=len(data))
            time.sleep(3600)
        producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 20)
        producer.commit_transaction(20)
        committed += 1
        say(event="committed", n=committed, records=len(data),
            offsets={f"{t}:{p}": o for (t, p), o in positions.items()})


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "ctp-worker":
        ctp_worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
                   int(sys.argv[7]), int(sys.argv[8]))
    else:
        sys.exit("usage: txn_harness.py ctp-worker BOOTSTRAP INPUT OUTPUT GROUP TXN_ID BATCH STALL_AFTER")
