//! Findings only a firewall log gives, attached to the audit's diagnosis, and what the log's
//! format cannot support (research/diagnostics.md section 10, firewall-log-only mode).
//!
//! - FW1 (error): the firewall denied a flow the matrix documents for this site. Evidence: the
//!   flow and its log lines, the rule that denied, the matrix rule that permits it.
//! - FW2 (info): denied traffic the matrix does not document, counts only: that is the firewall
//!   doing its job.
//!
//! The flow checks ran on the log as on a capture, reading a connection's outcome from the
//! state each line gave (`logs::state`) and never from a silence the log did not record (see
//! `Inputs::unrecorded`). What they could not check is listed here as skipped, from the table
//! of what each format tells (`logs::facts`): payload checks always, outcome checks for the
//! flows whose lines did not say how they went.

use std::collections::BTreeMap;

use super::{Confidence, Evidence, Finding, Severity, Skipped};
use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::judge::Verdict;
use crate::logs::facts::{self, Fact, Tells};
use crate::logs::to_flow::LogFlowInfo;
use crate::logs::LogFormat;

const CITATION: &str = "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (the rule that permits each flow is named in its evidence)";

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
        initiator: crate::net::HostPort {
            ip: f.initiator.ip,
            port: f.initiator.port,
        },
        responder: crate::net::HostPort {
            ip: f.responder.ip,
            port: f.responder.port,
        },
        transport: crate::net::IpProto(f.protocol),
        first_frame: info.lines.first().copied(),
        last_frame: f.orig.last_frame(),
        first_ts_ns: f.first_ts_ns(),
        detail: detail.into(),
    }
}

/// The checks the log cannot support, with the reason: payload checks always; outcome checks
/// when some flows of the kind they read (TCP for a connection's outcome, datagrams for
/// replies) have none recorded, with the format's reason or the count of such flows.
pub fn skipped(
    analysis: &Analysis,
    info: &[LogFlowInfo],
    format: Option<LogFormat>,
) -> Vec<Skipped> {
    let unrecorded = |tcp: bool| {
        analysis
            .flows
            .iter()
            .zip(info)
            .filter(|(f, x)| (f.protocol == 6) == tcp && !x.outcome_recorded)
            .count()
    };
    let of_kind = |tcp: bool| {
        analysis
            .flows
            .iter()
            .filter(|f| (f.protocol == 6) == tcp)
            .count()
    };
    let row = format.map(facts::of);
    let mut out = Vec::new();
    for n in &facts::NEEDING {
        let (tcp, tells, what) = match n.fact {
            Fact::Decision => {
                let missing = info.iter().filter(|x| x.undecided).count();
                if missing > 0 {
                    out.push(Skipped {
                        id: n.ids,
                        title: n.title,
                        needs: format!(
                            "what the firewall decided, for {missing} of {} flows: {}; they are not read as denied",
                            analysis.flows.len(),
                            facts::UNDECIDED
                        ),
                    });
                }
                continue;
            }
            Fact::Payload => {
                out.push(Skipped {
                    id: n.ids,
                    title: n.title,
                    needs: facts::NO_PAYLOAD.into(),
                });
                continue;
            }
            Fact::TcpOutcome => (
                true,
                row.map(|r| r.tcp_outcome),
                "how each TCP connection ended",
            ),
            Fact::Replies => (
                false,
                row.map(|r| r.replies),
                "what the responder sent back",
            ),
        };
        let missing = unrecorded(tcp);
        if missing == 0 {
            continue;
        }
        let why = match tells {
            Some(Tells::Not(why)) => why,
            Some(Tells::By(_)) => row.map_or("", |r| r.partial),
            None => "",
        };
        out.push(Skipped {
            id: n.ids,
            title: n.title,
            needs: format!(
                "{what}, for {missing} of {} {} flows: {why}; they are not read as failing",
                of_kind(tcp),
                if tcp { "TCP" } else { "datagram" },
            ),
        });
    }
    out
}

/// Adds FW1/FW2 and lists what the log cannot support.
pub fn attach(
    analysis: &Analysis,
    audit: &mut Audit,
    info: &[LogFlowInfo],
    format: Option<LogFormat>,
) {
    let skipped = skipped(analysis, info, format);
    let d = &mut audit.diagnosis;
    d.skipped.extend(skipped);

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
                j.reason.of(&analysis.flows[i])
            );
            let e = fw1
                .entry(rule)
                .or_insert_with(|| (j.documented.to_string(), Vec::new()));
            e.1.push(evidence(analysis, i, x, detail));
        } else if x.blocked() {
            // Let through on another line, it reached the Edge: a violation, not FW2's.
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
            title: format!(
                "The firewall denied {}",
                crate::report::words::count(fw2_flows, "undocumented flow")
            ),
            explanation: format!(
                "{} ({}) {} not in the documented Edge port matrix for this site ({}); \
                 denying them is what the matrix asks of the firewall. They are counted as \
                 blocked, not as violations.",
                crate::report::words::count(fw2_flows, "denied flow"),
                crate::report::words::count(fw2_lines, "log line"),
                if fw2_flows == 1 { "is" } else { "are" },
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
