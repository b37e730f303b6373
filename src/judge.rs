//! Verdicts: each flow judged against the documented port matrix for the user's topology.
//!
//! A flow is placed first (which Edge address it touches, so which interface and service, and in
//! which direction relative to the Edge), then matched against the rules that apply to the site
//! (its product version, scenario and features). Matching looks at interface, direction,
//! transport, ports (service ports resolved by the topology) and the roles of both ends. When no
//! rule permits the flow, the nearest rules explain why: a rule for this port from other sources
//! (`wrong-source`), one for the opposite direction (`wrong-direction`), one for other versions
//! (`not-in-version`), one whose feature is off (`feature-off`).
//!
//! A blocked permitted flow is still permitted: failed connections are findings, not verdicts.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use serde::Serialize;

use crate::identify::Protocol;
use crate::matrix::{
    Direction, Interface, Matrix, PortSpec, Role, Rule, RuleVerdict, Service, Transport,
};
use crate::topology::{is_edge_role, role_label, Topology};

/// Does the payload's protocol fit what a documented rule carries? Unknown payload always fits
/// (encrypted media, a capture cut before the payload): only contrary evidence is a mismatch.
fn carries(rule_protocol: &str, transport: Transport, p: Protocol) -> bool {
    use Protocol::*;
    if p == Unknown {
        return true;
    }
    match rule_protocol {
        "SIP/TLS" | "SIP/MTLS" | "PSOM/TLS" | "PSOM/MTLS" | "HTTPS" | "MTLS" | "XMPP/MTLS" => {
            matches!(p, Tls)
        }
        "STUN/MSTURN" => match transport {
            // DTLS after ICE checks is the media's DTLS-SRTP keying on the same 5-tuple.
            Transport::Udp => matches!(p, Stun | MsTurn | Turn | Rtp | Rtcp | Srtp | Dtls),
            Transport::Tcp => matches!(p, PseudoTls | MsTurn | Stun | Turn),
        },
        "RTP" => matches!(
            p,
            Rtp | Rtcp | Srtp | Dtls | Stun | MsTurn | Turn | Tls | PseudoTls
        ),
        "XMPP" => matches!(p, Xmpp | Tls),
        "DNS" => matches!(p, Dns),
        "HTTP" => matches!(p, Http),
        "SIP" => matches!(p, Sip | Tls),
        _ => true,
    }
}

/// The verdict on one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Permitted,
    PermittedWithNote,
    NotInMatrix,
    WrongSource,
    WrongDirection,
    MediaOnInternal,
    NotInVersion,
    FeatureOff,
    ProtocolMismatch,
    InternalHairpin,
    UnknownEndpoint,
}

impl Verdict {
    pub const ALL: [Verdict; 11] = [
        Verdict::Permitted,
        Verdict::PermittedWithNote,
        Verdict::NotInMatrix,
        Verdict::WrongSource,
        Verdict::WrongDirection,
        Verdict::MediaOnInternal,
        Verdict::NotInVersion,
        Verdict::FeatureOff,
        Verdict::ProtocolMismatch,
        Verdict::InternalHairpin,
        Verdict::UnknownEndpoint,
    ];

    /// A verdict that says the matrix does not permit this flow here.
    pub fn is_violation(self) -> bool {
        !matches!(
            self,
            Verdict::Permitted | Verdict::PermittedWithNote | Verdict::UnknownEndpoint
        )
    }

    /// What the verdict means, in one line: the manual pages print it, and docs/FINDINGS.md's
    /// verdict table says the same (a test holds them together).
    pub fn in_short(self) -> &'static str {
        match self {
            Verdict::Permitted => "a documented rule for this site permits it",
            Verdict::PermittedWithNote => "permitted by a rule that carries a note or a caveat",
            Verdict::NotInMatrix => "touches the Edge, and nothing documented comes close",
            Verdict::WrongSource => "the port is documented here, for other peers",
            Verdict::WrongDirection => "documented, but opened by the other side",
            Verdict::MediaOnInternal => "the media range 50000-59999 on the internal interface",
            Verdict::NotInVersion => "documented for another product version only",
            Verdict::FeatureOff => "documented for a feature the topology turns off",
            Verdict::ProtocolMismatch => "the payload is not what the documented rule carries",
            Verdict::InternalHairpin => {
                "an internal host uses the Edge's external or public address"
            }
            Verdict::UnknownEndpoint => "neither end is in the topology: the matrix does not apply",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Permitted => "permitted",
            Verdict::PermittedWithNote => "permitted-with-note",
            Verdict::NotInMatrix => "not-in-matrix",
            Verdict::WrongSource => "wrong-source",
            Verdict::WrongDirection => "wrong-direction",
            Verdict::MediaOnInternal => "media-on-internal",
            Verdict::NotInVersion => "not-in-version",
            Verdict::FeatureOff => "feature-off",
            Verdict::ProtocolMismatch => "protocol-mismatch",
            Verdict::InternalHairpin => "internal-hairpin",
            Verdict::UnknownEndpoint => "unknown-endpoint",
        }
    }
}

/// What the judge needs of a flow.
#[derive(Debug, Clone, Copy)]
pub struct FlowFacts {
    pub transport: u8,
    pub initiator: (IpAddr, u16),
    pub responder: (IpAddr, u16),
    /// The initiator was seen opening the connection (SYN), not inferred.
    pub initiator_certain: bool,
    /// The protocol the payload showed, when it was certain.
    pub identified: Option<Protocol>,
}

