//! The reassignment plans of `gregor reassign-partitions`: Kafka's
//! reassignment JSON and topics-to-move JSON read and checked as
//! `ReassignPartitionsCommand` checks them, and `--generate`'s proposal.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::{java_list, joined, ANY_LOG_DIR};
use crate::cli::CommandError;
use crate::controller::placement::{self, Candidate};

/// A topic partition, printed as Kafka prints a `TopicPartition`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct TopicPartition {
    pub(super) topic: String,
    pub(super) partition: i32,
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One partition's target in a reassignment JSON file.
#[derive(Debug, PartialEq)]
pub(super) struct Target {
    pub(super) partition: TopicPartition,
    pub(super) replicas: Vec<i32>,
    /// Per replica, its log dir or "any".
    pub(super) log_dirs: Vec<String>,
}

pub(super) fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::Usage(message.into())
}

/// Kafka's reassignment JSON: `{"version":1,"partitions":[{"topic":…,
/// "partition":…,"replicas":[…],"log_dirs":[…]}]}`.
pub(super) fn parse_plan(text: &str) -> Result<Vec<Target>, CommandError> {
    let json: Value = serde_json::from_str(text)
        .map_err(|error| invalid(format!("the reassignment JSON is not JSON: {error}")))?;
    let version = json.get("version").map_or(Some(1), Value::as_i64);
    if version != Some(1) {
        return Err(invalid(format!(
            "Not supported version field value {}",
            json.get("version").unwrap_or(&Value::Null)
        )));
    }
    let Some(partitions) = json.get("partitions") else {
        return Ok(Vec::new());
    };
    let partitions = partitions
        .as_array()
        .ok_or_else(|| invalid("\"partitions\" must be an array"))?;
    let mut targets = Vec::new();
    for entry in partitions {
        let field = |name: &str| {
            entry
                .get(name)
                .ok_or_else(|| invalid(format!("a partition lacks the field \"{name}\": {entry}")))
        };
        let topic = field("topic")?
            .as_str()
            .ok_or_else(|| invalid(format!("\"topic\" must be a string: {entry}")))?;
        let partition = field("partition")?
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| invalid(format!("\"partition\" must be an int: {entry}")))?;
        let replicas = int_list(field("replicas")?)
            .ok_or_else(|| invalid(format!("\"replicas\" must be a list of ints: {entry}")))?;
        let log_dirs: Vec<String> = match entry.get("log_dirs") {
            None => vec![ANY_LOG_DIR.to_string(); replicas.len()],
            Some(dirs) => dirs
                .as_array()
                .and_then(|dirs| {
                    dirs.iter()
                        .map(|dir| dir.as_str().map(str::to_string))
                        .collect()
                })
                .ok_or_else(|| {
                    invalid(format!("\"log_dirs\" must be a list of strings: {entry}"))
                })?,
        };
        let partition = TopicPartition {
            topic: topic.to_string(),
            partition,
        };
        if replicas.len() != log_dirs.len() {
            return Err(invalid(format!(
                "Size of replicas list {} is different from size of log dirs list {} for partition {partition}",
                java_list(&replicas),
                java_list(&log_dirs)
            )));
        }
        targets.push(Target {
            partition,
            replicas,
            log_dirs,
        });
    }
    Ok(targets)
}

pub(super) fn int_list(value: &Value) -> Option<Vec<i32>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_i64().and_then(|v| i32::try_from(v).ok()))
        .collect()
}

