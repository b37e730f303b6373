//! Diagnostics: for each check, a generated capture where it fires and a healthy one where it
//! must not; public captures without an Edge raise no error.

use std::path::Path;

use edgewise::analysis::{self, NoProgress};
use edgewise::diagnose::{Diagnosis, Severity};
use edgewise::flow::FlowConfig;
use edgewise::generate::packets::{
    sa, EDGE_EXT_MAC, EDGE_INT_MAC, EXT_GW_MAC, INT_GW_MAC, LINKTYPE_ETHERNET, TCP_ACK, TCP_RST,
};
use edgewise::generate::{self, Dir, Link, PcapNgOptions, Sim, TcpConv, UdpFlow};
use edgewise::matrix::Matrix;
use edgewise::source::input::InputSpec;
use edgewise::topology::{Topology, SAMPLE};

use crate::util::*;

pub(crate) const S: i64 = 1_000_000_000;

/// Builds a capture on the sample site's two Edge interfaces and diagnoses it.
pub(crate) fn diagnose_with(topology: &str, build: impl FnOnce(&mut Sim, u32, u32)) -> Diagnosis {
    diagnose_named(topology, ["ext", "int"], build)
}

/// As [`diagnose_with`], with the capture's two interfaces named as given.
pub(crate) fn diagnose_named(
    topology: &str,
    names: [&str; 2],
    build: impl FnOnce(&mut Sim, u32, u32),
) -> Diagnosis {
    let mut sim = Sim::new(7);
    let ext = sim.add_interface(
        names[0],
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
    );
    let int = sim.add_interface(
        names[1],
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_INT_MAC, INT_GW_MAC),
    );
    build(&mut sim, ext, int);
    let cap = sim.into_capture();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.pcapng");
    let mut bytes = Vec::new();
    generate::write_pcapng(&mut bytes, &cap, &PcapNgOptions::default()).expect("pcapng");
    std::fs::write(&path, bytes).expect("write");
    let a = analysis::analyze(&[InputSpec::File(path)], FlowConfig::default(), &NoProgress);
    let topo = Topology::parse(topology, Path::new("site.toml")).expect("topology");
    let audit = edgewise::audit::audit(&a, &topo, Matrix::builtin().expect("matrix"), false);
    audit.diagnosis
}

pub(crate) fn diagnose(build: impl FnOnce(&mut Sim, u32, u32)) -> Diagnosis {
    diagnose_with(SAMPLE, build)
}

pub(crate) fn ids(d: &Diagnosis) -> Vec<&'static str> {
    d.findings.iter().map(|f| f.id).collect()
}

/// The findings beyond T2 (Edge services that never appear), which a test that builds a few
/// flows of one service always raises.
pub(crate) fn problems(d: &Diagnosis) -> Vec<&'static str> {
    d.findings
        .iter()
        .filter(|f| f.id != "T2")
        .map(|f| f.id)
        .collect()
}

pub(crate) fn unanswered_syn(s: &mut Sim, iface: u32, from: &str, to: &str) {
    let mut c = TcpConv::new(s, iface, sa(from), sa(to), 40.0);
    c.syn(s);
    for g in [1, 2, 4] {
        c.syn_retransmit(s, g * S);
    }
    c.finish(s, "S0", "x");
}

pub(crate) fn refused(s: &mut Sim, iface: u32, from: &str, to: &str) {
    let mut c = TcpConv::new(s, iface, sa(from), sa(to), 40.0);
    c.syn(s);
    let ack = c.ack_of(Dir::Resp);
    c.raw(s, Dir::Resp, 0, ack, TCP_RST | TCP_ACK, &[]);
    c.finish(s, "REJ", "x");
}

pub(crate) fn good_tcp(s: &mut Sim, iface: u32, from: &str, to: &str) {
    let mut c = TcpConv::new(s, iface, sa(from), sa(to), 40.0);
    c.handshake(s);
    c.data(s, Dir::Orig, b"\x16\x03\x01\x00\x05hello");
    c.data(s, Dir::Resp, b"\x16\x03\x03\x00\x05world");
    c.close(s, Dir::Orig);
    c.finish(s, "SF", "x");
}

pub(crate) fn udp(s: &mut Sim, iface: u32, from: &str, to: &str, requests: usize, answered: bool) {
    let mut u = UdpFlow::new(iface, sa(from), sa(to), 30.0);
    for _ in 0..requests {
        u.send_at(s, S / 2, Dir::Orig, &[0u8; 40]);
        if answered {
            u.send(s, Dir::Resp, &[1u8; 40]);
        }
    }
    u.finish(s, if answered { "SF" } else { "S0" }, "x");
}

