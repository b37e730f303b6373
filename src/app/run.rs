//! [`Settings`] -> [`Outcome`]: the capture and firewall-log pipelines, shared by the CLI and
//! the TUI, through the library's own calls. Nothing here writes a report; the notes a run
//! owes the user (inputs cut short, what the filter kept) go to standard error as they arise.

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::analysis::{self, Analysis, Completeness, NoProgress, Progress};
use crate::audit::Audit;
use crate::flow::FlowConfig;
use crate::logs::to_flow::{LogFlowInfo, LogFlows};
use crate::logs::{self, LogOptions};
use crate::select::Selection;
use crate::source::input::{self, DynRead, InputSpec};
use crate::tui::{self, Loading, Model};

use super::messages;
use super::settings::{AuditInput, AuditSettings, Reading, Settings, Site, Source, TuiSettings};

/// What a run produced: the plain data the renderers and the exit status need.
pub enum Outcome {
    /// `flows`: the analysis, and what the display filter kept of it.
    Flows {
        analysis: Box<Analysis>,
        selection: Option<Selection>,
    },
    /// `audit` of captures or of a firewall log.
    Audit(Box<Audited>),
    /// No input could be used; the reasons were printed.
    Unusable,
    /// The TUI ran until the user quit.
    Browsed,
    /// A command whose whole work is its output (matrix, topology, summary, completions, man).
    Print,
    /// `generate`, which chose its own exit status.
    Generated(ExitCode),
    /// `topology infer`: the site the captures show, and how completely they were read.
    Inferred {
        inference: Box<crate::infer::Inference>,
        completeness: Completeness,
    },
}

/// An audit, ready to render.
pub struct Audited {
    pub analysis: Analysis,
    pub audit: Audit,
    /// What the display filter kept, when one was given; reports show only those flows.
    pub selection: Option<Selection>,
    /// Set when the flows came from a firewall log.
    pub log: Option<LogSide>,
}

/// What only a firewall log gives: its line counts and, by flow index, the firewall's side.
pub struct LogSide {
    pub summary: logs::Summary,
    pub info: Vec<LogFlowInfo>,
}

/// Runs one command up to its output.
pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    Ok(match settings {
        Settings::Flows(s) => {
            let Some(analysis) = read(&s.reading) else {
                return Ok(Outcome::Unusable);
            };
            let selection = s.filter.as_ref().map(|f| {
                let selection = f.select(&analysis, None);
                messages::filter_kept(&selection, s.reading.quiet);
                selection
            });
            Outcome::Flows {
                analysis: Box::new(analysis),
                selection,
            }
        }
        Settings::Audit(s) => match &s.input {
            AuditInput::Captures(reading) => {
                let Some(analysis) = read(reading) else {
                    return Ok(Outcome::Unusable);
                };
                Outcome::Audit(Box::new(audit(analysis, s)))
            }
            AuditInput::Log { path, options } => match audit_log(path, *options, s)? {
                Some(audited) => Outcome::Audit(Box::new(audited)),
                None => Outcome::Unusable,
            },
            AuditInput::Collect {
                address,
                duration,
                quiet,
            } => match collect(*address, *duration, *quiet, s)? {
                Some(audited) => Outcome::Audit(Box::new(audited)),
                None => Outcome::Unusable,
            },
        },
        Settings::Tui(s) => browse(s)?,
        Settings::Generate(args) => Outcome::Generated(crate::generate_cmd::run(args)?),
        Settings::TopologyInfer { reading, .. } => {
            let Some(analysis) = read(reading) else {
                return Ok(Outcome::Unusable);
            };
            let inference = infer(&analysis).map_err(|e| match e {
                crate::infer::InferError::NoEdge(why) => anyhow::anyhow!(
                    "{}: nothing to infer a topology from: {why}; write one by hand with \
                     `edgewise topology init -o site.toml`",
                    input_names(&analysis)
                ),
                other => anyhow::anyhow!("{other}"),
            })?;
            Outcome::Inferred {
                inference: Box::new(inference),
                completeness: analysis.completeness(),
            }
        }
        Settings::Matrix { .. }
        | Settings::TopologyInit { .. }
        | Settings::TopologyCheck { .. }
        | Settings::Summary { .. }
        | Settings::Completions(_)
        | Settings::Man { .. } => Outcome::Print,
    })
}

