//! The metadata quorum: the controller's state replicated by Raft
//! (openraft, storage v2) across its voters (seeded from
//! `controller.quorum.voters`, then as AddRaftVoter and RemoveRaftVoter
//! change them) and the controllers that observe it as learners.
//!
//! - `records.rs`: what the metadata log holds (brokers, topics with their
//!   partitions, leaders and ISR, producer-id blocks, dynamic broker
//!   configs) and the state it folds into;
//! - `log_store.rs`: the durable Raft log (entries, vote, committed id);
//! - `state_machine.rs`: the applied metadata state and its snapshots;
//! - `network.rs`: Raft's RPCs between controllers, length-prefixed JSON
//!   over the controller listener;
//! - `kafka_clients.rs`: the Kafka clients the controller listener also
//!   serves (`--bootstrap-controller`), told apart from the Raft peers and
//!   handed to the server layer;
//! - `membership.rs`: KIP-853's dynamic quorum (AddRaftVoter,
//!   RemoveRaftVoter) as openraft membership changes.
//!
//! The leader validates a change before proposing it; applying a record is
//! deterministic, so every voter and learner folds the log into the same
//! state.

pub mod describe;
pub mod kafka_clients;
pub mod log_store;
pub mod membership;
pub mod network;
pub mod observer;
pub mod records;
pub mod state_machine;

use std::io::Cursor;

pub use records::{MetadataRecord, MetadataResponse, MetadataState, PartitionChange};

openraft::declare_raft_types!(
    /// The Raft types of gregor's metadata quorum.
    pub TypeConfig:
        D = MetadataRecord,
        R = MetadataResponse,
        NodeId = u64,
        Node = ControllerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A member of the quorum (voter or observer) as the Raft membership
/// records it: where its controller listener is and, for a controller
/// that joined as an observer (KIP-853), the directory id of its metadata
/// log dir. Voters seeded from `controller.quorum.voters` have none until
/// `kraft.version` 1 (Kafka's static voters show the zero directory id),
/// then each has the leader record its own (`record_own_directory`).
/// Serialized as openraft's `BasicNode` was, plus the id when known: logs
/// written before it existed read unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControllerNode {
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_id: Option<uuid::Uuid>,
}

impl ControllerNode {
    pub fn new(addr: impl Into<String>) -> ControllerNode {
        ControllerNode {
            addr: addr.into(),
            directory_id: None,
        }
    }
}

/// The Raft handle of one controller.
pub type MetadataRaft = openraft::Raft<TypeConfig>;

/// Where the metadata log lives in the data directory (Kafka's name for
/// the KRaft log); the log manager leaves it alone.
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";

/// Why the quorum could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("metadata log storage failed: {0}")]
    Storage(#[from] std::io::Error),
    #[error("metadata quorum: {0}")]
    Raft(String),
    #[error("this node no longer leads the metadata quorum")]
    NotLeader,
}

/// Who votes in the quorum: this node alone, or the configured voters
/// (`controller.quorum.voters`) with this node serving its peers on `bind`.
#[derive(Debug, Clone, Default)]
pub struct QuorumMembers {
    /// Voter id and controller address; empty: this node alone, unless
    /// `bootstrap` names where to find the quorum.
    pub voters: Vec<(u64, String)>,
    /// `controller.quorum.bootstrap.servers`: controller listeners to find
    /// a quorum whose voters are not configured (KIP-853).
    pub bootstrap: Vec<String>,
    /// Where this node's controller listener binds.
    pub bind: Option<String>,
    /// This node is not a controller (`process.roles=broker`): it follows
    /// the voters' metadata instead of taking part in Raft.
    pub observer: bool,
    /// Where the other controllers reach this node's controller listener
    /// (its advertised address), for a controller that joins the quorum
    /// as an observer.
    pub address: Option<String>,
    /// The directory id of this node's metadata log dir (`directory.id`
    /// of its `meta.properties`), which names it in AddRaftVoter and
    /// RemoveRaftVoter.
    pub directory_id: uuid::Uuid,
    /// How the controllers prove who they are to each other.
    pub security: QuorumSecurity,
}

