//! TLS on every documented TLS service of the Edge, read from the clear part of each handshake
//! (TLS 1.0-1.2: everything up to ChangeCipherSpec; TLS 1.3 hides the certificates).
//!
//! One reading of a handshake serves every service: did the two sides agree on a version and a
//! cipher, did one side end the handshake with an alert (or a reset after seeing a certificate),
//! did a mutual-TLS server get the client certificate it asked for, does the server's certificate
//! carry the name the client asked for (SNI) and the FQDN the topology gives the service, and
//! was every certificate valid when the capture was taken. Federation (SIP/MTLS 5061 between our
//! Access Edge and a partner) keeps the rulebook's ids, F4-F10, one finding per partner or name;
//! the other services share TL1-TL5, one finding per service and cause, each naming the service
//! (the Access Edge's and the Web Conferencing Edge's 443, the internal interface's SIP/MTLS
//! 5061, 5062, PSOM/MTLS 8057 and HTTPS 4443, the reverse proxy's 443 and its 4443 to the pool).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::checks::{has_role, service_port, tcp_failure, unanswered_udp};
use super::{evidence, Confidence, Diagnosis, Evidence, Finding, Inputs, Severity};
use crate::flow::Flow;
use crate::identify::{CertInfo, Protocol, TlsInfo, TlsOutcome};
use crate::matrix::{Role, ServicePort};
use crate::topology::Topology;

/// F10: the handshake waited at least this long after the peer's certificate (the rulebook's
/// threshold, marked as a guess there).
const STALL_NS: i64 = 10 * 1_000_000_000;
/// Evidence flows kept per finding; the explanation counts them all.
const EVIDENCE_KEPT: usize = 20;

/// Alerts that say the two sides found no common version or cipher (RFC 5246 §7.2).
const PROTOCOL_VERSION: u8 = 70;
const INSUFFICIENT_SECURITY: u8 = 71;
const HANDSHAKE_FAILURE: u8 = 40;
/// Handshake message types (RFC 5246 §7.4).
const CLIENT_HELLO: u8 = 1;
const CERTIFICATE: u8 = 11;

/// Seconds since the epoch of an RFC 3339 UTC time as the identification writes it
/// (`2028-01-01T00:00:00Z`), without a date library.
fn epoch_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// A documented TLS service, as the topology and the port place a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// SIP/MTLS between our Access Edge and a federated partner.
    Federation,
    /// Remote users' SIP/TLS to the Access Edge.
    AccessSip,
    /// Remote users' PSOM/TLS to the Web Conferencing Edge.
    WebconfPsom,
    /// SIP/MTLS 5061 between the Edge internal interface and its next hop, either way.
    InternalSip,
    /// SIP/MTLS 5062 from the pool to the Edge internal interface (A/V authentication).
    AvAuth,
    /// PSOM/MTLS 8057 from the pool to the Edge internal interface.
    Psom,
    /// HTTPS 4443 from the Central Management Store to the Edge internal interface.
    Cms,
    /// HTTPS 443 from the Internet to the reverse proxy.
    ProxyIn,
    /// HTTPS 4443 from the reverse proxy's internal interface to the pool.
    ProxyPool,
}

impl Kind {
    /// The service in words, with its protocol and port.
    fn label(self, port: u16) -> String {
        match self {
            Kind::Federation => format!("federation (SIP/MTLS {port})"),
            Kind::AccessSip => format!("the Access Edge (SIP/TLS {port})"),
            Kind::WebconfPsom => format!("the Web Conferencing Edge (PSOM/TLS {port})"),
            Kind::InternalSip => {
                format!("SIP/MTLS {port} between the Edge internal interface and the next hop")
            }
            Kind::AvAuth => format!(
                "A/V authentication (SIP/MTLS {port}) from the pool to the Edge internal interface"
            ),
            Kind::Psom => format!(
                "web conferencing (PSOM/MTLS {port}) from the pool to the Edge internal interface"
            ),
            Kind::Cms => format!(
                "Central Management Store replication (HTTPS {port}) to the Edge internal interface"
            ),
            Kind::ProxyIn => format!("the reverse proxy (HTTPS {port})"),
            Kind::ProxyPool => {
                format!("the reverse proxy's publishing to the pool (HTTPS {port})")
            }
        }
    }

