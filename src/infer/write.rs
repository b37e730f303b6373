//! The inferred site as a topology file: the format of `topology init` and
//! `captures/topology.toml`, with a comment on every inferred line saying what it was inferred
//! from and how sure, and placeholders (from a documentation range the capture does not use)
//! where an Edge service was never seen, so that the file validates and the gaps are obvious.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use super::evidence::Service;
use super::{domain_of, is_internal_name, plural, Chosen, Site};
use crate::topology::EdgeSide;

/// Code is padded to this column before its comment.
const COMMENT_COLUMN: usize = 34;

/// Lines of a TOML file, each with an optional comment.
#[derive(Default)]
struct Out(String);

impl Out {
    fn line(&mut self, code: &str, comment: &str) {
        let comment = clean(comment);
        if comment.is_empty() {
            let _ = writeln!(self.0, "{code}");
        } else {
            let _ = writeln!(
                self.0,
                "{code:<width$} # {comment}",
                width = COMMENT_COLUMN - 1
            );
        }
    }

    /// A comment on a line of its own.
    fn note(&mut self, text: &str) {
        let _ = writeln!(self.0, "# {}", clean(text));
    }

    fn blank(&mut self) {
        self.0.push('\n');
    }

    /// `key = ["a"]  # why`, or one element a line when there are several.
    fn list(&mut self, key: &str, items: &[(String, String)], empty_why: &str) {
        match items {
            [] => self.line(&format!("{key} = []"), empty_why),
            [(v, why)] => self.line(&format!("{key} = [{}]", quote(v)), why),
            _ => {
                self.line(&format!("{key} = ["), "");
                for (v, why) in items {
                    self.line(&format!("  {},", quote(v)), why);
                }
                self.line("]", "");
            }
        }
    }
}

/// A comment's text on one line: no control characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Addresses for services never seen, from a documentation block no flow of the capture uses.
struct Placeholders {
    base: Ipv4Addr,
    next: u8,
}

impl Placeholders {
    fn new(site: &Site) -> Placeholders {
        const BLOCKS: [[u8; 3]; 6] = [
            [192, 0, 2],
            [198, 18, 0],
            [198, 18, 1],
            [198, 19, 0],
            [198, 19, 255],
            [240, 0, 0],
        ];
        let used = |b: &[u8; 3]| {
            site.analysis.flows.iter().any(|f| {
                [f.initiator.ip, f.responder.ip].iter().any(|ip| match ip {
                    IpAddr::V4(v4) => v4.octets()[..3] == b[..],
                    IpAddr::V6(_) => false,
                })
            })
        };
        let b = BLOCKS
            .iter()
            .find(|b| !used(b))
            .copied()
            .unwrap_or([240, 0, 0]);
        Placeholders {
            base: Ipv4Addr::new(b[0], b[1], b[2], 0),
            next: 1,
        }
    }

    fn take(&mut self) -> String {
        let o = self.base.octets();
        let ip = Ipv4Addr::new(o[0], o[1], o[2], self.next);
        self.next = self.next.saturating_add(1).max(1);
        ip.to_string()
    }
}

/// The topology file.
pub(crate) fn toml(site: &Site) -> String {
    let mut out = Out::default();
    header(&mut out, site);
    site_section(&mut out, site);
    features(&mut out, site);
    edges(&mut out, site);
    internal(&mut out, site);
    partners(&mut out, site);
    out.0
}

fn header(out: &mut Out, site: &Site) {
    let a = site.analysis;
    let inputs: Vec<&str> = a.inputs.iter().map(|i| i.name.as_str()).collect();
    let span = match (a.first_ts_ns, a.last_ts_ns) {
        (Some(f), Some(l)) => format!(
            ", {} .. {}",
            crate::report::time::rfc3339(f),
            crate::report::time::rfc3339(l)
        ),
        _ => String::new(),
    };
    out.note(&format!(
        "Topology inferred by `edgewise topology infer` from {} ({} flows{span}).",
        if inputs.is_empty() {
            "the capture".to_string()
        } else {
            inputs.join(", ")
        },
        a.flows.len()
    ));
    for l in [
        "A starting point, not the truth: each inferred line says what it was inferred from and how sure",
        "(high: several independent signs; medium: one clear sign; low: a guess). Check every address",
        "against your deployment (Topology Builder), replace the placeholders, then audit with",
        "`edgewise audit -r CAPTURE --topology THIS_FILE`.",
    ] {
        out.note(l);
    }
    let dropped = site.scored.dropped.saturating_add(site.hosts.dropped);
    if dropped > 0 {
        out.note(&format!(
            "Memory bound: {dropped} observations of addresses past the first {} scored (or {} hosts placed) \
             were left out.",
            super::evidence::MAX_ADDRESSES,
            super::hosts::MAX_HOSTS
        ));
    }
    out.blank();
}

