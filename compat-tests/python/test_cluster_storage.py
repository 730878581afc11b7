"""What replication must never lose to the storage layer, in a real
three-broker cluster: retention deletes nothing a follower has not copied
(only below the high watermark, across a leader restart too), and a leader
whose disk fails an fsync takes its log dir offline, hands its leaderships
on, and acks=all producers carry on without losing or duplicating a record.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

import kafka_wire as w
from cluster_harness import bootstrap, consume_all, create_topic, layout
from conftest import FaultPlane, running_cluster, unique_topic, wait_until

pytestmark = pytest.mark.timeout(240)

CLUSTER_OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "offsets.topic.replication.factor": "3",
    "log.retention.check.interval.ms": "200",
}


@pytest.fixture
def cluster():
    # Frozen followers stay in the ISR for the whole test.
    yield from running_cluster(3, {**CLUSTER_OVERRIDES, "replica.lag.time.max.ms": "60000"},
                               admin_listeners=True)


def offsets(broker, topic: str) -> tuple[int, int]:
    """(log start offset, high watermark) as the broker answers ListOffsets."""
    with w.WireClient(broker.host, broker.port) as client:
        return (client.list_offset(topic, 0, w.EARLIEST_TIMESTAMP),
                client.list_offset(topic, 0, w.LATEST_TIMESTAMP))


def test_retention_never_deletes_what_followers_have_not_copied(cluster):
    topic = unique_topic("retain")
    # Small segments and a byte limit retention would apply at once.
    create_topic(cluster, topic, 1, 3, **{"segment.bytes": "4096", "retention.bytes": "8192",
                                          "min.insync.replicas": "1"})
    leader_id = layout(bootstrap(cluster), topic)[0][0]
    leader = cluster[leader_id - 1]
    followers = [b for b in cluster if b is not leader]
    for follower in followers:
        follower.freeze()
    try:
        producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": 1, "linger.ms": 5})
        for i in range(400):
            producer.produce(topic, value=f"{i:04d}".encode() * 25)
        assert producer.flush(30) == 0
        assert leader.partition_dir(topic, 0).exists()
        # Many retention passes later, with nothing replicated:
        time.sleep(2)
        start, high_watermark = offsets(leader, topic)
        assert high_watermark == 0, "the frozen followers hold the high watermark"
        assert start == 0, f"retention deleted up to {start}, above the high watermark"
        # A restart of the leader does not change that.
        leader.kill()
        leader.start()
        wait_until(lambda: layout(leader.bootstrap, topic)[0][0] == leader_id, timeout=30,
                   what="the restarted leader leads again")
        time.sleep(1)
        assert offsets(leader, topic)[0] == 0
    finally:
        for follower in followers:
            follower.thaw()
    # Once copied, retention goes ahead.
    wait_until(lambda: offsets(leader, topic)[1] == 400, timeout=60,
               what="the followers catch up")
    wait_until(lambda: offsets(leader, topic)[0] > 0, timeout=30,
               what="retention deletes what is replicated")
    for follower in followers:
        wait_until(lambda: offsets(follower, topic)[1] == 400, timeout=30,
                   what=f"{follower.name} has every record")


def test_an_fsync_failure_on_the_leader_moves_leadership_without_loss(cluster):
    topic = unique_topic("eio")
    create_topic(cluster, topic, 1, 3, **{"min.insync.replicas": "2", "flush.messages": "1"})
    leader_id = layout(bootstrap(cluster), topic)[0][0]
    leader = cluster[leader_id - 1]
    acked, failed = [], []

    def delivered(err, msg):
        (failed if err else acked).append(msg.value())

    producer = Producer({"bootstrap.servers": bootstrap(cluster), "enable.idempotence": True,
                         "linger.ms": 2, "message.timeout.ms": 60000})
    for i in range(200):
        producer.produce(topic, value=f"before-{i}".encode(), on_delivery=delivered)
    assert producer.flush(30) == 0
    status, _ = FaultPlane(leader.admin_port).call(
        "POST", "/faults/disk", {"op": "fsync", "errno": "EIO"})
    assert status == 201
    for i in range(300):
        producer.produce(topic, value=f"after-{i}".encode(), on_delivery=delivered)
        producer.poll(0)
        time.sleep(0.005)
    assert producer.flush(90) == 0
    assert not failed, f"{len(failed)} records failed"
    new_leader = layout(bootstrap(cluster), topic)[0][0]
    assert new_leader != leader_id, "leadership moved off the failed disk"
    assert "log dir failed" in leader.log_tail(1000)
    got = [r.value for r in consume_all(cluster[new_leader - 1].bootstrap, topic, 1, 500)]
    assert sorted(got) == sorted(acked), "every acknowledged record, exactly once"
    assert len(got) == 500
