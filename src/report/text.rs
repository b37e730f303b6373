//! The text report of `edgewise flows`: a conversation table like `tshark -z conv`, sorted by
//! bytes, then the inputs and the packet accounting.

use std::io::{self, Write};

use super::time::{self, TimeFormat};
use super::words;
use super::{by_bytes, transport_name, TextOptions};
use crate::analysis::{Analysis, Completeness};
use crate::flow::Flow;
use crate::select::Selection;

fn endpoint(ip: std::net::IpAddr, port: u16, protocol: u8) -> String {
    let has_ports = matches!(protocol, 6 | 17);
    match (ip, has_ports) {
        (std::net::IpAddr::V6(v6), true) => format!("[{v6}]:{port}"),
        (ip, true) => format!("{ip}:{port}"),
        (ip, false) => ip.to_string(),
    }
}

fn state(f: &Flow) -> String {
    let mut s = f.conn_state().to_string();
    if let Some(h) = f.handshake() {
        use crate::flow::tcp::Handshake::*;
        match h {
            SynUnanswered {
                syn_retransmissions,
            } => s.push_str(&format!(" syn-unanswered({syn_retransmissions} rexmit)")),
            RefusedByRst => s.push_str(" refused"),
            UnreachableByIcmp => s.push_str(" icmp-unreachable"),
            Established | NotSeen => {}
        }
    } else if f.protocol == 17 && !f.answered() {
        s.push_str(" one-way");
    }
    if f.icmp_errors > 0
        && !matches!(
            f.handshake(),
            Some(crate::flow::tcp::Handshake::UnreachableByIcmp)
        )
    {
        s.push_str(&format!(" icmp-errors:{}", f.icmp_errors));
    }
    s
}

/// The notes of the table at a glance, in a dozen characters: what went wrong, not how often
/// (`--wide` gives the counts).
fn short_notes(f: &Flow) -> String {
    use crate::flow::tcp::Handshake::*;
    let mut notes: Vec<&str> = Vec::new();
    match f.handshake() {
        Some(SynUnanswered { .. }) => notes.push("no answer"),
        Some(RefusedByRst) => notes.push("refused"),
        Some(UnreachableByIcmp) => notes.push("unreachable"),
        Some(Established | NotSeen) => {}
        None if f.protocol == 17 && !f.answered() => notes.push("one-way"),
        None => {}
    }
    if f.icmp_errors > 0 && !matches!(f.handshake(), Some(UnreachableByIcmp)) {
        notes.push("icmp");
    }
    notes.join(" ")
}

/// Writes the text report of the flows shown (all, or a display filter's selection).
pub fn write(a: &Analysis, selection: Option<&Selection>, out: &mut dyn Write) -> io::Result<()> {
    write_with(a, selection, &TextOptions::default(), out)
}

/// The start-time column `-t` adds before a flows table's own columns: the heading, or a flow's
/// start, padded to the width of the format's longest value.
pub(super) fn time_cell(time: Option<TimeFormat>, value: Option<(i64, i64)>) -> String {
    let Some(t) = time else {
        return String::new();
    };
    let width = match t {
        TimeFormat::Absolute | TimeFormat::Utc => 15,
        TimeFormat::AbsoluteDate | TimeFormat::UtcDate => 26,
        TimeFormat::AbsoluteDoy | TimeFormat::UtcDoy => 24,
        TimeFormat::Relative => 14,
        TimeFormat::Epoch => 17,
    };
    match value {
        None => format!("{:<width$} ", t.heading()),
        Some((ts, first)) => format!("{:<width$} ", t.format(ts, first)),
    }
}

/// A flow's initiator as the tables write it, `?` marking an inferred one.
pub(super) fn initiator_cell(f: &Flow) -> String {
    let mut init = endpoint(f.initiator.ip, f.initiator.port, f.protocol);
    if !f.initiator_by.is_certain() {
        init.push('?');
    }
    init
}

pub(super) fn responder_cell(f: &Flow) -> String {
    endpoint(f.responder.ip, f.responder.port, f.protocol)
}

