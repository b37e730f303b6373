//! Pass one: every address that answers a documented Edge port is scored for each Edge role
//! from what its flows carried, then the roles are chosen from the scores.
//!
//! The ports alone do not tell the services apart (TCP 443 is SIP/TLS on the Access Edge,
//! PSOM/TLS on Web Conferencing and MS-TURN on the A/V Edge; 5061 and 3478 are answered on
//! both sides), so the payload identification decides, and the side of the Edge the peer sat
//! on: the capture interface's name when it says one, else whether the peer's address is
//! private. Points are per flow: 3 for what only one role carries (MS-TURN, the internal
//! interface's 5062/8057/4443), 2 for a strong sign (federation 5061, XMPP, STUN from
//! internal clients), 1 for what two roles share (TLS on 443, media).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use rustc_hash::FxHashMap;

use super::{
    dns_name, domain_of, first_label, internal_side, is_internal_name, is_private, most_frequent,
    plural, Capped, Chosen, ChosenEdge, InterfaceSides, Names,
};
use crate::analysis::Analysis;
use crate::flow::Flow;
use crate::identify::{Confidence, Identification, Protocol, StunFraming, TlsOutcome};
use crate::topology::EdgeSide;

/// The Edge roles an address can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Internal,
    Access,
    Webconf,
    Av,
}

impl Service {
    /// As admins name it.
    pub fn label(self) -> &'static str {
        match self {
            Service::Internal => "the Edge internal interface",
            Service::Access => "the Access Edge",
            Service::Webconf => "the Web Conferencing Edge",
            Service::Av => "the A/V Edge",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Addresses scored; observations of further addresses are counted, not kept.
pub const MAX_ADDRESSES: usize = 8192;
/// Peers remembered per address and role (the rest are counted as "64+").
const PEERS_KEPT: usize = 64;
const PORTS_KEPT: usize = 10;
const KINDS_KEPT: usize = 6;
const RELAYED_KEPT: usize = 8;
/// Federation domains, SRV targets and DNS answers remembered.
const DNS_KEPT: usize = 4096;
/// Edge servers written per role; more addresses are named in a comment.
const POOL_MAX: usize = 16;
/// The port set's stand-in for the whole media range.
pub const MEDIA: u16 = 0;

/// What one role's flows at an address showed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Evidence {
    pub points: u32,
    pub flows: u32,
    pub peers: Capped<IpAddr>,
    pub ports: BTreeSet<u16>,
    pub kinds: Vec<&'static str>,
}

impl Evidence {
    fn add(&mut self, points: u32, peer: IpAddr, port: u16, kind: &'static str) {
        self.points = self.points.saturating_add(points);
        self.flows = self.flows.saturating_add(1);
        self.peers.insert(peer, PEERS_KEPT);
        if self.ports.len() < PORTS_KEPT {
            self.ports.insert(port);
        }
        if !self.kinds.contains(&kind) && self.kinds.len() < KINDS_KEPT {
            self.kinds.push(kind);
        }
    }

    /// "9 flows from 2 peers on 443/5061 (SIP/TLS 443, federation 5061)".
    pub fn describe(&self) -> String {
        let ports: Vec<String> = self
            .ports
            .iter()
            .map(|p| {
                if *p == MEDIA {
                    "50000-59999".to_string()
                } else {
                    p.to_string()
                }
            })
            .collect();
        let mut s = format!(
            "{} flow{} from {} on {}",
            self.flows,
            plural(self.flows as usize),
            self.peers.count_words("peer", "peers"),
            ports.join("/")
        );
        if !self.kinds.is_empty() {
            s.push_str(&format!(" ({})", self.kinds.join(", ")));
        }
        s
    }
}

/// Everything seen of one address that answered (or opened) an Edge port.
#[derive(Debug, Default)]
pub(crate) struct Candidate {
    /// By [`Service`] index.
    pub ev: [Evidence; 4],
    /// Points from ports only the internal interface answers (5062, 8057, 4443).
    pub exclusive_internal: u32,
    /// Signs of a Front End rather than the Edge: it opens 5062/8057/4443, its TLS name is a pool's.
    pub fe_points: u32,
    /// Flows whose peer sat on the internal side, and on the external side.
    pub internal_flows: u32,
    pub external_flows: u32,
    /// Peers over 5061/5062/8057/4443, either direction (the Front End and the Edge are each
    /// other's).
    pub server_peers: Capped<IpAddr>,
    /// External 5061 peers, either direction.
    pub fed_peers: Capped<IpAddr>,
    /// Points of the Access evidence that came from federation alone.
    pub fed_points: u32,
    /// TLS names it answered with (SNI, server certificate).
    pub names: Names,
    /// XOR-RELAYED-ADDRESSes of the allocations it granted.
    pub relayed: FxHashMap<SocketAddr, u32>,
    /// It answered STUN/TURN.
    pub turn: bool,
    /// It carried something only a Skype for Business / Lync Edge carries.
    pub signature: bool,
    /// DNS SRV lookups of federation partners it made.
    pub srv_lookups: u32,
}

impl Candidate {
    fn total_flows(&self) -> u32 {
        self.internal_flows.saturating_add(self.external_flows)
    }

