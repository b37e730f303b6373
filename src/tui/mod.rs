//! The interactive terminal UI: the same [`Analysis`] and [`Audit`] the text report prints,
//! browsed in six views (overview, flows, findings, matrix, calls, and the map of the Edge).
//!
//! The [`Model`] is the data and never changes once built; [`App`] holds only view state (tab,
//! selection, sort, filter, open detail, scroll). Keys become [`Action`]s in one place
//! ([`App::action_for`]) and actions change the state in one place ([`App::apply`]), so tests
//! drive the UI with key sequences and render it into a `TestBackend`, without a terminal.
//!
//! `edgewise tui` reads the captures on a background thread and draws a gauge of the bytes read
//! meanwhile ([`run_loading`]; the application layer supplies the reading); `edgewise audit --tui` reads them first with the usual progress bar on standard
//! error, then opens the UI on the finished audit.

pub mod app;
pub mod map_view;
pub mod ui;

use std::collections::BTreeMap;
use std::io::{self, Read, Stdout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::analysis::{Analysis, Progress};
use crate::audit::Audit;
use crate::matrix::Matrix;
use crate::source::input::DynRead;

pub use app::{Action, App, View};

/// How serious a finding is; findings are listed most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A diagnostic finding as the UI shows it. The diagnose stage fills these; the UI only needs
/// the words and the indexes of the evidence flows (into `Analysis::flows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingView {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub fix: String,
    pub flow_indexes: Vec<usize>,
}

/// One line of payload evidence about a flow (TLS SNI, certificate name, STUN method...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceView {
    pub label: String,
    pub value: String,
}

/// Everything the UI shows. Built once; the UI never changes it.
pub struct Model {
    pub analysis: Analysis,
    pub audit: Audit,
    pub matrix: &'static Matrix,
    /// Diagnostic findings; empty until the diagnose stage provides them.
    pub findings: Vec<FindingView>,
    /// Payload evidence by flow index; flows without an entry show none.
    pub evidence: BTreeMap<usize, Vec<EvidenceView>>,
    /// The map of the Edge, as the HTML report draws it.
    pub map: crate::report::map::EdgeMap,
}

impl Model {
    pub fn new(analysis: Analysis, audit: Audit, matrix: &'static Matrix) -> Model {
        let map = crate::report::map::EdgeMap::build(&analysis, &audit, matrix, None);
        Model {
            analysis,
            audit,
            matrix,
            findings: Vec::new(),
            evidence: BTreeMap::new(),
            map,
        }
    }

    /// Adds findings, kept most serious first (stable, so the producer's order breaks ties).
    pub fn with_findings(mut self, mut findings: Vec<FindingView>) -> Model {
        findings.sort_by_key(|f| f.severity);
        self.findings = findings;
        self
    }

    pub fn with_evidence(mut self, evidence: BTreeMap<usize, Vec<EvidenceView>>) -> Model {
        self.evidence = evidence;
        self
    }

    /// The model of a finished audit: its findings and each flow's payload evidence.
    pub fn from_audit(analysis: Analysis, audit: Audit, matrix: &'static Matrix) -> Model {
        let findings = audit
            .diagnosis
            .findings
            .iter()
            .map(|f| FindingView {
                id: f.id.to_string(),
                severity: match f.severity {
                    crate::diagnose::Severity::Error => Severity::Error,
                    crate::diagnose::Severity::Warning => Severity::Warning,
                    crate::diagnose::Severity::Info => Severity::Info,
                },
                title: f.title.clone(),
                explanation: format!(
                    "{} (confidence {:?}; {})",
                    f.explanation, f.confidence, f.citation
                ),
                fix: f.fix.clone(),
                flow_indexes: f.evidence.iter().map(|e| e.flow).collect(),
            })
            .collect();
        let evidence = analysis
            .identifications
            .iter()
            .enumerate()
            .filter(|(_, id)| {
                id.protocol != crate::identify::Protocol::Unknown
                    || id.evidence.first_bytes_hex.is_some()
            })
            .map(|(i, id)| (i, evidence_lines(id)))
            .collect();
        Model::new(analysis, audit, matrix)
            .with_findings(findings)
            .with_evidence(evidence)
    }
}

/// Evidence lines of an identification: protocol and confidence, the summary, then every field
/// the payload showed (flattened from its JSON form, so new evidence shows up unchanged).
fn evidence_lines(id: &crate::identify::Identification) -> Vec<EvidenceView> {
    let mut out = vec![
        EvidenceView {
            label: "protocol".into(),
            value: format!(
                "{} ({})",
                id.protocol.label(),
                format!("{:?}", id.confidence).to_lowercase()
            ),
        },
        EvidenceView {
            label: "summary".into(),
            value: id.summary.clone(),
        },
    ];
    fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<EvidenceView>) {
        if out.len() > 60 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&p, v, out);
                }
            }
            serde_json::Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
                let items: Vec<String> = a.iter().map(scalar).collect();
                if !items.is_empty() {
                    out.push(EvidenceView {
                        label: prefix.to_string(),
                        value: items.join(", "),
                    });
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate().take(8) {
                    flatten(&format!("{prefix}[{i}]"), v, out);
                }
            }
            serde_json::Value::Null => {}
            other => out.push(EvidenceView {
                label: prefix.to_string(),
                value: scalar(other),
            }),
        }
    }
    fn scalar(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    if let Ok(v) = serde_json::to_value(&id.evidence) {
        flatten("", &v, &mut out);
    }
    out
}