pub(crate) fn assert_fires(id: &str, d: &Diagnosis, severity: Severity) {
    let f = d
        .findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("{id} did not fire: {:?}", ids(d)));
    assert_eq!(f.severity, severity, "{id}");
    assert!(!f.explanation.is_empty() && !f.fix.is_empty() && !f.citation.is_empty());
    assert!(!f.evidence.is_empty(), "{id}: no evidence");
    assert!(
        f.evidence.iter().all(|e| e.first_frame.is_some()),
        "{id}: evidence without frames"
    );
}

#[test]
fn federation_checks_fire_on_failing_5061() {
    let d = diagnose(|s, ext, _| unanswered_syn(s, ext, "10.45.16.10:51700", "198.51.100.10:5061"));
    assert_fires("F1", &d, Severity::Error);
    assert!(
        d.findings[0].title.contains("fabrikam.com"),
        "{}",
        d.findings[0].title
    );
    let d = diagnose(|s, ext, _| refused(s, ext, "10.45.16.10:51701", "198.51.100.10:5061"));
    assert_fires("F2", &d, Severity::Error);
    let d = diagnose(|s, ext, _| unanswered_syn(s, ext, "198.51.100.10:60200", "10.45.16.10:5061"));
    assert_fires("F3", &d, Severity::Error);
}

#[test]
fn dns_and_revocation_checks() {
    let d = diagnose(|s, ext, _| udp(s, ext, "10.45.16.10:53000", "10.45.16.1:53", 3, false));
    assert_fires("D2", &d, Severity::Error);
    let d = diagnose(|s, ext, _| unanswered_syn(s, ext, "10.45.16.10:51600", "203.0.113.80:80"));
    assert_fires("CRL1", &d, Severity::Warning);
}

#[test]
fn media_checks() {
    let d = diagnose(|s, ext, _| udp(s, ext, "203.0.113.44:50060", "10.45.16.30:3478", 3, false));
    assert_fires("A1", &d, Severity::Error);
    let d = diagnose(|s, ext, _| {
        udp(s, ext, "203.0.113.44:50060", "10.45.16.30:3478", 3, false);
        good_tcp(s, ext, "203.0.113.44:50061", "10.45.16.30:443");
    });
    assert_fires("A7", &d, Severity::Warning);
    assert!(
        !ids(&d).contains(&"A1"),
        "A7 replaces A1 when TCP works: {:?}",
        ids(&d)
    );
    let d = diagnose(|s, ext, _| unanswered_syn(s, ext, "203.0.113.44:50062", "10.45.16.30:443"));
    assert_fires("A2", &d, Severity::Error);
    let d = diagnose(|s, ext, _| udp(s, ext, "10.45.16.30:3478", "198.51.100.30:3478", 3, false));
    assert_fires("A3", &d, Severity::Error);
    let d =
        diagnose(|s, ext, _| unanswered_syn(s, ext, "10.45.16.30:50100", "198.51.100.30:55000"));
    assert_fires("A4", &d, Severity::Error);
    let d = diagnose(|s, ext, _| udp(s, ext, "10.45.16.30:52010", "198.51.100.30:56000", 5, false));
    assert_fires("A5", &d, Severity::Warning);
    let d = diagnose(|s, _, int| udp(s, int, "192.168.20.55:50020", "172.25.33.10:3478", 3, false));
    assert_fires("A11", &d, Severity::Error);
    let d = diagnose(|s, _, int| udp(s, int, "192.168.20.55:50020", "10.45.16.30:3478", 1, true));
    assert_fires("A12", &d, Severity::Warning);
}

#[test]
fn nat_and_internal_checks() {
    let d = diagnose(|s, ext, _| {
        for p in 0..4 {
            good_tcp(
                s,
                ext,
                &format!("10.45.16.254:{}", 40000 + p),
                "10.45.16.10:443",
            );
        }
    });
    assert_fires("N2", &d, Severity::Error);
    let d = diagnose(|s, _, int| good_tcp(s, int, "192.168.20.55:50100", "172.25.33.10:5061"));
    assert_fires("I1", &d, Severity::Warning);
    let d =
        diagnose(|s, _, int| unanswered_syn(s, int, "192.168.10.90:49920", "172.25.33.10:4443"));
    assert_fires("I2", &d, Severity::Error);
    let d = diagnose(|s, _, int| refused(s, int, "172.25.33.10:50110", "192.168.10.90:5061"));
    assert_fires("I5", &d, Severity::Error);
    let sfb2019 = SAMPLE.replace("product = \"sfb2015\"", "product = \"sfb2019\"");
    let d = diagnose_with(&sfb2019, |s, ext, _| {
        good_tcp(s, ext, "198.51.100.20:40001", "10.45.16.10:5269")
    });
    assert_fires("I4", &d, Severity::Warning);
}

