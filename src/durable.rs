//! Files replaced whole, below every subsystem that keeps small state on
//! disk (checkpoints, snapshots, indexes rewritten at once, the metadata).

use std::io::Write;
use std::path::Path;

/// Replaces `path` so that a crash leaves either the old or the new content:
/// a synced temporary file renamed over it, then the folder synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
