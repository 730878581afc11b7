//! Request and response framing above the size prefix: header versions,
//! decoding bodies through kafka-protocol, and the ApiVersions fallback for
//! versions newer than ours.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use thiserror::Error;

use super::api_versions::{self, ListenerType};
use super::encoded::{shared_records, Encoded, FileRecordSets, GatherBuf};

#[derive(Debug, Error)]
pub enum CodecError {
    #[error("request of {0} bytes is shorter than a request header")]
    TooShort(usize),
    #[error("unknown api key {0}")]
    UnknownApiKey(i16),
    #[error("{api_key:?} v{version} is not supported")]
    UnsupportedVersion { api_key: ApiKey, version: i16 },
    /// An API this listener does not serve (a broker's on a controller
    /// listener): Kafka closes the connection, in these words.
    #[error("Received request for disabled api with key {} ({api_key:?}) and version {version}", *api_key as i16)]
    DisabledApi { api_key: ApiKey, version: i16 },
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot encode {api_key:?} v{version} response: {reason}")]
    Encode {
        api_key: ApiKey,
        version: i16,
        reason: String,
    },
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestKind,
}

impl Request {
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Incoming {
    Request(Box<Request>),
    /// ApiVersions at a version we do not know: answered with a v0 body,
    /// UNSUPPORTED_VERSION and our ranges, so the client can pick one.
    ApiVersionsTooNew {
        correlation_id: i32,
    },
}

/// Reads a big-endian int16; the caller has checked the length.
fn be_i16(bytes: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// The client id of a request frame, read without decoding the rest: it
/// follows the correlation id in every header version that has one (a
/// nullable int16-prefixed string, not compact even in flexible headers).
pub fn header_client_id(frame: &[u8]) -> Option<String> {
    let len = usize::try_from(be_i16(frame.get(..10)?, 8)).ok()?;
    let bytes = frame.get(10..10 + len)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// Decodes one request frame (the bytes after the size prefix) that came
/// on a listener of type `listener`.
pub fn decode_request(mut frame: Bytes, listener: ListenerType) -> Result<Incoming, CodecError> {
    // api key, api version, correlation id: the fixed start of every header.
    if frame.len() < 8 {
        return Err(CodecError::TooShort(frame.len()));
    }
    let raw_key = be_i16(&frame, 0);
    let version = be_i16(&frame, 2);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| CodecError::UnknownApiKey(raw_key))?;
    if !api_versions::is_accepted(api_key, version) {
        if api_key == ApiKey::ApiVersions && version > 0 {
            let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            return Ok(Incoming::ApiVersionsTooNew { correlation_id });
        }
        return Err(CodecError::UnsupportedVersion { api_key, version });
    }
    if !api_versions::serves(listener, api_key) {
        return Err(CodecError::DisabledApi { api_key, version });
    }
    // `{:#}` keeps the cause under kafka-protocol's "Failed to decode" context.
    let malformed = |error: anyhow::Error| CodecError::Malformed {
        api_key,
        version,
        reason: format!("{error:#}"),
    };
    let header = RequestHeader::decode(&mut frame, api_key.request_header_version(version))
        .map_err(malformed)?;
    let body = RequestKind::decode(api_key, &mut frame, version).map_err(malformed)?;
    Ok(Incoming::Request(Box::new(Request {
        api_key,
        header,
        body,
    })))
}

/// Encodes a response with its size prefix and header. The ApiVersions
/// response header is always v0, whatever the request version. A Fetch
/// response keeps its large record sets as they were read, or in their
/// files (`files`, see [`encoded`](super::encoded)).
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
    files: &FileRecordSets,
) -> Result<Encoded, CodecError> {
    let failed = |error: anyhow::Error| CodecError::Encode {
        api_key,
        version,
        reason: error.to_string(),
    };
    let header_version = api_key.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    if let ResponseKind::Fetch(fetch) = body {
        let unmatched = || failed(anyhow::anyhow!("a record set's file slice was lost"));
        let shared = shared_records(fetch, files).ok_or_else(unmatched)?;
        let mut buffer = GatherBuf::new(shared);
        buffer.put_i32(0); // size, patched below
        header.encode(&mut buffer, header_version).map_err(failed)?;
        fetch.encode(&mut buffer, version).map_err(failed)?;
        return buffer
            .finish(|first, total| first[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes()))
            .ok_or_else(unmatched);
    }
    let mut buffer = BytesMut::with_capacity(64);
    buffer.put_i32(0); // size, patched below
    header.encode(&mut buffer, header_version).map_err(failed)?;
    body.encode(&mut buffer, version).map_err(failed)?;
    let size = (buffer.len() - 4) as i32;
    buffer[..4].copy_from_slice(&size.to_be_bytes());
    Ok(Encoded::from(buffer.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(frame: Bytes) -> Result<Incoming, CodecError> {
        decode_request(frame, ListenerType::Broker)
    }

    fn frame(api_key: i16, version: i16, body: &[u8]) -> Bytes {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&api_key.to_be_bytes());
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&7i32.to_be_bytes());
        bytes.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
        bytes.extend_from_slice(body);
        Bytes::from(bytes)
    }

    #[test]
    fn unknown_keys_short_frames_and_refused_versions_are_errors() {
        assert!(matches!(
            decode(frame(9999, 0, &[])),
            Err(CodecError::UnknownApiKey(9999))
        ));
        assert!(matches!(
            decode(Bytes::from_static(&[0, 0, 0])),
            Err(CodecError::TooShort(3))
        ));
        assert!(matches!(
            decode(frame(0, 2, &[])),
            Err(CodecError::UnsupportedVersion { version: 2, .. })
        ));
    }

    #[test]
    fn a_controller_listener_refuses_a_broker_api_before_decoding_it() {
        match decode_request(frame(0, 9, &[]), ListenerType::Controller) {
            Err(error @ CodecError::DisabledApi { version: 9, .. }) => assert_eq!(
                error.to_string(),
                "Received request for disabled api with key 0 (Produce) and version 9"
            ),
            other => panic!("unexpected {other:?}"),
        }
        // ApiVersions v3: two empty compact strings and no tags.
        let api_versions = flexible_frame(18, 3, &[1, 1, 0]);
        assert!(matches!(
            decode_request(api_versions, ListenerType::Controller),
            Ok(Incoming::Request(_))
        ));
    }

    #[test]
    fn api_versions_newer_than_ours_gets_the_fallback() {
        match decode(frame(18, 99, &[])) {
            Ok(Incoming::ApiVersionsTooNew { correlation_id: 7 }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Request header v2: a flexible request's header ends with its own
    /// tagged-field section (here empty).
    fn flexible_frame(api_key: i16, version: i16, body: &[u8]) -> Bytes {
        let mut bytes = frame(api_key, version, &[0]).to_vec();
        bytes.extend_from_slice(body);
        Bytes::from(bytes)
    }

    fn assert_malformed(frame: Bytes, reason_contains: &str) {
        match decode(frame) {
            Err(CodecError::Malformed { reason, .. }) => assert!(
                reason.contains(reason_contains),
                "{reason:?} does not mention {reason_contains:?}"
            ),
            other => panic!("expected a malformed request, got {other:?}"),
        }
    }

    /// The named hostile case: a Produce body whose topic array claims
    /// i32::MAX entries in 12 bytes. Without a bounded decoder this asks the
    /// allocator for hundreds of gigabytes and aborts the process.
    #[test]
    fn a_produce_claiming_i32_max_topics_is_malformed() {
        let mut body = Vec::new();
        body.extend_from_slice(&(-1i16).to_be_bytes()); // null transactional id
        body.extend_from_slice(&1i16.to_be_bytes()); // acks
        body.extend_from_slice(&30_000i32.to_be_bytes()); // timeout
        body.extend_from_slice(&i32::MAX.to_be_bytes()); // topic count
        assert_eq!(body.len(), 12);
        assert_malformed(frame(0, 7, &body), "exceeds");
    }

    #[test]
    fn a_flexible_produce_claiming_u32_max_topics_is_malformed() {
        // Produce v9: compact nullable string (0 = null), acks, timeout, compact array.
        let mut body = vec![0u8];
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&30_000i32.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_malformed(flexible_frame(0, 9, &body), "exceeds");
    }

    /// Kafka refuses arrays over 1,000,000 elements even when the bytes are
    /// there: a Metadata request naming 1,000,001 empty topics.
    #[test]
    fn an_array_of_more_than_a_million_elements_is_malformed() {
        let count = 1_000_001i32;
        let mut body = count.to_be_bytes().to_vec();
        body.resize(4 + 2 * count as usize, 0); // each topic: a 0-length string
        assert_malformed(frame(3, 1, &body), "exceeds the limit of 1000000");
    }

    /// ... and tagged-field sections over 10,000 fields: 10,001 empty
    /// unknown tags in a flexible request header.
    #[test]
    fn more_than_ten_thousand_tagged_fields_are_malformed() {
        let mut header_tags = Vec::new();
        put_unsigned_varint(&mut header_tags, 10_001);
        for tag in 0..10_001 {
            put_unsigned_varint(&mut header_tags, 1_000 + tag); // no known header tag
            header_tags.push(0); // size
        }
        let mut bytes = frame(18, 3, &header_tags).to_vec();
        bytes.extend_from_slice(&[0, 0, 0]); // ApiVersions v3: two null compact strings, no tags
        assert_malformed(Bytes::from(bytes), "exceed the limit of 10000");
    }

    fn put_unsigned_varint(out: &mut Vec<u8>, mut value: u32) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    #[test]
    fn a_truncated_body_is_malformed() {
        // Metadata v1: topics array claims 3 entries, none follow.
        let body = 3i32.to_be_bytes();
        assert!(matches!(
            decode(frame(3, 1, &body)),
            Err(CodecError::Malformed { .. })
        ));
    }

    #[test]
    fn the_client_id_is_read_from_a_header_without_decoding_it() {
        let mut frame = vec![0, 0, 0, 2, 0, 0, 0, 7, 0, 3];
        frame.extend_from_slice(b"kcat");
        assert_eq!(header_client_id(&frame).as_deref(), Some("kca"));
        assert_eq!(header_client_id(&frame[..11]), None);
        let null = [0, 0, 0, 2, 0, 0, 0, 7, 0xff, 0xff];
        assert_eq!(header_client_id(&null), None);
        assert_eq!(header_client_id(&[0, 0]), None);
    }
}