#[test]
fn routing_and_internal_nat_checks() {
    // The Edge's internal interface talking to the Internet: default gateway inside.
    let d = diagnose(|s, _, int| good_tcp(s, int, "172.25.33.10:50500", "203.0.113.80:80"));
    assert_fires("R1", &d, Severity::Error);
    // Sources on the internal side outside every declared internal subnet: translated.
    let d = diagnose(|s, _, int| udp(s, int, "10.99.0.7:50020", "172.25.33.10:3478", 1, true));
    assert_fires("N6", &d, Severity::Error);
    // Hardware load balancing: a request to the A/V VIP answered from the node's own address.
    let hlb = as_hlb(SAMPLE);
    let d = diagnose_with(&hlb, |s, ext, _| {
        udp(
            s,
            ext,
            "203.0.113.44:50060",
            "131.107.155.30:3478",
            2,
            false,
        );
        udp(s, ext, "10.45.16.30:3478", "203.0.113.44:50060", 1, false);
    });
    assert_fires("N5", &d, Severity::Error);
    // The same load balancer translating sources: N4, not N2.
    let d = diagnose_with(&hlb, |s, ext, _| {
        for p in 0..4 {
            good_tcp(
                s,
                ext,
                &format!("10.45.16.254:{}", 40000 + p),
                "10.45.16.10:443",
            );
        }
    });
    assert_fires("N4", &d, Severity::Error);
}

/// The sample site with its capture interfaces named: `ext` saw the external side, `int` the
/// internal side.
pub(crate) fn with_sides() -> String {
    SAMPLE.replace(
        "# capture_interfaces = { ext = \"external\", int = \"internal\" }",
        "capture_interfaces = { ext = \"external\", int = \"internal\" }",
    )
}

#[test]
fn traffic_on_the_wrong_side_is_asymmetric_routing() {
    let sides = with_sides();
    let d = diagnose_with(&sides, |s, ext, _| {
        good_tcp(s, ext, "192.168.10.90:49880", "172.25.33.10:5061")
    });
    assert_fires("R2", &d, Severity::Error);
    // The same flow on the internal interface is where it belongs.
    let d = diagnose_with(&sides, |s, _, int| {
        good_tcp(s, int, "192.168.10.90:49880", "172.25.33.10:5061")
    });
    assert!(problems(&d).is_empty(), "{:?}", ids(&d));
    // Without the sides in the topology, the capture's own interface names tell them.
    let d = diagnose(|s, ext, _| good_tcp(s, ext, "192.168.10.90:49880", "172.25.33.10:5061"));
    assert_fires("R2", &d, Severity::Error);
    let r2 = d.findings.iter().find(|f| f.id == "R2").expect("R2");
    assert!(
        r2.explanation.contains("read from their names"),
        "{}",
        r2.explanation
    );
    // Names that say nothing of a side: the check says what it needs.
    let d = diagnose_named(SAMPLE, ["eth0", "eth1"], |s, ext, _| {
        good_tcp(s, ext, "192.168.10.90:49880", "172.25.33.10:5061")
    });
    assert!(!ids(&d).contains(&"R2"), "{:?}", ids(&d));
    assert!(d
        .skipped
        .iter()
        .any(|k| k.id == "R2" && k.needs.contains("capture_interfaces")));
}

#[test]
fn the_pools_services_on_the_internal_interface_and_the_federation_source() {
    // A13: the Front End's A/V authentication (5062) gets no answer.
    let d =
        diagnose(|s, _, int| unanswered_syn(s, int, "192.168.10.90:50100", "172.25.33.10:5062"));
    assert_fires("A13", &d, Severity::Error);
    // A14: PSOM/MTLS 8057 refused.
    let d = diagnose(|s, _, int| refused(s, int, "192.168.10.91:50101", "172.25.33.10:8057"));
    assert_fires("A14", &d, Severity::Error);
    // A15: a conferencing server's STUN to the internal interface is never answered.
    let d = diagnose(|s, _, int| udp(s, int, "192.168.10.90:50020", "172.25.33.10:3478", 2, false));
    assert_fires("A15", &d, Severity::Error);
    assert!(!ids(&d).contains(&"A11"), "{:?}", ids(&d));
    // A client's failure is A11's, not A15's.
    let d = diagnose(|s, _, int| udp(s, int, "192.168.20.55:50020", "172.25.33.10:3478", 2, false));
    assert!(!ids(&d).contains(&"A15"), "{:?}", ids(&d));
    // F11: federation leaving from the A/V Edge's address.
    let d = diagnose(|s, ext, _| good_tcp(s, ext, "10.45.16.30:51500", "198.51.100.10:5061"));
    assert_fires("F11", &d, Severity::Warning);
    let f = d.findings.iter().find(|f| f.id == "F11").expect("F11");
    assert!(
        f.title.contains("A/V Edge address 10.45.16.30"),
        "{}",
        f.title
    );
    // The same flows answered, from the right address: nothing.
    let d = diagnose(|s, ext, int| {
        good_tcp(s, int, "192.168.10.90:50100", "172.25.33.10:5062");
        good_tcp(s, int, "192.168.10.91:50101", "172.25.33.10:8057");
        udp(s, int, "192.168.10.90:50020", "172.25.33.10:3478", 2, true);
        good_tcp(s, ext, "10.45.16.10:51500", "198.51.100.10:5061");
    });
    for id in ["A13", "A14", "A15", "F11"] {
        assert!(!ids(&d).contains(&id), "{id}: {:?}", ids(&d));
    }
}

