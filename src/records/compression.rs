//! Decompressing a batch's records, for the rare places the broker must look
//! inside one (ListOffsets by timestamp). Produce and fetch never decompress.
//!
//! Output is capped so a small hostile batch cannot expand without bound.

use std::io::Read;

use thiserror::Error;

use std::borrow::Cow;

use super::batch::{Batch, Compression};

#[derive(Debug, Error)]
pub enum CompressionError {
    #[error("{codec:?} data is corrupt: {reason}")]
    Corrupt { codec: Compression, reason: String },
    #[error("decompressed size exceeds the {0}-byte limit")]
    TooLarge(usize),
}

/// snappy-java's stream header, used by the Java client and librdkafka.
const XERIAL_MAGIC: &[u8] = &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_SIZE: usize = 16;

/// Decompresses `input` with `codec`, failing past `limit` output bytes.
/// A batch's records payload: borrowed when uncompressed, else
/// decompressed into at most `limit` bytes.
pub fn records_payload<'a>(
    batch: &Batch<'a>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, CompressionError> {
    Ok(match batch.compression() {
        Compression::None => Cow::Borrowed(batch.records_payload()),
        codec => Cow::Owned(decompress(codec, batch.records_payload(), limit)?),
    })
}

pub fn decompress(
    codec: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, CompressionError> {
    let corrupt = |reason: String| CompressionError::Corrupt { codec, reason };
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(input), limit, codec),
        Compression::Lz4 => read_capped(lz4_flex::frame::FrameDecoder::new(input), limit, codec),
        Compression::Zstd => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|error| corrupt(error.to_string()))?;
            read_capped(decoder, limit, codec)
        }
        Compression::Snappy => decompress_snappy(input, limit),
    }
}

fn read_capped(
    reader: impl Read,
    limit: usize,
    codec: Compression,
) -> Result<Vec<u8>, CompressionError> {
    let mut output = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut output)
        .map_err(|error| CompressionError::Corrupt {
            codec,
            reason: error.to_string(),
        })?;
    if output.len() > limit {
        return Err(CompressionError::TooLarge(limit));
    }
    Ok(output)
}

/// Kafka's snappy is either snappy-java's framing (a 16-byte header, then
/// blocks prefixed by a big-endian length) or a bare snappy block.
fn decompress_snappy(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let corrupt = |reason: String| CompressionError::Corrupt {
        codec: Compression::Snappy,
        reason,
    };
    let block = |data: &[u8], output: &mut Vec<u8>| -> Result<(), CompressionError> {
        let length = snap::raw::decompress_len(data).map_err(|e| corrupt(e.to_string()))?;
        if output.len() + length > limit {
            return Err(CompressionError::TooLarge(limit));
        }
        let start = output.len();
        output.resize(start + length, 0);
        snap::raw::Decoder::new()
            .decompress(data, &mut output[start..])
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(())
    };
    let mut output = Vec::new();
    if !input.starts_with(XERIAL_MAGIC) {
        block(input, &mut output)?;
        return Ok(output);
    }
    let mut rest = input
        .get(XERIAL_HEADER_SIZE..)
        .ok_or_else(|| corrupt("truncated xerial header".into()))?;
    while !rest.is_empty() {
        let length_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| corrupt("truncated block length".into()))?;
        let length = u32::from_be_bytes(length_bytes) as usize;
        let data = rest
            .get(4..4 + length)
            .ok_or_else(|| corrupt("truncated block".into()))?;
        block(data, &mut output)?;
        rest = &rest[4 + length..];
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"the same words, the same words, the same words again";

    #[test]
    fn gzip_round_trips_and_is_capped() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(TEXT).unwrap();
        let compressed = encoder.finish().unwrap();
        assert_eq!(
            decompress(Compression::Gzip, &compressed, 1024).unwrap(),
            TEXT
        );
        assert!(matches!(
            decompress(Compression::Gzip, &compressed, 10),
            Err(CompressionError::TooLarge(10))
        ));
    }

    #[test]
    fn snappy_reads_both_xerial_frames_and_bare_blocks() {
        let raw = snap::raw::Encoder::new().compress_vec(TEXT).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw, 1024).unwrap(), TEXT);
        let mut framed = XERIAL_MAGIC.to_vec();
        framed.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        for _ in 0..2 {
            framed.extend_from_slice(&(raw.len() as u32).to_be_bytes());
            framed.extend_from_slice(&raw);
        }
        assert_eq!(
            decompress(Compression::Snappy, &framed, 1024).unwrap(),
            [TEXT, TEXT].concat()
        );
        assert!(decompress(Compression::Snappy, &framed[..framed.len() - 3], 1024).is_err());
    }

    #[test]
    fn lz4_frames_decode() {
        let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
        encoder.write_all(TEXT).unwrap();
        let compressed = encoder.finish().unwrap();
        assert_eq!(
            decompress(Compression::Lz4, &compressed, 1024).unwrap(),
            TEXT
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            assert!(decompress(codec, &[1, 2, 3, 4, 5, 6, 7, 8, 9], 1024).is_err());
        }
    }
}
