"""The admin HTTP listener: /health and Prometheus /metrics, checked against
what confluent-kafka and kafka-python did."""

import re
import time
import urllib.error
import urllib.request

import kafka
from confluent_kafka import Producer

from conftest import free_port, kafka_python_knows


def scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def sample(text: str, name: str, **labels) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{selector}}}" if labels else name) + r" (\S+)$"
    values = [float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE)]
    assert len(values) == 1, f"{name} {labels}: {values}\n{text}"
    return values[0]


def test_health_and_metrics_reflect_clients(broker_factory, topic):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}", "group.initial.rebalance.delay.ms": "0"})
    assert scrape(port, "/health") == "ok\n"

    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(25):
        producer.produce(topic, key=b"k%d" % i, value=b"v" * 50)
    assert producer.flush(15) == 0

    group = f"metrics-{topic}"
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                                   auto_offset_reset="earliest", enable_auto_commit=False)
    kafka_python_knows(consumer, [topic])
    got, deadline = 0, time.time() + 30
    while got < 25 and time.time() < deadline:
        got += sum(len(records) for records in consumer.poll(timeout_ms=500).values())
    assert got == 25
    partition = kafka.TopicPartition(topic, 0)
    consumer.commit({partition: kafka.OffsetAndMetadata(10, "", -1)})

    text = scrape(port)
    assert sample(text, "gregor_partition_log_end_offset", topic=topic, partition=0) == 25
    assert sample(text, "gregor_partition_log_start_offset", topic=topic, partition=0) == 0
    assert sample(text, "gregor_partition_size_bytes", topic=topic, partition=0) > 25 * 50
    assert sample(text, "gregor_topic_bytes_in_total", topic=topic) > 25 * 50
    assert sample(text, "gregor_topic_bytes_out_total", topic=topic) >= sample(
        text, "gregor_topic_bytes_in_total", topic=topic)
    assert sample(text, "gregor_group_lag", group=group, topic=topic, partition=0) == 15
    assert sample(text, "gregor_requests_total", api="Produce") >= 1
    assert sample(text, "gregor_requests_total", api="JoinGroup") >= 1
    assert sample(text, "gregor_request_seconds_sum", api="Fetch") > 0
    assert sample(text, "gregor_connections") >= 1
    consumer.close()

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=10)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as error:
        assert error.code == 404


def test_changes_need_a_json_content_type(broker_factory):
    """A web page can make a browser POST to a local port cross-site only
    without `Content-Type: application/json`: such requests arm nothing."""
    port = free_port()
    broker_factory(**{"admin.listener": f"127.0.0.1:{port}", "admin.fault.plane.enable": "true"})
    fault = b'{"api": "Produce", "action": {"error": 6}, "count": 1}'
    for method, path, data in [("POST", "/faults", fault), ("POST", "/faults/disk",
                                b'{"op": "write", "errno": "EIO"}'),
                               ("DELETE", "/faults", None),
                               ("POST", "/partitions/t/0/pause", None)]:
        for headers in [{}, {"Content-Type": "text/plain"},
                        {"Content-Type": "application/x-www-form-urlencoded"}]:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                             method=method, headers=headers)
            try:
                urllib.request.urlopen(request, timeout=10)
                raise AssertionError(f"{method} {path} {headers} was accepted")
            except urllib.error.HTTPError as error:
                assert error.code == 415, (method, path, headers, error.code)
    assert scrape(port, "/faults") == "[]"
    assert scrape(port, "/faults/disk") == "[]"
    # With the header, the same fault is armed.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/faults", data=fault, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
    assert scrape(port, "/faults") != "[]"


def _call(port: int, method: str, path: str, data: bytes | None = None,
          headers: dict | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_fault_plane_is_off_unless_enabled(broker_factory):
    port = free_port()
    broker_factory(**{"admin.listener": f"127.0.0.1:{port}"})
    fault = b'{"api": "Produce", "action": {"error": 6}, "count": 1}'
    assert _call(port, "POST", "/faults", fault) == 404
    assert _call(port, "POST", "/faults/disk", b'{"op": "write", "errno": "EIO"}') == 404
    assert _call(port, "POST", "/partitions/t/0/pause") == 404
    assert _call(port, "GET", "/faults") == 404
    assert scrape(port, "/health") == "ok\n"
    assert "gregor_connections" in scrape(port)


def test_an_admin_token_guards_everything_but_metrics_and_health(broker_factory):
    port = free_port()
    broker_factory(**{"admin.listener": f"127.0.0.1:{port}", "admin.fault.plane.enable": "true",
                      "admin.listener.token": "s3cret-token"})
    fault = b'{"api": "Produce", "action": {"error": 6}, "count": 1}'
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"},
                    {"Authorization": "Bearer s3cret-token-and-more"}]:
        assert _call(port, "POST", "/faults", fault, headers) == 401, headers
        assert _call(port, "GET", "/journal", None, headers) == 401, headers
    bearer = {"Authorization": "Bearer s3cret-token"}
    assert _call(port, "GET", "/faults", None, bearer) == 200
    assert _call(port, "POST", "/faults", fault, bearer) == 201
    assert _call(port, "DELETE", "/faults", None, bearer) == 204
    assert scrape(port, "/health") == "ok\n"
    assert "gregor_connections" in scrape(port)
