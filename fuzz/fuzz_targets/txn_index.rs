//! A segment's `.txnindex` file, opened and cut.
//!
//! Input: offset to cut from (i64) | the file.
#![no_main]

use gregor::types::Offset;
use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let truncate_from = Offset(input.i64());
    gregor::fuzzing::txn_index(scratch_dir(), input.rest(), truncate_from);
});
