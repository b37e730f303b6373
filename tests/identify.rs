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

/// Ways to share `missing` zero groups among `gaps` places, each place at least one.
fn shares(missing: usize, gaps: usize) -> Vec<Vec<usize>> {
    if gaps == 0 {
        return if missing == 0 {
            vec![Vec::new()]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    for first in 1..=missing.saturating_sub(gaps - 1) {
        for mut rest in shares(missing - first, gaps - 1) {
            rest.insert(0, first);
            out.push(rest);
        }
    }
    out
}

/// nDPI's endpoint text as edgewise writes it, or every reading of it. nDPI's `.out` files
/// shorten a single zero group of an IPv6 address (`face:b00c::24d9`, which RFC 5952 §4.2.2
/// writes `face:b00c:0:24d9`) and once print two `::` in one address
/// (`2600:1900:4160:5999::19::`, which tshark prints `2600:1900:4160:5999:0:19::`); each way
/// of filling such an address is a candidate.
fn endpoint_candidates(tok: &str) -> Vec<String> {
    let whole = vec![tok.to_string()];
    let Some((addr, port)) = tok.rsplit_once(':') else {
        return whole;
    };
    let Ok(port) = port.parse::<u16>() else {
        return whole;
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return vec![endpoint(ip, port)];
    }
    let parts: Vec<&str> = addr.split("::").collect();
    let groups = |p: &str| {
        if p.is_empty() {
            0
        } else {
            p.split(':').count()
        }
    };
    let explicit: usize = parts.iter().map(|p| groups(p)).sum();
    let mut out = Vec::new();
    for share in shares(8usize.saturating_sub(explicit), parts.len() - 1) {
        let mut text: Vec<String> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if !p.is_empty() {
                text.push((*p).to_string());
            }
            if let Some(&n) = share.get(i) {
                text.extend(std::iter::repeat_n("0".to_string(), n));
            }
        }
        if let Ok(ip) = text.join(":").parse::<IpAddr>() {
            out.push(endpoint(ip, port));
        }
    }
    if out.is_empty() {
        whole
    } else {
        out
    }
}

/// One flow of nDPI's `.out` file: the keys it may stand for (one, unless nDPI printed an
/// address that reads more than one way) and its "Master.App" name.
struct NdpiFlow {
    keys: Vec<String>,
    name: String,
}

/// nDPI's verdict per TCP and UDP flow.
fn ndpi_out(name: &str) -> Vec<NdpiFlow> {
    let mut out = Vec::new();
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
        let mut keys = Vec::new();
        for x in endpoint_candidates(a) {
            for y in endpoint_candidates(b) {
                keys.push(key(tr, &x, &y));
            }
        }
        out.push(NdpiFlow {
            keys,
            name: name.to_string(),
        });
    }
    out
}

/// The edgewise labels that stand for nDPI's protocol (its master protocol, before the dot:
/// `STUN.Skype_TeamsCall` is STUN), or `None` when nDPI named something edgewise has no probe
/// for (DHCP, Dropbox, Spotify, an application such as Discord or Telegram without a master
/// protocol, or Unknown).
fn comparable(ndpi: &str) -> Option<&'static [Protocol]> {
    use Protocol::*;
    let master = ndpi.split('.').next().unwrap_or(ndpi);
    Some(match master {
        "TLS" => &[Tls, PseudoTls],
        "STUN" => &[Stun, Turn, MsTurn],
        "DTLS" => &[Dtls],
        // nDPI cannot tell SRTP from RTP by one packet either (RFC 3711 §3.1): encrypted RTCP
        // is what makes edgewise say SRTP.
        "RTP" => &[Rtp, Srtp],
        "RTCP" => &[Rtcp, Srtp],
        "SRTP" => &[Srtp, Rtp, Rtcp],
        "SIP" => &[Sip],
        "HTTP" => &[Http],
        "DNS" => &[Dns],
        "Jabber" => &[Xmpp],
        "SSH" => &[Ssh],
        "RDP" => &[Rdp],
        "SMBv23" | "SMBv1" => &[Smb],
        _ => return None,
    })
}

/// How edgewise's answer for one flow compares with nDPI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The same protocol.
    Agree,
    /// nDPI named a protocol edgewise has no probe for (or nothing), and edgewise said unknown.
    Outside,
    /// nDPI named one of edgewise's protocols; edgewise said unknown.
    EdgewiseNone,
    /// Different protocols, or edgewise named one where nDPI named none of edgewise's.
    Disagree,
}

fn outcome(ours: &Identification, ndpi: &str) -> Outcome {
    match (comparable(ndpi), ours.protocol) {
        (Some(ps), p) if ps.contains(&p) => Outcome::Agree,
        (Some(_), Protocol::Unknown) => Outcome::EdgewiseNone,
        (None, Protocol::Unknown) => Outcome::Outside,
        _ => Outcome::Disagree,
    }
}

