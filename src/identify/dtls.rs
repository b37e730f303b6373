//! DTLS (RFC 6347, RFC 9147 §4.1's DTLSPlaintext): the records WebRTC and Teams media run after
//! their ICE checks (DTLS-SRTP, RFC 5764), told from STUN and RTP by the first byte (RFC 7983
//! §7: 20-63 is DTLS).
//!
//! A datagram is DTLS when records with a DTLS header (content type 20-25, version 0xFEFF,
//! 0xFEFD or 0xFEFC, epoch, 48-bit sequence number, length) fill it exactly. Certain: a clear
//! handshake message (epoch 0) whose 12-byte handshake header agrees with its record (RFC 6347
//! §4.2.2: fragment offset and length inside the message length, the fragment filling the
//! record), and for a ClientHello, ServerHello or HelloVerifyRequest a DTLS version in the
//! body. Unsure: records that walk, with no handshake in sight (a capture joined after it).
//! Never panics on any bytes.

use serde::Serialize;

use super::{be16, be24, ProbeResult};

/// Named offsets of the record and handshake headers.
mod field {
    use std::ops::Range;
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: usize = 1;
    pub const EPOCH: usize = 3;
    pub const LENGTH: usize = 11;
    pub const RECORD_HEADER: usize = 13;
    pub const HS_TYPE: usize = 0;
    pub const HS_LENGTH: usize = 1;
    pub const HS_FRAGMENT_OFFSET: usize = 6;
    pub const HS_FRAGMENT_LENGTH: usize = 9;
    pub const HS_HEADER: usize = 12;
    /// ClientHello / ServerHello: version, then 32 random bytes, then the session ID.
    pub const HELLO_VERSION: usize = 0;
    pub const HELLO_SESSION_ID: usize = 34;
    pub const RANDOM: Range<usize> = 2..34;
}

const CT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_HELLO_VERIFY: u8 = 3;
/// RFC 5764 §4.1.1: the use_srtp extension.
const EXT_USE_SRTP: u16 = 14;
const EXT_SNI: u16 = 0;

/// What the DTLS records of a flow showed.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DtlsInfo {
    /// Version of the first record ("DTLS 1.0", "DTLS 1.2").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_version: Option<String>,
    /// Clear handshake message types, in order of first appearance (1 ClientHello, 2
    /// ServerHello, 3 HelloVerifyRequest, 11 Certificate...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handshake_types: Vec<u8>,
    /// The ClientHello offered use_srtp (DTLS-SRTP, RFC 5764): the keys are for SRTP media.
    pub use_srtp: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The cipher suite the ServerHello chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_cipher: Option<u16>,
    /// Datagrams made of DTLS records.
    pub datagrams: u32,
    pub records: u32,
}

