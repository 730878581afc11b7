//! One client connection: TLS and SASL if its security asks for them, the
//! ApiVersions handshake, then request/response in order, each matched by
//! correlation id.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::auth::scram::ScramClient;
use crate::config::client_security::{ClientSecurityConfig, SaslCredentials};
use crate::metadata::scram::ScramMechanism;

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
    #[error("TLS: {0}")]
    Tls(String),
    #[error("authentication failed: {0}")]
    Authentication(String),
}

/// A TCP or TLS stream.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Responses larger than this are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

pub struct Connection {
    stream: Box<dyn Stream>,
    client_id: String,
    next_correlation_id: i32,
    /// The broker's version range per api key.
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    /// A plaintext, unauthenticated connection.
    pub async fn connect(address: &str, client_id: &str) -> Result<Connection, ClientError> {
        Connection::connect_with(address, client_id, &ClientSecurityConfig::default()).await
    }

    /// A connection with `security`: TLS first if it says so, then SASL.
    pub async fn connect_with(
        address: &str,
        client_id: &str,
        security: &ClientSecurityConfig,
    ) -> Result<Connection, ClientError> {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|source| ClientError::Connect {
                address: address.to_string(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &security.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let connector = crate::auth::tls::connector(tls)
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let host = address
                    .rsplit_once(':')
                    .map_or(address, |(host, _)| host)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = rustls_pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| ClientError::Tls(format!("server name {host}: {e}")))?;
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| ClientError::Tls(e.to_string()))?,
                )
            }
        };
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
        if let Some(credentials) = &security.sasl {
            connection.authenticate(credentials).await?;
        }
        Ok(connection)
    }

    /// SaslHandshake v1, then SaslAuthenticate until the mechanism is done.
    async fn authenticate(&mut self, credentials: &SaslCredentials) -> Result<(), ClientError> {
        let mechanism = credentials.mechanism.as_str();
        let handshake = self
            .send(
                SaslHandshakeRequest::default()
                    .with_mechanism(StrBytes::from_string(mechanism.to_string())),
                1,
            )
            .await?;
        if handshake.error_code != 0 {
            return Err(ClientError::Authentication(format!(
                "the broker does not offer {mechanism} (it offers {:?})",
                handshake.mechanisms
            )));
        }
        let version = self.version::<SaslAuthenticateRequest>(2)?;
        let failed = |response: &kafka_protocol::messages::SaslAuthenticateResponse| {
            ClientError::Authentication(response.error_message.as_ref().map_or_else(
                || format!("error {}", response.error_code),
                |m| m.to_string(),
            ))
        };
        match ScramMechanism::from_name(mechanism) {
            None => {
                let token = format!("\0{}\0{}", credentials.username, credentials.password);
                let response = self
                    .send(
                        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
                        version,
                    )
                    .await?;
                if response.error_code != 0 {
                    return Err(failed(&response));
                }
            }
            Some(scram) => {
                let (mut client, first) =
                    ScramClient::start(scram, &credentials.username, &credentials.password);
                let response = self
                    .send(
                        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(first)),
                        version,
                    )
                    .await?;
                if response.error_code != 0 {
                    return Err(failed(&response));
                }
                let last = client
                    .respond(&response.auth_bytes)
                    .map_err(|e| ClientError::Authentication(e.to_string()))?;
                let response = self
                    .send(
                        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(last)),
                        version,
                    )
                    .await?;
                if response.error_code != 0 {
                    return Err(failed(&response));
                }
                client
                    .verify(&response.auth_bytes)
                    .map_err(|e| ClientError::Authentication(format!("the broker's proof: {e}")))?;
            }
        }
        Ok(())
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
        self.stream.flush().await?;

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
