//! gregor-bench: produce / consume throughput and end-to-end latency against
//! any Kafka-compatible bootstrap address, using rust-rdkafka (librdkafka).
//!
//! Phases:
//! 1. produce: for each `--acks` value, N messages of S bytes to a fresh
//!    one-partition topic (BaseProducer, all delivery reports awaited).
//! 2. consume: a BaseConsumer assigned from the beginning reads the first
//!    produced topic back (all N, offsets checked to be 0..N-1).
//! 3. latency: one message at a time (linger 0) carrying its send time in the
//!    payload, consumed by a BaseConsumer that is already fetching;
//!    p50/p99/max of send -> receive.
//! 4. transactions (with `--transactions N`): a transactional producer runs N
//!    transactions of `--txn-messages` messages each (begin, send, commit);
//!    throughput and p50/p99/max of commit_transaction.
//!
//! With `--machine DIR`, the machine's own limits (memcpy, page-cache
//! writes in DIR, loopback TCP, sendfile to loopback; see `machine.rs`) are
//! measured first, and the consume phase is also given as a share of
//! loopback TCP.
//!
//! With `--broker-pid`, the broker's CPU time (utime+stime from
//! /proc/<pid>/stat, in clock ticks / sysconf(_SC_CLK_TCK)) is reported for
//! each phase, also per million messages.

mod machine;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaErrorCode;

const USAGE: &str = "\
gregor-bench: produce/consume throughput and end-to-end latency (rust-rdkafka)

USAGE: gregor-bench [OPTIONS]

  --bootstrap HOST:PORT     bootstrap address            [localhost:9092]
  --messages N              messages per produce phase   [200000]
  --size BYTES              payload size                 [100]
  --acks LIST               comma-separated acks values  [1,all]
  --compression CODEC       none|gzip|snappy|lz4|zstd    [none]
  --linger-ms MS            producer linger.ms           [5]
  --latency-count N         latency samples              [2000]
  --latency-acks ACKS       acks for the latency phase   [1]
  --latency-max-secs SECS   time budget for latency      [20]
  --broker-pid PID          report the broker's CPU time per phase
  --topic-prefix NAME       prefix of the topics created [gregor-bench]
  --replication-factor N    replicas of the topics created [1]
  --skip-consume            no consume phase
  --skip-latency            no latency phase
  --machine DIR             first measure the machine's limits (memcpy, page-cache
                            writes in DIR, loopback TCP, sendfile to loopback)
  --transactions N          transactions in the transactions phase [0: none]
  --txn-messages N          messages per transaction     [100]
  -X KEY=VALUE              a librdkafka setting for every client (repeatable),
                            e.g. -X security.protocol=SSL -X ssl.ca.location=ca.pem
  --free-port               print a free 127.0.0.1 TCP port and exit
  -h, --help                this text
";

struct Args {
    bootstrap: String,
    messages: usize,
    size: usize,
    acks: Vec<String>,
    compression: String,
    linger_ms: u64,
    latency_count: usize,
    latency_acks: String,
    latency_max_secs: u64,
    broker_pid: Option<u32>,
    topic_prefix: String,
    replication_factor: i32,
    skip_consume: bool,
    skip_latency: bool,
    /// `--machine DIR`: measure the machine's limits first, writing in DIR.
    machine: Option<std::path::PathBuf>,
    transactions: usize,
    txn_messages: usize,
    /// `-X key=value`: set on every client (security, for instance).
    client_config: Vec<(String, String)>,
}

/// A client configuration for `bootstrap` with every `-X` setting.
fn client(bootstrap: &str, extra: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in extra {
        config.set(key, value);
    }
    config
}

