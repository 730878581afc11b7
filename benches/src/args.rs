//! The command line: every option and its default, in one place.

use std::path::PathBuf;

pub const USAGE: &str = "\
gregor-bench: produce/consume throughput and end-to-end latency (rust-rdkafka)

USAGE: gregor-bench [OPTIONS]

  --bootstrap HOST:PORT[,…] bootstrap address(es)        [localhost:9092]
  --messages N              messages per produce phase   [200000]
  --size BYTES              payload size                 [100]
  --acks LIST               comma-separated acks values  [1,all]
  --compression CODEC       none|gzip|snappy|lz4|zstd    [none]
  --linger-ms MS            producer linger.ms           [5]
  --latency-count N         latency samples              [2000]
  --latency-acks ACKS       acks for the latency phase   [1]
  --latency-max-secs SECS   time budget for latency      [20]
  --broker-pid PID[,PID…]   report the brokers' CPU time per phase (summed)
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

pub struct Args {
    pub bootstrap: String,
    pub messages: usize,
    pub size: usize,
    pub acks: Vec<String>,
    pub compression: String,
    pub linger_ms: u64,
    pub latency_count: usize,
    pub latency_acks: String,
    pub latency_max_secs: u64,
    pub broker_pids: Vec<u32>,
    pub topic_prefix: String,
    pub replication_factor: i32,
    pub skip_consume: bool,
    pub skip_latency: bool,
    /// `--machine DIR`: measure the machine's limits first, writing in DIR.
    pub machine: Option<PathBuf>,
    pub transactions: usize,
    pub txn_messages: usize,
    /// `-X key=value`: set on every client (security, for instance).
    pub client_config: Vec<(String, String)>,
}

pub fn parse() -> Args {
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
        broker_pids: Vec::new(),
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
            "--acks" => a.acks = list(value()),
            "--compression" => a.compression = value(),
            "--linger-ms" => a.linger_ms = num(value(), &flag),
            "--latency-count" => a.latency_count = num(value(), &flag),
            "--latency-acks" => a.latency_acks = value(),
            "--latency-max-secs" => a.latency_max_secs = num(value(), &flag),
            "--broker-pid" => {
                a.broker_pids = list(value()).into_iter().map(|p| num(p, &flag)).collect()
            }
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
                match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
                    Ok(address) => println!("{}", address.port()),
                    Err(e) => die(&format!("--free-port: {e}")),
                }
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

fn num<T: std::str::FromStr>(s: String, flag: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| die(&format!("{flag}: not a number: {s}")))
}

fn list(s: String) -> Vec<String> {
    s.split(',')
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// A wrong command line: the reason and the usage, exit status 2.
pub fn die(msg: &str) -> ! {
    eprintln!("gregor-bench: {msg}\n\n{USAGE}");
    std::process::exit(2)
}

/// A phase that cannot go on: the reason, exit status 1.
pub fn fail(msg: &str) -> ! {
    eprintln!("gregor-bench: {msg}");
    std::process::exit(1)
}
