//! ApiVersions (v0–v5): the version ranges of [`crate::server::api_versions`],
//! and from v3 the supported and finalised features. From v5 (KIP-1242) a
//! client names the cluster and node it means to reach; a broker that is
//! not that node of that cluster (an address reused after a move, a
//! cluster rebuilt) answers REBOOTSTRAP_REQUIRED, so the client looks the
//! cluster up again rather than talk to the wrong one.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::features::{FinalizedFeatures, METADATA_VERSION, STREAMS_VERSION, SUPPORTED};
use crate::server::api_versions::{
    advertised_on, emulated_metadata_version, emulated_release, ListenerType,
};

pub fn handle(
    request: &ApiVersionsRequest,
    version: i16,
    cluster_id: &str,
    node_id: i32,
    features: &FinalizedFeatures,
    listener: ListenerType,
) -> ApiVersionsResponse {
    let other_cluster = request
        .cluster_id
        .as_deref()
        .is_some_and(|wanted| wanted != cluster_id);
    let other_node = request.node_id >= 0 && request.node_id != node_id;
    if version >= 5 && (other_cluster || other_node) {
        return ApiVersionsResponse::default()
            .with_error_code(ResponseError::RebootstrapRequired.code());
    }
    let response = ApiVersionsResponse::default().with_api_keys(advertised(listener));
    // An emulated 3.x release lists none of the features gregor serves
    // (4.x brokers list them as gregor does).
    if version < 3 || emulated_release().is_some_and(|release| release.starts_with("3.")) {
        return response;
    }
    let name = |name: &str| StrBytes::from_string(name.to_string());
    // An emulated 4.x release tops metadata.version at its own last level,
    // and lists streams.version only if it served streams groups (4.2+).
    let cap = |feature: &str, level: i16| match (feature, emulated_metadata_version()) {
        (METADATA_VERSION, Some(newest)) => level.min(newest),
        _ => level,
    };
    let listed = |feature: &str| {
        feature != STREAMS_VERSION
            || crate::server::api_versions::advertised(
                kafka_protocol::messages::ApiKey::StreamsGroupHeartbeat,
            )
            .is_some()
    };
    response
        .with_supported_features(
            SUPPORTED
                .iter()
                .filter(|feature| listed(feature.name))
                .map(|feature| {
                    SupportedFeatureKey::default()
                        .with_name(name(feature.name))
                        .with_min_version(feature.min)
                        .with_max_version(cap(feature.name, feature.max))
                })
                .collect(),
        )
        // Features finalized at 0 are off: Kafka leaves them out.
        .with_finalized_features_epoch(features.epoch)
        .with_finalized_features(
            features
                .enabled()
                .filter(|(feature, _)| listed(feature))
                .map(|(feature, level)| {
                    FinalizedFeatureKey::default()
                        .with_name(name(feature))
                        .with_min_version_level(cap(feature, level))
                        .with_max_version_level(cap(feature, level))
                })
                .collect(),
        )
}

/// The answer to an ApiVersions version we do not support: a v0 body with
/// UNSUPPORTED_VERSION and the listener's ranges.
pub fn unsupported_version(listener: ListenerType) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(advertised(listener))
}

/// The ranges a listener of this type advertises: a controller listener
/// only the APIs Kafka's controllers serve.
fn advertised(listener: ListenerType) -> Vec<ApiVersion> {
    advertised_on(listener)
        .map(|range| {
            ApiVersion::default()
                .with_api_key(range.api_key as i16)
                .with_min_version(range.min)
                .with_max_version(range.max)
        })
        .collect()
}

/// The answer to `request` failing with `code`.
pub fn error_response(
    _request: &ApiVersionsRequest,
    _version: i16,
    code: i16,
) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_error_code(code)
}
