//! A consumer group (KIP-848): its members, the group epoch (bumped when
//! membership, subscriptions or the subscribed topics change), the target
//! assignment computed for that epoch, and who owns which partition now.
//!
//! Each heartbeat updates its member, recomputes the target assignment if
//! the group epoch moved past it, and reconciles the member one step (see
//! `reconciliation.rs`). Members that stop heartbeating for the session
//! timeout, or do not give up partitions within their rebalance timeout,
//! are removed and their partitions go to the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::assignor::{Assignor, MemberSpec};
use super::member::{ConsumerMember, MemberState};
use super::reconciliation::reconcile;
use super::records::{CurrentAssignment, Image, MemberMetadata, RecordKey, RecordValue};
use super::{
    Assignment, GroupError, JOIN_GROUP_MEMBER_EPOCH, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use crate::group::GroupConfig;
use crate::metadata::MetadataImage;

/// The first ConsumerGroupHeartbeat version whose member ids the client
/// generates (KIP-1082); before it, the coordinator does on join.
const CLIENT_GENERATED_MEMBER_ID_VERSION: i16 = 1;

/// A consumer group's state as DescribeGroups, ListGroups and
/// ConsumerGroupDescribe name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerGroupState {
    Empty,
    /// The group epoch moved past the target assignment's.
    Assigning,
    /// Some member does not own its target assignment yet.
    Reconciling,
    Stable,
}

impl ConsumerGroupState {
    pub fn name(self) -> &'static str {
        match self {
            ConsumerGroupState::Empty => "Empty",
            ConsumerGroupState::Assigning => "Assigning",
            ConsumerGroupState::Reconciling => "Reconciling",
            ConsumerGroupState::Stable => "Stable",
        }
    }
}

/// A subscribed topic as the group last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribedTopic {
    pub id: Uuid,
    pub partitions: i32,
}

/// One ConsumerGroupHeartbeat, as the coordinator takes it.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub version: i16,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns, if it said.
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Sent when the member's assignment changed or it sent everything.
    pub assignment: Option<Assignment>,
}

