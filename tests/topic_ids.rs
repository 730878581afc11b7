//! Topic ids on the data path (KIP-516): Produce v13 and Fetch v13+ name
//! topics by id, answer with the id, and refuse an unknown id with
//! UNKNOWN_TOPIC_ID; Fetch v15+ carries the follower's id in its replica
//! state. Sent with gregor's own protocol client at exactly those versions,
//! over a real socket (Kafka 4.4's Java client picks them by itself; the
//! compat suite shows it producing and consuming).

use bytes::Bytes;
use gregor::client::Connection;
use gregor::records::builder::BatchBuilder;
use gregor::testkit::TestBroker;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateAclsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest, ProduceRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

const UNKNOWN_TOPIC_ID: i16 = 100;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn records(values: &[&str]) -> Bytes {
    let mut builder = BatchBuilder::new(1_000);
    for value in values {
        builder.push(1_000, None, Some(value.as_bytes()), &[]);
    }
    Bytes::from(builder.build())
}

async fn topic_id(connection: &mut Connection, topic: &str) -> Uuid {
    let request = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(topic.into()))))]));
    let response = connection.request_at(request, 13).await.unwrap();
    assert_eq!(response.error_code, 0);
    response.topics[0].topic_id
}

async fn produce(connection: &mut Connection, id: Uuid, values: &[&str]) -> (Uuid, i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_topic_id(id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records(values)))])]);
    let response = connection.request_at(request, 13).await.unwrap();
    let topic = &response.responses[0];
    let partition = &topic.partition_responses[0];
    (topic.topic_id, partition.error_code, partition.base_offset)
}

async fn fetch(
    connection: &mut Connection,
    version: i16,
    id: Uuid,
    replica: i32,
) -> (Uuid, i16, i64, usize) {
    let mut request = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    if version >= 15 {
        request = request
            .with_replica_id(BrokerId(-1))
            .with_replica_state(ReplicaState::default().with_replica_id(BrokerId(replica)));
    } else {
        request = request.with_replica_id(BrokerId(replica));
    }
    let response = connection.request_at(request, version).await.unwrap();
    let topic = &response.responses[0];
    let data = &topic.partitions[0];
    let count = gregor::records::batch::Batches::new(data.records.as_deref().unwrap_or_default())
        .map(|batch| batch.unwrap().1.records_count() as usize)
        .sum();
    (topic.topic_id, data.error_code, data.high_watermark, count)
}

#[test]
fn produce_and_fetch_name_topics_by_id() {
    let broker = TestBroker::start().unwrap();
    broker.create_topic("by-id", 1).unwrap();
    runtime().block_on(async {
        let mut connection = Connection::connect(&broker.bootstrap(), "topic-ids")
            .await
            .unwrap();
        let id = topic_id(&mut connection, "by-id").await;
        assert_ne!(id, Uuid::nil());

        assert_eq!(produce(&mut connection, id, &["a", "b"]).await, (id, 0, 0));
        assert_eq!(produce(&mut connection, id, &["c"]).await, (id, 0, 2));
        for version in [13, 15, 16, 17, 18] {
            assert_eq!(
                fetch(&mut connection, version, id, -1).await,
                (id, 0, 3, 3),
                "Fetch v{version}"
            );
        }

        let unknown = Uuid::new_v4();
        let (answered, code, offset) = produce(&mut connection, unknown, &["lost"]).await;
        assert_eq!((answered, code, offset), (unknown, UNKNOWN_TOPIC_ID, -1));
        let (answered, code, _, count) = fetch(&mut connection, 13, unknown, -1).await;
        assert_eq!((answered, code, count), (unknown, UNKNOWN_TOPIC_ID, 0));
        // Nothing was written by the refused produce.
        assert_eq!(fetch(&mut connection, 13, id, -1).await.2, 3);

        // ListOffsets v10 with KIP-405's earliest-local (-4) and KIP-1005's
        // latest-tiered (-5): the log start, and none (no remote tier).
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_timeout_ms(1_000)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("by-id")))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-4)])]);
        let response = connection.request_at(request.clone(), 10).await.unwrap();
        let answer = &response.topics[0].partitions[0];
        assert_eq!((answer.error_code, answer.offset), (0, 0));
        let mut latest_tiered = request;
        latest_tiered.topics[0].partitions[0].timestamp = -5;
        let response = connection.request_at(latest_tiered, 10).await.unwrap();
        let answer = &response.topics[0].partitions[0];
        assert_eq!((answer.error_code, answer.offset), (0, -1));
    });
}

