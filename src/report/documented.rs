//! Documented flows: the matrix rules that apply to a site, resolved to the site's addresses and
//! ports and merged where several documents describe the same flow.
//!
//! The matrix keeps one rule per document row, so the same flow (SIP/TLS to the Access Edge on
//! 443, say) appears once per document that lists it. For a reader that is one flow with several
//! citations: rules with the same firewall, interface, direction, transport, ports and Edge
//! addresses become one [`DocumentedFlow`], the remote side being the union of the rules' (any
//! address absorbs the others). A rule whose feature is off, whose roles the site lacks, or that
//! the documents contradict stays apart, with why: `edgewise matrix` does not ask a firewall to
//! open it, and an audit does not count it among the flows a capture should have shown.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use crate::judge::{role_words, service_label, Judge};
use crate::matrix::{
    Citation, Direction, Feature, Interface, PortSpec, Role, Rule, RuleVerdict, Service, Transport,
};
use crate::topology::Topology;

/// Which firewall a documented flow crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Firewall {
    /// Between the Internet and the Edge's external interfaces (and the reverse proxy's listener).
    External,
    /// Between the corporate network and the Edge's internal interface (and the reverse proxy's).
    Internal,
}

impl Firewall {
    pub fn of(i: Interface) -> Firewall {
        match i {
            Interface::External | Interface::ExternalVip | Interface::ReverseProxyExternal => {
                Firewall::External
            }
            Interface::Internal | Interface::InternalVip | Interface::ReverseProxyInternal => {
                Firewall::Internal
            }
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Firewall::External => "External firewall",
            Firewall::Internal => "Internal firewall",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Firewall::External => {
                "between the Internet and the Edge's external interfaces and the reverse proxy's listener"
            }
            Firewall::Internal => {
                "between the corporate network and the Edge's internal interface and the reverse proxy's"
            }
        }
    }

    /// The id machine formats use.
    pub fn id(self) -> &'static str {
        match self {
            Firewall::External => "external",
            Firewall::Internal => "internal",
        }
    }
}

/// One side of a documented flow, with the site's addresses filled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Peers {
    /// Any address on that side.
    pub any: bool,
    /// Addresses and subnets, as text, in order.
    pub hosts: BTreeSet<String>,
    /// Roles the rule names that the site does not have.
    pub missing: Vec<Role>,
    /// The side is the internal one (for the words of `any`).
    internal: bool,
}

impl Peers {
    /// The side in words and addresses: `any`, `any internal host`, or the addresses.
    pub fn list(&self) -> Vec<String> {
        if self.any {
            vec![if self.internal {
                "any internal host".to_string()
            } else {
                "any".to_string()
            }]
        } else {
            sort_addresses(&self.hosts)
        }
    }

    /// [`Peers::list`], or the roles the site lacks when no address stands for the side.
    pub fn words(&self) -> Vec<String> {
        if self.is_empty() {
            self.missing
                .iter()
                .map(|r| format!("{} (none in the topology)", role_words(*r)))
                .collect()
        } else {
            self.list()
        }
    }

    /// No address of the site stands for this side.
    pub fn is_empty(&self) -> bool {
        !self.any && self.hosts.is_empty()
    }

    fn absorb(&mut self, other: &Peers) {
        self.any |= other.any;
        if self.any {
            self.hosts.clear();
        } else {
            self.hosts.extend(other.hosts.iter().cloned());
        }
    }
}

/// Addresses in numeric order (subnets after addresses), not text order.
fn sort_addresses(hosts: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<&String> = hosts.iter().collect();
    v.sort_by_key(|h| {
        let ip = h.split('/').next().and_then(|a| a.parse::<IpAddr>().ok());
        (h.contains('/'), ip, (*h).clone())
    });
    v.into_iter().cloned().collect()
}

/// Whether a documented flow is one to open here, or why not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Permitted for this site (`with_note`: every rule is `permit-note`).
    Open { with_note: bool },
    /// Documented for a feature the site has turned off.
    FeatureOff(Feature),
    /// Documented between roles the site does not have.
    Lacking(Vec<Role>),
    /// Documented by one document but contradicted by the others (`flag`).
    Contradicted,
}

impl Status {
    fn class(&self) -> u8 {
        match self {
            Status::Open { .. } => 0,
            Status::FeatureOff(_) => 1,
            Status::Lacking(_) => 2,
            Status::Contradicted => 3,
        }
    }

