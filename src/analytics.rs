//! Parquet outputs of the flow and findings tables, and `edgewise summary`, which groups flows
//! over many earlier Parquet outputs (several captures, several sites). Built on polars, behind
//! the cargo feature `analytics`: polars takes several times longer to build than everything
//! else together, so the default build does without it.
//!
//! The Parquet files are plain tables (one row per flow, one per finding), so Spark, Trino or
//! DuckDB read them as they are when one machine is not enough.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::analysis::Analysis;
use crate::audit::Audit;

/// Columns `edgewise summary` can group by.
pub const GROUP_COLUMNS: &[&str] = &[
    "site",
    "capture",
    "transport",
    "edge_interface",
    "edge_service",
    "payload",
    "documented",
    "verdict",
    "partner",
    "conn_state",
    "responder_port",
];

/// A value's id as serde names it (`external-vip`, `av`, `inbound-to-edge`), as JSON writes it.
fn id_of<T: serde::Serialize>(v: T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// A count as Parquet's signed INT64, which every engine reads (Spark and Trino do not all read
/// unsigned 64-bit integers); a count past `i64::MAX` saturates.
fn int64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A nanosecond time as a TIMESTAMP column: microseconds, UTC. Microseconds because Spark
/// reads no nanosecond TIMESTAMP; the exact nanoseconds stay in the `_ns` column beside it.
fn timestamp(name: &str, ns: Vec<i64>) -> Column {
    let us: Vec<i64> = ns.into_iter().map(|t| t.div_euclid(1_000)).collect();
    Series::new(name.into(), us)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into()
}

/// A text column, null where the value is unknown or does not apply (never "").
fn text(name: &str, values: Vec<Option<String>>) -> Column {
    Column::new(name.into(), values)
}

/// A list column: one list per row, or null for a row without one (a flow table without an
/// audit has no rules).
fn list<T>(name: &str, inner: DataType, rows: Vec<Option<Vec<T>>>) -> Column
where
    Series: NamedFrom<Vec<T>, [T]>,
{
    let n = rows.len();
    if rows.iter().all(Option::is_none) {
        return Series::full_null(name.into(), n, &DataType::List(Box::new(inner))).into();
    }
    let rows: Vec<Option<Series>> = rows
        .into_iter()
        .map(|r| r.map(|v| Series::new(PlSmallStr::EMPTY, v)))
        .collect();
    <Series as NamedFrom<_, [Option<Series>]>>::new(name.into(), rows).into()
}

/// The flow table: one row per flow shown (all, or a display filter's selection), with the
/// verdict's columns when an audit is given. Ids and units as the audit CSV writes them
/// (docs/SCHEMA.md, "Parquet").
pub fn flows_frame(
    analysis: &Analysis,
    audit: Option<&Audit>,
    selection: Option<&crate::select::Selection>,
    site: &str,
) -> PolarsResult<DataFrame> {
    let capture = analysis
        .inputs
        .iter()
        .map(|i| i.name.clone())
        .collect::<Vec<_>>()
        .join(" ");
    let shown: Vec<usize> = crate::select::shown(selection, analysis.flows.len()).collect();
    let n = shown.len();
    let mut id = Vec::with_capacity(n);
    let mut transport = Vec::with_capacity(n);
    let (mut ii, mut ip, mut ri, mut rp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let (mut op, mut ob, mut rpk, mut rb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut packets, mut bytes, mut state) = (Vec::new(), Vec::new(), Vec::new());
    let (mut payload, mut documented) = (Vec::new(), Vec::new());
    let (mut iface, mut service, mut direction, mut verdict, mut rules, mut partner) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (k, f) in shown
        .iter()
        .filter_map(|&k| Some((k, analysis.flows.get(k)?)))
    {
        id.push(int64(f.id));
        transport.push(crate::net::transport_name(f.protocol));
        ii.push(f.initiator.ip.to_string());
        ip.push(i32::from(f.initiator.port));
        ri.push(f.responder.ip.to_string());
        rp.push(i32::from(f.responder.port));
        first.push(f.first_ts_ns());
        last.push(f.last_ts_ns());
        op.push(int64(f.orig.packets));
        ob.push(int64(f.orig.wire_bytes));
        rpk.push(int64(f.resp.packets));
        rb.push(int64(f.resp.wire_bytes));
        packets.push(int64(f.packets()));
        bytes.push(int64(f.wire_bytes()));
        state.push(f.conn_state().to_string());
        // The payload's protocol, when the identification found one, and the documents' (as
        // the audit CSV): each in its own column, neither standing in for the other.
        let j = audit.and_then(|a| a.judgements.get(k));
        documented.push(
            j.map(|j| j.documented.to_string())
                .filter(|p| !p.is_empty()),
        );
        payload.push(
            analysis
                .identifications
                .get(k)
                .and_then(|i| i.protocol.payload_id())
                .map(str::to_string),
        );
        iface.push(j.and_then(|j| j.edge_interface).and_then(id_of));
        service.push(j.and_then(|j| j.edge_service).and_then(id_of));
        direction.push(j.and_then(|j| j.direction).and_then(id_of));
        verdict.push(j.map(|j| j.verdict.label().to_string()));
        rules.push(j.map(|j| j.rules.iter().map(|r| r.to_string()).collect::<Vec<_>>()));
        partner.push(audit.and_then(|a| partner_of(a, f)));
    }
    let site = vec![Some(site.to_string()).filter(|s| !s.is_empty()); n];
    let capture = vec![capture; n];
    DataFrame::new(
        n,
        vec![
            text("site", site),
            Column::new("capture".into(), capture),
            Column::new("id".into(), id),
            Column::new("transport".into(), transport),
            Column::new("initiator_ip".into(), ii),
            Column::new("initiator_port".into(), ip),
            Column::new("responder_ip".into(), ri),
            Column::new("responder_port".into(), rp),
            Column::new("first_ts_ns".into(), first.clone()),
            timestamp("first_ts", first),
            Column::new("last_ts_ns".into(), last.clone()),
            timestamp("last_ts", last),
            Column::new("orig_packets".into(), op),
            Column::new("orig_bytes".into(), ob),
            Column::new("resp_packets".into(), rpk),
            Column::new("resp_bytes".into(), rb),
            Column::new("packets".into(), packets),
            Column::new("bytes".into(), bytes),
            Column::new("conn_state".into(), state),
            text("payload", payload),
            text("documented", documented),
            text("edge_interface", iface),
            text("edge_service", service),
            text("direction", direction),
            text("verdict", verdict),
            list("rules", DataType::String, rules),
            text("partner", partner),
        ],
    )
}

/// The federation partner a flow talks to, by the topology's partner list.
fn partner_of(audit: &Audit, f: &crate::flow::Flow) -> Option<String> {
    audit
        .partners
        .iter()
        .find(|(_, ips)| ips.contains(&f.initiator.ip) || ips.contains(&f.responder.ip))
        .map(|(d, _)| d.clone())
}

/// The findings table: one row per finding (of a selection's flows, when given), with the ids
/// of its evidence flows, which join the flow table's `id`.
pub fn findings_frame(
    analysis: &Analysis,
    audit: &Audit,
    selection: Option<&crate::select::Selection>,
    site: &str,
) -> PolarsResult<DataFrame> {
    let diagnosis = match selection {
        Some(s) => std::borrow::Cow::Owned(s.diagnosis(&audit.diagnosis)),
        None => std::borrow::Cow::Borrowed(&audit.diagnosis),
    };
    let capture = analysis
        .inputs
        .iter()
        .map(|i| i.name.clone())
        .collect::<Vec<_>>()
        .join(" ");
    // Evidence names a flow by its position among the flows shown; the table names its id.
    let flow_id = |position: usize| -> Option<i64> {
        let index = match selection {
            Some(s) => *s.kept.get(position)?,
            None => position,
        };
        Some(int64(analysis.flows.get(index)?.id))
    };
    let f = &diagnosis.findings;
    let n = f.len();
    let site = Some(site.to_string()).filter(|s| !s.is_empty());
    DataFrame::new(
        n,
        vec![
            text("site", vec![site; n]),
            Column::new("capture".into(), vec![capture; n]),
            Column::new(
                "id".into(),
                f.iter().map(|x| x.id.to_string()).collect::<Vec<_>>(),
            ),
            Column::new(
                "severity".into(),
                f.iter()
                    .map(|x| x.severity.label().to_string())
                    .collect::<Vec<_>>(),
            ),
            text(
                "confidence",
                f.iter().map(|x| id_of(x.confidence)).collect::<Vec<_>>(),
            ),
            Column::new(
                "title".into(),
                f.iter().map(|x| x.title.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "explanation".into(),
                f.iter().map(|x| x.explanation.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "fix".into(),
                f.iter().map(|x| x.fix.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "citation".into(),
                f.iter().map(|x| x.citation.to_string()).collect::<Vec<_>>(),
            ),
            list(
                "evidence_flow_ids",
                DataType::Int64,
                f.iter()
                    .map(|x| Some(x.evidence.iter().filter_map(|e| flow_id(e.flow)).collect()))
                    .collect(),
            ),
        ],
    )
}

/// Writes a frame as Parquet.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), String> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    ParquetWriter::new(file)
        .finish(df)
        .map(|_| ())
        .map_err(|e| format!("{}: cannot write Parquet: {e}", path.display()))
}

/// Reads a Parquet file into a frame (tests and tools).
pub fn read_parquet(path: &Path) -> Result<DataFrame, String> {
    LazyFrame::scan_parquet(
        PlRefPath::new(path.display().to_string()),
        ScanArgsParquet::default(),
    )
    .and_then(LazyFrame::collect)
    .map_err(|e| format!("{}: cannot read Parquet: {e}", path.display()))
}

/// Groups the flows of several Parquet flow tables by `by`: flows, packets and bytes per group,
/// most bytes first.
pub fn summary(paths: &[PathBuf], by: &[String]) -> Result<DataFrame, String> {
    if paths.is_empty() {
        return Err("name at least one Parquet file written by `--format parquet`".into());
    }
    for b in by {
        if !GROUP_COLUMNS.contains(&b.as_str()) {
            return Err(format!(
                "cannot group by '{b}': choose from {}",
                GROUP_COLUMNS.join(", ")
            ));
        }
    }
    let frames = paths
        .iter()
        .map(|p| {
            LazyFrame::scan_parquet(
                PlRefPath::new(p.display().to_string()),
                ScanArgsParquet::default(),
            )
            .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let all = concat(frames, UnionArgs::default()).map_err(|e| e.to_string())?;
    let keys: Vec<Expr> = by.iter().map(|b| col(b.as_str())).collect();
    all.group_by(keys)
        .agg([
            len().alias("flows"),
            col("packets").sum().alias("packets"),
            col("bytes").sum().alias("bytes"),
        ])
        // Most bytes first; ties in the order of the groups, so that a rerun prints the same.
        .sort(
            std::iter::once("bytes").chain(by.iter().map(String::as_str)),
            SortMultipleOptions::default()
                .with_order_descending_multi(std::iter::once(true).chain(by.iter().map(|_| false)))
                .with_nulls_last(true),
        )
        .collect()
        .map_err(|e| format!("cannot summarise: {e}"))
}

/// A frame's column names and its rows as text, null as `None`: what the summary prints.
pub fn rows(df: &DataFrame) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let names = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = (0..df.height())
        .map(|i| {
            df.columns()
                .iter()
                .map(|c| match c.get(i) {
                    Ok(AnyValue::Null) | Err(_) => None,
                    Ok(AnyValue::String(s)) => Some(s.to_string()),
                    Ok(AnyValue::StringOwned(s)) => Some(s.to_string()),
                    Ok(v) => Some(v.to_string()),
                })
                .collect()
        })
        .collect();
    (names, rows)
}
