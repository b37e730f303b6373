//! STUN (RFC 8489 / RFC 5389), classic STUN (RFC 3489), TURN (RFC 8656) and MS-TURN
//! ([MS-TURN]): messages, ChannelData, the MS multiplexed channel 0xFF10, and the TCP framings
//! (unframed RFC 8489 §6.2.2, RFC 4571 length prefix, MS-TURN `02 00 LL LL`, pseudo-TLS).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use compact_str::CompactString;
use serde::Serialize;

use super::rtp::Collector;
use super::tls::TlsInfo;
use super::{be16, be32, hex, ProbeResult, Protocol, RtpInfo};

/// Named offsets.
mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 2;
    pub const COOKIE: Range<usize> = 4..8;
    /// The XOR key of RFC 8489 §14.2: cookie followed by the transaction ID.
    pub const XOR_KEY: Range<usize> = 4..20;
    pub const TXID: Range<usize> = 8..20;
    /// Without the RFC 5389 cookie (RFC 3489, MS-TURN Data Indications) the transaction ID is
    /// 128 bits.
    pub const TXID_CLASSIC: Range<usize> = 4..20;
    pub const HEADER: usize = 20;
    /// [MS-TURN] §2.2.2.8: the Magic Cookie attribute is the first attribute.
    pub const MS_COOKIE_ATTR: Range<usize> = 20..28;
    /// ChannelData (RFC 8656 §12.4) and the MS multiplexed header ([MS-TURN] §2.2.3).
    pub const CHANNEL: usize = 0;
    pub const CHANNEL_LEN: usize = 2;
    pub const CHANNEL_DATA: usize = 4;
    pub const MUX_DATA: usize = 12;
    /// MS-TURN TCP framing header (libnice udp-turn-over-tcp.c, OC2007 compatibility).
    pub const FRAME_TYPE: usize = 0;
    pub const FRAME_RESERVED: usize = 1;
    pub const FRAME_LEN: usize = 2;
    pub const FRAME_HEADER: usize = 4;
    /// Pseudo-TLS ClientHello template ([MS-TURN] pseudo-TLS; libnice pseudossl.c).
    pub const PSEUDO_HEAD: Range<usize> = 0..11;
    pub const PSEUDO_TAIL: Range<usize> = 43..50;
    pub const PSEUDO_CLIENT_LEN: usize = 50;
}

pub const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Type 0x000F, length 4, value 0x72C64BC6.
pub const MS_COOKIE_ATTR: [u8; 8] = [0x00, 0x0f, 0x00, 0x04, 0x72, 0xc6, 0x4b, 0xc6];
/// XMCP (RFC 6315... Wireshark classicstun excludes it) uses its own cookie.
const XMCP_COOKIE: [u8; 4] = [0x7f, 0x5a, 0x9b, 0xc7];
const PSEUDO_HEAD: [u8; 11] = [
    0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01,
];
/// session_id length 0, one cipher suite TLS_DH_anon_WITH_RC4_128_MD5, null compression.
const PSEUDO_TAIL: [u8; 7] = [0x00, 0x00, 0x02, 0x00, 0x18, 0x01, 0x00];
const PSEUDO_CIPHER: u16 = 0x0018;

const ATTR_MAPPED: u16 = 0x0001;
const ATTR_ERROR: u16 = 0x0009;
const ATTR_CHANNEL_NUMBER: u16 = 0x000c;
const ATTR_LIFETIME: u16 = 0x000d;
/// [MS-TURN] DESTINATION-ADDRESS (Set Active Destination, Send).
const ATTR_MS_DESTINATION: u16 = 0x0011;
/// RFC 8656 XOR-PEER-ADDRESS ([MS-TURN]'s REMOTE-ADDRESS has the same number).
const ATTR_XOR_PEER: u16 = 0x0012;
const ATTR_DATA: u16 = 0x0013;
const ATTR_XOR_RELAYED: u16 = 0x0016;
const ATTR_XOR_MAPPED: u16 = 0x0020;
const ATTR_MS_XOR_MAPPED: u16 = 0x8020;
const ATTR_MS_VERSION: u16 = 0x8008;
const ATTR_SOFTWARE: u16 = 0x8022;
const ATTR_FINGERPRINT: u16 = 0x8028;
/// RFC 8489 §14.7.
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// How the STUN messages were carried.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StunFraming {
    #[default]
    #[serde(rename = "udp")]
    Udp,
    /// Back-to-back messages on TCP (RFC 8489 §6.2.2, RFC 8656 §12.5).
    #[serde(rename = "tcp")]
    Tcp,
    /// RFC 4571 2-byte length prefix (ICE-TCP, RFC 6544).
    #[serde(rename = "tcp-rfc4571")]
    TcpRfc4571,
    /// MS-TURN `02 00 LL LL` / `03 00 LL LL` framing.
    #[serde(rename = "ms-turn-tcp")]
    MsTurnTcp,
    /// MS-TURN framing after the pseudo-TLS handshake on TCP 443.
    #[serde(rename = "pseudo-tls")]
    PseudoTls,
}

