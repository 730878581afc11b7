//! `gregor reassign-partitions`: the reassignment tool, modelled on
//! `kafka-reassign-partitions.sh` (Kafka's `ReassignPartitionsCommand`):
//! `--execute`, `--verify`, `--cancel` with a reassignment JSON file in
//! Kafka's format, `--list`, and `--generate` (a rack-aware proposal over
//! `--broker-list`, placed as the controller places new topics). It
//! prints the lines Kafka's tool prints, from AlterPartitionReassignments,
//! ListPartitionReassignments, Metadata and (for `log_dirs`)
//! AlterReplicaLogDirs sent to each replica's broker.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterReplicaLogDirsRequest, BrokerId,
    DescribeLogDirsRequest, IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::Value;

use super::{broker_addresses, broker_error, CommandError};
use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::controller::placement::Candidate;
use plan::{
    check_executable, invalid, log_dir_moves, parse_plan, parse_topics_to_move, propose,
    replicas_of, Target, TopicPartition,
};

mod plan;

const CLIENT_ID: &str = "gregor-reassign-partitions";
/// A replica placed in whichever log dir its broker picks.
const ANY_LOG_DIR: &str = "any";
const REQUEST_TIMEOUT_MS: i32 = 30_000;
const BROKER_RESOURCE: i8 = 4;
const TOPIC_RESOURCE: i8 = 2;
const CONFIG_DELETE: i8 = 1;
const LEADER_THROTTLE: &str = "leader.replication.throttled.rate";
const FOLLOWER_THROTTLE: &str = "follower.replication.throttled.rate";
const LOG_DIR_THROTTLE: &str = "replica.alter.log.dirs.io.max.bytes.per.second";
const LEADER_THROTTLED_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_THROTTLED_REPLICAS: &str = "follower.replication.throttled.replicas";
const CONFIG_SET: i8 = 0;
const YOU_MUST_RUN_VERIFY_PERIODICALLY_MESSAGE: &str = "Warning: You must run --verify \
    periodically, until the reassignment completes, to ensure the throttle is removed.";
const CANNOT_EXECUTE_BECAUSE_OF_EXISTING_MESSAGE: &str = "Cannot execute because there is an \
    existing partition assignment.  Use --additional to override this and create a new partition \
    assignment in addition to the existing one. The --additional flag can also be used to change \
    the throttle by resubmitting the current reassignment.";

pub enum Action {
    /// Proposes moving every partition of the topics in the JSON file onto
    /// `brokers`, on different racks first unless `rack_aware` is off.
    Generate {
        topics_to_move: String,
        brokers: Vec<i32>,
        rack_aware: bool,
    },
    Execute {
        plan: String,
        options: ExecuteOptions,
    },
    Verify {
        plan: String,
        preserve_throttles: bool,
    },
    Cancel {
        plan: String,
        preserve_throttles: bool,
        timeout: Duration,
    },
    List,
}

/// `--execute`'s options besides the plan.
pub struct ExecuteOptions {
    /// `--additional`: go ahead although reassignments are in progress.
    pub additional: bool,
    /// `--timeout`: how long to retry starting the log dir moves.
    pub timeout: Duration,
    pub disallow_replication_factor_change: bool,
    /// `--throttle` (B/s): the moving replicas' replication throttle.
    pub throttle: Option<u64>,
    /// `--replica-alter-log-dirs-throttle` (B/s).
    pub log_dir_throttle: Option<u64>,
}

/// A list as Java's `List.toString` prints it: `[1, 2]`.
fn java_list<T: fmt::Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

fn joined<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// Kafka's reassignment JSON for `assignment`, compact and in Kafka's
/// field order; each replica's log dir from `log_dirs`, else "any".
fn reassignment_json(
    assignment: &BTreeMap<TopicPartition, Vec<i32>>,
    log_dirs: &BTreeMap<(i32, TopicPartition), ReplicaLogDir>,
) -> String {
    let partitions: Vec<String> = assignment
        .iter()
        .map(|(partition, replicas)| {
            format!(
                "{{\"topic\":{},\"partition\":{},\"replicas\":{},\"log_dirs\":{}}}",
                Value::from(partition.topic.as_str()),
                partition.partition,
                Value::from(replicas.clone()),
                Value::from(
                    replicas
                        .iter()
                        .map(|replica| {
                            log_dirs
                                .get(&(*replica, partition.clone()))
                                .and_then(|dirs| dirs.current.clone())
                                .unwrap_or_else(|| ANY_LOG_DIR.to_string())
                        })
                        .collect::<Vec<_>>()
                )
            )
        })
        .collect();
    format!(
        "{{\"version\":1,\"partitions\":[{}]}}",
        partitions.join(",")
    )
}

