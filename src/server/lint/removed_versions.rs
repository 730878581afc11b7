//! The request versions Kafka 4.0 removed (KIP-896): its brokers refuse
//! them, so a client that still sends them breaks on an upgrade. Read
//! from Kafka's own schemas (`server/kafka_releases.rs`) of its newest 4.x
//! release known there: 4.0.1 gave JoinGroup v0-1 back (KAFKA-19444).

use kafka_protocol::messages::ApiKey;

use crate::server::kafka_releases::RELEASES;

/// The release whose minimum versions are the line.
const KAFKA_4: &str = "4.3";

/// Whether Kafka 4's brokers refuse `version` of the API.
pub fn removed(api_key: ApiKey, version: i16) -> bool {
    RELEASES
        .iter()
        .find(|(name, _)| *name == KAFKA_4)
        .and_then(|(_, served)| served.iter().find(|(key, _, _)| *key == api_key as i16))
        .is_some_and(|(_, min, _)| version < *min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_4_refuses_what_kip_896_removed_and_keeps_the_rest() {
        assert!(removed(ApiKey::Produce, 2));
        assert!(!removed(ApiKey::Produce, 3));
        assert!(removed(ApiKey::Fetch, 3));
        assert!(!removed(ApiKey::Fetch, 4));
        assert!(!removed(ApiKey::Metadata, 0));
        assert!(!removed(ApiKey::JoinGroup, 0));
        assert!(removed(ApiKey::OffsetCommit, 1));
        assert!(!removed(ApiKey::ApiVersions, 0));
    }
}
