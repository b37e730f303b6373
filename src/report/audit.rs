//! The audit report: verdict tallies, every violation with its reason, rules never exercised,
//! then the flow table and the packet accounting. JSON has the same as one document.

use std::borrow::Cow;
use std::io::{self, Write};

use serde::Serialize;

use super::{FlowRecord, Span, WithTimes, SCHEMA_VERSION};
use crate::analysis::Analysis;
use crate::audit::{Audit, Headline, Tallies, Tally, TopologyUsed};
use crate::diagnose::Diagnosis;
use crate::flow::Flow;
use crate::judge::{interface_label, Coverage, Judgement};
use crate::matrix::{Interface, Matrix, Service};
use crate::select::{Selection, SelectionSummary};

/// A flow with its judgement, as JSON writes it.
#[derive(Serialize)]
pub struct AuditedFlow<'a> {
    #[serde(flatten)]
    pub flow: FlowRecord<'a>,
    #[serde(flatten)]
    pub judgement: &'a Judgement,
    /// The judgement's reason with this flow's addresses.
    pub reason: crate::judge::ReasonText<'a>,
}

/// A rule no flow exercised, as JSON writes it.
#[derive(Serialize)]
struct NeverExercised<'a> {
    id: &'a str,
    protocol: &'a str,
    interface: String,
    transport: String,
    /// The site's own port (`[ports]` resolved).
    dst_port: String,
    /// The first document it is read from: title, table heading, row.
    source: String,
    /// The capture should have shown it: the rule applies, its feature is on, its roles exist,
    /// no document contradicts it, and the capture shows its Edge-side addresses.
    expected: bool,
    /// Why it was not expected; null when it was.
    why: Option<String>,
}

#[derive(Serialize)]
struct AuditDocument<'a, E: Serialize> {
    schema_version: &'static str,
    /// The answer first: PASS, FAIL or INCOMPLETE, and why.
    headline: Headline,
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(flatten)]
    span: Span,
    /// Fields a caller adds at top level (the firewall-log audit adds `log` and `log_flows`).
    #[serde(flatten)]
    extra: &'a E,
    completeness: crate::analysis::Completeness,
    audit: AuditSection<'a>,
    findings: WithTimes<'a, Vec<crate::diagnose::Finding>>,
    skipped_checks: &'a [crate::diagnose::Skipped],
    calls: WithTimes<'a, Vec<crate::diagnose::calls::Call>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_filter: Option<SelectionSummary<'a>>,
    never_exercised: Vec<NeverExercised<'a>>,
    flows: AuditedFlows<'a>,
}

/// The document's `audit` object: the fields [`Audit`] serializes, with the tallies of the
/// flows shown.
#[derive(Serialize)]
struct AuditSection<'a> {
    topology: &'a TopologyUsed,
    #[serde(flatten)]
    tallies: IdTallies<'a>,
    coverage: &'a Coverage,
    applicable_rules: usize,
}

/// Tallies as the machine formats write them: interfaces and services by their ids, as flows
/// carry them (`av`, not the text report's "A/V Edge"); `none` for flows of neither.
struct IdTallies<'a>(&'a Tallies);

impl Serialize for IdTallies<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use std::collections::BTreeMap;
        fn rekey(
            m: &BTreeMap<String, Tally>,
            id: fn(&str) -> Option<String>,
        ) -> BTreeMap<String, &Tally> {
            m.iter()
                .map(|(k, v)| (id(k).unwrap_or_else(|| k.clone()), v))
                .collect()
        }
        let t = self.0;
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry(
            "by_interface",
            &rekey(&t.by_interface, interface_id_of_label),
        )?;
        map.serialize_entry("by_service", &rekey(&t.by_service, service_id_of_label))?;
        map.serialize_entry("by_protocol", &t.by_protocol)?;
        map.serialize_entry("by_verdict", &t.by_verdict)?;
        map.serialize_entry("violations", &t.violations)?;
        map.serialize_entry("blocked", &t.blocked)?;
        map.end()
    }
}

