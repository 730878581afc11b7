//! Members that speak the classic protocol inside a consumer group: the
//! members a classic group had when a KIP-848 consumer joined it, and
//! classic consumers joining such a group later (Kafka's
//! `classicGroup{Join,Sync,Heartbeat,Leave}ToConsumerGroup`).
//!
//! The coordinator assigns for them as for the others. A JoinGroup
//! answers at once (generation = member epoch, no leader, so the member
//! computes nothing), updates the member's subscription and moves it one
//! reconciliation step, taking the subscription's owned partitions as what
//! it owns; SyncGroup hands it the partitions it owns at that step. Its
//! Heartbeat says REBALANCE_IN_PROGRESS while it has a step to take, so it
//! rejoins: partitions are revoked before others get them, as for every
//! member of a consumer group.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;

use super::group::{fenced_instance, ConsumerGroup};
use super::member::{ClassicMember, ConsumerMember, MemberState};
use super::{Assignment, GroupError};
use crate::group::consumer_protocol;
use crate::group::state::{JoinRequest, JoinResult, SyncRequest, SyncResult};
use crate::metadata::MetadataImage;

/// The protocol type of consumers, the only one a consumer group takes.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

impl ConsumerGroup {
    /// A classic JoinGroup.
    pub fn classic_join(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: JoinRequest,
    ) -> JoinResult {
        let unknown = request.member_id.is_empty();
        let member_id = match unknown {
            true => crate::kafka_uuid::random_text(),
            false => request.member_id.clone(),
        };
        let refuse = |error| JoinResult::error(error, &request.member_id);
        if !self.members.contains_key(&member_id)
            && self.members.len() >= self.config.consumer_max_size
        {
            return refuse(ResponseError::GroupMaxSizeReached);
        }
        if !self.supports_classic_protocols(&request.protocol_type, &request.protocols) {
            return refuse(ResponseError::InconsistentGroupProtocol);
        }
        if request.require_known_member_id && unknown && request.group_instance_id.is_none() {
            return JoinResult::error(ResponseError::MemberIdRequired, &member_id);
        }
        // Every protocol carries the same subscription.
        let Some(subscription) = request
            .protocols
            .first()
            .and_then(|(_, metadata)| consumer_protocol::subscription(metadata))
        else {
            return refuse(ResponseError::InconsistentGroupProtocol);
        };
        let member = match self.classic_joining_member(&member_id, unknown, &request) {
            Ok(member) => member,
            Err(error) => return refuse(error.code()),
        };
        let mut updated = member.clone();
        updated.instance_id = request.group_instance_id.clone();
        if subscription.rack_id.is_some() {
            updated.rack_id = subscription.rack_id.clone();
        }
        updated.rebalance_timeout_ms = millis(request.rebalance_timeout);
        updated.server_assignor = None;
        updated.subscribed_topic_regex = None;
        let mut topics = subscription.topics.clone();
        topics.sort();
        topics.dedup();
        updated.subscribed_topic_names = topics;
        updated.client_id = request.client_id.clone();
        updated.client_host = request.client_host.clone();
        updated.classic = Some(ClassicMember {
            session_timeout_ms: millis(request.session_timeout),
            protocols: request.protocols.clone(),
        });
        if !self.members.contains_key(&member_id) {
            tracing::info!(group = %self.group_id, member = %member_id, "classic member joins the consumer group");
        }
        // What it owns: what its subscription says (nothing before v1,
        // whose members give everything up before they rejoin).
        let owned = by_topic_id(image, &subscription.owned_partitions);
        let updated = self.update_and_reconcile(now, image, &member, updated, Some(&owned));
        self.session_deadlines
            .insert(member_id.clone(), now + request.session_timeout);
        // It must now sync within its rebalance timeout.
        self.classic_deadlines
            .insert(member_id.clone(), now + request.rebalance_timeout);
        let protocol_name = updated
            .classic
            .as_ref()
            .map(|c| c.protocol_name().to_string());
        JoinResult {
            error: None,
            generation_id: updated.member_epoch,
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name,
            leader: String::new(),
            member_id,
            members: Vec::new(),
            skip_assignment: false,
        }
    }

