//! RTP and RTCP (RFC 3550), split on a shared port by RFC 5761 §4, with encrypted RTCP
//! (SRTCP, RFC 3711 §3.4) recognised: Microsoft clients encrypt RTCP, so the compound packet
//! does not walk, but its first header is clear and an E-flag/index word sits before the
//! authentication tag.
//!
//! Version 2 in the first two bits is all RTP has of a magic value, so a quarter of random
//! datagrams start like RTP. Evidence comes from the flow: three packets of one SSRC in
//! sequence (or two RTCP packets) are certain; two in sequence, or one RTCP compound that walks
//! exactly, are unsure. One lone RTP-looking datagram is not evidence, and a flow with any
//! datagram that is not RTP/RTCP is never unsure RTP. Datagrams that are recognisably something
//! else rule RTP out for the whole flow: a QUIC long header (RFC 9000 §17.2; with the fixed bit
//! greased, RFC 9287, it starts 0x80-0xBF like RTP), a BACnet/IP BVLC header (ASHRAE 135 Annex
//! J: type 0x81, a function, the datagram's length) and DNSCrypt's resolver magic `r6fnvWj8`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{be16, be32, ProbeResult, Protocol};

mod field {
    pub const VPXCC: usize = 0;
    pub const MPT: usize = 1;
    pub const SEQ: usize = 2;
    pub const SSRC: usize = 8;
    pub const RTP_HEADER: usize = 12;
    pub const RTCP_LENGTH: usize = 2;
    // The RTCP sender SSRC (offset 4) is not read: RTP SSRCs identify the streams.
    pub const RTCP_HEADER: usize = 8;
    /// E flag + 31-bit SRTCP index (RFC 3711 §3.4).
    pub const SRTCP_INDEX: usize = 4;
}

/// Authentication tag lengths tried for SRTCP: HMAC-SHA1-80, -32, none.
const SRTCP_TAGS: [usize; 3] = [10, 4, 0];
const MAX_SSRCS: usize = 16;

/// What RTP/RTCP packets showed.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RtpInfo {
    /// RTP version (2).
    pub version: u8,
    /// RTP payload types, in order of first appearance.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub payload_types: Vec<u8>,
    /// RTP SSRCs, hex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssrcs: Vec<String>,
    pub rtp_packets: u32,
    /// Sequence discontinuities within an SSRC (a step other than +1).
    pub sequence_gaps: u32,
    /// RTCP packet types (200 SR, 201 RR, 202 SDES, 203 BYE, 206 PSFB...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rtcp_packet_types: Vec<u8>,
    pub rtcp_packets: u32,
    /// RTCP packets that are encrypted (SRTCP): the compound does not walk, the E flag is set.
    pub srtcp_packets: u32,
    /// Carried with an RFC 4571 length prefix on TCP.
    pub rfc4571: bool,
}

