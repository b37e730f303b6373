//! `edgewise topology infer`: a starting topology read off the traffic.
//!
//! Writing the topology by hand is the first hurdle of an audit, and a wrong one turns real
//! flows into unknown endpoints. The capture already shows most of the site: which address
//! answers the Edge's documented ports, from which side, carrying which payload. This module
//! reads that off an [`Analysis`] (no second read of the capture) in two passes over its flows:
//! [`evidence`] scores every address that answers (or opens) an Edge port for each Edge role,
//! the roles are chosen from the scores, then [`hosts`] places the hosts around the chosen Edge:
//! Front End and Director pools, client and server subnets, federation partners. Each choice
//! keeps its evidence so that every line of the written TOML ([`write`]) says what it was
//! inferred from and how sure.
//!
//! Memory is bounded whatever the capture: at most [`evidence::MAX_ADDRESSES`] addresses are
//! scored and [`hosts::MAX_HOSTS`] hosts placed, each with capped sets of peers and names.

mod evidence;
mod hosts;
mod write;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::Analysis;
use crate::topology::{EdgeSide, Topology, TopologyError};

pub use evidence::Service;

/// A topology inferred from a capture: the commented TOML a user edits, and the same validated.
#[derive(Debug, Clone)]
pub struct Inference {
    /// The topology file, with a comment on each inferred line.
    pub text: String,
    /// The text, read back as `--topology` would read it.
    pub topology: Topology,
    /// The Edge found, in one line (for the note on standard error).
    pub summary: String,
}

/// Why no topology could be inferred.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The capture shows no Edge Server: the reason, in words.
    #[error("{0}")]
    NoEdge(String),
    /// What was written does not validate: a bug here, never the user's doing.
    #[error(
        "the inferred topology does not validate, which is a bug in edgewise (please report it \
         with the capture): {0}"
    )]
    Invalid(TopologyError),
}

/// Infers the site from an analysis. `source` names the topology in later messages (for
/// example "<inferred from edge.pcapng>").
pub fn infer(analysis: &Analysis, source: &str) -> Result<Inference, InferError> {
    let sides = InterfaceSides::of(analysis);
    let scored = evidence::gather(analysis, &sides);
    let edge = scored.choose();
    if edge.is_empty() {
        return Err(InferError::NoEdge(no_edge_reason(analysis, &scored)));
    }
    if !edge.has_signature {
        return Err(InferError::NoEdge(format!(
            "{}, but no Skype for Business Edge traffic: addresses answer some of the Edge's ports \
             ({}), yet none with anything specific to an Edge (SIP/MTLS 5061, MS-TURN, the internal \
             interface's 5062/8057/4443, SIP names)",
            flows(analysis),
            edge.addresses_described()
        )));
    }
    let placed = hosts::place(analysis, &sides, &scored, &edge);
    let site = Site {
        analysis,
        sides: &sides,
        scored: &scored,
        edge: &edge,
        hosts: &placed,
    };
    let text = write::toml(&site);
    let topology = Topology::parse(&text, Path::new(source)).map_err(InferError::Invalid)?;
    Ok(Inference {
        summary: write::summary(&site),
        text,
        topology,
    })
}

/// Everything the writer needs.
pub(crate) struct Site<'a> {
    pub analysis: &'a Analysis,
    pub sides: &'a InterfaceSides,
    pub scored: &'a evidence::Scored,
    pub edge: &'a ChosenEdge,
    pub hosts: &'a hosts::Placed,
}

fn no_edge_reason(analysis: &Analysis, scored: &evidence::Scored) -> String {
    if analysis.flows.is_empty() {
        return "the capture holds no flows".into();
    }
    let seen = scored.addresses();
    if seen == 0 {
        format!(
            "{}, none on the documented Edge ports (443, 3478, 5061, 5062, 8057, 4443, 5269, \
             50000-59999): no Skype for Business Edge Server traffic",
            flows(analysis)
        )
    } else {
        format!(
            "{}; {seen} address{} answer{} an Edge port, but none looks like an Edge Server service",
            flows(analysis),
            if seen == 1 { "" } else { "es" },
            if seen == 1 { "s" } else { "" }
        )
    }
}

