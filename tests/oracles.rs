//! Cross-checks against independent tools: capinfos for totals, tshark for per-conversation
//! counts, on the public captures in ../shared/pcaps/dpi.

use crate::util::*;

/// Packet totals equal capinfos' "Number of packets", and wire bytes its "Data size".
#[test]
fn packet_and_byte_totals_equal_capinfos_on_public_captures() {
    let Some(shared) = shared() else { return };
    if !have("capinfos") {
        return;
    }
    let mut checked = 0;
    for path in captures_in(&shared.join("pcaps/dpi")) {
        let Some((packets, bytes)) = capinfos(&path) else {
            continue;
        };
        let (json, code) = flows_json(&path);
        assert_eq!(code, 0, "{}: exit code", path.display());
        assert_eq!(
            json["accounting"]["packets"],
            packets,
            "{}: packets",
            path.display()
        );
        assert_eq!(
            json["accounting"]["wire_bytes"],
            bytes,
            "{}: bytes",
            path.display()
        );
        assert_balanced(&json, &path.display().to_string());
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} captures checked");
}

/// Every TCP/UDP conversation tshark sees has a flow with the same packets and bytes.
///
/// Known, explained differences, excluded here and nowhere else:
/// - flows with IP fragments: tshark (reassembly off) counts only the first fragment as UDP;
///   edgewise attributes every fragment to the flow.
#[test]
fn per_flow_counts_equal_tshark_conversations_on_public_captures() {
    let Some(shared) = shared() else { return };
    if !have("tshark") {
        return;
    }
    let mut compared = 0;
    for path in captures_in(&shared.join("pcaps/dpi")) {
        let Some(theirs) = tshark_conversations(&path) else {
            continue;
        };
        let (json, _) = flows_json(&path);
        let ours = our_conversations(&json);
        for (key, (packets, bytes)) in &theirs {
            let Some(&(p, b, fragments)) = ours.get(key) else {
                panic!("{}: tshark conversation {key} has no flow", path.display());
            };
            if fragments > 0 {
                continue;
            }
            assert_eq!(
                (p, b),
                (*packets, *bytes),
                "{}: {key} packets/bytes differ from tshark",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 140, "only {compared} conversations compared");
}

/// The public captures whose container is unusual still read completely.
#[test]
fn public_pcapng_with_several_link_types_reads_completely() {
    let Some(shared) = shared() else { return };
    // nDPI's stun.pcap is a pcapng with several interfaces of different link types.
    let (json, code) = flows_json(&shared.join("pcaps/dpi/ndpi__stun.pcap"));
    assert_eq!(code, 0);
    assert!(json["interfaces"].as_array().expect("interfaces").len() >= 2);
    assert_balanced(&json, "ndpi__stun.pcap");
}
