//! The DNS checks of the rulebook beyond D1 and D2, from what the Edge's own lookups show: an
//! answer too large for UDP that cannot be fetched over TCP (D3), a partner's federation SRV
//! record pointing outside the partner's domain (D4) or at a name without an address (D5), and
//! the Edge resolving through its internal interface (D6).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::checks::{confidence_for, tcp_failure};
use super::{evidence, Confidence, Diagnosis, Evidence, Finding, Inputs, Severity};
use crate::flow::Flow;
use crate::identify::{DnsInfo, Protocol};
use crate::matrix::Role;

/// The DNS header's TC bit (RFC 1035 §4.1.1), in the high byte of the flags.
const TC: u8 = 0x02;
/// Offset of the flags' high byte.
const FLAGS_HI: usize = 2;
/// Evidence flows kept per finding; the explanation counts them all.
const EVIDENCE_KEPT: usize = 20;
const FEDERATION_SRV: &str = "_sipfederationtls._tcp.";

fn dns_of<'a>(inputs: &'a Inputs<'_>, i: usize) -> Option<&'a DnsInfo> {
    let id = inputs.analysis.identifications.get(i)?;
    (id.protocol == Protocol::Dns)
        .then_some(id.evidence.dns.as_deref())
        .flatten()
}

/// Whether the first answer of a UDP DNS flow was truncated (TC): the lookup goes on over TCP.
pub(super) fn truncated_answer(f: &Flow) -> bool {
    f.protocol == 17 && f.head.resp().get(FLAGS_HI).is_some_and(|b| b & TC != 0)
}

/// The Edge's answered UDP DNS flows, by (Edge address, resolver), in time order, each with
/// whether its first answer was truncated: built once, so that each TCP flow is one lookup.
pub(super) struct UdpAnswers(HashMap<(IpAddr, IpAddr), Vec<Answered>>);

/// An answered UDP flow: its start, its index, whether its first answer was truncated.
type Answered = (i64, usize, bool);

impl UdpAnswers {
    pub(super) fn new(inputs: &Inputs<'_>) -> UdpAnswers {
        let mut map: HashMap<(IpAddr, IpAddr), Vec<Answered>> = HashMap::new();
        for (j, g) in inputs.analysis.flows.iter().enumerate() {
            if g.protocol != 17
                || g.responder.port != 53
                || !inputs.topology.is_edge(g.initiator.ip)
                || !inputs.recorded(j)
                || !g.answered()
            {
                continue;
            }
            let tc = truncated_answer(g) && dns_of(inputs, j).is_some();
            map.entry((g.initiator.ip, g.responder.ip))
                .or_default()
                .push((g.first_ts_ns(), j, tc));
        }
        for v in map.values_mut() {
            v.sort_unstable();
        }
        UdpAnswers(map)
    }

    /// An answered UDP flow from `src` to `dst` that started by `before`: the latest truncated
    /// one (the one a TCP retry follows), else the latest.
    fn before(&self, src: IpAddr, dst: IpAddr, before: i64) -> Option<(usize, bool)> {
        let v = self.0.get(&(src, dst))?;
        let earlier = &v[..v.partition_point(|(t, _, _)| *t <= before)];
        earlier
            .iter()
            .rev()
            .find(|(_, _, tc)| *tc)
            .or(earlier.last())
            .map(|(_, j, tc)| (*j, *tc))
    }

    /// D3's TCP flows: DNS over TCP from the Edge that failed while the same resolver answered
    /// over UDP. D2 leaves them to D3.
    pub(super) fn tcp_after_udp(
        &self,
        inputs: &Inputs<'_>,
        i: usize,
        f: &Flow,
    ) -> Option<(usize, bool)> {
        if f.protocol != 6 || f.responder.port != 53 || !inputs.topology.is_edge(f.initiator.ip) {
            return None;
        }
        tcp_failure(inputs, i, f)?;
        self.before(f.initiator.ip, f.responder.ip, f.first_ts_ns())
    }
}

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    truncated(inputs, d);
    federation_srv(inputs, d);
    internal_resolver(inputs, d);
    own_records(inputs, d);
}

