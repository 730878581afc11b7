//! A small Kafka protocol client for gregor's console commands and its
//! replica fetchers. It speaks to any Kafka broker, negotiating versions
//! through ApiVersions like any other client.

mod connection;
pub mod fetch_session;

pub use connection::{ClientError, Connection};
