//! The rest of the diagnostic rulebook: TLS on every documented TLS service (TL1-TL5, F9,
//! F10), DNS (D3-D6), media paths, NAT and routing (A6, A9, A10, N3, N8, R3, R4). For each check
//! a generated capture where it fires and a healthy one where it must not.

use edgewise::diagnose::{Diagnosis, Severity};
use edgewise::generate::packets::sa;
use edgewise::generate::proto::*;
use edgewise::generate::{Dir, Sim, TcpConv};

use crate::diagnose::{assert_fires, diagnose, diagnose_with, ids, problems, S};

const ALERT: u8 = 21;
const BAD_CERTIFICATE: u8 = 42;
const UNKNOWN_CA: u8 = 48;
const HANDSHAKE_FAILURE: u8 = 40;
const PROTOCOL_VERSION: u8 = 70;

/// The sample site with a reverse proxy name for its published web services.
const WEBEXT: &str = "webext.contoso.com";

/// How a generated TLS handshake ends.
#[derive(Clone, Copy)]
enum End {
    /// Both sides finish.
    Complete,
    /// The server answers the ClientHello with a fatal alert.
    AlertAfterHello(u8),
    /// The server resets the connection after the ClientHello.
    ResetAfterHello,
    /// After the client's second flight, a fatal alert from this side.
    Alert(Dir, u8),
}

/// One TLS handshake: the client asks for `sni`, the server shows a certificate for `cert` with
/// `sans`, asks for a client certificate when `mtls`, the client sends `client_cert` if any.
#[allow(clippy::too_many_arguments)]
fn tls(
    s: &mut Sim,
    iface: u32,
    from: &str,
    to: &str,
    sni: &str,
    cert: &str,
    sans: &[&str],
    mtls: bool,
    client_cert: Option<&str>,
    end: End,
) {
    let mut c = TcpConv::new(s, iface, sa(from), sa(to), 40.0);
    c.handshake(s);
    let random = s.rng.array32();
    c.data(s, Dir::Orig, &client_hello(sni, &random, &[]));
    match end {
        End::AlertAfterHello(a) => {
            c.data(s, Dir::Resp, &tls_record(ALERT, 0x0303, &[2, a]));
            c.close(s, Dir::Resp);
            c.finish(s, "SF", "x");
            return;
        }
        End::ResetAfterHello => {
            c.rst(s, Dir::Resp);
            c.finish(s, "RSTR", "x");
            return;
        }
        End::Complete | End::Alert(..) => {}
    }
    let flight = server_flight(&mut s.rng, cert, sans, mtls);
    c.data(s, Dir::Resp, &flight);
    // A client that refuses the server's certificate alerts instead of its second flight.
    if let End::Alert(Dir::Orig, a) = end {
        c.data(s, Dir::Orig, &tls_record(ALERT, 0x0303, &[2, a]));
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "x");
        return;
    }
    let fin = client_finish_flight(&mut s.rng, client_cert);
    c.data(s, Dir::Orig, &fin);
    match end {
        End::Alert(d, a) => c.data(s, d, &tls_record(ALERT, 0x0303, &[2, a])),
        _ => {
            let sf = server_finish_flight(&mut s.rng);
            c.data(s, Dir::Resp, &sf);
        }
    }
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "x");
}

/// The external Edge certificate's names, as Topology Builder requests them.
const EXTERNAL_SANS: [&str; 2] = ["sip.contoso.com", "webcon.contoso.com"];

/// A handshake that goes well on every documented TLS service of the sample site.
fn healthy_tls(s: &mut Sim, ext: u32, int: u32) {
    let ok = End::Complete;
    tls(
        s,
        ext,
        "203.0.113.25:51234",
        "10.45.16.10:443",
        "sip.contoso.com",
        "sip.contoso.com",
        &EXTERNAL_SANS,
        false,
        None,
        ok,
    );
    tls(
        s,
        ext,
        "203.0.113.25:51240",
        "10.45.16.20:443",
        "webcon.contoso.com",
        "sip.contoso.com",
        &EXTERNAL_SANS,
        false,
        None,
        ok,
    );
    tls(
        s,
        int,
        "192.168.10.90:49880",
        "172.25.33.10:5061",
        "edge1.contoso.local",
        "edge1.contoso.local",
        &[],
        true,
        Some("fe01.contoso.local"),
        ok,
    );
    tls(
        s,
        int,
        "172.25.33.10:50110",
        "192.168.10.90:5061",
        "pool01.contoso.local",
        "pool01.contoso.local",
        &["pool01.contoso.local", "fe01.contoso.local"],
        true,
        Some("edge1.contoso.local"),
        ok,
    );
    tls(
        s,
        int,
        "192.168.10.90:49900",
        "172.25.33.10:5062",
        "edge1.contoso.local",
        "edge1.contoso.local",
        &[],
        true,
        Some("fe01.contoso.local"),
        ok,
    );
    tls(
        s,
        int,
        "192.168.10.90:49890",
        "172.25.33.10:8057",
        "edge1.contoso.local",
        "edge1.contoso.local",
        &[],
        true,
        Some("fe01.contoso.local"),
        ok,
    );
    tls(
        s,
        int,
        "192.168.10.90:49920",
        "172.25.33.10:4443",
        "edge1.contoso.local",
        "edge1.contoso.local",
        &[],
        false,
        None,
        ok,
    );
    tls(
        s,
        ext,
        "203.0.113.25:51260",
        "10.45.16.40:443",
        WEBEXT,
        WEBEXT,
        &[WEBEXT],
        false,
        None,
        ok,
    );
    tls(
        s,
        int,
        "172.25.33.40:50200",
        "192.168.10.190:4443",
        WEBEXT,
        WEBEXT,
        &[WEBEXT],
        false,
        None,
        ok,
    );
}

