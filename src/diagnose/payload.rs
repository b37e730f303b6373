//! Checks that need what the payload showed: TURN allocation errors and relay addresses,
//! partner SRV lookups. TLS handshakes and certificates are `tls.rs`'s.

use std::net::{IpAddr, SocketAddr};

use super::{evidence, is_private, Confidence, Diagnosis, Finding, Inputs, Severity};
use crate::identify::Identification;
use crate::matrix::Role;

fn id_of<'a>(inputs: &'a Inputs<'_>, i: usize) -> Option<&'a Identification> {
    inputs.analysis.identifications.get(i)
}

fn push(d: &mut Diagnosis, f: Finding) {
    d.findings.push(f);
}

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    turn(inputs, d);
    partner_srv(inputs, d);
}

/// The addresses handed out in a flow's Allocate responses.
pub(super) fn relay_addresses(inputs: &Inputs<'_>, flow: usize) -> Vec<SocketAddr> {
    id_of(inputs, flow)
        .and_then(|id| id.evidence.stun.as_ref())
        .map(|s| {
            s.xor_relayed
                .iter()
                .filter_map(|a| a.parse::<SocketAddr>().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn turn(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let av_public: Vec<IpAddr> = t
        .edges
        .iter()
        .map(|e| e.av.public.unwrap_or(e.av.ip))
        .chain(
            t.roles
                .iter()
                .filter(|(_, r)| r.contains(&Role::EdgeAvVip))
                .map(|(ip, _)| *ip),
        )
        .collect();
    let on_edge = |ip| {
        t.roles_of(ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeAv | Role::EdgeAvVip | Role::EdgeInternal))
    };
    let (mut rejected, mut bad_relay) = (Vec::new(), Vec::new());
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if !on_edge(f.responder.ip) {
            continue;
        }
        let Some(stun) = id_of(inputs, i).and_then(|id| id.evidence.stun.as_ref()) else {
            continue;
        };
        if let (Some(code), None) = (stun.error_code, stun.xor_relayed.as_ref()) {
            if stun.method.contains("Allocate") {
                rejected.push(evidence(
                    inputs,
                    i,
                    format!(
                        "Allocate answered with error {code} {} and never succeeded",
                        stun.error_reason.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
        for relay in relay_addresses(inputs, i) {
            if is_private(relay.ip()) {
                bad_relay.push(evidence(
                    inputs,
                    i,
                    format!("relay address {relay} handed out is private"),
                ));
            } else if !av_public.contains(&relay.ip()) {
                bad_relay.push(evidence(
                    inputs,
                    i,
                    format!(
                        "relay address {relay} handed out is not the A/V Edge's public address ({})",
                        av_public.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    if !rejected.is_empty() {
        push(d, Finding {
            id: "A8",
            severity: Severity::Error,
            confidence: Confidence::Medium,
            title: "TURN allocations on the A/V Edge are rejected".into(),
            explanation: "Clients asked the A/V Edge for a relay and got an error instead of an allocation (an \
                          authentication challenge that never succeeded, or a refusal). Usually the client's TURN \
                          credentials from the A/V authentication service (MRAS, 5062 from the pool) are stale or the \
                          clocks differ."
                .into(),
            fix: "Check the A/V Authentication service on the Edge and 5062 from the pool, the time sync of the Edge and \
                  the clients, and the A/V Edge configuration."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (A/V authentication 5062)",
            evidence: rejected,
        });
    }
    if !bad_relay.is_empty() {
        push(d, Finding {
            id: "N1",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "The A/V Edge hands out a relay address that remote endpoints cannot reach".into(),
            explanation: "The relay address in the Allocate response is private, or is not the A/V Edge's public address: \
                          when the A/V Edge is behind NAT, Topology Builder must say so and name the public address, or \
                          remote media cannot reach the relay."
                .into(),
            fix: "In Topology Builder, set 'The external IP address of this Edge pool is translated by NAT' and enter the \
                  A/V Edge's public address; publish the topology and restart the Edge."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Edge Server environmental requirements (NAT; A/V Edge public address)",
            evidence: bad_relay,
        });
    }
}

fn partner_srv(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let mut missing = Vec::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if f.responder.port != 53 || !inputs.topology.is_edge(f.initiator.ip) {
            continue;
        }
        let Some(dns) = id_of(inputs, i).and_then(|id| id.evidence.dns.as_ref()) else {
            continue;
        };
        let Some(q) = dns.queries.iter().find(|q| {
            q.to_ascii_lowercase()
                .starts_with("_sipfederationtls._tcp.")
        }) else {
            continue;
        };
        if dns.responses == 0 {
            continue; // unanswered: D2's case
        }
        if super::dns::truncated_answer(f) {
            continue; // the lookup goes on over TCP (D3 when that fails)
        }
        let nx = dns
            .rcode
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("NXDOMAIN"));
        if nx || dns.srv.is_empty() {
            missing.push(evidence(
                inputs,
                i,
                format!(
                    "{q}: {}",
                    if nx {
                        "NXDOMAIN".to_string()
                    } else {
                        "answered without an SRV record".to_string()
                    }
                ),
            ));
        }
    }
    if !missing.is_empty() {
        push(d, Finding {
            id: "D1",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "A federation partner publishes no _sipfederationtls._tcp SRV record".into(),
            explanation: "The Edge looked up a partner's federation SRV record and got none, so open federation cannot \
                          find the partner's Access Edge (ms-diagnostics 1008, unable to resolve DNS SRV record)."
                .into(),
            fix: "The partner must publish _sipfederationtls._tcp.<domain> (port 5061, target its Access Edge FQDN), or \
                  add the partner to the allowed domains with its Edge FQDN."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS requirements (_sipfederationtls._tcp)",
            evidence: missing,
        });
    }
}