/// Runs the command against `bootstrap`, connecting with `security`, and
/// returns what it prints.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    action: Action,
) -> Result<String, CommandError> {
    let mut tool = Tool {
        connection: super::connect_bootstrap(bootstrap, CLIENT_ID, security).await?,
        security: security.clone(),
        out: String::new(),
    };
    match action {
        Action::List => tool.list().await?,
        Action::Generate {
            topics_to_move,
            brokers,
            rack_aware,
        } => tool.generate(&topics_to_move, &brokers, rack_aware).await?,
        Action::Execute { plan, options } => tool.execute(&plan, &options).await?,
        Action::Verify {
            plan,
            preserve_throttles,
        } => tool.verify(&plan, preserve_throttles).await?,
        Action::Cancel {
            plan,
            preserve_throttles,
            timeout,
        } => tool.cancel(&plan, preserve_throttles, timeout).await?,
    }
    Ok(tool.out)
}

/// Where a broker keeps a replica: its current log dir and, while it
/// moves, the future one (DescribeLogDirs).
#[derive(Debug, Default)]
struct ReplicaLogDir {
    current: Option<String>,
    future: Option<String>,
}

/// An ongoing reassignment as ListPartitionReassignments reports it.
struct Ongoing {
    replicas: Vec<i32>,
    adding: Vec<i32>,
    removing: Vec<i32>,
}

struct Tool {
    connection: Connection,
    security: ClientSecurityConfig,
    /// What the command prints, built up as Kafka's tool prints it.
    out: String,
}

impl Tool {
    fn println(&mut self, line: impl AsRef<str>) {
        self.out.push_str(line.as_ref());
        self.out.push('\n');
    }

    async fn ongoing(&mut self) -> Result<BTreeMap<TopicPartition, Ongoing>, ClientError> {
        let request = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(REQUEST_TIMEOUT_MS)
            .with_topics(None);
        let response = self.connection.request(request, 0).await?;
        broker_error(
            response.error_code,
            response.error_message.as_ref(),
            "ListPartitionReassignments",
        )?;
        let ids = |ids: &[BrokerId]| ids.iter().map(|id| id.0).collect();
        Ok(response
            .topics
            .iter()
            .flat_map(|topic| {
                topic.partitions.iter().map(move |partition| {
                    (
                        TopicPartition {
                            topic: topic.name.to_string(),
                            partition: partition.partition_index,
                        },
                        Ongoing {
                            replicas: ids(&partition.replicas),
                            adding: ids(&partition.adding_replicas),
                            removing: ids(&partition.removing_replicas),
                        },
                    )
                })
            })
            .collect())
    }

    /// Metadata for `topics` (all brokers, no auto-creation).
    async fn metadata(
        &mut self,
        topics: &BTreeSet<String>,
    ) -> Result<MetadataResponse, ClientError> {
        let request = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|topic| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(topic.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false);
        self.connection.request(request, 12).await
    }

