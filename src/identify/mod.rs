//! Payload identification: which protocol a flow carries, from its bounded payload prefixes.
//!
//! At the Edge the port is a hint and the payload is the evidence: TCP 443 is SIP/TLS on the
//! Access Edge, PSOM/TLS on the Web Conferencing Edge, or MS-TURN after a pseudo-TLS handshake
//! on the A/V Edge. Each protocol has a probe (`probe(...) -> ProbeResult<Info>`) that reads
//! only the prefix it is given and answers certain / unsure / not-this. [`identify`] runs them
//! in the order of the research notes (dpi.md §0): on TCP pseudo-TLS before TLS (the pseudo-TLS
//! ClientHello is a valid TLS record), MS-TURN framing, TLS, STUN, then the text protocols; on
//! UDP DNS by port, the RFC 7983 first-byte demultiplexing (STUN, then DTLS, before RTP), DNS
//! read exactly on any other port, then RTP/RTCP split by RFC 5761 §4, then SIP. Anything else
//! is `Unknown`, with the first bytes as evidence.
//!
//! "Certain" means the bytes rule out the protocols that share the same framing (RDP and the
//! other ISO-on-TCP protocols share TPKT/COTP; RTP's version bits are a quarter of all first
//! bytes); "unsure" is a weaker shape with nothing against it. docs/IDENTIFY.md lists each
//! probe's evidence and compares the result with nDPI on the public captures.

pub mod banner;
pub mod dns;
pub mod dtls;
pub mod http;
pub mod rtp;
pub mod sip;
pub mod stun;
pub mod tls;
pub mod xmpp;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use dns::DnsInfo;
pub use dtls::DtlsInfo;
pub use http::HttpInfo;
pub use rtp::RtpInfo;
pub use sip::SipInfo;
pub use stun::{StunFraming, StunInfo};
pub use tls::{CertInfo, Eku, TlsAlert, TlsInfo, TlsOutcome};
pub use xmpp::XmppInfo;

use crate::flow::{OpenFlow, Prefix};

/// How sure an identification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The payload carries the protocol's signature (a parsed handshake, a magic value with a
    /// matching length...).
    Certain,
    /// A weak signature, or only the port.
    Unsure,
}

/// What a probe answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult<T> {
    Certain(T),
    Unsure(T),
    NotThis,
}

impl<T> ProbeResult<T> {
    pub fn is_match(&self) -> bool {
        !matches!(self, ProbeResult::NotThis)
    }

    pub fn is_certain(&self) -> bool {
        matches!(self, ProbeResult::Certain(_))
    }

    /// The evidence and how sure, when this was a match.
    pub fn into_parts(self) -> Option<(Confidence, T)> {
        match self {
            ProbeResult::Certain(t) => Some((Confidence::Certain, t)),
            ProbeResult::Unsure(t) => Some((Confidence::Unsure, t)),
            ProbeResult::NotThis => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> ProbeResult<U> {
        match self {
            ProbeResult::Certain(t) => ProbeResult::Certain(f(t)),
            ProbeResult::Unsure(t) => ProbeResult::Unsure(f(t)),
            ProbeResult::NotThis => ProbeResult::NotThis,
        }
    }
}

/// The protocols, in the documents' words where they have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "TLS")]
    Tls,
    /// MS-TURN over TCP 443 after the pseudo-TLS handshake ([MS-TURN] "pseudo-TLS").
    #[serde(rename = "MS-TURN/pseudo-TLS")]
    PseudoTls,
    #[serde(rename = "MS-TURN")]
    MsTurn,
    #[serde(rename = "STUN")]
    Stun,
    #[serde(rename = "TURN")]
    Turn,
    #[serde(rename = "RTP")]
    Rtp,
    #[serde(rename = "RTCP")]
    Rtcp,
    #[serde(rename = "SRTP")]
    Srtp,
    /// DTLS records: WebRTC and Teams media keying after the ICE checks (DTLS-SRTP), or DTLS
    /// on its own.
    #[serde(rename = "DTLS")]
    Dtls,
    #[serde(rename = "SIP")]
    Sip,
    #[serde(rename = "XMPP")]
    Xmpp,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "DNS")]
    Dns,
    #[serde(rename = "SSH")]
    Ssh,
    #[serde(rename = "RDP")]
    Rdp,
    #[serde(rename = "SMB")]
    Smb,
    #[serde(rename = "unknown")]
    Unknown,
}

