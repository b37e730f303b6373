//! The audit: every documented rule hit by a flow and missed by port, transport, source role
//! and direction, for several sites; and the generated scenarios audited end to end.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use edgewise::judge::{FlowFacts, Judge, Verdict};
use edgewise::matrix::{Interface, Matrix, PortSpec, Role, Rule, Transport};
use edgewise::topology::{Topology, SAMPLE};

use crate::util::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

const INTERNET: &str = "203.0.113.200";
const CLIENT: &str = "192.168.20.77";

/// The sites the rules are exercised on: every version and scenario.
fn sites() -> Vec<(&'static str, Topology)> {
    let parse = |name: &str, text: &str| {
        Topology::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{e}"))
    };
    let with_features = SAMPLE
        .replace("xmpp = false", "xmpp = true")
        .replace("public_im = false", "public_im = true")
        .replace("legacy_interop = false", "legacy_interop = true")
        .replace(
            "director = []",
            "director = [\"192.168.10.95\"]\ndirector_vip = \"192.168.10.195\"",
        )
        .replace("sba = []", "sba = [\"192.168.30.5\"]")
        .replace("xmpp_gateway = []", "xmpp_gateway = [\"192.168.10.91\"]");
    // A second Edge in the pool, as in 000's scaled example.
    let second_edge = "[[edge]]\nname = \"edge2\"\ninternal = \"172.25.33.11\"\n\
        access = { ip = \"10.45.16.11\", public = \"131.107.155.11\" }\n\
        webconf = { ip = \"10.45.16.21\", public = \"131.107.155.21\" }\n\
        av = { ip = \"10.45.16.31\", public = \"131.107.155.31\" }\n\n# [ports]";
    let with_features = with_features.replacen("# [ports]", second_edge, 1);
    let hlb = as_hlb(&with_features);
    vec![
        ("sfb2015-single", parse("sfb2015-single", SAMPLE)),
        ("sfb2015-single-all-features", parse("all", &with_features)),
        (
            "sfb2019-single",
            parse(
                "sfb2019",
                &with_features
                    .replace("product = \"sfb2015\"", "product = \"sfb2019\"")
                    // 2019 has no XMPP federation; the topology refuses it.
                    .replace("xmpp = true", "xmpp = false"),
            ),
        ),
        (
            "lync2013-single",
            parse(
                "lync2013",
                &with_features.replace("product = \"sfb2015\"", "product = \"lync2013\""),
            ),
        ),
        (
            "lync2010-single",
            parse(
                "lync2010",
                &with_features.replace("product = \"sfb2015\"", "product = \"lync2010\""),
            ),
        ),
        (
            "sfb2015-scaled-dns",
            parse(
                "scaled",
                &with_features.replace("scenario = \"single\"", "scenario = \"scaled-dns\""),
            ),
        ),
        ("sfb2015-hlb", parse("hlb", &hlb)),
        (
            "lync2013-hlb",
            parse(
                "hlb2013",
                &hlb.replace("product = \"sfb2015\"", "product = \"lync2013\""),
            ),
        ),
    ]
}

/// An address that plays `role` on this site, if the site has one.
fn address_for(t: &Topology, role: Role, internal_side: bool) -> Option<IpAddr> {
    address_other_than(t, role, internal_side, None)
}

/// Like `address_for`, avoiding one address (edge-to-edge rules need two pool members).
fn address_other_than(
    t: &Topology,
    role: Role,
    internal_side: bool,
    avoid: Option<IpAddr>,
) -> Option<IpAddr> {
    match role {
        Role::Any if internal_side => Some(ip(CLIENT)),
        Role::Any | Role::ExternalClient | Role::FederatedPartner => Some(ip(INTERNET)),
        Role::InternalClient => Some(ip(CLIENT)),
        role => t
            .roles
            .iter()
            .filter(|(a, _)| Some(**a) != avoid)
            .find(|(_, rs)| {
                rs.contains(&role) || (role == Role::LyncServer && rs.contains(&Role::Fe))
            })
            .map(|(a, _)| *a),
    }
}

