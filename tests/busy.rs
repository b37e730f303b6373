//! The busy-Edge generator: deterministic, every flow it counts is a flow edgewise and tshark
//! see, and its call truth names real flows whose TURN messages decode.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use edgewise::analysis::{self, Analysis, NoProgress};
use edgewise::flow::{Flow, FlowConfig, FlowKey};
use edgewise::generate::{write_busy_pcap, BusyOptions, BusyShape, BusyStats};
use edgewise::identify::Protocol;
use edgewise::source::input::InputSpec;
use serde_json::Value;

use crate::util::*;

/// A few MB of the calls mix with a small slot count, so that calls start and end inside it.
fn small(shape: BusyShape, seed: u64) -> BusyOptions {
    BusyOptions {
        target_bytes: 4_000_000,
        concurrent: 500,
        seed,
        ..BusyOptions::preset(shape)
    }
}

fn generate(opts: &BusyOptions) -> (Vec<u8>, Vec<Value>, BusyStats) {
    let mut pcap = Vec::new();
    let mut truth = Cursor::new(Vec::new());
    let stats = write_busy_pcap(&mut pcap, opts, Some(&mut truth)).expect("generates");
    let lines = String::from_utf8(truth.into_inner())
        .expect("utf-8 truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each truth line is JSON"))
        .collect();
    (pcap, lines, stats)
}

fn analyze(dir: &Path, pcap: &[u8]) -> Analysis {
    let path = dir.join("busy.pcap");
    std::fs::write(&path, pcap).expect("write capture");
    analysis::analyze(&[InputSpec::File(path)], FlowConfig::default(), &NoProgress)
}

fn addr(v: &Value) -> SocketAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

/// The flow a truth entry names, found by its direction-free key.
fn find<'a>(by_key: &HashMap<FlowKey, &'a Flow>, f: &Value) -> &'a Flow {
    let (i, r) = (addr(&f["initiator"]), addr(&f["responder"]));
    let proto = match f["transport"].as_str() {
        Some("tcp") => 6,
        Some("udp") => 17,
        other => panic!("transport {other:?}"),
    };
    let (key, _) = FlowKey::new((i.ip(), i.port()), (r.ip(), r.port()), proto);
    let flow = by_key
        .get(&key)
        .unwrap_or_else(|| panic!("truth flow {f} is not among edgewise's flows"));
    assert_eq!(
        (flow.initiator.ip, flow.initiator.port),
        (i.ip(), i.port()),
        "initiator of {f}"
    );
    flow
}

#[test]
fn busy_same_seed_same_bytes_and_truth() {
    let opts = small(BusyShape::Calls, 7);
    let (a, ta, sa) = generate(&opts);
    let (b, tb, sb) = generate(&opts);
    assert_eq!(sa, sb);
    assert!(a == b, "same seed, different capture");
    assert_eq!(ta, tb);
    assert_eq!(sa.bytes_written, a.len() as u64);
    assert!(a.len() >= 4_000_000 && a.len() < 4_000_000 + 2_000);
    let (c, _, _) = generate(&small(BusyShape::Calls, 8));
    assert!(a != c, "another seed writes another capture");
}

#[test]
fn busy_truth_names_flows_edgewise_finds() {
    let (pcap, truth, stats) = generate(&small(BusyShape::Calls, 3));
    let dir = tempfile::tempdir().expect("temp dir");
    let a = analyze(dir.path(), &pcap);
    assert!(a.accounting.balanced(), "{:?}", a.accounting.mismatches);

    let header = &truth[0];
    assert_eq!(header["shape"], "calls");
    assert_eq!(header["seed"], 3);
    assert_eq!(header["packets"], stats.packets);
    assert_eq!(header["bytes"], stats.bytes_written);
    assert_eq!(header["flows"], stats.flows);
    assert_eq!(header["calls"], stats.calls);
    // Every flow the generator counts is one flow for edgewise, and nothing else is there.
    assert_eq!(a.accounting.packets, stats.packets);
    assert_eq!(a.flows.len() as u64, stats.flows);

    let calls = &truth[1..];
    assert_eq!(calls.len() as u64, stats.calls);
    assert!(stats.calls >= 10, "calls: {}", stats.calls);
    let by_key: HashMap<FlowKey, &Flow> = a.flows.iter().map(|f| (f.key(), f)).collect();
    let mut seen = HashSet::new();
    let mut kinds = HashSet::new();
    let mut ids = HashSet::new();
    for c in calls {
        assert!(ids.insert(c["call"].as_u64().expect("call number")));
        kinds.insert(c["kind"].as_str().expect("kind").to_string());
        assert!(c["relay"]
            .as_str()
            .expect("relay")
            .starts_with("131.107.155.30:"));
        let allocations = c["allocations"].as_array().expect("allocations");
        let media = c["media"].as_array().expect("media");
        assert!(!allocations.is_empty(), "call without allocation: {c}");
        for f in allocations.iter().chain(media) {
            find(&by_key, f);
            assert!(seen.insert(f.to_string()), "flow in two calls: {f}");
        }
        if c["kind"] == "federated" {
            assert!(c["partner"].is_string());
            find(&by_key, &c["signalling"]);
            for m in media {
                // The relay's private address on the external side, to the partner's A/V edge.
                let i = addr(&m["initiator"]);
                assert_eq!(i.ip().to_string(), "10.45.16.30");
                assert_eq!(i.port(), addr(&c["relay"]).port());
                assert_eq!(m["responder"], c["peer"]);
            }
        }
        assert!(c["start_ns"].as_i64() <= c["end_ns"].as_i64());
    }
    assert!(kinds.contains("federated") && kinds.contains("remote-user"));
}

