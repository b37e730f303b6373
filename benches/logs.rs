//! End-to-end benchmark of `edgewise audit` on firewall logs shaped like a busy Edge's day.
//!
//! For each shape (`EDGEWISE_BENCH_LOG_SHAPES=pfirewall,asa,pfirewall-flows` to choose) the log
//! is generated once into `target/bench-captures/log-<shape>-<lines>.log` (kept when it already
//! has the size the generator produces), then each command runs as its own process, with its
//! output thrown away, and is timed from spawn to exit:
//!
//! * `cat FILE` (the page-cache floor),
//! * `wc -l FILE` (a pass that looks at every byte for line ends),
//! * `edgewise audit -r FILE --topology captures/topology.toml -q` (text report),
//! * the same with `--format json`.
//!
//! The shapes hold 5,000,000 lines each (`EDGEWISE_BENCH_LOG_LINES` to scale them; the flows
//! scale with the lines): `pfirewall` and `asa` with 200,000 distinct flows, `pfirewall-flows`
//! with 1,000,000, so that the same line count with five times the flows shows what a flow costs
//! in memory apart from what a line costs.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when it is installed. Medians of
//! `EDGEWISE_BENCH_RUNS` runs (default 3). A run that takes longer than
//! `EDGEWISE_BENCH_TIMEOUT` seconds (default 120; cat and wc: `EDGEWISE_BENCH_TOOL_TIMEOUT`,
//! default 300) is stopped and reported as not finished. No assertion on time: this prints a
//! table to read, see benches/README.md.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use edgewise::generate::{write_firewall_log, LogBenchFormat, LogBenchOptions, LogBenchStats};

#[path = "common/mod.rs"]
mod common;
use common::*;

const GNU_TIME: &str = "/usr/bin/time";
/// Lines of every shape unless `EDGEWISE_BENCH_LOG_LINES` says otherwise.
const LINES: u64 = 5_000_000;

/// A log to audit: its format and its distinct flows at `LINES` lines.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    format: LogBenchFormat,
    flows: u64,
}

const SHAPES: [Shape; 3] = [
    Shape {
        name: "pfirewall",
        format: LogBenchFormat::Pfirewall,
        flows: 200_000,
    },
    Shape {
        name: "asa",
        format: LogBenchFormat::Asa,
        flows: 200_000,
    },
    Shape {
        name: "pfirewall-flows",
        format: LogBenchFormat::Pfirewall,
        flows: 1_000_000,
    },
];

/// The log of a shape at `lines` lines: kept when its size is the generator's, written
/// otherwise.
fn log(dir: &Path, shape: Shape, lines: u64) -> std::io::Result<(PathBuf, LogBenchStats)> {
    let flows = (u128::from(shape.flows) * u128::from(lines) / u128::from(LINES)) as u64;
    let opts = LogBenchOptions::new(shape.format, lines, flows.max(1));
    let path = dir.join(format!("log-{}-{lines}.log", shape.name));
    // The generator is deterministic: writing to a sink gives the expected size and counts.
    let t = Instant::now();
    let expected = write_firewall_log(std::io::sink(), &opts)?;
    let sink_secs = t.elapsed().as_secs_f64();
    let have = std::fs::metadata(&path).map(|m| m.len()).ok();
    if have == Some(expected.bytes) {
        eprintln!("{}: using {}", shape.name, path.display());
        return Ok((path, expected));
    }
    std::fs::create_dir_all(dir)?;
    let t = Instant::now();
    let file = std::fs::File::create(&path)?;
    let stats = write_firewall_log(file, &opts)?;
    eprintln!(
        "{}: wrote {} ({} bytes, {} lines, {} distinct flows) in {:.2} s ({:.2} s to a sink)",
        shape.name,
        path.display(),
        stats.bytes,
        stats.lines,
        stats.distinct_flows,
        t.elapsed().as_secs_f64(),
        sink_secs
    );
    Ok((path, stats))
}

