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
    # A frozen follower stays registered and in the ISR for the whole test:
    # fenced, it would leave the ISR and rightly stop holding the watermark.
    "broker.session.timeout.ms": "30000",
    "replica.lag.time.max.ms": "60000",
    "broker.heartbeat.interval.ms": "500",
    "offsets.topic.replication.factor": "3",
    "log.retention.check.interval.ms": "200",
}


@pytest.fixture
def cluster():
    yield from running_cluster(3, CLUSTER_OVERRIDES, admin_listeners=True)


def offsets(broker, topic: str) -> tuple[int, int]:
    """(log start offset, high watermark) as the broker answers ListOffsets."""
    with w.WireClient(broker.host, broker.port) as client:
        return (client.list_offset(topic, 0, w.EARLIEST_TIMESTAMP),
                client.list_offset(topic, 0, w.LATEST_TIMESTAMP))


def first_segment_kept(broker, topic: str) -> bool:
    return (broker.partition_dir(topic, 0) / "00000000000000000000.log").exists()


def test_retention_never_deletes_what_followers_have_not_copied(cluster):
    topic = unique_topic("retain")
    # Small segments and a byte limit retention would apply at once.
    create_topic(cluster, topic, 1, 3, **{"segment.bytes": "4096", "retention.bytes": "8192",
                                          "min.insync.replicas": "1"})
    leader_id = layout(bootstrap(cluster), topic)[0][0]
    leader = cluster[leader_id - 1]
    stalled, other = [b for b in cluster if b is not leader]
    # A frozen follower stays in the ISR and holds the high watermark at 0.
    stalled.freeze()
    try:
        producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": 1, "linger.ms": 5,
                             "batch.num.messages": 10})
        for i in range(400):
            producer.produce(topic, value=f"{i:04d}".encode() * 25)
        assert producer.flush(30) == 0
        time.sleep(2)  # ten retention passes
        start, high_watermark = offsets(leader, topic)
        assert high_watermark == 0, "the frozen follower holds the high watermark"
        assert start == 0, f"retention deleted up to {start}, above the high watermark"
        wait_until(lambda: first_segment_kept(other, topic), timeout=10, what="replicated")
        # A restarted replica knows its high watermark from its checkpoint,
        # not from its log end, so it deletes nothing either.
        other.kill()
        other.start()
        time.sleep(2)
        for broker in (leader, other):
            assert first_segment_kept(broker, topic), f"{broker.name} deleted unreplicated data"
    finally:
        stalled.thaw()
    # Once every replica has copied it, retention goes ahead everywhere.
    wait_until(lambda: offsets(leader, topic)[1] == 400, timeout=60,
               what="the thawed follower catches up")
    deadline = time.monotonic() + 30
    while (kept := [b.name for b in cluster if first_segment_kept(b, topic)]) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kept, f"retention deletes what is replicated, but not on {kept}: " + repr(
        [(b.name, offsets(b, topic) if b is leader else None,
          sorted(p.name for p in b.partition_dir(topic, 0).glob("*.log"))) for b in cluster])


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
