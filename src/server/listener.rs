//! Accepting connections until shutdown, then waiting for them to finish.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::connection;
use crate::broker::Broker;

/// How long connections get to finish their current request on shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(broker: Arc<Broker>, listener: TcpListener, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                connections.spawn(connection::serve(
                    Arc::clone(&broker),
                    stream,
                    peer,
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    connections.close();
    info!(
        open = connections.len(),
        "listener stopped; draining connections"
    );
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        warn!("connections still busy after drain timeout");
    }
}