/// Our SIP domains: the external TLS names of the Edge's services, and what XMPP peers addressed.
fn sip_domains(site: &Site) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for (s, c) in site.edge.all() {
        let Some(name) = &c.fqdn else { continue };
        let Some(d) = domain_of(name) else { continue };
        if !is_internal_name(name) && !v.iter().any(|x| x.0 == d) {
            v.push((
                d,
                format!(
                    "from {}'s TLS name {name}; medium",
                    s.label().trim_start_matches("the ")
                ),
            ));
        }
    }
    for d in site.scored.xmpp_domains.all() {
        if !v.iter().any(|x| x.0 == d) && !is_internal_name(d) {
            v.push((d.to_string(), "addressed by XMPP peers; medium".into()));
        }
    }
    v.truncate(4);
    v
}

fn site_section(out: &mut Out, site: &Site) {
    out.line("[site]", "");
    let domains = sip_domains(site);
    let name = domains
        .first()
        .map(|d| super::first_label(&d.0).to_string())
        .filter(|n| !n.is_empty());
    match &name {
        Some(n) => out.line(
            &format!("name = {}", quote(n)),
            &format!("from the SIP domain {}; name your site", domains[0].0),
        ),
        None => out.line("name = \"inferred\"", "not in the traffic; name your site"),
    }
    let xmpp = site.scored.xmpp_flows;
    if xmpp > 0 {
        out.line(
            "product = \"sfb2015\"",
            &format!(
                "not sfb2019: XMPP was seen ({xmpp} flow{} on 5269/23456), which 2019 no longer supports; \
                 lync2013 or sfb2015 (set yours)",
                plural(xmpp as usize)
            ),
        );
    } else {
        out.line(
            "product = \"sfb2015\"",
            "the version does not show in encrypted traffic: lync2010 | lync2013 | sfb2015 | sfb2019 (set yours)",
        );
    }
    let n = site.edge.servers();
    if n == 2 && site.edge.dual_stack_only() {
        out.line(
            "scenario = \"scaled-dns\"",
            "IPv4 and IPv6 addresses seen for the same roles: one dual-stack server (the file holds one \
             address per service, so each family has its own [[edge]] table; set single and keep one if \
             you audit one family), or a pool of two; low",
        );
    } else if n > 1 {
        out.line(
            "scenario = \"scaled-dns\"",
            &format!(
                "{n} Edge servers seen: a DNS-load-balanced pool (a hardware load balancer, hlb, does not show in \
                 the traffic); medium"
            ),
        );
    } else {
        out.line("scenario = \"single\"", "one Edge server seen; medium");
    }
    let externals: Vec<&Chosen> = site
        .edge
        .all()
        .filter(|(s, _)| *s != Service::Internal)
        .map(|(_, c)| c)
        .collect();
    let private = externals.iter().find(|c| super::is_private(c.ip));
    let point_why = match (private, externals.is_empty()) {
        (_, true) => "only the internal side was seen: captured on the Edge or inside; medium".to_string(),
        (Some(c), _) => format!(
            "the Edge's external addresses are private ({}): captured on the Edge, inside the NAT; medium",
            c.ip
        ),
        (None, _) => "the external addresses seen are public: on an Edge without NAT, or at the external \
                      firewall (then set external-firewall); low"
            .to_string(),
    };
    out.line("capture_point = \"edge\"", &point_why);
    let list: Vec<(String, String)> = domains;
    if list.is_empty() {
        out.line(
            "sip_domains = []",
            "no external TLS name seen; list your SIP domains",
        );
    } else {
        let values: Vec<String> = list.iter().map(|d| quote(&d.0)).collect();
        let why: Vec<&str> = list.iter().map(|d| d.1.as_str()).collect();
        out.line(
            &format!("sip_domains = [{}]", values.join(", ")),
            &why.join("; "),
        );
    }
    if !site.sides.named.is_empty() {
        let pairs: Vec<String> = site
            .sides
            .named
            .iter()
            .map(|(name, side)| {
                format!(
                    "{} = {}",
                    quote(name),
                    quote(match side {
                        EdgeSide::External => "external",
                        EdgeSide::Internal => "internal",
                    })
                )
            })
            .collect();
        out.line(
            &format!("capture_interfaces = {{ {} }}", pairs.join(", ")),
            "from the capture interfaces' names; medium",
        );
    }
    out.blank();
}

