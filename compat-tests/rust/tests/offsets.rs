//! (b) offsets_for_times, (c) fetch_watermarks, (d) seek / assign in the
//! middle, (e) assign past the end with auto.offset.reset=error / earliest.
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

/// Records whose CreateTime is `base + 10 * i`.
fn timed_records(n: usize, base: i64, seed: u64) -> Vec<Rec> {
    let mut recs = make_records(n, base, seed, 0);
    for (i, r) in recs.iter_mut().enumerate() {
        r.timestamp = base + 10 * i as i64;
    }
    recs
}

fn offset_for_time(c: &BaseConsumer, topic: &str, ts: i64) -> Offset {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(ts)).unwrap();
    let res = c.offsets_for_times(tpl, OP_TIMEOUT).expect("offsets_for_times");
    let e = res.find_partition(topic, 0).expect("partition in result");
    assert!(e.error().is_ok(), "partition error {:?} for ts {ts}", e.error());
    e.offset()
}

#[test]
fn offsets_for_times_first_offset_at_or_after() {
    offsets_for_times_case("none");
}

/// Same lookups with compressed batches: the broker has to look inside the
/// batch for the first record with timestamp >= T.
#[test]
fn offsets_for_times_in_compressed_batches() {
    offsets_for_times_case("zstd");
}

fn offsets_for_times_case(compression: &str) {
    let b = Broker::start();
    let topic = unique_topic(&format!("oft-{compression}"));
    create_topic(&b.bootstrap(), &topic, 1);
    let base = now_ms() - 3_600_000;
    let records = timed_records(40, base, 11);
    // Two produce rounds with a long linger: each round goes out as one or
    // a few multi-record batches, so most lookups land inside a batch.
    let p = producer(
        &b.bootstrap(),
        &[("acks", "all"), ("linger.ms", "200"), ("compression.type", compression)],
    );
    assert_eq!(produce_with(&p, &topic, 0, &records[..25]).last(), Some(&(0, 24)));
    assert_eq!(produce_with(&p, &topic, 0, &records[25..]).last(), Some(&(0, 39)));

    let c = consumer(&b.bootstrap(), &[]);
    let cases: &[(i64, Offset)] = &[
        (base - 1_000_000, Offset::Offset(0)),
        (base, Offset::Offset(0)),
        (base + 1, Offset::Offset(1)),
        (base + 55, Offset::Offset(6)),
        (base + 60, Offset::Offset(6)),
        (base + 61, Offset::Offset(7)),
        (base + 240, Offset::Offset(24)), // last record of the first round
        (base + 241, Offset::Offset(25)), // first record of the second round
        (base + 333, Offset::Offset(34)),
        (base + 390, Offset::Offset(39)), // the very last record
        // Nothing at or after T: Kafka answers offset -1, which librdkafka
        // surfaces as the logical offset END (-1).
        (base + 391, Offset::End),
        (base + 10_000_000, Offset::End),
    ];
    let mut wrong = Vec::new();
    for &(ts, want) in cases {
        let got = offset_for_time(&c, &topic, ts);
        if got != want {
            wrong.push(format!("T=base+{}: want {want:?}, got {got:?}", ts - base));
        }
    }
    assert!(wrong.is_empty(), "offsets_for_times mismatches:\n{}", wrong.join("\n"));

    // The record found is really the first with timestamp >= T.
    let got = consume(&b.bootstrap(), &topic, 0, Offset::Offset(6), 34);
    assert_records(&got, &records[6..], 6);
}

#[test]
fn fetch_watermarks_low_high() {
    let b = Broker::start();
    let topic = unique_topic("wm");
    create_topic(&b.bootstrap(), &topic, 2);
    let c = consumer(&b.bootstrap(), &[]);
    assert_eq!(c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(), (0, 0), "empty partition");

    let records = make_records(25, now_ms(), 3, 0);
    produce(&b.bootstrap(), &topic, 0, &records, &[("acks", "1"), ("linger.ms", "5")]);
    produce(&b.bootstrap(), &topic, 1, &records[..7], &[("acks", "1")]);
    assert_eq!(c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(), (0, 25));
    assert_eq!(c.fetch_watermarks(&topic, 1, OP_TIMEOUT).unwrap(), (0, 7));

    produce(&b.bootstrap(), &topic, 0, &records[..5], &[("acks", "all")]);
    assert_eq!(c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(), (0, 30));
}

