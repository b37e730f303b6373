//! Types of the matrix data (`data/matrix.toml`) and its loading and validation.
//!
//! A [`Matrix`] is a list of [`Rule`]s, one per documented row and direction of the Edge port and
//! firewall tables of the specification documents (seeds 000..004), and the [`Decision`]s taken
//! where the documents disagree. Every rule names its source document, table heading and lines.
//! `docs/MATRIX.md` describes the file and the decisions.
//!
//! The built-in matrix is compiled in ([`Matrix::builtin`]); the tests below make sure it parses,
//! validates and still holds every row of every table.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which side of the Edge (or reverse proxy) a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interface {
    External,
    Internal,
    ExternalVip,
    InternalVip,
    ReverseProxyExternal,
    ReverseProxyInternal,
}

/// The Edge service a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    Access,
    Webconf,
    Av,
    /// The internal interface's own services: CMS replica agent 4443, CLS 50001-50003.
    Internal,
    XmppProxy,
    ReverseProxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

/// Who opens the connection (TCP) or sends the first datagram (UDP), relative to the Edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    InboundToEdge,
    OutboundFromEdge,
    InboundToReverseProxy,
    OutboundFromReverseProxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    Lync2010,
    Lync2013,
    Sfb2015,
    Sfb2019,
}

impl Version {
    /// The product as Microsoft names it.
    pub fn product_name(self) -> &'static str {
        match self {
            Version::Lync2010 => "Lync Server 2010",
            Version::Lync2013 => "Lync Server 2013",
            Version::Sfb2015 => "Skype for Business Server 2015",
            Version::Sfb2019 => "Skype for Business Server 2019",
        }
    }
}

/// Deployment scenario a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Single Edge, or a DNS-load-balanced pool (002's and 000's non-HLB tables).
    Single,
    ScaledDns,
    /// Real node addresses of a hardware-load-balanced pool.
    HlbServer,
    /// The load balancer's virtual addresses.
    HlbVip,
    Any,
}

/// A feature a rule depends on (`[features]` of the topology).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Federation,
    Xmpp,
    PublicIm,
    Cls,
    LegacyInterop,
}

/// What matching the rule means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleVerdict {
    Permit,
    /// Permitted only when `feature` is on.
    PermitIf,
    /// Permitted, with the rule's note shown.
    PermitNote,
    /// Documented in one seed but contradicted: suspicious.
    Flag,
}

/// An address role: what a rule's source or destination is, resolved to addresses by the topology.
///
/// The external service roles (`edge-access`, `edge-webconf`, `edge-av`) stand for each Edge
/// node's service address both as configured on the NIC and as its public NAT address; the
/// `-vip` roles are hardware load balancer virtual addresses. `any` is any address on the side
/// of the Edge the rule is about (the Internet outside, any internal host inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Any,
    /// Access Edge service external address (the XMPP proxy shares it).
    EdgeAccess,
    /// Web Conferencing Edge service external address.
    EdgeWebconf,
    /// A/V Edge service external address.
    EdgeAv,
    /// Edge internal interface address.
    EdgeInternal,
    EdgeAccessVip,
    EdgeWebconfVip,
    EdgeAvVip,
    EdgeInternalVip,
    /// Front End Servers (Standard Edition or pool members).
    Fe,
    /// A Front End pool's load balancer virtual address.
    FePoolVip,
    Director,
    DirectorPoolVip,
    /// Front End Servers of the pool holding the Central Management store.
    CmsFe,
    /// Survivable Branch Appliances and Servers using this Edge.
    Sba,
    /// Front End Servers running the XMPP Gateway.
    XmppGateway,
    /// Any internal Lync / Skype for Business server (Front End, Director, Mediation, SBA).
    LyncServer,
    /// Hosts in the internal client subnets.
    InternalClient,
    /// Remote users' clients on the Internet.
    ExternalClient,
    /// Federated Access Edges, public IM and XMPP servers (`any` unless the site lists partners).
    FederatedPartner,
    ReverseProxyExternal,
    ReverseProxyInternal,
}

