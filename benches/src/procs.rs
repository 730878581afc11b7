//! The broker processes as `/proc` sees them: CPU time, resident set and
//! open descriptors, summed over every pid given, because a cluster's
//! brokers are separate processes and what one machine pays for a
//! workload is their sum.

/// The brokers under test (`--broker-pid PID[,PID…]`).
pub struct Brokers {
    pids: Vec<u32>,
    ticks_per_sec: f64,
}

impl Brokers {
    /// Fails if one of the pids cannot be read.
    pub fn new(pids: &[u32]) -> Result<Brokers, String> {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let brokers = Brokers {
            pids: pids.to_vec(),
            ticks_per_sec: if ticks > 0 { ticks as f64 } else { 100.0 },
        };
        for &pid in pids {
            if cpu_ticks(pid).is_none() {
                return Err(format!("cannot read /proc/{pid}/stat"));
            }
        }
        Ok(brokers)
    }

    /// utime + stime of every broker (all threads, living or exited), in
    /// seconds; one clock tick (10 ms) of resolution per process.
    pub fn cpu_secs(&self) -> Option<f64> {
        let mut ticks = 0;
        for &pid in &self.pids {
            ticks += cpu_ticks(pid)?;
        }
        Some(ticks as f64 / self.ticks_per_sec)
    }

    /// The brokers' resident set (VmRSS), KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pids.iter().map(|&pid| rss_kib(pid)).sum()
    }

    /// The brokers' open descriptors (entries of /proc/PID/fd).
    pub fn open_fds(&self) -> Option<usize> {
        self.pids.iter().map(|&pid| open_fds(pid)).sum()
    }
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of `pid` from /proc/PID/status, KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Open descriptors of `pid`: the entries of /proc/PID/fd.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Broker CPU seconds spent between `start()` and `end()` (None without
/// brokers to watch).
pub struct CpuSpan<'a> {
    brokers: Option<&'a Brokers>,
    start: f64,
}

impl<'a> CpuSpan<'a> {
    pub fn start(brokers: Option<&'a Brokers>) -> Self {
        let start = brokers.and_then(Brokers::cpu_secs).unwrap_or(0.0);
        CpuSpan { brokers, start }
    }

    pub fn end(&self) -> Option<f64> {
        Some(self.brokers?.cpu_secs()? - self.start)
    }
}

/// CPU seconds (user + system) of this process so far.
pub fn client_cpu_secs() -> f64 {
    // SAFETY: `usage` is a valid rusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// MiB, from KiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
