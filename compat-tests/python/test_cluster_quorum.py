"""Three brokers in KRaft combined mode share one metadata quorum (issue
#5, points 1 and 4 as far as the controller goes): started at the same
moment with no format step, they agree on one cluster id, every broker
lists all three, a topic created through one is known to the others, and
the quorum keeps serving after a broker is killed with SIGKILL; the killed
broker catches up when it returns; an active controller that was paused
and deposed fences no one when it wakes.

Replication itself is tested in test_cluster_replication.py.
"""

from __future__ import annotations

import re
import time

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire as w
from cluster_harness import active_controller, bootstrap, create_topic, in_sync, layout
from conftest import start_cluster, wait_for_brokers, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster():
    brokers = start_cluster(3)
    yield brokers
    for broker in brokers:
        broker.cleanup()


def described(broker):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    return admin.describe_cluster().result(timeout=20)


def topics_known_to(broker) -> set[str]:
    """The topics this very broker's Metadata lists (no other broker is
    asked)."""
    with w.WireClient(broker.host, broker.port) as client:
        return set(client.metadata_v4(None, allow_auto_create=False))


def test_three_brokers_share_one_metadata_quorum(cluster):
    # Every broker lists all three, under one cluster id.
    seen = [wait_until(lambda b=b: (lambda d: d if len(d.nodes) == 3 else None)(described(b)),
                       timeout=60, what=f"{b.name} lists three brokers")
            for b in cluster]
    assert len({d.cluster_id for d in seen}) == 1, [d.cluster_id for d in seen]
    for d in seen:
        assert sorted((n.id, n.port) for n in d.nodes) == sorted(
            (i + 1, b.port) for i, b in enumerate(cluster))

    # A topic created through broker 1 is known to the others.
    admin = AdminClient({"bootstrap.servers": cluster[0].bootstrap})
    for future in admin.create_topics([NewTopic("through-one", 1, 1)]).values():
        future.result(timeout=20)
    for broker in cluster[1:]:
        wait_until(lambda b=broker: "through-one" in topics_known_to(b), timeout=20,
                   what=f"{broker.name} knows the topic")

    # SIGKILL one broker: the other two keep the quorum and accept changes.
    cluster[0].kill()
    admin = AdminClient({"bootstrap.servers": cluster[1].bootstrap})
    for future in admin.create_topics([NewTopic("after-kill", 1, 1)]).values():
        future.result(timeout=30)
    wait_until(lambda: "after-kill" in topics_known_to(cluster[2]), timeout=20,
               what="broker 3 knows the topic created after the kill")

    # The killed broker returns and catches up from its own log.
    cluster[0].start()
    wait_until(lambda: {"through-one", "after-kill"} <= topics_known_to(cluster[0]),
               timeout=60, what="the restarted broker caught up")
    assert described(cluster[0]).cluster_id == seen[0].cluster_id


def test_kafka_metadata_quorum_describes_the_quorum(cluster):
    """`kafka-metadata-quorum.sh describe --status` and `--replication`
    (Kafka's MetadataQuorumCommand, DescribeQuorum) through any broker: the
    leader the cluster elected, its epoch, the three voters, each caught up
    to the high watermark."""
    import java_client
    wait_until(lambda: len(described(cluster[0]).nodes) == 3, timeout=60,
               what="three brokers registered")
    status = java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                  "--bootstrap-server", cluster[1].bootstrap,
                                  "describe", "--status")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    leader = int(fields["LeaderId"])
    assert leader in (1, 2, 3), status
    assert int(fields["LeaderEpoch"]) >= 1 and int(fields["HighWatermark"]) > 0, status
    assert sorted(int(v) for v in re.findall(r'"id":\s*(\d+)', fields["CurrentVoters"])) == \
        [1, 2, 3], status

    def replication():
        out = java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                   "--bootstrap-server", cluster[2].bootstrap,
                                   "describe", "--replication")
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        return {int(r[0]): (int(r[2]), int(r[3]), " ".join(r[6:])) for r in rows}, out
    # NodeId DirectoryId LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status
    rows, out = wait_until(lambda: (lambda r: r if all(lag == 0 for _, lag, _ in r[0].values())
                                    and len(r[0]) == 3 else None)(replication()),
                           timeout=30, what="voters caught up")
    assert {node: status for node, (_, _, status) in rows.items()} == \
        {n: ("Leader" if n == leader else "Follower") for n in (1, 2, 3)}, out
    # Every voter was heard from and caught up moments ago: the leader
    # reports when each last answered its appends, and itself as now.
    now_ms = time.time() * 1000
    for line in out.splitlines()[1:]:
        row = line.split()
        if not row:
            continue
        last_fetch, last_caught_up = int(row[4]), int(row[5])
        assert now_ms - 60_000 < last_caught_up <= last_fetch < now_ms + 5_000, out
    status = java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                  "--bootstrap-server", cluster[0].bootstrap,
                                  "describe", "--status")
    lag_ms = re.search(r"MaxFollowerLagTimeMs:\s*(-?\d+)", status)
    assert lag_ms and 0 <= int(lag_ms.group(1)) < 30_000, status


