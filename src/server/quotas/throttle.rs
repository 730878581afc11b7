//! `throttle_time_ms` in every response that has it, from the version it
//! appears in (kafka-protocol refuses to encode a field its version lacks).

use kafka_protocol::messages::ResponseKind;

/// Raises the throttle time to `ms` (capped at `i32::MAX`) where
/// `response` at `version` carries one; responses without one (SASL,
/// WriteTxnMarkers, DescribeQuorum) are left as they are. Answers the time
/// the response now carries (`ms` where it has none).
pub fn raise_throttle_time(response: &mut ResponseKind, version: i16, ms: u64) -> u64 {
    let mut carried = ms;
    throttle_time(response, version, |current| {
        let raised = (*current).max(i32::try_from(ms).unwrap_or(i32::MAX));
        *current = raised;
        carried = raised.max(0) as u64;
    });
    carried
}

fn throttle_time(response: &mut ResponseKind, version: i16, mut update: impl FnMut(&mut i32)) {
    macro_rules! from_version {
        ($body:expr, $first:expr) => {
            if version >= $first {
                update(&mut $body.throttle_time_ms);
            }
        };
    }
    match response {
        ResponseKind::ApiVersions(r) => from_version!(r, 1),
        ResponseKind::DescribeGroups(r) => from_version!(r, 1),
        ResponseKind::FindCoordinator(r) => from_version!(r, 1),
        ResponseKind::Heartbeat(r) => from_version!(r, 1),
        ResponseKind::LeaveGroup(r) => from_version!(r, 1),
        ResponseKind::ListGroups(r) => from_version!(r, 1),
        ResponseKind::SyncGroup(r) => from_version!(r, 1),
        ResponseKind::JoinGroup(r) => from_version!(r, 2),
        ResponseKind::ListOffsets(r) => from_version!(r, 2),
        ResponseKind::Metadata(r) => from_version!(r, 3),
        ResponseKind::OffsetCommit(r) => from_version!(r, 3),
        ResponseKind::OffsetFetch(r) => from_version!(r, 3),
        ResponseKind::AddOffsetsToTxn(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AddPartitionsToTxn(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AlterClientQuotas(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AlterConfigs(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AlterPartitionReassignments(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AlterUserScramCredentials(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ConsumerGroupDescribe(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ConsumerGroupHeartbeat(r) => update(&mut r.throttle_time_ms),
        ResponseKind::CreateAcls(r) => update(&mut r.throttle_time_ms),
        ResponseKind::CreateDelegationToken(r) => update(&mut r.throttle_time_ms),
        ResponseKind::CreatePartitions(r) => update(&mut r.throttle_time_ms),
        ResponseKind::CreateTopics(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DeleteAcls(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DeleteGroups(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DeleteRecords(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DeleteTopics(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeAcls(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeClientQuotas(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeCluster(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeConfigs(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeDelegationToken(r) => update(&mut r.throttle_time_ms),
        ResponseKind::AlterReplicaLogDirs(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeLogDirs(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeProducers(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeTopicPartitions(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeTransactions(r) => update(&mut r.throttle_time_ms),
        ResponseKind::DescribeUserScramCredentials(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ElectLeaders(r) => update(&mut r.throttle_time_ms),
        ResponseKind::EndTxn(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ExpireDelegationToken(r) => update(&mut r.throttle_time_ms),
        ResponseKind::Fetch(r) => update(&mut r.throttle_time_ms),
        ResponseKind::IncrementalAlterConfigs(r) => update(&mut r.throttle_time_ms),
        ResponseKind::InitProducerId(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ListPartitionReassignments(r) => update(&mut r.throttle_time_ms),
        ResponseKind::ListTransactions(r) => update(&mut r.throttle_time_ms),
        ResponseKind::OffsetDelete(r) => update(&mut r.throttle_time_ms),
        ResponseKind::OffsetForLeaderEpoch(r) => update(&mut r.throttle_time_ms),
        ResponseKind::Produce(r) => update(&mut r.throttle_time_ms),
        ResponseKind::RenewDelegationToken(r) => update(&mut r.throttle_time_ms),
        ResponseKind::TxnOffsetCommit(r) => update(&mut r.throttle_time_ms),
        ResponseKind::UnregisterBroker(r) => update(&mut r.throttle_time_ms),
        ResponseKind::UpdateFeatures(r) => update(&mut r.throttle_time_ms),
        _ => {}
    }
}
