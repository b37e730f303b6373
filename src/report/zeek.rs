//! Zeek `conn.log` output: the ASCII (TSV) form with its `#` header, and the JSON form (one
//! object per line, the same dotted field names), so that zeek-cut, Tenzir, Filebeat's Zeek
//! module and every SIEM parser that already reads Zeek can read edgewise.
//!
//! Columns and their meaning follow zeek/zeek `scripts/base/protocols/conn/main.zeek` (the
//! `Conn::Info` record); the header lines follow the ASCII writer
//! (`base/frameworks/logging/writers/ascii.zeek`): `#separator \x09`, `#set_separator ,`,
//! `#empty_field (empty)`, `#unset_field -`, `#path`, `#open`, `#fields`, `#types`, and a
//! `#close` trailer.
//!
//! What matches Zeek, as Zeek computes it:
//! - `orig_ip_bytes` / `resp_ip_bytes` are IP bytes (each packet's IP total length, header
//!   included, as Zeek's ConnSize analyzer sums `TotalLen()`), never link bytes.
//! - `history` for UDP is `D` (first originator packet) and `d` (first responder packet) in
//!   the order seen, after `^` when the roles were flipped from the first packet (Zeek's
//!   `FlipRoles`); ICMP and other protocols have none (unset), as Zeek's analyzers record none.
//!   TCP history follows Zeek's letters (see `flow::tcp`).
//! - ICMP's `id.orig_p` / `id.resp_p` are the first message's type and its counterpart type
//!   (echo 8 -> 0, timestamp, information, router and mask pairs; ICMPv6 echo, router,
//!   neighbour, MLD, node information and home agent pairs), or the code for one-way messages,
//!   as Zeek's `ICMP4_counterpart`/`ICMP6_counterpart`. ICMP bytes are those after the 8-byte
//!   ICMP header.
//! - `service` is Zeek's analyzer name for a payload Zeek confirms: `ssl`, `dns`, `http`,
//!   `xmpp`, `ssh`, `rdp`, `smb`, and `sip` over UDP (Zeek's SIP analyzer reads UDP only).
//!   STUN, TURN, MS-TURN, RTP, RTCP and SRTP have no Zeek analyzer, so Zeek leaves `service`
//!   unset for them; edgewise's identification is in its own `payload` column instead.
//!
//! Where edgewise differs from what Zeek would log:
//! - `#open` / `#close` are the capture's first and last packet times (UTC), not the wall clock
//!   of the run, so that the same capture always gives the same file.
//! - `orig_bytes` / `resp_bytes` are the payload bytes seen (Zeek derives them from TCP
//!   sequence numbers); `missed_bytes` is `0` when no content gap was seen and unset (`-`) when
//!   one was, because the size of a gap is not tracked.
//! - IP fragments count as packets each (Zeek reassembles a datagram first and counts it once);
//!   ICMP flows are keyed by address pair (Zeek's key holds the type pair as ports).
//! - Which side is flipped rests on edgewise's service ports (`flow`), not on Zeek's
//!   `likely_server_ports`, which depend on the analyzers loaded.
//! - `local_orig` / `local_resp` are unset: they come from Zeek's `Site::local_nets`, which
//!   edgewise does not have.
//!
//! Columns after Zeek's: `community_id`, the Community ID v1 of the flow (seed 0), as the
//! corelight/zeek-community-id package adds it; `payload`, edgewise's identification of the
//! payload (`tls`, `stun`, `ms-turn`, `rtp`...); with `audit`, the judgement's columns.
//!
//! `uid` is deterministic: `C` followed by 17 base62 digits of a 96-bit FNV-1a hash of the flow's
//! oriented 5-tuple and first timestamp, so two runs over one capture give the same uids.

use std::io::{self, Write};
use std::net::IpAddr;

use serde_json::Value;

use super::time;
use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::flow::Flow;
use crate::identify::Identification;
use crate::judge::Judgement;
use crate::select::{shown, Selection};

/// How to write the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZeekOptions<'a> {
    /// One JSON object per line instead of the TSV form.
    pub json: bool,
    /// The display filter's selection: only its flows are written, and a header line says
    /// how many of how many were kept.
    pub selection: Option<&'a Selection>,
}