/// The judgement of one flow. Compact on purpose (a busy Edge's report keeps one per flow): the
/// texts are shared between the flows judged alike, and the reason is a shared sentence with
/// the flow's own addresses filled in when it is shown.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub edge_interface: Option<Interface>,
    pub edge_service: Option<Service>,
    pub direction: Option<Direction>,
    /// The documented protocol: the documents' words (from the rule that matched, or the
    /// nearest one); empty when no rule is near, written as null. Apart from the flow's
    /// `transport` (its IP protocol) and its `payload` (what identification found).
    #[serde(serialize_with = "empty_as_null")]
    pub documented: Arc<str>,
    pub verdict: Verdict,
    /// Ids of the rules that permit the flow (or the nearest rules, for a violation).
    pub rules: Arc<[Arc<str>]>,
    /// One sentence naming the rule or the nearest rule and its document, with marks for the
    /// flow's own addresses: written with the flow ([`Reason::of`]).
    #[serde(skip)]
    pub reason: Reason,
    /// Notes of the documents' disagreements the verdict relies on.
    pub notes: Arc<[Arc<str>]>,
    /// The flow was judged with initiator and responder swapped from the first packet seen,
    /// because no SYN was seen and only that orientation matches the matrix.
    pub judged_reversed: bool,
    /// The protocol the payload showed, when it was identified with certainty (what the judge
    /// read; reports write the flow's `payload` for every identified flow).
    #[serde(skip)]
    pub identified: Option<&'static str>,
}

/// An empty text is an unknown value: null in JSON, never `""`.
fn empty_as_null<S: serde::Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    if text.is_empty() {
        s.serialize_none()
    } else {
        s.serialize_str(text)
    }
}

/// The judgements of a run, one per flow in the flows' order. Flows judged alike share one
/// judgement, so each flow costs a pointer (a busy Edge's 650,000 flows: 5 MB, not 83 MB).
#[derive(Debug, Clone, Default)]
pub struct Judgements(Vec<Arc<Judgement>>);

impl Judgements {
    pub fn get(&self, i: usize) -> Option<&Judgement> {
        self.0.get(i).map(|j| &**j)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Judgement> + Clone + '_ {
        self.0.iter().map(|j| &**j)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<Arc<Judgement>>> for Judgements {
    fn from(v: Vec<Arc<Judgement>>) -> Self {
        Judgements(v)
    }
}

impl FromIterator<Judgement> for Judgements {
    fn from_iter<I: IntoIterator<Item = Judgement>>(it: I) -> Self {
        Judgements(it.into_iter().map(Arc::new).collect())
    }
}

impl std::ops::Index<usize> for Judgements {
    type Output = Judgement;
    fn index(&self, i: usize) -> &Judgement {
        &self.0[i]
    }
}

impl<'a> IntoIterator for &'a Judgements {
    type Item = &'a Judgement;
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, Arc<Judgement>>,
        fn(&'a Arc<Judgement>) -> &'a Judgement,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|j| &**j)
    }
}

impl Judgement {
    /// Does the judgement name this rule?
    pub fn cites(&self, rule: &str) -> bool {
        self.rules.iter().any(|r| &**r == rule)
    }
}

/// Marks a flow's own value in a shared reason: `A`/`B` initiator/responder `ip:port`,
/// `a`/`b` their addresses, `p`/`q` their ports.
const MARK: char = '\u{1}';

/// A verdict's reason: the sentence shared by the flows judged alike, with marks where each
/// flow's own addresses go ([`Reason::of`] fills them in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    template: Arc<str>,
}

impl Default for Reason {
    fn default() -> Self {
        Reason {
            template: Arc::from(""),
        }
    }
}

/// A reason with one flow's ends filled in, for display.
#[derive(Debug, Clone, Copy)]
pub struct ReasonText<'a> {
    template: &'a str,
    ends: [(IpAddr, u16); 2],
}

impl Reason {
    /// The sentence for one flow: the judged flow's initiator and responder, as its facts gave
    /// them.
    pub fn of(&self, f: &crate::flow::Flow) -> ReasonText<'_> {
        self.with_ends([
            (f.initiator.ip, f.initiator.port),
            (f.responder.ip, f.responder.port),
        ])
    }

    /// The sentence for the flow of these ends (initiator, responder).
    pub fn with_ends(&self, ends: [(IpAddr, u16); 2]) -> ReasonText<'_> {
        ReasonText {
            template: &self.template,
            ends,
        }
    }

    /// Replaces this flow's addresses and ports in `text` by marks, so that the text is the same
    /// for every flow judged alike.
    fn template(text: &str, f: &FlowFacts) -> String {
        let (a, b) = (f.initiator, f.responder);
        let mut t = replace_bounded(text, &format!("{}:{}", a.0, a.1), "\u{1}A");
        t = replace_bounded(&t, &format!("{}:{}", b.0, b.1), "\u{1}B");
        t = replace_bounded(&t, &a.0.to_string(), "\u{1}a");
        t = replace_bounded(&t, &b.0.to_string(), "\u{1}b");
        for name in ["TCP", "UDP"] {
            t = t.replace(
                &format!("{name} {} -> {}", a.1, b.1),
                &format!("{name} \u{1}p -> \u{1}q"),
            );
            t = t.replace(
                &format!("{name} {} -> {}", b.1, a.1),
                &format!("{name} \u{1}q -> \u{1}p"),
            );
        }
        t
    }
}

impl Reason {
    /// The sentence shared by the flows judged alike, with their own addresses and ports left
    /// out: two flows whose reasons share it were judged for the same reason.
    pub fn shared(&self) -> &str {
        &self.template
    }
}

