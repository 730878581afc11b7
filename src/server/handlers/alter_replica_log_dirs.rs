//! AlterReplicaLogDirs (v1–v2, KIP-113; v0 is gone from Kafka 4 and from
//! the protocol crate): moves replicas to another of this broker's
//! `log.dirs` while they keep serving (`broker/replica_moves.rs` does the
//! work). ALTER on the cluster, else every partition is answered
//! CLUSTER_AUTHORIZATION_FAILED, as Kafka's `KafkaApis` does. Each
//! partition is answered on its own: LOG_DIR_NOT_FOUND for a dir that is
//! not one of `log.dirs`, KAFKA_STORAGE_ERROR for an offline one (or an
//! offline partition), REPLICA_NOT_AVAILABLE for a partition not hosted
//! here; NONE once the move has started, or if the replica is already there.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse};
use tracing::warn;

use crate::broker::Broker;
use crate::error::KafkaError;
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;
use crate::types::TopicPartition;

pub async fn handle(
    broker: &Arc<Broker>,
    request: AlterReplicaLogDirsRequest,
    version: i16,
    context: &RequestContext,
) -> AlterReplicaLogDirsResponse {
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return error_response(
            &request,
            version,
            ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let broker = Arc::clone(broker);
    // Answered whole should the blocking task fail.
    let unanswered = request.clone();
    // Creating the future logs' folders is file I/O.
    let answered = tokio::task::spawn_blocking(move || {
        let mut results: Vec<AlterReplicaLogDirTopicResult> = Vec::new();
        for dir in &request.dirs {
            for topic in &dir.topics {
                for &partition in &topic.partitions {
                    let topic_partition = TopicPartition::new(topic.name.as_str(), partition);
                    let code = match broker.alter_replica_log_dir(&topic_partition, &dir.path) {
                        Ok(()) => 0,
                        Err(error) => {
                            warn!(partition = %topic_partition, dir = %dir.path.as_str(), %error,
                                  "cannot move the replica");
                            error.code()
                        }
                    };
                    push(&mut results, topic, partition, code);
                }
            }
        }
        results
    })
    .await;
    match answered {
        Ok(results) => AlterReplicaLogDirsResponse::default().with_results(results),
        Err(join_error) => {
            warn!(%join_error, "AlterReplicaLogDirs failed");
            error_response(
                &unanswered,
                version,
                ResponseError::UnknownServerError.code(),
            )
        }
    }
}

/// Adds a partition's answer under its topic's entry (one per topic, as
/// Kafka groups them).
fn push(
    results: &mut Vec<AlterReplicaLogDirTopicResult>,
    topic: &kafka_protocol::messages::alter_replica_log_dirs_request::AlterReplicaLogDirTopic,
    partition: i32,
    code: i16,
) {
    let answer = AlterReplicaLogDirPartitionResult::default()
        .with_partition_index(partition)
        .with_error_code(code);
    match results.iter_mut().find(|r| r.topic_name == topic.name) {
        Some(result) => result.partitions.push(answer),
        None => results.push(
            AlterReplicaLogDirTopicResult::default()
                .with_topic_name(topic.name.clone())
                .with_partitions(vec![answer]),
        ),
    }
}

/// Every partition of `request` answered with `code`.
pub fn error_response(
    request: &AlterReplicaLogDirsRequest,
    _version: i16,
    code: i16,
) -> AlterReplicaLogDirsResponse {
    let mut results = Vec::new();
    for dir in &request.dirs {
        for topic in &dir.topics {
            for &partition in &topic.partitions {
                push(&mut results, topic, partition, code);
            }
        }
    }
    AlterReplicaLogDirsResponse::default().with_results(results)
}
