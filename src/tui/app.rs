//! View state, the actions that change it, and the key bindings (all in [`App::action_for`]).

use std::cmp::Ordering;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};

use super::Model;
use crate::flow::Flow;
use crate::judge::{interface_label, Judgement};
use crate::net::transport_name;
use crate::select::Filter;

/// The views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Flows,
    Findings,
    Matrix,
    Calls,
    Map,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Overview,
        View::Flows,
        View::Findings,
        View::Matrix,
        View::Calls,
        View::Map,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Flows => "Flows",
            View::Findings => "Findings",
            View::Matrix => "Matrix",
            View::Calls => "Calls",
            View::Map => "Map",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// Columns of the flow table; every one sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Initiator,
    Responder,
    Transport,
    Protocol,
    Interface,
    Packets,
    Bytes,
    Duration,
    State,
    Verdict,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Initiator,
        Column::Responder,
        Column::Transport,
        Column::Protocol,
        Column::Interface,
        Column::Packets,
        Column::Bytes,
        Column::Duration,
        Column::State,
        Column::Verdict,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Initiator => "initiator",
            Column::Responder => "responder",
            Column::Transport => "tx",
            Column::Protocol => "protocol",
            Column::Interface => "interface/service",
            Column::Packets => "pkts",
            Column::Bytes => "bytes",
            Column::Duration => "dur s",
            Column::State => "state",
            Column::Verdict => "verdict",
        }
    }

    /// Numbers read best largest first; words alphabetically.
    fn descending_by_default(self) -> bool {
        matches!(
            self,
            Column::Packets | Column::Bytes | Column::Duration | Column::Verdict
        )
    }

    fn index(self) -> usize {
        Column::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// Everything a key or the mouse can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    NextView,
    PrevView,
    Show(View),
    ToggleHelp,
    /// Start typing a flow filter (switches to the flow table).
    StartFilter,
    FilterPush(char),
    FilterPop,
    /// Stop typing, keep the filter.
    FilterDone,
    /// Stop typing and clear the filter.
    FilterClear,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: open a flow's detail, or jump to a finding's or a map arrow's flows.
    Open,
    /// Esc: close the help, the detail, or the finding's flow selection.
    Back,
    SortNext,
    SortPrev,
    SortReverse,
}

/// Rows moved by PageUp / PageDown.
pub const PAGE: usize = 10;

/// The flow table's state.
#[derive(Debug, Clone)]
pub struct FlowTable {
    pub sort: Column,
    pub descending: bool,
    pub filter: String,
    pub editing: bool,
    /// Flows restricted to a finding's evidence or a map arrow's flows: (what they are, in
    /// words, flow indexes).
    pub pinned: Option<(String, Vec<usize>)>,
    /// Flow indexes shown, in order (recomputed on sort and filter changes).
    pub rows: Vec<usize>,
    /// Position in `rows`.
    pub selected: usize,
    /// The flow whose detail is open (an index into the analysis' flows).
    pub detail: Option<usize>,
    pub detail_scroll: u16,
}

/// The whole UI: the model and the view state.
pub struct App {
    pub model: Model,
    pub view: View,
    pub help: bool,
    pub quit: bool,
    pub flows: FlowTable,
    pub overview_scroll: u16,
    pub finding_selected: usize,
    pub finding_scroll: u16,
    pub matrix_selected: usize,
    /// Applicable rules in the matrix' data order (the keys of the audit's coverage).
    pub rules: Vec<usize>,
    /// The arrow selected on the map (an index into the map's arrows, in lane order).
    pub map_selected: usize,
    /// The call selected in the Calls view (an index into the diagnosis' calls).
    pub call_selected: usize,
}

