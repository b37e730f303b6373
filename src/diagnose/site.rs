//! T1-T3: does the capture match the topology at all? Every verdict rests on the topology, so a
//! mistyped Edge address, a capture from another site or a topology without its internal side
//! turns real flows into "unknown endpoints" or false violations, and the audit would pass a
//! site it never checked. These checks say so first, and T1/T3 fail the audit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::{evidence, Confidence, Diagnosis, Finding, Inputs, Severity};
use crate::judge::Verdict;
use crate::matrix::{PortSpec, Role, ServicePort};
use crate::topology::is_edge_role;

/// Ports a Skype for Business Edge listens on, on one side or the other.
const EDGE_PORTS: [u16; 8] = [443, 3478, 5061, 5062, 8057, 4443, 5269, 23456];

/// Evidence flows shown per finding.
const EVIDENCE_SHOWN: usize = 5;

/// Candidate Edge addresses named per finding.
const CANDIDATES_SHOWN: usize = 3;

/// Distinct peers counted per candidate address (enough to rank them; memory stays bounded).
const PEERS_COUNTED: usize = 4096;

/// An address outside the topology that serves documented Edge ports.
#[derive(Default)]
struct Candidate {
    /// Flows it answered on an Edge port or in the media range.
    flows: u64,
    peers: HashSet<IpAddr>,
    ports: BTreeMap<u16, u64>,
    /// Flow indexes, for evidence.
    examples: Vec<usize>,
}

impl Candidate {
    fn describe(&self, ip: IpAddr) -> String {
        let mut ports: Vec<(u16, u64)> = self.ports.iter().map(|(p, n)| (*p, *n)).collect();
        ports.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let ports: Vec<String> = ports.iter().take(4).map(|(p, _)| p.to_string()).collect();
        format!(
            "{ip} (answers {} flow{} from {}{} peer{} on port{} {})",
            self.flows,
            plural(self.flows),
            self.peers.len(),
            if self.peers.len() >= PEERS_COUNTED {
                "+"
            } else {
                ""
            },
            plural(self.peers.len() as u64),
            if ports.len() == 1 { "" } else { "s" },
            ports.join(", ")
        )
    }
}

/// An Edge role as admins name it.
fn service_name(r: Role) -> &'static str {
    match r {
        Role::EdgeAccess => "the Access Edge",
        Role::EdgeWebconf => "the Web Conferencing Edge",
        Role::EdgeAv => "the A/V Edge",
        Role::EdgeInternal => "the Edge internal interface",
        Role::EdgeAccessVip => "the Access Edge VIP",
        Role::EdgeWebconfVip => "the Web Conferencing Edge VIP",
        Role::EdgeAvVip => "the A/V Edge VIP",
        Role::EdgeInternalVip => "the Edge internal VIP",
        _ => "an Edge address",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Bits two addresses of one family share from the left.
fn common_prefix(a: IpAddr, b: IpAddr) -> u32 {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
        _ => 0,
    }
}

/// Whether `ip` belongs to the same Edge server as the addresses already collected for a
/// service (a pool has one Access Edge per server).
fn same_node(topo: &crate::topology::Topology, ips: &[IpAddr], ip: IpAddr) -> bool {
    let node = |a: IpAddr| {
        topo.edges.iter().position(|e| {
            e.internal.contains(&a)
                || [&e.access, &e.webconf, &e.av]
                    .iter()
                    .any(|s| s.ip == a || s.public == Some(a))
        })
    };
    ips.first().is_none_or(|first| node(*first) == node(ip))
}