pub fn version_name(v: u16) -> String {
    match v {
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

fn is_version(v: u16) -> bool {
    matches!(v, 0xfeff | 0xfefd | 0xfefc)
}

/// One record: content type, version, epoch, body.
struct Record<'a> {
    ct: u8,
    version: u16,
    epoch: u16,
    body: &'a [u8],
}

/// The records filling `p` exactly, or `None`.
fn records(p: &[u8]) -> Option<Vec<Record<'_>>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < p.len() {
        let r = &p[at..];
        let ct = *r.get(field::CONTENT_TYPE)?;
        let version = be16(r, field::VERSION)?;
        let len = usize::from(be16(r, field::LENGTH)?);
        if !(20..=25).contains(&ct) || !is_version(version) || len == 0 {
            return None;
        }
        let body = r.get(field::RECORD_HEADER..field::RECORD_HEADER + len)?;
        out.push(Record {
            ct,
            version,
            epoch: be16(r, field::EPOCH)?,
            body,
        });
        at += field::RECORD_HEADER + len;
        if out.len() > 64 {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Skips a vector with a `n`-byte length at `at`; returns the offset after it.
fn skip_vec(b: &[u8], at: usize, n: usize) -> Option<usize> {
    let len = match n {
        1 => usize::from(*b.get(at)?),
        _ => usize::from(be16(b, at)?),
    };
    let end = at + n + len;
    (end <= b.len()).then_some(end)
}

/// Reads a hello body (first fragment) into `info`. Returns whether its shape held.
fn hello(t: u8, b: &[u8], info: &mut DtlsInfo) -> bool {
    let Some(v) = be16(b, field::HELLO_VERSION) else {
        return false;
    };
    if !is_version(v) {
        return false;
    }
    if t == HS_HELLO_VERIFY {
        // server_version, cookie<0..2^8-1>.
        return skip_vec(b, 2, 1).is_some();
    }
    if b.get(field::RANDOM).is_none() {
        return false;
    }
    let Some(mut at) = skip_vec(b, field::HELLO_SESSION_ID, 1) else {
        return false;
    };
    if t == HS_CLIENT_HELLO {
        // cookie<0..2^8-1>, cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>.
        let Some(next) = skip_vec(b, at, 1)
            .and_then(|a| skip_vec(b, a, 2))
            .and_then(|a| skip_vec(b, a, 1))
        else {
            return false;
        };
        at = next;
    } else {
        info.selected_cipher = be16(b, at);
        at += 3;
    }
    // Extensions, when the fragment holds them.
    if let Some(end) = skip_vec(b, at, 2) {
        let mut e = at + 2;
        while e + 4 <= end {
            let (Some(et), Some(el)) = (be16(b, e), be16(b, e + 2)) else {
                break;
            };
            let v = b
                .get(e + 4..(e + 4 + usize::from(el)).min(end))
                .unwrap_or(&[]);
            match et {
                EXT_USE_SRTP => info.use_srtp = true,
                // server_name_list<2>, name_type (0), host_name<2>.
                EXT_SNI if v.get(2) == Some(&0) => {
                    if let Some(n) = be16(v, 3).and_then(|l| v.get(5..5 + usize::from(l))) {
                        info.sni = Some(super::text(n, 255));
                    }
                }
                _ => {}
            }
            e += 4 + usize::from(el);
        }
    }
    true
}

/// A clear handshake record: its header agrees with the record. Returns whether it did.
fn handshake(body: &[u8], info: &mut DtlsInfo) -> bool {
    let (Some(&t), Some(len), Some(off), Some(flen)) = (
        body.get(field::HS_TYPE),
        be24(body, field::HS_LENGTH),
        be24(body, field::HS_FRAGMENT_OFFSET),
        be24(body, field::HS_FRAGMENT_LENGTH),
    ) else {
        return false;
    };
    // RFC 6347 §4.2.3: the fragment lies inside the message and fills the record (one message
    // per record, as every stack sends them).
    let ok = off + flen <= len && field::HS_HEADER + flen == body.len();
    if !ok || !matches!(t, 0..=4 | 11..=16 | 20..=24) {
        return false;
    }
    if !info.handshake_types.contains(&t) && info.handshake_types.len() < 16 {
        info.handshake_types.push(t);
    }
    let frag = &body[field::HS_HEADER..];
    match t {
        HS_CLIENT_HELLO | HS_SERVER_HELLO | HS_HELLO_VERIFY if off == 0 => hello(t, frag, info),
        _ => true,
    }
}

/// Probes UDP datagrams (both directions). STUN (first byte 0-3) and RTP/RTCP (128-191) beside
/// DTLS are the flow's ICE checks and SRTP media (RFC 7983); anything else that is not DTLS
/// rules DTLS out.
pub fn probe_datagrams(orig: &[&[u8]], resp: &[&[u8]]) -> ProbeResult<DtlsInfo> {
    let mut info = DtlsInfo::default();
    let mut handshake_ok = false;
    let mut other = 0u32;
    for p in orig.iter().chain(resp) {
        match p.first() {
            Some(20..=63) => {}
            Some(0..=3 | 64..=79 | 128..=191) | None => continue,
            Some(_) => {
                other += 1;
                continue;
            }
        }
        let Some(recs) = records(p) else {
            other += 1;
            continue;
        };
        info.datagrams += 1;
        for r in recs {
            info.records += 1;
            info.record_version
                .get_or_insert_with(|| version_name(r.version));
            if r.ct == CT_HANDSHAKE && r.epoch == 0 {
                handshake_ok |= handshake(r.body, &mut info);
            }
        }
    }
    if info.datagrams == 0 || other > info.datagrams {
        ProbeResult::NotThis
    } else if handshake_ok {
        ProbeResult::Certain(info)
    } else if other == 0 {
        ProbeResult::Unsure(info)
    } else {
        ProbeResult::NotThis
    }
}

/// One sentence for a report.
pub fn summary(d: &DtlsInfo) -> String {
    let name = |t: &u8| match t {
        1 => "ClientHello".to_string(),
        2 => "ServerHello".to_string(),
        3 => "HelloVerifyRequest".to_string(),
        11 => "Certificate".to_string(),
        12 => "ServerKeyExchange".to_string(),
        13 => "CertificateRequest".to_string(),
        14 => "ServerHelloDone".to_string(),
        15 => "CertificateVerify".to_string(),
        16 => "ClientKeyExchange".to_string(),
        t => format!("handshake {t}"),
    };
    let mut parts = vec![match &d.record_version {
        Some(v) => format!("{v} records"),
        None => "DTLS records".to_string(),
    }];
    if !d.handshake_types.is_empty() {
        let h: Vec<String> = d.handshake_types.iter().map(name).collect();
        parts.push(h.join(", "));
    } else {
        parts.push("no clear handshake seen".to_string());
    }
    if d.use_srtp {
        parts.push("use_srtp offered (DTLS-SRTP media keys)".to_string());
    }
    if let Some(sni) = &d.sni {
        parts.push(format!("SNI {sni}"));
    }
    if let Some(c) = d.selected_cipher {
        parts.push(format!("cipher 0x{c:04x}"));
    }
    parts.join("; ")
}
