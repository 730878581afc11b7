//! Raft's RPCs between controllers: each a frame `length u32 | JSON` over
//! TCP to the peer's controller listener, answered by one frame. A client
//! keeps one connection per peer and reconnects after any failure; the
//! server answers each connection's requests in order.
//!
//! When the controller listener is `SSL`, every connection is mutual TLS:
//! the server accepts only peers whose certificate its truststore trusts,
//! and presents its own. On `SASL_SSL` / `SASL_PLAINTEXT` a connection's
//! first frame is a SASL/PLAIN login (RFC 4616's message, checked against
//! the listener's `PlainLoginModule` users), and nothing else is read
//! before it succeeds. Either way, with ACLs on, the peer's principal
//! needs CLUSTER_ACTION: only the cluster's nodes can vote, propose
//! records, send heartbeats or read the metadata (SCRAM keys included).
//! A `PLAINTEXT` controller listener trusts whoever reaches it.
//!
//! The listener also serves Kafka clients (`--bootstrap-controller`):
//! after the handshake, a connection's first bytes say whether it is a
//! peer or a Kafka client, which is handed to the server layer
//! ([`kafka_clients`](super::kafka_clients)) and authenticated there, with
//! the listener's SASL mechanisms and per-request ACLs.

use std::time::Duration;

use super::ControllerNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use std::sync::Arc;

use super::describe::PeerContacts;
use super::kafka_clients::{
    self, Caller, KafkaConnection, KafkaHandoff, Replay, Stream, SNIFFED_BYTES,
};
use super::membership::{self, MembershipError, VoterChange};
use super::state_machine::StateMachineStore;
use super::{MetadataRaft, MetadataRecord, MetadataResponse, MetadataState, TypeConfig};
use crate::config::client_security::SaslCredentials;
use crate::controller::liveness::Liveness;

/// Frames larger than this are refused (a snapshot chunk is far smaller).
const MAX_FRAME: usize = 64 * 1024 * 1024;
/// Before a peer has logged in, its frames are bounded as Kafka bounds a
/// SASL token (`sasl.server.max.receive.size`'s default).
const LOGIN_MAX_FRAME: usize = 512 * 1024;
/// How long a peer has to complete its TLS handshake and login.
const ADMISSION_WAIT: Duration = Duration::from_secs(10);
const ANONYMOUS: &str = "User:ANONYMOUS";

/// A TCP or TLS stream to or from a peer.
type PeerStream = Box<dyn Stream>;

/// How this node reaches the other controllers: plain TCP or TLS (with
/// its own certificate), then its SASL/PLAIN login if the controller
/// listener uses SASL.
#[derive(Clone, Default)]
pub struct Transport {
    tls: Option<TlsConnector>,
    login: Option<SaslCredentials>,
    /// This node, for the test network's partitions (`network_faults`).
    node: Option<i32>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("tls", &self.tls.is_some())
            .field("login", &self.login)
            .finish()
    }
}

impl Transport {
    pub fn new(tls: Option<TlsConnector>, login: Option<SaslCredentials>) -> Transport {
        Transport {
            tls,
            login,
            node: None,
        }
    }

    /// The transport of node `node`.
    pub fn of_node(self, node: i32) -> Transport {
        Transport {
            node: Some(node),
            ..self
        }
    }

    async fn connect(&self, address: &str) -> std::io::Result<PeerStream> {
        crate::network_faults::check(self.node, address)?;
        let tcp = TcpStream::connect(address).await?;
        let _ = tcp.set_nodelay(true);
        let mut stream: PeerStream = match &self.tls {
            None => Box::new(tcp),
            Some(connector) => {
                let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls_pki_types::ServerName::try_from(host.to_string())
                    .map_err(std::io::Error::other)?;
                Box::new(connector.connect(name, tcp).await?)
            }
        };
        if let Some(login) = &self.login {
            let token = format!("\0{}\0{}", login.username, login.password).into_bytes();
            let request = RaftRequest::Login {
                mechanism: login.mechanism.clone(),
                token,
            };
            write_frame(&mut stream, &request).await?;
            match read_frame::<RaftReply>(&mut stream, MAX_FRAME).await? {
                RaftReply::Login(Ok(())) => {}
                RaftReply::Login(Err(reason)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        format!("controller {address} refused the login: {reason}"),
                    ))
                }
                _ => return Err(std::io::Error::other(MISMATCHED)),
            }
        }
        Ok(stream)
    }
}