fn print_table(shape: Shape, path: &Path, stats: &LogBenchStats, rows: &[Row]) {
    let mb = stats.bytes as f64 / 1e6;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "\n### {} — {} ({:.1} MB, {} lines, {} distinct flows, {} denied lines)\n",
        shape.name,
        path.display(),
        mb,
        stats.lines,
        stats.distinct_flows,
        stats.denied_lines
    );
    let _ = writeln!(
        o,
        "| command | runs | median s | lines/s | MB/s | peak MiB |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let (s, lps, mbs) = match r.secs {
            Some(s) => (
                format!("{s:.3}"),
                fmt_rate(stats.lines as f64 / s),
                format!("{:.0}", mb / s),
            ),
            None => (
                r.note.clone().unwrap_or_else(|| "-".into()),
                "-".into(),
                "-".into(),
            ),
        };
        let rss = r.rss_mib.map_or("-".into(), |m| format!("{m:.0}"));
        let _ = writeln!(
            o,
            "| {} | {} | {s} | {lps} | {mbs} | {rss} |",
            r.what, r.runs
        );
    }
    let row = |w: &str| rows.iter().find(|r| r.what.starts_with(w));
    let secs = |w: &str| row(w).and_then(|r| r.secs);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    };
    let _ = writeln!(o);
    for (label, what) in [
        ("text", "edgewise audit (text)"),
        ("json", "edgewise audit --format json"),
    ] {
        let ew = secs(what);
        let per = |n: u64| {
            row(what)
                .and_then(|r| r.rss_mib)
                .filter(|_| n > 0)
                .map_or("-".into(), |m| format!("{:.0}", m * 1_048_576.0 / n as f64))
        };
        let _ = writeln!(
            o,
            "{label}: edgewise/cat throughput {} · edgewise/wc -l throughput {} · peak RSS {} bytes \
             a line, {} bytes a distinct flow",
            ratio(secs("cat"), ew),
            ratio(secs("wc -l"), ew),
            per(stats.lines),
            per(stats.distinct_flows)
        );
    }
    for r in rows.iter().filter(|r| r.secs.is_some() && r.note.is_some()) {
        let _ = writeln!(o, "note: {}: {}", r.what, r.note.as_deref().unwrap_or(""));
    }
}

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-captures");
    let topology = root.join("captures/topology.toml");
    let edgewise = env!("CARGO_BIN_EXE_edgewise");
    let shapes: Vec<Shape> = std::env::var("EDGEWISE_BENCH_LOG_SHAPES")
        .unwrap_or_else(|_| "pfirewall,asa,pfirewall-flows".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            SHAPES
                .into_iter()
                .find(|x| x.name == s.trim())
                .unwrap_or_else(|| {
                    panic!(
                        "EDGEWISE_BENCH_LOG_SHAPES: unknown shape {s:?}; the shapes are \
                         pfirewall, asa and pfirewall-flows"
                    )
                })
        })
        .collect();
    let lines = env_or("EDGEWISE_BENCH_LOG_LINES", LINES).max(1);
    let runs = env_or("EDGEWISE_BENCH_RUNS", 3usize).max(1);
    let timeout = Duration::from_secs(env_or("EDGEWISE_BENCH_TIMEOUT", 120));
    let tool_timeout = Duration::from_secs(env_or("EDGEWISE_BENCH_TOOL_TIMEOUT", 300));
    let gnu_time = Command::new(GNU_TIME)
        .args(["-f", "%M", "true"])
        .output()
        .is_ok_and(|o| o.status.success());

    println!("## edgewise audit of firewall logs, end to end");
    println!();
    println!("- edgewise: {edgewise}");
    println!(
        "- cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if !gnu_time {
        println!("- peak RSS: GNU time ({GNU_TIME}) not installed, not measured");
    }
    println!("- lines a log: {lines}");
    println!("- runs: {runs} (median), timeout {} s", timeout.as_secs());

    for shape in shapes {
        let (path, stats) = log(&dir, shape, lines)?;
        let file = OsString::from(&path);
        let audit = |json: bool| {
            let mut v: Vec<OsString> = vec!["audit".into(), "-r".into(), file.clone()];
            v.push("--topology".into());
            v.push(topology.clone().into());
            v.push("-q".into());
            if json {
                v.extend(["--format".into(), "json".into()]);
            }
            v
        };
        eprint!("{}: ", shape.name);
        // Warm the page cache.
        let _ = run_once("cat", std::slice::from_ref(&file), tool_timeout, false);
        let wc: Vec<OsString> = vec!["-l".into(), file.clone()];
        let rows = vec![
            measure(
                "cat",
                "cat",
                std::slice::from_ref(&file),
                runs,
                tool_timeout,
                gnu_time,
            ),
            measure("wc -l", "wc", &wc, runs, tool_timeout, gnu_time),
            measure(
                "edgewise audit (text)",
                edgewise,
                &audit(false),
                runs,
                timeout,
                gnu_time,
            ),
            measure(
                "edgewise audit --format json",
                edgewise,
                &audit(true),
                runs,
                timeout,
                gnu_time,
            ),
        ];
        eprintln!();
        print_table(shape, &path, &stats, &rows);
    }
    Ok(())
}