/// What the STUN/TURN messages of a flow showed. Method, class and transaction ID are the
/// first message's; the rest is gathered over all messages in the prefix.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StunInfo {
    #[serde(skip_serializing_if = "CompactString::is_empty")]
    pub method: CompactString,
    #[serde(skip_serializing_if = "CompactString::is_empty")]
    pub class: CompactString,
    #[serde(skip_serializing_if = "CompactString::is_empty")]
    pub transaction_id: CompactString,
    /// The RFC 5389 magic cookie 0x2112A442 was in the header.
    pub magic_cookie: bool,
    /// RFC 3489 messages (no cookie, no MS-TURN attribute) were seen.
    pub classic_rfc3489: bool,
    /// MS-Version (0x8008).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<CompactString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xor_mapped: Option<CompactString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<CompactString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xor_relayed: Option<CompactString>,
    /// The MS-TURN Magic Cookie attribute (0x000F) was the first attribute.
    pub ms_magic_cookie_first: bool,
    pub channel_data: bool,
    /// MS multiplexed TURN channel 0xFF10.
    pub ms_multiplexed: bool,
    pub framing: StunFraming,
    /// "Allocate request", "Allocate error 401"... (first 16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<CompactString>,
    pub message_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<CompactString>,
    /// FINGERPRINT checked (RFC 8489 §14.7): all present ones valid?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint_valid: Option<bool>,
    /// Attribute types seen (first 32 distinct).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<u16>,
    /// DTLS records on the same 5-tuple (WebRTC DTLS-SRTP; SfB keys SRTP with SDES instead).
    pub dtls_seen: bool,
    /// A TURN method (Allocate, Refresh/Send, Data, CreatePermission, ChannelBind...) was seen.
    pub turn_method_seen: bool,
    /// The TURN session these messages ran, when they ran one. Boxed: most STUN flows are a
    /// Binding or two and run no TURN session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<Box<TurnSession>>,
}

impl StunInfo {
    /// Lists sized to what they hold: a finished flow keeps its evidence to the end of the run,
    /// and a Binding request's one message name sat in room for four.
    fn fitted(mut self) -> StunInfo {
        self.messages.shrink_to_fit();
        self.attributes.shrink_to_fit();
        if let Some(t) = self.turn.as_mut() {
            t.relayed.shrink_to_fit();
            t.peers.shrink_to_fit();
            t.errors.shrink_to_fit();
        }
        self
    }
}

/// Most relayed and peer addresses kept per session (the rest are counted).
const TURN_ADDRESSES: usize = 8;

