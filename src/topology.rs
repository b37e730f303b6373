//! The user's site, read from a TOML topology file (`topology-example.toml` is the contract).
//!
//! Reading is two steps: TOML into [`TopologyFile`] (unknown keys rejected, so a typo is an
//! error, not a silently ignored setting), then validation into [`Topology`], which resolves every
//! address to the roles the port matrix speaks of. Every error names the file, the line and
//! column, and the fix.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use crate::matrix::{Feature, PortSpec, Role, Scenario, ServicePort, Version};

/// Where the capture was taken: decides whether private or public Edge addresses appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapturePoint {
    Edge,
    ExternalFirewall,
    InternalFirewall,
}

/// The deployment scenario as users write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SiteScenario {
    Single,
    ScaledDns,
    Hlb,
}

impl SiteScenario {
    /// Matrix scenarios that apply to this site.
    pub fn matrix_scenarios(self) -> &'static [Scenario] {
        match self {
            SiteScenario::Single => &[Scenario::Single, Scenario::Any],
            SiteScenario::ScaledDns => &[Scenario::Single, Scenario::ScaledDns, Scenario::Any],
            SiteScenario::Hlb => &[Scenario::HlbServer, Scenario::HlbVip, Scenario::Any],
        }
    }
}

type Addr = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    site: SiteSection,
    #[serde(default)]
    features: FeaturesSection,
    #[serde(default)]
    edge: Vec<EdgeSection>,
    #[serde(default)]
    ports: PortsSection,
    #[serde(default)]
    vips: Option<Spanned<VipsSection>>,
    #[serde(default)]
    internal: InternalSection,
    #[serde(default)]
    reverse_proxy: Option<ReverseProxySection>,
    #[serde(default)]
    federation: FederationSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteSection {
    #[serde(default)]
    name: String,
    product: Spanned<Version>,
    scenario: Spanned<SiteScenario>,
    #[serde(default = "default_capture_point")]
    capture_point: CapturePoint,
    #[serde(default)]
    sip_domains: Vec<String>,
    /// Which Edge side each capture interface (pcapng interface name) saw.
    #[serde(default)]
    capture_interfaces: BTreeMap<String, EdgeSide>,
}

/// The side of the Edge a capture interface was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeSide {
    External,
    Internal,
}

