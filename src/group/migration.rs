//! Online migration between the classic group protocol and KIP-848's
//! (`group.consumer.migration.policy`), as Kafka 4's coordinator does it.
//!
//! - Upgrade: a consumer joining (ConsumerGroupHeartbeat) a classic group
//!   that has members turns it into a consumer group in which the classic
//!   members stay, keeping their partitions at the group's generation
//!   (`consumer/classic_members.rs` then serves their JoinGroup, SyncGroup
//!   and Heartbeat).
//! - Downgrade: when the last member speaking the consumer protocol leaves
//!   or times out and classic members remain, the group becomes a classic
//!   group again, with their last target assignment, and rebalances.
//!
//! The group's records are rewritten in one batch each way: the classic
//! group's tombstone and the consumer group's records, or the consumer
//! group's tombstones and the classic group's record.

use std::time::Instant;

use super::consumer::classic_members::{
    by_topic_id, by_topic_name, millis, CONSUMER_PROTOCOL_TYPE,
};
use super::consumer::{ClassicMember, ConsumerGroup, ConsumerMember, GroupError, MemberState};
use super::consumer_protocol;
use super::log_format::{GroupMetadata, MemberMetadata};
use super::state::{select_protocol, Group};
use super::GroupConfig;
use crate::metadata::MetadataImage;

/// The consumer group `classic` becomes when a consumer joins it, or why
/// it cannot (Kafka then answers GROUP_ID_NOT_FOUND).
pub fn upgrade(
    classic: &Group,
    config: &GroupConfig,
    image: &MetadataImage,
    now: Instant,
) -> Result<ConsumerGroup, GroupError> {
    let group_id = &classic.group_id;
    let refused = |why: &str| {
        tracing::info!(group = %group_id, "cannot upgrade the classic group to a consumer group: {why}");
        GroupError::GroupIdNotFound(format!("Group {group_id} is not a consumer group."))
    };
    if !config.migration_policy.upgrades() {
        return Err(refused("the online upgrade is disabled"));
    }
    if classic.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
        return Err(refused("the group does not use the consumer protocol"));
    }
    let classic_members: Vec<_> = classic.members().collect();
    if classic_members.len() > config.consumer_max_size {
        return Err(refused("the group is larger than group.consumer.max.size"));
    }
    let mut members = Vec::with_capacity(classic_members.len());
    for member in classic_members {
        // The protocol the group chose; a group still forming has none.
        let metadata = classic
            .protocol_name
            .as_deref()
            .and_then(|name| member.protocols.iter().find(|(n, _)| n == name))
            .or_else(|| member.protocols.first())
            .map(|(_, metadata)| metadata.as_ref())
            .unwrap_or_default();
        let subscription = consumer_protocol::subscription(metadata);
        // A member not assigned yet has no assignment bytes: nothing owned.
        let assignment = match member.assignment.is_empty() {
            true => Some(Default::default()),
            false => consumer_protocol::assignment(&member.assignment),
        };
        let (Some(subscription), Some(assignment)) = (subscription, assignment) else {
            tracing::warn!(group = %group_id, member = %member.member_id, "the embedded consumer protocol is malformed");
            return Err(GroupError::GroupIdNotFound(format!(
                "Cannot upgrade the classic group {group_id} to consumer group because the embedded consumer protocol is malformed."
            )));
        };
        let mut topics = subscription.topics;
        topics.sort();
        topics.dedup();
        let mut converted = ConsumerMember::new(member.member_id.clone());
        converted.instance_id = member.group_instance_id.clone();
        converted.rack_id = subscription.rack_id;
        converted.client_id = member.client_id.clone();
        converted.client_host = member.client_host.clone();
        converted.subscribed_topic_names = topics;
        converted.rebalance_timeout_ms = millis(member.rebalance_timeout);
        converted.member_epoch = classic.generation_id;
        converted.previous_member_epoch = classic.generation_id;
        converted.state = MemberState::Stable;
        converted.assigned_partitions = by_topic_id(image, &assignment);
        converted.classic = Some(ClassicMember {
            session_timeout_ms: millis(member.session_timeout),
            protocols: member.protocols.clone(),
        });
        members.push(converted);
    }
    tracing::info!(group = %group_id, generation = classic.generation_id, members = members.len(), "upgrading the classic group to a consumer group");
    Ok(ConsumerGroup::from_classic_members(
        group_id,
        config.clone(),
        classic.generation_id,
        members,
        now,
    ))
}

