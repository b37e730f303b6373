//! The map of the Edge in box drawing: the same map as the HTML report's
//! ([`crate::report::map`]), one arrow a row.
//!
//! Each station (Access, Web Conferencing and A/V Edge, the internal interface, the reverse
//! proxy's two sides) is a box in the middle column with its addresses; its arrows are the rows
//! beside it, towards the remotes outside on the left (through the external firewall) or inside
//! on the right (through the internal firewall). An arrow reads from the remote to the station
//! when the remote opens the flow, the other way when the Edge does; its label (protocol,
//! transport, ports) sits by the remote, its counts by the station. Seen arrows are green,
//! violating and undocumented ones red, documented flows never seen grey and dashed; an arrow
//! from the wrong side of the Edge (a NAT hairpin) is marked `↺`. ↑↓ select an arrow, which the
//! panel below describes; Enter lists its flows in the flow table.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::app::App;
use crate::report::map::{Arrow, EdgeMap, Side, Station, Status};

/// The colour of an arrow.
pub fn status_style(s: Status) -> Style {
    match s {
        Status::Seen => Style::new().fg(Color::Green),
        Status::Violating | Status::Undocumented => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        Status::Unseen => Style::new().fg(Color::DarkGray),
    }
}

/// One row of the map.
enum Row {
    /// A station box's top or bottom border.
    Border { station: Station, top: bool },
    /// A row inside a box: the box's text line, and an arrow beside it.
    Inside {
        station: Station,
        text: Option<String>,
        arrow: Option<usize>,
    },
}

/// The rows of the map: every station's box, its lines and its arrows.
fn rows(map: &EdgeMap) -> Vec<Row> {
    let mut out = Vec::new();
    for (station, place) in &map.stations {
        let lanes: Vec<usize> = map.lanes(*station).map(|(i, _)| i).collect();
        out.push(Row::Border {
            station: *station,
            top: true,
        });
        let n = lanes.len().max(place.lines.len()).max(1);
        for k in 0..n {
            out.push(Row::Inside {
                station: *station,
                text: place.lines.get(k).map(|l| l.trim().to_string()),
                arrow: lanes.get(k).copied(),
            });
        }
        out.push(Row::Border {
            station: *station,
            top: false,
        });
    }
    out
}

/// Column widths: remote, arrow, box, arrow, remote (with a firewall column beside each
/// remote).
struct Columns {
    remote: usize,
    arrow: usize,
    boxw: usize,
    right_arrow: usize,
    /// Short labels and counts, for terminals under 120 columns.
    narrow: bool,
}

impl Columns {
    fn of(width: u16) -> Columns {
        let w = width as usize;
        let narrow = w < 120;
        let (remote, boxw) = if narrow { (9, 20) } else { (18, 26) };
        let rest = w.saturating_sub(2 * remote + 2 + boxw);
        Columns {
            remote,
            arrow: rest / 2,
            boxw,
            right_arrow: rest - rest / 2,
            narrow,
        }
    }
}

fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s}{}", " ".repeat(w - n))
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

/// The protocol and ports without the transports ("SIP/MTLS 5061", "STUN/MSTURN 3478, 443"),
/// for narrow terminals.
fn short_label(a: &Arrow) -> String {
    let mut ports: Vec<&str> = Vec::new();
    for p in &a.parts {
        if !ports.contains(&p.ports.as_str()) {
            ports.push(&p.ports);
        }
    }
    format!("{} {}", a.protocol, ports.join(","))
        .trim()
        .to_string()
}

/// The counts by the station: every word wide; narrow, the flows only ("3", "1 bad"), the
/// grey dashes saying "never seen".
fn counts(a: &Arrow, narrow: bool) -> String {
    match (a.status(), narrow) {
        (Status::Unseen, true) => String::new(),
        (Status::Unseen, false) => "never".into(),
        (Status::Seen, true) => a.total().to_string(),
        (_, true) => format!("{} bad", a.violating),
        (_, false) => a.counts_label(),
    }
}

/// An arrow's row section, `w` wide: label by the remote, counts by the station, a head at
/// the end the flow goes to.
fn arrow_text(a: &Arrow, w: usize, narrow: bool) -> String {
    if w < 4 {
        return " ".repeat(w);
    }
    let line = if a.status() == Status::Unseen {
        '╌'
    } else {
        '─'
    };
    let counts = counts(a, narrow);
    let mut label = if narrow { short_label(a) } else { a.label() };
    if a.crosses() {
        label = format!("↺ {label}");
    }
    // Room for the head, two rules and a space between label and counts; the counts give way
    // to a label's first dozen characters.
    let inner = w - 3;
    let keep = label.chars().count().min(12);
    let counts: String = counts
        .chars()
        .take(inner.saturating_sub(keep + 1))
        .collect();
    let room = inner.saturating_sub(counts.chars().count() + 1);
    let label = if label.chars().count() > room {
        let mut l: String = label.chars().take(room.saturating_sub(1)).collect();
        l.push('…');
        l
    } else {
        label
    };
    let fill = inner - label.chars().count() - counts.chars().count();
    let rule: String = std::iter::repeat_n(line, fill).collect();
    // Remote on the left (external) or on the right (internal) of the arrow.
    let towards_station = a.inbound;
    match a.station.side() {
        Side::External => {
            let body = format!("{line}{label}{rule}{counts}{line}");
            if towards_station {
                format!("{body}▶")
            } else {
                format!("◀{body}")
            }
        }
        Side::Internal => {
            let body = format!("{line}{counts}{rule}{label}{line}");
            if towards_station {
                format!("◀{body}")
            } else {
                format!("{body}▶")
            }
        }
    }
}

