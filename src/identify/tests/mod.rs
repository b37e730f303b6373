//! Fixtures and tests for payload identification: RFC test vectors, hand-written real bytes,
//! and traffic from the project's generator.

use proptest::prelude::*;

use super::*;
use crate::generate::packets::Rng;
use crate::generate::proto::{self, DnsAnswer};

const TCP: u8 = 6;
const UDP: u8 = 17;

fn tcp(cport: u16, sport: u16, c: &[u8], s: &[u8]) -> Identification {
    identify_parts(TCP, cport, sport, &[c], &[s], true)
}

fn udp(cport: u16, sport: u16, c: &[&[u8]], s: &[&[u8]]) -> Identification {
    identify_parts(UDP, cport, sport, c, s, false)
}

/// RFC 5769 §2.2: sample IPv4 response (Binding success, SOFTWARE "test vector ",
/// XOR-MAPPED-ADDRESS 192.0.2.1:32853, MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_IPV4_RESPONSE: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 §2.3: the IPv6 response's XOR-MAPPED-ADDRESS value (same transaction ID):
/// [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC5769_XOR_IPV6: [u8; 20] = [
    0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
    0xbe, 0xd2, 0xb9, 0xd9,
];

/// The libnice / [MS-TURN] pseudo-TLS server answer: 83 bytes, 32-byte session ID.
fn pseudo_server_83() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0x4e, 0x02, 0x00, 0x00, 0x46, 0x03, 0x01,
    ];
    v.extend_from_slice(&[0x5a; 32]);
    v.push(0x20);
    v.extend_from_slice(&[0xa5; 32]);
    v.extend_from_slice(&[0x00, 0x18, 0x00, 0x0e, 0x00, 0x00, 0x00]);
    v
}

#[test]
fn rfc5769_ipv4_response_is_stun_with_every_field() {
    let id = udp(40000, 3478, &[], &[&RFC5769_IPV4_RESPONSE]);
    assert_eq!(id.protocol, Protocol::Stun);
    assert_eq!(id.confidence, Confidence::Certain);
    let s = id.evidence.stun.expect("stun evidence");
    assert_eq!(s.method, "Binding");
    assert_eq!(s.class, "success");
    assert_eq!(s.transaction_id, "b7e7a701bc34d686fa87dfae");
    assert!(s.magic_cookie);
    assert!(!s.classic_rfc3489);
    assert_eq!(s.xor_mapped.as_deref(), Some("192.0.2.1:32853"));
    assert_eq!(s.software.as_deref(), Some("test vector"));
    assert_eq!(s.fingerprint_valid, Some(true));
    assert_eq!(s.attributes, vec![0x8022, 0x0020, 0x0008, 0x8028]);
    assert_eq!(s.framing, StunFraming::Udp);
}

#[test]
fn rfc5769_ipv6_xor_address_decodes() {
    let mut key = stun::MAGIC_COOKIE.to_vec();
    key.extend_from_slice(&RFC5769_IPV4_RESPONSE[8..20]);
    let mut m = RFC5769_IPV4_RESPONSE[..20].to_vec();
    m[2..4].copy_from_slice(&24u16.to_be_bytes());
    m.extend_from_slice(&[0x00, 0x20, 0x00, 0x14]);
    m.extend_from_slice(&RFC5769_XOR_IPV6);
    let id = udp(40000, 3478, &[], &[&m]);
    let s = id.evidence.stun.expect("stun");
    assert_eq!(
        s.xor_mapped.as_deref(),
        Some("[2001:db8:1234:5678:11:2233:4455:6677]:32853")
    );
}

#[test]
fn a_corrupted_fingerprint_is_reported() {
    let mut m = RFC5769_IPV4_RESPONSE;
    m[79] ^= 1;
    let s = udp(40000, 3478, &[], &[&m]).evidence.stun.expect("stun");
    assert_eq!(s.fingerprint_valid, Some(false));
}

