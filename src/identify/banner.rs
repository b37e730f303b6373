//! Protocols with a fixed opening: SSH (RFC 4253 §4.2 identification string), RDP (TPKT,
//! RFC 1006 §6, carrying an X.224 Connection Request, [MS-RDPBCGR] §2.2.1.1), SMB over TCP 445
//! (RFC 1002 §4.3.1 session message, then `\xFFSMB` [MS-SMB] or `\xFESMB` [MS-SMB2]).

use super::{be16, ProbeResult, Protocol};

mod field {
    use std::ops::Range;
    pub const TPKT_VERSION: usize = 0;
    pub const TPKT_RESERVED: usize = 1;
    pub const TPKT_LENGTH: usize = 2;
    pub const X224_LI: usize = 4;
    pub const X224_CODE: usize = 5;
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

fn rdp(b: &[u8]) -> Option<String> {
    let len = usize::from(be16(b, field::TPKT_LENGTH)?);
    let li = usize::from(*b.get(field::X224_LI)?);
    let ok = b.get(field::TPKT_VERSION) == Some(&3)
        && b.get(field::TPKT_RESERVED) == Some(&0)
        && len >= 11
        && li + 5 == len
        // X.224 Connection Request (0xE0), or Connection Confirm (0xD0) from the server.
        && matches!(b.get(field::X224_CODE).map(|c| c & 0xf0), Some(0xe0 | 0xd0));
    if !ok {
        return None;
    }
    let body = &b[..len.min(b.len())];
    let cookie = body
        .windows(b"Cookie: ".len())
        .position(|w| w == b"Cookie: ")
        .map(|i| {
            let rest = &body[i..];
            let end = rest.iter().position(|&c| c == b'\r').unwrap_or(rest.len());
            super::text(&rest[..end], 128)
        });
    Some(match cookie {
        Some(c) => format!("X.224 Connection Request, {c}"),
        None => "X.224 connection".to_string(),
    })
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
    if let Some(t) = rdp(c) {
        return ProbeResult::Certain((Protocol::Rdp, t));
    }
    if let Some(t) = smb(c).or_else(|| smb(s)) {
        return ProbeResult::Certain((Protocol::Smb, t));
    }
    ProbeResult::NotThis
}
