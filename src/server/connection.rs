//! One client connection: reads size-prefixed frames, handles them one at a
//! time and writes each response before reading the next request.
//!
//! Handling requests strictly in order per connection is what Kafka does (it
//! mutes a connection while a request is in flight); it keeps responses in
//! request order without bookkeeping, and lets a pipelining client fill the
//! socket buffer meanwhile.
//!
//! What one connection holds is bounded: one request at a time (at most
//! `socket.request.max.bytes`, grown as its bytes arrive, and counted
//! against `queued.max.request.bytes`) and one response. A connection that
//! neither sends nor receives for `connections.max.idle.ms` is closed —
//! waiting for its next request, stalled in the middle of one, or not
//! reading its response — as Kafka's idle expiry closes it. Kafka has no
//! read timeout of its own for a half-sent request; its idle timeout is
//! what frees one, and the same holds here.

use std::future::Future;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ResponseKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::codec::{decode_request, encode_response, header_client_id, CodecError, Incoming};
use super::connection_quotas::ConnectionSlot;
use super::context::{ListenerContext, RequestContext};
use super::dispatch::{dispatch, error_response, Reply};
use super::encoded::{Encoded, Piece};
use super::faults::{self, FaultAction};
use super::handlers::api_versions;
use super::journal;
use super::memory_pool::{MemoryPool, Reserved};
use super::quotas::{self, Metering};
use super::read_buffer::ReadBuffer;
use super::sasl::{Authenticator, Step};
use super::socket_writer::{send_file, SocketWriter, TcpWriter};
use crate::auth::scram::{ScramIdentity, ScramLookup, TokenOwner};
use crate::broker::Broker;
use crate::metadata::delegation_tokens;
use crate::metadata::scram::ScramMechanism;
use crate::network_faults::ClientCut;

/// Why a connection ended, for the log line.
enum Closed {
    ByClient,
    Shutdown,
    /// Nothing sent or received for `connections.max.idle.ms`.
    Idle {
        during: &'static str,
    },
    Reason(String),
}

/// What a connection shares with the listener.
pub struct Shared {
    /// Its place in the connection counts, freed when it ends.
    pub slot: ConnectionSlot,
    /// The budget of request bytes held by all connections.
    pub memory: MemoryPool,
    pub shutdown: CancellationToken,
}

/// The limits every read and write of a connection observes.
struct Limits {
    max_request_bytes: usize,
    idle: Option<Duration>,
}

impl Limits {
    fn of(broker: &Broker) -> Limits {
        Limits {
            max_request_bytes: broker.config().socket_request_max_bytes,
            idle: broker.config().socket.idle_timeout(),
        }
    }
}

/// A connection's context before anyone authenticated.
fn anonymous(peer: SocketAddr, listener: Arc<ListenerContext>) -> RequestContext {
    RequestContext {
        peer,
        listener,
        principal: Arc::from(super::context::ANONYMOUS),
        token_authenticated: false,
    }
}

/// Serves a client listener's connection: its TLS handshake (on a TLS
/// listener), then its requests.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<ListenerContext>,
    shared: Shared,
) {
    let _ = stream.set_nodelay(true);
    broker.metrics().connection_opened();
    let limits = Limits::of(&broker);
    let mut context = anonymous(peer, listener);
    let closed = match context.listener.tls.as_ref().map(|tls| tls.current()) {
        None => {
            let (reader, writer) = stream.into_split();
            let writer = TcpWriter::new(writer, peer);
            serve_requests(&broker, reader, writer, &context, &limits, &shared).await
        }
        // Boxed: a TLS session's state would otherwise make every
        // plaintext connection's task as large as a TLS one's.
        Some(acceptor) => {
            Box::pin(serve_tls(
                &broker,
                acceptor,
                stream,
                &mut context,
                &limits,
                &shared,
            ))
            .await
        }
    };
    finish(&broker, peer, shared, closed);
}

