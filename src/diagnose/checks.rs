//! The checks of the diagnostic rulebook that the flows, their verdicts and the topology decide.
//! Ids follow the rulebook (F federation, D DNS, CRL revocation, A audio/video, N NAT,
//! I internal services).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{
    evidence, is_private, Confidence, Detail, Diagnosis, Evidence, Finding, Inputs, Severity,
    Skipped,
};
use crate::flow::tcp::Handshake;
use crate::flow::Flow;
use crate::judge::Verdict;
use crate::matrix::{PortSpec, Role, ServicePort};

/// The port the site uses for a named service, as a single port when it is one.
pub(super) fn service_port(inputs: &Inputs<'_>, sp: ServicePort) -> Option<u16> {
    match inputs.topology.port(sp) {
        PortSpec::Single(p) => Some(p),
        _ => None,
    }
}

pub(super) fn has_role(inputs: &Inputs<'_>, ip: IpAddr, role: Role) -> bool {
    inputs.topology.roles_of(ip).contains(&role)
}

pub(super) fn is_internet(inputs: &Inputs<'_>, ip: IpAddr) -> bool {
    !inputs.topology.is_internal_host(ip) && !inputs.topology.is_edge(ip)
}

pub(super) fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// P1: how a TCP connection attempt failed, in words, if it failed. A flow whose outcome the
/// input did not record never failed.
pub(super) fn tcp_failure(inputs: &Inputs<'_>, i: usize, f: &Flow) -> Option<Detail> {
    if !inputs.recorded(i) {
        return None;
    }
    match f.handshake()? {
        Handshake::SynUnanswered {
            syn_retransmissions,
        } => Some(Detail::SynUnanswered {
            syns: u64::from(syn_retransmissions) + 1,
            span_ns: f.last_ts_ns() - f.first_ts_ns(),
        }),
        Handshake::RefusedByRst => Some("the SYN was answered by a reset".into()),
        Handshake::UnreachableByIcmp => {
            let what = f
                .icmp_notes
                .first()
                .map(|n| format!("ICMP type {} code {} from {}", n.icmp_type, n.code, n.from))
                .unwrap_or_else(|| "an ICMP error".into());
            Some(format!("the SYN was answered by {what}").into())
        }
        Handshake::Established | Handshake::NotSeen => None,
    }
}

/// P2: UDP the responder never answered, in words. A flow whose replies the input did not
/// record was not unanswered.
pub(super) fn unanswered_udp(inputs: &Inputs<'_>, i: usize, f: &Flow) -> Option<Detail> {
    (f.protocol == 17 && inputs.recorded(i) && !f.answered()).then(|| Detail::Unanswered {
        datagrams: f.orig.packets,
        span_ns: f.last_ts_ns() - f.first_ts_ns(),
    })
}

/// Flows matching `pred`, with the failure detail it returns.
pub(super) fn failing<D: Into<Detail>>(
    inputs: &Inputs<'_>,
    pred: impl Fn(usize, &Flow) -> Option<D>,
) -> Vec<Evidence> {
    inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter_map(|(i, f)| pred(i, f).map(|d| evidence(inputs, i, d)))
        .collect()
}

/// Groups evidence by the remote (non-Edge) address, one finding per group.
pub(super) fn by_remote(
    inputs: &Inputs<'_>,
    ev: Vec<Evidence>,
    edge_is_initiator: bool,
) -> BTreeMap<IpAddr, Vec<Evidence>> {
    let mut out: BTreeMap<IpAddr, Vec<Evidence>> = BTreeMap::new();
    for e in ev {
        let f = &inputs.analysis.flows[e.flow];
        let remote = if edge_is_initiator {
            f.responder.ip
        } else {
            f.initiator.ip
        };
        out.entry(remote).or_default().push(e);
    }
    out
}

pub(super) fn confidence_for(ev: &[Evidence], inputs: &Inputs<'_>) -> Confidence {
    let retried = ev.iter().any(|e| {
        matches!(
            inputs.analysis.flows[e.flow].handshake(),
            Some(Handshake::SynUnanswered { syn_retransmissions }) if syn_retransmissions > 0
        ) || inputs.analysis.flows[e.flow].orig.packets > 1
    });
    if retried {
        Confidence::High
    } else {
        Confidence::Medium
    }
}

