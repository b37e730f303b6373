//! Command-line arguments become validated [`Settings`] in one step: the topology is loaded and
//! the display filter parsed once, the inputs listed, and every usage error found here (exit
//! status 2) rather than halfway through a run. Clap's value enums are mapped to the library's
//! own here, so the library does not depend on clap.

use std::path::{Path, PathBuf};

use crate::audit::FailOn;
use crate::cli::{
    self, AuditFormat, Command, MatrixFormat, OutputArgs, ReadArgs, SummaryFormat, TimeFormat,
};
use crate::flow::FlowConfig;
use crate::live::LiveOptions;
use crate::logs::sniff::{self, LogInputError, Route};
use crate::logs::{LogFormat, LogOptions};
use crate::matrix::{Matrix, MatrixError};
use crate::report::Format;
use crate::select::{Filter, FilterError};
use crate::source::input::{self, InputError, InputSpec};
use crate::topology::{self, Topology, TopologyError};

use super::messages;

/// A usage or configuration error: the run cannot start. Each message names the file or
/// option, the place and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    DisplayFilter(FilterError),
    #[error("{0}")]
    Topology(TopologyError),
    #[error("the built-in port matrix is damaged: {0}")]
    Matrix(MatrixError),
    #[error("{0}")]
    Input(InputError),
    #[error("{0}")]
    Log(LogInputError),
    #[error("--log-format and --tz-offset read firewall logs, and -r names captures here")]
    LogOptionsWithCaptures,
    #[error("{}: the TUI browses captures; audit a firewall log with `edgewise audit -r {}`", .0.display(), .0.display())]
    TuiLog(PathBuf),
    #[error("--tz-offset: {0}")]
    TzOffset(String),
    #[error("--netflow {0}: give a capture file of export datagrams, or udp://ADDRESS:PORT to collect them (udp://127.0.0.1:2055, udp://[::]:4739)")]
    NetflowAddress(String),
    #[error("--duration times a live capture (-i IFACE) or a NetFlow collector (--netflow udp://ADDRESS:PORT); files are read to their end")]
    DurationWithoutLive,
    #[error("--format parquet writes files: add -o FILE.parquet")]
    AuditParquetNeedsFile,
    #[error("--format parquet writes a file: add -o FILE.parquet")]
    FlowsParquetNeedsFile,
    #[error(
        "-t is tshark's time format, which `{command}` has no use for; give the topology file \
         with --topology {value}"
    )]
    TimeFormatUnused {
        command: &'static str,
        value: String,
    },
    #[error("-w writes the packets of the flows shown, read again from the capture files; {0}")]
    WriteNeedsFiles(&'static str),
    #[error(
        "-w {} is also an input: writing the packets would destroy the capture being read; \
         choose another file",
        .0.display()
    )]
    WriteOverInput(PathBuf),
    #[error("-w - writes the packets to standard output, where the report goes too: add -o FILE for the report")]
    BothToStandardOutput,
    #[error(
        "-o {0} looks like tshark's preference override (-o name:value), which edgewise does not \
         have: here -o writes the report to a file; if that is the file you mean, write ./{0}"
    )]
    OutputLooksLikePreference(String),
    #[error("the TUI filters interactively (press /); -Y is for `flows` and `audit`")]
    TuiDisplayFilter,
    #[error("the TUI reads capture files (-r); capture live with `edgewise audit -i IFACE --tui`")]
    TuiLive,
    #[error("tui cannot read a capture from standard input; give a file")]
    TuiStdin,
    #[error("{} exists; use --force to overwrite it", .0.display())]
    TopologyExists(PathBuf),
}

/// Where packets come from.
#[derive(Debug)]
pub enum Source {
    Files(Vec<InputSpec>),
    Live(LiveOptions),
    /// The one file `-r` named is a firewall or flow log (told from its content).
    Log(PathBuf),
}

/// How to read captures.
#[derive(Debug)]
pub struct Reading {
    pub source: Source,
    pub flow: FlowConfig,
    /// `-c N` with files: stop after the first N packets read.
    pub count: Option<u64>,
    /// No progress bar and no filter note.
    pub quiet: bool,
}

/// The site a run is judged against.
pub struct Site {
    pub topology: Topology,
    /// The bundled sample stands in for a topology the user did not give.
    pub assumed: bool,
    /// No --topology for a run that reads traffic: the site is inferred from it when it shows
    /// an Edge, and `topology` (the bundled sample) is the fallback.
    pub infer: bool,
    /// Say on standard error which site stands in (not under the TUI, which owns the screen).
    pub say: bool,
    pub matrix: &'static Matrix,
}

