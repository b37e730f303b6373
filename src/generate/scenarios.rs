//! Named scenarios. Each returns a `Capture` whose `expected` lists every
//! TCP/UDP/ICMP(v6)/GRE flow with exact per-direction packet and wire-byte counts.
//!
//! Counting rules (also relied on by the consistency test below):
//! * every frame of a flow counts, including retransmissions, ACK-only segments,
//!   RSTs and each IPv4 fragment (all fragments of a datagram belong to its flow);
//! * wire bytes are the frames' `orig_len` (so snaplen-truncated frames count in full
//!   and inbound Ethernet padding is included);
//! * ICMP errors are their own flows (transport 1, or 58 for ICMPv6) labelled
//!   `icmp-error-for-…`, initiator = sender of the error with port = ICMP type,
//!   responder port = ICMP code (Zeek's convention); echo uses ports 8 -> 0;
//! * non-IP frames (ARP, LLDP, runts) are not flows.

use super::packets::*;
use super::proto::*;
use super::Capture;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const NAMES: [&str; 9] = [
    "edge-sample",
    "tcp-states",
    "link-types",
    "ip-edge-cases",
    "broken",
    "audit-compliant",
    "audit-violations",
    "internal-hairpin",
    "federation-failing",
];

pub fn scenario_names() -> &'static [&'static str] {
    &NAMES
}

pub fn scenario(name: &str) -> Option<Capture> {
    Some(match name {
        "edge-sample" => edge_sample(),
        "tcp-states" => tcp_states(),
        "link-types" => link_types(),
        "ip-edge-cases" => ip_edge_cases(),
        "broken" => broken(),
        "audit-compliant" => edge_sample_with(false),
        "audit-violations" => audit_violations(),
        "internal-hairpin" => internal_hairpin(),
        "federation-failing" => federation_failing(),
        _ => return None,
    })
}

const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const CONTOSO_SANS: [&str; 4] = [
    "sip.contoso.com",
    "webcon.contoso.com",
    "av.contoso.com",
    "sip.contoso.net",
];

fn ext_iface(sim: &mut Sim, name: &str, snaplen: u32) -> u32 {
    sim.add_interface(
        name,
        LINKTYPE_ETHERNET,
        snaplen,
        Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
    )
}

/// TCP handshake plus a full TLS 1.2 handshake (server flight with certificate chain;
/// with `mtls`, CertificateRequest and the client's Certificate/CertificateVerify).
fn tls_open(
    sim: &mut Sim,
    c: &mut TcpConv,
    sni: &str,
    cert_host: &str,
    sans: &[&str],
    mtls: Option<&str>,
) {
    c.handshake(sim);
    let ch = client_hello(sni, &sim.rng.array32(), &[]);
    c.data(sim, Dir::Orig, &ch);
    let flight = server_flight(&mut sim.rng, cert_host, sans, mtls.is_some());
    c.data(sim, Dir::Resp, &flight);
    c.ack(sim, Dir::Orig);
    let fin = client_finish_flight(&mut sim.rng, mtls);
    c.data(sim, Dir::Orig, &fin);
    let sf = server_finish_flight(&mut sim.rng);
    c.data(sim, Dir::Resp, &sf);
}

/// `n` request/response application-data exchanges with sizes typical of SIP.
fn tls_exchanges(sim: &mut Sim, c: &mut TcpConv, n: usize, first: Dir, think_ns: i64) {
    for i in 0..n {
        sim.idle(think_ns);
        let dir = if i % 2 == 0 {
            first
        } else {
            first_other(first)
        };
        let req_len = sim.rng.range(300, 1800) as usize;
        let req = app_data(&mut sim.rng, req_len);
        c.data(sim, dir, &req);
        let resp_len = sim.rng.range(200, 700) as usize;
        let resp = app_data(&mut sim.rng, resp_len);
        c.data(sim, first_other(dir), &resp);
        c.ack(sim, dir);
    }
}

fn first_other(d: Dir) -> Dir {
    match d {
        Dir::Orig => Dir::Resp,
        Dir::Resp => Dir::Orig,
    }
}

#[allow(clippy::too_many_arguments)]
fn tls_flow(
    sim: &mut Sim,
    iface: u32,
    client: &str,
    server: &str,
    rtt_ms: f64,
    sni: &str,
    cert_host: &str,
    sans: &[&str],
    mtls: Option<&str>,
    exchanges: usize,
    label: &'static str,
) {
    let mut c = TcpConv::new(sim, iface, sa(client), sa(server), rtt_ms);
    tls_open(sim, &mut c, sni, cert_host, sans, mtls);
    tls_exchanges(sim, &mut c, exchanges, Dir::Orig, 400 * MS);
    sim.idle(200 * MS);
    c.close(sim, Dir::Orig);
    c.finish(sim, "SF", label);
}

/// SYN plus retransmissions at 1 s, 2 s, 4 s (Windows' default back-off), never answered.
fn unanswered_syn(sim: &mut Sim, iface: u32, client: &str, server: &str, label: &'static str) {
    let mut c = TcpConv::new(sim, iface, sa(client), sa(server), 50.0);
    c.syn(sim);
    for s in [1, 2, 4] {
        c.syn_retransmit(sim, s * SEC);
    }
    c.finish(sim, "S0", label);
}

/// SYN refused with RST|ACK (seq 0, ack ISN+1).
fn refused_syn(sim: &mut Sim, iface: u32, client: &str, server: &str, label: &'static str) {
    let mut c = TcpConv::new(sim, iface, sa(client), sa(server), 50.0);
    c.syn(sim);
    let ack = c.ack_of(Dir::Resp);
    c.raw(sim, Dir::Resp, 0, ack, TCP_RST | TCP_ACK, &[]);
    c.finish(sim, "REJ", label);
}

/// MS-TURN over TCP 443 with pseudo-TLS, then framed Allocate / 401 / Allocate / success.
fn turn_tcp_flow(
    sim: &mut Sim,
    iface: u32,
    client: &str,
    server: &str,
    rtt_ms: f64,
    relay: &str,
    label: &'static str,
) {
    let mut c = TcpConv::new(sim, iface, sa(client), sa(server), rtt_ms);
    c.handshake(sim);
    let ch = pseudo_tls_client_hello(&sim.rng.array32());
    c.data(sim, Dir::Orig, &ch);
    let sh = pseudo_tls_server_hello(&sim.rng.array32());
    c.data(sim, Dir::Resp, &sh);
    let tx1 = txid(&mut sim.rng);
    let req1 = msturn_allocate_request(&mut sim.rng, tx1, false);
    c.data(sim, Dir::Orig, &msturn_tcp_frame(&req1));
    c.data(sim, Dir::Resp, &msturn_tcp_frame(&msturn_allocate_401(tx1)));
    let tx2 = txid(&mut sim.rng);
    let req2 = msturn_allocate_request(&mut sim.rng, tx2, true);
    c.data(sim, Dir::Orig, &msturn_tcp_frame(&req2));
    let ok = msturn_allocate_success(&mut sim.rng, tx2, sa(client), sa(relay));
    c.data(sim, Dir::Resp, &msturn_tcp_frame(&ok));
    c.ack(sim, Dir::Orig);
    sim.idle(3 * SEC);
    c.close(sim, Dir::Orig);
    c.finish(sim, "SF", label);
}

