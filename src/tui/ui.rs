//! Rendering: one function per view, all reading the [`App`] and never changing it.
//!
//! Layouts are planned for 80x24 first: narrow terminals get fewer flow columns and a stacked
//! findings view; wide ones get every column.

use std::collections::BTreeMap;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Gauge, Paragraph, Row, Table, TableState, Tabs, Wrap};
use ratatui::Frame;

use super::app::{duration_ns, App, Column, View};
use super::{FindingView, Loading, Severity};
use crate::analysis::{Analysis, Completeness};
use crate::audit::Tally;
use crate::flow::tcp::Handshake;
use crate::flow::{Flow, InitiatorEvidence};
use crate::judge::{interface_label, service_label, Judgement, Verdict};
use crate::matrix::{Direction, Service};
use crate::net::transport_name;
use crate::report::time;

/// Below this width the flow table drops its less important columns.
const WIDE: u16 = 110;

pub fn verdict_style(v: Verdict) -> Style {
    match v {
        Verdict::Permitted => Style::new().fg(Color::Green),
        Verdict::PermittedWithNote => Style::new().fg(Color::Cyan),
        Verdict::UnknownEndpoint => Style::new().fg(Color::DarkGray),
        _ => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Severity::Error => Style::new().fg(Color::Red),
        Severity::Warning => Style::new().fg(Color::Yellow),
        Severity::Info => Style::new().fg(Color::Blue),
    }
}

fn heading(s: &str) -> Line<'static> {
    Line::from(s.to_string().bold())
}

/// Compact byte counts for summaries (the flow table and detail give exact numbers).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["k", "M", "G", "T"];
    if n < 10_000 {
        return n.to_string();
    }
    let mut v = n as f64 / 1000.0;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1}{}", UNITS[u])
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

pub fn short_service(s: Service) -> &'static str {
    match s {
        Service::Access => "access",
        Service::Webconf => "webconf",
        Service::Av => "av",
        Service::Internal => "internal",
        Service::XmppProxy => "xmpp",
        Service::ReverseProxy => "rp",
    }
}

fn endpoint(ip: std::net::IpAddr, port: u16, protocol: u8) -> String {
    match (ip, matches!(protocol, 6 | 17)) {
        (std::net::IpAddr::V6(v6), true) => format!("[{v6}]:{port}"),
        (ip, true) => format!("{ip}:{port}"),
        (ip, false) => ip.to_string(),
    }
}

/// Capture time to the millisecond, UTC (from the capture, so deterministic).
fn stamp(ns: i64) -> String {
    let s = time::rfc3339(ns);
    // "YYYY-MM-DDTHH:MM:SS.mmm" of "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"
    format!("{}Z", s.get(..23).unwrap_or(&s))
}

/// The whole screen: tabs, the current view, the key line, and the help overlay on top.
pub fn render(frame: &mut Frame, app: &App) {
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_tabs(frame, tabs, app);
    match app.view {
        View::Overview => render_overview(frame, body, app),
        View::Flows => match app.flows.detail {
            Some(i) => render_detail(frame, body, app, i),
            None => render_flows(frame, body, app),
        },
        View::Findings => render_findings(frame, body, app),
        View::Matrix => render_matrix(frame, body, app),
        View::Calls => render_calls(frame, body, app),
        View::Map => super::map_view::render(frame, body, app),
    }
    render_status(frame, status, app);
    if app.help {
        render_help(frame, frame.area());
    }
}

fn render_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let titles: Vec<String> = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()))
        .collect();
    let selected = View::ALL.iter().position(|v| *v == app.view);
    let tabs = Tabs::new(titles)
        .select(selected)
        .style(Style::new().fg(Color::Gray))
        .highlight_style(Style::new().fg(Color::Black).bg(Color::Cyan).bold())
        .divider("|");
    frame.render_widget(tabs, area);
}

