//! The rulebook's checks of the paths media and the Edge's own traffic take: inbound to the A/V
//! Edge's relay ports (A6), the partner's A/V Edge silent while others answer (A10), the A/V
//! Edge's NAT seen from the far side (N3), pool members reaching each other's public A/V
//! addresses (N8), the Edge's two networks routed to each other (R3), the client subnets the
//! Edge has no route back to (R4), and calls whose media never got through (A9, from the call
//! timelines).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::calls::{CallKind, LegKind};
use super::checks::{confidence_for, is_internet, partner_name, secs, tcp_failure, unanswered_udp};
use super::{
    evidence, Confidence, Detail, Diagnosis, Evidence, Finding, Inputs, Severity, Skipped,
};
use crate::flow::Flow;
use crate::matrix::{Feature, PortSpec, Role, ServicePort};

/// P2 `udp_one_way`: at least this many datagrams one way...
const ONE_WAY_DATAGRAMS: u64 = 10;
/// ...over at least this long, and none back (the rulebook's thresholds, marked as a guess).
const ONE_WAY_NS: i64 = 5 * 1_000_000_000;
/// Evidence flows kept per finding; the explanation counts them all.
const EVIDENCE_KEPT: usize = 20;

#[allow(clippy::too_many_arguments)]
fn finding(
    id: &'static str,
    severity: Severity,
    confidence: Confidence,
    title: String,
    explanation: String,
    fix: &str,
    citation: &'static str,
    mut evidence: Vec<Evidence>,
) -> Finding {
    evidence.truncate(EVIDENCE_KEPT);
    Finding {
        id,
        severity,
        confidence,
        title,
        explanation,
        fix: fix.into(),
        citation,
        evidence,
    }
}

fn is_av(inputs: &Inputs<'_>, ip: IpAddr) -> bool {
    inputs
        .topology
        .roles_of(ip)
        .iter()
        .any(|r| matches!(r, Role::EdgeAv | Role::EdgeAvVip))
}

fn media_port(inputs: &Inputs<'_>, p: u16) -> bool {
    match inputs.topology.port(ServicePort::Media) {
        PortSpec::Range(lo, hi) => (lo..=hi).contains(&p),
        PortSpec::Single(x) => x == p,
        _ => (50_000..=59_999).contains(&p),
    }
}

/// P2 `udp_one_way`: many datagrams over a while, none back; not when the input did not record
/// replies.
fn one_way(inputs: &Inputs<'_>, i: usize, f: &Flow) -> Option<Detail> {
    (f.orig.packets >= ONE_WAY_DATAGRAMS && f.last_ts_ns() - f.first_ts_ns() >= ONE_WAY_NS)
        .then(|| unanswered_udp(inputs, i, f))
        .flatten()
}

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    inbound_media(inputs, d);
    partner_silent(inputs, d);
    nat_seen_from_outside(inputs, d);
    pool_hairpin(inputs, d);
    networks_routed(inputs, d);
    client_routes(inputs, d);
}

/// A6: inbound TCP or UDP from the Internet to the A/V Edge's relay ports that is never
/// answered.
fn inbound_media(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let ev: Vec<Evidence> = inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            is_av(inputs, f.responder.ip)
                && media_port(inputs, f.responder.port)
                && is_internet(inputs, f.initiator.ip)
        })
        .filter_map(|(i, f)| {
            let why = match f.protocol {
                6 => tcp_failure(inputs, i, f),
                17 => one_way(inputs, i, f),
                _ => None,
            }?;
            Some(evidence(inputs, i, why))
        })
        .collect();
    if ev.is_empty() {
        return;
    }
    let legacy = inputs.topology.feature(Feature::LegacyInterop);
    d.findings.push(finding(
        "A6",
        if legacy {
            Severity::Warning
        } else {
            Severity::Info
        },
        confidence_for(&ev, inputs),
        "Inbound traffic to the A/V Edge's media ports 50000-59999 gets no answer".into(),
        format!(
            "Connections or media from the Internet to the A/V Edge's relay port range went unanswered. The documents \
             require inbound 50000-59999 only for federation with Office Communications Server 2007{}; without it some \
             media paths (Edge to Edge between pools, NATed pools) are longer or fall back to TCP 443. At the Edge's own \
             adapter an unanswered packet can also be one the A/V Edge had no permission for, so check the firewall's \
             log before opening the range.",
            if legacy {
                ", which this site declares (legacy_interop)"
            } else {
                ""
            }
        ),
        "If you federate with Office Communications Server 2007 partners (or want the shortest media paths), allow \
         TCP and UDP 50000-59999 inbound to the A/V Edge on the external firewall.",
        "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (inbound 50000-59999); Microsoft, \"Port summary - Scaled consolidated edge with hardware load balancers in Lync Server 2013\" (A/V 50000-59999 inbound for OCS 2007 federation)",
        ev,
    ));
}

