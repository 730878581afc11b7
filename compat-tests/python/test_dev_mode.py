"""`gregor broker --dev`: the address on the first stdout line, a working
broker with auto-created topics, and its temporary data removed on exit.
This is the example from docs/testing.md."""

import glob
import os
import subprocess
import tempfile

import pytest

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import GREGOR_BIN


def dev_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "gregor-dev-*")))


def dev_cluster_with_plane():
    """`--dev --brokers 3` with min.insync.replicas 2 and the cluster's
    fault plane: the process and an `http(method, path, body)` for it."""
    import json
    import urllib.request

    from conftest import free_port

    admin_port = free_port()
    cluster = subprocess.Popen(
        [GREGOR_BIN, "broker", "--dev", "--brokers", "3", "--port", "0",
         "--override", f"admin.listener=127.0.0.1:{admin_port}",
         "--override", "min.insync.replicas=2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def http(method, path, body=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{admin_port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            text = answer.read().decode()
            is_json = answer.headers.get_content_type() == "application/json" or (
                text[:1] in ("[", "{", "\""))
            return answer.status, (json.loads(text) if text and is_json else text or None)

    return cluster, http


def test_dev_mode_serves_and_cleans_up():
    before = dev_dirs()
    broker = subprocess.Popen([GREGOR_BIN, "broker", "--dev", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        bootstrap = broker.stdout.readline().decode().strip()
        assert bootstrap.startswith("localhost:") and int(bootstrap.split(":")[1]) > 0
        [data_dir] = dev_dirs() - before
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("orders", key=b"k", value=b"hello")
        assert producer.flush(10) == 0
        assert os.path.isdir(os.path.join(data_dir, "orders-0"))
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dev", "enable.auto.commit": False})
        assert consumer.get_watermark_offsets(TopicPartition("orders", 0), timeout=10) == (0, 1)
        consumer.close()
    finally:
        broker.terminate()
        assert broker.wait(20) == 0
    assert not os.path.exists(data_dir)


def cluster_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "gregor-cluster-*")))


def test_dev_cluster_in_one_process_replicates_and_cleans_up():
    """`--dev --brokers 3`: three brokers (each a voter) in one process, on
    one bootstrap line; a topic replicated three times takes acks=all
    writes from confluent-kafka, kafka-python reads them back at their
    offsets, every broker holds a copy, and SIGTERM removes it all."""
    from confluent_kafka.admin import AdminClient, NewTopic
    from kafka import KafkaConsumer, TopicPartition as KTopicPartition

    before = cluster_dirs()
    cluster = subprocess.Popen([GREGOR_BIN, "broker", "--dev", "--brokers", "3", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        addresses = bootstrap.split(",")
        assert len(addresses) == 3 and all(a.startswith("localhost:") for a in addresses), bootstrap
        [data_dir] = cluster_dirs() - before
        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert sorted(n.id for n in admin.describe_cluster().result(timeout=10).nodes) == [1, 2, 3]
        admin.create_topics([NewTopic("replicated", 2, 3)])["replicated"].result(timeout=30)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        acked = []
        for i in range(100):
            producer.produce("replicated", value=f"r{i}".encode(), partition=i % 2,
                             on_delivery=lambda err, msg: acked.append(
                                 (err, msg.partition(), msg.offset(), msg.value())))
        assert producer.flush(30) == 0
        assert all(err is None for err, *_ in acked)
        assert sorted((p, o) for _, p, o, _ in acked) == [(p, o) for p in (0, 1) for o in range(50)]
        for partition, meta in admin.list_topics("replicated", timeout=10).topics["replicated"].partitions.items():
            assert sorted(meta.replicas) == [1, 2, 3], (partition, meta.replicas)

        consumer = KafkaConsumer(bootstrap_servers=addresses, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=10000)
        consumer.assign([KTopicPartition("replicated", p) for p in (0, 1)])
        seen = {}
        for record in consumer:
            seen[(record.partition, record.offset)] = record.value
            if len(seen) == 100:
                break
        consumer.close()
        assert seen == {(p, o): v for _, p, o, v in acked}
        for node in (1, 2, 3):
            for partition in (0, 1):
                assert os.path.isdir(os.path.join(data_dir, f"node-{node}", f"replicated-{partition}"))
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0
    assert not os.path.exists(data_dir)


def test_dev_cluster_fault_plane_isolates_kills_and_moves_leaders():
    """`--dev --brokers 3` with `admin.listener`: the cluster's own fault
    plane over HTTP. Isolating a partition's leader moves leadership away
    (confluent-kafka's acks=all writes go on through the new leader for a
    producer that knows only the other brokers),
    `heal` brings it back into the ISR, a leader moves on request, and a
    killed broker restarts; kafka-python then reads every acknowledged
    record at its offset."""
    import urllib.error

    from kafka import KafkaConsumer, TopicPartition as KTopicPartition

    from conftest import wait_until

    cluster, http = dev_cluster_with_plane()

    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        partition = replicated_topic(http, bootstrap, "faulted")
        status, brokers = http("GET", "/brokers")
        assert status == 200 and [b["node_id"] for b in brokers] == [1, 2, 3]
        assert all(b["running"] and not b["isolated"] for b in brokers)

        acked = []

        def send(producer, values):
            for value in values:
                producer.produce("faulted", value=value.encode(), on_delivery=lambda err, msg:
                                 acked.append((err, msg.offset(), msg.value())))
            assert producer.flush(60) == 0

        def producer_of(addresses):
            return Producer({"bootstrap.servers": addresses, "acks": "all",
                             "enable.idempotence": True, "message.timeout.ms": 60000})

        send(producer_of(bootstrap), [f"a{i}" for i in range(20)])
        leader = partition()["leader"]
        assert http("POST", f"/brokers/{leader}/isolate", {})[0] == 204
        assert [b["isolated"] for b in http("GET", "/brokers")[1]] == \
            [b == leader for b in (1, 2, 3)]
        new_leader = wait_until(lambda: (lambda p: p["leader"] if p["leader"] not in (None, leader)
                                         else None)(partition()),
                                timeout=30, what="a new leader")
        # Clients still reach the isolated broker, which still believes it
        # leads (as a partitioned Kafka broker does): this producer knows
        # the others only, and the metadata they serve no longer lists it.
        reachable = ",".join(b["address"] for b in http("GET", "/brokers")[1]
                             if b["node_id"] != leader)
        send(producer_of(reachable), [f"b{i}" for i in range(20)])
        assert http("POST", "/heal", {})[0] == 204
        wait_until(lambda: len(partition()["isr"]) == 3, timeout=60, what="the ISR whole again")

        assert http("POST", "/partitions/faulted/0/leader", {"to": leader})[0] == 204
        assert partition()["leader"] == leader
        assert http("POST", f"/brokers/{new_leader}/kill", {})[0] == 204
        assert not [b for b in http("GET", "/brokers")[1] if b["node_id"] == new_leader][0]["running"]
        send(producer_of(bootstrap), [f"c{i}" for i in range(20)])
        assert http("POST", f"/brokers/{new_leader}/restart", {})[0] == 204
        wait_until(lambda: len(partition()["isr"]) == 3, timeout=60, what="the restarted broker back")

        assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]
        assert len(acked) == 60
        consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=10000)
        consumer.assign([KTopicPartition("faulted", 0)])
        seen = {}
        for record in consumer:
            seen[record.offset] = record.value
            if len(seen) >= 60:
                break
        consumer.close()
        assert all(seen.get(offset) == value for _, offset, value in acked), "acknowledged records lost"
        # Bad requests are refused, not acted on.
        try:
            http("POST", "/brokers/9/kill", {})
            raise AssertionError("an unknown broker was killed")
        except urllib.error.HTTPError as refused:
            assert refused.code == 404
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0


def partition_state(http, topic: str, partition: int) -> dict:
    """A partition's leader and ISR from the cluster's plane; none yet (404)
    while no broker knows it."""
    import urllib.error

    try:
        return http("GET", f"/partitions/{topic}/{partition}")[1]
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        return {"leader": None, "isr": []}


def replicated_topic(http, bootstrap: str, topic: str):
    """Creates `topic` (one partition, three replicas) and waits for its
    whole ISR; returns what reads its partition's state from the plane."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from conftest import wait_until

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(timeout=30)
    partition = lambda: partition_state(http, topic, 0)  # noqa: E731
    wait_until(lambda: len(partition()["isr"]) == 3, timeout=30, what=f"{topic} in sync")
    return partition


class AckedProducer:
    """A confluent-kafka producer to one topic that keeps what each record's
    delivery said: (error, offset, value)."""

    def __init__(self, bootstrap: str, topic: str, **config):
        self.topic = topic
        self.acked: list = []
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **config})

    def produce(self, value: str):
        self.producer.produce(self.topic, value=value.encode(), on_delivery=lambda err, msg:
                              self.acked.append((err, msg.offset(), msg.value())))

    def send(self, values, poll: float = 0.0):
        for value in values:
            self.produce(value)
            if poll:
                self.producer.poll(poll)
        assert self.producer.flush(90) == 0

    def assert_all_read_back(self, bootstrap: str):
        """Every record acknowledged, and read back once, at its offset."""
        assert all(err is None for err, *_ in self.acked), \
            [a for a in self.acked if a[0]][:3]
        reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{self.topic}-reader",
                           "enable.partition.eof": True})
        reader.assign([TopicPartition(self.topic, 0, 0)])
        seen = {}
        while True:
            message = reader.poll(10)
            assert message is not None, seen
            if message.error():
                break
            seen[message.offset()] = message.value()
        reader.close()
        assert seen == {offset: value for _, offset, value in self.acked}
        return seen


def test_dev_cluster_pauses_a_leader_and_cuts_a_brokers_clients():
    """`/brokers/<id>/pause` freezes a partition's leader as SIGSTOP would
    from outside (isolated, its clients black-holed): leadership moves,
    confluent-kafka's idempotent acks=all producer — whose requests to the
    frozen broker go unanswered — delivers everything through the new
    leader; after `/heal` the old leader rejoins the ISR. `/clients` with
    `refuse` cuts one broker off from its clients only: it stays in the
    ISR (the brokers still reach it), while kafka-python, whose bootstrap
    names it first, still produces through the other brokers. kafka-python
    then reads every acknowledged record once, at its offset."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition as KTopicPartition

    from conftest import wait_until

    cluster, http = dev_cluster_with_plane()

    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        partition = replicated_topic(http, bootstrap, "paused")
        acked = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                             "enable.idempotence": True, "message.timeout.ms": 90000,
                             "request.timeout.ms": 3000, "socket.timeout.ms": 3000})

        def send(values):
            for value in values:
                producer.produce("paused", value=value.encode(), on_delivery=lambda err, msg:
                                 acked.append((err, msg.offset(), msg.value())))
            assert producer.flush(90) == 0

        send([f"a{i}" for i in range(20)])
        leader = partition()["leader"]
        assert http("POST", f"/brokers/{leader}/pause", {})[0] == 204
        state = {b["node_id"]: b for b in http("GET", "/brokers")[1]}
        assert state[leader]["isolated"] and state[leader]["clients_cut"] == "black_hole"
        wait_until(lambda: partition()["leader"] not in (None, leader), timeout=30,
                   what="a new leader")
        send([f"b{i}" for i in range(20)])
        assert http("POST", "/heal", {})[0] == 204
        wait_until(lambda: len(partition()["isr"]) == 3, timeout=60, what="the ISR whole again")

        # One broker cut off from its clients, not from the other brokers.
        cut = partition()["leader"]
        others = [b for b in (1, 2, 3) if b != cut]
        assert http("POST", f"/brokers/{cut}/clients", {"mode": "refuse"})[0] == 204
        assert http("POST", "/partitions/paused/0/leader", {"to": others[0]})[0] == 204
        addresses = {b["node_id"]: b["address"] for b in http("GET", "/brokers")[1]}
        kp = KafkaProducer(bootstrap_servers=[addresses[cut]] + [addresses[b] for b in others],
                           acks="all", retries=10, request_timeout_ms=5000)
        offsets = [kp.send("paused", f"c{i}".encode(), partition=0).get(timeout=60).offset
                   for i in range(10)]
        kp.close()
        assert sorted(partition()["isr"]) == [1, 2, 3], "the brokers still reach it"
        assert http("POST", "/heal", {})[0] == 204
        # The cluster's clock moves forward on request (time travel).
        before = http("GET", "/clock")[1]
        status, clock = http("POST", "/clock/advance?ms=1000", {})
        assert status == 200 and clock["offset_ms"] == before["offset_ms"] + 1000

        assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]
        expected = {offset: value for _, offset, value in acked}
        expected.update({offset: f"c{i}".encode() for i, offset in enumerate(offsets)})
        assert len(expected) == 50, "every record at its own offset"
        consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=10000)
        consumer.assign([KTopicPartition("paused", 0)])
        seen = {}
        for record in consumer:
            seen[record.offset] = record.value
            if len(seen) >= 50:
                break
        consumer.close()
        assert seen == expected, "each acknowledged record once, at its offset"
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0


