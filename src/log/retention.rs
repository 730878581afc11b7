//! Moving the log start forward (Kafka's `UnifiedLog` retention and
//! `deleteRecords`): whole segments past `retention.ms` or
//! `retention.bytes`, and DeleteRecords, never above the high watermark.

use tracing::info;

use super::partition_log::LOG_START_OFFSET_FILE;
use super::segment::Segment;
use super::{LogError, PartitionLog};
use crate::config::topic::CleanupPolicy;
use crate::types::Offset;

impl PartitionLog {
    /// Deletes whole segments that retention no longer keeps: older than
    /// `retention.ms` (by their largest timestamp) or beyond
    /// `retention.bytes`, and only those wholly below the high watermark:
    /// records not yet replicated are never deleted on the leader, or a
    /// failover would lose them. Returns the number of segments removed.
    pub fn apply_retention(
        &mut self,
        now_ms: i64,
        high_watermark: Offset,
    ) -> Result<usize, LogError> {
        if self.config.cleanup_policy == CleanupPolicy::Compact {
            return Ok(0);
        }
        let mut removable = Vec::new();
        let mut size = self.size_bytes() as i64;
        let active_base = self.active().base_offset();
        for (base_offset, segment) in &self.segments {
            if segment.is_empty() && *base_offset == active_base {
                break;
            }
            if segment.next_offset() > high_watermark {
                break;
            }
            let expired = self.config.retention_ms >= 0
                && segment
                    .max_timestamp()
                    .is_some_and(|max| now_ms - max.timestamp > self.config.retention_ms);
            let over_size = self.config.retention_bytes >= 0
                && size - segment.size() as i64 >= self.config.retention_bytes;
            if !(expired || over_size) {
                break;
            }
            size -= segment.size() as i64;
            removable.push(*base_offset);
        }
        // Like Kafka, an expired active segment goes too once all of it is
        // below the high watermark: roll first, so the log keeps an empty
        // active segment at its end offset.
        if removable.last() == Some(&active_base) {
            self.roll()?;
        }
        let mut removed = Vec::new();
        for base_offset in &removable {
            removed.extend(self.segments.remove(base_offset));
        }
        // Readers see the segments gone before their files are.
        self.refresh_view();
        for segment in removed {
            info!(dir = %self.dir.display(), base_offset = %segment.base_offset(), "deleting segment past retention");
            segment.delete_files(&self.dir)?;
        }
        if let Some(first) = self.segments.keys().next().copied() {
            if first > self.log_start_offset {
                self.set_log_start_offset(first)?;
            }
        }
        Ok(removable.len())
    }

    /// DeleteRecords: moves the log start offset up to `offset` (at most the
    /// high watermark) and deletes the segments wholly before it.
    pub fn delete_records_before(
        &mut self,
        offset: Offset,
        high_watermark: Offset,
    ) -> Result<Offset, LogError> {
        if offset < Offset::ZERO || offset > high_watermark {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: high_watermark,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        let active_base = self.active().base_offset();
        let removable: Vec<Offset> = self
            .segments
            .values()
            .filter(|segment| {
                segment.base_offset() != active_base && segment.next_offset() <= offset
            })
            .map(Segment::base_offset)
            .collect();
        let mut removed = Vec::new();
        for base_offset in removable {
            removed.extend(self.segments.remove(&base_offset));
        }
        self.set_log_start_offset(offset)?;
        for segment in removed {
            segment.delete_files(&self.dir)?;
        }
        info!(dir = %self.dir.display(), log_start_offset = %offset, "records deleted");
        Ok(offset)
    }

    pub(super) fn set_log_start_offset(&mut self, offset: Offset) -> Result<(), LogError> {
        self.log_start_offset = offset;
        self.refresh_view();
        self.leader_epochs.truncate_from_start(offset)?;
        let path = self.dir.join(LOG_START_OFFSET_FILE);
        let temporary = self.dir.join(format!("{LOG_START_OFFSET_FILE}.tmp"));
        std::fs::write(&temporary, offset.0.to_string())?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }
}
