//! DNS (RFC 1035 §4.1): header, questions, answers; SRV (RFC 2782) targets and ports. Over TCP
//! each message has a 2-byte length prefix (RFC 1035 §4.2.2, RFC 7766).

use serde::Serialize;

use super::{be16, ProbeResult};

mod field {
    // The transaction id (offset 0) is not needed to recognise DNS.
    pub const FLAGS: usize = 2;
    pub const QDCOUNT: usize = 4;
    pub const ANCOUNT: usize = 6;
    pub const HEADER: usize = 12;
}

const TYPE_SRV: u16 = 33;
const MAX_RECORDS: usize = 32;

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SrvAnswer {
    pub target: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsInfo {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// Query types ("A", "AAAA", "SRV", "NAPTR" or the number).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_types: Vec<String>,
    /// Response code of the first response ("NOERROR", "NXDOMAIN"...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub srv: Vec<SrvAnswer>,
    /// A and AAAA answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    pub responses: u32,
}

fn type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        35 => "NAPTR".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        t => t.to_string(),
    }
}

fn rcode_name(r: u8) -> String {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        r => r.to_string(),
    }
}

/// Reads a name at `at` (RFC 1035 §4.1.4 compression, bounded). Returns (name, end of the name
/// in place).
fn name(m: &[u8], at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut pos = at;
    let mut end = None;
    let mut total = 0usize;
    for _ in 0..128 {
        let len = *m.get(pos)?;
        match len {
            0 => {
                let end = end.unwrap_or(pos + 1);
                // The root has no labels; it is written ".", as dig writes it.
                if labels.is_empty() {
                    return Some((".".to_string(), end));
                }
                return Some((labels.join("."), end));
            }
            1..=63 => {
                let l = m.get(pos + 1..pos + 1 + usize::from(len))?;
                total += l.len() + 1;
                if total > 255 {
                    return None;
                }
                labels.push(super::text(l, 63));
                pos += 1 + usize::from(len);
            }
            0xc0..=0xff => {
                let ptr = usize::from(be16(m, pos)? & 0x3fff);
                end.get_or_insert(pos + 2);
                // Pointers go backwards (RFC 1035 §4.1.4 "a prior occurrence").
                if ptr >= pos {
                    return None;
                }
                pos = ptr;
            }
            _ => return None,
        }
    }
    None
}

/// Parses one DNS message into `info`. Returns whether it was a plausible DNS message.
fn read(m: &[u8], info: &mut DnsInfo) -> bool {
    let (Some(flags), Some(qd), Some(an)) = (
        be16(m, field::FLAGS),
        be16(m, field::QDCOUNT),
        be16(m, field::ANCOUNT),
    ) else {
        return false;
    };
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    // Standard query, inverse (obsolete), status, notify, update; one question normally.
    if !matches!(opcode, 0 | 2 | 4 | 5) || qd == 0 || qd > 4 {
        return false;
    }
    let mut at = field::HEADER;
    let mut questions = Vec::new();
    for _ in 0..qd {
        let Some((n, end)) = name(m, at) else {
            return false;
        };
        let (Some(t), Some(_class)) = (be16(m, end), be16(m, end + 2)) else {
            return false;
        };
        questions.push((n, t));
        at = end + 4;
    }
    for (n, t) in questions {
        if !info.queries.contains(&n) && info.queries.len() < 16 {
            info.queries.push(n);
        }
        let tn = type_name(t);
        if !info.query_types.contains(&tn) {
            info.query_types.push(tn);
        }
    }
    if response {
        info.responses += 1;
        if info.rcode.is_none() {
            info.rcode = Some(rcode_name((flags & 0xf) as u8));
        }
        for _ in 0..usize::from(an).min(MAX_RECORDS) {
            let Some((_, end)) = name(m, at) else { break };
            let (Some(t), Some(rdlen)) = (be16(m, end), be16(m, end + 8)) else {
                break;
            };
            let rd_at = end + 10;
            let Some(rdata) = m.get(rd_at..rd_at + usize::from(rdlen)) else {
                break;
            };
            match t {
                1 if rdata.len() == 4 => info.addresses.push(
                    std::net::Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string(),
                ),
                28 if rdata.len() == 16 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(rdata);
                    info.addresses.push(std::net::Ipv6Addr::from(o).to_string());
                }
                TYPE_SRV => {
                    // RFC 2782: priority, weight, port, target.
                    if let (Some(priority), Some(weight), Some(port), Some((target, _))) = (
                        be16(m, rd_at),
                        be16(m, rd_at + 2),
                        be16(m, rd_at + 4),
                        name(m, rd_at + 6),
                    ) {
                        info.srv.push(SrvAnswer {
                            target,
                            port,
                            priority,
                            weight,
                        });
                    }
                }
                _ => {}
            }
            at = rd_at + usize::from(rdlen);
        }
    }
    true
}

/// DNS over UDP (the caller checks the port).
pub fn probe_datagrams(orig: &[&[u8]], resp: &[&[u8]]) -> ProbeResult<DnsInfo> {
    let mut info = DnsInfo::default();
    let mut ok = 0;
    for p in orig.iter().chain(resp) {
        if read(p, &mut info) {
            ok += 1;
        }
    }
    if ok > 0 {
        ProbeResult::Certain(info)
    } else {
        ProbeResult::NotThis
    }
}

/// DNS over TCP: messages with a 2-byte length prefix. Only on port 53: a length prefix and a
/// header are too common a shape elsewhere.
pub fn probe_tcp(o: &[u8], r: &[u8], port53: bool) -> ProbeResult<DnsInfo> {
    if !port53 {
        return ProbeResult::NotThis;
    }
    let mut info = DnsInfo::default();
    let mut ok = 0;
    for b in [o, r] {
        let mut at = 0usize;
        for _ in 0..16 {
            let Some(l) = be16(b, at) else { break };
            let Some(m) = b.get(at + 2..at + 2 + usize::from(l)) else {
                break;
            };
            if !read(m, &mut info) {
                break;
            }
            ok += 1;
            at += 2 + usize::from(l);
        }
    }
    if ok > 0 {
        ProbeResult::Certain(info)
    } else {
        ProbeResult::NotThis
    }
}

pub fn summary(d: &DnsInfo) -> String {
    let mut s = format!(
        "DNS {} {}",
        d.query_types.join(","),
        d.queries.first().map_or("", String::as_str)
    );
    if let Some(r) = &d.rcode {
        s.push_str(&format!("; {r}"));
    }
    for a in d.srv.iter().take(3) {
        s.push_str(&format!("; SRV {}:{}", a.target, a.port));
    }
    if !d.addresses.is_empty() {
        s.push_str(&format!("; {}", d.addresses.join(" ")));
    }
    s
}
