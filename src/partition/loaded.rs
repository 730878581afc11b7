//! The internal partitions (`__consumer_offsets`, `__transaction_state`)
//! whose state a coordinator has loaded because this broker leads them:
//! it coordinates exactly the keys that hash to these; and [`replay`], how
//! a coordinator reads one when it takes it over.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;

use tracing::error;

use super::Partition;
use crate::log::LogError;
use crate::records::batch::{Batch, Batches, HEADER_SIZE};
use crate::records::compression::records_payload;
use crate::records::record::{Record, Records};
use crate::types::Offset;

/// Bytes read at a time while replaying.
const LOAD_BUFFER_BYTES: usize = 1 << 20;

/// Coordinator records are small; a batch decompressing to more is not one.
const DECOMPRESSED_LIMIT: usize = 64 << 20;

#[derive(Default)]
pub struct LoadedPartitions {
    indexes: Mutex<HashSet<i32>>,
}

impl LoadedPartitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i32>> {
        self.indexes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, index: i32) {
        self.lock().insert(index);
    }

    /// Whether `index` was loaded (and is no more).
    pub fn remove(&self, index: i32) -> bool {
        self.lock().remove(&index)
    }

    pub fn contains(&self, index: i32) -> bool {
        self.lock().contains(&index)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Replays an internal partition from its log start to its log end,
/// giving `visit` every batch with its records, in order. A stored batch
/// that cannot be read (a bad header or CRC, records that do not
/// decompress or decode) is skipped with an error log, whole or from its
/// first bad record on, and the replay always moves forward: one bad
/// batch costs what it held, never the load. Returns the batches skipped.
/// Blocking: coordinators load while the metadata image is applied.
pub fn replay(
    partition: &Partition,
    mut visit: impl FnMut(&Batch<'_>, &[Record<'_>]),
) -> Result<usize, LogError> {
    let topic_partition = partition.topic_partition();
    let end = partition.log_end_offset();
    let mut offset = partition.log_start_offset();
    let mut skipped = 0;
    // Set while stepping over what the log cannot read.
    let mut stepping = false;
    while offset < end {
        let fetched = partition.read_to_log_end_blocking(offset, LOAD_BUFFER_BYTES)?;
        if fetched.is_empty() {
            // The log reads nothing here before the end: what is stored at
            // this offset does not parse. Step over it, one offset at a time.
            if !stepping {
                error!(partition = %topic_partition, %offset, "skipping an unreadable stored batch");
                skipped += 1;
                stepping = true;
            }
            offset = offset.plus(1);
            continue;
        }
        stepping = false;
        let mut position = 0;
        for item in Batches::new(&fetched) {
            let unreadable = match item {
                Ok((at, batch)) => {
                    position = at + batch.size();
                    match readable(&batch, offset) {
                        Ok((payload, next)) => {
                            let records = records_of(&batch, &payload, &mut skipped);
                            visit(&batch, &records);
                            offset = next;
                            continue;
                        }
                        // Where the next batch starts says best where this
                        // one ends; else its own header.
                        Err(reason) => {
                            let following = fetched.get(position..).and_then(base_offset);
                            (
                                reason,
                                following.or_else(|| claimed_next_offset(batch.bytes())),
                            )
                        }
                    }
                }
                Err(error) => (error.to_string(), claimed_next_offset(&fetched[position..])),
            };
            let (reason, claimed) = unreadable;
            // As far as that moves on; else one offset.
            let next = claimed
                .filter(|next| *next > offset)
                .unwrap_or(offset.plus(1));
            error!(partition = %topic_partition, %offset, %next, %reason, "skipping an unreadable stored batch");
            skipped += 1;
            offset = next;
            // Read again from there: the rest of this buffer is not trusted.
            break;
        }
    }
    Ok(skipped)
}

