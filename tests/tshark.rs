//! tshark's habits: `-w` writes packets (pcapng of the flows shown), the report goes to `-o`,
//! `-t` is a time format, `-c` stops the read. Checked through the binary, and against capinfos
//! and tshark where they are installed.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::*;

const TOPOLOGY: &str = "captures/topology.toml";

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("report written");
    serde_json::from_str(&text).expect("report is JSON")
}

/// Packets a report's flows hold: their own, and the ICMP errors they record.
fn packets_of(report: &serde_json::Value) -> u64 {
    report["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            f["packets"].as_u64().unwrap_or(0)
                + f["icmp_error_notes"]
                    .as_array()
                    .map_or(0, |n| n.len() as u64)
        })
        .sum()
}

/// The conversations of a report: (packets, bytes) per direction-free five-tuple.
fn conversations(report: &serde_json::Value) -> Vec<(String, u64, u64)> {
    our_conversations(report)
        .into_iter()
        .map(|(k, (p, b, _))| (k, p, b))
        .collect()
}

#[test]
fn w_writes_the_violating_flows_as_pcapng_and_o_takes_the_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.pcapng");
    let report = dir.path().join("report.json");
    let out = run(&[
        "audit",
        "-r",
        "captures/audit-violations.pcapng",
        "--topology",
        TOPOLOGY,
        "-Y",
        "verdict != permitted",
        "--format",
        "json",
        "-w",
        bad.to_str().expect("utf-8"),
        "-o",
        report.to_str().expect("utf-8"),
    ]);
    // Violations were kept: the audit fails, and says so, whatever -w did.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "the report went to -o, not stdout");
    let report = json_of(&report);
    let flows = report["flows"].as_array().expect("flows");
    assert!(!flows.is_empty());
    assert!(flows.iter().all(|f| f["verdict"] != "permitted"));
    let expected = packets_of(&report);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "wrote {expected} packets of {} flows to",
            flows.len()
        )),
        "{err}"
    );
    // The file is a capture edgewise reads back into exactly the flows it was cut from.
    let (back, back_code) = flows_json(&bad);
    assert_eq!(back_code, 0);
    assert_eq!(back["accounting"]["packets"], expected);
    assert_eq!(conversations(&back), conversations(&report));
    if have("capinfos") {
        assert_eq!(capinfos(&bad).map(|(n, _)| n), Some(expected));
    }
    if have("tshark") {
        let t = Command::new("tshark")
            .arg("-r")
            .arg(&bad)
            .output()
            .expect("tshark runs");
        assert!(t.status.success(), "{}", stderr(&t));
        let lines = String::from_utf8_lossy(&t.stdout).lines().count() as u64;
        assert_eq!(lines, expected);
    }
}

#[test]
fn w_without_a_filter_writes_every_flow_packet_even_fragments_before_their_first() {
    // ip-edge-cases holds a datagram whose later fragment comes before its first, ICMP errors
    // counted against their flows, ARP and a damaged frame (in no flow).
    for capture in [
        "captures/ip-edge-cases.pcapng",
        "captures/edge-sample.pcapng",
        "captures/link-types.pcapng",
        "captures/tcp-states.pcapng",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let all = dir.path().join("all.pcapng");
        let out = run(&[
            "flows",
            "-q",
            "-r",
            capture,
            "--format",
            "json",
            "-w",
            all.to_str().expect("utf-8"),
        ]);
        assert_eq!(code(&out), 0, "{capture}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let acc = &report["accounting"]["buckets"];
        let in_flows = acc["flow"]["packets"].as_u64().unwrap_or(0)
            + acc["flow.icmp_error"]["packets"].as_u64().unwrap_or(0);
        assert_eq!(packets_of(&report), in_flows, "{capture}");
        let (back, _) = flows_json(&all);
        assert_eq!(back["accounting"]["packets"], in_flows, "{capture}");
        assert_eq!(conversations(&back), conversations(&report), "{capture}");
        if have("capinfos") {
            assert_eq!(capinfos(&all).map(|(n, _)| n), Some(in_flows), "{capture}");
        }
    }
}

#[test]
fn w_dash_writes_pcapng_to_stdout_when_the_report_has_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("flows.txt");
    let out = run(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "-Y",
        "port == 5061",
        "-w",
        "-",
        "-o",
        report.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // A pcapng section header block, little-endian.
    assert_eq!(out.stdout.get(..4), Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]));
    assert_eq!(out.stdout.get(8..12), Some(&[0x4d, 0x3c, 0x2b, 0x1a][..]));
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.contains("Display filter 'port == 5061'"), "{text}");
}

