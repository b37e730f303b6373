//! The display filter (`-Y EXPR`): a small tshark-like expression language over finished flows.
//!
//! It runs after the analysis, like tshark's `-Y` ("applied before printing a decoded form of
//! packets", `man tshark`): the packet accounting still covers every packet read, and reports
//! say how many flows the filter kept.
//!
//! ```text
//! expr       := or
//! or         := and (("or" | "||") and)*
//! and        := unary (("and" | "&&") unary)*
//! unary      := ("not" | "!") unary | primary
//! primary    := "(" expr ")" | field op value | field "in" "{" value ([","] value)* "}"
//!             | field | protocol                 (presence: `tcp`, `tls`, `tcp.port`)
//! op         := "==" | "!=" | "<" | ">" | "<=" | ">="   (or eq ne lt gt le ge)
//!             | "contains" | "matches" | "~"      (text fields only)
//! value      := word | "quoted text"        (in sets, numbers may be ranges: 50000..59999)
//! ```
//!
//! `not` binds tighter than `and`, which binds tighter than `or`, as in Wireshark. Fields that
//! look at both ends of a flow (`ip`, `port`) and multi-valued fields (`protocol`, `severity`)
//! are true when any value matches; `a != b` is always `not (a == b)` (Wireshark 3.6's
//! "all not equal" reading), so `ip != 10.0.0.1` keeps the flows that do not touch 10.0.0.1.
//! Parentheses nest at most [`MAX_DEPTH`] deep.
//!
//! Wireshark's field names work where a flow can answer them: `ip.addr`, `ip.src`, `ip.dst`,
//! `ipv6.addr`/`.src`/`.dst`, `ip.proto`, `tcp.port`, `udp.port`, `tcp.srcport`,
//! `tcp.dstport`, `udp.srcport`, `udp.dstport`, `frames` (a conversation's frame count),
//! `tls.handshake.extensions_server_name`; protocol names alone (`tcp`, `udp`, `icmp`, `ip`,
//! `ipv6`, `tls`, `stun`, `rtp`, `sip`...) and any field alone test presence. `src` is the
//! flow's initiator, `dst` its responder. A field a flow does not have (`tcp.port` of a UDP
//! flow, `ipv6.addr` of an IPv4 one, an SNI a flow never sent) makes every comparison on it
//! false, `!=` included, as in Wireshark. `contains` and `matches` (a regular expression) are
//! case-insensitive, as Wireshark's `matches` is. Per-packet fields (`tcp.flags.syn`,
//! `frame.len`) are refused with the reason, and a misspelt field gets "did you mean".
//!
//! Applying a filter never changes the run: [`Filter::select`] returns a [`Selection`], the
//! indexes of the flows it keeps, and the reports render only those.

mod eval;
mod lex;
mod parse;

use std::fmt;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::diagnose::{Diagnosis, Severity};
use crate::flow::Flow;
use crate::identify::Identification;
use crate::judge::Judgement;

pub use parse::MAX_DEPTH;

/// A bad filter, pointing at the token that made it bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    /// 1-based column (in characters) of the bad token.
    pub column: usize,
    /// Length of the bad token in characters (at least 1).
    pub len: usize,
    pub source: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "display filter: {} at column {}: '{}'",
            self.message, self.column, self.source
        )?;
        writeln!(f, "    {}", self.source)?;
        write!(
            f,
            "    {}^{}",
            " ".repeat(self.column.saturating_sub(1)),
            "~".repeat(self.len.saturating_sub(1))
        )
    }
}

impl std::error::Error for FilterError {}

/// The fields a filter can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Ip,
    IpSrc,
    IpDst,
    /// IPv6 addresses only (Wireshark's `ipv6.*`).
    Ipv6,
    Ipv6Src,
    Ipv6Dst,
    /// The IP protocol number (Wireshark's `ip.proto`).
    IpProto,
    Port,
    PortSrc,
    PortDst,
    /// Ports of TCP flows only (Wireshark's `tcp.port`...).
    TcpPort,
    TcpSrcPort,
    TcpDstPort,
    UdpPort,
    UdpSrcPort,
    UdpDstPort,
    Transport,
    /// Either of the two below: what the payload showed or what the documents call the flow.
    Protocol,
    /// The payload's protocol as identification found it (`tls`, `stun`...).
    Payload,
    /// The documents' protocol of the rule that judged the flow (`sip/mtls`...).
    Documented,
    /// The TLS server name the client asked for.
    Sni,
    Interface,
    Service,
    Verdict,
    State,
    Packets,
    Bytes,
    Duration,
    Severity,
    /// A firewall log says the firewall denied the flow on every line: tested alone
    /// (`blocked`, `!blocked`).
    Blocked,
}

