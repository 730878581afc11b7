//! Api key → handler: for handling a request, and for answering it with an
//! error instead (the fault plane's injected errors).

use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::codec::Request;
use super::context::RequestContext;
use super::encoded::FileRecordSets;
use super::handlers;
use crate::broker::Broker;

/// What the connection does after a request.
pub enum Reply {
    /// A response, and the record sets of a Fetch answer that stay in
    /// their segment files until written.
    Send(Box<ResponseKind>, FileRecordSets),
    /// The client expects no response (acks=0 produce).
    Nothing,
    /// The request cannot be answered; the connection closes with this reason.
    Close(String),
}

impl Reply {
    pub fn send(response: ResponseKind) -> Reply {
        Reply::Send(Box::new(response), FileRecordSets::default())
    }
}

pub async fn dispatch(broker: &Arc<Broker>, request: Request, context: &RequestContext) -> Reply {
    let version = request.version();
    let api_key = request.api_key;
    let client_id = request
        .header
        .client_id
        .as_deref()
        .unwrap_or("")
        .to_string();
    let response = match request.body {
        RequestKind::ApiVersions(body) => {
            let image = broker.metadata();
            ResponseKind::ApiVersions(handlers::api_versions::handle(
                &body,
                version,
                &image.cluster_id,
                broker.config().node_id,
                &image.features,
                context.listener.listener_type,
            ))
        }
        RequestKind::Metadata(body) => {
            ResponseKind::Metadata(handlers::metadata::handle(broker, body, version, context).await)
        }
        RequestKind::CreateTopics(body) => ResponseKind::CreateTopics(
            handlers::create_topics::handle(broker, body, version, &client_id, context).await,
        ),
        RequestKind::DeleteTopics(body) => ResponseKind::DeleteTopics(
            handlers::delete_topics::handle(broker, body, version, &client_id, context).await,
        ),
        RequestKind::Produce(body) => {
            return handlers::produce::handle(broker, body, version, context).await;
        }
        RequestKind::Fetch(body) => {
            let (response, files) =
                handlers::fetch::handle(broker, body, version, &client_id, context).await;
            return Reply::Send(Box::new(ResponseKind::Fetch(response)), files);
        }
        RequestKind::ListOffsets(body) => ResponseKind::ListOffsets(
            handlers::list_offsets::handle(broker, body, version, context).await,
        ),
        RequestKind::InitProducerId(body) => ResponseKind::InitProducerId(
            handlers::init_producer_id::handle(broker, body, version, context).await,
        ),
        RequestKind::FindCoordinator(body) => ResponseKind::FindCoordinator(
            handlers::find_coordinator::handle(broker, body, version, context).await,
        ),
        RequestKind::JoinGroup(body) => ResponseKind::JoinGroup(
            handlers::join_group::handle(broker, body, version, &client_id, context).await,
        ),
        RequestKind::SyncGroup(body) => ResponseKind::SyncGroup(
            handlers::sync_group::handle(broker, body, version, context).await,
        ),
        RequestKind::Heartbeat(body) => ResponseKind::Heartbeat(
            handlers::heartbeat::handle(broker, body, version, context).await,
        ),
        RequestKind::LeaveGroup(body) => ResponseKind::LeaveGroup(
            handlers::leave_group::handle(broker, body, version, context).await,
        ),
        RequestKind::OffsetCommit(body) => ResponseKind::OffsetCommit(
            handlers::offset_commit::handle(broker, body, version, context).await,
        ),
        RequestKind::OffsetFetch(body) => ResponseKind::OffsetFetch(
            handlers::offset_fetch::handle(broker, body, version, context).await,
        ),
        RequestKind::ListGroups(body) => ResponseKind::ListGroups(
            handlers::list_groups::handle(broker, body, version, context).await,
        ),
        RequestKind::ConsumerGroupHeartbeat(body) => ResponseKind::ConsumerGroupHeartbeat(
            handlers::consumer_group_heartbeat::handle(broker, body, version, &client_id, context)
                .await,
        ),
        RequestKind::ConsumerGroupDescribe(body) => ResponseKind::ConsumerGroupDescribe(
            handlers::consumer_group_describe::handle(broker, body, version, context).await,
        ),
        RequestKind::StreamsGroupHeartbeat(body) => ResponseKind::StreamsGroupHeartbeat(
            handlers::streams_group_heartbeat::handle(broker, body, version, &client_id, context)
                .await,
        ),
        RequestKind::StreamsGroupDescribe(body) => ResponseKind::StreamsGroupDescribe(
            handlers::streams_group_describe::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeGroups(body) => ResponseKind::DescribeGroups(
            handlers::describe_groups::handle(broker, body, version, context).await,
        ),
        RequestKind::DeleteGroups(body) => ResponseKind::DeleteGroups(
            handlers::delete_groups::handle(broker, body, version, context).await,
        ),
        RequestKind::OffsetDelete(body) => ResponseKind::OffsetDelete(
            handlers::offset_delete::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeConfigs(body) => ResponseKind::DescribeConfigs(
            handlers::describe_configs::handle(broker, body, version, context).await,
        ),
        RequestKind::AlterConfigs(body) => ResponseKind::AlterConfigs(
            handlers::alter_configs::handle(broker, body, version, context).await,
        ),
        RequestKind::IncrementalAlterConfigs(body) => ResponseKind::IncrementalAlterConfigs(
            handlers::incremental_alter_configs::handle(broker, body, version, context).await,
        ),
        RequestKind::CreatePartitions(body) => ResponseKind::CreatePartitions(
            handlers::create_partitions::handle(broker, body, version, &client_id, context).await,
        ),
        RequestKind::DeleteRecords(body) => ResponseKind::DeleteRecords(
            handlers::delete_records::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeLogDirs(body) => ResponseKind::DescribeLogDirs(
            handlers::describe_log_dirs::handle(broker, body, version, context).await,
        ),
        RequestKind::AlterReplicaLogDirs(body) => ResponseKind::AlterReplicaLogDirs(
            handlers::alter_replica_log_dirs::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeTopicPartitions(body) => ResponseKind::DescribeTopicPartitions(
            handlers::describe_topic_partitions::handle(broker, body, version, context).await,
        ),
        RequestKind::AddPartitionsToTxn(body) => ResponseKind::AddPartitionsToTxn(
            handlers::add_partitions_to_txn::handle(broker, body, version, context).await,
        ),
        RequestKind::AddOffsetsToTxn(body) => ResponseKind::AddOffsetsToTxn(
            handlers::add_offsets_to_txn::handle(broker, body, version, context).await,
        ),
        RequestKind::EndTxn(body) => {
            ResponseKind::EndTxn(handlers::end_txn::handle(broker, body, version, context).await)
        }
        RequestKind::TxnOffsetCommit(body) => ResponseKind::TxnOffsetCommit(
            handlers::txn_offset_commit::handle(broker, body, version, context).await,
        ),
        RequestKind::WriteTxnMarkers(body) => ResponseKind::WriteTxnMarkers(
            handlers::write_txn_markers::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeProducers(body) => ResponseKind::DescribeProducers(
            handlers::describe_producers::handle(broker, body, version, context).await,
        ),
        RequestKind::ListTransactions(body) => ResponseKind::ListTransactions(
            handlers::list_transactions::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeTransactions(body) => ResponseKind::DescribeTransactions(
            handlers::describe_transactions::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeCluster(body) => ResponseKind::DescribeCluster(
            handlers::describe_cluster::handle(broker, body, version, context).await,
        ),
        RequestKind::OffsetForLeaderEpoch(body) => ResponseKind::OffsetForLeaderEpoch(
            handlers::offset_for_leader_epoch::handle(broker, body, version, context).await,
        ),
        RequestKind::ElectLeaders(body) => ResponseKind::ElectLeaders(
            handlers::elect_leaders::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeAcls(body) => {
            match handlers::describe_acls::handle(broker, body, context).await {
                Ok(response) => ResponseKind::DescribeAcls(response),
                Err(reason) => return Reply::Close(reason),
            }
        }
        RequestKind::CreateAcls(body) => {
            match handlers::create_acls::handle(broker, body, version, context).await {
                Ok(response) => ResponseKind::CreateAcls(response),
                Err(reason) => return Reply::Close(reason),
            }
        }
        RequestKind::DeleteAcls(body) => {
            match handlers::delete_acls::handle(broker, body, version, context).await {
                Ok(response) => ResponseKind::DeleteAcls(response),
                Err(reason) => return Reply::Close(reason),
            }
        }
        RequestKind::DescribeUserScramCredentials(body) => {
            ResponseKind::DescribeUserScramCredentials(
                handlers::describe_user_scram_credentials::handle(broker, body, context),
            )
        }
        RequestKind::UpdateFeatures(body) => ResponseKind::UpdateFeatures(
            handlers::update_features::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeClientQuotas(body) => ResponseKind::DescribeClientQuotas(
            handlers::describe_client_quotas::handle(broker, body, context),
        ),
        RequestKind::AlterClientQuotas(body) => ResponseKind::AlterClientQuotas(
            handlers::alter_client_quotas::handle(broker, body, context).await,
        ),
        RequestKind::AlterUserScramCredentials(body) => ResponseKind::AlterUserScramCredentials(
            handlers::alter_user_scram_credentials::handle(broker, body, context).await,
        ),
        RequestKind::CreateDelegationToken(body) => ResponseKind::CreateDelegationToken(
            handlers::create_delegation_token::handle(broker, body, version, context).await,
        ),
        RequestKind::RenewDelegationToken(body) => ResponseKind::RenewDelegationToken(
            handlers::renew_delegation_token::handle(broker, body, context).await,
        ),
        RequestKind::ExpireDelegationToken(body) => ResponseKind::ExpireDelegationToken(
            handlers::expire_delegation_token::handle(broker, body, context).await,
        ),
        RequestKind::DescribeDelegationToken(body) => ResponseKind::DescribeDelegationToken(
            handlers::describe_delegation_token::handle(broker, body, version, context),
        ),
        RequestKind::DescribeQuorum(body) => ResponseKind::DescribeQuorum(
            handlers::describe_quorum::handle(broker, body, version, context).await,
        ),
        RequestKind::AlterPartitionReassignments(body) => {
            ResponseKind::AlterPartitionReassignments(
                handlers::alter_partition_reassignments::handle(broker, body, version, context)
                    .await,
            )
        }
        RequestKind::ListPartitionReassignments(body) => ResponseKind::ListPartitionReassignments(
            handlers::list_partition_reassignments::handle(broker, body, context).await,
        ),
        RequestKind::UnregisterBroker(body) => ResponseKind::UnregisterBroker(
            handlers::unregister_broker::handle(broker, body, context).await,
        ),
        RequestKind::AddRaftVoter(body) => ResponseKind::AddRaftVoter(
            handlers::raft_voters::handle_add(broker, body, context).await,
        ),
        RequestKind::RemoveRaftVoter(body) => ResponseKind::RemoveRaftVoter(
            handlers::raft_voters::handle_remove(broker, body, context).await,
        ),
        // A SASL listener's connections authenticate before dispatch; here
        // the exchange does not belong.
        RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_) => {
            super::sasl::illegal_state(api_key)
        }
        // The codec only passes advertised APIs, so this is a gap between the
        // api_versions table and this match.
        _ => return Reply::Close(format!("no handler for {api_key:?}")),
    };
    Reply::send(response)
}

/// The answer to `request` failing with `code` in every place its API
/// carries an error, as its handler builds it (Kafka's
/// `AbstractRequest.getErrorResponse`); `None` where the API sends no
/// answer (acks=0 produce) or gregor does not serve it.
pub fn error_response(request: &RequestKind, version: i16, code: i16) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::ApiVersions(r) => {
            ResponseKind::ApiVersions(handlers::api_versions::error_response(r, version, code))
        }
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(handlers::metadata::error_response(r, version, code))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(handlers::create_topics::error_response(r, version, code))
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(handlers::delete_topics::error_response(r, version, code))
        }
        RequestKind::Produce(r) => {
            ResponseKind::Produce(handlers::produce::error_response(r, version, code)?)
        }
        RequestKind::Fetch(r) => {
            ResponseKind::Fetch(handlers::fetch::error_response(r, version, code))
        }
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(handlers::list_offsets::error_response(r, version, code))
        }
        RequestKind::InitProducerId(r) => ResponseKind::InitProducerId(
            handlers::init_producer_id::error_response(r, version, code),
        ),
        RequestKind::FindCoordinator(r) => ResponseKind::FindCoordinator(
            handlers::find_coordinator::error_response(r, version, code),
        ),
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(handlers::join_group::error_response(r, version, code))
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(handlers::sync_group::error_response(r, version, code))
        }
        RequestKind::Heartbeat(r) => {
            ResponseKind::Heartbeat(handlers::heartbeat::error_response(r, version, code))
        }
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(handlers::leave_group::error_response(r, version, code))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(handlers::offset_commit::error_response(r, version, code))
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(handlers::offset_fetch::error_response(r, version, code))
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(handlers::list_groups::error_response(r, version, code))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            handlers::consumer_group_heartbeat::error_response(r, version, code),
        ),
        RequestKind::ConsumerGroupDescribe(r) => ResponseKind::ConsumerGroupDescribe(
            handlers::consumer_group_describe::error_response(r, version, code),
        ),
        RequestKind::StreamsGroupHeartbeat(r) => ResponseKind::StreamsGroupHeartbeat(
            handlers::streams_group_heartbeat::error_response(r, version, code),
        ),
        RequestKind::StreamsGroupDescribe(r) => ResponseKind::StreamsGroupDescribe(
            handlers::streams_group_describe::error_response(r, version, code),
        ),
        RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(
            handlers::describe_groups::error_response(r, version, code),
        ),
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(handlers::delete_groups::error_response(r, version, code))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(handlers::offset_delete::error_response(r, version, code))
        }
        RequestKind::DescribeConfigs(r) => ResponseKind::DescribeConfigs(
            handlers::describe_configs::error_response(r, version, code),
        ),
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(handlers::alter_configs::error_response(r, version, code))
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            handlers::incremental_alter_configs::error_response(r, version, code),
        ),
        RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(
            handlers::create_partitions::error_response(r, version, code),
        ),
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(handlers::delete_records::error_response(r, version, code))
        }
        RequestKind::DescribeLogDirs(r) => ResponseKind::DescribeLogDirs(
            handlers::describe_log_dirs::error_response(r, version, code),
        ),
        RequestKind::AlterReplicaLogDirs(r) => ResponseKind::AlterReplicaLogDirs(
            handlers::alter_replica_log_dirs::error_response(r, version, code),
        ),
        RequestKind::DescribeTopicPartitions(r) => ResponseKind::DescribeTopicPartitions(
            handlers::describe_topic_partitions::error_response(r, version, code),
        ),
        RequestKind::AddPartitionsToTxn(r) => ResponseKind::AddPartitionsToTxn(
            handlers::add_partitions_to_txn::error_response(r, version, code),
        ),
        RequestKind::AddOffsetsToTxn(r) => ResponseKind::AddOffsetsToTxn(
            handlers::add_offsets_to_txn::error_response(r, version, code),
        ),
        RequestKind::EndTxn(r) => {
            ResponseKind::EndTxn(handlers::end_txn::error_response(r, version, code))
        }
        RequestKind::TxnOffsetCommit(r) => ResponseKind::TxnOffsetCommit(
            handlers::txn_offset_commit::error_response(r, version, code),
        ),
        RequestKind::WriteTxnMarkers(r) => ResponseKind::WriteTxnMarkers(
            handlers::write_txn_markers::error_response(r, version, code),
        ),
        RequestKind::DescribeProducers(r) => ResponseKind::DescribeProducers(
            handlers::describe_producers::error_response(r, version, code),
        ),
        RequestKind::ListTransactions(r) => ResponseKind::ListTransactions(
            handlers::list_transactions::error_response(r, version, code),
        ),
        RequestKind::DescribeTransactions(r) => ResponseKind::DescribeTransactions(
            handlers::describe_transactions::error_response(r, version, code),
        ),
        RequestKind::DescribeCluster(r) => ResponseKind::DescribeCluster(
            handlers::describe_cluster::error_response(r, version, code),
        ),
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            handlers::offset_for_leader_epoch::error_response(r, version, code),
        ),
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(handlers::elect_leaders::error_response(r, version, code))
        }
        RequestKind::DescribeAcls(r) => {
            ResponseKind::DescribeAcls(handlers::describe_acls::error_response(r, version, code))
        }
        RequestKind::CreateAcls(r) => {
            ResponseKind::CreateAcls(handlers::create_acls::error_response(r, version, code))
        }
        RequestKind::DeleteAcls(r) => {
            ResponseKind::DeleteAcls(handlers::delete_acls::error_response(r, version, code))
        }
        RequestKind::DescribeUserScramCredentials(r) => ResponseKind::DescribeUserScramCredentials(
            handlers::describe_user_scram_credentials::error_response(r, version, code),
        ),
        RequestKind::UpdateFeatures(r) => ResponseKind::UpdateFeatures(
            handlers::update_features::error_response(r, version, code),
        ),
        RequestKind::DescribeClientQuotas(r) => ResponseKind::DescribeClientQuotas(
            handlers::describe_client_quotas::error_response(r, version, code),
        ),
        RequestKind::AlterClientQuotas(r) => ResponseKind::AlterClientQuotas(
            handlers::alter_client_quotas::error_response(r, version, code),
        ),
        RequestKind::AlterUserScramCredentials(r) => ResponseKind::AlterUserScramCredentials(
            handlers::alter_user_scram_credentials::error_response(r, version, code),
        ),
        RequestKind::CreateDelegationToken(r) => ResponseKind::CreateDelegationToken(
            handlers::create_delegation_token::error_response(r, version, code),
        ),
        RequestKind::RenewDelegationToken(r) => ResponseKind::RenewDelegationToken(
            handlers::renew_delegation_token::error_response(r, version, code),
        ),
        RequestKind::ExpireDelegationToken(r) => ResponseKind::ExpireDelegationToken(
            handlers::expire_delegation_token::error_response(r, version, code),
        ),
        RequestKind::DescribeDelegationToken(r) => ResponseKind::DescribeDelegationToken(
            handlers::describe_delegation_token::error_response(r, version, code),
        ),
        RequestKind::DescribeQuorum(r) => ResponseKind::DescribeQuorum(
            handlers::describe_quorum::error_response(r, version, code),
        ),
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            handlers::alter_partition_reassignments::error_response(r, version, code),
        ),
        RequestKind::ListPartitionReassignments(_) => ResponseKind::ListPartitionReassignments(
            handlers::list_partition_reassignments::error_response(code),
        ),
        RequestKind::UnregisterBroker(_) => {
            ResponseKind::UnregisterBroker(handlers::unregister_broker::error_response(code))
        }
        RequestKind::AddRaftVoter(_) => {
            ResponseKind::AddRaftVoter(handlers::raft_voters::add_error_response(code))
        }
        RequestKind::RemoveRaftVoter(_) => {
            ResponseKind::RemoveRaftVoter(handlers::raft_voters::remove_error_response(code))
        }
        RequestKind::SaslHandshake(r) => {
            ResponseKind::SaslHandshake(super::sasl::handshake_error_response(r, version, code))
        }
        RequestKind::SaslAuthenticate(r) => ResponseKind::SaslAuthenticate(
            super::sasl::authenticate_error_response(r, version, code),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{ApiKey, RequestKind};
    use kafka_protocol::protocol::StrBytes;

    use super::error_response;

    /// A request of each advertised API with one item in each list, so
    /// that the per-item error fields are encoded too.
    fn sample_request(api_key: ApiKey, version: i16) -> Option<RequestKind> {
        use kafka_protocol::messages::*;
        let name = || TopicName(StrBytes::from_static_str("t"));
        let group = || GroupId(StrBytes::from_static_str("g"));
        Some(match api_key {
            ApiKey::Produce => {
                RequestKind::Produce(ProduceRequest::default().with_acks(1).with_topic_data(vec![
                    produce_request::TopicProduceData::default()
                        .with_name(name())
                        .with_partition_data(vec![Default::default()]),
                ]))
            }
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
            ApiKey::ConsumerGroupHeartbeat => {
                RequestKind::ConsumerGroupHeartbeat(Default::default())
            }
            ApiKey::ConsumerGroupDescribe => RequestKind::ConsumerGroupDescribe(
                ConsumerGroupDescribeRequest::default().with_group_ids(vec![group()]),
            ),
            ApiKey::StreamsGroupHeartbeat => RequestKind::StreamsGroupHeartbeat(Default::default()),
            ApiKey::StreamsGroupDescribe => RequestKind::StreamsGroupDescribe(
                kafka_protocol::messages::StreamsGroupDescribeRequest::default()
                    .with_group_ids(vec![group()]),
            ),
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
            ApiKey::AlterReplicaLogDirs => RequestKind::AlterReplicaLogDirs(
                AlterReplicaLogDirsRequest::default().with_dirs(vec![
                    alter_replica_log_dirs_request::AlterReplicaLogDir::default().with_topics(
                        vec![
                            alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default()
                                .with_name(name())
                                .with_partitions(vec![0]),
                        ],
                    ),
                ]),
            ),
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
            ApiKey::AddPartitionsToTxn if version < 4 => RequestKind::AddPartitionsToTxn(
                AddPartitionsToTxnRequest::default().with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(name())
                        .with_partitions(vec![0]),
                ]),
            ),
            // A partition leader's batch (KIP-890).
            ApiKey::AddPartitionsToTxn => RequestKind::AddPartitionsToTxn(
                AddPartitionsToTxnRequest::default().with_transactions(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                        .with_topics(vec![
                            add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                                .with_name(name())
                                .with_partitions(vec![0]),
                        ]),
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
            ApiKey::CreateDelegationToken => RequestKind::CreateDelegationToken(Default::default()),
            ApiKey::RenewDelegationToken => RequestKind::RenewDelegationToken(Default::default()),
            ApiKey::ExpireDelegationToken => RequestKind::ExpireDelegationToken(Default::default()),
            ApiKey::DescribeDelegationToken => {
                RequestKind::DescribeDelegationToken(Default::default())
            }
            ApiKey::DescribeQuorum => {
                RequestKind::DescribeQuorum(DescribeQuorumRequest::default().with_topics(vec![
                    describe_quorum_request::TopicData::default()
                        .with_topic_name(name())
                        .with_partitions(vec![describe_quorum_request::PartitionData::default()]),
                ]))
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
            ApiKey::AlterPartitionReassignments => RequestKind::AlterPartitionReassignments(
                AlterPartitionReassignmentsRequest::default().with_topics(vec![
                    alter_partition_reassignments_request::ReassignableTopic::default()
                        .with_name(name())
                        .with_partitions(vec![
                            alter_partition_reassignments_request::ReassignablePartition::default(),
                        ]),
                ]),
            ),
            ApiKey::ListPartitionReassignments => {
                RequestKind::ListPartitionReassignments(Default::default())
            }
            ApiKey::UnregisterBroker => RequestKind::UnregisterBroker(Default::default()),
            ApiKey::AddRaftVoter => RequestKind::AddRaftVoter(
                AddRaftVoterRequest::default()
                    .with_listeners(vec![add_raft_voter_request::Listener::default()]),
            ),
            ApiKey::RemoveRaftVoter => RequestKind::RemoveRaftVoter(Default::default()),
            ApiKey::DescribeClientQuotas => RequestKind::DescribeClientQuotas(Default::default()),
            ApiKey::UpdateFeatures => RequestKind::UpdateFeatures(
                UpdateFeaturesRequest::default().with_feature_updates(vec![
                    update_features_request::FeatureUpdateKey::default()
                        .with_feature(StrBytes::from_static_str("group.version")),
                ]),
            ),
            ApiKey::AlterClientQuotas => RequestKind::AlterClientQuotas(
                AlterClientQuotasRequest::default().with_entries(vec![
                    alter_client_quotas_request::EntryData::default()
                        .with_entity(vec![alter_client_quotas_request::EntityData::default()
                            .with_entity_type(StrBytes::from_static_str("user"))]),
                ]),
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
                // Only versions this sample request is valid in; the
                // newest advertised one always is (the codec knows it).
                let mut encoded = bytes::BytesMut::new();
                if let Err(error) = request.encode(&mut encoded, version) {
                    assert!(
                        version < range.max,
                        "{:?} v{version} is advertised but cannot be encoded: {error}",
                        range.api_key
                    );
                    continue;
                }
                if crate::server::api_versions::is_accepted(range.api_key, version) {
                    let mut response = error_response(&request, version, 6)
                        .unwrap_or_else(|| panic!("no error answer for {:?}", range.api_key));
                    // A throttle time is set only where the version has one.
                    crate::server::quotas::raise_throttle_time(&mut response, version, 1234);
                    let files = Default::default();
                    crate::server::codec::encode_response(
                        range.api_key,
                        version,
                        1,
                        &response,
                        &files,
                    )
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
}
