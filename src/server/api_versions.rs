//! The one table of API version ranges gregor advertises and accepts.
//!
//! Ranges are chosen so that every client gets versions gregor implements
//! fully:
//! - Produce is advertised from v0 although v0–v2 are refused at request time
//!   (as Kafka 4 does): librdkafka disables compression unless Produce v0 is
//!   listed. Produce v13 and Fetch v13+ address topics by id (unknown ids
//!   → UNKNOWN_TOPIC_ID); Fetch v15+ carries the follower's id in its
//!   replica state.
//! - Transactions V2 (KIP-890) is offered as Kafka 4 offers it: the
//!   finalised feature `transaction.version` 2 in ApiVersions, and Produce
//!   v12, EndTxn v5 and TxnOffsetCommit v5, which are what a client that
//!   opts in sends. Lower versions keep the classic protocol.
//!   AddPartitionsToTxn v4+ is broker-to-broker (KIP-890 verification),
//!   advertised as Kafka advertises it.
//! - OffsetCommit and OffsetFetch go to v10 (v9 carries KIP-848 member
//!   epochs, v10 topic ids); ConsumerGroupHeartbeat and
//!   ConsumerGroupDescribe are served at v0–v1 (v1: client-generated member
//!   ids, KIP-1082). DescribeGroups goes to v6 (unknown groups as errors).

use kafka_protocol::messages::ApiKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub api_key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn range(api_key: ApiKey, min: i16, max: i16) -> VersionRange {
    VersionRange { api_key, min, max }
}

/// Advertised in ApiVersions responses, in api-key order.
pub const ADVERTISED: &[VersionRange] = &[
    range(ApiKey::Produce, 0, 13),
    range(ApiKey::Fetch, 4, 18),
    range(ApiKey::ListOffsets, 1, 11),
    range(ApiKey::Metadata, 0, 13),
    range(ApiKey::OffsetCommit, 2, 10),
    range(ApiKey::OffsetFetch, 1, 10),
    range(ApiKey::FindCoordinator, 0, 6),
    range(ApiKey::JoinGroup, 0, 9),
    range(ApiKey::Heartbeat, 0, 4),
    range(ApiKey::LeaveGroup, 0, 5),
    range(ApiKey::SyncGroup, 0, 5),
    range(ApiKey::DescribeGroups, 0, 6),
    range(ApiKey::ListGroups, 0, 5),
    range(ApiKey::SaslHandshake, 1, 1),
    range(ApiKey::ApiVersions, 0, 5),
    range(ApiKey::CreateTopics, 2, 7),
    range(ApiKey::DeleteTopics, 1, 6),
    range(ApiKey::DeleteRecords, 0, 2),
    range(ApiKey::InitProducerId, 0, 5),
    range(ApiKey::OffsetForLeaderEpoch, 2, 4),
    range(ApiKey::AddPartitionsToTxn, 0, 5),
    range(ApiKey::AddOffsetsToTxn, 0, 4),
    range(ApiKey::EndTxn, 0, 5),
    range(ApiKey::WriteTxnMarkers, 1, 1),
    range(ApiKey::TxnOffsetCommit, 0, 6),
    range(ApiKey::DescribeAcls, 1, 3),
    range(ApiKey::CreateAcls, 1, 3),
    range(ApiKey::DeleteAcls, 1, 3),
    range(ApiKey::DescribeConfigs, 1, 4),
    range(ApiKey::AlterConfigs, 0, 2),
    range(ApiKey::AlterReplicaLogDirs, 1, 2),
    range(ApiKey::DescribeLogDirs, 1, 5),
    range(ApiKey::SaslAuthenticate, 0, 2),
    range(ApiKey::CreatePartitions, 0, 3),
    range(ApiKey::DeleteGroups, 0, 3),
    range(ApiKey::ElectLeaders, 0, 2),
    range(ApiKey::AlterPartitionReassignments, 0, 1),
    range(ApiKey::ListPartitionReassignments, 0, 0),
    range(ApiKey::UnregisterBroker, 0, 0),
    range(ApiKey::IncrementalAlterConfigs, 0, 1),
    range(ApiKey::OffsetDelete, 0, 0),
    range(ApiKey::DescribeClientQuotas, 0, 1),
    range(ApiKey::AlterClientQuotas, 0, 1),
    range(ApiKey::DescribeUserScramCredentials, 0, 0),
    range(ApiKey::CreateDelegationToken, 1, 3),
    range(ApiKey::RenewDelegationToken, 1, 2),
    range(ApiKey::ExpireDelegationToken, 1, 2),
    range(ApiKey::DescribeDelegationToken, 1, 3),
    range(ApiKey::DescribeQuorum, 0, 2),
    range(ApiKey::AlterUserScramCredentials, 0, 0),
    range(ApiKey::UpdateFeatures, 0, 2),
    range(ApiKey::DescribeCluster, 0, 2),
    range(ApiKey::DescribeProducers, 0, 0),
    range(ApiKey::DescribeTransactions, 0, 0),
    range(ApiKey::ListTransactions, 0, 2),
    range(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    range(ApiKey::ConsumerGroupDescribe, 0, 1),
    range(ApiKey::StreamsGroupHeartbeat, 0, 1),
    range(ApiKey::StreamsGroupDescribe, 0, 1),
    range(ApiKey::DescribeTopicPartitions, 0, 0),
    range(ApiKey::AddRaftVoter, 0, 1),
    range(ApiKey::RemoveRaftVoter, 0, 0),
];

/// Which of Kafka's API sets a listener serves (Kafka's
/// `ApiMessageType.ListenerType`): a broker listener all of gregor's, a
/// controller listener what Kafka's `ControllerApis` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerType {
    Broker,
    Controller,
}

