//! `edgewise topology infer` and the inferred site an audit without --topology uses, through
//! the binary: every capture gives a topology that validates or a clear refusal; the Edge
//! sample's inferred site is the hand-written one in roles; audits against the inferred site
//! reach the hand-written site's verdicts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use edgewise::matrix::Role;
use edgewise::topology::Topology;

use crate::util::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn infer(capture: &Path) -> Output {
    edgewise()
        .current_dir(root())
        .args(["topology", "infer", "-q", "-r"])
        .arg(capture)
        .output()
        .expect("edgewise runs")
}

/// Checks one capture's `topology infer`: no panic; exit 0 or 3 with a topology that
/// validates, or exit 2 with a message naming the capture. Returns the topology text.
fn infer_checked(capture: &Path) -> Option<String> {
    let out = infer(capture);
    let code = out.status.code();
    let err = String::from_utf8_lossy(&out.stderr);
    let name = capture.display();
    assert!(
        !err.contains("panicked") && matches!(code, Some(0 | 2 | 3)),
        "{name}: exit {code:?}: {err}"
    );
    if code == Some(2) {
        let file = capture
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            err.starts_with("edgewise: ") && err.contains(&file),
            "{name}: exit 2 without a message naming the capture: {err}"
        );
        assert!(out.stdout.is_empty(), "{name}: exit 2 but wrote a topology");
        return None;
    }
    let text = String::from_utf8(out.stdout).expect("utf-8 topology");
    if let Err(e) = Topology::parse(&text, Path::new("inferred.toml")) {
        panic!("{name}: the inferred topology does not parse: {e}\n{text}");
    }
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("").trim();
        let inferred = code.contains(" = ") && !code.ends_with('[') && !code.starts_with('[');
        assert!(
            !inferred || line.contains('#'),
            "{name}: an inferred line without its comment: {line}"
        );
    }
    Some(text)
}

#[test]
fn every_bundled_capture_infers_a_valid_topology_or_says_why() {
    let mut written = 0;
    for cap in captures_in(&root().join("captures")) {
        if infer_checked(&cap).is_some() {
            written += 1;
        }
    }
    // edge-sample, audit-compliant, audit-violations, federation-failing, internal-hairpin,
    // broken, link-types and ip-edge-cases show an Edge; tcp-states shows only TLS on 443.
    assert!(written >= 8, "only {written} captures gave a topology");
}

#[test]
fn every_public_capture_infers_or_refuses_without_a_panic() {
    let Some(shared) = shared() else { return };
    let mut n = 0;
    for dir in ["pcaps/dpi", "pcaps/robust"] {
        let dir = shared.join(dir);
        if !dir.is_dir() {
            continue;
        }
        for cap in captures_in(&dir) {
            infer_checked(&cap);
            n += 1;
        }
    }
    assert!(n > 0, "no public capture found");
}

/// The roles of every address, as sets.
fn roles(t: &Topology) -> BTreeMap<IpAddr, BTreeSet<Role>> {
    t.roles
        .iter()
        .map(|(ip, r)| (*ip, r.iter().copied().collect()))
        .collect()
}

fn hand_written() -> Topology {
    Topology::load(&root().join("captures/topology.toml")).expect("the sample topology")
}

/// Every address a capture's flows show.
fn endpoints(capture: &Path) -> BTreeSet<IpAddr> {
    let (json, _) = flows_json(capture);
    let mut set = BTreeSet::new();
    for f in json["flows"].as_array().expect("flows") {
        for end in ["initiator", "responder"] {
            if let Some(ip) = f[end]["ip"].as_str().and_then(|s| s.parse().ok()) {
                set.insert(ip);
            }
        }
    }
    set
}