/// The batch's records, decompressed if needed, and the offset after it;
/// why not, if it cannot be read or does not move past `offset`.
fn readable<'a>(batch: &Batch<'a>, offset: Offset) -> Result<(Cow<'a, [u8]>, Offset), String> {
    batch.validate().map_err(|error| error.to_string())?;
    let next = next_offset(batch)
        .filter(|next| *next > offset)
        .ok_or_else(|| format!("its offsets do not move past {offset}"))?;
    let payload = records_payload(batch, DECOMPRESSED_LIMIT).map_err(|error| error.to_string())?;
    Ok((payload, next))
}

/// The records of a batch up to the first that does not decode.
fn records_of<'a>(batch: &Batch<'_>, payload: &'a [u8], skipped: &mut usize) -> Vec<Record<'a>> {
    let records: Vec<Record<'a>> = Records::new(payload, batch.records_count()).collect();
    if records.len() < batch.records_count() as usize {
        error!(
            base_offset = %batch.base_offset(),
            read = records.len(),
            count = batch.records_count(),
            "skipping the unreadable records of a stored batch"
        );
        *skipped += 1;
    }
    records
}

/// The base offset of the batch at the start of `bytes`, if one parses.
fn base_offset(bytes: &[u8]) -> Option<Offset> {
    Batch::parse(bytes).ok().map(|batch| batch.base_offset())
}

/// The next offset a batch header claims, if there is a header to read.
fn claimed_next_offset(bytes: &[u8]) -> Option<Offset> {
    let header: &[u8; HEADER_SIZE] = bytes.get(..HEADER_SIZE)?.try_into().ok()?;
    next_offset(&Batch::parse_header_only(header))
}

/// `Batch::next_offset`, without overflowing on a corrupt header.
fn next_offset(batch: &Batch<'_>) -> Option<Offset> {
    let after_last = i64::from(batch.last_offset_delta()).checked_add(1)?;
    batch.base_offset().0.checked_add(after_last).map(Offset)
}