#[test]
fn seek_to_middle_reads_from_there() {
    let b = Broker::start();
    let topic = unique_topic("seek");
    create_topic(&b.bootstrap(), &topic, 1);
    let records = make_records(50, now_ms() - 50_000, 21, 0);
    // lz4 + linger: offsets 10 / 30 / 45 sit inside compressed multi-record
    // batches, so the client must skip the batch's leading records.
    let d = produce(
        &b.bootstrap(),
        &topic,
        0,
        &records,
        &[("acks", "all"), ("compression.type", "lz4"), ("linger.ms", "100")],
    );
    assert_eq!(d.last(), Some(&(0, 49)));

    let c = consumer(&b.bootstrap(), &[]);
    assign(&c, &topic, 0, Offset::Beginning);
    let first = poll_n(&c, 5, Duration::ZERO);
    assert_eq!(first.iter().map(|g| g.offset).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);

    c.seek(&topic, 0, Offset::Offset(30), OP_TIMEOUT).expect("seek to 30");
    let got = poll_n(&c, 20, Duration::from_millis(300));
    assert_records(&got, &records[30..], 30);

    c.seek(&topic, 0, Offset::Offset(10), OP_TIMEOUT).expect("seek back to 10");
    let got = poll_n(&c, 40, Duration::from_millis(300));
    assert_records(&got, &records[10..], 10);

    // Assigning directly at an offset in the middle.
    let got = consume(&b.bootstrap(), &topic, 0, Offset::Offset(45), 5);
    assert_records(&got, &records[45..], 45);

    // Relative to the end (ListOffsets latest, minus 3).
    let got = consume(&b.bootstrap(), &topic, 0, Offset::OffsetTail(3), 3);
    assert_records(&got, &records[47..], 47);
}

/// Collects librdkafka's log lines so the broker's error can be checked.
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<Vec<String>>>);

impl ClientContext for LogCapture {
    fn log(&self, _level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.0.lock().unwrap().push(format!("{fac}: {log_message}"));
    }
}
impl ConsumerContext for LogCapture {}

#[test]
fn assign_past_end_with_reset_error_fails() {
    let b = Broker::start();
    let topic = unique_topic("oor-err");
    create_topic(&b.bootstrap(), &topic, 1);
    let records = make_records(5, now_ms(), 8, 0);
    produce(&b.bootstrap(), &topic, 0, &records, &[("acks", "all")]);

    let logs = LogCapture::default();
    let c: BaseConsumer<LogCapture> = consumer_config(
        &b.bootstrap(),
        &[("auto.offset.reset", "error"), ("debug", "fetch")],
    )
    .set_log_level(RDKafkaLogLevel::Debug)
    .create_with_context(logs.clone())
    .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Offset(100)).unwrap();
    c.assign(&tpl).unwrap();

    let deadline = Instant::now() + CONSUME_TIMEOUT;
    let err = loop {
        assert!(Instant::now() < deadline, "no error for a fetch past the end");
        match c.poll(Duration::from_millis(200)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(m)) => panic!("unexpected record at offset {}", m.offset()),
            Some(Err(e)) => break e,
        }
    };
    // The broker answers Fetch at offset 100 (log end 5) with
    // OFFSET_OUT_OF_RANGE (1); with auto.offset.reset=error librdkafka
    // surfaces that as the consumer error _AUTO_OFFSET_RESET carrying the
    // broker's error text.
    assert_eq!(
        error_code(&err),
        Some(RDKafkaErrorCode::AutoOffsetReset),
        "consumer error: {err:?}"
    );
    // librdkafka names broker error 1 as "Offset out of range" or, in its
    // FETCHERR line (which may be the only one logged yet when the error
    // is polled), OFFSET_OUT_OF_RANGE.
    let lines = logs.0.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Offset out of range") || l.contains("OFFSET_OUT_OF_RANGE")),
        "no 'Offset out of range' (broker error 1) in librdkafka's fetch log:\n{}",
        lines.join("\n")
    );
}

#[test]
fn assign_past_end_with_reset_earliest_reads_from_zero() {
    let b = Broker::start();
    let topic = unique_topic("oor-earliest");
    create_topic(&b.bootstrap(), &topic, 1);
    let records = make_records(5, now_ms(), 9, 0);
    produce(&b.bootstrap(), &topic, 0, &records, &[("acks", "all")]);

    let c = consumer(&b.bootstrap(), &[("auto.offset.reset", "earliest")]);
    assign(&c, &topic, 0, Offset::Offset(100));
    let got = poll_n(&c, 5, Duration::from_millis(500));
    assert_records(&got, &records, 0);
}
