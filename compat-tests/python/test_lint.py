"""The client-behaviour linter (issue 13 point 4): `GET /lint` names, per
client id, what a Kafka expert would flag in review — each rule fired by a
real client misconfigured on purpose, and silent for a well-behaved one
beside it:
- confluent-kafka without idempotence, whose request is cut after the
  append: it retries and the batch lands twice (`non-idempotent-retry`);
  an idempotent one through the same fault does not;
- kafka-python committing past the high watermark and then backwards
  (`commit-beyond-high-watermark`, `commit-went-backwards`); a
  confluent-kafka consumer committing what it read does not;
- confluent-kafka, kafka-python and the Java client with auto-commit on
  beside commits of what they processed, 15 records behind what poll
  returned: the two committers overwrite each other
  (`auto-commit-with-manual-commits`); the same consumers with
  auto-commit off do not;
- kafka-python with `metadata_max_age_ms=10` (`metadata-storm`); a
  confluent-kafka producer with defaults does not;
- a confluent-kafka transactional producer that never ends its
  transaction (`transaction-timed-out`); one that commits does not;
- confluent-kafka and kafka-python consumers with `heartbeat.interval.ms`
  20 (`heartbeat-storm`); one with the defaults does not;
- confluent-kafka and kafka-python consumers that pause longer than their
  `max.poll.interval.ms` between polls: each leaves its group and rejoins
  (`rebalance-storm`); a consumer that polls steadily does not;
- a producer with 8 idempotent Produce requests in flight
  (`idempotent-in-flight`), then a batch that skips sequences
  (`sequence-gap`): written on the wire, since confluent-kafka and
  kafka-python refuse that configuration (asserted) and number their
  batches; their idempotent producers kept at 5 in flight do not;
- kcat with `broker.version.fallback=0.9.0` and kafka-python with
  `api_version=(0, 10, 1)` send Produce versions Kafka 4 removed
  (`removed-api-version`); confluent-kafka with the defaults does not;
and a `--dev` broker prints the findings when it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import kafka
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as CKTopicPartition
from kafka.structs import OffsetAndMetadata, TopicPartition

import java_client
import kafka_wire
from conftest import FaultPlane, free_port, wait_until

pytestmark = pytest.mark.timeout(180)


def start(broker_factory, **overrides):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                               "admin.fault.plane.enable": "true", **overrides})
    return broker, FaultPlane(port)


def findings(plane: FaultPlane, client_id: str) -> dict[str, dict]:
    status, found = plane.call("GET", "/lint")
    assert status == 200, (status, found)
    return {f["rule"]: f for f in found if f["client_id"] == client_id}


def read_values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "lint-reader",
                         "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([CKTopicPartition(topic, 0, 0)])
    values, deadline = [], time.time() + 20
    while time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            break
        values.append(message.value())
    consumer.close()
    return values


def test_a_retry_without_idempotence_that_duplicates_is_found(broker_factory, topic):
    broker, plane = start(broker_factory)

    def produce(client_id: str, idempotent: bool, values: list[bytes]):
        plane.arm(api="Produce", client_id=client_id, action="disconnect", count=1)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": client_id,
                             "enable.idempotence": idempotent, "acks": "all",
                             "retry.backoff.ms": 50})
        errors = []
        for value in values:
            producer.produce(topic, value=value, partition=0,
                             on_delivery=lambda err, msg: errors.append(err))
        assert producer.flush(30) == 0
        assert errors == [None] * len(values), errors

    produce("careless", False, [b"c1", b"c2"])
    produce("careful", True, [b"i1", b"i2"])
    values = read_values(broker.bootstrap, topic)
    assert values.count(b"c1") == 2, ("the retry duplicated the batch", values)
    assert values.count(b"i1") == 1, values
    found = findings(plane, "careless")
    assert set(found) == {"non-idempotent-retry"}, found
    assert found["non-idempotent-retry"]["evidence"]["duplicates"] >= 1
    assert found["non-idempotent-retry"]["evidence"]["examples"][0]["topic"] == topic
    assert "enable.idempotence=true" in found["non-idempotent-retry"]["fix"]
    assert findings(plane, "careful") == {}


def test_an_idempotent_producer_with_6_in_flight_or_a_sequence_gap_is_found(
        broker_factory, topic):
    broker, plane = start(broker_factory)
    # Every client library refuses this misconfiguration itself...
    with pytest.raises(KafkaException, match="max.in.flight"):
        Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                  "max.in.flight.requests.per.connection": 6})
    with pytest.raises(kafka.errors.KafkaConfigurationError, match="max_in_flight"):
        kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True,
                            max_in_flight_requests_per_connection=6)

    # ...so the one that has 8 in flight writes its requests itself, all at once.
    host, port = broker.bootstrap.split(":")
    with kafka_wire.WireClient(host, int(port)) as wire:
        wait_until(lambda: wire.metadata_v4([topic]).get(topic) == (0, 1), timeout=20,
                   what="the topic created")
        producer = wire.init_producer_id()
        assert producer.error_code == 0, producer
        requests = b"".join(
            kafka_wire.produce_request(9, 100 + sequence, topic, 0, kafka_wire.record_batch(
                [kafka_wire.Rec(None, b"r%d" % sequence, int(time.time() * 1000))],
                producer_id=producer.producer_id, producer_epoch=producer.producer_epoch,
                base_sequence=sequence))
            for sequence in range(8))
        wire.sock.sendall(requests)
        answers = [kafka_wire.parse_produce_response(9, kafka_wire.recv_frame(wire.sock))
                   for _ in range(8)]
        # Then a batch that skips sequences 8 and 9.
        skipped = wire.produce(9, topic, 0, kafka_wire.record_batch(
            [kafka_wire.Rec(None, b"skipped", int(time.time() * 1000))],
            producer_id=producer.producer_id, producer_epoch=producer.producer_epoch,
            base_sequence=10))
    assert skipped.error_code == 45, skipped  # OUT_OF_ORDER_SEQUENCE_NUMBER
    assert [correlation for correlation, _ in answers] == list(range(100, 108))
    assert [(p[(topic, 0)].error_code, p[(topic, 0)].base_offset) for _, p in answers] == \
        [(0, offset) for offset in range(8)]

    # Idempotent producers of both libraries at 5 in flight, kept full.
    confluent = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "five-ck",
                          "enable.idempotence": True, "linger.ms": 0,
                          "max.in.flight.requests.per.connection": 5})
    for i in range(5000):
        confluent.produce(topic, value=b"c%d" % i, partition=0)
    assert confluent.flush(60) == 0
    python = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="five-kp",
                                 enable_idempotence=True, linger_ms=0,
                                 max_in_flight_requests_per_connection=5)
    sends = [python.send(topic, b"p%d" % i, partition=0) for i in range(2000)]
    python.flush(60)
    assert all(send.get(timeout=30) for send in sends)
    python.close()

    found = findings(plane, "gregor-compat")
    assert set(found) == {"idempotent-in-flight", "sequence-gap"}, found
    gap = found["sequence-gap"]["evidence"]
    assert gap["batches"] == 1 and gap["examples"][0]["sequence"] == 10, gap
    assert gap["examples"][0]["topic"] == topic, gap
    evidence = found["idempotent-in-flight"]["evidence"]
    assert evidence["most_in_flight"] == 8, evidence
    assert evidence["requests"] >= 1
    assert evidence["examples"][0]["producer_id"] == producer.producer_id
    assert "max.in.flight.requests.per.connection=5" in found["idempotent-in-flight"]["fix"]
    assert findings(plane, "five-ck") == {}
    assert findings(plane, "five-kp") == {}


def test_commits_past_the_high_watermark_and_backwards_are_found(broker_factory, topic):
    broker, plane = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        producer.produce(topic, value=f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0

    wrong = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id="wrong-offsets",
                                group_id="lint-wrong", enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    wrong.assign([tp])
    wrong.commit({tp: OffsetAndMetadata(110, "", -1)})
    wrong.commit({tp: OffsetAndMetadata(4, "", -1)})
    wrong.close()

    right = Consumer({"bootstrap.servers": broker.bootstrap, "client.id": "right-offsets",
                      "group.id": "lint-right", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
    right.subscribe([topic])
    read = 0
    deadline = time.time() + 30
    while read < 10 and time.time() < deadline:
        message = right.poll(0.5)
        if message is not None and not message.error():
            read += 1
            right.commit(message, asynchronous=False)
    right.close()
    assert read == 10

    found = findings(plane, "wrong-offsets")
    assert set(found) == {"commit-beyond-high-watermark", "commit-went-backwards"}, found
    beyond = found["commit-beyond-high-watermark"]["evidence"]["examples"][0]
    assert (beyond["offset"], beyond["high_watermark"], beyond["group"]) == (110, 10, "lint-wrong")
    back = found["commit-went-backwards"]["evidence"]["examples"][0]
    assert (back["from"], back["to"]) == (110, 4)
    assert findings(plane, "right-offsets") == {}


RECORDS, BEHIND = 60, 15   # commits 15 records behind: more than a poll's 10


def commit_behind_confluent(bootstrap: str, topic: str, client_id: str, auto: bool) -> int:
    """Reads RECORDS records, committing BEHIND short of each tenth."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "client.id": client_id,
                         "group.id": f"lint-{client_id}", "enable.auto.commit": auto,
                         "auto.commit.interval.ms": 20, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    read, deadline = 0, time.time() + 30
    while read < RECORDS and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        read += 1
        done = message.offset() + 1 - BEHIND
        if read % 10 == 0 and done > 0:
            consumer.commit(offsets=[CKTopicPartition(topic, 0, done)], asynchronous=False)
            time.sleep(0.1)  # the auto-commit timer fires
    consumer.close()
    return read