    /// One-off points from the names an address answered with (Microsoft's cloud services
    /// answer to "sip..." names too, and are no one's Edge).
    fn name_hints(&self) -> [u32; 4] {
        let mut h = [0u32; 4];
        for n in self.names.all().filter(|n| !is_cloud_name(n)) {
            if let Some(s) = hinted(n) {
                h[s.index()] = 1;
            }
        }
        h
    }

    /// Every name it answered with is a reverse proxy's (Lync Discover, meeting and dial-in
    /// URLs, the external web services).
    fn reverse_proxy_names(&self) -> bool {
        let mut any = false;
        for n in self.names.all() {
            let l = first_label(n);
            if ![
                "lyncdiscover",
                "meet",
                "dialin",
                "webext",
                "lyncweb",
                "scheduler",
            ]
            .iter()
            .any(|p| l.starts_with(p))
            {
                return false;
            }
            any = true;
        }
        any
    }

    /// It answered to a Microsoft cloud name (Skype for Business Online, Teams).
    fn cloud(&self) -> bool {
        self.names.all().any(is_cloud_name)
    }

    fn points(&self, s: Service) -> u32 {
        self.ev[s.index()]
            .points
            .saturating_add(self.name_hints()[s.index()])
    }
}

/// Pass one's result.
#[derive(Debug, Default)]
pub(crate) struct Scored {
    pub candidates: FxHashMap<IpAddr, Candidate>,
    /// Observations of addresses past [`MAX_ADDRESSES`].
    pub dropped: u64,
    pub xmpp_flows: u32,
    pub xmpp_peers: Capped<IpAddr>,
    /// Centralized Logging Service flows (TCP 50001-50003 from the internal side).
    pub cls_flows: u32,
    /// Domains our XMPP peers addressed (`to=`): our SIP domains.
    pub xmpp_domains: Names,
    /// Partner domains of federation SRV lookups.
    pub srv_domains: Vec<String>,
    /// SRV target -> the partner domain it serves.
    srv_targets: FxHashMap<String, String>,
    /// Address -> partner domain, from DNS answers.
    pub dns_partner: FxHashMap<IpAddr, String>,
    /// Flows answered on an Edge port from public and from private peers, by address (only
    /// for flows whose capture interface says no side).
    listeners: FxHashMap<IpAddr, (u32, u32)>,
}

/// Reads every flow once.
pub(crate) fn gather(analysis: &Analysis, sides: &InterfaceSides) -> Scored {
    let mut s = Scored::default();
    // Without interface names a private address is taken for an internal host, except the
    // Edge's own external addresses behind NAT: those answer the Edge ports mostly to
    // public peers, and what they open (federation) is outbound from the Edge.
    for f in &analysis.flows {
        let port = f.responder.port;
        let edge_port = matches!(port, 443 | 3478 | 5061 | 5269) || (50000..=59999).contains(&port);
        if !edge_port || sides.of_flow(f.interfaces).is_some() {
            continue;
        }
        let ip = f.responder.ip;
        if !s.listeners.contains_key(&ip) && s.listeners.len() >= MAX_ADDRESSES {
            continue;
        }
        let e = s.listeners.entry(ip).or_default();
        if is_private(f.initiator.ip) {
            e.1 = e.1.saturating_add(1);
        } else {
            e.0 = e.0.saturating_add(1);
        }
    }
    for (i, f) in analysis.flows.iter().enumerate() {
        s.flow(
            f,
            analysis.identifications.get(i),
            sides.of_flow(f.interfaces),
        );
    }
    s
}

/// What a flow's payload showed, as the scoring needs it.
pub(crate) struct Seen<'a> {
    pub proto: Protocol,
    pub tls: Option<&'a crate::identify::TlsInfo>,
    pub turnish: bool,
    pub ms: bool,
    pub client_cert: bool,
}

