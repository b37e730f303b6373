//! One integration-test binary (faster to link on a small machine), one module per concern.

mod util;

mod analytics;
mod audit;
mod busy;
mod captures;
mod cli_inputs;
mod damage;
mod diagnose;
mod docs;
mod ecosystem;
mod fuzz_found;
mod fuzz_replay;
mod generate_log;
mod generated;
mod html;
mod identify;
mod infer;
mod live;
mod logs;
mod netflow;
mod oracles;
mod robust;
mod rulebook;
mod schema;
mod text;
mod trust;
mod tshark;
mod tui;
mod zeek;
