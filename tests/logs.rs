//! Firewall logs: the public sample lines of every format (tests/data/logs, re-typed from the
//! sources named in research/ecosystem.md 2.1), malformed lines, and the audit of a log against
//! the audit of the capture it mirrors.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use edgewise::logs::{self, Action, LogFormat, LogOptions, Outcome, ParsedLog, Record};

use crate::util::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(name)
}

fn captures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn parse(name: &str) -> ParsedLog {
    logs::parse_file(&data(name), LogOptions::default()).expect("read")
}

fn parse_str(text: &[u8], format: Option<LogFormat>) -> ParsedLog {
    logs::parse_reader(
        text,
        LogOptions {
            format,
            tz: Default::default(),
            reference_ns: None,
        },
    )
    .expect("read")
}

fn assert_totals(p: &ParsedLog) {
    assert_eq!(p.summary.accounted(), p.summary.lines, "{:?}", p.summary);
}

fn ns(d: &str, t: &str) -> Option<i64> {
    let (y, m, dd) = (
        d[..4].parse::<i64>().expect("y"),
        d[5..7].parse::<u32>().expect("m"),
        d[8..10].parse::<u32>().expect("d"),
    );
    let (h, mi, s) = (
        t[..2].parse::<i64>().expect("h"),
        t[3..5].parse::<i64>().expect("m"),
        t[6..8].parse::<i64>().expect("s"),
    );
    let days = edgewise::logs::time::days_from_civil(y, m, dd);
    Some(((days * 86_400) + h * 3600 + mi * 60 + s) * 1_000_000_000)
}

#[test]
fn pfirewall_samples() {
    let p = parse("pfirewall.log");
    assert_eq!(p.summary.format, Some(LogFormat::Pfirewall));
    assert!(p.summary.detected);
    assert_eq!(p.summary.lines, 8);
    assert_eq!(p.summary.comment, 4);
    assert_eq!(p.summary.skipped.get("empty"), Some(&1));
    assert_eq!(p.summary.used, 3);
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.line, 6);
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.transport, 17);
    assert_eq!(r.src, (ip("123.45.78.90"), 137));
    assert_eq!(r.dst, (ip("123.156.78.255"), 137));
    assert_eq!(r.bytes, Some(78));
    assert_eq!(r.ts_ns, ns("2005-04-11", "08:05:57"));
    let r = &p.records[2];
    assert_eq!(r.src, (ip("fe80::3680:dff:fe01:9e88"), 5353));
    assert_eq!(r.dst, (ip("ff02::fb"), 5353));
    assert_eq!(r.bytes, Some(89));
    // --tz-offset moves local times.
    let p = logs::parse_file(
        &data("pfirewall.log"),
        LogOptions {
            format: Some(LogFormat::Pfirewall),
            tz: 3600.into(),
            reference_ns: None,
        },
    )
    .expect("read");
    assert!(!p.summary.detected);
    assert_eq!(
        p.records[0].ts_ns,
        ns("2005-04-11", "07:05:57"),
        "08:05:57 at +01:00 is 07:05:57 UTC"
    );
    assert!(
        p.summary.time_basis.contains("+01:00"),
        "{}",
        p.summary.time_basis
    );
}

#[test]
fn asa_samples() {
    let p = parse("asa.log");
    assert_eq!(p.summary.format, Some(LogFormat::Asa));
    assert_eq!((p.summary.lines, p.summary.used), (5, 5));
    assert_totals(&p);
    let r: &Record = &p.records[0];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.transport, 6);
    // Outbound: the originator is the second ("to") socket.
    assert_eq!(r.src, (ip("10.123.3.42"), 4952));
    assert_eq!(r.dst, (ip("192.0.2.43"), 443));
    assert_eq!(r.session, Some(89_743_274));
    assert_eq!(r.ts_ns, ns("2013-04-29", "12:59:50"));
    let r = &p.records[1];
    assert_eq!(r.action, Action::Teardown);
    assert_eq!(r.session, Some(447_234));
    assert_eq!(r.bytes, Some(134_781));
    assert_eq!(r.duration_ns, Some(68_000_000_000));
    let r = &p.records[2];
    assert_eq!((r.transport, r.bytes), (17, Some(140)));
    assert_eq!(r.duration_ns, Some((3600 + 23 * 60 + 45) * 1_000_000_000));
    let r = &p.records[3];
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.src, (ip("192.0.2.126"), 53638));
    assert_eq!(r.dst, (ip("10.0.0.132"), 8111));
    assert_eq!(r.rule.as_deref(), Some("acl_out"));
    let r = &p.records[4];
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.transport, 17);
    assert_eq!(r.src, (ip("172.29.2.101"), 1039));
    assert_eq!(r.dst, (ip("192.0.2.10"), 53));
    assert_eq!(r.rule.as_deref(), Some("inside"));
    assert_eq!(r.packets, Some(1));
    assert_eq!(r.ts_ns, ns("2013-04-24", "16:00:28"));
}

#[test]
fn asa_built_and_teardown_make_one_flow() {
    let log = b"Apr 29 2013 12:59:50: %ASA-6-302015: Built inbound UDP connection 7 for outside:203.0.113.5/3478 (203.0.113.5/3478) to dmz:10.45.16.30/3478 (131.107.155.30/3478)\n\
Apr 29 2013 13:00:50: %ASA-6-302016: Teardown UDP connection 7 for outside:203.0.113.5/3478 to dmz:10.45.16.30/3478 duration 0:01:00 bytes 5000\n\
Apr 29 2013 13:00:51: %ASA-6-302020: Built inbound ICMP connection for faddr 1.2.3.4/0 gaddr 5.6.7.8/0 laddr 5.6.7.8/0\n";
    let p = parse_str(log, None);
    assert_eq!(p.summary.skipped.get("other_message_id"), Some(&1));
    let (flows, info) = logs::to_flow::flows(&p);
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f.initiator.ip, ip("203.0.113.5"));
    assert_eq!(f.responder.ip, ip("10.45.16.30"));
    assert_eq!(f.orig.wire_bytes, 5000);
    assert_eq!(f.orig.first_frame(), Some(1));
    assert_eq!(f.orig.last_frame(), Some(2));
    assert_eq!(info[0].lines, vec![1, 2]);
    assert_eq!(f.last_ts_ns() - f.first_ts_ns(), 60_000_000_000);
}

#[test]
fn panos_samples() {
    let p = parse("panos.log");
    assert_eq!(p.summary.format, Some(LogFormat::Panos));
    assert_eq!(p.summary.used, 2);
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.src, (ip("192.168.15.207"), 55113));
    assert_eq!(r.dst, (ip("175.16.199.1"), 443));
    assert_eq!(r.transport, 6);
    assert_eq!((r.bytes, r.resp_bytes), (Some(1758), Some(5976)));
    assert_eq!((r.packets, r.resp_packets), (Some(16), Some(20)));
    assert_eq!(r.rule.as_deref(), Some("new_outbound_from_trust"));
    assert_eq!(r.session, Some(22751));
    assert_eq!(r.ts_ns, ns("2018-11-30", "16:09:07"));
    assert_eq!(r.duration_ns, Some(586_000_000_000));
    let r = &p.records[1];
    // Subtype deny: denied, whatever the action column says.
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.transport, 1);
    assert_eq!(r.src, (ip("192.168.15.224"), 0));
}

#[test]
fn fortigate_samples() {
    let p = parse("fortigate.log");
    assert_eq!(p.summary.format, Some(LogFormat::Fortigate));
    assert_eq!(p.summary.used, 2);
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.src, (ip("10.1.100.11"), 58012));
    assert_eq!(r.dst, (ip("81.2.69.142"), 80));
    assert_eq!(r.ts_ns, Some(1_557_513_467_369_913_239));
    assert_eq!(
        (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
        (Some(1188), Some(1224), Some(17), Some(16))
    );
    assert_eq!(r.session, Some(105_048));
    assert_eq!(r.rule.as_deref(), Some("policy 1"));
    assert_eq!(r.duration_ns, Some(116_000_000_000));
    assert_eq!(p.records[1].dst, (ip("172.16.200.2"), 443));
}

#[test]
fn zeek_samples() {
    for (name, format) in [
        ("zeek-conn.log", LogFormat::ZeekTsv),
        ("zeek-conn.json", LogFormat::ZeekJson),
    ] {
        let p = parse(name);
        assert_eq!(p.summary.format, Some(format), "{name}");
        assert_eq!(p.summary.used, 2, "{name}");
        assert_totals(&p);
        let r = &p.records[0];
        assert_eq!(r.ts_ns, Some(1_258_531_221_486_539_000));
        assert_eq!(r.src, (ip("192.168.1.102"), 68));
        assert_eq!(r.dst, (ip("192.168.1.1"), 67));
        assert_eq!(r.transport, 17);
        assert_eq!(
            (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
            (Some(301), Some(300), Some(1), Some(1))
        );
        let r = &p.records[1];
        assert_eq!((r.packets, r.resp_packets), (Some(7), Some(0)));
        assert_eq!(r.dst, (ip("192.168.1.255"), 137));
    }
    let p = parse("zeek-conn.log");
    assert_eq!(p.summary.comment, 8);
}

#[test]
fn malformed_lines_are_counted_with_reasons() {
    let mut log = Vec::new();
    log.extend_from_slice(b"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n");
    log.extend_from_slice(
        b"2019-11-06 12:35:19 DROP UDP 5.5.3.197 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE\n",
    ); // 2 used
    log.extend_from_slice(b"2019-11-06 12:35:19 DROP UDP 5.5.3.197\n"); // 3 short
    log.extend_from_slice(
        b"2019-11-06 12:35:19 DROP UDP 5.5.3.197 224.0.0.251 53x3 5353 59 - - - - - - - RECEIVE\n",
    ); // 4 bad port
    log.extend_from_slice(
        b"2019-11-06 12:35:19 DROP UDP fe80::1 ff02::fb 5353 5353 89 - - - - - - - RECEIVE\n",
    ); // 5 IPv6 used
    log.extend_from_slice(b"2019-11-06 12:35:19 DROP UDP 5.5.3.197 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE extra\n"); // 6 extra
    log.extend_from_slice(b"2019-11-06 12:35:19 DROP UDP 5.5.3.197\x00 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE\n"); // 7 NUL
    log.extend_from_slice(b"2019-11-06 12:35:19 ");
    log.extend(std::iter::repeat_n(b'x', 100 * 1024));
    log.push(b'\n'); // 8 too long
    log.extend_from_slice(
        b"2019-13-06 12:35:19 DROP UDP 5.5.3.197 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE\n",
    ); // 9 bad time
    log.extend_from_slice(
        b"2019-11-06 12:35:19 ALLOW TCP 10.0.0.1 10.0.0.2 50000 443 0 - - - - - - - SEND",
    ); // 10 used, no newline
    let p = parse_str(&log, None);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Pfirewall));
    assert_eq!(s.lines, 10);
    assert_totals(&p);
    assert_eq!(s.used, 3);
    let expect: BTreeMap<&str, u64> = [
        ("short", 1),
        ("bad_port", 1),
        ("extra_fields", 1),
        ("nul_byte", 1),
        ("line_too_long", 1),
        ("bad_timestamp", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(s.unparsable, expect);
    let lines: Vec<(u64, &str)> = s.examples.iter().map(|b| (b.line, b.reason)).collect();
    assert_eq!(
        lines,
        vec![
            (3, "short"),
            (4, "bad_port"),
            (6, "extra_fields"),
            (7, "nul_byte"),
            (8, "line_too_long"),
            (9, "bad_timestamp")
        ]
    );
    assert!(s.examples[4].text.len() <= 200);
    assert_eq!(p.records.last().map(|r| r.line), Some(10));
    assert_eq!(p.records[1].src.0, ip("fe80::1"));
}

#[test]
fn only_ten_examples_and_fields_reread_mid_file() {
    let mut log =
        String::from("#Fields: date time action protocol src-ip dst-ip src-port dst-port\n");
    for _ in 0..15 {
        log.push_str("garbage\n");
    }
    log.push_str("2019-11-06 12:35:19 ALLOW TCP 10.0.0.1 10.0.0.2 50000 443\n");
    // A new header with another order, as after a log restart.
    log.push_str("#Fields: action date time protocol dst-ip src-ip dst-port src-port\n");
    log.push_str("DROP 2019-11-06 12:35:20 UDP 10.0.0.2 10.0.0.1 3478 50001\n");
    let p = parse_str(log.as_bytes(), Some(LogFormat::Pfirewall));
    assert_eq!(p.summary.examples.len(), 10);
    assert_eq!(p.summary.unparsable_total(), 15);
    assert_totals(&p);
    let r = &p.records[1];
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.src, (ip("10.0.0.1"), 50001));
    assert_eq!(r.dst, (ip("10.0.0.2"), 3478));
}

