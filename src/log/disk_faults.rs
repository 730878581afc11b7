//! Disk faults on demand, for tests: the next N writes or fsyncs under a
//! path (a log dir or one partition's folder) fail with EIO or ENOSPC, as a
//! failing or full disk makes them fail, or take longer, as a slow disk
//! makes them (the calling thread waits, holding what it holds, as a
//! thread blocked in the kernel would). A failing write first writes half
//! of its bytes, so the torn write a real disk leaves is there too.
//!
//! Segment writes and flushes ask [`check`] first; with nothing armed that
//! costs one relaxed atomic load. The registry is per process and keyed by
//! path, so brokers sharing a process (the testkit) never see each other's
//! faults.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Which operation a fault fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskOp {
    Write,
    Fsync,
}

/// The error a fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DiskErrno {
    Eio,
    Enospc,
}

impl DiskErrno {
    fn error(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            DiskErrno::Eio => libc::EIO,
            DiskErrno::Enospc => libc::ENOSPC,
        })
    }
}

/// One armed fault: the next `count` operations of kind `op` on files
/// under `path` take `latency_ms` longer, then fail with `errno` if it is
/// given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskFault {
    pub path: PathBuf,
    pub op: DiskOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<DiskErrno>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    pub count: u32,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The longest a slow operation is held: a test's typo must not hang a
/// broker for hours.
const MAX_LATENCY_MS: u64 = 60_000;

static ARMED: AtomicBool = AtomicBool::new(false);
static FAULTS: Mutex<Vec<DiskFault>> = Mutex::new(Vec::new());

fn faults() -> std::sync::MutexGuard<'static, Vec<DiskFault>> {
    FAULTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Arms a fault (the admin plane's `POST /faults/disk`).
pub fn arm(fault: DiskFault) {
    let mut faults = faults();
    faults.push(fault);
    ARMED.store(true, Ordering::Release);
}

/// The faults still armed under `root` (one broker's log dirs).
pub fn armed_under(root: &Path) -> Vec<DiskFault> {
    faults()
        .iter()
        .filter(|fault| fault.path.starts_with(root))
        .cloned()
        .collect()
}

/// Disarms every fault under `root`.
pub fn clear_under(root: &Path) {
    let mut faults = faults();
    faults.retain(|fault| !fault.path.starts_with(root));
    ARMED.store(!faults.is_empty(), Ordering::Release);
}

/// Whether any fault is armed: work that may meet one (a slow disk sleeps
/// in the calling thread) is kept off the async runtime.
pub fn any_armed() -> bool {
    ARMED.load(Ordering::Relaxed)
}

/// The error the next `op` on `file` must fail with, if a fault is armed
/// for it (and counts it).
pub fn check(file: &Path, op: DiskOp) -> Option<io::Error> {
    if !ARMED.load(Ordering::Relaxed) {
        return None;
    }
    let mut faults = faults();
    let index = faults
        .iter()
        .position(|fault| fault.op == op && file.starts_with(&fault.path))?;
    let (errno, latency_ms) = (faults[index].errno, faults[index].latency_ms);
    faults[index].count = faults[index].count.saturating_sub(1);
    if faults[index].count == 0 {
        faults.remove(index);
        ARMED.store(!faults.is_empty(), Ordering::Release);
    }
    drop(faults);
    if latency_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(
            latency_ms.min(MAX_LATENCY_MS),
        ));
    }
    errno.map(DiskErrno::error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fails_its_count_of_operations_under_its_path_then_disarms() {
        let root = PathBuf::from("/nonexistent/disk-faults-test");
        arm(DiskFault {
            path: root.join("t-0"),
            op: DiskOp::Fsync,
            errno: Some(DiskErrno::Enospc),
            latency_ms: 0,
            count: 2,
        });
        let file = root.join("t-0").join("00000000000000000000.log");
        assert!(check(&file, DiskOp::Write).is_none(), "other operation");
        assert!(
            check(&root.join("t-1/x.log"), DiskOp::Fsync).is_none(),
            "other path"
        );
        for _ in 0..2 {
            let error = check(&file, DiskOp::Fsync).expect("armed");
            assert_eq!(error.raw_os_error(), Some(libc::ENOSPC));
        }
        assert!(check(&file, DiskOp::Fsync).is_none(), "count used up");
        assert!(armed_under(&root).is_empty());
    }

    #[test]
    fn a_slow_disk_delays_its_operations_without_failing_them() {
        let root = PathBuf::from("/nonexistent/slow-disk-test");
        arm(DiskFault {
            path: root.clone(),
            op: DiskOp::Write,
            errno: None,
            latency_ms: 30,
            count: 1,
        });
        let started = std::time::Instant::now();
        assert!(check(&root.join("t-0/x.log"), DiskOp::Write).is_none());
        assert!(started.elapsed() >= std::time::Duration::from_millis(30));
        assert!(armed_under(&root).is_empty(), "count used up");
    }
}