/// A datagram that is recognisably another protocol sharing RTP's first-byte range.
pub fn foreign(p: &[u8]) -> Option<&'static str> {
    let b0 = *p.first()?;
    // DNSCrypt (dnscrypt.info protocol §"Responses"): every response starts with this magic.
    if p.starts_with(b"r6fnvWj8") {
        return Some("DNSCrypt");
    }
    // BACnet/IP: BVLC type 0x81, function 0x00-0x0C, length = the whole datagram.
    if b0 == 0x81
        && p.get(1).is_some_and(|f| *f <= 0x0c)
        && be16(p, 2).is_some_and(|l| usize::from(l) == p.len())
    {
        return Some("BACnet/IP");
    }
    // QUIC long header: form bit, a known version, a connection ID length of at most 20.
    if b0 & 0x80 != 0 {
        let v = be32(p, 1)?;
        let known = matches!(v, 0 | 1 | 0x6b33_43cf | 0xff00_0000..=0xff00_00ff)
            || v & 0x0f0f_0f0f == 0x0a0a_0a0a;
        if known && p.get(5).is_some_and(|l| *l <= 20) {
            return Some("QUIC");
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rtp,
    Rtcp,
    Srtcp,
    NotRtp,
}

/// Classifies one packet.
pub fn classify(p: &[u8]) -> Kind {
    let (Some(&b0), Some(&b1)) = (p.get(field::VPXCC), p.get(field::MPT)) else {
        return Kind::NotRtp;
    };
    if b0 >> 6 != 2 {
        return Kind::NotRtp;
    }
    // RFC 5761 §4: second byte 192-223 is RTCP (RTP may not use PT 64-95 when muxed).
    if (192..=223).contains(&b1) {
        return rtcp_kind(p);
    }
    let pt = b1 & 0x7f;
    // Wireshark rejects 72-76 (they collide with RTCP SR..APP with the marker set).
    if (72..=76).contains(&pt) {
        return Kind::NotRtp;
    }
    let cc = usize::from(b0 & 0x0f);
    let mut need = field::RTP_HEADER + 4 * cc;
    if b0 & 0x10 != 0 {
        let Some(words) = be16(p, need + 2) else {
            return Kind::NotRtp;
        };
        need += 4 + 4 * usize::from(words);
    }
    if p.len() < need {
        return Kind::NotRtp;
    }
    if b0 & 0x20 != 0 {
        // RFC 3550 §5.1: the last byte counts the padding, itself included.
        let pad = usize::from(*p.last().unwrap_or(&0));
        if pad == 0 || need + pad > p.len() {
            return Kind::NotRtp;
        }
    }
    Kind::Rtp
}

fn rtcp_kind(p: &[u8]) -> Kind {
    let Some(words) = be16(p, field::RTCP_LENGTH) else {
        return Kind::NotRtp;
    };
    let first = (usize::from(words) + 1) * 4;
    if p.len() < field::RTCP_HEADER || first > p.len() || !(200..=207).contains(&p[1]) {
        return Kind::NotRtp;
    }
    // Plain compound: every packet version 2, PT 200-207, lengths summing exactly.
    let mut at = 0usize;
    let mut plain = true;
    while at < p.len() {
        match (p.get(at), p.get(at + 1), be16(p, at + 2)) {
            (Some(&v), Some(&pt), Some(w)) if v >> 6 == 2 && (200..=207).contains(&pt) => {
                at += (usize::from(w) + 1) * 4;
            }
            _ => {
                plain = false;
                break;
            }
        }
    }
    if plain && at == p.len() {
        return Kind::Rtcp;
    }
    // SRTCP: encrypted payload, then E||index (4 bytes) and the tag. The encrypted part keeps
    // the compound length, a multiple of 4.
    for tag in SRTCP_TAGS {
        let Some(idx_at) = p.len().checked_sub(tag + field::SRTCP_INDEX) else {
            continue;
        };
        if idx_at >= first && idx_at % 4 == 0 && p.get(idx_at).is_some_and(|b| b & 0x80 != 0) {
            return Kind::Srtcp;
        }
    }
    Kind::NotRtp
}

/// Gathers packets of one flow.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    info: RtpInfo,
    last_seq: BTreeMap<u32, u16>,
    /// Packets whose sequence followed the previous one of their SSRC by a small step.
    in_order: u32,
    repeated: u32,
    other: u32,
    /// Datagrams that are recognisably another protocol ([`foreign`]).
    foreign: u32,
}

impl Collector {
    pub fn add(&mut self, p: &[u8]) -> Kind {
        if foreign(p).is_some() {
            self.foreign += 1;
            return Kind::NotRtp;
        }
        let k = classify(p);
        let i = &mut self.info;
        match k {
            Kind::Rtp => {
                i.version = 2;
                i.rtp_packets += 1;
                let pt = p[field::MPT] & 0x7f;
                if !i.payload_types.contains(&pt) && i.payload_types.len() < 16 {
                    i.payload_types.push(pt);
                }
                let (Some(seq), Some(ssrc)) = (be16(p, field::SEQ), be32(p, field::SSRC)) else {
                    return k;
                };
                match self.last_seq.get(&ssrc) {
                    Some(&prev) => {
                        let step = seq.wrapping_sub(prev);
                        if step == 0 {
                            self.repeated += 1;
                        } else if step < 100 {
                            self.in_order += 1;
                        }
                        if step != 1 {
                            i.sequence_gaps += 1;
                        }
                        self.last_seq.insert(ssrc, seq);
                    }
                    None if self.last_seq.len() < MAX_SSRCS => {
                        self.last_seq.insert(ssrc, seq);
                        i.ssrcs.push(format!("{ssrc:08x}"));
                    }
                    None => {}
                }
            }
            Kind::Rtcp | Kind::Srtcp => {
                i.version = 2;
                i.rtcp_packets += 1;
                if k == Kind::Srtcp {
                    i.srtcp_packets += 1;
                }
                // In SRTCP only the first header is clear; in plain RTCP list every type.
                let mut at = 0usize;
                while let (Some(&pt), Some(w)) = (p.get(at + 1), be16(p, at + 2)) {
                    if !i.rtcp_packet_types.contains(&pt) && i.rtcp_packet_types.len() < 16 {
                        i.rtcp_packet_types.push(pt);
                    }
                    if k == Kind::Srtcp {
                        break;
                    }
                    at += (usize::from(w) + 1) * 4;
                }
            }
            Kind::NotRtp => self.other += 1,
        }
        k
    }

