//! The fault plane: deterministic faults that tests arm over the admin HTTP
//! listener — the next N matching requests fail with a chosen Kafka error,
//! wait before being handled, or lose their connection mid-response.
//!
//! Faults are exact ("the next 3 Produce requests for topic t"), never
//! probabilistic, so a test that arms one knows what its client will see.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, RequestKind};
use serde::{Deserialize, Serialize};

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
}

/// A fault as armed: which requests it matches, what it does, how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub id: u64,
    /// The API by Kafka's name ("Produce") or key ("0").
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
        if self
            .client_id
            .as_deref()
            .is_some_and(|wanted| wanted != client_id)
        {
            return false;
        }
        match (&self.topic, self.partition) {
            (None, _) => true,
            (Some(topic), partition) => partitions
                .iter()
                .any(|(t, p)| t == topic && partition.is_none_or(|wanted| wanted == *p)),
        }
    }
}

/// The topic-partitions a request addresses, for matching faults.
pub fn addressed_partitions(request: &RequestKind) -> Vec<(String, i32)> {
    match request {
        RequestKind::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| {
                t.partition_data
                    .iter()
                    .map(move |p| (t.name.to_string(), p.index))
            })
            .collect(),
        RequestKind::Fetch(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.topic.to_string(), p.partition))
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
        let mut next_id = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
        *next_id += 1;
        fault.id = *next_id;
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        armed.push(fault.clone());
        self.any_armed.store(true, Ordering::Release);
        Ok(fault)
    }

    pub fn list(&self) -> Vec<Fault> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        armed.clear();
        self.any_armed.store(false, Ordering::Release);
    }

    /// The action for a request, if an armed fault matches; that fault's
    /// count goes down by one (and it is dropped at zero).
    pub fn take(
        &self,
        api_key: ApiKey,
        client_id: &str,
        request: &RequestKind,
    ) -> Option<FaultAction> {
        if !self.any_armed.load(Ordering::Acquire) {
            return None;
        }
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        if armed.is_empty() {
            return None;
        }
        let partitions = addressed_partitions(request);
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
            })
            .unwrap();
        assert_eq!(armed.id, 1);
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("t", 0)), None);
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("u", 1)), None);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1)),
            Some(FaultAction::Error(6))
        );
        assert_eq!(faults.list()[0].count, 1);
        assert_eq!(
            faults.take(ApiKey::Produce, "c", &produce_to("t", 1)),
            Some(FaultAction::Error(6))
        );
        assert_eq!(faults.take(ApiKey::Produce, "c", &produce_to("t", 1)), None);
        assert!(faults.list().is_empty());
        assert!(faults
            .arm(Fault {
                id: 0,
                api: "NoSuchApi".into(),
                topic: None,
                partition: None,
                client_id: None,
                action: FaultAction::Disconnect,
                count: 1
            })
            .is_err());
    }
}
