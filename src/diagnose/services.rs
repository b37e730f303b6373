//! Rulebook checks of the services the Front End pool needs from the Edge internal interface
//! (A13 A/V authentication 5062, A14 web conferencing 8057, A15 conferencing and mediation
//! servers to 3478/443) and of how federation leaves the Edge (F11 the wrong external source,
//! F12 a retry loop). Each fails one documented flow in a way a firewall team can act on.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{evidence, Confidence, Diagnosis, Evidence, Finding, Inputs, Severity};
use crate::flow::tcp::Handshake;
use crate::flow::Flow;
use crate::identify::TlsOutcome;
use crate::matrix::Role;

/// F12: this many failed federation connections to one partner...
const RETRY_LOOP_CONNECTIONS: usize = 5;
/// ...within this many seconds make a retry loop (the rulebook's thresholds, marked as a guess
/// there: confidence stays medium).
const RETRY_LOOP_WINDOW_NS: i64 = 300 * 1_000_000_000;
/// Evidence flows kept per finding; the explanation counts them all.
const EVIDENCE_KEPT: usize = 20;

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    internal_services(inputs, d);
    federation_source(inputs, d);
    retry_loop(inputs, d);
}

fn roles<'a>(inputs: &Inputs<'a>, ip: IpAddr) -> &'a [Role] {
    inputs.topology.roles_of(ip)
}

fn is_internal_if(inputs: &Inputs<'_>, ip: IpAddr) -> bool {
    roles(inputs, ip)
        .iter()
        .any(|r| matches!(r, Role::EdgeInternal | Role::EdgeInternalVip))
}

/// Servers of the pool that use the Edge internal interface: Front End (the A/V conferencing
/// and web conferencing servers run there), Directors, SBAs, other Lync servers (Mediation),
/// and any host of a declared server subnet.
fn is_pool_server(inputs: &Inputs<'_>, ip: IpAddr) -> bool {
    roles(inputs, ip).iter().any(|r| {
        matches!(
            r,
            Role::Fe
                | Role::FePoolVip
                | Role::Director
                | Role::DirectorPoolVip
                | Role::CmsFe
                | Role::Sba
                | Role::LyncServer
        )
    }) || inputs
        .topology
        .server_subnets
        .iter()
        .any(|n| n.contains(&ip))
}

/// How a TCP connection failed in words: not answered, refused, or a TLS handshake that never
/// completed. A flow whose outcome the input did not record (a firewall log's allowed
/// connection) never failed.
fn failed_tcp(inputs: &Inputs<'_>, i: usize, f: &Flow) -> Option<String> {
    if !inputs.recorded(i) {
        return None;
    }
    match f.handshake()? {
        Handshake::SynUnanswered {
            syn_retransmissions,
        } => {
            return Some(format!(
                "{} SYN{}, no SYN-ACK",
                syn_retransmissions + 1,
                if syn_retransmissions == 0 { "" } else { "s" }
            ))
        }
        Handshake::RefusedByRst => return Some("the SYN was answered by a reset".into()),
        Handshake::UnreachableByIcmp => {
            return Some("the SYN was answered by ICMP unreachable".into())
        }
        Handshake::NotSeen => return None,
        Handshake::Established => {}
    }
    tls_failure(inputs, i)
}

/// A TLS handshake that an alert or a reset ended, in words.
fn tls_failure(inputs: &Inputs<'_>, i: usize) -> Option<String> {
    let tls = inputs
        .analysis
        .identifications
        .get(i)?
        .evidence
        .tls
        .as_ref()?;
    match tls.outcome {
        TlsOutcome::Alert => {
            let alert = tls.alerts.iter().find(|a| a.level == "fatal");
            Some(match alert {
                Some(a) => format!(
                    "TLS handshake ended by the {}'s {} alert",
                    a.from,
                    a.name.unwrap_or("fatal")
                ),
                None => "TLS handshake ended by an alert".into(),
            })
        }
        TlsOutcome::Reset => Some("connection reset during the TLS handshake".into()),
        TlsOutcome::Completed | TlsOutcome::Stalled => None,
    }
}

