//! The admin HTTP listener (`admin.listener`, off unless configured), kept
//! off the Kafka port so that it can be bound to loopback only:
//!
//! - `GET /health`, `GET /metrics` (Prometheus text format);
//! - the fault plane: `POST /faults` arms a fault (JSON, see
//!   `server/faults.rs`), `GET /faults` lists the armed ones, `DELETE
//!   /faults` clears them;
//! - disk faults: `POST /faults/disk` makes the next writes or fsyncs of a
//!   partition or a log dir fail with EIO or ENOSPC (`log/disk_faults.rs`),
//!   `GET` lists, `DELETE` clears them;
//! - `POST /partitions/<topic>/<partition>/pause` and `/resume` hold and
//!   release a partition's appends;
//! - `POST /network/clients` with `{"mode": "refuse"}` or
//!   `{"mode": "black_hole"}` cuts this broker off from its clients (not
//!   from other brokers) until `DELETE /network/clients`;
//! - `POST /clock/advance?ms=N` moves the broker's clock forward (time
//!   travel: timeouts and retention fire at once), `GET /clock` shows it;
//! - `GET /journal`: the most recent requests;
//! - `GET /lint`: the client-behaviour linter's findings.
//!
//! The fault plane, the partition pause and the client cut are served only with
//! `admin.fault.plane.enable` (on in `--dev`); with `admin.listener.token`
//! every endpoint but `/metrics` and `/health` needs it as a bearer token.
//! Every request that changes something (POST, DELETE) must carry
//! `Content-Type: application/json`, which a browser sends cross-site only
//! after a CORS preflight this listener never approves.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::faults::{After, Fault};
use crate::auth::constant_time_eq;
use crate::broker::Broker;
use crate::config::broker::Secret;
use crate::log::disk_faults::{self, DiskErrno, DiskFault, DiskOp};
use crate::types::TopicPartition;

/// Request bodies larger than this are refused: faults are small JSON.
const MAX_BODY: usize = 64 * 1024;

/// Status, content type and body.
pub type Answer = (StatusCode, &'static str, String);

fn json(status: StatusCode, value: &impl serde::Serialize) -> Answer {
    match serde_json::to_string(value) {
        Ok(body) => (status, "application/json", body),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            error.to_string(),
        ),
    }
}

fn bad_request(message: String) -> Answer {
    (StatusCode::BAD_REQUEST, "text/plain", message + "\n")
}

/// A request's JSON body, or the 400 answer saying why it is not one.
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|error| bad_request(format!("not {what}: {error}")))
}

fn arm_fault(broker: &Broker, body: &[u8]) -> Answer {
    let fault: Fault = match json_body(body, "a fault") {
        Ok(fault) => fault,
        Err(answer) => return answer,
    };
    match broker.faults().arm(fault) {
        Ok(armed) => json(StatusCode::CREATED, &armed),
        Err(message) => bad_request(message),
    }
}

/// What `POST /faults/disk` takes: the next `count` writes or fsyncs take
/// `latency_ms` longer (a slow disk) and/or fail with `errno` (a failing
/// or full one), for one partition (`topic` and `partition`), one log dir
/// (`log_dir`), or every log dir of the broker (neither).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DiskFaultRequest {
    op: DiskOp,
    #[serde(default)]
    errno: Option<DiskErrno>,
    #[serde(default)]
    latency_ms: u64,
    /// Armed once this many more records are in a topic, not now.
    #[serde(default)]
    after: Option<After>,
    #[serde(default = "one")]
    count: u32,
    topic: Option<String>,
    partition: Option<i32>,
    log_dir: Option<std::path::PathBuf>,
}

fn one() -> u32 {
    1
}

/// The answer to a change scheduled for later.
fn scheduled(after: &After) -> Answer {
    json(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "scheduled": after }),
    )
}

/// Runs `action` once `after`'s records are in, on `broker`'s counts.
fn when(broker: &Arc<Broker>, after: After, action: impl FnOnce() + Send + 'static) {
    let counted = Arc::clone(broker);
    super::scheduled::run_after(
        after,
        move |topic| Some(super::scheduled::records_on(&counted, topic)),
        action,
    );
}

