//! A small Kafka protocol client for gregor's console commands. It speaks
//! to any Kafka broker, negotiating versions through ApiVersions like any
//! other client.

mod connection;

pub use connection::{ClientError, Connection};
