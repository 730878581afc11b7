//! Kafka's `replication-offset-checkpoint`: each partition's high watermark,
//! one file per log dir, so that a restarted broker knows how much of its
//! logs its replicas had confirmed. Without it a restarted replica would
//! take its whole log as replicated and let retention delete what no other
//! replica holds. The format is Kafka's: a version line (0), a count line,
//! then `<topic> <partition> <offset>` lines.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use tracing::warn;

use crate::types::{Offset, TopicPartition};

pub const HIGH_WATERMARK_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

/// The checkpointed high watermarks of a log dir; none if the file is
/// missing or unreadable (then every log starts from its log start).
pub fn read(dir: &Path) -> HashMap<TopicPartition, Offset> {
    let path = dir.join(HIGH_WATERMARK_CHECKPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return HashMap::new(),
        Err(error) => {
            warn!(path = %path.display(), %error, "cannot read the high-watermark checkpoint");
            return HashMap::new();
        }
    };
    match parse(&text) {
        Some(entries) => entries,
        None => {
            warn!(path = %path.display(), "ignoring a malformed high-watermark checkpoint");
            HashMap::new()
        }
    }
}

fn parse(text: &str) -> Option<HashMap<TopicPartition, Offset>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = HashMap::new();
    for line in lines.take(count) {
        let mut fields = line.split(' ');
        let (topic, partition, offset) = (fields.next()?, fields.next()?, fields.next()?);
        entries.insert(
            TopicPartition::new(topic, partition.parse().ok()?),
            Offset(offset.parse().ok()?),
        );
    }
    (entries.len() == count).then_some(entries)
}

/// Replaces the log dir's checkpoint with `entries`.
pub fn write(dir: &Path, entries: &[(TopicPartition, Offset)]) -> io::Result<()> {
    let mut text = format!("0\n{}\n", entries.len());
    for (topic_partition, offset) in entries {
        text += &format!(
            "{} {} {}\n",
            topic_partition.topic, topic_partition.partition, offset
        );
    }
    crate::durable::write_atomically(&dir.join(HIGH_WATERMARK_CHECKPOINT_FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_watermarks_survive_a_write_and_a_read_and_junk_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_empty());
        let entries = vec![
            (TopicPartition::new("orders", 0), Offset(42)),
            (TopicPartition::new("a-b", 3), Offset(0)),
        ];
        write(dir.path(), &entries).unwrap();
        let text =
            std::fs::read_to_string(dir.path().join(HIGH_WATERMARK_CHECKPOINT_FILE)).unwrap();
        assert!(text.starts_with("0\n2\n"), "{text}");
        let back = read(dir.path());
        assert_eq!(back.len(), 2);
        assert_eq!(back[&TopicPartition::new("a-b", 3)], Offset(0));
        std::fs::write(
            dir.path().join(HIGH_WATERMARK_CHECKPOINT_FILE),
            "0\n3\nx 1 2\n",
        )
        .unwrap();
        assert!(read(dir.path()).is_empty());
    }
}
