//! KIP-951 against a two-broker cluster of real processes: a Produce (v10+)
//! or Fetch (v16+) sent to the broker that does not lead the partition is
//! refused with NOT_LEADER_OR_FOLLOWER and names the current leader, its
//! epoch and its endpoint, so the client need not refresh its metadata.
//! Older versions carry no hint.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
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

struct Node {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cluster() -> Vec<Node> {
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (free_port(), free_port())).collect();
    let voters = ports
        .iter()
        .enumerate()
        .map(|(i, (_, controller))| format!("{}@127.0.0.1:{controller}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    ports
        .iter()
        .enumerate()
        .map(|(i, (port, controller))| {
            let dir = tempfile::tempdir().unwrap();
            let overrides = [
                format!("node.id={}", i + 1),
                "process.roles=broker,controller".to_string(),
                format!(
                    "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
                ),
                format!("advertised.listeners=PLAINTEXT://127.0.0.1:{port}"),
                "controller.listener.names=CONTROLLER".to_string(),
                format!("controller.quorum.voters={voters}"),
                format!("log.dirs={}", dir.path().display()),
            ];
            let mut command = Command::new(env!("CARGO_BIN_EXE_gregor"));
            command.arg("broker");
            for o in &overrides {
                command.arg("--override").arg(o);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            Node {
                child,
                port: *port,
                _dir: dir,
            }
        })
        .collect()
}

async fn connect(port: u16) -> Connection {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Connection::connect(&format!("127.0.0.1:{port}"), "leader-hints").await {
            Ok(connection) => return connection,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("broker on {port} never came up: {error}"),
        }
    }
}

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
    let nodes = cluster();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut first = connect(nodes[0].port).await;
        let mut second = connect(nodes[1].port).await;
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
