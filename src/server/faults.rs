//! The fault plane: deterministic faults that tests arm over the admin HTTP
//! listener — the next N matching requests fail with a chosen Kafka error,
//! wait before being handled, or lose their connection mid-response.
//!
//! Faults are exact ("the next 3 Produce requests for topic t"), never
//! probabilistic, so a test that arms one knows what its client will see.

use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use serde::{Deserialize, Serialize};

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this Kafka error code instead of handling the request.
    Error(i16),
    /// Handle the request after this many milliseconds.
    LatencyMs(u64),
    /// Handle the request, send half of the response, close the connection.
    Disconnect,
}

/// A fault as armed: which requests it matches, what it does, how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub id: u64,
    /// The API by Kafka's name ("Produce") or key ("0").
    pub api: String,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub client_id: Option<String>,
    pub action: FaultAction,
    /// How many more requests it applies to.
    pub count: u32,
}

impl Fault {
    fn api_key(&self) -> Option<ApiKey> {
        match self.api.parse::<i16>() {
            Ok(key) => ApiKey::try_from(key).ok(),
            Err(_) => (0..100)
                .filter_map(|key| ApiKey::try_from(key).ok())
                .find(|key| format!("{key:?}").eq_ignore_ascii_case(&self.api)),
        }
    }

    fn matches(&self, api_key: ApiKey, client_id: &str, partitions: &[(String, i32)]) -> bool {
        if self.count == 0 || self.api_key() != Some(api_key) {
            return false;
        }
        if self
            .client_id
            .as_deref()
            .is_some_and(|wanted| wanted != client_id)
        {
            return false;
        }
        match (&self.topic, self.partition) {
            (None, _) => true,
            (Some(topic), partition) => partitions
                .iter()
                .any(|(t, p)| t == topic && partition.is_none_or(|wanted| wanted == *p)),
        }
    }
}

/// The topic-partitions a request addresses, for matching faults.
pub fn addressed_partitions(request: &RequestKind) -> Vec<(String, i32)> {
    match request {
        RequestKind::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| {
                t.partition_data
                    .iter()
                    .map(move |p| (t.name.to_string(), p.index))
            })
            .collect(),
        RequestKind::Fetch(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.topic.to_string(), p.partition))
            })
            .collect(),
        RequestKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index))
            })
            .collect(),
        RequestKind::Metadata(r) => r
            .topics
            .iter()
            .flatten()
            .filter_map(|t| t.name.as_ref().map(|n| (n.to_string(), -1)))
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
    next_id: Mutex<u64>,
}

impl Faults {
    pub fn arm(&self, mut fault: Fault) -> Result<Fault, String> {
        let Some(api_key) = fault.api_key() else {
            return Err(format!("unknown api {:?}", fault.api));
        };
        if super::api_versions::advertised(api_key).is_none() {
            return Err(format!("{api_key:?} is not served by this broker"));
        }
        let mut next_id = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
        *next_id += 1;
        fault.id = *next_id;
        self.armed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault.clone());
        Ok(fault)
    }

    pub fn list(&self) -> Vec<Fault> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The action for a request, if an armed fault matches; that fault's
    /// count goes down by one (and it is dropped at zero).
    pub fn take(
        &self,
        api_key: ApiKey,
        client_id: &str,
        request: &RequestKind,
    ) -> Option<FaultAction> {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if armed.is_empty() {
            return None;
        }
        let partitions = addressed_partitions(request);
        let index = armed
            .iter()
            .position(|f| f.matches(api_key, client_id, &partitions))?;
        let action = armed[index].action.clone();
        armed[index].count -= 1;
        if armed[index].count == 0 {
            armed.remove(index);
        }
        Some(action)
    }
}