/// Cuts this broker off from its clients (`{"mode": "refuse"}`,
/// `"black_hole"` or `"black_hole_responses"`) until `DELETE
/// /network/clients`; now, or `after` that many records.
fn cut_clients(broker: &Arc<Broker>, body: &[u8]) -> Answer {
    let wanted: crate::network_faults::ClientCutRequest = match json_body(body, "a client cut") {
        Ok(wanted) => wanted,
        Err(answer) => return answer,
    };
    let node_id = broker.config().node_id;
    match super::scheduled::after_of(body) {
        Ok(Some(after)) => {
            let answer = scheduled(&after);
            when(broker, after, move || {
                crate::network_faults::cut_clients(node_id, wanted.mode)
            });
            answer
        }
        Ok(None) => {
            crate::network_faults::cut_clients(node_id, wanted.mode);
            (StatusCode::NO_CONTENT, "text/plain", String::new())
        }
        Err(error) => bad_request(format!("not a client cut: {error}")),
    }
}

fn arm_disk_fault(broker: &Arc<Broker>, body: &[u8]) -> Answer {
    let wanted: DiskFaultRequest = match json_body(body, "a disk fault") {
        Ok(wanted) => wanted,
        Err(answer) => return answer,
    };
    if wanted.errno.is_none() && wanted.latency_ms == 0 {
        return bad_request("a disk fault needs an errno, a latency_ms, or both".to_string());
    }
    let dirs: Vec<std::path::PathBuf> = broker
        .log_dir_sizes()
        .into_iter()
        .map(|dir| dir.path)
        .collect();
    let paths = match (&wanted.topic, wanted.partition, &wanted.log_dir) {
        (Some(topic), Some(partition), None) => {
            let topic_partition = TopicPartition::new(topic, partition);
            match broker.partition(&topic_partition) {
                Some(live) => vec![live.log_dir().path().join(topic_partition.dir_name())],
                None => return bad_request(format!("{topic_partition} is not hosted here")),
            }
        }
        (None, None, Some(dir)) if dirs.contains(dir) => vec![dir.clone()],
        (None, None, Some(dir)) => {
            return bad_request(format!("{} is not one of log.dirs", dir.display()))
        }
        (None, None, None) => dirs,
        _ => return bad_request("name topic and partition, or log_dir, or neither".to_string()),
    };
    let armed: Vec<DiskFault> = paths
        .into_iter()
        .map(|path| DiskFault {
            path,
            op: wanted.op,
            errno: wanted.errno,
            latency_ms: wanted.latency_ms,
            count: wanted.count.max(1),
        })
        .collect();
    if let Some(after) = wanted.after {
        let answer = scheduled(&after);
        when(broker, after, move || {
            armed.into_iter().for_each(disk_faults::arm)
        });
        return answer;
    }
    for fault in &armed {
        disk_faults::arm(fault.clone());
    }
    json(StatusCode::CREATED, &armed)
}

/// The disk faults still armed on this broker's log dirs.
fn disk_faults_of(broker: &Broker) -> Vec<DiskFault> {
    broker
        .log_dir_sizes()
        .iter()
        .flat_map(|dir| disk_faults::armed_under(&dir.path))
        .collect()
}

/// `/partitions/<topic>/<partition>/pause` or `/resume`.
fn pause(broker: &Broker, path: &str) -> Answer {
    let parts: Vec<&str> = path.trim_start_matches("/partitions/").split('/').collect();
    let [topic, partition, action] = parts.as_slice() else {
        return bad_request("expected /partitions/<topic>/<partition>/pause|resume".into());
    };
    let Ok(partition) = partition.parse::<i32>() else {
        return bad_request(format!("bad partition {partition:?}"));
    };
    let Some(live) = broker.partition(&TopicPartition::new(*topic, partition)) else {
        return (
            StatusCode::NOT_FOUND,
            "text/plain",
            "no such partition\n".into(),
        );
    };
    match *action {
        "pause" => live.set_paused(true),
        "resume" => live.set_paused(false),
        other => return bad_request(format!("unknown action {other:?}")),
    }
    (StatusCode::NO_CONTENT, "text/plain", String::new())
}

