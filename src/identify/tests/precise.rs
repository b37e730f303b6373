//! Identification that holds on any traffic (issue #14): each probe is certain only on evidence
//! that rules out its neighbours on the same framing, and unsure only with nothing against it.
//! Every test names the label and the confidence it expects.

use super::*;

fn assert_id(id: &Identification, protocol: Protocol, confidence: Confidence) {
    assert_eq!(
        (id.protocol, id.confidence),
        (protocol, confidence),
        "{}",
        id.summary
    );
}

fn unknown(id: &Identification) {
    assert_id(id, Protocol::Unknown, Confidence::Unsure);
}

// --- RDP and the other ISO-on-TCP protocols (TPKT + COTP) -------------------------------------

/// S7comm's COTP Connection Request (port 102): TPDU size, calling and called TSAP parameters.
const S7_CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02,
    0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
];
/// Its Connection Confirm.
const S7_CC: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x02, 0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02,
    0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
];
/// S7comm Setup Communication in a COTP DT TPDU, after the connection.
const S7_SETUP: [u8; 25] = [
    0x03, 0x00, 0x00, 0x19, 0x02, 0xf0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0,
];
/// MMS (IEC 61850) over RFC 1006: a Connection Request with the TSAPs first.
const MMS_CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc1, 0x02, 0x00, 0x01, 0xc2,
    0x02, 0x00, 0x01, 0xc0, 0x01, 0x0a,
];

