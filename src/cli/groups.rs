//! `gregor groups`: the consumer-group tool, modelled on
//! `kafka-consumer-groups.sh` (`--list`, `--describe [--members|--state]`,
//! `--delete`), speaking the Kafka protocol to any broker.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::group::consumer_protocol::assignment_partitions;
use crate::types::TopicPartition;

const CLIENT_ID: &str = "gregor-groups";

/// What the command was asked to do.
pub enum Action {
    List,
    Describe(DescribeView),
    Delete,
}

pub enum DescribeView {
    Offsets,
    Members,
    State,
}

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn broker_error(code: i16, context: &str) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(error) => Err(ClientError::Broker(format!("{context}: {error}"))),
    }
}

/// Runs the command, connecting with `security`, and returns what it prints.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    action: Action,
    groups: &[String],
) -> Result<String, ClientError> {
    let mut bootstrap = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
    match action {
        Action::List => list(&mut bootstrap, security).await,
        Action::Describe(view) => {
            let mut out = String::new();
            for group in groups {
                out.push_str(&describe(&mut bootstrap, security, group, &view).await?);
                out.push('\n');
            }
            Ok(out)
        }
        Action::Delete => {
            let mut out = String::new();
            for group in groups {
                let (mut coordinator, _) = coordinator(&mut bootstrap, security, group).await?;
                let request = DeleteGroupsRequest::default()
                    .with_groups_names(vec![GroupId(str_bytes(group))]);
                let response = coordinator.request(request, 2).await?;
                for result in response.results {
                    match ResponseError::try_from_code(result.error_code) {
                        None => writeln!(
                            out,
                            "Deletion of requested consumer groups ('{}') was successful.",
                            group
                        ),
                        Some(error) => {
                            writeln!(out, "Deletion of group '{}' failed: {error}", group)
                        }
                    }
                    .ok();
                }
            }
            Ok(out)
        }
    }
}

/// Every broker's address from Metadata.
async fn brokers(connection: &mut Connection) -> Result<BTreeMap<i32, String>, ClientError> {
    let metadata = connection
        .request(MetadataRequest::default().with_topics(Some(vec![])), 9)
        .await?;
    Ok(super::broker_addresses(&metadata))
}

async fn list(
    bootstrap: &mut Connection,
    security: &ClientSecurityConfig,
) -> Result<String, ClientError> {
    let mut names = Vec::new();
    // Consumer groups only, as Kafka's tool lists them
    // (`ListGroupsOptions.forConsumerGroups`): classic groups of consumers
    // and KIP-848 groups, not streams or share groups.
    let request = ListGroupsRequest::default()
        .with_types_filter(vec![str_bytes("classic"), str_bytes("consumer")]);
    for address in brokers(bootstrap).await?.values() {
        let mut connection = Connection::connect_with(address, CLIENT_ID, security).await?;
        let response = connection.request(request.clone(), 5).await?;
        broker_error(response.error_code, "ListGroups")?;
        names.extend(
            response
                .groups
                .into_iter()
                .filter(|g| matches!(g.protocol_type.as_str(), "" | "consumer"))
                .map(|g| g.group_id.to_string()),
        );
    }
    names.sort();
    Ok(names.into_iter().map(|n| n + "\n").collect())
}

/// A connection to the group's coordinator, and how Kafka's tool names it:
/// `host:port (id)`.
async fn coordinator(
    bootstrap: &mut Connection,
    security: &ClientSecurityConfig,
    group: &str,
) -> Result<(Connection, String), ClientError> {
    let request = FindCoordinatorRequest::default().with_key(str_bytes(group));
    let response = bootstrap.request(request, 3).await?;
    broker_error(response.error_code, "FindCoordinator")?;
    let address = format!("{}:{}", response.host, response.port);
    let label = format!("{address} ({})", response.node_id.0);
    Ok((
        Connection::connect_with(&address, CLIENT_ID, security).await?,
        label,
    ))
}

struct Row {
    partition: TopicPartition,
    committed: Option<i64>,
    log_end: Option<i64>,
    consumer: Option<(String, String, String)>,
}

