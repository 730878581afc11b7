//! Bringing a partition's segments back after a restart.
//!
//! Sealed segments were fsynced after their roll, so their data is
//! trusted; only their indexes are checked and rebuilt if missing or
//! inconsistent — except the segment rolled last, whose sync may not have
//! finished before a crash (`rolled_sync.rs`): the loader validates it as
//! it does the active one. The active (last) segment may end in a torn write, after a
//! crash or after a failed write whose cut-back failed too: every open
//! validates its tail batch by batch (length, magic, CRC-32C, increasing
//! offsets) and cuts it at the first bad byte — all of it after an unclean
//! shutdown, with its indexes rebuilt from what remains.

use std::io;
use std::path::Path;

use tracing::warn;

use super::segment::Segment;
use crate::records::batch::{frame_size, Batch, HEADER_SIZE};
use crate::types::Offset;

/// Validates the active segment's batches and cuts it at the first one
/// that is not whole and valid. After an unclean shutdown every batch is
/// checked and the indexes are rebuilt; after a clean one the indexes are
/// trusted if consistent and only the batches after the last index entry
/// are checked. Returns the number of bytes cut off.
pub fn recover_active_segment(
    segment: &mut Segment,
    dir: &Path,
    clean_shutdown: bool,
) -> io::Result<u64> {
    let trusted_from = match clean_shutdown && offset_index_is_trusted(segment)? {
        true => segment
            .offset_index()
            .last()
            .map_or(0, |entry| u64::from(entry.position)),
        false => 0,
    };
    let original_size = segment.size();
    let (valid_end, next_offset) = valid_prefix(segment, trusted_from)?;
    let cut = original_size - valid_end;
    if cut > 0 {
        warn!(
            segment = %segment.path().display(),
            valid_bytes = valid_end,
            truncated_bytes = cut,
            "truncating torn or corrupt tail of the active segment"
        );
        segment.truncate_to_position(valid_end, next_offset)?;
    }
    if trusted_from == 0 {
        segment.rebuild_indexes(dir)?;
    } else {
        recover_sealed_segment(segment, dir)?;
    }
    Ok(cut)
}

/// Where the whole, valid batches from `position` end (length, magic,
/// CRC-32C, increasing offsets), and the offset after the last of them.
fn valid_prefix(segment: &Segment, mut position: u64) -> io::Result<(u64, Offset)> {
    let size = segment.size();
    let mut next_offset = segment.base_offset();
    loop {
        if position + HEADER_SIZE as u64 > size {
            break;
        }
        let header = segment.read_at(position, HEADER_SIZE)?;
        let batch_size = match frame_size(&header) {
            Some(Ok(batch_size)) => batch_size as u64,
            _ => break,
        };
        if position + batch_size > size {
            break;
        }
        let bytes = segment.read_at(position, batch_size as usize)?;
        let valid = Batch::parse(&bytes)
            .and_then(|batch| batch.validate().map(|()| batch))
            .ok()
            .filter(|batch| batch.base_offset() >= next_offset);
        match valid {
            Some(batch) => {
                next_offset = batch.next_offset();
                position += batch_size;
            }
            None => break,
        }
    }
    Ok((position, next_offset))
}

/// Checks a sealed segment's indexes against its log and rebuilds them if
/// they cannot be trusted, then restores its end offset and max timestamp.
pub fn recover_sealed_segment(segment: &mut Segment, dir: &Path) -> io::Result<()> {
    if offset_index_is_trusted(segment)? {
        segment.restore_from_indexes()?;
        if segment.time_index().is_consistent(segment.next_offset()) {
            return Ok(());
        }
    }
    warn!(segment = %segment.path().display(), "rebuilding missing or inconsistent indexes");
    segment.rebuild_indexes(dir)
}

/// An offset index is trusted if its entries are ordered and inside the log,
/// its last entry points at a batch ending at that entry's offset, and it is
/// not empty when the log is large enough to have needed entries.
fn offset_index_is_trusted(segment: &Segment) -> io::Result<bool> {
    let index = segment.offset_index();
    if !index.is_consistent(segment.size()) {
        return Ok(false);
    }
    match index.last() {
        None => Ok(segment.size() < 2 * 4096),
        Some(last) => Ok(segment
            .read_header(u64::from(last.position))?
            .is_some_and(|header| header.last_offset == last.offset)),
    }
}

/// The base offsets of the segments found in a partition folder, sorted.
/// Files that are not `<20 digits>.log` are ignored.
pub fn list_segment_base_offsets(dir: &Path) -> io::Result<Vec<Offset>> {
    let mut offsets = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".log") else {
            continue;
        };
        if stem.len() == 20 {
            if let Ok(offset) = stem.parse::<i64>() {
                offsets.push(Offset(offset));
            }
        }
    }
    offsets.sort();
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::{set_base_offset, tests::sample_batch};
    use proptest::prelude::*;

    fn write_batches(segment: &mut Segment, count: usize) -> Vec<u64> {
        let mut ends = Vec::new();
        for i in 0..count {
            let mut bytes = sample_batch(3);
            set_base_offset(&mut bytes, segment.next_offset());
            let batch = Batch::parse(&bytes).unwrap();
            segment.append(&batch).unwrap();
            ends.push(segment.size());
            let _ = i;
        }
        ends
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Whatever byte a crash cuts the active segment at, recovery keeps
        /// exactly the whole batches before the cut and the offsets they held.
        #[test]
        fn recovery_keeps_exactly_the_whole_batches_before_a_torn_tail(
            batches in 1usize..12, cut_fraction in 0.0f64..1.0, garbage in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut segment = Segment::create(dir.path(), Offset(0), 64).unwrap();
            let ends = write_batches(&mut segment, batches);
            let total = segment.size();
            drop(segment);

            let cut = (total as f64 * cut_fraction) as u64;
            let path = dir.path().join("00000000000000000000.log");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(cut as usize);
            bytes.extend_from_slice(&garbage);
            std::fs::write(&path, &bytes).unwrap();

            let mut segment = Segment::open(dir.path(), Offset(0), 64).unwrap();
            recover_active_segment(&mut segment, dir.path(), false).unwrap();
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            let expected_size = if whole == 0 { 0 } else { ends[whole - 1] };
            prop_assert_eq!(segment.size(), expected_size);
            prop_assert_eq!(segment.next_offset(), Offset(3 * whole as i64));
            prop_assert!(segment.offset_index().is_consistent(segment.size().max(1)));
            if whole > 0 {
                let found = segment.find_batch(Offset(3 * whole as i64 - 1)).unwrap().unwrap();
                prop_assert_eq!(found.last_offset, Offset(3 * whole as i64 - 1));
            }
        }
    }

    #[test]
    fn missing_indexes_of_a_sealed_segment_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = Segment::create(dir.path(), Offset(0), 64).unwrap();
        write_batches(&mut segment, 20);
        segment.seal().unwrap();
        drop(segment);
        std::fs::write(
            dir.path().join("00000000000000000000.index"),
            [1, 2, 3, 4, 0, 0, 0, 0],
        )
        .unwrap();
        std::fs::remove_file(dir.path().join("00000000000000000000.timeindex")).unwrap();

        let mut segment = Segment::open(dir.path(), Offset(0), 64).unwrap();
        recover_sealed_segment(&mut segment, dir.path()).unwrap();
        assert_eq!(segment.next_offset(), Offset(60));
        assert!(segment.offset_index().len() > 1);
        assert_eq!(
            segment.find_batch(Offset(31)).unwrap().unwrap().base_offset,
            Offset(30)
        );
    }
}
