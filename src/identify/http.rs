//! HTTP/1.x (RFC 9112 §3, §4): request and status lines, Host. On the Edge: CRL and OCSP
//! fetches on TCP 80 (RFC 5280 §4.2.1.13, RFC 6960 App. A).

use serde::Serialize;

use super::ProbeResult;

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
];
const MAX_HEAD: usize = 4096;

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
}

fn head(b: &[u8]) -> Option<String> {
    let b = &b[..b.len().min(MAX_HEAD)];
    let t = String::from_utf8_lossy(b).into_owned();
    t.contains("\r\n").then_some(t)
}

fn headers(text: &str, info: &mut HttpInfo) {
    for line in text.split("\r\n").skip(1) {
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
    let Some(t) = head(b) else { return false };
    let first = t.split("\r\n").next().unwrap_or("");
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
    headers(&t, info);
    true
}

fn response(b: &[u8], info: &mut HttpInfo) -> bool {
    let Some(t) = head(b) else { return false };
    let first = t.split("\r\n").next().unwrap_or("");
    let Some(rest) = first
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| first.strip_prefix("HTTP/1.0 "))
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
    let mut h = HttpInfo::default();
    headers(&t, &mut h);
    info.server = h.server;
    if info.content_type.is_none() {
        info.content_type = h.content_type;
    }
    true
}

/// `c` the client's bytes, `s` the server's.
pub fn probe(c: &[u8], s: &[u8]) -> ProbeResult<HttpInfo> {
    let mut info = HttpInfo::default();
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
    s
}
