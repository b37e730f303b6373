//! One frame of a link type chosen by the first byte, then placed in a flow table.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::decode_frame(data));