pub(super) fn partner_name(inputs: &Inputs<'_>, ip: IpAddr) -> String {
    inputs
        .topology
        .partners
        .iter()
        .find(|p| p.access_edge.contains(&ip) || p.av_edge.contains(&ip))
        .map(|p| format!("{} ({ip})", p.domain))
        .unwrap_or_else(|| ip.to_string())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn push(
    d: &mut Diagnosis,
    id: &'static str,
    severity: Severity,
    confidence: Confidence,
    title: String,
    explanation: String,
    fix: &str,
    citation: &'static str,
    evidence: Vec<Evidence>,
) {
    d.findings.push(Finding {
        id,
        severity,
        confidence,
        title,
        explanation,
        fix: fix.to_string(),
        citation,
        evidence,
    });
}

/// The checks that need the site's topology, with their titles, for the skipped list.
const TOPOLOGY_CHECKS: &[(&str, &str)] = &[
    ("F1", "Outbound federation connection not answered"),
    ("F2", "Outbound federation connection refused"),
    ("F3", "Inbound federation blocked"),
    ("F4", "The partner rejected our TLS handshake"),
    ("F5", "We rejected the partner's TLS handshake"),
    ("F6", "Mutual TLS without a client certificate"),
    ("F7", "Certificate name does not match"),
    ("F8", "Expired certificate"),
    ("F9", "TLS version or cipher mismatch"),
    ("F10", "TLS stall on revocation"),
    ("TL1", "TLS version or cipher not agreed"),
    ("TL2", "TLS handshake rejected"),
    ("TL3", "Mutual TLS without a client certificate"),
    ("TL4", "Certificate name does not match the service"),
    ("TL5", "Expired or not yet valid certificate"),
    ("D1", "Partner SRV record missing"),
    ("A8", "TURN allocation rejected"),
    (
        "N1",
        "Relay address private or not the A/V Edge's public address",
    ),
    ("D2", "DNS queries from the Edge unanswered"),
    ("D3", "Truncated UDP answer and TCP 53 blocked"),
    ("D4", "SRV target outside the partner's domain"),
    ("D5", "SRV target without an address"),
    ("D6", "Edge uses internal DNS over its internal interface"),
    ("CRL1", "CRL/OCSP retrieval blocked"),
    ("A1", "External UDP 3478 to the A/V Edge blocked"),
    ("A2", "External TCP 443 to the A/V Edge blocked"),
    ("A3", "Outbound UDP 3478 from the A/V Edge blocked"),
    ("A4", "Outbound TCP 50000-59999 from the A/V Edge blocked"),
    ("A5", "Outbound UDP 50000-59999 from the A/V Edge blocked"),
    ("A6", "Inbound 50000-59999 to the A/V Edge blocked"),
    ("A7", "Media fell back to TCP"),
    ("A9", "ICE failure in a call: media legs never answered"),
    ("A10", "Partner A/V Edge silent on UDP 3478"),
    (
        "A11",
        "Internal clients cannot reach the Edge internal interface",
    ),
    ("A12", "Internal hosts use the Edge's external addresses"),
    (
        "N2",
        "Incoming source addresses rewritten on the external side",
    ),
    ("N3", "Non-symmetric NAT of the A/V Edge"),
    (
        "N8",
        "Pool members cannot reach each other's public A/V addresses",
    ),
    (
        "I1",
        "Clients connecting to the Edge internal interface on 5061",
    ),
    (
        "I2",
        "Central Management Store replication (4443) failing or absent",
    ),
    (
        "I3",
        "Centralized Logging Service (TCP 50001-50003) blocked",
    ),
    ("I4", "XMPP on a Skype for Business Server 2019 Edge"),
    ("I5", "Edge and next hop SIP/MTLS 5061 failing"),
    (
        "A13",
        "A/V authentication (5062) from the pool to the Edge failing",
    ),
    (
        "A14",
        "Web conferencing (PSOM 8057) from the pool to the Edge failing",
    ),
    (
        "A15",
        "Conferencing and mediation servers cannot reach the Edge internal 3478/443",
    ),
    (
        "F11",
        "Outbound federation from another external address than the Access Edge's",
    ),
    ("F12", "Federation retry loop"),
    ("F14", "Our certificate lacks the Client Authentication EKU"),
    ("N7", "NAT used together with a hardware load balancer"),
    ("D7", "Our own DNS records point to the wrong place"),
    (
        "M1",
        "Traffic for one Edge service reaches another service's address",
    ),
    (
        "N4",
        "The load balancer translates the sources of traffic to the Edge (SNAT)",
    ),
    (
        "N5",
        "Answers to requests sent to a load balancer VIP come from a node's own address",
    ),
    (
        "N6",
        "NAT between the internal subnets and the Edge internal interface",
    ),
    (
        "R1",
        "The Edge reaches the Internet through its internal interface",
    ),
    (
        "R2",
        "Traffic crosses the Edge on the wrong side (asymmetric routing)",
    ),
    ("R3", "Internal and external networks routed to each other"),
    ("R4", "Internal client subnets missing from the Edge routes"),
];

/// A group of checks: reads the inputs, adds to its own diagnosis.
pub(super) type Check = fn(&Inputs<'_>, &mut Diagnosis);

/// The groups of checks in the order their findings are listed; each reads only the inputs,
/// so they can run at once. Without the site's topology, one that lists the checks skipped.
pub(super) fn groups(inputs: &Inputs<'_>) -> Vec<Check> {
    if inputs.topology_assumed {
        return vec![skip_all];
    }
    vec![
        federation,
        super::payload::run,
        super::tls::run,
        super::dns::run,
        super::paths::run,
        dns_and_crl,
        media,
        internal,
        nat,
        super::services::run,
        super::misdirected::run,
    ]
}

fn skip_all(_: &Inputs<'_>, d: &mut Diagnosis) {
    for (id, title) in TOPOLOGY_CHECKS {
        d.skipped.push(Skipped {
            id,
            title,
            needs: "your site's topology (--topology FILE): which addresses are the Edge's".into(),
        });
    }
}

fn federation(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let fed = service_port(inputs, ServicePort::AccessFederation).unwrap_or(5061);
    let access =
        |ip| has_role(inputs, ip, Role::EdgeAccess) || has_role(inputs, ip, Role::EdgeAccessVip);
    let out = failing(inputs, |i, f| {
        (f.protocol == 6
            && access(f.initiator.ip)
            && f.responder.port == 5061
            && is_internet(inputs, f.responder.ip))
        .then(|| tcp_failure(inputs, i, f))
        .flatten()
    });
    let (unanswered, refused): (Vec<Evidence>, Vec<Evidence>) = out.into_iter().partition(|e| {
        matches!(
            inputs.analysis.flows[e.flow].handshake(),
            Some(Handshake::SynUnanswered { .. })
        )
    });
    for (remote, ev) in by_remote(inputs, unanswered, true) {
        let who = partner_name(inputs, remote);
        push(
            d,
            "F1",
            Severity::Error,
            confidence_for(&ev, inputs),
            format!("Cannot reach federated partner {who} on TCP 5061"),
            format!(
                "Our Access Edge tried to open the federation connection to {remote}:5061 and never got an answer \
                 ({} attempt{}). Either our external firewall blocks outbound TCP 5061 from the Access Edge, or the \
                 partner's firewall or Edge does not accept it, or DNS points to a wrong or dead address. The documents \
                 require TCP 5061 outbound from the Access Edge to any address.",
                ev.len(),
                if ev.len() == 1 { "" } else { "s" }
            ),
            "Check our external firewall's log for outbound TCP 5061 from the Access Edge first; if the packets leave \
             our firewall, ask the partner to check theirs, and verify their _sipfederationtls._tcp SRV target. \
             Test-CsFederatedPartner reproduces the test from the Edge.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/SIP(MTLS) 5061 outbound)",
            ev,
        );
    }
    for (remote, ev) in by_remote(inputs, refused, true) {
        let who = partner_name(inputs, remote);
        push(
            d,
            "F2",
            Severity::Error,
            Confidence::High,
            format!("Federated partner {who} refused TCP 5061"),
            format!(
                "The partner address {remote} actively refused TCP 5061 (reset or ICMP unreachable). Either the partner's \
                 Edge is not listening on 5061 (federation not enabled, service stopped) or a firewall sends resets."
            ),
            "Verify the partner's SRV target and port; if the reset comes from a firewall (ours or theirs), open TCP 5061 \
             there.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/SIP(MTLS) 5061)",
            ev,
        );
    }
    let inbound = failing(inputs, |i, f| {
        (f.protocol == 6
            && access(f.responder.ip)
            && f.responder.port == fed
            && is_internet(inputs, f.initiator.ip))
        .then(|| tcp_failure(inputs, i, f))
        .flatten()
    });
    if !inbound.is_empty() {
        let sources: Vec<String> = by_remote(inputs, inbound.clone(), false)
            .keys()
            .map(|ip| partner_name(inputs, *ip))
            .collect();
        push(
            d,
            "F3",
            Severity::Error,
            confidence_for(&inbound, inputs),
            format!("Inbound federation to the Access Edge on TCP {fed} fails"),
            format!(
                "Partners ({}) could not open connections to our Access Edge on TCP {fed}, so federation works at \
                 best in one direction: we may reach them, they see presence unknown and time-outs towards us.",
                sources.join(", ")
            ),
            "Open TCP 5061 inbound to the Access Edge (its public address when NATed) on the external firewall, and \
             check that the Access Edge service listens on it.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/SIP(MTLS) 5061 inbound)",
            inbound,
        );
    }
}

fn dns_and_crl(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let edge = |ip| inputs.topology.is_edge(ip);
    let answers = super::dns::UdpAnswers::new(inputs);
    let dns = failing(inputs, |i, f| {
        if !(edge(f.initiator.ip) && f.responder.port == 53) {
            return None;
        }
        // TCP failing while the resolver answers over UDP is D3's.
        unanswered_udp(inputs, i, f).or_else(|| {
            (f.protocol == 6 && answers.tcp_after_udp(inputs, i, f).is_none())
                .then(|| tcp_failure(inputs, i, f))
                .flatten()
        })
    });
    if !dns.is_empty() {
        push(
            d,
            "D2",
            Severity::Error,
            confidence_for(&dns, inputs),
            "DNS queries from the Edge go unanswered".into(),
            "The Edge sent DNS queries that were never answered, so federation partner discovery (SRV lookups) and \
             certificate revocation downloads fail."
                .into(),
            "Allow UDP and TCP 53 outbound from the Access Edge to its DNS servers (perimeter or external DNS).",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/DNS 53)",
            dns,
        );
    }
    let crl = failing(inputs, |i, f| {
        (f.protocol == 6
            && has_role(inputs, f.initiator.ip, Role::EdgeAccess)
            && f.responder.port == 80
            && is_internet(inputs, f.responder.ip))
        .then(|| tcp_failure(inputs, i, f))
        .flatten()
    });
    if !crl.is_empty() {
        push(
            d,
            "CRL1",
            Severity::Warning,
            confidence_for(&crl, inputs),
            "Certificate revocation (CRL/OCSP) downloads from the Access Edge are blocked".into(),
            "The Access Edge could not fetch certificate revocation data over HTTP. Blocking it can delay or break TLS \
             with partners and clients while revocation checks time out."
                .into(),
            "Allow TCP 80 outbound from the Access Edge to any address (certificate revocation and CRL retrieval).",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/HTTP 80)",
            crl,
        );
    }
}