#[test]
fn w_refuses_what_cannot_be_read_twice_or_would_be_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("copy.pcapng");
    std::fs::copy("captures/edge-sample.pcapng", &copy).expect("copy");
    let copy_s = copy.to_str().expect("utf-8");
    let out = run(&["flows", "-r", copy_s, "-w", copy_s]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is also an input"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::metadata(&copy).map(|m| m.len()).ok(),
        std::fs::metadata("captures/edge-sample.pcapng")
            .map(|m| m.len())
            .ok(),
        "the input is untouched"
    );

    let mut child = edgewise()
        .args(["flows", "-r", "-", "-w"])
        .arg(dir.path().join("x.pcapng"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("runs");
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("standard input cannot be read twice"),
        "{}",
        stderr(&out)
    );

    let out = run(&["flows", "-r", "captures/edge-sample.pcapng", "-w", "-"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("add -o FILE"), "{}", stderr(&out));

    let out = run(&[
        "audit",
        "--log",
        "tests/data/logs/pfirewall.log",
        "-w",
        "x.pcapng",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no packets"), "{}", stderr(&out));
}

#[test]
fn o_that_reads_as_a_tshark_preference_is_refused() {
    let out = run(&[
        "flows",
        "-r",
        "captures/edge-sample.pcapng",
        "-o",
        "ip.defragment:FALSE",
    ]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("tshark's preference"), "{err}");
    assert!(err.contains("./ip.defragment:FALSE"), "{err}");
    assert!(!Path::new("ip.defragment:FALSE").exists());
}

#[test]
fn t_is_a_time_format_and_a_file_after_it_points_to_topology() {
    for cmd in ["audit", "flows"] {
        let out = run(&[cmd, "-r", "captures/edge-sample.pcapng", "-t", TOPOLOGY]);
        assert_eq!(code(&out), 2, "{cmd}");
        let err = stderr(&out);
        assert!(err.contains("not a time format"), "{err}");
        assert!(err.contains(&format!("--topology {TOPOLOGY}")), "{err}");
    }
    for cmd in [
        &["matrix"][..],
        &["tui", "-r", "captures/edge-sample.pcapng"][..],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["-t", TOPOLOGY]);
        let out = run(&args);
        assert_eq!(code(&out), 2, "{cmd:?}");
        assert!(stderr(&out).contains("--topology"), "{}", stderr(&out));
    }
    let out = run(&["flows", "-r", "captures/edge-sample.pcapng", "-t", "dd"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("use r"), "{}", stderr(&out));

    // The capture starts at 2026-11-02 09:00:00 UTC; its first flow is DNS at that instant.
    let table = |args: &[&str], tz: &str| -> String {
        let out = edgewise()
            .args([
                "flows",
                "-q",
                "-r",
                "captures/edge-sample.pcapng",
                "-c",
                "2",
            ])
            .args(args)
            .env("TZ", tz)
            .output()
            .expect("runs");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ud = table(&["-t", "ud"], "UTC");
    assert!(ud.contains("start (UTC)"), "{ud}");
    assert!(ud.contains("\n2026-11-02 09:00:00.000000 udp"), "{ud}");
    let e = table(&["-t", "e"], "UTC");
    assert!(e.contains("\n1793610000.000000 "), "{e}");
    let r = table(&["-t", "r"], "UTC");
    assert!(r.contains("\n0.000000 "), "{r}");
    // Local time follows TZ, here a POSIX rule five hours west of UTC.
    let ad = table(&["-t", "ad"], "<-05>5");
    assert!(ad.contains("\n2026-11-02 04:00:00.000000 udp"), "{ad}");
    let adoy = table(&["--time-format", "adoy"], "<-05>5");
    assert!(adoy.contains("\n2026/306 04:00:00.000000 udp"), "{adoy}");
    // Without -t the table has no time column, as before.
    let plain = table(&[], "UTC");
    assert!(plain.contains("\nproto  initiator"), "{plain}");

    let out = run(&[
        "audit",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--topology",
        TOPOLOGY,
        "-t",
        "u",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("start (UTC)"), "{text}");
    assert!(text.contains("  09:00:00."), "{text}");
}

#[test]
fn c_stops_the_read_like_tshark_and_is_not_damage() {
    let (whole, _) = flows_json(Path::new("captures/edge-sample.pcapng"));
    let total = whole["accounting"]["packets"].as_u64().expect("packets");
    assert!(total > 20);
    let out = run(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "-c",
        "20",
        "--format",
        "json",
    ]);
    // Stopping where the user asked is not a partial read.
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["accounting"]["packets"], 20);
    assert_eq!(json["accounting"]["notes"]["read.stopped_at_count"], 20);
    assert_eq!(json["completeness"], "complete");
    assert_balanced(&json, "-c 20");
    if have("tshark") {
        let t = Command::new("tshark")
            .args(["-r", "captures/edge-sample.pcapng", "-c", "20"])
            .output()
            .expect("tshark runs");
        assert_eq!(String::from_utf8_lossy(&t.stdout).lines().count(), 20);
    }
    // Across inputs: the count runs on into the second file, and a third is never opened.
    let out = run(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "-r",
        "captures/tcp-states.pcapng",
        "-r",
        "captures/broken.pcapng",
        "-c",
        &(total + 5).to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["accounting"]["packets"], total + 5);
    let inputs = json["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[1]["packets"], 5);
    // -w follows the same count.
    let dir = tempfile::tempdir().expect("temp dir");
    let first = dir.path().join("first.pcapng");
    let out = run(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "-c",
        "20",
        "-w",
        first.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (back, _) = flows_json(&first);
    assert_eq!(back["accounting"]["packets"], 20);
}

#[test]
fn v_is_the_version_as_in_tshark() {
    let out = run(&["-v"]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("edgewise "));
    // tshark's -V is packet details: not taken for something else here.
    assert_eq!(code(&run(&["-V"])), 2);
}

/// The TCP/UDP conversations a `-Y` expression keeps, as edgewise and as tshark see them.
fn kept_both_ways(capture: &str, filter: &str) -> (Vec<String>, Option<Vec<String>>) {
    let out = run(&[
        "flows", "-q", "-r", capture, "-Y", filter, "--format", "json",
    ]);
    assert_eq!(code(&out), 0, "{filter}: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ours: Vec<String> = our_conversations(&json).into_keys().collect();
    let theirs = have("tshark").then(|| {
        tshark_conversations_where(Path::new(capture), filter)
            .unwrap_or_else(|| panic!("tshark refused -Y '{filter}'"))
            .into_keys()
            .collect()
    });
    (ours, theirs)
}

#[test]
fn y_takes_wireshark_field_names_and_keeps_what_tshark_keeps() {
    // Fields whose flow reading is the packets' reading: a conversation is kept when any of
    // its packets is.
    for capture in [
        "captures/edge-sample.pcapng",
        "captures/ip-edge-cases.pcapng",
    ] {
        for filter in [
            "tcp.port == 5061",
            "udp.port == 3478",
            "tcp.port in {443, 5061} and ip.addr == 10.45.16.0/24",
            "ip.addr == 172.25.33.10",
            "tcp",
            "udp",
            "ipv6",
            "ipv6.addr == 2001:db8:45:16::10",
            "not tcp.port == 443",
            "tcp.port != 443",
            "udp.srcport == 50200 || udp.dstport == 50200",
        ] {
            let (ours, theirs) = kept_both_ways(capture, filter);
            if let Some(theirs) = theirs {
                assert_eq!(ours, theirs, "{capture}: -Y '{filter}'");
            }
        }
    }
    let (ours, _) = kept_both_ways("captures/edge-sample.pcapng", "tcp.port == 5061");
    assert!(!ours.is_empty());
}

#[test]
fn y_tests_presence_contains_and_matches_through_the_binary() {
    let count = |filter: &str| -> u64 {
        let out = run(&[
            "audit",
            "-q",
            "-r",
            "captures/edge-sample.pcapng",
            "--topology",
            TOPOLOGY,
            "-Y",
            filter,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]);
        assert_eq!(code(&out), 0, "{filter}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        json["flows"].as_array().expect("flows").len() as u64
    };
    let sni = count("tls.handshake.extensions_server_name contains \"contoso\"");
    assert!(sni > 0);
    assert_eq!(
        sni,
        count("tls.handshake.extensions_server_name matches \"contoso\\\\.(com|local)$\"")
    );
    assert_eq!(
        count("tls.handshake.extensions_server_name"),
        count("tls.handshake.extensions_server_name ~ \".\"")
    );
    assert_eq!(
        count("verdict matches \"^permitted\""),
        count("verdict in {permitted permitted-with-note}")
    );
    let all = count("frame");
    assert_eq!(
        count("tcp") + count("udp") + count("not tcp and not udp"),
        all
    );
    assert_eq!(count("tcp.port"), count("tcp"));
}

#[test]
fn y_says_did_you_mean_and_why_a_packet_field_cannot_be_answered() {
    let out = run(&[
        "audit",
        "-r",
        "captures/edge-sample.pcapng",
        "-Y",
        "verdit != permitted",
    ]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("unknown field 'verdit': did you mean `verdict`?"),
        "{err}"
    );
    assert!(err.contains("    ^~~~~~"), "{err}");
    let out = run(&[
        "flows",
        "-r",
        "captures/edge-sample.pcapng",
        "-Y",
        "tcp.port == 443 and frame.len > 100",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("'frame.len' is a field of single packets"),
        "{}",
        stderr(&out)
    );
}
