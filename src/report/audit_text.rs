//! The audit's text report, read at a glance: the answer first, then the violations grouped
//! by kind (one heading per kind, its reason once, a few example flows and the `-Y` filter that
//! lists the rest), the findings and calls, the tallies, the documented flows the capture never
//! showed, the flows table and the packet accounting. It fits [`words::WIDTH`] columns; with
//! `--wide` nothing is wrapped or left out.

use std::collections::HashMap;
use std::io::{self, Write};

use super::documented::{documented_flows, in_view, seen_addresses, DocumentedFlow, Status};
use super::text::{self, initiator_cell, responder_cell, row_lines, widths, Col};
use super::words::{self, count, write_wrapped};
use super::{audit::id_of, TextOptions};
use crate::analysis::Analysis;
use crate::audit::{Audit, Headline, Tally};
use crate::diagnose::Diagnosis;
use crate::flow::Flow;
use crate::judge::{interface_label, service_label, Judge, Judgement, Verdict};
use crate::matrix::{Direction, Interface, Matrix, PortSpec, Service};
use crate::select::Selection;

/// Example flows listed under each kind of violation (`--wide` lists every flow).
pub const EXAMPLES: usize = 5;
/// Kinds of violation listed (`--wide` lists every kind).
const KINDS: usize = 20;
/// Rows of the flows table (`--wide` lists every flow).
const FLOWS: usize = 30;
/// Evidence flows listed under a finding (`--wide` lists them all).
const EVIDENCE: usize = 5;
/// Findings of the same check listed (`--wide` lists them all).
const SAME_FINDING: usize = 3;
/// Calls listed (failed first); JSON lists every call.
const CALLS: usize = 20;

/// What the report writes between the headline and the rest: the firewall-log audit's summary
/// of the log's lines.
pub type Preamble<'a> = &'a dyn Fn(&mut dyn Write) -> io::Result<()>;

/// The text report of the flows shown (all, or a display filter's selection).
pub fn write(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    opts: &TextOptions,
    preamble: Option<Preamble<'_>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let width = opts.width();
    let shown = super::audit::Shown::new(analysis, audit, selection);
    for line in Headline::of(analysis, audit, selection).lines() {
        let indent = " ".repeat(line.len() - line.trim_start().len() + 4);
        write_wrapped(
            out,
            line.trim_start(),
            width,
            &line[..line.len() - line.trim_start().len()],
            &indent,
        )?;
    }
    if let Some(s) = selection {
        writeln!(out)?;
        write_wrapped(
            out,
            &format!(
                "Display filter '{}' kept {} of {} (rule coverage and the accounting cover the \
                 whole capture).",
                s.expression,
                words::thousands(s.kept.len() as u64),
                count(s.total as u64, "flow")
            ),
            width,
            "",
            "  ",
        )?;
    }
    if let Some(p) = preamble {
        writeln!(out)?;
        p(out)?;
    }
    writeln!(out)?;
    let t = &audit.topology;
    write_wrapped(
        out,
        &format!(
            "Audit of {} against the Edge port matrix for {} from {}{}; {} apply to this site.",
            count(shown.flows.len() as u64, "flow"),
            super::matrix::site_words(&audit.site),
            t.source,
            if t.assumed {
                " (assumed: no --topology given)"
            } else {
                ""
            },
            count(audit.applicable_rules as u64, "documented rule"),
        ),
        width,
        "",
        "  ",
    )?;

    // A flow a firewall log says it denied never reached the Edge: listed apart, not as a
    // violation.
    let (blocked, violations): (Listed<'_>, Listed<'_>) = shown
        .flows
        .iter()
        .filter(|(_, j)| j.verdict.is_violation())
        .partition(|(f, _)| audit.flow_denied(analysis, f));
    writeln!(out)?;
    write_kinds(
        out,
        analysis,
        audit,
        matrix,
        &violations,
        ("Violations", (!blocked.is_empty()).then_some(false)),
        opts,
    )?;
    if !blocked.is_empty() {
        writeln!(out)?;
        write_kinds(
            out,
            analysis,
            audit,
            matrix,
            &blocked,
            (
                "Blocked by the firewall (the matrix does not permit them; not violations)",
                Some(true),
            ),
            opts,
        )?;
    }
    write_findings(&shown.diagnosis, opts, out)?;
    write_calls(&shown.diagnosis, opts, out)?;
    let notes: Vec<(&Flow, &Judgement)> = shown
        .flows
        .iter()
        .filter(|(_, j)| j.verdict == Verdict::PermittedWithNote)
        .copied()
        .collect();
    if !notes.is_empty() {
        writeln!(out)?;
        write_kinds(
            out,
            analysis,
            audit,
            matrix,
            &notes,
            ("Permitted with a note", None),
            opts,
        )?;
    }
    writeln!(out)?;
    write_tallies(out, &shown.tallies)?;
    write_never_seen(out, analysis, audit, matrix, opts)?;
    writeln!(out)?;
    write_flows(out, analysis, &shown.flows, opts)?;
    text::write_inputs_and_accounting(analysis, out)
}