fn render_status(frame: &mut Frame, area: Rect, app: &App) {
    let keys = match app.view {
        View::Flows if app.flows.editing => "type to filter  enter:keep  esc:clear",
        View::Flows if app.flows.detail.is_some() => "↑↓:scroll  esc:back  ?:help  q:quit",
        View::Flows => {
            "↑↓:move  enter:detail  /:filter  s/S:sort  r:reverse  esc:clear  ?:help  q:quit"
        }
        View::Findings => "↑↓:move  enter:evidence flows  tab:views  ?:help  q:quit",
        View::Map => "↑↓:arrow  enter:its flows  tab/1-6:views  ?:help  q:quit",
        _ => "tab/1-6:views  ↑↓:scroll  /:filter flows  ?:help  q:quit",
    };
    frame.render_widget(
        Paragraph::new(Line::from(keys).style(Style::new().fg(Color::DarkGray))),
        area,
    );
}

/// A summary table as lines: name, flows, packets, bytes, in `width` columns.
fn tally_lines<'a>(
    title: &str,
    rows: impl IntoIterator<Item = (&'a str, Tally, Style)>,
    width: usize,
) -> Vec<Line<'static>> {
    let name_w = width.saturating_sub(21).max(8);
    let mut out = vec![Line::from(vec![
        Span::from(format!("{:<name_w$}", title)).bold(),
        Span::from(format!(" {:>5} {:>7} {:>6}", "flows", "pkts", "bytes")).dark_gray(),
    ])];
    for (name, t, style) in rows {
        out.push(Line::from(vec![
            Span::styled(format!("{:<name_w$}", truncate(name, name_w)), style),
            Span::from(format!(
                " {:>5} {:>7} {:>6}",
                t.flows,
                t.packets,
                human(t.bytes)
            )),
        ]));
    }
    out
}

/// Verdicts, violations first, each group most flows first.
fn verdict_rows(by_verdict: &BTreeMap<String, Tally>) -> Vec<(&str, Tally, Style)> {
    let mut rows: Vec<(Verdict, Tally)> = Verdict::ALL
        .iter()
        .filter_map(|v| by_verdict.get(v.label()).map(|t| (*v, *t)))
        .collect();
    rows.sort_by(|a, b| {
        b.0.is_violation()
            .cmp(&a.0.is_violation())
            .then(b.1.flows.cmp(&a.1.flows))
            .then(a.0.cmp(&b.0))
    });
    rows.into_iter()
        .map(|(v, t)| (v.label(), t, verdict_style(v)))
        .collect()
}

fn site_lines(app: &App) -> Vec<Line<'static>> {
    let a = &app.model.analysis;
    let au = &app.model.audit;
    let t = &au.topology;
    let mut lines = vec![Line::from(vec![
        Span::from(t.name.clone()).bold().cyan(),
        Span::from(format!(
            "  {} · {}  topology {}",
            t.product, t.scenario, t.source
        )),
        match t.origin {
            crate::audit::Origin::BundledSample => Span::from(" (assumed: no --topology)").yellow(),
            crate::audit::Origin::Inferred => {
                Span::from(" (inferred from the capture: no --topology)").yellow()
            }
            crate::audit::Origin::File => Span::from(""),
        },
    ])];
    let inputs: Vec<String> = a
        .inputs
        .iter()
        .map(|i| {
            let name = std::path::Path::new(&i.name)
                .file_name()
                .map_or(i.name.clone(), |n| n.to_string_lossy().into_owned());
            format!("{name} ({} pkts)", i.packets)
        })
        .collect();
    lines.push(Line::from(format!("captures {}", inputs.join(", "))));
    let span = match (a.first_ts_ns, a.last_ts_ns) {
        (Some(f), Some(l)) => format!("{} + {:.3} s", stamp(f), (l - f) as f64 / 1e9),
        _ => "no packets".to_string(),
    };
    lines.push(Line::from(format!("span {span}")));
    let violations = Span::styled(
        format!("{} flows not permitted", au.violations),
        if au.violations > 0 {
            Style::new().red().bold()
        } else {
            Style::new().green()
        },
    );
    lines.push(Line::from(vec![
        Span::from(format!(
            "{} flows, {} packets, {} bytes; {} rules apply; ",
            a.flows.len(),
            a.accounting.packets,
            human(a.accounting.wire_bytes),
            au.applicable_rules
        )),
        violations,
    ]));
    match a.completeness() {
        Completeness::Complete => {}
        Completeness::Partial => lines.push(
            Line::from("warning: partial read (a capture is damaged or cut short); see accounting")
                .style(Style::new().yellow().bold()),
        ),
        Completeness::Unusable => {
            lines.push(Line::from("error: no input could be read").red().bold())
        }
    }
    lines
}

