//! The map of the Edge that the HTML report draws as SVG and the TUI as box drawing: the
//! site's Edge services with their addresses, the hosts on either side of it, every flow the
//! port matrix documents for the site as an arrow, and what the capture showed on each.
//!
//! The map is built once from an audit and is the same for both renderers: the *stations*
//! (the Edge services and the reverse proxy, each on the external or internal side), the
//! *remotes* (federated partners and the Internet outside; internal clients and the Front End
//! pool with the other servers inside) and the *arrows* between them, in the order both
//! renderers draw them as lanes top to bottom.
//!
//! An arrow is one documented flow: the applicable rules (version, scenario, features on) that
//! share a station, a remote, a direction and a protocol, with their transports and ports. A
//! flow of the capture lands on the arrow whose rules judged it, coming from the remote its
//! address belongs to: permitted flows make the arrow *seen*, violations that match its rules
//! (a protocol mismatch, a source the rule does not list) make it *violating*. A violation with
//! no documented arrow between its ends becomes an *undocumented* arrow of its own, and one
//! whose remote sits on the other side of the Edge from the station it reached (an internal
//! client at the external address: a NAT hairpin; an Internet host at the internal interface)
//! is drawn as the loop it took. Flows that touch no Edge address are counted off the map.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::flow::tcp::Handshake;
use crate::judge::{Judge, Judgement, Verdict};
use crate::matrix::{
    Direction, Feature, Interface, Matrix, PortSpec, Role, Rule, Service, ServicePort, Transport,
};
use crate::select::Selection;
use crate::topology::{is_edge_role, Topology};

/// The side of the Edge a station or remote is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    External,
    Internal,
}

/// Where the far ends of flows sit. The order is the drawing order on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Remote {
    /// Federated partners: the topology's partner addresses, and the federation rules' peers.
    Partners,
    /// Every other host outside: remote users, partners' media, public services.
    Internet,
    /// Hosts of the client subnets.
    Clients,
    /// The Front End pool, Directors and the other internal servers.
    Servers,
}

impl Remote {
    pub const ALL: [Remote; 4] = [
        Remote::Partners,
        Remote::Internet,
        Remote::Clients,
        Remote::Servers,
    ];

    pub fn side(self) -> Side {
        match self {
            Remote::Partners | Remote::Internet => Side::External,
            Remote::Clients | Remote::Servers => Side::Internal,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Remote::Partners => "Federated partners",
            Remote::Internet => "Internet",
            Remote::Clients => "Internal clients",
            Remote::Servers => "Front End pool and servers",
        }
    }

    /// A one-word name, for narrow terminals and element ids.
    pub fn short(self) -> &'static str {
        match self {
            Remote::Partners => "partners",
            Remote::Internet => "internet",
            Remote::Clients => "clients",
            Remote::Servers => "servers",
        }
    }
}

/// The Edge's own places where flows arrive or leave. The order is the drawing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Station {
    Access,
    Webconf,
    Av,
    RpExternal,
    Internal,
    RpInternal,
}

impl Station {
    pub const ALL: [Station; 6] = [
        Station::Access,
        Station::Webconf,
        Station::Av,
        Station::RpExternal,
        Station::Internal,
        Station::RpInternal,
    ];

    pub fn side(self) -> Side {
        match self {
            Station::Access | Station::Webconf | Station::Av | Station::RpExternal => {
                Side::External
            }
            Station::Internal | Station::RpInternal => Side::Internal,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Station::Access => "Access Edge",
            Station::Webconf => "Web Conferencing Edge",
            Station::Av => "A/V Edge",
            Station::RpExternal => "Reverse proxy, external",
            Station::Internal => "Edge internal interface",
            Station::RpInternal => "Reverse proxy, internal",
        }
    }

    /// A one-word name, for narrow terminals and element ids.
    pub fn short(self) -> &'static str {
        match self {
            Station::Access => "access",
            Station::Webconf => "webconf",
            Station::Av => "av",
            Station::RpExternal => "rp-ext",
            Station::Internal => "internal",
            Station::RpInternal => "rp-int",
        }
    }

    /// Part of the reverse proxy rather than of the Edge.
    pub fn is_reverse_proxy(self) -> bool {
        matches!(self, Station::RpExternal | Station::RpInternal)
    }

    /// The station of a rule's or a judgement's interface and service. VIPs belong to the
    /// service they stand for; the XMPP proxy shares the Access Edge's address.
    pub fn of(interface: Interface, service: Option<Service>) -> Option<Station> {
        Some(match interface {
            Interface::Internal | Interface::InternalVip => Station::Internal,
            Interface::ReverseProxyExternal => Station::RpExternal,
            Interface::ReverseProxyInternal => Station::RpInternal,
            Interface::External | Interface::ExternalVip => match service? {
                Service::Access | Service::XmppProxy => Station::Access,
                Service::Webconf => Station::Webconf,
                Service::Av => Station::Av,
                Service::Internal | Service::ReverseProxy => return None,
            },
        })
    }
}

