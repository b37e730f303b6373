//! The flow table: bidirectional five-tuples with per-direction counters, TCP state and a
//! bounded payload prefix, on capture time, with idle expiry and a cap.
//!
//! A flow has two identities (as in retina's `conn_id`): a direction-free [`FlowKey`] for the
//! table, and the directional initiator -> responder pair, with how the initiator was known.
//! For a firewall verdict, who initiated is the whole question, so an inferred initiator is
//! marked as such.
//!
//! Memory grows with concurrent flows, never with capture size: flows idle past their timeout
//! (on packet time) are finished and handed to a [`FlowSink`], and at the cap the least recently
//! seen flows are evicted the same way. A finished flow keeps every count.

pub mod stream;
pub mod tcp;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::decode::{Fragment, IcmpInfo, IpPacket, Transport};
use stream::{DatagramPrefix, TcpPrefix};
use tcp::{Handshake, TcpState};

/// Direction-free identity: the two endpoints in a fixed order, and the IP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub protocol: u8,
}

impl FlowKey {
    /// The key of a packet from `a` to `b`, and whether `a` is the key's `lo` side.
    pub fn new(a: (IpAddr, u16), b: (IpAddr, u16), protocol: u8) -> (FlowKey, bool) {
        if a <= b {
            (
                FlowKey {
                    lo: a,
                    hi: b,
                    protocol,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: b,
                    hi: a,
                    protocol,
                },
                false,
            )
        }
    }
}

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// How the initiator of a flow was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitiatorEvidence {
    /// A SYN without ACK was seen from the initiator: certain.
    Syn,
    /// The first packet seen was the responder's SYN-ACK: certain.
    SynAck,
    /// Inferred: the first packet's source port is a service port and its destination is not.
    WellKnownPort,
    /// Inferred: the sender of the first packet seen.
    FirstPacket,
    /// A firewall log line names this side as the source of a packet the firewall denied:
    /// certain (a scanner's datagram from port 5xxxx is not the reply of a media flow).
    DeniedSource,
}

impl InitiatorEvidence {
    pub fn is_certain(self) -> bool {
        matches!(
            self,
            InitiatorEvidence::Syn | InitiatorEvidence::SynAck | InitiatorEvidence::DeniedSource
        )
    }
}

/// Counters for one direction of a flow. Times and frames are stored without `Option`'s tag
/// (a sentinel marks "none yet"): a busy capture holds two of these per flow.
#[derive(Debug, Clone)]
pub struct DirStats {
    pub packets: u64,
    /// Sum of the original (on-the-wire) frame lengths, as capinfos and tshark count bytes.
    pub wire_bytes: u64,
    /// Transport payload bytes as the IP lengths declare them (retransmissions included).
    pub payload_bytes: u64,
    /// IP packet bytes, header included, as the IP headers declare them: Zeek's
    /// `orig_ip_bytes`/`resp_ip_bytes`, tshark's Σ `ip.len`. Unlike `wire_bytes`, no link
    /// header, so it means the same on Ethernet, Linux SLL and raw IP captures.
    pub ip_bytes: u64,
    first_ts: i64,
    last_ts: i64,
    first_frame: u64,
    last_frame: u64,
}

const NO_TIME: i64 = i64::MIN;
const NO_FRAME: u64 = u64::MAX;

impl Default for DirStats {
    fn default() -> Self {
        DirStats {
            packets: 0,
            wire_bytes: 0,
            payload_bytes: 0,
            ip_bytes: 0,
            first_ts: NO_TIME,
            last_ts: NO_TIME,
            first_frame: NO_FRAME,
            last_frame: NO_FRAME,
        }
    }
}

impl DirStats {
    fn add(&mut self, ts_ns: i64, frame: u64, wire: u32, ip: u32, payload: u32) {
        self.packets += 1;
        self.wire_bytes += u64::from(wire);
        self.ip_bytes += u64::from(ip);
        self.payload_bytes += u64::from(payload);
        self.note_time(ts_ns);
        if self.first_frame == NO_FRAME {
            self.first_frame = frame;
        }
        self.last_frame = frame;
    }

    /// Widens the direction's time span to include `ts_ns`.
    pub fn note_time(&mut self, ts_ns: i64) {
        self.first_ts = if self.first_ts == NO_TIME {
            ts_ns
        } else {
            self.first_ts.min(ts_ns)
        };
        self.last_ts = if self.last_ts == NO_TIME {
            ts_ns
        } else {
            self.last_ts.max(ts_ns)
        };
    }

    /// Widens the direction's frame (or log line) span to include `n`.
    pub fn note_frame(&mut self, n: u64) {
        self.first_frame = if self.first_frame == NO_FRAME {
            n
        } else {
            self.first_frame.min(n)
        };
        self.last_frame = if self.last_frame == NO_FRAME {
            n
        } else {
            self.last_frame.max(n)
        };
    }

    pub fn first_ts_ns(&self) -> Option<i64> {
        (self.first_ts != NO_TIME).then_some(self.first_ts)
    }

    pub fn last_ts_ns(&self) -> Option<i64> {
        (self.last_ts != NO_TIME).then_some(self.last_ts)
    }