/// What our published records must say, from the topology: per SRV name the port and the
/// targets (the Access Edge FQDNs), per Edge FQDN the addresses the Internet may reach it at.
struct OwnRecords {
    /// `_sipfederationtls._tcp.<domain>` and `_sip._tls.<domain>`: (port, what it is).
    srv: HashMap<String, (u16, &'static str)>,
    /// The Access Edge FQDNs, lower case.
    access: Vec<String>,
    /// Edge FQDN -> its public addresses (the public address behind NAT, else the address;
    /// the VIPs of a load-balanced pool).
    hosts: HashMap<String, Vec<IpAddr>>,
}

impl OwnRecords {
    fn new(inputs: &Inputs<'_>) -> OwnRecords {
        use super::checks::service_port;
        use crate::matrix::ServicePort;
        let t = inputs.topology;
        let fed = service_port(inputs, ServicePort::AccessFederation).unwrap_or(5061);
        let sip = service_port(inputs, ServicePort::AccessSip).unwrap_or(443);
        let mut srv = HashMap::new();
        for dom in &t.sip_domains {
            let dom = dom.trim_end_matches('.').to_ascii_lowercase();
            srv.insert(format!("{FEDERATION_SRV}{dom}"), (fed, "federation"));
            srv.insert(format!("_sip._tls.{dom}"), (sip, "remote sign-in"));
        }
        let mut hosts: HashMap<String, Vec<IpAddr>> = HashMap::new();
        let mut access = Vec::new();
        for (pick, vip) in [
            (
                (|e: &crate::topology::EdgeNode| &e.access) as fn(&_) -> &_,
                Role::EdgeAccessVip,
            ),
            (|e| &e.webconf, Role::EdgeWebconfVip),
            (|e| &e.av, Role::EdgeAvVip),
        ] {
            let vips: Vec<IpAddr> = t
                .roles
                .iter()
                .filter(|(_, r)| r.contains(&vip))
                .map(|(ip, _)| *ip)
                .collect();
            for e in &t.edges {
                let s = pick(e);
                let Some(name) = s.fqdn.as_deref() else {
                    continue;
                };
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if vip == Role::EdgeAccessVip && !access.contains(&name) {
                    access.push(name.clone());
                }
                let v = hosts.entry(name).or_default();
                for ip in std::iter::once(s.public.unwrap_or(s.ip)).chain(vips.iter().copied()) {
                    if !v.contains(&ip) {
                        v.push(ip);
                    }
                }
            }
        }
        OwnRecords { srv, access, hosts }
    }

    fn is_empty(&self) -> bool {
        self.srv.is_empty() && self.hosts.is_empty()
    }

    /// What is wrong with one answer for `name`, if it is one of ours: `Some(None)` when it is
    /// right, `Some(Some(words))` when wrong, `None` when the name is not ours.
    fn judge(&self, name: &str, dns: &DnsInfo) -> Option<Option<String>> {
        let nx = dns
            .rcode
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("NXDOMAIN"));
        if let Some((port, what)) = self.srv.get(name) {
            if nx || dns.srv.is_empty() {
                if !dns.query_types.iter().any(|t| t == "SRV") {
                    return None;
                }
                return Some(Some(format!(
                    "{name} ({what}): {}, so it points nowhere",
                    if nx {
                        "NXDOMAIN"
                    } else {
                        "no SRV record in the answer"
                    }
                )));
            }
            let mut wrong = Vec::new();
            for a in &dns.srv {
                let target = a.target.trim_end_matches('.').to_ascii_lowercase();
                if a.port != *port {
                    wrong.push(format!("port {} (expected {port})", a.port));
                }
                if !self.access.is_empty() && !self.access.contains(&target) {
                    wrong.push(format!(
                        "target {target} (the topology names the Access Edge {})",
                        self.access.join(", ")
                    ));
                }
            }
            return Some(
                (!wrong.is_empty())
                    .then(|| format!("{name} ({what}) answered {}", wrong.join(", "))),
            );
        }
        let expected = self.hosts.get(name)?;
        let asked_a = dns.query_types.iter().any(|t| t == "A");
        if nx || (asked_a && dns.addresses.is_empty()) {
            return Some(Some(format!(
                "{name}: {}",
                if nx {
                    "NXDOMAIN"
                } else {
                    "no address in the answer"
                }
            )));
        }
        // Only addresses of a family the topology gives can be judged.
        let judged: Vec<IpAddr> = dns
            .addresses
            .iter()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .filter(|a| expected.iter().any(|e| e.is_ipv4() == a.is_ipv4()))
            .collect();
        let wrong: Vec<String> = judged
            .iter()
            .filter(|a| !expected.contains(a))
            .map(IpAddr::to_string)
            .collect();
        let want: Vec<String> = expected.iter().map(IpAddr::to_string).collect();
        Some((!wrong.is_empty()).then(|| {
            format!(
                "{name} answered {} (the topology gives {})",
                wrong.join(", "),
                want.join(", ")
            )
        }))
    }
}

