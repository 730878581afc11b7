"""Partition reassignment (KIP-455, issue 14 point 1) on a 3-broker
cluster: Kafka's own `kafka-reassign-partitions.sh`
(ReassignPartitionsCommand, which drives AlterPartitionReassignments and
ListPartitionReassignments through the Java Admin) moves a replica away
from a leader and grows a partition's replication factor while
confluent-kafka produces; kafka-python reads every record back at its
offset; the new replicas are byte-identical copies and the removed broker
deletes its own. Over raw sockets and with franz-go: a reassignment that
cannot finish (its new replica's broker is down) is listed with its adding
and removing replicas and cancelled, and Kafka's errors come back for bad
targets."""

from __future__ import annotations

import json
import os
import struct

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import cluster_harness
import java_client
import kafka_wire as w
from cluster_harness import bootstrap, replicas_identical
from conftest import running_cluster, wait_for_brokers, wait_until

pytestmark = pytest.mark.timeout(300)

OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "4000",
    "offsets.topic.replication.factor": "3",
}

INVALID_REPLICA_ASSIGNMENT = 39
UNKNOWN_TOPIC_OR_PARTITION = 3
NO_REASSIGNMENT_IN_PROGRESS = 85
INVALID_REPLICATION_FACTOR = 38


@pytest.fixture(scope="module")
def cluster():
    yield from running_cluster(3, OVERRIDES)


@pytest.fixture(autouse=True)
def every_broker_registered(cluster):
    """Each test starts with every broker registered: one a test restarted
    answers before it has registered again, and Kafka's tool refuses a
    broker id DescribeCluster does not list."""
    wait_for_brokers(cluster)


def layout(cluster, topic):
    return cluster_harness.layout(bootstrap([b for b in cluster if b.running]), topic)


def replicas_of(cluster, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap([b for b in cluster if b.running])})
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    return {p: (m.leader, list(m.replicas), sorted(m.isrs)) for p, m in partitions.items()}


def reassign_tool(cluster, tmp_path, action: str, plan: dict, *options: str) -> str:
    plan_file = tmp_path / f"plan-{action}.json"
    plan_file.write_text(json.dumps(plan))
    return java_client.run_tool(
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        "--bootstrap-server", bootstrap([b for b in cluster if b.running]),
        "--reassignment-json-file", str(plan_file), f"--{action}", *options)


def test_kafka_reassign_partitions_moves_replicas_without_losing_a_record(cluster, tmp_path):
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic("moving", num_partitions=2, replica_assignment=[[1, 2], [2, 3]])])["moving"] \
        .result(timeout=30)
    wait_until(lambda: all(len(isr) == 2 for _, (_, _, isr) in replicas_of(cluster, "moving").items()),
               timeout=30, what="moving fully replicated")
    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all",
                         "enable.idempotence": True, "linger.ms": 2})
    acked = []

    def send(start, count):
        for i in range(start, start + count):
            producer.produce("moving", value=f"m{i}".encode(), partition=i % 2,
                             on_delivery=lambda err, msg: acked.append(
                                 (err, msg.partition(), msg.offset(), msg.value())))
        assert producer.flush(60) == 0

    send(0, 200)
    # Partition 0 leaves broker 1 (its leader) for broker 3; partition 1
    # grows from two replicas to three.
    plan = {"version": 1, "partitions": [
        {"topic": "moving", "partition": 0, "replicas": [3, 2]},
        {"topic": "moving", "partition": 1, "replicas": [1, 3, 2]},
    ]}
    executed = reassign_tool(cluster, tmp_path, "execute", plan)
    assert "Successfully started partition reassignments" in executed, executed
    send(200, 100)  # while the new replicas catch up

    def verified():
        out = reassign_tool(cluster, tmp_path, "verify", plan)
        return out if ("Reassignment of partition moving-0 is completed" in out
                       and "Reassignment of partition moving-1 is completed" in out) else None
    wait_until(verified, timeout=90, interval=1, what="both reassignments completed")

    layout_now = replicas_of(cluster, "moving")
    leader0, replicas0, isr0 = layout_now[0]
    assert (replicas0, isr0) == ([3, 2], [2, 3]) and leader0 in (2, 3), layout_now
    leader1, replicas1, isr1 = layout_now[1]
    assert (replicas1, isr1) == ([1, 3, 2], [1, 2, 3]), layout_now
    send(300, 100)
    assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]

    records = cluster_harness.consume_all(bootstrap(cluster), "moving", 2, 400)
    at = {(r.partition, r.offset): r.value for r in records}
    assert len(at) == 400
    assert all(at.get((p, o)) == v for _, p, o, v in acked), "acknowledged records moved"
    # The removed broker deletes its copy; the new ones equal the others.
    broker1 = next(b for b in cluster if b.overrides["node.id"] == 1)
    wait_until(lambda: not os.path.exists(broker1.partition_dir("moving", 0)), timeout=30,
               what="broker 1 deleting its copy of moving-0")
    wait_until(lambda: replicas_identical([b for b in cluster if b.overrides["node.id"] != 1],
                                          "moving", 1), timeout=30,
               what="byte-identical copies of moving-0 on brokers 2 and 3")
    def one_copy_of_moving_1():
        return len({b.partition_dir("moving", 1).joinpath("00000000000000000000.log").read_bytes()
                    for b in cluster}) == 1
    wait_until(one_copy_of_moving_1, timeout=30,
               what="byte-identical copies of moving-1 on all three brokers")