def test_dev_cluster_serves_each_brokers_own_plane():
    """Under `/brokers/<id>/` the dev cluster's plane serves each broker's
    request faults, journal, linter and disk faults: a Produce error armed
    on partition 0's leader is retried through by confluent-kafka (and
    shows in that broker's journal, in the shape it was armed with);
    kafka-python's commit past the high watermark is a finding on the
    group coordinator's broker; a failing disk on the leader takes its log
    dir offline and leadership moves, and the records acknowledged before
    and after are all read back. `/health` answers; an unknown partition is
    404; DELETE `/brokers/<id>/clients` ends that broker's client cut."""
    import urllib.error

    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTopicPartition

    from conftest import wait_until

    cluster, http = dev_cluster_with_plane()
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        assert http("GET", "/health")[0] == 200
        try:
            http("GET", "/partitions/never-made/0")
            raise AssertionError("an unknown partition was found")
        except urllib.error.HTTPError as error:
            assert error.code == 404
        partition = replicated_topic(http, bootstrap, "planes")
        leader = partition()["leader"]
        status, armed = http("POST", f"/brokers/{leader}/faults",
                             {"api": "Produce", "topic": "planes", "action": {"error": 6},
                              "count": 1})
        assert status == 201 and armed["count"] == 1
        producer = AckedProducer(bootstrap, "planes", **{"client.id": "plane-producer"})
        send = producer.send
        send([f"a{i}" for i in range(5)])
        assert http("GET", f"/brokers/{leader}/faults")[1] == [], "the fault was used"
        journal = http("GET", f"/brokers/{leader}/journal")[1]
        assert any(e["api"] == "Produce" and e["client_id"] == "plane-producer"
                   and e["fault"] == {"error": 6} for e in journal), journal[-5:]

        committer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), client_id="plane-lint",
                                  group_id="plane-group", enable_auto_commit=False)
        tp = KTopicPartition("planes", 0)
        committer.assign([tp])
        committer.commit({tp: OffsetAndMetadata(500, "", -1)})
        committer.close()
        found = [f for node in (1, 2, 3) for f in http("GET", f"/brokers/{node}/lint")[1]
                 if f["client_id"] == "plane-lint"]
        assert [f["rule"] for f in found] == ["commit-beyond-high-watermark"], found

        status, _ = http("POST", f"/brokers/{leader}/faults/disk",
                         {"op": "write", "errno": "EIO", "count": 1})
        assert status == 201
        send([f"b{i}" for i in range(5)])
        wait_until(lambda: partition()["leader"] not in (None, leader), timeout=60,
                   what="leadership off the broker whose disk failed")
        send([f"c{i}" for i in range(5)])

        assert http("POST", f"/brokers/{leader}/clients", {"mode": "refuse"})[0] == 204
        assert {b["node_id"]: b["clients_cut"] for b in http("GET", "/brokers")[1]}[leader]
        assert http("DELETE", f"/brokers/{leader}/clients")[0] == 204
        assert {b["node_id"]: b["clients_cut"] for b in http("GET", "/brokers")[1]}[leader] is None

        producer.assert_all_read_back(bootstrap)
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0


