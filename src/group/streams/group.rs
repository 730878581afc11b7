//! A streams group (KIP-1071): its members (stream threads, grouped in
//! processes), its topology and how it is configured against the cluster,
//! the group epoch (bumped when members, the topology's configuration or
//! the topics it reads change), the target assignment of tasks computed
//! for that epoch, and who runs which task now.
//!
//! Each heartbeat updates its member, recomputes the target assignment if
//! the group epoch moved past it (after the initial rebalance delay, and at
//! most once per assignment interval), and reconciles the member one step.
//! Members that stop heartbeating for the session timeout, or do not give
//! up tasks within their rebalance timeout, are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::assignor::{self, MemberSpec};
use super::member::{Endpoint, MemberState, StreamsMember, TaskOffset};
use super::reconciliation::{reconcile, TaskOwners};
use super::records::{CurrentAssignment, Image, MemberMetadata, RecordKey, RecordValue};
use super::topology::{configure, ConfiguredTopology, TopicInfo, Topology};
use super::{
    Status, StatusCode, TasksTuple, JOIN_GROUP_MEMBER_EPOCH, LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
};
use crate::group::{GroupError, StreamsGroupConfig};
use crate::metadata::MetadataImage;

/// A streams group's state as ListGroups and StreamsGroupDescribe name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsGroupState {
    Empty,
    /// The topology cannot run yet: topics are missing or partitioned
    /// wrongly.
    NotReady,
    /// The group epoch moved past the target assignment's.
    Assigning,
    /// Some member does not own its target tasks yet.
    Reconciling,
    Stable,
}

impl StreamsGroupState {
    pub fn name(self) -> &'static str {
        match self {
            StreamsGroupState::Empty => "Empty",
            StreamsGroupState::NotReady => "NotReady",
            StreamsGroupState::Assigning => "Assigning",
            StreamsGroupState::Reconciling => "Reconciling",
            StreamsGroupState::Stable => "Stable",
        }
    }
}

/// One StreamsGroupHeartbeat, as the coordinator takes it.
#[derive(Debug, Clone, Default)]
pub struct StreamsHeartbeat {
    pub version: i16,
    pub member_id: String,
    pub member_epoch: i32,
    pub endpoint_information_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub topology: Option<Topology>,
    /// The tasks the member owns, if it said (all three kinds or none).
    pub owned: Option<TasksTuple>,
    /// Whether the request listed each kind (all or none must be).
    pub owned_lists: [bool; 3],
    pub process_id: Option<String>,
    pub user_endpoint: Option<Endpoint>,
    pub client_tags: Option<Vec<(String, String)>>,
    pub task_offsets: Option<Vec<TaskOffset>>,
    pub task_end_offsets: Option<Vec<TaskOffset>>,
    pub shutdown_application: bool,
    pub client_id: String,
    pub client_host: String,
}

impl StreamsHeartbeat {
    /// The checks Kafka makes before looking at the group
    /// (`throwIfStreamsGroupHeartbeatRequestIsInvalid`).
    pub fn validate(&self, group_id: &str) -> Result<(), GroupError> {
        let invalid = |message: &str| Err(GroupError::InvalidRequest(message.into()));
        if let Some(topology) = &self.topology {
            if topology
                .subtopologies
                .iter()
                .any(|s| !s.source_topic_regex.is_empty())
            {
                return invalid("Regular expressions for source topics are not supported yet.");
            }
        }
        if self.member_id.trim().is_empty() {
            return invalid("MemberId can't be empty.");
        }
        if group_id.trim().is_empty() {
            return invalid("GroupId can't be empty.");
        }
        if self
            .instance_id
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            return invalid("InstanceId can't be empty.");
        }
        if self.rack_id.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return invalid("RackId can't be empty.");
        }
        let [active, standby, warmup] = self.owned_lists;
        match self.member_epoch {
            JOIN_GROUP_MEMBER_EPOCH => {
                if self.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                let owned = self.owned.clone().unwrap_or_default();
                for (listed, tasks, kind) in [
                    (active, &owned.active, "ActiveTasks"),
                    (standby, &owned.standby, "StandbyTasks"),
                    (warmup, &owned.warmup, "WarmupTasks"),
                ] {
                    if !listed || !tasks.is_empty() {
                        return invalid(&format!("{kind} must be empty when (re-)joining."));
                    }
                }
                let Some(topology) = &self.topology else {
                    return invalid("Topology must be non-null when (re-)joining.");
                };
                topology.validate()?;
            }
            LEAVE_GROUP_STATIC_MEMBER_EPOCH if self.instance_id.is_none() => {
                return invalid("InstanceId can't be null.");
            }
            epoch if epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                return invalid(&format!(
                    "MemberEpoch is {epoch}, but must be greater than or equal to -2."
                ));
            }
            _ => {}
        }
        if (active || standby || warmup) && !(active && standby && warmup) {
            return invalid("If one task-type is non-null, all must be non-null.");
        }
        if self.member_epoch != JOIN_GROUP_MEMBER_EPOCH && self.topology.is_some() {
            return invalid("Topology can only be provided when (re-)joining.");
        }
        Ok(())
    }
}

/// The partitions an interactive-queries endpoint serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPartitions {
    pub endpoint: Endpoint,
    pub active: BTreeMap<String, BTreeSet<i32>>,
    pub standby: BTreeMap<String, BTreeSet<i32>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamsHeartbeatAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub task_offset_interval_ms: i32,
    pub acceptable_recovery_lag: i64,
    pub statuses: Vec<Status>,
    /// Sent when the member joins or its tasks changed.
    pub tasks: Option<TasksTuple>,
    pub endpoint_information_epoch: i32,
    /// Sent when the member's endpoint epoch is not the group's.
    pub partitions_by_endpoint: Option<Vec<EndpointPartitions>>,
    /// Internal topics the broker should create for the group.
    pub to_create: Vec<TopicInfo>,
}