/// D7: the answers for our own published records (federation and sign-in SRV records, the
/// Edge services' A records), when the capture holds them, against the topology. Only answers
/// outside the internal side are read: internal (split-brain) DNS may rightly answer otherwise.
fn own_records(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let records = OwnRecords::new(inputs);
    if records.is_empty() {
        d.skipped.push(super::Skipped {
            id: "D7",
            title: "Our own DNS records point to the wrong place",
            needs: "[site] sip_domains, or the Edge services' fqdn".into(),
        });
        return;
    }
    let inside = |ip| t.is_internal_host(ip) || t.roles_of(ip).contains(&Role::EdgeInternal);
    let mut seen = 0usize;
    let mut names: Vec<String> = Vec::new();
    let mut ev = Vec::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if inside(f.initiator.ip) || inside(f.responder.ip) {
            continue;
        }
        let Some(dns) = dns_of(inputs, i) else {
            continue;
        };
        // One question per flow: the answers are that name's.
        if dns.responses == 0 || dns.queries.len() != 1 {
            continue;
        }
        let name = dns.queries[0].trim_end_matches('.').to_ascii_lowercase();
        let Some(verdict) = records.judge(&name, dns) else {
            continue;
        };
        seen += 1;
        if let Some(words) = verdict {
            if !names.contains(&name) {
                names.push(name);
            }
            ev.push(evidence(inputs, i, words));
        }
    }
    if seen == 0 {
        d.skipped.push(super::Skipped {
            id: "D7",
            title: "Our own DNS records point to the wrong place",
            needs: "DNS answers for our own records in the capture (_sipfederationtls._tcp and _sip._tls of the SIP \
                    domains, the Edge services' FQDNs), seen outside the internal side"
                .into(),
        });
        return;
    }
    if ev.is_empty() {
        return;
    }
    d.findings.push(finding(
        "D7",
        Severity::Error,
        Confidence::High,
        format!(
            "Our own DNS records point to the wrong place ({})",
            names.join(", ")
        ),
        "DNS answers for our own published records do not match the topology: a federation or sign-in SRV record \
         with another port or target than the Access Edge, or an Edge service's name resolving to an address that \
         is not its public address (or does not resolve). Partners and remote clients are sent where the Edge is \
         not: federation discovery, remote sign-in, conferencing or media fail for them. (If the topology is the \
         one out of date, correct it instead.)"
            .into(),
        "Correct the external DNS zone: _sipfederationtls._tcp.<domain> SRV port 5061 and _sip._tls.<domain> SRV \
         port 443, both to the Access Edge FQDN; the Access, Web Conferencing and A/V Edge A records to their public \
         addresses. Then resolve every external record from the Internet, as the Edge test checklist begins.",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS planning > DNS records for Single consolidated Edge Server scenarios; DNS record for federation (all scenarios)",
        ev,
    ));
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

/// D3: the resolver answers over UDP, and DNS over TCP to it fails.
fn truncated(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let answers = UdpAnswers::new(inputs);
    let mut ev = Vec::new();
    let mut any_tc = false;
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let Some((j, tc)) = answers.tcp_after_udp(inputs, i, f) else {
            continue;
        };
        any_tc |= tc;
        let how = tcp_failure(inputs, i, f)
            .map(|d| d.to_string())
            .unwrap_or_default();
        ev.push(evidence(
            inputs,
            j,
            if tc {
                format!(
                    "the answer over UDP from {} was truncated (TC)",
                    f.responder.ip
                )
            } else {
                format!("{} answered over UDP", f.responder.ip)
            },
        ));
        ev.push(evidence(
            inputs,
            i,
            format!("DNS over TCP to {}: {how}", f.responder.ip),
        ));
    }
    if ev.is_empty() {
        return;
    }
    let confidence = if any_tc {
        Confidence::High
    } else {
        confidence_for(&ev, inputs)
    };
    d.findings.push(finding(
        "D3",
        if any_tc {
            Severity::Error
        } else {
            Severity::Warning
        },
        confidence,
        "DNS over TCP from the Edge fails while UDP is answered".into(),
        format!(
            "The Edge's resolver answers over UDP, but DNS over TCP (port 53) to it fails. {}",
            if any_tc {
                "The UDP answer was truncated (TC bit), so the Edge needed TCP to read it whole: large answers (many SRV \
                 or A records, DNSSEC) cannot be resolved, and federation discovery or revocation downloads fail for \
                 those names."
            } else {
                "No truncated answer was seen, so the lookups may still work over UDP; any answer too large for UDP will \
                 fail."
            }
        ),
        "Allow TCP 53 outbound from the Access Edge as well as UDP 53 (the documents list both: DNS query over TCP).",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/DNS TCP 53)",
        ev,
    ));
}