/// A TLS connection: the handshake, bounded like any other read or write,
/// the principal its client certificate names, then its requests.
async fn serve_tls(
    broker: &Arc<Broker>,
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    context: &mut RequestContext,
    limits: &Limits,
    shared: &Shared,
) -> Closed {
    let peer = context.peer;
    match within(limits.idle, "in the TLS handshake", acceptor.accept(stream)).await {
        Ok(stream) => {
            // An SSL listener's client is whom its certificate names (SASL,
            // on SASL_SSL, says it again later).
            let certificate = stream.get_ref().1.peer_certificates();
            if let Some(subject) = certificate
                .and_then(|chain| chain.first())
                .and_then(|leaf| crate::auth::principal::subject_name(leaf))
            {
                match context.listener.principal_mapper.map(&subject) {
                    Some(name) => context.principal = Arc::from(format!("User:{name}")),
                    // Kafka fails the connection it cannot name.
                    None => {
                        return Closed::Reason(format!(
                            "no ssl.principal.mapping.rules rule matches the client certificate {subject}"
                        ))
                    }
                }
            }
            let (reader, writer) = tokio::io::split(stream);
            serve_requests(broker, reader, writer, context, limits, shared).await
        }
        // Kafka's words for it.
        Err(Closed::Reason(reason)) => Closed::Reason(format!(
            "Failed authentication with {peer} (SSL handshake failed): {reason}"
        )),
        Err(closed) => closed,
    }
}

/// Serves the requests of a connection another layer accepted and
/// handshook: a Kafka client of the controller listener, which the quorum
/// tells apart from its Raft peers (`controller::quorum::kafka_clients`).
/// `principal`: whom its client certificate names, if it had one.
pub async fn serve_handed_over(
    broker: Arc<Broker>,
    stream: impl AsyncRead + AsyncWrite + Unpin,
    peer: SocketAddr,
    principal: Option<String>,
    listener: Arc<ListenerContext>,
    shared: Shared,
) {
    broker.metrics().connection_opened();
    let limits = Limits::of(&broker);
    let mut context = anonymous(peer, listener);
    if let Some(principal) = principal {
        context.principal = Arc::from(principal);
    }
    let (reader, writer) = tokio::io::split(stream);
    let closed = serve_requests(&broker, reader, writer, &context, &limits, &shared).await;
    finish(&broker, peer, shared, closed);
}

/// Counts the connection closed and says why in the log.
fn finish(broker: &Broker, peer: SocketAddr, shared: Shared, closed: Closed) {
    broker.metrics().connection_closed();
    match closed {
        Closed::ByClient => debug!(%peer, "connection closed by client"),
        Closed::Shutdown => debug!(%peer, "connection closed for shutdown"),
        Closed::Idle { during } => {
            info!(%peer, during, "closing connection idle past connections.max.idle.ms")
        }
        Closed::Reason(reason) => info!(%peer, %reason, "closing connection"),
    }
    drop(shared.slot);
}

