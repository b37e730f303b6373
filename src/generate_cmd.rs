//! `edgewise generate`: writes the generator's captures to files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{ContainerFormat, GenerateArgs};
use crate::generate::{self, PcapFlavor, PcapNgOptions};

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        for name in generate::scenario_names() {
            println!("{name}");
        }
        println!("bulk");
        println!("busy");
        println!("log");
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(name), Some(path)) = (&args.scenario, &args.output) else {
        anyhow::bail!("name a scenario and an output file (-o); --list shows the scenarios");
    };
    if name == "log" {
        return log(args, path);
    }
    for (given, option) in [
        (args.format.is_some(), "--format"),
        (args.lines.is_some(), "--lines"),
    ] {
        if given {
            anyhow::bail!(
                "{option} applies to `edgewise generate log` only: drop it, or write a log \
                 (`generate log --format pfirewall|asa`)"
            );
        }
    }
    if name == "busy" {
        return busy(args, path);
    }
    // The busy capture's knobs: refused rather than ignored elsewhere.
    for (given, option) in [
        (args.flows.is_some(), "--flows"),
        (args.concurrent.is_some(), "--concurrent"),
        (args.truth.is_some(), "--truth"),
        (args.shape != "calls", "--shape"),
    ] {
        if given {
            anyhow::bail!(
                "{option} applies to `edgewise generate busy` only: drop it, or write a busy \
                 capture (`generate busy --shape calls|flows|large|distinct`)"
            );
        }
    }
    if name != "bulk" && args.size_mb.is_some() {
        anyhow::bail!(
            "--size-mb applies to `generate bulk` and `generate busy` only: the scenario \
             '{name}' has its own size; drop --size-mb"
        );
    }
    let file = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let mut w = BufWriter::new(file);
    if name == "bulk" {
        let stats = generate::write_bulk_pcap(
            &mut w,
            args.size_mb.unwrap_or(100).saturating_mul(1_000_000),
            args.seed,
        )
        .with_context(|| format!("{}: write failed", path.display()))?;
        w.flush()?;
        eprintln!(
            "wrote {}: {} packets, {} flows, {} bytes",
            path.display(),
            stats.packets,
            stats.flows,
            stats.bytes_written
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(capture) = generate::scenario(name) else {
        anyhow::bail!(
            "unknown scenario '{name}'; choose one of: {}, bulk, busy, log",
            generate::scenario_names().join(", ")
        );
    };
    let result = match args.container {
        ContainerFormat::Pcapng => {
            generate::write_pcapng(&mut w, &capture, &PcapNgOptions::default())
        }
        ContainerFormat::Pcap => {
            generate::write_pcap(&mut w, &capture.flattened(), PcapFlavor::MicroLe)
        }
        ContainerFormat::PcapNano => {
            generate::write_pcap(&mut w, &capture.flattened(), PcapFlavor::NanoLe)
        }
    };
    result.with_context(|| format!("{}: write failed", path.display()))?;
    w.flush()?;
    eprintln!(
        "wrote {}: {} frames, {} flows expected",
        path.display(),
        capture.frames.len(),
        capture.expected.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `generate busy`: the shape's preset with the user's overrides, to a file or standard output.
fn busy(args: &GenerateArgs, path: &Path) -> anyhow::Result<ExitCode> {
    let Some(shape) = generate::BusyShape::parse(&args.shape) else {
        anyhow::bail!("unknown shape '{}'", args.shape);
    };
    let mut opts = generate::BusyOptions::preset(shape);
    opts.seed = args.seed;
    if let Some(mb) = args.size_mb {
        opts.target_bytes = mb.saturating_mul(1_000_000);
    }
    if let Some(n) = args.concurrent {
        opts.concurrent = n.max(1);
    }
    if let Some(n) = args.flows {
        opts.flows = n;
    }
    let mut truth = match &args.truth {
        Some(t) => {
            Some(File::create(t).with_context(|| format!("{}: cannot create", t.display()))?)
        }
        None => None,
    };
    let truth_out = truth.as_mut().map(|f| f as &mut dyn generate::TruthOut);
    let to_stdout = path.as_os_str() == "-";
    let stats = if to_stdout {
        let mut w = std::io::stdout().lock();
        let s = generate::write_busy_pcap(&mut w, &opts, truth_out);
        match s {
            // A reader that stops early (`| head -c`) is not a failure of the generator.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            other => other.context("standard output: write failed")?,
        }
    } else {
        let file =
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
        generate::write_busy_pcap(file, &opts, truth_out)
            .with_context(|| format!("{}: write failed", path.display()))?
    };
    eprintln!(
        "wrote {} (busy, shape {}): {} packets, {} flows, {} calls, {} bytes",
        if to_stdout {
            "standard output".to_string()
        } else {
            path.display().to_string()
        },
        shape.name(),
        stats.packets,
        stats.flows,
        stats.calls,
        stats.bytes_written
    );
    Ok(ExitCode::SUCCESS)
}

/// Lines of `generate log` when --lines is not given.
const LOG_LINES: u64 = 1_000_000;
/// Lines a distinct flow when --flows is not given.
const LOG_LINES_PER_FLOW: u64 = 25;

/// `generate log`: a busy Edge's day as a firewall log, to a file or standard output.
fn log(args: &GenerateArgs, path: &Path) -> anyhow::Result<ExitCode> {
    for (given, option) in [
        (args.size_mb.is_some(), "--size-mb"),
        (args.concurrent.is_some(), "--concurrent"),
        (args.truth.is_some(), "--truth"),
    ] {
        if given {
            anyhow::bail!(
                "{option} does not apply to `generate log`: its size is --lines and --flows"
            );
        }
    }
    let Some(name) = &args.format else {
        anyhow::bail!(
            "`generate log` needs --format: pfirewall (Windows Firewall on the Edge) or asa \
             (Cisco ASA syslog)"
        );
    };
    let Some(format) = generate::LogBenchFormat::parse(name) else {
        anyhow::bail!("--format {name}: choose pfirewall or asa");
    };
    let lines = args.lines.unwrap_or(LOG_LINES);
    let header = format.header_lines();
    let flows = match args.flows {
        Some(0) => {
            anyhow::bail!("--flows 0: a log holds at least one flow; give --flows 1 or more")
        }
        Some(n) => n,
        None => (lines.saturating_sub(header) / LOG_LINES_PER_FLOW).max(1),
    };
    if flows > generate::logs::MAX_DISTINCT_FLOWS {
        anyhow::bail!(
            "--flows {flows}: at most {} distinct flows; lower --flows",
            generate::logs::MAX_DISTINCT_FLOWS
        );
    }
    let opts = generate::LogBenchOptions {
        format,
        lines,
        distinct_flows: flows,
        seed: args.seed,
    };
    if lines < opts.min_lines() {
        anyhow::bail!(
            "--lines {lines} cannot hold --flows {flows}: a {} log takes its {header} header \
             lines and at least one line a flow; give --lines {} or more, or fewer --flows",
            format.name(),
            opts.min_lines()
        );
    }
    let to_stdout = path.as_os_str() == "-";
    let stats = if to_stdout {
        match generate::write_firewall_log(std::io::stdout().lock(), &opts) {
            // A reader that stops early (`| head`) is not a failure of the generator.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            other => other.context("standard output: write failed")?,
        }
    } else {
        let file =
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
        generate::write_firewall_log(file, &opts)
            .with_context(|| format!("{}: write failed", path.display()))?
    };
    eprintln!(
        "wrote {} ({} log): {} lines ({} of traffic, {} denied), {} distinct flows, {} bytes",
        if to_stdout {
            "standard output".to_string()
        } else {
            path.display().to_string()
        },
        format.name(),
        stats.lines,
        stats.used_lines,
        stats.denied_lines,
        stats.distinct_flows,
        stats.bytes
    );
    Ok(ExitCode::SUCCESS)
}
