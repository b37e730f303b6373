//! TLS (RFC 5246, RFC 8446): records, the clear handshake, certificates, alerts.
//!
//! The prefix of each direction is already in TCP order. Records are walked with their own
//! length field (RFC 5246 §6.2.1); handshake records are concatenated before any message is
//! parsed, because a handshake message may span several records and a record may carry several
//! messages (RFC 5246 §6.2.1 "multiple client messages of the same ContentType MAY be coalesced
//! into a single TLSPlaintext record, or a single message MAY be fragmented across several
//! records"). Only bytes before the sender's ChangeCipherSpec are clear (TLS <= 1.2); in TLS 1.3
//! everything after the ServerHello is encrypted (RFC 8446 §2), so certificates are not visible.
//! Each complete message is then handed to `tls-parser`.

use serde::Serialize;
use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

use super::{be16, be24, ProbeResult};

/// Named offsets of the record and handshake headers.
mod field {
    use std::ops::Range;
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: Range<usize> = 1..3;
    pub const LENGTH: usize = 3;
    pub const RECORD_HEADER: usize = 5;
    pub const HS_TYPE: usize = 0;
    pub const HS_LENGTH: usize = 1;
    pub const HS_HEADER: usize = 4;
}

const CT_CCS: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPDATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;
/// RFC 8446 §5.1: a record is at most 2^14 bytes, plus 2048 of expansion for a ciphertext
/// (RFC 5246 §6.2.3).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Clear handshake bytes kept per direction. The flow prefix is at most 16 KiB, so this only
/// guards identify_parts callers that pass more.
const MAX_HANDSHAKE: usize = 64 * 1024;
/// Cipher suites kept from a ClientHello.
const MAX_SUITES: usize = 64;

/// What a TLS handshake showed.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// Version of the first record (client side, else server side), e.g. "TLS 1.0".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_hello_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// Offered by the client, in order (at most 64).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_cipher: Option<u16>,
    /// The negotiated version: the ServerHello's supported_versions when present (RFC 8446
    /// §4.2.1), else its legacy version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// The server's chain as sent (leaf first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertInfo>,
    /// The client's chain, when it sent one (mutual TLS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_certificates: Vec<CertInfo>,
    /// A CertificateRequest (type 13) was seen: the server asks for mutual TLS.
    pub client_certificate_requested: bool,
    /// The client sent a non-empty Certificate message.
    pub client_certificate_sent: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<TlsAlert>,
    pub outcome: TlsOutcome,
    /// TLS 1.3 was negotiated: the Certificate and any CertificateRequest are encrypted.
    pub tls13_hides_certificates: bool,
    /// The capture joined the connection inside a record: the records were found by walking
    /// from a later offset (the bytes before it are the end of a record not seen whole).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mid_stream: bool,
    /// Handshake message types seen in clear, in order, per side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_messages: Vec<u8>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_messages: Vec<u8>,
}

/// One certificate as seen on the wire.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_cn: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub san_dns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_cn: Option<String>,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Filled by a later stage that knows the capture time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_at_capture: Option<bool>,
    /// The DER did not parse as X.509.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    /// The extended key usages (RFC 5280 §4.2.1.12); `None` when the certificate has no such
    /// extension, which leaves it usable for any purpose. Read by the certificate checks (F14).
    #[serde(skip)]
    pub eku: Option<Eku>,
}

/// The extended key usages a certificate lists, as far as the Edge's TLS cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eku {
    /// anyExtendedKeyUsage (2.5.29.37.0).
    pub any: bool,
    /// id-kp-serverAuth (1.3.6.1.5.5.7.3.1).
    pub server_auth: bool,
    /// id-kp-clientAuth (1.3.6.1.5.5.7.3.2).
    pub client_auth: bool,
    /// Any other usage listed.
    pub others: usize,
}

impl Eku {
    /// Whether a peer that checks the usage accepts the certificate for TLS client
    /// authentication.
    pub fn allows_client_auth(&self) -> bool {
        self.any || self.client_auth
    }

    /// The usages in words, as certificate viewers name them.
    pub fn words(&self) -> String {
        let mut w: Vec<String> = Vec::new();
        if self.any {
            w.push("any purpose".into());
        }
        if self.server_auth {
            w.push("Server Authentication".into());
        }
        if self.client_auth {
            w.push("Client Authentication".into());
        }
        if self.others > 0 {
            w.push(format!(
                "{} other usage{}",
                self.others,
                if self.others == 1 { "" } else { "s" }
            ));
        }
        if w.is_empty() {
            "no usage".into()
        } else {
            w.join(", ")
        }
    }
}

