//! The two Kafka requests the harness sends on raw sockets, without a
//! client library in between: ApiVersions (what every client sends first;
//! enough to make a connection real to the broker) and Metadata (the first
//! answer a client needs, so a broker that answers it has started).
//! Plaintext only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const API_VERSIONS: i16 = 18;
const METADATA: i16 = 3;

/// ApiVersions v0 (header v1, empty body): every Kafka broker answers it.
pub fn api_versions(socket: &mut TcpStream, correlation_id: i32) -> Result<(), String> {
    let body = exchange(socket, API_VERSIONS, 0, correlation_id, &[])?;
    // ApiVersions answers with a v0 response header: the error code follows.
    match body.get(..2) {
        Some([0, 0]) => Ok(()),
        Some(code) => Err(format!(
            "ApiVersions answered error {}",
            i16::from_be_bytes([code[0], code[1]])
        )),
        None => Err("ApiVersions answer too short".into()),
    }
}

/// Metadata v4 for all topics (null topic array, no auto-creation):
/// v4 is the oldest version Kafka 4 still serves.
pub fn metadata(socket: &mut TcpStream, correlation_id: i32) -> Result<(), String> {
    let mut body = (-1i32).to_be_bytes().to_vec();
    body.push(0); // allow_auto_topic_creation
    exchange(socket, METADATA, 4, correlation_id, &body).map(drop)
}

/// Sends one request and reads its answer; the answer's body (after the
/// correlation id) if the correlation id matches.
fn exchange(
    socket: &mut TcpStream,
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    const CLIENT_ID: &[u8] = b"gregor-bench";
    let mut request = Vec::with_capacity(4 + 10 + CLIENT_ID.len() + body.len());
    let size = 2 + 2 + 4 + 2 + CLIENT_ID.len() + body.len();
    request.extend_from_slice(&(size as i32).to_be_bytes());
    request.extend_from_slice(&api_key.to_be_bytes());
    request.extend_from_slice(&api_version.to_be_bytes());
    request.extend_from_slice(&correlation_id.to_be_bytes());
    request.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    request.extend_from_slice(CLIENT_ID);
    request.extend_from_slice(body);
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| format!("socket timeout: {e}"))?;
    socket
        .write_all(&request)
        .map_err(|e| format!("sending api {api_key}: {e}"))?;
    let mut size = [0u8; 4];
    socket
        .read_exact(&mut size)
        .map_err(|e| format!("reading the answer to api {api_key}: {e}"))?;
    let size = i32::from_be_bytes(size);
    if !(4..=64 << 20).contains(&size) {
        return Err(format!("answer to api {api_key} of {size} bytes"));
    }
    let mut answer = vec![0u8; size as usize];
    socket
        .read_exact(&mut answer)
        .map_err(|e| format!("reading the answer to api {api_key}: {e}"))?;
    let correlation = i32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    if correlation != correlation_id {
        return Err(format!(
            "answer to api {api_key} has correlation id {correlation}, not {correlation_id}"
        ));
    }
    answer.drain(..4);
    Ok(answer)
}
