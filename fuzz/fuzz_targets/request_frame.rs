//! Any bytes as one request frame (after the size prefix), decoded as a
//! connection decodes it: header, api key and version checks, body.
#![no_main]

libfuzzer_sys::fuzz_target!(|frame: &[u8]| gregor::fuzzing::request_frame(frame));
