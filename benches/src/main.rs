//! gregor-bench: produce / consume throughput and end-to-end latency against
//! any Kafka-compatible bootstrap address, using rust-rdkafka (librdkafka).
//! Each phase lives in its own module; this file only wires them.
//!
//! Phases:
//! 1. produce (`throughput.rs`): for each `--acks` value, N messages of S
//!    bytes to a fresh one-partition topic (all delivery reports awaited).
//! 2. consume (`throughput.rs`): a consumer assigned from the beginning
//!    reads the first produced topic back (offsets checked to be 0..N-1).
//! 3. latency (`latency.rs`): one message at a time (linger 0) carrying
//!    its send time, consumed by a consumer that is already fetching.
//! 4. transactions (`transactions.rs`, with `--transactions N`).
//!
//! With `--machine DIR`, the machine's own limits (`machine.rs`) are
//! measured first, and the consume phase is also given as a share of
//! loopback TCP.
//!
//! With `--broker-pid PID[,PID…]`, the brokers' CPU time (`procs.rs`,
//! summed over the pids) is reported for each phase, also per million
//! messages.

mod args;
mod clients;
mod cold_start;
mod connections;
mod latency;
mod machine;
mod paced;
mod partitions;
mod per_request;
mod procs;
mod replication;
mod report;
mod request_stats;
mod throughput;
mod transactions;
mod wire;

use std::time::Duration;

use args::{fail, Args};
use clients::Cluster;
use procs::Brokers;
use report::{cpu_text, ms, pct, rate};

