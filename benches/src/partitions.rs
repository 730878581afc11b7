//! Scale in partitions: what idle partitions cost a broker (resident
//! memory and descriptors per partition, and how long a topic of 1,000 or
//! 10,000 takes until Metadata shows every partition with a leader), and
//! what spreading the same produce load over 10,000 partitions costs in
//! broker CPU per GB against one partition.

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;

use crate::clients::{Cluster, CreateError, Observer};
use crate::procs::{mib, Brokers};
use crate::throughput::{self, Produce};

/// The brokers' resident set and open descriptors at one moment.
#[derive(Clone, Copy)]
pub struct Footprint {
    pub rss_kib: u64,
    pub fds: usize,
}

impl Footprint {
    pub fn of(brokers: &Brokers) -> Option<Footprint> {
        Some(Footprint {
            rss_kib: brokers.rss_kib()?,
            fds: brokers.open_fds()?,
        })
    }
}

impl std::fmt::Display for Footprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RSS {:.1} MiB, {} fds", mib(self.rss_kib), self.fds)
    }
}

/// "before -> after (+x KiB and +y fds per item)".
pub fn growth(before: Footprint, after: Footprint, items: usize, item: &str) -> String {
    let per = |delta: f64| delta / items.max(1) as f64;
    format!(
        "{before} -> {after} ({:+.1} KiB RSS and {:+.2} fds per {item})",
        per(after.rss_kib as f64 - before.rss_kib as f64),
        per(after.fds as f64 - before.fds as f64),
    )
}

/// How a topic came to exist.
pub enum How {
    /// One CreateTopics, answered.
    Answered,
    /// One CreateTopics that timed out, but every leader appeared in time.
    TimedOut(String),
    /// One CreateTopics refused; `half` the partitions, then CreatePartitions.
    InTwo { refusal: String, half: i32 },
}

pub struct Created {
    pub partitions: i32,
    /// CreateTopics sent -> its answer (the last one's).
    pub answered_secs: f64,
    pub how: How,
    /// CreateTopics sent -> every partition has a leader in Metadata.
    pub secs: f64,
    pub before: Option<Footprint>,
    /// One second after the last leader appeared.
    pub after: Option<Footprint>,
}

impl Created {
    pub fn describe(&self) -> String {
        let footprint = match (self.before, self.after) {
            (Some(before), Some(after)) => format!(
                " | {}",
                growth(before, after, self.partitions as usize, "partition")
            ),
            _ => String::new(),
        };
        let answer = match &self.how {
            How::Answered => format!("CreateTopics answered in {:.2} s,", self.answered_secs),
            How::TimedOut(e) => format!("CreateTopics timed out ({e}), yet"),
            How::InTwo { refusal, half } => format!(
                "refused in one CreateTopics ({refusal}), so created as {half} partitions \
                 then CreatePartitions to {}, answered in {:.2} s,",
                self.partitions, self.answered_secs
            ),
        };
        format!(
            "{} partitions: {answer} all with leaders in Metadata in {:.2} s{footprint}",
            self.partitions, self.secs
        )
    }
}

/// Creates `topic` with `partitions` partitions and waits until the
/// Metadata shows a leader for each.
pub fn create(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
    timeout: Duration,
    brokers: Option<&Brokers>,
) -> Result<Created, String> {
    let before = brokers.and_then(Footprint::of);
    let started = Instant::now();
    // A timed-out CreateTopics may still complete: the leaders decide.
    let how = match cluster.try_create_topic(topic, partitions, replication_factor, timeout) {
        Ok(()) => How::Answered,
        Err(CreateError::TimedOut(e)) => How::TimedOut(e),
        Err(CreateError::Refused(refusal)) if partitions > 1 => {
            // Kafka's KRaft controller takes at most 10,000 metadata
            // records per request (POLICY_VIOLATION), and a topic of
            // 10,000 partitions is 10,001: half, then the rest.
            let half = partitions / 2;
            cluster
                .try_create_topic(topic, half, replication_factor, timeout)
                .map_err(|e| format!("{refusal}; then {half} partitions: {e}"))?;
            cluster
                .add_partitions(topic, partitions as usize, timeout)
                .map_err(|e| format!("{refusal}; then {e}"))?;
            How::InTwo { refusal, half }
        }
        Err(refused) => return Err(refused.to_string()),
    };
    let answered_secs = started.elapsed().as_secs_f64();
    wait_for_leaders(cluster, topic, partitions, started + timeout).map_err(|e| match &how {
        How::TimedOut(t) => format!("{t}; {e}"),
        _ => e,
    })?;
    let secs = started.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    Ok(Created {
        partitions,
        answered_secs,
        how,
        secs,
        before,
        after: brokers.and_then(Footprint::of),
    })
}