fn features(out: &mut Out, site: &Site) {
    out.line("[features]", "");
    let partners: usize = site.hosts.partners.iter().map(|p| p.addresses.len()).sum();
    let fed_flows: u32 = site
        .edge
        .access
        .iter()
        .filter_map(|c| site.scored.candidates.get(&c.ip))
        .map(|c| c.fed_points / 2)
        .sum();
    if fed_flows > 0 {
        out.line(
            "federation = true",
            &format!(
                "{fed_flows} federation flow{} on 5061 with {partners} partner address{}; high",
                plural(fed_flows as usize),
                if partners == 1 { "" } else { "es" }
            ),
        );
    } else {
        out.line(
            "federation = true",
            "no federation traffic seen; the default (set false if you do not federate)",
        );
    }
    let xmpp = site.scored.xmpp_flows;
    if xmpp > 0 {
        out.line(
            "xmpp = false",
            &format!(
                "XMPP seen ({xmpp} flow{} from {}): set true if this Edge federates over XMPP; left false so \
                 that the audit shows it",
                plural(xmpp as usize),
                site.scored.xmpp_peers.count_words("peer", "peers")
            ),
        );
    } else {
        out.line("xmpp = false", "no XMPP (5269, 23456) seen");
    }
    out.line(
        "public_im = false",
        "does not show in the traffic; the default",
    );
    let cls = site.scored.cls_flows;
    if cls > 0 {
        out.line(
            "cls = true",
            &format!(
                "{cls} Centralized Logging Service flow{} (TCP 50001-50003 to the internal interface); medium",
                plural(cls as usize)
            ),
        );
    } else {
        out.line(
            "cls = false",
            "no Centralized Logging Service traffic (TCP 50001-50003) seen; set true if you use it",
        );
    }
    out.line(
        "legacy_interop = false",
        "does not show in the traffic; the default",
    );
    out.blank();
}

fn edges(out: &mut Out, site: &Site) {
    let n = site.edge.servers().max(1);
    let mut ph = Placeholders::new(site);
    if n > 1 {
        out.note(&format!(
            "{n} Edge servers: their addresses are paired by address order, which the traffic cannot confirm; \
             check which belong together."
        ));
    }
    for k in 0..n {
        out.line("[[edge]]", "");
        let internal = site.edge.internal.get(k);
        match internal.and_then(|c| c.server_name.as_deref()) {
            Some(name) => out.line(
                &format!("name = {}", quote(name)),
                "from the internal interface's TLS name; medium",
            ),
            None => out.line(
                &format!("name = {}", quote(&format!("edge{}", k + 1))),
                "not in the traffic: name it as in Topology Builder",
            ),
        }
        match internal {
            Some(c) => out.line(&format!("internal = {}", quote(&c.ip.to_string())), &c.why),
            None => out.line(
                &format!("internal = {}", quote(&ph.take())),
                "placeholder: the internal interface was not seen (no 5061/5062/8057/4443 from internal servers, \
                 no STUN from internal clients); replace with its address",
            ),
        }
        for (key, s, list, what) in [
            (
                "access",
                Service::Access,
                &site.edge.access,
                "SIP/TLS 443 or federation 5061",
            ),
            (
                "webconf",
                Service::Webconf,
                &site.edge.webconf,
                "PSOM/TLS 443 from remote users",
            ),
            (
                "av",
                Service::Av,
                &site.edge.av,
                "STUN/TURN 3478, MS-TURN 443",
            ),
        ] {
            let _ = s;
            match list.get(k) {
                Some(c) => {
                    let mut fields = vec![format!("ip = {}", quote(&c.ip.to_string()))];
                    if let Some(p) = c.public {
                        fields.push(format!("public = {}", quote(&p.to_string())));
                    }
                    if let Some(f) = &c.fqdn {
                        fields.push(format!("fqdn = {}", quote(f)));
                    }
                    let mut why = c.why.clone();
                    match &c.public_why {
                        Some(p) => {
                            why.push_str("; ");
                            why.push_str(p);
                        }
                        None if super::is_private(c.ip) => {
                            why.push_str(
                                "; its public address did not show (add public = \"...\")",
                            );
                        }
                        None => {}
                    }
                    out.line(&format!("{key} = {{ {} }}", fields.join(", ")), &why);
                }
                None => out.line(
                    &format!("{key} = {{ ip = {} }}", quote(&ph.take())),
                    &format!(
                        "placeholder: no {} traffic seen ({what}); replace with its address",
                        s.label().trim_start_matches("the ")
                    ),
                ),
            }
        }
        out.blank();
    }
    for l in &site.edge.left_out {
        out.note(&format!("also scored as an Edge service, not written: {l}"));
    }
    out.note(
        "[ports]: the documented defaults were assumed (access 443/5061, webconf 443, av 443/3478, media \
         50000-59999); the traffic was read on them.",
    );
    out.note(
        "[reverse_proxy]: not part of Edge traffic; add it (external, internal) if you publish web services.",
    );
    out.blank();
}