impl Heartbeat {
    /// The checks Kafka makes before looking at the group.
    pub fn validate(&self, config: &GroupConfig) -> Result<(), GroupError> {
        let invalid = |message: &str| Err(GroupError::InvalidRequest(message.into()));
        if self.instance_id.as_deref() == Some("") {
            return invalid("InstanceId can't be empty.");
        }
        if self.rack_id.as_deref() == Some("") {
            return invalid("RackId can't be empty.");
        }
        if self.version >= CLIENT_GENERATED_MEMBER_ID_VERSION && self.member_id.is_empty() {
            return invalid("MemberId can't be empty.");
        }
        match self.member_epoch {
            JOIN_GROUP_MEMBER_EPOCH => {
                if self.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                if !self.owned.as_ref().is_some_and(BTreeMap::is_empty) {
                    return invalid("TopicPartitions must be empty when (re-)joining.");
                }
                if self.subscribed_topic_names.is_none() && self.subscribed_topic_regex.is_none() {
                    return invalid(
                        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
                    );
                }
            }
            LEAVE_GROUP_STATIC_MEMBER_EPOCH if self.instance_id.is_none() => {
                return invalid("InstanceId can't be null.");
            }
            epoch if epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                return invalid("MemberEpoch is invalid.");
            }
            _ if self.member_id.is_empty() => return invalid("MemberId can't be empty."),
            _ => {}
        }
        if let Some(pattern) = self.subscribed_topic_regex.as_deref() {
            if let Err(error) = topic_regex(pattern) {
                return Err(GroupError::InvalidRegularExpression(format!(
                    "SubscribedTopicRegex `{pattern}` is not a valid regular expression: {error}."
                )));
            }
        }
        if let Some(assignor) = &self.server_assignor {
            if !config.consumer_assignors.iter().any(|a| a == assignor) {
                return Err(GroupError::UnsupportedAssignor(format!(
                    "ServerAssignor {assignor} is not supported. Supported assignors: {}.",
                    config.consumer_assignors.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether the member sent every field: it then gets its assignment
    /// whether it changed or not.
    fn is_full(&self) -> bool {
        self.member_epoch == JOIN_GROUP_MEMBER_EPOCH
            || (self.rebalance_timeout_ms != -1
                && self.subscribed_topic_names.is_some()
                && self.owned.is_some())
    }
}

#[derive(Debug)]
pub struct ConsumerGroup {
    pub group_id: String,
    pub group_epoch: i32,
    /// The group epoch the target assignment was computed for.
    pub assignment_epoch: i32,
    pub(super) members: BTreeMap<String, ConsumerMember>,
    /// Member id by instance id, for static members.
    pub(super) static_members: HashMap<String, String>,
    pub(super) target: BTreeMap<String, Assignment>,
    /// The epoch of the member owning each partition (assigned or pending
    /// revocation); partitions nobody owns are absent.
    partition_epochs: HashMap<(Uuid, i32), i32>,
    subscription_metadata: BTreeMap<String, SubscribedTopic>,
    pub(super) session_deadlines: HashMap<String, Instant>,
    /// Members that must give up partitions, and until when.
    revocation_deadlines: HashMap<String, Instant>,
    /// Classic members that must rejoin, or sync after joining, and until
    /// when (their rebalance timeout: Kafka's join and sync timers).
    pub(super) classic_deadlines: HashMap<String, Instant>,
    /// The members' topic regexes, compiled.
    regexes: HashMap<String, regex::Regex>,
    pub(super) config: GroupConfig,
}

/// A snapshot for ConsumerGroupDescribe, DescribeGroups and ListGroups.
#[derive(Debug, Clone)]
pub struct ConsumerGroupDescription {
    pub state: ConsumerGroupState,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor_name: String,
    /// Each member with its target assignment.
    pub members: Vec<(ConsumerMember, Assignment)>,
}

impl ConsumerGroup {
    pub fn new(group_id: &str, config: GroupConfig) -> ConsumerGroup {
        ConsumerGroup {
            group_id: group_id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            target: BTreeMap::new(),
            partition_epochs: HashMap::new(),
            subscription_metadata: BTreeMap::new(),
            session_deadlines: HashMap::new(),
            revocation_deadlines: HashMap::new(),
            classic_deadlines: HashMap::new(),
            regexes: HashMap::new(),
            config,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The group as its `__consumer_offsets` records say it: what must
    /// survive a restart or a coordinator move (not the timers).
    pub fn image(&self) -> Image {
        let mut image = Image::from([
            (
                RecordKey::GroupMetadata,
                RecordValue::GroupMetadata {
                    epoch: self.group_epoch,
                },
            ),
            (
                RecordKey::PartitionMetadata,
                RecordValue::PartitionMetadata(self.subscription_metadata.clone()),
            ),
            (
                RecordKey::TargetAssignmentMetadata,
                RecordValue::TargetAssignmentMetadata {
                    assignment_epoch: self.assignment_epoch,
                },
            ),
        ]);
        for (member_id, target) in &self.target {
            image.insert(
                RecordKey::TargetAssignmentMember(member_id.clone()),
                RecordValue::TargetAssignmentMember(target.clone()),
            );
        }
        for member in self.members.values() {
            let metadata = MemberMetadata {
                instance_id: member.instance_id.clone(),
                rack_id: member.rack_id.clone(),
                client_id: member.client_id.clone(),
                client_host: member.client_host.clone(),
                subscribed_topic_names: member.subscribed_topic_names.clone(),
                subscribed_topic_regex: member.subscribed_topic_regex.clone(),
                rebalance_timeout_ms: member.rebalance_timeout_ms,
                server_assignor: member.server_assignor.clone(),
                classic: member.classic.clone(),
            };
            let current = CurrentAssignment {
                member_epoch: member.member_epoch,
                previous_member_epoch: member.previous_member_epoch,
                state: member.state,
                assigned_partitions: member.assigned_partitions.clone(),
                partitions_pending_revocation: member.partitions_pending_revocation.clone(),
            };
            image.insert(
                RecordKey::MemberMetadata(member.member_id.clone()),
                RecordValue::MemberMetadata(metadata),
            );
            image.insert(
                RecordKey::CurrentMemberAssignment(member.member_id.clone()),
                RecordValue::CurrentMemberAssignment(current),
            );
        }
        image
    }

    /// The group its records describe, as Kafka's coordinator rebuilds it
    /// when it loads the group: sessions start `now` (members that are gone
    /// time out), and members giving up partitions get their rebalance
    /// timeout again. `None` if there is no record.
    pub fn restore(
        group_id: &str,
        config: GroupConfig,
        image: &Image,
        now: Instant,
    ) -> Option<ConsumerGroup> {
        if image.is_empty() {
            return None;
        }
        let mut group = ConsumerGroup::new(group_id, config);
        let mut members: BTreeMap<String, ConsumerMember> = BTreeMap::new();
        for (key, value) in image {
            match (key, value) {
                (_, RecordValue::GroupMetadata { epoch }) => group.group_epoch = *epoch,
                (_, RecordValue::PartitionMetadata(topics)) => {
                    group.subscription_metadata = topics.clone();
                }
                (_, RecordValue::TargetAssignmentMetadata { assignment_epoch }) => {
                    group.assignment_epoch = *assignment_epoch;
                }
                (
                    RecordKey::TargetAssignmentMember(member_id),
                    RecordValue::TargetAssignmentMember(target),
                ) => {
                    group.target.insert(member_id.clone(), target.clone());
                }
                (RecordKey::MemberMetadata(member_id), RecordValue::MemberMetadata(metadata)) => {
                    let member = members
                        .entry(member_id.clone())
                        .or_insert_with(|| ConsumerMember::new(member_id.clone()));
                    member.instance_id = metadata.instance_id.clone();
                    member.rack_id = metadata.rack_id.clone();
                    member.client_id = metadata.client_id.clone();
                    member.client_host = metadata.client_host.clone();
                    member.subscribed_topic_names = metadata.subscribed_topic_names.clone();
                    member.subscribed_topic_regex = metadata.subscribed_topic_regex.clone();
                    member.rebalance_timeout_ms = metadata.rebalance_timeout_ms;
                    member.server_assignor = metadata.server_assignor.clone();
                    member.classic = metadata.classic.clone();
                }
                (
                    RecordKey::CurrentMemberAssignment(member_id),
                    RecordValue::CurrentMemberAssignment(current),
                ) => {
                    let member = members
                        .entry(member_id.clone())
                        .or_insert_with(|| ConsumerMember::new(member_id.clone()));
                    member.member_epoch = current.member_epoch;
                    member.previous_member_epoch = current.previous_member_epoch;
                    member.state = current.state;
                    member.assigned_partitions = current.assigned_partitions.clone();
                    member.partitions_pending_revocation =
                        current.partitions_pending_revocation.clone();
                }
                // A value under another record's key is never decoded.
                _ => {}
            }
        }
        for member in members.into_values() {
            let member_id = member.member_id.clone();
            if member.state == MemberState::UnrevokedPartitions && !member.uses_classic_protocol() {
                let timeout = Duration::from_millis(member.rebalance_timeout_ms.max(0) as u64);
                group
                    .revocation_deadlines
                    .insert(member_id.clone(), now + timeout);
            }
            let session = group.session_timeout(&member);
            group.session_deadlines.insert(member_id, now + session);
            group.update_member(member);
        }
        Some(group)
    }

    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    pub fn describe(&self) -> ConsumerGroupDescription {
        ConsumerGroupDescription {
            state: self.state(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            assignor_name: self.preferred_assignor().name().to_string(),
            members: self
                .members
                .values()
                .map(|m| {
                    let target = self.target.get(&m.member_id).cloned().unwrap_or_default();
                    (m.clone(), target)
                })
                .collect(),
        }
    }

    /// Whether a member subscribes to `topic` (OffsetDelete refuses it).
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.members.values().any(|m| self.subscribes(m, topic))
    }

    /// Whether `member` subscribes to `topic`, by name or by its regex.
    fn subscribes(&self, member: &ConsumerMember, topic: &str) -> bool {
        member.subscribed_topic_names.iter().any(|t| t == topic)
            || member
                .subscribed_topic_regex
                .as_ref()
                .and_then(|pattern| self.regexes.get(pattern))
                .is_some_and(|regex| regex.is_match(topic))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.session_deadlines
            .values()
            .chain(self.revocation_deadlines.values())
            .chain(self.classic_deadlines.values())
            .min()
            .copied()
    }

    /// The members whose session, revocation, join or sync time ran out;
    /// the caller removes them ([`ConsumerGroup::fence`]), or downgrades
    /// the group without them.
    pub fn expired_members(&self, now: Instant) -> Vec<String> {
        let expired: BTreeSet<String> = self
            .session_deadlines
            .iter()
            .chain(self.revocation_deadlines.iter())
            .chain(self.classic_deadlines.iter())
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(member_id, _)| member_id.clone())
            .collect();
        expired.into_iter().collect()
    }

    /// Removes a member that left or timed out: its partitions go to the
    /// others with the next target assignment.
    pub fn fence(&mut self, member_id: &str) {
        self.remove_member(member_id);
    }

    /// How long a member lives without a heartbeat: the group's session
    /// timeout, or a classic member's own.
    pub(super) fn session_timeout(&self, member: &ConsumerMember) -> Duration {
        match &member.classic {
            Some(classic) => Duration::from_millis(classic.session_timeout_ms.max(0) as u64),
            None => self.config.consumer_session_timeout,
        }
    }

    /// The members, by id.
    pub fn members(&self) -> impl Iterator<Item = &ConsumerMember> {
        self.members.values()
    }

    /// The static member of `instance_id`, if there is one.
    pub fn member_of_instance(&self, instance_id: &str) -> Option<&ConsumerMember> {
        self.static_members
            .get(instance_id)
            .and_then(|member_id| self.members.get(member_id))
    }

    /// The member's target assignment.
    pub fn target_of(&self, member_id: &str) -> Option<&Assignment> {
        self.target.get(member_id)
    }

    /// Whether `member_id` leaving would leave only members speaking the
    /// classic protocol (at least one): Kafka then downgrades the group.
    pub fn only_classic_members_without(&self, member_id: &str) -> bool {
        self.members.len() > 1
            && self
                .members
                .get(member_id)
                .is_some_and(|m| !m.uses_classic_protocol())
            && self
                .members
                .values()
                .filter(|m| m.member_id != member_id)
                .all(ConsumerMember::uses_classic_protocol)
    }

    /// One ConsumerGroupHeartbeat (join, heartbeat or leave), validated
    /// by [`Heartbeat::validate`] first.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: Heartbeat,
    ) -> Result<HeartbeatAnswer, GroupError> {
        if matches!(
            request.member_epoch,
            LEAVE_GROUP_MEMBER_EPOCH | LEAVE_GROUP_STATIC_MEMBER_EPOCH
        ) {
            return self.leave(&request);
        }
        let joining = request.member_epoch == JOIN_GROUP_MEMBER_EPOCH;
        let member_id = match request.member_id.is_empty() {
            true => crate::kafka_uuid::random_text(),
            false => request.member_id.clone(),
        };
        if joining
            && !self.members.contains_key(&member_id)
            && self.members.len() >= self.config.consumer_max_size
        {
            return Err(GroupError::GroupMaxSizeReached(format!(
                "The consumer group has reached its maximum capacity of {} members.",
                self.config.consumer_max_size
            )));
        }
        let member = match &request.instance_id {
            None => self.dynamic_member(&member_id, &request)?,
            Some(instance_id) => self.static_member(&member_id, instance_id, &request)?,
        };
        let is_new = !self.members.contains_key(&member_id);
        let mut updated = member.clone();
        updated.classic = None;
        if request.instance_id.is_some() {
            updated.instance_id = request.instance_id.clone();
        }
        if request.rack_id.is_some() {
            updated.rack_id = request.rack_id.clone();
        }
        if request.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = request.rebalance_timeout_ms;
        }
        if request.server_assignor.is_some() {
            updated.server_assignor = request.server_assignor.clone();
        }
        if let Some(pattern) = &request.subscribed_topic_regex {
            // An empty regex subscribes to nothing, as in Kafka.
            updated.subscribed_topic_regex = Some(pattern.clone()).filter(|p| !p.is_empty());
        }
        if let Some(names) = &request.subscribed_topic_names {
            let mut names = names.clone();
            names.sort();
            names.dedup();
            updated.subscribed_topic_names = names;
        }
        updated.client_id = request.client_id.clone();
        updated.client_host = request.client_host.clone();
        if is_new {
            tracing::info!(group = %self.group_id, member = %member_id, "member joins the consumer group");
        }
        let updated =
            self.update_and_reconcile(now, image, &member, updated, request.owned.as_ref());
        self.session_deadlines.insert(
            member_id.clone(),
            now + self.config.consumer_session_timeout,
        );
        let changed = updated.assigned_partitions != member.assigned_partitions;
        Ok(HeartbeatAnswer {
            member_id,
            member_epoch: updated.member_epoch,
            heartbeat_interval_ms: self.config.consumer_heartbeat_interval.as_millis() as i32,
            assignment: (request.is_full() || changed).then(|| updated.assigned_partitions.clone()),
        })
    }

    /// Stores a member's new subscription (`member` is how it was), bumps
    /// the group epoch if the subscriptions or the subscribed topics
    /// changed, recomputes the target assignment if the epoch moved past
    /// it, and moves the member one step towards its target; `owned` is
    /// what it reported owning. Returns the member as it now is.
    pub(super) fn update_and_reconcile(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        member: &ConsumerMember,
        updated: ConsumerMember,
        owned: Option<&Assignment>,
    ) -> ConsumerMember {
        let mut bump = updated.subscribed_topic_names != member.subscribed_topic_names
            || updated.subscribed_topic_regex != member.subscribed_topic_regex
            || updated.server_assignor != member.server_assignor;
        self.update_member(updated.clone());
        let metadata = self.subscription_metadata(image);
        if metadata != self.subscription_metadata {
            self.subscription_metadata = metadata;
            bump = true;
        }
        if bump {
            self.group_epoch += 1;
        }
        if self.group_epoch > self.assignment_epoch {
            self.compute_target_assignment();
        }
        if updated.is_reconciled_to(self.assignment_epoch) {
            return updated;
        }
        let target = self
            .target
            .get(&updated.member_id)
            .cloned()
            .unwrap_or_default();
        let next = reconcile(
            &updated,
            self.assignment_epoch,
            &target,
            owned,
            |topic_id, partition| self.partition_epoch(topic_id, partition),
        );
        if next == updated {
            return updated;
        }
        // Classic members have join and sync timers instead.
        if next.state == MemberState::UnrevokedPartitions && !next.uses_classic_protocol() {
            let timeout = Duration::from_millis(next.rebalance_timeout_ms.max(0) as u64);
            self.revocation_deadlines
                .insert(next.member_id.clone(), now + timeout);
        } else {
            self.revocation_deadlines.remove(&next.member_id);
        }
        self.update_member(next.clone());
        next
    }

    fn dynamic_member(
        &mut self,
        member_id: &str,
        request: &Heartbeat,
    ) -> Result<ConsumerMember, GroupError> {
        let joining = request.member_epoch == JOIN_GROUP_MEMBER_EPOCH;
        match self.members.get(member_id) {
            Some(existing) => match check_member_epoch(existing, request) {
                Ok(()) => Ok(existing.clone()),
                // A member that rejoins with its own member id (KIP-1082
                // clients keep theirs after being fenced) starts afresh.
                Err(_) if joining => {
                    self.remove_member(member_id);
                    Ok(ConsumerMember::new(member_id.to_string()))
                }
                Err(error) => Err(error),
            },
            None if joining => Ok(ConsumerMember::new(member_id.to_string())),
            None => Err(GroupError::UnknownMemberId(format!(
                "Member {member_id} is not a member of group {}.",
                self.group_id
            ))),
        }
    }

    fn static_member(
        &mut self,
        member_id: &str,
        instance_id: &str,
        request: &Heartbeat,
    ) -> Result<ConsumerMember, GroupError> {
        let existing = self
            .static_members
            .get(instance_id)
            .and_then(|id| self.members.get(id))
            .cloned();
        if request.member_epoch != JOIN_GROUP_MEMBER_EPOCH {
            let existing = existing.ok_or_else(|| {
                GroupError::UnknownMemberId(format!("Instance id {instance_id} is unknown."))
            })?;
            if existing.member_id != member_id {
                return Err(fenced_instance(member_id, instance_id, &existing.member_id));
            }
            check_member_epoch(&existing, request)?;
            return Ok(existing);
        }
        match existing {
            None => self.dynamic_member(member_id, request),
            Some(existing) if existing.member_id == member_id => {
                self.dynamic_member(member_id, request)
            }
            Some(existing) if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                Err(GroupError::UnreleasedInstanceId(format!(
                    "Static member {member_id} with instance id {instance_id} cannot join the group \
                     because the instance id is owned by {} member.",
                    existing.member_id
                )))
            }
            // The static member comes back with a new member id.
            Some(existing) => Ok(self.replace_static_member(existing, member_id)),
        }
    }

    /// A static member's new member id takes over its partitions and
    /// target assignment, at epoch 0.
    pub(super) fn replace_static_member(
        &mut self,
        existing: ConsumerMember,
        member_id: &str,
    ) -> ConsumerMember {
        let target = self.target.remove(&existing.member_id);
        self.forget_member(&existing.member_id);
        let mut replacement = existing;
        replacement.member_id = member_id.to_string();
        replacement.member_epoch = 0;
        replacement.previous_member_epoch = 0;
        if let Some(target) = target {
            self.target.insert(member_id.to_string(), target);
        }
        self.update_member(replacement.clone());
        replacement
    }

    fn leave(&mut self, request: &Heartbeat) -> Result<HeartbeatAnswer, GroupError> {
        let answer = |member_epoch| HeartbeatAnswer {
            member_id: request.member_id.clone(),
            member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        };
        let member = match &request.instance_id {
            None => self
                .members
                .get(&request.member_id)
                .cloned()
                .ok_or_else(|| {
                    GroupError::UnknownMemberId(format!(
                        "Member {} is not a member of group {}.",
                        request.member_id, self.group_id
                    ))
                })?,
            Some(instance_id) => {
                let member = self
                    .static_members
                    .get(instance_id)
                    .and_then(|id| self.members.get(id))
                    .cloned()
                    .ok_or_else(|| {
                        GroupError::UnknownMemberId(format!(
                            "Instance id {instance_id} is unknown."
                        ))
                    })?;
                if member.member_id != request.member_id {
                    return Err(fenced_instance(
                        &request.member_id,
                        instance_id,
                        &member.member_id,
                    ));
                }
                member
            }
        };
        if request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // It keeps its partitions until it is back or its session ends.
            let mut leaving = member;
            leaving.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
            leaving.partitions_pending_revocation = Assignment::new();
            self.revocation_deadlines.remove(&leaving.member_id);
            self.update_member(leaving);
            return Ok(answer(LEAVE_GROUP_STATIC_MEMBER_EPOCH));
        }
        tracing::info!(group = %self.group_id, member = %member.member_id, "member left the consumer group");
        self.remove_member(&member.member_id);
        Ok(answer(request.member_epoch))
    }

    /// OffsetCommit (or TxnOffsetCommit) checked against the members:
    /// commits from outside the group (epoch -1) only while it is empty.
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
        transactional: bool,
        api_version: i16,
    ) -> Result<(), GroupError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self.known_member(member_id)?;
        // A classic member commits with its generation, at any version.
        if !transactional && api_version < 9 && !member.uses_classic_protocol() {
            return Err(GroupError::UnsupportedVersion(
                "OffsetCommit version 9 or above must be used by members using the modern group protocol"
                    .into(),
            ));
        }
        check_epoch_is_current(member, member_epoch)
    }