fn findings_summary(findings: &[FindingView], width: usize, max: usize) -> Vec<Line<'static>> {
    let mut out = vec![heading(&format!("Findings ({})", findings.len()))];
    if findings.is_empty() {
        out.push(Line::from("no findings yet").dark_gray());
    }
    for f in findings.iter().take(max) {
        out.push(Line::from(vec![
            Span::styled(
                format!("{:<8} ", f.severity.label()),
                severity_style(f.severity),
            ),
            Span::from(truncate(
                &format!("{} {}", f.id, f.title),
                width.saturating_sub(9),
            )),
        ]));
    }
    if findings.len() > max {
        out.push(Line::from(format!("… {} more (3: Findings)", findings.len() - max)).dark_gray());
    }
    out
}

fn accounting_lines(a: &Analysis, width: usize) -> Vec<Line<'static>> {
    let acc = &a.accounting;
    let name_w = width.saturating_sub(16).max(8);
    let mut out = vec![Line::from(vec![
        Span::from(format!("{:<name_w$}", "Packet accounting")).bold(),
        Span::from(format!(" {:>7} {:>6}", "pkts", "bytes")).dark_gray(),
    ])];
    out.push(Line::from(format!(
        "{:<name_w$} {:>7} {:>6}",
        "read",
        acc.packets,
        human(acc.wire_bytes)
    )));
    for (name, t) in &acc.buckets {
        out.push(Line::from(format!(
            "{:<name_w$} {:>7} {:>6}",
            truncate(name, name_w),
            t.packets,
            human(t.wire_bytes)
        )));
    }
    if acc.balanced() {
        out.push(Line::from("every packet read is accounted for").green());
    } else {
        for m in &acc.mismatches {
            out.push(Line::from(format!("MISMATCH: {m}")).red().bold());
        }
    }
    for i in &a.inputs {
        match (&i.error, &i.stop) {
            (Some(e), _) => out.push(Line::from(format!("{}: not read: {e}", i.name)).red()),
            (None, Some(s)) => out.push(Line::from(format!("{}: stopped: {s}", i.name)).yellow()),
            (None, None) => {}
        }
    }
    out
}

