//! The records a streams group keeps in `__consumer_offsets`, in Kafka's
//! layouts (`group-coordinator/src/main/resources/common/message/`): a key
//! is an i16 naming the record type, then i16-length strings; a value is
//! version 0 of a flexible schema.
//!
//! | key | record | value |
//! |---|---|---|
//! | 17 | `StreamsGroupMetadata` | group epoch, metadata hash (gregor's own, of the topology's topics), tag 0 the validated topology epoch |
//! | 19 | `StreamsGroupMemberMetadata` | instance, rack, client id and host, rebalance timeout, topology epoch, process, endpoint, client tags |
//! | 20 | `StreamsGroupTargetAssignmentMetadata` | the assignment epoch |
//! | 21 | `StreamsGroupTargetAssignmentMember` | the member's target tasks |
//! | 22 | `StreamsGroupCurrentMemberAssignment` | epochs, state, tasks and tasks pending revocation; tag 0 of active tasks their assignment epochs |
//! | 23 | `StreamsGroupTopology` | the topology |
//!
//! Not kept, as in Kafka: the configured topology, task offsets, the
//! endpoint epoch, a requested shutdown. A null value is a tombstone.

use std::collections::BTreeMap;

use super::member::{Endpoint, MemberState};
use super::topology::{CopartitionGroup, Subtopology, TopicInfo, Topology};
use super::{add_task, Tasks, TasksTuple};
use crate::group::flexible::{
    diff, put_compact_string, put_i32_array, put_length, put_no_tagged_fields, put_unsigned_varint,
    read_compact_string, read_i32_array, read_length, skip_tagged_fields, tagged_fields,
    EncodedRecord, FlexibleReader,
};
use crate::records::primitives::{Reader, StringTooLong};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordKey {
    MemberMetadata(String),
    GroupMetadata,
    Topology,
    TargetAssignmentMember(String),
    TargetAssignmentMetadata,
    CurrentMemberAssignment(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordValue {
    GroupMetadata {
        epoch: i32,
        /// gregor's hash of the topics the topology was configured with.
        metadata_hash: i64,
        validated_topology_epoch: i32,
    },
    MemberMetadata(MemberMetadata),
    TargetAssignmentMetadata {
        assignment_epoch: i32,
    },
    TargetAssignmentMember(TasksTuple),
    CurrentMemberAssignment(CurrentAssignment),
    Topology(Topology),
}

/// What `StreamsGroupMemberMetadataValue` keeps of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadata {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub topology_epoch: i32,
    pub process_id: String,
    pub user_endpoint: Option<Endpoint>,
    pub client_tags: Vec<(String, String)>,
}

/// What `StreamsGroupCurrentMemberAssignmentValue` keeps of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentAssignment {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned: TasksTuple,
    pub pending_revocation: TasksTuple,
    /// The epoch each active task (assigned or pending) was given at.
    pub active_task_epochs: BTreeMap<(String, i32), i32>,
}

/// A streams group's durable state: the latest value of each record.
pub type Image = BTreeMap<RecordKey, RecordValue>;