/// What `--execute` refuses before asking a broker, as Kafka's tool does.
pub(super) fn check_executable(targets: &[Target]) -> Result<(), CommandError> {
    if targets.is_empty() {
        return Err(invalid("Partition reassignment list cannot be empty"));
    }
    if targets.iter().any(|target| target.replicas.is_empty()) {
        return Err(invalid("Partition replica list cannot be empty"));
    }
    let mut seen = BTreeSet::new();
    let duplicates: BTreeSet<&TopicPartition> = targets
        .iter()
        .filter(|target| !seen.insert(&target.partition))
        .map(|target| &target.partition)
        .collect();
    if !duplicates.is_empty() {
        return Err(invalid(format!(
            "Partition reassignment contains duplicate topic partitions: {}",
            joined(duplicates)
        )));
    }
    let duplicate_replicas: Vec<String> = targets
        .iter()
        .filter_map(|target| {
            let mut seen = BTreeSet::new();
            let repeated: BTreeSet<i32> = target
                .replicas
                .iter()
                .filter(|replica| !seen.insert(**replica))
                .copied()
                .collect();
            (!repeated.is_empty()).then(|| {
                format!(
                    "{} contains multiple entries for {}",
                    target.partition,
                    joined(repeated)
                )
            })
        })
        .collect();
    if !duplicate_replicas.is_empty() {
        return Err(invalid(format!(
            "Partition replica lists may not contain duplicate entries: {}",
            duplicate_replicas.join(". ")
        )));
    }
    Ok(())
}

/// Every (broker, partition) replica of `assignment`.
pub(super) fn replicas_of(
    assignment: &BTreeMap<TopicPartition, Vec<i32>>,
) -> BTreeSet<(i32, TopicPartition)> {
    assignment
        .iter()
        .flat_map(|(partition, replicas)| {
            replicas
                .iter()
                .map(move |replica| (*replica, partition.clone()))
        })
        .collect()
}

/// The plan's replicas placed in a named log dir (not "any"), with it.
pub(super) fn log_dir_moves(targets: &[Target]) -> BTreeMap<(i32, TopicPartition), String> {
    targets
        .iter()
        .flat_map(|target| {
            target
                .replicas
                .iter()
                .zip(&target.log_dirs)
                .filter(|(_, dir)| dir.as_str() != ANY_LOG_DIR)
                .map(|(broker, dir)| ((*broker, target.partition.clone()), dir.clone()))
        })
        .collect()
}

/// `{"topics":[{"topic":"foo"}],"version":1}`: the topics to move.
pub(super) fn parse_topics_to_move(text: &str) -> Result<BTreeSet<String>, CommandError> {
    let json: Value = serde_json::from_str(text)
        .map_err(|error| invalid(format!("the topics-to-move JSON is not JSON: {error}")))?;
    let entries = json
        .get("topics")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("the topics-to-move JSON needs a \"topics\" array"))?;
    let mut topics = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for entry in entries {
        let topic = entry
            .get("topic")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("a topic entry lacks \"topic\": {entry}")))?;
        if !topics.insert(topic.to_string()) {
            duplicates.insert(topic.to_string());
        }
    }
    if !duplicates.is_empty() {
        return Err(invalid(format!(
            "List of topics to reassign contains duplicate entries: {}",
            java_list(&duplicates.into_iter().collect::<Vec<_>>())
        )));
    }
    Ok(topics)
}

/// `--generate`'s proposal: each topic's partitions placed anew on
/// `brokers` as the controller places a new topic's (leaders round-robin
/// from the topic's own start, a partition's replicas on different racks
/// first), numbered from 0 and with the replication factor of its first
/// partition, as Kafka's tool proposes.
pub(super) fn propose(
    current: &BTreeMap<TopicPartition, Vec<i32>>,
    brokers: &[Candidate<'_>],
) -> Result<BTreeMap<TopicPartition, Vec<i32>>, CommandError> {
    let mut topics: BTreeMap<&str, (usize, i32)> = BTreeMap::new();
    for (partition, replicas) in current {
        let (_, count) = topics
            .entry(partition.topic.as_str())
            .or_insert((replicas.len(), 0));
        *count += 1;
    }
    let mut proposed = BTreeMap::new();
    for (topic, (factor, count)) in topics {
        if factor > brokers.len() {
            // Kafka's placer's words.
            return Err(invalid(format!(
                "The target replication factor of {factor} cannot be reached because only {} \
                 broker(s) are registered or some brokers have all their log directories \
                 cordoned.",
                brokers.len()
            )));
        }
        let placed = placement::place(brokers, 0, count, factor, placement::topic_seed(topic));
        for (replicas, partition) in placed.into_iter().zip(0..) {
            let partition = TopicPartition {
                topic: topic.to_string(),
                partition,
            };
            proposed.insert(partition, replicas);
        }
    }
    Ok(proposed)
}
