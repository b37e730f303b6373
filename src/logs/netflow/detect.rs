//! Is a capture a capture of NetFlow/IPFIX export packets? Told from the UDP payloads of its
//! first packets: a payload counts as an export when its header parses as NetFlow v5, v9 or
//! IPFIX (version, lengths and the first set's id and length agree with the datagram) and it
//! goes to a usual collector port, or to any port when most UDP payloads parse so. The capture
//! is one of exports when such payloads are most of its IP packets: an Edge capture with a
//! stray export datagram stays a capture.

use std::path::Path;

use crate::decode::{decode, Decoded, Transport};
use crate::source::capture::Next;
use crate::source::input::{self, InputSpec};

/// Ports collectors usually listen on: 2055 (Cisco NetFlow), 4739 (IPFIX, RFC 7011), 9995 and
/// 9996 (common NetFlow defaults).
pub const COLLECTOR_PORTS: [u16; 4] = [2055, 4739, 9995, 9996];

/// Packets looked at to decide.
const PROBE_PACKETS: u64 = 1000;

/// The export version a UDP payload's header shows (5, 9 or 10), when its lengths agree.
pub fn export_version(p: &[u8]) -> Option<u16> {
    let be16 = |i: usize| -> Option<usize> {
        p.get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let version = be16(0)?;
    match version {
        5 => {
            let count = be16(2)?;
            ((1..=30).contains(&count) && p.len() == 24 + 48 * count).then_some(5)
        }
        9 => {
            // Header of 20 bytes, then a FlowSet: id 0 (templates), 1 (options templates) or a
            // data set's template id (>= 256).
            let id = be16(20)?;
            let len = be16(22)?;
            ((id <= 1 || id >= 256) && len >= 4 && len <= p.len() - 20).then_some(9)
        }
        10 => {
            let total = be16(2)?;
            let id = be16(16)?;
            let len = be16(18)?;
            (total == p.len() && (id == 2 || id == 3 || id >= 256) && len >= 4 && len <= total - 16)
                .then_some(10)
        }
        _ => None,
    }
}

/// What the first packets of a capture are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// IP packets looked at.
    pub ip: u64,
    pub udp: u64,
    /// UDP payloads that parse as exports, to a collector port and to any port.
    pub at_collector_port: u64,
    pub anywhere: u64,
}

impl Probe {
    /// The exports, as the module's rule counts them.
    pub fn exports(&self) -> u64 {
        if self.anywhere * 2 > self.udp {
            self.anywhere
        } else {
            self.at_collector_port
        }
    }

    /// Exports are most of the packets.
    pub fn is_exports(&self) -> bool {
        self.exports() > 0 && self.exports() * 2 > self.ip
    }
}

/// Looks at the first packets of a capture file (gzip allowed). `None` when it cannot be read
/// as a capture.
pub fn probe(path: &Path) -> Option<Probe> {
    let mut reader = input::open(&InputSpec::File(path.to_path_buf()), |r| r).ok()?;
    let mut p = Probe::default();
    let mut seen = 0u64;
    while seen < PROBE_PACKETS {
        let pkt = match reader.next_record() {
            Next::Packet(pkt) => pkt,
            Next::Problem { .. } => {
                seen += 1;
                continue;
            }
            Next::End | Next::Stop(_) => break,
        };
        seen += 1;
        let Decoded::Ip(ip) = decode(pkt.link_type, pkt.data) else {
            continue;
        };
        p.ip += 1;
        if let Transport::Udp(u) = ip.transport {
            p.udp += 1;
            if export_version(u.payload).is_some() {
                p.anywhere += 1;
                if COLLECTOR_PORTS.contains(&u.dst_port) {
                    p.at_collector_port += 1;
                }
            }
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked_against_the_datagram() {
        let mut v5 = vec![0u8; 24 + 48];
        v5[1] = 5;
        v5[3] = 1;
        assert_eq!(export_version(&v5), Some(5));
        v5.push(0);
        assert_eq!(export_version(&v5), None, "length disagrees with count");

        let mut v9 = vec![0u8; 20 + 8];
        v9[1] = 9;
        v9[23] = 8;
        assert_eq!(export_version(&v9), Some(9));
        v9[21] = 7; // flowset id 7: reserved
        assert_eq!(export_version(&v9), None);

        let mut ipfix = vec![0u8; 16 + 4];
        ipfix[1] = 10;
        ipfix[3] = 20;
        ipfix[17] = 2;
        ipfix[19] = 4;
        assert_eq!(export_version(&ipfix), Some(10));
        ipfix[3] = 21;
        assert_eq!(export_version(&ipfix), None);

        // RTP, STUN and DNS payloads are not exports.
        assert_eq!(export_version(&[0x80, 0x00, 0x12, 0x34]), None);
        assert_eq!(export_version(&[0x00, 0x01, 0x00, 0x00]), None);
    }

    #[test]
    fn most_packets_must_be_exports() {
        let p = Probe {
            ip: 100,
            udp: 40,
            at_collector_port: 1,
            anywhere: 1,
        };
        assert!(!p.is_exports());
        let p = Probe {
            ip: 10,
            udp: 10,
            at_collector_port: 0,
            anywhere: 9,
        };
        assert!(p.is_exports(), "any port when most payloads parse");
    }
}
