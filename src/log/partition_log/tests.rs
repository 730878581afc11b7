use super::*;
use crate::config::topic::CleanupPolicy;
use crate::log::leader_epoch_cache::CHECKPOINT_FILE as EPOCH_CHECKPOINT_FILE;
use crate::log::segment;
use crate::records::batch::tests::sample_batch;
use crate::records::batch::{set_base_offset, set_partition_leader_epoch};
use crate::records::builder::BatchBuilder;

pub(crate) fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        ..LogConfig::default()
    }
}

fn append(log: &mut PartitionLog, records: usize) -> AppendInfo {
    let bytes = sample_batch(records);
    log.append_as_leader(&bytes, LeaderEpoch(0), AppendOrigin::Client)
        .unwrap()
}

#[test]
fn appends_assign_consecutive_offsets_and_roll_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let mut expected = 0;
    for _ in 0..50 {
        let info = append(&mut log, 3);
        assert_eq!(info.base_offset, Offset(expected));
        assert_eq!(info.last_offset, Offset(expected + 2));
        expected += 3;
    }
    assert_eq!(log.log_end_offset(), Offset(150));
    assert!(log.segment_count() > 3, "segments: {}", log.segment_count());
    for target in [0, 1, 77, 149] {
        let bytes = log.read(Offset(target), 1, Offset(150)).unwrap();
        let batch = Batch::parse(&bytes).unwrap();
        assert!(batch.base_offset() <= Offset(target) && batch.last_offset() >= Offset(target));
    }
    assert!(log.read(Offset(150), 1000, Offset(150)).unwrap().is_empty());
    assert!(matches!(
        log.read(Offset(151), 1000, Offset(150)),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn reads_stop_at_the_max_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    append(&mut log, 2);
    append(&mut log, 2);
    let bytes = log.read(Offset(0), 1 << 20, Offset(2)).unwrap();
    assert_eq!(Batches::new(&bytes).count(), 1);
}

#[test]
fn a_bad_batch_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    let mut bytes = sample_batch(2);
    bytes.extend(sample_batch(2));
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(
        log.append_as_leader(&bytes, LeaderEpoch(0), AppendOrigin::Client),
        Err(LogError::Batch(_))
    ));
    assert_eq!(log.log_end_offset(), Offset(0));
}

#[test]
fn reopening_restores_offsets_and_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
        for _ in 0..30 {
            append(&mut log, 2);
        }
    }
    for clean in [true, false] {
        let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
        assert_eq!(log.log_end_offset(), Offset(60));
        let bytes = log.read(Offset(33), 1, Offset(60)).unwrap();
        assert_eq!(Batch::parse(&bytes).unwrap().base_offset(), Offset(32));
    }
}

#[test]
fn finds_records_by_timestamp_inside_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    for batch in 0..20i64 {
        let mut builder = BatchBuilder::new(batch * 100);
        for record in 0..5 {
            builder.push(batch * 100 + record * 10, None, Some(b"v"), &[]);
        }
        log.append_as_leader(&builder.build(), LeaderEpoch(0), AppendOrigin::Client)
            .unwrap();
    }
    let at = |t| {
        log.offset_for_timestamp(t)
            .unwrap()
            .map(|f| (f.offset.0, f.timestamp))
    };
    assert_eq!(at(0), Some((0, 0)));
    assert_eq!(at(15), Some((2, 20)));
    assert_eq!(at(1_030), Some((53, 1_030)));
    assert_eq!(at(1_941), None);
    let max = log.max_timestamp().unwrap().unwrap();
    assert_eq!((max.offset.0, max.timestamp), (99, 1_940));
}

fn idempotent_batch(sequence: i32, records: i32) -> Vec<u8> {
    let mut builder = BatchBuilder::new(now_ms()).idempotent(42, 0, sequence);
    for _ in 0..records {
        builder.push(now_ms(), None, Some(b"v"), &[]);
    }
    builder.build()
}