/// What makes two flows the same kind of violation: the verdict, where on the Edge, the
/// documented port, and the reason (the same sentence, their addresses aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KindKey<'a> {
    verdict: Verdict,
    interface: Option<Interface>,
    service: Option<Service>,
    direction: Option<Direction>,
    transport: u8,
    port: PortSpec,
    protocol: &'a str,
    reason: &'a str,
}

/// The port a kind is about: the documented port of the rule the judgement names (the site's
/// own), else the port the flow was opened to, the media range standing for any of its ports.
fn kind_port(audit: &Audit, matrix: &Matrix, f: &Flow, j: &Judgement) -> PortSpec {
    let documented = j
        .rules
        .first()
        .and_then(|id| matrix.rule(id))
        .map(|r| match r.dst_port {
            PortSpec::Named(sp) => audit.site.port(sp),
            other => other,
        });
    match documented {
        Some(p @ (PortSpec::Single(_) | PortSpec::Range(..))) => p,
        _ => {
            let media = audit.site.port(crate::matrix::ServicePort::Media);
            match media {
                PortSpec::Range(lo, hi) if (lo..=hi).contains(&f.responder.port) => media,
                _ => PortSpec::Single(f.responder.port),
            }
        }
    }
}

/// The `-Y` filter that lists the flows of a kind.
/// `blocked` adds the firewall log's decision when the report lists blocked flows apart.
fn kind_filter(k: &KindKey<'_>, blocked: Option<bool>) -> String {
    let mut parts = vec![format!("verdict == {}", k.verdict.label())];
    match blocked {
        Some(true) => parts.push("blocked".into()),
        Some(false) => parts.push("!blocked".into()),
        None => {}
    }
    if let Some(i) = k.interface {
        parts.push(format!("interface == {}", id_of(i)));
    }
    if let Some(s) = k.service {
        parts.push(format!("service == {}", id_of(s)));
    }
    match k.transport {
        6 => parts.push("transport == tcp".into()),
        17 => parts.push("transport == udp".into()),
        _ => {}
    }
    match k.port {
        PortSpec::Single(p) => parts.push(format!("port.dst == {p}")),
        PortSpec::Range(lo, hi) => parts.push(format!("port.dst in {{{lo}..{hi}}}")),
        PortSpec::Any | PortSpec::Named(_) => {}
    }
    parts.join(" && ")
}

/// A kind's heading: `wrong-direction: HTTP TCP 80 inbound to the Access Edge (external)`.
fn kind_heading(k: &KindKey<'_>) -> String {
    let transport = match k.transport {
        6 => "TCP",
        17 => "UDP",
        _ => "",
    };
    let port = match k.port {
        PortSpec::Any | PortSpec::Named(_) => String::new(),
        p => format!(" {p}"),
    };
    let what = [k.protocol, transport]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let service = k.service.map_or("Edge", service_label);
    let place = match k.direction {
        Some(Direction::InboundToEdge | Direction::InboundToReverseProxy) => {
            format!("inbound to the {service}")
        }
        Some(Direction::OutboundFromEdge | Direction::OutboundFromReverseProxy) => {
            format!("outbound from the {service}")
        }
        None => String::new(),
    };
    let interface = k
        .interface
        .map(|i| format!(" ({})", interface_label(i)))
        .unwrap_or_default();
    format!("{}: {what}{port} {place}{interface}", k.verdict.label())
}

