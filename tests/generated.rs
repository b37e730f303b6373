//! The project's own captures: the analyzer finds exactly the flows the generator wrote, in
//! every container flavour, and tshark agrees on every conversation.

use std::net::SocketAddr;

use edgewise::analysis::{self, Analysis, NoProgress};
use edgewise::flow::{Flow, FlowConfig, FlowKey};
use edgewise::generate::{self, Capture, ExpectedFlow, PcapFlavor, PcapNgOptions};
use edgewise::source::capture::{CaptureReader, Next};
use edgewise::source::input::InputSpec;

use crate::util::*;

fn analyze_bytes(bytes: &[u8]) -> Analysis {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("capture");
    std::fs::write(&path, bytes).expect("write capture");
    analysis::analyze(&[InputSpec::File(path)], FlowConfig::default(), &NoProgress)
}

fn pcapng(cap: &Capture, opts: &PcapNgOptions) -> Vec<u8> {
    let mut v = Vec::new();
    generate::write_pcapng(&mut v, cap, opts).expect("pcapng");
    v
}

fn find<'a>(a: &'a Analysis, e: &ExpectedFlow) -> Vec<&'a Flow> {
    let (key, _) = FlowKey::new(
        (e.initiator.ip(), e.initiator.port()),
        (e.responder.ip(), e.responder.port()),
        e.transport,
    );
    a.flows.iter().filter(|f| f.key() == key).collect()
}

fn addr(f: &Flow, orig: bool) -> SocketAddr {
    let e = if orig { f.initiator } else { f.responder };
    SocketAddr::new(e.ip, e.port)
}

/// Compares the analysis with what the generator intended, flow by flow.
fn check_expected(cap: &Capture, a: &Analysis, what: &str) {
    assert!(
        a.accounting.balanced(),
        "{what}: {:?}",
        a.accounting.mismatches
    );
    for e in &cap.expected {
        if e.transport == 1 || e.transport == 58 {
            if e.label.starts_with("icmp-error") {
                let quoted = a.flows.iter().filter(|f| f.icmp_errors > 0).count();
                assert!(
                    quoted >= 1,
                    "{what}: {}: no flow holds the ICMP error",
                    e.label
                );
            }
            continue;
        }
        if e.transport != 6 && e.transport != 17 {
            continue;
        }
        let flows = find(a, e);
        assert_eq!(
            flows.len(),
            1,
            "{what}: {} ({}): flows found {}",
            e.label,
            e.initiator,
            flows.len()
        );
        let f = flows[0];
        let (orig, resp) = (&f.orig, &f.resp);
        assert_eq!(addr(f, true), e.initiator, "{what}: {}: initiator", e.label);
        assert_eq!(
            (orig.packets, orig.wire_bytes, resp.packets, resp.wire_bytes),
            (
                e.orig_packets,
                e.orig_wire_bytes,
                e.resp_packets,
                e.resp_wire_bytes
            ),
            "{what}: {}: per-direction packets and bytes",
            e.label
        );
        assert_eq!(
            f.conn_state(),
            e.conn_state,
            "{what}: {}: conn_state (history {})",
            e.label,
            f.history()
        );
    }
}

#[test]
fn every_scenario_yields_the_flows_the_generator_wrote() {
    for name in generate::scenario_names() {
        let cap = generate::scenario(name).expect("scenario");
        let a = analyze_bytes(&pcapng(&cap, &PcapNgOptions::default()));
        check_expected(&cap, &a, name);
        assert_eq!(
            a.accounting.packets,
            cap.frames.len() as u64,
            "{name}: packets"
        );
    }
}

#[test]
fn every_pcap_flavour_and_pcapng_option_reads_the_same() {
    let cap = generate::scenario("tcp-states").expect("scenario");
    let reference = analyze_bytes(&pcapng(&cap, &PcapNgOptions::default()));
    let first = cap.frames.first().expect("frames").ts_ns;
    let last = cap.frames.last().expect("frames").ts_ns;
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for flavor in PcapFlavor::ALL {
        let mut v = Vec::new();
        generate::write_pcap(&mut v, &cap.flattened(), flavor).expect("pcap");
        variants.push((format!("{flavor:?}"), v));
    }
    let opts = [
        (
            "big-endian",
            PcapNgOptions {
                big_endian: true,
                ..Default::default()
            },
        ),
        (
            "ns",
            PcapNgOptions {
                tsresol: 9,
                ..Default::default()
            },
        ),
        (
            "2^-20 with offset",
            PcapNgOptions {
                tsresol: 0x80 | 20,
                tsoffset_s: 1_700_000_000,
                ..Default::default()
            },
        ),
        (
            "obsolete PB",
            PcapNgOptions {
                use_obsolete_packet_blocks: true,
                ..Default::default()
            },
        ),
        (
            "direction flags",
            PcapNgOptions {
                write_direction_flags: true,
                ..Default::default()
            },
        ),
    ];
    for (name, o) in opts {
        variants.push((name.to_string(), pcapng(&cap, &o)));
    }
    for (name, bytes) in variants {
        let a = analyze_bytes(&bytes);
        check_expected(&cap, &a, &name);
        assert_eq!(a.flows.len(), reference.flows.len(), "{name}: flow count");
        let (f, l) = (a.first_ts_ns.expect("first"), a.last_ts_ns.expect("last"));
        // 2^-20 s resolution is within a microsecond of the original.
        assert!(
            (f - first).abs() <= 1_000 && (l - last).abs() <= 1_000,
            "{name}: timestamps {f} {l}"
        );
    }
}