/// What the capture showed on an arrow, as both renderers colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Documented and seen, every flow permitted.
    Seen,
    /// Documented, and at least one flow on it is a violation.
    Violating,
    /// Documented but never seen.
    Unseen,
    /// Seen, and no documented flow goes between these ends this way.
    Undocumented,
}

impl Status {
    /// The CSS class of the arrow (and the word a legend uses).
    pub fn class(self) -> &'static str {
        match self {
            Status::Seen => "seen",
            Status::Violating => "violating",
            Status::Unseen => "unseen",
            Status::Undocumented => "undocumented",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Seen => "seen, permitted",
            Status::Violating => "seen, violating",
            Status::Unseen => "documented, never seen",
            Status::Undocumented => "not documented",
        }
    }

    pub fn is_violation(self) -> bool {
        matches!(self, Status::Violating | Status::Undocumented)
    }
}

/// Whether an arrow stands for documented rules or only for what was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Documented,
    /// Violations with no documented arrow between their ends; the verdict when they share one.
    Undocumented(Option<Verdict>),
}

/// One transport and port of an arrow ("TCP 443", "UDP from 50000-59999").
#[derive(Debug, Clone)]
pub struct Part {
    pub transport: &'static str,
    pub ports: String,
    /// The rules documenting it (empty for an undocumented arrow).
    pub rules: Vec<String>,
    pub flows: u64,
}

/// One arrow of the map.
#[derive(Debug, Clone)]
pub struct Arrow {
    pub remote: Remote,
    pub station: Station,
    /// The remote end opens the flow (towards the Edge); otherwise the Edge does.
    pub inbound: bool,
    /// The documents' protocol (SIP/TLS, STUN/MSTURN...), or what the payload showed.
    pub protocol: String,
    pub kind: Kind,
    pub parts: Vec<Part>,
    /// Flows on the arrow the matrix permits.
    pub permitted: u64,
    /// Flows on the arrow it does not.
    pub violating: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Flows on the arrow whose connection failed: a SYN unanswered, refused by a reset or
    /// an ICMP error (a documented flow that a firewall blocks shows here).
    pub failed: u64,
    /// Indexes into `Analysis::flows` of every flow on the arrow, in capture order.
    pub flows: Vec<usize>,
}

impl Arrow {
    pub fn status(&self) -> Status {
        match self.kind {
            Kind::Undocumented(_) => Status::Undocumented,
            Kind::Documented if self.violating > 0 => Status::Violating,
            Kind::Documented if self.permitted > 0 => Status::Seen,
            Kind::Documented => Status::Unseen,
        }
    }

    /// The remote is on the other side of the Edge from the station: the flow went round it
    /// (a NAT hairpin from inside, or a host outside reaching the internal interface).
    pub fn crosses(&self) -> bool {
        self.remote.side() != self.station.side()
    }