/// What StreamsGroupDescribe shows of a group.
#[derive(Debug, Clone)]
pub struct StreamsGroupDescription {
    pub state: StreamsGroupState,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    /// The topology, with the partition counts decided for its internal
    /// topics when it is configured.
    pub topology: Option<(Topology, BTreeMap<String, i32>)>,
    pub members: Vec<(StreamsMember, TasksTuple)>,
}

#[derive(Debug, Clone)]
pub struct StreamsGroup {
    pub group_id: String,
    config: StreamsGroupConfig,
    pub group_epoch: i32,
    topology: Option<Topology>,
    configured: Option<ConfiguredTopology>,
    /// The partition counts of the topology's topics the configuration
    /// was made with; a change (a topic created, deleted or grown)
    /// reconfigures the topology and bumps the group epoch.
    configured_with: BTreeMap<String, Option<i32>>,
    /// A hash of `configured_with`, kept in the group's record so that a
    /// restarted coordinator knows whether the topics changed meanwhile.
    metadata_hash: i64,
    validated_topology_epoch: i32,
    assignment_epoch: i32,
    last_assignment: Option<Instant>,
    /// Set while the initial rebalance delay runs.
    delayed_until: Option<Instant>,
    targets: BTreeMap<String, TasksTuple>,
    members: BTreeMap<String, StreamsMember>,
    /// When each member's session ends unless it heartbeats.
    session_deadlines: BTreeMap<String, Instant>,
    /// Members revoking tasks: by when, and at which epoch.
    rebalance_deadlines: BTreeMap<String, (Instant, i32)>,
    endpoint_information_epoch: i32,
    shutdown_requested_by: Option<String>,
}