fn default_capture_point() -> CapturePoint {
    CapturePoint::Edge
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FeaturesSection {
    #[serde(default = "yes")]
    federation: bool,
    #[serde(default)]
    xmpp: Option<Spanned<bool>>,
    #[serde(default)]
    public_im: bool,
    #[serde(default)]
    cls: bool,
    #[serde(default)]
    legacy_interop: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceSection {
    ip: Addr,
    #[serde(default)]
    public: Option<Addr>,
    #[serde(default)]
    fqdn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeSection {
    name: String,
    internal: Spanned<OneOrMany>,
    access: ServiceSection,
    webconf: ServiceSection,
    av: ServiceSection,
}

/// `internal = "172.25.33.10"` or `internal = ["172.25.33.10", "172.25.33.11"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The addresses of a one-or-many field, each with the span of the whole field.
fn items(v: &Spanned<OneOrMany>) -> Vec<Addr> {
    let span = v.span();
    let list = match v.get_ref() {
        OneOrMany::One(a) => vec![a.clone()],
        OneOrMany::Many(l) => l.clone(),
    };
    list.into_iter()
        .map(|a| Spanned::new(span.clone(), a))
        .collect()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PortsSection {
    access_sip: Option<Spanned<u16>>,
    access_federation: Option<Spanned<u16>>,
    webconf_psom: Option<Spanned<u16>>,
    av_turn_tcp: Option<Spanned<u16>>,
    av_turn_udp: Option<Spanned<u16>>,
    media: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VipsSection {
    access: Option<Addr>,
    webconf: Option<Addr>,
    av: Option<Addr>,
    internal: Option<Addr>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InternalSection {
    #[serde(default)]
    front_end: Vec<Addr>,
    #[serde(default)]
    front_end_vip: Option<Addr>,
    #[serde(default)]
    director: Vec<Addr>,
    #[serde(default)]
    director_vip: Option<Addr>,
    #[serde(default)]
    cms_master: Vec<Addr>,
    #[serde(default)]
    sba: Vec<Addr>,
    #[serde(default)]
    xmpp_gateway: Vec<Addr>,
    #[serde(default)]
    mediation: Vec<Addr>,
    #[serde(default)]
    server_subnets: Vec<Addr>,
    #[serde(default)]
    client_subnets: Vec<Addr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReverseProxySection {
    external: Addr,
    internal: Addr,
    #[serde(default)]
    public: Option<Addr>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FederationSection {
    #[serde(default)]
    partner: Vec<PartnerSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerSection {
    domain: String,
    #[serde(default)]
    access_edge: Vec<Addr>,
    #[serde(default)]
    av_edge: Vec<Addr>,
}

/// A problem in a topology file: where, what, and how to fix it.
#[derive(Debug, thiserror::Error)]
pub struct TopologyError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

/// One Edge server of the pool, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeNode {
    pub name: String,
    pub internal: Vec<IpAddr>,
    pub access: ServiceAddr,
    pub webconf: ServiceAddr,
    pub av: ServiceAddr,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAddr {
    pub ip: IpAddr,
    pub public: Option<IpAddr>,
    pub fqdn: Option<String>,
}

impl ServiceAddr {
    pub fn is_natted(&self) -> bool {
        self.public.is_some_and(|p| p != self.ip)
    }
}

/// A federation partner the user expects to see.
#[derive(Debug, Clone, Serialize)]
pub struct Partner {
    pub domain: String,
    pub access_edge: Vec<IpAddr>,
    pub av_edge: Vec<IpAddr>,
}

/// The validated site.
#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub source: String,
    pub name: String,
    pub product: Version,
    pub scenario: SiteScenario,
    pub capture_point: CapturePoint,
    /// Capture interface name -> the Edge side it saw (`[site] capture_interfaces`).
    pub capture_interfaces: BTreeMap<String, EdgeSide>,
    pub sip_domains: Vec<String>,
    pub features: BTreeMap<Feature, bool>,
    pub edges: Vec<EdgeNode>,
    /// Ports of the services, defaults filled in.
    #[serde(skip)]
    pub ports: BTreeMap<ServicePort, PortSpec>,
    /// Roles of every address the file names.
    pub roles: BTreeMap<IpAddr, Vec<Role>>,
    /// `roles` hashed: the judge and the diagnosis look an address up several times per flow,
    /// and the ordered map's search was a tenth of a 650k-flow audit.
    #[serde(skip)]
    role_index: rustc_hash::FxHashMap<IpAddr, Vec<Role>>,
    pub server_subnets: Vec<IpNet>,
    pub client_subnets: Vec<IpNet>,
    pub partners: Vec<Partner>,
}

/// The bundled sample topology (the seed documents' example addresses).
pub const SAMPLE: &str = include_str!("../captures/topology.toml");

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err_at(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> TopologyError {
        let (line, column) = line_col(self.text, span.start);
        TopologyError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    fn ip(&self, a: &Addr, what: &str) -> Result<IpAddr, TopologyError> {
        a.get_ref().trim().parse::<IpAddr>().map_err(|_| {
            self.err_at(
                a.span(),
                format!(
                    "{what}: '{}' is not an IP address; write an IPv4 or IPv6 address such as 10.45.16.10",
                    a.get_ref()
                ),
            )
        })
    }

    fn net(&self, a: &Addr, what: &str) -> Result<IpNet, TopologyError> {
        let s = a.get_ref().trim();
        s.parse::<IpNet>()
            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                self.err_at(
                    a.span(),
                    format!("{what}: '{s}' is not a subnet; write it in CIDR form such as 192.168.20.0/24"),
                )
            })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Topology {
    /// Reads and validates a topology file.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the topology file: {e}"),
        })?;
        Topology::parse(&text, path)
    }

    /// Parses and validates topology text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Topology, TopologyError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let ctx = Ctx { file, text };
        let raw: TopologyFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut err = ctx.err_at(span, e.message().trim().to_string());
            if err.message.contains("unknown field") {
                err.message.push_str(" (see `edgewise topology init` for the keys edgewise reads)");
            }
            if text.trim().is_empty() {
                err.line = 0;
                err.message =
                    "the topology file is empty; it needs at least [site] with product and scenario (see `edgewise topology init`)"
                        .into();
            }
            err
        })?;
        build(&ctx, raw)
    }

    /// What is likely incomplete: accepted, but the verdicts will suffer. Said by `topology
    /// check` and before an audit.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.declares_internal_side() {
            w.push(format!(
                "{}: no [internal] section (front_end, server_subnets, client_subnets): internal hosts \
                 cannot be told from the Internet, so your Front End's connections to the Edge internal \
                 interface will be judged as coming from external hosts; add the [internal] section",
                self.source
            ));
        } else if self.client_subnets.is_empty() {
            w.push(format!(
                "{}: [internal] client_subnets is empty: internal clients' media to the Edge internal \
                 interface and hairpins through its public addresses cannot be recognised; list your client subnets",
                self.source
            ));
        }
        w
    }

    /// Whether the file places any host of the internal network: a server of the [internal]
    /// section or a subnet. The reverse proxy's internal leg alone does not count: it says
    /// nothing of where the Front End and the clients are.
    pub fn declares_internal_side(&self) -> bool {
        self.roles
            .values()
            .flatten()
            .any(|r| is_internal_role(*r) && *r != Role::ReverseProxyInternal)
            || !self.server_subnets.is_empty()
            || !self.client_subnets.is_empty()
    }

    pub fn feature(&self, f: Feature) -> bool {
        self.features.get(&f).copied().unwrap_or(false)
    }

    /// The roles of an address: those the file names, else `internal-client` for an address in
    /// a client subnet. (Other hosts of the server subnets have no matrix role.)
    /// Borrowed: the diagnosis asks this several times per flow, and a copy each time was a
    /// tenth of a 650k-flow audit.
    pub fn roles_of(&self, ip: IpAddr) -> &[Role] {
        if let Some(r) = self.role_index.get(&ip) {
            return r;
        }
        if self.client_subnets.iter().any(|n| n.contains(&ip)) {
            return &[Role::InternalClient];
        }
        &[]
    }

    /// True for addresses on the corporate side: internal roles and the internal subnets.
    pub fn is_internal_host(&self, ip: IpAddr) -> bool {
        self.roles_of(ip).iter().any(|r| is_internal_role(*r))
            || self.server_subnets.iter().any(|n| n.contains(&ip))
            || self.client_subnets.iter().any(|n| n.contains(&ip))
    }

    /// True for any address of one of our Edge servers (external, public, internal or VIP).
    pub fn is_edge(&self, ip: IpAddr) -> bool {
        self.role_index
            .get(&ip)
            .is_some_and(|r| r.iter().any(|r| is_edge_role(*r)))
    }

    /// The port a named service uses on this site.
    pub fn port(&self, p: ServicePort) -> PortSpec {
        self.ports
            .get(&p)
            .copied()
            .unwrap_or_else(|| p.default_port())
    }
}

/// Roles that are addresses of our own Edge servers.
pub fn is_edge_role(r: Role) -> bool {
    matches!(
        r,
        Role::EdgeAccess
            | Role::EdgeWebconf
            | Role::EdgeAv
            | Role::EdgeInternal
            | Role::EdgeAccessVip
            | Role::EdgeWebconfVip
            | Role::EdgeAvVip
            | Role::EdgeInternalVip
    )
}

/// Roles that sit on the corporate side of the Edge.
pub fn is_internal_role(r: Role) -> bool {
    matches!(
        r,
        Role::Fe
            | Role::FePoolVip
            | Role::Director
            | Role::DirectorPoolVip
            | Role::CmsFe
            | Role::Sba
            | Role::XmppGateway
            | Role::LyncServer
            | Role::InternalClient
            | Role::ReverseProxyInternal
    )
}

/// The role's name as the matrix writes it.
pub fn role_label(r: Role) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{r:?}"))
}