    /// Why a documented flow is not asked for, in words; `None` for an open one.
    pub fn why(&self, topology: &Topology) -> Option<String> {
        match self {
            Status::Open { .. } => None,
            Status::FeatureOff(f) => Some(format!(
                "[features] {} is off in {}",
                feature_name(*f),
                topology.source
            )),
            Status::Lacking(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| role_words(*r)).collect();
                Some(format!(
                    "the topology has no {}",
                    crate::judge::words_list(&names)
                        .trim_start_matches("the ")
                        .replace(" and the ", " and ")
                ))
            }
            Status::Contradicted => {
                Some("documented by one document and contradicted by the others".to_string())
            }
        }
    }
}

/// The feature's name as the topology's `[features]` writes it.
pub fn feature_name(f: Feature) -> String {
    crate::report::audit::id_of(f)
}

/// A flow the documents describe, for this site.
#[derive(Debug, Clone)]
pub struct DocumentedFlow<'a> {
    /// The rules that describe it, in the data file's order.
    pub rules: Vec<&'a Rule>,
    pub firewall: Firewall,
    pub interface: Interface,
    pub direction: Direction,
    pub transport: Transport,
    /// The Edge (or reverse proxy) service the flow belongs to.
    pub service: Service,
    pub src: Peers,
    pub src_port: PortSpec,
    pub dst: Peers,
    pub dst_port: PortSpec,
    pub status: Status,
}

impl DocumentedFlow<'_> {
    /// The documents' protocol labels, distinct, in order.
    pub fn protocols(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for r in &self.rules {
            if !v.contains(&r.protocol.as_str()) {
                v.push(&r.protocol);
            }
        }
        v
    }

    /// What the flow is for: the first document's note for it.
    pub fn purpose(&self) -> &str {
        self.rules
            .iter()
            .map(|r| r.note.trim())
            .find(|n| !n.is_empty())
            .unwrap_or("")
    }

    /// Every citation of every rule, each once.
    pub fn citations(&self) -> Vec<Citation> {
        let mut seen = HashSet::new();
        self.rules
            .iter()
            .flat_map(|r| r.citations())
            .filter(|c| seen.insert(c.to_string()))
            .collect()
    }

    /// The rules' ids.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// The Edge side of the flow: the destination of an inbound flow, the source of an outbound.
    pub fn edge_side(&self) -> &Peers {
        if inbound(self.direction) {
            &self.dst
        } else {
            &self.src
        }
    }

    /// `inbound to the Access Edge`, `outbound from the Edge internal interface`.
    pub fn direction_words(&self) -> String {
        let what = match (self.interface, self.service) {
            (_, Service::Internal) => service_label(self.service).to_string(),
            (Interface::Internal, s) => format!("{}'s internal interface", service_label(s)),
            (Interface::InternalVip, s) => format!("{}'s internal VIP", service_label(s)),
            (Interface::ExternalVip, s) => format!("{} VIP", service_label(s)),
            (_, s) => service_label(s).to_string(),
        };
        if inbound(self.direction) {
            format!("inbound to the {what}")
        } else {
            format!("outbound from the {what}")
        }
    }

    /// `TCP 443`, `UDP 50000-59999`, `TCP any` (the destination port, the site's own).
    pub fn port_words(&self) -> String {
        format!("{} {}", transport_name(self.transport), self.dst_port)
    }

    /// One line: `SIP/TLS TCP 443 inbound to the Access Edge (10.45.16.10, 131.107.155.10)`,
    /// with the remote side and a source port where the documents give one.
    pub fn summary(&self) -> String {
        let edge = self.edge_side().words().join(", ");
        let (remote, towards) = if inbound(self.direction) {
            (&self.src, "from")
        } else {
            (&self.dst, "to")
        };
        let mut s = format!(
            "{} {} {} ({edge}) {towards} {}",
            self.protocols().join(" or "),
            self.port_words(),
            self.direction_words(),
            remote.words().join(", ")
        );
        if self.src_port != PortSpec::Any {
            s.push_str(&format!(", from port {}", self.src_port));
        }
        s
    }
}

fn inbound(d: Direction) -> bool {
    matches!(
        d,
        Direction::InboundToEdge | Direction::InboundToReverseProxy
    )
}

pub fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Tcp => "TCP",
        Transport::Udp => "UDP",
    }
}

/// Does an address with `roles` stand for `wanted`? As the judge matches roles: a Front End
/// holding the Central Management store is a Front End, every internal server is a Lync server.
fn plays(roles: &[Role], wanted: Role) -> bool {
    match wanted {
        Role::Fe => roles.iter().any(|r| matches!(r, Role::Fe | Role::CmsFe)),
        Role::LyncServer => roles.iter().any(|r| {
            matches!(
                r,
                Role::LyncServer | Role::Fe | Role::Director | Role::Sba | Role::CmsFe
            )
        }),
        other => roles.contains(&other),
    }
}

