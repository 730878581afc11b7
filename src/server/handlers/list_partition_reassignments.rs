//! ListPartitionReassignments (v0): the reassignments in progress, with
//! each partition's replicas and the ones being added and removed, for the
//! topics asked (null: every topic). DESCRIBE on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::groups::str_bytes;
use super::topic_name;
use crate::broker::Broker;
use crate::metadata::acls::AclOperation;
use crate::metadata::{PartitionImage, TopicImage};
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: ListPartitionReassignmentsRequest,
    context: &RequestContext,
) -> ListPartitionReassignmentsResponse {
    if !context.may_on_cluster(broker, AclOperation::Describe) {
        return error_response(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes(super::acls::not_authorized(
                ApiKey::ListPartitionReassignments,
            ))));
    }
    let image = broker.metadata();
    let ongoing = |topic: &TopicImage, wanted: &dyn Fn(&PartitionImage) -> bool| {
        let partitions: Vec<OngoingPartitionReassignment> = topic
            .partitions
            .iter()
            .filter(|p| p.is_reassigning() && wanted(p))
            .map(|p| {
                let ids = |ids: &[i32]| ids.iter().map(|id| BrokerId(*id)).collect();
                OngoingPartitionReassignment::default()
                    .with_partition_index(p.partition)
                    .with_replicas(ids(&p.replicas))
                    .with_adding_replicas(ids(&p.adding_replicas))
                    .with_removing_replicas(ids(&p.removing_replicas))
            })
            .collect();
        (!partitions.is_empty()).then(|| {
            OngoingTopicReassignment::default()
                .with_name(topic_name(&topic.name))
                .with_partitions(partitions)
        })
    };
    let topics = match &request.topics {
        None => image
            .topics
            .values()
            .filter_map(|topic| ongoing(topic, &|_| true))
            .collect(),
        // Unknown topics and partitions are left out, as Kafka does.
        Some(asked) => asked
            .iter()
            .filter_map(|wanted| {
                let topic = image.topic(wanted.name.as_str())?;
                ongoing(topic, &|p| wanted.partition_indexes.contains(&p.partition))
            })
            .collect(),
    };
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}

pub fn error_response(code: i16) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default().with_error_code(code)
}