/// Who is right where the two differ, decided from tshark's dissection (docs/IDENTIFY.md
/// gives the frames and fields for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    Edgewise,
    /// Each is right about what it names (an application against a transport).
    Both,
}

/// Every flow where edgewise and nDPI differ (a disagreement or edgewise unknown): file, flow
/// key, who is right, why. A flow that starts or stops differing fails the test, so each change
/// is looked at.
const DIFFERENCES: &[(&str, &str, Right, &str)] = &[
    (
        "ndpi__rtp.pcapng",
        "UDP 150.219.118.19:54234 192.113.193.227:50003",
        Right::Both,
        "Discord voice: RTP PT 120 and 101 in sequence per SSRC with encrypted RTCP beside \
         it, after two 74-byte IP discovery datagrams; nDPI names the application, edgewise \
         the transport (SRTP); tshark dissects RTP and RTCP once told the port is RTP",
    ),
    (
        "ndpi__sip.pcap",
        "UDP 192.168.1.2:30001 212.242.33.36:40393",
        Right::Edgewise,
        "one datagram, a compound RTCP SR+SDES+BYE that walks exactly; tshark dissects it as \
         RTCP from the SDP that set the call up; nDPI gives up after one packet",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:34218",
        Right::Edgewise,
        "port 5223 but neither TLS records nor XML: a binary protocol ('25 00 45 14 ...'); \
         tshark finds no XMPP either; nDPI's Jabber has no payload evidence",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:37614",
        Right::Edgewise,
        "as 34218: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:58388",
        Right::Edgewise,
        "as 34218: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:41420",
        Right::Edgewise,
        "as 34218: binary non-XMPP payload on 5223",
    ),
    (
        "ndpi__jabber.pcap",
        "TCP 160.44.201.102:5223 192.168.2.100:34070",
        Right::Edgewise,
        "as 34218: binary non-XMPP payload on 5223",
    ),
];

/// One capture's comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    /// Flows in both nDPI's `.out` file and edgewise's flows (TCP and UDP).
    flows: usize,
    agree: usize,
    /// Of the agreeing flows, those edgewise was unsure of.
    agree_unsure: usize,
    outside: usize,
    edgewise_none: usize,
    disagree: usize,
    /// TCP/UDP flows of nDPI's file that edgewise did not form (should stay 0).
    unmatched: usize,
}

/// The measured agreement, per capture: a change in either direction fails the test so the
/// table in docs/IDENTIFY.md is kept true. (flows, agree, of which unsure, outside, edgewise
/// none, disagree, unmatched)
const EXPECTED: &[(&str, [usize; 7])] = &[
    ("ndpi__dns.pcap", [2, 2, 0, 0, 0, 0, 0]),
    ("ndpi__http_on_sip_port.pcap", [1, 1, 0, 0, 0, 0, 0]),
    // 57149 is two edgewise flows (an idle gap longer than the TCP idle timeout), one for nDPI.
    ("ndpi__jabber.pcap", [13, 8, 4, 0, 5, 0, 0]),
    ("ndpi__ocsp.pcapng", [10, 10, 0, 0, 0, 0, 0]),
    (
        "ndpi__rtcp_multiple_pkts_in_the_same_datagram.pcap",
        [1, 1, 0, 0, 0, 0, 0],
    ),
    ("ndpi__rtp.pcapng", [4, 3, 0, 0, 0, 1, 0]),
    ("ndpi__selfsigned.pcap", [1, 1, 0, 0, 0, 0, 0]),
    ("ndpi__sip.pcap", [8, 7, 0, 0, 0, 1, 0]),
    ("ndpi__sip_hello.pcapng", [1, 1, 0, 0, 0, 0, 0]),
    ("ndpi__skype-conference-call.pcap", [1, 1, 0, 0, 0, 0, 0]),
    ("ndpi__ssl-cert-name-mismatch.pcap", [1, 1, 0, 0, 0, 0, 0]),
    ("ndpi__stun.pcap", [8, 8, 0, 0, 0, 0, 0]),
    ("ndpi__stun_classic.pcap", [1, 1, 0, 0, 0, 0, 0]),
    ("ndpi__stun_dtls_rtp.pcapng", [2, 2, 0, 0, 0, 0, 0]),
    ("ndpi__stun_msteams_unidir.pcapng", [1, 1, 0, 0, 0, 0, 0]),
    (
        "ndpi__stun_tcp_multiple_msgs_same_pkt.pcap",
        [1, 1, 0, 0, 0, 0, 0],
    ),
    ("ndpi__teams.pcap", [82, 74, 2, 8, 0, 0, 0]),
    ("ndpi__tls_alert.pcap", [2, 2, 1, 0, 0, 0, 0]),
    (
        "ndpi__tls_client_certificate_with_missing_server_one.pcapng",
        [2, 2, 0, 0, 0, 0, 0],
    ),
];

fn counts_of(c: [usize; 7]) -> Counts {
    Counts {
        flows: c[0],
        agree: c[1],
        agree_unsure: c[2],
        outside: c[3],
        edgewise_none: c[4],
        disagree: c[5],
        unmatched: c[6],
    }
}