/// The domain of a federation SRV query (`_sipfederationtls._tcp.<domain>`), lower case.
fn srv_domain(q: &str) -> Option<String> {
    let q = q.trim_end_matches('.').to_ascii_lowercase();
    q.strip_prefix(FEDERATION_SRV)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

fn in_domain(name: &str, domain: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n == domain || n.ends_with(&format!(".{domain}"))
}

/// D4 and D5: what the partners' federation SRV records point to.
fn federation_srv(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let flows = &inputs.analysis.flows;
    let edge = |ip| inputs.topology.is_edge(ip);
    // Every answered address lookup of the Edge, by name: (flow, NXDOMAIN or empty, addresses).
    let mut lookups: BTreeMap<String, Vec<(usize, bool, bool)>> = BTreeMap::new();
    // SRV answers: (flow, domain, target).
    let mut srv: Vec<(usize, String, String)> = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        if f.responder.port != 53 || !edge(f.initiator.ip) {
            continue;
        }
        let Some(dns) = dns_of(inputs, i) else {
            continue;
        };
        if dns.responses == 0 {
            continue;
        }
        let nx = dns
            .rcode
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("NXDOMAIN"));
        let type_a = dns.query_types.iter().any(|t| t == "A");
        for q in &dns.queries {
            if let Some(domain) = srv_domain(q) {
                for a in &dns.srv {
                    srv.push((i, domain.clone(), a.target.to_ascii_lowercase()));
                    // Addresses given with the SRV answer resolve its targets.
                    if !dns.addresses.is_empty() {
                        lookups
                            .entry(a.target.trim_end_matches('.').to_ascii_lowercase())
                            .or_default()
                            .push((i, false, true));
                    }
                }
            } else if dns.query_types.iter().any(|t| t == "A" || t == "AAAA") {
                lookups
                    .entry(q.trim_end_matches('.').to_ascii_lowercase())
                    .or_default()
                    .push((
                        i,
                        nx || (type_a && dns.addresses.is_empty()),
                        !dns.addresses.is_empty(),
                    ));
            }
        }
    }
    let (mut outside, mut unresolved) = (Vec::new(), Vec::new());
    let mut outside_names: Vec<String> = Vec::new();
    let mut unresolved_names: Vec<String> = Vec::new();
    for (i, domain, target) in &srv {
        let target = target.trim_end_matches('.');
        if !in_domain(target, domain) {
            outside.push(evidence(
                inputs,
                *i,
                format!("_sipfederationtls._tcp.{domain} points to {target}, outside {domain}"),
            ));
            let w = format!("{domain} -> {target}");
            if !outside_names.contains(&w) {
                outside_names.push(w);
            }
        }
        let Some(tries) = lookups.get(target) else {
            continue;
        };
        if tries.iter().any(|(_, _, resolved)| *resolved) {
            continue;
        }
        let Some((j, _, _)) = tries.iter().find(|(_, failed, _)| *failed) else {
            continue;
        };
        unresolved.push(evidence(
            inputs,
            *i,
            format!("_sipfederationtls._tcp.{domain} points to {target}"),
        ));
        let how = dns_of(inputs, *j)
            .and_then(|x| x.rcode.clone())
            .filter(|r| r != "NOERROR")
            .unwrap_or_else(|| "no address in the answer".into());
        unresolved.push(evidence(
            inputs,
            *j,
            format!("the lookup of {target}: {how}"),
        ));
        if !unresolved_names.contains(&target.to_string()) {
            unresolved_names.push(target.to_string());
        }
    }
    if !outside.is_empty() {
        d.findings.push(finding(
            "D4",
            Severity::Warning,
            Confidence::Medium,
            format!(
                "A partner's federation SRV record points outside its domain ({})",
                outside_names.join(", ")
            ),
            "The partner's _sipfederationtls._tcp record names an Access Edge in another DNS domain. Federation by DNS \
             discovery expects the SRV target in the SIP domain it serves: otherwise the Edge refuses the route \
             (ms-diagnostics 1009, conflicting SRV and host domains) unless the target's domain is a hosting provider \
             configured on our Edge (Skype for Business Online's sipfed.online.lync.com is one, with its hosting \
             provider entry)."
                .into(),
            "If the partner is not at a configured hosting provider, ask them to publish an SRV target in their own \
             domain (sip.<their domain>), or add the partner to the allowed domains with its Access Edge FQDN.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS planning > DNS record for federation (all scenarios); Microsoft, \"Advanced Edge Server DNS planning for Skype for Business Server\"",
            outside,
        ));
    }
    if !unresolved.is_empty() {
        d.findings.push(finding(
            "D5",
            Severity::Error,
            Confidence::High,
            format!(
                "A partner's federation SRV target has no address ({})",
                unresolved_names.join(", ")
            ),
            "The Edge found the partner's _sipfederationtls._tcp record, but the name it points to does not resolve: \
             NXDOMAIN, or an answer without an address. The Edge cannot open the federation connection \
             (ms-diagnostics 1014, unable to resolve DNS A record)."
                .into(),
            "Ask the partner to publish the A record of their Access Edge FQDN (the SRV target) in public DNS, or to \
             correct the SRV target.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS planning > DNS record for federation (all scenarios)",
            unresolved,
        ));
    }
}

