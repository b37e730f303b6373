//! Federated call timelines: the flows of one call grouped, in order, with the leg that failed.
//!
//! A federated call on the wire is SIP/MTLS with the partner's Access Edge on 5061, TURN
//! allocations on the A/V Edge (UDP 3478, TCP 443; internal clients on the internal interface),
//! connectivity checks and media on the relay ports (50000-59999) or 3478. SIP is encrypted, so
//! grouping uses what is visible: the relay addresses handed out in Allocate responses (when the
//! payload shows them), the addresses, and timing (allocations from 10 s before the signalling
//! to media ending after it).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde::Serialize;

use super::Inputs;
use crate::flow::tcp::Handshake;
use crate::flow::Flow;
use crate::matrix::Role;

/// What a leg is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegKind {
    Signalling,
    Allocation,
    Media,
}

/// One flow's part in a call.
#[derive(Debug, Clone, Serialize)]
pub struct Leg {
    pub kind: LegKind,
    /// Index into `Analysis::flows`.
    pub flow: usize,
    pub initiator: String,
    pub responder: String,
    pub transport: String,
    pub start_ts_ns: i64,
    pub end_ts_ns: i64,
    pub ok: bool,
    /// The leg's state in words ("established", "4 SYNs, no answer", "one-way: 120 packets").
    pub outcome: String,
}

/// A federated call.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub id: usize,
    /// The partner's address (and domain when the topology names it).
    pub partner: String,
    pub start_ts_ns: i64,
    pub end_ts_ns: i64,
    pub legs: Vec<Leg>,
    /// The first leg that failed, in time order.
    pub failed_leg: Option<usize>,
    pub summary: String,
}

impl Call {
    /// One line that says who the call was with, how long it lasted, and how it went.
    pub fn heading(&self) -> String {
        format!(
            "call {} with {} ({:.1} s): {}",
            self.id,
            self.partner,
            (self.end_ts_ns - self.start_ts_ns) as f64 / 1e9,
            self.summary
        )
    }

    /// One line per leg, in time order: `x` marks the failed leg, `!` any other leg that failed.
    pub fn leg_lines(&self) -> Vec<(bool, String)> {
        self.legs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mark = if Some(i) == self.failed_leg {
                    "x"
                } else if l.ok {
                    " "
                } else {
                    "!"
                };
                let text = format!(
                    "{mark} +{:>7.3} s {:<10} {} {} -> {}: {}",
                    (l.start_ts_ns - self.start_ts_ns) as f64 / 1e9,
                    format!("{:?}", l.kind).to_lowercase(),
                    l.transport,
                    l.initiator,
                    l.responder,
                    l.outcome
                );
                (l.ok, text)
            })
            .collect()
    }
}

const BEFORE_NS: i64 = 10_000_000_000;
const AFTER_NS: i64 = 5_000_000_000;

fn outcome(f: &Flow) -> (bool, String) {
    match f.handshake() {
        Some(Handshake::Established) => (true, format!("established ({})", f.conn_state())),
        Some(Handshake::SynUnanswered {
            syn_retransmissions,
        }) => (
            false,
            format!("{} SYNs, no answer", syn_retransmissions + 1),
        ),
        Some(Handshake::RefusedByRst) => (false, "refused (reset)".into()),
        Some(Handshake::UnreachableByIcmp) => (false, "unreachable (ICMP)".into()),
        Some(Handshake::NotSeen) => (true, format!("already open ({})", f.conn_state())),
        None if f.answered() => (
            true,
            format!("answered: {} / {} packets", f.orig.packets, f.resp.packets),
        ),
        None => (
            false,
            format!("one-way: {} packets, no answer", f.orig.packets),
        ),
    }
}

