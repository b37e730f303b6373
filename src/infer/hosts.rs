//! Pass two: the hosts around the chosen Edge. Once the Edge's addresses are known, the other
//! end of each of its flows says who a host is: a Front End or Director opens the ports only
//! servers use (5062, 8057, 4443, SIP/MTLS with a client certificate) or is opened to by the
//! Edge; an internal client reaches the internal interface's 3478 and 443, or the external
//! addresses through a hairpin; a federation partner is the far end of the Access Edge's 5061.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::evidence::{partner_domain, Scored, Seen};
use super::{first_label, is_internal_name, plural, Capped, ChosenEdge, InterfaceSides, Names};
use crate::analysis::Analysis;

/// Hosts placed; the traffic of further hosts is counted, not kept.
pub const MAX_HOSTS: usize = 65_536;
/// Federation partner addresses followed.
const PARTNERS_KEPT: usize = 4096;
/// Entries written per list (partners, subnets); the rest are counted in a comment.
const LISTED: usize = 64;
/// Addresses written per partner.
const PARTNER_ADDRESSES: usize = 16;
/// Hosts named in the "not placed" comments.
const UNPLACED_SHOWN: usize = 8;

/// What a host's flows with the Edge showed.
#[derive(Debug, Default)]
struct Host {
    server: u32,
    client: u32,
    /// A sign no client gives.
    strong: bool,
    /// 5062 or 8057 to the internal interface: a Front End.
    fe_ports: bool,
    /// 4443 to the internal interface: the Central Management store's replication.
    cms: u32,
    xmpp_gateway: bool,
    /// The Edge opened a server port to it (SIP 5061: its next hop).
    next_hop: bool,
    /// The ports the Edge opened to it.
    opened_to: BTreeSet<u16>,
    /// It talked to the internal interface (not only through a hairpin).
    direct: bool,
    /// Flows to the Edge's external addresses from inside.
    hairpin: u32,
    /// 5061 attempts with no handshake to tell a server from a client.
    weak: u32,
    flows: u32,
    ports: BTreeSet<u16>,
    names: Names,
}

#[derive(Debug, Default)]
struct PartnerSeen {
    flows: u32,
    names: Names,
    with: Capped<IpAddr>,
}

/// A federation partner as written.
#[derive(Debug, Clone)]
pub(crate) struct PartnerOut {
    pub domain: String,
    pub domain_why: String,
    pub addresses: Vec<(IpAddr, String)>,
}

/// Pass two's result, ready to write.
#[derive(Debug, Default)]
pub(crate) struct Placed {
    pub front_end: Vec<(IpAddr, String)>,
    pub director: Vec<(IpAddr, String)>,
    pub cms_master: Vec<(IpAddr, String)>,
    pub xmpp_gateway: Vec<(IpAddr, String)>,
    pub server_subnets: Vec<(IpNet, String)>,
    pub client_subnets: Vec<(IpNet, String)>,
    pub partners: Vec<PartnerOut>,
    /// Comment lines on hosts seen but not placed.
    pub unplaced: Vec<String>,
    /// Hosts past [`MAX_HOSTS`] and partners past [`PARTNERS_KEPT`].
    pub dropped: u64,
    pub more_partners: usize,
    pub more_client_subnets: usize,
    pub more_server_subnets: usize,
}

/// The /24 (IPv4) or /64 (IPv6) a host sits in.
fn subnet_of(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    IpNet::new(ip, prefix).map_or_else(|_| IpNet::from(ip), |n| n.trunc())
}

fn slot<'a, T: Default>(
    map: &'a mut FxHashMap<IpAddr, T>,
    ip: IpAddr,
    cap: usize,
    dropped: &mut u64,
) -> Option<&'a mut T> {
    if !map.contains_key(&ip) && map.len() >= cap {
        *dropped = dropped.saturating_add(1);
        return None;
    }
    Some(map.entry(ip).or_default())
}