#[test]
fn idempotent_retries_get_their_original_offsets_even_after_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    append(&mut log, 1); // offset 0, not idempotent
    for sequence in [0, 2, 4] {
        log.append_as_leader(
            &idempotent_batch(sequence, 2),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    }
    let retry = log
        .append_as_leader(
            &idempotent_batch(2, 2),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    assert_eq!(
        (retry.base_offset, retry.last_offset),
        (Offset(3), Offset(4))
    );
    assert_eq!(log.log_end_offset(), Offset(7));
    assert!(matches!(
        log.append_as_leader(
            &idempotent_batch(9, 1),
            LeaderEpoch(0),
            AppendOrigin::Client
        ),
        Err(LogError::ProducerState(_))
    ));
    let mut two = idempotent_batch(6, 1);
    two.extend(idempotent_batch(7, 1));
    assert!(matches!(
        log.append_as_leader(&two, LeaderEpoch(0), AppendOrigin::Client),
        Err(LogError::MultipleIdempotentBatches)
    ));
    drop(log);
    // Unclean restart: no snapshot, the state comes from replaying the log.
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    let retry = log
        .append_as_leader(
            &idempotent_batch(4, 2),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    assert_eq!(retry.base_offset, Offset(5));
    log.checkpoint().unwrap();
    drop(log);
    // Clean restart: from the snapshot.
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let retry = log
        .append_as_leader(
            &idempotent_batch(4, 2),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    assert_eq!(retry.base_offset, Offset(5));
    let next = log
        .append_as_leader(
            &idempotent_batch(6, 1),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    assert_eq!(next.base_offset, Offset(7));
}

fn txn_batch(producer_id: i64, sequence: i32, records: i32) -> Vec<u8> {
    let mut builder = BatchBuilder::new(now_ms())
        .idempotent(producer_id, 0, sequence)
        .transactional();
    for _ in 0..records {
        builder.push(now_ms(), None, Some(b"t"), &[]);
    }
    builder.build()
}

fn marker(producer_id: i64, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id,
        producer_epoch: 0,
        commit,
        coordinator_epoch: 0,
    }
}

#[test]
fn open_transactions_hold_the_stable_offset_and_aborts_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let client = AppendOrigin::Client;
    append(&mut log, 2); // 0..=1
    log.append_as_leader(&txn_batch(7, 0, 3), LeaderEpoch(0), client)
        .unwrap(); // 2..=4, producer 7
    log.append_as_leader(&txn_batch(8, 0, 2), LeaderEpoch(0), client)
        .unwrap(); // 5..=6, producer 8
    assert_eq!(log.first_unstable_offset(), Some(Offset(2)));
    let (_, completed) = log
        .append_marker(&marker(7, false), LeaderEpoch(0))
        .unwrap();
    assert_eq!(
        (completed.first_offset, completed.last_offset),
        (Some(Offset(2)), Offset(7))
    );
    assert_eq!(log.first_unstable_offset(), Some(Offset(5)));
    log.append_marker(&marker(8, true), LeaderEpoch(0)).unwrap(); // 8
    assert_eq!(log.first_unstable_offset(), None);
    let aborted = |log: &PartitionLog, from, to| -> Vec<(i64, i64)> {
        log.aborted_txns(Offset(from), Offset(to))
            .iter()
            .map(|t| (t.producer_id, t.first_offset.value()))
            .collect()
    };
    assert_eq!(aborted(&log, 0, 9), vec![(7, 2)]);
    assert_eq!(aborted(&log, 0, 2), vec![], "ends before the transaction");
    assert_eq!(aborted(&log, 8, 9), vec![], "starts after its marker");
    // A client may not forge markers.
    assert!(matches!(
        log.append_as_leader(&marker(9, true).to_batch(0), LeaderEpoch(0), client),
        Err(LogError::ControlBatchFromClient)
    ));
    // A marker from an older producer epoch is fenced.
    let stale = TxnMarker {
        producer_epoch: -1,
        ..marker(7, true)
    };
    assert!(log.append_marker(&stale, LeaderEpoch(0)).is_err());
    // One more open transaction, then restarts: clean and unclean.
    log.append_as_leader(&txn_batch(7, 3, 1), LeaderEpoch(0), client)
        .unwrap(); // 9
    log.checkpoint().unwrap();
    drop(log);
    for clean in [true, false] {
        let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
        assert_eq!(
            log.first_unstable_offset(),
            Some(Offset(9)),
            "clean={clean}"
        );
        assert_eq!(aborted(&log, 0, 10), vec![(7, 2)], "clean={clean}");
    }
    // Without snapshots everything is replayed from the log.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "snapshot" || e == "txnindex")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(log.first_unstable_offset(), Some(Offset(9)));
    assert_eq!(aborted(&log, 0, 10), vec![(7, 2)]);
    log.append_marker(&marker(7, false), LeaderEpoch(0))
        .unwrap(); // 10
    assert_eq!(aborted(&log, 0, 11), vec![(7, 2), (7, 9)]);
}

/// What a Kafka read_committed consumer keeps of a read: it skips
/// control batches, and drops a producer's transactional batches from
/// the first offset of an aborted transaction the broker listed up to
/// that producer's abort marker.
fn read_committed_values(log: &PartitionLog, max_bytes: usize) -> Vec<(i64, String)> {
    let stable = log.first_unstable_offset().unwrap_or(log.log_end_offset());
    let mut kept = Vec::new();
    let mut offset = log.log_start_offset();
    let mut aborted_now = std::collections::HashSet::new();
    while offset < stable {
        let bytes = log.read(offset, max_bytes, stable).unwrap();
        let batches: Vec<_> = Batches::new(&bytes).map(|b| b.unwrap().1).collect();
        let upper = batches.last().unwrap().next_offset();
        let mut listed = log.aborted_txns(offset, upper);
        listed.sort_by_key(|t| t.first_offset);
        for batch in batches {
            assert!(batch.last_offset() < stable, "read past the LSO");
            for txn in listed
                .iter()
                .filter(|t| t.first_offset <= batch.last_offset())
            {
                if txn.last_offset >= batch.base_offset() {
                    aborted_now.insert(txn.producer_id);
                }
            }
            if let Some(marker) = TxnMarker::of(&batch) {
                if !marker.commit {
                    aborted_now.remove(&marker.producer_id);
                }
            } else if !(batch.is_transactional() && aborted_now.contains(&batch.producer_id())) {
                for record in Records::new(batch.records_payload(), batch.records_count()) {
                    let value = String::from_utf8(record.value.unwrap().to_vec()).unwrap();
                    kept.push((batch.base_offset().value() + record.offset_delta, value));
                }
            }
            offset = batch.next_offset();
        }
    }
    kept
}

#[derive(Debug, Clone)]
enum TxnOp {
    Write { producer: i64, records: usize },
    Plain,
    End { producer: i64, commit: bool },
    Roll,
    Reopen { clean: bool },
}

fn txn_op() -> impl proptest::strategy::Strategy<Value = TxnOp> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0i64..3, 1usize..4).prop_map(|(producer, records)| TxnOp::Write { producer, records }),
        1 => Just(TxnOp::Plain),
        3 => (0i64..3, proptest::bool::ANY).prop_map(|(producer, commit)| TxnOp::End { producer, commit }),
        1 => Just(TxnOp::Roll),
        1 => proptest::bool::ANY.prop_map(|clean| TxnOp::Reopen { clean }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    /// Random interleavings of transactional writes, commits, aborts,
    /// rolls and restarts: a read_committed consumer never sees an
    /// aborted record nor anything past the LSO, and sees every record
    /// of every committed transaction and every plain write below it.
    #[test]
    fn read_committed_never_sees_aborted_records(
        ops in proptest::collection::vec(txn_op(), 1..60),
        max_bytes in 1usize..600,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { segment_bytes: 400, ..LogConfig::default() };
        let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
        let mut sequences = [0i32; 3];
        let mut open: [Vec<(i64, String)>; 3] = Default::default();
        let mut visible: Vec<(i64, String)> = Vec::new();
        let mut aborted: Vec<String> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                TxnOp::Write { producer, records } => {
                    let index = producer as usize;
                    let mut builder = BatchBuilder::new(now_ms())
                        .idempotent(producer, 0, sequences[index])
                        .transactional();
                    let values: Vec<String> =
                        (0..records).map(|r| format!("p{producer}-s{step}-r{r}")).collect();
                    for value in &values {
                        builder.push(now_ms(), None, Some(value.as_bytes()), &[]);
                    }
                    let info = log
                        .append_as_leader(&builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                        .unwrap();
                    sequences[index] += records as i32;
                    for (i, value) in values.into_iter().enumerate() {
                        open[index].push((info.base_offset.value() + i as i64, value));
                    }
                }
                TxnOp::Plain => {
                    let value = format!("plain-s{step}");
                    let mut builder = BatchBuilder::new(now_ms());
                    builder.push(now_ms(), None, Some(value.as_bytes()), &[]);
                    let info = log
                        .append_as_leader(&builder.build(), LeaderEpoch(0), AppendOrigin::Client)
                        .unwrap();
                    visible.push((info.base_offset.value(), value));
                }
                TxnOp::End { producer, commit } => {
                    log.append_marker(&marker(producer, commit), LeaderEpoch(0)).unwrap();
                    let records = std::mem::take(&mut open[producer as usize]);
                    if commit {
                        visible.extend(records);
                    } else {
                        aborted.extend(records.into_iter().map(|(_, v)| v));
                    }
                }
                TxnOp::Roll => log.roll().unwrap(),
                TxnOp::Reopen { clean } => {
                    if clean {
                        log.checkpoint().unwrap();
                    }
                    drop(log);
                    log = PartitionLog::open(dir.path(), config.clone(), clean).unwrap();
                }
            }
            let stable = log.first_unstable_offset().unwrap_or(log.log_end_offset());
            let expected: Vec<(i64, String)> = {
                let mut below: Vec<_> =
                    visible.iter().filter(|(o, _)| *o < stable.value()).cloned().collect();
                below.sort();
                below
            };
            let seen = read_committed_values(&log, max_bytes);
            for (_, value) in &seen {
                proptest::prop_assert!(!aborted.contains(value), "aborted {value} visible");
            }
            proptest::prop_assert_eq!(seen, expected);
        }
    }
}

