//! Metadata snapshots: the state JSON a snapshot carries, and the
//! `raft-snapshot.json` file a controller opens.
//!
//! Input: mode (u8) | bytes. Bit 0 clear: the state; set: the file.
#![no_main]

use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.u8();
    if mode & 1 == 0 {
        gregor::fuzzing::metadata_state(input.rest());
    } else {
        gregor::fuzzing::metadata_snapshot_file(scratch_dir(), input.rest());
    }
});
