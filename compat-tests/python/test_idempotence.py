"""Idempotent producers.

(1) Raw protocol (kafka_wire): InitProducerId hands out fresh ids at epoch 0,
    never reused across SIGTERM and SIGKILL restarts; transactional ids are
    refused.  Produce with a producer id: in-order sequences append at
    consecutive offsets, retries of the last five batches are answered with
    their original base offset without appending, older batches / gaps /
    changed batch boundaries → OUT_OF_ORDER_SEQUENCE_NUMBER (45), older epochs
    → INVALID_PRODUCER_EPOCH (47), a new epoch must start at 0, two batches in
    one partition's records → INVALID_RECORD (87), sequences wrap at i32::MAX.
    The producer state survives kill -9 (log replay), a clean restart
    (snapshot), and kill -9 after a snapshot (snapshot + replay).
(2) confluent-kafka and kafka-python idempotent producers through a proxy that
    cuts connections (by bytes and by age), including after Produce requests
    reached the broker but before their responses reached the client: every
    record ends up in the log exactly once, in send order, at the offset its
    delivery report named.
(3) kill -9 of the broker under an idempotent confluent-kafka producer
    (acks=all): every acknowledged record is there exactly once afterwards.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire as w
from conftest import now_ms, wait_until
from tcp_proxy import CuttingProxy

NONE = 0
COORDINATOR_NOT_AVAILABLE = 15
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47
INVALID_RECORD = 87
I32_MAX = 2**31 - 1


# ---------------------------------------------------------------------------
# raw-protocol helpers
# ---------------------------------------------------------------------------

class RawProducer:
    """Builds idempotent batches with unique values and remembers what was appended."""

    def __init__(self, client: w.WireClient, version: int, topic: str, name: str):
        self.c = client
        self.version = version
        self.topic = topic
        self.name = name
        self.n = 0

    def batch(self, pid: int, epoch: int, seq: int, count: int, pad: int = 0) -> tuple[bytes, list[bytes]]:
        ts = now_ms()
        values = []
        for _ in range(count):
            values.append(f"{self.name}-{self.n:05d}-".encode().ljust(pad, b"."))
            self.n += 1
        recs = [w.Rec(key=None, value=v, timestamp=ts) for v in values]
        return (w.record_batch(recs, producer_id=pid, producer_epoch=epoch, base_sequence=seq),
                values)

    def send(self, raw: bytes, partition: int = 0) -> w.ProducePartitionResult:
        return self.c.produce(self.version, self.topic, partition, raw)

    def leo(self, partition: int = 0) -> int:
        return self.c.list_offset(self.topic, partition, w.LATEST_TIMESTAMP)


def describe(res: w.ProducePartitionResult) -> str:
    return f"error={res.error_code} base_offset={res.base_offset} message={res.error_message!r}"


def expect_appended(p: RawProducer, raw: bytes, at: int, what: str, partition: int = 0) -> None:
    res = p.send(raw, partition)
    assert (res.error_code, res.base_offset) == (NONE, at), \
        f"{what}: expected error 0 and base offset {at}, got {describe(res)}"


def expect_duplicate(p: RawProducer, raw: bytes, original: int, leo: int, what: str,
                     partition: int = 0) -> None:
    res = p.send(raw, partition)
    assert (res.error_code, res.base_offset) == (NONE, original), \
        f"{what}: a retry must be answered with error 0 and its original base offset " \
        f"{original}, got {describe(res)}"
    now = p.leo(partition)
    assert now == leo, f"{what}: log end offset moved from {leo} to {now} (retry appended again)"


def expect_error(p: RawProducer, raw: bytes, code: int, leo: int, what: str,
                 partition: int = 0) -> None:
    res = p.send(raw, partition)
    assert res.error_code == code, f"{what}: expected error {code}, got {describe(res)}"
    now = p.leo(partition)
    assert now == leo, f"{what}: log end offset moved from {leo} to {now} after a refused batch"


def init_pid(c: w.WireClient, version: int = 4, **kw) -> int:
    res = c.init_producer_id(version, **kw)
    assert (res.error_code, res.producer_epoch) == (NONE, 0), \
        f"InitProducerId v{version}: expected error 0, epoch 0; got {res}"
    assert res.producer_id >= 0, f"InitProducerId v{version}: negative producer id {res}"
    return res.producer_id


def create_topic_raw(c: w.WireClient, topic: str, partitions: int) -> None:
    def ready():
        res = c.metadata_v4([topic], allow_auto_create=True)
        return res.get(topic) == (0, partitions)
    wait_until(ready, 10, what=f"auto-created topic {topic} with {partitions} partitions")


def consume_values(bootstrap: str, topic: str, partition: int = 0, timeout: float = 30.0) -> list[bytes]:
    """Every value of the partition from offset 0 to its end, in log order."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-idempotence",
                  "enable.auto.commit": False, "enable.auto.offset.store": False,
                  "enable.partition.eof": True, "auto.offset.reset": "error",
                  "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200})
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(f"consumer error on {topic}-{partition}: {m.error()}")
            assert m.offset() == len(out), \
                f"{topic}-{partition}: record at offset {m.offset()} after {len(out)} records"
            out.append(m.value())
        raise AssertionError(f"{topic}-{partition}: no end of partition within {timeout}s "
                             f"({len(out)} records read)")
    finally:
        c.close()