fn media(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let av = |ip| has_role(inputs, ip, Role::EdgeAv) || has_role(inputs, ip, Role::EdgeAvVip);
    let turn_udp = service_port(inputs, ServicePort::AvTurnUdp).unwrap_or(3478);
    let turn_tcp = service_port(inputs, ServicePort::AvTurnTcp).unwrap_or(443);
    let media_range = |p: u16| (50_000..=59_999).contains(&p);
    let flows = &inputs.analysis.flows;

    let a1 = failing(inputs, |i, f| {
        (av(f.responder.ip) && f.responder.port == turn_udp && is_internet(inputs, f.initiator.ip))
            .then(|| unanswered_udp(inputs, i, f))
            .flatten()
    });
    // A7: the same remote got through on TCP 443 to the A/V Edge.
    // A set: a busy Edge has hundreds of thousands of both, and a list made this quadratic.
    let tcp_ok: std::collections::HashSet<IpAddr> = flows
        .iter()
        .filter(|f| {
            av(f.responder.ip)
                && f.responder.port == turn_tcp
                && f.handshake() == Some(Handshake::Established)
        })
        .map(|f| f.initiator.ip)
        .collect();
    let (fell_back, blocked): (Vec<Evidence>, Vec<Evidence>) = a1
        .into_iter()
        .partition(|e| tcp_ok.contains(&flows[e.flow].initiator.ip));
    if !blocked.is_empty() {
        push(
            d,
            "A1",
            Severity::Error,
            confidence_for(&blocked, inputs),
            format!("Remote endpoints get no answer from the A/V Edge on UDP {turn_udp}"),
            "STUN/MS-TURN requests from the Internet to the A/V Edge's UDP port went unanswered: remote and federated \
             endpoints cannot negotiate media over UDP, and calls fall back to TCP 443 or fail."
                .into(),
            "Allow UDP 3478 inbound to the A/V Edge (its public address when NATed) on the external firewall, and check \
             that the A/V Edge service is running.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/STUN.MSTURN UDP 3478)",
            blocked,
        );
    }
    if !fell_back.is_empty() {
        push(
            d,
            "A7",
            Severity::Warning,
            Confidence::Medium,
            "Media fell back to TCP 443: UDP to the A/V Edge fails for endpoints that reach it over TCP".into(),
            "The same remote endpoints that completed TCP 443 to the A/V Edge got no answer on UDP 3478. Audio and \
             video then run over TCP, with worse quality under loss."
                .into(),
            "Open UDP 3478 inbound to the A/V Edge; UDP is the preferred media transport.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (UDP preferred for A/V; TCP is the fallback)",
            fell_back,
        );
    }
    let a2 = failing(inputs, |i, f| {
        (f.protocol == 6
            && av(f.responder.ip)
            && f.responder.port == turn_tcp
            && is_internet(inputs, f.initiator.ip))
        .then(|| tcp_failure(inputs, i, f))
        .flatten()
    });
    if !a2.is_empty() {
        push(
            d,
            "A2",
            Severity::Error,
            confidence_for(&a2, inputs),
            format!("Remote endpoints cannot reach the A/V Edge on TCP {turn_tcp}"),
            "TCP connections from the Internet to the A/V Edge's TCP port failed. This is the fallback media path and \
             the only one for desktop sharing and file transfer."
                .into(),
            "Allow TCP 443 inbound to the A/V Edge (its public address when NATed).",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/STUN.MSTURN TCP 443)",
            a2,
        );
    }
    // An Edge that stays silent while others answer is A10's: our firewall lets it out.
    let a10: std::collections::HashSet<usize> = super::paths::partner_silent_flows(inputs)
        .into_iter()
        .collect();
    let a3 = failing(inputs, |i, f| {
        (av(f.initiator.ip)
            && f.responder.port == 3478
            && is_internet(inputs, f.responder.ip)
            && !a10.contains(&i))
        .then(|| unanswered_udp(inputs, i, f))
        .flatten()
    });
    if !a3.is_empty() {
        push(
            d,
            "A3",
            Severity::Error,
            confidence_for(&a3, inputs),
            "The A/V Edge gets no answer on outbound UDP 3478".into(),
            "The A/V Edge sent UDP 3478 to other Edges (federated or another pool) without an answer. It is used to find \
             the version of the Edge it talks to, for media between Edges, and for federation."
                .into(),
            "Allow UDP 3478 outbound from the A/V Edge to any address; if it leaves our firewall, the partner Edge may \
             block it.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/STUN.MSTURN UDP 3478 outbound)",
            a3,
        );
    }
    let a4 = failing(inputs, |i, f| {
        (f.protocol == 6
            && av(f.initiator.ip)
            && media_range(f.responder.port)
            && is_internet(inputs, f.responder.ip))
        .then(|| tcp_failure(inputs, i, f))
        .flatten()
    });
    if !a4.is_empty() {
        push(
            d,
            "A4",
            Severity::Error,
            confidence_for(&a4, inputs),
            "Outbound TCP 50000-59999 from the A/V Edge is blocked (desktop sharing and file transfer with federated users)".into(),
            "TCP connections from the A/V Edge to the media range of other Edges failed.".into(),
            "Allow TCP 50000-59999 outbound from the A/V Edge to any address.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/RTP TCP 50000-59999)",
            a4,
        );
    }
    let a5 = failing(inputs, |i, f| {
        (f.protocol == 17
            && av(f.initiator.ip)
            && media_range(f.responder.port)
            && is_internet(inputs, f.responder.ip)
            && f.orig.packets >= 3)
            .then(|| unanswered_udp(inputs, i, f))
            .flatten()
    });
    if !a5.is_empty() {
        push(
            d,
            "A5",
            Severity::Warning,
            confidence_for(&a5, inputs),
            "Outbound UDP 50000-59999 from the A/V Edge gets no answer".into(),
            "The A/V Edge relayed UDP media to remote media ports and nothing came back.".into(),
            "Allow UDP 50000-59999 outbound from the A/V Edge; check the remote side's firewall.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/RTP UDP 50000-59999)",
            a5,
        );
    }
    let internal_if = |ip| {
        has_role(inputs, ip, Role::EdgeInternal) || has_role(inputs, ip, Role::EdgeInternalVip)
    };
    let a11 = failing(inputs, |i, f| {
        if !(internal_if(f.responder.ip)
            && t.roles_of(f.initiator.ip).contains(&Role::InternalClient))
        {
            return None;
        }
        if f.responder.port == 3478 {
            unanswered_udp(inputs, i, f)
        } else if f.responder.port == 443 && f.protocol == 6 {
            tcp_failure(inputs, i, f)
        } else {
            None
        }
    });
    if !a11.is_empty() {
        push(
            d,
            "A11",
            Severity::Error,
            confidence_for(&a11, inputs),
            "Internal clients cannot reach the Edge internal interface for media".into(),
            "Clients in the internal subnets got no answer from the Edge internal interface on UDP 3478 or TCP 443: a \
             missing route on the Edge (it needs static routes to every client subnet through its internal interface) \
             or an internal firewall."
                .into(),
            "Add persistent routes on the Edge for the client subnets via the internal interface, and allow UDP 3478 and \
             TCP 443 from the client subnets to the Edge internal interface.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (STUN/MSTURN 3478, 443)",
            a11,
        );
    }
    let hairpin = failing(inputs, |i, f| {
        (inputs.judgements.get(i).map(|j| j.verdict) == Some(Verdict::InternalHairpin)).then(|| {
            format!(
                "internal host {} reached the Edge's external address {}",
                f.initiator.ip, f.responder.ip
            )
        })
    });
    if !hairpin.is_empty() {
        let to_av = hairpin.iter().any(|e| av(flows[e.flow].responder.ip));
        push(
            d,
            "A12",
            if to_av { Severity::Warning } else { Severity::Error },
            Confidence::High,
            "Internal hosts use the Edge's external or public addresses (a NAT hairpin)".into(),
            "Hosts on the internal side connected to the Edge through its external or public address instead of its \
             internal interface. Media then takes a hairpin through the external firewall's NAT, which the documents \
             do not support; for the A/V Edge it usually means clients discovered the public address first."
                .into(),
            "Make internal clients and servers use the Edge internal interface (internal DNS for the Edge pool FQDN, \
             routes), and block internal subnets from the Edge's external addresses.",
            "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (no NAT on the internal side); Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > NAT requirements",
            hairpin,
        );
    }
}