fn tpkt_cr(variable: &[u8]) -> Vec<u8> {
    let len = 11 + variable.len();
    let mut v = vec![3, 0];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&[(len - 5) as u8, 0xe0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(variable);
    v
}

#[test]
fn s7comm_and_mms_on_port_102_are_not_rdp() {
    let mut c = S7_CR.to_vec();
    c.extend_from_slice(&S7_SETUP);
    unknown(&tcp(50000, 102, &c, &S7_CC));
    unknown(&tcp(50000, 102, &S7_CR, b""));
    unknown(&tcp(50000, 102, &MMS_CR, b""));
    // The same bytes on RDP's port are still not RDP: the port is no evidence.
    unknown(&tcp(50000, 3389, &S7_CR, &S7_CC));
}

#[test]
fn rdp_is_certain_on_its_cookie_or_negotiation() {
    // mstsc: "Cookie: mstshash=user" then an RDP Negotiation Request for TLS | CredSSP.
    let mut var = b"Cookie: mstshash=alice\r\n".to_vec();
    var.extend_from_slice(&[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
    let cr = tpkt_cr(&var);
    // Connection Confirm with an RDP Negotiation Response selecting CredSSP (2).
    let cc = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x1f, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00,
    ];
    let id = tcp(50000, 3389, &cr, &cc);
    assert_id(&id, Protocol::Rdp, Confidence::Certain);
    assert!(id.summary.contains("mstshash=alice"), "{}", id.summary);
    // The negotiation request alone, the routing-token cookie alone, the server's answer alone.
    let neg = tpkt_cr(&[0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00]);
    assert_id(
        &tcp(50000, 3389, &neg, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
    let token = tpkt_cr(b"Cookie: msts=3640205228.15629.0000\r\n");
    assert_id(
        &tcp(50000, 3389, &token, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
    assert_id(
        &tcp(50000, 3389, b"", &cc),
        Protocol::Rdp,
        Confidence::Certain,
    );
    // Any port: the evidence is in the bytes.
    assert_id(
        &tcp(50000, 102, &neg, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
}

#[test]
fn a_bare_connection_request_is_only_unsure_rdp() {
    let bare = tpkt_cr(&[]);
    assert_id(
        &tcp(50000, 3389, &bare, b""),
        Protocol::Rdp,
        Confidence::Unsure,
    );
    // Another cookie than RDP's is another protocol.
    let other = tpkt_cr(b"Cookie: something=else\r\n");
    unknown(&tcp(50000, 3389, &other, b""));
}

// --- RTP: unsure only with nothing against it -------------------------------------------------

/// A DNSCrypt query: client magic, client public key, nonce, then the encrypted query padded to
/// a multiple of 64 (dnscrypt.info protocol). The magic here starts 0x8x, in RTP's range.
fn dnscrypt_query(seed: u8) -> Vec<u8> {
    let mut v = vec![0x8a, 0x3f, 0x51, 0x07, 0x9c, 0x21, 0x6e, 0x44];
    v.extend((0..(32 + 12 + 256 + 16)).map(|i: u32| (i as u8).wrapping_mul(37) ^ seed));
    v
}

fn dnscrypt_response(seed: u8) -> Vec<u8> {
    let mut v = b"r6fnvWj8".to_vec();
    v.extend((0..(24 + 128 + 16)).map(|i: u32| (i as u8).wrapping_mul(91) ^ seed));
    v
}

#[test]
fn dnscrypt_is_not_rtp() {
    for port in [443, 5353, 8443] {
        let (q, r) = (dnscrypt_query(1), dnscrypt_response(2));
        unknown(&udp(40000, port, &[&q], &[&r]));
        // One query alone: one RTP-looking datagram is no evidence.
        unknown(&udp(40000, port, &[&q], &[]));
        // Several queries from one socket: the same "sequence number" every time.
        let q2 = dnscrypt_query(3);
        unknown(&udp(40000, port, &[&q, &q2], &[]));
    }
}

/// A QUIC v1 long header: first byte, version, DCID length and DCID, SCID length and SCID.
fn quic_long(first: u8, version: u32) -> Vec<u8> {
    let mut v = vec![first];
    v.extend_from_slice(&version.to_be_bytes());
    v.push(8);
    v.extend_from_slice(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]);
    v.push(0);
    v.extend((0..1180u32).map(|i| (i as u8).wrapping_mul(13)));
    v
}

#[test]
fn quic_is_not_rtp() {
    // An Initial (fixed bit set), and the same with the fixed bit greased (RFC 9287), which
    // falls in RTP's first-byte range; QUIC v2 and a version negotiation too.
    let initial = quic_long(0xc3, 1);
    let greased = quic_long(0x83, 1);
    let v2 = quic_long(0x93, 0x6b33_43cf);
    let vn = quic_long(0x80, 0);
    let short: Vec<u8> = (0..60u8).map(|i| if i == 0 { 0x41 } else { i }).collect();
    for port in [443, 4433] {
        unknown(&udp(40000, port, &[&initial, &greased], &[&v2, &short]));
        unknown(&udp(40000, port, &[&greased, &greased], &[&vn]));
    }
    assert_eq!(rtp::foreign(&greased), Some("QUIC"));
}

/// BACnet/IP I-Am, broadcast (BVLC 0x81 0x0b, NPDU, APDU): 24 bytes.
const BACNET_I_AM: [u8; 24] = [
    0x81, 0x0b, 0x00, 0x18, 0x01, 0x20, 0xff, 0xff, 0x00, 0xff, 0x10, 0x00, 0xc4, 0x02, 0x00, 0x00,
    0x0a, 0x22, 0x01, 0xe0, 0x91, 0x00, 0x21, 0x0f,
];

/// A BACnet/IP unicast ReadProperty of `len` bytes (the tail is the property's value).
fn bacnet_unicast(len: u8) -> Vec<u8> {
    let mut v = vec![
        0x81, 0x0a, 0x00, len, 0x01, 0x04, 0x02, 0x75, 0x01, 0x0c, 0x0c, 0x02,
    ];
    v.resize(usize::from(len), 0x19);
    v
}

#[test]
fn bacnet_is_not_rtp() {
    // Unicast BVLC: RTP version 2, CC 1, PT 10, the BVLC length where RTP's sequence sits, so
    // lengths that grow look like a sequence in order.
    let (a, b, c) = (bacnet_unicast(30), bacnet_unicast(31), bacnet_unicast(33));
    unknown(&udp(47808, 47808, &[&a, &b, &c], &[&BACNET_I_AM]));
    unknown(&udp(47808, 47808, &[&a, &b], &[]));
    assert_eq!(rtp::foreign(&BACNET_I_AM), Some("BACnet/IP"));
}

#[test]
fn rtp_confidence_follows_the_flow() {
    let pkt = |seq: u16| {
        proto::rtp_packet(
            0,
            false,
            seq,
            160 * u32::from(seq),
            0x1234_5678,
            &[0xd5; 160],
        )
    };
    let (p1, p2, p3) = (pkt(7), pkt(8), pkt(9));
    unknown(&udp(50000, 50002, &[&p1], &[]));
    assert_id(
        &udp(50000, 50002, &[&p1, &p2], &[]),
        Protocol::Rtp,
        Confidence::Unsure,
    );
    assert_id(
        &udp(50000, 50002, &[&p1, &p2, &p3], &[]),
        Protocol::Rtp,
        Confidence::Certain,
    );
    // Two RTP packets in order beside a datagram that is not RTP: not unsure RTP.
    unknown(&udp(
        50000,
        50002,
        &[&p1, &p2],
        &[b"hello there, not media"],
    ));
    // A plain RTCP compound walks exactly: unsure RTCP even alone.
    let sr = proto::rtcp_sr(0x1234_5678, 1, 2, 3, 4, "cname");
    assert_id(
        &udp(50000, 50003, &[&sr], &[]),
        Protocol::Rtcp,
        Confidence::Unsure,
    );
}

// --- DTLS -------------------------------------------------------------------------------------

fn dtls_record(ct: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 0xfe, 0xfd];
    v.extend_from_slice(&epoch.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes()[2..]);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn dtls_handshake(msg_type: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut v = vec![msg_type, len[1], len[2], len[3]];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, len[1], len[2], len[3]]);
    v.extend_from_slice(body);
    v
}

/// A WebRTC DTLS 1.2 ClientHello offering use_srtp (RFC 5764).
fn dtls_client_hello() -> Vec<u8> {
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&[0x42; 32]);
    b.extend_from_slice(&[0, 0]); // session ID, cookie: empty
    b.extend_from_slice(&[0, 4, 0xc0, 0x2b, 0xc0, 0x2f, 1, 0]);
    let ext = [0x00, 0x0e, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00];
    b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    b.extend_from_slice(&ext);
    dtls_record(22, 0, 0, &dtls_handshake(1, 0, &b))
}

fn dtls_hello_verify() -> Vec<u8> {
    let mut b = vec![0xfe, 0xff, 20];
    b.extend_from_slice(&[0x77; 20]);
    dtls_record(22, 0, 0, &dtls_handshake(3, 0, &b))
}

#[test]
fn dtls_after_stun_is_dtls() {
    let mut rng = Rng::new(14);
    let tx = proto::txid(&mut rng);
    let req = proto::stun_binding_request(tx);
    let resp = proto::stun_binding_success(tx, "192.0.2.7:40000".parse().expect("addr"));
    let ch = dtls_client_hello();
    let id = udp(50000, 19305, &[&req, &ch], &[&resp, &dtls_hello_verify()]);
    assert_id(&id, Protocol::Dtls, Confidence::Certain);
    let d = id.evidence.dtls.as_ref().expect("dtls");
    assert!(d.use_srtp);
    assert_eq!(d.handshake_types, vec![1, 3]);
    assert_eq!(d.record_version.as_deref(), Some("DTLS 1.2"));
    assert!(id.evidence.stun.as_ref().is_some_and(|s| s.dtls_seen));
    assert!(id.summary.contains("after STUN"), "{}", id.summary);
    assert_eq!(id.zeek_service(), Some("dtls"));
    let json = serde_json::to_value(&id).expect("json");
    assert_eq!(json["protocol"], "DTLS");
}

#[test]
fn dtls_alone_and_joined_late() {
    let ch = dtls_client_hello();
    assert_id(
        &udp(50000, 4433, &[&ch], &[]),
        Protocol::Dtls,
        Confidence::Certain,
    );
    // Application data at epoch 1 only: records that walk, no handshake.
    let a = dtls_record(23, 1, 7, &[0x5c; 120]);
    let b = dtls_record(23, 1, 9, &[0x3a; 80]);
    assert_id(
        &udp(50000, 4433, &[&a], &[&b]),
        Protocol::Dtls,
        Confidence::Unsure,
    );
    // A record whose length runs past the datagram is not DTLS.
    let mut bad = a.clone();
    bad.truncate(60);
    unknown(&udp(50000, 4433, &[&bad], &[]));
}

// --- STUN/TURN and DNS on any port ------------------------------------------------------------

#[test]
fn stun_with_its_cookie_is_stun_below_1024() {
    let mut rng = Rng::new(3);
    let tx = proto::txid(&mut rng);
    let req = proto::stun_binding_request(tx);
    let resp = proto::stun_binding_success(tx, "198.51.100.4:50000".parse().expect("addr"));
    for port in [80, 123, 53, 500] {
        assert_id(
            &udp(50000, port, &[&req], &[&resp]),
            Protocol::Stun,
            Confidence::Certain,
        );
    }
    assert_id(
        &tcp(50000, 80, &req, &resp),
        Protocol::Stun,
        Confidence::Certain,
    );
    // RFC 3489 has no magic value: below 1024 it is not enough.
    let mut classic = req.clone();
    classic[4..8].copy_from_slice(&[0x5a, 0x11, 0x90, 0x03]);
    unknown(&udp(50000, 123, &[&classic, &classic], &[]));
}

#[test]
fn dns_is_dns_on_any_port() {
    let q = proto::dns_query(0x4a1b, "sip.contoso.com", 1);
    let r = proto::dns_response(
        0x4a1b,
        "sip.contoso.com",
        1,
        &[DnsAnswer::A("131.107.155.10".parse().expect("ip"))],
    );
    for port in [5300, 853, 123, 40000] {
        let id = udp(50000, port, &[&q], &[&r]);
        assert_id(&id, Protocol::Dns, Confidence::Certain);
        assert_eq!(
            id.evidence.dns.as_ref().expect("dns").addresses,
            vec!["131.107.155.10"]
        );
        // Queries alone read exactly: unsure.
        assert_id(
            &udp(50000, port, &[&q], &[]),
            Protocol::Dns,
            Confidence::Unsure,
        );
    }
    // Over TCP with the length prefix, off port 53.
    let framed = |m: &[u8]| {
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    };
    assert_id(
        &tcp(50000, 5300, &framed(&q), &framed(&r)),
        Protocol::Dns,
        Confidence::Certain,
    );
    // A DNS-shaped header with a byte too many is not DNS off its ports.
    let mut long = q.clone();
    long.push(0);
    unknown(&udp(50000, 40000, &[&long], &[]));
    // A response whose ID answers no query seen: unsure.
    let other = proto::dns_response(0x0001, "sip.contoso.com", 1, &[]);
    assert_id(
        &udp(50000, 40000, &[&q], &[&other]),
        Protocol::Dns,
        Confidence::Unsure,
    );
}

// --- HTTP -------------------------------------------------------------------------------------

#[test]
fn http_with_bare_lf_line_ends() {
    let req = b"GET /status HTTP/1.1\nHost: printer.local\nUser-Agent: curl/8\n\n";
    let resp = b"HTTP/1.0 200 OK\nServer: tinyhttpd\nContent-Type: text/plain\n\nok\n";
    let id = tcp(50000, 8080, req, resp);
    assert_id(&id, Protocol::Http, Confidence::Certain);
    let h = id.evidence.http.as_ref().expect("http");
    assert_eq!(h.host.as_deref(), Some("printer.local"));
    assert_eq!(h.server.as_deref(), Some("tinyhttpd"));
    assert_eq!(h.status, Some(200));
    assert_eq!(h.version.as_deref(), Some("HTTP/1.1"));
    assert!(h.bare_lf);
    // The response alone, bare LF.
    assert_id(
        &tcp(50000, 8080, b"", resp),
        Protocol::Http,
        Confidence::Certain,
    );
}

#[test]
fn http2_prior_knowledge_preface() {
    let mut c = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // The client's SETTINGS frame follows the preface.
    c.extend_from_slice(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
    let s = [
        0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 128, 0, 4, 0, 1, 0, 0,
    ];
    let id = tcp(50000, 8080, &c, &s);
    assert_id(&id, Protocol::Http, Confidence::Certain);
    assert_eq!(
        id.evidence.http.as_ref().and_then(|h| h.version.as_deref()),
        Some("HTTP/2")
    );
    assert!(id.summary.contains("HTTP/2"), "{}", id.summary);
    // The preface alone, and the preface cut after its first line.
    assert_id(
        &tcp(50000, 80, &c, b""),
        Protocol::Http,
        Confidence::Certain,
    );
    assert_id(
        &tcp(50000, 80, b"PRI * HTTP/2.0\r\n", b""),
        Protocol::Http,
        Confidence::Certain,
    );
}

// --- TLS joined mid-stream --------------------------------------------------------------------

fn app_records(rng: &mut Rng, sizes: &[usize]) -> Vec<u8> {
    let mut v = Vec::new();
    for &n in sizes {
        v.extend_from_slice(&proto::app_data(rng, n));
    }
    v
}

#[test]
fn tls_joined_mid_record_is_unsure_tls() {
    let mut rng = Rng::new(77);
    // Each direction starts inside a record: its tail, then whole records.
    let mut c = rng.bytes(137);
    c.extend_from_slice(&app_records(&mut rng, &[517, 64, 1200]));
    let mut s = rng.bytes(2901);
    s.extend_from_slice(&app_records(&mut rng, &[1400, 1400, 300]));
    // The last server record cut off by the end of the prefix.
    s.truncate(s.len() - 100);
    let id = tcp(50000, 443, &c, &s);
    assert_id(&id, Protocol::Tls, Confidence::Unsure);
    let t = id.evidence.tls.as_ref().expect("tls");
    assert!(t.mid_stream);
    assert_eq!(t.record_version.as_deref(), Some("TLS 1.2"));
    assert!(id.summary.contains("mid-stream"), "{}", id.summary);
    // One direction only.
    assert_id(&tcp(50000, 443, &c, b""), Protocol::Tls, Confidence::Unsure);
    // Joined between records: unsure too, not mid-stream.
    let whole = app_records(&mut rng, &[100, 200]);
    let id = tcp(50000, 443, &whole, &whole);
    assert_id(&id, Protocol::Tls, Confidence::Unsure);
    assert!(!id.evidence.tls.as_ref().expect("tls").mid_stream);
    // Random bytes on 443 are not TLS, whatever the port says.
    let noise = rng.bytes(8000);
    unknown(&tcp(50000, 443, &noise, &noise[..3000]));
    // Records on one side, something else on the other: not TLS.
    unknown(&tcp(50000, 443, &c, b"hello, this is not TLS at all\r\n"));
}
