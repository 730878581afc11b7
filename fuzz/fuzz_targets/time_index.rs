//! A segment's `.timeindex` file, opened sealed and active, looked up and cut.
//!
//! Input: base offset (u32) | next offset after the base (u32) | four
//! timestamps (i64 each) | the file.
#![no_main]

use gregor::types::Offset;
use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let base_offset = Offset(i64::from(input.u32()));
    let next_offset = base_offset.plus(i64::from(input.u32()));
    let timestamps: Vec<i64> = (0..4).map(|_| input.i64()).collect();
    gregor::fuzzing::time_index(
        scratch_dir(),
        base_offset,
        next_offset,
        input.rest(),
        &timestamps,
    );
});