#[test]
fn busy_allocation_flows_decode_as_turn_with_the_relayed_address() {
    let (pcap, truth, _) = generate(&small(BusyShape::Calls, 5));
    let dir = tempfile::tempdir().expect("temp dir");
    let a = analyze(dir.path(), &pcap);
    let by_key: HashMap<FlowKey, &Flow> = a.flows.iter().map(|f| (f.key(), f)).collect();
    let mut checked = [0usize; 2];
    for c in &truth[1..] {
        if c["failed"] == true {
            continue;
        }
        // The first allocation is the one whose relayed address the truth names.
        let Some(alloc) = c["allocations"].get(0) else {
            continue;
        };
        let flow = find(&by_key, alloc);
        let id = a.identification(flow).expect("identified");
        let tcp = alloc["transport"] == "tcp";
        let want = if tcp {
            Protocol::PseudoTls
        } else {
            Protocol::Turn
        };
        assert_eq!(id.protocol, want, "{alloc}: {}", id.summary);
        let stun = id.evidence.stun.as_ref().expect("STUN evidence");
        assert_eq!(
            stun.xor_relayed.as_deref(),
            c["relay"].as_str(),
            "{alloc}: {}",
            id.summary
        );
        assert!(stun.turn_method_seen);
        checked[usize::from(tcp)] += 1;
    }
    assert!(checked[0] >= 5 && checked[1] >= 1, "checked {checked:?}");
}

#[test]
fn busy_distinct_writes_exactly_the_flows_asked() {
    let opts = BusyOptions {
        flows: 3_000,
        concurrent: 100,
        ..BusyOptions::preset(BusyShape::Distinct)
    };
    let mut pcap = Vec::new();
    let stats = write_busy_pcap(&mut pcap, &opts, None).expect("generates");
    assert_eq!(stats.flows, 3_000);
    assert!(stats.packets >= 3_000 && stats.packets <= 6_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let a = analyze(dir.path(), &pcap);
    assert_eq!(a.flows.len(), 3_000);
    assert!(a.flows.iter().all(|f| f.packets() <= 2));
}

#[test]
fn busy_cli_writes_to_standard_output_with_truth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.jsonl");
    let out = edgewise()
        .args([
            "generate", "busy", "--shape", "distinct", "--flows", "500", "-o", "-",
        ])
        .arg("--truth")
        .arg(&truth)
        .output()
        .expect("edgewise runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&out.stdout[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("500 flows"), "{stderr}");
    let text = std::fs::read_to_string(&truth).expect("truth written");
    let header: Value = serde_json::from_str(text.lines().next().expect("header")).expect("JSON");
    assert_eq!(header["flows"], 500);
    assert_eq!(header["bytes"], out.stdout.len());
    let list = run(&["generate", "--list"]);
    assert!(String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l == "busy"));
}

/// tshark's TCP and UDP conversations are the generator's flows, one for one.
#[test]
fn busy_flow_count_equals_tshark_conversations() {
    if !have("tshark") {
        return;
    }
    let (pcap, _, stats) = generate(&small(BusyShape::Calls, 11));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("busy.pcap");
    std::fs::write(&path, &pcap).expect("write capture");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conversations = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("<->"))
        .count();
    assert_eq!(conversations as u64, stats.flows);
}

/// The flow-table shape: many short flows, none of them sharing a 5-tuple with another.
#[test]
fn busy_flows_shape_flows_are_all_distinct() {
    let opts = BusyOptions {
        target_bytes: 4_000_000,
        concurrent: 16_000,
        ..BusyOptions::preset(BusyShape::Flows)
    };
    let mut pcap = Vec::new();
    let stats = write_busy_pcap(&mut pcap, &opts, None).expect("generates");
    let dir = tempfile::tempdir().expect("temp dir");
    let a = analyze(dir.path(), &pcap);
    assert_eq!(a.accounting.packets, stats.packets);
    assert_eq!(a.flows.len() as u64, stats.flows);
    let short = a.flows.iter().filter(|f| f.packets() <= 2).count();
    assert!(
        short * 2 > a.flows.len(),
        "{short} of {} flows",
        a.flows.len()
    );
}