/// Zeek's own conn.log columns, in Zeek's order, with their `#types`.
pub const CONN_FIELDS: [(&str, &str); 21] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
];

/// Added after Zeek's columns, as the zeek-community-id package names it.
pub const COMMUNITY_ID_FIELD: (&str, &str) = ("community_id", "string");

/// edgewise's payload identification, after the Community ID: the protocol id of the JSON
/// `identification.protocol`, lower-case.
pub const PAYLOAD_FIELD: (&str, &str) = ("payload", "string");

/// The audit's columns, after Zeek's.
pub const AUDIT_FIELDS: [(&str, &str); 5] = [
    ("edge_interface", "string"),
    ("edge_service", "string"),
    ("documented", "string"),
    ("verdict", "string"),
    ("rules", "set[string]"),
];

/// One value of a log line.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Unset,
    Str(String),
    Count(u64),
    /// Nanoseconds since the epoch (`time`) or a length (`interval`).
    Nanos(i64),
    Addr(IpAddr),
    Port(u16),
    Set(Vec<String>),
}

/// Writes the flows of an analysis as a Zeek conn.log.
pub fn write_flows(
    analysis: &Analysis,
    opts: &ZeekOptions<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let fields: Vec<(&str, &str)> = CONN_FIELDS
        .iter()
        .copied()
        .chain([COMMUNITY_ID_FIELD, PAYLOAD_FIELD])
        .collect();
    let rows = shown(opts.selection, analysis.flows.len()).filter_map(|i| {
        Some(conn_cells(
            analysis.flows.get(i)?,
            analysis.identifications.get(i),
        ))
    });
    write_log(analysis, &fields, rows, opts, out)
}

/// Writes an audit as a Zeek conn.log with the judgement's columns added.
pub fn write_audit(
    analysis: &Analysis,
    audit: &Audit,
    opts: &ZeekOptions<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let fields: Vec<(&str, &str)> = CONN_FIELDS
        .iter()
        .copied()
        .chain([COMMUNITY_ID_FIELD, PAYLOAD_FIELD])
        .chain(AUDIT_FIELDS)
        .collect();
    let rows = shown(opts.selection, analysis.flows.len()).filter_map(|i| {
        let mut cells = conn_cells(analysis.flows.get(i)?, analysis.identifications.get(i));
        match audit.judgements.get(i) {
            Some(j) => cells.extend(judgement_cells(j)),
            None => cells.extend(std::iter::repeat_n(Cell::Unset, AUDIT_FIELDS.len())),
        }
        Some(cells)
    });
    write_log(analysis, &fields, rows, opts, out)
}

