//! The `edgewise` binary: parse the command line, run the library, map the outcome to an exit
//! status (0 complete, 1 findings at or above --fail-on (later), 2 unusable input, 3 partial read).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use edgewise::analysis::{self, Completeness, Progress};
use edgewise::cli::{Cli, Command, FlowsArgs};
use edgewise::flow::FlowConfig;
use edgewise::report;
use edgewise::source::input::{self, DynRead};

/// Exit status for unusable input (bad file, bad arguments).
const EXIT_UNUSABLE: u8 = 2;
/// Exit status for a partial read: output was produced, but some input was damaged.
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flows(args) => flows(args),
        Command::Generate(args) => edgewise::generate_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`| head`) is not an error.
            if let Some(ioe) = e.downcast_ref::<io::Error>() {
                if ioe.kind() == io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("edgewise: {e:#}");
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn wrap(&self, r: DynRead) -> DynRead {
        Box::new(self.0.wrap_read(r))
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn progress_bar(inputs: &[input::InputSpec], quiet: bool) -> Option<Bar> {
    if quiet || !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs.iter().filter_map(input::input_size).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(Bar(bar))
}

fn flows(args: FlowsArgs) -> anyhow::Result<ExitCode> {
    let inputs = match input::expand(&args.read.inputs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("edgewise: {e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let config = FlowConfig {
        max_flows: args.read.max_flows.max(1),
        ..FlowConfig::default()
    };
    let bar = progress_bar(&inputs, args.read.quiet);
    let analysis = match &bar {
        Some(b) => analysis::analyze(&inputs, config, b),
        None => analysis::analyze(&inputs, config, &analysis::NoProgress),
    };
    for i in &analysis.inputs {
        if let Some(e) = &i.error {
            eprintln!("edgewise: {}: {e}", i.name);
        } else if let Some(s) = &i.stop {
            eprintln!("edgewise: {}: {s}", i.name);
        }
    }
    for m in &analysis.accounting.mismatches {
        eprintln!("edgewise: internal accounting mismatch: {m}");
    }
    let completeness = analysis.completeness();
    if completeness == Completeness::Unusable {
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    }
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", path.display()))?;
            let mut w = io::BufWriter::new(file);
            report::write(&analysis, args.format, &mut w)?;
            w.flush()?;
        }
        None => {
            let stdout = io::stdout();
            let mut w = io::BufWriter::new(stdout.lock());
            report::write(&analysis, args.format, &mut w)?;
            w.flush()?;
        }
    }
    Ok(match completeness {
        Completeness::Complete => ExitCode::SUCCESS,
        Completeness::Partial => ExitCode::from(EXIT_PARTIAL),
        Completeness::Unusable => ExitCode::from(EXIT_UNUSABLE),
    })
}