fn parse_args() -> Args {
    let mut a = Args {
        bootstrap: "localhost:9092".into(),
        messages: 200_000,
        size: 100,
        acks: vec!["1".into(), "all".into()],
        compression: "none".into(),
        linger_ms: 5,
        latency_count: 2000,
        latency_acks: "1".into(),
        latency_max_secs: 20,
        broker_pid: None,
        topic_prefix: "gregor-bench".into(),
        replication_factor: 1,
        skip_consume: false,
        skip_latency: false,
        machine: None,
        transactions: 0,
        txn_messages: 100,
        client_config: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    fn val(it: &mut impl Iterator<Item = String>, flag: &str) -> String {
        it.next()
            .unwrap_or_else(|| die(&format!("{flag} needs a value")))
    }
    fn num<T: std::str::FromStr>(s: String, flag: &str) -> T {
        s.parse()
            .unwrap_or_else(|_| die(&format!("{flag}: not a number: {s}")))
    }
    while let Some(arg) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().unwrap_or_else(|| val(&mut it, &flag));
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = value(),
            "--messages" => a.messages = num(value(), &flag),
            "--size" => a.size = num(value(), &flag),
            "--acks" => a.acks = value().split(',').map(|s| s.trim().to_string()).collect(),
            "--compression" => a.compression = value(),
            "--linger-ms" => a.linger_ms = num(value(), &flag),
            "--latency-count" => a.latency_count = num(value(), &flag),
            "--latency-acks" => a.latency_acks = value(),
            "--latency-max-secs" => a.latency_max_secs = num(value(), &flag),
            "--broker-pid" => a.broker_pid = Some(num(value(), &flag)),
            "--topic-prefix" => a.topic_prefix = value(),
            "--replication-factor" => a.replication_factor = num(value(), &flag),
            "--skip-consume" => a.skip_consume = true,
            "--skip-latency" => a.skip_latency = true,
            "--machine" => a.machine = Some(value().into()),
            "--transactions" => a.transactions = num(value(), &flag),
            "--txn-messages" => a.txn_messages = num(value(), &flag),
            "-X" | "--client-config" => {
                let setting = value();
                match setting.split_once('=') {
                    Some((key, v)) => a.client_config.push((key.to_string(), v.to_string())),
                    None => die(&format!("{flag}: expected KEY=VALUE, got {setting}")),
                }
            }
            "--free-port" => {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                println!("{}", l.local_addr().unwrap().port());
                std::process::exit(0);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => die(&format!("unknown argument {other}")),
        }
    }
    if a.messages == 0 || a.acks.is_empty() {
        die("--messages must be > 0 and --acks non-empty");
    }
    if a.size < 16 && !a.skip_latency {
        die("--size must be >= 16 (the latency payload carries a timestamp)");
    }
    a
}

fn die(msg: &str) -> ! {
    eprintln!("gregor-bench: {msg}\n\n{USAGE}");
    std::process::exit(2)
}

// ---------------------------------------------------------------------------
// broker CPU accounting
// ---------------------------------------------------------------------------

struct CpuProbe {
    pid: u32,
    ticks_per_sec: f64,
}

impl CpuProbe {
    fn new(pid: u32) -> CpuProbe {
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let probe = CpuProbe {
            pid,
            ticks_per_sec: if t > 0 { t as f64 } else { 100.0 },
        };
        if probe.read().is_none() {
            die(&format!("cannot read /proc/{pid}/stat"));
        }
        probe
    }

    /// utime + stime of the process, in seconds.
    fn read(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = f.get(11)?.parse().ok()?;
        let stime: u64 = f.get(12)?.parse().ok()?;
        Some((utime + stime) as f64 / self.ticks_per_sec)
    }
}

/// Broker CPU seconds spent between `start()` and `end()` (None without a pid).
struct CpuSpan<'a> {
    probe: Option<&'a CpuProbe>,
    start: f64,
}

impl<'a> CpuSpan<'a> {
    fn start(probe: Option<&'a CpuProbe>) -> Self {
        let start = probe.and_then(|p| p.read()).unwrap_or(0.0);
        CpuSpan { probe, start }
    }
    fn end(&self) -> Option<f64> {
        let p = self.probe?;
        Some(p.read()? - self.start)
    }
}

fn client_cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn cpu_text(cpu: Option<f64>, msgs: usize) -> String {
    match cpu {
        None => String::new(),
        Some(s) => format!(
            " | broker CPU {:.2} s = {:.2} s per 1M msgs",
            s,
            s / msgs.max(1) as f64 * 1e6
        ),
    }
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn create_topic(a: &Args, topic: &str, replication_factor: i32) {
    let admin: AdminClient<DefaultClientContext> = client(&a.bootstrap, &a.client_config)
        .create()
        .expect("admin client");
    let nt = NewTopic::new(topic, 1, TopicReplication::Fixed(replication_factor));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    match block_on(admin.create_topics([&nt], &opts)) {
        Ok(r) => match &r[..] {
            [Ok(_)] | [Err((_, RDKafkaErrorCode::TopicAlreadyExists))] => {}
            other => die(&format!("CreateTopics {topic}: {other:?}")),
        },
        Err(e) => die(&format!("CreateTopics {topic}: {e}")),
    }
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn rate(n: usize, bytes: usize, secs: f64) -> String {
    format!(
        "{:>9.0} msgs/s {:>8.2} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    )
}

// ---------------------------------------------------------------------------
// produce
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

#[derive(Clone)]
struct CountingContext(Arc<Counts>);

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => {
                self.0.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                let mut fe = self.0.first_error.lock().unwrap();
                if fe.is_none() {
                    *fe = Some(e.to_string());
                }
            }
        }
    }
}