/// Places the hosts of the capture around the chosen Edge.
pub(crate) fn place(
    analysis: &Analysis,
    sides: &InterfaceSides,
    scored: &Scored,
    edge: &ChosenEdge,
) -> Placed {
    let internal = edge.internal_ips();
    let access = edge.access_ips();
    let all = edge.addresses();
    let mut hosts: FxHashMap<IpAddr, Host> = FxHashMap::default();
    let mut partners: FxHashMap<IpAddr, PartnerSeen> = FxHashMap::default();
    let mut out = Placed::default();
    for (i, f) in analysis.flows.iter().enumerate() {
        let tcp = f.protocol == 6;
        if !(tcp || f.protocol == 17) {
            continue;
        }
        let seen = Seen::of(analysis.identifications.get(i));
        let side = sides.of_flow(f.interfaces);
        let (ini, res, port) = (f.initiator.ip, f.responder.ip, f.responder.port);
        let media = (50000..=59999).contains(&port);
        if internal.contains(&res) && !all.contains(&ini) {
            let Some(h) = slot(&mut hosts, ini, MAX_HOSTS, &mut out.dropped) else {
                continue;
            };
            h.direct = true;
            h.flows = h.flows.saturating_add(1);
            h.ports.insert(port);
            match (tcp, port) {
                (true, 5062 | 8057) => {
                    h.server += 3;
                    h.strong = true;
                    h.fe_ports = true;
                }
                (true, 4443) => {
                    h.server += 3;
                    h.strong = true;
                    h.cms = h.cms.saturating_add(1);
                }
                (true, 23456) => {
                    h.server += 2;
                    h.strong = true;
                    h.xmpp_gateway = true;
                }
                (true, 5061) if seen.client_cert => {
                    h.server += 3;
                    h.strong = true;
                }
                (true, 5061) if seen.completed_without_client_cert() => h.client += 2,
                (true, 5061) => h.weak = h.weak.saturating_add(1),
                (true, 50001..=50003) => h.server += 1,
                (true, 443) | (_, 3478) => h.client += 2,
                _ if media => h.client += 1,
                _ => {}
            }
            if let Some(n) = seen.client_name() {
                h.names.add(n);
            }
        } else if internal.contains(&ini)
            && !all.contains(&res)
            && tcp
            && matches!(port, 5061 | 5062 | 8057 | 4443 | 23456)
        {
            let Some(h) = slot(&mut hosts, res, MAX_HOSTS, &mut out.dropped) else {
                continue;
            };
            h.direct = true;
            h.flows = h.flows.saturating_add(1);
            h.server += 3;
            h.strong = true;
            h.next_hop = true;
            h.opened_to.insert(port);
            for n in [seen.sni(), seen.server_name()].into_iter().flatten() {
                h.names.add(n);
            }
        } else if all.contains(&res) && !internal.contains(&res) && !all.contains(&ini) {
            let from_inside =
                scored.inside(ini, side) || seen.client_name().is_some_and(is_internal_name);
            if from_inside {
                let relevant = matches!((tcp, port), (true, 443 | 5061) | (_, 3478)) || media;
                if !relevant {
                    continue;
                }
                let Some(h) = slot(&mut hosts, ini, MAX_HOSTS, &mut out.dropped) else {
                    continue;
                };
                h.hairpin = h.hairpin.saturating_add(1);
                h.flows = h.flows.saturating_add(1);
                h.ports.insert(port);
                match (tcp, port) {
                    (true, 5061) if seen.client_cert => {
                        h.server += 3;
                        h.strong = true;
                    }
                    (true, 5061) if seen.completed_without_client_cert() => h.client += 2,
                    (true, 5061) => h.weak = h.weak.saturating_add(1),
                    _ => h.client += 2,
                }
                if let Some(n) = seen.client_name() {
                    h.names.add(n);
                }
            } else if access.contains(&res) && tcp && port == 5061 {
                if let Some(p) = slot(&mut partners, ini, PARTNERS_KEPT, &mut out.dropped) {
                    p.flows = p.flows.saturating_add(1);
                    p.with.insert(res, 16);
                    if let Some(n) = seen.client_name() {
                        p.names.add(n);
                    }
                }
            }
        } else if access.contains(&ini)
            && !all.contains(&res)
            && tcp
            && port == 5061
            && !scored.inside(res, side)
        {
            if let Some(p) = slot(&mut partners, res, PARTNERS_KEPT, &mut out.dropped) {
                p.flows = p.flows.saturating_add(1);
                p.with.insert(ini, 16);
                for n in [seen.sni(), seen.server_name()].into_iter().flatten() {
                    p.names.add(n);
                }
            }
        }
    }
    servers_and_clients(&mut out, hosts, &all);
    partners_out(&mut out, partners, scored);
    out
}

