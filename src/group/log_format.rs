//! The records the coordinator writes to `__consumer_offsets`, in Kafka's
//! own layout so that Kafka tooling can read gregor's offsets topic:
//!
//! - offset commit: key v1 `group, topic, partition`; value v3 `offset,
//!   leader epoch, metadata, commit timestamp`;
//! - group metadata: key v2 `group`; value v3 `protocol type, generation,
//!   protocol, leader, state timestamp, members`.
//!
//! A null value is a tombstone (offset or group deleted). Strings are
//! i16-length-prefixed, byte arrays i32-length-prefixed, big-endian.

use bytes::Bytes;

use super::state::{CommittedOffset, Group};
use crate::types::TopicPartition;

const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;

/// A decoded `__consumer_offsets` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Offset {
        group: String,
        partition: TopicPartition,
    },
    Group {
        group: String,
    },
}

/// What a group metadata value says that a restarted coordinator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    pub protocol_type: String,
    pub generation_id: i32,
    pub state_timestamp: i64,
}

fn put_string(out: &mut Vec<u8>, value: &str) {
    out.extend_from_slice(&(value.len() as i16).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

fn put_nullable_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => put_string(out, value),
        None => out.extend_from_slice(&(-1i16).to_be_bytes()),
    }
}

fn put_bytes(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as i32).to_be_bytes());
    out.extend_from_slice(value);
}

pub fn offset_key(group: &str, partition: &TopicPartition) -> Vec<u8> {
    let mut out = OFFSET_KEY_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group);
    put_string(&mut out, &partition.topic);
    out.extend_from_slice(&partition.partition.to_be_bytes());
    out
}

pub fn offset_value(offset: &CommittedOffset) -> Vec<u8> {
    let mut out = OFFSET_VALUE_VERSION.to_be_bytes().to_vec();
    out.extend_from_slice(&offset.offset.to_be_bytes());
    out.extend_from_slice(&offset.leader_epoch.to_be_bytes());
    put_string(&mut out, &offset.metadata);
    out.extend_from_slice(&offset.commit_timestamp.to_be_bytes());
    out
}

pub fn group_key(group: &str) -> Vec<u8> {
    let mut out = GROUP_KEY_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group);
    out
}

pub fn group_value(group: &Group) -> Vec<u8> {
    let mut out = GROUP_VALUE_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group.protocol_type.as_deref().unwrap_or(""));
    out.extend_from_slice(&group.generation_id.to_be_bytes());
    put_nullable_string(&mut out, group.protocol_name.as_deref());
    put_nullable_string(&mut out, group.leader_id.as_deref());
    out.extend_from_slice(&group.state_timestamp.to_be_bytes());
    let members: Vec<_> = group.members().collect();
    out.extend_from_slice(&(members.len() as i32).to_be_bytes());
    let protocol = group.protocol_name.clone().unwrap_or_default();
    for member in members {
        put_string(&mut out, &member.member_id);
        put_nullable_string(&mut out, member.group_instance_id.as_deref());
        put_string(&mut out, &member.client_id);
        put_string(&mut out, &member.client_host);
        out.extend_from_slice(&(member.rebalance_timeout.as_millis() as i32).to_be_bytes());
        out.extend_from_slice(&(member.session_timeout.as_millis() as i32).to_be_bytes());
        let subscription = member
            .protocols
            .iter()
            .find(|(name, _)| *name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_else(Bytes::new);
        put_bytes(&mut out, &subscription);
        put_bytes(&mut out, &member.assignment);
    }
    out
}

/// A bounds-checked big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let length = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(length)?.to_vec()).ok()
    }

    fn nullable_string(&mut self) -> Option<Option<String>> {
        let length = self.i16()?;
        if length < 0 {
            return Some(None);
        }
        String::from_utf8(self.take(length as usize)?.to_vec())
            .ok()
            .map(Some)
    }
}

pub fn decode_key(bytes: &[u8]) -> Option<Key> {
    let mut reader = Reader(bytes);
    match reader.i16()? {
        0 | 1 => Some(Key::Offset {
            group: reader.string()?,
            partition: TopicPartition::new(reader.string()?, reader.i32()?),
        }),
        2 => Some(Key::Group {
            group: reader.string()?,
        }),
        _ => None,
    }
}

pub fn decode_offset_value(bytes: &[u8]) -> Option<CommittedOffset> {
    let mut reader = Reader(bytes);
    let version = reader.i16()?;
    let offset = reader.i64()?;
    let leader_epoch = if version >= 3 { reader.i32()? } else { -1 };
    let metadata = reader.string()?;
    let commit_timestamp = reader.i64()?;
    Some(CommittedOffset {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

pub fn decode_group_value(bytes: &[u8]) -> Option<GroupMetadata> {
    let mut reader = Reader(bytes);
    let version = reader.i16()?;
    let protocol_type = reader.string()?;
    let generation_id = reader.i32()?;
    reader.nullable_string()?;
    reader.nullable_string()?;
    let state_timestamp = if version >= 2 { reader.i64()? } else { -1 };
    Some(GroupMetadata {
        protocol_type,
        generation_id,
        state_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::GroupConfig;

    #[test]
    fn offset_records_round_trip() {
        let partition = TopicPartition::new("orders", 3);
        let key = offset_key("g1", &partition);
        assert_eq!(
            decode_key(&key),
            Some(Key::Offset {
                group: "g1".into(),
                partition
            })
        );
        let value = CommittedOffset {
            offset: 42,
            leader_epoch: 7,
            metadata: "meta".into(),
            commit_timestamp: 1_700_000_000_000,
        };
        assert_eq!(decode_offset_value(&offset_value(&value)), Some(value));
        assert_eq!(decode_offset_value(&[0, 3, 1]), None);
    }

    #[test]
    fn group_records_round_trip() {
        let mut group = Group::new("g1", GroupConfig::default(), 123);
        group.restore(5, Some("consumer".into()), 123);
        assert_eq!(
            decode_key(&group_key("g1")),
            Some(Key::Group { group: "g1".into() })
        );
        assert_eq!(
            decode_group_value(&group_value(&group)),
            Some(GroupMetadata {
                protocol_type: "consumer".into(),
                generation_id: 5,
                state_timestamp: 123
            })
        );
        assert_eq!(decode_key(&[0, 9]), None);
    }
}