/// Every interface and service, for the ids of the tallies' display names.
const INTERFACES: [Interface; 6] = [
    Interface::External,
    Interface::Internal,
    Interface::ExternalVip,
    Interface::InternalVip,
    Interface::ReverseProxyExternal,
    Interface::ReverseProxyInternal,
];
const SERVICES: [Service; 6] = [
    Service::Access,
    Service::Webconf,
    Service::Av,
    Service::Internal,
    Service::XmppProxy,
    Service::ReverseProxy,
];

/// The id of a value as serde names it (`external-vip`, `av`).
pub fn id_of<T: Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn interface_id_of_label(label: &str) -> Option<String> {
    INTERFACES
        .into_iter()
        .find(|i| interface_label(*i) == label)
        .map(id_of)
}

fn service_id_of_label(label: &str) -> Option<String> {
    SERVICES
        .into_iter()
        .find(|s| crate::judge::service_label(*s) == label)
        .map(id_of)
}

/// What a report shows of an audit: every flow, or those of a display filter's selection,
/// with the tallies and the diagnosis of those flows. The audit itself is never changed.
pub(super) struct Shown<'a> {
    /// Violations first, then by bytes.
    pub flows: Vec<(&'a Flow, &'a Judgement)>,
    pub tallies: Tallies,
    /// Numbered as the report numbers its flows ([`Selection::diagnosis`]).
    pub diagnosis: Cow<'a, Diagnosis>,
}

impl<'a> Shown<'a> {
    pub fn new(
        analysis: &'a Analysis,
        audit: &'a Audit,
        selection: Option<&Selection>,
    ) -> Shown<'a> {
        let (tallies, diagnosis) = shown_tallies(analysis, audit, selection);
        Shown {
            flows: ordered(analysis, audit, selection),
            tallies,
            diagnosis,
        }
    }
}

/// The tallies and the diagnosis of the flows a report shows.
fn shown_tallies<'a>(
    analysis: &Analysis,
    audit: &'a Audit,
    selection: Option<&Selection>,
) -> (Tallies, Cow<'a, Diagnosis>) {
    match selection {
        None => (audit.tallies(), Cow::Borrowed(&audit.diagnosis)),
        Some(s) => (
            audit.tallies_for(analysis, s),
            Cow::Owned(s.diagnosis(&audit.diagnosis)),
        ),
    }
}

/// The flows of the audit document, serialized one at a time (a large capture's records are
/// never all held at once).
struct AuditedFlows<'a> {
    analysis: &'a Analysis,
    ordered: Vec<(&'a crate::flow::Flow, &'a Judgement)>,
}

impl Serialize for AuditedFlows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.ordered.len()))?;
        for (f, j) in &self.ordered {
            seq.serialize_element(&AuditedFlow {
                flow: FlowRecord::new(f, self.analysis),
                judgement: j,
                reason: j.reason.of(f),
            })?;
        }
        seq.end()
    }
}

fn never_exercised<'a>(
    analysis: &Analysis,
    audit: &'a Audit,
    matrix: &'a Matrix,
) -> Vec<NeverExercised<'a>> {
    use super::documented::{documented_flows, in_view, seen_addresses, Status};
    let judge = crate::judge::Judge::new(&audit.site, matrix);
    let flows = documented_flows(&judge);
    let seen = seen_addresses(analysis);
    audit
        .coverage
        .never_exercised
        .iter()
        .filter_map(|id| matrix.rules.iter().find(|r| &r.id == id))
        .map(|r| {
            let flow = flows.iter().find(|f| f.rules.iter().any(|x| x.id == r.id));
            let seen_as_another_row = flow.is_some_and(|f| {
                f.rules
                    .iter()
                    .any(|x| audit.coverage.hits.get(&x.id).copied().unwrap_or(0) > 0)
            });
            let why = flow.and_then(|f| {
                f.status
                    .why(&audit.site)
                    .or_else(|| {
                        seen_as_another_row.then(|| {
                            "the same documented flow was seen, as another document's row"
                                .to_string()
                        })
                    })
                    .or_else(|| {
                        (!in_view(f, &seen)).then(|| {
                            format!(
                                "the capture never shows {}",
                                f.edge_side().list().join(" or ")
                            )
                        })
                    })
            });
            NeverExercised {
                id: &r.id,
                protocol: &r.protocol,
                interface: id_of(r.interface),
                transport: format!("{:?}", r.transport).to_lowercase(),
                dst_port: match r.dst_port {
                    crate::matrix::PortSpec::Named(sp) => audit.site.port(sp).to_string(),
                    other => other.to_string(),
                },
                source: r.first_citation(),
                expected: flow.is_some_and(|f| matches!(f.status, Status::Open { .. }))
                    && why.is_none(),
                why,
            }
        })
        .collect()
}