/// "1 flow", "24 flows".
fn flows(analysis: &Analysis) -> String {
    let n = analysis.flows.len();
    format!("{n} flow{}", plural(n))
}

/// The side of the Edge each capture interface saw, from its name ("ext", "Internal", "outside"...).
#[derive(Debug, Default)]
pub(crate) struct InterfaceSides {
    /// By global interface index.
    sides: Vec<Option<EdgeSide>>,
    /// Interface name -> side, for `[site] capture_interfaces`.
    pub named: BTreeMap<String, EdgeSide>,
}

impl InterfaceSides {
    fn of(analysis: &Analysis) -> InterfaceSides {
        let mut s = InterfaceSides::default();
        for e in &analysis.interfaces {
            let side = e.name.as_deref().and_then(side_from_name);
            let i = usize::try_from(e.index).unwrap_or(usize::MAX);
            if i < 64 {
                if s.sides.len() <= i {
                    s.sides.resize(i + 1, None);
                }
                s.sides[i] = side;
            }
            if let (Some(name), Some(side)) = (&e.name, side) {
                s.named.insert(name.clone(), side);
            }
        }
        s
    }

    /// The side a flow was seen on: the side of its named interfaces, when they agree.
    pub fn of_flow(&self, interfaces: u64) -> Option<EdgeSide> {
        let mut side = None;
        for (i, s) in self.sides.iter().enumerate() {
            if interfaces & (1u64 << i) == 0 {
                continue;
            }
            match (side, s) {
                (_, None) => {}
                (None, Some(x)) => side = Some(*x),
                (Some(a), Some(b)) if a != *b => return None,
                _ => {}
            }
        }
        side
    }
}

/// Interface names that say a side: whole words of the name, so that "eth0" says nothing.
fn side_from_name(name: &str) -> Option<EdgeSide> {
    const EXTERNAL: [&str; 8] = [
        "ext",
        "external",
        "outside",
        "wan",
        "untrust",
        "untrusted",
        "internet",
        "public",
    ];
    const INTERNAL: [&str; 8] = [
        "int", "internal", "inside", "lan", "trust", "trusted", "corp", "private",
    ];
    let lower = name.to_ascii_lowercase();
    let mut found = None;
    for word in lower.split(|c: char| !c.is_ascii_alphanumeric()) {
        let side = if EXTERNAL.contains(&word) {
            Some(EdgeSide::External)
        } else if INTERNAL.contains(&word) {
            Some(EdgeSide::Internal)
        } else {
            None
        };
        match (found, side) {
            (None, s) => found = s,
            (Some(a), Some(b)) if a != b => return None,
            _ => {}
        }
    }
    found
}

/// Private, shared (CGNAT), loopback and link-local addresses: on the corporate side of a NAT.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let s0 = v6.segments()[0];
            (s0 & 0xfe00) == 0xfc00 || (s0 & 0xffc0) == 0xfe80 || v6.is_loopback()
        }
    }
}

/// Whether the far end of a flow sits on the internal side: the capture interface says so, or
/// (with no interface names) its address is private.
pub(crate) fn internal_side(ip: IpAddr, side: Option<EdgeSide>) -> bool {
    match side {
        Some(EdgeSide::Internal) => true,
        Some(EdgeSide::External) => false,
        None => is_private(ip),
    }
}

/// A set that stops growing at a bound, remembering that it did.
#[derive(Debug, Clone)]
pub(crate) struct Capped<T: std::hash::Hash + Eq> {
    set: FxHashSet<T>,
    more: bool,
}

impl<T: std::hash::Hash + Eq> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            set: FxHashSet::default(),
            more: false,
        }
    }
}

