//! The segment store: per partition a folder `<topic>-<partition>` of
//! segments named by base offset, each a `.log` of record batches exactly as
//! they travel on the wire plus sparse `.index` and `.timeindex` files.

pub mod cleaner;
pub mod disk_faults;
pub mod file_records;
pub mod future_log;
pub mod index_file;
pub mod leader_epoch_cache;
mod loader;
pub mod log_dir;
pub mod manager;
pub mod offset_checkpoint;
pub mod offset_index;
pub mod partition_log;
pub mod producer_state;
pub mod read_view;
pub mod recovery;
mod retention;
mod rolled_sync;
pub mod segment;
pub mod segment_reader;
pub mod time_index;
pub mod txn_index;
pub mod validator;

use thiserror::Error;

use crate::records::batch::BatchError;
use crate::records::compression::CompressionError;
use crate::types::Offset;
use producer_state::ProducerStateError;

pub use manager::LogManager;
pub use partition_log::PartitionLog;

impl LogError {
    /// The records a client should fail, for a produce response's
    /// `record_errors`.
    pub fn record_errors(&self) -> &[validator::RecordError] {
        match self {
            LogError::InvalidRecord { record_errors, .. }
            | LogError::InvalidTimestamp { record_errors, .. } => record_errors,
            _ => &[],
        }
    }
}

#[derive(Debug, Error)]
pub enum LogError {
    #[error("log I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// Appends as leader on a broker that does not lead the partition.
    #[error("this broker is not the partition's leader")]
    NotLeader,
    /// A replica fetch made at `fetched_at` answered after this broker
    /// became the leader or followed a newer epoch: dropped.
    #[error("replica fetch made at leader epoch {fetched_at} is stale")]
    StaleReplicaFetch { fetched_at: i32 },
    /// A write that must reach the ISR (coordinator records, markers) did
    /// not in time.
    #[error("the in-sync replicas did not confirm the write: {0}")]
    NotReplicated(String),
    #[error("invalid record batch: {0}")]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Compression(#[from] CompressionError),
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge { size: usize, max: usize },
    #[error("produce request carries no record batch")]
    EmptyRecords,
    /// Kafka's InvalidRecordException, with the refused records if it
    /// was about single records.
    #[error("{message}")]
    InvalidRecord {
        message: String,
        record_errors: Vec<validator::RecordError>,
    },
    /// Records whose CreateTime is outside `message.timestamp.*.max.ms`.
    #[error("{message}")]
    InvalidTimestamp {
        message: String,
        record_errors: Vec<validator::RecordError>,
    },
    /// The partition's log dir failed earlier; it stays offline until the
    /// broker restarts, as Kafka's do.
    #[error("log dir {dir} is offline")]
    LogDirOffline { dir: String },
    /// A blocking log task could not run or panicked: not the disk's fault.
    #[error("log task failed: {0}")]
    TaskFailed(String),
    #[error("an idempotent or transactional produce must carry exactly one batch per partition")]
    MultipleIdempotentBatches,
    #[error(transparent)]
    ProducerState(#[from] ProducerStateError),
    #[error("clients may not write control batches")]
    ControlBatchFromClient,
    #[error("offset {requested} is outside [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        requested: Offset,
        log_start_offset: Offset,
        log_end_offset: Offset,
    },
    #[error("replicated batch [{base_offset}, {last_offset}] does not continue the log at {log_end_offset}")]
    NonContiguousReplicaAppend {
        base_offset: Offset,
        last_offset: Offset,
        log_end_offset: Offset,
    },
}
