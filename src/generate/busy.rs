//! Streaming "busy Edge" capture with ground truth for its calls.
//!
//! The traffic model follows the earlier benchmark generator described in the performance notes
//! (§1): `concurrent` slots, each holding one flow of a fixed class with its own timing; a
//! min-heap orders the slots' next frames, so timestamps never go back; when a flow ends, a new
//! one of the same class starts in that slot after an idle gap. Memory is bounded by the number
//! of slots, never by the size of the file. As in [`super::bulk`], payloads that do not change
//! (TLS flights, HTTP, pseudo-TLS) are templates, RTP payload bytes come from a random pool, and
//! each frame is built into reused buffers with correct checksums and TCP sequence numbers.
//!
//! Classes (shares of the slots that are neither calls nor federation connections):
//! relay media audio 50 % and video 10 % (10.45.16.30:50000-59999 <-> Internet), STUN Binding 10 %
//! (-> 10.45.16.30:3478), TLS 18 % (-> Access Edge 443 SNI sip.contoso.com, -> Web Conferencing
//! 443 SNI webcon.contoso.com), internal 4 % (Front End -> 172.25.33.10:4443/8057, mutual TLS),
//! DNS 5 % (SRV _sipfederationtls._tcp.<partner> and friends), HTTP 3 % (CRL download).
//! 5 % of flows are 802.1Q-tagged, 3 % of the external ones use IPv6 (2001:db8::/32), 3 % of
//! TCP flows are SYNs nobody answers (retransmitted after 1, 2 and 4 s).
//!
//! Besides those: a pool of long-lived federation connections (SIP/MTLS on 5061 between the
//! Access Edge and partners' access edges, opened in both directions, TLS application data
//! throughout), and call slots. A call is a TURN session on the A/V Edge, written end to end:
//! allocation (Allocate, 401, authenticated Allocate, success with XOR-RELAYED-ADDRESS), a
//! permission, a connectivity check through Send and Data indications, a channel, media as
//! ChannelData on the client's side and as RTP on the relay's side, Refresh requests, and a
//! Refresh with LIFETIME 0 at the end. Federated calls relay to a partner's A/V edge; remote
//! users allocate on the external side and relay to an internal client's allocation (the two
//! relayed addresses belong to the same Edge, which forwards between them without putting the
//! packets on the wire). About 2 % of calls fail on purpose (allocation error or one-way media).
//! Time is compressed the way a busy capture compresses it: 300 MB hold about 1.5 s, so a call
//! lasts 0.3-1.2 s and refreshes its allocation every 0.24 s.
//!
//! With a truth sink, each call is written as one JSON line when it ends (see [`write_busy_pcap`]).

use std::cmp::Reverse;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use super::packets::*;
use super::proto::*;
use super::writer::{write_pcap_header, write_pcap_record_header, PcapFlavor};

/// The capture presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 300 MB, 10,000 slots: relay media, federation pool, hundreds of concurrent calls.
    Calls,
    /// 300 MB with about 650,000 distinct flows (flow-table stress).
    Flows,
    /// About 2 GB, the mix of `Calls`.
    Large,
    /// `flows` distinct flows of 1-2 packets each, whatever the size.
    Distinct,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Calls, Shape::Flows, Shape::Large, Shape::Distinct];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Calls => "calls",
            Shape::Flows => "flows",
            Shape::Large => "large",
            Shape::Distinct => "distinct",
        }
    }

    pub fn parse(s: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// What to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusyOptions {
    pub shape: Shape,
    /// Stop at the first frame that reaches this many bytes of pcap (not for `Distinct`).
    pub target_bytes: u64,
    /// Flow slots.
    pub concurrent: usize,
    /// `Distinct` only: flows to write.
    pub flows: u64,
    pub seed: u64,
}

/// Slots of 1-2 packet flows in the `flows` preset, tuned so that 300 MB hold about 650,000
/// distinct flows.
const FLOWS_PRESET_SLOTS: usize = 94_000;
/// Slots of the `calls` mix inside the `flows` preset.
const FLOWS_LONG_SLOTS: usize = 10_000;

impl BusyOptions {
    pub fn preset(shape: Shape) -> BusyOptions {
        let (mb, concurrent, flows) = match shape {
            Shape::Calls => (300, 10_000, 0),
            Shape::Flows => (300, FLOWS_PRESET_SLOTS, 0),
            Shape::Large => (2_048, 10_000, 0),
            Shape::Distinct => (0, 1_000, 10_000_000),
        };
        BusyOptions {
            shape,
            target_bytes: mb * 1_000_000,
            concurrent,
            flows,
            seed: 1,
        }
    }
}

/// Totals of a busy capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusyStats {
    pub packets: u64,
    /// Bytes of pcap output including the global header.
    pub bytes_written: u64,
    /// Flows (distinct 5-tuples) with at least one packet in the file.
    pub flows: u64,
    /// Calls with at least one packet in the file (the truth file's call lines).
    pub calls: u64,
    /// Federation connections with at least one packet in the file.
    pub federation_connections: u64,
}

/// Where the ground truth goes: the header line is reserved first and filled in at the end.
pub trait TruthOut: Write + Seek {}
impl<T: Write + Seek> TruthOut for T {}

/// Bytes reserved for the truth header line (padded with spaces, newline included).
const TRUTH_HEADER_LEN: usize = 320;

const POOL_LEN: usize = 1 << 20;
const MSS: usize = 1460;
const MS: i64 = 1_000_000;

const ACCESS: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 10);
const WEBCONF: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 20);
const AV: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 30);
const AV_PUBLIC: Ipv4Addr = Ipv4Addr::new(131, 107, 155, 30);
const EDGE_INTERNAL: Ipv4Addr = Ipv4Addr::new(172, 25, 33, 10);
const FRONT_ENDS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 10, 90),
    Ipv4Addr::new(192, 168, 10, 91),
];
const RESOLVERS: [Ipv4Addr; 2] = [Ipv4Addr::new(4, 2, 2, 2), Ipv4Addr::new(208, 67, 222, 222)];
const V6_WEBCONF: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x45, 0x16, 0, 0, 0, 0x20);
const V6_AV: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x45, 0x16, 0, 0, 0, 0x30);
const RELAY_PORTS: u16 = 10_000;
const RELAY_BASE: u16 = 50_000;
/// An odd multiplier: a bijection on any power-of-two port span and on 10,000 (coprime).
const SCRAMBLE: u64 = 7_919;

const DSCP_EF: u8 = 0xb8;
const DSCP_AF41: u8 = 0x88;

// Link indices.
const L_EXT: u8 = 0;
const L_INT: u8 = 2;
// Added to a link index for the 802.1Q-tagged variant.
const L_VLAN: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Audio,
    Video,
    Stun,
    Tls,
    Internal,
    Dns,
    Http,
    Federation,
    Call,
    /// 1-2 packet flows (flow-table stress).
    Short,
}

/// Shares of the classes that fill the slots left after calls and federation connections.
const MIX: [(Class, u32); 7] = [
    (Class::Audio, 50),
    (Class::Video, 10),
    (Class::Stun, 10),
    (Class::Tls, 18),
    (Class::Internal, 4),
    (Class::Dns, 5),
    (Class::Http, 3),
];

#[derive(Clone, Copy, Debug)]
enum Payload {
    Empty,
    /// Slice of a shared template.
    Tmpl(u16, u32, u32),
    /// Slice of the actor's own bytes.
    Own(u32, u32),
    /// TLS application-data record with this many body bytes from the pool.
    TlsApp(u16),
    /// RTP from a stream; `fresh` advances the stream, otherwise the last packet is sent again
    /// (the relay forwarding it).
    Rtp {
        s: u8,
        fresh: bool,
    },
    /// The same inside TURN ChannelData (on TCP, inside MS-TURN framing).
    Channel {
        s: u8,
        fresh: bool,
        ch: u16,
    },
}

#[derive(Clone, Copy, Debug)]
struct Step {
    wire: u8,
    dir: u8,
    flags: u8,
    /// A retransmitted SYN (same sequence number as the first).
    retx: bool,
    payload: Payload,
    /// Nanoseconds after the previous frame of the actor.
    gap: u32,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Pkt(Step),
    /// This many repetitions of the actor's media legs, one every `tick_ns`.
    Media(u16),
}

/// One frame of a media tick.
#[derive(Clone, Copy, Debug)]
struct Leg {
    wire: u8,
    dir: u8,
    flags: u8,
    payload: Payload,
    /// Offset inside the tick (< tick_ns).
    at: u32,
}

#[derive(Clone, Copy, Debug)]
struct RtpStream {
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    ts_step: u32,
    size_lo: u16,
    size_hi: u16,
    off: u32,
    len: u16,
}

impl RtpStream {
    fn new(rng: &mut Rng, video: bool) -> RtpStream {
        let (pt, ts_step, lo, hi) = if video {
            (
                if rng.range(0, 2) == 0 { 121 } else { 122 },
                3000,
                500,
                1200,
            )
        } else {
            let size = rng.range(100, 320) as u16;
            ([0, 8, 111][rng.range(0, 3) as usize], 160, size, size + 1)
        };
        RtpStream {
            pt,
            ssrc: rng.next_u32(),
            seq: rng.next_u32() as u16,
            ts: rng.next_u32(),
            ts_step,
            size_lo: lo,
            size_hi: hi,
            off: 0,
            len: lo,
        }
    }

