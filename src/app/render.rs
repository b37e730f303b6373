//! Writes an [`Outcome`] where the settings say: a report to standard output or a file, Parquet
//! files, or the TUI for `audit --tui`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::{AuditFormat, Cli, MatrixFormat};
use crate::judge::Judge;
use crate::report::{self, zeek::ZeekOptions};
use crate::topology::{self, Topology};

use super::messages;
use super::output::BackgroundWriter;
use super::parquet;
use super::run::{Audited, Outcome};
use super::settings::{AuditInput, AuditSettings, Outputs, Reading, Settings, Source};
use crate::select::Selection;

/// Renders the outcome of a run.
pub fn render(settings: &Settings, outcome: Outcome) -> anyhow::Result<()> {
    match (settings, outcome) {
        (
            Settings::Flows(s),
            Outcome::Flows {
                analysis,
                selection,
            },
        ) => {
            if s.format == report::Format::Parquet {
                if let Some(path) = &s.out.report {
                    parquet::write(&analysis, None, selection.as_ref(), "", path, path)?;
                }
            } else {
                with_output(s.out.report.as_deref(), |w| {
                    report::write(&analysis, s.format, selection.as_ref(), &s.out.text(), w)
                })?;
            }
            let written = write_packets(&s.reading, &s.out, &analysis, selection.as_ref());
            exit_soon(analysis);
            written
        }
        (Settings::Audit(s), Outcome::Audit(a)) => match a.log.is_some() {
            true => {
                let written = log_report(s, &a);
                exit_soon(a);
                written
            }
            false => audit_report(s, *a),
        },
        (
            Settings::Matrix {
                site,
                format,
                sources,
            },
            _,
        ) => {
            let judge = Judge::new(&site.topology, site.matrix);
            with_output(None, |w| match (format, sources) {
                (MatrixFormat::Text, false) => report::matrix::write_text(&judge, w),
                (MatrixFormat::Csv, false) => report::matrix::write_csv(&judge, w),
                (MatrixFormat::Json, false) => report::matrix::write_json(&judge, w),
                (MatrixFormat::Text, true) => report::matrix::write_sources_text(&judge, w),
                (MatrixFormat::Csv, true) => report::matrix::write_sources_csv(&judge, w),
                (MatrixFormat::Json, true) => report::matrix::write_sources_json(&judge, w),
            })
        }
        (Settings::TopologyInit { output }, _) => match output {
            Some(path) => {
                std::fs::write(path, topology::SAMPLE)
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
                messages::wrote_topology(path);
                Ok(())
            }
            None => with_output(None, |w| w.write_all(topology::SAMPLE.as_bytes())),
        },
        (Settings::TopologyInfer { output, .. }, Outcome::Inferred { inference, .. }) => {
            match output {
                Some(path) => std::fs::write(path, &inference.text)
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?,
                None => with_output(None, |w| w.write_all(inference.text.as_bytes()))?,
            }
            messages::inferred(&inference.summary, output.as_deref());
            Ok(())
        }
        (Settings::TopologyCheck { file, topology }, _) => {
            with_output(None, |w| print_topology(file, topology, w))
        }
        (
            Settings::Summary {
                files, by, format, ..
            },
            _,
        ) => parquet::summary(files, by, *format),
        (Settings::Completions(shell), _) => completions(*shell),
        (Settings::Man { subcommand, dir }, _) => man(subcommand.as_deref(), dir.as_deref()),
        // Nothing to write: no usable input, the TUI already ran, generate wrote its files.
        _ => Ok(()),
    }
}

/// Leaves a run's records to the end of the process: freeing hundreds of thousands of flows
/// one by one costs a fifth of a busy capture's run, and the process is about to exit.
fn exit_soon<T>(records: T) {
    std::mem::forget(records);
}

/// The audit of captures: the TUI, CSV or Parquet tables, or a report.
fn audit_report(s: &AuditSettings, a: Audited) -> anyhow::Result<()> {
    let Audited {
        analysis,
        audit,
        selection,
        ..
    } = a;
    let selection = selection.as_ref();
    if s.tui {
        // The TUI opens with the expression in its flow filter box, where it can be changed.
        crate::tui::run(
            crate::tui::Model::from_audit(analysis, audit, s.site.matrix),
            selection.map(|sel| sel.expression.as_str()),
        )?;
        return Ok(());
    }
    let written = match (s.format, s.out.report.as_deref()) {
        (AuditFormat::Parquet, Some(path)) => parquet::write(
            &analysis,
            Some(&audit),
            selection,
            &audit.topology.name,
            path,
            &companion(path, ".findings.parquet"),
        ),
        // Refused by the settings: Parquet is written to files only.
        (AuditFormat::Parquet, None) => Ok(()),
        (AuditFormat::Csv, Some(path)) => {
            with_output(Some(path), |w| {
                report::audit::write_csv(&analysis, &audit, selection, w)
            })?;
            with_output(Some(&companion(path, ".findings.csv")), |w| {
                report::audit::write_findings_csv(&audit, selection, w)
            })
        }
        (AuditFormat::Csv, None) => with_output(None, |w| {
            report::audit::write_csv(&analysis, &audit, selection, w)
        }),
        (format, output) => with_output(output, |w| match format {
            AuditFormat::Text => report::audit::write_text(
                &analysis,
                &audit,
                s.site.matrix,
                selection,
                &s.out.text(),
                w,
            ),
            AuditFormat::Json => {
                report::audit::write_json(&analysis, &audit, s.site.matrix, selection, w)
            }
            AuditFormat::Zeek | AuditFormat::ZeekJson => report::zeek::write_audit(
                &analysis,
                &audit,
                &ZeekOptions {
                    json: format == AuditFormat::ZeekJson,
                    selection,
                },
                w,
            ),
            AuditFormat::Jsonl => {
                report::audit::write_jsonl(&analysis, &audit, s.site.matrix, selection, w)
            }
            AuditFormat::Html => {
                report::html::write(&analysis, &audit, s.site.matrix, selection, w)
            }
            AuditFormat::Csv | AuditFormat::Parquet => Ok(()),
        }),
    };
    let written = written.and_then(|()| match &s.input {
        AuditInput::Captures(reading) => write_packets(reading, &s.out, &analysis, selection),
        AuditInput::Log { .. } | AuditInput::Collect { .. } => Ok(()),
    });
    exit_soon((analysis, audit));
    written
}