/// Site header across the top; verdicts and findings on the left; interfaces, services and
/// the packet accounting on the right. Both columns scroll together.
pub fn render_overview(frame: &mut Frame, area: Rect, app: &App) {
    let site = site_lines(app);
    let [head, _, cols] = Layout::vertical([
        Constraint::Length(site.len() as u16),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(site), head);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .spacing(1)
            .areas(cols);
    let au = &app.model.audit;
    let lw = left.width as usize;
    let mut l = tally_lines("Verdicts", verdict_rows(&au.by_verdict), lw);
    l.push(Line::from(""));
    l.extend(findings_summary(&app.model.findings, lw, 5));
    let rw = right.width as usize;
    let plain = |m: &BTreeMap<String, Tally>| -> Vec<(String, Tally)> {
        m.iter().map(|(k, t)| (k.clone(), *t)).collect()
    };
    let ifaces = plain(&au.by_interface);
    let services = plain(&au.by_service);
    let mut r = tally_lines(
        "Edge interfaces",
        ifaces.iter().map(|(k, t)| (k.as_str(), *t, Style::new())),
        rw,
    );
    r.extend(tally_lines(
        "Edge services",
        services.iter().map(|(k, t)| (k.as_str(), *t, Style::new())),
        rw,
    ));
    r.push(Line::from(""));
    r.extend(accounting_lines(&app.model.analysis, rw));
    let scroll = (app.overview_scroll, 0);
    frame.render_widget(Paragraph::new(l).scroll(scroll), left);
    frame.render_widget(Paragraph::new(r).scroll(scroll), right);
}

fn state_text(f: &Flow) -> String {
    let mut s = f.conn_state().to_string();
    match f.handshake() {
        Some(Handshake::SynUnanswered { .. }) => s.push_str(" syn?"),
        Some(Handshake::RefusedByRst) => s.push_str(" rst"),
        Some(Handshake::UnreachableByIcmp) => s.push_str(" icmp"),
        _ => {}
    }
    s
}

fn cell_text(col: Column, f: &Flow, j: &Judgement) -> String {
    match col {
        Column::Initiator => {
            let mut s = endpoint(f.initiator.ip, f.initiator.port, f.protocol);
            if !f.initiator_by.is_certain() {
                s.push('?');
            }
            s
        }
        Column::Responder => endpoint(f.responder.ip, f.responder.port, f.protocol),
        Column::Transport => transport_name(f.protocol),
        Column::Protocol => {
            if j.documented.is_empty() {
                "-".into()
            } else {
                j.documented.to_string()
            }
        }
        Column::Interface => match (j.edge_interface, j.edge_service) {
            // The internal interface's own services need no second word.
            (Some(i), Some(Service::Internal)) | (Some(i), None) => interface_label(i).to_string(),
            (Some(i), Some(s)) => format!("{}/{}", interface_label(i), short_service(s)),
            _ => "-".into(),
        },
        Column::Packets => f.packets().to_string(),
        Column::Bytes => f.wire_bytes().to_string(),
        Column::Duration => format!("{:.3}", duration_ns(f) as f64 / 1e9),
        Column::State => state_text(f),
        Column::Verdict => j.verdict.label().to_string(),
    }
}

fn column_width(col: Column) -> Constraint {
    match col {
        Column::Initiator | Column::Responder => Constraint::Min(19),
        Column::Transport => Constraint::Length(4),
        Column::Protocol => Constraint::Length(11),
        Column::Interface => Constraint::Length(17),
        Column::Packets => Constraint::Length(6),
        Column::Bytes => Constraint::Length(9),
        Column::Duration => Constraint::Length(8),
        Column::State => Constraint::Length(7),
        Column::Verdict => Constraint::Length(19),
    }
}

fn visible_columns(width: u16) -> &'static [Column] {
    if width >= WIDE {
        &Column::ALL
    } else {
        &[
            Column::Initiator,
            Column::Responder,
            Column::Transport,
            Column::Bytes,
            Column::State,
            Column::Verdict,
        ]
    }
}

fn right_aligned(col: Column) -> bool {
    matches!(col, Column::Packets | Column::Bytes | Column::Duration)
}