#[test]
fn msturn_allocate_over_udp() {
    let mut rng = Rng::new(7);
    let tx = proto::txid(&mut rng);
    let req = proto::msturn_allocate_request(&mut rng, tx, false);
    let e401 = proto::msturn_allocate_401(tx);
    let tx2 = proto::txid(&mut rng);
    let req2 = proto::msturn_allocate_request(&mut rng, tx2, true);
    let ok = proto::msturn_allocate_success(
        &mut rng,
        tx2,
        "198.51.100.7:61000".parse().expect("addr"),
        "131.107.155.30:52010".parse().expect("addr"),
    );
    let id = udp(50123, 3478, &[&req, &req2], &[&e401, &ok]);
    assert_eq!(id.protocol, Protocol::MsTurn);
    assert_eq!(id.confidence, Confidence::Certain);
    let s = id.evidence.stun.expect("stun");
    assert_eq!(s.method, "Allocate");
    assert_eq!(s.class, "request");
    assert_eq!(s.transaction_id, hex(&tx));
    assert!(s.ms_magic_cookie_first);
    assert_eq!(s.ms_version, Some(6));
    assert_eq!(s.error_code, Some(401));
    assert_eq!(s.error_reason.as_deref(), Some("Unauthorized"));
    assert_eq!(s.xor_relayed.as_deref(), Some("131.107.155.30:52010"));
    assert_eq!(s.xor_mapped.as_deref(), Some("198.51.100.7:61000"));
    assert_eq!(s.message_count, 4);
    assert!(s.turn_method_seen);
    assert!(
        id.summary.contains("XOR-RELAYED 131.107.155.30:52010"),
        "{}",
        id.summary
    );
}

/// teams.pcap frame 1416 (dpi.md §4.2): an MS-TURN Data Indication has no header cookie, a
/// 16-byte transaction ID, the Magic Cookie attribute first and REMOTE-ADDRESS in clear.
#[test]
fn msturn_data_indication_without_cookie() {
    let mut m = vec![0x01, 0x15, 0x00, 0x00];
    m.extend_from_slice(&[
        0xc2, 0xd6, 0x76, 0x4f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    m.extend_from_slice(&stun::MS_COOKIE_ATTR);
    m.extend_from_slice(&[
        0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x3f, 0xcc, 0x5d, 0x47, 0x6e, 0xcd,
    ]);
    let data = proto::rtp_packet(104, false, 1, 1, 0xe074_c700, &[0u8; 20]);
    m.extend_from_slice(&[0x00, 0x13]);
    m.extend_from_slice(&(data.len() as u16).to_be_bytes());
    m.extend_from_slice(&data);
    let len = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    let id = udp(50000, 3478, &[], &[&m]);
    assert_eq!(id.protocol, Protocol::MsTurn);
    let s = id.evidence.stun.expect("stun");
    assert_eq!(s.method, "Data");
    assert_eq!(s.class, "indication");
    assert!(!s.magic_cookie);
    assert!(s.ms_magic_cookie_first);
    assert_eq!(s.transaction_id.len(), 32);
    assert!(s.attributes.contains(&0x0012));
}

#[test]
fn classic_rfc3489_then_rtp() {
    // RFC 3489 Binding Request with a CHANGE-REQUEST attribute (0x0003, 4 bytes), no cookie.
    let mut req = vec![0x00, 0x01, 0x00, 0x08];
    req.extend_from_slice(&[0x11; 16]);
    req.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
    let mut resp = vec![0x01, 0x01, 0x00, 0x0c];
    resp.extend_from_slice(&[0x11; 16]);
    resp.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x1f, 0x90, 192, 0, 2, 9]);
    let rtp: Vec<Vec<u8>> = (0..4)
        .map(|i| proto::rtp_packet(0, false, 100 + i, 160 * u32::from(i), 0x1234, &[0xff; 160]))
        .collect();
    let o: Vec<&[u8]> = std::iter::once(req.as_slice())
        .chain(rtp.iter().map(Vec::as_slice))
        .collect();
    let id = udp(55050, 13958, &o, &[&resp]);
    assert_eq!(id.protocol, Protocol::Stun);
    assert_eq!(id.confidence, Confidence::Certain);
    let s = id.evidence.stun.expect("stun");
    assert!(s.classic_rfc3489);
    assert!(!s.magic_cookie);
    assert_eq!(s.mapped.as_deref(), Some("192.0.2.9:8080"));
    let r = id.evidence.rtp.expect("rtp after stun");
    assert_eq!(r.payload_types, vec![0]);
    assert_eq!(r.ssrcs, vec!["00001234".to_string()]);
}

