//! The Zeek conn.log is Zeek's: IP byte counts as Zeek sums them (checked against tshark's
//! IP lengths), UDP and ICMP history and ports as Zeek writes them, services by Zeek's
//! analyzer names.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::util::*;

fn zeek_json(capture: &str) -> Vec<serde_json::Value> {
    let out = run(&["flows", "-q", "-r", capture, "--format", "zeek-json"]);
    assert_eq!(out.status.code(), Some(0), "{capture}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// "proto src:port>dst:port" for one direction of a conversation.
fn directed(proto: &str, src: &str, sport: &str, dst: &str, dport: &str) -> String {
    format!("{proto} {src}:{sport}>{dst}:{dport}")
}

/// Σ IP length (IPv4 total length, IPv6 payload length + 40) per direction of each TCP/UDP
/// conversation, as tshark dissects the frames (reassembly off, tunnels and ICMP left out).
fn tshark_ip_bytes(path: &Path) -> BTreeMap<String, u64> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-Y",
            "(tcp or udp) and not icmp and not icmpv6",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args(
            [
                "ip.src",
                "ip.dst",
                "ipv6.src",
                "ipv6.dst",
                "tcp.srcport",
                "tcp.dstport",
                "udp.srcport",
                "udp.dstport",
                "ip.len",
                "ipv6.plen",
            ]
            .iter()
            .flat_map(|f| ["-e", f]),
        )
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sums = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 10 || f.iter().any(|v| v.contains(',')) {
            continue;
        }
        let (src, dst, len) = if !f[0].is_empty() {
            (f[0], f[1], f[8].parse::<u64>().unwrap_or(0))
        } else {
            (f[2], f[3], f[9].parse::<u64>().unwrap_or(0) + 40)
        };
        let (proto, sp, dp) = if !f[4].is_empty() {
            ("tcp", f[4], f[5])
        } else {
            ("udp", f[6], f[7])
        };
        *sums.entry(directed(proto, src, sp, dst, dp)).or_insert(0) += len;
    }
    sums
}

#[test]
fn ip_bytes_are_ip_lengths_as_tshark_sums_them() {
    if !have("tshark") {
        return;
    }
    // link-types holds Linux SLL, SLL2, raw IP and loopback frames: IP bytes must not depend on
    // the link header.
    for capture in [
        "captures/edge-sample.pcapng",
        "captures/audit-violations.pcapng",
        "captures/tcp-states.pcapng",
        "captures/link-types.pcapng",
        "captures/federation-failing.pcapng",
        "captures/ip-edge-cases.pcapng",
    ] {
        let (flows, _) = flows_json(Path::new(capture));
        // Fragmented flows: tshark without reassembly gives later fragments no ports.
        let fragmented: Vec<String> = flows["flows"]
            .as_array()
            .expect("flows")
            .iter()
            .filter(|f| f["fragments"].as_u64().unwrap_or(0) > 0)
            .flat_map(|f| {
                let (i, r) = (&f["initiator"], &f["responder"]);
                let p = f["transport"].as_str().unwrap_or("").to_string();
                let (ii, ip) = (i["ip"].as_str().unwrap_or(""), i["port"].to_string());
                let (ri, rp) = (r["ip"].as_str().unwrap_or(""), r["port"].to_string());
                [
                    directed(&p, ii, &ip, ri, &rp),
                    directed(&p, ri, &rp, ii, &ip),
                ]
            })
            .collect();
        let mut ours = BTreeMap::new();
        for c in zeek_json(capture) {
            let proto = c["proto"].as_str().unwrap_or("");
            if proto != "tcp" && proto != "udp" {
                continue;
            }
            let (oh, op) = (
                c["id.orig_h"].as_str().unwrap_or(""),
                c["id.orig_p"].to_string(),
            );
            let (rh, rp) = (
                c["id.resp_h"].as_str().unwrap_or(""),
                c["id.resp_p"].to_string(),
            );
            for (key, bytes) in [
                (directed(proto, oh, &op, rh, &rp), &c["orig_ip_bytes"]),
                (directed(proto, rh, &rp, oh, &op), &c["resp_ip_bytes"]),
            ] {
                let n = bytes.as_u64().expect("ip bytes are counts");
                if n > 0 {
                    *ours.entry(key).or_insert(0) += n;
                }
            }
        }
        let mut theirs = tshark_ip_bytes(Path::new(capture));
        for k in &fragmented {
            ours.remove(k);
            theirs.remove(k);
        }
        assert!(!ours.is_empty(), "{capture}");
        assert_eq!(ours, theirs, "{capture}");
    }
}

#[test]
fn an_81_byte_ip_packet_is_81_ip_bytes_not_its_95_byte_frame() {
    // The DNS query that opens edge-sample: a 95-byte Ethernet frame holding 81 bytes of IP.
    let conns = zeek_json("captures/edge-sample.pcapng");
    let dns = conns
        .iter()
        .find(|c| c["id.resp_p"] == 53 && c["orig_pkts"] == 1)
        .expect("a DNS query");
    assert_eq!(dns["orig_ip_bytes"], 81);
    assert_eq!(dns["service"], "dns");
    let tsv = run(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--format",
        "zeek",
    ]);
    let text = String::from_utf8_lossy(&tsv.stdout);
    assert!(
        !text.contains("frame bytes"),
        "no note of link bytes any more"
    );
}

#[test]
fn udp_and_icmp_history_ports_and_services_as_zeek_writes_them() {
    let conns = zeek_json("captures/ip-edge-cases.pcapng");
    for c in &conns {
        let history = c.get("history").and_then(|h| h.as_str());
        match c["proto"].as_str() {
            Some("udp") => {
                let h = history.expect("UDP always has a history");
                let (o, r) = (c["orig_pkts"].as_u64(), c["resp_pkts"].as_u64());
                let expected: &[&str] = match (o > Some(0), r > Some(0)) {
                    (true, true) => &["Dd", "dD", "^dD", "^Dd"],
                    (true, false) => &["D", "^D"],
                    (false, true) => &["d", "^d"],
                    (false, false) => &[],
                };
                assert!(expected.contains(&h), "{c}");
            }
            Some("tcp") => assert!(history.is_some(), "{c}"),
            // Zeek's ICMP and other analyzers record no history letters: the field is unset,
            // and Zeek's JSON writer leaves unset fields out.
            _ => assert!(history.is_none(), "{c}"),
        }
        // Zeek has no STUN/RTP analyzer: those never appear as a service.
        if let Some(s) = c.get("service").and_then(|s| s.as_str()) {
            assert!(
                ["ssl", "dns", "http", "sip", "xmpp", "ssh", "rdp", "smb"].contains(&s),
                "{c}"
            );
        }
    }
    // An echo request: type 8, counterpart 0, as Zeek keys it.
    let ping = conns
        .iter()
        .find(|c| c["proto"] == "icmp")
        .expect("an ICMP flow");
    assert_eq!(
        (ping["id.orig_p"].as_u64(), ping["id.resp_p"].as_u64()),
        (Some(8), Some(0))
    );
    // ICMP bytes are those after the 8-byte header: a 60-byte IPv4 echo carries 32.
    assert_eq!(ping["orig_ip_bytes"], 60);
    assert_eq!(ping["orig_bytes"], 32);
    // edgewise's identification is in its own column.
    assert!(conns
        .iter()
        .any(|c| c["payload"] == "stun" && c.get("service").is_none()));
}