/// The outbound UDP 3478 flows of the A/V Edge to Internet addresses: the unanswered ones, and
/// the distinct addresses that answered (our firewall passes them).
fn outbound_3478(inputs: &Inputs<'_>) -> (Vec<(usize, Detail)>, Vec<IpAddr>) {
    let (mut silent, mut answered) = (Vec::new(), Vec::new());
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if f.protocol != 17
            || f.responder.port != 3478
            || !is_av(inputs, f.initiator.ip)
            || !is_internet(inputs, f.responder.ip)
        {
            continue;
        }
        match unanswered_udp(inputs, i, f) {
            Some(why) => silent.push((i, why)),
            None if inputs.recorded(i) => answered.push(f.responder.ip),
            None => {}
        }
    }
    answered.sort_unstable();
    answered.dedup();
    (silent, answered)
}

/// Whether an address other than `remote` answered (the list is distinct).
fn another_answered(answered: &[IpAddr], remote: IpAddr) -> bool {
    answered.len() > 1 || answered.first().is_some_and(|a| *a != remote)
}

/// A10's flows: outbound UDP 3478 from the A/V Edge that got no answer while other Edges did
/// answer it (so our firewall passes it). A3 leaves them to A10.
pub(super) fn partner_silent_flows(inputs: &Inputs<'_>) -> Vec<usize> {
    let (silent, answered) = outbound_3478(inputs);
    silent
        .into_iter()
        .filter(|(i, _)| another_answered(&answered, inputs.analysis.flows[*i].responder.ip))
        .map(|(i, _)| i)
        .collect()
}

/// A10: a federated (or other) Edge that never answers our A/V Edge on UDP 3478, while others do.
fn partner_silent(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let (silent, answered) = outbound_3478(inputs);
    let mut by_remote: BTreeMap<IpAddr, Vec<Evidence>> = BTreeMap::new();
    for (i, why) in silent {
        let remote = inputs.analysis.flows[i].responder.ip;
        if !another_answered(&answered, remote) {
            continue;
        }
        by_remote
            .entry(remote)
            .or_default()
            .push(evidence(inputs, i, why));
    }
    let others = answered;
    for (remote, ev) in by_remote {
        let who = partner_name(inputs, remote);
        let ok: Vec<String> = others
            .iter()
            .filter(|a| **a != remote)
            .take(3)
            .map(|a| partner_name(inputs, *a))
            .collect();
        d.findings.push(finding(
            "A10",
            Severity::Warning,
            confidence_for(&ev, inputs),
            format!("The A/V Edge at {who} never answers on UDP 3478"),
            format!(
                "Our A/V Edge sent UDP 3478 to {who} and got nothing back, while other Edges ({}) answered the same \
                 traffic: our firewall lets it out, so the far side drops it (its inbound or outbound UDP 3478). \
                 Federated calls then take a longer media path or fail.",
                ok.join(", ")
            ),
            "Tell the partner: their A/V Edge must accept UDP 3478 from any address and answer it (and allow UDP \
             3478 outbound); nothing to change on our side.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/STUN.MSTURN UDP 3478 inbound and outbound)",
            ev,
        ));
    }
}

/// The public A/V address (and the private one behind it) of each Edge server.
fn av_addresses(inputs: &Inputs<'_>) -> Vec<(IpAddr, IpAddr)> {
    inputs
        .topology
        .edges
        .iter()
        .map(|e| (e.av.ip, e.av.public.unwrap_or(e.av.ip)))
        .collect()
}

