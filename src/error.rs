//! The one mapping from gregor's typed errors to Kafka error codes.

use kafka_protocol::error::ResponseError;

use crate::broker::BrokerError;
use crate::config::dynamic::BrokerConfigError;
use crate::config::ConfigError;
use crate::controller::quorum::membership::MembershipError;
use crate::controller::ControllerError;
use crate::log::producer_state::ProducerStateError;
use crate::log::LogError;
use crate::records::batch::BatchError;
use crate::txn::state::TxnError;

/// A Kafka error code for an error, as responses carry it.
pub trait KafkaError {
    fn kafka_error(&self) -> ResponseError;

    fn code(&self) -> i16 {
        self.kafka_error().code()
    }
}

impl KafkaError for LogError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            LogError::Io(_) | LogError::LogDirOffline { .. } => ResponseError::KafkaStorageError,
            LogError::Batch(BatchError::UnsupportedMagic(_)) => {
                ResponseError::UnsupportedForMessageFormat
            }
            LogError::Batch(BatchError::InvalidRecordCount(_))
            | LogError::Batch(BatchError::InvalidOffsetDelta { .. }) => {
                ResponseError::InvalidRecord
            }
            LogError::Batch(_) | LogError::Compression(_) | LogError::EmptyRecords => {
                ResponseError::CorruptMessage
            }
            LogError::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
            LogError::MultipleIdempotentBatches | LogError::InvalidRecord { .. } => {
                ResponseError::InvalidRecord
            }
            LogError::InvalidTimestamp { .. } => ResponseError::InvalidTimestamp,
            LogError::ProducerState(ProducerStateError::InvalidProducerEpoch { .. }) => {
                ResponseError::InvalidProducerEpoch
            }
            LogError::ProducerState(ProducerStateError::OutOfOrderSequence { .. }) => {
                ResponseError::OutOfOrderSequenceNumber
            }
            LogError::ProducerState(ProducerStateError::CoordinatorFenced { .. }) => {
                ResponseError::TransactionCoordinatorFenced
            }
            LogError::ControlBatchFromClient => ResponseError::InvalidRecord,
            LogError::NotLeader | LogError::StaleReplicaFetch { .. } => {
                ResponseError::NotLeaderOrFollower
            }
            LogError::NotReplicated(_) => ResponseError::NotEnoughReplicas,
            LogError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
            // Only a replica fetcher meets it; Kafka has no code for it either.
            LogError::NonContiguousReplicaAppend { .. } | LogError::TaskFailed(_) => {
                ResponseError::UnknownServerError
            }
        }
    }
}

impl KafkaError for ConfigError {
    fn kafka_error(&self) -> ResponseError {
        ResponseError::InvalidConfig
    }
}

impl KafkaError for MembershipError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            MembershipError::NotLeader => ResponseError::NotLeaderOrFollower,
            MembershipError::KraftVersion(_) => ResponseError::UnsupportedVersion,
            MembershipError::ChangePending
            | MembershipError::NotObserving { .. }
            | MembershipError::Lagging(_)
            | MembershipError::TimedOut(_) => ResponseError::RequestTimedOut,
            MembershipError::DuplicateVoter(_) => ResponseError::DuplicateVoter,
            MembershipError::VoterNotFound { .. } => ResponseError::VoterNotFound,
            MembershipError::Raft(_) => ResponseError::UnknownServerError,
        }
    }
}