impl Field {
    /// Every name a filter accepts, the field's own name first (the name messages use).
    const ALL: [(&'static str, Field); 33] = [
        ("ip", Field::Ip),
        ("ip.addr", Field::Ip),
        ("ip.src", Field::IpSrc),
        ("ip.dst", Field::IpDst),
        ("ipv6.addr", Field::Ipv6),
        ("ipv6.src", Field::Ipv6Src),
        ("ipv6.dst", Field::Ipv6Dst),
        ("ip.proto", Field::IpProto),
        ("port", Field::Port),
        ("port.src", Field::PortSrc),
        ("port.dst", Field::PortDst),
        ("tcp.port", Field::TcpPort),
        ("tcp.srcport", Field::TcpSrcPort),
        ("tcp.dstport", Field::TcpDstPort),
        ("udp.port", Field::UdpPort),
        ("udp.srcport", Field::UdpSrcPort),
        ("udp.dstport", Field::UdpDstPort),
        ("transport", Field::Transport),
        ("protocol", Field::Protocol),
        ("payload", Field::Payload),
        ("documented", Field::Documented),
        ("tls.handshake.extensions_server_name", Field::Sni),
        ("interface", Field::Interface),
        ("service", Field::Service),
        ("verdict", Field::Verdict),
        ("state", Field::State),
        ("packets", Field::Packets),
        ("frames", Field::Packets),
        ("bytes", Field::Bytes),
        ("duration", Field::Duration),
        ("severity", Field::Severity),
        ("blocked", Field::Blocked),
        ("tls.sni", Field::Sni),
    ];

    fn from_name(s: &str) -> Option<Field> {
        let s = s.to_ascii_lowercase();
        Field::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        Field::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Every name a filter accepts for a field, aliases included.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Field::ALL.iter().map(|(n, _)| *n)
    }

    /// Fields that only an audit can answer.
    pub fn needs_audit(self) -> bool {
        matches!(
            self,
            Field::Interface
                | Field::Service
                | Field::Verdict
                | Field::Severity
                | Field::Blocked
                | Field::Documented
        )
    }

    /// Wireshark's fields, which a flow may lack: a comparison on a field the flow does not
    /// have is false, `!=` included, as Wireshark treats a field a packet does not have.
    /// edgewise's own fields keep `a != b` as `not (a == b)`.
    pub fn absent_is_false(self) -> bool {
        matches!(
            self,
            Field::Ipv6
                | Field::Ipv6Src
                | Field::Ipv6Dst
                | Field::TcpPort
                | Field::TcpSrcPort
                | Field::TcpDstPort
                | Field::UdpPort
                | Field::UdpSrcPort
                | Field::UdpDstPort
                | Field::Sni
        )
    }

    /// Fields whose values are text (what `contains` and `matches` apply to).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Field::Transport
                | Field::Protocol
                | Field::Payload
                | Field::Documented
                | Field::Sni
                | Field::Interface
                | Field::Service
                | Field::Verdict
                | Field::State
        )
    }
}

/// A compiled display filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: parse::Expr,
    source: String,
}

/// What the filter sees of one flow.
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    pub flow: &'a Flow,
    pub identification: Option<&'a Identification>,
    /// `None` for `edgewise flows` (no audit ran).
    pub judgement: Option<&'a Judgement>,
    /// Severities of the findings this flow is evidence of (bit 0 info, 1 warning, 2 error).
    pub severities: u8,
    /// A firewall log says it denied the flow on every line.
    pub blocked: bool,
}

/// The bit of a severity in [`FlowView::severities`].
pub fn severity_bit(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Warning => 2,
        Severity::Error => 4,
    }
}

/// The severities of the findings each flow is evidence of (bits of [`severity_bit`]).
pub fn severities_by_flow(diagnosis: &Diagnosis, flows: usize) -> Vec<u8> {
    let mut out = vec![0u8; flows];
    for f in &diagnosis.findings {
        for e in &f.evidence {
            if let Some(s) = out.get_mut(e.flow) {
                *s |= severity_bit(f.severity);
            }
        }
    }
    out
}