impl RecordKey {
    /// The key version, which is how Kafka tells its record types apart.
    pub fn version(&self) -> i16 {
        match self {
            RecordKey::GroupMetadata => 17,
            RecordKey::MemberMetadata(_) => 19,
            RecordKey::TargetAssignmentMetadata => 20,
            RecordKey::TargetAssignmentMember(_) => 21,
            RecordKey::CurrentMemberAssignment(_) => 22,
            RecordKey::Topology => 23,
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

    /// Whether `version` is the key version of a streams-group record.
    pub fn is_streams_version(version: i16) -> bool {
        matches!(version, 17 | 19..=23)
    }

    /// Reads the rest of a key of `version`: the group id and the record.
    pub fn decode(version: i16, reader: &mut Reader<'_>) -> Option<(String, RecordKey)> {
        let group_id = reader.string()?;
        let key = match version {
            17 => RecordKey::GroupMetadata,
            19 => RecordKey::MemberMetadata(reader.string()?),
            20 => RecordKey::TargetAssignmentMetadata,
            21 => RecordKey::TargetAssignmentMember(reader.string()?),
            22 => RecordKey::CurrentMemberAssignment(reader.string()?),
            23 => RecordKey::Topology,
            _ => return None,
        };
        Some((group_id, key))
    }

    /// Kafka's order of a streams group's tombstones
    /// (`createStreamsGroupTombstoneRecords`).
    fn tombstone_rank(&self) -> u8 {
        match self {
            RecordKey::CurrentMemberAssignment(_) => 0,
            RecordKey::TargetAssignmentMember(_) => 1,
            RecordKey::TargetAssignmentMetadata => 2,
            RecordKey::MemberMetadata(_) => 3,
            RecordKey::GroupMetadata => 4,
            RecordKey::Topology => 5,
        }
    }
}

/// The records that take a group from `before` (on disk) to `after`.
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

const VALUE_VERSION: i16 = 0;
/// `ValidatedTopologyEpoch` in the group value, and `AssignmentEpochs` in
/// an active task list of the current assignment.
const TAG_0: u32 = 0;

fn member_state_value(state: MemberState) -> i8 {
    match state {
        MemberState::Stable => 1,
        MemberState::UnrevokedTasks => 2,
        MemberState::UnreleasedTasks => 3,
    }
}

fn member_state(value: i8) -> Option<MemberState> {
    match value {
        1 => Some(MemberState::Stable),
        2 => Some(MemberState::UnrevokedTasks),
        3 => Some(MemberState::UnreleasedTasks),
        _ => None,
    }
}

pub fn encode_value(value: &RecordValue) -> Result<Vec<u8>, StringTooLong> {
    let mut out = VALUE_VERSION.to_be_bytes().to_vec();
    match value {
        RecordValue::GroupMetadata {
            epoch,
            metadata_hash,
            validated_topology_epoch,
        } => {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(&metadata_hash.to_be_bytes());
            if *validated_topology_epoch != -1 {
                out.push(1);
                put_unsigned_varint(&mut out, TAG_0);
                put_unsigned_varint(&mut out, 4);
                out.extend_from_slice(&validated_topology_epoch.to_be_bytes());
                return Ok(out);
            }
        }
        RecordValue::MemberMetadata(member) => {
            put_compact_string(&mut out, member.instance_id.as_deref())?;
            put_compact_string(&mut out, member.rack_id.as_deref())?;
            put_compact_string(&mut out, Some(&member.client_id))?;
            put_compact_string(&mut out, Some(&member.client_host))?;
            out.extend_from_slice(&member.rebalance_timeout_ms.to_be_bytes());
            out.extend_from_slice(&member.topology_epoch.to_be_bytes());
            put_compact_string(&mut out, Some(&member.process_id))?;
            match &member.user_endpoint {
                None => out.push(0xff),
                Some(endpoint) => {
                    out.push(1);
                    put_compact_string(&mut out, Some(&endpoint.host))?;
                    out.extend_from_slice(&endpoint.port.to_be_bytes());
                    put_no_tagged_fields(&mut out);
                }
            }
            put_key_values(&mut out, &member.client_tags)?;
        }
        RecordValue::TargetAssignmentMetadata { assignment_epoch } => {
            out.extend_from_slice(&assignment_epoch.to_be_bytes());
        }
        RecordValue::TargetAssignmentMember(tasks) => {
            put_tasks(&mut out, &tasks.active, None)?;
            put_tasks(&mut out, &tasks.standby, None)?;
            put_tasks(&mut out, &tasks.warmup, None)?;
        }
        RecordValue::CurrentMemberAssignment(current) => {
            out.extend_from_slice(&current.member_epoch.to_be_bytes());
            out.extend_from_slice(&current.previous_member_epoch.to_be_bytes());
            out.push(member_state_value(current.state) as u8);
            let epochs = Some(&current.active_task_epochs);
            put_tasks(&mut out, &current.assigned.active, epochs)?;
            put_tasks(&mut out, &current.assigned.standby, None)?;
            put_tasks(&mut out, &current.assigned.warmup, None)?;
            put_tasks(&mut out, &current.pending_revocation.active, epochs)?;
            put_tasks(&mut out, &current.pending_revocation.standby, None)?;
            put_tasks(&mut out, &current.pending_revocation.warmup, None)?;
        }
        RecordValue::Topology(topology) => put_topology(&mut out, topology)?,
    }
    put_no_tagged_fields(&mut out);
    Ok(out)
}

fn put_key_values(out: &mut Vec<u8>, pairs: &[(String, String)]) -> Result<(), StringTooLong> {
    put_length(out, pairs.len());
    for (key, value) in pairs {
        put_compact_string(out, Some(key))?;
        put_compact_string(out, Some(value))?;
        put_no_tagged_fields(out);
    }
    Ok(())
}

fn put_strings(out: &mut Vec<u8>, values: &[String]) -> Result<(), StringTooLong> {
    put_length(out, values.len());
    for value in values {
        put_compact_string(out, Some(value))?;
    }
    Ok(())
}

/// `[]TaskIds`, sorted by subtopology; with `epochs`, each entry's tag 0
/// holds its partitions' assignment epochs.
fn put_tasks(
    out: &mut Vec<u8>,
    tasks: &Tasks,
    epochs: Option<&BTreeMap<(String, i32), i32>>,
) -> Result<(), StringTooLong> {
    let entries: Vec<_> = tasks.iter().filter(|(_, p)| !p.is_empty()).collect();
    put_length(out, entries.len());
    for (subtopology, partitions) in entries {
        put_compact_string(out, Some(subtopology))?;
        put_i32_array(out, partitions.iter().copied());
        match epochs {
            None => put_no_tagged_fields(out),
            Some(epochs) => {
                let mut field = Vec::new();
                put_i32_array(
                    &mut field,
                    partitions
                        .iter()
                        .map(|p| epochs.get(&(subtopology.clone(), *p)).copied().unwrap_or(0)),
                );
                out.push(1);
                put_unsigned_varint(out, TAG_0);
                put_unsigned_varint(out, u32::try_from(field.len()).unwrap_or(u32::MAX));
                out.extend_from_slice(&field);
            }
        }
    }
    Ok(())
}

fn put_topic_infos(out: &mut Vec<u8>, topics: &[TopicInfo]) -> Result<(), StringTooLong> {
    put_length(out, topics.len());
    for topic in topics {
        put_compact_string(out, Some(&topic.name))?;
        out.extend_from_slice(&topic.partitions.to_be_bytes());
        out.extend_from_slice(&topic.replication_factor.to_be_bytes());
        put_key_values(out, &topic.configs)?;
        put_no_tagged_fields(out);
    }
    Ok(())
}

fn put_i16_array(out: &mut Vec<u8>, values: &[i16]) {
    put_length(out, values.len());
    for value in values {
        out.extend_from_slice(&value.to_be_bytes());
    }
}

fn put_topology(out: &mut Vec<u8>, topology: &Topology) -> Result<(), StringTooLong> {
    out.extend_from_slice(&topology.epoch.to_be_bytes());
    put_length(out, topology.subtopologies.len());
    for s in &topology.subtopologies {
        put_compact_string(out, Some(&s.id))?;
        put_strings(out, &s.source_topics)?;
        put_strings(out, &s.source_topic_regex)?;
        put_topic_infos(out, &s.state_changelog_topics)?;
        put_strings(out, &s.repartition_sink_topics)?;
        put_topic_infos(out, &s.repartition_source_topics)?;
        put_length(out, s.copartition_groups.len());
        for group in &s.copartition_groups {
            put_i16_array(out, &group.source_topics);
            put_i16_array(out, &group.source_topic_regex);
            put_i16_array(out, &group.repartition_source_topics);
            put_no_tagged_fields(out);
        }
        put_no_tagged_fields(out);
    }
    Ok(())
}

/// Reads the value of a `key` record; `None` if it is not one.
pub fn decode_value(key: &RecordKey, bytes: &[u8]) -> Option<RecordValue> {
    let mut reader = FlexibleReader(bytes);
    if reader.i16()? != VALUE_VERSION {
        return None;
    }
    let value = match key {
        RecordKey::GroupMetadata => {
            let epoch = reader.i32()?;
            let metadata_hash = i64::from_be_bytes(reader.take(8)?.try_into().ok()?);
            let mut validated_topology_epoch = -1;
            for (tag, mut field) in tagged_fields(&mut reader)? {
                if tag == TAG_0 {
                    validated_topology_epoch = field.i32()?;
                }
            }
            return Some(RecordValue::GroupMetadata {
                epoch,
                metadata_hash,
                validated_topology_epoch,
            });
        }
        RecordKey::MemberMetadata(_) => {
            let instance_id = read_compact_string(&mut reader)?;
            let rack_id = read_compact_string(&mut reader)?;
            let client_id = read_compact_string(&mut reader)??;
            let client_host = read_compact_string(&mut reader)??;
            let rebalance_timeout_ms = reader.i32()?;
            let topology_epoch = reader.i32()?;
            let process_id = read_compact_string(&mut reader)??;
            let user_endpoint = match reader.i8()? {
                -1 => None,
                _ => {
                    let host = read_compact_string(&mut reader)??;
                    let port = u16::from_be_bytes(reader.take(2)?.try_into().ok()?);
                    skip_tagged_fields(&mut reader)?;
                    Some(Endpoint { host, port })
                }
            };
            RecordValue::MemberMetadata(MemberMetadata {
                instance_id,
                rack_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                topology_epoch,
                process_id,
                user_endpoint,
                client_tags: read_key_values(&mut reader)?,
            })
        }
        RecordKey::TargetAssignmentMetadata => {
            let assignment_epoch = reader.i32()?;
            skip_tagged_fields(&mut reader)?;
            return Some(RecordValue::TargetAssignmentMetadata { assignment_epoch });
        }
        RecordKey::TargetAssignmentMember(_) => RecordValue::TargetAssignmentMember(TasksTuple {
            active: read_tasks(&mut reader, None)?,
            standby: read_tasks(&mut reader, None)?,
            warmup: read_tasks(&mut reader, None)?,
        }),
        RecordKey::CurrentMemberAssignment(_) => {
            let member_epoch = reader.i32()?;
            let previous_member_epoch = reader.i32()?;
            let state = member_state(reader.i8()?)?;
            let mut epochs = BTreeMap::new();
            let assigned = TasksTuple {
                active: read_tasks(&mut reader, Some(&mut epochs))?,
                standby: read_tasks(&mut reader, None)?,
                warmup: read_tasks(&mut reader, None)?,
            };
            let pending_revocation = TasksTuple {
                active: read_tasks(&mut reader, Some(&mut epochs))?,
                standby: read_tasks(&mut reader, None)?,
                warmup: read_tasks(&mut reader, None)?,
            };
            RecordValue::CurrentMemberAssignment(CurrentAssignment {
                member_epoch,
                previous_member_epoch,
                state,
                assigned,
                pending_revocation,
                active_task_epochs: epochs,
            })
        }
        RecordKey::Topology => RecordValue::Topology(read_topology(&mut reader)?),
    };
    skip_tagged_fields(&mut reader)?;
    Some(value)
}

fn read_key_values(reader: &mut FlexibleReader<'_>) -> Option<Vec<(String, String)>> {
    // A pair takes at least 1 + 1 + 1 bytes.
    let count = read_length(reader, 3)?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let key = read_compact_string(reader)??;
        let value = read_compact_string(reader)??;
        skip_tagged_fields(reader)?;
        pairs.push((key, value));
    }
    Some(pairs)
}

fn read_strings(reader: &mut FlexibleReader<'_>) -> Option<Vec<String>> {
    let count = read_length(reader, 1)?;
    (0..count).map(|_| read_compact_string(reader)?).collect()
}

fn read_tasks(
    reader: &mut FlexibleReader<'_>,
    mut epochs: Option<&mut BTreeMap<(String, i32), i32>>,
) -> Option<Tasks> {
    // An entry takes at least 1 + 1 + 1 bytes.
    let count = read_length(reader, 3)?;
    let mut tasks = Tasks::new();
    for _ in 0..count {
        let subtopology = read_compact_string(reader)??;
        let partitions = read_i32_array(reader)?;
        for (tag, mut field) in tagged_fields(reader)? {
            let Some(epochs) = epochs.as_deref_mut().filter(|_| tag == TAG_0) else {
                continue;
            };
            if field.0.first() == Some(&0) {
                continue; // a null array: epochs unknown
            }
            let given = read_i32_array(&mut field)?;
            if given.len() != partitions.len() {
                return None;
            }
            for (partition, epoch) in partitions.iter().zip(given) {
                epochs.insert((subtopology.clone(), *partition), epoch);
            }
        }
        for partition in &partitions {
            add_task(&mut tasks, &subtopology, *partition);
        }
        if let Some(epochs) = epochs.as_deref_mut() {
            for partition in &partitions {
                epochs.entry((subtopology.clone(), *partition)).or_insert(0);
            }
        }
    }
    Some(tasks)
}

fn read_topic_infos(reader: &mut FlexibleReader<'_>) -> Option<Vec<TopicInfo>> {
    // A topic takes at least 1 + 4 + 2 + 1 + 1 bytes.
    let count = read_length(reader, 9)?;
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let name = read_compact_string(reader)??;
        let partitions = reader.i32()?;
        let replication_factor = reader.i16()?;
        let configs = read_key_values(reader)?;
        skip_tagged_fields(reader)?;
        topics.push(TopicInfo {
            name,
            partitions,
            replication_factor,
            configs,
        });
    }
    Some(topics)
}

