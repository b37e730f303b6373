//! `audit --format html`: the page of every bundled capture is self-contained and names what the
//! audit found; rendered in a real browser (Debian's `chromium`, headless) its script runs
//! without an error, its map shows the site's addresses and the violating arrows in red, its
//! findings are listed, and a screenshot of each is kept under the target directory
//! (`target/tmp/html-report/`) to look at. Strings from a capture or a topology cannot inject
//! markup: a hostile TLS SNI and partner domain are shown as text.
//!
//! Without chromium the browser test prints a note and passes, unless
//! EDGEWISE_REQUIRE_ORACLES (as `.ci/run` sets) or CI is set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use edgewise::analysis::{self, NoProgress};
use edgewise::flow::FlowConfig;
use edgewise::generate::packets::{sa, EDGE_EXT_MAC, EXT_GW_MAC, LINKTYPE_ETHERNET};
use edgewise::generate::proto::client_hello;
use edgewise::generate::{self, Dir, Link, PcapNgOptions, Sim, TcpConv};
use edgewise::matrix::Matrix;
use edgewise::source::input::InputSpec;
use edgewise::topology::{Topology, SAMPLE};

use crate::util::{run, strict};

/// Where the pages and screenshots are kept.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).expect("artefact directory");
    dir
}

fn bundled_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("captures")
        .expect("captures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
        .collect();
    v.sort();
    assert!(v.len() >= 9, "{v:?}");
    v
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The HTML and JSON audits of a capture for the bundled topology.
fn reports(capture: &Path) -> (PathBuf, String, serde_json::Value) {
    let page = artefacts().join(format!("{}.html", stem(capture)));
    let c = capture.to_str().expect("utf-8 path");
    let common = [
        "audit",
        "-q",
        "-r",
        c,
        "--topology",
        "captures/topology.toml",
    ];
    let out = run(&[
        &common[..],
        &["--format", "html", "-o", page.to_str().expect("utf-8")],
    ]
    .concat());
    // 0 or 1 (the audit failed); anything else is an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{c}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("page written");
    let json = run(&[&common[..], &["--format", "json"]].concat());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON audit");
    (page, html, json)
}

/// The finding ids of a JSON audit.
fn finding_ids(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_bundled_capture_gets_a_self_contained_page() {
    for capture in bundled_captures() {
        let (_, html, json) = reports(&capture);
        let name = capture.display();
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        // Nothing fetched: no external script, style sheet, image, font or frame. (The SVG
        // namespace is a name, not a fetch.)
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for banned in [
            "src=", "<link", "@import", "url(http", "http://", "https://", "<iframe",
        ] {
            assert!(!without_ns.contains(banned), "{name}: {banned}");
        }
        // One script, our own.
        assert_eq!(html.matches("<script").count(), 1, "{name}");
        assert!(html.contains(r#"<svg id="edge-map""#), "{name}");
        let answer = json["headline"]["answer"].as_str().expect("answer");
        assert!(
            html.contains(&format!("<title>{}:", answer.to_uppercase())),
            "{name}: {answer}"
        );
        for id in finding_ids(&json) {
            assert!(
                html.contains(&format!("id=\"finding-{id}\"")),
                "{name}: {id}"
            );
        }
        let violations = json["headline"]["violations_total"].as_u64().unwrap_or(0);
        assert_eq!(
            violations > 0,
            red_arrows(&html) > 0,
            "{name}: {violations} violations and the red arrows"
        );
    }
}

/// Arrows of a map drawn as violations: their group's class, and red.
fn red_arrows(map: &str) -> usize {
    map.split("<g class=\"arrow ")
        .skip(1)
        .filter(|g| g.starts_with("violating") || g.starts_with("undocumented"))
        .filter(|g| {
            g.split("</g>")
                .next()
                .is_some_and(|g| g.contains(r##"stroke="#c62828""##))
        })
        .count()
}

/// The browser: `chromium` or `chromium-browser` on PATH; `None` (with a note) when neither
/// is, and a failure then under EDGEWISE_REQUIRE_ORACLES or CI.
fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        let ok = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(name);
        }
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if strict() || ci {
        panic!("chromium is not installed (apt-get install chromium) and EDGEWISE_REQUIRE_ORACLES or CI is set");
    }
    eprintln!("note: chromium not installed; skipping the browser test of the HTML report");
    None
}

/// Runs headless chromium on a page with `args`; its standard output and error. A browser
/// that hangs is killed after a minute.
fn headless(browser: &str, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().expect("profile directory");
    let url = format!("file://{}", page.canonicalize().expect("page").display());
    let dir = tempfile::tempdir().expect("output directory");
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url)
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish on {url} within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(out_path).unwrap_or_default(),
        std::fs::read_to_string(err_path).unwrap_or_default(),
    )
}

/// A page's DOM as the browser built it, after its script ran, with what the console said.
fn dom(browser: &str, page: &Path) -> String {
    let (dom, log) = headless(browser, page, &["--dump-dom"]);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "{}: the console said:\n{}",
        page.display(),
        console.join("\n")
    );
    assert!(
        dom.contains(r#"data-ready="1""#),
        "{}: the page's script did not run to its end",
        page.display()
    );
    dom
}

fn screenshot(browser: &str, page: &Path) -> PathBuf {
    let png = page.with_extension("png");
    let _ = std::fs::remove_file(&png);
    headless(
        browser,
        page,
        &[
            "--window-size=1500,2400",
            &format!("--screenshot={}", png.display()),
        ],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
    assert!(bytes.len() > 20_000, "{}: a blank page?", png.display());
    png
}

#[test]
fn every_bundled_capture_renders_in_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let site = Topology::load(Path::new("captures/topology.toml")).expect("topology");
    let e = &site.edges[0];
    let addresses = [
        e.access.ip.to_string(),
        e.access.public.expect("public").to_string(),
        e.av.ip.to_string(),
        e.internal[0].to_string(),
        "192.168.10.90".to_string(),
    ];
    for capture in bundled_captures() {
        let (page, _, json) = reports(&capture);
        let name = capture.display();
        let dom = dom(browser, &page);
        let map = dom
            .split(r#"<svg id="edge-map""#)
            .nth(1)
            .and_then(|s| s.split("</svg>").next())
            .unwrap_or_else(|| panic!("{name}: no map in the DOM"));
        for a in &addresses {
            assert!(map.contains(a.as_str()), "{name}: {a} not on the map");
        }
        assert!(map.contains("Edge pool: edge1"), "{name}");
        let violations = json["headline"]["violations_total"].as_u64().unwrap_or(0);
        if violations > 0 {
            assert!(
                red_arrows(map) > 0,
                "{name}: {violations} violations, no red arrow"
            );
        }
        for id in finding_ids(&json) {
            assert!(
                dom.contains(&format!("id=\"finding-{id}\"")),
                "{name}: finding {id} not listed"
            );
        }
        let png = screenshot(browser, &page);
        eprintln!("{name}: {}", png.display());
    }
}

/// A capture with one TLS flow whose SNI is markup, to the A/V Edge's 443 (a protocol
/// mismatch, so the SNI is quoted in the violations and the flow table), audited for a
/// topology whose partner domain and site name are markup too.
fn hostile_page() -> String {
    const SNI: &str = r#""><script>alert(1)</script><img src=x onerror=alert(2)>"#;
    let mut sim = Sim::new(11);
    let ext = sim.add_interface(
        "ext",
        LINKTYPE_ETHERNET,
        262_144,
        Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
    );
    let mut c = TcpConv::new(
        &mut sim,
        ext,
        sa("203.0.113.25:51234"),
        sa("10.45.16.30:443"),
        40.0,
    );
    c.handshake(&mut sim);
    let random = sim.rng.array32();
    c.data(&mut sim, Dir::Orig, &client_hello(SNI, &random, &[]));
    c.close(&mut sim, Dir::Orig);
    c.finish(&mut sim, "SF", "x");
    let cap = sim.into_capture();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hostile.pcapng");
    let mut bytes = Vec::new();
    generate::write_pcapng(&mut bytes, &cap, &PcapNgOptions::default()).expect("pcapng");
    std::fs::write(&path, bytes).expect("write");
    let a = analysis::analyze(&[InputSpec::File(path)], FlowConfig::default(), &NoProgress);
    let site = SAMPLE
        .replace(r#"name = "contoso""#, r#"name = "<i>contoso</i>""#)
        .replace(
            r#"domain = "fabrikam.com""#,
            r#"domain = "fabrikam.com\"><svg onload=alert(3)>""#,
        );
    let topo = Topology::parse(&site, Path::new("site.toml")).expect("topology");
    let matrix = Matrix::builtin().expect("matrix");
    let audit = edgewise::audit::audit(&a, &topo, matrix, false);
    assert!(audit.violations > 0, "the hostile flow is a violation");
    edgewise::report::html::page(&a, &audit, matrix, None)
}

#[test]
fn strings_from_the_capture_cannot_inject_markup() {
    let html = hostile_page();
    std::fs::write(artefacts().join("hostile.html"), &html).expect("write");
    // Only our own script, no image, no handler, no injected SVG.
    assert_eq!(html.matches("<script").count(), 1);
    // (The handler's text is there, escaped, inside text: harmless without its element.)
    for injected in ["<img", "<svg onload", "<i>contoso"] {
        assert!(!html.contains(injected), "{injected} got through");
    }
    // The text is there, escaped.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert!(html.contains("fabrikam.com&quot;&gt;&lt;svg onload=alert(3)&gt;"));
    assert!(html.contains("&lt;i&gt;contoso&lt;/i&gt;"));
}

#[test]
fn hostile_strings_stay_text_in_chromium() {
    let Some(browser) = chromium() else {
        return;
    };
    let page = artefacts().join("hostile.html");
    std::fs::write(&page, hostile_page()).expect("write");
    let dom = dom(browser, &page);
    assert_eq!(dom.matches("<script").count(), 1, "one script element");
    assert!(!dom.contains("<img"), "an injected image element");
    assert!(!dom.contains("<svg onload"), "an injected SVG element");
    assert!(
        !dom.contains("<i>contoso"),
        "injected markup in the site name"
    );
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}
