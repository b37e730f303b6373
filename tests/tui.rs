//! The terminal UI: every view rendered into a `TestBackend` from the bundled violations
//! capture and snapshotted at 80x24 and 160x48; key sequences drive the state; and one run of
//! the real binary in a pseudo-terminal under tmux.

use std::path::Path;
use std::process::Command;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use edgewise::analysis::{self, NoProgress};
use edgewise::flow::FlowConfig;
use edgewise::judge::Verdict;
use edgewise::matrix::Matrix;
use edgewise::source::input::InputSpec;
use edgewise::topology::Topology;
use edgewise::tui::{ui, App, FindingView, Loading, Model, Severity, View};

use crate::util::strict;

/// The bundled violations capture audited for the bundled topology. Paths are relative (tests
/// run in the package directory) so that the snapshots do not depend on the checkout's place.
fn model() -> Model {
    let topology = Topology::load(Path::new("captures/topology.toml")).expect("topology");
    let matrix = Matrix::builtin().expect("matrix");
    let inputs = [InputSpec::File("captures/audit-violations.pcapng".into())];
    let analysis = analysis::analyze(&inputs, FlowConfig::default(), &NoProgress);
    let audit = edgewise::audit::audit(&analysis, &topology, matrix, false);
    // The audit's own findings and evidence, as `edgewise tui` shows them.
    Model::from_audit(analysis, audit, matrix)
}

fn app() -> App {
    App::new(model())
}

/// Index of the first flow with this verdict.
fn flow_with(app: &App, v: Verdict) -> usize {
    app.model
        .audit
        .judgements
        .iter()
        .position(|j| j.verdict == v)
        .expect("a flow with the verdict")
}

fn findings(app: &App) -> Vec<FindingView> {
    let wrong_source = flow_with(app, Verdict::WrongSource);
    let hairpin = flow_with(app, Verdict::InternalHairpin);
    vec![
        FindingView {
            id: "hairpin".into(),
            severity: Severity::Warning,
            title: "internal client reaches the Edge's external address".into(),
            explanation: "192.168.20.56 sent STUN to the A/V Edge's external address.".into(),
            fix: "Point internal clients at the Edge's internal interface.".into(),
            flow_indexes: vec![hairpin],
        },
        FindingView {
            id: "sip-source".into(),
            severity: Severity::Error,
            title: "SIP to the internal interface from a host that is not a Front End".into(),
            explanation: "Only Front End servers and Directors may open SIP/MTLS 5061.".into(),
            fix: "Route the client through its Front End pool.".into(),
            flow_indexes: vec![wrong_source],
        },
    ]
}

fn key(app: &mut App, code: KeyCode) {
    let k = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(a) = app.action_for(k) {
        app.apply(a);
    }
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| ui::render(f, app)).expect("draw");
    t
}

/// Snapshots a state at both sizes.
fn snap_both(name: &str, app: &App) {
    for (w, h) in [(80, 24), (160, 48)] {
        let t = screen(app, w, h);
        insta::assert_snapshot!(format!("tui_{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn every_view_renders() {
    let mut app = app();
    snap_both("overview", &app);
    for (k, name) in [
        ('2', "flows"),
        ('3', "findings_empty"),
        ('4', "matrix"),
        ('5', "calls"),
        ('6', "map"),
    ] {
        keys(&mut app, &k.to_string());
        snap_both(name, &app);
    }
    keys(&mut app, "?");
    assert!(app.help);
    snap_both("help", &app);
    keys(&mut app, "x");
    assert!(!app.help, "any key closes the help");
}

#[test]
fn tab_cycles_views_and_q_quits() {
    let mut app = app();
    for v in [
        View::Flows,
        View::Findings,
        View::Matrix,
        View::Calls,
        View::Map,
        View::Overview,
    ] {
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.view, v);
    }
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, View::Map);
    keys(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn sort_by_bytes() {
    let mut app = app();
    keys(&mut app, "2");
    // The default order is the verdict, violations first; `s` steps through the columns.
    while app.flows.sort != edgewise::tui::app::Column::Bytes {
        keys(&mut app, "s");
    }
    let bytes: Vec<u64> = app
        .flows
        .rows
        .iter()
        .map(|&i| app.model.analysis.flows[i].wire_bytes())
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
    snap_both("flows_by_bytes", &app);
    keys(&mut app, "r");
    let first = app.flows.rows[0];
    assert_eq!(
        app.model.analysis.flows[first].wire_bytes(),
        *bytes.last().expect("flows")
    );
}

#[test]
fn filter_5061_then_detail() {
    let mut app = app();
    keys(&mut app, "/5061");
    assert_eq!(app.view, View::Flows);
    assert!(app.flows.editing);
    key(&mut app, KeyCode::Enter);
    assert!(!app.flows.editing);
    assert!(!app.flows.rows.is_empty());
    for &i in &app.flows.rows {
        let f = &app.model.analysis.flows[i];
        assert!(
            f.initiator.port == 5061 || f.responder.port == 5061,
            "{f:?} does not match 5061"
        );
    }
    snap_both("flows_filter_5061", &app);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.flows.detail, Some(app.flows.rows[0]));
    snap_both("flow_detail", &app);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.flows.detail, None);
    key(&mut app, KeyCode::Esc);
    assert!(app.flows.filter.is_empty());
    assert_eq!(app.flows.rows.len(), app.model.analysis.flows.len());
}

#[test]
fn filter_box_takes_a_display_filter_expression() {
    let mut app = app();
    keys(&mut app, "/verdict != permitted and port == 5061");
    key(&mut app, KeyCode::Enter);
    let want: Vec<usize> = (0..app.model.analysis.flows.len())
        .filter(|&i| {
            let f = &app.model.analysis.flows[i];
            let j = &app.model.audit.judgements[i];
            j.verdict != Verdict::Permitted
                && (f.initiator.port == 5061 || f.responder.port == 5061)
        })
        .collect();
    assert!(!want.is_empty());
    let mut rows = app.flows.rows.clone();
    rows.sort_unstable();
    assert_eq!(rows, want);
    // Not an expression: the words are matched as before.
    key(&mut app, KeyCode::Esc);
    keys(&mut app, "/port ==");
    assert!(app.flows.rows.is_empty());
}

#[test]
fn filter_by_verdict_and_interface() {
    let mut app = app();
    keys(&mut app, "/wrong-source internal");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.flows.rows.len(), 2);
    key(&mut app, KeyCode::Esc);
    keys(&mut app, "/udp");
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.flows.rows.len(), app.model.analysis.flows.len());
    key(&mut app, KeyCode::Esc);
    assert!(!app.flows.editing);
}

