//! `gregor metadata-quorum`: the quorum tool, modelled on
//! `kafka-metadata-quorum.sh` (Kafka's `MetadataQuorumCommand`):
//! `describe --status` and `describe --replication [--human-readable]`,
//! printed field for field as Kafka's tool prints them, from DescribeQuorum
//! (and DescribeCluster for the cluster id) sent to any broker;
//! `add-controller` and `remove-controller` (KIP-853) send AddRaftVoter and
//! RemoveRaftVoter, the controller to add read from its own
//! server.properties and meta.properties as Kafka's tool reads them, or
//! named with gregor's `--controller-*` flags.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use std::path::Path;

use kafka_protocol::messages::add_raft_voter_request::Listener as VoterListener;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::describe_quorum_response::{self, ReplicaState};
use kafka_protocol::messages::{
    AddRaftVoterRequest, DescribeClusterRequest, DescribeQuorumRequest, RemoveRaftVoterRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{broker_error, CommandError};
use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::config::properties;
use crate::kafka_uuid;

const CLIENT_ID: &str = "gregor-metadata-quorum";
/// The metadata log's name in KRaft, the only partition DescribeQuorum describes.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub enum Action {
    /// `describe --status`.
    Status,
    /// `describe --replication`, timestamps as "N ms ago" if human-readable.
    Replication { human_readable: bool },
    /// `add-controller`: makes `controller` a voter.
    AddController {
        controller: Controller,
        dry_run: bool,
    },
    /// `remove-controller --controller-id --controller-directory-id`.
    RemoveController {
        id: i32,
        directory_id: String,
        dry_run: bool,
    },
}

/// A controller to add to the quorum: its node id, the directory id of its
/// metadata log dir, and its controller listeners' endpoints.
#[derive(Debug, PartialEq)]
pub struct Controller {
    pub id: i32,
    pub directory_id: uuid::Uuid,
    pub endpoints: Vec<Endpoint>,
}

/// `LISTENER://host:port`.
#[derive(Debug, PartialEq)]
pub struct Endpoint {
    pub listener: String,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `NAME://host:port` (`[v6]` hosts in brackets, an empty host
    /// `localhost` as Kafka's tool takes it).
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let bad = || format!("{text:?} is not LISTENER://host:port");
        let (listener, address) = text.trim().split_once("://").ok_or_else(bad)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Endpoint {
            listener: listener.to_uppercase(),
            host: match host.is_empty() {
                true => "localhost".to_string(),
                false => host.to_string(),
            },
            port: port.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "{}://[{}]:{}", self.listener, self.host, self.port),
            false => write!(f, "{}://{}:{}", self.listener, self.host, self.port),
        }
    }
}