fn write_log(
    analysis: &Analysis,
    fields: &[(&str, &str)],
    rows: impl Iterator<Item = Vec<Cell>>,
    opts: &ZeekOptions<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    if opts.json {
        // Written by hand rather than through a map so that the fields keep Zeek's order.
        let mut line = String::new();
        for cells in rows {
            line.clear();
            line.push('{');
            for ((name, _), cell) in fields.iter().zip(cells) {
                // Zeek's JSON writer leaves unset fields out.
                if let Some(v) = json_value(cell) {
                    if line.len() > 1 {
                        line.push(',');
                    }
                    line.push_str(&Value::String((*name).to_string()).to_string());
                    line.push(':');
                    line.push_str(&v.to_string());
                }
            }
            line.push('}');
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let open = analysis.first_ts_ns.unwrap_or(0);
    let close = analysis.last_ts_ns.unwrap_or(open);
    writeln!(out, "#separator \\x09")?;
    writeln!(out, "#set_separator\t,")?;
    writeln!(out, "#empty_field\t(empty)")?;
    writeln!(out, "#unset_field\t-")?;
    writeln!(out, "#path\tconn")?;
    writeln!(out, "#open\t{}", log_time(open))?;
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let types: Vec<&str> = fields.iter().map(|(_, t)| *t).collect();
    writeln!(out, "#fields\t{}", names.join("\t"))?;
    writeln!(out, "#types\t{}", types.join("\t"))?;
    // Zeek's readers skip `#` lines they do not know.
    if let Some(s) = opts.selection {
        writeln!(
            out,
            "#edgewise\tdisplay filter {} kept {} of {} flows",
            escape(&s.expression),
            s.kept.len(),
            s.total
        )?;
    }
    let mut line = String::new();
    for cells in rows {
        line.clear();
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            line.push_str(&tsv_value(cell));
        }
        writeln!(out, "{line}")?;
    }
    writeln!(out, "#close\t{}", log_time(close))
}

/// Zeek's `#open`/`#close` time format, `%Y-%m-%d-%H-%M-%S` (here in UTC).
fn log_time(ns: i64) -> String {
    // rfc3339 is YYYY-MM-DDTHH:MM:SS.fffffffffZ.
    let s = time::rfc3339(ns);
    let mut t: String = s.chars().take(19).collect();
    t = t.replace(['T', ':'], "-");
    t
}

fn conn_cells(f: &Flow, id: Option<&Identification>) -> Vec<Cell> {
    let first = f.first_ts_ns();
    let duration = f.last_ts_ns() - first;
    // Zeek logs ICMP's type and counterpart type in the port columns.
    let (orig_p, resp_p) = match (f.protocol, f.icmp) {
        (1, Some((t, c))) => (u16::from(t), u16::from(icmp4_counterpart(t, c))),
        (58, Some((t, c))) => (u16::from(t), u16::from(icmp6_counterpart(t, c))),
        _ => (f.initiator.port, f.responder.port),
    };
    // Zeek sets duration and the byte counts only when the duration is above zero
    // (`set_conn` in conn/main.zeek).
    let (dur, ob, rb) = if duration > 0 {
        (
            Cell::Nanos(duration),
            Cell::Count(f.orig.payload_bytes),
            Cell::Count(f.resp.payload_bytes),
        )
    } else {
        (Cell::Unset, Cell::Unset, Cell::Unset)
    };
    let gaps = f.tcp.as_ref().map_or(0, |t| t.gaps[0] + t.gaps[1]);
    let history = zeek_history(f);
    vec![
        Cell::Nanos(first),
        Cell::Str(uid(f)),
        Cell::Addr(f.initiator.ip),
        Cell::Port(orig_p),
        Cell::Addr(f.responder.ip),
        Cell::Port(resp_p),
        Cell::Str(crate::net::IpProto(f.protocol).zeek_name().to_string()),
        service(id, f.protocol).map_or(Cell::Unset, |s| Cell::Str(s.to_string())),
        dur,
        ob,
        rb,
        Cell::Str(f.conn_state().to_string()),
        Cell::Unset,
        Cell::Unset,
        if gaps == 0 {
            Cell::Count(0)
        } else {
            Cell::Unset
        },
        if history.is_empty() {
            Cell::Unset
        } else {
            Cell::Str(history)
        },
        Cell::Count(f.orig.packets),
        Cell::Count(f.orig.ip_bytes),
        Cell::Count(f.resp.packets),
        Cell::Count(f.resp.ip_bytes),
        Cell::Set(Vec::new()),
        community_id(f).map_or(Cell::Unset, Cell::Str),
        payload(id).map_or(Cell::Unset, Cell::Str),
    ]
}

/// Zeek's `ICMP4_counterpart`: the reply type of a request (and back), else the code.
fn icmp4_counterpart(icmp_type: u8, code: u8) -> u8 {
    match icmp_type {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => code,
    }
}

/// Zeek's `ICMP6_counterpart`.
fn icmp6_counterpart(icmp_type: u8, code: u8) -> u8 {
    match icmp_type {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => code,
    }
}

/// edgewise's payload protocol, lower-case, when one was identified.
pub fn payload(id: Option<&Identification>) -> Option<String> {
    id.and_then(|i| i.protocol.payload_id()).map(str::to_string)
}

fn judgement_cells(j: &Judgement) -> Vec<Cell> {
    let name = |v: Option<Value>| match v {
        Some(Value::String(s)) => Cell::Str(s),
        _ => Cell::Unset,
    };
    vec![
        name(j.edge_interface.and_then(|i| serde_json::to_value(i).ok())),
        name(j.edge_service.and_then(|s| serde_json::to_value(s).ok())),
        if j.documented.is_empty() {
            Cell::Unset
        } else {
            Cell::Str(j.documented.to_string())
        },
        Cell::Str(j.verdict.label().to_string()),
        Cell::Set(j.rules.iter().map(|r| r.to_string()).collect()),
    ]
}

/// The history letters as Zeek writes them. TCP: edgewise's TCP history, computed to Zeek's
/// rules. UDP: Zeek's UDP analyzer records `D` for the originator's first packet and `d` for
/// the responder's (every UDP packet counts as data), in the order they were first seen,
/// after the `^` Zeek's `FlipRoles` adds when the first packet came from the responder's side
/// of a service port. ICMP and other protocols: none (Zeek's analyzers record no letters).
pub fn zeek_history(f: &Flow) -> String {
    if f.tcp.is_some() {
        return f.history().to_string();
    }
    if f.protocol != 17 {
        return String::new();
    }
    let flipped = f.initiator_by == crate::flow::InitiatorEvidence::WellKnownPort;
    let mut letters: Vec<(i64, char)> = Vec::new();
    if let (true, Some(t)) = (f.orig.packets > 0, f.orig.first_ts_ns()) {
        letters.push((t, 'D'));
    }
    if let (true, Some(t)) = (f.resp.packets > 0, f.resp.first_ts_ns()) {
        letters.push((t, 'd'));
    }
    letters.sort();
    let mut h = String::with_capacity(3);
    if flipped {
        h.push('^');
    }
    h.extend(letters.into_iter().map(|(_, c)| c));
    h
}

/// Zeek's service name for a certain identification, for the protocols Zeek has an analyzer
/// for (Zeek logs only confirmed analyzers); `transport` is the IP protocol number.
pub fn service(id: Option<&Identification>, transport: u8) -> Option<&'static str> {
    use crate::identify::{Confidence, Protocol};
    let id = id.filter(|i| i.confidence == Confidence::Certain)?;
    Some(match id.protocol {
        Protocol::Tls => "ssl",
        Protocol::Dns => "dns",
        Protocol::Http => "http",
        Protocol::Xmpp => "xmpp",
        Protocol::Ssh => "ssh",
        Protocol::Rdp => "rdp",
        Protocol::Smb => "smb",
        Protocol::Dtls => "dtls",
        // Zeek's SIP analyzer is registered for UDP only.
        Protocol::Sip if transport == 17 => "sip",
        _ => return None,
    })
}

