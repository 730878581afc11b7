//! A cluster of in-process brokers ([`TestCluster`]): every node a broker
//! and a voter of the metadata quorum (KRaft combined mode), replicating
//! over loopback as separate processes would — the same code, only one
//! process. `gregor broker --dev --brokers 3` runs one.
//!
//! ```no_run
//! use std::time::Duration;
//! use gregor::testkit::TestCluster;
//!
//! let mut cluster = TestCluster::builder().brokers(3).start().unwrap();
//! cluster.create_topic("orders", 1, 3).unwrap();
//! let leader = cluster.leader_of("orders", 0).unwrap();
//! cluster.kill(leader).unwrap();
//! let next = cluster.wait_for_leader("orders", 0, Duration::from_secs(30)).unwrap();
//! assert_ne!(next, leader);
//! cluster.restart(leader).unwrap();
//! cluster.wait_for_isr("orders", 0, 3, Duration::from_secs(30)).unwrap();
//! cluster.move_leader("orders", 0, leader, Duration::from_secs(30)).unwrap();
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::TestkitError;
use crate::broker::Broker;
use crate::config::{self, BrokerConfig};
use crate::controller::NewTopic;
use crate::metadata::PartitionImage;
use crate::server::instance::RunningBroker;
use crate::types::TopicPartition;

/// How long a topic's creation may take to show everywhere.
const TOPIC_WAIT: Duration = Duration::from_secs(30);
/// How long brokers may take to register (and be unfenced) everywhere.
const REGISTRATION_WAIT: Duration = Duration::from_secs(60);

/// Settings for a [`TestCluster`].
pub struct TestClusterBuilder {
    brokers: usize,
    properties: BTreeMap<String, String>,
    overrides: Vec<(String, String)>,
    host: String,
    first_port: Option<u16>,
}

impl Default for TestClusterBuilder {
    fn default() -> Self {
        TestClusterBuilder {
            brokers: 3,
            properties: BTreeMap::new(),
            overrides: Vec::new(),
            host: "127.0.0.1".to_string(),
            first_port: None,
        }
    }
}

impl TestClusterBuilder {
    /// How many brokers (node ids 1 to n); 3 unless said.
    pub fn brokers(mut self, brokers: usize) -> Self {
        self.brokers = brokers;
        self
    }