/// How long a CreateTopics of the throughput phases may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() {
    let a = args::parse();
    if let Some(cold_start) = &a.cold_start {
        // A standalone mode: brokers started here, nothing else runs.
        let (label, lines) = match cold_start {
            args::ColdStart::Gregor(bin) => ("gregor", cold_start::gregor(bin, a.cold_start_runs)),
            args::ColdStart::Exec { address, command } => (
                a.cold_start_label.as_str(),
                cold_start::exec(address, command).map(|line| vec![line]),
            ),
        };
        match lines {
            Ok(lines) => lines
                .iter()
                .for_each(|line| println!("cold start {label}: {line}")),
            Err(e) => println!("cold start {label}: FAILED: {e}"),
        }
        return;
    }
    let brokers = if a.broker_pids.is_empty() {
        None
    } else {
        Some(Brokers::new(&a.broker_pids).unwrap_or_else(|e| fail(&e)))
    };
    let cpu = brokers.as_ref();
    let cluster = Cluster {
        bootstrap: a.bootstrap.clone(),
        client_config: a.client_config.clone(),
    };
    let run = clients::run_id();
    println!(
        "gregor-bench: bootstrap={} messages={} size={} B acks={} compression={} linger.ms={}{}",
        a.bootstrap,
        a.messages,
        a.size,
        a.acks.join(","),
        a.compression,
        a.linger_ms,
        if a.broker_pids.is_empty() {
            String::new()
        } else {
            format!(" broker-pid={}", join(&a.broker_pids))
        }
    );

    let limits = a.machine.as_ref().map(|dir| {
        machine::measure(dir, 1 << 30).unwrap_or_else(|error| {
            fail(&format!(
                "measuring the machine in {}: {error}",
                dir.display()
            ))
        })
    });
    if let Some(limits) = &limits {
        println!("machine         : {limits}");
    }

    // A cluster's brokers register one by one; topics with replicas on
    // each need them all.
    let replicas = a.replication_factor.max(a.compare_rf.unwrap_or(1));
    if replicas > 1 {
        cluster
            .wait_for_brokers(replicas as usize, Duration::from_secs(120))
            .unwrap_or_else(|e| fail(&e));
    }

    let create = |topic: &str, replication_factor: i32| {
        cluster
            .create_topic(topic, 1, replication_factor, CREATE_TIMEOUT)
            .unwrap_or_else(|e| fail(&e))
    };

    let mut topics = Vec::new();
    for acks in a.acks.iter().filter(|_| !a.skip_produce) {
        let topic = format!("{}-{}-acks{}", a.topic_prefix, run, acks.replace('-', "m"));
        create(&topic, a.replication_factor);
        let how = throughput::Produce {
            messages: a.messages,
            size: a.size,
            acks,
            linger_ms: a.linger_ms,
            compression: &a.compression,
            partitions: 1,
        };
        let r = throughput::produce(&cluster, &topic, &how, cpu).unwrap_or_else(|e| fail(&e));
        let ok = a.messages as u64 - r.failed;
        println!(
            "produce acks={:<4}: {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}",
            acks,
            a.messages,
            a.size,
            r.secs,
            rate(a.messages, a.messages * a.size, r.secs),
            if r.failed > 0 {
                format!(" ({} FAILED, {ok} ok)", r.failed)
            } else {
                String::new()
            },
            r.client_cpu,
            cpu_text(r.broker_cpu, a.messages),
        );
        topics.push(topic);
    }

    if !a.skip_consume && !topics.is_empty() {
        let r =
            throughput::consume(&cluster, &topics[0], a.messages, cpu).unwrap_or_else(|e| fail(&e));
        let of_loopback = limits
            .as_ref()
            .map(|l| {
                format!(
                    " ({:.2} of loopback TCP)",
                    r.bytes as f64 / 1e6 / r.secs / l.loopback_mb_s
                )
            })
            .unwrap_or_default();
        println!(
            "consume         : {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}",
            r.n,
            a.size,
            r.secs,
            rate(r.n, r.bytes, r.secs),
            of_loopback,
            r.client_cpu,
            cpu_text(r.broker_cpu, r.n),
        );
    }

    if !a.skip_latency {
        let topic = format!("{}-{}-latency", a.topic_prefix, run);
        create(&topic, a.replication_factor);
        let how = latency::RoundTrips {
            count: a.latency_count,
            size: a.size,
            acks: &a.latency_acks,
            compression: &a.compression,
            max_secs: a.latency_max_secs,
        };
        let r = latency::run(&cluster, &topic, &how, cpu).unwrap_or_else(|e| fail(&e));
        let mut s = r.samples_us.clone();
        s.sort_unstable();
        let mean = if s.is_empty() {
            0
        } else {
            s.iter().sum::<u64>() / s.len() as u64
        };
        println!(
            "latency acks={:<4}: {} round trips in {:.3} s: p50 {}  p99 {}  max {}  (min {}, mean {}){}",
            a.latency_acks,
            s.len(),
            r.secs,
            ms(pct(&s, 50.0)),
            ms(pct(&s, 99.0)),
            ms(s.last().copied().unwrap_or(0)),
            ms(s.first().copied().unwrap_or(0)),
            ms(mean),
            cpu_text(r.broker_cpu, s.len()),
        );
    }

    // With --compare-rf, the per-request and paced phases run inside the
    // comparison, at both replication factors.
    if a.per_request > 0 && a.compare_rf.is_none() {
        let mut alone = None;
        for tailing in [false, true] {
            let name = if tailing { "tailing" } else { "alone" };
            let topic = format!("{}-{}-per-request-{name}", a.topic_prefix, run);
            create(&topic, a.replication_factor);
            let how = per_request::PerRequest {
                messages: a.per_request,
                size: a.size,
                tailing,
            };
            match per_request::run(&cluster, &topic, &how, cpu) {
                Ok(r) => {
                    let ratio = match (alone, r.cpu_us_per_request()) {
                        (Some(alone), Some(us)) if tailing => {
                            format!(" ({:.2}× alone)", us / alone)
                        }
                        _ => String::new(),
                    };
                    println!("per-request {name:<7}: {}{ratio}", r.describe());
                    alone = alone.or(r.cpu_us_per_request());
                }
                Err(e) => println!("per-request {name:<7}: FAILED: {e}"),
            }
        }
    }

    for paced_rate in a.paced.iter().filter(|_| a.compare_rf.is_none()) {
        let how = paced::Paced {
            rate: paced_rate.rate,
            linger_ms: paced_rate.linger_ms,
            secs: a.paced_secs,
            size: a.size,
        };
        let name = format!("paced {}/s linger {}", how.rate, how.linger_ms);
        let mut rounds = Vec::new();
        for round in 1..=a.paced_rounds {
            let topic = format!(
                "{}-{}-paced-{}-{}-{round}",
                a.topic_prefix, run, how.rate, how.linger_ms
            );
            create(&topic, a.replication_factor);
            match paced::run(&cluster, &topic, &how, cpu) {
                Ok(r) => {
                    println!("{name} round {round}: {}", r.describe());
                    rounds.push(r);
                }
                Err(e) => println!("{name} round {round}: FAILED: {e}"),
            }
        }
        if a.paced_rounds > 1 {
            println!("{name}: {}", paced::worst_of(&rounds));
        }
    }

    if !a.scale_partitions.is_empty() {
        scale_partitions(&a, &cluster, &run, cpu);
    }

    if !a.idle_connections.is_empty() {
        if cluster.plaintext() {
            let idle = connections::hold(cluster.first_address(), &a.idle_connections, cpu);
            for line in idle.describe() {
                println!("scale connections: {line}");
            }
        } else {
            println!("scale connections: skipped: raw connections are plaintext only");
        }
    }

    if let Some(other) = a.compare_rf {
        let workload = replication::Workload {
            messages: a.messages,
            size: a.size,
            linger_ms: a.linger_ms,
            per_request: a.per_request,
            paced: a.paced.clone(),
            paced_secs: a.paced_secs,
        };
        let prefix = format!("{}-{}", a.topic_prefix, run);
        let factors = [a.replication_factor, other];
        for line in replication::compare(&cluster, &prefix, factors, &workload, cpu) {
            println!("replication {line}");
        }
    }

    if a.transactions > 0 {
        let topic = format!("{}-{}-txn", a.topic_prefix, run);
        create(&topic, a.replication_factor);
        let how = transactions::Transactions {
            transactions: a.transactions,
            messages: a.txn_messages,
            size: a.size,
            linger_ms: a.linger_ms,
            compression: &a.compression,
        };
        let r = transactions::run(&cluster, &topic, &how, cpu).unwrap_or_else(|e| fail(&e));
        let mut s = r.commits_us.clone();
        s.sort_unstable();
        let messages = a.transactions * a.txn_messages;
        println!(
            "transactions    : {} x {} msgs in {:.3} s = {:.0} txn/s, {} | commit p50 {}  p99 {}  max {}{}",
            a.transactions,
            a.txn_messages,
            r.secs,
            a.transactions as f64 / r.secs,
            rate(messages, messages * a.size, r.secs),
            ms(pct(&s, 50.0)),
            ms(pct(&s, 99.0)),
            ms(s.last().copied().unwrap_or(0)),
            cpu_text(r.broker_cpu, messages),
        );
    }
}

