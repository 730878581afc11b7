//! Cold start and idle memory: from the exec of a broker to its first
//! Metadata answer on a raw socket (what a test suite or a developer waits
//! for), and its resident set one second after, idle.
//!
//! gregor is started here directly, several times: in `--dev` mode (it
//! prints its address on stdout first, so the address is read there and
//! one Metadata request sent) and in normal mode (a fresh `log.dirs`,
//! `node.id=1`, a free port, polled until it answers). The exec of
//! `gregor --version` is timed too: what starting any process costs from
//! here, so that the broker's own share can be told apart.
//!
//! Any other broker (Kafka) is started from a command line prepared by the
//! caller (`run.sh` formats its log dir first) and polled the same way.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::{mib, rss_kib};
use crate::report::median_worst;
use crate::wire;

/// How long a broker may take to answer its first Metadata request.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// One start: exec -> address printed (dev mode), exec -> first Metadata
/// answered, and the idle RSS one second later.
struct Start {
    address_ms: Option<f64>,
    metadata_ms: f64,
    rss_kib: u64,
}

/// `gregor --version`, `gregor broker --dev --port 0` and gregor in
/// normal mode, `runs` times each; one line per figure.
pub fn gregor(bin: &Path, runs: usize) -> Result<Vec<String>, String> {
    let mut lines = vec![format!(
        "{}, {runs} starts of each, exec -> first Metadata answered on a raw socket",
        bin.display()
    )];

    let mut version_ms = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        if !status.success() {
            return Err(format!("{} --version: {status}", bin.display()));
        }
        version_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let (median, worst) = median_worst(&mut version_ms);
    lines.push(format!(
        "exec of `gregor --version` alone: median {median:.2} ms, worst {worst:.2} ms"
    ));

    let mut dev = Vec::new();
    for _ in 0..runs {
        dev.push(dev_start(bin)?);
    }
    lines.push(format!("--dev --port 0: {}", summary(&mut dev)));

    let mut normal = Vec::new();
    for run in 0..runs {
        let dir = std::env::temp_dir().join(format!(
            "gregor-bench-cold-start-{}-{run}",
            std::process::id()
        ));
        let started = normal_start(bin, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        normal.push(started?);
    }
    lines.push(format!(
        "normal mode (fresh log.dirs, node.id=1): {}",
        summary(&mut normal)
    ));
    Ok(lines)
}

/// One start of `command`, polled at `address` until it answers Metadata.
pub fn exec(address: &str, command: &[String]) -> Result<String, String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "no command to start".to_string())?;
    let started = Instant::now();
    // The broker's own output goes to this process's stderr, out of the
    // figures on stdout.
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stderr()?)
        .stderr(stderr()?)
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let mut child = Running(child, None);
    let start = first_answer(&mut child, address, started, Duration::from_millis(1))?;
    Ok(format!(
        "exec -> first Metadata answered {:.0} ms | idle RSS after 1 s {:.1} MiB",
        start.metadata_ms,
        mib(start.rss_kib)
    ))
}

fn dev_start(bin: &Path) -> Result<Start, String> {
    let started = Instant::now();
    let child = Command::new(bin)
        .args(["broker", "--dev", "--port", "0"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut child = Running(child, None);
    let stdout = child
        .0
        .stdout
        .take()
        .ok_or_else(|| "no stdout".to_string())?;
    let stdout = child.1.insert(BufReader::new(stdout));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .map_err(|e| format!("reading the dev broker's address: {e}"))?;
    let address_ms = started.elapsed().as_secs_f64() * 1e3;
    // "host:port", or several of them comma-separated.
    let address = line.split(',').next().unwrap_or("").trim().to_string();
    if address.is_empty() {
        return Err("the dev broker exited before printing its address".into());
    }
    let mut socket =
        TcpStream::connect(&address).map_err(|e| format!("connecting to {address}: {e}"))?;
    wire::metadata(&mut socket, 1)?;
    let metadata_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_kib = idle_rss(&child)?;
    Ok(Start {
        address_ms: Some(address_ms),
        metadata_ms,
        rss_kib,
    })
}

fn normal_start(bin: &Path, dir: &PathBuf) -> Result<Start, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("a free port: {e}"))?
        .port();
    let listener = format!("PLAINTEXT://127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("broker")
        .args(["--override", &format!("listeners={listener}")])
        .args(["--override", &format!("advertised.listeners={listener}")])
        .args([
            "--override",
            &format!("log.dirs={}", dir.join("data").display()),
        ])
        .args(["--override", "node.id=1"])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut child = Running(child, None);
    first_answer(
        &mut child,
        &format!("127.0.0.1:{port}"),
        started,
        Duration::from_micros(200),
    )
}

/// Polls `address` every `interval` until a Metadata request is answered;
/// the time since `started`, and the idle RSS one second later.
fn first_answer(
    child: &mut Running,
    address: &str,
    started: Instant,
    interval: Duration,
) -> Result<Start, String> {
    let mut last = String::from("nothing tried");
    while started.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(format!("the broker exited ({status}) before answering"));
        }
        match TcpStream::connect(address) {
            Ok(mut socket) => match wire::metadata(&mut socket, 1) {
                Ok(()) => {
                    let metadata_ms = started.elapsed().as_secs_f64() * 1e3;
                    return Ok(Start {
                        address_ms: None,
                        metadata_ms,
                        rss_kib: idle_rss(child)?,
                    });
                }
                Err(e) => last = e,
            },
            Err(e) => last = format!("connect: {e}"),
        }
        std::thread::sleep(interval);
    }
    Err(format!(
        "no Metadata answer at {address} within {START_TIMEOUT:?} ({last})"
    ))
}

fn idle_rss(child: &Running) -> Result<u64, String> {
    std::thread::sleep(Duration::from_secs(1));
    rss_kib(child.0.id()).ok_or_else(|| "the broker exited while idle".to_string())
}

fn summary(starts: &mut [Start]) -> String {
    let mut address: Vec<f64> = starts.iter().filter_map(|s| s.address_ms).collect();
    let mut metadata: Vec<f64> = starts.iter().map(|s| s.metadata_ms).collect();
    let mut rss: Vec<f64> = starts.iter().map(|s| mib(s.rss_kib)).collect();
    let mut text = String::new();
    if !address.is_empty() {
        let (median, worst) = median_worst(&mut address);
        text += &format!("address printed median {median:.2} ms, worst {worst:.2} ms | ");
    }
    let (median, worst) = median_worst(&mut metadata);
    text += &format!("first Metadata answered median {median:.2} ms, worst {worst:.2} ms | ");
    let (median, worst) = median_worst(&mut rss);
    text + &format!("idle RSS after 1 s median {median:.1} MiB, worst {worst:.1} MiB")
}

fn stderr() -> Result<Stdio, String> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("stderr: {e}"))?;
    Ok(Stdio::from(fd))
}

/// A started broker, stopped with SIGTERM when dropped (SIGKILL if it is
/// still there 60 s later). Its stdout, if read, stays open until it has
/// stopped, so that it never writes to a closed pipe.
struct Running(Child, Option<BufReader<ChildStdout>>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
