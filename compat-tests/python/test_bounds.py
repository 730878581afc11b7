"""Bounds on what a client can make the broker hold (issue 16, point 6).

(1) Fetch sizes (KIP-74), raw wire: a response never carries more than the
    request's max_bytes capped by the broker's fetch.max.bytes, summed over
    its partitions, nor more than a partition's partition_max_bytes; only the
    first batch of the first partition with data may exceed them. Every
    record still arrives.
(2) The same through real clients, their Fetch responses measured by a
    frame-aware proxy: confluent-kafka (fetch.max.bytes,
    max.partition.fetch.bytes, and receive.message.max.bytes just above
    fetch.max.bytes, which makes librdkafka drop any larger response) and
    kafka-python (fetch_max_bytes, max_partition_fetch_bytes).
(3) Partitions per request: a CreateTopics or CreatePartitions that would
    create more than 10,000 partitions is refused whole with
    POLICY_VIOLATION, validate-only too (Kafka 4's controller limit), on the
    raw wire and through confluent-kafka's and kafka-python's admin clients.
(4) Strings: what the coordinators write to __consumer_offsets and
    __transaction_state has i16-length strings; longer ones are refused
    where the request is accepted (INVALID_GROUP_ID, INVALID_REQUEST,
    OFFSET_METADATA_TOO_LARGE even when offset.metadata.max.bytes is set
    higher), never cut into an unreadable record.
(5) Connections: max.connections, max.connections.per.ip (+ overrides),
    connections.max.idle.ms (idle, half-sent, not reading), and
    queued.max.request.bytes; real clients across idle closes.
(6) A hostile load (hostile_load.py): many idle connections, half-sent
    frames claiming 100 MB, bad size prefixes, pipelined requests and slow
    readers that never read; a normal client is served throughout and the
    broker's VmRSS stays within the bound stated in docs/reliability.md.
"""

from __future__ import annotations

import resource
import socket
import time

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import hostile_load
import kafka_wire as w
from conftest import free_port, now_ms, port_accepts, wait_until
from group_harness import GroupWire
from tcp_proxy import CuttingProxy

FETCH = 1
# What a Fetch response frame holds beyond its records (headers, names,
# per-partition fields) for the few partitions these tests fetch.
RESPONSE_OVERHEAD = 1024


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                            replication_factor=1)], operation_timeout=10)
    futures[topic].result(15)


def produce_batches(broker, topic: str, partition: int, sizes: list[int]) -> None:
    """One single-record batch per entry of ``sizes`` (the value's length)."""
    with w.WireClient(broker.host, broker.port) as client:
        version = w.pick_produce_version(client.api_keys())
        for i, size in enumerate(sizes):
            record = w.Rec(key=f"k{partition}-{i}".encode(), value=b"v" * size,
                           timestamp=now_ms())
            result = client.produce(version, topic, partition, w.record_batch([record]))
            assert result.error_code == 0, result


def fetch_everything(broker, topic: str, partitions: int, ends: dict[int, int],
                     max_bytes: int, partition_max_bytes: int,
                     replica_id: int = -1) -> list[dict]:
    """Fetches from offset 0 until every partition reached its end; returns
    each response's {partition: [(base, last) of its batches]} after checking
    its sizes against the limits."""
    offsets = {p: 0 for p in range(partitions)}
    responses = []
    with w.WireClient(broker.host, broker.port) as client:
        for _ in range(200):
            if all(offsets[p] >= ends[p] for p in offsets):
                return responses
            wanted = [(topic, p, offsets[p], partition_max_bytes) for p in offsets]
            result = client.fetch_v4(wanted, max_bytes, replica_id=replica_id)
            sizes = {p: len(result[(topic, p)].records) for p in offsets}
            batches = {p: w.batch_offsets(result[(topic, p)].records) for p in offsets}
            for p in offsets:
                assert result[(topic, p)].error_code == 0, (p, result[(topic, p)])
            first_with_data = next((p for p in offsets if sizes[p]), None)
            for p in offsets:
                if p == first_with_data and len(batches[p]) == 1:
                    continue    # KIP-74: the first batch may be larger than any limit
                assert sizes[p] <= partition_max_bytes, (p, sizes, partition_max_bytes)
            over = sum(sizes.values()) - max_bytes
            if over > 0:
                # only when the first batch alone is larger than the limit
                assert len(batches[first_with_data]) == 1 and sum(
                    s for p, s in sizes.items() if p != first_with_data) == 0, (sizes, max_bytes)
            for p, found in batches.items():
                for base, last in found:
                    assert base == offsets[p], (p, base, offsets[p])
                    offsets[p] = last + 1
            responses.append(batches)
    raise AssertionError(f"not everything fetched after 200 fetches: {offsets} of {ends}")