/// The flow table and, under it, the filter and sort line.
pub fn render_flows(frame: &mut Frame, area: Rect, app: &App) {
    let [table_area, bar] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let t = &app.flows;
    let cols = visible_columns(area.width);
    let arrow = if t.descending { "▼" } else { "▲" };
    let header = Row::new(cols.iter().map(|c| {
        let title = if *c == t.sort {
            format!("{}{arrow}", c.title())
        } else {
            c.title().to_string()
        };
        let cell = if right_aligned(*c) {
            Line::from(title).right_aligned()
        } else {
            Line::from(title)
        };
        Cell::from(cell)
    }))
    .style(Style::new().bold().underlined());
    let rows = t.rows.iter().filter_map(|&i| app.flow(i)).map(|(f, j)| {
        Row::new(cols.iter().map(|c| {
            let text = cell_text(*c, f, j);
            let line = if right_aligned(*c) {
                Line::from(text).right_aligned()
            } else {
                Line::from(text)
            };
            let cell = Cell::from(line);
            if *c == Column::Verdict {
                cell.style(verdict_style(j.verdict))
            } else {
                cell
            }
        }))
    });
    let table = Table::new(rows, cols.iter().map(|c| column_width(*c)))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().bg(Color::DarkGray));
    let mut state = TableState::default().with_selected(if t.rows.is_empty() {
        None
    } else {
        Some(t.selected)
    });
    frame.render_stateful_widget(table, table_area, &mut state);
    if t.rows.is_empty() {
        let msg = Paragraph::new("no flow matches").dark_gray();
        let [_, below] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(table_area);
        frame.render_widget(msg, below);
    }
    let mut spans = Vec::new();
    if let Some((what, _)) = &t.pinned {
        spans.push(Span::from(format!("{what} (esc: all flows)  ")).yellow());
    }
    if t.editing || !t.filter.is_empty() {
        spans.push(Span::from("/").bold());
        spans.push(Span::from(t.filter.clone()));
        if t.editing {
            spans.push(Span::from("▏").cyan());
        }
        spans.push(Span::from("  "));
    }
    spans.push(Span::from(format!(
        "{} of {} flows  sort: {} {arrow}",
        t.rows.len(),
        app.model.analysis.flows.len(),
        t.sort.title()
    )));
    frame.render_widget(Paragraph::new(Line::from(spans)), bar);
}

fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::InboundToEdge => "inbound to the Edge",
        Direction::OutboundFromEdge => "outbound from the Edge",
        Direction::InboundToReverseProxy => "inbound to the reverse proxy",
        Direction::OutboundFromReverseProxy => "outbound from the reverse proxy",
    }
}

fn dir_line(name: &str, d: &crate::flow::DirStats) -> Line<'static> {
    let frames = match (d.first_frame(), d.last_frame()) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "-".into(),
    };
    Line::from(format!(
        "  {name:<12} {:>7} {:>10} {:>10}  {frames}",
        d.packets, d.wire_bytes, d.payload_bytes
    ))
}

fn handshake_text(f: &Flow) -> String {
    match f.handshake() {
        Some(Handshake::Established) => "established".into(),
        Some(Handshake::SynUnanswered {
            syn_retransmissions,
        }) => format!("SYN unanswered ({syn_retransmissions} retransmissions)"),
        Some(Handshake::RefusedByRst) => "refused (RST)".into(),
        Some(Handshake::UnreachableByIcmp) => "unreachable (ICMP error)".into(),
        Some(Handshake::NotSeen) => "not seen (capture starts mid-connection)".into(),
        None if f.answered() => "no handshake (datagrams both ways)".into(),
        None => "no handshake (one-way: nothing came back)".into(),
    }
}

/// Payload evidence of a flow; shown as "none" until identification provides some.
fn evidence_lines(app: &App, i: usize) -> Vec<Line<'static>> {
    let mut out = vec![heading("Payload evidence")];
    match app.model.evidence.get(&i) {
        Some(ev) if !ev.is_empty() => {
            for e in ev {
                out.push(Line::from(format!("  {}: {}", e.label, e.value)));
            }
        }
        _ => out.push(Line::from("  none identified").dark_gray()),
    }
    out
}

fn verdict_lines(app: &App, f: &Flow, j: &Judgement) -> Vec<Line<'static>> {
    let mut out = vec![Line::from(vec![
        Span::from("Verdict ").bold(),
        Span::styled(j.verdict.label().to_string(), verdict_style(j.verdict)),
        Span::from(if j.verdict.is_violation() {
            "  (not permitted by the matrix)"
        } else {
            ""
        }),
    ])];
    out.push(Line::from(format!("  {}", j.reason.of(f))));
    if j.judged_reversed {
        out.push(Line::from(
            "  judged with initiator and responder swapped (no SYN seen)",
        ));
    }
    for id in j.rules.iter() {
        out.push(Line::from(vec![
            Span::from("  rule ").dark_gray(),
            Span::from(id.to_string()),
        ]));
        if let Some(r) = app.model.matrix.rule(id) {
            for c in r.citations() {
                out.push(Line::from(format!("    cites {}", c.short())).dark_gray());
            }
        }
    }
    for n in j.notes.iter() {
        out.push(Line::from(format!("  note: {n}")).cyan());
    }
    out
}

