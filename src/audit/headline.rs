//! The answer an audit gives in its first lines: PASS, FAIL or INCOMPLETE, and why.
//!
//! FAIL: a flow the documented matrix does not permit here reached the Edge, or an error
//! finding (a broken federation fails even when every flow is permitted, and so does a capture
//! that does not match the topology). A flow a firewall log says it denied never reached the
//! Edge: it is counted as blocked, not as a violation. INCOMPLETE: nothing failed, but part of the evidence was lost (an input
//! damaged, cut short or unreadable, log lines that could not be parsed). PASS otherwise, with
//! what could not be checked listed beside it. `--fail-on` changes the exit status only; the
//! headline is the same for every level.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::diagnose::{Diagnosis, Severity};
use crate::judge::Verdict;
use crate::select::Selection;

use super::Audit;
use crate::report::words::{count, thousands};

/// The answer in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Pass,
    Fail,
    Incomplete,
}

impl Answer {
    pub fn label(self) -> &'static str {
        match self {
            Answer::Pass => "PASS",
            Answer::Fail => "FAIL",
            Answer::Incomplete => "INCOMPLETE",
        }
    }
}

/// The first lines of every audit.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub answer: Answer,
    /// Flows the matrix does not permit, by verdict label.
    pub violations: BTreeMap<&'static str, u64>,
    pub violations_total: u64,
    /// Flows the matrix does not permit that a firewall log says it denied: not violations
    /// (the firewall did its job, FW2), counted apart. Always 0 for captures.
    pub blocked_total: u64,
    pub errors: usize,
    pub warnings: usize,
    /// Why it fails: the error findings' ids and titles.
    pub failing_findings: Vec<String>,
    /// What could not be checked, in words: damaged inputs, skipped checks, flows outside the
    /// topology, a topology not given.
    pub unchecked: Vec<String>,
}

/// Error findings named in the headline; the rest are counted.
const FAILING_SHOWN: usize = 5;

