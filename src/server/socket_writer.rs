//! The write side of a connection as the response writer needs it: how a
//! response's file pieces ([`FileRecords`]) reach the socket.
//!
//! To a plain TCP peer on another host they go from the page cache with
//! `sendfile(2)`, as Kafka's `FileRecords.writeTo` sends them: the card
//! takes the pages without a copy. To a loopback peer, and under TLS, they
//! are read into a buffer and written: over loopback the receiver copies
//! the bytes out of the sender's pages anyway, and the kernel's splice path
//! costs the sender about twice a copy (`benches/` `--machine`: 0.49–0.56
//! s/GB for `sendfile` against 0.27–0.31 s/GB for `pread` and `write`, see
//! docs/performance.md), while TLS must encrypt them in memory.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::log::file_records::FileRecords;

pub trait SocketWriter: AsyncWrite + Unpin {
    /// The TCP socket to `sendfile` file pieces to, if they go that way.
    fn sendfile_target(&self) -> Option<&TcpStream> {
        None
    }
}

/// A plain TCP connection's write half.
pub struct TcpWriter {
    half: OwnedWriteHalf,
    sendfile: bool,
}

impl TcpWriter {
    pub fn new(half: OwnedWriteHalf, peer: SocketAddr) -> TcpWriter {
        TcpWriter {
            half,
            sendfile: !peer.ip().to_canonical().is_loopback(),
        }
    }
}

impl AsyncWrite for TcpWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.half).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.half).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.half.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.half).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.half).poll_shutdown(cx)
    }
}

impl SocketWriter for TcpWriter {
    fn sendfile_target(&self) -> Option<&TcpStream> {
        self.sendfile.then(|| self.half.as_ref())
    }
}

impl<S: AsyncRead + AsyncWrite> SocketWriter for tokio::io::WriteHalf<S> {}

/// Sends what follows the first `from` bytes of `records` once the socket
/// can take some: how many bytes went (0: the file ends short of the
/// slice).
pub async fn send_file(tcp: &TcpStream, records: &FileRecords, from: usize) -> io::Result<usize> {
    loop {
        tcp.writable().await?;
        match tcp.try_io(Interest::WRITABLE, || records.send(from, tcp.as_raw_fd())) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            sent => return sent,
        }
    }
}