# ---------------------------------------------------------------------------
# (1) raw protocol
# ---------------------------------------------------------------------------

def test_init_producer_id_fresh_ids_never_reused(broker_factory):
    b = broker_factory(name="pid-alloc")
    seen: list[int] = []

    def fresh(c: w.WireClient, version: int, **kw) -> int:
        pid = init_pid(c, version, **kw)
        assert pid not in seen, f"InitProducerId v{version} {kw}: producer id {pid} handed out " \
                                f"before (ids so far {seen})"
        seen.append(pid)
        return pid

    with w.WireClient(b.host, b.port) as c:
        lo, hi = c.api_keys()[22]
        assert lo <= 0 and hi >= 4, f"InitProducerId advertised {lo}..{hi}, expected 0..4"
        first = fresh(c, 4)
        second = fresh(c, 4)
        assert first != second
        for v in range(5):
            fresh(c, v)
        # a non-transactional producer naming its current id/epoch (KIP-360 form)
        # still gets a new id at epoch 0
        fresh(c, 4, producer_id=second, producer_epoch=0)
        fresh(c, 3, producer_id=first, producer_epoch=0)
        # a transactional id draws from the same blocks: a fresh id at epoch
        # 0, then the same id at the next epoch for each new instance
        res = c.init_producer_id(4, transactional_id="txn-1")
        assert res.error_code == 0 and res.producer_epoch == 0, res
        assert res.producer_id not in seen, f"transactional id reused {res.producer_id}"
        seen.append(res.producer_id)
        for epoch, v in ((1, 0), (2, 2), (3, 4)):
            again = c.init_producer_id(v, transactional_id="txn-1")
            assert (again.error_code, again.producer_id, again.producer_epoch) == \
                (0, res.producer_id, epoch), f"transactional InitProducerId v{v}: {again}"

    assert b.restart() == 0, "broker did not exit cleanly on SIGTERM"
    with w.WireClient(b.host, b.port) as c:
        fresh(c, 4)
        fresh(c, 1)

    b.kill()
    b.start()
    with w.WireClient(b.host, b.port) as c:
        fresh(c, 4)
        fresh(c, 0)
    assert len(set(seen)) == len(seen) == 14


