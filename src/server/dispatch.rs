//! Api key → handler.

use std::sync::Arc;

use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::codec::Request;
use super::context::RequestContext;
use super::handlers;
use crate::broker::Broker;

/// What the connection does after a request.
pub enum Reply {
    Send(Box<ResponseKind>),
    /// The client expects no response (acks=0 produce).
    Nothing,
    /// The request cannot be answered; the connection closes with this reason.
    Close(String),
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
            ResponseKind::ApiVersions(handlers::api_versions::handle(&body, version))
        }
        RequestKind::Metadata(body) => {
            ResponseKind::Metadata(handlers::metadata::handle(broker, body, version, context).await)
        }
        RequestKind::CreateTopics(body) => ResponseKind::CreateTopics(
            handlers::create_topics::handle(broker, body, version, context).await,
        ),
        RequestKind::DeleteTopics(body) => ResponseKind::DeleteTopics(
            handlers::delete_topics::handle(broker, body, version, context).await,
        ),
        RequestKind::Produce(body) => {
            return handlers::produce::handle(broker, body, version, context).await;
        }
        RequestKind::Fetch(body) => {
            ResponseKind::Fetch(handlers::fetch::handle(broker, body, version, context).await)
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
            handlers::create_partitions::handle(broker, body, version, context).await,
        ),
        RequestKind::DeleteRecords(body) => ResponseKind::DeleteRecords(
            handlers::delete_records::handle(broker, body, version, context).await,
        ),
        RequestKind::DescribeLogDirs(body) => ResponseKind::DescribeLogDirs(
            handlers::describe_log_dirs::handle(broker, body, version, context).await,
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
            match handlers::create_acls::handle(broker, body, context).await {
                Ok(response) => ResponseKind::CreateAcls(response),
                Err(reason) => return Reply::Close(reason),
            }
        }
        RequestKind::DeleteAcls(body) => {
            match handlers::delete_acls::handle(broker, body, context).await {
                Ok(response) => ResponseKind::DeleteAcls(response),
                Err(reason) => return Reply::Close(reason),
            }
        }
        RequestKind::DescribeUserScramCredentials(body) => {
            ResponseKind::DescribeUserScramCredentials(
                handlers::describe_user_scram_credentials::handle(broker, body, context),
            )
        }
        RequestKind::AlterUserScramCredentials(body) => ResponseKind::AlterUserScramCredentials(
            handlers::alter_user_scram_credentials::handle(broker, body, context).await,
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
    Reply::Send(Box::new(response))
}