/// The Community ID v1 (seed 0) of a flow, from the initiator's side
/// (https://github.com/corelight/community-id-spec). ICMP flows hash their type and code, as
/// the spec takes from Zeek; protocols without ports hash the addresses and protocol only.
pub fn community_id(f: &Flow) -> Option<String> {
    let (sport, dport) = match f.protocol {
        6 | 17 | 132 => (Some(f.initiator.port), Some(f.responder.port)),
        1 | 58 => match f.icmp {
            Some((t, c)) => (Some(u16::from(t)), Some(u16::from(c))),
            None => (None, None),
        },
        _ => (None, None),
    };
    community_id_of(f.initiator.ip, f.responder.ip, sport, dport, f.protocol)
}

/// The Community ID v1 (seed 0, base64) of a tuple; `None` when the two addresses are of
/// different families.
pub fn community_id_of(
    src: IpAddr,
    dst: IpAddr,
    sport: Option<u16>,
    dport: Option<u16>,
    protocol: u8,
) -> Option<String> {
    community_id::calculate_community_id(0, src, dst, sport, dport, protocol, false).ok()
}

/// A Zeek-style connection uid: `C` and base62 of 96 bits of a hash of the flow.
pub fn uid(f: &Flow) -> String {
    let mut bytes = Vec::with_capacity(48);
    for (ip, port) in [
        (f.initiator.ip, f.initiator.port),
        (f.responder.ip, f.responder.port),
    ] {
        match ip {
            IpAddr::V4(a) => bytes.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => bytes.extend_from_slice(&a.octets()),
        }
        bytes.extend_from_slice(&port.to_be_bytes());
    }
    bytes.push(f.protocol);
    bytes.extend_from_slice(&f.first_ts_ns().to_be_bytes());
    let h = fnv1a_128(&bytes) >> 32;
    // 96 bits take at most 17 base62 digits; padding keeps every uid 18 characters long.
    format!("C{:0>17}", base62(h))
}