/// Runs T1-T3; these checks need nothing but the topology the audit used, given or assumed.
pub(super) fn check(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let flows = &inputs.analysis.flows;
    if flows.is_empty() {
        return;
    }
    let topo = inputs.topology;
    let media = match topo.port(ServicePort::Media) {
        PortSpec::Range(lo, hi) => (lo, hi),
        _ => (50000, 59999),
    };
    // The Edge's services (one per Edge server and role), each seen when any of its addresses
    // (private or public) appears: behind NAT only one of the two is on the wire.
    let mut services: Vec<(String, Vec<IpAddr>, bool)> = Vec::new();
    let mut service_of: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for (ip, roles) in &topo.roles {
        for r in roles.iter().filter(|r| is_edge_role(**r)) {
            let name = service_name(*r).to_string();
            let k = match services
                .iter()
                .position(|s| s.0 == name && same_node(topo, &s.1, *ip))
            {
                Some(k) => k,
                None => {
                    services.push((name, Vec::new(), false));
                    services.len() - 1
                }
            };
            services[k].1.push(*ip);
            service_of.entry(*ip).or_default().push(k);
        }
    }
    let mut outside = 0u64;
    let mut candidates: HashMap<IpAddr, Candidate> = HashMap::new();
    let mut internal_unknown: Vec<usize> = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        for ip in [f.initiator.ip, f.responder.ip] {
            for &k in service_of.get(&ip).map_or(&[][..], |v| v.as_slice()) {
                services[k].2 = true;
            }
        }
        let Some(j) = inputs.judgements.get(i) else {
            continue;
        };
        // Flows towards the Edge internal interface from hosts the topology does not place.
        if topo
            .roles_of(f.responder.ip)
            .iter()
            .any(|r| matches!(r, Role::EdgeInternal | Role::EdgeInternalVip))
            && !topo.is_internal_host(f.initiator.ip)
            && !topo.is_edge(f.initiator.ip)
        {
            internal_unknown.push(i);
        }
        if j.verdict != Verdict::UnknownEndpoint {
            continue;
        }
        outside += 1;
        let port = f.responder.port;
        let placed = !topo.roles_of(f.responder.ip).is_empty();
        if !placed && (EDGE_PORTS.contains(&port) || (media.0..=media.1).contains(&port)) {
            let c = candidates.entry(f.responder.ip).or_default();
            c.flows += 1;
            if c.peers.len() < PEERS_COUNTED {
                c.peers.insert(f.initiator.ip);
            }
            // Media ports count as one, so that a relay's thousands of ports do not crowd out
            // the signalling ports in the description.
            let shown = if EDGE_PORTS.contains(&port) {
                port
            } else {
                media.0
            };
            *c.ports.entry(shown).or_default() += 1;
            if c.examples.len() < EVIDENCE_SHOWN {
                c.examples.push(i);
            }
        }
    }
    let mut ranked: Vec<(IpAddr, Candidate)> = candidates.into_iter().collect();
    ranked.sort_by(|a, b| {
        (b.1.peers.len(), b.1.flows)
            .cmp(&(a.1.peers.len(), a.1.flows))
            .then(a.0.cmp(&b.0))
    });
    let missing: Vec<(IpAddr, String)> = services
        .iter()
        .filter(|(_, _, seen)| !seen)
        .flat_map(|(what, ips, _)| ips.iter().map(move |ip| (*ip, what.clone())))
        .collect();
    let unseen_services = services.iter().filter(|s| !s.2).count();
    let total = flows.len() as u64;
    // A candidate close to a declared address that never appears: likely the same host, mistyped.
    let near_misses: Vec<(IpAddr, &(IpAddr, String))> = ranked
        .iter()
        .filter_map(|(ip, _)| {
            missing
                .iter()
                .filter(|(m, _)| common_prefix(*ip, *m) >= if ip.is_ipv4() { 24 } else { 64 })
                .max_by_key(|(m, _)| common_prefix(*ip, *m))
                .map(|m| (*ip, m))
        })
        .collect();
    let dominant = outside * 2 > total;
    if dominant || !near_misses.is_empty() {
        mismatch(inputs, d, outside, total, &ranked, &missing, &near_misses);
    } else if unseen_services > 0 {
        let list: Vec<String> = services
            .iter()
            .filter(|s| !s.2)
            .map(|(what, ips, _)| {
                let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                format!("{what} ({})", ips.join(", "))
            })
            .collect();
        d.findings.push(Finding {
            id: "T2",
            severity: Severity::Info,
            confidence: Confidence::High,
            title: format!(
                "{unseen_services} of the topology's {} Edge service{} never appear{} in the capture",
                services.len(),
                plural(services.len() as u64),
                if unseen_services == 1 { "s" } else { "" }
            ),
            explanation: format!(
                "No flow touches {}. A capture taken on one side of the Edge, or during a time a service was idle, \
                 shows only some addresses; checks of the missing ones could not run.",
                list.join(", ")
            ),
            fix: "If those services should have carried traffic, check the addresses in the topology file; otherwise \
                  capture on both Edge interfaces (or at both firewalls) for a complete audit."
                .into(),
            citation: "topology file",
            evidence: Vec::new(),
        });
    }
    internal_side(inputs, d, &internal_unknown);
}