#[test]
fn a_healthy_site_raises_nothing() {
    let d = diagnose_with(&with_sides(), |s, ext, int| {
        good_tcp(s, ext, "203.0.113.25:51234", "10.45.16.10:443");
        good_tcp(s, ext, "10.45.16.10:51500", "198.51.100.10:5061");
        good_tcp(s, ext, "198.51.100.10:60123", "10.45.16.10:5061");
        good_tcp(s, ext, "203.0.113.25:51240", "10.45.16.20:443");
        udp(s, ext, "203.0.113.25:50010", "10.45.16.30:3478", 2, true);
        good_tcp(s, ext, "203.0.113.25:51250", "10.45.16.30:443");
        udp(s, ext, "10.45.16.10:53211", "10.45.16.1:53", 1, true);
        good_tcp(s, ext, "10.45.16.10:51600", "203.0.113.80:80");
        good_tcp(s, int, "192.168.10.90:49880", "172.25.33.10:5061");
        good_tcp(s, int, "172.25.33.10:50110", "192.168.10.90:5061");
        good_tcp(s, int, "192.168.10.90:49920", "172.25.33.10:4443");
        udp(s, int, "192.168.20.55:50020", "172.25.33.10:3478", 2, true);
    });
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn public_captures_without_an_edge_raise_only_the_mismatch() {
    let Some(shared) = shared() else { return };
    for path in captures_in(&shared.join("pcaps/dpi")) {
        let a = analysis::analyze(
            &[InputSpec::File(path.clone())],
            FlowConfig::default(),
            &NoProgress,
        );
        let topo = Topology::parse(SAMPLE, Path::new("sample")).expect("topology");
        let matrix = Matrix::builtin().expect("matrix");
        // Assumed topology: everything that needs the site is skipped, not guessed; the one
        // finding says the capture is not this site's (T1), which fails the audit.
        let assumed = edgewise::audit::audit(&a, &topo, matrix, true).diagnosis;
        assert!(
            ids(&assumed).iter().all(|id| *id == "T1"),
            "{}: {:?}",
            path.display(),
            ids(&assumed)
        );
        assert!(!assumed.skipped.is_empty());
        // Given as this site's: the mismatch is an error, and nothing else is.
        let given = edgewise::audit::audit(&a, &topo, matrix, false).diagnosis;
        let errors: Vec<&str> = given
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.id)
            .collect();
        assert!(
            errors.iter().all(|id| *id == "T1"),
            "{}: {:?}",
            path.display(),
            ids(&given)
        );
    }
}

#[test]
fn a_failing_federated_call_names_the_failed_leg() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = edgewise()
        .current_dir(root)
        .args([
            "audit",
            "-q",
            "--format",
            "json",
            "-r",
            "captures/federation-failing.pcapng",
            "--topology",
            "captures/topology.toml",
        ])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let findings: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(
        findings.contains(&"F1") && findings.contains(&"F3"),
        "{findings:?}"
    );
    let calls = json["calls"].as_array().expect("calls");
    assert!(!calls.is_empty());
    let failed: Vec<&serde_json::Value> = calls
        .iter()
        .filter(|c| !c["failed_leg"].is_null())
        .collect();
    assert!(!failed.is_empty(), "{calls:#?}");
    assert!(failed[0]["summary"]
        .as_str()
        .expect("summary")
        .contains("federation signalling"));
}

mod payload {
    //! Checks that read the payload: TLS on federation, TURN allocations, partner SRV lookups.

    use super::*;
    use edgewise::generate::packets::Rng;
    use edgewise::generate::proto::*;

    const ALERT: u8 = 21;