/// A TLS alert.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct TlsAlert {
    /// "client" or "server".
    pub from: &'static str,
    /// "warning", "fatal", or "encrypted" when the alert came after ChangeCipherSpec (its level
    /// and description are not readable).
    pub level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
}

/// How the handshake ended, as far as the prefix shows.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsOutcome {
    /// Both sides changed to the negotiated keys (TLS <= 1.2: ChangeCipherSpec from each; TLS
    /// 1.3: the client's encrypted Finished followed the ServerHello).
    Completed,
    /// A clear alert ended it (fatal; or a warning with nothing completed after it).
    Alert,
    /// Neither completed nor alerted: the prefix ends mid-handshake.
    #[default]
    Stalled,
    /// The connection was reset before the handshake completed.
    Reset,
}

/// RFC 5246 §7.2 / RFC 8446 §6 alert names.
fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

/// A plausible record header at the start of `b`: known content type, major version 3, minor
/// 0-4, a length within the limit. Returns (type, version, length).
pub(crate) fn record_header(b: &[u8]) -> Option<(u8, u16, usize)> {
    let ct = *b.get(field::CONTENT_TYPE)?;
    let ver = b.get(field::VERSION)?;
    let len = usize::from(be16(b, field::LENGTH)?);
    let ok_type = (CT_CCS..=CT_HEARTBEAT).contains(&ct);
    let ok_ver = ver[0] == 3 && ver[1] <= 4;
    (ok_type && ok_ver && len > 0 && len <= MAX_RECORD).then_some((
        ct,
        u16::from_be_bytes([ver[0], ver[1]]),
        len,
    ))
}

/// The records of one direction, as far as they are well-formed.
#[derive(Debug, Default)]
struct DirScan {
    records: usize,
    first_version: Option<u16>,
    first_type: Option<u8>,
    /// Clear handshake bytes (before this side's ChangeCipherSpec), concatenated.
    handshake: Vec<u8>,
    ccs: bool,
    /// A record of type application data (or, after CCS, encrypted handshake).
    app_data: bool,
    alerts: Vec<(Option<(u8, u8)>,)>,
    /// The walk ended on a byte that is not a record header (not just a cut-off record).
    garbage_after: bool,
    /// The last record ended exactly at the end of the bytes.
    complete: bool,
}

fn scan(b: &[u8]) -> DirScan {
    let mut s = DirScan::default();
    let mut at = 0usize;
    while at < b.len() {
        let rest = &b[at..];
        let Some((ct, ver, len)) = record_header(rest) else {
            // Fewer than 5 bytes left is a cut-off header, not garbage.
            s.garbage_after = rest.len() >= field::RECORD_HEADER;
            break;
        };
        let end = field::RECORD_HEADER + len;
        s.records += 1;
        s.first_version.get_or_insert(ver);
        s.first_type.get_or_insert(ct);
        // The record may be cut off by the end of the prefix: use what is there.
        let body = &rest[field::RECORD_HEADER..end.min(rest.len())];
        match ct {
            CT_HANDSHAKE if !s.ccs => {
                let room = MAX_HANDSHAKE.saturating_sub(s.handshake.len());
                s.handshake.extend_from_slice(&body[..body.len().min(room)]);
            }
            CT_HANDSHAKE | CT_APPDATA => s.app_data = true,
            CT_CCS => s.ccs = true,
            CT_ALERT => {
                // RFC 5246 §7.2: a clear alert is exactly level + description; after CCS (or
                // any other length) it is encrypted.
                if !s.ccs && len == 2 && body.len() == 2 {
                    s.alerts.push((Some((body[0], body[1])),));
                } else {
                    s.alerts.push((None,));
                }
            }
            _ => {}
        }
        if end > rest.len() {
            break;
        }
        at += end;
        s.complete = at == b.len();
    }
    s
}

/// Complete handshake messages in a defragmented handshake stream, as (type, whole message).
fn messages(hs: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let (Some(&t), Some(len)) = (hs.get(at + field::HS_TYPE), be24(hs, at + field::HS_LENGTH))
    {
        let end = at + field::HS_HEADER + len;
        let Some(msg) = hs.get(at..end) else { break };
        out.push((t, msg));
        at = end;
    }
    out
}

