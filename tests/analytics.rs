//! Parquet outputs and `edgewise summary` (feature `analytics`), and what a build without it says.

use crate::util::*;

#[cfg(feature = "analytics")]
use std::path::Path;

fn run_in_repo(args: &[&str]) -> std::process::Output {
    edgewise()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("edgewise runs")
}

#[cfg(feature = "analytics")]
#[test]
fn parquet_round_trips_and_summary_combines_captures() {
    let dir = tempfile::tempdir().expect("dir");
    let mut tables = Vec::new();
    for capture in ["edge-sample", "audit-violations"] {
        let out = dir.path().join(format!("{capture}.parquet"));
        let out_s = out.to_str().expect("utf-8");
        let cap = format!("captures/{capture}.pcapng");
        let r = run_in_repo(&[
            "audit",
            "-q",
            "-r",
            &cap,
            "--topology",
            "captures/topology.toml",
            "--format",
            "parquet",
            "-o",
            out_s,
        ]);
        assert!(
            matches!(r.status.code(), Some(0) | Some(1)),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
        let json = run_in_repo(&[
            "audit",
            "-q",
            "-r",
            &cap,
            "--topology",
            "captures/topology.toml",
            "--format",
            "json",
        ]);
        let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
        let flows = json["flows"].as_array().expect("flows");
        // Read back with polars: one row per flow, the same verdicts.
        let df = edgewise::analytics::read_parquet(&out).expect("parquet");
        assert_eq!(df.height(), flows.len());
        let verdicts = df
            .column("verdict")
            .expect("verdict")
            .str()
            .expect("strings")
            .clone();
        let mut ours: Vec<String> = (0..verdicts.len())
            .map(|i| verdicts.get(i).unwrap_or_default().to_string())
            .collect();
        let mut theirs: Vec<String> = flows
            .iter()
            .map(|f| f["verdict"].as_str().unwrap_or_default().to_string())
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
        let findings =
            edgewise::analytics::read_parquet(Path::new(&format!("{out_s}.findings.parquet")))
                .expect("findings");
        assert_eq!(
            findings.height(),
            json["findings"].as_array().expect("findings").len()
        );
        tables.push((out, flows.len()));
    }
    let paths: Vec<std::path::PathBuf> = tables.iter().map(|(p, _)| p.clone()).collect();
    let df = edgewise::analytics::summary(&paths, &["capture".to_string(), "verdict".to_string()])
        .expect("summary");
    let counts = df
        .column("flows")
        .expect("flows")
        .u32()
        .expect("u32")
        .clone();
    let total: u32 = (0..counts.len()).filter_map(|i| counts.get(i)).sum();
    assert_eq!(total as usize, tables.iter().map(|(_, n)| n).sum::<usize>());
    let args: Vec<&str> = ["summary", "--by", "verdict", "--format", "csv"]
        .into_iter()
        .chain(paths.iter().map(|p| p.to_str().expect("utf-8")))
        .collect();
    let out = run_in_repo(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("verdict,flows,packets,bytes"), "{text}");
    assert!(text.contains("protocol-mismatch"), "{text}");
    let bad = run_in_repo(&[
        "summary",
        "--by",
        "colour",
        paths[0].to_str().expect("utf-8"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot group by 'colour'"));
}

/// DuckDB's Python package, the reader the Parquet tables are checked with: present, or a note
/// and a skip (a failure under EDGEWISE_REQUIRE_ORACLES, as `.ci/run` sets).
#[cfg(feature = "analytics")]
fn have_duckdb() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if strict() {
            panic!(
                "python3's duckdb is not installed (pip install duckdb) and \
                 EDGEWISE_REQUIRE_ORACLES is set"
            );
        }
        eprintln!("note: python3's duckdb not installed; skipping");
    }
    ok
}

/// What DuckDB reads of the flow tables `flows` and the findings tables `findings`: the column
/// types, the tallies per capture and across all files, the findings, and the checks that
/// need SQL (no "" anywhere, each TIMESTAMP the same instant as its `_ns` column).
#[cfg(feature = "analytics")]
const DUCKDB_SCRIPT: &str = r#"
import duckdb, json, sys
flows, findings = json.loads(sys.argv[1]), json.loads(sys.argv[2])
con = duckdb.connect()
def files(paths):
    return "read_parquet([" + ",".join("'" + p.replace("'", "''") + "'" for p in paths) + "])"
F, G = files(flows), files(findings)
def rows(sql):
    return [list(r) for r in con.execute(sql).fetchall()]
types = {t: dict(rows(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {t})"))
         for t in (F, G)}
per_capture = {
    key: rows(f"SELECT capture, coalesce({key}, 'none'), count(*), sum(packets), sum(bytes) "
              f"FROM {F} GROUP BY ALL")
    for key in ("verdict", "edge_interface", "edge_service")
}
text = [c for c, t in types[F].items() if t == "VARCHAR"]
text_g = [c for c, t in types[G].items() if t == "VARCHAR"]
print(json.dumps({
    "flow_types": types[F],
    "finding_types": types[G],
    "per_capture": per_capture,
    "all": rows(f"SELECT verdict, edge_service, transport, count(*), sum(packets), sum(bytes) "
                f"FROM {F} GROUP BY ALL"),
    "findings": rows(f"SELECT capture, id, severity, evidence_flow_ids FROM {G}"),
    "empty_text": rows(f"SELECT count(*) FROM {F} WHERE " +
                       " OR ".join(f"{c} = ''" for c in text))[0][0]
                  + rows(f"SELECT count(*) FROM {G} WHERE " +
                         " OR ".join(f"{c} = ''" for c in text_g))[0][0],
    "timestamps_off": rows(f"SELECT count(*) FROM {F} WHERE epoch_us(first_ts) <> "
                           f"first_ts_ns // 1000 OR epoch_us(last_ts) <> last_ts_ns // 1000")[0][0],
    "no_interface_null": rows(f"SELECT count(*) FROM {F} WHERE verdict = 'unknown-endpoint' "
                              f"AND edge_interface IS NOT NULL")[0][0],
}))
"#;

/// The flow and findings tables of every bundled capture, read by DuckDB, give the tallies of
/// the audit's JSON and of `edgewise summary`, and the JSON's findings.
#[cfg(feature = "analytics")]
#[test]
fn duckdb_reads_the_tallies_of_the_audit_and_of_summary() {
    use std::collections::BTreeMap;
    use std::path::Path;

    use serde_json::Value;

    if !have_duckdb() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (mut flow_files, mut finding_files) = (Vec::new(), Vec::new());
    // Per capture as the tables name it: the audit's JSON.
    let mut audits: BTreeMap<String, Value> = BTreeMap::new();
    for cap in captures_in(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("captures")
            .as_path(),
    ) {
        let name = cap.file_stem().expect("name").to_string_lossy().to_string();
        let cap = format!("captures/{name}.pcapng");
        let out = dir.path().join(format!("{name}.parquet"));
        let common = [
            "audit",
            "-q",
            "-r",
            &cap,
            "--topology",
            "captures/topology.toml",
            "--fail-on",
            "never",
        ];
        let r = run_in_repo(
            &[
                &common[..],
                &["--format", "parquet", "-o", out.to_str().expect("utf-8")],
            ]
            .concat(),
        );
        assert!(
            matches!(r.status.code(), Some(0 | 3)),
            "{cap}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let json = run_in_repo(&[&common[..], &["--format", "json"]].concat());
        let json: Value = serde_json::from_slice(&json.stdout).expect("json");
        audits.insert(cap, json);
        finding_files.push(format!("{}.findings.parquet", out.display()));
        flow_files.push(out.display().to_string());
    }
    assert!(
        audits.len() >= 9,
        "the bundled captures: {:?}",
        audits.keys()
    );
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            DUCKDB_SCRIPT,
            &serde_json::to_string(&flow_files).expect("json"),
            &serde_json::to_string(&finding_files).expect("json"),
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "DuckDB: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db: Value = serde_json::from_slice(&out.stdout).expect("DuckDB's JSON");

    // Types as documented: signed integers, TIMESTAMPs in UTC, lists for lists.
    let flow_types = &db["flow_types"];
    for (column, ty) in [
        ("id", "BIGINT"),
        ("initiator_port", "INTEGER"),
        ("responder_port", "INTEGER"),
        ("first_ts_ns", "BIGINT"),
        ("first_ts", "TIMESTAMP WITH TIME ZONE"),
        ("last_ts_ns", "BIGINT"),
        ("last_ts", "TIMESTAMP WITH TIME ZONE"),
        ("orig_packets", "BIGINT"),
        ("resp_bytes", "BIGINT"),
        ("packets", "BIGINT"),
        ("bytes", "BIGINT"),
        ("verdict", "VARCHAR"),
        ("edge_interface", "VARCHAR"),
        ("rules", "VARCHAR[]"),
        ("partner", "VARCHAR"),
    ] {
        assert_eq!(flow_types[column], ty, "flows.{column}: {flow_types}");
    }
    assert_eq!(db["finding_types"]["evidence_flow_ids"], "BIGINT[]");
    assert_eq!(db["finding_types"]["severity"], "VARCHAR");
    assert_eq!(db["empty_text"], 0, "a text cell is \"\": unknown is NULL");
    assert_eq!(
        db["timestamps_off"], 0,
        "a TIMESTAMP is not its _ns instant"
    );
    assert_eq!(db["no_interface_null"], 0, "no Edge interface is NULL");

    // Per capture: DuckDB's GROUP BY is the audit's by_verdict, by_interface, by_service.
    type Tallies = BTreeMap<(String, String), (u64, u64, u64)>;
    let tally = |rows: &Value| -> Tallies {
        rows.as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let n = |k: usize| r[k].as_u64().expect("count");
                (
                    (
                        r[0].as_str().expect("capture").to_string(),
                        r[1].as_str().expect("key").to_string(),
                    ),
                    (n(2), n(3), n(4)),
                )
            })
            .collect()
    };
    for (key, field) in [
        ("verdict", "by_verdict"),
        ("edge_interface", "by_interface"),
        ("edge_service", "by_service"),
    ] {
        let ours: Tallies = audits
            .iter()
            .flat_map(|(cap, json)| {
                json["audit"][field]
                    .as_object()
                    .expect("tallies")
                    .iter()
                    .map(|(k, t)| {
                        let n = |f: &str| t[f].as_u64().expect("count");
                        (
                            (cap.clone(), k.clone()),
                            (n("flows"), n("packets"), n("bytes")),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(tally(&db["per_capture"][key]), ours, "{field}");
    }

    // Across every file: DuckDB's GROUP BY is `edgewise summary` over the same files.
    type Groups = BTreeMap<Vec<String>, (u64, u64, u64)>;
    let cell = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let duck: Groups = db["all"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let n = |k: usize| r[k].as_u64().expect("count");
            (
                vec![cell(&r[0]), cell(&r[1]), cell(&r[2])],
                (n(3), n(4), n(5)),
            )
        })
        .collect();
    let args: Vec<&str> = [
        "summary",
        "--by",
        "verdict,edge_service,transport",
        "--format",
        "csv",
    ]
    .into_iter()
    .chain(flow_files.iter().map(String::as_str))
    .collect();
    let summary = run_in_repo(&args);
    assert_eq!(
        summary.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&summary.stderr)
    );
    let mut r = csv::Reader::from_reader(&summary.stdout[..]);
    assert_eq!(
        r.headers().expect("header").iter().collect::<Vec<_>>(),
        [
            "verdict",
            "edge_service",
            "transport",
            "flows",
            "packets",
            "bytes"
        ]
    );
    let ours: Groups = r
        .records()
        .map(|row| {
            let row = row.expect("row");
            let n = |k: usize| row[k].parse::<u64>().expect("count");
            (
                vec![row[0].to_string(), row[1].to_string(), row[2].to_string()],
                (n(3), n(4), n(5)),
            )
        })
        .collect();
    assert_eq!(duck, ours, "DuckDB against edgewise summary");
    let flows: u64 = audits
        .values()
        .map(|j| j["flows"].as_array().expect("flows").len() as u64)
        .sum();
    assert_eq!(duck.values().map(|t| t.0).sum::<u64>(), flows);

    // Findings: the JSON's, each naming its evidence by the flow's id.
    type Finding = (String, String, String, Vec<u64>);
    let mut duck: Vec<Finding> = db["findings"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                cell(&r[0]),
                cell(&r[1]),
                cell(&r[2]),
                r[3].as_array()
                    .expect("ids")
                    .iter()
                    .map(|v| v.as_u64().expect("id"))
                    .collect(),
            )
        })
        .collect();
    let mut ours: Vec<Finding> = Vec::new();
    for (cap, json) in &audits {
        let flows = json["flows"].as_array().expect("flows");
        // The JSON names an evidence flow by its position; its endpoints and first time
        // find the flow record, and so its id.
        // Both write an end as `{ip, port}`.
        let id_of = |e: &Value| -> u64 {
            let hits: Vec<u64> = flows
                .iter()
                .filter(|f| {
                    f["transport"] == e["transport"]
                        && f["first_ts_ns"] == e["first_ts_ns"]
                        && f["initiator"] == e["initiator"]
                        && f["responder"] == e["responder"]
                })
                .map(|f| f["id"].as_u64().expect("id"))
                .collect();
            assert_eq!(hits.len(), 1, "{cap}: evidence {e} names one flow");
            hits[0]
        };
        for f in json["findings"].as_array().expect("findings") {
            ours.push((
                cap.clone(),
                cell(&f["id"]),
                cell(&f["severity"]),
                f["evidence"]
                    .as_array()
                    .expect("evidence")
                    .iter()
                    .map(id_of)
                    .collect(),
            ));
        }
    }
    assert!(!ours.is_empty(), "the bundled captures have findings");
    duck.sort();
    ours.sort();
    assert_eq!(duck, ours, "findings");
}

/// Every column of the Parquet tables is documented in docs/SCHEMA.md's Parquet section.
#[cfg(feature = "analytics")]
#[test]
fn every_parquet_column_is_documented() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SCHEMA.md"))
        .expect("docs/SCHEMA.md");
    let start = doc.find("\n## Parquet\n").expect("a Parquet section");
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("t.parquet");
    let r = run_in_repo(&[
        "audit",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--topology",
        "captures/topology.toml",
        "--format",
        "parquet",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    for table in [out.clone(), dir.path().join("t.parquet.findings.parquet")] {
        let df = edgewise::analytics::read_parquet(&table).expect("parquet");
        for name in df.get_column_names() {
            assert!(
                section.contains(&format!("`{name}`")),
                "{}: column {name} is not documented",
                table.display()
            );
        }
    }
}

#[cfg(not(feature = "analytics"))]
#[test]
fn without_the_feature_parquet_says_how_to_get_it() {
    let out = run_in_repo(&["summary", "x.parquet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features analytics"));
}

#[test]
fn audit_csv_writes_flows_and_findings() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("audit.csv");
    let r = run_in_repo(&[
        "audit",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--topology",
        "captures/topology.toml",
        "--format",
        "csv",
        "-o",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let flows = std::fs::read_to_string(&out).expect("flows csv");
    assert!(flows.starts_with("id,transport,initiator_ip"));
    assert_eq!(flows.lines().count(), 1 + 24, "{flows}");
    assert!(flows.contains("wrong-source"));
    let findings =
        std::fs::read_to_string(format!("{}.findings.csv", out.display())).expect("findings csv");
    assert!(findings.starts_with("id,severity"));
    assert!(findings.contains("F1,error"), "{findings}");
}
