//! A fetcher's side of an incremental fetch session (KIP-227), as the Java
//! client's `FetchSessionHandler`: the first fetch names every partition
//! and asks for a session; later ones name only the partitions whose
//! position or limits changed, and those to forget. Any doubt about the
//! session (an error, a lost answer) goes back to a full fetch, which
//! replaces the old session.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

use crate::types::TopicPartition;

/// The session id of "no session".
pub const INVALID_SESSION_ID: i32 = 0;
/// The epoch of a full fetch that creates a session.
pub const INITIAL_EPOCH: i32 = 0;
/// The epoch of a full fetch that wants no session.
pub const FINAL_EPOCH: i32 = -1;

/// The epoch that follows `epoch` (Kafka's `FetchMetadata.nextEpoch`).
pub fn next_epoch(epoch: i32) -> i32 {
    match epoch {
        e if e < 0 => FINAL_EPOCH,
        i32::MAX => 1,
        e => e + 1,
    }
}

/// One fetch's session fields and partitions.
pub struct SessionFetch {
    pub session_id: i32,
    pub epoch: i32,
    pub topics: Vec<FetchTopic>,
    pub forgotten: Vec<ForgottenTopic>,
}

#[derive(Debug, Default)]
pub struct SessionHandler {
    /// The session the leader keeps for us (or the one a full fetch
    /// replaces), `INVALID_SESSION_ID` for none.
    id: i32,
    /// The epoch of the next fetch: `INITIAL_EPOCH` makes it a full one.
    epoch: i32,
    /// What the leader's session holds: each partition as last sent.
    sent: BTreeMap<TopicPartition, FetchPartition>,
}

impl SessionHandler {
    /// The next fetch of `wanted` (every partition and its parameters).
    pub fn next(&self, wanted: &BTreeMap<TopicPartition, FetchPartition>) -> SessionFetch {
        let full = self.epoch == INITIAL_EPOCH;
        let changed = wanted
            .iter()
            .filter(|(partition, fetch)| full || self.sent.get(*partition) != Some(*fetch));
        let forgotten = match full {
            true => Vec::new(),
            false => forgotten(self.sent.keys().filter(|p| !wanted.contains_key(*p))),
        };
        SessionFetch {
            session_id: self.id,
            epoch: self.epoch,
            topics: by_topic(changed),
            forgotten,
        }
    }

    /// Takes the leader's answer to `next(wanted)`: its top-level error
    /// and session id.
    pub fn answered(
        &mut self,
        wanted: &BTreeMap<TopicPartition, FetchPartition>,
        error: Option<ResponseError>,
        session_id: i32,
    ) {
        match error {
            None if self.epoch == INITIAL_EPOCH => {
                self.id = session_id;
                self.epoch = match session_id {
                    INVALID_SESSION_ID => INITIAL_EPOCH,
                    _ => next_epoch(INITIAL_EPOCH),
                };
            }
            None => self.epoch = next_epoch(self.epoch),
            // The leader has no such session any more.
            Some(
                ResponseError::FetchSessionIdNotFound | ResponseError::FetchSessionTopicIdError,
            ) => {
                self.id = INVALID_SESSION_ID;
                self.epoch = INITIAL_EPOCH;
            }
            // Its session may be out of step: replace it.
            Some(_) => self.epoch = INITIAL_EPOCH,
        }
        self.sent = match self.epoch {
            INITIAL_EPOCH => BTreeMap::new(),
            _ => wanted.clone(),
        };
    }

    /// The fetch failed on the way (no answer): the next one is full, and
    /// replaces the session the leader may still keep.
    pub fn failed(&mut self) {
        self.epoch = INITIAL_EPOCH;
        self.sent.clear();
    }
}

fn by_topic<'a>(
    partitions: impl Iterator<Item = (&'a TopicPartition, &'a FetchPartition)>,
) -> Vec<FetchTopic> {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (topic_partition, fetch) in partitions {
        match topics.last_mut() {
            Some(last) if last.topic.as_str() == topic_partition.topic => {
                last.partitions.push(fetch.clone())
            }
            _ => topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(
                        topic_partition.topic.clone(),
                    )))
                    .with_partitions(vec![fetch.clone()]),
            ),
        }
    }
    topics
}

fn forgotten<'a>(partitions: impl Iterator<Item = &'a TopicPartition>) -> Vec<ForgottenTopic> {
    let mut topics: Vec<ForgottenTopic> = Vec::new();
    for topic_partition in partitions {
        match topics.last_mut() {
            Some(last) if last.topic.as_str() == topic_partition.topic => {
                last.partitions.push(topic_partition.partition)
            }
            _ => topics.push(
                ForgottenTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(
                        topic_partition.topic.clone(),
                    )))
                    .with_partitions(vec![topic_partition.partition]),
            ),
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(offsets: &[(i32, i64)]) -> BTreeMap<TopicPartition, FetchPartition> {
        offsets
            .iter()
            .map(|(partition, offset)| {
                (
                    TopicPartition::new("t", *partition),
                    FetchPartition::default()
                        .with_partition(*partition)
                        .with_fetch_offset(*offset),
                )
            })
            .collect()
    }

    fn named(fetch: &SessionFetch) -> Vec<i32> {
        fetch
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.partition))
            .collect()
    }

    #[test]
    fn a_session_sends_only_what_changed_and_starts_over_on_doubt() {
        let mut handler = SessionHandler::default();
        let first = wanted(&[(0, 0), (1, 0), (2, 0)]);
        let fetch = handler.next(&first);
        assert_eq!((fetch.session_id, fetch.epoch), (0, INITIAL_EPOCH));
        assert_eq!(named(&fetch), [0, 1, 2]);
        handler.answered(&first, None, 77);

        // Partition 1 moved on, partition 2 is no longer followed.
        let second = wanted(&[(0, 0), (1, 5)]);
        let fetch = handler.next(&second);
        assert_eq!((fetch.session_id, fetch.epoch), (77, 1));
        assert_eq!(named(&fetch), [1]);
        assert_eq!(fetch.forgotten[0].partitions, [2]);
        handler.answered(&second, None, 77);
        let fetch = handler.next(&second);
        assert_eq!(fetch.epoch, 2);
        assert!(fetch.topics.is_empty() && fetch.forgotten.is_empty());

        // A lost answer: a full fetch replacing session 77.
        handler.failed();
        let fetch = handler.next(&second);
        assert_eq!((fetch.session_id, fetch.epoch), (77, INITIAL_EPOCH));
        assert_eq!(named(&fetch), [0, 1]);
        // The leader kept no session: full fetches from then on.
        handler.answered(&second, None, INVALID_SESSION_ID);
        assert_eq!(handler.next(&second).epoch, INITIAL_EPOCH);
        handler.answered(&second, None, 9);
        handler.answered(&second, Some(ResponseError::FetchSessionIdNotFound), 0);
        let fetch = handler.next(&second);
        assert_eq!((fetch.session_id, fetch.epoch), (0, INITIAL_EPOCH));
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(FINAL_EPOCH), FINAL_EPOCH);
    }
}
