//! What replication costs on one machine: the same workload on topics of
//! two replication factors (the cluster's 3, where acks=all waits for both
//! followers, against 1) on the same brokers, and the ratios. The brokers'
//! CPU is summed over every broker process, so the followers' fetching
//! and appending is counted.
//!
//! The workload: produce acks=all as fast as the producer batches
//! (throughput, CPU per million records), one record per Produce request
//! (CPU per request, `per_request.rs`), and each paced rate (`paced.rs`:
//! latency at a fixed rate).

use crate::args::PacedRate;
use crate::clients::Cluster;
use crate::paced::{self, Paced};
use crate::per_request::{self, PerRequest};
use crate::procs::Brokers;
use crate::report::cpu_text;
use crate::throughput::{self, Produce};

pub struct Workload {
    pub messages: usize,
    pub size: usize,
    pub linger_ms: u64,
    /// Records of the per-request part (0: none).
    pub per_request: usize,
    pub paced: Vec<PacedRate>,
    pub paced_secs: f64,
}

/// One replication factor's figures (None where a part failed or was not run).
#[derive(Default)]
struct Figures {
    msgs_per_sec: Option<f64>,
    cpu_per_million: Option<f64>,
    cpu_us_per_request: Option<f64>,
    /// p99 of each paced rate.
    paced_p99_us: Vec<Option<f64>>,
}

/// Runs `workload` at each of `factors` (topics named after `prefix`);
/// the lines to print.
pub fn compare(
    cluster: &Cluster,
    prefix: &str,
    factors: [i32; 2],
    workload: &Workload,
    brokers: Option<&Brokers>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut figures = Vec::new();
    for (i, factor) in factors.into_iter().enumerate() {
        let mut line = |text: String| lines.push(format!("rf {factor}: {text}"));
        let mut f = Figures::default();
        let topic = |part: &str| format!("{prefix}-{i}-rf{factor}-{part}");
        let create = |topic: &str| {
            cluster.create_topic(topic, 1, factor, std::time::Duration::from_secs(60))
        };

        let how = Produce {
            messages: workload.messages,
            size: workload.size,
            acks: "all",
            linger_ms: workload.linger_ms,
            compression: "none",
            partitions: 1,
        };
        let produce_topic = topic("produce");
        match create(&produce_topic)
            .and_then(|()| throughput::produce(cluster, &produce_topic, &how, brokers))
        {
            Ok(r) => {
                f.msgs_per_sec = Some(workload.messages as f64 / r.secs);
                f.cpu_per_million = r.broker_cpu.map(|c| c / workload.messages as f64 * 1e6);
                line(format!(
                    "produce acks=all: {} x {} B in {:.3} s = {:.0} msgs/s{}{}",
                    workload.messages,
                    workload.size,
                    r.secs,
                    workload.messages as f64 / r.secs,
                    if r.failed > 0 {
                        format!(" ({} FAILED)", r.failed)
                    } else {
                        String::new()
                    },
                    cpu_text(r.broker_cpu, workload.messages),
                ));
            }
            Err(e) => line(format!("produce acks=all: FAILED: {e}")),
        }

        if workload.per_request > 0 {
            let per_request_topic = topic("per-request");
            let how = PerRequest {
                messages: workload.per_request,
                size: workload.size,
                tailing: false,
            };
            match create(&per_request_topic)
                .and_then(|()| per_request::run(cluster, &per_request_topic, &how, brokers))
            {
                Ok(r) => {
                    f.cpu_us_per_request = r.cpu_us_per_request();
                    line(format!("per-request alone: {}", r.describe()));
                }
                Err(e) => line(format!("per-request alone: FAILED: {e}")),
            }
        }

        for rate in &workload.paced {
            let paced_topic = topic(&format!("paced-{}-{}", rate.rate, rate.linger_ms));
            let how = Paced {
                rate: rate.rate,
                linger_ms: rate.linger_ms,
                secs: workload.paced_secs,
                size: workload.size,
            };
            let name = format!("paced {}/s linger {}", rate.rate, rate.linger_ms);
            match create(&paced_topic)
                .and_then(|()| paced::run(cluster, &paced_topic, &how, brokers))
            {
                Ok(r) => {
                    f.paced_p99_us.push(Some(r.p99_us() as f64));
                    line(format!("{name}: {}", r.describe()));
                }
                Err(e) => {
                    f.paced_p99_us.push(None);
                    line(format!("{name}: FAILED: {e}"));
                }
            }
        }
        figures.push(f);
    }

    if let [high, low] = &figures[..] {
        let ratio = |name: String, h: Option<f64>, l: Option<f64>| match (h, l) {
            (Some(h), Some(l)) if l > 0.0 => Some(format!("{name} {:.2}×", h / l)),
            _ => None,
        };
        let mut ratios = vec![
            ratio("produce msgs/s".into(), high.msgs_per_sec, low.msgs_per_sec),
            ratio(
                "broker CPU per 1M msgs".into(),
                high.cpu_per_million,
                low.cpu_per_million,
            ),
            ratio(
                "broker CPU per Produce request".into(),
                high.cpu_us_per_request,
                low.cpu_us_per_request,
            ),
        ];
        for (i, rate) in workload.paced.iter().enumerate() {
            let p99 = |f: &Figures| f.paced_p99_us.get(i).copied().flatten();
            ratios.push(ratio(
                format!("paced {}/s p99", rate.rate),
                p99(high),
                p99(low),
            ));
        }
        let ratios: Vec<String> = ratios.into_iter().flatten().collect();
        lines.push(format!(
            "rf {} ÷ rf {}: {}",
            factors[0],
            factors[1],
            ratios.join(" | ")
        ));
    }
    lines
}
