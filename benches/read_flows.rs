//! Throughput of the whole read -> decode -> flows pipeline on a ~100 MB Edge capture,
//! next to reference readers of the same file measured in the same run:
//!
//! * `edgewise_analyze`: [`edgewise::analysis::analyze`] on the file.
//! * `reference_cat`: `cat FILE > /dev/null`, the floor (page cache to a discarded pipe).
//! * `reference_read`: `std::fs::read` of the whole file, bare I/O from Rust.
//! * `reference_tshark`: `tshark -r FILE -q -z conv,tcp -z conv,udp` (only when on PATH).
//!
//! After divan's report, a short table of ratios is printed from a separate timing
//! (median of 3 runs of each), because divan does not hand its results back.
//!
//! Run with `cargo bench --bench read_flows`. See `benches/README.md` for recorded figures.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use edgewise::analysis::{analyze, Analysis, NoProgress};
use edgewise::flow::FlowConfig;
use edgewise::generate::{write_bulk_pcap, BulkStats};
use edgewise::source::input::InputSpec;

/// Size asked of the generator; it stops at the first frame that reaches it.
const TARGET_BYTES: u64 = 100 * 1024 * 1024;
const SEED: u64 = 1;
/// A capture left here by an earlier run (or by hand) is reused when its size matches.
const CACHED_CAPTURE: &str = "target/bench-captures/bulk-100mb.pcap";
/// Runs of each reader for the ratio table.
const TABLE_RUNS: usize = 3;

/// The capture every bench reads.
struct Capture {
    path: PathBuf,
    bytes: u64,
    packets: u64,
}

static CAPTURE: OnceLock<Capture> = OnceLock::new();
static TSHARK: OnceLock<bool> = OnceLock::new();

fn capture() -> &'static Capture {
    CAPTURE
        .get()
        .expect("the capture is prepared in main before any bench runs")
}