fn internal(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let internal_if = |ip| {
        has_role(inputs, ip, Role::EdgeInternal) || has_role(inputs, ip, Role::EdgeInternalVip)
    };
    let i1 = failing(inputs, |i, f| {
        (inputs.judgements.get(i).map(|j| j.verdict) == Some(Verdict::WrongSource)
            && internal_if(f.responder.ip)
            && f.responder.port == 5061
            && t.roles_of(f.initiator.ip).contains(&Role::InternalClient))
        .then(|| {
            format!(
                "client {} opened TCP 5061 to the Edge internal interface",
                f.initiator.ip
            )
        })
    });
    if !i1.is_empty() {
        push(
            d,
            "I1",
            Severity::Warning,
            Confidence::High,
            "Clients connect to the Edge internal interface on 5061".into(),
            "Only Front End and Director servers use SIP/MTLS 5061 towards the Edge internal interface; clients sign in \
             through the pool. A client here usually means wrong DNS (the Edge internal FQDN given to clients) or a \
             manual server setting."
                .into(),
            "Check the clients' DNS (lyncdiscoverinternal, _sipinternaltls) and sign-in settings; block 5061 from the \
             client subnets to the Edge.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (SIP/MTLS 5061 from Director/Front End)",
            i1,
        );
    }
    if t.roles.values().any(|r| r.contains(&Role::CmsFe)) {
        let i2 = failing(inputs, |i, f| {
            (internal_if(f.responder.ip) && f.responder.port == 4443 && f.protocol == 6)
                .then(|| tcp_failure(inputs, i, f))
                .flatten()
        });
        if !i2.is_empty() {
            push(
                d,
                "I2",
                Severity::Error,
                confidence_for(&i2, inputs),
                "Central Management Store replication to the Edge (HTTPS 4443) fails".into(),
                "The Front End holding the Central Management Store could not reach the Edge internal interface on TCP \
                 4443, so the Edge's configuration (and certificates, federation settings) goes stale."
                    .into(),
                "Allow TCP 4443 from the CMS Front End to the Edge internal interface; Get-CsManagementStoreReplicationStatus \
                 shows the replica's state.",
                "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (HTTPS 4443)",
                i2,
            );
        } else {
            let saw_internal = inputs.judgements.iter().any(|j| {
                matches!(
                    j.edge_interface,
                    Some(
                        crate::matrix::Interface::Internal | crate::matrix::Interface::InternalVip
                    )
                )
            });
            let saw_4443 = inputs
                .analysis
                .flows
                .iter()
                .any(|f| internal_if(f.responder.ip) && f.responder.port == 4443);
            let span =
                inputs.analysis.last_ts_ns.unwrap_or(0) - inputs.analysis.first_ts_ns.unwrap_or(0);
            if saw_internal && !saw_4443 && span > 15 * 60 * 1_000_000_000 {
                push(
                    d,
                    "I2",
                    Severity::Info,
                    Confidence::Low,
                    "No Central Management Store replication to the Edge in the capture".into(),
                    format!(
                        "The capture shows {:.0} minutes of traffic on the Edge internal interface but no HTTPS 4443 \
                         replication from the Central Management Store. Replication runs on changes and periodically, \
                         so this may be normal; if the Edge's configuration is stale, it is the first thing to check.",
                        secs(span) / 60.0
                    ),
                    "Run Get-CsManagementStoreReplicationStatus; allow TCP 4443 from the CMS Front End to the Edge.",
                    "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (HTTPS 4443)",
                    Vec::new(),
                );
            }
        }
    } else {
        d.skipped.push(Skipped {
            id: "I2",
            title: "Central Management Store replication (4443) failing or absent",
            needs: "[internal] cms_master: the Front End holding the Central Management Store"
                .into(),
        });
    }
    cls(inputs, d);
    let i4 = failing(inputs, |i, f| {
        (inputs.judgements.get(i).map(|j| j.verdict) == Some(Verdict::NotInVersion)
            && matches!(f.responder.port, 5269 | 23456))
        .then(|| format!("XMPP port {} in use", f.responder.port))
    });
    if !i4.is_empty() {
        push(
            d,
            "I4",
            Severity::Warning,
            Confidence::High,
            format!("XMPP traffic on a {} Edge, which has no XMPP gateway", t.product.product_name()),
            "XMPP federation (5269 external, 23456 internal) was removed in Skype for Business Server 2019; these flows \
             cannot be served by this Edge."
                .into(),
            "Remove the XMPP federation partners' DNS records pointing here, or close 5269/23456.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (XMPP rows apply to Skype for Business Server 2015 only)",
            i4,
        );
    }
    let next_hop = |ip| {
        let r = t.roles_of(ip);
        r.iter().any(|x| {
            matches!(
                x,
                Role::Fe | Role::FePoolVip | Role::Director | Role::DirectorPoolVip | Role::CmsFe
            )
        })
    };
    let i5 = failing(inputs, |i, f| {
        let between = (internal_if(f.initiator.ip) && next_hop(f.responder.ip))
            || (next_hop(f.initiator.ip) && internal_if(f.responder.ip));
        (between && f.responder.port == 5061 && f.protocol == 6)
            .then(|| tcp_failure(inputs, i, f))
            .flatten()
    });
    if !i5.is_empty() {
        push(
            d,
            "I5",
            Severity::Error,
            confidence_for(&i5, inputs),
            "SIP/MTLS 5061 between the Edge and its next hop fails".into(),
            "Connections on TCP 5061 between the Edge internal interface and the Front End/Director pool failed: \
             remote access, federation and public IM all stop at the Edge."
                .into(),
            "Allow TCP 5061 both ways between the Edge internal interface and the next-hop pool; check the Edge's \
             routes and the next hop's certificate trust.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (SIP/MTLS 5061)",
            i5,
        );
    }
}

