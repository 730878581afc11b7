//! Log compaction (`cleanup.policy=compact`): keeps the latest record of
//! every key in the sealed segments, drops tombstones older than
//! `delete.retention.ms`, and never touches the active segment.
//!
//! Offsets never move: a kept record stays in its batch, which keeps its base
//! offset, last offset delta, timestamps and producer fields, so gaps
//! appear where records went. Control batches (transaction markers) are kept.
//! Records of aborted transactions are dropped and never shadow an older
//! committed value; nothing at or past the first unstable offset (an open
//! transaction) is cleaned.
//! Each segment is rewritten to `<base>.log.cleaned` and swapped in with a
//! rename after its indexes are removed, so a crash leaves either the old or
//! the new file and indexes that recovery rebuilds.
//!
//! Which part is "dirty" is remembered in `cleaner-offset-checkpoint` in the
//! partition folder: everything before it was compacted already.
//!
//! The latest offset of each dirty key is kept in an [`OffsetMap`] of at
//! most `log.cleaner.dedupe.buffer.size` bytes. As in Kafka, a pass whose
//! dirty keys do not all fit cleans only up to the first record that did
//! not fit: records from there on stay as they are, and the next pass
//! starts there.

mod offset_map;

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use tracing::info;

use super::segment::{log_path, SegmentView};
use super::txn_index::AbortedTxn;
use super::LogError;
use crate::config::LogConfig;
use crate::records::batch::{with_records, Batch, Compression};
use crate::records::compression::records_payload;
use crate::records::record::Records;
use crate::types::Offset;
use offset_map::OffsetMap;

pub const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
const CLEANED_SUFFIX: &str = ".log.cleaned";

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CleanStats {
    pub segments: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
}

pub fn read_checkpoint(dir: &Path) -> Option<Offset> {
    let text = std::fs::read_to_string(dir.join(CHECKPOINT_FILE)).ok()?;
    text.trim().parse().ok().map(Offset)
}

pub fn write_checkpoint(dir: &Path, offset: Offset) -> std::io::Result<()> {
    crate::durable::write_atomically(&dir.join(CHECKPOINT_FILE), offset.0.to_string().as_bytes())
}

/// Removes half-written compaction output left by a crash.
pub fn remove_leftovers(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_str().is_some_and(|p| p.ends_with(CLEANED_SUFFIX)) {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// The records of a batch, decompressed if needed.
fn payload<'a>(batch: &Batch<'a>, limit: usize) -> Result<std::borrow::Cow<'a, [u8]>, LogError> {
    Ok(records_payload(batch, limit)?)
}