impl Role {
    /// The token as written in the data file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Any => "any",
            Role::EdgeAccess => "edge-access",
            Role::EdgeWebconf => "edge-webconf",
            Role::EdgeAv => "edge-av",
            Role::EdgeInternal => "edge-internal",
            Role::EdgeAccessVip => "edge-access-vip",
            Role::EdgeWebconfVip => "edge-webconf-vip",
            Role::EdgeAvVip => "edge-av-vip",
            Role::EdgeInternalVip => "edge-internal-vip",
            Role::Fe => "fe",
            Role::FePoolVip => "fe-pool-vip",
            Role::Director => "director",
            Role::DirectorPoolVip => "director-pool-vip",
            Role::CmsFe => "cms-fe",
            Role::Sba => "sba",
            Role::XmppGateway => "xmpp-gateway",
            Role::LyncServer => "lync-server",
            Role::InternalClient => "internal-client",
            Role::ExternalClient => "external-client",
            Role::FederatedPartner => "federated-partner",
            Role::ReverseProxyExternal => "reverse-proxy-external",
            Role::ReverseProxyInternal => "reverse-proxy-internal",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port whose number the site may move (`[ports]` of the topology). Written `$name` in the
/// data file, where `name` is the snake_case name below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServicePort {
    /// Access Edge client SIP/TLS port (443).
    AccessSip,
    /// Access Edge federation SIP/MTLS port (5061).
    AccessFederation,
    /// Web Conferencing Edge PSOM/TLS port (443).
    WebconfPsom,
    /// A/V Edge STUN/MSTURN over TCP (443).
    AvTurnTcp,
    /// A/V Edge STUN/MSTURN over UDP (3478).
    AvTurnUdp,
    /// A/V Edge media relay range (50000-59999).
    Media,
}

impl ServicePort {
    pub const ALL: [ServicePort; 6] = [
        ServicePort::AccessSip,
        ServicePort::AccessFederation,
        ServicePort::WebconfPsom,
        ServicePort::AvTurnTcp,
        ServicePort::AvTurnUdp,
        ServicePort::Media,
    ];

    /// The name after `$`, as in the topology's `[ports]` table.
    pub fn name(self) -> &'static str {
        match self {
            ServicePort::AccessSip => "access_sip",
            ServicePort::AccessFederation => "access_federation",
            ServicePort::WebconfPsom => "webconf_psom",
            ServicePort::AvTurnTcp => "av_turn_tcp",
            ServicePort::AvTurnUdp => "av_turn_udp",
            ServicePort::Media => "media",
        }
    }

    /// The documented default port (000, External port firewall summary table).
    pub fn default_port(self) -> PortSpec {
        match self {
            ServicePort::AccessSip | ServicePort::WebconfPsom | ServicePort::AvTurnTcp => {
                PortSpec::Single(443)
            }
            ServicePort::AccessFederation => PortSpec::Single(5061),
            ServicePort::AvTurnUdp => PortSpec::Single(3478),
            ServicePort::Media => PortSpec::Range(50000, 59999),
        }
    }
}

impl FromStr for ServicePort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServicePort::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ServicePort::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown service port `${s}` (expected one of ${})",
                    names.join(", $")
                )
            })
    }
}

impl fmt::Display for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.name())
    }
}

/// A port condition: `any`, a single port `5061`, an inclusive range `50000-59999`, or a
/// service-named port `$access_sip` that the topology resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PortSpec {
    #[default]
    Any,
    Single(u16),
    /// Inclusive; `lo <= hi` is checked when a matrix is validated.
    Range(u16, u16),
    Named(ServicePort),
}

impl PortSpec {
    /// Whether `port` meets the condition, a named port counting as its documented default.
    /// Resolve named ports against the site first ([`PortSpec::resolve`]) where the site moves them.
    pub fn matches(self, port: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Single(p) => p == port,
            PortSpec::Range(lo, hi) => (lo..=hi).contains(&port),
            PortSpec::Named(service) => service.default_port().matches(port),
        }
    }

    /// Replace a service-named port by the site's port for that service (`site` returns `None`
    /// where the site keeps the documented default). Other conditions are returned unchanged.
    pub fn resolve(self, site: impl Fn(ServicePort) -> Option<PortSpec>) -> PortSpec {
        match self {
            PortSpec::Named(service) => match site(service) {
                Some(PortSpec::Named(_)) | None => service.default_port(),
                Some(spec) => spec,
            },
            other => other,
        }
    }
}