    /// A classic SyncGroup: the partitions the member owns at its epoch.
    pub fn classic_sync(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: &SyncRequest,
    ) -> SyncResult {
        let member = match self.classic_member(
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        ) {
            Ok(member) => member.clone(),
            Err(error) => return SyncResult::error(error.code()),
        };
        let classic = member.classic.clone().unwrap_or_else(|| ClassicMember {
            session_timeout_ms: 0,
            protocols: Vec::new(),
        });
        if request
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER_PROTOCOL_TYPE)
            || request
                .protocol_name
                .as_deref()
                .is_some_and(|n| n != classic.protocol_name())
        {
            return SyncResult::error(ResponseError::InconsistentGroupProtocol);
        }
        // A member mid-revocation has rejoined already: it syncs to finish.
        if self.group_epoch > member.member_epoch
            && member.state != MemberState::UnrevokedPartitions
        {
            self.expect_rejoin(now, &member);
            return SyncResult::error(ResponseError::RebalanceInProgress);
        }
        self.classic_deadlines.remove(&member.member_id);
        self.session_deadlines.insert(
            member.member_id.clone(),
            now + Duration::from_millis(classic.session_timeout_ms.max(0) as u64),
        );
        let partitions = by_topic_name(image, &member.assigned_partitions);
        let version = consumer_protocol::version(classic.subscription());
        match consumer_protocol::encode_assignment(version, &partitions) {
            Ok(assignment) => SyncResult {
                error: None,
                protocol_type: request.protocol_type.clone(),
                protocol_name: request.protocol_name.clone(),
                assignment,
            },
            // Topic names come from the metadata, whose names fit.
            Err(_) => SyncResult::error(ResponseError::UnknownServerError),
        }
    }

    /// A classic Heartbeat: REBALANCE_IN_PROGRESS while the member has a
    /// reconciliation step to take (it takes it by rejoining).
    pub fn classic_heartbeat(
        &mut self,
        now: Instant,
        member_id: &str,
        generation_id: i32,
        instance_id: Option<&str>,
    ) -> Option<ResponseError> {
        let member = match self.classic_member(member_id, instance_id, generation_id) {
            Ok(member) => member.clone(),
            Err(error) => return Some(error.code()),
        };
        let session = self.session_timeout(&member);
        self.session_deadlines
            .insert(member.member_id.clone(), now + session);
        let must_rejoin = member.member_epoch < self.group_epoch
            || member.state == MemberState::UnrevokedPartitions
            || (member.state == MemberState::UnreleasedPartitions
                && !self.waits_on_unreleased_partition(&member));
        if must_rejoin {
            self.expect_rejoin(now, &member);
            return Some(ResponseError::RebalanceInProgress);
        }
        None
    }

    /// A classic LeaveGroup of one member, by member id or instance id;
    /// the id of the member that left.
    pub fn classic_leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<String, ResponseError> {
        let member = match instance_id {
            None => self.known_member(member_id).map_err(|e| e.code())?,
            Some(instance_id) => {
                let member = self
                    .member_of_instance(instance_id)
                    .ok_or(ResponseError::UnknownMemberId)?;
                // An admin removes static members by instance id alone.
                if !member_id.is_empty() && member.member_id != member_id {
                    return Err(ResponseError::FencedInstanceId);
                }
                member
            }
        };
        if !member.uses_classic_protocol() {
            return Err(ResponseError::UnknownMemberId);
        }
        let member_id = member.member_id.clone();
        tracing::info!(group = %self.group_id, member = %member_id, "classic member left the consumer group");
        self.remove_member(&member_id);
        Ok(member_id)
    }

    /// Kafka's rule for classic members of a consumer group: the
    /// consumer protocol type, and a protocol every classic member has.
    fn supports_classic_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
    ) -> bool {
        if protocol_type != CONSUMER_PROTOCOL_TYPE || protocols.is_empty() {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .filter_map(|m| m.classic.as_ref())
                .all(|c| c.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// The member a JoinGroup is for: the known one, a new one, or (a
    /// static member coming back with a new id) the one it replaces.
    fn classic_joining_member(
        &mut self,
        member_id: &str,
        unknown: bool,
        request: &JoinRequest,
    ) -> Result<ConsumerMember, GroupError> {
        let not_classic = || {
            GroupError::UnknownMemberId(format!(
                "Member {member_id} does not use the classic protocol."
            ))
        };
        let Some(instance_id) = request.group_instance_id.as_deref() else {
            return match self.members.get(member_id) {
                Some(member) if member.uses_classic_protocol() => Ok(member.clone()),
                Some(_) => Err(not_classic()),
                None => Ok(ConsumerMember::new(member_id.to_string())),
            };
        };
        let existing = self.member_of_instance(instance_id).cloned();
        match existing {
            None => Ok(ConsumerMember::new(member_id.to_string())),
            Some(existing) if existing.member_id == member_id => match existing.classic {
                Some(_) => Ok(existing),
                None => Err(not_classic()),
            },
            // The new member id takes over the instance's partitions.
            Some(existing) if unknown => Ok(self.replace_static_member(existing, member_id)),
            Some(existing) => Err(fenced_instance(member_id, instance_id, &existing.member_id)),
        }
    }

    /// The classic member a SyncGroup or Heartbeat names, at `generation`.
    fn classic_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<&ConsumerMember, GroupError> {
        let member = match instance_id {
            None => self.known_member(member_id)?,
            Some(instance_id) => {
                let member = self.member_of_instance(instance_id).ok_or_else(|| {
                    GroupError::UnknownMemberId(format!(
                        "Member with instance id {instance_id} is not a member of group {}.",
                        self.group_id
                    ))
                })?;
                if member.member_id != member_id {
                    return Err(fenced_instance(member_id, instance_id, &member.member_id));
                }
                member
            }
        };
        if !member.uses_classic_protocol() {
            return Err(GroupError::UnknownMemberId(format!(
                "Member {member_id} does not use the classic protocol."
            )));
        }
        if generation != member.member_epoch {
            return Err(GroupError::IllegalGeneration(format!(
                "The member {member_id} has generation {} but sent {generation}.",
                member.member_epoch
            )));
        }
        Ok(member)
    }

    /// The member was told to rejoin: it must within its rebalance
    /// timeout (a sync already pending keeps its own deadline).
    fn expect_rejoin(&mut self, now: Instant, member: &ConsumerMember) {
        let timeout = Duration::from_millis(member.rebalance_timeout_ms.max(0) as u64);
        self.classic_deadlines
            .entry(member.member_id.clone())
            .or_insert(now + timeout);
    }

    /// Whether a member's missing target partitions are all still owned
    /// by others: rejoining would not get it any of them yet.
    fn waits_on_unreleased_partition(&self, member: &ConsumerMember) -> bool {
        let Some(target) = self.target.get(&member.member_id) else {
            return false;
        };
        target.iter().any(|(topic_id, partitions)| {
            let assigned = member.assigned_partitions.get(topic_id);
            partitions.iter().any(|partition| {
                !assigned.is_some_and(|a| a.contains(partition))
                    && self.partition_epoch(*topic_id, *partition) != -1
            })
        })
    }
}

/// A consumer-protocol assignment or owned list by topic id; topics the
/// metadata does not know are left out.
pub fn by_topic_id(image: &MetadataImage, partitions: &BTreeMap<String, Vec<i32>>) -> Assignment {
    partitions
        .iter()
        .filter_map(|(name, partitions)| {
            let topic = image.topic(name)?;
            Some((topic.id, partitions.iter().copied().collect()))
        })
        .collect()
}

/// An assignment by topic name, for the consumer protocol; topics deleted
/// since are left out.
pub fn by_topic_name(image: &MetadataImage, assignment: &Assignment) -> BTreeMap<String, Vec<i32>> {
    assignment
        .iter()
        .filter_map(|(topic_id, partitions)| {
            let topic = image.topic_by_id(*topic_id)?;
            Some((topic.name.clone(), partitions.iter().copied().collect()))
        })
        .collect()
}

/// A timeout as the i32 milliseconds Kafka's records keep.
pub fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

impl ConsumerGroup {
    /// The consumer group a classic group becomes in an online upgrade:
    /// its members keep their partitions (their current and target
    /// assignment) at the group's generation, which becomes the group
    /// epoch; their sessions start now.
    pub fn from_classic_members(
        group_id: &str,
        config: crate::group::GroupConfig,
        generation: i32,
        members: Vec<ConsumerMember>,
        now: Instant,
    ) -> ConsumerGroup {
        let mut group = ConsumerGroup::new(group_id, config);
        group.group_epoch = generation;
        group.assignment_epoch = generation;
        for member in members {
            let session = group.session_timeout(&member);
            group
                .session_deadlines
                .insert(member.member_id.clone(), now + session);
            group
                .target
                .insert(member.member_id.clone(), member.assigned_partitions.clone());
            group.update_member(member);
        }
        group
    }
}