/// Each connection's read buffer while requests arrive. A frame at least
/// this large is read past it, straight into the frame's own buffer, so a
/// larger one would only save reads of small pipelined requests.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Reads, handles and answers requests one at a time until the connection
/// ends; says why it did.
async fn serve_requests(
    broker: &Arc<Broker>,
    reader: impl AsyncRead + Unpin,
    mut writer: impl SocketWriter,
    context: &RequestContext,
    limits: &Limits,
    shared: &Shared,
) -> Closed {
    let peer = context.peer;
    let mut reader = ReadBuffer::new(READ_BUFFER_BYTES, reader);
    let mut authenticator = context.listener.sasl.as_ref().map(|config| {
        Authenticator::new(
            Arc::clone(config),
            context.listener.oauthbearer.clone(),
            broker.config().socket.reauth_after(),
        )
    });
    let mut context = context.clone();
    let shutdown = &shared.shutdown;
    // A client over its quota is muted: nothing is read from it until then.
    let mut muted_until: Option<tokio::time::Instant> = None;
    loop {
        if let Some(until) = muted_until.take() {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = shutdown.cancelled() => break Closed::Shutdown,
            }
        }
        let frame = tokio::select! {
            frame = read_frame(&mut reader, limits, &shared.memory) => frame,
            _ = shutdown.cancelled() => break Closed::Shutdown,
        };
        let (frame, reserved) = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break Closed::ByClient,
            Err(closed) => break closed,
        };
        let request_bytes = frame.len();
        // The linter names clients that send versions Kafka refuses.
        let refused_frame = broker.linter().is_enabled().then(|| frame.clone());
        let response = match decode_request(frame, context.listener.listener_type) {
            Err(error) => {
                if let (CodecError::UnsupportedVersion { api_key, version }, Some(frame)) =
                    (&error, refused_frame)
                {
                    let client_id = header_client_id(&frame).unwrap_or_default();
                    broker.linter().version_used(&client_id, *api_key, *version);
                }
                break Closed::Reason(error.to_string());
            }
            Ok(Incoming::ApiVersionsTooNew { correlation_id }) => {
                let body = ResponseKind::ApiVersions(api_versions::unsupported_version(
                    context.listener.listener_type,
                ));
                encode_response(
                    kafka_protocol::messages::ApiKey::ApiVersions,
                    0,
                    correlation_id,
                    &body,
                    &Default::default(),
                )
            }
            Ok(Incoming::Request(request)) => {
                let (api_key, version) = (request.api_key, request.version());
                let correlation_id = request.header.correlation_id;
                debug!(%peer, ?api_key, version, correlation_id, "request");
                let answer = |body: &ResponseKind| {
                    encode_response(api_key, version, correlation_id, body, &Default::default())
                };
                // Nothing but authentication before authentication.
                let credentials =
                    |identity: &ScramIdentity, mechanism| scram_lookup(broker, identity, mechanism);
                let step = authenticator
                    .as_mut()
                    .map(|a| a.step(&request, credentials));
                if let Some(authenticated) = &authenticator {
                    if let Some(principal) = authenticated.principal() {
                        if *context.principal != *principal {
                            context.principal = Arc::from(principal);
                        }
                        context.token_authenticated = authenticated.token_authenticated();
                    }
                }
                match step {
                    None | Some(Step::Pass) => {}
                    Some(Step::Answer(body)) => {
                        drop(reserved);
                        match answer(&body) {
                            Ok(bytes) => {
                                match write_response(&mut writer, &bytes, limits.idle).await {
                                    Ok(()) => continue,
                                    Err(closed) => break closed,
                                }
                            }
                            Err(error) => break Closed::Reason(error.to_string()),
                        }
                    }
                    Some(Step::AnswerAndClose(body, reason)) => {
                        // Kafka holds a failed authentication's answer and
                        // close back a while, to slow guessing down.
                        if authenticator.as_ref().is_some_and(|a| a.has_failed()) {
                            let delay = broker.config().socket.failed_authentication_delay_ms;
                            tokio::time::sleep(Duration::from_millis(delay.max(0) as u64)).await;
                        }
                        if let Ok(bytes) = answer(&body) {
                            let _ = write_response(&mut writer, &bytes, limits.idle).await;
                        }
                        break Closed::Reason(format!(
                            "{reason} (listener {})",
                            context.listener_name()
                        ));
                    }
                    Some(Step::Close(reason)) => {
                        break Closed::Reason(format!(
                            "{reason} (listener {})",
                            context.listener_name()
                        ))
                    }
                }
                let client_id = request
                    .header
                    .client_id
                    .as_deref()
                    .unwrap_or("")
                    .to_string();
                // A test's network partition between this broker and its
                // clients (`network_faults`).
                let node_id = broker.config().node_id;
                match crate::network_faults::client_cut(node_id, Some(&client_id)) {
                    Some(ClientCut::Refuse) => {
                        break Closed::Reason("network partition: clients refused".to_string())
                    }
                    Some(ClientCut::BlackHole) => tokio::select! {
                        _ = crate::network_faults::client_cut_healed(node_id, ClientCut::BlackHole) => {}
                        _ = shutdown.cancelled() => break Closed::Shutdown,
                    },
                    // Handled now; its answer waits below.
                    None | Some(ClientCut::BlackHoleResponses) => {}
                }
                let started = std::time::Instant::now();
                let fault = broker
                    .faults()
                    .take(api_key, &client_id, &request.body, || broker.metadata());
                if let Some(FaultAction::LatencyMs(ms)) = fault {
                    tokio::time::sleep(faults::latency(ms)).await;
                }
                // Records counted toward a scheduled fault, once appended.
                let counted = match broker.faults().counts_records() {
                    true => faults::produced_records(&request.body, &broker.metadata()),
                    false => Vec::new(),
                };
                let metering = Metering::of(&request.body);
                let linted = match broker.linter().is_enabled() {
                    true => {
                        broker.linter().version_used(&client_id, api_key, version);
                        let waiting = match api_key {
                            kafka_protocol::messages::ApiKey::Produce => {
                                super::lint::produce_requests_waiting(reader.buffer())
                            }
                            _ => 0,
                        };
                        broker
                            .linter()
                            .before(context.peer, &request.body, waiting, || broker.metadata())
                    }
                    false => None,
                };
                let (mut reply, busy) = match fault {
                    Some(FaultAction::Error(code)) => {
                        match error_response(&request.body, version, code) {
                            Some(body) => (Reply::send(body), Duration::ZERO),
                            None => (Reply::Nothing, Duration::ZERO),
                        }
                    }
                    // Boxed: the handlers' futures are large, and inlined
                    // they would make every idle connection's task as large
                    // as the largest of them.
                    _ => quotas::busy_time(Box::pin(dispatch(broker, *request, &context))).await,
                };
                muted_until = muted_until.max(after_handling(
                    broker,
                    &context,
                    &client_id,
                    Handled {
                        version,
                        request_bytes,
                        busy,
                        metering,
                        fault: fault.as_ref(),
                        counted,
                        linted,
                    },
                    &mut reply,
                ));
                let answer_cut = crate::network_faults::client_cut(node_id, Some(&client_id))
                    == Some(ClientCut::BlackHoleResponses);
                let latency = started.elapsed();
                broker.metrics().request_handled(api_key, latency);
                if broker.journal().is_enabled() {
                    broker.journal().record(journal::Entry {
                        api: format!("{api_key:?}"),
                        version,
                        client_id,
                        correlation_id,
                        latency_us: latency.as_micros() as u64,
                        error_code: match &reply {
                            Reply::Send(body, _) => journal::error_code(body),
                            _ => 0,
                        },
                        fault: fault.clone(),
                    });
                }
                // Its answer lost on the way back while the test's cut lasts
                // (it arrives after, as TCP delivers it once the path heals).
                if answer_cut {
                    tokio::select! {
                        _ = crate::network_faults::client_cut_healed(
                            node_id,
                            ClientCut::BlackHoleResponses,
                        ) => {}
                        _ = shutdown.cancelled() => break Closed::Shutdown,
                    }
                }
                match reply {
                    Reply::Send(body, files) => {
                        let encoded =
                            encode_response(api_key, version, correlation_id, &body, &files);
                        if let (Some(FaultAction::Disconnect), Ok(bytes)) = (&fault, &encoded) {
                            // Half a response, then the connection goes: what a
                            // client sees when a broker dies mid-write.
                            let _ = write_response(
                                &mut writer,
                                &bytes.truncated(bytes.len() / 2),
                                limits.idle,
                            )
                            .await;
                            break Closed::Reason("fault plane: disconnect".to_string());
                        }
                        encoded
                    }
                    Reply::Nothing => continue,
                    Reply::Close(reason) => break Closed::Reason(reason),
                }
            }
        };
        // Handled: its bytes no longer count against the pool.
        drop(reserved);
        let bytes = match response {
            Ok(bytes) => bytes,
            Err(error) => break Closed::Reason(error.to_string()),
        };
        if let Err(closed) = write_response(&mut writer, &bytes, limits.idle).await {
            break closed;
        }
    }
}