/// Ctrl-C quits from anywhere, even while typing a filter.
pub fn is_quit_key(k: KeyEvent) -> bool {
    (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
        || k.code == KeyCode::Char('q')
}

/// The mouse wheel moves the selection (or scrolls the text) like the arrow keys.
pub fn action_for_mouse(m: MouseEvent) -> Option<Action> {
    match m.kind {
        MouseEventKind::ScrollUp => Some(Action::Up),
        MouseEventKind::ScrollDown => Some(Action::Down),
        _ => None,
    }
}

/// The text a filter is matched against: addresses, ports, transport, protocol, verdict,
/// interface, service and state, lower-cased.
pub fn haystack(f: &Flow, j: &Judgement) -> String {
    format!(
        "{}:{} {}:{} {} {} {} {} {} {}",
        f.initiator.ip,
        f.initiator.port,
        f.responder.ip,
        f.responder.port,
        transport_name(f.protocol),
        j.documented,
        j.verdict.label(),
        j.edge_interface.map_or("none", interface_label),
        j.edge_service.map_or("none", crate::judge::service_label),
        f.conn_state()
    )
    .to_lowercase()
}

/// Every whitespace-separated term must appear.
fn matches_filter(hay: &str, filter: &str) -> bool {
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|t| hay.contains(t))
}

pub fn duration_ns(f: &Flow) -> i64 {
    f.last_ts_ns() - f.first_ts_ns()
}

fn compare(col: Column, a: (&Flow, &Judgement), b: (&Flow, &Judgement)) -> Ordering {
    let (fa, ja) = a;
    let (fb, jb) = b;
    match col {
        Column::Initiator => {
            (fa.initiator.ip, fa.initiator.port).cmp(&(fb.initiator.ip, fb.initiator.port))
        }
        Column::Responder => {
            (fa.responder.ip, fa.responder.port).cmp(&(fb.responder.ip, fb.responder.port))
        }
        Column::Transport => transport_name(fa.protocol).cmp(&transport_name(fb.protocol)),
        Column::Protocol => ja.documented.cmp(&jb.documented),
        Column::Interface => {
            (ja.edge_interface, ja.edge_service).cmp(&(jb.edge_interface, jb.edge_service))
        }
        Column::Packets => fa.packets().cmp(&fb.packets()),
        Column::Bytes => fa.wire_bytes().cmp(&fb.wire_bytes()),
        Column::Duration => duration_ns(fa).cmp(&duration_ns(fb)),
        Column::State => fa.conn_state().cmp(fb.conn_state()),
        // Violations rank above the rest, as in the text report.
        Column::Verdict => ja
            .verdict
            .is_violation()
            .cmp(&jb.verdict.is_violation())
            .then(jb.verdict.cmp(&ja.verdict)),
    }
}

