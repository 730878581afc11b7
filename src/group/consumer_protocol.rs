//! Reading the consumer protocol's payloads, which the coordinator otherwise
//! passes through untouched: the topics of a subscription (for OffsetDelete)
//! and the partitions of an assignment (for the `groups` console command).
//!
//! Both start with a version (i16) and an array (i32 count) of topic names
//! (i16-length strings); an assignment's names are each followed by an
//! array of partition numbers.

use crate::records::primitives::Reader;
use crate::types::TopicPartition;

/// The subscribed topics, or `None` if the bytes are not a subscription.
pub fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut reader = Reader::new(metadata);
    reader.take(2)?;
    let count = reader.count(2)?;
    (0..count).map(|_| reader.string()).collect()
}

/// The assigned partitions, or `None` if the bytes are not an assignment.
pub fn assignment_partitions(assignment: &[u8]) -> Option<Vec<TopicPartition>> {
    let mut reader = Reader::new(assignment);
    reader.take(2)?;
    let topics = reader.count(6)?;
    let mut partitions = Vec::new();
    for _ in 0..topics {
        let topic = reader.string()?;
        let count = reader.count(4)?;
        for _ in 0..count {
            partitions.push(TopicPartition::new(topic.clone(), reader.i32()?));
        }
    }
    Some(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, value: &str) {
        out.extend_from_slice(&(value.len() as i16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }

    #[test]
    fn reads_subscriptions_and_rejects_garbage() {
        let mut bytes = vec![0, 1, 0, 0, 0, 2];
        string(&mut bytes, "orders");
        string(&mut bytes, "payments");
        bytes.extend_from_slice(&[0, 0, 0, 0]); // user data
        assert_eq!(
            subscription_topics(&bytes),
            Some(vec!["orders".into(), "payments".into()])
        );
        assert_eq!(subscription_topics(&[0, 1, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(subscription_topics(&[]), None);
    }

    #[test]
    fn reads_assignments() {
        let mut bytes = vec![0, 0, 0, 0, 0, 1];
        string(&mut bytes, "orders");
        bytes.extend_from_slice(&2i32.to_be_bytes());
        bytes.extend_from_slice(&0i32.to_be_bytes());
        bytes.extend_from_slice(&5i32.to_be_bytes());
        assert_eq!(
            assignment_partitions(&bytes),
            Some(vec![
                TopicPartition::new("orders", 0),
                TopicPartition::new("orders", 5)
            ])
        );
        assert_eq!(assignment_partitions(&bytes[..bytes.len() - 1]), None);
    }
}
