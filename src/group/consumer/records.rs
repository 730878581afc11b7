//! The records a consumer group keeps in `__consumer_offsets`, in Kafka's
//! layouts (`group-coordinator/src/main/resources/common/message/`). A key
//! is the classic kind — an i16 version naming the record type, then
//! i16-length strings; a value is version 0 of a flexible schema — compact
//! strings and arrays, UUIDs, and tagged fields: gregor writes and reads
//! one, the member value's `ClassicMemberMetadata` (tag 0, set for members
//! speaking the classic protocol in a migrated group), and skips others.
//!
//! | key | record | value |
//! |---|---|---|
//! | 3 | `ConsumerGroupMetadata` | the group epoch |
//! | 4 | `ConsumerGroupPartitionMetadata` | subscribed topics: id, name, partition count (no racks) |
//! | 5 | `ConsumerGroupMemberMetadata` | instance id, rack, client id and host, subscription, rebalance timeout, server assignor; classic session timeout and protocols |
//! | 6 | `ConsumerGroupTargetAssignmentMetadata` | the assignment epoch |
//! | 7 | `ConsumerGroupTargetAssignmentMember` | the member's target partitions by topic id |
//! | 8 | `ConsumerGroupCurrentMemberAssignment` | member epoch, previous epoch, state, assigned and pending-revocation partitions |
//!
//! A null value is a tombstone. The group's durable state is an [`Image`],
//! one value per key; the coordinator writes the difference between the
//! image on disk and the one in memory ([`changes`]) and folds the records
//! it reads back into an image at load.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use bytes::Bytes;

use super::group::SubscribedTopic;
use super::member::{ClassicMember, MemberState};
use super::Assignment;
use crate::group::flexible::{
    diff, put_compact_string, put_length, put_no_tagged_fields, put_unsigned_varint,
    read_compact_string, read_length, read_unsigned_varint, skip_tagged_fields, tagged_fields,
    FlexibleReader,
};
use crate::records::primitives::{Reader, StringTooLong};

/// One record of a consumer group, by what it describes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordKey {
    MemberMetadata(String),
    GroupMetadata,
    PartitionMetadata,
    TargetAssignmentMember(String),
    TargetAssignmentMetadata,
    CurrentMemberAssignment(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    GroupMetadata { epoch: i32 },
    PartitionMetadata(BTreeMap<String, SubscribedTopic>),
    MemberMetadata(MemberMetadata),
    TargetAssignmentMetadata { assignment_epoch: i32 },
    TargetAssignmentMember(Assignment),
    CurrentMemberAssignment(CurrentAssignment),
}

/// What `ConsumerGroupMemberMetadataValue` keeps of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    pub classic: Option<ClassicMember>,
}

/// What `ConsumerGroupCurrentMemberAssignmentValue` keeps of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAssignment {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned_partitions: Assignment,
    pub partitions_pending_revocation: Assignment,
}

/// A consumer group's durable state: the latest value of each record.
pub type Image = BTreeMap<RecordKey, RecordValue>;

pub use crate::group::flexible::EncodedRecord;

impl RecordKey {
    /// The key version, which is how Kafka tells its record types apart.
    pub fn version(&self) -> i16 {
        match self {
            RecordKey::GroupMetadata => 3,
            RecordKey::PartitionMetadata => 4,
            RecordKey::MemberMetadata(_) => 5,
            RecordKey::TargetAssignmentMetadata => 6,
            RecordKey::TargetAssignmentMember(_) => 7,
            RecordKey::CurrentMemberAssignment(_) => 8,
        }
    }

    fn member_id(&self) -> Option<&str> {
        match self {
            RecordKey::MemberMetadata(member_id)
            | RecordKey::TargetAssignmentMember(member_id)
            | RecordKey::CurrentMemberAssignment(member_id) => Some(member_id),
            _ => None,
        }
    }

    pub fn encode(&self, group_id: &str) -> Result<Vec<u8>, StringTooLong> {
        crate::group::log_format::group_record_key(self.version(), group_id, self.member_id())
    }

    /// Reads the rest of a key of `version` (3 to 8): the group id and
    /// the record's key.
    pub fn decode(version: i16, reader: &mut Reader<'_>) -> Option<(String, RecordKey)> {
        let group_id = reader.string()?;
        let key = match version {
            3 => RecordKey::GroupMetadata,
            4 => RecordKey::PartitionMetadata,
            5 => RecordKey::MemberMetadata(reader.string()?),
            6 => RecordKey::TargetAssignmentMetadata,
            7 => RecordKey::TargetAssignmentMember(reader.string()?),
            8 => RecordKey::CurrentMemberAssignment(reader.string()?),
            _ => return None,
        };
        Some((group_id, key))
    }