fn finding<'a>(d: &'a Diagnosis, id: &str) -> &'a edgewise::diagnose::Finding {
    d.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} did not fire: {:?}", ids(d)))
}

mod tls_services {
    use super::*;

    #[test]
    fn healthy_handshakes_on_every_service_raise_nothing() {
        let d = diagnose(healthy_tls);
        assert!(problems(&d).is_empty(), "{:#?}", d.findings);
    }

    #[test]
    fn a_version_or_cipher_refusal_names_the_service() {
        // The Access Edge answers an old client's ClientHello with protocol_version.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51234",
                "10.45.16.10:443",
                "sip.contoso.com",
                "",
                &[],
                false,
                None,
                End::AlertAfterHello(PROTOCOL_VERSION),
            )
        });
        assert_fires("TL1", &d, Severity::Error);
        let f = finding(&d, "TL1");
        assert_eq!(
            f.title,
            "TLS handshakes on the Access Edge (SIP/TLS 443) refused before any certificate"
        );
        assert!(
            f.evidence[0]
                .detail
                .to_string()
                .contains("protocol_version"),
            "{}",
            f.evidence[0].detail
        );
        // The Web Conferencing Edge resets right after the ClientHello.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51240",
                "10.45.16.20:443",
                "webcon.contoso.com",
                "",
                &[],
                false,
                None,
                End::ResetAfterHello,
            )
        });
        assert_fires("TL1", &d, Severity::Error);
        assert!(finding(&d, "TL1")
            .title
            .contains("Web Conferencing Edge (PSOM/TLS 443)"));
        // The same on federation is F9, per partner.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "10.45.16.10:51500",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "",
                &[],
                true,
                None,
                End::AlertAfterHello(HANDSHAKE_FAILURE),
            )
        });
        assert_fires("F9", &d, Severity::Error);
        assert!(finding(&d, "F9")
            .title
            .contains("fabrikam.com (198.51.100.10)"));
        assert!(
            !ids(&d).contains(&"F4") && !ids(&d).contains(&"TL1"),
            "{:?}",
            ids(&d)
        );
    }

    #[test]
    fn a_rejected_certificate_names_the_service_and_who_refused_it() {
        // A remote client does not trust the Web Conferencing Edge's issuer.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51240",
                "10.45.16.20:443",
                "webcon.contoso.com",
                "sip.contoso.com",
                &EXTERNAL_SANS,
                false,
                None,
                End::Alert(Dir::Orig, UNKNOWN_CA),
            )
        });
        assert_fires("TL2", &d, Severity::Error);
        let f = finding(&d, "TL2");
        assert_eq!(
            f.title,
            "The client ended TLS handshakes on the Web Conferencing Edge (PSOM/TLS 443): unknown_ca"
        );
        // The Edge refuses the Front End's certificate on A/V authentication (5062).
        let d = diagnose(|s, _, int| {
            tls(
                s,
                int,
                "192.168.10.90:49900",
                "172.25.33.10:5062",
                "edge1.contoso.local",
                "edge1.contoso.local",
                &[],
                true,
                Some("fe01.contoso.local"),
                End::Alert(Dir::Resp, BAD_CERTIFICATE),
            )
        });
        assert_fires("TL2", &d, Severity::Error);
        let f = finding(&d, "TL2");
        assert!(
            f.title.starts_with("The server ended")
                && f.title.contains("(SIP/MTLS 5062)")
                && f.title.contains("bad_certificate"),
            "{}",
            f.title
        );
        // The reverse proxy's publishing to the pool, rejected by the Front End.
        let d = diagnose(|s, _, int| {
            tls(
                s,
                int,
                "172.25.33.40:50200",
                "192.168.10.190:4443",
                WEBEXT,
                WEBEXT,
                &[WEBEXT],
                false,
                None,
                End::Alert(Dir::Orig, UNKNOWN_CA),
            )
        });
        assert!(finding(&d, "TL2")
            .title
            .contains("the reverse proxy's publishing to the pool (HTTPS 4443)"));
    }

    #[test]
    fn mutual_tls_without_a_client_certificate_on_the_internal_interface() {
        let d = diagnose(|s, _, int| {
            tls(
                s,
                int,
                "192.168.10.91:49890",
                "172.25.33.10:8057",
                "edge1.contoso.local",
                "edge1.contoso.local",
                &[],
                true,
                None,
                End::Alert(Dir::Resp, HANDSHAKE_FAILURE),
            )
        });
        assert_fires("TL3", &d, Severity::Error);
        assert_eq!(
            finding(&d, "TL3").title,
            "Mutual TLS on web conferencing (PSOM/MTLS 8057) from the pool to the Edge internal interface without a client certificate"
        );
        assert!(
            !ids(&d).contains(&"TL2") && !ids(&d).contains(&"TL1"),
            "{:?}",
            ids(&d)
        );
    }

    #[test]
    fn certificate_names_against_the_sni_and_the_topology() {
        // The client asks for the Web Conferencing Edge's name; the certificate lacks it.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51240",
                "10.45.16.20:443",
                "webcon.contoso.com",
                "sip.contoso.com",
                &["sip.contoso.com"],
                false,
                None,
                End::Complete,
            )
        });
        assert_fires("TL4", &d, Severity::Error);
        assert_eq!(
            finding(&d, "TL4").title,
            "The certificate of the Web Conferencing Edge (PSOM/TLS 443) does not carry webcon.contoso.com"
        );
        // No SNI: the topology's FQDN for the Access Edge decides.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51234",
                "10.45.16.10:443",
                "",
                "edge.contoso.com",
                &["edge.contoso.com"],
                false,
                None,
                End::Complete,
            )
        });
        let f = finding(&d, "TL4");
        assert!(
            f.title.ends_with("does not carry sip.contoso.com"),
            "{}",
            f.title
        );
        assert!(
            f.evidence[0]
                .detail
                .to_string()
                .contains("the topology names this service"),
            "{}",
            f.evidence[0].detail
        );
        // The reverse proxy, by SNI.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "203.0.113.25:51260",
                "10.45.16.40:443",
                "meet.contoso.com",
                WEBEXT,
                &[WEBEXT],
                false,
                None,
                End::Complete,
            )
        });
        assert!(finding(&d, "TL4")
            .title
            .contains("the reverse proxy (HTTPS 443)"));
        // Our Access Edge's own certificate on outbound federation lacks its FQDN: F7.
        let d = diagnose(|s, ext, _| {
            tls(
                s,
                ext,
                "10.45.16.10:51500",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "sip.fabrikam.com",
                &["sip.fabrikam.com"],
                true,
                Some("edge.contoso.com"),
                End::Complete,
            )
        });
        assert_fires("F7", &d, Severity::Error);
        assert!(finding(&d, "F7")
            .title
            .ends_with("does not carry sip.contoso.com"));
    }

    #[test]
    fn certificates_outside_their_validity() {
        // Three years on, the internal certificate of CMS replication has expired.
        let d = diagnose(|s, _, int| {
            s.now += 3 * 365 * 86_400 * S;
            tls(
                s,
                int,
                "192.168.10.90:49920",
                "172.25.33.10:4443",
                "edge1.contoso.local",
                "edge1.contoso.local",
                &[],
                false,
                None,
                End::Complete,
            )
        });
        assert_fires("TL5", &d, Severity::Error);
        let f = finding(&d, "TL5");
        assert_eq!(
            f.title,
            "Expired or not yet valid certificate on Central Management Store replication (HTTPS 4443) to the Edge \
             internal interface: edge1.contoso.local expired, Contoso Issuing CA 01 expired"
        );
        // A year earlier, the Access Edge's certificate is not valid yet.
        let d = diagnose(|s, ext, _| {
            s.now -= 365 * 86_400 * S;
            tls(
                s,
                ext,
                "203.0.113.25:51234",
                "10.45.16.10:443",
                "sip.contoso.com",
                "sip.contoso.com",
                &EXTERNAL_SANS,
                false,
                None,
                End::Complete,
            )
        });
        assert!(finding(&d, "TL5")
            .title
            .contains("sip.contoso.com not yet valid"));
    }
}

