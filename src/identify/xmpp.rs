//! XMPP (RFC 6120 §4.2 stream headers, §5 STARTTLS; XEP-0220 dialback). On the Edge:
//! server-to-server federation on TCP 5269. After `<proceed/>` the same connection carries TLS,
//! which is read with the TLS probe.

use serde::Serialize;

use super::tls::{self, TlsInfo};
use super::ProbeResult;

const MAX_TEXT: usize = 8192;

#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct XmppInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// "jabber:client" or "jabber:server".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Server dialback namespace declared (XEP-0220).
    pub dialback: bool,
    /// The server's features offered STARTTLS.
    pub starttls_offered: bool,
    /// The client asked for STARTTLS.
    pub starttls_requested: bool,
    /// The server said `<proceed/>`.
    pub starttls_proceed: bool,
}

/// Attribute value in a tag, either quote style.
fn attr(tag: &str, name: &str) -> Option<String> {
    for q in ['\'', '"'] {
        let pat = format!(" {name}={q}");
        if let Some(i) = tag.find(&pat) {
            let rest = &tag[i + pat.len()..];
            let end = rest.find(q)?;
            return Some(rest[..end].chars().take(255).collect());
        }
    }
    None
}

/// Bytes after the end of the element starting with `open` (`<proceed`, `<starttls`).
fn after_element(b: &[u8], open: &str) -> Option<usize> {
    let i = find(b, open.as_bytes())?;
    let close = find(&b[i..], b">")?;
    Some(i + close + 1)
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    h.windows(n.len()).position(|w| w == n)
}

/// A stream header at the start (after an optional XML declaration and whitespace).
fn stream_tag(b: &[u8]) -> Option<String> {
    let t = String::from_utf8_lossy(&b[..b.len().min(MAX_TEXT)]).into_owned();
    let mut rest = t.trim_start();
    if rest.starts_with("<?xml") {
        rest = rest[rest.find("?>")? + 2..].trim_start();
    }
    if !rest.starts_with("<stream:stream") {
        return None;
    }
    let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
    (tag.contains("jabber:") || tag.contains("http://etherx.jabber.org/streams"))
        .then(|| tag.to_string())
}

/// A capture that starts inside a stream: the first bytes are a top-level stanza (RFC 6120
/// §8) or the stream's end tag, in both directions or the only one seen.
fn mid_stream(b: &[u8]) -> bool {
    [
        "<iq ",
        "<presence",
        "<message ",
        "</stream:stream>",
        "<stream:features",
    ]
    .iter()
    .any(|p| b.starts_with(p.as_bytes()))
}

/// `c` the initiating server or client, `s` the receiving side.
pub fn probe(c: &[u8], s: &[u8], reset: bool) -> ProbeResult<(XmppInfo, Option<TlsInfo>)> {
    let ct = stream_tag(c);
    let st = stream_tag(s);
    if ct.is_none() && st.is_none() {
        let joined = (mid_stream(c) || c.is_empty()) && (mid_stream(s) || s.is_empty());
        if joined && (mid_stream(c) || mid_stream(s)) {
            return ProbeResult::Unsure((XmppInfo::default(), None));
        }
        return ProbeResult::NotThis;
    }
    let mut info = XmppInfo::default();
    for tag in [&ct, &st].into_iter().flatten() {
        if info.to.is_none() {
            info.to = attr(tag, "to");
        }
        if info.from.is_none() {
            info.from = attr(tag, "from");
        }
        if info.namespace.is_none() {
            info.namespace = attr(tag, "xmlns");
        }
        info.dialback |= tag.contains("jabber:server:dialback");
    }
    let s_text = &s[..s.len().min(MAX_TEXT)];
    let c_text = &c[..c.len().min(MAX_TEXT)];
    info.starttls_offered = find(s_text, b"<starttls").is_some();
    info.starttls_requested = find(c_text, b"<starttls").is_some();
    info.starttls_proceed = find(s_text, b"<proceed").is_some();
    let mut tls_info = None;
    if info.starttls_requested && info.starttls_proceed {
        // The server's "<starttls" in its features comes before "<proceed", so the TLS bytes
        // start after "<proceed .../>" on the server side and after the client's request.
        let c_at = after_element(c, "<starttls").unwrap_or(c.len());
        let s_at = after_element(s, "<proceed").unwrap_or(s.len());
        tls_info = tls::probe(&c[c_at..], &s[s_at..], reset)
            .into_parts()
            .map(|(_, t)| t);
    }
    ProbeResult::Certain((info, tls_info))
}

pub fn summary(x: &XmppInfo, t: Option<&TlsInfo>) -> String {
    let mut s = format!(
        "XMPP stream {}",
        x.namespace.as_deref().unwrap_or("(no namespace)")
    );
    if let Some(to) = &x.to {
        s.push_str(&format!(" to {to}"));
    }
    if let Some(from) = &x.from {
        s.push_str(&format!(" from {from}"));
    }
    if x.dialback {
        s.push_str("; dialback");
    }
    if x.starttls_requested && x.starttls_proceed {
        s.push_str("; STARTTLS");
    } else if x.starttls_offered {
        s.push_str("; STARTTLS offered");
    }
    if let Some(t) = t {
        s.push_str(&format!("; then {}", tls::summary(t)));
    }
    s
}