/// A TURN allocation followed through its control messages: what it relayed, for whom, how
/// it ended. Calls are correlated from these, so the addresses are typed.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TurnSession {
    /// XOR-RELAYED-ADDRESS of each successful Allocate (the Edge's public A/V address behind NAT).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relayed: Vec<SocketAddr>,
    /// Peers permitted or sent to: XOR-PEER-ADDRESS of CreatePermission, ChannelBind and Send,
    /// or [MS-TURN]'s DESTINATION-ADDRESS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<SocketAddr>,
    /// Peers past the first ones kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_peers: u32,
    pub allocate_requests: u32,
    pub allocations: u32,
    pub permissions: u32,
    pub channel_binds: u32,
    pub refreshes: u32,
    /// Error responses, by code (401 is the normal first answer to an Allocate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<u16>,
    /// A Refresh with LIFETIME 0 ended the allocation.
    pub deallocated: bool,
    /// The LIFETIME the server granted last, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifetime_s: Option<u32>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl TurnSession {
    fn add_peer(&mut self, a: SocketAddr) {
        if self.peers.contains(&a) {
            return;
        }
        if self.peers.len() < TURN_ADDRESSES {
            self.peers.push(a);
        } else {
            self.more_peers = self.more_peers.saturating_add(1);
        }
    }

    /// One control message of the session.
    fn add(&mut self, m: &Msg<'_>) {
        let method = method_of(m.typ);
        let class = class_of(m.typ);
        let attr = |t: u16| m.attrs.iter().find(|(a, _)| *a == t).map(|(_, v)| *v);
        match (method, class) {
            (0x003, 0) => self.allocate_requests = self.allocate_requests.saturating_add(1),
            (0x003, 2) => {
                self.allocations = self.allocations.saturating_add(1);
                if let Some(r) = attr(ATTR_XOR_RELAYED).and_then(|v| socket_addr(v, Some(m.key))) {
                    if !self.relayed.contains(&r) && self.relayed.len() < TURN_ADDRESSES {
                        self.relayed.push(r);
                    }
                }
            }
            (0x004, 0) if !m.ms_first => {
                self.refreshes = self.refreshes.saturating_add(1);
                if attr(ATTR_LIFETIME).and_then(|v| be32(v, 0)) == Some(0) {
                    self.deallocated = true;
                }
            }
            (0x008, 0) => self.permissions = self.permissions.saturating_add(1),
            (0x009, 0) => self.channel_binds = self.channel_binds.saturating_add(1),
            (_, 3) => {
                if let Some(v) = attr(ATTR_ERROR) {
                    if let (Some(&c), Some(&n)) = (v.get(2), v.get(3)) {
                        let code = u16::from(c & 7) * 100 + u16::from(n);
                        if self.errors.len() < TURN_ADDRESSES {
                            self.errors.push(code);
                        }
                    }
                }
            }
            _ => {}
        }
        if class == 2 {
            if let Some(l) = attr(ATTR_LIFETIME).and_then(|v| be32(v, 0)) {
                self.lifetime_s = Some(l);
            }
        }
        // Requests and indications name the peer; responses echo the client's own view.
        if class <= 1 {
            for &(t, v) in &m.attrs {
                let peer = match t {
                    ATTR_XOR_PEER => socket_addr(v, Some(m.key)),
                    ATTR_MS_DESTINATION => socket_addr(v, None),
                    _ => None,
                };
                if let Some(p) = peer {
                    self.add_peer(p);
                }
            }
        }
    }
}

/// One parsed message.
#[derive(Debug)]
pub(crate) struct Msg<'a> {
    typ: u16,
    cookie: bool,
    ms_first: bool,
    method: CompactString,
    class: &'static str,
    txid: &'a [u8],
    attrs: Vec<(u16, &'a [u8])>,
    key: &'a [u8],
    fingerprint_ok: Option<bool>,
}

/// RFC 8489 §5: class bits C1 (0x0100) and C0 (0x0010).
fn class_of(t: u16) -> u8 {
    (((t & 0x0010) >> 4) | ((t & 0x0100) >> 7)) as u8
}

/// RFC 8489 §5: method bits around the class bits.
fn method_of(t: u16) -> u16 {
    (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2)
}

fn class_name(c: u8) -> &'static str {
    match c {
        0 => "request",
        1 => "indication",
        2 => "success",
        _ => "error",
    }
}

fn method_name(m: u16, ms: bool) -> CompactString {
    match m {
        0x001 => "Binding".into(),
        0x002 => "SharedSecret".into(),
        0x003 => "Allocate".into(),
        // [MS-TURN] §2.2.2: 0x0004 is the Send request; RFC 8656 reuses it for Refresh.
        0x004 if ms => "Send".into(),
        0x004 => "Refresh".into(),
        // [MS-TURN]: 0x0006 Set Active Destination; RFC 8656: Send.
        0x006 if ms => "SetActiveDestination".into(),
        0x006 => "Send".into(),
        0x007 => "Data".into(),
        0x008 => "CreatePermission".into(),
        0x009 => "ChannelBind".into(),
        0x00a => "Connect".into(),
        0x00b => "ConnectionBind".into(),
        0x00c => "ConnectionAttempt".into(),
        0x080 => "GooglePing".into(),
        m => compact_str::format_compact!("0x{m:03x}"),
    }
}

/// RFC 3489 §11.1 message types, and [MS-TURN] §2.2.2's, which share the old numbering
/// (0x0115 is the MS-TURN Data Indication). Returns (method, class).
fn classic_type(t: u16) -> Option<(&'static str, &'static str)> {
    Some(match t {
        0x0001 => ("Binding", "request"),
        0x0101 => ("Binding", "success"),
        0x0111 => ("Binding", "error"),
        0x0002 => ("SharedSecret", "request"),
        0x0102 => ("SharedSecret", "success"),
        // RFC 3489 says 0x0112; Wireshark's table has 0x1112.
        0x0112 | 0x1112 => ("SharedSecret", "error"),
        0x0003 => ("Allocate", "request"),
        0x0103 => ("Allocate", "success"),
        0x0113 => ("Allocate", "error"),
        0x0004 => ("Send", "request"),
        0x0104 => ("Send", "success"),
        0x0114 => ("Send", "error"),
        0x0115 => ("Data", "indication"),
        0x0006 => ("SetActiveDestination", "request"),
        0x0106 => ("SetActiveDestination", "success"),
        0x0116 => ("SetActiveDestination", "error"),
        _ => return None,
    })
}

