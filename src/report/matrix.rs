//! `edgewise matrix`: the documented flows that apply to a site as a firewall change request,
//! one table per firewall (external, internal) with the site's addresses and ports filled in,
//! each flow once with every document that describes it; `--sources` lists the documents.
//! CSV and JSON keep one row per matrix rule (docs/SCHEMA.md), each naming the flow it belongs to.

use std::io::{self, Write};

use serde::Serialize;

use super::documented::{documented_flows, DocumentedFlow, Firewall, Status};
use super::words::{self, WIDTH};
use crate::judge::{interface_label, Judge};
use crate::matrix::{Document, PortSpec, DOCUMENTS};
use crate::topology::{SiteScenario, Topology};

/// One matrix rule as a concrete firewall rule for the site (CSV and JSON).
#[derive(Debug, Serialize)]
pub struct FirewallRule {
    pub id: String,
    pub interface: &'static str,
    pub protocol: String,
    pub transport: String,
    pub source: Vec<String>,
    pub source_port: String,
    pub destination: Vec<String>,
    pub destination_port: String,
    pub direction: String,
    pub verdict: String,
    pub feature: Option<String>,
    /// Every document row the rule is read from: author and title, table heading, the row as
    /// written.
    pub document: String,
    pub note: String,
    pub decisions: Vec<String>,
    /// The number of the documented flow the rule belongs to, as `edgewise matrix` lists it.
    pub flow: usize,
    /// `external` or `internal`: the firewall the flow crosses.
    pub firewall: &'static str,
    /// The flow is one the site should open (its feature is on, its roles exist, no document
    /// contradicts it).
    pub requested: bool,
    /// Why the flow is not requested; null when it is.
    pub not_requested_because: Option<String>,
}

fn id_text<T: Serialize>(v: T) -> String {
    super::audit::id_of(v)
}

/// The documented flows in the order the text lists and numbers them: the flows to open,
/// external firewall first, then the others.
fn numbered<'a>(judge: &Judge<'a>) -> Vec<DocumentedFlow<'a>> {
    let mut flows = documented_flows(judge);
    // Stable: the flows to open keep their order, the others are grouped by why.
    flows.sort_by_key(|f| match &f.status {
        Status::Open { .. } => (0, String::new()),
        other => (1, other.why(judge.topology).unwrap_or_default()),
    });
    flows
}

pub fn firewall_rules(judge: &Judge<'_>) -> Vec<FirewallRule> {
    let topo = judge.topology;
    let flows = numbered(judge);
    let mut out = Vec::new();
    for &r in judge.applicable() {
        let Some((n, flow)) = flows
            .iter()
            .enumerate()
            .find(|(_, f)| f.rules.iter().any(|x| x.id == r.id))
        else {
            continue;
        };
        let internal = Firewall::of(r.interface) == Firewall::Internal;
        let side = |roles: &[crate::matrix::Role]| {
            let own = flow_side_of(topo, roles, internal);
            if own.is_empty() {
                vec!["(not in the topology)".to_string()]
            } else {
                own
            }
        };
        out.push(FirewallRule {
            id: r.id.clone(),
            interface: interface_label(r.interface),
            protocol: r.protocol.clone(),
            transport: format!("{:?}", r.transport).to_uppercase(),
            source: side(&r.src),
            source_port: port(topo, r.src_port),
            destination: side(&r.dst),
            destination_port: port(topo, r.dst_port),
            direction: id_text(r.direction),
            verdict: id_text(r.verdict),
            feature: r.feature.map(|f| {
                format!(
                    "{}{}",
                    super::documented::feature_name(f),
                    if topo.feature(f) { "" } else { " (off)" }
                )
            }),
            document: r
                .citations()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            note: r.note.clone(),
            decisions: r.decisions.clone(),
            flow: n + 1,
            firewall: flow.firewall.id(),
            requested: matches!(flow.status, Status::Open { .. }),
            not_requested_because: flow.status.why(topo),
        });
    }
    out
}

/// One side of one rule, the site's addresses filled in (`any`, `any internal host`, addresses).
fn flow_side_of(topo: &Topology, roles: &[crate::matrix::Role], internal: bool) -> Vec<String> {
    super::documented::peers(topo, roles, internal).list()
}

fn port(topo: &Topology, p: PortSpec) -> String {
    match p {
        PortSpec::Named(sp) => topo.port(sp).to_string(),
        other => other.to_string(),
    }
}