#[test]
fn retention_by_size_deletes_old_segments_and_moves_the_start_offset() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: 2048,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    for _ in 0..60 {
        append(&mut log, 2);
    }
    let removed = log.apply_retention(now_ms(), log.log_end_offset()).unwrap();
    assert!(removed > 0);
    assert!(log.size_bytes() <= 2048 + 1024);
    assert!(log.log_start_offset() > Offset(0));
    assert!(matches!(
        log.read(Offset(0), 100, Offset(120)),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let start = log.log_start_offset();
    drop(log);
    let reopened = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert_eq!(reopened.log_start_offset(), start);
}

#[test]
fn deleting_records_moves_the_start_offset_and_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    for _ in 0..40 {
        append(&mut log, 2);
    }
    let segments = log.segment_count();
    assert_eq!(
        log.delete_records_before(Offset(50), Offset(80)).unwrap(),
        Offset(50)
    );
    assert!(log.segment_count() < segments);
    assert!(matches!(
        log.read(Offset(49), 100, Offset(80)),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let bytes = log.read(Offset(50), 1, Offset(80)).unwrap();
    assert_eq!(Batch::parse(&bytes).unwrap().base_offset(), Offset(50));
    assert_eq!(
        log.delete_records_before(Offset(10), Offset(80)).unwrap(),
        Offset(50)
    );
    assert!(log.delete_records_before(Offset(81), Offset(80)).is_err());
    drop(log);
    assert_eq!(
        PartitionLog::open(dir.path(), small_config(), true)
            .unwrap()
            .log_start_offset(),
        Offset(50)
    );
}

fn keyed_batch(timestamp: i64, records: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut builder = BatchBuilder::new(timestamp);
    for (key, value) in records {
        builder.push(
            timestamp,
            Some(key.as_bytes()),
            value.map(str::as_bytes),
            &[],
        );
    }
    builder.build()
}

/// Every (offset, key, value) a full read returns.
fn read_all(log: &PartitionLog) -> Vec<(i64, String, Option<String>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let bytes = log.read(offset, 1 << 20, log.log_end_offset()).unwrap();
        if bytes.is_empty() {
            break;
        }
        for (_, batch) in Batches::new(&bytes).map(Result::unwrap) {
            batch.validate().unwrap();
            let records = match batch.is_control() {
                true => 0,
                false => batch.records_count(),
            };
            for record in Records::new(batch.records_payload(), records) {
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                out.push((
                    batch.base_offset().value() + record.offset_delta,
                    text(record.key.unwrap()),
                    record.value.map(text),
                ));
            }
            offset = batch.next_offset();
        }
    }
    out
}

#[test]
fn a_compaction_of_a_log_that_moved_meanwhile_is_dropped() {
    // The same records in two dirs: the log before and after a move to
    // another log dir (its future replica, copied batch for batch).
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 300,
        ..LogConfig::default()
    };
    let now = now_ms();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut logs = dirs.each_ref().map(|dir| {
        let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
        for round in 0..4 {
            let batch = keyed_batch(now - 10 + round, &[("k", Some("v")), ("k", Some("w"))]);
            log.append_as_leader(&batch, LeaderEpoch(0), AppendOrigin::Client)
                .unwrap();
        }
        log.roll().unwrap();
        log
    });
    let [before, after] = &mut logs;
    let job = before
        .compaction_job(before.log_end_offset())
        .unwrap()
        .expect("sealed segments");
    let compacted = job
        .run(now, usize::MAX)
        .unwrap()
        .expect("dirty enough to clean");
    let cleaned: Vec<_> = compacted.outputs.iter().map(|c| c.path.clone()).collect();
    assert!(!cleaned.is_empty());
    let records = read_all(after);
    let stats = after.install_compaction(compacted).unwrap();
    assert_eq!(stats, CleanStats::default());
    assert_eq!(
        read_all(after),
        records,
        "nothing of the old log's job applied"
    );
    assert!(
        cleaned.iter().all(|path| !path.exists()),
        "its files removed"
    );
    assert_eq!(read_all(before).len(), 8, "the old log untouched too");
}

#[test]
fn compaction_keeps_the_latest_value_per_key_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: 300,
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
    let now = now_ms();
    // keys a, b, c with several versions; b deleted by an old tombstone, c by a fresh one.
    let old = now - 10_000;
    for (round, records) in [
        vec![("a", Some("a0")), ("b", Some("b0"))],
        vec![("c", Some("c0")), ("a", Some("a1"))],
        vec![("b", None)],
        vec![("a", Some("a2")), ("c", Some("c1"))],
    ]
    .into_iter()
    .enumerate()
    {
        log.append_as_leader(
            &keyed_batch(old + round as i64, &records),
            LeaderEpoch(0),
            AppendOrigin::Client,
        )
        .unwrap();
    }
    log.append_as_leader(
        &keyed_batch(now, &[("c", None)]),
        LeaderEpoch(0),
        AppendOrigin::Client,
    )
    .unwrap();
    log.roll().unwrap();
    log.append_as_leader(
        &keyed_batch(now, &[("d", Some("active"))]),
        LeaderEpoch(0),
        AppendOrigin::Client,
    )
    .unwrap();
    let stats = log
        .compact(now, log.log_end_offset())
        .unwrap()
        .expect("dirty enough to clean");
    assert!(stats.records_removed >= 5, "{stats:?}");
    assert_eq!(
        read_all(&log),
        vec![
            (5, "a".into(), Some("a2".into())),
            (7, "c".into(), None), // fresh tombstone kept
            (8, "d".into(), Some("active".into())),
        ]
    );
    assert_eq!(
        log.compact(now, log.log_end_offset()).unwrap(),
        None,
        "nothing dirty any more"
    );
    assert!(matches!(
        log.append_as_leader(&sample_batch_without_keys(),
            LeaderEpoch(0),
            AppendOrigin::Client
        ),
        Err(LogError::InvalidRecord { record_errors, .. }) if record_errors.len() == 1 && record_errors[0].batch_index == 0
    ));
    drop(log);
    let reopened = PartitionLog::open(dir.path(), config, false).unwrap();
    assert_eq!(read_all(&reopened).len(), 3);
    assert_eq!(reopened.log_end_offset(), Offset(9));
}

