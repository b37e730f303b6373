//! `edgewise generate`: writes the generator's captures to files.

use std::fs::File;
use std::io::{BufWriter, Write};
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
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(name), Some(path)) = (&args.scenario, &args.output) else {
        anyhow::bail!("name a scenario and an output file (-o); --list shows the scenarios");
    };
    let file = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let mut w = BufWriter::new(file);
    if name == "bulk" {
        let stats =
            generate::write_bulk_pcap(&mut w, args.size_mb.saturating_mul(1_000_000), args.seed)
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
            "unknown scenario '{name}'; choose one of: {}, bulk",
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