    pub fn mark_rfc4571(&mut self) {
        self.info.rfc4571 = true;
    }

    /// Certain: three RTP packets of one SSRC in sequence (nDPI also waits for three), or two
    /// RTCP packets. Unsure: nothing but RTP/RTCP, and either two RTP packets in sequence or an
    /// RTCP packet (a plain compound walks exactly; SRTCP has its E flag where the index sits).
    /// A lone RTP-looking datagram is not evidence: a quarter of random first bytes say
    /// version 2.
    pub fn result(self) -> ProbeResult<RtpInfo> {
        let i = &self.info;
        let packets = i.rtp_packets + i.rtcp_packets;
        if packets == 0 || self.foreign > 0 {
            return ProbeResult::NotThis;
        }
        // Mostly something else: not a media flow.
        if self.other > packets {
            return ProbeResult::NotThis;
        }
        let rtp_ok = i.rtp_packets >= 3 && self.in_order >= 2 && self.repeated * 2 < self.in_order;
        let rtcp_ok = i.rtcp_packets >= 2;
        if rtp_ok || rtcp_ok {
            return ProbeResult::Certain(self.info);
        }
        let clean = self.other == 0;
        let rtp_hint = self.in_order >= 1 && self.repeated < self.in_order;
        if clean && (rtp_hint || i.rtcp_packets >= 1) {
            ProbeResult::Unsure(self.info)
        } else {
            ProbeResult::NotThis
        }
    }
}

/// RTP/RTCP over UDP datagrams.
pub fn probe_datagrams(orig: &[&[u8]], resp: &[&[u8]]) -> ProbeResult<RtpInfo> {
    let mut c = Collector::default();
    for p in orig.iter().chain(resp) {
        c.add(p);
    }
    c.result()
}

/// RTP over TCP with the RFC 4571 length prefix (nDPI requires `be16 + 2 == len` of the first
/// frame; here frames are walked through the prefix).
pub fn probe_tcp(o: &[u8], r: &[u8]) -> ProbeResult<RtpInfo> {
    let mut c = Collector::default();
    for b in [o, r] {
        let mut at = 0usize;
        for _ in 0..64 {
            let Some(l) = be16(b, at) else { break };
            let Some(frame) = b.get(at + 2..at + 2 + usize::from(l)) else {
                break;
            };
            if l == 0 || c.add(frame) == Kind::NotRtp {
                break;
            }
            at += 2 + usize::from(l);
        }
    }
    c.mark_rfc4571();
    match c.result() {
        ProbeResult::Certain(i) => ProbeResult::Certain(i),
        // One frame on TCP is too little.
        _ => ProbeResult::NotThis,
    }
}

pub fn protocol_of(r: &RtpInfo) -> Protocol {
    if r.srtcp_packets > 0 {
        // Encrypted RTCP proves the SRTP profile (RFC 3711); the RTP payload cannot be told
        // apart from clear RTP (RFC 3711 §3.1).
        Protocol::Srtp
    } else if r.rtp_packets == 0 {
        Protocol::Rtcp
    } else {
        Protocol::Rtp
    }
}

pub fn summary(r: &RtpInfo) -> String {
    let mut parts = Vec::new();
    if r.rtp_packets > 0 {
        let pts: Vec<String> = r.payload_types.iter().map(|p| p.to_string()).collect();
        parts.push(format!(
            "RTP PT {} SSRC {}",
            pts.join(","),
            r.ssrcs.join(",")
        ));
        if r.sequence_gaps > 0 {
            parts.push(format!("{} sequence gaps", r.sequence_gaps));
        }
    }
    if r.rtcp_packets > 0 {
        let pts: Vec<String> = r.rtcp_packet_types.iter().map(|p| p.to_string()).collect();
        parts.push(format!("RTCP types {}", pts.join(",")));
    }
    if r.srtcp_packets > 0 {
        parts.push(format!("{} encrypted RTCP (SRTCP)", r.srtcp_packets));
    }
    if r.rfc4571 {
        parts.push("RFC 4571 framing".to_string());
    }
    parts.join("; ")
}