#[test]
fn appends_and_retention_may_run_while_a_compaction_pass_cleans() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::CompactAndDelete,
        min_cleanable_dirty_ratio: 0.0,
        segment_bytes: 200,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    let now = now_ms();
    let client = AppendOrigin::Client;
    for round in 0..6 {
        let value = format!("v{round}");
        let records = [("k", Some(value.as_str())), ("other", Some("x"))];
        log.append_as_leader(&keyed_batch(now, &records), LeaderEpoch(0), client)
            .unwrap();
    }
    log.roll().unwrap();
    let job = log.compaction_job(log.log_end_offset()).unwrap().unwrap();
    // Meanwhile: more appends, and the oldest segment goes by DeleteRecords.
    log.append_as_leader(
        &keyed_batch(now, &[("k", Some("new"))]),
        LeaderEpoch(0),
        client,
    )
    .unwrap();
    let first_sealed_end = *log.segments.keys().nth(1).unwrap();
    log.delete_records_before(first_sealed_end, log.log_end_offset())
        .unwrap();
    let compacted = job.run(now, usize::MAX).unwrap().unwrap();
    log.install_compaction(compacted).unwrap();
    let all = read_all(&log);
    assert_eq!(all.last().unwrap(), &(12, "k".into(), Some("new".into())));
    assert!(all.iter().all(|(o, _, _)| *o >= first_sealed_end.value()));
    assert_eq!(
        all.iter().filter(|(_, k, _)| k == "other").count(),
        1,
        "{all:?}"
    );
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".cleaned")
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "the cleaned copy of a deleted segment is removed"
    );
}

#[test]
fn compaction_drops_aborted_records_and_leaves_open_transactions_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    let now = now_ms();
    let keyed_txn = |producer: i64, sequence: i32, key: &str, value: &str| {
        let mut builder = BatchBuilder::new(now)
            .idempotent(producer, 0, sequence)
            .transactional();
        builder.push(now, Some(key.as_bytes()), Some(value.as_bytes()), &[]);
        builder.build()
    };
    let client = AppendOrigin::Client;
    log.append_as_leader(
        &keyed_batch(now, &[("a", Some("a0"))]),
        LeaderEpoch(0),
        client,
    )
    .unwrap(); // 0
    log.append_as_leader(&keyed_txn(1, 0, "a", "aborted"), LeaderEpoch(0), client)
        .unwrap(); // 1
    log.append_marker(&marker(1, false), LeaderEpoch(0))
        .unwrap(); // 2
    log.append_as_leader(&keyed_txn(1, 1, "b", "b-committed"), LeaderEpoch(0), client)
        .unwrap(); // 3
    log.append_marker(&marker(1, true), LeaderEpoch(0)).unwrap(); // 4
    log.roll().unwrap();
    log.append_as_leader(&keyed_txn(2, 0, "a", "open"), LeaderEpoch(0), client)
        .unwrap(); // 5, stays open
    log.roll().unwrap();
    log.append_as_leader(
        &keyed_batch(now, &[("a", Some("a1"))]),
        LeaderEpoch(0),
        client,
    )
    .unwrap(); // 6
    log.roll().unwrap();
    // Markers carry the broker's clock at append: clean as of later.
    let end = log.log_end_offset();
    let stats = log
        .compact(now_ms(), end)
        .unwrap()
        .expect("cleans below the open transaction");
    assert_eq!(stats.records_removed, 1, "only the aborted record");
    assert_eq!(
        read_all(&log),
        vec![
            (0, "a".into(), Some("a0".into())),
            (3, "b".into(), Some("b-committed".into())),
            (5, "a".into(), Some("open".into())),
            (6, "a".into(), Some("a1".into())),
        ]
    );
    assert_eq!(log.aborted_txns(Offset(0), Offset(7)).len(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Compaction never loses the latest value of a key, never moves an
    /// offset, and never reorders: a full read equals, key by key, the
    /// last write of each key, in offset order.
    #[test]
    fn compaction_keeps_exactly_the_last_write_of_every_key(
        writes in proptest::collection::vec((0u8..6, proptest::option::of(0u16..1000)), 1..80),
        segment_bytes in 200u64..800,
        batch_size in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            cleanup_policy: CleanupPolicy::Compact,
            segment_bytes,
            min_cleanable_dirty_ratio: 0.0,
            ..LogConfig::default()
        };
        let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
        let now = now_ms();
        let keys: Vec<String> = writes.iter().map(|(k, _)| format!("key-{k}")).collect();
        let values: Vec<Option<String>> = writes.iter().map(|(_, v)| v.map(|v| format!("v{v}"))).collect();
        for chunk in (0..writes.len()).collect::<Vec<_>>().chunks(batch_size) {
            let records: Vec<(&str, Option<&str>)> =
                chunk.iter().map(|&i| (keys[i].as_str(), values[i].as_deref())).collect();
            log.append_as_leader(&keyed_batch(now, &records), LeaderEpoch(0), AppendOrigin::Client).unwrap();
        }
        log.roll().unwrap();
        log.compact(now, log.log_end_offset()).unwrap();
        let mut expected: Vec<(i64, String, Option<String>)> = Vec::new();
        for (offset, key) in keys.iter().enumerate() {
            if keys[offset + 1..].iter().all(|later| later != key) {
                expected.push((offset as i64, key.clone(), values[offset].clone()));
            }
        }
        proptest::prop_assert_eq!(read_all(&log), expected);
        proptest::prop_assert_eq!(log.log_end_offset(), Offset(writes.len() as i64));
    }
}

fn sample_batch_without_keys() -> Vec<u8> {
    let mut builder = BatchBuilder::new(now_ms());
    builder.push(now_ms(), None, Some(b"v"), &[]);
    builder.build()
}

#[test]
fn retention_by_time_retires_even_the_active_segment_once_it_expired() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 1_000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    for _ in 0..30 {
        append(&mut log, 2); // timestamps around 1000 ms after the epoch
    }
    log.apply_retention(now_ms(), log.log_end_offset()).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert!(log.active().is_empty());
    assert_eq!(log.log_start_offset(), Offset(60));
    assert_eq!(log.log_end_offset(), Offset(60));
    assert_eq!(
        log.apply_retention(now_ms(), log.log_end_offset()).unwrap(),
        0,
        "an empty active segment stays"
    );
    let info = append(&mut log, 1);
    assert_eq!(info.base_offset, Offset(60));
}