/// UDP the responder never answered, in words; not when the input did not record replies.
fn unanswered_udp(inputs: &Inputs<'_>, i: usize, f: &Flow) -> Option<String> {
    (f.protocol == 17 && inputs.recorded(i) && !f.answered()).then(|| {
        format!(
            "{} datagram{}, none answered",
            f.orig.packets,
            if f.orig.packets == 1 { "" } else { "s" }
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn finding(
    id: &'static str,
    severity: Severity,
    confidence: Confidence,
    title: String,
    explanation: String,
    fix: &str,
    citation: &'static str,
    mut evidence: Vec<Evidence>,
) -> Finding {
    evidence.truncate(EVIDENCE_KEPT);
    Finding {
        id,
        severity,
        confidence,
        title,
        explanation,
        fix: fix.into(),
        citation,
        evidence,
    }
}

/// A13-A15: a pool server's connection to the Edge internal interface failed.
fn internal_services(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let (mut mras, mut psom, mut relay) = (Vec::new(), Vec::new(), Vec::new());
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if !is_internal_if(inputs, f.responder.ip) || !is_pool_server(inputs, f.initiator.ip) {
            continue;
        }
        let port = f.responder.port;
        let failure = match (f.protocol, port) {
            (6, 5062 | 8057 | 443) => failed_tcp(inputs, i, f),
            (17, 3478) => unanswered_udp(inputs, i, f),
            _ => None,
        };
        let Some(detail) = failure else { continue };
        let e = evidence(inputs, i, detail);
        match (f.protocol, port) {
            (6, 5062) => mras.push(e),
            (6, 8057) => psom.push(e),
            _ => relay.push(e),
        }
    }
    let servers = |ev: &[Evidence]| {
        let mut s: Vec<String> = ev
            .iter()
            .map(|e| inputs.analysis.flows[e.flow].initiator.ip.to_string())
            .collect();
        s.sort();
        s.dedup();
        s.join(", ")
    };
    if !mras.is_empty() {
        d.findings.push(finding(
            "A13",
            Severity::Error,
            Confidence::High,
            "A/V authentication (SIP/MTLS 5062) from the pool to the Edge internal interface fails".into(),
            format!(
                "{} connection{} from {} to the Edge internal interface on TCP 5062 failed. The Front End (and SBA) \
                 use 5062 to get A/V authentication from the Edge: without it clients get no TURN credentials, and \
                 external and federated audio/video fails (UCMA logs MediaEdgeAuthenticationServiceCredentialsAcquisitionFailed).",
                mras.len(),
                if mras.len() == 1 { "" } else { "s" },
                servers(&mras)
            ),
            "Allow TCP 5062 from every Front End and SBA to the Edge internal interface on the internal firewall, and \
             check that the Edge trusts the pool's certificate (MTLS).",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (SIP/MTLS 5062)",
            mras,
        ));
    }
    if !psom.is_empty() {
        d.findings.push(finding(
            "A14",
            Severity::Error,
            Confidence::High,
            "Web conferencing (PSOM/MTLS 8057) from the pool to the Edge internal interface fails".into(),
            format!(
                "{} connection{} from {} to the Edge internal interface on TCP 8057 failed. Each Front End's web \
                 conferencing service opens PSOM/MTLS 8057 to the Edge: without it external users get no meeting \
                 content.",
                psom.len(),
                if psom.len() == 1 { "" } else { "s" },
                servers(&psom)
            ),
            "Allow TCP 8057 from every Front End to the Edge internal interface on the internal firewall.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (PSOM/MTLS 8057)",
            psom,
        ));
    }
    if !relay.is_empty() {
        d.findings.push(finding(
            "A15",
            Severity::Error,
            Confidence::Medium,
            "Conferencing and mediation servers cannot reach the A/V Edge's internal interface (UDP 3478 / TCP 443)"
                .into(),
            format!(
                "{} attempt{} from {} to the Edge internal interface on UDP 3478 or TCP 443 failed. The A/V \
                 conferencing and mediation servers relay media through the Edge for external users in conferences \
                 and PSTN calls.",
                relay.len(),
                if relay.len() == 1 { "" } else { "s" },
                servers(&relay)
            ),
            "Allow UDP 3478 and TCP 443 from the Front End, Mediation and SBA servers to the Edge internal interface.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (STUN/MSTURN UDP 3478, TCP 443)",
            relay,
        ));
    }
}

/// F11: federation, DNS or revocation traffic leaving from an Edge external address that is not
/// the Access Edge's, which firewall rules written for the Access Edge drop.
fn federation_source(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let mut by_source: BTreeMap<IpAddr, (&'static str, Vec<Evidence>)> = BTreeMap::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let what = match (f.protocol, f.responder.port) {
            (6, 5061) => "SIP/MTLS 5061",
            (6 | 17, 53) => "DNS 53",
            (6, 80) => "HTTP 80 (revocation)",
            _ => continue,
        };
        if t.is_edge(f.responder.ip) || t.is_internal_host(f.responder.ip) {
            continue;
        }
        let r = roles(inputs, f.initiator.ip);
        let other = r.iter().find_map(|r| match r {
            Role::EdgeWebconf | Role::EdgeWebconfVip => Some("Web Conferencing Edge"),
            Role::EdgeAv | Role::EdgeAvVip => Some("A/V Edge"),
            _ => None,
        });
        let is_access = r
            .iter()
            .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeAccessVip));
        let (Some(other), false) = (other, is_access) else {
            continue;
        };
        by_source
            .entry(f.initiator.ip)
            .or_insert_with(|| (other, Vec::new()))
            .1
            .push(evidence(
                inputs,
                i,
                format!("{what} from the {other}'s address"),
            ));
    }
    for (ip, (service, ev)) in by_source {
        d.findings.push(finding(
            "F11",
            Severity::Warning,
            Confidence::Medium,
            format!("Outbound federation traffic leaves from the {service} address {ip}, not the Access Edge's"),
            format!(
                "{} outbound connection{} (federation 5061, DNS or revocation) left from {ip}, the {service}'s \
                 address. The documents list the Access Edge address as the source of these flows, so firewall \
                 rules scoped to it drop them, and partners see an address their SRV record does not name.",
                ev.len(),
                if ev.len() == 1 { "" } else { "s" }
            ),
            "Make the Access Edge address the primary address of the external interface (the one the default route \
             uses), or widen the firewall rules to the address in use.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/SIP(MTLS) 5061, DNS 53, HTTP 80 outbound)",
            ev,
        ));
    }
}