    pub fn first_frame(&self) -> Option<u64> {
        (self.first_frame != NO_FRAME).then_some(self.first_frame)
    }

    pub fn last_frame(&self) -> Option<u64> {
        (self.last_frame != NO_FRAME).then_some(self.last_frame)
    }
}

/// The payload prefix kept for one direction.
#[derive(Debug, Clone)]
pub enum Prefix {
    /// Boxed: the reassembly state is four times the size of the datagram list.
    Stream(Box<TcpPrefix>),
    Datagrams(DatagramPrefix),
    None,
}

impl Prefix {
    /// Bytes of payload this prefix holds (what the table's memcap counts).
    pub fn retained_bytes(&self) -> usize {
        match self {
            Prefix::Stream(s) => s.held_bytes(),
            Prefix::Datagrams(d) => d.datagrams.iter().map(Vec::len).sum(),
            Prefix::None => 0,
        }
    }

    /// The first payload bytes of this direction (the stream, or the first datagram).
    pub fn first_bytes(&self) -> &[u8] {
        match self {
            Prefix::Stream(s) => s.bytes(),
            Prefix::Datagrams(d) => d.datagrams.first().map_or(&[][..], |v| v.as_slice()),
            Prefix::None => &[],
        }
    }
}

/// An ICMP error that quoted a packet of this flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IcmpErrorNote {
    pub from: IpAddr,
    pub icmp_type: u8,
    pub code: u8,
    pub ts_ns: i64,
    pub frame: u64,
    /// The quoted packet was sent by the initiator (so the error travels towards it).
    pub about_initiator_packet: bool,
}

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEnd {
    /// Still open when the capture ended.
    #[default]
    EndOfCapture,
    /// Idle for longer than its timeout, on capture time.
    IdleTimeout,
    /// Evicted to keep the table under its cap.
    Evicted,
}

/// Most ICMP errors kept per flow (all are counted).
const ICMP_NOTES_CAP: usize = 8;

/// TCP state of a finished flow: the Zeek values and counters, without the machinery that
/// computed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSummary {
    pub conn_state: &'static str,
    pub history: Box<str>,
    pub handshake: Handshake,
    /// Retransmitted segments, initiator then responder.
    pub retransmissions: [u64; 2],
    /// Holes the stream prefix could not fill, initiator then responder.
    pub gaps: [u64; 2],
}

/// The first payload bytes of each direction of a finished flow, kept as evidence
/// (one allocation for both directions, none when there was no payload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    bytes: Box<[u8]>,
    split: u8,
}

impl Head {
    /// Bytes kept per direction.
    pub const KEEP: usize = 32;

    pub fn new(orig: &[u8], resp: &[u8]) -> Head {
        let o = &orig[..orig.len().min(Self::KEEP)];
        let r = &resp[..resp.len().min(Self::KEEP)];
        if o.is_empty() && r.is_empty() {
            return Head::default();
        }
        let mut bytes = Vec::with_capacity(o.len() + r.len());
        bytes.extend_from_slice(o);
        bytes.extend_from_slice(r);
        Head {
            bytes: bytes.into_boxed_slice(),
            split: o.len() as u8,
        }
    }

    pub fn orig(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.split)).unwrap_or(&[])
    }

    pub fn resp(&self) -> &[u8] {
        self.bytes.get(usize::from(self.split)..).unwrap_or(&[])
    }
}

/// A finished bidirectional flow: counts, times, TCP outcome and the first payload bytes.
/// Compact on purpose: a report over a busy Edge's capture holds hundreds of thousands.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Creation order in the run (1-based).
    pub id: u64,
    pub protocol: u8,
    pub initiator: Endpoint,
    pub responder: Endpoint,
    pub initiator_by: InitiatorEvidence,
    pub orig: DirStats,
    pub resp: DirStats,
    pub head: Head,
    pub tcp: Option<Box<TcpSummary>>,
    /// Global interface indexes the flow was seen on (bit i = interface i, up to 64).
    pub interfaces: u64,
    pub vlan: Option<u16>,
    pub icmp_errors: u64,
    pub icmp_notes: Vec<IcmpErrorNote>,
    /// ICMP type/code of the first packet, for ICMP flows.
    pub icmp: Option<(u8, u8)>,
    pub fragments: u64,
    /// Packets whose frame was cut by the snaplen.
    pub truncated_packets: u64,
    pub end: FlowEnd,
}

impl Flow {
    /// The direction-free key the table held this flow under.
    pub fn key(&self) -> FlowKey {
        let i = (self.initiator.ip, self.initiator.port);
        let r = (self.responder.ip, self.responder.port);
        FlowKey::new(i, r, self.protocol).0
    }