/// One flow of a kind: `tcp 203.0.113.219:60076 -> 10.45.16.10:80  2 packets, 128 bytes, REJ`.
fn example(f: &Flow) -> String {
    format!(
        "{} {} -> {}  {}, {}, {}",
        crate::net::transport_name(f.protocol),
        initiator_cell(f),
        responder_cell(f),
        count(f.packets(), "packet"),
        words::bytes(f.wire_bytes()),
        f.conn_state()
    )
}

/// Flows listed by a section of the report, with their judgements.
type Listed<'a> = Vec<(&'a Flow, &'a Judgement)>;

/// Flows grouped by kind, each kind once with its count, its reason, a few example flows and
/// the filter that lists the others. `(title, blocked)`: `blocked` says whether the section
/// lists the flows a firewall log denied (`Some(true)`), the others (`Some(false)`), or the
/// input has no such flows (`None`), for the `-Y` filter it suggests.
fn write_kinds(
    out: &mut dyn Write,
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    flows: &[(&Flow, &Judgement)],
    (title, blocked): (&str, Option<bool>),
    opts: &TextOptions,
) -> io::Result<()> {
    let width = opts.width();
    if flows.is_empty() {
        return writeln!(out, "{title}: none");
    }
    let mut index: HashMap<KindKey<'_>, usize> = HashMap::new();
    let mut kinds: Vec<(KindKey<'_>, Vec<(&Flow, &Judgement)>)> = Vec::new();
    for &(f, j) in flows {
        let key = KindKey {
            verdict: j.verdict,
            interface: j.edge_interface,
            service: j.edge_service,
            direction: j.direction,
            transport: f.protocol,
            port: kind_port(audit, matrix, f, j),
            protocol: &j.documented,
            reason: j.reason.shared(),
        };
        let i = *index.entry(key).or_insert_with(|| {
            kinds.push((key, Vec::new()));
            kinds.len() - 1
        });
        kinds[i].1.push((f, j));
    }
    // Most flows first; the flows keep the report's order (most bytes first).
    kinds.sort_by(|a, b| {
        b.1.len()
            .cmp(&a.1.len())
            .then(a.0.verdict.cmp(&b.0.verdict))
    });
    writeln!(
        out,
        "{title}: {} of {}",
        count(flows.len() as u64, "flow"),
        count(kinds.len() as u64, "kind")
    )?;
    let kinds_shown = if opts.wide { kinds.len() } else { KINDS };
    for (k, members) in kinds.iter().take(kinds_shown) {
        let n = members.len() as u64;
        write_wrapped(
            out,
            &format!("{}: {}", kind_heading(k), count(n, "flow")),
            width,
            "  ",
            "      ",
        )?;
        let Some(&(first, j)) = members.first() else {
            continue;
        };
        write_wrapped(
            out,
            &j.reason.of(first).to_string(),
            width,
            "      ",
            "      ",
        )?;
        let examples = if opts.wide { members.len() } else { EXAMPLES };
        for (i, (f, _)) in members.iter().take(examples).enumerate() {
            let lead = if i == 0 { "      e.g. " } else { "           " };
            write_wrapped(out, &example(f), width, lead, "             ")?;
            // What the first example carried, when its payload was identified.
            if let Some(id) = analysis
                .identification(first)
                .filter(|id| i == 0 && id.protocol != crate::identify::Protocol::Unknown)
            {
                write_wrapped(
                    out,
                    &format!("payload: {}", id.summary),
                    width,
                    "             ",
                    "               ",
                )?;
            }
        }
        if n as usize > examples {
            write_wrapped(
                out,
                &format!(
                    "and {} more: -Y '{}' lists them",
                    words::thousands(n - examples as u64),
                    kind_filter(k, blocked)
                ),
                width,
                "           ",
                "             ",
            )?;
        }
    }
    if kinds.len() > kinds_shown {
        let rest: usize = kinds.iter().skip(kinds_shown).map(|(_, m)| m.len()).sum();
        write_wrapped(
            out,
            &format!(
                "and {} more ({}): --wide lists every kind",
                count((kinds.len() - kinds_shown) as u64, "kind"),
                count(rest as u64, "flow")
            ),
            width,
            "  ",
            "    ",
        )?;
    }
    Ok(())
}

fn write_findings(d: &Diagnosis, opts: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let width = opts.width();
    writeln!(out)?;
    if d.findings.is_empty() {
        writeln!(out, "Findings: none")?;
    } else {
        let n = |s| d.count(s) as u64;
        writeln!(
            out,
            "Findings: {}, {}, {} info",
            count(n(crate::diagnose::Severity::Error), "error"),
            count(n(crate::diagnose::Severity::Warning), "warning"),
            words::thousands(n(crate::diagnose::Severity::Info))
        )?;
    }
    // Findings of one check about many partners or hosts: the first few, then a count.
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    let mut held: Vec<(&str, usize)> = Vec::new();
    for f in &d.findings {
        let seen = per_id.entry(f.id).or_insert(0);
        *seen += 1;
        if !opts.wide && *seen > SAME_FINDING {
            match held.iter_mut().find(|(id, _)| *id == f.id) {
                Some((_, n)) => *n += 1,
                None => held.push((f.id, 1)),
            }
            continue;
        }
        write_wrapped(
            out,
            &format!(
                "[{}] {} {} (confidence {})",
                f.severity.label(),
                f.id,
                f.title,
                format!("{:?}", f.confidence).to_lowercase()
            ),
            width,
            "  ",
            "      ",
        )?;
        write_wrapped(out, &f.explanation, width, "      ", "      ")?;
        write_wrapped(out, &format!("Fix: {}", f.fix), width, "      ", "        ")?;
        write_wrapped(
            out,
            &format!("Source: {}", f.citation),
            width,
            "      ",
            "        ",
        )?;
        let shown = if opts.wide {
            f.evidence.len()
        } else {
            EVIDENCE
        };
        for e in f.evidence.iter().take(shown) {
            write_wrapped(
                out,
                &format!(
                    "{} {} -> {} (frames {}-{}): {}",
                    e.transport,
                    e.initiator,
                    e.responder,
                    e.first_frame.map_or("?".into(), |n| n.to_string()),
                    e.last_frame.map_or("?".into(), |n| n.to_string()),
                    e.detail
                ),
                width,
                "      - ",
                "        ",
            )?;
        }
        if f.evidence.len() > shown {
            let more = (f.evidence.len() - shown) as u64;
            writeln!(
                out,
                "      - and {} more {} (--wide lists them)",
                words::thousands(more),
                words::noun(more, "flow")
            )?;
        }
    }
    for (id, n) in held {
        write_wrapped(
            out,
            &format!(
                "and {} more {id} {} like the above (--wide or --format json lists them)",
                words::thousands(n as u64),
                words::noun(n as u64, "finding")
            ),
            width,
            "  ",
            "    ",
        )?;
    }
    if !d.skipped.is_empty() {
        writeln!(out, "  Checks skipped:")?;
        for s in &d.skipped {
            write_wrapped(
                out,
                &format!("{} {}: needs {}", s.id, s.title, s.needs),
                width,
                "    ",
                "      ",
            )?;
        }
    }
    Ok(())
}

fn write_calls(d: &Diagnosis, opts: &TextOptions, out: &mut dyn Write) -> io::Result<()> {
    let width = opts.width();
    let calls = &d.calls;
    if d.media_without_allocation > 0 {
        writeln!(out)?;
        write_wrapped(
            out,
            &format!(
                "Media on relay ports whose allocation came before the capture: {} (in no call)",
                count(d.media_without_allocation as u64, "flow")
            ),
            width,
            "",
            "  ",
        )?;
    }
    if calls.is_empty() {
        return Ok(());
    }
    let failed = calls.iter().filter(|c| c.failed_leg.is_some()).count();
    let shown = if opts.wide { calls.len() } else { CALLS };
    writeln!(out)?;
    write_wrapped(
        out,
        &format!(
            "Calls: {} ({} with a failed leg){}",
            words::thousands(calls.len() as u64),
            words::thousands(failed as u64),
            if calls.len() > shown {
                format!("; the first {shown} shown, failed first; --wide or --format json lists every call")
            } else {
                String::new()
            }
        ),
        width,
        "",
        "  ",
    )?;
    let listed = calls
        .iter()
        .filter(|c| c.failed_leg.is_some())
        .chain(calls.iter().filter(|c| c.failed_leg.is_none()))
        .take(shown);
    for c in listed {
        write_wrapped(out, &c.heading(), width, "  ", "      ")?;
        for (_, line) in c.leg_lines() {
            write_wrapped(out, &line, width, "    ", "        ")?;
        }
    }
    Ok(())
}

/// The tallies of the flows shown, by verdict, interface, service and protocol.
fn write_tallies(out: &mut dyn Write, t: &crate::audit::Tallies) -> io::Result<()> {
    let tables = [
        ("Verdicts", &t.by_verdict),
        ("Edge interfaces", &t.by_interface),
        ("Edge services", &t.by_service),
        ("Protocols", &t.by_protocol),
    ];
    let name_width = tables
        .iter()
        .flat_map(|(_, rows)| rows.keys())
        .map(|k| words::width(k))
        .max()
        .unwrap_or(0)
        .clamp(20, 40);
    writeln!(out, "Tallies")?;
    for (title, rows) in tables {
        writeln!(out, "  {title}")?;
        for (k, tally) in rows {
            writeln!(out, "    {}", tally_row(k, tally, name_width))?;
        }
    }
    Ok(())
}

fn tally_row(name: &str, t: &Tally, name_width: usize) -> String {
    format!(
        "{name:<name_width$} {:>9} {:<5} {:>11} {:<7} {:>9}",
        words::thousands(t.flows),
        words::noun(t.flows, "flow"),
        words::thousands(t.packets),
        words::noun(t.packets, "packet"),
        words::bytes(t.bytes)
    )
}

/// The documented flows no flow exercised: those the capture should have shown, then, apart,
/// those it could not have (a feature off, a role the site lacks, a contradicted row, an address
/// the capture never shows).
fn write_never_seen(
    out: &mut dyn Write,
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    opts: &TextOptions,
) -> io::Result<()> {
    let width = opts.width();
    let judge = Judge::new(&audit.site, matrix);
    let flows = documented_flows(&judge);
    let seen = seen_addresses(analysis);
    let hit = |f: &DocumentedFlow<'_>| {
        f.rules
            .iter()
            .any(|r| audit.coverage.hits.get(&r.id).copied().unwrap_or(0) > 0)
    };
    let open = flows
        .iter()
        .filter(|f| matches!(f.status, Status::Open { .. }))
        .count();
    let never: Vec<&DocumentedFlow> = flows.iter().filter(|f| !hit(f)).collect();
    let (expected, apart): (Vec<&DocumentedFlow>, Vec<&DocumentedFlow>) = never
        .iter()
        .partition(|f| matches!(f.status, Status::Open { .. }) && in_view(f, &seen));
    writeln!(out)?;
    write_wrapped(
        out,
        &format!(
            "Documented flows never seen: {} of the {} documented for this site (one that never \
             appears can be a firewall block, or a feature not in use)",
            expected.len(),
            open
        ),
        width,
        "",
        "  ",
    )?;
    for f in &expected {
        write_wrapped(out, &f.summary(), width, "  ", "      ")?;
        for c in f
            .citations()
            .iter()
            .take(if opts.wide { usize::MAX } else { 1 })
        {
            write_wrapped(out, &c.short(), width, "      ", "        ")?;
        }
    }
    if apart.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    write_wrapped(
        out,
        &format!(
            "Not expected in this capture: {} (documented, but not for this site or out of the \
             capture's view)",
            count(apart.len() as u64, "documented flow")
        ),
        width,
        "",
        "  ",
    )?;
    let why = |f: &DocumentedFlow<'_>| -> String {
        f.status.why(&audit.site).unwrap_or_else(|| {
            format!(
                "the capture never shows {}",
                words_or(&f.edge_side().list())
            )
        })
    };
    // The site's own reasons first (features, roles, contradictions), then the capture's view.
    let mut apart = apart;
    apart.sort_by_key(|f| match f.status {
        Status::FeatureOff(_) => 0,
        Status::Lacking(_) => 1,
        Status::Contradicted => 2,
        Status::Open { .. } => 3,
    });
    let mut reasons: Vec<String> = Vec::new();
    for f in &apart {
        let w = why(f);
        if !reasons.contains(&w) {
            reasons.push(w);
        }
    }
    for reason in reasons {
        let these: Vec<&&DocumentedFlow> = apart.iter().filter(|f| why(f) == reason).collect();
        write_wrapped(
            out,
            &format!("{reason}: {}", count(these.len() as u64, "flow")),
            width,
            "  ",
            "    ",
        )?;
        for f in these {
            write_wrapped(out, &f.summary(), width, "    ", "        ")?;
        }
    }
    Ok(())
}

