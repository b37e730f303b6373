//! Payload identification end to end on public captures (../shared/pcaps/dpi), compared with
//! nDPI's `.out` files and Zeek's ssl.log baselines, and on the generated Edge sample.
//!
//! Flows are built here with a sink that keeps the whole prefix (the default `Vec<OpenFlow>` sink
//! shrinks finished flows to 64 bytes).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use edgewise::decode::{self, Decoded};
use edgewise::flow::{Flow, FlowConfig, FlowSink, FlowTable, OpenFlow};
use edgewise::identify::{self, Identification, Protocol, StunFraming, TlsOutcome};
use edgewise::source::capture::Next;
use edgewise::source::input::{self, InputSpec};

struct Keep(Vec<OpenFlow>);

impl FlowSink for Keep {
    fn finish(&mut self, f: OpenFlow) {
        self.0.push(f);
    }
}

fn dpi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps/dpi")
}

fn flows_of_spec(spec: &InputSpec) -> Vec<OpenFlow> {
    let mut reader = input::open(spec, |r| r).expect("open capture");
    let mut table = FlowTable::new(FlowConfig::default());
    let mut sink = Keep(Vec::new());
    let mut frame = 0u64;
    loop {
        match reader.next_record() {
            Next::Packet(p) => {
                frame += 1;
                if let Decoded::Ip(pkt) = decode::decode(p.link_type, p.data) {
                    table.add(&pkt, p.ts_ns, frame, p.orig_len, p.interface_seq, &mut sink);
                }
            }
            Next::Problem { .. } => frame += 1,
            Next::End | Next::Stop(_) => break,
        }
    }
    table.finish(&mut sink);
    sink.0.sort_by_key(|f| f.id);
    sink.0
}

