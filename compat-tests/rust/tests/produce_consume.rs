//! (a) Produce with acks 0 / 1 / all × compression none / gzip / snappy / lz4 /
//! zstd, then read everything back with a BaseConsumer assigned from the
//! beginning: byte-identical keys, values, headers and CreateTime timestamps
//! at offsets 0..n-1.
mod common;

use common::*;
use rdkafka::consumer::Consumer;
use rdkafka::topic_partition_list::Offset;

const N: usize = 60;

fn roundtrip(acks: &str, compression: &str) {
    let b = Broker::start();
    let topic = unique_topic(&format!("rt-acks{acks}-{compression}"));
    create_topic(&b.bootstrap(), &topic, 1);

    // A 100 KiB value every 25 records; linger so most records share batches.
    let records = make_records(N, now_ms() - 600_000, 0xA0 + acks.len() as u64, 25);
    let acks_conf = if acks == "all" { "all" } else { acks };
    let delivered = produce(
        &b.bootstrap(),
        &topic,
        0,
        &records,
        &[
            ("acks", acks_conf),
            ("compression.type", compression),
            ("linger.ms", "20"),
        ],
    );
    assert_eq!(delivered.len(), N);
    if acks != "0" {
        // With acks=0 the client cannot know the offsets; otherwise they are 0..N-1.
        let want: Vec<(i32, i64)> = (0..N as i64).map(|o| (0, o)).collect();
        assert_eq!(delivered, want, "delivery reports (partition, offset)");
    }

    let got = consume(&b.bootstrap(), &topic, 0, Offset::Beginning, N);
    assert_records(&got, &records, 0);
    assert!(got.iter().all(|g| g.partition == 0));

    let c = consumer(&b.bootstrap(), &[]);
    assert_eq!(
        c.fetch_watermarks(&topic, 0, OP_TIMEOUT).expect("fetch_watermarks"),
        (0, N as i64)
    );
}

macro_rules! roundtrip_tests {
    ($($name:ident: $acks:expr, $comp:expr;)*) => {
        $( #[test] fn $name() { roundtrip($acks, $comp); } )*
    };
}

roundtrip_tests! {
    acks0_none: "0", "none";
    acks0_gzip: "0", "gzip";
    acks0_snappy: "0", "snappy";
    acks0_lz4: "0", "lz4";
    acks0_zstd: "0", "zstd";
    acks1_none: "1", "none";
    acks1_gzip: "1", "gzip";
    acks1_snappy: "1", "snappy";
    acks1_lz4: "1", "lz4";
    acks1_zstd: "1", "zstd";
    acksall_none: "all", "none";
    acksall_gzip: "all", "gzip";
    acksall_snappy: "all", "snappy";
    acksall_lz4: "all", "lz4";
    acksall_zstd: "all", "zstd";
}

/// Several produce rounds with different codecs into one partition: offsets
/// continue across batches of different compression types.
#[test]
fn mixed_codecs_one_partition() {
    let b = Broker::start();
    let topic = unique_topic("mixed");
    create_topic(&b.bootstrap(), &topic, 1);
    let records = make_records(50, now_ms() - 100_000, 77, 0);
    let mut next = 0i64;
    for (chunk, codec) in records.chunks(10).zip(["none", "gzip", "snappy", "lz4", "zstd"]) {
        let d = produce(
            &b.bootstrap(),
            &topic,
            0,
            chunk,
            &[("acks", "all"), ("compression.type", codec), ("linger.ms", "10")],
        );
        let want: Vec<(i32, i64)> = (next..next + 10).map(|o| (0, o)).collect();
        assert_eq!(d, want, "offsets of the {codec} chunk");
        next += 10;
    }
    let got = consume(&b.bootstrap(), &topic, 0, Offset::Beginning, 50);
    assert_records(&got, &records, 0);
}

/// auto.create.topics.enable=true (default): producing to an unknown topic
/// creates it with one partition.
#[test]
fn produce_auto_creates_topic() {
    let b = Broker::start();
    let topic = unique_topic("auto");
    let records = make_records(3, now_ms(), 5, 0);
    let d = produce(&b.bootstrap(), &topic, 0, &records, &[("acks", "1")]);
    assert_eq!(d, vec![(0, 0), (0, 1), (0, 2)]);
    let md = admin(&b.bootstrap())
        .inner()
        .fetch_metadata(Some(&topic), OP_TIMEOUT)
        .expect("metadata");
    let t = md.topics().iter().find(|t| t.name() == topic).expect("topic in metadata");
    assert!(t.error().is_none(), "topic error {:?}", t.error());
    assert_eq!(t.partitions().len(), 1);
    let got = consume(&b.bootstrap(), &topic, 0, Offset::Beginning, 3);
    assert_records(&got, &records, 0);
}