impl Protocol {
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Tls => "TLS",
            Protocol::PseudoTls => "MS-TURN/pseudo-TLS",
            Protocol::MsTurn => "MS-TURN",
            Protocol::Stun => "STUN",
            Protocol::Turn => "TURN",
            Protocol::Rtp => "RTP",
            Protocol::Rtcp => "RTCP",
            Protocol::Srtp => "SRTP",
            Protocol::Dtls => "DTLS",
            Protocol::Sip => "SIP",
            Protocol::Xmpp => "XMPP",
            Protocol::Http => "HTTP",
            Protocol::Dns => "DNS",
            Protocol::Ssh => "SSH",
            Protocol::Rdp => "RDP",
            Protocol::Smb => "SMB",
            Protocol::Unknown => "unknown",
        }
    }

    /// The id machine formats write as a flow's `payload` (`tls`, `ms-turn`, `stun`...): the
    /// label in lower case, `None` for `unknown`.
    pub fn payload_id(self) -> Option<&'static str> {
        Some(match self {
            Protocol::Tls => "tls",
            Protocol::PseudoTls => "ms-turn/pseudo-tls",
            Protocol::MsTurn => "ms-turn",
            Protocol::Stun => "stun",
            Protocol::Turn => "turn",
            Protocol::Rtp => "rtp",
            Protocol::Rtcp => "rtcp",
            Protocol::Srtp => "srtp",
            Protocol::Dtls => "dtls",
            Protocol::Sip => "sip",
            Protocol::Xmpp => "xmpp",
            Protocol::Http => "http",
            Protocol::Dns => "dns",
            Protocol::Ssh => "ssh",
            Protocol::Rdp => "rdp",
            Protocol::Smb => "smb",
            Protocol::Unknown => return None,
        })
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Only what was seen. Each part is boxed: a flow carries one protocol's evidence, and a
/// report holds the evidence of every flow.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<TlsInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<Box<StunInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtp: Option<Box<RtpInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtls: Option<Box<DtlsInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip: Option<Box<SipInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<HttpInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<DnsInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xmpp: Option<Box<XmppInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// For `Unknown`: the first 16 bytes of each direction ("orig: ..; resp: ..").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bytes_hex: Option<String>,
}

/// The answer for one flow.
#[derive(Serialize, Clone, Debug)]
pub struct Identification {
    pub protocol: Protocol,
    pub confidence: Confidence,
    pub evidence: Box<Evidence>,
    /// One short human sentence.
    pub summary: String,
}

impl Identification {
    /// Zeek's service name, for a certain identification only (Zeek logs only confirmed
    /// analyzers).
    pub fn zeek_service(&self) -> Option<&'static str> {
        if self.confidence != Confidence::Certain {
            return None;
        }
        // Zeek's names where they differ from edgewise's ids; the ids otherwise.
        match self.protocol {
            Protocol::Tls => Some("ssl"),
            Protocol::PseudoTls => Some("ms-turn"),
            p => p.payload_id(),
        }
    }
}

/// Identifies a flow from its payload prefixes. Never panics, never reads past a buffer.
pub fn identify(open: &OpenFlow) -> Identification {
    let flow = &open.flow;
    let orig = prefix_parts(&open.orig_prefix);
    let resp = prefix_parts(&open.resp_prefix);
    let stream = matches!(open.orig_prefix, Prefix::Stream(_))
        || matches!(open.resp_prefix, Prefix::Stream(_));
    let ctx = Context {
        transport: flow.protocol,
        initiator_port: flow.initiator.port,
        responder_port: flow.responder.port,
        stream,
        reset: open.history().contains(['R', 'r']),
    };
    identify_with(&ctx, &orig, &resp)
}

/// The same from parts (for tests and for firewall logs that have no payload: returns
/// Unknown/Unsure by port). For a stream the parts of a direction are its bytes in order (they
/// are joined); for datagrams each part is one datagram.
pub fn identify_parts(
    transport: u8,
    initiator_port: u16,
    responder_port: u16,
    orig: &[&[u8]],
    resp: &[&[u8]],
    stream: bool,
) -> Identification {
    let ctx = Context {
        transport,
        initiator_port,
        responder_port,
        stream,
        reset: false,
    };
    if stream {
        let o = orig.concat();
        let r = resp.concat();
        identify_with(&ctx, &[o.as_slice()], &[r.as_slice()])
    } else {
        identify_with(&ctx, orig, resp)
    }
}