def test_raw_sequence_epoch_and_duplicate_rules(broker_factory, topic):
    b = broker_factory(name="idem-rules", **{"num.partitions": "2"})
    with w.WireClient(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topic_raw(c, topic, 2)
        pid = init_pid(c)
        p = RawProducer(c, version, topic, "a")
        log: list[bytes] = []                 # expected values of partition 0, in order
        sent = []                             # (raw, base_offset, values) of appended epoch-0 batches

        # in-order sequences append at consecutive offsets
        seq = 0
        for i in range(8):
            raw, values = p.batch(pid, 0, seq, count=1 + i % 3)
            expect_appended(p, raw, len(log), f"epoch 0 batch #{i} seq {seq}")
            sent.append((raw, len(log), values))
            log += values
            seq += len(values)
        leo = p.leo()
        assert leo == len(log) == 15

        # retries of each of the last five batches: original offsets, nothing appended
        for k in (-5, -4, -3, -2, -1, -1, -3):
            raw, base, _ = sent[k]
            expect_duplicate(p, raw, base, leo, f"retry of batch {len(sent) + k} (offset {base})")

        # the sixth-last batch is no longer in the producer's state
        raw, base, _ = sent[-6]
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo,
                     f"retry of the 6th-last batch (originally at offset {base})")
        # the last batch's first sequence with a different last sequence is no retry
        first_seq_of_last = seq - len(sent[-1][2])
        raw, _ = p.batch(pid, 0, first_seq_of_last, count=len(sent[-1][2]) + 1)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo,
                     f"seq {first_seq_of_last} with another record count than the cached batch")
        # a gap
        raw, _ = p.batch(pid, 0, seq + 1, count=1)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo,
                     f"seq {seq + 1} when {seq} is expected")
        # far ahead
        raw, _ = p.batch(pid, 0, seq + 1000, count=2)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo, f"seq {seq + 1000}")

        # two idempotent batches in one partition's records
        raw1, _ = p.batch(pid, 0, seq, count=1)
        raw2, _ = p.batch(pid, 0, seq + 1, count=1)
        expect_error(p, raw1 + raw2, INVALID_RECORD, leo, "two batches in one partition's records")

        # the refusals left the state alone: the expected sequence is still accepted
        raw, values = p.batch(pid, 0, seq, count=2)
        expect_appended(p, raw, len(log), f"epoch 0 seq {seq} after the refused batches")
        sent.append((raw, len(log), values))
        log += values
        seq += 2
        leo = p.leo()
        assert leo == len(log) == 17

        # a new epoch must start at sequence 0
        raw, _ = p.batch(pid, 1, seq, count=1)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo, f"epoch 1 starting at seq {seq}")
        raw, _ = p.batch(pid, 1, 1, count=1)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo, "epoch 1 starting at seq 1")
        e1_raw, values = p.batch(pid, 1, 0, count=2)
        e1_base = len(log)
        expect_appended(p, e1_raw, e1_base, "epoch 1 seq 0")
        log += values
        leo = p.leo()

        # the older epoch is fenced: new batches and retries alike
        raw, _ = p.batch(pid, 0, seq, count=1)
        expect_error(p, raw, INVALID_PRODUCER_EPOCH, leo, f"epoch 0 seq {seq} after epoch 1")
        raw, base, _ = sent[-1]
        expect_error(p, raw, INVALID_PRODUCER_EPOCH, leo,
                     f"epoch 0 retry of the batch at offset {base} after epoch 1")
        # epoch 1 continues and deduplicates
        expect_duplicate(p, e1_raw, e1_base, leo, "retry of epoch 1 seq 0")
        raw, values = p.batch(pid, 1, 2, count=1)
        expect_appended(p, raw, len(log), "epoch 1 seq 2")
        log += values
        leo = p.leo()

        # state is per partition: partition 1 does not know this producer yet
        q_raw, q_values = p.batch(pid, 1, 77, count=3)
        expect_appended(p, q_raw, 0, "partition 1: first batch of the producer at seq 77",
                        partition=1)
        expect_duplicate(p, q_raw, 0, 3, "partition 1: retry", partition=1)
        raw, values = p.batch(pid, 1, 3, count=1)
        expect_appended(p, raw, len(log), "partition 0: epoch 1 seq 3 after partition 1 traffic")
        log += values

        # an unknown producer may start anywhere; sequences wrap at i32::MAX
        pid2 = init_pid(c)
        raw, values = p.batch(pid2, 0, I32_MAX - 1, count=1)
        expect_appended(p, raw, len(log), f"new producer starting at seq {I32_MAX - 1}")
        log += values
        wrap_raw, values = p.batch(pid2, 0, I32_MAX, count=2)    # sequences I32_MAX, 0
        wrap_base = len(log)
        expect_appended(p, wrap_raw, wrap_base, f"batch at seq {I32_MAX} with 2 records (wraps)")
        log += values
        leo = p.leo()
        expect_duplicate(p, wrap_raw, wrap_base, leo, "retry of the wrapping batch")
        raw, _ = p.batch(pid2, 0, 0, count=1)
        expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo, "seq 0 again after the wrap")
        raw, values = p.batch(pid2, 0, 1, count=1)
        expect_appended(p, raw, len(log), "seq 1 after the wrapping batch")
        log += values
        leo = p.leo()
        assert leo == len(log)

        # a non-idempotent batch in between is not checked
        plain = w.record_batch([w.Rec(None, b"plain", now_ms())])
        expect_appended(p, plain, len(log), "non-idempotent batch")
        log.append(b"plain")

    assert consume_values(b.bootstrap, topic, 0) == log
    assert consume_values(b.bootstrap, topic, 1) == q_values


