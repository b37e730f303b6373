//! `edgewise generate log`: the generated firewall logs through the CLI, read back by
//! `edgewise audit -r`, and the options' errors.

use crate::util::run;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn generate_log_writes_what_the_audit_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    for format in ["pfirewall", "asa"] {
        let path = dir.path().join(format!("{format}.log"));
        let p = path.to_str().expect("utf-8 path");
        let out = run(&[
            "generate", "log", "--format", format, "--lines", "2000", "--flows", "150", "--seed",
            "3", "-o", p,
        ]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("2000 lines") && err.contains("150 distinct flows"),
            "{err}"
        );
        let written = std::fs::read_to_string(&path).expect("log written");
        assert_eq!(written.lines().count(), 2000);
        let out = run(&[
            "audit",
            "-r",
            p,
            "--topology",
            "captures/topology.toml",
            "-q",
            "--format",
            "json",
        ]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{format}: {}",
            text(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        let log = &doc["log"];
        let header = if format == "pfirewall" { 4 } else { 0 };
        assert_eq!(log["format"], format);
        assert_eq!(log["detected"], true);
        assert_eq!(log["lines"], 2000);
        assert_eq!(log["used"], 2000 - header, "{format}: {log}");
        assert_eq!(log["comment"], header);
        assert_eq!(log["unparsable"], serde_json::json!({}), "{format}: {log}");
        assert_eq!(doc["flows"].as_array().map(Vec::len), Some(150), "{format}");
    }
    let out = run(&["generate", "--list"]);
    assert!(text(&out.stdout).lines().any(|l| l == "log"));
}

#[test]
fn generate_log_to_standard_output() {
    let args = [
        "generate",
        "log",
        "--format",
        "pfirewall",
        "--lines",
        "50",
        "--flows",
        "5",
        "-o",
        "-",
    ];
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stdout);
    assert!(log.starts_with("#Version: 1.5\n"), "{log}");
    assert_eq!(log.lines().count(), 50);
    assert_eq!(
        out.stdout,
        run(&args).stdout,
        "the same seed writes the same bytes"
    );
}

#[test]
fn generate_log_option_errors_name_the_option() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("x.log");
    let f = file.to_str().expect("utf-8 path");
    for (args, want) in [
        (vec!["generate", "log", "-o", f], "--format"),
        (
            vec!["generate", "log", "--format", "cef", "-o", f],
            "--format",
        ),
        (
            vec![
                "generate", "log", "--format", "asa", "--lines", "0", "-o", f,
            ],
            "--lines",
        ),
        (
            vec![
                "generate", "log", "--format", "asa", "--lines", "ten", "-o", f,
            ],
            "--lines",
        ),
        (
            vec![
                "generate", "log", "--format", "asa", "--flows", "0", "-o", f,
            ],
            "--flows",
        ),
        (
            vec![
                "generate",
                "log",
                "--format",
                "pfirewall",
                "--lines",
                "10",
                "--flows",
                "7",
                "-o",
                f,
            ],
            "--lines 11",
        ),
        (
            vec![
                "generate",
                "log",
                "--format",
                "asa",
                "--lines",
                "1000000000000",
                "--flows",
                "100000001",
                "-o",
                f,
            ],
            "--flows",
        ),
        (
            vec![
                "generate",
                "log",
                "--format",
                "asa",
                "--size-mb",
                "5",
                "-o",
                f,
            ],
            "--size-mb",
        ),
        (
            vec!["generate", "log", "--format", "asa", "--truth", f, "-o", f],
            "--truth",
        ),
        (
            vec!["generate", "busy", "--format", "asa", "-o", f],
            "--format",
        ),
        (vec!["generate", "bulk", "--lines", "5", "-o", f], "--lines"),
    ] {
        let out = run(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!file.exists(), "no file is written for refused options");
}

/// Options of another kind of capture are refused, naming the option, not silently ignored.
#[test]
fn generate_refuses_the_options_of_another_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.pcapng");
    let out = out.to_str().expect("path");
    for (args, option) in [
        (
            vec!["generate", "edge-sample", "-o", out, "--size-mb", "5"],
            "--size-mb",
        ),
        (
            vec!["generate", "bulk", "-o", out, "--flows", "5"],
            "--flows",
        ),
        (
            vec!["generate", "bulk", "-o", out, "--shape", "flows"],
            "--shape",
        ),
    ] {
        let r = run(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", text(&r.stderr));
        assert!(
            text(&r.stderr).contains(option),
            "{args:?}: {}",
            text(&r.stderr)
        );
    }
}
