//! Cleartext SIP (RFC 3261 §7): request and status lines, the headers an Edge audit reads.

use serde::Serialize;

use super::ProbeResult;

/// RFC 3261 and extensions, plus Microsoft's SERVICE and BENOTIFY ([MS-SIP] §3.5, §4.4).
const METHODS: [&str; 16] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
    "SERVICE",
    "BENOTIFY",
];
/// Bytes of a message looked at for headers.
const MAX_HEAD: usize = 4096;

#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SipInfo {
    /// The first start line seen (request or status line).
    pub first_line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_host: Option<String>,
    /// Lync/SfB diagnostics header (`ms-diagnostics`), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_diagnostics: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

enum Start {
    Request(String),
    Status(u16),
}

/// The start line, if `line` is one (RFC 3261 §7.1, §7.2).
fn start_line(line: &str) -> Option<Start> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let code: u16 = rest.get(..3)?.parse().ok()?;
        let after = rest.as_bytes().get(3);
        return ((100..700).contains(&code) && matches!(after, None | Some(b' ')))
            .then_some(Start::Status(code));
    }
    let mut it = line.split(' ');
    let (m, uri, ver) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || ver != "SIP/2.0" || !METHODS.contains(&m) {
        return None;
    }
    // sip:, sips:, tel: (and the like): a scheme before a colon.
    let scheme = uri.split(':').next()?;
    (uri.contains(':') && scheme.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| Start::Request(m.to_string()))
}

/// Host of a From/To value: `"name" <sip:user@host;params>` -> host.
fn host_of(v: &str) -> Option<String> {
    let uri = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v),
    };
    let after_scheme = uri.split_once(':').map_or(uri, |(_, r)| r);
    let host = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, h)| h);
    let host = host.split([';', '>', '?', ' ']).next().unwrap_or("");
    // Strip a port, keeping IPv6 brackets.
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next().unwrap_or("").to_string()
    };
    (!host.is_empty()).then_some(host)
}

/// Parses one message head into `info` (fields not yet set). Returns whether it was SIP.
fn read_message(b: &[u8], info: &mut SipInfo) -> bool {
    // RFC 5626 §3.5.1 keep-alives: leading CRLFs.
    let start = b
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(b.len());
    let b = &b[start..b.len().min(start + MAX_HEAD)];
    let text = String::from_utf8_lossy(b);
    let mut lines = text.split("\r\n");
    let Some(first) = lines.next() else {
        return false;
    };
    // The start line must end with CRLF inside what we have.
    if !text.contains("\r\n") {
        return false;
    }
    let Some(start) = start_line(first) else {
        return false;
    };
    if info.first_line.is_empty() {
        info.first_line = first.chars().take(200).collect();
    }
    match start {
        Start::Request(m) => {
            info.method.get_or_insert(m);
        }
        Start::Status(s) => {
            info.status.get_or_insert(s);
        }
    }
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let v = || Some(value.chars().take(300).collect::<String>());
        // RFC 3261 §7.3.3 compact forms: i (Call-ID), f (From), t (To).
        match name.trim().to_ascii_lowercase().as_str() {
            "call-id" | "i" if info.call_id.is_none() => info.call_id = v(),
            "from" | "f" if info.from_host.is_none() => info.from_host = host_of(value),
            "to" | "t" if info.to_host.is_none() => info.to_host = host_of(value),
            "ms-diagnostics" | "ms-diagnostics-public" if info.ms_diagnostics.is_none() => {
                info.ms_diagnostics = v()
            }
            "user-agent" if info.user_agent.is_none() => info.user_agent = v(),
            "server" if info.server.is_none() => info.server = v(),
            _ => {}
        }
    }
    true
}

/// SIP over TCP: the first message of either side.
pub fn probe_stream(c: &[u8], s: &[u8]) -> ProbeResult<SipInfo> {
    let mut info = SipInfo::default();
    let a = read_message(c, &mut info);
    let b = read_message(s, &mut info);
    if a || b {
        ProbeResult::Certain(info)
    } else {
        ProbeResult::NotThis
    }
}

/// SIP over UDP: any of the kept datagrams (keep-alives such as nDPI's `hello` come first in
/// some flows).
pub fn probe_datagrams(orig: &[&[u8]], resp: &[&[u8]]) -> ProbeResult<SipInfo> {
    let mut info = SipInfo::default();
    let mut found = false;
    for p in orig.iter().chain(resp) {
        found |= read_message(p, &mut info);
    }
    if found {
        ProbeResult::Certain(info)
    } else {
        ProbeResult::NotThis
    }
}

pub fn summary(s: &SipInfo) -> String {
    let mut parts = vec![format!("SIP {}", s.first_line)];
    if let (Some(f), Some(t)) = (&s.from_host, &s.to_host) {
        parts.push(format!("from {f} to {t}"));
    }
    if let Some(d) = &s.ms_diagnostics {
        parts.push(format!("ms-diagnostics {d}"));
    }
    if let Some(u) = s.user_agent.as_ref().or(s.server.as_ref()) {
        parts.push(u.clone());
    }
    parts.join("; ")
}
