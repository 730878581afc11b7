//! The fsync of a rolled segment, off the append path. Kafka's roll
//! schedules the flush of the segment it seals instead of making the
//! produce request that filled it wait until up to `segment.bytes` reach
//! the disk; gregor does the same on the runtime's blocking pool, then
//! writes the producer-state snapshot taken at the roll.
//!
//! At most one rolled segment awaits its sync: the next roll, a flush and
//! a truncation wait for it first. So after a crash only the last two
//! segments can hold data that never reached the disk, and recovery
//! validates both (`loader.rs`). A failed sync fails the next append or
//! flush of the log, which takes its log dir offline.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use super::producer_state::write_snapshot_bytes;
use super::segment::DataSync;
use crate::types::Offset;

/// A rolled segment's sync (and the snapshot written after it), running
/// or done.
pub struct RolledSync {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// `None` while running; then the outcome.
    outcome: Mutex<Option<Result<(), Failure>>>,
    finished: Condvar,
}

/// The producer state at the roll, for the snapshot named by its offset.
pub struct Snapshot {
    pub dir: PathBuf,
    pub offset: Offset,
    pub encoded: Vec<u8>,
}

impl RolledSync {
    /// Starts the sync on the runtime's blocking pool, or runs it at once
    /// when called outside a runtime.
    pub fn start(data: DataSync, snapshot: Snapshot) -> RolledSync {
        let shared = Arc::new(Shared::default());
        let job = {
            let shared = Arc::clone(&shared);
            move || {
                let outcome = data
                    .run()
                    .and_then(|()| {
                        write_snapshot_bytes(&snapshot.dir, snapshot.offset, &snapshot.encoded)
                    })
                    .map_err(|error| Failure::of(&error));
                *shared.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                shared.finished.notify_all();
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(job)),
            Err(_) => job(),
        }
        RolledSync { shared }
    }

    /// Waits until the sync is done; its error if it failed.
    pub fn wait(&self) -> io::Result<()> {
        let mut outcome = self
            .shared
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            match &*outcome {
                Some(done) => return into_io(done),
                None => {
                    outcome = self
                        .shared
                        .finished
                        .wait(outcome)
                        .unwrap_or_else(|p| p.into_inner())
                }
            }
        }
    }

    /// The outcome if the sync is done, without waiting.
    pub fn outcome(&self) -> Option<io::Result<()>> {
        let outcome = self
            .shared
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        outcome.as_ref().map(into_io)
    }
}

/// A failed sync, kept to answer every later caller (an `io::Error` is
/// not `Clone`): its OS error if it has one, else its kind and text.
enum Failure {
    Os(i32),
    Other(io::ErrorKind, String),
}

impl Failure {
    fn of(error: &io::Error) -> Failure {
        match error.raw_os_error() {
            Some(code) => Failure::Os(code),
            None => Failure::Other(error.kind(), error.to_string()),
        }
    }
}

fn into_io(outcome: &Result<(), Failure>) -> io::Result<()> {
    match outcome {
        Ok(()) => Ok(()),
        Err(Failure::Os(code)) => Err(io::Error::from_raw_os_error(*code)),
        Err(Failure::Other(kind, text)) => Err(io::Error::new(*kind, text.clone())),
    }
}
