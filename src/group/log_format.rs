//! The records the coordinator writes to `__consumer_offsets`, in Kafka's
//! own layout so that Kafka tooling can read gregor's offsets topic:
//!
//! - offset commit: key v1 `group, topic, partition`; value v3 `offset,
//!   leader epoch, metadata, commit timestamp`;
//! - group metadata: key v2 `group`; value v3 `protocol type, generation,
//!   protocol, leader, state timestamp, members`;
//! - KIP-848 consumer groups: keys v3 to v8, whose records
//!   `consumer::records` writes and reads;
//! - KIP-1071 streams groups: keys v17 and v19 to v23
//!   (`streams::records`).
//!
//! A null value is a tombstone (offset or group deleted). Strings are
//! i16-length-prefixed, byte arrays i32-length-prefixed, big-endian; a
//! string longer than an i16 length holds is refused, never cut.

use bytes::Bytes;

use super::consumer::records::RecordKey;
use super::state::{CommittedOffset, Group};
use super::streams::records::RecordKey as StreamsRecordKey;
use crate::records::primitives::{
    put_bytes, put_nullable_string, put_string, Reader, StringTooLong,
};
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
    /// A record of a KIP-848 consumer group.
    Consumer {
        group: String,
        record: RecordKey,
    },
    /// A record of a KIP-1071 streams group.
    Streams {
        group: String,
        record: StreamsRecordKey,
    },
}

/// What a group metadata value says that a restarted coordinator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadata {
    pub protocol_type: String,
    pub generation_id: i32,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub state_timestamp: i64,
    pub members: Vec<MemberMetadata>,
}

/// A member as the group metadata record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

pub fn offset_key(group: &str, partition: &TopicPartition) -> Result<Vec<u8>, StringTooLong> {
    let mut out = OFFSET_KEY_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group)?;
    put_string(&mut out, &partition.topic)?;
    out.extend_from_slice(&partition.partition.to_be_bytes());
    Ok(out)
}

pub fn offset_value(offset: &CommittedOffset) -> Result<Vec<u8>, StringTooLong> {
    let mut out = OFFSET_VALUE_VERSION.to_be_bytes().to_vec();
    out.extend_from_slice(&offset.offset.to_be_bytes());
    out.extend_from_slice(&offset.leader_epoch.to_be_bytes());
    put_string(&mut out, &offset.metadata)?;
    out.extend_from_slice(&offset.commit_timestamp.to_be_bytes());
    Ok(out)
}

/// The key of a KIP-848 or KIP-1071 group record: its type (the key
/// version), the group id, and the member id for a member's records.
pub fn group_record_key(
    version: i16,
    group: &str,
    member: Option<&str>,
) -> Result<Vec<u8>, StringTooLong> {
    let mut out = version.to_be_bytes().to_vec();
    put_string(&mut out, group)?;
    if let Some(member) = member {
        put_string(&mut out, member)?;
    }
    Ok(out)
}

pub fn group_key(group: &str) -> Result<Vec<u8>, StringTooLong> {
    let mut out = GROUP_KEY_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group)?;
    Ok(out)
}