impl StreamsGroup {
    pub fn new(group_id: &str, config: StreamsGroupConfig) -> StreamsGroup {
        StreamsGroup {
            group_id: group_id.to_string(),
            config,
            group_epoch: 0,
            topology: None,
            configured: None,
            configured_with: BTreeMap::new(),
            metadata_hash: 0,
            validated_topology_epoch: -1,
            assignment_epoch: 0,
            last_assignment: None,
            delayed_until: None,
            targets: BTreeMap::new(),
            members: BTreeMap::new(),
            session_deadlines: BTreeMap::new(),
            rebalance_deadlines: BTreeMap::new(),
            endpoint_information_epoch: 0,
            shutdown_requested_by: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The group as its `__consumer_offsets` records say it: what must
    /// survive a restart or a coordinator move.
    pub fn image(&self) -> Image {
        let mut image = Image::from([
            (
                RecordKey::GroupMetadata,
                RecordValue::GroupMetadata {
                    epoch: self.group_epoch,
                    metadata_hash: self.metadata_hash,
                    validated_topology_epoch: self.validated_topology_epoch,
                },
            ),
            (
                RecordKey::TargetAssignmentMetadata,
                RecordValue::TargetAssignmentMetadata {
                    assignment_epoch: self.assignment_epoch,
                },
            ),
        ]);
        if let Some(topology) = &self.topology {
            image.insert(RecordKey::Topology, RecordValue::Topology(topology.clone()));
        }
        for (member_id, target) in &self.targets {
            image.insert(
                RecordKey::TargetAssignmentMember(member_id.clone()),
                RecordValue::TargetAssignmentMember(target.clone()),
            );
        }
        for member in self.members.values() {
            image.insert(
                RecordKey::MemberMetadata(member.member_id.clone()),
                RecordValue::MemberMetadata(MemberMetadata {
                    instance_id: member.instance_id.clone(),
                    rack_id: member.rack_id.clone(),
                    client_id: member.client_id.clone(),
                    client_host: member.client_host.clone(),
                    rebalance_timeout_ms: member.rebalance_timeout_ms,
                    topology_epoch: member.topology_epoch,
                    process_id: member.process_id.clone(),
                    user_endpoint: member.user_endpoint.clone(),
                    client_tags: member.client_tags.clone(),
                }),
            );
            image.insert(
                RecordKey::CurrentMemberAssignment(member.member_id.clone()),
                RecordValue::CurrentMemberAssignment(CurrentAssignment {
                    member_epoch: member.member_epoch,
                    previous_member_epoch: member.previous_member_epoch,
                    state: member.state,
                    assigned: member.assigned.clone(),
                    pending_revocation: member.pending_revocation.clone(),
                    active_task_epochs: member.active_task_epochs.clone(),
                }),
            );
        }
        image
    }

    /// The group its records describe, as Kafka's coordinator rebuilds it
    /// when it loads the group: sessions start `now`, members giving up
    /// tasks get their rebalance timeout again, and the topology is
    /// configured anew at the next heartbeat. `None` if there is no record.
    pub fn restore(
        group_id: &str,
        config: StreamsGroupConfig,
        image: &Image,
        now: Instant,
    ) -> Option<StreamsGroup> {
        if image.is_empty() {
            return None;
        }
        let mut group = StreamsGroup::new(group_id, config);
        for (key, value) in image {
            match (key, value) {
                (
                    _,
                    RecordValue::GroupMetadata {
                        epoch,
                        metadata_hash,
                        validated_topology_epoch,
                    },
                ) => {
                    group.group_epoch = *epoch;
                    group.metadata_hash = *metadata_hash;
                    group.validated_topology_epoch = *validated_topology_epoch;
                }
                (_, RecordValue::TargetAssignmentMetadata { assignment_epoch }) => {
                    group.assignment_epoch = *assignment_epoch;
                }
                (_, RecordValue::Topology(topology)) => group.topology = Some(topology.clone()),
                (
                    RecordKey::TargetAssignmentMember(member_id),
                    RecordValue::TargetAssignmentMember(target),
                ) => {
                    group.targets.insert(member_id.clone(), target.clone());
                }
                (RecordKey::MemberMetadata(member_id), RecordValue::MemberMetadata(metadata)) => {
                    let member = group
                        .members
                        .entry(member_id.clone())
                        .or_insert_with(|| StreamsMember::new(member_id.clone()));
                    member.instance_id = metadata.instance_id.clone();
                    member.rack_id = metadata.rack_id.clone();
                    member.client_id = metadata.client_id.clone();
                    member.client_host = metadata.client_host.clone();
                    member.rebalance_timeout_ms = metadata.rebalance_timeout_ms;
                    member.topology_epoch = metadata.topology_epoch;
                    member.process_id = metadata.process_id.clone();
                    member.user_endpoint = metadata.user_endpoint.clone();
                    member.client_tags = metadata.client_tags.clone();
                }
                (
                    RecordKey::CurrentMemberAssignment(member_id),
                    RecordValue::CurrentMemberAssignment(current),
                ) => {
                    let member = group
                        .members
                        .entry(member_id.clone())
                        .or_insert_with(|| StreamsMember::new(member_id.clone()));
                    member.member_epoch = current.member_epoch;
                    member.previous_member_epoch = current.previous_member_epoch;
                    member.state = current.state;
                    member.assigned = current.assigned.clone();
                    member.pending_revocation = current.pending_revocation.clone();
                    member.active_task_epochs = current.active_task_epochs.clone();
                }
                // A value under another record's key is never decoded.
                _ => {}
            }
        }
        let session = group.config.session_timeout;
        for member in group.members.values() {
            group
                .session_deadlines
                .insert(member.member_id.clone(), now + session);
            if member.state == MemberState::UnrevokedTasks {
                let timeout =
                    Duration::from_millis(u64::try_from(member.rebalance_timeout_ms).unwrap_or(0));
                group.rebalance_deadlines.insert(
                    member.member_id.clone(),
                    (now + timeout, member.member_epoch),
                );
            }
        }
        Some(group)
    }

    pub fn members(&self) -> impl Iterator<Item = &StreamsMember> {
        self.members.values()
    }

    pub fn state(&self) -> StreamsGroupState {
        if self.members.is_empty() {
            StreamsGroupState::Empty
        } else if self.topology.is_none()
            || self.topology.as_ref().map(|t| t.epoch) != Some(self.validated_topology_epoch)
        {
            StreamsGroupState::NotReady
        } else if self.group_epoch > self.assignment_epoch {
            StreamsGroupState::Assigning
        } else if self
            .members
            .values()
            .any(|m| !m.is_reconciled_to(self.assignment_epoch))
        {
            StreamsGroupState::Reconciling
        } else {
            StreamsGroupState::Stable
        }
    }

    pub fn describe(&self) -> StreamsGroupDescription {
        let decided = self
            .configured
            .as_ref()
            .filter(|c| c.is_ready())
            .map(|c| c.internal_partitions.clone())
            .unwrap_or_default();
        StreamsGroupDescription {
            state: self.state(),
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            topology: self.topology.clone().map(|t| (t, decided)),
            members: self
                .members
                .values()
                .map(|m| {
                    let target = self.targets.get(&m.member_id).cloned().unwrap_or_default();
                    (m.clone(), target)
                })
                .collect(),
        }
    }

    /// Whether the group reads `topic` (a source or repartition source
    /// topic of its topology).
    pub fn reads_topic(&self, topic: &str) -> bool {
        !self.subtopologies_reading(topic).is_empty()
    }

    /// The subtopologies reading `topic`.
    fn subtopologies_reading(&self, topic: &str) -> Vec<String> {
        self.topology
            .iter()
            .flat_map(|t| &t.subtopologies)
            .filter(|s| {
                s.source_topics.iter().any(|t| t == topic)
                    || s.repartition_source_topics.iter().any(|t| t.name == topic)
            })
            .map(|s| s.id.clone())
            .collect()
    }

    /// The earliest time a member's session or rebalance timeout ends, or
    /// the initial rebalance delay.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.session_deadlines
            .values()
            .chain(self.rebalance_deadlines.values().map(|(at, _)| at))
            .chain(self.delayed_until.iter())
            .min()
            .copied()
    }

    /// When the initial rebalance delay ends, the target assignment is
    /// computed then, as Kafka's timer does, not at the next heartbeat.
    /// Whether it was.
    pub fn assign_if_due(&mut self, now: Instant) -> bool {
        match self.delayed_until {
            Some(until) if now >= until => self.update_target_assignment(now).is_none(),
            _ => false,
        }
    }

    /// Members whose session ended, or who did not revoke in time.
    pub fn expired_members(&self, now: Instant) -> Vec<String> {
        let mut expired: BTreeSet<String> = self
            .session_deadlines
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(m, _)| m.clone())
            .collect();
        for (member_id, (at, epoch)) in &self.rebalance_deadlines {
            let still_revoking = self
                .members
                .get(member_id)
                .is_some_and(|m| m.member_epoch == *epoch);
            if *at <= now && still_revoking {
                expired.insert(member_id.clone());
            }
        }
        expired.into_iter().collect()
    }

    /// Removes a member, as Kafka's `streamsGroupFenceMember` does: the
    /// group epoch moves on so the others take its tasks.
    pub fn fence(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_none() {
            return;
        }
        self.targets.remove(member_id);
        self.session_deadlines.remove(member_id);
        self.rebalance_deadlines.remove(member_id);
        self.group_epoch += 1;
        if self.members.is_empty() {
            self.assignment_epoch = self.group_epoch;
            self.last_assignment = None;
            self.delayed_until = None;
            self.shutdown_requested_by = None;
        }
    }