/// The site in words: `site 'contoso' (Skype for Business Server 2015, single Edge)`.
pub fn site_words(t: &Topology) -> String {
    let scenario = match t.scenario {
        SiteScenario::Single => "single Edge",
        SiteScenario::ScaledDns => "DNS-load-balanced Edge pool",
        SiteScenario::Hlb => "hardware-load-balanced Edge pool",
    };
    format!(
        "site '{}' ({}, {scenario})",
        t.name,
        t.product.product_name()
    )
}

/// A text table: columns of cells that may hold several lines, left-aligned, two spaces apart.
struct Grid {
    widths: Vec<usize>,
}

impl Grid {
    fn new(header: &[&str], rows: &[Vec<Vec<String>>]) -> Grid {
        let mut widths: Vec<usize> = header.iter().map(|h| words::width(h)).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                for line in cell {
                    if let Some(w) = widths.get_mut(i) {
                        *w = (*w).max(words::width(line));
                    }
                }
            }
        }
        Grid { widths }
    }

    fn total(&self, indent: usize) -> usize {
        indent + self.widths.iter().sum::<usize>() + 2 * self.widths.len().saturating_sub(1)
    }

    fn write_row(
        &self,
        out: &mut dyn Write,
        indent: &str,
        cells: &[Vec<String>],
    ) -> io::Result<()> {
        let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for k in 0..height {
            let mut line = indent.to_string();
            for (i, w) in self.widths.iter().enumerate() {
                let text = cells
                    .get(i)
                    .and_then(|c| c.get(k))
                    .map_or("", String::as_str);
                if i + 1 == self.widths.len() {
                    line.push_str(text);
                } else {
                    line.push_str(text);
                    line.push_str(&" ".repeat(w - words::width(text) + 2));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// The cells of a documented flow in the change request: number, source, destination,
/// transport, port, direction.
fn cells(n: usize, f: &DocumentedFlow<'_>) -> Vec<Vec<String>> {
    let mut source = f.src.words();
    if f.src_port != PortSpec::Any {
        source.push(format!("(from port {})", f.src_port));
    }
    let destination = f.dst.words();
    let direction = if matches!(
        f.direction,
        crate::matrix::Direction::InboundToEdge | crate::matrix::Direction::InboundToReverseProxy
    ) {
        "inbound"
    } else {
        "outbound"
    };
    vec![
        vec![format!("{n}.")],
        source,
        destination,
        vec![super::documented::transport_name(f.transport).to_string()],
        vec![f.dst_port.to_string()],
        vec![direction.to_string()],
    ]
}

const HEADER: [&str; 6] = [
    "#",
    "source",
    "destination",
    "transport",
    "port",
    "direction",
];

/// What the flow is for and where the documents say so, beneath its row.
fn write_beneath(
    out: &mut dyn Write,
    f: &DocumentedFlow<'_>,
    judge: &Judge<'_>,
    width: Option<usize>,
) -> io::Result<()> {
    let what = format!(
        "{} {} ({}): {}",
        crate::judge::service_label(f.service),
        f.protocols().join(" or "),
        interface_label(f.interface),
        f.purpose()
    );
    words::write_wrapped(
        out,
        what.trim_end_matches(": "),
        width,
        "      for: ",
        "           ",
    )?;
    if let Status::Open { with_note: true } = f.status {
        for d in f.rules.iter().flat_map(|r| &r.decisions).take(1) {
            if let Some(dec) = judge.matrix.decision(d) {
                words::write_wrapped(out, &dec.note, width, "      note: ", "            ")?;
            }
        }
    }
    for (i, c) in f.citations().iter().enumerate() {
        let first = if i == 0 {
            "      cites: "
        } else {
            "             "
        };
        words::write_wrapped(out, &c.short(), width, first, "               ")?;
    }
    Ok(())
}

/// The change request, per firewall, then the documented flows not requested and why.
pub fn write_text(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    write_text_with(judge, Some(WIDTH), out)
}

/// [`write_text`] at a width (`None`: unwrapped).
pub fn write_text_with(
    judge: &Judge<'_>,
    width: Option<usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let t = judge.topology;
    let flows = numbered(judge);
    let open = flows
        .iter()
        .filter(|f| matches!(f.status, Status::Open { .. }))
        .count() as u64;
    let apart = flows.len() as u64 - open;
    let docs: std::collections::BTreeSet<&str> = judge
        .applicable()
        .iter()
        .flat_map(|r| r.sources.iter().map(|s| s.doc.as_str()))
        .collect();
    let intro = format!(
        "Firewall change request for {} from {}: {} to open, read from {} of {}{}. Ports are the \
         site's own ([ports] of the topology, the documented defaults otherwise). `edgewise matrix \
         --sources` lists the documents.",
        site_words(t),
        t.source,
        words::count(open, "documented flow"),
        words::count(judge.applicable().len() as u64, "rule"),
        words::count(docs.len() as u64, "document"),
        if apart > 0 {
            format!("; {apart} more not requested, listed last with why")
        } else {
            String::new()
        }
    );
    words::write_wrapped(out, &intro, width, "", "")?;
    let mut n = 0;
    for firewall in [Firewall::External, Firewall::Internal] {
        let these: Vec<(usize, &DocumentedFlow)> = flows
            .iter()
            .enumerate()
            .filter(|(_, f)| f.firewall == firewall && matches!(f.status, Status::Open { .. }))
            .collect();
        if these.is_empty() {
            continue;
        }
        writeln!(out)?;
        words::write_wrapped(
            out,
            &format!(
                "{} ({}): {}",
                firewall.title(),
                firewall.what(),
                words::count(these.len() as u64, "flow")
            ),
            width,
            "",
            "  ",
        )?;
        let rows: Vec<Vec<Vec<String>>> = these.iter().map(|(i, f)| cells(i + 1, f)).collect();
        let grid = Grid::new(&HEADER, &rows);
        let fits = width.is_none_or(|w| grid.total(2) <= w);
        if fits {
            grid.write_row(out, "  ", &HEADER.map(|h| vec![h.to_string()]))?;
        }
        for ((_, f), row) in these.iter().zip(&rows) {
            n += 1;
            if fits {
                grid.write_row(out, "  ", row)?;
            } else {
                // Too wide for the terminal (long IPv6 addresses): one field a line.
                for (h, cell) in HEADER.iter().zip(row).skip(1) {
                    words::write_wrapped(
                        out,
                        &cell.join(", "),
                        width,
                        &format!("{:>4} {h}: ", if *h == "source" { &row[0][0] } else { "" }),
                        "        ",
                    )?;
                }
            }
            write_beneath(out, f, judge, width)?;
        }
    }
    let rest: Vec<(usize, &DocumentedFlow)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| !matches!(f.status, Status::Open { .. }))
        .collect();
    if !rest.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Not requested: {}",
            words::count(rest.len() as u64, "documented flow")
        )?;
        let mut whys: Vec<String> = Vec::new();
        for (_, f) in &rest {
            let why = f.status.why(t).unwrap_or_default();
            if !whys.contains(&why) {
                whys.push(why);
            }
        }
        for why in whys {
            words::write_wrapped(out, &format!("{why}:"), width, "  ", "    ")?;
            for (i, f) in rest
                .iter()
                .filter(|(_, f)| f.status.why(t).unwrap_or_default() == why)
            {
                words::write_wrapped(
                    out,
                    &f.summary(),
                    width,
                    &format!("  {:>3}. ", i + 1),
                    "       ",
                )?;
                for c in f.citations() {
                    words::write_wrapped(out, &c.short(), width, "       ", "         ")?;
                }
                n += 1;
            }
        }
    }
    debug_assert_eq!(n, flows.len());
    Ok(())
}

pub fn write_csv(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "interface",
        "protocol",
        "transport",
        "source",
        "source_port",
        "destination",
        "destination_port",
        "direction",
        "verdict",
        "feature",
        "document",
        "note",
        "flow",
        "firewall",
        "requested",
        "not_requested_because",
    ])?;
    for r in firewall_rules(judge) {
        w.write_record([
            r.id,
            r.interface.to_string(),
            r.protocol,
            r.transport,
            r.source.join(" "),
            r.source_port,
            r.destination.join(" "),
            r.destination_port,
            r.direction,
            r.verdict,
            r.feature.unwrap_or_default(),
            r.document,
            r.note,
            r.flow.to_string(),
            r.firewall.to_string(),
            r.requested.to_string(),
            r.not_requested_because.unwrap_or_default(),
        ])?;
    }
    w.flush()
}