    fn advance(&mut self, rng: &mut Rng) {
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.ts_step);
        self.len = rng.range(u64::from(self.size_lo), u64::from(self.size_hi)) as u16;
        self.off = rng.range(0, (POOL_LEN - 2048) as u64) as u32;
    }

    fn push(&self, out: &mut Vec<u8>, pool: &[u8]) {
        push_rtp_header(out, self.pt, false, self.seq, self.ts, self.ssrc);
        let off = self.off as usize;
        out.extend_from_slice(&pool[off..off + usize::from(self.len)]);
    }
}

/// One flow (5-tuple) of an actor. `ends[0]` is the initiator.
#[derive(Clone, Debug)]
struct Wire {
    ends: [SocketAddr; 2],
    /// Which end is the Edge (frames it sends are outbound).
    edge: u8,
    link: u8,
    tcp: bool,
    rtt: u32,
    seq: [u32; 2],
    ip_id: [u16; 2],
    ttl: [u8; 2],
    tos: u8,
    emitted: bool,
}

/// A call's ground truth.
#[derive(Clone, Debug)]
struct CallInfo {
    n: Option<u64>,
    remote_user: bool,
    partner: Option<u32>,
    client: SocketAddr,
    relay: SocketAddr,
    peer: SocketAddr,
    failed: bool,
    signalling: Option<[SocketAddr; 2]>,
    allocations: Vec<u8>,
    media: Vec<u8>,
    start_ns: i64,
    end_ns: i64,
}

/// A slot's current flow (or call): its wires and the script that drives them.
struct Actor {
    class: Class,
    wires: Vec<Wire>,
    ops: Vec<Op>,
    pos: usize,
    in_media: bool,
    tick: u16,
    leg: usize,
    tick_start: i64,
    tick_ns: u32,
    legs: Vec<Leg>,
    streams: Vec<RtpStream>,
    own: Vec<u8>,
    next_ts: i64,
    last_ts: i64,
    /// (wire, dir) of the last step scripted, for the automatic gaps.
    script_last: Option<(u8, u8)>,
    relay_ports: Vec<u16>,
    call: Option<Box<CallInfo>>,
    /// A federation connection: new exchanges are scripted whenever the last one is sent.
    forever: bool,
}

struct Partner {
    domain: String,
    access: Ipv4Addr,
    av: Ipv4Addr,
    next_port: u64,
}

/// Relay ports of the A/V Edge, each held by at most one live allocation or media flow.
struct RelayPorts {
    used: Vec<bool>,
    free: usize,
}

impl RelayPorts {
    fn alloc(&mut self, rng: &mut Rng) -> Option<u16> {
        if self.free == 0 {
            return None;
        }
        let mut i = rng.range(0, u64::from(RELAY_PORTS)) as usize;
        while self.used[i] {
            i = (i + 1) % self.used.len();
        }
        self.used[i] = true;
        self.free -= 1;
        Some(RELAY_BASE + i as u16)
    }
    fn release(&mut self, port: u16) {
        let i = usize::from(port - RELAY_BASE);
        if self.used[i] {
            self.used[i] = false;
            self.free += 1;
        }
    }
}

// Template indices.
const T_CH_SIP: u16 = 0;
const T_CH_WEB: u16 = 1;
const T_SRV_FLIGHT_SIP: u16 = 2;
const T_SRV_FLIGHT_WEB: u16 = 3;
const T_CLI_FIN: u16 = 4;
const T_SRV_FIN: u16 = 5;
const T_PTLS_C: u16 = 6;
const T_PTLS_S: u16 = 7;
const T_CH_INT: u16 = 8;
const T_SRV_FLIGHT_INT: u16 = 9;
const T_CLI_FIN_INT: u16 = 10;
const T_SRV_FLIGHT_MTLS: u16 = 11;
const T_CLI_FIN_CONTOSO: u16 = 12;
const T_HTTP_GET: u16 = 13;
const T_HTTP_200: u16 = 14;

fn templates(rng: &mut Rng) -> Vec<Vec<u8>> {
    let crl = x509_crl(rng, "Microsoft Root Certificate Authority 2011");
    vec![
        client_hello("sip.contoso.com", &rng.array32(), &[]),
        client_hello("webcon.contoso.com", &rng.array32(), &[]),
        server_flight(rng, "sip.contoso.com", &["sip.contoso.com"], false),
        server_flight(rng, "webcon.contoso.com", &["webcon.contoso.com"], false),
        client_finish_flight(rng, None),
        server_finish_flight(rng),
        pseudo_tls_client_hello(&rng.array32()),
        pseudo_tls_server_hello(&rng.array32()),
        client_hello("edge01.contoso.local", &rng.array32(), &[]),
        server_flight(rng, "edge01.contoso.local", &["edge01.contoso.local"], true),
        client_finish_flight(rng, Some("fe01.contoso.local")),
        server_flight(rng, "sip.contoso.com", &["sip.contoso.com"], true),
        client_finish_flight(rng, Some("sip.contoso.com")),
        http_get(
            "/pki/crl/products/MicRooCerAut2011_2011_03_22.crl",
            "crl.microsoft.com",
        ),
        http_200("application/pkix-crl", &crl),
    ]
}

/// Everything the actors share.
struct Gen<'t> {
    shape: Shape,
    rng: Rng,
    tm: Vec<Vec<u8>>,
    pool: Vec<u8>,
    links: Vec<Link>,
    partners: Vec<Partner>,
    /// (partner, ends) of each federation connection.
    fed_conns: Vec<(u32, [SocketAddr; 2])>,
    relay: RelayPorts,
    n_remote: u64,
    n_remote6: u64,
    n_client: u64,
    n_front_end: u64,
    n_edge: u64,
    n_dns: u64,
    calls: u64,
    /// `Distinct`: flows still to start.
    distinct_left: u64,
    truth: Option<BufWriter<&'t mut dyn TruthOut>>,
    /// Scratch for RTP inside ChannelData.
    inner: Vec<u8>,
}

impl Gen<'_> {
    /// An Internet host: 203.0.113.0/24, then 198.18.128.0/17 and 198.19.128.0/17, each /24
    /// with 16,384 ephemeral ports; every call returns a new (address, port).
    fn remote4(&mut self) -> SocketAddrV4 {
        let n = self.n_remote;
        self.n_remote += 1;
        let host = (n % 254) as u8 + 1;
        let rest = n / 254;
        let port = 49152 + ((rest % 16384) * SCRAMBLE % 16384) as u16;
        let block = (rest / 16384) % 257;
        let ip = if block == 0 {
            Ipv4Addr::new(203, 0, 113, host)
        } else {
            let b = block - 1;
            Ipv4Addr::new(198, 18 + (b / 128) as u8, 128 + (b % 128) as u8, host)
        };
        SocketAddrV4::new(ip, port)
    }

    fn remote(&mut self) -> SocketAddr {
        SocketAddr::V4(self.remote4())
    }

    fn remote6(&mut self) -> SocketAddr {
        let n = self.n_remote6;
        self.n_remote6 += 1;
        let port = 49152 + ((n % 16384) * SCRAMBLE % 16384) as u16;
        let h = n / 16384;
        let ip = Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x1000,
            0,
            0,
            0,
            (h >> 16) as u16,
            h as u16 | 1,
        );
        SocketAddr::new(IpAddr::V6(ip), port)
    }

    /// An internal client (192.168.20.0/24) with a new ephemeral port.
    fn client(&mut self) -> SocketAddr {
        let n = self.n_client;
        self.n_client += 1;
        let host = (n % 254) as u8 + 1;
        let port = 49152 + (((n / 254) % 16384) * SCRAMBLE % 16384) as u16;
        SocketAddr::from((Ipv4Addr::new(192, 168, 20, host), port))
    }

    fn front_end(&mut self) -> SocketAddr {
        let n = self.n_front_end;
        self.n_front_end += 1;
        let port = 49152 + (((n / 2) % 16384) * SCRAMBLE % 16384) as u16;
        SocketAddr::from((FRONT_ENDS[(n % 2) as usize], port))
    }

    /// An ephemeral port of the Access Edge for a connection it opens.
    fn edge_port(&mut self) -> u16 {
        let n = self.n_edge;
        self.n_edge += 1;
        49152 + ((n % 16384) * SCRAMBLE % 16384) as u16
    }

    fn pct(&mut self, p: u64) -> bool {
        self.rng.range(0, 100) < p
    }

    fn wire(
        &mut self,
        ends: [SocketAddr; 2],
        edge: u8,
        internal: bool,
        tcp: bool,
        rtt: i64,
    ) -> Wire {
        let base = if internal { L_INT } else { L_EXT };
        let link = if self.pct(5) { base + L_VLAN } else { base };
        let ttl = |i: usize| {
            if i == usize::from(edge) {
                128
            } else {
                ttl_for(ends[i].ip())
            }
        };
        Wire {
            ends,
            edge,
            link,
            tcp,
            rtt: rtt as u32,
            seq: [self.rng.next_u32(), self.rng.next_u32()],
            ip_id: [self.rng.next_u32() as u16, self.rng.next_u32() as u16],
            ttl: [ttl(0), ttl(1)],
            tos: 0,
            emitted: false,
        }
    }

    fn ext_rtt(&mut self) -> i64 {
        self.rng.range(30, 80) as i64 * MS
    }

    fn int_rtt(&mut self) -> i64 {
        self.rng.range(200, 2000) as i64 * 1000
    }

    fn txid(&mut self) -> [u8; 12] {
        txid(&mut self.rng)
    }
}

