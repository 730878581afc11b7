//! `__transaction_state` records, as the transaction coordinator loads them.
//!
//! Input: key length (u16) | key | value.
#![no_main]

use gregor_fuzz::Input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let key = input.sized();
    gregor::fuzzing::transaction_state_record(key, input.rest());
});
