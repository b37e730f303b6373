//! The drawings of the HTML report, as inline SVG: the map of the Edge, traffic over time and
//! the call timelines. Plain text written into a `String`; every text from the capture or the
//! topology goes through [`Esc`].
//!
//! The map's geometry is fixed columns, left to right: the remotes outside (partners, the
//! Internet), the external firewall, the Edge pool (its external services, then its internal
//! interface) with the reverse proxy below it, the internal firewall, and the remotes inside
//! (clients, the Front End pool and servers). Each arrow is a horizontal lane into its station,
//! so that every label reads left to right without crossings; the remotes' boxes span the lanes
//! of their arrows. An arrow whose remote is on the other side of the Edge (a NAT hairpin, an
//! Internet host at the internal interface) goes round: over the top from inside, under the
//! bottom from outside.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::Esc;
use super::map::{Arrow, EdgeMap, Place, Remote, Side, Station, Status};
use crate::judge::Verdict;

/// Colours of the map's arrows by status (also in the page's CSS, and given inline so that a
/// mail client that drops the style sheet still shows them).
pub fn status_colour(s: Status) -> &'static str {
    match s {
        Status::Seen => "#2e7d32",
        Status::Violating | Status::Undocumented => "#c62828",
        Status::Unseen => "#9e9e9e",
    }
}

/// Colours of the verdicts in the charts: greens for permitted, grey for unknown endpoints,
/// warm colours for violations.
pub fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Permitted => "#2e7d32",
        Verdict::PermittedWithNote => "#66bb6a",
        Verdict::UnknownEndpoint => "#9e9e9e",
        Verdict::NotInMatrix => "#c62828",
        Verdict::WrongSource => "#e65100",
        Verdict::WrongDirection => "#f9a825",
        Verdict::MediaOnInternal => "#ad1457",
        Verdict::NotInVersion => "#6a1b9a",
        Verdict::FeatureOff => "#8d6e63",
        Verdict::ProtocolMismatch => "#ff7043",
        Verdict::InternalHairpin => "#4e342e",
    }
}

const LANE: f64 = 30.0;
const LINE: f64 = 14.0;
/// Left remotes, external stations, internal stations, right remotes: (left, right).
const REMOTE_L: (f64, f64) = (10.0, 210.0);
const EXT_FW: f64 = 420.0;
const FW_W: f64 = 16.0;
const POOL: (f64, f64) = (600.0, 1020.0);
const ST_EXT: (f64, f64) = (610.0, 800.0);
const ST_INT: (f64, f64) = (820.0, 1010.0);
const INT_FW: f64 = 1200.0;
const REMOTE_R: (f64, f64) = (1400.0, 1600.0);
const WIDTH: f64 = 1610.0;
const HEADER: f64 = 46.0;
const BOX_GAP: f64 = 12.0;
const LABEL_H: f64 = 22.0;

/// A box: top and height.
#[derive(Debug, Clone, Copy)]
struct Span {
    y: f64,
    h: f64,
}

impl Span {
    fn bottom(self) -> f64 {
        self.y + self.h
    }
}

/// The height a box needs for its title and lines.
fn text_height(p: &Place) -> f64 {
    22.0 + p.lines.len() as f64 * LINE
}

fn station_x(s: Station) -> (f64, f64) {
    match s.side() {
        Side::External => ST_EXT,
        Side::Internal => ST_INT,
    }
}

/// Where everything of the map goes.
struct Geometry {
    stations: BTreeMap<Station, Span>,
    /// Lane y of each arrow, by index into the map's arrows.
    lane_y: Vec<f64>,
    /// Remote boxes: (remote, side drawn on, span).
    remotes: Vec<(Remote, Span)>,
    pool: Option<Span>,
    rp: Option<Span>,
    /// The loops over the top (from inside to an external station) and under the bottom.
    loops_up: Vec<usize>,
    loops_down: Vec<usize>,
    bottom: f64,
}