/// What `audit` reads.
#[derive(Debug)]
pub enum AuditInput {
    Captures(Reading),
    Log {
        path: PathBuf,
        options: LogOptions,
    },
    /// `--netflow udp://ADDRESS:PORT`: collect export datagrams until Ctrl-C or `duration`.
    Collect {
        address: std::net::SocketAddr,
        duration: Option<u64>,
        quiet: bool,
    },
}

pub struct FlowsSettings {
    pub reading: Reading,
    pub filter: Option<Filter>,
    pub format: Format,
    pub out: Outputs,
}

/// Where a report and the packets of its flows go, and how its times are shown.
#[derive(Debug, Default)]
pub struct Outputs {
    /// The report; standard output when `None`.
    pub report: Option<PathBuf>,
    /// `-w`: the packets of the flows shown, as pcapng (`-` for standard output).
    pub packets: Option<PathBuf>,
    /// `-t`: a start-time column in the text flows table.
    pub time_format: Option<TimeFormat>,
    /// `--wide`: the text report unwrapped, with every flow and column.
    pub wide: bool,
}

impl Outputs {
    /// How the text report is laid out.
    pub fn text(&self) -> crate::report::TextOptions {
        crate::report::TextOptions {
            time: self.time_format,
            wide: self.wide,
        }
    }
}

pub struct AuditSettings {
    pub input: AuditInput,
    pub site: Site,
    pub filter: Option<Filter>,
    pub format: AuditFormat,
    pub out: Outputs,
    pub fail_on: FailOn,
    /// Browse in the TUI instead of writing a report (captures only).
    pub tui: bool,
    pub quiet: bool,
}

pub struct TuiSettings {
    pub inputs: Vec<InputSpec>,
    pub flow: FlowConfig,
    /// `-c N`: the first N packets only.
    pub count: Option<u64>,
    pub site: Site,
}

/// One command, ready to run.
pub enum Settings {
    Flows(FlowsSettings),
    Audit(Box<AuditSettings>),
    Tui(Box<TuiSettings>),
    Matrix {
        site: Box<Site>,
        format: MatrixFormat,
        /// `--sources`: the documents, not the rules.
        sources: bool,
    },
    TopologyInit {
        output: Option<PathBuf>,
    },
    TopologyCheck {
        file: PathBuf,
        topology: Box<Topology>,
    },
    /// `topology infer`: read the captures, write the site they show.
    TopologyInfer {
        reading: Reading,
        output: Option<PathBuf>,
    },
    Summary {
        files: Vec<PathBuf>,
        by: Vec<String>,
        format: SummaryFormat,
    },
    Generate(cli::GenerateArgs),
    Completions(clap_complete::Shell),
    Man {
        subcommand: Option<String>,
        dir: Option<PathBuf>,
    },
}

