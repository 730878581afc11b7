//! One client connection: ApiVersions handshake, then request/response in
//! order, each matched by correlation id.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the broker supports no version of {0:?} that this client speaks")]
    UnsupportedApi(ApiKey),
    #[error("{0}")]
    Broker(String),
}

/// Responses larger than this are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

pub struct Connection {
    stream: TcpStream,
    client_id: String,
    next_correlation_id: i32,
    /// The broker's version range per api key.
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    pub async fn connect(address: &str, client_id: &str) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|source| ClientError::Connect {
                address: address.to_string(),
                source,
            })?;
        let mut connection = Connection {
            stream,
            client_id: client_id.to_string(),
            next_correlation_id: 0,
            versions: HashMap::new(),
        };
        let response: ApiVersionsResponse =
            connection.send(ApiVersionsRequest::default(), 0).await?;
        connection.versions = response
            .api_keys
            .iter()
            .map(|api| (api.api_key, (api.min_version, api.max_version)))
            .collect();
        Ok(connection)
    }

    /// The highest version both sides speak, up to `ours`.
    pub fn version<R: Request>(&self, ours: i16) -> Result<i16, ClientError> {
        let api_key = ApiKey::try_from(R::KEY)
            .map_err(|_| ClientError::Protocol(format!("api key {}", R::KEY)))?;
        let (min, max) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or(ClientError::UnsupportedApi(api_key))?;
        let version = max.min(ours).min(R::VERSIONS.max);
        if version < min.max(R::VERSIONS.min) {
            return Err(ClientError::UnsupportedApi(api_key));
        }
        Ok(version)
    }

    /// Sends a request at the highest common version up to `ours`.
    pub async fn request<R: Request>(
        &mut self,
        request: R,
        ours: i16,
    ) -> Result<R::Response, ClientError> {
        let version = self.version::<R>(ours)?;
        self.send(request, version).await
    }

    /// Sends a request at exactly `version` (for tests of a given version).
    pub async fn request_at<R: Request>(
        &mut self,
        request: R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        self.send(request, version).await
    }

    async fn send<R: Request>(
        &mut self,
        request: R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        let api_key = ApiKey::try_from(R::KEY)
            .map_err(|_| ClientError::Protocol(format!("api key {}", R::KEY)))?;
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let encode_failed = |error: anyhow::Error| ClientError::Protocol(error.to_string());
        let mut buffer = BytesMut::new();
        buffer.put_i32(0);
        header
            .encode(&mut buffer, api_key.request_header_version(version))
            .map_err(encode_failed)?;
        request
            .encode(&mut buffer, version)
            .map_err(encode_failed)?;
        let size = (buffer.len() - 4) as i32;
        buffer[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buffer).await?;

        let size = self.stream.read_i32().await?;
        let size = usize::try_from(size)
            .ok()
            .filter(|size| *size <= MAX_RESPONSE_BYTES)
            .ok_or_else(|| ClientError::Protocol(format!("response size {size}")))?;
        let mut body = vec![0u8; size];
        self.stream.read_exact(&mut body).await?;
        let mut body = Bytes::from(body);
        let decode_failed = |error: anyhow::Error| ClientError::Protocol(error.to_string());
        let response_header =
            ResponseHeader::decode(&mut body, api_key.response_header_version(version))
                .map_err(decode_failed)?;
        if response_header.correlation_id != correlation_id {
            return Err(ClientError::Protocol(format!(
                "correlation id {} answered {}",
                correlation_id, response_header.correlation_id
            )));
        }
        let response = R::Response::decode(&mut body, version).map_err(decode_failed)?;
        if body.has_remaining() {
            return Err(ClientError::Protocol(format!(
                "{} unread bytes after {api_key:?} response",
                body.remaining()
            )));
        }
        Ok(response)
    }
}
