//! CPU time and resident memory of processes, from /proc (Linux).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// /proc reports CPU times in USER_HZ ticks, which Linux fixes at 100 on every architecture it
/// exposes to user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of process `pid` (all its threads), or of this process.
pub fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_stat_cpu(&text).ok_or_else(|| anyhow!("{path} has no utime and stime fields"))
}

/// utime + stime (fields 14 and 15) of a /proc/<pid>/stat line, in seconds. The command name in
/// field 2 may hold spaces and parentheses, so fields are counted after its last ')'.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3, so utime (14) is the 12th and stime (15) the 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// VmRSS of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_vm_rss(&text).ok_or_else(|| anyhow!("{path} has no VmRSS line"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// How many times a listen queue overflowed on this machine (`TcpExt: ListenOverflows` of
/// /proc/net/netstat): each time, a connection's SYN was dropped and its sender waits a second
/// to send it again.
pub fn listen_overflows() -> Result<u64> {
    let path = "/proc/net/netstat";
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    parse_netstat(&text, "TcpExt", "ListenOverflows")
        .ok_or_else(|| anyhow!("{path} has no TcpExt ListenOverflows"))
}

/// A counter of /proc/net/netstat, whose sections are pairs of lines: names, then values.
fn parse_netstat(text: &str, section: &str, name: &str) -> Option<u64> {
    let prefix = format!("{section}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let names = lines.next()?;
    let values = lines.next()?;
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// CPU used by this process (the load generator) and by the server over a phase.
#[derive(Debug)]
pub struct CpuMeter {
    server: u32,
    start: Instant,
    generator_start: f64,
    server_start: f64,
}

/// CPU use over a phase, each in % of one core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUse {
    pub generator: f64,
    pub server: f64,
    pub elapsed: Duration,
}

impl CpuMeter {
    pub fn start(server: u32) -> Result<CpuMeter> {
        Ok(CpuMeter {
            server,
            start: Instant::now(),
            generator_start: cpu_seconds(None)?,
            server_start: cpu_seconds(Some(server))?,
        })
    }

    pub fn stop(&self) -> Result<CpuUse> {
        let elapsed = self.start.elapsed();
        let secs = elapsed.as_secs_f64().max(1e-9);
        Ok(CpuUse {
            generator: (cpu_seconds(None)? - self.generator_start) / secs * 100.0,
            server: (cpu_seconds(Some(self.server))? - self.server_start) / secs * 100.0,
            elapsed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstat_counters_are_read_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n\
                    TcpExt: 0 974 975\n\
                    IpExt: InNoRoutes ListenOverflows\n\
                    IpExt: 1 2\n";
        assert_eq!(parse_netstat(text, "TcpExt", "ListenOverflows"), Some(974));
        assert_eq!(parse_netstat(text, "TcpExt", "ListenDrops"), Some(975));
        assert_eq!(parse_netstat(text, "IpExt", "ListenOverflows"), Some(2));
        assert_eq!(parse_netstat(text, "TcpExt", "Missing"), None);
    }

    #[test]
    fn stat_cpu_counts_fields_after_the_command_name() {
        let stat =
            "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 7 0 123 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
        assert_eq!(parse_stat_cpu("4242 (x) S 1"), None);
        // This process has a readable stat of its own.
        assert!(cpu_seconds(None).unwrap() >= 0.0);
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tklaxond\nVmPeak:\t  9000 kB\nVmRSS:\t   1234 kB\nThreads:\t4\n";
        assert_eq!(parse_vm_rss(status), Some(1234 * 1024));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