/// The answer to `request` failing with `code`, shaped as its API answers;
/// `None` for acks=0 produce (no answer at all).
pub fn error_response(request: &RequestKind, version: i16, code: i16) -> Option<ResponseKind> {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::*;
    Some(match request {
        RequestKind::Produce(r) if r.acks == 0 => return None,
        RequestKind::Produce(r) => ResponseKind::Produce(
            ProduceResponse::default().with_responses(
                r.topic_data
                    .iter()
                    .map(|t| {
                        TopicProduceResponse::default()
                            .with_name(t.name.clone())
                            .with_partition_responses(
                                t.partition_data
                                    .iter()
                                    .map(|p| {
                                        PartitionProduceResponse::default()
                                            .with_index(p.index)
                                            .with_error_code(code)
                                            .with_base_offset(-1)
                                            .with_log_append_time_ms(-1)
                                            .with_log_start_offset(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::Fetch(r) => ResponseKind::Fetch(
            FetchResponse::default().with_responses(
                r.topics
                    .iter()
                    .map(|t| {
                        FetchableTopicResponse::default()
                            .with_topic(t.topic.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        PartitionData::default()
                                            .with_partition_index(p.partition)
                                            .with_error_code(code)
                                            .with_high_watermark(-1)
                                            .with_last_stable_offset(-1)
                                            .with_log_start_offset(-1)
                                            .with_records(Some(bytes::Bytes::new()))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(
            ListOffsetsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        ListOffsetsTopicResponse::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        ListOffsetsPartitionResponse::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                            .with_timestamp(-1)
                                            .with_offset(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetCommit(r) => ResponseKind::OffsetCommit(
            OffsetCommitResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        OffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        OffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::FindCoordinator(_) if version < 4 => ResponseKind::FindCoordinator(
            FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id(BrokerId(-1))
                .with_port(-1),
        ),
        RequestKind::FindCoordinator(r) => ResponseKind::FindCoordinator(
            FindCoordinatorResponse::default().with_coordinators(
                    r.coordinator_keys
                        .iter()
                        .map(|key| {
                            find_coordinator_response::Coordinator::default()
                                .with_key(key.clone())
                                .with_node_id(BrokerId(-1))
                                .with_port(-1)
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        ),
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(code)
                .with_generation_id(-1)
                .with_member_id(r.member_id.clone()),
        ),
        RequestKind::SyncGroup(_) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(code))
        }
        RequestKind::Heartbeat(_) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(code))
        }
        RequestKind::InitProducerId(_) => ResponseKind::InitProducerId(
            InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ),
        RequestKind::Metadata(r) => ResponseKind::Metadata(
            MetadataResponse::default().with_topics(
                r.topics
                    .iter()
                    .flatten()
                    .map(|t| {
                        metadata_response::MetadataResponseTopic::default()
                            .with_error_code(code)
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                    })
                    .collect(),
            ),
        ),
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(ApiVersionsResponse::default().with_error_code(code)),
        RequestKind::SaslHandshake(_) => {
            ResponseKind::SaslHandshake(SaslHandshakeResponse::default().with_error_code(code))
        }
        RequestKind::SaslAuthenticate(_) => ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default().with_error_code(code),
        ),
        RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(
            CreateTopicsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        create_topics_response::CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteTopics(r) => ResponseKind::DeleteTopics(
            DeleteTopicsResponse::default().with_responses(
                r.topic_names
                    .iter()
                    .map(|name| Some(name.clone()))
                    .chain(r.topics.iter().map(|t| t.name.clone()))
                    .map(|name| {
                        delete_topics_response::DeletableTopicResult::default()
                            .with_name(name)
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteRecords(r) => ResponseKind::DeleteRecords(
            DeleteRecordsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        delete_records_response::DeleteRecordsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        delete_records_response::DeleteRecordsPartitionResult::default()
                                            .with_partition_index(p.partition_index)
                                            .with_low_watermark(-1)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(
            CreatePartitionsResponse::default().with_results(
                r.topics
                    .iter()
                    .map(|t| {
                        create_partitions_response::CreatePartitionsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeConfigs(r) => ResponseKind::DescribeConfigs(
            DescribeConfigsResponse::default().with_results(
                r.resources
                    .iter()
                    .map(|c| {
                        describe_configs_response::DescribeConfigsResult::default()
                            .with_resource_type(c.resource_type)
                            .with_resource_name(c.resource_name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(
            AlterConfigsResponse::default().with_responses(
                r.resources
                    .iter()
                    .map(|c| {
                        alter_configs_response::AlterConfigsResourceResponse::default()
                            .with_resource_type(c.resource_type)
                            .with_resource_name(c.resource_name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            IncrementalAlterConfigsResponse::default().with_responses(
                r.resources
                    .iter()
                    .map(|c| {
                        incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                            .with_resource_type(c.resource_type)
                            .with_resource_name(c.resource_name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeLogDirs(_) => {
            let response = DescribeLogDirsResponse::default().with_results(vec![
                describe_log_dirs_response::DescribeLogDirsResult::default().with_error_code(code),
            ]);
            ResponseKind::DescribeLogDirs(if version >= 3 { response.with_error_code(code) } else { response })
        }
        RequestKind::OffsetFetch(r) if version >= 8 => ResponseKind::OffsetFetch(
            OffsetFetchResponse::default().with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        offset_fetch_response::OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(
            OffsetFetchResponse::default()
                .with_topics(
                    r.topics
                        .iter()
                        .flatten()
                        .map(|t| {
                            offset_fetch_response::OffsetFetchResponseTopic::default()
                                .with_name(t.name.clone())
                                .with_partitions(
                                    t.partition_indexes
                                        .iter()
                                        .map(|p| {
                                            offset_fetch_response::OffsetFetchResponsePartition::default()
                                                .with_partition_index(*p)
                                                .with_committed_offset(-1)
                                                .with_error_code(code)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                )
                .with_error_code(if version >= 2 { code } else { 0 }),
        ),
        RequestKind::LeaveGroup(_) => ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(code)),
        RequestKind::ListGroups(_) => ResponseKind::ListGroups(ListGroupsResponse::default().with_error_code(code)),
        RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(
            DescribeGroupsResponse::default().with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        describe_groups_response::DescribedGroup::default()
                            .with_group_id(g.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(
            DeleteGroupsResponse::default().with_results(
                r.groups_names
                    .iter()
                    .map(|g| {
                        delete_groups_response::DeletableGroupResult::default()
                            .with_group_id(g.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetDelete(_) => ResponseKind::OffsetDelete(OffsetDeleteResponse::default().with_error_code(code)),
        RequestKind::DescribeTopicPartitions(r) => ResponseKind::DescribeTopicPartitions(
            DescribeTopicPartitionsResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default()
                            .with_name(Some(t.name.clone()))
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::AddPartitionsToTxn(r) => ResponseKind::AddPartitionsToTxn(
            AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
                r.v3_and_below_topics
                    .iter()
                    .map(|t| {
                        add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
                            .with_name(t.name.clone())
                            .with_results_by_partition(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                                            .with_partition_index(*p)
                                            .with_partition_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::AddOffsetsToTxn(_) => ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse::default().with_error_code(code)),
        RequestKind::EndTxn(_) => ResponseKind::EndTxn(EndTxnResponse::default().with_error_code(code)),
        RequestKind::TxnOffsetCommit(r) => ResponseKind::TxnOffsetCommit(
            TxnOffsetCommitResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        txn_offset_commit_response::TxnOffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        txn_offset_commit_response::TxnOffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::WriteTxnMarkers(r) => ResponseKind::WriteTxnMarkers(
            WriteTxnMarkersResponse::default().with_markers(
                r.markers
                    .iter()
                    .map(|m| {
                        write_txn_markers_response::WritableTxnMarkerResult::default()
                            .with_producer_id(m.producer_id)
                            .with_topics(
                                m.topics
                                    .iter()
                                    .map(|t| {
                                        write_txn_markers_response::WritableTxnMarkerTopicResult::default()
                                            .with_name(t.name.clone())
                                            .with_partitions(
                                                t.partition_indexes
                                                    .iter()
                                                    .map(|p| {
                                                        write_txn_markers_response::WritableTxnMarkerPartitionResult::default()
                                                            .with_partition_index(*p)
                                                            .with_error_code(code)
                                                    })
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeProducers(r) => ResponseKind::DescribeProducers(
            DescribeProducersResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        describe_producers_response::TopicResponse::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partition_indexes
                                    .iter()
                                    .map(|p| {
                                        describe_producers_response::PartitionResponse::default()
                                            .with_partition_index(*p)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::ListTransactions(_) => ResponseKind::ListTransactions(ListTransactionsResponse::default().with_error_code(code)),
        RequestKind::DescribeTransactions(r) => ResponseKind::DescribeTransactions(
            DescribeTransactionsResponse::default().with_transaction_states(
                r.transactional_ids
                    .iter()
                    .map(|id| {
                        describe_transactions_response::TransactionState::default()
                            .with_transactional_id(id.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DescribeCluster(_) => ResponseKind::DescribeCluster(DescribeClusterResponse::default().with_error_code(code)),
        RequestKind::DescribeAcls(_) => ResponseKind::DescribeAcls(DescribeAclsResponse::default().with_error_code(code)),
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(
            CreateAclsResponse::default().with_results(
                r.creations
                    .iter()
                    .map(|_| create_acls_response::AclCreationResult::default().with_error_code(code))
                    .collect(),
            ),
        ),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(
            DeleteAclsResponse::default().with_filter_results(
                r.filters
                    .iter()
                    .map(|_| delete_acls_response::DeleteAclsFilterResult::default().with_error_code(code))
                    .collect(),
            ),
        ),
        RequestKind::DescribeUserScramCredentials(_) => ResponseKind::DescribeUserScramCredentials(
            DescribeUserScramCredentialsResponse::default().with_error_code(code),
        ),
        RequestKind::AlterUserScramCredentials(r) => ResponseKind::AlterUserScramCredentials(
            AlterUserScramCredentialsResponse::default().with_results(
                r.deletions
                    .iter()
                    .map(|d| d.name.clone())
                    .chain(r.upsertions.iter().map(|u| u.name.clone()))
                    .map(|user| {
                        alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default()
                            .with_user(user)
                            .with_error_code(code)
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            OffsetForLeaderEpochResponse::default().with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default()
                            .with_topic(t.topic.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        offset_for_leader_epoch_response::EpochEndOffset::default()
                                            .with_partition(p.partition)
                                            .with_error_code(code)
                                            .with_leader_epoch(-1)
                                            .with_end_offset(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::ElectLeaders(r) => ResponseKind::ElectLeaders(
            ElectLeadersResponse::default()
                .with_error_code(if version >= 1 { code } else { 0 })
                .with_replica_election_results(
                    r.topic_partitions
                        .iter()
                        .flatten()
                        .map(|t| {
                            elect_leaders_response::ReplicaElectionResult::default()
                                .with_topic(t.topic.clone())
                                .with_partition_result(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            elect_leaders_response::PartitionResult::default()
                                                .with_partition_id(*p)
                                                .with_error_code(code)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
        ),
        _ => return None,
    })
}

/// How long a latency fault waits.
pub fn latency(ms: u64) -> Duration {
    Duration::from_millis(ms.min(300_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn produce_to(topic: &'static str, partition: i32) -> RequestKind {
        RequestKind::Produce(ProduceRequest::default().with_topic_data(
            vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_partition_data(vec![PartitionProduceData::default().with_index(partition)])],
        ))
    }

    /// A request of each advertised API with one item in each list, so
    /// that the per-item error fields are encoded too.
    fn sample_request(api_key: ApiKey, version: i16) -> Option<RequestKind> {
        use kafka_protocol::messages::*;
        let name = || TopicName(StrBytes::from_static_str("t"));
        let group = || GroupId(StrBytes::from_static_str("g"));
        Some(match api_key {
            ApiKey::Produce => match produce_to("t", 0) {
                RequestKind::Produce(r) => RequestKind::Produce(r.with_acks(1)),
                other => other,
            },
            ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default().with_topics(vec![
                fetch_request::FetchTopic::default()
                    .with_topic(name())
                    .with_partitions(vec![Default::default()]),
            ])),
            ApiKey::ListOffsets => {
                RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(name())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            ApiKey::Metadata => {
                RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
                    metadata_request::MetadataRequestTopic::default().with_name(Some(name())),
                ])))
            }
            ApiKey::OffsetCommit => {
                RequestKind::OffsetCommit(OffsetCommitRequest::default().with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(name())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            ApiKey::OffsetFetch if version >= 8 => {
                RequestKind::OffsetFetch(OffsetFetchRequest::default().with_groups(
                    vec![offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(group())
                    .with_topics(None)],
                ))
            }
            ApiKey::OffsetFetch => RequestKind::OffsetFetch(
                OffsetFetchRequest::default()
                    .with_group_id(group())
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(name())
                            .with_partition_indexes(vec![0]),
                    ])),
            ),
            ApiKey::FindCoordinator if version < 4 => RequestKind::FindCoordinator(
                FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
            ),
            ApiKey::FindCoordinator => RequestKind::FindCoordinator(
                FindCoordinatorRequest::default()
                    .with_coordinator_keys(vec![StrBytes::from_static_str("g")]),
            ),
            ApiKey::JoinGroup => RequestKind::JoinGroup(Default::default()),
            ApiKey::Heartbeat => RequestKind::Heartbeat(Default::default()),
            ApiKey::LeaveGroup => RequestKind::LeaveGroup(Default::default()),
            ApiKey::SyncGroup => RequestKind::SyncGroup(Default::default()),
            ApiKey::DescribeGroups => RequestKind::DescribeGroups(
                DescribeGroupsRequest::default().with_groups(vec![group()]),
            ),
            ApiKey::ListGroups => RequestKind::ListGroups(Default::default()),
            ApiKey::ApiVersions => RequestKind::ApiVersions(Default::default()),
            ApiKey::SaslHandshake => RequestKind::SaslHandshake(Default::default()),
            ApiKey::SaslAuthenticate => RequestKind::SaslAuthenticate(Default::default()),
            ApiKey::CreateTopics => {
                RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
                    create_topics_request::CreatableTopic::default().with_name(name()),
                ]))
            }
            ApiKey::DeleteTopics => RequestKind::DeleteTopics(
                DeleteTopicsRequest::default().with_topic_names(vec![name()]),
            ),
            ApiKey::DeleteRecords => {
                RequestKind::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(name())
                    .with_partitions(vec![Default::default()]),
            ]))
            }
            ApiKey::InitProducerId => RequestKind::InitProducerId(Default::default()),
            ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(
                DescribeConfigsRequest::default().with_resources(vec![Default::default()]),
            ),
            ApiKey::AlterConfigs => RequestKind::AlterConfigs(
                AlterConfigsRequest::default().with_resources(vec![Default::default()]),
            ),
            ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(Default::default()),
            ApiKey::CreatePartitions => {
                RequestKind::CreatePartitions(CreatePartitionsRequest::default().with_topics(vec![
                    create_partitions_request::CreatePartitionsTopic::default().with_name(name()),
                ]))
            }
            ApiKey::DeleteGroups => RequestKind::DeleteGroups(
                DeleteGroupsRequest::default().with_groups_names(vec![group()]),
            ),
            ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(
                IncrementalAlterConfigsRequest::default().with_resources(vec![Default::default()]),
            ),
            ApiKey::OffsetDelete => RequestKind::OffsetDelete(Default::default()),
            ApiKey::AddPartitionsToTxn => RequestKind::AddPartitionsToTxn(
                AddPartitionsToTxnRequest::default().with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(name())
                        .with_partitions(vec![0]),
                ]),
            ),
            ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(Default::default()),
            ApiKey::EndTxn => RequestKind::EndTxn(Default::default()),
            ApiKey::TxnOffsetCommit => {
                RequestKind::TxnOffsetCommit(TxnOffsetCommitRequest::default().with_topics(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                        .with_name(name())
                        .with_partitions(vec![Default::default()]),
                ]))
            }
            ApiKey::WriteTxnMarkers => {
                RequestKind::WriteTxnMarkers(WriteTxnMarkersRequest::default().with_markers(vec![
                    write_txn_markers_request::WritableTxnMarker::default().with_topics(vec![
                        write_txn_markers_request::WritableTxnMarkerTopic::default()
                            .with_name(name())
                            .with_partition_indexes(vec![0]),
                    ]),
                ]))
            }
            ApiKey::DescribeProducers => {
                RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(
                    vec![describe_producers_request::TopicRequest::default()
                        .with_name(name())
                        .with_partition_indexes(vec![0])],
                ))
            }
            ApiKey::ListTransactions => RequestKind::ListTransactions(Default::default()),
            ApiKey::DescribeCluster => RequestKind::DescribeCluster(Default::default()),
            ApiKey::DescribeAcls => RequestKind::DescribeAcls(
                DescribeAclsRequest::default()
                    .with_resource_type_filter(1)
                    .with_pattern_type_filter(3)
                    .with_operation(1)
                    .with_permission_type(1),
            ),
            ApiKey::CreateAcls => {
                RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
                create_acls_request::AclCreation::default()
                    .with_resource_type(2)
                    .with_resource_name(name().0)
                    .with_resource_pattern_type(3)
                    .with_principal(StrBytes::from_static_str("User:a"))
                    .with_host(StrBytes::from_static_str("*"))
                    .with_operation(3)
                    .with_permission_type(3),
            ]))
            }
            ApiKey::DeleteAcls => {
                RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
                delete_acls_request::DeleteAclsFilter::default()
                    .with_resource_type_filter(1)
                    .with_pattern_type_filter(3)
                    .with_operation(1)
                    .with_permission_type(1),
            ]))
            }
            ApiKey::DescribeUserScramCredentials => {
                RequestKind::DescribeUserScramCredentials(Default::default())
            }
            ApiKey::AlterUserScramCredentials => RequestKind::AlterUserScramCredentials(
                AlterUserScramCredentialsRequest::default().with_deletions(vec![
                    alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_static_str("alice"))
                        .with_mechanism(1),
                ]),
            ),
            ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(
                OffsetForLeaderEpochRequest::default().with_topics(vec![
                    offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                        .with_topic(name())
                        .with_partitions(vec![
                            offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                                .with_partition(0)
                                .with_leader_epoch(0),
                        ]),
                ]),
            ),
            ApiKey::ElectLeaders => {
                RequestKind::ElectLeaders(ElectLeadersRequest::default().with_topic_partitions(
                    Some(vec![elect_leaders_request::TopicPartitions::default()
                        .with_topic(name())
                        .with_partitions(vec![0])]),
                ))
            }
            ApiKey::DescribeTransactions => RequestKind::DescribeTransactions(
                DescribeTransactionsRequest::default()
                    .with_transactional_ids(vec![TransactionalId(StrBytes::from_static_str("t"))]),
            ),
            ApiKey::DescribeTopicPartitions => RequestKind::DescribeTopicPartitions(
                DescribeTopicPartitionsRequest::default().with_topics(vec![
                    describe_topic_partitions_request::TopicRequest::default().with_name(name()),
                ]),
            ),
            _ => return None,
        })
    }

    /// Every advertised API at every version it is accepted in can be
    /// answered with an injected error.
    #[test]
    fn error_answers_encode_for_every_advertised_api_and_version() {
        for range in crate::server::api_versions::ADVERTISED {
            let mut tested = 0;
            for version in range.min..=range.max {
                let request = sample_request(range.api_key, version)
                    .unwrap_or_else(|| panic!("no sample request for {:?}", range.api_key));
                // Only versions this sample request is valid in.
                let mut encoded = bytes::BytesMut::new();
                if request.encode(&mut encoded, version).is_err() {
                    continue;
                }
                if crate::server::api_versions::is_accepted(range.api_key, version) {
                    let response = error_response(&request, version, 6)
                        .unwrap_or_else(|| panic!("no error answer for {:?}", range.api_key));
                    crate::server::codec::encode_response(range.api_key, version, 1, &response)
                        .unwrap_or_else(|e| panic!("{:?} v{version}: {e}", range.api_key));
                    assert_eq!(
                        crate::server::journal::error_code(&response),
                        6,
                        "{:?} v{version}",
                        range.api_key
                    );
                    tested += 1;
                }
            }
            assert!(tested > 0, "no version of {:?} tested", range.api_key);
        }
    }

    #[test]
    fn faults_match_exactly_and_run_out() {
        let faults = Faults::default();
        let armed = faults
            .arm(Fault {
                id: 0,
                api: "produce".into(),
                topic: Some("t".into()),
                partition: Some(1),
                client_id: None,
                action: FaultAction::Error(6),
                count: 2,
            })
            .unwrap();
        assert_eq!(armed.id, 1);
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("t", 0)), None);
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("u", 1)), None);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1)),
            Some(FaultAction::Error(6))
        );
        assert_eq!(faults.list()[0].count, 1);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1)),
            Some(FaultAction::Error(6))
        );
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("t", 1)), None);
        assert!(faults.list().is_empty());
        assert!(faults
            .arm(Fault {
                id: 0,
                api: "NoSuchApi".into(),
                topic: None,
                partition: None,
                client_id: None,
                action: FaultAction::Disconnect,
                count: 1
            })
            .is_err());
    }
}