fn nat(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    // N2: inbound sources on the external side rewritten to private addresses (the firewall's).
    let t = inputs.topology;
    let ext_edge = |ip| {
        t.roles_of(ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeWebconf | Role::EdgeAv))
    };
    let inbound: Vec<usize> = inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            ext_edge(f.responder.ip)
                && !t.is_internal_host(f.initiator.ip)
                && !t.is_edge(f.initiator.ip)
        })
        .map(|(i, _)| i)
        .collect();
    let private: Vec<usize> = inbound
        .iter()
        .copied()
        .filter(|i| is_private(inputs.analysis.flows[*i].initiator.ip))
        .collect();
    if inbound.len() >= 3 && private.len() * 5 >= inbound.len() * 4 {
        let ev = private
            .iter()
            .map(|i| {
                let f = &inputs.analysis.flows[*i];
                evidence(
                    inputs,
                    *i,
                    format!("inbound from private address {}", f.initiator.ip),
                )
            })
            .collect();
        let hlb = t.scenario == crate::topology::SiteScenario::Hlb;
        push(
            d,
            if hlb { "N4" } else { "N2" },
            Severity::Error,
            Confidence::Medium,
            if hlb {
                "The load balancer translates the sources of traffic to the Edge (SNAT)".into()
            } else {
                "Incoming source addresses are rewritten on the external side".into()
            },
            format!(
                "{} of {} inbound connections to the Edge's external services come from private addresses: the \
                 external firewall appears to translate the sources of incoming traffic. The A/V Edge needs the real \
                 source addresses to find the optimal media path.",
                private.len(),
                inbound.len()
            ),
            "Configure the external firewall's NAT as symmetric NAT that does not change incoming source addresses \
             (destination NAT only for inbound traffic).",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Edge Server environmental requirements (symmetric NAT; do not change incoming source addresses; \
             no SNAT on A/V with hardware load balancers)",
            ev,
        );
    }
    vip_response_mismatch(inputs, d);
    nat_with_hlb(inputs, d);
    internal_side_nat(inputs, d);
    internal_default_route(inputs, d);
    wrong_side(inputs, d);
}