impl KafkaError for ControllerError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            ControllerError::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
            ControllerError::UnknownTopic(_) => ResponseError::UnknownTopicOrPartition,
            ControllerError::UnknownTopicId(_) => ResponseError::UnknownTopicId,
            ControllerError::InvalidTopicName(_) => ResponseError::InvalidTopicException,
            ControllerError::InvalidPartitions(_) => ResponseError::InvalidPartitions,
            ControllerError::InvalidReplicationFactor { .. } => {
                ResponseError::InvalidReplicationFactor
            }
            ControllerError::InvalidConfig(_) => ResponseError::InvalidConfig,
            ControllerError::TopicDeletionDisabled => ResponseError::TopicDeletionDisabled,
            ControllerError::PartitionCountNotIncreased { .. } => ResponseError::InvalidPartitions,
            ControllerError::InvalidReplicaAssignment(_) => ResponseError::InvalidReplicaAssignment,
            ControllerError::BrokerConfig(error) => error.kafka_error(),
            ControllerError::Storage(_) | ControllerError::CorruptSnapshot(_) => {
                ResponseError::UnknownServerError
            }
            // The quorum could not commit (no leader yet): clients retry.
            ControllerError::Quorum(_) => ResponseError::NotController,
        }
    }
}

/// Kafka answers INVALID_REQUEST for a broker config it will not apply,
/// whatever the reason (KAFKA-13609), and INVALID_CONFIG only where an
/// APPEND/SUBTRACT names an unknown or non-list config.
impl KafkaError for BrokerConfigError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            BrokerConfigError::UnknownName(_) | BrokerConfigError::NotAList { .. } => {
                ResponseError::InvalidConfig
            }
            _ => ResponseError::InvalidRequest,
        }
    }
}

impl KafkaError for BrokerError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            BrokerError::Config(error) => error.kafka_error(),
            BrokerError::Controller(error) => error.kafka_error(),
            BrokerError::Log(error) => error.kafka_error(),
            // Only at start-up: no request is answered with it.
            BrokerError::Tls(_) => ResponseError::UnknownServerError,
        }
    }
}

/// As Kafka's `ReplicaManager.alterReplicaLogDirs` answers.
impl KafkaError for crate::broker::replica_moves::ReplicaMoveError {
    fn kafka_error(&self) -> ResponseError {
        use crate::broker::replica_moves::ReplicaMoveError;
        match self {
            ReplicaMoveError::LogDirNotFound(_) => ResponseError::LogDirNotFound,
            ReplicaMoveError::LogDirOffline(_) | ReplicaMoveError::PartitionOffline(_) => {
                ResponseError::KafkaStorageError
            }
            ReplicaMoveError::ReplicaNotAvailable(_) => ResponseError::ReplicaNotAvailable,
            ReplicaMoveError::TopicNameTooLong => ResponseError::InvalidTopicException,
            ReplicaMoveError::Log(error) => error.kafka_error(),
        }
    }
}

impl KafkaError for TxnError {
    fn kafka_error(&self) -> ResponseError {
        match self {
            TxnError::InvalidProducerIdMapping { .. } => ResponseError::InvalidProducerIdMapping,
            TxnError::ProducerFenced { .. } => ResponseError::ProducerFenced,
            TxnError::ConcurrentTransactions => ResponseError::ConcurrentTransactions,
            TxnError::InvalidTxnState(_) => ResponseError::InvalidTxnState,
            TxnError::InvalidTransactionTimeout { .. } => ResponseError::InvalidTransactionTimeout,
            TxnError::CoordinatorNotAvailable(_) => ResponseError::CoordinatorNotAvailable,
            TxnError::UnknownTransactionalId => ResponseError::TransactionalIdNotFound,
            TxnError::NotCoordinator => ResponseError::NotCoordinator,
            TxnError::Unstorable(_) => ResponseError::InvalidRequest,
        }
    }
}

/// The error code a transactional API answers with at `version`: requests
/// from before KIP-588 (`fenced_since` is the first version that knows
/// PRODUCER_FENCED) learn of fencing as INVALID_PRODUCER_EPOCH, as Kafka
/// answers them.
pub fn txn_error_code(error: &TxnError, version: i16, fenced_since: i16) -> i16 {
    match error.kafka_error() {
        ResponseError::ProducerFenced if version < fenced_since => {
            ResponseError::InvalidProducerEpoch.code()
        }
        other => other.code(),
    }
}