fn words_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The flows table: violations first, then by bytes; the first [`FLOWS`] by default, every flow
/// and column with `--wide`.
fn write_flows(
    out: &mut dyn Write,
    analysis: &Analysis,
    flows: &[(&Flow, &Judgement)],
    opts: &TextOptions,
) -> io::Result<()> {
    let first = analysis.first_ts_ns.unwrap_or(0);
    let time = opts.time;
    let total = flows.len();
    let shown = if opts.wide { total } else { FLOWS.min(total) };
    if shown < total {
        write_wrapped(
            out,
            &format!(
                "Flows: {} (violations first, then by bytes), the first {shown} shown; --wide lists \
                 every flow, -Y selects",
                words::thousands(total as u64)
            ),
            opts.width(),
            "",
            "  ",
        )?;
    } else {
        writeln!(
            out,
            "Flows: {} (violations first, then by bytes)",
            words::thousands(total as u64)
        )?;
    }
    if opts.wide {
        writeln!(
            out,
            "  {}{:<21} {:<5} {:<46} {:<46} {:<22} {:<12} {:>10} {:>14} {:<6}",
            text::time_cell(time, None),
            "verdict",
            "proto",
            "initiator",
            "responder",
            "interface",
            "protocol",
            "packets",
            "bytes",
            "state"
        )?;
        for (f, j) in flows {
            writeln!(
                out,
                "  {}{:<21} {:<5} {:<46} {:<46} {:<22} {:<12} {:>10} {:>14} {:<6}",
                text::time_cell(time, Some((f.first_ts_ns(), first))),
                j.verdict.label(),
                crate::net::transport_name(f.protocol),
                initiator_cell(f),
                responder_cell(f),
                j.edge_interface.map_or("-", interface_label),
                if j.documented.is_empty() {
                    "-"
                } else {
                    &j.documented
                },
                words::thousands(f.packets()),
                words::thousands(f.wire_bytes()),
                f.conn_state()
            )?;
        }
        return Ok(());
    }
    const COLS: [Col; 7] = [
        Col::left("verdict"),
        // An IPv4 address and port, with `?` for an inferred initiator.
        Col::left("initiator").at_most(22),
        Col::left("responder").at_most(21),
        Col::shrinking("protocol"),
        Col::right("packets"),
        Col::right("bytes"),
        Col::left("state"),
    ];
    // The start time (-t) leads the first cell; the table grows by its width rather than
    // squeezing the other columns.
    let cells = |f: &Flow, j: &Judgement| -> Vec<String> {
        vec![
            format!(
                "{}{}",
                text::time_cell(time, Some((f.first_ts_ns(), first))),
                j.verdict.label()
            ),
            initiator_cell(f),
            responder_cell(f),
            if j.documented.is_empty() {
                crate::net::transport_name(f.protocol)
            } else {
                j.documented.to_string()
            },
            words::thousands(f.packets()),
            words::bytes(f.wire_bytes()),
            f.conn_state().to_string(),
        ]
    };
    let mut header: Vec<String> = COLS.iter().map(|c| c.head.to_string()).collect();
    header[0] = format!("{}{}", text::time_cell(time, None), COLS[0].head);
    let width = if time.is_some() { None } else { opts.width() };
    let w = widths(
        &COLS,
        std::iter::once(header.clone()).chain(flows.iter().take(shown).map(|(f, j)| cells(f, j))),
        2,
        width,
    );
    for line in row_lines(&COLS, &w, &header, "  ", width) {
        writeln!(out, "{line}")?;
    }
    for (f, j) in flows.iter().take(shown) {
        for line in row_lines(&COLS, &w, &cells(f, j), "  ", width) {
            writeln!(out, "{line}")?;
        }
    }
    if shown < total {
        let more = (total - shown) as u64;
        writeln!(
            out,
            "  and {} more {} (--wide lists them)",
            words::thousands(more),
            words::noun(more, "flow")
        )?;
    }
    if flows
        .iter()
        .take(shown)
        .any(|(f, _)| !f.initiator_by.is_certain())
    {
        write_wrapped(
            out,
            "(? after an initiator: no SYN was seen, so the initiator was inferred from the first \
             packet or a service port)",
            opts.width(),
            "  ",
            "   ",
        )?;
    }
    Ok(())
}