pub fn write_json(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &firewall_rules(judge))?;
    writeln!(out)
}

/// A document as `--sources` describes it, with how many rules of the matrix cite it and how
/// many of those apply to the site.
#[derive(Debug, Serialize)]
pub struct SourceDocument {
    pub author: &'static str,
    pub title: &'static str,
    pub product: &'static str,
    pub kind: &'static str,
    pub covers: &'static str,
    /// How the reports cite it.
    pub cited_as: String,
    /// The tables and sections of it the matrix reads.
    pub tables: Vec<String>,
    /// Rules of the matrix read from it.
    pub rules: usize,
    /// Those of them that apply to the site.
    pub rules_for_site: usize,
}

pub fn sources(judge: &Judge<'_>) -> Vec<SourceDocument> {
    DOCUMENTS
        .iter()
        .map(|d: &Document| {
            let cites = |r: &&crate::matrix::Rule| r.sources.iter().any(|s| s.doc == d.key);
            let mut tables: Vec<String> = Vec::new();
            for r in judge.matrix.rules.iter().filter(cites) {
                for c in r
                    .citations()
                    .into_iter()
                    .filter(|c| c.document.key == d.key)
                {
                    if !tables.contains(&c.heading) {
                        tables.push(c.heading);
                    }
                }
            }
            SourceDocument {
                author: d.author,
                title: d.title,
                product: d.product,
                kind: d.kind,
                covers: d.covers,
                cited_as: d.name(),
                tables,
                rules: judge.matrix.rules.iter().filter(cites).count(),
                rules_for_site: judge
                    .applicable()
                    .iter()
                    .copied()
                    .filter(|r| cites(r))
                    .count(),
            }
        })
        .collect()
}

