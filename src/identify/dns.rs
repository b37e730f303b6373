//! DNS (RFC 1035 §4.1): header, questions, answers; SRV (RFC 2782) targets and ports. Over TCP
//! each message has a 2-byte length prefix (RFC 1035 §4.2.2, RFC 7766).
//!
//! On DNS's own ports (53, and 5353/5355 for mDNS and LLMNR) a header and a question that read
//! are enough. On any other port, below 1024 or above, every message must read through to its
//! last byte: the question, answer, authority and additional sections as the header counts
//! them, each name and record in bounds, the question class a real one, and the last record
//! ending where the message ends. Certain: a query and the response with its ID; unsure:
//! messages that read so, without that pair.

use serde::Serialize;

use super::{be16, ProbeResult};

mod field {
    // The transaction id (offset 0) is not needed to recognise DNS.
    pub const FLAGS: usize = 2;
    pub const QDCOUNT: usize = 4;
    pub const ANCOUNT: usize = 6;
    pub const NSCOUNT: usize = 8;
    pub const ARCOUNT: usize = 10;
    pub const HEADER: usize = 12;
    /// A resource record after its name: type, class, TTL, RDLENGTH.
    pub const RR_FIXED: usize = 10;
    pub const RR_RDLENGTH: usize = 8;
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

/// Records a message may hold in one section and still be read as DNS off its ports.
const MAX_SECTION: u16 = 64;

/// Reads a whole message through to its last byte (the checks for DNS off its ports). Returns
/// its ID and whether it is a response.
fn exact(m: &[u8]) -> Option<(u16, bool)> {
    let id = be16(m, 0)?;
    let flags = be16(m, field::FLAGS)?;
    let counts = [
        be16(m, field::QDCOUNT)?,
        be16(m, field::ANCOUNT)?,
        be16(m, field::NSCOUNT)?,
        be16(m, field::ARCOUNT)?,
    ];
    let opcode = (flags >> 11) & 0xf;
    // RFC 1035 §4.1.1: the Z bit is zero; opcodes query, status, notify, update.
    if flags & 0x0040 != 0 || !matches!(opcode, 0 | 2 | 4 | 5) {
        return None;
    }
    if counts[0] == 0 || counts[0] > 4 || counts[1..].iter().any(|&c| c > MAX_SECTION) {
        return None;
    }
    let mut at = field::HEADER;
    for _ in 0..counts[0] {
        let (_, end) = name(m, at)?;
        let class = be16(m, end + 2)? & 0x7fff;
        // IN, CH, HS, NONE, ANY (the top bit is mDNS's unicast-response bit).
        if !matches!(class, 1 | 3 | 4 | 254 | 255) {
            return None;
        }
        at = end + 4;
    }
    let records: u16 = counts[1..].iter().sum();
    for _ in 0..records {
        let (_, end) = name(m, at)?;
        let rdlen = usize::from(be16(m, end + field::RR_RDLENGTH)?);
        at = end + field::RR_FIXED + rdlen;
        if at > m.len() {
            return None;
        }
    }
    (at == m.len()).then_some((id, flags & 0x8000 != 0))
}

/// What exactly-read messages showed: IDs of queries and of responses.
#[derive(Default)]
struct Exact {
    queries: Vec<u16>,
    responses: Vec<u16>,
}

impl Exact {
    fn add(&mut self, m: &[u8], info: &mut DnsInfo) -> bool {
        let Some((id, response)) = exact(m) else {
            return false;
        };
        read(m, info);
        let v = if response {
            &mut self.responses
        } else {
            &mut self.queries
        };
        if v.len() < 16 {
            v.push(id);
        }
        true
    }

    fn answered(&self) -> bool {
        self.responses.iter().any(|r| self.queries.contains(r))
    }
}

/// DNS over UDP. `dns_port`: 53, 5353 or 5355 on either side; elsewhere every datagram must
/// read exactly (see the module notes).
pub fn probe_datagrams(orig: &[&[u8]], resp: &[&[u8]], dns_port: bool) -> ProbeResult<DnsInfo> {
    let mut info = DnsInfo::default();
    if dns_port {
        let mut ok = 0;
        for p in orig.iter().chain(resp) {
            if read(p, &mut info) {
                ok += 1;
            }
        }
        return if ok > 0 {
            ProbeResult::Certain(info)
        } else {
            ProbeResult::NotThis
        };
    }
    let mut seen = Exact::default();
    for p in orig.iter().chain(resp) {
        if !seen.add(p, &mut info) {
            return ProbeResult::NotThis;
        }
    }
    if seen.answered() {
        ProbeResult::Certain(info)
    } else if seen.queries.len() + seen.responses.len() > 0 {
        ProbeResult::Unsure(info)
    } else {
        ProbeResult::NotThis
    }
}

/// DNS over TCP: messages with a 2-byte length prefix. Off port 53 every message must read
/// exactly, as on UDP: a length prefix and a header are too common a shape elsewhere.
pub fn probe_tcp(o: &[u8], r: &[u8], port53: bool) -> ProbeResult<DnsInfo> {
    let mut info = DnsInfo::default();
    let mut ok = 0;
    let mut seen = Exact::default();
    for b in [o, r] {
        let mut at = 0usize;
        for _ in 0..16 {
            let Some(l) = be16(b, at) else { break };
            let Some(m) = b.get(at + 2..at + 2 + usize::from(l)) else {
                break;
            };
            let read_ok = if port53 {
                read(m, &mut info)
            } else {
                seen.add(m, &mut info)
            };
            if !read_ok {
                if !port53 {
                    return ProbeResult::NotThis;
                }
                break;
            }
            ok += 1;
            at += 2 + usize::from(l);
        }
    }
    if ok == 0 {
        ProbeResult::NotThis
    } else if port53 || seen.answered() {
        ProbeResult::Certain(info)
    } else {
        ProbeResult::Unsure(info)
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
