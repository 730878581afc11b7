//! Shared harness for the rust-rdkafka compatibility tests.
//!
//! * [`Broker`] starts the gregor binary (`$GREGOR_BIN`, default
//!   `<repo>/target/debug/gregor`) on a free loopback port with its own
//!   temporary `log.dirs`, waits until the port accepts connections, and
//!   SIGKILLs it on drop. stdout/stderr go to a log file next to the data dir;
//!   when a test panics while a broker is alive, the log tail is printed.
//! * Client builders (producer / consumer / admin) with the settings gregor
//!   supports: no idempotence, no consumer groups (assign + explicit offsets).
//! * Record generation / comparison helpers.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::Timestamp;

pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for any consume loop; a hung broker fails the test instead of hanging it.
pub const CONSUME_TIMEOUT: Duration = Duration::from_secs(30);
pub const OP_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// broker process
// ---------------------------------------------------------------------------

pub fn gregor_bin() -> PathBuf {
    match std::env::var_os("GREGOR_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/gregor"),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

fn port_accepts(port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// One gregor broker process, restartable on the same port and data dir.
pub struct Broker {
    pub port: u16,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    overrides: Vec<(String, String)>,
    child: Option<Child>,
    starts: usize,
    _tmp: tempfile::TempDir,
}

impl Broker {
    /// Starts a broker with the default configuration.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with extra `--override key=value` settings.
    pub fn start_with(overrides: &[(&str, &str)]) -> Broker {
        let tmp = tempfile::Builder::new()
            .prefix("gregor-rs-")
            .tempdir()
            .expect("create temp dir");
        let data_dir = tmp.path().join("data");
        std::fs::create_dir(&data_dir).unwrap();
        let mut b = Broker {
            port: free_port(),
            log_path: tmp.path().join("gregor.log"),
            data_dir,
            overrides: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            starts: 0,
            _tmp: tmp,
        };
        b.spawn();
        b
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn command(&self) -> Command {
        let listener = format!("PLAINTEXT://127.0.0.1:{}", self.port);
        let mut settings = vec![
            ("listeners".to_string(), listener.clone()),
            ("advertised.listeners".to_string(), listener),
            ("log.dirs".to_string(), self.data_dir.display().to_string()),
            ("node.id".to_string(), "1".to_string()),
        ];
        settings.extend(self.overrides.iter().cloned());
        let mut cmd = Command::new(gregor_bin());
        cmd.arg("broker");
        for (k, v) in settings {
            cmd.arg("--override").arg(format!("{k}={v}"));
        }
        cmd
    }

    /// Spawns the process and waits until the port accepts connections.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let bin = gregor_bin();
        assert!(
            bin.is_file(),
            "gregor binary not found at {} (build it, or set GREGOR_BIN)",
            bin.display()
        );
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut cmd = self.command();
        writeln!(log, "\n===== start #{}: {:?}", self.starts, cmd).unwrap();
        let log_err: File = log.try_clone().unwrap();
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // Safety net: if the test process dies without running Drop, the
        // broker gets SIGKILL too (PDEATHSIG fires when the spawning thread
        // exits, and each test thread owns its broker until it finishes).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                panic!(
                    "broker exited with {status} during startup\n{}",
                    self.log_tail(60)
                );
            }
            if port_accepts(self.port) {
                return;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "broker port {} not accepting after {:?}\n{}",
                    self.port,
                    READY_TIMEOUT,
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (simulated crash). Returns once the process is reaped.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit code.
    /// Panics (after SIGKILL) if the broker does not exit within STOP_TIMEOUT.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "broker did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// CPU seconds (utime + stime, all threads) the running broker has used.
    pub fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Some(ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 })
    }

    /// Starts the broker again on the same port and data dir.
    pub fn restart(&mut self) {
        self.spawn();
    }

    pub fn log_tail(&self, lines: usize) -> String {
        match std::fs::read(&self.log_path) {
            Ok(data) => {
                let text = String::from_utf8_lossy(&data);
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("(no log at {}: {e})", self.log_path.display()),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- gregor log tail ({}) -----\n{}\n----- end of gregor log -----",
                self.log_path.display(),
                self.log_tail(80)
            );
            if std::env::var_os("GREGOR_KEEP_DATA").is_some() {
                let kept = self._tmp.path().to_path_buf();
                eprintln!("keeping {}", kept.display());
                std::mem::forget(std::mem::replace(
                    &mut self._tmp,
                    tempfile::tempdir().unwrap(),
                ));
            }
        }
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// misc
// ---------------------------------------------------------------------------

static TOPIC_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A topic name unique within this test process.
pub fn unique_topic(prefix: &str) -> String {
    let n = TOPIC_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Runs a future to completion on a fresh current-thread runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Small deterministic PRNG (xorshift64*), so runs are reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// records
// ---------------------------------------------------------------------------

/// One record as produced and as expected back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// CreateTime in ms.
    pub timestamp: i64,
}

/// Deterministic, varied records: null/empty/binary keys and values, no /
/// one / several / duplicate-key / null-valued headers, and (when `big_every`
/// is non-zero) a 100 KiB value every `big_every` records.
pub fn make_records(n: usize, base_ts: i64, seed: u64, big_every: usize) -> Vec<Rec> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let key = match i % 7 {
                3 => None,
                5 => Some(Vec::new()),
                6 => {
                    let len = 1 + rng.below(40) as usize;
                    Some(rng.bytes(len))
                }
                _ => Some(format!("key-{i}").into_bytes()),
            };
            let value = if big_every != 0 && i % big_every == big_every - 1 {
                Some(rng.bytes(100 * 1024))
            } else {
                match i % 11 {
                    4 => None,
                    6 => Some(Vec::new()),
                    _ => {
                        let mut v = format!("value-{i}-").into_bytes();
                        let extra = rng.below(300) as usize;
                        v.extend(rng.bytes(extra));
                        Some(v)
                    }
                }
            };
            let headers = match i % 4 {
                0 => vec![],
                1 => vec![("h1".to_string(), Some(format!("v{i}").into_bytes()))],
                2 => vec![
                    ("a".to_string(), Some(rng.bytes(10))),
                    ("nul".to_string(), None),
                    ("empty".to_string(), Some(Vec::new())),
                    ("a".to_string(), Some(b"dup-key".to_vec())),
                ],
                _ => vec![("ünï-çødé".to_string(), Some(vec![0, 255, 1, 254]))],
            };
            Rec {
                key,
                value,
                headers,
                timestamp: base_ts + i as i64 * 3,
            }
        })
        .collect()
}