    /// Kafka's order for tombstones (its `createGroupTombstoneRecords`):
    /// assignments before the member they belong to, members before the
    /// group, whose replay refuses to delete a group that has members.
    fn tombstone_rank(&self) -> u8 {
        match self {
            RecordKey::CurrentMemberAssignment(_) => 0,
            RecordKey::TargetAssignmentMember(_) => 1,
            RecordKey::TargetAssignmentMetadata => 2,
            RecordKey::MemberMetadata(_) => 3,
            RecordKey::PartitionMetadata => 4,
            RecordKey::GroupMetadata => 5,
        }
    }
}

/// The records that take a group from `before` (on disk) to `after`:
/// tombstones first, in Kafka's order, then new values in the order Kafka
/// writes them in a heartbeat (member, group epoch, subscribed topics,
/// target assignment, current assignment — the key's declaration order).
pub fn changes(
    group_id: &str,
    before: &Image,
    after: &Image,
) -> Result<Vec<EncodedRecord>, StringTooLong> {
    diff(
        before,
        after,
        RecordKey::tombstone_rank,
        |key| key.encode(group_id),
        encode_value,
    )
}

/// The value version Kafka writes for every consumer-group record.
const VALUE_VERSION: i16 = 0;

pub fn encode_value(value: &RecordValue) -> Result<Vec<u8>, StringTooLong> {
    let mut out = VALUE_VERSION.to_be_bytes().to_vec();
    match value {
        RecordValue::GroupMetadata { epoch } => out.extend_from_slice(&epoch.to_be_bytes()),
        RecordValue::PartitionMetadata(topics) => {
            put_length(&mut out, topics.len());
            for (name, topic) in topics {
                out.extend_from_slice(topic.id.as_bytes());
                put_compact_string(&mut out, Some(name.as_str()))?;
                out.extend_from_slice(&topic.partitions.to_be_bytes());
                // PartitionMetadata (racks by partition): none kept.
                put_length(&mut out, 0);
                put_no_tagged_fields(&mut out);
            }
        }
        RecordValue::MemberMetadata(member) => {
            put_compact_string(&mut out, member.instance_id.as_deref())?;
            put_compact_string(&mut out, member.rack_id.as_deref())?;
            put_compact_string(&mut out, Some(member.client_id.as_str()))?;
            put_compact_string(&mut out, Some(member.client_host.as_str()))?;
            put_length(&mut out, member.subscribed_topic_names.len());
            for name in &member.subscribed_topic_names {
                put_compact_string(&mut out, Some(name.as_str()))?;
            }
            put_compact_string(&mut out, member.subscribed_topic_regex.as_deref())?;
            out.extend_from_slice(&member.rebalance_timeout_ms.to_be_bytes());
            put_compact_string(&mut out, member.server_assignor.as_deref())?;
            if let Some(classic) = &member.classic {
                // Tag 0: a nullable struct, so a presence marker first.
                let mut field = vec![1];
                put_classic_member(&mut field, classic)?;
                out.push(1); // one tagged field
                put_unsigned_varint(&mut out, CLASSIC_MEMBER_TAG);
                put_unsigned_varint(&mut out, field.len() as u32);
                out.extend_from_slice(&field);
                return Ok(out);
            }
        }
        RecordValue::TargetAssignmentMetadata { assignment_epoch } => {
            out.extend_from_slice(&assignment_epoch.to_be_bytes())
        }
        RecordValue::TargetAssignmentMember(assignment) => put_assignment(&mut out, assignment),
        RecordValue::CurrentMemberAssignment(current) => {
            out.extend_from_slice(&current.member_epoch.to_be_bytes());
            out.extend_from_slice(&current.previous_member_epoch.to_be_bytes());
            out.push(current.state.value() as u8);
            put_assignment(&mut out, &current.assigned_partitions);
            put_assignment(&mut out, &current.partitions_pending_revocation);
        }
    }
    put_no_tagged_fields(&mut out);
    Ok(out)
}