#[test]
fn parse_line_is_pure() {
    let h = logs::Header::default();
    assert_eq!(
        logs::parse_line(
            LogFormat::Asa,
            &h,
            1,
            "Apr 29 2013 12:59:50: %ASA-6-111008: User 'enable_15' executed",
            0
        ),
        Outcome::Skipped("other_message_id")
    );
}

fn proto_name(t: u8) -> &'static str {
    match t {
        6 => "TCP",
        17 => "UDP",
        1 => "ICMP",
        58 => "ICMPv6",
        _ => "-",
    }
}

/// A pfirewall.log with one ALLOW line per flow the scenario generates.
fn mirror_log(expected: &[edgewise::generate::ExpectedFlow]) -> String {
    let mut s = String::from("#Version: 1.5\n#Software: Microsoft Windows Firewall\n#Time Format: UTC\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n");
    for (i, e) in expected.iter().enumerate() {
        let (sp, dp, it, ic) = if matches!(e.transport, 6 | 17) {
            (
                e.initiator.port().to_string(),
                e.responder.port().to_string(),
                "-".to_string(),
                "-".to_string(),
            )
        } else {
            (
                "-".into(),
                "-".into(),
                e.initiator.port().to_string(),
                e.responder.port().to_string(),
            )
        };
        s.push_str(&format!(
            "2024-01-01 10:00:{:02} ALLOW {} {} {} {sp} {dp} {} - - - - {it} {ic} - SEND\n",
            i % 60,
            proto_name(e.transport),
            e.initiator.ip(),
            e.responder.ip(),
            e.orig_wire_bytes
        ));
    }
    s
}

type Tuple = (String, String, String);

fn verdicts_by_tuple(doc: &serde_json::Value) -> BTreeMap<Tuple, String> {
    let mut out = BTreeMap::new();
    for f in doc["flows"].as_array().expect("flows") {
        let ep =
            |e: &serde_json::Value| format!("{}:{}", e["ip"].as_str().unwrap_or("?"), e["port"]);
        let mut a = ep(&f["initiator"]);
        let mut b = ep(&f["responder"]);
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        out.insert(
            (a, b, f["transport"].as_str().unwrap_or("?").to_string()),
            f["verdict"].as_str().unwrap_or("?").to_string(),
        );
    }
    out
}

