"""DescribeCluster and ElectLeaders from both admin clients (issue #5
point 4, single-broker half): the cluster id, controller and brokers as
the broker knows them; preferred and unclean elections answered per
partition (ELECTION_NOT_NEEDED where the preferred replica leads,
UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist).
"""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka._model import ElectionType
from kafka import errors as kafka_errors
from kafka.admin import KafkaAdminClient

pytestmark = pytest.mark.timeout(60)


def test_describe_cluster_from_both_admin_clients(broker):
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    confluent = client.describe_cluster(include_authorized_operations=False).result(timeout=10)
    assert len(confluent.cluster_id) == 22, confluent.cluster_id
    assert confluent.controller is not None and confluent.controller.id == 1
    assert [(n.id, n.port) for n in confluent.nodes] == [(1, broker.port)]

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        described = admin.describe_cluster()
    finally:
        admin.close()
    assert described["cluster_id"] == confluent.cluster_id
    assert described["controller_id"] == 1
    assert [(b["broker_id"], b["port"], b["is_fenced"]) for b in described["brokers"]] == [(1, broker.port, False)]


def test_elect_leaders_from_both_admin_clients(broker, topic):
    confluent = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in confluent.create_topics([NewTopic(topic, 2, 1)]).values():
        future.result(timeout=10)

    for election in (ElectionType.PREFERRED, ElectionType.UNCLEAN):
        result = confluent.elect_leaders(
            election, [TopicPartition(topic, 0), TopicPartition(topic, 1),
                       TopicPartition(topic, 7)]).result(timeout=10)
        codes = {tp.partition: (error.code() if error else None) for tp, error in result.items()}
        assert codes == {0: KafkaError.ELECTION_NOT_NEEDED, 1: KafkaError.ELECTION_NOT_NEEDED,
                         7: KafkaError.UNKNOWN_TOPIC_OR_PART}, (election, codes)
    # Every partition: no election happens, so nothing is listed.
    assert confluent.elect_leaders(ElectionType.PREFERRED, None).result(timeout=10) == {}

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        response = admin.elect_leaders(0, {topic: [0, 1]})
        codes = sorted((p.partition_id, p.error_code)
                       for r in response.replica_election_results for p in r.partition_result)
        assert codes == [(0, 84), (1, 84)]
        with pytest.raises(kafka_errors.UnknownTopicOrPartitionError):
            admin.elect_leaders(1, {topic: [9]})
    finally:
        admin.close()