static PANIC_HOOK: Once = Once::new();

/// Leaves the alternate screen, raw mode and mouse capture. Safe to call more than once.
fn restore_terminal() -> io::Result<()> {
    let raw = disable_raw_mode();
    execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    )?;
    raw
}

/// A panic restores the terminal before the message is printed, or the message would be lost
/// in the alternate screen and the shell left in raw mode.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore_terminal();
            previous(info);
        }));
    });
}

/// Restores the terminal when dropped, so every return path (errors included) restores it.
struct Session {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Session {
    fn start() -> io::Result<Session> {
        use std::io::IsTerminal;
        if !io::stdout().is_terminal() {
            return Err(no_terminal("standard output is not a terminal"));
        }
        install_panic_hook();
        // Raw mode opens the controlling terminal: none under cron, ssh without -t or CI.
        enable_raw_mode().map_err(|e| no_terminal(&format!("no terminal to draw on ({e})")))?;
        let setup = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match setup {
            Ok(terminal) => Ok(Session { terminal }),
            Err(e) => {
                let _ = restore_terminal();
                Err(e)
            }
        }
    }
}

/// Why the UI cannot start, and what to run instead.
fn no_terminal(why: &str) -> io::Error {
    io::Error::other(format!(
        "the terminal UI needs a terminal: {why}. Run it in a terminal (ssh -t for a remote \
         one), or write the same audit as a report: edgewise audit -r FILE --format text|json|html"
    ))
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = restore_terminal();
    }
}

/// Handles one terminal event; returns whether the app asked to quit.
fn handle(app: &mut App, ev: Event) {
    let action = match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => app.action_for(k),
        Event::Mouse(m) => app::action_for_mouse(m),
        _ => None,
    };
    if let Some(a) = action {
        app.apply(a);
    }
}

fn event_loop(session: &mut Session, app: &mut App) -> io::Result<()> {
    while !app.quit {
        session.terminal.draw(|f| ui::render(f, app))?;
        handle(app, event::read()?);
    }
    Ok(())
}

/// Runs the UI on a finished model until the user quits; the terminal is restored on return,
/// on error and on panic.
pub fn run(model: Model, filter: Option<&str>) -> io::Result<()> {
    let mut session = Session::start()?;
    let mut app = App::new(model);
    if let Some(text) = filter {
        app.set_filter(text);
    }
    event_loop(&mut session, &mut app)
}

/// Bytes read so far, shared with the reading thread; `cancel` makes its reads fail so that a
/// quit during loading does not wait for the end of a large capture.
#[derive(Clone, Default)]
struct Counter {
    read: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
}

struct CountingReader {
    inner: DynRead,
    counter: Counter,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.counter.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.counter.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Progress for Counter {
    fn wrap(&self, r: DynRead) -> DynRead {
        Box::new(CountingReader {
            inner: r,
            counter: self.clone(),
        })
    }
}

/// What the loading screen shows.
pub struct Loading {
    pub names: Vec<String>,
    pub read: u64,
    /// Total size of the inputs, when known (not for standard input).
    pub total: Option<u64>,
}

/// Draws the loading gauge until `done`; true when the user asked to quit first.
fn draw_until_done(
    session: &mut Session,
    loading: &mut Loading,
    counter: &Counter,
    done: impl Fn() -> bool,
) -> io::Result<bool> {
    while !done() {
        loading.read = counter.read.load(Ordering::Relaxed);
        session.terminal.draw(|f| ui::render_loading(f, loading))?;
        if event::poll(Duration::from_millis(100))? {
            if let Event::Key(k) = event::read()? {
                if k.kind != KeyEventKind::Release && app::is_quit_key(k) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Opens the UI, runs `work` on a background thread while drawing the loading gauge over
/// `loading`, then browses the model it returns until the user quits. The work is given a
/// [`Progress`] that counts the bytes read and makes reads fail once the user quits, so a quit
/// during loading does not wait for the end of a large capture.
///
/// `Ok(Ok(()))`: the user quit, while loading or after browsing. `Ok(Err(e))`: the work failed;
/// the terminal is restored before this returns, so the caller can print why.
pub fn run_loading<E: Send>(
    mut loading: Loading,
    work: impl FnOnce(&dyn Progress) -> Result<Model, E> + Send,
) -> io::Result<Result<(), E>> {
    let mut session = Session::start()?;
    let counter = Counter::default();
    let loaded = std::thread::scope(|scope| {
        let worker = {
            let counter = counter.clone();
            scope.spawn(move || work(&counter))
        };
        let quit = draw_until_done(&mut session, &mut loading, &counter, || {
            worker.is_finished()
        });
        if !matches!(quit, Ok(false)) {
            // Quit or a terminal error: make the reads fail so the join below is quick.
            counter.cancel.store(true, Ordering::Relaxed);
        }
        let joined = worker.join();
        match (quit?, joined) {
            (true, _) => Ok(None),
            (false, Ok(r)) => Ok(Some(r)),
            (false, Err(_)) => Err(io::Error::other("the capture reader failed")),
        }
    });
    match loaded? {
        None => Ok(Ok(())),
        Some(Err(e)) => {
            drop(session);
            Ok(Err(e))
        }
        Some(Ok(model)) => {
            let mut app = App::new(model);
            event_loop(&mut session, &mut app)?;
            Ok(Ok(()))
        }
    }
}