mod federation_stall {
    use super::*;

    /// Our Access Edge opens federation, gets the partner's certificate and sits on it while
    /// its revocation download goes unanswered; `crl_ok` answers the download instead.
    fn stall(s: &mut Sim, ext: u32, crl_ok: bool) {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("10.45.16.10:51500"),
            sa("198.51.100.10:5061"),
            40.0,
        );
        c.handshake(s);
        let random = s.rng.array32();
        c.data(
            s,
            Dir::Orig,
            &client_hello("sip.fabrikam.com", &random, &[]),
        );
        let flight = server_flight(&mut s.rng, "sip.fabrikam.com", &["sip.fabrikam.com"], true);
        c.data(s, Dir::Resp, &flight);
        if crl_ok {
            crate::diagnose::good_tcp(s, ext, "10.45.16.10:51600", "203.0.113.80:80");
        } else {
            crate::diagnose::unanswered_syn(s, ext, "10.45.16.10:51600", "203.0.113.80:80");
        }
        s.now += 12 * S;
        c.rst(s, Dir::Orig);
        c.finish(s, "RSTO", "x");
    }

    #[test]
    fn a_handshake_held_while_the_crl_download_fails() {
        let d = diagnose(|s, ext, _| stall(s, ext, false));
        assert_fires("F10", &d, Severity::Error);
        let f = finding(&d, "F10");
        assert!(
            f.title.contains("fabrikam.com (198.51.100.10)"),
            "{}",
            f.title
        );
        assert!(
            f.evidence[0]
                .detail
                .to_string()
                .contains("revocation download to 203.0.113.80:80"),
            "{}",
            f.evidence[0].detail
        );
        // The reset is not the partner's rejection.
        assert!(!ids(&d).contains(&"F4"), "{:?}", ids(&d));
        assert_fires("CRL1", &d, Severity::Warning);
        // The download answered: no stall finding (the reset is then ours, after their certificate).
        let d = diagnose(|s, ext, _| stall(s, ext, true));
        assert!(!ids(&d).contains(&"F10"), "{:?}", ids(&d));
    }
}

mod dns {
    use super::*;
    use crate::diagnose::{good_tcp, unanswered_syn};
    use edgewise::generate::UdpFlow;