async fn describe(
    bootstrap: &mut Connection,
    security: &ClientSecurityConfig,
    group: &str,
    view: &DescribeView,
) -> Result<String, ClientError> {
    let (mut coordinator, coordinator_label) = coordinator(bootstrap, security, group).await?;
    let described = coordinator
        .request(
            DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(group))]),
            5,
        )
        .await?;
    let Some(description) = described.groups.into_iter().next() else {
        return Err(ClientError::Protocol(
            "empty DescribeGroups response".into(),
        ));
    };
    broker_error(description.error_code, "DescribeGroups")?;
    let state = description.group_state.to_string();
    if state == "Dead" {
        return Ok(format!("Error: Consumer group '{group}' does not exist.\n"));
    }
    let mut out = String::new();
    match view {
        DescribeView::State => {
            writeln!(
                out,
                "{:<24} {:<28} {:<20} {:<20} {:<8}",
                "GROUP", "COORDINATOR", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"
            )
            .ok();
            writeln!(
                out,
                "{:<24} {:<28} {:<20} {:<20} {:<8}",
                group,
                coordinator_label,
                description.protocol_data.as_str(),
                state,
                description.members.len()
            )
            .ok();
            return Ok(out);
        }
        DescribeView::Members => {
            writeln!(
                out,
                "{:<24} {:<60} {:<16} {:<24} {:<12}",
                "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
            )
            .ok();
            for member in &description.members {
                let partitions =
                    assignment_partitions(&member.member_assignment).map_or(0, |p| p.len());
                writeln!(
                    out,
                    "{:<24} {:<60} {:<16} {:<24} {:<12}",
                    group,
                    member.member_id.as_str(),
                    member.client_host.as_str(),
                    member.client_id.as_str(),
                    partitions
                )
                .ok();
            }
            return Ok(out);
        }
        DescribeView::Offsets => {}
    }

    let mut rows: BTreeMap<TopicPartition, Row> = BTreeMap::new();
    for member in &description.members {
        for partition in assignment_partitions(&member.member_assignment).unwrap_or_default() {
            let consumer = (
                member.member_id.to_string(),
                member.client_host.to_string(),
                member.client_id.to_string(),
            );
            rows.insert(
                partition.clone(),
                Row {
                    partition,
                    committed: None,
                    log_end: None,
                    consumer: Some(consumer),
                },
            );
        }
    }
    let offsets = coordinator
        .request(
            OffsetFetchRequest::default()
                .with_group_id(GroupId(str_bytes(group)))
                .with_topics(None),
            7,
        )
        .await?;
    broker_error(offsets.error_code, "OffsetFetch")?;
    for topic in offsets.topics {
        for partition in topic.partitions {
            let key = TopicPartition::new(topic.name.to_string(), partition.partition_index);
            let row = rows.entry(key.clone()).or_insert(Row {
                partition: key,
                committed: None,
                log_end: None,
                consumer: None,
            });
            row.committed = (partition.committed_offset >= 0).then_some(partition.committed_offset);
        }
    }
    fill_log_end_offsets(bootstrap, security, &mut rows).await?;

    if description.members.is_empty() {
        writeln!(out, "Consumer group '{group}' has no active members.\n").ok();
    }
    offsets_line(
        &mut out,
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
    );
    let dash = || "-".to_string();
    for row in rows.values() {
        let lag = match (row.committed, row.log_end) {
            (Some(committed), Some(end)) => (end - committed).max(0).to_string(),
            _ => dash(),
        };
        let (consumer, host, client) = row
            .consumer
            .clone()
            .unwrap_or_else(|| (dash(), dash(), dash()));
        let partition = row.partition.partition.to_string();
        let committed = row.committed.map_or_else(dash, |o| o.to_string());
        let log_end = row.log_end.map_or_else(dash, |o| o.to_string());
        offsets_line(
            &mut out,
            [
                group,
                &row.partition.topic,
                &partition,
                &committed,
                &log_end,
                &lag,
                &consumer,
                &host,
                &client,
            ],
        );
    }
    Ok(out)
}

/// One line of the offsets table, in kafka-consumer-groups.sh's columns.
fn offsets_line(out: &mut String, columns: [&str; 9]) {
    let [group, topic, partition, current, end, lag, consumer, host, client] = columns;
    writeln!(
        out,
        "{group:<24} {topic:<24} {partition:<10} {current:<15} {end:<15} {lag:<8} {consumer:<60} {host:<16} {client}"
    )
    .ok();
}

/// Asks each partition's leader for its latest offset.
async fn fill_log_end_offsets(
    bootstrap: &mut Connection,
    security: &ClientSecurityConfig,
    rows: &mut BTreeMap<TopicPartition, Row>,
) -> Result<(), ClientError> {
    let topics: Vec<String> = {
        let mut names: Vec<String> = rows.keys().map(|p| p.topic.clone()).collect();
        names.dedup();
        names
    };
    if topics.is_empty() {
        return Ok(());
    }
    let request = MetadataRequest::default().with_topics(Some(
        topics
            .iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(str_bytes(t)))))
            .collect(),
    ));
    let metadata = bootstrap
        .request(request.with_allow_auto_topic_creation(false), 9)
        .await?;
    let addresses = super::broker_addresses(&metadata);
    let mut by_leader: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
    for topic in &metadata.topics {
        let Some(name) = &topic.name else { continue };
        for partition in &topic.partitions {
            let key = TopicPartition::new(name.to_string(), partition.partition_index);
            if rows.contains_key(&key) {
                by_leader
                    .entry(partition.leader_id.0)
                    .or_default()
                    .push(key);
            }
        }
    }
    for (leader, partitions) in by_leader {
        let Some(address) = addresses.get(&leader) else {
            continue;
        };
        let mut connection = Connection::connect_with(address, CLIENT_ID, security).await?;
        let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for partition in &partitions {
            topics
                .entry(partition.topic.clone())
                .or_default()
                .push(partition.partition);
        }
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, indexes)| {
                        ListOffsetsTopic::default()
                            .with_name(TopicName(str_bytes(&name)))
                            .with_partitions(
                                indexes
                                    .into_iter()
                                    .map(|index| {
                                        ListOffsetsPartition::default()
                                            .with_partition_index(index)
                                            .with_timestamp(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = connection.request(request, 5).await?;
        for topic in response.topics {
            for partition in topic.partitions {
                let key = TopicPartition::new(topic.name.to_string(), partition.partition_index);
                if let Some(row) = rows.get_mut(&key) {
                    if partition.error_code == 0 {
                        row.log_end = Some(partition.offset);
                    }
                }
            }
        }
    }
    Ok(())
}