    /// OffsetFetch v9 with a member id and epoch is checked like a commit.
    pub fn validate_offset_fetch(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let Some(member_id) = member_id.filter(|_| member_epoch >= 0) else {
            return Ok(());
        };
        check_epoch_is_current(self.known_member(member_id)?, member_epoch)
    }

    pub(super) fn known_member(&self, member_id: &str) -> Result<&ConsumerMember, GroupError> {
        self.members.get(member_id).ok_or_else(|| {
            GroupError::UnknownMemberId(format!(
                "Member {member_id} is not a member of group {}.",
                self.group_id
            ))
        })
    }

    pub(super) fn partition_epoch(&self, topic_id: Uuid, partition: i32) -> i32 {
        self.partition_epochs
            .get(&(topic_id, partition))
            .copied()
            .unwrap_or(-1)
    }

    /// Stores a member's new state, keeping who-owns-what in step.
    pub(super) fn update_member(&mut self, member: ConsumerMember) {
        if let Some(pattern) = &member.subscribed_topic_regex {
            if !self.regexes.contains_key(pattern) {
                if let Ok(regex) = topic_regex(pattern) {
                    self.regexes.insert(pattern.clone(), regex);
                }
            }
        }
        if let Some(old) = self.members.get(&member.member_id) {
            for key in old.owned_partitions() {
                self.partition_epochs.remove(&key);
            }
        }
        for key in member.owned_partitions() {
            self.partition_epochs.insert(key, member.member_epoch);
        }
        if let Some(instance_id) = &member.instance_id {
            self.static_members
                .insert(instance_id.clone(), member.member_id.clone());
        }
        self.members.insert(member.member_id.clone(), member);
    }

