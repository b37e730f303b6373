//! The display filter's language, flow by flow, and selections of a run.

use std::net::IpAddr;

use super::*;
use crate::flow::{DirStats, Endpoint, FlowEnd, InitiatorEvidence};
use crate::judge::Verdict;
use crate::matrix::{Interface, Service};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn dir(packets: u64, bytes: u64, ts: i64) -> DirStats {
    let mut d = DirStats::default();
    d.packets = packets;
    d.wire_bytes = bytes;
    d.payload_bytes = bytes / 2;
    if packets > 0 {
        d.note_time(ts);
        d.note_time(ts + 2_500_000_000);
    }
    d
}

/// A UDP or TCP flow with the given ends; 3 packets and 300 bytes each way, 2.5 s long.
fn flow(protocol: u8, src: (&str, u16), dst: (&str, u16), answered: bool) -> Flow {
    let (a, b) = ((ip(src.0), src.1), (ip(dst.0), dst.1));
    Flow {
        id: 1,
        protocol,
        initiator: Endpoint { ip: a.0, port: a.1 },
        responder: Endpoint { ip: b.0, port: b.1 },
        initiator_by: InitiatorEvidence::FirstPacket,
        orig: dir(3, 300, 1_000_000_000),
        resp: if answered {
            dir(3, 300, 1_100_000_000)
        } else {
            DirStats::default()
        },
        head: Default::default(),
        tcp: None,
        interfaces: 0,
        vlan: None,
        icmp_errors: 0,
        icmp_notes: Vec::new(),
        icmp: None,
        fragments: 0,
        truncated_packets: 0,
        end: FlowEnd::EndOfCapture,
    }
}

fn judgement(interface: Interface, service: Service, verdict: Verdict) -> Judgement {
    Judgement {
        edge_interface: Some(interface),
        edge_service: Some(service),
        direction: None,
        documented: "SIP/MTLS".into(),
        verdict,
        rules: Vec::new().into(),
        reason: Default::default(),
        notes: Vec::new().into(),
        judged_reversed: false,
        identified: None,
    }
}

fn eval_on(src: &str, f: &Flow, j: Option<&Judgement>, severities: u8) -> bool {
    let filter = Filter::parse(src).unwrap_or_else(|e| panic!("{e}"));
    filter.matches(&FlowView {
        flow: f,
        identification: None,
        judgement: j,
        severities,
        blocked: false,
    })
}

fn is(src: &str, f: &Flow) -> bool {
    eval_on(src, f, None, 0)
}