def commit_behind_kafka_python(bootstrap: str, topic: str, client_id: str, auto: bool) -> int:
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=bootstrap, client_id=client_id,
                                   group_id=f"lint-{client_id}", enable_auto_commit=auto,
                                   auto_commit_interval_ms=20, auto_offset_reset="earliest")
    tp = TopicPartition(topic, 0)
    read, deadline = 0, time.time() + 30
    while read < RECORDS and time.time() < deadline:
        records = consumer.poll(timeout_ms=500, max_records=10).get(tp, [])
        read += len(records)
        if records and records[-1].offset + 1 - BEHIND > 0:
            consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1 - BEHIND, "", -1)})
        time.sleep(0.05)  # past the interval: the next poll auto-commits
    consumer.close()
    return read


def commit_behind_java(bootstrap: str, topic: str, client_id: str, auto: bool) -> int:
    lines = java_client.run({"bootstrap.servers": bootstrap, "client.id": client_id,
                             "enable.auto.commit": str(auto).lower(),
                             "auto.commit.interval.ms": "20", "max.poll.records": "10"},
                            "commit-behind", topic, f"lint-{client_id}", str(RECORDS),
                            str(BEHIND))
    return int(lines[-1].removeprefix("read "))


@pytest.mark.parametrize("library, commit_behind", [
    ("confluent", commit_behind_confluent),
    ("kafka-python", commit_behind_kafka_python),
    ("java", commit_behind_java),
])
def test_auto_commit_beside_manual_commits_is_found(broker_factory, topic, library,
                                                    commit_behind):
    broker, plane = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(RECORDS):
        producer.produce(topic, value=f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0

    assert commit_behind(broker.bootstrap, topic, f"{library}-both", True) == RECORDS
    assert commit_behind(broker.bootstrap, topic, f"{library}-manual", False) == RECORDS

    found = findings(plane, f"{library}-both")
    assert "auto-commit-with-manual-commits" in found, found
    seesaw = found["auto-commit-with-manual-commits"]
    assert seesaw["evidence"]["partitions"] == 1
    example = seesaw["evidence"]["examples"][0]
    assert (example["group"], example["topic"], example["partition"]) == \
        (f"lint-{library}-both", topic, 0)
    assert example["drops"] >= 2, example
    offsets = example["recent_offsets"]
    # The application's commits, BEHIND short of what was read, between the
    # auto-commit's higher positions.
    assert any(a > b < c for a, b, c in zip(offsets, offsets[1:], offsets[2:])), offsets
    assert "enable.auto.commit=false" in seesaw["fix"]
    assert findings(plane, f"{library}-manual") == {}


def test_a_metadata_storm_is_found(broker_factory, topic):
    broker, plane = start(broker_factory)
    stormy = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="stormy",
                                 metadata_max_age_ms=10)
    calm = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "calm"})
    stormy.send(topic, b"s").get(timeout=10)
    calm.produce(topic, value=b"c")
    calm.flush(10)
    deadline = time.time() + 3.5
    while time.time() < deadline:
        calm.poll(0.1)
    wait_until(lambda: "metadata-storm" in findings(plane, "stormy"), timeout=30,
               what="the storm found")
    stormy.close()
    storm = findings(plane, "stormy")["metadata-storm"]
    assert storm["evidence"]["requests"] >= 10 and storm["evidence"]["seconds"] >= 2, storm
    assert "metadata.max.age.ms" in storm["fix"]
    assert findings(plane, "calm") == {}