#[test]
fn the_edge_sample_infers_the_hand_written_site_in_roles() {
    let cap = root().join("captures/edge-sample.pcapng");
    let text = infer_checked(&cap).expect("the Edge sample shows an Edge");
    assert!(!text.contains("# placeholder:"), "{text}");
    let inferred = Topology::parse(&text, Path::new("inferred.toml")).expect("parses");
    let given = hand_written();
    let (ri, rg) = (roles(&inferred), roles(&given));
    // Every address inferred has the hand-written roles (131.107.155.30, the A/V Edge's public
    // address, comes from the TURN relayed address, not from a flow).
    for (ip, r) in &ri {
        assert_eq!(Some(r), rg.get(ip), "{ip}: inferred {r:?}\n{text}");
    }
    // Every hand-written address the capture shows is inferred with its roles. The others
    // cannot be: the Access and Web Conferencing public addresses, the second Front End, the
    // pool VIP, the reverse proxy and the partner's A/V Edge never appear in this capture.
    let seen = endpoints(&cap);
    for (ip, r) in rg.iter().filter(|(ip, _)| seen.contains(ip)) {
        assert_eq!(Some(r), ri.get(ip), "{ip}: hand-written {r:?}\n{text}");
    }
    assert_eq!(inferred.client_subnets, given.client_subnets, "{text}");
    assert_eq!(inferred.server_subnets, given.server_subnets, "{text}");
    let partners = |t: &Topology| -> Vec<(String, Vec<IpAddr>)> {
        t.partners
            .iter()
            .map(|p| (p.domain.clone(), p.access_edge.clone()))
            .collect()
    };
    assert_eq!(partners(&inferred), partners(&given), "{text}");
    assert_eq!(inferred.edges.len(), 1);
    assert_eq!(inferred.edges[0].name, "edge1");
    assert_eq!(
        inferred.edges[0].access.fqdn.as_deref(),
        Some("sip.contoso.com")
    );
    assert_eq!(inferred.sip_domains, vec!["contoso.com".to_string()]);
    // Each line says how sure.
    for key in ["internal = ", "access = ", "av = ", "front_end = "] {
        let line = text
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key}line\n{text}"));
        assert!(
            line.contains("; high") || line.contains("; medium") || line.contains("; low"),
            "{line}"
        );
    }
}