/// Groups the flows into federated calls.
pub fn group(inputs: &Inputs<'_>) -> Vec<Call> {
    if inputs.topology_assumed {
        return Vec::new();
    }
    let t = inputs.topology;
    let flows = &inputs.analysis.flows;
    let role = |ip, r: Role| t.roles_of(ip).contains(&r);
    let access = |ip| role(ip, Role::EdgeAccess) || role(ip, Role::EdgeAccessVip);
    let av = |ip| role(ip, Role::EdgeAv) || role(ip, Role::EdgeAvVip);
    let internal_if = |ip| role(ip, Role::EdgeInternal) || role(ip, Role::EdgeInternalVip);
    let internet = |ip| !t.is_internal_host(ip) && !t.is_edge(ip);

    let signalling: Vec<usize> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.protocol == 6
                && ((access(f.initiator.ip)
                    && internet(f.responder.ip)
                    && f.responder.port == 5061)
                    || (access(f.responder.ip)
                        && internet(f.initiator.ip)
                        && f.responder.port == 5061))
        })
        .map(|(i, _)| i)
        .collect();
    let allocation = |f: &Flow| {
        let turn = matches!((f.protocol, f.responder.port), (17, 3478) | (6, 443));
        turn && (av(f.responder.ip) || internal_if(f.responder.ip))
    };
    let relay_port = |p: u16| (50_000..=59_999).contains(&p);
    let media = |f: &Flow| {
        (av(f.responder.ip)
            && (relay_port(f.responder.port) || f.responder.port == 3478)
            && !allocation(f))
            || (av(f.initiator.ip) && (relay_port(f.initiator.port) || f.initiator.port == 3478))
    };

    // Classified once: the loops below visit only candidates, so the grouping stays linear in
    // the flows for each call rather than quadratic over the capture.
    let allocations: Vec<usize> = (0..flows.len())
        .filter(|&i| allocation(&flows[i]))
        .collect();
    let medias: Vec<usize> = (0..flows.len()).filter(|&i| media(&flows[i])).collect();
    let signalling_set: BTreeSet<usize> = signalling.iter().copied().collect();
    let partner_of = |i: usize| {
        let f = &flows[i];
        if access(f.initiator.ip) {
            f.responder.ip
        } else {
            f.initiator.ip
        }
    };
    let mut by_partner: std::collections::BTreeMap<std::net::IpAddr, Vec<usize>> =
        Default::default();
    for &s in &signalling {
        by_partner.entry(partner_of(s)).or_default().push(s);
    }

    let mut calls = Vec::new();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    for &s in &signalling {
        if used.contains(&s) {
            continue;
        }
        let sf = &flows[s];
        let partner_ip = partner_of(s);
        // Signalling with the same partner that overlaps in time belongs to the same call.
        let mut legs_idx = vec![s];
        let (mut start, mut end) = (sf.first_ts_ns(), sf.last_ts_ns());
        for &o in by_partner
            .get(&partner_ip)
            .map_or(&[][..], |v| v.as_slice())
        {
            let of = &flows[o];
            if o != s && of.first_ts_ns() <= end + AFTER_NS && !used.contains(&o) {
                legs_idx.push(o);
                end = end.max(of.last_ts_ns());
                start = start.min(of.first_ts_ns());
            }
        }
        let window = (start - BEFORE_NS, end + AFTER_NS);
        let overlaps = |f: &Flow| f.first_ts_ns() <= window.1 && f.last_ts_ns() >= window.0;
        let mut relays: Vec<SocketAddr> = Vec::new();
        for &i in &allocations {
            if overlaps(&flows[i]) {
                legs_idx.push(i);
                relays.extend(super::payload::relay_addresses(inputs, i));
            }
        }
        let on_relay = |f: &Flow, relays: &[SocketAddr]| {
            relays.iter().any(|r| {
                (f.responder.port == r.port() && av(f.responder.ip))
                    || (f.initiator.port == r.port() && av(f.initiator.ip))
            })
        };
        let media_legs: Vec<usize> = medias
            .iter()
            .copied()
            .filter(|&i| on_relay(&flows[i], &relays) || overlaps(&flows[i]))
            .collect();
        // The allocation that handed out a media leg's relay port belongs to the call too, even
        // when it happened before the window.
        for &i in &allocations {
            if !legs_idx.contains(&i) {
                let its = super::payload::relay_addresses(inputs, i);
                if media_legs.iter().any(|m| on_relay(&flows[*m], &its)) {
                    legs_idx.push(i);
                }
            }
        }
        legs_idx.extend(media_legs);
        legs_idx.sort_by_key(|i| (flows[*i].first_ts_ns(), *i));
        legs_idx.dedup();
        let mut legs: Vec<Leg> = legs_idx
            .iter()
            .map(|&i| {
                let f = &flows[i];
                let kind = if signalling_set.contains(&i) {
                    LegKind::Signalling
                } else if allocation(f) {
                    LegKind::Allocation
                } else {
                    LegKind::Media
                };
                let (ok, outcome) = outcome(f);
                Leg {
                    kind,
                    flow: i,
                    initiator: format!("{}:{}", f.initiator.ip, f.initiator.port),
                    responder: format!("{}:{}", f.responder.ip, f.responder.port),
                    transport: crate::report::transport_name(f.protocol),
                    start_ts_ns: f.first_ts_ns(),
                    end_ts_ns: f.last_ts_ns(),
                    ok,
                    outcome,
                }
            })
            .collect();
        legs.sort_by_key(|l| (l.start_ts_ns, l.flow));
        for l in &legs {
            if l.kind == LegKind::Signalling {
                used.insert(l.flow);
            }
        }
        let failed_leg = legs.iter().position(|l| !l.ok);
        let partner = t
            .partners
            .iter()
            .find(|p| p.access_edge.contains(&partner_ip))
            .map(|p| format!("{} ({partner_ip})", p.domain))
            .unwrap_or_else(|| partner_ip.to_string());
        let count = |k: LegKind| legs.iter().filter(|l| l.kind == k).count();
        let summary = match failed_leg {
            Some(i) => {
                let l = &legs[i];
                let what = match l.kind {
                    LegKind::Signalling => "federation signalling (SIP/MTLS 5061)",
                    LegKind::Allocation => "TURN allocation on the A/V Edge",
                    LegKind::Media => "media",
                };
                format!(
                    "{what} failed: {} -> {}, {}",
                    l.initiator, l.responder, l.outcome
                )
            }
            None => format!(
                "{} signalling, {} allocation and {} media flows, all answered",
                count(LegKind::Signalling),
                count(LegKind::Allocation),
                count(LegKind::Media)
            ),
        };
        let start_ts_ns = legs.iter().map(|l| l.start_ts_ns).min().unwrap_or(start);
        let end_ts_ns = legs.iter().map(|l| l.end_ts_ns).max().unwrap_or(end);
        calls.push(Call {
            id: calls.len() + 1,
            partner,
            start_ts_ns,
            end_ts_ns,
            legs,
            failed_leg,
            summary,
        });
    }
    calls
}