impl std::fmt::Display for ReasonText<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [(ai, ap), (bi, bp)] = self.ends;
        let mut parts = self.template.split(MARK);
        if let Some(first) = parts.next() {
            out.write_str(first)?;
        }
        for part in parts {
            let mut chars = part.chars();
            match chars.next() {
                Some('A') => write!(out, "{ai}:{ap}")?,
                Some('B') => write!(out, "{bi}:{bp}")?,
                Some('a') => write!(out, "{ai}")?,
                Some('b') => write!(out, "{bi}")?,
                Some('p') => write!(out, "{ap}")?,
                Some('q') => write!(out, "{bp}")?,
                _ => {}
            }
            out.write_str(chars.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for ReasonText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Replaces whole occurrences of `needle` (not part of a longer address or number).
fn replace_bounded(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() || !text.contains(needle) {
        return text.to_string();
    }
    let part_of =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == ':');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(needle) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + needle.len()..].chars().next();
        out.push_str(&rest[..i]);
        if part_of(before) || part_of(after) {
            out.push_str(needle);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// Texts shared between judgements, and the judgements already made.
#[derive(Default)]
struct Interner {
    strings: FxHashMap<Box<str>, Arc<str>>,
    lists: FxHashMap<Vec<Arc<str>>, Arc<[Arc<str>]>>,
    judged: FxHashMap<JudgeKey, Arc<Judgement>>,
}

impl Interner {
    fn text(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(s.into(), a.clone());
        a
    }

    fn list(&mut self, items: &[String]) -> Arc<[Arc<str>]> {
        let v: Vec<Arc<str>> = items.iter().map(|s| self.text(s)).collect();
        if let Some(a) = self.lists.get(&v) {
            return a.clone();
        }
        let a: Arc<[Arc<str>]> = Arc::from(v.clone());
        self.lists.insert(v, a.clone());
        a
    }
}

/// A judgement as the verdict cascade builds it, with owned text; [`Judge::judge`] turns it
/// into the compact, shared form a report keeps for every flow.
#[derive(Debug, Clone)]
struct Draft {
    edge_interface: Option<Interface>,
    edge_service: Option<Service>,
    direction: Option<Direction>,
    /// The protocol in the documents' words (from the rule that matched, or the nearest one).
    protocol: String,
    verdict: Verdict,
    /// Ids of the rules that permit the flow (or the nearest rules, for a violation).
    rules: Vec<String>,
    /// One sentence naming the rule or the nearest rule and its document.
    reason: String,
    /// Notes of the documents' disagreements the verdict relies on.
    notes: Vec<String>,
    /// The flow was judged with initiator and responder swapped from the first packet seen,
    /// because no SYN was seen and only that orientation matches the matrix.
    judged_reversed: bool,
    /// The protocol the payload showed, when it was identified with certainty.
    identified: Option<&'static str>,
}

/// Where a flow touches the Edge.
#[derive(Debug, Clone)]
struct Placement {
    interface: Interface,
    direction: Direction,
    edge: (IpAddr, u16),
    remote: (IpAddr, u16),
    edge_roles: Vec<Role>,
    remote_roles: Vec<Role>,
    remote_internal: bool,
}

/// Judges flows for one topology.
pub struct Judge<'a> {
    pub topology: &'a Topology,
    pub matrix: &'a Matrix,
    /// Rules that apply to this site (version and scenario), in data order.
    applicable: Vec<&'a Rule>,
    /// For each rule of the matrix, in order: does it apply to this site?
    applies: Vec<bool>,
    /// Texts shared by the judgements, and judgements by what they depend on (behind a lock so
    /// that judging can run on threads).
    texts: Mutex<Interner>,
    /// Port -> the matrix's port ranges it falls in, as bits.
    port_classes: Vec<u64>,
}

/// Judgements remembered at most (then forgotten at once: memory stays bounded).
const JUDGED_CACHE: usize = 100_000;

/// Everything a judgement depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct JudgeKey {
    transport: u8,
    initiator: AddrKey,
    responder: AddrKey,
    ports: [u64; 2],
    certain: bool,
    identified: Option<Protocol>,
}

/// An address as a judgement depends on it. The judge reads an address only through the
/// topology (its roles, whether it is on the corporate side) and names it in the reason, which
/// is a template the flow's own addresses fill. So an address the topology names is itself,
/// and any other is only its side and family: the many remote hosts of a busy Edge share one
/// judgement per kind of flow instead of one each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddrKey {
    Named(IpAddr),
    Other { internal: bool, v4: bool },
}

fn transport_of(protocol: u8) -> Option<Transport> {
    match protocol {
        6 => Some(Transport::Tcp),
        17 => Some(Transport::Udp),
        _ => None,
    }
}

/// The rule's first document, cited by its title, the table heading and the start of the row
/// as written (never the data file's document key).
fn first_source(rule: &Rule) -> String {
    rule.first_citation()
}

/// Microsoft's and the article's words on NAT and the internal interface, for the hairpin.
const HAIRPIN_SOURCES: &str = "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (Lync \
     Server 2010 and 2013) > Media Port Range: \"Network Address Translation (NAT) is not allowed \
     between the internal Edge interface and any internal subnets\"; Microsoft, \"Edge Server \
     environmental requirements in Skype for Business Server\" > Topology planning (NAT)";

/// The article's media port range section and Microsoft's internal port table, for media on
/// the internal interface.
const MEDIA_RANGE_SOURCES: &str = "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (Lync \
     Server 2010 and 2013) > Media Port Range: \"this port range is only opened on the external \
     A/V Edge interface, not the internal interface\"; Microsoft, \"Edge Server environmental \
     requirements in Skype for Business Server\" > Port and firewall planning > Internal port \
     firewall summary table";

