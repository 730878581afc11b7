"""The fault plane on the admin listener: exact, deterministic faults that
real clients must ride through (confluent-kafka and kafka-python)."""

import time

import kafka
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import FaultPlane, free_port, wait_until

NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7


def start(broker_factory):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                               "admin.fault.plane.enable": "true"})
    return broker, FaultPlane(port)


def read_all(bootstrap, topic, partitions=1):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    values, eofs, deadline = [], 0, time.time() + 20
    while eofs < partitions and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            eofs += 1
            continue
        values.append(message.value().decode())
    consumer.close()
    return values


def test_confluent_producer_retries_through_injected_errors(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "retry.backoff.ms": 20})
    producer.produce(topic, b"warm-up")
    assert producer.flush(10) == 0
    admin.arm(api="Produce", topic=topic, action={"error": NOT_LEADER_OR_FOLLOWER}, count=2)
    admin.arm(api="Produce", topic=topic, action={"error": REQUEST_TIMED_OUT}, count=1)
    reports = []
    for i in range(5):
        producer.produce(topic, b"v%d" % i, on_delivery=lambda err, msg: reports.append(err))
        assert producer.flush(20) == 0
    assert reports == [None] * 5
    assert read_all(broker.bootstrap, topic) == ["warm-up"] + [f"v{i}" for i in range(5)]
    injected = [e for e in admin.journal() if e["fault"]]
    assert [(e["api"], e["error_code"]) for e in injected] == [
        ("Produce", NOT_LEADER_OR_FOLLOWER), ("Produce", NOT_LEADER_OR_FOLLOWER), ("Produce", REQUEST_TIMED_OUT)]
    assert admin.call("GET", "/faults")[1] == []


def test_kafka_python_producer_retries_through_not_leader(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, retries=5, retry_backoff_ms=20)
    producer.send(topic, b"warm-up").get(timeout=10)
    admin.arm(api="Produce", topic=topic, partition=0, action={"error": NOT_LEADER_OR_FOLLOWER}, count=2)
    assert producer.send(topic, b"after").get(timeout=20).offset == 1
    producer.close()
    assert read_all(broker.bootstrap, topic) == ["warm-up", "after"]


def test_idempotent_producer_survives_injected_disconnects_without_duplicates(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 5,
                         "retry.backoff.ms": 20})
    producer.produce(topic, b"warm-up")
    assert producer.flush(10) == 0
    # The broker appends, then the connection drops mid-response: the
    # producer must retry, and dedup must keep every record exactly once.
    admin.arm(api="Produce", topic=topic, action="disconnect", count=3)
    errors = []
    for i in range(300):
        producer.produce(topic, b"r%d" % i, on_delivery=lambda err, msg: err and errors.append(err))
        producer.poll(0)
    assert producer.flush(30) == 0
    assert errors == []
    assert read_all(broker.bootstrap, topic) == ["warm-up"] + [f"r{i}" for i in range(300)]
    assert len([e for e in admin.journal() if e["fault"] == "disconnect"]) == 3


def test_latency_pause_and_client_scoping(broker_factory, topic):
    broker, admin = start(broker_factory)
    producer = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="slow-one")
    producer.send(topic, b"first").get(timeout=10)
    admin.arm(api="Produce", client_id="someone-else", action={"error": NOT_LEADER_OR_FOLLOWER}, count=1)
    admin.arm(api="Produce", client_id="slow-one", action={"latency_ms": 400}, count=1)
    started = time.time()
    producer.send(topic, b"second").get(timeout=10)
    assert time.time() - started >= 0.4
    assert [f["client_id"] for f in admin.call("GET", "/faults")[1]] == ["someone-else"]

    assert admin.call("POST", f"/partitions/{topic}/0/pause")[0] == 204
    future = producer.send(topic, b"held")
    time.sleep(0.5)
    assert not future.is_done
    assert admin.call("POST", f"/partitions/{topic}/0/resume")[0] == 204
    assert future.get(timeout=10).offset == 2
    producer.close()
    admin.call("DELETE", "/faults")
    assert admin.call("GET", "/faults")[1] == []
    journal = admin.journal()
    assert any(e["api"] == "Produce" and e["client_id"] == "slow-one" and e["fault"] == {"latency_ms": 400}
               for e in journal)


