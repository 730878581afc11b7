//! The fault plane: deterministic faults that tests arm over the admin HTTP
//! listener — the next N matching requests fail with a chosen Kafka error,
//! wait before being handled, lose their connection mid-response, or are
//! throttled as a quota would throttle them.
//!
//! Faults are exact ("the next 3 Produce requests for topic t"), never
//! probabilistic, so a test that arms one knows what its client will see.
//! A fault can wait for its moment: `"after": {"topic": "t", "records": 1000}`
//! arms it once 1,000 more records have been appended to topic t.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, RequestKind};
use serde::{Deserialize, Serialize};

use crate::metadata::MetadataImage;

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this Kafka error code instead of handling the request.
    Error(i16),
    /// Handle the request after this many milliseconds.
    LatencyMs(u64),
    /// Handle the request, send half of the response, close the connection.
    Disconnect,
    /// Handle the request, answer it with `throttle_time_ms` set to this,
    /// and read nothing more from the connection for as long: what a
    /// client over its quota sees (KIP-219).
    ThrottleMs(u64),
}

/// A fault as armed: which requests it matches, what it does, how often.
/// Unknown fields are refused: a misspelt filter would match everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub id: u64,
    /// The API by Kafka's name ("Produce") or key (0, or "0").
    #[serde(deserialize_with = "name_or_key")]
    pub api: String,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub client_id: Option<String>,
    pub action: FaultAction,
    /// How many more requests it applies to.
    pub count: u32,
    /// When it starts to apply: after this many more records to a topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
}

/// An API given by name or by key, as a string or a JSON number.
fn name_or_key<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrKey {
        Name(String),
        Key(i16),
    }
    Ok(match NameOrKey::deserialize(deserializer)? {
        NameOrKey::Name(name) => name,
        NameOrKey::Key(key) => key.to_string(),
    })
}

/// A fault's schedule: it waits until `records` more records have been
/// appended to `topic` (counted from when it was armed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    pub topic: String,
    pub records: u64,
}

impl Fault {
    fn api_key(&self) -> Option<ApiKey> {
        match self.api.parse::<i16>() {
            Ok(key) => ApiKey::try_from(key).ok(),
            Err(_) => (0..100)
                .filter_map(|key| ApiKey::try_from(key).ok())
                .find(|key| format!("{key:?}").eq_ignore_ascii_case(&self.api)),
        }
    }

    fn matches(&self, api_key: ApiKey, client_id: &str, partitions: &[(String, i32)]) -> bool {
        if self.count == 0 || self.api_key() != Some(api_key) {
            return false;
        }
        if self.after.as_ref().is_some_and(|after| after.records > 0) {
            return false;
        }
        if self
            .client_id
            .as_deref()
            .is_some_and(|wanted| wanted != client_id)
        {
            return false;
        }
        partitions.is_empty() && self.topic.is_none() && self.partition.is_none()
            || partitions.iter().any(|(t, p)| {
                self.topic.as_ref().is_none_or(|wanted| wanted == t)
                    && self.partition.is_none_or(|wanted| wanted == *p)
            })
    }
}

/// The topic-partitions a request addresses, for matching faults; topics
/// named by id are looked up in `image`.
pub fn addressed_partitions(request: &RequestKind, image: &MetadataImage) -> Vec<(String, i32)> {
    match request {
        RequestKind::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| {
                let name = image.requested_topic(&t.name, t.topic_id);
                t.partition_data
                    .iter()
                    .map(move |p| (name.clone(), p.index))
            })
            .collect(),
        RequestKind::Fetch(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                let name = image.requested_topic(&t.topic, t.topic_id);
                t.partitions
                    .iter()
                    .map(move |p| (name.clone(), p.partition))
            })
            .collect(),
        RequestKind::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_index))
            })
            .collect(),
        RequestKind::Metadata(r) => r
            .topics
            .iter()
            .flatten()
            .filter_map(|t| t.name.as_ref().map(|n| (n.to_string(), -1)))
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
    /// Whether `armed` may hold a fault: every request checks it, and
    /// takes the lock only when it does (the plane costs nothing unused).
    any_armed: AtomicBool,
    /// Whether an armed fault waits for records: only then are appended
    /// records counted.
    any_scheduled: AtomicBool,
    next_id: Mutex<u64>,
}