#[test]
fn finding_jumps_to_its_flow() {
    let plain = app();
    let fs = findings(&plain);
    let target = fs[1].flow_indexes[0];
    let mut app = App::new(model().with_findings(fs));
    // Most serious first.
    assert_eq!(app.model.findings[0].id, "sip-source");
    snap_both("overview_with_findings", &app);
    keys(&mut app, "3");
    snap_both("findings", &app);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Flows);
    assert_eq!(app.flows.rows, vec![target]);
    assert_eq!(app.flows.detail, Some(target));
    snap_both("finding_flow_detail", &app);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.flows.detail, None);
    assert!(app.flows.pinned.is_some());
    key(&mut app, KeyCode::Esc);
    assert!(app.flows.pinned.is_none());
    assert_eq!(app.flows.rows.len(), app.model.analysis.flows.len());
}

#[test]
fn selection_and_scroll_stay_in_bounds() {
    // Without findings, so that the findings view has nothing to select.
    let mut app = App::new(model().with_findings(Vec::new()));
    keys(&mut app, "2");
    key(&mut app, KeyCode::End);
    assert_eq!(app.flows.selected, app.flows.rows.len() - 1);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.flows.selected, app.flows.rows.len() - 1);
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.flows.selected, 0);
    keys(&mut app, "4G");
    assert_eq!(app.matrix_selected, app.rules.len() - 1);
    snap_both("matrix_last", &app);
    // Nothing to select in an empty findings list.
    keys(&mut app, "3");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Findings);
    // Tiny terminals do not panic.
    for v in ["1", "2", "3", "4", "5", "6", "?"] {
        keys(&mut app, v);
        screen(&app, 20, 5);
        screen(&app, 1, 1);
    }
}

/// The map of the Edge: the site's services and addresses in boxes, the violations red; an
/// arrow selected lists its flows, and Esc comes back to every flow.
#[test]
fn map_arrow_lists_its_flows() {
    use edgewise::report::map::Status;
    let mut app = app();
    keys(&mut app, "6");
    assert_eq!(app.view, View::Map);
    let map = &app.model.map;
    // Every undocumented arrow of the violations capture, and the one violating documented
    // arrow (TLS where the A/V Edge's TCP 443 documents STUN/MSTURN).
    let target = map
        .arrows
        .iter()
        .position(|a| a.status() == Status::Violating)
        .expect("a violating arrow");
    let flows = map.arrows[target].flows.clone();
    assert!(!flows.is_empty());
    while app.map_selected < target {
        key(&mut app, KeyCode::Down);
    }
    snap_both("map_violating_selected", &app);
    let t = screen(&app, 160, 48);
    let text = format!("{:?}", t.backend());
    for want in [
        "Access Edge",
        "10.45.16.10",
        "public 131.107.155.10",
        "172.25.33.10",
    ] {
        assert!(text.contains(want), "{want} not on the map");
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Flows);
    let mut rows = app.flows.rows.clone();
    rows.sort_unstable();
    assert_eq!(rows, flows);
    assert!(app
        .flows
        .pinned
        .as_ref()
        .is_some_and(|(what, _)| what.starts_with("map: ")));
    key(&mut app, KeyCode::Esc);
    if app.flows.pinned.is_some() {
        key(&mut app, KeyCode::Esc);
    }
    assert!(app.flows.pinned.is_none());
    // An arrow never seen has no flows to list: Enter stays on the map.
    keys(&mut app, "6");
    let unseen = app
        .model
        .map
        .arrows
        .iter()
        .position(|a| a.status() == Status::Unseen)
        .expect("an unseen arrow");
    key(&mut app, KeyCode::Home);
    while app.map_selected < unseen {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Map);
}