impl<'a> Seen<'a> {
    pub fn of(id: Option<&'a Identification>) -> Seen<'a> {
        let proto = id.map_or(Protocol::Unknown, |x| x.protocol);
        let tls = id.and_then(|x| x.evidence.tls.as_deref());
        let stun = id.and_then(|x| x.evidence.stun.as_deref());
        Seen {
            proto,
            tls,
            // A DTLS flow that began with ICE checks keeps their STUN evidence.
            turnish: (matches!(
                proto,
                Protocol::PseudoTls | Protocol::MsTurn | Protocol::Stun | Protocol::Turn
            ) && id
                .is_some_and(|x| x.confidence == Confidence::Certain || stun.is_some()))
                || proto == Protocol::Dtls && stun.is_some(),
            ms: matches!(proto, Protocol::PseudoTls | Protocol::MsTurn)
                || stun.is_some_and(|s| {
                    s.ms_version.is_some()
                        || s.ms_magic_cookie_first
                        || s.ms_multiplexed
                        || matches!(s.framing, StunFraming::MsTurnTcp | StunFraming::PseudoTls)
                }),
            client_cert: tls
                .is_some_and(|t| t.client_certificate_sent || !t.client_certificates.is_empty()),
        }
    }

    pub fn tls_certain(&self) -> bool {
        self.proto == Protocol::Tls
    }

    pub fn completed_without_client_cert(&self) -> bool {
        self.tls
            .is_some_and(|t| t.outcome == TlsOutcome::Completed && !self.client_cert)
    }

    pub fn sni(&self) -> Option<&str> {
        self.tls.and_then(|t| t.sni.as_deref())
    }

    pub fn server_name(&self) -> Option<&str> {
        self.tls
            .and_then(|t| t.certificates.first())
            .and_then(|c| c.subject_cn.as_deref())
    }

    pub fn client_name(&self) -> Option<&str> {
        self.tls
            .and_then(|t| t.client_certificates.first())
            .and_then(|c| c.subject_cn.as_deref())
    }
}

/// The role a TLS name suggests: "sip.", "webcon.", "av.", an internal "edge" name.
fn hinted(n: &str) -> Option<Service> {
    let l = first_label(n);
    if l.contains("edge") && is_internal_name(n) {
        Some(Service::Internal)
    } else if l.starts_with("sip") || l.contains("access") {
        Some(Service::Access)
    } else if l.starts_with("webcon") || l.contains("conf") || l == "wc" {
        Some(Service::Webconf)
    } else if l == "av" || l.starts_with("avedge") || l.starts_with("av-") || l.contains("turn") {
        Some(Service::Av)
    } else {
        None
    }
}

/// Microsoft's online services: their relays and SIP proxies look like an Edge from inside.
fn is_cloud_name(n: &str) -> bool {
    [
        "lync.com",
        "microsoft.com",
        "office.com",
        "office365.com",
        "skype.com",
        "microsoftonline.com",
        "live.com",
        "outlook.com",
        "teams.cloud.microsoft",
    ]
    .iter()
    .any(|s| n == *s || n.ends_with(&format!(".{s}")))
}

/// Names that mark a Front End pool rather than an Edge.
fn pool_name(n: &str) -> bool {
    let l = first_label(n);
    is_internal_name(n)
        && (l.starts_with("fe") || l.contains("pool") || l.contains("dir") || l.starts_with("sfb"))
        && !l.contains("edge")
}

impl Scored {
    pub fn addresses(&self) -> usize {
        self.candidates.len()
    }

