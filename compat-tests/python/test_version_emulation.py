"""Kafka-version emulation (issue 13 point 5): `gregor broker --emulate-kafka
3.6` advertises and accepts only what Kafka 3.6's brokers served (the
ranges come from 3.6's own message schemas), so an application can be
tested against the Kafka its production runs:
- Kafka's own `kafka-broker-api-versions.sh` sees 3.6's ranges (Produce
  up to v9, Fetch v15, Metadata v12) and no KIP-848 or
  DescribeTopicPartitions;
- kafka-python's broker-version probe says 3.0 of a broker emulating 3.0,
  and 3.5 or 3.6 of one emulating 3.6;
- the Java consumer with `group.protocol=consumer` is refused as by a 3.6
  broker, and with the classic protocol it works; librdkafka produces and
  consumes at 3.6's versions;
- Kafka 4.0 and 4.1 (from their schemas too): Kafka's tool sees KIP-896's
  floors, Produce up to v12 on 4.0 and v13 on 4.1, OffsetCommit without
  topic ids (v9), and 4.0's metadata.version (4.0-IV3); librdkafka's KIP-848 consumer and kafka-python read what
  was produced to a 4.0;
- an unknown release stops start-up with the list of known ones."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer

import java_client
from conftest import free_port

pytestmark = pytest.mark.timeout(180)

GREGOR_BIN = os.environ.get("GREGOR_BIN", "target/debug/gregor")


class Emulating:
    def __init__(self, release: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [GREGOR_BIN, "broker", "--dev", "--port", str(self.port), "--emulate-kafka", release],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == f"localhost:{self.port}"
        self.bootstrap = f"127.0.0.1:{self.port}"

    def close(self):
        self.proc.terminate()
        assert self.proc.wait(20) == 0


@pytest.fixture(scope="module")
def kafka_3_6():
    broker = Emulating("3.6")
    yield broker
    broker.close()


def api_versions(bootstrap: str) -> dict[str, str]:
    out = java_client.run_tool("org.apache.kafka.tools.BrokerApiVersionsCommand",
                               "--bootstrap-server", bootstrap)
    return {m.group(1): m.group(2) for m in re.finditer(r"\t(\w+)\(\d+\): ([^,\n]+)", out)}


def test_kafka_broker_api_versions_sees_kafka_3_6(kafka_3_6):
    seen = api_versions(kafka_3_6.bootstrap)
    assert seen["Produce"] == "0 to 9 [usable: 9]"
    assert seen["Fetch"] == "4 to 15 [usable: 15]"
    assert seen["Metadata"] == "0 to 12 [usable: 12]"
    assert seen["ConsumerGroupHeartbeat"] == "UNSUPPORTED"
    assert seen["DescribeTopicPartitions"] == "UNSUPPORTED"
    # gregor's own ranges when it emulates nothing.
    port = free_port()
    own = subprocess.Popen([GREGOR_BIN, "broker", "--dev", "--port", str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        own.stdout.readline()
        seen = api_versions(f"127.0.0.1:{port}")
        assert seen["ConsumerGroupHeartbeat"] != "UNSUPPORTED"
        assert not seen["Produce"].startswith("0 to 9 ")
    finally:
        own.terminate()
        own.wait(20)


def test_kafka_python_probes_the_emulated_release(kafka_3_6):
    from kafka import KafkaConsumer

    def probe(bootstrap):
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            return consumer._client.check_version()
        finally:
            consumer.close()

    assert probe(kafka_3_6.bootstrap) in ((3, 5), (3, 6))
    kafka_3_0 = Emulating("3.0")
    try:
        assert probe(kafka_3_0.bootstrap) == (3, 0)
    finally:
        kafka_3_0.close()


def test_clients_see_a_3_6_broker(kafka_3_6):
    topic = "emulated"
    config = {"bootstrap.servers": kafka_3_6.bootstrap}
    with pytest.raises(java_client.JavaClientError) as refused:
        java_client.run({**config, "group.protocol": "consumer"}, "consume", topic, "kip848", "1",
                        timeout=60)
    assert "UnsupportedVersion" in str(refused.value), str(refused.value)[-2000:]

    producer = Producer({**config, "enable.idempotence": True})
    delivered = []
    for i in range(5):
        producer.produce(topic, value=f"v{i}".encode(), partition=0,
                         on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert delivered == [(None, i) for i in range(5)]
    consumed = java_client.run({**config, "group.protocol": "classic"}, "consume", topic,
                               "classic-on-3.6", "5", timeout=90)
    assert [line for line in consumed if line.startswith("record")] == \
        [f"record {i} v{i}" for i in range(5)]
    consumer = Consumer({**config, "group.id": "ck-on-3.6", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    while len(values) < 5:
        message = consumer.poll(10)
        assert message is not None, values
        if not message.error():
            values.append(message.value())
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(5)]


def test_kafka_4_0_and_4_1_are_emulated():
    from kafka import KafkaConsumer

    kafka_4_0 = Emulating("4.0")
    try:
        seen = api_versions(kafka_4_0.bootstrap)
        # Produce's advertised floor stays 0 for librdkafka (KAFKA-18659).
        assert seen["Produce"] == "0 to 12 [usable: 12]"
        assert seen["Fetch"] == "4 to 17 [usable: 17]"
        assert seen["OffsetCommit"] == "2 to 9 [usable: 9]"
        assert seen["ConsumerGroupHeartbeat"] == "0 to 1 [usable: 1]"
        # Its features as a 4.0 cluster's: metadata.version tops at 4.0-IV3.
        features = java_client.run_tool("org.apache.kafka.tools.FeatureCommand",
                                        "--bootstrap-server", kafka_4_0.bootstrap, "describe")
        assert re.search(r"Feature: metadata.version\s+SupportedMinVersion: 3.3-IV3\s+"
                         r"SupportedMaxVersion: 4.0-IV3\s+FinalizedVersionLevel: 4.0-IV3",
                         features), features
        config = {"bootstrap.servers": kafka_4_0.bootstrap}
        producer = Producer(config)
        for i in range(5):
            producer.produce("on-4.0", value=f"v{i}".encode(), partition=0)
        assert producer.flush(30) == 0
        consumer = Consumer({**config, "group.id": "kip848-on-4.0", "group.protocol": "consumer",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["on-4.0"])
        values = []
        deadline = time.time() + 60
        while len(values) < 5 and time.time() < deadline:
            message = consumer.poll(1)
            if message is not None and not message.error():
                values.append(message.value())
        consumer.close()
        assert values == [f"v{i}".encode() for i in range(5)]
        python = KafkaConsumer("on-4.0", bootstrap_servers=kafka_4_0.bootstrap,
                               auto_offset_reset="earliest", consumer_timeout_ms=10000)
        assert [m.value for m in python] == [f"v{i}".encode() for i in range(5)]
        python.close()
    finally:
        kafka_4_0.close()
    kafka_4_1 = Emulating("4.1")
    try:
        seen = api_versions(kafka_4_1.bootstrap)
        assert seen["Produce"] == "0 to 13 [usable: 13]"
        assert seen["OffsetCommit"] == "2 to 9 [usable: 9]"
    finally:
        kafka_4_1.close()


def test_an_unknown_release_stops_start_up():
    done = subprocess.run([GREGOR_BIN, "broker", "--dev", "--port", "0", "--emulate-kafka", "2.8"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "gregor cannot emulate Kafka 2.8: it knows 3.0, 3.1" in done.stderr, done.stderr[-2000:]