def test_a_reassignment_survives_the_death_of_the_active_controller(cluster, tmp_path):
    """A reassignment is metadata: the controller that takes over finishes
    it. Kafka's tool starts one held back by a throttle of 1 kB/s, the
    active controller is killed (SIGKILL) mid-way, a new one lists the
    reassignment as it was while producers go on, and once the killed
    broker is back, raising the throttle with `--execute --additional`
    lets it complete: the target replicas in sync, the removed replica's
    folder gone, every acknowledged record read back at its offset."""
    topic = "failover"
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]])])[topic] \
        .result(timeout=30)
    wait_until(lambda: replicas_of(cluster, topic)[0][1:] == ([1, 2], [1, 2]), timeout=30,
               what="failover fully replicated")
    acked = []

    def send(start, count):
        producer = Producer({"bootstrap.servers": bootstrap([b for b in cluster if b.running]),
                             "acks": "all", "enable.idempotence": True, "linger.ms": 5})
        for i in range(start, start + count):
            producer.produce(topic, value=f"f{i}".encode() + b"x" * 1000,
                             on_delivery=lambda err, msg: acked.append(
                                 (err, msg.partition(), msg.offset(), msg.value())))
        assert producer.flush(60) == 0

    send(0, 300)
    plan = {"version": 1, "partitions": [{"topic": topic, "partition": 0, "replicas": [1, 3]}]}
    executed = reassign_tool(cluster, tmp_path, "execute", plan, "--throttle", "1000")
    assert f"Successfully started partition reassignment for {topic}-0" in executed, executed
    assert "still in progress" in reassign_tool(cluster, tmp_path, "verify", plan)

    term, node = wait_until(lambda: cluster_harness.active_controller(cluster), timeout=30,
                            what="an active controller")
    killed = cluster[node - 1]
    assert killed.overrides["node.id"] == node
    killed.kill()
    try:
        wait_until(lambda: cluster_harness.active_controller(cluster)[0] > term, timeout=30,
                   what="a new active controller")
        survivor = next(b for b in cluster if b.running)
        ongoing = wait_until(lambda: parse_list(call(survivor, list_request(20))).get((topic, 0)),
                             timeout=30, what="the reassignment listed by the new controller")
        assert ongoing == ([1, 3, 2], [3], [2]), ongoing
        send(300, 100)  # acks=all from the surviving replicas
    finally:
        killed.start()
    wait_for_brokers(cluster)

    raised = reassign_tool(cluster, tmp_path, "execute", plan, "--additional",
                           "--throttle", "100000000")
    assert "100000000 B/s" in raised, raised

    def verified():
        out = reassign_tool(cluster, tmp_path, "verify", plan)
        return out if f"Reassignment of partition {topic}-0 is completed" in out else None
    wait_until(verified, timeout=120, interval=1, what="the reassignment completed")
    wait_until(lambda: (lambda seen: seen if seen[1:] == ([1, 3], [1, 3]) else None)(
        replicas_of(cluster, topic)[0]), timeout=30, what="replicas 1 and 3 in sync")
    assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]
    records = cluster_harness.consume_all(bootstrap(cluster), topic, 1, 400)
    at = {(r.partition, r.offset): r.value for r in records}
    assert len(at) == 400
    assert all(at.get((p, o)) == v for _, p, o, v in acked), "acknowledged records moved"
    broker2 = next(b for b in cluster if b.overrides["node.id"] == 2)
    wait_until(lambda: not os.path.exists(broker2.partition_dir(topic, 0)), timeout=30,
               what="broker 2 deleting its copy")
    wait_until(lambda: replicas_identical([b for b in cluster if b.overrides["node.id"] != 2],
                                          topic, 1), timeout=30,
               what="byte-identical copies on brokers 1 and 3")