/// R2: traffic seen on the wrong side of the Edge: a flow with an internal host on the capture
/// interface of the external side (or an Internet flow on the internal side), which is how
/// replies that leave by another path than the requests came in show up.
/// The Edge side a capture interface's own name says it saw (`ext`, `outside`, `dmz`...;
/// `int`, `inside`, `lan`...), or its file's name when the interface has none. A name with
/// words of both sides, or of neither, says nothing.
fn side_from_name(name: &str) -> Option<crate::topology::EdgeSide> {
    use crate::topology::EdgeSide;
    const EXTERNAL: &[&str] = &[
        "ext",
        "external",
        "outside",
        "dmz",
        "perimeter",
        "public",
        "wan",
        "internet",
    ];
    const INTERNAL: &[&str] = &["int", "internal", "inside", "lan", "corp", "corpnet"];
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let ext = words.iter().any(|w| EXTERNAL.contains(w));
    let int = words.iter().any(|w| INTERNAL.contains(w));
    match (ext, int) {
        (true, false) => Some(EdgeSide::External),
        (false, true) => Some(EdgeSide::Internal),
        _ => None,
    }
}

fn wrong_side(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    use crate::topology::EdgeSide;
    let t = inputs.topology;
    let a = inputs.analysis;
    // Each interface's name and side: from the topology when it lists them, else from the
    // capture's own names (pcapng interface names, or the file name).
    let named_by_topology = !t.capture_interfaces.is_empty();
    let sides: Vec<Option<(String, EdgeSide)>> = a
        .interfaces
        .iter()
        .map(|e| {
            if named_by_topology {
                let n = e.name.as_ref()?;
                return t.capture_interfaces.get(n).map(|s| (n.clone(), *s));
            }
            let file = a.inputs.get(e.input).map(|i| {
                std::path::Path::new(&i.name)
                    .file_stem()
                    .map_or(i.name.clone(), |s| s.to_string_lossy().into_owned())
            });
            e.name
                .as_deref()
                .and_then(|n| side_from_name(n).map(|s| (n.to_string(), s)))
                .or_else(|| {
                    let f = file?;
                    side_from_name(&f).map(|s| (f, s))
                })
        })
        .collect();
    if sides.iter().all(Option::is_none) {
        d.skipped.push(Skipped {
            id: "R2",
            title: "Replies leaving by another path than requests came in",
            needs: "[site] capture_interfaces (which Edge side each capture interface saw), or capture interfaces \
                    or files named for their side (ext/int, outside/inside)"
                .into(),
        });
        return;
    }
    let side_of = |idx: usize| sides.get(idx).cloned().flatten();
    let ev = failing(inputs, |_, f| {
        let (e_int, e_ext) = (
            |ip| has_role(inputs, ip, Role::EdgeInternal),
            |ip| {
                t.roles_of(ip)
                    .iter()
                    .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeWebconf | Role::EdgeAv))
            },
        );
        let ends = [f.initiator.ip, f.responder.ip];
        let internal_flow =
            ends.iter().any(|ip| e_int(*ip)) && ends.iter().any(|ip| t.is_internal_host(*ip));
        let external_flow =
            ends.iter().any(|ip| e_ext(*ip)) && ends.iter().any(|ip| is_internet(inputs, *ip));
        (0..64usize)
            .filter(|i| f.interfaces & (1u64 << i) != 0)
            .filter_map(side_of)
            .find(|(_, side)| {
                (internal_flow && *side == EdgeSide::External)
                    || (external_flow && *side == EdgeSide::Internal)
            })
            .map(|(name, side)| {
                format!(
                    "{} traffic seen on capture interface '{name}', which is the {} side",
                    if internal_flow {
                        "internal"
                    } else {
                        "external"
                    },
                    if side == EdgeSide::External {
                        "external"
                    } else {
                        "internal"
                    }
                )
            })
    });
    if !ev.is_empty() {
        push(
            d,
            "R2",
            Severity::Error,
            Confidence::Medium,
            "Traffic crosses the Edge on the wrong side (asymmetric routing)".into(),
            format!(
                "Packets between the Edge and internal hosts appear on the external network adapter (or Internet \
                 traffic on the internal one): replies leave by another path than the requests came in, usually \
                 because the routes to the internal subnets are missing and the default gateway carries them.{}",
                if named_by_topology {
                    ""
                } else {
                    " The sides of the capture interfaces were read from their names; list them in [site] \
                     capture_interfaces if a name misleads."
                }
            ),
            "Add persistent routes for every internal subnet through the internal adapter; keep the default \
             gateway on the external adapter only.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Edge Server environmental requirements (routing of the two network adapters)",
            ev,
        );
    }
}