fn lanes_of(map: &EdgeMap, s: Station) -> Vec<usize> {
    map.lanes(s).map(|(i, _)| i).collect()
}

fn station_height(map: &EdgeMap, s: Station) -> f64 {
    let text = map.place(s).map_or(22.0, text_height) + 6.0;
    let lanes = lanes_of(map, s).len() as f64 * LANE + 8.0;
    text.max(lanes)
}

fn layout(map: &EdgeMap) -> Geometry {
    let loops_up: Vec<usize> = (0..map.arrows.len())
        .filter(|&i| map.arrows[i].crosses() && map.arrows[i].station.side() == Side::External)
        .collect();
    let loops_down: Vec<usize> = (0..map.arrows.len())
        .filter(|&i| map.arrows[i].crosses() && map.arrows[i].station.side() == Side::Internal)
        .collect();
    let has = |s: Station| map.stations.iter().any(|(x, _)| *x == s);
    let top = HEADER + 14.0 + loops_up.len() as f64 * 10.0;
    let mut stations = BTreeMap::new();
    // The Edge pool: external services stacked on the left, the internal interface beside
    // them over the same height.
    let pool_ext: Vec<Station> = [Station::Access, Station::Webconf, Station::Av]
        .into_iter()
        .filter(|s| has(*s))
        .collect();
    let mut pool = None;
    let mut y = top;
    if !pool_ext.is_empty() || has(Station::Internal) {
        let inner_top = top + LABEL_H;
        let mut yy = inner_top;
        for s in &pool_ext {
            let h = station_height(map, *s);
            stations.insert(*s, Span { y: yy, h });
            yy += h + BOX_GAP;
        }
        let ext_h = (yy - BOX_GAP - inner_top).max(0.0);
        let int_h = if has(Station::Internal) {
            station_height(map, Station::Internal)
        } else {
            0.0
        };
        let h = ext_h.max(int_h);
        if h > ext_h {
            if let Some(last) = pool_ext.last().and_then(|s| stations.get_mut(s)) {
                last.h += h - ext_h;
            }
        }
        if has(Station::Internal) {
            stations.insert(Station::Internal, Span { y: inner_top, h });
        }
        let span = Span {
            y: top,
            h: LABEL_H + h + 8.0,
        };
        pool = Some(span);
        y = span.bottom() + 20.0;
    }
    let mut rp = None;
    if has(Station::RpExternal) || has(Station::RpInternal) {
        let inner_top = y + LABEL_H;
        let h = [Station::RpExternal, Station::RpInternal]
            .into_iter()
            .filter(|s| has(*s))
            .map(|s| station_height(map, s))
            .fold(0.0, f64::max);
        for s in [Station::RpExternal, Station::RpInternal] {
            if has(s) {
                stations.insert(s, Span { y: inner_top, h });
            }
        }
        let span = Span {
            y,
            h: LABEL_H + h + 8.0,
        };
        rp = Some(span);
        y = span.bottom() + 20.0;
    }
    let mut lane_y = vec![0.0; map.arrows.len()];
    for (s, span) in &stations {
        let lanes = lanes_of(map, *s);
        let n = lanes.len() as f64;
        for (k, i) in lanes.into_iter().enumerate() {
            lane_y[i] = span.y + span.h * (k as f64 + 0.5) / n;
        }
    }
    // The remotes' boxes: one per run of lanes with the same remote on a side, spanning from
    // halfway to the run before to halfway to the run after.
    let mut remotes: Vec<(Remote, Span)> = Vec::new();
    let mut bottom = y;
    for side in [Side::External, Side::Internal] {
        let mut runs: Vec<(Remote, f64, f64)> = Vec::new();
        for (i, a) in map.arrows.iter().enumerate() {
            if a.crosses() || a.station.side() != side {
                continue;
            }
            let ly = lane_y[i];
            match runs.last_mut() {
                Some((r, _, last)) if *r == a.remote => *last = ly,
                _ => runs.push((a.remote, ly, ly)),
            }
        }
        let side_top = top;
        let side_bottom = stations
            .iter()
            .filter(|(s, _)| s.side() == side)
            .map(|(_, sp)| sp.bottom())
            .fold(top, f64::max);
        let n = runs.len();
        for k in 0..n {
            let (r, first, last) = runs[k];
            let upper = if k == 0 {
                side_top.min(first - LANE / 2.0)
            } else {
                (runs[k - 1].2 + first) / 2.0
            };
            let lower = if k + 1 == n {
                side_bottom.max(last + LANE / 2.0)
            } else {
                (last + runs[k + 1].1) / 2.0
            };
            remotes.push((
                r,
                Span {
                    y: upper + 3.0,
                    h: lower - upper - 6.0,
                },
            ));
        }
        // Remotes that only loops reach get a box of their own below.
        let mut below = remotes
            .iter()
            .filter(|(r, _)| r.side() == side)
            .map(|(_, s)| s.bottom())
            .fold(side_bottom, f64::max)
            + 12.0;
        for r in Remote::ALL {
            let needed = r.side() == side && map.arrows.iter().any(|a| a.remote == r);
            if needed && !remotes.iter().any(|(x, _)| *x == r) {
                let h = map.remote_place(r).map_or(40.0, text_height) + 6.0;
                remotes.push((r, Span { y: below, h }));
                below += h + 12.0;
            }
        }
        bottom = bottom.max(below);
    }
    let bottom = bottom + loops_down.len() as f64 * 10.0 + 10.0;
    Geometry {
        stations,
        lane_y,
        remotes,
        pool,
        rp,
        loops_up,
        loops_down,
        bottom,
    }
}

