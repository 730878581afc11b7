//! Entry points for the cargo-fuzz targets in `fuzz/`: each runs one of the
//! broker's decoders or recovery paths on arbitrary input, the way the broker
//! runs it, and asserts what must hold of the result. A panic here is a bug
//! (a crash the input could cause in a broker), an error is not.
//!
//! Only the targets use this module, so that what they need stays private
//! to the crate everywhere else; it is not an API. The files the targets
//! fuzz are written to a scratch folder the caller owns and empties.

use std::path::Path;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use openraft::EntryPayload;

use crate::controller::quorum::log_store::decode_frames;
use crate::controller::quorum::state_machine::StateMachineStore;
use crate::controller::quorum::MetadataState;
use crate::group::consumer::records as consumer_records;
use crate::group::streams::records as streams_records;
use crate::group::{consumer_protocol, log_format as offsets_format, state::Group, GroupConfig};
use crate::log::leader_epoch_cache::{LeaderEpochCache, CHECKPOINT_FILE};
use crate::log::offset_index::OffsetIndex;
use crate::log::producer_state::{
    load_latest_snapshot, snapshot_path, write_snapshot, ProducerBatch,
};
use crate::log::recovery::{recover_active_segment, recover_sealed_segment};
use crate::log::segment::{index_path, log_path, time_index_path, Segment};
use crate::log::time_index::TimeIndex;
use crate::log::txn_index::{txn_index_path, TxnIndex};
use crate::records::batch::{self, Batch, Batches, Compression, HEADER_SIZE};
use crate::records::compression::decompress;
use crate::records::control::TxnMarker;
use crate::records::record::Records;
use crate::server::api_versions::{is_accepted, ListenerType, ADVERTISED};
use crate::server::codec::{decode_request, Incoming};
use crate::txn::log_format as txn_format;
use crate::types::{LeaderEpoch, Offset};

/// The output cap the record target decompresses with: the broker's is
/// larger (64 MiB and up), the check that enforces it is the same.
const DECOMPRESSION_LIMIT: usize = 1 << 20;

/// Decodes one request frame (the bytes after the size prefix) as a
/// connection does.
pub fn request_frame(frame: &[u8]) {
    if let Ok(Incoming::Request(request)) =
        decode_request(Bytes::copy_from_slice(frame), ListenerType::Broker)
    {
        assert!(is_accepted(request.api_key, request.version()));
    }
}

/// Every (api key, version) gregor serves, in the order of its table.
fn served_versions() -> Vec<(ApiKey, i16)> {
    ADVERTISED
        .iter()
        .flat_map(|range| (range.min..=range.max).map(move |version| (range.api_key, version)))
        .filter(|&(api_key, version)| is_accepted(api_key, version))
        .collect()
}