fn tshark_available() -> bool {
    *TSHARK.get_or_init(|| {
        Command::new("tshark")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Finds or writes the capture. The returned directory, if any, holds the file and
/// must live until the benches are done.
fn prepare_capture() -> (Capture, Option<tempfile::TempDir>) {
    let cached = Path::new(env!("CARGO_MANIFEST_DIR")).join(CACHED_CAPTURE);
    if let Ok(meta) = std::fs::metadata(&cached) {
        // The generator is deterministic: writing to a sink gives the expected size and
        // packet count without touching the disk.
        let expected = write_bulk_pcap(io::sink(), TARGET_BYTES, SEED)
            .expect("writing the bulk capture to a sink cannot fail");
        if meta.len() == expected.bytes_written {
            eprintln!("read_flows: reusing {}", cached.display());
            return (capture_of(cached, expected), None);
        }
        eprintln!(
            "read_flows: ignoring {} ({} bytes, expected {})",
            cached.display(),
            meta.len(),
            expected.bytes_written
        );
    }
    let dir = tempfile::tempdir().expect("creating a temp directory for the bench capture");
    let path = dir.path().join("bulk-100mb.pcap");
    let file = File::create(&path).expect("creating the bench capture file");
    let started = Instant::now();
    let stats =
        write_bulk_pcap(file, TARGET_BYTES, SEED).expect("writing the bench capture to disk");
    eprintln!(
        "read_flows: wrote {} ({} bytes, {} packets, {} flows) in {:.2?}",
        path.display(),
        stats.bytes_written,
        stats.packets,
        stats.flows,
        started.elapsed()
    );
    let on_disk = std::fs::metadata(&path)
        .expect("reading the size of the bench capture")
        .len();
    assert_eq!(on_disk, stats.bytes_written, "bench capture size on disk");
    (capture_of(path, stats), Some(dir))
}

fn capture_of(path: PathBuf, stats: BulkStats) -> Capture {
    Capture {
        path,
        bytes: stats.bytes_written,
        packets: stats.packets,
    }
}

fn run_analyze(cap: &Capture) -> Analysis {
    let analysis = analyze(
        &[InputSpec::File(cap.path.clone())],
        FlowConfig::default(),
        &NoProgress,
    );
    assert!(
        analysis.accounting.mismatches.is_empty(),
        "accounting not balanced: {:?}",
        analysis.accounting.mismatches
    );
    assert_eq!(
        analysis.accounting.packets, cap.packets,
        "packets read vs generator"
    );
    analysis
}

fn run_cat(cap: &Capture) {
    let status = Command::new("cat")
        .arg(&cap.path)
        .stdout(Stdio::null())
        .status()
        .expect("spawning cat");
    assert!(status.success(), "cat failed: {status}");
}

fn run_read(cap: &Capture) -> Vec<u8> {
    let data = std::fs::read(&cap.path).expect("reading the bench capture into memory");
    assert_eq!(data.len() as u64, cap.bytes, "bytes read");
    data
}

fn run_tshark(cap: &Capture) {
    let status = Command::new("tshark")
        .arg("-r")
        .arg(&cap.path)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawning tshark");
    assert!(status.success(), "tshark failed: {status}");
}

fn counted<'a, 'b>(bencher: Bencher<'a, 'b>, cap: &Capture) -> Bencher<'a, 'b> {
    bencher
        .counter(BytesCount::new(cap.bytes))
        .counter(ItemsCount::new(cap.packets))
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn edgewise_analyze(bencher: Bencher) {
    let cap = capture();
    counted(bencher, cap).bench(|| run_analyze(cap));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn reference_cat(bencher: Bencher) {
    let cap = capture();
    counted(bencher, cap).bench(|| run_cat(cap));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn reference_read(bencher: Bencher) {
    let cap = capture();
    counted(bencher, cap).bench(|| run_read(cap));
}

#[divan::bench(sample_count = 2, sample_size = 1)]
fn reference_tshark(bencher: Bencher) {
    if !tshark_available() {
        eprintln!("reference_tshark: skipped, tshark is not on PATH");
        return;
    }
    let cap = capture();
    counted(bencher, cap).bench(|| run_tshark(cap));
}

/// Median wall time of `runs` calls.
fn median_time(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn print_ratio_table(cap: &Capture) {
    let mut rows: Vec<(&str, Duration)> = vec![
        (
            "edgewise_analyze",
            median_time(TABLE_RUNS, || drop(run_analyze(cap))),
        ),
        ("reference_cat", median_time(TABLE_RUNS, || run_cat(cap))),
        (
            "reference_read",
            median_time(TABLE_RUNS, || drop(run_read(cap))),
        ),
    ];
    if tshark_available() {
        rows.push((
            "reference_tshark",
            median_time(TABLE_RUNS, || run_tshark(cap)),
        ));
    }
    let mb = cap.bytes as f64 / 1e6;
    let pkts = cap.packets as f64;
    println!();
    println!(
        "capture: {} bytes ({:.1} MB), {} packets; median of {TABLE_RUNS} runs each (MB = 10^6 bytes)",
        cap.bytes, mb, cap.packets
    );
    println!(
        "{:<18} {:>10} {:>10} {:>14}",
        "reader", "time", "MB/s", "packets/s"
    );
    for (name, t) in &rows {
        let s = t.as_secs_f64();
        println!(
            "{:<18} {:>9.3}s {:>10.1} {:>14.0}",
            name,
            s,
            mb / s,
            pkts / s
        );
    }
    let secs = |name: &str| {
        rows.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_secs_f64())
    };
    if let (Some(ew), Some(cat)) = (secs("edgewise_analyze"), secs("reference_cat")) {
        println!(
            "edgewise / cat:    {:.3} (edgewise runs at {:.1}% of cat's throughput)",
            cat / ew,
            100.0 * cat / ew
        );
    }
    if let (Some(ew), Some(read)) = (secs("edgewise_analyze"), secs("reference_read")) {
        println!("edgewise / read:   {:.3}", read / ew);
    }
    match (secs("edgewise_analyze"), secs("reference_tshark")) {
        (Some(ew), Some(ts)) => println!(
            "edgewise / tshark: {:.1}x (edgewise is {:.1} times as fast)",
            ts / ew,
            ts / ew
        ),
        _ => println!("edgewise / tshark: n/a (tshark is not on PATH)"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let only_listing = args.iter().any(|a| a == "--list");
    let testing = args.iter().any(|a| a == "--test");
    if only_listing {
        divan::main();
        return;
    }
    let (cap, _dir) = prepare_capture();
    let cap = CAPTURE.get_or_init(|| cap);
    divan::main();
    if !testing {
        print_ratio_table(cap);
    }
}