/// Reads the value of a `key` record; `None` if it is not one.
pub fn decode_value(key: &RecordKey, bytes: &[u8]) -> Option<RecordValue> {
    let mut reader = FlexibleReader(bytes);
    if reader.i16()? != VALUE_VERSION {
        return None;
    }
    let value = match key {
        RecordKey::GroupMetadata => RecordValue::GroupMetadata {
            epoch: reader.i32()?,
        },
        RecordKey::PartitionMetadata => {
            // A topic takes at least 16 + 1 + 4 + 1 + 1 bytes.
            let count = read_length(&mut reader, 23)?;
            let mut topics = BTreeMap::new();
            for _ in 0..count {
                let id = Uuid::from_slice(reader.take(16)?).ok()?;
                let name = read_compact_string(&mut reader)??;
                let partitions = reader.i32()?;
                let racks = read_length(&mut reader, 6)?;
                for _ in 0..racks {
                    reader.i32()?;
                    for _ in 0..read_length(&mut reader, 1)? {
                        read_compact_string(&mut reader)?;
                    }
                    skip_tagged_fields(&mut reader)?;
                }
                skip_tagged_fields(&mut reader)?;
                topics.insert(name, SubscribedTopic { id, partitions });
            }
            RecordValue::PartitionMetadata(topics)
        }
        RecordKey::MemberMetadata(_) => {
            let instance_id = read_compact_string(&mut reader)?;
            let rack_id = read_compact_string(&mut reader)?;
            let client_id = read_compact_string(&mut reader)??;
            let client_host = read_compact_string(&mut reader)??;
            let names = read_length(&mut reader, 1)?;
            let mut subscribed_topic_names = Vec::with_capacity(names);
            for _ in 0..names {
                subscribed_topic_names.push(read_compact_string(&mut reader)??);
            }
            let subscribed_topic_regex = read_compact_string(&mut reader)?;
            let rebalance_timeout_ms = reader.i32()?;
            let server_assignor = read_compact_string(&mut reader)?;
            let mut classic = None;
            for (tag, mut field) in tagged_fields(&mut reader)? {
                if tag == CLASSIC_MEMBER_TAG && read_unsigned_varint(&mut field)? > 0 {
                    classic = Some(read_classic_member(&mut field)?);
                }
            }
            return Some(RecordValue::MemberMetadata(MemberMetadata {
                instance_id,
                rack_id,
                client_id,
                client_host,
                subscribed_topic_names,
                subscribed_topic_regex,
                rebalance_timeout_ms,
                server_assignor,
                classic,
            }));
        }
        RecordKey::TargetAssignmentMetadata => RecordValue::TargetAssignmentMetadata {
            assignment_epoch: reader.i32()?,
        },
        RecordKey::TargetAssignmentMember(_) => {
            RecordValue::TargetAssignmentMember(read_assignment(&mut reader)?)
        }
        RecordKey::CurrentMemberAssignment(_) => {
            RecordValue::CurrentMemberAssignment(CurrentAssignment {
                member_epoch: reader.i32()?,
                previous_member_epoch: reader.i32()?,
                state: MemberState::from_value(reader.i8()?)?,
                assigned_partitions: read_assignment(&mut reader)?,
                partitions_pending_revocation: read_assignment(&mut reader)?,
            })
        }
    };
    skip_tagged_fields(&mut reader)?;
    Some(value)
}

/// `[]TopicPartitions`: topic id, compact `[]int32` partitions, tags.
fn put_assignment(out: &mut Vec<u8>, assignment: &Assignment) {
    put_length(out, assignment.len());
    for (topic_id, partitions) in assignment {
        out.extend_from_slice(topic_id.as_bytes());
        put_length(out, partitions.len());
        for partition in partitions {
            out.extend_from_slice(&partition.to_be_bytes());
        }
        put_no_tagged_fields(out);
    }
}

/// The tag of `ClassicMemberMetadata` in the member value.
const CLASSIC_MEMBER_TAG: u32 = 0;

/// `ClassicMemberMetadata`: session timeout, then `[]ClassicProtocol`
/// (name, metadata bytes, tags), then the struct's own tags.
fn put_classic_member(out: &mut Vec<u8>, classic: &ClassicMember) -> Result<(), StringTooLong> {
    out.extend_from_slice(&classic.session_timeout_ms.to_be_bytes());
    put_length(out, classic.protocols.len());
    for (name, metadata) in &classic.protocols {
        put_compact_string(out, Some(name.as_str()))?;
        put_length(out, metadata.len());
        out.extend_from_slice(metadata);
        put_no_tagged_fields(out);
    }
    put_no_tagged_fields(out);
    Ok(())
}