@pytest.mark.parametrize("segment_bytes", [None, 4096], ids=["default-segments", "4k-segments"])
def test_raw_producer_state_survives_restarts(broker_factory, topic, segment_bytes):
    """kill -9 (replay from the log), SIGTERM (snapshot), kill -9 again
    (snapshot + replay of what came after it)."""
    overrides = {} if segment_bytes is None else {"log.segment.bytes": str(segment_bytes)}
    b = broker_factory(name="idem-restart", **overrides)
    pad = 0 if segment_bytes is None else 300     # a few batches per 4 KB segment
    log: list[bytes] = []
    a_sent: list[tuple[bytes, int]] = []          # producer A, epoch 0
    b_sent: list[tuple[bytes, int]] = []          # producer B, epoch 1 (after one at epoch 0)
    state = {"a_seq": 0, "b_seq": 0}
    pids: list[int] = []

    def append(p, pid, epoch, key, sent, count, what):
        raw, values = p.batch(pid, epoch, state[key], count=count, pad=pad)
        expect_appended(p, raw, len(log), what)
        sent.append((raw, len(log)))
        log.extend(values)
        state[key] += count

    with w.WireClient(b.host, b.port) as c:
        version = w.pick_produce_version(c.api_keys())
        create_topic_raw(c, topic, 1)
        pid_a = init_pid(c)
        pid_b = init_pid(c)
        pids += [pid_a, pid_b]
        p = RawProducer(c, version, topic, "r")
        b_epoch0, values = p.batch(pid_b, 0, 0, count=2, pad=pad)
        expect_appended(p, b_epoch0, 0, "producer B epoch 0 seq 0")
        log.extend(values)
        for i in range(7):
            append(p, pid_a, 0, "a_seq", a_sent, 1 + i % 2, f"producer A batch #{i}")
            if i == 3:
                append(p, pid_b, 1, "b_seq", b_sent, 1, "producer B epoch 1 seq 0")
        assert p.leo() == len(log)

    def check_after(restart: str) -> None:
        with w.WireClient(b.host, b.port) as c:
            p = RawProducer(c, version, topic, f"r-{restart}")
            p.n = 0
            leo = p.leo()
            assert leo == len(log), f"after {restart}: log end offset {leo}, expected {len(log)}"
            for k in range(-5, 0):
                raw, base = a_sent[k]
                expect_duplicate(p, raw, base, leo,
                                 f"after {restart}: retry of producer A's batch at offset {base}")
            raw, base = a_sent[-6]
            expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo,
                         f"after {restart}: retry of producer A's 6th-last batch (offset {base})")
            raw, base = b_sent[-1]
            expect_duplicate(p, raw, base, leo,
                             f"after {restart}: retry of producer B's last batch (epoch 1)")
            expect_error(p, b_epoch0, INVALID_PRODUCER_EPOCH, leo,
                         f"after {restart}: producer B at epoch 0")
            raw, _ = p.batch(pid_a, 0, state["a_seq"] + 1, count=1, pad=pad)
            expect_error(p, raw, OUT_OF_ORDER_SEQUENCE_NUMBER, leo,
                         f"after {restart}: producer A with a gap")
            # the next sequences are appended at the end
            append(p, pid_a, 0, "a_seq", a_sent, 2, f"after {restart}: producer A next seq")
            append(p, pid_b, 1, "b_seq", b_sent, 1, f"after {restart}: producer B next seq")
            append(p, pid_a, 0, "a_seq", a_sent, 1, f"after {restart}: producer A next seq")
            assert p.leo() == len(log)
            pid = init_pid(c)
            assert pid not in pids, f"after {restart}: producer id {pid} handed out again ({pids})"
            pids.append(pid)

    b.kill()
    b.start()
    check_after("kill -9")
    assert b.restart() == 0, "broker did not exit cleanly on SIGTERM"
    check_after("SIGTERM restart")
    b.kill()
    b.start()
    check_after("kill -9 after a clean restart")

    if segment_bytes is not None:
        segments = sorted(x.name for x in b.partition_dir(topic).glob("*.log"))
        assert len(segments) >= 3, f"expected several segments with 4 KB segments, got {segments}"
    got = consume_values(b.bootstrap, topic, 0)
    assert got == log, f"log content differs: {len(got)} records, expected {len(log)}"


