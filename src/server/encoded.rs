//! An encoded response as the pieces the socket is given: a Fetch answer's
//! record sets are not copied into one frame buffer (that copy, and the
//! buffer's doublings up to a response's size, were the largest cost of
//! serving consumers). Record sets stay in their segment files
//! ([`FileRecords`]) until the connection writes them (see
//! [`socket_writer`](super::socket_writer)); record sets already in memory
//! stay the very `Bytes` they are.
//!
//! kafka-protocol encodes a record set from the `Bytes` in the response.
//! A set left in its file is represented there by a stand-in: a slice of
//! the same length from a reserved, never-written address range, unique
//! within the response. The encoder's buffer recognises each stand-in by
//! its address and puts the file piece in its place; a stand-in it does
//! not recognise fails the encoding rather than send its zeros.

use std::ops::Range;
use std::sync::OnceLock;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::FetchResponse;
use kafka_protocol::protocol::buf::ByteBufMut;

use crate::log::file_records::FileRecords;

/// Record sets smaller than this are copied: a piece of their own would
/// cost the writer more than the copy saves.
const SHARED_MIN: usize = 1024;

/// One piece of a response.
#[derive(Debug, Clone)]
pub enum Piece {
    Memory(Bytes),
    File(FileRecords),
}

impl Piece {
    pub fn len(&self) -> usize {
        match self {
            Piece::Memory(bytes) => bytes.len(),
            Piece::File(records) => records.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `[start, start + len)` of the piece.
    fn slice(&self, start: usize, len: usize) -> Piece {
        match self {
            Piece::Memory(bytes) => Piece::Memory(bytes.slice(start..start + len)),
            Piece::File(records) => Piece::File(records.slice(start, len)),
        }
    }
}

/// A response frame, size prefix included, in pieces.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pieces: Vec<Piece>,
}

impl Encoded {
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Piece::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `len` bytes (the fault plane's cut-off response).
    pub fn truncated(&self, mut len: usize) -> Encoded {
        let mut pieces = Vec::new();
        for piece in &self.pieces {
            if len == 0 {
                break;
            }
            let take = piece.len().min(len);
            pieces.push(piece.slice(0, take));
            len -= take;
        }
        Encoded { pieces }
    }

    /// All of it in one buffer, file pieces read (tests, and callers that
    /// need contiguous bytes).
    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        if let [Piece::Memory(one)] = self.pieces.as_slice() {
            return Ok(one.clone());
        }
        let mut all = Vec::with_capacity(self.len());
        for piece in &self.pieces {
            match piece {
                Piece::Memory(bytes) => all.extend_from_slice(bytes),
                Piece::File(records) => all.extend_from_slice(&records.read()?),
            }
        }
        Ok(all.into())
    }
}

impl From<Bytes> for Encoded {
    fn from(bytes: Bytes) -> Encoded {
        Encoded {
            pieces: vec![Piece::Memory(bytes)],
        }
    }
}

/// The address range stand-ins are cut from: reserved once, readable
/// (as zeros) and never written, so that no other `Bytes` points into it.
/// 4 GiB of address space, no memory.
fn stand_in_range() -> Option<&'static [u8]> {
    static RANGE: OnceLock<Option<&'static [u8]>> = OnceLock::new();
    *RANGE.get_or_init(|| {
        const LEN: usize = 4 << 30;
        // SAFETY: a fresh private anonymous read-only mapping, never
        // unmapped: the slice over it is valid (zeros) for the process's
        // life.
        unsafe {
            let address = libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            (address != libc::MAP_FAILED)
                .then(|| std::slice::from_raw_parts(address.cast::<u8>(), LEN))
        }
    })
}

/// The record sets of one Fetch answer left in their segment files, each
/// with the stand-in that represents it in the response.
#[derive(Debug, Default)]
pub struct FileRecordSets {
    sets: Vec<(Bytes, FileRecords)>,
    /// Where the next stand-in starts in the reserved range.
    cursor: usize,
}

impl FileRecordSets {
    /// A stand-in for `records`, or `None` once the reserved range is used
    /// up (far beyond any response's size; the caller answers the
    /// partition without records this time).
    pub fn stand_in(&mut self, records: FileRecords) -> Option<Bytes> {
        let range = stand_in_range()?;
        let end = self.cursor.checked_add(records.len())?;
        let stand_in = Bytes::from_static(range.get(self.cursor..end)?);
        self.cursor = end;
        self.sets.push((stand_in.clone(), records));
        Some(stand_in)
    }

