//! Rendering an [`Analysis`]: a text table for people, JSON / JSON Lines / CSV for scripts.
//!
//! Machine formats share one schema, documented field by field in docs/SCHEMA.md: they never
//! humanize numbers (counts are integers), every timestamp is both integer nanoseconds since
//! the Unix epoch (`*_ns`) and RFC 3339 text in UTC beside it (the same name without `_ns`),
//! an unknown or absent value is `null` (an empty cell in CSV), never `""`, and services and
//! interfaces are written by their ids (`av`, `external-vip`), the words `-Y` takes; display
//! names are for the text report and the TUI. Each JSON document, and the JSON Lines summary,
//! opens with `schema_version`.

pub mod audit;
pub(crate) mod audit_text;
pub mod documented;
pub mod html;
pub mod log;
pub mod map;
pub mod matrix;
pub mod svg;
pub mod text;
pub mod time;
pub mod words;
pub mod zeek;

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::flow::tcp::Handshake;
use crate::flow::{DirStats, Endpoint, Flow, FlowEnd, IcmpErrorNote, InitiatorEvidence};
use crate::select::{Selection, SelectionSummary};

/// Output formats of `edgewise flows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A conversation table, like `tshark -z conv`, with the packet accounting.
    Text,
    /// One JSON document: inputs, interfaces, flows, accounting.
    Json,
    /// One JSON object per flow per line, then one summary object.
    Jsonl,
    /// One row per flow.
    Csv,
    /// Zeek conn.log, TSV with its `#` header (zeek-cut, Tenzir, SIEM Zeek parsers).
    Zeek,
    /// Zeek conn.log as JSON, one object per line (Zeek's `LogAscii::use_json=T`).
    ZeekJson,
    /// Parquet (needs -o FILE and the `analytics` build feature).
    Parquet,
}

pub use crate::net::transport_name;

/// How the text reports are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// `-t`: a start-time column in the flows tables, in a tshark time format.
    pub time: Option<time::TimeFormat>,
    /// `--wide`: every flow and every column, nothing wrapped; otherwise the report fits
    /// [`words::WIDTH`] columns and lists examples of each kind of violation.
    pub wide: bool,
}

impl TextOptions {
    /// The width to wrap at; `None` with `--wide`.
    pub fn width(&self) -> Option<usize> {
        (!self.wide).then_some(words::WIDTH)
    }
}

/// The version of the machine-readable schema (docs/SCHEMA.md): the major number changes when
/// a field changes meaning or goes away, the minor number when fields are added.
pub const SCHEMA_VERSION: &str = "2.0";

/// RFC 3339 text for an optional timestamp.
fn rfc3339_opt(ns: Option<i64>) -> Option<String> {
    ns.map(time::rfc3339)
}

/// A value serialized with RFC 3339 text beside each of its timestamps: an object key ending
/// in `ts_ns` with an integer value gains a sibling without the `_ns`. For the records of other
/// modules (findings, calls) that keep nanoseconds only; small, so the detour through a
/// `serde_json::Value` costs nothing that matters.
pub struct WithTimes<'a, T: Serialize>(pub &'a T);

impl<T: Serialize> Serialize for WithTimes<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
        add_times(&mut v);
        v.serialize(s)
    }
}

/// See [`WithTimes`].
pub fn add_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                add_times(&mut v);
                let text = match (k.strip_suffix("_ns"), v.as_i64()) {
                    (Some(name), Some(ns)) if k.ends_with("ts_ns") => {
                        Some((name.to_string(), time::rfc3339(ns)))
                    }
                    _ => None,
                };
                map.insert(k, v);
                if let Some((name, text)) = text {
                    map.entry(name).or_insert(serde_json::Value::String(text));
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(add_times),
        _ => {}
    }
}

/// The capture's first and last packet times as RFC 3339, beside the analysis'
/// `first_ts_ns`/`last_ts_ns`.
#[derive(Debug, Serialize)]
pub struct Span {
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
}

impl Span {
    pub fn of(a: &Analysis) -> Span {
        Span {
            first_ts: rfc3339_opt(a.first_ts_ns),
            last_ts: rfc3339_opt(a.last_ts_ns),
        }
    }
}

