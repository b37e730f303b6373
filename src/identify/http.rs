//! HTTP/1.x (RFC 9112 §3, §4): request and status lines, Host. On the Edge: CRL and OCSP
//! fetches on TCP 80 (RFC 5280 §4.2.1.13, RFC 6960 App. A).
//!
//! Lines may end in a bare LF (RFC 9112 §2.2: a recipient MAY recognise one), as scripts and
//! embedded servers send them. HTTP/2 with prior knowledge opens with the fixed client
//! connection preface (RFC 9113 §3.4), which is certain by itself; its server answers with a
//! SETTINGS frame.

use serde::Serialize;

use super::ProbeResult;

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
];
const MAX_HEAD: usize = 4096;
/// RFC 9113 §3.4.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The preface's first line: enough when the prefix ends inside the preface.
const H2_PREFACE_LINE: usize = 16;
/// An HTTP/2 frame header: length (3), type (1), flags (1), stream (4).
const H2_FRAME_HEADER: usize = 9;
const H2_SETTINGS: u8 = 4;

#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// "HTTP/1.1", "HTTP/1.0", or "HTTP/2" for the prior-knowledge preface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The start line ended in a bare LF, not CRLF.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bare_lf: bool,
}

/// The head as text and its lines (CRLF or bare LF), if there is a line end at all.
fn head(b: &[u8]) -> Option<(Vec<String>, bool)> {
    let b = &b[..b.len().min(MAX_HEAD)];
    let first_end = b.iter().position(|&c| c == b'\n')?;
    let bare_lf = first_end == 0 || b[first_end - 1] != b'\r';
    let t = String::from_utf8_lossy(b);
    let lines = t
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    Some((lines, bare_lf))
}

fn headers(lines: &[String], info: &mut HttpInfo) {
    for line in lines.iter().skip(1) {
        if line.is_empty() {
            break;
        }
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        let v = Some(v.trim().chars().take(300).collect::<String>());
        match n.trim().to_ascii_lowercase().as_str() {
            "host" if info.host.is_none() => info.host = v,
            "content-type" if info.content_type.is_none() => info.content_type = v,
            "user-agent" if info.user_agent.is_none() => info.user_agent = v,
            "server" if info.server.is_none() => info.server = v,
            _ => {}
        }
    }
}

fn request(b: &[u8], info: &mut HttpInfo) -> bool {
    let Some((lines, bare_lf)) = head(b) else {
        return false;
    };
    let first = lines.first().map_or("", String::as_str);
    let mut it = first.split(' ');
    let (Some(m), Some(path), Some(ver), None) = (it.next(), it.next(), it.next(), it.next())
    else {
        return false;
    };
    if !METHODS.contains(&m) || !matches!(ver, "HTTP/1.0" | "HTTP/1.1") || path.is_empty() {
        return false;
    }
    info.method = Some(m.to_string());
    info.path = Some(path.chars().take(300).collect());
    info.version = Some(ver.to_string());
    info.bare_lf = bare_lf;
    headers(&lines, info);
    true
}

fn response(b: &[u8], info: &mut HttpInfo) -> bool {
    let Some((lines, bare_lf)) = head(b) else {
        return false;
    };
    let first = lines.first().map_or("", String::as_str);
    let Some((ver, rest)) = first
        .strip_prefix("HTTP/1.1 ")
        .map(|r| ("HTTP/1.1", r))
        .or_else(|| first.strip_prefix("HTTP/1.0 ").map(|r| ("HTTP/1.0", r)))
    else {
        return false;
    };
    let Some(code) = rest.get(..3).and_then(|c| c.parse::<u16>().ok()) else {
        return false;
    };
    if !(100..600).contains(&code) {
        return false;
    }
    info.status = Some(code);
    info.version.get_or_insert_with(|| ver.to_string());
    info.bare_lf |= bare_lf;
    let mut h = HttpInfo::default();
    headers(&lines, &mut h);
    info.server = h.server;
    if info.content_type.is_none() {
        info.content_type = h.content_type;
    }
    true
}

/// The client's HTTP/2 connection preface, whole or cut off after its first line.
fn h2_preface(c: &[u8]) -> bool {
    c.starts_with(H2_PREFACE) || c.len() >= H2_PREFACE_LINE && H2_PREFACE.starts_with(c)
}

/// The server's first frame is a SETTINGS frame on stream 0 (RFC 9113 §3.4, §6.5): a length
/// that is a multiple of 6, no flags but ACK, stream 0.
fn h2_settings(s: &[u8]) -> bool {
    let Some(h) = s.get(..H2_FRAME_HEADER) else {
        return false;
    };
    let len = super::be24(h, 0).unwrap_or(1);
    h[3] == H2_SETTINGS && len % 6 == 0 && h[4] & !1 == 0 && h[5..9] == [0, 0, 0, 0]
}

/// `c` the client's bytes, `s` the server's.
pub fn probe(c: &[u8], s: &[u8]) -> ProbeResult<HttpInfo> {
    let mut info = HttpInfo::default();
    if h2_preface(c) && (s.is_empty() || h2_settings(s)) {
        info.version = Some("HTTP/2".to_string());
        return ProbeResult::Certain(info);
    }
    let req = request(c, &mut info);
    let resp = response(s, &mut info);
    if req || (resp && c.is_empty()) {
        ProbeResult::Certain(info)
    } else if resp {
        // A status line answering something that is not an HTTP request.
        ProbeResult::Unsure(info)
    } else {
        ProbeResult::NotThis
    }
}

pub fn summary(h: &HttpInfo) -> String {
    let mut s = String::from("HTTP");
    if h.version.as_deref() == Some("HTTP/2") && h.method.is_none() {
        s.push_str("/2 connection preface (prior knowledge)");
    }
    if let (Some(m), Some(p)) = (&h.method, &h.path) {
        s.push_str(&format!(" {m} {p}"));
    }
    if let Some(host) = &h.host {
        s.push_str(&format!(" Host {host}"));
    }
    if let Some(st) = h.status {
        s.push_str(&format!("; status {st}"));
    }
    if let Some(ct) = &h.content_type {
        s.push_str(&format!(" {ct}"));
    }
    if h.bare_lf {
        s.push_str("; lines end in a bare LF");
    }
    s
}
