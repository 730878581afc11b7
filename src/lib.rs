//! gregor: a Kafka-wire-compatible message broker.
//!
//! Clients speak the Kafka protocol to [`server`]; handlers call the
//! subsystems: [`partition`] and [`log`] for data, [`controller`] and
//! [`metadata`] for topics. See `docs/` for the architecture and what is
//! compatible.

pub mod broker;
pub mod cli;
pub mod client;
pub mod config;
pub mod controller;
pub mod error;
pub mod group;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod partition;
pub mod records;
pub mod server;
pub mod testkit;
pub mod types;

/// Declared by the library so that every binary embedding gregor (the
/// broker, tests, the testkit) is protected from hostile array lengths.
#[global_allocator]
static ALLOCATOR: server::wire_alloc::WireSafeAllocator = server::wire_alloc::WireSafeAllocator;