async fn route(
    broker: Arc<Broker>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let open = matches!(path.as_str(), "/health" | "/metrics");
    let config = broker.config();
    let (status, content_type, body) = match () {
        _ if !open && !has_token(&request, config.admin_listener_token.as_ref()) => (
            StatusCode::UNAUTHORIZED,
            "text/plain",
            "this endpoint needs Authorization: Bearer <admin.listener.token>\n".to_string(),
        ),
        _ if is_fault_plane(&path) && !config.admin_fault_plane_enable => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "the fault plane is off: admin.fault.plane.enable=true turns it on\n".to_string(),
        ),
        // A web page can send a cross-site POST or DELETE to a local broker
        // only without this header: faults are never armed by a browser.
        _ if changes && !is_json(&request) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain",
            "requests that change something must be sent with Content-Type: application/json\n"
                .to_string(),
        ),
        _ => {
            let method = request.method().clone();
            let query = request.uri().query().map(str::to_string);
            match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => {
                    answer(&broker, &method, &path, query.as_deref(), &body.to_bytes()).await
                }
                Err(error) => bad_request(format!("cannot read the body: {error}")),
            }
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}

/// Whether `path` is part of the fault plane (off unless
/// `admin.fault.plane.enable`).
fn is_fault_plane(path: &str) -> bool {
    path.starts_with("/faults")
        || path.starts_with("/partitions/")
        || path.starts_with("/network/")
        || path.starts_with("/clock")
}

/// One admin request of `broker`, its body read and its access checked: the
/// broker's own listener answers with it, and so does the dev cluster's
/// plane under `/brokers/<id>/…`.
pub async fn answer(
    broker: &Arc<Broker>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let config = broker.config();
    match (method.clone(), path) {
        (Method::GET, "/health") => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        (Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            broker.metrics().render(broker).await,
        ),
        (Method::GET, "/faults") => json(StatusCode::OK, &broker.faults().list()),
        (Method::POST, "/faults") => arm_fault(broker, body),
        (Method::DELETE, "/faults") => {
            broker.faults().clear();
            (StatusCode::NO_CONTENT, "text/plain", String::new())
        }
        (Method::GET, "/faults/disk") => json(StatusCode::OK, &disk_faults_of(broker)),
        (Method::POST, "/faults/disk") => arm_disk_fault(broker, body),
        (Method::DELETE, "/faults/disk") => {
            for dir in broker.log_dir_sizes() {
                disk_faults::clear_under(&dir.path);
            }
            (StatusCode::NO_CONTENT, "text/plain", String::new())
        }
        (Method::GET, "/journal") => json(StatusCode::OK, &broker.journal().entries()),
        (Method::GET, "/lint") => json(StatusCode::OK, &broker.lint()),
        (Method::GET, "/clock") => json(StatusCode::OK, &crate::clock::state()),
        (Method::POST, "/clock/advance") => match crate::clock::advance_query(query) {
            Ok(by) => {
                crate::clock::advance(by);
                json(StatusCode::OK, &crate::clock::state())
            }
            Err(reason) => bad_request(reason),
        },
        (Method::POST, p) if p.starts_with("/partitions/") => pause(broker, p),
        (Method::GET, "/network/clients") => json(
            StatusCode::OK,
            &crate::network_faults::client_cut(config.node_id, None),
        ),
        (Method::POST, "/network/clients") => cut_clients(broker, body),
        (Method::DELETE, "/network/clients") => {
            crate::network_faults::heal_clients(config.node_id);
            (StatusCode::NO_CONTENT, "text/plain", String::new())
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    }
}

/// Whether the request carries the admin token, if one is configured.
fn has_token(request: &Request<Incoming>, token: Option<&Secret>) -> bool {
    let Some(Secret(token)) = token else {
        return true;
    };
    request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(token.as_bytes(), given.as_bytes()))
}

fn is_json(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// Serves the admin endpoints until `shutdown`.
pub async fn run(broker: Arc<Broker>, listener: TcpListener, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "admin accept failed");
                continue;
            }
        };
        let broker = Arc::clone(&broker);
        tokio::spawn(async move {
            let service = service_fn(move |request| route(Arc::clone(&broker), request));
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(%peer, %error, "admin connection ended");
            }
        });
    }
}
