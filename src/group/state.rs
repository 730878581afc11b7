//! The classic consumer-group state machine, as Kafka's group coordinator
//! runs it: Empty → PreparingRebalance → CompletingRebalance → Stable, and
//! Dead once deleted.
//!
//! This is pure state: no I/O, no timers, no channels. Callers pass the
//! current time in and get back either an immediate answer or "wait"; the
//! answers for members that waited come out of [`Group::poll`] and
//! [`Group::sync`] as [`Event`]s. The group actor turns those into responses,
//! persists what must be persisted, and sleeps until [`Group::next_deadline`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;

use super::GroupConfig;
use crate::records::primitives::MAX_STRING_LENGTH;
use crate::types::TopicPartition;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka uses in DescribeGroups and ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// One member of the group, as the coordinator knows it.
#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    /// Supported protocols by preference: name and the member's metadata.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    awaiting_join: bool,
    awaiting_sync: bool,
    heartbeat_deadline: Instant,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// What a JoinGroup asks.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a new member must first learn its member id and join again.
    pub require_known_member_id: bool,
    /// v9+: a static leader rejoining a stable group can be told to skip
    /// the assignment (KIP-814).
    pub supports_skip_assignment: bool,
}

/// What a SyncGroup asks.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub member_id: String,
    pub generation_id: i32,
    pub group_instance_id: Option<String>,
    /// v5+: the client's view of the protocol, checked against the group's.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// From the leader: each member's assignment.
    pub assignments: Vec<(String, Bytes)>,
}

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
    /// A static leader rejoining a stable group keeps the current assignment.
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(error: ResponseError, member_id: &str) -> JoinResult {
        JoinResult {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ResponseError) -> SyncResult {
        SyncResult {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// Immediate answer, or the member (by the id it now has) waits for the
/// rebalance and hears the answer as an [`Event`].
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    Respond(T),
    Wait { member_id: String },
}

/// Things that happened that waiting members or storage must hear about.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Joined {
        member_id: String,
        result: JoinResult,
    },
    Synced {
        member_id: String,
        result: SyncResult,
    },
    /// The group's membership changed in a way Kafka persists
    /// (new generation assigned, or the group became empty).
    PersistGroup,
}

/// Which parked call members are waiting on.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    Join,
    Sync,
}

/// The initial-rebalance delay of a new group: the join completes once no
/// new member arrived for one `group.initial.rebalance.delay.ms` window, or
/// at the rebalance timeout.
#[derive(Debug, Clone, Copy)]
struct InitialDelay {
    window_end: Instant,
    hard_end: Instant,
    joined_in_window: bool,
}

#[derive(Debug)]
pub struct Group {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    /// Wall-clock milliseconds of the last state change (for persistence and
    /// offset expiry).
    pub state_timestamp: i64,
    members: BTreeMap<String, Member>,
    /// Join order, so the first member to join leads, as in Kafka.
    join_order: Vec<String>,
    static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, until they rejoin.
    pending_members: HashMap<String, Instant>,
    rebalance_deadline: Option<Instant>,
    initial_delay: Option<InitialDelay>,
    sync_deadline: Option<Instant>,
    pub offsets: HashMap<TopicPartition, CommittedOffset>,
    /// Offsets committed inside open transactions, by producer id: they
    /// become `offsets` when the transaction commits, and vanish if it aborts.
    pub pending_txn_offsets: HashMap<i64, HashMap<TopicPartition, CommittedOffset>>,
    config: GroupConfig,
}

