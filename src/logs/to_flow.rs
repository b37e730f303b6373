//! Log records to [`Flow`] values, the same type captures produce, with a side table of what
//! only a log knows (the firewall's action, the rule, the lines).
//!
//! Joining:
//! - Records with a device session id (ASA connection id, PAN-OS and FortiGate session ids)
//!   join on that id and the address pair: an ASA Built and its Teardown become one flow.
//! - Other records join on the directional five-tuple and the action: repeated DROP lines of one
//!   retried connection become one flow with one packet per line, as a capture would show it.
//!
//! Initiator: firewalls log the session's originator as its source. For a TCP session the
//! firewall built (or whose SYN it logged) the initiator is marked [`InitiatorEvidence::Syn`],
//! i.e. certain, exactly as a SYN seen in a capture; a packet the firewall denied is
//! [`InitiatorEvidence::DeniedSource`], certain too (the line says who sent it, so a scanner's
//! datagram from port 5xxxx is never judged as the A/V Edge's outbound media); every other
//! record keeps [`InitiatorEvidence::FirstPacket`] (the sender of the first packet logged), so
//! the judge treats allowed UDP as a capture's UDP flows. An ASA Teardown without its Built in
//! the log has no orientation: the side with the lower port is taken as the responder.
//!
//! Frames: a flow's `first_frame`/`last_frame` are the first and last log line numbers, so every
//! report that cites frames cites lines.
//!
//! Outcome: a TCP flow whose lines say how it ended (the last such line wins: a teardown after
//! its Built) gets the capture path's [`crate::flow::TcpSummary`] ([`super::state`]); one whose
//! lines do not gets Zeek's catch-all `OTH` with the handshake not seen, and is marked
//! `outcome_recorded: false` so that no check or timeline reads it as unanswered. A datagram
//! flow's outcome is recorded when the log counts what the responder sent, or when the firewall
//! denied it.

use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::state::TcpEnd;
use super::{Action, ParsedLog, Record, Summary};
use crate::accounting::Accounting;
use crate::analysis::{Analysis, InputReport};
use crate::flow::tcp::Handshake;
use crate::flow::{
    DirStats, Endpoint, Flow, FlowCounts, FlowEnd, FlowKey, InitiatorEvidence, TcpSummary,
};
use crate::source::capture::ContainerNotes;

/// Lines kept per flow as evidence (all are counted).
const LINES_KEPT: usize = 16;

/// What the log says about one flow, by flow index.
#[derive(Debug, Clone, Serialize)]
pub struct LogFlowInfo {
    /// The firewall denied (some of) this traffic.
    pub denied: bool,
    /// Some line of the flow is not a deny (let through, a teardown, or a logging rule's
    /// line of no decision): with `denied`, the flow got through in part.
    pub passed: bool,
    /// Rules or ACLs named by the lines, shared by every flow that names them (a site has a
    /// few hundred rules, a log millions of flows).
    pub rules: Vec<Arc<str>>,
    /// The first log lines of the flow.
    pub lines: Vec<u64>,
    pub line_count: u64,
    /// The log tells what the responder sent (PAN-OS, FortiGate, Zeek); otherwise a silent
    /// responder proves nothing.
    pub response_known: bool,
    /// The log tells how this flow went: a TCP flow's ending, a datagram flow's replies (or a
    /// deny). When false, checks and timelines must not read its silence as a failure.
    pub outcome_recorded: bool,
    /// No line of the flow tells what the firewall decided (netfilter `LOG` lines whose prefix
    /// names no decision): it is not read as denied, and FW1/FW2 are skipped for it.
    pub undecided: bool,
}

impl LogFlowInfo {
    /// Every line of the flow says the firewall denied it: it never reached the Edge.
    pub fn blocked(&self) -> bool {
        self.denied && !self.passed
    }
}

fn ep((ip, port): (IpAddr, u16)) -> Endpoint {
    Endpoint { ip, port }
}

/// The last ending a flow's lines stated, with that line's source socket (to place a reset).
type Ended = Option<(TcpEnd, (IpAddr, u16))>;