#[test]
fn channel_data_and_ms_multiplex() {
    let mut rng = Rng::new(1);
    let tx = proto::txid(&mut rng);
    let alloc = proto::Stun::new(0x0003, tx)
        .attr(0x0019, &[17, 0, 0, 0])
        .build();
    let rtp = proto::rtp_packet(111, false, 5, 5, 9, &[1u8; 30]);
    let mut cd = vec![0x40, 0x03];
    cd.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
    cd.extend_from_slice(&rtp);
    while cd.len() % 4 != 0 {
        cd.push(0);
    }
    let id = udp(38123, 40003, &[&alloc, &cd], &[]);
    assert_eq!(id.protocol, Protocol::Turn);
    assert!(id.evidence.stun.as_ref().expect("stun").channel_data);
    // 0xFF10: teams.pcap frames 1424/1427 carry a Binding success inside.
    let inner = proto::stun_binding_success(tx, "10.0.0.1:5000".parse().expect("addr"));
    let mut mux = vec![0xff, 0x10];
    mux.extend_from_slice(&((inner.len() + 8) as u16).to_be_bytes());
    mux.extend_from_slice(&[0xde, 0xaa, 0x29, 0x67, 0x08, 0xf7, 0x08, 0xfc]);
    mux.extend_from_slice(&inner);
    let id = udp(50016, 3479, &[], &[&mux]);
    assert_eq!(id.protocol, Protocol::MsTurn);
    let s = id.evidence.stun.expect("stun");
    assert!(s.ms_multiplexed);
    assert_eq!(s.xor_mapped.as_deref(), Some("10.0.0.1:5000"));
}

#[test]
fn pseudo_tls_then_msturn_framing_generated() {
    let mut rng = Rng::new(3);
    let tx = proto::txid(&mut rng);
    let mut c = proto::pseudo_tls_client_hello(&rng.array32());
    c.extend(proto::msturn_tcp_frame(&proto::msturn_allocate_request(
        &mut rng, tx, false,
    )));
    let mut s = proto::pseudo_tls_server_hello(&rng.array32());
    s.extend(proto::msturn_tcp_frame(&proto::msturn_allocate_401(tx)));
    let id = tcp(50500, 443, &c, &s);
    assert_eq!(id.protocol, Protocol::PseudoTls);
    assert_eq!(id.confidence, Confidence::Certain);
    let st = id.evidence.stun.as_ref().expect("stun");
    assert_eq!(st.framing, StunFraming::PseudoTls);
    assert_eq!(st.method, "Allocate");
    assert_eq!(st.ms_version, Some(6));
    assert_eq!(st.error_code, Some(401));
    let t = id.evidence.tls.as_ref().expect("tls");
    assert_eq!(t.cipher_suites, vec![0x0018]);
    assert_eq!(t.selected_cipher, Some(0x0018));
    assert_eq!(t.client_hello_version.as_deref(), Some("TLS 1.0"));
    assert!(t.certificates.is_empty());
    assert_eq!(id.protocol.label(), "MS-TURN/pseudo-TLS");
}

#[test]
fn pseudo_tls_libnice_server_form_and_one_direction() {
    let c = proto::pseudo_tls_client_hello(&[7; 32]);
    assert_eq!(
        tcp(50500, 443, &c, &pseudo_server_83()).protocol,
        Protocol::PseudoTls
    );
    assert_eq!(tcp(50500, 443, &c, &[]).protocol, Protocol::PseudoTls);
    assert_eq!(
        tcp(50500, 443, &[], &pseudo_server_83()).protocol,
        Protocol::PseudoTls
    );
}

#[test]
fn msturn_tcp_framing_without_handshake() {
    let mut rng = Rng::new(4);
    let tx = proto::txid(&mut rng);
    let c = proto::msturn_tcp_frame(&proto::msturn_allocate_request(&mut rng, tx, false));
    let id = tcp(50500, 443, &c, &[]);
    assert_eq!(id.protocol, Protocol::MsTurn);
    assert_eq!(
        id.evidence.stun.expect("stun").framing,
        StunFraming::MsTurnTcp
    );
}

struct TlsFlow {
    client: Vec<u8>,
    server: Vec<u8>,
    /// The server's first flight's handshake messages (without record header).
    server_hs: Vec<u8>,
    server_rest: Vec<u8>,
    client_hello: Vec<u8>,
}