/// Calls are correlated from what TURN says, not from time: on a capture with hundreds of
/// concurrent calls, each call the generator made comes out as one call holding exactly its
/// own allocations and media, and no call holds flows of two. The only calls allowed to come
/// out split are those whose internal allocation failed: with no relayed address, nothing on
/// the wire links the two halves.
#[test]
fn busy_calls_each_hold_exactly_their_own_legs() {
    use edgewise::audit;
    use edgewise::matrix::Matrix;
    use edgewise::topology::Topology;

    let opts = BusyOptions {
        target_bytes: 12_000_000,
        concurrent: 1_500,
        seed: 3,
        ..BusyOptions::preset(BusyShape::Calls)
    };
    let (pcap, truth, _) = generate(&opts);
    let dir = tempfile::tempdir().expect("tempdir");
    let analysis = analyze(dir.path(), &pcap);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = Topology::load(&root.join("captures/topology.toml")).expect("topology");
    let matrix = Matrix::builtin().expect("matrix");
    let audit = audit::audit(&analysis, &site, matrix, false);

    // Flow index -> the call that holds it (as its own leg, not as shared context).
    let mut call_of: HashMap<usize, usize> = HashMap::new();
    for c in &audit.diagnosis.calls {
        assert_eq!(
            c.more_legs,
            0,
            "a generated call has few legs: {}",
            c.heading()
        );
        for l in c.legs.iter().filter(|l| !l.inferred) {
            let before = call_of.insert(l.flow, c.id);
            assert!(before.is_none(), "flow {} sits in two calls", l.flow);
        }
    }
    let index: HashMap<FlowKey, usize> = analysis
        .flows
        .iter()
        .enumerate()
        .map(|(i, f)| (f.key(), i))
        .collect();
    let by_key: HashMap<FlowKey, &Flow> = analysis.flows.iter().map(|f| (f.key(), f)).collect();
    let mut truth_of: HashMap<usize, u64> = HashMap::new();
    let (mut exact, mut split_failed, mut total) = (0, 0, 0);
    for call in truth.iter().skip(1) {
        total += 1;
        let legs: Vec<&Value> = ["allocations", "media"]
            .iter()
            .flat_map(|k| call[*k].as_array().expect("legs").iter())
            .collect();
        let mut ids = HashSet::new();
        for leg in &legs {
            let i = index[&find(&by_key, leg).key()];
            truth_of.insert(i, call["call"].as_u64().expect("id"));
            ids.insert(call_of.get(&i).copied());
        }
        assert!(
            !ids.contains(&None),
            "a leg of call {} is in no call",
            call["call"]
        );
        match ids.len() {
            1 => exact += 1,
            _ if call["failed"] == true => split_failed += 1,
            _ => panic!("call {} came out split into {ids:?}", call["call"]),
        }
    }
    // No call mixes the legs of two generated calls.
    for c in &audit.diagnosis.calls {
        let owners: HashSet<u64> = c
            .legs
            .iter()
            .filter(|l| !l.inferred)
            .filter_map(|l| truth_of.get(&l.flow).copied())
            .collect();
        assert!(owners.len() <= 1, "{} mixes calls {owners:?}", c.heading());
    }
    assert!(total >= 20, "the capture holds {total} calls");
    assert!(
        exact * 100 >= total * 97,
        "{exact} of {total} exact, {split_failed} split"
    );
}

/// Two threads give the same report as one, byte for byte, in every format that lists flows,
/// on the bundled captures and on a generated busy capture.
#[test]
fn one_thread_and_two_give_identical_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (pcap, _, _) = generate(&small(BusyShape::Calls, 11));
    let busy = dir.path().join("busy.pcap");
    std::fs::write(&busy, pcap).expect("write");
    let mut captures: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("captures"))
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
        .collect();
    captures.sort();
    captures.push(busy);
    for capture in &captures {
        for format in ["jsonl", "text", "zeek"] {
            let run = |threads: &str| {
                edgewise()
                    .current_dir(root)
                    .args(["audit", "-q", "--format", format, "--threads", threads])
                    .args(["--topology", "captures/topology.toml", "-r"])
                    .arg(capture)
                    .output()
                    .expect("runs")
            };
            let (one, two) = (run("1"), run("2"));
            assert!(!one.stdout.is_empty(), "{}", capture.display());
            assert_eq!(
                one.status.code(),
                two.status.code(),
                "{}",
                capture.display()
            );
            assert!(
                one.stdout == two.stdout,
                "{} --format {format}: one thread and two differ",
                capture.display()
            );
        }
    }
}
