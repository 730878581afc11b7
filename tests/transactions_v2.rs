//! Transactions V2 (KIP-890 part 2) over a real socket. No client library
//! in the compat suite speaks V2 yet (librdkafka, kafka-python and aiokafka
//! use the classic protocol), so these tests send the requests a V2 client
//! sends — Produce v12, TxnOffsetCommit v5, EndTxn v5 — with gregor's own
//! protocol client, next to a classic producer that must keep its rules.

use bytes::Bytes;
use gregor::client::Connection;
use gregor::records::builder::BatchBuilder;
use gregor::testkit::TestBroker;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, ApiVersionsRequest, EndTxnRequest, FetchRequest, GroupId,
    InitProducerIdRequest, OffsetFetchRequest, ProduceRequest, ProducerId, TopicName,
    TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "orders";

fn name(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn batch(producer_id: i64, epoch: i16, sequence: i32, value: &str) -> Bytes {
    let mut builder = BatchBuilder::new(1_000)
        .idempotent(producer_id, epoch, sequence)
        .transactional();
    builder.push(1_000, None, Some(value.as_bytes()), &[]);
    Bytes::from(builder.build())
}

/// Produces one batch at exactly `version`; the partition's error code and
/// base offset.
async fn produce(
    connection: &mut Connection,
    transactional_id: &str,
    version: i16,
    partition: i32,
    records: Bytes,
) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(name(transactional_id))))
        .with_acks(-1)
        .with_timeout_ms(5_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(name(TOPIC)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let response = connection.request_at(request, version).await.unwrap();
    let answer = &response.responses[0].partition_responses[0];
    (answer.error_code, answer.base_offset)
}

async fn init(connection: &mut Connection, transactional_id: &str) -> (i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(name(transactional_id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = connection.request_at(request, 4).await.unwrap();
    assert_eq!(response.error_code, 0);
    (response.producer_id.0, response.producer_epoch)
}

async fn end(
    connection: &mut Connection,
    version: i16,
    transactional_id: &str,
    (producer_id, epoch): (i64, i16),
    commit: bool,
) -> (i16, i64, i16) {
    let request = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(name(transactional_id)))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let response = connection.request_at(request, version).await.unwrap();
    (
        response.error_code,
        response.producer_id.0,
        response.producer_epoch,
    )
}

/// Values a read_committed fetch of partition 0 returns, after dropping
/// the aborted transactions it lists, as a Kafka consumer does.
async fn read_committed(connection: &mut Connection) -> (Vec<String>, i64) {
    let request = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(name(TOPIC)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let response = connection.request_at(request, 12).await.unwrap();
    let data = &response.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    let aborted: Vec<(i64, i64)> = data
        .aborted_transactions
        .iter()
        .flatten()
        .map(|t| (t.producer_id.0, t.first_offset))
        .collect();
    let records = data.records.clone().unwrap_or_default();
    let mut values = Vec::new();
    for item in gregor::records::batch::Batches::new(&records) {
        let (_, batch) = item.unwrap();
        let dropped = aborted.iter().any(|(pid, first)| {
            *pid == batch.producer_id() && batch.base_offset().value() >= *first
        });
        if batch.is_control() || dropped {
            continue;
        }
        for record in
            gregor::records::record::Records::new(batch.records_payload(), batch.records_count())
        {
            values.push(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
        }
    }
    (values, data.last_stable_offset)
}

#[test]
fn transactions_v2_add_partitions_on_write_and_bump_the_epoch_at_every_end() {
    let broker = TestBroker::builder()
        .config("transaction.state.log.num.partitions", "2")
        .config("offsets.topic.num.partitions", "2")
        .start()
        .unwrap();
    broker.create_topic(TOPIC, 2).unwrap();
    runtime().block_on(async {
        let mut connection = Connection::connect(&broker.bootstrap(), "v2-test")
            .await
            .unwrap();
        // The broker offers V2 as Kafka 4 does: a finalised feature.
        let versions = connection
            .request_at(ApiVersionsRequest::default(), 3)
            .await
            .unwrap();
        let feature = versions
            .finalized_features
            .iter()
            .find(|f| f.name.as_str() == "transaction.version")
            .expect("transaction.version is finalised");
        assert_eq!(feature.max_version_level, 2);

        let id = "payments-v2";
        let (pid, epoch) = init(&mut connection, id).await;
        assert_eq!(epoch, 0);
        // v12 adds the partition by writing to it; v11 only verifies.
        assert_eq!(
            produce(&mut connection, id, 12, 0, batch(pid, 0, 0, "one")).await,
            (0, 0)
        );
        assert_eq!(
            produce(&mut connection, id, 11, 1, batch(pid, 0, 0, "stray"))
                .await
                .0,
            48,
            "INVALID_TXN_STATE: classic produce to a partition outside the transaction"
        );
        // TxnOffsetCommit v5 adds the group's offsets partition itself.
        let commit_offsets = TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(name(id)))
            .with_group_id(GroupId(name("v2-group")))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(0)
            .with_generation_id(-1)
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(TopicName(name(TOPIC)))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(1)])]);
        let committed = connection.request_at(commit_offsets, 5).await.unwrap();
        assert_eq!(committed.topics[0].partitions[0].error_code, 0);

        // EndTxn v5 commits and hands out the next epoch; a retry with the
        // old epoch is answered the same.
        assert_eq!(
            end(&mut connection, 5, id, (pid, 0), true).await,
            (0, pid, 1)
        );
        assert_eq!(
            end(&mut connection, 5, id, (pid, 0), true).await,
            (0, pid, 1)
        );
        // Late writes of the old epoch are fenced by the bumped markers.
        assert_eq!(
            produce(&mut connection, id, 12, 0, batch(pid, 0, 1, "late"))
                .await
                .0,
            47,
            "INVALID_PRODUCER_EPOCH"
        );
        // The next transaction, aborted: its record never shows.
        assert_eq!(
            produce(&mut connection, id, 12, 0, batch(pid, 1, 0, "two"))
                .await
                .0,
            0
        );
        assert_eq!(
            end(&mut connection, 5, id, (pid, 1), false).await,
            (0, pid, 2)
        );
        // Aborting when nothing is open is fine under V2, and bumps again.
        assert_eq!(
            end(&mut connection, 5, id, (pid, 2), false).await,
            (0, pid, 3)
        );
        // Committing an empty transaction is not.
        assert_eq!(end(&mut connection, 5, id, (pid, 3), true).await.0, 48);

        let (values, stable) = read_committed(&mut connection).await;
        assert_eq!(values, vec!["one".to_string()]);
        assert_eq!(stable, 4, "one, its commit marker, two, its abort marker");
        let fetch_offsets = OffsetFetchRequest::default()
            .with_group_id(GroupId(name("v2-group")))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(name(TOPIC)))
                .with_partition_indexes(vec![0])]));
        let offsets = connection.request_at(fetch_offsets, 7).await.unwrap();
        assert_eq!(offsets.topics[0].partitions[0].committed_offset, 1);

        // A classic client beside it keeps the classic rules: no epoch bump
        // at EndTxn (v3 answers no producer id), so it is never fenced by
        // its own commit.
        let classic = "payments-classic";
        let (cpid, cepoch) = init(&mut connection, classic).await;
        for (sequence, value) in [(0, "c1"), (1, "c2")] {
            let add = AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(TransactionalId(name(classic)))
                .with_v3_and_below_producer_id(ProducerId(cpid))
                .with_v3_and_below_producer_epoch(cepoch)
                .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(name(TOPIC)))
                    .with_partitions(vec![1])]);
            let added = connection.request_at(add, 3).await.unwrap();
            assert_eq!(
                added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
                0
            );
            let written = produce(
                &mut connection,
                classic,
                11,
                1,
                batch(cpid, cepoch, sequence, value),
            );
            assert_eq!(written.await.0, 0);
            assert_eq!(
                end(&mut connection, 3, classic, (cpid, cepoch), true)
                    .await
                    .0,
                0
            );
        }
    });
}