/// FNV-1a, 128-bit (http://www.isthe.com/chongo/tech/comp/fnv/): stable across Rust releases,
/// which std's hasher does not promise.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME))
}

fn base62(mut n: u128) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Seconds with six decimals, rounded to the microsecond, as Zeek prints `time`/`interval`.
fn seconds(ns: i64) -> String {
    let us = (ns + 500).div_euclid(1000);
    format!(
        "{}.{:06}",
        us.div_euclid(1_000_000),
        us.rem_euclid(1_000_000)
    )
}

/// Escapes a TSV value as Zeek's ASCII writer does: the separators and non-printable bytes as
/// `\xHH`, and a value that would read as the unset or empty marker.
fn escape(s: &str) -> String {
    if s.is_empty() {
        // The ASCII writer prints an empty string as the empty-field marker.
        return "(empty)".into();
    }
    if s == "-" || s == "(empty)" {
        return s.bytes().map(|b| format!("\\x{b:02x}")).collect();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '\t' | ',' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn tsv_value(cell: Cell) -> String {
    match cell {
        Cell::Unset => "-".into(),
        Cell::Str(s) => escape(&s),
        Cell::Count(n) => n.to_string(),
        Cell::Nanos(ns) => seconds(ns),
        Cell::Addr(a) => a.to_string(),
        Cell::Port(p) => p.to_string(),
        Cell::Set(v) if v.is_empty() => "(empty)".into(),
        Cell::Set(v) => v.iter().map(|s| escape(s)).collect::<Vec<_>>().join(","),
    }
}

fn json_value(cell: Cell) -> Option<Value> {
    Some(match cell {
        Cell::Unset => return None,
        Cell::Str(s) => Value::String(s),
        Cell::Count(n) => Value::from(n),
        // Zeek's JSON writer prints times as epoch seconds (JSON::TS_EPOCH, the default).
        Cell::Nanos(ns) => {
            let us = (ns + 500).div_euclid(1000);
            Value::from(us as f64 / 1e6)
        }
        Cell::Addr(a) => Value::String(a.to_string()),
        Cell::Port(p) => Value::from(p),
        Cell::Set(v) => Value::Array(v.into_iter().map(Value::String).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_six_decimals() {
        assert_eq!(seconds(1_258_531_221_486_539_000), "1258531221.486539");
        assert_eq!(seconds(1_499_999), "0.001500");
        assert_eq!(seconds(0), "0.000000");
    }

    #[test]
    fn log_time_is_zeek_format() {
        assert_eq!(log_time(1_400_868_124_000_000_000), "2014-05-23-18-02-04");
    }

    #[test]
    fn escapes_markers_and_separators() {
        assert_eq!(escape("-"), "\\x2d");
        assert_eq!(escape("(empty)"), "\\x28\\x65\\x6d\\x70\\x74\\x79\\x29");
        assert_eq!(escape("a\tb,c"), "a\\x09b\\x2cc");
        assert_eq!(escape("Access Edge"), "Access Edge");
    }

    #[test]
    fn base62_digits() {
        assert_eq!(base62(0), "0");
        assert_eq!(base62(61), "z");
        assert_eq!(base62(62), "10");
    }

    #[test]
    fn icmp_ports_are_zeeks_type_pairs() {
        assert_eq!(icmp4_counterpart(8, 0), 0);
        assert_eq!(icmp4_counterpart(0, 0), 8);
        assert_eq!(icmp4_counterpart(3, 3), 3);
        assert_eq!(icmp6_counterpart(128, 0), 129);
        assert_eq!(icmp6_counterpart(1, 4), 4);
    }

    #[test]
    fn field_lists_have_types() {
        assert_eq!(CONN_FIELDS[0], ("ts", "time"));
        assert_eq!(CONN_FIELDS[20].0, "tunnel_parents");
    }
}
