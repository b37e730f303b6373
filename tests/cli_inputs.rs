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
    let dir = temp_file("notes.pcap", b"hello, this is text");
    let p = dir.path().join("notes.pcap");
    let (code, err) = stderr_of(&["flows", "-r", p.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("68 65 6c 6c") && err.contains("notes.pcap"),
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
