//! Network partitions for tests, off (one atomic load per check) unless a
//! test cuts something:
//!
//! - between the nodes of one process (the testkit's `TestCluster`): a
//!   node cut off from an address fails to connect there, as against a
//!   closed port, and a connection it holds there fails at its next
//!   request — replica fetching and the metadata quorum's RPCs;
//! - between a broker and its clients (anyone but another broker's replica
//!   fetcher, told apart by the client id of its requests): refused (a
//!   connection closes at its next request), or black-holed one way or
//!   both: requests held unhandled until the cut heals (the clients'
//!   packets dropped, as TCP keeps resending them), or handled with their
//!   answers held (the broker's packets dropped: written, and the client
//!   does not know).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

static ARMED: AtomicBool = AtomicBool::new(false);
/// (node, address it may not reach).
static CUTS: Mutex<BTreeSet<(i32, String)>> = Mutex::new(BTreeSet::new());

fn cuts() -> std::sync::MutexGuard<'static, BTreeSet<(i32, String)>> {
    CUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Node `from` can no longer reach `address`.
pub fn cut(from: i32, address: &str) {
    let mut cuts = cuts();
    cuts.insert((from, address.to_string()));
    ARMED.store(true, Ordering::Release);
}

/// The given cuts are healed (absent ones are ignored).
pub fn heal(healed: &[(i32, String)]) {
    let mut cuts = cuts();
    for cut in healed {
        cuts.remove(cut);
    }
    ARMED.store(!cuts.is_empty(), Ordering::Release);
}

/// Whether node `from` (`None`: not a node of this process) may reach
/// `address`; the refused connection's error if not.
pub fn check(from: Option<i32>, address: &str) -> io::Result<()> {
    if !ARMED.load(Ordering::Acquire) {
        return Ok(());
    }
    let Some(from) = from else {
        return Ok(());
    };
    match cuts().contains(&(from, address.to_string())) {
        true => Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("network partition: node {from} cannot reach {address}"),
        )),
        false => Ok(()),
    }
}

/// What a broker's clients see of a cut between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCut {
    /// Connections close at their next request.
    Refuse,
    /// Requests wait unhandled until the cut heals (client to broker lost).
    BlackHole,
    /// Requests are handled and their answers wait until the cut heals
    /// (broker to client lost): the write is made, the client cannot know.
    BlackHoleResponses,
}

/// What the admin planes take to cut clients off: `{"mode": "refuse"}` or
/// `{"mode": "black_hole"}`.
#[derive(Debug, Deserialize)]
pub struct ClientCutRequest {
    pub mode: ClientCut,
}

static CLIENTS_ARMED: AtomicBool = AtomicBool::new(false);
static CLIENT_CUTS: Mutex<BTreeMap<i32, ClientCut>> = Mutex::new(BTreeMap::new());
static CLIENTS_HEALED: Notify = Notify::const_new();

fn client_cuts() -> std::sync::MutexGuard<'static, BTreeMap<i32, ClientCut>> {
    CLIENT_CUTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Broker `node`'s clients are cut off from it, as `how` says.
pub fn cut_clients(node: i32, how: ClientCut) {
    client_cuts().insert(node, how);
    CLIENTS_ARMED.store(true, Ordering::Release);
}

/// Broker `node`'s clients reach it again.
pub fn heal_clients(node: i32) {
    let mut cuts = client_cuts();
    cuts.remove(&node);
    CLIENTS_ARMED.store(!cuts.is_empty(), Ordering::Release);
    drop(cuts);
    CLIENTS_HEALED.notify_waiters();
}

/// How broker `node`'s clients are cut off from it, if they are. A client
/// id of another broker's replica fetcher is not a client.
pub fn client_cut(node: i32, client_id: Option<&str>) -> Option<ClientCut> {
    if !CLIENTS_ARMED.load(Ordering::Acquire) {
        return None;
    }
    if client_id.is_some_and(|id| id.starts_with(crate::replication::REPLICA_CLIENT_ID_PREFIX)) {
        return None;
    }
    client_cuts().get(&node).copied()
}

/// Waits until broker `node`'s clients are no longer cut off as `how`.
pub async fn client_cut_healed(node: i32, how: ClientCut) {
    loop {
        let healed = CLIENTS_HEALED.notified();
        if client_cut(node, None) != Some(how) {
            return;
        }
        healed.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_refuses_one_node_one_address_until_healed() {
        let address = "127.0.0.1:1";
        assert!(check(Some(71), address).is_ok());
        cut(71, address);
        assert_eq!(
            check(Some(71), address).unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert!(check(Some(72), address).is_ok(), "another node");
        assert!(check(None, address).is_ok(), "not a node");
        assert!(check(Some(71), "127.0.0.1:2").is_ok(), "another address");
        heal(&[(71, address.to_string())]);
        assert!(check(Some(71), address).is_ok());
    }

    #[tokio::test]
    async fn a_black_holed_request_waits_until_its_broker_heals() {
        let node = 9_071;
        assert_eq!(client_cut(node, Some("app")), None);
        cut_clients(node, ClientCut::BlackHole);
        assert_eq!(client_cut(node, Some("app")), Some(ClientCut::BlackHole));
        assert_eq!(client_cut(node, Some("gregor-replica-2")), None, "a broker");
        let waiting = tokio::spawn(client_cut_healed(node, ClientCut::BlackHole));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        heal_clients(node);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("healed")
            .expect("no panic");
        assert_eq!(client_cut(node, Some("app")), None);
    }
}
