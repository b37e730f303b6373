//! Frame construction: link-layer framing, IPv4/IPv6, TCP/UDP/ICMP with correct
//! lengths and checksums, plus stateful helpers (`Sim`, `TcpConv`, `UdpFlow`) that
//! keep TCP sequence numbers straight and record the ground-truth `ExpectedFlow`.
//!
//! Everything is hand-built (not etherparse's `PacketBuilder`) because the
//! scenarios need things a builder refuses to produce: fragments, extension
//! headers, ICMP errors quoting arbitrary datagrams, SYN+FIN segments, and the
//! bulk writer wants to build into one reused buffer.

use super::{ExpectedFlow, Frame, Interface};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const LINKTYPE_NULL: u16 = 0;
pub const LINKTYPE_ETHERNET: u16 = 1;
pub const LINKTYPE_RAW: u16 = 101;
pub const LINKTYPE_LOOP: u16 = 108;
pub const LINKTYPE_LINUX_SLL: u16 = 113;
pub const LINKTYPE_IPV4: u16 = 228;
pub const LINKTYPE_IPV6: u16 = 229;
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const ETHERTYPE_LLDP: u16 = 0x88cc;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// 2026-11-02T09:00:00Z in nanoseconds since the Unix epoch.
pub const START_NS: i64 = 1_793_610_000 * 1_000_000_000;

/// Edge NIC and next-hop MACs (Hyper-V OUI, as a virtualised Edge would show).
pub const EDGE_EXT_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x2d, 0x10, 0x01];
pub const EXT_GW_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x2d, 0x10, 0xfe];
pub const EDGE_INT_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x21, 0x33, 0x0a];
pub const INT_GW_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x21, 0x33, 0xfe];

/// The Edge's own IPv6 external address used by the IPv6 cases.
pub const EDGE_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x45, 0x16, 0, 0, 0, 0x10);

/// True when `ip` belongs to the Edge server itself (either interface, any role).
/// Used to choose MAC direction, SLL packet type, TTL and pcapng direction flags.
pub fn is_edge_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (o[0] == 10 && o[1] == 45 && o[2] == 16 && matches!(o[3], 10 | 20 | 30))
                || (o[0] == 131 && o[1] == 107 && o[2] == 155 && matches!(o[3], 10 | 20 | 30))
                || v4 == Ipv4Addr::new(172, 25, 33, 10)
        }
        IpAddr::V6(v6) => v6 == EDGE_V6,
    }
}

/// Initial TTL a given host would use as seen on the Edge: Windows servers on the
/// local segments send 128, remote hosts arrive a few hops down from 128 or 64.
pub fn ttl_for(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if is_edge_ip(ip) || o[0] == 172 || o[0] == 192 {
                128
            } else if o[0] == 198 {
                114
            } else {
                51
            }
        }
        IpAddr::V6(_) => {
            if is_edge_ip(ip) {
                128
            } else {
                52
            }
        }
    }
}

// ---------------------------------------------------------------- checksums

/// Ones'-complement sum of `data` (big-endian 16-bit words) added to `acc`.
pub fn sum16(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn inet_checksum(data: &[u8]) -> u16 {
    fold(sum16(0, data))
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    let mut acc = 0u64;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            acc = sum16(acc, &s.octets());
            acc = sum16(acc, &d.octets());
        }
        _ => {}
    }
    acc + u64::from(proto) + len as u64
}

/// Checksum of a transport segment (TCP/UDP/ICMPv6) including the pseudo-header.
/// `l4` must have its checksum field zeroed.
pub fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> u16 {
    let c = fold(sum16(pseudo_sum(src, dst, proto, l4.len()), l4));
    // UDP transmits an all-zero result as 0xffff (0 means "no checksum").
    if proto == 17 && c == 0 {
        0xffff
    } else {
        c
    }
}

/// CRC-32 (IEEE, reflected), as used by the STUN FINGERPRINT attribute.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

// ---------------------------------------------------------------- PRNG