impl Actor {
    fn new(class: Class) -> Actor {
        Actor {
            class,
            wires: Vec::new(),
            ops: Vec::new(),
            pos: 0,
            in_media: false,
            tick: 0,
            leg: 0,
            tick_start: 0,
            tick_ns: 20_000_000,
            legs: Vec::new(),
            streams: Vec::new(),
            own: Vec::new(),
            next_ts: 0,
            last_ts: 0,
            script_last: None,
            relay_ports: Vec::new(),
            call: None,
            forever: false,
        }
    }

    fn reset(&mut self) {
        self.wires.clear();
        self.ops.clear();
        self.pos = 0;
        self.in_media = false;
        self.tick = 0;
        self.leg = 0;
        self.legs.clear();
        self.streams.clear();
        self.own.clear();
        self.script_last = None;
        self.relay_ports.clear();
        self.call = None;
        self.forever = false;
    }

    // ------------------------------------------------------------ scripting

    fn add_wire(&mut self, w: Wire) -> u8 {
        self.wires.push(w);
        (self.wires.len() - 1) as u8
    }

    /// Capture-point timing: the same sender again after 40 µs, the Edge answering or
    /// forwarding after 250 µs, a remote host after the wire's round trip.
    fn gap(&mut self, wire: u8, dir: u8) -> u32 {
        let w = &self.wires[usize::from(wire)];
        let g = match self.script_last {
            None => 0,
            Some(l) if l == (wire, dir) => 40_000,
            Some(_) if dir == w.edge => 250_000,
            Some(_) => w.rtt,
        };
        self.script_last = Some((wire, dir));
        g
    }

    fn pkt(&mut self, wire: u8, dir: u8, flags: u8, payload: Payload, extra: i64) {
        let gap = self.gap(wire, dir) as i64 + extra;
        self.ops.push(Op::Pkt(Step {
            wire,
            dir,
            flags,
            retx: false,
            payload,
            gap: gap.clamp(0, i64::from(u32::MAX)) as u32,
        }));
    }

    fn ctl(&mut self, wire: u8, dir: u8, flags: u8) {
        self.pkt(wire, dir, flags, Payload::Empty, 0);
    }

    fn handshake(&mut self, wire: u8) {
        self.ctl(wire, 0, TCP_SYN);
        self.ctl(wire, 1, TCP_SYN | TCP_ACK);
        self.ctl(wire, 0, TCP_ACK);
    }

    fn close(&mut self, wire: u8, dir: u8) {
        self.ctl(wire, dir, TCP_FIN | TCP_ACK);
        self.ctl(wire, 1 - dir, TCP_FIN | TCP_ACK);
        self.ctl(wire, dir, TCP_ACK);
    }

    /// A byte range sent on a stream, one segment per MSS.
    fn segments(&mut self, wire: u8, dir: u8, len: usize, f: impl Fn(u32, u32) -> Payload) {
        let mut start = 0;
        while start < len {
            let end = (start + MSS).min(len);
            let flags = if end == len {
                TCP_PSH | TCP_ACK
            } else {
                TCP_ACK
            };
            self.pkt(wire, dir, flags, f(start as u32, end as u32), 0);
            start = end;
        }
    }

    fn tmpl(&mut self, tm: &[Vec<u8>], wire: u8, dir: u8, idx: u16) {
        let len = tm[usize::from(idx)].len();
        self.segments(wire, dir, len, |s, e| Payload::Tmpl(idx, s, e));
    }

    /// Bytes of this actor's own: one datagram, or on TCP one or more segments.
    fn own_bytes(&mut self, wire: u8, dir: u8, bytes: &[u8]) {
        self.own_bytes_after(wire, dir, bytes, 0);
    }

    /// The same, `extra` ns later than the automatic gap.
    fn own_bytes_after(&mut self, wire: u8, dir: u8, bytes: &[u8], extra: i64) {
        let start = self.own.len() as u32;
        self.own.extend_from_slice(bytes);
        if self.wires[usize::from(wire)].tcp {
            let first = self.ops.len();
            self.segments(wire, dir, bytes.len(), |s, e| {
                Payload::Own(start + s, start + e)
            });
            if let Some(Op::Pkt(st)) = self.ops.get_mut(first) {
                st.gap = (i64::from(st.gap) + extra).clamp(0, i64::from(u32::MAX)) as u32;
            }
        } else {
            let end = self.own.len() as u32;
            self.pkt(wire, dir, 0, Payload::Own(start, end), extra);
        }
    }

    /// A TURN control message; on TCP inside MS-TURN framing (`02 00 LL LL`).
    fn turn(&mut self, wire: u8, dir: u8, msg: &[u8]) {
        if self.wires[usize::from(wire)].tcp {
            self.own_bytes(wire, dir, &msturn_tcp_frame(msg));
        } else {
            self.own_bytes(wire, dir, msg);
        }
    }

    /// TLS application data of `len` bytes in records of at most one segment each.
    fn app(&mut self, wire: u8, dir: u8, len: usize, think: i64) {
        let mut left = len;
        let mut first = true;
        while left > 0 {
            let body = left.min(MSS - 5);
            left -= body;
            let flags = if left == 0 {
                TCP_PSH | TCP_ACK
            } else {
                TCP_ACK
            };
            self.pkt(
                wire,
                dir,
                flags,
                Payload::TlsApp(body as u16),
                if first { think } else { 0 },
            );
            first = false;
        }
    }

    /// A SYN nobody answers, retransmitted after 1, 2 and 4 s.
    fn unanswered_syn(&mut self, wire: u8) {
        self.ctl(wire, 0, TCP_SYN);
        for gap in [1_000, 2_000, 4_000] {
            self.ops.push(Op::Pkt(Step {
                wire,
                dir: 0,
                flags: TCP_SYN,
                retx: true,
                payload: Payload::Empty,
                gap: (gap * MS) as u32,
            }));
        }
    }

    /// A full TLS conversation: handshake, flights, `exchanges` request/response pairs, close.
    #[allow(clippy::too_many_arguments)]
    fn tls_conversation(
        &mut self,
        g: &mut Gen,
        wire: u8,
        hello: Payload,
        hello_len: usize,
        flight: u16,
        client_fin: Payload,
        client_fin_len: usize,
        exchanges: u64,
    ) {
        self.handshake(wire);
        self.payload_segments(wire, 0, hello, hello_len);
        self.tmpl(&g.tm, wire, 1, flight);
        self.ctl(wire, 0, TCP_ACK);
        self.payload_segments(wire, 0, client_fin, client_fin_len);
        self.tmpl(&g.tm, wire, 1, T_SRV_FIN);
        for i in 0..exchanges {
            let d = (i % 2) as u8;
            let (len, think) = (g.rng.range(300, 4000), g.rng.range(50, 2000) as i64 * MS);
            self.app(wire, d, len as usize, think);
            let len = g.rng.range(200, 900);
            self.app(wire, 1 - d, len as usize, 0);
            self.ctl(wire, d, TCP_ACK);
        }
        self.close(wire, 0);
    }

    /// Segments of a template or own range given as one payload.
    fn payload_segments(&mut self, wire: u8, dir: u8, p: Payload, len: usize) {
        match p {
            Payload::Tmpl(i, s, _) => {
                self.segments(wire, dir, len, |a, b| Payload::Tmpl(i, s + a, s + b))
            }
            Payload::Own(s, _) => self.segments(wire, dir, len, |a, b| Payload::Own(s + a, s + b)),
            other => self.pkt(wire, dir, TCP_PSH | TCP_ACK, other, 0),
        }
    }

    fn own_range(&mut self, bytes: &[u8]) -> (Payload, usize) {
        let start = self.own.len() as u32;
        self.own.extend_from_slice(bytes);
        (Payload::Own(start, self.own.len() as u32), bytes.len())
    }

    fn tmpl_range(tm: &[Vec<u8>], idx: u16) -> (Payload, usize) {
        let len = tm[usize::from(idx)].len();
        (Payload::Tmpl(idx, 0, len as u32), len)
    }

    // ------------------------------------------------------------ classes