# -- raw AlterPartitionReassignments (45) v1 / ListPartitionReassignments (46) v0 --

def alter_request(correlation_id: int, topic: str, partition: int,
                  replicas: list[int] | None, allow_rf_change: bool = True) -> bytes:
    body = w.i32(30000) + w.i8(1 if allow_rf_change else 0)
    body += w.uvarint(2) + w.compact_string(topic)
    body += w.uvarint(2) + w.i32(partition)
    body += (w.uvarint(0) if replicas is None
             else w.uvarint(len(replicas) + 1) + b"".join(w.i32(r) for r in replicas))
    body += w.TAGS_NONE + w.TAGS_NONE + w.TAGS_NONE
    return w.frame(w.request_header(45, 1, correlation_id, flexible=True) + body)


def parse_alter(frame: bytes) -> tuple[int, list[tuple[str, int, int, str | None]]]:
    r = w.Reader(frame)
    r.i32()  # correlation id
    r.skip_tags()
    r.i32()  # throttle
    r.i8()   # allow_replication_factor_change
    top = r.i16()
    r.compact_string()
    out = []
    for _ in range(r.array_len(True)):
        name = r.compact_string()
        for _ in range(r.array_len(True)):
            index, code, message = r.i32(), r.i16(), r.compact_string()
            r.skip_tags()
            out.append((name, index, code, message))
        r.skip_tags()
    return top, out


def list_request(correlation_id: int) -> bytes:
    body = w.i32(30000) + w.uvarint(0) + w.TAGS_NONE  # every topic
    return w.frame(w.request_header(46, 0, correlation_id, flexible=True) + body)


def parse_list(frame: bytes) -> dict[tuple[str, int], tuple[list[int], list[int], list[int]]]:
    r = w.Reader(frame)
    r.i32()
    r.skip_tags()
    r.i32()
    assert r.i16() == 0
    r.compact_string()
    out = {}

    def ids():
        return [r.i32() for _ in range(r.array_len(True))]
    for _ in range(r.array_len(True)):
        name = r.compact_string()
        for _ in range(r.array_len(True)):
            index = r.i32()
            out[(name, index)] = (ids(), ids(), ids())
            r.skip_tags()
        r.skip_tags()
    return out


def call(broker, request: bytes) -> bytes:
    with w.connect(broker.host, broker.port) as sock:
        sock.sendall(request)
        return w.recv_frame(sock)


def test_a_stuck_reassignment_is_listed_and_cancelled_and_bad_ones_refused(cluster):
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic("stuck", num_partitions=1, replica_assignment=[[1, 2]])])["stuck"].result(timeout=30)
    wait_until(lambda: (lambda seen: seen if seen[0][1:] == ([1, 2], [1, 2]) else False)(
        replicas_of(cluster, "stuck")), timeout=30, what="stuck fully replicated")
    target = next(b for b in cluster if b.overrides["node.id"] == 1)

    # Kafka's errors, partition by partition.
    _, results = parse_alter(call(target, alter_request(1, "stuck", 0, [1, 9])))
    assert results[0][2] == INVALID_REPLICA_ASSIGNMENT and "broker 9" in results[0][3], results
    _, results = parse_alter(call(target, alter_request(2, "stuck", 0, [1, 1])))
    assert results[0][2] == INVALID_REPLICA_ASSIGNMENT, results
    _, results = parse_alter(call(target, alter_request(3, "nowhere", 0, [1, 2])))
    assert results[0][2] == UNKNOWN_TOPIC_OR_PARTITION, results
    _, results = parse_alter(call(target, alter_request(4, "stuck", 0, None)))
    assert results[0][2] == NO_REASSIGNMENT_IN_PROGRESS, results
    _, results = parse_alter(call(target, alter_request(5, "stuck", 0, [1, 2, 3], False)))
    assert results[0][2] == INVALID_REPLICATION_FACTOR, results
    assert replicas_of(cluster, "stuck")[0][1] == [1, 2], "refusals changed nothing"

    # Broker 3 is down: a move of replica 2 to it cannot finish.
    broker3 = next(b for b in cluster if b.overrides["node.id"] == 3)
    broker3.kill()
    try:
        _, results = parse_alter(call(target, alter_request(6, "stuck", 0, [1, 3])))
        assert results == [("stuck", 0, 0, None)], results
        ongoing = wait_until(lambda: parse_list(call(target, list_request(7))).get(("stuck", 0)),
                             timeout=10, what="the reassignment listed")
        assert ongoing == ([1, 3, 2], [3], [2]), ongoing
        assert replicas_of(cluster, "stuck")[0][1] == [1, 3, 2]
        # Cancelled: back to brokers 1 and 2.
        _, results = parse_alter(call(target, alter_request(8, "stuck", 0, None)))
        assert results == [("stuck", 0, 0, None)], results
        assert ("stuck", 0) not in parse_list(call(target, list_request(9)))
        wait_until(lambda: replicas_of(cluster, "stuck")[0][1:] == ([1, 2], [1, 2]),
                   timeout=10, what="the original replicas back")
    finally:
        broker3.start()