    /// Whether an end of a flow sits on the internal side (see [`internal_side`]); a private
    /// address that answers the Edge ports mostly to public peers is the Edge's own, behind NAT.
    pub fn inside(&self, ip: IpAddr, side: Option<EdgeSide>) -> bool {
        internal_side(ip, side)
            && (side.is_some()
                || self
                    .listeners
                    .get(&ip)
                    .is_none_or(|(public, private)| public <= private))
    }

    fn at(&mut self, ip: IpAddr) -> Option<&mut Candidate> {
        if !self.candidates.contains_key(&ip) && self.candidates.len() >= MAX_ADDRESSES {
            self.dropped = self.dropped.saturating_add(1);
            return None;
        }
        Some(self.candidates.entry(ip).or_default())
    }

    fn existing(&mut self, ip: IpAddr) -> Option<&mut Candidate> {
        self.candidates.get_mut(&ip)
    }

    fn flow(&mut self, f: &Flow, id: Option<&Identification>, side: Option<EdgeSide>) {
        let (ini, res) = (f.initiator.ip, f.responder.ip);
        let tcp = f.protocol == 6;
        let udp = f.protocol == 17;
        if ini == res || !(tcp || udp) {
            return;
        }
        let seen = Seen::of(id);
        if seen.proto == Protocol::Dns {
            if let Some(dns) = id.and_then(|x| x.evidence.dns.as_deref()) {
                self.dns(ini, dns);
            }
            return;
        }
        let port = f.responder.port;
        // A TLS name only a corporate network uses puts that end on the internal side.
        let ini_internal =
            self.inside(ini, side) || seen.client_name().is_some_and(is_internal_name);
        let res_private = is_private(res);
        // The peer reached the responder from inside towards a private address: the internal
        // interface, or a hairpin to the Edge's private external address.
        let inside = ini_internal && res_private;

        if tcp && matches!(port, 5061 | 5062 | 8057 | 4443) {
            if let Some(c) = self.at(ini) {
                c.server_peers.insert(res, PEERS_KEPT);
                if port != 5061 && ini_internal {
                    c.fe_points = c.fe_points.saturating_add(3);
                }
                if let Some(n) = seen.client_name() {
                    if pool_name(n) {
                        c.fe_points = c.fe_points.saturating_add(1);
                    }
                }
            }
        }
        // Federation opened by the initiator: our Access Edge, or a partner's.
        if tcp && port == 5061 && !self.inside(res, side) && !ini_internal {
            if let Some(c) = self.at(ini) {
                c.ev[Service::Access.index()].add(2, res, port, "federation 5061");
                c.fed_points = c.fed_points.saturating_add(2);
                c.fed_peers.insert(res, PEERS_KEPT);
                c.external_flows = c.external_flows.saturating_add(1);
                c.signature |= seen.tls_certain();
            }
        }

        let media = (50000..=59999).contains(&port);
        let cls = tcp && (50001..=50003).contains(&port) && inside;
        let relevant = match (tcp, port) {
            (true, 443 | 5061 | 5062 | 8057 | 4443 | 5269 | 23456) => true,
            (_, 3478) => true,
            _ => media,
        };
        if !relevant {
            return;
        }
        // Media alone never makes an address a candidate (its direction is often inferred),
        // except towards the internal side, where it is a violation worth placing.
        let c = if media && !cls && !inside {
            self.existing(res)
        } else {
            self.at(res)
        };
        let Some(c) = c else { return };
        if ini_internal {
            c.internal_flows = c.internal_flows.saturating_add(1);
        } else {
            c.external_flows = c.external_flows.saturating_add(1);
        }
        if seen.tls.is_some() {
            for n in [seen.sni(), seen.server_name()].into_iter().flatten() {
                c.names.add(n);
                if pool_name(n) {
                    c.fe_points = c.fe_points.saturating_add(1);
                }
            }
        }
        if let Some(stun) = id.and_then(|x| x.evidence.stun.as_deref()) {
            let from_session = stun.turn.iter().flat_map(|t| t.relayed.iter().copied());
            let from_attr = stun.xor_relayed.as_deref().and_then(|s| s.parse().ok());
            for a in from_session.chain(from_attr) {
                if let Some(n) = c.relayed.get_mut(&a) {
                    *n = n.saturating_add(1);
                } else if c.relayed.len() < RELAYED_KEPT {
                    c.relayed.insert(a, 1);
                }
            }
        }
        let (i, a, w, v) = (
            Service::Internal.index(),
            Service::Access.index(),
            Service::Webconf.index(),
            Service::Av.index(),
        );
        match (tcp, port) {
            (true, 5062 | 8057 | 4443) => {
                let kind = match port {
                    5062 => "A/V authentication 5062",
                    8057 => "PSOM/MTLS 8057",
                    _ => "CMS replication 4443",
                };
                c.ev[i].add(3, ini, port, kind);
                c.exclusive_internal = c.exclusive_internal.saturating_add(3);
                c.server_peers.insert(ini, PEERS_KEPT);
                c.signature |= port != 4443 && seen.tls_certain() || seen.client_cert;
            }
            (true, 5061) => {
                c.server_peers.insert(ini, PEERS_KEPT);
                c.signature |= seen.tls_certain();
                if inside {
                    if seen.client_cert {
                        c.ev[i].add(2, ini, port, "SIP/MTLS 5061 from internal servers");
                    } else if seen.completed_without_client_cert() {
                        c.ev[i].add(2, ini, port, "SIP/TLS 5061 from internal clients");
                    } else {
                        c.ev[i].add(1, ini, port, "5061 from internal hosts");
                    }
                    c.ev[a].add(1, ini, port, "5061 from internal hosts");
                } else if ini_internal {
                    c.ev[a].add(1, ini, port, "5061 from internal hosts (hairpin)");
                } else {
                    c.ev[a].add(2, ini, port, "federation 5061");
                    c.fed_points = c.fed_points.saturating_add(2);
                    c.fed_peers.insert(ini, PEERS_KEPT);
                }
            }
            (true, 443) | (_, 3478) if seen.turnish => {
                c.turn = true;
                c.signature |= seen.ms;
                let kind = if port == 443 {
                    "MS-TURN over TCP 443"
                } else {
                    "STUN/TURN 3478"
                };
                if inside {
                    c.ev[i].add(2, ini, port, "STUN/TURN from internal clients");
                }
                c.ev[v].add(3, ini, port, kind);
            }
            (true, 443) if seen.tls_certain() => {
                c.ev[a].add(1, ini, port, "TLS 443");
                c.ev[w].add(1, ini, port, "TLS 443");
                let sip_name = [seen.sni(), seen.server_name()]
                    .into_iter()
                    .flatten()
                    .any(|n| {
                        let l = first_label(n);
                        l.starts_with("sip") || l.starts_with("lyncdiscover") || l == "av"
                    });
                c.signature |= sip_name;
            }
            (true, 5269) => {
                c.ev[a].add(2, ini, port, "XMPP 5269");
                self.xmpp_flows = self.xmpp_flows.saturating_add(1);
                self.xmpp_peers.insert(ini, PEERS_KEPT);
                if let Some(to) = id
                    .and_then(|x| x.evidence.xmpp.as_deref())
                    .and_then(|x| x.to.as_deref())
                {
                    self.xmpp_domains.add(to);
                }
            }
            (true, 23456) => {
                c.ev[i].add(1, ini, port, "XMPP gateway 23456");
                self.xmpp_flows = self.xmpp_flows.saturating_add(1);
            }
            _ if cls => {
                c.ev[i].add(1, ini, port, "CLS 50001-50003");
                self.cls_flows = self.cls_flows.saturating_add(1);
            }
            _ if media && inside => {
                c.ev[i].add(1, ini, MEDIA, "media from internal hosts");
                c.ev[v].add(1, ini, MEDIA, "media 50000-59999");
            }
            _ if media => c.ev[v].add(1, ini, MEDIA, "media 50000-59999"),
            _ => {}
        }
    }

