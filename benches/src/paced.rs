//! End-to-end latency at a fixed rate: what an application producing at a
//! steady R msg/s sees, rather than the one-at-a-time round trip of
//! `latency.rs` or the bursts of a throughput run. Records are sent one by
//! one at their own instant (i / R after the start, an absolute
//! `clock_nanosleep` with a 1 ns timer slack, so not in bursts) for T
//! seconds, with linger L and acks=all, each carrying its send time; a
//! consumer already tailing the topic in another thread takes send →
//! receive for each.
//!
//! Latency counts from the moment a record was handed to the producer; a
//! send that could not be made on time is counted as late (printed), so
//! that a producer falling behind shows instead of hiding in the figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::Offset;

use crate::clients::{self, Cluster, Observer};
use crate::latency::stamp;
use crate::procs::{Brokers, CpuSpan};
use crate::report::{ms, pct};

/// A send this late after its instant counts as late.
const LATE_NS: u64 = 1_000_000;

pub struct Paced {
    pub rate: u32,
    pub linger_ms: u64,
    pub secs: f64,
    pub size: usize,
}

pub struct PacedResult {
    pub sent: usize,
    /// Latencies of the records received, µs, sorted.
    pub latencies_us: Vec<u64>,
    /// First send to last send.
    pub send_secs: f64,
    pub late_sends: usize,
    pub worst_lateness_us: u64,
    pub failed: u64,
    pub broker_cpu: Option<f64>,
}

impl PacedResult {
    pub fn achieved_rate(&self) -> f64 {
        if self.send_secs > 0.0 {
            (self.sent.max(1) - 1) as f64 / self.send_secs
        } else {
            0.0
        }
    }

    pub fn p99_us(&self) -> u64 {
        pct(&self.latencies_us, 99.0)
    }

    /// p50, p99, p99.9, max, what was received, and how well the pace held.
    pub fn describe(&self) -> String {
        let l = &self.latencies_us;
        let missing = self.sent.saturating_sub(l.len());
        let cpu = self
            .broker_cpu
            .map(|secs| {
                format!(
                    " | broker CPU {secs:.2} s = {:.1} µs per record",
                    secs / self.sent.max(1) as f64 * 1e6
                )
            })
            .unwrap_or_default();
        format!(
            "p50 {}  p99 {}  p99.9 {}  max {} | {} sent at {:.0} msg/s achieved, {} received{}{} | \
             {} sends > 1 ms late (worst {}){cpu}",
            ms(pct(l, 50.0)),
            ms(pct(l, 99.0)),
            ms(pct(l, 99.9)),
            ms(l.last().copied().unwrap_or(0)),
            self.sent,
            self.achieved_rate(),
            l.len(),
            if missing > 0 {
                format!(" ({missing} MISSING)")
            } else {
                String::new()
            },
            if self.failed > 0 {
                format!(" ({} FAILED deliveries)", self.failed)
            } else {
                String::new()
            },
            self.late_sends,
            ms(self.worst_lateness_us),
        )
    }
}

/// `rounds` runs of `how`, each on the topic `topic` gives for its round
/// (created fresh), a line each, then the worst of them.
pub fn rounds(
    cluster: &Cluster,
    topic: impl Fn(usize) -> String,
    how: &Paced,
    rounds: usize,
    brokers: Option<&Brokers>,
) {
    let name = format!("paced {}/s linger {}", how.rate, how.linger_ms);
    let mut results = Vec::new();
    for round in 1..=rounds {
        match run(cluster, &topic(round), how, brokers) {
            Ok(r) => {
                println!("{name} round {round}: {}", r.describe());
                results.push(r);
            }
            Err(e) => println!("{name} round {round}: FAILED: {e}"),
        }
    }
    if rounds > 1 && !results.is_empty() {
        println!("{name}: {}", worst_of(&results));
    }
}

