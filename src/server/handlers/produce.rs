//! Produce (v3–v12; v0–v2 advertised for librdkafka but refused): appends
//! each partition's batches as sent, after Kafka's validation, and answers
//! with base offsets, or with the error and the refused records (KIP-467).
//! acks=0 gets no answer; if any partition failed, the connection is closed
//! instead, as Kafka does, so the client refreshes its metadata.

use std::sync::Arc;

use futures_util::future::join_all;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::ResponseKind;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use tracing::{debug, warn};
use uuid::Uuid;

use super::topic_name;
use crate::broker::Broker;
use crate::error::KafkaError;
use crate::log::partition_log::AppendOrigin;
use crate::log::validator::RecordError;
use crate::metadata::acls::{AclOperation, ResourceType};
use crate::partition::{Partition, ReplicationError};
use crate::records::batch::{Batch, Batches};
use crate::server::context::RequestContext;
use crate::server::dispatch::Reply;
use crate::txn::coordinator::TxnProtocol;
use crate::txn::state::TxnError;

use crate::types::TopicPartition;

/// The first Produce version of transactions V2 (KIP-890).
const PRODUCE_V2_SINCE: i16 = 12;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ProduceRequest,
    version: i16,
    context: &RequestContext,
) -> Reply {
    let acks = request.acks;
    let timeout = std::time::Duration::from_millis(request.timeout_ms.max(0) as u64);
    let authz = context.authz(broker);
    // Transactional batches need WRITE on their transactional id, or the
    // whole request is refused (Kafka's `handleProduceRequest`).
    if let Some(id) = &request.transactional_id {
        if !authz.allows(AclOperation::Write, ResourceType::TransactionalId, id)
            && has_transactional_batches(&request)
        {
            return refuse_all(request, ResponseError::TransactionalIdAuthorizationFailed);
        }
    }
    // Older versions name topics and need no metadata here.
    let image = (version >= 13).then(|| broker.metadata());
    let transactional_id = request.transactional_id.as_ref().map(|id| id.to_string());
    let mut topics = Vec::with_capacity(request.topic_data.len());
    for topic in request.topic_data {
        // No auto-creation here: as in Kafka, only Metadata creates topics,
        // and a Produce to an unknown one answers UNKNOWN_TOPIC_OR_PARTITION.
        // From v13 topics come by id; an unknown id is told first.
        let refuse = |name: Option<&str>, code: ResponseError| {
            TopicProduceResponse::default()
                .with_name(name.map(topic_name).unwrap_or_default())
                .with_topic_id(topic.topic_id)
                .with_partition_responses(
                    topic
                        .partition_data
                        .iter()
                        .map(|data| refused(data.index, code))
                        .collect(),
                )
        };
        let name = match &image {
            None => topic.name.to_string(),
            Some(image) => match image.topic_by_id(topic.topic_id) {
                Some(known) => known.name.clone(),
                None => {
                    topics.push(refuse(None, ResponseError::UnknownTopicId));
                    continue;
                }
            },
        };
        // Authorization comes first: an unknown topic one may not write
        // to is TOPIC_AUTHORIZATION_FAILED, which tells nothing of it.
        if !authz.allows(AclOperation::Write, ResourceType::Topic, &name) {
            topics.push(refuse(Some(&name), ResponseError::TopicAuthorizationFailed));
            continue;
        }
        let topic_id = topic.topic_id;
        let partitions = join_all(topic.partition_data.into_iter().map(|data| {
            let topic_partition = TopicPartition::new(name.clone(), data.index);
            append_one(
                broker,
                topic_partition,
                data.records,
                acks,
                version,
                timeout,
                transactional_id.as_deref(),
            )
        }))
        .await;
        topics.push(
            TopicProduceResponse::default()
                .with_name(topic_name(&name))
                .with_topic_id(topic_id)
                .with_partition_responses(partitions),
        );
    }
    let mut response = ProduceResponse::default().with_responses(topics);
    if version >= 10 && acks != 0 {
        super::leader_hints::produce(broker, context, &mut response);
    }
    answer(acks, response)
}

/// Whether `response` says the batches for `topic` (named, or from v13 by
/// `topic_id`) and `partition` were appended.
pub fn appended(response: &ProduceResponse, topic: &str, topic_id: Uuid, partition: i32) -> bool {
    partition_error(response, topic, topic_id, partition) == Some(0)
}

