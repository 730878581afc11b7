//! The controller listener's second kind of caller: Kafka clients that
//! bootstrap from the controllers (KIP-919, `--bootstrap-controller`,
//! `bootstrap.controllers`), next to the Raft peers of `network.rs`.
//!
//! Both start a connection with a 4-byte length; what follows tells them
//! apart. A Raft frame's body is JSON (`{` or `"`), a Kafka request's is
//! its api key, an int16 whose high byte is 0 for every key Kafka has. So
//! the fifth byte decides, read once after the TLS handshake (one
//! handshake serves both) and replayed to whoever reads the stream next.
//!
//! The quorum starts, and binds the listener, before the server layer
//! exists, and must not depend on it: the server layer installs its
//! connection handling here ([`KafkaClients`]) once it runs. Until then
//! Kafka clients are turned away, as a broker that is still starting
//! refuses them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many bytes of a connection decide who is calling.
pub const SNIFFED_BYTES: usize = 5;

/// Who opened a controller-listener connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A Kafka client: its request's api key starts at the fifth byte.
    Kafka,
    /// A Raft peer: its frame's JSON starts at the fifth byte.
    Raft,
}

/// Who a connection's first [`SNIFFED_BYTES`] bytes come from.
pub fn caller(first: &[u8; SNIFFED_BYTES]) -> Caller {
    match first[4] {
        0 => Caller::Kafka,
        _ => Caller::Raft,
    }
}

/// A byte stream both kinds of callers can be served on.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// A stream whose first bytes were read to sniff it, and are read again.
pub struct Replay<S> {
    read_ahead: [u8; SNIFFED_BYTES],
    /// How many of `read_ahead` were handed out again.
    replayed: usize,
    inner: S,
}

impl<S> Replay<S> {
    pub fn new(read_ahead: [u8; SNIFFED_BYTES], inner: S) -> Replay<S> {
        Replay {
            read_ahead,
            replayed: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.replayed < SNIFFED_BYTES {
            let rest = &self.read_ahead[self.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            self.replayed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A Kafka client's connection to the controller listener, TLS done.
pub struct KafkaConnection {
    /// The connection, its first request's bytes still to be read.
    pub stream: Box<dyn Stream>,
    pub peer: SocketAddr,
    /// Whom the client certificate names (`User:…`, mapped by
    /// `ssl.principal.mapping.rules`), on a TLS listener that got one.
    pub principal: Option<String>,
}

/// What serves Kafka clients on the controller listener: the server
/// layer's connection handling, installed when it starts.
pub trait KafkaClients: Send + Sync {
    /// Serves one connection until it ends.
    fn serve(&self, connection: KafkaConnection) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Where the server layer installs its [`KafkaClients`]; shared by the
/// quorum and its listener's connections.
#[derive(Clone, Default)]
pub struct KafkaHandoff(Arc<OnceLock<Arc<dyn KafkaClients>>>);

impl KafkaHandoff {
    /// Serves Kafka clients with `clients` from now on; false if some were
    /// installed already (they stay).
    pub fn install(&self, clients: Arc<dyn KafkaClients>) -> bool {
        self.0.set(clients).is_ok()
    }

    /// What serves Kafka clients, once installed.
    pub fn clients(&self) -> Option<Arc<dyn KafkaClients>> {
        self.0.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_kafka_request_is_told_apart_from_a_raft_frame_by_its_fifth_byte() {
        // ApiVersions v3 (api key 18): size, then 0x00 0x12.
        assert_eq!(caller(&[0, 0, 0, 30, 0]), Caller::Kafka);
        // The highest api key Kafka has still starts with 0x00.
        assert_eq!(caller(&[0, 0, 1, 0, 0]), Caller::Kafka);
        // Raft frames are JSON: an object, or a unit variant's string.
        assert_eq!(caller(&[0, 0, 0, 40, b'{']), Caller::Raft);
        assert_eq!(caller(&[0, 0, 0, 10, b'"']), Caller::Raft);
    }

    #[tokio::test]
    async fn a_replayed_stream_reads_the_sniffed_bytes_first_then_the_rest() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"6789").await.unwrap();
        drop(client);
        let mut replay = Replay::new(*b"12345", server);
        // A reader with less room than the read-ahead takes it in parts.
        let mut two = [0u8; 2];
        replay.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"12");
        let mut rest = Vec::new();
        replay.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"3456789");
    }
}