/// A duration in seconds, short: `0.250 s`, `12.3 s`, `5 min 3 s`.
pub(super) fn duration(ns: i64) -> String {
    let s = ns.max(0) as f64 / 1e9;
    if s < 10.0 {
        format!("{s:.3} s")
    } else if s < 600.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// A column of a text table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Col {
    pub head: &'static str,
    /// Numbers: right-aligned.
    pub right: bool,
    /// May be cut (with an ellipsis) so that the table fits.
    pub shrink: bool,
    /// The widest the column is laid out, whatever its cells (0: as wide as its widest cell). A
    /// longer cell (an IPv6 address) overflows its own row only, not the whole table.
    pub most: usize,
}

impl Col {
    pub const fn left(head: &'static str) -> Col {
        Col {
            head,
            right: false,
            shrink: false,
            most: 0,
        }
    }

    pub const fn right(head: &'static str) -> Col {
        Col {
            head,
            right: true,
            shrink: false,
            most: 0,
        }
    }

    pub const fn shrinking(head: &'static str) -> Col {
        Col {
            head,
            right: false,
            shrink: true,
            most: 0,
        }
    }

    /// The column laid out at most `most` wide.
    pub const fn at_most(self, most: usize) -> Col {
        Col { most, ..self }
    }
}

/// Column widths for a table and the gap between columns: the widest of each column's heading
/// and cells, two spaces apart; where that is wider than `width`, one space apart, and then the
/// columns that may shrink give up room (to 8 characters).
pub(super) fn widths(
    cols: &[Col],
    rows: impl Iterator<Item = Vec<String>>,
    indent: usize,
    width: Option<usize>,
) -> (Vec<usize>, usize) {
    let mut w: Vec<usize> = cols.iter().map(|c| words::width(c.head)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let (Some(x), Some(c)) = (w.get_mut(i), cols.get(i)) {
                let cell = words::width(cell);
                *x = (*x).max(if c.most > 0 { cell.min(c.most) } else { cell });
            }
        }
    }
    let total = |w: &[usize], gap: usize| {
        indent + w.iter().sum::<usize>() + gap * w.len().saturating_sub(1)
    };
    if width.is_none_or(|max| total(&w, 2) <= max) {
        return (w, 2);
    }
    if let Some(max) = width {
        while total(&w, 1) > max {
            let widest = cols
                .iter()
                .enumerate()
                .filter(|(i, c)| c.shrink && w[*i] > 8)
                .max_by_key(|(i, _)| w[*i])
                .map(|(i, _)| i);
            match widest {
                Some(i) => w[i] -= 1,
                None => break,
            }
        }
    }
    (w, 1)
}

/// One row of a table at the given widths, a space between columns; a cell of a shrinking
/// column is cut to its width. A row still wider than `width` (an IPv6 address in a narrow
/// column) goes on over the next lines, indented, rather than past the terminal's edge.
pub(super) fn row_lines(
    cols: &[Col],
    (widths, gap): &(Vec<usize>, usize),
    cells: &[String],
    indent: &str,
    width: Option<usize>,
) -> Vec<String> {
    let mut parts: Vec<String> = Vec::with_capacity(cells.len());
    for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
        let text = cells.get(i).map_or("", String::as_str);
        let text = if c.shrink && width.is_some() {
            words::truncate(text, *w)
        } else {
            text.to_string()
        };
        let last = i + 1 == cols.len();
        parts.push(match (c.right, last) {
            (true, _) => format!("{text:>w$}"),
            (false, true) => text,
            (false, false) => format!("{text:<w$}"),
        });
    }
    let line = format!("{indent}{}", parts.join(&" ".repeat(*gap)));
    let line = line.trim_end().to_string();
    match width {
        Some(max) if words::width(&line) > max => {
            // Too wide (an IPv6 address): the cells that do not fit go on over the next line,
            // under the second column.
            let under = indent.len() + widths.first().copied().unwrap_or(0) + gap;
            let sep = " ".repeat(*gap);
            let mut lines = Vec::new();
            let mut current = String::from(indent);
            for (i, part) in parts.iter().enumerate() {
                let fresh = i == 0 || (!lines.is_empty() && current.trim().is_empty());
                if !fresh && words::width(&current) + gap + words::width(part.trim_end()) > max {
                    lines.push(current.trim_end().to_string());
                    current = " ".repeat(under);
                    current.push_str(part);
                } else {
                    if !fresh {
                        current.push_str(&sep);
                    }
                    current.push_str(part);
                }
            }
            lines.push(current.trim_end().to_string());
            lines
        }
        _ => vec![line],
    }
}