#[test]
fn link_types_with_different_resolutions_in_one_pcapng() {
    let cap = generate::scenario("link-types").expect("scenario");
    let resol: Vec<u8> = (0..cap.interfaces.len())
        .map(|i| if i % 2 == 0 { 6 } else { 9 })
        .collect();
    let mut v = Vec::new();
    generate::write_pcapng_with_tsresol(&mut v, &cap, &PcapNgOptions::default(), &resol)
        .expect("pcapng");
    let a = analyze_bytes(&v);
    check_expected(&cap, &a, "link-types");
    assert_eq!(a.interfaces.len(), cap.interfaces.len());
    assert!(
        a.accounting.buckets.keys().all(|k| k == "flow"),
        "{:?}",
        a.accounting.buckets
    );
}

#[test]
fn direction_flags_are_read_from_enhanced_packet_blocks() {
    let cap = generate::scenario("broken").expect("scenario");
    let bytes = pcapng(
        &cap,
        &PcapNgOptions {
            write_direction_flags: true,
            ..Default::default()
        },
    );
    let mut r = CaptureReader::open(&bytes[..]).expect("opens");
    let mut with_direction = 0;
    loop {
        match r.next_record() {
            Next::Packet(p) => with_direction += usize::from(p.direction.is_some()),
            Next::Problem { .. } => {}
            Next::End => break,
            Next::Stop(s) => panic!("{s}"),
        }
    }
    assert_eq!(with_direction, cap.frames.len());
}

/// Truncating a capture at any length never panics, keeps every complete record and reports
/// the cut exactly when it falls inside a record.
#[test]
fn truncation_at_every_length_keeps_every_complete_record() {
    let cap = generate::scenario("broken").expect("scenario");
    let mut pcap = Vec::new();
    generate::write_pcap(&mut pcap, &cap.flattened(), PcapFlavor::MicroLe).expect("pcap");
    let ng = pcapng(&cap, &PcapNgOptions::default());
    // Block boundaries of the pcapng (little-endian): a cut there is a clean end.
    let mut ng_blocks = vec![0u64];
    let mut at = 0usize;
    while at + 8 <= ng.len() {
        let len = u32::from_le_bytes([ng[at + 4], ng[at + 5], ng[at + 6], ng[at + 7]]) as usize;
        at += len;
        ng_blocks.push(at as u64);
    }
    for (bytes, blocks) in [(pcap, vec![]), (ng, ng_blocks)] {
        // Record boundaries from a full read.
        let mut ends = Vec::new();
        let mut r = CaptureReader::open(&bytes[..]).expect("opens");
        let header_end = r.offset();
        while let Next::Packet(_) = r.next_record() {
            ends.push(r.offset());
        }
        assert_eq!(ends.len(), cap.frames.len());
        for cut in 0..bytes.len() {
            let slice = &bytes[..cut];
            let Ok(mut r) = CaptureReader::open(slice) else {
                assert!((cut as u64) < header_end.max(4), "cut {cut} refused");
                continue;
            };
            let mut n = 0u64;
            let stop = loop {
                match r.next_record() {
                    Next::Packet(_) | Next::Problem { .. } => n += 1,
                    Next::End => break None,
                    Next::Stop(s) => break Some(s),
                }
            };
            let complete = ends.iter().filter(|e| **e <= cut as u64).count() as u64;
            assert_eq!(n, complete, "cut at {cut}");
            let on_boundary = cut as u64 == header_end
                || ends.contains(&(cut as u64))
                || blocks.contains(&(cut as u64));
            assert_eq!(stop.is_none(), on_boundary, "cut at {cut}: {stop:?}");
            if let Some(s) = stop {
                assert_eq!(s.after_packet, complete);
            }
        }
    }
}

