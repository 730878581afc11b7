//! Fetch long-polling: a Fetch on a caught-up partition waits up to
//! MaxWaitMs (librdkafka's fetch.wait.max.ms) for data instead of answering
//! at once, and a waiting Fetch is answered as soon as data arrives.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Keeps the number of Fetch requests sent, from librdkafka's statistics.
#[derive(Clone, Default)]
struct FetchCount(Arc<Mutex<Option<i64>>>);

impl ClientContext for FetchCount {
    fn stats(&self, s: Statistics) {
        let n = s
            .brokers
            .values()
            .map(|b| b.req.get("Fetch").copied().unwrap_or(0))
            .sum();
        *self.0.lock().unwrap() = Some(n);
    }
}
impl ConsumerContext for FetchCount {}

fn stats_consumer(bootstrap: &str, wait_ms: &str) -> (BaseConsumer<FetchCount>, FetchCount) {
    let ctx = FetchCount::default();
    let c = consumer_config(
        bootstrap,
        &[("fetch.wait.max.ms", wait_ms), ("statistics.interval.ms", "500")],
    )
    .create_with_context(ctx.clone())
    .expect("consumer");
    (c, ctx)
}

fn poll_for(c: &BaseConsumer<FetchCount>, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        match c.poll(Duration::from_millis(100)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(m)) => panic!("unexpected record at offset {}", m.offset()),
            Some(Err(e)) => panic!("consumer error: {e:?}"),
        }
    }
}

#[test]
fn idle_fetch_waits_for_max_wait_ms() {
    let b = Broker::start();
    let topic = unique_topic("idle");
    create_topic(&b.bootstrap(), &topic, 1);
    let (c, stats) = stats_consumer(&b.bootstrap(), "500");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning).unwrap();
    c.assign(&tpl).unwrap();

    // Let the consumer connect and start fetching, then count over 4 s.
    poll_for(&c, Duration::from_secs(2));
    let start = stats.0.lock().unwrap().expect("no statistics after 2 s");
    let cpu0 = b.cpu_secs();
    poll_for(&c, Duration::from_secs(4));
    let end = stats.0.lock().unwrap().unwrap();
    let fetches = end - start;
    eprintln!(
        "idle consumer, 4 s: {fetches} Fetch requests, broker CPU {:?} s",
        b.cpu_secs().zip(cpu0).map(|(a, b)| a - b)
    );
    // A broker that parks the Fetch for MaxWaitMs=500 sees about 8 Fetch
    // requests in 4 s; one that answers an empty Fetch at once sees thousands.
    assert!(
        fetches <= 20,
        "{fetches} Fetch requests in 4 s on an idle partition with fetch.wait.max.ms=500 \
         (expected <= ~8): the broker answers empty Fetches without waiting MaxWaitMs"
    );
}

#[test]
fn waiting_fetch_is_answered_when_data_arrives() {
    let b = Broker::start();
    let topic = unique_topic("wake");
    create_topic(&b.bootstrap(), &topic, 1);
    // A long MaxWaitMs: the record must still arrive promptly.
    let (c, _stats) = stats_consumer(&b.bootstrap(), "5000");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning).unwrap();
    c.assign(&tpl).unwrap();
    poll_for(&c, Duration::from_secs(2)); // a Fetch is now parked on the broker

    let p = producer(&b.bootstrap(), &[("acks", "1"), ("linger.ms", "0")]);
    // Connect the producer and learn the leader before the clock starts.
    p.client().fetch_metadata(Some(&topic), OP_TIMEOUT).expect("metadata");
    let mut recs = make_records(1, now_ms(), 1, 0);
    recs[0].headers.clear();
    let t0 = Instant::now();
    // Enqueue only (linger.ms=0 sends it at once); the delivery report is
    // checked after the record was consumed.
    let r = &recs[0];
    let delivery = p
        .send_result(
            FutureRecord::<[u8], [u8]>::to(&topic)
                .partition(0)
                .timestamp(r.timestamp)
                .key(r.key.as_deref().unwrap())
                .payload(r.value.as_deref().unwrap()),
        )
        .map_err(|(e, _)| e)
        .expect("enqueue");
    let deadline = t0 + Duration::from_secs(15);
    let got = loop {
        assert!(Instant::now() < deadline, "record not received within 15 s");
        match c.poll(Duration::from_millis(10)) {
            Some(Ok(m)) => break got_from(&m),
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => panic!("consumer error: {e:?}"),
        }
    };
    let elapsed = t0.elapsed();
    let d = block_on(delivery).unwrap().expect("delivery");
    assert_eq!((d.partition, d.offset), (0, 0));
    eprintln!("produce -> consume with a parked Fetch: {elapsed:?}");
    assert_records(&[got], &recs, 0);
    assert!(
        elapsed < Duration::from_millis(1500),
        "record took {elapsed:?} from produce to consume with fetch.wait.max.ms=5000: \
         the parked Fetch was not completed when the data arrived"
    );
}
