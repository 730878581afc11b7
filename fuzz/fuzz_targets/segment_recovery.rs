//! A segment after a crash: its `.log`, `.index` and `.timeindex` from the
//! input, recovered as the active or a sealed segment, then read.
//!
//! Input: flags (u8; bit 0: sealed; bit 1: recompute every batch's CRC
//! first; bit 2: after a clean shutdown) | base offset (u32) | index length (u16) | index | time index
//! length (u16) | time index | the log.
#![no_main]

use gregor::fuzzing::{fix_batch_crcs, segment_recovery, SegmentFiles};
use gregor::types::Offset;
use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let base_offset = Offset(i64::from(input.u32()));
    let offset_index = input.sized();
    let time_index = input.sized();
    let mut log = input.rest().to_vec();
    if flags & 2 != 0 {
        fix_batch_crcs(&mut log);
    }
    if flags & 1 != 0 && reaches_i64_max(&log, offset_index) {
        return;
    }
    let files = SegmentFiles {
        base_offset,
        log: &log,
        offset_index,
        time_index,
        sealed: flags & 1 != 0,
        clean_shutdown: flags & 4 != 0,
    };
    segment_recovery(scratch_dir(), &files);
});

/// Known bug, reported and left to the owner of src/log/segment.rs: reading
/// a sealed segment's headers, `Segment::after_append` computes
/// `header.last_offset.plus(1)`, which overflows when a (corrupt) header's
/// last offset is i64::MAX (reproducer in docs/reliability.md). Until it
/// saturates, inputs that reach it are skipped: a header read from the start
/// of the log or from a position the offset index names, whose offsets end
/// at i64::MAX.
fn reaches_i64_max(log: &[u8], offset_index: &[u8]) -> bool {
    let starts = offset_index
        .chunks_exact(8)
        .map(|entry| u32::from_be_bytes([entry[4], entry[5], entry[6], entry[7]]) as usize);
    std::iter::once(0).chain(starts).any(|start| {
        let mut position = start;
        while let Some(Ok(size)) = log
            .get(position..)
            .and_then(gregor::records::batch::frame_size)
        {
            let Some(header) = log.get(position..position + gregor::records::batch::HEADER_SIZE)
            else {
                return false;
            };
            let header: &[u8; gregor::records::batch::HEADER_SIZE] =
                header.try_into().expect("a header-sized slice");
            let batch = gregor::records::batch::Batch::parse_header_only(header);
            if batch.last_offset() == Offset(i64::MAX) {
                return true;
            }
            position += size;
        }
        false
    })
}