/// What was noted of a request before it was handled, for what follows it.
struct Handled<'a> {
    version: i16,
    request_bytes: usize,
    /// Time its handling was polled (request_percentage).
    busy: Duration,
    metering: Metering,
    fault: Option<&'a FaultAction>,
    /// Records it carried, counted toward a scheduled fault once appended.
    counted: Vec<faults::ProducedRecords>,
    linted: Option<crate::server::lint::Pending>,
}

/// After a request is handled: client quotas and a throttle fault set the
/// response's throttle time (answering until when the connection is
/// muted), appended records count toward scheduled faults, the linter
/// notes what it needs.
fn after_handling(
    broker: &Broker,
    context: &RequestContext,
    client_id: &str,
    handled: Handled<'_>,
    reply: &mut Reply,
) -> Option<tokio::time::Instant> {
    let mut muted_until = None;
    let version = handled.version;
    let quotas = Arc::clone(&broker.metadata().client_quotas);
    if !quotas.is_empty() && !matches!(reply, Reply::Close(_)) {
        let client = quotas::Client::new(&context.principal, client_id);
        let response = match &mut *reply {
            Reply::Send(body, _) => Some(&mut **body),
            _ => None,
        };
        let mute = broker.quotas().after_request(
            &quotas,
            &client,
            handled.metering,
            handled.request_bytes,
            handled.busy,
            version,
            response,
        );
        if !mute.is_zero() {
            muted_until = Some(tokio::time::Instant::now() + mute);
        }
    }
    if let (Some(FaultAction::ThrottleMs(ms)), Reply::Send(body, _)) = (handled.fault, &mut *reply)
    {
        let carried = quotas::raise_throttle_time(body, version, *ms);
        let until = tokio::time::Instant::now() + Duration::from_millis(carried);
        muted_until = muted_until.max(Some(until));
    }
    let response = match &*reply {
        Reply::Send(body, _) => Some(&**body),
        _ => None,
    };
    for counted in &handled.counted {
        let appended = match (response, &*reply) {
            (Some(ResponseKind::Produce(produce)), _) => super::handlers::produce::appended(
                produce,
                &counted.topic,
                counted.topic_id,
                counted.partition,
            ),
            // acks=0: nothing says it was not appended.
            (_, Reply::Nothing) => true,
            _ => false,
        };
        if appended {
            broker
                .faults()
                .records_appended(&counted.topic, counted.records);
        }
    }
    if let Some(pending) = handled.linted {
        broker
            .linter()
            .after(client_id, pending, response, |topic, partition| {
                let tp = crate::types::TopicPartition::new(topic, partition);
                broker.partition(&tp).map(|p| p.high_watermark().value())
            });
    }
    muted_until
}