/// One flow: both directions, TCP history and handshake, Edge placement, payload evidence and
/// the verdict with its reason, rules and cited documents.
pub fn render_detail(frame: &mut Frame, area: Rect, app: &App, i: usize) {
    let Some((f, j)) = app.flow(i) else {
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::from(format!(
            "{} {} -> {}",
            transport_name(f.protocol),
            endpoint(f.initiator.ip, f.initiator.port, f.protocol),
            endpoint(f.responder.ip, f.responder.port, f.protocol)
        ))
        .bold(),
        Span::from(format!("  flow #{}", f.id)).dark_gray(),
    ])];
    let known_by = match f.initiator_by {
        InitiatorEvidence::Syn => "its SYN (certain)",
        InitiatorEvidence::SynAck => "the responder's SYN-ACK (certain)",
        InitiatorEvidence::WellKnownPort => "the service port (inferred)",
        InitiatorEvidence::FirstPacket => "the first packet seen (inferred)",
        InitiatorEvidence::DeniedSource => "the firewall's log of the packet it denied (certain)",
    };
    lines.push(Line::from(format!("initiator known by {known_by}")));
    lines.push(
        Line::from(format!(
            "  {:<12} {:>7} {:>10} {:>10}  frames",
            "", "packets", "wire B", "payload B"
        ))
        .dark_gray(),
    );
    lines.push(dir_line("initiator →", &f.orig));
    lines.push(dir_line("responder ←", &f.resp));
    lines.push(Line::from(format!(
        "time {} + {:.3} s",
        stamp(f.first_ts_ns()),
        duration_ns(f) as f64 / 1e9
    )));
    let history = if f.history().is_empty() {
        "-".to_string()
    } else {
        f.history().to_string()
    };
    lines.push(Line::from(format!(
        "state {}  history {}  handshake {}",
        f.conn_state(),
        history,
        handshake_text(f)
    )));
    if f.icmp_errors > 0 {
        lines.push(Line::from(format!("ICMP errors {}", f.icmp_errors)).yellow());
        for n in &f.icmp_notes {
            lines.push(Line::from(format!(
                "  type {} code {} from {} (frame {})",
                n.icmp_type, n.code, n.from, n.frame
            )));
        }
    }
    lines.push(Line::from(format!(
        "edge {} / {}  {}  protocol {}",
        j.edge_interface.map_or("-", interface_label),
        j.edge_service.map_or("-", service_label),
        j.direction.map_or("-", direction_label),
        if j.documented.is_empty() {
            "-"
        } else {
            &j.documented
        }
    )));
    lines.push(Line::from(""));
    lines.extend(verdict_lines(app, f, j));
    lines.push(Line::from(""));
    lines.extend(evidence_lines(app, i));
    let block = Block::bordered().title(" Flow detail (esc: back) ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.flows.detail_scroll, 0)),
        area,
    );
}