impl Settings {
    /// Validates the arguments of one command. Notes (the bundled topology) go to standard
    /// error as they arise, so they come before anything the run says.
    pub fn from_command(command: Command) -> Result<Settings, SettingsError> {
        Ok(match command {
            Command::Flows(args) => {
                let filter = display_filter(&args.read)?;
                if let Some(f) = &filter {
                    f.check_without_audit()
                        .map_err(SettingsError::DisplayFilter)?;
                }
                let reading = reading(&args.read)?;
                let format = flows_format(args.format);
                let out = outputs(args.out, &reading.source)?;
                if format == Format::Parquet && out.report.is_none() {
                    return Err(SettingsError::FlowsParquetNeedsFile);
                }
                Settings::Flows(FlowsSettings {
                    reading,
                    filter,
                    format,
                    out,
                })
            }
            Command::Audit(args) => {
                let filter = display_filter(&args.read)?;
                let tz = match args.tz_offset.as_deref() {
                    Some(s) => crate::logs::parse_tz(s).map_err(SettingsError::TzOffset)?,
                    None => Default::default(),
                };
                let options = LogOptions {
                    format: args.log_format.map(log_format),
                    tz,
                    reference_ns: None,
                };
                let input = audit_input(&args, options)?;
                // After the inputs: a bad input is the one thing said, not a note beside it.
                let site = site(args.topology.as_deref(), Stand::Infer { say: true })?;
                let out = match &input {
                    AuditInput::Captures(r) => outputs(args.out, &r.source)?,
                    AuditInput::Log { .. } | AuditInput::Collect { .. }
                        if args.out.write.is_some() =>
                    {
                        return Err(SettingsError::WriteNeedsFiles(
                            "a firewall log has no packets",
                        ))
                    }
                    AuditInput::Log { .. } | AuditInput::Collect { .. } => {
                        outputs(args.out, &Source::Files(Vec::new()))?
                    }
                };
                // The TUI replaces the report of captures; a log's report is written anyway.
                let writes_report = !args.tui || !matches!(input, AuditInput::Captures(_));
                if args.tui && out.packets.is_some() {
                    return Err(SettingsError::WriteNeedsFiles(
                        "with --tui there is no report to take the flows from: drop --tui, or -w",
                    ));
                }
                if writes_report && args.format == AuditFormat::Parquet && out.report.is_none() {
                    return Err(SettingsError::AuditParquetNeedsFile);
                }
                Settings::Audit(Box::new(AuditSettings {
                    input,
                    site,
                    filter,
                    format: args.format,
                    out,
                    fail_on: fail_on(args.fail_on),
                    tui: args.tui,
                    quiet: args.read.quiet,
                }))
            }
            Command::Tui(args) => {
                // Options of the shared read arguments that the TUI cannot honour are refused,
                // not ignored.
                if args.read.display_filter.is_some() {
                    return Err(SettingsError::TuiDisplayFilter);
                }
                if let Some(value) = args.time_format {
                    return Err(SettingsError::TimeFormatUnused {
                        command: "tui",
                        value,
                    });
                }
                if args.read.interface.is_some() || args.read.duration.is_some() {
                    return Err(SettingsError::TuiLive);
                }
                // The UI takes the screen at once: the bundled-topology note would be lost.
                let site = site(args.topology.as_deref(), Stand::Infer { say: false })?;
                let inputs = input::expand(&args.read.inputs).map_err(SettingsError::Input)?;
                if inputs.iter().any(|i| matches!(i, InputSpec::Stdin)) {
                    // Standard input is the terminal's keyboard here.
                    return Err(SettingsError::TuiStdin);
                }
                if let Route::Log(path) = sniff::route(&inputs).map_err(SettingsError::Log)? {
                    return Err(SettingsError::TuiLog(path));
                }
                Settings::Tui(Box::new(TuiSettings {
                    inputs,
                    flow: flow_config(&args.read),
                    count: args.read.count,
                    site,
                }))
            }
            Command::Matrix(args) => {
                if let Some(value) = args.time_format {
                    return Err(SettingsError::TimeFormatUnused {
                        command: "matrix",
                        value,
                    });
                }
                Settings::Matrix {
                    site: Box::new(site(args.topology.as_deref(), Stand::Bundled)?),
                    format: args.format,
                    sources: args.sources,
                }
            }
            Command::Topology(cli::TopologyCommand::Init { output, force }) => {
                if let Some(path) = &output {
                    if path.exists() && !force {
                        return Err(SettingsError::TopologyExists(path.clone()));
                    }
                }
                Settings::TopologyInit { output }
            }
            Command::Topology(cli::TopologyCommand::Check { file }) => {
                let topology = Topology::load(&file).map_err(SettingsError::Topology)?;
                Settings::TopologyCheck {
                    file,
                    topology: Box::new(topology),
                }
            }
            Command::Topology(cli::TopologyCommand::Infer {
                inputs,
                output,
                force,
                quiet,
            }) => {
                if let Some(path) = &output {
                    if path.exists() && !force {
                        return Err(SettingsError::TopologyExists(path.clone()));
                    }
                }
                let source = Source::Files(input::expand(&inputs).map_err(SettingsError::Input)?);
                Settings::TopologyInfer {
                    reading: Reading {
                        source,
                        flow: FlowConfig::default(),
                        count: None,
                        quiet,
                    },
                    output,
                }
            }
            Command::Summary(args) => Settings::Summary {
                files: args.files,
                by: args.by,
                format: args.format,
            },
            Command::Generate(args) => Settings::Generate(args),
            Command::Completions { shell } => Settings::Completions(shell),
            Command::Man { subcommand, dir } => Settings::Man { subcommand, dir },
        })
    }
}

/// Parses `-Y` once; its error points at the bad token.
fn display_filter(read: &ReadArgs) -> Result<Option<Filter>, SettingsError> {
    read.display_filter
        .as_deref()
        .map(Filter::parse)
        .transpose()
        .map_err(SettingsError::DisplayFilter)
}

