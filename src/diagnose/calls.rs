//! Call timelines, correlated by what the protocol says rather than by time alone.
//!
//! On a busy Edge hundreds of calls run at once, so overlapping in time says nothing about
//! belonging together. A call on the wire is a TURN session: a client allocates a relay on the
//! A/V Edge (UDP 3478 or TCP 443, on the internal interface or from the Internet), the
//! Allocate response names the relayed address (the A/V Edge's public address behind NAT),
//! CreatePermission, ChannelBind and Send name the peers, and the media then runs between a
//! peer and the A/V Edge's relay port. So:
//!
//! - each TURN allocation flow is a session, with its relayed addresses and peers read from all
//!   its control messages;
//! - each media flow on an A/V Edge relay port joins the one session that handed out that port
//!   at its time (an index by relay address, one lookup per flow); media whose allocation came
//!   before the capture is counted, not made into calls of one leg;
//! - two sessions whose relays are each other's peers (a remote user calling an internal user
//!   through the same Edge) are one call;
//! - federation signalling (SIP/MTLS 5061) is shared: the Access Edge keeps long-lived
//!   connections to each partner and carries many calls over them, so a call shows the
//!   partner's connections open at its time as context, marked inferred, never as its own.
//!   Federation connections that failed with no session beside them are shown as call attempts,
//!   since a failed signalling leg is where a failed federated call usually ends.
//!
//! Everything is done with indexes and sorted lists: O(n log n) in flows.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::sides::{self, EdgeSides, Link, Side};
use super::Inputs;
use crate::flow::tcp::Handshake;
use crate::flow::{Endpoint, Flow};
use crate::matrix::{Role, ServicePort};

/// What a leg is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegKind {
    Signalling,
    Allocation,
    Media,
}

/// Who the call was with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    /// Media with a federated partner's A/V Edge.
    Federated,
    /// A client on the Internet relaying through the A/V Edge (remote user).
    RemoteUser,
    /// A TURN session whose peer is neither a known partner nor a remote client.
    Relay,
    /// Federation signalling that failed, with no TURN session beside it.
    SignallingAttempt,
}

/// One flow's part in a call.
#[derive(Debug, Clone, Serialize)]
pub struct Leg {
    pub kind: LegKind,
    /// Index into `Analysis::flows`.
    pub flow: usize,
    pub initiator: Endpoint,
    pub responder: Endpoint,
    pub transport: &'static str,
    pub start_ts_ns: i64,
    pub end_ts_ns: i64,
    pub ok: bool,
    /// Shared context rather than the call's own flow: a federation connection to the partner
    /// that was open during the call and may have carried its signalling.
    pub inferred: bool,
    /// The input did not record how this flow went (a firewall log's allowed connection): it
    /// is neither a failure nor an answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unrecorded: bool,
    /// The side of the Edge the flow was on; set on every leg of a call seen on both sides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// A leg on the other side of the Edge from the call's own allocation (or signalling), and
    /// how it was linked: `certain` by the TURN relayed address, `inferred` by time and
    /// addresses (an inbound SIP connection's internal connection to the pool).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// The leg's state in words ("established", "4 SYNs, no answer", "one-way: 120 packets").
    pub outcome: String,
}

/// A call: its TURN sessions and media, with the partner's signalling as context.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub id: usize,
    pub kind: CallKind,
    /// The partner's domain when the topology names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_domain: Option<String>,
    /// The client that allocated the relay (its first session's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Endpoint>,
    /// The far end of the media: the partner's A/V Edge or the other party's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    /// The relayed addresses its allocations were given.
    pub relays: Vec<SocketAddr>,
    pub start_ts_ns: i64,
    pub end_ts_ns: i64,
    /// The first legs, in time order.
    pub legs: Vec<Leg>,
    /// Own legs of the call beyond those listed.
    pub more_legs: usize,
    /// The partner's federation connections open during the call (shared; the first are
    /// listed as inferred legs).
    pub partner_connections: usize,
    /// The first leg that failed, in time order (an index into `legs`).
    pub failed_leg: Option<usize>,
    pub summary: String,
}

