//! Transaction markers: the control batches that end a producer's
//! transaction in a partition. A marker batch holds one record whose key is
//! `version i16 = 0 | type i16` (0 abort, 1 commit) and whose value is
//! `version i16 = 0 | coordinator epoch i32`, as Kafka writes them.

use super::batch::Batch;
use super::builder::BatchBuilder;
use super::record::Records;

const CONTROL_KEY_VERSION: i16 = 0;
const ABORT: i16 = 0;
const COMMIT: i16 = 1;
const MARKER_VALUE_VERSION: i16 = 0;

/// A transaction marker as the coordinator asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
}

impl TxnMarker {
    /// The control batch carrying this marker (base offset 0: the log
    /// assigns it).
    pub fn to_batch(&self, timestamp: i64) -> Vec<u8> {
        let mut key = CONTROL_KEY_VERSION.to_be_bytes().to_vec();
        key.extend_from_slice(&(if self.commit { COMMIT } else { ABORT }).to_be_bytes());
        let mut value = MARKER_VALUE_VERSION.to_be_bytes().to_vec();
        value.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        let mut builder = BatchBuilder::new(timestamp)
            .idempotent(self.producer_id, self.producer_epoch, -1)
            .transactional()
            .control();
        builder.push(timestamp, Some(&key), Some(&value), &[]);
        builder.build()
    }

    /// Reads the marker of a control batch; `None` for other batches or a
    /// control record of another kind.
    pub fn of(batch: &Batch<'_>) -> Option<TxnMarker> {
        if !batch.is_control() {
            return None;
        }
        let record = Records::new(batch.records_payload(), batch.records_count()).next()?;
        let key = record.key?;
        let kind = i16::from_be_bytes(key.get(2..4)?.try_into().ok()?);
        let coordinator_epoch = record
            .value
            .and_then(|value| value.get(2..6))
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, i32::from_be_bytes);
        let commit = match kind {
            COMMIT => true,
            ABORT => false,
            _ => return None,
        };
        Some(TxnMarker {
            producer_id: batch.producer_id(),
            producer_epoch: batch.producer_epoch(),
            commit,
            coordinator_epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_through_a_control_batch() {
        for commit in [true, false] {
            let marker = TxnMarker {
                producer_id: 77,
                producer_epoch: 3,
                commit,
                coordinator_epoch: 9,
            };
            let bytes = marker.to_batch(1_000);
            let batch = Batch::parse(&bytes).unwrap();
            batch.validate().unwrap();
            assert!(batch.is_control() && batch.is_transactional());
            assert_eq!(batch.base_sequence(), -1);
            assert_eq!(TxnMarker::of(&batch), Some(marker));
        }
    }
}
