//! Parquet outputs and `edgewise summary`, when built with the `analytics` feature; without it,
//! an error that says how to build it.

use std::path::{Path, PathBuf};

use crate::analysis::Analysis;
use crate::audit::Audit;
use crate::cli::SummaryFormat;
use crate::select::Selection;

#[cfg(not(feature = "analytics"))]
const WITHOUT: &str = "this edgewise was built without Parquet support: build it with \
                       `cargo build --release --features analytics`";

/// Writes the flow table to `flows`, and with an audit the findings to `findings`: of every
/// flow, or of a display filter's selection.
#[cfg(feature = "analytics")]
pub fn write(
    analysis: &Analysis,
    audit: Option<&Audit>,
    selection: Option<&Selection>,
    site: &str,
    flows: &Path,
    findings: &Path,
) -> anyhow::Result<()> {
    use crate::analytics;
    let mut df = analytics::flows_frame(analysis, audit, selection, site)?;
    analytics::write_parquet(&mut df, flows).map_err(anyhow::Error::msg)?;
    if let Some(a) = audit {
        let mut f = analytics::findings_frame(analysis, a, selection, site)?;
        analytics::write_parquet(&mut f, findings).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

#[cfg(not(feature = "analytics"))]
pub fn write(
    _: &Analysis,
    _: Option<&Audit>,
    _: Option<&Selection>,
    _: &str,
    _: &Path,
    _: &Path,
) -> anyhow::Result<()> {
    anyhow::bail!(WITHOUT)
}

/// `edgewise summary`: the flows of many Parquet tables, grouped `by` columns.
#[cfg(feature = "analytics")]
pub fn summary(files: &[PathBuf], by: &[String], format: SummaryFormat) -> anyhow::Result<()> {
    use std::io::Write;
    let df = crate::analytics::summary(files, by).map_err(anyhow::Error::msg)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        SummaryFormat::Text => {
            std::env::set_var("POLARS_FMT_MAX_ROWS", "1000");
            writeln!(out, "{df}")?;
        }
        SummaryFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            w.write_record(&names)?;
            for i in 0..df.height() {
                let row: Vec<String> = df
                    .columns()
                    .iter()
                    .map(|c| {
                        c.get(i)
                            .map(|v| v.to_string().trim_matches('"').to_string())
                            .unwrap_or_default()
                    })
                    .collect();
                w.write_record(&row)?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

#[cfg(not(feature = "analytics"))]
pub fn summary(_: &[PathBuf], _: &[String], _: SummaryFormat) -> anyhow::Result<()> {
    anyhow::bail!(WITHOUT)
}