    /// Drops a member without touching the group epoch.
    fn forget_member(&mut self, member_id: &str) {
        if let Some(member) = self.members.remove(member_id) {
            for key in member.owned_partitions() {
                self.partition_epochs.remove(&key);
            }
            if let Some(instance_id) = &member.instance_id {
                if self.static_members.get(instance_id).map(String::as_str) == Some(member_id) {
                    self.static_members.remove(instance_id);
                }
            }
        }
        self.target.remove(member_id);
        self.session_deadlines.remove(member_id);
        self.revocation_deadlines.remove(member_id);
        self.classic_deadlines.remove(member_id);
    }

    /// A member leaves or is fenced: its partitions are free for the
    /// others once the next target assignment gives them out.
    pub(super) fn remove_member(&mut self, member_id: &str) {
        if self.members.contains_key(member_id) {
            self.forget_member(member_id);
            self.group_epoch += 1;
        }
    }

    /// The topics the members subscribe to, by name or regex, as the
    /// metadata has them now; topics that do not exist are left out until
    /// they do, and regexes never match internal topics.
    fn subscription_metadata(&self, image: &MetadataImage) -> BTreeMap<String, SubscribedTopic> {
        let described = |topic: &crate::metadata::TopicImage| {
            (
                topic.name.clone(),
                SubscribedTopic {
                    id: topic.id,
                    partitions: topic.partitions.len() as i32,
                },
            )
        };
        let mut metadata: BTreeMap<String, SubscribedTopic> = self
            .members
            .values()
            .flat_map(|m| m.subscribed_topic_names.iter())
            .filter_map(|name| image.topic(name).map(described))
            .collect();
        let regexes: Vec<&regex::Regex> = self
            .members
            .values()
            .filter_map(|m| m.subscribed_topic_regex.as_ref())
            .filter_map(|pattern| self.regexes.get(pattern))
            .collect();
        if !regexes.is_empty() {
            metadata.extend(
                image
                    .topics
                    .values()
                    .filter(|topic| !topic.is_internal())
                    .filter(|topic| regexes.iter().any(|r| r.is_match(&topic.name)))
                    .map(described),
            );
        }
        metadata
    }

