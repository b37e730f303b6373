//! M1: one Edge service's traffic arriving at another service's address. Behind a shared 443
//! the payload tells the services apart: a TLS name (SNI) the topology gives to the Access,
//! Web Conferencing or A/V Edge, MS-TURN and STUN for the A/V Edge, SIP for the Access Edge.
//! When that service is not the one at the address the client reached, the client was sent
//! there by a DNS record or a NAT/port-forward rule, and one finding per cause says which
//! address the documents expect instead.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{evidence, Confidence, Diagnosis, Evidence, Finding, Inputs, Severity};
use crate::identify::{Confidence as IdConfidence, Protocol};
use crate::matrix::Role;
use crate::topology::{ServiceAddr, Topology};

/// Evidence flows kept per finding; the explanation counts them all.
const EVIDENCE_KEPT: usize = 10;

/// An external Edge service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    Access,
    Webconf,
    Av,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Access => "Access Edge",
            Service::Webconf => "Web Conferencing Edge",
            Service::Av => "A/V Edge",
        }
    }

    fn roles(self) -> [Role; 2] {
        match self {
            Service::Access => [Role::EdgeAccess, Role::EdgeAccessVip],
            Service::Webconf => [Role::EdgeWebconf, Role::EdgeWebconfVip],
            Service::Av => [Role::EdgeAv, Role::EdgeAvVip],
        }
    }

    fn of(self, node: &crate::topology::EdgeNode) -> &ServiceAddr {
        match self {
            Service::Access => &node.access,
            Service::Webconf => &node.webconf,
            Service::Av => &node.av,
        }
    }

    /// The service an address plays, when it plays exactly one external service.
    fn at(t: &Topology, ip: IpAddr) -> Vec<Service> {
        let roles = t.roles_of(ip);
        [Service::Access, Service::Webconf, Service::Av]
            .into_iter()
            .filter(|s| s.roles().iter().any(|r| roles.contains(r)))
            .collect()
    }
}

/// What the payload says the client wanted, and how it says so.
fn intended(t: &Topology, id: &crate::identify::Identification) -> Option<(Service, String)> {
    if id.confidence != IdConfidence::Certain {
        return None;
    }
    match id.protocol {
        Protocol::PseudoTls | Protocol::MsTurn | Protocol::Turn => Some((
            Service::Av,
            "MS-TURN, which only the A/V Edge answers".into(),
        )),
        Protocol::Sip => Some((
            Service::Access,
            "SIP, which only the Access Edge answers".into(),
        )),
        Protocol::Tls => {
            let sni = id.evidence.tls.as_ref()?.sni.as_deref()?;
            t.edges.iter().find_map(|node| {
                [Service::Access, Service::Webconf, Service::Av]
                    .into_iter()
                    .find(|s| {
                        s.of(node)
                            .fqdn
                            .as_deref()
                            .is_some_and(|f| f.eq_ignore_ascii_case(sni))
                    })
                    .map(|s| (s, format!("TLS for {sni}, the {}'s name", s.name())))
            })
        }
        _ => None,
    }
}

/// The addresses the documents expect for a service, as the topology gives them.
fn expected(t: &Topology, s: Service) -> String {
    let mut out: Vec<String> = Vec::new();
    for node in &t.edges {
        let a = s.of(node);
        match a.public.filter(|p| *p != a.ip) {
            Some(p) => out.push(format!("{p} (public; {} behind NAT)", a.ip)),
            None => out.push(a.ip.to_string()),
        }
    }
    out.dedup();
    out.join(", ")
}

/// The flows of one cause: how the payload said what it wanted, the evidence kept, and the count.
type Cause = (String, Vec<Evidence>, u64);

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    // (address reached, port, service wanted) -> its flows
    let mut causes: BTreeMap<(IpAddr, u16, Service), Cause> = BTreeMap::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let at = Service::at(t, f.responder.ip);
        if at.is_empty() {
            continue;
        }
        let Some(id) = inputs.analysis.identifications.get(i) else {
            continue;
        };
        let Some((wanted, how)) = intended(t, id) else {
            continue;
        };
        if at.contains(&wanted) {
            continue;
        }
        let e = causes
            .entry((f.responder.ip, f.responder.port, wanted))
            .or_insert_with(|| (how.clone(), Vec::new(), 0));
        e.2 += 1;
        if e.1.len() < EVIDENCE_KEPT {
            e.1.push(evidence(inputs, i, how));
        }
    }
    for ((ip, port, wanted), (how, ev, n)) in causes {
        let there: Vec<&str> = Service::at(t, ip).iter().map(|s| s.name()).collect();
        let there = there.join(" and ");
        let clients = {
            let mut c: Vec<IpAddr> = ev
                .iter()
                .map(|e| inputs.analysis.flows[e.flow].initiator.ip)
                .collect();
            c.sort();
            c.dedup();
            c.len()
        };
        d.findings.push(Finding {
            id: "M1",
            severity: Severity::Error,
            confidence: Confidence::High,
            title: format!(
                "Traffic for the {} reaches the {there} at {ip}:{port}",
                wanted.name()
            ),
            explanation: format!(
                "{n} flow{} from {clients}{} client{} carried {how}, but {ip} is the {there}'s address, so the \
                 connection fails or is answered by the wrong service. The {} is at {}.",
                if n == 1 { "" } else { "s" },
                if (ev.len() as u64) < n { "+" } else { "" },
                if clients == 1 { "" } else { "s" },
                wanted.name(),
                expected(t, wanted)
            ),
            fix: format!(
                "Check the two usual causes: the DNS record clients resolve for the {} (its external name, and the \
                 SRV records that point to it) and the external firewall's NAT or port-forward rule for {ip}:{port}; \
                 one of them points at the {there} instead.",
                wanted.name()
            ),
            citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (one address and port per Edge service)",
            evidence: ev,
        });
    }
}