    pub fn first_ts_ns(&self) -> i64 {
        match (self.orig.first_ts_ns(), self.resp.first_ts_ns()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0),
        }
    }

    pub fn last_ts_ns(&self) -> i64 {
        self.orig
            .last_ts_ns()
            .max(self.resp.last_ts_ns())
            .unwrap_or(0)
    }

    pub fn packets(&self) -> u64 {
        self.orig.packets + self.resp.packets
    }

    pub fn wire_bytes(&self) -> u64 {
        self.orig.wire_bytes + self.resp.wire_bytes
    }

    /// Zeek's `conn_state`, for TCP and UDP (and other protocols as UDP).
    pub fn conn_state(&self) -> &'static str {
        match &self.tcp {
            Some(t) => t.conn_state,
            None => udp_conn_state(&self.orig, &self.resp),
        }
    }

    pub fn history(&self) -> &str {
        self.tcp.as_ref().map_or("", |t| &t.history)
    }

    pub fn handshake(&self) -> Option<Handshake> {
        self.tcp.as_ref().map(|t| t.handshake)
    }

    /// For UDP and other non-TCP flows: did the responder ever send anything?
    pub fn answered(&self) -> bool {
        self.resp.packets > 0
    }

    /// The counters of one direction.
    pub fn side_mut(&mut self, from_orig: bool) -> &mut DirStats {
        if from_orig {
            &mut self.orig
        } else {
            &mut self.resp
        }
    }
}

fn udp_conn_state(orig: &DirStats, resp: &DirStats) -> &'static str {
    match (orig.packets > 0, resp.packets > 0) {
        (true, true) => "SF",
        (true, false) => "S0",
        (false, true) => "SHR",
        (false, false) => "OTH",
    }
}

/// A flow still in the table: the record being counted, plus the live state that only
/// identification needs (payload prefixes) or that computes the TCP outcome.
#[derive(Debug, Clone)]
pub struct OpenFlow {
    pub flow: Flow,
    pub orig_prefix: Prefix,
    pub resp_prefix: Prefix,
    pub tcp: Option<Box<TcpState>>,
}

/// An open flow reads as its record (the counters so far).
impl std::ops::Deref for OpenFlow {
    type Target = Flow;
    fn deref(&self) -> &Flow {
        &self.flow
    }
}

impl OpenFlow {
    fn prefix_mut(&mut self, from_orig: bool) -> &mut Prefix {
        if from_orig {
            &mut self.orig_prefix
        } else {
            &mut self.resp_prefix
        }
    }

    pub fn history(&self) -> &str {
        self.tcp.as_ref().map_or("", |t| t.history.as_str())
    }

    /// Zeek's `conn_state` as of now.
    pub fn conn_state(&self) -> &'static str {
        match &self.tcp {
            Some(t) => t.conn_state(self.flow.orig.payload_bytes, self.flow.resp.payload_bytes),
            None => udp_conn_state(&self.flow.orig, &self.flow.resp),
        }
    }

    /// The finished record: TCP state summarised, payload cut to its head.
    pub fn close(self) -> Flow {
        let mut flow = self.flow;
        flow.head = Head::new(
            self.orig_prefix.first_bytes(),
            self.resp_prefix.first_bytes(),
        );
        flow.tcp = self.tcp.map(|t| {
            Box::new(TcpSummary {
                conn_state: t.conn_state(flow.orig.payload_bytes, flow.resp.payload_bytes),
                history: t.history.as_str().into(),
                handshake: t.handshake(flow.icmp_errors > 0),
                retransmissions: [t.orig.retransmissions, t.resp.retransmissions],
                gaps: [t.orig.gaps, t.resp.gaps],
            })
        });
        flow
    }

    fn finish_streams(&mut self) {
        for (from_orig, p) in [
            (true, &mut self.orig_prefix),
            (false, &mut self.resp_prefix),
        ] {
            if let Prefix::Stream(s) = p {
                s.finish();
                if s.gap {
                    if let Some(t) = self.tcp.as_mut() {
                        t.on_gap(from_orig);
                    }
                }
            }
        }
    }
}

/// Where finished flows go: the sink sees the live state once (to identify the payload) and
/// keeps what it needs.
pub trait FlowSink {
    fn finish(&mut self, flow: OpenFlow);
    /// `additional` flows are about to finish at once (the end of a capture): a sink that
    /// keeps them can make room for exactly that many, rather than doubling a table of
    /// hundreds of thousands of records.
    fn reserve(&mut self, _additional: usize) {}
}

/// Collects finished flows as records.
impl FlowSink for Vec<Flow> {
    fn finish(&mut self, flow: OpenFlow) {
        self.push(flow.close());
    }
}

/// Timeouts and bounds of the table.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    pub max_flows: usize,
    pub tcp_idle_ns: i64,
    pub tcp_closed_idle_ns: i64,
    pub udp_idle_ns: i64,
    /// Total bytes of payload prefixes held by live flows.
    pub prefix_memcap: usize,
    /// Threads that read files: more than one shards the flow tables (see `analysis`).
    pub threads: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        const S: i64 = 1_000_000_000;
        FlowConfig {
            max_flows: 1_000_000,
            // Zeek's defaults: tcp_inactivity_timeout 5 min, udp 1 min.
            tcp_idle_ns: 300 * S,
            tcp_closed_idle_ns: 30 * S,
            udp_idle_ns: 60 * S,
            prefix_memcap: 256 * 1024 * 1024,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        }
    }
}

/// Counts of what happened to flows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlowCounts {
    pub created: u64,
    pub active_at_end: u64,
    pub expired_idle: u64,
    pub evicted_cap: u64,
}