    /// The assignor most members ask for, else the first configured one.
    fn preferred_assignor(&self) -> Assignor {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(name) = &member.server_assignor {
                *votes.entry(name.as_str()).or_default() += 1;
            }
        }
        votes
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .and_then(|(name, _)| Assignor::by_name(name))
            .or_else(|| {
                self.config
                    .consumer_assignors
                    .iter()
                    .find_map(|name| Assignor::by_name(name))
            })
            .unwrap_or(Assignor::Uniform)
    }

    fn compute_target_assignment(&mut self) {
        let topics: BTreeMap<Uuid, i32> = self
            .subscription_metadata
            .values()
            .map(|t| (t.id, t.partitions))
            .collect();
        let specs: BTreeMap<String, MemberSpec> = self
            .members
            .values()
            .map(|m| {
                let subscribed_topic_ids = self
                    .subscription_metadata
                    .iter()
                    .filter(|(name, _)| self.subscribes(m, name))
                    .map(|(_, topic)| topic.id)
                    .collect();
                let current = self.target.get(&m.member_id).cloned().unwrap_or_default();
                (
                    m.member_id.clone(),
                    MemberSpec {
                        subscribed_topic_ids,
                        current,
                    },
                )
            })
            .collect();
        self.target = self.preferred_assignor().assign(&specs, &topics);
        self.assignment_epoch = self.group_epoch;
    }
}