fn port_in(t: &Topology, spec: &PortSpec, default: u16) -> u16 {
    match spec {
        PortSpec::Named(sp) => port_in(t, &t.port(*sp), default),
        PortSpec::Any => default,
        PortSpec::Single(p) => *p,
        PortSpec::Range(lo, hi) => lo + (hi - lo) / 2,
    }
}

fn internal_side(i: Interface) -> bool {
    matches!(
        i,
        Interface::Internal | Interface::InternalVip | Interface::ReverseProxyInternal
    )
}

/// A flow that the rule documents, on this site.
fn hit(t: &Topology, r: &Rule) -> Option<FlowFacts> {
    let side = internal_side(r.interface);
    let src = r.src.iter().find_map(|role| address_for(t, *role, side))?;
    let dst = r
        .dst
        .iter()
        .find_map(|role| address_other_than(t, *role, side, Some(src)))?;
    if src == dst {
        return None;
    }
    Some(FlowFacts {
        transport: if r.transport == Transport::Tcp { 6 } else { 17 },
        initiator: (src, port_in(t, &r.src_port, 40123)),
        responder: (dst, port_in(t, &r.dst_port, 40999)),
        initiator_certain: true,
        identified: None,
    })
}

fn is_edge_side(roles: &[Role]) -> bool {
    roles.iter().all(|r| {
        edgewise::topology::is_edge_role(*r)
            || matches!(r, Role::ReverseProxyExternal | Role::ReverseProxyInternal)
    })
}