def test_dev_cluster_cuts_the_network_one_way_between_brokers():
    """`POST /brokers/<from>/cut` with `{"to": <id>}` cuts one direction:
    a follower that can no longer reach its partition's leader (while the
    leader still reaches it) stops replicating and leaves the ISR;
    confluent-kafka's acks=all producer goes on with the other two
    replicas (min.insync.replicas 2); after `/heal` the follower catches up
    and rejoins, and every acknowledged record is read back once."""

    from conftest import wait_until

    cluster, http = dev_cluster_with_plane()
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        partition = replicated_topic(http, bootstrap, "one-way")
        leader = partition()["leader"]
        follower = next(b for b in (1, 2, 3) if b != leader)
        producer = AckedProducer(bootstrap, "one-way", **{"enable.idempotence": True})
        send = producer.send
        send([f"a{i}" for i in range(10)])
        assert http("POST", f"/brokers/{follower}/cut", {"to": leader})[0] == 204
        state = {b["node_id"]: b for b in http("GET", "/brokers")[1]}
        assert state[follower]["unreachable"] == [leader]
        assert state[leader]["unreachable"] == [], "the other way is open"
        wait_until(lambda: follower not in partition()["isr"], timeout=60,
                   what="the cut-off follower out of the ISR")
        send([f"b{i}" for i in range(10)])
        assert http("POST", "/heal", {})[0] == 204
        wait_until(lambda: sorted(partition()["isr"]) == [1, 2, 3], timeout=60,
                   what="the follower back in the ISR")

        producer.assert_all_read_back(bootstrap)
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0


