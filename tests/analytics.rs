//! Parquet outputs and `edgewise summary` (feature `analytics`), and what a build without it says.

use crate::util::*;

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
    use std::path::Path;

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