def test_a_transaction_left_open_until_its_timeout_is_found(broker_factory, topic):
    broker, plane = start(
        broker_factory, **{"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"})
    done = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "finisher",
                     "transactional.id": "lint-finisher"})
    done.init_transactions(30)
    done.begin_transaction()
    done.produce(topic, value=b"committed", partition=0)
    done.commit_transaction(30)

    left = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "forgetful",
                     "transactional.id": "lint-forgetful", "transaction.timeout.ms": 1000})
    left.init_transactions(30)
    left.begin_transaction()
    left.produce(topic, value=b"never committed", partition=0)
    assert left.flush(30) == 0
    wait_until(lambda: "transaction-timed-out" in findings(plane, "forgetful"), timeout=30,
               what="the open transaction found")
    timed_out = findings(plane, "forgetful")["transaction-timed-out"]
    assert timed_out["evidence"]["transactions"] == [
        {"transactional_id": "lint-forgetful", "timeout_ms": 1000}]
    assert findings(plane, "finisher") == {}


def poll_for(consumer, seconds: float) -> int:
    """Polls a consumer (either library) for `seconds`; records read."""
    read, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        if isinstance(consumer, Consumer):
            message = consumer.poll(0.1)
            read += message is not None and not message.error()
        else:
            read += sum(len(v) for v in consumer.poll(timeout_ms=100).values())
    return read


