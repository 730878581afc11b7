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
//! And when asked for: broker CPU per Produce request (`per_request.rs`),
//! latency at a fixed rate (`paced.rs`), partitions and idle connections
//! at scale (`partitions.rs`, `connections.rs`), replication factors
//! compared (`replication.rs`); standalone, cold start (`cold_start.rs`).
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

use args::fail;
use clients::Cluster;
use procs::Brokers;
use report::{cpu_per_gb_text, cpu_text, ms, pct, rate};

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
            "produce acks={:<4}: {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}{}",
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
            cpu_per_gb_text(r.broker_cpu, a.messages * a.size),
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
            "consume         : {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}{}",
            r.n,
            a.size,
            r.secs,
            rate(r.n, r.bytes, r.secs),
            of_loopback,
            r.client_cpu,
            cpu_text(r.broker_cpu, r.n),
            cpu_per_gb_text(r.broker_cpu, r.bytes),
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
        let how = |tailing| per_request::PerRequest {
            messages: a.per_request,
            size: a.size,
            tailing,
        };
        let topic = |name: &str| {
            let topic = format!("{}-{}-per-request-{name}", a.topic_prefix, run);
            create(&topic, a.replication_factor);
            topic
        };
        per_request::alone_and_tailing(&cluster, topic, how, cpu);
    }

    if a.compare_rf.is_none() {
        for rate in &a.paced {
            let how = paced::Paced {
                rate: rate.rate,
                linger_ms: rate.linger_ms,
                secs: a.paced_secs,
                size: a.size,
            };
            let topic = |round: usize| {
                let topic = format!(
                    "{}-{}-paced-{}-{}-{round}",
                    a.topic_prefix, run, how.rate, how.linger_ms
                );
                create(&topic, a.replication_factor);
                topic
            };
            paced::rounds(&cluster, topic, &how, a.paced_rounds, cpu);
        }
    }

    if !a.scale_partitions.is_empty() {
        let how = partitions::Scale {
            counts: &a.scale_partitions,
            replication_factor: a.replication_factor,
            timeout: Duration::from_secs(a.scale_timeout_secs),
            messages: a.scale_messages,
            size: a.size,
            linger_ms: a.linger_ms,
            compression: &a.compression,
        };
        partitions::scale(&cluster, &format!("{}-{}", a.topic_prefix, run), &how, cpu);
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

fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