impl FromStr for PortSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{s}` is not a port, a range lo-hi, `any` or `$service`"))
        };
        if t.eq_ignore_ascii_case("any") {
            Ok(PortSpec::Any)
        } else if let Some(name) = t.strip_prefix('$') {
            name.parse().map(PortSpec::Named)
        } else if let Some((lo, hi)) = t.split_once('-') {
            Ok(PortSpec::Range(port(lo)?, port(hi)?))
        } else {
            port(t).map(PortSpec::Single)
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Any => f.write_str("any"),
            PortSpec::Single(p) => write!(f, "{p}"),
            PortSpec::Range(lo, hi) => write!(f, "{lo}-{hi}"),
            PortSpec::Named(service) => service.fmt(f),
        }
    }
}

impl Serialize for PortSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = PortSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a port condition: "any", "5061", "50000-59999" or "$access_sip""#)
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PortSpec, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PortSpec, E> {
                u16::try_from(v)
                    .map(PortSpec::Single)
                    .map_err(|_| E::custom(format!("{v} is not a port number")))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PortSpec, E> {
                u16::try_from(v)
                    .map(PortSpec::Single)
                    .map_err(|_| E::custom(format!("{v} is not a port number")))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// Where a rule comes from: a seed document, the table heading as the document writes it (with
/// its parent heading), and the lines of the row in the seed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// "000".."004": the seed file's number.
    pub doc: String,
    /// e.g. "Port and firewall planning > External port firewall summary table".
    pub table: String,
    /// e.g. "L359" or "L359-L361".
    pub lines: String,
}

/// How directly a rule is written in the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// A table row as written.
    Table,
    /// One of the rules a table row writes in one line: `(in/out)`, or `DNS 53` without transport.
    TableExpanded,
    /// Read from a table that is not an Edge table (003's load balancer rows "from reverse proxy").
    TableDerived,
    /// Implied by a document's prose, not by a table row.
    Prose,
    /// The text of the blog article (004).
    Article,
    /// A reply by the article's author in its comments (004).
    Comment,
    /// Closes a gap the tables leave, following a recorded decision.
    Reconciled,
}

/// One documented rule: a flow the documents permit (or, with `flag`, document but contradict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub interface: Interface,
    pub service: Service,
    /// The documents' label (spelling normalized): SIP/TLS, SIP/MTLS, PSOM/TLS, PSOM/MTLS,
    /// STUN/MSTURN, RTP, HTTPS, HTTP, MTLS, XMPP, XMPP/MTLS, DNS; `any` on the Edge-to-Edge rows.
    pub protocol: String,
    pub transport: Transport,
    /// Any of these roles.
    pub src: Vec<Role>,
    /// Any of these roles.
    pub dst: Vec<Role>,
    #[serde(default)]
    pub src_port: PortSpec,
    pub dst_port: PortSpec,
    pub direction: Direction,
    pub versions: Vec<Version>,
    pub scenarios: Vec<Scenario>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<Feature>,
    pub verdict: RuleVerdict,
    pub basis: Basis,
    /// Every contributing row.
    pub sources: Vec<Source>,
    /// The row as written: `[000] ... || [002] ...` when rows were merged.
    pub as_written: String,
    /// The documents' note for the row.
    #[serde(default)]
    pub note: String,
    /// Ids of the [`Decision`]s the rule depends on.
    #[serde(default)]
    pub decisions: Vec<String>,
}

/// A place where the documents disagree or are silent, and what edgewise does about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// "D01".."D35".
    pub id: String,
    pub topic: String,
    pub documents_say: String,
    pub decision: String,
    /// One or two sentences shown to users next to verdicts that rely on the decision.
    pub note: String,
}

/// The whole matrix: `[[rule]]` and `[[decision]]` tables of `data/matrix.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
    #[serde(rename = "decision", default)]
    pub decisions: Vec<Decision>,
}

/// A matrix file that does not parse or does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatrixError {
    #[error("matrix data does not parse: {message}")]
    Parse { message: String },
    #[error("matrix rule {id}: {problem}")]
    Rule { id: String, problem: String },
    #[error("matrix decision {id}: {problem}")]
    Decision { id: String, problem: String },
}