    /// Starts a new flow of the slot's class at `start`. `first`: the capture's first flow of
    /// the slot, which may already be running when the capture starts.
    fn spawn(&mut self, g: &mut Gen, start: i64, first: bool) {
        self.reset();
        if g.shape == Shape::Distinct {
            g.distinct_left = g.distinct_left.saturating_sub(1);
        }
        match self.class {
            Class::Audio => self.media(g, false, first),
            Class::Video => self.media(g, true, first),
            Class::Stun => self.stun(g),
            Class::Tls => self.tls(g),
            Class::Internal => self.internal(g),
            Class::Dns => self.dns(g),
            Class::Http => self.http(g),
            // Built once by `federation` and never ended: each sent exchange scripts the next.
            Class::Federation => {}
            Class::Call => self.call(g),
            Class::Short => self.short(g),
        }
        self.last_ts = start;
        self.schedule();
    }

    /// Relay media between the A/V Edge and an Internet peer whose allocation is older than
    /// the capture (no TURN control on the wire).
    fn media(&mut self, g: &mut Gen, video: bool, first: bool) {
        let port = match g.relay.alloc(&mut g.rng) {
            Some(p) => {
                self.relay_ports.push(p);
                p
            }
            None => g.rng.range(50_000, 60_000) as u16,
        };
        let (remote, edge) = if g.pct(3) {
            (g.remote6(), SocketAddr::new(IpAddr::V6(V6_AV), port))
        } else {
            (g.remote(), SocketAddr::from((AV, port)))
        };
        let rtt = g.ext_rtt();
        let mut w = g.wire([remote, edge], 1, false, false, rtt);
        w.tos = if video { DSCP_AF41 } else { DSCP_EF };
        let wi = self.add_wire(w);
        self.streams.push(RtpStream::new(&mut g.rng, video));
        self.streams.push(RtpStream::new(&mut g.rng, video));
        self.tick_ns = if video { 33_000_000 } else { 20_000_000 };
        let back = if video { 16_000_000 } else { 7_000_000 };
        self.legs.push(Leg {
            wire: wi,
            dir: 0,
            flags: 0,
            payload: Payload::Rtp { s: 0, fresh: true },
            at: 0,
        });
        self.legs.push(Leg {
            wire: wi,
            dir: 1,
            flags: 0,
            payload: Payload::Rtp { s: 1, fresh: true },
            at: back,
        });
        let ticks = if first {
            // Already running when the capture starts: no check, somewhere in its life.
            g.rng.range(1, 1500)
        } else {
            if g.pct(50) {
                let tx = g.txid();
                self.own_bytes(wi, 0, &stun_binding_request(tx));
                self.own_bytes(wi, 1, &stun_binding_success(tx, remote));
            }
            g.rng.range(100, 1500)
        };
        self.ops.push(Op::Media(ticks as u16));
    }

    /// STUN Binding from an Internet client to the A/V Edge (address discovery).
    fn stun(&mut self, g: &mut Gen) {
        let (remote, edge) = if g.pct(3) {
            (g.remote6(), SocketAddr::new(IpAddr::V6(V6_AV), 3478))
        } else {
            (g.remote(), SocketAddr::from((AV, 3478)))
        };
        let rtt = g.ext_rtt();
        let w = g.wire([remote, edge], 1, false, false, rtt);
        let wi = self.add_wire(w);
        for i in 0..g.rng.range(1, 3) {
            let tx = g.txid();
            let extra = if i > 0 { 500 * MS } else { 0 };
            self.own_bytes_after(wi, 0, &stun_binding_request(tx), extra);
            self.own_bytes(wi, 1, &stun_binding_success(tx, remote));
        }
    }

    /// A remote user's client to the Access Edge (SIP/TLS 443) or the Web Conferencing Edge
    /// (PSOM/TLS 443).
    fn tls(&mut self, g: &mut Gen) {
        let web = g.pct(40);
        let v6 = g.pct(3);
        let (remote, edge) = match (v6, web) {
            (true, true) => (g.remote6(), SocketAddr::new(IpAddr::V6(V6_WEBCONF), 443)),
            (true, false) => (g.remote6(), SocketAddr::new(IpAddr::V6(EDGE_V6), 443)),
            (false, true) => (g.remote(), SocketAddr::from((WEBCONF, 443))),
            (false, false) => (g.remote(), SocketAddr::from((ACCESS, 443))),
        };
        let rtt = g.ext_rtt();
        let w = g.wire([remote, edge], 1, false, true, rtt);
        let wi = self.add_wire(w);
        if g.pct(3) {
            self.unanswered_syn(wi);
            return;
        }
        let (ch, flight) = if web {
            (T_CH_WEB, T_SRV_FLIGHT_WEB)
        } else {
            (T_CH_SIP, T_SRV_FLIGHT_SIP)
        };
        let (hello, hello_len) = Actor::tmpl_range(&g.tm, ch);
        let (fin, fin_len) = Actor::tmpl_range(&g.tm, T_CLI_FIN);
        let n = g.rng.range(1, 30);
        self.tls_conversation(g, wi, hello, hello_len, flight, fin, fin_len, n);
    }

    /// Front End -> Edge internal interface: CMS replication (4443) or PSOM (8057), mutual TLS.
    fn internal(&mut self, g: &mut Gen) {
        let port = if g.pct(50) { 4443 } else { 8057 };
        let fe = g.front_end();
        let rtt = g.int_rtt();
        let w = g.wire(
            [fe, SocketAddr::from((EDGE_INTERNAL, port))],
            1,
            true,
            true,
            rtt,
        );
        let wi = self.add_wire(w);
        if g.pct(3) {
            self.unanswered_syn(wi);
            return;
        }
        let (hello, hello_len) = Actor::tmpl_range(&g.tm, T_CH_INT);
        let (fin, fin_len) = Actor::tmpl_range(&g.tm, T_CLI_FIN_INT);
        let n = g.rng.range(1, 30);
        self.tls_conversation(g, wi, hello, hello_len, T_SRV_FLIGHT_INT, fin, fin_len, n);
    }

    /// The Access Edge resolving a partner: SRV _sipfederationtls._tcp, SRV _sip._tls or A.
    fn dns(&mut self, g: &mut Gen) {
        let p = g.rng.range(0, g.partners.len() as u64) as usize;
        // Source port and resolver from one counter: 32,768 queries before a 5-tuple repeats.
        let n = g.n_dns;
        g.n_dns += 1;
        let resolver = RESOLVERS[((n / 16384) % 2) as usize];
        let src = SocketAddr::from((ACCESS, 49152 + ((n % 16384) * SCRAMBLE % 16384) as u16));
        let rtt = g.rng.range(2, 20) as i64 * MS;
        let w = g.wire(
            [src, SocketAddr::from((resolver, 53))],
            0,
            false,
            false,
            rtt,
        );
        let wi = self.add_wire(w);
        let id = g.rng.next_u32() as u16;
        let partner = &g.partners[p];
        let target = format!("sip.{}", partner.domain);
        let roll = g.rng.range(0, 10);
        let (name, qtype, answer) = if roll < 6 {
            let srv = DnsAnswer::Srv {
                priority: 0,
                weight: 0,
                port: 5061,
                target: &target,
            };
            (
                format!("_sipfederationtls._tcp.{}", partner.domain),
                DNS_SRV,
                srv,
            )
        } else if roll < 8 {
            let srv = DnsAnswer::Srv {
                priority: 0,
                weight: 0,
                port: 443,
                target: &target,
            };
            (format!("_sip._tls.{}", partner.domain), DNS_SRV, srv)
        } else {
            (target.clone(), DNS_A, DnsAnswer::A(partner.access))
        };
        let q = dns_query(id, &name, qtype);
        let r = dns_response(id, &name, qtype, &[answer]);
        self.own_bytes(wi, 0, &q);
        self.own_bytes(wi, 1, &r);
    }

    /// The Access Edge downloading a certificate revocation list.
    fn http(&mut self, g: &mut Gen) {
        let server = SocketAddr::new(g.remote().ip(), 80);
        let src = SocketAddr::from((ACCESS, g.edge_port()));
        let rtt = g.ext_rtt();
        let w = g.wire([src, server], 0, false, true, rtt);
        let wi = self.add_wire(w);
        if g.pct(3) {
            self.unanswered_syn(wi);
            return;
        }
        self.handshake(wi);
        self.tmpl(&g.tm, wi, 0, T_HTTP_GET);
        self.tmpl(&g.tm, wi, 1, T_HTTP_200);
        self.ctl(wi, 0, TCP_ACK);
        self.close(wi, 0);
    }