/// Walks TLV attributes; `padded` rounds each value to 4 bytes (RFC 8489 §14), MS-TURN and
/// RFC 3489 do not. Succeeds only when the walk ends exactly at the end.
fn walk_attrs(b: &[u8], padded: bool) -> Option<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        let t = be16(b, at)?;
        let len = usize::from(be16(b, at + 2)?);
        let v = b.get(at + 4..at + 4 + len)?;
        out.push((t, v));
        let step = if padded { (len + 3) & !3 } else { len };
        at += 4 + step;
        if out.len() > 64 {
            return None;
        }
    }
    (at == b.len()).then_some(out)
}

/// CRC-32 (IEEE, reflected), as FINGERPRINT uses (RFC 8489 §14.7).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Parses exactly one STUN/MS-TURN/RFC 3489 message filling all of `p`.
pub(crate) fn parse(p: &[u8]) -> Option<Msg<'_>> {
    let t = be16(p, field::TYPE)?;
    let len = usize::from(be16(p, field::LENGTH)?);
    if t & 0xc000 != 0 || field::HEADER + len != p.len() {
        return None;
    }
    let cookie = p.get(field::COOKIE)? == MAGIC_COOKIE;
    let ms_first = p.get(field::MS_COOKIE_ATTR) == Some(&MS_COOKIE_ATTR[..]);
    let body = p.get(field::HEADER..)?;
    let (method, class, txid, attrs) = if cookie {
        let m = method_of(t);
        // RFC 7983 §7: methods above 0xFF are reserved to keep STUN apart from DTLS-SRTP.
        if m > 0xff {
            return None;
        }
        let attrs = walk_attrs(body, true)
            .or_else(|| walk_attrs(body, false))
            .unwrap_or_default();
        let (mn, cn) = match classic_type(t) {
            Some((mn, cn)) if ms_first => (CompactString::const_new(mn), cn),
            _ => (method_name(m, ms_first), class_name(class_of(t))),
        };
        (mn, cn, p.get(field::TXID)?, attrs)
    } else {
        if p.get(field::COOKIE)? == XMCP_COOKIE {
            return None;
        }
        let (mn, cn) = classic_type(t)?;
        // Not padded in RFC 3489 and MS-TURN; some stacks pad anyway.
        let attrs = walk_attrs(body, false).or_else(|| walk_attrs(body, true))?;
        (
            CompactString::const_new(mn),
            cn,
            p.get(field::TXID_CLASSIC)?,
            attrs,
        )
    };
    let mut fingerprint_ok = None;
    if let Some(&(ATTR_FINGERPRINT, v)) = attrs.last() {
        // The FINGERPRINT attribute is the last 8 bytes.
        if let (Some(val), Some(covered)) = (be32(v, 0), p.len().checked_sub(8)) {
            fingerprint_ok = Some(crc32(&p[..covered]) ^ FINGERPRINT_XOR == val);
        }
    }
    Some(Msg {
        typ: t,
        cookie,
        ms_first,
        method,
        class,
        txid,
        attrs,
        key: p.get(field::XOR_KEY)?,
        fingerprint_ok,
    })
}

/// An address attribute (RFC 8489 §14.1/§14.2) as "ip:port"; XOR'd with `key` when given.
fn address(v: &[u8], key: Option<&[u8]>) -> Option<CompactString> {
    socket_addr(v, key).map(|a| compact_str::format_compact!("{a}"))
}

/// A STUN address attribute, XOR'ed with `key` (cookie and transaction ID) when given.
fn socket_addr(v: &[u8], key: Option<&[u8]>) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let mut port = be16(v, 2)?;
    let k = |i: usize| key.and_then(|k| k.get(i).copied()).unwrap_or(0);
    if key.is_some() {
        port ^= u16::from_be_bytes([k(0), k(1)]);
    }
    match family {
        1 => {
            let a = v.get(4..8)?;
            let ip = Ipv4Addr::new(a[0] ^ k(0), a[1] ^ k(1), a[2] ^ k(2), a[3] ^ k(3));
            Some(SocketAddr::new(ip.into(), port))
        }
        2 => {
            let a = v.get(4..20)?;
            let mut o = [0u8; 16];
            for (i, b) in a.iter().enumerate() {
                o[i] = b ^ k(i);
            }
            Some(SocketAddr::new(Ipv6Addr::from(o).into(), port))
        }
        _ => None,
    }
}