fn build(ctx: &Ctx<'_>, raw: TopologyFile) -> Result<Topology, TopologyError> {
    let scenario = *raw.site.scenario.get_ref();
    let mut roles: BTreeMap<IpAddr, Vec<Role>> = BTreeMap::new();
    // Where each address was first named, for "two roles on one address" errors.
    let mut named_at: BTreeMap<IpAddr, (std::ops::Range<usize>, &'static str)> = BTreeMap::new();
    let mut add = |ip: IpAddr, role: Role, span: std::ops::Range<usize>, what: &'static str| {
        let e = roles.entry(ip).or_default();
        if !e.contains(&role) {
            e.push(role);
        }
        named_at.entry(ip).or_insert((span, what));
    };

    let client_subnets = raw
        .internal
        .client_subnets
        .iter()
        .map(|a| ctx.net(a, "client_subnets"))
        .collect::<Result<Vec<_>, _>>()?;
    let server_subnets = raw
        .internal
        .server_subnets
        .iter()
        .map(|a| ctx.net(a, "server_subnets"))
        .collect::<Result<Vec<_>, _>>()?;

    if raw.edge.is_empty() {
        return Err(TopologyError {
            file: ctx.file.to_path_buf(),
            line: 0,
            column: 0,
            message: "no [[edge]] table: describe at least one Edge server (name, internal, access, webconf, av)".into(),
        });
    }
    let mut edges = Vec::new();
    let mut service_ips: Vec<(IpAddr, std::ops::Range<usize>, &'static str)> = Vec::new();
    for e in &raw.edge {
        let mut internal = Vec::new();
        for a in &items(&e.internal) {
            let ip = ctx.ip(a, "edge internal")?;
            internal.push(ip);
            add(
                ip,
                Role::EdgeInternal,
                a.span(),
                "the Edge internal interface",
            );
            service_ips.push((ip, a.span(), "internal"));
        }
        let mut service = |s: &ServiceSection,
                           role: Role,
                           what: &'static str|
         -> Result<ServiceAddr, TopologyError> {
            let ip = ctx.ip(&s.ip, what)?;
            let public = s.public.as_ref().map(|p| ctx.ip(p, what)).transpose()?;
            if scenario == SiteScenario::Hlb && public.is_some_and(|p| p != ip) {
                return Err(ctx.err_at(
                    s.public.as_ref().map_or(s.ip.span(), |p| p.span()),
                    format!(
                        "{what}: NAT (a public address different from ip) cannot be used with scenario = \"hlb\": \
                         hardware-load-balanced Edge pools need publicly routable addresses without NAT \
                         (Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > \
                         Topology planning); remove `public` or use scenario = \"scaled-dns\""
                    ),
                ));
            }
            add(ip, role, s.ip.span(), what);
            service_ips.push((ip, s.ip.span(), what));
            if let (Some(p), Some(ps)) = (public, &s.public) {
                add(p, role, ps.span(), what);
            }
            Ok(ServiceAddr {
                ip,
                public,
                fqdn: s.fqdn.clone(),
            })
        };
        let access = service(&e.access, Role::EdgeAccess, "access")?;
        let webconf = service(&e.webconf, Role::EdgeWebconf, "webconf")?;
        let av = service(&e.av, Role::EdgeAv, "av")?;
        edges.push(EdgeNode {
            name: e.name.clone(),
            internal,
            access,
            webconf,
            av,
        });
    }

    // Service ports, defaults filled in.
    let mut ports = BTreeMap::new();
    let p = &raw.ports;
    for (sp, v) in [
        (ServicePort::AccessSip, &p.access_sip),
        (ServicePort::AccessFederation, &p.access_federation),
        (ServicePort::WebconfPsom, &p.webconf_psom),
        (ServicePort::AvTurnTcp, &p.av_turn_tcp),
        (ServicePort::AvTurnUdp, &p.av_turn_udp),
    ] {
        let port = v
            .as_ref()
            .map_or(sp.default_port(), |s| PortSpec::Single(*s.get_ref()));
        ports.insert(sp, port);
    }
    let media = match &p.media {
        None => ServicePort::Media.default_port(),
        Some(s) => match s.get_ref().parse::<PortSpec>() {
            Ok(PortSpec::Range(lo, hi)) if lo > hi => {
                return Err(ctx.err_at(
                    s.span(),
                    format!(
                        "media: '{}' runs backwards; write the low port first: \"{hi}-{lo}\"",
                        s.get_ref()
                    ),
                ))
            }
            Ok(PortSpec::Range(lo, hi)) => PortSpec::Range(lo, hi),
            _ => {
                return Err(ctx.err_at(
                    s.span(),
                    format!(
                        "media: '{}' is not a port range; write it as \"50000-59999\"",
                        s.get_ref()
                    ),
                ))
            }
        },
    };
    ports.insert(ServicePort::Media, media);

    // Services sharing one external address need distinct ports.
    for (i, a) in service_ips.iter().enumerate() {
        for b in &service_ips[i + 1..] {
            if a.0 != b.0 {
                continue;
            }
            let tcp_port = |what: &str| match what {
                "access" => Some(ports[&ServicePort::AccessSip]),
                "webconf" => Some(ports[&ServicePort::WebconfPsom]),
                "av" => Some(ports[&ServicePort::AvTurnTcp]),
                _ => None,
            };
            match (tcp_port(a.2), tcp_port(b.2)) {
                (Some(pa), Some(pb)) if pa == pb => {
                    return Err(ctx.err_at(
                        b.1.clone(),
                        format!(
                            "{} and {} share the address {} and the same TCP port {pa}: with one external address, \
                             give each service its own port under [ports] (e.g. access_sip = 5061, webconf_psom = 444, \
                             av_turn_tcp = 443)",
                            a.2, b.2, a.0
                        ),
                    ))
                }
                (None, _) | (_, None) => {
                    return Err(ctx.err_at(
                        b.1.clone(),
                        format!(
                            "{} is both the Edge internal interface and the {} address: the internal and external \
                             sides must use different addresses",
                            a.0,
                            if a.2 == "internal" { b.2 } else { a.2 }
                        ),
                    ))
                }
                _ => {}
            }
        }
    }

    // HLB VIPs.
    if let Some(v) = &raw.vips {
        if scenario != SiteScenario::Hlb {
            return Err(ctx.err_at(
                v.span(),
                "[vips] describes a hardware load balancer, but scenario is not \"hlb\": set scenario = \"hlb\" or remove [vips]",
            ));
        }
        let v = v.get_ref();
        for (a, role, what) in [
            (&v.access, Role::EdgeAccessVip, "vips.access"),
            (&v.webconf, Role::EdgeWebconfVip, "vips.webconf"),
            (&v.av, Role::EdgeAvVip, "vips.av"),
            (&v.internal, Role::EdgeInternalVip, "vips.internal"),
        ] {
            if let Some(a) = a {
                add(ctx.ip(a, what)?, role, a.span(), what);
            }
        }
    } else if scenario == SiteScenario::Hlb {
        return Err(ctx.err_at(
            raw.site.scenario.span(),
            "scenario = \"hlb\" needs a [vips] table with the load balancer's access, webconf, av and internal addresses",
        ));
    }

    // Internal servers.
    let i = &raw.internal;
    let lists: [(&Vec<Addr>, Role, &'static str); 6] = [
        (&i.front_end, Role::Fe, "front_end"),
        (&i.director, Role::Director, "director"),
        (&i.cms_master, Role::CmsFe, "cms_master"),
        (&i.sba, Role::Sba, "sba"),
        (&i.xmpp_gateway, Role::XmppGateway, "xmpp_gateway"),
        (&i.mediation, Role::LyncServer, "mediation"),
    ];
    for (list, role, what) in lists {
        for a in list {
            let ip = ctx.ip(a, what)?;
            add(ip, role, a.span(), what);
            if role != Role::XmppGateway {
                add(ip, Role::LyncServer, a.span(), what);
            }
        }
    }
    for (a, role, what) in [
        (&i.front_end_vip, Role::FePoolVip, "front_end_vip"),
        (&i.director_vip, Role::DirectorPoolVip, "director_vip"),
    ] {
        if let Some(a) = a {
            add(ctx.ip(a, what)?, role, a.span(), what);
        }
    }
    if let Some(rp) = &raw.reverse_proxy {
        add(
            ctx.ip(&rp.external, "reverse_proxy.external")?,
            Role::ReverseProxyExternal,
            rp.external.span(),
            "reverse_proxy.external",
        );
        add(
            ctx.ip(&rp.internal, "reverse_proxy.internal")?,
            Role::ReverseProxyInternal,
            rp.internal.span(),
            "reverse_proxy.internal",
        );
        if let Some(p) = &rp.public {
            add(
                ctx.ip(p, "reverse_proxy.public")?,
                Role::ReverseProxyExternal,
                p.span(),
                "reverse_proxy.public",
            );
        }
    }
    let mut partners = Vec::new();
    for p in &raw.federation.partner {
        let mut access_edge = Vec::new();
        for a in &p.access_edge {
            let ip = ctx.ip(a, "federation.partner.access_edge")?;
            access_edge.push(ip);
            add(ip, Role::FederatedPartner, a.span(), "federation partner");
        }
        let mut av_edge = Vec::new();
        for a in &p.av_edge {
            let ip = ctx.ip(a, "federation.partner.av_edge")?;
            av_edge.push(ip);
            add(ip, Role::FederatedPartner, a.span(), "federation partner");
        }
        partners.push(Partner {
            domain: p.domain.clone(),
            access_edge,
            av_edge,
        });
    }

    // Roles that cannot share an address.
    for (ip, rs) in &roles {
        let edge = rs.iter().any(|r| is_edge_role(*r));
        let other = rs
            .iter()
            .find(|r| {
                !is_edge_role(**r) && **r != Role::LyncServer && **r != Role::FederatedPartner
            })
            .copied();
        let (span, what) = named_at.get(ip).cloned().unwrap_or((0..0, ""));
        if let (true, Some(o)) = (edge, other) {
            return Err(ctx.err_at(
                span,
                format!(
                    "{ip} ({what}) is both an Edge address and a {} address: an address has one role; check the addresses",
                    role_label(o)
                ),
            ));
        }
        if edge && rs.contains(&Role::FederatedPartner) {
            return Err(ctx.err_at(
                span,
                format!("{ip} is both one of our Edge addresses and a federation partner's"),
            ));
        }
        if edge && client_subnets.iter().any(|n| n.contains(ip)) {
            return Err(ctx.err_at(
                span,
                format!(
                    "{ip} ({what}) lies inside a client subnet: Edge addresses are in the perimeter network, not among \
                     internal clients; check the address or the client_subnets"
                ),
            ));
        }
    }

    let product = *raw.site.product.get_ref();
    let xmpp = raw.features.xmpp.as_ref().is_some_and(|x| *x.get_ref());
    if xmpp && product == Version::Sfb2019 {
        let span = raw.features.xmpp.as_ref().map_or(0..0, |x| x.span());
        return Err(ctx.err_at(
            span,
            "xmpp = true, but Skype for Business Server 2019 does not support XMPP federation \
             (XMPP gateways and proxies were deprecated): set xmpp = false, or product = \"sfb2015\" if this Edge runs 2015",
        ));
    }
    let features = BTreeMap::from([
        (Feature::Federation, raw.features.federation),
        (Feature::Xmpp, xmpp),
        (Feature::PublicIm, raw.features.public_im),
        (Feature::Cls, raw.features.cls),
        (Feature::LegacyInterop, raw.features.legacy_interop),
    ]);
    Ok(Topology {
        source: ctx.file.display().to_string(),
        name: raw.site.name,
        product,
        scenario,
        capture_point: raw.site.capture_point,
        capture_interfaces: raw.site.capture_interfaces,
        sip_domains: raw.site.sip_domains,
        features,
        edges,
        ports,
        role_index: roles.iter().map(|(ip, r)| (*ip, r.clone())).collect(),
        roles,
        server_subnets,
        client_subnets,
        partners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Topology, TopologyError> {
        Topology::parse(text, Path::new("site.toml"))
    }

    #[test]
    fn the_sample_resolves_roles() {
        let t = parse(SAMPLE).expect("sample parses");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(t.roles_of(ip("131.107.155.30")), vec![Role::EdgeAv]);
        assert_eq!(t.roles_of(ip("10.45.16.10")), vec![Role::EdgeAccess]);
        assert_eq!(t.roles_of(ip("172.25.33.10")), vec![Role::EdgeInternal]);
        assert_eq!(t.roles_of(ip("192.168.20.55")), vec![Role::InternalClient]);
        assert!(t.roles_of(ip("192.168.10.90")).contains(&Role::CmsFe));
        assert_eq!(t.port(ServicePort::AccessSip), PortSpec::Single(443));
    }

    fn replaced(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from}");
        SAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn a_bad_address_names_line_and_fix() {
        let e = parse(&replaced("\"10.45.16.20\"", "\"10.45.16.300\"")).expect_err("rejected");
        let s = e.to_string();
        assert!(
            s.starts_with("site.toml:") && s.contains("'10.45.16.300' is not an IP address"),
            "{s}"
        );
        let line = SAMPLE
            .lines()
            .position(|l| l.contains("10.45.16.20"))
            .expect("line")
            + 1;
        assert_eq!(e.line, line);
    }

    #[test]
    fn nat_with_hlb_is_refused() {
        let t = replaced("scenario = \"single\"", "scenario = \"hlb\"");
        let e = parse(&t).expect_err("rejected").to_string();
        assert!(e.contains("NAT") && e.contains("hlb"), "{e}");
    }

    #[test]
    fn edge_address_in_a_client_subnet_is_refused() {
        let e = parse(&replaced(
            "client_subnets = [\"192.168.20.0/24\"]",
            "client_subnets = [\"10.45.16.0/24\"]",
        ))
        .expect_err("rejected")
        .to_string();
        assert!(e.contains("inside a client subnet"), "{e}");
    }

    #[test]
    fn two_roles_on_one_address_are_refused() {
        let e = parse(&replaced(
            "front_end = [\"192.168.10.90\"",
            "front_end = [\"172.25.33.10\"",
        ))
        .expect_err("rejected")
        .to_string();
        assert!(e.contains("172.25.33.10") && e.contains("one role"), "{e}");
        let e = parse(&replaced("\"10.45.16.20\"", "\"10.45.16.10\""))
            .expect_err("rejected")
            .to_string();
        assert!(
            e.contains("same TCP port 443") && e.contains("[ports]"),
            "{e}"
        );
    }

    #[test]
    fn one_address_with_distinct_ports_is_accepted() {
        let t = replaced("\"10.45.16.20\"", "\"10.45.16.10\"").replacen(
            "[internal]",
            "[ports]\naccess_sip = 5061\nwebconf_psom = 444\n\n[internal]",
            1,
        );
        let t = t.replacen("\"10.45.16.30\"", "\"10.45.16.10\"", 1);
        let topo = parse(&t).expect("accepted");
        assert_eq!(topo.port(ServicePort::WebconfPsom), PortSpec::Single(444));
    }

    #[test]
    fn unknown_keys_and_empty_files_say_what_to_do() {
        let e = parse(&replaced("federation = true", "federaton = true"))
            .expect_err("rejected")
            .to_string();
        assert!(
            e.contains("federaton") && e.contains("topology init"),
            "{e}"
        );
        let e = parse("").expect_err("rejected").to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
