//! Embeddable brokers for other programs' tests: a real gregor broker
//! ([`TestBroker`]) or a real cluster of them ([`TestCluster`]: a metadata
//! quorum, replication, coordinators), in-process, on free ports and a
//! temporary directory, removed on drop.
//!
//! They run on their own runtime threads, so the testkit works the same
//! from plain `#[test]`s and from async tests, with any Kafka client.
//!
//! ```
//! use std::time::Duration;
//! use gregor::testkit::TestBroker;
//!
//! let broker = TestBroker::builder().config("num.partitions", "3").start().unwrap();
//! broker.create_topic("orders", 2).unwrap();
//! // Point any Kafka client at this address.
//! let bootstrap = broker.bootstrap();
//! assert!(bootstrap.starts_with("127.0.0.1:"));
//! assert!(std::net::TcpStream::connect(&bootstrap).is_ok());
//! assert_eq!(broker.high_watermark("orders", 0), Some(0));
//! assert!(broker.wait_for_high_watermark("orders", 1, 1, Duration::from_millis(50)).is_err());
//! ```

mod broker;
mod cluster;
pub mod cluster_admin;

use std::time::Duration;

use thiserror::Error;

use crate::server::instance::StartError;

pub use broker::{TestBroker, TestBrokerBuilder};
pub use cluster::{TestCluster, TestClusterBuilder, PER_NODE_SETTINGS};

#[derive(Debug, Error)]
pub enum TestkitError {
    #[error("cannot set up the test broker: {0}")]
    Setup(String),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Broker(#[from] crate::broker::BrokerError),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    #[error("the broker is stopped")]
    Stopped,
    #[error("no broker with node id {0} in this cluster")]
    UnknownNode(i32),
}

/// Polls `done` every 10 ms until it holds, or `timeout` passes.
fn wait_until(
    timeout: Duration,
    what: impl FnOnce() -> String,
    mut done: impl FnMut() -> bool,
) -> Result<(), TestkitError> {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        if std::time::Instant::now() >= deadline {
            return Err(TestkitError::Timeout(timeout, what()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A runtime for test brokers: their own threads, whatever the caller runs on.
fn runtime(name: &str) -> Result<tokio::runtime::Runtime, TestkitError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|error| TestkitError::Setup(error.to_string()))
}

/// Runs a future on `runtime` from any context (a plain test or an async
/// one), blocking the caller until it is done.
fn block_on<F: std::future::Future + Send>(
    runtime: &tokio::runtime::Runtime,
    future: F,
) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let joined = scope.spawn(|| runtime.block_on(future)).join();
        match joined {
            Ok(output) => output,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
