//! `gregor produce` and `gregor consume`: the console producer and consumer,
//! modelled on `kafka-console-producer.sh` and `kafka-console-consumer.sh`,
//! speaking the Kafka protocol to any broker.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, ListOffsetsRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::group_member::GroupMember;
use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::records::batch::{Batches, Compression};
use crate::records::builder::BatchBuilder;
use crate::records::compression::decompress;
use crate::records::record::Records;
use crate::types::now_ms;

const CLIENT_ID: &str = "gregor-console";
/// Records per produce request when reading stdin.
const LINES_PER_BATCH: usize = 500;

/// `--property` settings, by the console tools' names.
#[derive(Debug, Clone, Default)]
pub struct Properties(pub BTreeMap<String, String>);

impl Properties {
    fn flag(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| v == "true")
    }

    fn separator(&self, default: &str) -> String {
        self.0
            .get("key.separator")
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

/// Connections to partition leaders, each opened on first use with the
/// command's security and kept for the rest of the command.
struct Connections<'a> {
    security: &'a ClientSecurityConfig,
    open: BTreeMap<String, Connection>,
}

impl<'a> Connections<'a> {
    fn new(security: &'a ClientSecurityConfig) -> Connections<'a> {
        Connections {
            security,
            open: BTreeMap::new(),
        }
    }

    async fn to(&mut self, address: &str) -> Result<&mut Connection, ClientError> {
        if !self.open.contains_key(address) {
            let connection = Connection::connect_with(address, CLIENT_ID, self.security).await?;
            self.open.insert(address.to_string(), connection);
        }
        self.open
            .get_mut(address)
            .ok_or_else(|| ClientError::Protocol(format!("no connection to {address}")))
    }
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn check(code: i16, context: &str) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(error) => Err(ClientError::Broker(format!("{context}: {error}"))),
    }
}

/// Kafka's murmur2, which the Java client's default partitioner applies to
/// keys: the same key lands on the same partition as with Kafka's tools.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Partitions of a topic and the address of each one's leader.
async fn leaders(
    bootstrap: &mut Connection,
    topic: &str,
) -> Result<BTreeMap<i32, String>, ClientError> {
    let request = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic_name(topic))),
    ]));
    let metadata = bootstrap.request(request, 9).await?;
    let brokers = super::broker_addresses(&metadata);
    let Some(found) = metadata.topics.first() else {
        return Err(ClientError::Protocol("empty Metadata response".into()));
    };
    check(found.error_code, &format!("topic '{topic}'"))?;
    found
        .partitions
        .iter()
        .map(|p| {
            brokers
                .get(&p.leader_id.0)
                .map(|address| (p.partition_index, address.clone()))
                .ok_or_else(|| {
                    ClientError::Broker(format!("no leader for {topic}-{}", p.partition_index))
                })
        })
        .collect()
}

/// Reads lines, sends them as records (keyed with `parse.key=true`) over
/// connections with `security`, and returns how many were acknowledged.
pub async fn produce(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    topic: &str,
    properties: &Properties,
    lines: impl IntoIterator<Item = String>,
) -> Result<usize, ClientError> {
    let mut bootstrap = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
    let leaders = leaders(&mut bootstrap, topic).await?;
    let partitions: Vec<i32> = leaders.keys().copied().collect();
    let mut connections = Connections::new(security);
    let parse_key = properties.flag("parse.key");
    let separator = properties.separator("\t");
    let mut pending: BTreeMap<i32, BatchBuilder> = BTreeMap::new();
    let mut sent = 0usize;
    let mut next_keyless = 0usize;
    let mut count = 0usize;
    for line in lines {
        let (key, value) = match (parse_key, line.split_once(separator.as_str())) {
            (true, Some((key, value))) => (Some(key.to_string()), value.to_string()),
            (true, None) => {
                return Err(ClientError::Broker(format!(
                    "no key separator {separator:?} in line {line:?}"
                )))
            }
            (false, _) => (None, line),
        };
        let partition = match &key {
            Some(key) => {
                partitions[(murmur2(key.as_bytes()) & 0x7fff_ffff) as usize % partitions.len()]
            }
            None => {
                next_keyless += 1;
                partitions[next_keyless % partitions.len()]
            }
        };
        let now = now_ms();
        pending
            .entry(partition)
            .or_insert_with(|| BatchBuilder::new(now))
            .push(
                now,
                key.as_deref().map(str::as_bytes),
                Some(value.as_bytes()),
                &[],
            );
        count += 1;
        if count.is_multiple_of(LINES_PER_BATCH) {
            sent += flush(&mut connections, &leaders, topic, &mut pending).await?;
        }
    }
    sent += flush(&mut connections, &leaders, topic, &mut pending).await?;
    Ok(sent)
}