impl Faults {
    pub fn arm(&self, mut fault: Fault) -> Result<Fault, String> {
        let Some(api_key) = fault.api_key() else {
            return Err(format!("unknown api {:?}", fault.api));
        };
        if super::api_versions::advertised(api_key).is_none() {
            return Err(format!("{api_key:?} is not served by this broker"));
        }
        if fault.count == 0 {
            return Err("count must be at least 1".to_string());
        }
        let mut next_id = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
        *next_id += 1;
        fault.id = *next_id;
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if fault.after.is_some() {
            self.any_scheduled.store(true, Ordering::Release);
        }
        armed.push(fault.clone());
        self.any_armed.store(true, Ordering::Release);
        Ok(fault)
    }

    /// Whether appended records are being counted for a scheduled fault.
    pub fn counts_records(&self) -> bool {
        self.any_scheduled.load(Ordering::Acquire)
    }

    /// Counts records appended to `topic` toward the faults waiting on it.
    pub fn records_appended(&self, topic: &str, records: u64) {
        if !self.counts_records() {
            return;
        }
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        for after in armed.iter_mut().filter_map(|f| f.after.as_mut()) {
            if after.topic == topic {
                after.records = after.records.saturating_sub(records);
            }
        }
        let waiting = armed
            .iter()
            .any(|f| f.after.as_ref().is_some_and(|a| a.records > 0));
        self.any_scheduled.store(waiting, Ordering::Release);
    }

    pub fn list(&self) -> Vec<Fault> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        armed.clear();
        self.any_armed.store(false, Ordering::Release);
        self.any_scheduled.store(false, Ordering::Release);
    }

    /// The action for a request, if an armed fault matches; that fault's
    /// count goes down by one (and it is dropped at zero).
    /// `image` is asked for only when a fault is armed.
    pub fn take(
        &self,
        api_key: ApiKey,
        client_id: &str,
        request: &RequestKind,
        image: impl FnOnce() -> Arc<MetadataImage>,
    ) -> Option<FaultAction> {
        if !self.any_armed.load(Ordering::Acquire) {
            return None;
        }
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if armed.is_empty() {
            return None;
        }
        let partitions = addressed_partitions(request, &image());
        let index = armed
            .iter()
            .position(|f| f.matches(api_key, client_id, &partitions))?;
        let action = armed[index].action.clone();
        armed[index].count -= 1;
        if armed[index].count == 0 {
            armed.remove(index);
            self.any_armed.store(!armed.is_empty(), Ordering::Release);
        }
        Some(action)
    }
}

/// How many records a Produce request carries for one partition.
pub struct ProducedRecords {
    pub topic: String,
    /// From Produce v13, which names topics by id (nil before).
    pub topic_id: uuid::Uuid,
    pub partition: i32,
    pub records: u64,
}

/// The records a Produce request carries, by (topic, partition), for
/// counting them once they are appended.
pub fn produced_records(request: &RequestKind, image: &MetadataImage) -> Vec<ProducedRecords> {
    let RequestKind::Produce(produce) = request else {
        return Vec::new();
    };
    produce
        .topic_data
        .iter()
        .flat_map(|topic| {
            let name = image.requested_topic(&topic.name, topic.topic_id);
            topic.partition_data.iter().map(move |partition| {
                let records = partition.records.as_deref().map_or(0, |bytes| {
                    crate::records::batch::Batches::new(bytes)
                        .flatten()
                        .map(|(_, batch)| u64::try_from(batch.records_count()).unwrap_or(0))
                        .sum()
                });
                ProducedRecords {
                    topic: name.clone(),
                    topic_id: topic.topic_id,
                    partition: partition.index,
                    records,
                }
            })
        })
        .collect()
}