    /// What the documents say about the service's certificates.
    fn citation(self) -> &'static str {
        match self {
            Kind::Federation | Kind::AccessSip | Kind::WebconfPsom => {
                "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning > Edge Certificate table (external Edge certificate)"
            }
            Kind::InternalSip | Kind::AvAuth | Kind::Psom | Kind::Cms => {
                "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning > Internal Certificates; Port and firewall planning > Internal port firewall summary table"
            }
            Kind::ProxyIn | Kind::ProxyPool => {
                "Lync Server 2010, \"Reference Architecture 1: Port Summary for Single Consolidated Edge\" > Firewall Details for Reverse Proxy Server"
            }
        }
    }
}

/// One flow's service: what it is, who the Edge's side is, and the names its certificate must
/// carry.
struct Service {
    kind: Kind,
    port: u16,
    /// Federation: the partner's address and whether our Access Edge opened the connection.
    partner: Option<(IpAddr, bool)>,
    /// The names the topology gives the certificate of one end, and which end: true when the
    /// server's (the Edge serves), false when the client's (our Access Edge opened federation).
    names: Option<(bool, Vec<String>)>,
}

/// The topology's FQDN for the service at `ip` (its own address, public address or VIP).
fn fqdns(
    t: &Topology,
    ip: IpAddr,
    pick: fn(&crate::topology::EdgeNode) -> &crate::topology::ServiceAddr,
) -> Vec<String> {
    let own: Vec<String> = t
        .edges
        .iter()
        .map(pick)
        .filter(|s| s.ip == ip || s.public == Some(ip))
        .filter_map(|s| s.fqdn.clone())
        .collect();
    if !own.is_empty() {
        return own;
    }
    // A VIP: the pool's members share the name.
    let mut all: Vec<String> = t
        .edges
        .iter()
        .map(pick)
        .filter_map(|s| s.fqdn.clone())
        .collect();
    all.sort();
    all.dedup();
    all
}

fn service_of(inputs: &Inputs<'_>, f: &Flow) -> Option<Service> {
    if f.protocol != 6 {
        return None;
    }
    let t = inputs.topology;
    let roles = |ip| t.roles_of(ip);
    let any = |ip, rs: &[Role]| roles(ip).iter().any(|r| rs.contains(r));
    let access = |ip| any(ip, &[Role::EdgeAccess, Role::EdgeAccessVip]);
    let internal_if = |ip| any(ip, &[Role::EdgeInternal, Role::EdgeInternalVip]);
    let port = f.responder.port;
    let fed = service_port(inputs, ServicePort::AccessFederation).unwrap_or(5061);
    let plain = |kind| {
        Some(Service {
            kind,
            port,
            partner: None,
            names: None,
        })
    };
    if port == fed && (access(f.initiator.ip) || access(f.responder.ip)) {
        let outbound = access(f.initiator.ip);
        let (ours, theirs) = if outbound {
            (f.initiator.ip, f.responder.ip)
        } else {
            (f.responder.ip, f.initiator.ip)
        };
        let names = fqdns(t, ours, |e| &e.access);
        return Some(Service {
            kind: Kind::Federation,
            port,
            partner: Some((theirs, outbound)),
            names: (!names.is_empty()).then_some((!outbound, names)),
        });
    }
    let with_names = |kind, names: Vec<String>| {
        Some(Service {
            kind,
            port,
            partner: None,
            names: (!names.is_empty()).then_some((true, names)),
        })
    };
    if access(f.responder.ip) && Some(port) == service_port(inputs, ServicePort::AccessSip) {
        return with_names(Kind::AccessSip, fqdns(t, f.responder.ip, |e| &e.access));
    }
    if any(f.responder.ip, &[Role::EdgeWebconf, Role::EdgeWebconfVip])
        && Some(port) == service_port(inputs, ServicePort::WebconfPsom)
    {
        return with_names(Kind::WebconfPsom, fqdns(t, f.responder.ip, |e| &e.webconf));
    }
    if internal_if(f.responder.ip) {
        return match port {
            5061 => plain(Kind::InternalSip),
            5062 => plain(Kind::AvAuth),
            8057 => plain(Kind::Psom),
            4443 => plain(Kind::Cms),
            _ => None,
        };
    }
    if internal_if(f.initiator.ip) && port == 5061 && t.is_internal_host(f.responder.ip) {
        return plain(Kind::InternalSip);
    }
    if has_role(inputs, f.responder.ip, Role::ReverseProxyExternal) && port == 443 {
        return plain(Kind::ProxyIn);
    }
    if has_role(inputs, f.initiator.ip, Role::ReverseProxyInternal) && port == 4443 {
        return plain(Kind::ProxyPool);
    }
    None
}

