//! NetFlow v5, v9 and IPFIX as audit input, from a capture of export packets (what
//! `tcpdump -w` or `dumpcap` writes of the UDP datagrams exporters send to a collector on port
//! 2055, 4739, 9995...). Raw export datagrams concatenated are no file format, so a pcap or
//! pcapng of exports is what is read; [`detect`] tells such a capture from any other.
//!
//! Parsing is netflow_parser's (MIT/Apache-2.0): its `AutoScopedParser` keeps templates per
//! exporter and source id (v9, RFC 3954) or observation domain (IPFIX, RFC 7011), with bounded
//! template caches, and caches data sets that arrive before their template (bounded too) to
//! replay them when it comes. What this module adds: the export packets out of the capture,
//! the records' fields and times ([`records`]), the two directions of a connection paired into
//! one flow and TCP flags read as a connection state ([`pair`]), and every datagram, record or
//! data set that could not be used counted in a named bucket.
//!
//! The result is a [`ParsedLog`] like a firewall log's, one record per flow, so the audit, the
//! reports and the skipped-check list treat NetFlow as the other flow logs. A "line" of this
//! log is a flow record: `lines` counts records, a flow's evidence cites the number of its
//! first record.

pub mod detect;
pub mod nfdump;
pub mod pair;
pub mod records;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::variable_versions::PendingFlowsConfig;
use netflow_parser::{AutoScopedParser, NetflowError, NetflowPacket, NetflowParser};
use serde::Serialize;

use super::{LogFormat, ParsedLog, Summary};
use crate::decode::{decode, Decoded, Fragment, Transport};
use crate::source::capture::Next;
use crate::source::input::{self, InputSpec};
use records::{Clock, FlowRecord, Part};

/// Exporters (address and port, version, source id or domain) tracked; datagrams of more are
/// dropped and counted.
pub const MAX_EXPORTERS: usize = 1024;
/// Templates kept per exporter and version (LRU beyond).
pub const MAX_TEMPLATES: usize = 512;
/// Template ids whose data sets wait for their template, per exporter.
pub const MAX_PENDING_TEMPLATES: usize = 64;
/// Data sets waiting per template id.
pub const MAX_PENDING_SETS: usize = 256;
/// Distinct flows (both directions of a five-tuple) kept; records of more are counted.
pub const MAX_FLOWS: usize = 1_000_000;

/// One exporter as the capture shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Exporter {
    /// Address and port the export datagrams came from.
    pub address: String,
    /// 5, 9 or 10 (IPFIX).
    pub version: u16,
    /// NetFlow v9 source id or IPFIX observation domain id; v5 engine type and id
    /// (`type << 8 | id`).
    pub domain: u32,
    /// Export datagrams read.
    pub packets: u64,
    /// Flow records read.
    pub records: u64,
    /// Distinct template ids defined (v9, IPFIX).
    pub templates: u64,
    /// Times the export sequence number jumped ahead: export packets lost before the capture.
    pub sequence_gaps: u64,
    #[serde(skip)]
    next_seq: Option<u32>,
    #[serde(skip)]
    template_ids: HashSet<u16>,
}

impl Exporter {
    /// "NetFlow v9 records from exporter 192.0.2.1:2055 (source id 0)".
    pub fn describe(&self) -> String {
        let (name, dom) = match self.version {
            5 => (
                "NetFlow v5",
                format!("engine {}/{}", self.domain >> 8, self.domain & 0xff),
            ),
            9 => ("NetFlow v9", format!("source id {}", self.domain)),
            _ => ("IPFIX", format!("observation domain {}", self.domain)),
        };
        format!("{name} records from exporter {} ({dom})", self.address)
    }

    /// Counts a sequence gap: `seq` is this packet's, `advance` what it adds (packets for v9,
    /// records for v5 and IPFIX).
    fn sequence(&mut self, seq: u32, advance: u32) {
        if let Some(want) = self.next_seq {
            let ahead = seq.wrapping_sub(want);
            // Ahead by less than half the space: lost packets. Otherwise a reordering or an
            // exporter restart, which is no loss that can be counted.
            if ahead != 0 && ahead < 1 << 31 {
                self.sequence_gaps += 1;
            }
        }
        self.next_seq = Some(seq.wrapping_add(advance));
    }
}