fn remote_x(side: Side) -> (f64, f64) {
    match side {
        Side::External => REMOTE_L,
        Side::Internal => REMOTE_R,
    }
}

/// Writes a box with a title and as many of its lines as fit (the rest counted).
fn place_box(out: &mut String, class: &str, x: (f64, f64), span: Span, place: &Place) {
    let _ = write!(
        out,
        r#"<g class="{class}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6"/>"#,
        x.0,
        span.y,
        x.1 - x.0,
        span.h.max(10.0)
    );
    let _ = write!(
        out,
        r#"<text class="title" x="{:.1}" y="{:.1}">{}</text>"#,
        x.0 + 8.0,
        span.y + 16.0,
        Esc(&place.title)
    );
    let fit = (((span.h - 22.0) / LINE).floor().max(0.0)) as usize;
    let lines = &place.lines;
    let shown = if lines.len() > fit {
        fit.saturating_sub(1)
    } else {
        lines.len()
    };
    for (k, line) in lines.iter().take(shown).enumerate() {
        let _ = write!(
            out,
            r#"<text class="addr" x="{:.1}" y="{:.1}">{}</text>"#,
            x.0 + 8.0,
            span.y + 32.0 + k as f64 * LINE,
            Esc(line)
        );
    }
    if shown < lines.len() && fit > 0 {
        let _ = write!(
            out,
            r#"<text class="addr" x="{:.1}" y="{:.1}">… {} more</text>"#,
            x.0 + 8.0,
            span.y + 32.0 + shown as f64 * LINE,
            lines.len() - shown
        );
    }
    out.push_str("</g>");
}

/// The tooltip of an arrow: its ends, ports, counts and rules.
fn arrow_title(a: &Arrow) -> String {
    let mut t = format!(
        "{}\n{}\n{}: {}",
        a.ends_label(),
        a.label(),
        a.status().label(),
        a.counts_label()
    );
    let rules = a.rules();
    if !rules.is_empty() {
        t.push_str("\nrules: ");
        t.push_str(&rules.join(", "));
    }
    t
}