fn err(src: &str) -> FilterError {
    match Filter::parse(src) {
        Ok(f) => panic!("{src:?} parsed as {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn comparisons_on_addresses_ports_and_counts() {
    let f = flow(17, ("10.45.16.10", 50000), ("203.0.113.5", 3478), true);
    assert!(is("ip == 10.45.16.10", &f));
    assert!(is("ip == 203.0.113.5", &f));
    assert!(!is("ip == 10.45.16.11", &f));
    assert!(is("ip.src == 10.45.16.10", &f));
    assert!(!is("ip.dst == 10.45.16.10", &f));
    assert!(is("ip != 1.2.3.4", &f));
    assert!(!is("ip != 10.45.16.10", &f));
    assert!(is("port == 3478", &f));
    assert!(is("port.dst == 3478 && port.src >= 50000", &f));
    assert!(!is("port.src == 3478", &f));
    assert!(is("port < 4000", &f));
    assert!(!is("port > 60000", &f));
    assert!(is("transport == udp", &f));
    assert!(is("transport == UDP", &f));
    assert!(!is("transport == tcp", &f));
    assert!(is("packets == 6 and bytes >= 600 and bytes <= 600", &f));
    assert!(is("duration > 2 and duration < 3s", &f));
    assert!(is("duration >= 2600ms", &f));
    assert!(is("state == SF", &f));
    assert!(is("state == sf", &f));
    let oneway = flow(17, ("10.45.16.10", 50000), ("203.0.113.5", 3478), false);
    assert!(is("state == S0", &oneway));
    assert!(is("port eq 3478 and packets gt 5", &f));
}

#[test]
fn cidr_and_sets() {
    let f = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
    assert!(is("ip == 172.25.33.0/24", &f));
    assert!(is("ip == 192.168.0.0/16", &f));
    assert!(!is("ip == 10.0.0.0/8", &f));
    // Host bits in a CIDR are ignored, as in Wireshark.
    assert!(is("ip.dst == 172.25.33.99/24", &f));
    assert!(is("port in {443, 5061}", &f));
    assert!(is("port in {443 5061}", &f));
    assert!(!is("port in {443, 3478}", &f));
    assert!(is("port.src in {50000..59999}", &f));
    assert!(is("ip in {10.0.0.0/8, 172.16.0.0/12}", &f));
    assert!(is("transport in {tcp, udp}", &f));
    let v6 = flow(17, ("2001:db8::1", 1000), ("2001:db8:1::2", 3478), true);
    assert!(is("ip == 2001:db8:1::/48", &v6));
    assert!(!is("ip == 10.0.0.0/8", &v6));
}

#[test]
fn precedence_and_grouping() {
    let f = flow(17, ("10.0.0.1", 1000), ("10.0.0.2", 53), true);
    // a or (b and c): true because a is.
    assert!(is("port == 53 or port == 1 and port == 2", &f));
    // (a or b) and c: false because c is not.
    assert!(!is("(port == 53 or port == 1) and port == 2", &f));
    // not binds tighter than and.
    assert!(is("not port == 80 and port == 53", &f));
    assert!(!is("not (port == 80 or port == 53)", &f));
    assert!(is("!(port == 80) && port == 53 || port == 9", &f));
    assert!(is("not not port == 53", &f));
    // Left to right within one level: (a and b) or (c and d).
    assert!(is(
        "port == 1 and port == 2 or port == 53 and port == 1000",
        &f
    ));
    assert!(!is(
        "port == 1 and (port == 2 or port == 53) and port == 1000",
        &f
    ));
}

#[test]
fn audit_fields() {
    let f = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
    let j = judgement(Interface::Internal, Service::Internal, Verdict::WrongSource);
    assert!(eval_on(
        "verdict != permitted and interface == internal",
        &f,
        Some(&j),
        0
    ));
    assert!(eval_on("verdict == wrong-source", &f, Some(&j), 0));
    assert!(eval_on("service == internal", &f, Some(&j), 0));
    assert!(!eval_on("interface == external", &f, Some(&j), 0));
    assert!(eval_on("protocol == sip/mtls", &f, Some(&j), 0));
    // The documents' protocol and the payload's apart: this flow has no identification.
    assert!(eval_on("documented == sip/mtls", &f, Some(&j), 0));
    assert!(!eval_on("payload == sip/mtls", &f, Some(&j), 0));
    assert!(!eval_on("payload", &f, Some(&j), 0));
    let ext = judgement(Interface::ExternalVip, Service::Av, Verdict::Permitted);
    assert!(eval_on(
        "interface == external-vip and service == av",
        &f,
        Some(&ext),
        0
    ));
    // Severity: the flow is evidence of a warning finding.
    let warn = severity_bit(Severity::Warning);
    assert!(eval_on("severity == warning", &f, Some(&j), warn));
    assert!(eval_on("severity >= warning", &f, Some(&j), warn));
    assert!(!eval_on("severity >= error", &f, Some(&j), warn));
    assert!(!eval_on("severity == warning", &f, Some(&j), 0));
    assert!(eval_on("severity != error", &f, Some(&j), warn));
}

#[test]
fn audit_fields_are_refused_without_an_audit() {
    let Ok(f) = Filter::parse("port == 443 and severity == error") else {
        panic!("parses")
    };
    let e = f.check_without_audit().err().map(|e| (e.column, e.message));
    let Some((column, message)) = e else {
        panic!("severity needs the audit")
    };
    assert_eq!(column, 17);
    assert!(message.contains("edgewise audit"), "{message}");
    let Ok(ok) = Filter::parse("port == 443 and state == S0") else {
        panic!("parses")
    };
    assert!(ok.check_without_audit().is_ok());
}

#[test]
fn errors_point_at_the_bad_token() {
    let e = err("port == 50x");
    assert_eq!((e.column, e.len), (9, 3));
    assert_eq!(
        e.to_string().lines().next(),
        Some("display filter: expected a number at column 9: 'port == 50x'")
    );
    assert_eq!(e.to_string().lines().nth(2), Some("            ^~~"));
    assert_eq!(err("port = 1").column, 6);
    assert_eq!(err("port == 70000").column, 9);
    assert_eq!(
        err("ip == 10.0.0.300").message,
        "expected an IP address or CIDR"
    );
    assert_eq!(err("(port == 1").column, 11);
    assert_eq!(err("port == 1 port == 2").column, 11);
    assert_eq!(err("port == 1 and").column, 14);
    assert_eq!(err("").column, 1);
    assert_eq!(err("verdict < permitted").column, 9);
    assert_eq!(err("transport == sctpx").column, 14);
    assert_eq!(err("port in {}").column, 10);
    assert_eq!(err("port in 443").column, 9);
    assert_eq!(err("state == \"S0").column, 10);
    assert_eq!(err("port == 1 & port == 2").column, 11);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}port == 1{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = err(&deep);
    assert_eq!(
        e.message,
        format!("parentheses nested too deeply (at most {MAX_DEPTH} levels)")
    );
    assert_eq!(e.column, MAX_DEPTH + 1);
    let unclosed = err(&"(".repeat(10_000));
    assert!(
        unclosed.message.contains("too deeply"),
        "{}",
        unclosed.message
    );
    let f = flow(17, ("10.0.0.1", 1000), ("10.0.0.2", 53), true);
    let ok = format!(
        "{}port == 53{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(is(&ok, &f));
}

#[test]
fn long_chains_and_negations_stay_shallow() {
    let f = flow(17, ("10.0.0.1", 1000), ("10.0.0.2", 53), true);
    let ors = vec!["port == 1"; 100_000].join(" or ") + " or port == 53";
    assert!(is(&ors, &f));
    let ands = vec!["port == 53"; 100_000].join(" and ");
    assert!(is(&ands, &f));
    assert!(is(&format!("{}port == 53", "not ".repeat(100_000)), &f));
    assert!(!is(&format!("{}port == 53", "! ".repeat(100_001)), &f));
}

#[test]
fn a_selection_numbers_the_kept_flows_in_order() {
    let s = Selection {
        expression: "port == 1".into(),
        kept: vec![2, 5, 9],
        total: 10,
    };
    assert!(s.contains(5) && !s.contains(4));
    assert_eq!(s.position(9), Some(2));
    assert_eq!(s.position(3), None);
    assert_eq!(shown(Some(&s), 10).collect::<Vec<_>>(), vec![2, 5, 9]);
    assert_eq!(shown(None, 3).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(s.summary().kept, 3);
}

#[test]
fn wireshark_field_names_answer_for_flows() {
    let tcp = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
    let udp = flow(17, ("203.0.113.5", 50000), ("10.45.16.30", 3478), true);
    let v6 = flow(17, ("2001:db8::1", 1000), ("2001:db8:1::2", 3478), true);
    assert!(is("ip.addr == 172.25.33.10", &tcp));
    assert!(is("ip.addr == 172.25.33.0/24 && tcp.port == 5061", &tcp));
    assert!(is("tcp.dstport == 5061 and tcp.srcport >= 50000", &tcp));
    assert!(!is("udp.port == 5061", &tcp));
    assert!(is("udp.port in {3478, 443} and udp.dstport == 3478", &udp));
    assert!(is("ip.proto == 17", &udp) && !is("ip.proto == 6", &udp));
    assert!(is("frames == 6", &udp));
    // A field the flow does not have: every comparison is false, as in Wireshark.
    assert!(!is("tcp.port != 443", &udp));
    assert!(is("not tcp.port == 443", &udp));
    assert!(!is("ipv6.addr != 2001:db8::9", &udp));
    assert!(is("ipv6.addr == 2001:db8:1::/48", &v6));
    assert!(is(
        "ipv6.src == 2001:db8::1 && ipv6.dst == 2001:db8:1::2",
        &v6
    ));
    // edgewise's own fields keep `!=` as `not ==`.
    assert!(is("port != 443", &udp));
}

#[test]
fn protocols_and_fields_named_alone_test_presence() {
    let tcp = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
    let udp = flow(17, ("203.0.113.5", 50000), ("10.45.16.30", 3478), true);
    let v6 = flow(17, ("2001:db8::1", 1000), ("2001:db8:1::2", 3478), true);
    assert!(is("tcp", &tcp) && !is("tcp", &udp));
    assert!(is("udp && !tcp", &udp));
    assert!(!is("icmp", &udp));
    assert!(is("ip", &udp) && !is("ip", &v6));
    assert!(is("ipv6", &v6) && !is("ipv6", &udp));
    assert!(is("frame", &udp));
    assert!(is("tcp.port", &tcp) && !is("tcp.port", &udp));
    assert!(is("(udp) or tcp", &tcp));
    // The payload's protocol, by Wireshark's dissector name: TURN is STUN to Wireshark.
    let j = judgement(Interface::External, Service::Av, Verdict::Permitted);
    assert!(!eval_on("stun", &udp, Some(&j), 0));
    let e = err("port port == 2");
    assert_eq!(e.column, 6);
}

#[test]
fn contains_and_matches_on_text_fields() {
    let f = flow(6, ("192.168.20.55", 50100), ("172.25.33.10", 5061), true);
    let j = judgement(Interface::Internal, Service::Internal, Verdict::WrongSource);
    assert!(eval_on("verdict contains \"source\"", &f, Some(&j), 0));
    assert!(eval_on("protocol contains MTLS", &f, Some(&j), 0));
    assert!(eval_on(
        "verdict matches \"^wrong-(source|direction)$\"",
        &f,
        Some(&j),
        0
    ));
    assert!(eval_on("protocol ~ \"^SIP/\"", &f, Some(&j), 0));
    assert!(!eval_on("verdict matches \"^permitted\"", &f, Some(&j), 0));
    assert!(eval_on("transport contains tc", &f, None, 0));
    assert!(eval_on("state matches \"^s[f0]$\"", &f, None, 0));
    let e = err("port contains 44");
    assert_eq!(e.column, 6);
    assert!(e.message.contains("not text"), "{}", e.message);
    let e = err("verdict matches \"(unclosed\"");
    assert_eq!(e.column, 17);
    assert!(
        e.message.starts_with("bad regular expression"),
        "{}",
        e.message
    );
}

#[test]
fn unknown_fields_suggest_the_nearest_name() {
    let e = err("prot == 1");
    assert_eq!(e.column, 1);
    assert_eq!(e.message, "unknown field 'prot': did you mean `port`?");
    assert_eq!(
        err("verdit != permitted").message,
        "unknown field 'verdit': did you mean `verdict`?"
    );
    assert_eq!(
        err("tcp.dsport == 443").message,
        "unknown field 'tcp.dsport': did you mean `tcp.dstport`?"
    );
    assert_eq!(
        err("ip.adr == 10.0.0.1").message,
        "unknown field 'ip.adr': did you mean `ip.addr`?"
    );
    // Alone, too.
    assert_eq!(
        err("udpp and tcp").message,
        "unknown field 'udpp': did you mean `udp`?"
    );
    let e = err("tcp.flags.syn == 1");
    assert!(e.message.contains("single packets"), "{}", e.message);
    let e = err("zzzz == 1");
    assert!(
        e.message
            .starts_with("unknown field 'zzzz' (fields: ip, ip.addr"),
        "{}",
        e.message
    );
    let e = err("verdict == permited");
    assert!(
        e.message.contains("did you mean `permitted`?"),
        "{}",
        e.message
    );
    assert_eq!(
        err("ipv6.addr == 10.0.0.1").message,
        "'ipv6.addr' holds IPv6 addresses, as in Wireshark: use ip.addr (or ip) for IPv4"
    );
}

#[test]
fn blocked_is_tested_alone() {
    let f = flow(6, ("198.51.100.7", 40000), ("172.25.33.10", 3389), false);
    let j = judgement(
        Interface::ExternalVip,
        Service::Access,
        Verdict::NotInMatrix,
    );
    let filter = Filter::parse("verdict == not-in-matrix && blocked").expect("parses");
    let view = |blocked| FlowView {
        flow: &f,
        identification: None,
        judgement: Some(&j),
        severities: 0,
        blocked,
    };
    assert!(filter.matches(&view(true)));
    assert!(!filter.matches(&view(false)));
    assert!(Filter::parse("!blocked")
        .expect("parses")
        .matches(&view(false)));
    let e = err("blocked == 1");
    assert!(e.message.contains("tested alone"), "{e}");
}