/// Front Ends, Directors, the CMS master and the subnets, from the hosts' signs.
fn servers_and_clients(
    out: &mut Placed,
    hosts: FxHashMap<IpAddr, Host>,
    edge: &rustc_hash::FxHashSet<IpAddr>,
) {
    let mut hosts: Vec<(IpAddr, Host)> = hosts.into_iter().collect();
    hosts.sort_by_key(|a| a.0);
    let mut server_nets: BTreeMap<IpNet, (Vec<IpAddr>, u32)> = BTreeMap::new();
    let mut client_nets: BTreeMap<IpNet, (Vec<IpAddr>, u32, u32)> = BTreeMap::new();
    let mut unplaced = 0usize;
    for (ip, h) in &hosts {
        let name = h.names.top().filter(|n| is_internal_name(n));
        let named = name.map(|n| format!("; TLS name {n}")).unwrap_or_default();
        if h.server > h.client && h.strong {
            let e = server_nets.entry(subnet_of(*ip)).or_default();
            e.0.push(*ip);
            e.1 = e.1.saturating_add(h.flows);
            if !h.direct {
                continue; // a server reaching only the external addresses: a subnet, no role
            }
            let ports: Vec<String> = h.ports.iter().map(u16::to_string).collect();
            let mut why = if ports.is_empty() {
                String::new()
            } else {
                format!("opened {} to the Edge internal interface", ports.join("/"))
            };
            if h.next_hop {
                if !why.is_empty() {
                    why.push_str("; ");
                }
                let ports: Vec<String> = h.opened_to.iter().map(u16::to_string).collect();
                why.push_str(&format!("the Edge opened {} to it", ports.join("/")));
                if h.opened_to.contains(&5061) {
                    why.push_str(" (its SIP next hop)");
                }
            }
            let sure = if (h.fe_ports && (h.next_hop || h.cms > 0)) || h.ports.len() >= 3 {
                "high"
            } else if h.fe_ports || h.cms > 0 || h.next_hop {
                "medium"
            } else {
                "low"
            };
            let director = name.is_some_and(|n| first_label(n).contains("dir")) && !h.fe_ports;
            if director {
                out.director.push((*ip, format!("{why}{named}; {sure}")));
            } else {
                let or = if h.fe_ports {
                    ""
                } else {
                    " (or a Director: only its ports to the Edge tell, and they are the same)"
                };
                out.front_end
                    .push((*ip, format!("{why}{named}{or}; {sure}")));
            }
            if h.cms > 0 {
                out.cms_master.push((
                    *ip,
                    format!(
                        "replicated the Central Management store to the Edge on 4443 ({} flow{}); high",
                        h.cms,
                        plural(h.cms as usize)
                    ),
                ));
            }
            if h.xmpp_gateway {
                out.xmpp_gateway.push((
                    *ip,
                    "opened XMPP 23456 to the Edge internal interface; medium".into(),
                ));
            }
        } else if h.client > 0 && h.client >= h.server {
            let e = client_nets.entry(subnet_of(*ip)).or_default();
            e.0.push(*ip);
            e.1 = e.1.saturating_add(h.flows);
            if h.hairpin > 0 {
                e.2 = e.2.saturating_add(1);
            }
        } else if h.weak > 0 || h.server > 0 {
            unplaced += 1;
            if out.unplaced.len() < UNPLACED_SHOWN {
                out.unplaced.push(format!(
                    "{ip}: {} flow{} on 5061 to the Edge without a TLS handshake to tell a server from a \
                     client (a Front End or Director whose connections fail, or a host that should not \
                     be there): not placed",
                    h.flows,
                    plural(h.flows as usize)
                ));
            }
        }
    }
    if unplaced > UNPLACED_SHOWN {
        out.unplaced.push(format!(
            "and {} more hosts not placed",
            unplaced - UNPLACED_SHOWN
        ));
    }
    // Subnets that would hold an Edge address are listed host by host instead: an Edge address
    // is on neither the server nor the client side.
    let holds_edge = |net: &IpNet| edge.iter().any(|e| net.contains(e));
    let mut servers: Vec<(IpNet, String, usize)> = Vec::new();
    for (net, (ips, flows)) in server_nets {
        let why = format!(
            "{} server{} placed above ({} flow{} with the Edge); medium",
            ips.len(),
            plural(ips.len()),
            flows,
            plural(flows as usize)
        );
        if holds_edge(&net) {
            for ip in &ips {
                servers.push((
                    IpNet::from(*ip),
                    format!("{why}; alone: its /24 holds an Edge address"),
                    1,
                ));
            }
        } else {
            servers.push((net, why, ips.len()));
        }
    }
    let mut clients: Vec<(IpNet, String, usize)> = Vec::new();
    for (net, (ips, flows, hairpins)) in client_nets {
        let n = ips.len();
        let mut why = format!(
            "{n} host{} reaching the Edge as clients do (3478, 443, media, SIP/TLS without a client \
             certificate; {flows} flow{})",
            plural(n),
            plural(flows as usize)
        );
        if hairpins > 0 {
            why.push_str(&format!(
                ", {hairpins} of them through the external addresses (hairpin)"
            ));
        }
        let sure = if n >= 3 && hairpins < n as u32 {
            "high"
        } else if hairpins < n as u32 || n >= 2 {
            "medium"
        } else {
            "low"
        };
        if holds_edge(&net) {
            for ip in &ips {
                clients.push((
                    IpNet::from(*ip),
                    format!("{why}; alone: its /24 holds an Edge address; {sure}"),
                    1,
                ));
            }
        } else {
            clients.push((net, format!("{why}; {sure}"), n));
        }
    }
    for (list, into, more) in [
        (
            servers,
            &mut out.server_subnets,
            &mut out.more_server_subnets,
        ),
        (
            clients,
            &mut out.client_subnets,
            &mut out.more_client_subnets,
        ),
    ] {
        let mut list = list;
        list.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        *more = list.len().saturating_sub(LISTED);
        list.truncate(LISTED);
        list.sort_by_key(|a| a.0);
        into.extend(list.into_iter().map(|(n, w, _)| (n, w)));
    }
}