# ---------------------------------------------------------------------------
# (2) real clients through a connection-cutting proxy
# ---------------------------------------------------------------------------

N_RECORDS = 3000
N_PARTITIONS = 3
ROUNDS = 60
ROUND_PAUSE_S = 0.04
# Fewer cuts than this and a run proves nothing.
MIN_CUTS = 5


@pytest.fixture
def proxied_broker(broker_factory):
    """A broker that advertises a CuttingProxy's address (so clients reconnect
    through the proxy); yields (broker, proxy)."""
    proxy = CuttingProxy(seed=12345).start()
    try:
        b = broker_factory(name="proxied", start=False, **{
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port}",
            "num.partitions": str(N_PARTITIONS)})
        proxy.upstream = (b.host, b.port)
        b.start()
        yield b, proxy
    finally:
        proxy.close()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                             operation_timeout=10, request_timeout=10)
    fs[topic].result(15)


def payload(client: str, i: int) -> bytes:
    return f"{client}-{i:05d}-p{i % N_PARTITIONS}-".encode().ljust(80, b"x")


def start_cutting(proxy: CuttingProxy, mode: str) -> None:
    if mode == "bytes":
        proxy.cut_by_bytes(4096, 24576, max_cuts=30)
    else:
        proxy.cut_by_age(0.15, 0.25, max_cuts=30)


def verify_partitions(bootstrap, topic, client, results, proxy_stats, min_cuts):
    """results[i] = (error or None, partition, offset) of record i."""
    print(f"{client}: proxy stats {proxy_stats}")
    failed = [(i, r) for i, r in enumerate(results) if r is None or r[0] is not None]
    assert not failed, f"{len(failed)} records without a successful delivery report, " \
                       f"first: {failed[:5]} (proxy {proxy_stats})"
    assert proxy_stats["cuts"] >= min_cuts, f"proxy cut too rarely to test anything: {proxy_stats}"
    assert proxy_stats["produce_responses_lost"] >= 1, \
        f"no Produce response was lost, retries were not exercised: {proxy_stats}"
    n_records = len(results)
    for part in range(N_PARTITIONS):
        expected = [payload(client, i) for i in range(n_records) if i % N_PARTITIONS == part]
        got = consume_values(bootstrap, topic, part)
        counts = collections.Counter(got)
        dups = {v: n for v, n in counts.items() if n > 1}
        assert not dups, f"partition {part}: {len(dups)} values stored more than once, e.g. " \
                         f"{list(dups.items())[:3]} (proxy {proxy_stats})"
        missing = [v for v in expected if v not in counts]
        assert not missing, f"partition {part}: {len(missing)} acknowledged records missing, " \
                            f"e.g. {missing[:3]}"
        if got != expected:
            first = next((i for i, (x, y) in enumerate(zip(got, expected)) if x != y),
                         min(len(got), len(expected)))
            raise AssertionError(
                f"partition {part}: {len(got)} records in the log, {len(expected)} sent; first "
                f"difference at offset {first}: log {got[first:first + 3]!r}, "
                f"sent {expected[first:first + 3]!r}")
        for i in range(part, n_records, N_PARTITIONS):
            _, p, off = results[i]
            assert p == part and 0 <= off < len(got) and got[off] == payload(client, i), \
                f"record {i}: delivery report said partition {p} offset {off}, " \
                f"the log has {got[off] if p == part and off < len(got) else None!r} there"


