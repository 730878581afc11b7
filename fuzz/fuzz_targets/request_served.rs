//! The body of every api key and version gregor serves: the input names
//! the api key and version (mapped onto the served table when they are not
//! served), the target writes the header, the rest is the body.
//!
//! Input: api key (i16) | version (i16) | everything after the client id.
#![no_main]

use gregor_fuzz::Input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (api_key, version) = (input.i16(), input.i16());
    gregor::fuzzing::served_request(api_key, version, input.rest());
});