    /// A long-lived federation connection (SIP over mutual TLS on 5061), opened by either side.
    fn federation(&mut self, g: &mut Gen, partner: u32, outbound: bool) -> [SocketAddr; 2] {
        let p = &g.partners[partner as usize];
        let (access, domain) = (p.access, p.domain.clone());
        let ends = if outbound {
            [
                SocketAddr::from((ACCESS, g.edge_port())),
                SocketAddr::from((access, 5061)),
            ]
        } else {
            let port = 49152 + g.rng.range(0, 16384) as u16;
            [
                SocketAddr::from((access, port)),
                SocketAddr::from((ACCESS, 5061)),
            ]
        };
        let rtt = g.rng.range(20, 80) as i64 * MS;
        let w = g.wire(ends, if outbound { 0 } else { 1 }, false, true, rtt);
        let wi = self.add_wire(w);
        let host = format!("sip.{domain}");
        if outbound {
            let hello = client_hello(&host, &g.rng.array32(), &[]);
            let flight = server_flight(&mut g.rng, &host, &[host.as_str()], true);
            self.handshake(wi);
            let (h, hl) = self.own_range(&hello);
            self.payload_segments(wi, 0, h, hl);
            let (f, fl) = self.own_range(&flight);
            self.payload_segments(wi, 1, f, fl);
            self.ctl(wi, 0, TCP_ACK);
            self.tmpl(&g.tm, wi, 0, T_CLI_FIN_CONTOSO);
        } else {
            let fin = client_finish_flight(&mut g.rng, Some(&host));
            self.handshake(wi);
            self.tmpl(&g.tm, wi, 0, T_CH_SIP);
            self.tmpl(&g.tm, wi, 1, T_SRV_FLIGHT_MTLS);
            self.ctl(wi, 0, TCP_ACK);
            let (f, fl) = self.own_range(&fin);
            self.payload_segments(wi, 0, f, fl);
        }
        self.tmpl(&g.tm, wi, 1, T_SRV_FIN);
        self.forever = true;
        self.federation_exchange(g);
        ends
    }

    /// The next SIP transaction on a federation connection.
    fn federation_exchange(&mut self, g: &mut Gen) {
        let d = g.rng.range(0, 2) as u8;
        let think = g.rng.range(20, 400) as i64 * MS;
        let (a, b) = (g.rng.range(300, 2000), g.rng.range(200, 900));
        self.app(0, d, a as usize, think);
        self.app(0, 1 - d, b as usize, 0);
        self.ctl(0, d, TCP_ACK);
    }

    /// 1-2 packet flows from Internet hosts, each from a new address and port: a STUN Binding
    /// answered or not, a SYN refused with a reset.
    fn short(&mut self, g: &mut Gen) {
        let roll = g.rng.range(0, 100);
        let remote = g.remote4();
        let rtt = g.ext_rtt();
        if roll < 25 {
            // A port probe: SYN to a port the Access Edge does not listen on, refused.
            let w = g.wire(
                [SocketAddr::V4(remote), SocketAddr::from((ACCESS, 80))],
                1,
                false,
                true,
                rtt,
            );
            let wi = self.add_wire(w);
            self.ctl(wi, 0, TCP_SYN);
            self.ctl(wi, 1, TCP_RST | TCP_ACK);
            return;
        }
        let w = g.wire(
            [remote.into(), SocketAddr::from((AV, 3478))],
            1,
            false,
            false,
            rtt,
        );
        let wi = self.add_wire(w);
        let tx = g.txid();
        let mut m = Vec::with_capacity(32);
        push_binding(&mut m, STUN_BINDING_REQUEST, &tx, None);
        self.own_bytes(wi, 0, &m);
        if roll < 60 {
            m.clear();
            push_binding(&mut m, STUN_BINDING_SUCCESS, &tx, Some(remote));
            self.own_bytes(wi, 1, &m);
        }
    }
}

/// A Binding message without FINGERPRINT, built in place (the short flows are many).
fn push_binding(out: &mut Vec<u8>, typ: u16, tx: &[u8; 12], mapped: Option<SocketAddrV4>) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&(if mapped.is_some() { 12u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&STUN_COOKIE.to_be_bytes());
    out.extend_from_slice(tx);
    if let Some(a) = mapped {
        let c = STUN_COOKIE.to_be_bytes();
        out.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
        out.extend_from_slice(&(a.port() ^ 0x2112).to_be_bytes());
        for (i, b) in a.ip().octets().iter().enumerate() {
            out.push(b ^ c[i]);
        }
    }
}

/// The credentials a client repeats in its authenticated requests.
struct Auth {
    user: Vec<u8>,
    nonce: Vec<u8>,
}

const REALM: &[u8] = b"\"SIP Communications Service\"";
/// Refresh period of a call's allocations, in capture time (see the module notes).
const REFRESH_NS: u32 = 240_000_000;
const LIFETIME_S: u32 = 600;
/// Frames the relay forwards leave this long after the frame that carried them arrived.
const FORWARD_NS: u32 = 150_000;

impl Auth {
    fn sign(&self, s: Stun, rng: &mut Rng) -> Vec<u8> {
        s.attr(0x0006, &self.user)
            .attr(0x0014, REALM)
            .attr(0x0015, &self.nonce)
            .integrity(rng)
            .build_with_fingerprint()
    }
}

impl Actor {
    fn turn_after(&mut self, wire: u8, dir: u8, msg: &[u8], extra: i64) {
        if self.wires[usize::from(wire)].tcp {
            self.own_bytes_after(wire, dir, &msturn_tcp_frame(msg), extra);
        } else {
            self.own_bytes_after(wire, dir, msg, extra);
        }
    }

    /// TCP: the handshake and pseudo-TLS that precede MS-TURN framing on 443.
    fn turn_open(&mut self, g: &Gen, wi: u8) {
        if self.wires[usize::from(wi)].tcp {
            self.handshake(wi);
            self.tmpl(&g.tm, wi, 0, T_PTLS_C);
            self.tmpl(&g.tm, wi, 1, T_PTLS_S);
        }
    }

    fn turn_close(&mut self, wi: u8) {
        if self.wires[usize::from(wi)].tcp {
            self.close(wi, 0);
        }
    }

    /// Allocate, 401 with REALM and NONCE, authenticated Allocate, then success (or `fail`).
    fn allocate(
        &mut self,
        g: &mut Gen,
        wi: u8,
        client: SocketAddr,
        relay: SocketAddr,
        fail: bool,
        auth: &Auth,
    ) -> bool {
        let tx = g.txid();
        let req = Stun::new(STUN_ALLOCATE_REQUEST, tx)
            .requested_transport(17)
            .build_with_fingerprint();
        self.turn(wi, 0, &req);
        let e401 = Stun::new(STUN_ALLOCATE_ERROR, tx)
            .error_code(401, "Unauthorized")
            .attr(0x0014, REALM)
            .attr(0x0015, &auth.nonce)
            .build_with_fingerprint();
        self.turn(wi, 1, &e401);
        let tx = g.txid();
        let s = Stun::new(STUN_ALLOCATE_REQUEST, tx)
            .requested_transport(17)
            .lifetime(LIFETIME_S);
        let req = auth.sign(s, &mut g.rng);
        self.turn(wi, 0, &req);
        if fail {
            let (code, reason) = [
                (437, "Allocation Mismatch"),
                (441, "Wrong Credentials"),
                (486, "Allocation Quota Reached"),
            ][g.rng.range(0, 3) as usize];
            let err = Stun::new(STUN_ALLOCATE_ERROR, tx)
                .error_code(code, reason)
                .build_with_fingerprint();
            self.turn(wi, 1, &err);
            return false;
        }
        let ok = Stun::new(STUN_ALLOCATE_SUCCESS, tx)
            .xor_relayed(relay)
            .xor_mapped(client)
            .lifetime(LIFETIME_S)
            .integrity(&mut g.rng)
            .build_with_fingerprint();
        self.turn(wi, 1, &ok);
        true
    }

    /// An authenticated request on the allocation and its success response.
    fn turn_transaction(
        &mut self,
        g: &mut Gen,
        wi: u8,
        auth: &Auth,
        req: Stun,
        ok: Stun,
        extra: i64,
    ) {
        let r = auth.sign(req, &mut g.rng);
        self.turn_after(wi, 0, &r, extra);
        let o = ok.integrity(&mut g.rng).build_with_fingerprint();
        self.turn(wi, 1, &o);
    }

    fn permission(&mut self, g: &mut Gen, wi: u8, auth: &Auth, peer: SocketAddr) {
        let tx = g.txid();
        let req = Stun::new(TURN_CREATE_PERMISSION_REQUEST, tx).xor_peer(peer);
        let ok = Stun::new(TURN_CREATE_PERMISSION_SUCCESS, tx);
        self.turn_transaction(g, wi, auth, req, ok, 0);
    }

    fn channel_bind(&mut self, g: &mut Gen, wi: u8, auth: &Auth, ch: u16, peer: SocketAddr) {
        let tx = g.txid();
        let req = Stun::new(TURN_CHANNEL_BIND_REQUEST, tx)
            .channel_number(ch)
            .xor_peer(peer);
        let ok = Stun::new(TURN_CHANNEL_BIND_SUCCESS, tx);
        self.turn_transaction(g, wi, auth, req, ok, 0);
    }

    fn refresh(&mut self, g: &mut Gen, wi: u8, auth: &Auth, lifetime: u32, extra: i64) {
        let tx = g.txid();
        let req = Stun::new(TURN_REFRESH_REQUEST, tx).lifetime(lifetime);
        let ok = Stun::new(TURN_REFRESH_SUCCESS, tx).lifetime(lifetime);
        self.turn_transaction(g, wi, auth, req, ok, extra);
    }