/// I3: the Centralized Logging Service controller cannot reach the agent on the Edge internal
/// interface (MTLS, TCP 50001-50003). The same port numbers on the A/V Edge's external address
/// are the media relay range, never CLS: only the internal interface counts.
fn cls(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let internal_if = |ip| {
        has_role(inputs, ip, Role::EdgeInternal) || has_role(inputs, ip, Role::EdgeInternalVip)
    };
    let mut internal_seen = false;
    let mut ev = Vec::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let to_internal = internal_if(f.responder.ip);
        internal_seen |= to_internal || internal_if(f.initiator.ip);
        if !(to_internal
            && f.protocol == 6
            && (50_001..=50_003).contains(&f.responder.port)
            && !t.is_edge(f.initiator.ip))
        {
            continue;
        }
        if let Some(why) = tcp_failure(inputs, i, f) {
            ev.push(evidence(
                inputs,
                i,
                format!(
                    "{} to the CLS agent port {} of the Edge internal interface {}: {why}",
                    f.initiator.ip, f.responder.port, f.responder.ip
                ),
            ));
        }
    }
    if !internal_seen {
        d.skipped.push(Skipped {
            id: "I3",
            title: "Centralized Logging Service (TCP 50001-50003) blocked",
            needs: "traffic of the Edge internal interface: a capture taken on the Edge's internal side (or the \
                    internal firewall's log)"
                .into(),
        });
        return;
    }
    if ev.is_empty() {
        return;
    }
    let in_use = t.feature(crate::matrix::Feature::Cls);
    let n = ev.len();
    push(
        d,
        "I3",
        if in_use {
            Severity::Warning
        } else {
            Severity::Info
        },
        confidence_for(&ev, inputs),
        "The Centralized Logging Service cannot reach the Edge (TCP 50001-50003)".into(),
        format!(
            "{n} connection{} to the Centralized Logging Service agent on the Edge internal interface (MTLS, TCP \
             50001-50003) failed. The ClsController (Start-CsClsLogging, Search-CsClsLogging, Sync-CsClsLogging and \
             the ClsController command line) reaches every server's ClsAgent on these ports, so logging cannot be \
             started on the Edge nor its logs collected. Calls and federation do not depend on it.{}",
            if n == 1 { "" } else { "s" },
            if in_use {
                " The topology says the site uses CLS (cls = true)."
            } else {
                " The topology says the site does not use CLS (cls = false): this matters only if you mean to collect \
                 the Edge's logs with it."
            }
        ),
        "Allow TCP 50001, 50002 and 50003 from the hosts that run the CLS cmdlets (the Front End servers, the \
         administrators' workstations) to the Edge internal interface on the internal firewall, and check that the \
         Centralized Logging Service Agent runs on the Edge.",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > Internal port firewall summary table (MTLS TCP 50001-50003, Centralized Logging Service controller)",
        ev,
    );
}

/// N7: a pool behind a hardware load balancer whose external Edge addresses are private, with
/// Internet hosts exchanging traffic with them: an address translation sits in between, and NAT
/// is not supported together with hardware load balancing.
fn nat_with_hlb(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    const KEPT: usize = 20;
    let t = inputs.topology;
    if t.scenario != crate::topology::SiteScenario::Hlb {
        return;
    }
    let service = |ip| {
        t.roles_of(ip).iter().find_map(|r| match r {
            Role::EdgeAccess => Some("the Access Edge"),
            Role::EdgeWebconf => Some("the Web Conferencing Edge"),
            Role::EdgeAv => Some("the A/V Edge"),
            Role::EdgeAccessVip => Some("the Access Edge VIP"),
            Role::EdgeWebconfVip => Some("the Web Conferencing Edge VIP"),
            Role::EdgeAvVip => Some("the A/V Edge VIP"),
            _ => None,
        })
    };
    let mut addresses: Vec<(IpAddr, &str)> = Vec::new();
    let mut count = 0usize;
    let mut ev = Vec::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let (ours, remote) = match (service(f.responder.ip), service(f.initiator.ip)) {
            (Some(s), _) => ((f.responder.ip, s), f.initiator.ip),
            (None, Some(s)) => ((f.initiator.ip, s), f.responder.ip),
            (None, None) => continue,
        };
        if !is_private(ours.0) || !is_internet(inputs, remote) || is_private(remote) {
            continue;
        }
        count += 1;
        if !addresses.iter().any(|(ip, _)| *ip == ours.0) {
            addresses.push(ours);
        }
        if ev.len() < KEPT {
            ev.push(evidence(
                inputs,
                i,
                format!(
                    "the Internet address {remote} exchanged traffic with {} at the private address {}",
                    ours.1, ours.0
                ),
            ));
        }
    }
    if ev.is_empty() {
        return;
    }
    let named: Vec<String> = addresses
        .iter()
        .map(|(ip, s)| format!("{s} {ip}"))
        .collect();
    push(
        d,
        "N7",
        Severity::Error,
        Confidence::High,
        "NAT in front of an Edge pool behind a hardware load balancer".into(),
        format!(
            "The site is load-balanced by hardware (scenario = \"hlb\"), yet {count} flow{} between Internet hosts \
             and the Edge's external services reach private addresses ({}): an address translation sits between \
             the Internet and the Edge. With hardware load balancing the documents require publicly routable \
             external addresses without NAT, for the VIPs and the Edge servers alike; NAT is supported only for \
             scaled Edges with DNS load balancing. The A/V Edge hands out addresses the Internet cannot reach, and \
             media fails.",
            if count == 1 { "" } else { "s" },
            named.join(", ")
        ),
        "Give the Edge servers' external interfaces and the load balancer's external VIPs publicly routable \
         addresses and remove the NAT (in Topology Builder, the NAT option stays cleared), or move the pool to DNS \
         load balancing, which supports NAT.",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Topology planning (NAT only with DNS load balancing; with hardware load balancing, publicly routable addresses without NAT)",
        ev,
    );
}