/// `audit --format json` of a bundled capture against a topology: verdict by flow.
fn verdicts(capture: &str, topology: &Path) -> (BTreeMap<String, String>, i32) {
    let out = edgewise()
        .current_dir(root())
        .args(["audit", "-q", "--format", "json", "-r"])
        .arg(format!("captures/{capture}"))
        .arg("--topology")
        .arg(topology)
        .output()
        .expect("edgewise runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{capture}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let mut v = BTreeMap::new();
    for f in json["flows"].as_array().expect("flows") {
        let end = |e: &serde_json::Value| format!("{}:{}", e["ip"], e["port"]);
        let key = format!(
            "{} {} -> {}",
            f["transport"],
            end(&f["initiator"]),
            end(&f["responder"])
        );
        v.insert(key, f["verdict"].as_str().unwrap_or("").to_string());
    }
    (v, out.status.code().unwrap_or(-1))
}

/// Writes a capture's inferred topology into `dir`.
fn inferred_file(capture: &str, dir: &Path) -> PathBuf {
    let path = dir.join(capture.replace(".pcapng", ".toml"));
    let out = edgewise()
        .current_dir(root())
        .args(["topology", "infer", "-q", "-r"])
        .arg(format!("captures/{capture}"))
        .arg("-o")
        .arg(&path)
        .output()
        .expect("edgewise runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{capture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

#[test]
fn audits_against_the_inferred_site_reach_the_hand_written_verdicts() {
    // Every flow of these captures gets the same verdict. Where the capture lacks evidence
    // the inferred site differs from the hand-written one without changing a verdict:
    // federation-failing shows no internal side (its internal interface, Web Conferencing and
    // A/V Edge are placeholders no flow touches); internal-hairpin shows the Access Edge only
    // by its public address 131.107.155.10, which is still the Access Edge; audit-violations
    // shows no Web Conferencing traffic.
    let dir = tempfile::tempdir().expect("dir");
    let given = root().join("captures/topology.toml");
    for capture in [
        "edge-sample.pcapng",
        "audit-violations.pcapng",
        "federation-failing.pcapng",
        "internal-hairpin.pcapng",
        "audit-compliant.pcapng",
    ] {
        let inferred = inferred_file(capture, dir.path());
        let (want, _) = verdicts(capture, &given);
        let (got, _) = verdicts(capture, &inferred);
        assert!(!want.is_empty(), "{capture}: no flows");
        assert_eq!(
            got,
            want,
            "{capture}: verdicts differ\n{}",
            std::fs::read_to_string(&inferred).unwrap_or_default()
        );
    }
}

#[test]
fn audit_without_a_topology_says_the_site_was_inferred() {
    let cap = "captures/edge-sample.pcapng";
    let out = edgewise()
        .current_dir(root())
        .args(["audit", "-q", "--format", "json", "-r", cap])
        .output()
        .expect("edgewise runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("using the site inferred from the capture")
            && err.contains("edgewise topology infer"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["audit"]["topology"]["origin"], "inferred");
    assert_eq!(json["audit"]["topology"]["assumed"], false);
    let unchecked = json["headline"]["unchecked"].to_string();
    assert!(
        unchecked.contains("the site was inferred from the capture"),
        "{unchecked}"
    );
    // The exit status is the inferred site's: the same as auditing with the file it writes.
    let dir = tempfile::tempdir().expect("dir");
    let file = inferred_file("edge-sample.pcapng", dir.path());
    let (_, with_file) = verdicts("edge-sample.pcapng", &file);
    assert_eq!(out.status.code(), Some(with_file));
    // The capture's one violation (an internal client on 5061) makes it 1.
    assert_eq!(with_file, 1);
    // Its verdicts are the inferred file's.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("wrong-source"), "{text}");
}

#[test]
fn a_capture_without_an_edge_is_refused_with_the_way_out() {
    let cap = root().join("captures/tcp-states.pcapng");
    let out = infer(&cap);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tcp-states.pcapng")
            && err.contains("nothing to infer")
            && err.contains("edgewise topology init"),
        "{err}"
    );
}

#[test]
fn the_written_file_is_not_overwritten_without_force_and_checks() {
    let dir = tempfile::tempdir().expect("dir");
    let path = inferred_file("edge-sample.pcapng", dir.path());
    let again = edgewise()
        .current_dir(root())
        .args([
            "topology",
            "infer",
            "-q",
            "-r",
            "captures/edge-sample.pcapng",
            "-o",
        ])
        .arg(&path)
        .output()
        .expect("edgewise runs");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = edgewise()
        .current_dir(root())
        .args([
            "topology",
            "infer",
            "-q",
            "--force",
            "-r",
            "captures/edge-sample.pcapng",
            "-o",
        ])
        .arg(&path)
        .output()
        .expect("edgewise runs");
    assert_eq!(forced.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&forced.stderr).contains("wrote "));
    let check = edgewise()
        .args(["topology", "check"])
        .arg(&path)
        .output()
        .expect("edgewise runs");
    assert_eq!(check.status.code(), Some(0));
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.contains("172.25.33.10") && said.contains("edge-internal"),
        "{said}"
    );
}

#[test]
fn a_busy_edge_keeps_its_partners_out_of_the_edge() {
    // A capture shaped like a busy Edge without interface names: the Access Edge's private
    // address opens federation to hundreds of partners, which must not be taken for internal
    // hosts hairpinning (nor the partners for Access Edges of our own).
    let dir = tempfile::tempdir().expect("dir");
    let cap = dir.path().join("busy.pcapng");
    let out = run(&[
        "generate",
        "busy",
        "--size-mb",
        "3",
        "-o",
        cap.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = infer_checked(&cap).expect("the busy Edge shows an Edge");
    let t = Topology::parse(&text, Path::new("busy.toml")).expect("parses");
    let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
    assert_eq!(t.edges[0].internal, vec![ip("172.25.33.10")], "{text}");
    assert_eq!(t.edges[0].access.ip, ip("10.45.16.10"), "{text}");
    assert_eq!(t.edges[0].av.ip, ip("10.45.16.30"), "{text}");
    let access: Vec<IpAddr> = t.edges.iter().map(|e| e.access.ip).collect();
    for p in t.partners.iter().flat_map(|p| &p.access_edge) {
        assert!(
            !access.contains(p),
            "partner {p} is also an Access Edge\n{text}"
        );
        assert!(!t.is_internal_host(*p), "partner {p} placed inside\n{text}");
    }
    assert!(t.partners.len() > 10, "{text}");
    assert!(
        text.contains("more federation partners, not listed"),
        "{text}"
    );
    assert!(
        t.roles_of(ip("192.168.10.90")).contains(&Role::Fe),
        "{text}"
    );
    assert_eq!(t.sip_domains, vec!["contoso.com".to_string()], "{text}");
}