/// What a controller listener serves Kafka clients: the APIs whose
/// `*Request.json` lists the `controller` listener in Kafka 4.4, of those
/// gregor implements. Fetch is left out although Kafka lists it: Kafka's
/// controllers replicate their Raft log with it, gregor's with their own
/// RPCs (`controller/quorum/network.rs`), and a partition Fetch is a
/// broker's.
const CONTROLLER_APIS: &[ApiKey] = &[
    ApiKey::SaslHandshake,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::SaslAuthenticate,
    ApiKey::CreatePartitions,
    ApiKey::CreateDelegationToken,
    ApiKey::RenewDelegationToken,
    ApiKey::ExpireDelegationToken,
    ApiKey::DescribeDelegationToken,
    ApiKey::ElectLeaders,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::AlterClientQuotas,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::AlterUserScramCredentials,
    ApiKey::DescribeQuorum,
    ApiKey::UpdateFeatures,
    ApiKey::DescribeCluster,
    ApiKey::UnregisterBroker,
    ApiKey::AddRaftVoter,
    ApiKey::RemoveRaftVoter,
];

/// Whether a listener of this type serves `api_key` at all.
pub fn serves(listener: ListenerType, api_key: ApiKey) -> bool {
    match listener {
        ListenerType::Broker => true,
        ListenerType::Controller => CONTROLLER_APIS.contains(&api_key),
    }
}

/// What a listener of this type advertises in ApiVersions.
pub fn advertised_on(listener: ListenerType) -> impl Iterator<Item = &'static VersionRange> {
    advertised_ranges()
        .iter()
        .filter(move |range| serves(listener, range.api_key))
}

/// Produce versions advertised for librdkafka's sake but refused.
const PRODUCE_REFUSED_BELOW: i16 = 3;

/// The ranges a broker of an older Kafka release would advertise, when
/// this process emulates one (`--emulate-kafka`): each of gregor's ranges
/// cut to that release's, APIs it lacked left out.
static EMULATED: std::sync::OnceLock<(String, Vec<VersionRange>)> = std::sync::OnceLock::new();