fn ordered<'a>(
    analysis: &'a Analysis,
    audit: &'a Audit,
    selection: Option<&Selection>,
) -> Vec<(&'a Flow, &'a Judgement)> {
    let mut v: Vec<_> = crate::select::shown(selection, analysis.flows.len())
        .filter_map(|i| Some((analysis.flows.get(i)?, audit.judgements.get(i)?)))
        .collect();
    // Violations first, then by bytes.
    v.sort_by(|a, b| {
        b.1.verdict
            .is_violation()
            .cmp(&a.1.verdict.is_violation())
            .then(b.0.wire_bytes().cmp(&a.0.wire_bytes()))
            .then(a.0.id.cmp(&b.0.id))
    });
    v
}

/// The JSON document; with a display filter's selection, of the flows it kept, and with
/// `display_filter` (expression, kept, total).
pub fn write_json(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let announced = selection.map(Selection::summary);
    write_json_with(
        analysis,
        audit,
        matrix,
        selection,
        announced,
        &NoExtra {},
        out,
    )
}

/// No extra top-level fields.
#[derive(Serialize)]
pub struct NoExtra {}

/// The JSON document of the flows shown, with extra top-level fields from `extra` (a struct
/// whose fields are flattened in), written in one pass; `display_filter` is written when
/// given.
pub fn write_json_with<E: Serialize>(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    display_filter: Option<SelectionSummary<'_>>,
    extra: &E,
    out: &mut dyn Write,
) -> io::Result<()> {
    let shown = Shown::new(analysis, audit, selection);
    let doc = AuditDocument {
        schema_version: SCHEMA_VERSION,
        headline: Headline::of(analysis, audit, selection),
        analysis,
        span: Span::of(analysis),
        extra,
        completeness: analysis.completeness(),
        audit: AuditSection {
            topology: &audit.topology,
            tallies: IdTallies(&shown.tallies),
            coverage: &audit.coverage,
            applicable_rules: audit.applicable_rules,
        },
        findings: WithTimes(&shown.diagnosis.findings),
        skipped_checks: &shown.diagnosis.skipped,
        calls: WithTimes(&shown.diagnosis.calls),
        display_filter,
        never_exercised: never_exercised(analysis, audit, matrix),
        flows: AuditedFlows {
            analysis,
            ordered: shown.flows,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// One JSON Lines record, tagged with what it is (`"type"`, as `flows --format jsonl` tags
/// its records).
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    record: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

/// What the last JSON Lines record holds: everything of the document but the flows, findings
/// and calls (which came before it, one per line).
#[derive(Serialize)]
struct Summary<'a> {
    schema_version: &'static str,
    headline: Headline,
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(flatten)]
    span: Span,
    completeness: crate::analysis::Completeness,
    audit: AuditSection<'a>,
    skipped_checks: &'a [crate::diagnose::Skipped],
    #[serde(skip_serializing_if = "Option::is_none")]
    display_filter: Option<SelectionSummary<'a>>,
    never_exercised: Vec<NeverExercised<'a>>,
}

/// JSON Lines: every flow shown with its judgement in capture order, then each finding and
/// call, then one summary record. A script can stream it, and `grep '"type":"flow"'` keeps
/// the flows.
pub fn write_jsonl(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    // The serializer writes many small pieces: buffer them here, where the writer's type is
    // known, and hand the caller's writer large blocks.
    let out = &mut io::BufWriter::with_capacity(1 << 16, out);
    fn line<W: Write, T: Serialize>(out: &mut W, record: &'static str, body: &T) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &Tagged { record, body })?;
        out.write_all(b"\n")
    }
    for i in crate::select::shown(selection, analysis.flows.len()) {
        let (Some(f), Some(j)) = (analysis.flows.get(i), audit.judgements.get(i)) else {
            continue;
        };
        let flow = AuditedFlow {
            flow: FlowRecord::new(f, analysis),
            judgement: j,
            reason: j.reason.of(f),
        };
        line(out, "flow", &flow)?;
    }
    let (tallies, diagnosis) = shown_tallies(analysis, audit, selection);
    for f in &diagnosis.findings {
        line(out, "finding", &WithTimes(f))?;
    }
    for c in &diagnosis.calls {
        line(out, "call", &WithTimes(c))?;
    }
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        headline: Headline::of(analysis, audit, selection),
        analysis,
        span: Span::of(analysis),
        completeness: analysis.completeness(),
        audit: AuditSection {
            topology: &audit.topology,
            tallies: IdTallies(&tallies),
            coverage: &audit.coverage,
            applicable_rules: audit.applicable_rules,
        },
        skipped_checks: &diagnosis.skipped,
        display_filter: selection.map(Selection::summary),
        never_exercised: never_exercised(analysis, audit, matrix),
    };
    line(out, "summary", &summary)?;
    out.flush()
}