/// The map of the Edge as one `<svg>` element.
pub fn map(map: &EdgeMap, out: &mut String) {
    let g = layout(map);
    let height = g.bottom + 10.0;
    let _ = write!(
        out,
        r#"<svg id="edge-map" class="map" viewBox="0 0 {WIDTH} {height:.0}" width="{WIDTH}" height="{height:.0}" role="img" aria-labelledby="edge-map-title" xmlns="http://www.w3.org/2000/svg"><title id="edge-map-title">Map of the Edge of site {}: {} arrows</title>"#,
        Esc(&map.site),
        map.arrows.len()
    );
    out.push_str("<defs>");
    for s in [
        Status::Seen,
        Status::Violating,
        Status::Unseen,
        Status::Undocumented,
    ] {
        let _ = write!(
            out,
            r#"<marker id="head-{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
            s.class(),
            status_colour(s)
        );
    }
    out.push_str("</defs>");
    // Column headings.
    let mid = |x: (f64, f64)| (x.0 + x.1) / 2.0;
    for (x, text) in [
        (mid(REMOTE_L), "Outside"),
        (EXT_FW, "External firewall"),
        (mid(POOL), "Edge"),
        (INT_FW, "Internal firewall"),
        (mid(REMOTE_R), "Inside"),
    ] {
        let _ = write!(
            out,
            r#"<text class="heading" x="{x:.1}" y="18" text-anchor="middle">{text}</text>"#
        );
    }
    if !map.nat.is_empty() {
        let _ = write!(
            out,
            r#"<text class="note" x="{EXT_FW:.1}" y="34" text-anchor="middle">NAT: public → private</text>"#
        );
    }
    // Firewalls.
    for x in [EXT_FW, INT_FW] {
        let _ = write!(
            out,
            r##"<rect class="firewall" x="{:.1}" y="{:.1}" width="{FW_W}" height="{:.1}" fill="#d7ccc8" stroke="#795548"/>"##,
            x - FW_W / 2.0,
            HEADER - 4.0,
            g.bottom - HEADER
        );
    }
    // The Edge pool and the reverse proxy.
    if let Some(p) = g.pool {
        let names = if map.edge_nodes.is_empty() {
            "no Edge server in the topology".to_string()
        } else {
            map.edge_nodes.join(", ")
        };
        let _ = write!(
            out,
            r#"<g class="pool"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="8"/><text class="title" x="{:.1}" y="{:.1}">Edge pool: {}</text></g>"#,
            POOL.0,
            p.y,
            POOL.1 - POOL.0,
            p.h,
            POOL.0 + 10.0,
            p.y + 16.0,
            Esc(&names)
        );
    }
    if let Some(p) = g.rp {
        let _ = write!(
            out,
            r#"<g class="pool rp"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="8"/><text class="title" x="{:.1}" y="{:.1}">Reverse proxy</text></g>"#,
            POOL.0,
            p.y,
            POOL.1 - POOL.0,
            p.h,
            POOL.0 + 10.0,
            p.y + 16.0
        );
    }
    for (s, span) in &g.stations {
        if let Some(place) = map.place(*s) {
            place_box(
                out,
                &format!("station station-{}", s.short()),
                station_x(*s),
                *span,
                place,
            );
        }
    }
    for (r, span) in &g.remotes {
        if let Some(place) = map.remote_place(*r) {
            place_box(
                out,
                &format!("remote remote-{}", r.short()),
                remote_x(r.side()),
                *span,
                place,
            );
        }
    }
    // The arrows, straight lanes first, then the loops.
    for (i, a) in map.arrows.iter().enumerate() {
        if !a.crosses() {
            straight(out, &g, i, a);
        }
    }
    for (k, &i) in g.loops_up.iter().enumerate() {
        looped(out, &g, i, &map.arrows[i], k);
    }
    for (k, &i) in g.loops_down.iter().enumerate() {
        looped(out, &g, i, &map.arrows[i], k);
    }
    out.push_str("</svg>");
}

