//! What the user sees for each kind of input: several files, a directory, standard input,
//! gzip, and the inputs we cannot read.

use std::io::Write;
use std::process::Stdio;

use crate::util::*;

fn temp_file(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(name), bytes).expect("write");
    dir
}

fn stderr_of(args: &[&str]) -> (i32, String) {
    let out = run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn empty_file_is_refused_with_its_name() {
    let dir = temp_file("empty.pcap", b"");
    let p = dir.path().join("empty.pcap");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("empty.pcap") && err.contains("empty file (0 bytes)"),
        "{err}"
    );
}

#[test]
fn netmon_and_etl_name_their_conversion() {
    let dir = temp_file(
        "trace.cap",
        b"GMBU\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    );
    let p = dir.path().join("trace.cap");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Network Monitor") && err.contains("pcapng"),
        "{err}"
    );

    let mut etl = vec![0u8, 0, 1, 0, 0x48, 0x20, 0, 0, 0x48, 0x20, 0, 0];
    etl.extend([0u8; 100]);
    let dir = temp_file("trace.etl", &etl);
    let p = dir.path().join("trace.etl");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(err.contains("pktmon etl2pcap"), "{err}");
}

#[test]
fn bad_magic_shows_the_bytes_read() {
    let dir = temp_file("notes.pcap", b"\xde\xad\xbe\xef\x00\x01binary");
    let p = dir.path().join("notes.pcap");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("de ad be ef") && err.contains("notes.pcap"),
        "{err}"
    );
    // Text is quoted as text, not as bytes.
    let dir = temp_file("notes.pcap", b"hello, this is text");
    let p = dir.path().join("notes.pcap");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("notes.pcap: neither a capture nor a log")
            && err.contains("\"hello, this is text\""),
        "{err}"
    );
}

