//! An encoded response as the pieces the socket is given: a Fetch answer's
//! record sets stay the very `Bytes` read from the log, between the bytes
//! encoded around them, instead of being copied into one frame buffer
//! (that copy, and the buffer's doublings up to a response's size, were
//! the largest cost of serving consumers). The socket takes the pieces in
//! one vectored write.

use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::FetchResponse;
use kafka_protocol::protocol::buf::ByteBufMut;

/// Record sets smaller than this are copied: a piece of their own would
/// cost the writer more than the copy saves.
const SHARED_MIN: usize = 1024;

/// A response frame, size prefix included, in pieces.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pieces: Vec<Bytes>,
}

impl Encoded {
    pub fn pieces(&self) -> &[Bytes] {
        &self.pieces
    }

    pub fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
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
            pieces.push(piece.slice(..take));
            len -= take;
        }
        Encoded { pieces }
    }

    /// All of it in one buffer (tests, and callers that need contiguous
    /// bytes).
    pub fn to_bytes(&self) -> Bytes {
        match self.pieces.as_slice() {
            [one] => one.clone(),
            pieces => pieces.concat().into(),
        }
    }
}

impl From<Bytes> for Encoded {
    fn from(bytes: Bytes) -> Encoded {
        Encoded {
            pieces: vec![bytes],
        }
    }
}

/// The record sets of a Fetch response worth sharing, in the order its
/// encoding writes them.
pub fn shared_records(response: &FetchResponse) -> Vec<Bytes> {
    response
        .responses
        .iter()
        .flat_map(|topic| &topic.partitions)
        .filter_map(|partition| partition.records.clone())
        .filter(|records| records.len() >= SHARED_MIN)
        .collect()
}

enum Piece {
    Own(BytesMut),
    Shared(Bytes),
}

/// A buffer kafka-protocol encodes into that keeps the slices it is given
/// whole when they are one of `shared` (recognised by address and length,
/// in order): those become pieces of their own, everything else is copied.
pub struct GatherBuf {
    done: Vec<Piece>,
    current: BytesMut,
    /// Bytes in `done`: where `current` starts.
    base: usize,
    shared: Vec<Bytes>,
    next_shared: usize,
}

impl GatherBuf {
    pub fn new(shared: Vec<Bytes>) -> GatherBuf {
        GatherBuf {
            done: Vec::new(),
            current: BytesMut::with_capacity(256),
            base: 0,
            shared,
            next_shared: 0,
        }
    }

    /// The pieces, with `patch` applied to the first bytes written (the
    /// size prefix, known only at the end).
    pub fn finish(mut self, patch: impl FnOnce(&mut [u8], usize)) -> Encoded {
        let total = self.base + self.current.len();
        if !self.current.is_empty() {
            self.done.push(Piece::Own(self.current.split()));
        }
        if let Some(Piece::Own(first)) = self.done.first_mut() {
            patch(first, total);
        }
        let pieces = self
            .done
            .into_iter()
            .map(|piece| match piece {
                Piece::Own(bytes) => bytes.freeze(),
                Piece::Shared(bytes) => bytes,
            })
            .collect();
        Encoded { pieces }
    }

    fn take_shared(&mut self, src: &[u8]) -> Option<Bytes> {
        let candidate = self.shared.get(self.next_shared)?;
        let same = candidate.as_ptr() == src.as_ptr() && candidate.len() == src.len();
        same.then(|| {
            self.next_shared += 1;
            candidate.clone()
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
            Some(bytes) => {
                let own = self.current.split();
                self.base += own.len() + bytes.len();
                if !own.is_empty() {
                    self.done.push(Piece::Own(own));
                }
                self.done.push(Piece::Shared(bytes));
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

    #[test]
    fn large_record_sets_are_pieces_and_the_bytes_are_the_same() {
        let big = Bytes::from(vec![7u8; 5000]);
        let small = Bytes::from(vec![9u8; 10]);
        let other = Bytes::from(vec![3u8; 3000]);
        for version in [4i16, 11, 12, 16] {
            let fetch = response(vec![big.clone(), small.clone(), other.clone()]);
            let mut expected = BytesMut::new();
            fetch.encode(&mut expected, version).unwrap();
            let mut gather = GatherBuf::new(shared_records(&fetch));
            fetch.encode(&mut gather, version).unwrap();
            let encoded = gather.finish(|_, _| {});
            assert!(
                encoded.to_bytes() == expected.freeze(),
                "v{version}: the same bytes"
            );
            let shared: Vec<_> = encoded
                .pieces()
                .iter()
                .filter(|p| p.as_ptr() == big.as_ptr() || p.as_ptr() == other.as_ptr())
                .collect();
            assert_eq!(shared.len(), 2, "both large sets are shared, v{version}");
            if version < 13 {
                // (From v13 topics go by id: a name does not round-trip.)
                let decoded = FetchResponse::decode(&mut encoded.to_bytes(), version).unwrap();
                assert!(decoded == fetch, "v{version} decodes to what was encoded");
            }
        }
    }

    #[test]
    fn the_size_prefix_is_patched_and_truncation_cuts_across_pieces() {
        let big = Bytes::from(vec![1u8; 2048]);
        let fetch = response(vec![big]);
        let mut gather = GatherBuf::new(shared_records(&fetch));
        gather.put_i32(0);
        fetch.encode(&mut gather, 12).unwrap();
        let encoded = gather
            .finish(|first, total| first[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes()));
        let bytes = encoded.to_bytes();
        assert_eq!(
            i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize,
            bytes.len() - 4
        );
        assert!(encoded.pieces().len() >= 2);
        let half = encoded.truncated(bytes.len() / 2);
        assert_eq!(half.to_bytes(), bytes.slice(..bytes.len() / 2));
    }
}