/// What the table did with a packet, for the accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Counted in a flow.
    Flow,
    /// An ICMP error counted against the flow it quotes.
    IcmpError,
    /// A later fragment waiting for its first fragment.
    FragmentPending,
    /// A later fragment whose first fragment is unknown and could not be held.
    FragmentUnattributed,
    /// TCP/UDP without even the ports.
    TruncatedTransport,
}

/// A later fragment seen before its first fragment, held until the first arrives.
#[derive(Debug, Clone, Copy)]
struct PendingFragment {
    frag_key: FragKey,
    ts_ns: i64,
    frame: u64,
    wire: u32,
    ip_len: u32,
    interface: u32,
}

type FragKey = (IpAddr, IpAddr, u8, u32);

const FRAG_TABLE_CAP: usize = 4096;
const PENDING_FRAGMENTS_CAP: usize = 1024;
const FRAG_TIMEOUT_NS: i64 = 60_000_000_000;
/// Forward jumps of the packet clock larger than this do not advance expiry.
const MAX_CLOCK_JUMP_NS: i64 = 24 * 3600 * 1_000_000_000;
const SWEEP_EVERY_NS: i64 = 5_000_000_000;

/// Service ports that say which side of a flow is the server when no SYN was seen: the Edge's
/// documented ports and the well-known range.
pub fn is_service_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            3478 | 4443
                | 5060
                | 5061
                | 5062
                | 5063
                | 5067
                | 5068
                | 5069
                | 5070
                | 5071
                | 5072
                | 5073
                | 5075
                | 5076
                | 5080
                | 5086
                | 5087
                | 8057
                | 8058
                | 8080
                | 8443
                | 5269
                | 23456
                | 50001
                | 50002
                | 50003
                | 444
                | 448
                | 3389
        )
}

/// Capture time as the table runs on it: the highest timestamp seen, ignoring implausible
/// forward jumps, with the oddities counted. In a sharded run the reader keeps the one clock
/// and hands its time to every shard, so all shards expire flows on the same time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    now: Option<i64>,
    pub jumps: u64,
    pub backwards: u64,
}

impl Clock {
    /// Takes a packet's timestamp; returns the time now.
    pub fn advance(&mut self, ts_ns: i64) -> i64 {
        match self.now {
            None => self.now = Some(ts_ns),
            Some(c) if ts_ns > c => {
                if ts_ns - c > MAX_CLOCK_JUMP_NS {
                    self.jumps += 1;
                } else {
                    self.now = Some(ts_ns);
                }
            }
            Some(c) if ts_ns < c => self.backwards += 1,
            _ => {}
        }
        self.now.unwrap_or(ts_ns)
    }

    pub fn now(&self) -> Option<i64> {
        self.now
    }
}

/// The flow table.
pub struct FlowTable {
    config: FlowConfig,
    /// Boxed: a finished flow's memory goes back to the allocator when it leaves, and the
    /// map's slots stay small when a busy capture holds hundreds of thousands at once.
    flows: FxHashMap<FlowKey, Box<OpenFlow>>,
    next_id: u64,
    clock: Clock,
    /// Flow ids are the frame number of their first packet (a shard of a parallel run, whose
    /// ids are made dense after the merge) rather than a count.
    ids_from_frames: bool,
    next_sweep_ns: i64,
    prefix_bytes: usize,
    fragments: FxHashMap<FragKey, (FlowKey, bool, i64)>,
    pending_fragments: Vec<PendingFragment>,
    pub counts: FlowCounts,
    /// Notes counted in addition to the accounting identity (`tcp.retransmission`...).
    pub notes: std::collections::BTreeMap<&'static str, u64>,
    /// Later fragments that never found their first fragment.
    pub unattributed_fragments: Vec<(u64, u32)>,
    /// Later fragments that waited for their first fragment and then joined its flow.
    pub joined_late: crate::accounting::Tally,
    /// Open flows across every shard of a parallel run, so that `--max-flows` bounds the
    /// run, not each shard: an address pair that draws most flows to one shard must not
    /// make it evict while the run is under the cap.
    open_in_run: Option<Arc<AtomicUsize>>,
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            config,
            flows: FxHashMap::default(),
            next_id: 0,
            clock: Clock::default(),
            ids_from_frames: false,
            next_sweep_ns: i64::MIN,
            prefix_bytes: 0,
            fragments: FxHashMap::default(),
            pending_fragments: Vec::new(),
            counts: FlowCounts::default(),
            notes: Default::default(),
            unattributed_fragments: Vec::new(),
            joined_late: Default::default(),
            open_in_run: None,
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// A shard of a parallel run: ids are frame numbers, time comes from the reader's clock,
    /// and the cap counts the open flows of all shards (`open_in_run`, shared by them).
    pub fn as_shard(mut self, open_in_run: Arc<AtomicUsize>) -> Self {
        self.ids_from_frames = true;
        self.open_in_run = Some(open_in_run);
        self
    }

    /// Open flows the cap is checked against: this table's, or the whole run's.
    fn open_flows(&self) -> usize {
        match &self.open_in_run {
            Some(n) => n.load(Ordering::Relaxed),
            None => self.flows.len(),
        }
    }