    /// Transports and ports, parts with the same ports merged: "TCP/UDP 50000-59999 · UDP 3478".
    pub fn ports_label(&self) -> String {
        let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
        for p in &self.parts {
            match groups.iter_mut().find(|(_, ports)| *ports == p.ports) {
                Some((ts, _)) => {
                    if !ts.contains(&p.transport) {
                        ts.push(p.transport);
                    }
                }
                None => groups.push((vec![p.transport], &p.ports)),
            }
        }
        // Neighbours with the same transports share them: "TCP 50001, 50002, 50003".
        let mut merged: Vec<(String, Vec<&str>)> = Vec::new();
        for (ts, ports) in groups {
            let ts = ts.join("/");
            match merged.last_mut() {
                Some((last, ps)) if *last == ts => ps.push(ports),
                _ => merged.push((ts, vec![ports])),
            }
        }
        merged
            .iter()
            .map(|(ts, ports)| format!("{ts} {}", ports.join(", ")))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// Protocol, transports and ports: "SIP/TLS TCP 443".
    pub fn label(&self) -> String {
        let ports = self.ports_label();
        if self.protocol.is_empty() {
            ports
        } else {
            format!("{} {ports}", self.protocol)
        }
    }

    pub fn total(&self) -> u64 {
        self.permitted + self.violating
    }

    /// The counts in words: "3 flows", "1 permitted, 2 violating", "never seen",
    /// "1 wrong-source", with the failed connections: "3 flows, 1 failed".
    pub fn counts_label(&self) -> String {
        let counts = self.flow_counts();
        if self.failed > 0 {
            format!("{counts}, {} failed", self.failed)
        } else {
            counts
        }
    }

    fn flow_counts(&self) -> String {
        let flows = |n: u64| format!("{n} flow{}", if n == 1 { "" } else { "s" });
        match (self.kind, self.permitted, self.violating) {
            (Kind::Undocumented(Some(v)), _, n) => format!("{n} {}", v.label()),
            (Kind::Undocumented(None), _, n) => format!("{} not permitted", flows(n)),
            (Kind::Documented, 0, 0) => "never seen".into(),
            (Kind::Documented, n, 0) => flows(n),
            (Kind::Documented, 0, v) => format!("{} violating", flows(v)),
            (Kind::Documented, p, v) => format!("{p} permitted, {v} violating"),
        }
    }

    /// Who opens the flow, in words: "Internet → Access Edge".
    pub fn ends_label(&self) -> String {
        if self.inbound {
            format!("{} → {}", self.remote.label(), self.station.label())
        } else {
            format!("{} → {}", self.station.label(), self.remote.label())
        }
    }

    /// Every rule the arrow stands for.
    pub fn rules(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in self.parts.iter().flat_map(|p| &p.rules) {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
        out
    }
}

/// What a box of the map says about its place: a title and lines of names and addresses.
#[derive(Debug, Clone)]
pub struct Place {
    pub title: String,
    pub lines: Vec<String>,
}

/// The map of one audit.
#[derive(Debug, Clone)]
pub struct EdgeMap {
    /// The site's name and the Edge servers of its pool.
    pub site: String,
    pub edge_nodes: Vec<String>,
    /// The stations drawn, in drawing order, with their addresses.
    pub stations: Vec<(Station, Place)>,
    /// The remotes drawn, with what they are.
    pub remotes: Vec<(Remote, Place)>,
    /// Every arrow, in lane order: by station, then loops, remotes, documented before
    /// undocumented, inbound before outbound.
    pub arrows: Vec<Arrow>,
    /// Flows shown by the report that touch no address of the Edge or reverse proxy, or
    /// only Edge addresses at both ends.
    pub off_map: u64,
    /// Public (NAT) addresses of the external services, for the external firewall's label.
    pub nat: Vec<(IpAddr, IpAddr)>,
}

/// Undocumented arrows drawn one by one, most flows first; the rest are merged per pair of
/// ends ("other ports").
const UNDOCUMENTED_SHOWN: usize = 16;

impl EdgeMap {
    /// The map of an audit's flows, or of a display filter's selection.
    pub fn build(
        analysis: &Analysis,
        audit: &Audit,
        matrix: &Matrix,
        selection: Option<&Selection>,
    ) -> EdgeMap {
        let topology: &Topology = &audit.site;
        let judge = Judge::new(topology, matrix);
        let mut arrows = documented(&judge, topology);
        let mut index: HashMap<(Remote, Station, bool), Vec<usize>> = HashMap::new();
        for (i, a) in arrows.iter().enumerate() {
            index
                .entry((a.remote, a.station, a.inbound))
                .or_default()
                .push(i);
        }
        let mut undocumented: HashMap<UndocumentedKey, Arrow> = HashMap::new();
        let mut off_map = 0u64;
        let places = Places::of(topology);
        let media = topology.port(ServicePort::Media);
        for i in crate::select::shown(selection, analysis.flows.len()) {
            let (Some(f), Some(j)) = (analysis.flows.get(i), audit.judgements.get(i)) else {
                continue;
            };
            let Some(placed) = place(f, j, &places) else {
                off_map += 1;
                continue;
            };
            // A flow a firewall log says it denied never reached the Edge: not drawn as a
            // violation.
            let violation = j.verdict.is_violation() && !audit.is_denied(i);
            // The documented arrow between these ends whose rules judged the flow; a permitted
            // flow from a partner on an Internet arrow (their media) falls back to any arrow
            // of the station with its rule.
            let mut found = find(&arrows, &index, placed.key(), j);
            if found.is_none() && !violation {
                found = arrows.iter().enumerate().find_map(|(ai, a)| {
                    (a.station == placed.station && a.inbound == placed.inbound)
                        .then(|| part_of(a, j).map(|pi| (ai, pi)))
                        .flatten()
                });
            }
            let arrow = match found {
                Some((ai, pi)) => {
                    let a = &mut arrows[ai];
                    a.parts[pi].flows += 1;
                    a
                }
                None => {
                    let key = UndocumentedKey::of(f, j, &placed, media, violation);
                    let a = undocumented
                        .entry(key.clone())
                        .or_insert_with(|| key.arrow(f, j, analysis));
                    a.parts[0].flows += 1;
                    a
                }
            };
            if violation {
                arrow.violating += 1;
            } else {
                arrow.permitted += 1;
            }
            arrow.packets += f.packets();
            arrow.bytes += f.wire_bytes();
            if matches!(
                f.handshake(),
                Some(
                    Handshake::SynUnanswered { .. }
                        | Handshake::RefusedByRst
                        | Handshake::UnreachableByIcmp
                )
            ) {
                arrow.failed += 1;
            }
            arrow.flows.push(i);
        }
        arrows.extend(cap_undocumented(undocumented.into_values().collect()));
        arrows.sort_by(|a, b| lane_order(a).cmp(&lane_order(b)));
        let stations = Station::ALL
            .into_iter()
            .filter(|s| places.has(*s) || arrows.iter().any(|a| a.station == *s))
            .map(|s| (s, places.station(s)))
            .collect();
        let remotes = Remote::ALL
            .into_iter()
            .filter(|r| *r != Remote::Partners || arrows.iter().any(|a| a.remote == *r))
            .map(|r| (r, places.remote(r)))
            .collect();
        EdgeMap {
            site: topology.name.clone(),
            edge_nodes: topology.edges.iter().map(|e| e.name.clone()).collect(),
            stations,
            remotes,
            arrows,
            off_map,
            nat: topology
                .edges
                .iter()
                .flat_map(|e| [&e.access, &e.webconf, &e.av])
                .filter_map(|s| s.public.filter(|p| *p != s.ip).map(|p| (p, s.ip)))
                .collect(),
        }
    }

    /// The arrows of a station, in lane order.
    pub fn lanes(&self, station: Station) -> impl Iterator<Item = (usize, &Arrow)> {
        self.arrows
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.station == station)
    }

    pub fn place(&self, station: Station) -> Option<&Place> {
        self.stations
            .iter()
            .find(|(s, _)| *s == station)
            .map(|(_, p)| p)
    }

    pub fn remote_place(&self, remote: Remote) -> Option<&Place> {
        self.remotes
            .iter()
            .find(|(r, _)| *r == remote)
            .map(|(_, p)| p)
    }

    /// Arrows by status, for a legend.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut m = BTreeMap::new();
        for a in &self.arrows {
            *m.entry(a.status()).or_insert(0) += 1;
        }
        m
    }
}

