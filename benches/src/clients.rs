//! The librdkafka clients every phase builds: the settings they share
//! (bootstrap, `-X` settings such as TLS), topic creation, and a client
//! context that counts delivery reports and keeps the client's request
//! counts, so that a phase knows when its records are in and how many
//! requests carried them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

use crate::request_stats::RequestStats;

/// Where the brokers are and how to reach them.
#[derive(Clone)]
pub struct Cluster {
    pub bootstrap: String,
    /// `-X key=value`: set on every client (security, for instance).
    pub client_config: Vec<(String, String)>,
}

impl Cluster {
    /// A client configuration with the bootstrap address and every `-X`.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (key, value) in &self.client_config {
            config.set(key, value);
        }
        config
    }

    /// Whether clients speak anything but plaintext to the brokers (the
    /// raw-socket phases only speak plaintext).
    pub fn plaintext(&self) -> bool {
        !self.client_config.iter().any(|(key, value)| {
            key == "security.protocol" && !value.eq_ignore_ascii_case("plaintext")
        })
    }

    /// The first bootstrap address.
    pub fn first_address(&self) -> &str {
        self.bootstrap.split(',').next().unwrap_or(&self.bootstrap)
    }

    /// Creates `topic` (an existing one is fine), waiting up to `timeout`
    /// for the brokers' answer.
    pub fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        timeout: Duration,
    ) -> Result<(), String> {
        self.try_create_topic(topic, partitions, replication_factor, timeout)
            .map_err(|e| e.to_string())
    }

    /// `create_topic`, telling a timeout (the creation may still be under
    /// way, as Kafka's REQUEST_TIMED_OUT says) from a refusal.
    pub fn try_create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        timeout: Duration,
    ) -> Result<(), CreateError> {
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .set("socket.timeout.ms", timeout.as_millis().to_string())
            .create()
            .map_err(|e| CreateError::Refused(format!("admin client: {e}")))?;
        let new_topic = NewTopic::new(
            topic,
            partitions,
            TopicReplication::Fixed(replication_factor),
        );
        let options = AdminOptions::new()
            .operation_timeout(Some(timeout))
            .request_timeout(Some(timeout + Duration::from_secs(5)));
        let started = Instant::now();
        let result = block_on(admin.create_topics([&new_topic], &options));
        let what = |e: String| {
            format!(
                "CreateTopics {topic}: {e} after {:.1} s",
                started.elapsed().as_secs_f64()
            )
        };
        match result {
            Ok(results) => match &results[..] {
                [Ok(_)] | [Err((_, RDKafkaErrorCode::TopicAlreadyExists))] => Ok(()),
                [Err((_, RDKafkaErrorCode::RequestTimedOut))] => {
                    Err(CreateError::TimedOut(what("REQUEST_TIMED_OUT".into())))
                }
                other => Err(CreateError::Refused(what(format!("{other:?}")))),
            },
            Err(e @ KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut)) => {
                Err(CreateError::TimedOut(what(e.to_string())))
            }
            Err(e) => Err(CreateError::Refused(what(e.to_string()))),
        }
    }

    /// Grows `topic` to `partitions` partitions (CreatePartitions).
    pub fn add_partitions(
        &self,
        topic: &str,
        partitions: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        let admin: AdminClient<DefaultClientContext> = self
            .config()
            .set("socket.timeout.ms", timeout.as_millis().to_string())
            .create()
            .map_err(|e| format!("admin client: {e}"))?;
        let options = AdminOptions::new()
            .operation_timeout(Some(timeout))
            .request_timeout(Some(timeout + Duration::from_secs(5)));
        let grow = NewPartitions::new(topic, partitions);
        match block_on(admin.create_partitions([&grow], &options)) {
            Ok(results) => match &results[..] {
                [Ok(_)] => Ok(()),
                other => Err(format!(
                    "CreatePartitions {topic} to {partitions}: {other:?}"
                )),
            },
            Err(e) => Err(format!("CreatePartitions {topic} to {partitions}: {e}")),
        }
    }

    /// The settings of a consumer that uses no group APIs (partitions
    /// are assigned); librdkafka's fetch defaults otherwise.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = self.config();
        config
            .set("group.id", "gregor-bench") // required by librdkafka; no group APIs are used
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest");
        config
    }

    /// The settings every measured producer starts from: no idempotence,
    /// so that each phase sets what it measures.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.config();
        config.set("enable.idempotence", "false");
        config
    }

    /// A producer of `config`, connected and holding `topic`'s metadata
    /// before any phase's clock starts.
    pub fn producer(
        &self,
        config: &ClientConfig,
        topic: &str,
    ) -> Result<BaseProducer<Observer>, String> {
        let producer: BaseProducer<Observer> = config
            .create_with_context(Observer::default())
            .map_err(|e| format!("producer: {e}"))?;
        producer
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        Ok(producer)
    }

    pub fn consumer(&self, context: Observer) -> Result<BaseConsumer<Observer>, String> {
        self.consumer_config()
            .create_with_context(context)
            .map_err(|e| format!("consumer: {e}"))
    }

    /// Waits until the cluster's metadata lists at least `brokers`
    /// brokers: the brokers of a cluster started together register one by
    /// one, and a topic with more replicas than registered brokers is
    /// refused.
    pub fn wait_for_brokers(&self, brokers: usize, timeout: Duration) -> Result<(), String> {
        let consumer = self.consumer(Observer::default())?;
        let deadline = Instant::now() + timeout;
        loop {
            let seen = consumer
                .fetch_metadata(None, Duration::from_secs(5))
                .map(|metadata| metadata.brokers().len());
            match seen {
                Ok(seen) if seen >= brokers => return Ok(()),
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "the metadata did not list {brokers} brokers within {timeout:?} ({seen:?})"
                    ))
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }
}

