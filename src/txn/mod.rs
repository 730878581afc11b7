//! The transaction coordinator: transactional ids, their producer ids and
//! epochs, and the transactions they run across partitions, as Kafka's
//! coordinator keeps them. State is persisted as records in the compacted
//! internal topic `__transaction_state`; the coordinator of a transactional
//! id is the leader of the partition the id hashes to.

pub mod coordinator;
pub mod log_format;
pub mod markers;
pub mod producer_ids;
pub mod state;
pub mod verification;

use std::time::Duration;

pub use coordinator::TransactionCoordinator;

/// The internal topic holding transaction state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Transaction settings, by Kafka's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`
    pub state_log_num_partitions: i32,
    /// `transaction.state.log.segment.bytes`
    pub state_log_segment_bytes: i32,
    /// `transaction.max.timeout.ms`
    pub max_timeout_ms: i64,
    /// `transactional.id.expiration.ms`
    pub id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`
    pub abort_timed_out_interval: Duration,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`
    pub remove_expired_interval: Duration,
    /// How markers reach other brokers (the inter-broker listener's TLS
    /// and SASL).
    pub inter_broker_security: crate::config::client_security::ClientSecurityConfig,
    /// `transaction.partition.verification.enable`: whether a classic
    /// (transactions V1) write must be to a partition of the producer's
    /// open transaction (KIP-890 part 1). Off, such writes are taken as
    /// Kafka takes them (and can leave a hanging transaction). V2 writes
    /// always add their partition.
    pub partition_verification: bool,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            state_log_num_partitions: 50,
            state_log_segment_bytes: 104_857_600,
            max_timeout_ms: 900_000,
            id_expiration_ms: 604_800_000,
            abort_timed_out_interval: Duration::from_millis(10_000),
            remove_expired_interval: Duration::from_millis(3_600_000),
            inter_broker_security: Default::default(),
            partition_verification: true,
        }
    }
}

/// The `__transaction_state` partition that holds a transactional id
/// (Kafka's `abs(hashCode) % partitions`).
pub fn partition_for(transactional_id: &str, partitions: i32) -> i32 {
    crate::group::partition_for(transactional_id, partitions)
}
