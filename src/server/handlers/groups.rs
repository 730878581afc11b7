//! What every group handler needs first: a valid group id and a ready
//! coordinator (with `__consumer_offsets` created on first use); and what
//! the offset handlers share: reading offsets from a commit request,
//! refusing unknown partitions, grouping answers by topic.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use tracing::warn;

use crate::broker::Broker;
use crate::group::state::CommittedOffset;
use crate::group::GroupCoordinator;
use crate::records::primitives::check_string;
use crate::types::{now_ms, TopicPartition};

pub(crate) async fn coordinator_for<'a>(
    broker: &'a Arc<Broker>,
    group_id: &str,
) -> Result<&'a GroupCoordinator, ResponseError> {
    // A group id is written into `__consumer_offsets` records, whose
    // strings hold at most i16::MAX bytes (as every string of Kafka's
    // protocol; Kafka's decoder refuses longer ones).
    if group_id.is_empty() || check_string(group_id).is_err() {
        return Err(ResponseError::InvalidGroupId);
    }
    if let Err(error) = broker.ensure_offsets_topic().await {
        warn!(%error, "cannot create __consumer_offsets");
        return Err(ResponseError::CoordinatorNotAvailable);
    }
    if !broker.groups().coordinates(group_id) {
        return Err(ResponseError::NotCoordinator);
    }
    Ok(broker.groups())
}

/// An optional string field as the coordinator takes it.
pub(crate) fn optional(value: &Option<kafka_protocol::protocol::StrBytes>) -> Option<String> {
    value.as_ref().map(|v| v.to_string())
}

pub(crate) fn str_bytes(value: impl Into<String>) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(value.into())
}

/// An offset as a commit request carries it, stamped with the commit time.
pub(crate) fn committed_offset(
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&kafka_protocol::protocol::StrBytes>,
) -> CommittedOffset {
    CommittedOffset {
        offset,
        leader_epoch,
        metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
        commit_timestamp: now_ms(),
    }
}

/// Per-partition outcomes of an offset request.
pub(crate) type PartitionErrors = Vec<(TopicPartition, Option<ResponseError>)>;

/// Splits requested offsets into those of partitions that exist and
/// `UNKNOWN_TOPIC_OR_PARTITION` answers for the rest: Kafka refuses
/// offsets of topics that do not exist.
pub(crate) fn split_unknown(
    broker: &Broker,
    requested: Vec<(TopicPartition, CommittedOffset)>,
) -> (Vec<(TopicPartition, CommittedOffset)>, PartitionErrors) {
    let image = broker.metadata();
    let (known, unknown): (Vec<_>, Vec<_>) = requested.into_iter().partition(|(p, _)| {
        image
            .topic(&p.topic)
            .is_some_and(|t| p.partition >= 0 && (p.partition as usize) < t.partitions.len())
    });
    let refused = unknown
        .into_iter()
        .map(|(p, _)| (p, Some(ResponseError::UnknownTopicOrPartition)))
        .collect();
    (known, refused)
}

/// Per-partition answers grouped by topic, in the order first seen.
pub(crate) fn by_topic<T>(answers: Vec<(TopicPartition, T)>) -> Vec<(String, Vec<(i32, T)>)> {
    let mut topics: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (partition, answer) in answers {
        match topics.iter_mut().find(|(name, _)| *name == partition.topic) {
            Some((_, entries)) => entries.push((partition.partition, answer)),
            None => topics.push((partition.topic, vec![(partition.partition, answer)])),
        }
    }
    topics
}

/// The topics of an offset commit named by id (OffsetCommit v10,
/// TxnOffsetCommit v6): each id resolved to its name in one metadata
/// image, and the answer naming each topic as its request did.
pub(crate) struct TopicIds {
    image: Option<Arc<crate::metadata::MetadataImage>>,
    ids: std::collections::HashMap<String, uuid::Uuid>,
}

impl TopicIds {
    /// `by_id`: the request's version names topics by id.
    pub(crate) fn new(broker: &Broker, by_id: bool) -> TopicIds {
        TopicIds {
            image: by_id.then(|| broker.metadata()),
            ids: Default::default(),
        }
    }

    /// The name of a requested topic: as named, or its id's; None for an
    /// id the metadata does not know (UNKNOWN_TOPIC_ID).
    pub(crate) fn name(&mut self, name: &str, id: uuid::Uuid) -> Option<String> {
        let Some(image) = &self.image else {
            return Some(name.to_string());
        };
        let found = image.topic_by_id(id)?;
        self.ids.insert(found.name.clone(), id);
        Some(found.name.clone())
    }

    /// The id a topic was requested by, if it was.
    pub(crate) fn id_of(&self, name: &str) -> Option<uuid::Uuid> {
        self.ids.get(name).copied()
    }
}
