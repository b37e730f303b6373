//! Where packets come from: capture files (pcap, pcapng, gzip-wrapped) and standard input.

pub mod capture;
pub mod format;
pub mod input;