/// One direction of a flow, as written in JSON.
#[derive(Debug, Serialize)]
pub struct DirectionRecord {
    pub packets: u64,
    pub wire_bytes: u64,
    /// IP bytes, header included (Zeek's `orig_ip_bytes`).
    pub ip_bytes: u64,
    pub payload_bytes: u64,
    pub first_ts_ns: Option<i64>,
    pub first_ts: Option<String>,
    pub last_ts_ns: Option<i64>,
    pub last_ts: Option<String>,
    pub first_frame: Option<u64>,
    pub last_frame: Option<u64>,
    pub retransmissions: u64,
    /// Up to 32 first payload bytes, hex, as evidence for identification; null without
    /// payload.
    pub first_bytes_hex: Option<String>,
}

/// A flow, as written in JSON, JSON Lines and CSV.
#[derive(Debug, Serialize)]
pub struct FlowRecord<'a> {
    pub id: u64,
    pub transport: String,
    pub initiator: Endpoint,
    pub responder: Endpoint,
    /// How the initiator was known: `syn`, `syn-ack` (certain), `well-known-port`,
    /// `first-packet` (inferred).
    pub initiator_by: InitiatorEvidence,
    pub initiator_inferred: bool,
    pub first_ts_ns: i64,
    pub first_ts: String,
    pub last_ts_ns: i64,
    pub last_ts: String,
    pub duration_s: f64,
    pub packets: u64,
    pub wire_bytes: u64,
    pub orig: DirectionRecord,
    pub resp: DirectionRecord,
    /// Zeek's conn_state (S0, SF, REJ...).
    pub conn_state: &'static str,
    /// Zeek's history letters, as the conn.log writes them (TCP, and UDP's `D`/`d`); null
    /// for protocols Zeek keeps no history of.
    pub history: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake: Option<Handshake>,
    /// The responder sent at least one packet.
    pub answered: bool,
    /// Names (or indexes) of the capture interfaces the flow was seen on.
    pub interfaces: Vec<String>,
    pub vlan: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type_code: Option<(u8, u8)>,
    pub icmp_errors: u64,
    #[serde(skip_serializing_if = "IcmpNotes::is_empty")]
    pub icmp_error_notes: IcmpNotes,
    pub fragments: u64,
    pub snaplen_truncated_packets: u64,
    /// Why the flow left the table: end-of-capture, idle-timeout or evicted.
    pub end: FlowEnd,
    /// Community ID v1 (seed 0), the flow join key of Zeek, Suricata and Wireshark; null for
    /// a flow whose ends are of different address families.
    pub community_id: Option<String>,
    /// The payload's protocol as identification found it (`tls`, `stun`, `ms-turn`...),
    /// whatever the verdict; null when nothing was recognised. Apart from `transport` (the IP
    /// protocol) and, in an audit, `documented` (the documents' protocol).
    pub payload: Option<&'static str>,
    /// What the payload showed: protocol, confidence, a one-line summary and the evidence
    /// (TLS SNI and certificates, STUN method and addresses, RTP payload types...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification: Option<&'a crate::identify::Identification>,
}

/// The ICMP errors a flow records, each with its time as RFC 3339 beside the nanoseconds.
#[derive(Debug)]
pub struct IcmpNotes(pub Vec<IcmpErrorNote>);

impl IcmpNotes {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for IcmpNotes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WithTimes(&self.0).serialize(s)
    }
}

fn hex(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    Some(crate::identify::hex(&bytes[..bytes.len().min(64)]))
}

fn direction(d: &DirStats, retrans: u64, first: &[u8]) -> DirectionRecord {
    DirectionRecord {
        packets: d.packets,
        wire_bytes: d.wire_bytes,
        ip_bytes: d.ip_bytes,
        payload_bytes: d.payload_bytes,
        first_ts_ns: d.first_ts_ns(),
        first_ts: rfc3339_opt(d.first_ts_ns()),
        last_ts_ns: d.last_ts_ns(),
        last_ts: rfc3339_opt(d.last_ts_ns()),
        first_frame: d.first_frame(),
        last_frame: d.last_frame(),
        retransmissions: retrans,
        first_bytes_hex: hex(first),
    }
}