/// Gathers messages and media of one flow.
#[derive(Default)]
struct Acc {
    info: StunInfo,
    /// Messages with the RFC 5389 cookie or the MS-TURN attribute (strong signatures).
    strong: u32,
    classic: u32,
    channel_frames: u32,
    mux_frames: u32,
    rtp: Collector,
}

impl Acc {
    fn add(&mut self, m: &Msg<'_>) {
        let i = &mut self.info;
        if i.message_count == 0 {
            i.method = m.method.clone();
            i.class = CompactString::const_new(m.class);
            i.transaction_id = hex(m.txid).into();
        }
        i.message_count += 1;
        if m.cookie || m.ms_first {
            self.strong += 1;
        } else {
            self.classic += 1;
            i.classic_rfc3489 = true;
        }
        i.magic_cookie |= m.cookie;
        i.ms_magic_cookie_first |= m.ms_first;
        if matches!(method_of(m.typ), 0x003 | 0x004 | 0x006..=0x00c) || m.typ == 0x0115 {
            i.turn_method_seen = true;
            i.turn.get_or_insert_with(Default::default).add(m);
        }
        if i.messages.len() < 16 {
            let mut s = compact_str::format_compact!("{} {}", m.method, m.class);
            if let Some(&(_, v)) = m.attrs.iter().find(|(t, _)| *t == ATTR_ERROR) {
                if let (Some(&c), Some(&n)) = (v.get(2), v.get(3)) {
                    let _ = write!(s, " {}", u16::from(c & 7) * 100 + u16::from(n));
                }
            }
            i.messages.push(s);
        }
        if let Some(ok) = m.fingerprint_ok {
            i.fingerprint_valid = Some(i.fingerprint_valid.unwrap_or(true) && ok);
        }
        for &(t, v) in &m.attrs {
            if i.attributes.len() < 32 && !i.attributes.contains(&t) {
                i.attributes.push(t);
            }
            match t {
                ATTR_MAPPED if i.mapped.is_none() => i.mapped = address(v, None),
                ATTR_XOR_MAPPED | ATTR_MS_XOR_MAPPED if i.xor_mapped.is_none() => {
                    i.xor_mapped = address(v, Some(m.key));
                }
                ATTR_XOR_RELAYED if i.xor_relayed.is_none() => {
                    i.xor_relayed = address(v, Some(m.key));
                }
                ATTR_MS_VERSION => {
                    if let Some(x) = be32(v, 0) {
                        i.ms_version = Some(x);
                    }
                }
                ATTR_ERROR => {
                    // RFC 8489 §14.8: 21 reserved bits, class (3 bits), number (8 bits), reason.
                    if let (Some(&c), Some(&n)) = (v.get(2), v.get(3)) {
                        if i.error_code.is_none() {
                            i.error_code = Some(u16::from(c & 7) * 100 + u16::from(n));
                            // An empty reason phrase is no reason: absent, not "".
                            i.error_reason = Some(super::text(&v[4.min(v.len())..], 128))
                                .filter(|r| !r.is_empty())
                                .map(CompactString::from);
                        }
                    }
                }
                ATTR_SOFTWARE if i.software.is_none() => {
                    i.software = Some(super::text(v, 128).trim_end_matches('.').into());
                }
                ATTR_CHANNEL_NUMBER => i.turn_method_seen = true,
                // Relayed data (Send/Data indications): the peer's STUN (not counted as this
                // flow's messages) or media.
                ATTR_DATA if parse(v).is_none() => {
                    self.rtp.add(v);
                }
                _ => {}
            }
        }
    }

    /// One relayed payload (ChannelData, 0xFF10, MS-TURN end-to-end data): STUN or media.
    fn inner(&mut self, p: &[u8]) {
        if let Some(m) = parse(p) {
            self.add(&m);
        } else {
            self.rtp.add(p);
        }
    }

    fn rtp(&self) -> Option<RtpInfo> {
        self.rtp.clone().result().into_parts().map(|(_, r)| r)
    }
}

/// ChannelData on UDP: `len == 4 + L`, or padded to 4 (RFC 8656 §12.5). Returns the data.
fn channel_data(p: &[u8], tcp: bool) -> Option<&[u8]> {
    let ch = be16(p, field::CHANNEL)?;
    let l = usize::from(be16(p, field::CHANNEL_LEN)?);
    // RFC 5766 allowed 0x4000-0x7FFF (RFC 8656 narrowed it to 0x4FFF).
    if !(0x4000..=0x7fff).contains(&ch) {
        return None;
    }
    let exact = field::CHANNEL_DATA + l;
    let padded = (exact + 3) & !3;
    let ok = if tcp {
        p.len() >= padded
    } else {
        p.len() == exact || p.len() == padded
    };
    ok.then(|| p.get(field::CHANNEL_DATA..exact)).flatten()
}