/// F12: the Edge keeps opening federation connections to one partner that fail during TLS.
fn retry_loop(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let access = |ip| {
        roles(inputs, ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeAccessVip))
    };
    // Failed TLS connections on 5061 per partner, in time order (flows are in first-packet
    // order).
    let mut per_partner: BTreeMap<IpAddr, Vec<(i64, usize, String)>> = BTreeMap::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if f.protocol != 6 || f.responder.port != 5061 {
            continue;
        }
        let partner = if access(f.initiator.ip) && !t.is_edge(f.responder.ip) {
            f.responder.ip
        } else if access(f.responder.ip) && !t.is_edge(f.initiator.ip) {
            f.initiator.ip
        } else {
            continue;
        };
        if f.handshake() != Some(Handshake::Established) {
            continue;
        }
        if let Some(why) = tls_failure(inputs, i) {
            per_partner
                .entry(partner)
                .or_default()
                .push((f.first_ts_ns(), i, why));
        }
    }
    for (partner, mut tries) in per_partner {
        tries.sort_by_key(|t| t.0);
        // The densest window of RETRY_LOOP_WINDOW_NS, by two pointers.
        let (mut best, mut lo) = ((0usize, 0usize), 0usize);
        for hi in 0..tries.len() {
            while tries[hi].0 - tries[lo].0 > RETRY_LOOP_WINDOW_NS {
                lo += 1;
            }
            if hi + 1 - lo > best.1 - best.0 {
                best = (lo, hi + 1);
            }
        }
        let n = best.1 - best.0;
        if n < RETRY_LOOP_CONNECTIONS {
            continue;
        }
        let window = &tries[best.0..best.1];
        let span_s = (window[n - 1].0 - window[0].0) as f64 / 1e9;
        let name = t
            .partners
            .iter()
            .find(|p| p.access_edge.contains(&partner))
            .map(|p| format!("{} ({partner})", p.domain))
            .unwrap_or_else(|| partner.to_string());
        let ev = window
            .iter()
            .map(|(_, i, why)| evidence(inputs, *i, why.clone()))
            .collect();
        d.findings.push(finding(
            "F12",
            Severity::Warning,
            Confidence::Medium,
            format!("Federation with {name} is stuck in a retry loop"),
            format!(
                "{n} connections on TCP 5061 with {name} failed during the TLS handshake within {span_s:.0} s: the \
                 Edges keep reconnecting and failing. The TLS findings (F4-F8) name the cause when the handshake shows it."
            ),
            "Fix the underlying TLS failure (certificate trust, names, versions) listed in the other federation findings; \
             Test-CsFederatedPartner and the Edge's SIPStack log show the reason for each attempt.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/SIP(MTLS) 5061)",
            ev,
        ));
    }
}