    /// A setting for every broker, by its Kafka name.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.overrides.push((name.to_string(), value.to_string()));
        self
    }

    /// A `server.properties` for every broker: beneath the environment and
    /// the settings given by [`config`](Self::config) (and the cluster's
    /// own), as a broker's file is. What the cluster sets for each node
    /// ([`PER_NODE_SETTINGS`]) is left out.
    pub fn properties(mut self, properties: BTreeMap<String, String>) -> Self {
        self.properties = properties
            .into_iter()
            .filter(|(name, _)| !PER_NODE_SETTINGS.contains(&name.as_str()))
            .collect();
        self
    }

    /// The host the brokers listen on and advertise (`127.0.0.1` unless said).
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_string();
        self
    }

    /// Client listeners on `port`, `port + 1`… rather than free ports.
    pub fn first_port(mut self, port: u16) -> Self {
        self.first_port = Some(port);
        self
    }

    pub fn start(self) -> Result<TestCluster, TestkitError> {
        if self.brokers == 0 {
            return Err(TestkitError::Setup("a cluster needs a broker".to_string()));
        }
        let data = tempfile::Builder::new()
            .prefix("gregor-cluster-")
            .tempdir()
            .map_err(|error| TestkitError::Setup(error.to_string()))?;
        let runtime = super::runtime("gregor-cluster")?;
        let mut nodes = Vec::new();
        for index in 0..self.brokers {
            let node_id =
                i32::try_from(index + 1).map_err(|e| TestkitError::Setup(e.to_string()))?;
            let port = match self.first_port {
                Some(first) => u16::try_from(usize::from(first) + index)
                    .map_err(|e| TestkitError::Setup(e.to_string()))?,
                None => free_port()?,
            };
            nodes.push(Node {
                node_id,
                port,
                controller_port: free_port()?,
                data: data.path().join(format!("node-{node_id}")),
                running: None,
            });
        }
        let voters = nodes
            .iter()
            .map(|node| format!("{}@127.0.0.1:{}", node.node_id, node.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        // Internal topics as Kafka makes them (replicated 3 times, 2 in
        // sync) where the cluster is big enough; fencing and ISR changes
        // within seconds, so that tests of failures do not wait long.
        let replicas = self.brokers.min(3).to_string();
        let min_isr = self.brokers.min(2).to_string();
        let mut overrides: Vec<(String, String)> = [
            ("group.initial.rebalance.delay.ms", "0"),
            ("offsets.topic.replication.factor", replicas.as_str()),
            (
                "transaction.state.log.replication.factor",
                replicas.as_str(),
            ),
            ("transaction.state.log.min.isr", min_isr.as_str()),
            ("broker.session.timeout.ms", "3000"),
            ("broker.heartbeat.interval.ms", "500"),
            ("replica.lag.time.max.ms", "5000"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        overrides.extend(self.overrides);
        let mut cluster = TestCluster {
            runtime: Some(runtime),
            nodes,
            host: self.host,
            voters,
            properties: self.properties,
            overrides,
            cuts: Vec::new(),
            isolated: Default::default(),
            clients_cut: Default::default(),
            links_cut: Default::default(),
            observed: false,
            _data: data,
        };
        let all: Vec<i32> = cluster.nodes.iter().map(|node| node.node_id).collect();
        cluster.start_nodes(&all)?;
        cluster.wait_for_brokers(REGISTRATION_WAIT)?;
        Ok(cluster)
    }
}

struct Node {
    node_id: i32,
    port: u16,
    controller_port: u16,
    data: PathBuf,
    running: Option<RunningBroker>,
}

/// A cluster of brokers for tests; see the module docs.
pub struct TestCluster {
    /// Taken on drop, to shut it down in the background.
    runtime: Option<tokio::runtime::Runtime>,
    nodes: Vec<Node>,
    host: String,
    voters: String,
    properties: BTreeMap<String, String>,
    overrides: Vec<(String, String)>,
    /// The network partitions this cluster's `isolate` made, and the
    /// brokers isolated.
    cuts: Vec<(i32, String)>,
    isolated: std::collections::BTreeSet<i32>,
    /// (from, to): `from` cannot reach `to`.
    links_cut: std::collections::BTreeSet<(i32, i32)>,
    /// Brokers cut off from their clients, and how.
    clients_cut: std::collections::BTreeMap<i32, crate::network_faults::ClientCut>,
    /// Every broker keeps a request journal and lints its clients (what an
    /// admin listener turns on for one broker), restarted ones too.
    observed: bool,
    /// Removed when the cluster is dropped, after its brokers.
    _data: tempfile::TempDir,
}

/// The settings a cluster gives each of its nodes itself (its identity,
/// listeners, quorum and data): one `server.properties` cannot hold them
/// for every node, so a file given for the whole cluster leaves them out.
pub const PER_NODE_SETTINGS: &[&str] = &[
    "node.id",
    "broker.id",
    "process.roles",
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "controller.listener.names",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "log.dirs",
    "log.dir",
];

impl TestCluster {
    /// Three brokers with default settings.
    pub fn start() -> Result<TestCluster, TestkitError> {
        TestCluster::builder().start()
    }

    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    fn block_on<F: std::future::Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        #[allow(clippy::expect_used)] // the runtime lives until drop
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        super::block_on(runtime, future)
    }

    fn config(&self, node: &Node) -> Result<BrokerConfig, TestkitError> {
        // Keep in step with PER_NODE_SETTINGS.
        let client = format!("PLAINTEXT://{}:{}", self.host, node.port);
        let mut overrides: Vec<(String, String)> = vec![
            ("node.id".to_string(), node.node_id.to_string()),
            ("process.roles".to_string(), "broker,controller".to_string()),
            (
                "listeners".to_string(),
                format!("{client},CONTROLLER://127.0.0.1:{}", node.controller_port),
            ),
            ("advertised.listeners".to_string(), client),
            (
                "controller.listener.names".to_string(),
                "CONTROLLER".to_string(),
            ),
            ("controller.quorum.voters".to_string(), self.voters.clone()),
            ("log.dirs".to_string(), node.data.display().to_string()),
        ];
        overrides.extend(self.overrides.iter().cloned());
        let (config, _unused) = config::load_layers(self.properties.clone(), &overrides)
            .map_err(|error| TestkitError::Setup(error.to_string()))?;
        Ok(config)
    }

    /// Starts the nodes at the same moment: each waits for a quorum of the
    /// others.
    fn start_nodes(&mut self, node_ids: &[i32]) -> Result<(), TestkitError> {
        let mut configs = Vec::new();
        for node_id in node_ids {
            let node = self.node(*node_id)?;
            configs.push((*node_id, self.config(node)?));
        }
        let started = self.block_on(async move {
            let starting: Vec<_> = configs
                .into_iter()
                .map(|(node_id, config)| (node_id, tokio::spawn(RunningBroker::start(config))))
                .collect();
            let mut started = Vec::new();
            for (node_id, task) in starting {
                let outcome = match task.await {
                    Ok(outcome) => outcome.map_err(TestkitError::from),
                    Err(error) => Err(TestkitError::Setup(error.to_string())),
                };
                started.push((node_id, outcome));
            }
            started
        });
        let mut failure = None;
        for (node_id, outcome) in started {
            match outcome {
                Ok(running) => {
                    if self.observed {
                        observe(running.broker());
                    }
                    self.node_mut(node_id)?.running = Some(running)
                }
                Err(error) => failure = Some(error),
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn node(&self, node_id: i32) -> Result<&Node, TestkitError> {
        self.nodes
            .iter()
            .find(|node| node.node_id == node_id)
            .ok_or(TestkitError::UnknownNode(node_id))
    }

    fn node_mut(&mut self, node_id: i32) -> Result<&mut Node, TestkitError> {
        self.nodes
            .iter_mut()
            .find(|node| node.node_id == node_id)
            .ok_or(TestkitError::UnknownNode(node_id))
    }

    fn running(&self) -> impl Iterator<Item = (i32, &Arc<Broker>)> {
        self.nodes.iter().filter_map(|node| {
            node.running
                .as_ref()
                .map(|running| (node.node_id, running.broker()))
        })
    }

    /// The running brokers not isolated from the others: the cluster as
    /// its majority sees it.
    fn connected(&self) -> impl Iterator<Item = (i32, &Arc<Broker>)> {
        self.running()
            .filter(|(node_id, _)| !self.isolated.contains(node_id))
    }

    /// Cuts a broker off from the other brokers (replica fetching and the
    /// metadata quorum, both ways; clients still reach it), as a network
    /// partition would: it stops hearing the quorum and following its
    /// leaders, the others fence it and move its leaderships. Until
    /// [`heal`](Self::heal), the cluster's answers (`leader_of`,
    /// `wait_for_isr`…) are the other brokers'.
    pub fn isolate(&mut self, node_id: i32) -> Result<(), TestkitError> {
        self.node(node_id)?;
        let others: Vec<i32> = self
            .node_ids()
            .into_iter()
            .filter(|id| *id != node_id)
            .collect();
        for other in others {
            self.cut_link(node_id, other)?;
            self.cut_link(other, node_id)?;
        }
        self.isolated.insert(node_id);
        Ok(())
    }

    /// Cuts the network one way: broker `from` can no longer reach broker
    /// `to` (its replica fetches and quorum RPCs there fail, as against a
    /// closed port), while `to` still reaches `from`. Until
    /// [`heal`](Self::heal).
    pub fn cut_link(&mut self, from: i32, to: i32) -> Result<(), TestkitError> {
        self.node(from)?;
        let target = self.node(to)?;
        let addresses = [
            format!("{}:{}", self.host, target.port),
            format!("127.0.0.1:{}", target.controller_port),
        ];
        for address in addresses {
            crate::network_faults::cut(from, &address);
            self.cuts.push((from, address));
        }
        self.links_cut.insert((from, to));
        Ok(())
    }

    /// The brokers `node_id` cannot reach (`cut_link`, `isolate`).
    pub fn unreachable_from(&self, node_id: i32) -> Vec<i32> {
        self.links_cut
            .range((node_id, i32::MIN)..=(node_id, i32::MAX))
            .map(|(_, to)| *to)
            .collect()
    }

    /// Whether `isolate` cut the broker off.
    pub fn is_isolated(&self, node_id: i32) -> bool {
        self.isolated.contains(&node_id)
    }

    /// Cuts a broker off from its clients (not from the other brokers):
    /// their connections close at their next request (`Refuse`), or their
    /// requests go unanswered (`BlackHole`), until `heal`.
    pub fn cut_clients(
        &mut self,
        node_id: i32,
        how: crate::network_faults::ClientCut,
    ) -> Result<(), TestkitError> {
        self.node(node_id)?;
        crate::network_faults::cut_clients(node_id, how);
        self.clients_cut.insert(node_id, how);
        Ok(())
    }

    /// Ends the client cut of one broker (`heal` ends every cut).
    pub fn heal_clients(&mut self, node_id: i32) -> Result<(), TestkitError> {
        self.node(node_id)?;
        crate::network_faults::heal_clients(node_id);
        self.clients_cut.remove(&node_id);
        Ok(())
    }

    /// How `cut_clients` cut a broker off from its clients, if it did.
    pub fn clients_cut(&self, node_id: i32) -> Option<crate::network_faults::ClientCut> {
        self.clients_cut.get(&node_id).copied()
    }

    /// Freezes a broker as SIGSTOP would, from the outside: the other
    /// brokers and its clients reach it, and nothing comes back — it is
    /// isolated and its clients black-holed — until `heal`. (Its own
    /// timers keep running: when healed it acts on what it missed.)
    pub fn pause(&mut self, node_id: i32) -> Result<(), TestkitError> {
        self.isolate(node_id)?;
        self.cut_clients(node_id, crate::network_faults::ClientCut::BlackHole)
    }

    /// Moves the brokers' clock forward (time travel): session, rebalance
    /// and transaction timeouts, producer id expiry and retention fire at
    /// once instead of after real minutes. The clock is the process's.
    pub fn advance_clock(&self, by: Duration) {
        crate::clock::advance(by);
    }

    /// Ends every partition `isolate`, `cut_link`, `cut_clients` and
    /// `pause` made.
    pub fn heal(&mut self) {
        crate::network_faults::heal(&self.cuts);
        self.cuts.clear();
        self.isolated.clear();
        self.links_cut.clear();
        for node_id in std::mem::take(&mut self.clients_cut).into_keys() {
            crate::network_faults::heal_clients(node_id);
        }
    }

    /// The node ids, 1 to n.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|node| node.node_id).collect()
    }

    /// `bootstrap.servers` for clients: every running broker.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .filter(|node| node.running.is_some())
            .map(|node| format!("{}:{}", self.host, node.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One broker's address.
    pub fn address(&self, node_id: i32) -> Result<String, TestkitError> {
        let node = self.node(node_id)?;
        Ok(format!("{}:{}", self.host, node.port))
    }

    /// Whether the broker runs.
    pub fn is_running(&self, node_id: i32) -> bool {
        self.node(node_id).is_ok_and(|node| node.running.is_some())
    }

    /// Stops a broker without a clean shutdown, as `kill -9` would: its
    /// leaderships move once the quorum stops hearing from it.
    pub fn kill(&mut self, node_id: i32) -> Result<(), TestkitError> {
        let running = self.node_mut(node_id)?.running.take();
        if let Some(running) = running {
            self.block_on(running.abort());
        }
        Ok(())
    }

    /// Stops a broker cleanly: it hands its leaderships over first.
    pub fn stop(&mut self, node_id: i32) -> Result<(), TestkitError> {
        let running = self.node_mut(node_id)?.running.take();
        if let Some(running) = running {
            self.block_on(running.shutdown())?;
        }
        Ok(())
    }

    /// Starts a stopped or killed broker again, on its ports and data, and
    /// waits until every running broker lists it as alive.
    pub fn restart(&mut self, node_id: i32) -> Result<(), TestkitError> {
        self.stop(node_id)?;
        self.start_nodes(&[node_id])?;
        self.wait_for_brokers(REGISTRATION_WAIT)
    }

    /// Waits until every running broker's metadata lists every running
    /// broker as registered and not fenced: until then a topic replicated
    /// to all of them cannot be created.
    pub fn wait_for_brokers(&self, timeout: Duration) -> Result<(), TestkitError> {
        let running: Vec<i32> = self.running().map(|(node_id, _)| node_id).collect();
        super::wait_until(
            timeout,
            || format!("brokers {running:?} registered and alive everywhere"),
            || {
                self.running().all(|(_, broker)| {
                    let image = broker.metadata();
                    running.iter().all(|id| image.broker(*id).is_some())
                })
            },
        )
    }

    /// Creates a topic and waits until every partition has a leader and
    /// its full ISR in every running broker's metadata.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<(), TestkitError> {
        let (_, broker) = self.running().next().ok_or(TestkitError::Stopped)?;
        let topic = NewTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor,
            configs: Default::default(),
            assignments: None,
        };
        self.block_on(broker.create_topic(topic, false))?;
        let replicas = usize::try_from(replication_factor).unwrap_or(1);
        for partition in 0..partitions {
            self.wait_for_isr(name, partition, replicas, TOPIC_WAIT)?;
            // The metadata is ahead of the leader taking its role.
            super::wait_until(
                TOPIC_WAIT,
                || format!("the leader of {name}-{partition} leading"),
                || self.leads(name, partition),
            )?;
        }
        Ok(())
    }

    /// The partition as the running brokers' metadata agree on it, if
    /// they all know it the same way.
    fn agreed(&self, topic: &str, partition: i32) -> Option<PartitionImage> {
        let mut seen: Option<PartitionImage> = None;
        for (_, broker) in self.connected() {
            let image = broker.metadata();
            let found = image
                .topic(topic)?
                .partitions
                .get(usize::try_from(partition).ok()?)?
                .clone();
            match &seen {
                Some(earlier) if *earlier != found => return None,
                _ => seen = Some(found),
            }
        }
        seen
    }

    /// The partition's leader, if the running brokers agree on one.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Option<i32> {
        self.agreed(topic, partition)
            .map(|p| p.leader)
            .filter(|leader| *leader >= 0)
    }

    /// The partition's in-sync replicas, as the running brokers agree.
    pub fn in_sync_replicas(&self, topic: &str, partition: i32) -> Vec<i32> {
        self.agreed(topic, partition)
            .map(|p| p.isr)
            .unwrap_or_default()
    }

    /// Waits until the partition has a running leader, not isolated, that
    /// every running broker (not isolated) agrees on; that leader.
    pub fn wait_for_leader(
        &self,
        topic: &str,
        partition: i32,
        timeout: Duration,
    ) -> Result<i32, TestkitError> {
        let mut leader = -1;
        super::wait_until(
            timeout,
            || format!("a running leader for {topic}-{partition}"),
            || {
                leader = self.leader_of(topic, partition).unwrap_or(-1);
                leader >= 0 && self.is_running(leader) && !self.isolated.contains(&leader)
            },
        )?;
        Ok(leader)
    }

    /// Waits until the partition's ISR, as every running broker sees it,
    /// holds `replicas` brokers.
    pub fn wait_for_isr(
        &self,
        topic: &str,
        partition: i32,
        replicas: usize,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        super::wait_until(
            timeout,
            || format!("{replicas} in-sync replicas of {topic}-{partition}"),
            || {
                self.leader_of(topic, partition).is_some()
                    && self.in_sync_replicas(topic, partition).len() == replicas
            },
        )
    }

    /// Moves the partition's leadership to `to`, an in-sync replica: it
    /// becomes the first replica (a reassignment that only reorders, done
    /// at once) and a preferred-leader election makes it lead, as
    /// `kafka-reassign-partitions.sh` then `kafka-leader-election.sh`
    /// would. Waits until every running broker sees it lead.
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        to: i32,
        timeout: Duration,
    ) -> Result<(), TestkitError> {
        let current = self
            .agreed(topic, partition)
            .ok_or_else(|| TestkitError::Setup(format!("{topic}-{partition} is not known")))?;
        if !current.isr.contains(&to) {
            return Err(TestkitError::Setup(format!(
                "{to} is not in the ISR of {topic}-{partition}: {:?}",
                current.isr
            )));
        }
        let mut replicas = vec![to];
        replicas.extend(current.replicas.iter().copied().filter(|id| *id != to));
        let (_, broker) = self.running().next().ok_or(TestkitError::Stopped)?;
        let controller = broker.controller();
        self.block_on(async {
            controller
                .alter_partition_reassignment(topic, partition, Some(&replicas), false, false)
                .await
                .map_err(|refused| TestkitError::Setup(refused.message))?;
            controller
                .elect_leader(topic, partition, false)
                .await
                .map_err(|error| TestkitError::Setup(format!("{error:?}")))
        })?;
        super::wait_until(
            timeout,
            || format!("{to} leading {topic}-{partition}"),
            || self.leader_of(topic, partition) == Some(to),
        )
    }

    /// Whether the partition's leader (as the metadata says) has taken
    /// the role.
    fn leads(&self, topic: &str, partition: i32) -> bool {
        let Some(leader) = self.leader_of(topic, partition) else {
            return false;
        };
        self.running()
            .find(|(node_id, _)| *node_id == leader)
            .and_then(|(_, broker)| broker.partition(&TopicPartition::new(topic, partition)))
            .is_some_and(|p| p.is_leader())
    }

    /// From now on every broker keeps a request journal and lints its
    /// clients, as a broker with an admin listener does (the dev cluster's
    /// plane serves them under `/brokers/<id>/`).
    pub fn observe(&mut self) {
        self.observed = true;
        for (_, broker) in self.running() {
            observe(broker);
        }
    }

    /// A running broker, for what the tests want of it directly.
    pub fn broker(&self, node_id: i32) -> Option<Arc<Broker>> {
        self.running()
            .find(|(id, _)| *id == node_id)
            .map(|(_, broker)| Arc::clone(broker))
    }

    /// The records in `topic`: the log end offsets of its partitions on
    /// their leaders (as the brokers that are not isolated see them).
    pub fn records_in(&self, topic: &str) -> u64 {
        self.connected()
            .flat_map(|(_, broker)| broker.partitions_by_name().into_values())
            .filter(|partition| partition.topic_partition().topic == topic && partition.is_leader())
            .map(|partition| u64::try_from(partition.log_end_offset().value()).unwrap_or(0))
            .sum()
    }

    /// The partition's high watermark on its leader.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        let leader = self.leader_of(topic, partition)?;
        let (_, broker) = self.running().find(|(node_id, _)| *node_id == leader)?;
        broker
            .partition(&TopicPartition::new(topic, partition))
            .map(|p| p.high_watermark().value())
    }

    /// The data directory of one broker (removed with the cluster).
    pub fn data_dir(&self, node_id: i32) -> Result<&std::path::Path, TestkitError> {
        Ok(&self.node(node_id)?.data)
    }

    /// Stops every broker cleanly.
    pub fn shutdown(&mut self) -> Result<(), TestkitError> {
        let mut failure = None;
        for node_id in self.node_ids() {
            if let Err(error) = self.stop(node_id) {
                failure = Some(error);
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.heal();
        // Killed rather than stopped: a clean stop hands leaderships to
        // brokers about to go too, and waits for it.
        for node_id in self.node_ids() {
            let _ = self.kill(node_id);
        }
        // Ports of brokers that never started are still held.
        for node in &self.nodes {
            crate::listen::release(node.port);
            crate::listen::release(node.controller_port);
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A free port (the OS's pick), held for the broker's listener to take
/// over when it starts (see [`crate::listen`]).
fn free_port() -> Result<u16, TestkitError> {
    crate::listen::reserve_loopback().map_err(|error| TestkitError::Setup(error.to_string()))
}

/// Turns on a broker's request journal and linter.
fn observe(broker: &Broker) {
    broker.journal().enable();
    broker.linter().enable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Connection;
    use crate::records::builder::BatchBuilder;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn produce(cluster: &TestCluster, leader: i32, topic: &str, value: &str) -> (i16, i64) {
        produce_within(cluster, leader, topic, value, 10_000)
    }

    fn produce_within(
        cluster: &TestCluster,
        leader: i32,
        topic: &str,
        value: &str,
        timeout_ms: i32,
    ) -> (i16, i64) {
        let address = cluster.address(leader).unwrap();
        let now = crate::types::now_ms();
        let mut batch = BatchBuilder::new(now);
        batch.push(now, None, Some(value.as_bytes()), &[]);
        let records = bytes::Bytes::from(batch.build());
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(timeout_ms)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records))])]);
        cluster.block_on(async move {
            let mut connection = Connection::connect(&address, "testkit-cluster")
                .await
                .unwrap();
            let response = connection.request(request, 9).await.unwrap();
            let partition = &response.responses[0].partition_responses[0];
            (partition.error_code, partition.base_offset)
        })
    }

    #[test]
    fn a_cluster_replicates_fails_over_and_takes_a_restarted_broker_back() {
        // A node's server.properties: its identity and listeners are left
        // out, the rest applies to every broker, beneath `config`.
        let file: BTreeMap<String, String> = [
            ("node.id", "7"),
            ("listeners", "PLAINTEXT://:1"),
            ("num.partitions", "4"),
            ("message.max.bytes", "2000"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        let mut cluster = TestCluster::builder()
            .brokers(3)
            .properties(file)
            .config("num.partitions", "2")
            .start()
            .unwrap();
        assert_eq!(cluster.node_ids(), vec![1, 2, 3]);
        for node in 1..=3 {
            let config = cluster.broker(node).unwrap().config().clone();
            assert_eq!(
                (config.num_partitions, config.log.max_message_bytes),
                (2, 2000)
            );
        }
        assert_eq!(cluster.bootstrap().split(',').count(), 3);
        cluster.create_topic("replicated", 1, 3).unwrap();
        assert_eq!(cluster.in_sync_replicas("replicated", 0).len(), 3);
        let leader = cluster.leader_of("replicated", 0).unwrap();
        assert_eq!(produce(&cluster, leader, "replicated", "one"), (0, 0));
        assert_eq!(cluster.high_watermark("replicated", 0), Some(1));

        cluster.kill(leader).unwrap();
        assert!(!cluster.is_running(leader));
        assert_eq!(cluster.bootstrap().split(',').count(), 2);
        let next = cluster
            .wait_for_leader("replicated", 0, Duration::from_secs(30))
            .unwrap();
        assert_ne!(next, leader);
        assert_eq!(produce(&cluster, next, "replicated", "two"), (0, 1));

        cluster.restart(leader).unwrap();
        cluster
            .wait_for_isr("replicated", 0, 3, Duration::from_secs(30))
            .unwrap();
        assert_eq!(cluster.high_watermark("replicated", 0), Some(2));

        // Leadership moved back to the restarted broker on request.
        cluster
            .move_leader("replicated", 0, leader, Duration::from_secs(30))
            .unwrap();
        assert_eq!(produce(&cluster, leader, "replicated", "three"), (0, 2));
        assert!(matches!(cluster.kill(9), Err(TestkitError::UnknownNode(9))));
    }

    #[test]
    fn an_isolated_leader_acknowledges_nothing_and_loses_nothing_when_healed() {
        let mut cluster = TestCluster::builder()
            .brokers(3)
            .config("min.insync.replicas", "2")
            .start()
            .unwrap();
        cluster.create_topic("cut", 1, 3).unwrap();
        let leader = cluster.leader_of("cut", 0).unwrap();
        assert_eq!(produce(&cluster, leader, "cut", "before"), (0, 0));

        cluster.isolate(leader).unwrap();
        // Its followers are gone: acks=all is not acknowledged (the write
        // stays in its log, unreplicated).
        let (code, _) = produce_within(&cluster, leader, "cut", "unacknowledged", 1_000);
        assert_ne!(code, 0, "an isolated leader acknowledged acks=all");
        let next = cluster
            .wait_for_leader("cut", 0, Duration::from_secs(30))
            .unwrap();
        assert_ne!(next, leader);
        // The unacknowledged write may have reached the followers before
        // the cut (a fetch in flight), or not: "after" lands at 1 or 2.
        // Until `next` has applied its own election it answers
        // NOT_LEADER_OR_FOLLOWER (6), appending nothing: try again then.
        let mut attempt = produce(&cluster, next, "cut", "after");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while attempt.0 == 6 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            attempt = produce(&cluster, next, "cut", "after");
        }
        let (code, after) = attempt;
        assert_eq!(code, 0, "producing to the new leader {next}");
        assert!(after == 1 || after == 2, "{after}");

        cluster.heal();
        cluster
            .wait_for_isr("cut", 0, 3, Duration::from_secs(60))
            .unwrap();
        // The old leader now holds the new leader's log: a write of its
        // own the others lacked was dropped, nothing acknowledged was.
        assert_eq!(cluster.high_watermark("cut", 0), Some(after + 1));
        let (_, old) = cluster.running().find(|(id, _)| *id == leader).unwrap();
        let partition = old.partition(&TopicPartition::new("cut", 0)).unwrap();
        super::super::wait_until(
            Duration::from_secs(30),
            || "the old leader caught up".to_string(),
            || partition.log_end_offset().value() == after + 1,
        )
        .unwrap();
        let (_, new) = cluster.running().find(|(id, _)| *id == next).unwrap();
        let read = |broker: &Arc<Broker>| {
            let partition = broker.partition(&TopicPartition::new("cut", 0)).unwrap();
            partition
                .read_to_log_end_blocking(crate::types::Offset(0), 1 << 20)
                .unwrap()
        };
        assert_eq!(read(old), read(new), "byte-identical replicas");
    }
}