fn owned_headers(h: &[(String, Option<Vec<u8>>)]) -> OwnedHeaders {
    let mut out = OwnedHeaders::new_with_capacity(h.len());
    for (k, v) in h {
        out = out.insert(Header {
            key: k.as_str(),
            value: v.as_deref(),
        });
    }
    out
}

/// A consumed record with its coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Timestamp,
    pub rec: Rec,
}

pub fn got_from<M: Message>(m: &M) -> Got
where
    M::Headers: Headers,
{
    let headers = match m.headers() {
        None => vec![],
        Some(h) => h
            .iter()
            .map(|h| (h.key.to_string(), h.value.map(|v| v.to_vec())))
            .collect(),
    };
    Got {
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp(),
        rec: Rec {
            key: m.key().map(|k| k.to_vec()),
            value: m.payload().map(|v| v.to_vec()),
            headers,
            timestamp: m.timestamp().to_millis().unwrap_or(-1),
        },
    }
}

/// Asserts that `got` are exactly `expected`, at offsets `first_offset..`,
/// with CreateTime timestamps.
pub fn assert_records(got: &[Got], expected: &[Rec], first_offset: i64) {
    assert_eq!(
        got.len(),
        expected.len(),
        "record count: got offsets {:?}",
        got.iter().map(|g| g.offset).collect::<Vec<_>>()
    );
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let want_off = first_offset + i as i64;
        assert_eq!(g.offset, want_off, "offset of record #{i}");
        assert_eq!(
            g.timestamp,
            Timestamp::CreateTime(e.timestamp),
            "timestamp (type and value) at offset {want_off}"
        );
        assert_eq!(g.rec.key, e.key, "key at offset {want_off}");
        assert!(
            g.rec.value == e.value,
            "value at offset {want_off} differs: got {:?} bytes, expected {:?} bytes",
            g.rec.value.as_ref().map(|v| v.len()),
            e.value.as_ref().map(|v| v.len())
        );
        assert_eq!(g.rec.headers, e.headers, "headers at offset {want_off}");
    }
}