/// The order of the lanes: stations in drawing order; in each, the loops first (they come
/// down from above), then remotes in drawing order, documented arrows before undocumented
/// ones, inbound before outbound.
fn lane_order(a: &Arrow) -> impl Ord + '_ {
    (
        a.station,
        !a.crosses(),
        a.remote,
        matches!(a.kind, Kind::Undocumented(_)),
        !a.inbound,
        a.protocol.as_str(),
        a.parts.first().map(|p| (p.ports.as_str(), p.transport)),
    )
}

/// The documented arrows of a site: the applicable rules whose feature is on, grouped.
fn documented(judge: &Judge<'_>, topology: &Topology) -> Vec<Arrow> {
    let has_rp = topology
        .roles
        .values()
        .flatten()
        .any(|r| matches!(r, Role::ReverseProxyExternal | Role::ReverseProxyInternal));
    let mut arrows: Vec<Arrow> = Vec::new();
    for rule in judge.applicable() {
        if rule.feature.is_some_and(|f| !topology.feature(f)) {
            continue;
        }
        let Some(station) = Station::of(rule.interface, Some(rule.service)) else {
            continue;
        };
        if station.is_reverse_proxy() && !has_rp {
            continue;
        }
        let inbound = matches!(
            rule.direction,
            Direction::InboundToEdge | Direction::InboundToReverseProxy
        );
        let remote_roles = if inbound { &rule.src } else { &rule.dst };
        let transport = match rule.transport {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        };
        let ports = rule_ports(judge, rule);
        for remote in remotes_of(rule, remote_roles, station.side()) {
            let i = match arrows.iter().position(|a| {
                a.remote == remote
                    && a.station == station
                    && a.inbound == inbound
                    && a.protocol == rule.protocol
            }) {
                Some(i) => i,
                None => {
                    arrows.push(Arrow {
                        remote,
                        station,
                        inbound,
                        protocol: rule.protocol.clone(),
                        kind: Kind::Documented,
                        parts: Vec::new(),
                        permitted: 0,
                        violating: 0,
                        packets: 0,
                        bytes: 0,
                        failed: 0,
                        flows: Vec::new(),
                    });
                    arrows.len() - 1
                }
            };
            let parts = &mut arrows[i].parts;
            match parts
                .iter_mut()
                .find(|p| p.transport == transport && p.ports == ports)
            {
                Some(p) => p.rules.push(rule.id.clone()),
                None => parts.push(Part {
                    transport,
                    ports: ports.clone(),
                    rules: vec![rule.id.clone()],
                    flows: 0,
                }),
            }
        }
    }
    for a in &mut arrows {
        a.parts.sort_by(|x, y| {
            (x.ports.starts_with("from"), &x.ports, x.transport).cmp(&(
                y.ports.starts_with("from"),
                &y.ports,
                y.transport,
            ))
        });
    }
    arrows
}

