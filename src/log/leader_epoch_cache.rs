//! The leader-epoch cache of one partition, as Kafka's
//! `LeaderEpochFileCache` keeps it: for every leader epoch that wrote to the
//! log, the offset of its first batch. Replication asks it where an epoch
//! ended (OffsetsForLeaderEpoch), so that a follower truncates exactly the
//! records a new leader does not have.
//!
//! It lives in `leader-epoch-checkpoint` in the partition folder, in Kafka's
//! text format — a version line (`0`), an entry count, then one
//! `epoch startOffset` line per entry — rewritten atomically whenever an
//! entry changes, which happens only when a new epoch starts writing, on
//! truncation and when the log start moves.
//!
//! Entries are strictly increasing in both epoch and start offset. The cache
//! never reads the log: the partition log feeds it, and rebuilds it from the
//! batch headers when the file is missing or unreadable.

use std::io;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

use crate::types::{LeaderEpoch, Offset};

pub const CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
const CHECKPOINT_VERSION: i32 = 0;

/// The epoch `end_offset_for` answers when it knows nothing of the epoch
/// asked for (Kafka's `UNDEFINED_EPOCH`).
pub const UNDEFINED_EPOCH: i32 = -1;
/// The end offset that goes with [`UNDEFINED_EPOCH`] (`UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_EPOCH_OFFSET: Offset = Offset(-1);

/// A leader epoch and the offset of the first batch it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: LeaderEpoch,
    pub start_offset: Offset,
}

#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// An empty cache for the partition in `dir`; nothing is written yet.
    pub fn empty(dir: &Path) -> LeaderEpochCache {
        LeaderEpochCache {
            path: dir.join(CHECKPOINT_FILE),
            entries: Vec::new(),
        }
    }

    /// Loads the checkpoint of the partition in `dir`. `None` if it is
    /// missing or cannot be trusted: the caller rebuilds it from the log.
    pub fn load(dir: &Path) -> Option<LeaderEpochCache> {
        let path = dir.join(CHECKPOINT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                if error.kind() != io::ErrorKind::NotFound {
                    warn!(path = %path.display(), %error, "cannot read the leader-epoch checkpoint");
                }
                return None;
            }
        };
        match parse_checkpoint(&text) {
            Some(entries) => Some(LeaderEpochCache { path, entries }),
            None => {
                warn!(path = %path.display(), "corrupt leader-epoch checkpoint");
                None
            }
        }
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|entry| entry.epoch)
    }

    /// Notes that a batch of `epoch` was appended at `start_offset`: a new
    /// entry if the epoch is newer than the latest. Like Kafka, a batch of an
    /// older epoch changes nothing (it is only logged).
    pub fn assign(&mut self, epoch: LeaderEpoch, start_offset: Offset) -> io::Result<()> {
        if self.add(epoch, start_offset) {
            self.write()?;
        }
        Ok(())
    }

    /// Adds an entry in memory; true if the cache changed.
    fn add(&mut self, epoch: LeaderEpoch, start_offset: Offset) -> bool {
        // Batches written before leader epochs existed carry -1.
        if epoch.0 < 0 || start_offset < Offset::ZERO {
            return false;
        }
        if let Some(latest) = self.entries.last().copied() {
            if epoch <= latest.epoch {
                if epoch < latest.epoch {
                    warn!(path = %self.path.display(), epoch = epoch.0, %start_offset,
                          latest_epoch = latest.epoch.0, "ignoring a batch of an older leader epoch");
                }
                return false;
            }
            if start_offset <= latest.start_offset {
                // A newer epoch starting before the latest one means the log
                // was cut without the cache; keep it monotonic, as Kafka does,
                // by dropping the entries the new one contradicts.
                warn!(path = %self.path.display(), epoch = epoch.0, %start_offset,
                      "new leader epoch truncates conflicting cache entries");
                self.entries
                    .retain(|entry| entry.start_offset < start_offset);
            }
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        debug!(path = %self.path.display(), epoch = epoch.0, %start_offset, "new leader epoch");
        true
    }

    /// Where `requested_epoch` ended, as Kafka's `endOffsetFor` answers
    /// OffsetsForLeaderEpoch: the epoch itself and the log end offset if it
    /// is the latest; otherwise the greatest epoch at or below it and the
    /// start of the first epoch above it; the requested epoch itself if all
    /// known epochs are above it (the log start moved past it); and
    /// ([`UNDEFINED_EPOCH`], [`UNDEFINED_EPOCH_OFFSET`]) if no epoch above it
    /// is known.
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: Offset) -> (i32, Offset) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested_epoch == UNDEFINED_EPOCH {
            return undefined;
        }
        if self
            .latest_epoch()
            .is_some_and(|latest| latest.0 == requested_epoch)
        {
            return (requested_epoch, log_end_offset);
        }
        let Some(higher) = self
            .entries
            .iter()
            .position(|entry| entry.epoch.0 > requested_epoch)
        else {
            return undefined;
        };
        let end_offset = self.entries[higher].start_offset;
        match higher.checked_sub(1) {
            None => (requested_epoch, end_offset),
            Some(floor) => (self.entries[floor].epoch.0, end_offset),
        }
    }

    /// The log was truncated to `end_offset`: forgets the epochs that
    /// started at or after it.
    pub fn truncate_from_end(&mut self, end_offset: Offset) -> io::Result<()> {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.start_offset < end_offset);
        if self.entries.len() != before {
            self.write()?;
        }
        Ok(())
    }

    /// The log start moved to `start_offset` (retention, DeleteRecords):
    /// forgets the epochs wholly before it and starts the one covering it
    /// there, as Kafka's `truncateFromStart` does.
    pub fn truncate_from_start(&mut self, start_offset: Offset) -> io::Result<()> {
        let covered = self
            .entries
            .iter()
            .take_while(|entry| entry.start_offset <= start_offset)
            .count();
        let Some(covering) = covered.checked_sub(1) else {
            return Ok(());
        };
        if covering == 0 && self.entries[0].start_offset == start_offset {
            return Ok(());
        }
        let epoch = self.entries[covering].epoch;
        self.entries.drain(..covering);
        self.entries[0] = EpochEntry {
            epoch,
            start_offset,
        };
        self.write()
    }

    /// Forgets every epoch (the log was deleted and starts anew).
    pub fn clear(&mut self) -> io::Result<()> {
        self.entries.clear();
        self.write()
    }

    fn write(&self) -> io::Result<()> {
        crate::durable::write_atomically(&self.path, format_checkpoint(&self.entries).as_bytes())
    }
}