def test_error_faults_on_admin_apis_reach_both_admin_clients(broker_factory, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    from kafka.admin import KafkaAdminClient, NewTopic as KpNewTopic

    broker, admin = start(broker_factory)
    POLICY_VIOLATION = 44
    admin.arm(api="CreateTopics", action={"error": POLICY_VIOLATION}, count=2)
    confluent = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        confluent.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
        raise AssertionError("CreateTopics should have failed")
    except Exception as error:  # confluent_kafka.KafkaException
        assert error.args[0].code() == POLICY_VIOLATION
    kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        kp.create_topics([KpNewTopic(topic, 1, 1)])
        raise AssertionError("CreateTopics should have failed")
    except kafka.errors.PolicyViolationError:
        pass
    # The faults are used up: the topic can now be created, and nothing was created before.
    assert topic not in confluent.list_topics(timeout=10).topics
    confluent.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    kp.close()
    assert [(e["api"], e["error_code"]) for e in admin.journal() if e["fault"]] == [
        ("CreateTopics", POLICY_VIOLATION), ("CreateTopics", POLICY_VIOLATION)]


def test_throttle_faults_reach_clients_as_quota_throttles(broker_factory, topic):
    """A `throttle_ms` fault answers the request normally with
    throttle_time_ms set and mutes the connection, as a quota would:
    librdkafka reports it through throttle_cb, kafka-python in its
    throttle-time metric; every record still lands at its offset."""
    broker, admin = start(broker_factory)
    admin.arm(api="Produce", client_id="throttled-ck", action={"throttle_ms": 700}, count=1)
    admin.arm(api="Produce", client_id="throttled-kp", action={"throttle_ms": 600}, count=1)

    throttles = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "throttled-ck",
                         "throttle_cb": lambda event: throttles.append(event.throttle_time)})
    delivered = []
    for value in (b"a", b"b"):
        producer.produce(topic, value=value, on_delivery=lambda err, msg: delivered.append(
            (err, msg.offset(), msg.value())))
        producer.flush(10)
    producer.poll(1)
    assert [(err, offset, value) for err, offset, value in delivered] == \
        [(None, 0, b"a"), (None, 1, b"b")]
    assert throttles and max(throttles) == 0.7, throttles

    kp = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="throttled-kp")
    assert kp.send(topic, b"c").get(timeout=10).offset == 2
    assert kp.send(topic, b"d").get(timeout=10).offset == 3
    metric = kp.metrics()["producer-metrics"]["throttle-time-max"]
    assert metric == 600, kp.metrics()["producer-metrics"]
    kp.close()
    assert read_all(broker.bootstrap, topic) == ["a", "b", "c", "d"]
    journal = admin.journal()
    assert any(e["client_id"] == "throttled-ck" and e["fault"] == {"throttle_ms": 700}
               for e in journal)


