//! A producer-state `.snapshot` file, loaded as a partition opening its log
//! loads it.
//!
//! Input: flags (u8; bit 0: write the body's correct CRC-32C into bytes
//! 2..6 first, so that mutations reach the body) | the file.
#![no_main]

use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let mut file = input.rest().to_vec();
    if flags & 1 != 0 && file.len() >= 6 {
        let crc = crc32c::crc32c(&file[6..]);
        file[2..6].copy_from_slice(&crc.to_be_bytes());
    }
    gregor::fuzzing::producer_snapshot(scratch_dir(), &file);
});