fn prefix_parts(p: &Prefix) -> Vec<&[u8]> {
    match p {
        Prefix::Stream(s) => vec![s.bytes()],
        Prefix::Datagrams(d) => d.datagrams.iter().map(|v| v.as_slice()).collect(),
        Prefix::None => Vec::new(),
    }
}

/// What the probes may know about a flow besides its bytes.
#[derive(Debug, Clone, Copy)]
struct Context {
    transport: u8,
    initiator_port: u16,
    responder_port: u16,
    stream: bool,
    /// The TCP history shows a reset ('R' or 'r').
    reset: bool,
}

impl Context {
    fn either_port(&self, f: impl Fn(u16) -> bool) -> bool {
        f(self.initiator_port) || f(self.responder_port)
    }
}

fn ident(
    protocol: Protocol,
    confidence: Confidence,
    evidence: Evidence,
    summary: String,
) -> Identification {
    Identification {
        protocol,
        confidence,
        evidence: Box::new(evidence),
        summary,
    }
}

fn identify_with(ctx: &Context, orig: &[&[u8]], resp: &[&[u8]]) -> Identification {
    let has_payload = orig.iter().chain(resp).any(|p| !p.is_empty());
    if !has_payload {
        return by_port(ctx, "no payload seen");
    }
    if ctx.stream || ctx.transport == 6 {
        let o: &[u8] = orig.first().copied().unwrap_or(&[]);
        let r: &[u8] = resp.first().copied().unwrap_or(&[]);
        identify_stream(ctx, o, r)
    } else if ctx.transport == 17 {
        identify_datagrams(ctx, orig, resp)
    } else {
        unknown(ctx, orig.first().copied(), resp.first().copied())
    }
}

