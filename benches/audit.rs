//! End-to-end benchmark of `edgewise audit` on captures shaped like a busy Edge.
//!
//! For each shape (calls, flows, large; `EDGEWISE_BENCH_SHAPES=calls,flows` to choose) the
//! capture is generated once into `target/bench-captures/busy-<shape>.pcap` (kept when it
//! already has the size the generator produces), then each command runs as its own process,
//! with its output thrown away, and is timed from spawn to exit:
//!
//! * `cat FILE` (the page-cache floor),
//! * `edgewise audit -r FILE --topology captures/topology.toml -q` (text report),
//! * the same with `--format json`,
//! * `tshark -r FILE -q -z conv,tcp -z conv,udp` and `ndpiReader -i FILE -q`, when installed.
//!
//! Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when it is installed. Medians of
//! `EDGEWISE_BENCH_RUNS` runs (default 3; tshark runs once, and ndpiReader once on files over
//! 1 GB). A run that takes longer than `EDGEWISE_BENCH_TIMEOUT` seconds (default 120; tools:
//! `EDGEWISE_BENCH_TOOL_TIMEOUT`, default 300) is stopped and reported as not finished.
//! No assertion on time: this prints a table to read, see benches/README.md.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use edgewise::generate::{write_busy_pcap, BusyOptions, BusyShape, BusyStats};

#[path = "common/mod.rs"]
mod common;
use common::*;

/// The capture of a shape: kept when its size is the generator's, written otherwise.
fn capture(dir: &Path, shape: BusyShape) -> std::io::Result<(PathBuf, BusyStats)> {
    let opts = BusyOptions::preset(shape);
    let path = dir.join(format!("busy-{}.pcap", shape.name()));
    // The generator is deterministic: writing to a sink gives the expected size and counts.
    let t = Instant::now();
    let expected = write_busy_pcap(std::io::sink(), &opts, None)?;
    let sink_secs = t.elapsed().as_secs_f64();
    let have = std::fs::metadata(&path).map(|m| m.len()).ok();
    if have == Some(expected.bytes_written) {
        eprintln!("{}: using {}", shape.name(), path.display());
        return Ok((path, expected));
    }
    std::fs::create_dir_all(dir)?;
    let t = Instant::now();
    let file = std::fs::File::create(&path)?;
    let stats = write_busy_pcap(file, &opts, None)?;
    eprintln!(
        "{}: wrote {} ({} bytes, {} packets, {} flows, {} calls) in {:.2} s ({:.2} s to a sink)",
        shape.name(),
        path.display(),
        stats.bytes_written,
        stats.packets,
        stats.flows,
        stats.calls,
        t.elapsed().as_secs_f64(),
        sink_secs
    );
    Ok((path, stats))
}