/// Topics of each `--scale-partitions` count, then the same produce load
/// over the largest one created and over one partition.
fn scale_partitions(a: &Args, cluster: &Cluster, run: &str, cpu: Option<&Brokers>) {
    let timeout = Duration::from_secs(a.scale_timeout_secs);
    let mut largest = None;
    for &count in &a.scale_partitions {
        let topic = format!("{}-{}-scale-{count}", a.topic_prefix, run);
        match partitions::create(cluster, &topic, count, a.replication_factor, timeout, cpu) {
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
    let one_topic = format!("{}-{}-scale-1", a.topic_prefix, run);
    if let Err(e) = cluster.create_topic(&one_topic, 1, a.replication_factor, timeout) {
        println!("scale produce: skipped: {e}");
        return;
    }
    let mut per_gb = Vec::new();
    for (topic, count) in [(&spread_topic, spread_partitions), (&one_topic, 1)] {
        let how = throughput::Produce {
            messages: a.scale_messages,
            size: a.size,
            acks: "all",
            linger_ms: a.linger_ms,
            compression: &a.compression,
            partitions: count,
        };
        match partitions::produce(cluster, topic, &how, cpu) {
            Ok(spread) => {
                println!(
                    "scale produce acks=all: {}",
                    spread.describe(a.scale_messages, a.size)
                );
                per_gb.push(spread.cpu_per_gb);
            }
            Err(e) => println!("scale produce over {count} partition(s): FAILED: {e}"),
        }
    }
    if let [Some(spread), Some(one)] = per_gb[..] {
        if one <= 0.0 {
            println!("scale produce: one partition's broker CPU is below a clock tick; no ratio");
            return;
        }
        println!(
            "scale produce: broker CPU per GB over {spread_partitions} partitions = {:.2}× one partition's",
            spread / one
        );
    }
}

fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