/// UDP MS-TURN Allocate: request, 401, authenticated request, success.
fn turn_udp_flow(
    sim: &mut Sim,
    iface: u32,
    client: &str,
    server: &str,
    rtt_ms: f64,
    relay: &str,
    label: &'static str,
) {
    let mut u = UdpFlow::new(iface, sa(client), sa(server), rtt_ms);
    let tx1 = txid(&mut sim.rng);
    let req1 = msturn_allocate_request(&mut sim.rng, tx1, false);
    u.send(sim, Dir::Orig, &req1);
    u.send(sim, Dir::Resp, &msturn_allocate_401(tx1));
    let tx2 = txid(&mut sim.rng);
    let req2 = msturn_allocate_request(&mut sim.rng, tx2, true);
    u.send(sim, Dir::Orig, &req2);
    let ok = msturn_allocate_success(&mut sim.rng, tx2, sa(client), sa(relay));
    u.send(sim, Dir::Resp, &ok);
    u.finish(sim, "SF", label);
}

#[allow(clippy::too_many_arguments)]
fn dns_flow(
    sim: &mut Sim,
    iface: u32,
    client: &str,
    server: &str,
    name: &str,
    qtype: u16,
    answers: &[DnsAnswer<'_>],
    label: &'static str,
) {
    let mut u = UdpFlow::new(iface, sa(client), sa(server), 2.0);
    let id = sim.rng.next_u32() as u16;
    u.send(sim, Dir::Orig, &dns_query(id, name, qtype));
    u.send(sim, Dir::Resp, &dns_response(id, name, qtype, answers));
    u.finish(sim, "SF", label);
}

/// Bidirectional RTP (PCMU, 20 ms) plus RTCP SR/SDES every ~5 s on port+1.
fn rtp_call(sim: &mut Sim, iface: u32, remote: SocketAddr, edge: SocketAddr, per_dir: usize) {
    let mut rtp = UdpFlow::new(iface, remote, edge, 60.0);
    let rtcp_a = SocketAddr::new(remote.ip(), remote.port() + 1);
    let rtcp_b = SocketAddr::new(edge.ip(), edge.port() + 1);
    let mut rtcp = UdpFlow::new(iface, rtcp_a, rtcp_b, 60.0);
    let ssrc = [sim.rng.next_u32(), sim.rng.next_u32()];
    let mut seq = [sim.rng.next_u32() as u16, sim.rng.next_u32() as u16];
    let mut ts = [sim.rng.next_u32(), sim.rng.next_u32()];
    let mut sent = [0u32; 2];
    for i in 0..per_dir {
        for (k, dir) in [Dir::Orig, Dir::Resp].into_iter().enumerate() {
            let payload = sim.rng.bytes(160);
            let p = rtp_packet(0, i == 0, seq[k], ts[k], ssrc[k], &payload);
            let gap = if k == 0 { 20 * MS - 7 * MS } else { 7 * MS };
            rtp.send_at(sim, gap, dir, &p);
            seq[k] = seq[k].wrapping_add(1);
            ts[k] = ts[k].wrapping_add(160);
            sent[k] += 1;
        }
        if i % 50 == 25 {
            for (k, dir) in [Dir::Orig, Dir::Resp].into_iter().enumerate() {
                let sr = rtcp_sr(
                    ssrc[k],
                    ntp_from_unix_ns(sim.now),
                    ts[k],
                    sent[k],
                    sent[k] * 160,
                    "edgewise@contoso.com",
                );
                rtcp.send_at(sim, MS, dir, &sr);
            }
        }
    }
    rtp.finish(sim, "SF", "av-media-rtp");
    rtcp.finish(sim, "SF", "av-media-rtcp");
}

fn edge_sample() -> Capture {
    edge_sample_with(true)
}

/// The sample site; without `client_violation` every flow is one the matrix documents (the
/// connection failures stay: a blocked documented flow is still a documented flow).
fn edge_sample_with(client_violation: bool) -> Capture {
    let mut sim = Sim::new(0xed9e);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let int = sim.add_interface(
        "int",
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_INT_MAC, INT_GW_MAC),
    );
    let s = &mut sim;

    // Federation discovery, then the outbound federation connection.
    dns_flow(
        s,
        ext,
        "10.45.16.10:53211",
        "10.45.16.1:53",
        "_sipfederationtls._tcp.fabrikam.com",
        DNS_SRV,
        &[DnsAnswer::Srv {
            priority: 0,
            weight: 0,
            port: 5061,
            target: "sip.fabrikam.com",
        }],
        "dns-srv-federation",
    );
    s.idle(3 * MS);
    dns_flow(
        s,
        ext,
        "10.45.16.10:53212",
        "10.45.16.1:53",
        "sip.fabrikam.com",
        DNS_A,
        &[DnsAnswer::A(Ipv4Addr::new(198, 51, 100, 10))],
        "dns-a-federation",
    );
    s.idle(5 * MS);
    tls_flow(
        s,
        ext,
        "10.45.16.10:51500",
        "198.51.100.10:5061",
        45.0,
        "sip.fabrikam.com",
        "sip.fabrikam.com",
        &["sip.fabrikam.com"],
        Some("sip.contoso.com"),
        3,
        "federation-sip-mtls-out",
    );
    s.idle(800 * MS);
    // Remote user signs in through the Access Edge.
    tls_flow(
        s,
        ext,
        "203.0.113.25:51234",
        "10.45.16.10:443",
        62.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
        4,
        "access-sip-tls",
    );
    s.idle(300 * MS);
    // The Edge relays to the Front End pool on the internal side.
    tls_flow(
        s,
        int,
        "172.25.33.10:50110",
        "192.168.10.90:5061",
        1.0,
        "pool01.contoso.local",
        "pool01.contoso.local",
        &["pool01.contoso.local", "fe01.contoso.local"],
        Some("edge1.contoso.local"),
        3,
        "internal-sip-mtls-out",
    );
    s.idle(400 * MS);
    tls_flow(
        s,
        int,
        "192.168.10.90:49880",
        "172.25.33.10:5061",
        1.0,
        "edge1.contoso.local",
        "edge1.contoso.local",
        &["edge1.contoso.local"],
        Some("fe01.contoso.local"),
        3,
        "internal-sip-mtls-in",
    );
    s.idle(600 * MS);
    // CRL check for the client certificate chain.
    {
        let mut c = TcpConv::new(s, ext, sa("10.45.16.10:51600"), sa("203.0.113.80:80"), 38.0);
        c.handshake(s);
        c.data(
            s,
            Dir::Orig,
            &http_get("/pki/contoso.crl", "pki.contoso.com"),
        );
        let crl = x509_crl(&mut s.rng, "Contoso Issuing CA 01");
        c.data(s, Dir::Resp, &http_200("application/pkix-crl", &crl));
        c.ack(s, Dir::Orig);
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "crl-http");
    }
    s.idle(2 * SEC);
    // Inbound federation from the partner.
    tls_flow(
        s,
        ext,
        "198.51.100.10:60123",
        "10.45.16.10:5061",
        47.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        Some("sip.fabrikam.com"),
        2,
        "federation-sip-mtls-in",
    );
    s.idle(1500 * MS);
    // Web conferencing.
    tls_flow(
        s,
        ext,
        "203.0.113.25:51240",
        "10.45.16.20:443",
        62.0,
        "webcon.contoso.com",
        "webcon.contoso.com",
        &CONTOSO_SANS,
        None,
        5,
        "webconf-psom-tls",
    );
    s.idle(200 * MS);
    tls_flow(
        s,
        int,
        "192.168.10.90:49890",
        "172.25.33.10:8057",
        1.0,
        "edge1.contoso.local",
        "edge1.contoso.local",
        &["edge1.contoso.local"],
        Some("fe01.contoso.local"),
        2,
        "internal-psom-mtls",
    );
    s.idle(2 * SEC);
    // A/V: media relay authentication, TURN allocations, then the media itself.
    tls_flow(
        s,
        int,
        "192.168.10.90:49900",
        "172.25.33.10:5062",
        1.0,
        "edge1.contoso.local",
        "edge1.contoso.local",
        &["edge1.contoso.local"],
        Some("fe01.contoso.local"),
        1,
        "internal-av-auth-mtls",
    );
    s.idle(500 * MS);
    turn_udp_flow(
        s,
        ext,
        "203.0.113.25:50010",
        "10.45.16.30:3478",
        62.0,
        "131.107.155.30:52010",
        "av-turn-udp",
    );
    s.idle(40 * MS);
    turn_tcp_flow(
        s,
        ext,
        "203.0.113.25:51250",
        "10.45.16.30:443",
        62.0,
        "131.107.155.30:52011",
        "av-turn-tcp",
    );
    s.idle(50 * MS);
    {
        let mut u = UdpFlow::new(int, sa("192.168.20.55:50020"), sa("172.25.33.10:3478"), 1.0);
        let tx = txid(&mut s.rng);
        u.send(s, Dir::Orig, &stun_binding_request(tx));
        u.send(
            s,
            Dir::Resp,
            &stun_binding_success(tx, sa("192.168.20.55:50020")),
        );
        u.finish(s, "SF", "internal-client-stun-udp");
    }
    s.idle(30 * MS);
    turn_tcp_flow(
        s,
        int,
        "192.168.20.55:50021",
        "172.25.33.10:443",
        1.0,
        "131.107.155.30:52012",
        "internal-client-turn-tcp",
    );
    s.idle(700 * MS);
    rtp_call(
        s,
        ext,
        sa("203.0.113.77:50040"),
        sa("10.45.16.30:52010"),
        150,
    );
    s.idle(3 * SEC);
    // CMS replication push to the Edge.
    {
        let mut c = TcpConv::new(
            s,
            int,
            sa("192.168.10.90:49920"),
            sa("172.25.33.10:4443"),
            1.0,
        );
        tls_open(
            s,
            &mut c,
            "edge1.contoso.local",
            "edge1.contoso.local",
            &["edge1.contoso.local"],
            None,
        );
        let big = app_data(&mut s.rng, 9000);
        c.data_acked(s, Dir::Orig, &big);
        let r = app_data(&mut s.rng, 420);
        c.data_acked(s, Dir::Resp, &r);
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "cms-replication-https");
    }
    s.idle(5 * SEC);

    // Deliberate problems.
    unanswered_syn(
        s,
        ext,
        "10.45.16.10:51700",
        "198.51.100.10:5061",
        "federation-syn-unanswered",
    );
    s.idle(2 * SEC);
    refused_syn(
        s,
        ext,
        "198.51.100.10:60200",
        "10.45.16.10:5061",
        "federation-inbound-refused",
    );
    s.idle(4 * SEC);
    {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("203.0.113.31:52310"),
            sa("10.45.16.10:443"),
            70.0,
        );
        tls_open(
            s,
            &mut c,
            "sip.contoso.com",
            "sip.contoso.com",
            &CONTOSO_SANS,
            None,
        );
        tls_exchanges(s, &mut c, 1, Dir::Orig, 300 * MS);
        s.idle(2 * SEC);
        c.rst(s, Dir::Orig);
        c.finish(s, "RSTO", "access-sip-tls-reset");
    }
    s.idle(3 * SEC);
    {
        let mut u = UdpFlow::new(ext, sa("203.0.113.44:50060"), sa("10.45.16.30:3478"), 62.0);
        for gap in [0, 500 * MS, SEC] {
            let tx = txid(&mut s.rng);
            let req = msturn_allocate_request(&mut s.rng, tx, false);
            u.send_at(s, gap, Dir::Orig, &req);
        }
        u.finish(s, "S0", "av-turn-udp-unanswered");
    }
    s.idle(6 * SEC);
    if client_violation {
        tls_flow(
            s,
            int,
            "192.168.20.55:50100",
            "172.25.33.10:5061",
            1.0,
            "edge1.contoso.local",
            "edge1.contoso.local",
            &["edge1.contoso.local"],
            None,
            1,
            "internal-client-to-edge-5061",
        );
    }
    s.idle(20 * SEC);
    tls_flow(
        s,
        ext,
        "203.0.113.25:51236",
        "10.45.16.10:443",
        62.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
        2,
        "access-sip-tls-reconnect",
    );
    sim.into_capture()
}