/// Queues one record for partition 0, polling while the queue is full.
fn send(producer: &BaseProducer<CountingContext>, topic: &str, payload: &[u8], what: &str) {
    let mut rec: BaseRecord<'_, [u8], [u8], ()> =
        BaseRecord::to(topic).partition(0).payload(payload);
    loop {
        match producer.send(rec) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => die(&format!("{what}: {e}")),
        }
    }
}

struct ProduceResult {
    secs: f64,
    broker_cpu: Option<f64>,
    client_cpu: f64,
    failed: u64,
}

fn produce_phase(a: &Args, topic: &str, acks: &str, cpu: Option<&CpuProbe>) -> ProduceResult {
    let counts = Arc::new(Counts::default());
    let producer: BaseProducer<CountingContext> = client(&a.bootstrap, &a.client_config)
        .set("enable.idempotence", "false")
        .set("acks", acks)
        .set("linger.ms", a.linger_ms.to_string())
        .set("compression.type", &a.compression)
        .set("queue.buffering.max.messages", "500000")
        .set("message.timeout.ms", "120000")
        .create_with_context(CountingContext(counts.clone()))
        .expect("producer");
    // Connect and fetch metadata before the clock starts.
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");

    // Payloads differ per message (a counter prefix) so compression is not trivial.
    let mut payload = vec![0u8; a.size];
    for (i, b) in payload.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let span = CpuSpan::start(cpu);
    let ccpu0 = client_cpu_secs();
    let t0 = Instant::now();
    for i in 0..a.messages {
        let n = (i as u64).to_le_bytes();
        let k = n.len().min(payload.len());
        payload[..k].copy_from_slice(&n[..k]);
        send(&producer, topic, &payload, "produce");
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    while counts.ok.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed)
        < a.messages as u64
    {
        producer.poll(Duration::from_millis(10));
    }
    let secs = t0.elapsed().as_secs_f64();
    let r = ProduceResult {
        secs,
        broker_cpu: span.end(),
        client_cpu: client_cpu_secs() - ccpu0,
        failed: counts.failed.load(Ordering::Relaxed),
    };
    if let Some(e) = counts.first_error.lock().unwrap().as_ref() {
        eprintln!("  first delivery error: {e}");
    }
    r
}

// ---------------------------------------------------------------------------
// consume
// ---------------------------------------------------------------------------

fn consumer(a: &Args) -> BaseConsumer {
    client(&a.bootstrap, &a.client_config)
        .set("group.id", "gregor-bench") // required by librdkafka; no group APIs are used
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer")
}

fn assign(c: &BaseConsumer, topic: &str, off: Offset) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, off).unwrap();
    c.assign(&tpl).expect("assign");
}

struct ConsumeResult {
    n: usize,
    bytes: usize,
    secs: f64,
    broker_cpu: Option<f64>,
    client_cpu: f64,
}

fn consume_phase(a: &Args, topic: &str, cpu: Option<&CpuProbe>) -> ConsumeResult {
    let c = consumer(a);
    c.fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let span = CpuSpan::start(cpu);
    let ccpu0 = client_cpu_secs();
    let t0 = Instant::now();
    assign(&c, topic, Offset::Beginning);
    let (mut n, mut bytes) = (0usize, 0usize);
    let mut last_progress = Instant::now();
    while n < a.messages {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if m.offset() != n as i64 {
                    die(&format!("consume: expected offset {n}, got {}", m.offset()));
                }
                bytes += m.payload_len();
                n += 1;
                last_progress = Instant::now();
            }
            Some(Err(e)) => die(&format!("consume error after {n} messages: {e}")),
            None => {
                if last_progress.elapsed() > Duration::from_secs(30) {
                    die(&format!(
                        "consume stalled at {n} of {} messages",
                        a.messages
                    ));
                }
            }
        }
    }
    ConsumeResult {
        n,
        bytes,
        secs: t0.elapsed().as_secs_f64(),
        broker_cpu: span.end(),
        client_cpu: client_cpu_secs() - ccpu0,
    }
}

// ---------------------------------------------------------------------------
// latency
// ---------------------------------------------------------------------------

struct LatencyResult {
    samples_us: Vec<u64>,
    secs: f64,
    broker_cpu: Option<f64>,
}