fn read_i16_array(reader: &mut FlexibleReader<'_>) -> Option<Vec<i16>> {
    let count = read_length(reader, 2)?;
    (0..count).map(|_| reader.i16()).collect()
}

fn read_topology(reader: &mut FlexibleReader<'_>) -> Option<Topology> {
    let epoch = reader.i32()?;
    // A subtopology takes at least 1 + 6 × 1 + 1 bytes.
    let count = read_length(reader, 8)?;
    let mut subtopologies = Vec::with_capacity(count);
    for _ in 0..count {
        let id = read_compact_string(reader)??;
        let source_topics = read_strings(reader)?;
        let source_topic_regex = read_strings(reader)?;
        let state_changelog_topics = read_topic_infos(reader)?;
        let repartition_sink_topics = read_strings(reader)?;
        let repartition_source_topics = read_topic_infos(reader)?;
        let groups = read_length(reader, 4)?;
        let mut copartition_groups = Vec::with_capacity(groups);
        for _ in 0..groups {
            copartition_groups.push(CopartitionGroup {
                source_topics: read_i16_array(reader)?,
                source_topic_regex: read_i16_array(reader)?,
                repartition_source_topics: read_i16_array(reader)?,
            });
            skip_tagged_fields(reader)?;
        }
        skip_tagged_fields(reader)?;
        subtopologies.push(Subtopology {
            id,
            source_topics,
            source_topic_regex,
            state_changelog_topics,
            repartition_sink_topics,
            repartition_source_topics,
            copartition_groups,
        });
    }
    Some(Topology {
        epoch,
        subtopologies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_kafkas_bytes() {
        let value = RecordValue::TargetAssignmentMetadata {
            assignment_epoch: 7,
        };
        assert_eq!(encode_value(&value).unwrap(), [0, 0, 0, 0, 0, 7, 0]);
        let mut active = Tasks::new();
        add_task(&mut active, "0", 1);
        let target = RecordValue::TargetAssignmentMember(TasksTuple {
            active,
            ..TasksTuple::default()
        });
        // version, [1 entry: "0", [1]], [], [], no tags
        assert_eq!(
            encode_value(&target).unwrap(),
            [0, 0, 2, 2, b'0', 2, 0, 0, 0, 1, 0, 1, 1, 0]
        );
        let key = RecordKey::MemberMetadata("m".into()).encode("g").unwrap();
        assert_eq!(key, [0, 19, 0, 1, b'g', 0, 1, b'm']);
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let key = RecordKey::Topology;
        // Epoch, then a subtopology count of 2^28.
        let bytes = [0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(decode_value(&key, &bytes), None);
        assert_eq!(decode_value(&RecordKey::GroupMetadata, &[0, 0, 0]), None);
    }
}