impl Matrix {
    /// The built-in matrix (`data/matrix.toml`), parsed and validated once.
    pub fn builtin() -> Result<&'static Matrix, MatrixError> {
        static BUILTIN: OnceLock<Result<Matrix, MatrixError>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| Matrix::parse(include_str!("../../data/matrix.toml")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parse a matrix file and validate it.
    pub fn parse(text: &str) -> Result<Matrix, MatrixError> {
        let matrix: Matrix = toml::from_str(text).map_err(|e| MatrixError::Parse {
            message: e.to_string(),
        })?;
        matrix.validate()?;
        Ok(matrix)
    }

    /// The decision with this id ("D01"..).
    pub fn decision(&self, id: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    fn validate(&self) -> Result<(), MatrixError> {
        let mut decision_ids = HashSet::new();
        for d in &self.decisions {
            let bad = |problem: &str| MatrixError::Decision {
                id: d.id.clone(),
                problem: problem.to_owned(),
            };
            let well_formed = d.id.len() == 3
                && d.id.starts_with('D')
                && d.id[1..].bytes().all(|b| b.is_ascii_digit());
            if !well_formed {
                return Err(bad("id is not of the form D01"));
            }
            if !decision_ids.insert(d.id.as_str()) {
                return Err(bad("id is used twice"));
            }
            if d.topic.trim().is_empty() || d.decision.trim().is_empty() || d.note.trim().is_empty()
            {
                return Err(bad("topic, decision and note must not be empty"));
            }
        }
        let mut rule_ids = HashSet::new();
        for r in &self.rules {
            r.validate(&decision_ids)?;
            if !rule_ids.insert(r.id.as_str()) {
                return Err(MatrixError::Rule {
                    id: r.id.clone(),
                    problem: "id is used by another rule".to_owned(),
                });
            }
        }
        Ok(())
    }
}

impl Rule {
    fn validate(&self, decision_ids: &HashSet<&str>) -> Result<(), MatrixError> {
        let bad = |problem: String| MatrixError::Rule {
            id: self.id.clone(),
            problem,
        };
        if self.id.trim().is_empty() {
            return Err(bad("id is empty".to_owned()));
        }
        if self.sources.is_empty() {
            return Err(bad("cites no source".to_owned()));
        }
        for s in &self.sources {
            if super::Document::by_key(&s.doc).is_none() {
                let keys: Vec<&str> = super::DOCUMENTS.iter().map(|d| d.key).collect();
                return Err(bad(format!(
                    "source doc `{}` is not one of {}",
                    s.doc,
                    keys.join(", ")
                )));
            }
            if s.table.trim().is_empty() {
                return Err(bad(format!("source in {} names no table", s.doc)));
            }
        }
        for d in &self.decisions {
            if !decision_ids.contains(d.as_str()) {
                return Err(bad(format!("cites decision {d}, which does not exist")));
            }
        }
        for (name, spec) in [("src_port", self.src_port), ("dst_port", self.dst_port)] {
            if let PortSpec::Range(lo, hi) = spec {
                if lo > hi {
                    return Err(bad(format!("{name} range {lo}-{hi} is reversed")));
                }
            }
        }
        match (self.verdict, self.feature) {
            (RuleVerdict::PermitIf, None) => {
                return Err(bad("verdict permit-if needs a feature".to_owned()))
            }
            (RuleVerdict::PermitIf, Some(_)) | (_, None) => {}
            (verdict, Some(feature)) => {
                return Err(bad(format!(
                    "feature {feature:?} is set but verdict {verdict:?} does not depend on it"
                )))
            }
        }
        if self.versions.is_empty() {
            return Err(bad("lists no versions".to_owned()));
        }
        if self.scenarios.is_empty() {
            return Err(bad("lists no scenarios".to_owned()));
        }
        if self.src.is_empty() || self.dst.is_empty() {
            return Err(bad(
                "src and dst must each name at least one role".to_owned()
            ));
        }
        if self.as_written.trim().is_empty() {
            return Err(bad("as_written is empty".to_owned()));
        }
        let proxy_interface = matches!(
            self.interface,
            Interface::ReverseProxyExternal | Interface::ReverseProxyInternal
        );
        let proxy_direction = matches!(
            self.direction,
            Direction::InboundToReverseProxy | Direction::OutboundFromReverseProxy
        );
        if proxy_interface != proxy_direction {
            return Err(bad(format!(
                "direction {:?} does not fit interface {:?}",
                self.direction, self.interface
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static Matrix {
        match Matrix::builtin() {
            Ok(m) => m,
            Err(e) => panic!("the built-in matrix is broken: {e}"),
        }
    }

    /// Bases of rules that stand for a table row (rather than prose, article text or a reconciliation).
    const TABLE_BASES: [Basis; 3] = [Basis::Table, Basis::TableExpanded, Basis::TableDerived];

    const P002: &str = "Reference Architecture 1: Port Summary for Single Consolidated Edge";

    /// Every table the matrix reads: (doc, heading after the parent heading, data rows read, rules
    /// citing the table). The rules are more than the rows where a row is split: 002 writes
    /// `(in/out)` rows and a `DNS 53` row without transport. A dropped or duplicated row fails
    /// `every_table_row_is_a_rule`.
    const TABLES: [(&str, &str, usize, usize); 20] = [
        // 000 Port and firewall planning > External port firewall summary table
        ("000", "Port and firewall planning > External port firewall summary table", 14, 14),
        // 000 Port and firewall planning > Internal port firewall summary table
        ("000", "Port and firewall planning > Internal port firewall summary table", 11, 11),
        // 000 Hardware load balancers for Edge port tables > External port firewall summary table
        ("000", "Hardware load balancers for Edge port tables > External port firewall summary table", 9, 9),
        // 000 Hardware load balancers for Edge port tables > Internal port firewall summary table
        ("000", "Hardware load balancers for Edge port tables > Internal port firewall summary table", 8, 8),
        // 000 Hardware load balancers for Edge port tables > External interface Virtual IPs
        ("000", "Hardware load balancers for Edge port tables > External interface Virtual IPs", 8, 8),
        // 000 Hardware load balancers for Edge port tables > Internal interface Virtual IPs
        ("000", "Hardware load balancers for Edge port tables > Internal interface Virtual IPs", 5, 5),
        // 001 External Interface - Node 1 and Node 2 (Example)
        ("001", "Port and Protocol Details > Firewall Summary for Scaled Consolidated Edge, Hardware Load Balanced: External Interface - Node 1 and Node 2 (Example)", 11, 11),
        // 001 Internal Interface Node 1 and Node 2
        ("001", "Port and Protocol Details > Firewall Summary for Scaled Consolidated Edge, Hardware Load Balanced: Internal Interface Node 1 and Node 2", 8, 8),
        // 001 External Interface Virtual IPs
        ("001", "Port and Protocol Details > External Port Settings Required for Scaled Consolidated Edge, Hardware Load Balanced: External Interface Virtual IPs", 8, 8),
        // 001 Internal Interface Virtual IPs
        ("001", "Port and Protocol Details > Firewall Summary for Scaled Consolidated Edge, Hardware Load Balanced: Internal Interface Virtual IPs", 6, 6),
        // 002 summary, External Interface: 11 rows; DNS 53, SIP/MTLS/5061 (in/out) and STUN/MSTURN/UDP/3478 (in/out) are split
        ("002", "Firewall Summary for Single/Scaled Consolidated Edge with DNS Load Balancing: External Interface", 11, 14),
        // 002 summary, Internal Interface: 6 rows; SIP/MTLS/5061 (in/out) is split
        ("002", "Firewall Details for Single/Scaled Consolidated Edge with DNS Load Balancing: Internal Interface", 6, 7),
        // 002 Reverse Proxy Server: External Interface (each row merged with the single Edge table's reverse proxy row)
        ("002", "Firewall Details for Reverse Proxy Server: External Interface", 2, 2),
        // 002 Reverse Proxy Server: Internal Interface (merged with the single Edge table's 4443 row)
        ("002", "Firewall Details for Reverse Proxy Server: Internal Interface", 1, 1),
        // 002 External Ports Settings Required for Single Consolidated Edge Topology (13 Edge rows, 2 reverse proxy rows)
        ("002", "External Ports Settings Required for Single Consolidated Edge Topology", 15, 15),
        // 002 Internal Ports Settings Required for Single Consolidated Edge Topology (7 Edge rows, 2 reverse proxy rows)
        ("002", "Internal Ports Settings Required for Single Consolidated Edge Topology", 9, 9),
        // 003 Required Client Ports: the 5 of 12 rows that touch the Edge
        ("003", "Port and Protocol Details > Required Client Ports", 5, 5),
        // 003 Hardware Load Balancer Ports if Using Only Hardware Load Balancing: the 2 "(from reverse proxy)" rows
        ("003", "Port and Protocol Details > Hardware Load Balancer Ports if Using Only Hardware Load Balancing", 2, 2),
        // 003 Hardware Load Balancer Ports if Using DNS Load Balancing: the 2 "(from reverse proxy)" rows
        ("003", "Port and Protocol Details > Hardware Load Balancer Ports if Using DNS Load Balancing", 2, 2),
        // 004 the listening ports table (Local Address, Interface, Service, Usage)
        ("004", "Querying Listening Ports > listening ports table (Local Address, Interface, Service, Usage)", 11, 11),
    ];

    /// All rules of the built-in matrix: the 152 table rows above in 151 rules, and 13 prose,
    /// 2 article, 2 comment and 3 reconciled rules.
    const RULE_COUNT: usize = 171;

    fn heading(doc: &str, table: &str) -> String {
        if doc == "002" {
            format!("{P002} > {table}")
        } else {
            table.to_owned()
        }
    }

    fn cites(rule: &Rule, doc: &str, table: &str) -> bool {
        rule.sources
            .iter()
            .any(|s| s.doc == doc && s.table == table)
    }

    #[test]
    fn builtin_parses_and_validates() {
        let m = builtin();
        assert_eq!(m.rules.len(), RULE_COUNT);
        assert!(m.rules.iter().all(|r| !r.sources.is_empty()));
    }

    #[test]
    fn every_table_row_is_a_rule() {
        let m = builtin();
        for (doc, table, rows, rules) in TABLES {
            let table = heading(doc, table);
            let citing: Vec<&Rule> = m
                .rules
                .iter()
                .filter(|r| TABLE_BASES.contains(&r.basis) && cites(r, doc, &table))
                .collect();
            assert_eq!(citing.len(), rules, "rules citing [{doc}] {table}");
            let lines: HashSet<&str> = citing
                .iter()
                .flat_map(|r| r.sources.iter())
                .filter(|s| s.doc == doc && s.table == table)
                .map(|s| s.lines.as_str())
                .collect();
            assert_eq!(lines.len(), rows, "rows of [{doc}] {table}");
        }
    }

    #[test]
    fn table_rules_cite_only_known_tables() {
        let known: Vec<(&str, String)> = TABLES
            .iter()
            .map(|(d, t, _, _)| (*d, heading(d, t)))
            .collect();
        for r in builtin()
            .rules
            .iter()
            .filter(|r| TABLE_BASES.contains(&r.basis))
        {
            for s in &r.sources {
                assert!(
                    known.iter().any(|(d, t)| *d == s.doc && *t == s.table),
                    "{} cites unknown table [{}] {}",
                    r.id,
                    s.doc,
                    s.table
                );
            }
        }
    }

    #[test]
    fn every_decision_exists() {
        let m = builtin();
        for i in 1..=35 {
            let id = format!("D{i:02}");
            assert!(m.decision(&id).is_some(), "{id} missing");
        }
        assert_eq!(m.decisions.len(), 35);
        assert!(m.decision("D36").is_none());
    }

    fn versions() -> [Version; 4] {
        [
            Version::Lync2010,
            Version::Lync2013,
            Version::Sfb2015,
            Version::Sfb2019,
        ]
    }

    /// The matrix scenarios that apply to a site's scenario.
    fn scenario_group(site: &str) -> Vec<Scenario> {
        match site {
            "single" => vec![Scenario::Single, Scenario::Any],
            "scaled-dns" => vec![Scenario::ScaledDns, Scenario::Any],
            _ => vec![Scenario::HlbServer, Scenario::HlbVip, Scenario::Any],
        }
    }

    fn applies(r: &Rule, v: Version, site: &str) -> bool {
        let group = scenario_group(site);
        r.versions.contains(&v) && r.scenarios.iter().any(|s| group.contains(s))
    }

    #[test]
    fn access_sip_inbound_from_any_is_permitted() {
        let m = builtin();
        for v in versions() {
            for site in ["single", "scaled-dns", "hlb"] {
                assert!(
                    m.rules.iter().any(|r| applies(r, v, site)
                        && matches!(r.interface, Interface::External | Interface::ExternalVip)
                        && r.service == Service::Access
                        && r.protocol == "SIP/TLS"
                        && r.transport == Transport::Tcp
                        && r.src.contains(&Role::Any)
                        && r.dst_port == PortSpec::Named(ServicePort::AccessSip)
                        && r.direction == Direction::InboundToEdge
                        && r.verdict == RuleVerdict::Permit),
                    "{v:?} {site}"
                );
            }
        }
        let rule = builtin().rule("ext-access-sip-tls-443-in.dns.s000");
        assert!(
            rule.is_some_and(|r| r.dst == [Role::EdgeAccess] && r.verdict == RuleVerdict::Permit)
        );
    }

    #[test]
    fn av_turn_udp_inbound_is_permitted() {
        let m = builtin();
        for v in versions() {
            for site in ["single", "scaled-dns", "hlb"] {
                assert!(
                    m.rules.iter().any(|r| applies(r, v, site)
                        && r.service == Service::Av
                        && r.transport == Transport::Udp
                        && (r.dst.contains(&Role::EdgeAv) || r.dst.contains(&Role::EdgeAvVip))
                        && r.dst_port == PortSpec::Named(ServicePort::AvTurnUdp)
                        && r.direction == Direction::InboundToEdge
                        && r.verdict == RuleVerdict::Permit),
                    "{v:?} {site}"
                );
            }
        }
    }

    #[test]
    fn inbound_media_range_is_permit_note() {
        let m = builtin();
        let inbound_media: Vec<&Rule> = m
            .rules
            .iter()
            .filter(|r| {
                r.direction == Direction::InboundToEdge
                    && r.dst.contains(&Role::EdgeAv)
                    && r.dst_port == PortSpec::Named(ServicePort::Media)
            })
            .collect();
        assert_eq!(inbound_media.len(), 8);
        for r in &inbound_media {
            assert_eq!(r.verdict, RuleVerdict::PermitNote, "{}", r.id);
            assert_eq!(r.protocol, "RTP", "{}", r.id);
            assert!(r.feature.is_none(), "{}", r.id);
            assert!(r.decisions.iter().any(|d| d == "D01"), "{}", r.id);
        }
        for v in versions() {
            for site in ["single", "scaled-dns", "hlb"] {
                for t in [Transport::Tcp, Transport::Udp] {
                    assert!(
                        inbound_media
                            .iter()
                            .any(|r| applies(r, v, site) && r.transport == t),
                        "{v:?} {site} {t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn outbound_media_in_both_port_forms() {
        let m = builtin();
        for v in versions() {
            for site in ["single", "scaled-dns", "hlb"] {
                for t in [Transport::Tcp, Transport::Udp] {
                    let out = |r: &&Rule| {
                        applies(r, v, site)
                            && r.transport == t
                            && r.src == [Role::EdgeAv]
                            && r.direction == Direction::OutboundFromEdge
                            && r.verdict == RuleVerdict::Permit
                    };
                    assert!(
                        m.rules
                            .iter()
                            .filter(out)
                            .any(|r| r.src_port == PortSpec::Named(ServicePort::Media)
                                && r.dst_port == PortSpec::Any),
                        "source-port form {v:?} {site} {t:?}"
                    );
                    assert!(
                        m.rules
                            .iter()
                            .filter(out)
                            .any(|r| r.dst_port == PortSpec::Range(50000, 59999)),
                        "destination-port form {v:?} {site} {t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn xmpp_rules_need_the_feature_and_two_versions() {
        let m = builtin();
        let xmpp: Vec<&Rule> = m
            .rules
            .iter()
            .filter(|r| {
                r.protocol.starts_with("XMPP")
                    || matches!(r.dst_port, PortSpec::Single(5269 | 23456))
                    || r.feature == Some(Feature::Xmpp)
            })
            .collect();
        assert_eq!(xmpp.len(), 11);
        for r in xmpp {
            assert_eq!(r.feature, Some(Feature::Xmpp), "{}", r.id);
            assert_eq!(r.verdict, RuleVerdict::PermitIf, "{}", r.id);
            assert_eq!(
                r.versions,
                [Version::Lync2013, Version::Sfb2015],
                "{}",
                r.id
            );
            assert_eq!(r.service, Service::XmppProxy, "{}", r.id);
        }
    }

    #[test]
    fn internal_5061_never_from_clients() {
        let m = builtin();
        let allowed = [
            Role::Director,
            Role::DirectorPoolVip,
            Role::Fe,
            Role::FePoolVip,
            Role::Sba,
            Role::EdgeInternal,
            Role::EdgeInternalVip,
        ];
        let sip: Vec<&Rule> = m
            .rules
            .iter()
            .filter(|r| {
                matches!(r.interface, Interface::Internal | Interface::InternalVip)
                    && r.dst_port == PortSpec::Single(5061)
            })
            .collect();
        assert_eq!(sip.len(), 13);
        for r in sip {
            assert!(!r.src.contains(&Role::InternalClient), "{}", r.id);
            for role in r.src.iter().chain(&r.dst) {
                assert!(allowed.contains(role), "{}: {role}", r.id);
            }
        }
    }

    #[test]
    fn internal_hosts_reach_internal_turn() {
        let m = builtin();
        for v in versions() {
            for site in ["single", "scaled-dns", "hlb"] {
                for (t, port) in [(Transport::Tcp, 443), (Transport::Udp, 3478)] {
                    for who in [Role::InternalClient, Role::LyncServer] {
                        assert!(
                            m.rules.iter().any(|r| applies(r, v, site)
                                && r.interface == Interface::Internal
                                && r.transport == t
                                && r.dst_port == PortSpec::Single(port)
                                && r.src.contains(&who)
                                && r.verdict == RuleVerdict::Permit),
                            "{v:?} {site} {who} {port}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn flags_are_the_two_contradicted_rows() {
        let flagged: Vec<&str> = builtin()
            .rules
            .iter()
            .filter(|r| r.verdict == RuleVerdict::Flag)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(
            flagged,
            [
                "intvip-av-stun-msturn-443-out.vip",
                "ext-access-sip-mtls-5061-in.any.s003"
            ]
        );
    }

    #[test]
    fn named_ports_are_the_edges_own_external_ports() {
        for r in &builtin().rules {
            let external = matches!(r.interface, Interface::External | Interface::ExternalVip);
            if let PortSpec::Named(_) = r.dst_port {
                assert!(
                    external && r.direction == Direction::InboundToEdge,
                    "{}",
                    r.id
                );
            }
            if let PortSpec::Named(_) = r.src_port {
                assert!(
                    external && r.direction == Direction::OutboundFromEdge,
                    "{}",
                    r.id
                );
            }
        }
    }

    #[test]
    fn port_spec_round_trips() {
        for text in [
            "any",
            "5061",
            "50000-59999",
            "$access_sip",
            "$media",
            "$av_turn_udp",
        ] {
            let spec: PortSpec = match text.parse() {
                Ok(spec) => spec,
                Err(e) => panic!("{text}: {e}"),
            };
            assert_eq!(spec.to_string(), text);
        }
        for bad in ["$nope", "70000", "a-b", "", "443-"] {
            assert!(bad.parse::<PortSpec>().is_err(), "{bad}");
        }
        assert!(PortSpec::Named(ServicePort::Media).matches(50137));
        assert!(!PortSpec::Named(ServicePort::AccessSip).matches(5061));
        assert_eq!(
            PortSpec::Named(ServicePort::AccessSip)
                .resolve(|s| { (s == ServicePort::AccessSip).then_some(PortSpec::Single(5061)) }),
            PortSpec::Single(5061)
        );
        assert_eq!(
            PortSpec::Named(ServicePort::AvTurnUdp).resolve(|_| None),
            PortSpec::Single(3478)
        );
    }

    const GOOD: &str = r#"
[[decision]]
id = "D01"
topic = "t"
documents_say = "s"
decision = "d"
note = "n"

[[rule]]
id = "RULE-A"
interface = "external"
service = "av"
protocol = "RTP"
transport = "udp"
src = ["any"]
dst = ["edge-av"]
dst_port = "$media"
direction = "inbound-to-edge"
versions = ["sfb2015"]
scenarios = ["single"]
verdict = "permit-note"
basis = "table"
as_written = "row"
decisions = ["D01"]
sources = [{ doc = "001", table = "T", lines = "L41" }]
"#;

    fn rejected(text: &str) -> String {
        match Matrix::parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_parses() {
        let m = match Matrix::parse(GOOD) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(m.rules[0].src_port, PortSpec::Any);
        assert!(m.rules[0].note.is_empty());
    }

    #[test]
    fn bad_files_are_rejected_naming_the_rule() {
        let second = GOOD.split("[[rule]]").nth(1).unwrap_or_default();
        let duplicate = format!("{GOOD}\n[[rule]]{second}");
        assert!(rejected(&duplicate).contains("RULE-A"));

        let unknown = GOOD.replace(r#"decisions = ["D01"]"#, r#"decisions = ["D99"]"#);
        let msg = rejected(&unknown);
        assert!(msg.contains("RULE-A") && msg.contains("D99"), "{msg}");

        let no_feature = GOOD.replace(r#"verdict = "permit-note""#, r#"verdict = "permit-if""#);
        let msg = rejected(&no_feature);
        assert!(msg.contains("RULE-A") && msg.contains("feature"), "{msg}");

        let reversed = GOOD.replace(r#"dst_port = "$media""#, r#"dst_port = "59999-50000""#);
        let msg = rejected(&reversed);
        assert!(msg.contains("RULE-A") && msg.contains("reversed"), "{msg}");

        let no_source = GOOD.replace(
            r#"sources = [{ doc = "001", table = "T", lines = "L41" }]"#,
            "sources = []",
        );
        assert!(rejected(&no_source).contains("RULE-A"));

        let bad_doc = GOOD.replace(r#"doc = "001""#, r#"doc = "007""#);
        assert!(rejected(&bad_doc).contains("RULE-A"));

        let no_versions = GOOD.replace(r#"versions = ["sfb2015"]"#, "versions = []");
        assert!(rejected(&no_versions).contains("RULE-A"));

        let unknown_field =
            GOOD.replace(r#"as_written = "row""#, "as_written = \"row\"\nextra = 1");
        assert!(rejected(&unknown_field).contains("extra"));
    }
}
