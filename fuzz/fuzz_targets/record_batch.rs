//! Record batches as produce requests and segments carry them: header,
//! CRC, records inside, decompression with its output cap, compaction's
//! rewrite and the broker's header patches.
//!
//! Input: flags (u8; bit 0: recompute every batch's CRC first, so that
//! mutations reach what the CRC guards) | batches.
#![no_main]

use gregor_fuzz::Input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let mut batches = input.rest().to_vec();
    if flags & 1 != 0 {
        gregor::fuzzing::fix_batch_crcs(&mut batches);
    }
    gregor::fuzzing::record_batches(&batches);
});
