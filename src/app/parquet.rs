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
    let (names, rows) = crate::analytics::rows(&df);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        SummaryFormat::Text => {
            // Aligned columns, the counts (the last three) to the right; "-" for null.
            let cells: Vec<Vec<&str>> = rows
                .iter()
                .map(|r| r.iter().map(|c| c.as_deref().unwrap_or("-")).collect())
                .collect();
            let widths: Vec<usize> = names
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    cells
                        .iter()
                        .map(|r| crate::report::words::width(r[k]))
                        .chain([name.len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let counts = names.len().saturating_sub(3);
            let line = |row: &[&str]| {
                let mut s = String::new();
                for (k, (cell, w)) in row.iter().zip(&widths).enumerate() {
                    if k > 0 {
                        s.push_str("  ");
                    }
                    let pad = " ".repeat(w.saturating_sub(crate::report::words::width(cell)));
                    if k >= counts {
                        s.push_str(&pad);
                        s.push_str(cell);
                    } else {
                        s.push_str(cell);
                        s.push_str(&pad);
                    }
                }
                s.trim_end().to_string()
            };
            let header: Vec<&str> = names.iter().map(String::as_str).collect();
            writeln!(out, "{}", line(&header))?;
            for r in &cells {
                writeln!(out, "{}", line(r))?;
            }
        }
        SummaryFormat::Csv => {
            // An empty cell is CSV's null, as in the other CSV tables.
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&names)?;
            for r in &rows {
                w.write_record(r.iter().map(|c| c.as_deref().unwrap_or("")))?;
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
