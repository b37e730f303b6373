//! What other tools read from edgewise: Zeek conn.log (TSV and JSON), Community ID, the
//! display filter end to end, shell completions and the man page.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use crate::util::run;

fn capture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "edgewise {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// What zeek-cut needs of a Zeek ASCII log: the header values and each row keyed by `#fields`.
struct ZeekLog {
    /// Header lines in order, as (key, value).
    header: Vec<(String, String)>,
    fields: Vec<String>,
    types: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
    close: Option<String>,
    /// Lines after `#close` (there must be none).
    after_close: usize,
}

fn read_zeek(text: &str) -> ZeekLog {
    let mut log = ZeekLog {
        header: Vec::new(),
        fields: Vec::new(),
        types: Vec::new(),
        rows: Vec::new(),
        close: None,
        after_close: 0,
    };
    let mut sep = '\t';
    for line in text.lines() {
        if log.close.is_some() {
            log.after_close += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("#separator ") {
            assert_eq!(rest, "\\x09", "the separator is a tab");
            sep = '\t';
            log.header.push(("separator".into(), rest.into()));
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let (k, v) = rest.split_once(sep).unwrap_or((rest, ""));
            match k {
                "fields" => log.fields = v.split(sep).map(String::from).collect(),
                "types" => log.types = v.split(sep).map(String::from).collect(),
                "close" => log.close = Some(v.to_string()),
                _ => {}
            }
            log.header.push((k.to_string(), v.to_string()));
            continue;
        }
        let values: Vec<&str> = line.split(sep).collect();
        assert_eq!(
            values.len(),
            log.fields.len(),
            "a row has as many values as #fields: {line}"
        );
        log.rows.push(
            log.fields
                .iter()
                .cloned()
                .zip(values.into_iter().map(String::from))
                .collect(),
        );
    }
    log
}

fn flows_json(capture: &str) -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_str(&stdout(&["flows", "-q", "-r", capture, "--format", "json"]))
            .expect("flows JSON parses");
    doc["flows"].as_array().cloned().unwrap_or_default()
}

