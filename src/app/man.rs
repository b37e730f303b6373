//! `edgewise man`: manual pages in roff, one for the tool and one per subcommand, built from the
//! command-line definition plus the sections a reference page needs (exit status, verdicts, the
//! topology file, see also).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::judge::Verdict;

/// The subcommands that get a page of their own (`help` does not).
pub fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// The page of the tool (`None`) or of one subcommand, in roff.
pub fn page(subcommand: Option<&str>) -> anyhow::Result<String> {
    let root = Cli::command();
    let cmd = match subcommand {
        None => root,
        Some(name) => {
            let Some(sub) = root.find_subcommand(name) else {
                anyhow::bail!(
                    "no manual page for `{name}`: pages exist for {}",
                    subcommands().join(", ")
                );
            };
            sub.clone()
                .display_name(format!("edgewise-{name}"))
                .bin_name(format!("edgewise {name}"))
        }
    };
    let mut raw = Vec::new();
    clap_mangen::Man::new(cmd)
        .source(format!("edgewise {}", env!("CARGO_PKG_VERSION")))
        .manual("edgewise manual")
        .render(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    // The page opens with .TH, as man-pages(7) asks; the roff crate's apostrophe preamble
    // (an `.ie`/`.el` string definition) follows it, which groff and mandoc accept.
    let mut lines: Vec<&str> = raw.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let th = lines.remove(i);
        lines.insert(0, th);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out.push_str(&extra_sections(subcommand));
    Ok(out)
}

/// Writes `edgewise.1` and `edgewise-<subcommand>.1` for every subcommand into `dir`.
pub fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create the directory: {e}", dir.display()))?;
    let mut written = Vec::new();
    let names = std::iter::once(None).chain(subcommands().into_iter().map(Some));
    for name in names {
        let file = dir.join(match &name {
            None => "edgewise.1".to_string(),
            Some(n) => format!("edgewise-{n}.1"),
        });
        let text = page(name.as_deref())?;
        std::fs::File::create(&file)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", file.display()))?;
        written.push(file);
    }
    Ok(written)
}

/// Roff-escapes text for a paragraph (backslashes, and a leading dot or quote).
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn section(out: &mut String, title: &str) {
    out.push_str(&format!(".SH \"{title}\"\n"));
}

fn item(out: &mut String, tag: &str, text: &str) {
    out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", esc(tag), esc(text)));
}

fn extra_sections(subcommand: Option<&str>) -> String {
    let mut out = String::new();
    let judges = matches!(subcommand, None | Some("audit") | Some("tui"));
    if judges {
        section(&mut out, "VERDICTS");
        out.push_str(&esc(
            "Every flow gets one verdict; all but permitted, permitted-with-note and unknown-endpoint are violations.",
        ));
        out.push('\n');
        for v in Verdict::ALL {
            item(&mut out, v.label(), v.in_short());
        }
    }
    if matches!(
        subcommand,
        None | Some("audit") | Some("tui") | Some("matrix") | Some("topology")
    ) {
        section(&mut out, "TOPOLOGY FILE");
        out.push_str(&esc(
            "A TOML file describing your site: [site] (name, product, scenario, SIP domains), one [[edge]] per Edge Server with its external (access, webconf, av, and public addresses behind NAT) and internal addresses, [internal] (Front End pool, Directors, server and client subnets), [features] and [[partner]] federation partners. `edgewise topology template` writes a commented example; `edgewise topology check FILE` validates one and names the line and the fix of any mistake. Without --topology, an audit judges against the site the capture shows and says so in its headline.",
        ));
        out.push('\n');
    }
    section(&mut out, "EXIT STATUS");
    let statuses: &[(&str, &str)] = match subcommand {
        Some("audit") | None => &[
            ("0", "The audit completed and found nothing at or above --fail-on."),
            ("1", "The audit found something at or above --fail-on: by default (error) a violation or an error finding; warning adds warning findings; violation, hairpin and never narrow it."),
            ("2", "Unusable: bad arguments or topology, no readable input, a firewall log without one usable line."),
            ("3", "A report was written, but some input was damaged or read only in part. This wins over 1: a failure never hides that part of the input was not read; the headline still says FAIL and why."),
        ],
        Some("flows") | Some("topology") => &[
            ("0", "Every input was read to its end (topology check: the file is valid)."),
            ("2", "Unusable: bad arguments, no readable input, or an invalid topology file (named with its line and the fix)."),
            ("3", "Output was written, but some input was damaged or read only in part."),
        ],
        _ => &[
            ("0", "Success."),
            ("2", "Bad arguments, input or configuration; the message names the file, the place and the fix."),
        ],
    };
    for (code, text) in statuses {
        item(&mut out, code, text);
    }
    section(&mut out, "SEE ALSO");
    let mut others: Vec<String> = subcommands()
        .into_iter()
        .filter(|n| Some(n.as_str()) != subcommand)
        .map(|n| format!("\\fBedgewise\\-{n}\\fR(1)"))
        .collect();
    if subcommand.is_some() {
        others.insert(0, "\\fBedgewise\\fR(1)".into());
    }
    others.push("\\fBtshark\\fR(1)".into());
    out.push_str(&others.join(", "));
    out.push('\n');
    out
}