def test_franz_go_reassigns_lists_and_cancels(cluster):
    """franz-go's AlterPartitionAssignments and ListPartitionReassignments
    (kmsg): a partition moves off its leader's broker while franz-go
    produces and consumes around it; a stuck move is listed and cancelled;
    a bad target gets INVALID_REPLICA_ASSIGNMENT."""
    import go_client
    from go_client import FRANZ

    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic("franz-moving", num_partitions=1, replica_assignment=[[1, 2]])])[
        "franz-moving"].result(timeout=30)
    wait_until(lambda: replicas_of(cluster, "franz-moving")[0][2] == [1, 2], timeout=30,
               what="franz-moving fully replicated")
    boot = bootstrap(cluster)
    produced = go_client.call(FRANZ, boot, "produce", "franz-moving", "a", "b", "c")
    assert produced.lines == ["offset 0 0", "offset 0 1", "offset 0 2"], produced

    assert go_client.call(FRANZ, boot, "reassign", "franz-moving", "0", "2,9").lines == \
        [f"reassign 0 {INVALID_REPLICA_ASSIGNMENT}"]
    assert go_client.call(FRANZ, boot, "reassign", "franz-moving", "0", "cancel").lines == \
        [f"reassign 0 {NO_REASSIGNMENT_IN_PROGRESS}"]
    assert go_client.call(FRANZ, boot, "reassign", "franz-moving", "0", "3,2").lines == \
        ["reassign 0 0"]
    wait_until(lambda: replicas_of(cluster, "franz-moving")[0][1:] == ([3, 2], [2, 3]),
               timeout=60, what="franz-moving on brokers 3 and 2")
    assert go_client.call(FRANZ, boot, "reassignments").lines == ["listed"]
    produced = go_client.call(FRANZ, boot, "produce", "franz-moving", "d")
    assert produced.lines == ["offset 0 3"], produced
    consumed = go_client.call(FRANZ, boot, "consume", "franz-moving", "franz-moving-g", "4")
    assert [l for l in consumed.lines if l.startswith("record")] == [
        f"record 0 {i} {v}" for i, v in enumerate("abcd")], consumed

    # A move to a broker that is down stays in progress: listed, cancelled.
    broker1 = next(b for b in cluster if b.overrides["node.id"] == 1)
    broker1.kill()
    try:
        assert go_client.call(FRANZ, bootstrap([b for b in cluster if b.running]),
                              "reassign", "franz-moving", "0", "1,2").lines == ["reassign 0 0"]
        listed = go_client.call(FRANZ, bootstrap([b for b in cluster if b.running]),
                                "reassignments").lines
        assert listed == ["reassigning franz-moving 0 1,2,3 1 3", "listed"], listed
        assert go_client.call(FRANZ, bootstrap([b for b in cluster if b.running]),
                              "reassign", "franz-moving", "0", "cancel").lines == ["reassign 0 0"]
        # Back to brokers 2 and 3: the replicas without the added one, in
        # the order the reassignment had them (as Kafka reverts).
        wait_until(lambda: replicas_of(cluster, "franz-moving")[0][1] == [2, 3], timeout=30,
                   what="the move cancelled")
    finally:
        broker1.start()