/// N3: the far side of an A/V Edge's own STUN exchange reports the Edge's address as another
/// public address (not symmetric NAT) or another port (port translation).
fn nat_seen_from_outside(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    // A private A/V address without its public one: what the far side should see is unknown.
    let unknown: Vec<&str> = inputs
        .topology
        .edges
        .iter()
        .filter(|e| e.av.public.is_none() && super::is_private(e.av.ip))
        .map(|e| e.name.as_str())
        .collect();
    if !unknown.is_empty() {
        d.skipped.push(Skipped {
            id: "N3",
            title: "Non-symmetric NAT of the A/V Edge",
            needs: format!(
                "the public A/V address (`av.public`) of {}, whose A/V address is private",
                unknown.join(", ")
            ),
        });
    }
    let avs: Vec<(IpAddr, IpAddr)> = inputs
        .topology
        .edges
        .iter()
        .filter(|e| e.av.public.is_some() || !super::is_private(e.av.ip))
        .map(|e| (e.av.ip, e.av.public.unwrap_or(e.av.ip)))
        .collect();
    let mut ev = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        if f.protocol != 17 || !is_internet(inputs, f.responder.ip) {
            continue;
        }
        let Some(&(_, public)) = avs
            .iter()
            .find(|(ip, public)| *ip == f.initiator.ip || *public == f.initiator.ip)
        else {
            continue;
        };
        let Some(stun) = inputs
            .analysis
            .identifications
            .get(i)
            .and_then(|id| id.evidence.stun.as_deref())
        else {
            continue;
        };
        // MAPPED-ADDRESS is the reflexive address in a classic Binding answer, but the relay
        // in an MS-TURN Allocate answer: read it only where no TURN method ran.
        let classic = (!stun.turn_method_seen)
            .then_some(stun.mapped.as_deref())
            .flatten();
        let Some(mapped) = stun
            .xor_mapped
            .as_deref()
            .or(classic)
            .and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            continue;
        };
        let expected = SocketAddr::new(public, f.initiator.port);
        if mapped == expected {
            continue;
        }
        let what = if mapped.ip() != public {
            format!(
                "{} saw our A/V Edge as {mapped}: another public address than the A/V Edge's {public}",
                f.responder.ip
            )
        } else {
            format!(
                "{} saw our A/V Edge as {mapped}: the source port {} was translated",
                f.responder.ip, f.initiator.port
            )
        };
        let m = mapped.to_string();
        if !seen.contains(&m) {
            seen.push(m);
        }
        ev.push(evidence(inputs, i, what));
    }
    if ev.is_empty() {
        return;
    }
    d.findings.push(finding(
        "N3",
        Severity::Error,
        Confidence::High,
        format!(
            "The A/V Edge's outbound traffic leaves with another address or port ({})",
            seen.join(", ")
        ),
        "Remote STUN servers answered our A/V Edge's own requests with the address they saw it from (XOR-MAPPED-ADDRESS), \
         and it is not the A/V Edge's public address and source port: the firewall translates its outbound traffic \
         to another public address, or rewrites its ports (PAT, NAT overload). Edge NAT must be symmetric: the same \
         public address both ways, ports unchanged; otherwise Edge-to-Edge media (UDP 3478 to 3478) and the candidates \
         the A/V Edge hands out do not match what the far side sees."
            .into(),
        "Replace the firewall's outbound hide-NAT/PAT rule for the A/V Edge with a static one-to-one NAT to its public \
         address (the one in Topology Builder), without port translation.",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Topology planning (symmetric NAT for incoming and outgoing traffic)",
        ev,
    ));
}

/// N8: one pool member's A/V Edge cannot reach another's public A/V address.
fn pool_hairpin(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    if t.edges.len() < 2 {
        if t.scenario == crate::topology::SiteScenario::ScaledDns {
            d.skipped.push(Skipped {
                id: "N8",
                title: "Pool members cannot reach each other's public A/V addresses",
                needs: "every pool member as an [[edge]] with its A/V address (and `public` behind NAT)".into(),
            });
        }
        return;
    }
    let avs = av_addresses(inputs);
    let node_of = |ip: IpAddr| avs.iter().position(|(p, q)| *p == ip || *q == ip);
    let ev: Vec<Evidence> = inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let from = node_of(f.initiator.ip)?;
            let to = avs
                .iter()
                .position(|(_, public)| *public == f.responder.ip)?;
            if from == to {
                return None;
            }
            let why = match f.protocol {
                6 => tcp_failure(inputs, i, f),
                _ => unanswered_udp(inputs, i, f),
            }?;
            Some(evidence(
                inputs,
                i,
                format!(
                    "{}'s A/V Edge to {}'s public A/V address {}: {why}",
                    t.edges[from].name, t.edges[to].name, f.responder.ip
                ),
            ))
        })
        .collect();
    if ev.is_empty() {
        return;
    }
    d.findings.push(finding(
        "N8",
        Severity::Warning,
        confidence_for(&ev, inputs),
        "Edge pool members cannot reach each other's public A/V addresses".into(),
        "One Edge server's A/V Edge got no answer from another member's public A/V address. The members of a pool \
         relay media between each other through those addresses (the external firewall's hairpin when they are \
         NATed), so calls whose two sides landed on different members take a longer path or fail."
            .into(),
        "Allow the Edge servers to reach each other from their A/V addresses to their public A/V addresses on the \
         external firewall (NAT hairpin / loopback for the public addresses).",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Topology planning (Edge Servers communicate with one another from their public A/V Edge IP addresses)",
        ev,
    ));
}

