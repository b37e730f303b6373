//! The `edgewise` binary: parse the command line, validate it into settings, run, render, and
//! map the outcome to an exit status (see `app::exit`: 0 complete, 1 findings at or above
//! --fail-on, 2 unusable input or arguments, 3 partial read).

use std::process::ExitCode;

use clap::Parser;

use edgewise::app::{self, exit, Settings};
use edgewise::cli::Cli;

/// mimalloc rather than glibc's malloc: a busy capture opens, finishes and frees hundreds of
/// thousands of flows, and glibc spent a fifth of the audit in its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_command(cli.command) {
        Ok(s) => s,
        Err(e) => return exit::settings_error(&e),
    };
    let outcome = match app::run(&settings) {
        Ok(o) => o,
        Err(e) => return exit::run_error(&e),
    };
    // Decided before rendering: the TUI of `audit --tui` consumes the outcome.
    let status = exit::status(&settings, &outcome);
    match app::render(&settings, outcome) {
        Ok(()) => status,
        Err(e) => exit::run_error(&e),
    }
}
