//! What the end-to-end benches share: running a command as its own process with a timeout,
//! its wall time and peak RSS (GNU time), medians over runs, and the figures' formatting.
//! Each bench uses part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const GNU_TIME: &str = "/usr/bin/time";

/// One command's runs.
pub struct Row {
    pub what: String,
    pub runs: usize,
    /// Median seconds, or None when no run finished.
    pub secs: Option<f64>,
    /// Largest peak RSS over the runs, MiB.
    pub rss_mib: Option<f64>,
    pub note: Option<String>,
}

/// The result of one run.
pub enum Run {
    Done { secs: f64, rss_kib: Option<u64> },
    TimedOut,
    Failed(String),
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Whether `tool` is an executable file on PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p)
            .any(|d| std::fs::metadata(d.join(tool)).is_ok_and(|m| m.is_file()))
    })
}

pub fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = [o.stdout, o.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("Running as user"))
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// Runs `program args` once, stdout and stdin on /dev/null, under GNU time when available.
/// The child gets its own process group so that a timeout stops it and its children.
pub fn run_once(program: &str, args: &[OsString], timeout: Duration, gnu_time: bool) -> Run {
    let rss_file = match tempfile::NamedTempFile::new() {
        Ok(f) => f,
        Err(e) => return Run::Failed(format!("temp file: {e}")),
    };
    let mut cmd = if gnu_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f").arg("%M").arg("-o").arg(rss_file.path());
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Run::Failed(format!("cannot start {program}: {e}")),
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send((out, start.elapsed()));
    });
    let (out, elapsed) = match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => {
            // Our own child's process group, by its id.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = rx.recv();
            return Run::TimedOut;
        }
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => return Run::Failed(format!("{program}: {e}")),
    };
    // GNU time writes "Command exited with non-zero status N" before the figure then.
    let rss_kib = std::fs::read_to_string(rss_file.path())
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let why = err
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with("Running as user"))
            .unwrap_or("");
        // edgewise audit exits 1 when it has findings at --fail-on: the run itself is fine.
        if !(program.ends_with("edgewise") && out.status.code() == Some(1)) {
            return Run::Failed(format!("{program} exited with {}: {why}", out.status));
        }
    }
    Run::Done {
        secs: elapsed.as_secs_f64(),
        rss_kib,
    }
}

pub fn measure(
    what: &str,
    program: &str,
    args: &[OsString],
    runs: usize,
    timeout: Duration,
    gnu_time: bool,
) -> Row {
    let mut secs = Vec::new();
    let mut rss: Option<u64> = None;
    let mut note = None;
    for _ in 0..runs {
        match run_once(program, args, timeout, gnu_time) {
            Run::Done { secs: s, rss_kib } => {
                secs.push(s);
                rss = rss.max(rss_kib);
            }
            Run::TimedOut => {
                note = Some(format!("did not finish in {} s", timeout.as_secs()));
                break;
            }
            Run::Failed(why) => {
                note = Some(why);
                break;
            }
        }
        eprint!(".");
    }
    secs.sort_by(f64::total_cmp);
    Row {
        what: what.to_string(),
        runs: secs.len(),
        secs: secs.get(secs.len() / 2).copied(),
        rss_mib: rss.map(|k| k as f64 / 1024.0),
        note,
    }
}

/// A rate in words: `1.65 M`, `575 k`.
pub fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