    /// Federation SRV lookups: who makes them (our Access Edge), and which partner domain each
    /// answered address serves.
    fn dns(&mut self, ini: IpAddr, dns: &crate::identify::DnsInfo) {
        let mut domain = None;
        for q in &dns.queries {
            let q = q.trim_end_matches('.').to_ascii_lowercase();
            if let Some(d) = q.strip_prefix("_sipfederationtls._tcp.") {
                if let Some(d) = dns_name(d) {
                    domain = Some(d);
                }
            } else if let Some(d) = self.srv_targets.get(&q) {
                domain = Some(d.clone());
            }
        }
        let Some(domain) = domain else { return };
        if let Some(c) = self.at(ini) {
            c.srv_lookups = c.srv_lookups.saturating_add(1);
        }
        if !self.srv_domains.contains(&domain) && self.srv_domains.len() < DNS_KEPT {
            self.srv_domains.push(domain.clone());
        }
        for t in &dns.srv {
            if let Some(t) = dns_name(&t.target) {
                if self.srv_targets.len() < DNS_KEPT {
                    self.srv_targets.insert(t, domain.clone());
                }
            }
        }
        for a in &dns.addresses {
            if let Ok(ip) = a.parse::<IpAddr>() {
                if self.dns_partner.len() < DNS_KEPT {
                    self.dns_partner.insert(ip, domain.clone());
                }
            }
        }
    }