fn tls_flow(seed: u64, mtls: bool) -> TlsFlow {
    let mut rng = Rng::new(seed);
    let client_hello = proto::client_hello("sip.contoso.com", &rng.array32(), &[]);
    let flight = proto::server_flight(
        &mut rng,
        "sip.contoso.com",
        &["sip.contoso.com", "webcon.contoso.com"],
        mtls,
    );
    let mut client = client_hello.clone();
    client.extend(proto::client_finish_flight(
        &mut rng,
        mtls.then_some("edge.contoso.com"),
    ));
    client.extend(proto::app_data(&mut rng, 100));
    let server_rest = proto::server_finish_flight(&mut rng);
    let mut server = flight.clone();
    server.extend_from_slice(&server_rest);
    TlsFlow {
        client,
        server,
        server_hs: flight[5..].to_vec(),
        server_rest,
        client_hello,
    }
}

#[test]
fn tls_generated_mutual() {
    let f = tls_flow(11, true);
    let id = tcp(51500, 5061, &f.client, &f.server);
    assert_eq!(id.protocol, Protocol::Tls);
    assert_eq!(id.confidence, Confidence::Certain);
    let t = id.evidence.tls.as_ref().expect("tls");
    assert_eq!(t.record_version.as_deref(), Some("TLS 1.0"));
    assert_eq!(t.client_hello_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(t.sni.as_deref(), Some("sip.contoso.com"));
    assert!(t.alpn.is_empty());
    assert_eq!(t.cipher_suites, proto::CLIENT_SUITES.to_vec());
    assert_eq!(t.selected_cipher, Some(0x003c));
    assert_eq!(t.server_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(t.certificates.len(), 2);
    let leaf = &t.certificates[0];
    assert_eq!(leaf.subject_cn.as_deref(), Some("sip.contoso.com"));
    assert_eq!(leaf.san_dns, vec!["sip.contoso.com", "webcon.contoso.com"]);
    assert_eq!(leaf.issuer_cn.as_deref(), Some("Contoso Issuing CA 01"));
    assert_eq!(leaf.not_before.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(leaf.not_after.as_deref(), Some("2028-01-01T00:00:00Z"));
    assert_eq!(
        t.certificates[1].subject_cn.as_deref(),
        Some("Contoso Issuing CA 01")
    );
    assert!(t.client_certificate_requested);
    assert!(t.client_certificate_sent);
    assert_eq!(
        t.client_certificates[0].subject_cn.as_deref(),
        Some("edge.contoso.com")
    );
    assert_eq!(t.server_messages, vec![2, 11, 13, 14]);
    assert_eq!(t.client_messages, vec![1, 11, 16, 15]);
    assert_eq!(t.outcome, TlsOutcome::Completed);
    assert!(!t.tls13_hides_certificates);
    assert!(t.alerts.is_empty());
    assert!(id
        .summary
        .starts_with("TLS ClientHello SNI sip.contoso.com"));
    assert!(id
        .summary
        .contains("server certificate CN sip.contoso.com, SAN"));
}

#[test]
fn tls_fatal_alert_and_reset_and_stall() {
    let f = tls_flow(12, false);
    // zeek tls-1.2-handshake-failure: the server answers the ClientHello with fatal 40.
    let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
    let id = tcp(51500, 443, &f.client_hello, &alert);
    let t = id.evidence.tls.expect("tls");
    assert_eq!(t.outcome, TlsOutcome::Alert);
    assert_eq!(t.alerts[0].from, "server");
    assert_eq!(t.alerts[0].level, "fatal");
    assert_eq!(t.alerts[0].name, Some("handshake_failure"));
    let stalled = tcp(51500, 443, &f.client_hello, &[]);
    assert_eq!(
        stalled.evidence.tls.expect("tls").outcome,
        TlsOutcome::Stalled
    );
    let ctx = Context {
        transport: TCP,
        initiator_port: 51500,
        responder_port: 443,
        stream: true,
        reset: true,
    };
    let reset = identify_with(&ctx, &[&f.client_hello], &[&[]]);
    assert_eq!(reset.evidence.tls.expect("tls").outcome, TlsOutcome::Reset);
}

#[test]
fn tls13_server_hello_hides_certificates() {
    // ServerHello legacy_version 0x0303 with supported_versions = 0x0304 (RFC 8446 §4.1.3).
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[9; 32]);
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0x00]);
    let ext = [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04];
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut s = proto::tls_record(22, 0x0303, &proto::handshake(2, &body));
    s.extend(proto::tls_record(20, 0x0303, &[1]));
    s.extend(proto::tls_record(23, 0x0303, &[0x55; 300]));
    let mut c = proto::client_hello("sip.contoso.com", &[1; 32], &[]);
    c.extend(proto::tls_record(20, 0x0303, &[1]));
    c.extend(proto::tls_record(23, 0x0303, &[0x66; 60]));
    let t = tcp(51000, 443, &c, &s).evidence.tls.expect("tls");
    assert_eq!(t.server_version.as_deref(), Some("TLS 1.3"));
    assert_eq!(t.selected_cipher, Some(0x1301));
    assert!(t.tls13_hides_certificates);
    assert_eq!(t.outcome, TlsOutcome::Completed);
}