/// MS multiplexed TURN ([MS-TURN] §2.2.3): `FF 10 LL LL` + 8-byte session ID + data.
fn ms_mux(p: &[u8]) -> Option<&[u8]> {
    let l = usize::from(be16(p, field::CHANNEL_LEN)?);
    (be16(p, field::CHANNEL)? == 0xff10 && l >= 8 && l + 4 == p.len())
        .then(|| p.get(field::MUX_DATA..))
        .flatten()
}

/// A DTLS record header (RFC 6347 §4.1): content type 20-25, version 0xFEFF/0xFEFD/0xFEFC,
/// 13-byte header and a length that fits.
pub(crate) fn is_dtls(p: &[u8]) -> bool {
    matches!(p.first(), Some(20..=25))
        && p.get(1) == Some(&0xfe)
        && matches!(p.get(2), Some(0xff | 0xfd | 0xfc))
        && be16(p, 11).is_some_and(|l| 13 + usize::from(l) <= p.len())
}

/// The protocol a StunInfo stands for.
pub fn protocol_of(s: &StunInfo) -> Protocol {
    if s.framing == StunFraming::PseudoTls {
        Protocol::PseudoTls
    } else if s.ms_magic_cookie_first || s.ms_version.is_some() || s.ms_multiplexed {
        Protocol::MsTurn
    } else if s.turn_method_seen || s.channel_data {
        Protocol::Turn
    } else {
        Protocol::Stun
    }
}

/// Probes UDP datagrams (both directions). `stun_port`: 3478/3479 on either side.
pub fn probe_datagrams(
    orig: &[&[u8]],
    resp: &[&[u8]],
    stun_port: bool,
) -> ProbeResult<(StunInfo, Option<RtpInfo>)> {
    let mut acc = Acc::default();
    let mut channel_candidates: Vec<&[u8]> = Vec::new();
    for &p in orig.iter().chain(resp) {
        match p.first() {
            Some(0..=3) => {
                if let Some(m) = parse(p) {
                    acc.add(&m);
                }
            }
            Some(64..=79) => {
                if let Some(d) = channel_data(p, false) {
                    channel_candidates.push(d);
                }
            }
            Some(0xff) => {
                if let Some(d) = ms_mux(p) {
                    acc.mux_frames += 1;
                    acc.info.ms_multiplexed = true;
                    acc.inner(d);
                }
            }
            Some(20..=63) => acc.info.dtls_seen |= is_dtls(p),
            Some(128..=191) => {
                acc.rtp.add(p);
            }
            _ => {}
        }
    }
    // ChannelData only on a flow that has shown TURN: its 4-byte header alone is weak
    // (Wireshark refuses it heuristically, dpi.md §3.2). On the TURN port, two in a row will do.
    if acc.info.turn_method_seen || (stun_port && channel_candidates.len() >= 2) {
        for d in &channel_candidates {
            acc.channel_frames += 1;
            acc.info.channel_data = true;
            acc.inner(d);
        }
    }
    if acc.info.message_count == 0 && acc.channel_frames == 0 {
        return ProbeResult::NotThis;
    }
    let rtp = acc.rtp();
    let certain = acc.strong > 0 || acc.classic >= 2 || (acc.classic >= 1 && stun_port);
    let out = (acc.info.fitted(), rtp);
    if certain {
        ProbeResult::Certain(out)
    } else {
        ProbeResult::Unsure(out)
    }
}

/// Walks one TCP direction of unframed or RFC 4571-framed STUN. Returns the framing found.
fn walk_tcp(b: &[u8], acc: &mut Acc) -> Option<StunFraming> {
    let rfc4571 = if b.get(field::COOKIE) == Some(&MAGIC_COOKIE[..]) && b[0] & 0xc0 == 0 {
        false
    } else if b.get(6..10) == Some(&MAGIC_COOKIE[..])
        && be16(b, 0).is_some_and(|l| usize::from(l) >= 20)
    {
        true
    } else {
        return None;
    };
    let mut at = 0usize;
    let mut found = false;
    for _ in 0..256 {
        let rest = &b[at..];
        if rest.is_empty() {
            break;
        }
        let (msg, next) = if rfc4571 {
            let Some(l) = be16(rest, 0) else { break };
            let end = 2 + usize::from(l);
            let Some(m) = rest.get(2..end) else { break };
            (m, end)
        } else if rest[0] & 0xc0 == 0 {
            let Some(l) = be16(rest, field::LENGTH) else {
                break;
            };
            let end = field::HEADER + usize::from(l);
            let Some(m) = rest.get(..end) else { break };
            (m, end)
        } else if let Some(d) = channel_data(rest, true) {
            let end = (field::CHANNEL_DATA + d.len() + 3) & !3;
            acc.channel_frames += 1;
            acc.info.channel_data = true;
            acc.rtp.add(d);
            at += end;
            continue;
        } else {
            break;
        };
        match parse(msg) {
            Some(m) => {
                acc.add(&m);
                found = true;
            }
            None if found => {
                acc.rtp.add(msg);
            }
            None => return None,
        }
        at += next;
    }
    found.then_some(if rfc4571 {
        StunFraming::TcpRfc4571
    } else {
        StunFraming::Tcp
    })
}

