//! Files replaced whole, below every subsystem that keeps small state on
//! disk (checkpoints, snapshots, indexes rewritten at once, the metadata),
//! and whether writes are forced to disk at all.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static FORCED: AtomicBool = AtomicBool::new(true);

/// A `--dev` broker's data dir is thrown away when it stops: its writes
/// need not reach the disk (a killed process loses nothing the page cache
/// holds; only a machine crash would), and forcing them was most of a dev
/// broker's start-up (18 `fsync`s before its first request).
pub fn stop_forcing_writes() {
    FORCED.store(false, Ordering::Relaxed);
}

/// `fsync`, unless writes are not forced.
pub fn sync_all(file: &File) -> std::io::Result<()> {
    match FORCED.load(Ordering::Relaxed) {
        true => file.sync_all(),
        false => Ok(()),
    }
}

/// `fdatasync`, unless writes are not forced.
pub fn sync_data(file: &File) -> std::io::Result<()> {
    match FORCED.load(Ordering::Relaxed) {
        true => file.sync_data(),
        false => Ok(()),
    }
}

/// Replaces `path` so that a crash leaves either the old or the new content:
/// a synced temporary file renamed over it, then the folder synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, true)
}

/// Replaces `path` with a temporary file renamed over it, forcing neither to
/// disk: for state that can be rebuilt. A killed process loses nothing (the
/// page cache holds the file); a machine crash may leave the old content,
/// or an empty or torn file, which its reader must take for none.
pub fn replace_unforced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], forced: bool) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    if forced {
        sync_all(&file)?;
    }
    std::fs::rename(&temporary, path)?;
    if forced {
        if let Some(dir) = path.parent() {
            sync_all(&File::open(dir)?)?;
        }
    }
    Ok(())
}