/// tshark dissects our generated captures into the same conversations with the same counts.
#[test]
fn tshark_agrees_on_every_generated_conversation() {
    if !have("tshark") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let mut compared = 0;
    for name in generate::scenario_names() {
        let cap = generate::scenario(name).expect("scenario");
        let path = dir.path().join(format!("{name}.pcapng"));
        std::fs::write(&path, pcapng(&cap, &PcapNgOptions::default())).expect("write");
        let theirs = tshark_conversations(&path).expect("tshark ran");
        let (json, _) = flows_json(&path);
        let ours = our_conversations(&json);
        for (key, (p, b)) in &theirs {
            let &(op, ob, frags) = ours
                .get(key)
                .unwrap_or_else(|| panic!("{name}: {key} missing"));
            if frags > 0 {
                continue;
            }
            assert_eq!((op, ob), (*p, *b), "{name}: {key}");
            compared += 1;
        }
    }
    assert!(compared >= 60, "only {compared} compared");
}

/// A tiny flow cap and timeouts force evictions and expiries; every count survives them.
#[test]
fn evicted_and_expired_flows_keep_every_count() {
    let cap = generate::scenario("edge-sample").expect("scenario");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("edge.pcapng");
    std::fs::write(&path, pcapng(&cap, &PcapNgOptions::default())).expect("write");
    let unbounded = analysis::analyze(
        &[InputSpec::File(path.clone())],
        FlowConfig::default(),
        &NoProgress,
    );
    let config = FlowConfig {
        max_flows: 3,
        udp_idle_ns: 1_000_000_000,
        tcp_idle_ns: 2_000_000_000,
        ..FlowConfig::default()
    };
    let bounded = analysis::analyze(&[InputSpec::File(path)], config, &NoProgress);
    assert!(
        bounded.accounting.balanced(),
        "{:?}",
        bounded.accounting.mismatches
    );
    assert!(
        bounded.flow_counts.evicted_cap > 0,
        "{:?}",
        bounded.flow_counts
    );
    let c = &bounded.flow_counts;
    assert_eq!(c.created, c.active_at_end + c.expired_idle + c.evicted_cap);
    assert_eq!(c.created as usize, bounded.flows.len());
    let total = |a: &Analysis| a.flows.iter().map(|f| f.packets()).sum::<u64>();
    assert_eq!(total(&bounded), total(&unbounded));
    assert_eq!(bounded.accounting.buckets, unbounded.accounting.buckets);
}

/// `--max-flows` bounds the run, not each thread: when one pair of addresses (whose flows all
/// go to one thread) holds most of the flows, two threads evict no more than one does.
#[test]
fn the_flow_cap_is_the_runs_not_each_threads() {
    use edgewise::generate::packets::{sa, EXT_GW_MAC, LINKTYPE_ETHERNET};
    use edgewise::generate::{Dir, Link, Sim, UdpFlow};
    let mut sim = Sim::new(5);
    let ext = sim.add_interface(
        "ext",
        LINKTYPE_ETHERNET,
        65_535,
        Link::eth(EXT_GW_MAC, EXT_GW_MAC),
    );
    // 300 flows between one client and the A/V Edge, 20 between other pairs, all open at once.
    for port in 0..300u16 {
        let client = sa(&format!("203.0.113.7:{}", 20_000 + port));
        let mut u = UdpFlow::new(ext, client, sa("198.51.100.30:3478"), 20.0);
        u.send(&mut sim, Dir::Orig, b"media");
    }
    for host in 0..20u16 {
        let client = sa(&format!("192.0.2.{}:40000", host + 1));
        let mut u = UdpFlow::new(ext, client, sa("198.51.100.31:3478"), 20.0);
        u.send(&mut sim, Dir::Orig, b"media");
    }
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("skewed.pcapng");
    std::fs::write(
        &path,
        pcapng(&sim.into_capture(), &PcapNgOptions::default()),
    )
    .expect("write");
    let run = |threads: usize| {
        let config = FlowConfig {
            max_flows: 320,
            threads,
            ..FlowConfig::default()
        };
        analysis::analyze(&[InputSpec::File(path.clone())], config, &NoProgress)
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.flow_counts.evicted_cap, 0, "{:?}", one.flow_counts);
    assert_eq!(two.flow_counts, one.flow_counts);
    let keys = |a: &Analysis| {
        a.flows
            .iter()
            .map(|f| (f.key(), f.packets()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&two), keys(&one));
    assert_eq!(one.flows.len(), 320);
}