/// [`write`], with a start-time column in a tshark `-t` format when `time` is given, and every
/// column unwrapped with `--wide`.
pub fn write_with(
    a: &Analysis,
    selection: Option<&Selection>,
    opts: &TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let time = opts.time;
    let flows = by_bytes(a, selection);
    let first = a.first_ts_ns.unwrap_or(0);
    let span = match (a.first_ts_ns, a.last_ts_ns) {
        (Some(f), Some(l)) => format!(
            "{} .. {} ({})",
            time::rfc3339(f),
            time::rfc3339(l),
            duration(l - f)
        ),
        _ => "no packets".to_string(),
    };
    words::write_wrapped(
        out,
        &format!(
            "{} from {} ({} on the wire); {}",
            words::count(flows.len() as u64, "flow"),
            words::count(a.accounting.packets, "packet"),
            words::bytes(a.accounting.wire_bytes),
            span
        ),
        opts.width(),
        "",
        "  ",
    )?;
    writeln!(out)?;
    if opts.wide {
        write_wide_table(a, &flows, time, first, out)?;
    } else {
        write_table(&flows, time, first, opts.width(), out)?;
    }
    if flows.iter().any(|f| !f.initiator_by.is_certain()) {
        words::write_wrapped(
            out,
            "(? after an initiator: no SYN was seen, so the initiator was inferred from the first \
             packet or a service port)",
            opts.width(),
            "  ",
            "   ",
        )?;
    }
    write_inputs_and_accounting(a, out)
}