def test_a_fetch_stays_within_max_bytes_summed_over_its_partitions(broker, topic):
    """Three partitions of 100 kB batches; max_bytes 1,000,000 with a
    per-partition limit of 1 MiB: the first partition may not fill its own
    limit past the request's, and a later one gets no batch that does not
    fit (before the fix: 1,000,800 bytes from the first partition alone)."""
    create_topic(broker.bootstrap, topic, 3)
    for p in range(3):
        produce_batches(broker, topic, p, [100_000] * 12)
    responses = fetch_everything(broker, topic, 3, {p: 12 for p in range(3)},
                                 max_bytes=1_000_000, partition_max_bytes=1_048_576)
    first = responses[0]
    assert [len(first[p]) for p in range(3)] == [9, 0, 0], first
    assert len(responses) >= 4


def test_only_the_first_batch_of_the_first_partition_with_data_may_exceed(broker, topic):
    create_topic(broker.bootstrap, topic, 3)
    produce_batches(broker, topic, 1, [300_000, 10])
    produce_batches(broker, topic, 2, [10_000])
    with w.WireClient(broker.host, broker.port) as client:
        # partition 0 is empty: partition 1's 300 kB batch comes whole, over both
        # limits; partition 2's batch does not fit what is left, so it waits
        result = client.fetch_v4([(topic, p, 0, 50_000) for p in range(3)], 100_000)
        assert [w.batch_offsets(result[(topic, p)].records) for p in range(3)] == [
            [], [(0, 0)], []]
        assert len(result[(topic, 1)].records) > 300_000
        # from there on, nothing may exceed them
        result = client.fetch_v4([(topic, 1, 1, 50_000), (topic, 2, 0, 50_000)], 100_000)
        assert w.batch_offsets(result[(topic, 1)].records) == [(1, 1)]
        assert w.batch_offsets(result[(topic, 2)].records) == [(0, 0)]
        # a later partition gets no batch that does not fit what is left (before
        # the fix, partition 2's 10 kB batch came whole after 90 bytes of 1)
        result = client.fetch_v4([(topic, 1, 1, 100_000), (topic, 2, 0, 100_000)], 5_000)
        assert w.batch_offsets(result[(topic, 1)].records) == [(1, 1)]
        assert result[(topic, 2)].records == b""
        # a partition limit of 0 still lets the first batch through, alone
        result = client.fetch_v4([(topic, 2, 0, 0), (topic, 1, 1, 0)], 100_000)
        assert w.batch_offsets(result[(topic, 2)].records) == [(0, 0)]
        assert result[(topic, 1)].records == b""


def test_the_brokers_fetch_max_bytes_caps_consumers_and_followers(broker_factory, topic):
    """fetch.max.bytes=262144 caps a request asking for 50 MB, a consumer's
    and a follower's (replica_id >= 0) alike, as Kafka's KafkaApis caps both."""
    b = broker_factory(**{"fetch.max.bytes": "262144"})
    create_topic(b.bootstrap, topic, 2)
    for p in range(2):
        produce_batches(b, topic, p, [50_000] * 10)
    for replica_id in (-1, 7):
        responses = fetch_everything(b, topic, 2, {0: 10, 1: 10}, max_bytes=262_144,
                                     partition_max_bytes=10_000_000, replica_id=replica_id)
        with w.WireClient(b.host, b.port) as client:
            result = client.fetch_v4([(topic, p, 0, 10_000_000) for p in range(2)],
                                     50_000_000, replica_id=replica_id)
        total = sum(len(result[(topic, p)].records) for p in range(2))
        assert 0 < total <= 262_144, (replica_id, total)
        assert len(responses) >= 2