impl<'a> FlowRecord<'a> {
    pub fn new(f: &Flow, analysis: &'a Analysis) -> FlowRecord<'a> {
        let (ro, rr) = f
            .tcp
            .as_ref()
            .map_or((0, 0), |t| (t.retransmissions[0], t.retransmissions[1]));
        let first = f.first_ts_ns();
        let last = f.last_ts_ns();
        let identification = analysis.identification(f);
        FlowRecord {
            id: f.id,
            transport: transport_name(f.protocol),
            initiator: f.initiator,
            responder: f.responder,
            initiator_by: f.initiator_by,
            initiator_inferred: !f.initiator_by.is_certain(),
            first_ts_ns: first,
            first_ts: time::rfc3339(first),
            last_ts_ns: last,
            last_ts: time::rfc3339(last),
            duration_s: (last - first) as f64 / 1e9,
            packets: f.packets(),
            wire_bytes: f.wire_bytes(),
            orig: direction(&f.orig, ro, f.head.orig()),
            resp: direction(&f.resp, rr, f.head.resp()),
            conn_state: f.conn_state(),
            history: Some(zeek::zeek_history(f)).filter(|h| !h.is_empty()),
            handshake: f.handshake(),
            answered: f.answered(),
            interfaces: interface_names(f.interfaces, analysis),
            vlan: f.vlan,
            icmp_type_code: f.icmp,
            icmp_errors: f.icmp_errors,
            icmp_error_notes: IcmpNotes(f.icmp_notes.clone()),
            fragments: f.fragments,
            snaplen_truncated_packets: f.truncated_packets,
            end: f.end,
            community_id: zeek::community_id(f),
            payload: identification.and_then(|i| i.protocol.payload_id()),
            identification,
        }
    }
}

/// Interface names for a flow's interface bitmask.
pub fn interface_names(mask: u64, analysis: &Analysis) -> Vec<String> {
    (0..64u32)
        .filter(|i| mask & (1u64 << i) != 0)
        .map(|i| {
            analysis
                .interfaces
                .get(i as usize)
                .and_then(|e| e.name.clone())
                .unwrap_or_else(|| format!("if{i}"))
        })
        .collect()
}

/// The flows a report shows (all, or a display filter's selection), sorted as the conversation
/// table shows them: most bytes first.
pub fn by_bytes<'a>(analysis: &'a Analysis, selection: Option<&Selection>) -> Vec<&'a Flow> {
    let mut v: Vec<&Flow> = crate::select::shown(selection, analysis.flows.len())
        .filter_map(|i| analysis.flows.get(i))
        .collect();
    v.sort_by(|a, b| b.wire_bytes().cmp(&a.wire_bytes()).then(a.id.cmp(&b.id)));
    v
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    schema_version: &'static str,
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(flatten)]
    span: Span,
    completeness: crate::analysis::Completeness,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_filter: Option<SelectionSummary<'a>>,
    flows: FlowRecords<'a>,
}

/// Flow records serialized one at a time, most bytes first.
struct FlowRecords<'a>(&'a Analysis, Option<&'a Selection>);

impl Serialize for FlowRecords<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let flows = by_bytes(self.0, self.1);
        let mut seq = s.serialize_seq(Some(flows.len()))?;
        for f in flows {
            seq.serialize_element(&FlowRecord::new(f, self.0))?;
        }
        seq.end()
    }
}