/// Findings most serious first; the selected one's explanation and fix underneath.
pub fn render_findings(frame: &mut Frame, area: Rect, app: &App) {
    let findings = &app.model.findings;
    if findings.is_empty() {
        let text = Text::from(vec![
            heading("Findings"),
            Line::from(""),
            Line::from("No findings yet: diagnostics have not produced any for this capture."),
            Line::from("The verdicts are in 1 Overview and 2 Flows.").dark_gray(),
        ]);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), area);
        return;
    }
    let list_h = (findings.len() as u16 + 1).min(area.height / 2).max(2);
    let [list, detail] =
        Layout::vertical([Constraint::Length(list_h), Constraint::Fill(1)]).areas(area);
    let rows = findings.iter().map(|f| {
        Row::new(vec![
            Cell::from(f.severity.label()).style(severity_style(f.severity)),
            Cell::from(f.id.clone()),
            Cell::from(f.title.clone()),
            Cell::from(format!("{}", f.flow_indexes.len())),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Fill(1),
            Constraint::Length(5),
        ],
    )
    .header(
        Row::new(["severity", "id", "finding", "flows"]).style(Style::new().bold().underlined()),
    )
    .row_highlight_style(Style::new().bg(Color::DarkGray));
    let mut state = TableState::default().with_selected(Some(app.finding_selected));
    frame.render_stateful_widget(table, list, &mut state);
    if let Some(f) = findings.get(app.finding_selected) {
        let lines = vec![
            Line::from(vec![
                Span::styled(f.severity.label().to_string(), severity_style(f.severity)),
                Span::from(format!(" {} {}", f.id, f.title)).bold(),
            ]),
            Line::from(f.explanation.clone()),
            Line::from(""),
            Line::from(vec![Span::from("Fix: ").bold(), Span::from(f.fix.clone())]),
            Line::from(""),
            Line::from(format!(
                "enter: show its {} evidence flow(s)",
                f.flow_indexes.len()
            ))
            .dark_gray(),
        ];
        frame.render_widget(
            Paragraph::new(lines)
                .block(Block::bordered())
                .wrap(Wrap { trim: false }),
            detail,
        );
    }
}

/// The documented rules that apply to the site, with their hit counts; rules no flow
/// exercised are highlighted, since a missing documented flow can be a firewall block.
pub fn render_matrix(frame: &mut Frame, area: Rect, app: &App) {
    let cov = &app.model.audit.coverage;
    let [head, table_area, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(4),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::from(format!("{} rules apply to this site; ", app.rules.len())),
            Span::from(format!(
                "{} never exercised (highlighted)",
                cov.never_exercised.len()
            ))
            .yellow(),
        ])),
        head,
    );
    let rules = &app.model.matrix.rules;
    // Narrow terminals drop the interface column: rule ids start with ext- or int- anyway.
    let wide = area.width >= WIDE;
    let rows = app.rules.iter().filter_map(|&i| rules.get(i)).map(|r| {
        let hits = cov.hits.get(&r.id).copied().unwrap_or(0);
        let mut cells = vec![
            Cell::from(Line::from(hits.to_string()).right_aligned()),
            Cell::from(r.id.clone()),
            Cell::from(r.protocol.clone()),
            // The site's own port, never the data file's `$name`.
            Cell::from(format!(
                "{} {}",
                format!("{:?}", r.transport).to_lowercase(),
                match r.dst_port {
                    crate::matrix::PortSpec::Named(sp) => app.model.audit.site.port(sp),
                    other => other,
                }
            )),
        ];
        if wide {
            cells.push(Cell::from(interface_label(r.interface)));
            cells.push(Cell::from(
                r.citations().first().map(|c| c.place()).unwrap_or_default(),
            ));
        }
        let row = Row::new(cells);
        if hits == 0 {
            row.style(Style::new().fg(Color::Yellow))
        } else {
            row.style(Style::new().fg(Color::Green))
        }
    });
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Fill(1),
        Constraint::Length(11),
        Constraint::Length(22),
    ];
    let mut header = vec![
        Cell::from(Line::from("hits").right_aligned()),
        Cell::from("rule"),
        Cell::from("protocol"),
        Cell::from("transport/port"),
    ];
    if wide {
        // The rule column stops growing so the cited document gets the room.
        widths[1] = Constraint::Length(40);
        widths.extend([Constraint::Length(9), Constraint::Fill(1)]);
        header.extend([Cell::from("interface"), Cell::from("source")]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold().underlined()))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(if app.rules.is_empty() {
        None
    } else {
        Some(app.matrix_selected)
    });
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(r) = app
        .rules
        .get(app.matrix_selected)
        .and_then(|&i| rules.get(i))
    {
        let mut lines: Vec<Line> = r
            .citations()
            .iter()
            .map(|c| Line::from(c.short()).dark_gray())
            .collect();
        if !r.note.is_empty() {
            lines.push(Line::from(format!("note: {}", r.note)).cyan());
        }
        frame.render_widget(
            Paragraph::new(lines)
                .block(Block::new().borders(ratatui::widgets::Borders::TOP))
                .wrap(Wrap { trim: true }),
            detail,
        );
    }
}