/// What was read from a capture of exports, beside the line-style counts of [`Summary`].
#[derive(Debug, Clone, Serialize, Default)]
pub struct ExportSummary {
    /// Export datagrams read.
    pub packets: u64,
    /// Packets of the capture that were not export datagrams.
    pub other_packets: u64,
    pub exporters: Vec<Exporter>,
    /// Datagrams, data sets and records that could not be used, by named reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Flows made of both directions' records.
    pub flows_paired: u64,
    /// Flows of which the exporters sent one direction only.
    pub flows_one_way: u64,
    /// Some flow was exported in both directions: the exporters meter both, and a direction
    /// with no record went unanswered. When false, a missing direction tells nothing.
    pub both_directions: bool,
}

impl ExportSummary {
    fn drop(&mut self, why: &'static str, n: u64) {
        if n > 0 {
            *self.dropped.entry(why).or_default() += n;
        }
    }

    /// The exporters in words, for a report's heading.
    pub fn describe(&self) -> String {
        match self.exporters.as_slice() {
            [] => "no NetFlow or IPFIX records".into(),
            [one] => one.describe(),
            many => {
                let mut v: Vec<&str> = many
                    .iter()
                    .map(|e| match e.version {
                        5 => "NetFlow v5",
                        9 => "NetFlow v9",
                        _ => "IPFIX",
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                let addrs: HashSet<&str> = many.iter().map(|e| e.address.as_str()).collect();
                format!(
                    "{} records from {} exporters ({} sources with their own templates)",
                    v.join(" and "),
                    addrs.len(),
                    many.len()
                )
            }
        }
    }
}

fn error_bucket(e: &NetflowError) -> &'static str {
    match e {
        NetflowError::Incomplete { .. } => "datagram.incomplete",
        NetflowError::UnsupportedVersion { .. } => "datagram.unsupported_version",
        NetflowError::FilteredVersion { .. } => "datagram.unsupported_version",
        _ => "datagram.malformed",
    }
}

fn parser() -> AutoScopedParser {
    let mut pending = PendingFlowsConfig::new(MAX_PENDING_TEMPLATES);
    pending.max_entries_per_template = MAX_PENDING_SETS;
    let builder = NetflowParser::builder()
        .with_cache_size(MAX_TEMPLATES)
        .with_pending_flows(pending);
    AutoScopedParser::try_with_builder(builder)
        .and_then(|p| p.with_max_sources(MAX_EXPORTERS))
        .unwrap_or_default()
}

/// Reads export packets into flow records, keeping per-exporter state.
pub struct Collector {
    parser: AutoScopedParser,
    index: HashMap<(SocketAddr, u16, u32), usize>,
    init_ms: HashMap<(SocketAddr, u32), i64>,
    pub summary: ExportSummary,
    pairs: pair::Pairs,
    /// Flow records read (the "lines" of this log).
    records: u64,
    /// Records not made into flows, by reason (the log's `skipped`).
    skipped: BTreeMap<&'static str, u64>,
    no_timestamp: u64,
    /// Data sets that arrived before their template.
    no_template_sets: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

impl Collector {
    pub fn new() -> Collector {
        Collector {
            parser: parser(),
            index: HashMap::new(),
            init_ms: HashMap::new(),
            summary: ExportSummary::default(),
            pairs: pair::Pairs::new(MAX_FLOWS),
            records: 0,
            skipped: BTreeMap::new(),
            no_timestamp: 0,
            no_template_sets: 0,
        }
    }

    fn exporter(&mut self, from: SocketAddr, version: u16, domain: u32) -> Option<usize> {
        if let Some(&i) = self.index.get(&(from, version, domain)) {
            return Some(i);
        }
        if self.index.len() >= MAX_EXPORTERS {
            return None;
        }
        let i = self.summary.exporters.len();
        self.summary.exporters.push(Exporter {
            address: from.to_string(),
            version,
            domain,
            packets: 0,
            records: 0,
            templates: 0,
            sequence_gaps: 0,
            next_seq: None,
            template_ids: HashSet::new(),
        });
        self.index.insert((from, version, domain), i);
        Some(i)
    }