/// `<client id or group instance id>-<uuid>`, as Kafka makes them; a
/// prefix too long for the i16-length string the member id is stored in
/// is cut (a member id is opaque to clients).
fn new_member_id(prefix: &str) -> String {
    const SUFFIX: usize = 37; // "-" and a hyphenated UUID
    let mut end = prefix.len().min(MAX_STRING_LENGTH - SUFFIX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{}", &prefix[..end], uuid::Uuid::new_v4())
}

impl Group {
    pub fn new(group_id: &str, config: GroupConfig, now_ms: i64) -> Group {
        Group {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            state_timestamp: now_ms,
            members: BTreeMap::new(),
            join_order: Vec::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            rebalance_deadline: None,
            initial_delay: None,
            sync_deadline: None,
            offsets: HashMap::new(),
            pending_txn_offsets: HashMap::new(),
            config,
        }
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn set_state(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_timestamp = now_ms;
    }

    /// Restores what `__consumer_offsets` recorded: generation, protocol,
    /// leader and members with their assignments, as Kafka reloads a group
    /// when it becomes its coordinator. Members' sessions start now, so
    /// members that are gone expire after their session timeout.
    pub fn restore(&mut self, metadata: super::log_format::GroupMetadata, now: Instant) {
        self.generation_id = metadata.generation_id;
        self.protocol_type = (!metadata.protocol_type.is_empty()).then_some(metadata.protocol_type);
        self.protocol_name = metadata.protocol_name.clone();
        self.state_timestamp = metadata.state_timestamp;
        self.members.clear();
        self.join_order.clear();
        self.static_members.clear();
        let protocol = metadata.protocol_name.unwrap_or_default();
        for member in metadata.members {
            let session_timeout = Duration::from_millis(member.session_timeout_ms.max(0) as u64);
            if let Some(instance_id) = &member.group_instance_id {
                self.static_members
                    .insert(instance_id.clone(), member.member_id.clone());
            }
            self.join_order.push(member.member_id.clone());
            self.members.insert(
                member.member_id.clone(),
                Member {
                    member_id: member.member_id,
                    group_instance_id: member.group_instance_id,
                    client_id: member.client_id,
                    client_host: member.client_host,
                    rebalance_timeout: Duration::from_millis(
                        member.rebalance_timeout_ms.max(0) as u64
                    ),
                    session_timeout,
                    protocols: vec![(protocol.clone(), member.subscription)],
                    assignment: member.assignment,
                    awaiting_join: false,
                    awaiting_sync: false,
                    heartbeat_deadline: now + session_timeout,
                },
            );
        }
        self.leader_id = metadata
            .leader
            .filter(|leader| self.members.contains_key(leader));
        self.state = if self.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
    }

    /// Whether a joining member's protocols fit the group's.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(name, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == name))
            })
    }

    /// The time-outs the actor must wake up for.
    pub fn next_deadline(&self) -> Option<Instant> {
        let heartbeats = self
            .members
            .values()
            .filter(|m| !m.awaiting_join && !m.awaiting_sync)
            .map(|m| m.heartbeat_deadline);
        heartbeats
            .chain(self.pending_members.values().copied())
            .chain(self.rebalance_deadline)
            .chain(self.initial_delay.map(|d| d.window_end))
            .chain(self.sync_deadline)
            .min()
    }

    pub fn join(
        &mut self,
        now: Instant,
        now_ms: i64,
        request: JoinRequest,
    ) -> (Outcome<JoinResult>, Vec<Event>) {
        let mut events = Vec::new();
        let respond = |error| {
            (
                Outcome::Respond(JoinResult::error(error, &request.member_id)),
                Vec::new(),
            )
        };
        if self.state == GroupState::Dead {
            return respond(ResponseError::CoordinatorNotAvailable);
        }
        if request.session_timeout < self.config.min_session_timeout
            || request.session_timeout > self.config.max_session_timeout
        {
            return respond(ResponseError::InvalidSessionTimeout);
        }
        if !self.supports(&request.protocol_type, &request.protocols) {
            return respond(ResponseError::InconsistentGroupProtocol);
        }

        if request.member_id.is_empty() {
            if let Some(instance_id) = request.group_instance_id.clone() {
                if let Some(old_id) = self.static_members.get(&instance_id).cloned() {
                    return self.rejoin_static(now, now_ms, request, &old_id);
                }
                if self.is_full() {
                    return respond(ResponseError::GroupMaxSizeReached);
                }
                let member_id = new_member_id(&instance_id);
                self.add_member(now, now_ms, &member_id, request, &mut events);
                return (Outcome::Wait { member_id }, events);
            }
            let member_id = new_member_id(&request.client_id);
            if request.require_known_member_id {
                self.pending_members
                    .insert(member_id.clone(), now + request.session_timeout);
                return (
                    Outcome::Respond(JoinResult::error(
                        ResponseError::MemberIdRequired,
                        &member_id,
                    )),
                    events,
                );
            }
            if self.is_full() {
                return respond(ResponseError::GroupMaxSizeReached);
            }
            self.add_member(now, now_ms, &member_id, request, &mut events);
            return (Outcome::Wait { member_id }, events);
        }

        let member_id = request.member_id.clone();
        if self.pending_members.remove(&member_id).is_some() {
            if self.is_full() {
                return respond(ResponseError::GroupMaxSizeReached);
            }
            self.add_member(now, now_ms, &member_id, request, &mut events);
            return (Outcome::Wait { member_id }, events);
        }
        if let Some(error) = self.fencing_error(&member_id, request.group_instance_id.as_deref()) {
            return respond(error);
        }
        let Some(member) = self.members.get(&member_id) else {
            return respond(ResponseError::UnknownMemberId);
        };
        let protocols_changed = member.protocols != request.protocols;
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member(now, &member_id, request);
                (Outcome::Wait { member_id }, events)
            }
            GroupState::CompletingRebalance if !protocols_changed => {
                (Outcome::Respond(self.join_result_for(&member_id)), events)
            }
            GroupState::Stable
                if !protocols_changed && self.leader_id.as_deref() != Some(&member_id) =>
            {
                (Outcome::Respond(self.join_result_for(&member_id)), events)
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member(now, &member_id, request);
                self.prepare_rebalance(now, now_ms, &mut events);
                (Outcome::Wait { member_id }, events)
            }
            GroupState::Empty | GroupState::Dead => respond(ResponseError::UnknownMemberId),
        }
    }

    fn is_full(&self) -> bool {
        self.members.len() >= self.config.max_size
    }

    /// A static member rejoining under a new member id (it restarted): the
    /// old id is fenced; a stable group keeps its assignment, no rebalance.
    fn rejoin_static(
        &mut self,
        now: Instant,
        now_ms: i64,
        request: JoinRequest,
        old_id: &str,
    ) -> (Outcome<JoinResult>, Vec<Event>) {
        let mut events = Vec::new();
        let instance_id = request.group_instance_id.clone().unwrap_or_default();
        let Some(mut member) = self.members.remove(old_id) else {
            self.static_members.remove(&instance_id);
            return self.join(now, now_ms, request);
        };
        if member.awaiting_join {
            events.push(Event::Joined {
                member_id: old_id.to_string(),
                result: JoinResult::error(ResponseError::FencedInstanceId, old_id),
            });
        }
        if member.awaiting_sync {
            events.push(Event::Synced {
                member_id: old_id.to_string(),
                result: SyncResult::error(ResponseError::FencedInstanceId),
            });
        }
        let new_id = new_member_id(&instance_id);
        let protocols_changed = member.protocols != request.protocols;
        let old_leader = self.leader_id.clone().unwrap_or_default();
        member.member_id = new_id.clone();
        member.awaiting_join = false;
        member.awaiting_sync = false;
        member.client_id = request.client_id.clone();
        member.client_host = request.client_host.clone();
        member.heartbeat_deadline = now + request.session_timeout;
        self.members.insert(new_id.clone(), member);
        for id in &mut self.join_order {
            if id == old_id {
                *id = new_id.clone();
            }
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(new_id.clone());
        }
        self.static_members.insert(instance_id, new_id.clone());

        match self.state {
            GroupState::Stable if !protocols_changed => {
                // As Kafka answers: the leader id is the *old* one, so that a
                // rejoining leader does not recompute an assignment a stable
                // group would not hand out; from v9 it is told so instead
                // (skip_assignment) and sees the members.
                let is_leader = self.leader_id.as_deref() == Some(new_id.as_str());
                let skip = is_leader && request.supports_skip_assignment;
                let mut result = self.join_result_for(&new_id);
                result.skip_assignment = skip;
                if !skip {
                    result.leader = old_leader;
                    result.members.clear();
                }
                (Outcome::Respond(result), events)
            }
            GroupState::PreparingRebalance => {
                self.update_member(now, &new_id, request);
                (Outcome::Wait { member_id: new_id }, events)
            }
            _ => {
                self.update_member(now, &new_id, request);
                self.prepare_rebalance(now, now_ms, &mut events);
                (Outcome::Wait { member_id: new_id }, events)
            }
        }
    }

    /// The checks SyncGroup, Heartbeat and OffsetCommit share, in Kafka's
    /// order: fenced instance, unknown member, wrong generation.
    fn check_member(
        &self,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(error) = self.fencing_error(member_id, group_instance_id) {
            return Err(error);
        }
        if !self.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation_id != self.generation_id {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// A static member is fenced when its instance id now belongs to
    /// another member id (a newer process took it over).
    fn fencing_error(&self, member_id: &str, instance_id: Option<&str>) -> Option<ResponseError> {
        match self.static_members.get(instance_id?) {
            Some(current) if current != member_id => Some(ResponseError::FencedInstanceId),
            _ => None,
        }
    }

    fn add_member(
        &mut self,
        now: Instant,
        now_ms: i64,
        member_id: &str,
        request: JoinRequest,
        events: &mut Vec<Event>,
    ) {
        if self.members.is_empty() {
            self.protocol_type = Some(request.protocol_type.clone());
        }
        if let Some(instance_id) = &request.group_instance_id {
            self.static_members
                .insert(instance_id.clone(), member_id.to_string());
        }
        let member = Member {
            member_id: member_id.to_string(),
            group_instance_id: request.group_instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            rebalance_timeout: request.rebalance_timeout,
            session_timeout: request.session_timeout,
            protocols: request.protocols,
            assignment: Bytes::new(),
            awaiting_join: true,
            awaiting_sync: false,
            heartbeat_deadline: now + request.session_timeout,
        };
        self.members.insert(member_id.to_string(), member);
        self.join_order.push(member_id.to_string());
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id.to_string());
        }
        if let Some(delay) = &mut self.initial_delay {
            delay.joined_in_window = true;
        }
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now, now_ms, events);
        }
    }

    fn update_member(&mut self, now: Instant, member_id: &str, request: JoinRequest) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.protocols = request.protocols;
            member.rebalance_timeout = request.rebalance_timeout;
            member.session_timeout = request.session_timeout;
            member.client_id = request.client_id;
            member.client_host = request.client_host;
            member.awaiting_join = true;
            member.heartbeat_deadline = now + member.session_timeout;
        }
    }

    fn prepare_rebalance(&mut self, now: Instant, now_ms: i64, events: &mut Vec<Event>) {
        if self.state == GroupState::CompletingRebalance {
            self.fail_pending_syncs(ResponseError::RebalanceInProgress, events);
        }
        self.sync_deadline = None;
        let rebalance_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        if self.state == GroupState::Empty && !self.config.initial_rebalance_delay.is_zero() {
            let window = self.config.initial_rebalance_delay.min(rebalance_timeout);
            self.initial_delay = Some(InitialDelay {
                window_end: now + window,
                hard_end: now + rebalance_timeout,
                joined_in_window: false,
            });
            self.rebalance_deadline = None;
        } else {
            self.rebalance_deadline = Some(now + rebalance_timeout);
        }
        self.set_state(GroupState::PreparingRebalance, now_ms);
    }

    fn fail_pending_syncs(&mut self, error: ResponseError, events: &mut Vec<Event>) {
        for member in self.members.values_mut() {
            if member.awaiting_sync {
                member.awaiting_sync = false;
                events.push(Event::Synced {
                    member_id: member.member_id.clone(),
                    result: SyncResult::error(error),
                });
            }
        }
    }

    fn join_result_for(&self, member_id: &str) -> JoinResult {
        let leader = self.leader_id.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.join_order
                .iter()
                .filter_map(|id| self.members.get(id))
                .map(|m| JoinedMember {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    metadata: m.metadata_for(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinResult {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader,
            member_id: member_id.to_string(),
            members,
            skip_assignment: false,
        }
    }

    /// Advances timers: expires members and pending ids, completes joins
    /// whose wait is over, times out a leader that never synced.
    pub fn poll(&mut self, now: Instant, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        self.pending_members.retain(|_, deadline| *deadline > now);

        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join && !m.awaiting_sync && m.heartbeat_deadline <= now)
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in expired {
            self.remove_member(now, now_ms, &member_id, &mut events);
        }

        if self.state == GroupState::CompletingRebalance
            && self.sync_deadline.is_some_and(|deadline| deadline <= now)
        {
            // The leader never sent its assignment: drop members that did not
            // sync and start over.
            let silent: Vec<String> = self
                .members
                .values()
                .filter(|m| !m.awaiting_sync)
                .map(|m| m.member_id.clone())
                .collect();
            for member_id in silent {
                self.remove_member(now, now_ms, &member_id, &mut events);
            }
            if self.state == GroupState::CompletingRebalance {
                self.prepare_rebalance(now, now_ms, &mut events);
            }
        }

        if self.state == GroupState::PreparingRebalance && self.join_can_complete(now) {
            self.complete_join(now, now_ms, &mut events);
        }
        events
    }

    fn join_can_complete(&mut self, now: Instant) -> bool {
        if let Some(delay) = self.initial_delay {
            if now >= delay.hard_end {
                return true;
            }
            if now < delay.window_end {
                return false;
            }
            if delay.joined_in_window {
                let window = self.config.initial_rebalance_delay;
                self.initial_delay = Some(InitialDelay {
                    window_end: (now + window).min(delay.hard_end),
                    hard_end: delay.hard_end,
                    joined_in_window: false,
                });
                return false;
            }
            return true;
        }
        let all_joined = self.members.values().all(|m| m.awaiting_join);
        all_joined
            || self
                .rebalance_deadline
                .is_some_and(|deadline| deadline <= now)
    }

    fn complete_join(&mut self, now: Instant, now_ms: i64, events: &mut Vec<Event>) {
        self.initial_delay = None;
        self.rebalance_deadline = None;
        // Dynamic members that did not rejoin in time are out; static ones
        // stay (KIP-345) and get an assignment while they are away.
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in missing {
            self.forget_member(&member_id);
        }
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.leader_id = None;
            self.set_state(GroupState::Empty, now_ms);
            events.push(Event::PersistGroup);
            return;
        }
        self.protocol_name = self.select_protocol();
        // The leader must be a member that rejoined: a static leader that
        // stayed away keeps its membership but not the lead.
        let leader_rejoined = self
            .leader_id
            .as_ref()
            .and_then(|leader| self.members.get(leader))
            .is_some_and(|m| m.awaiting_join);
        if !leader_rejoined {
            let rejoined = self
                .join_order
                .iter()
                .find(|id| self.members.get(*id).is_some_and(|m| m.awaiting_join));
            self.leader_id = rejoined.or(self.join_order.first()).cloned();
        }
        self.set_state(GroupState::CompletingRebalance, now_ms);
        let rebalance_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.sync_deadline = Some(now + rebalance_timeout);
        self.answer_waiting(now, Waiting::Join, events);
    }

    /// Answers every member parked on `waiting`: each gets its result, stops
    /// waiting, and its session restarts now.
    fn answer_waiting(&mut self, now: Instant, waiting: Waiting, events: &mut Vec<Event>) {
        let parked: Vec<String> = self
            .members
            .values()
            .filter(|m| match waiting {
                Waiting::Join => m.awaiting_join,
                Waiting::Sync => m.awaiting_sync,
            })
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in parked {
            let event = match waiting {
                Waiting::Join => Event::Joined {
                    result: self.join_result_for(&member_id),
                    member_id: member_id.clone(),
                },
                Waiting::Sync => Event::Synced {
                    result: self.sync_result(&member_id),
                    member_id: member_id.clone(),
                },
            };
            if let Some(member) = self.members.get_mut(&member_id) {
                member.awaiting_join = false;
                member.awaiting_sync = false;
                member.heartbeat_deadline = now + member.session_timeout;
            }
            events.push(event);
        }
    }

    fn select_protocol(&self) -> Option<String> {
        select_protocol(self.members.values().map(|m| m.protocols.as_slice()))
    }

    /// The members now belong to a consumer group (an online upgrade):
    /// members waiting in JoinGroup or SyncGroup are told to rejoin, as
    /// Kafka answers them, and the classic group is left empty; its
    /// offsets stay.
    pub fn hand_over_members(&mut self, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        for member in self.members.values() {
            if member.awaiting_join {
                events.push(Event::Joined {
                    member_id: member.member_id.clone(),
                    result: JoinResult::error(
                        ResponseError::RebalanceInProgress,
                        &member.member_id,
                    ),
                });
            }
            if member.awaiting_sync {
                events.push(Event::Synced {
                    member_id: member.member_id.clone(),
                    result: SyncResult::error(ResponseError::RebalanceInProgress),
                });
            }
        }
        self.members.clear();
        self.join_order.clear();
        self.static_members.clear();
        self.pending_members.clear();
        self.rebalance_deadline = None;
        self.initial_delay = None;
        self.sync_deadline = None;
        self.leader_id = None;
        self.protocol_name = None;
        self.protocol_type = None;
        self.set_state(GroupState::Empty, now_ms);
        events
    }

    /// Starts a rebalance: the members are told to rejoin.
    pub fn rebalance(&mut self, now: Instant, now_ms: i64) -> Vec<Event> {
        let mut events = Vec::new();
        if self.state != GroupState::PreparingRebalance && !self.members.is_empty() {
            self.prepare_rebalance(now, now_ms, &mut events);
        }
        events
    }

    fn forget_member(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        self.join_order.retain(|id| id != member_id);
        if let Some(instance_id) = &member.group_instance_id {
            if self.static_members.get(instance_id).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance_id);
            }
        }
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.join_order.first().cloned();
        }
        Some(member)
    }

    fn remove_member(
        &mut self,
        now: Instant,
        now_ms: i64,
        member_id: &str,
        events: &mut Vec<Event>,
    ) {
        let Some(member) = self.forget_member(member_id) else {
            return;
        };
        if member.awaiting_join {
            events.push(Event::Joined {
                member_id: member_id.to_string(),
                result: JoinResult::error(ResponseError::UnknownMemberId, member_id),
            });
        }
        if member.awaiting_sync {
            events.push(Event::Synced {
                member_id: member_id.to_string(),
                result: SyncResult::error(ResponseError::UnknownMemberId),
            });
        }
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance
        ) {
            self.prepare_rebalance(now, now_ms, events);
        }
        // As Kafka's join purgatory: if everyone left is already waiting in
        // JoinGroup (or nobody is left) the join completes now, so the
        // caller persists the new generation before it answers.
        if self.state == GroupState::PreparingRebalance && self.join_can_complete(now) {
            self.complete_join(now, now_ms, events);
        }
    }

    pub fn sync(
        &mut self,
        now: Instant,
        now_ms: i64,
        request: SyncRequest,
    ) -> (Outcome<SyncResult>, Vec<Event>) {
        let mut events = Vec::new();
        let member_id = request.member_id.as_str();
        let generation_id = request.generation_id;
        let group_instance_id = request.group_instance_id.as_deref();
        let respond = |error| (Outcome::Respond(SyncResult::error(error)), Vec::new());
        if self.state == GroupState::Dead {
            return respond(ResponseError::CoordinatorNotAvailable);
        }
        if let Err(error) = self.check_member(member_id, generation_id, group_instance_id) {
            return respond(error);
        }
        let (protocol_type, protocol_name) = (
            request.protocol_type.as_deref(),
            request.protocol_name.as_deref(),
        );
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return respond(ResponseError::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => respond(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => respond(ResponseError::RebalanceInProgress),
            GroupState::Stable => {
                let result = self.sync_result(member_id);
                (Outcome::Respond(result), events)
            }
            GroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(member_id) {
                    member.awaiting_sync = true;
                    member.heartbeat_deadline = now + member.session_timeout;
                }
                if self.leader_id.as_deref() == Some(member_id) {
                    let mut assigned: HashMap<String, Bytes> =
                        request.assignments.iter().cloned().collect();
                    for member in self.members.values_mut() {
                        member.assignment = assigned.remove(&member.member_id).unwrap_or_default();
                    }
                    self.sync_deadline = None;
                    self.set_state(GroupState::Stable, now_ms);
                    events.push(Event::PersistGroup);
                    self.answer_waiting(now, Waiting::Sync, &mut events);
                }
                (
                    Outcome::Wait {
                        member_id: member_id.to_string(),
                    },
                    events,
                )
            }
        }
    }

    fn sync_result(&self, member_id: &str) -> SyncResult {
        SyncResult {
            error: None,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            assignment: self
                .members
                .get(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        }
    }

    pub fn heartbeat(
        &mut self,
        now: Instant,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
    ) -> Option<ResponseError> {
        if self.state == GroupState::Dead {
            return Some(ResponseError::CoordinatorNotAvailable);
        }
        // An Empty group has no members, so its heartbeats are unknown members.
        if let Err(error) = self.check_member(member_id, generation_id, group_instance_id) {
            return Some(error);
        }
        if let Some(member) = self.members.get_mut(member_id) {
            member.heartbeat_deadline = now + member.session_timeout;
        }
        match self.state {
            GroupState::PreparingRebalance => Some(ResponseError::RebalanceInProgress),
            _ => None,
        }
    }

    /// LeaveGroup for one member, by member id or (static) instance id.
    pub fn leave(
        &mut self,
        now: Instant,
        now_ms: i64,
        member_id: &str,
        group_instance_id: Option<&str>,
        events: &mut Vec<Event>,
    ) -> Result<String, ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        let resolved = match group_instance_id {
            Some(instance_id) => match self.static_members.get(instance_id) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(current) if !member_id.is_empty() && current != member_id => {
                    return Err(ResponseError::FencedInstanceId)
                }
                Some(current) => current.clone(),
            },
            None => member_id.to_string(),
        };
        if self.pending_members.remove(&resolved).is_some() {
            return Ok(resolved);
        }
        if !self.members.contains_key(&resolved) {
            return Err(ResponseError::UnknownMemberId);
        }
        self.remove_member(now, now_ms, &resolved, events);
        Ok(resolved)
    }

    /// Checks an OffsetCommit against the group's membership.
    pub fn validate_commit(
        &self,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        // Commits outside group management ("simple" consumers).
        if generation_id < 0 && member_id.is_empty() && self.members.is_empty() {
            return Ok(());
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(ResponseError::RebalanceInProgress);
        }
        self.check_member(member_id, generation_id, group_instance_id)
    }

    /// Checks a TxnOffsetCommit: producers that name no member and no
    /// generation are not checked against the group (KIP-447 made the
    /// check possible, not mandatory).
    pub fn validate_txn_commit(
        &self,
        member_id: &str,
        generation_id: i32,
        group_instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if self.state == GroupState::Dead {
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        if generation_id < 0 && member_id.is_empty() {
            return Ok(());
        }
        self.check_member(member_id, generation_id, group_instance_id)
    }

    /// Ends a producer's transaction for this group: its pending offsets
    /// become committed offsets, or are dropped.
    pub fn complete_txn(&mut self, producer_id: i64, commit: bool) {
        if let Some(pending) = self.pending_txn_offsets.remove(&producer_id) {
            if commit {
                self.offsets.extend(pending);
            }
        }
    }

    /// Marks the group deleted; only an empty group can be.
    pub fn delete(&mut self, now_ms: i64) -> Result<(), ResponseError> {
        match self.state {
            GroupState::Empty => {
                self.offsets.clear();
                self.set_state(GroupState::Dead, now_ms);
                Ok(())
            }
            GroupState::Dead => Err(ResponseError::GroupIdNotFound),
            _ => Err(ResponseError::NonEmptyGroup),
        }
    }

    /// Topics the current members subscribe to, if the consumer protocol's
    /// subscriptions can be read (OffsetDelete refuses those).
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        if self.protocol_type.as_deref() != Some("consumer") {
            return false;
        }
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members.values().any(|member| {
            super::consumer_protocol::subscription_topics(&member.metadata_for(&protocol))
                .is_some_and(|topics| topics.iter().any(|t| t == topic))
        })
    }
}