impl<'a> Judge<'a> {
    pub fn new(topology: &'a Topology, matrix: &'a Matrix) -> Judge<'a> {
        let scenarios = topology.scenario.matrix_scenarios();
        let applies: Vec<bool> = matrix
            .rules
            .iter()
            .map(|r| {
                r.versions.contains(&topology.product)
                    && r.scenarios.iter().any(|s| scenarios.contains(s))
            })
            .collect();
        let applicable = matrix
            .rules
            .iter()
            .zip(&applies)
            .filter(|(_, a)| **a)
            .map(|(r, _)| r)
            .collect();
        Judge {
            topology,
            matrix,
            applicable,
            applies,
            texts: Mutex::new(Interner::default()),
            port_classes: Self::port_classes(topology, matrix),
        }
    }

    /// Rules that apply to the site.
    pub fn applicable(&self) -> &[&'a Rule] {
        &self.applicable
    }

    /// A rule's port with the site's service ports filled in.
    pub fn resolved(&self, spec: &PortSpec) -> PortSpec {
        match spec {
            PortSpec::Named(sp) => self.topology.port(*sp),
            other => *other,
        }
    }

    fn port_matches(&self, spec: &PortSpec, port: u16) -> bool {
        let resolved = match spec {
            PortSpec::Named(sp) => self.topology.port(*sp),
            other => *other,
        };
        match resolved {
            PortSpec::Any => true,
            PortSpec::Single(p) => p == port,
            PortSpec::Range(lo, hi) => (lo..=hi).contains(&port),
            PortSpec::Named(_) => false,
        }
    }

    /// Does an address with `roles` (internal or not) fit a rule's role list?
    fn roles_match(
        &self,
        wanted: &[Role],
        roles: &[Role],
        internal: bool,
        interface: Interface,
    ) -> bool {
        wanted.iter().any(|w| match w {
            // `any` means any address on that side of the Edge.
            Role::Any => match interface {
                Interface::Internal | Interface::InternalVip | Interface::ReverseProxyInternal => {
                    internal
                }
                _ => !internal,
            },
            Role::ExternalClient | Role::FederatedPartner => {
                !internal && !roles.iter().any(|r| is_edge_role(*r))
            }
            Role::LyncServer => roles.iter().any(|r| {
                matches!(
                    r,
                    Role::LyncServer | Role::Fe | Role::Director | Role::Sba | Role::CmsFe
                )
            }),
            Role::Fe => roles.iter().any(|r| matches!(r, Role::Fe | Role::CmsFe)),
            other => roles.contains(other),
        })
    }

    fn place(&self, f: &FlowFacts) -> Option<Placement> {
        self.place_as(f, false)
    }

    /// Places a flow on the Edge; `prefer_initiator` takes the initiator as the Edge end when
    /// both ends are Edge addresses (A/V traffic between pool members is outbound from one and
    /// inbound to the other).
    fn place_as(&self, f: &FlowFacts, prefer_initiator: bool) -> Option<Placement> {
        let t = self.topology;
        let edge_like = |ip: IpAddr| {
            t.roles_of(ip).iter().any(|r| {
                is_edge_role(*r)
                    || matches!(r, Role::ReverseProxyExternal | Role::ReverseProxyInternal)
            })
        };
        let (edge, remote, inbound) = if prefer_initiator && edge_like(f.initiator.0) {
            (f.initiator, f.responder, false)
        } else if edge_like(f.responder.0) {
            (f.responder, f.initiator, true)
        } else if edge_like(f.initiator.0) {
            (f.initiator, f.responder, false)
        } else {
            return None;
        };
        let edge_roles = t.roles_of(edge.0);
        let interface = if edge_roles.contains(&Role::EdgeInternal) {
            Interface::Internal
        } else if edge_roles.contains(&Role::EdgeInternalVip) {
            Interface::InternalVip
        } else if edge_roles.iter().any(|r| {
            matches!(
                r,
                Role::EdgeAccessVip | Role::EdgeWebconfVip | Role::EdgeAvVip
            )
        }) {
            Interface::ExternalVip
        } else if edge_roles.contains(&Role::ReverseProxyExternal) {
            Interface::ReverseProxyExternal
        } else if edge_roles.contains(&Role::ReverseProxyInternal) {
            Interface::ReverseProxyInternal
        } else {
            Interface::External
        };
        let reverse_proxy = matches!(
            interface,
            Interface::ReverseProxyExternal | Interface::ReverseProxyInternal
        );
        let direction = match (reverse_proxy, inbound) {
            (false, true) => Direction::InboundToEdge,
            (false, false) => Direction::OutboundFromEdge,
            (true, true) => Direction::InboundToReverseProxy,
            (true, false) => Direction::OutboundFromReverseProxy,
        };
        Some(Placement {
            interface,
            direction,
            edge,
            remote,
            edge_roles: edge_roles.to_vec(),
            remote_roles: t.roles_of(remote.0).to_vec(),
            remote_internal: t.is_internal_host(remote.0),
        })
    }

    /// The edge-side and remote-side role lists of a rule.
    fn sides(rule: &Rule, direction: Direction) -> (&[Role], &[Role]) {
        match direction {
            Direction::InboundToEdge | Direction::InboundToReverseProxy => (&rule.dst, &rule.src),
            Direction::OutboundFromEdge | Direction::OutboundFromReverseProxy => {
                (&rule.src, &rule.dst)
            }
        }
    }

    /// How well a rule fits a placed flow, facet by facet.
    fn facets(&self, rule: &Rule, p: &Placement, transport: Transport, f: &FlowFacts) -> Facets {
        let (edge_side, remote_side) = Self::sides(rule, rule.direction);
        let (src_port, dst_port) = (f.initiator.1, f.responder.1);
        Facets {
            applies: false,
            interface: rule.interface == p.interface,
            direction: rule.direction == p.direction,
            transport: rule.transport == transport,
            ports: self.port_matches(&rule.dst_port, dst_port)
                && self.port_matches(&rule.src_port, src_port),
            edge_role: self.roles_match(edge_side, &p.edge_roles, false, p.interface)
                || edge_side.contains(&Role::Any),
            remote_role: self.roles_match(
                remote_side,
                &p.remote_roles,
                p.remote_internal,
                p.interface,
            ),
        }
    }

    /// Judges one flow. Flows that differ only in ports no rule tells apart (an ephemeral
    /// port for another) are judged alike, so the answer is looked up rather than recomputed.
    pub fn judge(&self, f: &FlowFacts) -> Arc<Judgement> {
        let key = self.key(f);
        let texts = match self.texts.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Flows judged alike share one judgement: its reason marks where each flow's own
        // addresses go, so a flow costs a pointer.
        if let Some(j) = key.as_ref().and_then(|k| texts.judged.get(k)) {
            return j.clone();
        }
        drop(texts);
        let d = self.draft(f);
        let mut texts = match self.texts.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let j = Arc::new(Judgement {
            edge_interface: d.edge_interface,
            edge_service: d.edge_service,
            direction: d.direction,
            documented: texts.text(&d.protocol),
            verdict: d.verdict,
            rules: texts.list(&d.rules),
            reason: Reason {
                template: texts.text(&Reason::template(&d.reason, f)),
            },
            notes: texts.list(&d.notes),
            judged_reversed: d.judged_reversed,
            identified: d.identified,
        });
        if let Some(k) = key {
            if texts.judged.len() >= JUDGED_CACHE {
                texts.judged.clear();
            }
            texts.judged.insert(k, j.clone());
        }
        j
    }

    /// What a judgement depends on: the addresses ([`AddrKey`]), and of each port only which of
    /// the matrix's port ranges it falls in (`None` when the ranges are too many to tell by bits).
    fn key(&self, f: &FlowFacts) -> Option<JudgeKey> {
        let sig = |p: u16| self.port_classes.get(usize::from(p)).copied();
        let t = self.topology;
        // The same address at both ends is named twice in one reason: kept apart.
        let same = f.initiator.0 == f.responder.0;
        let addr = |ip: IpAddr| {
            if same || !t.roles_of(ip).is_empty() {
                AddrKey::Named(ip)
            } else {
                AddrKey::Other {
                    internal: t.is_internal_host(ip),
                    v4: ip.is_ipv4(),
                }
            }
        };
        Some(JudgeKey {
            transport: f.transport,
            initiator: addr(f.initiator.0),
            responder: addr(f.responder.0),
            ports: [sig(f.initiator.1)?, sig(f.responder.1)?],
            certain: f.initiator_certain,
            identified: f.identified,
        })
    }

    /// For every port, a bit per distinct port range of the matrix (resolved for the site)
    /// that contains it, and one for the media range the cascade checks itself.
    fn port_classes(topology: &Topology, matrix: &Matrix) -> Vec<u64> {
        let mut specs: Vec<PortSpec> = Vec::new();
        for r in &matrix.rules {
            for spec in [r.dst_port, r.src_port] {
                let spec = match spec {
                    PortSpec::Named(sp) => topology.port(sp),
                    other => other,
                };
                if !specs.contains(&spec) {
                    specs.push(spec);
                }
            }
        }
        specs.push(PortSpec::Range(50000, 59999));
        if specs.len() > 64 {
            return Vec::new();
        }
        (0..=u16::MAX)
            .map(|p| {
                specs.iter().enumerate().fold(0u64, |bits, (i, s)| {
                    let hit = match *s {
                        PortSpec::Any => true,
                        PortSpec::Single(x) => x == p,
                        PortSpec::Range(lo, hi) => (lo..=hi).contains(&p),
                        PortSpec::Named(_) => false,
                    };
                    bits | (u64::from(hit) << i)
                })
            })
            .collect()
    }

    fn draft(&self, f: &FlowFacts) -> Draft {
        let first = self.judge_oriented(f);
        if f.initiator_certain || !first.verdict.is_violation() {
            return with_inferred_note(first, f);
        }
        // No SYN was seen: if only the other orientation is documented, judge it that way.
        let swapped = FlowFacts {
            initiator: f.responder,
            responder: f.initiator,
            ..*f
        };
        let second = self.judge_oriented(&swapped);
        if !second.verdict.is_violation() {
            let mut j = second;
            j.judged_reversed = true;
            j.reason.push_str(&format!(
                " (no SYN was seen; the first packet came from {}:{}, but only {}:{} opening the flow is documented, so it was judged that way)",
                f.initiator.0, f.initiator.1, f.responder.0, f.responder.1
            ));
            return j;
        }
        with_inferred_note(first, f)
    }

    fn judge_oriented(&self, f: &FlowFacts) -> Draft {
        let first = self.judge_placed(f, self.place(f));
        let both_edge =
            self.topology.is_edge(f.initiator.0) && self.topology.is_edge(f.responder.0);
        if !both_edge {
            return first;
        }
        let second = self.judge_placed(f, self.place_as(f, true));
        match (first.verdict.is_violation(), second.verdict.is_violation()) {
            (false, false) => {
                let mut j = first;
                for id in second.rules {
                    if !j.rules.contains(&id) {
                        j.rules.push(id);
                    }
                }
                j
            }
            (true, false) => second,
            _ => first,
        }
    }

    fn judge_placed(&self, f: &FlowFacts, placement: Option<Placement>) -> Draft {
        let none = |verdict, reason: String| Draft {
            edge_interface: None,
            edge_service: None,
            direction: None,
            protocol: String::new(),
            verdict,
            rules: Vec::new(),
            reason,
            notes: Vec::new(),
            judged_reversed: false,
            identified: None,
        };
        let Some(p) = placement else {
            return none(
                Verdict::UnknownEndpoint,
                format!(
                    "neither {} nor {} is an address of the Edge or reverse proxy in {}, so the port matrix does not apply",
                    f.initiator.0, f.responder.0, self.topology.source
                ),
            );
        };
        let service = service_of(&p.edge_roles);
        let mut j = Draft {
            edge_interface: Some(p.interface),
            edge_service: service,
            direction: Some(p.direction),
            protocol: String::new(),
            verdict: Verdict::NotInMatrix,
            rules: Vec::new(),
            reason: String::new(),
            notes: Vec::new(),
            judged_reversed: false,
            identified: None,
        };
        let where_ = describe_place(&p, service);
        let Some(transport) = transport_of(f.transport) else {
            j.reason = format!(
                "{} {where_}: the port matrix documents only TCP and UDP flows",
                crate::net::transport_name(f.transport).to_uppercase()
            );
            return j;
        };
        let tname = if transport == Transport::Tcp {
            "TCP"
        } else {
            "UDP"
        };
        let flow_desc = format!("{tname} {} -> {}", f.initiator.1, f.responder.1);

        // An internal host reaching an external Edge address: the hairpin the design forbids.
        if matches!(p.interface, Interface::External | Interface::ExternalVip) && p.remote_internal
        {
            j.verdict = Verdict::InternalHairpin;
            let internal_if = self
                .topology
                .edges
                .first()
                .and_then(|e| e.internal.first())
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "the Edge internal interface".into());
            j.reason = format!(
                "internal host {} reached the Edge's external address {} ({flow_desc}); internal hosts must use the \
                 internal interface ({internal_if}) with no NAT in between ({HAIRPIN_SOURCES})",
                p.remote.0, p.edge.0
            );
            return j;
        }

        let all: Vec<(&Rule, Facets)> = self
            .matrix
            .rules
            .iter()
            .zip(&self.applies)
            .map(|(r, applies)| {
                let mut x = self.facets(r, &p, transport, f);
                x.applies = *applies;
                (r, x)
            })
            .collect();

        // Full matches among the rules that apply to this site.
        let full: Vec<&Rule> = all
            .iter()
            .filter(|(_, x)| x.all() && x.applies)
            .map(|(r, _)| *r)
            .collect();
        let enabled = |r: &Rule| r.feature.is_none_or(|feat| self.topology.feature(feat));
        let best = full
            .iter()
            .filter(|r| enabled(r))
            .min_by_key(|r| match r.verdict {
                RuleVerdict::Permit => 0,
                RuleVerdict::PermitIf => 1,
                RuleVerdict::PermitNote => 2,
                RuleVerdict::Flag => 3,
            })
            .copied();
        if let (Some(rule), Some(p)) = (best, f.identified) {
            if !carries(&rule.protocol, transport, p) {
                j.verdict = Verdict::ProtocolMismatch;
                j.rules = vec![rule.id.clone()];
                j.protocol = p.label().to_string();
                j.reason = format!(
                    "{flow_desc} {where_} carries {} but the documents give {} here ({}): a client or \
                     peer was sent to the wrong Edge service (check DNS and the firewall's NAT rules)",
                    p.label(),
                    rule.protocol,
                    first_source(rule)
                );
                return j;
            }
        }
        if let Some(rule) = best {
            let same: Vec<&Rule> = full
                .iter()
                .filter(|r| enabled(r) && r.verdict == rule.verdict)
                .copied()
                .collect();
            j.rules = same.iter().map(|r| r.id.clone()).collect();
            j.protocol = rule.protocol.clone();
            j.notes = self.decision_notes(&same);
            if let Some(p) = f.identified.filter(|p| *p != Protocol::Unknown) {
                j.identified = Some(p.label());
            }
            match rule.verdict {
                RuleVerdict::Permit | RuleVerdict::PermitIf => {
                    j.verdict = Verdict::Permitted;
                    j.reason = format!(
                        "{} {flow_desc} {where_} is permitted ({})",
                        rule.protocol,
                        first_source(rule)
                    );
                }
                RuleVerdict::PermitNote | RuleVerdict::Flag => {
                    j.verdict = Verdict::PermittedWithNote;
                    let note = if rule.note.is_empty() {
                        "see the rule's note"
                    } else {
                        rule.note.as_str()
                    };
                    j.reason = format!(
                        "{} {flow_desc} {where_} is permitted with a note ({}): {note}",
                        rule.protocol,
                        first_source(rule)
                    );
                }
            }
            return j;
        }
        if let Some(rule) = full.first() {
            j.verdict = Verdict::FeatureOff;
            j.rules = full.iter().map(|r| r.id.clone()).collect();
            j.protocol = rule.protocol.clone();
            let feat = rule
                .feature
                .map(|x| format!("{x:?}").to_lowercase())
                .unwrap_or_default();
            j.reason = format!(
                "{} {flow_desc} {where_} is documented for sites using {feat} ({}), but [features] \
                 {feat} is off in {}",
                rule.protocol,
                first_source(rule),
                self.topology.source
            );
            return j;
        }

        // Media ports on the internal interface (CLS 50001-50003 is matched above when on).
        let media = |port: u16| (50000..=59999).contains(&port);
        if matches!(p.interface, Interface::Internal | Interface::InternalVip)
            && (media(f.responder.1) || media(f.initiator.1) && media(f.responder.1))
        {
            j.verdict = Verdict::MediaOnInternal;
            j.protocol = "RTP".into();
            j.reason = format!(
                "{flow_desc} {where_} uses the media range 50000-59999, which the documents open on the external A/V \
                 interface only ({MEDIA_RANGE_SOURCES})"
            );
            return j;
        }

        // The nearest rules, most telling first.
        let near = |pred: &dyn Fn(&Rule, &Facets) -> bool| -> Vec<&Rule> {
            all.iter()
                .filter(|(r, x)| pred(r, x))
                .map(|(r, _)| *r)
                .collect()
        };
        let other_versions = near(&|r, x| x.all() && !r.versions.contains(&self.topology.product));
        if let Some(rule) = other_versions.first() {
            j.verdict = Verdict::NotInVersion;
            j.rules = other_versions.iter().map(|r| r.id.clone()).collect();
            j.protocol = rule.protocol.clone();
            let versions: Vec<&str> = rule.versions.iter().map(|v| v.product_name()).collect();
            j.reason = format!(
                "{} {flow_desc} {where_} is documented for {} only ({}), not for {} as configured",
                rule.protocol,
                versions.join(", "),
                first_source(rule),
                self.topology.product.product_name()
            );
            return j;
        }
        let wrong_source = near(&|_, x| {
            x.applies
                && x.interface
                && x.direction
                && x.transport
                && x.ports
                && x.edge_role
                && !x.remote_role
        });
        if let Some(rule) = wrong_source.first() {
            j.verdict = Verdict::WrongSource;
            j.rules = wrong_source.iter().map(|r| r.id.clone()).collect();
            j.protocol = rule.protocol.clone();
            let (_, remote_side) = Self::sides(rule, rule.direction);
            let allowed: Vec<&str> = remote_side.iter().map(|r| role_words(*r)).collect();
            let who = if p.remote_roles.is_empty() {
                if p.remote_internal {
                    "an internal host".to_string()
                } else {
                    "an external host".to_string()
                }
            } else {
                p.remote_roles
                    .iter()
                    .map(|r| role_label(*r))
                    .collect::<Vec<_>>()
                    .join("/")
            };
            j.reason = format!(
                "{} {flow_desc} {where_} from {} ({who}): the documents permit this port only from {} ({})",
                rule.protocol,
                p.remote.0,
                words_list(&allowed),
                first_source(rule)
            );
            return j;
        }
        // The opposite direction: the same service documented as opened by the other side
        // (roles swapped, the service port kept on the listening side).
        let reversed = FlowFacts {
            initiator: (f.responder.0, f.initiator.1),
            responder: (f.initiator.0, f.responder.1),
            ..*f
        };
        if let Some(rp) = self.place(&reversed) {
            let opposite = self
                .applicable
                .iter()
                .filter(|r| self.facets(r, &rp, transport, &reversed).all())
                .copied()
                .collect::<Vec<_>>();
            if let Some(rule) = opposite.first() {
                j.verdict = Verdict::WrongDirection;
                j.rules = opposite.iter().map(|r| r.id.clone()).collect();
                j.protocol = rule.protocol.clone();
                j.reason = format!(
                    "{} {flow_desc} was opened by {} {where_}; the documents give only the opposite \
                     direction, opened by {} ({})",
                    rule.protocol,
                    f.initiator.0,
                    f.responder.0,
                    first_source(rule)
                );
                return j;
            }
        }
        // Nothing documented: name the closest thing so a misrouted flow is recognisable.
        let same_port_elsewhere = near(&|r, x| {
            x.applies
                && x.transport
                && x.ports
                && r.dst_port != PortSpec::Any
                && !(x.interface && x.direction)
        });
        let same_interface =
            near(&|_, x| x.applies && x.interface && x.direction && x.transport && x.edge_role);
        j.reason = format!("no documented rule permits {flow_desc} {where_}");
        if let Some(rule) = same_port_elsewhere.first() {
            j.rules = vec![rule.id.clone()];
            j.protocol = rule.protocol.clone();
            j.reason.push_str(&format!(
                "; the nearest documented flow is {} on the {} interface ({})",
                rule.protocol,
                interface_label(rule.interface),
                first_source(rule)
            ));
        } else if !same_interface.is_empty() {
            let ports: Vec<String> = same_interface
                .iter()
                .map(|r| format!("{} {}", r.protocol, self.resolved(&r.dst_port)))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            j.reason
                .push_str(&format!("; documented here: {}", ports.join(", ")));
        }
        j
    }

    fn decision_notes(&self, rules: &[&Rule]) -> Vec<String> {
        let mut notes = Vec::new();
        for r in rules {
            for d in &r.decisions {
                if let Some(dec) = self.matrix.decision(d) {
                    let n = format!("{}: {}", dec.id, dec.note);
                    if !notes.contains(&n) {
                        notes.push(n);
                    }
                }
            }
        }
        notes
    }
}