    fn timeouts(&self) -> (Duration, i32) {
        (
            self.config.session_timeout,
            i32::try_from(self.config.heartbeat_interval.as_millis()).unwrap_or(i32::MAX),
        )
    }

    /// One StreamsGroupHeartbeat. `image` gives the topics' partition
    /// counts; an error leaves the group as it was.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: &StreamsHeartbeat,
    ) -> Result<StreamsHeartbeatAnswer, GroupError> {
        if request.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
            || request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH
        {
            return self.leave(request);
        }
        let joining = request.member_epoch == JOIN_GROUP_MEMBER_EPOCH;
        let was_empty = self.members.is_empty();
        let mut before = self.clone();
        let result = self.heartbeat_inner(now, image, request, joining, was_empty);
        if result.is_err() {
            std::mem::swap(self, &mut before);
        }
        result
    }

    fn heartbeat_inner(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: &StreamsHeartbeat,
        joining: bool,
        was_empty: bool,
    ) -> Result<StreamsHeartbeatAnswer, GroupError> {
        let member = match &request.instance_id {
            Some(instance_id) => self.static_member(request, instance_id, joining)?,
            None => self.dynamic_member(request, joining)?,
        };
        if !joining {
            self.check_member_epoch(&member, request)?;
        }
        let mut updated = member.clone();
        if request.instance_id.is_some() {
            updated.instance_id = request.instance_id.clone();
        }
        if let Some(rack) = &request.rack_id {
            updated.rack_id = Some(rack.clone());
        }
        if request.rebalance_timeout_ms != -1 {
            updated.rebalance_timeout_ms = request.rebalance_timeout_ms;
        }
        if let Some(topology) = &request.topology {
            updated.topology_epoch = topology.epoch;
        }
        if let Some(process_id) = &request.process_id {
            updated.process_id = process_id.clone();
        }
        if let Some(tags) = &request.client_tags {
            updated.client_tags = tags.clone();
        }
        if joining || request.user_endpoint.is_some() {
            updated.user_endpoint = request.user_endpoint.clone();
        }
        updated.client_id = request.client_id.clone();
        updated.client_host = request.client_host.clone();
        if let Some(offsets) = &request.task_offsets {
            updated.task_offsets = offsets.clone();
        }
        if let Some(offsets) = &request.task_end_offsets {
            updated.task_end_offsets = offsets.clone();
        }
        let metadata_changed = match updated.instance_id {
            // A static member's restart changes its client details, not
            // what the assignment depends on.
            Some(_) => {
                updated.topology_epoch != member.topology_epoch
                    || updated.rack_id != member.rack_id
                    || updated.client_tags != member.client_tags
                    || updated.process_id != member.process_id
            }
            None => {
                let comparable = |m: &StreamsMember| {
                    (
                        m.rack_id.clone(),
                        m.rebalance_timeout_ms,
                        m.topology_epoch,
                        m.process_id.clone(),
                        m.user_endpoint.clone(),
                        m.client_tags.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                    )
                };
                !self.members.contains_key(&member.member_id)
                    || comparable(&updated) != comparable(&member)
            }
        };
        let mut bump = metadata_changed;

        // The topology: set by the first member, then only checked.
        match (&self.topology, &request.topology) {
            (None, Some(topology)) => {
                self.topology = Some(topology.clone());
                self.configured = None;
                bump = true;
            }
            (Some(current), Some(requested)) => {
                if current.epoch <= requested.epoch && current != requested {
                    return Err(GroupError::InvalidRequest(
                        "Topology updates are not supported yet.".into(),
                    ));
                }
            }
            (None, None) => {
                return Err(GroupError::InvalidRequest(
                    "Topology must be non-null when (re-)joining.".into(),
                ));
            }
            (Some(_), None) => {}
        }
        bump |= self.configure_topology(image)?;
        if let (Some(configured), Some(owned)) = (&self.configured, &request.owned) {
            if configured.is_ready() {
                check_tasks_exist(configured, owned)?;
            }
        }
        if bump {
            self.group_epoch += 1;
        }
        if was_empty && !self.config.initial_rebalance_delay.is_zero() {
            self.delayed_until
                .get_or_insert(now + self.config.initial_rebalance_delay);
        }
        let member_id = updated.member_id.clone();
        let endpoint_changed = updated.user_endpoint != member.user_endpoint;
        self.members.insert(member_id.clone(), updated);
        if request.shutdown_application && self.shutdown_requested_by.is_none() {
            self.shutdown_requested_by = Some(member_id.clone());
        }

        let mut statuses = Vec::new();
        if let Some(delayed) = self.update_target_assignment(now) {
            statuses.push(delayed);
        }
        // Reconcile the member towards its target.
        let target = self.targets.get(&member_id).cloned().unwrap_or_default();
        let owners = TaskOwners::of(self.members.values());
        let current = self.members.get(&member_id).cloned().unwrap_or(member);
        let next = reconcile(
            &current,
            self.assignment_epoch,
            &target,
            request.owned.as_ref(),
            &owners,
        );
        let tasks_changed = next.assigned != current.assigned;
        if endpoint_changed || (next.assigned != current.assigned && next.user_endpoint.is_some()) {
            self.endpoint_information_epoch += 1;
        }
        match next.state {
            MemberState::UnrevokedTasks => {
                let timeout = Duration::from_millis(
                    u64::try_from(next.rebalance_timeout_ms.max(0)).unwrap_or(0),
                );
                self.rebalance_deadlines
                    .entry(member_id.clone())
                    .or_insert((now + timeout, next.member_epoch));
            }
            _ => {
                self.rebalance_deadlines.remove(&member_id);
            }
        }
        let (session_timeout, heartbeat_interval_ms) = self.timeouts();
        self.session_deadlines
            .insert(member_id.clone(), now + session_timeout);
        let answer_tasks = (joining || tasks_changed).then(|| next.assigned.clone());
        let epoch = next.member_epoch;
        let topology_epoch = next.topology_epoch;
        self.members.insert(member_id.clone(), next);

        if let Some(group_topology) = &self.topology {
            if topology_epoch < group_topology.epoch {
                statuses.push(Status {
                    code: StatusCode::StaleTopology,
                    detail: format!(
                        "The member's topology epoch {topology_epoch} is behind the group's topology epoch {}.",
                        group_topology.epoch
                    ),
                });
            }
        }
        let mut to_create = Vec::new();
        if let Some(configured) = &self.configured {
            if let Some(status) = &configured.status {
                statuses.push(status.clone());
            }
            if configured
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::MissingInternalTopics)
            {
                to_create = configured.to_create.clone();
            }
        }
        if let Some(requester) = &self.shutdown_requested_by {
            statuses.push(Status {
                code: StatusCode::ShutdownApplication,
                detail: format!(
                    "Streams group member {requester} encountered a fatal error and requested a shutdown for the entire application."
                ),
            });
        }
        let partitions_by_endpoint = (request.endpoint_information_epoch
            != self.endpoint_information_epoch)
            .then(|| self.endpoint_partitions());
        Ok(StreamsHeartbeatAnswer {
            member_id,
            member_epoch: epoch,
            heartbeat_interval_ms,
            task_offset_interval_ms: i32::try_from(self.config.task_offset_interval.as_millis())
                .unwrap_or(i32::MAX),
            acceptable_recovery_lag: self.config.acceptable_recovery_lag,
            statuses,
            tasks: answer_tasks,
            endpoint_information_epoch: self.endpoint_information_epoch,
            partitions_by_endpoint,
            to_create,
        })
    }

    /// Configures the topology against `image` if it is new or the
    /// topics it names changed; whether the group epoch must move.
    fn configure_topology(&mut self, image: &MetadataImage) -> Result<bool, GroupError> {
        let Some(topology) = &self.topology else {
            return Ok(false);
        };
        let partitions_of = |topic: &str| {
            image
                .topic(topic)
                .map(|t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX))
        };
        let snapshot: BTreeMap<String, Option<i32>> = topology
            .topics()
            .into_iter()
            .map(|t| (t.to_string(), partitions_of(t)))
            .collect();
        if self.configured.is_some() && snapshot == self.configured_with {
            return Ok(false);
        }
        let configured = configure(topology, partitions_of)?;
        let validated = match configured.is_ready() {
            true => topology.epoch,
            false => -1,
        };
        let hash = metadata_hash(&snapshot);
        let changed = hash != self.metadata_hash || validated != self.validated_topology_epoch;
        self.metadata_hash = hash;
        self.validated_topology_epoch = validated;
        self.configured = Some(configured);
        self.configured_with = snapshot;
        Ok(changed)
    }

    /// Computes the target assignment for the group epoch unless the
    /// initial rebalance delay or the assignment interval holds it back,
    /// which is then the status to report.
    fn update_target_assignment(&mut self, now: Instant) -> Option<Status> {
        if self.assignment_epoch >= self.group_epoch {
            return None;
        }
        if let Some(until) = self.delayed_until {
            if now < until {
                return Some(Status {
                    code: StatusCode::AssignmentDelayed,
                    detail: "Assignment delayed due to the configured initial rebalance delay."
                        .into(),
                });
            }
            self.delayed_until = None;
        }
        if let Some(last) = self.last_assignment {
            if now < last + self.config.assignment_interval {
                return Some(Status {
                    code: StatusCode::AssignmentDelayed,
                    detail: "Assignment delayed due to the configured assignment interval.".into(),
                });
            }
        }
        let ready = self.configured.as_ref().filter(|c| c.is_ready());
        self.targets = match (ready, &self.topology) {
            (Some(configured), Some(topology)) => {
                let stateful: BTreeSet<String> = topology
                    .subtopologies
                    .iter()
                    .filter(|s| !s.state_changelog_topics.is_empty())
                    .map(|s| s.id.clone())
                    .collect();
                let specs: Vec<MemberSpec<'_>> = self
                    .members
                    .values()
                    .map(|m| MemberSpec {
                        member_id: &m.member_id,
                        process_id: &m.process_id,
                        current: &m.assigned,
                    })
                    .collect();
                assignor::assign(
                    &specs,
                    &configured.tasks,
                    &stateful,
                    self.config.num_standby_replicas,
                )
            }
            _ => self
                .members
                .keys()
                .map(|m| (m.clone(), TasksTuple::default()))
                .collect(),
        };
        self.assignment_epoch = self.group_epoch;
        self.last_assignment = Some(now);
        None
    }

    /// For each member with an endpoint, the partitions its tasks read.
    fn endpoint_partitions(&self) -> Vec<EndpointPartitions> {
        let Some(configured) = self.configured.as_ref().filter(|c| c.is_ready()) else {
            return Vec::new();
        };
        let Some(topology) = &self.topology else {
            return Vec::new();
        };
        // A task reads partition p of each of its input topics that has
        // more than p partitions.
        let partitions_of = |tasks: &[&super::Tasks]| {
            let mut by_topic: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
            for kind in tasks {
                for (subtopology, partitions) in kind.iter() {
                    for topic in topology.input_topics(subtopology) {
                        let count = configured
                            .internal_partitions
                            .get(topic)
                            .copied()
                            .or_else(|| self.configured_with.get(topic).copied().flatten())
                            .unwrap_or(0);
                        let read: Vec<i32> =
                            partitions.iter().copied().filter(|p| *p < count).collect();
                        if !read.is_empty() {
                            by_topic.entry(topic.to_string()).or_default().extend(read);
                        }
                    }
                }
            }
            by_topic
        };
        self.members
            .values()
            .filter_map(|m| {
                let endpoint = m.user_endpoint.clone()?;
                Some(EndpointPartitions {
                    endpoint,
                    active: partitions_of(&[&m.assigned.active]),
                    standby: partitions_of(&[&m.assigned.standby, &m.assigned.warmup]),
                })
            })
            .collect()
    }

    fn dynamic_member(
        &self,
        request: &StreamsHeartbeat,
        joining: bool,
    ) -> Result<StreamsMember, GroupError> {
        if joining {
            if !self.members.contains_key(&request.member_id)
                && self.members.len() >= self.config.max_size
            {
                return Err(full(self.config.max_size));
            }
            return Ok(self
                .members
                .get(&request.member_id)
                .cloned()
                .unwrap_or_else(|| StreamsMember::new(request.member_id.clone())));
        }
        self.members
            .get(&request.member_id)
            .cloned()
            .ok_or_else(|| self.unknown_member(&request.member_id))
    }

    fn static_member(
        &mut self,
        request: &StreamsHeartbeat,
        instance_id: &str,
        joining: bool,
    ) -> Result<StreamsMember, GroupError> {
        let existing = self
            .members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .cloned();
        if joining {
            let Some(existing) = existing else {
                if self.members.len() >= self.config.max_size {
                    return Err(full(self.config.max_size));
                }
                return Ok(StreamsMember::new(request.member_id.clone()));
            };
            if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                return Err(GroupError::UnreleasedInstanceId(format!(
                    "Static member {} with instance id {instance_id} cannot join the group because the instance id is owned by {} member.",
                    request.member_id, existing.member_id
                )));
            }
            // The instance comes back under a new member id: it takes the
            // old member's place and target.
            let mut replacement = existing.clone();
            replacement.member_id = request.member_id.clone();
            replacement.member_epoch = 0;
            replacement.previous_member_epoch = 0;
            if let Some(target) = self.targets.remove(&existing.member_id) {
                self.targets.insert(request.member_id.clone(), target);
            }
            self.members.remove(&existing.member_id);
            self.session_deadlines.remove(&existing.member_id);
            self.rebalance_deadlines.remove(&existing.member_id);
            self.members
                .insert(request.member_id.clone(), replacement.clone());
            return Ok(replacement);
        }
        let Some(existing) = existing else {
            return Err(GroupError::UnknownMemberId(format!(
                "Instance id {instance_id} is unknown."
            )));
        };
        if existing.member_id != request.member_id {
            return Err(GroupError::FencedInstanceId(format!(
                "Static member {} with instance id {instance_id} was fenced by member {}.",
                request.member_id, existing.member_id
            )));
        }
        Ok(existing)
    }

    /// Kafka's `throwIfStreamsGroupMemberEpochIsInvalid`: an older epoch is
    /// accepted once, from a member that missed the answer moving it on
    /// and still owns only tasks of its assignment.
    fn check_member_epoch(
        &self,
        member: &StreamsMember,
        request: &StreamsHeartbeat,
    ) -> Result<(), GroupError> {
        let received = request.member_epoch;
        if received > member.member_epoch {
            return Err(GroupError::FencedMemberEpoch(format!(
                "The streams group member has a greater member epoch ({received}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                member.member_epoch
            )));
        }
        if received < member.member_epoch {
            let lost_answer = received == member.previous_member_epoch
                && request
                    .owned
                    .as_ref()
                    .is_some_and(|owned| owned.is_subset_of(&member.assigned));
            if !lost_answer {
                return Err(GroupError::FencedMemberEpoch(format!(
                    "The streams group member has a smaller member epoch ({received}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                    member.member_epoch
                )));
            }
        }
        Ok(())
    }

    fn unknown_member(&self, member_id: &str) -> GroupError {
        GroupError::UnknownMemberId(format!(
            "Member {member_id} is not a member of group {}.",
            self.group_id
        ))
    }

    /// Epoch -1 (leave) or -2 (a static member leaving for a while).
    fn leave(&mut self, request: &StreamsHeartbeat) -> Result<StreamsHeartbeatAnswer, GroupError> {
        let member = match &request.instance_id {
            Some(instance_id) => self.static_member(request, instance_id, false)?,
            None => self
                .members
                .get(&request.member_id)
                .cloned()
                .ok_or_else(|| self.unknown_member(&request.member_id))?,
        };
        if request.shutdown_application && self.shutdown_requested_by.is_none() {
            self.shutdown_requested_by = Some(member.member_id.clone());
        }
        if request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            // It keeps its tasks in the target until it comes back or its
            // session ends; the group epoch does not move.
            if let Some(member) = self.members.get_mut(&member.member_id) {
                member.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
                member.pending_revocation = TasksTuple::default();
                member.state = MemberState::Stable;
                for epoch in member.active_task_epochs.values_mut() {
                    *epoch = 0;
                }
            }
            self.rebalance_deadlines.remove(&member.member_id);
        } else {
            self.fence(&member.member_id);
        }
        Ok(StreamsHeartbeatAnswer {
            member_id: member.member_id,
            member_epoch: request.member_epoch,
            ..StreamsHeartbeatAnswer::default()
        })
    }

    /// OffsetCommit and TxnOffsetCommit against a streams group (Kafka's
    /// `StreamsGroup.validateOffsetCommit`): a member at its epoch commits
    /// anything; at an older epoch, only for active tasks it has owned
    /// since that epoch. `partitions` are the committed (topic, partition).
    pub fn validate_offset_commit(
        &self,
        member_id: &str,
        member_epoch: i32,
        partitions: &[(String, i32)],
        version: Option<i16>,
    ) -> Result<(), GroupError> {
        if member_epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| self.unknown_member(member_id))?;
        if version.is_some_and(|v| v < 9) {
            return Err(GroupError::UnsupportedVersion(
                "OffsetCommit version 9 or above must be used by members using the streams group protocol".into(),
            ));
        }
        let stale = || GroupError::StaleMemberEpoch {
            received: member_epoch,
            current: member.member_epoch,
        };
        if member_epoch == member.member_epoch {
            return Ok(());
        }
        if member_epoch > member.member_epoch {
            return Err(stale());
        }
        for (topic, partition) in partitions {
            let owned = self
                .subtopologies_reading(topic)
                .iter()
                .any(|s| member.owned_active_since(s, *partition, member_epoch));
            if !owned {
                return Err(stale());
            }
        }
        Ok(())
    }

    /// OffsetFetch with a member (v9+): the member must exist at exactly
    /// its epoch.
    pub fn validate_offset_fetch(
        &self,
        member_id: &str,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| self.unknown_member(member_id))?;
        if member.member_epoch != member_epoch {
            return Err(GroupError::StaleMemberEpoch {
                received: member_epoch,
                current: member.member_epoch,
            });
        }
        Ok(())
    }
}

