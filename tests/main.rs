//! One integration-test binary (faster to link on a small machine), one module per concern.

mod util;

mod analytics;
mod audit;
mod busy;
mod cli_inputs;
mod damage;
mod diagnose;
mod docs;
mod ecosystem;
mod fuzz_found;
mod fuzz_replay;
mod generated;
mod identify;
mod live;
mod logs;
mod oracles;
mod robust;
mod trust;
mod tui;