impl<T: std::hash::Hash + Eq> Capped<T> {
    pub fn insert(&mut self, v: T, cap: usize) {
        if self.set.len() < cap {
            self.set.insert(v);
        } else if !self.set.contains(&v) {
            self.more = true;
        }
    }

    pub fn contains(&self, v: &T) -> bool {
        self.set.contains(v)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.set.iter()
    }

    /// "3 peers", "64+ peers".
    pub fn count_words(&self, one: &str, many: &str) -> String {
        let n = self.set.len();
        format!(
            "{n}{} {}",
            if self.more { "+" } else { "" },
            if n == 1 && !self.more { one } else { many }
        )
    }
}

/// Names seen for an address, with how often; bounded.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names(FxHashMap<String, u32>);

/// Distinct names kept per address.
const NAMES_KEPT: usize = 8;

impl Names {
    pub fn add(&mut self, raw: &str) {
        let Some(name) = dns_name(raw) else { return };
        if let Some(n) = self.0.get_mut(&name) {
            *n = n.saturating_add(1);
        } else if self.0.len() < NAMES_KEPT {
            self.0.insert(name, 1);
        }
    }

    /// The most frequent name (ties: the shortest, then alphabetical).
    pub fn top(&self) -> Option<&str> {
        self.0
            .iter()
            .max_by(|a, b| {
                a.1.cmp(b.1)
                    .then(b.0.len().cmp(&a.0.len()))
                    .then(b.0.cmp(a.0))
            })
            .map(|(k, _)| k.as_str())
    }

    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A host name as a DNS name: lower-case, only the characters names are made of, or nothing.
pub(crate) fn dns_name(raw: &str) -> Option<String> {
    let s: String = raw
        .trim()
        .trim_end_matches('.')
        .chars()
        .take(253)
        .collect::<String>()
        .to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.contains('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'))
        && !s.starts_with('.')
        && !s.contains("..");
    ok.then_some(s)
}