async fn flush(
    connections: &mut Connections<'_>,
    leaders: &BTreeMap<i32, String>,
    topic: &str,
    pending: &mut BTreeMap<i32, BatchBuilder>,
) -> Result<usize, ClientError> {
    let mut acknowledged = 0;
    for (partition, builder) in std::mem::take(pending) {
        let Some(address) = leaders.get(&partition) else {
            continue;
        };
        let connection = connections.to(address).await?;
        let records = builder.build();
        let count = crate::records::batch::Batch::parse(&records)
            .map(|b| b.records_count() as usize)
            .unwrap_or(0);
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(Bytes::from(records)))])]);
        let response = connection.request(request, 9).await?;
        for topic_response in response.responses {
            for partition_response in topic_response.partition_responses {
                check(
                    partition_response.error_code,
                    &format!("produce to {topic}-{partition}"),
                )?;
            }
        }
        acknowledged += count;
    }
    Ok(acknowledged)
}

/// Where the consumer starts.
pub enum StartAt {
    Beginning,
    End,
    Offset(i64),
}

/// What `consume` was asked for.
pub struct ConsumeOptions {
    pub partition: Option<i32>,
    pub start: StartAt,
    pub max_messages: Option<usize>,
    /// Stop after this long without a new message.
    pub timeout: Option<Duration>,
    /// Consume as a member of this consumer group, from its committed offsets.
    pub group: Option<String>,
}

/// How often a group member heartbeats and commits.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);

/// Each partition's leader address and the next offset to read.
type Positions = BTreeMap<i32, (String, i64)>;

/// Where to start each partition: the committed offset if there is one,
/// else the requested start.
async fn start_positions(
    connections: &mut Connections<'_>,
    topic: &str,
    leaders: &BTreeMap<i32, String>,
    partitions: &[i32],
    start: &StartAt,
    committed: &BTreeMap<i32, i64>,
) -> Result<Positions, ClientError> {
    let mut positions = Positions::new();
    for partition in partitions {
        let Some(address) = leaders.get(partition) else {
            continue;
        };
        let timestamp = match (committed.get(partition), start) {
            (Some(offset), _) | (None, StartAt::Offset(offset)) => {
                positions.insert(*partition, (address.clone(), *offset));
                continue;
            }
            (None, StartAt::Beginning) => -2,
            (None, StartAt::End) => -1,
        };
        let connection = connections.to(address).await?;
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(*partition)
                    .with_timestamp(timestamp)])]);
        let response = connection.request(request, 5).await?;
        for found in response.topics.iter().flat_map(|t| t.partitions.iter()) {
            check(found.error_code, "ListOffsets")?;
            positions.insert(*partition, (address.clone(), found.offset));
        }
    }
    Ok(positions)
}

/// One fetch from every partition; prints records, at most `limit`.
async fn fetch_round(
    connections: &mut Connections<'_>,
    positions: &mut Positions,
    topic: &str,
    properties: &Properties,
    limit: usize,
    output: &mut impl FnMut(&str),
) -> Result<usize, ClientError> {
    let mut consumed = 0usize;
    for (partition, (address, offset)) in positions.iter_mut() {
        let connection = connections.to(address).await?;
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(200)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(*partition)
                    .with_fetch_offset(*offset)
                    .with_partition_max_bytes(1 << 20)])]);
        let response = connection.request(request, 11).await?;
        for data in response.responses.iter().flat_map(|t| t.partitions.iter()) {
            check(
                data.error_code,
                &format!("fetch {topic}-{partition} at {offset}"),
            )?;
            let Some(records) = &data.records else {
                continue;
            };
            for (_, batch) in Batches::new(records).map_while(Result::ok) {
                if batch.is_control() {
                    *offset = batch.next_offset().value();
                    continue;
                }
                let payload = match batch.compression() {
                    Compression::None => batch.records_payload().to_vec(),
                    codec => decompress(codec, batch.records_payload(), 256 << 20)
                        .map_err(|error| ClientError::Protocol(error.to_string()))?,
                };
                for record in Records::new(&payload, batch.records_count()) {
                    let record_offset = batch.base_offset().value() + record.offset_delta;
                    if record_offset < *offset {
                        continue;
                    }
                    if consumed == limit {
                        return Ok(consumed);
                    }
                    let timestamp = batch.base_timestamp() + record.timestamp_delta;
                    output(&format_record(
                        properties,
                        *partition,
                        record_offset,
                        timestamp,
                        record.key,
                        record.value,
                    ));
                    consumed += 1;
                    *offset = record_offset + 1;
                }
                *offset = (*offset).max(batch.next_offset().value());
            }
        }
    }
    Ok(consumed)
}

