//! A journal of the most recent requests, for tests to see what their client
//! actually sent: API, version, client id, correlation id, latency, and the
//! error answered (the top-level or first partition error; injected faults
//! included).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use kafka_protocol::messages::ResponseKind;
use serde::Serialize;

/// How many requests the journal keeps.
const CAPACITY: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub api: String,
    pub version: i16,
    pub client_id: String,
    pub correlation_id: i32,
    pub latency_us: u64,
    pub error_code: i16,
    /// What the fault plane did to the request, if anything, in the shape
    /// a fault is armed with (`{"error": 6}`, `"disconnect"`…).
    pub fault: Option<super::faults::FaultAction>,
}

#[derive(Default)]
pub struct Journal {
    entries: Mutex<VecDeque<Entry>>,
    /// Off unless someone can read it (the admin listener serves
    /// `/journal`): a request then pays nothing for it.
    enabled: AtomicBool,
}

impl Journal {
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    pub fn record(&self, entry: Entry) {
        if !self.is_enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().cloned().collect()
    }
}

fn first_nonzero(codes: impl IntoIterator<Item = i16>) -> i16 {
    codes.into_iter().find(|c| *c != 0).unwrap_or(0)
}

/// The error a response carries: top-level, or the first partition's.
pub fn error_code(response: &ResponseKind) -> i16 {
    match response {
        ResponseKind::Produce(r) => first_nonzero(
            r.responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)),
        ),
        ResponseKind::Fetch(r) => match r.error_code {
            0 => first_nonzero(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
            code => code,
        },
        ResponseKind::OffsetForLeaderEpoch(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::ListOffsets(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::Metadata(r) => first_nonzero(r.topics.iter().map(|t| t.error_code)),
        ResponseKind::OffsetCommit(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::FindCoordinator(r) => match r.error_code {
            0 => first_nonzero(r.coordinators.iter().map(|c| c.error_code)),
            code => code,
        },
        ResponseKind::JoinGroup(r) => r.error_code,
        ResponseKind::SyncGroup(r) => r.error_code,
        ResponseKind::Heartbeat(r) => r.error_code,
        ResponseKind::LeaveGroup(r) => r.error_code,
        ResponseKind::InitProducerId(r) => r.error_code,
        ResponseKind::CreateTopics(r) => first_nonzero(r.topics.iter().map(|t| t.error_code)),
        ResponseKind::OffsetFetch(r) => first_nonzero(
            std::iter::once(r.error_code)
                .chain(
                    r.topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
                )
                .chain(r.groups.iter().map(|g| g.error_code)),
        ),
        ResponseKind::ApiVersions(r) => r.error_code,
        ResponseKind::SaslHandshake(r) => r.error_code,
        ResponseKind::SaslAuthenticate(r) => r.error_code,
        ResponseKind::DeleteTopics(r) => first_nonzero(r.responses.iter().map(|t| t.error_code)),
        ResponseKind::DeleteRecords(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::CreatePartitions(r) => first_nonzero(r.results.iter().map(|t| t.error_code)),
        ResponseKind::DescribeConfigs(r) => first_nonzero(r.results.iter().map(|c| c.error_code)),
        ResponseKind::AlterConfigs(r) => first_nonzero(r.responses.iter().map(|c| c.error_code)),
        ResponseKind::IncrementalAlterConfigs(r) => {
            first_nonzero(r.responses.iter().map(|c| c.error_code))
        }
        ResponseKind::DescribeLogDirs(r) => first_nonzero(
            std::iter::once(r.error_code).chain(r.results.iter().map(|d| d.error_code)),
        ),
        ResponseKind::AlterReplicaLogDirs(r) => first_nonzero(
            r.results
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::ListGroups(r) => r.error_code,
        ResponseKind::DescribeGroups(r) => first_nonzero(r.groups.iter().map(|g| g.error_code)),
        ResponseKind::ConsumerGroupHeartbeat(r) => r.error_code,
        ResponseKind::StreamsGroupHeartbeat(r) => r.error_code,
        ResponseKind::StreamsGroupDescribe(r) => {
            first_nonzero(r.groups.iter().map(|g| g.error_code))
        }
        ResponseKind::ConsumerGroupDescribe(r) => {
            first_nonzero(r.groups.iter().map(|g| g.error_code))
        }
        ResponseKind::DeleteGroups(r) => first_nonzero(r.results.iter().map(|g| g.error_code)),
        ResponseKind::OffsetDelete(r) => r.error_code,
        ResponseKind::DescribeTopicPartitions(r) => {
            first_nonzero(r.topics.iter().map(|t| t.error_code))
        }
        ResponseKind::AddPartitionsToTxn(r) => first_nonzero(std::iter::once(r.error_code).chain(
            r.results_by_topic_v3_and_below.iter().flat_map(|t| {
                t.results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
            }),
        )),
        ResponseKind::AddOffsetsToTxn(r) => r.error_code,
        ResponseKind::EndTxn(r) => r.error_code,
        ResponseKind::TxnOffsetCommit(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::WriteTxnMarkers(r) => first_nonzero(r.markers.iter().flat_map(|m| {
            m.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        })),
        ResponseKind::DescribeProducers(r) => first_nonzero(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::ListTransactions(r) => r.error_code,
        ResponseKind::DescribeCluster(r) => r.error_code,
        ResponseKind::DescribeAcls(r) => r.error_code,
        ResponseKind::CreateAcls(r) => first_nonzero(r.results.iter().map(|c| c.error_code)),
        ResponseKind::DeleteAcls(r) => first_nonzero(r.filter_results.iter().map(|f| f.error_code)),
        ResponseKind::DescribeUserScramCredentials(r) => match r.error_code {
            0 => first_nonzero(r.results.iter().map(|u| u.error_code)),
            code => code,
        },
        ResponseKind::CreateDelegationToken(r) => r.error_code,
        ResponseKind::RenewDelegationToken(r) => r.error_code,
        ResponseKind::ExpireDelegationToken(r) => r.error_code,
        ResponseKind::DescribeDelegationToken(r) => r.error_code,
        ResponseKind::DescribeQuorum(r) => match r.error_code {
            0 => first_nonzero(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
            code => code,
        },
        ResponseKind::AlterUserScramCredentials(r) => {
            first_nonzero(r.results.iter().map(|u| u.error_code))
        }
        ResponseKind::DescribeClientQuotas(r) => r.error_code,
        ResponseKind::UpdateFeatures(r) => r.error_code,
        ResponseKind::AlterClientQuotas(r) => first_nonzero(r.entries.iter().map(|e| e.error_code)),
        ResponseKind::ElectLeaders(r) => first_nonzero(
            std::iter::once(r.error_code).chain(
                r.replica_election_results
                    .iter()
                    .flat_map(|t| t.partition_result.iter().map(|p| p.error_code)),
            ),
        ),
        ResponseKind::DescribeTransactions(r) => {
            first_nonzero(r.transaction_states.iter().map(|t| t.error_code))
        }
        ResponseKind::AlterPartitionReassignments(r) => first_nonzero(
            std::iter::once(r.error_code).chain(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        ResponseKind::ListPartitionReassignments(r) => r.error_code,
        ResponseKind::UnregisterBroker(r) => r.error_code,
        ResponseKind::AddRaftVoter(r) => r.error_code,
        ResponseKind::RemoveRaftVoter(r) => r.error_code,
        _ => 0,
    }
}
