//! Network partitions between the nodes of one process, for the testkit's
//! `TestCluster`: a node cut off from an address fails to connect there, as
//! against a closed port, and a connection it holds there fails at its next
//! request. Only the links between brokers are cut — replica fetching and
//! the metadata quorum's RPCs — so clients still reach every broker, as
//! when a broker loses its peers but not its clients. Off (one atomic load
//! per check) unless a test cuts something.

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

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
}
