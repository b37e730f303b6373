//! The public malformed corpus: no panic, no hang, and every file either read with a balanced
//! accounting or refused with a message that names the file and the problem.

use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn malformed_corpus_never_panics_and_always_accounts() {
    let Some(shared) = shared() else { return };
    let mut dirs = vec![
        shared.join("pcaps/robust"),
        shared.join("pcaps/robust/pcapng-test-generator"),
    ];
    dirs.retain(|d| d.is_dir());
    let mut files = 0;
    for dir in dirs {
        for path in captures_in(&dir) {
            files += 1;
            let started = Instant::now();
            let out = run(&[
                "flows",
                "-q",
                "--format",
                "json",
                "-r",
                path.to_str().expect("utf-8"),
            ]);
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{}: took {:?}",
                path.display(),
                started.elapsed()
            );
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("panicked"),
                "{}: panicked: {stderr}",
                path.display()
            );
            match code {
                Some(0) | Some(3) => {
                    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
                        .unwrap_or_else(|e| panic!("{}: bad JSON {e}", path.display()));
                    assert_balanced(&json, &path.display().to_string());
                    if code == Some(3) {
                        let name = path.to_string_lossy();
                        assert!(
                            stderr.contains(&*name) && stderr.contains("cut short after packet"),
                            "{}: partial read without a clear message: {stderr}",
                            path.display()
                        );
                    }
                }
                Some(2) => {
                    assert!(
                        stderr.contains(&*path.to_string_lossy()),
                        "{}: refusal does not name the file: {stderr}",
                        path.display()
                    );
                }
                other => panic!("{}: unexpected exit {other:?}: {stderr}", path.display()),
            }
        }
    }
    assert!(files >= 60, "only {files} corpus files found");
}

/// Files that the trusted tools read completely are read completely here too (capinfos agrees
/// on the packet count); files capinfos calls cut short keep every packet before the cut.
#[test]
fn corpus_packet_counts_agree_with_capinfos() {
    let Some(shared) = shared() else { return };
    if !have("capinfos") {
        return;
    }
    let dir = shared.join("pcaps/robust/pcapng-test-generator");
    let mut agreed = 0;
    for path in captures_in(&dir)
        .into_iter()
        .chain(captures_in(&shared.join("pcaps/robust")))
    {
        let Some((packets, bytes)) = capinfos(&path) else {
            continue;
        };
        let (json, code) = flows_json(&path);
        if code != 0 {
            continue;
        }
        assert_eq!(
            json["accounting"]["packets"],
            packets,
            "{}: packets vs capinfos",
            path.display()
        );
        assert_eq!(
            json["accounting"]["wire_bytes"],
            bytes,
            "{}: bytes vs capinfos",
            path.display()
        );
        agreed += 1;
    }
    assert!(agreed >= 40, "only {agreed} files compared");
}