/// Runs one read or write; `Closed::Idle` if it makes no progress within
/// the idle timeout.
async fn within<T>(
    idle: Option<Duration>,
    during: &'static str,
    io: impl Future<Output = std::io::Result<T>>,
) -> Result<T, Closed> {
    timed(idle, during, io)
        .await?
        .map_err(|error| Closed::Reason(format!("{during}: {error}")))
}

/// `within`, leaving the I/O error to the caller.
async fn timed<T>(
    idle: Option<Duration>,
    during: &'static str,
    io: impl Future<Output = std::io::Result<T>>,
) -> Result<std::io::Result<T>, Closed> {
    match idle {
        Some(idle) => tokio::time::timeout(idle, io)
            .await
            .map_err(|_| Closed::Idle { during }),
        None => Ok(io.await),
    }
}

/// Writes a whole response: its pieces in memory in vectored writes, its
/// file pieces with `sendfile` or read into a buffer and written (see
/// [`socket_writer`](super::socket_writer)). Each write must make progress
/// within the idle timeout: a client that stops reading its responses
/// holds one response, and only until then.
async fn write_response(
    writer: &mut impl SocketWriter,
    response: &Encoded,
    idle: Option<Duration>,
) -> Result<(), Closed> {
    let pieces = response.pieces();
    // Held for this response only: an idle connection holds no buffer.
    let mut scratch = Vec::new();
    // The first piece not wholly written, and how much of it was.
    let (mut piece, mut within_piece) = (0, 0);
    while piece < pieces.len() {
        let sent = match &pieces[piece] {
            Piece::File(records) => match writer.sendfile_target() {
                Some(tcp) => {
                    let sending = send_file(tcp, records, within_piece);
                    within(idle, "writing a response", sending).await?
                }
                None => {
                    let read = records
                        .read_into(within_piece, READ_CHUNK, &mut scratch)
                        .map_err(|error| {
                            Closed::Reason(format!("reading records for a response: {error}"))
                        })?;
                    if read > 0 {
                        within(idle, "writing a response", writer.write_all(&scratch)).await?;
                    }
                    read
                }
            },
            Piece::Memory(first) => {
                let slices: Vec<IoSlice<'_>> = std::iter::once(&first[within_piece..])
                    .chain(pieces[piece + 1..].iter().map_while(|p| match p {
                        Piece::Memory(bytes) => Some(&bytes[..]),
                        Piece::File(_) => None,
                    }))
                    .take(MAX_SLICES)
                    .map(IoSlice::new)
                    .collect();
                let writing = writer.write_vectored(&slices);
                within(idle, "writing a response", writing).await?
            }
        };
        if sent == 0 {
            return Err(Closed::Reason(match &pieces[piece] {
                Piece::File(_) => "a segment file ended under a fetch response".to_string(),
                Piece::Memory(_) => "write returned 0 bytes".to_string(),
            }));
        }
        let mut sent = sent;
        while piece < pieces.len() && sent >= pieces[piece].len() - within_piece {
            sent -= pieces[piece].len() - within_piece;
            piece += 1;
            within_piece = 0;
        }
        within_piece += sent;
    }
    // TLS holds what it encrypted until flushed; TCP flushes nothing.
    within(idle, "writing a response", writer.flush()).await
}