fn latency_phase(a: &Args, topic: &str, cpu: Option<&CpuProbe>) -> LatencyResult {
    let producer: BaseProducer = client(&a.bootstrap, &a.client_config)
        .set("enable.idempotence", "false")
        .set("acks", &a.latency_acks)
        .set("linger.ms", "0")
        .set("compression.type", &a.compression)
        .create()
        .expect("producer");
    let c = consumer(a);
    assign(&c, topic, Offset::Beginning);

    let origin = Instant::now();
    let mut payload = vec![0u8; a.size];
    let mut send = |seq: u64| {
        let now_ns = origin.elapsed().as_nanos() as u64;
        payload[..8].copy_from_slice(&now_ns.to_le_bytes());
        payload[8..16].copy_from_slice(&seq.to_le_bytes());
        producer
            .send(
                BaseRecord::<'_, [u8], [u8]>::to(topic)
                    .partition(0)
                    .payload(&payload[..]),
            )
            .map_err(|(e, _)| e)
            .expect("send");
        producer.poll(Duration::ZERO);
    };
    // Waits for message `seq`; returns its send -> receive latency.
    let recv = |seq: u64, budget: Duration| -> Option<u64> {
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            match c.poll(Duration::from_millis(1)) {
                Some(Ok(m)) => {
                    let p = m.payload().unwrap_or(&[]);
                    if p.len() >= 16 && u64::from_le_bytes(p[8..16].try_into().unwrap()) == seq {
                        let sent = u64::from_le_bytes(p[..8].try_into().unwrap());
                        let now = origin.elapsed().as_nanos() as u64;
                        return Some((now - sent) / 1000);
                    }
                }
                Some(Err(e)) => die(&format!("latency consumer error: {e}")),
                None => {}
            }
        }
        None
    };

    // Warm-up: the consumer is connected and fetching before measuring.
    send(u64::MAX);
    if recv(u64::MAX, Duration::from_secs(30)).is_none() {
        die("latency warm-up message not received within 30 s");
    }
    producer.flush(Duration::from_secs(10)).ok();

    let budget = Duration::from_secs(a.latency_max_secs);
    let span = CpuSpan::start(cpu);
    let t0 = Instant::now();
    let mut samples = Vec::with_capacity(a.latency_count);
    for seq in 0..a.latency_count as u64 {
        if t0.elapsed() > budget {
            eprintln!("  latency: time budget of {budget:?} reached after {seq} samples");
            break;
        }
        send(seq);
        match recv(seq, Duration::from_secs(10)) {
            Some(us) => samples.push(us),
            None => die(&format!("latency message {seq} not received within 10 s")),
        }
    }
    producer.flush(Duration::from_secs(10)).ok();
    LatencyResult {
        samples_us: samples,
        secs: t0.elapsed().as_secs_f64(),
        broker_cpu: span.end(),
    }
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// transactions
// ---------------------------------------------------------------------------

struct TxnResult {
    secs: f64,
    commits_us: Vec<u64>,
    broker_cpu: Option<f64>,
}

fn transactions_phase(a: &Args, topic: &str, cpu: Option<&CpuProbe>) -> TxnResult {
    let counts = Arc::new(Counts::default());
    let producer: BaseProducer<CountingContext> = client(&a.bootstrap, &a.client_config)
        .set("transactional.id", format!("{topic}-txn"))
        .set("linger.ms", a.linger_ms.to_string())
        .set("compression.type", &a.compression)
        .create_with_context(CountingContext(counts.clone()))
        .expect("transactional producer");
    producer
        .init_transactions(Duration::from_secs(30))
        .unwrap_or_else(|e| die(&format!("init_transactions: {e}")));
    let payload = vec![7u8; a.size];
    let mut commits_us = Vec::with_capacity(a.transactions);
    let span = CpuSpan::start(cpu);
    let t0 = Instant::now();
    for done in 0..a.transactions {
        producer
            .begin_transaction()
            .unwrap_or_else(|e| die(&format!("begin_transaction: {e}")));
        for _ in 0..a.txn_messages {
            send(&producer, topic, &payload, "transactional produce");
        }
        let commit = Instant::now();
        // Serve delivery reports here: librdkafka's own flush inside the
        // commit waits in 100 ms poll slices on a BaseProducer.
        let sent = ((done + 1) * a.txn_messages) as u64;
        while counts.ok.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed) < sent {
            producer.poll(Duration::from_millis(1));
        }
        producer
            .commit_transaction(Duration::from_secs(60))
            .unwrap_or_else(|e| die(&format!("commit_transaction: {e}")));
        commits_us.push(commit.elapsed().as_micros() as u64);
    }
    let secs = t0.elapsed().as_secs_f64();
    if counts.failed.load(Ordering::Relaxed) > 0 {
        die("transactional deliveries failed");
    }
    TxnResult {
        secs,
        commits_us,
        broker_cpu: span.end(),
    }
}

