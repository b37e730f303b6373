//! Helpers shared by the integration tests: the binary, the public captures in ../shared, and
//! the independent tools (tshark, capinfos) used as oracles.
//!
//! Where a tool or ../shared is missing, tests that need it print a note and return, so that
//! `cargo test` passes on a fresh machine. `.ci/run` sets EDGEWISE_REQUIRE_ORACLES=1, under
//! which a missing tool or ../shared fails the test instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn strict() -> bool {
    std::env::var_os("EDGEWISE_REQUIRE_ORACLES").is_some_and(|v| v != "0")
}

/// The project's shared material (../shared beside the repository).
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.join("pcaps").is_dir() {
        Some(p)
    } else if strict() {
        panic!("../shared/pcaps is missing and EDGEWISE_REQUIRE_ORACLES is set");
    } else {
        eprintln!("note: ../shared/pcaps not found; skipping");
        None
    }
}

/// Whether an external tool is on PATH.
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if strict() {
            panic!("{tool} is not installed and EDGEWISE_REQUIRE_ORACLES is set");
        }
        eprintln!("note: {tool} not installed; skipping");
    }
    ok
}

pub fn edgewise() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgewise"))
}

pub fn run(args: &[&str]) -> Output {
    edgewise().args(args).output().expect("edgewise runs")
}

/// `edgewise flows --format json` on a file, with its exit code.
pub fn flows_json(path: &Path) -> (serde_json::Value, i32) {
    let out = run(&[
        "flows",
        "-q",
        "--format",
        "json",
        "-r",
        path.to_str().expect("utf-8 path"),
    ]);
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: JSON did not parse ({e}); exit {code}; stderr: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, code)
}

/// capinfos' packet count and data size (Σ original lengths).
pub fn capinfos(path: &Path) -> Option<(u64, u64)> {
    let out = Command::new("capinfos")
        .args(["-M", "-c", "-d"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))?
            .split(':')
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("Number of packets")?, field("Data size")?))
}

/// A direction-free five-tuple as text: "proto lo_ip:port hi_ip:port".
pub type ConvKey = String;

fn conv_key(proto: &str, a: (&str, &str), b: (&str, &str)) -> ConvKey {
    let (lo, hi) =
        if (a.0, a.1.parse::<u32>().unwrap_or(0)) <= (b.0, b.1.parse::<u32>().unwrap_or(0)) {
            (a, b)
        } else {
            (b, a)
        };
    format!("{proto} {}:{} {}:{}", lo.0, lo.1, hi.0, hi.1)
}

/// Per-conversation (packets, bytes) as tshark dissects them: TCP and UDP frames with a single
/// IP header (no tunnels, no ICMP errors), IP reassembly off so each frame stands for itself.
pub fn tshark_conversations(path: &Path) -> Option<BTreeMap<ConvKey, (u64, u64)>> {
    tshark_conversations_where(path, "frame")
}

/// [`tshark_conversations`] of the frames a tshark display filter keeps.
pub fn tshark_conversations_where(
    path: &Path,
    filter: &str,
) -> Option<BTreeMap<ConvKey, (u64, u64)>> {
    let filter = format!("({filter}) and (tcp or udp) and not icmp and not icmpv6");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-Y",
            &filter,
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "frame.len",
        ])
        .output()
        .ok()?;
    // A filter tshark refuses gives no frames, not an empty answer.
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut convs = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 9 {
            continue;
        }
        // Several values in a field mean nested headers (tunnels): not a plain conversation.
        if f.iter().any(|v| v.contains(',')) {
            continue;
        }
        let (src, dst) = if !f[0].is_empty() {
            (f[0], f[1])
        } else {
            (f[2], f[3])
        };
        let (proto, sp, dp) = if !f[4].is_empty() {
            ("tcp", f[4], f[5])
        } else {
            ("udp", f[6], f[7])
        };
        if src.is_empty() || sp.is_empty() {
            continue;
        }
        let len: u64 = f[8].parse().unwrap_or(0);
        let e = convs
            .entry(conv_key(proto, (src, sp), (dst, dp)))
            .or_insert((0, 0));
        e.0 += 1;
        e.1 += len;
    }
    Some(convs)
}

/// Our flows as (packets, bytes) per conversation key, with each flow's fragment count.
pub fn our_conversations(json: &serde_json::Value) -> BTreeMap<ConvKey, (u64, u64, u64)> {
    let mut convs = BTreeMap::new();
    for f in json["flows"].as_array().expect("flows array") {
        let proto = f["transport"].as_str().unwrap_or("");
        if proto != "tcp" && proto != "udp" {
            continue;
        }
        let ip = |e: &serde_json::Value| e["ip"].as_str().unwrap_or("").to_string();
        let port = |e: &serde_json::Value| e["port"].as_u64().unwrap_or(0).to_string();
        let (ai, ap, bi, bp) = (
            ip(&f["initiator"]),
            port(&f["initiator"]),
            ip(&f["responder"]),
            port(&f["responder"]),
        );
        let k = conv_key(proto, (&ai, &ap), (&bi, &bp));
        let e = convs.entry(k).or_insert((0, 0, 0));
        e.0 += f["packets"].as_u64().unwrap_or(0);
        e.1 += f["wire_bytes"].as_u64().unwrap_or(0);
        e.2 += f["fragments"].as_u64().unwrap_or(0);
    }
    convs
}

/// Every capture file in a directory (by magic-agnostic extension list: the corpus names them so).
pub fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".bin")
        })
        .collect();
    v.sort();
    v
}

/// The accounting identity as the JSON reports it.
pub fn assert_balanced(json: &serde_json::Value, what: &str) {
    let acc = &json["accounting"];
    let mismatches = acc["mismatches"].as_array().expect("mismatches");
    assert!(
        mismatches.is_empty(),
        "{what}: accounting mismatches {mismatches:?}"
    );
    let read = acc["packets"].as_u64().expect("packets");
    let in_buckets: u64 = acc["buckets"]
        .as_object()
        .expect("buckets")
        .values()
        .map(|t| t["packets"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(read, in_buckets, "{what}: packets read vs Σ buckets");
}

/// A topology text turned into a hardware-load-balanced site: the VIPs of the sample's
/// commented [vips] table enabled, and no NAT (HLB pools need public addresses).
pub fn as_hlb(topology: &str) -> String {
    let mut t = topology.replace("scenario = \"single\"", "scenario = \"hlb\"");
    for last in ["10", "11", "20", "21", "30", "31"] {
        t = t.replace(&format!(", public = \"131.107.155.{last}\""), "");
    }
    for line in [
        "[vips]",
        "access = \"131.107.155.10\"",
        "webconf = \"131.107.155.20\"",
        "av = \"131.107.155.30\"",
        "internal = \"172.25.33.100\"",
    ] {
        t = t.replace(&format!("# {line}"), line);
    }
    t
}