// ---------------------------------------------------------------------------
// clients
// ---------------------------------------------------------------------------

pub fn producer_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "false")
        .set("message.timeout.ms", "30000")
        .set("socket.timeout.ms", "10000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c
}

pub fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    producer_config(bootstrap, extra)
        .create()
        .expect("create producer")
}

/// Produces `records` to `topic`/`partition` (all enqueued before any is
/// awaited, so they batch), flushes, and returns each record's delivery
/// result as (partition, offset). Panics on any delivery error.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    records: &[Rec],
    extra: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    let p = producer(bootstrap, extra);
    produce_with(&p, topic, partition, records)
}

pub fn produce_with(
    p: &FutureProducer,
    topic: &str,
    partition: i32,
    records: &[Rec],
) -> Vec<(i32, i64)> {
    let mut futs = Vec::with_capacity(records.len());
    for r in records {
        let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(partition)
            .timestamp(r.timestamp);
        if let Some(k) = &r.key {
            fr = fr.key(k.as_slice());
        }
        if let Some(v) = &r.value {
            fr = fr.payload(v.as_slice());
        }
        if !r.headers.is_empty() {
            fr = fr.headers(owned_headers(&r.headers));
        }
        match p.send_result(fr) {
            Ok(f) => futs.push(f),
            Err((e, _)) => panic!("enqueue failed: {e}"),
        }
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    block_on(async {
        let mut out = Vec::with_capacity(futs.len());
        for (i, f) in futs.into_iter().enumerate() {
            match f.await.expect("delivery future cancelled") {
                Ok(d) => out.push((d.partition, d.offset)),
                Err((e, _)) => panic!("delivery of record #{i} failed: {e}"),
            }
        }
        out
    })
}

pub fn consumer_config(bootstrap: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        // rdkafka's consumer wants a group.id; no group API is ever used
        // (assign() with explicit offsets, no commits).
        .set("group.id", "gregor-compat-rust")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("check.crcs", "true")
        .set("socket.timeout.ms", "10000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c
}

pub fn consumer(bootstrap: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    consumer_config(bootstrap, extra)
        .create()
        .expect("create consumer")
}

pub fn assign(c: &BaseConsumer, topic: &str, partition: i32, offset: Offset) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, offset).unwrap();
    c.assign(&tpl).expect("assign");
}

/// Polls until `n` records arrived (panicking on any consumer error or after
/// CONSUME_TIMEOUT), then keeps polling for `settle` to make sure nothing
/// else arrives.
pub fn poll_n(c: &BaseConsumer, n: usize, settle: Duration) -> Vec<Got> {
    let mut out = Vec::with_capacity(n);
    let deadline = Instant::now() + CONSUME_TIMEOUT;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "timed out after {:?} with {} of {} records (last offset {:?})",
            CONSUME_TIMEOUT,
            out.len(),
            n,
            out.last().map(|g: &Got| g.offset)
        );
        match c.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => out.push(got_from(&m)),
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => panic!("consumer error after {} records: {e:?}", out.len()),
        }
    }
    let until = Instant::now() + settle;
    while Instant::now() < until {
        match c.poll(Duration::from_millis(50)) {
            None | Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Ok(m)) => panic!(
                "unexpected extra record at offset {} after the expected {n}",
                m.offset()
            ),
            Some(Err(e)) => panic!("consumer error after all records: {e:?}"),
        }
    }
    out
}

/// Assigns `topic`/`partition` at `offset` on a fresh consumer and reads `n` records.
pub fn consume(bootstrap: &str, topic: &str, partition: i32, offset: Offset, n: usize) -> Vec<Got> {
    let c = consumer(bootstrap, &[]);
    assign(&c, topic, partition, offset);
    poll_n(&c, n, Duration::from_millis(300))
}

pub fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c.create().expect("create admin client")
}

pub fn admin_opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(OP_TIMEOUT))
}

/// Creates a topic with `partitions` partitions (replication 1) and checks success.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let a = admin(bootstrap);
    let nt = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let res = block_on(a.create_topics([&nt], &admin_opts())).expect("CreateTopics request");
    assert_eq!(res, vec![Ok(topic.to_string())], "CreateTopics result");
}

/// Error code carried by a KafkaError, if any.
pub fn error_code(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    e.rdkafka_error_code()
}