/// A partition holding given batches, for the loaders' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};

    use super::Partition;
    use crate::config::LogConfig;
    use crate::log::partition_log::{AppendOrigin, PartitionLog};
    use crate::records::builder::BatchBuilder;
    use crate::types::{LeaderEpoch, TopicPartition};

    /// One uncompressed batch of `(key, value)` records.
    pub(crate) fn batch(records: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
        let mut builder = BatchBuilder::new(1_000);
        for (key, value) in records {
            builder.push(1_000, Some(key), value.as_deref(), &[]);
        }
        builder.build()
    }

    /// A partition of `batches` in `dir`, the path of its one segment file,
    /// and where each batch starts in it.
    pub(crate) fn partition_of(
        dir: &Path,
        topic_partition: TopicPartition,
        batches: &[Vec<u8>],
    ) -> (Partition, PathBuf, Vec<u64>) {
        let mut log = PartitionLog::open(dir, LogConfig::default(), true).unwrap();
        let mut positions = Vec::new();
        let mut position = 0;
        for batch in batches {
            positions.push(position);
            position += batch.len() as u64;
            log.append_as_leader(batch, LeaderEpoch(0), AppendOrigin::Coordinator)
                .unwrap();
        }
        let log_dir = std::sync::Arc::new(crate::log::log_dir::LogDir::new(
            dir.to_path_buf(),
            tokio::sync::watch::Sender::new(0),
        ));
        let partition = Partition::new(
            topic_partition,
            uuid::Uuid::nil(),
            log,
            log_dir,
            LeaderEpoch(0),
            None,
        );
        // Alone in its ISR, the leader's high watermark is its log end.
        partition.become_leader(1, LeaderEpoch(0), vec![1], vec![1], 0);
        (partition, dir.join("00000000000000000000.log"), positions)
    }

    /// Overwrites bytes of a segment file in place, under the log's feet.
    pub(crate) fn overwrite(path: &Path, position: u64, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(bytes, position).unwrap();
    }

    /// Runs `load` on another thread: a loader that spins fails the test
    /// instead of hanging it.
    pub(crate) fn terminates<T: Send + 'static>(load: impl FnOnce() -> T + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(load()));
        result
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the load never finished")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::testing::{batch, overwrite, partition_of, terminates};
    use super::*;
    use crate::types::TopicPartition;

    /// Where a batch's CRC-32C sits, and where what it covers starts.
    const CRC_AT: usize = 17;
    const CRC_COVERS_FROM: usize = 21;

    fn record(key: &str, value: &str) -> (Vec<u8>, Option<Vec<u8>>) {
        (key.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))
    }

    /// The (key, value) pairs a replay visits, and the batches it skipped.
    fn replayed(partition: Partition) -> (Vec<(String, String)>, usize) {
        let partition = Arc::new(partition);
        terminates(move || {
            let mut seen = Vec::new();
            let skipped = replay(&partition, |_, records| {
                for record in records {
                    let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                    seen.push((text(record.key), text(record.value)));
                }
            })
            .unwrap();
            (seen, skipped)
        })
    }

    /// Offsets 0, 1-2, 3 and 4.
    fn four_batches() -> Vec<Vec<u8>> {
        vec![
            batch(&[record("a", "1")]),
            batch(&[record("b", "2"), record("c", "3")]),
            batch(&[record("d", "4")]),
            batch(&[record("e", "5")]),
        ]
    }

    fn pairs(keys: &[(&str, &str)]) -> Vec<(String, String)> {
        keys.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_batch_with_a_corrupt_record_is_skipped_and_the_rest_loads() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("__consumer_offsets", 0);
        let (partition, segment, positions) = partition_of(dir.path(), tp, &four_batches());
        // A byte of the middle batch's first record: its CRC no longer matches.
        overwrite(&segment, positions[1] + HEADER_SIZE as u64 + 2, &[0xff]);
        let (seen, skipped) = replayed(partition);
        assert_eq!(seen, pairs(&[("a", "1"), ("d", "4"), ("e", "5")]));
        assert_eq!(skipped, 1);
    }

    #[test]
    fn a_batch_whose_offsets_go_backwards_is_skipped_without_spinning() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("__consumer_offsets", 0);
        let (partition, segment, positions) = partition_of(dir.path(), tp, &four_batches());
        // The base offset (outside the CRC) of the batch at offset 3 says 0:
        // before, the load went back to offset 1 after it, for ever.
        overwrite(&segment, positions[2], &0i64.to_be_bytes());
        let (seen, skipped) = replayed(partition);
        assert_eq!(
            seen,
            pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("e", "5")])
        );
        assert_eq!(skipped, 1);
    }

    #[test]
    fn a_batch_with_an_unreadable_header_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("__consumer_offsets", 0);
        let (partition, segment, positions) = partition_of(dir.path(), tp, &four_batches());
        // Magic 7: the batch does not even parse (before, the load stopped there).
        overwrite(&segment, positions[1] + 16, &[7]);
        let (seen, skipped) = replayed(partition);
        assert_eq!(seen, pairs(&[("a", "1"), ("d", "4"), ("e", "5")]));
        assert_eq!(skipped, 1);
    }

    #[test]
    fn records_after_a_malformed_one_are_skipped_when_the_crc_holds() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("__consumer_offsets", 0);
        let mut batches = four_batches();
        // The middle batch's second record claims a key longer than the batch,
        // and the CRC is made to match (a writer's bug, not the disk's).
        let middle = &mut batches[1];
        // length, attributes, timestamp delta, offset delta, key length, key
        let second = middle.len() - 9;
        assert_eq!(middle[second + 5], b'c');
        middle[second + 4] = 0x7e;
        let crc = crc32c::crc32c(&middle[CRC_COVERS_FROM..]);
        middle[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let (partition, _, _) = partition_of(dir.path(), tp, &batches);
        let (seen, skipped) = replayed(partition);
        assert_eq!(
            seen,
            pairs(&[("a", "1"), ("b", "2"), ("d", "4"), ("e", "5")])
        );
        assert_eq!(skipped, 1);
    }
}
