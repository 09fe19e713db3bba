//! What a process costs, read from `/proc`: CPU time of all its threads (nanoseconds, from
//! `schedstat`, finer than the clock ticks of `stat`), context switches (its wakeups), resident
//! memory, and the `aetheria serve` a window started for its data folder.

use std::path::Path;
use std::time::{Duration, Instant};

/// CPU time of every thread of `pid`, in nanoseconds (0 once it is gone).
pub fn cpu_ns(pid: u32) -> u64 {
    threads(pid)
        .iter()
        .filter_map(|task| std::fs::read_to_string(task.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Voluntary and involuntary context switches of every thread of `pid`: how often it woke.
pub fn switches(pid: u32) -> u64 {
    threads(pid)
        .iter()
        .filter_map(|task| std::fs::read_to_string(task.join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Resident memory of `pid`, in bytes.
pub fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn threads(pid: u32) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Whether `pid` still runs (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// The `aetheria serve` hosting `data_dir` (started by a window), if one runs.
pub fn host_of(data_dir: &Path) -> Option<u32> {
    let wanted = format!("AETHERIA_DATA_DIR={}", data_dir.display());
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.get(1).copied() != Some(b"serve".as_slice()) {
                return None;
            }
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|v| v == wanted.as_bytes())
                .then_some(pid)
        })
}

/// CPU time and wakeups of some processes over a span.
pub struct Usage {
    /// CPU time, all threads of all of them.
    pub cpu: Duration,
    /// Context switches.
    pub wakeups: u64,
}

/// What `pids` spend over `span` (during which nothing is asked of them), all together.
pub fn over(pids: &[u32], span: Duration) -> Usage {
    let each = each_over(pids, span);
    Usage {
        cpu: each.iter().map(|u| u.cpu).sum(),
        wakeups: each.iter().map(|u| u.wakeups).sum(),
    }
}

/// What each of `pids` spends over the same `span`.
pub fn each_over(pids: &[u32], span: Duration) -> Vec<Usage> {
    let before: Vec<(u64, u64)> = pids.iter().map(|p| (cpu_ns(*p), switches(*p))).collect();
    std::thread::sleep(span);
    pids.iter()
        .zip(before)
        .map(|(p, (c0, w0))| Usage {
            cpu: Duration::from_nanos(cpu_ns(*p).saturating_sub(c0)),
            wakeups: switches(*p).saturating_sub(w0),
        })
        .collect()
}

/// Waits for `pid` to end; how long it took (`None`: still running after `limit`).
pub fn wait_gone(child: &mut std::process::Child, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Waits for a process that is not our child to end.
pub fn wait_pid_gone(pid: u32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status();
}
