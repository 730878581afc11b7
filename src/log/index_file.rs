//! The storage shared by the offset and time indexes: a file of fixed-size,
//! big-endian entries, sorted by key.
//!
//! The active segment's index lives in memory and reaches its file only
//! when the segment is flushed or sealed: its file is not held open (one
//! descriptor per segment, the log's, as Kafka keeps), and appends cost no
//! system call. A crash loses the entries not yet written, which recovery
//! rebuilds from the log, as it does for every unflushed segment. Once a
//! segment is sealed its index is memory-mapped read-only, so thousands of
//! idle segments cost page cache, not heap.
//!
//! The entries are shared ([`IndexEntries`]) with the readers of the log,
//! which look them up without the log's lock: the lock of an active index's
//! entries is only held for in-memory work, never across I/O.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use memmap2::Mmap;

/// An index's entries, as its writer and its readers share them.
#[derive(Clone)]
pub enum IndexEntries {
    /// Appendable, in memory.
    Active(Arc<Mutex<Vec<u8>>>),
    /// Read-only: the file mapped into memory (`None`: an empty file).
    Sealed(Option<Arc<Mmap>>),
}

impl IndexEntries {
    fn active(bytes: Vec<u8>) -> IndexEntries {
        IndexEntries::Active(Arc::new(Mutex::new(bytes)))
    }

    /// Runs `read` over the entries' bytes (a whole number of entries).
    pub fn with_bytes<T>(&self, entry_size: usize, read: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            IndexEntries::Active(bytes) => read(&lock(bytes)),
            IndexEntries::Sealed(Some(map)) => read(&map[..map.len() - map.len() % entry_size]),
            IndexEntries::Sealed(None) => read(&[]),
        }
    }
}