/// STUN/TURN over TCP without MS-TURN framing.
pub fn probe_tcp(o: &[u8], r: &[u8]) -> ProbeResult<(StunInfo, Option<RtpInfo>)> {
    let mut acc = Acc::default();
    let f1 = walk_tcp(o, &mut acc);
    let f2 = walk_tcp(r, &mut acc);
    let Some(framing) = f1.or(f2) else {
        return ProbeResult::NotThis;
    };
    acc.info.framing = framing;
    let rtp = acc.rtp();
    if acc.strong > 0 {
        ProbeResult::Certain((acc.info.fitted(), rtp))
    } else {
        // RFC 3489 is not defined over TCP (nDPI rejects it there): weak.
        ProbeResult::Unsure((acc.info.fitted(), rtp))
    }
}

/// Walks MS-TURN TCP frames (dpi.md §4.8). Returns the number of well-formed frames.
fn walk_msturn_frames(b: &[u8], acc: &mut Acc) -> usize {
    let mut at = 0usize;
    let mut frames = 0usize;
    while frames < 256 {
        let rest = &b[at..];
        let (Some(&t), Some(&0), Some(l)) = (
            rest.get(field::FRAME_TYPE),
            rest.get(field::FRAME_RESERVED),
            be16(rest, field::FRAME_LEN),
        ) else {
            break;
        };
        let l = usize::from(l);
        let end = field::FRAME_HEADER + l;
        // A frame cut off by the end of the prefix still counts if its header is sane.
        let payload = &rest[field::FRAME_HEADER.min(rest.len())..end.min(rest.len())];
        match t {
            // 0x02: a TURN control message.
            2 => {
                if end <= rest.len() {
                    match parse(payload) {
                        Some(m) => acc.add(&m),
                        None => break,
                    }
                } else if payload.len() < field::HEADER
                    || be16(payload, field::LENGTH).map(|x| usize::from(x) + field::HEADER)
                        != Some(l)
                {
                    break;
                }
            }
            // 0x03: end-to-end data, with or without an inner RFC 4571 length (the Lync plugin
            // and libnice differ; accept both).
            3 => {
                let inner = match be16(payload, 0) {
                    Some(x) if usize::from(x) + 2 == l => &payload[2..],
                    _ => payload,
                };
                if end <= rest.len() {
                    acc.inner(inner);
                }
            }
            _ => break,
        }
        frames += 1;
        if end >= b.len().saturating_sub(at) {
            break;
        }
        at += end;
    }
    frames
}

/// MS-TURN TCP framing from the first byte (no pseudo-TLS seen).
pub fn probe_msturn_tcp(o: &[u8], r: &[u8]) -> ProbeResult<StunInfo> {
    let starts = |b: &[u8]| {
        b.first() == Some(&2)
            && b.get(1) == Some(&0)
            && b.get(4..).and_then(|m| m.get(field::MS_COOKIE_ATTR)) == Some(&MS_COOKIE_ATTR[..])
    };
    if !starts(o) && !starts(r) {
        return ProbeResult::NotThis;
    }
    let mut acc = Acc::default();
    walk_msturn_frames(o, &mut acc);
    walk_msturn_frames(r, &mut acc);
    if acc.strong == 0 {
        return ProbeResult::NotThis;
    }
    acc.info.framing = StunFraming::MsTurnTcp;
    ProbeResult::Certain(acc.info)
}

