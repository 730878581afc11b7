//! gregor: a Kafka-wire-compatible message broker.
//!
//! Clients speak the Kafka protocol to [`server`]; handlers call the
//! subsystems: [`partition`] and [`log`] for data, [`controller`] and
//! [`metadata`] for topics, [`group`] for consumer groups. [`broker`]
//! assembles them; [`testkit`] embeds a broker in other programs' tests;
//! [`cli`] and [`client`] are the console tools. See `docs/` for what is
//! compatible and how it performs.

pub mod broker;
pub mod cli;
pub mod client;
pub mod config;
pub mod controller;
pub mod durable;
pub mod error;
pub mod group;
pub mod log;
pub mod metadata;
pub mod metrics;
pub mod partition;
pub mod records;
pub mod replication;
pub mod server;
pub mod testkit;
pub mod txn;
pub mod types;

/// Declared by the library so that every binary embedding gregor (the
/// broker, tests, the testkit) is protected from hostile array lengths.
#[global_allocator]
static ALLOCATOR: server::wire_alloc::WireSafeAllocator = server::wire_alloc::WireSafeAllocator;