/// Most legs listed per call; the rest are counted.
const LEGS_SHOWN: usize = 12;
/// Most federation connections shown as a call's context (all are counted).
const CONTEXT_SHOWN: usize = 2;
/// How far back among a partner's connections the shown ones are looked for.
const CONTEXT_LOOKBACK: usize = 64;
/// A relay port is the same session's for this long after its last packet (TURN's default
/// allocation lifetime is 10 minutes; media can outlive the control flow's last refresh).
const RELAY_GRACE_NS: i64 = 600_000_000_000;
/// Slack on the live window of a session that was not seen to end, when linking sessions.
const LINK_SLACK_NS: i64 = 1_000_000_000;
/// A failed signalling connection joins an attempt that ended less than this before it.
const ATTEMPT_GAP_NS: i64 = 5_000_000_000;

impl Call {
    /// One line that says who the call was with, how long it lasted, and how it went.
    pub fn heading(&self) -> String {
        format!(
            "call {} {} ({:.1} s): {}",
            self.id,
            self.with(),
            (self.end_ts_ns - self.start_ts_ns) as f64 / 1e9,
            self.summary
        )
    }

    /// Who the call was with, in words.
    pub fn with(&self) -> String {
        let peer = self.peer.map(|p| p.to_string());
        let client = self.client.map(|c| c.ip.to_string());
        let who = match (&self.partner_domain, &peer) {
            (Some(d), Some(p)) => format!("with {d} ({p})"),
            (Some(d), None) => format!("with {d}"),
            (None, Some(p)) => format!("with {p}"),
            (None, None) => String::new(),
        };
        match (self.kind, client) {
            (CallKind::RemoteUser, Some(c)) => {
                format!("of remote user {c} {who}").trim_end().into()
            }
            (_, Some(c)) => format!("of {c} {who}").trim_end().into(),
            _ => who,
        }
    }

    /// One line per leg, in time order: `x` marks the failed leg, `!` any other leg that
    /// failed, `?` one whose outcome the input did not record, `~` a shared connection shown
    /// as context.
    pub fn leg_lines(&self) -> Vec<(bool, String)> {
        let mut lines: Vec<(bool, String)> = self
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mark = if Some(i) == self.failed_leg {
                    "x"
                } else if !l.ok {
                    "!"
                } else if l.unrecorded {
                    "?"
                } else if l.inferred {
                    "~"
                } else {
                    " "
                };
                let text = format!(
                    "{mark} +{:>7.3} s {:<10} {}{} {}:{} -> {}:{}: {}{}",
                    (l.start_ts_ns - self.start_ts_ns) as f64 / 1e9,
                    format!("{:?}", l.kind).to_lowercase(),
                    l.side.map_or(String::new(), |s| format!("[{}] ", s.label())),
                    l.transport,
                    l.initiator.ip,
                    l.initiator.port,
                    l.responder.ip,
                    l.responder.port,
                    l.outcome,
                    match (l.link, l.inferred) {
                        (Some(Link::Inferred), _) => {
                            " (internal side of the inbound SIP connection, inferred from time and addresses)"
                        }
                        (Some(Link::Certain), _) => " (other side, linked by the TURN relayed address)",
                        (None, true) => " (shared with the partner, inferred)",
                        (None, false) => "",
                    }
                );
                (l.ok, text)
            })
            .collect();
        if self.more_legs > 0 {
            lines.push((true, format!("  ... and {} more legs", self.more_legs)));
        }
        let unlisted = self
            .partner_connections
            .saturating_sub(self.legs.iter().filter(|l| l.inferred).count());
        if unlisted > 0 {
            lines.push((
                true,
                format!("~ ... and {unlisted} more connections with the partner open at the time"),
            ));
        }
        lines
    }
}

