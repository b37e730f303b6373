//! One integration-test binary (faster to link on a small machine), one module per concern.

mod util;

mod analytics;
mod audit;
mod busy;
mod cli_inputs;
mod diagnose;
mod ecosystem;
mod generated;
mod identify;
mod live;
mod logs;
mod oracles;
mod robust;
mod schema;
mod trust;
mod tshark;
mod tui;
mod zeek;