#[test]
fn log_mirroring_a_capture_gets_the_same_verdicts() {
    let cap = edgewise::generate::scenario("audit-violations").expect("scenario");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("pfirewall.log");
    std::fs::write(&log, mirror_log(&cap.expected)).expect("write");
    let topo = captures("topology.toml");
    let pcap = captures("audit-violations.pcapng");
    let topo_s = topo.to_str().expect("path");
    let from_capture = run(&[
        "audit",
        "-r",
        pcap.to_str().expect("path"),
        "--topology",
        topo_s,
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert!(
        from_capture.status.success(),
        "{}",
        String::from_utf8_lossy(&from_capture.stderr)
    );
    let from_log = run(&[
        "audit",
        "--log",
        log.to_str().expect("path"),
        "--topology",
        topo_s,
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    assert!(
        from_log.status.success(),
        "{}",
        String::from_utf8_lossy(&from_log.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&from_capture.stdout).expect("json");
    let b: serde_json::Value = serde_json::from_slice(&from_log.stdout).expect("json");
    let va = verdicts_by_tuple(&a);
    let vb = verdicts_by_tuple(&b);
    assert_eq!(vb.len(), cap.expected.len());
    assert!(!va.is_empty());
    for (k, v) in &va {
        if v == "protocol-mismatch" {
            // A firewall log has no payload: the flow is judged by its ports alone, which the
            // matrix permits; only the capture shows it carries another service's protocol.
            assert_eq!(
                vb.get(k).map(String::as_str),
                Some("permitted"),
                "flow {k:?}"
            );
            continue;
        }
        assert_eq!(vb.get(k), Some(v), "flow {k:?}");
    }
    assert_eq!(b["log"]["used"], cap.expected.len());
    assert_eq!(b["log"]["format"], "pfirewall");
}

#[test]
fn denied_access_edge_5061_raises_fw1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("pfirewall.log");
    let mut f = std::fs::File::create(&log).expect("create");
    writeln!(f, "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path").expect("w");
    // Federation partner fabrikam's Access Edge to ours on 5061, dropped three times.
    for s in ["01", "04", "10"] {
        writeln!(f, "2024-01-01 10:00:{s} DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE").expect("w");
    }
    // Undocumented: telnet to the Edge, dropped.
    writeln!(
        f,
        "2024-01-01 10:00:11 DROP TCP 203.0.113.9 10.45.16.10 40000 23 52 S - - - - - - RECEIVE"
    )
    .expect("w");
    drop(f);
    let topo = captures("topology.toml");
    let out = run(&[
        "audit",
        "--log",
        log.to_str().expect("path"),
        "--topology",
        topo.to_str().expect("path"),
        "--format",
        "json",
        "--fail-on",
        "error",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let findings = doc["findings"].as_array().expect("findings");
    let fw1: Vec<_> = findings.iter().filter(|f| f["id"] == "FW1").collect();
    assert_eq!(fw1.len(), 1, "{findings:#?}");
    assert_eq!(fw1[0]["severity"], "error");
    let ev = fw1[0]["evidence"].as_array().expect("evidence");
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0]["responder"],
        serde_json::json!({"ip": "10.45.16.10", "port": 5061})
    );
    assert_eq!(ev[0]["first_frame"], 2);
    assert!(
        ev[0]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("log lines 2, 3, 4"),
        "{}",
        ev[0]["detail"]
    );
    let fw2: Vec<_> = findings.iter().filter(|f| f["id"] == "FW2").collect();
    assert_eq!(fw2.len(), 1);
    assert_eq!(fw2[0]["severity"], "info");
    assert!(fw2[0]["evidence"].as_array().expect("ev").is_empty());
}

#[test]
fn many_lines_parse_in_order_and_count() {
    // More lines than one parse batch, so batches are merged in order.
    let mut s =
        String::from("#Fields: date time action protocol src-ip dst-ip src-port dst-port\n");
    let n = 40_000u32;
    for i in 0..n {
        s.push_str(&format!(
            "2024-01-01 10:00:00 ALLOW UDP 10.0.{}.{} 10.45.16.30 {} 3478\n",
            (i >> 8) & 255,
            i & 255,
            1024 + (i % 60000)
        ));
    }
    let p = parse_str(s.as_bytes(), None);
    assert_eq!(p.summary.used, u64::from(n));
    assert_totals(&p);
    assert!(p.records.windows(2).all(|w| w[0].line < w[1].line));
}

/// Parse throughput on a large generated log: `EDGEWISE_LOG_BENCH=FILE cargo test --release
/// --test integration logs::parse_throughput -- --ignored --nocapture`.
#[test]
#[ignore]
fn parse_throughput() {
    let Some(path) = std::env::var_os("EDGEWISE_LOG_BENCH") else {
        return;
    };
    let t = std::time::Instant::now();
    let p = logs::parse_file(Path::new(&path), LogOptions::default()).expect("read");
    let parse_s = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let (flows, _) = logs::to_flow::flows(&p);
    let flow_s = t.elapsed().as_secs_f64();
    assert_totals(&p);
    eprintln!(
        "{} lines in {parse_s:.2} s: {:.0} lines/s parsing ({} threads); {} flows in {flow_s:.2} s",
        p.summary.lines,
        p.summary.lines as f64 / parse_s,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        flows.len()
    );
}

mod mutation {
    //! Seeded mutation of log lines: any mix of the formats' own tokens, for every format,
    //! never panics and every line ends in exactly one bucket.

    use edgewise::logs::{parse_reader, LogFormat, LogOptions};
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "ALLOW",
        "DROP",
        "TCP",
        "UDP",
        "ICMP",
        "10.45.16.10",
        "203.0.113.5",
        "2001:db8::1",
        "5061",
        "443",
        "-",
        "65536",
        "-1",
        "%ASA-6-302013:",
        "%ASA-4-106023:",
        "Built",
        "inbound",
        "outbound",
        "connection",
        "for",
        "outside:203.0.113.5/5061",
        "inside:10.45.16.10/443",
        "TRAFFIC",
        "end",
        "deny",
        "type=\"traffic\"",
        "srcip=10.45.16.10",
        "dstport=5061",
        "action=\"deny\"",
        "proto=6",
        "2026-11-02",
        "09:00:00",
        "Nov",
        "2",
        "1793610000.123",
        "#fields",
        "#separator",
        "\t",
        ",",
        ",,,,",
        "=",
        "\"",
        "\0",
        "é",
        "999999999999999999999",
        "Dec  5 10:12:01 fw kernel:",
        "[12345.678901]",
        "EDGE-DROP",
        "IN=eth0",
        "OUT=",
        "SRC=203.0.113.5",
        "DST=2001:db8::1",
        "PROTO=TCP",
        "SPT=51514",
        "DPT=5061",
        "TYPE=3",
        "SYN",
        "[SRC=10.0.0.1",
        "]",
        "filterlog[1]:",
        "<134>1 2026-12-05T10:12:01+01:00 h filterlog 1 - [meta x=\"]\"]",
        "5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,6,tcp,60,",
        "203.0.113.5,10.45.16.10,51514,5061,0,S",
        ",6,0x00,0x00000,57,tcp,6,80,",
        "2026-13-45T99:99:99+99:99",
        "CEF:0|V|P|1|1|n|5|",
        "CEF: 0|",
        "\\|",
        "\\=",
        "src=203.0.113.5",
        "dst=10.45.16.10",
        "spt=51514",
        "dpt=5061",
        "act=deny",
        "rt=1764929521000",
        "rt=Dec 05 2026 10:12:01 UTC",
        "c6a2=2001:db8::1",
        "cs1Label=Rule",
        "cs1=x",
        "LEEF:1.0|V|P|1|1|",
        "LEEF:2.0|V|P|1|1|^|",
        "x5E|",
        "^",
        "#011",
        "srcPort=51514",
        "dstPort=5061",
        "devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSX",
        "devTime=2026-12-05T10:12:01.5Z",
        "CheckPoint 1 - [action:\"Drop\";",
        "src:\"203.0.113.5\";",
        "service:\"5061\";",
        "s_port:\"1\"]",
        "elapsed:\"0:00:99\"",
        "time:\"1764929521\"",
        "\\\"",
        "[Fields@1.3.6.1.4.1.2620",
    ];

    fn line() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(TOKENS), 0..30).prop_map(|t| t.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_line_in_any_format_is_accounted_for(
            lines in proptest::collection::vec(line(), 1..40),
            format in proptest::sample::select(vec![
                LogFormat::Pfirewall, LogFormat::Asa, LogFormat::Panos, LogFormat::Fortigate,
                LogFormat::ZeekTsv, LogFormat::ZeekJson, LogFormat::Netfilter,
                LogFormat::Filterlog, LogFormat::Cef, LogFormat::Leef, LogFormat::Checkpoint,
            ]),
        ) {
            let text = lines.join("\n");
            let parsed = parse_reader(text.as_bytes(), LogOptions { format: Some(format), tz: Default::default(), reference_ns: None })
                .expect("reading from memory");
            let s = &parsed.summary;
            // A line is what `wc -l` counts, plus a last line without its newline.
            prop_assert_eq!(s.lines, text.lines().count() as u64);
            prop_assert_eq!(s.used + s.comment + s.skipped_total() + s.unparsable_total(), s.lines);
            prop_assert_eq!(parsed.records.len() as u64, s.used);
        }
    }
}

/// Issue 11: an ASA line with an absurd year panicked on overflow in debug builds and wrapped
/// to a garbage time in release. Each such line is now counted as `time_out_of_range`, the
/// others are audited, and the run says it is partial.
#[test]
fn asa_absurd_years_are_counted_not_misdated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("asa.log");
    let body = "for outside:198.51.100.10/5061 (198.51.100.10/5061) to inside:10.45.16.10/51700 (131.107.155.10/51700)";
    let mut text = String::new();
    // 9223372036854775807 overflowed the day arithmetic (a panic in debug builds, exit 101).
    let years = [
        "2024",
        "99999",
        "0",
        "9223372036854775807",
        "99999999999999999999999",
        "1969",
    ];
    for (i, year) in years.iter().enumerate() {
        text.push_str(&format!(
            "Jan 15 {year} 10:00:0{i}: %ASA-6-302013: Built outbound TCP connection {} {body}\n",
            100 + i
        ));
    }
    std::fs::write(&log, text).expect("write");
    let p = log.to_str().expect("path");
    let out = run(&[
        "audit",
        "--log",
        p,
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "partial: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["log"]["used"], 1);
    assert_eq!(doc["log"]["unparsable"]["time_out_of_range"], 5);
    // The one good line keeps its real time.
    assert_eq!(doc["flows"].as_array().map(Vec::len), Some(1));
    let first = doc["flows"][0]["first_ts"].as_str().unwrap_or("");
    assert!(first.starts_with("2024-01-15T10:00:00"), "{first}");
    let text = run(&["audit", "--log", p, "--fail-on", "never"]);
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(
        report.contains("unparsable time_out_of_range: 5") && report.contains("Jan 15 99999"),
        "{report}"
    );
}

/// An audit of a log file (text written to a temporary file) against the bundled captures'
/// topology, as JSON; the exit status and the document.
fn audit_log_json(name: &str, text: &str) -> (i32, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join(name);
    std::fs::write(&log, text).expect("write");
    let topo = captures("topology.toml");
    let out = run(&[
        "audit",
        "-r",
        log.to_str().expect("path"),
        "--topology",
        topo.to_str().expect("path"),
        "--format",
        "json",
    ]);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), doc)
}

/// Each flow's `conn_state`, by `initiator -> responder`.
fn states(doc: &serde_json::Value) -> BTreeMap<String, String> {
    doc["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            let ep = |e: &serde_json::Value| {
                format!("{}:{}", e["ip"].as_str().unwrap_or("?"), e["port"])
            };
            (
                format!("{} -> {}", ep(&f["initiator"]), ep(&f["responder"])),
                f["conn_state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn finding_ids(doc: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().unwrap_or("?").to_string())
        .collect();
    ids.sort();
    ids
}

fn skipped_needs(doc: &serde_json::Value, id: &str) -> String {
    doc["skipped_checks"]
        .as_array()
        .expect("skipped_checks")
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["needs"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn expect_states(doc: &serde_json::Value, want: &[(&str, &str)]) {
    let got = states(doc);
    for (flow, state) in want {
        assert_eq!(
            got.get(*flow).map(String::as_str),
            Some(*state),
            "{flow} in {got:#?}"
        );
    }
}

/// Issue 12: a 302014 "TCP FINs" with 10,567 bytes showed as S0, and a SYN Timeout towards a
/// partner's 5061 raised no F1. Teardown reasons now give the capture path's states.
#[test]
fn asa_teardown_reasons_give_connection_states() {
    let built = |id: u32, dir: &str, for_: &str, to: &str| {
        format!("Jan 15 2024 10:00:{id:02}: %ASA-6-302013: Built {dir} TCP connection {id} for outside:{for_} ({for_}) to inside:{to} ({to})\n")
    };
    let down = |id: u32, for_: &str, to: &str, rest: &str| {
        format!("Jan 15 2024 10:00:{:02}: %ASA-6-302014: Teardown TCP connection {id} for outside:{for_} to inside:{to} duration 0:00:30 {rest}\n", id + 30)
    };
    let mut log = String::new();
    // Outbound federation to fabrikam, never answered.
    log += &built(1, "outbound", "198.51.100.10/5061", "10.45.16.10/51700");
    log += &down(
        1,
        "198.51.100.10/5061",
        "10.45.16.10/51700",
        "bytes 0 SYN Timeout",
    );
    // Outbound federation elsewhere, completed.
    log += &built(2, "outbound", "198.51.100.20/5061", "10.45.16.10/51800");
    log += &down(
        2,
        "198.51.100.20/5061",
        "10.45.16.10/51800",
        "bytes 10567 TCP FINs",
    );
    // Inbound federation refused by the Edge (a reset from the inside, nothing carried).
    log += &built(3, "inbound", "198.51.100.10/60200", "10.45.16.10/5061");
    log += &down(
        3,
        "198.51.100.10/60200",
        "10.45.16.10/5061",
        "bytes 0 TCP Reset-I",
    );
    // A remote user's TCP 443 to the A/V Edge, reset by the client after data.
    log += &built(4, "inbound", "203.0.113.25/51250", "10.45.16.30/443");
    log += &down(
        4,
        "203.0.113.25/51250",
        "10.45.16.30/443",
        "bytes 4400 TCP Reset-O",
    );
    // Built, with no teardown in the log: how it went is not recorded.
    log += &built(5, "inbound", "203.0.113.26/51251", "10.45.16.30/443");
    let (code, doc) = audit_log_json("asa.log", &log);
    assert_eq!(code, 1, "F1 and F3 are errors");
    expect_states(
        &doc,
        &[
            ("10.45.16.10:51700 -> 198.51.100.10:5061", "S0"),
            ("10.45.16.10:51800 -> 198.51.100.20:5061", "SF"),
            ("198.51.100.10:60200 -> 10.45.16.10:5061", "REJ"),
            ("203.0.113.25:51250 -> 10.45.16.30:443", "RSTO"),
            ("203.0.113.26:51251 -> 10.45.16.30:443", "OTH"),
        ],
    );
    assert_eq!(finding_ids(&doc), vec!["F1", "F3", "T2"]);
    let f1 = &doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "F1")
        .expect("F1")["title"];
    assert!(f1.as_str().unwrap_or("").contains("fabrikam.com"), "{f1}");
    let why = skipped_needs(&doc, "F1-F3, D2, CRL1, A2, A4, A11, A13-A15, I2, I3, I5");
    assert!(
        why.contains("for 1 of 5 TCP flows") && why.contains("a Built line without its Teardown"),
        "{why}"
    );
    // UDP answers are never told by an ASA log.
    assert!(doc["log"]["facts"]["replies"]["not"].is_string());
}

/// A PAN-OS TRAFFIC line with the fields that matter set (the rest from the public sample).
fn panos_line(fields: &[(usize, &str)]) -> String {
    let sample = "Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 16:09:07,192.168.15.207,175.16.199.1,192.168.1.63,175.16.199.1,new_outbound_from_trust,,,apple-maps,vsys1,trust,untrust,ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 16:09:07,22751,1,55113,443,16418,443,0x400053,tcp,allow,7734,1758,5976,36,2018/11/30 15:59:04,586,computer-and-internet-info,0,32091112,0x0,192.168.0.0-192.168.255.255,United States,0,16,20,tcp-fin,0,0,0,0,,PA-220,from-policy,,,0,,0,,N/A,0,0,0,0";
    let mut c: Vec<&str> = sample.split(',').collect();
    for (i, v) in fields {
        c[*i] = v;
    }
    c.join(",")
}

/// PAN-OS session end reasons and deny actions give the same states.
#[test]
fn panos_end_reasons_give_connection_states() {
    let conn = |sess: &str, src: &str, sp: &str, dst: &str, dp: &str, rest: &[(usize, &str)]| {
        let mut f = vec![(22, sess), (7, src), (24, sp), (8, dst), (25, dp)];
        f.extend_from_slice(rest);
        panos_line(&f) + "\n"
    };
    let mut log = String::new();
    // Outbound 5061 aged out with nothing received: unanswered.
    log += &conn(
        "1",
        "10.45.16.10",
        "51700",
        "198.51.100.10",
        "5061",
        &[(44, "3"), (45, "0"), (46, "aged-out")],
    );
    // Inbound 5061 reset by the server with the reset as its only packet: refused.
    log += &conn(
        "2",
        "198.51.100.10",
        "60200",
        "10.45.16.10",
        "5061",
        &[(44, "1"), (45, "1"), (46, "tcp-rst-from-server")],
    );
    // A completed session.
    log += &conn(
        "3",
        "203.0.113.25",
        "51250",
        "10.45.16.30",
        "443",
        &[(46, "tcp-fin")],
    );
    // A session start: no outcome yet.
    log += &conn(
        "4",
        "203.0.113.26",
        "51251",
        "10.45.16.30",
        "443",
        &[(4, "start"), (45, "0"), (46, "n/a")],
    );
    let (code, doc) = audit_log_json("panos.log", &log);
    assert_eq!(code, 1);
    expect_states(
        &doc,
        &[
            ("10.45.16.10:51700 -> 198.51.100.10:5061", "S0"),
            ("198.51.100.10:60200 -> 10.45.16.10:5061", "REJ"),
            ("203.0.113.25:51250 -> 10.45.16.30:443", "SF"),
            ("203.0.113.26:51251 -> 10.45.16.30:443", "OTH"),
        ],
    );
    let ids = finding_ids(&doc);
    assert!(
        ids.contains(&"F1".to_string()) && ids.contains(&"F3".to_string()),
        "{ids:?}"
    );
    assert!(
        skipped_needs(&doc, "F1-F3, D2, CRL1, A2, A4, A11, A13-A15, I2, I3, I5")
            .contains("for 1 of 4 TCP flows"),
        "{:#}",
        doc["skipped_checks"]
    );
}

/// FortiGate actions (and `status` of older versions) give the same states.
#[test]
fn fortigate_actions_give_connection_states() {
    let line = |sess: u32,
                key: &str,
                act: &str,
                src: &str,
                sp: u16,
                dst: &str,
                dp: u16,
                rcvd: u32| {
        format!("date=2024-01-15 time=10:00:{sess:02} logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" srcip={src} srcport={sp} dstip={dst} dstport={dp} sessionid={sess} proto=6 {key}=\"{act}\" policyid=1 duration=30 sentbyte=180 rcvdbyte={} sentpkt=3 rcvdpkt={rcvd}\n", rcvd * 60)
    };
    let mut log = String::new();
    log += &line(
        1,
        "action",
        "timeout",
        "10.45.16.10",
        51700,
        "198.51.100.10",
        5061,
        0,
    );
    log += &line(
        2,
        "action",
        "server-rst",
        "198.51.100.10",
        60200,
        "10.45.16.10",
        5061,
        1,
    );
    log += &line(
        3,
        "status",
        "close",
        "203.0.113.25",
        51250,
        "10.45.16.30",
        443,
        12,
    );
    log += &line(
        4,
        "action",
        "client-rst",
        "203.0.113.26",
        51251,
        "10.45.16.30",
        443,
        8,
    );
    log += &line(
        5,
        "action",
        "accept",
        "203.0.113.27",
        51252,
        "10.45.16.30",
        443,
        8,
    );
    let (code, doc) = audit_log_json("fortigate.log", &log);
    assert_eq!(code, 1);
    expect_states(
        &doc,
        &[
            ("10.45.16.10:51700 -> 198.51.100.10:5061", "S0"),
            ("198.51.100.10:60200 -> 10.45.16.10:5061", "REJ"),
            ("203.0.113.25:51250 -> 10.45.16.30:443", "SF"),
            ("203.0.113.26:51251 -> 10.45.16.30:443", "RSTO"),
            ("203.0.113.27:51252 -> 10.45.16.30:443", "OTH"),
        ],
    );
    let ids = finding_ids(&doc);
    assert!(
        ids.contains(&"F1".to_string()) && ids.contains(&"F3".to_string()),
        "{ids:?}"
    );
}

/// Issue 12: a pfirewall.log ALLOW of outbound 5061 appeared in a call timeline as "federation
/// signalling failed ... no answer", while the report said unanswered-traffic checks were
/// skipped. An ALLOW tells no outcome: it is never a failure, never F1, and the skipped check
/// says why; a dropped SYN still went unanswered.
#[test]
fn pfirewall_allow_is_never_a_failed_connection() {
    let log = "#Version: 1.5\n#Software: Microsoft Windows Firewall\n#Time Format: Local\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n\
2024-01-01 10:00:00 ALLOW TCP 10.45.16.10 198.51.100.10 51700 5061 0 - - - - - - - SEND\n\
2024-01-01 10:00:01 ALLOW UDP 203.0.113.44 10.45.16.30 50060 3478 0 - - - - - - - RECEIVE\n\
2024-01-01 10:00:02 DROP TCP 198.51.100.10 10.45.16.10 60200 5061 52 S - - - - - - RECEIVE\n";
    let (code, doc) = audit_log_json("pfirewall.log", log);
    assert_eq!(code, 1, "F3 and FW1: the dropped inbound SYN");
    let ids = finding_ids(&doc);
    assert!(!ids.contains(&"F1".to_string()), "{ids:?}");
    assert!(!ids.contains(&"A1".to_string()), "{ids:?}");
    assert!(
        ids.contains(&"F3".to_string()) && ids.contains(&"FW1".to_string()),
        "{ids:?}"
    );
    expect_states(
        &doc,
        &[
            ("10.45.16.10:51700 -> 198.51.100.10:5061", "OTH"),
            ("198.51.100.10:60200 -> 10.45.16.10:5061", "S0"),
        ],
    );
    let why = skipped_needs(&doc, "F1-F3, D2, CRL1, A2, A4, A11, A13-A15, I2, I3, I5");
    assert!(
        why.contains("for 1 of 2 TCP flows")
            && why.contains("allowed a connection (ALLOW), not whether it was answered"),
        "{why}"
    );
    assert!(
        skipped_needs(&doc, "A1, A3, A5, A7, A15, D2, A11, N5")
            .contains("for 1 of 1 datagram flows"),
        "{:#}",
        doc["skipped_checks"]
    );
    // The timeline: the allowed leg is not the failure, and says why.
    let calls = doc["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let summary = calls[0]["summary"].as_str().unwrap_or("");
    assert!(
        summary.contains("198.51.100.10:60200 -> 10.45.16.10:5061") && !summary.contains("51700"),
        "{summary}"
    );
    let allowed = calls[0]["legs"]
        .as_array()
        .expect("legs")
        .iter()
        .find(|l| l["initiator"]["port"] == 51700)
        .expect("the allowed leg");
    assert_eq!(allowed["ok"], true);
    assert_eq!(allowed["unrecorded"], true);
    // And in words.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("pfirewall.log");
    std::fs::write(&p, log).expect("write");
    let topo = captures("topology.toml");
    // --wide: each call leg on one line, unwrapped.
    let out = run(&[
        "audit",
        "-r",
        p.to_str().expect("path"),
        "--topology",
        topo.to_str().expect("path"),
        "--wide",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("? +  0.000 s signalling tcp 10.45.16.10:51700 -> 198.51.100.10:5061: allowed; the log does not record whether it was answered"),
        "{text}"
    );
    assert!(
        !text.contains("10.45.16.10:51700 -> 198.51.100.10:5061, one-way")
            && !text.contains("51700 -> 198.51.100.10:5061: one-way"),
        "{text}"
    );
}

mod round_trip {
    //! Issue 12: edgewise's own `--format zeek` (and `zeek-json`) output of a capture, read
    //! back as a log, gives the capture's verdicts and findings. The only differences allowed
    //! are what conn.log cannot carry (payloads), and each must be listed as a skipped check
    //! with that reason, never silently absent.

    use std::collections::{BTreeMap, BTreeSet};

    use super::{captures, verdicts_by_tuple, Tuple};
    use crate::util::run;

    /// Findings only payloads give, and the skipped-check group that must name them.
    const PAYLOAD_ONLY: &[(&str, &str)] = &[
        ("F4", "F4-F10, F12, F14"),
        ("F5", "F4-F10, F12, F14"),
        ("F6", "F4-F10, F12, F14"),
        ("F7", "F4-F10, F12, F14"),
        ("F8", "F4-F10, F12, F14"),
        ("F9", "F4-F10, F12, F14"),
        ("F10", "F4-F10, F12, F14"),
        ("F12", "F4-F10, F12, F14"),
        ("F14", "F4-F10, F12, F14"),
        ("M1", "M1, protocol-mismatch"),
        ("D1", "D1, D3-D5, D7"),
        ("D3", "D1, D3-D5, D7"),
        ("D4", "D1, D3-D5, D7"),
        ("D5", "D1, D3-D5, D7"),
        ("D7", "D1, D3-D5, D7"),
        ("A8", "A8, N1, N3"),
        ("N1", "A8, N1, N3"),
        ("N3", "A8, N1, N3"),
        ("TL1", "TL1-TL5"),
        ("TL2", "TL1-TL5"),
        ("TL3", "TL1-TL5"),
        ("TL4", "TL1-TL5"),
        ("TL5", "TL1-TL5"),
        ("A9", "calls, A9"),
    ];

    fn audit_json(args: &[&str]) -> serde_json::Value {
        let out = run(args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// (id, severity, title) -> the evidence's endpoints, per finding.
    fn findings(doc: &serde_json::Value) -> BTreeMap<(String, String, String), BTreeSet<String>> {
        let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                let ev = f["evidence"]
                    .as_array()
                    .expect("evidence")
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {} -> {}",
                            s(&e["transport"]),
                            s(&e["initiator"]),
                            s(&e["responder"])
                        )
                    })
                    .collect();
                ((s(&f["id"]), s(&f["severity"]), s(&f["title"])), ev)
            })
            .collect()
    }

    /// The reason a skipped group gives, if the log's report lists it as needing payloads.
    fn skipped_for_payload(doc: &serde_json::Value, group: &str) -> bool {
        doc["skipped_checks"]
            .as_array()
            .expect("skipped_checks")
            .iter()
            .any(|s| s["id"] == group && s["needs"].as_str().unwrap_or("").contains("payloads"))
    }

    fn check(name: &str) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pcap = captures(&format!("{name}.pcapng"));
        let pcap = pcap.to_str().expect("path");
        let topo = captures("topology.toml");
        let topo = topo.to_str().expect("path");
        let from_capture = audit_json(&[
            "audit",
            "-q",
            "-r",
            pcap,
            "--topology",
            topo,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        // Both conn.log flavours, from both commands that write them.
        let exports: [(&str, Vec<&str>); 2] = [
            (
                "flows.zeek",
                vec!["flows", "-q", "-r", pcap, "--format", "zeek"],
            ),
            (
                "audit.zeek.json",
                vec![
                    "audit",
                    "-q",
                    "-r",
                    pcap,
                    "--topology",
                    topo,
                    "--format",
                    "zeek-json",
                    "--fail-on",
                    "never",
                ],
            ),
        ];
        for (file, args) in exports {
            let out = run(&args);
            assert!(out.status.success(), "{args:?}");
            let log = dir.path().join(file);
            std::fs::write(&log, &out.stdout).expect("write");
            let log = log.to_str().expect("path");
            for flag in ["-r", "--log"] {
                let from_log = audit_json(&[
                    "audit",
                    flag,
                    log,
                    "--topology",
                    topo,
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                ]);
                let what = format!("{name} via {file} ({flag})");
                compare(&what, &from_capture, &from_log);
            }
        }
    }

    fn compare(what: &str, cap: &serde_json::Value, log: &serde_json::Value) {
        assert_eq!(log["log"]["unparsable"], serde_json::json!({}), "{what}");
        assert_eq!(
            log["log"]["used"].as_u64(),
            cap["flows"].as_array().map(|f| f.len() as u64),
            "{what}: one line per flow"
        );
        // Verdicts, flow by flow.
        let vc: BTreeMap<Tuple, String> = verdicts_by_tuple(cap);
        let vl = verdicts_by_tuple(log);
        assert_eq!(
            vc.keys().collect::<Vec<_>>(),
            vl.keys().collect::<Vec<_>>(),
            "{what}: the same flows"
        );
        for (k, v) in &vc {
            if v == "protocol-mismatch" {
                // Only the payload shows another service's protocol: by its ports it is permitted.
                assert_eq!(vl[k], "permitted", "{what}: {k:?}");
                assert!(skipped_for_payload(log, "M1, protocol-mismatch"), "{what}");
                continue;
            }
            assert_eq!(&vl[k], v, "{what}: {k:?}");
        }
        // Findings: the same ids, severities, titles and evidence, but for payload-only ones,
        // which must be listed as skipped.
        let fc = findings(cap);
        let fl = findings(log);
        for (key, ev) in &fc {
            if let Some((_, group)) = PAYLOAD_ONLY.iter().find(|(id, _)| *id == key.0) {
                assert!(
                    skipped_for_payload(log, group),
                    "{what}: {} not listed",
                    key.0
                );
                continue;
            }
            assert_eq!(
                fl.get(key),
                Some(ev),
                "{what}: finding {key:?} in {:#?}",
                fl.keys()
            );
        }
        for key in fl.keys() {
            assert!(fc.contains_key(key), "{what}: the log adds {key:?}");
        }
        assert_eq!(
            log["headline"]["answer"], cap["headline"]["answer"],
            "{what}: the headline"
        );
    }

    #[test]
    fn edge_sample() {
        check("edge-sample");
        // The refused inbound 5061 connection (REJ) was "answered: 1 / 1 packets" in the log's
        // call timeline.
        let dir = tempfile::tempdir().expect("tempdir");
        let pcap = captures("edge-sample.pcapng");
        let out = run(&[
            "flows",
            "-q",
            "-r",
            pcap.to_str().expect("path"),
            "--format",
            "zeek",
        ]);
        let log = dir.path().join("conn.log");
        std::fs::write(&log, &out.stdout).expect("write");
        let topo = captures("topology.toml");
        let out = run(&[
            "audit",
            "-r",
            log.to_str().expect("path"),
            "--topology",
            topo.to_str().expect("path"),
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("198.51.100.10:60200 -> 10.45.16.10:5061: refused (reset)")
                && !text.contains("answered: 1 / 1 packets"),
            "{text}"
        );
    }

    #[test]
    fn audit_violations() {
        check("audit-violations");
    }

    #[test]
    fn federation_failing() {
        check("federation-failing");
    }

    #[test]
    fn internal_hairpin() {
        check("internal-hairpin");
    }

    #[test]
    fn audit_compliant() {
        check("audit-compliant");
    }
}

/// Issue 11: every parser bounds the numbers it takes from a line. In each format, a line with
/// an absurd time or duration is counted in its bucket (the run partial, exit 3), beside a good
/// line that is audited; nothing panics, in this debug build either.
#[test]
fn absurd_numbers_in_every_format_are_counted() {
    let zeek_header = format!(
        "#separator \\x09\n#fields\t{}\n",
        logs::zeek::DEFAULT_FIELDS.join("\t")
    );
    let zeek = |ts: &str, dur: &str| {
        format!("{ts}\tC1\t10.45.16.10\t51700\t198.51.100.10\t5061\ttcp\t-\t{dur}\t0\t0\tS0\t-\t0\tS\t2\t104\t0\t0\t(empty)\n")
    };
    let forti = |dur: &str| {
        format!("date=2024-01-15 time=10:00:00 logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" srcip=10.45.16.10 srcport=51700 dstip=198.51.100.10 dstport=5061 sessionid=1 proto=6 action=\"timeout\" duration={dur} sentpkt=3 rcvdpkt=0\n")
    };
    let asa = |dur: &str| {
        format!("Jan 15 2024 10:00:30: %ASA-6-302014: Teardown TCP connection 1 for outside:198.51.100.10/5061 to inside:10.45.16.10/51700 duration {dur} bytes 0 SYN Timeout\n")
    };
    let pf = |date: &str| {
        format!("{date} 10:00:00 DROP TCP 198.51.100.10 10.45.16.10 60200 5061 52 S - - - - - - RECEIVE\n")
    };
    let cases: Vec<(&str, String, &str, u64)> = vec![
        (
            "pfirewall.log",
            format!(
                "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n{}{}{}",
                pf("2024-01-15"),
                pf("99999-01-15"),
                pf("0000-01-15")
            ),
            "time_out_of_range",
            2,
        ),
        (
            "asa.log",
            format!("{}{}", asa("0:00:30"), asa("99999999999:00:00")),
            "bad_duration",
            1,
        ),
        (
            "panos.log",
            format!(
                "{}\n{}\n{}\n",
                panos_line(&[(22, "1")]),
                panos_line(&[(22, "2"), (36, "18446744073709551615")]),
                panos_line(&[(22, "3"), (6, "0000/11/30 16:09:07")])
            ),
            "bad_duration",
            1,
        ),
        (
            "fortigate.log",
            format!("{}{}", forti("30"), forti("99999999999999999")),
            "bad_duration",
            1,
        ),
        (
            "conn.log",
            format!(
                "{zeek_header}{}{}{}",
                zeek("1705312800.0", "7.0"),
                zeek("1705312800.0", "1e300"),
                zeek("99999999999999999999", "7.0")
            ),
            "bad_duration",
            1,
        ),
    ];
    for (name, text, bucket, n) in cases {
        let (code, doc) = audit_log_json(name, &text);
        assert_eq!(code, 3, "{name}: partial");
        assert_eq!(doc["log"]["used"], 1, "{name}: {:#}", doc["log"]);
        assert_eq!(
            doc["log"]["unparsable"][bucket], n,
            "{name}: {:#}",
            doc["log"]
        );
    }
}

/// When the syslog formats' sample files were "last written": their BSD times (no year) fall
/// in 2026.
fn end_of_2026() -> Option<i64> {
    ns("2026-12-31", "23:00:00")
}

fn parse_at(name: &str, tz_offset_s: i32) -> ParsedLog {
    logs::parse_file(
        &data(name),
        LogOptions {
            format: None,
            tz: tz_offset_s.into(),
            reference_ns: end_of_2026(),
        },
    )
    .expect("read")
}

/// The kernel's LOG lines (layout of `nf_log_syslog.c`): BSD and RFC 3339 syslog headers, TCP,
/// UDP, ICMP, IPv6 in the kernel's uncompressed form, other kernel and daemon lines skipped.
#[test]
fn netfilter_samples() {
    let p = parse_at("netfilter.log", 0);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Netfilter));
    assert!(s.detected);
    assert_eq!((s.lines, s.used), (7, 5));
    assert_eq!(s.skipped.get("not_netfilter"), Some(&2));
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.line, 2);
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.transport, 6);
    assert_eq!(r.src, (ip("203.0.113.7"), 51514));
    assert_eq!(r.dst, (ip("198.51.100.10"), 5061));
    assert_eq!(r.bytes, Some(60));
    assert_eq!(r.rule.as_deref(), Some("EDGE-DROP"));
    assert_eq!(r.ts_ns, ns("2026-12-05", "10:12:01"));
    let r = &p.records[1];
    assert_eq!((r.action, r.transport), (Action::Allowed, 17));
    assert_eq!(r.src, (ip("203.0.113.44"), 50060));
    assert_eq!(r.dst, (ip("198.51.100.30"), 3478));
    assert_eq!(r.bytes, Some(128), "the IP length, not UDP's");
    assert_eq!(r.rule.as_deref(), Some("[UFW ALLOW]"));
    let r = &p.records[2];
    assert_eq!(
        (r.transport, r.src.1, r.dst.1),
        (1, 8, 0),
        "ICMP echo request"
    );
    let r = &p.records[3];
    assert_eq!(r.src, (ip("2001:db8::7"), 51600));
    assert_eq!(r.dst, (ip("2001:db8:1::10"), 5061));
    assert_eq!(r.action, Action::Denied);
    // An RFC 3339 time with its offset: as written, whatever --tz-offset says.
    assert_eq!(
        r.ts_ns.map(|t| t - 250_000_000),
        ns("2026-12-05", "09:12:04")
    );
    let r = &p.records[4];
    assert_eq!(r.action, Action::Logged, "EDGE-LOG names no decision");
    assert_eq!(r.ts_ns, ns("2026-12-05", "09:12:06"));
    // --tz-offset moves the BSD times only.
    let p = parse_at("netfilter.log", 3600);
    assert_eq!(p.records[0].ts_ns, ns("2026-12-05", "09:12:01"));
    assert_eq!(p.records[4].ts_ns, ns("2026-12-05", "09:12:06"));
    assert!(
        p.summary.time_basis.contains("+01:00")
            && p.summary.time_basis.contains("at or before 2026-12-31"),
        "{}",
        p.summary.time_basis
    );
}

/// pfSense's filterlog (Netgate's "Raw Filter Log Format") and OPNsense's RFC 5424 variant.
#[test]
fn filterlog_samples() {
    let p = parse_at("filterlog.log", 0);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Filterlog));
    assert!(s.detected);
    assert_eq!((s.lines, s.used), (6, 5));
    assert_eq!(s.skipped.get("not_filterlog"), Some(&1));
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.line, 1);
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.transport, 6);
    assert_eq!(r.src, (ip("203.0.113.7"), 51514));
    assert_eq!(r.dst, (ip("198.51.100.10"), 5061));
    assert_eq!(r.bytes, Some(60));
    assert_eq!(r.rule.as_deref(), Some("rule 5 (tracker 1000000103)"));
    assert_eq!(r.ts_ns, ns("2026-12-05", "10:12:01"));
    let r = &p.records[1];
    assert_eq!((r.action, r.transport), (Action::Allowed, 17));
    assert_eq!(r.src, (ip("203.0.113.44"), 50060));
    assert_eq!(r.dst, (ip("198.51.100.30"), 3478));
    assert_eq!(r.bytes, Some(128));
    let r = &p.records[2];
    assert_eq!((r.transport, r.src.1, r.dst.1), (1, 8, 0), "ICMP request");
    let r = &p.records[3];
    assert_eq!(r.src, (ip("2001:db8::7"), 51600));
    assert_eq!(r.dst, (ip("2001:db8:1::10"), 5061));
    assert_eq!(
        (r.action, r.transport, r.bytes),
        (Action::Denied, 6, Some(80))
    );
    let r = &p.records[4];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.src, (ip("10.45.16.10"), 51700));
    assert_eq!(r.ts_ns, ns("2026-12-05", "09:12:05"));
}

