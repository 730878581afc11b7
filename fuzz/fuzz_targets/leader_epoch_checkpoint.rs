//! The `leader-epoch-checkpoint` file, loaded, then changed as the log
//! changes it (new epochs, truncations, OffsetsForLeaderEpoch lookups).
//!
//! Input: text length (u16) | text | changes, 13 bytes each: kind (u8) |
//! epoch (i32) | offset (i64).
#![no_main]

use gregor::fuzzing::EpochChange;
use gregor::types::{LeaderEpoch, Offset};
use gregor_fuzz::{scratch_dir, Input};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.sized();
    let mut changes = Vec::new();
    while !input.is_empty() {
        let (kind, epoch, offset) = (input.u8(), input.i32(), Offset(input.i64()));
        changes.push(match kind % 4 {
            0 => EpochChange::Assign(LeaderEpoch(epoch), offset),
            1 => EpochChange::TruncateFromEnd(offset),
            2 => EpochChange::TruncateFromStart(offset),
            _ => EpochChange::EndOffsetFor(epoch, offset),
        });
    }
    gregor::fuzzing::leader_epoch_checkpoint(scratch_dir(), text, &changes);
});