/// The text report; with a display filter's selection, of the flows it kept, and a line that
/// says what the filter kept (after the headline, which always comes first).
pub fn write_text(
    analysis: &Analysis,
    audit: &Audit,
    matrix: &Matrix,
    selection: Option<&Selection>,
    opts: &super::TextOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    super::audit_text::write(analysis, audit, matrix, selection, opts, None, out)
}

/// The flow table with the verdict's columns, as CSV: every flow, or a selection's.
pub fn write_csv(
    analysis: &Analysis,
    audit: &Audit,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "transport",
        "initiator_ip",
        "initiator_port",
        "responder_ip",
        "responder_port",
        "first_ts_ns",
        "first_ts",
        "last_ts_ns",
        "last_ts",
        "packets",
        "bytes",
        "conn_state",
        "documented",
        "payload",
        "edge_interface",
        "edge_service",
        "verdict",
        "rules",
        "reason",
    ])?;
    for (f, j) in ordered(analysis, audit, selection) {
        w.write_record([
            f.id.to_string(),
            crate::net::transport_name(f.protocol),
            f.initiator.ip.to_string(),
            f.initiator.port.to_string(),
            f.responder.ip.to_string(),
            f.responder.port.to_string(),
            f.first_ts_ns().to_string(),
            super::time::rfc3339(f.first_ts_ns()),
            f.last_ts_ns().to_string(),
            super::time::rfc3339(f.last_ts_ns()),
            f.packets().to_string(),
            f.wire_bytes().to_string(),
            f.conn_state().to_string(),
            j.documented.to_string(),
            analysis
                .identification(f)
                .and_then(|i| i.protocol.payload_id())
                .unwrap_or_default()
                .to_string(),
            // Ids, as JSON, Zeek and -Y write them; an empty cell is CSV's null.
            j.edge_interface.map(id_of).unwrap_or_default(),
            j.edge_service.map(id_of).unwrap_or_default(),
            j.verdict.label().to_string(),
            j.rules.join(" "),
            j.reason.of(f).to_string(),
        ])?;
    }
    w.flush()
}

/// The findings as CSV, one row per finding (of a selection's flows, numbered among them).
pub fn write_findings_csv(
    audit: &Audit,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let diagnosis = match selection {
        Some(s) => Cow::Owned(s.diagnosis(&audit.diagnosis)),
        None => Cow::Borrowed(&audit.diagnosis),
    };
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "severity",
        "confidence",
        "title",
        "explanation",
        "fix",
        "citation",
        "evidence_flows",
    ])?;
    for f in &diagnosis.findings {
        w.write_record([
            f.id.to_string(),
            f.severity.label().to_string(),
            format!("{:?}", f.confidence).to_lowercase(),
            f.title.clone(),
            f.explanation.clone(),
            f.fix.clone(),
            f.citation.to_string(),
            f.evidence
                .iter()
                .map(|e| e.flow.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ])?;
    }
    w.flush()
}
