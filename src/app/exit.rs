//! The exit status, decided in one place from what a run produced.
//!
//! - 0: the run completed and found nothing at or above `--fail-on`.
//! - 1: the audit found something at or above `--fail-on` (by default a violation or an error
//!   finding).
//! - 2: unusable: bad arguments or configuration, no readable input, a firewall log without a
//!   single usable line, or an error during the run.
//! - 3: partial: a report was written, but some input was damaged or cut short (an input that
//!   could not be read or stopped early, unparsable log lines).
//!
//! Damaged evidence wins over a failure (2, then 3, then 1), as grep and ripgrep let an error
//! win over a match: a violation's status must never hide that part of the input was not
//! read. The report's headline still says FAIL and why.

use std::io;
use std::process::ExitCode;

use crate::analysis::Completeness;

use super::messages;
use super::run::{Audited, Outcome};
use super::settings::{Settings, SettingsError};

/// Findings at or above `--fail-on`.
pub const FINDINGS: u8 = 1;
/// Unusable input or arguments.
pub const UNUSABLE: u8 = 2;
/// Output was produced, but some input was damaged.
pub const PARTIAL: u8 = 3;

/// The status of a run that got as far as its output.
pub fn status(settings: &Settings, outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Flows { analysis, .. } => match analysis.completeness() {
            Completeness::Complete => ExitCode::SUCCESS,
            Completeness::Partial => ExitCode::from(PARTIAL),
            Completeness::Unusable => ExitCode::from(UNUSABLE),
        },
        Outcome::Audit(a) => audit_status(settings, a),
        Outcome::Unusable => ExitCode::from(UNUSABLE),
        Outcome::Browsed | Outcome::Print => ExitCode::SUCCESS,
        Outcome::Generated(code) => *code,
        Outcome::Inferred { completeness, .. } => match completeness {
            Completeness::Complete => ExitCode::SUCCESS,
            Completeness::Partial => ExitCode::from(PARTIAL),
            Completeness::Unusable => ExitCode::from(UNUSABLE),
        },
    }
}

fn audit_status(settings: &Settings, a: &Audited) -> ExitCode {
    let damaged = match &a.log {
        // A log none of whose lines (comments aside) could be used is no evidence at all.
        Some(log) if log.summary.used == 0 && log.summary.lines > log.summary.comment => {
            Some(UNUSABLE)
        }
        Some(log) if log.summary.unparsable_total() > 0 => Some(PARTIAL),
        Some(_) => None,
        None => match a.analysis.completeness() {
            Completeness::Complete => None,
            Completeness::Partial => Some(PARTIAL),
            Completeness::Unusable => Some(UNUSABLE),
        },
    };
    if let Some(code) = damaged {
        return ExitCode::from(code);
    }
    if let Settings::Audit(s) = settings {
        let fails = match &a.selection {
            Some(sel) => s.fail_on.fails_for(&a.analysis, &a.audit, sel),
            None => s.fail_on.fails(&a.audit),
        };
        if fails {
            return ExitCode::from(FINDINGS);
        }
    }
    ExitCode::SUCCESS
}

/// A usage or configuration error, reported.
pub fn settings_error(e: &SettingsError) -> ExitCode {
    messages::error(e);
    ExitCode::from(UNUSABLE)
}

/// An error during the run, reported with its whole chain of causes. A closed pipe (`| head`)
/// is not an error: the reader had what it wanted.
pub fn run_error(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<io::Error>()
        .is_some_and(|ioe| ioe.kind() == io::ErrorKind::BrokenPipe)
    {
        return ExitCode::SUCCESS;
    }
    messages::error(&format_args!("{e:#}"));
    ExitCode::from(UNUSABLE)
}