    /// Chooses the Edge's addresses by role from the scores.
    pub fn choose(&self) -> ChosenEdge {
        let mut edge = ChosenEdge::default();
        let mut taken: FxHashMap<IpAddr, Service> = FxHashMap::default();
        // The A/V services: an address that answered STUN/TURN. An allocation relayed on
        // another address that itself answers STUN/TURN is the same service behind NAT.
        let answers_turn = |ip: IpAddr| self.candidates.get(&ip).is_some_and(|c| c.turn);
        let relay_link = |c: &Candidate, ip: IpAddr| {
            c.relayed
                .keys()
                .any(|r| r.ip() != ip && answers_turn(r.ip()))
        };

        // 1. The internal interface: private (or answering the ports only it answers), reached
        //    more from inside than from outside, not a relay's private side; the address more
        //    internal hosts reach wins over its Front End, which it talks to on the same ports.
        let mut internal: Vec<(&IpAddr, &Candidate, u32)> = self
            .candidates
            .iter()
            .filter_map(|(ip, c)| {
                let pts = c
                    .points(Service::Internal)
                    .saturating_sub(c.fe_points.min(c.exclusive_internal));
                let strong = c.exclusive_internal >= 3;
                let eligible = pts >= 2
                    && (is_private(*ip) || strong)
                    && (strong || c.internal_flows > c.external_flows)
                    && (strong || !relay_link(c, *ip))
                    && (c.fe_points <= c.exclusive_internal.saturating_add(2)
                        || c.ev[Service::Internal.index()].peers.len() >= 2);
                eligible.then_some((ip, c, pts))
            })
            .collect();
        internal.sort_by(|a, b| {
            b.2.cmp(&a.2)
                .then(b.1.ev[0].peers.len().cmp(&a.1.ev[0].peers.len()))
                .then(a.0.cmp(b.0))
        });
        let mut accepted: Vec<IpAddr> = Vec::new();
        let mut front_ends: Vec<IpAddr> = Vec::new();
        for (ip, c, pts) in internal {
            if accepted.iter().any(|a| c.server_peers.contains(a)) {
                front_ends.push(*ip); // the Front End or Director of an interface already chosen
                continue;
            }
            accepted.push(*ip);
            taken.insert(*ip, Service::Internal);
            let e = &c.ev[Service::Internal.index()];
            let sure = if c.exclusive_internal >= 3 && e.kinds.len() >= 2 && pts >= 6 {
                "high"
            } else if pts >= 3 {
                "medium"
            } else {
                "low"
            };
            let name = c.names.top().filter(|n| is_internal_name(n));
            let mut why = e.describe();
            if let Some(n) = name {
                why.push_str(&format!("; TLS name {n}"));
            }
            why.push_str(&format!("; {sure}"));
            edge.signature_from(c);
            edge.internal.push(Chosen {
                ip: *ip,
                public: None,
                public_why: None,
                why,
                fqdn: None,
                server_name: name.map(|n| first_label(n).to_string()),
            });
        }

        // 2. The external services: each remaining address takes the role it scores best at
        //    (ties: A/V, then Access, then Web Conferencing, the more specific first). An
        //    address reached only from inside is one only with a sign of the Edge's own: a
        //    private one must be the private side of a relay seen from outside (else it is an
        //    internal server), a public one must answer to a SIP name, federate, or relay for
        //    another (else it is any web site or cloud relay the clients use).
        let mut relayers: FxHashMap<IpAddr, IpAddr> = FxHashMap::default();
        for (ip, c) in &self.candidates {
            for r in c.relayed.keys().filter(|r| r.ip() != *ip) {
                relayers.insert(r.ip(), *ip);
            }
        }
        let mut best: Vec<Pick<'_>> = Vec::new();
        for (ip, c) in &self.candidates {
            if taken.contains_key(ip) || front_ends.contains(ip) || c.reverse_proxy_names() {
                continue;
            }
            let link = relay_link(c, *ip);
            let hints = c.name_hints();
            let mut scores = [
                (
                    Service::Av,
                    c.points(Service::Av) + if link { 3 } else { 0 },
                ),
                (Service::Access, c.points(Service::Access)),
                (Service::Webconf, c.points(Service::Webconf)),
            ];
            if !(c.turn || link) {
                scores[0].1 = 0;
            }
            if c.ev[Service::Webconf.index()].points == 0 {
                scores[2].1 = 0;
            }
            if c.external_flows == 0 {
                if is_private(*ip) && !link || c.cloud() {
                    continue;
                }
                if !(link || relayers.contains_key(ip)) {
                    scores[0].1 = 0;
                }
                if hints[Service::Access.index()] == 0 && c.fed_points == 0 {
                    scores[1].1 = 0;
                }
                if hints[Service::Webconf.index()] == 0 {
                    scores[2].1 = 0;
                }
            }
            let mut top = scores[0];
            for s in &scores[1..] {
                if s.1 > top.1 {
                    top = *s;
                }
            }
            if top.1 == 0 {
                continue;
            }
            let runner = scores
                .iter()
                .filter(|s| s.0 != top.0)
                .map(|s| s.1)
                .max()
                .unwrap_or(0);
            best.push(Pick {
                ip: *ip,
                c,
                service: top.0,
                points: top.1,
                runner,
            });
        }
        // Access against Web Conferencing on TLS alone: the Access Edge is the one that also
        // federates or answers to a SIP name; a tie goes to Web Conferencing once a real Access
        // Edge is known.
        let proper_access = best.iter().any(|b| {
            b.service == Service::Access
                && b.points > b.runner
                && (b.c.fed_points > 0 || b.c.name_hints()[Service::Access.index()] > 0)
        });
        for b in &mut best {
            if b.service == Service::Access
                && b.points == b.runner
                && proper_access
                && b.c.points(Service::Webconf) == b.points
            {
                b.service = Service::Webconf;
            }
        }
        // Our Access Edge against our partners' (federation shows both ends alike): ours
        // has its own signs (clients on 443, XMPP, SRV lookups of partners, a private
        // address behind NAT) or more partners; an address federating with an Access Edge
        // already chosen is a partner's.
        let own = |b: &Pick<'_>| {
            (
                b.c.points(Service::Access).saturating_sub(b.c.fed_points)
                    + 2 * b.c.srv_lookups.min(4)
                    + u32::from(is_private(b.ip)),
                b.c.fed_peers.len(),
                b.c.total_flows(),
            )
        };
        best.sort_by(|x, y| {
            (y.service == Service::Access)
                .cmp(&(x.service == Service::Access))
                .then(own(y).cmp(&own(x)))
                .then(y.points.cmp(&x.points))
                .then(x.ip.cmp(&y.ip))
        });
        let mut access: Vec<IpAddr> = Vec::new();
        let mut chosen: Vec<Pick<'_>> = Vec::new();
        for b in best {
            if b.service == Service::Access
                && access.iter().any(|a| {
                    b.c.fed_peers.contains(a)
                        || self
                            .candidates
                            .get(a)
                            .is_some_and(|ac| ac.fed_peers.contains(&b.ip))
                })
            {
                continue; // a partner's Access Edge
            }
            if b.service == Service::Access {
                access.push(b.ip);
            }
            chosen.push(b);
        }
        // Each role's busiest first, then written in address order.
        chosen.sort_by(|x, y| y.points.cmp(&x.points).then(x.ip.cmp(&y.ip)));
        let mut per_role: [Vec<Pick<'_>>; 4] = Default::default();
        for b in chosen {
            let list = &mut per_role[b.service.index()];
            if list.len() < POOL_MAX {
                list.push(b);
            } else {
                edge.left_out
                    .push(format!("{} ({})", b.ip, b.service.label()));
            }
        }
        for s in [Service::Access, Service::Webconf, Service::Av] {
            let list = &mut per_role[s.index()];
            list.sort_by_key(|b| b.ip);
            for b in list.iter() {
                let (ip, c, p, r) = (&b.ip, b.c, &b.points, &b.runner);
                taken.insert(*ip, s);
                edge.signature_from(c);
                let e = &c.ev[s.index()];
                let named = c.name_hints()[s.index()] > 0;
                let sure = if *p >= 6 && e.kinds.len() >= 2 && *p >= 2 * r {
                    "high"
                } else if (*p >= 3 || named) && p > r {
                    "medium"
                } else {
                    "low"
                };
                let fqdn = c
                    .names
                    .top()
                    .filter(|n| {
                        !is_internal_name(n)
                            && !is_cloud_name(n)
                            && hinted(n).is_none_or(|h| h == s)
                    })
                    .map(str::to_string);
                let mut why = e.describe();
                if let Some(n) = &fqdn {
                    why.push_str(&format!("; TLS name {n}"));
                }
                if s == Service::Av && relay_link(c, *ip) {
                    why.push_str("; its allocations relay on an address that answers STUN itself");
                }
                if *r > 0 && sure != "high" {
                    why.push_str(&format!("; also scored {r} for another role"));
                }
                why.push_str(&format!("; {sure}"));
                let list = match s {
                    Service::Access => &mut edge.access,
                    Service::Webconf => &mut edge.webconf,
                    _ => &mut edge.av,
                };
                list.push(Chosen {
                    ip: *ip,
                    public: None,
                    public_why: None,
                    why,
                    fqdn,
                    server_name: None,
                });
            }
        }
        self.nat(&mut edge, &taken);
        edge
    }

