//! (g) Data acknowledged with acks=all survives SIGKILL of the broker.
mod common;

use common::*;
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::Offset;

const N: usize = 3000;

fn check_all(b: &Broker, topic: &str, parts: &[(i32, &[Rec])]) {
    let c = consumer(&b.bootstrap(), &[]);
    for &(p, recs) in parts {
        assert_eq!(
            c.fetch_watermarks(topic, p, OP_TIMEOUT).expect("watermarks"),
            (0, recs.len() as i64),
            "watermarks of partition {p}"
        );
        let got = consume(&b.bootstrap(), topic, p, Offset::Beginning, recs.len());
        assert_records(&got, recs, 0);
    }
}

#[test]
fn acked_data_survives_sigkill() {
    let mut b = Broker::start();
    let topic = unique_topic("crash");
    create_topic(&b.bootstrap(), &topic, 2);
    let recs0 = make_records(N, now_ms() - 1_000_000, 100, 500);
    let recs1 = make_records(N / 3, now_ms() - 1_000_000, 101, 0);
    let p = producer(
        &b.bootstrap(),
        &[("acks", "all"), ("linger.ms", "5"), ("compression.type", "zstd")],
    );
    let d0 = produce_with(&p, &topic, 0, &recs0);
    let d1 = produce_with(&p, &topic, 1, &recs1);
    drop(p);
    assert_eq!(d0, (0..N as i64).map(|o| (0, o)).collect::<Vec<_>>());
    assert_eq!(d1, (0..(N / 3) as i64).map(|o| (1, o)).collect::<Vec<_>>());

    b.kill(); // SIGKILL right after the last acknowledgement
    b.restart();
    check_all(&b, &topic, &[(0, &recs0), (1, &recs1)]);

    // Appends continue at the recovered log end.
    let more = make_records(10, now_ms(), 102, 0);
    let d = produce(&b.bootstrap(), &topic, 0, &more, &[("acks", "all")]);
    assert_eq!(d, (N as i64..N as i64 + 10).map(|o| (0, o)).collect::<Vec<_>>());

    // And a second crash keeps both generations.
    b.kill();
    b.restart();
    let mut all0 = recs0.clone();
    all0.extend(more);
    check_all(&b, &topic, &[(0, &all0), (1, &recs1)]);
}

#[test]
fn data_survives_clean_restart() {
    let mut b = Broker::start();
    let topic = unique_topic("restart");
    create_topic(&b.bootstrap(), &topic, 1);
    let recs = make_records(500, now_ms() - 10_000, 7, 100);
    let d = produce(&b.bootstrap(), &topic, 0, &recs, &[("acks", "all"), ("linger.ms", "5")]);
    assert_eq!(d.last(), Some(&(0, 499)));
    let code = b.stop();
    assert_eq!(code, Some(0), "exit code after SIGTERM");
    b.restart();
    check_all(&b, &topic, &[(0, &recs)]);
    // Topic metadata (partition count) survives too.
    let md = admin(&b.bootstrap())
        .inner()
        .fetch_metadata(None, OP_TIMEOUT)
        .unwrap();
    let t = md.topics().iter().find(|t| t.name() == topic).expect("topic listed after restart");
    assert_eq!(t.partitions().len(), 1);
}