#[test]
fn retention_never_deletes_above_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 1_000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    for _ in 0..30 {
        append(&mut log, 2); // long expired
    }
    let segments = log.segment_count();
    // Nothing replicated yet: nothing may go.
    assert_eq!(log.apply_retention(now_ms(), Offset(0)).unwrap(), 0);
    assert_eq!(log.segment_count(), segments);
    assert_eq!(log.log_start_offset(), Offset(0));
    // Replicated up to offset 41: only segments wholly below it go.
    log.apply_retention(now_ms(), Offset(41)).unwrap();
    assert!(log.log_start_offset() <= Offset(41));
    assert!(log.log_start_offset() > Offset(0));
    assert!(log.segment_count() > 1, "the active segment stays");
    assert_eq!(log.log_end_offset(), Offset(60));
    assert_eq!(
        Batch::parse(&log.read(Offset(41), 1, Offset(60)).unwrap())
            .unwrap()
            .last_offset(),
        Offset(41),
        "offset 41 is still readable"
    );
}

#[test]
fn a_failed_write_appends_nothing_and_the_retry_lands_where_it_would_have() {
    use crate::log::disk_faults::{self, DiskErrno, DiskFault, DiskOp};
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    append(&mut log, 2);
    let size = log.size_bytes();
    let mut request = sample_batch(3);
    request.extend(sample_batch(4));
    disk_faults::arm(DiskFault {
        path: dir.path().to_path_buf(),
        op: DiskOp::Write,
        errno: Some(DiskErrno::Enospc),
        latency_ms: 0,
        count: 1,
    });
    let failed = log.append_as_leader(&request, LeaderEpoch(0), AppendOrigin::Client);
    assert!(matches!(failed, Err(LogError::Io(ref e)) if e.raw_os_error() == Some(libc::ENOSPC)));
    assert_eq!(log.log_end_offset(), Offset(2));
    assert_eq!(log.size_bytes(), size);
    let file = std::fs::metadata(segment::log_path(dir.path(), Offset(0))).unwrap();
    assert_eq!(file.len(), size, "the torn half-write was cut back");
    let retried = log
        .append_as_leader(&request, LeaderEpoch(0), AppendOrigin::Client)
        .unwrap();
    assert_eq!(
        (retried.base_offset, retried.last_offset),
        (Offset(2), Offset(8))
    );
    drop(log);
    let reopened = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert_eq!(reopened.log_end_offset(), Offset(9));
}

#[test]
fn a_rolled_segment_is_synced_after_the_roll_and_a_failed_sync_fails_the_next_append() {
    use crate::log::disk_faults::{self, DiskErrno, DiskFault, DiskOp};
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    // The first segment's sync (the one the roll starts) fails.
    disk_faults::arm(DiskFault {
        path: segment::log_path(dir.path(), Offset(0)),
        op: DiskOp::Fsync,
        errno: Some(DiskErrno::Eio),
        latency_ms: 0,
        count: 1,
    });
    while log.segment_count() < 2 {
        append(&mut log, 3);
    }
    let rolled_at = log.log_end_offset();
    // Outside a runtime the sync ran in the roll; the append after it
    // learns of the failure (the log dir then goes offline).
    let failed = log.append_as_leader(&sample_batch(1), LeaderEpoch(0), AppendOrigin::Client);
    assert!(matches!(failed, Err(LogError::Io(ref e)) if e.raw_os_error() == Some(libc::EIO)));
    assert_eq!(log.log_end_offset(), rolled_at, "nothing appended");
    // A healthy roll writes the producer snapshot after the sync.
    while log.segment_count() < 3 {
        append(&mut log, 3);
    }
    log.flush().unwrap();
    let snapshot = dir.path().join(format!(
        "{:020}.snapshot",
        log.active().base_offset().value()
    ));
    assert!(snapshot.exists(), "{}", snapshot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn after_a_crash_a_torn_rolled_segment_is_cut_and_what_followed_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let (first_end, rolled) = tokio::task::spawn_blocking(move || {
        let mut log = PartitionLog::open(&path, small_config(), true).unwrap();
        while log.segment_count() < 3 {
            append(&mut log, 3);
        }
        let bases: Vec<Offset> = log.segments.keys().copied().collect();
        append(&mut log, 1);
        // The background sync runs on the runtime; wait for it, as a
        // crash after it would have left the disk.
        log.flush().unwrap();
        (bases[2], bases[1])
    })
    .await
    .unwrap();
    // A power loss tore the segment rolled last: its tail is garbage.
    let torn = segment::log_path(dir.path(), rolled);
    let good = std::fs::metadata(&torn).unwrap().len();
    let mut bytes = std::fs::read(&torn).unwrap();
    let keep = bytes.len() - 20;
    bytes.truncate(keep);
    bytes.extend_from_slice(&[0xAB; 20]);
    std::fs::write(&torn, &bytes).unwrap();
    let log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    assert!(log.log_end_offset() < first_end, "the torn batch is cut");
    assert_eq!(
        log.active().base_offset(),
        rolled,
        "the later segment is gone"
    );
    assert!(!segment::log_path(dir.path(), first_end).exists());
    assert!(std::fs::metadata(&torn).unwrap().len() < good);
    let bytes = log.read(rolled, 1 << 20, log.log_end_offset()).unwrap();
    assert!(Batches::new(&bytes).all(|batch| batch.is_ok()));
}

#[test]
fn a_torn_tail_is_cut_even_after_a_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
        for _ in 0..10 {
            append(&mut log, 2);
        }
        log.checkpoint().unwrap();
    }
    // What a failed write leaves past the end: half a batch.
    let path = segment::log_path(dir.path(), Offset(0));
    let good = std::fs::metadata(&path).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, &sample_batch(5)[..40]).unwrap();
    drop(file);
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    assert_eq!(log.log_end_offset(), Offset(20));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    let next = append(&mut log, 1);
    assert_eq!(next.base_offset, Offset(20));
    let bytes = log.read(Offset(20), 1 << 20, Offset(21)).unwrap();
    assert_eq!(Batch::parse(&bytes).unwrap().base_offset(), Offset(20));
}

#[test]
fn retention_leaves_compact_only_topics_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: 1_000,
        cleanup_policy: CleanupPolicy::Compact,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config, true).unwrap();
    log.append_as_leader(
        &keyed_batch(1_000, &[("k", Some("v"))]),
        LeaderEpoch(0),
        AppendOrigin::Client,
    )
    .unwrap();
    assert_eq!(
        log.apply_retention(now_ms(), log.log_end_offset()).unwrap(),
        0
    );
    assert_eq!(log.log_start_offset(), Offset(0));
}

