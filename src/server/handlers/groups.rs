//! What every group handler needs first: a valid group id and a ready
//! coordinator (with `__consumer_offsets` created on first use).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use tracing::warn;

use crate::broker::Broker;
use crate::group::GroupCoordinator;

pub(crate) async fn coordinator_for<'a>(
    broker: &'a Arc<Broker>,
    group_id: &str,
) -> Result<&'a GroupCoordinator, ResponseError> {
    if group_id.is_empty() {
        return Err(ResponseError::InvalidGroupId);
    }
    if let Err(error) = broker.ensure_offsets_topic().await {
        warn!(%error, "cannot create __consumer_offsets");
        return Err(ResponseError::CoordinatorNotAvailable);
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