/// Parses one DER certificate into what a report shows.
pub fn cert_info(der: &[u8]) -> CertInfo {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => {
            let cn = |n: &x509_parser::x509::X509Name<'_>| {
                n.iter_common_name()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .map(str::to_string)
            };
            let san_dns = match c.subject_alternative_name() {
                Ok(Some(ext)) => ext
                    .value
                    .general_names
                    .iter()
                    .filter_map(|g| match g {
                        x509_parser::extensions::GeneralName::DNSName(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let eku = match c.extended_key_usage() {
                Ok(Some(ext)) => {
                    let e = ext.value;
                    Some(Eku {
                        any: e.any,
                        server_auth: e.server_auth,
                        client_auth: e.client_auth,
                        others: usize::from(e.code_signing)
                            + usize::from(e.email_protection)
                            + usize::from(e.time_stamping)
                            + usize::from(e.ocsp_signing)
                            + e.other.len(),
                    })
                }
                _ => None,
            };
            let v = c.validity();
            CertInfo {
                subject_cn: cn(c.subject()),
                san_dns,
                issuer_cn: cn(c.issuer()),
                not_before: Some(rfc3339(v.not_before.timestamp())),
                not_after: Some(rfc3339(v.not_after.timestamp())),
                expired_at_capture: None,
                parse_error: None,
                eku,
            }
        }
        Err(e) => CertInfo {
            parse_error: Some(e.to_string()),
            ..Default::default()
        },
    }
}

/// Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z`), by the civil-from-days algorithm
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
pub fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn read_client_hello(info: &mut TlsInfo, ch: &tls_parser::TlsClientHelloContents<'_>) {
    info.client_hello_version = Some(version_name(ch.version.0));
    info.cipher_suites = ch.ciphers.iter().take(MAX_SUITES).map(|c| c.0).collect();
    let Some(ext) = ch.ext else { return };
    let Ok((_, exts)) = tls_parser::parse_tls_extensions(ext) else {
        return;
    };
    for e in exts {
        match e {
            TlsExtension::SNI(names) => {
                if let Some((_, n)) = names.first() {
                    info.sni = Some(super::text(n, 255));
                }
            }
            TlsExtension::ALPN(list) => {
                info.alpn = list.iter().take(16).map(|p| super::text(p, 64)).collect();
            }
            _ => {}
        }
    }
}

fn read_server_hello(info: &mut TlsInfo, version: u16, cipher: u16, ext: Option<&[u8]>) {
    info.selected_cipher = Some(cipher);
    let mut negotiated = version;
    if let Some(Ok((_, exts))) = ext.map(tls_parser::parse_tls_extensions) {
        for e in exts {
            match e {
                TlsExtension::SupportedVersions(v) => {
                    if let Some(v) = v.first() {
                        negotiated = v.0;
                    }
                }
                TlsExtension::ALPN(list) if info.alpn.is_empty() => {
                    info.alpn = list.iter().take(16).map(|p| super::text(p, 64)).collect();
                }
                _ => {}
            }
        }
    }
    info.server_version = Some(version_name(negotiated));
    info.tls13_hides_certificates = negotiated == 0x0304;
}

/// Reads one side's clear handshake messages. Returns whether a Hello of the expected kind
/// parsed.
fn read_messages(info: &mut TlsInfo, hs: &[u8], client: bool) -> bool {
    let mut hello = false;
    for (t, msg) in messages(hs).into_iter().take(32) {
        if client {
            info.client_messages.push(t);
        } else {
            info.server_messages.push(t);
        }
        let Ok((_, TlsMessage::Handshake(m))) = tls_parser::parse_tls_message_handshake(msg) else {
            continue;
        };
        match m {
            TlsMessageHandshake::ClientHello(ch) if client => {
                read_client_hello(info, &ch);
                hello = true;
            }
            TlsMessageHandshake::ServerHello(sh) if !client => {
                read_server_hello(info, sh.version.0, sh.cipher.0, sh.ext);
                hello = true;
            }
            TlsMessageHandshake::ServerHelloV13Draft18(sh) if !client => {
                read_server_hello(info, sh.version.0, sh.cipher.0, sh.ext);
                hello = true;
            }
            TlsMessageHandshake::Certificate(c) => {
                let certs: Vec<CertInfo> = c
                    .cert_chain
                    .iter()
                    .take(8)
                    .map(|r| cert_info(r.data))
                    .collect();
                if client {
                    info.client_certificate_sent |= !certs.is_empty();
                    info.client_certificates = certs;
                } else {
                    info.certificates = certs;
                }
            }
            TlsMessageHandshake::CertificateRequest(_) if !client => {
                info.client_certificate_requested = true;
            }
            _ => {}
        }
    }
    // A CertificateRequest that tls-parser could not read is still a request.
    if !client && info.server_messages.contains(&13) {
        info.client_certificate_requested = true;
    }
    hello
}

/// Probes a TCP flow for TLS, `c` being the client's bytes and `s` the server's.
///
/// Certain: a ClientHello or ServerHello parsed. Unsure: only well-formed records (a capture
/// that starts after the handshake). `reset` is the flow's TCP history showing a RST.
pub fn probe(c: &[u8], s: &[u8], reset: bool) -> ProbeResult<TlsInfo> {
    let cs = scan(c);
    let ss = scan(s);
    if cs.records == 0 && ss.records == 0 {
        return mid_stream(c, s);
    }
    // The client must open with a handshake record (RFC 5246 §7.3); a server may open with an
    // alert (zeek tls-1.2-handshake-failure: the reply to the ClientHello is a fatal alert).
    let mut info = TlsInfo {
        record_version: cs.first_version.or(ss.first_version).map(version_name),
        ..Default::default()
    };
    let client_hello = read_messages(&mut info, &cs.handshake, true);
    let server_hello = read_messages(&mut info, &ss.handshake, false);
    if !client_hello && info.client_messages.first().is_some_and(|&t| t != 1) {
        // The "client" side starts with something other than a ClientHello: wrong direction
        // or not a handshake start; let the other order try.
        if !server_hello {
            return ProbeResult::NotThis;
        }
    }
    if !client_hello && server_hello && info.server_messages.first() == Some(&1) {
        return ProbeResult::NotThis;
    }
    for (from, scanned) in [("client", &cs), ("server", &ss)] {
        for (a,) in &scanned.alerts {
            info.alerts.push(match a {
                Some((level, d)) => TlsAlert {
                    from,
                    level: match level {
                        1 => "warning",
                        2 => "fatal",
                        _ => "unknown",
                    },
                    description: Some(*d),
                    name: alert_name(*d),
                },
                None => TlsAlert {
                    from,
                    level: "encrypted",
                    description: None,
                    name: None,
                },
            });
        }
    }
    let tls13 = info.tls13_hides_certificates;
    let completed = if tls13 {
        // RFC 8446 §4.4.4: the client's Finished is encrypted (application-data records).
        cs.app_data && ss.app_data
    } else {
        cs.ccs && ss.ccs
    };
    let fatal = info.alerts.iter().any(|a| a.level == "fatal");
    let clear_alert = info
        .alerts
        .iter()
        .any(|a| a.level == "warning" || a.level == "fatal");
    info.outcome = if fatal {
        TlsOutcome::Alert
    } else if completed {
        TlsOutcome::Completed
    } else if reset {
        TlsOutcome::Reset
    } else if clear_alert {
        TlsOutcome::Alert
    } else {
        TlsOutcome::Stalled
    };
    if client_hello || server_hello {
        return ProbeResult::Certain(info);
    }
    // No hello: a well-formed run of records is TLS joined late; one lone record with garbage
    // after it is not evidence.
    let walked = |d: &DirScan| d.records >= 2 || (d.records == 1 && !d.garbage_after);
    let starts_ok = |d: &DirScan| {
        d.first_type
            .is_none_or(|t| matches!(t, CT_HANDSHAKE | CT_APPDATA | CT_ALERT | CT_CCS))
    };
    let clean = |d: &DirScan| d.records == 0 || !d.garbage_after;
    if walked(&cs) && walked(&ss) && clean(&cs) && clean(&ss) && starts_ok(&cs) && starts_ok(&ss) {
        return ProbeResult::Unsure(info);
    }
    // One direction only (the other silent or not captured): records that end exactly where
    // the bytes end (nDPI tls_alert.pcap: a lone encrypted alert record) are a hint.
    let alone = |d: &DirScan| d.records >= 1 && d.complete && starts_ok(d);
    if (alone(&cs) && ss.records == 0 && s.is_empty())
        || (alone(&ss) && cs.records == 0 && c.is_empty())
    {
        return ProbeResult::Unsure(info);
    }
    mid_stream(c, s)
}

/// Bytes searched for the first record header of a connection joined mid-record: the longest
/// record and its header.
const RESYNC_WINDOW: usize = MAX_RECORD + field::RECORD_HEADER;

/// How well one direction's records walk from some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Synced {
    offset: usize,
    version: u16,
    /// Two complete records in a row, or one that ends exactly where the bytes end.
    strong: bool,
}

/// The first offset from which records walk without garbage: complete records one after the
/// other, the last one possibly cut off by the end of the prefix. A record joined in its
/// middle leaves its tail before that offset.
fn resync(b: &[u8]) -> Option<Synced> {
    for offset in 0..b.len().min(RESYNC_WINDOW) {
        let Some((_, version, _)) = record_header(&b[offset..]) else {
            continue;
        };
        let mut at = offset;
        let mut complete = 0usize;
        let mut cut = false;
        while at < b.len() {
            let Some((_, _, len)) = record_header(&b[at..]) else {
                break;
            };
            let end = at + field::RECORD_HEADER + len;
            if end > b.len() {
                cut = true;
                break;
            }
            complete += 1;
            at = end;
        }
        let exact = at == b.len();
        // Garbage after the walk (not a cut-off record, not the end): not this offset.
        if !(cut || exact) && b.len() - at >= field::RECORD_HEADER {
            continue;
        }
        // A cut-off header with fewer than 5 bytes left is only the end of the prefix.
        let strong = complete >= 2 || complete == 1 && exact;
        return Some(Synced {
            offset,
            version,
            strong,
        });
    }
    None
}

/// TLS joined mid-stream: each direction walks from some offset (RFC 5246 §6.2.1, each record
/// announcing its own length), at least one of them through two complete records or one that
/// ends exactly with the bytes. Unsure: no handshake is seen, only record framing.
fn mid_stream(c: &[u8], s: &[u8]) -> ProbeResult<TlsInfo> {
    let (rc, rs) = (resync(c), resync(s));
    let fits = |b: &[u8], r: Option<Synced>| b.is_empty() || r.is_some();
    let strong = rc.is_some_and(|r| r.strong) || rs.is_some_and(|r| r.strong);
    if !strong || !fits(c, rc) || !fits(s, rs) {
        return ProbeResult::NotThis;
    }
    let first = rc.or(rs);
    let info = TlsInfo {
        record_version: first.map(|r| version_name(r.version)),
        mid_stream: [rc, rs].iter().flatten().any(|r| r.offset > 0),
        ..Default::default()
    };
    ProbeResult::Unsure(info)
}

/// One sentence for a report.
pub fn summary(t: &TlsInfo) -> String {
    let mut parts = Vec::new();
    match (&t.client_hello_version, &t.sni) {
        (Some(_), Some(sni)) => parts.push(format!("TLS ClientHello SNI {sni}")),
        (Some(_), None) => parts.push("TLS ClientHello without SNI".to_string()),
        _ if t.mid_stream => {
            parts.push("TLS records, joined mid-stream (no handshake seen)".to_string());
        }
        _ => parts.push("TLS records".to_string()),
    }
    if let Some(v) = &t.server_version {
        let cipher = t
            .selected_cipher
            .and_then(|c| tls_parser::TlsCipherSuite::from_id(c).map(|s| s.name.to_string()))
            .or_else(|| t.selected_cipher.map(|c| format!("0x{c:04x}")))
            .unwrap_or_default();
        parts.push(format!("server {v} {cipher}").trim_end().to_string());
    }
    if let Some(leaf) = t.certificates.first() {
        let mut s = format!(
            "server certificate CN {}",
            leaf.subject_cn.as_deref().unwrap_or("(none)")
        );
        if !leaf.san_dns.is_empty() {
            s.push_str(&format!(", SAN {}", leaf.san_dns.join(" ")));
        }
        if let Some(i) = &leaf.issuer_cn {
            s.push_str(&format!(", issuer {i}"));
        }
        parts.push(s);
    } else if t.tls13_hides_certificates {
        parts.push("TLS 1.3 hides the certificates".to_string());
    }
    if t.client_certificate_requested {
        parts.push(if t.client_certificate_sent {
            "mutual TLS: client certificate requested and sent".to_string()
        } else {
            "client certificate requested".to_string()
        });
    } else if t.client_certificate_sent {
        parts.push("client certificate sent".to_string());
    }
    for a in t.alerts.iter().filter(|a| a.level != "encrypted").take(3) {
        parts.push(format!(
            "{} alert from {}: {}",
            a.level,
            a.from,
            a.name
                .map(str::to_string)
                .or(a.description.map(|d| d.to_string()))
                .unwrap_or_default()
        ));
    }
    let outcome = match t.outcome {
        TlsOutcome::Completed => "handshake completed",
        TlsOutcome::Alert => "ended by alert",
        TlsOutcome::Stalled => "handshake not completed",
        TlsOutcome::Reset => "reset during handshake",
    };
    if !t.mid_stream {
        parts.push(outcome.to_string());
    }
    parts.join("; ")
}