#[derive(Serialize, Deserialize)]
enum RaftRequest {
    /// A SASL login, the first frame on a `SASL_*` controller listener:
    /// PLAIN's `[authzid] NUL user NUL password`.
    Login {
        mechanism: String,
        token: Vec<u8>,
    },
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A record proposed on another controller, for the leader to write.
    Propose(MetadataRecord),
    /// A broker is alive (sent to the quorum's leader); `leaving` when it
    /// is shutting down and must not be unfenced.
    Heartbeat {
        node_id: i32,
        leaving: bool,
    },
    /// An observer's long poll: the applied state once it is past
    /// `known_index`.
    FetchState {
        known_index: u64,
    },
    /// DescribeQuorum: the leader's view; a voter that does not lead
    /// passes it on once (`forwarded` then).
    DescribeQuorum {
        forwarded: bool,
    },
    /// A controller that is not a voter asks to follow the log as an
    /// observer (an openraft learner); a voter that does not lead passes
    /// it on once.
    Observe {
        node_id: u64,
        node: ControllerNode,
        forwarded: bool,
    },
    /// AddRaftVoter / RemoveRaftVoter, for the leader to carry out; a
    /// voter that does not lead passes it on once.
    ChangeVoters {
        change: VoterChange,
        forwarded: bool,
    },
    /// A leader that removed itself asks this voter to start an election
    /// (as Kafka's resigning leader sends EndQuorumEpoch).
    Campaign,
}

#[derive(Debug, Serialize, Deserialize)]
enum RaftReply {
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// The applied record's response and log index, or why it failed.
    Propose(Result<(MetadataResponse, u64), String>),
    Heartbeat,
    /// The applied index and state, or nothing new within the poll.
    State(Option<(u64, MetadataState)>),
    /// Logged in, or why not (the connection then closes).
    Login(Result<(), String>),
    Quorum(Result<super::describe::QuorumDescription, String>),
    Membership(Result<(), MembershipError>),
    Campaign(Result<(), String>),
}

/// One request to the controller listener at `address` on a fresh
/// connection, answered within `ttl`.
async fn call_once(
    transport: &Transport,
    address: &str,
    request: RaftRequest,
    ttl: Duration,
) -> Result<RaftReply, String> {
    let exchange = async {
        let mut stream = transport.connect(address).await?;
        write_frame(&mut stream, &request).await?;
        read_frame::<RaftReply>(&mut stream, MAX_FRAME).await
    };
    match tokio::time::timeout(ttl, exchange).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(error)) => Err(format!("controller {address}: {error}")),
        Err(_) => Err(format!("controller {address} did not answer in {ttl:?}")),
    }
}

const MISMATCHED: &str = "mismatched reply";

/// Sends a proposal to the leader's controller listener at `address`;
/// the response and the log index it was written at.
pub async fn forward(
    transport: &Transport,
    address: &str,
    record: MetadataRecord,
    ttl: Duration,
) -> Result<(MetadataResponse, u64), String> {
    match call_once(transport, address, RaftRequest::Propose(record), ttl).await? {
        RaftReply::Propose(result) => result,
        _ => Err(MISMATCHED.to_string()),
    }
}

/// Tells the quorum leader's controller at `address` that `node_id` is
/// alive.
pub async fn heartbeat(
    transport: &Transport,
    address: &str,
    node_id: i32,
    leaving: bool,
    ttl: Duration,
) -> Result<(), String> {
    let request = RaftRequest::Heartbeat { node_id, leaving };
    match call_once(transport, address, request, ttl).await? {
        RaftReply::Heartbeat => Ok(()),
        _ => Err(MISMATCHED.to_string()),
    }
}