/// Compares one capture; returns its counts and the differing flows as (key, line).
fn compare_with_ndpi(file: &str) -> (Counts, Vec<(String, String)>) {
    let mut counts = Counts::default();
    let mut differ = Vec::new();
    let Some(flows) = flows(file) else {
        return (counts, differ);
    };
    let ndpi = ndpi_out(file);
    let mut by_key: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in ndpi.iter().enumerate() {
        for k in &n.keys {
            by_key.insert(k, i);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in &flows {
        let k = flow_key(f);
        let Some(&i) = by_key.get(k.as_str()) else {
            continue;
        };
        seen.insert(i);
        let theirs = &ndpi[i].name;
        let ours = identify::identify(f);
        counts.flows += 1;
        let o = outcome(&ours, theirs);
        match o {
            Outcome::Agree => {
                counts.agree += 1;
                if ours.confidence == identify::Confidence::Unsure {
                    counts.agree_unsure += 1;
                }
            }
            Outcome::Outside => counts.outside += 1,
            Outcome::EdgewiseNone => counts.edgewise_none += 1,
            Outcome::Disagree => counts.disagree += 1,
        }
        if matches!(o, Outcome::EdgewiseNone | Outcome::Disagree) {
            let line = format!(
                "{file}: {k}: nDPI {theirs}, edgewise {} {:?} ({})",
                ours.protocol.label(),
                ours.confidence,
                ours.summary
            );
            differ.push((k, line));
        }
    }
    for (i, n) in ndpi.iter().enumerate() {
        if !seen.contains(&i) {
            eprintln!("  {file}: nDPI's {:?} is no edgewise flow", n.keys);
            counts.unmatched += 1;
        }
    }
    (counts, differ)
}

/// Every capture of the public set that has nDPI's expected output beside it.
fn ndpi_captures() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(dpi_dir()) else {
        return Vec::new();
    };
    let mut out: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".out").map(str::to_string))
        .filter(|n| dpi_dir().join(n).exists())
        .collect();
    out.sort();
    out
}

#[test]
fn agreement_with_ndpi() {
    let captures = ndpi_captures();
    if captures.is_empty() {
        eprintln!("skipping: no nDPI captures in {}", dpi_dir().display());
        return;
    }
    let mut problems = Vec::new();
    let mut total = Counts::default();
    let mut differing = Vec::new();
    eprintln!("| capture | flows | agree (unsure) | outside | edgewise none | disagree |");
    for file in &captures {
        let (c, differ) = compare_with_ndpi(file);
        eprintln!(
            "| {file} | {} | {} ({}) | {} | {} | {} |",
            c.flows, c.agree, c.agree_unsure, c.outside, c.edgewise_none, c.disagree
        );
        eprintln!(
            "    (\"{file}\", [{}, {}, {}, {}, {}, {}, {}]),",
            c.flows, c.agree, c.agree_unsure, c.outside, c.edgewise_none, c.disagree, c.unmatched
        );
        total.flows += c.flows;
        total.agree += c.agree;
        total.agree_unsure += c.agree_unsure;
        total.outside += c.outside;
        total.edgewise_none += c.edgewise_none;
        total.disagree += c.disagree;
        total.unmatched += c.unmatched;
        match EXPECTED.iter().find(|(f, _)| f == file) {
            Some((_, want)) if counts_of(*want) == c => {}
            Some((_, want)) => problems.push(format!(
                "{file}: expected {:?}, measured {c:?}",
                counts_of(*want)
            )),
            None => problems.push(format!("{file}: not in EXPECTED (measured {c:?})")),
        }
        for (k, line) in differ {
            differing.push((file.clone(), k.clone()));
            match DIFFERENCES
                .iter()
                .find(|(f, kk, _, _)| f == file && *kk == k)
            {
                Some((_, _, right, why)) => eprintln!("  {line}\n    {right:?} right: {why}"),
                None => problems.push(format!("not adjudicated in DIFFERENCES: {line}")),
            }
        }
    }
    for (f, k, _, _) in DIFFERENCES {
        if captures.iter().any(|c| c == f) && !differing.iter().any(|(df, dk)| df == f && dk == k) {
            problems.push(format!(
                "{f}: {k} no longer differs: update DIFFERENCES and the doc"
            ));
        }
    }
    for (f, _) in EXPECTED {
        if !captures.iter().any(|c| c == f) {
            problems.push(format!("{f}: in EXPECTED but has no capture and .out file"));
        }
    }
    eprintln!(
        "total: {} flows, {} agree ({} unsure), {} outside, {} edgewise none, {} disagree, {} \
         unmatched",
        total.flows,
        total.agree,
        total.agree_unsure,
        total.outside,
        total.edgewise_none,
        total.disagree,
        total.unmatched
    );
    assert!(problems.is_empty(), "{problems:#?}");
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