/// One flow per verdict the audit can give, each labelled `verdict:<expected verdict>`.
fn audit_violations() -> Capture {
    let mut sim = Sim::new(0xa0d1);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let int = sim.add_interface(
        "int",
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_INT_MAC, INT_GW_MAC),
    );
    let s = &mut sim;
    // Documented, for contrast.
    tls_flow(
        s,
        ext,
        "203.0.113.25:51234",
        "10.45.16.10:443",
        62.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
        1,
        "verdict:permitted",
    );
    s.idle(300 * MS);
    // A client on the internal side using the server-only 5061.
    tls_flow(
        s,
        int,
        "192.168.20.55:50100",
        "172.25.33.10:5061",
        1.0,
        "edge1.contoso.local",
        "edge1.contoso.local",
        &["edge1.contoso.local"],
        None,
        1,
        "verdict:wrong-source",
    );
    s.idle(300 * MS);
    // The Edge opening 8057 towards a Front End: documented only the other way.
    tls_flow(
        s,
        int,
        "172.25.33.10:50300",
        "192.168.10.90:8057",
        1.0,
        "fe01.contoso.local",
        "fe01.contoso.local",
        &["fe01.contoso.local"],
        Some("edge1.contoso.local"),
        1,
        "verdict:wrong-direction",
    );
    s.idle(300 * MS);
    // Media on the internal interface.
    {
        let mut u = UdpFlow::new(
            int,
            sa("192.168.20.55:50400"),
            sa("172.25.33.10:55000"),
            1.0,
        );
        for i in 0..20u16 {
            let p = rtp_packet(
                0,
                i == 0,
                100 + i,
                160 * u32::from(i),
                0x1234_5678,
                &[0u8; 160],
            );
            u.send_at(s, 20 * MS, Dir::Orig, &p);
        }
        u.finish(s, "S0", "verdict:media-on-internal");
    }
    s.idle(300 * MS);
    // XMPP federation inbound while the xmpp feature is off.
    {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("198.51.100.20:40001"),
            sa("10.45.16.10:5269"),
            50.0,
        );
        c.handshake(s);
        c.data(
            s,
            Dir::Orig,
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='contoso.com' version='1.0'>",
        );
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "verdict:feature-off");
    }
    s.idle(300 * MS);
    // Remote desktop to the Access Edge: no documented rule.
    {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("203.0.113.99:50123"),
            sa("10.45.16.10:3389"),
            60.0,
        );
        c.handshake(s);
        c.data(
            s,
            Dir::Orig,
            &[3, 0, 0, 19, 14, 224, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0],
        );
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "verdict:not-in-matrix");
    }
    s.idle(300 * MS);
    // An Internet host reaching the internal interface's 5061.
    unanswered_syn(
        s,
        int,
        "203.0.113.66:40000",
        "172.25.33.10:5061",
        "verdict:wrong-source",
    );
    s.idle(300 * MS);
    // Internal client to the A/V Edge's external address: the hairpin.
    {
        let mut u = UdpFlow::new(int, sa("192.168.20.56:50030"), sa("10.45.16.30:3478"), 1.0);
        let tx = txid(&mut s.rng);
        u.send(s, Dir::Orig, &stun_binding_request(tx));
        u.send(
            s,
            Dir::Resp,
            &stun_binding_success(tx, sa("192.168.20.56:50030")),
        );
        u.finish(s, "SF", "verdict:internal-hairpin");
    }
    s.idle(300 * MS);
    // SIP/TLS sent to the A/V Edge's 443, and MS-TURN sent to the Access Edge's 443: clients
    // given the wrong address for a service.
    tls_flow(
        s,
        ext,
        "203.0.113.27:51260",
        "10.45.16.30:443",
        62.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
        1,
        "verdict:protocol-mismatch",
    );
    s.idle(300 * MS);
    turn_tcp_flow(
        s,
        ext,
        "203.0.113.28:51270",
        "10.45.16.10:443",
        62.0,
        "131.107.155.30:52030",
        "verdict:protocol-mismatch",
    );
    s.idle(300 * MS);
    // Two hosts that are not the Edge.
    {
        let mut u = UdpFlow::new(ext, sa("203.0.113.5:5353"), sa("203.0.113.6:5353"), 1.0);
        u.send(s, Dir::Orig, &dns_query(7, "printer.local", DNS_A));
        u.finish(s, "S0", "verdict:unknown-endpoint");
    }
    sim.into_capture()
}

