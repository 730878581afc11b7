//! UpdateFeatures (v0–2, KIP-584; `kafka-features.sh upgrade/downgrade`):
//! needs ALTER on the cluster. The controller applies every update or
//! none; v0–1 answer per feature as well, v2 only at the top.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};

use super::groups::str_bytes;
use crate::broker::Broker;
use crate::controller::features::{FeatureUpdate, UpgradeType};
use crate::metadata::acls::AclOperation;
use crate::server::context::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    request: UpdateFeaturesRequest,
    version: i16,
    context: &RequestContext,
) -> UpdateFeaturesResponse {
    if !context.may_on_cluster(broker, AclOperation::Alter) {
        return error_response(
            &request,
            version,
            ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    let updates: Vec<FeatureUpdate> = request
        .feature_updates
        .iter()
        .map(|update| FeatureUpdate {
            feature: update.feature.to_string(),
            level: update.max_version_level,
            upgrade_type: match version {
                0 if update.allow_downgrade => UpgradeType::SafeDowngrade,
                0 => UpgradeType::Upgrade,
                _ => UpgradeType::from_code(update.upgrade_type),
            },
        })
        .collect();
    let validate_only = request.validate_only;
    let outcome = broker
        .on_controller(move |broker| {
            Ok(broker
                .controller()
                .update_features(updates, validate_only)?)
        })
        .await;
    let (code, message) = match outcome {
        Ok(Ok(())) => (0, None),
        Ok(Err(reason)) => (
            ResponseError::InvalidUpdateVersion.code(),
            Some(format!(
                "The update failed for all features since the following feature had an error: {reason}"
            )),
        ),
        Err(error) => (ResponseError::UnknownServerError.code(), Some(error.to_string())),
    };
    let response = UpdateFeaturesResponse::default()
        .with_error_code(code)
        .with_error_message(message.map(str_bytes));
    // Per-feature results only for a success, and only before v2.
    if code != 0 || version >= 2 {
        return response;
    }
    response.with_results(
        request
            .feature_updates
            .iter()
            .map(|update| {
                UpdatableFeatureResult::default()
                    .with_feature(update.feature.clone())
                    .with_error_message(None)
            })
            .collect(),
    )
}

/// The whole request refused with `code`.
pub fn error_response(
    _request: &UpdateFeaturesRequest,
    _version: i16,
    code: i16,
) -> UpdateFeaturesResponse {
    UpdateFeaturesResponse::default()
        .with_error_code(code)
        .with_error_message(None)
}
