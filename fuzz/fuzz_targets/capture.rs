//! The capture reader (pcap, pcapng, gzip-wrapped) feeding the flow table, read three ways.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::capture(data));