    /// One UDP lookup from `from` to the perimeter resolver, answered with `answers`;
    /// `tc` truncates the answer, `nx` makes it NXDOMAIN.
    #[allow(clippy::too_many_arguments)]
    fn lookup(
        s: &mut Sim,
        iface: u32,
        from: &str,
        name: &str,
        qtype: u16,
        answers: &[DnsAnswer<'_>],
        tc: bool,
        nx: bool,
    ) {
        let mut u = UdpFlow::new(iface, sa(from), sa("10.45.16.1:53"), 2.0);
        u.send(s, Dir::Orig, &dns_query(11, name, qtype));
        let mut r = dns_response(11, name, qtype, answers);
        if tc {
            r[2] |= 0x02;
        }
        if nx {
            r[3] |= 0x03;
        }
        u.send(s, Dir::Resp, &r);
        u.finish(s, "SF", "x");
    }

    const SRV_NAME: &str = "_sipfederationtls._tcp.fabrikam.com";

    fn srv_to(target: &str) -> [DnsAnswer<'_>; 1] {
        [DnsAnswer::Srv {
            priority: 0,
            weight: 0,
            port: 5061,
            target,
        }]
    }

    #[test]
    fn a_truncated_answer_and_tcp_53_blocked() {
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                SRV_NAME,
                DNS_SRV,
                &[],
                true,
                false,
            );
            unanswered_syn(s, ext, "10.45.16.10:51900", "10.45.16.1:53");
        });
        assert_fires("D3", &d, Severity::Error);
        // Neither "unanswered" (the resolver answers) nor "no SRV record" (the answer was cut).
        assert!(
            !ids(&d).contains(&"D2") && !ids(&d).contains(&"D1"),
            "{:?}",
            ids(&d)
        );
        // No truncation seen: TCP 53 is still blocked, a warning.
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                "sip.fabrikam.com",
                DNS_A,
                &[DnsAnswer::A("198.51.100.10".parse().expect("ip"))],
                false,
                false,
            );
            unanswered_syn(s, ext, "10.45.16.10:51900", "10.45.16.1:53");
        });
        assert_fires("D3", &d, Severity::Warning);
        // TCP answered after the truncation: nothing.
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                SRV_NAME,
                DNS_SRV,
                &[],
                true,
                false,
            );
            good_tcp(s, ext, "10.45.16.10:51900", "10.45.16.1:53");
        });
        assert!(problems(&d).is_empty(), "{:?}", ids(&d));
        // TCP failing with no UDP answer at all stays D2's.
        let d = diagnose(|s, ext, _| unanswered_syn(s, ext, "10.45.16.10:51900", "10.45.16.1:53"));
        assert_fires("D2", &d, Severity::Error);
        assert!(!ids(&d).contains(&"D3"), "{:?}", ids(&d));
    }

    #[test]
    fn srv_targets_outside_the_domain_or_without_an_address() {
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                SRV_NAME,
                DNS_SRV,
                &srv_to("sip.hosting.example"),
                false,
                false,
            )
        });
        assert_fires("D4", &d, Severity::Warning);
        assert!(finding(&d, "D4")
            .title
            .contains("fabrikam.com -> sip.hosting.example"));
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                SRV_NAME,
                DNS_SRV,
                &srv_to("sip.fabrikam.com"),
                false,
                false,
            );
            lookup(
                s,
                ext,
                "10.45.16.10:53401",
                "sip.fabrikam.com",
                DNS_A,
                &[],
                false,
                true,
            );
        });
        assert_fires("D5", &d, Severity::Error);
        let f = finding(&d, "D5");
        assert!(f.title.contains("sip.fabrikam.com"), "{}", f.title);
        assert!(
            f.evidence
                .iter()
                .any(|e| e.detail.to_string().contains("NXDOMAIN")),
            "{:#?}",
            f.evidence
        );
        // In the partner's domain, and resolving: nothing.
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                SRV_NAME,
                DNS_SRV,
                &srv_to("sip.fabrikam.com"),
                false,
                false,
            );
            lookup(
                s,
                ext,
                "10.45.16.10:53401",
                "sip.fabrikam.com",
                DNS_A,
                &[DnsAnswer::A("198.51.100.10".parse().expect("ip"))],
                false,
                false,
            );
        });
        assert!(problems(&d).is_empty(), "{:?}", ids(&d));
    }

    #[test]
    fn the_edge_resolving_through_its_internal_interface() {
        let d = diagnose(|s, _, int| {
            let mut u = UdpFlow::new(int, sa("172.25.33.10:53500"), sa("192.168.10.5:53"), 2.0);
            u.send(s, Dir::Orig, &dns_query(12, "pool01.contoso.local", DNS_A));
            u.send(
                s,
                Dir::Resp,
                &dns_response(
                    12,
                    "pool01.contoso.local",
                    DNS_A,
                    &[DnsAnswer::A("192.168.10.190".parse().expect("ip"))],
                ),
            );
            u.finish(s, "SF", "x");
        });
        assert_fires("D6", &d, Severity::Info);
        assert!(finding(&d, "D6").title.contains("192.168.10.5"));
        // A perimeter resolver outside the internal side is the recommended setup.
        let d = diagnose(|s, _, int| {
            let mut u = UdpFlow::new(int, sa("172.25.33.10:53500"), sa("172.25.33.53:53"), 2.0);
            u.send(s, Dir::Orig, &dns_query(12, "pool01.contoso.local", DNS_A));
            u.send(
                s,
                Dir::Resp,
                &dns_response(
                    12,
                    "pool01.contoso.local",
                    DNS_A,
                    &[DnsAnswer::A("192.168.10.190".parse().expect("ip"))],
                ),
            );
            u.finish(s, "SF", "x");
        });
        assert!(!ids(&d).contains(&"D6"), "{:?}", ids(&d));
        // The external interface to the perimeter resolver: nothing.
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "10.45.16.10:53400",
                "sip.fabrikam.com",
                DNS_A,
                &[DnsAnswer::A("198.51.100.10".parse().expect("ip"))],
                false,
                false,
            )
        });
        assert!(!ids(&d).contains(&"D6"), "{:?}", ids(&d));
    }
}

mod paths {
    use super::*;
    use crate::diagnose::{good_tcp, udp, unanswered_syn};
    use edgewise::diagnose::calls::CallKind;
    use edgewise::generate::packets::Rng;
    use edgewise::generate::UdpFlow;
    use edgewise::topology::SAMPLE;

    /// The sample site as a DNS-load-balanced pool of two Edge servers behind NAT.
    fn two_member_pool() -> String {
        SAMPLE.replace("scenario = \"single\"", "scenario = \"scaled-dns\"").replace(
            "[internal]",
            "[[edge]]\nname = \"edge2\"\ninternal = \"172.25.33.11\"\n\
             access = { ip = \"10.45.16.11\", public = \"131.107.155.11\", fqdn = \"sip.contoso.com\" }\n\
             webconf = { ip = \"10.45.16.21\", public = \"131.107.155.21\", fqdn = \"webcon.contoso.com\" }\n\
             av = { ip = \"10.45.16.31\", public = \"131.107.155.31\", fqdn = \"av.contoso.com\" }\n\n[internal]",
        )
    }

