//! A connection's read side: buffered while requests arrive, and holding
//! no buffer while the connection waits.
//!
//! Small pipelined requests are read many at once into one buffer, as
//! tokio's `BufReader` reads them. Unlike it, the buffer is freed when it
//! is drained and the socket has nothing more to give: most of a broker's
//! connections wait between requests most of the time, and each held its
//! 16 KiB (Kafka's selector, likewise, allocates a request's buffer only
//! once its size has arrived). A busy connection keeps its buffer; a
//! request-response client frees and takes one per request, which malloc
//! serves from the chunk just freed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

pub struct ReadBuffer<R> {
    inner: R,
    /// Received and not yet read; no allocation while empty and waiting.
    buffered: BytesMut,
    capacity: usize,
}

impl<R: AsyncRead + Unpin> ReadBuffer<R> {
    pub fn new(capacity: usize, inner: R) -> ReadBuffer<R> {
        ReadBuffer {
            inner,
            buffered: BytesMut::new(),
            capacity,
        }
    }

    /// The bytes received and not yet read (what a linter may look ahead
    /// into: requests the client sent behind the current one).
    pub fn buffer(&self) -> &[u8] {
        &self.buffered
    }

    /// Whether a buffer is held now.
    #[cfg(test)]
    fn holds_buffer(&self) -> bool {
        self.buffered.capacity() > 0
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ReadBuffer<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.buffered.is_empty() {
            // A read at least as large as the buffer would only be copied
            // through it. The drained buffer stays for the next small read
            // unless the socket has nothing.
            if out.remaining() >= this.capacity {
                let read = Pin::new(&mut this.inner).poll_read(cx, out);
                if read.is_pending() {
                    this.buffered = BytesMut::new();
                }
                return read;
            }
            // Reuses the drained allocation when there is one.
            this.buffered.reserve(this.capacity);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buffered) {
                Poll::Pending => {
                    this.buffered = BytesMut::new();
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Ready(Ok(_)) => {}
            }
        }
        let n = out.remaining().min(this.buffered.len());
        out.put_slice(&this.buffered[..n]);
        this.buffered.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn pipelined_bytes_come_out_in_order_and_a_waiting_reader_holds_no_buffer() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = ReadBuffer::new(16, server);
        client.write_all(b"abcdefghij").await.unwrap();
        let mut four = [0u8; 4];
        reader.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"abcd");
        // The rest arrived with the first read, and waits in the buffer.
        assert_eq!(reader.buffer(), b"efghij");
        reader.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"efgh");
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ij");
        assert!(reader.holds_buffer());

        // Nothing to read: the drained buffer is let go while waiting.
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), reader.read(&mut four))
                .await;
        assert!(waiting.is_err());
        assert!(!reader.holds_buffer());

        // A read as large as the buffer goes straight through it.
        let large: Vec<u8> = (0..40).collect();
        client.write_all(&large).await.unwrap();
        let mut out = vec![0u8; 40];
        reader.read_exact(&mut out).await.unwrap();
        assert_eq!(out, large);
        assert!(!reader.holds_buffer());

        drop(client);
        assert_eq!(reader.read(&mut four).await.unwrap(), 0);
    }
}
