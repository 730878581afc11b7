//! Raft's RPCs between controllers: each a frame `length u32 | JSON` over
//! TCP to the peer's controller listener, answered by one frame. A client
//! keeps one connection per peer and reconnects after any failure; the
//! server answers each connection's requests in order.

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use std::sync::Arc;

use super::state_machine::StateMachineStore;
use super::{MetadataRaft, MetadataRecord, MetadataResponse, MetadataState, TypeConfig};
use crate::controller::liveness::Liveness;

/// Frames larger than this are refused (a snapshot chunk is far smaller).
const MAX_FRAME: usize = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
enum RaftRequest {
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
}

/// One request to the controller listener at `address` on a fresh
/// connection, answered within `ttl`.
async fn call_once(
    address: &str,
    request: RaftRequest,
    ttl: Duration,
) -> Result<RaftReply, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        write_frame(&mut stream, &request).await?;
        read_frame::<RaftReply>(&mut stream).await
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
    address: &str,
    record: MetadataRecord,
    ttl: Duration,
) -> Result<(MetadataResponse, u64), String> {
    match call_once(address, RaftRequest::Propose(record), ttl).await? {
        RaftReply::Propose(result) => result,
        _ => Err(MISMATCHED.to_string()),
    }
}

/// Tells the quorum leader's controller at `address` that `node_id` is
/// alive.
pub async fn heartbeat(
    address: &str,
    node_id: i32,
    leaving: bool,
    ttl: Duration,
) -> Result<(), String> {
    match call_once(address, RaftRequest::Heartbeat { node_id, leaving }, ttl).await? {
        RaftReply::Heartbeat => Ok(()),
        _ => Err(MISMATCHED.to_string()),
    }
}

/// An observer's poll of the voter at `address`: the applied state if it
/// moved past `known_index` within the voter's poll wait.
pub async fn fetch_state(
    address: &str,
    known_index: u64,
    ttl: Duration,
) -> Result<Option<(u64, MetadataState)>, String> {
    match call_once(address, RaftRequest::FetchState { known_index }, ttl).await? {
        RaftReply::State(state) => Ok(state),
        _ => Err(MISMATCHED.to_string()),
    }
}

async fn write_frame(stream: &mut TcpStream, value: &impl Serialize) -> std::io::Result<()> {
    let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await
}

async fn read_frame<T: DeserializeOwned>(stream: &mut TcpStream) -> std::io::Result<T> {
    let length = stream.read_u32().await? as usize;
    if length > MAX_FRAME {
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

/// Makes clients for peers; a peer's address is its `BasicNode` address.
#[derive(Debug, Clone, Default)]
pub struct QuorumNetwork;

impl RaftNetworkFactory<TypeConfig> for QuorumNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient {
            target,
            address: node.addr.clone(),
            stream: None,
        }
    }
}

/// One peer's connection.
pub struct PeerClient {
    target: u64,
    address: String,
    stream: Option<TcpStream>,
}

/// How a call failed, before it is put in openraft's per-RPC error type.
enum CallError {
    Unreachable(std::io::Error),
    Network(std::io::Error),
}

impl PeerClient {
    async fn call(&mut self, request: RaftRequest, ttl: Duration) -> Result<RaftReply, CallError> {
        let stream = match self.stream.take() {
            Some(stream) => stream,
            None => match tokio::time::timeout(ttl, TcpStream::connect(&self.address)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    stream
                }
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
            read_frame::<RaftReply>(&mut stream).await
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

    fn rpc_error<E: std::error::Error>(&self, error: CallError) -> RPCError<u64, BasicNode, E> {
        match error {
            CallError::Unreachable(error) => RPCError::Unreachable(Unreachable::new(&error)),
            CallError::Network(error) => RPCError::Network(NetworkError::new(&error)),
        }
    }

    fn unexpected<E: std::error::Error>(&self) -> RPCError<u64, BasicNode, E> {
        let error = std::io::Error::other("mismatched reply");
        RPCError::Network(NetworkError::new(&error))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        match self
            .call(RaftRequest::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(RaftReply::AppendEntries(Ok(response))) => Ok(response),
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
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
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
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
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

/// Answers peers' Raft RPCs on the controller listener until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    raft: MetadataRaft,
    state: StateMachineStore,
    liveness: Arc<Liveness>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let raft = raft.clone();
                let state = state.clone();
                let liveness = Arc::clone(&liveness);
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        result = answer(stream, raft, state, liveness) => {
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

async fn answer(
    mut stream: TcpStream,
    raft: MetadataRaft,
    state: StateMachineStore,
    liveness: Arc<Liveness>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    loop {
        let request: RaftRequest = match read_frame(&mut stream).await {
            Ok(request) => request,
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error),
        };
        let reply = match request {
            RaftRequest::AppendEntries(rpc) => {
                RaftReply::AppendEntries(raft.append_entries(rpc).await)
            }
            RaftRequest::Vote(rpc) => RaftReply::Vote(raft.vote(rpc).await),
            RaftRequest::InstallSnapshot(rpc) => {
                RaftReply::InstallSnapshot(raft.install_snapshot(rpc).await)
            }
            RaftRequest::Propose(record) => RaftReply::Propose(propose(&raft, record).await),
            RaftRequest::Heartbeat { node_id, leaving } => {
                // An observer sends to every voter; the leader counts it.
                liveness.heard(node_id, leaving);
                RaftReply::Heartbeat
            }
            RaftRequest::FetchState { known_index } => {
                let applied = |raft: &MetadataRaft| {
                    raft.metrics()
                        .borrow()
                        .last_applied
                        .map_or(0, |log_id| log_id.index)
                };
                if applied(&raft) <= known_index {
                    let _ = raft
                        .wait(Some(super::observer::POLL_WAIT))
                        .applied_index_at_least(Some(known_index + 1), "observer poll")
                        .await;
                }
                let index = applied(&raft);
                RaftReply::State((index > known_index).then(|| (index, (*state.state()).clone())))
            }
        };
        write_frame(&mut stream, &reply).await?;
    }
}

/// Writes a record proposed by a peer: directly when this voter leads,
/// else passed on to the leader (observers may ask any voter).
async fn propose(
    raft: &MetadataRaft,
    record: MetadataRecord,
) -> Result<(MetadataResponse, u64), String> {
    match raft.client_write(record.clone()).await {
        Ok(written) => Ok((written.data, written.log_id.index)),
        Err(error) => match error
            .forward_to_leader::<BasicNode>()
            .and_then(|forward| forward.leader_node.clone())
        {
            Some(leader) => forward(&leader.addr, record, Duration::from_secs(30)).await,
            None => Err(error.to_string()),
        },
    }
}