fn addresses<T: ToString>(list: &[(T, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, w)| (a.to_string(), w.clone()))
        .collect()
}

fn internal(out: &mut Out, site: &Site) {
    let h = site.hosts;
    out.line("[internal]", "");
    out.list(
        "front_end",
        &addresses(&h.front_end),
        "no Front End seen (no 5062/8057/4443 or SIP/MTLS to the internal interface); list your pool's servers",
    );
    out.note(
        "front_end_vip: a hardware load balancer's address does not show in the traffic; add it if the pool has one",
    );
    out.list(
        "director",
        &addresses(&h.director),
        "none told apart (a Director uses the Front End's ports; only its name tells)",
    );
    out.list(
        "cms_master",
        &addresses(&h.cms_master),
        "no Central Management store replication (4443) seen",
    );
    if !h.xmpp_gateway.is_empty() {
        out.list("xmpp_gateway", &addresses(&h.xmpp_gateway), "");
    }
    let nets = |v: &[(ipnet::IpNet, String)]| -> Vec<(String, String)> {
        v.iter().map(|(n, w)| (n.to_string(), w.clone())).collect()
    };
    out.list(
        "server_subnets",
        &nets(&h.server_subnets),
        "no internal server seen; list your server subnets",
    );
    if h.more_server_subnets > 0 {
        out.note(&format!(
            "and {} more server subnets, not listed",
            h.more_server_subnets
        ));
    }
    out.list(
        "client_subnets",
        &nets(&h.client_subnets),
        "no internal client seen (none reached the internal interface's 3478/443); list your client subnets",
    );
    if h.more_client_subnets > 0 {
        out.note(&format!(
            "and {} more client subnets, not listed",
            h.more_client_subnets
        ));
    }
    for u in &h.unplaced {
        out.note(u);
    }
    out.blank();
}

fn partners(out: &mut Out, site: &Site) {
    let h = site.hosts;
    if h.partners.is_empty() {
        out.note("[[federation.partner]]: no federation partner seen on the Access Edge's 5061.");
        return;
    }
    for p in &h.partners {
        out.line("[[federation.partner]]", "");
        out.line(&format!("domain = {}", quote(&p.domain)), &p.domain_why);
        out.list("access_edge", &addresses(&p.addresses), "");
        out.blank();
    }
    if h.more_partners > 0 {
        out.note(&format!(
            "and {} more federation partners, not listed",
            h.more_partners
        ));
    }
    out.note(
        "av_edge: a partner's A/V Edge is not told apart from other media peers; add it if known.",
    );
}

/// The Edge found, in one line.
pub(crate) fn summary(site: &Site) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (s, c) in site.edge.all() {
        let mut p = format!(
            "{} {}",
            match s {
                Service::Internal => "internal",
                Service::Access => "Access",
                Service::Webconf => "Web Conferencing",
                Service::Av => "A/V",
            },
            c.ip
        );
        if let Some(public) = c.public {
            p.push_str(&format!(" (public {public})"));
        }
        parts.push(p);
    }
    let h = site.hosts;
    let mut s = format!("Edge {}", parts.join(", "));
    let counts = [
        (h.front_end.len(), "Front End", "Front Ends"),
        (h.director.len(), "Director", "Directors"),
        (h.client_subnets.len(), "client subnet", "client subnets"),
        (
            h.partners.len(),
            "federation partner",
            "federation partners",
        ),
    ];
    for (n, one, many) in counts {
        if n > 0 {
            s.push_str(&format!("; {n} {}", if n == 1 { one } else { many }));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_comments_survive_any_name() {
        // Interface names come from the capture file: anything can be in them.
        let name = "ext\"\\\n[site]\u{7}";
        let text = format!("key = {}   # {}\n", quote(name), clean("why\nthis = 1"));
        let v: toml::Table = toml::from_str(&text).expect("valid TOML");
        assert_eq!(v["key"].as_str(), Some(name));
        assert_eq!(v.len(), 1);
    }
}