/// A flow being built, in the joiner's vectors: its record, its side-table entry, its ending.
struct Building<'a> {
    flow: &'a mut Flow,
    info: &'a mut LogFlowInfo,
    end: &'a mut Ended,
}

fn dir(ts: Option<i64>, line: u64) -> DirStats {
    let mut d = DirStats::default();
    widen(&mut d, ts, line);
    d
}

fn new_flow(r: &Record, src: (IpAddr, u16), dst: (IpAddr, u16)) -> (Flow, LogFlowInfo) {
    let initiator_by = match r.evidence {
        Some(e) => e,
        None if r.transport == 6 && r.tcp_opened => InitiatorEvidence::Syn,
        // The firewall says who sent what it dropped, whatever the ports suggest.
        None if r.action == Action::Denied => InitiatorEvidence::DeniedSource,
        None => InitiatorEvidence::FirstPacket,
    };
    let byte = |p: u16| u8::try_from(p).unwrap_or(u8::MAX);
    let icmp = matches!(r.transport, 1 | 58).then_some((byte(src.1), byte(dst.1)));
    (
        Flow {
            id: 0,
            protocol: r.transport,
            initiator: ep(src),
            responder: ep(dst),
            initiator_by,
            orig: dir(r.ts_ns, r.line),
            resp: DirStats::default(),
            head: Default::default(),
            tcp: None,
            interfaces: 0,
            vlan: None,
            icmp_errors: 0,
            icmp_notes: Vec::new(),
            icmp,
            fragments: 0,
            truncated_packets: 0,
            end: FlowEnd::EndOfCapture,
        },
        LogFlowInfo {
            denied: false,
            passed: false,
            rules: Vec::new(),
            lines: Vec::new(),
            line_count: 0,
            response_known: false,
            outcome_recorded: false,
            undecided: true,
        },
    )
}

fn widen(d: &mut DirStats, ts: Option<i64>, line: u64) {
    if let Some(t) = ts {
        d.note_time(t);
    }
    d.note_frame(line);
}

/// Adds a record's counts to a flow.
/// Adds a record's counts to a flow; `rule` is the record's rule, interned.
fn add(b: Building<'_>, r: &Record, rule: Option<Arc<str>>) {
    let f = b.flow;
    widen(&mut f.orig, r.ts_ns, r.line);
    if let (Some(t), Some(d)) = (r.ts_ns, r.duration_ns) {
        // A session's end (PAN-OS end, ASA teardown carry the session length).
        // Parsers bound durations (time::MAX_DURATION_NS); saturate all the same.
        let start = if r.action == Action::Teardown {
            t.saturating_sub(d)
        } else {
            t
        };
        widen(&mut f.orig, Some(start), r.line);
        widen(&mut f.orig, Some(start.saturating_add(d)), r.line);
    }
    // Counts come from the lines: summed without overflow whatever they claim.
    let bytes = r.bytes.unwrap_or(0);
    // With only a total, the whole count goes to the originator: the split is unknown.
    f.orig.wire_bytes = f.orig.wire_bytes.saturating_add(bytes);
    f.orig.ip_bytes = f.orig.ip_bytes.saturating_add(bytes);
    if !r.bytes_total {
        f.orig.payload_bytes = f.orig.payload_bytes.saturating_add(bytes);
    }
    f.orig.packets = f
        .orig
        .packets
        .saturating_add(r.packets.unwrap_or(u64::from(r.action != Action::Teardown)));
    if r.resp_bytes.is_some() || r.resp_packets.is_some() {
        b.info.response_known = true;
        let rp = r.resp_packets.unwrap_or(0);
        let rb = r.resp_bytes.unwrap_or(0);
        if rp > 0 || rb > 0 {
            if f.resp.first_frame().is_none() {
                f.resp = dir(r.ts_ns, r.line);
            } else {
                widen(&mut f.resp, r.ts_ns, r.line);
            }
            f.resp.packets = f.resp.packets.saturating_add(rp.max(1));
            f.resp.wire_bytes = f.resp.wire_bytes.saturating_add(rb);
            f.resp.ip_bytes = f.resp.ip_bytes.saturating_add(rb);
            f.resp.payload_bytes = f.resp.payload_bytes.saturating_add(rb);
        }
    }
    if r.action == Action::Denied {
        b.info.denied = true;
    } else {
        b.info.passed = true;
    }
    if r.action != Action::Logged {
        b.info.undecided = false;
    }
    if let Some(end) = &r.end {
        *b.end = Some((end.clone(), r.src));
    }
    if r.transport == 6 && r.tcp_opened && r.action != Action::Denied {
        f.initiator_by = InitiatorEvidence::Syn;
    }
    if let Some(rule) = rule {
        if !b.info.rules.iter().any(|x| Arc::ptr_eq(x, &rule)) {
            b.info.rules.push(rule);
        }
    }
    b.info.line_count += 1;
    if b.info.lines.len() < LINES_KEPT {
        b.info.lines.push(r.line);
    }
}

