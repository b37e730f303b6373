//! Command-line definitions. The doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

/// Audit Skype for Business / Lync Edge Server captures.
#[derive(Debug, Parser)]
#[command(name = "edgewise", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the flows (conversations) of one or more captures, with the packet accounting.
    Flows(FlowsArgs),
    /// Write synthetic Edge captures (the bundled samples, test and benchmark captures).
    Generate(GenerateArgs),
}

/// Reading captures.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture to read: a pcap or pcapng file (gzip allowed), a directory of them, or - for
    /// standard input. Repeat -r for several.
    #[arg(short = 'r', long = "read", value_name = "CAPTURE", required = true, num_args = 1..)]
    pub inputs: Vec<String>,
    /// Most flows held open at once; the least recently seen are finished beyond this.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_flows: usize,
    /// Do not show a progress bar (it is shown only when standard error is a terminal).
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Scenario to write (see --list), or `bulk` for a large benchmark capture.
    #[arg(required_unless_present = "list")]
    pub scenario: Option<String>,
    /// File to write.
    #[arg(short = 'o', long, required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// Container format.
    #[arg(long, value_enum, default_value_t = ContainerFormat::Pcapng)]
    pub container: ContainerFormat,
    /// With `bulk`: approximate size in MB.
    #[arg(long, default_value_t = 100)]
    pub size_mb: u64,
    /// With `bulk`: seed of the deterministic generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// List the scenarios.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContainerFormat {
    Pcap,
    PcapNano,
    Pcapng,
}