def test_a_broker_cut_off_from_its_clients_holds_or_refuses_their_requests(broker_factory, topic):
    """`POST /network/clients`: black-holed, a request goes unanswered until
    the cut heals and is answered then (as a network that dropped packets
    TCP resent); confluent-kafka's idempotent producer delivers once,
    after the heal. Refused, kafka-python's connections close at their next
    request until the cut heals."""
    import socket

    import kafka_wire as w

    broker, admin = start(broker_factory)
    assert admin.call("GET", "/network/clients")[1] is None
    raw = socket.create_connection(("127.0.0.1", broker.port), timeout=10)
    raw.sendall(w.frame(w.request_header(18, 0, 7, "held")))
    assert raw.recv(4096)[4:8] == (7).to_bytes(4, "big"), "answered before the cut"
    assert admin.call("POST", "/network/clients", {"mode": "black_hole"})[0] == 204
    raw.sendall(w.frame(w.request_header(18, 0, 8, "held")))
    raw.settimeout(1.0)
    try:
        raw.recv(4096)
        raise AssertionError("a black-holed request was answered")
    except socket.timeout:
        pass

    delivered = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                         "message.timeout.ms": 60000})
    producer.produce(topic, value=b"held", on_delivery=lambda err, msg: delivered.append(
        (err, msg.offset())))
    assert producer.flush(2) == 1, "nothing is answered while black-holed"
    assert admin.call("GET", "/network/clients")[1] == "black_hole"
    assert admin.call("DELETE", "/network/clients")[0] == 204
    raw.settimeout(10)
    answer = raw.recv(4096)
    assert answer[4:8] == (8).to_bytes(4, "big"), "the held request is answered after the heal"
    raw.close()
    assert producer.flush(30) == 0
    assert delivered == [(None, 0)]

    assert admin.call("POST", "/network/clients", {"mode": "refuse"})[0] == 204
    with pytest.raises(kafka.errors.KafkaError):
        kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=2000,
                            max_block_ms=3000).send(topic, b"refused").get(timeout=5)
    assert admin.call("DELETE", "/network/clients")[0] == 204
    kp = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap)
    assert kp.send(topic, b"after").get(timeout=10).offset == 1
    kp.close()
    assert read_all(broker.bootstrap, topic) == ["held", "after"]


def test_a_scheduled_fault_waits_for_its_records(broker_factory, topic):
    """`"after": {"topic": t, "records": 50}` arms a fault once 50 more
    records reach t: confluent-kafka's first 50 records go through
    untouched, the next request gets NOT_LEADER_OR_FOLLOWER and is retried;
    kafka-python's consumer is then cut mid-response once 10 more records
    are produced, and reads on. Every record lands once, in order."""
    broker, admin = start(broker_factory)
    armed = admin.arm(api="Produce", topic=topic, action={"error": NOT_LEADER_OR_FOLLOWER},
                      count=1, after={"topic": topic, "records": 50})
    assert armed["after"] == {"topic": topic, "records": 50}
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "scheduled",
                         "linger.ms": 0, "retry.backoff.ms": 20})
    delivered = []
    for i in range(60):
        producer.produce(topic, value=f"v{i}".encode(), partition=0,
                         on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
        producer.flush(10)
    assert delivered == [(None, i) for i in range(60)]
    produces = [e for e in admin.journal() if e["api"] == "Produce" and e["client_id"] == "scheduled"]
    faulted = [i for i, e in enumerate(produces) if e["fault"]]
    assert len(faulted) == 1 and produces[faulted[0]]["error_code"] == NOT_LEADER_OR_FOLLOWER
    assert all(e["error_code"] == 0 for e in produces[:faulted[0]])
    assert faulted[0] == 50, ("the 51st request, after 50 records", faulted)
    assert admin.call("GET", "/faults")[1] == []

    admin.arm(api="Fetch", topic=topic, action="disconnect", count=1,
              after={"topic": topic, "records": 10})
    consumer = kafka.KafkaConsumer(topic, bootstrap_servers=broker.bootstrap,
                                   auto_offset_reset="earliest", consumer_timeout_ms=5000)
    kp = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap)
    for i in range(60, 70):
        kp.send(topic, f"v{i}".encode(), partition=0).get(timeout=10)
    kp.close()
    seen = [r.value.decode() for r in consumer]
    consumer.close()
    assert seen == [f"v{i}" for i in range(70)]
    assert any(e["api"] == "Fetch" and e["fault"] == "disconnect" for e in admin.journal())