    fn file_records(&self, bytes: &Bytes) -> Option<&FileRecords> {
        self.sets
            .iter()
            .find(|(stand_in, _)| {
                stand_in.as_ptr() == bytes.as_ptr() && stand_in.len() == bytes.len()
            })
            .map(|(_, records)| records)
    }
}

/// Whether record sets can be left in their files: the stand-ins' range
/// could be reserved.
pub fn stand_ins_available() -> bool {
    stand_in_range().is_some()
}

fn is_stand_in(bytes: &Bytes) -> bool {
    stand_in_range().is_some_and(|range| range.as_ptr_range().contains(&bytes.as_ptr()))
}

/// A record set the encoder's buffer keeps as a piece of its own: the
/// `Bytes` the response holds, and the piece sent in its place.
pub struct Shared {
    bytes: Bytes,
    piece: Piece,
}

/// The record sets of a Fetch response worth a piece of their own, in the
/// order its encoding writes them; `None` if a stand-in has no file
/// records behind it.
pub fn shared_records(response: &FetchResponse, files: &FileRecordSets) -> Option<Vec<Shared>> {
    let mut shared = Vec::new();
    for records in response
        .responses
        .iter()
        .flat_map(|topic| &topic.partitions)
        .filter_map(|partition| partition.records.as_ref())
    {
        if is_stand_in(records) {
            let piece = Piece::File(files.file_records(records)?.clone());
            shared.push(Shared {
                bytes: records.clone(),
                piece,
            });
        } else if records.len() >= SHARED_MIN {
            shared.push(Shared {
                bytes: records.clone(),
                piece: Piece::Memory(records.clone()),
            });
        }
    }
    Some(shared)
}

enum Part {
    Own(BytesMut),
    Shared(Piece),
}

/// A buffer kafka-protocol encodes into that keeps the slices it is given
/// whole when they are one of `shared` (recognised by address and length,
/// in order): those become pieces of their own, everything else is copied.
pub struct GatherBuf {
    done: Vec<Part>,
    current: BytesMut,
    /// Bytes in `done`: where `current` starts.
    base: usize,
    shared: Vec<Shared>,
    next_shared: usize,
}

impl GatherBuf {
    pub fn new(shared: Vec<Shared>) -> GatherBuf {
        GatherBuf {
            done: Vec::new(),
            current: BytesMut::with_capacity(256),
            base: 0,
            shared,
            next_shared: 0,
        }
    }

    /// The pieces, with `patch` applied to the first bytes written (the
    /// size prefix, known only at the end); `None` if a shared record set
    /// was not met, which would have sent a stand-in's zeros.
    pub fn finish(mut self, patch: impl FnOnce(&mut [u8], usize)) -> Option<Encoded> {
        if self.next_shared != self.shared.len() {
            return None;
        }
        let total = self.base + self.current.len();
        if !self.current.is_empty() {
            self.done.push(Part::Own(self.current.split()));
        }
        if let Some(Part::Own(first)) = self.done.first_mut() {
            patch(first, total);
        }
        let pieces = self
            .done
            .into_iter()
            .map(|part| match part {
                Part::Own(bytes) => Piece::Memory(bytes.freeze()),
                Part::Shared(piece) => piece,
            })
            .collect();
        Some(Encoded { pieces })
    }

    fn take_shared(&mut self, src: &[u8]) -> Option<Piece> {
        let candidate = self.shared.get(self.next_shared)?;
        let same = candidate.bytes.as_ptr() == src.as_ptr() && candidate.bytes.len() == src.len();
        same.then(|| {
            self.next_shared += 1;
            candidate.piece.clone()
        })
    }
}

// SAFETY: every method hands `current`'s own `BufMut` implementation on,
// which upholds the trait's contract; `put_slice` only decides whether a
// slice is copied into `current` or kept as a piece of its own.
unsafe impl BufMut for GatherBuf {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialised `cnt` bytes of `chunk_mut()`,
        // which is `current`'s.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        match self.take_shared(src) {
            Some(piece) => {
                let own = self.current.split();
                self.base += own.len() + piece.len();
                if !own.is_empty() {
                    self.done.push(Part::Own(own));
                }
                self.done.push(Part::Shared(piece));
            }
            None => self.current.extend_from_slice(src),
        }
    }
}

/// Gaps (kafka-protocol's patched-later fields) are used when encoding
/// record batches, never when encoding a message around record sets that
/// are already bytes: they work within the bytes written since the last
/// shared piece.
impl ByteBufMut for GatherBuf {
    fn offset(&self) -> usize {
        self.base + self.current.len()
    }