/// Decodes `rest` as the request of a served (api key, version): the one
/// asked for if it is served, else one picked by it from the table, so that
/// every input reaches a body decoder. `rest` is everything after the
/// client id: the header's tagged fields when the header is flexible, then
/// the body.
pub fn served_request(api_key: i16, version: i16, rest: &[u8]) {
    let served = served_versions();
    let (api_key, version) = match ApiKey::try_from(api_key) {
        Ok(key) if is_accepted(key, version) => (key, version),
        _ => served[usize::from(api_key.unsigned_abs() ^ version.unsigned_abs()) % served.len()],
    };
    let mut frame = Vec::with_capacity(10 + rest.len());
    frame.extend_from_slice(&(api_key as i16).to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    frame.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    frame.extend_from_slice(rest);
    match decode_request(Bytes::from(frame), ListenerType::Broker) {
        Ok(Incoming::Request(request)) => {
            assert_eq!((request.api_key, request.version()), (api_key, version));
        }
        Ok(Incoming::ApiVersionsTooNew { .. }) => panic!("a served version is never too new"),
        Err(_) => {}
    }
}

/// Recomputes the CRC of every whole batch laid end to end in `bytes`, so
/// that a fuzzer's mutations get past the checksum to what lies behind it.
pub fn fix_batch_crcs(bytes: &mut [u8]) {
    let mut position = 0;
    while let Some(Ok(size)) = batch::frame_size(&bytes[position..]) {
        let Some(whole) = bytes.get_mut(position..position + size) else {
            return;
        };
        batch::update_crc(whole);
        position += size;
    }
}

/// Parses batches as produce and the log read them, and for each valid one
/// looks inside as ListOffsets, compaction and the coordinators' loaders do.
pub fn record_batches(bytes: &[u8]) {
    for item in Batches::new(bytes) {
        let Ok((position, batch)) = item else { break };
        assert_eq!(batch.bytes(), &bytes[position..position + batch.size()]);
        let _ = (ProducerBatch::of(&batch), TxnMarker::of(&batch));
        if batch.validate().is_ok() {
            valid_batch(&batch);
        }
    }
}

fn valid_batch(batch: &Batch<'_>) {
    assert!(batch.last_offset() >= batch.base_offset());
    let payload = match batch.compression() {
        Compression::None => batch.records_payload().to_vec(),
        codec => match decompress(codec, batch.records_payload(), DECOMPRESSION_LIMIT) {
            Ok(payload) => {
                assert!(payload.len() <= DECOMPRESSION_LIMIT);
                payload
            }
            Err(_) => return,
        },
    };
    let records: Vec<_> = Records::new(&payload, batch.records_count()).collect();
    assert!(records.len() <= batch.records_count() as usize);
    let raw: Vec<&[u8]> = records.iter().map(|record| record.raw).collect();
    if !raw.is_empty() {
        // What compaction writes from these records is a valid batch with
        // the same offsets and the same records.
        let rewritten = batch::with_records(batch, &raw);
        let copy = Batch::parse(&rewritten).expect("a rewritten batch parses");
        copy.validate().expect("a rewritten batch is valid");
        assert_eq!(
            (copy.base_offset(), copy.last_offset()),
            (batch.base_offset(), batch.last_offset())
        );
        let again: Vec<_> = Records::new(copy.records_payload(), copy.records_count()).collect();
        assert_eq!(again, records);
    }
    // The broker's header patches keep a valid batch valid.
    let mut patched = batch.bytes().to_vec();
    batch::set_base_offset(&mut patched, Offset(1 << 40));
    batch::set_partition_leader_epoch(&mut patched, LeaderEpoch(7));
    batch::set_log_append_time(&mut patched, 1_700_000_000_000);
    let patched = Batch::parse(&patched).expect("a patched batch parses");
    patched.validate().expect("a patched batch is valid");
    assert!(patched.is_log_append_time());
}

/// Decodes a `__consumer_offsets` record as the group coordinator's loader
/// does (an empty value is a tombstone), and checks that what it decoded
/// writes back to records that decode the same.
pub fn consumer_offsets_record(key: &[u8], value: &[u8]) {
    let Some(decoded_key) = offsets_format::decode_key(key) else {
        return;
    };
    match &decoded_key {
        offsets_format::Key::Offset { group, partition } => {
            let written = rewritten(offsets_format::offset_key(group, partition));
            assert_eq!(
                offsets_format::decode_key(&written).as_ref(),
                Some(&decoded_key)
            );
            if let Some(offset) = offsets_format::decode_offset_value(value) {
                let written = rewritten(offsets_format::offset_value(&offset));
                assert_eq!(offsets_format::decode_offset_value(&written), Some(offset));
            }
        }
        offsets_format::Key::Group { group } => {
            let written = rewritten(offsets_format::group_key(group));
            assert_eq!(
                offsets_format::decode_key(&written).as_ref(),
                Some(&decoded_key)
            );
            if let Some(metadata) = offsets_format::decode_group_value(value) {
                for member in &metadata.members {
                    let _ = consumer_protocol::subscription_topics(&member.subscription);
                    let _ = consumer_protocol::assignment_partitions(&member.assignment);
                }
                let restored = restore_group(group, metadata);
                let written = rewritten(offsets_format::group_value(&restored));
                let reread = offsets_format::decode_group_value(&written)
                    .expect("a written group value decodes");
                assert_eq!(
                    rewritten(offsets_format::group_value(&restore_group(group, reread))),
                    written
                );
            }
        }
        offsets_format::Key::Consumer { group, record } => {
            let written = rewritten(record.encode(group));
            assert_eq!(
                offsets_format::decode_key(&written).as_ref(),
                Some(&decoded_key)
            );
            if let Some(decoded) = consumer_records::decode_value(record, value) {
                let written = rewritten(consumer_records::encode_value(&decoded));
                assert_eq!(
                    consumer_records::decode_value(record, &written),
                    Some(decoded)
                );
            }
        }
        offsets_format::Key::Streams { group, record } => {
            let written = rewritten(record.encode(group));
            assert_eq!(
                offsets_format::decode_key(&written).as_ref(),
                Some(&decoded_key)
            );
            if let Some(decoded) = streams_records::decode_value(record, value) {
                let written = rewritten(streams_records::encode_value(&decoded));
                assert_eq!(
                    streams_records::decode_value(record, &written),
                    Some(decoded)
                );
            }
        }
    }
}

/// What a loader decoded came with i16 string lengths, so it always fits the
/// writers' bounds: a refusal here is a bug.
fn rewritten<E: std::fmt::Debug>(written: Result<Vec<u8>, E>) -> Vec<u8> {
    written.expect("what was decoded writes back")
}

fn restore_group(group_id: &str, metadata: offsets_format::GroupMetadata) -> Group {
    let mut group = Group::new(group_id, GroupConfig::default(), 0);
    group.restore(metadata, std::time::Instant::now());
    group
}

/// Decodes a `__transaction_state` record as the transaction coordinator's
/// loader does, and checks that what it decoded writes back to a value that
/// decodes the same.
pub fn transaction_state_record(key: &[u8], value: &[u8]) {
    let Some(transactional_id) = txn_format::decode_key(key) else {
        return;
    };
    assert_eq!(
        txn_format::decode_key(&rewritten(txn_format::key(&transactional_id))).as_deref(),
        Some(transactional_id.as_str())
    );
    if let Some(metadata) = txn_format::decode_value(&transactional_id, value) {
        let written = rewritten(txn_format::value(&metadata));
        let reread = txn_format::decode_value(&transactional_id, &written)
            .expect("a written transaction value decodes");
        assert_eq!(rewritten(txn_format::value(&reread)), written);
    }
}

/// Reads a metadata log file as a controller opens it, and folds its records
/// into the metadata state as the state machine applies them.
pub fn metadata_log(bytes: &[u8]) {
    let (entries, valid) = decode_frames(bytes);
    assert!(valid <= bytes.len());
    let mut state = MetadataState::default();
    for entry in &entries {
        if let EntryPayload::Normal(record) = &entry.payload {
            state.apply(record);
        }
    }
    metadata_state_round_trips(&state);
}

/// Reads a metadata state as a snapshot carries it (`raft-snapshot.json`'s
/// data, or one installed from the leader).
pub fn metadata_state(bytes: &[u8]) {
    if let Ok(state) = serde_json::from_slice::<MetadataState>(bytes) {
        metadata_state_round_trips(&state);
    }
}

fn metadata_state_round_trips(state: &MetadataState) {
    let written = serde_json::to_vec(state).expect("a metadata state serialises");
    let reread: MetadataState =
        serde_json::from_slice(&written).expect("a written metadata state reads back");
    assert_eq!(&reread, state);
}

/// Opens a controller's state machine from a `raft-snapshot.json` holding
/// `bytes`, in the empty folder `dir`.
pub fn metadata_snapshot_file(dir: &Path, bytes: &[u8]) {
    write(&dir.join("raft-snapshot.json"), bytes);
    if let Ok(store) = StateMachineStore::open(dir) {
        metadata_state_round_trips(&store.state());
    }
}

/// Opens an offset index holding `bytes` (of the segment at `base_offset`
/// whose log is `log_size` bytes) as recovery does, both sealed and active,
/// and looks `probes` up in it.
pub fn offset_index(
    dir: &Path,
    base_offset: Offset,
    log_size: u64,
    bytes: &[u8],
    probes: &[Offset],
) {
    let path = index_path(dir, base_offset);
    write(&path, bytes);
    let Ok(sealed) = OffsetIndex::open_sealed(&path, base_offset) else {
        return;
    };
    check_offset_index(&sealed, base_offset, log_size, probes);
    let Ok(mut active) = OffsetIndex::open_active(&path, base_offset) else {
        return;
    };
    assert_eq!(active.len(), sealed.len());
    check_offset_index(&active, base_offset, log_size, probes);
    let cut = (log_size / 2) as u32;
    if active.truncate_to_position(cut).is_ok() {
        assert!(active.last().is_none_or(|last| last.position < cut));
    }
}

fn check_offset_index(index: &OffsetIndex, base_offset: Offset, log_size: u64, probes: &[Offset]) {
    let consistent = index.is_consistent(log_size);
    let _ = index.last();
    for &probe in probes {
        let found = index.lookup(probe);
        if consistent && probe >= base_offset {
            assert!(found.offset <= probe, "{found:?} is past {probe}");
            assert!(found.position == 0 || u64::from(found.position) < log_size);
        }
    }
}

/// Opens a time index holding `bytes` (of the segment at `base_offset`
/// ending before `next_offset`), both sealed and active, and looks the
/// `timestamps` up in it.
pub fn time_index(
    dir: &Path,
    base_offset: Offset,
    next_offset: Offset,
    bytes: &[u8],
    timestamps: &[i64],
) {
    let path = time_index_path(dir, base_offset);
    write(&path, bytes);
    let Ok(sealed) = TimeIndex::open_sealed(&path, base_offset) else {
        return;
    };
    check_time_index(&sealed, base_offset, next_offset, timestamps);
    let Ok(mut active) = TimeIndex::open_active(&path, base_offset) else {
        return;
    };
    assert_eq!(active.len(), sealed.len());
    check_time_index(&active, base_offset, next_offset, timestamps);
    if active.truncate_to_offset(next_offset).is_ok() {
        assert!(active.last().is_none_or(|last| last.offset < next_offset));
    }
}

fn check_time_index(
    index: &TimeIndex,
    base_offset: Offset,
    next_offset: Offset,
    timestamps: &[i64],
) {
    let consistent = index.is_consistent(next_offset);
    for &timestamp in timestamps {
        let start = index.lookup(timestamp);
        if consistent {
            assert!(start >= base_offset && (start == base_offset || start < next_offset));
        }
    }
}

/// One change to a leader-epoch cache, as the partition log makes them.
#[derive(Debug, Clone, Copy)]
pub enum EpochChange {
    Assign(LeaderEpoch, Offset),
    TruncateFromEnd(Offset),
    TruncateFromStart(Offset),
    EndOffsetFor(i32, Offset),
}

/// Loads a `leader-epoch-checkpoint` holding `text`, then makes `changes`;
/// the cache must stay strictly increasing and its file must always load
/// back to what is in memory.
pub fn leader_epoch_checkpoint(dir: &Path, text: &[u8], changes: &[EpochChange]) {
    write(&dir.join(CHECKPOINT_FILE), text);
    let Some(mut cache) = LeaderEpochCache::load(dir) else {
        return;
    };
    for change in changes {
        let written = match *change {
            EpochChange::Assign(epoch, start_offset) => cache.assign(epoch, start_offset),
            EpochChange::TruncateFromEnd(offset) => cache.truncate_from_end(offset),
            EpochChange::TruncateFromStart(offset) => cache.truncate_from_start(offset),
            EpochChange::EndOffsetFor(epoch, log_end_offset) => {
                let (found, _) = cache.end_offset_for(epoch, log_end_offset);
                assert!(found <= epoch || found == -1, "epoch {found} above {epoch}");
                Ok(())
            }
        };
        if written.is_err() {
            return;
        }
        let entries = cache.entries();
        assert!(entries.windows(2).all(
            |pair| pair[0].epoch < pair[1].epoch && pair[0].start_offset < pair[1].start_offset
        ));
        if let Some(reloaded) = LeaderEpochCache::load(dir) {
            assert_eq!(reloaded.entries(), entries);
        }
    }
}

/// Loads a producer-state snapshot file holding `bytes` as a partition
/// opening its log does; what loads must write back to a snapshot that
/// loads the same.
pub fn producer_snapshot(dir: &Path, bytes: &[u8]) {
    let offset = Offset(100);
    write(&snapshot_path(dir, offset), bytes);
    let Ok(Some((found, mut state))) = load_latest_snapshot(dir, offset) else {
        return;
    };
    assert_eq!(found, offset);
    let _ = (state.summaries(), state.first_unstable_offset());
    if write_snapshot(dir, offset, &state).is_ok() {
        let reloaded = load_latest_snapshot(dir, offset).expect("a written snapshot reads");
        assert_eq!(reloaded.map(|(_, state)| state).as_ref(), Some(&state));
    }
    // producer.id.expiration.ms's default, at a realistic now.
    state.expire(1_700_000_000_000, 86_400_000);
}

/// Opens a `.txnindex` holding `bytes`, then cuts it at `truncate_from`; what
/// it keeps in memory must be what the file reloads to.
pub fn txn_index(dir: &Path, bytes: &[u8], truncate_from: Offset) {
    let path = txn_index_path(dir, Offset::ZERO);
    write(&path, bytes);
    let Ok(mut index) = TxnIndex::open(path.clone()) else {
        return;
    };
    assert_eq!(
        TxnIndex::open(path.clone())
            .expect("reopens")
            .entries()
            .to_vec(),
        index.entries().to_vec()
    );
    if index.truncate_from(truncate_from).is_ok() {
        assert!(index
            .entries()
            .to_vec()
            .iter()
            .all(|entry| entry.last_offset < truncate_from));
        assert_eq!(
            TxnIndex::open(path).expect("reopens").entries().to_vec(),
            index.entries().to_vec()
        );
    }
}

/// The files of one segment for [`segment_recovery`].
pub struct SegmentFiles<'a> {
    pub base_offset: Offset,
    pub log: &'a [u8],
    pub offset_index: &'a [u8],
    pub time_index: &'a [u8],
    /// Recovered as a sealed segment (else as the active one).
    pub sealed: bool,
    /// The broker had shut down cleanly (the active segment's indexes are
    /// then trusted if consistent).
    pub clean_shutdown: bool,
}