/// A rule's role list resolved to the site's addresses; `internal` says which side of the Edge
/// `any` stands for.
pub fn peers(topology: &Topology, roles: &[Role], internal: bool) -> Peers {
    let mut p = Peers {
        internal,
        ..Peers::default()
    };
    for role in roles {
        match role {
            Role::Any | Role::ExternalClient => p.any = true,
            // Federated partners are any address outside, listed or not (the judge's reading).
            Role::FederatedPartner => p.any = true,
            Role::InternalClient => {
                if topology.client_subnets.is_empty() {
                    p.missing.push(*role);
                } else {
                    p.hosts
                        .extend(topology.client_subnets.iter().map(|n| n.to_string()));
                }
            }
            role => {
                let before = p.hosts.len();
                p.hosts.extend(
                    topology
                        .roles
                        .iter()
                        .filter(|(_, rs)| plays(rs, *role))
                        .map(|(ip, _)| ip.to_string()),
                );
                if p.hosts.len() == before && !topology.roles.iter().any(|(_, rs)| plays(rs, *role))
                {
                    p.missing.push(*role);
                }
            }
        }
    }
    if p.any {
        p.hosts.clear();
    }
    p
}

fn resolved_port(topology: &Topology, spec: PortSpec) -> PortSpec {
    match spec {
        PortSpec::Named(sp) => topology.port(sp),
        other => other,
    }
}

fn service_of(rule: &Rule) -> Service {
    rule.service
}

/// The documented flows of a site: every rule that applies to it (its version and scenario),
/// resolved and merged, in the order a firewall request lists them (external firewall first;
/// by interface, service, direction, port).
pub fn documented_flows<'a>(judge: &Judge<'a>) -> Vec<DocumentedFlow<'a>> {
    let topology = judge.topology;
    let mut flows: Vec<DocumentedFlow<'a>> = Vec::new();
    for &rule in judge.applicable() {
        let internal = Firewall::of(rule.interface) == Firewall::Internal;
        let src = peers(topology, &rule.src, internal);
        let dst = peers(topology, &rule.dst, internal);
        let status = match (rule.verdict, rule.feature) {
            (RuleVerdict::PermitIf, Some(f)) if !topology.feature(f) => Status::FeatureOff(f),
            _ if src.is_empty() || dst.is_empty() => {
                let mut missing = src.missing.clone();
                missing.extend(dst.missing.iter().copied());
                Status::Lacking(missing)
            }
            (RuleVerdict::Flag, _) => Status::Contradicted,
            (verdict, _) => Status::Open {
                with_note: verdict == RuleVerdict::PermitNote,
            },
        };
        let candidate = DocumentedFlow {
            rules: vec![rule],
            firewall: Firewall::of(rule.interface),
            interface: rule.interface,
            direction: rule.direction,
            transport: rule.transport,
            service: service_of(rule),
            src_port: resolved_port(topology, rule.src_port),
            dst_port: resolved_port(topology, rule.dst_port),
            src,
            dst,
            status,
        };
        let same = flows.iter_mut().find(|f| {
            f.interface == candidate.interface
                && f.direction == candidate.direction
                && f.transport == candidate.transport
                && f.src_port == candidate.src_port
                && f.dst_port == candidate.dst_port
                && f.status.class() == candidate.status.class()
                && match &candidate.status {
                    Status::FeatureOff(x) => f.status == Status::FeatureOff(*x),
                    _ => true,
                }
                && f.edge_side().hosts == candidate.edge_side().hosts
                && f.edge_side().any == candidate.edge_side().any
        });
        match same {
            Some(f) => {
                if inbound(f.direction) {
                    f.src.absorb(&candidate.src);
                } else {
                    f.dst.absorb(&candidate.dst);
                }
                f.rules.push(rule);
                if let (Status::Open { with_note }, Status::Open { with_note: other }) =
                    (&mut f.status, &candidate.status)
                {
                    *with_note &= *other;
                }
                if let (Status::Lacking(a), Status::Lacking(b)) = (&mut f.status, &candidate.status)
                {
                    for r in b {
                        if !a.contains(r) {
                            a.push(*r);
                        }
                    }
                }
            }
            None => flows.push(candidate),
        }
    }
    let port_key = |p: PortSpec| match p {
        PortSpec::Any => (u16::MAX, u16::MAX),
        PortSpec::Single(x) => (x, x),
        PortSpec::Range(lo, hi) => (lo, hi),
        PortSpec::Named(sp) => match sp.default_port() {
            PortSpec::Single(x) => (x, x),
            PortSpec::Range(lo, hi) => (lo, hi),
            _ => (u16::MAX, u16::MAX),
        },
    };
    flows.sort_by_key(|f| {
        (
            f.firewall,
            f.status.class(),
            f.interface,
            f.service,
            f.direction,
            port_key(f.dst_port),
            port_key(f.src_port),
            f.transport,
        )
    });
    flows
}

