//! The audit report of a firewall log: the capture audit report, preceded (text) or extended
//! (JSON) by what happened to the log's lines, so a reader can tell how much of the log the
//! verdicts rest on.

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::logs::to_flow::LogFlowInfo;
use crate::logs::{LogFormat, Summary};
use crate::matrix::Matrix;
use crate::select::{shown, Selection};

/// The line summary, as the text report's preamble.
pub fn write_summary_text(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    if let Some(x) = &s.exports {
        return write_exports_text(s, x, out);
    }
    writeln!(
        out,
        "Firewall log: format {}{}, times: {}",
        s.format.map_or("?", LogFormat::label),
        if s.detected { " (detected)" } else { "" },
        s.time_basis
    )?;
    writeln!(
        out,
        "  {} lines: {} used, {} comment, {} skipped, {} unparsable",
        s.lines,
        s.used,
        s.comment,
        s.skipped_total(),
        s.unparsable_total()
    )?;
    for (k, v) in &s.skipped {
        writeln!(out, "    skipped {k}: {v}")?;
    }
    for (k, v) in &s.unparsable {
        writeln!(out, "    unparsable {k}: {v}")?;
    }
    for b in &s.examples {
        writeln!(out, "    line {} ({}): {}", b.line, b.reason, b.text)?;
    }
    if s.no_timestamp > 0 {
        writeln!(out, "  {} used lines carry no usable time", s.no_timestamp)?;
    }
    writeln!(out)
}

/// A capture of NetFlow/IPFIX exports: who exported, what was read and what could not be.
fn write_exports_text(
    s: &Summary,
    x: &crate::logs::netflow::ExportSummary,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "Flow export: the audit is of the exported flows: {}; times: {}",
        x.describe(),
        s.time_basis
    )?;
    for e in x.exporters.iter().filter(|_| x.exporters.len() > 1) {
        writeln!(
            out,
            "  {}: {} records in {} datagrams",
            e.describe(),
            e.records,
            e.packets
        )?;
    }
    writeln!(
        out,
        "  {} export datagrams ({} other packets), {} records: {} used, {} skipped; {} flows with both directions, {} one way{}",
        x.packets,
        x.other_packets,
        s.lines,
        s.used,
        s.skipped_total(),
        x.flows_paired,
        x.flows_one_way,
        if x.both_directions || s.used == 0 {
            ""
        } else {
            " (no flow was exported both ways: a direction without a record tells nothing)"
        }
    )?;
    for (k, v) in &s.skipped {
        writeln!(out, "    skipped {k}: {v}")?;
    }
    for (k, v) in &x.dropped {
        writeln!(out, "    dropped {k}: {v}")?;
    }
    let gaps: u64 = x.exporters.iter().map(|e| e.sequence_gaps).sum();
    if gaps > 0 {
        writeln!(
            out,
            "  {gaps} jumps of the export sequence numbers: export datagrams were lost before the capture"
        )?;
    }
    if s.no_timestamp > 0 {
        writeln!(out, "  {} records carry no usable time", s.no_timestamp)?;
    }
    writeln!(out)
}

/// The text report: the line summary, then the capture audit report of the flows shown
/// (all, or a display filter's selection). Unlike the capture report, it has never said
/// what the filter kept; standard error does.
pub fn write_text(
    summary: &Summary,
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_summary_text(summary, out)?;
    crate::report::audit::write_text_body(analysis, audit, matrix, selection, out)
}

/// The audit JSON document of a capture, with `log` (the line summary) and `log_flows` (the
/// side table, by flow index: `info[i]` belongs to `analysis.flows[i]`) added at top level;
/// with a selection, of the flows it kept (and, as ever, no `display_filter` object).
pub fn write_json(
    summary: &Summary,
    info: &[LogFlowInfo],
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    /// One row of the side table, with the flow's id.
    #[derive(Serialize)]
    struct LogFlow<'a> {
        id: u64,
        #[serde(flatten)]
        info: &'a LogFlowInfo,
    }
    #[derive(Serialize)]
    struct Extra<'a> {
        log: &'a Summary,
        log_flows: Vec<LogFlow<'a>>,
    }
    let extra = Extra {
        log: summary,
        log_flows: shown(selection, analysis.flows.len())
            .filter_map(|i| {
                Some(LogFlow {
                    id: analysis.flows.get(i)?.id,
                    info: info.get(i)?,
                })
            })
            .collect(),
    };
    crate::report::audit::write_json_with(analysis, audit, matrix, selection, None, &extra, out)
}
