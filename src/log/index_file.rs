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

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

enum Entries {
    /// Appendable: the entries in memory, the first `written` bytes of
    /// them also in the file (which holds nothing else).
    Active { bytes: Vec<u8>, written: usize },
    /// Read-only: the file mapped into memory.
    Sealed(Option<Mmap>),
}

pub struct IndexFile {
    path: PathBuf,
    entry_size: usize,
    entries: Entries,
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
        let written = bytes.len();
        Ok(IndexFile {
            path: path.to_path_buf(),
            entry_size,
            entries: Entries::Active { bytes, written },
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
            // segment, after this mapping is dropped.
            Some(unsafe { Mmap::map(&file)? })
        };
        Ok(IndexFile {
            path: path.to_path_buf(),
            entry_size,
            entries: Entries::Sealed(map),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.entries {
            Entries::Active { bytes, .. } => bytes,
            Entries::Sealed(Some(map)) => &map[..map.len() - map.len() % self.entry_size],
            Entries::Sealed(None) => &[],
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len() / self.entry_size
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn entry(&self, index: usize) -> &[u8] {
        &self.bytes()[index * self.entry_size..(index + 1) * self.entry_size]
    }

    /// Appends one entry. Only valid on an active index.
    pub fn append(&mut self, entry: &[u8]) -> io::Result<()> {
        debug_assert_eq!(entry.len(), self.entry_size);
        match &mut self.entries {
            Entries::Active { bytes, .. } => {
                bytes.extend_from_slice(entry);
                Ok(())
            }
            Entries::Sealed(_) => Err(io::Error::other("append to a sealed index")),
        }
    }

    /// Drops entries from `count` on (log truncation).
    pub fn truncate_entries(&mut self, count: usize) -> io::Result<()> {
        match &mut self.entries {
            Entries::Active { bytes, written } => {
                bytes.truncate(count * self.entry_size);
                if *written > bytes.len() {
                    let file = OpenOptions::new().write(true).open(&self.path)?;
                    file.set_len(bytes.len() as u64)?;
                    *written = bytes.len();
                }
                Ok(())
            }
            Entries::Sealed(_) => Err(io::Error::other("truncate of a sealed index")),
        }
    }

    /// Index of the last entry whose key is `<= target`, given a key reader;
    /// `None` if every entry is greater (or there are none).
    pub fn floor<K: Ord>(&self, target: &K, key: impl Fn(&[u8]) -> K) -> Option<usize> {
        let (mut low, mut high) = (0usize, self.len());
        // Invariant: entries before `low` are <= target, entries from `high` on are > target.
        while low < high {
            let middle = low + (high - low) / 2;
            if key(self.entry(middle)) <= *target {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low.checked_sub(1)
    }

    /// Flushes and turns the index read-only and memory-mapped.
    pub fn seal(&mut self) -> io::Result<()> {
        if let Entries::Active { .. } = self.entries {
            self.flush()?;
            *self = IndexFile::open_sealed(&self.path, self.entry_size)?;
        }
        Ok(())
    }

    /// Writes the entries not yet in the file and forces them to disk.
    pub fn flush(&mut self) -> io::Result<()> {
        let Entries::Active { bytes, written } = &mut self.entries else {
            return Ok(());
        };
        let file = OpenOptions::new().write(true).open(&self.path)?;
        file.write_all_at(&bytes[*written..], *written as u64)?;
        file.sync_data()?;
        *written = bytes.len();
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