/// Internal hosts reaching the Edge's external and public addresses (a NAT hairpin), beside the
/// documented internal-interface flows.
fn internal_hairpin() -> Capture {
    let mut sim = Sim::new(0x4a19);
    let int = sim.add_interface(
        "int",
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_INT_MAC, INT_GW_MAC),
    );
    let s = &mut sim;
    {
        let mut u = UdpFlow::new(int, sa("192.168.20.55:50020"), sa("172.25.33.10:3478"), 1.0);
        let tx = txid(&mut s.rng);
        u.send(s, Dir::Orig, &stun_binding_request(tx));
        u.send(
            s,
            Dir::Resp,
            &stun_binding_success(tx, sa("192.168.20.55:50020")),
        );
        u.finish(s, "SF", "verdict:permitted");
    }
    s.idle(100 * MS);
    turn_udp_flow(
        s,
        int,
        "192.168.20.57:50022",
        "131.107.155.30:3478",
        2.0,
        "131.107.155.30:52020",
        "verdict:internal-hairpin",
    );
    s.idle(100 * MS);
    tls_flow(
        s,
        int,
        "192.168.20.57:50023",
        "131.107.155.10:443",
        2.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
        1,
        "verdict:internal-hairpin",
    );
    s.idle(100 * MS);
    turn_tcp_flow(
        s,
        int,
        "192.168.20.58:50024",
        "10.45.16.30:443",
        2.0,
        "131.107.155.30:52021",
        "verdict:internal-hairpin",
    );
    s.idle(100 * MS);
    tls_flow(
        s,
        int,
        "192.168.10.91:49950",
        "131.107.155.10:5061",
        2.0,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        Some("fe02.contoso.local"),
        1,
        "verdict:internal-hairpin",
    );
    sim.into_capture()
}

/// Federation that does not work: the partner's SRV lookup, SYNs to its Access Edge never
/// answered, an inbound attempt refused, and a TLS session torn down after the handshake. Every
/// flow is documented: failures are findings, not verdicts.
fn federation_failing() -> Capture {
    let mut sim = Sim::new(0xfed0);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let s = &mut sim;
    dns_flow(
        s,
        ext,
        "10.45.16.10:53300",
        "10.45.16.1:53",
        "_sipfederationtls._tcp.fabrikam.com",
        DNS_SRV,
        &[DnsAnswer::Srv {
            priority: 0,
            weight: 0,
            port: 5061,
            target: "sip.fabrikam.com",
        }],
        "verdict:permitted",
    );
    s.idle(5 * MS);
    unanswered_syn(
        s,
        ext,
        "10.45.16.10:51800",
        "198.51.100.10:5061",
        "verdict:permitted",
    );
    s.idle(9 * SEC);
    unanswered_syn(
        s,
        ext,
        "10.45.16.10:51801",
        "198.51.100.10:5061",
        "verdict:permitted",
    );
    s.idle(2 * SEC);
    refused_syn(
        s,
        ext,
        "198.51.100.10:60300",
        "10.45.16.10:5061",
        "verdict:permitted",
    );
    s.idle(2 * SEC);
    {
        let mut c = TcpConv::new(
            s,
            ext,
            sa("198.51.100.10:60301"),
            sa("10.45.16.10:5061"),
            47.0,
        );
        tls_open(
            s,
            &mut c,
            "sip.contoso.com",
            "sip.contoso.com",
            &CONTOSO_SANS,
            Some("sip.fabrikam.com"),
        );
        c.rst(s, Dir::Resp);
        c.finish(s, "RSTR", "verdict:permitted");
    }
    sim.into_capture()
}