/// R3: traffic between the Edge's external side and its internal side, which the documents keep
/// on networks that do not route to each other.
fn networks_routed(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    let external = |ip| {
        t.roles_of(ip).iter().any(|r| {
            matches!(
                r,
                Role::EdgeAccess
                    | Role::EdgeWebconf
                    | Role::EdgeAv
                    | Role::EdgeAccessVip
                    | Role::EdgeWebconfVip
                    | Role::EdgeAvVip
                    | Role::ReverseProxyExternal
            )
        })
    };
    let internal = |ip| {
        t.roles_of(ip).iter().any(|r| {
            matches!(
                r,
                Role::EdgeInternal | Role::EdgeInternalVip | Role::ReverseProxyInternal
            )
        })
    };
    let ev: Vec<Evidence> = inputs
        .analysis
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let (a, b) = (f.initiator.ip, f.responder.ip);
            (external(a) && internal(b)) || (internal(a) && external(b))
        })
        .map(|(i, f)| {
            evidence(
                inputs,
                i,
                format!(
                    "{} ({}) and {} ({}) reached each other",
                    f.initiator.ip,
                    if external(f.initiator.ip) {
                        "external side"
                    } else {
                        "internal side"
                    },
                    f.responder.ip,
                    if external(f.responder.ip) {
                        "external side"
                    } else {
                        "internal side"
                    }
                ),
            )
        })
        .collect();
    if ev.is_empty() {
        return;
    }
    d.findings.push(finding(
        "R3",
        Severity::Error,
        Confidence::Medium,
        "The Edge's external and internal networks reach each other".into(),
        "Traffic passed between an external-side address of the Edge (or reverse proxy) and an internal-side one. The \
         Edge's internal interface must be on another network than its external interface, and the two must not be \
         routed to each other: otherwise traffic can bypass the perimeter firewalls, and replies leave by the wrong \
         adapter."
            .into(),
        "Remove the route (or firewall rule) that joins the Edge's external and internal networks; keep the Edge \
         internal interface on its own network, reached from the internal side only.",
        "Microsoft, Lync Server 2010, \"Configure interfaces with DNS servers in the perimeter network\" (the internal and external subnets must not be routable to each other); Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS planning (internal network adapter, no default gateway)",
        ev,
    ));
}