#[test]
fn dns_srv_generated() {
    let q = proto::dns_query(
        0x1234,
        "_sipfederationtls._tcp.fabrikam.com",
        proto::DNS_SRV,
    );
    let r = proto::dns_response(
        0x1234,
        "_sipfederationtls._tcp.fabrikam.com",
        proto::DNS_SRV,
        &[DnsAnswer::Srv {
            priority: 0,
            weight: 0,
            port: 5061,
            target: "sip.fabrikam.com",
        }],
    );
    let id = udp(53211, 53, &[&q], &[&r]);
    assert_eq!(id.protocol, Protocol::Dns);
    let d = id.evidence.dns.expect("dns");
    assert_eq!(d.queries, vec!["_sipfederationtls._tcp.fabrikam.com"]);
    assert_eq!(d.query_types, vec!["SRV"]);
    assert_eq!(d.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(
        d.srv,
        vec![dns::SrvAnswer {
            target: "sip.fabrikam.com".into(),
            port: 5061,
            priority: 0,
            weight: 0
        }]
    );
}

#[test]
fn http_crl_generated_and_http_on_sip_port_is_http() {
    let req = proto::http_get("/pki/contoso.crl", "pki.contoso.com");
    let resp = proto::http_200("application/pkix-crl", b"0\x82");
    let id = tcp(51600, 80, &req, &resp);
    assert_eq!(id.protocol, Protocol::Http);
    let h = id.evidence.http.expect("http");
    assert_eq!(h.method.as_deref(), Some("GET"));
    assert_eq!(h.path.as_deref(), Some("/pki/contoso.crl"));
    assert_eq!(h.host.as_deref(), Some("pki.contoso.com"));
    assert_eq!(h.status, Some(200));
    assert_eq!(h.content_type.as_deref(), Some("application/pkix-crl"));
    // HTTP on 5060 is not SIP.
    let id = tcp(
        8888,
        5060,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\n\r\n",
    );
    assert_eq!(id.protocol, Protocol::Http);
}

#[test]
fn sip_fields() {
    let invite = b"INVITE sip:bob@fabrikam.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1\r\nFrom: \"Alice\" <sip:alice@contoso.com>;tag=1\r\nTo: <sip:bob@fabrikam.com>\r\nCall-ID: abc123@10.0.0.1\r\nUser-Agent: UCCAPI/16.0\r\nContent-Length: 0\r\n\r\n";
    let resp = b"SIP/2.0 504 Server time-out\r\nms-diagnostics: 1034;reason=\"Previous hop federated peer did not report diagnostic information\"\r\nServer: RTC/6.0\r\n\r\n";
    let id = tcp(5061, 5060, invite, resp);
    assert_eq!(id.protocol, Protocol::Sip);
    let s = id.evidence.sip.expect("sip");
    assert_eq!(s.first_line, "INVITE sip:bob@fabrikam.com SIP/2.0");
    assert_eq!(s.method.as_deref(), Some("INVITE"));
    assert_eq!(s.status, Some(504));
    assert_eq!(s.call_id.as_deref(), Some("abc123@10.0.0.1"));
    assert_eq!(s.from_host.as_deref(), Some("contoso.com"));
    assert_eq!(s.to_host.as_deref(), Some("fabrikam.com"));
    assert!(s
        .ms_diagnostics
        .as_deref()
        .is_some_and(|d| d.starts_with("1034;")));
    assert_eq!(s.user_agent.as_deref(), Some("UCCAPI/16.0"));
    assert_eq!(s.server.as_deref(), Some("RTC/6.0"));
    // UDP, compact headers, after a keep-alive datagram.
    let reg = b"REGISTER sip:contoso.com SIP/2.0\r\nf: <sip:a@contoso.com>\r\nt: <sip:a@contoso.com>\r\ni: x1\r\n\r\n";
    let id = udp(5060, 5060, &[b"hello", reg], &[]);
    assert_eq!(id.protocol, Protocol::Sip);
    assert_eq!(id.evidence.sip.expect("sip").call_id.as_deref(), Some("x1"));
}

#[test]
fn xmpp_starttls_then_tls() {
    let f = tls_flow(13, true);
    let mut c = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' xmlns:db='jabber:server:dialback' to='contoso.com' from='fabrikam.com' version='1.0'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec();
    c.extend_from_slice(&f.client);
    let mut s = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' xmlns:db='jabber:server:dialback' id='x' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".to_vec();
    s.extend_from_slice(&f.server);
    let id = tcp(1193, 5269, &c, &s);
    assert_eq!(id.protocol, Protocol::Xmpp);
    let x = id.evidence.xmpp.as_ref().expect("xmpp");
    assert_eq!(x.to.as_deref(), Some("contoso.com"));
    assert_eq!(x.from.as_deref(), Some("fabrikam.com"));
    assert_eq!(x.namespace.as_deref(), Some("jabber:server"));
    assert!(x.dialback && x.starttls_offered && x.starttls_requested && x.starttls_proceed);
    let t = id.evidence.tls.as_ref().expect("tls after starttls");
    assert!(t.client_certificate_requested);
    assert_eq!(t.sni.as_deref(), Some("sip.contoso.com"));
}

#[test]
fn rtp_and_srtcp() {
    let pkts: Vec<Vec<u8>> = (0..5u16)
        .filter(|i| *i != 3)
        .map(|i| {
            proto::rtp_packet(
                104,
                i == 0,
                23859 + i,
                320 * u32::from(i),
                0xe074_c700,
                &[0; 40],
            )
        })
        .collect();
    let sr = proto::rtcp_sr(0xe074_c700, 1, 2, 3, 4, "cname");
    let parts: Vec<&[u8]> = pkts.iter().map(Vec::as_slice).collect();
    let id = udp(50020, 50040, &parts, &[&sr, &sr]);
    assert_eq!(id.protocol, Protocol::Rtp);
    let r = id.evidence.rtp.expect("rtp");
    assert_eq!(r.version, 2);
    assert_eq!(r.payload_types, vec![104]);
    assert_eq!(r.ssrcs, vec!["e074c700".to_string()]);
    assert_eq!(r.sequence_gaps, 1);
    assert_eq!(r.rtcp_packet_types, vec![200, 202]);
    assert_eq!(r.srtcp_packets, 0);
    // SRTCP (RFC 3711 §3.4): RR header clear, encrypted rest, E||index, 10-byte tag.
    let mut srtcp = vec![0x81, 0xc9, 0x00, 0x07];
    srtcp.extend_from_slice(&0x1111_2222u32.to_be_bytes());
    srtcp.extend_from_slice(&[0x3c; 24]);
    srtcp.extend_from_slice(&[0x80, 0, 0, 5]);
    srtcp.extend_from_slice(&[0xaa; 10]);
    let id = udp(50020, 50040, &[&srtcp, &srtcp], &[]);
    assert_eq!(id.protocol, Protocol::Srtp);
    let r = id.evidence.rtp.expect("rtp");
    assert_eq!(r.srtcp_packets, 2);
    assert_eq!(r.rtcp_packet_types, vec![201]);
}

#[test]
fn dtls_webrtc_is_not_sfb_media() {
    let mut rng = Rng::new(5);
    let b = proto::stun_binding_request(proto::txid(&mut rng));
    let mut dtls = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
    dtls.extend_from_slice(&[1, 0, 0, 0]);
    let id = udp(37967, 19305, &[&b, &dtls], &[]);
    // DTLS records after a STUN Binding: the DTLS label, with the STUN evidence kept.
    assert_eq!(
        (id.protocol, id.confidence),
        (Protocol::Dtls, Confidence::Certain)
    );
    assert_eq!(id.evidence.dtls.as_ref().map(|d| d.records), Some(1));
    let s = id.evidence.stun.expect("stun");
    assert!(s.dtls_seen);
    assert!(id.evidence.rtp.is_none());
    assert!(id.summary.contains("not SfB"));
}

#[test]
fn banners_and_unknown() {
    assert_eq!(
        tcp(50000, 22, b"", b"SSH-2.0-OpenSSH_9.6\r\n").protocol,
        Protocol::Ssh
    );
    let rdp = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 0x01, 0, 0x08, 0, 0x03, 0, 0, 0,
    ];
    assert_eq!(tcp(50000, 3389, &rdp, b"").protocol, Protocol::Rdp);
    let smb = [0, 0, 0, 0x40, 0xfe, b'S', b'M', b'B', 0x40, 0];
    assert_eq!(tcp(50000, 445, &smb, b"").protocol, Protocol::Smb);
    let id = tcp(50000, 443, &[0xde, 0xad, 0xbe, 0xef], &[]);
    assert_eq!(id.protocol, Protocol::Unknown);
    assert_eq!(id.confidence, Confidence::Unsure);
    assert_eq!(
        id.evidence.first_bytes_hex.as_deref(),
        Some("orig: deadbeef; resp: ")
    );
    assert!(id.summary.contains("port 443 suggests TLS"));
    let none = identify_parts(TCP, 50000, 5061, &[], &[], true);
    assert_eq!(none.protocol, Protocol::Unknown);
    assert!(none.summary.contains("suggests TLS"));
    let json = serde_json::to_value(&id).expect("json");
    assert_eq!(json["protocol"], "unknown");
    assert_eq!(json["confidence"], "unsure");
}

