//! (f) AdminClient: CreateTopics with partitions and configs, duplicate and
//! invalid names, DeleteTopics, and Metadata afterwards.
mod common;

use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::metadata::Metadata;
use rdkafka::topic_partition_list::Offset;
use rdkafka::types::RDKafkaErrorCode;

fn all_topics(bootstrap: &str) -> Metadata {
    admin(bootstrap)
        .inner()
        .fetch_metadata(None, OP_TIMEOUT)
        .expect("metadata for all topics")
}

fn listed(md: &Metadata, topic: &str) -> bool {
    md.topics().iter().any(|t| t.name() == topic)
}

#[test]
fn create_with_partitions_and_configs_then_delete() {
    let b = Broker::start();
    let bs = b.bootstrap();
    let a = admin(&bs);
    let topic = unique_topic("adm");

    let nt = NewTopic::new(&topic, 3, TopicReplication::Fixed(1))
        .set("retention.ms", "86400000")
        .set("cleanup.policy", "delete")
        .set("max.message.bytes", "2000000");
    let res = block_on(a.create_topics([&nt], &admin_opts())).expect("CreateTopics");
    assert_eq!(res, vec![Ok(topic.clone())]);

    let md = all_topics(&bs);
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .expect("created topic listed in metadata");
    assert!(t.error().is_none(), "topic error {:?}", t.error());
    let mut parts: Vec<_> = t.partitions().iter().collect();
    parts.sort_by_key(|p| p.id());
    assert_eq!(parts.iter().map(|p| p.id()).collect::<Vec<_>>(), vec![0, 1, 2]);
    for p in parts {
        assert!(p.error().is_none(), "partition {} error {:?}", p.id(), p.error());
        assert_eq!(p.leader(), 1, "leader of partition {}", p.id());
        assert_eq!(p.replicas(), &[1], "replicas of partition {}", p.id());
        assert_eq!(p.isr(), &[1], "isr of partition {}", p.id());
    }
    assert_eq!(md.brokers().len(), 1);
    assert_eq!(md.brokers()[0].id(), 1);
    assert_eq!(md.brokers()[0].host(), "127.0.0.1");
    assert_eq!(md.brokers()[0].port(), b.port as i32);

    // The last partition is usable.
    let records = make_records(2, now_ms(), 4, 0);
    assert_eq!(
        produce(&bs, &topic, 2, &records, &[("acks", "all")]),
        vec![(2, 0), (2, 1)]
    );
    let got = consume(&bs, &topic, 2, Offset::Beginning, 2);
    assert_records(&got, &records, 0);

    // Duplicate.
    let dup = NewTopic::new(&topic, 1, TopicReplication::Fixed(1));
    let res = block_on(a.create_topics([&dup], &admin_opts())).expect("CreateTopics (dup)");
    assert_eq!(res, vec![Err((topic.clone(), RDKafkaErrorCode::TopicAlreadyExists))]);

    // Delete, then metadata no longer lists it.
    let res = block_on(a.delete_topics(&[&topic], &admin_opts())).expect("DeleteTopics");
    assert_eq!(res, vec![Ok(topic.clone())]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while listed(&all_topics(&bs), &topic) {
        assert!(Instant::now() < deadline, "deleted topic still listed after 10 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Deleting it again: unknown topic.
    let res = block_on(a.delete_topics(&[&topic], &admin_opts())).expect("DeleteTopics (again)");
    assert_eq!(
        res,
        vec![Err((topic.clone(), RDKafkaErrorCode::UnknownTopicOrPartition))]
    );

    // The name can be reused, and the new topic starts empty.
    let res = block_on(a.create_topics(
        [&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
        &admin_opts(),
    ))
    .expect("CreateTopics (re-create)");
    assert_eq!(res, vec![Ok(topic.clone())]);
    let c = consumer(&bs, &[]);
    use rdkafka::consumer::Consumer;
    assert_eq!(c.fetch_watermarks(&topic, 0, OP_TIMEOUT).unwrap(), (0, 0));
}

#[test]
fn create_topics_rejects_invalid_names() {
    let b = Broker::start();
    let bs = b.bootstrap();
    let a = admin(&bs);
    let long = "x".repeat(250);
    let mut wrong = Vec::new();
    for name in ["bad/name", "..", ".", "has space", "star*", long.as_str()] {
        let nt = NewTopic::new(name, 1, TopicReplication::Fixed(1));
        let res = block_on(a.create_topics([&nt], &admin_opts())).expect("CreateTopics");
        let want = vec![Err((name.to_string(), RDKafkaErrorCode::InvalidTopic))];
        if res != want {
            wrong.push(format!("{name:?}: want InvalidTopicException, got {res:?}"));
        }
    }
    // None of them exists afterwards.
    let md = all_topics(&bs);
    for name in ["bad/name", "..", ".", "has space", "star*"] {
        if listed(&md, name) {
            wrong.push(format!("{name:?} listed in metadata"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn create_topics_rejects_invalid_partitions_and_replication() {
    let b = Broker::start();
    let bs = b.bootstrap();
    let a = admin(&bs);
    let mut wrong = Vec::new();

    let t0 = unique_topic("zero-parts");
    let res = block_on(a.create_topics(
        [&NewTopic::new(&t0, 0, TopicReplication::Fixed(1))],
        &admin_opts(),
    ))
    .expect("CreateTopics");
    let want = vec![Err((t0.clone(), RDKafkaErrorCode::InvalidPartitions))];
    if res != want {
        wrong.push(format!("0 partitions: want {want:?}, got {res:?}"));
    }

    let t3 = unique_topic("rf3");
    let res = block_on(a.create_topics(
        [&NewTopic::new(&t3, 1, TopicReplication::Fixed(3))],
        &admin_opts(),
    ))
    .expect("CreateTopics");
    let want = vec![Err((t3.clone(), RDKafkaErrorCode::InvalidReplicationFactor))];
    if res != want {
        wrong.push(format!("replication factor 3 on 1 broker: want {want:?}, got {res:?}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
