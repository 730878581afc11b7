//! The machine's own limits, measured in the same run as the brokers: what
//! no broker on this machine can beat, so that each broker figure can be
//! read as a share of it. Each is timed over `bytes` bytes:
//!
//! - memcpy between two 64 MiB buffers;
//! - writes of 1 MiB to a file in `dir` (the page cache; the file is
//!   deleted after);
//! - loopback TCP: one thread writes 1 MiB buffers, another reads them,
//!   with each side's CPU (a broker answering a consumer pays at least the
//!   sender's);
//! - `sendfile` of that file to a loopback socket, the least CPU a broker
//!   can serve page-cached records to a consumer with.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

const CHUNK: usize = 1 << 20;

pub struct Limits {
    pub memcpy_gb_s: f64,
    pub page_cache_write_mb_s: f64,
    pub loopback_mb_s: f64,
    pub loopback_sender_cpu_s_per_gb: f64,
    pub loopback_receiver_cpu_s_per_gb: f64,
    pub sendfile_mb_s: f64,
    pub sendfile_sender_cpu_s_per_gb: f64,
}

impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memcpy {:.1} GB/s | page-cache write {:.0} MB/s | loopback TCP {:.0} MB/s \
             (sender CPU {:.3} s/GB, receiver {:.3} s/GB) | sendfile to loopback {:.0} MB/s \
             (sender CPU {:.3} s/GB)",
            self.memcpy_gb_s,
            self.page_cache_write_mb_s,
            self.loopback_mb_s,
            self.loopback_sender_cpu_s_per_gb,
            self.loopback_receiver_cpu_s_per_gb,
            self.sendfile_mb_s,
            self.sendfile_sender_cpu_s_per_gb,
        )
    }
}

/// CPU seconds (user + system) of the calling thread so far.
fn thread_cpu() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage to fill.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

pub fn measure(dir: &Path, bytes: usize) -> std::io::Result<Limits> {
    let bytes = bytes.max(CHUNK);
    let gb = bytes as f64 / 1e9;
    let mb = bytes as f64 / 1e6;

    let source = vec![7u8; 64 << 20];
    let mut target = vec![0u8; 64 << 20];
    let started = Instant::now();
    let mut copied = 0;
    while copied < bytes {
        target.copy_from_slice(&source);
        std::hint::black_box(&mut target);
        copied += source.len();
    }
    let memcpy_gb_s = copied as f64 / 1e9 / started.elapsed().as_secs_f64();

    let path = dir.join("gregor-bench-machine.bin");
    let chunk = vec![5u8; CHUNK];
    let started = Instant::now();
    let mut file = File::create(&path)?;
    for _ in 0..bytes / CHUNK {
        file.write_all(&chunk)?;
    }
    let page_cache_write_mb_s = mb / started.elapsed().as_secs_f64();
    drop(file);

    // Loopback TCP, written from memory.
    let (loopback_secs, sender_cpu, receiver_cpu) = over_loopback(bytes, |socket| {
        for _ in 0..bytes / CHUNK {
            socket.write_all(&chunk)?;
        }
        Ok(())
    })?;

    // The same through sendfile, from the (page-cached) file.
    let file = File::open(&path)?;
    let (sendfile_secs, sendfile_cpu, _) = over_loopback(bytes, |socket| {
        let mut offset: libc::off_t = 0;
        let total = (bytes / CHUNK * CHUNK) as libc::off_t;
        while offset < total {
            let left = (total - offset) as usize;
            // SAFETY: both descriptors are open; `offset` is valid.
            let sent =
                unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut offset, left) };
            if sent <= 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    })?;
    std::fs::remove_file(&path)?;

    Ok(Limits {
        memcpy_gb_s,
        page_cache_write_mb_s,
        loopback_mb_s: mb / loopback_secs,
        loopback_sender_cpu_s_per_gb: sender_cpu / gb,
        loopback_receiver_cpu_s_per_gb: receiver_cpu / gb,
        sendfile_mb_s: mb / sendfile_secs,
        sendfile_sender_cpu_s_per_gb: sendfile_cpu / gb,
    })
}

/// Runs `send` on a loopback connection whose other end reads everything:
/// seconds, the sender's CPU and the receiver's CPU.
fn over_loopback(
    bytes: usize,
    send: impl FnOnce(&mut TcpStream) -> std::io::Result<()>,
) -> std::io::Result<(f64, f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> std::io::Result<f64> {
        let (mut socket, _) = listener.accept()?;
        let started = thread_cpu();
        let mut buffer = vec![0u8; CHUNK];
        let mut received = 0;
        while received < bytes / CHUNK * CHUNK {
            match socket.read(&mut buffer)? {
                0 => break,
                n => received += n,
            }
        }
        Ok(thread_cpu() - started)
    });
    let mut socket = TcpStream::connect(address)?;
    socket.set_nodelay(true)?;
    let started = Instant::now();
    let cpu = thread_cpu();
    send(&mut socket)?;
    let sender_cpu = thread_cpu() - cpu;
    drop(socket);
    let receiver_cpu = receiver
        .join()
        .map_err(|_| std::io::Error::other("the receiving thread panicked"))??;
    Ok((started.elapsed().as_secs_f64(), sender_cpu, receiver_cpu))
}
