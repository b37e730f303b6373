//! Both sides of one session: the flows a session makes on the Edge's external side and on its
//! internal side, linked so that a call timeline shows both.
//!
//! A capture of each side (two files, or one pcapng with an interface per side) shows the same
//! session twice, with different addresses:
//!
//! - TURN: a client inside allocates a relay on the Edge internal interface (3478/UDP, 443/TCP);
//!   the Allocate success response names the relayed address, which is the A/V Edge's external
//!   address and port, and the relay leg (media, or the peer's checks) runs on that address on
//!   the external side. The link is read from the TURN attributes: **certain**. The call
//!   grouping already joins every flow on a relayed address to the allocation that was given
//!   it (one index by relay address, see [`super::calls`]); this module says which side each of
//!   those flows was on.
//! - SIP: a connection in on the Access Edge's SIP port (443 from remote users, 5061 from
//!   partners) is proxied by the Edge over SIP/MTLS 5061 from its internal interface to the
//!   Director or Front End pool. SIP is encrypted, so nothing in the payload ties the two: an
//!   internal connection that opens within [`SIP_WINDOW_NS`] after the inbound one is linked
//!   to it by time and addresses only: **inferred**.
//!
//! Both lists are in flow order (by first packet), so the pairing is one merge of two sorted
//! lists: O(n) after the O(n log n) sort of the flows, no scan of all flows per flow.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::flow::Flow;
use crate::matrix::Role;
use crate::topology::Topology;

/// An internal SIP connection opening this soon after an inbound one is taken for its other
/// side.
pub const SIP_WINDOW_NS: i64 = 2_000_000_000;

/// The side of the Edge a flow was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// Between the Edge's external addresses and the Internet.
    External,
    /// Between the Edge's internal interface and the internal network.
    Internal,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::External => "ext",
            Side::Internal => "int",
        }
    }
}

/// How a leg on the other side of the Edge was linked to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// By the protocol's own fields (the TURN relayed address).
    Certain,
    /// By time and addresses only (SIP, which is encrypted).
    Inferred,
}

/// The Edge's own addresses, by side.
pub(super) struct EdgeSides {
    /// Access, web conferencing and A/V addresses, private and public, and their VIPs.
    external: Vec<IpAddr>,
    /// Access Edge addresses (and VIPs), private and public.
    access: Vec<IpAddr>,
    /// Edge internal interface addresses (and VIPs).
    internal: Vec<IpAddr>,
}

impl EdgeSides {
    pub(super) fn new(t: &Topology) -> EdgeSides {
        let mut s = EdgeSides {
            external: Vec::new(),
            access: Vec::new(),
            internal: Vec::new(),
        };
        for e in &t.edges {
            for svc in [&e.access, &e.webconf, &e.av] {
                s.external.push(svc.ip);
                s.external.extend(svc.public);
            }
            s.access.push(e.access.ip);
            s.access.extend(e.access.public);
            s.internal.extend(&e.internal);
        }
        for (ip, roles) in &t.roles {
            if roles.iter().any(|r| {
                matches!(
                    r,
                    Role::EdgeAccessVip | Role::EdgeWebconfVip | Role::EdgeAvVip
                )
            }) {
                s.external.push(*ip);
            }
            if roles.contains(&Role::EdgeAccessVip) {
                s.access.push(*ip);
            }
            if roles.contains(&Role::EdgeInternalVip) {
                s.internal.push(*ip);
            }
        }
        s
    }

    /// The side of the Edge a flow was on, from the Edge address it touches.
    pub(super) fn side(&self, f: &Flow) -> Option<Side> {
        let ends = [f.initiator.ip, f.responder.ip];
        if ends.iter().any(|ip| self.internal.contains(ip)) {
            Some(Side::Internal)
        } else if ends.iter().any(|ip| self.external.contains(ip)) {
            Some(Side::External)
        } else {
            None
        }
    }
}

/// Inbound SIP on the Access Edge -> the internal SIP/MTLS connection to the pool taken for its
/// other side (by flow index; each internal connection is linked to one inbound at most).
pub(super) fn sip_pairs(
    flows: &[Flow],
    topology: &Topology,
    edge: &EdgeSides,
) -> HashMap<usize, usize> {
    let mut inbound: Vec<usize> = Vec::new();
    let mut internal: Vec<usize> = Vec::new();
    let pool = |ip: IpAddr| {
        topology.roles_of(ip).iter().any(|r| {
            matches!(
                r,
                Role::Fe | Role::FePoolVip | Role::Director | Role::DirectorPoolVip
            )
        })
    };
    for (i, f) in flows.iter().enumerate() {
        if f.protocol != 6 {
            continue;
        }
        let sip_port = matches!(f.responder.port, 443 | 5061);
        if sip_port
            && edge.access.contains(&f.responder.ip)
            && !topology.is_internal_host(f.initiator.ip)
            && !topology.is_edge(f.initiator.ip)
        {
            inbound.push(i);
        } else if f.responder.port == 5061
            && edge.internal.contains(&f.initiator.ip)
            && pool(f.responder.ip)
        {
            internal.push(i);
        }
    }
    let start = |i: usize| flows[i].first_ts_ns();
    // Both lists are in first-packet order: one merge.
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (start(i), i));
    by_start(&mut inbound);
    by_start(&mut internal);
    let mut pairs = HashMap::new();
    let mut j = 0;
    for &i in &inbound {
        let t = start(i);
        while j < internal.len() && start(internal[j]) < t {
            j += 1;
        }
        if j < internal.len() && start(internal[j]) <= t.saturating_add(SIP_WINDOW_NS) {
            pairs.insert(i, internal[j]);
            j += 1;
        }
    }
    pairs
}