fn read_classic_member(reader: &mut FlexibleReader<'_>) -> Option<ClassicMember> {
    let session_timeout_ms = reader.i32()?;
    // A protocol takes at least 1 + 1 + 1 bytes.
    let count = read_length(reader, 3)?;
    let mut protocols = Vec::with_capacity(count);
    for _ in 0..count {
        let name = read_compact_string(reader)??;
        let length = read_length(reader, 1)?;
        let metadata = Bytes::copy_from_slice(reader.take(length)?);
        skip_tagged_fields(reader)?;
        protocols.push((name, metadata));
    }
    skip_tagged_fields(reader)?;
    Some(ClassicMember {
        session_timeout_ms,
        protocols,
    })
}

fn read_assignment(reader: &mut FlexibleReader<'_>) -> Option<Assignment> {
    // A topic takes at least 16 + 1 + 1 bytes.
    let topics = read_length(reader, 18)?;
    let mut assignment = Assignment::new();
    for _ in 0..topics {
        let topic_id = Uuid::from_slice(reader.take(16)?).ok()?;
        let count = read_length(reader, 4)?;
        let mut partitions = BTreeSet::new();
        for _ in 0..count {
            partitions.insert(reader.i32()?);
        }
        skip_tagged_fields(reader)?;
        assignment.insert(topic_id, partitions);
    }
    Some(assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topic_id: Uuid, partitions: &[i32]) -> Assignment {
        Assignment::from([(topic_id, partitions.iter().copied().collect())])
    }

    fn every_kind_of_record() -> Image {
        let orders = Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788);
        let member = MemberMetadata {
            instance_id: Some("instance-1".into()),
            rack_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            subscribed_topic_names: vec!["orders".into(), "payments".into()],
            subscribed_topic_regex: Some("pay.*".into()),
            rebalance_timeout_ms: 300_000,
            server_assignor: Some("uniform".into()),
            classic: None,
        };
        let current = CurrentAssignment {
            member_epoch: 7,
            previous_member_epoch: 6,
            state: MemberState::UnrevokedPartitions,
            assigned_partitions: assignment(orders, &[0, 2]),
            partitions_pending_revocation: assignment(orders, &[1]),
        };
        Image::from([
            (
                RecordKey::GroupMetadata,
                RecordValue::GroupMetadata { epoch: 7 },
            ),
            (
                RecordKey::PartitionMetadata,
                RecordValue::PartitionMetadata(BTreeMap::from([(
                    "orders".to_string(),
                    SubscribedTopic {
                        id: orders,
                        partitions: 3,
                    },
                )])),
            ),
            (
                RecordKey::MemberMetadata("m-1".into()),
                RecordValue::MemberMetadata(member),
            ),
            (
                RecordKey::TargetAssignmentMetadata,
                RecordValue::TargetAssignmentMetadata {
                    assignment_epoch: 7,
                },
            ),
            (
                RecordKey::TargetAssignmentMember("m-1".into()),
                RecordValue::TargetAssignmentMember(assignment(orders, &[0, 2])),
            ),
            (
                RecordKey::CurrentMemberAssignment("m-1".into()),
                RecordValue::CurrentMemberAssignment(current),
            ),
        ])
    }

    #[test]
    fn every_consumer_group_record_reads_back_as_written() {
        for (key, value) in every_kind_of_record() {
            let encoded = key.encode("g1").unwrap();
            let mut reader = Reader::new(&encoded);
            let version = reader.i16().unwrap();
            assert_eq!(version, key.version());
            assert_eq!(
                RecordKey::decode(version, &mut reader),
                Some(("g1".to_string(), key.clone()))
            );
            let bytes = encode_value(&value).unwrap();
            assert_eq!(decode_value(&key, &bytes), Some(value.clone()), "{key:?}");
            // Anything cut short is unreadable, never a panic.
            for end in 0..bytes.len() {
                assert_eq!(
                    decode_value(&key, &bytes[..end]),
                    None,
                    "{key:?} cut at {end}"
                );
            }
        }
    }

    #[test]
    fn values_match_kafkas_bytes() {
        // ConsumerGroupMetadataValue v0 {Epoch=7}: version, int32, no tags.
        let value = encode_value(&RecordValue::GroupMetadata { epoch: 7 }).unwrap();
        assert_eq!(value, [0, 0, 0, 0, 0, 7, 0]);
        // ConsumerGroupTargetAssignmentMemberValue with one topic, partition 1.
        let topic = Uuid::from_u128(1);
        let value = encode_value(&RecordValue::TargetAssignmentMember(assignment(
            topic,
            &[1],
        )))
        .unwrap();
        let mut expected = vec![0, 0, 2];
        expected.extend_from_slice(topic.as_bytes());
        expected.extend_from_slice(&[2, 0, 0, 0, 1, 0, 0]);
        assert_eq!(value, expected);
        // Keys: version, group id, member id.
        let key = RecordKey::CurrentMemberAssignment("m".into())
            .encode("g")
            .unwrap();
        assert_eq!(key, [0, 8, 0, 1, b'g', 0, 1, b'm']);
    }

    #[test]
    fn unknown_tagged_fields_are_skipped() {
        let member = RecordValue::MemberMetadata(MemberMetadata {
            instance_id: None,
            rack_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            subscribed_topic_names: vec![],
            subscribed_topic_regex: None,
            rebalance_timeout_ms: -1,
            server_assignor: None,
            classic: None,
        });
        let mut bytes = encode_value(&member).unwrap();
        bytes.pop();
        bytes.extend_from_slice(&[1, 5, 3, 0xaa, 0xbb, 0xcc]);
        let key = RecordKey::MemberMetadata("m".into());
        assert_eq!(decode_value(&key, &bytes), Some(member));
    }

    #[test]
    fn a_classic_member_is_kept_in_tag_0_as_kafka_writes_it() {
        let member = RecordValue::MemberMetadata(MemberMetadata {
            instance_id: None,
            rack_id: None,
            client_id: "c".into(),
            client_host: "h".into(),
            subscribed_topic_names: vec!["t".into()],
            subscribed_topic_regex: None,
            rebalance_timeout_ms: 1000,
            server_assignor: None,
            classic: Some(ClassicMember {
                session_timeout_ms: 45_000,
                protocols: vec![("range".into(), Bytes::from_static(&[0, 1]))],
            }),
        });
        let bytes = encode_value(&member).unwrap();
        // Tail: one tagged field, tag 0, 17 bytes: the presence marker,
        // the session timeout, one protocol ("range", 2 bytes, no tags), no
        // tags — what Kafka's generated writer produces.
        let tail: &[u8] = &[
            1, 0, 17, 1, 0, 0, 0xaf, 0xc8, 2, 6, b'r', b'a', b'n', b'g', b'e', 3, 0, 1, 0, 0,
        ];
        assert!(bytes.ends_with(tail), "{bytes:?}");
        let key = RecordKey::MemberMetadata("m".into());
        assert_eq!(decode_value(&key, &bytes), Some(member));
        // A truncated struct is refused, not half-read.
        let mut short = bytes.clone();
        short.truncate(bytes.len() - 3);
        assert_eq!(decode_value(&key, &short), None);
    }

    #[test]
    fn changes_write_what_differs_and_tombstone_what_went() {
        let before = every_kind_of_record();
        assert!(changes("g1", &before, &before).unwrap().is_empty());
        let written = changes("g1", &Image::new(), &before).unwrap();
        assert_eq!(written.len(), before.len());
        assert!(written.iter().all(|(_, value)| value.is_some()));
        // The member leaves: its three records go, assignments first, and
        // the group epoch moves on.
        let mut after = before.clone();
        after.retain(|key, _| key.member_id().is_none());
        after.insert(
            RecordKey::GroupMetadata,
            RecordValue::GroupMetadata { epoch: 8 },
        );
        let written = changes("g1", &before, &after).unwrap();
        let versions: Vec<(i16, bool)> = written
            .iter()
            .map(|(key, value)| (i16::from_be_bytes([key[0], key[1]]), value.is_some()))
            .collect();
        assert_eq!(versions, [(8, false), (7, false), (5, false), (3, true)]);
        // Deleting the group: every record's tombstone, the group last.
        let written = changes("g1", &before, &Image::new()).unwrap();
        let versions: Vec<i16> = written
            .iter()
            .map(|(key, _)| i16::from_be_bytes([key[0], key[1]]))
            .collect();
        assert_eq!(versions, [8, 7, 6, 5, 4, 3]);
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let key = RecordKey::TargetAssignmentMember("m".into());
        // Version 0, then a topic count of 2^28.
        assert_eq!(
            decode_value(&key, &[0, 0, 0x80, 0x80, 0x80, 0x80, 0x01]),
            None
        );
        assert_eq!(
            decode_value(&key, &[0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            None
        );
        assert_eq!(
            decode_value(&RecordKey::GroupMetadata, &[0, 1, 0, 0, 0, 7, 0]),
            None
        );
    }
}
