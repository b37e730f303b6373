//! Protocols with a fixed opening: SSH (RFC 4253 §4.2 identification string), RDP (TPKT,
//! RFC 1006 §6, carrying an X.224 Connection Request, [MS-RDPBCGR] §2.2.1.1), SMB over TCP 445
//! (RFC 1002 §4.3.1 session message, then `\xFFSMB` [MS-SMB] or `\xFESMB` [MS-SMB2]).
//!
//! TPKT and the X.224 (COTP, ISO 8073) Connection Request are shared by every ISO-on-TCP
//! protocol: S7comm and MMS (IEC 61850) on port 102 open exactly as RDP does on 3389. What only
//! RDP sends is in the variable part of the request: the `Cookie: mstshash=` or routing-token
//! `Cookie: msts=` line and the 8-byte RDP Negotiation Request ([MS-RDPBCGR] §2.2.1.1.1); the
//! server's Connection Confirm carries an RDP Negotiation Response or Failure (§2.2.1.2.1,
//! §2.2.1.2.2). Those make RDP certain. The other ISO-on-TCP protocols put COTP parameters
//! there instead (TPDU size 0xC0, calling and called TSAP 0xC1, 0xC2: ISO 8073 §13.3.4), which
//! rules RDP out. A request with an empty variable part is what a pre-5.0 RDP client sent, and
//! is only unsure.

use super::{be16, ProbeResult, Protocol};

mod field {
    use std::ops::Range;
    pub const TPKT_VERSION: usize = 0;
    pub const TPKT_RESERVED: usize = 1;
    pub const TPKT_LENGTH: usize = 2;
    pub const X224_LI: usize = 4;
    pub const X224_CODE: usize = 5;
    /// Code, DST-REF (2), SRC-REF (2), class: the variable part starts here.
    pub const X224_FIXED_END: usize = 11;
    pub const NBSS_TYPE: usize = 0;
    pub const SMB_MAGIC: Range<usize> = 4..8;
}

fn ssh(b: &[u8]) -> Option<String> {
    if !(b.starts_with(b"SSH-2.0-") || b.starts_with(b"SSH-1.99-") || b.starts_with(b"SSH-1.5-")) {
        return None;
    }
    let end = b.iter().take(255).position(|&c| c == b'\n')?;
    Some(
        super::text(&b[..end], 255)
            .trim_end_matches('.')
            .to_string(),
    )
}

/// What the variable part of an X.224 connection TPDU says about RDP.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cotp {
    /// RDP's own fields (a cookie, a negotiation request, response or failure).
    Rdp(String),
    /// Nothing after the fixed part: any ISO-on-TCP protocol may send this.
    Bare,
    /// COTP parameters or anything else: another ISO-on-TCP protocol.
    Other,
}

/// [MS-RDPBCGR] §2.2.1.1.1-§2.2.1.2.2: type, flags, length 8 (little-endian), 4 bytes.
fn rdp_negotiation(b: &[u8], request: bool) -> Option<String> {
    let (&t, len) = (b.first()?, b.get(2..4)?);
    if len != [8, 0] || b.len() < 8 {
        return None;
    }
    let v = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let what = match (t, request) {
        (1, true) => format!("RDP Negotiation Request, protocols 0x{v:x}"),
        (2, false) => format!("RDP Negotiation Response, selected protocol 0x{v:x}"),
        (3, false) => format!("RDP Negotiation Failure, code {v}"),
        _ => return None,
    };
    // An RDP_NEG_CORRELATION_INFO (type 6, length 36) may follow the request (§2.2.1.1.2).
    let rest = &b[8..];
    let ok = rest.is_empty()
        || request && rest.len() == 36 && rest[0] == 6 && rest.get(2..4) == Some(&[36, 0][..]);
    ok.then_some(what)
}

/// Reads a TPKT-framed X.224 Connection Request (`request`) or Confirm.
fn cotp_connection(b: &[u8], request: bool) -> Option<Cotp> {
    let len = usize::from(be16(b, field::TPKT_LENGTH)?);
    let li = usize::from(*b.get(field::X224_LI)?);
    let code = if request { 0xe0 } else { 0xd0 };
    let ok = b.get(field::TPKT_VERSION) == Some(&3)
        && b.get(field::TPKT_RESERVED) == Some(&0)
        && len >= field::X224_FIXED_END
        && li + 5 == len
        && b.get(field::X224_CODE).map(|c| c & 0xf0) == Some(code);
    if !ok {
        return None;
    }
    let Some(var) = b.get(field::X224_FIXED_END..len) else {
        // Cut off by the end of the prefix: the header alone says nothing about RDP.
        return Some(Cotp::Bare);
    };
    if var.is_empty() {
        return Some(Cotp::Bare);
    }
    if request && var.starts_with(b"Cookie: ") {
        let Some(end) = var.windows(2).position(|w| w == b"\r\n") else {
            return Some(Cotp::Other);
        };
        let cookie = super::text(&var[..end], 128);
        let after = &var[end + 2..];
        if !(cookie.starts_with("Cookie: mstshash=") || cookie.starts_with("Cookie: msts=")) {
            return Some(Cotp::Other);
        }
        if after.is_empty() {
            return Some(Cotp::Rdp(cookie));
        }
        return Some(match rdp_negotiation(after, true) {
            Some(n) => Cotp::Rdp(format!("{cookie}, {n}")),
            None => Cotp::Other,
        });
    }
    Some(match rdp_negotiation(var, request) {
        Some(n) => Cotp::Rdp(n),
        None => Cotp::Other,
    })
}

/// RDP from the client's Connection Request and the server's Connection Confirm.
fn rdp(c: &[u8], s: &[u8]) -> ProbeResult<String> {
    let cr = cotp_connection(c, true);
    let cc = cotp_connection(s, false);
    if cr.is_none() && cc.is_none() {
        return ProbeResult::NotThis;
    }
    if cr == Some(Cotp::Other) || cc == Some(Cotp::Other) {
        return ProbeResult::NotThis;
    }
    let mut said = Vec::new();
    if let Some(Cotp::Rdp(t)) = &cr {
        said.push(format!("X.224 Connection Request, {t}"));
    }
    if let Some(Cotp::Rdp(t)) = &cc {
        said.push(format!("X.224 Connection Confirm, {t}"));
    }
    if said.is_empty() {
        ProbeResult::Unsure(
            "X.224 connection with neither cookie nor RDP negotiation (any ISO-on-TCP protocol \
             opens so)"
                .to_string(),
        )
    } else {
        ProbeResult::Certain(said.join("; "))
    }
}

fn smb(b: &[u8]) -> Option<String> {
    if b.get(field::NBSS_TYPE) != Some(&0) {
        return None;
    }
    match b.get(field::SMB_MAGIC)? {
        [0xff, b'S', b'M', b'B'] => Some("SMB1".to_string()),
        [0xfe, b'S', b'M', b'B'] => Some("SMB2".to_string()),
        _ => None,
    }
}

/// `c` the client's bytes, `s` the server's. SSH servers usually speak first.
pub fn probe(c: &[u8], s: &[u8]) -> ProbeResult<(Protocol, String)> {
    if let Some(t) = ssh(s).or_else(|| ssh(c)) {
        return ProbeResult::Certain((Protocol::Ssh, t));
    }
    if let Some(t) = smb(c).or_else(|| smb(s)) {
        return ProbeResult::Certain((Protocol::Smb, t));
    }
    rdp(c, s).map(|t| (Protocol::Rdp, t))
}