def test_a_heartbeat_storm_is_found(broker_factory, topic):
    broker, plane = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, value=b"x")
    assert producer.flush(30) == 0
    common = {"bootstrap.servers": broker.bootstrap, "auto.offset.reset": "earliest"}
    stormy = Consumer({**common, "client.id": "hasty-librdkafka", "group.id": "lint-hb-1",
                       "heartbeat.interval.ms": 20})
    calm = Consumer({**common, "client.id": "calm-librdkafka", "group.id": "lint-hb-2"})
    python = kafka.KafkaConsumer(topic, bootstrap_servers=broker.bootstrap,
                                 client_id="hasty-python", group_id="lint-hb-3",
                                 heartbeat_interval_ms=20)
    for consumer in (stormy, calm):
        consumer.subscribe([topic])
    # Joining takes group.initial.rebalance.delay.ms (3 s); then 3 s more.
    deadline = time.time() + 7
    while time.time() < deadline:
        for consumer in (stormy, calm, python):
            poll_for(consumer, 0.2)
    for consumer in (stormy, calm, python):
        consumer.close()
    for client_id, group in (("hasty-librdkafka", "lint-hb-1"), ("hasty-python", "lint-hb-3")):
        storm = findings(plane, client_id).get("heartbeat-storm")
        assert storm is not None, (client_id, findings(plane, client_id))
        member = storm["evidence"]["members"][0]
        assert member["group"] == group and member["heartbeats"] >= 6, storm
        assert "heartbeat.interval.ms" in storm["fix"]
    assert findings(plane, "calm-librdkafka") == {}