/// Cuts `b` at the given sizes (cycled).
fn cut<'a>(b: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < b.len() {
        let n = sizes[i % sizes.len()].max(1).min(b.len() - at);
        out.push(&b[at..at + n]);
        at += n;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Re-framing the server flight into several TLS records and cutting both directions into
    /// TCP segments changes nothing.
    #[test]
    fn any_record_and_segment_split_gives_the_same_result(
        rec in proptest::collection::vec(1usize..700, 1..6),
        seg in proptest::collection::vec(1usize..900, 1..6),
        cseg in proptest::collection::vec(1usize..200, 1..4),
    ) {
        let f = tls_flow(21, true);
        let whole = tcp(51500, 5061, &f.client, &f.server);
        let mut server = Vec::new();
        for chunk in cut(&f.server_hs, &rec) {
            server.extend(proto::tls_record(22, 0x0303, chunk));
        }
        server.extend_from_slice(&f.server_rest);
        let s_parts = cut(&server, &seg);
        let c_parts = cut(&f.client, &cseg);
        let split = identify_parts(TCP, 51500, 5061, &c_parts, &s_parts, true);
        prop_assert_eq!(split.protocol, Protocol::Tls);
        let (a, b) = (whole.evidence.tls.expect("tls"), split.evidence.tls.expect("tls"));
        prop_assert_eq!(a.certificates, b.certificates);
        prop_assert_eq!(a.sni, b.sni);
        prop_assert_eq!(a.cipher_suites, b.cipher_suites);
        prop_assert_eq!(a.server_messages, b.server_messages);
        prop_assert_eq!(a.client_certificate_requested, b.client_certificate_requested);
        prop_assert_eq!(a.outcome, b.outcome);
    }

    /// No probe panics on arbitrary bytes, in any position.
    #[test]
    fn no_panic_on_arbitrary_bytes(
        a in proptest::collection::vec(any::<u8>(), 0..300),
        b in proptest::collection::vec(any::<u8>(), 0..300),
        port in any::<u16>(),
    ) {
        let _ = tls::probe(&a, &b, false);
        let _ = stun::probe_pseudo_tls(&a, &b);
        let _ = stun::probe_msturn_tcp(&a, &b);
        let _ = stun::probe_tcp(&a, &b);
        let _ = stun::probe_datagrams(&[&a], &[&b], true);
        let _ = rtp::probe_datagrams(&[&a, &b], &[]);
        let _ = rtp::probe_tcp(&a, &b);
        let _ = sip::probe_stream(&a, &b);
        let _ = sip::probe_datagrams(&[&a], &[&b]);
        let _ = http::probe(&a, &b);
        let _ = dns::probe_datagrams(&[&a], &[&b], true);
        let _ = dns::probe_datagrams(&[&a], &[&b], false);
        let _ = dtls::probe_datagrams(&[&a], &[&b]);
        let _ = dns::probe_tcp(&a, &b, true);
        let _ = xmpp::probe(&a, &b, false);
        let _ = banner::probe(&a, &b);
        let _ = identify_parts(TCP, port, 443, &[&a], &[&b], true);
        let _ = identify_parts(UDP, port, 3478, &[&a, &b], &[&b], false);
    }

    /// Arbitrary bytes behind valid-looking headers (the paths that follow length fields).
    #[test]
    fn no_panic_behind_valid_headers(
        tail in proptest::collection::vec(any::<u8>(), 0..400),
        kind in 0usize..11,
    ) {
        let head: &[u8] = match kind {
            0 => &[0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc],
            1 => &[0x00, 0x01, 0x00, 0x40, 0x21, 0x12, 0xa4, 0x42],
            2 => &[0x02, 0x00, 0x00, 0x40, 0x00, 0x03, 0x00, 0x3c],
            3 => &[0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01],
            4 => &[0x80, 0xc8, 0x00, 0x06],
            5 => &[0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02],
            6 => &[0xff, 0x10, 0x00, 0x20],
            7 => &[0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x01, 0x00, 0x00],
            8 => &[0x03, 0x00, 0x00, 0x2b, 0x26, 0xe0, 0, 0, 0, 0, 0],
            9 => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            _ => b"<stream:stream xmlns='jabber:client' to='",
        };
        let mut v = head.to_vec();
        v.extend_from_slice(&tail);
        let _ = identify_parts(TCP, 50000, 443, &[&v], &[&v], true);
        let _ = identify_parts(UDP, 50000, 3478, &[&v], &[&v], false);
        let _ = identify_parts(UDP, 50000, 53, &[&v], &[&v], false);
        let _ = identify_parts(UDP, 50000, 40000, &[&v], &[&v], false);
        let _ = identify_parts(TCP, 50000, 3389, &[&v], &[&v], true);
    }
}

