//! `audit --format html`: one self-contained page for the people who act on an audit (the
//! firewall team's change request, the UC team's incident note). Inline CSS, SVG and a little
//! script only: no network access, no external fonts, scripts or images, so it opens from a
//! mail attachment, and it prints.
//!
//! The page: the headline; the map of the Edge ([`super::map`], drawn by [`super::svg`]) with
//! a table of its arrows and their flows; the violations grouped by verdict; the findings with
//! their evidence, fix and citation; traffic over time by verdict and by Edge service; the call
//! timelines as swimlanes; the flow table (the first [`FLOWS_SHOWN`], violations first then by
//! bytes, sortable and filterable in the page; every flow is in the JSON Lines report); the
//! rules never exercised; the inputs and the packet accounting.
//!
//! Written with `write!` into a `String`: the page is a few hundred kilobytes at most whatever
//! the capture's size, and a templating crate would add build time for no gain. Every text
//! that comes from a capture or a topology (SNI, certificate names, partner domains, file
//! names) is escaped by [`Esc`].

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use super::audit::Shown;
use super::map::{EdgeMap, Status};
use super::svg::{self, Series};
use crate::analysis::Analysis;
use crate::audit::{Answer, Audit, Headline};
use crate::flow::Flow;
use crate::judge::{interface_label, service_label, Judgement, Verdict};
use crate::matrix::Matrix;
use crate::select::Selection;

/// Rows of the flow table; the JSON Lines report has every flow.
pub const FLOWS_SHOWN: usize = 500;
/// Groups listed under each verdict of the violations.
const VIOLATIONS_SHOWN: usize = 50;
/// Evidence flows listed under each finding.
const EVIDENCE_SHOWN: usize = 20;
/// Calls drawn, those with a failed leg first.
const CALLS_SHOWN: usize = 20;
/// Flows listed under each arrow of the map, most bytes first.
const ARROW_FLOWS_SHOWN: usize = 10;
/// Bars of the traffic charts.
const BUCKETS: usize = 60;

/// Text escaped for HTML, in element content and in quoted attribute values alike.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