def test_a_consumer_that_polls_too_slowly_for_its_group_is_found(broker_factory, topic):
    # Short timeouts make each pause outlast max.poll.interval.ms.
    broker, plane = start(broker_factory, **{"group.min.session.timeout.ms": "500"})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(30):
        producer.produce(topic, value=f"r{i}".encode())
    assert producer.flush(30) == 0
    common = {"bootstrap.servers": broker.bootstrap, "auto.offset.reset": "earliest"}
    slow = Consumer({**common, "client.id": "slow-librdkafka", "group.id": "lint-slow-1",
                     "session.timeout.ms": 1000, "max.poll.interval.ms": 1000,
                     "heartbeat.interval.ms": 300})
    steady = Consumer({**common, "client.id": "steady-librdkafka", "group.id": "lint-steady",
                       "session.timeout.ms": 1000, "max.poll.interval.ms": 1000,
                       "heartbeat.interval.ms": 300})
    python = kafka.KafkaConsumer(topic, bootstrap_servers=broker.bootstrap,
                                 client_id="slow-python", group_id="lint-slow-2",
                                 session_timeout_ms=1000, max_poll_interval_ms=1000,
                                 heartbeat_interval_ms=300, auto_offset_reset="earliest")
    slow.subscribe([topic])
    steady.subscribe([topic])
    for _ in range(3):
        # Polls that join, then a pause longer than max.poll.interval.ms
        # (the steady consumer keeps polling through it).
        for _ in range(10):
            for consumer in (slow, python, steady):
                poll_for(consumer, 0.1)
        pause = time.time() + 2.5
        while time.time() < pause:
            poll_for(steady, 0.1)
    for _ in range(10):
        for consumer in (slow, python, steady):
            poll_for(consumer, 0.1)
    for consumer in (slow, steady, python):
        consumer.close()
    for client_id, group in (("slow-librdkafka", "lint-slow-1"), ("slow-python", "lint-slow-2")):
        storm = findings(plane, client_id).get("rebalance-storm")
        assert storm is not None, (client_id, findings(plane, client_id))
        assert storm["evidence"]["rejoins"] + storm["evidence"]["expelled"] >= 2, storm
        example = storm["evidence"]["examples"][0]
        assert example["group"] == group and example["max_poll_interval_ms"] == 1000, storm
        assert "max.poll.interval.ms" in storm["fix"]
    # (Its 300 ms heartbeats are a heartbeat storm, rightly.)
    assert "rebalance-storm" not in findings(plane, "steady-librdkafka")


def test_clients_on_api_versions_kafka_4_removed_are_found(broker_factory, topic):
    broker, plane = start(broker_factory)
    kcat = subprocess.run(
        ["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-p", "0",
         "-X", "client.id=old-kcat", "-X", "api.version.request=false",
         "-X", "broker.version.fallback=0.9.0", "-X", "message.timeout.ms=3000"],
        input=b"old\n", capture_output=True, timeout=60)
    assert kcat.returncode != 0, "gregor refuses Produce v0-2, as Kafka 4 does"
    old_python = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="old-python",
                                     api_version=(0, 10, 1), max_block_ms=3000,
                                     request_timeout_ms=2000, retries=0)
    with pytest.raises(kafka.errors.KafkaError):
        old_python.send(topic, b"old", partition=0).get(timeout=10)
    old_python.close(timeout=5)
    current = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "current"})
    current.produce(topic, value=b"new", partition=0)
    assert current.flush(10) == 0

    kcat_found = findings(plane, "old-kcat")["removed-api-version"]
    assert set(kcat_found["evidence"]["requests"]) <= {"Produce v0", "Produce v1", "Produce v2"}
    assert kcat_found["evidence"]["requests"], kcat_found
    python_found = findings(plane, "old-python")["removed-api-version"]
    assert python_found["evidence"]["requests"].get("Produce v2", 0) >= 1, python_found
    assert "api.version.request" in python_found["fix"]
    assert findings(plane, "current") == {}


def test_a_dev_broker_prints_its_findings_when_it_stops(tmp_path):
    binary = os.environ.get("GREGOR_BIN", "target/debug/gregor")
    port = free_port()
    proc = subprocess.Popen([binary, "broker", "--dev", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"localhost:{port}"
        consumer = kafka.KafkaConsumer(bootstrap_servers=f"127.0.0.1:{port}",
                                       client_id="dev-wrong", group_id="dev-lint",
                                       enable_auto_commit=False)
        tp = TopicPartition("dev-lint", 0)
        producer = kafka.KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}")
        producer.send("dev-lint", b"x", partition=0).get(timeout=10)
        producer.close()
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(50, "", -1)})
        consumer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert "gregor lint: 1 finding(s)" in stderr, stderr[-3000:]
    assert "[commit-beyond-high-watermark] client 'dev-wrong'" in stderr, stderr[-3000:]