fn with_inferred_note(mut j: Draft, f: &FlowFacts) -> Draft {
    if !f.initiator_certain && j.verdict != Verdict::UnknownEndpoint {
        j.reason.push_str(" (initiator inferred: no SYN was seen)");
    }
    j
}

#[derive(Debug, Clone, Copy)]
struct Facets {
    /// The rule applies to the site (version and scenario).
    applies: bool,
    interface: bool,
    direction: bool,
    transport: bool,
    ports: bool,
    edge_role: bool,
    remote_role: bool,
}

impl Facets {
    fn all(&self) -> bool {
        self.interface
            && self.direction
            && self.transport
            && self.ports
            && self.edge_role
            && self.remote_role
    }
}

fn service_of(roles: &[Role]) -> Option<Service> {
    roles.iter().find_map(|r| match r {
        Role::EdgeAccess | Role::EdgeAccessVip => Some(Service::Access),
        Role::EdgeWebconf | Role::EdgeWebconfVip => Some(Service::Webconf),
        Role::EdgeAv | Role::EdgeAvVip => Some(Service::Av),
        Role::EdgeInternal | Role::EdgeInternalVip => Some(Service::Internal),
        Role::ReverseProxyExternal | Role::ReverseProxyInternal => Some(Service::ReverseProxy),
        _ => None,
    })
}