/// At most this many pieces per vectored write (Linux's `IOV_MAX` is 1024).
const MAX_SLICES: usize = 64;

/// How much of a file piece is read at a time where it is not sent from
/// the page cache: a fetch's usual partition share in one read and one
/// write (smaller reads cost measurably more calls per gigabyte).
const READ_CHUNK: usize = 1024 * 1024;

/// Reads one frame and reserves its bytes in the pool. `Ok(None)` on a
/// clean end of stream between frames; an error for a bad size prefix, a
/// stream cut mid-frame, or no bytes for the idle timeout.
async fn read_frame(
    reader: &mut ReadBuffer<impl AsyncRead + Unpin>,
    limits: &Limits,
    memory: &MemoryPool,
) -> Result<Option<(Bytes, Reserved)>, Closed> {
    let size = match read_size(reader, limits.idle).await? {
        Some(size) => size,
        None => return Ok(None),
    };
    if size < 0 {
        return Err(Closed::Reason(format!("negative request size {size}")));
    }
    let size = size as usize;
    let max_request_bytes = limits.max_request_bytes;
    if size > max_request_bytes {
        warn!(
            size,
            max_request_bytes, "request larger than socket.request.max.bytes"
        );
        return Err(Closed::Reason(format!(
            "request of {size} bytes exceeds socket.request.max.bytes {max_request_bytes}"
        )));
    }
    // Waiting for the pool is the broker's doing, not the client's: it
    // does not count as idle.
    let reserved = memory.reserve(size).await;
    // Room for the whole frame at once, as the pool has reserved it: a
    // buffer grown by doubling copied a large request up to twice more,
    // and the pages of room a client never sends into are never touched,
    // so cost no memory.
    let mut frame = Vec::with_capacity(size);
    let mut body = (&mut *reader).take(size as u64);
    loop {
        let received = within(limits.idle, "reading a request", body.read_buf(&mut frame)).await?;
        if received == 0 {
            break;
        }
    }
    if frame.len() < size {
        return Err(Closed::Reason(format!(
            "stream ended mid-request ({} of {size} bytes)",
            frame.len()
        )));
    }
    Ok(Some((Bytes::from(frame), reserved)))
}

/// The 4-byte size prefix, or `None` if the stream ended cleanly before it.
async fn read_size(
    reader: &mut (impl AsyncRead + Unpin),
    idle: Option<Duration>,
) -> Result<Option<i32>, Closed> {
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < prefix.len() {
        let during = match filled {
            0 => "waiting for a request",
            _ => "reading a request",
        };
        let read = match timed(idle, during, reader.read(&mut prefix[filled..])).await? {
            Ok(read) => read,
            // A TLS client that closes its socket without close_notify
            // between requests has simply gone, as a TCP one has.
            Err(error) if filled == 0 && error.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(error) => return Err(Closed::Reason(format!("{during}: {error}"))),
        };
        if read == 0 {
            return match filled {
                0 => Ok(None),
                _ => Err(Closed::Reason("stream ended mid-request".to_string())),
            };
        }
        filled += read;
    }
    Ok(Some(i32::from_be_bytes(prefix)))
}

/// A SCRAM login's credential from the current metadata: a user's, or a
/// delegation token's (derived from its HMAC; refused once expired, or
/// when tokens are off) with the owner it authenticates as.
fn scram_lookup(
    broker: &Broker,
    identity: &ScramIdentity,
    mechanism: ScramMechanism,
) -> Option<ScramLookup> {
    let image = broker.controller().image();
    match identity {
        ScramIdentity::User(user) => Some((image.scram.get(user)?.get(&mechanism)?.clone(), None)),
        ScramIdentity::Token(token_id) => {
            let secret = broker.config().delegation_token.secret()?;
            let token = image.delegation_tokens.get(token_id)?;
            if token.expired(crate::types::now_ms()) {
                return None;
            }
            let credential = delegation_tokens::scram_credential(mechanism, secret, token_id);
            let owner = TokenOwner {
                principal: token.owner.clone(),
                expires_at_ms: token.expiry_timestamp_ms,
            };
            Some((credential, Some(owner)))
        }
    }
}
