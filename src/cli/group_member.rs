//! The console consumer's side of the classic group protocol: join (with
//! the MEMBER_ID_REQUIRED round trip), compute a range assignment when
//! elected leader, sync, heartbeat, commit and leave — so that several
//! `gregor consume --group` processes share a topic's partitions like any
//! Kafka consumers.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest,
    OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::group::consumer_protocol::{assignment_partitions, subscription_topics};

const CLIENT_ID: &str = "gregor-console";
const SESSION_TIMEOUT_MS: i32 = 10_000;
const REBALANCE_TIMEOUT_MS: i32 = 30_000;

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn broker_error(code: i16, context: &str) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(error) => Err(ClientError::Broker(format!("{context}: {error}"))),
    }
}

/// ConsumerProtocolSubscription v0 for one topic.
fn subscription(topic: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(0);
    out.put_i32(1);
    out.put_i16(topic.len() as i16);
    out.put_slice(topic.as_bytes());
    out.put_i32(-1); // no user data
    out.freeze()
}

/// ConsumerProtocolAssignment v0 for partitions of one topic.
fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(0);
    out.put_i32(1);
    out.put_i16(topic.len() as i16);
    out.put_slice(topic.as_bytes());
    out.put_i32(partitions.len() as i32);
    for partition in partitions {
        out.put_i32(*partition);
    }
    out.put_i32(-1);
    out.freeze()
}

/// Kafka's range assignor for one topic: members sorted by id, each a
/// contiguous range, the first ones one partition more when it does not
/// divide evenly.
pub fn range_assign(members: &[String], partitions: &[i32]) -> BTreeMap<String, Vec<i32>> {
    let mut members = members.to_vec();
    members.sort();
    let per_member = partitions.len() / members.len().max(1);
    let extra = partitions.len() % members.len().max(1);
    let mut assigned = BTreeMap::new();
    let mut start = 0;
    for (index, member) in members.iter().enumerate() {
        let count = per_member + usize::from(index < extra);
        assigned.insert(member.clone(), partitions[start..start + count].to_vec());
        start += count;
    }
    assigned
}

pub struct GroupMember {
    coordinator: Connection,
    group: String,
    topic: String,
    member_id: String,
    generation_id: i32,
}

impl GroupMember {
    /// Finds the coordinator, connects to it with `security` and joins;
    /// returns the member and its partitions.
    pub async fn join(
        bootstrap: &mut Connection,
        security: &ClientSecurityConfig,
        group: &str,
        topic: &str,
        all_partitions: &[i32],
    ) -> Result<(GroupMember, Vec<i32>), ClientError> {
        let found = bootstrap
            .request(
                FindCoordinatorRequest::default().with_key(str_bytes(group)),
                3,
            )
            .await?;
        broker_error(found.error_code, "FindCoordinator")?;
        let address = format!("{}:{}", found.host, found.port);
        let coordinator = Connection::connect_with(&address, CLIENT_ID, security).await?;
        let mut member = GroupMember {
            coordinator,
            group: group.to_string(),
            topic: topic.to_string(),
            member_id: String::new(),
            generation_id: -1,
        };
        let partitions = member.rejoin(all_partitions).await?;
        Ok((member, partitions))
    }