    /// A Send (client -> relay) or Data (relay -> client) indication carrying `data`.
    fn indication(&mut self, g: &mut Gen, wi: u8, send: bool, peer: SocketAddr, data: &[u8]) {
        let (typ, dir) = if send {
            (TURN_SEND_INDICATION, 0)
        } else {
            (TURN_DATA_INDICATION, 1)
        };
        let m = Stun::new(typ, g.txid())
            .xor_peer(peer)
            .data(data)
            .build_with_fingerprint();
        self.turn(wi, dir, &m);
    }

    /// The media of a call, interrupted every `REFRESH_NS` by a Refresh on each allocation.
    fn call_media(&mut self, g: &mut Gen, ticks: u16, allocs: &[u8], auth: &Auth) {
        let per = (REFRESH_NS / self.tick_ns).max(1) as u16;
        let mut left = ticks;
        while left > 0 {
            let n = left.min(per);
            self.ops.push(Op::Media(n));
            left -= n;
            if left > 0 {
                self.script_last = None;
                for (i, &w) in allocs.iter().enumerate() {
                    self.refresh(g, w, auth, LIFETIME_S, if i == 0 { 2 * MS } else { 0 });
                }
            }
        }
        self.script_last = None;
        for (i, &w) in allocs.iter().enumerate() {
            self.refresh(g, w, auth, 0, if i == 0 { 5 * MS } else { 0 });
        }
        for &w in allocs {
            self.turn_close(w);
        }
    }

    fn leg(&mut self, wire: u8, dir: u8, payload: Payload, at: u32) {
        let tcp = self.wires[usize::from(wire)].tcp;
        let flags = match payload {
            Payload::Empty => TCP_ACK,
            _ if tcp => TCP_PSH | TCP_ACK,
            _ => 0,
        };
        self.legs.push(Leg {
            wire,
            dir,
            flags,
            payload,
            at,
        });
    }

    /// A call: see the module notes. Without a free relay port the slot waits for the next try.
    fn call(&mut self, g: &mut Gen) {
        let remote_user = g.pct(20);
        let roll = g.rng.range(0, 1000);
        let (alloc_fail, one_way) = (roll < 10, (10..20).contains(&roll));
        let Some(p1) = g.relay.alloc(&mut g.rng) else {
            return;
        };
        self.relay_ports.push(p1);
        let p2 = if remote_user {
            let Some(p2) = g.relay.alloc(&mut g.rng) else {
                return;
            };
            self.relay_ports.push(p2);
            p2
        } else {
            0
        };
        let relay1 = SocketAddr::from((AV_PUBLIC, p1));
        let video = g.pct(20);
        self.streams.push(RtpStream::new(&mut g.rng, video));
        self.streams.push(RtpStream::new(&mut g.rng, video));
        self.tick_ns = if video { 33_000_000 } else { 20_000_000 };
        let back: u32 = if video { 16_000_000 } else { 7_000_000 };
        let ticks = (g.rng.range(300, 1200) * 1_000_000 / u64::from(self.tick_ns)) as u16;
        let ch0 = TURN_FIRST_CHANNEL + g.rng.range(0, 0x1000) as u16;
        let auth = Auth {
            user: g.rng.bytes(48),
            nonce: format!("\"{:016x}{:016x}\"", g.rng.next_u64(), g.rng.next_u64()).into_bytes(),
        };
        let tcp_first = g.pct(15);
        let failed = alloc_fail || one_way;
        if remote_user {
            let relay2 = SocketAddr::from((AV_PUBLIC, p2));
            let r = g.remote();
            let port = if tcp_first { 443 } else { 3478 };
            let rtt = g.ext_rtt();
            let w = g.wire([r, SocketAddr::from((AV, port))], 1, false, tcp_first, rtt);
            let w0 = self.add_wire(w);
            let c = g.client();
            let tcp = g.pct(15);
            let port = if tcp { 443 } else { 3478 };
            let rtt = g.int_rtt();
            let w = g.wire(
                [c, SocketAddr::from((EDGE_INTERNAL, port))],
                1,
                true,
                tcp,
                rtt,
            );
            let w1 = self.add_wire(w);
            self.call = Some(Box::new(CallInfo {
                n: None,
                remote_user: true,
                partner: None,
                client: r,
                relay: relay1,
                peer: relay2,
                failed,
                signalling: None,
                allocations: vec![w0, w1],
                media: Vec::new(),
                start_ns: 0,
                end_ns: 0,
            }));
            self.turn_open(g, w0);
            if !self.allocate(g, w0, r, relay1, alloc_fail, &auth) {
                self.turn_close(w0);
                return;
            }
            self.turn_open(g, w1);
            self.allocate(g, w1, c, relay2, false, &auth);
            self.permission(g, w0, &auth, relay2);
            self.permission(g, w1, &auth, relay1);
            let tx = g.txid();
            let req = stun_binding_request(tx);
            self.indication(g, w0, true, relay2, &req);
            self.indication(g, w1, false, relay1, &req);
            if !one_way {
                let resp = stun_binding_success(tx, relay1);
                self.indication(g, w1, true, relay1, &resp);
                self.indication(g, w0, false, relay2, &resp);
            }
            let ch1 = TURN_FIRST_CHANNEL + g.rng.range(0, 0x1000) as u16;
            self.channel_bind(g, w0, &auth, ch0, relay2);
            self.channel_bind(g, w1, &auth, ch1, relay1);
            let ch = |s, fresh, ch| Payload::Channel { s, fresh, ch };
            self.leg(w0, 0, ch(0, true, ch0), 0);
            self.leg(w1, 1, ch(0, false, ch1), FORWARD_NS);
            if one_way {
                if self.wires[usize::from(w0)].tcp {
                    self.leg(w0, 1, Payload::Empty, back);
                }
                if self.wires[usize::from(w1)].tcp {
                    self.leg(w1, 0, Payload::Empty, back + FORWARD_NS);
                }
            } else {
                self.leg(w1, 0, ch(1, true, ch1), back);
                self.leg(w0, 1, ch(1, false, ch0), back + FORWARD_NS);
            }
            self.call_media(g, ticks, &[w0, w1], &auth);
            return;
        }
        // Federated: a partner reached over one of the pool's connections.
        let (partner, signalling) = if g.fed_conns.is_empty() {
            (g.rng.range(0, g.partners.len() as u64) as u32, None)
        } else {
            let (p, ends) = g.fed_conns[g.rng.range(0, g.fed_conns.len() as u64) as usize];
            (p, Some(ends))
        };
        let pa = &mut g.partners[partner as usize];
        let peer = SocketAddr::from((pa.av, 50_000 + (pa.next_port * SCRAMBLE % 10_000) as u16));
        pa.next_port += 1;
        let c = g.client();
        let port = if tcp_first { 443 } else { 3478 };
        let rtt = g.int_rtt();
        let w = g.wire(
            [c, SocketAddr::from((EDGE_INTERNAL, port))],
            1,
            true,
            tcp_first,
            rtt,
        );
        let w0 = self.add_wire(w);
        let rtt = g.rng.range(20, 80) as i64 * MS;
        let mut w = g.wire([SocketAddr::from((AV, p1)), peer], 0, false, false, rtt);
        w.tos = if video { DSCP_AF41 } else { DSCP_EF };
        let w1 = self.add_wire(w);
        self.call = Some(Box::new(CallInfo {
            n: None,
            remote_user: false,
            partner: Some(partner),
            client: c,
            relay: relay1,
            peer,
            failed,
            signalling,
            allocations: vec![w0],
            media: vec![w1],
            start_ns: 0,
            end_ns: 0,
        }));
        self.turn_open(g, w0);
        if !self.allocate(g, w0, c, relay1, alloc_fail, &auth) {
            self.turn_close(w0);
            return;
        }
        self.permission(g, w0, &auth, peer);
        let tx = g.txid();
        let req = stun_binding_request(tx);
        self.indication(g, w0, true, peer, &req);
        self.own_bytes(w1, 0, &req);
        if !one_way {
            let resp = stun_binding_success(tx, relay1);
            self.own_bytes(w1, 1, &resp);
            self.indication(g, w0, false, peer, &resp);
        }
        self.channel_bind(g, w0, &auth, ch0, peer);
        self.leg(
            w0,
            0,
            Payload::Channel {
                s: 0,
                fresh: true,
                ch: ch0,
            },
            0,
        );
        self.leg(w1, 0, Payload::Rtp { s: 0, fresh: false }, FORWARD_NS);
        if one_way {
            if self.wires[usize::from(w0)].tcp {
                self.leg(w0, 1, Payload::Empty, back);
            }
        } else {
            self.leg(w1, 1, Payload::Rtp { s: 1, fresh: true }, back);
            self.leg(
                w0,
                1,
                Payload::Channel {
                    s: 1,
                    fresh: false,
                    ch: ch0,
                },
                back + FORWARD_NS,
            );
        }
        self.call_media(g, ticks, &[w0], &auth);
    }

    // ------------------------------------------------------------ running