pub fn group_value(group: &Group) -> Result<Vec<u8>, StringTooLong> {
    let mut out = GROUP_VALUE_VERSION.to_be_bytes().to_vec();
    put_string(&mut out, group.protocol_type.as_deref().unwrap_or(""))?;
    out.extend_from_slice(&group.generation_id.to_be_bytes());
    put_nullable_string(&mut out, group.protocol_name.as_deref())?;
    put_nullable_string(&mut out, group.leader_id.as_deref())?;
    out.extend_from_slice(&group.state_timestamp.to_be_bytes());
    let members: Vec<_> = group.members().collect();
    out.extend_from_slice(&(members.len() as i32).to_be_bytes());
    let protocol = group.protocol_name.clone().unwrap_or_default();
    for member in members {
        put_string(&mut out, &member.member_id)?;
        put_nullable_string(&mut out, member.group_instance_id.as_deref())?;
        put_string(&mut out, &member.client_id)?;
        put_string(&mut out, &member.client_host)?;
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
    Ok(out)
}

pub fn decode_key(bytes: &[u8]) -> Option<Key> {
    let mut reader = Reader::new(bytes);
    match reader.i16()? {
        0 | 1 => Some(Key::Offset {
            group: reader.string()?,
            partition: TopicPartition::new(reader.string()?, reader.i32()?),
        }),
        2 => Some(Key::Group {
            group: reader.string()?,
        }),
        version @ 3..=8 => {
            let (group, record) = RecordKey::decode(version, &mut reader)?;
            Some(Key::Consumer { group, record })
        }
        version if StreamsRecordKey::is_streams_version(version) => {
            let (group, record) = StreamsRecordKey::decode(version, &mut reader)?;
            Some(Key::Streams { group, record })
        }
        _ => None,
    }
}

pub fn decode_offset_value(bytes: &[u8]) -> Option<CommittedOffset> {
    let mut reader = Reader::new(bytes);
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
    let mut reader = Reader::new(bytes);
    let version = reader.i16()?;
    let protocol_type = reader.string()?;
    let generation_id = reader.i32()?;
    let protocol_name = reader.nullable_string()?;
    let leader = reader.nullable_string()?;
    let state_timestamp = if version >= 2 { reader.i64()? } else { -1 };
    let count = usize::try_from(reader.i32()?).ok()?;
    // Every member takes more than 20 bytes: do not trust the count.
    if count > bytes.len() / 20 {
        return None;
    }
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        let member_id = reader.string()?;
        let group_instance_id = if version >= 3 {
            reader.nullable_string()?
        } else {
            None
        };
        let client_id = reader.string()?;
        let client_host = reader.string()?;
        let rebalance_timeout_ms = if version >= 1 { reader.i32()? } else { -1 };
        let session_timeout_ms = reader.i32()?;
        let subscription = reader.bytes()?;
        let assignment = reader.bytes()?;
        members.push(MemberMetadata {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Some(GroupMetadata {
        protocol_type,
        generation_id,
        protocol_name,
        leader,
        state_timestamp,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::GroupConfig;

    #[test]
    fn offset_records_round_trip() {
        let partition = TopicPartition::new("orders", 3);
        let key = offset_key("g1", &partition).unwrap();
        assert_eq!(
            decode_key(&key),
            Some(Key::Offset {
                group: "g1".into(),
                partition: partition.clone()
            })
        );
        let value = CommittedOffset {
            offset: 42,
            leader_epoch: 7,
            metadata: "meta".into(),
            commit_timestamp: 1_700_000_000_000,
        };
        assert_eq!(
            decode_offset_value(&offset_value(&value).unwrap()),
            Some(value.clone())
        );
        let too_long = CommittedOffset {
            metadata: "m".repeat(40_000),
            ..value
        };
        assert_eq!(
            offset_value(&too_long),
            Err(StringTooLong { length: 40_000 })
        );
        assert!(offset_key(&"g".repeat(32_768), &partition).is_err());
        assert_eq!(decode_offset_value(&[0, 3, 1]), None);
    }

    #[test]
    fn group_records_round_trip_with_members() {
        let metadata = GroupMetadata {
            protocol_type: "consumer".into(),
            generation_id: 5,
            protocol_name: Some("range".into()),
            leader: Some("m-1".into()),
            state_timestamp: 123,
            members: vec![MemberMetadata {
                member_id: "m-1".into(),
                group_instance_id: Some("instance".into()),
                client_id: "client".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 30_000,
                session_timeout_ms: 10_000,
                subscription: Bytes::from_static(b"subscription"),
                assignment: Bytes::from_static(b"assignment"),
            }],
        };
        let mut group = Group::new("g1", GroupConfig::default(), 0);
        group.restore(metadata.clone(), std::time::Instant::now());
        assert_eq!(
            group.member("m-1").map(|m| m.assignment.clone()),
            Some(Bytes::from_static(b"assignment"))
        );
        assert_eq!(
            decode_key(&group_key("g1").unwrap()),
            Some(Key::Group { group: "g1".into() })
        );
        assert_eq!(
            decode_group_value(&group_value(&group).unwrap()),
            Some(metadata)
        );
        let mut hostile = group_value(&group).unwrap();
        // version, "consumer", generation, "range", "m-1", timestamp: then the member count.
        let members_at = 2 + (2 + 8) + 4 + (2 + 5) + (2 + 3) + 8;
        hostile[members_at..members_at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(decode_group_value(&hostile), None);
        assert_eq!(decode_key(&[0, 9]), None);
        assert_eq!(
            decode_key(
                &RecordKey::TargetAssignmentMember("m-1".into())
                    .encode("g1")
                    .unwrap()
            ),
            Some(Key::Consumer {
                group: "g1".into(),
                record: RecordKey::TargetAssignmentMember("m-1".into())
            })
        );
    }
}
