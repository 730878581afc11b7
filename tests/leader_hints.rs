//! KIP-951 against a two-broker cluster of real processes: a Produce (v10+)
//! or Fetch (v16+) sent to the broker that does not lead the partition is
//! refused with NOT_LEADER_OR_FOLLOWER and names the current leader, its
//! epoch and its endpoint, so the client need not refresh its metadata.
//! Older versions carry no hint.

mod common;

use std::time::{Duration, Instant};

use gregor::client::Connection;
use gregor::records::builder::BatchBuilder;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

const NOT_LEADER_OR_FOLLOWER: i16 = 6;

/// (leader, leader epoch, topic id) once both brokers are registered and
/// the partition has a leader.
async fn leader_of(connection: &mut Connection, topic: &str) -> (i32, i32, uuid::Uuid) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = MetadataRequest::default().with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.into())))),
        ]));
        let response = connection.request_at(request, 12).await.unwrap();
        if let Some(p) = response.topics.first().and_then(|t| t.partitions.first()) {
            if response.brokers.len() == 2 && p.leader_id.0 >= 0 && p.isr_nodes.len() == 2 {
                return (p.leader_id.0, p.leader_epoch, response.topics[0].topic_id);
            }
        }
        assert!(Instant::now() < deadline, "no leader for {topic}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_refused_produce_or_fetch_names_the_current_leader() {
    let nodes = common::cluster(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut first = common::connect(nodes[0].port).await;
        let mut second = common::connect(nodes[1].port).await;
        // Both voters must be up before the cluster takes a topic.
        let create = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("hinted")))
                .with_num_partitions(1)
                .with_replication_factor(2)]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let response = first.request_at(create.clone(), 7).await.unwrap();
            if response.topics[0].error_code == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "topic not created: {response:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (leader, epoch, id) = leader_of(&mut first, "hinted").await;
        let (follower, leader_port) = match leader {
            1 => (&mut second, nodes[0].port),
            _ => (&mut first, nodes[1].port),
        };

        let fetch = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("hinted")))
                .with_topic_id(id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(-1)
                    .with_partition_max_bytes(1 << 20)])]);
        let response = follower.request_at(fetch.clone(), 16).await.unwrap();
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, NOT_LEADER_OR_FOLLOWER);
        assert_eq!(
            (
                data.current_leader.leader_id.0,
                data.current_leader.leader_epoch
            ),
            (leader, epoch)
        );
        let endpoints: Vec<(i32, String, i32)> = response
            .node_endpoints
            .iter()
            .map(|e| (e.node_id.0, e.host.to_string(), e.port))
            .collect();
        assert_eq!(
            endpoints,
            vec![(leader, "127.0.0.1".to_string(), i32::from(leader_port))]
        );
        // Fetch v15 predates the endpoints, and Kafka sets no leader there.
        let response = follower.request_at(fetch, 15).await.unwrap();
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, NOT_LEADER_OR_FOLLOWER);
        assert_eq!(data.current_leader.leader_id.0, -1);

        let mut batch = BatchBuilder::new(1_000);
        batch.push(1_000, None, Some(b"misdirected"), &[]);
        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("hinted")))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch.build().into()))])]);
        let response = follower.request_at(produce, 10).await.unwrap();
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(partition.error_code, NOT_LEADER_OR_FOLLOWER);
        assert_eq!(
            (
                partition.current_leader.leader_id.0,
                partition.current_leader.leader_epoch
            ),
            (leader, epoch)
        );
        assert_eq!(response.node_endpoints.len(), 1);
        assert_eq!(
            response.node_endpoints[0].port,
            i32::from(leader_port),
            "the leader's address on the listener asked"
        );
    });
}