/// The controller a server.properties describes, as Kafka's add-controller
/// reads it: `node.id`, `process.roles` with `controller`, the directory id
/// in the meta.properties of `metadata.log.dir` (else the first of
/// `log.dirs`), and the (advertised) listeners `controller.listener.names`
/// names. Errors are Kafka's texts.
pub fn controller_from_properties(path: &Path) -> Result<Controller, CommandError> {
    let usage = |message: String| CommandError::Usage(message);
    let text = std::fs::read_to_string(path).map_err(|_| {
        usage(format!(
            "Properties file {} does not exist.",
            path.display()
        ))
    })?;
    let settings = properties::parse(&text).map_err(|reason| CommandError::CommandConfig {
        path: path.display().to_string(),
        reason,
    })?;
    let node_id = settings.get("node.id").ok_or_else(|| {
        usage("node.id not found in configuration file. Is this a valid controller configuration file?".to_string())
    })?;
    let id: i32 = node_id
        .trim()
        .parse()
        .map_err(|_| usage(format!("node.id {node_id:?} is not a number")))?;
    if id < 0 {
        return Err(usage("node.id was negative in configuration file. Is this a valid controller configuration file?".to_string()));
    }
    if !settings
        .get("process.roles")
        .is_some_and(|roles| roles.contains("controller"))
    {
        return Err(usage("process.roles did not contain 'controller' in configuration file. Is this a valid controller configuration file?".to_string()));
    }
    let metadata_dir = settings
        .get("metadata.log.dir")
        .cloned()
        .or_else(|| {
            settings
                .get("log.dirs")
                .and_then(|dirs| dirs.trim().split(',').next().map(str::to_string))
        })
        .ok_or_else(|| {
            usage("Neither metadata.log.dir nor log.dirs were found. Is this a valid controller configuration file?".to_string())
        })?;
    let meta = std::fs::read_to_string(Path::new(&metadata_dir).join("meta.properties")).map_err(
        |_| {
            usage(format!(
                "Unable to read meta.properties from {metadata_dir}"
            ))
        },
    )?;
    let meta = properties::parse(&meta).map_err(|_| {
        usage(format!(
            "Unable to read meta.properties from {metadata_dir}"
        ))
    })?;
    let directory_id = meta
        .get("directory.id")
        .ok_or_else(|| usage(format!("No directory id found in {metadata_dir}")))?;
    let directory_id = kafka_uuid::parse(directory_id).map_err(|error| usage(error.to_string()))?;
    let mut listeners: BTreeMap<String, Endpoint> = BTreeMap::new();
    for key in ["listeners", "advertised.listeners"] {
        for text in settings
            .get(key)
            .map(String::as_str)
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.trim().is_empty())
        {
            let endpoint = Endpoint::parse(text).map_err(|reason| CommandError::CommandConfig {
                path: path.display().to_string(),
                reason,
            })?;
            listeners.insert(endpoint.listener.clone(), endpoint);
        }
    }
    let names = settings.get("controller.listener.names").ok_or_else(|| {
        usage("controller.listener.names was not found. Is this a valid controller configuration file?".to_string())
    })?;
    let mut endpoints = Vec::new();
    for name in names.split(',').map(|n| n.trim().to_uppercase()) {
        let endpoint = listeners.remove(&name).ok_or_else(|| {
            usage(format!(
                "Cannot find information about controller listener name: {name}"
            ))
        })?;
        endpoints.push(endpoint);
    }
    Ok(Controller {
        id,
        directory_id,
        endpoints,
    })
}