/// The oriented 5-tuple of a JSON flow record, as Zeek's id fields write it.
fn json_key(f: &serde_json::Value) -> (String, String, String, String) {
    (
        f["initiator"]["ip"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        f["initiator"]["port"].to_string(),
        f["responder"]["ip"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        f["responder"]["port"].to_string(),
    )
}

fn zeek_key(r: &BTreeMap<String, String>) -> (String, String, String, String) {
    (
        r["id.orig_h"].clone(),
        r["id.orig_p"].clone(),
        r["id.resp_h"].clone(),
        r["id.resp_p"].clone(),
    )
}

#[test]
fn zeek_tsv_has_the_header_and_agrees_with_json() {
    let cap = capture("edge-sample.pcapng");
    let log = read_zeek(&stdout(&["flows", "-q", "-r", &cap, "--format", "zeek"]));
    let keys: Vec<&str> = log.header.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        &keys[..8],
        &[
            "separator",
            "set_separator",
            "empty_field",
            "unset_field",
            "path",
            "open",
            "fields",
            "types"
        ]
    );
    assert_eq!(keys.last(), Some(&"close"));
    assert_eq!(log.after_close, 0);
    let value = |k: &str| {
        log.header
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(value("set_separator"), Some(","));
    assert_eq!(value("empty_field"), Some("(empty)"));
    assert_eq!(value("unset_field"), Some("-"));
    assert_eq!(value("path"), Some("conn"));
    // #open/#close come from the capture, so two runs are identical.
    let open = value("open").unwrap_or_default();
    assert_eq!(open.len(), "2014-05-23-18-02-04".len(), "{open}");
    assert!(log.close.as_deref().unwrap_or_default() >= open);
    // IP bytes are Zeek's now: no header line owes a difference.
    assert!(!log.header.iter().any(|(k, _)| k == "edgewise"));

    let zeek_fields = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration \
                       orig_bytes resp_bytes conn_state local_orig local_resp missed_bytes history \
                       orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents community_id \
                       payload";
    assert_eq!(log.fields.join(" "), zeek_fields);
    assert_eq!(log.types.len(), log.fields.len());
    assert_eq!(log.types[0], "time");
    assert_eq!(log.types[20], "set[string]");

    let json = flows_json(&cap);
    assert_eq!(log.rows.len(), json.len());
    assert!(!json.is_empty());
    for f in &json {
        let key = json_key(f);
        let row = log
            .rows
            .iter()
            .find(|r| zeek_key(r) == key)
            .unwrap_or_else(|| panic!("no Zeek row for {key:?}"));
        assert_eq!(
            row["conn_state"],
            f["conn_state"].as_str().unwrap_or_default()
        );
        assert_eq!(
            row["community_id"],
            f["community_id"].as_str().unwrap_or_default()
        );
        assert!(row["community_id"].starts_with("1:"));
        assert!(row["uid"].starts_with('C') && row["uid"].len() == 18);
        assert_eq!(row["orig_pkts"], f["orig"]["packets"].to_string());
        assert_eq!(row["resp_ip_bytes"], f["resp"]["ip_bytes"].to_string());
        assert_eq!(row["tunnel_parents"], "(empty)");
        let history = f["history"].as_str().unwrap_or_default();
        match f["transport"].as_str() {
            Some("tcp") => assert_eq!(row["history"], history),
            // Zeek's UDP analyzer writes D / d for each side that sent.
            Some("udp") => {
                assert_eq!(row["history"].contains('D'), f["orig"]["packets"] != 0);
                assert_eq!(row["history"].contains('d'), f["resp"]["packets"] != 0);
            }
            _ => {}
        }
        let ts: f64 = row["ts"].parse().expect("ts is a number");
        let first = f["first_ts_ns"].as_i64().unwrap_or_default() as f64 / 1e9;
        assert!((ts - first).abs() < 1e-5, "{ts} vs {first}");
        assert_eq!(row["ts"].split('.').nth(1).map(str::len), Some(6));
    }
    // Deterministic uids and the same output on a second run.
    let again = stdout(&["flows", "-q", "-r", &cap, "--format", "zeek"]);
    assert_eq!(read_zeek(&again).rows, log.rows);
}

#[test]
fn zeek_json_lines_have_the_same_fields() {
    let cap = capture("edge-sample.pcapng");
    let log = read_zeek(&stdout(&["flows", "-q", "-r", &cap, "--format", "zeek"]));
    let text = stdout(&["flows", "-q", "-r", &cap, "--format", "zeek-json"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), log.rows.len());
    for (line, row) in lines.iter().zip(&log.rows) {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let obj = v.as_object().expect("an object");
        // Every key is a #fields name, and the line keeps Zeek's column order.
        for k in obj.keys() {
            assert!(log.fields.contains(k), "unknown field {k}");
        }
        let offsets: Vec<usize> = log
            .fields
            .iter()
            .filter_map(|f| line.find(&format!("\"{f}\":")))
            .collect();
        assert_eq!(offsets.len(), obj.len());
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "JSON keys keep Zeek's column order: {line}"
        );
        // Unset values are left out, as Zeek's JSON writer does; the rest are present.
        for (name, value) in row {
            match obj.get(name) {
                None => assert_eq!(value, "-", "{name} missing from JSON"),
                Some(serde_json::Value::String(s)) => assert_eq!(s, value, "{name}"),
                Some(serde_json::Value::Number(n)) => {
                    let a: f64 = value.parse().expect("number in TSV");
                    let b = n.as_f64().unwrap_or(f64::NAN);
                    assert!((a - b).abs() < 1e-5, "{name}: {a} vs {b}");
                }
                Some(serde_json::Value::Array(a)) => {
                    assert_eq!(value == "(empty)", a.is_empty(), "{name}")
                }
                Some(other) => panic!("{name}: unexpected {other}"),
            }
        }
    }
}

#[test]
fn zeek_audit_adds_the_judgement_columns() {
    let out = stdout(&[
        "audit",
        "-q",
        "-r",
        &capture("audit-violations.pcapng"),
        "--topology",
        &capture("topology.toml"),
        "--format",
        "zeek",
    ]);
    let log = read_zeek(&out);
    let tail: Vec<&str> = log.fields[23..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "edge_interface",
            "edge_service",
            "documented",
            "verdict",
            "rules"
        ]
    );
    assert_eq!(log.fields[21], "community_id");
    assert_eq!(log.fields[22], "payload");
    assert_eq!(log.types.last().map(String::as_str), Some("set[string]"));
    assert!(log.rows.iter().any(|r| r["verdict"] == "permitted"));
    assert!(log.rows.iter().any(|r| r["verdict"] != "permitted"));
    for r in &log.rows {
        assert!(!r["verdict"].is_empty());
    }
}