def test_dev_cluster_kills_a_leader_when_a_scheduled_fault_comes_due():
    """`POST /brokers/<id>/kill` with `"after": {"topic": …, "records": 30}`
    is answered 202 and kills the broker once 30 more records are in the
    topic: confluent-kafka's idempotent acks=all producer, mid-stream,
    loses its leader and goes on with the next one; every acknowledged
    record is read back once, at its offset."""

    from conftest import wait_until

    cluster, http = dev_cluster_with_plane()
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        partition = replicated_topic(http, bootstrap, "scheduled")
        leader = partition()["leader"]
        status, answer = http("POST", f"/brokers/{leader}/kill",
                              {"after": {"topic": "scheduled", "records": 30}})
        assert status == 202 and answer["scheduled"]["records"] == 30
        producer = AckedProducer(bootstrap, "scheduled",
                                 **{"enable.idempotence": True, "linger.ms": 0})
        producer.send([f"v{i}" for i in range(20)])
        running = lambda: {b["node_id"]: b["running"] for b in http("GET", "/brokers")[1]}  # noqa
        assert running()[leader], "20 of 30 records: not yet"
        producer.send([f"v{i}" for i in range(20, 60)], poll=0.01)
        wait_until(lambda: not running()[leader], timeout=30, what="the scheduled kill")
        assert partition()["leader"] != leader
        seen = producer.assert_all_read_back(bootstrap)
        assert sorted(seen.values()) == sorted(f"v{i}".encode() for i in range(60))
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0