/// The opening tag of an arrow's group, its tooltip and its path.
fn arrow_path(out: &mut String, i: usize, a: &Arrow, points: &[(f64, f64)]) {
    let s = a.status();
    let mut d = String::new();
    for (k, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1} ", if k == 0 { "M" } else { "L" });
    }
    let (width, dash) = match s {
        Status::Seen => ("2", ""),
        Status::Violating => ("3", ""),
        Status::Unseen => ("1.5", r#" stroke-dasharray="6 4""#),
        Status::Undocumented => ("2.5", r#" stroke-dasharray="10 3""#),
    };
    let _ = write!(
        out,
        r#"<g class="arrow {}{}" id="map-arrow-{i}" data-arrow="{i}" data-status="{}"><title>{}</title><path d="{}" fill="none" stroke="{}" stroke-width="{width}"{dash} marker-end="url(#head-{})"/>"#,
        s.class(),
        if a.crosses() { " loop" } else { "" },
        s.class(),
        Esc(&arrow_title(a)),
        d.trim_end(),
        status_colour(s),
        s.class()
    );
}

/// Average advance of a label's characters, in pixels, to keep label and count apart.
const CHAR_W: f64 = 6.6;

/// The arrow's label (near the remote) and counts (near the station), the label shortened
/// when both would not fit between them (the tooltip and the arrows table have it whole).
fn labels(out: &mut String, a: &Arrow, label_at: (f64, f64, &str), counts_at: (f64, f64, &str)) {
    let s = a.status();
    let counts = a.counts_label();
    let room = (counts_at.0 - label_at.0).abs() - 16.0 - counts.chars().count() as f64 * CHAR_W;
    let fits = (room / CHAR_W).max(4.0) as usize;
    let mut label = a.label();
    if label.chars().count() > fits {
        label = label.chars().take(fits.saturating_sub(1)).collect();
        label.push('…');
    }
    let _ = write!(
        out,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="{}">{}</text>"#,
        label_at.0,
        label_at.1,
        label_at.2,
        Esc(&label)
    );
    let _ = write!(
        out,
        r#"<text class="count{}" x="{:.1}" y="{:.1}" text-anchor="{}" fill="{}">{}</text></g>"#,
        if s.is_violation() { " bad" } else { "" },
        counts_at.0,
        counts_at.1,
        counts_at.2,
        match s {
            Status::Unseen => "#757575",
            // Seen, but connections failed: a block somewhere on the way.
            Status::Seen if a.failed > 0 => "#ef6c00",
            _ => status_colour(s),
        },
        Esc(&counts)
    );
}

/// A lane from the remote's box straight to the station, pointing the way the flow opened.
fn straight(out: &mut String, g: &Geometry, i: usize, a: &Arrow) {
    let y = g.lane_y[i];
    let (sx0, sx1) = station_x(a.station);
    let (remote_end, station_end) = match a.station.side() {
        Side::External => (REMOTE_L.1, sx0),
        Side::Internal => (REMOTE_R.0, sx1),
    };
    let points = if a.inbound {
        [(remote_end, y), (station_end, y)]
    } else {
        [(station_end, y), (remote_end, y)]
    };
    arrow_path(out, i, a, &points);
    // Labels start past the loops' vertical lines on their side.
    let clear = |n: usize| 10.0 + n as f64 * 10.0;
    match a.station.side() {
        Side::External => labels(
            out,
            a,
            (REMOTE_L.1 + clear(g.loops_up.len()), y - 5.0, "start"),
            (sx0 - 8.0, y - 5.0, "end"),
        ),
        Side::Internal => labels(
            out,
            a,
            (REMOTE_R.0 - clear(g.loops_down.len()), y - 5.0, "end"),
            (sx1 + 8.0, y - 5.0, "start"),
        ),
    }
}

/// An arrow round the Edge: from a remote inside over the top into an external station (a
/// NAT hairpin), or from a remote outside under the bottom into an internal one.
fn looped(out: &mut String, g: &Geometry, i: usize, a: &Arrow, k: usize) {
    let y = g.lane_y[i];
    let k = k as f64;
    let Some(rbox) = g
        .remotes
        .iter()
        .find(|(r, _)| *r == a.remote)
        .map(|(_, s)| *s)
    else {
        return;
    };
    let (sx0, sx1) = station_x(a.station);
    let mut points = match a.station.side() {
        Side::External => {
            // From the remote's left edge inside, up over everything, down outside the
            // external firewall and in through it.
            let start_y = rbox.y + 12.0 + k * 6.0;
            let jog = REMOTE_R.0 - 14.0 - k * 10.0;
            let channel = HEADER + 6.0 + k * 10.0;
            let drop = REMOTE_L.1 + 12.0 + k * 10.0;
            vec![
                (REMOTE_R.0, start_y),
                (jog, start_y),
                (jog, channel),
                (drop, channel),
                (drop, y),
                (sx0, y),
            ]
        }
        Side::Internal => {
            let start_y = rbox.bottom() - 12.0 - k * 6.0;
            let jog = REMOTE_L.1 + 14.0 + k * 10.0;
            let channel = g.bottom - 6.0 - k * 10.0;
            let rise = REMOTE_R.0 - 12.0 - k * 10.0;
            vec![
                (REMOTE_L.1, start_y),
                (jog, start_y),
                (jog, channel),
                (rise, channel),
                (rise, y),
                (sx1, y),
            ]
        }
    };
    if !a.inbound {
        points.reverse();
    }
    arrow_path(out, i, a, &points);
    let clear = |n: usize| 10.0 + n as f64 * 10.0;
    match a.station.side() {
        Side::External => labels(
            out,
            a,
            (REMOTE_L.1 + clear(g.loops_up.len()), y - 5.0, "start"),
            (sx0 - 8.0, y - 5.0, "end"),
        ),
        Side::Internal => labels(
            out,
            a,
            (REMOTE_R.0 - clear(g.loops_down.len()), y - 5.0, "end"),
            (sx1 + 8.0, y - 5.0, "start"),
        ),
    }
}

/// One series of a stacked chart: a name, a colour and a value per bucket.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
    pub values: Vec<f64>,
}