fn remote_name(a: &Arrow, w: usize) -> String {
    use crate::report::map::Remote;
    let name = match (a.remote, w >= 16) {
        (Remote::Partners, true) => "Federated partners",
        (Remote::Partners, false) => "partners",
        (Remote::Internet, _) => "Internet",
        (Remote::Clients, true) => "Internal clients",
        (Remote::Clients, false) => "clients",
        (Remote::Servers, true) => "Front End, servers",
        (Remote::Servers, false) => "servers",
    };
    fit(name, w)
}

/// A box line; narrow, without the Edge server's name when the pool has one server, and the
/// public address as `NAT`.
fn box_text(text: &str, map: &EdgeMap, narrow: bool) -> String {
    if !narrow {
        return text.to_string();
    }
    let mut t = text;
    if let [only] = map.edge_nodes.as_slice() {
        t = t.strip_prefix(only.as_str()).map_or(t, str::trim_start);
    }
    match t.strip_prefix("public ") {
        Some(ip) => format!("NAT {ip}"),
        None => t.to_string(),
    }
}

/// The map view: a heading row, the rows of the map scrolled to the selected arrow, and the
/// selected arrow's description.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let map = &app.model.map;
    let [head, body, detail] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(5),
    ])
    .areas(area);
    let c = Columns::of(area.width);
    let heading = format!(
        "{}{}{}{}{}{}{}",
        fit("outside", c.remote),
        "║",
        fit(" external firewall", c.arrow),
        fit(&format!(" Edge {}", map.edge_nodes.join(",")), c.boxw),
        fit(" internal firewall", c.right_arrow),
        "║",
        fit("inside", c.remote),
    );
    frame.render_widget(
        Paragraph::new(Line::from(heading).style(Style::new().bold())),
        head,
    );
    let rows = rows(map);
    if map.arrows.is_empty() {
        frame.render_widget(
            Paragraph::new("No Edge in the topology and no flow touching one: nothing to draw.")
                .dark_gray(),
            body,
        );
        return;
    }
    let selected = app.map_selected.min(map.arrows.len() - 1);
    let at = rows
        .iter()
        .position(|r| matches!(r, Row::Inside { arrow: Some(i), .. } if *i == selected))
        .unwrap_or(0);
    let height = body.height as usize;
    // The selected row stays in view, a row of context below it where there is one.
    let offset = (at + 2)
        .saturating_sub(height)
        .min(rows.len().saturating_sub(height));
    let lines: Vec<Line> = rows
        .iter()
        .skip(offset)
        .take(height)
        .map(|r| row_line(r, map, &c, selected))
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
    describe(frame, detail, map, selected);
}

fn row_line(r: &Row, map: &EdgeMap, c: &Columns, selected: usize) -> Line<'static> {
    let fw = Span::from("║").fg(Color::Rgb(0x79, 0x55, 0x48));
    let blank = |w: usize| Span::from(" ".repeat(w));
    match r {
        Row::Border { station, top } => {
            let (l, r) = if *top { ('┌', '┐') } else { ('└', '┘') };
            let title = if *top { station.label() } else { "" };
            let inner = c.boxw.saturating_sub(2);
            let t: String = title.chars().take(inner).collect();
            let rule = "─".repeat(inner - t.chars().count());
            Line::from(vec![
                blank(c.remote),
                fw.clone(),
                blank(c.arrow),
                Span::from(format!("{l}{t}{rule}{r}")).cyan(),
                blank(c.right_arrow),
                fw,
                blank(c.remote),
            ])
        }
        Row::Inside {
            station,
            text,
            arrow,
        } => {
            let inner = c.boxw.saturating_sub(2);
            let text = box_text(text.as_deref().unwrap_or(""), map, c.narrow);
            let boxed = Span::from(format!("│{}│", fit(&text, inner))).cyan();
            let a = arrow.and_then(|i| map.arrows.get(i).map(|a| (i, a)));
            let mut left = vec![blank(c.remote), fw.clone(), blank(c.arrow)];
            let mut right = vec![blank(c.right_arrow), fw, blank(c.remote)];
            if let Some((i, a)) = a {
                let mut style = status_style(a.status());
                if i == selected {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                let name = Span::styled(remote_name(a, c.remote), style);
                match station.side() {
                    Side::External => {
                        left[0] = name;
                        left[2] = Span::styled(arrow_text(a, c.arrow, c.narrow), style);
                    }
                    Side::Internal => {
                        right[0] = Span::styled(arrow_text(a, c.right_arrow, c.narrow), style);
                        right[2] = name;
                    }
                }
            }
            let mut spans = left;
            spans.push(boxed);
            spans.extend(right);
            Line::from(spans)
        }
    }
}

/// What the selected arrow stands for.
fn describe(frame: &mut Frame, area: Rect, map: &EdgeMap, selected: usize) {
    let Some(a) = map.arrows.get(selected) else {
        return;
    };
    let s = a.status();
    let rules = a.rules();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", s.label()), status_style(s)),
            Span::from(format!("{}: {}", a.ends_label(), a.label())).bold(),
        ]),
        Line::from(format!(
            "{}; {} packets, {} bytes{}",
            a.counts_label(),
            a.packets,
            a.bytes,
            if a.crosses() {
                "; from the wrong side of the Edge (a loop round it)"
            } else {
                ""
            }
        )),
    ];
    if !rules.is_empty() {
        let what = if matches!(s, Status::Undocumented) {
            "nearest rules"
        } else {
            "rules"
        };
        lines.push(Line::from(format!("{what}: {}", rules.join(" "))).dark_gray());
    }
    lines.push(
        Line::from(if a.flows.is_empty() {
            "no flow of the capture on this arrow".to_string()
        } else {
            format!("enter: list its {} flow(s)", a.flows.len())
        })
        .dark_gray(),
    );
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::TOP)),
        area,
    );
}
