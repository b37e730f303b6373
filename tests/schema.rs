//! One schema: every field the machine formats write is documented in docs/SCHEMA.md, every
//! JSON document and JSON Lines summary opens with `schema_version`, unknown is null (never
//! ""), every timestamp has its RFC 3339 text beside it, and CSV writes the same ids as JSON.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

const TOPOLOGY: &str = "captures/topology.toml";

fn schema_doc() -> String {
    std::fs::read_to_string("docs/SCHEMA.md").expect("docs/SCHEMA.md")
}

/// The text of one `## ` section of the schema page.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let rest = &doc[start + 4..];
    match rest.find("\n## ") {
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// Objects whose keys are data (bucket names, rule ids, verdicts...): documented as `*`.
const MAPS: [&str; 12] = [
    "accounting.buckets",
    "accounting.notes",
    "audit.by_interface",
    "audit.by_service",
    "audit.by_protocol",
    "audit.by_verdict",
    "audit.coverage.hits",
    "headline.violations",
    "inputs[].container.skipped_blocks",
    "log.skipped",
    "log.unparsable",
    "log.exports.dropped",
];

/// Every leaf path of a JSON value, as the schema page names it.
fn paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let key = if MAPS.contains(&at) { "*" } else { k.as_str() };
                paths(x, &join(key), out);
            }
        }
        Value::Array(items) => {
            for x in items {
                paths(x, &format!("{at}[]"), out);
            }
        }
        _ => {
            // The two directions and the two certificate chains share their fields.
            let p = at
                .replace("flows[].resp.", "flows[].orig.")
                .replace(".client_certificates[]", ".certificates[]");
            out.insert(p);
        }
    }
}

/// Fails on `""` anywhere, and on a timestamp without its RFC 3339 text beside it.
fn check_values(v: &Value, at: &str, what: &str) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let here = format!("{at}.{k}");
                if let (Some(name), Some(ns)) = (k.strip_suffix("_ns"), x.as_i64()) {
                    if k.ends_with("ts_ns") {
                        assert_eq!(
                            map.get(name).and_then(Value::as_str),
                            Some(edgewise::report::time::rfc3339(ns).as_str()),
                            "{what}: {here} has no RFC 3339 `{name}` beside it"
                        );
                    }
                }
                check_values(x, &here, what);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| check_values(x, at, what)),
        Value::String(s) => assert!(!s.is_empty(), "{what}: {at} is \"\" (unknown is null)"),
        _ => {}
    }
}