/// The entries of an active index. Poisoning cannot leave them torn: a
/// writer only extends or truncates the vector.
fn lock(bytes: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    bytes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Index of the last entry whose key is `<= target` among `bytes`' entries
/// of `entry_size` bytes, given a key reader; `None` if every entry is
/// greater (or there are none).
pub fn floor<K: Ord>(
    bytes: &[u8],
    entry_size: usize,
    target: &K,
    key: impl Fn(&[u8]) -> K,
) -> Option<usize> {
    let entry = |index: usize| &bytes[index * entry_size..(index + 1) * entry_size];
    let (mut low, mut high) = (0usize, bytes.len() / entry_size);
    // Invariant: entries before `low` are <= target, entries from `high` on are > target.
    while low < high {
        let middle = low + (high - low) / 2;
        if key(entry(middle)) <= *target {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low.checked_sub(1)
}

/// Makes `path` an empty index file: a new file, not the old one cut in
/// place, since readers may still map the old one.
pub fn create_empty(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    File::create(path).map(drop)
}

pub struct IndexFile {
    path: PathBuf,
    entry_size: usize,
    entries: IndexEntries,
    /// Of an active index: how many of its bytes are in the file, which
    /// holds nothing else.
    written: usize,
}

impl IndexFile {
    /// Opens (creating if needed) an appendable index. A trailing partial
    /// entry, left by a crash mid-write, is cut off.
    pub fn open_active(path: &Path, entry_size: usize) -> io::Result<IndexFile> {
        let mut bytes = std::fs::read(path).or_else(|error| match error.kind() {
            io::ErrorKind::NotFound => Ok(Vec::new()),
            _ => Err(error),
        })?;
        bytes.truncate(bytes.len() - bytes.len() % entry_size);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        file.set_len(bytes.len() as u64)?;
        Ok(IndexFile {
            path: path.to_path_buf(),
            entry_size,
            written: bytes.len(),
            entries: IndexEntries::active(bytes),
        })
    }

    /// Maps an existing index read-only.
    pub fn open_sealed(path: &Path, entry_size: usize) -> io::Result<IndexFile> {
        let file = File::open(path)?;
        let length = file.metadata()?.len();
        // An empty file cannot be mapped; an empty index has no entries anyway.
        let map = if length == 0 {
            None
        } else {
            // SAFETY: the broker never writes to a sealed segment's index; the
            // file is only replaced wholesale (rebuild) or deleted with the
            // segment, and a mapping outlives neither in a way that matters:
            // removing or renaming a mapped file keeps its pages.
            Some(Arc::new(unsafe { Mmap::map(&file)? }))
        };
        Ok(IndexFile {
            path: path.to_path_buf(),
            entry_size,
            written: 0,
            entries: IndexEntries::Sealed(map),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, for readers that look them up without the log's lock.
    pub fn entries(&self) -> IndexEntries {
        self.entries.clone()
    }

    /// Runs `read` over the entries' bytes.
    pub fn with_bytes<T>(&self, read: impl FnOnce(&[u8]) -> T) -> T {
        self.entries.with_bytes(self.entry_size, read)
    }

    pub fn len(&self) -> usize {
        self.with_bytes(|bytes| bytes.len() / self.entry_size)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes entry `index` (which must exist).
    pub fn entry<T>(&self, index: usize, decode: impl FnOnce(&[u8]) -> T) -> T {
        let size = self.entry_size;
        self.with_bytes(|bytes| decode(&bytes[index * size..(index + 1) * size]))
    }

    /// Appends one entry. Only valid on an active index.
    pub fn append(&mut self, entry: &[u8]) -> io::Result<()> {
        debug_assert_eq!(entry.len(), self.entry_size);
        match &self.entries {
            IndexEntries::Active(bytes) => {
                lock(bytes).extend_from_slice(entry);
                Ok(())
            }
            IndexEntries::Sealed(_) => Err(io::Error::other("append to a sealed index")),
        }
    }

    /// Drops entries from `count` on (log truncation).
    pub fn truncate_entries(&mut self, count: usize) -> io::Result<()> {
        let IndexEntries::Active(bytes) = &self.entries else {
            return Err(io::Error::other("truncate of a sealed index"));
        };
        let kept = {
            let mut bytes = lock(bytes);
            bytes.truncate(count * self.entry_size);
            bytes.len()
        };
        if self.written > kept {
            // A new file, not the old one cut in place: a reader may still
            // map the old one (the sealed index of the segment this one
            // was reopened from), and pages cut from under a mapping fault.
            let bytes = self.with_bytes(<[u8]>::to_vec);
            crate::durable::write_atomically(&self.path, &bytes)?;
            self.written = kept;
        }
        Ok(())
    }

    /// Index of the last entry whose key is `<= target`, given a key reader;
    /// `None` if every entry is greater (or there are none).
    pub fn floor<K: Ord>(&self, target: &K, key: impl Fn(&[u8]) -> K) -> Option<usize> {
        self.with_bytes(|bytes| floor(bytes, self.entry_size, target, key))
    }

    /// Flushes and turns the index read-only and memory-mapped. Readers
    /// holding the in-memory entries keep them: they are the same.
    pub fn seal(&mut self) -> io::Result<()> {
        if let IndexEntries::Active(_) = self.entries {
            self.flush()?;
            *self = IndexFile::open_sealed(&self.path, self.entry_size)?;
        }
        Ok(())
    }

    /// Writes the entries not yet in the file and forces them to disk; the
    /// entries are copied out first, so readers never wait for the disk.
    pub fn flush(&mut self) -> io::Result<()> {
        let IndexEntries::Active(bytes) = &self.entries else {
            return Ok(());
        };
        let unwritten = lock(bytes)[self.written..].to_vec();
        let file = OpenOptions::new().write(true).open(&self.path)?;
        file.write_all_at(&unwritten, self.written as u64)?;
        file.sync_data()?;
        self.written += unwritten.len();
        Ok(())
    }
}

pub fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

pub fn be_i64(bytes: &[u8]) -> i64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(word)
}