/// A rule's ports with the site's service ports filled in: the destination port, or the
/// source port when the destination is any ("from 50000-59999").
fn rule_ports(judge: &Judge<'_>, rule: &Rule) -> String {
    match (
        judge.resolved(&rule.dst_port),
        judge.resolved(&rule.src_port),
    ) {
        (PortSpec::Any, PortSpec::Any) => "any port".into(),
        (PortSpec::Any, src) => format!("from {src}"),
        (dst, _) => dst.to_string(),
    }
}

/// Where a rule's far end sits. Outside: the federation rules' peers (a partner role, or
/// `any` on a rule of the federation, XMPP or public IM feature) are the partners, every
/// other host the Internet. Inside: clients, servers, or both for `any internal host`.
/// Rules between Edge servers are not drawn.
fn remotes_of(rule: &Rule, roles: &[Role], side: Side) -> Vec<Remote> {
    if roles.iter().any(|r| is_edge_role(*r)) {
        return Vec::new();
    }
    match side {
        Side::External => {
            let partners_only = roles.iter().all(|r| *r == Role::FederatedPartner);
            let federation = matches!(
                rule.feature,
                Some(Feature::Federation | Feature::Xmpp | Feature::PublicIm)
            ) && roles.iter().all(|r| *r == Role::Any);
            if partners_only || federation {
                vec![Remote::Partners]
            } else {
                vec![Remote::Internet]
            }
        }
        Side::Internal => {
            let mut out = Vec::new();
            for r in roles {
                let these: &[Remote] = match r {
                    Role::InternalClient => &[Remote::Clients],
                    Role::Any => &[Remote::Clients, Remote::Servers],
                    _ => &[Remote::Servers],
                };
                for t in these {
                    if !out.contains(t) {
                        out.push(*t);
                    }
                }
            }
            out.sort();
            out
        }
    }
}

/// A flow placed on the map.
struct Placed {
    remote: Remote,
    station: Station,
    inbound: bool,
    /// The Edge end's port when the flow is inbound, the remote's when it is outbound: the
    /// service port.
    port: u16,
}

impl Placed {
    fn key(&self) -> (Remote, Station, bool) {
        (self.remote, self.station, self.inbound)
    }
}

/// Where a judged flow sits on the map; `None` for a flow that touches no Edge address, or
/// Edge addresses at both ends.
fn place(f: &crate::flow::Flow, j: &Judgement, places: &Places) -> Option<Placed> {
    let station = Station::of(j.edge_interface?, j.edge_service)?;
    let inbound = matches!(
        j.direction?,
        Direction::InboundToEdge | Direction::InboundToReverseProxy
    );
    // The judge's initiator is the flow's, or its responder when it judged the flow reversed.
    let (opener, answerer) = if j.judged_reversed {
        (f.responder, f.initiator)
    } else {
        (f.initiator, f.responder)
    };
    let (remote, port) = if inbound {
        (opener.ip, answerer.port)
    } else {
        (answerer.ip, answerer.port)
    };
    Some(Placed {
        remote: places.remote_of(remote)?,
        station,
        inbound,
        port,
    })
}

