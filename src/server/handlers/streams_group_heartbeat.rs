//! StreamsGroupHeartbeat (v0–v1, KIP-1071): a Kafka Streams thread joins
//! its application's streams group with the topology (epoch 0), heartbeats
//! with its epoch and the tasks it owns, and leaves (-1, or -2 for a static
//! member leaving for a while). The answer carries its epoch, its tasks
//! when they changed, the group's statuses (topics missing, assignment
//! delayed, …) and, for interactive queries, which endpoint serves which
//! partitions. Internal topics the topology needs (repartition and
//! changelog topics) are created by the broker, as Kafka's does; v1 only
//! adds `AcceptableRecoveryLag` and `TopologyDescriptionRequired` (KIP-1331's
//! topology descriptions are not stored, so never required).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::streams_group_heartbeat_request::{self as request_types, TaskIds};
use kafka_protocol::messages::streams_group_heartbeat_response::{
    self as response_types, EndpointToPartitions, Status,
};
use kafka_protocol::messages::{
    StreamsGroupHeartbeatRequest, StreamsGroupHeartbeatResponse, TopicName,
};

use super::groups::{coordinator_for, optional, str_bytes};
use crate::broker::Broker;
use crate::controller::validate_topic_name;
use crate::controller::NewTopic;
use crate::group::streams::member::{Endpoint, TaskOffset};
use crate::group::streams::topology::{CopartitionGroup, Subtopology, TopicInfo, Topology};
use crate::group::streams::{
    add_task, StatusCode, StreamsHeartbeat, StreamsHeartbeatAnswer, Tasks, TasksTuple,
};
use crate::metadata::acls::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::metadata::features::STREAMS_VERSION;
use crate::server::context::RequestContext;

/// What Kafka's `Topic.isInternal` names; other `__` topics are users'.
const KAFKA_INTERNAL_TOPICS: [&str; 3] = [
    "__consumer_offsets",
    "__transaction_state",
    "__share_group_state",
];