fn tcp_states() -> Capture {
    let mut sim = Sim::new(0x7c95);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let s = &mut sim;
    let edge = "10.45.16.10";
    let conv = |s: &mut Sim, port: u16, sport: u16| {
        TcpConv::new(
            s,
            ext,
            sa(&format!("203.0.113.50:{sport}")),
            sa(&format!("{edge}:{port}")),
            55.0,
        )
    };
    let payload = |s: &mut Sim| app_data(&mut s.rng, 400);

    let mut c = conv(s, 5061, 40001);
    c.syn(s);
    c.finish(s, "S0", "state-s0");
    s.idle(SEC);

    let mut c = conv(s, 443, 40002);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    c.finish(s, "S1", "state-s1");
    s.idle(SEC);

    let mut c = conv(s, 443, 40003);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    let p = payload(s);
    c.data_acked(s, Dir::Resp, &p);
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "state-sf");
    s.idle(SEC);

    // SF with one retransmitted data segment (same seq, same payload).
    let mut c = conv(s, 443, 40004);
    c.handshake(s);
    let p = payload(s);
    let seq = c.seq[0];
    let ack = c.ack_of(Dir::Orig);
    c.data(s, Dir::Orig, &p);
    c.raw_at(s, 300 * MS, Dir::Orig, seq, ack, TCP_PSH | TCP_ACK, &p);
    c.ack(s, Dir::Resp);
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "state-sf-retransmission");
    s.idle(SEC);

    // SF with two data segments delivered out of order.
    let mut c = conv(s, 443, 40005);
    c.handshake(s);
    let (p1, p2) = (payload(s), payload(s));
    let seq = c.seq[0];
    let ack = c.ack_of(Dir::Orig);
    c.raw(
        s,
        Dir::Orig,
        seq.wrapping_add(p1.len() as u32),
        ack,
        TCP_PSH | TCP_ACK,
        &p2,
    );
    c.raw(s, Dir::Orig, seq, ack, TCP_ACK, &p1);
    c.seq[0] = seq.wrapping_add((p1.len() + p2.len()) as u32);
    c.ack(s, Dir::Resp);
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "state-sf-out-of-order");
    s.idle(SEC);

    let mut c = conv(s, 5061, 40006);
    c.syn(s);
    let ack = c.ack_of(Dir::Resp);
    c.raw(s, Dir::Resp, 0, ack, TCP_RST | TCP_ACK, &[]);
    c.finish(s, "REJ", "state-rej");
    s.idle(SEC);

    let mut c = conv(s, 443, 40007);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    c.fin(s, Dir::Orig);
    c.ack(s, Dir::Resp);
    c.finish(s, "S2", "state-s2");
    s.idle(SEC);

    let mut c = conv(s, 443, 40008);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    c.fin(s, Dir::Resp);
    c.ack(s, Dir::Orig);
    c.finish(s, "S3", "state-s3");
    s.idle(SEC);

    let mut c = conv(s, 443, 40009);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    c.rst(s, Dir::Orig);
    c.finish(s, "RSTO", "state-rsto");
    s.idle(SEC);

    let mut c = conv(s, 443, 40010);
    c.handshake(s);
    let p = payload(s);
    c.data_acked(s, Dir::Orig, &p);
    c.rst(s, Dir::Resp);
    c.finish(s, "RSTR", "state-rstr");
    s.idle(SEC);

    // SYN then RST from the originator, no SYN-ACK seen.
    let mut c = conv(s, 5061, 40011);
    c.syn(s);
    let seq = c.seq[0];
    c.raw_at(s, 500 * MS, Dir::Orig, seq, 0, TCP_RST, &[]);
    c.finish(s, "RSTOS0", "state-rstos0");
    s.idle(SEC);

    // SYN-ACK then RST from the responder; the SYN itself was never captured.
    let mut c = conv(s, 5061, 40012);
    c.seq[0] = c.seq[0].wrapping_add(1);
    c.syn_ack(s);
    c.raw_at(s, 3 * SEC, Dir::Resp, c.seq[1], 0, TCP_RST, &[]);
    c.finish(s, "RSTRH", "state-rstrh");
    s.idle(SEC);

    // SYN then FIN from the originator, no SYN-ACK.
    let mut c = conv(s, 5061, 40013);
    c.syn(s);
    let seq = c.seq[0];
    c.raw_at(s, 500 * MS, Dir::Orig, seq, 0, TCP_FIN, &[]);
    c.finish(s, "SH", "state-sh");
    s.idle(SEC);

    // SYN-ACK then FIN from the responder, no SYN.
    let mut c = conv(s, 5061, 40014);
    c.seq[0] = c.seq[0].wrapping_add(1);
    c.syn_ack(s);
    let (sq, ak) = (c.seq[1], c.seq[0]);
    c.raw_at(s, 500 * MS, Dir::Resp, sq, ak, TCP_FIN | TCP_ACK, &[]);
    c.finish(s, "SHR", "state-shr");
    s.idle(SEC);

    // Midstream only: no SYN, no FIN.
    let mut c = conv(s, 443, 40015);
    let p = payload(s);
    c.data(s, Dir::Orig, &p);
    let p = payload(s);
    c.data(s, Dir::Resp, &p);
    c.ack(s, Dir::Orig);
    c.finish(s, "OTH", "state-oth");
    sim.into_capture()
}

fn small_tcp(
    sim: &mut Sim,
    iface: u32,
    client: SocketAddr,
    server: SocketAddr,
    label: &'static str,
) {
    let mut c = TcpConv::new(sim, iface, client, server, 40.0);
    c.handshake(sim);
    let p = app_data(&mut sim.rng, 200);
    c.data_acked(sim, Dir::Orig, &p);
    let p = app_data(&mut sim.rng, 300);
    c.data_acked(sim, Dir::Resp, &p);
    c.close(sim, Dir::Orig);
    c.finish(sim, "SF", label);
    sim.idle(100 * MS);
}

fn small_udp(
    sim: &mut Sim,
    iface: u32,
    client: SocketAddr,
    server: SocketAddr,
    label: &'static str,
) {
    let mut u = UdpFlow::new(iface, client, server, 40.0);
    let tx = txid(&mut sim.rng);
    u.send(sim, Dir::Orig, &stun_binding_request(tx));
    u.send(sim, Dir::Resp, &stun_binding_success(tx, client));
    u.finish(sim, "SF", label);
    sim.idle(100 * MS);
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
}