    /// `n` flows left this table.
    fn left(&self, n: usize) {
        if let Some(total) = &self.open_in_run {
            total.fetch_sub(n, Ordering::Relaxed);
        }
    }

    fn note(&mut self, name: &'static str) {
        *self.notes.entry(name).or_insert(0) += 1;
    }

    /// Expires idle flows now and then (on capture time); only memory depends on when.
    fn tick(&mut self, now: i64, sink: &mut impl FlowSink) {
        if now >= self.next_sweep_ns {
            self.next_sweep_ns = now.saturating_add(SWEEP_EVERY_NS);
            self.expire_idle(now, sink);
        }
    }

    fn idle_limit(&self, f: &OpenFlow) -> i64 {
        idle_limit(&self.config, f)
    }
}

/// How long a flow may stay silent before it is finished: closed TCP briefly, open TCP long,
/// UDP in between (Zeek's timeouts).
fn idle_limit(config: &FlowConfig, f: &OpenFlow) -> i64 {
    {
        match &f.tcp {
            Some(t) => {
                use tcp::EndpointState::{Closed, Reset};
                let done = |s| matches!(s, Closed | Reset);
                if done(t.orig.state) && done(t.resp.state)
                    || t.orig.state == Reset
                    || t.resp.state == Reset
                {
                    config.tcp_closed_idle_ns
                } else {
                    config.tcp_idle_ns
                }
            }
            None => config.udp_idle_ns,
        }
    }
}