def test_a_broker_that_is_not_a_voter_follows_the_quorum():
    """process.roles=broker: node 4 takes no part in Raft; it learns the
    metadata from the voters, registers, leads and follows partitions like
    the others, and its changes go through the voters."""
    from confluent_kafka import Producer
    from kafka import KafkaConsumer, TopicPartition

    brokers = start_cluster(3, {"broker.session.timeout.ms": "3000",
                                "broker.heartbeat.interval.ms": "500"}, observers=1)
    try:
        observer = brokers[3]
        wait_until(lambda: len(described(observer).nodes) == 4, timeout=60,
                   what="the observer lists all four brokers")
        assert {n.id for n in described(brokers[0]).nodes} == {1, 2, 3, 4}
        # a topic created through the observer, with replicas on it
        admin = AdminClient({"bootstrap.servers": observer.bootstrap})
        for future in admin.create_topics([NewTopic("observed", 4, 3)]).values():
            future.result(timeout=30)
        wait_until(lambda: "observed" in topics_known_to(brokers[0]), timeout=20,
                   what="the voters know the topic")
        partitions = admin.list_topics("observed", timeout=10).topics["observed"].partitions
        assert any(4 in p.replicas for p in partitions.values())
        assert any(p.leader == 4 for p in partitions.values())
        bootstrap = ",".join(b.bootstrap for b in brokers)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        acked = []
        for i in range(40):
            producer.produce("observed", value=f"v{i}".encode(), partition=i % 4,
                             on_delivery=lambda err, msg: acked.append(err))
        assert producer.flush(30) == 0 and acked == [None] * 40
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=3000)
        consumer.assign([TopicPartition("observed", p) for p in range(4)])
        assert sorted(r.value for r in consumer) == sorted(f"v{i}".encode() for i in range(40))
        consumer.close()
        # killed, the observer is fenced like any broker; back, it catches up
        observer.kill()
        wait_until(lambda: 4 not in {n.id for n in described(brokers[0]).nodes}, timeout=30,
                   what="the killed observer is fenced")
        observer.start()
        wait_until(lambda: len(described(observer).nodes) == 4, timeout=60,
                   what="the observer is back")
    finally:
        for broker in brokers:
            broker.cleanup()


def test_a_paused_active_controller_fences_no_broker_when_it_wakes():
    """Found by the fault campaign: the active controller, SIGSTOPped for
    longer than broker.session.timeout.ms, woke up still believing it led,
    saw every other broker silent for as long as it had itself been
    stopped, and fenced a healthy broker: its proposal was forwarded to the
    new controller, which wrote it. A deposed controller's decisions must
    be dropped, not forwarded: healthy brokers stay registered and keep
    their leaderships."""
    brokers = start_cluster(3, {"broker.session.timeout.ms": "3000",
                                "broker.heartbeat.interval.ms": "500"})
    try:
        wait_for_brokers(brokers)
        create_topic(brokers, "steady", 3, 3)
        wait_until(lambda: in_sync(layout(bootstrap(brokers), "steady"), 3), timeout=60,
                   what="the topic in sync")
        term, node = wait_until(lambda: active_controller(brokers), timeout=30,
                                what="an active controller")
        paused = brokers[node - 1]
        healthy = [b for b in brokers if b is not paused]
        healthy_ids = {n + 1 for n, b in enumerate(brokers) if b is not paused}
        led_by_healthy = {p: leader for p, (leader, _, _)
                          in layout(healthy[0].bootstrap, "steady").items() if leader != node}
        assert led_by_healthy

        paused.freeze()
        wait_until(lambda: active_controller(brokers)[0] > term, timeout=30,
                   what="a new active controller")
        wait_until(lambda: {n.id for n in described(healthy[0]).nodes} == healthy_ids,
                   timeout=30, what=f"broker {node} fenced")
        paused.thaw()

        fenced_healthy = set()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            fenced_healthy |= healthy_ids - {n.id for n in described(healthy[0]).nodes}
            time.sleep(0.1)
        wait_until(lambda: len(described(healthy[0]).nodes) == 3, timeout=30,
                   what=f"broker {node} back")
        wait_until(lambda: in_sync(layout(bootstrap(brokers), "steady"), 3), timeout=60,
                   what="the topic in sync again")
        after = layout(bootstrap(brokers), "steady")
        assert fenced_healthy == set(), f"healthy brokers fenced: {fenced_healthy}"
        assert {p: after[p][0] for p in led_by_healthy} == led_by_healthy, after
    finally:
        for broker in brokers:
            broker.cleanup()