fn flow_config(read: &ReadArgs) -> FlowConfig {
    let auto = FlowConfig::default();
    FlowConfig {
        max_flows: read.max_flows,
        threads: if read.threads == 0 {
            auto.threads
        } else {
            read.threads
        },
        ..auto
    }
}

/// The source: a live interface, or the files behind `-r` (checked to exist now): captures,
/// or one log, told apart by their content.
fn reading(read: &ReadArgs) -> Result<Reading, SettingsError> {
    if read.duration.is_some() && read.interface.is_none() {
        return Err(SettingsError::DurationWithoutLive);
    }
    let source = match &read.interface {
        Some(interface) => Source::Live(LiveOptions {
            interface: interface.clone(),
            capture_filter: read.capture_filter.clone(),
            duration: read.duration,
            count: read.count,
        }),
        None => {
            let inputs = input::expand(&read.inputs).map_err(SettingsError::Input)?;
            match sniff::route(&inputs).map_err(SettingsError::Log)? {
                Route::Log(path) => Source::Log(path),
                Route::Captures => Source::Files(inputs),
            }
        }
    };
    // With -i the count is the live capture's (in `LiveOptions`).
    let count = match source {
        Source::Files(_) => read.count,
        Source::Live(_) | Source::Log(_) => None,
    };
    Ok(Reading {
        source,
        flow: flow_config(read),
        count,
        quiet: read.quiet,
    })
}

/// What `audit` reads: the log of `--log`, or what `-r` names: captures, or one log told by its
/// content (or named by --log-format when its content matches no format's signature).
fn audit_input(args: &cli::AuditArgs, options: LogOptions) -> Result<AuditInput, SettingsError> {
    if let Some(source) = &args.netflow {
        if let Some(address) = source.strip_prefix("udp://") {
            let address = address
                .parse()
                .map_err(|_| SettingsError::NetflowAddress(source.clone()))?;
            return Ok(AuditInput::Collect {
                address,
                duration: args.read.duration,
                quiet: args.read.quiet,
            });
        }
        if source.contains("://") {
            return Err(SettingsError::NetflowAddress(source.clone()));
        }
        if args.read.duration.is_some() {
            return Err(SettingsError::DurationWithoutLive);
        }
        let path = PathBuf::from(source);
        let options = LogOptions {
            format: Some(LogFormat::Netflow),
            ..options
        };
        sniff::check_log(&path, options.format).map_err(SettingsError::Log)?;
        return Ok(AuditInput::Log { path, options });
    }
    if let Some(path) = &args.log {
        sniff::check_log(path, options.format).map_err(SettingsError::Log)?;
        return Ok(AuditInput::Log {
            path: path.clone(),
            options,
        });
    }
    let reading = match reading(&args.read) {
        Err(SettingsError::Log(e))
            if options.format.is_some()
                && matches!(e.problem, sniff::LogProblem::Undetected(_)) =>
        {
            return Ok(AuditInput::Log {
                path: e.path,
                options,
            })
        }
        r => r?,
    };
    if let Source::Log(path) = &reading.source {
        return Ok(AuditInput::Log {
            path: path.clone(),
            options,
        });
    }
    // A capture of exports that does not look like one (exports to an unusual port among
    // other traffic), named by --log-format netflow.
    if let (Some(LogFormat::Netflow), Source::Files(inputs)) = (options.format, &reading.source) {
        if let [InputSpec::File(path)] = inputs.as_slice() {
            return Ok(AuditInput::Log {
                path: path.clone(),
                options,
            });
        }
    }
    if args.log_format.is_some() || args.tz_offset.is_some() {
        return Err(SettingsError::LogOptionsWithCaptures);
    }
    Ok(AuditInput::Captures(reading))
}

/// What stands in for a topology the user did not give.
#[derive(Clone, Copy)]
enum Stand {
    /// The bundled sample, said now (`matrix` reads no traffic).
    Bundled,
    /// The site inferred from the traffic once read, said then when `say`.
    Infer { say: bool },
}

