//! A cluster of real gregor processes for the integration tests that need
//! more than one broker: each node a voter and a broker, on loopback ports.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gregor::client::Connection;

pub struct Node {
    child: Child,
    pub port: u16,
    pub controller_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `size` nodes, started at once (they elect a leader among themselves).
pub fn cluster(size: usize) -> Vec<Node> {
    let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
    let voters = ports
        .iter()
        .enumerate()
        .map(|(i, (_, controller))| format!("{}@127.0.0.1:{controller}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    ports
        .iter()
        .enumerate()
        .map(|(i, (port, controller))| {
            let dir = tempfile::tempdir().unwrap();
            let overrides = [
                format!("node.id={}", i + 1),
                "process.roles=broker,controller".to_string(),
                format!(
                    "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
                ),
                format!("advertised.listeners=PLAINTEXT://127.0.0.1:{port}"),
                "controller.listener.names=CONTROLLER".to_string(),
                format!("controller.quorum.voters={voters}"),
                format!("log.dirs={}", dir.path().display()),
            ];
            let mut command = Command::new(env!("CARGO_BIN_EXE_gregor"));
            command.arg("broker");
            for o in &overrides {
                command.arg("--override").arg(o);
            }
            let child = command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            Node {
                child,
                port: *port,
                controller_port: *controller,
                _dir: dir,
            }
        })
        .collect()
}

/// A client connection, once the node listens.
pub async fn connect(port: u16) -> Connection {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Connection::connect(&format!("127.0.0.1:{port}"), "leader-hints").await {
            Ok(connection) => return connection,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("broker on {port} never came up: {error}"),
        }
    }
}
