//! Throughput: N records produced as fast as the producer batches them
//! (the clock stops when every delivery report is in), then read back from
//! the beginning by one consumer (offsets checked to be 0..N-1).

use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::Offset;

use crate::clients::{self, Cluster, Observer};
use crate::procs::{client_cpu_secs, Brokers, CpuSpan};

/// How a produce phase sends.
pub struct Produce<'a> {
    pub messages: usize,
    pub size: usize,
    pub acks: &'a str,
    pub linger_ms: u64,
    pub compression: &'a str,
    /// Records go round-robin to partitions 0..partitions.
    pub partitions: i32,
}

pub struct ProduceResult {
    pub secs: f64,
    pub broker_cpu: Option<f64>,
    pub client_cpu: f64,
    pub failed: u64,
}

pub fn produce(
    cluster: &Cluster,
    topic: &str,
    how: &Produce<'_>,
    brokers: Option<&Brokers>,
) -> Result<ProduceResult, String> {
    let producer = cluster.producer(
        cluster
            .producer_config()
            .set("acks", how.acks)
            .set("linger.ms", how.linger_ms.to_string())
            .set("compression.type", how.compression)
            .set("queue.buffering.max.messages", "500000")
            .set("message.timeout.ms", "300000"),
        topic,
    )?;

    // Payloads differ per message (a counter prefix) so compression is not trivial.
    let mut payload = clients::payload(how.size);
    let partitions = how.partitions.max(1) as usize;
    let span = CpuSpan::start(brokers);
    let client_cpu = client_cpu_secs();
    let started = Instant::now();
    for i in 0..how.messages {
        let n = (i as u64).to_le_bytes();
        let k = n.len().min(payload.len());
        payload[..k].copy_from_slice(&n[..k]);
        clients::send(&producer, topic, (i % partitions) as i32, &payload)?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(300))
        .map_err(|e| format!("flush: {e}"))?;
    clients::await_deliveries(&producer, how.messages as u64, Duration::from_secs(300))?;
    let secs = started.elapsed().as_secs_f64();
    let deliveries = &producer.context().deliveries;
    if let Some(e) = deliveries.first_error() {
        eprintln!("  first delivery error: {e}");
    }
    Ok(ProduceResult {
        secs,
        broker_cpu: span.end(),
        client_cpu: client_cpu_secs() - client_cpu,
        failed: deliveries.failed(),
    })
}

pub struct ConsumeResult {
    pub n: usize,
    pub bytes: usize,
    pub secs: f64,
    pub broker_cpu: Option<f64>,
    pub client_cpu: f64,
}

/// Reads `messages` records of partition 0 from the beginning.
pub fn consume(
    cluster: &Cluster,
    topic: &str,
    messages: usize,
    brokers: Option<&Brokers>,
) -> Result<ConsumeResult, String> {
    let consumer = cluster.consumer(Observer::default())?;
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let span = CpuSpan::start(brokers);
    let client_cpu = client_cpu_secs();
    let started = Instant::now();
    clients::assign(&consumer, topic, 0, Offset::Beginning)?;
    let (mut n, mut bytes) = (0usize, 0usize);
    let mut last_progress = Instant::now();
    while n < messages {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if m.offset() != n as i64 {
                    return Err(format!("consume: expected offset {n}, got {}", m.offset()));
                }
                bytes += m.payload_len();
                n += 1;
                last_progress = Instant::now();
            }
            Some(Err(e)) => return Err(format!("consume error after {n} messages: {e}")),
            None => {
                if last_progress.elapsed() > Duration::from_secs(30) {
                    return Err(format!("consume stalled at {n} of {messages} messages"));
                }
            }
        }
    }
    Ok(ConsumeResult {
        n,
        bytes,
        secs: started.elapsed().as_secs_f64(),
        broker_cpu: span.end(),
        client_cpu: client_cpu_secs() - client_cpu,
    })
}
