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
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(name), Some(path)) = (&args.scenario, &args.output) else {
        anyhow::bail!("name a scenario and an output file (-o); --list shows the scenarios");
    };
    if name == "busy" {
        return busy(args, path);
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
            "unknown scenario '{name}'; choose one of: {}, bulk, busy",
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
