//! The metadata log (`raft.log`) as a controller opens it, its records
//! applied to the metadata state.
//!
//! Input: mode (u8) | bytes. Bit 0 clear: the bytes are the file. Set:
//! the bytes are entries' JSON, one per line, framed by the target with a
//! correct length and CRC, so that mutations reach the JSON and the records.
#![no_main]

use gregor_fuzz::Input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    let bytes = input.rest();
    if mode & 1 == 0 {
        gregor::fuzzing::metadata_log(bytes);
        return;
    }
    let mut file = Vec::with_capacity(bytes.len() + 64);
    for body in bytes.split(|&byte| byte == b'\n') {
        file.extend_from_slice(&(body.len() as u32).to_be_bytes());
        file.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
        file.extend_from_slice(body);
    }
    gregor::fuzzing::metadata_log(&file);
});