/// A stacked bar chart over time: `buckets` bars from `start_ns`, each `step_ns` wide.
pub fn stacked_bars(
    out: &mut String,
    id: &str,
    title: &str,
    unit: &str,
    start_ns: i64,
    step_ns: i64,
    series: &[Series],
) {
    let buckets = series.first().map_or(0, |s| s.values.len());
    if buckets == 0 {
        return;
    }
    let (w, h) = (960.0, 230.0);
    let (left, right, top, bottom) = (70.0, 30.0, 12.0, 40.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let totals: Vec<f64> = (0..buckets)
        .map(|b| series.iter().map(|s| s.values[b]).sum())
        .collect();
    let max = nice_max(totals.iter().copied().fold(0.0, f64::max));
    // Counts below five get whole-number ticks.
    let max = if unit.is_empty() { max.max(5.0) } else { max };
    let bar_w = plot_w / buckets as f64;
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        Esc(title)
    );
    // Axes and grid.
    for k in 0..=5 {
        let v = max * k as f64 / 5.0;
        let y = top + plot_h - plot_h * k as f64 / 5.0;
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            w - right,
            left - 6.0,
            y + 4.0,
            Esc(&short_number(v, unit))
        );
    }
    let span_s = step_ns as f64 * buckets as f64 / 1e9;
    for k in 0..=5 {
        let x = left + plot_w * k as f64 / 5.0;
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">+{}</text>"#,
            top + plot_h + 16.0,
            Esc(&seconds(span_s * k as f64 / 5.0))
        );
    }
    let _ = write!(
        out,
        r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">time from {}</text>"#,
        left + plot_w / 2.0,
        h - 4.0,
        Esc(&super::time::rfc3339(start_ns))
    );
    for b in 0..buckets {
        let mut y = top + plot_h;
        let x = left + b as f64 * bar_w;
        for s in series {
            let v = s.values[b];
            if v <= 0.0 {
                continue;
            }
            let bh = plot_h * v / max;
            y -= bh;
            let t0 = (step_ns as f64 * b as f64) / 1e9;
            let _ = write!(
                out,
                r#"<rect x="{:.2}" y="{y:.2}" width="{:.2}" height="{bh:.2}" fill="{}"><title>+{}: {} {}</title></rect>"#,
                x + 0.5,
                (bar_w - 1.0).max(0.5),
                s.colour,
                Esc(&seconds(t0)),
                Esc(&short_number(v, unit)),
                Esc(&s.name)
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{:.1}" stroke="#616161"/></svg>"##,
        top + plot_h
    );
}

/// A round upper bound for an axis.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

fn short_number(v: f64, unit: &str) -> String {
    let (n, suffix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if suffix.is_empty() && n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}{suffix}")
    };
    if unit.is_empty() {
        text
    } else {
        format!("{text} {unit}")
    }
}

