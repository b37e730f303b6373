//! The display filter (-Y): parse, then evaluate on every flow of the sample capture.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::filter(data));