/// A log written to a temporary file whose modification time is `mtime` (`YYYY-MM-DD`).
fn log_file_at(dir: &Path, name: &str, text: &str, mtime: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    let secs = ns(mtime, "12:00:00").expect("date") / 1_000_000_000;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options()
        .write(true)
        .open(&p)
        .and_then(|f| f.set_modified(t))
        .expect("set mtime");
    p
}

/// `-r` tells both formats by their content, and a BSD time takes its year from the file's
/// modification time: a December line in a file last written in January is of the year before.
#[test]
fn syslog_formats_detected_from_r_and_dated_by_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "kern.log",
            "Dec  5 10:12:01 edge-fw kernel: [12345.678901] EDGE-DROP IN=eth0 OUT= SRC=198.51.100.10 DST=10.45.16.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT=51000 DPT=5061 WINDOW=64240 RES=0x00 SYN URGP=0\n",
            "netfilter",
        ),
        (
            "filter.log",
            "Dec  5 10:12:01 pfsense filterlog[12345]: 5,,,1000000103,igb0,match,block,in,4,0x0,,52,1,0,DF,6,tcp,60,198.51.100.10,10.45.16.10,51000,5061,0,S,1,,64240,,mss\n",
            "filterlog",
        ),
    ];
    let topo = captures("topology.toml");
    for (name, text, label) in cases {
        for (mtime, year) in [("2027-01-03", "2026"), ("2025-12-20", "2025")] {
            let p = log_file_at(dir.path(), name, text, mtime);
            let out = run(&[
                "audit",
                "-r",
                p.to_str().expect("path"),
                "--topology",
                topo.to_str().expect("path"),
                "--format",
                "json",
                "--tz-offset",
                "+01:00",
            ]);
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
            assert_eq!(doc["log"]["format"], label, "{name}");
            assert_eq!(doc["log"]["detected"], true, "{name}");
            let first = doc["flows"][0]["first_ts"].as_str().unwrap_or("");
            assert!(
                first.starts_with(&format!("{year}-12-05T09:12:01")),
                "{name} written {mtime}: {first}"
            );
            assert!(
                doc["log"]["time_basis"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("at or before {mtime}")),
                "{}",
                doc["log"]["time_basis"]
            );
        }
    }
    // Named with --log-format and its aliases.
    let p = log_file_at(dir.path(), "kern.log", cases[0].1, "2026-12-31");
    for name in ["netfilter", "iptables", "nftables"] {
        let out = run(&[
            "audit",
            "--log",
            p.to_str().expect("path"),
            "--log-format",
            name,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["log"]["format"], "netfilter", "{name}");
        assert_eq!(doc["log"]["detected"], false, "{name}");
    }
    let p = log_file_at(dir.path(), "filter.log", cases[1].1, "2026-12-31");
    for name in ["filterlog", "pfsense", "opnsense"] {
        let out = run(&[
            "audit",
            "--log",
            p.to_str().expect("path"),
            "--log-format",
            name,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["log"]["format"], "filterlog", "{name}");
    }
}

/// The partner's Access Edge dropped three times on its way to ours on 5061, and a telnet
/// attempt dropped: the same facts in pfirewall.log, netfilter LOG lines and filterlog give
/// the same findings (F3, FW1 on the documented flow, FW2 for telnet), the same unanswered
/// state and exit status 1.
#[test]
fn denied_inbound_5061_gives_the_findings_of_pfirewall() {
    let pfirewall = "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n\
2024-01-01 10:00:01 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:04 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:10 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:11 DROP TCP 203.0.113.9 10.45.16.10 40000 23 52 S - - - - - - RECEIVE\n";
    let nf = |s: &str, src: &str, sp: u16, dp: u16| {
        format!("2024-01-01T10:00:{s}+00:00 edge-fw kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC={src} DST=10.45.16.10 LEN=52 TOS=0x00 PREC=0x00 TTL=52 ID=1 DF PROTO=TCP SPT={sp} DPT={dp} WINDOW=64240 RES=0x00 SYN URGP=0\n")
    };
    let fl = |s: &str, src: &str, sp: u16, dp: u16| {
        format!("<134>1 2024-01-01T10:00:{s}+00:00 opnsense filterlog 1 - [meta sequenceId=\"{s}\"] 5,,,1000000103,igb0,match,block,in,4,0x0,,52,1,0,DF,6,tcp,52,{src},10.45.16.10,{sp},{dp},0,S,1,,64240,,mss\n")
    };
    let lines = |f: &dyn Fn(&str, &str, u16, u16) -> String| {
        // A first line that is not traffic, so the flow's lines are 2, 3, 4 as in pfirewall.log.
        let mut t = String::from("Jan  1 10:00:00 edge-fw systemd[1]: Starting firewall.\n");
        for s in ["01", "04", "10"] {
            t += &f(s, "198.51.100.10", 51000, 5061);
        }
        t + &f("11", "203.0.113.9", 40000, 23)
    };
    let expected = audit_log_json("pfirewall.log", pfirewall);
    assert_eq!(expected.0, 1);
    let want_ids = finding_ids(&expected.1);
    assert!(
        want_ids.contains(&"F3".to_string()) && want_ids.contains(&"FW1".to_string()),
        "{want_ids:?}"
    );
    for (name, text) in [("kern.log", lines(&nf)), ("filter.log", lines(&fl))] {
        let (code, doc) = audit_log_json(name, &text);
        assert_eq!(code, 1, "{name}");
        assert_eq!(finding_ids(&doc), want_ids, "{name}");
        assert_eq!(
            verdicts_by_tuple(&doc),
            verdicts_by_tuple(&expected.1),
            "{name}"
        );
        expect_states(&doc, &[("198.51.100.10:51000 -> 10.45.16.10:5061", "S0")]);
        let fw1 = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == "FW1")
            .expect("FW1");
        assert_eq!(fw1["severity"], "error");
        let ev = &fw1["evidence"][0];
        assert_eq!(
            ev["responder"],
            serde_json::json!({"ip": "10.45.16.10", "port": 5061}),
            "{name}"
        );
        assert!(
            ev["detail"]
                .as_str()
                .unwrap_or("")
                .contains("log lines 2, 3, 4"),
            "{name}: {}",
            ev["detail"]
        );
        // The same checks skipped, for the same reasons' kinds.
        let skipped = |d: &serde_json::Value| -> Vec<String> {
            d["skipped_checks"]
                .as_array()
                .expect("skipped_checks")
                .iter()
                .map(|s| s["id"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        assert_eq!(skipped(&doc), skipped(&expected.1), "{name}");
    }
}

/// A LOG rule whose prefix names no decision: the flow is judged by its ports, never read as
/// denied (no FW1), and FW1/FW2 are listed as skipped with the reason, as is the outcome of
/// the one allowed attempt.
#[test]
fn netfilter_prefix_without_a_decision_skips_fw1() {
    let line = |s: &str, pfx: &str, src: &str, sp: u16, dst: &str| {
        format!("2024-01-01T10:00:{s}Z edge-fw kernel: {pfx}IN=eth0 OUT= SRC={src} DST={dst} LEN=60 TTL=52 ID=1 DF PROTO=TCP SPT={sp} DPT=5061 WINDOW=64240 RES=0x00 SYN URGP=0\n")
    };
    let log = line("01", "EDGE-LOG ", "198.51.100.10", 51000, "10.45.16.10")
        + &line("02", "EDGE-ACCEPT ", "198.51.100.20", 51001, "10.45.16.10");
    let (code, doc) = audit_log_json("kern.log", &log);
    assert_eq!(code, 0, "{:#}", doc["findings"]);
    let ids = finding_ids(&doc);
    assert!(!ids.contains(&"FW1".to_string()), "{ids:?}");
    let why = skipped_needs(&doc, "FW1, FW2");
    assert!(
        why.contains("for 1 of 2 flows") && why.contains("prefix has no word such as DROP"),
        "{why}"
    );
    let flows = doc["log_flows"].as_array().expect("log_flows");
    assert_eq!(
        flows.iter().filter(|f| f["undecided"] == true).count(),
        1,
        "{flows:#?}"
    );
    assert!(
        skipped_needs(&doc, "F1-F3, D2, CRL1, A2, A4, A11, A13-A15, I2, I3, I5")
            .contains("for 2 of 2 TCP flows"),
        "{:#}",
        doc["skipped_checks"]
    );
    // Every prefix decides in pfirewall-like formats: nothing listed there.
    let (_, doc) = audit_log_json(
        "filter.log",
        "Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,pass,in,4,0x0,,52,1,0,DF,6,tcp,60,198.51.100.10,10.45.16.10,51000,5061,0,S,1,,64240,,mss\n",
    );
    assert!(skipped_needs(&doc, "FW1, FW2").is_empty());
}

/// Malformed lines of each format are counted under their bucket; the good line is audited,
/// the run says it is partial (exit 3), the report names the buckets.
#[test]
fn syslog_formats_count_malformed_lines() {
    let nf_ok = "Dec  5 10:12:01 edge-fw kernel: EDGE-DROP IN=eth0 OUT= SRC=198.51.100.10 DST=10.45.16.10 LEN=60 PROTO=TCP SPT=51000 DPT=5061 SYN URGP=0\n";
    let netfilter = format!(
        "{nf_ok}\
Dec  5 10:12:02 edge-fw kernel: EDGE-DROP IN=eth0 OUT= SRC=198.51.100.999 DST=10.45.16.10 LEN=60 PROTO=TCP SPT=51000 DPT=5061 SYN URGP=0\n\
Dec  5 10:12:03 edge-fw kernel: EDGE-DROP IN=eth0 OUT= SRC=198.51.100.10 DST=10.45.16.10 LEN=60 PROTO=TCP SPT=51000 DPT=99999 SYN URGP=0\n\
Dec 45 10:12:04 edge-fw kernel: EDGE-DROP IN=eth0 OUT= SRC=198.51.100.10 DST=10.45.16.10 LEN=60 PROTO=TCP SPT=51000 DPT=5061 SYN URGP=0\n\
Dec  5 10:12:05 edge-fw kernel: EDGE-DROP IN=eth0 OUT= SRC=198.51.100.10 DST=10.45.16.10 LEN=60 PROTO=QUIC\n"
    );
    let fl_ok = "Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,52,1,0,DF,6,tcp,60,198.51.100.10,10.45.16.10,51000,5061,0,S,1,,64240,,mss\n";
    let filterlog = format!(
        "{fl_ok}\
Dec  5 10:12:02 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,52,1,0,DF,6,tcp,60,198.51.100.10,10.45.16.x,51000,5061,0,S\n\
Dec  5 10:12:03 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,52,1,0,DF,6,tcp,60,198.51.100.10,10.45.16.10,51000,65536,0,S\n\
Dec  5 10:12:04 pfsense filterlog[1]: 5,,,1,igb0,match,block,in\n\
Dec  5 10:12:05 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,7,0x0\n"
    );
    type Buckets<'a> = &'a [(&'a str, u64)];
    let cases: [(&str, &str, Buckets); 2] = [
        (
            "kern.log",
            &netfilter,
            &[
                ("bad_address", 1),
                ("bad_port", 1),
                ("bad_timestamp", 1),
                ("bad_protocol", 1),
            ],
        ),
        (
            "filter.log",
            &filterlog,
            &[
                ("bad_address", 1),
                ("bad_port", 1),
                ("short", 1),
                ("bad_ip_version", 1),
            ],
        ),
    ];
    assert_bad_lines_counted(&cases);
}

/// The flows an audit reads (records joined as they are parsed, a group of batches at a
/// time) are the flows of the whole parsed log joined in one pass: same order,
/// numbers, counts and side table, for every sample format and for a log long enough to
/// span many groups of batches.
#[test]
fn flows_joined_while_parsing_equal_flows_joined_after() {
    let mut long = String::from(
        "#Version: 1.5\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size \
         tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n",
    );
    for i in 0..150_000u32 {
        // 5,000 tuples, each coming back across the whole log, ALLOW and DROP apart.
        let t = i.wrapping_mul(2_654_435_761) % 5_000;
        let action = if t % 7 == 0 { "DROP" } else { "ALLOW" };
        long.push_str(&format!(
            "2026-12-05 10:{:02}:{:02} {action} TCP 198.51.100.{} 131.107.155.10 {} 443 60 S - - \
             - - - - RECEIVE\n",
            i / 60_000 % 60,
            i / 1_000 % 60,
            t % 250,
            40_000 + t
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let long_path = dir.path().join("long-pfirewall.log");
    std::fs::write(&long_path, &long).expect("write");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data(""))
        .expect("tests/data/logs")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths.push(long_path);
    for path in paths {
        let whole = logs::parse_file(&path, LogOptions::default()).expect("read");
        let (flows, info) = logs::to_flow::flows(&whole);
        let streamed = logs::read_flows(&path, LogOptions::default()).expect("read");
        let name = path.display();
        assert_eq!(streamed.summary.lines, whole.summary.lines, "{name}");
        assert_eq!(streamed.summary.used, whole.summary.used, "{name}");
        assert_eq!(
            format!("{:?}", streamed.flows),
            format!("{flows:?}"),
            "{name}: flows"
        );
        assert_eq!(
            serde_json::to_string(&streamed.info).expect("json"),
            serde_json::to_string(&info).expect("json"),
            "{name}: side table"
        );
        // A joiner fed a few records at a time agrees with one pass too.
        let mut joiner = logs::to_flow::Joiner::default();
        for chunk in whole.records.chunks(7) {
            chunk.iter().for_each(|r| joiner.push(r));
        }
        let (chunked, _) = joiner.finish();
        assert_eq!(
            format!("{chunked:?}"),
            format!("{flows:?}"),
            "{name}: in chunks"
        );
    }
    let long = logs::read_flows(
        &dir.path().join("long-pfirewall.log"),
        LogOptions::default(),
    )
    .expect("read");
    assert_eq!(long.summary.used, 150_000);
    assert_eq!(long.flows.len(), 5_000);
}

/// The headline's "not checked" list names each check once (a range such as A13-A15 counts
/// for each of its ids) and never a check whose finding the headline shows as failing.
#[test]
fn the_headline_never_lists_a_failing_check_as_not_checked() {
    let topology = captures("topology.toml");
    let mut seen_failing = 0;
    for name in [
        "pfirewall.log",
        "asa.log",
        "panos.log",
        "fortigate.log",
        "netfilter.log",
    ] {
        let out = run(&[
            "audit",
            "-r",
            &data(name).display().to_string(),
            "--topology",
            &topology.display().to_string(),
            "--wide",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        let failing: Vec<&str> = text
            .lines()
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.trim_start().strip_prefix("error: "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        seen_failing += failing.len();
        let Some(line) = text
            .lines()
            .find(|l| l.contains("skipped for want of a fact"))
        else {
            continue;
        };
        let list = line.split(": ").last().unwrap_or("");
        let ids: Vec<&str> = list
            .split(" and ")
            .next()
            .unwrap_or("")
            .split(", ")
            .collect();
        for id in &ids {
            assert!(!id.contains('-'), "{name}: a range in {line:?}");
            assert!(
                !failing.contains(id),
                "{name}: {id} fails and is not checked: {line:?}"
            );
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{name}: an id twice in {line:?}");
    }
    assert!(
        seen_failing > 0,
        "no sample log gave a failing finding to check against"
    );
}

/// `--tz-offset` takes a zone name: a pfirewall.log written across the end of summer time in
/// Berlin keeps its order and spacing in UTC (an offset would shift one side by an hour), the
/// lines of the repeated hour are counted, and the report says which clock was used. A name
/// that is not a zone stops the run with the names it may mean.
#[test]
fn a_named_zone_reads_a_log_across_a_daylight_saving_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pfirewall.log");
    let header = "#Version: 1.5\n#Fields: date time action protocol src-ip dst-ip src-port \
                  dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n";
    let mut text = header.to_string();
    // Local times: 01:50 CEST, 02:20 (the repeated hour: its first pass), 03:10 CET.
    for (i, t) in ["01:50:00", "02:20:00", "03:10:00"].iter().enumerate() {
        text.push_str(&format!(
            "2026-10-25 {t} ALLOW TCP 198.51.100.{} 131.107.155.10 4000{i} 443 60 S - - - - - - \
             RECEIVE\n",
            i + 1
        ));
    }
    std::fs::write(&path, text).expect("write");
    let topo = captures("topology.toml");
    let audit = |tz: &str| {
        run(&[
            "audit",
            "-r",
            path.to_str().expect("path"),
            "--topology",
            topo.to_str().expect("path"),
            "--format",
            "json",
            "--tz-offset",
            tz,
        ])
    };
    let out = audit("Europe/Berlin");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let mut firsts: Vec<&str> = doc["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter_map(|f| f["first_ts"].as_str())
        .collect();
    firsts.sort_unstable();
    let starts: Vec<&str> = firsts.iter().map(|t| t.get(..19).unwrap_or(t)).collect();
    assert_eq!(
        starts,
        [
            "2026-10-24T23:50:00",
            "2026-10-25T00:20:00",
            "2026-10-25T02:10:00"
        ]
    );
    assert_eq!(doc["log"]["times_in_repeated_hour"], 1);
    assert_eq!(doc["log"]["times_in_skipped_hour"], 0);
    let basis = doc["log"]["time_basis"].as_str().unwrap_or("");
    assert!(
        basis.contains("Europe/Berlin") && basis.contains("daylight saving applied"),
        "{basis}"
    );

    // A fixed offset reads every line at it, and says so.
    let out = audit("+02:00");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let basis = doc["log"]["time_basis"].as_str().unwrap_or("");
    assert!(
        basis.contains("daylight-saving changes not applied"),
        "{basis}"
    );

    // Not a zone: exit 2, the option, the name and what it may mean.
    let out = audit("Europe/Berln");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tz-offset") && err.contains("Europe/Berlin"),
        "{err}"
    );
}

/// Both denied SYNs of the partner's Access Edge to ours on 5061 and how the SIEM formats
/// record them: one flow, unanswered (S0), whatever the line's own time field.
fn expect_denied_5061(p: &ParsedLog, lines: &[u64]) {
    let denied: Vec<&Record> = p
        .records
        .iter()
        .filter(|r| r.dst == (ip("10.45.16.10"), 5061) && r.src.0 == ip("198.51.100.10"))
        .collect();
    assert_eq!(
        denied.iter().map(|r| r.line).collect::<Vec<_>>(),
        lines,
        "{denied:#?}"
    );
    for r in &denied {
        assert_eq!((r.action, r.transport), (Action::Denied, 6));
        assert_eq!(r.src.1, 51000);
        assert!(r.tcp_opened);
        assert_eq!(r.end, Some(logs::state::TcpEnd::Unanswered));
        assert_eq!(r.session, None, "a denial joins on the tuple");
    }
    assert_eq!(denied[0].ts_ns, ns("2026-12-05", "10:12:01"));
    assert_eq!(denied[1].ts_ns, ns("2026-12-05", "10:12:04"));
}

/// CEF: Fortinet's own traffic sample and event (FortiOS Log Message Reference, "Traffic log
/// support for CEF", "Event log support for CEF"), a PAN-OS log forwarder TRAFFIC drop, Check
/// Point's exporter (elastic/integrations packages/cef test-checkpoint.json), the site's lines
/// in those vendors' shapes, and bad lines.
#[test]
fn cef_samples() {
    let p = parse_at("cef.log", 0);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Cef));
    assert!(s.detected);
    assert_eq!((s.lines, s.used), (14, 7));
    assert_eq!(
        s.skipped.get("not_traffic"),
        Some(&2),
        "a login, IPv6 without ports"
    );
    assert_eq!(s.skipped.get("not_cef"), Some(&1));
    for bucket in ["short_header", "bad_address", "bad_port", "bad_timestamp"] {
        assert_eq!(
            s.unparsable.get(bucket),
            Some(&1),
            "{bucket}: {:?}",
            s.unparsable
        );
    }
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(r.line, 1);
    assert_eq!((r.action, r.transport), (Action::Allowed, 6));
    assert_eq!(r.src, (ip("10.1.100.11"), 54190));
    assert_eq!(r.dst, (ip("52.53.140.235"), 443));
    // FortiGate's sentbyte is `out`, its rcvdbyte `in`.
    assert_eq!((r.bytes, r.resp_bytes), (Some(3652), Some(146_668)));
    assert_eq!(r.ts_ns, ns("2026-12-27", "11:07:55"));
    assert_eq!(r.end, None, "an allowed line tells no outcome");
    let r = &p.records[1];
    assert_eq!((r.line, r.action, r.transport), (3, Action::Denied, 17));
    assert_eq!(r.src, (ip("10.167.40.72"), 49876));
    assert_eq!(r.rule.as_deref(), Some("Deny Quic"));
    assert_eq!(r.ts_ns, ns("2026-09-29", "13:34:36"), "start, not rt");
    let r = &p.records[2];
    assert_eq!(r.action, Action::Allowed);
    assert_eq!(r.dst, (ip("89.160.20.156"), 443));
    assert_eq!(r.ts_ns, Some(1_543_270_652_000_000_000));
    expect_denied_5061(&p, &[7, 8]);
    assert_eq!(p.records[3].rule.as_deref(), Some("Policy Id 2"));
    let r = &p.records[5];
    assert_eq!((r.line, r.transport), (9, 17));
    assert_eq!((r.bytes, r.resp_bytes), (Some(240), Some(192)));
    assert_eq!(r.session, Some(7_916_200));
    assert_eq!(r.duration_ns, Some(30_000_000_000));
    assert_eq!(r.ts_ns, ns("2026-12-05", "10:12:05"));
    let r = &p.records[6];
    assert_eq!(r.action, Action::Logged, "act=alert names no decision");
    assert!(!r.tcp_opened);
    // --tz-offset moves the times the line gives without a zone, not those with one.
    let p = parse_at("cef.log", 3600);
    assert_eq!(p.records[0].ts_ns, ns("2026-12-27", "10:07:55"));
    assert_eq!(p.records[1].ts_ns, ns("2026-09-29", "13:34:36"), "dtz=UTC");
    assert_eq!(p.records[4].ts_ns, ns("2026-12-05", "10:12:04"), "epoch");
    assert!(
        p.summary.time_basis.contains("CEF's start, rt or end")
            && p.summary.time_basis.contains("+01:00"),
        "{}",
        p.summary.time_basis
    );
}

/// LEEF: IBM's 1.0 and 2.0 examples (no protocol: skipped), the Strata Logging Service's
/// space-separated PAN-OS traffic example (its masked addresses replaced), the site's lines
/// with each separator form, and bad lines.
#[test]
fn leef_samples() {
    let p = parse_at("leef.log", 0);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Leef));
    assert!(s.detected);
    assert_eq!((s.lines, s.used), (12, 5));
    assert_eq!(s.skipped.get("no_protocol"), Some(&2));
    assert_eq!(s.skipped.get("not_leef"), Some(&1));
    for bucket in [
        "short_header",
        "bad_attributes",
        "bad_address",
        "bad_timestamp",
    ] {
        assert_eq!(
            s.unparsable.get(bucket),
            Some(&1),
            "{bucket}: {:?}",
            s.unparsable
        );
    }
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!(
        (r.line, r.action),
        (3, Action::Logged),
        "no action attribute"
    );
    assert_eq!(r.src, (ip("192.0.2.77"), 30217));
    assert_eq!(
        (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
        (Some(1_011_460), Some(651_331), Some(773), Some(523))
    );
    assert_eq!(r.rule.as_deref(), Some("deny-attackers"));
    assert_eq!(r.ts_ns, ns("2021-09-21", "01:47:18"));
    expect_denied_5061(&p, &[4, 5]);
    assert_eq!(p.records[1].rule.as_deref(), Some("Block partners"));
    let r = &p.records[3];
    assert_eq!((r.action, r.transport), (Action::Allowed, 17));
    assert_eq!((r.resp_bytes, r.resp_packets), (Some(192), Some(2)));
    assert_eq!(r.ts_ns, ns("2026-12-05", "10:12:05"), "devTimeFormat");
    let r = &p.records[4];
    assert_eq!(r.dst, (ip("10.45.16.10"), 443), "#011 read as a tab");
    assert_eq!(r.end, Some(logs::state::TcpEnd::Refused));
}

/// Check Point's Log Exporter (elastic/integrations packages/checkpoint test-checkpoint.log,
/// and the Drop of research/ecosystem.md 2.1(g)), the site's lines, and bad lines.
#[test]
fn checkpoint_samples() {
    let p = parse_at("checkpoint.log", 0);
    let s = &p.summary;
    assert_eq!(s.format, Some(LogFormat::Checkpoint));
    assert!(s.detected);
    assert_eq!((s.lines, s.used), (12, 8));
    assert_eq!(
        s.skipped.get("not_traffic"),
        Some(&1),
        "a System Monitor line"
    );
    for bucket in ["bad_address", "bad_port", "unterminated_quote"] {
        assert_eq!(
            s.unparsable.get(bucket),
            Some(&1),
            "{bucket}: {:?}",
            s.unparsable
        );
    }
    assert_totals(&p);
    let r = &p.records[0];
    assert_eq!((r.line, r.action, r.transport), (2, Action::Allowed, 17));
    assert_eq!(r.dst, (ip("192.168.1.1"), 53));
    assert_eq!(
        r.rule.as_deref(),
        Some("1fde807b-6300-4b1a-914f-f1c1f3e2e7d2 (layer Network)")
    );
    assert_eq!(r.ts_ns, ns("2020-03-29", "13:19:22"));
    let r = &p.records[2];
    assert_eq!(r.action, Action::Denied);
    assert_eq!(r.end, None, "FIN-ACK out of state is no attempt");
    expect_denied_5061(&p, &[5, 6]);
    let r = &p.records[5];
    assert_eq!((r.line, r.transport), (7, 17));
    assert_eq!(
        (r.bytes, r.packets, r.resp_bytes, r.resp_packets),
        (Some(240), Some(2), Some(192), Some(2))
    );
    assert_eq!(r.duration_ns, Some(30_000_000_000));
    assert_eq!(r.rule.as_deref(), Some("AV Edge media (layer Network)"));
    assert!(r.session.is_some());
    let r = &p.records[6];
    assert_eq!(
        (r.action, r.end.clone()),
        (Action::Denied, Some(logs::state::TcpEnd::Refused))
    );
    assert_eq!(
        p.records[7].action,
        Action::Logged,
        "Detect is no access decision"
    );
}

/// `-r` tells the three formats by their content; `--log-format` names them and their aliases.
#[test]
fn siem_formats_detected_from_r_and_named() {
    let topo = captures("topology.toml");
    for (file, label, names) in [
        ("cef.log", "cef", &["cef", "arcsight"][..]),
        ("leef.log", "leef", &["leef", "qradar"][..]),
        (
            "checkpoint.log",
            "checkpoint",
            &["checkpoint", "check-point"][..],
        ),
    ] {
        let p = data(file);
        let out = run(&[
            "audit",
            "-r",
            p.to_str().expect("path"),
            "--topology",
            topo.to_str().expect("path"),
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(doc["log"]["format"], label, "{file}");
        assert_eq!(doc["log"]["detected"], true, "{file}");
        assert_eq!(doc["log"]["facts"]["format"], label, "{file}");
        assert!(
            doc["log"]["facts"]["tcp_outcome"]["not"].is_string(),
            "{file}"
        );
        assert!(doc["log"]["facts"]["replies"]["by"].is_string(), "{file}");
        for name in names {
            let out = run(&[
                "audit",
                "--log",
                p.to_str().expect("path"),
                "--log-format",
                name,
                "--format",
                "json",
                "--fail-on",
                "never",
            ]);
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(doc["log"]["format"], label, "{name}");
            assert_eq!(doc["log"]["detected"], false, "{name}");
        }
    }
}

/// The partner's Access Edge dropped three times on its way to ours on 5061, and a telnet
/// attempt dropped: CEF, LEEF and Check Point lines give the findings, verdicts, states and
/// skipped checks that the same facts give in pfirewall.log.
#[test]
fn siem_formats_denied_inbound_5061_gives_the_findings_of_pfirewall() {
    let pfirewall = "#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n\
2024-01-01 10:00:01 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:04 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:10 DROP TCP 198.51.100.10 10.45.16.10 51000 5061 52 S - - - - - - RECEIVE\n\
2024-01-01 10:00:11 DROP TCP 203.0.113.9 10.45.16.10 40000 23 52 S - - - - - - RECEIVE\n";
    let cef = |s: &str, src: &str, sp: u16, dp: u16| {
        format!("<14>Jan  1 10:00:{s} fw logforwarder CEF:0|Palo Alto Networks|LF|2.0|TRAFFIC|deny|3|dtz=UTC rt=Jan 01 2024 10:00:{s} src={src} dst=10.45.16.10 cs1=Cleanup cs1Label=Rule cnt=1 spt={sp} dpt={dp} proto=tcp act=deny out=52 in=0\n")
    };
    let leef = |s: &str, src: &str, sp: u16, dp: u16| {
        format!("Jan  1 10:00:{s} fw LEEF:2.0|Contoso|EdgeFW|1.0|deny|^|devTime=2024-01-01T10:00:{s}Z^src={src}^srcPort={sp}^dst=10.45.16.10^dstPort={dp}^proto=TCP^action=deny^policy=Cleanup\n")
    };
    let cp = |s: &str, src: &str, sp: u16, dp: u16| {
        format!("<134>1 2024-01-01T10:00:{s}Z gw CheckPoint 1 - [action:\"Drop\"; ifdir:\"inbound\"; dst:\"10.45.16.10\"; layer_name:\"Network\"; rule_name:\"Cleanup rule\"; proto:\"6\"; s_port:\"{sp}\"; service:\"{dp}\"; src:\"{src}\"; tcp_flags:\"SYN\"]\n")
    };
    let lines = |f: &dyn Fn(&str, &str, u16, u16) -> String| {
        // A first line that is not traffic, so the flow's lines are 2, 3, 4 as in pfirewall.log.
        let mut t = String::from("Jan  1 10:00:00 fw systemd[1]: Starting firewall.\n");
        for s in ["01", "04", "10"] {
            t += &f(s, "198.51.100.10", 51000, 5061);
        }
        t + &f("11", "203.0.113.9", 40000, 23)
    };
    let expected = audit_log_json("pfirewall.log", pfirewall);
    assert_eq!(expected.0, 1);
    let want_ids = finding_ids(&expected.1);
    assert!(
        want_ids.contains(&"F3".to_string()) && want_ids.contains(&"FW1".to_string()),
        "{want_ids:?}"
    );
    let skipped = |d: &serde_json::Value| -> Vec<String> {
        d["skipped_checks"]
            .as_array()
            .expect("skipped_checks")
            .iter()
            .map(|s| s["id"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    for (name, text) in [
        ("fw-cef.log", lines(&cef)),
        ("fw-leef.log", lines(&leef)),
        ("fw-checkpoint.log", lines(&cp)),
    ] {
        let (code, doc) = audit_log_json(name, &text);
        assert_eq!(code, 1, "{name}");
        assert_eq!(finding_ids(&doc), want_ids, "{name}");
        assert_eq!(
            verdicts_by_tuple(&doc),
            verdicts_by_tuple(&expected.1),
            "{name}"
        );
        expect_states(&doc, &[("198.51.100.10:51000 -> 10.45.16.10:5061", "S0")]);
        let fw1 = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["id"] == "FW1")
            .expect("FW1");
        assert_eq!(fw1["severity"], "error");
        let ev = &fw1["evidence"][0];
        assert_eq!(
            ev["responder"],
            serde_json::json!({"ip": "10.45.16.10", "port": 5061}),
            "{name}"
        );
        let detail = ev["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("log lines 2, 3, 4") && detail.contains("Cleanup"),
            "{name}: {detail}"
        );
        assert_eq!(skipped(&doc), skipped(&expected.1), "{name}");
    }
}

/// A rejected SYN is refused (REJ), not unanswered; an action that names no decision raises
/// no FW1 and lists FW1/FW2 as skipped for its flow, in each of the three formats.
#[test]
fn siem_formats_reject_and_undecided() {
    let cef = |act: &str, sp: u16| {
        format!("CEF:0|Contoso|EdgeFW|1.0|100|conn|5|rt=1704103201000 src=198.51.100.10 spt={sp} dst=10.45.16.10 dpt=5061 proto=TCP act={act}\n")
    };
    let leef = |act: &str, sp: u16| {
        format!("LEEF:1.0|Contoso|EdgeFW|1.0|conn|devTime=1704103201000\tsrc=198.51.100.10\tsrcPort={sp}\tdst=10.45.16.10\tdstPort=5061\tproto=TCP\taction={act}\n")
    };
    let cp = |act: &str, sp: u16| {
        format!("<134>1 2024-01-01T10:00:01Z gw CheckPoint 1 - [action:\"{act}\"; dst:\"10.45.16.10\"; proto:\"6\"; s_port:\"{sp}\"; service:\"5061\"; src:\"198.51.100.10\"]\n")
    };
    type Line = fn(&str, u16) -> String;
    let cases: [(&str, Line, &str, &str); 3] = [
        ("r-cef.log", cef, "reject", "alert"),
        ("r-leef.log", leef, "reject", "monitor"),
        ("r-checkpoint.log", cp, "Reject", "Detect"),
    ];
    for (name, line, reject, undecided) in cases {
        let (code, doc) = audit_log_json(name, &line(reject, 51000));
        assert_eq!(code, 1, "{name}");
        expect_states(&doc, &[("198.51.100.10:51000 -> 10.45.16.10:5061", "REJ")]);
        assert!(finding_ids(&doc).contains(&"FW1".to_string()), "{name}");
        let (code, doc) = audit_log_json(name, &(line(undecided, 51001) + &line("accept", 51002)));
        assert_eq!(code, 0, "{name}: {:#}", doc["findings"]);
        let ids = finding_ids(&doc);
        assert!(!ids.contains(&"FW1".to_string()), "{name}: {ids:?}");
        let why = skipped_needs(&doc, "FW1, FW2");
        assert!(
            why.contains("for 1 of 2 flows") && why.contains("CEF or LEEF action"),
            "{name}: {why}"
        );
        let flows = doc["log_flows"].as_array().expect("log_flows");
        assert_eq!(
            flows.iter().filter(|f| f["undecided"] == true).count(),
            1,
            "{name}: {flows:#?}"
        );
    }
}

/// Malformed lines of each format are counted under their bucket; the good line is audited,
/// the run says it is partial (exit 3), the report names the buckets.
#[test]
fn siem_formats_count_malformed_lines() {
    let cef_ok = "CEF:0|Contoso|EdgeFW|1.0|100|conn|5|src=198.51.100.10 spt=51000 dst=10.45.16.10 dpt=5061 proto=TCP act=deny\n";
    let cef = format!(
        "{cef_ok}\
CEF:0|Contoso|EdgeFW|1.0|100|conn|5|src=198.51.100.999 spt=51000 dst=10.45.16.10 dpt=5061 proto=TCP act=deny\n\
CEF:0|Contoso|EdgeFW|1.0|100|conn|5|src=198.51.100.10 spt=51000 dst=10.45.16.10 dpt=99999 proto=TCP act=deny\n\
CEF:0|Contoso|EdgeFW|1.0|100|conn\n\
CEF:0|Contoso|EdgeFW|1.0|100|conn|5|src=198.51.100.10 spt=51000 dst=10.45.16.10 dpt=5061 proto=TCP act=deny rt=Jan 01 99999 10:00:00\n"
    );
    let leef_ok = "LEEF:1.0|Contoso|EdgeFW|1.0|deny|src=198.51.100.10\tsrcPort=51000\tdst=10.45.16.10\tdstPort=5061\tproto=TCP\taction=deny\n";
    let leef = format!(
        "{leef_ok}\
LEEF:1.0|Contoso|EdgeFW|1.0|deny|src=198.51.100.999\tsrcPort=51000\tdst=10.45.16.10\tdstPort=5061\tproto=TCP\taction=deny\n\
LEEF:1.0|Contoso|EdgeFW|1.0|deny|src=198.51.100.10\tsrcPort=51000\tdst=10.45.16.10\tdstPort=99999\tproto=TCP\taction=deny\n\
LEEF:1.0|Contoso|EdgeFW\n\
LEEF:1.0|Contoso|EdgeFW|1.0|deny|src=198.51.100.10\tsrcPort=51000\tdst=10.45.16.10\tdstPort=5061\tproto=TCP\taction=deny\tSessionDuration=99999999999999\n"
    );
    let cp_line = |src: &str, dp: &str, tail: &str| {
        format!("<134>1 2024-01-01T10:00:01Z gw CheckPoint 1 - [action:\"Drop\"; dst:\"10.45.16.10\"; proto:\"6\"; s_port:\"51000\"; service:\"{dp}\"; src:\"{src}\"{tail}\n")
    };
    let cp = cp_line("198.51.100.10", "5061", "]")
        + &cp_line("198.51.100.999", "5061", "]")
        + &cp_line("198.51.100.10", "99999", "]")
        + &cp_line("198.51.100.10", "5061", "; rule_name:\"cut")
        + &cp_line("198.51.100.10", "5061", "; time:\"99999999999999999999\"]");
    type Buckets<'a> = &'a [(&'a str, u64)];
    let cases: [(&str, &str, Buckets); 3] = [
        (
            "m-cef.log",
            &cef,
            &[
                ("bad_address", 1),
                ("bad_port", 1),
                ("short_header", 1),
                ("time_out_of_range", 1),
            ],
        ),
        (
            "m-leef.log",
            &leef,
            &[
                ("bad_address", 1),
                ("bad_port", 1),
                ("short_header", 1),
                ("bad_duration", 1),
            ],
        ),
        (
            "m-checkpoint.log",
            &cp,
            &[
                ("bad_address", 1),
                ("bad_port", 1),
                ("unterminated_quote", 1),
                ("time_out_of_range", 1),
            ],
        ),
    ];
    assert_bad_lines_counted(&cases);
}

/// A datagram the firewall dropped is judged as its log line says it went: a scanner's packet
/// from port 53000 to a closed port of the A/V Edge is not the A/V Edge's outbound media
/// turned around, so it is no "denied documented traffic" (FW1) error.
#[test]
fn a_dropped_datagram_is_judged_in_the_direction_the_log_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pfirewall.log");
    std::fs::write(
        &path,
        "#Version: 1.5\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size \
         tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n\
         2026-12-05 10:00:01 DROP UDP 203.0.113.9 131.107.155.30 53000 40000 60 - - - - - - - \
         RECEIVE\n",
    )
    .expect("write");
    let topo = captures("topology.toml");
    let out = run(&[
        "audit",
        "-r",
        path.to_str().expect("path"),
        "--topology",
        topo.to_str().expect("path"),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let flow = &doc["flows"][0];
    assert_eq!(flow["initiator_by"], "denied-source", "{flow:#}");
    assert_eq!(flow["initiator"]["port"], 53000, "{flow:#}");
    assert_ne!(flow["verdict"], "permitted", "{flow:#}");
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(!ids.contains(&"FW1"), "{ids:?}");
    assert!(ids.contains(&"FW2"), "{ids:?}");
}

/// A log's name, its text, and the unparsable buckets its bad lines fall in.
type BadLinesCase<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);

/// Each log of one good line and four bad ones (one `bad_address` among them): a partial read
/// (exit 3), the good line's flow, each bad line in its named bucket, and the same in words.
fn assert_bad_lines_counted(cases: &[BadLinesCase<'_>]) {
    for &(name, text, buckets) in cases {
        let (code, doc) = audit_log_json(name, text);
        assert_eq!(code, 3, "{name}: partial");
        assert_eq!(doc["log"]["used"], 1, "{name}: {:#}", doc["log"]);
        for (bucket, n) in buckets {
            assert_eq!(
                doc["log"]["unparsable"][bucket], *n,
                "{name}: {bucket} in {:#}",
                doc["log"]
            );
        }
        assert_eq!(doc["flows"].as_array().map(Vec::len), Some(1), "{name}");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        let out = run(&[
            "audit",
            "-r",
            p.to_str().expect("path"),
            "--fail-on",
            "never",
        ]);
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.contains("unparsable bad_address: 1") && report.contains("4 unparsable"),
            "{name}: {report}"
        );
    }
}