fn seconds(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// A call's legs as swimlanes (signalling, allocation, media) over the call's time; the
/// failed leg marked with a cross.
pub fn swimlanes(out: &mut String, call: &crate::diagnose::calls::Call) {
    use crate::diagnose::calls::LegKind;
    let kinds = [LegKind::Signalling, LegKind::Allocation, LegKind::Media];
    let (w, lane_h, left, right) = (960.0, 22.0, 90.0, 36.0);
    let h = lane_h * 3.0 + 26.0;
    let span = (call.end_ts_ns - call.start_ts_ns).max(1_000_000) as f64;
    let plot_w = w - left - right;
    let x_of = |ns: i64| left + plot_w * ((ns - call.start_ts_ns) as f64 / span).clamp(0.0, 1.0);
    let _ = write!(
        out,
        r#"<svg class="swimlanes" id="call-{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        call.id,
        Esc(&call.heading())
    );
    for (k, kind) in kinds.iter().enumerate() {
        let y = k as f64 * lane_h;
        let _ = write!(
            out,
            r##"<rect x="{left}" y="{y:.1}" width="{plot_w}" height="{lane_h}" fill="{}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            if k % 2 == 0 { "#fafafa" } else { "#f0f0f0" },
            left - 8.0,
            y + 15.0,
            format!("{kind:?}").to_lowercase()
        );
    }
    let lines = call.leg_lines();
    for (i, leg) in call.legs.iter().enumerate() {
        let lane = kinds.iter().position(|k| *k == leg.kind).unwrap_or(0) as f64;
        let y = lane * lane_h + 4.0;
        let x0 = x_of(leg.start_ts_ns);
        let x1 = x_of(leg.end_ts_ns).max(x0 + 3.0);
        let failed = call.failed_leg == Some(i);
        let (fill, class) = if failed {
            ("#c62828", "leg failed")
        } else if !leg.ok {
            ("#ef9a9a", "leg bad")
        } else if leg.inferred {
            ("#bdbdbd", "leg context")
        } else {
            ("#66bb6a", "leg ok")
        };
        let text = lines.get(i).map_or("", |(_, t)| t.as_str());
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}</title></rect>"#,
            x1 - x0,
            lane_h - 8.0,
            Esc(text)
        );
        if failed {
            // After the bar, or inside its end when the bar reaches the right edge.
            let (x, anchor, fill) = if x1 + 64.0 <= w {
                (x1 + 4.0, "start", "#c62828")
            } else {
                (x1 - 4.0, "end", "#ffffff")
            };
            let _ = write!(
                out,
                r#"<text class="failmark" x="{x:.1}" y="{:.1}" text-anchor="{anchor}" fill="{fill}">✕ failed</text>"#,
                y + 11.0
            );
        }
    }
    let dur = (call.end_ts_ns - call.start_ts_ns) as f64 / 1e9;
    for k in 0..=4 {
        let x = left + plot_w * k as f64 / 4.0;
        let _ = write!(
            out,
            r#"<text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">+{}</text>"#,
            lane_h * 3.0 + 16.0,
            Esc(&seconds(dur * k as f64 / 4.0))
        );
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(230.0), 250.0);
        assert_eq!(short_number(1500.0, "B"), "1.5k B");
        assert_eq!(short_number(12.0, ""), "12");
    }
}