def test_kafka_cluster_unregister_removes_a_stopped_broker(cluster):
    """`kafka-cluster.sh unregister` (ClusterTool, UnregisterBroker): a
    stopped broker's registration goes, so a reassignment may no longer
    name it; an unknown id is BROKER_ID_NOT_REGISTERED; the broker
    registers again when it restarts."""
    import go_client
    from go_client import FRANZ

    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic("unregistered", num_partitions=1, replica_assignment=[[1, 3]])])[
        "unregistered"].result(timeout=30)
    broker2 = next(b for b in cluster if b.overrides["node.id"] == 2)
    broker2.kill()
    running = [b for b in cluster if b.running]
    survivors = AdminClient({"bootstrap.servers": bootstrap(running)})
    wait_until(lambda: len(survivors.describe_cluster().result(timeout=10).nodes) == 2,
               timeout=30, what="broker 2 fenced")
    try:
        out = java_client.run_tool("org.apache.kafka.tools.ClusterTool", "unregister",
                                   "--bootstrap-server", bootstrap(running), "--id", "2")
        assert "Broker 2 is no longer registered." in out, out
        with pytest.raises(java_client.JavaClientError, match="BrokerIdNotRegistered"):
            java_client.run_tool("org.apache.kafka.tools.ClusterTool", "unregister",
                                 "--bootstrap-server", bootstrap(running), "--id", "42")
        # A fenced broker may be named in a reassignment; an unregistered one not.
        outcome = go_client.call(FRANZ, bootstrap(running), "reassign", "unregistered", "0", "1,2")
        assert outcome.lines == [f"reassign 0 {INVALID_REPLICA_ASSIGNMENT}"], outcome
    finally:
        broker2.start()
    wait_until(lambda: len(admin.describe_cluster().result(timeout=10).nodes) == 3,
               timeout=60, what="broker 2 registered again")
    outcome = go_client.call(FRANZ, bootstrap(cluster), "reassign", "unregistered", "0", "1,2")
    assert outcome.lines == ["reassign 0 0"], outcome


def test_a_reassignment_with_log_dirs_places_the_new_replicas_in_the_dirs_asked(cluster, tmp_path):
    """`kafka-reassign-partitions.sh` with `log_dirs` (KIP-113). The tool
    asks the new replica's broker for its dir (AlterReplicaLogDirs) once
    the reassignment started, retrying while the replica is not there yet
    (REPLICA_NOT_AVAILABLE): `kept` is asked for that way only, and ends up
    in its dir whether it was created there or moved. `asked-first` was
    asked for with kafka-python's admin client before the reassignment:
    broker 3 remembered the dir, as Kafka's `preferredLogDirs`, and created
    the replica there, with no replica move. Both dirs asked for are the
    fuller one, where broker 3 would not put a new log by itself."""
    from kafka import KafkaAdminClient, TopicPartitionReplica
    from kafka import errors as kafka_errors

    broker3, second = cluster_harness.add_log_dir(cluster, 3)
    wait_for_brokers(cluster)
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    topics = ["kept", "asked-first"]
    for topic in topics:
        admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]])])[
            topic].result(timeout=30)
        wait_until(lambda: replicas_of(cluster, topic)[0][1:] == ([1, 2], [1, 2]), timeout=30,
                   what=f"{topic} fully replicated")
    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
    for i in range(50):
        for topic in topics:
            producer.produce(topic, value=f"p{i}".encode())
    assert producer.flush(30) == 0

    kafka_python = KafkaAdminClient(bootstrap_servers=bootstrap(cluster))
    try:
        answered = kafka_python.alter_replica_log_dirs(
            {TopicPartitionReplica("asked-first", 0, 3): str(broker3.data_dir)})
    finally:
        kafka_python.close()
    assert list(answered.values()) == [kafka_errors.ReplicaNotAvailableError], answered

    log_before = broker3.log_path.stat().st_size
    plan = {"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 2, 3],
         "log_dirs": ["any", "any", str(broker3.data_dir)]} for topic in topics]}
    executed = reassign_tool(cluster, tmp_path, "execute", plan)
    assert "Successfully started partition reassignments for asked-first-0,kept-0" in executed, \
        executed
    for topic in topics:
        assert (f"Successfully started moving log directory to {broker3.data_dir} for replica "
                f"{topic}-0 with broker 3") in executed, executed

    def verified():
        out = reassign_tool(cluster, tmp_path, "verify", plan)
        done = all(f"Reassignment of partition {t}-0 is completed" in out
                   and f"Reassignment of replica {t}-0-3 completed successfully" in out
                   for t in topics)
        return out if done else None
    wait_until(verified, timeout=60, interval=1, what="the reassignments and their log dirs")
    for topic in topics:
        wait_until(lambda: (broker3.data_dir / f"{topic}-0").is_dir()
                   and not (second / f"{topic}-0").exists(), timeout=30,
                   what=f"{topic}-0 in the dir asked for only")
        wait_until(lambda: replicas_identical(cluster, topic, 1), timeout=30,
                   what=f"byte-identical copies of {topic}-0 on all three brokers")
    log = broker3.log_path.read_bytes()[log_before:].decode(errors="replace")
    assert "moving a replica to another log dir partition=asked-first-0" not in log, \
        "asked-first-0 was placed by a move, not created where it was asked"