type TupleKey = ((IpAddr, u16), (IpAddr, u16), u8, bool);

/// Joins records into flows as they arrive, in file order: what it keeps follows the log's
/// distinct flows, not its lines. Flows are kept in the order of their first line, in the
/// vectors the audit takes, so finishing them moves nothing.
#[derive(Default)]
pub struct Joiner {
    flows: Vec<Flow>,
    info: Vec<LogFlowInfo>,
    ends: Vec<Ended>,
    by_session: FxHashMap<(u64, FlowKey), usize>,
    by_tuple: FxHashMap<TupleKey, usize>,
    /// Every rule name seen, once.
    rule_names: FxHashSet<Arc<str>>,
}

impl Joiner {
    fn at(&mut self, i: usize) -> Building<'_> {
        Building {
            flow: &mut self.flows[i],
            info: &mut self.info[i],
            end: &mut self.ends[i],
        }
    }

    /// The record's rule name, held once for the whole log.
    fn rule_of(&mut self, r: &Record) -> Option<Arc<str>> {
        let name = r.rule.as_deref()?;
        if let Some(known) = self.rule_names.get(name) {
            return Some(known.clone());
        }
        let new: Arc<str> = Arc::from(name);
        self.rule_names.insert(new.clone());
        Some(new)
    }

    /// Adds a record to flow `i`.
    fn add_to(&mut self, i: usize, r: &Record) {
        let rule = self.rule_of(r);
        add(self.at(i), r, rule);
    }

    /// Starts a flow with its first record; its index.
    fn start(&mut self, (flow, info): (Flow, LogFlowInfo), r: &Record) -> usize {
        let i = self.flows.len();
        self.flows.push(flow);
        self.info.push(info);
        self.ends.push(None);
        self.add_to(i, r);
        i
    }

    /// Adds the next record of the log.
    pub fn push(&mut self, r: &Record) {
        if let Some(s) = r.session {
            let (key, _) = FlowKey::new(r.src, r.dst, r.transport);
            if let Some(&i) = self.by_session.get(&(s, key)) {
                self.add_to(i, r);
                return;
            }
            let (src, dst) = if r.oriented || r.src.1 >= r.dst.1 {
                (r.src, r.dst)
            } else {
                (r.dst, r.src)
            };
            let mut new = new_flow(r, src, dst);
            if !r.oriented {
                new.0.initiator_by = InitiatorEvidence::WellKnownPort;
            }
            let i = self.start(new, r);
            self.by_session.insert((s, key), i);
            return;
        }
        let tk = (r.src, r.dst, r.transport, r.action == Action::Denied);
        if let Some(&i) = self.by_tuple.get(&tk) {
            self.add_to(i, r);
            return;
        }
        let i = self.start(new_flow(r, r.src, r.dst), r);
        self.by_tuple.insert(tk, i);
    }

    /// The flows, in order of their first line (numbered so), with the side table.
    pub fn finish(mut self) -> (Vec<Flow>, Vec<LogFlowInfo>) {
        drop(std::mem::take(&mut self.by_session));
        drop(std::mem::take(&mut self.by_tuple));
        drop(std::mem::take(&mut self.rule_names));
        for i in 0..self.flows.len() {
            let b = self.at(i);
            b.flow.id = i as u64 + 1;
            // A session known only from its teardown still carried traffic.
            b.flow.orig.packets = b.flow.orig.packets.max(1);
            settle(b);
        }
        (self.flows, self.info)
    }
}