fn link_types() -> Capture {
    let mut sim = Sim::new(0x11);
    let (l, p) = (EDGE_EXT_MAC, EXT_GW_MAC);
    let eth = ext_iface(&mut sim, "eth0", 262_144);
    let vlan = sim.add_interface(
        "eth0.120",
        LINKTYPE_ETHERNET,
        65_535,
        Link::Ethernet {
            local: l,
            peer: p,
            vlans: vec![(ETHERTYPE_VLAN, 120)],
        },
    );
    let qinq = sim.add_interface(
        "eth0.300.120",
        LINKTYPE_ETHERNET,
        65_535,
        Link::Ethernet {
            local: l,
            peer: p,
            vlans: vec![(ETHERTYPE_QINQ, 300), (ETHERTYPE_VLAN, 120)],
        },
    );
    let sll = sim.add_interface(
        "any",
        LINKTYPE_LINUX_SLL,
        262_144,
        Link::LinuxSll { local: l, peer: p },
    );
    let sll2 = sim.add_interface(
        "any2",
        LINKTYPE_LINUX_SLL2,
        262_144,
        Link::LinuxSll2 {
            local: l,
            peer: p,
            if_index: 3,
        },
    );
    let raw = sim.add_interface("tun0", LINKTYPE_RAW, 65_535, Link::Raw);
    let raw4 = sim.add_interface("ipv4", LINKTYPE_IPV4, 9_000, Link::Raw);
    let raw6 = sim.add_interface("ipv6", LINKTYPE_IPV6, 65_535, Link::Raw);
    let null = sim.add_interface("lo0-null", LINKTYPE_NULL, 16_384, Link::Null { af6: 30 });
    let lp = sim.add_interface("lo0-loop", LINKTYPE_LOOP, 65_535, Link::Loop);
    let s = &mut sim;
    let edge6 = SocketAddr::new(IpAddr::V6(EDGE_V6), 443);
    small_tcp(
        s,
        eth,
        sa("203.0.113.10:50001"),
        sa("10.45.16.10:443"),
        "linktype-ethernet-tcp",
    );
    small_udp(
        s,
        vlan,
        sa("203.0.113.11:50002"),
        sa("10.45.16.30:3478"),
        "linktype-vlan-udp",
    );
    small_udp(
        s,
        qinq,
        sa("203.0.113.12:50003"),
        sa("10.45.16.30:3478"),
        "linktype-qinq-udp",
    );
    small_tcp(
        s,
        sll,
        sa("203.0.113.13:50004"),
        sa("10.45.16.20:443"),
        "linktype-sll-tcp",
    );
    small_tcp(
        s,
        sll2,
        SocketAddr::new(IpAddr::V6(v6("2001:db8:203::14")), 50005),
        edge6,
        "linktype-sll2-tcp6",
    );
    small_udp(
        s,
        raw,
        sa("203.0.113.15:50006"),
        sa("10.45.16.30:3478"),
        "linktype-raw-udp",
    );
    small_tcp(
        s,
        raw4,
        sa("203.0.113.16:50007"),
        sa("10.45.16.10:5061"),
        "linktype-ipv4-tcp",
    );
    small_udp(
        s,
        raw6,
        SocketAddr::new(IpAddr::V6(v6("2001:db8:203::17")), 50008),
        SocketAddr::new(IpAddr::V6(EDGE_V6), 3478),
        "linktype-ipv6-udp",
    );
    small_udp(
        s,
        null,
        sa("203.0.113.18:50009"),
        sa("10.45.16.30:3478"),
        "linktype-null-udp",
    );
    small_tcp(
        s,
        null,
        SocketAddr::new(IpAddr::V6(v6("2001:db8:203::18")), 50010),
        edge6,
        "linktype-null-tcp6",
    );
    small_tcp(
        s,
        lp,
        sa("203.0.113.19:50011"),
        sa("10.45.16.10:443"),
        "linktype-loop-tcp",
    );
    sim.into_capture()
}

/// IPv6 UDP packet with Hop-by-Hop and Destination Options headers (each PadN-filled).
fn ipv6_udp_with_ext(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V6(s6), IpAddr::V6(d6)) = (src.ip(), dst.ip()) else {
        return Vec::new();
    };
    let udp = udp_bytes(src, dst, payload);
    let mut v = Vec::new();
    push_ipv6_header(&mut v, s6, d6, 0, 16 + udp.len(), 52);
    v.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // Hop-by-Hop -> DestOpts
    v.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // DestOpts -> UDP
    v.extend_from_slice(&udp);
    v
}

fn ip_edge_cases() -> Capture {
    let mut sim = Sim::new(0x1bed);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let snap = ext_iface(&mut sim, "ext-snap96", 96);
    let s = &mut sim;
    let edge6 = |port| SocketAddr::new(IpAddr::V6(EDGE_V6), port);
    let r6 = |a: &str, port| SocketAddr::new(IpAddr::V6(v6(a)), port);

    // Non-IP: ARP who-has from the gateway, LLDP from the switch.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&EXT_GW_MAC);
    arp.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&EXT_GW_MAC);
    arp.extend_from_slice(&[10, 45, 16, 1]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[10, 45, 16, 10]);
    arp.resize(60, 0);
    s.emit_raw(MS, ext, arp);
    let mut lldp = vec![
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 0x00, 0x1b, 0x54, 0x11, 0x22, 0x33,
    ];
    lldp.extend_from_slice(&ETHERTYPE_LLDP.to_be_bytes());
    lldp.extend_from_slice(&[0x02, 0x07, 0x04, 0x00, 0x1b, 0x54, 0x11, 0x22, 0x33]); // chassis MAC
    lldp.extend_from_slice(&[0x04, 0x07, 0x05]);
    lldp.extend_from_slice(b"Gi1/12"); // port id, interface name
    lldp.extend_from_slice(&[0x06, 0x02, 0x00, 0x78]); // TTL 120
    lldp.extend_from_slice(&[0x00, 0x00]);
    lldp.resize(60, 0);
    s.emit_raw(20 * MS, ext, lldp);

    // IPv6 TLS sign-in.
    let mut c = TcpConv::new(s, ext, r6("2001:db8:203::55", 50123), edge6(443), 65.0);
    tls_open(
        s,
        &mut c,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
    );
    tls_exchanges(s, &mut c, 2, Dir::Orig, 200 * MS);
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "ipv6-access-sip-tls");
    s.idle(300 * MS);

    // IPv6 UDP request carrying Hop-by-Hop + Destination Options headers.
    let (cl, sv) = (r6("2001:db8:203::56", 50200), edge6(3478));
    let mut u = UdpFlow::new(ext, cl, sv, 65.0);
    let tx = txid(&mut s.rng);
    u.send_ip(
        s,
        Dir::Orig,
        &ipv6_udp_with_ext(cl, sv, &stun_binding_request(tx)),
    );
    u.send(s, Dir::Resp, &stun_binding_success(tx, cl));
    u.finish(s, "SF", "ipv6-stun-exthdr");
    s.idle(300 * MS);

    // Fragmented UDP datagram (3400-byte payload -> 1480 + 1480 + 448 IP payload bytes).
    for (client, order, label) in [
        ("203.0.113.60:50400", [0usize, 1, 2], "udp-fragmented"),
        ("203.0.113.61:50402", [2, 0, 1], "udp-fragmented-reordered"),
    ] {
        let mut u = UdpFlow::new(ext, sa(client), sa("10.45.16.30:50030"), 60.0);
        let p = s.rng.bytes(3400);
        u.send_fragmented(s, Dir::Orig, &p, 1480, &order);
        u.finish(s, "S0", label);
        s.idle(200 * MS);
    }

    // UDP to 3478 answered by ICMP port unreachable from the A/V Edge.
    let (cl, sv) = (sa("203.0.113.62:50404"), sa("10.45.16.30:3478"));
    let mut u = UdpFlow::new(ext, cl, sv, 60.0);
    let tx = txid(&mut s.rng);
    let req = stun_binding_request(tx);
    u.send(s, Dir::Orig, &req);
    u.finish(s, "S0", "udp-port-unreachable");
    // Quote the datagram exactly as it arrived (same IP id and TTL).
    let quoted = s
        .frames
        .last()
        .and_then(|f| {
            ip_offset(LINKTYPE_ETHERNET, &f.data)
                .map(|o| f.data[o..o + 20 + 8 + req.len()].to_vec())
        })
        .unwrap_or_default();
    let icmp = icmp4_bytes(3, 3, [0; 4], &quoted);
    let id = s.next_ip_id(sv.ip());
    let wire = s.emit_ip(
        300_000,
        ext,
        &ip_packet(sv.ip(), cl.ip(), 1, id, 128, &icmp),
    );
    let mut f = empty_flow(1, SocketAddr::new(sv.ip(), 3), SocketAddr::new(cl.ip(), 3));
    count_packet(&mut f, Dir::Orig, wire);
    push_flow(s, f, "OTH", "icmp-error-for-udp-3478");
    s.idle(200 * MS);

    // IPv6 UDP answered by ICMPv6 destination unreachable (port unreachable).
    let (cl, sv) = (r6("2001:db8:203::57", 50500), edge6(50040));
    let mut u = UdpFlow::new(ext, cl, sv, 60.0);
    let p = s.rng.bytes(172);
    u.send(s, Dir::Orig, &p);
    u.finish(s, "S0", "ipv6-udp-port-unreachable");
    let quoted = ip_packet(cl.ip(), sv.ip(), 17, 0, 52, &udp_bytes(cl, sv, &p));
    let icmp6 = icmp6_bytes(EDGE_V6, v6("2001:db8:203::57"), 1, 4, [0; 4], &quoted);
    let wire = s.emit_ip(
        300_000,
        ext,
        &ip_packet(sv.ip(), cl.ip(), 58, 0, 64, &icmp6),
    );
    let mut f = empty_flow(58, SocketAddr::new(sv.ip(), 1), SocketAddr::new(cl.ip(), 4));
    count_packet(&mut f, Dir::Orig, wire);
    push_flow(s, f, "OTH", "icmp-error-for-ipv6-udp");
    s.idle(200 * MS);

    // ICMP echo request/reply (Windows ping payload).
    let (pinger, edge) = (sa("203.0.113.63:0"), sa("10.45.16.10:0"));
    let body = b"abcdefghijklmnopqrstuvwabcdefghi";
    let mut f = empty_flow(
        1,
        SocketAddr::new(pinger.ip(), 8),
        SocketAddr::new(edge.ip(), 0),
    );
    let req = icmp4_bytes(8, 0, [0, 1, 0, 0x2a], body);
    let id = s.next_ip_id(pinger.ip());
    let wire = s.emit_ip(
        MS,
        ext,
        &ip_packet(pinger.ip(), edge.ip(), 1, id, 113, &req),
    );
    count_packet(&mut f, Dir::Orig, wire);
    let rep = icmp4_bytes(0, 0, [0, 1, 0, 0x2a], body);
    let id = s.next_ip_id(edge.ip());
    let wire = s.emit_ip(
        200_000,
        ext,
        &ip_packet(edge.ip(), pinger.ip(), 1, id, 128, &rep),
    );
    count_packet(&mut f, Dir::Resp, wire);
    push_flow(s, f, "OTH", "icmp-echo");
    s.idle(200 * MS);

    // GRE (protocol 47) carrying a local-experimental payload, so nothing is decapsulated.
    let mut gre = vec![0, 0, 0x88, 0xb5];
    gre.extend_from_slice(&s.rng.bytes(64));
    let (gs, gd) = (sa("10.45.16.1:0"), sa("10.45.16.10:0"));
    let id = s.next_ip_id(gs.ip());
    let wire = s.emit_ip(MS, ext, &ip_packet(gs.ip(), gd.ip(), 47, id, 255, &gre));
    let mut f = empty_flow(47, gs, gd);
    count_packet(&mut f, Dir::Orig, wire);
    push_flow(s, f, "OTH", "gre-tunnel");
    s.idle(200 * MS);

    // TLS sign-in seen through a 96-byte snaplen: large segments are cut to 96 bytes.
    let mut c = TcpConv::new(
        s,
        snap,
        sa("203.0.113.64:50600"),
        sa("10.45.16.10:443"),
        60.0,
    );
    tls_open(
        s,
        &mut c,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
    );
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "access-sip-tls-snaplen96");
    s.idle(100 * MS);

    // A 10-byte runt: undecodable.
    let runt = vec![0x00, 0x15, 0x5d, 0x2d, 0x10, 0x01, 0x00, 0x15, 0x5d, 0x2d];
    s.emit_raw(MS, ext, runt);
    sim.into_capture()
}

