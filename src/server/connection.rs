//! One client connection: reads size-prefixed frames, handles them one at a
//! time and writes each response before reading the next request.
//!
//! Handling requests strictly in order per connection is what Kafka does (it
//! mutes a connection while a request is in flight); it keeps responses in
//! request order without bookkeeping, and lets a pipelining client fill the
//! socket buffer meanwhile.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::ResponseKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::codec::{decode_request, encode_response, Incoming};
use super::dispatch::{dispatch, Reply};
use super::faults::{self, FaultAction};
use super::handlers::api_versions;
use super::journal;
use crate::broker::Broker;

/// Why a connection ended, for the log line.
enum Closed {
    ByClient,
    Shutdown,
    Reason(String),
}

pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    broker.metrics().connection_opened();
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let max_request_bytes = broker.config().socket_request_max_bytes;
    let closed = loop {
        let frame = tokio::select! {
            frame = read_frame(&mut reader, max_request_bytes) => frame,
            _ = shutdown.cancelled() => break Closed::Shutdown,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break Closed::ByClient,
            Err(reason) => break Closed::Reason(reason),
        };
        let response = match decode_request(frame) {
            Err(error) => break Closed::Reason(error.to_string()),
            Ok(Incoming::ApiVersionsTooNew { correlation_id }) => {
                let body = ResponseKind::ApiVersions(api_versions::unsupported_version());
                encode_response(
                    kafka_protocol::messages::ApiKey::ApiVersions,
                    0,
                    correlation_id,
                    &body,
                )
            }
            Ok(Incoming::Request(request)) => {
                let (api_key, version) = (request.api_key, request.version());
                let correlation_id = request.header.correlation_id;
                debug!(%peer, ?api_key, version, correlation_id, "request");
                let client_id = request
                    .header
                    .client_id
                    .as_deref()
                    .unwrap_or("")
                    .to_string();
                let started = std::time::Instant::now();
                let fault = broker.faults().take(api_key, &client_id, &request.body);
                if let Some(FaultAction::LatencyMs(ms)) = fault {
                    tokio::time::sleep(faults::latency(ms)).await;
                }
                let reply = match fault {
                    Some(FaultAction::Error(code)) => {
                        match faults::error_response(&request.body, version, code) {
                            Some(body) => Reply::Send(Box::new(body)),
                            None => Reply::Nothing,
                        }
                    }
                    _ => dispatch(&broker, *request, peer).await,
                };
                let latency = started.elapsed();
                broker.metrics().request_handled(api_key, latency);
                broker.journal().record(journal::Entry {
                    api: format!("{api_key:?}"),
                    version,
                    client_id,
                    correlation_id,
                    latency_us: latency.as_micros() as u64,
                    error_code: match &reply {
                        Reply::Send(body) => journal::error_code(body),
                        _ => 0,
                    },
                    fault: fault.as_ref().map(|f| format!("{f:?}")),
                });
                match reply {
                    Reply::Send(body) => {
                        let encoded = encode_response(api_key, version, correlation_id, &body);
                        if let (Some(FaultAction::Disconnect), Ok(bytes)) = (&fault, &encoded) {
                            // Half a response, then the connection goes: what a
                            // client sees when a broker dies mid-write.
                            let _ =
                                write_response(&mut writer, &bytes.slice(..bytes.len() / 2)).await;
                            break Closed::Reason("fault plane: disconnect".to_string());
                        }
                        encoded
                    }
                    Reply::Nothing => continue,
                    Reply::Close(reason) => break Closed::Reason(reason),
                }
            }
        };
        let written = match response {
            Ok(bytes) => write_response(&mut writer, &bytes).await,
            Err(error) => break Closed::Reason(error.to_string()),
        };
        if let Err(error) = written {
            break Closed::Reason(format!("write failed: {error}"));
        }
    };
    broker.metrics().connection_closed();
    match closed {
        Closed::ByClient => debug!(%peer, "connection closed by client"),
        Closed::Shutdown => debug!(%peer, "connection closed for shutdown"),
        Closed::Reason(reason) => info!(%peer, %reason, "closing connection"),
    }
}

async fn write_response(
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    bytes: &Bytes,
) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}

/// Reads one frame. `Ok(None)` on a clean end of stream between frames; an
/// error for a bad size prefix or a stream cut mid-frame.
async fn read_frame(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max_request_bytes: usize,
) -> Result<Option<Bytes>, String> {
    let size = match reader.read_i32().await {
        Ok(size) => size,
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(format!("read failed: {error}")),
    };
    if size < 0 {
        return Err(format!("negative request size {size}"));
    }
    let size = size as usize;
    if size > max_request_bytes {
        warn!(
            size,
            max_request_bytes, "request larger than socket.request.max.bytes"
        );
        return Err(format!(
            "request of {size} bytes exceeds socket.request.max.bytes {max_request_bytes}"
        ));
    }
    // Grow with the data actually received rather than trusting the prefix.
    let mut frame = Vec::with_capacity(size.min(64 * 1024));
    let received = (&mut *reader)
        .take(size as u64)
        .read_to_end(&mut frame)
        .await
        .map_err(|error| format!("read failed: {error}"))?;
    if received < size {
        return Err(format!(
            "stream ended mid-request ({received} of {size} bytes)"
        ));
    }
    Ok(Some(Bytes::from(frame)))
}
