//! The dev cluster's fault plane over HTTP (`gregor broker --dev --brokers
//! N --override admin.listener=HOST:PORT`), so that tests in any language
//! can do to a `--dev` cluster what Rust tests do to a [`TestCluster`]:
//!
//! - `GET /brokers`: each broker's node id, address, whether it runs and
//!   whether it is isolated;
//! - `POST /brokers/<id>/kill` (as kill -9), `/stop` (clean), `/restart`,
//!   `/isolate` (cut off from the other brokers, clients still reach it),
//!   `/cut` with `{"to": <id>}` (it can no longer reach that broker, which
//!   still reaches it; `"both_ways": true` for both),
//!   `/clients` with `{"mode": "refuse"|"black_hole"|"black_hole_responses"}`
//!   (cut off from its clients, the other brokers still reach it), `/pause` (frozen as by
//!   SIGSTOP: isolated and its clients black-holed); `POST /heal` ends
//!   every cut;
//! - `POST /clock/advance?ms=N`: moves the cluster's clock forward (time
//!   travel), `GET /clock` shows it;
//! - `GET /partitions/<topic>/<partition>`: its leader and ISR as the
//!   brokers that are not isolated agree on them (404 if none knows it);
//!   `POST /partitions/<topic>/<partition>/leader` with `{"to": <id>}`
//!   moves its leadership to an in-sync replica;
//! - each running broker's own plane under `/brokers/<id>/`: request
//!   faults (`faults`), disk faults (`faults/disk`), `journal`, `lint`,
//!   `metrics`, partition `pause`/`resume` and `network/clients` (DELETE
//!   ends that broker's client cut), as a single broker's admin listener
//!   serves them;
//! - `GET /health`.
//!
//! Changes need `Content-Type: application/json`, as on a broker's admin
//! listener; the endpoint is meant for loopback.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::{TestCluster, TestkitError};

/// The cluster, shared with the process that runs it (which takes it out
/// to stop it).
pub type Shared = Arc<Mutex<Option<TestCluster>>>;

/// How long a leadership move may take.
const MOVE_WAIT: Duration = Duration::from_secs(30);

type Answer = (StatusCode, String);

#[derive(Serialize)]
struct BrokerState {
    node_id: i32,
    address: String,
    running: bool,
    isolated: bool,
    /// "refuse", "black_hole" or "black_hole_responses" when cut off from
    /// its clients.
    clients_cut: Option<crate::network_faults::ClientCut>,
    /// The brokers it cannot reach (`cut`, `isolate`, `pause`).
    unreachable: Vec<i32>,
}

#[derive(Serialize)]
struct PartitionState {
    leader: Option<i32>,
    isr: Vec<i32>,
}

#[derive(Deserialize)]
struct MoveLeader {
    to: i32,
}

/// `POST /brokers/<from>/cut`: `from` can no longer reach `to`; both ways
/// if `both_ways`.
#[derive(Deserialize)]
struct CutLink {
    to: i32,
    #[serde(default)]
    both_ways: bool,
}