#[test]
fn every_rule_is_hit_and_missed_by_port_transport_source_and_direction() {
    let matrix = Matrix::builtin().expect("matrix");
    let mut exercised: BTreeSet<String> = BTreeSet::new();
    let mut checks = 0;
    for (site, t) in sites() {
        let judge = Judge::new(&t, matrix);
        for r in judge.applicable() {
            let Some(f) = hit(&t, r) else { continue };
            let j = judge.judge(&f);
            let feature_on = r.feature.is_none_or(|x| t.feature(x));
            let what = format!("{site}: rule {} with {:?}", r.id, f);
            if feature_on {
                assert!(
                    !j.verdict.is_violation(),
                    "{what}: hit judged {:?}: {}",
                    j.verdict,
                    j.reason.with_ends([f.initiator, f.responder])
                );
                if matches!(
                    r.verdict,
                    edgewise::matrix::RuleVerdict::Permit | edgewise::matrix::RuleVerdict::PermitIf
                ) {
                    assert_eq!(
                        j.verdict,
                        Verdict::Permitted,
                        "{what}: {}",
                        j.reason.with_ends([f.initiator, f.responder])
                    );
                    assert!(j.cites(&r.id), "{what}: permitted by {:?} instead", j.rules);
                }
            } else {
                assert!(
                    matches!(
                        j.verdict,
                        Verdict::FeatureOff | Verdict::Permitted | Verdict::PermittedWithNote
                    ),
                    "{what}: feature off judged {:?}",
                    j.verdict
                );
            }
            exercised.insert(r.id.clone());
            checks += 1;

            // Missed by port (rules between pool members allow any port: nothing to miss).
            let mut by_port = f;
            if r.dst_port != PortSpec::Any {
                by_port.responder.1 = 9;
            } else {
                by_port.initiator.1 = 9;
            }
            if r.dst_port != PortSpec::Any || r.src_port != PortSpec::Any {
                let j = judge.judge(&by_port);
                assert!(
                    j.verdict.is_violation(),
                    "{what}: port 9 judged {:?}: {}",
                    j.verdict,
                    j.reason.with_ends([by_port.initiator, by_port.responder])
                );
                assert!(!j
                    .reason
                    .with_ends([by_port.initiator, by_port.responder])
                    .to_string()
                    .is_empty());
            }

            // Missed by transport, unless the documents have the same rule for the other one.
            let mut by_transport = f;
            by_transport.transport = if f.transport == 6 { 17 } else { 6 };
            let j = judge.judge(&by_transport);
            let twin = judge.applicable().iter().any(|o| {
                o.transport != r.transport
                    && o.interface == r.interface
                    && o.direction == r.direction
                    && o.dst_port == r.dst_port
            });
            if !twin {
                assert!(
                    j.verdict.is_violation(),
                    "{what}: other transport judged {:?}: {}",
                    j.verdict,
                    j.reason
                        .with_ends([by_transport.initiator, by_transport.responder])
                );
            }

            // Missed by source role: an address of the wrong side or kind.
            let remote_is_src = !is_edge_side(&r.src);
            let remote_roles = if remote_is_src { &r.src } else { &r.dst };
            if !is_edge_side(remote_roles) {
                let wrong = if internal_side(r.interface) {
                    ip(INTERNET)
                } else {
                    ip(CLIENT)
                };
                let mut by_role = f;
                if remote_is_src {
                    by_role.initiator.0 = wrong;
                } else {
                    by_role.responder.0 = wrong;
                }
                let j = judge.judge(&by_role);
                assert!(
                    j.verdict.is_violation(),
                    "{what}: wrong role {wrong} judged {:?}: {}",
                    j.verdict,
                    j.reason.with_ends([by_role.initiator, by_role.responder])
                );
                if matches!(r.interface, Interface::External | Interface::ExternalVip) {
                    assert_eq!(
                        j.verdict,
                        Verdict::InternalHairpin,
                        "{what}: {}",
                        j.reason.with_ends([by_role.initiator, by_role.responder])
                    );
                }
            }

            // Missed by direction: the same exchange opened by the other side.
            let by_direction = FlowFacts {
                initiator: f.responder,
                responder: f.initiator,
                ..f
            };
            let j = judge.judge(&by_direction);
            let symmetric = is_edge_side(&r.src) && is_edge_side(&r.dst);
            if !j.verdict.is_violation() && !symmetric {
                // Only acceptable when another rule documents the opposite direction.
                assert!(
                    !j.cites(&r.id),
                    "{what}: reversed flow permitted by the same rule"
                );
            }
        }
    }
    let missing: Vec<&str> = matrix
        .rules
        .iter()
        .filter(|r| !exercised.contains(&r.id))
        .map(|r| r.id.as_str())
        .collect();
    assert!(missing.is_empty(), "rules no site exercised: {missing:?}");
    assert!(checks > 200, "only {checks} checks");
}

fn audit_json(capture: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    // Relative paths from the repository root keep reasons (which name the topology file)
    // independent of where the checkout lives.
    let cap = format!("captures/{capture}");
    let mut args = vec![
        "audit",
        "-q",
        "--format",
        "json",
        "-r",
        &cap,
        "--topology",
        "captures/topology.toml",
    ];
    args.extend_from_slice(extra);
    let out = edgewise()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .expect("edgewise runs");
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{capture}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, code)
}

/// The verdict each generated flow was labelled with.
fn labelled(scenario: &str) -> Vec<(String, String, String)> {
    let cap = edgewise::generate::scenario(scenario).expect("scenario");
    cap.expected
        .iter()
        .filter_map(|e| {
            let v = e.label.strip_prefix("verdict:")?;
            Some((
                e.initiator.to_string(),
                e.responder.to_string(),
                v.to_string(),
            ))
        })
        .collect()
}

fn verdicts_of(json: &serde_json::Value) -> Vec<(String, String, String)> {
    json["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            let ep = |e: &serde_json::Value| {
                let ip: IpAddr = e["ip"].as_str().expect("ip").parse().expect("ip");
                std::net::SocketAddr::new(ip, e["port"].as_u64().expect("port") as u16).to_string()
            };
            (
                ep(&f["initiator"]),
                ep(&f["responder"]),
                f["verdict"].as_str().expect("verdict").to_string(),
            )
        })
        .collect()
}

