//! Opening the broker's and the controller's listening sockets.
//!
//! A test cluster must name every node's ports before any node starts
//! (the voters list holds them). A port merely found free and closed again
//! can be taken in between, most often by an outgoing connection of a
//! node already started, whose ephemeral port the kernel picks from the
//! same range: the late node then fails with "Address already in use".
//! So the test kit keeps each picked port bound ([`reserve_loopback`]),
//! and [`bind`] hands the reserved socket over instead of binding anew.
//! Without reservations, `bind` is a plain bind.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Mutex;

use tokio::net::TcpListener;

/// Sockets bound ahead of their listener, by local address.
static RESERVED: Mutex<Vec<StdListener>> = Mutex::new(Vec::new());

fn reserved() -> std::sync::MutexGuard<'static, Vec<StdListener>> {
    RESERVED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Binds a free loopback port and keeps it bound until [`bind`] takes it
/// or [`release`] lets it go; returns the port.
pub fn reserve_loopback() -> io::Result<u16> {
    let socket = StdListener::bind("127.0.0.1:0")?;
    let port = socket.local_addr()?.port();
    reserved().push(socket);
    Ok(port)
}

/// Closes the reservation of `port`, if it is still held.
pub fn release(port: u16) {
    reserved().retain(|socket| socket.local_addr().is_ok_and(|a| a.port() != port));
}

/// A listener on `address` (`host:port`): the socket reserved for it if
/// there is one, else a new bind.
pub async fn bind(address: &str) -> io::Result<TcpListener> {
    if let Some(socket) = take_reserved(address).await {
        socket.set_nonblocking(true)?;
        return TcpListener::from_std(socket);
    }
    TcpListener::bind(address).await
}

/// The socket reserved for `address`'s port. One reserved on another
/// interface than `address` names is closed instead, so that the new bind
/// does not collide with it.
async fn take_reserved(address: &str) -> Option<StdListener> {
    if reserved().is_empty() {
        return None;
    }
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(address).await.ok()?.collect();
    let port = resolved.first()?.port();
    let mut sockets = reserved();
    let index = sockets
        .iter()
        .position(|socket| socket.local_addr().is_ok_and(|local| local.port() == port))?;
    let socket = sockets.swap_remove(index);
    let local = socket.local_addr().ok()?;
    resolved.contains(&local).then_some(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reserved_port_is_handed_over_and_unavailable_meanwhile() {
        let port = reserve_loopback().unwrap();
        // Held: nobody else can bind it, an ephemeral port included.
        assert!(StdListener::bind(("127.0.0.1", port)).is_err());
        let listener = bind(&format!("localhost:{port}")).await.unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);
        let client = tokio::net::TcpStream::connect(("127.0.0.1", port));
        let (accepted, connected) = tokio::join!(listener.accept(), client);
        assert!(accepted.is_ok() && connected.is_ok());
        // Taken: releasing it again is a no-op.
        release(port);
        assert!(StdListener::bind(("127.0.0.1", port)).is_err());
    }

    #[tokio::test]
    async fn a_reservation_on_another_interface_is_closed_for_the_bind() {
        let port = reserve_loopback().unwrap();
        let listener = bind(&format!("0.0.0.0:{port}")).await.unwrap();
        assert_eq!(
            listener.local_addr().unwrap().to_string(),
            format!("0.0.0.0:{port}")
        );
    }

    #[test]
    fn a_released_port_is_free() {
        let port = reserve_loopback().unwrap();
        release(port);
        assert!(StdListener::bind(("127.0.0.1", port)).is_ok());
    }
}