fn wait_for_leaders(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    deadline: Instant,
) -> Result<(), String> {
    let consumer = cluster.consumer(Observer::default())?;
    let mut last = String::from("no Metadata answer");
    while Instant::now() < deadline {
        match consumer.fetch_metadata(Some(topic), Duration::from_secs(30)) {
            Ok(metadata) => {
                let led = metadata
                    .topics()
                    .iter()
                    .filter(|t| t.name() == topic)
                    .flat_map(|t| t.partitions())
                    .filter(|p| p.leader() >= 0 && p.error().is_none())
                    .count();
                if led == partitions as usize {
                    return Ok(());
                }
                last = format!("{led} of {partitions} partitions with a leader");
            }
            Err(e) => last = format!("Metadata: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{topic}: {last} at the deadline"))
}

/// Broker CPU of one produce run, per GB of payload.
pub struct Spread {
    pub partitions: i32,
    pub secs: f64,
    pub cpu_per_gb: Option<f64>,
}

/// Produces `how.messages` records round-robin over `how.partitions`
/// partitions of `topic`.
pub fn produce(
    cluster: &Cluster,
    topic: &str,
    how: &Produce<'_>,
    brokers: Option<&Brokers>,
) -> Result<Spread, String> {
    let r = throughput::produce(cluster, topic, how, brokers)?;
    if r.failed > 0 {
        return Err(format!("{} of {} records failed", r.failed, how.messages));
    }
    let gb = (how.messages * how.size) as f64 / 1e9;
    Ok(Spread {
        partitions: how.partitions,
        secs: r.secs,
        cpu_per_gb: r.broker_cpu.map(|cpu| cpu / gb),
    })
}

impl Spread {
    pub fn describe(&self, messages: usize, size: usize) -> String {
        let cpu = self
            .cpu_per_gb
            .map(|c| format!(" | broker CPU {c:.2} s per GB"))
            .unwrap_or_default();
        format!(
            "{messages} x {size} B over {} partition(s) in {:.2} s = {:.1} MB/s{cpu}",
            self.partitions,
            self.secs,
            (messages * size) as f64 / self.secs / 1e6
        )
    }
}

/// What `--scale-partitions` asks for.
pub struct Scale<'a> {
    pub counts: &'a [i32],
    pub replication_factor: i32,
    pub timeout: Duration,
    pub messages: usize,
    pub size: usize,
    pub linger_ms: u64,
    pub compression: &'a str,
}

/// A topic of each count (named after `prefix`), then the same produce
/// load over the largest one created and over one partition; a line each.
pub fn scale(cluster: &Cluster, prefix: &str, how: &Scale<'_>, brokers: Option<&Brokers>) {
    let mut largest = None;
    for &count in how.counts {
        let topic = format!("{prefix}-scale-{count}");
        match create(
            cluster,
            &topic,
            count,
            how.replication_factor,
            how.timeout,
            brokers,
        ) {
            Ok(created) => {
                println!("scale partitions {count}: {}", created.describe());
                largest = Some((topic, count));
            }
            Err(e) => {
                println!("scale partitions {count}: skipped: the broker refused or timed out: {e}")
            }
        }
    }
    let Some((spread_topic, spread_partitions)) = largest else {
        println!("scale produce: skipped: no partitioned topic was created");
        return;
    };
    let one_topic = format!("{prefix}-scale-1");
    if let Err(e) = cluster.create_topic(&one_topic, 1, how.replication_factor, how.timeout) {
        println!("scale produce: skipped: {e}");
        return;
    }
    let mut per_gb = Vec::new();
    for (topic, count) in [(&spread_topic, spread_partitions), (&one_topic, 1)] {
        let produce_how = Produce {
            messages: how.messages,
            size: how.size,
            acks: "all",
            linger_ms: how.linger_ms,
            compression: how.compression,
            partitions: count,
        };
        match produce(cluster, topic, &produce_how, brokers) {
            Ok(spread) => {
                println!(
                    "scale produce acks=all: {}",
                    spread.describe(how.messages, how.size)
                );
                per_gb.push(spread.cpu_per_gb);
            }
            Err(e) => println!("scale produce over {count} partition(s): FAILED: {e}"),
        }
    }
    match per_gb[..] {
        [Some(spread), Some(one)] if one > 0.0 => println!(
            "scale produce: broker CPU per GB over {spread_partitions} partitions = {:.2}× one partition's",
            spread / one
        ),
        [Some(_), Some(_)] => {
            println!("scale produce: one partition's broker CPU is below a clock tick; no ratio")
        }
        _ => {}
    }
}
