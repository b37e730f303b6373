//! Checks that need what the payload showed: TLS alerts and certificates on federation,
//! TURN allocation errors and relay addresses, partner SRV lookups.

use std::net::{IpAddr, SocketAddr};

use super::{evidence, is_private, Confidence, Diagnosis, Finding, Inputs, Severity};
use crate::identify::{Identification, TlsOutcome};
use crate::matrix::Role;

fn id_of<'a>(inputs: &'a Inputs<'_>, i: usize) -> Option<&'a Identification> {
    inputs.analysis.identifications.get(i)
}

/// Seconds since the epoch of an RFC 3339 UTC time as the identification writes it
/// (`2028-01-01T00:00:00Z`), without a date library.
fn epoch_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn push(d: &mut Diagnosis, f: Finding) {
    d.findings.push(f);
}

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    federation_tls(inputs, d);
    turn(inputs, d);
    partner_srv(inputs, d);
}

fn federation_tls(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let access = |ip| {
        t.roles_of(ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeAccessVip))
    };
    let (mut we_rejected, mut they_rejected, mut no_client_cert, mut names, mut expired) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if f.protocol != 6 || f.responder.port != 5061 {
            continue;
        }
        let outbound = access(f.initiator.ip);
        if !(outbound || access(f.responder.ip)) {
            continue;
        }
        let Some(tls) = id_of(inputs, i).and_then(|id| id.evidence.tls.as_ref()) else {
            continue;
        };
        // Alerts: who sent the fatal one decides who rejected whom.
        if let Some(a) = tls.alerts.iter().find(|a| a.level == "fatal") {
            let name = a.name.unwrap_or("unknown alert");
            let ours = (a.from == "server") != outbound;
            let detail = format!("fatal TLS alert {name} sent by the {}", a.from);
            if ours {
                we_rejected.push(evidence(inputs, i, detail));
            } else {
                they_rejected.push(evidence(inputs, i, detail));
            }
        } else if tls.outcome == TlsOutcome::Reset && !tls.certificates.is_empty() {
            let detail =
                "reset during the TLS handshake, after the server's certificate".to_string();
            if outbound {
                they_rejected.push(evidence(inputs, i, detail));
            } else {
                we_rejected.push(evidence(inputs, i, detail));
            }
        }
        if tls.client_certificate_requested
            && !tls.client_certificate_sent
            && tls.outcome != TlsOutcome::Completed
        {
            no_client_cert.push(evidence(
                inputs,
                i,
                "the server asked for a client certificate (mutual TLS) and none was sent".into(),
            ));
        }
        // Names: the certificate the server presented must carry the name the client asked for.
        if let (Some(sni), Some(leaf)) = (tls.sni.as_ref(), tls.certificates.first()) {
            let sni = sni.to_ascii_lowercase();
            let covered = leaf.san_dns.iter().chain(leaf.subject_cn.iter()).any(|n| {
                let n = n.to_ascii_lowercase();
                n == sni
                    || n.strip_prefix("*.")
                        .is_some_and(|w| sni.split_once('.').is_some_and(|(_, rest)| rest == w))
            });
            if !covered {
                names.push(evidence(
                    inputs,
                    i,
                    format!(
                        "the client asked for {sni}; the server's certificate names {}",
                        leaf.san_dns
                            .iter()
                            .chain(leaf.subject_cn.iter())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let at = f.first_ts_ns().div_euclid(1_000_000_000);
        for c in tls.certificates.iter().chain(&tls.client_certificates) {
            if let Some(end) = c.not_after.as_deref().and_then(epoch_seconds) {
                if end < at {
                    expired.push(evidence(
                        inputs,
                        i,
                        format!(
                            "certificate {} expired {}",
                            c.subject_cn.as_deref().unwrap_or("(no CN)"),
                            c.not_after.as_deref().unwrap_or("")
                        ),
                    ));
                }
            }
        }
    }
    if !they_rejected.is_empty() {
        push(d, Finding {
            id: "F4",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "The federation partner rejected our TLS handshake on 5061".into(),
            explanation: "The partner's Edge ended the mutual TLS handshake with our Access Edge (alert or reset after \
                          the certificates): it does not trust our certificate (issuer not in its trusted roots, missing \
                          intermediate, name not the one it expects) or refuses our domain."
                .into(),
            fix: "Check that our Access Edge certificate is issued by a public CA the partner trusts, with the full chain \
                  installed and sip.<our domain> as subject/SAN; ask the partner which alert they log."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning (external Access Edge certificate)",
            evidence: they_rejected,
        });
    }
    if !we_rejected.is_empty() {
        push(d, Finding {
            id: "F5",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "Our Access Edge rejected a federation partner's TLS handshake".into(),
            explanation: "Our side ended the mutual TLS handshake with a partner: our Edge does not trust the partner's \
                          certificate chain, or the certificate's names do not match what federation expects."
                .into(),
            fix: "Import the partner's root and intermediate CAs into the Edge's trusted stores if they are private, \
                  and check the partner's certificate names against its SRV target."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning",
            evidence: we_rejected,
        });
    }
    if !no_client_cert.is_empty() {
        push(d, Finding {
            id: "F6",
            severity: Severity::Error,
            confidence: Confidence::Medium,
            title: "Mutual TLS on 5061 without a client certificate".into(),
            explanation: "The server requested a client certificate, as federation and Edge-to-pool traffic on 5061 \
                          require (MTLS), and the client sent none, so the handshake could not complete."
                .into(),
            fix: "Make sure the connecting server has a certificate with client authentication use bound to the Edge or \
                  pool service; if the CertificateRequest's CA list is large, check it is not truncated."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (SIP/MTLS 5061)",
            evidence: no_client_cert,
        });
    }
    if !names.is_empty() {
        push(d, Finding {
            id: "F7",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "A certificate on 5061 does not carry the name the client asked for".into(),
            explanation: "The server's certificate does not name the host the client connected to (SNI). Federation \
                          checks the certificate against the SRV target, so the connection is refused or falls back."
                .into(),
            fix: "Reissue the certificate with the Access Edge's external FQDN (the SRV target) as subject or SAN, or \
                  correct the SRV record."
                .into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning (Access Edge SAN)",
            evidence: names,
        });
    }
    if !expired.is_empty() {
        push(d, Finding {
            id: "F8",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: "An expired certificate was presented on 5061".into(),
            explanation: "A certificate in the chain had expired when the capture was taken; the other side refuses it."
                .into(),
            fix: "Renew the certificate and assign it to the Edge (Set-CsCertificate), then restart the Edge services.".into(),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning",
            evidence: expired,
        });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_to_epoch() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-11-02T09:00:00Z"), Some(1_793_610_000));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("garbage"), None);
    }
}