    #[allow(clippy::too_many_arguments)]
    fn tls_exchange(
        s: &mut Sim,
        ext: u32,
        from: &str,
        to: &str,
        sni: &str,
        cert: &str,
        mtls: bool,
        alert_from: Option<Dir>,
        client_cert: bool,
    ) {
        let mut c = TcpConv::new(s, ext, sa(from), sa(to), 40.0);
        c.handshake(s);
        let random = s.rng.array32();
        c.data(s, Dir::Orig, &client_hello(sni, &random, &[]));
        let flight = server_flight(&mut s.rng, cert, &[cert], mtls);
        c.data(s, Dir::Resp, &flight);
        // The client's own certificate: our Access Edge's when it opened the connection.
        let own = if from.starts_with("10.45.16.") {
            "sip.contoso.com"
        } else {
            "sip.fabrikam.com"
        };
        let fin = client_finish_flight(&mut s.rng, client_cert.then_some(own));
        c.data(s, Dir::Orig, &fin);
        match alert_from {
            // Fatal bad_certificate (42).
            Some(d) => c.data(s, d, &tls_record(ALERT, 0x0303, &[2, 42])),
            None => {
                let sf = server_finish_flight(&mut s.rng);
                c.data(s, Dir::Resp, &sf);
            }
        }
        c.close(s, Dir::Orig);
        c.finish(s, "SF", "x");
    }

    #[test]
    fn one_services_traffic_at_another_services_address_is_misdirected() {
        // SIP/TLS for the Access Edge's name, sent to the A/V Edge's 443.
        let d = diagnose(|s, ext, _| {
            let mut c = TcpConv::new(
                s,
                ext,
                sa("203.0.113.25:51234"),
                sa("10.45.16.30:443"),
                40.0,
            );
            c.handshake(s);
            let random = s.rng.array32();
            c.data(s, Dir::Orig, &client_hello("sip.contoso.com", &random, &[]));
            c.close(s, Dir::Orig);
            c.finish(s, "SF", "x");
        });
        assert_fires("M1", &d, Severity::Error);
        let f = d.findings.iter().find(|f| f.id == "M1").expect("M1");
        assert_eq!(
            f.title,
            "Traffic for the Access Edge reaches the A/V Edge at 10.45.16.30:443"
        );
        assert!(
            f.explanation
                .contains("The Access Edge is at 131.107.155.10 (public; 10.45.16.10 behind NAT)"),
            "{}",
            f.explanation
        );
        // MS-TURN over pseudo-TLS, sent to the Access Edge's 443.
        let d = diagnose(|s, ext, _| {
            let mut c = TcpConv::new(
                s,
                ext,
                sa("203.0.113.26:51240"),
                sa("10.45.16.10:443"),
                40.0,
            );
            c.handshake(s);
            let random = s.rng.array32();
            c.data(s, Dir::Orig, &pseudo_tls_client_hello(&random));
            let random = s.rng.array32();
            c.data(s, Dir::Resp, &pseudo_tls_server_hello(&random));
            let tx = txid(&mut s.rng);
            let req = msturn_allocate_request(&mut s.rng, tx, false);
            c.data(s, Dir::Orig, &msturn_tcp_frame(&req));
            c.close(s, Dir::Orig);
            c.finish(s, "SF", "x");
        });
        let f = d.findings.iter().find(|f| f.id == "M1").expect("M1");
        assert_eq!(
            f.title,
            "Traffic for the A/V Edge reaches the Access Edge at 10.45.16.10:443"
        );
        // The Access Edge's name at the Access Edge: nothing.
        let d = diagnose(|s, ext, _| {
            let mut c = TcpConv::new(
                s,
                ext,
                sa("203.0.113.25:51234"),
                sa("10.45.16.10:443"),
                40.0,
            );
            c.handshake(s);
            let random = s.rng.array32();
            c.data(s, Dir::Orig, &client_hello("sip.contoso.com", &random, &[]));
            c.close(s, Dir::Orig);
            c.finish(s, "SF", "x");
        });
        assert!(!ids(&d).contains(&"M1"), "{:?}", ids(&d));
    }

    #[test]
    fn federation_failing_again_and_again_is_a_retry_loop() {
        let attempts = |n: u16| {
            diagnose(move |s, ext, _| {
                for k in 0..n {
                    tls_exchange(
                        s,
                        ext,
                        &format!("10.45.16.10:{}", 51500 + k),
                        "198.51.100.10:5061",
                        "sip.fabrikam.com",
                        "sip.fabrikam.com",
                        true,
                        Some(Dir::Resp),
                        true,
                    );
                }
            })
        };
        let d = attempts(6);
        assert_fires("F12", &d, Severity::Warning);
        let f = d.findings.iter().find(|f| f.id == "F12").expect("F12");
        assert!(
            f.title.contains("fabrikam.com (198.51.100.10)"),
            "{}",
            f.title
        );
        assert_eq!(f.evidence.len(), 6);
        // Four failures are not yet a loop.
        assert!(!ids(&attempts(4)).contains(&"F12"));
    }