def test_dev_cluster_takes_a_server_properties_file(tmp_path):
    """`--dev --brokers 3 --config server.properties`: the file's settings
    apply to every broker, `--override` wins over them, and the settings
    each node takes from the cluster (identity, listeners, data dirs) are
    left out with a warning. confluent-kafka and kafka-python see the
    file's topic defaults and record size limit on every broker."""
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient
    from kafka import KafkaProducer
    from kafka.errors import MessageSizeTooLargeError

    properties = tmp_path / "server.properties"
    properties.write_text("\n".join([
        "# as pasted from a Kafka node",
        "node.id=7",
        "process.roles=broker,controller",
        "listeners=PLAINTEXT://:9092,CONTROLLER://:9093",
        "log.dirs=/nonexistent/kafka-logs",
        "num.partitions=4",
        "default.replication.factor=3",
        "message.max.bytes=2000",
    ]) + "\n")
    log = tmp_path / "cluster.log"
    with open(log, "wb") as stderr:
        cluster = subprocess.Popen(
            [GREGOR_BIN, "broker", "--dev", "--brokers", "3", "--port", "0",
             "--config", str(properties), "--override", "num.partitions=3"],
            stdout=subprocess.PIPE, stderr=stderr)
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        assert len(bootstrap.split(",")) == 3, (bootstrap, log.read_text()[-2000:])
        warning = [line for line in log.read_text().splitlines() if "sets these for each broker" in line]
        assert warning and all(name in warning[0] for name in
                               ("node.id", "process.roles", "listeners", "log.dirs")), warning

        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert sorted(n.id for n in admin.describe_cluster().result(timeout=10).nodes) == [1, 2, 3]
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        # auto-created with the file's defaults
        producer.produce("from-file", value=b"create", partition=0)
        assert producer.flush(30) == 0
        topic = admin.list_topics("from-file", timeout=10).topics["from-file"]
        assert sorted(topic.partitions) == [0, 1, 2]          # --override beat the file's 4
        assert all(sorted(p.replicas) == [1, 2, 3] for p in topic.partitions.values())
        leaders = {p.leader for p in topic.partitions.values()}

        # Every partition's leader runs with the file's record size limit.
        # One record at a time: in one batch the small one would share the
        # big one's fate.
        delivered = []
        for partition in (0, 1, 2):
            for value in (b"small", b"x" * 3000):
                producer.produce("from-file", value=value, partition=partition,
                                 on_delivery=lambda err, msg: delivered.append(
                                     (msg.partition(), err and err.code())))
                assert producer.flush(30) == 0
        assert delivered == [(p, code) for p in (0, 1, 2)
                             for code in (None, KafkaError.MSG_SIZE_TOO_LARGE)], (delivered, leaders)

        kp = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
        try:
            for partition in (0, 1, 2):
                expected = 2 if partition == 0 else 1               # after "create", "small"
                assert kp.send("from-file", value=b"ok", partition=partition).get(15).offset \
                    == expected
            with pytest.raises(MessageSizeTooLargeError):
                kp.send("from-file", value=b"y" * 3000, partition=1).get(15)
        finally:
            kp.close(timeout=5)
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0