/// Everything a leader's log holds, as a replica Fetch would read it.
pub(crate) fn all_bytes(log: &PartitionLog) -> Vec<u8> {
    let mut all = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let bytes = log.read(offset, 1 << 20, log.log_end_offset()).unwrap();
        let (_, last) = Batches::new(&bytes).last().unwrap().unwrap();
        offset = last.next_offset();
        all.extend_from_slice(&bytes);
    }
    all
}

/// The `.log` files of a partition folder, by name.
fn segment_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

fn epoch_checkpoint(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(EPOCH_CHECKPOINT_FILE)).unwrap()
}

/// Feeds a follower the leader's bytes in growing windows that end
/// inside batches and repeat what it already has.
fn replicate(leader: &PartitionLog, follower: &mut PartitionLog) {
    let all = all_bytes(leader);
    let mut end = 0;
    while end < all.len() {
        end = (end + 150).min(all.len());
        follower.append_as_follower(&all[..end]).unwrap();
    }
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
}

/// A leader log of plain, idempotent and transactional batches and
/// markers over leader epochs 0, 2 and 5, across several segments.
fn leader_with_history(dir: &Path) -> PartitionLog {
    let mut log = PartitionLog::open(dir, small_config(), true).unwrap();
    let client = AppendOrigin::Client;
    for _ in 0..12 {
        append(&mut log, 3);
    }
    log.append_as_leader(&idempotent_batch(0, 2), LeaderEpoch(2), client)
        .unwrap();
    log.append_as_leader(&txn_batch(7, 0, 2), LeaderEpoch(2), client)
        .unwrap();
    log.append_as_leader(&sample_batch(4), LeaderEpoch(2), client)
        .unwrap();
    log.append_marker(&marker(7, false), LeaderEpoch(2))
        .unwrap();
    log.append_as_leader(&txn_batch(8, 0, 1), LeaderEpoch(5), client)
        .unwrap();
    log.append_marker(&marker(8, true), LeaderEpoch(5)).unwrap();
    for _ in 0..8 {
        log.append_as_leader(&sample_batch(2), LeaderEpoch(5), client)
            .unwrap();
    }
    log.append_as_leader(&txn_batch(7, 2, 1), LeaderEpoch(5), client)
        .unwrap();
    log
}

#[test]
fn a_follower_log_is_byte_identical_to_its_leaders() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_history(leader_dir.path());
    let mut follower = PartitionLog::open(follower_dir.path(), small_config(), true).unwrap();
    replicate(&leader, &mut follower);
    assert!(leader.segment_count() > 2);
    assert_eq!(
        segment_files(follower_dir.path()),
        segment_files(leader_dir.path())
    );
    let end = leader.log_end_offset();
    assert_eq!(
        follower.aborted_txns(Offset::ZERO, end),
        leader.aborted_txns(Offset::ZERO, end)
    );
    assert_eq!(follower.aborted_txns(Offset::ZERO, end).len(), 1);
    assert_eq!(
        follower.first_unstable_offset(),
        leader.first_unstable_offset()
    );
    assert_eq!(follower.producer_summaries(), leader.producer_summaries());
    assert_eq!(
        epoch_checkpoint(follower_dir.path()),
        epoch_checkpoint(leader_dir.path())
    );
    assert_eq!(follower.latest_epoch(), Some(LeaderEpoch(5)));
    assert_eq!(
        follower.append_as_follower(&all_bytes(&leader)).unwrap(),
        None,
        "nothing new"
    );
}

/// A batch of `records` records already placed at `base_offset`.
fn placed_batch(base_offset: i64, records: usize, epoch: i32) -> Vec<u8> {
    let mut bytes = sample_batch(records);
    set_base_offset(&mut bytes, Offset(base_offset));
    set_partition_leader_epoch(&mut bytes, LeaderEpoch(epoch));
    bytes
}

#[test]
fn a_follower_refuses_batches_that_do_not_continue_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert!(matches!(
        log.append_as_follower(&placed_batch(2, 3, 0)),
        Err(LogError::NonContiguousReplicaAppend {
            base_offset: Offset(2),
            ..
        })
    ));
    let info = log
        .append_as_follower(&placed_batch(0, 3, 0))
        .unwrap()
        .unwrap();
    assert_eq!((info.base_offset, info.last_offset), (Offset(0), Offset(2)));
    assert!(matches!(
        log.append_as_follower(&placed_batch(2, 3, 0)),
        Err(LogError::NonContiguousReplicaAppend {
            log_end_offset: Offset(3),
            ..
        })
    ));
    // A gap after a good batch refuses the whole fetch.
    let mut bytes = placed_batch(3, 1, 0);
    bytes.extend(placed_batch(5, 1, 0));
    assert!(log.append_as_follower(&bytes).is_err());
    assert_eq!(log.log_end_offset(), Offset(3));
    let mut corrupt = placed_batch(3, 1, 0);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert!(matches!(
        log.append_as_follower(&corrupt),
        Err(LogError::Batch(_))
    ));
    assert_eq!(
        log.append_as_follower(&placed_batch(0, 3, 0)).unwrap(),
        None
    );
    assert!(log
        .append_as_follower(&placed_batch(3, 1, 0))
        .unwrap()
        .is_some());

    // Compacted topics have gaps where the leader's cleaner removed batches.
    let compacted_dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        ..small_config()
    };
    let mut compacted = PartitionLog::open(compacted_dir.path(), config, true).unwrap();
    compacted
        .append_as_follower(&placed_batch(4, 2, 0))
        .unwrap();
    assert_eq!(compacted.log_end_offset(), Offset(6));
}

#[test]
fn an_empty_follower_restarts_at_a_batch_holding_its_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    log.truncate_fully_and_start_at(Offset(5)).unwrap();
    log.append_as_follower(&placed_batch(3, 4, 1)).unwrap();
    assert_eq!(log.log_start_offset(), Offset(3));
    assert_eq!(log.log_end_offset(), Offset(7));
    assert_eq!(log.latest_epoch(), Some(LeaderEpoch(1)));
}