impl Headline {
    /// The headline of an audit, of the flows a display filter kept when one was given.
    pub fn of(analysis: &Analysis, audit: &Audit, selection: Option<&Selection>) -> Headline {
        let filtered;
        let (tallies, diagnosis): (_, &Diagnosis) = match selection {
            Some(sel) => {
                filtered = sel.diagnosis(&audit.diagnosis);
                (audit.tallies_for(analysis, sel), &filtered)
            }
            None => (audit.tallies(), &audit.diagnosis),
        };
        let mut violations = BTreeMap::new();
        for v in Verdict::ALL.iter().filter(|v| v.is_violation()) {
            let n = tallies.passed(*v);
            if n > 0 {
                violations.insert(v.label(), n);
            }
        }
        let blocked_total = tallies.blocked_total();
        let errors = diagnosis.count(Severity::Error);
        let warnings = diagnosis.count(Severity::Warning);
        let mut failing_findings: Vec<String> = diagnosis
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .take(FAILING_SHOWN)
            .map(|f| format!("{} {}", f.id, f.title))
            .collect();
        if errors > FAILING_SHOWN {
            failing_findings.push(format!("and {} more", errors - FAILING_SHOWN));
        }

        let mut unchecked = Vec::new();
        let mut lost = false;
        for i in &analysis.inputs {
            if let Some(e) = &i.error {
                unchecked.push(format!("{} could not be read: {e}", i.name));
                lost = true;
            } else if let Some(s) = &i.stop {
                unchecked.push(format!("{} was read only in part: {s}", i.name));
                lost = true;
            }
            if let Some(l) = &i.lost {
                unchecked.push(format!("{}: {l}", i.name));
                lost = true;
            }
        }
        match audit.topology.origin {
            super::Origin::BundledSample => unchecked.push(
                "no --topology given: the verdicts rest on an assumed site (see the first line)"
                    .into(),
            ),
            super::Origin::Inferred => unchecked.push(
                "no --topology given: the site was inferred from the capture (write it with \
                 `edgewise topology infer -r CAPTURE -o site.toml`, check it, and audit with --topology)"
                    .into(),
            ),
            super::Origin::File => {}
        }
        if let Some(t) = tallies.by_verdict.get(Verdict::UnknownEndpoint.label()) {
            if t.flows > 0 {
                unchecked.push(format!(
                    "{} {} no address of the topology",
                    count(t.flows, "flow"),
                    if t.flows == 1 { "touches" } else { "touch" }
                ));
            }
        }
        if !diagnosis.skipped.is_empty() {
            // A skipped entry may name a group ("D1, D3-D5"): name each id once. A check that
            // ran on some flows and gave a finding is not named here (its finding is above; the
            // report's skipped list says for which flows it could not run).
            let fired: Vec<&str> = diagnosis.findings.iter().map(|f| f.id).collect();
            let mut ids: Vec<String> = diagnosis
                .skipped
                .iter()
                .flat_map(|s| s.id.split(", "))
                .flat_map(expand_range)
                .filter(|id| !fired.contains(&id.as_str()))
                .collect();
            // Rulebook order: letters, then the number (F4 before F12).
            ids.sort_unstable_by_key(|id| {
                let letters = id
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(id.len());
                let number: u32 = id[letters..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0);
                (id[..letters].to_string(), number, id.clone())
            });
            ids.dedup();
            const NAMED: usize = 12;
            let more = ids.len().saturating_sub(NAMED);
            if !ids.is_empty() {
                unchecked.push(format!(
                    "skipped for want of a fact the topology or the input does not give: {}{}",
                    ids[..ids.len().min(NAMED)].join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        let violations_total = violations.values().sum();
        let answer = if violations_total > 0 || errors > 0 {
            Answer::Fail
        } else if lost {
            Answer::Incomplete
        } else {
            Answer::Pass
        };
        Headline {
            answer,
            violations,
            violations_total,
            blocked_total,
            errors,
            warnings,
            failing_findings,
            unchecked,
        }
    }

    /// The headline in words: the answer and its counts, why it fails, what was not checked.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let counts = format!(
            "{}, {}, {}",
            count(self.violations_total, "violation"),
            count(self.errors as u64, "error finding"),
            count(self.warnings as u64, "warning"),
        );
        out.push(format!("{}: {counts}", self.answer.label()));
        if !self.violations.is_empty() {
            let by: Vec<String> = self
                .violations
                .iter()
                .map(|(v, n)| format!("{} {v}", thousands(*n)))
                .collect();
            out.push(format!("  violations: {}", by.join(", ")));
        }
        if self.blocked_total > 0 {
            out.push(format!(
                "  blocked by the firewall: {} the matrix does not permit (not violations: the \
                 firewall did its job, FW2)",
                count(self.blocked_total, "flow")
            ));
        }
        for f in &self.failing_findings {
            match f.strip_prefix("and ") {
                Some(more) => out.push(format!("  and {more} error findings")),
                None => out.push(format!("  error: {f}")),
            }
        }
        for u in &self.unchecked {
            out.push(format!("  not checked: {u}"));
        }
        out
    }
}

/// The ids a skipped entry's id names: `A13-A15` is A13, A14 and A15; any other id itself.
fn expand_range(id: &str) -> Vec<String> {
    let split = |s: &str| -> Option<(String, u32)> {
        let at = s.find(|c: char| c.is_ascii_digit())?;
        Some((s[..at].to_string(), s[at..].parse().ok()?))
    };
    if let Some((a, b)) = id.split_once('-') {
        if let (Some((la, na)), Some((lb, nb))) = (split(a), split(b)) {
            if la == lb && na <= nb && nb - na < 50 {
                return (na..=nb).map(|n| format!("{la}{n}")).collect();
            }
        }
    }
    vec![id.to_string()]
}

#[cfg(test)]
mod tests {
    use super::expand_range;

    #[test]
    fn a_range_of_ids_names_each_id() {
        assert_eq!(expand_range("A13-A15"), ["A13", "A14", "A15"]);
        assert_eq!(expand_range("F1-F3"), ["F1", "F2", "F3"]);
        assert_eq!(expand_range("CRL1"), ["CRL1"]);
        // Not a range of one kind: kept as written.
        assert_eq!(expand_range("A3-F5"), ["A3-F5"]);
        assert_eq!(expand_range("A5-A3"), ["A5-A3"]);
    }
}