fn flows(name: &str) -> Option<Vec<OpenFlow>> {
    let path = dpi_dir().join(name);
    if !path.exists() {
        eprintln!("skipping {name}: not present");
        return None;
    }
    Some(flows_of_spec(&InputSpec::File(path)))
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Direction-free key, as nDPI prints `A <-> B`.
fn key(transport: &str, a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{transport} {x} {y}")
}

fn flow_key(f: &Flow) -> String {
    let t = match f.protocol {
        6 => "TCP",
        17 => "UDP",
        _ => "OTHER",
    };
    key(
        t,
        &endpoint(f.initiator.ip, f.initiator.port),
        &endpoint(f.responder.ip, f.responder.port),
    )
}

/// nDPI's verdict per flow: key -> "Master.App" name.
fn ndpi_out(name: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(dpi_dir().join(format!("{name}.out"))) else {
        return out;
    };
    for line in text.lines() {
        let t = line.trim_start();
        let Some((_, rest)) = t.split_once('\t') else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let (Some(tr), Some(a), Some(arrow), Some(b)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if !matches!(tr, "TCP" | "UDP") || !matches!(arrow, "<->" | "->") {
            continue;
        }
        let Some(p) = rest.split("[proto: ").nth(1) else {
            continue;
        };
        let proto = p.split(']').next().unwrap_or("");
        let name = proto.split_once('/').map_or(proto, |(_, n)| n);
        out.insert(key(tr, a, b), name.to_string());
    }
    out
}

/// Whether our protocol is the one nDPI named (by nDPI's master protocol), or both say "not
/// one of edgewise's protocols".
fn agrees(ours: &Identification, ndpi: &str) -> bool {
    use Protocol::*;
    let master = ndpi.split('.').next().unwrap_or(ndpi);
    let p = ours.protocol;
    match master {
        "TLS" => matches!(p, Tls | PseudoTls),
        "STUN" => matches!(p, Stun | Turn | MsTurn),
        "DTLS" => p == Dtls,
        "RTP" => matches!(p, Rtp | Srtp),
        "RTCP" => matches!(p, Rtcp | Srtp),
        "SRTP" => matches!(p, Srtp | Rtp | Rtcp),
        "SIP" => p == Sip,
        "HTTP" => p == Http,
        "DNS" => p == Dns,
        "Jabber" => p == Xmpp,
        "SSH" => p == Ssh,
        "RDP" => p == Rdp,
        "SMBv23" | "SMBv1" => p == Smb,
        // Anything else (DHCP, Dropbox, Spotify, Discord, ICMP, Unknown...) is outside
        // edgewise's protocol set: agreement is "unknown".
        _ => p == Unknown,
    }
}

/// Disagreements with nDPI that are understood: (file, flow key, reason).
const KNOWN_DISAGREEMENTS: &[(&str, &str, &str)] = &[
    (
        "ndpi__rtp.pcapng",
        "UDP 150.219.118.19:54234 192.113.193.227:50003",
        "Discord voice is RTP (PT 120) with encrypted RTCP: nDPI names the application, \
         edgewise the transport (SRTP)",
    ),
    (
        "ndpi__sip.pcap",
        "UDP 192.168.1.2:30001 212.242.33.36:40393",
        "one datagram, a compound RTCP packet SR+SDES+BYE that walks exactly (RFC 3550 §6.1): \
         edgewise says RTCP (unsure); nDPI waits for more packets and gives up",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:34218",
        "port 5223 (legacy XMPP over SSL) but the bytes are neither TLS records nor XML (a \
         binary protocol, '25 00 45 14 ...'); nDPI's Jabber verdict has no payload evidence here",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:37614",
        "as above: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:58388",
        "as above: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:41420",
        "as above: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:34070",
        "as above: binary non-XMPP payload on 5223",
    ),
];

#[derive(Default)]
struct Tally {
    total: usize,
    agree: usize,
    lines: Vec<String>,
}

fn compare_with_ndpi(file: &str, tally: &mut Tally) {
    let Some(flows) = flows(file) else { return };
    let ndpi = ndpi_out(file);
    for f in &flows {
        let k = flow_key(f);
        let Some(theirs) = ndpi.get(&k) else { continue };
        let ours = identify::identify(f);
        tally.total += 1;
        if agrees(&ours, theirs) {
            tally.agree += 1;
            continue;
        }
        let known = KNOWN_DISAGREEMENTS
            .iter()
            .find(|(fl, kk, _)| *fl == file && *kk == k);
        let line = format!(
            "{file}: {k}: nDPI {theirs}, edgewise {} ({}){}",
            ours.protocol.label(),
            ours.summary,
            known.map_or(String::new(), |(_, _, r)| format!(" -- known: {r}"))
        );
        tally.lines.push(line);
    }
}

const NDPI_FILES: &[&str] = &[
    "ndpi__teams.pcap",
    "ndpi__skype-conference-call.pcap",
    "ndpi__stun.pcap",
    "ndpi__stun_classic.pcap",
    "ndpi__stun_msteams_unidir.pcapng",
    "ndpi__stun_tcp_multiple_msgs_same_pkt.pcap",
    "ndpi__stun_dtls_rtp.pcapng",
    "ndpi__rtp.pcapng",
    "ndpi__rtcp_multiple_pkts_in_the_same_datagram.pcap",
    "ndpi__sip.pcap",
    "ndpi__sip_hello.pcapng",
    "ndpi__http_on_sip_port.pcap",
    "ndpi__tls_alert.pcap",
    "ndpi__tls_client_certificate_with_missing_server_one.pcapng",
    "ndpi__selfsigned.pcap",
    "ndpi__ssl-cert-name-mismatch.pcap",
    "ndpi__dns.pcap",
    "ndpi__jabber.pcap",
    "ndpi__ocsp.pcapng",
];

#[test]
fn agreement_with_ndpi() {
    let mut tally = Tally::default();
    for f in NDPI_FILES {
        compare_with_ndpi(f, &mut tally);
    }
    eprintln!(
        "nDPI agreement: {} of {} flows agree; {} disagreements",
        tally.agree,
        tally.total,
        tally.lines.len()
    );
    for l in &tally.lines {
        eprintln!("  {l}");
    }
    let unexplained: Vec<&String> = tally
        .lines
        .iter()
        .filter(|l| !l.contains("-- known:"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements: {unexplained:#?}"
    );
}

fn only_tls(name: &str, port: u16) -> Option<Identification> {
    let flows = flows(name)?;
    let f = flows
        .iter()
        .find(|f| f.responder.port == port && f.protocol == 6)
        .expect("the TLS flow");
    Some(identify::identify(f))
}

#[test]
fn zeek_tls_handshake_failure() {
    // Zeek: no version, last_alert handshake_failure, established F.
    let Some(id) = only_tls("zeek__tls_tls-1.2-handshake-failure.pcap", 443) else {
        return;
    };
    assert_eq!(id.protocol, Protocol::Tls);
    let t = id.evidence.tls.expect("tls");
    assert!(t.server_version.is_none());
    assert_eq!(t.outcome, TlsOutcome::Alert);
    let a = t.alerts.last().expect("alert");
    assert_eq!(
        (a.from, a.level, a.name),
        ("server", "fatal", Some("handshake_failure"))
    );
}

#[test]
fn zeek_certificate_request_failed() {
    // Zeek: TLSv12, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, two server certificates, no client
    // certificate, requested CA O=SomeOrg, last_alert handshake_failure, established F.
    let Some(id) = only_tls("zeek__tls_certificate-request-failed.pcap", 3000) else {
        return;
    };
    let t = id.evidence.tls.expect("tls");
    assert_eq!(t.server_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(t.selected_cipher, Some(0xc030));
    assert_eq!(t.certificates.len(), 2);
    assert!(t.client_certificate_requested);
    assert!(!t.client_certificate_sent);
    assert_eq!(t.outcome, TlsOutcome::Alert);
    assert!(t.alerts.iter().any(|a| a.name == Some("handshake_failure")));
}

#[test]
fn zeek_client_certificate() {
    // dpi.md §6.3: server 11,12,13,14; client 11,16,15.
    let Some(id) = only_tls("zeek__tls_client-certificate.pcap", 443) else {
        return;
    };
    let t = id.evidence.tls.expect("tls");
    assert!(t.client_certificate_requested);
    assert!(t.client_certificate_sent);
    assert!(!t.client_certificates.is_empty());
    for m in [11, 12, 13, 14] {
        assert!(t.server_messages.contains(&m), "{:?}", t.server_messages);
    }
    assert_eq!(&t.client_messages[1..4], &[11, 16, 15]);
    assert_eq!(t.outcome, TlsOutcome::Completed);
}

#[test]
fn zeek_early_alert() {
    let Some(flows) = flows("zeek__tls_tls-early-alert.pcap") else {
        return;
    };
    let ids: Vec<Identification> = flows.iter().map(identify::identify).collect();
    assert!(ids.iter().any(|i| i.evidence.tls.as_ref().is_some_and(|t| t
        .alerts
        .iter()
        .any(|a| a.level == "warning" && a.name == Some("unrecognized_name")))));
}

#[test]
fn zeek_xmpp_starttls() {
    // Zeek: TLSv12, 0xc030, established T, two server certificates.
    let Some(flows) = flows("zeek__tls_xmpp-starttls.pcap") else {
        return;
    };
    let f = flows
        .iter()
        .find(|f| f.responder.port == 5222)
        .expect("xmpp flow");
    let id = identify::identify(f);
    assert_eq!(id.protocol, Protocol::Xmpp);
    let x = id.evidence.xmpp.as_ref().expect("xmpp");
    assert!(x.starttls_requested && x.starttls_proceed);
    let t = id.evidence.tls.as_ref().expect("tls after starttls");
    assert_eq!(t.server_version.as_deref(), Some("TLS 1.2"));
    assert_eq!(t.selected_cipher, Some(0xc030));
    assert_eq!(t.certificates.len(), 2);
    assert_eq!(t.outcome, TlsOutcome::Completed);
}

#[test]
fn zeek_xmpp_dialback_mutual_tls() {
    // Zeek: TLSv12, 0xc030, established T, three server certificates, a client chain.
    let Some(flows) = flows("zeek__tls_xmpp-dialback-starttls.pcap") else {
        return;
    };
    let f = flows
        .iter()
        .find(|f| f.responder.port == 5269)
        .expect("s2s flow");
    let id = identify::identify(f);
    assert_eq!(id.protocol, Protocol::Xmpp);
    let x = id.evidence.xmpp.as_ref().expect("xmpp");
    assert!(x.dialback);
    assert_eq!(x.namespace.as_deref(), Some("jabber:server"));
    let t = id.evidence.tls.as_ref().expect("tls");
    assert_eq!(t.certificates.len(), 3);
    assert!(t.client_certificate_requested);
    assert!(t.client_certificate_sent);
    assert_eq!(t.outcome, TlsOutcome::Completed);
}

#[test]
fn suricata_sip_tcp_and_tls_client_auth() {
    if let Some(flows) = flows("suricataverify__sip-tcp-method_sip-tcp.pcap") {
        let ids: Vec<Identification> = flows.iter().map(identify::identify).collect();
        assert!(ids.iter().any(|i| i.protocol == Protocol::Sip
            && i.evidence
                .sip
                .as_ref()
                .is_some_and(|s| s.method.as_deref() == Some("REGISTER"))));
    }
    if let Some(flows) = flows("suricataverify__tls_tls-store-02_tls-client-auth.pcap") {
        let f = flows
            .iter()
            .find(|f| f.responder.port == 8081)
            .expect("tls flow");
        let t = identify::identify(f).evidence.tls.expect("tls");
        assert_eq!(t.sni.as_deref(), Some("localhost"));
        assert!(t.client_certificate_requested && t.client_certificate_sent);
    }
}

#[test]
fn generated_edge_sample() {
    let cap = edgewise::generate::scenario("edge-sample").expect("scenario");
    let mut bytes = Vec::new();
    edgewise::generate::write_pcapng(&mut bytes, &cap, &Default::default()).expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("edge-sample.pcapng");
    std::fs::write(&path, &bytes).expect("write file");
    let flows = flows_of_spec(&InputSpec::File(path));
    let ids: Vec<(&Flow, Identification)> = flows
        .iter()
        .map(|f| (&f.flow, identify::identify(f)))
        .collect();
    let find = |ip: &str, port: u16, proto: u8| {
        let ip: IpAddr = ip.parse().expect("ip");
        ids.iter()
            .filter(move |(f, _)| {
                f.responder.ip == ip && f.responder.port == port && f.protocol == proto
            })
            .map(|(_, i)| i)
    };
    let pseudo: Vec<_> = find("10.45.16.30", 443, 6).collect();
    assert!(!pseudo.is_empty());
    for i in &pseudo {
        assert_eq!(i.protocol, Protocol::PseudoTls, "{}", i.summary);
    }
    let access: Vec<_> = find("10.45.16.10", 443, 6).collect();
    assert!(!access.is_empty());
    for i in &access {
        assert_eq!(i.protocol, Protocol::Tls);
        let t = i.evidence.tls.as_ref().expect("tls");
        assert_eq!(t.sni.as_deref(), Some("sip.contoso.com"));
        assert!(t.certificates[0]
            .san_dns
            .iter()
            .any(|s| s == "sip.contoso.com"));
    }
    let federation: Vec<&Identification> = ids
        .iter()
        .filter(|(f, _)| f.responder.port == 5061 && f.protocol == 6)
        .map(|(_, i)| i)
        .collect();
    assert!(federation.iter().any(|i| i
        .evidence
        .tls
        .as_ref()
        .is_some_and(|t| t.client_certificate_requested)));
    // The external A/V Edge's UDP 3478 (the internal 172.25.33.10:3478 carries plain STUN
    // Binding checks).
    let turn: Vec<&Identification> = find("10.45.16.30", 3478, 17).collect();
    assert!(!turn.is_empty());
    assert!(turn.iter().all(|i| i.protocol == Protocol::MsTurn));
    assert!(turn.iter().any(|i| i.evidence.stun.as_ref().is_some_and(
        |s| s.ms_version.is_some() && s.xor_relayed.as_deref() == Some("131.107.155.30:52010")
    )));
    assert!(ids
        .iter()
        .any(|(_, i)| matches!(i.protocol, Protocol::Rtp | Protocol::Srtp)));
    assert!(ids
        .iter()
        .any(|(_, i)| i.evidence.dns.as_ref().is_some_and(|d| d
            .srv
            .iter()
            .any(|s| s.target == "sip.fabrikam.com" && s.port == 5061))));
    assert!(ids.iter().any(|(_, i)| i
        .evidence
        .http
        .as_ref()
        .is_some_and(|h| h.path.as_deref() == Some("/pki/contoso.crl"))));
    for (f, i) in &ids {
        eprintln!(
            "{} -> {}:{} {} {:?}: {}",
            f.initiator.port, f.responder.ip, f.responder.port, i.protocol, i.confidence, i.summary
        );
        if i.protocol == Protocol::PseudoTls {
            assert_eq!(
                i.evidence.stun.as_ref().map(|s| s.framing),
                Some(StunFraming::PseudoTls)
            );
        }
    }
}