/// The conversation table at a glance: addresses, packets each way, bytes, duration, state.
/// The start time (`-t`) leads the first cell, and the table grows by its width.
fn write_table(
    flows: &[&Flow],
    time: Option<TimeFormat>,
    first: i64,
    width: Option<usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    const COLS: [Col; 8] = [
        Col::left("proto"),
        // An IPv4 address and port, with `?` for an inferred initiator.
        Col::left("initiator").at_most(22),
        Col::left("responder").at_most(21),
        Col::right("pkts ->/<-"),
        Col::right("bytes"),
        Col::right("duration"),
        Col::left("state"),
        Col::left("notes"),
    ];
    let width = if time.is_some() { None } else { width };
    let cells = |f: &Flow| -> Vec<String> {
        vec![
            format!(
                "{}{}",
                time_cell(time, Some((f.first_ts_ns(), first))),
                transport_name(f.protocol)
            ),
            initiator_cell(f),
            responder_cell(f),
            format!(
                "{}/{}",
                words::thousands(f.orig.packets),
                words::thousands(f.resp.packets)
            ),
            words::bytes(f.wire_bytes()),
            duration(f.last_ts_ns() - f.first_ts_ns()),
            f.conn_state().to_string(),
            short_notes(f),
        ]
    };
    let mut header: Vec<String> = COLS.iter().map(|c| c.head.to_string()).collect();
    header[0] = format!("{}{}", time_cell(time, None), COLS[0].head);
    let w = widths(
        &COLS,
        std::iter::once(header.clone()).chain(flows.iter().map(|f| cells(f))),
        0,
        width,
    );
    for line in row_lines(&COLS, &w, &header, "", width) {
        writeln!(out, "{line}")?;
    }
    for f in flows {
        for line in row_lines(&COLS, &w, &cells(f), "", width) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// `--wide`: every column, each direction apart, exact counts, the TCP history.
fn write_wide_table(
    _a: &Analysis,
    flows: &[&Flow],
    time: Option<TimeFormat>,
    first: i64,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{}{:<5} {:<46} {:<46} {:>8} {:>14} {:>8} {:>14} {:>10} {:<6} {:<12} notes",
        time_cell(time, None),
        "proto",
        "initiator",
        "responder",
        "pkts->",
        "bytes->",
        "<-pkts",
        "<-bytes",
        "duration",
        "state",
        "history",
    )?;
    for f in flows {
        let dur = (f.last_ts_ns() - f.first_ts_ns()) as f64 / 1e9;
        let st = state(f);
        let (conn, notes) = st.split_once(' ').unwrap_or((st.as_str(), ""));
        writeln!(
            out,
            "{}{:<5} {:<46} {:<46} {:>8} {:>14} {:>8} {:>14} {:>10.3} {:<6} {:<12} {}",
            time_cell(time, Some((f.first_ts_ns(), first))),
            transport_name(f.protocol),
            initiator_cell(f),
            responder_cell(f),
            words::thousands(f.orig.packets),
            words::thousands(f.orig.wire_bytes),
            words::thousands(f.resp.packets),
            words::thousands(f.resp.wire_bytes),
            dur,
            conn,
            f.history(),
            notes
        )?;
    }
    Ok(())
}

/// The inputs, interfaces and packet accounting sections (shared with the audit report).
pub fn write_inputs_and_accounting(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Inputs")?;
    if let Some(n) = a.accounting.notes.get(crate::analysis::COUNT_LIMIT_NOTE) {
        writeln!(
            out,
            "  reading stopped after the first {}, as -c {n} asked",
            words::count(*n, "packet")
        )?;
    }
    for i in &a.inputs {
        let line = match (&i.error, &i.stop) {
            (Some(e), _) => format!("{}: not read: {e}", i.name),
            (None, Some(s)) => format!(
                "{}: {} {}, then {}",
                i.name,
                i.format.unwrap_or("?"),
                words::count(i.packets, "packet"),
                s
            ),
            (None, None) => format!(
                "{}: {}, {}",
                i.name,
                i.format.unwrap_or("?"),
                words::count(i.packets, "packet")
            ),
        };
        words::write_wrapped(out, &line, Some(words::WIDTH), "  ", "    ")?;
    }
    for e in &a.interfaces {
        writeln!(
            out,
            "  interface {} ({}): link type {}, snaplen {}{}",
            e.index,
            e.name.as_deref().unwrap_or("unnamed"),
            e.link_type,
            words::thousands(u64::from(e.snaplen)),
            if e.unsupported_packets > 0 {
                format!(
                    ", {} of an unsupported link type",
                    words::count(e.unsupported_packets, "packet")
                )
            } else {
                String::new()
            }
        )?;
    }
    writeln!(out)?;
    let acc = &a.accounting;
    writeln!(out, "Packet accounting")?;
    writeln!(out, "  {:<40} {:>13} {:>16}", "", "packets", "bytes")?;
    writeln!(
        out,
        "  {:<40} {:>13} {:>16}",
        "read",
        words::thousands(acc.packets),
        words::thousands(acc.wire_bytes)
    )?;
    for (name, t) in &acc.buckets {
        writeln!(
            out,
            "  {:<40} {:>13} {:>16}",
            name,
            words::thousands(t.packets),
            words::thousands(t.wire_bytes)
        )?;
    }
    if acc.balanced() {
        writeln!(out, "  every packet read is accounted for")?;
    } else {
        for m in &acc.mismatches {
            words::write_wrapped(
                out,
                &format!("ACCOUNTING MISMATCH: {m}"),
                Some(words::WIDTH),
                "  ",
                "    ",
            )?;
        }
    }
    let c = &a.flow_counts;
    writeln!(
        out,
        "  flows: {} created, {} open at end, {} expired idle, {} evicted at the cap",
        words::thousands(c.created),
        words::thousands(c.active_at_end),
        words::thousands(c.expired_idle),
        words::thousands(c.evicted_cap)
    )?;
    if !acc.notes.is_empty() {
        writeln!(out, "  notes (counted besides the buckets):")?;
        for (name, n) in &acc.notes {
            writeln!(out, "    {name:<38} {:>13}", words::thousands(*n))?;
        }
    }
    match a.completeness() {
        Completeness::Complete => {}
        Completeness::Partial => writeln!(
            out,
            "\nwarning: the read was partial (see Inputs); everything before the damage is reported"
        )?,
        Completeness::Unusable => writeln!(out, "\nerror: no input could be read")?,
    }
    Ok(())
}