/// R4: internal clients get no answer from the Edge internal interface while the pool's servers
/// do: the Edge has a route back to the servers' network but not to the clients'.
fn client_routes(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let t = inputs.topology;
    if t.client_subnets.is_empty() {
        d.skipped.push(Skipped {
            id: "R4",
            title: "Internal client subnets missing from the Edge routes",
            needs: "[internal] client_subnets".into(),
        });
        return;
    }
    let internal_if = |ip| {
        t.roles_of(ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeInternal | Role::EdgeInternalVip))
    };
    let is_client = |ip| t.roles_of(ip).contains(&Role::InternalClient);
    let flows = &inputs.analysis.flows;
    // Servers the Edge internal interface answered, in the same capture.
    let mut answered_servers: Vec<IpAddr> = flows
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            internal_if(f.responder.ip)
                && !is_client(f.initiator.ip)
                && t.is_internal_host(f.initiator.ip)
                && inputs.recorded(*i)
                && match f.protocol {
                    6 => f.handshake() == Some(crate::flow::tcp::Handshake::Established),
                    _ => f.answered(),
                }
        })
        .map(|(_, f)| f.initiator.ip)
        .collect();
    answered_servers.sort();
    answered_servers.dedup();
    if answered_servers.is_empty() {
        return;
    }
    let mut by_subnet: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        if !internal_if(f.responder.ip) || !is_client(f.initiator.ip) {
            continue;
        }
        let why = match (f.protocol, f.responder.port) {
            (17, 3478) => unanswered_udp(inputs, i, f),
            (6, 443) => tcp_failure(inputs, i, f),
            _ => None,
        };
        let Some(why) = why else { continue };
        let subnet = t
            .client_subnets
            .iter()
            .find(|n| n.contains(&f.initiator.ip))
            .map(|n| n.to_string())
            .unwrap_or_else(|| f.initiator.ip.to_string());
        by_subnet
            .entry(subnet)
            .or_default()
            .push(evidence(inputs, i, why));
    }
    let servers: Vec<String> = answered_servers
        .iter()
        .take(3)
        .map(IpAddr::to_string)
        .collect();
    for (subnet, ev) in by_subnet {
        d.findings.push(finding(
            "R4",
            Severity::Warning,
            Confidence::Medium,
            format!("The Edge does not answer the client subnet {subnet}: a route is likely missing"),
            format!(
                "Clients in {subnet} got no answer from the Edge internal interface on UDP 3478 or TCP 443, while the \
                 same interface answered the servers ({}{}). The Edge routes its internal traffic through persistent \
                 static routes on the internal adapter: one for the servers' network exists, the one for {subnet} \
                 probably does not, so the replies follow the default gateway out of the external adapter. An internal \
                 firewall rule that admits the servers but not the clients looks the same from here: if the capture \
                 was taken on the Edge's internal adapter, the requests did arrive, and the route is the cause.",
                servers.join(", "),
                if answered_servers.len() > 3 { ", ..." } else { "" }
            ),
            "Add a persistent static route on the Edge for the client subnet through the internal adapter's gateway \
             (route -p add), for every network with clients; check the internal firewall's rules for the subnet too.",
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > DNS planning (a route from the network of the Edge internal interface to every network with clients and servers)",
            ev,
        ));
    }
}

/// A9: calls whose allocation worked but whose media legs never got an answer: no media path
/// could be established (ICE failed).
pub(super) fn ice_failures(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let mut ev = Vec::new();
    let mut calls: Vec<String> = Vec::new();
    for call in &d.calls {
        if call.kind == CallKind::SignallingAttempt || call.relays.is_empty() {
            continue;
        }
        let own = |k: LegKind| call.legs.iter().filter(move |l| l.kind == k && !l.inferred);
        let allocated = own(LegKind::Allocation).any(|l| l.ok && !l.unrecorded);
        let media: Vec<_> = own(LegKind::Media).filter(|l| !l.unrecorded).collect();
        if !allocated || media.is_empty() || media.iter().any(|l| l.ok) || call.more_legs > 0 {
            continue;
        }
        calls.push(format!("call {} {}", call.id, call.with()));
        for l in media {
            ev.push(evidence(
                inputs,
                l.flow,
                format!(
                    "call {}: media {}:{} -> {}:{} {}",
                    call.id,
                    l.initiator.ip,
                    l.initiator.port,
                    l.responder.ip,
                    l.responder.port,
                    l.outcome
                ),
            ));
        }
    }
    if ev.is_empty() {
        return;
    }
    let span = |e: &Evidence| {
        let f = &inputs.analysis.flows[e.flow];
        secs(f.last_ts_ns() - f.first_ts_ns())
    };
    let longest = ev.iter().map(span).fold(0.0, f64::max);
    d.findings.push(finding(
        "A9",
        Severity::Error,
        Confidence::Medium,
        format!(
            "No media path in {} call{}: the relay was allocated, the media was never answered",
            calls.len(),
            if calls.len() == 1 { "" } else { "s" }
        ),
        format!(
            "In {}, the client got its relay on the A/V Edge, but every media flow through the relay went one way \
             (up to {longest:.1} s) with no answer from the other side: the connectivity checks (ICE) found no working \
             path, and the call fails or drops after a few seconds (ms-client-diagnostics 23 or 25: media connectivity \
             failure). The other findings (A1-A5, A10, N1-N3, R1-R4) usually name the blocked path.",
            calls.join("; ")
        ),
        "Follow the media path of the call: UDP 3478 and 50000-59999 between our A/V Edge and the far side (partner \
         Edge or remote client), and the internal client's path to the Edge internal interface; open what the other \
         findings name.",
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (A/V/RTP 50000-59999, A/V/STUN.MSTURN 3478)",
        ev,
    ));
}
