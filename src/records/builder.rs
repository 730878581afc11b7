//! Builds uncompressed v2 record batches: for the console producer, the
//! coordinators' own records and transaction markers, and tests. The broker
//! never rebuilds the batches clients send.

use super::batch::HEADER_SIZE;
use super::varint::put_varlong;

/// Accumulates records, then lays them out as one CRC-stamped batch.
pub struct BatchBuilder {
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    records: Vec<u8>,
    /// Producer id, epoch and base sequence of an idempotent batch.
    producer: (i64, i16, i32),
    /// Attribute bits: transactional, control.
    attributes: i16,
}

fn put_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varlong(out, -1),
        Some(bytes) => {
            put_varlong(out, bytes.len() as i64);
            out.extend_from_slice(bytes);
        }
    }
}

impl BatchBuilder {
    pub fn new(base_timestamp: i64) -> Self {
        BatchBuilder {
            base_timestamp,
            max_timestamp: base_timestamp,
            count: 0,
            records: Vec::new(),
            producer: (-1, -1, -1),
            attributes: 0,
        }
    }

    /// Marks the batch as part of its producer's transaction.
    pub fn transactional(mut self) -> Self {
        self.attributes |= super::batch::TRANSACTIONAL;
        self
    }

    /// Marks the batch as a control batch (a transaction marker).
    pub fn control(mut self) -> Self {
        self.attributes |= super::batch::CONTROL;
        self
    }

    /// Marks the batch as written by an idempotent producer.
    pub fn idempotent(mut self, producer_id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer = (producer_id, epoch, base_sequence);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let mut body = vec![0u8];
        put_varlong(&mut body, timestamp - self.base_timestamp);
        put_varlong(&mut body, i64::from(self.count));
        put_nullable(&mut body, key);
        put_nullable(&mut body, value);
        put_varlong(&mut body, headers.len() as i64);
        for (name, header_value) in headers {
            put_nullable(&mut body, Some(name.as_bytes()));
            put_nullable(&mut body, *header_value);
        }
        put_varlong(&mut self.records, body.len() as i64);
        self.records.extend_from_slice(&body);
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.count += 1;
    }

    /// The batch bytes, base offset 0 (the broker assigns the real one).
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_SIZE + self.records.len());
        let batch_length = (HEADER_SIZE - 12 + self.records.len()) as i32;
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&batch_length.to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
        out.push(2); // magic
        out.extend_from_slice(&[0; 4]); // crc, filled below
        out.extend_from_slice(&self.attributes.to_be_bytes());
        out.extend_from_slice(&(self.count - 1).max(0).to_be_bytes());
        out.extend_from_slice(&self.base_timestamp.to_be_bytes());
        out.extend_from_slice(&self.max_timestamp.to_be_bytes());
        let (producer_id, epoch, base_sequence) = self.producer;
        out.extend_from_slice(&producer_id.to_be_bytes());
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&base_sequence.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.records);
        let crc = crc32c::crc32c(&out[21..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::batch::Batch;
    use crate::records::record::Records;

    #[test]
    fn built_records_are_walkable() {
        let mut builder = BatchBuilder::new(500);
        builder.push(500, None, Some(b"a"), &[("h", Some(b"v"))]);
        builder.push(510, Some(b"k"), None, &[]);
        let bytes = builder.build();
        let batch = Batch::parse(&bytes).unwrap();
        batch.validate().unwrap();
        let records: Vec<_> = Records::new(batch.records_payload(), batch.records_count())
            .map(|r| (r.offset_delta, r.timestamp_delta, r.key, r.value))
            .collect();
        assert_eq!(
            records,
            vec![
                (0, 0, None, Some(&b"a"[..])),
                (1, 10, Some(&b"k"[..]), None)
            ]
        );
    }
}