fn main() {
    let a = parse_args();
    let probe = a.broker_pid.map(CpuProbe::new);
    let cpu = probe.as_ref();
    let run = format!("{}-{}", unix_ms(), std::process::id());
    println!(
        "gregor-bench: bootstrap={} messages={} size={} B acks={} compression={} linger.ms={}{}",
        a.bootstrap,
        a.messages,
        a.size,
        a.acks.join(","),
        a.compression,
        a.linger_ms,
        a.broker_pid
            .map(|p| format!(" broker-pid={p}"))
            .unwrap_or_default()
    );

    let limits = a
        .machine
        .as_ref()
        .map(|dir| match machine::measure(dir, 1 << 30) {
            Ok(limits) => limits,
            Err(error) => die(&format!(
                "measuring the machine in {}: {error}",
                dir.display()
            )),
        });
    if let Some(limits) = &limits {
        println!("machine         : {limits}");
    }

    let mut topics = Vec::new();
    for acks in &a.acks {
        let topic = format!("{}-{}-acks{}", a.topic_prefix, run, acks.replace('-', "m"));
        create_topic(&a, &topic, a.replication_factor);
        let r = produce_phase(&a, &topic, acks, cpu);
        let ok = a.messages as u64 - r.failed;
        println!(
            "produce acks={:<4}: {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}",
            acks,
            a.messages,
            a.size,
            r.secs,
            rate(a.messages, a.messages * a.size, r.secs),
            if r.failed > 0 {
                format!(" ({} FAILED, {ok} ok)", r.failed)
            } else {
                String::new()
            },
            r.client_cpu,
            cpu_text(r.broker_cpu, a.messages),
        );
        topics.push(topic);
    }

    if !a.skip_consume {
        let r = consume_phase(&a, &topics[0], cpu);
        let of_loopback = limits
            .as_ref()
            .map(|l| {
                format!(
                    " ({:.2} of loopback TCP)",
                    r.bytes as f64 / 1e6 / r.secs / l.loopback_mb_s
                )
            })
            .unwrap_or_default();
        println!(
            "consume         : {} msgs x {} B in {:>7.3} s = {}{} | client CPU {:.2} s{}",
            r.n,
            a.size,
            r.secs,
            rate(r.n, r.bytes, r.secs),
            of_loopback,
            r.client_cpu,
            cpu_text(r.broker_cpu, r.n),
        );
    }

    if !a.skip_latency {
        let topic = format!("{}-{}-latency", a.topic_prefix, run);
        create_topic(&a, &topic, a.replication_factor);
        let r = latency_phase(&a, &topic, cpu);
        let mut s = r.samples_us.clone();
        s.sort_unstable();
        let mean = if s.is_empty() {
            0
        } else {
            s.iter().sum::<u64>() / s.len() as u64
        };
        println!(
            "latency acks={:<4}: {} round trips in {:.3} s: p50 {}  p99 {}  max {}  (min {}, mean {}){}",
            a.latency_acks,
            s.len(),
            r.secs,
            ms(pct(&s, 50.0)),
            ms(pct(&s, 99.0)),
            ms(s.last().copied().unwrap_or(0)),
            ms(s.first().copied().unwrap_or(0)),
            ms(mean),
            cpu_text(r.broker_cpu, s.len()),
        );
    }

    if a.transactions > 0 {
        let topic = format!("{}-{}-txn", a.topic_prefix, run);
        create_topic(&a, &topic, a.replication_factor);
        let r = transactions_phase(&a, &topic, cpu);
        let mut s = r.commits_us.clone();
        s.sort_unstable();
        let messages = a.transactions * a.txn_messages;
        println!(
            "transactions    : {} x {} msgs in {:.3} s = {:.0} txn/s, {} | commit p50 {}  p99 {}  max {}{}",
            a.transactions,
            a.txn_messages,
            r.secs,
            a.transactions as f64 / r.secs,
            rate(messages, messages * a.size, r.secs),
            ms(pct(&s, 50.0)),
            ms(pct(&s, 99.0)),
            ms(s.last().copied().unwrap_or(0)),
            cpu_text(r.broker_cpu, messages),
        );
    }
}