/// Reads records over connections with `security` and formats them as the
/// console consumer prints them; with a group, shares the topic with the
/// group's other members and commits what it printed.
pub async fn consume(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    topic: &str,
    properties: &Properties,
    options: &ConsumeOptions,
    mut output: impl FnMut(&str),
) -> Result<usize, ClientError> {
    let mut bootstrap = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
    let leaders = leaders(&mut bootstrap, topic).await?;
    let all: Vec<i32> = leaders
        .keys()
        .copied()
        .filter(|p| options.partition.is_none_or(|wanted| wanted == *p))
        .collect();
    if all.is_empty() {
        return Err(ClientError::Broker(format!(
            "topic '{topic}' has no such partition"
        )));
    }
    let mut connections = Connections::new(security);
    let mut member = None;
    let mut positions = match &options.group {
        None => {
            start_positions(
                &mut connections,
                topic,
                &leaders,
                &all,
                &options.start,
                &BTreeMap::new(),
            )
            .await?
        }
        Some(group) => {
            let (mut joined, assigned) =
                GroupMember::join(&mut bootstrap, security, group, topic, &all).await?;
            let committed = joined.committed(&assigned).await?;
            member = Some(joined);
            start_positions(
                &mut connections,
                topic,
                &leaders,
                &assigned,
                &options.start,
                &committed,
            )
            .await?
        }
    };

    let mut consumed = 0usize;
    let mut last_message = Instant::now();
    let mut last_heartbeat = Instant::now();
    loop {
        let limit = options
            .max_messages
            .map_or(usize::MAX, |max| max - consumed);
        let got = fetch_round(
            &mut connections,
            &mut positions,
            topic,
            properties,
            limit,
            &mut output,
        )
        .await?;
        consumed += got;
        if got > 0 {
            last_message = Instant::now();
        } else if positions.is_empty() {
            // A member with no partitions (more members than partitions).
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let done = options.max_messages.is_some_and(|max| consumed >= max)
            || (got == 0
                && options
                    .timeout
                    .is_some_and(|timeout| last_message.elapsed() >= timeout));
        if let Some(joined) = member.as_mut() {
            if done || last_heartbeat.elapsed() >= HEARTBEAT_EVERY {
                last_heartbeat = Instant::now();
                let offsets: BTreeMap<i32, i64> =
                    positions.iter().map(|(p, (_, o))| (*p, *o)).collect();
                joined.commit(&offsets).await?;
                if !done && joined.heartbeat().await? {
                    let assigned = joined.rejoin(&all).await?;
                    let committed = joined.committed(&assigned).await?;
                    positions = start_positions(
                        &mut connections,
                        topic,
                        &leaders,
                        &assigned,
                        &options.start,
                        &committed,
                    )
                    .await?;
                }
            }
        }
        if done {
            break;
        }
    }
    if let Some(joined) = member {
        joined.leave().await?;
    }
    Ok(consumed)
}

/// One record as kafka-console-consumer prints it with the `print.*`
/// properties.
fn format_record(
    properties: &Properties,
    partition: i32,
    offset: i64,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> String {
    let text = |bytes: Option<&[u8]>| {
        bytes.map_or("null".to_string(), |b| {
            String::from_utf8_lossy(b).into_owned()
        })
    };
    let separator = properties.separator("\t");
    let mut line = String::new();
    if properties.flag("print.timestamp") {
        write!(line, "CreateTime:{timestamp}{separator}").ok();
    }
    if properties.flag("print.partition") {
        write!(line, "Partition:{partition}{separator}").ok();
    }
    if properties.flag("print.offset") {
        write!(line, "Offset:{offset}{separator}").ok();
    }
    if properties.flag("print.key") {
        write!(line, "{}{separator}", text(key)).ok();
    }
    if properties.0.get("print.value").is_none_or(|v| v == "true") {
        line.push_str(&text(value));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_partitioner() {
        // Values from Kafka's own Utils.murmur2 test vectors.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn records_are_formatted_like_the_console_consumer() {
        let mut properties = Properties::default();
        properties.0.insert("print.key".into(), "true".into());
        properties.0.insert("key.separator".into(), ":".into());
        assert_eq!(
            format_record(&properties, 0, 5, 1, Some(b"k"), Some(b"v")),
            "k:v"
        );
        properties.0.insert("print.offset".into(), "true".into());
        assert_eq!(
            format_record(&properties, 0, 5, 1, None, Some(b"v")),
            "Offset:5:null:v"
        );
    }
}
