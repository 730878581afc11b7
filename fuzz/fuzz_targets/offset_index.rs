//! A segment's `.index` file, opened sealed and active, looked up and cut.
//!
//! Input: base offset (u32) | log size (u32) | four lookups (u32 each,
//! relative to the base offset, from 1,000 below it) | the file.
#![no_main]

use gregor::types::Offset;
use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let base_offset = Offset(i64::from(input.u32()));
    let log_size = u64::from(input.u32());
    let probes: Vec<Offset> = (0..4)
        .map(|_| base_offset.plus(i64::from(input.u32()) - 1_000))
        .collect();
    gregor::fuzzing::offset_index(scratch_dir(), base_offset, log_size, input.rest(), &probes);
});
