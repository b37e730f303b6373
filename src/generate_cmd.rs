//! `edgewise generate`: writes the generator's captures to files.

use std::process::ExitCode;

use crate::cli::GenerateArgs;

pub fn run(_args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("generate is not wired yet")
}