#[test]
fn missing_file_says_so() {
    let (code, err) = stderr_of(&["flows", "-r", "/nonexistent/edge.pcapng"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/edge.pcapng") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn stdin_gzip_directory_and_several_files_read_the_same_packets() {
    let Some(shared) = shared() else { return };
    let sample = shared.join("pcaps/dpi/ndpi__sip.pcap");
    let bytes = std::fs::read(&sample).expect("sample");
    let (direct, code) = flows_json(&sample);
    assert_eq!(code, 0);
    let packets = direct["accounting"]["packets"].as_u64().expect("packets");

    // Standard input.
    let mut child = edgewise()
        .args(["flows", "-q", "--format", "json", "-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["accounting"]["packets"], packets);
    assert_eq!(json["flows"], direct["flows"]);

    // Gzip.
    let dir = tempfile::tempdir().expect("dir");
    let gz = dir.path().join("sip.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let (json, code) = flows_json(&gz);
    assert_eq!(code, 0);
    assert_eq!(json["accounting"]["packets"], packets);

    // A directory of two copies, and the same file named twice: flows merge, packets add up.
    std::fs::write(dir.path().join("a.pcap"), &bytes).expect("write");
    let (json, code) = flows_json(dir.path());
    assert_eq!(code, 0);
    assert_eq!(json["accounting"]["packets"], packets * 2);
    assert_eq!(json["inputs"].as_array().expect("inputs").len(), 2);
    let s = sample.to_str().expect("utf-8");
    let out = run(&["flows", "-q", "--format", "json", "-r", s, "-r", s]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["accounting"]["packets"], packets * 2);
    assert_balanced(&json, "same file twice");
}

#[test]
fn truncated_capture_reports_partial_read_and_still_outputs() {
    let Some(shared) = shared() else { return };
    let bytes = std::fs::read(shared.join("pcaps/dpi/ndpi__sip.pcap")).expect("sample");
    let dir = temp_file("cut.pcap", &bytes[..bytes.len() - 7]);
    let p = dir.path().join("cut.pcap");
    let (json, code) = flows_json(&p);
    assert_eq!(code, 3, "partial read has its own exit status");
    assert_eq!(json["completeness"], "partial");
    let stop = &json["inputs"][0]["stop"];
    assert!(stop["after_packet"].as_u64().expect("after_packet") > 0);
    assert_balanced(&json, "cut.pcap");
    let (_, err) = stderr_of(&["flows", "-q", "-r", p.to_str().expect("utf-8")]);
    assert!(
        err.contains("cut short after packet") && err.contains("at byte offset"),
        "{err}"
    );
}

#[test]
fn the_tui_refuses_options_it_cannot_honour() {
    let (code, err) = stderr_of(&[
        "tui",
        "-r",
        "captures/edge-sample.pcapng",
        "-Y",
        "port == 443",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("press /"), "{err}");
}

fn out_of(args: &[&str]) -> (i32, String, String) {
    let out = run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn log_sample(name: &str) -> String {
    format!("{}/tests/data/logs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Issue 11: an empty log was "Audit of 0 flows", exit 0.
#[test]
fn an_empty_log_is_refused_with_its_name() {
    let dir = temp_file("fw.log", b"");
    let p = dir.path().join("fw.log");
    let p = p.to_str().expect("utf-8");
    for args in [["audit", "--log", p], ["audit", "-r", p]] {
        let (code, stdout, err) = out_of(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            err.contains("fw.log") && err.contains("empty file (0 bytes)"),
            "{err}"
        );
    }
}

/// A log of headers only is no evidence either: exit 2 and what to enable.
#[test]
fn a_log_of_headers_only_says_to_enable_logging() {
    let dir = temp_file(
        "pfirewall.log",
        b"#Version: 1.5\n#Software: Microsoft Windows Firewall\n#Time Format: Local\n#Fields: date time action protocol src-ip dst-ip src-port dst-port\n\n",
    );
    let p = dir.path().join("pfirewall.log");
    let (code, stdout, err) = out_of(&["audit", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        err.contains("pfirewall.log: 5 lines, none of them traffic")
            && err.contains("enable logging"),
        "{err}"
    );
}

/// Issue 11: a pcapng given to --log was "detected" as pfirewall and printed 1,457 lines of
/// binary.
#[test]
fn a_capture_given_to_log_is_named_as_one() {
    let (code, stdout, err) = out_of(&["audit", "--log", "captures/edge-sample.pcapng"]);
    assert_eq!(code, 2, "{err}");
    assert!(stdout.is_empty(), "{} bytes on stdout", stdout.len());
    assert!(
        err.contains("captures/edge-sample.pcapng: this is a pcapng capture, not a firewall log")
            && err.contains("give it to -r"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let dir = temp_file("fw.log", &[0x01, 0x02, 0x03, 0x04, 0x00, 0x9c, 0x7f, 0x00]);
    let p = dir.path().join("fw.log");
    let (code, _, err) = out_of(&["audit", "--log", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("fw.log: binary data (it starts 01 02 03 04"),
        "{err}"
    );
}

/// Issue 11: `--log-format asa` on a pfirewall log exited 2 with no message.
#[test]
fn a_log_in_another_format_than_named_says_what_it_looks_like() {
    let p = log_sample("pfirewall.log");
    let (code, stdout, err) = out_of(&["audit", "--log", &p, "--log-format", "asa"]);
    assert_eq!(code, 2, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        err.contains("pfirewall.log: none of its 8 lines is a Cisco ASA/FTD syslog traffic line")
            && err.contains("7 not_asa")
            && err.contains("look like a Windows Firewall pfirewall.log")
            && err.contains("--log-format pfirewall"),
        "{err}"
    );
}

/// Issue 11: a pfirewall.log given to -r was told to run `editcap`. -r now reads captures and
/// logs alike, by content; `flows` lists a log's flows; the TUI says where logs go.
#[test]
fn r_reads_a_log_by_its_content() {
    let p = log_sample("pfirewall.log");
    let (code, stdout, err) = out_of(&["audit", "-r", &p, "--format", "json"]);
    assert!(!err.contains("editcap"), "{err}");
    assert_eq!(code, 1, "T1: the sample's hosts are not the site's: {err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["log"]["format"], "pfirewall");
    assert_eq!(doc["log"]["detected"], true);
    assert_eq!(doc["log"]["used"], 3);
    // The same as the explicit form.
    let (_, explicit, _) = out_of(&["audit", "--log", &p, "--format", "json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&explicit).expect("json")["flows"],
        doc["flows"]
    );
    let (code, stdout, err) = out_of(&["flows", "-r", &p, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["flows"].as_array().map(Vec::len), Some(3));
    let (code, _, err) = out_of(&["tui", "-r", &p]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the TUI browses captures") && err.contains("edgewise audit -r"),
        "{err}"
    );
    // A gzip-compressed log (rotated logs often are) is read the same way.
    let dir = tempfile::tempdir().expect("dir");
    let gz = dir.path().join("asa.log.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(log_sample("asa.log")).expect("read"))
        .expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let (_, stdout, err) = out_of(&[
        "audit",
        "-r",
        gz.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&err);
    assert_eq!(doc["log"]["format"], "asa");
    assert_eq!(doc["log"]["used"], 5);
}

/// Text in no known format is said to be so, with its first line; --log-format names it.
#[test]
fn unknown_text_is_neither_a_capture_nor_a_log() {
    let dir = temp_file("notes.txt", b"\nsomething else entirely\nmore\n");
    let p = dir.path().join("notes.txt");
    let p = p.to_str().expect("utf-8");
    for args in [vec!["audit", "-r", p], vec!["audit", "--log", p]] {
        let (code, _, err) = out_of(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(
            err.contains("notes.txt: neither a capture nor a log")
                && err.contains("first line: \"something else entirely\"")
                && err.contains("--log-format FORMAT"),
            "{err}"
        );
        assert!(!err.contains("editcap"), "{err}");
    }
    // Named, it is parsed as that format: nothing in it is, and the message says so.
    let (code, _, err) = out_of(&["audit", "-r", p, "--log-format", "asa"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("none of its 3 lines is a Cisco ASA/FTD syslog traffic line")
            && err.contains("2 not_asa"),
        "{err}"
    );
}

/// A run reads captures or one log; log options beside captures are refused, not ignored.
#[test]
fn logs_and_captures_are_not_mixed() {
    let p = log_sample("asa.log");
    let (code, _, err) = out_of(&["audit", "-r", "captures/edge-sample.pcapng", "-r", &p]);
    assert_eq!(code, 2);
    assert!(
        err.contains("asa.log: this is a Cisco ASA/FTD syslog, given to -r with other inputs"),
        "{err}"
    );
    let (code, _, err) = out_of(&[
        "audit",
        "-r",
        "captures/edge-sample.pcapng",
        "--tz-offset",
        "+01:00",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--tz-offset read firewall logs"), "{err}");
}