/// splitmix64: tiny, deterministic, good enough for random-looking payload bytes.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform-ish value in `lo..hi` (hi exclusive, hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
    pub fn array32(&mut self) -> [u8; 32] {
        let mut a = [0u8; 32];
        self.fill(&mut a);
        a
    }
}

// ---------------------------------------------------------------- L4 / L3 builders

/// Standard SYN options as Windows sends them: MSS 1460, NOP, WS 8, NOP, NOP, SACK permitted.
pub const SYN_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];

/// Appends a TCP segment (header + options + payload) with a valid checksum.
#[allow(clippy::too_many_arguments)]
pub fn push_tcp(
    out: &mut Vec<u8>,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) {
    let start = out.len();
    let hdr_len = 20 + options.len();
    debug_assert!(options.len() & 3 == 0 && hdr_len <= 60);
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ack.to_be_bytes());
    out.push(((hdr_len / 4) as u8) << 4);
    out.push(flags);
    out.extend_from_slice(&window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(options);
    out.extend_from_slice(payload);
    let c = l4_checksum(src.ip(), dst.ip(), 6, &out[start..]);
    out[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
}

/// Appends a UDP datagram with a valid checksum.
pub fn push_udp(out: &mut Vec<u8>, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
    let start = out.len();
    let len = (8 + payload.len()) as u16;
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let c = l4_checksum(src.ip(), dst.ip(), 17, &out[start..]);
    out[start + 6..start + 8].copy_from_slice(&c.to_be_bytes());
}

pub fn udp_bytes(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    push_udp(&mut v, src, dst, payload);
    v
}

/// ICMP (v4) message: type, code, 4-byte rest-of-header, body; checksum filled in.
pub fn icmp4_bytes(typ: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = vec![typ, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(body);
    let c = inet_checksum(&v);
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

/// ICMPv6 message; checksum covers the IPv6 pseudo-header.
pub fn icmp6_bytes(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    typ: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let mut v = vec![typ, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(body);
    let c = l4_checksum(IpAddr::V6(src), IpAddr::V6(dst), 58, &v);
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

/// IPv4 header fields that vary per packet.
#[derive(Clone, Copy, Debug)]
pub struct V4Meta {
    pub id: u16,
    pub ttl: u8,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes (must be a multiple of 8).
    pub frag_offset: u16,
}

/// Appends an IPv4 header (no options) for `payload_len` bytes of payload.
pub fn push_ipv4_header(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    payload_len: usize,
    m: V4Meta,
) {
    let start = out.len();
    let total = (20 + payload_len) as u16;
    out.push(0x45);
    out.push(0);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&m.id.to_be_bytes());
    let mut ff = m.frag_offset / 8;
    if m.dont_fragment {
        ff |= 0x4000;
    }
    if m.more_fragments {
        ff |= 0x2000;
    }
    out.extend_from_slice(&ff.to_be_bytes());
    out.push(m.ttl);
    out.push(proto);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = inet_checksum(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// Appends an IPv6 header. `next_header` is the first header after the fixed one.
pub fn push_ipv6_header(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    payload_len: usize,
    hop_limit: u8,
) {
    out.extend_from_slice(&[0x60, 0, 0, 0]);
    out.extend_from_slice(&(payload_len as u16).to_be_bytes());
    out.push(next_header);
    out.push(hop_limit);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
}

/// A complete IP packet (v4 with DF set, or v6) carrying `l4`.
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, id: u16, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + l4.len());
    push_ip(&mut v, src, dst, proto, id, ttl, l4);
    v
}

pub fn push_ip(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u16,
    ttl: u8,
    l4: &[u8],
) {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let m = V4Meta {
                id,
                ttl,
                dont_fragment: proto == 6,
                more_fragments: false,
                frag_offset: 0,
            };
            push_ipv4_header(out, s, d, proto, l4.len(), m);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => push_ipv6_header(out, s, d, proto, l4.len(), ttl),
        _ => panic!("mixed address families in one packet"),
    }
    out.extend_from_slice(l4);
}

// ---------------------------------------------------------------- link layer

/// How IP packets are framed on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II; `vlans` are (TPID, TCI) tags outermost first. MACs are chosen by
    /// direction: frames from an Edge address use `local` as source.
    Ethernet {
        local: [u8; 6],
        peer: [u8; 6],
        vlans: Vec<(u16, u16)>,
    },
    LinuxSll {
        local: [u8; 6],
        peer: [u8; 6],
    },
    LinuxSll2 {
        local: [u8; 6],
        peer: [u8; 6],
        if_index: u32,
    },
    /// LINKTYPE_RAW (101), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229): bare IP.
    Raw,
    /// LINKTYPE_NULL: 4-byte address family in little-endian host order;
    /// `af6` is the value used for IPv6 (24, 28 or 30 depending on the BSD).
    Null {
        af6: u32,
    },
    /// LINKTYPE_LOOP: address family in network byte order.
    Loop,
}

impl Link {
    pub fn eth(local: [u8; 6], peer: [u8; 6]) -> Self {
        Link::Ethernet {
            local,
            peer,
            vlans: Vec::new(),
        }
    }

    /// Appends link framing plus `ip` to `out`. Inbound Ethernet frames are padded to
    /// the 60-byte minimum as a NIC delivers them; outbound ones are captured before
    /// padding, as on a real host.
    pub fn push_frame(&self, out: &mut Vec<u8>, outbound: bool, ip: &[u8]) {
        let v6 = ip.first().map(|b| b >> 4) == Some(6);
        let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
        match self {
            Link::Ethernet { local, peer, vlans } => {
                let start = out.len();
                let (s, d) = if outbound {
                    (local, peer)
                } else {
                    (peer, local)
                };
                out.extend_from_slice(d);
                out.extend_from_slice(s);
                for (tpid, tci) in vlans {
                    out.extend_from_slice(&tpid.to_be_bytes());
                    out.extend_from_slice(&tci.to_be_bytes());
                }
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(ip);
                if !outbound && out.len() - start < 60 {
                    out.resize(start + 60, 0);
                }
            }
            Link::LinuxSll { local, peer } => {
                let ptype: u16 = if outbound { 4 } else { 0 };
                out.extend_from_slice(&ptype.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&6u16.to_be_bytes());
                out.extend_from_slice(if outbound { local } else { peer });
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(ip);
            }
            Link::LinuxSll2 {
                local,
                peer,
                if_index,
            } => {
                out.extend_from_slice(&ethertype.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&if_index.to_be_bytes());
                out.extend_from_slice(&1u16.to_be_bytes());
                out.push(if outbound { 4 } else { 0 });
                out.push(6);
                out.extend_from_slice(if outbound { local } else { peer });
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(ip);
            }
            Link::Raw => out.extend_from_slice(ip),
            Link::Null { af6 } => {
                let af = if v6 { *af6 } else { 2 };
                out.extend_from_slice(&af.to_le_bytes());
                out.extend_from_slice(ip);
            }
            Link::Loop => {
                let af: u32 = if v6 { 30 } else { 2 };
                out.extend_from_slice(&af.to_be_bytes());
                out.extend_from_slice(ip);
            }
        }
    }
}

/// Offset of the IP header inside a frame of the given link type, if the frame
/// carries IPv4/IPv6 (VLAN/QinQ tags are skipped).
pub fn ip_offset(link_type: u16, data: &[u8]) -> Option<usize> {
    let be16 = |o: usize| data.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let off = match link_type {
        LINKTYPE_ETHERNET => {
            let mut o = 12;
            let mut et = be16(o)?;
            while et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ {
                o += 4;
                et = be16(o)?;
            }
            if et != ETHERTYPE_IPV4 && et != ETHERTYPE_IPV6 {
                return None;
            }
            o + 2
        }
        LINKTYPE_LINUX_SLL => {
            let et = be16(14)?;
            if et != ETHERTYPE_IPV4 && et != ETHERTYPE_IPV6 {
                return None;
            }
            16
        }
        LINKTYPE_LINUX_SLL2 => {
            let et = be16(0)?;
            if et != ETHERTYPE_IPV4 && et != ETHERTYPE_IPV6 {
                return None;
            }
            20
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => 0,
        LINKTYPE_NULL | LINKTYPE_LOOP => 4,
        _ => return None,
    };
    let v = data.get(off)? >> 4;
    (v == 4 || v == 6).then_some(off)
}

/// Source address of the IP packet in a frame, if any.
pub fn frame_src_ip(link_type: u16, data: &[u8]) -> Option<IpAddr> {
    let o = ip_offset(link_type, data)?;
    match data[o] >> 4 {
        4 => {
            let b: [u8; 4] = data.get(o + 12..o + 16)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        _ => {
            let b: [u8; 16] = data.get(o + 8..o + 24)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

// ---------------------------------------------------------------- FrameBuilder

/// Stateless helper that builds complete link-layer frames for one interface.
#[derive(Clone, Debug)]
pub struct FrameBuilder {
    pub link: Link,
}

impl FrameBuilder {
    pub fn new(link: Link) -> Self {
        FrameBuilder { link }
    }
    pub fn ethernet(local: [u8; 6], peer: [u8; 6]) -> Self {
        FrameBuilder {
            link: Link::eth(local, peer),
        }
    }
    /// Wraps an IP packet; direction comes from whether the source is an Edge address.
    pub fn wrap_ip(&self, ip: &[u8]) -> Vec<u8> {
        let outbound = ip_src(ip).map(is_edge_ip).unwrap_or(false);
        let mut v = Vec::with_capacity(ip.len() + 24);
        self.link.push_frame(&mut v, outbound, ip);
        v
    }
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut l4 = Vec::with_capacity(20 + payload.len());
        let opts: &[u8] = if flags & TCP_SYN != 0 {
            &SYN_OPTIONS
        } else {
            &[]
        };
        push_tcp(&mut l4, src, dst, seq, ack, flags, window, opts, payload);
        self.wrap_ip(&ip_packet(
            src.ip(),
            dst.ip(),
            6,
            0x1000,
            ttl_for(src.ip()),
            &l4,
        ))
    }
    pub fn udp(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
        let l4 = udp_bytes(src, dst, payload);
        self.wrap_ip(&ip_packet(
            src.ip(),
            dst.ip(),
            17,
            0x1000,
            ttl_for(src.ip()),
            &l4,
        ))
    }
}

fn ip_src(ip: &[u8]) -> Option<IpAddr> {
    frame_src_ip(LINKTYPE_RAW, ip)
}

// ---------------------------------------------------------------- Sim

/// Accumulates frames on a shared, strictly increasing clock plus the expected flows.
#[derive(Debug)]
pub struct Sim {
    pub now: i64,
    pub interfaces: Vec<Interface>,
    pub links: Vec<Link>,
    pub frames: Vec<Frame>,
    pub expected: Vec<ExpectedFlow>,
    pub rng: Rng,
    ip_ids: Vec<(IpAddr, u16)>,
}

impl Sim {
    pub fn new(seed: u64) -> Self {
        Sim {
            now: START_NS,
            interfaces: Vec::new(),
            links: Vec::new(),
            frames: Vec::new(),
            expected: Vec::new(),
            rng: Rng::new(seed),
            ip_ids: Vec::new(),
        }
    }
    pub fn add_interface(&mut self, name: &str, link_type: u16, snaplen: u32, link: Link) -> u32 {
        self.interfaces.push(Interface {
            name: name.to_string(),
            link_type,
            snaplen,
        });
        self.links.push(link);
        (self.interfaces.len() - 1) as u32
    }
    pub fn idle(&mut self, ns: i64) {
        self.now += ns;
    }
    /// Next IPv4 identification value for a host (per-host counter, like Windows).
    pub fn next_ip_id(&mut self, ip: IpAddr) -> u16 {
        if let Some(e) = self.ip_ids.iter_mut().find(|e| e.0 == ip) {
            e.1 = e.1.wrapping_add(1);
            return e.1;
        }
        let start = (self.rng.next_u32() & 0x7fff) as u16 + 0x100;
        self.ip_ids.push((ip, start));
        start
    }
    /// Emits an already-framed frame `dt_ns` after the previous one, applying the
    /// interface snaplen. Returns the wire length.
    pub fn emit_raw(&mut self, dt_ns: i64, interface: u32, mut data: Vec<u8>) -> u64 {
        // The very first frame sits exactly on the scenario start; later ones always advance.
        if !(self.frames.is_empty() && dt_ns <= 0) {
            self.now += dt_ns.max(1);
        }
        let orig_len = data.len() as u32;
        let snap = self
            .interfaces
            .get(interface as usize)
            .map_or(0, |i| i.snaplen);
        if snap != 0 && data.len() > snap as usize {
            data.truncate(snap as usize);
        }
        self.frames.push(Frame {
            ts_ns: self.now,
            interface,
            data,
            orig_len,
        });
        u64::from(orig_len)
    }
    /// Frames an IP packet for `interface` and emits it.
    pub fn emit_ip(&mut self, dt_ns: i64, interface: u32, ip: &[u8]) -> u64 {
        let outbound = ip_src(ip).map(is_edge_ip).unwrap_or(false);
        let mut data = Vec::with_capacity(ip.len() + 24);
        self.links[interface as usize].push_frame(&mut data, outbound, ip);
        self.emit_raw(dt_ns, interface, data)
    }
    pub fn into_capture(self) -> super::Capture {
        super::Capture {
            interfaces: self.interfaces,
            frames: self.frames,
            expected: self.expected,
        }
    }
}

// ---------------------------------------------------------------- flow timing

/// Direction inside a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// initiator -> responder
    Orig,
    /// responder -> initiator
    Resp,
}

impl Dir {
    fn idx(self) -> usize {
        match self {
            Dir::Orig => 0,
            Dir::Resp => 1,
        }
    }
    fn other(self) -> Dir {
        match self {
            Dir::Orig => Dir::Resp,
            Dir::Resp => Dir::Orig,
        }
    }
}

/// Picks the gap before a packet as seen from a capture point on the Edge: a
/// remote side answering the Edge shows up one RTT later, the Edge answers in a
/// fraction of a millisecond, back-to-back packets from one side are ~40 µs apart.
#[derive(Clone, Copy, Debug)]
struct Timing {
    rtt_ns: i64,
    last: Option<Dir>,
    local: [bool; 2],
}

impl Timing {
    fn gap(&mut self, dir: Dir) -> i64 {
        let g = match self.last {
            None => 0,
            Some(l) if l == dir => 40_000,
            Some(_) => {
                if self.local[dir.idx()] {
                    250_000
                } else {
                    self.rtt_ns
                }
            }
        };
        self.last = Some(dir);
        g
    }
}

fn new_flow(transport: u8, initiator: SocketAddr, responder: SocketAddr) -> ExpectedFlow {
    ExpectedFlow {
        transport,
        initiator,
        responder,
        orig_packets: 0,
        resp_packets: 0,
        orig_wire_bytes: 0,
        resp_wire_bytes: 0,
        conn_state: "OTH",
        label: "",
    }
}

fn count(flow: &mut ExpectedFlow, dir: Dir, wire: u64) {
    match dir {
        Dir::Orig => {
            flow.orig_packets += 1;
            flow.orig_wire_bytes += wire;
        }
        Dir::Resp => {
            flow.resp_packets += 1;
            flow.resp_wire_bytes += wire;
        }
    }
}

// ---------------------------------------------------------------- TCP conversation

/// A TCP connection that tracks sequence/ack numbers for both sides and counts
/// every frame it emits into its `ExpectedFlow`.
#[derive(Debug)]
pub struct TcpConv {
    pub iface: u32,
    pub ends: [SocketAddr; 2],
    /// Next sequence number each side will send.
    pub seq: [u32; 2],
    /// Whether each side has seen (and so acknowledges) the other's data.
    pub window: [u16; 2],
    pub mss: usize,
    pub flow: ExpectedFlow,
    timing: Timing,
    isn: [u32; 2],
}

impl TcpConv {
    pub fn new(
        sim: &mut Sim,
        iface: u32,
        client: SocketAddr,
        server: SocketAddr,
        rtt_ms: f64,
    ) -> Self {
        let isn = [sim.rng.next_u32(), sim.rng.next_u32()];
        TcpConv {
            iface,
            ends: [client, server],
            seq: isn,
            window: [0x0201, 0x0201],
            mss: 1460,
            flow: new_flow(6, client, server),
            timing: Timing {
                rtt_ns: (rtt_ms * 1e6) as i64,
                last: None,
                local: [is_edge_ip(client.ip()), is_edge_ip(server.ip())],
            },
            isn,
        }
    }

    /// Sends one segment with explicit seq/ack; does not advance state.
    pub fn raw(&mut self, sim: &mut Sim, dir: Dir, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let gap = self.timing.gap(dir);
        self.raw_at(sim, gap, dir, seq, ack, flags, payload);
    }

    /// Like `raw` with an explicit gap in nanoseconds.
    #[allow(clippy::too_many_arguments)]
    pub fn raw_at(
        &mut self,
        sim: &mut Sim,
        gap_ns: i64,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        self.timing.last = Some(dir);
        let (src, dst) = (self.ends[dir.idx()], self.ends[dir.other().idx()]);
        let opts: &[u8] = if flags & TCP_SYN != 0 {
            &SYN_OPTIONS
        } else {
            &[]
        };
        let win = if flags & TCP_SYN != 0 {
            64240
        } else {
            self.window[dir.idx()]
        };
        let mut l4 = Vec::with_capacity(20 + opts.len() + payload.len());
        push_tcp(&mut l4, src, dst, seq, ack, flags, win, opts, payload);
        let id = sim.next_ip_id(src.ip());
        let ip = ip_packet(src.ip(), dst.ip(), 6, id, ttl_for(src.ip()), &l4);
        let wire = sim.emit_ip(gap_ns, self.iface, &ip);
        count(&mut self.flow, dir, wire);
    }

    /// The ack value `dir` currently sends (next expected byte from the other side).
    pub fn ack_of(&self, dir: Dir) -> u32 {
        self.seq[dir.other().idx()]
    }

    /// Sends a segment with the current seq/ack and advances seq for SYN/FIN/payload.
    pub fn seg(&mut self, sim: &mut Sim, dir: Dir, flags: u8, payload: &[u8]) {
        let seq = self.seq[dir.idx()];
        let ack = if flags & TCP_ACK != 0 {
            self.ack_of(dir)
        } else {
            0
        };
        self.raw(sim, dir, seq, ack, flags, payload);
        let mut adv = payload.len() as u32;
        if flags & (TCP_SYN | TCP_FIN) != 0 {
            adv += 1;
        }
        self.seq[dir.idx()] = seq.wrapping_add(adv);
    }

    pub fn syn(&mut self, sim: &mut Sim) {
        self.seg(sim, Dir::Orig, TCP_SYN, &[]);
    }
    /// SYN retransmission (same ISN) after `gap_ns`.
    pub fn syn_retransmit(&mut self, sim: &mut Sim, gap_ns: i64) {
        let isn = self.isn[0];
        self.raw_at(sim, gap_ns, Dir::Orig, isn, 0, TCP_SYN, &[]);
    }
    pub fn syn_ack(&mut self, sim: &mut Sim) {
        self.seg(sim, Dir::Resp, TCP_SYN | TCP_ACK, &[]);
    }
    pub fn handshake(&mut self, sim: &mut Sim) {
        self.syn(sim);
        self.syn_ack(sim);
        self.ack(sim, Dir::Orig);
    }
    pub fn ack(&mut self, sim: &mut Sim, dir: Dir) {
        self.seg(sim, dir, TCP_ACK, &[]);
    }
    /// Sends `payload` from `dir`, split at the MSS; the last segment carries PSH.
    pub fn data(&mut self, sim: &mut Sim, dir: Dir, payload: &[u8]) {
        let n = payload.len().div_ceil(self.mss).max(1);
        for (i, chunk) in payload.chunks(self.mss).enumerate() {
            let flags = if i + 1 == n {
                TCP_PSH | TCP_ACK
            } else {
                TCP_ACK
            };
            self.seg(sim, dir, flags, chunk);
        }
    }
    /// Sends `payload` from `dir` and lets the other side acknowledge it.
    pub fn data_acked(&mut self, sim: &mut Sim, dir: Dir, payload: &[u8]) {
        self.data(sim, dir, payload);
        self.ack(sim, dir.other());
    }
    pub fn fin(&mut self, sim: &mut Sim, dir: Dir) {
        self.seg(sim, dir, TCP_FIN | TCP_ACK, &[]);
    }
    /// Orderly close: `dir` sends FIN, peer ACKs with its own FIN, `dir` ACKs.
    pub fn close(&mut self, sim: &mut Sim, dir: Dir) {
        self.fin(sim, dir);
        self.fin(sim, dir.other());
        self.ack(sim, dir);
    }
    /// RST|ACK from `dir` with the current sequence number.
    pub fn rst(&mut self, sim: &mut Sim, dir: Dir) {
        self.seg(sim, dir, TCP_RST | TCP_ACK, &[]);
    }
    /// Records the expected flow with its intended Zeek state and label.
    pub fn finish(self, sim: &mut Sim, conn_state: &'static str, label: &'static str) {
        let mut f = self.flow;
        f.conn_state = conn_state;
        f.label = label;
        sim.expected.push(f);
    }
}

// ---------------------------------------------------------------- UDP flow

/// A UDP flow (initiator/responder) that counts its frames.
#[derive(Debug)]
pub struct UdpFlow {
    pub iface: u32,
    pub ends: [SocketAddr; 2],
    pub flow: ExpectedFlow,
    timing: Timing,
}

impl UdpFlow {
    pub fn new(iface: u32, client: SocketAddr, server: SocketAddr, rtt_ms: f64) -> Self {
        UdpFlow {
            iface,
            ends: [client, server],
            flow: new_flow(17, client, server),
            timing: Timing {
                rtt_ns: (rtt_ms * 1e6) as i64,
                last: None,
                local: [is_edge_ip(client.ip()), is_edge_ip(server.ip())],
            },
        }
    }
    pub fn send(&mut self, sim: &mut Sim, dir: Dir, payload: &[u8]) {
        let gap = self.timing.gap(dir);
        self.send_at(sim, gap, dir, payload);
    }
    pub fn send_at(&mut self, sim: &mut Sim, gap_ns: i64, dir: Dir, payload: &[u8]) {
        self.timing.last = Some(dir);
        let (src, dst) = (self.ends[dir.idx()], self.ends[dir.other().idx()]);
        let l4 = udp_bytes(src, dst, payload);
        let id = sim.next_ip_id(src.ip());
        let ip = ip_packet(src.ip(), dst.ip(), 17, id, ttl_for(src.ip()), &l4);
        let wire = sim.emit_ip(gap_ns, self.iface, &ip);
        count(&mut self.flow, dir, wire);
    }
    /// Sends one IPv4 datagram as fragments. `frag_payload` is the IP payload size of
    /// each non-final fragment (multiple of 8); `order` lists fragment indices in
    /// emission order. Every fragment counts as one packet of this flow.
    pub fn send_fragmented(
        &mut self,
        sim: &mut Sim,
        dir: Dir,
        payload: &[u8],
        frag_payload: usize,
        order: &[usize],
    ) {
        let (src, dst) = (self.ends[dir.idx()], self.ends[dir.other().idx()]);
        let (IpAddr::V4(s4), IpAddr::V4(d4)) = (src.ip(), dst.ip()) else {
            return;
        };
        let l4 = udp_bytes(src, dst, payload);
        let id = sim.next_ip_id(src.ip());
        let pieces: Vec<&[u8]> = l4.chunks(frag_payload).collect();
        for &i in order {
            let Some(piece) = pieces.get(i) else { continue };
            let m = V4Meta {
                id,
                ttl: ttl_for(src.ip()),
                dont_fragment: false,
                more_fragments: i + 1 < pieces.len(),
                frag_offset: (i * frag_payload) as u16,
            };
            let mut ip = Vec::with_capacity(20 + piece.len());
            push_ipv4_header(&mut ip, s4, d4, 17, piece.len(), m);
            ip.extend_from_slice(piece);
            let gap = self.timing.gap(dir);
            let wire = sim.emit_ip(gap, self.iface, &ip);
            count(&mut self.flow, dir, wire);
        }
    }
    /// Emits a caller-built IP packet as part of this flow (e.g. with IPv6 extension headers).
    pub fn send_ip(&mut self, sim: &mut Sim, dir: Dir, ip: &[u8]) {
        let gap = self.timing.gap(dir);
        let wire = sim.emit_ip(gap, self.iface, ip);
        count(&mut self.flow, dir, wire);
    }
    pub fn finish(self, sim: &mut Sim, conn_state: &'static str, label: &'static str) {
        let mut f = self.flow;
        f.conn_state = conn_state;
        f.label = label;
        sim.expected.push(f);
    }
}

/// Records a single-packet-or-more ICMP/other-protocol flow emitted by the caller.
pub fn push_flow(
    sim: &mut Sim,
    mut f: ExpectedFlow,
    conn_state: &'static str,
    label: &'static str,
) {
    f.conn_state = conn_state;
    f.label = label;
    sim.expected.push(f);
}

/// An empty `ExpectedFlow` for protocols without ports (ICMP uses type/code as Zeek does).
pub fn empty_flow(transport: u8, initiator: SocketAddr, responder: SocketAddr) -> ExpectedFlow {
    new_flow(transport, initiator, responder)
}

/// Adds one packet to a flow's counters (for flows emitted by hand).
pub fn count_packet(flow: &mut ExpectedFlow, dir: Dir, wire: u64) {
    count(flow, dir, wire);
}

pub fn sa(s: &str) -> SocketAddr {
    // Scenario addresses are literals in this module; a typo is a programming error
    // caught by the scenario tests, so fall back to an obviously wrong address.
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn ipv4_header_checksum_verifies() {
        let mut v = Vec::new();
        let m = V4Meta {
            id: 1,
            ttl: 64,
            dont_fragment: true,
            more_fragments: false,
            frag_offset: 0,
        };
        push_ipv4_header(
            &mut v,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            6,
            20,
            m,
        );
        assert_eq!(inet_checksum(&v), 0);
    }

    #[test]
    fn tcp_frame_parses_with_etherparse() {
        let fb = FrameBuilder::ethernet(EDGE_EXT_MAC, EXT_GW_MAC);
        let f = fb.tcp(
            sa("203.0.113.5:50000"),
            sa("10.45.16.10:443"),
            1,
            2,
            TCP_PSH | TCP_ACK,
            1000,
            b"hello",
        );
        let p = etherparse::SlicedPacket::from_ethernet(&f).expect("parse");
        match p.transport {
            Some(etherparse::TransportSlice::Tcp(t)) => {
                assert_eq!(t.destination_port(), 443);
                assert_eq!(t.payload(), b"hello");
            }
            other => panic!("unexpected {other:?}"),
        }
        // Inbound frame padded to the Ethernet minimum.
        assert_eq!(f.len(), 14 + 20 + 20 + 5 + 1);
    }
}