/// Where the command connects: brokers (`--bootstrap-server`) or
/// controllers, on their controller listener (`--bootstrap-controller`).
#[derive(Clone, Copy, Debug)]
pub enum Bootstrap<'a> {
    Brokers(&'a str),
    Controllers(&'a str),
}

/// Runs the command against `bootstrap`, connecting with `security`, and
/// returns what it prints.
pub async fn run(
    bootstrap: Bootstrap<'_>,
    security: &ClientSecurityConfig,
    action: Action,
) -> Result<String, CommandError> {
    // DescribeCluster's endpoint types (KIP-919).
    let (addresses, endpoint_type) = match bootstrap {
        Bootstrap::Brokers(addresses) => (addresses, 1),
        Bootstrap::Controllers(addresses) => (addresses, 2),
    };
    let mut connection = super::connect_bootstrap(addresses, CLIENT_ID, security).await?;
    match action {
        Action::Status => {
            let cluster = connection
                .request(
                    DescribeClusterRequest::default().with_endpoint_type(endpoint_type),
                    1,
                )
                .await?;
            broker_error(
                cluster.error_code,
                cluster.error_message.as_ref(),
                "DescribeCluster",
            )?;
            let quorum = describe_quorum(&mut connection).await?;
            Ok(status(&cluster.cluster_id, &quorum)?)
        }
        Action::Replication { human_readable } => {
            let quorum = describe_quorum(&mut connection).await?;
            Ok(replication(&quorum, human_readable, now_ms())?)
        }
        Action::AddController {
            controller,
            dry_run,
        } => {
            if !dry_run {
                let request = AddRaftVoterRequest::default()
                    .with_cluster_id(None)
                    .with_timeout_ms(60_000)
                    .with_voter_id(controller.id)
                    .with_voter_directory_id(controller.directory_id)
                    .with_listeners(
                        controller
                            .endpoints
                            .iter()
                            .map(|endpoint| {
                                VoterListener::default()
                                    .with_name(StrBytes::from_string(endpoint.listener.clone()))
                                    .with_host(StrBytes::from_string(endpoint.host.clone()))
                                    .with_port(endpoint.port)
                            })
                            .collect(),
                    );
                let response = connection.request(request, 0).await?;
                broker_error(
                    response.error_code,
                    response.error_message.as_ref(),
                    "AddRaftVoter",
                )?;
            }
            let endpoints: Vec<String> = controller
                .endpoints
                .iter()
                .map(ToString::to_string)
                .collect();
            Ok(format!(
                "{} controller {} with directory id {} and endpoints: {}\n",
                if dry_run {
                    "DRY RUN of adding"
                } else {
                    "Added"
                },
                controller.id,
                kafka_uuid::format(controller.directory_id),
                endpoints.join(", ")
            ))
        }
        Action::RemoveController {
            id,
            directory_id,
            dry_run,
        } => {
            if id < 0 {
                return Err(CommandError::Usage(format!(
                    "Invalid negative --controller-id: {id}"
                )));
            }
            let directory_id = kafka_uuid::parse(&directory_id).map_err(|error| {
                CommandError::Usage(format!(
                    "Failed to parse --controller-directory-id: {error}"
                ))
            })?;
            if !dry_run {
                let request = RemoveRaftVoterRequest::default()
                    .with_cluster_id(None)
                    .with_voter_id(id)
                    .with_voter_directory_id(directory_id);
                let response = connection.request(request, 0).await?;
                broker_error(
                    response.error_code,
                    response.error_message.as_ref(),
                    "RemoveRaftVoter",
                )?;
            }
            Ok(format!(
                "{}KRaft controller {id} with directory id {}\n",
                if dry_run {
                    "DRY RUN of removing "
                } else {
                    "Removed "
                },
                kafka_uuid::format(directory_id)
            ))
        }
    }
}

/// The metadata log's partition as the quorum's leader describes it, with
/// the controllers' endpoints (v2).
struct Quorum {
    partition: describe_quorum_response::PartitionData,
    nodes: Vec<describe_quorum_response::Node>,
}

async fn describe_quorum(connection: &mut Connection) -> Result<Quorum, ClientError> {
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let response = connection.request(request, 2).await?;
    broker_error(
        response.error_code,
        response.error_message.as_ref(),
        "DescribeQuorum",
    )?;
    let partition = response
        .topics
        .into_iter()
        .flat_map(|topic| topic.partitions)
        .find(|partition| partition.partition_index == 0)
        .ok_or_else(|| {
            ClientError::Protocol("DescribeQuorum answered without the metadata log".to_string())
        })?;
    broker_error(
        partition.error_code,
        partition.error_message.as_ref(),
        "DescribeQuorum",
    )?;
    Ok(Quorum {
        partition,
        nodes: response.nodes,
    })
}

impl Quorum {
    fn leader(&self) -> Result<&ReplicaState, ClientError> {
        let leader_id = self.partition.leader_id;
        self.partition
            .current_voters
            .iter()
            .find(|voter| voter.replica_id == leader_id)
            .ok_or_else(|| {
                ClientError::Broker(format!(
                    "the quorum's leader {} is not among its voters (no leader elected yet?)",
                    leader_id.0
                ))
            })
    }

    /// `[{"id": 1, "directoryId": "…", "endpoints": ["CONTROLLER://host:port"]}, …]`
    /// as Kafka's tool prints voters and observers.
    fn replicas_text(&self, replicas: &[ReplicaState]) -> String {
        let nodes: Vec<String> = replicas
            .iter()
            .map(|replica| {
                let mut text = format!("{{\"id\": {}", replica.replica_id.0);
                if !replica.replica_directory_id.is_nil() {
                    write!(
                        text,
                        ", \"directoryId\": \"{}\"",
                        kafka_uuid::format(replica.replica_directory_id)
                    )
                    .ok();
                }
                let endpoints: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|node| node.node_id == replica.replica_id)
                    .flat_map(|node| &node.listeners)
                    .map(|listener| {
                        let host = listener.host.as_str();
                        match host.contains(':') {
                            true => format!("\"{}://[{host}]:{}\"", listener.name, listener.port),
                            false => format!("\"{}://{host}:{}\"", listener.name, listener.port),
                        }
                    })
                    .collect();
                if !endpoints.is_empty() {
                    write!(text, ", \"endpoints\": [{}]", endpoints.join(", ")).ok();
                }
                text.push('}');
                text
            })
            .collect();
        format!("[{}]", nodes.join(", "))
    }
}

