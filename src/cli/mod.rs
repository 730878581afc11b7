//! Console commands that speak the Kafka protocol like any client, with
//! flags modelled on Kafka's own scripts.

pub mod acls;
pub mod command_config;
pub mod configs;
pub mod console;
pub mod group_member;
pub mod groups;
pub mod metadata_quorum;
pub mod reassign;
pub mod topics;

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::StrBytes;
use thiserror::Error;

use crate::client::ClientError;

/// Why a console command failed.
#[derive(Debug, Error)]
pub enum CommandError {
    /// The command line asks for something the tool refuses before
    /// connecting, as Kafka's tools refuse it.
    #[error("{0}")]
    Usage(String),
    /// `--command-config` could not be read or names settings gregor
    /// cannot connect with.
    #[error("--command-config {path}: {reason}")]
    CommandConfig { path: String, reason: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Each broker's `host:port` by node id, as a Metadata response lists
/// them: where a tool sends what only that broker answers.
pub(crate) fn broker_addresses(
    metadata: &kafka_protocol::messages::MetadataResponse,
) -> std::collections::BTreeMap<i32, String> {
    metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect()
}

/// A broker's per-item error as the tools print it: the error's name and
/// the broker's message.
pub(crate) fn broker_error(
    code: i16,
    message: Option<&StrBytes>,
    context: &str,
) -> Result<(), ClientError> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(error) => Err(ClientError::Broker(match message {
            Some(message) if !message.is_empty() => format!("{context}: {error}: {message}"),
            _ => format!("{context}: {error}"),
        })),
    }
}

/// A connection to the first reachable broker of `bootstrap`, a
/// comma-separated `host:port` list as Kafka's `--bootstrap-server` takes.
pub(crate) async fn connect_bootstrap(
    bootstrap: &str,
    client_id: &str,
    security: &crate::config::client_security::ClientSecurityConfig,
) -> Result<crate::client::Connection, ClientError> {
    let mut failure = None;
    for address in bootstrap
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        match crate::client::Connection::connect_with(address, client_id, security).await {
            Ok(connection) => return Ok(connection),
            Err(error) => failure = Some(error),
        }
    }
    Err(failure.unwrap_or_else(|| ClientError::Broker("--bootstrap-server is empty".to_string())))
}
