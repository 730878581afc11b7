//! Transactions: a transactional producer runs N transactions of M
//! records each (begin, send, commit); what a commit costs beyond its
//! records.

use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, Producer};

use crate::clients::{self, Cluster, Observer};
use crate::procs::{Brokers, CpuSpan};

pub struct TxnResult {
    pub secs: f64,
    pub commits_us: Vec<u64>,
    pub broker_cpu: Option<f64>,
}

pub struct Transactions<'a> {
    pub transactions: usize,
    pub messages: usize,
    pub size: usize,
    pub linger_ms: u64,
    pub compression: &'a str,
}

pub fn run(
    cluster: &Cluster,
    topic: &str,
    how: &Transactions<'_>,
    brokers: Option<&Brokers>,
) -> Result<TxnResult, String> {
    let producer: BaseProducer<Observer> = cluster
        .config()
        .set("transactional.id", format!("{topic}-txn"))
        .set("linger.ms", how.linger_ms.to_string())
        .set("compression.type", how.compression)
        .create_with_context(Observer::default())
        .map_err(|e| format!("transactional producer: {e}"))?;
    producer
        .init_transactions(Duration::from_secs(30))
        .map_err(|e| format!("init_transactions: {e}"))?;
    let payload = vec![7u8; how.size];
    let mut commits_us = Vec::with_capacity(how.transactions);
    let span = CpuSpan::start(brokers);
    let started = Instant::now();
    for done in 0..how.transactions {
        producer
            .begin_transaction()
            .map_err(|e| format!("begin_transaction: {e}"))?;
        for _ in 0..how.messages {
            clients::send(&producer, topic, 0, &payload)?;
        }
        let commit = Instant::now();
        // Serve delivery reports here: librdkafka's own flush inside the
        // commit waits in 100 ms poll slices on a BaseProducer.
        let sent = ((done + 1) * how.messages) as u64;
        while producer.context().deliveries.done() < sent {
            producer.poll(Duration::from_millis(1));
        }
        producer
            .commit_transaction(Duration::from_secs(60))
            .map_err(|e| format!("commit_transaction: {e}"))?;
        commits_us.push(commit.elapsed().as_micros() as u64);
    }
    let secs = started.elapsed().as_secs_f64();
    if producer.context().deliveries.failed() > 0 {
        return Err("transactional deliveries failed".into());
    }
    Ok(TxnResult {
        secs,
        commits_us,
        broker_cpu: span.end(),
    })
}
