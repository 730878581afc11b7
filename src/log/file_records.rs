//! Whole record batches of a segment file, referred to rather than read
//! (Kafka's `FileRecords` slice): a Fetch answer leaves them in the file
//! until the connection writes them, by `sendfile(2)` or read a piece at
//! a time (`server/socket_writer.rs` says which).
//!
//! A slice holds the segment's file open, not its path: once a segment is
//! deleted by retention or replaced by compaction, answers already under
//! way still send what they referred to. A segment cut shorter under a
//! slice (a follower's truncation) makes `sendfile` come up short, which
//! the sender must treat as a failed response.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::types::Offset;

#[derive(Clone)]
pub struct FileRecords {
    file: Arc<File>,
    position: u64,
    len: usize,
    /// The offset after the last batch (an upper bound for the aborted
    /// transactions a read_committed consumer is told of).
    next_offset: Offset,
}

impl std::fmt::Debug for FileRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRecords")
            .field("position", &self.position)
            .field("len", &self.len)
            .field("next_offset", &self.next_offset)
            .finish()
    }
}

impl FileRecords {
    pub fn new(file: Arc<File>, position: u64, len: usize, next_offset: Offset) -> FileRecords {
        FileRecords {
            file,
            position,
            len,
            next_offset,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn next_offset(&self) -> Offset {
        self.next_offset
    }

    /// The bytes `[start, start + len)` of this slice (a response cut
    /// short by the fault plane).
    pub fn slice(&self, start: usize, len: usize) -> FileRecords {
        let start = start.min(self.len);
        FileRecords {
            position: self.position + start as u64,
            len: len.min(self.len - start),
            ..self.clone()
        }
    }

    /// Reads the slice into memory (the coordinators' loaders, and fetches
    /// when record sets cannot stay in their files).
    pub fn read(&self) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; self.len];
        self.file.read_exact_at(&mut buffer, self.position)?;
        Ok(buffer)
    }

    /// Reads up to `max` bytes of the slice, from its `from`th, into
    /// `buffer` (cleared first, not zero-filled: a buffer reused for a
    /// response's pieces is only ever written by the read). `Ok(0)` with
    /// bytes left means the file ends before the slice does.
    pub fn read_into(&self, from: usize, max: usize, buffer: &mut Vec<u8>) -> io::Result<usize> {
        let wanted = self.len.saturating_sub(from).min(max);
        buffer.clear();
        buffer.reserve(wanted);
        let position = self.position + from as u64;
        let read = loop {
            // SAFETY: the spare capacity holds at least `wanted` bytes, and
            // `pread` writes at most that many into it.
            let read = unsafe {
                libc::pread(
                    self.file.as_raw_fd(),
                    buffer.spare_capacity_mut().as_mut_ptr().cast(),
                    wanted,
                    position as libc::off_t,
                )
            };
            match read {
                -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
                -1 => return Err(io::Error::last_os_error()),
                read => break read as usize,
            }
        };
        // SAFETY: `pread` initialised the first `read` bytes.
        unsafe { buffer.set_len(read) };
        Ok(read)
    }

    /// Sends what follows the slice's first `from` bytes to `socket` (a
    /// non-blocking TCP socket): how many bytes went, as `sendfile(2)`
    /// says. `Ok(0)` with bytes left means the file ends before the slice
    /// does.
    pub fn send(&self, from: usize, socket: RawFd) -> io::Result<usize> {
        let left = self.len.saturating_sub(from);
        if left == 0 {
            return Ok(0);
        }
        let mut offset = (self.position + from as u64) as libc::off_t;
        // SAFETY: both descriptors are open for the call (the file is held
        // by `self`, the socket by the caller), and `offset` is a valid
        // pointer for its duration.
        let sent = unsafe { libc::sendfile(socket, self.file.as_raw_fd(), &mut offset, left) };
        match sent {
            -1 => Err(io::Error::last_os_error()),
            sent => Ok(sent as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn records(bytes: &[u8]) -> (tempfile::TempDir, FileRecords) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        std::fs::write(&path, bytes).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        (dir, FileRecords::new(file, 2, bytes.len() - 3, Offset(9)))
    }

    #[test]
    fn a_slice_reads_and_sends_its_own_bytes() {
        let (_dir, records) = records(b"0123456789");
        assert_eq!(records.read().unwrap(), b"2345678");
        assert_eq!(records.slice(1, 3).read().unwrap(), b"345");
        assert_eq!(records.slice(5, 100).read().unwrap(), b"78");
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        let mut sent = 0;
        while sent < records.len() {
            sent += records.send(sent, ours.as_raw_fd()).unwrap();
        }
        ours.flush().unwrap();
        drop(ours);
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).unwrap();
        assert_eq!(received, b"2345678");
    }

    #[test]
    fn a_slice_is_read_piece_by_piece_into_a_reused_buffer() {
        let (_dir, records) = records(b"0123456789");
        let mut buffer = vec![b'x'; 100];
        let mut read = Vec::new();
        while read.len() < records.len() {
            let n = records.read_into(read.len(), 3, &mut buffer).unwrap();
            assert!(n > 0 && n <= 3);
            assert_eq!(buffer.len(), n);
            read.extend_from_slice(&buffer);
        }
        assert_eq!(read, b"2345678");
        assert_eq!(records.read_into(7, 3, &mut buffer).unwrap(), 0);
    }

    #[test]
    fn a_file_cut_under_a_slice_sends_short() {
        let (dir, records) = records(b"0123456789");
        let path = dir.path().join("00000000000000000000.log");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4)
            .unwrap();
        let (ours, _theirs) = UnixStream::pair().unwrap();
        assert_eq!(records.send(0, ours.as_raw_fd()).unwrap(), 2);
        assert_eq!(records.send(2, ours.as_raw_fd()).unwrap(), 0);
        assert!(records.read().is_err());
        assert_eq!(records.read_into(2, 10, &mut Vec::new()).unwrap(), 0);
    }
}