/// A TURN session read through all its control messages: relayed address, the peers of
/// CreatePermission, ChannelBind and Send (not the client's own address from responses),
/// refreshes, the 401 and the final deallocation.
#[test]
fn turn_session_is_followed_through_its_control_messages() {
    use proto::*;
    let mut rng = Rng::new(11);
    let mut tx = || txid(&mut rng);
    let relay: std::net::SocketAddr = "131.107.155.30:52010".parse().expect("addr");
    let client: std::net::SocketAddr = "192.168.20.55:50020".parse().expect("addr");
    let peer_a: std::net::SocketAddr = "198.51.100.30:50000".parse().expect("addr");
    let peer_b: std::net::SocketAddr = "198.51.100.31:50002".parse().expect("addr");
    let (t1, t2, t3, t4, t5, t6) = (tx(), tx(), tx(), tx(), tx(), tx());
    let c: Vec<Vec<u8>> = vec![
        Stun::new(STUN_ALLOCATE_REQUEST, t1)
            .requested_transport(17)
            .build(),
        Stun::new(STUN_ALLOCATE_REQUEST, t2)
            .requested_transport(17)
            .build(),
        Stun::new(TURN_CREATE_PERMISSION_REQUEST, t3)
            .xor_peer(peer_a)
            .build(),
        Stun::new(TURN_CHANNEL_BIND_REQUEST, t4)
            .xor_peer(peer_b)
            .channel_number(TURN_FIRST_CHANNEL)
            .build(),
        Stun::new(TURN_SEND_INDICATION, t5)
            .xor_peer(peer_a)
            .data(&[0x80, 0, 0, 1])
            .build(),
        Stun::new(TURN_REFRESH_REQUEST, t6).lifetime(0).build(),
    ];
    let s: Vec<Vec<u8>> = vec![
        Stun::new(STUN_ALLOCATE_ERROR, t1)
            .error_code(401, "Unauthorized")
            .build(),
        Stun::new(STUN_ALLOCATE_SUCCESS, t2)
            .xor_relayed(relay)
            .xor_mapped(client)
            .lifetime(600)
            .build(),
        Stun::new(TURN_CREATE_PERMISSION_SUCCESS, t3).build(),
        Stun::new(TURN_REFRESH_SUCCESS, t6).lifetime(0).build(),
    ];
    let cs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
    let ss: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
    let id = udp(50020, 3478, &cs, &ss);
    let stun = id.evidence.stun.expect("stun evidence");
    let turn = stun.turn.expect("a TURN session");
    assert_eq!(turn.relayed, vec![relay]);
    assert_eq!(turn.peers, vec![peer_a, peer_b]);
    assert_eq!(
        (
            turn.allocate_requests,
            turn.allocations,
            turn.permissions,
            turn.channel_binds
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(turn.refreshes, 1);
    assert_eq!(turn.errors, vec![401]);
    assert!(turn.deallocated);
    assert_eq!(turn.lifetime_s, Some(0));
}
mod precise;