/// Why a topic was not created.
pub enum CreateError {
    TimedOut(String),
    Refused(String),
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateError::TimedOut(e) | CreateError::Refused(e) => f.write_str(e),
        }
    }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => crate::args::die(&format!("a tokio runtime: {e}")),
    }
}

/// Assigns `topic`'s `partition` at `offset`.
pub fn assign<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    offset: Offset,
) -> Result<(), String> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, offset)
        .map_err(|e| format!("assign {topic}/{partition}: {e}"))?;
    consumer
        .assign(&list)
        .map_err(|e| format!("assign {topic}/{partition}: {e}"))
}

/// Delivery reports so far.
#[derive(Default)]
pub struct Counts {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Counts {
    pub fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok()?.clone()
    }
}

/// A client context counting delivery reports and keeping the request
/// counts of librdkafka's statistics (when `statistics.interval.ms` is
/// set).
#[derive(Clone, Default)]
pub struct Observer {
    pub deliveries: Arc<Counts>,
    pub requests: Arc<RequestStats>,
}

impl ClientContext for Observer {
    fn stats(&self, statistics: Statistics) {
        self.requests.record(&statistics);
    }
}

impl ConsumerContext for Observer {}

impl ProducerContext for Observer {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.deliveries.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.deliveries.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.deliveries.first_error.lock() {
                    first.get_or_insert_with(|| error.to_string());
                }
            }
        }
    }
}

/// Queues one record for `partition`, polling while the queue is full.
pub fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    producer: &BaseProducer<C>,
    topic: &str,
    partition: i32,
    payload: &[u8],
) -> Result<(), String> {
    let mut record: BaseRecord<'_, [u8], [u8], ()> =
        BaseRecord::to(topic).partition(partition).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(format!("send to {topic}/{partition}: {e}")),
        }
    }
}

/// Polls `producer` until every one of `sent` records has its delivery
/// report, or `timeout` passes.
pub fn await_deliveries(
    producer: &BaseProducer<Observer>,
    sent: u64,
    timeout: Duration,
) -> Result<(), String> {
    let counts = &producer.context().deliveries;
    let deadline = Instant::now() + timeout;
    while counts.done() < sent {
        if Instant::now() > deadline {
            return Err(format!(
                "{} of {sent} delivery reports after {timeout:?}",
                counts.done()
            ));
        }
        producer.poll(Duration::from_millis(10));
    }
    Ok(())
}

/// A payload of `size` bytes that is not all one byte (so that
/// compression is not trivial).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
        .collect()
}

/// A fresh, unique part of topic names for this run.
pub fn run_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default();
    format!("{millis}-{}", std::process::id())
}