/// Kafka's member epoch rule: the current epoch, or the previous one with
/// no partition the member no longer has (the answer that moved it on may
/// have been lost); anything else is fenced.
fn check_member_epoch(member: &ConsumerMember, request: &Heartbeat) -> Result<(), GroupError> {
    let received = request.member_epoch;
    let fenced = |relation: &str| {
        Err(GroupError::FencedMemberEpoch(format!(
            "The consumer group member has a {relation} member epoch ({received}) than the one \
             known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
            member.member_epoch
        )))
    };
    if received > member.member_epoch {
        return fenced("greater");
    }
    if received < member.member_epoch {
        let subset = request.owned.as_ref().is_some_and(|owned| {
            owned.iter().all(|(topic_id, partitions)| {
                partitions.is_empty()
                    || member
                        .assigned_partitions
                        .get(topic_id)
                        .is_some_and(|assigned| partitions.is_subset(assigned))
            })
        });
        if received != member.previous_member_epoch || !subset {
            return fenced("smaller");
        }
    }
    Ok(())
}

/// A subscription regex (RE2/J syntax in Kafka; Rust's `regex` is the
/// same family), matching whole topic names as Java's `matches` does.
fn topic_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// A commit's or fetch's epoch against the member's: a classic member's
/// generation is its member epoch (ILLEGAL_GENERATION when it is not).
fn check_epoch_is_current(member: &ConsumerMember, received: i32) -> Result<(), GroupError> {
    if received == member.member_epoch {
        return Ok(());
    }
    Err(match member.uses_classic_protocol() {
        true => GroupError::IllegalGeneration(format!(
            "The received generation id {received} does not match the expected generation id {}.",
            member.member_epoch
        )),
        false => GroupError::StaleMemberEpoch {
            received,
            current: member.member_epoch,
        },
    })
}