fn json(value: &impl Serialize) -> Answer {
    match serde_json::to_string(value) {
        Ok(body) => (StatusCode::OK, body),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

/// The clock after an advance (or the reason it was refused).
fn clock_answer(outcome: Result<(), String>) -> Answer {
    match outcome {
        Ok(()) => json(&crate::clock::state()),
        Err(reason) => (StatusCode::BAD_REQUEST, format!("{reason}\n")),
    }
}

fn failed(error: TestkitError) -> Answer {
    let status = match error {
        TestkitError::UnknownNode(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    (status, format!("{error}\n"))
}

fn done(outcome: Result<(), TestkitError>) -> Answer {
    match outcome {
        Ok(()) => (StatusCode::NO_CONTENT, String::new()),
        Err(error) => failed(error),
    }
}

/// The endpoints of one broker's own plane, served under `/brokers/<id>/`.
fn is_broker_plane(rest: &[&str]) -> bool {
    matches!(
        rest.first(),
        Some(&("faults" | "journal" | "lint" | "metrics" | "partitions" | "network"))
    )
}

/// What one request does to the cluster (on a blocking thread: the
/// cluster's calls wait for it).
fn act(cluster: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    let mut guard = cluster.lock().unwrap_or_else(|p| p.into_inner());
    let Some(cluster) = guard.as_mut() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the cluster is stopping\n".to_string(),
        );
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["brokers"]) => {
            let brokers: Vec<BrokerState> = cluster
                .node_ids()
                .into_iter()
                .map(|node_id| BrokerState {
                    node_id,
                    address: cluster.address(node_id).unwrap_or_default(),
                    running: cluster.is_running(node_id),
                    isolated: cluster.is_isolated(node_id),
                    clients_cut: cluster.clients_cut(node_id),
                    unreachable: cluster.unreachable_from(node_id),
                })
                .collect();
            json(&brokers)
        }
        (&Method::POST, ["brokers", id, action]) => {
            let Ok(node_id) = id.parse::<i32>() else {
                return (StatusCode::BAD_REQUEST, format!("bad node id {id:?}\n"));
            };
            match *action {
                "kill" => done(cluster.kill(node_id)),
                "stop" => done(cluster.stop(node_id)),
                "restart" => done(cluster.restart(node_id)),
                "isolate" => done(cluster.isolate(node_id)),
                "pause" => done(cluster.pause(node_id)),
                "cut" => {
                    match serde_json::from_slice::<CutLink>(body) {
                        Ok(link) => done(cluster.cut_link(node_id, link.to).and_then(|()| {
                            match link.both_ways {
                                true => cluster.cut_link(link.to, node_id),
                                false => Ok(()),
                            }
                        })),
                        Err(error) => (
                            StatusCode::BAD_REQUEST,
                            format!("not {{\"to\": id, \"both_ways\": bool}}: {error}\n"),
                        ),
                    }
                }
                "clients" => {
                    match serde_json::from_slice::<crate::network_faults::ClientCutRequest>(body) {
                        Ok(wanted) => done(cluster.cut_clients(node_id, wanted.mode)),
                        Err(error) => (
                            StatusCode::BAD_REQUEST,
                            format!("bad client cut: {error}\n"),
                        ),
                    }
                }
                other => (StatusCode::NOT_FOUND, format!("unknown action {other:?}\n")),
            }
        }
        (&Method::DELETE, ["brokers", id, "clients"]) => {
            let Ok(node_id) = id.parse::<i32>() else {
                return (StatusCode::BAD_REQUEST, format!("bad node id {id:?}\n"));
            };
            done(cluster.heal_clients(node_id))
        }
        (&Method::POST, ["heal"]) => {
            cluster.heal();
            (StatusCode::NO_CONTENT, String::new())
        }
        (&Method::GET, ["partitions", topic, partition]) => {
            let Ok(partition) = partition.parse::<i32>() else {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("bad partition {partition:?}\n"),
                );
            };
            let state = PartitionState {
                leader: cluster.leader_of(topic, partition),
                isr: cluster.in_sync_replicas(topic, partition),
            };
            match state.leader.is_none() && state.isr.is_empty() {
                true => (
                    StatusCode::NOT_FOUND,
                    format!("no broker knows {topic}-{partition}\n"),
                ),
                false => json(&state),
            }
        }
        (&Method::POST, ["partitions", topic, partition, "leader"]) => {
            let Ok(partition) = partition.parse::<i32>() else {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("bad partition {partition:?}\n"),
                );
            };
            let wanted: MoveLeader = match serde_json::from_slice(body) {
                Ok(wanted) => wanted,
                Err(error) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        format!("not {{\"to\": id}}: {error}\n"),
                    )
                }
            };
            match cluster.move_leader(topic, partition, wanted.to, MOVE_WAIT) {
                Ok(()) => (StatusCode::NO_CONTENT, String::new()),
                // Not a set-up failure: the move was refused.
                Err(TestkitError::Setup(reason)) => (
                    StatusCode::CONFLICT,
                    format!("cannot move the leader: {reason}\n"),
                ),
                Err(error) => failed(error),
            }
        }
        _ => (StatusCode::NOT_FOUND, "not found\n".to_string()),
    }
}