    #[test]
    fn inbound_to_the_relay_ports_unanswered() {
        let d = diagnose(|s, ext, _| {
            unanswered_syn(s, ext, "198.51.100.30:50500", "10.45.16.30:55000")
        });
        assert_fires("A6", &d, Severity::Info);
        // UDP: only a sustained one-way stream counts, not a few checks.
        let d = diagnose(|s, ext, _| {
            udp(
                s,
                ext,
                "198.51.100.30:50502",
                "10.45.16.30:55002",
                12,
                false,
            )
        });
        assert_fires("A6", &d, Severity::Info);
        let d =
            diagnose(|s, ext, _| udp(s, ext, "198.51.100.30:50502", "10.45.16.30:55002", 3, false));
        assert!(!ids(&d).contains(&"A6"), "{:?}", ids(&d));
        // Federation with OCS 2007 declared: a warning.
        let legacy = SAMPLE.replace("legacy_interop = false", "legacy_interop = true");
        let d = diagnose_with(&legacy, |s, ext, _| {
            unanswered_syn(s, ext, "198.51.100.30:50500", "10.45.16.30:55000")
        });
        assert_fires("A6", &d, Severity::Warning);
        // Answered media: nothing.
        let d =
            diagnose(|s, ext, _| udp(s, ext, "198.51.100.30:50502", "10.45.16.30:55002", 12, true));
        assert!(!ids(&d).contains(&"A6"), "{:?}", ids(&d));
    }

    #[test]
    fn a_partner_edge_silent_while_others_answer() {
        let d = diagnose(|s, ext, _| {
            udp(s, ext, "10.45.16.30:3478", "198.51.100.30:3478", 3, false);
            udp(s, ext, "10.45.16.30:3478", "203.0.113.50:3478", 2, true);
        });
        assert_fires("A10", &d, Severity::Warning);
        assert!(finding(&d, "A10")
            .title
            .contains("fabrikam.com (198.51.100.30)"));
        assert!(!ids(&d).contains(&"A3"), "{:?}", ids(&d));
        // No other Edge answered: our own firewall may be the cause, A3.
        let d =
            diagnose(|s, ext, _| udp(s, ext, "10.45.16.30:3478", "198.51.100.30:3478", 3, false));
        assert!(
            ids(&d).contains(&"A3") && !ids(&d).contains(&"A10"),
            "{:?}",
            ids(&d)
        );
    }

    /// Our A/V Edge's Binding request to a partner's Edge, answered with what the partner saw.
    fn binding(s: &mut Sim, ext: u32, seen_as: &str) {
        let mut u = UdpFlow::new(ext, sa("10.45.16.30:3478"), sa("198.51.100.30:3478"), 30.0);
        let mut rng = Rng::new(5);
        let tx = txid(&mut rng);
        u.send(s, Dir::Orig, &stun_binding_request(tx));
        u.send(s, Dir::Resp, &stun_binding_success(tx, sa(seen_as)));
        u.finish(s, "SF", "x");
    }

    #[test]
    fn the_av_edges_nat_seen_from_the_far_side() {
        let d = diagnose(|s, ext, _| binding(s, ext, "131.107.155.99:3478"));
        assert_fires("N3", &d, Severity::Error);
        assert!(finding(&d, "N3").evidence[0]
            .detail
            .to_string()
            .contains("another public address"));
        let d = diagnose(|s, ext, _| binding(s, ext, "131.107.155.30:61000"));
        assert_fires("N3", &d, Severity::Error);
        assert!(finding(&d, "N3").evidence[0]
            .detail
            .to_string()
            .contains("source port 3478 was translated"));
        let d = diagnose(|s, ext, _| binding(s, ext, "131.107.155.30:3478"));
        assert!(problems(&d).is_empty(), "{:?}", ids(&d));
        // A private A/V address without its public one: nothing to compare with.
        let no_public = SAMPLE.replace(", public = \"131.107.155.30\"", "");
        let d = diagnose_with(&no_public, |s, ext, _| {
            binding(s, ext, "131.107.155.99:3478")
        });
        assert!(!ids(&d).contains(&"N3"), "{:?}", ids(&d));
        assert!(
            d.skipped
                .iter()
                .any(|k| k.id == "N3" && k.needs.contains("edge1")),
            "{:?}",
            d.skipped
        );
    }

    #[test]
    fn pool_members_reaching_each_others_public_av_address() {
        let pool = two_member_pool();
        let d = diagnose_with(&pool, |s, ext, _| {
            udp(s, ext, "10.45.16.30:3478", "131.107.155.31:3478", 3, false)
        });
        assert_fires("N8", &d, Severity::Warning);
        assert!(finding(&d, "N8").evidence[0]
            .detail
            .to_string()
            .contains("edge1's A/V Edge to edge2's"));
        let d = diagnose_with(&pool, |s, ext, _| {
            udp(s, ext, "10.45.16.30:3478", "131.107.155.31:3478", 3, true)
        });
        assert!(!ids(&d).contains(&"N8"), "{:?}", ids(&d));
        // A pool described by one member only: the check says what it needs.
        let one = SAMPLE.replace("scenario = \"single\"", "scenario = \"scaled-dns\"");
        let d = diagnose_with(&one, |s, ext, _| {
            good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.10:443")
        });
        assert!(d.skipped.iter().any(|k| k.id == "N8"), "{:?}", d.skipped);
    }