/// FNV-1a over the topics' names and partition counts: stable across
/// builds, unlike the standard library's hasher.
fn metadata_hash(topics: &BTreeMap<String, Option<i32>>) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, partitions) in topics {
        feed(name.as_bytes());
        feed(&partitions.unwrap_or(-1).to_be_bytes());
    }
    hash as i64
}

fn full(max_size: usize) -> GroupError {
    GroupError::GroupMaxSizeReached(format!(
        "The streams group has reached its maximum capacity of {max_size} members."
    ))
}

/// Kafka's `throwIfRequestContainsInvalidTasks`.
fn check_tasks_exist(
    configured: &ConfiguredTopology,
    owned: &TasksTuple,
) -> Result<(), GroupError> {
    for kind in [&owned.active, &owned.standby, &owned.warmup] {
        for (subtopology, partitions) in kind {
            let Some(&count) = configured.tasks.get(subtopology) else {
                return Err(GroupError::InvalidRequest(format!(
                    "Subtopology {subtopology} does not exist in the topology."
                )));
            };
            if let Some(p) = partitions.iter().find(|p| **p < 0 || **p >= count) {
                return Err(GroupError::InvalidRequest(format!(
                    "Task {p} for subtopology {subtopology} is invalid. Number of tasks for this subtopology: {count}"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::group::streams::topology::{Subtopology, TopicInfo};
    use crate::group::streams::Tasks;
    use crate::metadata::{PartitionImage, TopicImage};

    /// A cluster with these topics and partition counts.
    fn cluster(topics: &[(&str, i32)]) -> MetadataImage {
        let topics = topics
            .iter()
            .enumerate()
            .map(|(i, (name, partitions))| {
                let image = TopicImage {
                    name: name.to_string(),
                    id: Uuid::from_u128(i as u128 + 1),
                    partitions: (0..*partitions)
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
                (name.to_string(), image)
            })
            .collect();
        MetadataImage::new("cluster".into(), 1, Vec::new(), topics)
    }

    /// `input` → stateful subtopology with changelog `app-changelog`.
    fn topology() -> Topology {
        Topology {
            epoch: 0,
            subtopologies: vec![Subtopology {
                id: "0".into(),
                source_topics: vec!["input".into()],
                state_changelog_topics: vec![TopicInfo {
                    name: "app-changelog".into(),
                    ..TopicInfo::default()
                }],
                ..Subtopology::default()
            }],
        }
    }

    fn config() -> StreamsGroupConfig {
        StreamsGroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            assignment_interval: Duration::ZERO,
            ..StreamsGroupConfig::default()
        }
    }

    fn join(member_id: &str, process: &str) -> StreamsHeartbeat {
        StreamsHeartbeat {
            member_id: member_id.into(),
            member_epoch: 0,
            endpoint_information_epoch: -1,
            rebalance_timeout_ms: 30_000,
            topology: Some(topology()),
            owned: Some(TasksTuple::default()),
            owned_lists: [true; 3],
            process_id: Some(process.into()),
            ..StreamsHeartbeat::default()
        }
    }

    fn beat(member_id: &str, epoch: i32, owned: Option<&TasksTuple>) -> StreamsHeartbeat {
        StreamsHeartbeat {
            member_id: member_id.into(),
            member_epoch: epoch,
            endpoint_information_epoch: -1,
            rebalance_timeout_ms: -1,
            owned: owned.cloned(),
            owned_lists: [owned.is_some(); 3],
            ..StreamsHeartbeat::default()
        }
    }

    fn active(tasks: &TasksTuple) -> Vec<i32> {
        tasks.active.values().flatten().copied().collect()
    }

    #[test]
    fn the_first_member_gets_every_task_once_the_internal_topics_exist() {
        let now = Instant::now();
        let mut group = StreamsGroup::new("app", config());
        let answer = group
            .heartbeat(now, &cluster(&[("input", 3)]), &join("a", "p1"))
            .unwrap();
        assert_eq!(answer.to_create.len(), 1);
        assert_eq!(answer.statuses[0].code, StatusCode::MissingInternalTopics);
        assert_eq!(answer.tasks, Some(TasksTuple::default()));
        assert_eq!(group.state(), StreamsGroupState::NotReady);
        let ready = cluster(&[("input", 3), ("app-changelog", 3)]);
        let answer = group
            .heartbeat(now, &ready, &beat("a", answer.member_epoch, None))
            .unwrap();
        assert!(answer.statuses.is_empty(), "{:?}", answer.statuses);
        assert_eq!(active(answer.tasks.as_ref().unwrap()), [0, 1, 2]);
        assert_eq!(group.state(), StreamsGroupState::Stable);
        // Nothing changed: no tasks in the answer.
        let again = group
            .heartbeat(now, &ready, &beat("a", answer.member_epoch, None))
            .unwrap();
        assert_eq!(again.tasks, None);
    }

    #[test]
    fn a_second_member_gets_tasks_only_after_the_first_revoked_them() {
        let now = Instant::now();
        let ready = cluster(&[("input", 2), ("app-changelog", 2)]);
        let mut group = StreamsGroup::new("app", config());
        let a = group.heartbeat(now, &ready, &join("a", "p1")).unwrap();
        let a_tasks = a.tasks.clone().unwrap();
        assert_eq!(active(&a_tasks), [0, 1]);
        let b = group.heartbeat(now, &ready, &join("b", "p2")).unwrap();
        // b's task is still a's.
        assert_eq!(b.tasks, Some(TasksTuple::default()));
        let a2 = group
            .heartbeat(now, &ready, &beat("a", a.member_epoch, Some(&a_tasks)))
            .unwrap();
        assert_eq!(a2.member_epoch, a.member_epoch, "a revokes at its epoch");
        let kept = a2.tasks.clone().unwrap();
        assert_eq!(active(&kept).len(), 1);
        let b2 = group
            .heartbeat(now, &ready, &beat("b", b.member_epoch, None))
            .unwrap();
        assert_eq!(b2.tasks, None, "still not released");
        let a3 = group
            .heartbeat(now, &ready, &beat("a", a2.member_epoch, Some(&kept)))
            .unwrap();
        assert!(a3.member_epoch > a.member_epoch);
        let b3 = group
            .heartbeat(now, &ready, &beat("b", b2.member_epoch, None))
            .unwrap();
        let b_tasks = b3.tasks.unwrap();
        assert_eq!(active(&b_tasks).len(), 1);
        assert!(!b_tasks.overlaps(&kept));
    }

    #[test]
    fn epochs_are_checked_and_a_lost_answer_is_forgiven() {
        let now = Instant::now();
        let ready = cluster(&[("input", 1), ("app-changelog", 1)]);
        let mut group = StreamsGroup::new("app", config());
        let a = group.heartbeat(now, &ready, &join("a", "p1")).unwrap();
        let ahead = group.heartbeat(now, &ready, &beat("a", a.member_epoch + 1, None));
        assert!(matches!(ahead, Err(GroupError::FencedMemberEpoch(_))));
        let unknown = group.heartbeat(now, &ready, &beat("x", 1, None));
        assert!(matches!(unknown, Err(GroupError::UnknownMemberId(_))));
        // The answer moving a from 0 to its epoch was lost: it may come
        // back at 0 owning nothing more than it has.
        let lost = group.heartbeat(now, &ready, &beat("a", 0, Some(&TasksTuple::default())));
        assert!(lost.is_ok());
        // A refused heartbeat changed nothing.
        assert_eq!(group.members().count(), 1);
    }

    #[test]
    fn a_topology_cannot_change_and_a_full_group_refuses_newcomers() {
        let now = Instant::now();
        let ready = cluster(&[("input", 1), ("app-changelog", 1)]);
        let mut group = StreamsGroup::new(
            "app",
            StreamsGroupConfig {
                max_size: 1,
                ..config()
            },
        );
        group.heartbeat(now, &ready, &join("a", "p1")).unwrap();
        let full = group.heartbeat(now, &ready, &join("b", "p2"));
        assert_eq!(
            full,
            Err(GroupError::GroupMaxSizeReached(
                "The streams group has reached its maximum capacity of 1 members.".into()
            ))
        );
        let mut other = join("a", "p1");
        if let Some(t) = other.topology.as_mut() {
            t.subtopologies[0].source_topics.push("more".into());
        }
        let changed = group.heartbeat(now, &ready, &other);
        assert_eq!(
            changed,
            Err(GroupError::InvalidRequest(
                "Topology updates are not supported yet.".into()
            ))
        );
    }

    #[test]
    fn a_restored_group_keeps_members_epochs_and_tasks() {
        let now = Instant::now();
        let ready = cluster(&[("input", 2), ("app-changelog", 2)]);
        let mut group = StreamsGroup::new("app", config());
        let a = group.heartbeat(now, &ready, &join("a", "p1")).unwrap();
        let image = group.image();
        // Through the bytes Kafka's layout gives them.
        let reread: Image = image
            .iter()
            .map(|(key, value)| {
                let bytes = super::super::records::encode_value(value).unwrap();
                let decoded = super::super::records::decode_value(key, &bytes).unwrap();
                (key.clone(), decoded)
            })
            .collect();
        assert_eq!(reread, image);
        let mut restored = StreamsGroup::restore("app", config(), &reread, now).unwrap();
        assert_eq!(restored.group_epoch, group.group_epoch);
        assert_eq!(restored.image(), image);
        let tasks: Tasks = a.tasks.unwrap().active;
        let owned = TasksTuple {
            active: tasks,
            ..TasksTuple::default()
        };
        let answer = restored
            .heartbeat(now, &ready, &beat("a", a.member_epoch, Some(&owned)))
            .unwrap();
        assert_eq!(answer.member_epoch, a.member_epoch);
        assert_eq!(answer.tasks, None);
        assert!(restored
            .validate_offset_commit("a", a.member_epoch, &[("input".into(), 1)], Some(9))
            .is_ok());
    }
}
