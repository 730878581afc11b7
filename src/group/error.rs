//! The group coordinator's typed refusals, mapped once to Kafka's codes.

use kafka_protocol::error::ResponseError;

/// Why the coordinator refuses a request of a KIP-848 consumer group or a
/// KIP-1071 streams group; each maps to the Kafka error code Kafka's
/// coordinator answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    FencedMemberEpoch(String),
    #[error("{0}")]
    UnknownMemberId(String),
    #[error("{0}")]
    UnreleasedInstanceId(String),
    #[error("{0}")]
    FencedInstanceId(String),
    #[error("{0}")]
    GroupIdNotFound(String),
    #[error("{0}")]
    GroupMaxSizeReached(String),
    #[error("{0}")]
    UnsupportedAssignor(String),
    #[error("{0}")]
    InvalidRegularExpression(String),
    #[error("the member epoch {received} is not the current one, {current}")]
    StaleMemberEpoch { received: i32, current: i32 },
    #[error("{0}")]
    UnsupportedVersion(String),
    /// A classic member's generation is not its member epoch.
    #[error("{0}")]
    IllegalGeneration(String),
    /// KIP-1071: a streams topology that cannot be configured.
    #[error("{0}")]
    StreamsInvalidTopology(String),
    /// The group's records could not be written; the change is undone.
    #[error("{0}")]
    CoordinatorNotAvailable(String),
}

impl GroupError {
    pub fn code(&self) -> ResponseError {
        match self {
            GroupError::InvalidRequest(_) => ResponseError::InvalidRequest,
            GroupError::FencedMemberEpoch(_) => ResponseError::FencedMemberEpoch,
            GroupError::UnknownMemberId(_) => ResponseError::UnknownMemberId,
            GroupError::UnreleasedInstanceId(_) => ResponseError::UnreleasedInstanceId,
            GroupError::FencedInstanceId(_) => ResponseError::FencedInstanceId,
            GroupError::GroupIdNotFound(_) => ResponseError::GroupIdNotFound,
            GroupError::GroupMaxSizeReached(_) => ResponseError::GroupMaxSizeReached,
            GroupError::UnsupportedAssignor(_) => ResponseError::UnsupportedAssignor,
            GroupError::InvalidRegularExpression(_) => ResponseError::InvalidRegularExpression,
            GroupError::StaleMemberEpoch { .. } => ResponseError::StaleMemberEpoch,
            GroupError::UnsupportedVersion(_) => ResponseError::UnsupportedVersion,
            GroupError::IllegalGeneration(_) => ResponseError::IllegalGeneration,
            GroupError::StreamsInvalidTopology(_) => ResponseError::StreamsInvalidTopology,
            GroupError::CoordinatorNotAvailable(_) => ResponseError::CoordinatorNotAvailable,
        }
    }
}