/// `edgewise matrix --sources`: the documents, what they cover, and what edgewise reads of them.
pub fn write_sources_text(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    let width = Some(WIDTH);
    let docs = sources(judge);
    words::write_wrapped(
        out,
        &format!(
            "The port matrix is read from {}: {} in all, {} of them for {}.",
            words::count(docs.len() as u64, "document"),
            words::count(judge.matrix.rules.len() as u64, "rule"),
            judge.applicable().len(),
            site_words(judge.topology)
        ),
        width,
        "",
        "",
    )?;
    for d in &docs {
        writeln!(out)?;
        words::write_wrapped(out, &d.cited_as, width, "", "  ")?;
        words::write_wrapped(
            out,
            &format!("{}; for {}", d.kind, d.product),
            width,
            "  ",
            "    ",
        )?;
        words::write_wrapped(out, d.covers, width, "  Covers: ", "    ")?;
        words::write_wrapped(
            out,
            &format!(
                "{} read from it, {} for this site, from:",
                words::count(d.rules as u64, "rule"),
                d.rules_for_site
            ),
            width,
            "  ",
            "    ",
        )?;
        for t in &d.tables {
            words::write_wrapped(out, t, width, "    - ", "      ")?;
        }
    }
    writeln!(out)?;
    words::write_wrapped(
        out,
        "Where the documents disagree or are silent, the reading edgewise takes is in docs/MATRIX.md \
         of the edgewise source, decision by decision.",
        width,
        "",
        "",
    )
}

pub fn write_sources_csv(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "author",
        "title",
        "product",
        "kind",
        "covers",
        "cited_as",
        "tables",
        "rules",
        "rules_for_site",
    ])?;
    for d in sources(judge) {
        w.write_record([
            d.author.to_string(),
            d.title.to_string(),
            d.product.to_string(),
            d.kind.to_string(),
            d.covers.to_string(),
            d.cited_as,
            d.tables.join("; "),
            d.rules.to_string(),
            d.rules_for_site.to_string(),
        ])?;
    }
    w.flush()
}

pub fn write_sources_json(judge: &Judge<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &sources(judge))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::topology::SAMPLE;
    use std::path::Path;

    fn text(f: impl Fn(&Judge<'_>, &mut Vec<u8>) -> io::Result<()>) -> String {
        let site = Topology::parse(SAMPLE, Path::new("site.toml")).expect("sample");
        let matrix = Matrix::builtin().expect("matrix");
        let judge = Judge::new(&site, matrix);
        let mut out = Vec::new();
        f(&judge, &mut out).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_change_request_fits_and_cites_titles() {
        let t = text(|j, o| write_text(j, o));
        for line in t.lines() {
            assert!(words::width(line) <= WIDTH, "{line}");
        }
        assert!(!t.contains('$'), "{t}");
        // No document by its data-file key.
        for key in ["000", "001", "002", "003", "004"] {
            for cited in [format!("{key} \""), format!("[{key}]"), format!("({key},")] {
                assert!(!t.contains(&cited), "{cited} in {t}");
            }
        }
        assert_eq!(t.matches("External firewall (").count(), 1, "{t}");
        assert_eq!(t.matches("Internal firewall (").count(), 1, "{t}");
    }
}