/// Does the certificate carry `name` (a SAN dNSName, or the subject CN; a wildcard covers one
/// label)?
fn covers(cert: &CertInfo, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    cert.san_dns.iter().chain(cert.subject_cn.iter()).any(|n| {
        let n = n.to_ascii_lowercase();
        n == name
            || n.strip_prefix("*.")
                .is_some_and(|w| name.split_once('.').is_some_and(|(_, rest)| rest == w))
    })
}

fn cert_names(cert: &CertInfo) -> String {
    let mut names: Vec<&str> = cert.san_dns.iter().map(String::as_str).collect();
    if let Some(cn) = cert.subject_cn.as_deref() {
        if !names.contains(&cn) {
            names.insert(0, cn);
        }
    }
    if names.is_empty() {
        "no name".into()
    } else {
        names.join(", ")
    }
}

/// Why a handshake failed, at most one per flow, most specific first.
enum Failure {
    /// No common version or cipher (F9, TL1).
    Mismatch(String),
    /// The server asked for a client certificate and got none (F6, TL3).
    NoClientCert(String),
    /// Our Edge sat on the peer's certificate while its revocation download failed (F10);
    /// error when the handshake was then abandoned.
    Stall { detail: String, aborted: bool },
    /// One side ended the handshake (F4, F5, TL2): true when the server did.
    Rejected {
        by_server: bool,
        what: String,
        alert: bool,
    },
}

fn fatal(tls: &TlsInfo) -> Option<&crate::identify::TlsAlert> {
    tls.alerts.iter().find(|a| a.level == "fatal")
}