    /// One UDP datagram from `from`: parsed when its header is an export's, otherwise counted
    /// as another packet.
    pub fn datagram(&mut self, from: SocketAddr, payload: &[u8]) {
        if detect::export_version(payload).is_none() {
            self.summary.other_packets += 1;
            return;
        }
        self.summary.packets += 1;
        let result = self.parser.parse_from_source(from, payload);
        if let Some(e) = &result.error {
            self.summary.drop(error_bucket(e), 1);
        }
        for packet in result.packets {
            self.packet(from, packet);
        }
    }

    fn packet(&mut self, from: SocketAddr, packet: NetflowPacket) {
        match packet {
            NetflowPacket::V5(p) => {
                let h = &p.header;
                let domain = (u32::from(h.engine_type) << 8) | u32::from(h.engine_id);
                let Some(x) = self.exporter(from, 5, domain) else {
                    self.summary.drop("datagram.exporter_table_full", 1);
                    return;
                };
                let parts = records::v5_records(&p);
                let e = &mut self.summary.exporters[x];
                e.packets += 1;
                e.sequence(h.flow_sequence, u32::from(h.count));
                self.add(x, parts);
            }
            NetflowPacket::V9(p) => {
                let h = &p.header;
                let Some(x) = self.exporter(from, 9, h.source_id) else {
                    self.summary.drop("datagram.exporter_table_full", 1);
                    return;
                };
                let clock = Clock::Uptime {
                    uptime_ms: h.sys_up_time,
                    unix_ns: i64::from(h.unix_secs) * 1_000_000_000,
                };
                {
                    let e = &mut self.summary.exporters[x];
                    e.packets += 1;
                    e.sequence(h.sequence_number, 1);
                }
                let mut parts = Vec::new();
                for set in &p.flowsets {
                    match &set.body {
                        V9Body::Template(t) => {
                            let ids = t.templates.iter().map(|t| t.template_id);
                            self.templates(x, ids);
                        }
                        V9Body::OptionsTemplate(t) => {
                            let ids = t.templates.iter().map(|t| t.template_id);
                            self.templates(x, ids);
                        }
                        V9Body::Data(d) => {
                            for rec in &d.fields {
                                self.fields(&records::v9_fields(rec), clock, &mut parts);
                            }
                        }
                        V9Body::OptionsData(d) => {
                            *self.skipped.entry("options_record").or_default() +=
                                d.fields.len() as u64;
                            self.records += d.fields.len() as u64;
                        }
                        V9Body::NoTemplate(_) => self.no_template_sets += 1,
                        V9Body::Empty => {}
                    }
                }
                self.add(x, parts);
            }
            NetflowPacket::IPFix(p) => {
                let h = &p.header;
                let domain = h.observation_domain_id;
                let Some(x) = self.exporter(from, 10, domain) else {
                    self.summary.drop("datagram.exporter_table_full", 1);
                    return;
                };
                self.summary.exporters[x].packets += 1;
                // The exporter's init time first: it anchors the uptimes of this message.
                for set in &p.flowsets {
                    let init = match &set.body {
                        IpfixBody::OptionsData(d) => d
                            .fields
                            .iter()
                            .find_map(|r| records::system_init_ms(&records::ipfix_fields(r))),
                        IpfixBody::V9OptionsData(d) => d.fields.iter().find_map(|r| {
                            records::system_init_ms(&records::v9_fields(&r.options_fields))
                        }),
                        _ => None,
                    };
                    if let Some(ms) = init {
                        if self.init_ms.len() < MAX_EXPORTERS
                            || self.init_ms.contains_key(&(from, domain))
                        {
                            self.init_ms.insert((from, domain), ms);
                        }
                    }
                }
                let clock = Clock::Init(self.init_ms.get(&(from, domain)).copied());
                let mut parts = Vec::new();
                let mut data_records = 0u32;
                for set in &p.flowsets {
                    match &set.body {
                        IpfixBody::Template(t) => self.templates(x, [t.template_id]),
                        IpfixBody::Templates(v) => {
                            self.templates(x, v.iter().map(|t| t.template_id))
                        }
                        IpfixBody::V9Template(t) => self.templates(x, [t.template_id]),
                        IpfixBody::V9Templates(v) => {
                            self.templates(x, v.iter().map(|t| t.template_id))
                        }
                        IpfixBody::OptionsTemplate(t) => self.templates(x, [t.template_id]),
                        IpfixBody::OptionsTemplates(v) => {
                            self.templates(x, v.iter().map(|t| t.template_id))
                        }
                        IpfixBody::V9OptionsTemplate(t) => self.templates(x, [t.template_id]),
                        IpfixBody::V9OptionsTemplates(v) => {
                            self.templates(x, v.iter().map(|t| t.template_id))
                        }
                        IpfixBody::Data(d) => {
                            data_records = data_records.saturating_add(d.fields.len() as u32);
                            for rec in &d.fields {
                                self.fields(&records::ipfix_fields(rec), clock, &mut parts);
                            }
                        }
                        IpfixBody::V9Data(d) => {
                            data_records = data_records.saturating_add(d.fields.len() as u32);
                            for rec in &d.fields {
                                self.fields(&records::v9_fields(rec), clock, &mut parts);
                            }
                        }
                        IpfixBody::OptionsData(d) => {
                            let n = d.fields.len() as u64;
                            data_records = data_records.saturating_add(n as u32);
                            *self.skipped.entry("options_record").or_default() += n;
                            self.records += n;
                        }
                        IpfixBody::V9OptionsData(d) => {
                            let n = d.fields.len() as u64;
                            data_records = data_records.saturating_add(n as u32);
                            *self.skipped.entry("options_record").or_default() += n;
                            self.records += n;
                        }
                        IpfixBody::NoTemplate(_) => self.no_template_sets += 1,
                        IpfixBody::Empty => {}
                    }
                }
                // IPFIX sequence numbers count data records.
                self.summary.exporters[x].sequence(h.sequence_number, data_records);
                self.add(x, parts);
            }
            _ => self.summary.drop("datagram.unsupported_version", 1),
        }
    }