@pytest.mark.parametrize("mode", ["bytes", "age"])
def test_confluent_idempotent_through_cutting_proxy(proxied_broker, topic, mode):
    b, proxy = proxied_broker
    create_topic(proxy.address, topic, N_PARTITIONS)
    results: list = [None] * N_RECORDS
    p = Producer({"bootstrap.servers": proxy.address, "enable.idempotence": True,
                  "acks": "all", "max.in.flight.requests.per.connection": 5,
                  "linger.ms": 5, "message.timeout.ms": 60000,
                  "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
                  "retry.backoff.ms": 20, "retry.backoff.max.ms": 200,
                  "socket.connection.setup.timeout.ms": 5000})

    def dr(i):
        def cb(err, msg):
            results[i] = (err, msg.partition(), msg.offset())
        return cb

    start_cutting(proxy, mode)
    per_round = N_RECORDS // ROUNDS
    # ROUNDS rounds at least; more (up to three times as many) while the
    # proxy has cut too rarely yet — on a loaded machine librdkafka batches
    # more and sends less often, and age-based cuts need traffic.
    r = 0
    while r < ROUNDS or (r < 3 * ROUNDS and proxy.snapshot()["cuts"] < MIN_CUTS):
        results.extend([None] * max(0, (r + 1) * per_round - len(results)))
        for i in range(r * per_round, (r + 1) * per_round):
            while True:
                try:
                    p.produce(topic, value=payload("ck", i), partition=i % N_PARTITIONS,
                              on_delivery=dr(i))
                    break
                except BufferError:
                    p.poll(0.05)
        p.poll(0)
        time.sleep(ROUND_PAUSE_S)
        r += 1
    left = p.flush(60)
    stats = proxy.snapshot()
    proxy.stop_cutting()
    assert left == 0, f"{left} records still undelivered after 60 s (proxy {stats})"
    verify_partitions(b.bootstrap, topic, "ck", results, stats, min_cuts=MIN_CUTS)


@pytest.mark.parametrize("mode", ["bytes", "age"])
def test_kafka_python_idempotent_through_cutting_proxy(proxied_broker, topic, mode):
    from kafka import KafkaProducer

    b, proxy = proxied_broker
    create_topic(proxy.address, topic, N_PARTITIONS)
    results: list = [None] * N_RECORDS
    p = KafkaProducer(bootstrap_servers=proxy.address, acks="all", linger_ms=5,
                      max_in_flight_requests_per_connection=5,
                      reconnect_backoff_ms=20, reconnect_backoff_max_ms=200,
                      retry_backoff_ms=20, request_timeout_ms=10000,
                      delivery_timeout_ms=60000)
    try:
        assert p.config["enable_idempotence"] is True

        def ok(i):
            return lambda md: results.__setitem__(i, (None, md.partition, md.offset))

        def bad(i):
            return lambda exc: results.__setitem__(i, (exc, None, None))

        start_cutting(proxy, mode)
        per_round = N_RECORDS // ROUNDS
        for r in range(ROUNDS):
            for i in range(r * per_round, (r + 1) * per_round):
                fut = p.send(topic, value=payload("kp", i), partition=i % N_PARTITIONS)
                fut.add_callback(ok(i)).add_errback(bad(i))
            time.sleep(ROUND_PAUSE_S)
        p.flush(timeout=60)
        stats = proxy.snapshot()
        proxy.stop_cutting()
    finally:
        p.close(timeout=10)
    verify_partitions(b.bootstrap, topic, "kp", results, stats, min_cuts=MIN_CUTS)


# ---------------------------------------------------------------------------
# (3) kill -9 under an idempotent producer
# ---------------------------------------------------------------------------

