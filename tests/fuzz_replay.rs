//! Replays every committed fuzz reproducer (`fuzz/regressions/<target>/*`) through the same
//! entry point its cargo-fuzz target calls (`edgewise::fuzzing`), on stable Rust: no panic, no
//! broken identity, and no input slower than a bound (a hang fails the test rather than
//! stalling it). `EDGEWISE_FUZZ_CORPUS=DIR` also replays a local corpus laid out the same way
//! (e.g. `fuzz/corpus` after `fuzz/seed.sh` and a fuzzing run).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use edgewise::fuzzing::{self, TARGETS};

/// Per input, in a debug build on a loaded two-core machine; the slowest reproducer takes
/// well under a second.
const PER_INPUT: Duration = Duration::from_secs(30);

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file() && p.file_name().is_none_or(|n| n != "README.md"));
    v.sort();
    v
}

/// Runs one input on a thread of its own: `Err` with the panic's message or a timeout.
fn run_one(target: &'static str, data: Vec<u8>) -> Result<Duration, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let r = std::panic::catch_unwind(|| fuzzing::run(target, &data));
        let _ = tx.send(match r {
            Ok(true) => Ok(start.elapsed()),
            Ok(false) => Err(format!("no fuzz target named {target}")),
            Err(p) => Err(p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())),
        });
    });
    rx.recv_timeout(PER_INPUT)
        .unwrap_or_else(|_| Err(format!("no answer within {PER_INPUT:?}: a hang")))
}

/// Runs every (target, name, input); fails with the list of those that panicked or hung.
fn run_all(inputs: Vec<(&'static str, String, Vec<u8>)>) -> usize {
    let n = inputs.len();
    let failures: Vec<String> = inputs
        .into_iter()
        .filter_map(|(target, name, data)| {
            run_one(target, data)
                .err()
                .map(|e| format!("{target} {name}: {e}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    n
}

/// Every file under `root/<target>/`, for each target.
fn replay(root: &Path) -> usize {
    let mut inputs = Vec::new();
    for (target, _) in TARGETS {
        for path in files(&root.join(target)) {
            let data = std::fs::read(&path).expect("read a reproducer");
            inputs.push((*target, path.display().to_string(), data));
        }
    }
    run_all(inputs)
}

#[test]
fn every_committed_reproducer_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let n = replay(&root);
    assert!(n > 0, "no reproducer under {}", root.display());
}

/// The project's own seed material (what `fuzz/seed.sh` starts each corpus from, less
/// ../shared) through every target, so that each entry point runs on stable.
#[test]
fn the_seed_material_runs_clean() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    let read = |p: &Path| std::fs::read(p).expect("read seed material");
    for path in files(&repo.join("captures")) {
        let data = read(&path);
        if path.extension().is_some_and(|e| e == "pcapng") {
            let name = path.display().to_string();
            inputs.push(("capture", name.clone(), data.clone()));
            inputs.push(("end_to_end", name.clone(), data.clone()));
            // The first frames, each with its link-type pick (1 = Ethernet when unknown).
            inputs.push((
                "decode",
                name,
                [&[0u8][..], &data[..data.len().min(200)]].concat(),
            ));
        } else if path.extension().is_some_and(|e| e == "toml") {
            inputs.push(("topology", path.display().to_string(), data));
        }
    }
    for path in files(&repo.join("tests/data/logs")) {
        // The format picks of fuzzing::log: 1 pfirewall, 2 asa, 3 panos, 4 fortigate, 5 zeek
        // TSV, 6 zeek JSON, 7 netfilter, 8 filterlog, 9 cef, 10 leef, 11 checkpoint (0
        // detects); the top bit audits and renders too.
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        let pick = match name.as_deref() {
            Some("pfirewall.log") => 1,
            Some("asa.log") => 2,
            Some("panos.log") => 3,
            Some("fortigate.log") => 4,
            Some("zeek-conn.log") => 5,
            Some("zeek-conn.json") => 6,
            Some("netfilter.log") => 7,
            Some("filterlog.log") => 8,
            Some("cef.log") => 9,
            Some("leef.log") => 10,
            Some("checkpoint.log") => 11,
            _ => 0,
        };
        for format in [0, pick, pick | 0x80] {
            let data = [&[format, 56][..], &read(&path)].concat();
            inputs.push(("log", path.display().to_string(), data));
        }
    }
    for expr in [
        "verdict != permitted and interface == internal",
        "ip in {10.0.0.0/8, 172.16.0.0/12} or not port.src in {50000..59999}",
        "severity >= warning && (duration > 2 or bytes <= 600)",
    ] {
        inputs.push(("filter", expr.to_string(), expr.as_bytes().to_vec()));
    }
    let tls = edgewise::generate::proto::client_hello("sip.contoso.com", &[7; 32], &[]);
    let hello = edgewise::fuzzing::encode_prefixes(true, 6, (50123, 443), &[&tls], &[]);
    inputs.push(("identify", "a TLS ClientHello".into(), hello));
    assert!(run_all(inputs) > 20);
}

#[test]
fn a_local_corpus_replays_when_named() {
    let Some(dir) = std::env::var_os("EDGEWISE_FUZZ_CORPUS") else {
        return;
    };
    let n = replay(Path::new(&dir));
    eprintln!(
        "replayed {n} corpus inputs from {}",
        Path::new(&dir).display()
    );
}

/// The directories of fuzz/regressions are the targets of fuzz/Cargo.toml, and the reverse.
#[test]
fn the_fuzz_targets_and_the_entry_points_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (target, _) in TARGETS {
        let source = root.join(format!("fuzz_targets/{target}.rs"));
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|_| panic!("{} is missing", source.display()));
        assert!(
            text.contains("edgewise::fuzzing::"),
            "{target} calls the shared entry"
        );
        assert!(manifest.contains(&format!("name = \"{target}\"")));
    }
    let declared = manifest.matches("[[bin]]").count();
    assert_eq!(
        declared,
        TARGETS.len(),
        "one [[bin]] per entry of fuzzing::TARGETS"
    );
}
