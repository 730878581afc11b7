//! Transactions with the rdkafka crate: (a) commit / abort / commit across
//! the partitions of two topics with `send_offsets_to_transaction`; a
//! read_committed consumer gets exactly the committed records (offset gaps
//! at the markers), read_uncommitted every data record, and the group's
//! offsets are the committed transaction's; (b) an open transaction holds
//! back read_committed consumers until it ends; (c) a second instance with
//! the same transactional.id fences the first, whose commit fails fatally
//! and whose records stay invisible.
mod common;

use std::time::{Duration, Instant};

use common::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

const TXN_OVERRIDES: &[(&str, &str)] = &[
    ("transaction.state.log.num.partitions", "4"),
    ("offsets.topic.num.partitions", "3"),
    ("group.initial.rebalance.delay.ms", "0"),
    (
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        "500",
    ),
];

fn txn_producer(bootstrap: &str, txn_id: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", txn_id)
        .set("linger.ms", "5")
        .set("socket.timeout.ms", "10000")
        .create()
        .expect("create transactional producer")
}

fn plain_producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("create producer")
}

/// Enqueues `(partition, key, value)` records and flushes.
fn send(p: &BaseProducer, topic: &str, records: &[(i32, Vec<u8>, Vec<u8>)]) {
    for (partition, key, value) in records {
        let rec = BaseRecord::to(topic)
            .partition(*partition)
            .key(key.as_slice())
            .payload(value.as_slice());
        p.send(rec).map_err(|(e, _)| e).expect("enqueue");
    }
    p.flush(OP_TIMEOUT).expect("flush");
}

fn records(txn: &str, partitions: &[i32], per_partition: usize) -> Vec<(i32, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for &p in partitions {
        for i in 0..per_partition {
            out.push((
                p,
                format!("{txn}-{p}-{i}").into_bytes(),
                format!("value of {txn} #{i} in {p}")
                    .repeat(i + 1)
                    .into_bytes(),
            ));
        }
    }
    out
}

fn isolated_consumer(bootstrap: &str, isolation: &str) -> BaseConsumer {
    consumer(
        bootstrap,
        &[
            ("isolation.level", isolation),
            ("enable.partition.eof", "true"),
            ("fetch.wait.max.ms", "50"),
        ],
    )
}

/// Reads each of `partitions` from offset 0 until end-of-partition (LSO under
/// read_committed) and returns (partition, offset, key, value) in order.
fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
    isolation: &str,
) -> Vec<(i32, i64, Vec<u8>, Vec<u8>)> {
    let c = isolated_consumer(bootstrap, isolation);
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Offset(0))
            .unwrap();
    }
    c.assign(&tpl).expect("assign");
    let mut pending: Vec<i32> = partitions.to_vec();
    let mut out = Vec::new();
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{isolation}: no end of partition for {pending:?} ({} records read)",
            out.len()
        );
        match c.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                let g = got_from(&m);
                if !pending.contains(&g.partition) {
                    pending.push(g.partition);
                }
                out.push((
                    g.partition,
                    g.offset,
                    g.rec.key.unwrap_or_default(),
                    g.rec.value.unwrap_or_default(),
                ));
            }
            Some(Err(KafkaError::PartitionEOF(p))) => pending.retain(|x| *x != p),
            Some(Err(e)) => panic!("{isolation} consumer error: {e:?}"),
        }
    }
    out.sort();
    out
}

fn expect_at(
    recs: &[(i32, Vec<u8>, Vec<u8>)],
    partition: i32,
    offsets: &[i64],
) -> Vec<(i32, i64, Vec<u8>, Vec<u8>)> {
    let mine: Vec<_> = recs.iter().filter(|r| r.0 == partition).collect();
    assert_eq!(mine.len(), offsets.len());
    mine.into_iter()
        .zip(offsets)
        .map(|((p, k, v), o)| (*p, *o, k.clone(), v.clone()))
        .collect()
}

