//! How figures are printed: rates, percentiles, durations, broker CPU, so
//! that every phase writes them alike.

pub fn rate(n: usize, bytes: usize, secs: f64) -> String {
    format!(
        "{:>9.0} msgs/s {:>8.2} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    )
}

/// The `p`th percentile (nearest rank) of sorted samples; 0 if none.
pub fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[idx.clamp(1, sorted.len()) - 1]
}

/// Microseconds as milliseconds.
pub fn ms(us: u64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

/// " | broker CPU …" for a phase of `msgs` messages ("" without brokers).
pub fn cpu_text(cpu: Option<f64>, msgs: usize) -> String {
    match cpu {
        None => String::new(),
        Some(s) => format!(
            " | broker CPU {:.2} s = {:.2} s per 1M msgs",
            s,
            s / msgs.max(1) as f64 * 1e6
        ),
    }
}

/// The broker CPU per GB moved (10^9 bytes of records), the unit of the
/// throughput goals.
pub fn cpu_per_gb_text(cpu: Option<f64>, bytes: usize) -> String {
    match cpu {
        None => String::new(),
        Some(s) => format!(", {:.3} s per GB", s / bytes.max(1) as f64 * 1e9),
    }
}

/// Median and worst of some figures (sorted in place).
pub fn median_worst(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => (0.0, 0.0),
        n if n % 2 == 1 => (values[n / 2], values[n - 1]),
        n => ((values[n / 2 - 1] + values[n / 2]) / 2.0, values[n - 1]),
    }
}
