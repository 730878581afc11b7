//! Finalized feature levels (Kafka's `FeatureControlManager`, KIP-584):
//! an UpdateFeatures is validated whole — every update must be a level
//! this cluster supports, a downgrade must say so — then written as one
//! record, or refused whole with the first error.

use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::metadata::features::{
    metadata_changed_between, supported, KRAFT_VERSION, METADATA_VERSION,
};

/// How an update may move a level (UpdateFeatures' `upgrade_type`; v0's
/// `allow_downgrade` is a safe downgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeType {
    Upgrade,
    SafeDowngrade,
    UnsafeDowngrade,
    Unknown,
}

impl UpgradeType {
    pub fn from_code(code: i8) -> UpgradeType {
        match code {
            1 => UpgradeType::Upgrade,
            2 => UpgradeType::SafeDowngrade,
            3 => UpgradeType::UnsafeDowngrade,
            _ => UpgradeType::Unknown,
        }
    }
}

pub struct FeatureUpdate {
    pub feature: String,
    pub level: i16,
    pub upgrade_type: UpgradeType,
}

impl Controller {
    /// Applies every update or none: `Ok(Err(message))` is Kafka's
    /// INVALID_UPDATE_VERSION for the first update refused.
    pub fn update_features(
        &self,
        updates: Vec<FeatureUpdate>,
        validate_only: bool,
    ) -> Result<Result<(), String>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.image().features.clone();
        let mut levels = Vec::new();
        for update in &updates {
            if let Err(message) = check(update, current.level(&update.feature), self.node_id) {
                return Ok(Err(message));
            }
            levels.retain(|(name, _)| *name != update.feature);
            levels.push((update.feature.clone(), update.level));
        }
        if !validate_only && !levels.is_empty() {
            info!(?levels, "finalized feature levels");
            self.commit(vec![MetadataRecord::SetFeatureLevels(levels)])?;
        }
        Ok(Ok(()))
    }
}

/// Kafka's checks of one update, in its order, with its words: the
/// refusal's whole message.
fn check(update: &FeatureUpdate, current: i16, node_id: i32) -> Result<(), String> {
    check_level(update, current, node_id).map_err(|reason| {
        format!(
            "Invalid update version {} for feature {}. {reason}",
            update.level, update.feature
        )
    })?;
    if update.feature == METADATA_VERSION && update.level < current {
        return check_metadata_downgrade(update, current);
    }
    Ok(())
}

/// A `metadata.version` downgrade, as Kafka's `updateMetadataVersion`
/// judges it: only across levels that did not change the metadata.
fn check_metadata_downgrade(update: &FeatureUpdate, current: i16) -> Result<(), String> {
    if !metadata_changed_between(update.level, current) {
        return Ok(());
    }
    let why = match update.upgrade_type {
        UpgradeType::UnsafeDowngrade => "Unsafe metadata downgrade is not supported in this version.",
        _ => "Refusing to perform the requested downgrade because it might delete metadata information.",
    };
    Err(format!(
        "Unsupported metadata.version downgrade from {current} to {}. {why}",
        update.level
    ))
}

/// The checks every feature's update goes through; the reason it fails.
fn check_level(update: &FeatureUpdate, current: i16, node_id: i32) -> Result<(), String> {
    if update.upgrade_type == UpgradeType::Unknown {
        return Err("The controller does not support the given upgrade type.".into());
    }
    if update.level < 0 {
        return Err("A feature version cannot be less than 0.".into());
    }
    let what = format!("Local controller {node_id}");
    match supported(&update.feature) {
        None => return Err(format!("{what} does not support this feature.")),
        Some(feature) if !(feature.min..=feature.max).contains(&update.level) => {
            let range = match feature.min == feature.max {
                true => feature.min.to_string(),
                false => format!("{}-{}", feature.min, feature.max),
            };
            return Err(format!("{what} only supports versions {range}"));
        }
        Some(_) => {}
    }
    if update.level < current && update.upgrade_type == UpgradeType::Upgrade {
        return Err("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.".into());
    }
    if update.level > current && update.upgrade_type != UpgradeType::Upgrade {
        return Err("Can't downgrade to a newer version.".into());
    }
    // A voter set written with dynamic membership cannot go back to the
    // static list (Kafka refuses this downgrade too).
    if update.feature == KRAFT_VERSION && update.level < current {
        return Err("Downgrading kraft.version is not supported.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(feature: &str, level: i16, upgrade_type: UpgradeType) -> FeatureUpdate {
        FeatureUpdate {
            feature: feature.to_string(),
            level,
            upgrade_type,
        }
    }

    #[test]
    fn updates_are_checked_as_kafkas_controller_checks_them() {
        use UpgradeType::*;
        let ok = |u: FeatureUpdate, current| check_level(&u, current, 1);
        assert_eq!(
            ok(update("transaction.version", 1, SafeDowngrade), 2),
            Ok(())
        );
        assert_eq!(ok(update("transaction.version", 2, Upgrade), 1), Ok(()));
        assert_eq!(ok(update("transaction.version", 2, Upgrade), 2), Ok(()));
        assert_eq!(
            ok(update("transaction.version", 1, Upgrade), 2),
            Err("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.".into())
        );
        assert_eq!(
            ok(update("group.version", 1, SafeDowngrade), 0),
            Err("Can't downgrade to a newer version.".into())
        );
        assert_eq!(
            ok(update("transaction.version", 3, Upgrade), 2),
            Err("Local controller 1 only supports versions 0-2".into())
        );
        assert_eq!(
            ok(update("share.version", 1, Upgrade), 0),
            Err("Local controller 1 does not support this feature.".into())
        );
        assert_eq!(
            ok(update("group.version", -1, SafeDowngrade), 1),
            Err("A feature version cannot be less than 0.".into())
        );
        assert!(ok(update("group.version", 1, Unknown), 1).is_err());
        // kraft.version: up to the dynamic quorum, never back.
        assert_eq!(ok(update("kraft.version", 1, Upgrade), 0), Ok(()));
        assert_eq!(
            ok(update("kraft.version", 0, UnsafeDowngrade), 1),
            Err("Downgrading kraft.version is not supported.".into())
        );
    }

    #[test]
    fn metadata_version_downgrades_only_across_levels_that_kept_the_metadata() {
        use UpgradeType::*;
        let metadata = |level, how| update(METADATA_VERSION, level, how);
        assert_eq!(check(&metadata(33, Upgrade), 30, 1), Ok(()));
        // 31 changed nothing: 31 -> 30 is safe.
        assert_eq!(check(&metadata(30, SafeDowngrade), 31, 1), Ok(()));
        assert_eq!(
            check(&metadata(30, SafeDowngrade), 33, 1),
            Err("Unsupported metadata.version downgrade from 33 to 30. Refusing to perform the requested downgrade because it might delete metadata information.".into())
        );
        assert_eq!(
            check(&metadata(30, UnsafeDowngrade), 33, 1),
            Err("Unsupported metadata.version downgrade from 33 to 30. Unsafe metadata downgrade is not supported in this version.".into())
        );
        assert_eq!(
            check(&metadata(6, SafeDowngrade), 33, 1),
            Err("Invalid update version 6 for feature metadata.version. Local controller 1 only supports versions 7-33".into())
        );
    }
}