/// A partner domain: why it is named so, and its addresses (address, why, flows).
type Domain = (String, Vec<(IpAddr, String, u32)>);

/// Federation partners grouped by domain: from the SRV lookups, else their TLS names, else a
/// placeholder to replace.
fn partners_out(out: &mut Placed, partners: FxHashMap<IpAddr, PartnerSeen>, scored: &Scored) {
    let mut by_domain: BTreeMap<String, Domain> = BTreeMap::new();
    let mut list: Vec<(IpAddr, PartnerSeen)> = partners.into_iter().collect();
    list.sort_by_key(|a| a.0);
    for (ip, p) in list {
        let (domain, why) = if let Some(d) = scored.dns_partner.get(&ip) {
            (
                d.clone(),
                format!("from the Access Edge's DNS SRV lookup _sipfederationtls._tcp.{d}; high"),
            )
        } else if let Some((n, d)) = p
            .names
            .top()
            .and_then(|n| partner_domain(n).map(|d| (n.to_string(), d)))
        {
            (
                d,
                format!("from its TLS name {n} (SNI or certificate); medium"),
            )
        } else {
            (
                format!(
                    "partner-{}.invalid",
                    ip.to_string().replace([':', '.'], "-")
                ),
                "placeholder: no name seen (no SNI, certificate or SRV lookup); replace with the \
                 partner's SIP domain"
                    .to_string(),
            )
        };
        let with: Vec<String> = p
            .with
            .iter()
            .map(IpAddr::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let sure = if p.flows >= 3 { "high" } else { "medium" };
        let addr_why = format!(
            "{} flow{} on 5061 with our Access Edge {}; {sure}",
            p.flows,
            plural(p.flows as usize),
            with.join(", ")
        );
        let e = by_domain.entry(domain).or_insert_with(|| (why, Vec::new()));
        e.1.push((ip, addr_why, p.flows));
    }
    let mut domains: Vec<(String, Domain)> = by_domain.into_iter().collect();
    let flows = |v: &Vec<(IpAddr, String, u32)>| v.iter().map(|x| u64::from(x.2)).sum::<u64>();
    domains.sort_by(|a, b| flows(&b.1 .1).cmp(&flows(&a.1 .1)).then(a.0.cmp(&b.0)));
    out.more_partners = domains.len().saturating_sub(LISTED);
    domains.truncate(LISTED);
    domains.sort_by(|a, b| a.0.cmp(&b.0));
    for (domain, (why, mut addrs)) in domains {
        addrs.sort_by_key(|a| a.0);
        addrs.truncate(PARTNER_ADDRESSES);
        out.partners.push(PartnerOut {
            domain,
            domain_why: why,
            addresses: addrs.into_iter().map(|(ip, w, _)| (ip, w)).collect(),
        });
    }
}