fn offered(tls: &TlsInfo) -> String {
    let mut s = format!(
        "the client offered {} with {} cipher suite{}",
        tls.client_hello_version
            .as_deref()
            .unwrap_or("an unknown version"),
        tls.cipher_suites.len(),
        if tls.cipher_suites.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    if let Some(v) = &tls.server_version {
        s.push_str(&format!(", the server chose {v}"));
    }
    s
}

fn mismatch(f: &Flow, tls: &TlsInfo) -> Option<String> {
    let before_cert = !tls.server_messages.contains(&CERTIFICATE) && !tls.tls13_hides_certificates;
    if let Some(a) = fatal(tls) {
        let version_or_cipher = matches!(
            a.description,
            Some(PROTOCOL_VERSION | INSUFFICIENT_SECURITY)
        ) || (a.description == Some(HANDSHAKE_FAILURE) && before_cert);
        if version_or_cipher {
            return Some(format!(
                "fatal {} alert from the {} before any certificate; {}",
                a.name.unwrap_or("handshake"),
                a.from,
                offered(tls)
            ));
        }
    }
    // Zeek's history: `r` is a reset from the responder.
    (tls.outcome == TlsOutcome::Reset
        && f.history().contains('r')
        && tls.client_messages.first() == Some(&CLIENT_HELLO)
        && tls.server_messages.is_empty()
        && tls.alerts.is_empty())
    .then(|| {
        format!(
            "the server reset the connection right after the ClientHello, no ServerHello; {}",
            offered(tls)
        )
    })
}

/// The failed revocation downloads (TCP 80) and DNS queries (53) of the Edge's external
/// addresses, in words, by start time: built once, looked up per stalled handshake.
struct Revocations(Vec<(i64, String)>);

impl Revocations {
    fn new(inputs: &Inputs<'_>) -> Revocations {
        let t = inputs.topology;
        let external = |ip| {
            t.roles_of(ip).iter().any(|r| {
                matches!(
                    r,
                    Role::EdgeAccess | Role::EdgeAccessVip | Role::EdgeWebconf | Role::EdgeAv
                )
            })
        };
        let mut v: Vec<(i64, String)> = inputs
            .analysis
            .flows
            .iter()
            .enumerate()
            .filter(|(_, g)| matches!(g.responder.port, 80 | 53) && external(g.initiator.ip))
            .filter_map(|(j, g)| {
                let why = if g.responder.port == 80 && g.protocol == 6 {
                    tcp_failure(inputs, j, g)
                } else {
                    unanswered_udp(inputs, j, g).or_else(|| tcp_failure(inputs, j, g))
                }?;
                Some((
                    g.first_ts_ns(),
                    format!(
                        "{} to {}:{} ({why})",
                        if g.responder.port == 80 {
                            "revocation download"
                        } else {
                            "DNS"
                        },
                        g.responder.ip,
                        g.responder.port
                    ),
                ))
            })
            .collect();
        v.sort();
        Revocations(v)
    }

    /// Those that started while `f` was open (at most a few, in words).
    fn during(&self, f: &Flow) -> Vec<String> {
        let (start, end) = (f.first_ts_ns(), f.last_ts_ns());
        let from = self.0.partition_point(|(t, _)| *t < start);
        self.0[from..]
            .iter()
            .take_while(|(t, _)| *t <= end)
            .take(4)
            .map(|(_, w)| w.clone())
            .collect()
    }
}

fn failure(revocations: &Revocations, f: &Flow, tls: &TlsInfo, svc: &Service) -> Option<Failure> {
    if tls.outcome == TlsOutcome::Completed {
        return None;
    }
    if let Some(m) = mismatch(f, tls) {
        return Some(Failure::Mismatch(m));
    }
    // The client answered the server's flight (more than its ClientHello) without a
    // certificate; a client still silent has not decided yet.
    if tls.client_certificate_requested
        && !tls.client_certificate_sent
        && tls.client_messages.len() > 1
    {
        return Some(Failure::NoClientCert(
            "the server asked for a client certificate (mutual TLS) and none was sent".into(),
        ));
    }
    if let Some((_, outbound)) = svc.partner {
        // Our side silent after the partner's certificate: as client, nothing after the
        // ClientHello; as server, no ChangeCipherSpec after the partner's certificate.
        let waiting = if outbound {
            !tls.certificates.is_empty() && tls.client_messages == [CLIENT_HELLO]
        } else {
            tls.client_messages.contains(&CERTIFICATE)
        };
        let waited = f.last_ts_ns() - f.first_ts_ns();
        if waiting && fatal(tls).is_none() && waited >= STALL_NS {
            let downloads = revocations.during(f);
            if !downloads.is_empty() {
                let aborted = f.history().contains(['F', 'f', 'R', 'r']);
                return Some(Failure::Stall {
                    detail: format!(
                        "our Access Edge stayed silent after the partner's certificate for up to {:.0} s{}, while: {}",
                        waited as f64 / 1e9,
                        if aborted {
                            ", then the connection ended"
                        } else {
                            ""
                        },
                        downloads.join("; ")
                    ),
                    aborted,
                });
            }
        }
    }
    if let Some(a) = fatal(tls) {
        return Some(Failure::Rejected {
            by_server: a.from == "server",
            what: format!(
                "fatal TLS alert {} sent by the {}",
                a.name.unwrap_or("(unknown)"),
                a.from
            ),
            alert: true,
        });
    }
    if tls.outcome == TlsOutcome::Reset && !tls.certificates.is_empty() {
        // Schannel often resets instead of alerting: the server after the client's certificate,
        // the client after the server's.
        let by_server = tls.client_certificate_sent;
        return Some(Failure::Rejected {
            by_server,
            what: format!(
                "reset during the TLS handshake, after the {}'s certificate",
                if by_server { "client" } else { "server" }
            ),
            alert: false,
        });
    }
    None
}

/// A certificate name that failed: (the name, how it failed in words).
fn name_failures(tls: &TlsInfo, svc: &Service) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let (Some(sni), Some(leaf)) = (
        tls.sni.as_ref().filter(|n| !n.is_empty()),
        tls.certificates.first(),
    ) {
        if !covers(leaf, sni) {
            out.push((
                sni.to_ascii_lowercase(),
                format!(
                    "the client asked for {sni}; the server's certificate names {}",
                    cert_names(leaf)
                ),
            ));
        }
    }
    if let Some((server, names)) = &svc.names {
        let leaf = if *server {
            tls.certificates.first()
        } else {
            tls.client_certificates.first()
        };
        if let Some(leaf) = leaf {
            for n in names {
                let n = n.to_ascii_lowercase();
                if !covers(leaf, &n) && !out.iter().any(|(x, _)| *x == n) {
                    out.push((
                        n.clone(),
                        format!(
                            "the topology names this service {n}; the {} certificate names {}",
                            if *server {
                                "server's"
                            } else {
                                "client's (our Access Edge's)"
                            },
                            cert_names(leaf)
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// Certificates outside their validity at the flow's first packet: (CN, expired, detail).
fn validity_failures(f: &Flow, tls: &TlsInfo) -> Vec<(String, bool, String)> {
    let at = f.first_ts_ns().div_euclid(1_000_000_000);
    let mut out = Vec::new();
    for (whose, c) in tls
        .certificates
        .iter()
        .map(|c| ("server", c))
        .chain(tls.client_certificates.iter().map(|c| ("client", c)))
    {
        let cn = c.subject_cn.clone().unwrap_or_else(|| "(no CN)".into());
        let end = c.not_after.as_deref().and_then(epoch_seconds);
        let start = c.not_before.as_deref().and_then(epoch_seconds);
        if end.is_some_and(|e| e < at) {
            out.push((
                cn.clone(),
                true,
                format!(
                    "the {whose}'s certificate {cn} expired {}",
                    c.not_after.as_deref().unwrap_or("")
                ),
            ));
        } else if start.is_some_and(|s| s > at) {
            out.push((
                cn.clone(),
                false,
                format!(
                    "the {whose}'s certificate {cn} is valid only from {}",
                    c.not_before.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    out
}

/// Findings under construction, by (id, grouping key): title parts and evidence.
#[derive(Default)]
struct Groups {
    map: BTreeMap<(&'static str, String), Group>,
}

struct Group {
    kind: Kind,
    port: u16,
    severity: Severity,
    confidence: Confidence,
    /// Distinct alerts or names, for the title.
    words: Vec<String>,
    evidence: Vec<Evidence>,
    count: usize,
}

/// Adds a flow's evidence to the finding `id` of group `key`.
#[allow(clippy::too_many_arguments)]
fn add(
    groups: &mut Groups,
    id: &'static str,
    key: String,
    svc: &Service,
    severity: Severity,
    confidence: Confidence,
    word: Option<String>,
    e: Evidence,
) {
    let g = groups.map.entry((id, key)).or_insert_with(|| Group {
        kind: svc.kind,
        port: svc.port,
        severity,
        confidence,
        words: Vec::new(),
        evidence: Vec::new(),
        count: 0,
    });
    g.severity = g.severity.min(severity);
    if confidence == Confidence::High {
        g.confidence = Confidence::High;
    }
    if let Some(w) = word {
        if !g.words.contains(&w) {
            g.words.push(w);
        }
    }
    g.count += 1;
    if g.evidence.len() < EVIDENCE_KEPT {
        g.evidence.push(e);
    }
}

pub(super) fn run(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    let mut groups = Groups::default();
    let mut our_certificates = OurCertificates::default();
    let revocations = Revocations::new(inputs);
    for (i, f) in inputs.analysis.flows.iter().enumerate() {
        let Some(svc) = service_of(inputs, f) else {
            continue;
        };
        let Some(id) = inputs.analysis.identifications.get(i) else {
            continue;
        };
        if matches!(id.protocol, Protocol::PseudoTls | Protocol::MsTurn) {
            continue;
        }
        let Some(tls) = id.evidence.tls.as_deref() else {
            continue;
        };
        let fed = svc.kind == Kind::Federation;
        let partner = svc
            .partner
            .map(|(ip, _)| ip.to_string())
            .unwrap_or_default();
        let label = svc.kind.label(svc.port);
        our_certificates.add(inputs, i, &svc, tls, &label);
        if let Some(fail) = failure(&revocations, f, tls, &svc) {
            match fail {
                Failure::Mismatch(detail) => add(
                    &mut groups,
                    if fed { "F9" } else { "TL1" },
                    if fed { partner.clone() } else { label.clone() },
                    &svc,
                    Severity::Error,
                    if detail.starts_with("the server reset") {
                        Confidence::Medium
                    } else {
                        Confidence::High
                    },
                    None,
                    evidence(inputs, i, detail),
                ),
                Failure::NoClientCert(detail) => add(
                    &mut groups,
                    if fed { "F6" } else { "TL3" },
                    if fed { partner.clone() } else { label.clone() },
                    &svc,
                    Severity::Error,
                    Confidence::Medium,
                    None,
                    evidence(inputs, i, detail),
                ),
                Failure::Stall { detail, aborted } => add(
                    &mut groups,
                    "F10",
                    partner.clone(),
                    &svc,
                    if aborted {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    Confidence::Medium,
                    None,
                    evidence(inputs, i, detail),
                ),
                Failure::Rejected {
                    by_server,
                    what,
                    alert,
                } => {
                    let confidence = if alert {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    };
                    let word = fatal(tls).and_then(|a| a.name).map(str::to_string);
                    let e = evidence(inputs, i, what);
                    match svc.partner {
                        Some((_, outbound)) => {
                            // The server ended it: the partner when we opened the connection.
                            let theirs = by_server == outbound;
                            add(
                                &mut groups,
                                if theirs { "F4" } else { "F5" },
                                partner.clone(),
                                &svc,
                                Severity::Error,
                                confidence,
                                word,
                                e,
                            );
                        }
                        None => add(
                            &mut groups,
                            "TL2",
                            format!("{label}|{by_server}"),
                            &svc,
                            Severity::Error,
                            confidence,
                            word,
                            e,
                        ),
                    }
                }
            }
        }
        for (name, detail) in name_failures(tls, &svc) {
            add(
                &mut groups,
                if fed { "F7" } else { "TL4" },
                format!("{label}|{name}"),
                &svc,
                Severity::Error,
                Confidence::High,
                Some(name),
                evidence(inputs, i, detail),
            );
        }
        for (cn, expired, detail) in validity_failures(f, tls) {
            add(
                &mut groups,
                if fed { "F8" } else { "TL5" },
                if fed { partner.clone() } else { label.clone() },
                &svc,
                Severity::Error,
                Confidence::High,
                Some(format!(
                    "{cn} {}",
                    if expired { "expired" } else { "not yet valid" }
                )),
                evidence(inputs, i, detail),
            );
        }
    }
    for ((id, key), g) in groups.map {
        d.findings.push(finding(inputs, id, &key, g));
    }
    our_certificates.report(d);
}

/// F14: the certificates our Access Edge presented (as server on inbound federation and on its
/// SIP/TLS port, as client on outbound federation), by certificate, with the flows that showed
/// those without the Client Authentication usage.
#[derive(Default)]
struct OurCertificates {
    /// Handshakes in which our Access Edge's certificate was readable.
    seen: usize,
    /// By certificate (subject, names, end of validity): its name, its usages in words, the
    /// services it was seen on, the flows, how many.
    lacking: BTreeMap<String, Lacking>,
}

struct Lacking {
    name: String,
    usages: String,
    services: Vec<String>,
    evidence: Vec<Evidence>,
    count: usize,
}

impl OurCertificates {
    fn add(&mut self, inputs: &Inputs<'_>, i: usize, svc: &Service, tls: &TlsInfo, label: &str) {
        let (leaf, as_client) = match (svc.kind, svc.partner) {
            (Kind::Federation, Some((_, true))) => (tls.client_certificates.first(), true),
            (Kind::Federation, _) | (Kind::AccessSip, _) => (tls.certificates.first(), false),
            _ => return,
        };
        let Some(leaf) = leaf.filter(|c| c.parse_error.is_none()) else {
            return;
        };
        self.seen += 1;
        let Some(eku) = leaf.eku.as_ref().filter(|e| !e.allows_client_auth()) else {
            return;
        };
        let name = cert_names(leaf);
        let key = format!("{name}|{}", leaf.not_after.as_deref().unwrap_or_default());
        let l = self.lacking.entry(key).or_insert_with(|| Lacking {
            name: leaf.subject_cn.clone().unwrap_or_else(|| name.clone()),
            usages: eku.words(),
            services: Vec::new(),
            evidence: Vec::new(),
            count: 0,
        });
        if !l.services.iter().any(|s| s == label) {
            l.services.push(label.to_string());
        }
        l.count += 1;
        if l.evidence.len() < EVIDENCE_KEPT {
            l.evidence.push(evidence(
                inputs,
                i,
                format!(
                    "our Access Edge's certificate {name}, sent as the TLS {} on {label}: extended key usage {}, \
                     no Client Authentication",
                    if as_client { "client" } else { "server" },
                    eku.words()
                ),
            ));
        }
    }

    fn report(self, d: &mut Diagnosis) {
        if self.seen == 0 {
            d.skipped.push(super::Skipped {
                id: "F14",
                title: "Our certificate lacks the Client Authentication EKU",
                needs: "our Access Edge's certificate on the wire: a federation (5061) or Access Edge SIP/TLS \
                        handshake in TLS 1.0-1.2, captured whole (full snap length)"
                    .into(),
            });
        }
        for l in self.lacking.into_values() {
            d.findings.push(Finding {
                id: "F14",
                severity: Severity::Warning,
                confidence: Confidence::Low,
                title: format!(
                    "Our Access Edge certificate {} has no Client Authentication usage (EKU)",
                    l.name
                ),
                explanation: format!(
                    "The certificate our Access Edge presented ({} handshake{}, on {}) lists the extended key usages \
                     {}, without Client Authentication (1.3.6.1.5.5.7.3.2). The Edge uses its external certificate \
                     as the client certificate of mutual TLS when it opens federation connections, and a partner that \
                     checks the client certificate's usage may refuse it. Public CAs are removing Client \
                     Authentication from TLS server certificates (the Chrome Root Program accepts only \
                     Server-Authentication-only public server certificates from 15 June 2026), so a renewal brings \
                     this. Whether Skype for Business and Lync Edges enforce the usage on federation peers is not \
                     established: this is a risk to test, not a proven fault.",
                    l.count,
                    plural(l.count),
                    l.services.join(" and "),
                    l.usages
                ),
                fix: "Test federation with this certificate against your main partners (Test-CsFederatedPartner); when \
                      you renew, ask the CA for a certificate that carries both Server Authentication and Client \
                      Authentication while it still issues one, and watch the federation findings (F4) after the change."
                    .into(),
                citation: "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Certificate planning > Edge Certificate table (external Edge certificate, used for federation's mutual TLS); Chrome Root Program policy on clientAuth in public TLS server certificates (serverAuth only from 15 June 2026)",
                evidence: l.evidence,
            });
        }
    }
}

/// The partner at `ip` in words: its domain when the topology lists it.
fn partner_words(inputs: &Inputs<'_>, key: &str) -> String {
    key.parse::<IpAddr>()
        .map(|ip| super::checks::partner_name(inputs, ip))
        .unwrap_or_else(|_| key.to_string())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn finding(inputs: &Inputs<'_>, id: &'static str, key: &str, g: Group) -> Finding {
    let service = g.kind.label(g.port);
    let n = g.count;
    let count = format!("{n} handshake{}", plural(n));
    let words = g.words.join(", ");
    let who = partner_words(inputs, key);
    let (title, explanation, fix): (String, String, &str) = match id {
        "F4" => (
            format!("{who} rejected our TLS handshake on {service}"),
            format!(
                "The partner's Edge ended the mutual TLS handshake with our Access Edge ({count}{}): it does not trust our \
                 certificate (issuer not in its trusted roots, missing intermediate, name not the one it expects) or \
                 refuses our domain. Windows often resets the connection instead of sending an alert; a reset right \
                 after the certificates means the same.",
                if words.is_empty() { String::new() } else { format!(", alert {words}") }
            ),
            "Check that our Access Edge certificate is issued by a public CA the partner trusts, with the full chain \
             installed and the Access Edge FQDN (sip.<our domain>) as subject or SAN; ask the partner which alert they log.",
        ),
        "F5" => (
            format!("Our Access Edge rejected the TLS handshake of {who} on {service}"),
            format!(
                "Our side ended the mutual TLS handshake with the partner ({count}{}): our Edge does not trust the \
                 partner's certificate chain, or the certificate's names do not match what federation expects.",
                if words.is_empty() { String::new() } else { format!(", alert {words}") }
            ),
            "Import the partner's root and intermediate CAs into the Edge's trusted stores if they are private, and \
             check the partner's certificate names against its SRV target.",
        ),
        "F6" => (
            format!("Mutual TLS with {who} on {service} without a client certificate"),
            format!(
                "The server requested a client certificate, as federation requires (MTLS), and the client sent none \
                 ({count}), so the handshake could not complete."
            ),
            "Make sure the connecting Edge has a certificate with client authentication use assigned to its external \
             interface; if the CertificateRequest's CA list is large, check that it is not truncated.",
        ),
        "F7" => (
            format!("The certificate on {service} does not carry {words}"),
            format!(
                "A certificate presented on federation does not carry {words} ({count}): neither as a SAN nor as its \
                 subject. Federation checks the partner's certificate against the name it connected to (the SRV \
                 target), and our own certificate must carry our Access Edge FQDN."
            ),
            "Reissue the certificate with the Access Edge's external FQDN (the SRV target) as subject and SAN, or \
             correct the SRV record.",
        ),
        "F8" => (
            format!("Expired or not yet valid certificate on {service} with {who}: {words}"),
            format!(
                "A certificate in the chain was outside its validity period when the capture was taken ({count}); the \
                 other side refuses it. The capture's clock decides: check it if this looks wrong."
            ),
            "Renew the certificate and assign it to the Edge (Set-CsCertificate), then restart the Edge services; if \
             it is the partner's, tell them.",
        ),
        "F9" => (
            format!("TLS handshakes with {who} on {service} refused before any certificate"),
            format!(
                "The federation handshake ended before any certificate ({count}), by a version or cipher alert or by \
                 the server's reset right after the ClientHello: one side refused the other's TLS version or cipher \
                 suites. When TLS 1.0 and 1.1 are turned off on one Edge, older or unpatched partners (Lync Server \
                 2010, unpatched 2013 and 2015) can no longer federate with it. A reset can also come from a device \
                 in the path that inspects TLS."
            ),
            "Compare the TLS versions and cipher suites enabled on both Edges (SCHANNEL settings); keep TLS 1.2 \
             enabled and patched on both, or re-enable the older versions on our Edge while the partner upgrades.",
        ),
        "F10" => (
            format!("The TLS handshake with {who} on {service} stalls while revocation checks fail"),
            format!(
                "Our Access Edge held the federation handshake for at least {} s after the partner's certificate \
                 ({count}) while its certificate revocation downloads (HTTP 80) or DNS lookups failed: the Edge waits for \
                 the CRL before it answers, and the partner may give up.",
                STALL_NS / 1_000_000_000
            ),
            "Allow TCP 80 (and DNS) outbound from the Access Edge to any address so that it can fetch the partner's \
             CRL; the CRL1 finding names the blocked downloads.",
        ),
        "TL1" => (
            format!("TLS handshakes on {service} refused before any certificate"),
            format!(
                "Handshakes on {service} ended before any certificate ({count}), by a version or cipher alert or by \
                 the server's reset right after the ClientHello: the client and the server share no TLS version or \
                 cipher suite. Typical after TLS 1.0/1.1 were turned off on one side while an old client, device or \
                 server still uses them, or after cipher suites were restricted; a reset can also come from a device \
                 in the path that inspects TLS, or a service that does not speak TLS on that port."
            ),
            "Compare the TLS versions and cipher suites the two ends enable (SCHANNEL settings on the Edge and the \
             servers, the client's build); keep TLS 1.2 enabled on both sides.",
        ),
        "TL2" => {
            let (side, other) = if key.ends_with("|true") {
                ("server", "client's")
            } else {
                ("client", "server's")
            };
            (
                format!(
                    "The {side} ended TLS handshakes on {service}{}",
                    if words.is_empty() {
                        String::new()
                    } else {
                        format!(": {words}")
                    }
                ),
                format!(
                    "The {side} ended {count} on {service} once it had the {other} certificate{}. It does not \
                     accept that certificate (issuer not trusted: unknown_ca; refused: bad_certificate, \
                     certificate_unknown; expired or revoked), or found no common parameters (handshake_failure). \
                     Windows often resets the connection instead of sending an alert.",
                    if words.is_empty() {
                        String::new()
                    } else {
                        format!(", with the alert {words}")
                    }
                ),
                "Check the certificate the other side rejects: issued by a CA the rejecting side trusts (public CA for \
                 external clients, the internal CA's root on the servers), with the full chain installed, the \
                 service's FQDN as subject or SAN, and within its validity.",
            )
        }
        "TL3" => (
            format!("Mutual TLS on {service} without a client certificate"),
            format!(
                "The server asked for a client certificate (mutual TLS) on {service} and the client sent none \
                 ({count}): server-to-server links between the pool and the Edge are mutual TLS."
            ),
            "Assign a certificate with client authentication use to the connecting server (the Front End's default \
             certificate, the Edge's internal certificate); if the CertificateRequest's CA list is large, check that \
             it is not truncated.",
        ),
        "TL4" => (
            format!("The certificate of {service} does not carry {words}"),
            format!(
                "The certificate presented on {service} does not carry {words} ({count}), the name the client asked \
                 for or the FQDN the topology gives the service: clients refuse it (a name mismatch)."
            ),
            "Reissue the certificate with the service's FQDN as subject or SAN (the external Edge certificate carries \
             the Access Edge and Web Conferencing Edge FQDNs; the internal one the Edge pool's internal FQDN), or \
             correct the DNS record that sends clients there.",
        ),
        _ => (
            format!("Expired or not yet valid certificate on {service}: {words}"),
            format!(
                "A certificate presented on {service} was outside its validity period when the capture was taken \
                 ({count}); the other side refuses it. The capture's clock decides: check it if this looks wrong."
            ),
            "Renew the certificate and assign it to the service (Set-CsCertificate on the Edge), then restart the \
             service.",
        ),
    };
    Finding {
        id,
        severity: g.severity,
        confidence: g.confidence,
        title,
        explanation,
        fix: fix.into(),
        citation: match id {
            "F9" => "Microsoft, \"Encryption for Skype for Business Server\" (TLS versions offered); Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning (SIP/MTLS 5061)",
            "F10" => "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" > Port and firewall planning > External port firewall summary table (Access/HTTP 80: certificate revocation and CRL check and retrieval)",
            "TL1" => "Microsoft, \"Encryption for Skype for Business Server\" (TLS versions offered)",
            _ => g.kind.citation(),
        },
        evidence: g.evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_to_epoch() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-11-02T09:00:00Z"), Some(1_793_610_000));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("garbage"), None);
    }

    #[test]
    fn a_wildcard_covers_one_label() {
        let c = CertInfo {
            subject_cn: Some("*.contoso.com".into()),
            ..Default::default()
        };
        assert!(covers(&c, "sip.contoso.com"));
        assert!(!covers(&c, "a.sip.contoso.com"));
        assert!(!covers(&c, "contoso.com"));
    }
}
