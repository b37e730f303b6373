//! One input through each parser, as the fuzz targets of `fuzz/` run it and as the stable
//! replay test (`tests/fuzz_replay.rs`) runs every committed reproducer.
//!
//! Each function takes arbitrary bytes, must return without panicking, and asserts what must
//! hold for any input: the packet accounting balances, a firewall log's lines are all accounted
//! for, every report renders. A panic here is a bug in the library (or an identity that broke),
//! never in the input. The functions use the public API only; they live in the library so that
//! the nightly fuzz targets and the stable test run exactly the same code.

use std::io::{self, Cursor, Write};
use std::path::Path;
use std::sync::OnceLock;

use crate::analysis::{self, Analysis};
use crate::audit::{self, Audit};
use crate::decode::{self, Decoded};
use crate::flow::{FlowConfig, FlowSink, FlowTable, OpenFlow};
use crate::identify;
use crate::judge::Judge;
use crate::logs::{self, LogFormat, LogOptions};
use crate::matrix::Matrix;
use crate::report;
use crate::select::Filter;
use crate::source::input::DynRead;
use crate::topology::{Topology, SAMPLE};

/// What a fuzz target runs on one input.
pub type Entry = fn(&[u8]);

/// The fuzz targets by name (the directories of `fuzz/regressions/`), each with its function.
pub const TARGETS: &[(&str, Entry)] = &[
    ("capture", capture),
    ("decode", decode_frame),
    ("identify", identify_prefixes),
    ("topology", topology),
    ("log", log),
    ("filter", filter),
    ("end_to_end", end_to_end),
];

/// Runs the named target on one input; `false` for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match TARGETS.iter().find(|(name, _)| *name == target) {
        Some((_, f)) => {
            f(data);
            true
        }
        None => false,
    }
}

/// Link types a decode input picks from with its first byte: every one edgewise decodes, and
/// one it does not.
pub const LINK_TYPES: [u16; 11] = [1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 147];

/// Inputs larger than this are cut: the targets look for logic errors, not for throughput.
const MAX_INPUT: usize = 1 << 20;

fn config(threads: usize) -> FlowConfig {
    FlowConfig {
        threads,
        ..FlowConfig::default()
    }
}

/// Reads capture bytes (pcap, pcapng, gzip-wrapped or not) into an analysis.
pub fn analyze_bytes(data: &[u8], threads: usize) -> Analysis {
    let data = &data[..data.len().min(MAX_INPUT)];
    let raw: DynRead = Box::new(Cursor::new(data.to_vec()));
    analysis::analyze_streams(vec![("fuzz".to_string(), raw)], config(threads))
}

fn assert_balanced(a: &Analysis, what: &str) {
    assert!(
        a.accounting.balanced(),
        "{what}: the packet accounting does not balance: {:?}",
        a.accounting.mismatches
    );
}

/// What must be the same however the bytes were read: every packet's bucket and every flow.
fn fingerprint(a: &Analysis) -> impl PartialEq + std::fmt::Debug {
    let flows: Vec<_> = a
        .flows
        .iter()
        .map(|f| {
            (
                f.id,
                f.protocol,
                f.initiator.ip,
                f.initiator.port,
                f.responder.ip,
                f.responder.port,
                f.packets(),
                f.wire_bytes(),
                f.icmp_errors,
            )
        })
        .collect();
    (
        a.accounting.packets,
        a.accounting.wire_bytes,
        a.accounting.buckets.clone(),
        flows,
    )
}

/// The capture reader feeding the flow table: the bytes as a file, the same bytes
/// gzip-wrapped, and the same bytes read on two threads (sharded flow tables) must give the
/// same packets, buckets and flows, with the accounting balanced.
pub fn capture(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let one = analyze_bytes(data, 1);
    assert_balanced(&one, "one thread");
    let expected = fingerprint(&one);
    if !data.starts_with(&[0x1f, 0x8b]) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let wrapped = gz
            .write_all(data)
            .and_then(|()| gz.finish())
            .expect("gzip into memory");
        let unwrapped = analyze_bytes(&wrapped, 1);
        assert_balanced(&unwrapped, "gzip-wrapped");
        assert_eq!(
            fingerprint(&unwrapped),
            expected,
            "gzip-wrapped read differs"
        );
    }
    let two = analyze_bytes(data, 2);
    assert_balanced(&two, "two threads");
    assert_eq!(fingerprint(&two), expected, "sharded read differs");
}