#[test]
fn loading_gauge() {
    let loading = Loading {
        names: vec!["captures/big.pcapng".into()],
        read: 42_000_000,
        total: Some(180_000_000),
    };
    let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test terminal");
    t.draw(|f| ui::render_loading(f, &loading)).expect("draw");
    insta::assert_snapshot!("tui_loading_80x24", t.backend());
}

/// The real binary in a pseudo-terminal: the overview appears, `q` ends the session cleanly.
#[test]
fn binary_in_tmux() {
    let have_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tmux {
        if strict() {
            panic!("tmux is not installed and EDGEWISE_REQUIRE_ORACLES is set");
        }
        eprintln!("note: tmux not installed; skipping the terminal UI end-to-end test");
        return;
    }
    let socket = format!("edgewise-test-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux runs")
    };
    /// Kills the tmux server of this socket however the test ends.
    struct Cleanup<'a>(&'a dyn Fn(&[&str]) -> std::process::Output);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["kill-server"]);
        }
    }
    let _cleanup = Cleanup(&tmux);
    let bin = env!("CARGO_BIN_EXE_edgewise");
    // The shell prints a marker and stays when the binary returns, so a clean exit is visible.
    let cmd = format!(
        "{bin} tui -r captures/edge-sample.pcapng --topology captures/topology.toml; \
         echo EDGEWISE-EXIT=$?; sleep 30"
    );
    let out = tmux(&[
        "new-session",
        "-d",
        "-x",
        "100",
        "-y",
        "30",
        "-c",
        env!("CARGO_MANIFEST_DIR"),
        &cmd,
    ]);
    assert!(out.status.success(), "{out:?}");
    let pane = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
    let wait_for = |needle: &str| -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = pane();
            if text.contains(needle) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let text = wait_for("Packet accounting");
    assert!(text.contains("1 Overview"), "{text}");
    assert!(text.contains("contoso"), "{text}");
    assert!(text.contains("Verdicts"), "{text}");
    assert!(text.contains("Packet accounting"), "{text}");
    let out = tmux(&["send-keys", "q"]);
    assert!(out.status.success(), "{out:?}");
    let text = wait_for("EDGEWISE-EXIT=");
    assert!(text.contains("EDGEWISE-EXIT=0"), "{text}");
    assert!(
        !text.contains("Verdicts"),
        "the alternate screen was not left:\n{text}"
    );
}

/// Without a terminal (a pipe, cron, ssh without -t) the UI says what it needs and what to run
/// instead, and exits 2 before reading anything.
#[test]
fn without_a_terminal_it_says_so_and_names_the_report_to_run_instead() {
    // Output captured: standard output is a pipe, as under cron or in a script.
    let out = crate::util::run(&["tui", "-r", "captures/edge-sample.pcapng"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the terminal UI needs a terminal: standard output is not a terminal"),
        "{err}"
    );
    assert!(err.contains("edgewise audit -r FILE"), "{err}");
    assert!(!err.contains("os error 6"), "{err}");
}

/// The Calls view selects a call (↑↓, g/G) and Enter lists its legs in the flow table; at
/// 80x24 the selected call stays on screen when the list is longer than the screen.
#[test]
fn calls_view_selects_a_call_and_enter_lists_its_legs() {
    let topology = Topology::load(Path::new("captures/topology.toml")).expect("topology");
    let matrix = Matrix::builtin().expect("matrix");
    let inputs = [InputSpec::File("captures/edge-sample.pcapng".into())];
    let analysis = analysis::analyze(&inputs, FlowConfig::default(), &NoProgress);
    let audit = edgewise::audit::audit(&analysis, &topology, matrix, false);
    let mut app = App::new(Model::from_audit(analysis, audit, matrix));
    let calls = app.model.audit.diagnosis.calls.clone();
    assert_eq!(calls.len(), 5, "the sample's calls");
    keys(&mut app, "5");
    assert_eq!(app.view, View::Calls);
    keys(&mut app, "G");
    assert_eq!(app.call_selected, 4);
    let last = &calls[4];
    let text = screen_text(&app, 80, 24);
    assert!(
        text.contains(&format!("▶ call {}", last.id)),
        "the last call is selected and on screen:\n{text}"
    );
    keys(&mut app, "gj");
    assert_eq!(app.call_selected, 1);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Flows);
    let (what, idx) = app.flows.pinned.clone().expect("pinned legs");
    assert_eq!(what, format!("call {} legs", calls[1].id));
    let legs: Vec<usize> = calls[1].legs.iter().map(|l| l.flow).collect();
    assert_eq!(idx, legs);
}

fn screen_text(app: &App, w: u16, h: u16) -> String {
    let t = screen(app, w, h);
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
