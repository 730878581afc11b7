//! An idempotent producer with more requests in flight than the broker
//! deduplicates: Kafka keeps the last 5 batches of each producer and
//! partition (`ProducerStateEntry.NUM_BATCHES_TO_RETAIN`), so a retry of an
//! older one is answered OUT_OF_ORDER_SEQUENCE_NUMBER instead of being
//! recognised as a duplicate.
//!
//! The broker answers a connection's requests one at a time, so what it
//! counts is a lower bound: the request it is handling and the Produce
//! requests already received behind it, still in the connection's read
//! buffer. A client that keeps at most 5 in flight can never be counted
//! above 5, so the rule has no false findings; it can miss requests not yet
//! read from the socket, or large ones read past the buffer.

/// Requests in flight an idempotent producer may have (Kafka's clients
/// refuse more: `max.in.flight.requests.per.connection` ≤ 5).
pub const MAX_IN_FLIGHT: usize = 5;

/// Produce requests whose header is in `buffered`, the bytes received
/// after the request being handled: each was sent before it was answered.
pub fn produce_requests_waiting(buffered: &[u8]) -> usize {
    let mut waiting = 0;
    let mut rest = buffered;
    // A frame: its size (4 bytes), then the header, API key first.
    while let (Some(size), Some(api_key)) = (rest.get(..4), rest.get(4..6)) {
        if api_key == 0i16.to_be_bytes() {
            waiting += 1;
        }
        let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        match usize::try_from(size)
            .ok()
            .and_then(|size| size.checked_add(4))
        {
            Some(frame) if frame <= rest.len() => rest = &rest[frame..],
            _ => break,
        }
    }
    waiting
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(api_key: i16, body: usize) -> Vec<u8> {
        let mut frame = ((body + 2) as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&api_key.to_be_bytes());
        frame.resize(frame.len() + body, 7);
        frame
    }

    #[test]
    fn counts_the_produce_requests_whose_header_arrived() {
        let mut buffered = Vec::new();
        for api_key in [0, 3, 0, 0] {
            buffered.extend(frame(api_key, 40));
        }
        assert_eq!(produce_requests_waiting(&buffered), 3);
        // The last frame cut after its API key still counts; before it, not.
        assert_eq!(
            produce_requests_waiting(&buffered[..buffered.len() - 30]),
            3
        );
        let cut = buffered.len() - 41;
        assert_eq!(produce_requests_waiting(&buffered[..cut]), 2);
        assert_eq!(produce_requests_waiting(&[]), 0);
        // A negative size ends the walk rather than looping.
        let mut bad = (-1i32).to_be_bytes().to_vec();
        bad.extend_from_slice(&0i16.to_be_bytes());
        bad.extend(frame(0, 4));
        assert_eq!(produce_requests_waiting(&bad), 1);
    }
}
