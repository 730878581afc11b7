//! ApiVersions (v0–v4): the version ranges of [`crate::server::api_versions`].

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use crate::server::api_versions::ADVERTISED;

pub fn handle(_request: &ApiVersionsRequest, _version: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(advertised())
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