    /// Sets `next_ts` for the item at the cursor, relative to the last frame.
    fn schedule(&mut self) {
        if self.in_media {
            self.next_ts = self.tick_start + i64::from(self.legs[self.leg].at);
            return;
        }
        self.next_ts = match self.ops.get(self.pos) {
            Some(Op::Pkt(st)) => self.last_ts + i64::from(st.gap),
            Some(Op::Media(_)) => {
                let first = self.legs.first().map_or(0, |l| i64::from(l.at));
                self.last_ts + MS + first
            }
            None => self.last_ts + 1,
        };
    }

    /// Builds the frame at the cursor into `b.frame` and moves on; `None` when the flow (or
    /// call) is over. Returns the wire the frame belongs to.
    fn emit(&mut self, b: &mut Builder, g: &mut Gen) -> Option<usize> {
        loop {
            if self.in_media {
                let leg = self.legs[self.leg];
                self.frame(b, g, leg.wire, leg.dir, leg.flags, false, leg.payload);
                self.leg += 1;
                if self.leg == self.legs.len() {
                    self.leg = 0;
                    self.tick += 1;
                    self.tick_start += i64::from(self.tick_ns);
                    let ticks = match self.ops.get(self.pos) {
                        Some(Op::Media(n)) => *n,
                        _ => 0,
                    };
                    if self.tick >= ticks {
                        self.in_media = false;
                        self.pos += 1;
                    }
                }
                self.last_ts = self.next_ts;
                self.schedule();
                return Some(usize::from(leg.wire));
            }
            let op = self.ops.get(self.pos).copied()?;
            match op {
                Op::Pkt(st) => {
                    self.frame(b, g, st.wire, st.dir, st.flags, st.retx, st.payload);
                    self.pos += 1;
                    if self.pos == self.ops.len() && self.forever {
                        self.ops.clear();
                        self.pos = 0;
                        self.federation_exchange(g);
                    }
                    self.last_ts = self.next_ts;
                    self.schedule();
                    return Some(usize::from(st.wire));
                }
                Op::Media(n) if n == 0 || self.legs.is_empty() => self.pos += 1,
                Op::Media(_) => {
                    self.in_media = true;
                    self.tick = 0;
                    self.leg = 0;
                    self.tick_start = self.next_ts - i64::from(self.legs[0].at);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        b: &mut Builder,
        g: &mut Gen,
        wire: u8,
        dir: u8,
        flags: u8,
        retx: bool,
        payload: Payload,
    ) {
        let wi = usize::from(wire);
        let d = usize::from(dir);
        let tcp = self.wires[wi].tcp;
        b.payload.clear();
        match payload {
            Payload::Empty => {}
            Payload::Tmpl(i, s, e) => {
                b.payload
                    .extend_from_slice(&g.tm[usize::from(i)][s as usize..e as usize]);
            }
            Payload::Own(s, e) => b
                .payload
                .extend_from_slice(&self.own[s as usize..e as usize]),
            Payload::TlsApp(n) => {
                b.payload.extend_from_slice(&[TLS_APPDATA, 3, 3]);
                b.payload.extend_from_slice(&n.to_be_bytes());
                let off = g.rng.range(0, (POOL_LEN - 2048) as u64) as usize;
                b.payload
                    .extend_from_slice(&g.pool[off..off + usize::from(n)]);
            }
            Payload::Rtp { s, fresh } => {
                let st = &mut self.streams[usize::from(s)];
                if fresh {
                    st.advance(&mut g.rng);
                }
                st.push(&mut b.payload, &g.pool);
            }
            Payload::Channel { s, fresh, ch } => {
                let st = &mut self.streams[usize::from(s)];
                if fresh {
                    st.advance(&mut g.rng);
                }
                g.inner.clear();
                st.push(&mut g.inner, &g.pool);
                if tcp {
                    // MS-TURN end-to-end data frame around padded ChannelData.
                    let len = 4 + g.inner.len() + (4 - g.inner.len() % 4) % 4;
                    b.payload.extend_from_slice(&[0x03, 0x00]);
                    b.payload.extend_from_slice(&(len as u16).to_be_bytes());
                }
                push_channel_data(&mut b.payload, ch, &g.inner, tcp);
            }
        }
        let w = &mut self.wires[wi];
        let (src, dst) = (w.ends[d], w.ends[1 - d]);
        b.l4.clear();
        if tcp {
            let seq = if retx {
                w.seq[d].wrapping_sub(1)
            } else {
                w.seq[d]
            };
            let ack = if flags & TCP_ACK != 0 {
                w.seq[1 - d]
            } else {
                0
            };
            let (opts, win): (&[u8], u16) = if flags & TCP_SYN != 0 {
                (&SYN_OPTIONS, 64240)
            } else {
                (&[], 0x0201)
            };
            push_tcp(&mut b.l4, src, dst, seq, ack, flags, win, opts, &b.payload);
            if !retx {
                let mut adv = b.payload.len() as u32;
                if flags & (TCP_SYN | TCP_FIN) != 0 {
                    adv += 1;
                }
                w.seq[d] = w.seq[d].wrapping_add(adv);
            }
        } else {
            push_udp(&mut b.l4, src, dst, &b.payload);
        }
        w.ip_id[d] = w.ip_id[d].wrapping_add(1);
        b.ip.clear();
        let proto = if tcp { 6 } else { 17 };
        push_ip(
            &mut b.ip,
            src.ip(),
            dst.ip(),
            proto,
            w.ip_id[d],
            w.ttl[d],
            &b.l4,
        );
        if w.tos != 0 && src.is_ipv4() {
            // DSCP in the IPv4 header, and its checksum again.
            b.ip[1] = w.tos;
            b.ip[10] = 0;
            b.ip[11] = 0;
            let c = inet_checksum(&b.ip[..20]);
            b.ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        b.frame.clear();
        g.links[usize::from(w.link)].push_frame(&mut b.frame, d == usize::from(w.edge), &b.ip);
    }
}

struct Builder {
    l4: Vec<u8>,
    ip: Vec<u8>,
    frame: Vec<u8>,
    payload: Vec<u8>,
}

/// The truth file's first line.
#[derive(serde::Serialize)]
struct TruthHeader<'a> {
    shape: &'a str,
    seed: u64,
    packets: u64,
    bytes: u64,
    flows: u64,
    calls: u64,
    federation_connections: u64,
    partners: usize,
    concurrent: usize,
}

#[derive(serde::Serialize)]
struct TruthFlow {
    transport: &'static str,
    initiator: String,
    responder: String,
}

impl TruthFlow {
    fn of(w: &Wire) -> TruthFlow {
        TruthFlow {
            transport: if w.tcp { "tcp" } else { "udp" },
            initiator: w.ends[0].to_string(),
            responder: w.ends[1].to_string(),
        }
    }
}

/// One call of the truth file.
#[derive(serde::Serialize)]
struct TruthCall<'a> {
    call: u64,
    kind: &'static str,
    partner: Option<&'a str>,
    client: String,
    relay: String,
    peer: String,
    failed: bool,
    /// False when the capture ended during the call.
    complete: bool,
    /// The federation connection carrying the call's SIP (federated calls).
    signalling: Option<TruthFlow>,
    allocations: Vec<TruthFlow>,
    media: Vec<TruthFlow>,
    start_ns: i64,
    end_ns: i64,
}

/// The slot classes, in a seeded order.
fn plan(opts: &BusyOptions, rng: &mut Rng) -> Vec<Class> {
    let n = opts.concurrent.max(1);
    let (long, short) = match opts.shape {
        Shape::Calls | Shape::Large => (n, 0),
        Shape::Flows => (n.min(FLOWS_LONG_SLOTS), n - n.min(FLOWS_LONG_SLOTS)),
        Shape::Distinct => (0, n),
    };
    let fed = long / 10;
    let calls = long / 25;
    let rest = long - fed - calls;
    let mut v = Vec::with_capacity(n);
    v.extend(std::iter::repeat_n(Class::Federation, fed));
    v.extend(std::iter::repeat_n(Class::Call, calls));
    let mut given = 0;
    for (c, share) in MIX {
        let k = rest * share as usize / 100;
        v.extend(std::iter::repeat_n(c, k));
        given += k;
    }
    v.extend(std::iter::repeat_n(Class::Audio, rest - given));
    v.extend(std::iter::repeat_n(Class::Short, short));
    for i in (1..v.len()).rev() {
        let j = rng.range(0, i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

fn partners(n: usize) -> Vec<Partner> {
    let mut v = vec![Partner {
        domain: "fabrikam.com".into(),
        access: Ipv4Addr::new(198, 51, 100, 10),
        av: Ipv4Addr::new(198, 51, 100, 30),
        next_port: 0,
    }];
    for k in 1..n.max(1) {
        // Access edges in 198.18.0.0/17, A/V edges in 198.19.0.0/17 (Internet hosts use the
        // upper halves).
        let (hi, lo) = ((k / 254) as u8, (k % 254) as u8 + 1);
        v.push(Partner {
            domain: format!("partner{k:03}.example.com"),
            access: Ipv4Addr::new(198, 18, hi, lo),
            av: Ipv4Addr::new(198, 19, hi, lo),
            next_port: 0,
        });
    }
    v
}

impl Gen<'_> {
    /// A finished (or cut) actor: its relay ports go back, its call goes to the truth file.
    fn finish(&mut self, a: &Actor, complete: bool) -> io::Result<()> {
        for &p in &a.relay_ports {
            self.relay.release(p);
        }
        let Some(c) = a.call.as_deref() else {
            return Ok(());
        };
        let (Some(n), Some(t)) = (c.n, self.truth.as_mut()) else {
            return Ok(());
        };
        let flows = |ix: &[u8]| {
            ix.iter()
                .map(|&i| &a.wires[usize::from(i)])
                .filter(|w| w.emitted)
                .map(TruthFlow::of)
                .collect()
        };
        let line = TruthCall {
            call: n,
            kind: if c.remote_user {
                "remote-user"
            } else {
                "federated"
            },
            partner: c.partner.map(|p| self.partners[p as usize].domain.as_str()),
            client: c.client.to_string(),
            relay: c.relay.to_string(),
            peer: c.peer.to_string(),
            failed: c.failed,
            complete,
            signalling: c.signalling.map(|e| TruthFlow {
                transport: "tcp",
                initiator: e[0].to_string(),
                responder: e[1].to_string(),
            }),
            allocations: flows(&c.allocations),
            media: flows(&c.media),
            start_ns: c.start_ns,
            end_ns: c.end_ns,
        };
        serde_json::to_writer(&mut *t, &line).map_err(io::Error::other)?;
        t.write_all(b"\n")
    }
}

/// Idle time between two flows of a slot.
fn idle_ns(class: Class, rng: &mut Rng) -> i64 {
    match class {
        Class::Call => rng.range(10, 200) as i64 * MS,
        // Answers are cached: one slot's lookups are further apart.
        Class::Dns => rng.range(50, 500) as i64 * MS,
        _ => rng.range(1, 300) as i64 * MS,
    }
}

/// Writes a classic pcap (µs, little-endian, Ethernet, snaplen 262144) shaped like a busy Edge,
/// and with `truth` the calls' ground truth as JSON Lines:
///
/// * line 1, the header (written last, into space reserved at the start, padded with spaces):
///   `{"shape", "seed", "packets", "bytes", "flows", "calls", "federation_connections",
///   "partners", "concurrent"}`;
/// * then one line per call with at least one packet, written when the call ends (calls still
///   running when the capture ends last, with `"complete": false`): `{"call": N, "kind":
///   "federated" | "remote-user", "partner": domain | null, "client": "ip:port", "relay":
///   "131.107.155.30:port", "peer": "ip:port", "failed", "complete", "signalling": flow | null,
///   "allocations": [flow...], "media": [flow...], "start_ns", "end_ns"}` where a flow is
///   `{"transport": "udp" | "tcp", "initiator": "ip:port", "responder": "ip:port"}`. Only flows
///   with packets in the file are listed; each appears in one call only.
///
/// Every flow of the file has its own 5-tuple. `Distinct` ignores `target_bytes` and stops
/// after `flows` flows.
pub fn write_busy_pcap<W: Write>(
    w: W,
    opts: &BusyOptions,
    truth: Option<&mut dyn TruthOut>,
) -> io::Result<BusyStats> {
    let mut out = BufWriter::with_capacity(1 << 20, w);
    let mut rng = Rng::new(opts.seed);
    let tm = templates(&mut rng);
    let pool = rng.bytes(POOL_LEN);
    let tagged = |local, peer, vlan| Link::Ethernet {
        local,
        peer,
        vlans: vec![(ETHERTYPE_VLAN, vlan)],
    };
    let links = vec![
        Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
        tagged(EDGE_EXT_MAC, EXT_GW_MAC, 100),
        Link::eth(EDGE_INT_MAC, INT_GW_MAC),
        tagged(EDGE_INT_MAC, INT_GW_MAC, 200),
    ];
    let classes = plan(opts, &mut rng);
    let n_fed = classes.iter().filter(|c| **c == Class::Federation).count();
    let n_partners = if n_fed == 0 {
        20
    } else {
        (n_fed / 3).clamp(1, 300)
    };
    let mut truth = truth.map(BufWriter::new);
    if let Some(t) = truth.as_mut() {
        t.write_all(&[b' '; TRUTH_HEADER_LEN - 1])?;
        t.write_all(b"\n")?;
    }
    let mut g = Gen {
        shape: opts.shape,
        rng,
        tm,
        pool,
        links,
        partners: partners(n_partners),
        fed_conns: Vec::with_capacity(n_fed),
        relay: RelayPorts {
            used: vec![false; usize::from(RELAY_PORTS)],
            free: usize::from(RELAY_PORTS),
        },
        n_remote: 0,
        n_remote6: 0,
        n_client: 0,
        n_front_end: 0,
        n_edge: 0,
        n_dns: 0,
        calls: 0,
        distinct_left: opts.flows,
        truth,
        inner: Vec::with_capacity(2048),
    };
    write_pcap_header(&mut out, LINKTYPE_ETHERNET, 262_144, PcapFlavor::MicroLe)?;
    let mut stats = BusyStats {
        bytes_written: 24,
        ..BusyStats::default()
    };
    let mut b = Builder {
        l4: Vec::with_capacity(2048),
        ip: Vec::with_capacity(2048),
        frame: Vec::with_capacity(2048),
        payload: Vec::with_capacity(2048),
    };
    // Federation connections first: calls pick their signalling connection among them.
    let mut slots: Vec<Actor> = classes.iter().map(|&c| Actor::new(c)).collect();
    let mut heap = BinaryHeap::with_capacity(slots.len());
    let stagger = 50 * MS;
    let mut k = 0usize;
    for (i, a) in slots.iter_mut().enumerate() {
        if a.class != Class::Federation {
            continue;
        }
        let partner = if n_partners == 1 || k % 20 == 0 {
            0
        } else {
            1 + k % (n_partners - 1)
        };
        k += 1;
        let outbound = g.pct(50);
        let ends = a.federation(&mut g, partner as u32, outbound);
        g.fed_conns.push((partner as u32, ends));
        a.last_ts = START_NS + g.rng.range(0, stagger as u64) as i64;
        a.schedule();
        heap.push(Reverse((a.next_ts, i as u32)));
    }
    for (i, a) in slots.iter_mut().enumerate() {
        if a.class == Class::Federation {
            continue;
        }
        if opts.shape == Shape::Distinct && g.distinct_left == 0 {
            break;
        }
        let start = START_NS + g.rng.range(0, stagger as u64) as i64;
        a.spawn(&mut g, start, true);
        heap.push(Reverse((a.next_ts, i as u32)));
    }
    let bounded = opts.shape != Shape::Distinct;
    let mut last_us = 0i64;
    while !bounded || stats.bytes_written < opts.target_bytes {
        // The slot stays at the top of the heap with its new time: one sift instead of a pop
        // and a push.
        let Some(mut top) = heap.peek_mut() else {
            break;
        };
        let Reverse((ts, slot)) = *top;
        let a = &mut slots[slot as usize];
        let Some(wi) = a.emit(&mut b, &mut g) else {
            g.finish(a, true)?;
            if !bounded && g.distinct_left == 0 {
                a.reset();
                PeekMut::pop(top);
                continue;
            }
            let start = ts + idle_ns(a.class, &mut g.rng);
            a.spawn(&mut g, start, false);
            *top = Reverse((a.next_ts, slot));
            continue;
        };
        *top = Reverse((a.next_ts, slot));
        drop(top);
        let us = (ts / 1000).max(last_us);
        last_us = us;
        let ts_out = us * 1000;
        let len = b.frame.len() as u32;
        write_pcap_record_header(&mut out, ts_out, len, len, PcapFlavor::MicroLe)?;
        out.write_all(&b.frame)?;
        stats.packets += 1;
        stats.bytes_written += 16 + u64::from(len);
        let w = &mut a.wires[wi];
        if !w.emitted {
            w.emitted = true;
            stats.flows += 1;
            if a.class == Class::Federation {
                stats.federation_connections += 1;
            }
        }
        if let Some(c) = a.call.as_deref_mut() {
            if c.n.is_none() {
                c.n = Some(g.calls);
                g.calls += 1;
                c.start_ns = ts_out;
            }
            c.end_ns = ts_out;
        }
    }
    out.flush()?;
    for a in &slots {
        g.finish(a, false)?;
    }
    stats.calls = g.calls;
    if let Some(mut t) = g.truth.take() {
        let header = TruthHeader {
            shape: opts.shape.name(),
            seed: opts.seed,
            packets: stats.packets,
            bytes: stats.bytes_written,
            flows: stats.flows,
            calls: stats.calls,
            federation_connections: stats.federation_connections,
            partners: g.partners.len(),
            concurrent: opts.concurrent,
        };
        let mut line = serde_json::to_vec(&header).map_err(io::Error::other)?;
        if line.len() >= TRUTH_HEADER_LEN {
            return Err(io::Error::other(
                "truth header longer than its reserved space",
            ));
        }
        line.resize(TRUTH_HEADER_LEN - 1, b' ');
        line.push(b'\n');
        t.flush()?;
        t.seek(SeekFrom::Start(0))?;
        t.write_all(&line)?;
        t.flush()?;
    }
    Ok(stats)
}