/// What a display filter kept of a run: the expression, and the indexes into
/// `Analysis::flows` of the flows it kept, ascending.
///
/// A sorted list of indexes rather than a bitmap: renderers walk the kept flows in order, the
/// rest of the run keeps pointing at flows by their index in the analysis, and finding the
/// position of one (how reports number the flows they show) is a binary search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub expression: String,
    /// Indexes of the kept flows into `Analysis::flows`, ascending.
    pub kept: Vec<usize>,
    /// Flows before filtering.
    pub total: usize,
}

/// What a report says about a selection: `{expression, kept, total}` with `kept` a count.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SelectionSummary<'a> {
    pub expression: &'a str,
    /// Flows the filter kept.
    pub kept: usize,
    /// Flows before filtering.
    pub total: usize,
}

impl Selection {
    /// Does the selection keep flow `i`?
    pub fn contains(&self, i: usize) -> bool {
        self.kept.binary_search(&i).is_ok()
    }

    /// The position of flow `i` among the kept flows: the number a report of this selection
    /// gives the flow.
    pub fn position(&self, i: usize) -> Option<usize> {
        self.kept.binary_search(&i).ok()
    }

    pub fn summary(&self) -> SelectionSummary<'_> {
        SelectionSummary {
            expression: &self.expression,
            kept: self.kept.len(),
            total: self.total,
        }
    }

    /// The diagnosis as a report of this selection writes it. A finding keeps the evidence
    /// flows the selection keeps, and is left out when none is; a federated call is kept only
    /// when all its legs are, since a partial timeline would misplace where the call failed.
    /// Flow indexes are numbered among the kept flows ([`Selection::position`]), as the
    /// reports number the flows they list.
    pub fn diagnosis(&self, d: &Diagnosis) -> Diagnosis {
        let mut findings = Vec::new();
        for f in &d.findings {
            let evidence: Vec<_> = f
                .evidence
                .iter()
                .filter_map(|e| {
                    let flow = self.position(e.flow)?;
                    Some(crate::diagnose::Evidence { flow, ..e.clone() })
                })
                .collect();
            if !evidence.is_empty() {
                findings.push(crate::diagnose::Finding {
                    evidence,
                    ..f.clone()
                });
            }
        }
        let calls = d
            .calls
            .iter()
            .filter(|c| c.legs.iter().all(|l| self.contains(l.flow)))
            .map(|c| {
                let mut c = c.clone();
                for l in &mut c.legs {
                    l.flow = self.position(l.flow).unwrap_or(l.flow);
                }
                c
            })
            .collect();
        Diagnosis {
            findings,
            calls,
            skipped: d.skipped.clone(),
            media_without_allocation: d.media_without_allocation,
        }
    }
}

/// The indexes of the flows a report shows, ascending: those a selection kept, or all
/// `total` flows without one.
pub fn shown(selection: Option<&Selection>, total: usize) -> Shown<'_> {
    match selection {
        Some(s) => Shown::Kept(s.kept.iter()),
        None => Shown::All(0..total),
    }
}

/// The iterator of [`shown`].
#[derive(Debug, Clone)]
pub enum Shown<'a> {
    All(std::ops::Range<usize>),
    Kept(std::slice::Iter<'a, usize>),
}

impl Iterator for Shown<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            Shown::All(r) => r.next(),
            Shown::Kept(k) => k.next().copied(),
        }
    }
}

impl Filter {
    /// The flows this filter keeps. Without an audit (`edgewise flows`) the audit's fields
    /// match nothing; the caller checks [`Filter::check_without_audit`] first. With one, a
    /// flow's severity is that of the findings it is evidence of.
    pub fn select(&self, analysis: &Analysis, audit: Option<&Audit>) -> Selection {
        let total = analysis.flows.len();
        let severities = audit.map(|a| severities_by_flow(&a.diagnosis, total));
        let kept = analysis
            .flows
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                self.matches(&FlowView {
                    flow: f,
                    identification: analysis.identifications.get(*i),
                    judgement: audit.and_then(|a| a.judgements.get(*i)),
                    severities: severities
                        .as_ref()
                        .and_then(|s| s.get(*i).copied())
                        .unwrap_or(0),
                    blocked: audit.is_some_and(|a| a.is_denied(*i)),
                })
            })
            .map(|(i, _)| i)
            .collect();
        Selection {
            expression: self.source.clone(),
            kept,
            total,
        }
    }
}

#[cfg(test)]
mod tests;