/// The documented arrow between a placed flow's ends with a part whose rules judged it.
fn find(
    arrows: &[Arrow],
    index: &HashMap<(Remote, Station, bool), Vec<usize>>,
    key: (Remote, Station, bool),
    j: &Judgement,
) -> Option<(usize, usize)> {
    index
        .get(&key)?
        .iter()
        .find_map(|&ai| part_of(&arrows[ai], j).map(|pi| (ai, pi)))
}

fn part_of(a: &Arrow, j: &Judgement) -> Option<usize> {
    a.parts
        .iter()
        .position(|p| p.rules.iter().any(|r| j.cites(r)))
}

/// What groups the flows of an undocumented arrow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UndocumentedKey {
    remote: Remote,
    station: Station,
    inbound: bool,
    transport: &'static str,
    ports: String,
    verdict: Verdict,
}

impl UndocumentedKey {
    fn of(
        f: &crate::flow::Flow,
        j: &Judgement,
        placed: &Placed,
        media: PortSpec,
        violation: bool,
    ) -> UndocumentedKey {
        // Media ports are one range, not thousands of arrows.
        let ports = if matches!(media, PortSpec::Range(..)) && media.matches(placed.port) {
            media.to_string()
        } else {
            placed.port.to_string()
        };
        UndocumentedKey {
            remote: placed.remote,
            station: placed.station,
            inbound: placed.inbound,
            transport: transport_word(f.protocol),
            ports,
            // A permitted flow that no arrow took (it should not happen) is still shown.
            verdict: if violation {
                j.verdict
            } else {
                Verdict::Permitted
            },
        }
    }

    fn arrow(&self, f: &crate::flow::Flow, j: &Judgement, analysis: &Analysis) -> Arrow {
        let protocol = if !j.documented.is_empty() {
            j.documented.to_string()
        } else {
            analysis
                .identification(f)
                .filter(|i| i.protocol != crate::identify::Protocol::Unknown)
                .map(|i| i.protocol.label().to_string())
                .unwrap_or_default()
        };
        Arrow {
            remote: self.remote,
            station: self.station,
            inbound: self.inbound,
            protocol,
            kind: if self.verdict.is_violation() {
                Kind::Undocumented(Some(self.verdict))
            } else {
                Kind::Documented
            },
            parts: vec![Part {
                transport: self.transport,
                ports: self.ports.clone(),
                rules: j.rules.iter().map(|r| r.to_string()).collect(),
                flows: 0,
            }],
            permitted: 0,
            violating: 0,
            packets: 0,
            bytes: 0,
            failed: 0,
            flows: Vec::new(),
        }
    }
}

fn transport_word(protocol: u8) -> &'static str {
    match protocol {
        6 => "TCP",
        17 => "UDP",
        1 => "ICMP",
        58 => "ICMPv6",
        _ => "IP",
    }
}

/// Keeps the undocumented arrows with the most flows; merges the rest per pair of ends and
/// direction, so that a capture full of stray ports still draws a readable map.
fn cap_undocumented(mut arrows: Vec<Arrow>) -> Vec<Arrow> {
    arrows.sort_by(|a, b| {
        b.total()
            .cmp(&a.total())
            .then_with(|| lane_order(a).cmp(&lane_order(b)))
    });
    if arrows.len() <= UNDOCUMENTED_SHOWN {
        return arrows;
    }
    let rest = arrows.split_off(UNDOCUMENTED_SHOWN - 1);
    let mut merged: Vec<Arrow> = Vec::new();
    for a in rest {
        match merged
            .iter_mut()
            .find(|m| (m.remote, m.station, m.inbound) == (a.remote, a.station, a.inbound))
        {
            Some(m) => {
                m.permitted += a.permitted;
                m.violating += a.violating;
                m.packets += a.packets;
                m.bytes += a.bytes;
                m.failed += a.failed;
                m.flows.extend(a.flows);
                m.parts[0].flows += a.parts[0].flows;
                if m.kind != a.kind {
                    m.kind = Kind::Undocumented(None);
                }
            }
            None => merged.push(Arrow {
                protocol: String::new(),
                parts: vec![Part {
                    transport: "any",
                    ports: "other ports".into(),
                    rules: Vec::new(),
                    flows: a.parts[0].flows,
                }],
                ..a
            }),
        }
    }
    for m in &mut merged {
        m.flows.sort_unstable();
        if !matches!(m.kind, Kind::Undocumented(_)) {
            m.kind = Kind::Undocumented(None);
        }
    }
    arrows.extend(merged);
    arrows
}

