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