#[test]
fn commit_abort_commit_with_offsets() {
    let b = Broker::start_with(TXN_OVERRIDES);
    let bootstrap = b.bootstrap();
    let (t1, t2, src) = (
        unique_topic("txn-a"),
        unique_topic("txn-b"),
        unique_topic("txn-in"),
    );
    create_topic(&bootstrap, &t1, 2);
    create_topic(&bootstrap, &t2, 3);
    create_topic(&bootstrap, &src, 1);
    let group = unique_topic("txn-group");
    let meta_consumer = consumer(&bootstrap, &[("group.id", group.as_str())]);
    let meta = meta_consumer.group_metadata().expect("group metadata");

    let p = txn_producer(&bootstrap, &unique_topic("txn-rs"));
    p.init_transactions(OP_TIMEOUT).expect("init_transactions");

    let offsets = |o: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&src, 0, Offset::Offset(o))
            .unwrap();
        tpl
    };

    // 1: two records per partition (offsets 0, 1), marker at 2
    p.begin_transaction().unwrap();
    let one_a = records("one", &[0, 1], 2);
    let one_b = records("one", &[0, 1, 2], 2);
    send(&p, &t1, &one_a);
    send(&p, &t2, &one_b);
    p.send_offsets_to_transaction(&offsets(4), &meta, OP_TIMEOUT)
        .expect("send_offsets_to_transaction");
    p.commit_transaction(OP_TIMEOUT).expect("commit");
    // 2: three records per partition (3..5), abort marker at 6
    p.begin_transaction().unwrap();
    let two_a = records("two", &[0, 1], 3);
    let two_b = records("two", &[0, 1, 2], 3);
    send(&p, &t1, &two_a);
    send(&p, &t2, &two_b);
    p.send_offsets_to_transaction(&offsets(40), &meta, OP_TIMEOUT)
        .expect("send_offsets_to_transaction");
    p.abort_transaction(OP_TIMEOUT).expect("abort");
    // 3: one record per partition (7), marker at 8
    p.begin_transaction().unwrap();
    let three_a = records("three", &[0, 1], 1);
    let three_b = records("three", &[0, 1, 2], 1);
    send(&p, &t1, &three_a);
    send(&p, &t2, &three_b);
    p.commit_transaction(OP_TIMEOUT).expect("commit");

    for (topic, parts, one, two, three) in [
        (&t1, vec![0, 1], &one_a, &two_a, &three_a),
        (&t2, vec![0, 1, 2], &one_b, &two_b, &three_b),
    ] {
        let mut committed = Vec::new();
        let mut all = Vec::new();
        for &part in &parts {
            committed.extend(expect_at(one, part, &[0, 1]));
            committed.extend(expect_at(three, part, &[7]));
            all.extend(expect_at(one, part, &[0, 1]));
            all.extend(expect_at(two, part, &[3, 4, 5]));
            all.extend(expect_at(three, part, &[7]));
        }
        committed.sort();
        all.sort();
        assert_eq!(
            read_all(&bootstrap, topic, &parts, "read_committed"),
            committed,
            "read_committed records of {topic}"
        );
        assert_eq!(
            read_all(&bootstrap, topic, &parts, "read_uncommitted"),
            all,
            "read_uncommitted records of {topic}"
        );
    }

    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&src, 0);
    let got = meta_consumer
        .committed_offsets(tpl, OP_TIMEOUT)
        .expect("committed offsets");
    assert_eq!(
        got.find_partition(&src, 0).unwrap().offset(),
        Offset::Offset(4),
        "offset committed in transaction 1 (transaction 2's was aborted)"
    );
}

#[test]
fn open_transaction_holds_back_read_committed() {
    let b = Broker::start_with(TXN_OVERRIDES);
    let bootstrap = b.bootstrap();
    let topic = unique_topic("txn-lso");
    create_topic(&bootstrap, &topic, 1);
    let a = txn_producer(&bootstrap, &unique_topic("txn-lso-a"));
    a.init_transactions(OP_TIMEOUT).unwrap();
    a.begin_transaction().unwrap();
    let a_recs = records("A", &[0], 2);
    send(&a, &topic, &a_recs); // 0, 1
    let plain = plain_producer(&bootstrap);
    let b_recs = records("B", &[0], 3);
    send(&plain, &topic, &b_recs); // 2, 3, 4

    // read_committed: end of partition at the LSO (0), nothing delivered
    assert_eq!(read_all(&bootstrap, &topic, &[0], "read_committed"), vec![]);
    // watermarks come from ListOffsets at the consumer's isolation level:
    // the "high" one is the LSO under read_committed
    for (isolation, want) in [("read_committed", (0, 0)), ("read_uncommitted", (0, 5))] {
        let c = isolated_consumer(&bootstrap, isolation);
        assert_eq!(
            c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(),
            want,
            "watermarks of a {isolation} consumer"
        );
    }
    let mut all = expect_at(&a_recs, 0, &[0, 1]);
    all.extend(expect_at(&b_recs, 0, &[2, 3, 4]));
    assert_eq!(read_all(&bootstrap, &topic, &[0], "read_uncommitted"), all);

    a.commit_transaction(OP_TIMEOUT).unwrap(); // marker at 5
    assert_eq!(read_all(&bootstrap, &topic, &[0], "read_committed"), all);
    let c = isolated_consumer(&bootstrap, "read_committed");
    assert_eq!(c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(), (0, 6));
}

#[test]
fn second_instance_fences_the_first() {
    let b = Broker::start_with(TXN_OVERRIDES);
    let bootstrap = b.bootstrap();
    let topic = unique_topic("txn-fence");
    create_topic(&bootstrap, &topic, 1);
    let txn_id = unique_topic("txn-fence-id");
    let old = txn_producer(&bootstrap, &txn_id);
    old.init_transactions(OP_TIMEOUT).unwrap();
    old.begin_transaction().unwrap();
    send(&old, &topic, &records("old", &[0], 2)); // 0, 1

    let new = txn_producer(&bootstrap, &txn_id);
    new.init_transactions(OP_TIMEOUT)
        .expect("init_transactions of the second instance"); // abort marker at 2
    new.begin_transaction().unwrap();
    let new_recs = records("new", &[0], 1);
    send(&new, &topic, &new_recs); // 3, marker 4
    new.commit_transaction(OP_TIMEOUT).unwrap();

    let rec = BaseRecord::to(&topic)
        .partition(0)
        .key("late")
        .payload("late");
    old.send(rec).map_err(|(e, _)| e).expect("enqueue");
    let _ = old.flush(OP_TIMEOUT);
    let err = old
        .commit_transaction(OP_TIMEOUT)
        .expect_err("commit of the fenced producer must fail");
    let KafkaError::Transaction(e) = &err else {
        panic!("expected a transaction error, got {err:?}");
    };
    assert!(
        matches!(
            e.code(),
            RDKafkaErrorCode::Fenced
                | RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
        ),
        "fencing error expected, got {e:?}"
    );
    assert!(e.is_fatal(), "fencing must be fatal: {e:?}");

    assert_eq!(
        read_all(&bootstrap, &topic, &[0], "read_committed"),
        expect_at(&new_recs, 0, &[3])
    );
}