/// Writes the analysis in the chosen format. With a display filter's selection (`-Y`) the
/// flows are the kept ones, and the report says how many of how many were kept (JSON
/// `display_filter`, a JSON Lines object of type `display_filter`, a Zeek `#edgewise` header
/// line, a first line of text; CSV stays a plain table).
pub fn write(
    analysis: &Analysis,
    format: Format,
    selection: Option<&Selection>,
    text: &TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => {
            if let Some(s) = selection {
                words::write_wrapped(
                    out,
                    &format!(
                        "Display filter '{}' kept {} of {} (the accounting covers every packet read).",
                        s.expression,
                        words::thousands(s.kept.len() as u64),
                        words::count(s.total as u64, "flow"),
                    ),
                    text.width(),
                    "",
                    "  ",
                )?;
                writeln!(out)?;
            }
            text::write_with(analysis, selection, text, out)
        }
        Format::Json => {
            let doc = JsonDocument {
                schema_version: SCHEMA_VERSION,
                analysis,
                span: Span::of(analysis),
                completeness: analysis.completeness(),
                display_filter: selection.map(Selection::summary),
                flows: FlowRecords(analysis, selection),
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        Format::Jsonl => {
            /// A record tagged with what it is, the tag first (as `audit --format jsonl`).
            #[derive(Serialize)]
            struct Tagged<'a, T: Serialize> {
                #[serde(rename = "type")]
                record: &'static str,
                #[serde(flatten)]
                body: &'a T,
            }
            #[derive(Serialize)]
            struct Summary<'a> {
                schema_version: &'static str,
                #[serde(flatten)]
                analysis: &'a Analysis,
                #[serde(flatten)]
                span: Span,
                completeness: crate::analysis::Completeness,
            }
            fn line<T: Serialize>(
                out: &mut dyn Write,
                record: &'static str,
                body: &T,
            ) -> io::Result<()> {
                serde_json::to_writer(&mut *out, &Tagged { record, body })?;
                writeln!(out)
            }
            for f in by_bytes(analysis, selection) {
                line(out, "flow", &FlowRecord::new(f, analysis))?;
            }
            line(
                out,
                "summary",
                &Summary {
                    schema_version: SCHEMA_VERSION,
                    analysis,
                    span: Span::of(analysis),
                    completeness: analysis.completeness(),
                },
            )?;
            if let Some(s) = selection {
                line(out, "display_filter", &s.summary())?;
            }
            Ok(())
        }
        Format::Csv => write_csv(analysis, selection, out),
        Format::Zeek | Format::ZeekJson => zeek::write_flows(
            analysis,
            &zeek::ZeekOptions {
                json: format == Format::ZeekJson,
                selection,
            },
            out,
        ),
        // A binary file, written by the caller (it needs a path, not a stream).
        Format::Parquet => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--format parquet writes a file: add -o FILE.parquet",
        )),
    }
}

fn write_csv(
    analysis: &Analysis,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "transport",
        "initiator_ip",
        "initiator_port",
        "responder_ip",
        "responder_port",
        "initiator_by",
        "first_ts_ns",
        "first_ts",
        "last_ts_ns",
        "last_ts",
        "duration_s",
        "orig_packets",
        "orig_wire_bytes",
        "orig_payload_bytes",
        "resp_packets",
        "resp_wire_bytes",
        "resp_payload_bytes",
        "conn_state",
        "history",
        "handshake",
        "icmp_errors",
        "fragments",
        "interfaces",
        "vlan",
        "end",
        "identified_protocol",
        "evidence",
    ])?;
    for f in by_bytes(analysis, selection) {
        let r = FlowRecord::new(f, analysis);
        let handshake = r
            .handshake
            .map(|h| match h {
                Handshake::Established => "established".to_string(),
                Handshake::SynUnanswered {
                    syn_retransmissions,
                } => format!("syn-unanswered({syn_retransmissions} retransmissions)"),
                Handshake::RefusedByRst => "refused-by-rst".into(),
                Handshake::UnreachableByIcmp => "unreachable-by-icmp".into(),
                Handshake::NotSeen => "not-seen".into(),
            })
            .unwrap_or_default();
        let by = serde_json::to_value(r.initiator_by)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let end = serde_json::to_value(r.end)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        w.write_record([
            r.id.to_string(),
            r.transport,
            r.initiator.ip.to_string(),
            r.initiator.port.to_string(),
            r.responder.ip.to_string(),
            r.responder.port.to_string(),
            by,
            r.first_ts_ns.to_string(),
            r.first_ts,
            r.last_ts_ns.to_string(),
            r.last_ts,
            format!("{:.9}", r.duration_s),
            r.orig.packets.to_string(),
            r.orig.wire_bytes.to_string(),
            r.orig.payload_bytes.to_string(),
            r.resp.packets.to_string(),
            r.resp.wire_bytes.to_string(),
            r.resp.payload_bytes.to_string(),
            r.conn_state.to_string(),
            r.history.unwrap_or_default(),
            handshake,
            r.icmp_errors.to_string(),
            r.fragments.to_string(),
            r.interfaces.join(" "),
            r.vlan.map(|v| v.to_string()).unwrap_or_default(),
            end,
            r.identification
                .as_ref()
                .map(|i| i.protocol.label().to_string())
                .unwrap_or_default(),
            r.identification
                .as_ref()
                .map(|i| i.summary.clone())
                .unwrap_or_default(),
        ])?;
    }
    w.flush()
}