/// Reads captures, with a progress bar on a terminal. `None` when nothing could be read; every
/// input problem has been reported either way.
fn read(reading: &Reading) -> Option<Analysis> {
    let analysis = match &reading.source {
        Source::Live(options) => match crate::live::capture(options, reading.flow) {
            Ok(a) => a,
            Err(e) => {
                messages::error(&e);
                return None;
            }
        },
        Source::Files(inputs) => {
            let bar = progress_bar(inputs, reading.quiet);
            let progress: &dyn Progress = match &bar {
                Some(b) => b,
                None => &NoProgress,
            };
            read_files(inputs, reading.flow, reading.count, progress)
        }
        Source::Log(path) => {
            let parsed = match read_log(path, LogOptions::default()) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return None,
                Err(e) => {
                    messages::error(&format_args!("{e:#}"));
                    return None;
                }
            };
            logs::to_flow::analysis_of(&path.display().to_string(), &parsed.summary, parsed.flows)
        }
    };
    messages::input_problems(&analysis);
    (analysis.completeness() != Completeness::Unusable).then_some(analysis)
}

/// Reads capture files, the first `count` packets when given (`-c`); the first stage of every
/// capture run, CLI or TUI.
pub fn read_files(
    inputs: &[InputSpec],
    flow: FlowConfig,
    count: Option<u64>,
    progress: &dyn Progress,
) -> Analysis {
    analysis::analyze_count(inputs, flow, count, progress)
}

/// Judges every flow against the site; the display filter then selects what is shown (and
/// what the exit status follows), while the cross-flow diagnosis saw every flow.
fn audit(analysis: Analysis, s: &AuditSettings) -> Audited {
    let audit = audit_analysis(&analysis, &s.site);
    let selection = select(s, &analysis, &audit);
    Audited {
        analysis,
        audit,
        selection,
        log: None,
    }
}

/// What the display filter keeps of an audit, said on standard error.
fn select(s: &AuditSettings, analysis: &Analysis, audit: &Audit) -> Option<Selection> {
    let selection = s.filter.as_ref()?.select(analysis, Some(audit));
    messages::filter_kept(&selection, s.quiet);
    Some(selection)
}

/// The audit of one analysis for a site. Without a topology from the user, the site the
/// traffic shows stands in, and the bundled sample only when it shows no Edge.
pub fn audit_analysis(analysis: &Analysis, site: &Site) -> Audit {
    if site.infer {
        match infer(analysis) {
            Ok(inferred) => {
                if site.say {
                    messages::inferred_topology(&inferred.summary);
                }
                return crate::audit::audit_from(
                    analysis,
                    &inferred.topology,
                    site.matrix,
                    crate::audit::Origin::Inferred,
                    Default::default(),
                );
            }
            Err(e) => {
                if site.say {
                    messages::error(&format_args!(
                        "no site could be inferred from the input: {e}"
                    ));
                    messages::bundled_topology();
                }
            }
        }
    }
    crate::audit::audit(analysis, &site.topology, site.matrix, site.assumed)
}

/// Parses a log; `None` (the reason said, naming the file and the fix) when no line of it can
/// be used: an audit of nothing would read as a pass.
fn read_log(path: &std::path::Path, options: LogOptions) -> anyhow::Result<Option<LogFlows>> {
    let parsed =
        logs::read_flows(path, options).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if parsed.summary.used == 0 {
        let content = logs::sniff::sniff(path).ok();
        if let Some(why) = logs::sniff::unusable(path, &parsed.summary, content.as_ref()) {
            messages::error(&why);
        }
        return Ok(None);
    }
    Ok(Some(parsed))
}

/// The site an analysis shows, named after its inputs.
fn infer(analysis: &Analysis) -> Result<crate::infer::Inference, crate::infer::InferError> {
    crate::infer::infer(
        analysis,
        &format!("<inferred from {}>", input_names(analysis)),
    )
}

/// The inputs of a run in a few words.
fn input_names(analysis: &Analysis) -> String {
    match analysis.inputs.as_slice() {
        [] => "the input".into(),
        [one] => one.name.clone(),
        many if many.len() <= 3 => many
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        many => format!("{} inputs", many.len()),
    }
}

