//! Never a clean pass on a broken site: the headline, the exit status and the topology's own
//! checks, through the binary, on the bundled captures and topologies a user could mistype.

use std::path::{Path, PathBuf};

use crate::util::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample_topology() -> String {
    std::fs::read_to_string(root().join("captures/topology.toml")).expect("sample topology")
}

/// The sample topology with `edit` applied, written to a temporary file.
fn topology_with(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("site.toml");
    std::fs::write(&path, edit(sample_topology())).expect("write");
    (dir, path)
}

/// `audit` as text: exit status, standard output, standard error.
fn audit(capture: &str, topology: &Path, extra: &[&str]) -> (i32, String, String) {
    let cap = root().join("captures").join(capture);
    audit_of(&["-r", cap.to_str().expect("utf-8")], topology, extra)
}

/// `audit` of an input (`-r FILE`, `--log FILE`) against a topology.
fn audit_of(input: &[&str], topology: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["audit", "-q"];
    args.extend_from_slice(input);
    args.extend_from_slice(&["--topology", topology.to_str().expect("utf-8")]);
    args.extend_from_slice(extra);
    let out = run(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sample topology without its `[internal]` section.
fn without_internal(t: String) -> String {
    let start = t.find("[internal]").expect("[internal]");
    let end = start + t[start..].find("[reverse_proxy]").expect("[reverse_proxy]");
    format!("{}{}", &t[..start], &t[end..])
}

#[test]
fn the_headline_is_the_first_line_and_says_fail_and_why() {
    let topo = root().join("captures/topology.toml");
    let (code, out, _) = audit("federation-failing.pcapng", &topo, &[]);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("FAIL: 0 violations, "), "{out}");
    assert!(out.contains("  error: F1 "), "{out}");
    // Every flow is documented; the failing federation fails the audit by default.
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = audit(
        "federation-failing.pcapng",
        &topo,
        &["--fail-on", "violation"],
    );
    assert_eq!(code, 0);
    // The headline does not change with --fail-on: only the exit status does.
    assert!(out.starts_with("FAIL: "), "{out}");
}

#[test]
fn a_mistyped_edge_address_fails_and_names_the_one_seen() {
    let (_dir, topo) = topology_with(|t| t.replace("172.25.33.10", "172.25.33.11"));
    // --wide: the headline's lines unwrapped, as a script greps them.
    let (code, out, _) = audit(
        "edge-sample.pcapng",
        &topo,
        &["--fail-on", "violation", "--wide"],
    );
    assert!(out.starts_with("FAIL: "), "{out}");
    assert!(
        out.contains("T1 The capture does not match the topology: 172.25.33.11 never appears, 172.25.33.10 looks like it"),
        "{out}"
    );
    assert!(
        out.contains("not checked: 8 flows touch no address of the topology"),
        "{out}"
    );
    // --fail-on violation: the flows outside the topology are no violations.
    assert_eq!(code, 0);
    let (code, _, _) = audit("edge-sample.pcapng", &topo, &[]);
    assert_eq!(code, 1);
}

#[test]
fn a_topology_without_its_internal_side_is_warned_of_and_fails_the_audit() {
    let (_dir, topo) = topology_with(without_internal);
    let out = run(&["topology", "check", topo.to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text.contains("warning: ") && text.contains("no [internal] section"),
        "{text}"
    );
    let (code, out, err) = audit("edge-sample.pcapng", &topo, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("no [internal] section"), "{err}");
    assert!(
        out.contains("T3 The topology declares no internal side, yet 2 hosts talk to the Edge internal interface"),
        "{out}"
    );
}

#[test]
fn a_topology_that_cannot_be_right_is_refused_with_its_place_and_fix() {
    type Edit = fn(String) -> String;
    let cases: [(&str, Edit, &str); 2] = [
        (
            "xmpp on 2019",
            |t| {
                t.replace("product = \"sfb2015\"", "product = \"sfb2019\"")
                    .replace("xmpp = false", "xmpp = true")
            },
            ":16:8: xmpp = true, but Skype for Business Server 2019 does not support XMPP federation",
        ),
        (
            "reversed media range",
            |t| {
                t.replace("# [ports]", "[ports]")
                    .replace("# media = \"50000-59999\"", "media = \"59999-50000\"")
            },
            "media: '59999-50000' runs backwards; write the low port first: \"50000-59999\"",
        ),
    ];
    for (what, edit, words) in cases {
        let (_dir, topo) = topology_with(edit);
        let out = run(&["topology", "check", topo.to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(words), "{what}: {err}");
        assert!(err.contains("site.toml"), "{what}: {err}");
    }
}

#[test]
fn nonsense_option_values_are_refused() {
    let cap = root().join("captures/edge-sample.pcapng");
    let cap = cap.to_str().expect("utf-8");
    for (args, words) in [
        (vec!["--max-flows", "0"], "must be at least 1"),
        (vec!["--max-flows", "1000000000"], "is beyond reason"),
        (vec!["--threads", "1000"], "is beyond reason"),
    ] {
        let mut all = vec!["flows", "-r", cap];
        all.extend(args.iter().copied());
        let out = run(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

#[test]
fn a_damaged_input_is_never_hidden_by_a_violation() {
    // A directory holding a capture with a violation and a file that is no capture at all.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        root().join("captures/audit-violations.pcapng"),
        dir.path().join("a.pcapng"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("b.pcap"), b"not a capture at all").expect("write");
    let topo = root().join("captures/topology.toml");
    let out = run(&[
        "audit",
        "-q",
        "-r",
        dir.path().to_str().expect("utf-8"),
        "--topology",
        topo.to_str().expect("utf-8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.starts_with("FAIL: "), "{text}");
    assert!(
        text.contains("not checked: ") && text.contains("b.pcap could not be read"),
        "{text}"
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let cap = root().join("captures/edge-sample.pcapng");
    let mut child = edgewise()
        .args(["flows", "--format", "csv", "-r"])
        .arg(&cap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    // Read one byte, then close the pipe, as `| head -c1` does.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).expect("a first byte");
    drop(stdout);
    let out = child.wait_with_output().expect("ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

/// A pfirewall.log of RDP attempts on the Access Edge's external address (traffic the matrix
/// does not permit there), each line saying `action`.
fn rdp_attempts(action: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pfirewall.log");
    let mut log = String::from(
        "#Version: 1.5\n#Software: Microsoft Windows Firewall\n#Time Format: Local\n\
         #Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags \
         tcpsyn tcpack tcpwin icmptype icmpcode info path\n\n",
    );
    for i in 0..3 {
        log.push_str(&format!(
            "2026-12-01 10:00:0{i} {action} TCP 203.0.113.{} 10.45.16.10 4{i}000 3389 52 S \
             12345 0 64240 - - - RECEIVE\n",
            10 + i
        ));
    }
    std::fs::write(&path, log).expect("write log");
    (dir, path)
}

/// A log's audit against the sample topology: exit status and standard output.
fn audit_log(log: &Path, extra: &[&str]) -> (i32, String) {
    let topo = root().join("captures/topology.toml");
    let (code, out, _) = audit_of(&["--log", log.to_str().expect("utf-8")], &topo, extra);
    (code, out)
}

#[test]
fn traffic_the_firewall_denied_is_blocked_not_a_violation() {
    // Denied on every line: the firewall did its job; the audit passes and says what it blocked.
    let (_d, denied) = rdp_attempts("DROP");
    let (code, text) = audit_log(&denied, &[]);
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or("");
    assert!(first.starts_with("PASS: 0 violations"), "{first}");
    assert!(
        text.contains("blocked by the firewall: 3 flows the matrix does not permit"),
        "{text}"
    );
    assert!(text.contains("Violations: none"), "{text}");
    assert!(
        text.contains(
            "Blocked by the firewall (the matrix does not permit them; not violations): 3 flows"
        ),
        "{text}"
    );
    // --fail-on violation does not count them either; the JSON says the same.
    assert_eq!(audit_log(&denied, &["--fail-on", "violation"]).0, 0);
    let (_, json) = audit_log(&denied, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["headline"]["answer"], "pass");
    assert_eq!(v["headline"]["violations_total"], 0);
    assert_eq!(v["headline"]["blocked_total"], 3);
    assert_eq!(v["audit"]["violations"], 0);
    assert_eq!(v["audit"]["blocked"]["not-in-matrix"]["flows"], 3);
    // The display filter tells them apart.
    let kept = |filter: &str| {
        let (_, out) = audit_log(&denied, &["-Y", filter, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        v["flows"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(kept("blocked"), 3);
    assert_eq!(kept("!blocked"), 0);

    // The same traffic let through reached the Edge: a violation, and the run fails.
    let (_d, allowed) = rdp_attempts("ALLOW");
    let (code, text) = audit_log(&allowed, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("FAIL: 3 violations"), "{text}");
    assert!(!text.contains("blocked by the firewall"), "{text}");
}