fn identify_stream(ctx: &Context, o: &[u8], r: &[u8]) -> Identification {
    // The initiator may have been inferred (no SYN seen); the probes that need a client side try
    // both orders.
    let pairs = [(o, r), (r, o)];

    // 1. Pseudo-TLS: its 50-byte ClientHello is a well-formed TLS record, so it must be tried
    //    before TLS ([MS-TURN] pseudo-TLS; dpi.md §4.7).
    for (c, s) in pairs {
        if let Some((conf, (stun, tls))) = stun::probe_pseudo_tls(c, s).into_parts() {
            let summary = stun::pseudo_tls_summary(&stun);
            return ident(
                Protocol::PseudoTls,
                conf,
                Evidence {
                    stun: Some(Box::new(stun)),
                    tls: tls.map(Box::new),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    // 2. MS-TURN TCP framing without a visible pseudo-TLS handshake (capture started late).
    if let Some((conf, stun)) = stun::probe_msturn_tcp(o, r).into_parts() {
        let summary = stun::summary(&stun);
        return ident(
            Protocol::MsTurn,
            conf,
            Evidence {
                stun: Some(Box::new(stun)),
                ..Default::default()
            },
            summary,
        );
    }
    // 3. TLS.
    let mut tls_unsure = None;
    for (c, s) in pairs {
        match tls::probe(c, s, ctx.reset) {
            ProbeResult::Certain(info) => {
                let summary = tls::summary(&info);
                return ident(
                    Protocol::Tls,
                    Confidence::Certain,
                    Evidence {
                        tls: Some(Box::new(info)),
                        ..Default::default()
                    },
                    summary,
                );
            }
            ProbeResult::Unsure(info) => {
                tls_unsure.get_or_insert(info);
            }
            ProbeResult::NotThis => {}
        }
    }
    // 4. STUN/TURN over TCP (unframed, RFC 4571 framed).
    if let Some((conf, (stun, rtp))) = stun::probe_tcp(o, r).into_parts() {
        let protocol = stun::protocol_of(&stun);
        let summary = stun::summary(&stun);
        return ident(
            protocol,
            conf,
            Evidence {
                stun: Some(Box::new(stun)),
                rtp: rtp.map(Box::new),
                ..Default::default()
            },
            summary,
        );
    }
    // 5. Text protocols. SIP before HTTP: both have `SP ... SP version CRLF` start lines, and each
    //    probe checks its own version token, so HTTP on 5060 is HTTP.
    for (c, s) in pairs {
        if let Some((conf, info)) = sip::probe_stream(c, s).into_parts() {
            let summary = sip::summary(&info);
            return ident(
                Protocol::Sip,
                conf,
                Evidence {
                    sip: Some(Box::new(info)),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    for (c, s) in pairs {
        if let Some((conf, info)) = http::probe(c, s).into_parts() {
            let summary = http::summary(&info);
            return ident(
                Protocol::Http,
                conf,
                Evidence {
                    http: Some(Box::new(info)),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    for (c, s) in pairs {
        if let Some((conf, (info, tls))) = xmpp::probe(c, s, ctx.reset).into_parts() {
            let summary = xmpp::summary(&info, tls.as_ref());
            return ident(
                Protocol::Xmpp,
                conf,
                Evidence {
                    xmpp: Some(Box::new(info)),
                    tls: tls.map(Box::new),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    if let Some((conf, info)) = dns::probe_tcp(o, r, ctx.either_port(|p| p == 53)).into_parts() {
        let summary = dns::summary(&info);
        return ident(
            Protocol::Dns,
            conf,
            Evidence {
                dns: Some(Box::new(info)),
                ..Default::default()
            },
            summary,
        );
    }
    for (c, s) in pairs {
        if let Some((conf, (proto, text))) = banner::probe(c, s).into_parts() {
            let summary = format!("{} {}", proto.label(), text);
            return ident(
                proto,
                conf,
                Evidence {
                    banner: Some(text),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    if let Some((conf, info)) = rtp::probe_tcp(o, r).into_parts() {
        let proto = rtp::protocol_of(&info);
        let summary = rtp::summary(&info);
        return ident(
            proto,
            conf,
            Evidence {
                rtp: Some(Box::new(info)),
                ..Default::default()
            },
            summary,
        );
    }
    if let Some(info) = tls_unsure {
        let summary = tls::summary(&info);
        return ident(
            Protocol::Tls,
            Confidence::Unsure,
            Evidence {
                tls: Some(Box::new(info)),
                ..Default::default()
            },
            summary,
        );
    }
    unknown(ctx, Some(o), Some(r))
}

fn identify_datagrams(ctx: &Context, orig: &[&[u8]], resp: &[&[u8]]) -> Identification {
    let dns_ident = |conf: Confidence, info: DnsInfo| {
        let summary = dns::summary(&info);
        ident(
            Protocol::Dns,
            conf,
            Evidence {
                dns: Some(Box::new(info)),
                ..Default::default()
            },
            summary,
        )
    };
    // DNS first on its own ports, where a header and a question are enough (DNS headers fall
    // into the STUN and RTP first-byte ranges by accident, dpi.md §0.1).
    let dns_port = ctx.either_port(|p| matches!(p, 53 | 5353 | 5355));
    if dns_port {
        if let Some((conf, info)) = dns::probe_datagrams(orig, resp, true).into_parts() {
            return dns_ident(conf, info);
        }
    }
    // STUN/TURN on any port. Below 1024 (443 aside, where TURN is at home) only messages with
    // the RFC 5389 magic cookie or the MS-TURN cookie attribute count: an RFC 3489 message has
    // no magic value, and the well-known ports carry their own protocols.
    let service_port = |p: u16| p <= 1023 && p != 443 || p == 5353 || p == 5355;
    let low_port = ctx.either_port(service_port);
    let stun = stun::probe_datagrams(orig, resp, ctx.either_port(|p| matches!(p, 3478 | 3479)))
        .into_parts()
        .filter(|(conf, (s, _))| {
            !low_port || *conf == Confidence::Certain && (s.magic_cookie || s.ms_magic_cookie_first)
        });
    let dtls = dtls::probe_datagrams(orig, resp).into_parts();
    if let Some((conf, (stun, rtp))) = stun {
        // RFC 7983: DTLS after the ICE checks on the same 5-tuple is the media's DTLS-SRTP
        // handshake (WebRTC, Teams). The STUN messages make DTLS records certain enough.
        if let Some((dconf, d)) = dtls {
            let dconf = if conf == Confidence::Certain {
                Confidence::Certain
            } else {
                dconf
            };
            let summary = format!("{}; after {}", dtls::summary(&d), stun::summary(&stun));
            return ident(
                Protocol::Dtls,
                dconf,
                Evidence {
                    dtls: Some(Box::new(d)),
                    stun: Some(Box::new(stun)),
                    rtp: rtp.map(Box::new),
                    ..Default::default()
                },
                summary,
            );
        }
        let protocol = stun::protocol_of(&stun);
        let mut summary = stun::summary(&stun);
        if let Some(r) = &rtp {
            summary.push_str("; then ");
            summary.push_str(&rtp::summary(r));
        }
        return ident(
            protocol,
            conf,
            Evidence {
                stun: Some(Box::new(stun)),
                rtp: rtp.map(Box::new),
                ..Default::default()
            },
            summary,
        );
    }
    // DNS on any other port: every message must read exactly.
    if !dns_port {
        if let Some((conf, info)) = dns::probe_datagrams(orig, resp, false).into_parts() {
            return dns_ident(conf, info);
        }
    }
    if let Some((conf, d)) = dtls {
        let summary = dtls::summary(&d);
        return ident(
            Protocol::Dtls,
            conf,
            Evidence {
                dtls: Some(Box::new(d)),
                ..Default::default()
            },
            summary,
        );
    }
    if !low_port {
        if let Some((conf, info)) = rtp::probe_datagrams(orig, resp).into_parts() {
            let proto = rtp::protocol_of(&info);
            let summary = rtp::summary(&info);
            return ident(
                proto,
                conf,
                Evidence {
                    rtp: Some(Box::new(info)),
                    ..Default::default()
                },
                summary,
            );
        }
    }
    if let Some((conf, info)) = sip::probe_datagrams(orig, resp).into_parts() {
        let summary = sip::summary(&info);
        return ident(
            Protocol::Sip,
            conf,
            Evidence {
                sip: Some(Box::new(info)),
                ..Default::default()
            },
            summary,
        );
    }
    unknown(ctx, orig.first().copied(), resp.first().copied())
}

/// The protocol a port suggests, for flows without payload: never more than a hint.
fn port_hint(transport: u8, port: u16) -> Option<Protocol> {
    let tcp = transport == 6;
    let udp = transport == 17;
    match port {
        443 | 444 | 4443 | 5061 | 5062 | 8057 | 5349 if tcp => Some(Protocol::Tls),
        3478..=3481 if udp || tcp => Some(Protocol::Stun),
        5060 if tcp || udp => Some(Protocol::Sip),
        5269 | 5222 if tcp => Some(Protocol::Xmpp),
        80 | 8080 if tcp => Some(Protocol::Http),
        53 if tcp || udp => Some(Protocol::Dns),
        22 if tcp => Some(Protocol::Ssh),
        3389 if tcp || udp => Some(Protocol::Rdp),
        445 if tcp => Some(Protocol::Smb),
        _ => None,
    }
}

fn by_port(ctx: &Context, why: &str) -> Identification {
    let hint = [ctx.responder_port, ctx.initiator_port]
        .into_iter()
        .find_map(|p| port_hint(ctx.transport, p).map(|h| (p, h)));
    let summary = match hint {
        Some((port, p)) => format!("{why}; port {port} suggests {}", p.label()),
        None => why.to_string(),
    };
    ident(
        Protocol::Unknown,
        Confidence::Unsure,
        Evidence::default(),
        summary,
    )
}

fn unknown(ctx: &Context, o: Option<&[u8]>, r: Option<&[u8]>) -> Identification {
    let hex16 = |b: Option<&[u8]>| hex(&b.unwrap_or(&[])[..b.map_or(0, |b| b.len().min(16))]);
    let first = format!("orig: {}; resp: {}", hex16(o), hex16(r));
    let mut id = by_port(ctx, "payload not recognised");
    id.evidence.first_bytes_hex = Some(first);
    id
}

/// Lower-case hex of a byte slice (two digits a byte, looked up rather than formatted: every
/// flow record writes its first bytes so).
pub(crate) fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

/// Big-endian readers that return `None` instead of reading past the buffer.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

pub(crate) fn be24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some((usize::from(s[0]) << 16) | (usize::from(s[1]) << 8) | usize::from(s[2]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Printable ASCII, lossy, at most `max` characters.
pub(crate) fn text(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect()
}