pub fn interface_label(i: Interface) -> &'static str {
    match i {
        Interface::External => "external",
        Interface::Internal => "internal",
        Interface::ExternalVip => "external VIP",
        Interface::InternalVip => "internal VIP",
        Interface::ReverseProxyExternal => "reverse proxy external",
        Interface::ReverseProxyInternal => "reverse proxy internal",
    }
}

/// A role in words, for sentences: "Front End Servers", "the Director pool VIP".
pub fn role_words(r: Role) -> &'static str {
    match r {
        Role::Any => "any host",
        Role::EdgeAccess => "the Access Edge",
        Role::EdgeWebconf => "the Web Conferencing Edge",
        Role::EdgeAv => "the A/V Edge",
        Role::EdgeInternal => "the Edge internal interface",
        Role::EdgeAccessVip => "the Access Edge VIP",
        Role::EdgeWebconfVip => "the Web Conferencing Edge VIP",
        Role::EdgeAvVip => "the A/V Edge VIP",
        Role::EdgeInternalVip => "the Edge internal VIP",
        Role::Fe => "Front End Servers",
        Role::FePoolVip => "the Front End pool VIP",
        Role::Director => "Directors",
        Role::DirectorPoolVip => "the Director pool VIP",
        Role::CmsFe => "the Front End Servers holding the Central Management store",
        Role::Sba => "Survivable Branch Appliances and Servers",
        Role::XmppGateway => "XMPP Gateway servers",
        Role::LyncServer => "internal Lync servers",
        Role::InternalClient => "internal clients",
        Role::ExternalClient => "remote users",
        Role::FederatedPartner => "federated partners",
        Role::ReverseProxyExternal => "the reverse proxy's external interface",
        Role::ReverseProxyInternal => "the reverse proxy's internal interface",
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn words_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

pub fn service_label(s: Service) -> &'static str {
    match s {
        Service::Access => "Access Edge",
        Service::Webconf => "Web Conferencing Edge",
        Service::Av => "A/V Edge",
        Service::Internal => "Edge internal interface",
        Service::XmppProxy => "XMPP proxy",
        Service::ReverseProxy => "reverse proxy",
    }
}

