//! Findings across flows: what went wrong, in words an Edge admin acts on.
//!
//! Each check reads the flows, their judgements and (where present) their payload evidence, and
//! the topology; each finding carries an id from the rulebook, a severity, a confidence, the
//! evidence (flows, frames, times, the fields that decided), an explanation with the likely cause
//! and the fix, and its citation in the specification documents. A check that needs a topology
//! fact the user did not give is reported as skipped, naming the missing fact: nothing is guessed.

pub mod calls;
mod checks;
mod dns;
pub mod firewall;
mod misdirected;
mod paths;
mod payload;
mod services;
pub mod sides;
mod site;
mod tls;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::net::{HostPort, IpProto};
use crate::topology::Topology;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// How sure the evidence makes us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// One flow's part in a finding. Typed, with no text of its own for the common failures: a
/// busy Edge's finding can name hundreds of thousands of flows.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// Index into `Analysis::flows` (and the audit's judgements).
    pub flow: usize,
    pub initiator: HostPort,
    pub responder: HostPort,
    pub transport: IpProto,
    pub first_frame: Option<u64>,
    pub last_frame: Option<u64>,
    pub first_ts_ns: i64,
    /// The fields that decided, written in words ("4 SYNs over 7.0 s, no SYN-ACK").
    pub detail: Detail,
}

/// What decided that a flow is a finding's evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// P2: UDP datagrams the responder never answered, over a time.
    Unanswered { datagrams: u64, span_ns: i64 },
    /// P1: SYNs (first and retransmissions) with no SYN-ACK, over a time.
    SynUnanswered { syns: u64, span_ns: i64 },
    /// Anything else, in words.
    Words(Box<str>),
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        match self {
            Detail::Unanswered { datagrams, span_ns } => write!(
                f,
                "{datagrams} datagram{} over {:.1} s, none answered",
                plural(*datagrams),
                checks::secs(*span_ns)
            ),
            Detail::SynUnanswered { syns, span_ns } => write!(
                f,
                "{syns} SYN{} over {:.1} s, no SYN-ACK",
                plural(*syns),
                checks::secs(*span_ns)
            ),
            Detail::Words(w) => f.write_str(w),
        }
    }
}

impl Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<String> for Detail {
    fn from(s: String) -> Detail {
        Detail::Words(s.into_boxed_str())
    }
}

impl From<&str> for Detail {
    fn from(s: &str) -> Detail {
        Detail::Words(s.into())
    }
}

/// A diagnostic finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub confidence: Confidence,
    pub title: String,
    /// What happened, the likely cause and the fix, in one paragraph.
    pub explanation: String,
    pub fix: String,
    pub citation: &'static str,
    pub evidence: Vec<Evidence>,
}

/// A check that could not run, and the fact it needs.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub id: &'static str,
    pub title: &'static str,
    pub needs: String,
}

/// All findings of a run, most severe first, and the federated call timelines.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub skipped: Vec<Skipped>,
    pub calls: Vec<calls::Call>,
    /// Media flows on relay ports whose allocation came before the capture (not in any call).
    pub media_without_allocation: usize,
}

impl Diagnosis {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).min()
    }

    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// What the checks read.
pub struct Inputs<'a> {
    pub analysis: &'a Analysis,
    pub judgements: &'a crate::judge::Judgements,
    pub topology: &'a Topology,
    /// The topology was assumed (no --topology): checks that need the site are skipped.
    pub topology_assumed: bool,
    /// By flow index, the flows whose outcome the input did not record (a firewall log line
    /// that says a connection was allowed, not how it went): no check or timeline reads their
    /// silence as a failure. Empty for captures, which record every packet.
    pub unrecorded: &'a [bool],
}

impl Inputs<'_> {
    /// Whether the input recorded how flow `i` went (answered or not).
    pub fn recorded(&self, i: usize) -> bool {
        !self.unrecorded.get(i).copied().unwrap_or(false)
    }
}

/// One flow as a finding's evidence, with the fields that decided in words.
pub(crate) fn evidence(inputs: &Inputs<'_>, idx: usize, detail: impl Into<Detail>) -> Evidence {
    let f = &inputs.analysis.flows[idx];
    let at = |e: &crate::flow::Endpoint| HostPort {
        ip: e.ip,
        port: e.port,
    };
    Evidence {
        flow: idx,
        initiator: at(&f.initiator),
        responder: at(&f.responder),
        transport: IpProto(f.protocol),
        first_frame: [f.orig.first_frame(), f.resp.first_frame()]
            .into_iter()
            .flatten()
            .min(),
        last_frame: [f.orig.last_frame(), f.resp.last_frame()]
            .into_iter()
            .flatten()
            .max(),
        first_ts_ns: f.first_ts_ns(),
        detail: detail.into(),
    }
}

/// Private, loopback and link-local addresses: never a remote peer's real address.
pub(crate) fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.is_loopback(),
    }
}

/// Findings about the topology itself (T) come first within a severity: every other finding
/// rests on it.
fn order(id: &'static str) -> (bool, &'static str) {
    (!id.starts_with('T'), id)
}

/// Runs every check.
pub fn diagnose(inputs: &Inputs<'_>) -> Diagnosis {
    // Every group of checks and the call grouping read only the inputs: they run on all
    // cores, and their findings are taken in the fixed order of the groups.
    use rayon::prelude::*;
    let mut groups: Vec<checks::Check> = vec![site::check];
    groups.extend(checks::groups(inputs));
    let (parts, (calls, media_without_allocation)) = rayon::join(
        || {
            groups
                .par_iter()
                .map(|check| {
                    let mut part = Diagnosis::default();
                    check(inputs, &mut part);
                    part
                })
                .collect::<Vec<_>>()
        },
        || calls::group(inputs),
    );
    let mut d = Diagnosis {
        calls,
        media_without_allocation,
        ..Diagnosis::default()
    };
    for part in parts {
        d.findings.extend(part.findings);
        d.skipped.extend(part.skipped);
    }
    // A9 reads the call timelines.
    paths::ice_failures(inputs, &mut d);
    d.findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(order(a.id).cmp(&order(b.id)))
    });
    d
}
