//! Each firewall/flow-log parser (chosen by the first byte), its flows audited and its reports rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::log(data));
