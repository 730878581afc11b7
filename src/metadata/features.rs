//! Feature flags (KIP-584) as the metadata holds them: the levels gregor
//! supports, and the finalized level of each — what ApiVersions v3+ tells
//! clients and what UpdateFeatures (`kafka-features.sh`) changes.

use std::collections::BTreeMap;

/// A feature gregor serves: its name, the levels it supports, and the
/// level a new cluster finalizes, by Kafka 4.4's names and levels.
/// `metadata.version` is Kafka 4.4.0's range (3.3-IV3 to 4.4-IV2): what
/// the tools show and what clients compare; gregor's own records do not
/// change with it. `kraft.version` 0: the quorum's voters are the static
/// `controller.quorum.voters`, as a Kafka cluster formatted with them
/// starts; 1 (an upgrade, never downgraded) allows KIP-853's AddRaftVoter
/// and RemoveRaftVoter.
/// `group.version` 1: the KIP-848 consumer group protocol is served (below
/// it ConsumerGroupHeartbeat is refused, as Kafka does). `transaction.version`
/// 2 lets clients use transactions V2 (KIP-890); clients that do not know
/// it, or a cluster finalized below it, keep the classic protocol.
/// `streams.version` 1: KIP-1071 streams groups are served (below it
/// StreamsGroupHeartbeat and StreamsGroupDescribe are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
    pub default_level: i16,
}

pub const GROUP_VERSION: &str = "group.version";
pub const TRANSACTION_VERSION: &str = "transaction.version";
pub const METADATA_VERSION: &str = "metadata.version";
pub const KRAFT_VERSION: &str = "kraft.version";
pub const STREAMS_VERSION: &str = "streams.version";

/// Kafka's lowest `metadata.version` (3.3-IV3).
pub const METADATA_VERSION_MIN: i16 = 7;
/// Kafka 4.4.0's newest production `metadata.version` (4.4-IV2).
pub const METADATA_VERSION_MAX: i16 = 33;

/// Whether each `metadata.version` from [`METADATA_VERSION_MIN`] up changed
/// the metadata's records (Kafka's `didMetadataChange`): a downgrade across
/// one that did could lose metadata, and Kafka refuses it.
const METADATA_CHANGED: [bool; (METADATA_VERSION_MAX - METADATA_VERSION_MIN + 1) as usize] = [
    true, true, false, false, true, false, true, true, true, false, true, false, false, false,
    false, false, true, false, false, false, false, false, false, true, false, true, true,
];

/// Whether a `metadata.version` downgrade from `current` to `target` would
/// cross a level that changed the metadata (Kafka's
/// `MetadataVersion.checkIfMetadataChanged`).
pub fn metadata_changed_between(target: i16, current: i16) -> bool {
    (target + 1..=current).any(|level| {
        usize::try_from(level - METADATA_VERSION_MIN)
            .ok()
            .and_then(|index| METADATA_CHANGED.get(index))
            .copied()
            .unwrap_or(true)
    })
}

pub const SUPPORTED: &[Feature] = &[
    Feature {
        name: METADATA_VERSION,
        min: METADATA_VERSION_MIN,
        max: METADATA_VERSION_MAX,
        default_level: METADATA_VERSION_MAX,
    },
    Feature {
        name: KRAFT_VERSION,
        min: 0,
        max: 1,
        default_level: 0,
    },
    Feature {
        name: GROUP_VERSION,
        min: 0,
        max: 1,
        default_level: 1,
    },
    Feature {
        name: TRANSACTION_VERSION,
        min: 0,
        max: 2,
        default_level: 2,
    },
    Feature {
        name: STREAMS_VERSION,
        min: 0,
        max: 1,
        default_level: 1,
    },
];

pub fn supported(name: &str) -> Option<&'static Feature> {
    SUPPORTED.iter().find(|feature| feature.name == name)
}

/// The finalized levels: each supported feature's default unless
/// UpdateFeatures set it; `epoch` counts the changes (Kafka's finalized
/// features epoch, which clients compare to pick the newest answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedFeatures {
    pub epoch: i64,
    levels: BTreeMap<&'static str, i16>,
}

impl Default for FinalizedFeatures {
    fn default() -> Self {
        FinalizedFeatures::new(&BTreeMap::new(), 0)
    }
}

impl FinalizedFeatures {
    /// From the levels set in the metadata (others at their default).
    pub fn new(set: &BTreeMap<String, i16>, epoch: i64) -> FinalizedFeatures {
        let levels = SUPPORTED
            .iter()
            .map(|f| (f.name, set.get(f.name).copied().unwrap_or(f.default_level)))
            .collect();
        FinalizedFeatures { epoch, levels }
    }

    /// A feature's finalized level (0: off, or unknown).
    pub fn level(&self, name: &str) -> i16 {
        self.levels.get(name).copied().unwrap_or(0)
    }

    /// The features finalized above 0, as ApiVersions lists them.
    pub fn enabled(&self) -> impl Iterator<Item = (&'static str, i16)> + '_ {
        self.levels
            .iter()
            .filter(|(_, level)| **level > 0)
            .map(|(name, level)| (*name, *level))
    }
}