impl FlowTable {
    fn expire_idle(&mut self, now: i64, sink: &mut impl FlowSink) {
        let expired: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now.saturating_sub(f.flow.last_ts_ns()) > self.idle_limit(f))
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.finish_flow(k, FlowEnd::IdleTimeout, sink);
        }
        self.fragments
            .retain(|_, (_, _, ts)| now.saturating_sub(*ts) <= FRAG_TIMEOUT_NS);
    }

    fn finish_flow(&mut self, key: FlowKey, end: FlowEnd, sink: &mut impl FlowSink) {
        if let Some(f) = self.flows.remove(&key) {
            self.left(1);
            self.finish_open(f, end, sink);
        }
    }

    /// Ends a flow already out of the table.
    fn finish_open(&mut self, mut f: Box<OpenFlow>, end: FlowEnd, sink: &mut impl FlowSink) {
        self.prefix_bytes = self
            .prefix_bytes
            .saturating_sub(f.orig_prefix.retained_bytes() + f.resp_prefix.retained_bytes());
        f.flow.end = end;
        match end {
            FlowEnd::IdleTimeout => self.counts.expired_idle += 1,
            FlowEnd::Evicted => self.counts.evicted_cap += 1,
            FlowEnd::EndOfCapture => self.counts.active_at_end += 1,
        }
        f.finish_streams();
        sink.finish(*f);
    }

    /// At the cap: evict the least recently seen sixteenth of the table in one pass.
    fn make_room(&mut self, sink: &mut impl FlowSink) {
        let mut ages: Vec<(i64, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (f.flow.last_ts_ns(), *k))
            .collect();
        let n = (self.config.max_flows / 16).max(1).min(ages.len());
        if n == 0 {
            return;
        }
        ages.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        for (_, k) in ages.into_iter().take(n) {
            self.finish_flow(k, FlowEnd::Evicted, sink);
        }
    }

    /// Places one decoded IP packet. `frame` is the run-wide packet number, `interface` the
    /// global interface index.
    pub fn add(
        &mut self,
        pkt: &IpPacket<'_>,
        ts_ns: i64,
        frame: u64,
        wire_len: u32,
        interface: u32,
        sink: &mut impl FlowSink,
    ) -> Placed {
        let now = self.clock.advance(ts_ns);
        self.add_at(now, pkt, ts_ns, frame, wire_len, interface, sink)
    }

    /// [`FlowTable::add`] on a clock kept elsewhere (a shard of a parallel run).
    #[allow(clippy::too_many_arguments)]
    pub fn add_at(
        &mut self,
        now: i64,
        pkt: &IpPacket<'_>,
        ts_ns: i64,
        frame: u64,
        wire_len: u32,
        interface: u32,
        sink: &mut impl FlowSink,
    ) -> Placed {
        self.tick(now, sink);
        let (src_port, dst_port) = match &pkt.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port),
            Transport::Udp(u) => (u.src_port, u.dst_port),
            Transport::Icmp(i) => {
                if i.is_error {
                    if let Some(placed) = self.icmp_error(pkt, i, ts_ns, frame) {
                        return placed;
                    }
                }
                (0, 0)
            }
            Transport::Fragment => {
                return self.later_fragment(pkt, ts_ns, frame, wire_len, interface)
            }
            Transport::Truncated => return Placed::TruncatedTransport,
            Transport::Other => (0, 0),
        };
        let a = (pkt.src, src_port);
        let b = (pkt.dst, dst_port);
        let (key, _) = FlowKey::new(a, b, pkt.protocol);
        // One hash lookup per packet: the cap is checked (a second lookup) only when full.
        if self.open_flows() >= self.config.max_flows && !self.flows.contains_key(&key) {
            self.make_room(sink);
        }
        let memcap_left = self.config.prefix_memcap.saturating_sub(self.prefix_bytes);
        let ids_from_frames = self.ids_from_frames;
        let next_id = &mut self.next_id;
        let mut id = || {
            *next_id += 1;
            if ids_from_frames {
                frame
            } else {
                *next_id
            }
        };
        let open = match self.flows.entry(key) {
            std::collections::hash_map::Entry::Occupied(e)
                if now.saturating_sub(e.get().flow.last_ts_ns())
                    <= idle_limit(&self.config, e.get()) =>
            {
                e.into_mut()
            }
            std::collections::hash_map::Entry::Occupied(mut e) => {
                // Silent past its timeout: the old flow ended, this packet opens a new one,
                // whenever the last sweep ran.
                self.counts.created += 1;
                let old = std::mem::replace(e.get_mut(), Box::new(new_flow(id(), pkt, a, b)));
                self.counts.expired_idle += 1;
                self.prefix_bytes = self.prefix_bytes.saturating_sub(
                    old.orig_prefix.retained_bytes() + old.resp_prefix.retained_bytes(),
                );
                let mut old = *old;
                old.flow.end = FlowEnd::IdleTimeout;
                old.finish_streams();
                sink.finish(old);
                e.into_mut()
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                self.counts.created += 1;
                if let Some(total) = &self.open_in_run {
                    total.fetch_add(1, Ordering::Relaxed);
                }
                v.insert(Box::new(new_flow(id(), pkt, a, b)))
            }
        };
        let from_orig = open.flow.initiator.ip == pkt.src && open.flow.initiator.port == src_port;
        let mut added = 0usize;
        let mut released = 0usize;
        let mut over_memcap = false;
        let mut retransmit = false;
        let payload_len = match &pkt.transport {
            Transport::Tcp(t) => {
                if let (Some(h), Some(state)) = (t.header, open.tcp.as_mut()) {
                    let (ob, rb) = (open.flow.orig.payload_bytes, open.flow.resp.payload_bytes);
                    retransmit = state.on_segment(from_orig, &h, t.payload_len, ob, rb);
                    let prefix = open.prefix_mut(from_orig);
                    if let Prefix::Stream(s) = prefix {
                        if h.flags.syn() {
                            s.on_syn(h.seq);
                        }
                        if memcap_left >= t.payload.len() {
                            let data_seq = if h.flags.syn() {
                                h.seq.wrapping_add(1)
                            } else {
                                h.seq
                            };
                            let before = s.held_bytes();
                            s.add(data_seq, t.payload);
                            let after = s.held_bytes();
                            // Draining waiting segments can trim overlaps: the change may be negative.
                            released = before.saturating_sub(after);
                            added = after.saturating_sub(before);
                        } else if !t.payload.is_empty() {
                            over_memcap = true;
                        }
                    }
                }
                t.payload_len
            }
            Transport::Udp(u) => {
                let prefix = open.prefix_mut(from_orig);
                if let Prefix::Datagrams(d) = prefix {
                    if memcap_left >= u.payload.len() {
                        added = d.add(u.payload);
                    } else {
                        over_memcap = true;
                    }
                }
                u.payload_len
            }
            Transport::Icmp(i) => i.payload_len,
            _ => 0,
        };
        let flow = &mut open.flow;
        flow.side_mut(from_orig)
            .add(ts_ns, frame, wire_len, pkt.ip_len, payload_len);
        if interface < 64 {
            flow.interfaces |= 1 << interface;
        }
        if pkt.truncated {
            flow.truncated_packets += 1;
        }
        if let Fragment::First { id } = pkt.fragment {
            flow.fragments += 1;
            let fk = (pkt.src, pkt.dst, pkt.protocol, id);
            if self.fragments.len() < FRAG_TABLE_CAP {
                self.fragments.insert(fk, (key, from_orig, ts_ns));
            } else {
                self.note("ip.fragment_table_full");
            }
        }
        self.prefix_bytes = (self.prefix_bytes + added).saturating_sub(released);
        if over_memcap {
            self.note("flow.prefix_memcap");
        }
        if retransmit {
            self.note("tcp.retransmission");
        }
        if pkt.truncated {
            self.note("packet.snaplen_truncated");
        }
        if pkt.len_mismatch {
            self.note("ip.len_mismatch");
        }
        if matches!(pkt.fragment, Fragment::First { .. }) {
            self.attribute_pending_fragments(key);
        }
        Placed::Flow
    }

    /// Attributes an ICMP error to the flow it quotes, if that flow is in the table.
    fn icmp_error(
        &mut self,
        pkt: &IpPacket<'_>,
        info: &IcmpInfo,
        ts_ns: i64,
        frame: u64,
    ) -> Option<Placed> {
        let q = info.quoted?;
        let (key, _) = FlowKey::new((q.src, q.src_port), (q.dst, q.dst_port), q.protocol);
        let flow = &mut self.flows.get_mut(&key)?.flow;
        flow.icmp_errors += 1;
        if flow.icmp_notes.len() < ICMP_NOTES_CAP {
            flow.icmp_notes.push(IcmpErrorNote {
                from: pkt.src,
                icmp_type: info.icmp_type,
                code: info.code,
                ts_ns,
                frame,
                about_initiator_packet: flow.initiator.ip == q.src
                    && flow.initiator.port == q.src_port,
            });
        }
        Some(Placed::IcmpError)
    }

    fn later_fragment(
        &mut self,
        pkt: &IpPacket<'_>,
        ts_ns: i64,
        frame: u64,
        wire: u32,
        interface: u32,
    ) -> Placed {
        let Fragment::Later { id } = pkt.fragment else {
            return Placed::FragmentUnattributed;
        };
        let fk = (pkt.src, pkt.dst, pkt.protocol, id);
        if let Some(&(key, from_orig, _)) = self.fragments.get(&fk) {
            if let Some(open) = self.flows.get_mut(&key) {
                let flow = &mut open.flow;
                flow.side_mut(from_orig)
                    .add(ts_ns, frame, wire, pkt.ip_len, 0);
                flow.fragments += 1;
                if interface < 64 {
                    flow.interfaces |= 1 << interface;
                }
                return Placed::Flow;
            }
        }
        if self.pending_fragments.len() < PENDING_FRAGMENTS_CAP {
            self.pending_fragments.push(PendingFragment {
                frag_key: fk,
                ts_ns,
                frame,
                wire,
                ip_len: pkt.ip_len,
                interface,
            });
            Placed::FragmentPending
        } else {
            self.unattributed_fragments.push((frame, wire));
            Placed::FragmentUnattributed
        }
    }

    /// A first fragment arrived: fragments of the same datagram that came before it join its flow.
    fn attribute_pending_fragments(&mut self, key: FlowKey) {
        if self.pending_fragments.is_empty() {
            return;
        }
        let fragments = &self.fragments;
        let joined = &mut self.joined_late;
        let Some(open) = self.flows.get_mut(&key) else {
            return;
        };
        let flow = &mut open.flow;
        self.pending_fragments
            .retain(|p| match fragments.get(&p.frag_key) {
                Some(&(k, from_orig, _)) if k == key => {
                    flow.side_mut(from_orig)
                        .add(p.ts_ns, p.frame, p.wire, p.ip_len, 0);
                    joined.add(p.wire);
                    flow.fragments += 1;
                    if p.interface < 64 {
                        flow.interfaces |= 1 << p.interface;
                    }
                    false
                }
                _ => true,
            });
    }

    /// Number of later fragments still waiting for a first fragment.
    pub fn pending_fragment_count(&self) -> usize {
        self.pending_fragments.len()
    }

    /// Ends the run: every flow still open is finished; fragments never matched become
    /// unattributed. Returns the (frame, wire length) of each unattributed fragment.
    pub fn finish(&mut self, sink: &mut impl FlowSink) -> Vec<(u64, u32)> {
        let clock = self.clock;
        for (name, n) in [
            ("time.jump", clock.jumps),
            ("time.backwards", clock.backwards),
        ] {
            if n > 0 {
                *self.notes.entry(name).or_insert(0) += n;
            }
        }
        self.finish_at(clock.now(), sink)
    }

    /// [`FlowTable::finish`] at a time kept elsewhere: flows silent past their timeout by then
    /// count as expired, whether or not a sweep came by.
    pub fn finish_at(&mut self, now: Option<i64>, sink: &mut impl FlowSink) -> Vec<(u64, u32)> {
        // Out of the table first, and the table freed before the sink makes room for them: at
        // the end of a busy capture nearly every flow is open, and the table, a list of its
        // keys and the finished records all at once were the run's peak.
        let flows = std::mem::take(&mut self.flows);
        self.left(flows.len());
        let mut open: Vec<(u64, bool, Box<OpenFlow>)> = flows
            .into_values()
            .map(|f| {
                let idle = now
                    .is_some_and(|n| n.saturating_sub(f.flow.last_ts_ns()) > self.idle_limit(&f));
                (f.flow.id, idle, f)
            })
            .collect();
        open.sort_unstable_by_key(|(id, _, _)| *id);
        sink.reserve(open.len());
        for (_, idle, f) in open {
            let end = if idle {
                FlowEnd::IdleTimeout
            } else {
                FlowEnd::EndOfCapture
            };
            self.finish_open(f, end, sink);
        }
        let mut out = std::mem::take(&mut self.unattributed_fragments);
        out.extend(self.pending_fragments.drain(..).map(|p| (p.frame, p.wire)));
        out
    }
}

