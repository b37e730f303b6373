//! One integration-test binary (faster to link on a small machine), one module per concern.

mod util;

mod audit;
mod cli_inputs;
mod diagnose;
mod generated;
mod identify;
mod oracles;
mod robust;
mod tui;