/// The protocol every member supports that most members prefer; on a tie,
/// the one the first member prefers. `members` gives each member's
/// protocols by preference.
pub fn select_protocol<'a>(
    members: impl Iterator<Item = &'a [(String, Bytes)]> + Clone,
) -> Option<String> {
    let first = members.clone().next()?;
    let candidates: Vec<&String> = first
        .iter()
        .map(|(name, _)| name)
        .filter(|name| {
            members
                .clone()
                .all(|protocols| protocols.iter().any(|(n, _)| n == *name))
        })
        .collect();
    let mut votes: Vec<(usize, &String)> = candidates.iter().map(|c| (0, *c)).collect();
    for protocols in members {
        if let Some((name, _)) = protocols.iter().find(|(n, _)| candidates.contains(&n)) {
            if let Some(vote) = votes.iter_mut().find(|(_, c)| *c == name) {
                vote.0 += 1;
            }
        }
    }
    // Highest vote; on a tie, the earlier candidate in the first member's order.
    votes
        .iter()
        .rev()
        .max_by_key(|(count, _)| *count)
        .map(|(_, name)| (*name).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            ..GroupConfig::default()
        }
    }

    fn request(member_id: &str, instance: Option<&str>) -> JoinRequest {
        JoinRequest {
            member_id: member_id.to_string(),
            group_instance_id: instance.map(str::to_string),
            client_id: "client".to_string(),
            client_host: "/127.0.0.1".to_string(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            protocol_type: "consumer".to_string(),
            protocols: vec![("range".to_string(), Bytes::from_static(b"meta"))],
            require_known_member_id: true,
            supports_skip_assignment: true,
        }
    }

    fn sync_request(
        member_id: &str,
        generation_id: i32,
        instance: Option<String>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncRequest {
        SyncRequest {
            member_id: member_id.to_string(),
            generation_id,
            group_instance_id: instance,
            assignments,
            ..SyncRequest::default()
        }
    }

    /// Joins a new dynamic member through MEMBER_ID_REQUIRED; returns its id.
    fn join_new(group: &mut Group, now: Instant) -> (String, Vec<Event>) {
        let (outcome, _) = group.join(now, 0, request("", None));
        let Outcome::Respond(first) = outcome else {
            panic!("expected MEMBER_ID_REQUIRED")
        };
        assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
        let (outcome, mut events) = group.join(now, 0, request(&first.member_id, None));
        assert_eq!(
            outcome,
            Outcome::Wait {
                member_id: first.member_id.clone()
            }
        );
        events.extend(group.poll(now, 0));
        (first.member_id, events)
    }

    fn joined(events: &[Event]) -> Vec<(&str, &JoinResult)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Joined { member_id, result } => Some((member_id.as_str(), result)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn member_ids_made_from_the_longest_client_ids_still_fit_a_record() {
        let id = new_member_id(&"c".repeat(MAX_STRING_LENGTH));
        assert_eq!(id.len(), MAX_STRING_LENGTH);
        assert!(new_member_id(&"é".repeat(20_000)).len() <= MAX_STRING_LENGTH);
        let short = new_member_id("client");
        assert!(short.starts_with("client-") && short.len() == "client".len() + 37);
    }

    #[test]
    fn first_member_leads_and_the_group_stabilises_after_sync() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let (leader, events) = join_new(&mut group, now);
        let results = joined(&events);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].1.generation_id, 1);
        assert_eq!(results[0].1.leader, leader);
        assert_eq!(results[0].1.members.len(), 1);
        assert_eq!(results[0].1.protocol_name.as_deref(), Some("range"));
        assert_eq!(group.state, GroupState::CompletingRebalance);

        let (outcome, events) = group.sync(
            now,
            0,
            sync_request(
                &leader,
                1,
                None,
                vec![(leader.clone(), Bytes::from_static(b"p0"))],
            ),
        );
        assert_eq!(
            outcome,
            Outcome::Wait {
                member_id: leader.clone()
            }
        );
        assert!(events.contains(&Event::PersistGroup));
        assert!(events.iter().any(|e| matches!(e, Event::Synced { result, .. } if result.assignment == Bytes::from_static(b"p0"))));
        assert_eq!(group.state, GroupState::Stable);
        assert_eq!(group.heartbeat(now, &leader, 1, None), None);
        assert_eq!(
            group.heartbeat(now, &leader, 0, None),
            Some(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            group.heartbeat(now, "nobody", 1, None),
            Some(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn a_second_member_triggers_a_rebalance_that_waits_for_the_first() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let (first, _) = join_new(&mut group, now);
        group.sync(now, 0, sync_request(&first, 1, None, vec![]));
        let (second, events) = join_new(&mut group, now);
        assert!(
            joined(&events).is_empty(),
            "waits for the first member to rejoin"
        );
        assert_eq!(group.state, GroupState::PreparingRebalance);
        assert_eq!(
            group.heartbeat(now, &first, 1, None),
            Some(ResponseError::RebalanceInProgress)
        );

        let (outcome, mut events) = group.join(now, 0, request(&first, None));
        assert_eq!(
            outcome,
            Outcome::Wait {
                member_id: first.clone()
            }
        );
        events.extend(group.poll(now, 0));
        let results = joined(&events);
        assert_eq!(results.len(), 2);
        for (_, result) in &results {
            assert_eq!(result.generation_id, 2);
            assert_eq!(result.leader, first);
        }
        let leader_view = results.iter().find(|(id, _)| *id == first).unwrap().1;
        assert_eq!(leader_view.members.len(), 2);
        let follower_view = results.iter().find(|(id, _)| *id == second).unwrap().1;
        assert!(follower_view.members.is_empty());
    }

    #[test]
    fn a_member_that_stops_heartbeating_is_removed_after_the_session_timeout() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let (first, _) = join_new(&mut group, now);
        group.sync(now, 0, sync_request(&first, 1, None, vec![]));
        let (second, _) = join_new(&mut group, now);
        group.join(now, 0, request(&first, None));
        group.poll(now, 0);
        group.sync(now, 0, sync_request(&second, 2, None, vec![]));
        group.sync(now, 0, sync_request(&first, 2, None, vec![]));
        assert_eq!(group.state, GroupState::Stable);

        let later = now + Duration::from_secs(6);
        assert_eq!(group.heartbeat(later, &first, 2, None), None);
        let expired = later + Duration::from_secs(5);
        group.poll(expired, 0);
        assert!(group.member(&second).is_none());
        assert_eq!(group.state, GroupState::PreparingRebalance);
    }

    #[test]
    fn a_static_member_rejoining_a_stable_group_keeps_its_assignment_and_fences_the_old_id() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let (outcome, _) = group.join(now, 0, request("", Some("instance-1")));
        let Outcome::Wait { member_id: old_id } = outcome else {
            panic!("a new static member waits")
        };
        let events = group.poll(now, 0);
        assert_eq!(joined(&events)[0].0, old_id);
        group.sync(
            now,
            0,
            sync_request(
                &old_id,
                1,
                Some("instance-1".to_string()),
                vec![(old_id.clone(), Bytes::from_static(b"mine"))],
            ),
        );

        let (outcome, _) = group.join(now, 0, request("", Some("instance-1")));
        let Outcome::Respond(result) = outcome else {
            panic!("no rebalance expected")
        };
        assert_eq!(result.error, None);
        assert_eq!(result.generation_id, 1);
        assert_ne!(result.member_id, old_id);
        assert_eq!(group.state, GroupState::Stable);
        assert_eq!(
            group.member(&result.member_id).unwrap().assignment,
            Bytes::from_static(b"mine")
        );
        assert_eq!(
            group.heartbeat(now, &old_id, 1, Some("instance-1")),
            Some(ResponseError::FencedInstanceId)
        );
        assert_eq!(
            group.validate_commit(&old_id, 1, Some("instance-1")),
            Err(ResponseError::FencedInstanceId)
        );
        assert_eq!(
            group.heartbeat(now, &result.member_id, 1, Some("instance-1")),
            None
        );
    }

    #[test]
    fn leaving_the_last_member_empties_the_group_and_bumps_the_generation() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let (member, _) = join_new(&mut group, now);
        group.sync(now, 0, sync_request(&member, 1, None, vec![]));
        let mut events = Vec::new();
        group.leave(now, 0, &member, None, &mut events).unwrap();
        // Decided by the leave itself, not a later poll: the LeaveGroup
        // answer must not go out before the empty generation is persisted.
        assert_eq!(group.state, GroupState::Empty);
        assert_eq!(group.generation_id, 2);
        assert!(events.contains(&Event::PersistGroup));
        assert_eq!(
            group.leave(now, 0, &member, None, &mut events),
            Err(ResponseError::UnknownMemberId)
        );
        assert_eq!(group.delete(0), Ok(()));
        assert_eq!(group.state, GroupState::Dead);
    }

    #[test]
    fn commits_are_checked_against_generation_and_membership() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        assert_eq!(group.validate_commit("", -1, None), Ok(()));
        let (member, _) = join_new(&mut group, now);
        assert_eq!(
            group.validate_commit(&member, 1, None),
            Err(ResponseError::RebalanceInProgress)
        );
        group.sync(now, 0, sync_request(&member, 1, None, vec![]));
        assert_eq!(group.validate_commit(&member, 1, None), Ok(()));
        assert_eq!(
            group.validate_commit(&member, 0, None),
            Err(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            group.validate_commit("other", 1, None),
            Err(ResponseError::UnknownMemberId)
        );
        assert_eq!(
            group.validate_commit("", -1, None),
            Err(ResponseError::UnknownMemberId)
        );
        assert_eq!(group.delete(0), Err(ResponseError::NonEmptyGroup));
    }

    #[test]
    fn incompatible_protocols_and_bad_session_timeouts_are_refused() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        join_new(&mut group, now);
        let mut other = request("", None);
        other.protocols = vec![("roundrobin".to_string(), Bytes::new())];
        let (outcome, _) = group.join(now, 0, other);
        assert!(
            matches!(outcome, Outcome::Respond(r) if r.error == Some(ResponseError::InconsistentGroupProtocol))
        );
        let mut short = request("", None);
        short.session_timeout = Duration::from_millis(10);
        let (outcome, _) = group.join(now, 0, short);
        assert!(
            matches!(outcome, Outcome::Respond(r) if r.error == Some(ResponseError::InvalidSessionTimeout))
        );
    }

    #[test]
    fn the_protocol_most_members_prefer_among_common_ones_wins() {
        let now = Instant::now();
        let mut group = Group::new("g", config(), 0);
        let both = |first: &str, second: &str| {
            vec![
                (first.to_string(), Bytes::new()),
                (second.to_string(), Bytes::new()),
            ]
        };
        for preference in [
            both("range", "cooperative-sticky"),
            both("cooperative-sticky", "range"),
            both("cooperative-sticky", "range"),
        ] {
            let mut join = request("", None);
            join.require_known_member_id = false;
            join.protocols = preference;
            group.join(now, 0, join);
        }
        group.poll(now, 0);
        assert_eq!(group.protocol_name.as_deref(), Some("cooperative-sticky"));
    }

    #[test]
    fn the_initial_delay_waits_for_a_quiet_window() {
        let now = Instant::now();
        let mut group = Group::new(
            "g",
            GroupConfig {
                initial_rebalance_delay: Duration::from_secs(3),
                ..GroupConfig::default()
            },
            0,
        );
        let mut join = request("", None);
        join.require_known_member_id = false;
        group.join(now, 0, join.clone());
        assert!(group.poll(now + Duration::from_secs(2), 0).is_empty());
        group.join(now + Duration::from_secs(2), 0, join);
        assert!(
            group.poll(now + Duration::from_secs(3), 0).is_empty(),
            "a member joined in the window"
        );
        let events = group.poll(now + Duration::from_secs(6), 0);
        assert_eq!(joined(&events).len(), 2);
    }
}