# ---------------------------------------------------------------------------
# (2) real clients
# ---------------------------------------------------------------------------

@pytest.fixture
def measured_broker(broker_factory):
    """A broker whose advertised address is a proxy that measures responses."""
    proxy = CuttingProxy(seed=7).start()
    try:
        b = broker_factory(name="measured", start=False, **{
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy.port}"})
        proxy.upstream = (b.host, b.port)
        b.start()
        yield b, proxy
    finally:
        proxy.close()


# 120 kB batches with these limits: two fit one response, a third must wait
# (before the fix it came too, making a 360 kB response).
CLIENT_FETCH_MAX = 300_000
CLIENT_PARTITION_MAX = 200_000
CLIENT_BATCHES = 8


def fill_three_partitions(broker, topic: str) -> None:
    create_topic(broker.bootstrap, topic, 3)
    for p in range(3):
        produce_batches(broker, topic, p, [120_000] * CLIENT_BATCHES)


def assert_fetch_responses_within(proxy: CuttingProxy, max_bytes: int) -> None:
    sizes = proxy.response_sizes(FETCH)
    assert sizes, "no Fetch response went through the proxy"
    assert max(sizes) <= max_bytes + RESPONSE_OVERHEAD, (max(sizes), max_bytes)
    assert max(sizes) > CLIENT_FETCH_MAX // 2, "the limit was never approached"


def test_confluent_kafka_fetch_limits(measured_broker, topic):
    broker, proxy = measured_broker
    fill_three_partitions(broker, topic)
    consumer = Consumer({
        "bootstrap.servers": f"127.0.0.1:{proxy.port}",
        "group.id": f"bounds-{topic}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "fetch.max.bytes": CLIENT_FETCH_MAX,
        "max.partition.fetch.bytes": CLIENT_PARTITION_MAX,
        "message.max.bytes": CLIENT_FETCH_MAX,   # librdkafka: at most fetch.max.bytes
        # librdkafka's smallest allowed: a larger response is an error
        "receive.message.max.bytes": CLIENT_FETCH_MAX + 512,
    })
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        seen = {p: [] for p in range(3)}
        at_end: set[int] = set()
        deadline = time.monotonic() + 60
        while len(at_end) < 3 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                if len(seen[message.partition()]) == CLIENT_BATCHES:
                    at_end.add(message.partition())
                continue
            seen[message.partition()].append(message.offset())
            assert len(message.value()) == 120_000
    finally:
        consumer.close()
    assert seen == {p: list(range(CLIENT_BATCHES)) for p in range(3)}
    assert_fetch_responses_within(proxy, CLIENT_FETCH_MAX)


def test_kafka_python_fetch_limits(measured_broker, topic):
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTopicPartition

    broker, proxy = measured_broker
    fill_three_partitions(broker, topic)
    consumer = KafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{proxy.port}",
        enable_auto_commit=False,
        fetch_max_bytes=CLIENT_FETCH_MAX,
        max_partition_fetch_bytes=CLIENT_PARTITION_MAX,
        consumer_timeout_ms=20_000,
    )
    try:
        partitions = [KTopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen = {p: [] for p in range(3)}
        for message in consumer:
            seen[message.partition].append(message.offset)
            assert len(message.value) == 120_000
            if sum(len(v) for v in seen.values()) == 3 * CLIENT_BATCHES:
                break
    finally:
        consumer.close()
    assert seen == {p: list(range(CLIENT_BATCHES)) for p in range(3)}
    assert_fetch_responses_within(proxy, CLIENT_FETCH_MAX)


# ---------------------------------------------------------------------------
# (3) partitions per request
# ---------------------------------------------------------------------------

POLICY_VIOLATION = 44
TOO_MANY = "Excessively large number of partitions per request."


def test_create_topics_refuses_more_than_10000_partitions_in_one_request(broker, make_topic):
    a, b = make_topic("a"), make_topic("b")
    with w.WireClient(broker.host, broker.port) as client:
        for validate_only in (True, False):
            result = client.create_topics_v4([(a, 5_000, 1), (b, 5_001, 1)],
                                             validate_only=validate_only)
            assert result == {a: (POLICY_VIOLATION, TOO_MANY), b: (POLICY_VIOLATION, TOO_MANY)}
        # exactly the limit passes (validated only: creating it would be slow)
        result = client.create_topics_v4([(a, 5_000, 1), (b, 5_000, 1)], validate_only=True)
        assert {name: code for name, (code, _) in result.items()} == {a: 0, b: 0}
        assert client.metadata_v4([a, b], allow_auto_create=False) == {
            a: (3, 0), b: (3, 0)}, "nothing was created"


def test_create_partitions_refuses_more_than_10000_new_partitions(broker, topic):
    create_topic(broker.bootstrap, topic, 2)
    with w.WireClient(broker.host, broker.port) as client:
        for validate_only in (True, False):
            result = client.create_partitions_v1([(topic, 10_003)], validate_only=validate_only)
            assert result == {topic: (POLICY_VIOLATION, TOO_MANY)}
        result = client.create_partitions_v1([(topic, 10_002)], validate_only=True)
        assert result[topic][0] == 0, result
        assert client.metadata_v4([topic], allow_auto_create=False) == {topic: (0, 2)}


def test_admin_clients_see_policy_violation(broker, make_topic, topic):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewPartitions
    from kafka.admin import KafkaAdminClient
    from kafka.admin import NewTopic as KNewTopic
    from kafka.errors import PolicyViolationError

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    big = make_topic("big")
    futures = admin.create_topics([NewTopic(big, num_partitions=10_001, replication_factor=1)],
                                  validate_only=True, request_timeout=15)
    with pytest.raises(KafkaException) as refused:
        futures[big].result(20)
    assert refused.value.args[0].code() == KafkaError.POLICY_VIOLATION
    create_topic(broker.bootstrap, topic, 1)
    futures = admin.create_partitions([NewPartitions(topic, 10_002)], validate_only=True,
                                      request_timeout=15)
    with pytest.raises(KafkaException) as refused:
        futures[topic].result(20)
    assert refused.value.args[0].code() == KafkaError.POLICY_VIOLATION

    kafka_admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        with pytest.raises(PolicyViolationError):
            kafka_admin.create_topics([KNewTopic(make_topic("kp"), 10_001, 1)],
                                      validate_only=True, raise_errors=True)
    finally:
        kafka_admin.close()


# ---------------------------------------------------------------------------
# (4) strings in the coordinators' records
# ---------------------------------------------------------------------------

INVALID_GROUP_ID = 24
INVALID_REQUEST = 42
OFFSET_METADATA_TOO_LARGE = 12
TOO_LONG = 40_000       # bytes: more than an i16 length holds


def test_strings_too_long_for_the_internal_records_are_refused(broker, topic):
    create_topic(broker.bootstrap, topic, 1)
    wire = GroupWire(broker.host, broker.port)
    try:
        # flexible versions carry compact strings, which can be longer than 32767
        commit = wire.call("OffsetCommit", 8, group_id="g" * TOO_LONG, generation_id=-1,
                           member_id="", topics=[{"name": topic, "partitions": [
                               {"partition_index": 0, "committed_offset": 1,
                                "committed_leader_epoch": -1, "committed_metadata": ""}]}])
        assert commit["topics"][0]["partitions"][0]["error_code"] == INVALID_GROUP_ID
        join = dict(group_id=f"g-{topic}", session_timeout_ms=10_000, rebalance_timeout_ms=10_000,
                    member_id="", protocol_type="consumer",
                    protocols=[{"name": "range", "metadata": b""}])
        for field, value in [("group_instance_id", "i" * TOO_LONG),
                             ("protocol_type", "t" * TOO_LONG),
                             ("protocols", [{"name": "p" * TOO_LONG, "metadata": b""}])]:
            answer = wire.call("JoinGroup", 6, **dict(join, **{field: value}))
            assert answer["error_code"] == INVALID_REQUEST, (field, answer["error_code"])
    finally:
        wire.close()
    with w.WireClient(broker.host, broker.port) as client:
        answer = client.init_producer_id(version=4, transactional_id="x" * TOO_LONG)
        assert answer.error_code == INVALID_REQUEST


def test_offset_metadata_stays_within_what_a_record_holds(broker_factory, topic):
    """offset.metadata.max.bytes above 32767 does not let a longer metadata
    string through (before: it was cut, the record unreadable on reload)."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTopicPartition
    from kafka.errors import OffsetMetadataTooLargeError
    from kafka.structs import OffsetAndMetadata

    b = broker_factory(**{"offset.metadata.max.bytes": "100000",
                          "group.initial.rebalance.delay.ms": "0"})
    create_topic(b.bootstrap, topic, 1)
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=f"kp-{topic}",
                             enable_auto_commit=False)
    try:
        tp = KTopicPartition(topic, 0)
        consumer.assign([tp])
        with pytest.raises(OffsetMetadataTooLargeError):
            consumer.commit({tp: OffsetAndMetadata(3, "m" * TOO_LONG, -1)})
        consumer.commit({tp: OffsetAndMetadata(4, "m" * 30_000, -1)})
        assert consumer.committed(tp, metadata=True).metadata == "m" * 30_000
    finally:
        consumer.close()

    confluent = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"ck-{topic}",
                          "enable.auto.commit": False})
    try:
        with pytest.raises(Exception) as refused:
            confluent.commit(offsets=[TopicPartition(topic, 0, 3, metadata="m" * TOO_LONG)],
                             asynchronous=False)
        assert "OFFSET_METADATA_TOO_LARGE" in str(refused.value), refused.value
    finally:
        confluent.close()


# ---------------------------------------------------------------------------
# (5) connections: limits, idle timeout, queued request bytes
# ---------------------------------------------------------------------------

def served(sock, correlation_id: int = 7) -> bool:
    """Whether an ApiVersions on ``sock`` is answered."""
    try:
        return w.api_versions_v0(sock, correlation_id).correlation_id == correlation_id
    except (OSError, ConnectionError, ValueError):
        return False


def wait_for_log(broker, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in broker.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {text!r} in the broker log"
        time.sleep(0.1)


def hold_connections(broker, n: int) -> list:
    """``n`` served connections, once the start-up probe's connection (the
    test harness's) has been closed on the broker's side too."""
    deadline = time.monotonic() + 10
    while True:
        held = [w.connect(broker.host, broker.port) for _ in range(n)]
        if all(served(s) for s in held):
            return held
        for s in held:
            s.close()
        assert time.monotonic() < deadline, f"{n} connections were never all served"
        time.sleep(0.2)


def test_a_connection_over_its_address_limit_is_closed_at_once(broker_factory):
    b = broker_factory(**{"max.connections.per.ip": "3"})
    held = hold_connections(b, 3)
    try:
        extra = w.connect(b.host, b.port)
        closed, got = w.wait_closed(extra, 10)
        assert closed and got == b"", "the fourth connection from 127.0.0.1 was not closed"
        wait_for_log(b, "Rejected connection from 127.0.0.1, address already has the "
                        "configured maximum of 3 connections.")
        held.pop().close()
        # the slot is free once the broker has seen the close
        deadline = time.monotonic() + 10
        while True:
            with w.connect(b.host, b.port) as again:
                if served(again):
                    break
            assert time.monotonic() < deadline, "a closed connection never freed its slot"
            time.sleep(0.1)
    finally:
        for s in held:
            s.close()


def test_overrides_give_an_address_its_own_limit(broker_factory):
    b = broker_factory(**{"max.connections.per.ip": "0",
                          "max.connections.per.ip.overrides": "localhost:2,10.9.9.9:50"})
    held = hold_connections(b, 2)
    try:
        extra = w.connect(b.host, b.port)
        closed, _ = w.wait_closed(extra, 10)
        assert closed, "the third connection from localhost (127.0.0.1) was not closed"
    finally:
        for s in held:
            s.close()


def test_at_max_connections_new_clients_wait_until_one_closes(broker_factory):
    """Kafka blocks its acceptor at max.connections: the new client's
    request is answered only once another connection closes."""
    b = broker_factory(**{"max.connections": "3"})
    held = hold_connections(b, 3)
    try:
        waiting = w.connect(b.host, b.port)       # the kernel completes the handshake
        waiting.sendall(w.frame(w.request_header(18, 0, 99)))
        waiting.settimeout(1.5)
        with pytest.raises(TimeoutError):
            waiting.recv(1)
        wait_for_log(b, "max.connections reached")
        held.pop().close()
        waiting.settimeout(10)
        assert w.parse_api_versions_v0(w.recv_frame(waiting)).correlation_id == 99
        waiting.close()
    finally:
        for s in held:
            s.close()


def test_idle_and_stalled_connections_are_closed_after_connections_max_idle_ms(broker_factory):
    b = broker_factory(**{"connections.max.idle.ms": "1000"})
    silent = w.connect(b.host, b.port)
    half_sent = w.connect(b.host, b.port)
    half_sent.sendall(w.i32(100_000) + b"x" * 1_000)      # a frame that never completes
    prefix_only = w.connect(b.host, b.port)
    prefix_only.sendall(b"\x00\x00")                       # half a size prefix
    busy = w.connect(b.host, b.port)
    try:
        # a connection in use every 300 ms outlives the others
        start = time.monotonic()
        while time.monotonic() - start < 3:
            assert served(busy)
            time.sleep(0.3)
        for name, sock in [("silent", silent), ("half-sent frame", half_sent),
                           ("half a size prefix", prefix_only)]:
            closed, _ = w.wait_closed(sock, 10)
            assert closed, f"{name} connection still open"
        wait_for_log(b, "closing connection idle past connections.max.idle.ms")
    finally:
        for s in (silent, half_sent, prefix_only, busy):
            s.close()


def test_a_client_that_never_reads_its_responses_is_closed(broker_factory, topic):
    b = broker_factory(**{"connections.max.idle.ms": "1000"})
    create_topic(b.bootstrap, topic, 1)
    produce_batches(b, topic, 0, [500_000] * 8)
    reader = w.connect(b.host, b.port)
    try:
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for correlation_id in range(20):     # 4 MB each, never read
            reader.sendall(w.fetch_v4_request(correlation_id, [(topic, 0, 0, 10_000_000)],
                                              10_000_000))
        wait_for_log(b, "during=\"writing a response\"")
        with w.connect(b.host, b.port) as other:
            assert served(other)
    finally:
        reader.close()


def test_queued_max_request_bytes_holds_requests_until_the_pool_has_room(broker_factory, topic):
    """With queued.max.request.bytes=1,000,000, a request claiming 900,000
    bytes holds them while it is read; a 200,000-byte request waits for
    them, a small one does not."""
    b = broker_factory(**{"queued.max.request.bytes": "1000000"})
    create_topic(b.bootstrap, topic, 1)
    stalled = w.connect(b.host, b.port)
    stalled.sendall(w.i32(900_000) + b"\x00" * 1_000)
    time.sleep(1.0)                      # the broker reserves its 900,000 bytes at once
    large = w.connect(b.host, b.port)
    small = w.connect(b.host, b.port)
    try:
        version = w.pick_produce_version(w.api_versions_v0(small).api_keys)
        assert served(small), "a small request fits what is left"
        batch = w.record_batch([w.Rec(key=b"k", value=b"v" * 200_000, timestamp=now_ms())])
        large.sendall(w.produce_request(version, 5, topic, 0, batch))
        large.settimeout(1.5)
        with pytest.raises(TimeoutError):
            large.recv(1)
        stalled.close()                  # its reservation goes with it
        large.settimeout(10)
        _, results = w.parse_produce_response(version, w.recv_frame(large))
        assert results[(topic, 0)].error_code == 0
    finally:
        for s in (stalled, large, small):
            s.close()


def test_clients_carry_on_across_idle_disconnects(broker_factory, topic):
    """confluent-kafka and kafka-python reconnect when the broker closes
    their idle connections, and lose nothing."""
    from kafka import KafkaProducer

    b = broker_factory(**{"connections.max.idle.ms": "1000"})
    create_topic(b.bootstrap, topic, 1)
    from confluent_kafka import Producer
    confluent = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    kafka_python = KafkaProducer(bootstrap_servers=b.bootstrap, linger_ms=0)
    try:
        for round_ in range(2):
            confluent.produce(topic, key=b"ck", value=f"confluent-{round_}".encode(), partition=0)
            assert confluent.flush(15) == 0
            kafka_python.send(topic, key=b"kp", value=f"kafka-python-{round_}".encode(),
                              partition=0).get(timeout=15)
            time.sleep(2.5)              # idle past connections.max.idle.ms
        wait_for_log(b, 'during="waiting for a request"')
    finally:
        kafka_python.close()
    consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"idle-{topic}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values = []
        while True:
            message = consumer.poll(10)
            assert message is not None, values
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF
                break
            values.append(message.value().decode())
    finally:
        consumer.close()
    assert sorted(values) == ["confluent-0", "confluent-1", "kafka-python-0", "kafka-python-1"]



# ---------------------------------------------------------------------------
# (6) a hostile load
# ---------------------------------------------------------------------------

HOSTILE_IDLE_MS = 4_000
HOSTILE_TOPIC_BYTES = 20 * 100_000


def hostile_bound_kib(opened: dict[str, int]) -> int:
    """What the load may make the broker hold, as docs/reliability.md states
    it: 64 KiB of read buffer per connection; per connection that does not
    read its responses, one response, twice while it is encoded (a slow
    fetcher's is the whole topic, 2 MB); and 32 MiB for the rest (the probe,
    the allocator's slack)."""
    connections = sum(opened.values())
    responses = opened["slow_fetchers"] * 2 * HOSTILE_TOPIC_BYTES // 1024
    return connections * 64 + responses + 32 * 1024


def test_a_hostile_load_leaves_the_broker_serving_within_its_memory_bound(broker_factory, topic):
    # ~450 sockets here and as many in the broker (which inherits the limit)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    b = broker_factory(**{"connections.max.idle.ms": str(HOSTILE_IDLE_MS)})
    create_topic(b.bootstrap, topic, 2)
    hostile_load.fill_topic(b.host, b.port, topic, 20, 100_000)

    def confluent_round_trip():
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
        producer.produce(topic, key=b"real", value=b"client", partition=1)
        assert producer.flush(30) == 0
        consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"h-{topic}",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            consumer.assign([TopicPartition(topic, 1, 0)])
            message = consumer.poll(30)
            assert message is not None and not message.error(), message
            assert message.value() == b"client"
        finally:
            consumer.close()

    report, baseline, peak = hostile_load.run(b.host, b.port, b.proc.pid, topic, scale=1,
                                              seconds=6, idle_ms=HOSTILE_IDLE_MS,
                                              client_check=confluent_round_trip)
    growth = peak - baseline
    bound = hostile_bound_kib(report.opened)
    print(f"hostile load: {report}; VmRSS {baseline} KiB before, peak {peak} KiB "
          f"(+{growth} KiB, bound +{bound} KiB)")
    assert b.running
    assert report.probe_rounds >= 20, report
    # everything the broker should close, it closed: at once or once idle
    assert report.closed_by_broker == report.opened, report
    assert growth <= bound, (growth, bound)


def _vm_kib(broker, field: str) -> int:
    for line in open(f"/proc/{broker.proc.pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing")


def test_the_controller_port_allocates_what_arrives_not_what_is_claimed(broker_factory):
    """The controller listener is open to whoever reaches it: 100 frames
    that each claim 60 MB and send 16 bytes must not make the broker map
    6 GB (it did: the body was allocated from the size prefix)."""
    controller = free_port()
    b = broker_factory(start=False)
    b.overrides.update({
        "listeners": f"PLAINTEXT://127.0.0.1:{b.port},CONTROLLER://127.0.0.1:{controller}",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": f"1@127.0.0.1:{controller}",
    })
    b.start()
    # The client port opens first; the controller's when its quorum starts.
    wait_until(lambda: port_accepts("127.0.0.1", controller), 20, what="the controller port")
    peak_before = _vm_kib(b, "VmPeak")
    held = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", controller), timeout=10)
            s.sendall((60 * 1024 * 1024).to_bytes(4, "big") + b"{" * 16)
            held.append(s)
        time.sleep(1)
        grown_mib = (_vm_kib(b, "VmPeak") - peak_before) // 1024
        assert grown_mib < 1024, f"the address space grew by {grown_mib} MiB"
    finally:
        for s in held:
            s.close()
    # The quorum still works: a topic can be created.
    create_topic(b.bootstrap, "after-hostile-controller-frames", 1)