async fn route(
    cluster: Shared,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let json_sent = request
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().starts_with("application/json"));
    let query = request.uri().query().map(str::to_string);
    let (status, body) = if method != Method::GET && !json_sent {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "requests that change something must be sent with Content-Type: application/json\n"
                .to_string(),
        )
    } else {
        match Limited::new(request.into_body(), 64 * 1024).collect().await {
            Err(error) => (
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {error}\n"),
            ),
            Ok(_) if path == "/health" && method == Method::GET => {
                (StatusCode::OK, "ok\n".to_string())
            }
            // The clock is the process's: no broker to lock for it.
            Ok(_) if path == "/clock" && method == Method::GET => clock_answer(Ok(())),
            Ok(_) if path == "/clock/advance" && method == Method::POST => clock_answer(
                crate::clock::advance_query(query.as_deref()).map(crate::clock::advance),
            ),
            Ok(body) if broker_plane(&path).is_some() => {
                let (node_id, rest) = broker_plane(&path).unwrap_or_default();
                let broker = cluster
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .and_then(|cluster| cluster.broker(node_id));
                match broker {
                    Some(broker) => {
                        let (status, _, answer) = crate::server::admin::answer(
                            &broker,
                            &method,
                            &rest,
                            query.as_deref(),
                            &body.to_bytes(),
                        )
                        .await;
                        (status, answer)
                    }
                    None => (
                        StatusCode::NOT_FOUND,
                        format!("no running broker {node_id}\n"),
                    ),
                }
            }
            Ok(body) => {
                let body = body.to_bytes();
                // A change with `"after"` is made once that many more records are
                // in the topic (a body that is not JSON is the action's to refuse).
                let after = crate::server::scheduled::after_of(&body).ok().flatten();
                match after.filter(|_| method == Method::POST) {
                    Some(after) => schedule(cluster, after, method, path, body),
                    None => {
                        tokio::task::spawn_blocking(move || act(&cluster, &method, &path, &body))
                            .await
                            .unwrap_or_else(|error| {
                                (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
                            })
                    }
                }
            }
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    Ok(response)
}

/// Makes a change to the cluster once `after`'s records are in; answers
/// 202 now.
fn schedule(
    cluster: Shared,
    after: crate::server::faults::After,
    method: Method,
    path: String,
    body: Bytes,
) -> Answer {
    let answer = (
        StatusCode::ACCEPTED,
        serde_json::json!({ "scheduled": after }).to_string(),
    );
    let counted = Arc::clone(&cluster);
    crate::server::scheduled::run_after(
        after,
        // Never waits for the lock: a cluster busy with a long change
        // (a restart, a leader move) is asked again at the next poll.
        move |topic| {
            counted
                .try_lock()
                .ok()?
                .as_ref()
                .map(|cluster| cluster.records_in(topic))
        },
        move || {
            tokio::task::spawn_blocking(move || {
                let (status, text) = act(&cluster, &method, &path, &body);
                info!(%path, %status, answer = %text.trim(), "scheduled fault done");
            });
        },
    );
    answer
}

/// `/brokers/<id>/<rest>` of one broker's own plane: the node id and
/// `/<rest>`.
fn broker_plane(path: &str) -> Option<(i32, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["brokers", id, rest @ ..] if is_broker_plane(rest) => {
            Some((id.parse().ok()?, format!("/{}", rest.join("/"))))
        }
        _ => None,
    }
}

/// Serves the cluster's fault plane on `listener` until the process ends.
pub async fn run(cluster: Shared, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "cluster admin accept failed");
                continue;
            }
        };
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let service = service_fn(move |request| route(Arc::clone(&cluster), request));
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(%peer, %error, "cluster admin connection ended");
            }
        });
    }
}