const STYLE: &str = r#"
:root { --ok: #2e7d32; --bad: #c62828; --warn: #ef6c00; --muted: #757575; --line: #e0e0e0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #212121; background: #fff; margin: 0 auto; max-width: 1680px; padding: 0 24px 48px; }
h1 { font-size: 24px; margin: 20px 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
code, .mono, td.addr { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.meta { color: var(--muted); margin: 0; }
nav { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 0; z-index: 2; }
nav a { margin-right: 14px; color: #1565c0; text-decoration: none; }
.headline { border-left: 8px solid var(--muted); padding: 10px 16px; background: #fafafa; margin-top: 16px; }
.headline.fail { border-color: var(--bad); background: #ffebee; }
.headline.pass { border-color: var(--ok); background: #e8f5e9; }
.headline.incomplete { border-color: var(--warn); background: #fff3e0; }
.headline .answer { font-size: 28px; font-weight: 700; }
.headline ul { margin: 6px 0 0; padding-left: 20px; }
.legend { display: flex; flex-wrap: wrap; gap: 18px; margin: 8px 0; align-items: center; }
.legend svg { vertical-align: middle; }
.mapbox { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
svg.map { width: 100%; height: auto; min-width: 1100px; display: block; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
svg.map .heading { font-size: 13px; font-weight: 700; fill: #424242; }
svg.map .note { font-size: 11px; fill: var(--muted); }
svg.map .title { font-size: 12.5px; font-weight: 700; fill: #212121; }
svg.map .addr { font-size: 11.5px; fill: #37474f; font-family: ui-monospace, Menlo, Consolas, monospace; }
svg.map .station rect { fill: #e3f2fd; stroke: #1565c0; }
svg.map .remote rect { fill: #f5f5f5; stroke: #9e9e9e; }
svg.map .pool rect { fill: #fffde7; stroke: #f9a825; stroke-dasharray: 5 3; }
svg.map .label, svg.map .count { font-size: 11.5px; paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
svg.map .count { font-weight: 600; }
svg.map .count.bad { font-weight: 700; }
svg.map .arrow { cursor: pointer; }
svg.map .arrow:hover path { stroke-width: 4; }
svg.map .arrow.unseen .label { fill: var(--muted); }
svg.map .arrow.violating .label, svg.map .arrow.undocumented .label { fill: var(--bad); font-weight: 600; }
svg.chart, svg.swimlanes { width: 100%; max-width: 960px; height: auto; display: block; }
svg .tick { font-size: 11px; fill: #616161; }
svg .failmark { font-size: 11px; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
table.violations { table-layout: fixed; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f5f5f5; font-weight: 600; position: sticky; top: 34px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#flow-table th { cursor: pointer; user-select: none; }
#flow-table th[aria-sort=ascending]::after { content: " ▲"; }
#flow-table th[aria-sort=descending]::after { content: " ▼"; }
tr.violation td.verdict, .bad { color: var(--bad); font-weight: 600; }
.ok { color: var(--ok); }
.muted { color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 4px; }
.finding { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 4px; padding: 8px 14px; margin: 10px 0; break-inside: avoid; }
.finding.error { border-left-color: var(--bad); }
.finding.warning { border-left-color: var(--warn); }
.finding.info { border-left-color: #1565c0; }
.finding h3 { margin: 2px 0 6px; }
.sev { text-transform: uppercase; font-size: 12px; font-weight: 700; margin-right: 6px; }
.finding .fix { background: #f1f8e9; padding: 4px 8px; border-radius: 3px; }
.finding .cite { color: var(--muted); font-size: 13px; }
.call { margin: 14px 0; break-inside: avoid; }
.call h3.failed { color: var(--bad); }
.call ol { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; margin: 4px 0; padding-left: 22px; }
.call li.failed { color: var(--bad); font-weight: 700; }
details > summary { cursor: pointer; color: #1565c0; }
input#flow-filter { font: inherit; padding: 4px 8px; width: 28em; max-width: 100%; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 11px; }
  nav, .noprint, input#flow-filter { display: none; }
  th { position: static; }
  .mapbox { overflow: visible; border: 0; padding: 0; }
  svg.map { min-width: 0; }
  h2 { break-after: avoid; }
  section { break-inside: auto; }
  a { color: inherit; }
}
"#;

/// Sorts the flow table by a clicked column, filters it by words, and opens an arrow's flows
/// when the arrow is clicked on the map. Marks the page `data-ready` once it has run, which the
/// browser test looks for.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var table = document.getElementById("flow-table");
  if (table && table.tHead && table.tBodies.length) {
    var heads = table.tHead.rows[0].cells;
    var body = table.tBodies[0];
    var key = function (cell) {
      var v = cell.getAttribute("data-v");
      return v !== null ? parseFloat(v) : cell.textContent.toLowerCase();
    };
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    var filter = document.getElementById("flow-filter");
    var count = document.getElementById("flow-count");
    if (filter) {
      filter.addEventListener("input", function () {
        var terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
        var n = 0;
        Array.prototype.forEach.call(body.rows, function (r) {
          var text = r.textContent.toLowerCase();
          var keep = terms.every(function (t) { return text.indexOf(t) >= 0; });
          r.hidden = !keep;
          if (keep) { n += 1; }
        });
        if (count) { count.textContent = String(n); }
      });
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("#edge-map [data-arrow]"), function (g) {
    g.addEventListener("click", function () {
      var row = document.getElementById("arrow-" + g.getAttribute("data-arrow"));
      if (!row) { return; }
      var details = row.querySelector("details");
      if (details) { details.open = true; }
      row.scrollIntoView({ block: "center" });
    });
  });
  document.body.setAttribute("data-ready", "1");
})();
"##;

/// Writes the page of an audit's flows, or of a display filter's selection.
pub fn write(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let page = page(analysis, audit, matrix, selection);
    out.write_all(page.as_bytes())
}

/// The page as text.
pub fn page(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
) -> String {
    let shown = Shown::new(analysis, audit, selection);
    let headline = Headline::of(analysis, audit, selection);
    let map = EdgeMap::build(analysis, audit, matrix, selection);
    let mut o = String::with_capacity(256 * 1024);
    let t = &audit.topology;
    let _ = write!(
        o,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="edgewise {}">
<title>{}: Edge audit of {}</title>
<style>{STYLE}</style>
</head>
<body class="{}">
<header><h1>Edge audit of site {}</h1>
"#,
        env!("CARGO_PKG_VERSION"),
        headline.answer.label(),
        Esc(&t.name),
        answer_class(headline.answer),
        Esc(&t.name)
    );
    meta(&mut o, analysis, audit, selection);
    o.push_str(
        r##"</header>
<nav class="noprint"><a href="#headline">Headline</a><a href="#map">Map</a><a href="#violations">Violations</a><a href="#findings">Findings</a><a href="#traffic">Traffic</a><a href="#calls">Calls</a><a href="#flows">Flows</a><a href="#coverage">Rules never exercised</a><a href="#inputs">Inputs</a></nav>
"##,
    );
    headline_section(&mut o, &headline);
    map_section(&mut o, &map, analysis, audit);
    violations_section(&mut o, analysis, audit, &shown);
    findings_section(&mut o, &shown);
    traffic_section(&mut o, analysis, audit, selection);
    calls_section(&mut o, &shown);
    flows_section(&mut o, analysis, &shown);
    coverage_section(&mut o, audit, matrix);
    inputs_section(&mut o, analysis);
    let _ = write!(
        o,
        r#"<footer>Written by edgewise {} from the capture alone; nothing in this page is fetched from the network. Every flow with its judgement: <code>edgewise audit … --format jsonl</code>.</footer>
<script>{SCRIPT}</script>
</body></html>
"#,
        env!("CARGO_PKG_VERSION")
    );
    o
}

fn answer_class(a: Answer) -> &'static str {
    match a {
        Answer::Pass => "pass",
        Answer::Fail => "fail",
        Answer::Incomplete => "incomplete",
    }
}

fn meta(o: &mut String, analysis: &Analysis, audit: &Audit, selection: Option<&Selection>) {
    let t = &audit.topology;
    let origin = match t.origin {
        crate::audit::Origin::File => "",
        crate::audit::Origin::BundledSample => " (assumed: no --topology given)",
        crate::audit::Origin::Inferred => " (inferred from the capture: no --topology given)",
    };
    let _ = write!(
        o,
        r#"<p class="meta">{} · scenario {} · topology <code>{}</code>{}</p>"#,
        Esc(&t.product),
        Esc(&t.scenario),
        Esc(&t.source),
        origin
    );
    let inputs: Vec<String> = analysis
        .inputs
        .iter()
        .map(|i| format!("{} ({} packets)", i.name, i.packets))
        .collect();
    let span = match (analysis.first_ts_ns, analysis.last_ts_ns) {
        (Some(a), Some(b)) => format!(
            "{} to {} ({:.1} s)",
            super::time::rfc3339(a),
            super::time::rfc3339(b),
            (b - a) as f64 / 1e9
        ),
        _ => "no packets".into(),
    };
    let _ = write!(
        o,
        r#"<p class="meta">captures {} · {} · {} flows, {} rules apply</p>"#,
        Esc(&inputs.join(", ")),
        Esc(&span),
        analysis.flows.len(),
        audit.applicable_rules
    );
    if let Some(s) = selection {
        let _ = write!(
            o,
            r#"<p class="meta">display filter <code>{}</code> kept {} of {} flows; rule coverage and the accounting cover the whole capture</p>"#,
            Esc(&s.expression),
            s.kept.len(),
            s.total
        );
    }
}

fn headline_section(o: &mut String, h: &Headline) {
    let lines = h.lines();
    let _ = write!(
        o,
        r#"<section id="headline" class="headline {}"><div class="answer">{}</div>"#,
        answer_class(h.answer),
        Esc(lines.first().map_or("", String::as_str))
    );
    if lines.len() > 1 {
        o.push_str("<ul>");
        for l in &lines[1..] {
            let _ = write!(o, "<li>{}</li>", Esc(l.trim()));
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

/// A legend swatch: a short arrow in the status' colour and dash.
fn swatch(o: &mut String, s: Status) {
    let dash = match s {
        Status::Unseen => r#" stroke-dasharray="6 4""#,
        Status::Undocumented => r#" stroke-dasharray="10 3""#,
        _ => "",
    };
    let _ = write!(
        o,
        r#"<svg width="34" height="10" aria-hidden="true"><line x1="1" y1="5" x2="33" y2="5" stroke="{}" stroke-width="3"{dash}/></svg>"#,
        svg::status_colour(s)
    );
}

fn map_section(o: &mut String, map: &EdgeMap, analysis: &Analysis, audit: &Audit) {
    o.push_str(r#"<section id="map"><h2>Map of the Edge</h2>"#);
    o.push_str(
        r#"<p>Every flow the port matrix documents for this site is an arrow, pointing the way the connection opens, with its protocol, transport and port; the count is what the capture showed on it. Click an arrow for its flows.</p><div class="legend">"#,
    );
    let counts = map.counts();
    for s in [
        Status::Seen,
        Status::Violating,
        Status::Unseen,
        Status::Undocumented,
    ] {
        o.push_str("<span>");
        swatch(o, s);
        let _ = write!(
            o,
            " {} ({})</span>",
            s.label(),
            counts.get(&s).copied().unwrap_or(0)
        );
    }
    let _ = write!(
        o,
        r#"<span class="muted">a loop round the Edge: a host that reached the Edge from the wrong side (a NAT hairpin)</span><span class="muted">{} flows touch no address of the Edge and are not drawn</span></div>"#,
        map.off_map
    );
    o.push_str(r#"<div class="mapbox">"#);
    svg::map(map, o);
    o.push_str("</div>");
    // The arrows as a table: what each stands for, and its flows.
    o.push_str(
        r#"<h3>Arrows</h3><table id="arrows"><thead><tr><th>status</th><th>from → to</th><th>protocol and ports</th><th class="num">flows</th><th class="num">bytes</th><th>rules</th></tr></thead><tbody>"#,
    );
    for (i, a) in map.arrows.iter().enumerate() {
        let s = a.status();
        let _ = write!(
            o,
            r#"<tr id="arrow-{i}" class="{}"><td><span class="swatch" style="background:{}"></span>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="mono">{}"#,
            s.class(),
            svg::status_colour(s),
            s.label(),
            Esc(&a.ends_label()),
            Esc(&a.label()),
            Esc(&a.counts_label()),
            a.bytes,
            Esc(&match a.kind {
                // The rules nearest to the violations, which they break.
                super::map::Kind::Undocumented(_) if !a.rules().is_empty() => {
                    format!("nearest: {}", a.rules().join(" "))
                }
                _ => a.rules().join(" "),
            })
        );
        if !a.flows.is_empty() {
            let mut top: Vec<usize> = a.flows.clone();
            let by_bytes =
                |i: &usize| std::cmp::Reverse(analysis.flows.get(*i).map_or(0, Flow::wire_bytes));
            if top.len() > ARROW_FLOWS_SHOWN {
                top.select_nth_unstable_by_key(ARROW_FLOWS_SHOWN - 1, by_bytes);
                top.truncate(ARROW_FLOWS_SHOWN);
            }
            top.sort_by_key(by_bytes);
            let _ = write!(
                o,
                r#"<details><summary>{} flow{}{}</summary><ul class="mono">"#,
                a.flows.len(),
                if a.flows.len() == 1 { "" } else { "s" },
                if a.flows.len() > ARROW_FLOWS_SHOWN {
                    format!(", the {ARROW_FLOWS_SHOWN} with the most bytes")
                } else {
                    String::new()
                }
            );
            for i in top {
                let (Some(f), Some(j)) = (analysis.flows.get(i), audit.judgements.get(i)) else {
                    continue;
                };
                let _ = write!(
                    o,
                    "<li>{} {} → {} {} packets, {} bytes, {} <span class=\"{}\">{}</span></li>",
                    crate::net::transport_name(f.protocol),
                    Esc(&endpoint(f.initiator)),
                    Esc(&endpoint(f.responder)),
                    f.packets(),
                    f.wire_bytes(),
                    f.conn_state(),
                    if j.verdict.is_violation() {
                        "bad"
                    } else {
                        "ok"
                    },
                    j.verdict.label()
                );
            }
            o.push_str("</ul></details>");
        }
        o.push_str("</td></tr>");
    }
    o.push_str("</tbody></table></section>\n");
}

fn endpoint(e: crate::flow::Endpoint) -> String {
    match e.ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{}", e.port),
        ip => format!("{ip}:{}", e.port),
    }
}

fn payload<'a>(analysis: &'a Analysis, f: &Flow) -> Option<&'a str> {
    analysis
        .identification(f)
        .filter(|i| i.protocol != crate::identify::Protocol::Unknown)
        .map(|i| i.summary.as_str())
}

/// The violations of one verdict at one service: a responder's address and port (media ports
/// as their range), opened from one side of the Edge (inside or outside).
struct ViolationGroup<'a> {
    flows: Vec<(&'a Flow, &'a Judgement)>,
    count: usize,
    bytes: u64,
    initiators: std::collections::HashSet<std::net::IpAddr>,
}

/// Distinct initiators counted per group, at most (then "N+").
const INITIATORS_COUNTED: usize = 10_000;
/// Example flows listed per group.
const GROUP_FLOWS_SHOWN: usize = 5;

fn violations_section(o: &mut String, analysis: &Analysis, audit: &Audit, shown: &Shown<'_>) {
    o.push_str(r#"<section id="violations"><h2>Violations</h2>"#);
    let media = audit.site.port(crate::matrix::ServicePort::Media);
    type Key = (u8, std::net::IpAddr, String, bool);
    let mut by: BTreeMap<Verdict, (usize, BTreeMap<Key, ViolationGroup<'_>>)> = BTreeMap::new();
    for (f, j) in &shown.flows {
        // Flows a firewall log says it denied are the firewall's doing (FW2), not violations.
        if !j.verdict.is_violation() || audit.flow_denied(analysis, f) {
            continue;
        }
        let port = f.responder.port;
        let ports = if matches!(media, crate::matrix::PortSpec::Range(..)) && media.matches(port) {
            media.to_string()
        } else {
            port.to_string()
        };
        let (total, groups) = by.entry(j.verdict).or_default();
        *total += 1;
        let g = groups
            .entry((
                f.protocol,
                f.responder.ip,
                ports,
                audit.site.is_internal_host(f.initiator.ip),
            ))
            .or_insert_with(|| ViolationGroup {
                flows: Vec::new(),
                count: 0,
                bytes: 0,
                initiators: Default::default(),
            });
        g.count += 1;
        g.bytes += f.wire_bytes();
        if g.flows.len() < GROUP_FLOWS_SHOWN {
            g.flows.push((f, j));
        }
        if g.initiators.len() < INITIATORS_COUNTED {
            g.initiators.insert(f.initiator.ip);
        }
    }
    if by.is_empty() {
        o.push_str(
            r#"<p class="ok">None: the matrix permits every flow that touched the Edge.</p>"#,
        );
    } else {
        o.push_str("<p>By verdict, then by the address and port they reached and the side of the Edge they came from, most flows first; each with the reason of its first flow and its first flows.</p>");
    }
    for (v, (total, groups)) in &by {
        let _ = write!(
            o,
            r#"<h3 class="verdict-{}"><span class="swatch" style="background:{}"></span>{} ({} flow{})</h3><table class="violations"><colgroup><col style="width:22em"><col></colgroup><thead><tr><th>reached</th><th>why</th></tr></thead><tbody>"#,
            v.label(),
            svg::verdict_colour(*v),
            v.label(),
            total,
            if *total == 1 { "" } else { "s" }
        );
        let mut groups: Vec<(&Key, &ViolationGroup)> = groups.iter().collect();
        groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        for ((transport, ip, ports, inside), g) in groups.iter().take(VIOLATIONS_SHOWN) {
            let Some((f, j)) = g.flows.first() else {
                continue;
            };
            let hosts = g.initiators.len();
            let _ = write!(
                o,
                r#"<tr class="violation"><td class="addr">{} → {}{}<br><span class="muted">{} flow{} from {}{} {} host{}, {} bytes</span></td><td>{}"#,
                crate::net::transport_name(*transport),
                Esc(&match ip {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    ip => ip.to_string(),
                }),
                Esc(&format!(":{ports}")),
                g.count,
                if g.count == 1 { "" } else { "s" },
                hosts,
                if hosts >= INITIATORS_COUNTED { "+" } else { "" },
                if *inside { "internal" } else { "external" },
                if hosts == 1 { "" } else { "s" },
                g.bytes,
                Esc(&j.reason.of(f).to_string())
            );
            if let Some(p) = payload(analysis, f) {
                let _ = write!(o, r#"<br><span class="muted">payload: {}</span>"#, Esc(p));
            }
            if g.count > 1 {
                let _ = write!(
                    o,
                    r#"<details><summary>its first {} flows</summary><ul class="mono">"#,
                    g.flows.len()
                );
                for (f, _) in &g.flows {
                    let _ = write!(
                        o,
                        "<li>{} {} → {}, {} packets, {} bytes, {}</li>",
                        crate::net::transport_name(f.protocol),
                        Esc(&endpoint(f.initiator)),
                        Esc(&endpoint(f.responder)),
                        f.packets(),
                        f.wire_bytes(),
                        f.conn_state()
                    );
                }
                o.push_str("</ul></details>");
            } else {
                let _ = write!(
                    o,
                    r#"<br><span class="muted mono">{} {} → {}, {} packets, {}</span>"#,
                    crate::net::transport_name(f.protocol),
                    Esc(&endpoint(f.initiator)),
                    Esc(&endpoint(f.responder)),
                    f.packets(),
                    f.conn_state()
                );
            }
            o.push_str("</td></tr>");
        }
        o.push_str("</tbody></table>");
        if groups.len() > VIOLATIONS_SHOWN {
            let _ = write!(
                o,
                r#"<p class="muted">… and {} more groups of {} flows: every flow is in <code>--format jsonl</code>.</p>"#,
                groups.len() - VIOLATIONS_SHOWN,
                v.label()
            );
        }
    }
    o.push_str("</section>\n");
}

fn findings_section(o: &mut String, shown: &Shown<'_>) {
    let d = &*shown.diagnosis;
    o.push_str(r#"<section id="findings"><h2>Findings</h2>"#);
    if d.findings.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        let _ = write!(
            o,
            "<p>{} error, {} warning, {} info.</p>",
            d.count(crate::diagnose::Severity::Error),
            d.count(crate::diagnose::Severity::Warning),
            d.count(crate::diagnose::Severity::Info)
        );
    }
    for f in &d.findings {
        let sev = f.severity.label();
        let _ = write!(
            o,
            r#"<article class="finding {sev}" id="finding-{}"><h3><span class="sev">{sev}</span>{} {}</h3><p>{}</p><p class="fix"><strong>Fix:</strong> {}</p><p class="cite">Source: {} · confidence {}</p>"#,
            Esc(f.id),
            Esc(f.id),
            Esc(&f.title),
            Esc(&f.explanation),
            Esc(&f.fix),
            Esc(f.citation),
            format!("{:?}", f.confidence).to_lowercase()
        );
        if !f.evidence.is_empty() {
            o.push_str(r#"<table class="evidence"><thead><tr><th>evidence flow</th><th>frames</th><th>what decided</th></tr></thead><tbody>"#);
            for e in f.evidence.iter().take(EVIDENCE_SHOWN) {
                let frames = match (e.first_frame, e.last_frame) {
                    (Some(a), Some(b)) => format!("{a}-{b}"),
                    _ => "?".into(),
                };
                let _ = write!(
                    o,
                    r#"<tr><td class="addr">{} {} → {}</td><td>{}</td><td>{}</td></tr>"#,
                    Esc(&e.transport.to_string()),
                    Esc(&e.initiator.to_string()),
                    Esc(&e.responder.to_string()),
                    frames,
                    Esc(&e.detail.to_string())
                );
            }
            o.push_str("</tbody></table>");
            if f.evidence.len() > EVIDENCE_SHOWN {
                let _ = write!(
                    o,
                    r#"<p class="muted">… and {} more flows.</p>"#,
                    f.evidence.len() - EVIDENCE_SHOWN
                );
            }
        }
        o.push_str("</article>");
    }
    if !d.skipped.is_empty() {
        o.push_str("<h3>Checks skipped</h3><ul>");
        for s in &d.skipped {
            let _ = write!(
                o,
                "<li>{} {}: needs {}</li>",
                Esc(s.id),
                Esc(s.title),
                Esc(&s.needs)
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

/// Colours of the Edge services in the traffic chart.
fn service_colour(label: &str) -> &'static str {
    match label {
        "Access Edge" => "#1565c0",
        "Web Conferencing Edge" => "#6a1b9a",
        "A/V Edge" => "#00838f",
        "Edge internal interface" => "#ef6c00",
        "XMPP proxy" => "#5d4037",
        "reverse proxy" => "#455a64",
        _ => "#bdbdbd",
    }
}

fn traffic_section(
    o: &mut String,
    analysis: &Analysis,
    audit: &Audit,
    selection: Option<&Selection>,
) {
    o.push_str(r#"<section id="traffic"><h2>Traffic over time</h2>"#);
    let (Some(first), Some(last)) = (analysis.first_ts_ns, analysis.last_ts_ns) else {
        o.push_str("<p>No packets.</p></section>\n");
        return;
    };
    let step = ((last - first) / BUCKETS as i64 + 1).max(1);
    let mut by_verdict: BTreeMap<Verdict, Vec<f64>> = BTreeMap::new();
    let mut by_service: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for i in crate::select::shown(selection, analysis.flows.len()) {
        let (Some(f), Some(j)) = (analysis.flows.get(i), audit.judgements.get(i)) else {
            continue;
        };
        let b = (((f.first_ts_ns() - first) / step).max(0) as usize).min(BUCKETS - 1);
        by_verdict
            .entry(j.verdict)
            .or_insert_with(|| vec![0.0; BUCKETS])[b] += 1.0;
        let service = j.edge_service.map_or("no Edge service", service_label);
        by_service
            .entry(service)
            .or_insert_with(|| vec![0.0; BUCKETS])[b] += f.wire_bytes() as f64;
    }
    if by_verdict.is_empty() {
        o.push_str("<p>No flows.</p></section>\n");
        return;
    }
    o.push_str(
        "<h3>Flows by verdict</h3><p class=\"muted\">Flows started in each interval, stacked by verdict.</p><div class=\"legend\">",
    );
    // Violations on top of the stack, where they catch the eye.
    let mut verdicts: Vec<Verdict> = by_verdict.keys().copied().collect();
    verdicts.sort_by_key(|v| (v.is_violation(), *v));
    for v in &verdicts {
        let _ = write!(
            o,
            r#"<span><span class="swatch" style="background:{}"></span>{}</span>"#,
            svg::verdict_colour(*v),
            v.label()
        );
    }
    o.push_str("</div>");
    let series: Vec<Series> = verdicts
        .iter()
        .map(|v| Series {
            name: v.label().to_string(),
            colour: svg::verdict_colour(*v),
            values: by_verdict[v].clone(),
        })
        .collect();
    svg::stacked_bars(
        o,
        "chart-verdicts",
        "Flows started over time, by verdict",
        "",
        first,
        step,
        &series,
    );
    o.push_str(
        "<h3>Bytes by Edge service</h3><p class=\"muted\">Bytes of the flows started in each interval, stacked by the Edge service they reached.</p><div class=\"legend\">",
    );
    for name in by_service.keys() {
        let _ = write!(
            o,
            r#"<span><span class="swatch" style="background:{}"></span>{}</span>"#,
            service_colour(name),
            Esc(name)
        );
    }
    o.push_str("</div>");
    let series: Vec<Series> = by_service
        .iter()
        .map(|(name, values)| Series {
            name: (*name).to_string(),
            colour: service_colour(name),
            values: values.clone(),
        })
        .collect();
    svg::stacked_bars(
        o,
        "chart-services",
        "Bytes over time, by Edge service",
        "B",
        first,
        step,
        &series,
    );
    o.push_str("</section>\n");
}

fn calls_section(o: &mut String, shown: &Shown<'_>) {
    let d = &*shown.diagnosis;
    o.push_str(r#"<section id="calls"><h2>Calls</h2>"#);
    if d.media_without_allocation > 0 {
        let _ = write!(
            o,
            "<p>Media on relay ports whose allocation came before the capture: {} flows (in no call).</p>",
            d.media_without_allocation
        );
    }
    if d.calls.is_empty() {
        o.push_str("<p>No call in this capture (a call is a TURN allocation on the A/V Edge with its relayed media, or a failed SIP/MTLS 5061 connection with a partner).</p></section>\n");
        return;
    }
    let failed = d.calls.iter().filter(|c| c.failed_leg.is_some()).count();
    let _ = write!(
        o,
        "<p>{} call{}, {} with a failed leg{}. Each call's legs on three lanes: signalling, allocation, media; the failed leg in red with a cross, shared federation connections (context) in grey.</p>",
        d.calls.len(),
        if d.calls.len() == 1 { "" } else { "s" },
        failed,
        if d.calls.len() > CALLS_SHOWN {
            format!("; the first {CALLS_SHOWN} are drawn, failed first, and every call is in --format jsonl")
        } else {
            String::new()
        }
    );
    let calls = d
        .calls
        .iter()
        .filter(|c| c.failed_leg.is_some())
        .chain(d.calls.iter().filter(|c| c.failed_leg.is_none()))
        .take(CALLS_SHOWN);
    for c in calls {
        let _ = write!(
            o,
            r#"<div class="call"><h3 class="{}">{}</h3>"#,
            if c.failed_leg.is_some() {
                "failed"
            } else {
                "ok"
            },
            Esc(&c.heading())
        );
        svg::swimlanes(o, c);
        o.push_str("<ol>");
        for (k, (_, line)) in c.leg_lines().iter().enumerate() {
            let _ = write!(
                o,
                r#"<li{}>{}</li>"#,
                if c.failed_leg == Some(k) {
                    r#" class="failed""#
                } else {
                    ""
                },
                Esc(line)
            );
        }
        o.push_str("</ol></div>");
    }
    o.push_str("</section>\n");
}

fn flows_section(o: &mut String, analysis: &Analysis, shown: &Shown<'_>) {
    let total = shown.flows.len();
    let n = total.min(FLOWS_SHOWN);
    let _ = write!(
        o,
        r#"<section id="flows"><h2>Flows</h2><p>{}</p><p class="noprint"><input id="flow-filter" type="search" placeholder="filter: address, port, protocol, verdict…" aria-label="filter the flows"> <span id="flow-count">{n}</span> shown; click a heading to sort.</p>"#,
        if total > FLOWS_SHOWN {
            format!(
                "The first {FLOWS_SHOWN} of {total} flows, violations first, then by bytes. Every flow with its judgement is in the JSON Lines report beside this page: <code>edgewise audit … --format jsonl -o flows.jsonl</code>."
            )
        } else {
            format!("All {total} flows, violations first, then by bytes.")
        }
    );
    o.push_str(r#"<table id="flow-table"><thead><tr><th class="num">#</th><th class="num">start s</th><th>verdict</th><th>tx</th><th>initiator</th><th>responder</th><th>Edge</th><th>protocol</th><th>payload</th><th class="num">packets</th><th class="num">bytes</th><th>state</th></tr></thead><tbody>"#);
    let first = analysis.first_ts_ns.unwrap_or(0);
    for (f, j) in shown.flows.iter().take(FLOWS_SHOWN) {
        let start = (f.first_ts_ns() - first) as f64 / 1e9;
        let mut init = endpoint(f.initiator);
        if !f.initiator_by.is_certain() {
            init.push('?');
        }
        let edge = match (j.edge_interface, j.edge_service) {
            // The internal interface's own services need no second word.
            (Some(i), Some(crate::matrix::Service::Internal) | None) => {
                interface_label(i).to_string()
            }
            (Some(i), Some(s)) => format!("{} / {}", interface_label(i), service_label(s)),
            _ => "-".into(),
        };
        let payload = payload(analysis, f).unwrap_or("");
        let payload: String = if payload.chars().count() > 140 {
            let mut p: String = payload.chars().take(139).collect();
            p.push('…');
            p
        } else {
            payload.to_string()
        };
        let _ = write!(
            o,
            r#"<tr class="{}"><td class="num" data-v="{}">{}</td><td class="num" data-v="{start:.6}">{start:.3}</td><td class="verdict">{}</td><td>{}</td><td class="addr">{}</td><td class="addr">{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num" data-v="{}">{}</td><td class="num" data-v="{}">{}</td><td>{}</td></tr>"#,
            if j.verdict.is_violation() {
                "violation"
            } else {
                "permitted"
            },
            f.id,
            f.id,
            j.verdict.label(),
            crate::net::transport_name(f.protocol),
            Esc(&init),
            Esc(&endpoint(f.responder)),
            edge,
            Esc(if j.documented.is_empty() {
                "-"
            } else {
                &j.documented
            }),
            Esc(&payload),
            f.packets(),
            f.packets(),
            f.wire_bytes(),
            f.wire_bytes(),
            f.conn_state()
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn coverage_section(o: &mut String, audit: &Audit, matrix: &Matrix) {
    let never = &audit.coverage.never_exercised;
    let _ = write!(
        o,
        r#"<section id="coverage"><h2>Rules never exercised</h2><p>{} of the {} documented rules that apply to this site saw no flow. A documented flow that never appears can be a firewall block, or a feature not in use.</p>"#,
        never.len(),
        audit.applicable_rules
    );
    if !never.is_empty() {
        o.push_str(r#"<table><thead><tr><th>rule</th><th>protocol</th><th>interface</th><th>transport and port</th><th>source</th></tr></thead><tbody>"#);
        for r in never.iter().filter_map(|id| matrix.rule(id)) {
            let _ = write!(
                o,
                r#"<tr><td class="mono">{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td></tr>"#,
                Esc(&r.id),
                Esc(&r.protocol),
                interface_label(r.interface),
                format!("{:?}", r.transport).to_lowercase(),
                r.dst_port,
                Esc(&r
                    .sources
                    .first()
                    .map(|s| format!("{} {}", s.doc, s.table))
                    .unwrap_or_default())
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>\n");
}

fn inputs_section(o: &mut String, analysis: &Analysis) {
    o.push_str(r#"<section id="inputs"><h2>Inputs and packet accounting</h2><table><thead><tr><th>input</th><th>format</th><th class="num">packets</th><th>read</th></tr></thead><tbody>"#);
    for i in &analysis.inputs {
        let read = match (&i.error, &i.stop) {
            (Some(e), _) => format!("not read: {e}"),
            (None, Some(s)) => format!("stopped: {s}"),
            (None, None) => "whole".into(),
        };
        let _ = write!(
            o,
            r#"<tr><td class="mono">{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            Esc(&i.name),
            Esc(i.format.unwrap_or("?")),
            i.packets,
            Esc(&read)
        );
    }
    o.push_str("</tbody></table>");
    let acc = &analysis.accounting;
    let _ = write!(
        o,
        r#"<table><thead><tr><th>packets</th><th class="num">packets</th><th class="num">bytes</th></tr></thead><tbody><tr><td>read</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
        acc.packets, acc.wire_bytes
    );
    for (name, t) in &acc.buckets {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            Esc(name),
            t.packets,
            t.wire_bytes
        );
    }
    o.push_str("</tbody></table>");
    if acc.balanced() {
        o.push_str(r#"<p class="ok">Every packet read is accounted for.</p>"#);
    } else {
        for m in &acc.mismatches {
            let _ = write!(o, r#"<p class="bad">Mismatch: {}</p>"#, Esc(m));
        }
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            Esc(r#"<script>alert("x&y")</script>'"#).to_string(),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(Esc("plain").to_string(), "plain");
        assert_eq!(Esc("").to_string(), "");
    }
}