    fn templates(&mut self, x: usize, ids: impl IntoIterator<Item = u16>) {
        let e = &mut self.summary.exporters[x];
        for id in ids {
            e.template_ids.insert(id);
        }
        e.templates = e.template_ids.len() as u64;
    }

    fn fields(&mut self, fields: &[records::Field<'_>], clock: Clock, out: &mut Vec<Part>) {
        match records::from_fields(fields, clock) {
            Ok(parts) => out.extend(parts),
            Err(why) => {
                self.records += 1;
                *self.skipped.entry(why).or_default() += 1;
            }
        }
    }

    fn add(&mut self, exporter: usize, parts: Vec<Part>) {
        for part in parts {
            self.records += 1;
            self.summary.exporters[exporter].records += 1;
            let rec: FlowRecord = part.into_record(self.records, exporter);
            if rec.first_ns.is_none() {
                self.no_timestamp += 1;
            }
            if !self.pairs.add(rec) {
                *self.skipped.entry("flow_table_full").or_default() += 1;
            }
        }
    }

    /// The records so far, paired into flows, as a log. Data sets still waiting for their
    /// template are counted as lost.
    pub fn finish(mut self) -> ParsedLog {
        // Data sets that came before their template were cached (bounded) and read when it
        // came; those still waiting, or dropped from a full cache, are lost.
        let mut waiting = 0u64;
        let mut replayed = 0u64;
        let mut dropped = 0u64;
        let infos = (self.parser.v9_info().into_iter().map(|(_, i)| i))
            .chain(self.parser.ipfix_info().into_iter().map(|(_, i)| i))
            .collect::<Vec<_>>();
        for info in &infos {
            for c in [&info.v9, &info.ipfix] {
                waiting += c.pending_flow_count as u64;
                replayed += c.metrics.pending_replayed;
                dropped += c.metrics.pending_dropped + c.metrics.pending_replay_failed;
            }
        }
        self.summary.drop("data_set.never_templated", waiting);
        self.summary.drop("data_set.pending_cache_full", dropped);
        let uncached = self
            .no_template_sets
            .saturating_sub(waiting + replayed + dropped);
        self.summary.drop("data_set.no_template", uncached);
        let sources = self.parser.source_removal_metrics();
        self.summary
            .drop("exporter.evicted_with_templates", sources.capacity_pressure);

        let (flows, used, stats) = self.pairs.finish();
        self.summary.flows_paired = stats.paired;
        self.summary.flows_one_way = stats.one_way;
        self.summary.both_directions = stats.paired > 0;
        let versions: HashSet<u16> = self.summary.exporters.iter().map(|e| e.version).collect();
        let mut time_basis = String::from("UTC, from the exporter's clock");
        if versions.contains(&5) || versions.contains(&9) {
            time_basis.push_str(" (uptime-relative times anchored on each export header)");
        }
        let summary = Summary {
            format: Some(LogFormat::Netflow),
            detected: false,
            lines: self.records,
            used,
            comment: 0,
            skipped: self.skipped,
            unparsable: BTreeMap::new(),
            examples: Vec::new(),
            time_basis,
            no_timestamp: self.no_timestamp,
            facts: Some(super::facts::of(LogFormat::Netflow)),
            exports: Some(self.summary),
            ..Summary::default()
        };
        ParsedLog {
            summary,
            records: flows,
        }
    }
}

/// Reads a capture of export packets (pcap or pcapng, gzip allowed): every UDP datagram whose
/// header is an export's, to any port.
pub fn read_file(path: &Path) -> io::Result<ParsedLog> {
    let mut reader = input::open(&InputSpec::File(path.to_path_buf()), |r| r)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut c = Collector::new();
    loop {
        let pkt = match reader.next_record() {
            Next::Packet(pkt) => pkt,
            Next::Problem { .. } => {
                c.summary.other_packets += 1;
                continue;
            }
            Next::End => break,
            Next::Stop(stop) => {
                c.summary.drop("capture.cut_short", 1);
                let _ = stop;
                break;
            }
        };
        let Decoded::Ip(ip) = decode(pkt.link_type, pkt.data) else {
            c.summary.other_packets += 1;
            continue;
        };
        match (&ip.transport, ip.fragment) {
            (Transport::Udp(u), Fragment::Whole) if !ip.truncated => {
                c.datagram(SocketAddr::new(ip.src, u.src_port), u.payload)
            }
            (Transport::Udp(u), _) if detect::export_version(u.payload).is_some() => {
                // An export cut by the snaplen or fragmented: its records cannot all be read.
                c.summary.drop(
                    if ip.truncated {
                        "datagram.truncated"
                    } else {
                        "datagram.fragmented"
                    },
                    1,
                );
            }
            (Transport::Fragment, _) => c.summary.drop("datagram.fragmented", 1),
            _ => c.summary.other_packets += 1,
        }
    }
    Ok(c.finish())
}

/// Listens for export datagrams on a UDP socket until `stop` is set or `limit` has passed;
/// the collector keeps the same bounded state as a file's reader. `heard` is called with the
/// datagrams read so far, about once a second.
pub fn listen(
    socket: &std::net::UdpSocket,
    stop: &std::sync::atomic::AtomicBool,
    limit: Option<std::time::Duration>,
    mut heard: impl FnMut(&ExportSummary),
) -> io::Result<ParsedLog> {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut c = Collector::new();
    let mut buf = vec![0u8; 65_536];
    let started = Instant::now();
    let mut said = Instant::now();
    while !stop.load(Ordering::SeqCst) && limit.is_none_or(|l| started.elapsed() < l) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => c.datagram(from, &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
        if said.elapsed() >= Duration::from_secs(1) {
            heard(&c.summary);
            said = Instant::now();
        }
    }
    Ok(c.finish())
}