pub fn run(
    cluster: &Cluster,
    topic: &str,
    how: &Paced,
    brokers: Option<&Brokers>,
) -> Result<PacedResult, String> {
    let total = (how.rate as f64 * how.secs).round().max(1.0) as usize;
    let producer = cluster.producer(
        cluster
            .producer_config()
            .set("acks", "all")
            .set("linger.ms", how.linger_ms.to_string())
            .set("queue.buffering.max.messages", "1000000")
            .set("message.timeout.ms", "60000"),
        topic,
    )?;

    let consumer = cluster.consumer(Observer::default())?;
    clients::assign(&consumer, topic, 0, Offset::Beginning)?;
    let mut payload = vec![0u8; how.size.max(16)];
    let mut send = |seq: u64| -> Result<(), String> {
        payload[..8].copy_from_slice(&monotonic_ns().to_le_bytes());
        payload[8..16].copy_from_slice(&seq.to_le_bytes());
        clients::send(&producer, topic, 0, &payload)?;
        producer.poll(Duration::ZERO);
        Ok(())
    };
    // The consumer is connected and fetching before the first record.
    send(u64::MAX)?;
    let (ready, stop) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let tail = {
        let (ready, stop) = (ready.clone(), stop.clone());
        std::thread::spawn(move || tail(consumer, total, &ready, &stop))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.load(Ordering::Relaxed) {
        if Instant::now() > deadline || tail.is_finished() {
            stop.store(true, Ordering::Relaxed);
            let _ = tail.join();
            return Err("the paced consumer did not receive the first record within 30 s".into());
        }
        producer.poll(Duration::from_millis(1));
    }

    set_timer_slack_ns(1);
    let span = CpuSpan::start(brokers);
    let interval_ns = 1e9 / how.rate as f64;
    let start_ns = monotonic_ns() + 10_000_000;
    let (mut late_sends, mut worst_lateness_ns) = (0, 0);
    let (mut first_ns, mut last_ns) = (0, 0);
    for seq in 0..total {
        let due = start_ns + (seq as f64 * interval_ns) as u64;
        sleep_until(due);
        let now = monotonic_ns();
        let lateness = now.saturating_sub(due);
        late_sends += usize::from(lateness > LATE_NS);
        worst_lateness_ns = worst_lateness_ns.max(lateness);
        if seq == 0 {
            first_ns = now;
        }
        last_ns = now;
        send(seq as u64)?;
    }
    let flushed = producer.flush(Duration::from_secs(60));
    let delivered = clients::await_deliveries(&producer, total as u64 + 1, Duration::from_secs(60));
    // The consumer may still be reading; give it as long as a slow broker needs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tail.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let broker_cpu = span.end();
    let mut latencies_us = tail
        .join()
        .map_err(|_| "the paced consumer's thread panicked".to_string())??;
    flushed.map_err(|e| format!("flush: {e}"))?;
    delivered?;
    latencies_us.sort_unstable();
    Ok(PacedResult {
        sent: total,
        latencies_us,
        send_secs: (last_ns - first_ns) as f64 / 1e9,
        late_sends,
        worst_lateness_us: worst_lateness_ns / 1000,
        failed: producer.context().deliveries.failed(),
        broker_cpu,
    })
}

/// Reads until records 0..total are in (or `stop`): their latencies, µs.
/// `ready` is set once the record sent before them is in; records before
/// it (none, on a fresh topic) are not this run's and are ignored.
fn tail(
    consumer: BaseConsumer<Observer>,
    total: usize,
    ready: &AtomicBool,
    stop: &AtomicBool,
) -> Result<Vec<u64>, String> {
    let mut seen = vec![false; total];
    let mut latencies = Vec::with_capacity(total);
    while latencies.len() < total && !stop.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(10)) {
            Some(Ok(m)) => {
                let now = monotonic_ns();
                if let Some((sent, seq)) = stamp(m.payload().unwrap_or(&[])) {
                    if seq == u64::MAX {
                        ready.store(true, Ordering::Relaxed);
                    } else if !ready.load(Ordering::Relaxed) {
                        continue;
                    } else if let Some(seen) = seen.get_mut(seq as usize).filter(|seen| !**seen) {
                        *seen = true;
                        latencies.push(now.saturating_sub(sent) / 1000);
                    }
                }
            }
            Some(Err(e)) => return Err(format!("paced consumer: {e}")),
            None => {}
        }
    }
    Ok(latencies)
}

/// CLOCK_MONOTONIC, ns: the clock `sleep_until` sleeps on, the same in
/// every thread.
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// Sleeps until CLOCK_MONOTONIC reads `ns` (at once if it has).
fn sleep_until(ns: u64) {
    let at = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `at` is a valid timespec; no remainder is asked for.
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &at,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

/// The calling thread's timer slack: the kernel may otherwise wake a
/// sleeper up to 50 µs late, half of a 10,000 msg/s interval.
fn set_timer_slack_ns(ns: u64) {
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong) };
}

/// The worst of several rounds' figures, for "every round" goals.
fn worst_of(rounds: &[PacedResult]) -> String {
    let worst = |f: &dyn Fn(&PacedResult) -> u64| rounds.iter().map(f).max().unwrap_or(0);
    format!(
        "worst of {} rounds: p50 {}  p99 {}  p99.9 {}  max {} | lowest achieved rate {:.0} msg/s",
        rounds.len(),
        ms(worst(&|r| pct(&r.latencies_us, 50.0))),
        ms(worst(&|r| r.p99_us())),
        ms(worst(&|r| pct(&r.latencies_us, 99.9))),
        ms(worst(&|r| r.latencies_us.last().copied().unwrap_or(0))),
        rounds
            .iter()
            .map(PacedResult::achieved_rate)
            .fold(f64::INFINITY, f64::min),
    )
}