/// The error code `response` answers for `topic` (named, or from v13 by
/// `topic_id`) and `partition`, if it names them.
pub fn partition_error(
    response: &ProduceResponse,
    topic: &str,
    topic_id: Uuid,
    partition: i32,
) -> Option<i16> {
    response
        .responses
        .iter()
        .filter(|t| match t.name.is_empty() && !topic_id.is_nil() {
            true => t.topic_id == topic_id,
            false => t.name.as_str() == topic,
        })
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
        .map(|p| p.error_code)
}

/// The response, or for acks=0 nothing — or the connection closed if a
/// partition failed, so that the client refreshes its metadata.
fn answer(acks: i16, response: ProduceResponse) -> Reply {
    if acks != 0 {
        return Reply::send(ResponseKind::Produce(response));
    }
    let failed = response.responses.iter().find_map(|topic| {
        topic
            .partition_responses
            .iter()
            .find(|partition| partition.error_code != 0)
            .map(|partition| (topic.name.to_string(), partition))
    });
    match failed {
        Some((topic, partition)) => Reply::Close(format!(
            "acks=0 produce to {topic}-{} failed with error {}",
            partition.index, partition.error_code
        )),
        None => Reply::Nothing,
    }
}

fn refused(index: i32, code: ResponseError) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
}

/// Every partition of the request refused with `code`, as `error_response`
/// builds them, but through `answer`: acks=0 gets the connection closed.
fn refuse_all(request: ProduceRequest, code: ResponseError) -> Reply {
    let response = ProduceResponse::default().with_responses(refusals(&request, code.code()));
    answer(request.acks, response)
}

fn has_transactional_batches(request: &ProduceRequest) -> bool {
    request
        .topic_data
        .iter()
        .flat_map(|topic| &topic.partition_data)
        .filter_map(|data| data.records.as_deref())
        .any(|records| {
            Batches::new(records)
                .map_while(Result::ok)
                .any(|(_, batch)| batch.is_transactional())
        })
}

async fn append_one(
    broker: &Arc<Broker>,
    topic_partition: TopicPartition,
    records: Option<bytes::Bytes>,
    acks: i16,
    version: i16,
    timeout: std::time::Duration,
    transactional_id: Option<&str>,
) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(topic_partition.partition)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1);
    let failed = |error: ResponseError, message: String| {
        response
            .clone()
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    if !matches!(acks, -1..=1) {
        return failed(
            ResponseError::InvalidRequiredAcks,
            format!("acks={acks} is not -1, 0 or 1"),
        );
    }
    let Some(partition) = broker.partition(&topic_partition) else {
        // Kafka's `ReplicaManager.getPartitionOrException`: a partition the
        // metadata knows but this broker does not host is led elsewhere.
        let known = broker
            .metadata()
            .topic(&topic_partition.topic)
            .is_some_and(|topic| {
                topic
                    .partitions
                    .iter()
                    .any(|p| p.partition == topic_partition.partition)
            });
        return match known {
            true => failed(
                ResponseError::NotLeaderOrFollower,
                format!("{topic_partition} is not hosted here"),
            ),
            false => failed(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic_partition} does not exist"),
            ),
        };
    };
    let Some(records) = records else {
        return failed(ResponseError::CorruptMessage, "null records".to_string());
    };
    // An offline replica answers for its disk before anything else, as
    // Kafka's `HostedPartition.Offline` does.
    if partition.is_offline() {
        warn!(partition = %topic_partition, cause = partition.log_dir().failure().unwrap_or(""),
              "KAFKA_STORAGE_ERROR: produce to a partition in an offline log dir");
        return failed(
            ResponseError::KafkaStorageError,
            format!("{topic_partition} is in an offline log dir"),
        );
    }
    // acks=all needs min.insync.replicas replicas in sync before anything
    // is appended, as Kafka checks it.
    if !partition.is_leader() {
        return failed(
            ResponseError::NotLeaderOrFollower,
            format!("this broker does not lead {topic_partition}"),
        );
    }
    if acks == -1 {
        let in_sync = partition.in_sync_replicas().len() as i32;
        let required = partition.min_insync_replicas();
        if in_sync < required {
            return failed(
                ResponseError::NotEnoughReplicas,
                format!("{topic_partition} has {in_sync} in-sync replicas; min.insync.replicas is {required}"),
            );
        }
    }
    let protocol = match version >= PRODUCE_V2_SINCE {
        true => TxnProtocol::V2,
        false => TxnProtocol::Classic,
    };
    let verified = verify_transaction(broker, transactional_id, &partition, &records, protocol);
    if let Err(error) = verified.await {
        return failed(
            error,
            format!("{topic_partition}: transactional batch refused"),
        );
    }
    let size = records.len();
    match partition
        .append_as_leader(records, AppendOrigin::Client)
        .await
    {
        Ok(info) => {
            partition.count_bytes_in(size);
            if acks == -1 {
                if let Err(error) = partition
                    .wait_for_replication(info.last_offset, timeout)
                    .await
                {
                    let (code, why) = match error {
                        ReplicationError::NotLeader => {
                            (ResponseError::NotLeaderOrFollower, "leadership moved")
                        }
                        ReplicationError::NotEnoughReplicasAfterAppend => (
                            ResponseError::NotEnoughReplicasAfterAppend,
                            "written, but the ISR shrank below min.insync.replicas",
                        ),
                        ReplicationError::TimedOut => (
                            ResponseError::RequestTimedOut,
                            "the in-sync replicas did not confirm in time",
                        ),
                    };
                    return failed(code, format!("{topic_partition}: {why}"));
                }
            }
            response
                .with_base_offset(info.base_offset.value())
                .with_log_append_time_ms(info.log_append_time.unwrap_or(-1))
                .with_log_start_offset(partition.log_start_offset().value())
        }
        Err(error) => {
            debug!(partition = %topic_partition, %error, "produce rejected");
            failed(error.kafka_error(), error.to_string())
                .with_record_errors(error.record_errors().iter().map(record_error).collect())
        }
    }
}