/// How long a latency fault waits.
pub fn latency(ms: u64) -> Duration {
    Duration::from_millis(ms.min(300_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn produce_to(topic: &'static str, partition: i32) -> RequestKind {
        RequestKind::Produce(ProduceRequest::default().with_topic_data(
            vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str(topic)))
            .with_partition_data(vec![PartitionProduceData::default().with_index(partition)])],
        ))
    }

    #[test]
    fn faults_match_exactly_and_run_out() {
        let faults = Faults::default();
        let armed = faults
            .arm(Fault {
                id: 0,
                api: "produce".into(),
                topic: Some("t".into()),
                partition: Some(1),
                client_id: None,
                action: FaultAction::Error(6),
                count: 2,
                after: None,
            })
            .unwrap();
        assert_eq!(armed.id, 1);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 0), Arc::default),
            None
        );
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("u", 1), Arc::default),
            None
        );
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1), Arc::default),
            Some(FaultAction::Error(6))
        );
        assert_eq!(faults.list()[0].count, 1);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1), Arc::default),
            Some(FaultAction::Error(6))
        );
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1), Arc::default),
            None
        );
        assert!(faults.list().is_empty());
        assert!(faults
            .arm(Fault {
                id: 0,
                api: "NoSuchApi".into(),
                topic: None,
                partition: None,
                client_id: None,
                action: FaultAction::Disconnect,
                count: 1,
                after: None,
            })
            .is_err());
    }

    #[test]
    fn a_request_naming_its_topic_by_id_matches_the_topics_faults() {
        let id = uuid::Uuid::from_u128(7);
        let topic = crate::metadata::TopicImage {
            name: "t".into(),
            id,
            partitions: Vec::new(),
            configs: Default::default(),
        };
        let image = Arc::new(MetadataImage::new(
            "cluster".into(),
            1,
            Vec::new(),
            [("t".to_string(), topic)].into(),
        ));
        let faults = Faults::default();
        faults
            .arm(Fault {
                id: 0,
                api: "Produce".into(),
                topic: Some("t".into()),
                partition: Some(0),
                client_id: None,
                action: FaultAction::Error(6),
                count: 1,
                after: None,
            })
            .unwrap();
        // Produce v13: no name, the topic's id.
        let by_id = RequestKind::Produce(ProduceRequest::default().with_topic_data(vec![
            TopicProduceData::default()
                .with_topic_id(uuid::Uuid::from_u128(8))
                .with_partition_data(vec![PartitionProduceData::default().with_index(0)]),
        ]));
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &by_id, || Arc::clone(&image)),
            None
        );
        let by_id = RequestKind::Produce(ProduceRequest::default().with_topic_data(vec![
            TopicProduceData::default()
                .with_topic_id(id)
                .with_partition_data(vec![PartitionProduceData::default().with_index(0)]),
        ]));
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &by_id, || Arc::clone(&image)),
            Some(FaultAction::Error(6))
        );
    }

    #[test]
    fn a_scheduled_fault_waits_for_its_records() {
        let faults = Faults::default();
        faults
            .arm(Fault {
                id: 0,
                api: "Produce".into(),
                topic: None,
                partition: None,
                client_id: None,
                action: FaultAction::Error(6),
                count: 1,
                after: Some(After {
                    topic: "t".into(),
                    records: 10,
                }),
            })
            .unwrap();
        assert!(faults.counts_records());
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 0), Arc::default),
            None
        );
        faults.records_appended("t", 6);
        faults.records_appended("other", 100);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 0), Arc::default),
            None
        );
        faults.records_appended("t", 4);
        assert!(!faults.counts_records());
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 0), Arc::default),
            Some(FaultAction::Error(6))
        );
    }
}