/// A log read as flows: its line counts, its flows in order of their first line, and what
/// only the log tells of each flow (by flow index).
#[derive(Debug, Clone)]
pub struct LogFlows {
    pub summary: Summary,
    pub flows: Vec<Flow>,
    pub info: Vec<LogFlowInfo>,
}

impl From<ParsedLog> for LogFlows {
    fn from(log: ParsedLog) -> LogFlows {
        let (flows, info) = self::flows(&log);
        LogFlows {
            summary: log.summary,
            flows,
            info,
        }
    }
}

/// The flows of a parsed log, in order of their first line, with the side table.
pub fn flows(log: &ParsedLog) -> (Vec<Flow>, Vec<LogFlowInfo>) {
    let mut j = Joiner::default();
    for r in &log.records {
        j.push(r);
    }
    j.finish()
}

/// The flow's outcome in the capture path's terms, and whether the log recorded it.
fn settle(b: Building<'_>) {
    let f = b.flow;
    if f.protocol != 6 {
        b.info.outcome_recorded = b.info.response_known || b.info.denied;
        return;
    }
    let summary = match b.end.take() {
        Some((end, src)) => {
            b.info.outcome_recorded = true;
            let src_is_orig = src == (f.initiator.ip, f.initiator.port);
            end.summary(src_is_orig, f.orig.packets)
        }
        // Not "S0": nothing says the connection went unanswered.
        None => TcpSummary {
            conn_state: "OTH",
            history: "".into(),
            handshake: Handshake::NotSeen,
            retransmissions: [0, 0],
            gaps: [0, 0],
        },
    };
    f.tcp = Some(Box::new(summary));
}

/// An [`Analysis`] of a parsed log, as [`crate::audit::audit`] takes it, with the side table.
pub fn analysis(name: &str, log: &ParsedLog) -> (Analysis, Vec<LogFlowInfo>) {
    let (flows, info) = flows(log);
    (analysis_of(name, &log.summary, flows), info)
}

/// An [`Analysis`] of a log's flows. The line counts go into the accounting's notes
/// (`log.used`, `log.skipped.<reason>`...), which every report prints.
pub fn analysis_of(name: &str, s: &Summary, flows: Vec<Flow>) -> Analysis {
    let mut acc = Accounting::default();
    acc.notes.insert("log.lines".into(), s.lines);
    acc.notes.insert("log.used".into(), s.used);
    acc.notes.insert("log.comment".into(), s.comment);
    for (k, v) in &s.skipped {
        acc.notes.insert(format!("log.skipped.{k}"), *v);
    }
    for (k, v) in &s.unparsable {
        acc.notes.insert(format!("log.unparsable.{k}"), *v);
    }
    let first = flows.iter().filter_map(|f| f.orig.first_ts_ns()).min();
    let last = flows.iter().filter_map(|f| f.orig.last_ts_ns()).max();
    let n = flows.len() as u64;
    Analysis {
        inputs: vec![InputReport {
            name: name.to_string(),
            format: s.format.map(super::LogFormat::label),
            packets: s.used,
            stop: None,
            error: None,
            lost: (s.unparsable_total() > 0).then(|| {
                format!(
                    "{} of {} lines could not be parsed",
                    s.unparsable_total(),
                    s.lines
                )
            }),
            container: ContainerNotes::default(),
        }],
        interfaces: Vec::new(),
        flows,
        identifications: Vec::new(),
        flow_counts: FlowCounts {
            created: n,
            active_at_end: n,
            expired_idle: 0,
            evicted_cap: 0,
        },
        accounting: acc,
        first_ts_ns: first,
        last_ts_ns: last,
    }
}