fn record_error(error: &RecordError) -> BatchIndexAndErrorMessage {
    BatchIndexAndErrorMessage::default()
        .with_batch_index(error.batch_index)
        .with_batch_index_error_message(Some(StrBytes::from_string(error.message.clone())))
}

/// A transactional batch is accepted only into a partition its producer
/// added to its open transaction (KIP-890's verification: a late or stray
/// write must not open a transaction nobody will end); from v12
/// (transactions V2) the write itself adds the partition. A transaction
/// that has already written here needs no asking, as in Kafka.
async fn verify_transaction(
    broker: &Arc<Broker>,
    transactional_id: Option<&str>,
    partition: &Partition,
    records: &bytes::Bytes,
    protocol: TxnProtocol,
) -> Result<(), ResponseError> {
    let Ok(batch) = Batch::parse(records) else {
        return Ok(()); // the log rejects it with the precise error
    };
    if !batch.is_transactional()
        || batch.is_control()
        || partition.has_ongoing_transaction(batch.producer_id(), batch.producer_epoch())
    {
        return Ok(());
    }
    let topic_partition = partition.topic_partition();
    broker
        .txn()
        .verify(
            transactional_id,
            batch.producer_id(),
            batch.producer_epoch(),
            topic_partition,
            protocol,
        )
        .await
        .map_err(|error| match error {
            // Produce answers a stale epoch as the log would.
            TxnError::ProducerFenced { .. } => ResponseError::InvalidProducerEpoch,
            other => other.kafka_error(),
        })
}

/// The answer to `request` failing with `code` in every partition (Kafka's
/// `ProduceRequest.getErrorResponse`); none for acks=0, which is never
/// answered.
pub fn error_response(
    request: &ProduceRequest,
    _version: i16,
    code: i16,
) -> Option<ProduceResponse> {
    if request.acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(refusals(request, code)))
}

/// Every partition of `request` refused with `code`.
fn refusals(request: &ProduceRequest, code: i16) -> Vec<TopicProduceResponse> {
    request
        .topic_data
        .iter()
        .map(|t| {
            TopicProduceResponse::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
                .with_partition_responses(
                    t.partition_data
                        .iter()
                        .map(|p| {
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_error_code(code)
                                .with_base_offset(-1)
                                .with_log_append_time_ms(-1)
                                .with_log_start_offset(-1)
                        })
                        .collect(),
                )
        })
        .collect()
}