pub fn render_calls(frame: &mut Frame, area: Rect, app: &App) {
    let calls = &app.model.audit.diagnosis.calls;
    let mut lines = vec![heading("Calls"), Line::from("")];
    if calls.is_empty() {
        lines.push(Line::from(
            "No call in this capture (a call is a TURN allocation on the A/V Edge with its relayed media, or a failed SIP/MTLS 5061 connection with a partner).",
        ));
    }
    let selected = app.call_selected.min(calls.len().saturating_sub(1));
    // Rows (after wrapping) before the selected call and to its end, to scroll it into view.
    let width = usize::from(area.width.max(1));
    let rows = |l: &Line| l.width().max(1).div_ceil(width);
    let (mut start, mut end) = (0usize, 0usize);
    for (n, c) in calls.iter().enumerate() {
        if n == selected {
            start = lines.iter().map(rows).sum();
        }
        let mark = if n == selected { "▶ " } else { "  " };
        let head = Line::from(format!("{mark}{}", c.heading()));
        let head = if c.failed_leg.is_some() {
            head.red()
        } else {
            head.green()
        };
        lines.push(if n == selected { head.bold() } else { head });
        for (ok, text) in c.leg_lines() {
            let text = format!("    {text}");
            lines.push(if ok {
                Line::from(text)
            } else {
                Line::from(text).red()
            });
        }
        if n == selected {
            end = lines.iter().map(rows).sum();
        }
        lines.push(Line::from(""));
    }
    let height = usize::from(area.height);
    // Scrolled as little as shows the whole call, but never past its heading.
    let scroll = start.min(end.saturating_sub(height));
    frame.render_widget(
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
        area,
    );
}

const HELP: [(&str, &str); 15] = [
    ("tab / shift-tab", "next / previous view"),
    ("1..6", "overview, flows, findings, matrix, calls,"),
    ("", "  map of the Edge"),
    ("↑ ↓  j k  wheel", "move the selection or scroll"),
    ("pgup pgdn space", "move by a page"),
    ("home end  g G", "first / last"),
    ("/", "filter flows: address, port, protocol,"),
    ("", "  verdict, interface (terms are ANDed)"),
    ("enter", "flow detail; a finding's, call's or arrow's"),
    ("", "  flows"),
    ("esc", "back: close detail, clear filter"),
    ("s / S", "sort flows by the next / previous column"),
    ("r", "reverse the sort"),
    ("?", "this help (any key closes it)"),
    ("q  ctrl-c", "quit"),
];

pub fn render_help(frame: &mut Frame, area: Rect) {
    let w = area.width.min(62);
    let h = area.height.min(HELP.len() as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::from(format!(" {k:<16}")).cyan(),
                Span::from(d.to_string()),
            ])
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}

fn mb(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

/// While the captures are read: their names and a gauge of the bytes read.
pub fn render_loading(frame: &mut Frame, loading: &Loading) {
    let area = frame.area();
    let [_, names, gauge, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from("edgewise: reading captures (q: cancel)").bold(),
            Line::from(truncate(&loading.names.join(", "), area.width as usize)),
        ]),
        names,
    );
    let (ratio, label) = match loading.total {
        Some(total) if total > 0 => (
            (loading.read as f64 / total as f64).clamp(0.0, 1.0),
            format!("reading {} of {}", mb(loading.read), mb(total)),
        ),
        _ => (0.0, format!("reading {}", mb(loading.read))),
    };
    frame.render_widget(
        Gauge::default()
            .block(Block::bordered())
            .gauge_style(Style::new().cyan())
            .ratio(ratio)
            .label(label),
        gauge,
    );
}