/// A flow opened by its first packet, with the initiator known or inferred.
fn new_flow(id: u64, pkt: &IpPacket<'_>, a: (IpAddr, u16), b: (IpAddr, u16)) -> OpenFlow {
    let (mut orig, mut resp) = (a, b);
    let mut tcp = None;
    let evidence = match &pkt.transport {
        Transport::Tcp(t) => {
            let mut state = Box::<TcpState>::default();
            let ev = match t.header.map(|h| h.flags) {
                Some(f) if f.syn() && !f.ack() => InitiatorEvidence::Syn,
                Some(f) if f.syn() && f.ack() => {
                    std::mem::swap(&mut orig, &mut resp);
                    state.mark_flipped();
                    InitiatorEvidence::SynAck
                }
                _ => infer_by_port(&mut orig, &mut resp, Some(&mut state)),
            };
            tcp = Some(state);
            ev
        }
        Transport::Udp(_) => infer_by_port(&mut orig, &mut resp, None),
        _ => InitiatorEvidence::FirstPacket,
    };
    let prefix = || match pkt.transport {
        Transport::Tcp(_) => Prefix::Stream(Box::default()),
        Transport::Udp(_) => Prefix::Datagrams(DatagramPrefix::default()),
        _ => Prefix::None,
    };
    let flow = Flow {
        id,
        protocol: pkt.protocol,
        initiator: Endpoint {
            ip: orig.0,
            port: orig.1,
        },
        responder: Endpoint {
            ip: resp.0,
            port: resp.1,
        },
        initiator_by: evidence,
        orig: DirStats::default(),
        resp: DirStats::default(),
        head: Head::default(),
        tcp: None,
        interfaces: 0,
        vlan: pkt.vlan,
        icmp_errors: 0,
        icmp_notes: Vec::new(),
        icmp: match pkt.transport {
            Transport::Icmp(i) => Some((i.icmp_type, i.code)),
            _ => None,
        },
        fragments: 0,
        truncated_packets: 0,
        end: FlowEnd::EndOfCapture,
    };
    OpenFlow {
        flow,
        orig_prefix: prefix(),
        resp_prefix: prefix(),
        tcp,
    }
}

