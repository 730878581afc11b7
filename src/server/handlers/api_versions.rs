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

use crate::server::api_versions::{ADVERTISED, FEATURES};

/// Finalised features never change on a running gregor: epoch 0.
const FINALIZED_FEATURES_EPOCH: i64 = 0;

pub fn handle(
    request: &ApiVersionsRequest,
    version: i16,
    cluster_id: &str,
    node_id: i32,
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
    let response = ApiVersionsResponse::default().with_api_keys(advertised());
    if version < 3 {
        return response;
    }
    let name = |name: &str| StrBytes::from_string(name.to_string());
    response
        .with_supported_features(
            FEATURES
                .iter()
                .map(|(feature, min, max, _)| {
                    SupportedFeatureKey::default()
                        .with_name(name(feature))
                        .with_min_version(*min)
                        .with_max_version(*max)
                })
                .collect(),
        )
        .with_finalized_features_epoch(FINALIZED_FEATURES_EPOCH)
        .with_finalized_features(
            FEATURES
                .iter()
                .map(|(feature, _, _, level)| {
                    FinalizedFeatureKey::default()
                        .with_name(name(feature))
                        .with_min_version_level(*level)
                        .with_max_version_level(*level)
                })
                .collect(),
        )
}

/// The answer to an ApiVersions version we do not support: a v0 body with
/// UNSUPPORTED_VERSION and our ranges.
pub fn unsupported_version() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(advertised())
}

fn advertised() -> Vec<ApiVersion> {
    ADVERTISED
        .iter()
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