fn output(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sample_captures() -> Vec<String> {
    let mut v: Vec<String> = captures_in(Path::new("captures"))
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

/// Every JSON value and JSON Lines record the tests look at: (what, path prefix, value).
fn machine_outputs() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    let mut push_doc = |what: String, text: &str| {
        assert!(
            text.starts_with("{\n  \"schema_version\": \"2.0\","),
            "{what}: schema_version is not first"
        );
        out.push((
            what,
            String::new(),
            serde_json::from_str(text).expect("JSON"),
        ));
    };
    for cap in sample_captures() {
        let audit = [
            "audit",
            "-q",
            "-r",
            &cap,
            "--topology",
            TOPOLOGY,
            "--fail-on",
            "never",
        ];
        push_doc(
            format!("audit json {cap}"),
            &output(&[&audit[..], &["--format", "json"]].concat()),
        );
        push_doc(
            format!("flows json {cap}"),
            &output(&["flows", "-q", "-r", &cap, "--format", "json"]),
        );
        push_doc(
            format!("audit json -Y {cap}"),
            &output(&[&audit[..], &["--format", "json", "-Y", "port < 60000"]].concat()),
        );
    }
    for log in [
        "pfirewall",
        "asa",
        "panos",
        "fortigate",
        "netfilter",
        "filterlog",
        "cef",
        "leef",
        "checkpoint",
    ] {
        let path = format!("tests/data/logs/{log}.log");
        push_doc(
            format!("log json {log}"),
            &output(&[
                "audit",
                "-q",
                "--log",
                &path,
                "--topology",
                TOPOLOGY,
                "--format",
                "json",
                "--fail-on",
                "never",
            ]),
        );
    }
    // NetFlow v9 records from a capture of softflowd's exports (`log.exports`).
    push_doc(
        "log json netflow".into(),
        &output(&[
            "audit",
            "-q",
            "--netflow",
            "tests/data/netflow/softflowd-v9.pcap",
            "--topology",
            TOPOLOGY,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]),
    );
    if let Some(shared) = shared() {
        for dir in ["dpi", "robust"] {
            for cap in captures_in(&shared.join("pcaps").join(dir)) {
                let cap = cap.display().to_string();
                let out = run(&[
                    "audit",
                    "-q",
                    "-r",
                    &cap,
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                ]);
                // Unusable inputs write no report.
                if out.status.code() == Some(2) {
                    continue;
                }
                push_doc(
                    format!("audit json {cap}"),
                    &String::from_utf8_lossy(&out.stdout),
                );
            }
        }
    }
    for cap in sample_captures() {
        for (cmd, extra) in [
            ("flows", &[][..]),
            ("audit", &["--topology", TOPOLOGY, "--fail-on", "never"][..]),
        ] {
            let text = output(
                &[
                    &[
                        cmd,
                        "-q",
                        "-r",
                        &cap,
                        "--format",
                        "jsonl",
                        "-Y",
                        "port >= 0",
                    ][..],
                    extra,
                ]
                .concat(),
            );
            for line in text.lines() {
                let what = format!("{cmd} jsonl {cap}");
                let v: Value = serde_json::from_str(line).expect("a JSON line");
                let prefix = match v["type"].as_str() {
                    Some("flow") => "flows[]",
                    Some("finding") => "findings[]",
                    Some("call") => "calls[]",
                    Some("display_filter") => "display_filter",
                    Some("summary") => {
                        assert!(
                            line.starts_with(r#"{"type":"summary","schema_version":"2.0","#),
                            "{what}: {line}"
                        );
                        ""
                    }
                    other => panic!("{what}: record type {other:?}"),
                };
                out.push((what, prefix.to_string(), v));
            }
        }
    }
    out
}

#[test]
fn every_json_field_is_documented_and_no_value_is_an_empty_string() {
    let doc = schema_doc();
    let mut missing = BTreeSet::new();
    for (what, prefix, v) in machine_outputs() {
        check_values(&v, &prefix, &what);
        let mut found = BTreeSet::new();
        match v {
            Value::Object(map) if !prefix.is_empty() => {
                for (k, x) in map {
                    if k == "type" {
                        found.insert("type".to_string());
                    } else {
                        paths(&x, &format!("{prefix}.{k}"), &mut found);
                    }
                }
            }
            v => paths(&v, "", &mut found),
        }
        for p in found {
            if !doc.contains(&format!("`{p}`")) {
                missing.insert(p);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields written but not documented in docs/SCHEMA.md:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn csv_writes_ids_and_both_times_and_every_column_is_documented() {
    let doc = schema_doc();
    let csv_doc = section(&doc, "CSV");
    let dir = tempfile::tempdir().expect("temp dir");
    let table = dir.path().join("audit.csv");
    let table_s = table.to_str().expect("utf-8");
    let out = run(&[
        "audit",
        "-q",
        "-r",
        "captures/audit-violations.pcapng",
        "--topology",
        TOPOLOGY,
        "--format",
        "csv",
        "-o",
        table_s,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let flows_csv = output(&[
        "flows",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--format",
        "csv",
    ]);
    let findings = std::fs::read_to_string(format!("{table_s}.findings.csv")).expect("findings");
    let audit_csv = std::fs::read_to_string(&table).expect("table");
    for (what, text) in [
        ("audit csv", audit_csv.as_str()),
        ("flows csv", flows_csv.as_str()),
        ("findings csv", findings.as_str()),
    ] {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let headers = r.headers().expect("header").clone();
        for h in &headers {
            assert!(
                csv_doc.contains(&format!("`{h}`")),
                "{what}: column {h} is not documented"
            );
        }
    }
    let mut r = csv::Reader::from_reader(audit_csv.as_bytes());
    let headers = r.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (svc, iface, first, first_ns) = (
        col("edge_service"),
        col("edge_interface"),
        col("first_ts"),
        col("first_ts_ns"),
    );
    let services = [
        "",
        "access",
        "webconf",
        "av",
        "internal",
        "xmpp-proxy",
        "reverse-proxy",
    ];
    let interfaces = [
        "",
        "external",
        "internal",
        "external-vip",
        "internal-vip",
        "reverse-proxy-external",
        "reverse-proxy-internal",
    ];
    let mut seen_av = false;
    for row in r.records() {
        let row = row.expect("row");
        assert!(
            services.contains(&&row[svc]),
            "edge_service {:?}",
            &row[svc]
        );
        assert!(
            interfaces.contains(&&row[iface]),
            "edge_interface {:?}",
            &row[iface]
        );
        seen_av |= &row[svc] == "av";
        let ns: i64 = row[first_ns].parse().expect("ns");
        assert_eq!(row[first], edgewise::report::time::rfc3339(ns));
    }
    assert!(seen_av, "the sample's A/V Edge flows are written `av`");
}

#[test]
fn every_zeek_column_is_documented() {
    let doc = schema_doc();
    let zeek_doc = section(&doc, "Zeek conn.log");
    let text = output(&[
        "audit",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--topology",
        TOPOLOGY,
        "--format",
        "zeek",
        "--fail-on",
        "never",
    ]);
    let fields = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .expect("#fields");
    for f in fields.split('\t') {
        assert!(
            zeek_doc.contains(&format!("`{f}`")),
            "Zeek column {f} is not documented"
        );
    }
}

#[test]
fn unknown_endpoint_flows_have_null_protocol_and_interface_and_ids_in_tallies() {
    let text = output(&[
        "audit",
        "-q",
        "-r",
        "captures/audit-violations.pcapng",
        "--topology",
        TOPOLOGY,
        "--format",
        "json",
        "--fail-on",
        "never",
    ]);
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let unknown: Vec<&Value> = v["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter(|f| f["verdict"] == "unknown-endpoint")
        .collect();
    assert!(!unknown.is_empty());
    for f in unknown {
        assert!(f["documented"].is_null(), "{f}");
        assert!(
            f["edge_interface"].is_null() && f["edge_service"].is_null(),
            "{f}"
        );
    }
    for key in v["audit"]["by_service"]
        .as_object()
        .expect("tallies")
        .keys()
    {
        assert!(
            [
                "none",
                "access",
                "webconf",
                "av",
                "internal",
                "xmpp-proxy",
                "reverse-proxy"
            ]
            .contains(&key.as_str()),
            "by_service key {key}"
        );
    }
    for key in v["audit"]["by_interface"]
        .as_object()
        .expect("tallies")
        .keys()
    {
        assert!(
            !key.contains(' '),
            "by_interface key {key} is a display name"
        );
    }
    assert!(v["first_ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    // UDP history as Zeek writes it, in JSON too.
    assert!(v["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter(|f| f["transport"] == "udp")
        .all(|f| f["history"]
            .as_str()
            .is_some_and(|h| h.contains(['D', 'd']))));
}
