//! A streams group's topology (KIP-1071) and how the coordinator
//! configures it against the cluster's topics, as Kafka's
//! `InternalTopicManager.configureTopics` does: repartition topics get
//! their partition counts from upstream, copartitioned topics are made
//! equal, changelogs get one partition per task, and the internal topics
//! that do not exist yet are named for the broker to create.
//!
//! A topology that cannot be configured with any topics is invalid
//! (`STREAMS_INVALID_TOPOLOGY`); one that cannot be configured with the
//! topics the cluster has now is not ready, and every heartbeat says why
//! (a status: missing source topics, incorrectly partitioned topics,
//! missing internal topics).

use std::collections::{BTreeMap, BTreeSet};

use super::{Status, StatusCode};
use crate::group::GroupError;

/// A topic the topology writes or creates, as the member describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicInfo {
    pub name: String,
    /// 0: derived by the coordinator (always 0 for changelogs).
    pub partitions: i32,
    /// 0: the broker's default.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// Topics of one subtopology that must have equal partition counts, as
/// indexes into its topic lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopartitionGroup {
    pub source_topics: Vec<i16>,
    pub source_topic_regex: Vec<i16>,
    pub repartition_source_topics: Vec<i16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subtopology {
    pub id: String,
    pub source_topics: Vec<String>,
    pub source_topic_regex: Vec<String>,
    pub state_changelog_topics: Vec<TopicInfo>,
    pub repartition_sink_topics: Vec<String>,
    pub repartition_source_topics: Vec<TopicInfo>,
    pub copartition_groups: Vec<CopartitionGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    pub epoch: i32,
    pub subtopologies: Vec<Subtopology>,
}

impl Topology {
    /// Every topic the topology names, which the member must be allowed
    /// to describe.
    pub fn topics(&self) -> BTreeSet<&str> {
        self.subtopologies
            .iter()
            .flat_map(|s| {
                s.source_topics
                    .iter()
                    .chain(&s.repartition_sink_topics)
                    .map(String::as_str)
                    .chain(s.repartition_source_topics.iter().map(|t| t.name.as_str()))
                    .chain(s.state_changelog_topics.iter().map(|t| t.name.as_str()))
            })
            .collect()
    }

    /// The topics a task of `subtopology` reads: its source topics and
    /// repartition source topics.
    pub fn input_topics(&self, subtopology: &str) -> Vec<&str> {
        self.subtopologies
            .iter()
            .filter(|s| s.id == subtopology)
            .flat_map(|s| {
                s.source_topics
                    .iter()
                    .map(String::as_str)
                    .chain(s.repartition_source_topics.iter().map(|t| t.name.as_str()))
            })
            .collect()
    }

