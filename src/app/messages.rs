//! The notes and errors printed to standard error, in one place so that their wording (and the
//! `edgewise:` prefix scripts grep for) stays consistent between commands.

use std::fmt::Display;
use std::path::Path;

use crate::analysis::Analysis;
use crate::select::Selection;

/// An error or warning, prefixed with the program's name.
pub fn error(e: &dyn Display) {
    eprintln!("edgewise: {e}");
}

/// Said whenever the bundled topology stands in for the user's, since every verdict rests on it.
pub fn bundled_topology() {
    error(
        &"no --topology given: assuming the bundled sample topology (site 'contoso', sfb2015, \
          single Edge 172.25.33.10 / 10.45.16.10-.30 behind NAT as 131.107.155.10-.30); \
          write your own with `edgewise topology init -o site.toml`",
    );
}

/// Said when the capture stands in for the topology the user did not give.
pub fn inferred_topology(summary: &str) {
    error(&format_args!(
        "no --topology given: using the site inferred from the capture ({summary}); write it with \
         `edgewise topology infer -r CAPTURE -o site.toml`, check it, and audit with --topology"
    ));
}

/// What `topology infer` found, and what the user does next.
pub fn inferred(summary: &str, path: Option<&Path>) {
    match path {
        Some(p) => eprintln!(
            "wrote {}: {summary}; check each line (its comment says how sure), replace the placeholders",
            p.display()
        ),
        None => error(&format_args!(
            "inferred {summary}; check each line (its comment says how sure), replace the placeholders"
        )),
    }
}

/// How much of the run the display filter shows (unless --quiet).
pub fn filter_kept(s: &Selection, quiet: bool) {
    if !quiet {
        error(&format_args!(
            "display filter kept {} of {} flows",
            s.kept.len(),
            s.total
        ));
    }
}

/// Inputs that failed or stopped early, and accounting mismatches: the run went on without
/// them, so the user must hear of them even when a report follows.
pub fn input_problems(analysis: &Analysis) {
    for i in &analysis.inputs {
        if let Some(e) = &i.error {
            error(&format_args!("{}: {e}", i.name));
        } else if let Some(s) = &i.stop {
            error(&format_args!("{}: {s}", i.name));
        }
    }
    for m in &analysis.accounting.mismatches {
        error(&format_args!("internal accounting mismatch: {m}"));
    }
}

/// What `topology init -o FILE` did, and what the user does next.
pub fn wrote_topology(path: &Path) {
    eprintln!(
        "wrote {}: edit the addresses, product, scenario and features for your site",
        path.display()
    );
}

/// What `-w FILE` wrote: the count a user checks against the report's flows.
pub fn wrote_packets(path: &Path, done: &crate::export::Exported) {
    let name = if path.as_os_str() == "-" {
        "standard output".to_string()
    } else {
        path.display().to_string()
    };
    error(&format_args!(
        "wrote {} packet{} of {} flow{} to {name}",
        done.packets,
        if done.packets == 1 { "" } else { "s" },
        done.flows,
        if done.flows == 1 { "" } else { "s" },
    ));
}