/// D6: the Edge internal interface queries a DNS server on the internal side.
fn internal_resolver(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    if !t.declares_internal_side() {
        d.skipped.push(super::Skipped {
            id: "D6",
            title: "Edge uses internal DNS over its internal interface",
            needs: "the internal side in [internal]: servers, server_subnets or client_subnets"
                .into(),
        });
        return;
    }
    // In order of first use; the set keeps the membership test constant-time.
    let mut servers: Vec<IpAddr> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let ev: Vec<Evidence> = inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.responder.port == 53
                && t.roles_of(f.initiator.ip).contains(&Role::EdgeInternal)
                && !t.is_edge(f.responder.ip)
                // Only the declared internal side: a private address outside it may be a
                // perimeter DNS server, which is what the documents recommend.
                && t.is_internal_host(f.responder.ip)
        })
        .map(|(i, f)| {
            if seen.insert(f.responder.ip) {
                servers.push(f.responder.ip);
            }
            evidence(
                inputs,
                i,
                format!(
                    "DNS from the Edge internal interface {} to {}",
                    f.initiator.ip, f.responder.ip
                ),
            )
        })
        .collect();
    if ev.is_empty() {
        return;
    }
    let list: Vec<String> = servers.iter().map(IpAddr::to_string).collect();
    d.findings.push(finding(
        "D6",
        Severity::Info,
        Confidence::High,
        format!(
            "The Edge resolves names through its internal interface ({})",
            list.join(", ")
        ),
        "The Edge internal interface sends DNS queries to a server on the internal side. Microsoft recommends, for \
         security, that Edge Servers do not use a DNS server in the internal network: perimeter DNS servers (with \
         the next hop's A records) or a HOSTS file for the pool, and external DNS for the Internet. It works, but it \
         opens the internal DNS to the perimeter network."
            .into(),
        "Point the Edge's DNS settings at perimeter DNS servers (or use a HOSTS file for the next-hop pool and its \
         members), and remove internal DNS servers from the internal adapter.",
        "Microsoft, Lync Server 2010, \"Configure interfaces with DNS servers in the perimeter network\" (security note: Edge Servers should not access a DNS server in the internal network)",
        ev,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_domains_and_targets() {
        assert_eq!(
            srv_domain("_sipfederationtls._tcp.Fabrikam.com."),
            Some("fabrikam.com".into())
        );
        assert_eq!(srv_domain("_sip._tls.fabrikam.com"), None);
        assert!(in_domain("sip.fabrikam.com.", "fabrikam.com"));
        assert!(in_domain("fabrikam.com", "fabrikam.com"));
        assert!(!in_domain("sip.notfabrikam.com", "fabrikam.com"));
        assert!(!in_domain("sipfed.online.lync.com", "fabrikam.com"));
    }
}
