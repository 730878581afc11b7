//! Round-trip latency: one message at a time (`linger.ms=0`) carrying its
//! send time, received by a consumer that is already fetching; the next is
//! sent once the previous one arrived, so this is the unloaded latency.

use std::time::{Duration, Instant};

use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::Offset;

use crate::clients::{self, Cluster, Observer};
use crate::procs::{Brokers, CpuSpan};

pub struct LatencyResult {
    pub samples_us: Vec<u64>,
    pub secs: f64,
    pub broker_cpu: Option<f64>,
}

pub struct RoundTrips<'a> {
    pub count: usize,
    pub size: usize,
    pub acks: &'a str,
    pub compression: &'a str,
    pub max_secs: u64,
}

pub fn run(
    cluster: &Cluster,
    topic: &str,
    how: &RoundTrips<'_>,
    brokers: Option<&Brokers>,
) -> Result<LatencyResult, String> {
    let producer: BaseProducer = cluster
        .config()
        .set("enable.idempotence", "false")
        .set("acks", how.acks)
        .set("linger.ms", "0")
        .set("compression.type", how.compression)
        .create()
        .map_err(|e| format!("producer: {e}"))?;
    let consumer = cluster.consumer(Observer::default())?;
    clients::assign(&consumer, topic, 0, Offset::Beginning)?;

    let origin = Instant::now();
    let mut payload = vec![0u8; how.size.max(16)];
    let mut send = |seq: u64| -> Result<(), String> {
        let now_ns = origin.elapsed().as_nanos() as u64;
        payload[..8].copy_from_slice(&now_ns.to_le_bytes());
        payload[8..16].copy_from_slice(&seq.to_le_bytes());
        producer
            .send(
                BaseRecord::<'_, [u8], [u8]>::to(topic)
                    .partition(0)
                    .payload(&payload[..]),
            )
            .map_err(|(e, _)| format!("latency send: {e}"))?;
        producer.poll(Duration::ZERO);
        Ok(())
    };
    // Waits for message `seq`; returns its send -> receive latency.
    let recv = |seq: u64, budget: Duration| -> Result<Option<u64>, String> {
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(1)) {
                Some(Ok(m)) => {
                    if let Some((sent, got)) = stamp(m.payload().unwrap_or(&[])) {
                        if got == seq {
                            let now = origin.elapsed().as_nanos() as u64;
                            return Ok(Some(now.saturating_sub(sent) / 1000));
                        }
                    }
                }
                Some(Err(e)) => return Err(format!("latency consumer error: {e}")),
                None => {}
            }
        }
        Ok(None)
    };

    // Warm-up: the consumer is connected and fetching before measuring.
    send(u64::MAX)?;
    if recv(u64::MAX, Duration::from_secs(30))?.is_none() {
        return Err("latency warm-up message not received within 30 s".into());
    }
    producer.flush(Duration::from_secs(10)).ok();

    let budget = Duration::from_secs(how.max_secs);
    let span = CpuSpan::start(brokers);
    let started = Instant::now();
    let mut samples = Vec::with_capacity(how.count);
    for seq in 0..how.count as u64 {
        if started.elapsed() > budget {
            eprintln!("  latency: time budget of {budget:?} reached after {seq} samples");
            break;
        }
        send(seq)?;
        match recv(seq, Duration::from_secs(10))? {
            Some(us) => samples.push(us),
            None => return Err(format!("latency message {seq} not received within 10 s")),
        }
    }
    producer.flush(Duration::from_secs(10)).ok();
    Ok(LatencyResult {
        samples_us: samples,
        secs: started.elapsed().as_secs_f64(),
        broker_cpu: span.end(),
    })
}

/// The (send time, sequence number) at the start of a latency payload.
pub fn stamp(payload: &[u8]) -> Option<(u64, u64)> {
    let sent = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let seq = u64::from_le_bytes(payload.get(8..16)?.try_into().ok()?);
    Some((sent, seq))
}