    fn seek(&mut self, offset: usize) {
        let within = offset.saturating_sub(self.base);
        self.current.resize(within, 0);
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let start = r.start.saturating_sub(self.base);
        let end = r.end.saturating_sub(self.base);
        &mut self.current[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    fn response(records: Vec<Bytes>) -> FetchResponse {
        let partitions = records
            .into_iter()
            .enumerate()
            .map(|(i, records)| {
                PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_high_watermark(7)
                    .with_records(Some(records))
            })
            .collect();
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(partitions)])
    }

    fn encode(fetch: &FetchResponse, files: &FileRecordSets, version: i16) -> Option<Encoded> {
        let mut gather = GatherBuf::new(shared_records(fetch, files)?);
        gather.put_i32(0);
        fetch.encode(&mut gather, version).unwrap();
        gather
            .finish(|first, total| first[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes()))
    }

    fn expected(fetch: &FetchResponse, version: i16) -> Bytes {
        let mut expected = BytesMut::new();
        expected.put_i32(0);
        fetch.encode(&mut expected, version).unwrap();
        let size = (expected.len() - 4) as i32;
        expected[..4].copy_from_slice(&size.to_be_bytes());
        expected.freeze()
    }

    #[test]
    fn large_record_sets_are_pieces_and_the_bytes_are_the_same() {
        let big = Bytes::from(vec![7u8; 5000]);
        let small = Bytes::from(vec![9u8; 10]);
        let other = Bytes::from(vec![3u8; 3000]);
        let files = FileRecordSets::default();
        for version in [4i16, 11, 12, 16] {
            let fetch = response(vec![big.clone(), small.clone(), other.clone()]);
            let encoded = encode(&fetch, &files, version).unwrap();
            assert!(
                encoded.to_bytes().unwrap() == expected(&fetch, version),
                "v{version}: the same bytes"
            );
            let shared = encoded
                .pieces()
                .iter()
                .filter(|p| matches!(p, Piece::Memory(b) if b.as_ptr() == big.as_ptr() || b.as_ptr() == other.as_ptr()))
                .count();
            assert_eq!(shared, 2, "both large sets are shared, v{version}");
            if version < 13 {
                // (From v13 topics go by id: a name does not round-trip.)
                let mut bytes = encoded.to_bytes().unwrap().slice(4..);
                let decoded = FetchResponse::decode(&mut bytes, version).unwrap();
                assert!(decoded == fetch, "v{version} decodes to what was encoded");
            }
        }
    }

    #[test]
    fn record_sets_in_files_are_sent_in_their_stand_ins_places() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let on_disk: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &on_disk).unwrap();
        let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
        let slice = |position: u64, len: usize| {
            crate::log::file_records::FileRecords::new(
                std::sync::Arc::clone(&file),
                position,
                len,
                crate::types::Offset(0),
            )
        };
        let mut files = FileRecordSets::default();
        // Two sets of the same length: each stand-in is its own.
        let first = files.stand_in(slice(100, 4000)).unwrap();
        let second = files.stand_in(slice(9000, 4000)).unwrap();
        assert_ne!(first.as_ptr(), second.as_ptr());
        let memory = Bytes::from(vec![5u8; 2000]);
        // The response lists them in another order than they were read.
        let fetch = response(vec![second, memory.clone(), first]);
        let encoded = encode(&fetch, &files, 12).unwrap();
        let real = response(vec![
            Bytes::copy_from_slice(&on_disk[9000..13_000]),
            memory,
            Bytes::copy_from_slice(&on_disk[100..4100]),
        ]);
        assert!(encoded.to_bytes().unwrap() == expected(&real, 12));
        let in_files = encoded
            .pieces()
            .iter()
            .filter(|p| matches!(p, Piece::File(_)))
            .count();
        assert_eq!(in_files, 2);
        // A stand-in whose file slice is not known is refused, not sent.
        let mut other = FileRecordSets::default();
        let lost = other.stand_in(slice(0, 3000)).unwrap();
        assert!(encode(&response(vec![lost]), &files, 12).is_none());
    }

    #[test]
    fn the_size_prefix_is_patched_and_truncation_cuts_across_pieces() {
        let big = Bytes::from(vec![1u8; 2048]);
        let fetch = response(vec![big]);
        let encoded = encode(&fetch, &FileRecordSets::default(), 12).unwrap();
        let bytes = encoded.to_bytes().unwrap();
        assert_eq!(
            i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize,
            bytes.len() - 4
        );
        assert!(encoded.pieces().len() >= 2);
        let half = encoded.truncated(bytes.len() / 2);
        assert_eq!(half.to_bytes().unwrap(), bytes.slice(..bytes.len() / 2));
    }
}
