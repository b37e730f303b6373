//! Findings only a firewall log gives, attached to the audit's diagnosis, and the adjustments
//! the flow checks need on log input (research/diagnostics.md section 10, firewall-log-only mode).
//!
//! - FW1 (error): the firewall denied a flow the matrix documents for this site. Evidence: the
//!   flow and its log lines, the rule that denied, the matrix rule that permits it.
//! - FW2 (info): denied traffic the matrix does not document, counts only: that is the firewall
//!   doing its job.
//!
//! The capture checks that conclude from a silent responder (D2, A1, A3, A5, A11...) cannot
//! conclude on an allowed log flow whose format gives no per-direction counts (pfirewall, ASA):
//! such evidence is removed and the limitation listed as a skipped check. Denied flows keep
//! their evidence: the firewall's deny explains the silence.

use std::collections::BTreeMap;

use super::{Confidence, Evidence, Finding, Severity, Skipped};
use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::judge::Verdict;
use crate::logs::to_flow::LogFlowInfo;

/// Checks that read a responder's silence as a failure.
const SILENCE_BASED: &[&str] = &[
    "F1", "F2", "F3", "D2", "CRL1", "A1", "A2", "A3", "A4", "A5", "A7", "A11", "I2", "I5",
];

const CITATION: &str = "research/diagnostics.md section 10 (firewall-log-only mode); the permitting matrix rule is named in each evidence (docs/MATRIX.md)";

fn lines_text(info: &LogFlowInfo) -> String {
    let shown: Vec<String> = info.lines.iter().map(u64::to_string).collect();
    let more = info.line_count.saturating_sub(info.lines.len() as u64);
    if more > 0 {
        format!("log lines {} and {more} more", shown.join(", "))
    } else if info.lines.len() == 1 {
        format!("log line {}", shown.join(", "))
    } else {
        format!("log lines {}", shown.join(", "))
    }
}

fn evidence(analysis: &Analysis, idx: usize, info: &LogFlowInfo, detail: String) -> Evidence {
    let f = &analysis.flows[idx];
    Evidence {
        flow: idx,
        initiator: format!("{}:{}", f.initiator.ip, f.initiator.port),
        responder: format!("{}:{}", f.responder.ip, f.responder.port),
        transport: crate::net::transport_name(f.protocol),
        first_frame: info.lines.first().copied(),
        last_frame: f.orig.last_frame(),
        first_ts_ns: f.first_ts_ns(),
        detail,
    }
}

/// Adds FW1/FW2, drops silence-based evidence a log cannot support, lists what cannot run.
pub fn attach(analysis: &Analysis, audit: &mut Audit, info: &[LogFlowInfo]) {
    let d = &mut audit.diagnosis;
    let unsupported = |i: usize| info.get(i).is_some_and(|x| !x.denied && !x.response_known);
    for f in &mut d.findings {
        if SILENCE_BASED.contains(&f.id) {
            f.evidence.retain(|e| !unsupported(e.flow));
        }
    }
    d.findings
        .retain(|f| !f.evidence.is_empty() || !SILENCE_BASED.contains(&f.id));
    if (0..info.len()).any(unsupported) {
        d.skipped.push(Skipped {
            id: "D2/A1/A3/A5/A11",
            title: "Unanswered-traffic checks on allowed flows",
            needs: "per-direction counts; this log format records the allowed session, not what the responder sent".into(),
        });
    }
    for (id, title) in [
        ("F4-F10, F14", "TLS handshake and certificate checks"),
        ("D1, D3-D5", "DNS answer checks"),
        ("A8", "TURN Allocate rejected"),
        ("N1, N5", "Relay address and load-balancer address checks"),
    ] {
        d.skipped.push(Skipped {
            id,
            title,
            needs: "payloads, which a firewall log does not have".into(),
        });
    }

    // FW1: one finding per matrix rule the denied flows fall under.
    let mut fw1: BTreeMap<String, (String, Vec<Evidence>)> = BTreeMap::new();
    let mut fw2_flows = 0u64;
    let mut fw2_lines = 0u64;
    let mut fw2_by: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (i, (x, j)) in info.iter().zip(&audit.judgements).enumerate() {
        if !x.denied {
            continue;
        }
        if matches!(j.verdict, Verdict::Permitted | Verdict::PermittedWithNote) {
            let rule = j
                .rules
                .first()
                .map_or_else(|| "?".to_string(), |r| r.to_string());
            let by = if x.rules.is_empty() {
                String::new()
            } else {
                format!(" by {}", x.rules.join(", "))
            };
            let detail = format!(
                "denied{by} at {}; the matrix permits it: {}",
                lines_text(x),
                j.reason
            );
            let e = fw1
                .entry(rule)
                .or_insert_with(|| (j.protocol.to_string(), Vec::new()));
            e.1.push(evidence(analysis, i, x, detail));
        } else {
            fw2_flows += 1;
            fw2_lines += x.line_count;
            *fw2_by.entry(j.verdict.label()).or_default() += 1;
        }
    }
    for (rule, (protocol, ev)) in fw1 {
        let n = ev.len();
        d.findings.push(Finding {
            id: "FW1",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: format!("The firewall denied documented traffic ({protocol}, matrix rule {rule})"),
            explanation: format!(
                "{n} flow{} that the port matrix requires for this site {} denied by the firewall. \
                 The Edge service behind this rule fails for these peers until the firewall allows it.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" }
            ),
            fix: format!(
                "Allow this traffic in the firewall rule set (matrix rule {rule}: initiator, responder and port as in the evidence), \
                 then re-run the audit on a fresh log."
            ),
            citation: CITATION,
            evidence: ev,
        });
    }
    if fw2_flows > 0 {
        let by: Vec<String> = fw2_by.iter().map(|(k, v)| format!("{k} {v}")).collect();
        d.findings.push(Finding {
            id: "FW2",
            severity: Severity::Info,
            confidence: Confidence::High,
            title: format!("The firewall denied {fw2_flows} undocumented flows"),
            explanation: format!(
                "{fw2_flows} denied flows ({fw2_lines} log lines) are not in the documented Edge port matrix for this site ({}); \
                 denying them is what the matrix asks of the firewall.",
                by.join(", ")
            ),
            fix: "Nothing to change; review only if a listed flow was expected to work.".into(),
            citation: CITATION,
            evidence: Vec::new(),
        });
    }
    d.findings
        .sort_by(|a, b| a.severity.cmp(&b.severity).then(a.id.cmp(b.id)));
}
