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
//!   AddPartitionsToTxn v4+ is broker-to-broker and not advertised.
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
    range(ApiKey::ListOffsets, 1, 10),
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
    range(ApiKey::AddPartitionsToTxn, 0, 3),
    range(ApiKey::AddOffsetsToTxn, 0, 4),
    range(ApiKey::EndTxn, 0, 5),
    range(ApiKey::WriteTxnMarkers, 1, 1),
    range(ApiKey::TxnOffsetCommit, 0, 5),
    range(ApiKey::DescribeAcls, 1, 3),
    range(ApiKey::CreateAcls, 1, 3),
    range(ApiKey::DeleteAcls, 1, 3),
    range(ApiKey::DescribeConfigs, 1, 4),
    range(ApiKey::AlterConfigs, 0, 2),
    range(ApiKey::DescribeLogDirs, 1, 4),
    range(ApiKey::SaslAuthenticate, 0, 2),
    range(ApiKey::CreatePartitions, 0, 3),
    range(ApiKey::DeleteGroups, 0, 2),
    range(ApiKey::ElectLeaders, 0, 2),
    range(ApiKey::AlterPartitionReassignments, 0, 1),
    range(ApiKey::ListPartitionReassignments, 0, 0),
    range(ApiKey::UnregisterBroker, 0, 0),
    range(ApiKey::IncrementalAlterConfigs, 0, 1),
    range(ApiKey::OffsetDelete, 0, 0),
    range(ApiKey::DescribeUserScramCredentials, 0, 0),
    range(ApiKey::CreateDelegationToken, 1, 3),
    range(ApiKey::RenewDelegationToken, 1, 2),
    range(ApiKey::ExpireDelegationToken, 1, 2),
    range(ApiKey::DescribeDelegationToken, 1, 3),
    range(ApiKey::DescribeQuorum, 0, 2),
    range(ApiKey::AlterUserScramCredentials, 0, 0),
    range(ApiKey::DescribeCluster, 0, 2),
    range(ApiKey::DescribeProducers, 0, 0),
    range(ApiKey::DescribeTransactions, 0, 0),
    range(ApiKey::ListTransactions, 0, 2),
    range(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    range(ApiKey::ConsumerGroupDescribe, 0, 1),
    range(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// Produce versions advertised for librdkafka's sake but refused.
const PRODUCE_REFUSED_BELOW: i16 = 3;

/// Features advertised in ApiVersions v3+: name, supported range and
/// finalised level, by Kafka 4.4's names and levels. `group.version` 1:
/// the KIP-848 consumer group protocol is served (Kafka refuses
/// ConsumerGroupHeartbeat below it). `transaction.version` 2 lets clients
/// use transactions V2 (KIP-890); clients that do not know it keep the
/// classic protocol.
pub const FEATURES: &[(&str, i16, i16, i16)] =
    &[("group.version", 0, 1, 1), ("transaction.version", 0, 2, 2)];

pub fn advertised(api_key: ApiKey) -> Option<VersionRange> {
    ADVERTISED.iter().copied().find(|r| r.api_key == api_key)
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
    fn produce_v0_to_v2_are_advertised_but_refused() {
        assert_eq!(advertised(ApiKey::Produce).map(|r| r.min), Some(0));
        assert!(!is_accepted(ApiKey::Produce, 2));
        assert!(is_accepted(ApiKey::Produce, 3));
        assert!(is_accepted(ApiKey::Fetch, 18));
        assert!(!is_accepted(ApiKey::Fetch, 19));
        assert!(!is_accepted(ApiKey::AddPartitionsToTxn, 4));
    }
}
