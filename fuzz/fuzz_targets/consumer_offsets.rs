//! `__consumer_offsets` records (offset commits and group metadata), as the
//! group coordinator loads them.
//!
//! Input: key length (u16) | key | value (empty: a tombstone).
#![no_main]

use gregor_fuzz::Input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let key = input.sized();
    gregor::fuzzing::consumer_offsets_record(key, input.rest());
});