#[test]
fn a_follower_named_in_the_replica_state_needs_cluster_action() {
    // ACLs on, open where no ACL names a resource; one ACL on the cluster
    // (for someone else) closes CLUSTER_ACTION to this anonymous client,
    // while the topic, which no ACL names, stays open to it as a consumer.
    let broker = TestBroker::builder()
        .config(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .config("allow.everyone.if.no.acl.found", "true")
        .start()
        .unwrap();
    broker.create_topic("replica-state", 1).unwrap();
    runtime().block_on(async {
        let mut connection = Connection::connect(&broker.bootstrap(), "topic-ids")
            .await
            .unwrap();
        let acl = CreateAclsRequest::default().with_creations(vec![AclCreation::default()
            .with_resource_type(4)
            .with_resource_name(StrBytes::from_static_str("kafka-cluster"))
            .with_resource_pattern_type(3)
            .with_principal(StrBytes::from_static_str("User:broker"))
            .with_host(StrBytes::from_static_str("*"))
            .with_operation(9)
            .with_permission_type(3)]);
        let created = connection.request_at(acl, 3).await.unwrap();
        assert_eq!(created.results[0].error_code, 0);
        let id = topic_id(&mut connection, "replica-state").await;
        assert_eq!(produce(&mut connection, id, &["x"]).await.1, 0);
        // As a consumer: served.
        assert_eq!(fetch(&mut connection, 15, id, -1).await.1, 0);
        // As replica 1 in the v15 replica state: not without CLUSTER_ACTION.
        assert_eq!(
            fetch(&mut connection, 15, id, 1).await.1,
            TOPIC_AUTHORIZATION_FAILED
        );
    });
}

/// OffsetCommit and OffsetFetch v10 name topics by id (KIP-848); an id the
/// metadata does not know answers UNKNOWN_TOPIC_ID and commits nothing.
/// DescribeGroups v6 (KIP-1043) says GROUP_ID_NOT_FOUND for a group that
/// does not exist, with Kafka's message.
#[test]
fn offsets_are_committed_and_fetched_by_topic_id() {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::{
        DescribeGroupsRequest, GroupId, OffsetCommitRequest, OffsetFetchRequest,
    };
    const GROUP_ID_NOT_FOUND: i16 = 69;
    let broker = TestBroker::start().unwrap();
    broker.create_topic("committed-by-id", 2).unwrap();
    runtime().block_on(async {
        let mut connection = Connection::connect(&broker.bootstrap(), "topic-ids")
            .await
            .unwrap();
        let id = topic_id(&mut connection, "committed-by-id").await;
        let unknown = Uuid::new_v4();
        let group = || GroupId(StrBytes::from_static_str("by-id-group"));
        let commit = |topic_id: Uuid, offset: i64| {
            OffsetCommitRequestTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(1)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(StrBytes::from_static_str("m")))])
        };
        // A simple consumer's commit (no member, generation -1).
        let request = OffsetCommitRequest::default()
            .with_group_id(group())
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![commit(id, 42), commit(unknown, 7)]);
        let response = connection.request_at(request, 10).await.unwrap();
        let answers: Vec<(Uuid, i32, i16)> = response
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.topic_id, p.partition_index, p.error_code))
            })
            .collect();
        assert_eq!(answers, vec![(id, 1, 0), (unknown, 1, UNKNOWN_TOPIC_ID)]);

        let fetch = |topics: Option<Vec<Uuid>>| {
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(group())
                .with_topics(topics.map(|ids| {
                    ids.into_iter()
                        .map(|topic_id| {
                            OffsetFetchRequestTopics::default()
                                .with_topic_id(topic_id)
                                .with_partition_indexes(vec![0, 1])
                        })
                        .collect()
                }))])
        };
        for asked in [Some(vec![id, unknown]), None] {
            let response = connection
                .request_at(fetch(asked.clone()), 10)
                .await
                .unwrap();
            let group = &response.groups[0];
            assert_eq!(group.error_code, 0);
            let mut offsets: Vec<(Uuid, i32, i64, i16)> = group
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| {
                        (
                            t.topic_id,
                            p.partition_index,
                            p.committed_offset,
                            p.error_code,
                        )
                    })
                })
                .collect();
            offsets.sort();
            let mut expected = match asked {
                Some(_) => vec![
                    (id, 0, -1, 0),
                    (id, 1, 42, 0),
                    (unknown, 0, -1, UNKNOWN_TOPIC_ID),
                    (unknown, 1, -1, UNKNOWN_TOPIC_ID),
                ],
                // All of the group's offsets: only the known topic's.
                None => vec![(id, 1, 42, 0)],
            };
            expected.sort();
            assert_eq!(offsets, expected);
        }

        let describe = DescribeGroupsRequest::default().with_groups(vec![
            GroupId(StrBytes::from_static_str("no-such-group")),
            group(),
        ]);
        let response = connection.request_at(describe.clone(), 6).await.unwrap();
        let missing = &response.groups[0];
        assert_eq!(missing.error_code, GROUP_ID_NOT_FOUND);
        assert_eq!(
            missing.error_message.as_deref(),
            Some("Group no-such-group not found.")
        );
        // The simple consumer's group has offsets and no members: it exists.
        assert_eq!(response.groups[1].error_code, 0);
        // Before v6, a missing group is Dead without an error.
        let response = connection.request_at(describe, 5).await.unwrap();
        assert_eq!(response.groups[0].error_code, 0);
        assert_eq!(response.groups[0].group_state.as_str(), "Dead");
    });
}