def test_answers_lost_on_the_way_back_duplicate_only_a_producer_without_idempotence(
        broker_factory, topic):
    """`{"mode": "black_hole_responses"}` cuts one direction only: requests
    reach the broker and are handled, their answers wait until the cut
    heals. kafka-python without idempotence times out, retries, and its
    record lands twice (the linter names it: `non-idempotent-retry`);
    confluent-kafka's idempotent producer through the same cut lands its
    record once."""
    broker, admin = start(broker_factory)
    # Both connected and knowing the topic before the cut.
    careless = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="lost-acks",
                                   acks=1, retries=3, request_timeout_ms=1500,
                                   retry_backoff_ms=100, max_in_flight_requests_per_connection=1,
                                   enable_idempotence=False)
    careless.send(topic, b"warm", partition=0).get(timeout=30)
    careful = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                        "request.timeout.ms": 1500, "message.timeout.ms": 60000,
                        "client.id": "careful-acks"})
    careful.produce(topic, value=b"warm", partition=0)
    assert careful.flush(30) == 0

    assert admin.call("POST", "/network/clients", {"mode": "black_hole_responses"})[0] == 204
    careless_sent = careless.send(topic, b"careless", partition=0)
    careful_delivered = []
    careful.produce(topic, value=b"careful", partition=0,
                    on_delivery=lambda err, msg: careful_delivered.append(err))
    deadline = time.time() + 4
    while time.time() < deadline:
        careful.poll(0.1)
    assert careful_delivered == [], "no answer crossed the cut"
    assert admin.call("DELETE", "/network/clients")[0] == 204
    careless_sent.get(timeout=30)
    careless.close()
    assert careful.flush(30) == 0 and careful_delivered == [None]

    values = read_all(broker.bootstrap, topic)
    assert values.count("careful") == 1, values
    assert values.count("careless") >= 2, values
    status, found = admin.call("GET", "/lint")
    assert status == 200
    assert [f["rule"] for f in found if f["client_id"] == "lost-acks"] == ["non-idempotent-retry"]
    assert not [f for f in found if f["client_id"] == "careful-acks"], found


def test_a_slow_disk_and_scheduled_cuts(broker_factory, topic):
    """`/faults/disk` with `latency_ms` makes a partition's disk slow: a
    kafka-python write whose request times out meanwhile is still written
    (read back). A client cut scheduled `after` 5 more records (202) waits
    for them: confluent-kafka's first records go through, and the cut is in
    force once they are in."""
    broker, admin = start(broker_factory)
    seed = Producer({"bootstrap.servers": broker.bootstrap})
    seed.produce(topic, value=b"seed", partition=0)
    assert seed.flush(30) == 0

    status, armed = admin.call("POST", "/faults/disk",
                               {"op": "write", "latency_ms": 3000, "count": 1,
                                "topic": topic, "partition": 0})
    assert status == 201 and armed[0]["latency_ms"] == 3000 and "errno" not in armed[0]
    impatient = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, acks=1, retries=0,
                                    request_timeout_ms=1000)
    with pytest.raises(kafka.errors.KafkaError):
        impatient.send(topic, b"slow", partition=0).get(timeout=30)
    impatient.close()
    wait_until(lambda: "slow" in read_all(broker.bootstrap, topic), timeout=30,
               what="the slow write in the log")

    status, answer = admin.call("POST", "/network/clients",
                                {"mode": "refuse", "after": {"topic": topic, "records": 5}})
    assert status == 202 and answer["scheduled"] == {"topic": topic, "records": 5}
    for i in range(3):
        seed.produce(topic, value=f"before-{i}".encode(), partition=0)
    assert seed.flush(30) == 0
    assert admin.call("GET", "/network/clients")[1] is None, "3 of 5 records: not yet"
    for i in range(2):
        seed.produce(topic, value=f"last-{i}".encode(), partition=0)
    assert seed.flush(30) == 0
    wait_until(lambda: admin.call("GET", "/network/clients")[1] == "refuse", timeout=10,
               what="the scheduled cut in force")
    assert admin.call("DELETE", "/network/clients")[0] == 204