/// Protocol, source, destination, source port (ICMP type), destination port (ICMP code), id.
type Vector = (
    u8,
    &'static str,
    &'static str,
    Option<u16>,
    Option<u16>,
    &'static str,
);

/// The spec's baseline (corelight/community-id-spec baseline/baseline_deflt.json).
#[test]
fn community_id_baseline_vectors() {
    use edgewise::report::zeek::community_id_of;
    let ip = |s: &str| s.parse::<IpAddr>().expect("address");
    let cases: [Vector; 9] = [
        (
            6,
            "128.232.110.120",
            "66.35.250.204",
            Some(34855),
            Some(80),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            17,
            "192.168.1.52",
            "8.8.8.8",
            Some(54585),
            Some(53),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            1,
            "192.168.0.89",
            "192.168.0.1",
            Some(8),
            Some(0),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            1,
            "10.0.0.1",
            "10.0.0.2",
            Some(11),
            Some(0),
            "1:YHxtAirCG//0OzkcVAukqKQN9xM=",
        ),
        (
            6,
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            "2607:f8b0:400c:c03::1a",
            Some(63943),
            Some(25),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            58,
            "fe80::200:86ff:fe05:80da",
            "fe80::260:97ff:fe07:69ea",
            Some(135),
            Some(136),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
        (
            58,
            "3ffe:507:0:1:200:86ff:fe05:80da",
            "3ffe:501:0:1001::2",
            Some(128),
            Some(129),
            "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
        ),
        (
            132,
            "192.168.170.8",
            "192.168.170.56",
            Some(7),
            Some(7),
            "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
        ),
        (
            46,
            "10.1.12.1",
            "10.1.12.2",
            None,
            None,
            "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
        ),
    ];
    for (proto, s, d, sp, dp, want) in cases {
        assert_eq!(
            community_id_of(ip(s), ip(d), sp, dp, proto).as_deref(),
            Some(want),
            "{proto} {s}:{sp:?} -> {d}:{dp:?}"
        );
    }
    // Both directions give the same id. For ICMP the reverse direction carries the
    // counter-type (echo reply 0 for echo request 8; neighbor advertisement 136 for 135).
    let reverse: [Vector; 5] = [
        (
            6,
            "66.35.250.204",
            "128.232.110.120",
            Some(80),
            Some(34855),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            17,
            "8.8.8.8",
            "192.168.1.52",
            Some(53),
            Some(54585),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            1,
            "192.168.0.1",
            "192.168.0.89",
            Some(0),
            Some(8),
            "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
        ),
        (
            6,
            "2607:f8b0:400c:c03::1a",
            "2001:470:e5bf:dead:4957:2174:e82c:4887",
            Some(25),
            Some(63943),
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            58,
            "fe80::260:97ff:fe07:69ea",
            "fe80::200:86ff:fe05:80da",
            Some(136),
            Some(135),
            "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
        ),
    ];
    for (proto, s, d, sp, dp, want) in reverse {
        assert_eq!(
            community_id_of(ip(s), ip(d), sp, dp, proto).as_deref(),
            Some(want)
        );
    }
    // Mixed families have no id.
    assert_eq!(
        community_id_of(ip("10.0.0.1"), ip("::1"), Some(1), Some(2), 6),
        None
    );
}

#[test]
fn json_flow_records_carry_the_community_id() {
    for f in flows_json(&capture("edge-sample.pcapng")) {
        let id = f["community_id"].as_str().unwrap_or_default();
        assert!(id.starts_with("1:") && id.ends_with('='), "{id}");
    }
}

fn audit_flows(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "audit",
        "-q",
        "-r",
        "",
        "--topology",
        "",
        "--format",
        "json",
    ];
    let cap = capture("audit-violations.pcapng");
    let topo = capture("topology.toml");
    args[3] = &cap;
    args[5] = &topo;
    args.extend_from_slice(extra);
    serde_json::from_str(&stdout(&args)).expect("audit JSON parses")
}