/// N5: a client's request went to a load balancer VIP, and the answer came from a node's own
/// address instead (the load balancer is bypassed on the way back).
fn vip_response_mismatch(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let flows = &inputs.analysis.flows;
    let vip = |ip| {
        t.roles_of(ip).iter().any(|r| {
            matches!(
                r,
                Role::EdgeAccessVip | Role::EdgeWebconfVip | Role::EdgeAvVip
            )
        })
    };
    let node = |ip| {
        t.roles_of(ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeAccess | Role::EdgeWebconf | Role::EdgeAv))
    };
    let mut ev = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        // Only a recorded silence: a log that does not count replies proves none.
        if !vip(f.responder.ip) || f.answered() || !inputs.recorded(i) {
            continue;
        }
        let client = (f.initiator.ip, f.initiator.port);
        // Without a SYN the node's answer may be oriented either way (its service port marks it
        // as the responder), so look for any flow between a node address and the client's port.
        let from_node = |g: &crate::flow::Flow| {
            let (a, b) = (
                (g.initiator.ip, g.initiator.port),
                (g.responder.ip, g.responder.port),
            );
            (node(a.0) && b == client) || (node(b.0) && a == client)
        };
        if let Some((j, g)) = flows.iter().enumerate().find(|(_, g)| from_node(g)) {
            let node_ip = if node(g.initiator.ip) {
                g.initiator.ip
            } else {
                g.responder.ip
            };
            ev.push(evidence(
                inputs,
                i,
                format!(
                    "request to the VIP {} got no answer from it",
                    f.responder.ip
                ),
            ));
            ev.push(evidence(
                inputs,
                j,
                format!("the answer came from the node address {node_ip}"),
            ));
        }
    }
    if !ev.is_empty() {
        push(
            d,
            "N5",
            Severity::Error,
            Confidence::Medium,
            "Answers to requests sent to a load balancer VIP come from a node's own address".into(),
            "Clients sent to the virtual address, and the Edge answered from its real address: the reply \
             bypassed the load balancer, so the client drops it. The Edge's default gateway must lead back \
             through the load balancer for traffic that came through it."
                .into(),
            "Route the Edge nodes' external traffic through the load balancer (default gateway on the HLB, or \
             return routing through it), as the load balancer requirements describe.",
            "Microsoft, \"Port summary - Scaled consolidated edge with hardware load balancers in Lync Server 2013\" > Hardware load balancer requirements; Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Hardware load balancers for Edge",
            ev,
        );
    }
}

/// N6: sources on the internal side that are outside every internal subnet the site declares:
/// something between the internal networks and the Edge translates addresses.
fn internal_side_nat(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    if t.client_subnets.is_empty() && t.server_subnets.is_empty() {
        d.skipped.push(Skipped {
            id: "N6",
            title: "NAT between the internal subnets and the Edge internal interface",
            needs: "[internal] client_subnets and server_subnets".into(),
        });
        return;
    }
    let internal_if = |ip| {
        has_role(inputs, ip, Role::EdgeInternal) || has_role(inputs, ip, Role::EdgeInternalVip)
    };
    let ev = failing(inputs, |_, f| {
        let src = f.initiator.ip;
        (internal_if(f.responder.ip)
            && is_private(src)
            && !t.is_internal_host(src)
            && !t.is_edge(src))
        .then(|| format!("{src} is in none of the site's internal subnets"))
    });
    if !ev.is_empty() {
        push(
            d,
            "N6",
            Severity::Error,
            Confidence::Medium,
            "Traffic reaches the Edge internal interface from translated addresses".into(),
            "Connections to the Edge internal interface come from addresses outside the declared client and server \
             subnets: a firewall or router on the internal side appears to translate them. NAT is not supported \
             between the internal networks and the Edge internal interface; media and the A/V Edge's candidate \
             addresses break. (If these are real internal subnets, add them to the topology.)"
                .into(),
            "Remove the NAT between the internal subnets and the Edge internal interface, and route the internal \
             subnets to it directly.",
            "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (no NAT between the internal interface and internal subnets)",
            ev,
        );
    }
}

/// R1: the Edge's internal interface talks to the Internet: the default gateway sits on the
/// internal side.
fn internal_default_route(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let internal_if = |ip| has_role(inputs, ip, Role::EdgeInternal);
    let ev = failing(inputs, |_, f| {
        (internal_if(f.initiator.ip)
            && is_internet(inputs, f.responder.ip)
            && !is_private(f.responder.ip))
        .then(|| {
            format!(
                "the internal interface {} opened a connection to {}",
                f.initiator.ip, f.responder.ip
            )
        })
    });
    if !ev.is_empty() {
        push(
            d,
            "R1",
            Severity::Error,
            Confidence::High,
            "The Edge reaches the Internet through its internal interface".into(),
            "Traffic from the Edge's internal interface goes to Internet addresses: the default gateway is on the \
             internal network adapter. Replies to external clients then leave by the wrong side and the perimeter \
             design is broken."
                .into(),
            "Put the default gateway on the external network adapter only, and reach the internal subnets through \
             persistent static routes on the internal adapter.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Edge Server environmental requirements (default gateway on the external interface)",
            ev,
        );
    }
}
