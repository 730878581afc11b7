//! Broker CPU per ProduceRequest: the fixed cost a broker pays for each
//! request, whatever it carries. Each request holds one record
//! (`batch.num.messages=1`, `linger.ms=0`, acks=all, one partition), and
//! the number of Produce requests is not assumed but read from
//! librdkafka's statistics (`brokers.*.req.Produce`) before and after, so
//! that the broker's CPU is divided by what it really served.
//!
//! With `tailing`, a consumer reads the same partition during the phase
//! (assigned before it and caught up, librdkafka's fetch defaults), as a
//! live topic has: the broker's CPU then includes answering its fetches,
//! and the phase ends once the consumer has every record.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::Offset;

use crate::clients::{self, Cluster, Observer};
use crate::procs::{Brokers, CpuSpan};
use crate::request_stats::INTERVAL_MS;

/// Records sent before the measured ones (connections up, the consumer
/// caught up, the broker's first-request paths taken).
const WARMUP: usize = 1000;

pub struct PerRequest {
    pub messages: usize,
    pub size: usize,
    pub tailing: bool,
}

pub struct Outcome {
    pub messages: usize,
    /// Produce requests librdkafka sent during the measured part.
    pub requests: i64,
    pub secs: f64,
    pub broker_cpu: Option<f64>,
    /// Fetch requests the tailing consumer sent meanwhile.
    pub fetches: Option<i64>,
}

impl Outcome {
    /// Broker CPU per Produce request, µs.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        Some(self.broker_cpu? / self.requests.max(1) as f64 * 1e6)
    }

    /// One line: what was sent, in how many requests, and the CPU per request.
    pub fn describe(&self) -> String {
        let fetches = self
            .fetches
            .map(|f| format!(" | tailing consumer: {f} Fetch requests"))
            .unwrap_or_default();
        let cpu = match (self.broker_cpu, self.cpu_us_per_request()) {
            (Some(secs), Some(us)) => format!(" | broker CPU {secs:.2} s = {us:.1} µs per request"),
            _ => String::new(),
        };
        format!(
            "{} records in {} Produce requests (librdkafka statistics; {:.2} records/request) \
             in {:.3} s = {:.0} requests/s{fetches}{cpu}",
            self.messages,
            self.requests,
            self.messages as f64 / self.requests.max(1) as f64,
            self.secs,
            self.requests as f64 / self.secs,
        )
    }
}

/// The phase as `--per-request` runs it: alone, then with a consumer
/// tailing, each on the topic `topic` gives (created), one line each.
pub fn alone_and_tailing(
    cluster: &Cluster,
    topic: impl Fn(&str) -> String,
    how: impl Fn(bool) -> PerRequest,
    brokers: Option<&Brokers>,
) {
    let mut alone = None;
    for tailing in [false, true] {
        let name = if tailing { "tailing" } else { "alone" };
        match run(cluster, &topic(name), &how(tailing), brokers) {
            Ok(r) => {
                let ratio = match (alone, r.cpu_us_per_request()) {
                    (Some(alone), Some(us)) if tailing => format!(" ({:.2}× alone)", us / alone),
                    _ => String::new(),
                };
                println!("per-request {name:<7}: {}{ratio}", r.describe());
                alone = alone.or(r.cpu_us_per_request());
            }
            Err(e) => println!("per-request {name:<7}: FAILED: {e}"),
        }
    }
}

pub fn run(
    cluster: &Cluster,
    topic: &str,
    how: &PerRequest,
    brokers: Option<&Brokers>,
) -> Result<Outcome, String> {
    let producer = cluster.producer(
        cluster
            .producer_config()
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .set("queue.buffering.max.messages", "1000000")
            .set("message.timeout.ms", "120000")
            .set("statistics.interval.ms", INTERVAL_MS.to_string()),
        topic,
    )?;

    let tail = if how.tailing {
        Some(Tail::start(cluster, topic)?)
    } else {
        None
    };
    let payload = clients::payload(how.size);
    let mut sent = 0u64;
    let mut send = |count: usize| -> Result<(), String> {
        for i in 0..count {
            clients::send(&producer, topic, 0, &payload)?;
            if i % 64 == 0 {
                producer.poll(Duration::ZERO);
            }
        }
        sent += count as u64;
        producer
            .flush(Duration::from_secs(120))
            .map_err(|e| format!("flush: {e}"))?;
        clients::await_deliveries(&producer, sent, Duration::from_secs(120))?;
        if let Some(tail) = &tail {
            tail.wait_for(sent, Duration::from_secs(30))?;
        }
        Ok(())
    };

    send(WARMUP)?;
    let poll = || {
        producer.poll(Duration::from_millis(10));
    };
    let stats_timeout = Duration::from_millis(INTERVAL_MS * 50);
    let requests_before =
        producer
            .context()
            .requests
            .fresh_count("Produce", poll, stats_timeout)?;
    let fetches_before = tail.as_ref().map(Tail::fetches).transpose()?;

    let span = CpuSpan::start(brokers);
    let started = Instant::now();
    send(how.messages)?;
    let secs = started.elapsed().as_secs_f64();
    let broker_cpu = span.end();

    let requests = producer
        .context()
        .requests
        .fresh_count("Produce", poll, stats_timeout)?
        - requests_before;
    let fetches = match (&tail, fetches_before) {
        (Some(tail), Some(before)) => Some(tail.fetches()? - before),
        _ => None,
    };
    if let Some(tail) = tail {
        tail.stop()?;
    }
    let failed = producer.context().deliveries.failed();
    if failed > 0 {
        return Err(format!(
            "{failed} records failed: {}",
            producer
                .context()
                .deliveries
                .first_error()
                .unwrap_or_default()
        ));
    }
    Ok(Outcome {
        messages: how.messages,
        requests,
        secs,
        broker_cpu,
        fetches,
    })
}

/// A consumer reading the partition in a thread of its own.
struct Tail {
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    observer: Observer,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

impl Tail {
    fn start(cluster: &Cluster, topic: &str) -> Result<Tail, String> {
        let observer = Observer::default();
        let consumer: BaseConsumer<Observer> = cluster
            .consumer_config()
            .set("statistics.interval.ms", INTERVAL_MS.to_string())
            .create_with_context(observer.clone())
            .map_err(|e| format!("tailing consumer: {e}"))?;
        clients::assign(&consumer, topic, 0, Offset::Beginning)?;
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(20)) {
                        Some(Ok(_)) => {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Err(e)) => return Err(format!("tailing consumer: {e}")),
                        None => {}
                    }
                }
                Ok(())
            })
        };
        Ok(Tail {
            received,
            stop,
            observer,
            thread,
        })
    }

    fn wait_for(&self, records: u64, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while self.received.load(Ordering::Relaxed) < records {
            if Instant::now() > deadline || self.thread.is_finished() {
                return Err(format!(
                    "the tailing consumer has {} of {records} records after {timeout:?}",
                    self.received.load(Ordering::Relaxed)
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Fetch requests so far (the consumer's thread serves the statistics).
    fn fetches(&self) -> Result<i64, String> {
        self.observer.requests.fresh_count(
            "Fetch",
            || std::thread::sleep(Duration::from_millis(10)),
            Duration::from_millis(INTERVAL_MS * 50),
        )
    }

    fn stop(self) -> Result<(), String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| "the tailing consumer's thread panicked".to_string())?
    }
}
