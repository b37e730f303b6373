//! Command-line arguments become validated [`Settings`] in one step: the topology is loaded and
//! the display filter parsed once, the inputs listed, and every usage error found here (exit
//! status 2) rather than halfway through a run. Clap's value enums are mapped to the library's
//! own here, so the library does not depend on clap.

use std::path::{Path, PathBuf};

use crate::audit::FailOn;
use crate::cli::{self, AuditFormat, Command, MatrixFormat, ReadArgs, SummaryFormat};
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
    #[error("--format parquet writes files: add -w FILE.parquet")]
    AuditParquetNeedsFile,
    #[error("--format parquet writes a file: add -w FILE.parquet")]
    FlowsParquetNeedsFile,
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
    Log { path: PathBuf, options: LogOptions },
}

pub struct FlowsSettings {
    pub reading: Reading,
    pub filter: Option<Filter>,
    pub format: Format,
    /// Standard output when `None`.
    pub output: Option<PathBuf>,
}

pub struct AuditSettings {
    pub input: AuditInput,
    pub site: Site,
    pub filter: Option<Filter>,
    pub format: AuditFormat,
    pub output: Option<PathBuf>,
    pub fail_on: FailOn,
    /// Browse in the TUI instead of writing a report (captures only).
    pub tui: bool,
    pub quiet: bool,
}

pub struct TuiSettings {
    pub inputs: Vec<InputSpec>,
    pub flow: FlowConfig,
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
    Man,
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
                if format == Format::Parquet && args.output.is_none() {
                    return Err(SettingsError::FlowsParquetNeedsFile);
                }
                Settings::Flows(FlowsSettings {
                    reading,
                    filter,
                    format,
                    output: args.output,
                })
            }
            Command::Audit(args) => {
                let filter = display_filter(&args.read)?;
                let tz_offset_s = match args.tz_offset.as_deref() {
                    Some(s) => crate::logs::parse_tz_offset(s).map_err(SettingsError::TzOffset)?,
                    None => 0,
                };
                let options = LogOptions {
                    format: args.log_format.map(log_format),
                    tz_offset_s,
                };
                let input = audit_input(&args, options)?;
                // After the inputs: a bad input is the one thing said, not a note beside it.
                let site = site(args.topology.as_deref(), Stand::Infer { say: true })?;
                // The TUI replaces the report of captures; a log's report is written anyway.
                let writes_report = !args.tui || matches!(input, AuditInput::Log { .. });
                if writes_report && args.format == AuditFormat::Parquet && args.output.is_none() {
                    return Err(SettingsError::AuditParquetNeedsFile);
                }
                Settings::Audit(Box::new(AuditSettings {
                    input,
                    site,
                    filter,
                    format: args.format,
                    output: args.output,
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
                if args.read.interface.is_some() {
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
                    site,
                }))
            }
            Command::Matrix(args) => Settings::Matrix {
                site: Box::new(site(args.topology.as_deref(), Stand::Bundled)?),
                format: args.format,
            },
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
            Command::Man => Settings::Man,
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
    Ok(Reading {
        source,
        flow: flow_config(read),
        quiet: read.quiet,
    })
}

/// What `audit` reads: the log of `--log`, or what `-r` names: captures, or one log told by its
/// content (or named by --log-format when its content matches no format's signature).
fn audit_input(args: &cli::AuditArgs, options: LogOptions) -> Result<AuditInput, SettingsError> {
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
    }
}