pub async fn handle(
    broker: &Arc<Broker>,
    request: StreamsGroupHeartbeatRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> StreamsGroupHeartbeatResponse {
    // Below streams.version 1 streams groups are off, as in Kafka.
    if broker.metadata().features.level(STREAMS_VERSION) < 1 {
        return error(ResponseError::UnsupportedVersion, None);
    }
    let group_id = request.group_id.to_string();
    let heartbeat = heartbeat(&request, version, client_id, context);
    let authz = context.authz(broker);
    if !authz.allows(AclOperation::Read, ResourceType::Group, &group_id) {
        return error(ResponseError::GroupAuthorizationFailed, None);
    }
    if let Some(topology) = &heartbeat.topology {
        let topics = topology.topics();
        let internal: Vec<&str> = topics
            .iter()
            .copied()
            .filter(|t| KAFKA_INTERNAL_TOPICS.contains(t))
            .collect();
        if !internal.is_empty() {
            return error(
                ResponseError::StreamsInvalidTopology,
                Some(format!(
                    "Use of Kafka internal topics {} in a Kafka Streams topology is prohibited.",
                    internal.join(",")
                )),
            );
        }
        let invalid: Vec<&str> = topics
            .iter()
            .copied()
            .filter(|t| validate_topic_name(t).is_err())
            .collect();
        if !invalid.is_empty() {
            return error(
                ResponseError::StreamsInvalidTopology,
                Some(format!(
                    "Topic names {} are not valid topic names.",
                    invalid.join(",")
                )),
            );
        }
        if topics
            .iter()
            .any(|t| !authz.allows(AclOperation::Describe, ResourceType::Topic, t))
        {
            return error(ResponseError::TopicAuthorizationFailed, None);
        }
    }
    drop(authz);
    if let Err(refused) = heartbeat.validate(&group_id) {
        tracing::debug!(group = %group_id, %refused, "StreamsGroupHeartbeat refused");
        return error(refused.code(), Some(refused.to_string()));
    }
    let coordinator = match coordinator_for(broker, &group_id).await {
        Ok(coordinator) => coordinator,
        Err(code) => return error(code, None),
    };
    let heartbeat_interval = coordinator.config().streams.heartbeat_interval;
    match coordinator
        .streams_heartbeat(&group_id, heartbeat, broker.metadata())
        .await
    {
        Ok(mut answer) => {
            create_internal_topics(broker, context, &mut answer, heartbeat_interval);
            response(answer, version)
        }
        Err(refused) => error(refused.code(), Some(refused.to_string())),
    }
}

fn heartbeat(
    request: &StreamsGroupHeartbeatRequest,
    version: i16,
    client_id: &str,
    context: &RequestContext,
) -> StreamsHeartbeat {
    let lists = [
        &request.active_tasks,
        &request.standby_tasks,
        &request.warmup_tasks,
    ];
    let owned = match lists {
        [Some(active), Some(standby), Some(warmup)] => Some(TasksTuple {
            active: tasks(active),
            standby: tasks(standby),
            warmup: tasks(warmup),
        }),
        _ => None,
    };
    StreamsHeartbeat {
        version,
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        endpoint_information_epoch: request.endpoint_information_epoch,
        instance_id: optional(&request.instance_id),
        rack_id: optional(&request.rack_id),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        topology: request.topology.as_ref().map(topology),
        owned,
        owned_lists: lists.map(Option::is_some),
        process_id: optional(&request.process_id),
        user_endpoint: request.user_endpoint.as_ref().map(|e| Endpoint {
            host: e.host.to_string(),
            port: e.port,
        }),
        client_tags: request.client_tags.as_ref().map(|tags| key_values(tags)),
        task_offsets: request.task_offsets.as_ref().map(|o| task_offsets(o)),
        task_end_offsets: request.task_end_offsets.as_ref().map(|o| task_offsets(o)),
        shutdown_application: request.shutdown_application,
        client_id: client_id.to_string(),
        client_host: format!("/{}", context.peer.ip()),
    }
}

fn tasks(list: &[TaskIds]) -> Tasks {
    let mut tasks = Tasks::new();
    for ids in list {
        for partition in &ids.partitions {
            add_task(&mut tasks, &ids.subtopology_id, *partition);
        }
    }
    tasks
}

fn key_values(list: &[request_types::KeyValue]) -> Vec<(String, String)> {
    list.iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn task_offsets(list: &[request_types::TaskOffset]) -> Vec<TaskOffset> {
    list.iter()
        .map(|o| TaskOffset {
            subtopology: o.subtopology_id.to_string(),
            partition: o.partition,
            offset: o.offset,
        })
        .collect()
}

fn topology(wire: &request_types::Topology) -> Topology {
    let topic_info = |t: &request_types::TopicInfo| TopicInfo {
        name: t.name.to_string(),
        partitions: t.partitions,
        replication_factor: t.replication_factor,
        configs: key_values(&t.topic_configs),
    };
    let names = |list: &[TopicName]| list.iter().map(|t| t.to_string()).collect();
    Topology {
        epoch: wire.epoch,
        subtopologies: wire
            .subtopologies
            .iter()
            .map(|s| Subtopology {
                id: s.subtopology_id.to_string(),
                source_topics: names(&s.source_topics),
                source_topic_regex: s.source_topic_regex.iter().map(|r| r.to_string()).collect(),
                state_changelog_topics: s.state_changelog_topics.iter().map(topic_info).collect(),
                repartition_sink_topics: names(&s.repartition_sink_topics),
                repartition_source_topics: s
                    .repartition_source_topics
                    .iter()
                    .map(topic_info)
                    .collect(),
                copartition_groups: s
                    .copartition_groups
                    .iter()
                    .map(|g| CopartitionGroup {
                        source_topics: g.source_topics.clone(),
                        source_topic_regex: g.source_topic_regex.clone(),
                        repartition_source_topics: g.repartition_source_topics.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Internal topics being created, and the creations that failed lately:
/// Kafka's auto-topic-creation manager keeps both so that a heartbeat
/// neither creates a topic twice nor retries a failure at once. Topic
/// names are cluster-wide, so one table serves the process.
#[derive(Default)]
struct Creations {
    in_flight: BTreeSet<String>,
    failed: HashMap<String, (String, Instant)>,
}

static CREATIONS: std::sync::LazyLock<Mutex<Creations>> =
    std::sync::LazyLock::new(|| Mutex::new(Creations::default()));

/// Starts creating the internal topics the answer names, if the member
/// may (CREATE on the cluster or on each topic), without waiting: the
/// members see them on a later heartbeat. What cannot be created is said
/// in the MISSING_INTERNAL_TOPICS status.
fn create_internal_topics(
    broker: &Arc<Broker>,
    context: &RequestContext,
    answer: &mut StreamsHeartbeatAnswer,
    heartbeat_interval: Duration,
) {
    let to_create = std::mem::take(&mut answer.to_create);
    if to_create.is_empty() {
        return;
    }
    let authz = context.authz(broker);
    let cluster_create = authz.allows(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME);
    let unauthorized: Vec<&str> = to_create
        .iter()
        .filter(|t| {
            !cluster_create && !authz.allows(AclOperation::Create, ResourceType::Topic, &t.name)
        })
        .map(|t| t.name.as_str())
        .collect();
    drop(authz);
    let mut notes = Vec::new();
    if !unauthorized.is_empty() {
        notes.push(format!(
            "Unauthorized to CREATE on topics {}.",
            unauthorized.join(", ")
        ));
    } else {
        let backoff = heartbeat_interval * 2;
        let now = Instant::now();
        let mut creations = CREATIONS.lock().unwrap_or_else(|e| e.into_inner());
        creations
            .failed
            .retain(|_, (_, at)| now.duration_since(*at) < backoff);
        let mut failures: Vec<String> = to_create
            .iter()
            .filter_map(|t| {
                let (message, _) = creations.failed.get(&t.name)?;
                Some(format!("{} ({message})", t.name))
            })
            .collect();
        failures.sort();
        if !failures.is_empty() {
            let more = failures.len().saturating_sub(3);
            let mut listed = failures
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if more > 0 {
                listed.push_str(&format!(" and {more} more"));
            }
            notes.push(format!("Creation failed: {listed}."));
        }
        for topic in to_create {
            if creations.failed.contains_key(&topic.name)
                || !creations.in_flight.insert(topic.name.clone())
            {
                continue;
            }
            let broker = Arc::clone(broker);
            tokio::spawn(async move {
                let name = topic.name.clone();
                let result = broker.create_topic(new_topic(&broker, topic), false).await;
                let mut creations = CREATIONS.lock().unwrap_or_else(|e| e.into_inner());
                creations.in_flight.remove(&name);
                match result {
                    Ok(_) => {
                        tracing::info!(topic = %name, "created a streams group's internal topic")
                    }
                    Err(error) if broker.metadata().topic(&name).is_some() => {
                        tracing::debug!(topic = %name, %error, "internal topic created meanwhile");
                    }
                    Err(error) => {
                        tracing::warn!(topic = %name, %error, "creating a streams group's internal topic failed");
                        creations
                            .failed
                            .insert(name, (error.to_string(), Instant::now()));
                    }
                }
            });
        }
    }
    if notes.is_empty() {
        return;
    }
    let note = notes.join("; ");
    match answer
        .statuses
        .iter_mut()
        .find(|s| s.code == StatusCode::MissingInternalTopics)
    {
        Some(status) => status.detail = format!("{}; {note}", status.detail),
        None => answer.statuses.push(crate::group::streams::Status {
            code: StatusCode::MissingInternalTopics,
            detail: note,
        }),
    }
}

fn new_topic(broker: &Broker, topic: TopicInfo) -> NewTopic {
    let replication_factor = match topic.replication_factor {
        factor if factor > 0 => factor,
        _ => broker.config().default_replication_factor,
    };
    NewTopic {
        name: topic.name,
        num_partitions: topic.partitions,
        replication_factor,
        configs: topic.configs.into_iter().collect::<BTreeMap<_, _>>(),
        assignments: None,
    }
}

fn response(answer: StreamsHeartbeatAnswer, version: i16) -> StreamsGroupHeartbeatResponse {
    let task_ids = |tasks: &Tasks| {
        tasks
            .iter()
            .filter(|(_, partitions)| !partitions.is_empty())
            .map(|(subtopology, partitions)| {
                response_types::TaskIds::default()
                    .with_subtopology_id(str_bytes(subtopology.clone()))
                    .with_partitions(partitions.iter().copied().collect())
            })
            .collect::<Vec<_>>()
    };
    let topic_partitions = |by_topic: &BTreeMap<String, BTreeSet<i32>>| {
        by_topic
            .iter()
            .map(|(topic, partitions)| {
                response_types::TopicPartition::default()
                    .with_topic(TopicName(str_bytes(topic.clone())))
                    .with_partitions(partitions.iter().copied().collect())
            })
            .collect::<Vec<_>>()
    };
    let statuses = answer
        .statuses
        .iter()
        .map(|s| {
            Status::default()
                .with_status_code(s.code as i8)
                .with_status_detail(str_bytes(s.detail.clone()))
        })
        .collect();
    let mut response = StreamsGroupHeartbeatResponse::default()
        .with_member_id(str_bytes(answer.member_id))
        .with_member_epoch(answer.member_epoch)
        .with_heartbeat_interval_ms(answer.heartbeat_interval_ms)
        .with_task_offset_interval_ms(answer.task_offset_interval_ms)
        .with_status(Some(statuses))
        .with_endpoint_information_epoch(answer.endpoint_information_epoch)
        .with_partitions_by_user_endpoint(answer.partitions_by_endpoint.map(|endpoints| {
            endpoints
                .iter()
                .map(|e| {
                    EndpointToPartitions::default()
                        .with_user_endpoint(
                            response_types::Endpoint::default()
                                .with_host(str_bytes(e.endpoint.host.clone()))
                                .with_port(e.endpoint.port),
                        )
                        .with_active_partitions(topic_partitions(&e.active))
                        .with_standby_partitions(topic_partitions(&e.standby))
                })
                .collect()
        }));
    if version >= 1 {
        response = response.with_acceptable_recovery_lag(answer.acceptable_recovery_lag);
    }
    if let Some(tasks) = answer.tasks {
        response = response
            .with_active_tasks(Some(task_ids(&tasks.active)))
            .with_standby_tasks(Some(task_ids(&tasks.standby)))
            .with_warmup_tasks(Some(task_ids(&tasks.warmup)));
    }
    response
}

fn error(code: ResponseError, message: Option<String>) -> StreamsGroupHeartbeatResponse {
    StreamsGroupHeartbeatResponse::default()
        .with_error_code(code.code())
        .with_error_message(message.map(str_bytes))
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &StreamsGroupHeartbeatRequest,
    _version: i16,
    code: i16,
) -> StreamsGroupHeartbeatResponse {
    StreamsGroupHeartbeatResponse::default().with_error_code(code)
}