/// The first label of a DNS name ("sip" of "sip.contoso.com").
pub(crate) fn first_label(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// The domain of a host name: without its first label when it has three or more.
pub(crate) fn domain_of(name: &str) -> Option<String> {
    let name = name.trim_start_matches("*.");
    let labels: Vec<&str> = name.split('.').collect();
    match labels.len() {
        0 | 1 => None,
        2 => Some(name.to_string()),
        _ => Some(labels[1..].join(".")),
    }
}

/// Names only a corporate network resolves: never a SIP domain or a partner's.
pub(crate) fn is_internal_name(name: &str) -> bool {
    [
        ".local",
        ".lan",
        ".internal",
        ".corp",
        ".intra",
        ".localdomain",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// One Edge service chosen for an address, with the evidence behind it.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub ip: IpAddr,
    /// The public address behind NAT, when the traffic shows it.
    pub public: Option<IpAddr>,
    /// How the public address was seen.
    pub public_why: Option<String>,
    /// The comment: what it was inferred from, and how sure.
    pub why: String,
    pub fqdn: Option<String>,
    /// For the internal interface: the server's name from its TLS names.
    pub server_name: Option<String>,
}

/// The Edge services chosen, by role, each list sorted by address (an Edge pool's servers are
/// paired by that order).
#[derive(Debug, Default)]
pub(crate) struct ChosenEdge {
    pub internal: Vec<Chosen>,
    pub access: Vec<Chosen>,
    pub webconf: Vec<Chosen>,
    pub av: Vec<Chosen>,
    /// At least one chosen address carried traffic only an Edge carries.
    pub has_signature: bool,
    /// Addresses past the pool size written, by role, as "ip (role)".
    pub left_out: Vec<String>,
}

impl ChosenEdge {
    pub fn is_empty(&self) -> bool {
        self.internal.is_empty()
            && self.access.is_empty()
            && self.webconf.is_empty()
            && self.av.is_empty()
    }

    /// Every address of the Edge, public ones included.
    pub fn addresses(&self) -> FxHashSet<IpAddr> {
        self.all()
            .flat_map(|(_, c)| [Some(c.ip), c.public])
            .flatten()
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = (Service, &Chosen)> {
        self.internal
            .iter()
            .map(|c| (Service::Internal, c))
            .chain(self.access.iter().map(|c| (Service::Access, c)))
            .chain(self.webconf.iter().map(|c| (Service::Webconf, c)))
            .chain(self.av.iter().map(|c| (Service::Av, c)))
    }

    pub fn internal_ips(&self) -> FxHashSet<IpAddr> {
        self.internal.iter().map(|c| c.ip).collect()
    }

    /// The Access Edge's addresses, public ones included.
    pub fn access_ips(&self) -> FxHashSet<IpAddr> {
        self.access
            .iter()
            .flat_map(|c| [Some(c.ip), c.public])
            .flatten()
            .collect()
    }

    fn addresses_described(&self) -> String {
        let v: Vec<String> = self
            .all()
            .take(4)
            .map(|(s, c)| format!("{} as {}", c.ip, s.label()))
            .collect();
        v.join(", ")
    }

    /// Whether a second server is only the other address family: at most one IPv4 and one
    /// IPv6 address per role, as one dual-stack server shows.
    pub fn dual_stack_only(&self) -> bool {
        [&self.internal, &self.access, &self.webconf, &self.av]
            .iter()
            .all(|l| {
                l.iter().filter(|c| c.ip.is_ipv4()).count() <= 1
                    && l.iter().filter(|c| c.ip.is_ipv6()).count() <= 1
            })
    }

    /// The Edge servers of the pool (at least one once anything was chosen).
    pub fn servers(&self) -> usize {
        [
            self.internal.len(),
            self.access.len(),
            self.webconf.len(),
            self.av.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// The relayed addresses an A/V service handed out, most frequent first.
pub(crate) fn most_frequent(relayed: &FxHashMap<SocketAddr, u32>, not: IpAddr) -> Option<IpAddr> {
    let mut by_ip: BTreeMap<IpAddr, u32> = BTreeMap::new();
    for (a, n) in relayed {
        if a.ip() != not {
            let e = by_ip.entry(a.ip()).or_default();
            *e = e.saturating_add(*n);
        }
    }
    by_ip
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(ip, _)| ip)
}

/// "s" for a count other than one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_say_a_side_only_as_whole_words() {
        assert_eq!(side_from_name("ext"), Some(EdgeSide::External));
        assert_eq!(side_from_name("Edge-Internal"), Some(EdgeSide::Internal));
        assert_eq!(
            side_from_name("outside (vlan 20)"),
            Some(EdgeSide::External)
        );
        assert_eq!(side_from_name("eth0"), None);
        assert_eq!(side_from_name("\\Device\\NPF_{1234}"), None);
        assert_eq!(side_from_name("int-to-ext"), None);
    }

    #[test]
    fn names_are_cleaned_and_split() {
        assert_eq!(dns_name("SIP.Contoso.com."), Some("sip.contoso.com".into()));
        assert_eq!(dns_name("bad\"name.com"), None);
        assert_eq!(dns_name("localhost"), None);
        assert_eq!(domain_of("sip.fabrikam.com"), Some("fabrikam.com".into()));
        assert_eq!(domain_of("fabrikam.com"), Some("fabrikam.com".into()));
        assert_eq!(domain_of("*.contoso.com"), Some("contoso.com".into()));
        assert_eq!(first_label("webcon.contoso.com"), "webcon");
    }

    #[test]
    fn private_covers_nat_ranges() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "131.107.155.10",
            "203.0.113.5",
            "100.128.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn capped_sets_stop_and_say_so() {
        let mut c = Capped::default();
        for i in 0..10u32 {
            c.insert(i, 4);
        }
        assert_eq!(c.len(), 4);
        assert_eq!(c.count_words("peer", "peers"), "4+ peers");
    }
}