/// The classic group `consumer` becomes, if Kafka would downgrade it:
/// when `leaving` goes, its last member speaking the consumer protocol,
/// classic members remain; or (`leaving` `None`) when a classic static
/// member has just taken over the instance of that last one, so that every
/// member speaks the classic protocol. And the policy allows it, and the
/// members fit `group.max.size`. Each member gets its target assignment.
pub fn downgrade(
    consumer: &ConsumerGroup,
    leaving: Option<&str>,
    config: &GroupConfig,
    image: &MetadataImage,
    now_ms: i64,
) -> Option<GroupMetadata> {
    let group_id = &consumer.group_id;
    let leaving = leaving.unwrap_or_default();
    let eligible = match leaving {
        "" => {
            consumer.members().next().is_some()
                && consumer
                    .members()
                    .all(ConsumerMember::uses_classic_protocol)
        }
        leaving => consumer.only_classic_members_without(leaving),
    };
    if !eligible {
        return None;
    }
    if !config.migration_policy.downgrades() {
        tracing::info!(group = %group_id, "not downgrading the consumer group: the online downgrade is disabled");
        return None;
    }
    let remaining: Vec<(&ConsumerMember, &ClassicMember)> = consumer
        .members()
        .filter(|m| m.member_id != leaving)
        .filter_map(|m| Some((m, m.classic.as_ref()?)))
        .collect();
    if remaining.len() > config.max_size {
        tracing::info!(group = %group_id, "not downgrading the consumer group: it is larger than group.max.size");
        return None;
    }
    let protocol = select_protocol(remaining.iter().map(|(_, c)| c.protocols.as_slice()))?;
    let mut members = Vec::with_capacity(remaining.len());
    for (member, classic) in &remaining {
        let subscription = classic
            .protocols
            .iter()
            .find(|(name, _)| *name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default();
        let target = consumer
            .target_of(&member.member_id)
            .cloned()
            .unwrap_or_default();
        let assignment = consumer_protocol::encode_assignment(
            consumer_protocol::version(&subscription),
            &by_topic_name(image, &target),
        )
        .ok()?;
        members.push(MemberMetadata {
            member_id: member.member_id.clone(),
            group_instance_id: member.instance_id.clone(),
            client_id: member.client_id.clone(),
            client_host: member.client_host.clone(),
            rebalance_timeout_ms: member.rebalance_timeout_ms,
            session_timeout_ms: classic.session_timeout_ms,
            subscription,
            assignment,
        });
    }
    tracing::info!(group = %group_id, generation = consumer.group_epoch, members = members.len(), "downgrading the consumer group to a classic group");
    Some(GroupMetadata {
        protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
        generation_id: consumer.group_epoch,
        protocol_name: Some(protocol),
        leader: members.first().map(|m| m.member_id.clone()),
        state_timestamp: now_ms,
        members,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use bytes::Bytes;
    use kafka_protocol::error::ResponseError;
    use uuid::Uuid;

    use super::*;
    use crate::group::consumer::group::tests::{heartbeat, orders};
    use crate::group::consumer::Assignment;
    use crate::group::state::{JoinRequest, SyncRequest};
    use crate::group::MigrationPolicy;
    use crate::types::TopicPartition;

    const ORDERS: Uuid = Uuid::from_u128(42);

    /// A v1 subscription to `orders` owning `owned`.
    fn subscription(owned: &[i32]) -> Bytes {
        let mut out = vec![0, 1, 0, 0, 0, 1, 0, 6];
        out.extend_from_slice(b"orders");
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
        out.extend_from_slice(b"orders");
        out.extend_from_slice(&(owned.len() as i32).to_be_bytes());
        for partition in owned {
            out.extend_from_slice(&partition.to_be_bytes());
        }
        Bytes::from(out)
    }

    fn assignment(partitions: &[i32]) -> Bytes {
        let partitions = BTreeMap::from([("orders".to_string(), partitions.to_vec())]);
        consumer_protocol::encode_assignment(1, &partitions).unwrap()
    }

    fn partitions(assignment: &[u8]) -> Vec<i32> {
        consumer_protocol::assignment_partitions(assignment)
            .unwrap()
            .into_iter()
            .map(|TopicPartition { partition, .. }| partition)
            .collect()
    }

    fn owned(partitions: &[i32]) -> Assignment {
        Assignment::from([(ORDERS, partitions.iter().copied().collect())])
    }

    /// A stable classic group of generation 5: c-1 owns 0–2, c-2 owns 3–5.
    fn classic_group(config: &GroupConfig, now: Instant) -> Group {
        let member = |id: &str, owned: &[i32]| MemberMetadata {
            member_id: id.into(),
            group_instance_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout_ms: 10_000,
            session_timeout_ms: 6_000,
            subscription: subscription(owned),
            assignment: assignment(owned),
        };
        let mut group = Group::new("g", config.clone(), 0);
        group.restore(
            GroupMetadata {
                protocol_type: "consumer".into(),
                generation_id: 5,
                protocol_name: Some("range".into()),
                leader: Some("c-1".into()),
                state_timestamp: 0,
                members: vec![member("c-1", &[0, 1, 2]), member("c-2", &[3, 4, 5])],
            },
            now,
        );
        group
    }

    fn join(member_id: &str, owned: &[i32]) -> JoinRequest {
        JoinRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_millis(6_000),
            rebalance_timeout: Duration::from_millis(10_000),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), subscription(owned))],
            require_known_member_id: true,
            supports_skip_assignment: true,
        }
    }

    fn sync(member_id: &str, generation_id: i32) -> SyncRequest {
        SyncRequest {
            member_id: member_id.into(),
            generation_id,
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: Vec::new(),
        }
    }

    /// The classic member's rejoin dance: heartbeat until told to rejoin,
    /// join reporting what it owns, sync; returns what it owns after.
    fn rejoin(
        group: &mut ConsumerGroup,
        image: &MetadataImage,
        now: Instant,
        member_id: &str,
        owns: &[i32],
    ) -> Vec<i32> {
        let generation = group
            .describe()
            .members
            .iter()
            .find(|(m, _)| m.member_id == member_id)
            .unwrap()
            .0
            .member_epoch;
        assert_eq!(
            group.classic_heartbeat(now, member_id, generation, None),
            Some(ResponseError::RebalanceInProgress)
        );
        let joined = group.classic_join(now, image, join(member_id, owns));
        assert_eq!(joined.error, None);
        assert_eq!(joined.leader, "");
        assert_eq!(joined.protocol_name.as_deref(), Some("range"));
        let synced = group.classic_sync(now, image, &sync(member_id, joined.generation_id));
        assert_eq!(synced.error, None);
        partitions(&synced.assignment)
    }

    #[test]
    fn a_live_classic_group_upgrades_and_downgrades_without_owning_a_partition_twice() {
        let now = Instant::now();
        let image = orders(6);
        let config = GroupConfig::default();
        let classic = classic_group(&config, now);
        let mut group = upgrade(&classic, &config, &image, now).unwrap();
        assert_eq!(group.group_epoch, 5);
        let described = group.describe();
        assert_eq!(described.members.len(), 2);
        assert!(described
            .members
            .iter()
            .all(|(m, _)| m.uses_classic_protocol()));
        assert_eq!(
            described.members[0].0.assigned_partitions,
            owned(&[0, 1, 2])
        );

        // A consumer joins: every partition is still owned, so it waits.
        let first = group
            .heartbeat(now, &image, heartbeat("k-1", 0, Assignment::new()))
            .unwrap();
        assert_eq!(group.group_epoch, 6);
        assert_eq!(first.assignment, Some(Assignment::new()));
        // c-1 is asked to rejoin and gives one partition up before it may
        // move to epoch 6 (a v1 subscription reports what it still owns).
        let kept = rejoin(&mut group, &image, now, "c-1", &[0, 1, 2]);
        assert_eq!(kept.len(), 2);
        let kept = rejoin(&mut group, &image, now, "c-1", &kept);
        assert_eq!(kept.len(), 2);
        let kept_2 = rejoin(&mut group, &image, now, "c-2", &[3, 4, 5]);
        let kept_2 = rejoin(&mut group, &image, now, "c-2", &kept_2);
        assert_eq!(kept_2.len(), 2);
        // Now released, the consumer gets the two partitions left.
        let next = group
            .heartbeat(
                now,
                &image,
                heartbeat("k-1", first.member_epoch, Assignment::new()),
            )
            .unwrap();
        let consumer_owns: BTreeSet<i32> = next.assignment.unwrap()[&ORDERS].clone();
        assert_eq!(consumer_owns.len(), 2);
        let all: BTreeSet<i32> = kept
            .iter()
            .chain(&kept_2)
            .copied()
            .chain(consumer_owns)
            .collect();
        assert_eq!(all.len(), 6, "each partition owned once: {all:?}");
        // Stable: classic heartbeats pass.
        assert_eq!(group.classic_heartbeat(now, "c-1", 6, None), None);
        assert_eq!(
            group.classic_heartbeat(now, "c-1", 5, None),
            Some(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            group.classic_heartbeat(now, "k-1", 6, None),
            Some(ResponseError::UnknownMemberId)
        );

        // The consumer leaves: the classic members take the group back.
        assert!(downgrade(&group, Some("c-1"), &config, &image, 0).is_none());
        assert!(downgrade(&group, None, &config, &image, 0).is_none());
        let metadata = downgrade(&group, Some("k-1"), &config, &image, 0).unwrap();
        assert_eq!(metadata.generation_id, group.group_epoch);
        assert_eq!(metadata.protocol_name.as_deref(), Some("range"));
        let members: Vec<(&str, Vec<i32>)> = metadata
            .members
            .iter()
            .map(|m| (m.member_id.as_str(), partitions(&m.assignment)))
            .collect();
        assert_eq!(members, [("c-1", kept), ("c-2", kept_2)]);
        let mut back = Group::new("g", config.clone(), 0);
        back.restore(metadata, now);
        assert_eq!(back.members().count(), 2);
    }

    #[test]
    fn the_policy_decides_which_way_a_group_may_go() {
        let now = Instant::now();
        let image = orders(6);
        let mut config = GroupConfig {
            migration_policy: MigrationPolicy::Downgrade,
            ..GroupConfig::default()
        };
        let classic = classic_group(&config, now);
        let refused = upgrade(&classic, &config, &image, now).unwrap_err();
        assert_eq!(refused.code(), ResponseError::GroupIdNotFound);
        config.migration_policy = MigrationPolicy::Upgrade;
        let mut group = upgrade(&classic, &config, &image, now).unwrap();
        group
            .heartbeat(now, &image, heartbeat("k-1", 0, Assignment::new()))
            .unwrap();
        assert!(downgrade(&group, Some("k-1"), &config, &image, 0).is_none());
        config.migration_policy = MigrationPolicy::Bidirectional;
        assert!(downgrade(&group, Some("k-1"), &config, &image, 0).is_some());
        // Classic members must share a protocol and be consumers.
        let mut connect = join("", &[]);
        connect.protocol_type = "connect".into();
        let answer = group.classic_join(now, &image, connect);
        assert_eq!(answer.error, Some(ResponseError::InconsistentGroupProtocol));
        let mut other = join("", &[]);
        other.protocols[0].0 = "roundrobin".into();
        let answer = group.classic_join(now, &image, other);
        assert_eq!(answer.error, Some(ResponseError::InconsistentGroupProtocol));
        let answer = group.classic_join(now, &image, join("", &[]));
        assert_eq!(answer.error, Some(ResponseError::MemberIdRequired));
        let admitted = group.classic_join(now, &image, join(&answer.member_id, &[]));
        assert_eq!(admitted.error, None);
        assert_eq!(admitted.member_id, answer.member_id);
    }
}