/// `-o`, `-w` and `-t`, checked against what is read: packets can only be written again from
/// capture files, never over one of them, and never to the standard output the report uses.
fn outputs(args: OutputArgs, source: &Source) -> Result<Outputs, SettingsError> {
    if let Some(o) = &args.output {
        if looks_like_preference(o) {
            return Err(SettingsError::OutputLooksLikePreference(
                o.display().to_string(),
            ));
        }
    }
    if let Some(w) = &args.write {
        let inputs =
            match source {
                Source::Live(_) => return Err(SettingsError::WriteNeedsFiles(
                    "a live capture has none: capture to a file with dumpcap or tshark -w first, \
                     then read it with -r",
                )),
                Source::Log(_) => {
                    return Err(SettingsError::WriteNeedsFiles(
                        "a firewall log has no packets",
                    ))
                }
                Source::Files(inputs) => inputs,
            };
        if inputs.iter().any(|i| matches!(i, InputSpec::Stdin)) {
            return Err(SettingsError::WriteNeedsFiles(
                "standard input cannot be read twice: save it to a file and read that with -r",
            ));
        }
        let is_stdout = w.as_os_str() == "-";
        if is_stdout && args.output.is_none() {
            return Err(SettingsError::BothToStandardOutput);
        }
        if !is_stdout {
            let target = std::fs::canonicalize(w).ok();
            let clash = inputs.iter().any(|i| match i {
                InputSpec::File(p) => target.is_some() && std::fs::canonicalize(p).ok() == target,
                InputSpec::Stdin => false,
            });
            if clash {
                return Err(SettingsError::WriteOverInput(w.clone()));
            }
        }
    }
    Ok(Outputs {
        report: args.output,
        packets: args.write,
        time_format: args.time_format,
        wide: args.wide,
    })
}

/// `ip.defragment:FALSE`: a dotted preference name, a colon and a value, as tshark's `-o`
/// takes; a file name rarely has that shape, and a path never does.
fn looks_like_preference(path: &Path) -> bool {
    let Some(s) = path.to_str() else {
        return false;
    };
    let Some((name, _)) = s.split_once(':') else {
        return false;
    };
    !s.contains(['/', '\\'])
        && name.contains('.')
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// The user's topology, or what stands in for it.
fn site(path: Option<&Path>, stand: Stand) -> Result<Site, SettingsError> {
    let (topology, assumed) = match path {
        Some(p) => {
            let t = Topology::load(p).map_err(SettingsError::Topology)?;
            for w in t.warnings() {
                messages::error(&format_args!("warning: {w}"));
            }
            (t, false)
        }
        None => {
            if matches!(stand, Stand::Bundled) {
                messages::bundled_topology();
            }
            let t = Topology::parse(topology::SAMPLE, Path::new("<bundled sample topology>"))
                .map_err(SettingsError::Topology)?;
            (t, true)
        }
    };
    let matrix = Matrix::builtin().map_err(SettingsError::Matrix)?;
    Ok(Site {
        topology,
        assumed,
        infer: assumed && matches!(stand, Stand::Infer { .. }),
        say: !matches!(stand, Stand::Infer { say: false }),
        matrix,
    })
}

fn flows_format(f: cli::FlowsFormat) -> Format {
    use cli::FlowsFormat as C;
    match f {
        C::Text => Format::Text,
        C::Json => Format::Json,
        C::Jsonl => Format::Jsonl,
        C::Csv => Format::Csv,
        C::Zeek => Format::Zeek,
        C::ZeekJson => Format::ZeekJson,
        C::Parquet => Format::Parquet,
    }
}

fn fail_on(f: cli::FailOn) -> FailOn {
    match f {
        cli::FailOn::Violation => FailOn::Violation,
        cli::FailOn::Hairpin => FailOn::Hairpin,
        cli::FailOn::Error => FailOn::Error,
        cli::FailOn::Warning => FailOn::Warning,
        cli::FailOn::Never => FailOn::Never,
    }
}

fn log_format(f: cli::LogFormat) -> LogFormat {
    match f {
        cli::LogFormat::Pfirewall => LogFormat::Pfirewall,
        cli::LogFormat::Asa => LogFormat::Asa,
        cli::LogFormat::Panos => LogFormat::Panos,
        cli::LogFormat::Fortigate => LogFormat::Fortigate,
        cli::LogFormat::ZeekTsv => LogFormat::ZeekTsv,
        cli::LogFormat::ZeekJson => LogFormat::ZeekJson,
        cli::LogFormat::Netflow => LogFormat::Netflow,
        cli::LogFormat::NfdumpCsv => LogFormat::NfdumpCsv,
        cli::LogFormat::Netfilter => LogFormat::Netfilter,
        cli::LogFormat::Filterlog => LogFormat::Filterlog,
        cli::LogFormat::Cef => LogFormat::Cef,
        cli::LogFormat::Leef => LogFormat::Leef,
        cli::LogFormat::Checkpoint => LogFormat::Checkpoint,
    }
}