/// The Kafka releases `--emulate-kafka` knows (besides 4.4, gregor's own).
pub fn emulated_releases() -> Vec<&'static str> {
    super::kafka_releases::RELEASES
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// From now on, this process's brokers advertise and accept only what
/// Kafka `release` (e.g. "3.6") served, and list no features (3.x brokers
/// listed none of gregor's). Once per process.
pub fn emulate(release: &str) -> Result<(), String> {
    let known = || format!("{}, 4.4", emulated_releases().join(", "));
    if release == "4.4" {
        return Ok(());
    }
    let Some((_, table)) = super::kafka_releases::RELEASES
        .iter()
        .find(|(name, _)| *name == release)
    else {
        return Err(format!(
            "gregor cannot emulate Kafka {release}: it knows {}",
            known()
        ));
    };
    let ranges = ADVERTISED
        .iter()
        .filter_map(|ours| {
            let (_, min, max) = table
                .iter()
                .find(|(key, _, _)| *key == ours.api_key as i16)?;
            // Produce keeps its advertised minimum of 0 (refused below 3):
            // every Kafka release advertises it for librdkafka (KAFKA-18659).
            let min = match ours.api_key {
                ApiKey::Produce => ours.min,
                _ => ours.min.max(*min),
            };
            let (min, max) = (min, ours.max.min(*max));
            (min <= max).then_some(VersionRange {
                api_key: ours.api_key,
                min,
                max,
            })
        })
        .collect();
    EMULATED
        .set((release.to_string(), ranges))
        .map_err(|_| "a Kafka release is emulated already".to_string())
}

/// The newest `metadata.version` of the emulated 4.x release (its last
/// level: 4.0-IV3, 4.1-IV1, 4.2-IV1, 4.3-IV0), if one is emulated.
pub fn emulated_metadata_version() -> Option<i16> {
    match emulated_release()? {
        "4.0" => Some(25),
        "4.1" => Some(27),
        "4.2" => Some(29),
        "4.3" => Some(30),
        _ => None,
    }
}

/// The release emulated, if any.
pub fn emulated_release() -> Option<&'static str> {
    EMULATED.get().map(|(release, _)| release.as_str())
}

/// What this process advertises: gregor's ranges, or an emulated
/// release's.
pub fn advertised_ranges() -> &'static [VersionRange] {
    match EMULATED.get() {
        Some((_, ranges)) => ranges,
        None => ADVERTISED,
    }
}

pub fn advertised(api_key: ApiKey) -> Option<VersionRange> {
    advertised_ranges()
        .iter()
        .copied()
        .find(|r| r.api_key == api_key)
}

/// Whether a request of this key and version is decoded and handled.
pub fn is_accepted(api_key: ApiKey, version: i16) -> bool {
    if api_key == ApiKey::Produce && version < PRODUCE_REFUSED_BELOW {
        return false;
    }
    advertised(api_key).is_some_and(|r| (r.min..=r.max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Message;

    #[test]
    fn every_advertised_range_is_within_what_the_codec_supports() {
        for range in ADVERTISED {
            let supported = range.api_key.valid_versions();
            let min = if range.api_key == ApiKey::Produce {
                PRODUCE_REFUSED_BELOW
            } else {
                range.min
            };
            assert!(
                supported.min <= min && range.max <= supported.max,
                "{range:?} vs {supported:?}"
            );
        }
        assert_eq!(
            kafka_protocol::messages::ApiVersionsRequest::VERSIONS.max,
            5
        );
    }

    #[test]
    fn a_controller_listener_advertises_only_controller_apis_gregor_implements() {
        for api_key in CONTROLLER_APIS {
            assert!(
                advertised(*api_key).is_some(),
                "{api_key:?} is not implemented"
            );
        }
        let on_controller: Vec<ApiKey> = advertised_on(ListenerType::Controller)
            .map(|range| range.api_key)
            .collect();
        assert_eq!(on_controller.len(), CONTROLLER_APIS.len());
        for broker_only in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::FindCoordinator,
            ApiKey::DescribeClientQuotas,
        ] {
            assert!(!on_controller.contains(&broker_only), "{broker_only:?}");
            assert!(!serves(ListenerType::Controller, broker_only));
            assert!(serves(ListenerType::Broker, broker_only));
        }
        assert_eq!(
            advertised_on(ListenerType::Broker).count(),
            ADVERTISED.len()
        );
    }

    #[test]
    fn produce_v0_to_v2_are_advertised_but_refused() {
        assert_eq!(advertised(ApiKey::Produce).map(|r| r.min), Some(0));
        assert!(!is_accepted(ApiKey::Produce, 2));
        assert!(is_accepted(ApiKey::Produce, 3));
        assert!(is_accepted(ApiKey::Fetch, 18));
        assert!(!is_accepted(ApiKey::Fetch, 19));
    }
}