/// Keeps finished flows' identifications (so the probes run on what the table kept).
struct Identified(usize);

impl FlowSink for Identified {
    fn finish(&mut self, open: OpenFlow) {
        let id = identify::identify(&open);
        std::hint::black_box(&id);
        let flow = open.close();
        self.0 += usize::from(flow.packets() > 0);
    }
}

/// One frame: the first byte picks the link type from [`LINK_TYPES`], the rest is the frame.
/// An IP frame is then placed in a flow table, which finishes and identifies its flow.
pub fn decode_frame(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    let decoded = decode::decode(link_type, frame);
    if let Decoded::Ip(pkt) = &decoded {
        let mut table = FlowTable::new(config(1));
        let mut sink = Identified(0);
        let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        table.add(pkt, 1_000_000_000, 1, wire, 0, &mut sink);
        table.finish(&mut sink);
    }
    std::hint::black_box(&decoded);
}

/// Ports an identify input picks from (the Edge's, the probes' and a few others); a pick past
/// the list takes the port from the input.
const PORTS: [u16; 16] = [
    443, 3478, 5061, 5062, 5269, 80, 53, 22, 3389, 445, 8057, 8080, 4443, 50000, 5060, 5222,
];

/// Payload prefixes of one flow. Layout: byte 0 = bit 0 stream, bits 1-2 transport (TCP, UDP,
/// ICMP, other); bytes 1-4 = initiator and responder port picks (a byte below 16 picks from
/// [`PORTS`], otherwise the two bytes are the port); then parts, each a 2-byte big-endian
/// header (top bit: responder's direction; low 15 bits: length) and its bytes.
pub fn identify_prefixes(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let stream = data[0] & 1 == 1;
    let transport = [6u8, 17, 1, 132][usize::from((data[0] >> 1) & 3)];
    let port = |b: [u8; 2]| match PORTS.get(usize::from(b[0])) {
        Some(&p) => p,
        None => u16::from_be_bytes(b),
    };
    let initiator_port = port([data[1], data[2]]);
    let responder_port = port([data[3], data[4]]);
    let mut rest = &data[5..];
    let mut orig: Vec<&[u8]> = Vec::new();
    let mut resp: Vec<&[u8]> = Vec::new();
    while rest.len() >= 2 && orig.len() + resp.len() < 64 {
        let h = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(h & 0x7fff).min(rest.len() - 2);
        let part = &rest[2..2 + len];
        rest = &rest[2 + len..];
        if h & 0x8000 == 0 {
            orig.push(part);
        } else {
            resp.push(part);
        }
    }
    if !rest.is_empty() {
        orig.push(rest);
    }
    let id = identify::identify_parts(
        transport,
        initiator_port,
        responder_port,
        &orig,
        &resp,
        stream,
    );
    // Everything a report reads of an identification.
    let _ = id.zeek_service();
    let _ = id.protocol.label();
    let json = serde_json::to_string(&id).expect("an identification serializes");
    std::hint::black_box((json, format!("{id:?}")));
}

/// Encodes one flow's prefixes in the layout [`identify_prefixes`] reads (for seed corpora).
pub fn encode_prefixes(
    stream: bool,
    transport: u8,
    ports: (u16, u16),
    orig: &[&[u8]],
    resp: &[&[u8]],
) -> Vec<u8> {
    let t = match transport {
        6 => 0,
        17 => 1,
        1 => 2,
        _ => 3,
    };
    let mut out = vec![u8::from(stream) | (t << 1)];
    for p in [ports.0, ports.1] {
        // A first byte below 16 picks from PORTS: other ports below 4096 become 4096.
        match PORTS.iter().position(|&q| q == p) {
            Some(i) => out.extend([i as u8, 0]),
            None => out.extend(p.max(4096).to_be_bytes()),
        }
    }
    for (dir, parts) in [(0u16, orig), (0x8000, resp)] {
        for p in parts {
            let p = &p[..p.len().min(0x7fff)];
            out.extend((dir | p.len() as u16).to_be_bytes());
            out.extend_from_slice(p);
        }
    }
    out
}