fn infer_by_port(
    orig: &mut (IpAddr, u16),
    resp: &mut (IpAddr, u16),
    tcp: Option<&mut Box<TcpState>>,
) -> InitiatorEvidence {
    if is_service_port(orig.1) && !is_service_port(resp.1) {
        std::mem::swap(orig, resp);
        if let Some(t) = tcp {
            t.mark_flipped();
        }
        InitiatorEvidence::WellKnownPort
    } else {
        InitiatorEvidence::FirstPacket
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Decoded};
    use etherparse::PacketBuilder;

    fn frame(
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        tcp_seq: Option<u32>,
        payload: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64);
        let mut v = Vec::new();
        match tcp_seq {
            Some(seq) => b
                .tcp(sport, dport, seq, 1000)
                .ack(1)
                .psh()
                .write(&mut v, payload),
            None => b.udp(sport, dport).write(&mut v, payload),
        }
        .expect("vec write");
        v
    }

    fn add(t: &mut FlowTable, f: &[u8], ts: i64, sink: &mut Vec<Flow>) {
        let Decoded::Ip(p) = decode(1, f) else {
            panic!("not ip")
        };
        t.add(&p, ts, 1, f.len() as u32, 0, sink);
    }

    /// The payload memcap counts exactly what live flows hold: after every flow is finished,
    /// nothing is left, whatever mix of datagrams, in-order and out-of-order segments came.
    #[test]
    fn prefix_memcap_returns_to_zero_when_flows_finish() {
        let mut t = FlowTable::new(FlowConfig::default());
        let mut sink = Vec::new();
        for i in 0..50u8 {
            let src = [203, 0, 113, i];
            for k in 0..10u16 {
                add(
                    &mut t,
                    &frame(src, 40000, [10, 45, 16, 30], 3478, None, &[k as u8; 300]),
                    1,
                    &mut sink,
                );
            }
            // Out of order: the second segment first, then the first.
            add(
                &mut t,
                &frame(src, 40001, [10, 45, 16, 10], 443, Some(1100), &[2; 500]),
                1,
                &mut sink,
            );
            add(
                &mut t,
                &frame(src, 40001, [10, 45, 16, 10], 443, Some(1000), &[1; 150]),
                1,
                &mut sink,
            );
            // One that never fills its hole.
            add(
                &mut t,
                &frame(src, 40002, [10, 45, 16, 10], 443, Some(5000), &[3; 200]),
                1,
                &mut sink,
            );
            add(
                &mut t,
                &frame(src, 40002, [10, 45, 16, 10], 443, Some(9000), &[4; 200]),
                1,
                &mut sink,
            );
        }
        assert!(t.prefix_bytes > 0);
        t.finish(&mut sink);
        assert_eq!(t.prefix_bytes, 0);
        assert_eq!(sink.len(), 150);
        assert!(!t.notes.contains_key("flow.prefix_memcap"));
    }

    #[test]
    fn payload_past_the_memcap_is_noted_not_kept() {
        let mut t = FlowTable::new(FlowConfig {
            prefix_memcap: 1000,
            ..FlowConfig::default()
        });
        let mut sink = Vec::new();
        for i in 0..10u8 {
            add(
                &mut t,
                &frame(
                    [203, 0, 113, i],
                    40000,
                    [10, 45, 16, 30],
                    3478,
                    None,
                    &[0; 300],
                ),
                1,
                &mut sink,
            );
        }
        assert!(t.prefix_bytes <= 1000);
        assert!(t.notes.get("flow.prefix_memcap").copied().unwrap_or(0) > 0);
        t.finish(&mut sink);
        assert_eq!(t.prefix_bytes, 0);
        // Every packet still counts in its flow.
        assert_eq!(sink.iter().map(Flow::packets).sum::<u64>(), 10);
    }
}