    #[test]
    fn tls_rejections_and_names_on_5061() {
        let d = diagnose(|s, ext, _| {
            tls_exchange(
                s,
                ext,
                "10.45.16.10:51500",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "sip.fabrikam.com",
                true,
                Some(Dir::Resp),
                true,
            )
        });
        assert_fires("F4", &d, Severity::Error);
        let d = diagnose(|s, ext, _| {
            tls_exchange(
                s,
                ext,
                "198.51.100.10:60123",
                "10.45.16.10:5061",
                "sip.contoso.com",
                "sip.contoso.com",
                true,
                Some(Dir::Resp),
                true,
            )
        });
        assert_fires("F5", &d, Severity::Error);
        let d = diagnose(|s, ext, _| {
            tls_exchange(
                s,
                ext,
                "198.51.100.10:60124",
                "10.45.16.10:5061",
                "sip.contoso.com",
                "sip.contoso.com",
                true,
                Some(Dir::Resp),
                false,
            )
        });
        assert_fires("F6", &d, Severity::Error);
        let d = diagnose(|s, ext, _| {
            tls_exchange(
                s,
                ext,
                "10.45.16.10:51501",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "edge.hosting.example",
                true,
                None,
                true,
            )
        });
        assert_fires("F7", &d, Severity::Error);
        let d = diagnose(|s, ext, _| {
            // Three years after the certificates' not_after (2028-01-01).
            s.now += 3 * 365 * 86_400 * S;
            tls_exchange(
                s,
                ext,
                "10.45.16.10:51502",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "sip.fabrikam.com",
                true,
                None,
                true,
            )
        });
        assert_fires("F8", &d, Severity::Error);
        // A good handshake raises none of them.
        let d = diagnose(|s, ext, _| {
            tls_exchange(
                s,
                ext,
                "10.45.16.10:51503",
                "198.51.100.10:5061",
                "sip.fabrikam.com",
                "sip.fabrikam.com",
                true,
                None,
                true,
            )
        });
        assert!(problems(&d).is_empty(), "{:?}", ids(&d));
    }

    #[test]
    fn turn_rejections_and_relay_addresses() {
        let d = diagnose(|s, ext, _| {
            let mut u = UdpFlow::new(ext, sa("203.0.113.44:50070"), sa("10.45.16.30:3478"), 40.0);
            let mut rng = Rng::new(3);
            for _ in 0..2 {
                let tx = txid(&mut rng);
                u.send(s, Dir::Orig, &msturn_allocate_request(&mut rng, tx, true));
                u.send(s, Dir::Resp, &msturn_allocate_401(tx));
            }
            u.finish(s, "SF", "x");
        });
        assert_fires("A8", &d, Severity::Error);
        let d = diagnose(|s, ext, _| {
            let mut u = UdpFlow::new(ext, sa("203.0.113.44:50071"), sa("10.45.16.30:3478"), 40.0);
            let mut rng = Rng::new(4);
            let tx = txid(&mut rng);
            u.send(s, Dir::Orig, &msturn_allocate_request(&mut rng, tx, true));
            let ok = msturn_allocate_success(
                &mut rng,
                tx,
                sa("203.0.113.44:50071"),
                sa("10.45.16.30:52010"),
            );
            u.send(s, Dir::Resp, &ok);
            u.finish(s, "SF", "x");
        });
        assert_fires("N1", &d, Severity::Error);
    }

    #[test]
    fn a_partner_without_srv_record() {
        let d = diagnose(|s, ext, _| {
            let mut u = UdpFlow::new(ext, sa("10.45.16.10:53300"), sa("10.45.16.1:53"), 2.0);
            let name = "_sipfederationtls._tcp.nofed.example";
            u.send(s, Dir::Orig, &dns_query(9, name, DNS_SRV));
            u.send(s, Dir::Resp, &dns_response(9, name, DNS_SRV, &[]));
            u.finish(s, "SF", "x");
        });
        assert_fires("D1", &d, Severity::Error);
    }
}

mod both_sides {
    //! One session seen on both sides of the Edge: an internal TURN allocation and its relay
    //! leg outside, an inbound SIP connection and the Edge's connection on to the pool.

    use super::*;
    use edgewise::diagnose::calls::{Call, Leg, LegKind};
    use edgewise::diagnose::sides::{Link, Side};
    use edgewise::generate::packets::Rng;
    use edgewise::generate::proto::*;

    /// What of the session the capture holds.
    struct Parts {
        external: bool,
        internal: bool,
        /// When the Edge's connection to the pool opens after the inbound one.
        sip_gap_ns: i64,
    }

