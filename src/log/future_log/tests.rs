use super::*;
use crate::log::partition_log::tests::{all_bytes, small_config};
use crate::log::partition_log::AppendOrigin;
use crate::records::builder::BatchBuilder;
use crate::types::{now_ms, LeaderEpoch};

fn batch(producer_id: i64, sequence: i32, value: &str) -> Vec<u8> {
    let mut builder = BatchBuilder::new(now_ms()).idempotent(producer_id, 0, sequence);
    builder.push(now_ms(), None, Some(value.as_bytes()), &[]);
    builder.build()
}

fn append(log: &mut PartitionLog, epoch: i32, producer_id: i64, sequence: i32) {
    let value = format!("value-{producer_id}-{sequence}");
    log.append_as_leader(
        &batch(producer_id, sequence, &value),
        LeaderEpoch(epoch),
        AppendOrigin::Client,
    )
    .unwrap();
}

/// Copies round by round as the mover does, appending to the current
/// log between rounds as producers would.
fn copy_while_appending(
    future: &mut FutureLog,
    current: &mut PartitionLog,
    first_sequence: i32,
    appends: i32,
) {
    let mut sequence = first_sequence;
    loop {
        let round = future.plan(current, 300).unwrap();
        let caught_up = future.copy(round).unwrap();
        if sequence < first_sequence + appends {
            append(current, 0, 7, sequence);
            sequence += 1;
        } else if caught_up {
            return;
        }
    }
}

#[test]
fn a_copy_made_while_the_log_takes_appends_is_byte_identical_and_swaps_in() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let partition = TopicPartition::new("t", 0);
    let mut current = PartitionLog::open(&a.join("t-0"), small_config(), true).unwrap();
    for sequence in 0..40 {
        append(&mut current, 0, 7, sequence);
    }
    let mut future = FutureLog::create(&b, &partition, small_config()).unwrap();
    assert!(future
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("t-0."));
    assert!(
        future_folder_partition(&future.path().file_name().unwrap().to_string_lossy())
            .is_some_and(|name| name == "t-0")
    );
    copy_while_appending(&mut future, &mut current, 40, 25);
    current.assign_epoch_start(LeaderEpoch(3)).unwrap();
    future.complete(&current).unwrap();
    assert_eq!(future.log_end_offset(), current.log_end_offset());
    let before = all_bytes(&current);
    let producers = current.producer_summaries();

    let (old, deleted) = future.replace(&mut current).unwrap();
    drop(old);
    assert!(!a.join("t-0").exists(), "the old folder is renamed at once");
    assert!(deleted.is_dir() && deleted.to_string_lossy().ends_with("-delete"));
    assert_eq!(current.dir(), b.join("t-0"));
    assert_eq!(all_bytes(&current), before);
    assert_eq!(current.producer_summaries(), producers);
    assert_eq!(
        current.latest_epoch(),
        Some(LeaderEpoch(3)),
        "an epoch begun without records"
    );
    // The moved log takes appends, and an idempotent retry is still known.
    append(&mut current, 3, 7, 65);
    let retry = current
        .append_as_leader(
            &batch(7, 64, "value-7-64"),
            LeaderEpoch(3),
            AppendOrigin::Client,
        )
        .unwrap();
    assert_eq!(
        retry.base_offset,
        Offset(64),
        "a duplicate gets its original offset"
    );
    // And it reopens as it is.
    let end = current.log_end_offset();
    drop(current);
    let reopened = PartitionLog::open(&b.join("t-0"), small_config(), true).unwrap();
    assert_eq!(reopened.log_end_offset(), end);
}

#[test]
fn the_copy_follows_the_current_log_start_and_its_truncation() {
    let root = tempfile::tempdir().unwrap();
    let partition = TopicPartition::new("t", 1);
    let mut current = PartitionLog::open(&root.path().join("a/t-1"), small_config(), true).unwrap();
    for sequence in 0..30 {
        append(&mut current, 0, 9, sequence);
    }
    current
        .delete_records_before(Offset(12), Offset(30))
        .unwrap();
    let mut future = FutureLog::create(&root.path().join("b"), &partition, small_config()).unwrap();
    // A round reads within one segment: as many rounds as it takes.
    while !future
        .copy(future.plan(&current, 1 << 20).unwrap())
        .unwrap()
    {}
    assert_eq!(future.log.log_start_offset(), current.log_start_offset());
    assert_eq!(future.log_end_offset(), Offset(30));

    // A follower's log cut back and rewritten at a newer epoch: the copy
    // drops what the current log no longer has.
    current.truncate_to(Offset(25)).unwrap();
    let mut follower_batch = batch(9, 25, "rewritten");
    crate::records::batch::set_base_offset(&mut follower_batch, Offset(25));
    crate::records::batch::set_partition_leader_epoch(&mut follower_batch, LeaderEpoch(1));
    current.append_as_follower(&follower_batch).unwrap();
    current
        .delete_records_before(Offset(20), Offset(26))
        .unwrap();
    future.complete(&current).unwrap();
    assert_eq!(future.log_end_offset(), Offset(26));
    assert_eq!(all_bytes(&future.log), all_bytes(&current));
    assert_eq!(future.log.log_start_offset(), Offset(20));
}

#[test]
fn an_abandoned_copy_is_renamed_for_deletion() {
    let root = tempfile::tempdir().unwrap();
    let future = FutureLog::create(
        root.path(),
        &TopicPartition::new("t", 0),
        LogConfig::default(),
    )
    .unwrap();
    let path = future.path().to_path_buf();
    let deleted = future.abandon().unwrap();
    assert!(!path.exists() && deleted.is_dir());
}

#[test]
fn only_kafkas_future_folder_names_are_future_logs() {
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        future_folder_partition(&format!("my.topic-3.{id}-future")).as_deref(),
        Some("my.topic-3")
    );
    assert_eq!(future_folder_partition("t-0"), None);
    assert_eq!(future_folder_partition(&format!("t-0.{id}-delete")), None);
    assert_eq!(future_folder_partition("t-0.short-future"), None);
}
