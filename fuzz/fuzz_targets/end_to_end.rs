//! Bytes -> capture -> analysis -> audit -> every report; asserts the accounting identity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::end_to_end(data));