    #[test]
    fn the_edges_two_networks_routed_to_each_other() {
        let d = diagnose(|s, ext, _| good_tcp(s, ext, "172.25.33.10:50600", "10.45.16.10:443"));
        assert_fires("R3", &d, Severity::Error);
        let d = diagnose(healthy_tls);
        assert!(!ids(&d).contains(&"R3"), "{:?}", ids(&d));
    }

    #[test]
    fn client_subnets_the_edge_does_not_answer() {
        let d = diagnose(|s, _, int| {
            udp(s, int, "192.168.20.55:50020", "172.25.33.10:3478", 3, false);
            good_tcp(s, int, "192.168.10.90:49880", "172.25.33.10:5061");
        });
        assert_fires("R4", &d, Severity::Warning);
        assert!(finding(&d, "R4").title.contains("192.168.20.0/24"));
        assert!(ids(&d).contains(&"A11"), "{:?}", ids(&d));
        // No server answered either: nothing tells a route from a dead interface.
        let d =
            diagnose(|s, _, int| udp(s, int, "192.168.20.55:50020", "172.25.33.10:3478", 3, false));
        assert!(!ids(&d).contains(&"R4"), "{:?}", ids(&d));
        // Without client subnets the check says what it needs.
        let none = SAMPLE.replace(
            "client_subnets = [\"192.168.20.0/24\"]",
            "client_subnets = []",
        );
        let d = diagnose_with(&none, |s, _, int| {
            good_tcp(s, int, "192.168.10.90:49880", "172.25.33.10:5061")
        });
        assert!(d.skipped.iter().any(|k| k.id == "R4"), "{:?}", d.skipped);
    }

    /// A remote user allocates a relay; the relay's media to the peer is answered or not.
    fn call(s: &mut Sim, ext: u32, answered: bool) {
        let mut u = UdpFlow::new(ext, sa("203.0.113.44:50071"), sa("10.45.16.30:3478"), 40.0);
        let mut rng = Rng::new(4);
        let tx = txid(&mut rng);
        u.send(s, Dir::Orig, &msturn_allocate_request(&mut rng, tx, true));
        let ok = msturn_allocate_success(
            &mut rng,
            tx,
            sa("203.0.113.44:50071"),
            sa("131.107.155.30:52010"),
        );
        u.send(s, Dir::Resp, &ok);
        u.finish(s, "SF", "x");
        udp(
            s,
            ext,
            "10.45.16.30:52010",
            "198.51.100.30:56000",
            12,
            answered,
        );
    }

    #[test]
    fn a_call_whose_media_never_got_an_answer() {
        let d = diagnose(|s, ext, _| call(s, ext, false));
        assert_fires("A9", &d, Severity::Error);
        let f = finding(&d, "A9");
        assert!(f.explanation.contains("call 1"), "{}", f.explanation);
        assert!(d
            .calls
            .iter()
            .any(|c| c.kind != CallKind::SignallingAttempt));
        let d = diagnose(|s, ext, _| call(s, ext, true));
        assert!(!ids(&d).contains(&"A9"), "{:?}", ids(&d));
    }
}

mod client_auth_eku {
    use super::*;
    use crate::diagnose::good_tcp;
    use edgewise::diagnose::Confidence;

    /// Our Access Edge opens federation to the partner and shows its own certificate, listing
    /// the usages `ours`, as the client of mutual TLS; the partner's lists `theirs`.
    fn outbound(s: &mut Sim, ext: u32, ours: &[[u8; 8]], theirs: &[[u8; 8]]) {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("10.45.16.10:51500"),
            sa("198.51.100.10:5061"),
            40.0,
        );
        c.handshake(s);
        let random = s.rng.array32();
        c.data(
            s,
            Dir::Orig,
            &client_hello("sip.fabrikam.com", &random, &[]),
        );
        let flight = server_flight_with_eku(
            &mut s.rng,
            "sip.fabrikam.com",
            &["sip.fabrikam.com"],
            true,
            theirs,
        );
        c.data(s, Dir::Resp, &flight);
        let fin = client_finish_flight_with_eku(&mut s.rng, Some("sip.contoso.com"), ours);
        c.data(s, Dir::Orig, &fin);
        let sf = server_finish_flight(&mut s.rng);
        c.data(s, Dir::Resp, &sf);
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "x");
    }

    /// The partner opens federation to us: our certificate is the server's.
    fn inbound(s: &mut Sim, ext: u32, from: &str, ours: &[[u8; 8]]) {
        let mut c = TcpConv::new(s, ext, sa(from), sa("10.45.16.10:5061"), 40.0);
        c.handshake(s);
        let random = s.rng.array32();
        c.data(s, Dir::Orig, &client_hello("sip.contoso.com", &random, &[]));
        let flight =
            server_flight_with_eku(&mut s.rng, "sip.contoso.com", &EXTERNAL_SANS, true, ours);
        c.data(s, Dir::Resp, &flight);
        let fin = client_finish_flight(&mut s.rng, Some("sip.fabrikam.com"));
        c.data(s, Dir::Orig, &fin);
        let sf = server_finish_flight(&mut s.rng);
        c.data(s, Dir::Resp, &sf);
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "x");
    }

    #[test]
    fn our_certificate_without_client_authentication() {
        let d = diagnose(|s, ext, _| outbound(s, ext, &[EKU_SERVER_AUTH], &[]));
        assert_fires("F14", &d, Severity::Warning);
        let f = finding(&d, "F14");
        assert_eq!(f.confidence, Confidence::Low);
        assert!(f.title.contains("sip.contoso.com"), "{}", f.title);
        let detail = f.evidence[0].detail.to_string();
        assert!(
            detail.contains("sent as the TLS client")
                && detail.contains("Server Authentication, no Client Authentication"),
            "{detail}"
        );
        assert!(
            f.explanation.contains("not a proven fault"),
            "{}",
            f.explanation
        );
        // Inbound, our certificate is the server's.
        let d = diagnose(|s, ext, _| inbound(s, ext, "198.51.100.10:50600", &[EKU_SERVER_AUTH]));
        assert_fires("F14", &d, Severity::Warning);
        assert!(finding(&d, "F14").evidence[0]
            .detail
            .to_string()
            .contains("sent as the TLS server"));
        // One finding per certificate (by its names and end of validity), however many
        // handshakes showed it: the generated client certificate names only sip.contoso.com,
        // the server's both external names, so these are two certificates.
        let d = diagnose(|s, ext, _| {
            outbound(s, ext, &[EKU_SERVER_AUTH], &[]);
            inbound(s, ext, "198.51.100.10:50600", &[EKU_SERVER_AUTH]);
            inbound(s, ext, "198.51.100.10:50601", &[EKU_SERVER_AUTH]);
        });
        let f: Vec<_> = d.findings.iter().filter(|f| f.id == "F14").collect();
        assert_eq!(f.len(), 2, "{:?}", ids(&d));
        assert!(
            f.iter().any(|f| f
                .explanation
                .contains("(2 handshakes, on federation (SIP/MTLS 5061))")),
            "{:#?}",
            f
        );
    }

    #[test]
    fn a_certificate_that_allows_client_authentication_raises_nothing() {
        // Both usages, or no usage extension at all (any purpose).
        for eku in [&[EKU_SERVER_AUTH, EKU_CLIENT_AUTH][..], &[]] {
            let d = diagnose(|s, ext, _| {
                outbound(s, ext, eku, &[]);
                inbound(s, ext, "198.51.100.10:50600", eku);
            });
            assert!(problems(&d).is_empty(), "{:?}", ids(&d));
            assert!(!d.skipped.iter().any(|k| k.id == "F14"), "{:?}", d.skipped);
        }
        // The partner's certificate is theirs to fix: not F14.
        let d = diagnose(|s, ext, _| outbound(s, ext, &[], &[EKU_SERVER_AUTH]));
        assert!(!ids(&d).contains(&"F14"), "{:?}", ids(&d));
        // No certificate of ours on the wire: the check says what it needs.
        let d = diagnose(|s, ext, _| good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.30:443"));
        assert!(
            d.skipped
                .iter()
                .any(|k| k.id == "F14" && k.needs.contains("Access Edge's certificate")),
            "{:?}",
            d.skipped
        );
    }
}

