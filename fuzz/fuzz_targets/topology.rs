//! The topology TOML: parse, warnings, firewall rules, and the sample capture judged against it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::topology(data));