/// The sample site's topology and the built-in matrix.
fn sample_site() -> &'static (Topology, &'static Matrix) {
    static SITE: OnceLock<(Topology, &'static Matrix)> = OnceLock::new();
    SITE.get_or_init(|| {
        let topology = Topology::parse(SAMPLE, Path::new("topology.toml")).expect("the sample");
        (topology, Matrix::builtin().expect("the built-in matrix"))
    })
}

/// The generated edge-sample capture, read and audited once (what filters and topologies are
/// tried against).
fn sample_run() -> &'static (Analysis, Audit) {
    static RUN: OnceLock<(Analysis, Audit)> = OnceLock::new();
    RUN.get_or_init(|| {
        let cap = crate::generate::scenarios::scenario("edge-sample").expect("the scenario");
        let mut bytes = Vec::new();
        crate::generate::writer::write_pcapng(&mut bytes, &cap, &Default::default())
            .expect("pcapng into memory");
        let analysis = analyze_bytes(&bytes, 1);
        let (topology, matrix) = sample_site();
        let audit = audit::audit(&analysis, topology, matrix, false);
        (analysis, audit)
    })
}

/// A topology file: parsed; when it parses, its warnings, its firewall rules in every format,
/// and the sample capture audited against it.
pub fn topology(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(site) = Topology::parse(text, Path::new("fuzz.toml")) else {
        return;
    };
    std::hint::black_box(site.warnings());
    let matrix = sample_site().1;
    let judge = Judge::new(&site, matrix);
    let sink = &mut io::sink();
    report::matrix::write_text(&judge, sink).expect("matrix text renders");
    report::matrix::write_csv(&judge, sink).expect("matrix CSV renders");
    report::matrix::write_json(&judge, sink).expect("matrix JSON renders");
    let (analysis, _) = sample_run();
    let audit = audit::audit(analysis, &site, matrix, false);
    assert_eq!(audit.judgements.len(), analysis.flows.len());
    let text = report::TextOptions::default();
    report::audit::write_text(analysis, &audit, matrix, None, &text, sink)
        .expect("audit text renders");
}

/// Log formats a log input picks from with its first byte (`None`: detected).
const LOG_FORMATS: [Option<LogFormat>; 12] = [
    None,
    Some(LogFormat::Pfirewall),
    Some(LogFormat::Asa),
    Some(LogFormat::Panos),
    Some(LogFormat::Fortigate),
    Some(LogFormat::ZeekTsv),
    Some(LogFormat::ZeekJson),
    Some(LogFormat::Netfilter),
    Some(LogFormat::Filterlog),
    Some(LogFormat::Cef),
    Some(LogFormat::Leef),
    Some(LogFormat::Checkpoint),
];

/// A firewall or flow log: byte 0 picks the format (low 7 bits: detected, or one of the eleven),
/// byte 1 the device's clock (below 226: an offset from UTC in quarter hours from -14:00;
/// from 226: a named zone with daylight saving, [`ZONES`]), the rest is the log.
/// Every line is accounted for and the flows it gives balance. With the top bit of byte 0 set,
/// the flows are also audited against the sample site and both log reports render (an audit
/// builds a judge, which costs a hundred times the parse of a short log: the bit keeps most
/// runs on the parsers).
/// Zones whose rules the log target runs through: daylight saving north and south, a
/// half-hour change, none.
const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Sao_Paulo",
];

fn zone(i: usize) -> logs::time::Tz {
    static LOADED: std::sync::OnceLock<Vec<logs::time::Tz>> = std::sync::OnceLock::new();
    let all = LOADED.get_or_init(|| {
        ZONES
            .iter()
            .map(|n| logs::parse_tz(n).expect("a zone of the built-in database"))
            .collect()
    });
    all[i % all.len()]
}