#[test]
fn truncation_cuts_inside_and_across_segments_and_replication_resumes() {
    let (leader_dir, follower_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = leader_with_history(leader_dir.path());
    let mut follower = PartitionLog::open(follower_dir.path(), small_config(), true).unwrap();
    replicate(&leader, &mut follower);
    let end = leader.log_end_offset();
    let segments = follower.segment_count();

    // Inside the active segment, at a batch boundary.
    let active_base = follower.active().base_offset();
    let last_batch = follower.active().find_batch(end.plus(-1)).unwrap().unwrap();
    follower.truncate_to(last_batch.base_offset).unwrap();
    assert_eq!(follower.log_end_offset(), last_batch.base_offset);
    assert_eq!(follower.segment_count(), segments);
    follower.truncate_to(end).unwrap();
    assert_eq!(
        follower.log_end_offset(),
        last_batch.base_offset,
        "no-op past the end"
    );

    // Inside a batch of an older segment: the whole batch goes.
    let second_base = *follower.segments.keys().nth(1).unwrap();
    let batch = follower.segments[&second_base]
        .headers_from(second_base)
        .unwrap()[1];
    assert!(batch.last_offset > batch.base_offset);
    follower.truncate_to(batch.base_offset.plus(1)).unwrap();
    assert_eq!(follower.log_end_offset(), batch.base_offset);
    assert_eq!(follower.segment_count(), 2);
    assert!(!follower_dir
        .path()
        .join(format!("{:020}.log", active_base.0))
        .exists());
    let bytes = follower
        .read(second_base, 1 << 20, follower.log_end_offset())
        .unwrap();
    assert_eq!(
        Batches::new(&bytes)
            .last()
            .unwrap()
            .unwrap()
            .1
            .next_offset(),
        batch.base_offset
    );

    // At a segment's base offset: that segment stays, empty and active.
    follower.truncate_to(second_base).unwrap();
    assert_eq!(follower.log_end_offset(), second_base);
    assert_eq!(follower.segment_count(), 2);

    replicate(&leader, &mut follower);
    assert_eq!(
        segment_files(follower_dir.path()),
        segment_files(leader_dir.path())
    );
    assert_eq!(
        follower.aborted_txns(Offset::ZERO, end),
        leader.aborted_txns(Offset::ZERO, end)
    );
    assert_eq!(follower.producer_summaries(), leader.producer_summaries());
    drop(follower);
    for clean in [true, false] {
        let reopened = PartitionLog::open(follower_dir.path(), small_config(), clean).unwrap();
        assert_eq!(reopened.log_end_offset(), end, "clean={clean}");
        assert_eq!(all_bytes(&reopened), all_bytes(&leader), "clean={clean}");
    }
}

#[test]
fn truncation_forgets_the_truncated_batches_of_idempotent_producers() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let client = AppendOrigin::Client;
    append(&mut log, 1); // 0
    for sequence in [0, 2] {
        log.append_as_leader(&idempotent_batch(sequence, 2), LeaderEpoch(0), client)
            .unwrap(); // 1..=2, 3..=4
    }
    log.roll().unwrap(); // a producer snapshot at 5
    log.append_as_leader(&idempotent_batch(4, 2), LeaderEpoch(0), client)
        .unwrap(); // 5..=6
    log.truncate_to(Offset(3)).unwrap();
    assert_eq!(log.log_end_offset(), Offset(3));
    assert!(
        !dir.path().join("00000000000000000005.snapshot").exists(),
        "snapshot past the end deleted"
    );
    assert!(matches!(
        log.append_as_leader(&idempotent_batch(4, 2), LeaderEpoch(0), client),
        Err(LogError::ProducerState(_))
    ));
    let retried = log
        .append_as_leader(&idempotent_batch(2, 2), LeaderEpoch(0), client)
        .unwrap();
    assert_eq!(
        (retried.base_offset, log.log_end_offset()),
        (Offset(3), Offset(5)),
        "appended, not a duplicate"
    );
    let duplicate = log
        .append_as_leader(&idempotent_batch(0, 2), LeaderEpoch(0), client)
        .unwrap();
    assert_eq!(
        duplicate.base_offset,
        Offset(1),
        "kept batches are still duplicates"
    );
}

#[test]
fn truncating_a_transaction_marker_reopens_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let client = AppendOrigin::Client;
    log.append_as_leader(&txn_batch(7, 0, 2), LeaderEpoch(0), client)
        .unwrap(); // 0..=1
    append(&mut log, 1); // 2
    log.append_marker(&marker(7, false), LeaderEpoch(0))
        .unwrap(); // 3
    assert_eq!(log.aborted_txns(Offset(0), Offset(4)).len(), 1);
    assert_eq!(log.first_unstable_offset(), None);
    log.truncate_to(Offset(3)).unwrap();
    assert_eq!(log.aborted_txns(Offset(0), Offset(3)), vec![]);
    assert_eq!(log.first_unstable_offset(), Some(Offset(0)));
    let marker_bytes = {
        let mut bytes = marker(7, true).to_batch(now_ms());
        set_base_offset(&mut bytes, Offset(3));
        bytes
    };
    log.append_as_follower(&marker_bytes).unwrap();
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(
        log.aborted_txns(Offset(0), Offset(4)),
        vec![],
        "committed this time"
    );
}

#[test]
fn an_epoch_a_leader_wrote_nothing_in_goes_when_truncated_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_with_history(dir.path());
    let end = log.log_end_offset();
    log.assign_epoch_start(LeaderEpoch(7)).unwrap();
    assert_eq!(log.latest_epoch(), Some(LeaderEpoch(7)));
    assert_eq!(log.end_offset_for_epoch(7), (7, end));
    // A follower told its log diverges at its own end: no record goes,
    // the empty epoch does.
    log.truncate_to(end).unwrap();
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.latest_epoch(), Some(LeaderEpoch(5)));
}

#[test]
fn the_leader_epoch_cache_follows_appends_truncation_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_with_history(dir.path());
    // Epoch 0 wrote 0..=35, epoch 2 from 36, epoch 5 from 45.
    assert_eq!(epoch_checkpoint(dir.path()), "0\n3\n0 0\n2 36\n5 45\n");
    assert_eq!(log.latest_epoch(), Some(LeaderEpoch(5)));
    let end = log.log_end_offset();
    assert_eq!(log.end_offset_for_epoch(5), (5, end));
    assert_eq!(log.end_offset_for_epoch(3), (2, Offset(45)));
    assert_eq!(log.end_offset_for_epoch(0), (0, Offset(36)));
    assert_eq!(log.end_offset_for_epoch(6), (-1, Offset(-1)));

    log.truncate_to(Offset(45)).unwrap();
    assert_eq!(epoch_checkpoint(dir.path()), "0\n2\n0 0\n2 36\n");
    assert_eq!(log.end_offset_for_epoch(2), (2, Offset(45)));
    log.append_as_leader(&sample_batch(1), LeaderEpoch(6), AppendOrigin::Client)
        .unwrap();
    assert_eq!(epoch_checkpoint(dir.path()), "0\n3\n0 0\n2 36\n6 45\n");

    log.delete_records_before(Offset(38), Offset(46)).unwrap();
    let expected = "0\n2\n2 38\n6 45\n";
    assert_eq!(epoch_checkpoint(dir.path()), expected);
    assert_eq!(
        log.end_offset_for_epoch(1),
        (1, Offset(38)),
        "below the first known epoch"
    );
    drop(log);
    for clean in [true, false] {
        let log = PartitionLog::open(dir.path(), small_config(), clean).unwrap();
        assert_eq!(epoch_checkpoint(dir.path()), expected, "clean={clean}");
        assert_eq!(log.latest_epoch(), Some(LeaderEpoch(6)));
    }
    std::fs::remove_file(dir.path().join(EPOCH_CHECKPOINT_FILE)).unwrap();
    let log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    assert_eq!(
        epoch_checkpoint(dir.path()),
        expected,
        "rebuilt from the batches"
    );
    assert_eq!(log.end_offset_for_epoch(2), (2, Offset(45)));
}