/// Calls `visit` with each batch of a segment, in order, until it breaks.
fn for_each_batch(
    segment: &SegmentView,
    mut visit: impl FnMut(&Batch<'_>) -> Result<ControlFlow<()>, LogError>,
) -> Result<(), LogError> {
    let mut position = 0;
    while let Some(header) = segment.read_header(position)? {
        let bytes = segment.read_at(header.position, header.size as usize)?;
        if visit(&Batch::parse(&bytes)?)?.is_break() {
            break;
        }
        position += header.size;
    }
    Ok(())
}

/// Decides whether a log should be compacted now: `Some(n)` cleans the
/// first `n` sealed segments (those past `min.compaction.lag.ms`).
fn plan(
    segments: &[SegmentView],
    first_dirty: Offset,
    config: &LogConfig,
    now_ms: i64,
) -> Option<usize> {
    // Segments whose newest record is older than min.compaction.lag.ms.
    let cleanable = segments
        .iter()
        .take_while(|s| {
            s.max_timestamp()
                .is_none_or(|max| now_ms - max.timestamp >= config.min_compaction_lag_ms)
        })
        .count();
    let dirty: Vec<&SegmentView> = segments[..cleanable]
        .iter()
        .filter(|s| s.next_offset() > first_dirty)
        .collect();
    if dirty.is_empty() {
        return None;
    }
    let total: u64 = segments[..cleanable].iter().map(|s| s.size()).sum();
    let dirty_bytes: u64 = dirty.iter().map(|s| s.size()).sum();
    let ratio = dirty_bytes as f64 / total.max(1) as f64;
    let overdue = dirty.iter().any(|s| {
        s.max_timestamp()
            .is_some_and(|max| now_ms.saturating_sub(max.timestamp) >= config.max_compaction_lag_ms)
    });
    (ratio >= config.min_cleanable_dirty_ratio || overdue).then_some(cleanable)
}

/// The output of a compaction pass, for the caller to [`install`].
#[derive(Debug)]
pub struct Compacted {
    /// The folder of the log cleaned.
    pub dir: PathBuf,
    /// Everything before this offset is now compacted.
    pub checkpoint: Offset,
    /// The rewritten segments.
    pub outputs: Vec<CleanedSegment>,
    pub stats: CleanStats,
}

/// A rewritten segment waiting to replace the one it was cleaned from.
#[derive(Debug)]
pub struct CleanedSegment {
    pub base_offset: Offset,
    /// Its `.cleaned` file.
    pub path: PathBuf,
    /// Size of the segment it was made from: if the segment changed
    /// meanwhile (deleted by retention), the cleaned file is dropped.
    pub source_size: u64,
}

/// Compacts the sealed segments of a log; `segments` are in offset order
/// and exclude the active one. `None` if nothing was worth cleaning. The
/// key map takes at most `dedupe_buffer_size` bytes.
pub fn compact(
    dir: &Path,
    segments: &[SegmentView],
    first_dirty: Offset,
    config: &LogConfig,
    now_ms: i64,
    aborted: &[AbortedTxn],
    dedupe_buffer_size: usize,
) -> Result<Option<Compacted>, LogError> {
    let Some(cleanable) = plan(segments, first_dirty, config, now_ms) else {
        return Ok(None);
    };
    let limit = (config.max_message_bytes * 64).max(64 * 1024 * 1024);
    let segments = &segments[..cleanable];
    let (latest, end) =
        build_offset_map(segments, first_dirty, aborted, limit, dedupe_buffer_size)?;
    // Only records before `end` were weighed against the map.
    let segments: Vec<&SegmentView> = segments
        .iter()
        .take_while(|s| s.base_offset() < end)
        .collect();

    let mut stats = CleanStats::default();
    let mut outputs = Vec::with_capacity(segments.len());
    for segment in segments {
        let output = dir.join(format!("{:020}{CLEANED_SUFFIX}", segment.base_offset().0));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&output)?);
        for_each_batch(segment, |batch| {
            if batch.is_control() {
                file.write_all(batch.bytes())?;
                return Ok(ControlFlow::Continue(()));
            }
            if is_aborted(batch, aborted) {
                // Aborted data is never read by read_committed consumers;
                // it must not outlive the value it would shadow either.
                stats.records_removed += batch.records_count().max(0) as u64;
                return Ok(ControlFlow::Continue(()));
            }
            // Tombstones go once delete.retention.ms has passed since their batch.
            let tombstones_expire =
                now_ms.saturating_sub(batch.max_timestamp()) >= config.delete_retention_ms;
            let records = payload(batch, limit)?;
            let mut kept: Vec<&[u8]> = Vec::new();
            let mut total = 0;
            for record in Records::new(&records, batch.records_count()) {
                total += 1;
                let offset = batch.base_offset().plus(record.offset_delta);
                let superseded = record
                    .key
                    .and_then(|key| latest.get(key))
                    .is_some_and(|newest| newest > offset);
                let expired_tombstone = record.value.is_none() && tombstones_expire;
                if offset >= end || (!superseded && !expired_tombstone) {
                    kept.push(record.raw);
                }
            }
            stats.records_removed += (total - kept.len()) as u64;
            if kept.len() == total && batch.compression() == Compression::None {
                file.write_all(batch.bytes())?;
            } else if !kept.is_empty() {
                file.write_all(&with_records(batch, &kept))?;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        let file = file
            .into_inner()
            .map_err(|error| LogError::Io(error.into_error()))?;
        file.sync_all()?;
        stats.segments += 1;
        stats.bytes_before += segment.size();
        stats.bytes_after += file.metadata()?.len();
        outputs.push(CleanedSegment {
            base_offset: segment.base_offset(),
            path: output,
            source_size: segment.size(),
        });
    }
    Ok(Some(Compacted {
        dir: dir.to_path_buf(),
        checkpoint: end,
        outputs,
        stats,
    }))
}

/// Maps every key of the dirty records (from `first_dirty` on) to its
/// latest offset, as far as a map of `memory` bytes holds them. Returns
/// the map and where it stops: the first record whose key did not fit, or
/// the end of `segments`.
fn build_offset_map(
    segments: &[SegmentView],
    first_dirty: Offset,
    aborted: &[AbortedTxn],
    limit: usize,
    memory: usize,
) -> Result<(OffsetMap, Offset), LogError> {
    let dirty: Vec<&SegmentView> = segments
        .iter()
        .filter(|s| s.next_offset() > first_dirty)
        .collect();
    let dirty_records: i64 = dirty
        .iter()
        .map(|s| s.next_offset().0 - s.base_offset().0.max(first_dirty.0))
        .sum();
    let mut map = OffsetMap::new(memory, usize::try_from(dirty_records).unwrap_or(0));
    let mut full_at = None;
    for segment in dirty {
        for_each_batch(segment, |batch| {
            if batch.is_control() || is_aborted(batch, aborted) {
                return Ok(ControlFlow::Continue(()));
            }
            let records = payload(batch, limit)?;
            for record in Records::new(&records, batch.records_count()) {
                let offset = batch.base_offset().plus(record.offset_delta);
                if let (Some(key), true) = (record.key, offset >= first_dirty) {
                    if !map.put(key, offset) {
                        full_at = Some(offset);
                        return Ok(ControlFlow::Break(()));
                    }
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        if let Some(end) = full_at {
            info!(
                %end,
                map_bytes = map.memory(),
                "compaction key map full (log.cleaner.dedupe.buffer.size): cleaning up to there this pass"
            );
            return Ok((map, end));
        }
    }
    let end = segments.last().map_or(first_dirty, |s| s.next_offset());
    Ok((map, end))
}

/// Whether a batch belongs to a transaction its producer aborted.
fn is_aborted(batch: &Batch<'_>, aborted: &[AbortedTxn]) -> bool {
    batch.is_transactional()
        && aborted.iter().any(|txn| {
            txn.producer_id == batch.producer_id()
                && txn.first_offset <= batch.base_offset()
                && batch.base_offset() <= txn.last_offset
        })
}

/// Swaps a compacted segment file in: indexes first (so a crash leaves
/// none, and recovery rebuilds them), then an atomic rename over the log.
pub fn install(dir: &Path, base_offset: Offset, cleaned: &Path) -> std::io::Result<()> {
    for path in [
        super::segment::index_path(dir, base_offset),
        super::segment::time_index_path(dir, base_offset),
    ] {
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    std::fs::rename(cleaned, log_path(dir, base_offset))?;
    std::fs::File::open(dir)?.sync_all()?;
    info!(dir = %dir.display(), base_offset = %base_offset, "compacted segment installed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::topic::CleanupPolicy;
    use crate::log::partition_log::{AppendOrigin, PartitionLog};
    use crate::records::batch::Batches;
    use crate::records::builder::BatchBuilder;
    use crate::types::{now_ms, LeaderEpoch};

    const KEYS: usize = 40;
    const ROUNDS: usize = 3;

    /// Every (offset, key, value) a full read returns.
    fn read_all(log: &PartitionLog) -> Vec<(i64, String, String)> {
        let mut out = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let bytes = log.read(offset, 1 << 20, log.log_end_offset()).unwrap();
            for (_, batch) in Batches::new(&bytes).map(Result::unwrap) {
                batch.validate().unwrap();
                for record in Records::new(batch.records_payload(), batch.records_count()) {
                    let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                    out.push((
                        batch.base_offset().plus(record.offset_delta).value(),
                        text(record.key),
                        text(record.value),
                    ));
                }
                offset = batch.next_offset();
            }
        }
        out
    }

    #[test]
    fn a_map_smaller_than_the_keys_compacts_over_several_passes() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            segment_bytes: 1024,
            min_cleanable_dirty_ratio: 0.0,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        let now = now_ms();
        // Three versions of 40 keys, four records a batch.
        for round in 0..ROUNDS {
            for first in (0..KEYS).step_by(4) {
                let mut builder = BatchBuilder::new(now);
                for key in first..first + 4 {
                    let value = format!("v{round}");
                    builder.push(
                        now,
                        Some(format!("k{key:02}").as_bytes()),
                        Some(value.as_bytes()),
                        &[],
                    );
                }
                log.append_as_leader(&builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                    .unwrap();
            }
        }
        log.roll().unwrap();
        let sealed_end = log.log_end_offset();
        let before = read_all(&log);
        assert_eq!(before.len(), KEYS * ROUNDS);

        // 288 bytes: 12 slots, room for 10 keys of the 40.
        let memory = 12 * 24;
        let mut checkpoints = Vec::new();
        let end = log.log_end_offset();
        while let Some(compacted) = log
            .compaction_job(end)
            .unwrap()
            .unwrap()
            .run(now, memory)
            .unwrap()
        {
            let checkpoint = compacted.checkpoint;
            assert!(
                checkpoints.last().is_none_or(|last| checkpoint > *last),
                "every pass moves on: {checkpoints:?} then {checkpoint}"
            );
            log.install_compaction(compacted).unwrap();
            checkpoints.push(checkpoint);
            assert!(checkpoints.len() < 100, "passes never end: {checkpoints:?}");
        }
        assert!(
            checkpoints.len() > 3,
            "the map was too small for one pass: {checkpoints:?}"
        );
        assert_eq!(checkpoints.last(), Some(&sealed_end));

        // Exactly the last version of every key, at the offset it was written.
        let after = read_all(&log);
        let last_writes: Vec<_> = before
            .iter()
            .filter(|(offset, key, _)| {
                !before
                    .iter()
                    .any(|(later, other, _)| later > offset && other == key)
            })
            .cloned()
            .collect();
        assert_eq!(after, last_writes);
        assert_eq!(after.len(), KEYS);
        assert!(after.iter().all(|(_, _, value)| value == "v2"));
    }
}