/// The site's addresses by what they are, for placing flows and labelling boxes.
struct Places<'a> {
    topology: &'a Topology,
    partners: Vec<IpAddr>,
}

impl<'a> Places<'a> {
    fn of(topology: &'a Topology) -> Places<'a> {
        Places {
            topology,
            partners: topology
                .partners
                .iter()
                .flat_map(|p| p.access_edge.iter().chain(&p.av_edge).copied())
                .collect(),
        }
    }

    /// The remote an address belongs to; `None` for an Edge or reverse proxy address.
    fn remote_of(&self, ip: IpAddr) -> Option<Remote> {
        let t = self.topology;
        let roles = t.roles_of(ip);
        if roles.iter().any(|r| {
            is_edge_role(*r) || matches!(r, Role::ReverseProxyExternal | Role::ReverseProxyInternal)
        }) {
            return None;
        }
        Some(if t.is_internal_host(ip) {
            if roles.contains(&Role::InternalClient) {
                Remote::Clients
            } else {
                Remote::Servers
            }
        } else if self.partners.contains(&ip) {
            Remote::Partners
        } else {
            Remote::Internet
        })
    }

    fn with_role(&self, role: Role) -> Vec<IpAddr> {
        self.topology
            .roles
            .iter()
            .filter(|(_, rs)| rs.contains(&role))
            .map(|(ip, _)| *ip)
            .collect()
    }

    fn has(&self, s: Station) -> bool {
        match s {
            Station::RpExternal => !self.with_role(Role::ReverseProxyExternal).is_empty(),
            Station::RpInternal => !self.with_role(Role::ReverseProxyInternal).is_empty(),
            _ => !self.topology.edges.is_empty(),
        }
    }

    fn station(&self, s: Station) -> Place {
        let t = self.topology;
        let mut lines = Vec::new();
        let service = |e: &'a crate::topology::EdgeNode| match s {
            Station::Access => Some(&e.access),
            Station::Webconf => Some(&e.webconf),
            Station::Av => Some(&e.av),
            _ => None,
        };
        let vip = match s {
            Station::Access => Some(Role::EdgeAccessVip),
            Station::Webconf => Some(Role::EdgeWebconfVip),
            Station::Av => Some(Role::EdgeAvVip),
            Station::Internal => Some(Role::EdgeInternalVip),
            _ => None,
        };
        match s {
            Station::Access | Station::Webconf | Station::Av => {
                for e in &t.edges {
                    let Some(a) = service(e) else { continue };
                    lines.push(format!("{} {}", e.name, a.ip));
                    if let Some(p) = a.public.filter(|p| *p != a.ip) {
                        lines.push(format!("  public {p}"));
                    }
                    if let Some(fqdn) = &a.fqdn {
                        lines.push(format!("  {fqdn}"));
                    }
                }
            }
            Station::Internal => {
                for e in &t.edges {
                    let ips: Vec<String> = e.internal.iter().map(IpAddr::to_string).collect();
                    lines.push(format!("{} {}", e.name, ips.join(", ")));
                }
            }
            Station::RpExternal => {
                for ip in self.with_role(Role::ReverseProxyExternal) {
                    lines.push(ip.to_string());
                }
            }
            Station::RpInternal => {
                for ip in self.with_role(Role::ReverseProxyInternal) {
                    lines.push(ip.to_string());
                }
            }
        }
        if let Some(role) = vip {
            for ip in self.with_role(role) {
                lines.push(format!("VIP {ip}"));
            }
        }
        Place {
            title: s.label().to_string(),
            lines,
        }
    }