/// T1: the capture and the topology describe different sites (or one address is mistyped).
fn mismatch(
    inputs: &Inputs<'_>,
    d: &mut Diagnosis,
    outside: u64,
    total: u64,
    ranked: &[(IpAddr, Candidate)],
    missing: &[(IpAddr, String)],
    near_misses: &[(IpAddr, &(IpAddr, String))],
) {
    let busiest: Vec<String> = ranked
        .iter()
        .take(CANDIDATES_SHOWN)
        .map(|(ip, c)| c.describe(*ip))
        .collect();
    let mut explanation = format!(
        "{outside} of {total} flows touch no address of the topology ({}), so they could not be judged \
         and any violation among them is hidden.",
        inputs.topology.source
    );
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .take(8)
            .map(|(ip, what)| format!("{ip} ({what})"))
            .collect();
        explanation.push_str(&format!(
            " Declared Edge addresses never seen: {}{}.",
            list.join(", "),
            if missing.len() > 8 { ", ..." } else { "" }
        ));
    }
    if !busiest.is_empty() {
        explanation.push_str(&format!(
            " Addresses that look like Edge services: {}.",
            busiest.join("; ")
        ));
    }
    let fix = match near_misses.first() {
        Some((seen, (declared, what))) => format!(
            "The topology names {declared} as {what}, which never appears, while {seen} serves Edge ports: correct the \
             address in {} if {seen} is meant, then audit again. `edgewise topology infer -r CAPTURE` writes the \
             addresses the capture shows.",
            inputs.topology.source
        ),
        None => format!(
            "Check that the capture was taken at this site's Edge and that {} describes it; `edgewise topology infer \
             -r CAPTURE` writes a starting topology from the capture's own traffic.",
            inputs.topology.source
        ),
    };
    let examples: Vec<usize> = match near_misses.first() {
        Some((seen, _)) => ranked
            .iter()
            .find(|(ip, _)| ip == seen)
            .map(|(_, c)| c.examples.clone())
            .unwrap_or_default(),
        None => ranked
            .iter()
            .flat_map(|(_, c)| c.examples.iter().copied())
            .take(EVIDENCE_SHOWN)
            .collect(),
    };
    let title = match near_misses.first() {
        Some((seen, (declared, _))) => format!(
            "The capture does not match the topology: {declared} never appears, {seen} looks like it"
        ),
        None => format!(
            "The capture does not match the topology: {outside} of {total} flows touch none of its addresses"
        ),
    };
    d.findings.push(Finding {
        id: "T1",
        severity: Severity::Error,
        confidence: if near_misses.is_empty() {
            Confidence::Medium
        } else {
            Confidence::High
        },
        title,
        explanation,
        fix,
        citation: "topology file",
        evidence: examples
            .into_iter()
            .map(|i| evidence(inputs, i, "touches no address of the topology"))
            .collect(),
    });
}

/// T3: traffic reaches the Edge internal interface from hosts the topology does not place,
/// and the topology declares no internal side at all: every such flow is judged as coming
/// from the Internet.
fn internal_side(inputs: &Inputs<'_>, d: &mut Diagnosis, flows: &[usize]) {
    let topo = inputs.topology;
    if topo.declares_internal_side() || flows.is_empty() {
        return;
    }
    let hosts: HashSet<IpAddr> = flows
        .iter()
        .map(|&i| inputs.analysis.flows[i].initiator.ip)
        .collect();
    d.findings.push(Finding {
        id: "T3",
        severity: Severity::Error,
        confidence: Confidence::High,
        title: format!(
            "The topology declares no internal side, yet {} host{} talk{} to the Edge internal interface",
            hosts.len(),
            plural(hosts.len() as u64),
            if hosts.len() == 1 { "s" } else { "" }
        ),
        explanation: format!(
            "{} has no [internal] section (front_end, server_subnets, client_subnets), so {} flow{} to the Edge \
             internal interface are judged as coming from external hosts; their violations are likely false, and \
             the internal-side checks (hairpins, I1-I5) could not run.",
            topo.source,
            flows.len(),
            plural(flows.len() as u64)
        ),
        fix: "Add the [internal] section: your Front End pool (front_end), Directors, server_subnets and \
              client_subnets; `edgewise topology infer -r CAPTURE` proposes them from the capture."
            .into(),
        citation: "topology file",
        evidence: flows
            .iter()
            .take(EVIDENCE_SHOWN)
            .map(|&i| evidence(inputs, i, "from a host the topology does not place"))
            .collect(),
    });
}
