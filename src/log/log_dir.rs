//! One of the broker's `log.dirs` and whether it is still usable (Kafka's
//! `LogDirFailureChannel`). The first I/O error on any log in a dir takes
//! the whole dir offline: after a failed write or fsync the page cache may
//! have dropped what it held, so nothing in the dir can be trusted to match
//! what was acknowledged. A dir comes back only with a restart, which
//! recovers its logs from what is really on disk.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokio::sync::watch;
use tracing::error;

pub struct LogDir {
    path: PathBuf,
    /// Why the dir went offline; unset while it serves.
    failure: OnceLock<String>,
    /// Counts dirs gone offline, for the broker to act on.
    failures: watch::Sender<usize>,
}

impl LogDir {
    pub fn new(path: PathBuf, failures: watch::Sender<usize>) -> LogDir {
        LogDir {
            path,
            failure: OnceLock::new(),
            failures,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the dir is offline, if it is.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    pub fn is_offline(&self) -> bool {
        self.failure.get().is_some()
    }

    /// Takes the dir offline for `cause` (once; later failures are only
    /// consequences of the first).
    pub fn fail(&self, cause: &str) {
        if self.failure.set(cause.to_string()).is_ok() {
            error!(dir = %self.path.display(), %cause,
                   "log dir failed: taking it offline; its partitions answer KAFKA_STORAGE_ERROR until a restart");
            self.failures.send_modify(|count| *count += 1);
        }
    }
}
