"""ISR replication across three brokers in KRaft combined mode (issue #5,
points 1–3): leaders and replicas spread over the brokers, clients send to
each leader, followers copy the leaders' logs byte for byte, acks=all
waits for the ISR and honours min.insync.replicas, and a killed leader is
replaced by an in-sync replica without losing an acknowledged record.

The brokers fence a silent broker after broker.session.timeout.ms (3 s
here, 9 s by default) and followers report every fetch.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition as CfPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import cluster_harness
import kafka_wire
from cluster_harness import bootstrap, create_topic, in_sync, replicas_identical
from conftest import port_accepts, running_cluster, start_cluster, wait_for_brokers, wait_until

pytestmark = pytest.mark.timeout(240)

CLUSTER_OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "4000",
    "offsets.topic.replication.factor": "3",
}


NOT_LEADER_OR_FOLLOWER = 6


@pytest.fixture
def cluster():
    yield from running_cluster(3, CLUSTER_OVERRIDES)


def layout(broker, topic):
    return cluster_harness.layout(broker.bootstrap, topic)


def fully_replicated(cluster, topic, partitions):
    def check():
        for broker in cluster:
            if broker.running:
                seen = layout(broker, topic)
                if not in_sync(seen, partitions):
                    return None
        return seen
    return wait_until(check, timeout=60, what=f"{topic} fully replicated")


def wait_identical_replicas(cluster, topic, partitions):
    wait_until(lambda: replicas_identical(cluster, topic, partitions), timeout=30,
               what="byte-identical replicas")


def consume_all(cluster, topic, partitions, expected_count, timeout=60):
    return cluster_harness.consume_all(bootstrap(cluster), topic, partitions, expected_count,
                                       timeout)


def test_replicated_topic_spreads_leaders_and_copies_logs_byte_for_byte(cluster):
    create_topic(cluster, "spread", 6, 3)
    seen = fully_replicated(cluster, "spread", 6)
    leaders = Counter(leader for leader, _, _ in seen.values())
    assert sorted(leaders) == [1, 2, 3] and set(leaders.values()) == {2}, seen
    assert all(sorted(replicas) == [1, 2, 3] for _, replicas, _ in seen.values())

    # confluent-kafka, acks=all and idempotent: every partition's leader
    acked = []
    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    for i in range(60):
        producer.produce("spread", key=f"k{i}".encode(), value=f"cf-{i}".encode(),
                         partition=i % 6, headers=[("h", f"{i}".encode())],
                         on_delivery=lambda err, msg: acked.append((err, msg.partition(), msg.offset())))
    assert producer.flush(30) == 0
    assert [e for e, _, _ in acked if e is not None] == []
    assert sorted(o for _, p, o in acked if p == 0) == list(range(10))

    # kafka-python, acks=all
    kp = KafkaProducer(bootstrap_servers=bootstrap(cluster), acks="all")
    futures = [kp.send("spread", key=f"kp{i}".encode(), value=f"kp-{i}".encode(), partition=i % 6)
               for i in range(30)]
    offsets = [f.get(timeout=30) for f in futures]
    kp.close()
    assert sorted(m.offset for m in offsets if m.partition == 0) == list(range(10, 15))

    records = consume_all(cluster, "spread", 6, 90)
    values = Counter(r.value for r in records)
    assert sorted(values) == sorted([f"cf-{i}".encode() for i in range(60)]
                                    + [f"kp-{i}".encode() for i in range(30)])
    assert set(values.values()) == {1}
    by_value = {r.value: r for r in records}
    assert by_value[b"cf-7"].key == b"k7" and by_value[b"cf-7"].headers == [("h", b"7")]
    wait_identical_replicas(cluster, "spread", 6)


def test_a_killed_leader_is_replaced_without_losing_acknowledged_records(cluster):
    create_topic(cluster, "failover", 3, 3, **{"min.insync.replicas": "2"})
    fully_replicated(cluster, "failover", 3)
    acked: list[tuple[int, int, bytes]] = []
    failed: list[KafkaError] = []

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value()))
        else:
            failed.append(err)

    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all",
                         "enable.idempotence": True, "linger.ms": 2,
                         "message.timeout.ms": 60000})
    sent = 0

    def send(n):
        nonlocal sent
        for _ in range(n):
            producer.produce("failover", value=f"m-{sent}".encode(), partition=sent % 3,
                             on_delivery=on_delivery)
            sent += 1
            producer.poll(0)

    send(150)
    producer.flush(30)
    leader = layout(cluster[1], "failover")[0][0]
    victim = cluster[leader - 1]
    victim.kill()
    survivors = [b for b in cluster if b.running]
    # a new leader from the ISR takes partition 0 over
    wait_until(lambda: layout(survivors[0], "failover")[0][0] not in (-1, leader),
               timeout=30, what="a new leader for partition 0")
    send(150)
    assert producer.flush(60) == 0
    assert failed == [], failed
    assert len(acked) == 300

    records = consume_all(survivors, "failover", 3, 300)
    values = Counter(r.value for r in records)
    assert set(values) == {f"m-{i}".encode() for i in range(300)}, "acknowledged records lost"
    assert set(values.values()) == {1}, "duplicates"
    # offsets acknowledged are where the records are
    at = {(r.partition, r.offset): r.value for r in records}
    assert all(at.get((p, o)) == v for p, o, v in acked)

    # the killed broker returns, catches up and rejoins every ISR
    victim.start()
    fully_replicated(cluster, "failover", 3)
    wait_identical_replicas(cluster, "failover", 3)


def test_a_restarted_broker_serves_nothing_before_it_has_caught_up_with_the_metadata(cluster):
    """A broker killed while it led a partition comes back with the
    metadata of its crash. Until it has replayed what the quorum wrote
    meanwhile it must not answer at all (as a Kafka broker waits for the
    metadata log before it serves): its first answers name the partition's
    real leader, and an acks=1 write sent to it is refused, not
    acknowledged by a deposed leader and lost."""
    create_topic(cluster, "stale-leader", 1, 3)
    fully_replicated(cluster, "stale-leader", 1)
    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all",
                         "enable.idempotence": True})
    for i in range(20):
        producer.produce("stale-leader", value=f"before-{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    old_leader = layout(cluster[0], "stale-leader")[0][0]
    victim = cluster[old_leader - 1]
    victim.kill()
    survivors = [b for b in cluster if b.running]
    new_leader = wait_until(
        lambda: (lambda leader: leader if leader not in (-1, old_leader) else None)(
            layout(survivors[0], "stale-leader")[0][0]),
        timeout=30, what="a new leader for the partition")
    for i in range(20):
        producer.produce("stale-leader", value=f"after-{i}".encode(), partition=0)
    assert producer.flush(60) == 0

    victim.start_async()
    wait_until(lambda: port_accepts(victim.host, victim.port), timeout=30,
               what="the restarted broker's port")
    sock = kafka_wire.connect(victim.host, victim.port, timeout=30)
    try:
        sock.sendall(kafka_wire.metadata_v4_request(1, ["stale-leader"], False))
        _, topics = kafka_wire.parse_metadata_v4_partitions(kafka_wire.recv_frame(sock))
        _, _, partitions = topics["stale-leader"]
        assert partitions[0][1] == new_leader, (
            f"the restarted broker's first answer names {partitions[0][1]} as the leader; "
            f"{new_leader} leads")
        batch = kafka_wire.record_batch([kafka_wire.Rec(None, b"stale", int(time.time() * 1000))])
        sock.sendall(kafka_wire.produce_request(7, 2, "stale-leader", 0, batch, acks=1))
        _, results = kafka_wire.parse_produce_response(7, kafka_wire.recv_frame(sock))
        assert results[("stale-leader", 0)].error_code == NOT_LEADER_OR_FOLLOWER, \
            results[("stale-leader", 0)]
    finally:
        sock.close()
    victim.wait_ready()
    fully_replicated(cluster, "stale-leader", 1)
    records = consume_all(cluster, "stale-leader", 1, 40)
    assert [r.value for r in records] == (
        [f"before-{i}".encode() for i in range(20)] + [f"after-{i}".encode() for i in range(20)])
    assert [r.offset for r in records] == list(range(40))
    wait_identical_replicas(cluster, "stale-leader", 1)


def test_acks_all_needs_min_insync_replicas_but_acks_1_does_not(cluster):
    create_topic(cluster, "isr", 1, 2, **{"min.insync.replicas": "2"})
    leader, replicas, _ = fully_replicated(cluster, "isr", 1)[0]
    follower = next(r for r in replicas if r != leader)
    cluster[follower - 1].kill()
    live = [b for b in cluster if b.running]
    wait_until(lambda: layout(live[0], "isr")[0][2] == [leader], timeout=30,
               what="the ISR shrinks to the leader")

    def produce(acks):
        outcome = []
        p = Producer({"bootstrap.servers": bootstrap(live), "acks": acks,
                      "message.timeout.ms": 5000, "retries": 0})
        p.produce("isr", value=b"x", on_delivery=lambda err, msg: outcome.append(err))
        p.flush(20)
        return outcome[0]

    err = produce("all")
    assert err is not None and err.code() == KafkaError.NOT_ENOUGH_REPLICAS, err
    assert produce("1") is None

    kp = KafkaProducer(bootstrap_servers=bootstrap(live), acks="all", retries=0)
    with pytest.raises(Exception) as raised:
        kp.send("isr", b"y").get(timeout=20)
    kp.close()
    assert "NotEnoughReplicas" in type(raised.value).__name__, raised.value


def test_a_stopped_broker_hands_its_leaderships_over_before_it_exits():
    # A session timeout far beyond the test's waits: only the broker's own
    # controlled shutdown can move its leaderships this quickly.
    cluster = start_cluster(3, {**CLUSTER_OVERRIDES, "broker.session.timeout.ms": "60000"})
    try:
        wait_for_brokers(cluster)
        create_topic(cluster, "handover", 3, 3)
        fully_replicated(cluster, "handover", 3)
        leader = layout(cluster[0], "handover")[0][0]
        victim = cluster[leader - 1]
        assert victim.stop() == 0
        survivor = next(b for b in cluster if b.running)
        moved = layout(survivor, "handover")
        assert all(l not in (-1, leader) for l, _, _ in moved.values()), moved
        admin = AdminClient({"bootstrap.servers": survivor.bootstrap})
        assert leader not in {n.id for n in admin.describe_cluster().result(timeout=10).nodes}
        # acks=all goes on with the two others, and the broker rejoins
        p = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all"})
        acked = []
        for i in range(9):
            p.produce("handover", value=b"v", partition=i % 3,
                      on_delivery=lambda err, msg: acked.append(err))
        assert p.flush(30) == 0 and acked == [None] * 9
        victim.start()
        fully_replicated(cluster, "handover", 3)
        wait_identical_replicas(cluster, "handover", 3)
    finally:
        for broker in cluster:
            broker.cleanup()


def test_consumers_validate_their_position_after_a_leader_change(cluster):
    """librdkafka asks the new leader where its epoch ended
    (OffsetForLeaderEpoch, KIP-320) and, finding no truncation, goes on
    from where it was: nothing is read twice, nothing skipped."""
    import logging

    create_topic(cluster, "validated", 1, 3)
    fully_replicated(cluster, "validated", 1)
    kp = KafkaProducer(bootstrap_servers=bootstrap(cluster), acks="all")
    for i in range(50):
        kp.send("validated", value=f"a-{i}".encode(), partition=0)
    kp.flush(30)

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger = logging.getLogger("rdkafka-validation")
    logger.addHandler(Capture())
    logger.setLevel(logging.DEBUG)
    consumer = Consumer({"bootstrap.servers": bootstrap(cluster), "group.id": "validation",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "debug": "protocol,consumer", "topic.metadata.refresh.interval.ms": 1000},
                        logger=logger)
    consumer.assign([CfPartition("validated", 0, 0)])

    def read(n, timeout=60):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        return got

    first = read(50)
    leader = layout(cluster[0], "validated")[0][0]
    cluster[leader - 1].kill()
    survivors = [b for b in cluster if b.running]
    wait_until(lambda: layout(survivors[0], "validated")[0][0] not in (-1, leader),
               timeout=30, what="a new leader")
    for i in range(50):
        kp.send("validated", value=f"b-{i}".encode(), partition=0)
    kp.flush(30)
    kp.close()
    second = read(50)
    consumer.close()
    assert first == [f"a-{i}".encode() for i in range(50)]
    assert second == [f"b-{i}".encode() for i in range(50)]
    assert any("Received OffsetForLeaderEpochResponse" in line for line in lines), \
        "no epoch validation seen"


def test_unclean_election_only_when_allowed_and_preferred_election_moves_leaders_back(cluster):
    from confluent_kafka._model import ElectionType
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
    from kafka.admin import KafkaAdminClient

    # Replicas on two of the three brokers: the third keeps the quorum.
    create_topic(cluster, "unclean", 1, 2)
    leader, replicas, _ = fully_replicated(cluster, "unclean", 1)[0]
    follower = next(r for r in replicas if r != leader)
    bystander = next(b for b in cluster if int(b.name.split("-")[1]) not in replicas)
    cluster[follower - 1].kill()
    wait_until(lambda: layout(bystander, "unclean")[0][2] == [leader], timeout=30,
               what="the ISR shrinks to the leader")
    kp = KafkaProducer(bootstrap_servers=bootstrap(cluster), acks=1)
    kp.send("unclean", b"only-on-the-leader", partition=0).get(timeout=20)
    kp.close()
    cluster[leader - 1].kill()
    cluster[follower - 1].start()       # back, out of sync; quorum again
    # The last in-sync replica is gone: no leader, and the stale replica
    # does not take over while unclean election is off.
    wait_until(lambda: layout(bystander, "unclean")[0][0] == -1, timeout=30,
               what="the partition has no leader")
    time.sleep(2)
    assert layout(bystander, "unclean")[0][0] == -1

    admin = AdminClient({"bootstrap.servers": bystander.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "unclean", incremental_configs=[
        ConfigEntry("unclean.leader.election.enable", "true",
                    incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=20)
    wait_until(lambda: layout(bystander, "unclean")[0][0] == follower, timeout=30,
               what="the out-of-sync replica leads once unclean election is allowed")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap(cluster), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    consumer.assign([TopicPartition("unclean", 0)])
    assert [r.value for r in consumer] == [], "the unreplicated record is lost, as unclean allows"
    consumer.close()

    # The old leader returns and catches up; ElectLeaders (preferred, from
    # kafka-python) gives the partition back to its first replica.
    cluster[leader - 1].start()
    wait_until(lambda: sorted(layout(bystander, "unclean")[0][2]) == sorted(replicas),
               timeout=60, what="both replicas in sync")
    preferred = replicas[0]
    if layout(bystander, "unclean")[0][0] != preferred:
        kadmin = KafkaAdminClient(bootstrap_servers=bystander.bootstrap)
        try:
            response = kadmin.elect_leaders(0, {"unclean": [0]})
        finally:
            kadmin.close()
        codes = [p.error_code for r in response.replica_election_results
                 for p in r.partition_result]
        assert codes == [0]
    assert layout(bystander, "unclean")[0][0] == preferred
    result = admin.elect_leaders(ElectionType.PREFERRED,
                                 [CfPartition("unclean", 0)]).result(timeout=20)
    assert [e.code() for e in result.values()] == [KafkaError.ELECTION_NOT_NEEDED]


def test_a_stalled_follower_leaves_the_isr_after_the_lag_time_and_rejoins():
    """replica.lag.time.max.ms (4 s here): a follower that stops fetching —
    its process frozen with SIGSTOP, its session (60 s) far from timing
    out — leaves the ISR; thawed, it catches up and rejoins."""
    cluster = start_cluster(3, {**CLUSTER_OVERRIDES, "broker.session.timeout.ms": "60000"})
    try:
        wait_for_brokers(cluster)
        create_topic(cluster, "lagging", 1, 3, **{"min.insync.replicas": "2"})
        leader, replicas, _ = fully_replicated(cluster, "lagging", 1)[0]
        stalled = next(r for r in replicas if r != leader)
        others = [b for b in cluster if int(b.name.split("-")[1]) != stalled]
        cluster[stalled - 1].freeze()
        wait_until(lambda: stalled not in layout(others[0], "lagging")[0][2], timeout=30,
                   what="the stalled follower leaves the ISR")
        # still registered: it left for lagging, not for being fenced
        admin = AdminClient({"bootstrap.servers": others[0].bootstrap})
        assert stalled in {n.id for n in admin.describe_cluster().result(timeout=10).nodes}
        # acks=all goes on with the two in-sync replicas (min.insync.replicas=2)
        kp = KafkaProducer(bootstrap_servers=",".join(b.bootstrap for b in others), acks="all")
        offsets = [kp.send("lagging", f"v{i}".encode(), partition=0).get(timeout=20).offset
                   for i in range(5)]
        kp.close()
        assert offsets == list(range(5))
        cluster[stalled - 1].thaw()
        fully_replicated(cluster, "lagging", 1)
        wait_identical_replicas(cluster, "lagging", 1)
    finally:
        for broker in cluster:
            broker.thaw()
            broker.cleanup()