#[test]
fn generated_scenarios_get_the_verdicts_they_were_built_for() {
    for scenario in ["audit-violations", "internal-hairpin", "federation-failing"] {
        let (json, code) = audit_json(&format!("{scenario}.pcapng"), &[]);
        let got = verdicts_of(&json);
        for (init, resp, want) in labelled(scenario) {
            let found = got
                .iter()
                .find(|(i, r, _)| (i == &init && r == &resp) || (i == &resp && r == &init))
                .unwrap_or_else(|| panic!("{scenario}: no flow {init} -> {resp}"));
            assert_eq!(found.2, want, "{scenario}: {init} -> {resp}");
        }
        // The default --fail-on counts error findings beside violations: the federation
        // that fails with every flow permitted fails the audit too.
        let violations = json["audit"]["violations"].as_u64().expect("violations");
        let errors = json["headline"]["errors"]
            .as_u64()
            .expect("headline errors");
        assert_eq!(
            code,
            if violations > 0 || errors > 0 { 1 } else { 0 },
            "{scenario}: exit status"
        );
        let answer = json["headline"]["answer"].as_str().expect("answer");
        assert_eq!(answer == "fail", code == 1, "{scenario}: {answer}");
    }
}

#[test]
fn a_compliant_site_with_failing_federation_fails_only_on_its_findings() {
    let (json, code) = audit_json("audit-compliant.pcapng", &[]);
    assert_eq!(
        json["audit"]["violations"], 0,
        "{:#}",
        json["audit"]["by_verdict"]
    );
    // Every flow is documented, but the capture keeps the failed federation attempts: the
    // default fails on their error findings, `--fail-on violation` looks at the matrix only.
    assert_eq!(code, 1);
    assert_eq!(json["headline"]["answer"], "fail");
    let failing: Vec<&str> = json["headline"]["failing_findings"]
        .as_array()
        .expect("failing_findings")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(failing.iter().any(|f| f.starts_with("F1 ")), "{failing:?}");
    let (_, code) = audit_json("audit-compliant.pcapng", &["--fail-on", "violation"]);
    assert_eq!(code, 0);
    // Documented flows that never appeared are listed, and the exercised ones are not.
    let never: Vec<&str> = json["never_exercised"]
        .as_array()
        .expect("never_exercised")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(!never.is_empty());
    let hits = json["audit"]["coverage"]["hits"].as_object().expect("hits");
    assert!(hits.values().filter(|n| n.as_u64() > Some(0)).count() >= 8);
    for id in never {
        assert_eq!(hits[id], 0, "{id}");
    }
}

#[test]
fn fail_on_never_and_partial_reads_set_the_exit_status() {
    let (_, code) = audit_json("audit-violations.pcapng", &["--fail-on", "never"]);
    assert_eq!(code, 0);
    let (_, code) = audit_json("audit-violations.pcapng", &["--fail-on", "hairpin"]);
    assert_eq!(code, 1);
}

