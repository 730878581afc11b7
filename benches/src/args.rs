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
  --skip-produce            no produce phase (and so no consume phase)
  -X KEY=VALUE              a librdkafka setting for every client (repeatable),
                            e.g. -X security.protocol=SSL -X ssl.ca.location=ca.pem

Further phases, each off unless asked for:
  --per-request N           broker CPU per Produce request: N one-record requests
                            (acks=all, counted by librdkafka's statistics), alone
                            and with a consumer tailing the partition  [0: none]
  --paced RATE@LINGER[,…]   end-to-end latency at a fixed rate: RATE msg/s paced
                            one by one, linger.ms LINGER, acks=all, a consumer
                            tailing; e.g. 2000@0,10000@5           [none]
  --paced-secs SECS         length of each paced run                [10]
  --paced-rounds N          runs of each paced rate                 [1]
  --scale-partitions LIST   create a topic of each partition count: time until
                            every partition has a leader, the brokers' RSS and
                            descriptors before and after; then produce over the
                            largest and over one partition (CPU per GB)  [none]
  --scale-messages N        records of --size for that produce      [200000]
  --scale-timeout-secs SECS how long one topic's creation may take  [300]
  --idle-connections LIST   open this many raw connections (ApiVersions, then
                            idle), cumulative: RSS and descriptors at each [none]
  --compare-rf N            run produce acks=all (--messages), --per-request
                            (alone) and each --paced rate (one round) on topics
                            of --replication-factor, then of N replicas, and
                            print the ratios; these phases then run only there [none]

Standalone modes (no other phase runs):
  --cold-start BIN          exec -> first Metadata answered (raw socket) and idle
                            RSS 1 s later, of `BIN broker --dev --port 0` and of BIN
                            in normal mode (fresh log.dirs, node.id=1, a free port)
  --cold-start-runs N       starts of each                          [10]
  --cold-start-exec HOST:PORT -- CMD [ARG…]
                            one exec of CMD -> first Metadata answered at HOST:PORT,
                            idle RSS 1 s later; CMD is stopped with SIGTERM after
  --cold-start-label NAME   the name --cold-start-exec prints       [broker]
  --warmup                  produce and consume only, whatever else is asked
                            (run.sh's warm-up before a measured run)
  --free-port               print a free 127.0.0.1 TCP port and exit
  -h, --help                this text
";

/// One `--paced` rate.
#[derive(Clone, Copy)]
pub struct PacedRate {
    pub rate: u32,
    pub linger_ms: u64,
}

/// What the standalone cold-start mode starts.
pub enum ColdStart {
    /// `--cold-start BIN`: gregor in dev and in normal mode.
    Gregor(PathBuf),
    /// `--cold-start-exec HOST:PORT -- CMD…`.
    Exec {
        address: String,
        command: Vec<String>,
    },
}

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
    pub skip_produce: bool,
    pub per_request: usize,
    pub paced: Vec<PacedRate>,
    pub paced_secs: f64,
    pub paced_rounds: usize,
    pub scale_partitions: Vec<i32>,
    pub scale_messages: usize,
    pub scale_timeout_secs: u64,
    pub idle_connections: Vec<usize>,
    pub compare_rf: Option<i32>,
    pub cold_start: Option<ColdStart>,
    pub cold_start_runs: usize,
    pub cold_start_label: String,
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
        skip_produce: false,
        per_request: 0,
        paced: Vec::new(),
        paced_secs: 10.0,
        paced_rounds: 1,
        scale_partitions: Vec::new(),
        scale_messages: 200_000,
        scale_timeout_secs: 300,
        idle_connections: Vec::new(),
        compare_rf: None,
        cold_start: None,
        cold_start_runs: 10,
        cold_start_label: "broker".into(),
    };
    let mut warmup = false;
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
            "--skip-produce" => a.skip_produce = true,
            "--warmup" => warmup = true,
            "--per-request" => a.per_request = num(value(), &flag),
            "--paced" => a.paced = list(value()).into_iter().map(paced_rate).collect(),
            "--paced-secs" => a.paced_secs = num(value(), &flag),
            "--paced-rounds" => a.paced_rounds = num(value(), &flag),
            "--scale-partitions" => {
                a.scale_partitions = list(value()).into_iter().map(|p| num(p, &flag)).collect()
            }
            "--scale-messages" => a.scale_messages = num(value(), &flag),
            "--scale-timeout-secs" => a.scale_timeout_secs = num(value(), &flag),
            "--idle-connections" => {
                a.idle_connections = list(value()).into_iter().map(|n| num(n, &flag)).collect()
            }
            "--compare-rf" => a.compare_rf = Some(num(value(), &flag)),
            "--cold-start" => a.cold_start = Some(ColdStart::Gregor(value().into())),
            "--cold-start-runs" => a.cold_start_runs = num(value(), &flag),
            "--cold-start-label" => a.cold_start_label = value(),
            "--cold-start-exec" => {
                let address = value();
                if it.next().as_deref() != Some("--") {
                    die("--cold-start-exec HOST:PORT must be followed by -- and the command");
                }
                let command: Vec<String> = it.by_ref().collect();
                if command.is_empty() {
                    die("--cold-start-exec: no command after --");
                }
                a.cold_start = Some(ColdStart::Exec { address, command });
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
    if warmup {
        a = Args {
            skip_produce: false,
            skip_latency: true,
            machine: None,
            transactions: 0,
            per_request: 0,
            paced: Vec::new(),
            scale_partitions: Vec::new(),
            idle_connections: Vec::new(),
            compare_rf: None,
            cold_start: None,
            ..a
        };
    }
    if a.paced_secs <= 0.0 || a.paced_rounds == 0 || a.cold_start_runs == 0 {
        die("--paced-secs, --paced-rounds and --cold-start-runs must be > 0");
    }
    if a.messages == 0 || a.acks.is_empty() {
        die("--messages must be > 0 and --acks non-empty");
    }
    if a.size < 16 && (!a.skip_latency || !a.paced.is_empty()) {
        die("--size must be >= 16 (the latency payload carries a timestamp)");
    }
    a
}

fn num<T: std::str::FromStr>(s: String, flag: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| die(&format!("{flag}: not a number: {s}")))
}

/// `RATE@LINGER`, e.g. `10000@5`.
fn paced_rate(s: String) -> PacedRate {
    match s.split_once('@') {
        Some((rate, linger)) => {
            let paced = PacedRate {
                rate: num(rate.to_string(), "--paced"),
                linger_ms: num(linger.to_string(), "--paced"),
            };
            if paced.rate == 0 {
                die("--paced: a rate must be > 0");
            }
            paced
        }
        None => die(&format!("--paced: expected RATE@LINGER_MS, got {s}")),
    }
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
