//! gregor: a Kafka-wire-compatible message broker.
//!
//! Clients speak the Kafka protocol to [`server`]; handlers call the
//! subsystems: [`partition`] and [`log`] for data, [`controller`] and
//! [`metadata`] for topics, [`group`] for consumer groups. [`broker`]
//! assembles them; [`testkit`] embeds a broker in other programs' tests;
//! [`cli`] and [`client`] are the console tools. See `docs/` for what is
//! compatible and how it performs.

// Input from the network or a disk never unwraps: a bad request or file is
// an error, not a panic. The few invariants that expect say so, with an
// `allow` beside them. Tests may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod broker;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod controller;
pub mod durable;
pub mod error;
/// The fuzz targets' harness: a panic there is a finding.
#[doc(hidden)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod fuzzing;
pub mod group;
pub mod kafka_uuid;
pub mod listen;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod network_faults;
pub mod partition;
pub mod process_limits;
pub mod quota;
pub mod records;
pub mod replication;
pub mod server;
pub mod testkit;
pub mod txn;
pub mod types;
