"""Replication throttles (issue 14 point 1; Kafka's KIP-73): while a
replica catches up in a reassignment, the bytes replicated for the
replicas a topic names in `leader/follower.replication.throttled.replicas`
are held to the brokers' `leader/follower.replication.throttled.rate`.

On a 2-broker cluster whose throttles are measured over two windows of one
second (`replication.quota.window.num=2`), so that a throttle holds back
for about two seconds rather than ten:
- Kafka's own `kafka-reassign-partitions.sh --execute --throttle` sets both
  sides' rates and the topic's throttled replicas; the new replica copies
  every record, metered on both sides, the throttle holds it back after
  its first fetch, and `--verify` removes the throttles once the
  reassignment is done;
- with only the leader's side set (confluent-kafka's IncrementalAlterConfigs
  for the rate and the topic's list) and franz-go moving the replica, the
  leader answers the catching-up replica without records once the rate is
  used up.
Both end with byte-identical copies and every acknowledged record read
back at its offset. No test measures time: the brokers' counters on
`/metrics` say the throttle engaged."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic)

import cluster_harness
import java_client
from cluster_harness import bootstrap, replicas_identical
from conftest import running_cluster, wait_until

pytestmark = pytest.mark.timeout(240)

OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "4000",
    "replication.quota.window.num": "2",
    "replication.quota.window.size.seconds": "1",
}

RECORDS = 600
VALUE = b"x" * 1000
RATE = 200_000


@pytest.fixture(scope="module")
def cluster():
    yield from running_cluster(2, OVERRIDES, admin_listeners=True)


def node(cluster, node_id: int):
    return next(b for b in cluster if b.overrides["node.id"] == node_id)


def throttle_figures(broker) -> dict[str, tuple[int, int]]:
    """{side: (held back, metered bytes)} from the broker's /metrics."""
    text = urllib.request.urlopen(f"http://{broker.host}:{broker.admin_port}/metrics",
                                  timeout=10).read().decode()
    figures = {}
    for side in ("leader", "follower"):
        held = re.search(rf'gregor_replication_throttled_total{{side="{side}"}} (\d+)', text)
        metered = re.search(rf'gregor_replication_throttled_bytes_total{{side="{side}"}} (\d+)',
                            text)
        assert held and metered, text
        figures[side] = (int(held.group(1)), int(metered.group(1)))
    return figures


def fill(cluster, topic: str) -> list[tuple[int, int, bytes]]:
    """A topic on broker 1 alone, with RECORDS acknowledged records."""
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1]])])[topic] \
        .result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap(cluster), "acks": "all",
                         "linger.ms": 5})
    acked = []
    for i in range(RECORDS):
        producer.produce(topic, value=VALUE + str(i).encode(), on_delivery=lambda err, msg:
                         acked.append((err, msg.partition(), msg.offset(), msg.value())))
    assert producer.flush(60) == 0
    assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]
    return [(p, o, v) for _, p, o, v in acked]


def all_read_back(cluster, topic: str, acked) -> None:
    records = cluster_harness.consume_all(bootstrap(cluster), topic, 1, len(acked))
    at = {(r.partition, r.offset): r.value for r in records}
    assert len(at) == len(acked)
    assert all(at.get((p, o)) == v for p, o, v in acked), "acknowledged records read back"


def test_kafka_reassign_partitions_throttle_holds_the_new_replica_back(cluster, tmp_path):
    topic = "throttled-tool"
    acked = fill(cluster, topic)
    before = {n: throttle_figures(node(cluster, n)) for n in (1, 2)}
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 2]}]}))
    tool = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
    base = ["--bootstrap-server", bootstrap(cluster), "--reassignment-json-file", str(plan)]
    executed = java_client.run_tool(tool, *base, "--execute", "--throttle", str(RATE))
    assert f"Successfully started partition reassignment for {topic}-0" in executed, executed
    assert f"The inter-broker throttle limit was set to {RATE} B/s" in executed, executed

    # The tool set the topic's throttled replicas and each broker's rates.
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(30)
    assert configs["leader.replication.throttled.replicas"].value == "0:1"
    assert configs["follower.replication.throttled.replicas"].value == "0:2"

    def verified():
        out = java_client.run_tool(tool, *base, "--verify")
        return out if f"Reassignment of partition {topic}-0 is completed" in out else None
    wait_until(verified, timeout=120, interval=1, what="the throttled reassignment done")

    after = {n: throttle_figures(node(cluster, n)) for n in (1, 2)}
    follower_held, follower_bytes = (a - b for a, b in zip(after[2]["follower"],
                                                           before[2]["follower"]))
    leader_held, leader_bytes = (a - b for a, b in zip(after[1]["leader"], before[1]["leader"]))
    log_bytes = RECORDS * len(VALUE)
    assert follower_bytes >= log_bytes and leader_bytes >= log_bytes, after
    assert follower_held + leader_held > 0, ("the throttle never held the replica back", after)
    configs = admin.describe_configs([resource])[resource].result(30)
    assert configs["leader.replication.throttled.replicas"].value in ("", None), \
        "--verify removes the throttle"
    wait_until(lambda: replicas_identical(cluster, topic, 1), timeout=30,
               what="byte-identical copies")
    all_read_back(cluster, topic, acked)


def test_a_leader_throttle_answers_the_catching_up_replica_without_records(cluster):
    import go_client
    from go_client import FRANZ

    topic = "throttled-leader"
    acked = fill(cluster, topic)
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster)})
    broker1 = ConfigResource(ConfigResource.Type.BROKER, "1", incremental_configs=[
        ConfigEntry("leader.replication.throttled.rate", str(RATE),
                    incremental_operation=AlterConfigOpType.SET)])
    on_topic = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("leader.replication.throttled.replicas", "*",
                    incremental_operation=AlterConfigOpType.SET)])
    for future in admin.incremental_alter_configs([broker1, on_topic]).values():
        future.result(30)
    before = throttle_figures(node(cluster, 1))["leader"]
    try:
        assert go_client.call(FRANZ, bootstrap(cluster), "reassign", topic, "0", "1,2").lines == \
            ["reassign 0 0"]
        wait_until(lambda: cluster_harness.layout(bootstrap(cluster), topic)[0][2] == [1, 2],
                   timeout=120, what="the new replica in the ISR")
    finally:
        clear = ConfigResource(ConfigResource.Type.BROKER, "1", incremental_configs=[
            ConfigEntry("leader.replication.throttled.rate", None,
                        incremental_operation=AlterConfigOpType.DELETE)])
        admin.incremental_alter_configs([clear])[clear].result(30)
    held, metered = (a - b for a, b in zip(throttle_figures(node(cluster, 1))["leader"], before))
    assert metered >= RECORDS * len(VALUE), (held, metered)
    assert held > 0, "the leader never answered the replica without records"
    # The follower's side was not set: it held nothing back for this topic.
    wait_until(lambda: replicas_identical(cluster, topic, 1), timeout=30,
               what="byte-identical copies")
    all_read_back(cluster, topic, acked)