/// `-w FILE`: the packets of the flows the report showed, read again from the capture files.
fn write_packets(
    reading: &Reading,
    out: &Outputs,
    analysis: &crate::analysis::Analysis,
    selection: Option<&Selection>,
) -> anyhow::Result<()> {
    let (Some(path), Source::Files(inputs)) = (&out.packets, &reading.source) else {
        return Ok(());
    };
    let run = |w: &mut dyn Write| {
        crate::export::write_packets(inputs, reading.count, analysis, selection, w)
    };
    let done = if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut w = io::BufWriter::new(stdout.lock());
        run(&mut w)
    } else {
        let file = std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot write the packets: {e}", path.display()))?;
        let mut w = io::BufWriter::new(file);
        run(&mut w)
    }
    .map_err(|e| anyhow::anyhow!("-w {}: {e}", path.display()))?;
    if !reading.quiet {
        messages::wrote_packets(path, &done);
    }
    Ok(())
}

/// The audit of a firewall log: the capture formats, with the log's line summary in text and
/// JSON. CSV has no findings companion here.
fn log_report(s: &AuditSettings, a: &Audited) -> anyhow::Result<()> {
    let Some(log) = &a.log else {
        return Ok(());
    };
    let selection = a.selection.as_ref();
    if s.format == AuditFormat::Parquet {
        if let Some(path) = &s.out.report {
            parquet::write(
                &a.analysis,
                Some(&a.audit),
                selection,
                &a.audit.topology.name,
                path,
                &companion(path, ".findings.parquet"),
            )?;
        }
        return Ok(());
    }
    let matrix = s.site.matrix;
    with_output(s.out.report.as_deref(), |w| match s.format {
        AuditFormat::Parquet => Ok(()),
        AuditFormat::Csv => report::audit::write_csv(&a.analysis, &a.audit, selection, w),
        AuditFormat::Jsonl => {
            report::audit::write_jsonl(&a.analysis, &a.audit, matrix, selection, w)
        }
        AuditFormat::Html => report::html::write(&a.analysis, &a.audit, matrix, selection, w),
        AuditFormat::Text => crate::report::log::write_text(
            &log.summary,
            &a.analysis,
            &a.audit,
            matrix,
            selection,
            &s.out.text(),
            w,
        ),
        AuditFormat::Json => crate::report::log::write_json(
            &log.summary,
            &log.info,
            &a.analysis,
            &a.audit,
            matrix,
            selection,
            w,
        ),
        AuditFormat::Zeek | AuditFormat::ZeekJson => report::zeek::write_audit(
            &a.analysis,
            &a.audit,
            &ZeekOptions {
                json: s.format == AuditFormat::ZeekJson,
                selection,
            },
            w,
        ),
    })
}

/// `FILE` + `ext`: the file written beside a table (`x.csv` -> `x.csv.findings.csv`).
fn companion(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

/// Runs `f` on a writer to `path`, or to standard output, whose bytes are written on a thread
/// of its own ([`BackgroundWriter`]).
fn with_output(
    path: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut w = match path {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", path.display()))?;
            BackgroundWriter::new(file)
        }
        None => BackgroundWriter::new(io::stdout()),
    };
    f(&mut w)?;
    w.finish()?;
    Ok(())
}

/// `topology check`: what edgewise understood of the file.
fn print_topology(file: &Path, t: &Topology, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "{}: site '{}', {:?}, {:?}, {} Edge server(s), {} addresses with roles",
        file.display(),
        t.name,
        t.product,
        t.scenario,
        t.edges.len(),
        t.roles.len()
    )?;
    for (ip, roles) in &t.roles {
        let names: Vec<String> = roles.iter().map(|r| topology::role_label(*r)).collect();
        writeln!(w, "  {ip:<40} {}", names.join(", "))?;
    }
    for warning in t.warnings() {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
}

/// `edgewise completions SHELL`: the script clap_complete generates from the command line.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // clap_complete panics when its writer fails, so the script is built in memory and a
    // closed pipe stays an ordinary write error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "edgewise", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// `edgewise man`: a manual page in roff on standard output, or every page into a directory.
fn man(subcommand: Option<&str>, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        for file in super::man::write_all(dir)? {
            eprintln!("wrote {}", file.display());
        }
        return Ok(());
    }
    let page = super::man::page(subcommand)?;
    let mut out = io::stdout().lock();
    out.write_all(page.as_bytes())?;
    out.flush()?;
    Ok(())
}