    /// (Re)joins the group and returns this member's partitions.
    pub async fn rejoin(&mut self, all_partitions: &[i32]) -> Result<Vec<i32>, ClientError> {
        loop {
            let request = JoinGroupRequest::default()
                .with_group_id(GroupId(str_bytes(&self.group)))
                .with_session_timeout_ms(SESSION_TIMEOUT_MS)
                .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
                .with_member_id(str_bytes(&self.member_id))
                .with_protocol_type(str_bytes("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(str_bytes("range"))
                    .with_metadata(subscription(&self.topic))]);
            let joined = self.coordinator.request(request, 5).await?;
            match ResponseError::try_from_code(joined.error_code) {
                Some(ResponseError::MemberIdRequired) | Some(ResponseError::UnknownMemberId) => {
                    self.member_id = joined.member_id.to_string();
                    continue;
                }
                Some(error) => return Err(ClientError::Broker(format!("JoinGroup: {error}"))),
                None => {}
            }
            self.member_id = joined.member_id.to_string();
            self.generation_id = joined.generation_id;
            let assignments = if joined.leader == joined.member_id {
                let members: Vec<String> = joined
                    .members
                    .iter()
                    .filter(|m| {
                        subscription_topics(&m.metadata).is_some_and(|t| t.contains(&self.topic))
                    })
                    .map(|m| m.member_id.to_string())
                    .collect();
                range_assign(&members, all_partitions)
                    .into_iter()
                    .map(|(member, partitions)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(str_bytes(&member))
                            .with_assignment(assignment(&self.topic, &partitions))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let request = SyncGroupRequest::default()
                .with_group_id(GroupId(str_bytes(&self.group)))
                .with_generation_id(self.generation_id)
                .with_member_id(str_bytes(&self.member_id))
                .with_assignments(assignments);
            let synced = self.coordinator.request(request, 3).await?;
            match ResponseError::try_from_code(synced.error_code) {
                Some(ResponseError::RebalanceInProgress) => continue,
                Some(error) => return Err(ClientError::Broker(format!("SyncGroup: {error}"))),
                None => {}
            }
            let partitions = assignment_partitions(&synced.assignment)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.topic == self.topic)
                .map(|p| p.partition)
                .collect();
            return Ok(partitions);
        }
    }

    /// Keeps the session alive; `true` when the group is rebalancing and this
    /// member must rejoin.
    pub async fn heartbeat(&mut self) -> Result<bool, ClientError> {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_generation_id(self.generation_id)
            .with_member_id(str_bytes(&self.member_id));
        let response = self.coordinator.request(request, 3).await?;
        match ResponseError::try_from_code(response.error_code) {
            None => Ok(false),
            Some(
                ResponseError::RebalanceInProgress
                | ResponseError::IllegalGeneration
                | ResponseError::UnknownMemberId,
            ) => Ok(true),
            Some(error) => Err(ClientError::Broker(format!("Heartbeat: {error}"))),
        }
    }

    /// The committed offsets of `partitions` (absent: none committed).
    pub async fn committed(
        &mut self,
        partitions: &[i32],
    ) -> Result<BTreeMap<i32, i64>, ClientError> {
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(str_bytes(&self.topic)))
                .with_partition_indexes(partitions.to_vec())]));
        let response = self.coordinator.request(request, 5).await?;
        broker_error(response.error_code, "OffsetFetch")?;
        Ok(response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.committed_offset >= 0)
            .map(|p| (p.partition_index, p.committed_offset))
            .collect())
    }

    /// Commits the next offsets to read.
    pub async fn commit(&mut self, offsets: &BTreeMap<i32, i64>) -> Result<(), ClientError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_generation_id_or_member_epoch(self.generation_id)
            .with_member_id(str_bytes(&self.member_id))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(str_bytes(&self.topic)))
                .with_partitions(
                    offsets
                        .iter()
                        .map(|(partition, offset)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*partition)
                                .with_committed_offset(*offset)
                        })
                        .collect(),
                )]);
        let response = self.coordinator.request(request, 7).await?;
        for partition in response.topics.iter().flat_map(|t| t.partitions.iter()) {
            broker_error(partition.error_code, "OffsetCommit")?;
        }
        Ok(())
    }

    pub async fn leave(mut self) -> Result<(), ClientError> {
        let request = LeaveGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_members(vec![
                MemberIdentity::default().with_member_id(str_bytes(&self.member_id))
            ]);
        let response = self.coordinator.request(request, 3).await?;
        broker_error(response.error_code, "LeaveGroup")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_matches_kafkas() {
        let members = vec!["b".to_string(), "a".to_string()];
        let assigned = range_assign(&members, &[0, 1, 2, 3, 4]);
        assert_eq!(assigned["a"], vec![0, 1, 2]);
        assert_eq!(assigned["b"], vec![3, 4]);
        let bytes = assignment("t", &[3, 4]);
        let parsed = assignment_partitions(&bytes).unwrap();
        assert_eq!(
            parsed.iter().map(|p| p.partition).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(
            subscription_topics(&subscription("t")),
            Some(vec!["t".to_string()])
        );
    }
}