/// Recovers a segment made of `files` as a partition opening its log does,
/// then reads it as fetch and ListOffsets do.
pub fn segment_recovery(dir: &Path, files: &SegmentFiles<'_>) {
    let base_offset = files.base_offset;
    write(&log_path(dir, base_offset), files.log);
    write(&index_path(dir, base_offset), files.offset_index);
    write(&time_index_path(dir, base_offset), files.time_index);
    let Ok(mut segment) = Segment::open(dir, base_offset, 4096) else {
        return;
    };
    let recovered = if files.sealed {
        recover_sealed_segment(&mut segment, dir)
    } else {
        recover_active_segment(&mut segment, dir, files.clean_shutdown).map(|_| ())
    };
    if recovered.is_err() {
        return;
    }
    assert!(segment.size() <= files.log.len() as u64);
    // A sealed segment's batches are trusted as Kafka trusts those below the
    // recovery point, and so are the active one's up to its last index entry
    // after a clean shutdown: only what recovery validates is checked.
    if !files.sealed && !files.clean_shutdown {
        assert!(segment.next_offset() >= base_offset);
        // What recovery keeps of an active segment is whole, valid batches.
        let kept = &files.log[..segment.size() as usize];
        let mut end = 0;
        for item in Batches::new(kept) {
            let (position, batch) = item.expect("recovery keeps whole batches");
            batch.validate().expect("recovery keeps valid batches");
            end = position + batch.size();
        }
        assert_eq!(end, kept.len());
        assert!(segment.offset_index().is_consistent(segment.size().max(1)));
    }
    for target in [
        base_offset,
        Offset(segment.next_offset().0.saturating_sub(1)),
    ] {
        if let Ok(Some(header)) = segment.find_batch(target) {
            assert!(header.last_offset >= target);
            if let Ok(records) = segment.records(header, HEADER_SIZE, segment.next_offset()) {
                assert!(records.len() as u64 <= segment.size());
                let _ = records.read();
            }
        }
    }
    let _ = segment.find_batch_by_time(0);
}

/// Writes a scratch file; the targets run in a folder of their own, so a
/// failure here is the machine's, not an input's.
fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("the fuzz scratch folder is writable");
}
