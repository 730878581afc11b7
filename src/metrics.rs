//! Broker metrics in the Prometheus text exposition format: request rates
//! and latencies per API, bytes in and out per topic, partition offsets and
//! sizes, consumer-group lag, open connections.
//!
//! Counters are plain atomics updated on the request path; gauges (offsets,
//! sizes, lag) are read from the live state when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use crate::broker::Broker;
use crate::server::quotas::ClientFigures;

/// A per-client metric family: name, type, help, and its value for a client.
type ClientFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ClientFigures) -> f64,
);

/// Api keys are small integers; this covers every key Kafka defines today.
const API_KEYS: usize = 96;

pub struct Metrics {
    requests: Vec<AtomicU64>,
    request_micros: Vec<AtomicU64>,
    connections: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..API_KEYS).map(|_| AtomicU64::new(0)).collect(),
            request_micros: (0..API_KEYS).map(|_| AtomicU64::new(0)).collect(),
            connections: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    pub fn request_handled(&self, api_key: ApiKey, latency: Duration) {
        let index = api_key as usize;
        if let (Some(count), Some(micros)) =
            (self.requests.get(index), self.request_micros.get(index))
        {
            count.fetch_add(1, Ordering::Relaxed);
            micros.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        }
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// The exposition text, with gauges read from `broker` now.
    pub async fn render(&self, broker: &Broker) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "gregor_requests_total",
            "counter",
            "Requests handled, by API.",
        );
        for (index, count) in self.requests.iter().enumerate() {
            let count = count.load(Ordering::Relaxed);
            if let (true, Ok(api)) = (count > 0, ApiKey::try_from(index as i16)) {
                writeln!(out, "gregor_requests_total{{api=\"{api:?}\"}} {count}").ok();
            }
        }
        header(
            &mut out,
            "gregor_request_seconds_sum",
            "counter",
            "Total time spent handling requests, by API.",
        );
        for (index, micros) in self.request_micros.iter().enumerate() {
            let count = self.requests[index].load(Ordering::Relaxed);
            if let (true, Ok(api)) = (count > 0, ApiKey::try_from(index as i16)) {
                let seconds = micros.load(Ordering::Relaxed) as f64 / 1e6;
                writeln!(
                    out,
                    "gregor_request_seconds_sum{{api=\"{api:?}\"}} {seconds}"
                )
                .ok();
            }
        }
        header(
            &mut out,
            "gregor_connections",
            "gauge",
            "Open client connections.",
        );
        writeln!(
            out,
            "gregor_connections {}",
            self.connections.load(Ordering::Relaxed)
        )
        .ok();
        let throttles = broker.quotas().figures();
        header(
            &mut out,
            "gregor_quota_throttles_total",
            "counter",
            "Responses throttled for a client quota (KIP-219), by quota.",
        );
        for (quota, count, _) in &throttles {
            writeln!(
                out,
                "gregor_quota_throttles_total{{quota=\"{quota}\"}} {count}"
            )
            .ok();
        }
        header(
            &mut out,
            "gregor_quota_throttle_seconds_total",
            "counter",
            "Time clients were throttled for (their connections muted), by quota.",
        );
        for (quota, _, ms) in &throttles {
            let seconds = *ms as f64 / 1e3;
            writeln!(
                out,
                "gregor_quota_throttle_seconds_total{{quota=\"{quota}\"}} {seconds}"
            )
            .ok();
        }
        let clients = broker.quotas().client_figures();
        let client_families: [ClientFamily; 2] = [
            (
                "gregor_quota_client_rate",
                "gauge",
                "Each metered client's rate (bytes/s, or percent of a thread), by quota entity.",
                |client| client.rate,
            ),
            (
                "gregor_quota_client_throttle_seconds_total",
                "counter",
                "Time each metered client's responses were throttled for, by quota entity.",
                |client| client.throttled_ms as f64 / 1e3,
            ),
        ];
        for (name, kind, help, value) in client_families {
            header(&mut out, name, kind, help);
            for client in &clients {
                writeln!(
                    out,
                    "{name}{{quota=\"{}\",user=\"{}\",client_id=\"{}\"}} {}",
                    client.quota,
                    escape_label(&client.user),
                    escape_label(&client.client_id),
                    value(client)
                )
                .ok();
            }
        }
        let sides = [
            ("leader", broker.leader_throttle().figures()),
            ("follower", broker.follower_throttle_figures()),
        ];
        header(
            &mut out,
            "gregor_replication_throttled_total",
            "counter",
            "Throttled replicas held back (leader: answered without records; follower: left out of a fetch).",
        );
        for (side, (held_back, _)) in &sides {
            writeln!(
                out,
                "gregor_replication_throttled_total{{side=\"{side}\"}} {held_back}"
            )
            .ok();
        }
        header(
            &mut out,
            "gregor_replication_throttled_bytes_total",
            "counter",
            "Bytes replicated for throttled replicas, counted against the throttle rate.",
        );
        for (side, (_, bytes)) in &sides {
            writeln!(
                out,
                "gregor_replication_throttled_bytes_total{{side=\"{side}\"}} {bytes}"
            )
            .ok();
        }
        let sessions = broker.fetch_sessions().figures();
        for (name, kind, help, value) in [
            (
                "gregor_fetch_sessions",
                "gauge",
                "Incremental fetch sessions kept (Kafka's NumIncrementalFetchSessions).",
                sessions.sessions as u64,
            ),
            (
                "gregor_fetch_session_partitions",
                "gauge",
                "Partitions in the fetch sessions (NumIncrementalFetchPartitionsCached).",
                sessions.partitions as u64,
            ),
            (
                "gregor_fetch_session_evictions_total",
                "counter",
                "Fetch sessions evicted to make room for others.",
                sessions.evictions,
            ),
            (
                "gregor_fetch_sessions_created_total",
                "counter",
                "Fetch sessions created by full fetches.",
                sessions.created,
            ),
            (
                "gregor_incremental_fetches_total",
                "counter",
                "Fetch requests served within a session.",
                sessions.incremental_fetches,
            ),
        ] {
            header(&mut out, name, kind, help);
            writeln!(out, "{name} {value}").ok();
        }

        let partitions = broker.partitions_by_name();
        // By topic: the sums of its partitions' counters.
        let mut topics: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (topic_partition, partition) in &partitions {
            let (bytes_in, bytes_out) = partition.bytes_in_out();
            let sums = topics.entry(topic_partition.topic.as_str()).or_default();
            sums.0 += bytes_in;
            sums.1 += bytes_out;
        }
        header(
            &mut out,
            "gregor_topic_bytes_in_total",
            "counter",
            "Record batch bytes appended, by topic.",
        );
        for (topic, (bytes_in, _)) in &topics {
            writeln!(
                out,
                "gregor_topic_bytes_in_total{{topic=\"{topic}\"}} {bytes_in}"
            )
            .ok();
        }
        header(
            &mut out,
            "gregor_topic_bytes_out_total",
            "counter",
            "Record batch bytes served to fetches, by topic.",
        );
        for (topic, (_, bytes_out)) in &topics {
            writeln!(
                out,
                "gregor_topic_bytes_out_total{{topic=\"{topic}\"}} {bytes_out}"
            )
            .ok();
        }

        header(
            &mut out,
            "gregor_partition_log_end_offset",
            "gauge",
            "Log end offset, by partition.",
        );
        for (tp, partition) in &partitions {
            let labels = format!("topic=\"{}\",partition=\"{}\"", tp.topic, tp.partition);
            writeln!(
                out,
                "gregor_partition_log_end_offset{{{labels}}} {}",
                partition.log_end_offset()
            )
            .ok();
        }
        header(
            &mut out,
            "gregor_partition_log_start_offset",
            "gauge",
            "Log start offset, by partition.",
        );
        for (tp, partition) in &partitions {
            let labels = format!("topic=\"{}\",partition=\"{}\"", tp.topic, tp.partition);
            writeln!(
                out,
                "gregor_partition_log_start_offset{{{labels}}} {}",
                partition.log_start_offset()
            )
            .ok();
        }
        header(
            &mut out,
            "gregor_partition_size_bytes",
            "gauge",
            "Bytes on disk, by partition.",
        );
        for (tp, partition) in &partitions {
            let labels = format!("topic=\"{}\",partition=\"{}\"", tp.topic, tp.partition);
            writeln!(
                out,
                "gregor_partition_size_bytes{{{labels}}} {}",
                partition.size_bytes()
            )
            .ok();
        }

        header(
            &mut out,
            "gregor_group_lag",
            "gauge",
            "High watermark minus committed offset, by group and partition.",
        );
        for group in broker.groups().list().await {
            for (tp, committed) in broker.groups().fetch_offsets(&group.group_id, None).await {
                let (Some(committed), Some(partition)) = (committed, partitions.get(&tp)) else {
                    continue;
                };
                let lag = (partition.high_watermark().value() - committed.offset).max(0);
                writeln!(
                    out,
                    "gregor_group_lag{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {lag}",
                    escape_label(&group.group_id),
                    tp.topic,
                    tp.partition
                )
                .ok();
            }
        }
        out
    }
}

/// Group ids are free text: escape what the exposition format reserves.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    writeln!(out, "# HELP {name} {help}").ok();
    writeln!(out, "# TYPE {name} {kind}").ok();
}
