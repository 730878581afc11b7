//! The write side of a connection as the response writer needs it: on a
//! plain TCP connection, a response's file pieces go from the page cache
//! to the socket with `sendfile(2)`; under TLS, which must encrypt them
//! in memory, they are read first.

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::log::file_records::FileRecords;

pub trait SocketWriter: AsyncWrite + Unpin {
    /// The TCP socket written to directly, if nothing (TLS) stands between.
    fn tcp(&self) -> Option<&TcpStream> {
        None
    }
}

impl SocketWriter for OwnedWriteHalf {
    fn tcp(&self) -> Option<&TcpStream> {
        Some(self.as_ref())
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