impl App {
    pub fn new(model: Model) -> App {
        let matrix = model.matrix;
        let rules = matrix
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| model.audit.coverage.hits.contains_key(&r.id))
            .map(|(i, _)| i)
            .collect();
        let mut app = App {
            model,
            view: View::Overview,
            help: false,
            quit: false,
            flows: FlowTable {
                sort: Column::Verdict,
                descending: true,
                filter: String::new(),
                editing: false,
                pinned: None,
                rows: Vec::new(),
                selected: 0,
                detail: None,
                detail_scroll: 0,
            },
            overview_scroll: 0,
            finding_selected: 0,
            finding_scroll: 0,
            matrix_selected: 0,
            rules,
            map_selected: 0,
            call_selected: 0,
        };
        app.refresh_rows();
        app
    }

    /// The flow and judgement at an index of the analysis.
    pub fn flow(&self, i: usize) -> Option<(&Flow, &Judgement)> {
        Some((
            self.model.analysis.flows.get(i)?,
            self.model.audit.judgements.get(i)?,
        ))
    }

    /// The flow index under the selection of the table.
    pub fn selected_flow(&self) -> Option<usize> {
        self.flows.rows.get(self.flows.selected).copied()
    }

    /// Recomputes the shown rows, keeping the selected flow selected when it is still shown.
    fn refresh_rows(&mut self) {
        let keep = self.selected_flow();
        let t = &self.flows;
        let mut rows: Vec<usize> = match &t.pinned {
            Some((_, idx)) => idx
                .iter()
                .copied()
                .filter(|i| *i < self.model.analysis.flows.len())
                .collect(),
            None => (0..self.model.analysis.flows.len()).collect(),
        };
        let flows = &self.model.analysis.flows;
        let judgements = &self.model.audit.judgements;
        if !t.filter.trim().is_empty() {
            // A display filter expression (as with -Y) when the text is one, else words.
            match Filter::parse(&t.filter) {
                Ok(f) => {
                    let s = f.select(&self.model.analysis, Some(&self.model.audit));
                    rows.retain(|&i| s.contains(i));
                }
                Err(_) => rows.retain(|&i| {
                    judgements
                        .get(i)
                        .is_some_and(|j| matches_filter(&haystack(&flows[i], j), &t.filter))
                }),
            }
        }
        let (col, desc) = (t.sort, t.descending);
        rows.retain(|&i| i < judgements.len());
        // Ties keep a stable order: most bytes first, then the capture order.
        rows.sort_by(|&a, &b| {
            let (fa, fb) = (&flows[a], &flows[b]);
            let o = compare(col, (fa, &judgements[a]), (fb, &judgements[b]));
            let o = if desc { o.reverse() } else { o };
            o.then(fb.wire_bytes().cmp(&fa.wire_bytes()))
                .then(fa.id.cmp(&fb.id))
        });
        self.flows.selected = keep
            .and_then(|k| rows.iter().position(|&r| r == k))
            .unwrap_or(0);
        self.flows.rows = rows;
    }

    /// Sets the flow filter's text, as if typed.
    pub fn set_filter(&mut self, text: &str) {
        self.flows.filter = text.to_string();
        self.refresh_rows();
    }

    fn set_sort(&mut self, col: Column) {
        self.flows.sort = col;
        self.flows.descending = col.descending_by_default();
        self.refresh_rows();
    }

    /// The key bindings, all of them. Typing a filter takes every printable key.
    pub fn action_for(&self, k: KeyEvent) -> Option<Action> {
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        if self.flows.editing {
            return match k.code {
                KeyCode::Enter | KeyCode::Down | KeyCode::Up => Some(Action::FilterDone),
                KeyCode::Esc => Some(Action::FilterClear),
                KeyCode::Backspace => Some(Action::FilterPop),
                KeyCode::Char(c) => Some(Action::FilterPush(c)),
                _ => None,
            };
        }
        if self.help {
            return match k.code {
                KeyCode::Char('q') => Some(Action::Quit),
                _ => Some(Action::ToggleHelp),
            };
        }
        Some(match k.code {
            KeyCode::Char('q') => Action::Quit,
            KeyCode::Char('?') => Action::ToggleHelp,
            KeyCode::Tab => Action::NextView,
            KeyCode::BackTab => Action::PrevView,
            KeyCode::Char(c @ '1'..='6') => Action::Show(View::ALL[(c as usize) - ('1' as usize)]),
            KeyCode::Char('/') => Action::StartFilter,
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
            KeyCode::Home | KeyCode::Char('g') => Action::Top,
            KeyCode::End | KeyCode::Char('G') => Action::Bottom,
            KeyCode::Enter => Action::Open,
            KeyCode::Esc | KeyCode::Backspace => Action::Back,
            KeyCode::Char('s') => Action::SortNext,
            KeyCode::Char('S') => Action::SortPrev,
            KeyCode::Char('r') => Action::SortReverse,
            _ => return None,
        })
    }

    pub fn apply(&mut self, a: Action) {
        match a {
            Action::Quit => self.quit = true,
            Action::ToggleHelp => self.help = !self.help,
            Action::NextView => {
                self.view = View::ALL[(self.view.index() + 1) % View::ALL.len()];
            }
            Action::PrevView => {
                let n = View::ALL.len();
                self.view = View::ALL[(self.view.index() + n - 1) % n];
            }
            Action::Show(v) => self.view = v,
            Action::StartFilter => {
                self.view = View::Flows;
                self.flows.detail = None;
                self.flows.editing = true;
            }
            Action::FilterPush(c) => {
                self.flows.filter.push(c);
                self.refresh_rows();
            }
            Action::FilterPop => {
                self.flows.filter.pop();
                self.refresh_rows();
            }
            Action::FilterDone => self.flows.editing = false,
            Action::FilterClear => {
                self.flows.editing = false;
                self.flows.filter.clear();
                self.refresh_rows();
            }
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp => self.step(-(PAGE as i64)),
            Action::PageDown => self.step(PAGE as i64),
            Action::Top => self.step(i64::MIN / 2),
            Action::Bottom => self.step(i64::MAX / 2),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::SortNext | Action::SortPrev => {
                let n = Column::ALL.len();
                let i = self.flows.sort.index();
                let next = if a == Action::SortNext {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.set_sort(Column::ALL[next]);
            }
            Action::SortReverse => {
                self.flows.descending = !self.flows.descending;
                self.refresh_rows();
            }
        }
    }

    /// Moves the selection (lists) or the scroll (text) by `by` rows, clamped.
    fn step(&mut self, by: i64) {
        fn moved(at: usize, by: i64, len: usize) -> usize {
            let last = len.saturating_sub(1) as i64;
            (at as i64).saturating_add(by).clamp(0, last.max(0)) as usize
        }
        fn scrolled(at: u16, by: i64) -> u16 {
            (i64::from(at)).saturating_add(by).clamp(0, 2000) as u16
        }
        match self.view {
            View::Overview => self.overview_scroll = scrolled(self.overview_scroll, by),
            View::Flows => match self.flows.detail {
                Some(_) => self.flows.detail_scroll = scrolled(self.flows.detail_scroll, by),
                None => self.flows.selected = moved(self.flows.selected, by, self.flows.rows.len()),
            },
            View::Findings => {
                let n = self.model.findings.len();
                self.finding_selected = moved(self.finding_selected, by, n);
            }
            View::Matrix => {
                self.matrix_selected = moved(self.matrix_selected, by, self.rules.len())
            }
            View::Calls => {
                let n = self.model.audit.diagnosis.calls.len();
                self.call_selected = moved(self.call_selected, by, n);
            }
            View::Map => {
                let n = self.model.map.arrows.len();
                self.map_selected = moved(self.map_selected, by, n);
            }
        }
    }

    fn open(&mut self) {
        match self.view {
            View::Flows if self.flows.detail.is_none() => {
                self.flows.detail = self.selected_flow();
                self.flows.detail_scroll = 0;
            }
            View::Findings => {
                let Some(f) = self.model.findings.get(self.finding_selected) else {
                    return;
                };
                let (id, idx) = (f.id.clone(), f.flow_indexes.clone());
                self.pin(format!("finding {id} evidence"), idx);
            }
            View::Calls => {
                let calls = &self.model.audit.diagnosis.calls;
                let Some(c) = calls.get(self.call_selected) else {
                    return;
                };
                // Its own legs and the partner's connections shown beside them, in time order.
                let idx: Vec<usize> = c.legs.iter().map(|l| l.flow).collect();
                if idx.is_empty() {
                    return;
                }
                let what = format!("call {} legs", c.id);
                self.pin(what, idx);
            }
            View::Map => {
                let Some(a) = self.model.map.arrows.get(self.map_selected) else {
                    return;
                };
                if a.flows.is_empty() {
                    return;
                }
                let what = format!("map: {}, {}", a.ends_label(), a.label());
                let idx = a.flows.clone();
                self.pin(what, idx);
            }
            _ => {}
        }
    }

    /// Shows only these flows in the flow table, opening the one flow's detail when there is
    /// only one.
    fn pin(&mut self, what: String, idx: Vec<usize>) {
        self.flows.pinned = Some((what, idx));
        self.flows.filter.clear();
        self.flows.editing = false;
        self.flows.selected = 0;
        self.refresh_rows();
        self.flows.selected = 0;
        self.view = View::Flows;
        // A finding or an arrow of one flow opens straight on that flow.
        self.flows.detail = match self.flows.rows.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        self.flows.detail_scroll = 0;
    }

    fn back(&mut self) {
        if self.view != View::Flows {
            return;
        }
        if self.flows.detail.take().is_some() {
            return;
        }
        if self.flows.pinned.take().is_some() {
            self.refresh_rows();
        } else if !self.flows.filter.is_empty() {
            self.flows.filter.clear();
            self.refresh_rows();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_terms_all_match() {
        let hay = "10.0.0.1:5061 10.0.0.2:40000 tcp sip/mtls wrong-source internal";
        assert!(matches_filter(hay, "5061"));
        assert!(matches_filter(hay, "TCP wrong"));
        assert!(!matches_filter(hay, "udp 5061"));
        assert!(matches_filter(hay, "  "));
    }

    #[test]
    fn every_view_has_a_number_key() {
        assert_eq!(View::ALL.len(), 6);
        for (i, v) in View::ALL.iter().enumerate() {
            assert_eq!(v.index(), i);
        }
    }
}