fn format_checkpoint(entries: &[EpochEntry]) -> String {
    let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", entries.len());
    for entry in entries {
        text.push_str(&format!("{} {}\n", entry.epoch.0, entry.start_offset.0));
    }
    text
}

/// Parses Kafka's checkpoint text; `None` unless it is well formed, holds
/// exactly the announced number of entries and they strictly increase.
fn parse_checkpoint(text: &str) -> Option<Vec<EpochEntry>> {
    let mut lines = text.lines();
    if lines.next()?.trim().parse::<i32>().ok()? != CHECKPOINT_VERSION {
        return None;
    }
    let count = lines.next()?.trim().parse::<usize>().ok()?;
    let mut entries: Vec<EpochEntry> = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let mut fields = lines.next()?.split_whitespace();
        let entry = EpochEntry {
            epoch: LeaderEpoch(fields.next()?.parse().ok()?),
            start_offset: Offset(fields.next()?.parse().ok()?),
        };
        if fields.next().is_some() || entry.epoch.0 < 0 || entry.start_offset < Offset::ZERO {
            return None;
        }
        if entries.last().is_some_and(|previous| {
            previous.epoch >= entry.epoch || previous.start_offset >= entry.start_offset
        }) {
            return None;
        }
        entries.push(entry);
    }
    if lines.any(|line| !line.trim().is_empty()) {
        return None;
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with(dir: &Path, entries: &[(i32, i64)]) -> LeaderEpochCache {
        let mut cache = LeaderEpochCache::empty(dir);
        for &(epoch, start_offset) in entries {
            cache
                .assign(LeaderEpoch(epoch), Offset(start_offset))
                .unwrap();
        }
        cache
    }

    fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
        cache
            .entries()
            .iter()
            .map(|entry| (entry.epoch.0, entry.start_offset.0))
            .collect()
    }

    fn file_text(dir: &Path) -> String {
        std::fs::read_to_string(dir.join(CHECKPOINT_FILE)).unwrap()
    }

    #[test]
    fn assign_adds_only_newer_epochs_and_writes_kafkas_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = cache_with(dir.path(), &[(2, 6), (2, 7), (3, 8)]);
        assert_eq!(pairs(&cache), vec![(2, 6), (3, 8)]);
        cache.assign(LeaderEpoch(1), Offset(9)).unwrap();
        cache.assign(LeaderEpoch(-1), Offset(9)).unwrap();
        assert_eq!(pairs(&cache), vec![(2, 6), (3, 8)], "older epochs ignored");
        assert_eq!(cache.latest_epoch(), Some(LeaderEpoch(3)));
        assert_eq!(file_text(dir.path()), "0\n2\n2 6\n3 8\n");
        let loaded = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(loaded.entries(), cache.entries());
    }

    #[test]
    fn a_newer_epoch_starting_too_early_drops_the_entries_it_contradicts() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_with(dir.path(), &[(1, 0), (2, 10), (3, 20), (4, 15)]);
        assert_eq!(pairs(&cache), vec![(1, 0), (2, 10), (4, 15)]);
    }

    #[test]
    fn end_offset_for_the_latest_epoch_is_the_log_end_offset() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_with(dir.path(), &[(2, 6), (3, 8), (4, 11)]);
        assert_eq!(cache.end_offset_for(4, Offset(20)), (4, Offset(20)));
    }

    #[test]
    fn end_offset_for_is_undefined_for_an_undefined_or_unknown_later_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let empty = LeaderEpochCache::empty(dir.path());
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        assert_eq!(empty.end_offset_for(0, Offset(5)), undefined);
        assert_eq!(empty.end_offset_for(-1, Offset(5)), undefined);
        let cache = cache_with(dir.path(), &[(2, 100)]);
        assert_eq!(cache.end_offset_for(-1, Offset(150)), undefined);
        assert_eq!(cache.end_offset_for(3, Offset(150)), undefined);
    }

    #[test]
    fn end_offset_for_an_epoch_below_the_first_is_the_first_start_offset() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_with(dir.path(), &[(5, 11), (6, 12)]);
        assert_eq!(cache.end_offset_for(4, Offset(20)), (4, Offset(11)));
    }

    #[test]
    fn end_offset_for_an_earlier_epoch_is_where_the_next_known_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache_with(dir.path(), &[(0, 10), (2, 13), (4, 17)]);
        let end = |epoch| cache.end_offset_for(epoch, Offset(30));
        assert_eq!(end(0), (0, Offset(13)));
        assert_eq!(end(1), (0, Offset(13)), "no epoch 1: the floor is 0");
        assert_eq!(end(2), (2, Offset(17)));
        assert_eq!(end(3), (2, Offset(17)));
        assert_eq!(end(4), (4, Offset(30)));
        assert_eq!(end(5), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET));
    }

    #[test]
    fn truncate_from_end_drops_epochs_starting_at_or_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = cache_with(dir.path(), &[(2, 6), (3, 8), (4, 11)]);
        cache.truncate_from_end(Offset(12)).unwrap();
        assert_eq!(pairs(&cache), vec![(2, 6), (3, 8), (4, 11)]);
        cache.truncate_from_end(Offset(9)).unwrap();
        assert_eq!(pairs(&cache), vec![(2, 6), (3, 8)]);
        cache.truncate_from_end(Offset(8)).unwrap();
        assert_eq!(pairs(&cache), vec![(2, 6)]);
        assert_eq!(file_text(dir.path()), "0\n1\n2 6\n");
        cache.truncate_from_end(Offset(1)).unwrap();
        assert_eq!(pairs(&cache), vec![]);
        assert_eq!(file_text(dir.path()), "0\n0\n");
    }

    #[test]
    fn truncate_from_start_moves_the_covering_epoch_to_the_new_start() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [(2, 6), (3, 8), (4, 11)];
        let truncated = |start| {
            let mut cache = cache_with(dir.path(), &entries);
            cache.truncate_from_start(Offset(start)).unwrap();
            pairs(&cache)
        };
        assert_eq!(truncated(5), vec![(2, 6), (3, 8), (4, 11)]);
        assert_eq!(truncated(6), vec![(2, 6), (3, 8), (4, 11)]);
        assert_eq!(truncated(8), vec![(3, 8), (4, 11)]);
        assert_eq!(truncated(9), vec![(3, 9), (4, 11)]);
        assert_eq!(truncated(15), vec![(4, 15)]);
        assert_eq!(file_text(dir.path()), "0\n1\n4 15\n");
    }

    #[test]
    fn a_malformed_checkpoint_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LeaderEpochCache::load(dir.path()).is_none(), "missing");
        for text in [
            "",
            "1\n0\n",
            "0\n2\n1 0\n",
            "0\n1\n1 0\n2 5\n",
            "0\n2\n2 0\n1 5\n",
            "0\n2\n1 5\n2 5\n",
            "0\n1\n1 x\n",
            "0\n1\n1 0 7\n",
        ] {
            std::fs::write(dir.path().join(CHECKPOINT_FILE), text).unwrap();
            assert!(LeaderEpochCache::load(dir.path()).is_none(), "{text:?}");
        }
        std::fs::write(dir.path().join(CHECKPOINT_FILE), "0\n2\n1 0\n3 5\n").unwrap();
        let cache = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(pairs(&cache), vec![(1, 0), (3, 5)]);
    }
}