/// The pseudo-TLS server answer: one handshake record holding a TLS 1.0 ServerHello choosing
/// 0x0018 and a ServerHelloDone ([MS-TURN]: "MUST be sent in the same TLS record"). Returns
/// the record's length.
fn pseudo_server(s: &[u8]) -> Option<usize> {
    if s.get(0..3)? != [0x16, 0x03, 0x01] {
        return None;
    }
    let len = usize::from(be16(s, 3)?);
    let rec = s.get(5..5 + len)?;
    // ServerHello: type 2, length, version 03 01, 32 random, session id, cipher, compression.
    if rec.first() != Some(&2) || rec.get(4..6)? != [0x03, 0x01] {
        return None;
    }
    let sh_len = super::be24(rec, 1)?;
    let sid_len = usize::from(*rec.get(4 + 2 + 32)?);
    let cipher = be16(rec, 4 + 2 + 32 + 1 + sid_len)?;
    let done = rec.get(4 + sh_len..)?;
    (cipher == PSEUDO_CIPHER && done == [0x0e, 0, 0, 0]).then_some(5 + len)
}

fn pseudo_client(c: &[u8]) -> bool {
    c.get(field::PSEUDO_HEAD) == Some(&PSEUDO_HEAD[..])
        && c.get(field::PSEUDO_TAIL) == Some(&PSEUDO_TAIL[..])
}

/// Pseudo-TLS then MS-TURN framing on TCP (A/V Edge 443). `c` is the client's bytes.
pub fn probe_pseudo_tls(c: &[u8], s: &[u8]) -> ProbeResult<(StunInfo, Option<TlsInfo>)> {
    let client = pseudo_client(c);
    let server = pseudo_server(s);
    // Each template alone fixes 18 bytes or more (dpi.md §4.7). A client template with a
    // server that answered something else (a real TLS flight) is not pseudo-TLS.
    let server_other = !s.is_empty() && server.is_none();
    if !(client && !server_other || server.is_some() && (client || c.is_empty())) {
        return ProbeResult::NotThis;
    }
    let c_end = if client { field::PSEUDO_CLIENT_LEN } else { 0 };
    let s_end = server.unwrap_or(0);
    let tls = super::tls::probe(&c[..c_end.min(c.len())], &s[..s_end.min(s.len())], false)
        .into_parts()
        .map(|(_, t)| t);
    let mut acc = Acc::default();
    walk_msturn_frames(&c[c_end.min(c.len())..], &mut acc);
    walk_msturn_frames(&s[s_end.min(s.len())..], &mut acc);
    acc.info.framing = StunFraming::PseudoTls;
    ProbeResult::Certain((acc.info, tls))
}

pub fn pseudo_tls_summary(s: &StunInfo) -> String {
    let mut out = "MS-TURN pseudo-TLS handshake (cipher 0x0018, no certificate)".to_string();
    if s.message_count > 0 {
        out.push_str(&format!(", then MS-TURN TCP framing: {}", summary(s)));
    }
    out
}

/// One sentence for a report.
pub fn summary(s: &StunInfo) -> String {
    let mut parts = Vec::new();
    let kind = match protocol_of(s) {
        Protocol::MsTurn | Protocol::PseudoTls => "MS-TURN",
        Protocol::Turn => "TURN",
        _ if s.classic_rfc3489 && !s.magic_cookie => "classic STUN (RFC 3489)",
        _ => "STUN",
    };
    if s.message_count > 0 {
        parts.push(format!("{kind} {} {}", s.method, s.class));
    } else {
        parts.push(kind.to_string());
    }
    if s.message_count > 1 {
        parts.push(format!("{} messages", s.message_count));
    }
    if let Some(v) = s.ms_version {
        parts.push(format!("MS-Version {v}"));
    }
    if let Some(c) = s.error_code {
        parts.push(format!(
            "error {c} {}",
            s.error_reason.as_deref().unwrap_or("")
        ));
    }
    if let Some(a) = &s.xor_mapped {
        parts.push(format!("XOR-MAPPED {a}"));
    }
    if let Some(a) = &s.mapped {
        parts.push(format!("MAPPED {a}"));
    }
    if let Some(a) = &s.xor_relayed {
        parts.push(format!("XOR-RELAYED {a}"));
    }
    if s.channel_data {
        parts.push("ChannelData".to_string());
    }
    if s.ms_multiplexed {
        parts.push("multiplexed TURN 0xFF10".to_string());
    }
    if let Some(sw) = &s.software {
        parts.push(format!("software {sw}"));
    }
    if s.dtls_seen {
        parts.push("DTLS on the same 5-tuple (WebRTC DTLS-SRTP, not SfB media)".to_string());
    }
    let framing = match s.framing {
        StunFraming::Udp => None,
        StunFraming::Tcp => Some("over TCP"),
        StunFraming::TcpRfc4571 => Some("RFC 4571 framing"),
        StunFraming::MsTurnTcp => Some("MS-TURN TCP framing"),
        StunFraming::PseudoTls => None,
    };
    if let Some(f) = framing {
        parts.push(f.to_string());
    }
    parts.join("; ").trim().to_string()
}