/// A firewall log, parsed, turned into flows, judged as captures are, with the findings only
/// a log gives (FW1, FW2). `None` when no line of it can be used.
fn audit_log(
    path: &std::path::Path,
    options: LogOptions,
    s: &AuditSettings,
) -> anyhow::Result<Option<Audited>> {
    let Some(parsed) = read_log(path, options)? else {
        return Ok(None);
    };
    Ok(Some(audit_parsed(&path.display().to_string(), parsed, s)))
}

/// `--netflow udp://ADDRESS:PORT`: export datagrams collected until Ctrl-C or --duration, then
/// audited as a capture of them would be. `None` when no flow record arrived.
fn collect(
    address: std::net::SocketAddr,
    duration: Option<u64>,
    quiet: bool,
    s: &AuditSettings,
) -> anyhow::Result<Option<Audited>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let name = format!("udp://{address}");
    let socket = std::net::UdpSocket::bind(address)
        .map_err(|e| anyhow::anyhow!("{name}: cannot listen: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A handler already installed (a second run in one process) leaves Ctrl-C its default.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    if !quiet {
        messages::error(&format_args!(
            "collecting NetFlow/IPFIX exports on {name}{}; Ctrl-C ends and writes the report",
            duration.map_or(String::new(), |d| format!(" for {d} s"))
        ));
    }
    let bar = (!quiet && io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        b
    });
    let parsed = logs::netflow::listen(
        &socket,
        &stop,
        duration.map(std::time::Duration::from_secs),
        |x| {
            if let Some(b) = &bar {
                b.set_message(format!(
                    "{} export datagrams from {} exporters",
                    x.packets,
                    x.exporters.len()
                ));
            }
        },
    )
    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if parsed.summary.used == 0 {
        let x = parsed.summary.exports.as_ref();
        messages::error(&format_args!(
            "{name}: no flow record arrived ({} export datagrams, {} other datagrams): point the \
             exporter's collector at this address and port, and collect for longer than its \
             template timeout",
            x.map_or(0, |x| x.packets),
            x.map_or(0, |x| x.other_packets)
        ));
        return Ok(None);
    }
    Ok(Some(audit_parsed(&name, parsed.into(), s)))
}

/// The audit of a parsed log or flow export, with the findings only a log gives.
fn audit_parsed(name: &str, parsed: LogFlows, s: &AuditSettings) -> Audited {
    let LogFlows {
        summary,
        flows,
        info,
    } = parsed;
    let analysis = logs::to_flow::analysis_of(name, &summary, flows);
    let outcomes = crate::audit::LogOutcomes {
        unrecorded: info.iter().map(|x| !x.outcome_recorded).collect(),
        denied: info.iter().map(LogFlowInfo::blocked).collect(),
    };
    let mut audit = crate::audit::audit_with(
        &analysis,
        &s.site.topology,
        s.site.matrix,
        s.site.assumed,
        outcomes,
    );
    crate::diagnose::firewall::attach(&analysis, &mut audit, &info, summary.format);
    let selection = select(s, &analysis, &audit);
    Audited {
        analysis,
        audit,
        selection,
        log: Some(LogSide { summary, info }),
    }
}

/// `edgewise tui`: the same reading and audit as `audit`, on the TUI's loading thread.
fn browse(s: &TuiSettings) -> anyhow::Result<Outcome> {
    let loading = Loading {
        names: s.inputs.iter().map(InputSpec::display_name).collect(),
        read: 0,
        total: s.inputs.iter().map(input::input_size).sum(),
    };
    let done = tui::run_loading(loading, |progress| {
        let analysis = read_files(&s.inputs, s.flow, s.count, progress);
        if analysis.completeness() == Completeness::Unusable {
            return Err(Box::new(analysis));
        }
        let audit = audit_analysis(&analysis, &s.site);
        Ok(Model::from_audit(analysis, audit, s.site.matrix))
    })?;
    Ok(match done {
        Ok(()) => Outcome::Browsed,
        Err(analysis) => {
            messages::input_problems(&analysis);
            Outcome::Unusable
        }
    })
}

/// The progress bar on standard error, when it is a terminal and not --quiet.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn wrap(&self, r: DynRead) -> DynRead {
        Box::new(self.0.wrap_read(r))
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn progress_bar(inputs: &[InputSpec], quiet: bool) -> Option<Bar> {
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
