//! The `edgewise` binary: parse the command line, run the library, map the outcome to an exit
//! status (0 complete, 1 findings at or above --fail-on, 2 unusable input, 3 partial read).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use edgewise::analysis::{self, Completeness, Progress};
use edgewise::cli::{
    AuditArgs, AuditFormat, Cli, Command, FlowsArgs, MatrixArgs, MatrixFormat, TopologyCommand,
};
use edgewise::flow::FlowConfig;
use edgewise::matrix::Matrix;
use edgewise::report;
use edgewise::source::input::{self, DynRead};
use edgewise::topology::Topology;

/// Exit status when the audit found something at or above --fail-on.
const EXIT_FINDINGS: u8 = 1;
/// Exit status for unusable input (bad file, bad arguments).
const EXIT_UNUSABLE: u8 = 2;
/// Exit status for a partial read: output was produced, but some input was damaged.
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flows(args) => flows(args),
        Command::Summary(args) => analytics_out::summary(&args),
        Command::Audit(args) => audit(args),
        Command::Matrix(args) => matrix(args),
        Command::Topology(cmd) => topology(cmd),
        Command::Generate(args) => edgewise::generate_cmd::run(&args),
        Command::Tui(args) => edgewise::tui::main(&args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
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

/// Loads the topology, or the bundled sample with a notice on standard error.
fn load_topology(path: Option<&std::path::Path>) -> Result<(Topology, bool), String> {
    match path {
        Some(p) => Topology::load(p)
            .map(|t| (t, false))
            .map_err(|e| e.to_string()),
        None => {
            eprintln!(
                "edgewise: no --topology given: assuming the bundled sample topology (site 'contoso', sfb2015, \
                 single Edge 172.25.33.10 / 10.45.16.10-.30 behind NAT as 131.107.155.10-.30); \
                 write your own with `edgewise topology init -o site.toml`"
            );
            Topology::parse(
                edgewise::topology::SAMPLE,
                std::path::Path::new("<bundled sample topology>"),
            )
            .map(|t| (t, true))
            .map_err(|e| e.to_string())
        }
    }
}

fn with_output(
    path: Option<&std::path::Path>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", path.display()))?;
            let mut w = io::BufWriter::new(file);
            f(&mut w)?;
            w.flush()?;
        }
        None => {
            let stdout = io::stdout();
            let mut w = io::BufWriter::new(stdout.lock());
            f(&mut w)?;
            w.flush()?;
        }
    }
    Ok(())
}

fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let Ok(filter) = display_filter(&args.read) else {
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    };
    let (topology, assumed) = match load_topology(args.topology.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("edgewise: {e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let matrix = Matrix::builtin()
        .map_err(|e| anyhow::anyhow!("the built-in port matrix is damaged: {e}"))?;
    if let Some(log) = &args.log {
        return audit_log(&args, log, &topology, matrix, assumed, filter.as_ref());
    }
    let Some(mut analysis) = read_inputs(&args.read)? else {
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    };
    // The audit (and its cross-flow diagnosis) runs over every flow; the filter then selects
    // what is shown, and the exit status follows what is shown.
    let mut audit = edgewise::audit::audit(&analysis, &topology, matrix, assumed);
    let summary = filter.as_ref().map(|f| {
        let (s, _) = edgewise::filter::apply_to_audit(f, &mut analysis, &mut audit);
        note_filter(&s, args.read.quiet);
        s
    });
    if args.tui {
        let code = if args.fail_on.fails(&audit) {
            EXIT_FINDINGS
        } else if analysis.completeness() == Completeness::Partial {
            EXIT_PARTIAL
        } else {
            0
        };
        edgewise::tui::run(edgewise::tui::Model::from_audit(analysis, audit, matrix))?;
        return Ok(ExitCode::from(code));
    }
    if matches!(args.format, AuditFormat::Parquet | AuditFormat::Csv) {
        if let Some(path) = args.output.as_deref() {
            let companion = |ext: &str| {
                let mut p = path.as_os_str().to_owned();
                p.push(ext);
                std::path::PathBuf::from(p)
            };
            if args.format == AuditFormat::Parquet {
                analytics_out::write(
                    &analysis,
                    Some(&audit),
                    &topology.name,
                    path,
                    &companion(".findings.parquet"),
                )?;
            } else {
                with_output(Some(path), |w| {
                    report::audit::write_csv(&analysis, &audit, w)
                })?;
                let findings = companion(".findings.csv");
                with_output(Some(&findings), |w| {
                    report::audit::write_findings_csv(&audit, w)
                })?;
            }
        } else if args.format == AuditFormat::Parquet {
            eprintln!("edgewise: --format parquet writes files: add -w FILE.parquet");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        } else {
            with_output(None, |w| report::audit::write_csv(&analysis, &audit, w))?;
        }
        return Ok(if args.fail_on.fails(&audit) {
            ExitCode::from(EXIT_FINDINGS)
        } else if analysis.completeness() == Completeness::Partial {
            ExitCode::from(EXIT_PARTIAL)
        } else {
            ExitCode::SUCCESS
        });
    }
    with_output(args.output.as_deref(), |w| match args.format {
        AuditFormat::Csv | AuditFormat::Parquet => Ok(()),
        AuditFormat::Text => {
            report::audit::write_text_filtered(&analysis, &audit, matrix, summary.as_ref(), w)
        }
        AuditFormat::Json => {
            report::audit::write_json_filtered(&analysis, &audit, matrix, summary.as_ref(), w)
        }
        AuditFormat::Zeek | AuditFormat::ZeekJson => report::zeek::write_audit(
            &analysis,
            &audit,
            &report::zeek::ZeekOptions {
                json: args.format == AuditFormat::ZeekJson,
                filter: summary.as_ref(),
            },
            w,
        ),
    })?;
    Ok(if args.fail_on.fails(&audit) {
        ExitCode::from(EXIT_FINDINGS)
    } else if analysis.completeness() == Completeness::Partial {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// `edgewise audit --log FILE`: the audit of a firewall log (exit 3 when lines were unparsable).
fn audit_log(
    args: &AuditArgs,
    log: &std::path::Path,
    topology: &Topology,
    matrix: &Matrix,
    assumed: bool,
    filter: Option<&edgewise::filter::Filter>,
) -> anyhow::Result<ExitCode> {
    let tz_offset_s = match args
        .tz_offset
        .as_deref()
        .map(edgewise::logs::parse_tz_offset)
    {
        Some(Err(e)) => {
            eprintln!("edgewise: --tz-offset: {e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
        Some(Ok(s)) => s,
        None => 0,
    };
    let opts = edgewise::logs::LogOptions {
        format: args.log_format,
        tz_offset_s,
    };
    let parsed = match edgewise::logs::parse_file(log, opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("edgewise: {}: {e}", log.display());
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let mut la = edgewise::logs::audit_log(
        &log.display().to_string(),
        &parsed,
        topology,
        matrix,
        assumed,
    );
    let summary = filter.map(|f| {
        let (s, keep) = edgewise::filter::apply_to_audit(f, &mut la.analysis, &mut la.audit);
        edgewise::filter::retain_by_mask(&mut la.info, &keep);
        note_filter(&s, args.read.quiet);
        s
    });
    if args.format == AuditFormat::Parquet {
        let Some(path) = args.output.as_deref() else {
            eprintln!("edgewise: --format parquet writes files: add -w FILE.parquet");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        };
        let mut findings = path.as_os_str().to_owned();
        findings.push(".findings.parquet");
        analytics_out::write(
            &la.analysis,
            Some(&la.audit),
            &topology.name,
            path,
            std::path::Path::new(&findings),
        )?;
    }
    with_output(
        args.output
            .as_deref()
            .filter(|_| args.format != AuditFormat::Parquet),
        |w| match args.format {
            AuditFormat::Parquet => Ok(()),
            AuditFormat::Csv => report::audit::write_csv(&la.analysis, &la.audit, w),
            AuditFormat::Text => edgewise::logs::write_text(&la, matrix, w),
            AuditFormat::Json => edgewise::logs::write_json(&la, matrix, w),
            AuditFormat::Zeek | AuditFormat::ZeekJson => report::zeek::write_audit(
                &la.analysis,
                &la.audit,
                &report::zeek::ZeekOptions {
                    json: args.format == AuditFormat::ZeekJson,
                    filter: summary.as_ref(),
                },
                w,
            ),
        },
    )?;
    Ok(if args.fail_on.fails(&la.audit) {
        ExitCode::from(EXIT_FINDINGS)
    } else if la.summary.used == 0 && la.summary.lines > la.summary.comment {
        ExitCode::from(EXIT_UNUSABLE)
    } else if la.summary.unparsable_total() > 0 {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

fn matrix(args: MatrixArgs) -> anyhow::Result<ExitCode> {
    let (topology, _) = match load_topology(args.topology.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("edgewise: {e}");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        }
    };
    let matrix = Matrix::builtin()
        .map_err(|e| anyhow::anyhow!("the built-in port matrix is damaged: {e}"))?;
    let judge = edgewise::judge::Judge::new(&topology, matrix);
    with_output(None, |w| match args.format {
        MatrixFormat::Text => report::matrix::write_text(&judge, w),
        MatrixFormat::Csv => report::matrix::write_csv(&judge, w),
        MatrixFormat::Json => report::matrix::write_json(&judge, w),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn topology(cmd: TopologyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TopologyCommand::Init { output, force } => {
            match output {
                Some(path) => {
                    if path.exists() && !force {
                        eprintln!(
                            "edgewise: {} exists; use --force to overwrite it",
                            path.display()
                        );
                        return Ok(ExitCode::from(EXIT_UNUSABLE));
                    }
                    std::fs::write(&path, edgewise::topology::SAMPLE)
                        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
                    eprintln!("wrote {}: edit the addresses, product, scenario and features for your site", path.display());
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    print!("{}", edgewise::topology::SAMPLE);
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        TopologyCommand::Check { file } => match Topology::load(&file) {
            Ok(t) => {
                println!(
                    "{}: site '{}', {:?}, {:?}, {} Edge server(s), {} addresses with roles",
                    file.display(),
                    t.name,
                    t.product,
                    t.scenario,
                    t.edges.len(),
                    t.roles.len()
                );
                for (ip, roles) in &t.roles {
                    let names: Vec<String> = roles
                        .iter()
                        .map(|r| edgewise::topology::role_label(*r))
                        .collect();
                    println!("  {ip:<40} {}", names.join(", "));
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("edgewise: {e}");
                Ok(ExitCode::from(EXIT_UNUSABLE))
            }
        },
    }
}

/// Reads the inputs of a command; `None` when nothing could be read (already reported).
fn read_inputs(read: &edgewise::cli::ReadArgs) -> anyhow::Result<Option<analysis::Analysis>> {
    if read.interface.is_some() {
        let config = FlowConfig {
            max_flows: read.max_flows.max(1),
            ..FlowConfig::default()
        };
        return match edgewise::live::capture(read, config) {
            Ok(a) => Ok(Some(a)),
            Err(e) => {
                eprintln!("edgewise: {e}");
                Ok(None)
            }
        };
    }
    let inputs = match input::expand(&read.inputs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("edgewise: {e}");
            return Ok(None);
        }
    };
    let config = FlowConfig {
        max_flows: read.max_flows.max(1),
        ..FlowConfig::default()
    };
    let bar = progress_bar(&inputs, read.quiet);
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
    if analysis.completeness() == Completeness::Unusable {
        return Ok(None);
    }
    Ok(Some(analysis))
}

fn flows(args: FlowsArgs) -> anyhow::Result<ExitCode> {
    let Ok(filter) = display_filter(&args.read) else {
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    };
    if let Some(Err(e)) = filter.as_ref().map(|f| f.check_without_audit()) {
        eprintln!("edgewise: {e}");
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    }
    let Some(mut analysis) = read_inputs(&args.read)? else {
        return Ok(ExitCode::from(EXIT_UNUSABLE));
    };
    let summary = filter.as_ref().map(|f| {
        let s = edgewise::filter::apply_to_flows(f, &mut analysis);
        note_filter(&s, args.read.quiet);
        s
    });
    if args.format == report::Format::Parquet {
        let Some(path) = args.output.as_deref() else {
            eprintln!("edgewise: --format parquet writes a file: add -w FILE.parquet");
            return Ok(ExitCode::from(EXIT_UNUSABLE));
        };
        analytics_out::write(&analysis, None, "", path, path)?;
    } else {
        with_output(args.output.as_deref(), |w| {
            report::write_filtered(&analysis, args.format, summary.as_ref(), w)
        })?;
    }
    Ok(match analysis.completeness() {
        Completeness::Complete => ExitCode::SUCCESS,
        Completeness::Partial => ExitCode::from(EXIT_PARTIAL),
        Completeness::Unusable => ExitCode::from(EXIT_UNUSABLE),
    })
}

/// Parses `-Y`; a bad expression is reported (with a caret under the bad token) as `Err`.
#[allow(clippy::result_unit_err)]
fn display_filter(read: &edgewise::cli::ReadArgs) -> Result<Option<edgewise::filter::Filter>, ()> {
    match read.display_filter.as_deref() {
        None => Ok(None),
        Some(src) => edgewise::filter::Filter::parse(src).map(Some).map_err(|e| {
            eprintln!("edgewise: {e}");
        }),
    }
}

fn note_filter(s: &edgewise::filter::FilterSummary, quiet: bool) {
    if !quiet {
        eprintln!(
            "edgewise: display filter kept {} of {} flows",
            s.kept, s.total
        );
    }
}

/// `edgewise completions SHELL`: the script clap_complete generates from the command line.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // clap_complete panics when its writer fails, so the script is built in memory and a
    // closed pipe stays an ordinary write error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "edgewise", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `edgewise man`: the manual page in roff, from the same command-line definition.
fn man() -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    // The page opens with .TH, as man-pages(7) asks; the roff crate's apostrophe preamble
    // (an `.ie`/`.el` string definition) follows it, which groff and mandoc accept.
    let page = String::from_utf8_lossy(&page);
    let mut lines: Vec<&str> = page.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let th = lines.remove(i);
        lines.insert(0, th);
    }
    let mut out = io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Parquet outputs and `edgewise summary`, when built with the `analytics` feature.
mod analytics_out {
    use std::path::Path;
    use std::process::ExitCode;

    use edgewise::analysis::Analysis;
    use edgewise::audit::Audit;
    use edgewise::cli::SummaryArgs;

    #[cfg(not(feature = "analytics"))]
    const WITHOUT: &str = "this edgewise was built without Parquet support: build it with \
                           `cargo build --release --features analytics`";

    /// Writes the flow table to `flows`, and with an audit the findings to `findings`.
    #[cfg(feature = "analytics")]
    pub fn write(
        analysis: &Analysis,
        audit: Option<&Audit>,
        site: &str,
        flows: &Path,
        findings: &Path,
    ) -> anyhow::Result<()> {
        use edgewise::analytics;
        let mut df = analytics::flows_frame(analysis, audit, site)?;
        analytics::write_parquet(&mut df, flows).map_err(anyhow::Error::msg)?;
        if let Some(a) = audit {
            let mut f = analytics::findings_frame(a, site)?;
            analytics::write_parquet(&mut f, findings).map_err(anyhow::Error::msg)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "analytics"))]
    pub fn write(
        _: &Analysis,
        _: Option<&Audit>,
        _: &str,
        _: &Path,
        _: &Path,
    ) -> anyhow::Result<()> {
        anyhow::bail!(WITHOUT)
    }

    #[cfg(feature = "analytics")]
    pub fn summary(args: &SummaryArgs) -> anyhow::Result<ExitCode> {
        use std::io::Write;
        let df = match edgewise::analytics::summary(&args.files, &args.by) {
            Ok(df) => df,
            Err(e) => {
                eprintln!("edgewise: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match args.format {
            edgewise::cli::SummaryFormat::Text => {
                std::env::set_var("POLARS_FMT_MAX_ROWS", "1000");
                writeln!(out, "{df}")?;
            }
            edgewise::cli::SummaryFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let names: Vec<String> = df
                    .get_column_names()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                w.write_record(&names)?;
                for i in 0..df.height() {
                    let row: Vec<String> = df
                        .columns()
                        .iter()
                        .map(|c| {
                            c.get(i)
                                .map(|v| v.to_string().trim_matches('"').to_string())
                                .unwrap_or_default()
                        })
                        .collect();
                    w.write_record(&row)?;
                }
                w.flush()?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    #[cfg(not(feature = "analytics"))]
    pub fn summary(_: &SummaryArgs) -> anyhow::Result<ExitCode> {
        eprintln!("edgewise: {WITHOUT}");
        Ok(ExitCode::from(2))
    }
}