class IdempotentProducerThread(threading.Thread):
    def __init__(self, bootstrap: str, topic: str, partitions: int):
        super().__init__(daemon=True)
        self.topic = topic
        self.partitions = partitions
        self.producer = Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "max.in.flight.requests.per.connection": 5, "linger.ms": 2,
            "message.timeout.ms": 60000, "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 20,
            "retry.backoff.max.ms": 200})
        self.lock = threading.Lock()
        self.acked: dict[tuple[int, int], bytes] = {}    # (partition, offset) -> value
        self.failed: list[tuple[bytes, str]] = []
        self.acked_twice: list[tuple[int, int]] = []
        self.sent: list[bytes] = []
        self.stop_flag = threading.Event()

    def _dr(self, err, msg):
        with self.lock:
            if err is None:
                key = (msg.partition(), msg.offset())
                if key in self.acked:
                    self.acked_twice.append(key)
                self.acked[key] = msg.value()
            else:
                self.failed.append((msg.value(), str(err)))

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            with self.lock:
                outstanding = n - len(self.acked) - len(self.failed)
            if outstanding > 2000:          # keep the backlog (and the run) small
                self.producer.poll(0.01)
                continue
            for _ in range(50):
                value = f"k9-{n:07d}-p{n % self.partitions}-".encode().ljust(64, b"x")
                try:
                    self.producer.produce(self.topic, value=value, partition=n % self.partitions,
                                          on_delivery=self._dr)
                except BufferError:
                    break
                self.sent.append(value)
                n += 1
            self.producer.poll(0.005)


def test_kill9_under_idempotent_confluent_producer(proxied_broker, topic):
    """The producer talks through a proxy that never cuts but, just before each
    kill -9, holds back the broker's responses until at least one Produce
    response is held: the broker has appended batches the producer still
    thinks unacknowledged, which it retries after the restart."""
    b, proxy = proxied_broker
    partitions = 2
    create_topic(proxy.address, topic, partitions)
    t = IdempotentProducerThread(proxy.address, topic, partitions)
    t.start()
    try:
        target = 0
        for cycle in range(2):
            target += 4000
            wait_until(lambda: t.acked_count() >= target, 40,
                       what=f"{target} acknowledged records before kill #{cycle + 1}")
            # the broker appends and answers, the client never hears it: then kill -9
            proxy.hold_responses()
            try:
                wait_until(lambda: proxy.held_produce_responses() > 0, 5, interval=0.005,
                           what="a Produce response held back by the proxy")
                b.kill()
                time.sleep(0.3)
            finally:
                proxy.release_responses()
            b.start()
        wait_until(lambda: t.acked_count() >= target + 3000, 40,
                   what="3000 more acknowledged records after the last restart")
    finally:
        t.stop_flag.set()
        t.join(10)
    left = t.producer.flush(60)
    assert left == 0, f"{left} records undelivered 60 s after the last restart"
    with t.lock:
        acked = dict(t.acked)
        failed = list(t.failed)
    assert not failed, f"{len(failed)} delivery failures, first: {failed[:3]}"
    assert not t.acked_twice, f"(partition, offset) acknowledged for two records: {t.acked_twice[:5]}"
    stats = proxy.snapshot()
    print(f"kill -9 run: {len(acked)} acknowledged, proxy stats {stats}")
    assert stats["produce_lost_upstream_closed"] >= 2, \
        f"expected answered-but-undelivered Produce requests at both kills: {stats}"

    for part in range(partitions):
        got = consume_values(b.bootstrap, topic, part, timeout=60)
        counts = collections.Counter(got)
        dups = sorted(v for v, n in counts.items() if n > 1)
        assert not dups, f"partition {part}: {len(dups)} records stored more than once " \
                         f"(producer retries after kill -9 not deduplicated), e.g. {dups[:3]}"
        mine = {off: v for (p, off), v in acked.items() if p == part}
        wrong = [(off, v, got[off] if off < len(got) else None)
                 for off, v in sorted(mine.items()) if off >= len(got) or got[off] != v]
        assert not wrong, f"partition {part}: {len(wrong)} acknowledged records not at their " \
                          f"acknowledged offset, first (offset, acked, in log): {wrong[:3]}"
        expected = [v for v in t.sent if int(v.split(b"-")[1]) % partitions == part]
        assert got == expected, f"partition {part}: {len(got)} records in the log, " \
                                f"{len(expected)} sent and acknowledged; not the same sequence"
