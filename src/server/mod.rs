//! The Kafka protocol front end: accepting connections, framing, decoding,
//! dispatching to one handler per API, encoding responses; and beside it the
//! admin HTTP listener (metrics, health, the fault plane, the journal).

pub mod admin;
pub mod api_versions;
pub mod codec;
pub mod connection;
pub mod connection_quotas;
pub mod context;
pub mod dispatch;
pub mod encoded;
pub mod faults;
pub mod fetch_session;
pub mod handlers;
pub mod instance;
pub mod journal;
pub mod kafka_releases;
pub mod lint;
pub mod listener;
pub mod memory_pool;
pub mod quotas;
pub mod read_buffer;
pub mod sasl;
pub mod scheduled;
pub mod socket_writer;