#[test]
fn after_a_crash_the_epoch_cache_matches_the_recovered_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), LogConfig::default(), true).unwrap();
    append(&mut log, 2); // epoch 0 at 0
    log.append_as_leader(&sample_batch(2), LeaderEpoch(3), AppendOrigin::Client)
        .unwrap(); // epoch 3 at 2
    drop(log);
    let checkpoint = dir.path().join(EPOCH_CHECKPOINT_FILE);
    // The cache never saw epoch 3, but saw an epoch 4 whose batch was lost.
    std::fs::write(&checkpoint, "0\n2\n0 0\n4 4\n").unwrap();
    let log = PartitionLog::open(dir.path(), LogConfig::default(), false).unwrap();
    assert_eq!(epoch_checkpoint(dir.path()), "0\n2\n0 0\n3 2\n");
    assert_eq!(log.latest_epoch(), Some(LeaderEpoch(3)));
}

#[test]
fn a_log_truncated_fully_starts_empty_at_the_new_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = leader_with_history(dir.path());
    log.checkpoint().unwrap();
    log.truncate_fully_and_start_at(Offset(100)).unwrap();
    let check = |log: &PartitionLog| {
        assert_eq!(log.log_start_offset(), Offset(100));
        assert_eq!(log.log_end_offset(), Offset(100));
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.latest_epoch(), None);
        assert!(log.producer_summaries().is_empty());
        assert_eq!(log.first_unstable_offset(), None);
    };
    check(&log);
    assert_eq!(epoch_checkpoint(dir.path()), "0\n0\n");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snapshot") || name.ends_with(".txnindex"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    drop(log);
    let mut log = PartitionLog::open(dir.path(), small_config(), false).unwrap();
    check(&log);
    assert_eq!(append(&mut log, 1).base_offset, Offset(100));
    // Truncating below the log start empties the log there too.
    log.truncate_to(Offset(50)).unwrap();
    assert_eq!(
        (log.log_start_offset(), log.log_end_offset()),
        (Offset(50), Offset(50))
    );
}

/// What a read must answer, worked out from every batch of the log: whole
/// batches from the one holding `offset`, the first always, then as many
/// as fit in `max_bytes`, none at or past `max_offset`.
fn expected_read(
    all: &[(Offset, Offset, usize)],
    offset: i64,
    max_bytes: usize,
    max_offset: i64,
) -> Vec<Offset> {
    let mut taken = Vec::new();
    let mut bytes = 0;
    for &(base, _, size) in all.iter().filter(|(_, last, _)| last.0 >= offset) {
        if base.0 >= max_offset || (!taken.is_empty() && bytes + size > max_bytes) {
            break;
        }
        bytes += size;
        taken.push(base);
    }
    taken
}

#[test]
fn reads_far_from_the_end_of_a_long_segment_end_where_whole_reads_would() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 300,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config.clone(), true).unwrap();
    // 400 batches of 1 to 7 records: far more than the recent headers
    // a segment keeps, of uneven sizes.
    let mut all = Vec::new();
    for i in 0..400 {
        let info = append(&mut log, 1 + i % 7);
        let size = sample_batch(1 + i % 7).len();
        all.push((info.base_offset, info.last_offset, size));
    }
    let end = log.log_end_offset().0;
    let check = |log: &PartitionLog| {
        for offset in (0..end).step_by(37) {
            for max_bytes in [1, 500, 3_000, 40_000] {
                for max_offset in [offset + 1, offset + 20, end - 100, end] {
                    if max_offset <= offset {
                        continue;
                    }
                    let bytes = log
                        .read(Offset(offset), max_bytes, Offset(max_offset))
                        .unwrap();
                    let read: Vec<Offset> = Batches::new(&bytes)
                        .map(|batch| batch.unwrap().1.base_offset())
                        .collect();
                    let expected = expected_read(&all, offset, max_bytes, max_offset);
                    assert_eq!(
                        read, expected,
                        "offset {offset}, max_bytes {max_bytes}, max_offset {max_offset}"
                    );
                    let records = log
                        .read_records(Offset(offset), max_bytes, Offset(max_offset))
                        .unwrap();
                    if let (Some(records), Some(&(_, last, _))) = (
                        records,
                        expected.last().and_then(|b| all.iter().find(|e| e.0 == *b)),
                    ) {
                        assert!(records.next_offset() > last);
                    }
                }
            }
        }
    };
    check(&log);
    log.checkpoint().unwrap();
    drop(log);
    // Reopened, the segment knows only the headers after its last index
    // entry.
    let log = PartitionLog::open(dir.path(), config, true).unwrap();
    check(&log);
}

/// A view taken before a truncation, as a fetch under way holds it, reads
/// nothing the truncation removed, and the segment reopened for it leaves
/// the old index mapping readable (its file is replaced, not cut).
#[test]
fn a_view_held_across_a_truncation_reads_only_what_remains() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    for _ in 0..50 {
        append(&mut log, 3);
    }
    drop(log);
    // Reopened: the sealed segments' indexes are mapped, and no recent
    // batch headers are known, so reads go through the indexes.
    let mut log = PartitionLog::open(dir.path(), small_config(), true).unwrap();
    let bases: Vec<Offset> = log.segments.keys().copied().collect();
    let (second, third) = (bases[1], bases[2]);
    let before = Arc::clone(log.view());
    log.truncate_to(second.plus(3)).unwrap();
    assert_eq!(log.log_end_offset(), second.plus(3));

    let records_from = |view: &LogView, offset: Offset| {
        let read = view.read_records(offset, usize::MAX, Offset(150)).unwrap();
        let bytes = read.map(|r| r.read().unwrap()).unwrap_or_default();
        Batches::new(&bytes)
            .map(|batch| batch.unwrap().1.last_offset())
            .collect::<Vec<_>>()
    };
    assert_eq!(records_from(&before, second), vec![second.plus(2)]);
    assert!(records_from(&before, second.plus(3)).is_empty());
    assert!(records_from(&before, third).is_empty());
    assert_eq!(records_from(log.view(), second), vec![second.plus(2)]);
    // Appends after the truncation are found through the new view only.
    append(&mut log, 3);
    assert_eq!(
        records_from(log.view(), second),
        vec![second.plus(2), second.plus(5)]
    );
    assert_eq!(records_from(&before, second), vec![second.plus(2)]);
}