/// The quorum's description from the voter at `address` (which passes
/// the question to the leader unless `forwarded`).
pub async fn describe(
    transport: &Transport,
    address: &str,
    forwarded: bool,
    ttl: Duration,
) -> Result<super::describe::QuorumDescription, String> {
    match call_once(
        transport,
        address,
        RaftRequest::DescribeQuorum { forwarded },
        ttl,
    )
    .await?
    {
        RaftReply::Quorum(result) => result,
        _ => Err(MISMATCHED.to_string()),
    }
}

/// Asks the voter at `address` to take this controller in as an
/// observer of the log (the voter passes it on to the leader unless
/// `forwarded`).
pub async fn observe(
    transport: &Transport,
    address: &str,
    node_id: u64,
    node: ControllerNode,
    forwarded: bool,
) -> Result<Result<(), MembershipError>, String> {
    let request = RaftRequest::Observe {
        node_id,
        node,
        forwarded,
    };
    match call_once(transport, address, request, membership::REMOVAL_WAIT).await? {
        RaftReply::Membership(result) => Ok(result),
        _ => Err(MISMATCHED.to_string()),
    }
}

/// Has the voter at `address` carry out a voter change (passed on to the
/// leader unless `forwarded`); an unreachable voter is the outer error.
pub async fn change_voters(
    transport: &Transport,
    address: &str,
    change: VoterChange,
    forwarded: bool,
) -> Result<Result<(), MembershipError>, String> {
    // The change's own wait, and time for the answer to come back.
    let ttl = change.timeout() + Duration::from_secs(5);
    let request = RaftRequest::ChangeVoters { change, forwarded };
    match call_once(transport, address, request, ttl).await? {
        RaftReply::Membership(result) => Ok(result),
        _ => Err(MISMATCHED.to_string()),
    }
}

/// Asks the voter at `address` to start an election.
pub async fn campaign(transport: &Transport, address: &str) -> Result<(), String> {
    match call_once(
        transport,
        address,
        RaftRequest::Campaign,
        Duration::from_secs(5),
    )
    .await?
    {
        RaftReply::Campaign(result) => result,
        _ => Err(MISMATCHED.to_string()),
    }
}

/// An observer's poll of the voter at `address`: the applied state if it
/// moved past `known_index` within the voter's poll wait.
pub async fn fetch_state(
    transport: &Transport,
    address: &str,
    known_index: u64,
    ttl: Duration,
) -> Result<Option<(u64, MetadataState)>, String> {
    let request = RaftRequest::FetchState { known_index };
    match call_once(transport, address, request, ttl).await? {
        RaftReply::State(state) => Ok(state),
        _ => Err(MISMATCHED.to_string()),
    }
}

async fn write_frame(
    stream: &mut (impl AsyncWrite + Unpin),
    value: &impl Serialize,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await?;
    // TLS holds what it encrypted until flushed.
    stream.flush().await
}

async fn read_frame<T: DeserializeOwned>(
    stream: &mut (impl AsyncRead + Unpin),
    limit: usize,
) -> std::io::Result<T> {
    let length = stream.read_u32().await? as usize;
    if length > limit {
        return Err(std::io::Error::other(format!("frame of {length} bytes")));
    }
    // Grown with the bytes that arrive, not with what the prefix claims:
    // the controller port is open to whoever reaches it.
    let mut body = Vec::with_capacity(length.min(64 * 1024));
    (&mut *stream)
        .take(length as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < length {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "stream ended {} bytes into a {length}-byte frame",
                body.len()
            ),
        ));
    }
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

/// Makes clients for peers; a peer's address is its `ControllerNode` address.
#[derive(Debug, Clone, Default)]
pub struct QuorumNetwork {
    pub transport: Transport,
    /// Where the peers' answers are recorded, for DescribeQuorum.
    pub contacts: Arc<PeerContacts>,
}

impl RaftNetworkFactory<TypeConfig> for QuorumNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &ControllerNode) -> PeerClient {
        PeerClient {
            target,
            address: node.addr.clone(),
            transport: self.transport.clone(),
            contacts: Arc::clone(&self.contacts),
            stream: None,
        }
    }
}

