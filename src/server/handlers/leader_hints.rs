//! KIP-951: a partition refused with NOT_LEADER_OR_FOLLOWER (and, for
//! Fetch, FENCED_LEADER_EPOCH) also names its current leader and leader
//! epoch, and the response lists that leader's endpoint on the listener the
//! request came in on — so that a client goes straight to the new leader
//! after a failover instead of refreshing its metadata first. Produce from
//! v10, Fetch from v16, as Kafka answers them.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{fetch_response, produce_response, BrokerId};
use kafka_protocol::messages::{FetchResponse, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::metadata::MetadataImage;
use crate::server::context::RequestContext;

/// A leader's endpoint on the request's listener.
struct Endpoint {
    host: String,
    port: u16,
    rack: Option<String>,
}

struct Hints<'a> {
    image: Arc<MetadataImage>,
    listener: &'a str,
    endpoints: BTreeMap<i32, Endpoint>,
}

impl Hints<'_> {
    fn new<'a>(broker: &Broker, context: &'a RequestContext) -> Hints<'a> {
        Hints {
            image: broker.metadata(),
            listener: context.listener_name(),
            endpoints: BTreeMap::new(),
        }
    }

    /// The partition's leader and epoch, if it has a leader this listener
    /// reaches; its endpoint is noted for the response. The topic by name,
    /// or by id when the response names it by id only.
    fn leader(&mut self, name: &str, id: uuid::Uuid, partition: i32) -> Option<(i32, i32)> {
        let topic = match name.is_empty() {
            false => self.image.topic(name)?,
            true => self.image.topic_by_id(id)?,
        };
        let assigned = topic.partitions.get(usize::try_from(partition).ok()?)?;
        let broker = self.image.broker(assigned.leader)?;
        let (host, port) = broker.endpoint(self.listener)?;
        self.endpoints.insert(
            assigned.leader,
            Endpoint {
                host: host.to_string(),
                port,
                rack: broker.rack.clone(),
            },
        );
        Some((assigned.leader, assigned.leader_epoch))
    }

    /// The noted leaders' endpoints, as either response spells them.
    fn endpoints<T>(
        self,
        endpoint: impl Fn(BrokerId, StrBytes, i32, Option<StrBytes>) -> T,
    ) -> Vec<T> {
        self.endpoints
            .into_iter()
            .map(|(node, e)| {
                endpoint(
                    BrokerId(node),
                    str_bytes(e.host),
                    i32::from(e.port),
                    e.rack.map(str_bytes),
                )
            })
            .collect()
    }
}

pub fn fetch(broker: &Broker, context: &RequestContext, response: &mut FetchResponse) {
    let hinted = [
        ResponseError::NotLeaderOrFollower.code(),
        ResponseError::FencedLeaderEpoch.code(),
    ];
    let refused = |p: &fetch_response::PartitionData| hinted.contains(&p.error_code);
    if !response
        .responses
        .iter()
        .any(|t| t.partitions.iter().any(refused))
    {
        return;
    }
    let mut hints = Hints::new(broker, context);
    for topic in &mut response.responses {
        for partition in &mut topic.partitions {
            if !hinted.contains(&partition.error_code) {
                continue;
            }
            let leader = hints.leader(&topic.topic, topic.topic_id, partition.partition_index);
            if let Some((leader, epoch)) = leader {
                partition.current_leader = fetch_response::LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(leader))
                    .with_leader_epoch(epoch);
            }
        }
    }
    response.node_endpoints = hints.endpoints(|node, host, port, rack| {
        fetch_response::NodeEndpoint::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port)
            .with_rack(rack)
    });
}

pub fn produce(broker: &Broker, context: &RequestContext, response: &mut ProduceResponse) {
    let not_leader = ResponseError::NotLeaderOrFollower.code();
    let refused = |p: &produce_response::PartitionProduceResponse| p.error_code == not_leader;
    if !response
        .responses
        .iter()
        .any(|t| t.partition_responses.iter().any(refused))
    {
        return;
    }
    let mut hints = Hints::new(broker, context);
    for topic in &mut response.responses {
        for partition in &mut topic.partition_responses {
            if partition.error_code != not_leader {
                continue;
            }
            let leader = hints.leader(&topic.name, topic.topic_id, partition.index);
            if let Some((leader, epoch)) = leader {
                partition.current_leader = produce_response::LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(leader))
                    .with_leader_epoch(epoch);
            }
        }
    }
    response.node_endpoints = hints.endpoints(|node, host, port, rack| {
        produce_response::NodeEndpoint::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port)
            .with_rack(rack)
    });
}
