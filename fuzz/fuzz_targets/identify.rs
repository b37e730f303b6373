//! The identify probes (TLS handshake, pseudo-TLS, STUN/TURN, RTP, SIP...) on stream or datagram prefixes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| edgewise::fuzzing::identify_prefixes(data));