    /// Two internal clients allocate relays on the Edge internal interface at once (relayed
    /// ports 52010 and 52020), each relay's media runs outside with the partner's A/V Edge,
    /// and the partner's inbound SIP/MTLS is proxied to the pool.
    fn session(s: &mut Sim, ext: u32, int: u32, p: &Parts) {
        let mut inbound = TcpConv::new(
            s,
            ext,
            sa("198.51.100.10:50123"),
            sa("10.45.16.10:5061"),
            40.0,
        );
        if p.external {
            inbound.handshake(s);
            inbound.data(s, Dir::Orig, b"\x16\x03\x01\x00\x05hello");
        }
        s.idle(p.sip_gap_ns);
        let mut to_pool = TcpConv::new(
            s,
            int,
            sa("172.25.33.10:50200"),
            sa("192.168.10.90:5061"),
            1.0,
        );
        if p.internal {
            to_pool.handshake(s);
            to_pool.data(s, Dir::Orig, b"\x16\x03\x01\x00\x05hello");
        }
        let mut rng = Rng::new(5);
        let mut media = Vec::new();
        for (client, relay, peer) in [
            ("192.168.20.50:50010", "52010", "198.51.100.30:56000"),
            ("192.168.20.51:50011", "52020", "198.51.100.30:56002"),
        ] {
            if p.internal {
                let mut u = UdpFlow::new(int, sa(client), sa("172.25.33.10:3478"), 2.0);
                let tx = txid(&mut rng);
                u.send(s, Dir::Orig, &msturn_allocate_request(&mut rng, tx, true));
                let relayed = sa(&format!("131.107.155.30:{relay}"));
                let ok = msturn_allocate_success(&mut rng, tx, sa(client), relayed);
                u.send(s, Dir::Resp, &ok);
                u.finish(s, "SF", "x");
            }
            media.push(UdpFlow::new(
                ext,
                sa(&format!("10.45.16.30:{relay}")),
                sa(peer),
                30.0,
            ));
        }
        if p.external {
            for _ in 0..6 {
                for m in media.iter_mut() {
                    m.send_at(s, S / 4, Dir::Orig, &[0u8; 40]);
                    m.send(s, Dir::Resp, &[1u8; 40]);
                }
            }
        }
        for m in media {
            m.finish(s, "SF", "x");
        }
        for (c, on) in [(inbound, p.external), (to_pool, p.internal)] {
            let mut c = c;
            if on {
                c.close(s, Dir::Orig);
            }
            c.finish(s, "SF", "x");
        }
    }

    fn call_with_relay(d: &Diagnosis, port: u16) -> &Call {
        d.calls
            .iter()
            .find(|c| c.relays.iter().any(|r| r.port() == port))
            .unwrap_or_else(|| panic!("no call on relay port {port}: {:#?}", d.calls))
    }

    fn touches(l: &Leg, port: u16) -> bool {
        l.initiator.port == port || l.responder.port == port
    }

