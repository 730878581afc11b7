//! One in-process broker ([`TestBroker`]).

use std::future::Future;
use std::time::Duration;

use super::TestkitError;
use crate::config::{self, BrokerConfig};
use crate::controller::NewTopic;
use crate::group::state::GroupState;
use crate::server::instance::RunningBroker;
use crate::types::TopicPartition;

/// Settings for a [`TestBroker`], by Kafka's config names.
#[derive(Default)]
pub struct TestBrokerBuilder {
    overrides: Vec<(String, String)>,
}

impl TestBrokerBuilder {
    /// A broker setting, e.g. `config("num.partitions", "3")`.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.overrides.push((name.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> Result<TestBroker, TestkitError> {
        let data = tempfile::Builder::new()
            .prefix("gregor-testkit-")
            .tempdir()
            .map_err(|error| TestkitError::Setup(error.to_string()))?;
        let runtime = super::runtime("gregor-testkit")?;
        let mut overrides = vec![
            (
                "listeners".to_string(),
                "PLAINTEXT://127.0.0.1:0".to_string(),
            ),
            ("log.dirs".to_string(), data.path().display().to_string()),
            (
                "group.initial.rebalance.delay.ms".to_string(),
                "0".to_string(),
            ),
        ];
        overrides.extend(self.overrides);
        let mut broker = TestBroker {
            runtime: Some(runtime),
            running: None,
            data,
            overrides,
            port: 0,
        };
        broker.start_on_port(0)?;
        Ok(broker)
    }
}

/// A broker for tests; see the module docs.
pub struct TestBroker {
    /// Taken on drop, to shut it down in the background: dropping a runtime
    /// inside an async test would panic.
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<RunningBroker>,
    data: tempfile::TempDir,
    overrides: Vec<(String, String)>,
    port: u16,
}

impl TestBroker {
    /// A broker with default settings.
    pub fn start() -> Result<TestBroker, TestkitError> {
        TestBroker::builder().start()
    }

    pub fn builder() -> TestBrokerBuilder {
        TestBrokerBuilder::default()
    }

    /// Runs a future on the broker's runtime from any context (a plain test
    /// or an async one), blocking the caller until it is done.
    fn block_on<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        #[allow(clippy::expect_used)] // the runtime lives until drop
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        super::block_on(runtime, future)
    }

    fn start_on_port(&mut self, port: u16) -> Result<(), TestkitError> {
        let mut overrides = self.overrides.clone();
        overrides.push((
            "listeners".to_string(),
            format!("PLAINTEXT://127.0.0.1:{port}"),
        ));
        let (config, _unused): (BrokerConfig, _) = config::load(None, &overrides)
            .map_err(|error| TestkitError::Setup(error.to_string()))?;
        let running = self.block_on(RunningBroker::start(config))?;
        self.port = running.address().port();
        self.running = Some(running);
        Ok(())
    }

    /// The address to give clients as `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The data directory (removed when the broker is dropped).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    fn broker(&self) -> Result<&std::sync::Arc<crate::broker::Broker>, TestkitError> {
        self.running
            .as_ref()
            .map(RunningBroker::broker)
            .ok_or(TestkitError::Stopped)
    }

    /// Creates a topic with the broker's default configs.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), TestkitError> {
        let broker = self.broker()?;
        let topic = NewTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: Default::default(),
            assignments: None,
        };
        self.block_on(broker.create_topic(topic, false))?;
        Ok(())
    }

    /// The partition's high watermark, if it exists.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let broker = self.broker().ok()?;
        broker
            .partition(&TopicPartition::new(topic, partition))
            .map(|p| p.high_watermark().value())
    }

    /// Waits until a partition's high watermark reaches `offset`.
    pub fn wait_for_high_watermark(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        let what = || format!("{topic}-{partition} to reach offset {offset}");
        super::wait_until(timeout, what, || {
            self.high_watermark(topic, partition)
                .is_some_and(|hw| hw >= offset)
        })
    }

    /// Waits until a consumer group is Stable.
    pub fn wait_for_group_stable(
        &self,
        group: &str,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        let broker = self.broker()?;
        super::wait_until(
            timeout,
            || format!("group {group} to be Stable"),
            || {
                self.block_on(broker.groups().describe(group))
                    .is_some_and(|g| g.state == GroupState::Stable)
            },
        )
    }

    /// Stops the broker cleanly (clients see it go away).
    /// Moves the broker's clock forward (time travel): session, rebalance
    /// and transaction timeouts, producer id expiry and retention fire at
    /// once instead of after real minutes. The clock is the process's.
    pub fn advance_clock(&self, by: std::time::Duration) {
        crate::clock::advance(by);
    }

    pub fn stop(&mut self) -> Result<(), TestkitError> {
        if let Some(running) = self.running.take() {
            self.block_on(running.shutdown())?;
        }
        Ok(())
    }

    /// Stops the broker without a clean shutdown: the next start runs crash
    /// recovery, as after `kill -9`. (Data in the page cache survives, as
    /// it does when a real process is killed.)
    pub fn kill(&mut self) {
        if let Some(running) = self.running.take() {
            self.block_on(running.abort());
        }
    }

    /// Starts the broker again on the same port and data.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop()?;
        self.start_on_port(self.port)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(%error, "test broker did not stop cleanly");
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Connection;
    use kafka_protocol::messages::MetadataRequest;

    #[test]
    fn starts_serves_restarts_and_recovers_after_a_kill() {
        let mut broker = TestBroker::start().unwrap();
        broker.create_topic("t", 2).unwrap();
        let bootstrap = broker.bootstrap();
        let topics = broker.block_on(async {
            let mut connection = Connection::connect(&bootstrap, "testkit").await.unwrap();
            let metadata = connection
                .request(MetadataRequest::default().with_topics(None), 9)
                .await
                .unwrap();
            metadata.topics.len()
        });
        assert_eq!(topics, 1);
        broker.kill();
        assert!(broker.high_watermark("t", 0).is_none());
        broker.restart().unwrap();
        assert_eq!(broker.bootstrap(), bootstrap, "same port after restart");
        assert_eq!(broker.high_watermark("t", 1), Some(0));
        assert!(matches!(
            broker.wait_for_group_stable("nobody", Duration::from_millis(30)),
            Err(TestkitError::Timeout(..))
        ));
        let dir = broker.data_dir().to_path_buf();
        drop(broker);
        assert!(!dir.exists());
    }

    #[tokio::test]
    async fn works_from_async_tests_too() {
        let broker = TestBroker::start().unwrap();
        broker.create_topic("async", 1).unwrap();
        assert_eq!(broker.high_watermark("async", 0), Some(0));
    }
}