fn broken() -> Capture {
    let mut sim = Sim::new(0xb0c);
    let ext = ext_iface(&mut sim, "ext", 262_144);
    let s = &mut sim;
    unanswered_syn(
        s,
        ext,
        "10.45.16.10:51800",
        "198.51.100.10:5061",
        "federation-syn-unanswered",
    );
    s.idle(SEC);
    unanswered_syn(
        s,
        ext,
        "203.0.113.90:52000",
        "10.45.16.20:443",
        "webconf-syn-unanswered",
    );
    s.idle(SEC);
    refused_syn(
        s,
        ext,
        "198.51.100.10:60300",
        "10.45.16.10:5061",
        "federation-inbound-refused",
    );
    s.idle(SEC);

    // ClientHello split across three TCP segments.
    let mut c = TcpConv::new(
        s,
        ext,
        sa("203.0.113.91:52010"),
        sa("10.45.16.10:443"),
        58.0,
    );
    c.handshake(s);
    let ch = client_hello("sip.contoso.com", &s.rng.array32(), &[]);
    let (a, rest) = ch.split_at(40);
    let (b, d) = rest.split_at(60);
    c.seg(s, Dir::Orig, TCP_ACK, a);
    c.seg(s, Dir::Orig, TCP_ACK, b);
    c.seg(s, Dir::Orig, TCP_PSH | TCP_ACK, d);
    let flight = server_flight(&mut s.rng, "sip.contoso.com", &CONTOSO_SANS, false);
    c.data(s, Dir::Resp, &flight);
    c.ack(s, Dir::Orig);
    let fin = client_finish_flight(&mut s.rng, None);
    c.data(s, Dir::Orig, &fin);
    let sf = server_finish_flight(&mut s.rng);
    c.data(s, Dir::Resp, &sf);
    tls_exchanges(s, &mut c, 1, Dir::Orig, 100 * MS);
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "tls-clienthello-split");
    s.idle(SEC);

    // Reset by the originator after data.
    let mut c = TcpConv::new(
        s,
        ext,
        sa("203.0.113.92:52020"),
        sa("10.45.16.10:443"),
        58.0,
    );
    tls_open(
        s,
        &mut c,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
    );
    c.rst(s, Dir::Orig);
    c.finish(s, "RSTO", "access-reset-by-client");
    s.idle(SEC);

    // Reset by the responder after the ClientHello.
    let mut c = TcpConv::new(
        s,
        ext,
        sa("203.0.113.93:52030"),
        sa("10.45.16.20:443"),
        58.0,
    );
    c.handshake(s);
    let ch = client_hello("webcon.contoso.com", &s.rng.array32(), &[]);
    c.data(s, Dir::Orig, &ch);
    c.rst(s, Dir::Resp);
    c.finish(s, "RSTR", "webconf-reset-by-server");
    s.idle(SEC);

    // Half-closed: the client sends FIN, the server keeps sending and never closes.
    let mut c = TcpConv::new(
        s,
        ext,
        sa("203.0.113.94:52040"),
        sa("10.45.16.10:443"),
        58.0,
    );
    tls_open(
        s,
        &mut c,
        "sip.contoso.com",
        "sip.contoso.com",
        &CONTOSO_SANS,
        None,
    );
    c.fin(s, Dir::Orig);
    c.ack(s, Dir::Resp);
    for _ in 0..3 {
        s.idle(500 * MS);
        let p = app_data(&mut s.rng, 600);
        c.data_acked(s, Dir::Resp, &p);
    }
    c.finish(s, "S2", "half-closed");
    sim.into_capture()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type Key = (u8, SocketAddr, SocketAddr);

    struct Parsed {
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        frag: Option<(u32, u16)>, // (ident, offset bytes)
        l4: Vec<u8>,
    }

    fn parse_ip(b: &[u8]) -> Option<Parsed> {
        match b.first()? >> 4 {
            4 => {
                let ihl = usize::from(b[0] & 0xf) * 4;
                let ff = u16::from_be_bytes([b[6], b[7]]);
                let off = (ff & 0x1fff) * 8;
                let mf = ff & 0x2000 != 0;
                let id = u32::from(u16::from_be_bytes([b[4], b[5]]));
                let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
                let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
                Some(Parsed {
                    proto: b[9],
                    src,
                    dst,
                    frag: (off > 0 || mf).then_some((id, off)),
                    l4: b.get(ihl..)?.to_vec(),
                })
            }
            6 => {
                let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b.get(8..24)?).ok()?));
                let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b.get(24..40)?).ok()?));
                let mut nh = b[6];
                let mut o = 40;
                while matches!(nh, 0 | 43 | 60) {
                    nh = *b.get(o)?;
                    o += (usize::from(*b.get(o + 1)?) + 1) * 8;
                }
                Some(Parsed {
                    proto: nh,
                    src,
                    dst,
                    frag: None,
                    l4: b.get(o..)?.to_vec(),
                })
            }
            _ => None,
        }
    }

    fn ports(p: &Parsed) -> (u16, u16) {
        let l = &p.l4;
        match p.proto {
            6 | 17 => (
                u16::from_be_bytes([l[0], l[1]]),
                u16::from_be_bytes([l[2], l[3]]),
            ),
            1 if l[0] == 8 => (8, 0),
            1 if l[0] == 0 => (0, 8),
            1 | 58 => (u16::from(l[0]), u16::from(l[1])),
            _ => (0, 0),
        }
    }

    /// Maps every IP frame to a directional flow key (fragments via their first fragment).
    fn frame_keys(cap: &Capture) -> Vec<Option<(Key, u64)>> {
        let parsed: Vec<Option<Parsed>> = cap
            .frames
            .iter()
            .map(|f| {
                let lt = cap.interfaces[f.interface as usize].link_type;
                ip_offset(lt, &f.data).and_then(|o| parse_ip(&f.data[o..]))
            })
            .collect();
        let mut frag_ports: HashMap<(IpAddr, IpAddr, u32), (u16, u16)> = HashMap::new();
        for p in parsed.iter().flatten() {
            if let Some((id, 0)) = p.frag {
                frag_ports.insert((p.src, p.dst, id), ports(p));
            }
        }
        parsed
            .iter()
            .zip(&cap.frames)
            .map(|(p, f)| {
                let p = p.as_ref()?;
                let (sp, dp) = match p.frag {
                    Some((id, off)) if off > 0 => *frag_ports.get(&(p.src, p.dst, id))?,
                    _ => ports(p),
                };
                Some((
                    (
                        p.proto,
                        SocketAddr::new(p.src, sp),
                        SocketAddr::new(p.dst, dp),
                    ),
                    u64::from(f.orig_len),
                ))
            })
            .collect()
    }

    #[test]
    fn every_scenario_is_consistent() {
        for name in scenario_names() {
            let cap = scenario(name).expect("known scenario");
            assert!(!cap.frames.is_empty(), "{name}");
            for w in cap.frames.windows(2) {
                assert!(
                    w[0].ts_ns < w[1].ts_ns,
                    "{name}: timestamps strictly increase"
                );
            }
            for f in &cap.frames {
                assert!(f.orig_len as usize >= f.data.len(), "{name}");
                assert!((f.interface as usize) < cap.interfaces.len());
                let snap = cap.interfaces[f.interface as usize].snaplen as usize;
                assert!(f.data.len() <= snap);
            }
            assert!(cap.frames[0].ts_ns >= START_NS);
            let keys = frame_keys(&cap);
            let ip_frames = keys.iter().flatten().count() as u64;
            let expected_pkts: u64 = cap
                .expected
                .iter()
                .map(|e| e.orig_packets + e.resp_packets)
                .sum();
            assert_eq!(
                ip_frames, expected_pkts,
                "{name}: IP frames vs expected packets"
            );
            let mut seen = vec![false; keys.len()];
            for e in &cap.expected {
                let (mut op, mut rp, mut ob, mut rb) = (0, 0, 0, 0);
                for (i, k) in keys.iter().enumerate() {
                    let Some(((proto, s, d), wire)) = k else {
                        continue;
                    };
                    if *proto != e.transport {
                        continue;
                    }
                    if *s == e.initiator && *d == e.responder {
                        op += 1;
                        ob += wire;
                    } else if *s == e.responder && *d == e.initiator {
                        rp += 1;
                        rb += wire;
                    } else {
                        continue;
                    }
                    assert!(!seen[i], "{name}: frame {i} in two flows");
                    seen[i] = true;
                }
                assert_eq!(
                    (op, rp, ob, rb),
                    (
                        e.orig_packets,
                        e.resp_packets,
                        e.orig_wire_bytes,
                        e.resp_wire_bytes
                    ),
                    "{name}: {}",
                    e.label
                );
                assert!(!e.label.is_empty() && !e.conn_state.is_empty());
            }
            if *name == "tcp-states" {
                let states: Vec<&str> = cap.expected.iter().map(|e| e.conn_state).collect();
                for st in [
                    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
                    "SHR", "OTH",
                ] {
                    assert!(states.contains(&st), "missing {st}");
                }
            }
        }
        assert!(scenario("nope").is_none());
    }

    #[test]
    fn edge_sample_shape() {
        let cap = scenario("edge-sample").expect("edge-sample");
        let dur = cap.frames.last().map(|f| f.ts_ns).unwrap_or(0) - cap.frames[0].ts_ns;
        assert!((60 * SEC..=180 * SEC).contains(&dur), "duration {dur}");
        assert_eq!(cap.interfaces.len(), 2);
        let f = cap
            .expected
            .iter()
            .find(|e| e.label == "federation-syn-unanswered")
            .expect("flow");
        assert_eq!((f.orig_packets, f.resp_packets, f.conn_state), (4, 0, "S0"));
        let f = cap
            .expected
            .iter()
            .find(|e| e.label == "av-media-rtp")
            .expect("flow");
        assert_eq!((f.orig_packets, f.resp_packets), (150, 150));
    }

    #[test]
    fn frag_and_icmp_counts() {
        let cap = scenario("ip-edge-cases").expect("scenario");
        let f = cap
            .expected
            .iter()
            .find(|e| e.label == "udp-fragmented-reordered")
            .expect("flow");
        assert_eq!(f.orig_packets, 3);
        assert_eq!(f.orig_wire_bytes, 3 * 34 + 1480 * 2 + 448);
        let truncated = cap
            .frames
            .iter()
            .filter(|f| f.orig_len as usize > f.data.len())
            .count();
        assert!(truncated > 0);
        assert!(cap.frames.iter().any(|f| f.data.len() == 10));
    }
}