fn status(cluster_id: &str, quorum: &Quorum) -> Result<String, ClientError> {
    let partition = &quorum.partition;
    let leader = quorum.leader()?;
    // The first voter furthest behind, as Java's `Stream.min` picks it.
    let max_lag_follower = partition
        .current_voters
        .iter()
        .reduce(
            |furthest, voter| match voter.log_end_offset < furthest.log_end_offset {
                true => voter,
                false => furthest,
            },
        )
        .unwrap_or(leader);
    let max_follower_lag = leader.log_end_offset - max_lag_follower.log_end_offset;
    let max_follower_lag_time_ms = if max_lag_follower.replica_id == leader.replica_id {
        0
    } else if leader.last_caught_up_timestamp != -1
        && max_lag_follower.last_caught_up_timestamp != -1
    {
        leader.last_caught_up_timestamp - max_lag_follower.last_caught_up_timestamp
    } else {
        -1
    };
    Ok(format!(
        "ClusterId:              {cluster_id}\n\
         LeaderId:               {}\n\
         LeaderEpoch:            {}\n\
         HighWatermark:          {}\n\
         MaxFollowerLag:         {max_follower_lag}\n\
         MaxFollowerLagTimeMs:   {max_follower_lag_time_ms}\n\
         CurrentVoters:          {}\n\
         CurrentObservers:       {}\n",
        partition.leader_id.0,
        partition.leader_epoch,
        partition.high_watermark,
        quorum.replicas_text(&partition.current_voters),
        quorum.replicas_text(&partition.observers),
    ))
}

fn replication(quorum: &Quorum, human_readable: bool, now_ms: i64) -> Result<String, ClientError> {
    let partition = &quorum.partition;
    let leader = quorum.leader()?;
    let timestamp = |value: i64, what: &str| -> Result<String, ClientError> {
        if value == -1 {
            return Ok("-1".to_string());
        }
        if !human_readable {
            return Ok(value.to_string());
        }
        if value <= 0 || value > now_ms {
            return Err(ClientError::Broker(format!(
                "Error while computing relative time, possible drift in system clock.\n\
                 Current timestamp is {now_ms}, {what} timestamp is {value}"
            )));
        }
        Ok(format!("{} ms ago", now_ms - value))
    };
    let followers = partition
        .current_voters
        .iter()
        .filter(|voter| voter.replica_id != leader.replica_id);
    let mut rows = Vec::new();
    for (replica, role) in std::iter::once((leader, "Leader"))
        .chain(followers.map(|voter| (voter, "Follower")))
        .chain(partition.observers.iter().map(|o| (o, "Observer")))
    {
        rows.push(vec![
            replica.replica_id.0.to_string(),
            kafka_uuid::format(replica.replica_directory_id),
            replica.log_end_offset.to_string(),
            (leader.log_end_offset - replica.log_end_offset).to_string(),
            timestamp(replica.last_fetch_timestamp, "last fetch")?,
            timestamp(replica.last_caught_up_timestamp, "last caught up")?,
            role.to_string(),
        ]);
    }
    Ok(table(
        &[
            "NodeId",
            "DirectoryId",
            "LogEndOffset",
            "Lag",
            "LastFetchTimestamp",
            "LastCaughtUpTimestamp",
            "Status",
        ],
        &rows,
    ))
}

