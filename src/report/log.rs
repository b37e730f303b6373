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
    use crate::report::words::{count, thousands, truncate, WIDTH};
    if let Some(x) = &s.exports {
        return write_exports_text(s, x, out);
    }
    crate::report::words::write_wrapped(
        out,
        &format!(
            "Firewall log: format {}{}, times: {}",
            s.format.map_or("?", LogFormat::label),
            if s.detected { " (detected)" } else { "" },
            s.time_basis
        ),
        Some(WIDTH),
        "",
        "  ",
    )?;
    writeln!(
        out,
        "  {}: {} used, {} comment, {} skipped, {} unparsable",
        count(s.lines, "line"),
        thousands(s.used),
        thousands(s.comment),
        thousands(s.skipped_total()),
        thousands(s.unparsable_total())
    )?;
    for (k, v) in &s.skipped {
        writeln!(out, "    skipped {k}: {}", thousands(*v))?;
    }
    for (k, v) in &s.unparsable {
        writeln!(out, "    unparsable {k}: {}", thousands(*v))?;
    }
    for b in &s.examples {
        let head = format!("    line {} ({}): ", b.line, b.reason);
        let room = WIDTH.saturating_sub(head.chars().count()).max(20);
        writeln!(out, "{head}{}", truncate(&b.text, room))?;
    }
    if s.no_timestamp > 0 {
        writeln!(
            out,
            "  {} carry no usable time",
            count(s.no_timestamp, "used line")
        )?;
    }
    if s.times_in_repeated_hour > 0 {
        writeln!(
            out,
            "  {} in the hour repeated when daylight saving ended, read as its first pass",
            count(s.times_in_repeated_hour, "used line")
        )?;
    }
    if s.times_in_skipped_hour > 0 {
        crate::report::words::write_wrapped(
            out,
            &format!(
                "{} in the hour skipped when daylight saving started, a time the zone does not \
                 have: read at the offset before the change; check that the zone is the device's",
                count(s.times_in_skipped_hour, "used line")
            ),
            Some(WIDTH),
            "  ",
            "    ",
        )?;
    }
    Ok(())
}

/// A capture of NetFlow/IPFIX exports: who exported, what was read and what could not be.
fn write_exports_text(
    s: &Summary,
    x: &crate::logs::netflow::ExportSummary,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::report::words::{count, thousands, write_wrapped, WIDTH};
    write_wrapped(
        out,
        &format!(
            "Flow export: the audit is of the exported flows: {}; times: {}",
            x.describe(),
            s.time_basis
        ),
        Some(WIDTH),
        "",
        "  ",
    )?;
    for e in x.exporters.iter().filter(|_| x.exporters.len() > 1) {
        writeln!(
            out,
            "  {}: {} in {}",
            e.describe(),
            count(e.records, "record"),
            count(e.packets, "datagram")
        )?;
    }
    write_wrapped(
        out,
        &format!(
            "{} ({} other packets), {}: {} used, {} skipped; {} with both directions, {} one way{}",
            count(x.packets, "export datagram"),
            thousands(x.other_packets),
            count(s.lines, "record"),
            thousands(s.used),
            thousands(s.skipped_total()),
            count(x.flows_paired, "flow"),
            thousands(x.flows_one_way),
            if x.both_directions || s.used == 0 {
                ""
            } else {
                " (no flow was exported both ways: a direction without a record tells nothing)"
            }
        ),
        Some(WIDTH),
        "  ",
        "    ",
    )?;
    for (k, v) in &s.skipped {
        writeln!(out, "    skipped {k}: {}", thousands(*v))?;
    }
    for (k, v) in &x.dropped {
        writeln!(out, "    dropped {k}: {}", thousands(*v))?;
    }
    let gaps: u64 = x.exporters.iter().map(|e| e.sequence_gaps).sum();
    if gaps > 0 {
        write_wrapped(
            out,
            &format!(
                "{} of the export sequence numbers: export datagrams were lost before the capture",
                count(gaps, "jump")
            ),
            Some(WIDTH),
            "  ",
            "    ",
        )?;
    }
    if s.no_timestamp > 0 {
        writeln!(
            out,
            "  {} carry no usable time",
            count(s.no_timestamp, "record")
        )?;
    }
    Ok(())
}

/// The text report: the capture audit report of the flows shown (all, or a display filter's
/// selection), with the line summary after its headline.
pub fn write_text(
    summary: &Summary,
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    opts: &crate::report::TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    crate::report::audit_text::write(
        analysis,
        audit,
        matrix,
        selection,
        opts,
        Some(&|out: &mut dyn Write| write_summary_text(summary, out)),
        out,
    )
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
