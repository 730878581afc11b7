//! The consumer protocol's payloads (Kafka's `ConsumerProtocolSubscription`
//! and `ConsumerProtocolAssignment`), which a classic group passes through
//! untouched: read for OffsetDelete and the `groups` command, and read and
//! written in full when a group migrates between the classic and the
//! KIP-848 protocol, whose coordinator assigns for the classic members.
//!
//! Both start with a version (i16) and an array (i32 count) of topic names
//! (i16-length strings); an assignment's names are each followed by an
//! array of partition numbers.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::records::primitives::{put_string, Reader, StringTooLong};
use crate::types::TopicPartition;

/// The highest subscription and assignment version Kafka 4 knows.
const HIGHEST_VERSION: i16 = 3;

/// A member's subscription, as a classic JoinGroup carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    pub version: i16,
    pub topics: Vec<String>,
    /// The partitions the member still owns (v1+; none before), by topic.
    pub owned_partitions: BTreeMap<String, Vec<i32>>,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
}

/// Reads a whole subscription; `None` if the bytes are not one. Fields of
/// versions above 3 are ignored, as Kafka's reader ignores them.
pub fn subscription(metadata: &[u8]) -> Option<Subscription> {
    let mut reader = Reader::new(metadata);
    let version = reader.i16()?;
    if version < 0 {
        return None;
    }
    let count = reader.count(2)?;
    let topics = (0..count)
        .map(|_| reader.string())
        .collect::<Option<Vec<_>>>()?;
    let mut subscription = Subscription {
        version,
        topics,
        ..Subscription::default()
    };
    // User data: nullable bytes.
    let user_data = reader.i32()?;
    if user_data > 0 {
        reader.take(usize::try_from(user_data).ok()?)?;
    }
    if version >= 1 {
        subscription.owned_partitions = by_topic(read_partitions(&mut reader)?);
    }
    if version >= 2 {
        reader.i32()?; // generation id
    }
    if version >= 3 {
        subscription.rack_id = reader.nullable_string()?;
    }
    Some(subscription)
}

/// The version of a subscription, which the member's assignment is
/// written in (clamped to what Kafka writes).
pub fn version(metadata: &[u8]) -> i16 {
    Reader::new(metadata)
        .i16()
        .unwrap_or(0)
        .clamp(0, HIGHEST_VERSION)
}

/// An assignment in `version`: the partitions by topic, no user data.
pub fn encode_assignment(
    version: i16,
    partitions: &BTreeMap<String, Vec<i32>>,
) -> Result<Bytes, StringTooLong> {
    let mut out = version.clamp(0, HIGHEST_VERSION).to_be_bytes().to_vec();
    out.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for (topic, partitions) in partitions {
        put_string(&mut out, topic)?;
        out.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
        for partition in partitions {
            out.extend_from_slice(&partition.to_be_bytes());
        }
    }
    out.extend_from_slice(&(-1i32).to_be_bytes()); // no user data
    Ok(Bytes::from(out))
}

/// The partitions of an assignment by topic; `None` if the bytes are
/// not an assignment.
pub fn assignment(assignment: &[u8]) -> Option<BTreeMap<String, Vec<i32>>> {
    let mut reader = Reader::new(assignment);
    reader.take(2)?;
    Some(by_topic(read_partitions(&mut reader)?))
}

/// Partition lists by topic, a topic named twice counting once.
fn by_topic(partitions: Vec<(String, Vec<i32>)>) -> BTreeMap<String, Vec<i32>> {
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, partitions) in partitions {
        out.entry(topic).or_default().extend(partitions);
    }
    out
}

/// `[]TopicPartition`: topic names, each with its partition numbers.
fn read_partitions(reader: &mut Reader<'_>) -> Option<Vec<(String, Vec<i32>)>> {
    let topics = reader.count(6)?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let topic = reader.string()?;
        let count = reader.count(4)?;
        let partitions = (0..count)
            .map(|_| reader.i32())
            .collect::<Option<Vec<_>>>()?;
        out.push((topic, partitions));
    }
    Some(out)
}

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
    let partitions = read_partitions(&mut reader)?
        .into_iter()
        .flat_map(|(topic, partitions)| {
            partitions
                .into_iter()
                .map(move |partition| TopicPartition::new(topic.clone(), partition))
        })
        .collect();
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

    #[test]
    fn whole_subscriptions_read_by_version() {
        // v0: topics and user data only.
        let mut v0 = vec![0, 0, 0, 0, 0, 1];
        string(&mut v0, "orders");
        v0.extend_from_slice(&(-1i32).to_be_bytes());
        let read = subscription(&v0).unwrap();
        assert_eq!(read.topics, ["orders"]);
        assert!(read.owned_partitions.is_empty());
        // v3: user data, owned partitions, generation and rack.
        let mut v3 = vec![0, 3, 0, 0, 0, 1];
        string(&mut v3, "orders");
        v3.extend_from_slice(&[0, 0, 0, 2, 7, 7]);
        v3.extend_from_slice(&[0, 0, 0, 1]);
        string(&mut v3, "orders");
        v3.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4]);
        v3.extend_from_slice(&5i32.to_be_bytes());
        string(&mut v3, "rack-a");
        let read = subscription(&v3).unwrap();
        assert_eq!(read.version, 3);
        assert_eq!(read.owned_partitions["orders"], [1, 4]);
        assert_eq!(read.rack_id.as_deref(), Some("rack-a"));
        assert_eq!(version(&v3), 3);
        assert_eq!(subscription(&v3[..v3.len() - 1]), None);
    }

    #[test]
    fn assignments_written_read_back() {
        let partitions = BTreeMap::from([("orders".to_string(), vec![0, 5])]);
        let bytes = encode_assignment(1, &partitions).unwrap();
        assert_eq!(&bytes[..2], &[0, 1]);
        assert_eq!(
            assignment_partitions(&bytes),
            Some(vec![
                TopicPartition::new("orders", 0),
                TopicPartition::new("orders", 5)
            ])
        );
    }
}