/// Kafka's `ToolsUtils.prettyPrintTable`: each column padded to its widest
/// cell, every cell followed by a tab.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| header.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
    for row in std::iter::once(&headers).chain(rows) {
        for (width, cell) in widths.iter().zip(row) {
            write!(out, "{cell:<width$}\t").ok();
        }
        out.push('\n');
    }
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_quorum_response::{Listener, Node};
    use kafka_protocol::messages::BrokerId;

    fn replica(id: i32, log_end_offset: i64, caught_up: i64) -> ReplicaState {
        ReplicaState::default()
            .with_replica_id(BrokerId(id))
            .with_log_end_offset(log_end_offset)
            .with_last_fetch_timestamp(caught_up)
            .with_last_caught_up_timestamp(caught_up)
    }

    fn quorum() -> Quorum {
        Quorum {
            partition: describe_quorum_response::PartitionData::default()
                .with_leader_id(BrokerId(1))
                .with_leader_epoch(3)
                .with_high_watermark(40)
                .with_current_voters(vec![
                    replica(1, 42, 1_000),
                    replica(2, 40, 900),
                    replica(3, 42, 1_000),
                ])
                .with_observers(vec![replica(4, 30, -1)]),
            nodes: vec![Node::default()
                .with_node_id(BrokerId(1))
                .with_listeners(vec![Listener::default()
                    .with_name(StrBytes::from_static_str("CONTROLLER"))
                    .with_host(StrBytes::from_static_str("localhost"))
                    .with_port(9093)])],
        }
    }

    #[test]
    fn a_controllers_server_properties_give_its_id_directory_and_endpoints() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("meta.properties"),
            "version=1\ncluster.id=abc\nnode.id=5\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAQ\n",
        )
        .unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(
            &path,
            format!(
                "node.id=5\nprocess.roles=broker,controller\nlog.dirs={}\n\
                 listeners=PLAINTEXT://:9092,CONTROLLER://0.0.0.0:9093\n\
                 advertised.listeners=PLAINTEXT://h:9092,CONTROLLER://c5:9093\n\
                 controller.listener.names=CONTROLLER\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let controller = controller_from_properties(&path).unwrap();
        assert_eq!(controller.id, 5);
        assert_eq!(
            kafka_uuid::format(controller.directory_id),
            "AAAAAAAAAAAAAAAAAAAAAQ"
        );
        assert_eq!(
            controller
                .endpoints
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["CONTROLLER://c5:9093"]
        );
        std::fs::write(&path, "node.id=5\nprocess.roles=broker\n").unwrap();
        assert_eq!(
            controller_from_properties(&path).unwrap_err().to_string(),
            "process.roles did not contain 'controller' in configuration file. Is this a valid controller configuration file?"
        );
        assert!(kafka_uuid::parse("not-a-uuid").is_err());
    }

    #[test]
    fn status_prints_kafkas_fields_and_the_furthest_voters_lag() {
        let text = status("abc", &quorum()).unwrap();
        assert_eq!(
            text,
            "ClusterId:              abc\nLeaderId:               1\nLeaderEpoch:            3\n\
             HighWatermark:          40\nMaxFollowerLag:         2\nMaxFollowerLagTimeMs:   100\n\
             CurrentVoters:          [{\"id\": 1, \"endpoints\": [\"CONTROLLER://localhost:9093\"]}, {\"id\": 2}, {\"id\": 3}]\n\
             CurrentObservers:       [{\"id\": 4}]\n"
        );
    }

    #[test]
    fn replication_lists_the_leader_then_followers_then_observers() {
        let text = replication(&quorum(), false, 2_000).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NodeId\tDirectoryId           \tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus  \t");
        assert!(lines[1].starts_with("1     \tAAAAAAAAAAAAAAAAAAAAAA\t42          \t0  \t1000"));
        assert!(lines[2].ends_with("Follower\t"));
        assert!(lines[4].contains("\t-1                \t-1                   \tObserver\t"));
        let human = replication(&quorum(), true, 2_000).unwrap();
        assert!(human.contains("1000 ms ago"), "{human}");
    }
}