/// A leg's state in words, and whether it went well; a flow whose outcome the input did not
/// record is not a failure, and says so.
fn outcome(f: &Flow, recorded: bool) -> (bool, String) {
    if !recorded {
        return (
            true,
            "allowed; the log does not record whether it was answered".into(),
        );
    }
    match f.handshake() {
        Some(Handshake::Established) => (true, format!("established ({})", f.conn_state())),
        Some(Handshake::SynUnanswered {
            syn_retransmissions,
        }) => (
            false,
            format!(
                "{} SYN{}, no answer",
                syn_retransmissions + 1,
                if syn_retransmissions == 0 { "" } else { "s" }
            ),
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

fn leg(inputs: &Inputs<'_>, i: usize, kind: LegKind, inferred: bool) -> Leg {
    let f = &inputs.analysis.flows[i];
    let (ok, outcome) = outcome(f, inputs.recorded(i));
    Leg {
        kind,
        flow: i,
        initiator: f.initiator,
        responder: f.responder,
        transport: match f.protocol {
            6 => "tcp",
            17 => "udp",
            _ => "ip",
        },
        start_ts_ns: f.first_ts_ns(),
        end_ts_ns: f.last_ts_ns(),
        ok,
        inferred,
        unrecorded: !inputs.recorded(i),
        side: None,
        link: None,
        outcome,
    }
}

/// The internal connections linked (inferred) to the inbound SIP connections among `legs`, as
/// legs of their own, after them.
fn with_sip_sides(inputs: &Inputs<'_>, legs: &mut Vec<Leg>, pairs: &HashMap<usize, usize>) {
    let linked: Vec<Leg> = legs
        .iter()
        .filter(|l| l.kind == LegKind::Signalling)
        .filter_map(|l| pairs.get(&l.flow))
        .map(|&p| Leg {
            link: Some(Link::Inferred),
            ..leg(inputs, p, LegKind::Signalling, true)
        })
        .collect();
    legs.extend(linked);
}

/// Marks the sides of a call's legs when it was seen on both: every leg gets its side, and the
/// call's own legs on the other side from its first allocation (or first own leg) are linked
/// for certain (a relayed address or peer joined them).
fn mark_sides(inputs: &Inputs<'_>, legs: &mut [Leg], edge: &EdgeSides) {
    let flows = &inputs.analysis.flows;
    let side_of: Vec<Option<Side>> = legs.iter().map(|l| edge.side(&flows[l.flow])).collect();
    let home = legs
        .iter()
        .zip(&side_of)
        .find(|(l, _)| l.kind == LegKind::Allocation)
        .or_else(|| legs.iter().zip(&side_of).find(|(l, _)| !l.inferred))
        .and_then(|(_, s)| *s);
    let both = side_of.contains(&Some(Side::Internal)) && side_of.contains(&Some(Side::External));
    if !both {
        return;
    }
    for (l, s) in legs.iter_mut().zip(side_of) {
        l.side = s;
        if l.link.is_none() && !l.inferred && s.is_some() && s != home {
            l.link = Some(Link::Certain);
        }
    }
}

/// The addresses of the site that calls are read against, resolved once.
struct Site {
    /// A/V Edge addresses: private (as captured at the Edge) and public.
    av: Vec<IpAddr>,
    /// Public A/V address -> the private one the capture shows behind NAT.
    av_private: HashMap<IpAddr, IpAddr>,
    access: Vec<IpAddr>,
    internal_if: Vec<IpAddr>,
    media: crate::matrix::PortSpec,
    /// Partner address (access or A/V Edge) -> partner index.
    partner_of: HashMap<IpAddr, usize>,
}

impl Site {
    fn new(inputs: &Inputs<'_>) -> Site {
        let t = inputs.topology;
        let mut av = Vec::new();
        let mut av_private = HashMap::new();
        let mut access = Vec::new();
        let mut internal_if = Vec::new();
        for e in &t.edges {
            av.push(e.av.ip);
            if let Some(p) = e.av.public {
                av.push(p);
                av_private.insert(p, e.av.ip);
            }
            access.push(e.access.ip);
            access.extend(e.access.public);
            internal_if.extend(&e.internal);
        }
        for (ip, roles) in &t.roles {
            if roles.contains(&Role::EdgeAvVip) {
                av.push(*ip);
            }
            if roles.contains(&Role::EdgeAccessVip) {
                access.push(*ip);
            }
            if roles.contains(&Role::EdgeInternalVip) {
                internal_if.push(*ip);
            }
        }
        let mut partner_of = HashMap::new();
        for (i, p) in t.partners.iter().enumerate() {
            for ip in p.access_edge.iter().chain(&p.av_edge) {
                partner_of.insert(*ip, i);
            }
        }
        Site {
            av,
            av_private,
            access,
            internal_if,
            media: t.port(ServicePort::Media),
            partner_of,
        }
    }

    fn is_av(&self, ip: IpAddr) -> bool {
        self.av.contains(&ip)
    }

    /// The address a relayed address shows up as in this capture.
    fn captured(&self, relay: SocketAddr) -> (IpAddr, u16) {
        let ip = self
            .av_private
            .get(&relay.ip())
            .copied()
            .unwrap_or(relay.ip());
        (ip, relay.port())
    }

    fn is_media_port(&self, p: u16) -> bool {
        match self.media {
            crate::matrix::PortSpec::Range(lo, hi) => (lo..=hi).contains(&p),
            crate::matrix::PortSpec::Single(x) => x == p,
            _ => (50_000..=59_999).contains(&p),
        }
    }
}

/// A TURN allocation flow and what it set up.
struct Session {
    flow: usize,
    relays: Vec<SocketAddr>,
    peers: Vec<SocketAddr>,
    start: i64,
    /// The allocation flow's last packet: the session was live from `start` to here.
    last: i64,
    /// When the relay port stops being this session's.
    until: i64,
    /// Ended by a deallocation: its window ends exactly at its last packet.
    deallocated: bool,
    media: Vec<usize>,
}

/// Union-find over sessions, for the calls that run through two relays of the same Edge.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Correlates the flows into calls; also returns how many media flows ran on a relay port
/// whose allocation the capture did not show (it began before the capture): they are counted,
/// not shown as calls of one leg each.
pub fn group(inputs: &Inputs<'_>) -> (Vec<Call>, usize) {
    if inputs.topology_assumed {
        return (Vec::new(), 0);
    }
    let flows = &inputs.analysis.flows;
    let site = Site::new(inputs);
    let edge = EdgeSides::new(inputs.topology);
    let sip_pairs = sides::sip_pairs(flows, inputs.topology, &edge);
    let stun = |i: usize| {
        inputs
            .analysis
            .identifications
            .get(i)
            .and_then(|id| id.evidence.stun.as_deref())
    };

    // 1. Sessions: TURN on the A/V Edge's 3478/443 or the Edge internal interface (over UDP,
    // only where a TURN method was seen: a Binding check alone allocates nothing).
    let mut sessions: Vec<Session> = Vec::new();
    let mut signalling: Vec<usize> = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        let to_turn_port = matches!((f.protocol, f.responder.port), (17, 3478) | (6, 443));
        let turn_server = site.is_av(f.responder.ip) || site.internal_if.contains(&f.responder.ip);
        let turn = stun(i).and_then(|s| s.turn.as_ref());
        if to_turn_port && turn_server && (turn.is_some() || f.protocol == 6) {
            let (relays, peers) = turn
                .map(|t| (t.relayed.clone(), t.peers.clone()))
                .unwrap_or_default();
            // A deallocated relay port can be handed to the next client at once.
            let deallocated = turn.is_some_and(|t| t.deallocated);
            let grace = if deallocated { 0 } else { RELAY_GRACE_NS };
            sessions.push(Session {
                flow: i,
                relays,
                peers,
                start: f.first_ts_ns(),
                last: f.last_ts_ns(),
                until: f.last_ts_ns().saturating_add(grace),
                deallocated,
                media: Vec::new(),
            });
            continue;
        }
        let fed = f.protocol == 6
            && f.responder.port == 5061
            && ((site.access.contains(&f.initiator.ip) && is_internet(inputs, f.responder.ip))
                || (site.access.contains(&f.responder.ip) && is_internet(inputs, f.initiator.ip)));
        if fed {
            signalling.push(i);
        }
    }

    // 2. An index by relay address as captured: (A/V ip, port) -> sessions in time order.
    let mut by_relay: HashMap<(IpAddr, u16), Vec<usize>> = HashMap::new();
    for (s, sess) in sessions.iter().enumerate() {
        for r in &sess.relays {
            by_relay.entry(site.captured(*r)).or_default().push(s);
        }
    }

    // 3. Each media flow joins the one session that had its relay port at its time.
    let mut unmatched_media: Vec<usize> = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        let ends = [(f.responder, f.initiator), (f.initiator, f.responder)];
        let Some((relay, remote)) = ends
            .into_iter()
            .find(|(e, _)| site.is_av(e.ip) && site.is_media_port(e.port))
        else {
            continue;
        };
        if sessions_contain_flow(&sessions, i) {
            continue;
        }
        let start = f.first_ts_ns();
        let chosen = by_relay.get(&(relay.ip, relay.port)).and_then(|cands| {
            let in_time = |&&s: &&usize| sessions[s].start <= start && start <= sessions[s].until;
            let peer_known = |&&s: &&usize| sessions[s].peers.iter().any(|p| p.ip() == remote.ip);
            cands
                .iter()
                .rev()
                .filter(in_time)
                .find(peer_known)
                .or_else(|| cands.iter().rev().find(in_time))
                .or_else(|| cands.iter().rfind(|&&s| sessions[s].start <= start))
                .or(cands.first())
                .copied()
        });
        match chosen {
            Some(s) => sessions[s].media.push(i),
            None => unmatched_media.push(i),
        }
    }

    // 4. Sessions whose peers are each other's relays, at the same time, are one call (a relay
    // port is handed out again once freed, so time matters).
    let mut parent: Vec<usize> = (0..sessions.len()).collect();
    for (s, sess) in sessions.iter().enumerate() {
        for p in &sess.peers {
            if let Some(others) = by_relay.get(&site.captured(*p)) {
                let end = |x: &Session| {
                    x.last
                        .saturating_add(if x.deallocated { 0 } else { LINK_SLACK_NS })
                };
                let live = |o: &usize| {
                    let other = &sessions[*o];
                    other.start <= end(sess) && sess.start <= end(other)
                };
                for &o in others.iter().filter(|o| live(o)) {
                    let (a, b) = (root(&mut parent, s), root(&mut parent, o));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
        }
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); sessions.len()];
    for s in 0..sessions.len() {
        let r = root(&mut parent, s);
        members[r].push(s);
    }

    // 5. Federation connections by partner address, in time order, for context.
    let partner_ip = |i: usize| {
        let f = &flows[i];
        if site.access.contains(&f.initiator.ip) {
            f.responder.ip
        } else {
            f.initiator.ip
        }
    };
    // In flow order, so by start; beside them their ends, sorted, so that the connections
    // open during a call are counted with two binary searches, not a scan.
    let mut fed_by_ip: HashMap<IpAddr, Vec<usize>> = HashMap::new();
    for &i in &signalling {
        fed_by_ip.entry(partner_ip(i)).or_default().push(i);
    }
    let ends_by_ip: HashMap<IpAddr, Vec<i64>> = fed_by_ip
        .iter()
        .map(|(ip, conns)| {
            let mut ends: Vec<i64> = conns.iter().map(|&c| flows[c].last_ts_ns()).collect();
            ends.sort_unstable();
            (*ip, ends)
        })
        .collect();
    // Each call's time with each partner address, for telling call attempts apart below.
    let mut call_windows: HashMap<IpAddr, Vec<(i64, i64)>> = HashMap::new();

    let t = inputs.topology;
    let mut calls: Vec<Call> = Vec::new();
    for group in members.iter().filter(|m| !m.is_empty()) {
        let mut legs: Vec<Leg> = Vec::new();
        let mut relays: Vec<SocketAddr> = Vec::new();
        let mut remote: Option<IpAddr> = None;
        let mut client: Option<Endpoint> = None;
        let mut from_internet = false;
        for &s in group {
            let sess = &sessions[s];
            let af = &flows[sess.flow];
            from_internet |= is_internet(inputs, af.initiator.ip);
            client.get_or_insert(af.initiator);
            legs.push(leg(inputs, sess.flow, LegKind::Allocation, false));
            relays.extend(&sess.relays);
            for &m in &sess.media {
                legs.push(leg(inputs, m, LegKind::Media, false));
                let mf = &flows[m];
                let far = if site.is_av(mf.responder.ip) {
                    mf.initiator.ip
                } else {
                    mf.responder.ip
                };
                remote.get_or_insert(far);
            }
            if remote.is_none() {
                remote = sess
                    .peers
                    .iter()
                    .map(|p| p.ip())
                    .find(|ip| !site.is_av(*ip));
            }
        }
        let start = legs.iter().map(|l| l.start_ts_ns).min().unwrap_or(0);
        let end = legs.iter().map(|l| l.end_ts_ns).max().unwrap_or(start);
        let partner = remote.and_then(|ip| site.partner_of.get(&ip).copied());
        // The partner's connections open at the call's time, as shared context.
        let partner_ips: Vec<IpAddr> = match partner {
            Some(p) => t.partners[p].access_edge.clone(),
            None => remote.into_iter().collect(),
        };
        let mut open_connections = 0;
        let mut context: Vec<usize> = Vec::new();
        for ip in &partner_ips {
            call_windows.entry(*ip).or_default().push((start, end));
            let (Some(conns), Some(ends)) = (fed_by_ip.get(ip), ends_by_ip.get(ip)) else {
                continue;
            };
            // Open during the call: started by its end, less those that ended before its start
            // (which all started before it too).
            let started = conns.partition_point(|&c| flows[c].first_ts_ns() <= end);
            let ended = ends.partition_point(|&e| e < start);
            open_connections += started.saturating_sub(ended);
            // The latest started of them as the legs shown, looking back a bounded way.
            context.extend(
                conns[..started]
                    .iter()
                    .rev()
                    .take(CONTEXT_LOOKBACK)
                    .filter(|&&c| flows[c].last_ts_ns() >= start)
                    .take(CONTEXT_SHOWN),
            );
        }
        context.sort_unstable();
        context.truncate(CONTEXT_SHOWN);
        let shown_context = context.len();
        let kind = if partner.is_some() || open_connections > 0 {
            CallKind::Federated
        } else if from_internet {
            CallKind::RemoteUser
        } else {
            CallKind::Relay
        };
        let mut extra = 0;
        legs.extend(
            context
                .iter()
                .take(shown_context)
                .map(|&c| leg(inputs, c, LegKind::Signalling, true)),
        );
        with_sip_sides(inputs, &mut legs, &sip_pairs);
        mark_sides(inputs, &mut legs, &edge);
        legs.sort_by_key(|l| (l.start_ts_ns, l.flow));
        if legs.len() > LEGS_SHOWN {
            // Keep the failed legs in view: they are why a timeline is read.
            let failed: Vec<Leg> = legs[LEGS_SHOWN..]
                .iter()
                .filter(|l| !l.ok && !l.inferred)
                .take(2)
                .cloned()
                .collect();
            extra += legs.len() - LEGS_SHOWN - failed.len();
            legs.truncate(LEGS_SHOWN);
            legs.extend(failed);
        }
        let mut call = finish(
            kind,
            partner.map(|p| t.partners[p].domain.clone()),
            client,
            remote,
            relays,
            legs,
            extra,
        );
        call.partner_connections = open_connections;
        calls.push(call);
    }

    // 6. Failed federation signalling with no session beside it: call attempts, per partner.
    for windows in call_windows.values_mut() {
        *windows = merged(std::mem::take(windows));
    }
    for (ip, conns) in &fed_by_ip {
        let windows = call_windows.get(ip).map_or(&[][..], Vec::as_slice);
        let mut attempt: Vec<usize> = Vec::new();
        let mut attempt_end = i64::MIN;
        let flush = |attempt: &mut Vec<usize>, calls: &mut Vec<Call>| {
            if attempt
                .iter()
                .any(|&c| !outcome(&flows[c], inputs.recorded(c)).0)
            {
                let mut legs: Vec<Leg> = attempt
                    .iter()
                    .take(LEGS_SHOWN)
                    .map(|&c| leg(inputs, c, LegKind::Signalling, false))
                    .collect();
                with_sip_sides(inputs, &mut legs, &sip_pairs);
                mark_sides(inputs, &mut legs, &edge);
                legs.sort_by_key(|l| (l.start_ts_ns, l.flow));
                let extra = attempt.len().saturating_sub(LEGS_SHOWN);
                let partner = site
                    .partner_of
                    .get(ip)
                    .map(|&p| t.partners[p].domain.clone());
                calls.push(finish(
                    CallKind::SignallingAttempt,
                    partner,
                    None,
                    Some(*ip),
                    Vec::new(),
                    legs,
                    extra,
                ));
            }
            attempt.clear();
        };
        for &c in conns {
            let f = &flows[c];
            if overlaps(windows, f.first_ts_ns(), f.last_ts_ns()) {
                continue;
            }
            if !attempt.is_empty() && f.first_ts_ns() > attempt_end.saturating_add(ATTEMPT_GAP_NS) {
                flush(&mut attempt, &mut calls);
            }
            attempt_end = if attempt.is_empty() {
                f.last_ts_ns()
            } else {
                attempt_end.max(f.last_ts_ns())
            };
            attempt.push(c);
        }
        flush(&mut attempt, &mut calls);
    }
    calls.sort_by_key(|c| (c.start_ts_ns, c.legs.first().map_or(0, |l| l.flow)));
    for (i, c) in calls.iter_mut().enumerate() {
        c.id = i + 1;
    }
    (calls, unmatched_media.len())
}

/// Time windows sorted and merged into disjoint ones.
fn merged(mut w: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    w.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(w.len());
    for (s, e) in w {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Does `[start, end]` meet one of the disjoint, sorted `windows`?
fn overlaps(windows: &[(i64, i64)], start: i64, end: i64) -> bool {
    let i = windows.partition_point(|w| w.0 <= end);
    i > 0 && windows[i - 1].1 >= start
}

/// Is flow `i` itself a session's allocation flow (never a media leg)?
fn sessions_contain_flow(sessions: &[Session], i: usize) -> bool {
    sessions.binary_search_by_key(&i, |s| s.flow).is_ok()
}

fn is_internet(inputs: &Inputs<'_>, ip: IpAddr) -> bool {
    !inputs.topology.is_internal_host(ip) && !inputs.topology.is_edge(ip)
}

fn finish(
    kind: CallKind,
    partner_domain: Option<String>,
    client: Option<Endpoint>,
    peer: Option<IpAddr>,
    relays: Vec<SocketAddr>,
    legs: Vec<Leg>,
    more_legs: usize,
) -> Call {
    let failed_leg = legs.iter().position(|l| !l.ok && !l.inferred);
    let count = |k: LegKind| legs.iter().filter(|l| l.kind == k && !l.inferred).count();
    let summary = match failed_leg {
        Some(i) => {
            let l = &legs[i];
            let what = match l.kind {
                LegKind::Signalling => "federation signalling (SIP/MTLS 5061)",
                LegKind::Allocation => "TURN allocation on the A/V Edge",
                LegKind::Media => "media",
            };
            format!(
                "{what} failed: {}:{} -> {}:{}, {}",
                l.initiator.ip, l.initiator.port, l.responder.ip, l.responder.port, l.outcome
            )
        }
        None if kind == CallKind::SignallingAttempt => {
            format!("{} signalling connections", count(LegKind::Signalling))
        }
        None => {
            let unrecorded = legs.iter().filter(|l| l.unrecorded && !l.inferred).count();
            let how = if unrecorded == 0 {
                "all answered".to_string()
            } else {
                format!("{unrecorded} with no recorded outcome, none failed")
            };
            format!(
                "{} allocation and {} media flows, {how}",
                count(LegKind::Allocation),
                count(LegKind::Media) + more_legs
            )
        }
    };
    let start_ts_ns = legs.iter().map(|l| l.start_ts_ns).min().unwrap_or(0);
    let end_ts_ns = legs
        .iter()
        .map(|l| l.end_ts_ns)
        .max()
        .unwrap_or(start_ts_ns);
    Call {
        id: 0,
        kind,
        partner_domain,
        client,
        peer,
        relays,
        start_ts_ns,
        end_ts_ns,
        legs,
        more_legs,
        partner_connections: 0,
        failed_leg,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::{merged, overlaps};

    #[test]
    fn windows_merge_and_answer_overlap() {
        let w = merged(vec![(10, 20), (0, 5), (15, 30), (40, 50)]);
        assert_eq!(w, vec![(0, 5), (10, 30), (40, 50)]);
        assert!(overlaps(&w, 5, 7));
        assert!(overlaps(&w, 31, 40));
        assert!(!overlaps(&w, 6, 9));
        assert!(!overlaps(&w, 31, 39));
        assert!(!overlaps(&w, 51, 60));
        assert!(!overlaps(&[], 0, 100));
    }
}