/// The controller listener's security, as its protocol says: TLS (mutual
/// on `SSL`), a SASL/PLAIN login on `SASL_*`, or nothing on `PLAINTEXT`.
#[derive(Clone, Default)]
pub struct QuorumSecurity {
    /// Serving: the TLS acceptor (an `SSL` listener requires a client
    /// certificate its truststore trusts).
    pub acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// Serving: the users a `SASL_*` listener's PLAIN login module knows.
    pub plain_users: Option<std::sync::Arc<std::collections::BTreeMap<String, String>>>,
    /// Serving: names a peer by its certificate (`ssl.principal.mapping.rules`).
    pub principal_mapper: crate::auth::principal::PrincipalMapper,
    /// With ACLs on, a peer's principal needs CLUSTER_ACTION (a super
    /// user, or by ACL), as Kafka's controller requires of its peers.
    pub authorizer: Option<crate::auth::authorizer::Authorizer>,
    /// Connecting: TLS with this node's certificate.
    pub connector: Option<tokio_rustls::TlsConnector>,
    /// Connecting: this node's PLAIN login (`sasl.mechanism.controller.protocol`).
    pub login: Option<crate::config::client_security::SaslCredentials>,
}

impl std::fmt::Debug for QuorumSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumSecurity")
            .field("tls", &self.acceptor.is_some())
            .field("sasl", &self.plain_users.is_some())
            .finish_non_exhaustive()
    }
}

impl QuorumSecurity {
    /// From the controller listener's protocol and settings (the first of
    /// `controller.listener.names`): TLS as `ssl.*` says (mutual on `SSL`),
    /// PLAIN users and this node's login on `SASL_*`.
    pub fn from_config(
        config: &crate::config::BrokerConfig,
    ) -> Result<QuorumSecurity, crate::auth::tls::TlsError> {
        let Some(name) = config.controller_listener_names.first() else {
            return Ok(QuorumSecurity::default());
        };
        let protocol = config.security.protocol(name);
        let invalid = |reason: String| crate::auth::tls::TlsError::Invalid {
            listener: name.clone(),
            reason,
        };
        let mut security = QuorumSecurity {
            authorizer: Some(crate::auth::authorizer::Authorizer::new(
                config.security.authorizer.clone(),
            )),
            ..QuorumSecurity::default()
        };
        if let Some(ssl) = config
            .security
            .ssl
            .get(name)
            .filter(|_| protocol.uses_tls())
        {
            // Without SASL, the certificate is the only proof of identity.
            let mutual = !protocol.uses_sasl();
            let (acceptor, connector) = crate::auth::tls::quorum(name, ssl, mutual)?;
            security.acceptor = Some(acceptor);
            security.connector = Some(connector);
            security.principal_mapper =
                crate::auth::principal::PrincipalMapper::parse(&ssl.principal_mapping_rules)
                    .map_err(|reason| invalid(format!("ssl.principal.mapping.rules: {reason}")))?;
        }
        if protocol.uses_sasl() {
            // A voter serves the listener; every node logs in to it.
            if let Some(sasl) = config.security.sasl.get(name) {
                security.plain_users = Some(std::sync::Arc::new(sasl.plain_users.clone()));
            }
            let client = config
                .security
                .controller_client
                .as_ref()
                .map_err(|reason| invalid(reason.clone()))?;
            security.login = client.sasl.clone();
        }
        Ok(security)
    }
}

impl QuorumMembers {
    /// The controller addresses to reach the quorum through: the voters',
    /// else the bootstrap servers.
    fn contact_points(&self) -> Vec<String> {
        match self.voters.is_empty() {
            false => self.voters.iter().map(|(_, a)| a.clone()).collect(),
            true => self.bootstrap.clone(),
        }
    }

    /// A controller found through bootstrap servers that name only itself
    /// starts a quorum of its own, as Kafka's `kafka-storage format
    /// --standalone` (Kafka 4's quickstart); one found through others'
    /// joins theirs as an observer, as `--no-initial-controllers`.
    async fn with_standalone_voter(&self, node_id: u64) -> QuorumMembers {
        let mut members = self.clone();
        if !self.voters.is_empty() || self.bootstrap.is_empty() || self.observer {
            return members;
        }
        let port = self
            .bind
            .as_deref()
            .and_then(|bind| bind.rsplit_once(':'))
            .and_then(|(_, port)| port.parse::<u16>().ok());
        let Some(port) = port else {
            return members;
        };
        let mut own = true;
        for address in &self.bootstrap {
            own &= reaches_here(address, port).await;
        }
        if own {
            members.voters = vec![(node_id, self.bootstrap[0].clone())];
        }
        members
    }

    fn transport(&self, node: i32) -> network::Transport {
        network::Transport::new(self.security.connector.clone(), self.security.login.clone())
            .of_node(node)
    }
}