/// One peer's connection.
pub struct PeerClient {
    target: u64,
    address: String,
    transport: Transport,
    contacts: Arc<PeerContacts>,
    stream: Option<PeerStream>,
}

/// How a call failed, before it is put in openraft's per-RPC error type.
enum CallError {
    Unreachable(std::io::Error),
    Network(std::io::Error),
}

impl PeerClient {
    async fn call(&mut self, request: RaftRequest, ttl: Duration) -> Result<RaftReply, CallError> {
        if let Err(error) = crate::network_faults::check(self.transport.node, &self.address) {
            self.stream = None;
            return Err(CallError::Unreachable(error));
        }
        let stream = match self.stream.take() {
            Some(stream) => stream,
            None => match tokio::time::timeout(ttl, self.transport.connect(&self.address)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return Err(CallError::Unreachable(error)),
                Err(_) => {
                    return Err(CallError::Unreachable(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("connecting to {} timed out", self.address),
                    )))
                }
            },
        };
        let mut stream = stream;
        let exchange = async {
            write_frame(&mut stream, &request).await?;
            read_frame::<RaftReply>(&mut stream, MAX_FRAME).await
        };
        match tokio::time::timeout(ttl, exchange).await {
            Ok(Ok(reply)) => {
                self.stream = Some(stream);
                Ok(reply)
            }
            Ok(Err(error)) => Err(CallError::Network(error)),
            Err(_) => Err(CallError::Network(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("controller {} did not answer in {ttl:?}", self.target),
            ))),
        }
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        error: CallError,
    ) -> RPCError<u64, ControllerNode, E> {
        match error {
            CallError::Unreachable(error) => RPCError::Unreachable(Unreachable::new(&error)),
            CallError::Network(error) => RPCError::Network(NetworkError::new(&error)),
        }
    }

    fn unexpected<E: std::error::Error>(&self) -> RPCError<u64, ControllerNode, E> {
        let error = std::io::Error::other("mismatched reply");
        RPCError::Network(NetworkError::new(&error))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, ControllerNode, RaftError<u64>>> {
        let reaching = rpc
            .entries
            .last()
            .map(|entry| entry.log_id.index)
            .or(rpc.prev_log_id.map(|id| id.index));
        let log_end = self.contacts.sending(reaching);
        match self
            .call(RaftRequest::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(RaftReply::AppendEntries(Ok(response))) => {
                let reached = match &response {
                    AppendEntriesResponse::Success => Some(reaching),
                    AppendEntriesResponse::PartialSuccess(matched) => {
                        Some(matched.map(|id| id.index))
                    }
                    _ => None,
                };
                if let Some(reached) = reached {
                    self.contacts.answered(self.target, reached, log_end);
                }
                Ok(response)
            }
            Ok(RaftReply::AppendEntries(Err(error))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(error) => Err(self.rpc_error(error)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, ControllerNode, RaftError<u64, InstallSnapshotError>>,
    > {
        match self
            .call(RaftRequest::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(RaftReply::InstallSnapshot(Ok(response))) => Ok(response),
            Ok(RaftReply::InstallSnapshot(Err(error))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(error) => Err(self.rpc_error(error)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, ControllerNode, RaftError<u64>>> {
        match self.call(RaftRequest::Vote(rpc), option.hard_ttl()).await {
            Ok(RaftReply::Vote(Ok(response))) => Ok(response),
            Ok(RaftReply::Vote(Err(error))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, error)))
            }
            Ok(_) => Err(self.unexpected()),
            Err(error) => Err(self.rpc_error(error)),
        }
    }
}

/// Answers peers' Raft RPCs on the controller listener until `shutdown`,
/// to the peers `security` admits; hands Kafka clients' connections to
/// whatever `kafka` holds (see [`kafka_clients`](super::kafka_clients)).
pub async fn serve(
    listener: TcpListener,
    security: super::QuorumSecurity,
    transport: Transport,
    local: Local,
    kafka: KafkaHandoff,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let local = local.clone();
                let shutdown = shutdown.clone();
                let security = security.clone();
                let transport = transport.clone();
                let kafka = kafka.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let opened =
                        tokio::time::timeout(ADMISSION_WAIT, open(stream, &security)).await;
                    let (stream, principal, caller) = match opened {
                        Ok(Ok(opened)) => opened,
                        Ok(Err(Refusal::Quiet(reason))) => {
                            debug!(%peer, %reason, "controller connection closed");
                            return;
                        }
                        Ok(Err(Refusal::Loud(reason))) => {
                            warn!(%peer, %reason, "controller connection refused");
                            return;
                        }
                        Err(_) => {
                            warn!(%peer, "controller connection refused: no TLS handshake or first bytes in {ADMISSION_WAIT:?}");
                            return;
                        }
                    };
                    if caller == Caller::Kafka {
                        let Some(clients) = kafka.clients() else {
                            debug!(%peer, "Kafka client on the controller listener before the broker serves: closed");
                            return;
                        };
                        let connection = KafkaConnection {
                            stream,
                            peer,
                            principal,
                        };
                        tokio::select! {
                            _ = clients.serve(connection) => {}
                            _ = shutdown.cancelled() => {}
                        }
                        return;
                    }
                    let admitted = tokio::time::timeout(
                        ADMISSION_WAIT,
                        admit(stream, principal, peer, &security, &local.state),
                    );
                    let stream = match admitted.await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(reason)) => {
                            warn!(%peer, %reason, "controller connection refused");
                            return;
                        }
                        Err(_) => {
                            warn!(%peer, "controller connection refused: no login in {ADMISSION_WAIT:?}");
                            return;
                        }
                    };
                    tokio::select! {
                        result = answer(stream, transport, local) => {
                            if let Err(error) = result {
                                debug!(%peer, %error, "controller connection closed");
                            }
                        }
                        _ = shutdown.cancelled() => {}
                    }
                });
            }
            Err(error) => {
                warn!(%error, "accepting a controller connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why a connection was closed before it was served.
enum Refusal {
    /// It went before saying anything (a port check, a client giving up).
    Quiet(String),
    /// Its handshake failed or its certificate names no one.
    Loud(String),
}

/// The one TLS handshake of a connection (on a TLS listener), whom its
/// certificate names, and who is calling, told by its first bytes (read
/// here, and replayed on the stream returned).
async fn open(
    tcp: TcpStream,
    security: &super::QuorumSecurity,
) -> Result<(PeerStream, Option<String>, Caller), Refusal> {
    let (mut stream, principal): (PeerStream, Option<String>) = match &security.acceptor {
        None => (Box::new(tcp), None),
        Some(acceptor) => {
            let stream = acceptor
                .accept(tcp)
                .await
                .map_err(|error| Refusal::Loud(format!("TLS handshake failed: {error}")))?;
            let subject = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| crate::auth::principal::subject_name(leaf));
            let principal = match subject {
                None => None,
                Some(subject) => match security.principal_mapper.map(&subject) {
                    Some(name) => Some(format!("User:{name}")),
                    None => {
                        return Err(Refusal::Loud(format!(
                            "no ssl.principal.mapping.rules rule matches the certificate {subject}"
                        )))
                    }
                },
            };
            (Box::new(stream), principal)
        }
    };
    let mut first = [0u8; SNIFFED_BYTES];
    stream
        .read_exact(&mut first)
        .await
        .map_err(|error| Refusal::Quiet(format!("before its first request: {error}")))?;
    let stream: PeerStream = Box::new(Replay::new(first, stream));
    Ok((stream, principal, kafka_clients::caller(&first)))
}

/// Authenticates a Raft peer as the listener's protocol asks (its
/// certificate named `principal` already, then its login) and checks
/// that it may act for the cluster.
async fn admit(
    mut stream: PeerStream,
    principal: Option<String>,
    peer: std::net::SocketAddr,
    security: &super::QuorumSecurity,
    state: &StateMachineStore,
) -> Result<PeerStream, String> {
    let mut principal = principal.unwrap_or_else(|| ANONYMOUS.to_string());
    let logged_in = match &security.plain_users {
        Some(users) => {
            principal = format!("User:{}", login(&mut stream, users).await?);
            true
        }
        None => false,
    };
    // Without TLS or SASL there is no one to check (PLAINTEXT trusts).
    let checked = security.acceptor.is_some() || logged_in;
    let authorizer = security.authorizer.as_ref().filter(|a| a.enabled());
    let mut verdict = Ok(());
    if let (Some(authorizer), true) = (authorizer, checked) {
        let acls = Arc::new(state.state().acls.clone());
        let allowed = authorizer.session(acls, &principal, peer.ip()).allows(
            crate::metadata::acls::AclOperation::ClusterAction,
            crate::metadata::acls::ResourceType::Cluster,
            crate::metadata::acls::CLUSTER_NAME,
        );
        if !allowed {
            verdict = Err(format!("{principal} is not allowed CLUSTER_ACTION"));
        }
    }
    // A login is answered once the principal is judged.
    if logged_in {
        let reply = RaftReply::Login(verdict.clone());
        write_frame(&mut stream, &reply)
            .await
            .map_err(|error| format!("answering the login: {error}"))?;
    }
    verdict.map(|()| stream)
}

/// A `SASL_*` listener's first frame: a PLAIN login; the user it names
/// if the password is theirs. A refused login is answered here.
async fn login(
    stream: &mut PeerStream,
    users: &std::collections::BTreeMap<String, String>,
) -> Result<String, String> {
    let request = read_frame::<RaftRequest>(stream, LOGIN_MAX_FRAME)
        .await
        .map_err(|error| format!("reading the login: {error}"))?;
    let refusal = match request {
        RaftRequest::Login { mechanism, token } if mechanism == "PLAIN" => {
            match crate::auth::plain::verify(users, &token) {
                Some(user) => return Ok(user),
                None => "Authentication failed: Invalid username or password".to_string(),
            }
        }
        RaftRequest::Login { mechanism, .. } => {
            format!("SASL mechanism {mechanism} is not enabled here; use PLAIN")
        }
        _ => "the controller listener uses SASL: log in first".to_string(),
    };
    // Best effort: the peer learns why before the close.
    let _ = write_frame(stream, &RaftReply::Login(Err(refusal.clone()))).await;
    Err(format!("SASL/PLAIN login refused: {refusal}"))
}

/// What a Raft member serves its peers from.
#[derive(Clone)]
pub struct Local {
    pub raft: MetadataRaft,
    pub state: StateMachineStore,
    pub liveness: Arc<Liveness>,
    pub contacts: Arc<PeerContacts>,
    /// The leader's one voter change at a time.
    pub changes: membership::Changes,
}

async fn answer(mut stream: PeerStream, transport: Transport, local: Local) -> std::io::Result<()> {
    let Local {
        raft,
        state,
        liveness,
        contacts,
        changes,
    } = &local;
    loop {
        let request: RaftRequest = match read_frame(&mut stream, MAX_FRAME).await {
            Ok(request) => request,
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        };
        let reply = match request {
            // Logged in already, or on a listener without SASL.
            RaftRequest::Login { .. } => {
                RaftReply::Login(Err("this controller connection takes no login".to_string()))
            }
            RaftRequest::AppendEntries(rpc) => {
                RaftReply::AppendEntries(raft.append_entries(rpc).await)
            }
            RaftRequest::Vote(rpc) => RaftReply::Vote(raft.vote(rpc).await),
            RaftRequest::InstallSnapshot(rpc) => {
                RaftReply::InstallSnapshot(raft.install_snapshot(rpc).await)
            }
            RaftRequest::Propose(record) => {
                RaftReply::Propose(propose(raft, &transport, record).await)
            }
            RaftRequest::Heartbeat { node_id, leaving } => {
                // An observer sends to every voter; the leader counts it.
                // Only a registered broker has a session to keep: a
                // heartbeat naming any other id (a peer speaking for a
                // node that does not exist) keeps nothing alive and shows
                // no observer.
                match state.state().brokers.contains_key(&node_id) {
                    true => liveness.heard(node_id, leaving),
                    false => warn!(
                        node_id,
                        "heartbeat from a node that is not a registered broker ignored"
                    ),
                }
                RaftReply::Heartbeat
            }
            RaftRequest::DescribeQuorum { forwarded } => RaftReply::Quorum(
                describe_here(raft, liveness, contacts, &transport, forwarded).await,
            ),
            RaftRequest::Observe {
                node_id,
                node,
                forwarded,
            } => RaftReply::Membership(match leader_address(raft) {
                Some(address) if !forwarded => observe(&transport, &address, node_id, node, true)
                    .await
                    .unwrap_or_else(|error| Err(MembershipError::Raft(error))),
                _ => membership::observe_here(raft, node_id, node).await,
            }),
            RaftRequest::Campaign => RaftReply::Campaign(
                raft.trigger()
                    .elect()
                    .await
                    .map_err(|error| error.to_string()),
            ),
            RaftRequest::ChangeVoters { change, forwarded } => {
                RaftReply::Membership(match leader_address(raft) {
                    Some(address) if !forwarded => {
                        change_voters(&transport, &address, change, true)
                            .await
                            .unwrap_or_else(|error| Err(MembershipError::Raft(error)))
                    }
                    _ => membership::change_here(raft, state, changes, &transport, change).await,
                })
            }
            RaftRequest::FetchState { known_index } => {
                let applied = |raft: &MetadataRaft| {
                    raft.metrics()
                        .borrow()
                        .last_applied
                        .map_or(0, |log_id| log_id.index)
                };
                if applied(raft) <= known_index {
                    let _ = raft
                        .wait(Some(super::observer::POLL_WAIT))
                        .applied_index_at_least(Some(known_index + 1), "observer poll")
                        .await;
                }
                let index = applied(raft);
                RaftReply::State((index > known_index).then(|| (index, (*state.state()).clone())))
            }
        };
        write_frame(&mut stream, &reply).await?;
    }
}

/// This voter's answer to DescribeQuorum: its own view when it leads,
/// else the leader's (asked once: not again if this is already the
/// forwarded question).
pub(super) async fn describe_here(
    raft: &MetadataRaft,
    liveness: &Liveness,
    contacts: &PeerContacts,
    transport: &Transport,
    forwarded: bool,
) -> Result<super::describe::QuorumDescription, String> {
    if let Some(view) = super::describe::leader_view(raft, liveness, contacts) {
        return Ok(view);
    }
    let leader = {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        metrics.current_leader.and_then(|leader| {
            metrics
                .membership_config
                .membership()
                .get_node(&leader)
                .map(|node| node.addr.clone())
        })
    };
    match (leader, forwarded) {
        (Some(address), false) => {
            describe(transport, &address, true, Duration::from_secs(10)).await
        }
        _ => Err("no metadata quorum leader known here".to_string()),
    }
}

/// The controller address of the quorum's leader, if another node leads.
pub(super) fn leader_address(raft: &MetadataRaft) -> Option<String> {
    let metrics = raft.metrics();
    let metrics = metrics.borrow();
    let leader = metrics
        .current_leader
        .filter(|leader| *leader != metrics.id)?;
    metrics
        .membership_config
        .membership()
        .get_node(&leader)
        .map(|node| node.addr.clone())
}

/// Writes a record proposed by a peer: directly when this voter leads,
/// else passed on to the leader (observers may ask any voter).
async fn propose(
    raft: &MetadataRaft,
    transport: &Transport,
    record: MetadataRecord,
) -> Result<(MetadataResponse, u64), String> {
    match raft.client_write(record.clone()).await {
        Ok(written) => Ok((written.data, written.log_id.index)),
        Err(error) => match error
            .forward_to_leader::<ControllerNode>()
            .and_then(|forward| forward.leader_node.clone())
        {
            Some(leader) => forward(transport, &leader.addr, record, Duration::from_secs(30)).await,
            None => Err(error.to_string()),
        },
    }
}
