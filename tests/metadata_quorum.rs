//! The metadata quorum as three controllers on loopback sockets: one is
//! elected, metadata records reach every voter, the quorum survives the
//! loss of its leader, and a restarted voter catches up from its own files.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gregor::controller::quorum::log_store::LogStore;
use gregor::controller::quorum::network::{serve, Local, QuorumNetwork};
use gregor::controller::quorum::state_machine::StateMachineStore;
use gregor::controller::quorum::{ControllerNode, MetadataRaft, MetadataRecord, MetadataResponse};
use gregor::metadata::{BrokerImage, TopicImage};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

struct Voter {
    raft: MetadataRaft,
    state: StateMachineStore,
    stop: CancellationToken,
}

fn raft_config() -> Arc<openraft::Config> {
    let config = openraft::Config {
        heartbeat_interval: 50,
        election_timeout_min: 200,
        election_timeout_max: 400,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

async fn start(id: u64, dir: &std::path::Path, listener: TcpListener) -> Voter {
    let log = LogStore::open(dir).unwrap();
    let state = StateMachineStore::open(dir).unwrap();
    let raft = MetadataRaft::new(
        id,
        raft_config(),
        QuorumNetwork::default(),
        log,
        state.clone(),
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        Default::default(),
        Default::default(),
        Local {
            raft: raft.clone(),
            state: state.clone(),
            liveness: Default::default(),
            contacts: Default::default(),
            changes: Default::default(),
        },
        Default::default(),
        stop.clone(),
    ));
    Voter { raft, state, stop }
}

async fn leader_of(voters: &[&Voter]) -> u64 {
    voters[0]
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.current_leader.is_some(), "a leader")
        .await
        .unwrap()
        .current_leader
        .unwrap()
}

async fn applied(
    voter: &Voter,
    what: &str,
    done: impl Fn(&gregor::controller::quorum::MetadataState) -> bool,
) {
    let mut states = voter.state.subscribe();
    tokio::time::timeout(Duration::from_secs(10), states.wait_for(|s| done(s)))
        .await
        .unwrap_or_else(|_| panic!("{what} never applied"))
        .unwrap();
}

fn topic(name: &str) -> TopicImage {
    TopicImage {
        name: name.to_string(),
        id: uuid::Uuid::new_v4(),
        partitions: Vec::new(),
        configs: BTreeMap::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_replicate_fail_over_and_catch_up() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let addresses: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let mut voters = Vec::new();
    for (index, listener) in listeners.into_iter().enumerate() {
        voters.push(Some(
            start(index as u64 + 1, dirs[index].path(), listener).await,
        ));
    }
    let members: BTreeMap<u64, ControllerNode> = addresses
        .iter()
        .enumerate()
        .map(|(index, address)| (index as u64 + 1, ControllerNode::new(address)))
        .collect();
    voters[0]
        .as_ref()
        .unwrap()
        .raft
        .initialize(members)
        .await
        .unwrap();

    let all: Vec<&Voter> = voters.iter().flatten().collect();
    let leader = leader_of(&all).await;
    let leading = &voters[leader as usize - 1].as_ref().unwrap().raft;
    let broker = BrokerImage {
        node_id: 7,
        host: "localhost".into(),
        port: 9092,
        rack: None,
        endpoints: Vec::new(),
    };
    leading
        .client_write(MetadataRecord::RegisterBroker(broker))
        .await
        .unwrap();
    let block = leading
        .client_write(MetadataRecord::AllocateProducerIds { block_size: 1000 })
        .await
        .unwrap();
    assert_eq!(
        block.data,
        MetadataResponse::ProducerIds {
            start: 0,
            end: 1000
        }
    );
    for voter in voters.iter().flatten() {
        applied(voter, "the broker", |s| {
            s.brokers.contains_key(&7) && s.next_producer_id == 1000
        })
        .await;
    }

    // The leader dies: the other two elect one of themselves and go on.
    let dead = voters[leader as usize - 1].take().unwrap();
    dead.stop.cancel();
    dead.raft.shutdown().await.unwrap();
    drop(dead);
    let survivors: Vec<&Voter> = voters.iter().flatten().collect();
    let new_leader = survivors[0]
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(
            |m| m.current_leader.is_some_and(|l| l != leader),
            "a new leader",
        )
        .await
        .unwrap()
        .current_leader
        .unwrap();
    let leading = &voters[new_leader as usize - 1].as_ref().unwrap().raft;
    leading
        .client_write(MetadataRecord::PutTopic(topic("orders")))
        .await
        .unwrap();
    for voter in voters.iter().flatten() {
        applied(voter, "the topic", |s| s.topics.contains_key("orders")).await;
    }

    // The old leader restarts from its files on its address and catches up.
    let listener = TcpListener::bind(&addresses[leader as usize - 1])
        .await
        .unwrap();
    let restarted = start(leader, dirs[leader as usize - 1].path(), listener).await;
    applied(&restarted, "the topic on the restarted voter", |s| {
        s.topics.contains_key("orders") && s.brokers.contains_key(&7) && s.next_producer_id == 1000
    })
    .await;
    restarted.stop.cancel();
    restarted.raft.shutdown().await.unwrap();
    for voter in voters.into_iter().flatten() {
        voter.stop.cancel();
        voter.raft.shutdown().await.unwrap();
    }
}