mod cls {
    use super::*;
    use crate::diagnose::{diagnose_with, good_tcp, unanswered_syn};
    use edgewise::topology::SAMPLE;

    #[test]
    fn the_logging_service_blocked_on_the_internal_interface() {
        let d = diagnose(|s, _, int| {
            unanswered_syn(s, int, "192.168.10.90:50500", "172.25.33.10:50001")
        });
        // The sample site uses CLS (cls = true): a warning.
        assert_fires("I3", &d, Severity::Warning);
        let f = finding(&d, "I3");
        assert!(
            f.evidence[0]
                .detail
                .to_string()
                .contains("CLS agent port 50001"),
            "{}",
            f.evidence[0].detail
        );
        // A site that does not use CLS: an observation.
        let off = SAMPLE.replace("cls = true", "cls = false");
        let d = diagnose_with(&off, |s, _, int| {
            unanswered_syn(s, int, "192.168.10.90:50502", "172.25.33.10:50003")
        });
        assert_fires("I3", &d, Severity::Info);
    }

    #[test]
    fn answered_cls_and_the_av_relay_range_raise_nothing() {
        let d = diagnose(|s, _, int| good_tcp(s, int, "192.168.10.90:50500", "172.25.33.10:50002"));
        assert!(!ids(&d).contains(&"I3"), "{:?}", ids(&d));
        // 50001 on the A/V Edge's external address is the media relay range, never CLS.
        let d = diagnose(|s, ext, int| {
            unanswered_syn(s, ext, "198.51.100.30:50500", "10.45.16.30:50001");
            good_tcp(s, int, "192.168.10.90:49880", "172.25.33.10:5061");
        });
        assert!(!ids(&d).contains(&"I3"), "{:?}", ids(&d));
        // No traffic of the internal interface: the check says what it needs.
        let d = diagnose(|s, ext, _| good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.10:443"));
        assert!(
            d.skipped
                .iter()
                .any(|k| k.id == "I3" && k.needs.contains("internal side")),
            "{:?}",
            d.skipped
        );
    }
}

mod nat_with_hlb {
    use super::*;
    use crate::diagnose::{diagnose_with, good_tcp};
    use edgewise::topology::SAMPLE;

    /// The sample site behind a hardware load balancer, its VIPs and servers at `vips` and
    /// `nodes` (three addresses each: Access, Web Conferencing, A/V), without NAT declared.
    fn hlb(nodes: [&str; 3], vips: [&str; 3]) -> String {
        let mut t = SAMPLE.replace("scenario = \"single\"", "scenario = \"hlb\"");
        for (old, new) in [
            (
                "ip = \"10.45.16.10\", public = \"131.107.155.10\"",
                nodes[0],
            ),
            (
                "ip = \"10.45.16.20\", public = \"131.107.155.20\"",
                nodes[1],
            ),
            (
                "ip = \"10.45.16.30\", public = \"131.107.155.30\"",
                nodes[2],
            ),
        ] {
            assert!(t.contains(old), "{old}");
            t = t.replace(old, &format!("ip = \"{new}\""));
        }
        t.replace(
            "# [vips]",
            &format!(
                "[vips]\naccess = \"{}\"\nwebconf = \"{}\"\nav = \"{}\"\ninternal = \"172.25.33.100\"\n#",
                vips[0], vips[1], vips[2]
            ),
        )
    }

