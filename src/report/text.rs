//! The text report of `edgewise flows`: a conversation table like `tshark -z conv`, sorted by
//! bytes, then the inputs and the packet accounting.

use std::io::{self, Write};

use super::time::{self, TimeFormat};
use super::{by_bytes, transport_name};
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

/// Writes the text report of the flows shown (all, or a display filter's selection).
pub fn write(a: &Analysis, selection: Option<&Selection>, out: &mut dyn Write) -> io::Result<()> {
    write_with(a, selection, None, out)
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

/// [`write`], with a start-time column in a tshark `-t` format when `time` is given.
pub fn write_with(
    a: &Analysis,
    selection: Option<&Selection>,
    time: Option<TimeFormat>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let flows = by_bytes(a, selection);
    let first = a.first_ts_ns.unwrap_or(0);
    let span = match (a.first_ts_ns, a.last_ts_ns) {
        (Some(f), Some(l)) => format!(
            "{} .. {} ({:.3} s)",
            time::rfc3339(f),
            time::rfc3339(l),
            (l - f) as f64 / 1e9
        ),
        _ => "no packets".to_string(),
    };
    writeln!(
        out,
        "{} flows from {} packets ({} bytes on the wire); {}",
        flows.len(),
        a.accounting.packets,
        a.accounting.wire_bytes,
        span
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{}{:<5} {:<46} {:<46} {:>8} {:>12} {:>8} {:>12} {:>10} {:<6} {:<12} notes",
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
    for f in &flows {
        let mut init = endpoint(f.initiator.ip, f.initiator.port, f.protocol);
        if !f.initiator_by.is_certain() {
            init.push('?');
        }
        let dur = (f.last_ts_ns() - f.first_ts_ns()) as f64 / 1e9;
        let st = state(f);
        let (conn, notes) = st.split_once(' ').unwrap_or((st.as_str(), ""));
        writeln!(
            out,
            "{}{:<5} {:<46} {:<46} {:>8} {:>12} {:>8} {:>12} {:>10.3} {:<6} {:<12} {}",
            time_cell(time, Some((f.first_ts_ns(), first))),
            transport_name(f.protocol),
            init,
            endpoint(f.responder.ip, f.responder.port, f.protocol),
            f.orig.packets,
            f.orig.wire_bytes,
            f.resp.packets,
            f.resp.wire_bytes,
            dur,
            conn,
            f.history(),
            notes
        )?;
    }
    if flows.iter().any(|f| !f.initiator_by.is_certain()) {
        writeln!(
            out,
            "  (? after an initiator: no SYN was seen, so the initiator was inferred from the first packet or a service port)"
        )?;
    }
    write_inputs_and_accounting(a, out)
}

/// The inputs, interfaces and packet accounting sections (shared with the audit report).
pub fn write_inputs_and_accounting(a: &Analysis, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Inputs")?;
    if let Some(n) = a.accounting.notes.get(crate::analysis::COUNT_LIMIT_NOTE) {
        writeln!(
            out,
            "  reading stopped after the first {n} packets, as -c {n} asked"
        )?;
    }
    for i in &a.inputs {
        match (&i.error, &i.stop) {
            (Some(e), _) => writeln!(out, "  {}: not read: {e}", i.name)?,
            (None, Some(s)) => writeln!(
                out,
                "  {}: {} {} packets, then {}",
                i.name,
                i.format.unwrap_or("?"),
                i.packets,
                s
            )?,
            (None, None) => writeln!(
                out,
                "  {}: {}, {} packets",
                i.name,
                i.format.unwrap_or("?"),
                i.packets
            )?,
        }
    }
    for e in &a.interfaces {
        writeln!(
            out,
            "  interface {} ({}): link type {}, snaplen {}{}",
            e.index,
            e.name.as_deref().unwrap_or("unnamed"),
            e.link_type,
            e.snaplen,
            if e.unsupported_packets > 0 {
                format!(
                    ", {} packets of an unsupported link type",
                    e.unsupported_packets
                )
            } else {
                String::new()
            }
        )?;
    }
    writeln!(out)?;
    let acc = &a.accounting;
    writeln!(out, "Packet accounting")?;
    writeln!(
        out,
        "  {:<40} {:>12} {:>14}",
        "read", acc.packets, acc.wire_bytes
    )?;
    for (name, t) in &acc.buckets {
        writeln!(out, "  {:<40} {:>12} {:>14}", name, t.packets, t.wire_bytes)?;
    }
    if acc.balanced() {
        writeln!(out, "  every packet read is accounted for")?;
    } else {
        for m in &acc.mismatches {
            writeln!(out, "  ACCOUNTING MISMATCH: {m}")?;
        }
    }
    let c = &a.flow_counts;
    writeln!(
        out,
        "  flows: {} created, {} open at end, {} expired idle, {} evicted at the cap",
        c.created, c.active_at_end, c.expired_idle, c.evicted_cap
    )?;
    if !acc.notes.is_empty() {
        writeln!(out, "  notes (counted besides the buckets):")?;
        for (name, n) in &acc.notes {
            writeln!(out, "    {name:<38} {n:>12}")?;
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
