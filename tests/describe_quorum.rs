//! DescribeQuorum (KIP-595) against a three-node cluster of real
//! processes: any node answers with the leader's view — the leader and its
//! epoch, the high watermark, every voter's log end offset (the followers
//! caught up), and (v2) each voter's controller endpoint. Only
//! `__cluster_metadata` partition 0 is described.

mod common;

use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{DescribeQuorumRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

fn request(topic: &'static str, partition: i32) -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(topic)))
        .with_partitions(vec![
            PartitionData::default().with_partition_index(partition)
        ])])
}

#[test]
fn every_node_describes_the_quorum_as_its_leader_sees_it() {
    let nodes = common::cluster(3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut views = Vec::new();
        for node in &nodes {
            let mut connection = common::connect(node.port).await;
            // Until the quorum has a leader and every follower caught up.
            let deadline = Instant::now() + Duration::from_secs(30);
            let answer = loop {
                let response = connection
                    .request_at(request("__cluster_metadata", 0), 2)
                    .await
                    .unwrap();
                let partition = response.topics[0].partitions[0].clone();
                let caught_up = partition.error_code == 0
                    && partition.current_voters.len() == 3
                    && partition
                        .current_voters
                        .iter()
                        .all(|v| v.log_end_offset >= partition.high_watermark);
                if caught_up {
                    break (response, partition);
                }
                assert!(Instant::now() < deadline, "no settled quorum: {response:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            views.push(answer);
        }
        let (response, partition) = &views[0];
        let leader = partition.leader_id.0;
        assert!((1..=3).contains(&leader), "{partition:?}");
        assert!(partition.leader_epoch >= 1);
        assert!(partition.high_watermark > 0);
        let mut voters: Vec<i32> = partition
            .current_voters
            .iter()
            .map(|v| v.replica_id.0)
            .collect();
        voters.sort();
        assert_eq!(voters, vec![1, 2, 3]);
        // Every node names the same leader and epoch.
        for (_, other) in &views {
            assert_eq!(
                (other.leader_id.0, other.leader_epoch),
                (leader, partition.leader_epoch)
            );
        }
        // v2: the voters' controller endpoints.
        let mut endpoints: Vec<(i32, u16)> = response
            .nodes
            .iter()
            .map(|n| (n.node_id.0, n.listeners[0].port))
            .collect();
        endpoints.sort();
        let expected: Vec<(i32, u16)> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i32 + 1, n.controller_port))
            .collect();
        assert_eq!(endpoints, expected);
        assert_eq!(response.nodes[0].listeners[0].name.as_str(), "CONTROLLER");

        let mut connection = common::connect(nodes[0].port).await;
        for wrong in [request("other", 0), request("__cluster_metadata", 1)] {
            let response = connection.request_at(wrong, 2).await.unwrap();
            assert_eq!(
                response.topics[0].partitions[0].error_code,
                UNKNOWN_TOPIC_OR_PARTITION
            );
        }
        // v0 has no endpoints and no timestamps, but the same leader.
        let response = connection
            .request_at(request("__cluster_metadata", 0), 0)
            .await
            .unwrap();
        assert_eq!(response.topics[0].partitions[0].leader_id.0, leader);
    });
}
