//! "Nothing lost": every packet read lands in exactly one named bucket, and the buckets add up.
//!
//! The identity checked on every run:
//! ```text
//! packets read = Σ buckets            (and the same for wire bytes: Σ original lengths)
//! bucket "flow" = Σ over all flows of their packets (active, expired and evicted alike)
//! bucket "flow.icmp_error" = Σ over all flows of the ICMP errors attributed to them
//! ```
//! Buckets are named `layer.reason` in the style of Zeek's weirds and Suricata's decoder
//! counters. Notes (retransmissions, snaplen-cut frames...) are counted in addition: they never
//! take a packet out of its flow.

use std::collections::BTreeMap;

use serde::Serialize;

/// Packets and wire bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub packets: u64,
    pub wire_bytes: u64,
}

impl Tally {
    pub fn add(&mut self, wire: u32) {
        self.packets += 1;
        self.wire_bytes += u64::from(wire);
    }
}

/// The bucket of packets attributed to flows.
pub const FLOW: &str = "flow";
/// ICMP errors attributed to the flow they quote.
pub const FLOW_ICMP_ERROR: &str = "flow.icmp_error";

/// The run's packet accounting.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounting {
    /// Packet records read from all inputs.
    pub packets: u64,
    /// Σ original lengths (capinfos "Data size").
    pub wire_bytes: u64,
    /// Σ captured lengths.
    pub captured_bytes: u64,
    pub buckets: BTreeMap<String, Tally>,
    pub notes: BTreeMap<String, u64>,
    /// Every identity that failed, in words. Empty on a correct run.
    pub mismatches: Vec<String>,
}

impl Accounting {
    pub fn read(&mut self, wire: u32, captured: usize) {
        self.packets += 1;
        self.wire_bytes += u64::from(wire);
        self.captured_bytes += captured as u64;
    }

    pub fn bucket(&mut self, name: &str, wire: u32) {
        match self.buckets.get_mut(name) {
            Some(t) => t.add(wire),
            None => {
                let mut t = Tally::default();
                t.add(wire);
                self.buckets.insert(name.to_string(), t);
            }
        }
    }

    pub fn set_bucket(&mut self, name: &str, tally: Tally) {
        if tally.packets > 0 {
            self.buckets.insert(name.to_string(), tally);
        } else {
            self.buckets.remove(name);
        }
    }

    pub fn note(&mut self, name: &str, n: u64) {
        if n > 0 {
            *self.notes.entry(name.to_string()).or_insert(0) += n;
        }
    }

    pub fn bucket_total(&self) -> Tally {
        self.buckets.values().fold(Tally::default(), |mut acc, t| {
            acc.packets += t.packets;
            acc.wire_bytes += t.wire_bytes;
            acc
        })
    }

    /// Checks the identity; records any mismatch in `mismatches`.
    pub fn check(&mut self, flows: Tally, flow_icmp_errors: u64) {
        let total = self.bucket_total();
        if total.packets != self.packets {
            self.mismatches.push(format!(
                "{} packets read but {} accounted for in buckets",
                self.packets, total.packets
            ));
        }
        if total.wire_bytes != self.wire_bytes {
            self.mismatches.push(format!(
                "{} wire bytes read but {} accounted for in buckets",
                self.wire_bytes, total.wire_bytes
            ));
        }
        let in_flow_bucket = self.buckets.get(FLOW).copied().unwrap_or_default();
        if in_flow_bucket != flows {
            self.mismatches.push(format!(
                "{} packets ({} bytes) placed in flows but the flows hold {} ({} bytes)",
                in_flow_bucket.packets, in_flow_bucket.wire_bytes, flows.packets, flows.wire_bytes
            ));
        }
        let icmp = self.buckets.get(FLOW_ICMP_ERROR).map_or(0, |t| t.packets);
        if icmp != flow_icmp_errors {
            self.mismatches.push(format!(
                "{icmp} ICMP errors attributed but the flows record {flow_icmp_errors}"
            ));
        }
    }

    pub fn balanced(&self) -> bool {
        self.mismatches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_packet_breaks_the_identity() {
        let mut a = Accounting::default();
        a.read(60, 60);
        a.read(70, 70);
        a.bucket(FLOW, 60);
        a.check(
            Tally {
                packets: 1,
                wire_bytes: 60,
            },
            0,
        );
        assert!(!a.balanced());
        assert!(a.mismatches[0].contains("2 packets read but 1"));
        let mut b = Accounting::default();
        b.read(60, 60);
        b.bucket("non_ip.arp", 60);
        b.check(Tally::default(), 0);
        assert!(b.balanced(), "{:?}", b.mismatches);
    }
}
