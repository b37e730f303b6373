//! RTP and RTCP (RFC 3550), split on a shared port by RFC 5761 §4, with encrypted RTCP
//! (SRTCP, RFC 3711 §3.4) recognised: Microsoft clients encrypt RTCP, so the compound packet
//! does not walk, but its first header is clear and an E-flag/index word sits before the
//! authentication tag.

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
}

impl Collector {
    pub fn add(&mut self, p: &[u8]) -> Kind {
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
    /// RTCP packets. Unsure: fewer, but nothing contradicting.
    pub fn result(self) -> ProbeResult<RtpInfo> {
        let i = &self.info;
        let packets = i.rtp_packets + i.rtcp_packets;
        if packets == 0 {
            return ProbeResult::NotThis;
        }
        // Mostly something else: not a media flow.
        if self.other > packets {
            return ProbeResult::NotThis;
        }
        let rtp_ok = i.rtp_packets >= 3 && self.in_order >= 2 && self.repeated * 2 < self.in_order;
        let rtcp_ok = i.rtcp_packets >= 2;
        if rtp_ok || rtcp_ok {
            ProbeResult::Certain(self.info)
        } else if i.rtp_packets >= 2 && self.in_order == 0 {
            // Two or more RTP-looking packets that never follow each other: random bytes.
            ProbeResult::NotThis
        } else {
            ProbeResult::Unsure(self.info)
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