fn print_table(shape: BusyShape, path: &Path, stats: &BusyStats, rows: &[Row]) {
    let mb = stats.bytes_written as f64 / 1e6;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "\n### {} — {} ({:.1} MB, {} packets, {} flows, {} calls)\n",
        shape.name(),
        path.display(),
        mb,
        stats.packets,
        stats.flows,
        stats.calls
    );
    let _ = writeln!(
        o,
        "| command | runs | median s | packets/s | MB/s | peak MiB |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let (s, pps, mbs) = match r.secs {
            Some(s) => (
                format!("{s:.3}"),
                fmt_rate(stats.packets as f64 / s),
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
            "| {} | {} | {s} | {pps} | {mbs} | {rss} |",
            r.what, r.runs
        );
    }
    let secs = |w: &str| {
        rows.iter()
            .find(|r| r.what.starts_with(w))
            .and_then(|r| r.secs)
    };
    let ew = secs("edgewise audit (text)");
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    };
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "edgewise/cat throughput {} · tshark time/edgewise time {} · ndpiReader time/edgewise time {}",
        ratio(secs("cat"), ew),
        ratio(secs("tshark"), ew),
        ratio(secs("ndpiReader"), ew)
    );
    for r in rows.iter().filter(|r| r.secs.is_some() && r.note.is_some()) {
        let _ = writeln!(o, "note: {}: {}", r.what, r.note.as_deref().unwrap_or(""));
    }
}

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-captures");
    let topology = root.join("captures/topology.toml");
    let edgewise = env!("CARGO_BIN_EXE_edgewise");
    let shapes: Vec<BusyShape> = std::env::var("EDGEWISE_BENCH_SHAPES")
        .unwrap_or_else(|_| "calls,flows,large".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            BusyShape::parse(s.trim())
                .filter(|s| *s != BusyShape::Distinct)
                .unwrap_or_else(|| panic!("EDGEWISE_BENCH_SHAPES: unknown shape {s:?}"))
        })
        .collect();
    let runs = env_or("EDGEWISE_BENCH_RUNS", 3usize).max(1);
    let timeout = Duration::from_secs(env_or("EDGEWISE_BENCH_TIMEOUT", 120));
    let tool_timeout = Duration::from_secs(env_or("EDGEWISE_BENCH_TOOL_TIMEOUT", 300));
    let gnu_time = Command::new(GNU_TIME)
        .args(["-f", "%M", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    let tshark = on_path("tshark");
    let ndpi = on_path("ndpiReader");

    println!("## edgewise audit, end to end");
    println!();
    println!("- edgewise: {edgewise}");
    println!(
        "- cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "- tshark: {}",
        if tshark {
            first_line("tshark", &["-v"])
        } else {
            "not installed, skipped".into()
        }
    );
    println!(
        "- ndpiReader: {}",
        if ndpi {
            first_line("ndpiReader", &["-h"])
        } else {
            "not installed, skipped".into()
        }
    );
    if !gnu_time {
        println!("- peak RSS: GNU time ({GNU_TIME}) not installed, not measured");
    }
    println!("- runs: {runs} (median), timeout {} s", timeout.as_secs());

    for shape in shapes {
        let (path, stats) = capture(&dir, shape)?;
        let file = OsString::from(&path);
        let a = |v: &[&str]| -> Vec<OsString> { v.iter().map(OsString::from).collect() };
        let audit = |json: bool| {
            let mut v = a(&["audit", "-r"]);
            v.push(file.clone());
            v.push("--topology".into());
            v.push(topology.clone().into());
            v.push("-q".into());
            if json {
                v.extend(a(&["--format", "json"]));
            }
            v
        };
        eprint!("{}: ", shape.name());
        // Warm the page cache.
        let _ = run_once("cat", std::slice::from_ref(&file), tool_timeout, false);
        let mut rows = vec![
            measure(
                "cat",
                "cat",
                std::slice::from_ref(&file),
                runs,
                tool_timeout,
                gnu_time,
            ),
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
        if tshark {
            let mut v = a(&["-r"]);
            v.push(file.clone());
            v.extend(a(&["-q", "-z", "conv,tcp", "-z", "conv,udp"]));
            rows.push(measure(
                "tshark conv,tcp+udp",
                "tshark",
                &v,
                1,
                tool_timeout,
                gnu_time,
            ));
        } else {
            rows.push(Row {
                what: "tshark conv,tcp+udp".into(),
                runs: 0,
                secs: None,
                rss_mib: None,
                note: Some("tshark not installed".into()),
            });
        }
        if ndpi {
            let mut v = a(&["-i"]);
            v.push(file.clone());
            v.push("-q".into());
            let n = if stats.bytes_written > 1_000_000_000 {
                1
            } else {
                runs
            };
            rows.push(measure(
                "ndpiReader -q",
                "ndpiReader",
                &v,
                n,
                tool_timeout,
                gnu_time,
            ));
        } else {
            rows.push(Row {
                what: "ndpiReader -q".into(),
                runs: 0,
                secs: None,
                rss_mib: None,
                note: Some("ndpiReader not installed (Debian: libndpi-bin)".into()),
            });
        }
        eprintln!();
        print_table(shape, &path, &stats, &rows);
    }
    Ok(())
}