/// The addresses a capture shows, for telling a documented flow the capture could not have
/// seen (none of its Edge-side addresses appears) from one it should have.
pub fn seen_addresses(analysis: &crate::analysis::Analysis) -> HashSet<IpAddr> {
    let mut seen = HashSet::new();
    for f in &analysis.flows {
        seen.insert(f.initiator.ip);
        seen.insert(f.responder.ip);
    }
    seen
}

/// Whether the capture shows any Edge-side address of the flow.
pub fn in_view(flow: &DocumentedFlow<'_>, seen: &HashSet<IpAddr>) -> bool {
    let edge = flow.edge_side();
    edge.any
        || edge
            .hosts
            .iter()
            .filter_map(|h| h.parse::<IpAddr>().ok())
            .any(|ip| seen.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::topology::SAMPLE;
    use std::path::Path;

    fn sample_flows(f: impl FnOnce(&[DocumentedFlow<'_>], &Topology)) {
        let site = Topology::parse(SAMPLE, Path::new("site.toml")).expect("sample");
        let matrix = Matrix::builtin().expect("matrix");
        let judge = Judge::new(&site, matrix);
        f(&documented_flows(&judge), &site);
    }

    #[test]
    fn one_flow_per_documented_flow_with_every_citation() {
        sample_flows(|flows, _| {
            let sip: Vec<&DocumentedFlow> = flows
                .iter()
                .filter(|f| {
                    f.service == Service::Access
                        && f.dst_port == PortSpec::Single(443)
                        && f.direction == Direction::InboundToEdge
                })
                .collect();
            assert_eq!(sip.len(), 1, "{sip:#?}");
            let docs: BTreeSet<&str> = sip[0].citations().iter().map(|c| c.document.key).collect();
            assert_eq!(docs.into_iter().collect::<Vec<_>>(), ["000", "003", "004"]);
            assert_eq!(sip[0].src.list(), ["any"]);
            // Inbound media: 002's two tables and 004, once.
            let media: Vec<&DocumentedFlow> = flows
                .iter()
                .filter(|f| {
                    f.service == Service::Av
                        && f.transport == Transport::Tcp
                        && f.direction == Direction::InboundToEdge
                        && f.dst_port == PortSpec::Range(50000, 59999)
                })
                .collect();
            assert_eq!(media.len(), 1, "{media:#?}");
            assert!(media[0].rules.len() >= 3);
            assert_eq!(media[0].status, Status::Open { with_note: true });
        });
    }

    #[test]
    fn nothing_repeats_and_placeholders_are_resolved() {
        sample_flows(|flows, _| {
            let mut keys = HashSet::new();
            for f in flows {
                let key = format!(
                    "{:?} {:?} {} {} {} {:?}",
                    f.interface,
                    f.direction,
                    f.summary(),
                    f.src_port,
                    f.dst_port,
                    f.status
                );
                assert!(keys.insert(key.clone()), "repeated: {key}");
                assert!(!f.summary().contains('$'), "{}", f.summary());
                assert!(!matches!(f.dst_port, PortSpec::Named(_)));
                assert!(!matches!(f.src_port, PortSpec::Named(_)));
            }
        });
    }

    #[test]
    fn features_off_and_missing_roles_are_set_apart_with_why() {
        sample_flows(|flows, site| {
            let xmpp: Vec<&DocumentedFlow> = flows
                .iter()
                .filter(|f| f.status == Status::FeatureOff(Feature::Xmpp))
                .collect();
            assert!(!xmpp.is_empty());
            assert_eq!(
                xmpp[0].status.why(site).as_deref(),
                Some("[features] xmpp is off in site.toml")
            );
            let lacking = flows
                .iter()
                .find(|f| matches!(&f.status, Status::Lacking(r) if r.contains(&Role::DirectorPoolVip)))
                .expect("the reverse proxy's 4443 to a Director pool, which the sample lacks");
            assert_eq!(
                lacking.status.why(site).as_deref(),
                Some("the topology has no Director pool VIP")
            );
            // Open flows never list a missing role's placeholder text.
            for f in flows
                .iter()
                .filter(|f| matches!(f.status, Status::Open { .. }))
            {
                assert!(!f.src.is_empty() && !f.dst.is_empty(), "{}", f.summary());
            }
        });
    }
}