    /// The checks Kafka makes on a joining member's topology before it
    /// looks at the cluster.
    pub fn validate(&self) -> Result<(), GroupError> {
        for subtopology in &self.subtopologies {
            if !subtopology.source_topic_regex.is_empty() {
                return Err(GroupError::InvalidRequest(
                    "Regular expressions for source topics are not supported yet.".into(),
                ));
            }
            for changelog in &subtopology.state_changelog_topics {
                if changelog.partitions != 0 {
                    return Err(GroupError::StreamsInvalidTopology(format!(
                        "Changelog topic {} must have an undefined partition count, but it is set to {}.",
                        changelog.name, changelog.partitions
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The topology configured against the cluster's topics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfiguredTopology {
    /// Tasks per subtopology (empty until the source topics are there).
    pub tasks: BTreeMap<String, i32>,
    /// The decided partition count of each internal topic.
    pub internal_partitions: BTreeMap<String, i32>,
    /// Why the topology cannot run yet; `None` when it is ready.
    pub status: Option<Status>,
    /// Internal topics to create, with their decided partition counts.
    pub to_create: Vec<TopicInfo>,
}

impl ConfiguredTopology {
    pub fn is_ready(&self) -> bool {
        self.status.is_none()
    }

    fn not_ready(code: StatusCode, detail: String) -> ConfiguredTopology {
        ConfiguredTopology {
            status: Some(Status { code, detail }),
            ..ConfiguredTopology::default()
        }
    }
}

/// Configures `topology` with the partition counts of the topics that
/// exist (`partitions_of` gives `None` for a topic that does not).
pub fn configure(
    topology: &Topology,
    partitions_of: impl Fn(&str) -> Option<i32>,
) -> Result<ConfiguredTopology, GroupError> {
    let missing: BTreeSet<&str> = topology
        .subtopologies
        .iter()
        .flat_map(|s| s.source_topics.iter().map(String::as_str))
        .filter(|topic| partitions_of(topic).is_none())
        .collect();
    if !missing.is_empty() {
        return Ok(ConfiguredTopology::not_ready(
            StatusCode::MissingSourceTopics,
            format!("Source topics {} are missing.", summarize(&missing)),
        ));
    }
    let mut counts = repartition_counts(topology, &partitions_of)?;
    if let Err(detail) = enforce_copartitioning(topology, &partitions_of, &mut counts)? {
        return Ok(ConfiguredTopology::not_ready(
            StatusCode::IncorrectlyPartitionedTopics,
            detail,
        ));
    }
    let mut configured = ConfiguredTopology::default();
    let mut wanted: BTreeMap<String, TopicInfo> = BTreeMap::new();
    for subtopology in &topology.subtopologies {
        let tasks = subtopology
            .source_topics
            .iter()
            .filter_map(|topic| partitions_of(topic))
            .chain(
                subtopology
                    .repartition_source_topics
                    .iter()
                    .filter_map(|t| counts.get(&t.name).copied()),
            )
            .max();
        let Some(tasks) = tasks else {
            return Err(GroupError::StreamsInvalidTopology(format!(
                "No source topics found for subtopology {}",
                subtopology.id
            )));
        };
        configured.tasks.insert(subtopology.id.clone(), tasks);
        for topic in &subtopology.repartition_source_topics {
            let partitions = counts.get(&topic.name).copied().unwrap_or(tasks);
            wanted.insert(topic.name.clone(), decided(topic, partitions));
        }
        for topic in &subtopology.state_changelog_topics {
            wanted.insert(topic.name.clone(), decided(topic, tasks));
        }
    }
    for (name, topic) in wanted {
        configured
            .internal_partitions
            .insert(name.clone(), topic.partitions);
        match partitions_of(&name) {
            Some(found) if found != topic.partitions => {
                return Ok(ConfiguredTopology::not_ready(
                    StatusCode::IncorrectlyPartitionedTopics,
                    format!(
                        "Existing topic {name} has different number of partitions: expected {}, found {found}",
                        topic.partitions
                    ),
                ));
            }
            Some(_) => {}
            None => configured.to_create.push(topic),
        }
    }
    if !configured.to_create.is_empty() {
        let names: BTreeSet<&str> = configured
            .to_create
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        configured.status = Some(Status {
            code: StatusCode::MissingInternalTopics,
            detail: format!("Internal topics are missing: {}", summarize(&names)),
        });
    }
    Ok(configured)
}

fn decided(topic: &TopicInfo, partitions: i32) -> TopicInfo {
    TopicInfo {
        partitions,
        ..topic.clone()
    }
}

/// At most three names, then how many more, as Kafka words it.
fn summarize(topics: &BTreeSet<&str>) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<&str> = topics.iter().take(SHOWN).copied().collect();
    let mut summary = shown.join(", ");
    if topics.len() > SHOWN {
        summary.push_str(&format!(" and {} additional topics", topics.len() - SHOWN));
    }
    summary
}

/// The partition count of every repartition topic: fixed by the topology,
/// or the largest input of the subtopology writing it, repeated until
/// every count is known (Kafka's `RepartitionTopics.setup`).
fn repartition_counts(
    topology: &Topology,
    partitions_of: &impl Fn(&str) -> Option<i32>,
) -> Result<BTreeMap<String, i32>, GroupError> {
    let mut counts: BTreeMap<String, i32> = BTreeMap::new();
    let mut unknown: BTreeSet<&str> = BTreeSet::new();
    for topic in topology
        .subtopologies
        .iter()
        .flat_map(|s| &s.repartition_source_topics)
    {
        match topic.partitions {
            0 => {
                unknown.insert(&topic.name);
            }
            fixed => {
                counts.insert(topic.name.clone(), fixed);
            }
        }
    }
    let sinks: BTreeSet<&str> = topology
        .subtopologies
        .iter()
        .flat_map(|s| s.repartition_sink_topics.iter().map(String::as_str))
        .collect();
    if unknown.iter().any(|topic| !sinks.contains(topic)) {
        return Err(GroupError::StreamsInvalidTopology(
            "Failed to compute number of partitions for all repartition topics, because a repartition source topic is never used as a sink topic.".into(),
        ));
    }
    while unknown.iter().any(|topic| !counts.contains_key(*topic)) {
        let mut progress = false;
        for subtopology in &topology.subtopologies {
            let inputs = subtopology
                .repartition_source_topics
                .iter()
                .filter_map(|t| counts.get(&t.name).copied())
                .chain(
                    subtopology
                        .source_topics
                        .iter()
                        .filter_map(|t| partitions_of(t)),
                )
                .max();
            let Some(inputs) = inputs else { continue };
            for sink in &subtopology.repartition_sink_topics {
                if !counts.contains_key(sink) {
                    counts.insert(sink.clone(), inputs);
                    progress = true;
                }
            }
        }
        if !progress {
            return Err(GroupError::StreamsInvalidTopology(
                "Failed to compute number of partitions for all repartition topics. There may be loops in the topology that cannot be resolved.".into(),
            ));
        }
    }
    Ok(counts)
}

/// Makes the topics of each copartition group equal
/// (`CopartitionedTopicsEnforcer`): the inner `Err` is the status detail
/// of topics partitioned so that they cannot be.
fn enforce_copartitioning(
    topology: &Topology,
    partitions_of: &impl Fn(&str) -> Option<i32>,
    counts: &mut BTreeMap<String, i32>,
) -> Result<Result<(), String>, GroupError> {
    for subtopology in &topology.subtopologies {
        for group in &subtopology.copartition_groups {
            let pick = |indexes: &[i16], len: usize| -> Vec<usize> {
                indexes
                    .iter()
                    .filter_map(|&i| usize::try_from(i).ok().filter(|&i| i < len))
                    .collect()
            };
            let external: BTreeMap<&str, i32> =
                pick(&group.source_topics, subtopology.source_topics.len())
                    .into_iter()
                    .map(|i| subtopology.source_topics[i].as_str())
                    .filter_map(|t| partitions_of(t).map(|p| (t, p)))
                    .collect();
            let repartition: Vec<&TopicInfo> = pick(
                &group.repartition_source_topics,
                subtopology.repartition_source_topics.len(),
            )
            .into_iter()
            .map(|i| &subtopology.repartition_source_topics[i])
            .collect();
            let unequal = |topics: &BTreeMap<&str, i32>| {
                let listed: Vec<String> = topics.iter().map(|(t, n)| format!("{t}={n}")).collect();
                format!(
                    "Following topics do not have the same number of partitions: [{{{}}}]",
                    listed.join(", ")
                )
            };
            let count = if external.is_empty() {
                let fixed: BTreeMap<&str, i32> = repartition
                    .iter()
                    .filter(|t| t.partitions != 0)
                    .map(|t| (t.name.as_str(), t.partitions))
                    .collect();
                let values: BTreeSet<i32> = fixed.values().copied().collect();
                match values.len() {
                    0 => {
                        let max = repartition
                            .iter()
                            .filter_map(|t| counts.get(&t.name).copied())
                            .max()
                            .unwrap_or(0);
                        if max == 0 {
                            let names: Vec<&str> =
                                repartition.iter().map(|t| t.name.as_str()).collect();
                            return Err(GroupError::StreamsInvalidTopology(format!(
                                "All topics in the copartition group had undefined partition number: [{}]",
                                names.join(", ")
                            )));
                        }
                        max
                    }
                    1 => *values.iter().next().unwrap_or(&0),
                    _ => return Ok(Err(unequal(&fixed))),
                }
            } else {
                let values: BTreeSet<i32> = external.values().copied().collect();
                if values.len() > 1 {
                    return Ok(Err(unequal(&external)));
                }
                *values.iter().next().unwrap_or(&0)
            };
            for topic in repartition {
                if topic.partitions != 0 && topic.partitions != count {
                    return Ok(Err(format!(
                        "Number of partitions [{}] of repartition topic [{}] doesn't match number of partitions [{count}] of the source topic.",
                        topic.partitions, topic.name
                    )));
                }
                counts.insert(topic.name.clone(), count);
            }
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, partitions: i32) -> TopicInfo {
        TopicInfo {
            name: name.into(),
            partitions,
            ..TopicInfo::default()
        }
    }

    /// Kafka Streams' word count: `input` → re-keyed to `app-repartition`
    /// → counted in a store with changelog `app-changelog`.
    fn word_count() -> Topology {
        Topology {
            epoch: 0,
            subtopologies: vec![
                Subtopology {
                    id: "0".into(),
                    source_topics: vec!["input".into()],
                    repartition_sink_topics: vec!["app-repartition".into()],
                    ..Subtopology::default()
                },
                Subtopology {
                    id: "1".into(),
                    repartition_source_topics: vec![info("app-repartition", 0)],
                    state_changelog_topics: vec![info("app-changelog", 0)],
                    ..Subtopology::default()
                },
            ],
        }
    }

    #[test]
    fn internal_topics_take_their_counts_from_upstream_and_are_named_for_creation() {
        let configured = configure(&word_count(), |t| (t == "input").then_some(3)).unwrap();
        assert_eq!(
            configured.tasks,
            BTreeMap::from([("0".into(), 3), ("1".into(), 3)])
        );
        let created: Vec<(&str, i32)> = configured
            .to_create
            .iter()
            .map(|t| (t.name.as_str(), t.partitions))
            .collect();
        assert_eq!(created, [("app-changelog", 3), ("app-repartition", 3)]);
        let status = configured.status.unwrap();
        assert_eq!(status.code, StatusCode::MissingInternalTopics);
        assert_eq!(
            status.detail,
            "Internal topics are missing: app-changelog, app-repartition"
        );
    }

    #[test]
    fn a_topology_is_ready_once_its_topics_exist_with_the_right_counts() {
        let ready = configure(&word_count(), |_| Some(3)).unwrap();
        assert!(ready.is_ready());
        let wrong = configure(&word_count(), |t| {
            Some(if t == "app-changelog" { 2 } else { 3 })
        })
        .unwrap();
        let status = wrong.status.unwrap();
        assert_eq!(status.code, StatusCode::IncorrectlyPartitionedTopics);
        assert_eq!(
            status.detail,
            "Existing topic app-changelog has different number of partitions: expected 3, found 2"
        );
    }

    #[test]
    fn missing_source_topics_are_listed_three_at_most() {
        let mut topology = word_count();
        topology.subtopologies[0].source_topics =
            vec!["a".into(), "b".into(), "c".into(), "d".into(), "e".into()];
        let configured = configure(&topology, |_| None).unwrap();
        assert!(configured.tasks.is_empty());
        let status = configured.status.unwrap();
        assert_eq!(status.code, StatusCode::MissingSourceTopics);
        assert_eq!(
            status.detail,
            "Source topics a, b, c and 2 additional topics are missing."
        );
    }

    #[test]
    fn copartitioned_sources_must_be_equal() {
        let topology = Topology {
            epoch: 0,
            subtopologies: vec![Subtopology {
                id: "0".into(),
                source_topics: vec!["left".into(), "right".into()],
                copartition_groups: vec![CopartitionGroup {
                    source_topics: vec![0, 1],
                    ..CopartitionGroup::default()
                }],
                ..Subtopology::default()
            }],
        };
        let configured = configure(&topology, |t| Some(if t == "left" { 2 } else { 4 })).unwrap();
        assert_eq!(
            configured.status.unwrap().detail,
            "Following topics do not have the same number of partitions: [{left=2, right=4}]"
        );
    }

    #[test]
    fn a_repartition_topic_nobody_writes_is_invalid() {
        let mut topology = word_count();
        topology.subtopologies[0].repartition_sink_topics.clear();
        assert!(matches!(
            configure(&topology, |_| Some(1)),
            Err(GroupError::StreamsInvalidTopology(_))
        ));
        let changelog_with_count = Topology {
            subtopologies: vec![Subtopology {
                state_changelog_topics: vec![info("c", 2)],
                ..Subtopology::default()
            }],
            ..Topology::default()
        };
        assert!(matches!(
            changelog_with_count.validate(),
            Err(GroupError::StreamsInvalidTopology(_))
        ));
    }
}