    /// The A/V Edge's public address behind NAT: the relayed address of its allocations. An
    /// A/V address that is another one's relayed address is that one's public side, not a
    /// second server.
    fn nat(&self, edge: &mut ChosenEdge, taken: &FxHashMap<IpAddr, Service>) {
        let mut publics: Vec<IpAddr> = Vec::new();
        for av in &mut edge.av {
            let Some(c) = self.candidates.get(&av.ip) else {
                continue;
            };
            let Some(public) = most_frequent(&c.relayed, av.ip) else {
                continue;
            };
            if taken.get(&public).is_some_and(|s| *s != Service::Av) {
                continue; // one address for several services: not a NAT mapping
            }
            if publics.contains(&public) {
                continue;
            }
            let n: u32 = c
                .relayed
                .iter()
                .filter(|(a, _)| a.ip() == public)
                .map(|(_, n)| *n)
                .sum();
            av.public = Some(public);
            av.public_why = Some(format!(
                "public address from the TURN XOR-RELAYED-ADDRESS of {n} allocation{}",
                plural(n as usize)
            ));
            publics.push(public);
        }
        // Only an address that is not itself relaying for a private one can be folded in.
        let privates: Vec<IpAddr> = edge
            .av
            .iter()
            .filter(|a| a.public.is_some())
            .map(|a| a.ip)
            .collect();
        edge.av
            .retain(|a| !publics.contains(&a.ip) || privates.contains(&a.ip));
    }
}

/// An address and the external role it scored best at.
struct Pick<'a> {
    ip: IpAddr,
    c: &'a Candidate,
    service: Service,
    points: u32,
    /// The best score among the other roles.
    runner: u32,
}

impl ChosenEdge {
    fn signature_from(&mut self, c: &Candidate) {
        self.has_signature |= c.signature;
    }
}

/// The partner domain of a host name seen in federation TLS.
pub(crate) fn partner_domain(name: &str) -> Option<String> {
    if is_internal_name(name) {
        return None;
    }
    domain_of(name)
}