    #[test]
    fn internet_traffic_reaching_private_addresses_of_a_load_balanced_pool() {
        let private = hlb(
            ["10.45.16.10", "10.45.16.20", "10.45.16.30"],
            ["10.45.16.100", "10.45.16.101", "10.45.16.102"],
        );
        let d = diagnose_with(&private, |s, ext, _| {
            good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.100:443")
        });
        assert_fires("N7", &d, Severity::Error);
        let f = finding(&d, "N7");
        assert!(
            f.evidence[0]
                .detail
                .to_string()
                .contains("the Access Edge VIP at the private address 10.45.16.100"),
            "{}",
            f.evidence[0].detail
        );
        assert!(f.explanation.contains("the Access Edge VIP 10.45.16.100"));
    }

    #[test]
    fn public_addresses_or_nat_without_a_load_balancer_raise_nothing() {
        let public = hlb(
            ["131.107.155.10", "131.107.155.20", "131.107.155.30"],
            ["131.107.155.100", "131.107.155.101", "131.107.155.102"],
        );
        let d = diagnose_with(&public, |s, ext, _| {
            good_tcp(s, ext, "203.0.113.25:51234", "131.107.155.100:443")
        });
        assert!(!ids(&d).contains(&"N7"), "{:?}", ids(&d));
        // NAT on a single Edge is supported: not N7.
        let d = diagnose(|s, ext, _| good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.10:443"));
        assert!(!ids(&d).contains(&"N7"), "{:?}", ids(&d));
    }
}

mod own_records {
    use super::*;
    use edgewise::generate::UdpFlow;

    /// One answered lookup of `name` from `from` to `resolver`.
    fn lookup(
        s: &mut Sim,
        iface: u32,
        from: &str,
        resolver: &str,
        name: &str,
        qtype: u16,
        answers: &[DnsAnswer<'_>],
    ) {
        let mut u = UdpFlow::new(iface, sa(from), sa(resolver), 2.0);
        u.send(s, Dir::Orig, &dns_query(21, name, qtype));
        u.send(s, Dir::Resp, &dns_response(21, name, qtype, answers));
        u.finish(s, "SF", "x");
    }

    const FED: &str = "_sipfederationtls._tcp.contoso.com";

    fn srv(port: u16, target: &str) -> [DnsAnswer<'_>; 1] {
        [DnsAnswer::Srv {
            priority: 0,
            weight: 0,
            port,
            target,
        }]
    }

    fn a(ip: &str) -> [DnsAnswer<'static>; 1] {
        [DnsAnswer::A(ip.parse().expect("ip"))]
    }

    #[test]
    fn our_records_pointing_elsewhere() {
        // An Internet host asks our public DNS server: the federation record has the wrong
        // port and target, the Access Edge's A record another address.
        let d = diagnose(|s, ext, _| {
            lookup(
                s,
                ext,
                "203.0.113.25:53001",
                "131.107.155.53:53",
                FED,
                DNS_SRV,
                &srv(5062, "edge.contoso.com"),
            );
            lookup(
                s,
                ext,
                "203.0.113.25:53002",
                "131.107.155.53:53",
                "sip.contoso.com",
                DNS_A,
                &a("131.107.155.99"),
            );
        });
        assert_fires("D7", &d, Severity::Error);
        let f = finding(&d, "D7");
        assert!(
            f.title.contains(FED) && f.title.contains("sip.contoso.com"),
            "{}",
            f.title
        );
        let details: Vec<String> = f.evidence.iter().map(|e| e.detail.to_string()).collect();
        assert!(
            details
                .iter()
                .any(|x| x.contains("port 5062 (expected 5061)")
                    && x.contains("target edge.contoso.com")),
            "{details:?}"
        );
        assert!(
            details
                .iter()
                .any(|x| x.contains("131.107.155.99 (the topology gives 131.107.155.10)")),
            "{details:?}"
        );
        // The Edge's own lookup of our sign-in record: NXDOMAIN.
        let d = diagnose(|s, ext, _| {
            let mut u = UdpFlow::new(ext, sa("10.45.16.10:53400"), sa("10.45.16.1:53"), 2.0);
            u.send(
                s,
                Dir::Orig,
                &dns_query(22, "_sip._tls.contoso.com", DNS_SRV),
            );
            let mut r = dns_response(22, "_sip._tls.contoso.com", DNS_SRV, &[]);
            r[3] |= 0x03;
            u.send(s, Dir::Resp, &r);
            u.finish(s, "SF", "x");
        });
        assert_fires("D7", &d, Severity::Error);
        assert!(finding(&d, "D7").evidence[0]
            .detail
            .to_string()
            .contains("NXDOMAIN"));
    }

    #[test]
    fn right_records_and_internal_answers_raise_nothing() {
        let d = diagnose(|s, ext, int| {
            lookup(
                s,
                ext,
                "203.0.113.25:53001",
                "131.107.155.53:53",
                FED,
                DNS_SRV,
                &srv(5061, "sip.contoso.com"),
            );
            lookup(
                s,
                ext,
                "203.0.113.25:53002",
                "131.107.155.53:53",
                "av.contoso.com",
                DNS_A,
                &a("131.107.155.30"),
            );
            // Split-brain DNS: inside, sip.contoso.com may rightly be the pool.
            lookup(
                s,
                int,
                "192.168.20.55:53003",
                "192.168.10.5:53",
                "sip.contoso.com",
                DNS_A,
                &a("192.168.10.190"),
            );
        });
        assert!(!ids(&d).contains(&"D7"), "{:?}", ids(&d));
        assert!(!d.skipped.iter().any(|k| k.id == "D7"), "{:?}", d.skipped);
        // No answer for our records in the capture: the check says what it needs.
        let d = diagnose(healthy_tls);
        assert!(
            d.skipped
                .iter()
                .any(|k| k.id == "D7" && k.needs.contains("DNS answers for our own records")),
            "{:?}",
            d.skipped
        );
    }
}