#[test]
fn display_filter_keeps_exactly_the_internal_violations() {
    let all = audit_flows(&[]);
    let all_flows = all["flows"].as_array().cloned().unwrap_or_default();
    let mut want: Vec<_> = all_flows
        .iter()
        .filter(|f| f["verdict"] != "permitted" && f["edge_interface"] == "internal")
        .map(json_key)
        .collect();
    want.sort();
    assert!(!want.is_empty(), "the capture has internal violations");
    assert!(want.len() < all_flows.len());

    let filtered = audit_flows(&["-Y", "verdict != permitted and interface == internal"]);
    let mut got: Vec<_> = filtered["flows"]
        .as_array()
        .map(|v| v.iter().map(json_key).collect())
        .unwrap_or_default();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(filtered["display_filter"]["kept"], want.len());
    assert_eq!(filtered["display_filter"]["total"], all_flows.len());
    // The accounting still covers every packet read.
    assert_eq!(filtered["accounting"], all["accounting"]);
    for f in filtered["flows"].as_array().into_iter().flatten() {
        assert_eq!(f["edge_interface"], "internal");
    }
}

#[test]
fn display_filter_on_flows_and_its_errors() {
    let cap = capture("edge-sample.pcapng");
    let text = stdout(&[
        "flows",
        "-q",
        "-r",
        &cap,
        "--format",
        "zeek",
        "-Y",
        "port == 5061",
    ]);
    let log = read_zeek(&text);
    assert!(!log.rows.is_empty());
    for r in &log.rows {
        assert!(r["id.orig_p"] == "5061" || r["id.resp_p"] == "5061");
    }
    assert!(text.contains("#edgewise\tdisplay filter port == 5061 kept"));

    let bad = run(&["flows", "-q", "-r", &cap, "-Y", "port == 50x"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("display filter: expected a number at column 9: 'port == 50x'"),
        "{err}"
    );
    assert!(err.contains("\n            ^~~"), "{err}");

    let audit_only = run(&["flows", "-q", "-r", &cap, "-Y", "severity == error"]);
    assert_eq!(audit_only.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&audit_only.stderr).contains("edgewise audit"));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = stdout(&["completions", shell]);
        assert!(out.contains("edgewise"), "{shell}");
    }
    assert!(stdout(&["completions", "bash"]).contains("display-filter"));
    let man = stdout(&["man"]);
    assert!(man.starts_with(".TH"), "{}", &man[..man.len().min(80)]);
    assert!(man.contains(".SH NAME"));
}

/// A page per subcommand: each names itself, lists its exit statuses, and the audit's explains
/// every verdict; `--dir` writes them all; groff reads every page without a warning.
#[test]
fn a_man_page_per_subcommand_with_exit_status_and_verdicts() {
    let audit = stdout(&["man", "audit"]);
    assert!(
        audit.starts_with(".TH edgewise-audit 1"),
        "{}",
        &audit[..80]
    );
    assert!(
        audit.contains("\\fBedgewise audit\\fR"),
        "synopsis names `edgewise audit`"
    );
    assert!(audit.contains(".SH \"EXIT STATUS\""));
    assert!(audit.contains("\\fB3\\fR"), "exit status 3 is documented");
    for v in edgewise::judge::Verdict::ALL {
        let tag = format!("\\fB{}\\fR", v.label().replace('-', "\\-"));
        assert!(audit.contains(&tag), "verdict {} missing", v.label());
    }
    let flows = stdout(&["man", "flows"]);
    assert!(
        !flows.contains(".SH \"VERDICTS\""),
        "flows prints no verdicts"
    );
    let unknown = run(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no manual page for `nope`") && err.contains("audit"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&["man", "--dir", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(0));
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "edgewise.1",
        "edgewise-audit.1",
        "edgewise-flows.1",
        "edgewise-tui.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} not in {pages:?}");
    }
    if crate::util::have("groff") {
        for p in &pages {
            let page = dir.path().join(p);
            let g = std::process::Command::new("groff")
                .args(["-man", "-ww", "-z"])
                .arg(&page)
                .output()
                .expect("groff");
            let warnings = String::from_utf8_lossy(&g.stderr);
            assert!(warnings.trim().is_empty(), "{p}: {warnings}");
        }
    }
}

proptest::proptest! {
    /// Any string of the filter's own tokens parses or is refused with a column, never panics.
    #[test]
    fn display_filter_parser_never_panics(
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "ip", "port", "ip.src", "verdict", "severity", "duration", "==", "!=", "<=", "in", "{", "}", ",",
            "(", ")", "and", "or", "not", "!", "&&", "||", "10.45.16.0/24", "443", "50000..59999", "permitted",
            "1.5s", "\"", "x", "", "é", "999999999999999999999",
        ]), 0..20),
    ) {
        let src = tokens.join(" ");
        if let Err(e) = edgewise::select::Filter::parse(&src) {
            proptest::prop_assert!(e.to_string().contains("column"), "{e}");
        }
    }
}