fn describe_place(p: &Placement, service: Option<Service>) -> String {
    let what = service.map_or("Edge", service_label);
    match p.direction {
        Direction::InboundToEdge | Direction::InboundToReverseProxy => {
            format!(
                "inbound to the {what} ({}, {})",
                p.edge.0,
                interface_label(p.interface)
            )
        }
        Direction::OutboundFromEdge | Direction::OutboundFromReverseProxy => {
            format!(
                "outbound from the {what} ({}, {})",
                p.edge.0,
                interface_label(p.interface)
            )
        }
    }
}

/// Per-rule coverage: the flows that matched each applicable rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    /// Rule id -> number of flows permitted by it.
    pub hits: BTreeMap<String, u64>,
    /// Applicable rules no flow exercised.
    pub never_exercised: Vec<String>,
}

impl Coverage {
    pub fn compute(judge: &Judge<'_>, judgements: &Judgements) -> Coverage {
        let mut hits: BTreeMap<String, u64> = judge
            .applicable()
            .iter()
            .map(|r| (r.id.clone(), 0))
            .collect();
        for j in judgements {
            if matches!(j.verdict, Verdict::Permitted | Verdict::PermittedWithNote) {
                for id in j.rules.iter() {
                    if let Some(n) = hits.get_mut(&**id) {
                        *n += 1;
                    }
                }
            }
        }
        let never_exercised = hits
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(id, _)| id.clone())
            .collect();
        Coverage {
            hits,
            never_exercised,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::SAMPLE;
    use std::path::Path;

    /// A shared reason shows each flow exactly the sentence the cascade wrote for it, whatever
    /// its addresses and ports (including ones that occur inside other numbers).
    #[test]
    fn shared_reasons_render_as_written() {
        let site = Topology::parse(SAMPLE, Path::new("site.toml")).expect("sample");
        let matrix = Matrix::builtin().expect("matrix");
        let judge = Judge::new(&site, matrix);
        let hosts = [
            "10.45.16.10",
            "10.45.16.1",
            "10.45.16.30",
            "172.25.33.10",
            "192.168.20.55",
            "192.168.10.90",
            "203.0.113.25",
            "131.107.155.30",
            "2001:db8::1",
            "198.51.100.10",
        ];
        let ports = [
            443u16, 5061, 3478, 50000, 50001, 4443, 8057, 1, 44, 51234, 51235, 60000, 53, 80,
        ];
        let mut checked = 0;
        for (i, a) in hosts.iter().enumerate() {
            for b in &hosts[i..] {
                for &pa in &ports {
                    for &pb in &ports {
                        for (transport, certain) in [(6, true), (17, false), (6, false)] {
                            let f = FlowFacts {
                                transport,
                                initiator: (a.parse().expect("ip"), pa),
                                responder: (b.parse().expect("ip"), pb),
                                initiator_certain: certain,
                                identified: None,
                            };
                            let d = judge.draft(&f);
                            let j = judge.judge(&f);
                            assert_eq!(
                                j.reason.with_ends([f.initiator, f.responder]).to_string(),
                                d.reason
                            );
                            assert_eq!(
                                (j.verdict, &*j.documented),
                                (d.verdict, d.protocol.as_str())
                            );
                            assert_eq!(j.rules.len(), d.rules.len());
                            assert_eq!(j.judged_reversed, d.judged_reversed);
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
        // Flows judged alike share one sentence.
        let texts = judge.texts.lock().expect("lock");
        assert!(
            texts.strings.len() < checked / 10,
            "{}",
            texts.strings.len()
        );
    }
}
