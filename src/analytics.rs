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
use crate::judge::{interface_label, service_label};

/// Columns `edgewise summary` can group by.
pub const GROUP_COLUMNS: &[&str] = &[
    "site",
    "capture",
    "transport",
    "edge_interface",
    "edge_service",
    "protocol",
    "verdict",
    "partner",
    "conn_state",
    "responder_port",
];

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The flow table: one row per flow shown (all, or a display filter's selection), with the
/// verdict's columns when an audit is given.
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
    let (mut protocol, mut identified) = (Vec::new(), Vec::new());
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
        id.push(f.id);
        transport.push(crate::net::transport_name(f.protocol));
        ii.push(f.initiator.ip.to_string());
        ip.push(u32::from(f.initiator.port));
        ri.push(f.responder.ip.to_string());
        rp.push(u32::from(f.responder.port));
        first.push(f.first_ts_ns());
        last.push(f.last_ts_ns());
        op.push(f.orig.packets);
        ob.push(f.orig.wire_bytes);
        rpk.push(f.resp.packets);
        rb.push(f.resp.wire_bytes);
        packets.push(f.packets());
        bytes.push(f.wire_bytes());
        state.push(f.conn_state().to_string());
        let id_label = analysis
            .identifications
            .get(k)
            .map(|i| i.protocol.label().to_string())
            .unwrap_or_default();
        let j = audit.and_then(|a| a.judgements.get(k));
        protocol.push(
            j.map(|j| j.protocol.to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| id_label.clone()),
        );
        identified.push(id_label);
        iface.push(
            j.and_then(|j| j.edge_interface)
                .map_or("none", interface_label)
                .to_string(),
        );
        service.push(
            j.and_then(|j| j.edge_service)
                .map_or("none", service_label)
                .to_string(),
        );
        direction.push(
            j.and_then(|j| j.direction)
                .map(|d| label(&d))
                .unwrap_or_default(),
        );
        verdict.push(j.map(|j| j.verdict.label().to_string()).unwrap_or_default());
        rules.push(j.map(|j| j.rules.join(" ")).unwrap_or_default());
        partner.push(audit.map(|a| partner_of(a, f)).unwrap_or_default());
    }
    let site = vec![site.to_string(); n];
    let capture = vec![capture; n];
    DataFrame::new(
        n,
        vec![
            Column::new("site".into(), site),
            Column::new("capture".into(), capture),
            Column::new("id".into(), id),
            Column::new("transport".into(), transport),
            Column::new("initiator_ip".into(), ii),
            Column::new("initiator_port".into(), ip),
            Column::new("responder_ip".into(), ri),
            Column::new("responder_port".into(), rp),
            Column::new("first_ts_ns".into(), first),
            Column::new("last_ts_ns".into(), last),
            Column::new("orig_packets".into(), op),
            Column::new("orig_bytes".into(), ob),
            Column::new("resp_packets".into(), rpk),
            Column::new("resp_bytes".into(), rb),
            Column::new("packets".into(), packets),
            Column::new("bytes".into(), bytes),
            Column::new("conn_state".into(), state),
            Column::new("protocol".into(), protocol),
            Column::new("identified".into(), identified),
            Column::new("edge_interface".into(), iface),
            Column::new("edge_service".into(), service),
            Column::new("direction".into(), direction),
            Column::new("verdict".into(), verdict),
            Column::new("rules".into(), rules),
            Column::new("partner".into(), partner),
        ],
    )
}

/// The federation partner a flow talks to, by the topology's partner list (empty if none).
fn partner_of(audit: &Audit, f: &crate::flow::Flow) -> String {
    audit
        .partners
        .iter()
        .find(|(_, ips)| ips.contains(&f.initiator.ip) || ips.contains(&f.responder.ip))
        .map(|(d, _)| d.clone())
        .unwrap_or_default()
}

/// The findings table: one row per finding (of a selection's flows, when given).
pub fn findings_frame(
    audit: &Audit,
    selection: Option<&crate::select::Selection>,
    site: &str,
) -> PolarsResult<DataFrame> {
    let diagnosis = match selection {
        Some(s) => std::borrow::Cow::Owned(s.diagnosis(&audit.diagnosis)),
        None => std::borrow::Cow::Borrowed(&audit.diagnosis),
    };
    let f = &diagnosis.findings;
    let n = f.len();
    DataFrame::new(
        n,
        vec![
            Column::new("site".into(), vec![site.to_string(); n]),
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
            Column::new(
                "confidence".into(),
                f.iter().map(|x| label(&x.confidence)).collect::<Vec<_>>(),
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
            Column::new(
                "evidence_flows".into(),
                f.iter()
                    .map(|x| x.evidence.len() as u64)
                    .collect::<Vec<_>>(),
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
        .sort(
            ["bytes"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()
        .map_err(|e| format!("cannot summarise: {e}"))
}