    fn remote(&self, r: Remote) -> Place {
        let t = self.topology;
        let mut lines = Vec::new();
        match r {
            Remote::Partners => {
                for p in &t.partners {
                    lines.push(p.domain.clone());
                    for ip in p.access_edge.iter().chain(&p.av_edge) {
                        lines.push(format!("  {ip}"));
                    }
                }
                if lines.is_empty() {
                    lines.push("none named in the topology".into());
                }
            }
            Remote::Internet => {
                lines.push("remote users".into());
                lines.push("partners' media".into());
                lines.push("public services".into());
            }
            Remote::Clients => {
                for n in &t.client_subnets {
                    lines.push(n.to_string());
                }
                if lines.is_empty() {
                    lines.push("no client_subnets given".into());
                }
            }
            Remote::Servers => {
                let lync_only: Vec<IpAddr> = t
                    .roles
                    .iter()
                    .filter(|(_, rs)| {
                        rs.contains(&Role::LyncServer)
                            && !rs.iter().any(|r| {
                                matches!(r, Role::Fe | Role::Director | Role::Sba | Role::CmsFe)
                            })
                    })
                    .map(|(ip, _)| *ip)
                    .collect();
                for (name, ips) in [
                    ("Front End", self.with_role(Role::Fe)),
                    ("pool VIP", self.with_role(Role::FePoolVip)),
                    ("Director", self.with_role(Role::Director)),
                    ("Director VIP", self.with_role(Role::DirectorPoolVip)),
                    ("SBA", self.with_role(Role::Sba)),
                    ("XMPP gateway", self.with_role(Role::XmppGateway)),
                    ("other servers", lync_only),
                ] {
                    match ips.as_slice() {
                        [] => {}
                        [one] => lines.push(format!("{name} {one}")),
                        many => {
                            lines.push(name.to_string());
                            lines.extend(many.iter().map(|ip| format!("  {ip}")));
                        }
                    }
                }
                for n in &t.server_subnets {
                    lines.push(format!("subnet {n}"));
                }
                if lines.is_empty() {
                    lines.push("none named in the topology".into());
                }
            }
        }
        Place {
            title: r.label().to_string(),
            lines,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::SAMPLE;
    use std::path::Path;

    fn sample_map() -> EdgeMap {
        let topology = Topology::parse(SAMPLE, Path::new("site.toml")).expect("sample");
        let matrix = Matrix::builtin().expect("matrix");
        let analysis = crate::analysis::analyze(
            &[],
            crate::flow::FlowConfig::default(),
            &crate::analysis::NoProgress,
        );
        let audit = crate::audit::audit(&analysis, &topology, matrix, false);
        EdgeMap::build(&analysis, &audit, matrix, None)
    }

    #[test]
    fn every_documented_flow_of_the_sample_site_is_an_arrow() {
        let map = sample_map();
        assert!(map.arrows.iter().all(|a| a.status() == Status::Unseen));
        let labels: Vec<String> = map
            .arrows
            .iter()
            .map(|a| format!("{} {}", a.ends_label(), a.label()))
            .collect();
        for want in [
            "Internet → Access Edge SIP/TLS TCP 443",
            "Federated partners → Access Edge SIP/MTLS TCP 5061",
            "Access Edge → Federated partners SIP/MTLS TCP 5061",
            "Internet → A/V Edge STUN/MSTURN UDP 3478 · TCP 443",
            "Internet → Web Conferencing Edge PSOM/TLS TCP 443",
            "Front End pool and servers → Edge internal interface PSOM/MTLS TCP 8057",
            "Internal clients → Edge internal interface STUN/MSTURN UDP 3478 · TCP 443",
            "Reverse proxy, internal → Front End pool and servers HTTPS TCP 4443, 8080",
            "Front End pool and servers → Edge internal interface MTLS TCP 50001, 50002, 50003",
        ] {
            assert!(
                labels.iter().any(|l| l == want),
                "{want} not in {labels:#?}"
            );
        }
        // XMPP is off in the sample: its rules draw no arrow.
        assert!(!labels.iter().any(|l| l.contains("XMPP")), "{labels:#?}");
        // Lanes are grouped by station in drawing order.
        let stations: Vec<Station> = map.arrows.iter().map(|a| a.station).collect();
        let mut sorted = stations.clone();
        sorted.sort();
        assert_eq!(stations, sorted);
    }

    #[test]
    fn the_places_name_the_sites_addresses() {
        let map = sample_map();
        let access = map.place(Station::Access).expect("access");
        assert_eq!(
            access.lines,
            [
                "edge1 10.45.16.10",
                "  public 131.107.155.10",
                "  sip.contoso.com"
            ]
        );
        let servers = map.remote_place(Remote::Servers).expect("servers");
        assert_eq!(
            servers.lines[..3],
            ["Front End", "  192.168.10.90", "  192.168.10.91"]
        );
        assert!(map.place(Station::RpExternal).is_some());
        assert_eq!(map.nat.len(), 3);
    }
}
