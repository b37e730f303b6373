//! Damage as Wireshark tests it: every bundled and public capture, randomly corrupted under
//! many seeds (packet bytes with `editcap -E`, and any byte of the file, headers included), is
//! audited without a panic or a hang, its accounting balances, and the exit status says what
//! happened (0 or 3 with the damage reported, 2 with the file named).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::*;

/// Seeds per capture: enough to vary the damage, few enough to stay within seconds.
const SEEDS: u64 = 6;

/// The captures to damage: the bundled ones and the public DPI set.
fn inputs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = captures_in(&root.join("captures"));
    if let Some(shared) = shared() {
        files.extend(captures_in(&shared.join("pcaps/dpi")));
    }
    files
}

/// A small deterministic generator (xorshift), so that a failure names a seed that reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Audits `path` as a user would, with no --fail-on, and checks what a damaged file may
/// produce: the status and, when a report was written, its balance.
fn audit_damaged(path: &Path, what: &str) -> i32 {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/topology.toml");
    let started = Instant::now();
    let out = run(&[
        "audit",
        "-q",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--topology",
        topo.to_str().expect("utf-8"),
        "-r",
        path.to_str().expect("utf-8"),
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{what}: took {:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
    let code = out.status.code().unwrap_or(-1);
    match code {
        0 | 3 => {
            let json: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {stderr}"));
            assert_balanced(&json, what);
            let answer = json["headline"]["answer"].as_str().unwrap_or_default();
            if code == 3 {
                assert!(
                    stderr.contains(path.to_str().expect("utf-8")),
                    "{what}: a partial read that does not name the file: {stderr}"
                );
                assert_ne!(answer, "pass", "{what}: a damaged read cannot pass");
            }
        }
        2 => assert!(
            stderr.contains(path.to_str().expect("utf-8")),
            "{what}: refused without naming the file: {stderr}"
        ),
        other => panic!("{what}: exit status {other}: {stderr}"),
    }
    code
}

#[test]
fn packets_damaged_by_editcap_never_panic_and_always_account() {
    if !have("editcap") {
        assert!(
            !strict(),
            "editcap is needed for this test (apt-get install tshark)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut runs = 0;
    for path in inputs() {
        for seed in 0..SEEDS {
            let name = path.file_name().expect("name").to_string_lossy();
            let damaged = dir.path().join(format!("{seed}-{name}"));
            let status = std::process::Command::new("editcap")
                .args(["-E", "0.02", "--seed", &seed.to_string()])
                .arg(&path)
                .arg(&damaged)
                .output()
                .expect("editcap runs");
            if !status.status.success() {
                // editcap refuses some public files itself; nothing to damage then.
                continue;
            }
            let code = audit_damaged(&damaged, &format!("{name} (editcap -E 0.02 --seed {seed})"));
            // The container is intact: the damaged bytes are inside frames, so the read ends
            // normally and the damage is counted in the accounting's buckets.
            assert_eq!(code, 0, "{name} seed {seed}: the container was not damaged");
            runs += 1;
        }
    }
    assert!(runs >= 50, "only {runs} damaged captures were audited");
}

#[test]
fn bytes_overwritten_anywhere_never_panic_and_always_account() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut statuses = [0u32; 4];
    for path in inputs() {
        let bytes = std::fs::read(&path).expect("read");
        let name = path.file_name().expect("name").to_string_lossy();
        for seed in 0..SEEDS {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed + 1));
            let mut damaged = bytes.clone();
            // About one byte in 500 after the file header: record headers are hit too, so
            // lengths run past the end, blocks shrink, and interfaces vanish.
            let from = 32.min(damaged.len());
            let hits = (damaged.len() - from) / 500 + 1;
            for _ in 0..hits {
                if damaged.len() > from {
                    let at = from + (rng.next() as usize) % (damaged.len() - from);
                    damaged[at] = rng.next() as u8;
                }
            }
            let file = dir.path().join(format!("{seed}-{name}"));
            std::fs::write(&file, &damaged).expect("write");
            let code = audit_damaged(&file, &format!("{name} (overwritten, seed {seed})"));
            if let Some(n) = usize::try_from(code).ok().and_then(|c| statuses.get_mut(c)) {
                *n += 1;
            }
        }
    }
    // The damage is real: some reads stop early, and most still produce a report.
    assert!(
        statuses[3] > 0,
        "no damaged read was reported as partial: {statuses:?}"
    );
    assert!(
        statuses[0] + statuses[3] > statuses[2],
        "most damaged captures should still be reported: {statuses:?}"
    );
}