pub fn log(data: &[u8]) {
    let [pick, tz, text @ ..] = data else {
        return;
    };
    let text = &text[..text.len().min(MAX_INPUT)];
    let opts = LogOptions {
        format: LOG_FORMATS[usize::from(pick & 0x7f) % LOG_FORMATS.len()],
        tz: if *tz >= 226 {
            zone(usize::from(*tz - 226))
        } else {
            logs::time::Tz::Fixed((i32::from(*tz) % 113 - 56) * 900)
        },
        // A fixed time of writing, so that a reproducer parses alike in any year.
        reference_ns: Some(1_800_000_000_000_000_000),
    };
    let parsed = logs::parse_reader(text, opts).expect("reading from memory");
    let s = &parsed.summary;
    assert_eq!(s.accounted(), s.lines, "every line is accounted for: {s:?}");
    assert_eq!(s.used, parsed.records.len() as u64);
    let (analysis, info) = logs::to_flow::analysis("fuzz.log", &parsed);
    assert_balanced(&analysis, "log flows");
    assert_eq!(info.len(), analysis.flows.len());
    let sink = &mut io::sink();
    report::log::write_summary_text(s, sink).expect("log summary renders");
    if pick & 0x80 == 0 {
        return;
    }
    let (topology, matrix) = sample_site();
    let mut audit = audit::audit(&analysis, topology, matrix, false);
    crate::diagnose::firewall::attach(&analysis, &mut audit, &info, s.format);
    let text = report::TextOptions::default();
    report::log::write_text(s, &analysis, &audit, matrix, None, &text, sink)
        .expect("log text renders");
    report::log::write_json(s, &info, &analysis, &audit, matrix, None, sink)
        .expect("log JSON renders");
}

/// A display filter (`-Y`): parsed; when it parses, evaluated on every flow of the sample
/// capture with and without its audit.
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = Filter::parse(text) else {
        return;
    };
    let (analysis, audit) = sample_run();
    let with = f.select(analysis, Some(audit));
    assert!(with.kept.len() <= with.total);
    assert!(with.kept.windows(2).all(|w| w[0] < w[1]));
    std::hint::black_box(with.diagnosis(&audit.diagnosis));
    if f.check_without_audit().is_ok() {
        let without = f.select(analysis, None);
        assert!(without.kept.len() <= without.total);
    }
}

/// Bytes -> capture -> analysis -> audit of the sample site -> every report, into a sink; the
/// accounting identity holds, every flow is judged once, and every renderer succeeds, with
/// and without a display filter's selection.
pub fn end_to_end(data: &[u8]) {
    let analysis = analyze_bytes(data, 1);
    assert_balanced(&analysis, "end to end");
    assert_eq!(analysis.identifications.len(), analysis.flows.len());
    let (topology, matrix) = sample_site();
    let audit = audit::audit(&analysis, topology, matrix, false);
    assert_eq!(audit.judgements.len(), analysis.flows.len());
    let judged: u64 = audit.by_verdict.values().map(|t| t.flows).sum();
    assert_eq!(
        judged,
        analysis.flows.len() as u64,
        "every flow has one verdict"
    );
    let keep = Filter::parse("severity >= warning or not verdict == permitted")
        .expect("the filter parses")
        .select(&analysis, Some(&audit));
    let sink = &mut io::sink();
    for (selection, text) in [
        (None, report::TextOptions::default()),
        (
            Some(&keep),
            report::TextOptions {
                wide: true,
                ..Default::default()
            },
        ),
    ] {
        for format in [
            report::Format::Text,
            report::Format::Json,
            report::Format::Jsonl,
            report::Format::Csv,
            report::Format::Zeek,
            report::Format::ZeekJson,
        ] {
            report::write(&analysis, format, selection, &text, sink)
                .unwrap_or_else(|e| panic!("flows {format:?} does not render: {e}"));
        }
        report::audit::write_text(&analysis, &audit, matrix, selection, &text, sink)
            .expect("audit text renders");
        report::html::write(&analysis, &audit, matrix, selection, sink)
            .expect("audit HTML renders");
        report::audit::write_json(&analysis, &audit, matrix, selection, sink)
            .expect("audit JSON renders");
        report::audit::write_jsonl(&analysis, &audit, matrix, selection, sink)
            .expect("audit JSON Lines renders");
        report::audit::write_csv(&analysis, &audit, selection, sink).expect("audit CSV renders");
        report::audit::write_findings_csv(&audit, selection, sink).expect("findings CSV renders");
        for json in [false, true] {
            let opts = report::zeek::ZeekOptions { json, selection };
            report::zeek::write_audit(&analysis, &audit, &opts, sink).expect("Zeek audit renders");
        }
    }
}