/// How long a starting controller waits for the quorum to elect a leader
/// (its peers may be starting at the same moment).
const ELECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a configured voter other than the lowest-numbered one waits
/// for that one to lead a new quorum before it campaigns itself: two
/// election timeouts at most.
const FIRST_VOTER_GRACE: std::time::Duration = std::time::Duration::from_millis(600);
/// How long a proposal may look for a leader before failing.
const PROPOSAL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// One controller's part in the quorum, used from blocking threads: the
/// controller validates on the caller's thread and waits here for its
/// records to be committed and applied.
pub struct Quorum {
    member: Member,
    /// Brokers heard from, as this node's controller hears them when it
    /// leads the quorum.
    liveness: std::sync::Arc<crate::controller::liveness::Liveness>,
    runtime: tokio::runtime::Handle,
    stop: tokio_util::sync::CancellationToken,
    /// How this node reaches the other controllers.
    transport: network::Transport,
    /// The voter change this node runs while it leads.
    changes: membership::Changes,
    /// When the other members last answered this node's appends.
    contacts: std::sync::Arc<describe::PeerContacts>,
    /// Who serves the Kafka clients of this node's controller listener.
    kafka: kafka_clients::KafkaHandoff,
}

/// How this node takes part: a Raft member with its own copy of the log
/// (a voter, or a controller that follows as a Raft learner until it is
/// added as a voter, and after it is removed), or a broker that polls the
/// voters' applied state.
enum Member {
    Replica {
        raft: MetadataRaft,
        state: state_machine::StateMachineStore,
    },
    Observer(std::sync::Arc<observer::Observer>),
}

impl Quorum {
    /// Starts this node's controller: opens the metadata log, serves the
    /// peers (if any), initialises the quorum on first start (every voter
    /// proposes the same membership, so no separate format step is
    /// needed), and waits until a leader is elected. Call from a thread
    /// outside the runtime (a blocking task).
    pub fn start(
        data_dir: &std::path::Path,
        node_id: u64,
        members: &QuorumMembers,
        runtime: tokio::runtime::Handle,
    ) -> Result<Quorum, QuorumError> {
        let node = i32::try_from(node_id).unwrap_or(i32::MAX);
        if members.observer {
            let quorum = Quorum::observe(members, node, runtime)?;
            quorum.runtime.block_on(quorum.catch_up(ELECTION_WAIT))?;
            return Ok(quorum);
        }
        let dir = data_dir.join(METADATA_LOG_DIR);
        let log = log_store::LogStore::open(&dir)?;
        let state = state_machine::StateMachineStore::open(&dir)?;
        let contacts = std::sync::Arc::<describe::PeerContacts>::default();
        let config = openraft::Config {
            cluster_name: "gregor".to_string(),
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        }
        .validate()
        .map_err(|e| QuorumError::Raft(e.to_string()))?;
        let raft = runtime
            .block_on(MetadataRaft::new(
                node_id,
                std::sync::Arc::new(config),
                network::QuorumNetwork {
                    transport: members.transport(node),
                    contacts: std::sync::Arc::clone(&contacts),
                },
                log,
                state.clone(),
            ))
            .map_err(|e| QuorumError::Raft(e.to_string()))?;
        let quorum = Quorum {
            transport: members.transport(node),
            member: Member::Replica { raft, state },
            liveness: Default::default(),
            runtime,
            stop: tokio_util::sync::CancellationToken::new(),
            changes: Default::default(),
            contacts,
            kafka: Default::default(),
        };
        if members.voters.is_empty() && members.bootstrap.is_empty() {
            quorum.runtime.block_on(quorum.lead_alone(node_id))?;
        } else {
            let members = quorum
                .runtime
                .block_on(members.with_standalone_voter(node_id));
            quorum.join(node_id, &members)?;
        }
        quorum.runtime.block_on(quorum.catch_up(ELECTION_WAIT))?;
        Ok(quorum)
    }

    /// [`catch_up`](Self::catch_up) for a request decided on this node's
    /// image that found it lacking what the quorum may already hold (a
    /// topic just created through another node), as Kafka decides such
    /// requests on the active controller.
    pub async fn caught_up(&self, timeout: std::time::Duration) -> Result<(), QuorumError> {
        self.catch_up(timeout).await
    }