pub(super) fn fenced_instance(member_id: &str, instance_id: &str, owner: &str) -> GroupError {
    GroupError::FencedInstanceId(format!(
        "Static member {member_id} with instance id {instance_id} was fenced by member {owner}."
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::group::consumer::records::{changes, decode_value};
    use crate::group::log_format::{decode_key, Key};
    use crate::metadata::{PartitionImage, TopicImage};

    /// One topic, `orders` (id 42), of `partitions` partitions.
    pub(crate) fn orders(partitions: i32) -> MetadataImage {
        let topic = TopicImage {
            name: "orders".into(),
            id: Uuid::from_u128(42),
            partitions: (0..partitions)
                .map(|partition| PartitionImage {
                    partition,
                    leader: 1,
                    leader_epoch: 0,
                    replicas: vec![1],
                    isr: vec![1],
                    partition_epoch: 0,
                    adding_replicas: Vec::new(),
                    removing_replicas: Vec::new(),
                })
                .collect(),
            configs: BTreeMap::new(),
        };
        MetadataImage::new(
            "cluster".into(),
            1,
            Vec::new(),
            BTreeMap::from([("orders".to_string(), topic)]),
        )
    }

    /// A full heartbeat of a member subscribing to `orders`.
    pub(crate) fn heartbeat(member_id: &str, member_epoch: i32, owned: Assignment) -> Heartbeat {
        Heartbeat {
            version: 1,
            member_id: member_id.into(),
            member_epoch,
            instance_id: None,
            rack_id: None,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(vec!["orders".into()]),
            subscribed_topic_regex: None,
            server_assignor: None,
            owned: Some(owned),
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
        }
    }

    /// Writes the group's records as the actor does and reads them back as
    /// the coordinator's load does: key and value decoded, last one wins.
    fn reloaded(group: &ConsumerGroup) -> Image {
        let mut image = Image::new();
        for (key, value) in changes(&group.group_id, &Image::new(), &group.image()).unwrap() {
            let Some(Key::Consumer { group: id, record }) = decode_key(&key) else {
                panic!("not a consumer group key: {key:?}");
            };
            assert_eq!(id, group.group_id);
            let value = decode_value(&record, &value.unwrap()).unwrap();
            image.insert(record, value);
        }
        image
    }

    #[test]
    fn a_restored_group_keeps_its_members_epochs_and_assignments() {
        let now = Instant::now();
        let image = orders(6);
        let mut group = ConsumerGroup::new("g1", GroupConfig::default());
        let first = group
            .heartbeat(now, &image, heartbeat("m-1", 0, Assignment::new()))
            .unwrap();
        let owned = first.assignment.clone().unwrap();
        assert_eq!(owned[&Uuid::from_u128(42)].len(), 6);
        // m-2 joins: m-1 must give up half, so it is mid-revocation.
        group
            .heartbeat(now, &image, heartbeat("m-2", 0, Assignment::new()))
            .unwrap();
        let answer = group
            .heartbeat(now, &image, heartbeat("m-1", first.member_epoch, owned))
            .unwrap();
        let before = group.describe();
        assert_eq!(before.state, ConsumerGroupState::Reconciling);

        let restored =
            ConsumerGroup::restore("g1", GroupConfig::default(), &reloaded(&group), now).unwrap();
        assert_eq!(restored.image(), group.image());
        let after = restored.describe();
        assert_eq!(after.group_epoch, before.group_epoch);
        assert_eq!(after.assignment_epoch, before.assignment_epoch);
        assert_eq!(after.members, before.members);
        assert_eq!(after.state, before.state);

        // m-1 goes on where it was, at its epoch, with what it still owns.
        let mut restored = restored;
        let still_owned = answer.assignment.unwrap_or_default();
        let next = restored
            .heartbeat(
                now,
                &image,
                heartbeat("m-1", answer.member_epoch, still_owned),
            )
            .unwrap();
        assert_eq!(next.member_id, "m-1");
        assert_eq!(restored.group_epoch, before.group_epoch);
        // Sessions restart at the load: members that are gone time out.
        assert!(restored.next_deadline().is_some());
        assert_eq!(
            restored.expired_members(now + GroupConfig::default().consumer_session_timeout),
            vec!["m-1".to_string(), "m-2".to_string()]
        );
        assert!(ConsumerGroup::restore("g1", GroupConfig::default(), &Image::new(), now).is_none());
    }
}
