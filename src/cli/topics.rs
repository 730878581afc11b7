//! `gregor topics`: the topic tool, modelled on `kafka-topics.sh`
//! (`--list`, `--create`, `--describe`, `--alter --partitions`, `--delete`)
//! with `kafka-configs.sh`'s `--add-config` / `--delete-config`, speaking
//! the Kafka protocol to any broker.

use std::fmt::Write as _;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;

const CLIENT_ID: &str = "gregor-topics";
const TOPIC_RESOURCE: i8 = 2;
const DYNAMIC_TOPIC_CONFIG: i8 = 1;

pub enum Action {
    List,
    Describe,
    Create {
        partitions: i32,
        replication_factor: i16,
        configs: Vec<(String, String)>,
    },
    Alter {
        partitions: Option<i32>,
        add_configs: Vec<(String, String)>,
        delete_configs: Vec<String>,
    },
    Delete,
}

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn topic_name(value: &str) -> TopicName {
    TopicName(str_bytes(value))
}

fn check(code: i16, message: Option<&StrBytes>, context: &str) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(error) => Err(ClientError::Broker(match message {
            Some(message) => format!("{context}: {error}: {message}"),
            None => format!("{context}: {error}"),
        })),
    }
}

/// Runs the command against `bootstrap`, connecting with `security`, and
/// returns what it prints.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    action: Action,
    topic: Option<&str>,
) -> Result<String, ClientError> {
    let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
    let needs_topic =
        || topic.ok_or_else(|| ClientError::Broker("this action needs --topic".to_string()));
    match action {
        Action::List => list(&mut connection).await,
        Action::Describe => describe(&mut connection, topic).await,
        Action::Create {
            partitions,
            replication_factor,
            configs,
        } => {
            let name = needs_topic()?;
            let request = CreateTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topics(vec![CreatableTopic::default()
                    .with_name(topic_name(name))
                    .with_num_partitions(partitions)
                    .with_replication_factor(replication_factor)
                    .with_configs(
                        configs
                            .iter()
                            .map(|(k, v)| {
                                CreatableTopicConfig::default()
                                    .with_name(str_bytes(k))
                                    .with_value(Some(str_bytes(v)))
                            })
                            .collect(),
                    )]);
            let response = connection.request(request, 7).await?;
            for result in &response.topics {
                check(
                    result.error_code,
                    result.error_message.as_ref(),
                    "CreateTopics",
                )?;
            }
            Ok(format!("Created topic {name}.\n"))
        }
        Action::Alter {
            partitions,
            add_configs,
            delete_configs,
        } => {
            let name = needs_topic()?;
            let mut out = String::new();
            if let Some(count) = partitions {
                let request = CreatePartitionsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(vec![CreatePartitionsTopic::default()
                        .with_name(topic_name(name))
                        .with_count(count)
                        .with_assignments(None)]);
                let response = connection.request(request, 3).await?;
                for result in &response.results {
                    check(
                        result.error_code,
                        result.error_message.as_ref(),
                        "CreatePartitions",
                    )?;
                }
                writeln!(out, "Topic {name} now has {count} partitions.").ok();
            }
            if !add_configs.is_empty() || !delete_configs.is_empty() {
                let set = add_configs.iter().map(|(k, v)| {
                    AlterableConfig::default()
                        .with_name(str_bytes(k))
                        .with_config_operation(0)
                        .with_value(Some(str_bytes(v)))
                });
                let delete = delete_configs.iter().map(|k| {
                    AlterableConfig::default()
                        .with_name(str_bytes(k))
                        .with_config_operation(1)
                });
                let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
                    AlterConfigsResource::default()
                        .with_resource_type(TOPIC_RESOURCE)
                        .with_resource_name(str_bytes(name))
                        .with_configs(set.chain(delete).collect()),
                ]);
                let response = connection.request(request, 1).await?;
                for result in &response.responses {
                    check(
                        result.error_code,
                        result.error_message.as_ref(),
                        "IncrementalAlterConfigs",
                    )?;
                }
                writeln!(out, "Completed updating config for topic {name}.").ok();
            }
            Ok(out)
        }
        Action::Delete => {
            let name = needs_topic()?;
            let request = DeleteTopicsRequest::default()
                .with_timeout_ms(30_000)
                .with_topic_names(vec![topic_name(name)]);
            let response = connection.request(request, 5).await?;
            for result in &response.responses {
                check(
                    result.error_code,
                    result.error_message.as_ref(),
                    "DeleteTopics",
                )?;
            }
            Ok(format!("Deleted topic {name}.\n"))
        }
    }
}

async fn list(connection: &mut Connection) -> Result<String, ClientError> {
    let metadata = connection
        .request(MetadataRequest::default().with_topics(None), 9)
        .await?;
    let mut names: Vec<String> = metadata
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| n + "\n").collect())
}

async fn describe(connection: &mut Connection, topic: Option<&str>) -> Result<String, ClientError> {
    let topics =
        topic.map(|name| vec![MetadataRequestTopic::default().with_name(Some(topic_name(name)))]);
    // Describing must not create the topic on brokers that auto-create.
    let request = MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(false);
    let metadata = connection.request(request, 10).await?;
    let mut described: Vec<_> = metadata.topics.into_iter().collect();
    described.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for topic in described {
        let name = topic
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        check(topic.error_code, None, &format!("topic '{name}'"))?;
        let overrides = topic_overrides(connection, &name).await?;
        let replication = topic
            .partitions
            .first()
            .map_or(0, |p| p.replica_nodes.len());
        let ids = |nodes: &[kafka_protocol::messages::BrokerId]| {
            nodes
                .iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        writeln!(
            out,
            "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {replication}\tConfigs: {overrides}",
            base64_topic_id(topic.topic_id),
            topic.partitions.len()
        )
        .ok();
        let mut partitions = topic.partitions;
        partitions.sort_by_key(|p| p.partition_index);
        for partition in partitions {
            writeln!(
                out,
                "\tTopic: {name}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                partition.partition_index,
                partition.leader_id.0,
                ids(&partition.replica_nodes),
                ids(&partition.isr_nodes)
            )
            .ok();
        }
    }
    Ok(out)
}

/// The topic's overridden configs, as `kafka-topics.sh` prints them.
async fn topic_overrides(connection: &mut Connection, name: &str) -> Result<String, ClientError> {
    let request =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(str_bytes(name))
            .with_configuration_keys(None)]);
    let response = connection.request(request, 4).await?;
    let mut pairs = Vec::new();
    for result in response.results {
        check(
            result.error_code,
            result.error_message.as_ref(),
            "DescribeConfigs",
        )?;
        for config in result.configs {
            if config.config_source == DYNAMIC_TOPIC_CONFIG {
                let value = config.value.map(|v| v.to_string()).unwrap_or_default();
                pairs.push(format!("{}={value}", config.name));
            }
        }
    }
    Ok(pairs.join(","))
}

/// Kafka prints topic ids in URL-safe base64 without padding.
fn base64_topic_id(id: uuid::Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}
