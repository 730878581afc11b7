//! All partition logs under the data directory: finding them at start-up,
//! creating and deleting them, and the clean-shutdown marker that tells
//! recovery whether the last run closed its logs.

use std::path::{Path, PathBuf};

use tracing::warn;

use super::{LogError, PartitionLog};
use crate::config::LogConfig;
use crate::types::TopicPartition;

/// Present while no broker runs on the directory after a clean stop.
const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

pub struct LogManager {
    data_dir: PathBuf,
    clean_shutdown: bool,
}

impl LogManager {
    /// Takes the data directory, noting (and clearing) the clean-shutdown
    /// marker: from now until [`LogManager::mark_clean_shutdown`], a crash
    /// leaves the directory "unclean".
    pub fn open(data_dir: &Path) -> Result<LogManager, LogError> {
        std::fs::create_dir_all(data_dir)?;
        let marker = data_dir.join(CLEAN_SHUTDOWN_FILE);
        let clean_shutdown = marker.exists();
        if clean_shutdown {
            std::fs::remove_file(&marker)?;
        }
        Ok(LogManager {
            data_dir: data_dir.to_path_buf(),
            clean_shutdown,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn partition_dir(&self, partition: &TopicPartition) -> PathBuf {
        self.data_dir.join(partition.dir_name())
    }

    /// Opens (creating if missing) one partition's log.
    pub fn open_log(
        &self,
        partition: &TopicPartition,
        config: LogConfig,
    ) -> Result<PartitionLog, LogError> {
        PartitionLog::open(&self.partition_dir(partition), config, self.clean_shutdown)
    }

    /// Partition folders found on disk, by `<topic>-<partition>` name.
    pub fn partitions_on_disk(&self) -> Result<Vec<TopicPartition>, LogError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.data_dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name == crate::controller::quorum::METADATA_LOG_DIR {
                continue;
            }
            match name.rsplit_once('-').map(|(t, p)| (t, p.parse::<i32>())) {
                Some((topic, Ok(partition))) if !topic.is_empty() && partition >= 0 => {
                    found.push(TopicPartition::new(topic, partition))
                }
                _ => warn!(
                    folder = name,
                    "ignoring folder that is not <topic>-<partition>"
                ),
            }
        }
        found.sort();
        Ok(found)
    }

    /// Writes the marker after every log was flushed and closed.
    pub fn mark_clean_shutdown(&self) -> Result<(), LogError> {
        std::fs::write(self.data_dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        Ok(())
    }
}