    /// Every partition of `topics` with its replicas; an unknown topic is
    /// the broker's error, as Kafka's `describeTopics` reports it.
    async fn assignment(
        &mut self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<TopicPartition, Vec<i32>>, ClientError> {
        let metadata = self.metadata(topics).await?;
        let mut assignment = BTreeMap::new();
        for topic in &metadata.topics {
            let name = topic
                .name
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default();
            broker_error(topic.error_code, None, &format!("topic '{name}'"))?;
            for partition in &topic.partitions {
                assignment.insert(
                    TopicPartition {
                        topic: name.clone(),
                        partition: partition.partition_index,
                    },
                    partition.replica_nodes.iter().map(|id| id.0).collect(),
                );
            }
        }
        Ok(assignment)
    }

    async fn list(&mut self) -> Result<(), ClientError> {
        let ongoing = self.ongoing().await?;
        if ongoing.is_empty() {
            self.println("No partition reassignments found.");
            return Ok(());
        }
        self.println("Current partition reassignments:");
        for (partition, reassignment) in ongoing {
            let mut line = format!("{partition}: replicas: {}.", joined(&reassignment.replicas));
            if !reassignment.adding.is_empty() {
                line.push_str(&format!(" adding: {}.", joined(&reassignment.adding)));
            }
            if !reassignment.removing.is_empty() {
                line.push_str(&format!(" removing: {}.", joined(&reassignment.removing)));
            }
            self.println(line);
        }
        Ok(())
    }

    async fn generate(
        &mut self,
        topics_to_move: &str,
        brokers: &[i32],
        rack_aware: bool,
    ) -> Result<(), CommandError> {
        let mut seen = BTreeSet::new();
        let duplicates: BTreeSet<i32> = brokers
            .iter()
            .filter(|b| !seen.insert(**b))
            .copied()
            .collect();
        if !duplicates.is_empty() {
            return Err(invalid(format!(
                "Broker list contains duplicate entries: {}",
                java_list(&duplicates.into_iter().collect::<Vec<_>>())
            )));
        }
        let topics = parse_topics_to_move(topics_to_move)?;
        let current = self.assignment(&topics).await?;
        let metadata = self.metadata(&BTreeSet::new()).await?;
        let usable: Vec<Candidate> = metadata
            .brokers
            .iter()
            .filter(|broker| brokers.contains(&broker.node_id.0))
            .map(|broker| Candidate {
                node_id: broker.node_id.0,
                rack: broker.rack.as_deref().filter(|_| rack_aware),
            })
            .collect();
        let racked = usable.iter().filter(|broker| broker.rack.is_some()).count();
        if racked != 0 && racked != usable.len() {
            // Kafka's words.
            return Err(invalid(
                "Not all brokers have rack information. Add --disable-rack-aware in command \
                 line to make replica assignment without rack information.",
            ));
        }
        let proposed = propose(&current, &usable)?;
        let log_dirs = self
            .replica_log_dirs(&metadata, replicas_of(&current))
            .await?;
        self.println(format!(
            "Current partition replica assignment\n{}\n",
            reassignment_json(&current, &log_dirs)
        ));
        self.println(format!(
            "Proposed partition reassignment configuration\n{}",
            reassignment_json(&proposed, &BTreeMap::new())
        ));
        Ok(())
    }

    async fn execute(&mut self, plan: &str, options: &ExecuteOptions) -> Result<(), CommandError> {
        let targets = parse_plan(plan)?;
        check_executable(&targets)?;
        let ongoing = self.ongoing().await?;
        if !options.additional && !ongoing.is_empty() {
            return Err(invalid(CANNOT_EXECUTE_BECAUSE_OF_EXISTING_MESSAGE));
        }
        let metadata = self.metadata(&BTreeSet::new()).await?;
        let known: BTreeSet<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
        if let Some(unknown) = targets
            .iter()
            .flat_map(|target| &target.replicas)
            .find(|replica| !known.contains(replica))
        {
            return Err(invalid(format!("Unknown broker id {unknown}")));
        }
        let topics: BTreeSet<String> = targets.iter().map(|t| t.partition.topic.clone()).collect();
        let current: BTreeMap<TopicPartition, Vec<i32>> = self
            .assignment(&topics)
            .await?
            .into_iter()
            .filter(|(partition, _)| targets.iter().any(|t| &t.partition == partition))
            .collect();
        let log_dirs = self
            .replica_log_dirs(&metadata, replicas_of(&current))
            .await?;
        self.println(format!(
            "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
            reassignment_json(&current, &log_dirs)
        ));
        if options.throttle.is_some() || options.log_dir_throttle.is_some() {
            self.println(YOU_MUST_RUN_VERIFY_PERIODICALLY_MESSAGE);
        }
        if let Some(throttle) = options.throttle {
            let moves = partition_moves(&ongoing, &targets, &current);
            self.set_reassignment_throttle(&metadata, &moves, throttle)
                .await?;
        }
        if let Some(throttle) = options.log_dir_throttle {
            let brokers: BTreeSet<i32> = log_dir_moves(&targets)
                .keys()
                .map(|(broker, _)| *broker)
                .collect();
            for broker in brokers {
                self.alter_broker_configs(
                    &metadata,
                    broker,
                    &[(LOG_DIR_THROTTLE, Some(throttle.to_string()))],
                )
                .await?;
            }
            self.println(format!(
                "The replica-alter-dir throttle limit was set to {throttle} B/s"
            ));
        }
        let errors = self
            .alter(
                targets
                    .iter()
                    .map(|t| (&t.partition, Some(t.replicas.as_slice()))),
                !options.disallow_replication_factor_change,
            )
            .await?;
        if !errors.is_empty() {
            return Err(invalid(format!(
                "Error reassigning partition(s):\n{}",
                errors.join("\n")
            )));
        }
        let mut started: Vec<&TopicPartition> = targets.iter().map(|t| &t.partition).collect();
        started.sort();
        self.println(format!(
            "Successfully started partition reassignment{} for {}",
            plural(started.len()),
            joined(started)
        ));
        let moves = log_dir_moves(&targets);
        if !moves.is_empty() {
            self.move_log_dirs(&metadata, moves, options.timeout)
                .await?;
        }
        Ok(())
    }

    /// Sends AlterPartitionReassignments; each refused partition's error,
    /// as `partition: message`, sorted.
    async fn alter<'a>(
        &mut self,
        targets: impl Iterator<Item = (&'a TopicPartition, Option<&'a [i32]>)>,
        allow_replication_factor_change: bool,
    ) -> Result<Vec<String>, ClientError> {
        let mut topics: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
        for (partition, replicas) in targets {
            topics.entry(&partition.topic).or_default().push(
                ReassignablePartition::default()
                    .with_partition_index(partition.partition)
                    .with_replicas(replicas.map(|r| r.iter().map(|id| BrokerId(*id)).collect())),
            );
        }
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(REQUEST_TIMEOUT_MS)
            .with_allow_replication_factor_change(allow_replication_factor_change)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(topic, partitions)| {
                        ReassignableTopic::default()
                            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        let response = self.connection.request(request, 1).await?;
        broker_error(
            response.error_code,
            response.error_message.as_ref(),
            "AlterPartitionReassignments",
        )?;
        let mut errors = BTreeMap::new();
        for topic in &response.responses {
            for partition in &topic.partitions {
                if let Some(error) = ResponseError::try_from_code(partition.error_code) {
                    let message = partition
                        .error_message
                        .as_ref()
                        .map_or_else(|| error.to_string(), |m| m.to_string());
                    errors.insert(
                        TopicPartition {
                            topic: topic.name.to_string(),
                            partition: partition.partition_index,
                        },
                        message,
                    );
                }
            }
        }
        Ok(errors
            .into_iter()
            .map(|(partition, message)| format!("{partition}: {message}"))
            .collect())
    }

    /// AlterReplicaLogDirs to each replica's broker until every move has
    /// started: REPLICA_NOT_AVAILABLE (the replica is not on its new
    /// broker yet) is retried every 100 ms up to `timeout`, as Kafka's
    /// tool retries it.
    async fn move_log_dirs(
        &mut self,
        metadata: &MetadataResponse,
        mut pending: BTreeMap<(i32, TopicPartition), String>,
        timeout: Duration,
    ) -> Result<(), CommandError> {
        let deadline = Instant::now() + timeout;
        let addresses = broker_addresses(metadata);
        loop {
            let brokers: BTreeSet<i32> = pending.keys().map(|(broker, _)| *broker).collect();
            for broker in brokers {
                let address = addresses
                    .get(&broker)
                    .ok_or_else(|| invalid(format!("Unknown broker id {broker}")))?;
                let mut connection =
                    Connection::connect_with(address, CLIENT_ID, &self.security).await?;
                let mut by_dir: BTreeMap<&str, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
                for ((_, partition), dir) in pending.iter().filter(|((b, _), _)| *b == broker) {
                    by_dir
                        .entry(dir)
                        .or_default()
                        .entry(&partition.topic)
                        .or_default()
                        .push(partition.partition);
                }
                let request = AlterReplicaLogDirsRequest::default().with_dirs(
                    by_dir
                        .into_iter()
                        .map(|(dir, topics)| {
                            AlterReplicaLogDir::default()
                                .with_path(StrBytes::from_string(dir.to_string()))
                                .with_topics(
                                    topics
                                        .into_iter()
                                        .map(|(topic, partitions)| {
                                            AlterReplicaLogDirTopic::default()
                                                .with_name(TopicName(StrBytes::from_string(
                                                    topic.to_string(),
                                                )))
                                                .with_partitions(partitions)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
                let response = connection.request(request, 2).await?;
                for topic in &response.results {
                    for result in &topic.partitions {
                        let key = (
                            broker,
                            TopicPartition {
                                topic: topic.topic_name.to_string(),
                                partition: result.partition_index,
                            },
                        );
                        match ResponseError::try_from_code(result.error_code) {
                            None => {
                                if let Some(dir) = pending.remove(&key) {
                                    self.println(format!(
                                        "Successfully started moving log directory to {dir} for replica {}-{} with broker {broker} ",
                                        key.1.topic, key.1.partition
                                    ));
                                }
                            }
                            Some(ResponseError::ReplicaNotAvailable) => {}
                            Some(error) => {
                                return Err(invalid(format!(
                                    "Failed to alter dir for {}-{}-{broker}: {error}",
                                    key.1.topic, key.1.partition
                                )))
                            }
                        }
                    }
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(invalid(format!(
                    "Timed out before log directory move{} could be started for: {}",
                    plural(pending.len()),
                    joined(pending.keys().map(|(broker, p)| format!("{p}-{broker}")))
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn verify(&mut self, plan: &str, preserve_throttles: bool) -> Result<(), CommandError> {
        let targets = parse_plan(plan)?;
        let ongoing = self.ongoing().await?;
        let topics: BTreeSet<String> = targets
            .iter()
            .filter(|t| !ongoing.contains_key(&t.partition))
            .map(|t| t.partition.topic.clone())
            .collect();
        let current = match topics.is_empty() {
            true => BTreeMap::new(),
            false => self.assignment_lenient(&topics).await?,
        };
        let mut lines = vec!["Status of partition reassignment:".to_string()];
        let mut sorted: Vec<&Target> = targets.iter().collect();
        sorted.sort_by(|a, b| a.partition.cmp(&b.partition));
        for target in sorted {
            let partition = &target.partition;
            if ongoing.contains_key(partition) {
                lines.push(format!(
                    "Reassignment of partition {partition} is still in progress."
                ));
                continue;
            }
            let replicas = current.get(partition).cloned().unwrap_or_default();
            if replicas == target.replicas {
                lines.push(format!(
                    "Reassignment of partition {partition} is completed."
                ));
            } else {
                lines.push(format!(
                    "There is no active reassignment of partition {partition}, but replica set is {} rather than {}.",
                    joined(&replicas),
                    joined(&target.replicas)
                ));
            }
        }
        self.println(lines.join("\n"));
        let (moves, moves_ongoing) = self.log_dir_move_states(&targets).await?;
        self.println(moves);
        if ongoing.is_empty() && !moves_ongoing && !preserve_throttles {
            self.clear_throttles(&targets).await?;
        }
        Ok(())
    }

    /// Kafka's lines on the plan's log dir moves (replicas whose dir is
    /// not "any"), and whether any is still under way.
    async fn log_dir_move_states(
        &mut self,
        targets: &[Target],
    ) -> Result<(String, bool), ClientError> {
        let moves = log_dir_moves(targets);
        if moves.is_empty() {
            return Ok((String::new(), false));
        }
        let metadata = self.metadata(&BTreeSet::new()).await?;
        let dirs = self
            .replica_log_dirs(&metadata, moves.keys().cloned().collect())
            .await?;
        let mut lines = Vec::new();
        let mut ongoing = false;
        for ((broker, partition), target) in &moves {
            let replica = format!("{partition}-{broker}");
            let line = match dirs.get(&(*broker, partition.clone())) {
                None | Some(ReplicaLogDir { current: None, .. }) => {
                    ongoing = true;
                    format!(
                        "Partition {partition} is not found in any live log dir on broker {broker}. There is likely an offline log directory on the broker."
                    )
                }
                Some(ReplicaLogDir {
                    current: Some(current),
                    future: None,
                }) => match current == target {
                    true => format!("Reassignment of replica {replica} completed successfully."),
                    false => format!(
                        "Partition {partition} on broker {broker} is not being moved from log dir {current} to {target}."
                    ),
                },
                Some(ReplicaLogDir {
                    future: Some(future),
                    ..
                }) => {
                    ongoing = true;
                    match future == target {
                        true => format!("Reassignment of replica {replica} is still in progress."),
                        false => format!(
                            "Partition {partition} on broker {broker} is being moved to log dir {future} instead of {target}."
                        ),
                    }
                }
            };
            lines.push(line);
        }
        Ok((lines.join("\n"), ongoing))
    }

    /// DescribeLogDirs on each broker of `replicas`: where each replica is.
    /// A broker that cannot be asked leaves its replicas out.
    async fn replica_log_dirs(
        &mut self,
        metadata: &MetadataResponse,
        replicas: BTreeSet<(i32, TopicPartition)>,
    ) -> Result<BTreeMap<(i32, TopicPartition), ReplicaLogDir>, ClientError> {
        let mut found: BTreeMap<(i32, TopicPartition), ReplicaLogDir> = BTreeMap::new();
        let brokers: BTreeSet<i32> = replicas.iter().map(|(broker, _)| *broker).collect();
        let addresses = broker_addresses(metadata);
        for broker in brokers {
            let Some(address) = addresses.get(&broker) else {
                continue;
            };
            let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (_, partition) in replicas.iter().filter(|(b, _)| *b == broker) {
                topics
                    .entry(&partition.topic)
                    .or_default()
                    .push(partition.partition);
            }
            let request = DescribeLogDirsRequest::default().with_topics(Some(
                topics
                    .into_iter()
                    .map(|(topic, partitions)| {
                        DescribableLogDirTopic::default()
                            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                            .with_partitions(partitions)
                    })
                    .collect(),
            ));
            let mut connection =
                Connection::connect_with(address, CLIENT_ID, &self.security).await?;
            let response = connection.request(request, 4).await?;
            for dir in response.results.iter().filter(|dir| dir.error_code == 0) {
                for topic in &dir.topics {
                    for partition in &topic.partitions {
                        let key = (
                            broker,
                            TopicPartition {
                                topic: topic.name.to_string(),
                                partition: partition.partition_index,
                            },
                        );
                        if !replicas.contains(&key) {
                            continue;
                        }
                        let entry = found.entry(key).or_default();
                        match partition.is_future_key {
                            true => entry.future = Some(dir.log_dir.to_string()),
                            false => entry.current = Some(dir.log_dir.to_string()),
                        }
                    }
                }
            }
        }
        Ok(found)
    }

    /// Like `assignment`, but a topic that is gone has no replicas.
    async fn assignment_lenient(
        &mut self,
        topics: &BTreeSet<String>,
    ) -> Result<BTreeMap<TopicPartition, Vec<i32>>, ClientError> {
        let metadata = self.metadata(topics).await?;
        Ok(metadata
            .topics
            .iter()
            .filter(|topic| topic.error_code != ResponseError::UnknownTopicOrPartition.code())
            .flat_map(|topic| {
                let name = topic
                    .name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                topic.partitions.iter().map(move |partition| {
                    (
                        TopicPartition {
                            topic: name.clone(),
                            partition: partition.partition_index,
                        },
                        partition.replica_nodes.iter().map(|id| id.0).collect(),
                    )
                })
            })
            .collect())
    }

    /// With nothing in progress, the throttles a reassignment may have set
    /// go, on every broker and the plan's topics, as Kafka's `--verify`
    /// removes them.
    async fn clear_throttles(&mut self, targets: &[Target]) -> Result<(), ClientError> {
        let metadata = self.metadata(&BTreeSet::new()).await?;
        let mut brokers: BTreeSet<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
        brokers.extend(targets.iter().flat_map(|t| t.replicas.iter().copied()));
        let topics: BTreeSet<&str> = targets.iter().map(|t| t.partition.topic.as_str()).collect();
        self.println(format!(
            "Clearing broker-level throttles on broker{} {}",
            plural(brokers.len()),
            joined(&brokers)
        ));
        for broker in &brokers {
            self.alter_broker_configs(
                &metadata,
                *broker,
                &[
                    (LEADER_THROTTLE, None),
                    (FOLLOWER_THROTTLE, None),
                    (LOG_DIR_THROTTLE, None),
                ],
            )
            .await?;
        }
        self.println(format!(
            "Clearing topic-level throttles on topic{} {}",
            plural(topics.len()),
            joined(&topics)
        ));
        let request = IncrementalAlterConfigsRequest::default().with_resources(
            topics
                .iter()
                .map(|topic| {
                    config_resource(
                        TOPIC_RESOURCE,
                        topic,
                        &[
                            (LEADER_THROTTLED_REPLICAS, None),
                            (FOLLOWER_THROTTLED_REPLICAS, None),
                        ],
                    )
                })
                .collect(),
        );
        check_alter_configs(&mut self.connection, request).await
    }

    /// Sets (`Some`) or deletes (`None`) dynamic configs of `broker`, on
    /// that broker (where Kafka's admin sends them); a broker not in the
    /// metadata is skipped.
    async fn alter_broker_configs(
        &mut self,
        metadata: &MetadataResponse,
        broker: i32,
        configs: &[(&str, Option<String>)],
    ) -> Result<(), ClientError> {
        let Some(address) = broker_addresses(metadata).remove(&broker) else {
            return Ok(());
        };
        let mut connection = Connection::connect_with(&address, CLIENT_ID, &self.security).await?;
        let request =
            IncrementalAlterConfigsRequest::default().with_resources(vec![config_resource(
                BROKER_RESOURCE,
                &broker.to_string(),
                configs,
            )]);
        check_alter_configs(&mut connection, request).await
    }

    /// `--throttle`: each topic's throttled replicas (the moves' sources on
    /// the leader side, their new replicas on the follower side) and the
    /// rate on every broker a move involves, as Kafka's tool sets them.
    async fn set_reassignment_throttle(
        &mut self,
        metadata: &MetadataResponse,
        moves: &BTreeMap<TopicPartition, PartitionMove>,
        throttle: u64,
    ) -> Result<(), ClientError> {
        let mut leader: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut follower: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut brokers = BTreeSet::new();
        for (partition, moved) in moves {
            let leader_side = leader.entry(&partition.topic).or_default();
            for source in &moved.sources {
                leader_side.insert(format!("{}:{source}", partition.partition));
            }
            let follower_side = follower.entry(&partition.topic).or_default();
            for destination in moved.destinations.difference(&moved.sources) {
                follower_side.insert(format!("{}:{destination}", partition.partition));
            }
            brokers.extend(moved.sources.iter().chain(&moved.destinations).copied());
        }
        let join =
            |replicas: &BTreeSet<String>| replicas.iter().cloned().collect::<Vec<_>>().join(",");
        let request = IncrementalAlterConfigsRequest::default().with_resources(
            leader
                .iter()
                .map(|(topic, sources)| {
                    let destinations = follower.get(topic).map(join).unwrap_or_default();
                    config_resource(
                        TOPIC_RESOURCE,
                        topic,
                        &[
                            (LEADER_THROTTLED_REPLICAS, Some(join(sources))),
                            (FOLLOWER_THROTTLED_REPLICAS, Some(destinations)),
                        ],
                    )
                })
                .collect(),
        );
        check_alter_configs(&mut self.connection, request).await?;
        for broker in brokers {
            self.alter_broker_configs(
                metadata,
                broker,
                &[
                    (LEADER_THROTTLE, Some(throttle.to_string())),
                    (FOLLOWER_THROTTLE, Some(throttle.to_string())),
                ],
            )
            .await?;
        }
        self.println(format!(
            "The inter-broker throttle limit was set to {throttle} B/s"
        ));
        Ok(())
    }

    async fn cancel(
        &mut self,
        plan: &str,
        preserve_throttles: bool,
        timeout: Duration,
    ) -> Result<(), CommandError> {
        let targets = parse_plan(plan)?;
        let ongoing = self.ongoing().await?;
        let active: Vec<&TopicPartition> = targets
            .iter()
            .map(|t| &t.partition)
            .filter(|partition| {
                ongoing
                    .get(*partition)
                    .is_some_and(|r| !r.adding.is_empty() || !r.removing.is_empty())
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if active.is_empty() {
            self.println("None of the specified partition reassignments are active.");
        } else {
            let errors = self
                .alter(active.iter().map(|partition| (*partition, None)), true)
                .await?;
            if !errors.is_empty() {
                return Err(invalid(format!(
                    "Error cancelling partition reassignment{} for:\n{}",
                    plural(errors.len()),
                    errors.join("\n")
                )));
            }
            self.println(format!(
                "Successfully cancelled partition reassignment{} for: {}",
                plural(active.len()),
                joined(&active)
            ));
        }
        // A log dir move under way is cancelled by moving the replica back
        // to the dir it is still in.
        let moves = log_dir_moves(&targets);
        let metadata = self.metadata(&BTreeSet::new()).await?;
        let back: BTreeMap<(i32, TopicPartition), String> = self
            .replica_log_dirs(&metadata, moves.into_keys().collect())
            .await?
            .into_iter()
            .filter_map(|(replica, dirs)| match dirs {
                ReplicaLogDir {
                    current: Some(current),
                    future: Some(_),
                } => Some((replica, current)),
                _ => None,
            })
            .collect();
        if back.is_empty() {
            // Without a newline, as Kafka's tool prints it.
            self.out
                .push_str("None of the specified partition moves are active.");
        } else {
            self.move_log_dirs(&metadata, back, timeout).await?;
        }
        if !preserve_throttles {
            self.clear_throttles(&targets).await?;
        }
        Ok(())
    }
}

/// One resource's config changes: set to `Some(value)`, delete on `None`.
fn config_resource(
    kind: i8,
    name: &str,
    configs: &[(&str, Option<String>)],
) -> AlterConfigsResource {
    AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(StrBytes::from_string(name.to_string()))
        .with_configs(
            configs
                .iter()
                .map(|(key, value)| {
                    AlterableConfig::default()
                        .with_name(StrBytes::from_string(key.to_string()))
                        .with_config_operation(match value {
                            Some(_) => CONFIG_SET,
                            None => CONFIG_DELETE,
                        })
                        .with_value(
                            value
                                .as_deref()
                                .map(|v| StrBytes::from_string(v.to_string())),
                        )
                })
                .collect(),
        )
}

/// The brokers a partition's replicas move from and to.
struct PartitionMove {
    sources: BTreeSet<i32>,
    destinations: BTreeSet<i32>,
}

/// The moves of the reassignments in progress and of the plan, as Kafka's
/// `calculateProposedMoveMap` builds them: a partition already moving keeps
/// its sources, others move from their current replicas.
fn partition_moves(
    ongoing: &BTreeMap<TopicPartition, Ongoing>,
    targets: &[Target],
    current: &BTreeMap<TopicPartition, Vec<i32>>,
) -> BTreeMap<TopicPartition, PartitionMove> {
    let mut moves: BTreeMap<TopicPartition, PartitionMove> = ongoing
        .iter()
        .map(|(partition, reassignment)| {
            let adding: BTreeSet<i32> = reassignment.adding.iter().copied().collect();
            let sources = reassignment
                .replicas
                .iter()
                .copied()
                .filter(|r| !adding.contains(r))
                .collect();
            (
                partition.clone(),
                PartitionMove {
                    sources,
                    destinations: adding,
                },
            )
        })
        .collect();
    for target in targets {
        let sources: BTreeSet<i32> = match moves.get(&target.partition) {
            Some(moving) => moving.sources.clone(),
            None => current
                .get(&target.partition)
                .map(|replicas| replicas.iter().copied().collect())
                .unwrap_or_default(),
        };
        let destinations = target
            .replicas
            .iter()
            .copied()
            .filter(|r| !sources.contains(r))
            .collect();
        moves.insert(
            target.partition.clone(),
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    moves
}

async fn check_alter_configs(
    connection: &mut Connection,
    request: IncrementalAlterConfigsRequest,
) -> Result<(), ClientError> {
    let response = connection.request(request, 1).await?;
    for result in &response.responses {
        broker_error(
            result.error_code,
            result.error_message.as_ref(),
            &format!("IncrementalAlterConfigs {}", result.resource_name),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_in_kafkas_format_parses_with_any_log_dir_by_default() {
        let targets = parse_plan(
            r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]},
            {"topic":"t","partition":1,"replicas":[2,3],"log_dirs":["any","/d2"]}]}"#,
        )
        .unwrap();
        assert_eq!(targets[0].log_dirs, vec!["any", "any"]);
        assert_eq!(targets[1].log_dirs, vec!["any", "/d2"]);
        assert_eq!(targets[1].partition.to_string(), "t-1");
    }

    #[test]
    fn bad_plans_get_kafkas_errors() {
        let error = |text: &str| {
            parse_plan(text)
                .and_then(|targets| check_executable(&targets))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(r#"{"version":2,"partitions":[]}"#),
            "Not supported version field value 2"
        );
        assert_eq!(
            error(r#"{"version":1,"partitions":[]}"#),
            "Partition reassignment list cannot be empty"
        );
        assert_eq!(
            error(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}"#),
            "Partition replica lists may not contain duplicate entries: t-0 contains multiple entries for 1"
        );
        assert_eq!(
            error(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":[]}]}"#),
            "Size of replicas list [1] is different from size of log dirs list [] for partition t-0"
        );
    }

    #[test]
    fn generate_places_each_topic_anew_on_different_racks_first() {
        let tp = |topic: &str, p| TopicPartition {
            topic: topic.to_string(),
            partition: p,
        };
        let current = BTreeMap::from([
            (tp("t", 0), vec![1, 2]),
            (tp("t", 1), vec![2, 3]),
            (tp("t", 2), vec![3, 1]),
            (tp("u", 0), vec![1]),
        ]);
        let brokers = [(4, "a"), (5, "a"), (6, "b"), (7, "b")].map(|(node_id, rack)| Candidate {
            node_id,
            rack: Some(rack),
        });
        let proposed = propose(&current, &brokers).unwrap();
        assert_eq!(proposed.len(), 4);
        let rack = |id: i32| if id <= 5 { "a" } else { "b" };
        for p in 0..3 {
            let replicas = &proposed[&tp("t", p)];
            assert_eq!(replicas.len(), 2, "{replicas:?}");
            assert_ne!(rack(replicas[0]), rack(replicas[1]), "{replicas:?}");
        }
        // Leaders spread: three partitions, three different leaders.
        let leaders: BTreeSet<i32> = (0..3).map(|p| proposed[&tp("t", p)][0]).collect();
        assert_eq!(leaders.len(), 3);
        assert_eq!(proposed[&tp("u", 0)].len(), 1);
        let json = reassignment_json(&proposed, &BTreeMap::new());
        assert!(
            json.starts_with(
                r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":["#
            ),
            "{json}"
        );
        let too_few = propose(&current, &brokers[..1]).unwrap_err().to_string();
        assert_eq!(too_few, "The target replication factor of 2 cannot be reached because only 1 broker(s) are registered or some brokers have all their log directories cordoned.");
    }
}