#[test]
fn without_a_topology_the_inferred_site_is_said() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cap = root.join("captures/audit-compliant.pcapng");
    let out = run(&["audit", "-q", "-r", cap.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no --topology given: using the site inferred from the capture")
            && err.contains("172.25.33.10")
            && !err.contains("bundled sample"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not checked: no --topology given: the site was inferred from the capture")
            && text.contains("<inferred from"),
        "{text}"
    );
}

#[test]
fn without_a_topology_and_without_an_edge_the_assumption_is_said() {
    // tcp-states.pcapng has TLS on 443 and nothing an Edge alone carries: nothing to infer
    // from, so the bundled sample stands in, as before.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cap = root.join("captures/tcp-states.pcapng");
    let out = run(&["audit", "-q", "-r", cap.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no site could be inferred from the input")
            && err.contains("assuming the bundled sample topology"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("assumed: no --topology given"), "{text}");
}

#[test]
fn a_bad_topology_stops_with_file_line_and_fix() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("site.toml");
    std::fs::write(&bad, SAMPLE.replace("\"10.45.16.20\"", "\"10.45.16.300\"")).expect("write");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cap = root.join("captures/audit-compliant.pcapng");
    let out = run(&[
        "audit",
        "-q",
        "-r",
        cap.to_str().expect("utf-8"),
        "--topology",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("site.toml:")
            && err.contains("10.45.16.300")
            && err.contains("not an IP address"),
        "{err}"
    );
}

#[test]
fn the_example_topology_is_accepted_exactly_as_written() {
    let Some(shared) = shared() else { return };
    let t = Topology::load(&shared.join("topology-example.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.name, "contoso");
    assert_eq!(t.edges.len(), 1);
}

#[test]
fn matrix_command_fills_in_the_site() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let topo = root.join("captures/topology.toml");
    let out = run(&[
        "matrix",
        "--topology",
        topo.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules = rules.as_array().expect("array");
    let access = rules
        .iter()
        .find(|r| r["protocol"] == "SIP/TLS" && r["destination_port"] == "443")
        .expect("the Access Edge client rule");
    assert!(
        access["destination"].to_string().contains("10.45.16.10"),
        "{access}"
    );
    let text = String::from_utf8_lossy(
        &run(&["matrix", "--topology", topo.to_str().expect("utf-8")]).stdout,
    )
    .into_owned();
    assert!(
        text.contains("172.25.33.10") && text.contains("192.168.10.90"),
        "{text}"
    );
    let csv = run(&[
        "matrix",
        "--topology",
        topo.to_str().expect("utf-8"),
        "--format",
        "csv",
    ]);
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("id,interface,protocol"));
}

#[test]
fn snapshot_of_the_violations_audit() {
    let (json, _) = audit_json("audit-violations.pcapng", &[]);
    let rows: Vec<serde_json::Value> = json["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            serde_json::json!({
                "initiator": f["initiator"], "responder": f["responder"], "transport": f["transport"],
                "edge_interface": f["edge_interface"], "edge_service": f["edge_service"], "direction": f["direction"],
                "documented": f["documented"], "verdict": f["verdict"], "rules": f["rules"], "reason": f["reason"],
            })
        })
        .collect();
    insta::assert_json_snapshot!("audit_violations", rows);
}

/// JSON Lines carries the same flows, findings and calls as the JSON document, one record a
/// line, with the summary last.
#[test]
fn audit_json_lines_match_the_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |format: &str| {
        edgewise()
            .current_dir(root)
            .args([
                "audit",
                "-q",
                "--format",
                format,
                "-r",
                "captures/edge-sample.pcapng",
            ])
            .args(["--topology", "captures/topology.toml"])
            .output()
            .expect("runs")
    };
    let doc: serde_json::Value = serde_json::from_slice(&run("json").stdout).expect("json");
    let lines = run("jsonl");
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&lines.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let count = |kind: &str| records.iter().filter(|r| r["type"] == kind).count();
    let len = |key: &str| doc[key].as_array().map_or(0, Vec::len);
    assert_eq!(count("flow"), len("flows"));
    assert_eq!(count("finding"), len("findings"));
    assert_eq!(count("call"), len("calls"));
    assert_eq!(
        records.last().map(|r| r["type"].clone()),
        Some("summary".into())
    );
    let summary = records.last().expect("summary");
    assert_eq!(summary["audit"]["violations"], doc["audit"]["violations"]);
    // Same exit status as the document: violations in the sample.
    assert_eq!(lines.status.code(), run("json").status.code());
    let mut verdicts: Vec<String> = records
        .iter()
        .filter(|r| r["type"] == "flow")
        .map(|r| format!("{} {}", r["id"], r["verdict"]))
        .collect();
    let mut doc_verdicts: Vec<String> = doc["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|r| format!("{} {}", r["id"], r["verdict"]))
        .collect();
    verdicts.sort();
    doc_verdicts.sort();
    assert_eq!(verdicts, doc_verdicts);
}