    /// Waits until this node has applied what the quorum's leader has, as
    /// a Kafka broker catches up with the metadata log before it serves:
    /// a node restarted after a crash holds the image of that moment, and
    /// acting on it would make it lead partitions that moved on meanwhile
    /// (and acknowledge writes the real leaders never see). A voter asks
    /// for a linearizable read: as the leader, confirmed by a quorum (a
    /// node that led before its crash still believes it does), else from
    /// the leader it is sent to; an observer polls the voters.
    async fn catch_up(&self, timeout: std::time::Duration) -> Result<(), QuorumError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Short at first: a voter of a quorum being formed knows its
        // leader within milliseconds, and start-up waits for this.
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let caught_up = match &self.member {
                Member::Replica { raft, .. } => self.catch_up_voter(raft, deadline).await,
                Member::Observer(observer) => {
                    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match observer.describe(remaining).await {
                        Ok(description) => match last_index(description.high_watermark) {
                            Some(last) => {
                                observer.caught_up_to(last, remaining).await.map(|()| true)
                            }
                            None => Ok(true),
                        },
                        Err(error) => {
                            tracing::debug!(%error, "metadata high watermark not known yet");
                            Ok(false)
                        }
                    }
                }
            };
            if caught_up? {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(QuorumError::Raft(format!(
                    "not caught up with the metadata log within {timeout:?}"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(50));
        }
    }

    /// One attempt of a voter's catch-up; false to try again.
    async fn catch_up_voter(
        &self,
        raft: &MetadataRaft,
        deadline: tokio::time::Instant,
    ) -> Result<bool, QuorumError> {
        let attempt = std::time::Duration::from_secs(2);
        let read = tokio::time::timeout(attempt, raft.ensure_linearizable()).await;
        let leader = match read {
            // This node leads, and has applied all it committed.
            Ok(Ok(_)) => return Ok(true),
            Ok(Err(error)) => error
                .forward_to_leader::<ControllerNode>()
                .and_then(|forward| forward.leader_node.clone()),
            Err(_) => None,
        };
        let Some(leader) = leader else {
            return Ok(false);
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let description =
            match network::describe(&self.transport, &leader.addr, true, remaining).await {
                Ok(description) => description,
                Err(error) => {
                    tracing::debug!(%error, "metadata high watermark not known yet");
                    return Ok(false);
                }
            };
        let Some(last) = last_index(description.high_watermark) else {
            return Ok(true);
        };
        tracing::info!(index = last, "catching up with the metadata log");
        raft.wait(Some(remaining))
            .applied_index_at_least(Some(last), "caught up with the metadata log")
            .await
            .map(|_| true)
            .map_err(|error| QuorumError::Raft(error.to_string()))
    }

    /// Follows the voters' metadata without voting, once it has arrived.
    fn observe(
        members: &QuorumMembers,
        node: i32,
        runtime: tokio::runtime::Handle,
    ) -> Result<Quorum, QuorumError> {
        let stop = tokio_util::sync::CancellationToken::new();
        let voters = members.contact_points();
        let observer =
            observer::Observer::start(voters, members.transport(node), &runtime, stop.clone());
        runtime.block_on(observer.caught_up_to(1, ELECTION_WAIT))?;
        Ok(Quorum {
            transport: members.transport(node),
            member: Member::Observer(observer),
            liveness: Default::default(),
            runtime,
            stop,
            changes: Default::default(),
            contacts: Default::default(),
            kafka: Default::default(),
        })
    }

    /// The Raft handle of a voter.
    fn raft(&self) -> Result<&MetadataRaft, QuorumError> {
        match &self.member {
            Member::Replica { raft, .. } => Ok(raft),
            Member::Observer(_) => Err(QuorumError::Raft("not a voter".to_string())),
        }
    }

    async fn lead_alone(&self, node_id: u64) -> Result<(), QuorumError> {
        let raft_error = |e: &dyn std::fmt::Display| QuorumError::Raft(e.to_string());
        let raft = self.raft()?;
        if !raft.is_initialized().await.map_err(|e| raft_error(&e))? {
            let members = std::collections::BTreeMap::from([(node_id, ControllerNode::default())]);
            raft.initialize(members).await.map_err(|e| raft_error(&e))?;
        } else {
            // A lone voter need not wait out an election timeout.
            raft.trigger().elect().await.map_err(|e| raft_error(&e))?;
        }
        raft.wait(Some(std::time::Duration::from_secs(30)))
            .current_leader(node_id, "this controller leads")
            .await
            .map_err(|e| raft_error(&e))?;
        Ok(())
    }

    /// Serves the peers and takes part in (or starts) the quorum.
    fn join(&self, node_id: u64, members: &QuorumMembers) -> Result<(), QuorumError> {
        let raft_error = |e: &dyn std::fmt::Display| QuorumError::Raft(e.to_string());
        let (raft, state) = match &self.member {
            Member::Replica { raft, state } => (raft, state),
            Member::Observer(_) => return Err(QuorumError::Raft("not a voter".to_string())),
        };
        let bind = members
            .bind
            .clone()
            .ok_or_else(|| QuorumError::Raft("no controller listener".to_string()))?;
        let listener = self.runtime.block_on(crate::listen::bind(&bind))?;
        let port = listener.local_addr()?.port();
        // Before waiting for a leader: one that cannot reach this node at
        // the address it has recorded never shows up until it is updated.
        self.keep_own_entry_current(node_id, members, port);
        self.runtime.spawn(network::serve(
            listener,
            members.security.clone(),
            self.transport.clone(),
            network::Local {
                raft: raft.clone(),
                state: state.clone(),
                liveness: std::sync::Arc::clone(&self.liveness),
                contacts: std::sync::Arc::clone(&self.contacts),
                changes: self.changes.clone(),
            },
            self.kafka.clone(),
            self.stop.clone(),
        ));
        self.runtime.block_on(async {
            // Once the log holds a membership, it alone says who votes:
            // the configured voters only seed an empty log.
            let static_voter = members.voters.iter().any(|(id, _)| *id == node_id);
            if !raft.is_initialized().await.map_err(|e| raft_error(&e))? {
                // A new quorum's voters that all campaign at once split the
                // vote and wait out election timeouts, one round or more.
                // So only the lowest-numbered voter campaigns at once; the
                // others vote for it and take the membership from its
                // first append, unless it has not led within the grace.
                let first = members.voters.iter().map(|(id, _)| *id).min() == Some(node_id);
                let led_by_first = static_voter
                    && !first
                    && raft
                        .wait(Some(FIRST_VOTER_GRACE))
                        .metrics(|m| m.current_leader.is_some(), "the first voter leads")
                        .await
                        .is_ok();
                if led_by_first {
                    tracing::debug!("the metadata quorum was initialised by its first voter");
                } else if static_voter {
                    let voters: std::collections::BTreeMap<u64, ControllerNode> = members
                        .voters
                        .iter()
                        .map(|(id, address)| (*id, ControllerNode::new(address)))
                        .collect();
                    // Another voter's log may have reached us first: then
                    // the quorum is initialised already, which is what we
                    // want.
                    if let Err(error) = raft.initialize(voters).await {
                        tracing::debug!(%error, "metadata quorum already initialised");
                    }
                } else {
                    self.ask_to_observe(node_id, members).await?;
                }
            } else {
                // The only voter need not wait out an election timeout.
                let voters: Vec<u64> = raft
                    .metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .collect();
                if voters == [node_id] {
                    raft.trigger().elect().await.map_err(|e| raft_error(&e))?;
                }
            }
            raft.wait(Some(ELECTION_WAIT))
                .metrics(|m| m.current_leader.is_some(), "a metadata quorum leader")
                .await
                .map_err(|e| raft_error(&e))?;
            Ok(())
        })
    }

    /// A controller that is not among the configured voters, on its first
    /// start: asks the voters (one passes it on to the leader) to take it
    /// in as an observer of the log, as a Kafka controller formatted
    /// without initial controllers fetches as an observer until it is
    /// added.
    async fn ask_to_observe(
        &self,
        node_id: u64,
        members: &QuorumMembers,
    ) -> Result<(), QuorumError> {
        let address = members
            .address
            .clone()
            .ok_or_else(|| QuorumError::Raft("no controller listener".to_string()))?;
        let node = ControllerNode {
            addr: address,
            directory_id: Some(members.directory_id),
        };
        let deadline = tokio::time::Instant::now() + ELECTION_WAIT;
        loop {
            let mut failure = "no voters configured (controller.quorum.voters or controller.quorum.bootstrap.servers)".to_string();
            for voter in &members.contact_points() {
                match network::observe(&self.transport, voter, node_id, node.clone(), false).await {
                    Ok(Ok(())) => {
                        tracing::info!(%voter, "following the metadata quorum as an observer");
                        return Ok(());
                    }
                    Ok(Err(error)) => failure = error.to_string(),
                    Err(error) => failure = error,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(QuorumError::Raft(format!(
                    "not taken in as an observer of the metadata quorum: {failure}"
                )));
            }
            tracing::debug!(%failure, "asking to observe the metadata quorum again");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Keeps this node's entry in the membership current, as Kafka's
    /// voters send UpdateRaftVoter: its address, once the recorded one no
    /// longer reaches the controller listener bound on `port` (moved to
    /// another host or port), and its directory id once `kraft.version`
    /// is 1 (a voter seeded from `controller.quorum.voters` has none).
    /// The address it gives is its entry in `controller.quorum.voters`,
    /// else its advertised controller listener.
    fn keep_own_entry_current(&self, node_id: u64, members: &QuorumMembers, port: u16) {
        let Member::Replica { raft, state } = &self.member else {
            return;
        };
        let (raft, state) = (raft.clone(), state.clone());
        let (changes, transport, stop) = (
            self.changes.clone(),
            self.transport.clone(),
            self.stop.clone(),
        );
        let directory_id = members.directory_id;
        let own_address = members
            .voters
            .iter()
            .find(|(id, _)| *id == node_id)
            .map(|(_, address)| address.clone())
            .or_else(|| members.address.clone());
        self.runtime.spawn(async move {
            // (recorded address, whether it reaches this node)
            let mut checked: Option<(String, bool)> = None;
            loop {
                let membership = raft.metrics().borrow().membership_config.clone();
                let Some(recorded) = membership.membership().get_node(&node_id).cloned() else {
                    if pause(&stop).await {
                        return;
                    }
                    continue;
                };
                let stale = match &own_address {
                    Some(own) if *own != recorded.addr => {
                        if checked
                            .as_ref()
                            .is_none_or(|(addr, _)| *addr != recorded.addr)
                        {
                            let reaches = reaches_here(&recorded.addr, port).await;
                            checked = Some((recorded.addr.clone(), reaches));
                        }
                        checked.as_ref().is_some_and(|(_, reaches)| !reaches)
                    }
                    _ => false,
                };
                let undirected =
                    recorded.directory_id.is_none() && membership::kraft_version(&state) >= 1;
                if stale || undirected {
                    let change = membership::VoterChange::Update {
                        id: node_id,
                        directory_id,
                        address: own_address.clone().filter(|_| stale),
                    };
                    let others: Vec<String> = membership
                        .membership()
                        .nodes()
                        .filter(|(id, _)| **id != node_id)
                        .map(|(_, node)| node.addr.clone())
                        .collect();
                    let updated =
                        match change_at_leader(&raft, &state, &changes, &transport, change.clone())
                            .await
                        {
                            Err(membership::MembershipError::NotLeader) => {
                                change_through(&transport, &others, change).await
                            }
                            outcome => outcome,
                        };
                    match updated {
                        Ok(()) => tracing::info!(
                            address = ?own_address.as_ref().filter(|_| stale),
                            %directory_id,
                            "the quorum's entry for this controller is up to date"
                        ),
                        Err(error) => tracing::debug!(%error, "updating this controller's entry"),
                    }
                } else if recorded.directory_id.is_some() {
                    return;
                }
                if pause(&stop).await {
                    return;
                }
            }
        });
    }

    /// Carries out AddRaftVoter or RemoveRaftVoter: here when this node
    /// leads, else at the leader (an observer asks the voters, which pass
    /// it on).
    pub async fn change_voters(
        &self,
        change: membership::VoterChange,
    ) -> Result<(), membership::MembershipError> {
        match &self.member {
            Member::Replica { raft, state } => {
                change_at_leader(raft, state, &self.changes, &self.transport, change).await
            }
            Member::Observer(observer) => {
                change_through(&self.transport, observer.voters(), change).await
            }
        }
    }

    /// Proposes a record and waits until it is committed and applied here
    /// — on the leader directly, or forwarded to it from another voter.
    pub fn propose(&self, record: MetadataRecord) -> Result<MetadataResponse, QuorumError> {
        self.runtime.block_on(self.propose_async(record))
    }

    /// `propose` for async callers.
    pub async fn propose_async(
        &self,
        record: MetadataRecord,
    ) -> Result<MetadataResponse, QuorumError> {
        let raft = match &self.member {
            Member::Replica { raft, .. } => raft,
            Member::Observer(observer) => return observer.propose(record, PROPOSAL_WAIT).await,
        };
        let deadline = tokio::time::Instant::now() + PROPOSAL_WAIT;
        loop {
            let failure = match raft.client_write(record.clone()).await {
                Ok(written) => return Ok(written.data),
                Err(error) => match error.forward_to_leader::<ControllerNode>() {
                    Some(forward) => match &forward.leader_node {
                        Some(leader) => {
                            match network::forward(
                                &self.transport,
                                &leader.addr,
                                record.clone(),
                                PROPOSAL_WAIT,
                            )
                            .await
                            {
                                Ok((response, index)) => {
                                    raft.wait(Some(PROPOSAL_WAIT))
                                        .applied_index_at_least(Some(index), "forwarded record")
                                        .await
                                        .map_err(|e| QuorumError::Raft(e.to_string()))?;
                                    return Ok(response);
                                }
                                Err(error) => error,
                            }
                        }
                        None => "no metadata quorum leader yet".to_string(),
                    },
                    None => return Err(QuorumError::Raft(error.to_string())),
                },
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(QuorumError::Raft(failure));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Proposes a decision this node took as the quorum's leader in
    /// `term`, and fails rather than forward it to another leader: a
    /// leader that lost its term (paused, or cut off) decided from a stale
    /// view (brokers look silent to a leader that was not listening), and
    /// its successor decides afresh. Kafka's active controller likewise
    /// appends only in its own epoch.
    pub async fn propose_as_leader(
        &self,
        record: MetadataRecord,
        term: u64,
    ) -> Result<MetadataResponse, QuorumError> {
        let Member::Replica { raft, .. } = &self.member else {
            return Err(QuorumError::NotLeader);
        };
        if self.leader_term() != Some(term) {
            return Err(QuorumError::NotLeader);
        }
        match tokio::time::timeout(PROPOSAL_WAIT, raft.client_write(record)).await {
            Ok(Ok(written)) => Ok(written.data),
            Ok(Err(error)) => Err(match error.forward_to_leader::<ControllerNode>() {
                Some(_) => QuorumError::NotLeader,
                None => QuorumError::Raft(error.to_string()),
            }),
            Err(_) => Err(QuorumError::Raft(format!(
                "not committed within {PROPOSAL_WAIT:?}"
            ))),
        }
    }

    /// The quorum as its leader sees it: here, from the leader, or (an
    /// observer) from a voter.
    pub async fn describe(&self) -> Result<describe::QuorumDescription, QuorumError> {
        let raft = match &self.member {
            Member::Replica { raft, .. } => raft,
            Member::Observer(observer) => {
                return observer
                    .describe(PROPOSAL_WAIT)
                    .await
                    .map_err(QuorumError::Raft)
            }
        };
        network::describe_here(raft, &self.liveness, &self.contacts, &self.transport, false)
            .await
            .map_err(QuorumError::Raft)
    }

    pub fn liveness(&self) -> &crate::controller::liveness::Liveness {
        &self.liveness
    }

    /// The quorum's current leader and its controller address, if known.
    /// An observer knows none: it sends to every voter.
    pub fn leader(&self) -> Option<(u64, String)> {
        let Member::Replica { raft, .. } = &self.member else {
            return None;
        };
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let leader = metrics.current_leader?;
        let address = metrics
            .membership_config
            .membership()
            .get_node(&leader)
            .map(|node| node.addr.clone())
            .unwrap_or_default();
        Some((leader, address))
    }

    /// Serves the Kafka clients of this node's controller listener with
    /// `clients` from now on (the server layer's, once it runs); false if
    /// some were installed already.
    pub fn serve_kafka_clients(
        &self,
        clients: std::sync::Arc<dyn kafka_clients::KafkaClients>,
    ) -> bool {
        self.kafka.install(clients)
    }

    /// The voters as this node's copy of the membership has them: id and
    /// controller address. An observer has no copy: none.
    pub fn voters(&self) -> Vec<(u64, String)> {
        let Member::Replica { raft, .. } = &self.member else {
            return Vec::new();
        };
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        membership
            .voter_ids()
            .filter_map(|id| membership.get_node(&id).map(|node| (id, node.addr.clone())))
            .collect()
    }

    /// The Raft term in which this node leads the quorum, if it does.
    pub fn leader_term(&self) -> Option<u64> {
        let Member::Replica { raft, .. } = &self.member else {
            return None;
        };
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        (metrics.current_leader == Some(metrics.id)).then_some(metrics.current_term)
    }

    /// Sends this node's heartbeat to the quorum's leader (or records it,
    /// when this node leads).
    pub async fn heartbeat(
        &self,
        node_id: i32,
        leaving: bool,
        ttl: std::time::Duration,
    ) -> Result<(), String> {
        if let Member::Observer(observer) = &self.member {
            return observer.heartbeat(node_id, leaving, ttl).await;
        }
        match self.leader() {
            Some((leader, _)) if leader == node_id as u64 => {
                self.liveness.heard(node_id, leaving);
                Ok(())
            }
            Some((_, address)) => {
                network::heartbeat(&self.transport, &address, node_id, leaving, ttl).await
            }
            None => Err("no metadata quorum leader".to_string()),
        }
    }

    /// The applied metadata.
    pub fn state(&self) -> std::sync::Arc<MetadataState> {
        match &self.member {
            Member::Replica { state, .. } => state.state(),
            Member::Observer(observer) => observer.state(),
        }
    }

    /// Applied metadata as it changes (records written by any voter).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<std::sync::Arc<MetadataState>> {
        match &self.member {
            Member::Replica { state, .. } => state.subscribe(),
            Member::Observer(observer) => observer.subscribe(),
        }
    }

    /// Cancelled when the quorum stops.
    pub fn stopped(&self) -> tokio_util::sync::CancellationToken {
        self.stop.clone()
    }

    /// Stops serving peers and the Raft tasks (clean shutdown).
    pub fn shutdown(&self) {
        self.stop.cancel();
        let Member::Replica { raft, .. } = &self.member else {
            return;
        };
        if let Err(error) = self.runtime.block_on(raft.shutdown()) {
            tracing::warn!(%error, "metadata quorum did not stop cleanly");
        }
    }
}

/// A storage failure, in openraft's terms.
pub type StorageError = openraft::StorageError<u64>;

/// Turns an I/O failure of `subject`/`verb` into openraft's error.
pub(crate) fn storage_error(
    subject: openraft::ErrorSubject<u64>,
    verb: openraft::ErrorVerb,
    error: impl std::error::Error + 'static,
) -> StorageError {
    openraft::StorageIOError::new(subject, verb, openraft::AnyError::new(&error)).into()
}

/// The last index a high watermark (the next index to write, as Kafka
/// counts its offsets) covers, if any.
fn last_index(high_watermark: i64) -> Option<u64> {
    u64::try_from(high_watermark)
        .ok()
        .and_then(|hw| hw.checked_sub(1))
}

/// Waits a second between checks of the own entry; true on shutdown.
async fn pause(stop: &tokio_util::sync::CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => false,
        _ = stop.cancelled() => true,
    }
}

/// Whether `address` reaches this host's listener on `port`: its port is
/// `port` and it resolves to an address of this host (one a socket can
/// bind).
async fn reaches_here(address: &str, port: u16) -> bool {
    let Ok(resolved) = tokio::net::lookup_host(address).await else {
        return false;
    };
    resolved
        .into_iter()
        .any(|found| found.port() == port && std::net::UdpSocket::bind((found.ip(), 0)).is_ok())
}

/// Carries out `change` at the leader: through the leader this voter
/// knows, else here (`NotLeader` if this node does not lead either).
async fn change_at_leader(
    raft: &MetadataRaft,
    state: &state_machine::StateMachineStore,
    changes: &membership::Changes,
    transport: &network::Transport,
    change: membership::VoterChange,
) -> Result<(), membership::MembershipError> {
    match network::leader_address(raft) {
        Some(address) => network::change_voters(transport, &address, change, true)
            .await
            .unwrap_or_else(|error| Err(membership::MembershipError::Raft(error))),
        None => membership::change_here(raft, state, changes, transport, change).await,
    }
}

/// Has the first of the members at `addresses` that can be reached and
/// knows the leader pass `change` on to it: an observer's way, and a
/// voter's that the leader cannot reach.
async fn change_through<'a>(
    transport: &network::Transport,
    addresses: impl IntoIterator<Item = &'a String>,
    change: membership::VoterChange,
) -> Result<(), membership::MembershipError> {
    use membership::MembershipError;
    for address in addresses {
        match network::change_voters(transport, address, change.clone(), false).await {
            Ok(Err(MembershipError::NotLeader)) | Err(_) => continue,
            Ok(answer) => return answer,
        }
    }
    Err(MembershipError::NotLeader)
}

#[cfg(test)]
mod tests {
    use super::log_store::LogStore;
    use super::state_machine::StateMachineStore;
    use super::{StorageError, TypeConfig};
    use openraft::testing::{StoreBuilder, Suite};

    struct OnDisk;

    impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for OnDisk {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError> {
            let dir = tempfile::tempdir().map_err(|e| {
                super::storage_error(openraft::ErrorSubject::Store, openraft::ErrorVerb::Write, e)
            })?;
            let open = |e| {
                super::storage_error(openraft::ErrorSubject::Store, openraft::ErrorVerb::Read, e)
            };
            let log = LogStore::open(dir.path()).map_err(open)?;
            let state_machine = StateMachineStore::open(dir.path()).map_err(open)?;
            Ok((dir, log, state_machine))
        }
    }

    /// openraft's own conformance suite for log and state-machine storage.
    #[test]
    fn the_storage_passes_openraft_s_suite() {
        Suite::test_all(OnDisk).unwrap();
    }
}
