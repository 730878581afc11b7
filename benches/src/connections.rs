//! Scale in connections: what an idle client connection costs a broker.
//! Raw TCP connections each send one ApiVersions request (as every client
//! does first, so the broker has set the connection up) and then stay
//! open, idle; the brokers' resident set and descriptors are read one
//! second after each step. The harness raises its own descriptor limit to
//! the hard limit first, so that a thousand sockets fit.

use std::net::TcpStream;
use std::time::Duration;

use crate::partitions::{growth, Footprint};
use crate::procs::Brokers;
use crate::wire;

pub struct Step {
    pub connections: usize,
    pub footprint: Option<Footprint>,
}

pub struct Idle {
    /// Before the first connection, then after each step.
    pub baseline: Option<Footprint>,
    pub steps: Vec<Step>,
    /// Why fewer connections were opened than asked, if so.
    pub stopped: Option<String>,
    /// Connections the broker had closed by the end.
    pub closed_by_broker: usize,
    pub nofile_limit: u64,
}

impl Idle {
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .steps
            .iter()
            .map(|step| match (self.baseline, step.footprint) {
                (Some(before), Some(after)) => format!(
                    "{} idle connections: {}",
                    step.connections,
                    growth(before, after, step.connections, "connection")
                ),
                _ => format!("{} idle connections open", step.connections),
            })
            .collect();
        if let Some(reason) = &self.stopped {
            lines.push(format!("stopped early: {reason}"));
        }
        lines.push(format!(
            "{} closed by the broker by the end; this process's descriptor limit {}",
            self.closed_by_broker, self.nofile_limit
        ));
        lines
    }
}

/// Opens connections to `address` up to each of `steps` (cumulative).
pub fn hold(address: &str, steps: &[usize], brokers: Option<&Brokers>) -> Idle {
    let nofile_limit = raise_nofile_limit();
    let baseline = brokers.and_then(Footprint::of);
    let mut open: Vec<TcpStream> = Vec::new();
    let mut idle = Idle {
        baseline,
        steps: Vec::new(),
        stopped: None,
        closed_by_broker: 0,
        nofile_limit,
    };
    'steps: for &target in steps {
        while open.len() < target {
            match connect(address, open.len() as i32) {
                Ok(socket) => open.push(socket),
                Err(e) => {
                    idle.stopped = Some(format!("connection {}: {e}", open.len() + 1));
                    break 'steps;
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
        idle.steps.push(Step {
            connections: open.len(),
            footprint: brokers.and_then(Footprint::of),
        });
    }
    if idle.stopped.is_some() && !open.is_empty() {
        std::thread::sleep(Duration::from_secs(1));
        idle.steps.push(Step {
            connections: open.len(),
            footprint: brokers.and_then(Footprint::of),
        });
    }
    idle.closed_by_broker = open.iter().filter(|socket| closed(socket)).count();
    idle
}

fn connect(address: &str, correlation_id: i32) -> Result<TcpStream, String> {
    let mut socket = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    wire::api_versions(&mut socket, correlation_id)?;
    Ok(socket)
}

/// Whether the peer has closed `socket` (a read would see the end).
fn closed(socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    if socket.set_nonblocking(true).is_err() {
        return false;
    }
    match socket.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; the limit
/// in force after.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill, then to pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}