    #[test]
    fn an_internal_allocation_and_inbound_sip_are_linked_to_their_external_sides() {
        let parts = Parts {
            external: true,
            internal: true,
            sip_gap_ns: S / 2,
        };
        let d = diagnose(|s, ext, int| session(s, ext, int, &parts));
        for (own, other) in [(52010, 52020), (52020, 52010)] {
            let call = call_with_relay(&d, own);
            let lines: Vec<String> = call.leg_lines().into_iter().map(|(_, l)| l).collect();
            let alloc = call
                .legs
                .iter()
                .find(|l| l.kind == LegKind::Allocation)
                .expect("allocation");
            assert_eq!((alloc.side, alloc.link), (Some(Side::Internal), None));
            // The relay leg outside, linked by the relayed address: certain.
            let relay = call
                .legs
                .iter()
                .find(|l| l.kind == LegKind::Media && touches(l, own))
                .unwrap_or_else(|| panic!("no relay leg: {lines:#?}"));
            assert_eq!(
                (relay.side, relay.link),
                (Some(Side::External), Some(Link::Certain))
            );
            // The other client's concurrent session is not linked.
            assert!(call.legs.iter().all(|l| !touches(l, other)), "{lines:#?}");
            let client = if own == 52010 {
                "192.168.20.50"
            } else {
                "192.168.20.51"
            };
            assert_eq!(alloc.initiator.ip.to_string(), client, "{lines:#?}");
            // The partner's inbound SIP, and the Edge's connection on to the pool: inferred.
            let inbound = call
                .legs
                .iter()
                .find(|l| {
                    l.kind == LegKind::Signalling
                        && l.responder.port == 5061
                        && l.side == Some(Side::External)
                })
                .unwrap_or_else(|| panic!("no inbound SIP: {lines:#?}"));
            assert!(inbound.inferred && inbound.link.is_none(), "{lines:#?}");
            let to_pool = call
                .legs
                .iter()
                .find(|l| l.link == Some(Link::Inferred))
                .unwrap_or_else(|| panic!("no internal SIP leg: {lines:#?}"));
            assert_eq!(to_pool.side, Some(Side::Internal));
            assert_eq!(to_pool.responder.ip.to_string(), "192.168.10.90");
            assert!(to_pool.inferred, "shared, never the call's own leg");
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("[int]") && l.contains("inferred from time and addresses")),
                "{lines:#?}"
            );
            assert!(
                lines.iter().any(
                    |l| l.contains("[ext]") && l.contains("linked by the TURN relayed address")
                ),
                "{lines:#?}"
            );
            let json = serde_json::to_value(call).expect("json");
            let legs = json["legs"].as_array().expect("legs");
            assert!(legs
                .iter()
                .any(|l| l["side"] == "external" && l["link"] == "certain"));
            assert!(legs
                .iter()
                .any(|l| l["side"] == "internal" && l["link"] == "inferred"));
        }
    }

    /// Two files, one per side, read together: the JSON `calls[]` and the text report's calls
    /// section show the linked legs.
    #[test]
    fn two_files_one_per_side_read_together() {
        let mut sim = Sim::new(7);
        let link = [
            generate::Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
            generate::Link::eth(EDGE_INT_MAC, INT_GW_MAC),
        ];
        let ext = sim.add_interface("eth0", LINKTYPE_ETHERNET, 262_144, link[0].clone());
        let int = sim.add_interface("eth1", LINKTYPE_ETHERNET, 262_144, link[1].clone());
        let parts = Parts {
            external: true,
            internal: true,
            sip_gap_ns: S / 2,
        };
        session(&mut sim, ext, int, &parts);
        let cap = sim.into_capture();
        let dir = tempfile::tempdir().expect("dir");
        let mut paths = Vec::new();
        for (iface, name) in [(ext, "outside.pcapng"), (int, "inside.pcapng")] {
            let one = generate::Capture {
                interfaces: vec![cap.interfaces[iface as usize].clone()],
                frames: cap
                    .frames
                    .iter()
                    .filter(|f| f.interface == iface)
                    .map(|f| generate::Frame {
                        interface: 0,
                        ..f.clone()
                    })
                    .collect(),
                expected: Vec::new(),
            };
            let mut bytes = Vec::new();
            generate::write_pcapng(&mut bytes, &one, &PcapNgOptions::default()).expect("pcapng");
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            paths.push(path.to_str().expect("utf-8").to_string());
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let topology = root.join("captures/topology.toml");
        let run = |format: &str| {
            let out = edgewise()
                .args([
                    "audit", "-q", "--format", format, "-r", &paths[0], "-r", &paths[1],
                ])
                .args(["--topology", topology.to_str().expect("utf-8")])
                .output()
                .expect("runs");
            String::from_utf8(out.stdout).expect("utf-8")
        };
        let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json");
        let calls = json["calls"].as_array().expect("calls");
        let legs: Vec<&serde_json::Value> = calls
            .iter()
            .flat_map(|c| c["legs"].as_array().expect("legs"))
            .collect();
        let linked = |side: &str, link: &str| {
            legs.iter()
                .filter(|l| l["side"] == side && l["link"] == link)
                .count()
        };
        assert_eq!(linked("external", "certain"), 2, "{calls:#?}");
        assert_eq!(linked("internal", "inferred"), 2, "{calls:#?}");
        let text = run("text");
        assert!(
            text.contains("[int] tcp 172.25.33.10:50200 -> 192.168.10.90:5061")
                && text.contains("inferred from time and addresses"),
            "{text}"
        );
        assert!(
            text.contains("linked by the TURN relayed address"),
            "{text}"
        );
    }

    #[test]
    fn one_side_alone_or_a_late_pool_connection_links_nothing() {
        let only_internal = Parts {
            external: false,
            internal: true,
            sip_gap_ns: S / 2,
        };
        let d = diagnose(|s, ext, int| session(s, ext, int, &only_internal));
        assert!(!d.calls.is_empty());
        for c in &d.calls {
            assert!(
                c.legs.iter().all(|l| l.side.is_none() && l.link.is_none()),
                "{:#?}",
                c.leg_lines()
            );
        }
        // Both sides, but the pool connection opens 3 s after the inbound one: the media is
        // still linked, the SIP is not.
        let late = Parts {
            external: true,
            internal: true,
            sip_gap_ns: 3 * S,
        };
        let d = diagnose(|s, ext, int| session(s, ext, int, &late));
        let call = call_with_relay(&d, 52010);
        assert!(call.legs.iter().any(|l| l.link == Some(Link::Certain)));
        assert!(
            call.legs.iter().all(|l| l.link != Some(Link::Inferred)),
            "{:#?}",
            call.leg_lines()
        );
    }
}
