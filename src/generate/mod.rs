//! Synthetic, byte-exact Edge Server captures (pcap and pcapng) for the demo
//! capture, tests and benchmarks.
//!
//! * [`writer`]: pcap (all four magic/endianness flavours) and pcapng (EPB, SPB,
//!   obsolete PB; if_tsresol/if_tsoffset; direction flags) writers.
//! * [`packets`]: link/IP/TCP/UDP/ICMP framing with correct checksums, the TCP
//!   conversation helper and the ground-truth flow bookkeeping.
//! * [`proto`]: TLS, X.509 DER, STUN/MS-TURN, RTP/RTCP, DNS and HTTP payloads.
//! * [`scenarios`]: the named scenarios with their `expected` flows.
//! * [`bulk`]: the streaming benchmark capture.
//! * [`busy`]: a busy Edge (relay media, federation pool, calls with ground truth), streamed.
//! * [`logs`]: a busy Edge's day as a firewall log (`pfirewall.log`, Cisco ASA syslog), streamed,
//!   with its distinct flows and its lines chosen apart.

pub mod bulk;
pub mod busy;
pub mod logs;
pub mod packets;
pub mod proto;
pub mod scenarios;
pub mod writer;

pub use bulk::{write_bulk_pcap, BulkStats};
pub use busy::{write_busy_pcap, BusyOptions, BusyStats, Shape as BusyShape, TruthOut};
pub use logs::{write_firewall_log, LogBenchFormat, LogBenchOptions, LogBenchStats};
pub use packets::{Dir, FrameBuilder, Link, Sim, TcpConv, UdpFlow};
pub use scenarios::{scenario, scenario_names};
pub use writer::{write_pcap, write_pcapng, write_pcapng_with_tsresol, PcapFlavor, PcapNgOptions};

use std::net::SocketAddr;

/// One link-layer frame to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub interface: u32,
    pub data: Vec<u8>,
    /// `>= data.len()`; larger when the frame is snaplen-truncated.
    pub orig_len: u32,
}

/// A capture interface (pcapng IDB; pcap uses interface 0 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// LINKTYPE_* value.
    pub link_type: u16,
    pub snaplen: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Capture {
    pub interfaces: Vec<Interface>,
    pub frames: Vec<Frame>,
    pub expected: Vec<ExpectedFlow>,
}

/// What the generator intended, as ground truth for tests (directional:
/// initiator -> responder). For ICMP the ports carry the ICMP type (initiator)
/// and code (responder), as Zeek reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedFlow {
    /// 6 tcp, 17 udp, 1 icmp, 58 icmpv6, 47 gre.
    pub transport: u8,
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub orig_packets: u64,
    pub resp_packets: u64,
    pub orig_wire_bytes: u64,
    pub resp_wire_bytes: u64,
    /// Zeek conn_state intended ("SF", "S0", "REJ", ...; UDP: "SF" answered, "S0" one-way;
    /// ICMP and GRE: "OTH").
    pub conn_state: &'static str,
    pub label: &'static str,
}

impl Capture {
    /// Copy of the capture with every frame moved to interface 0, for writing a
    /// multi-interface capture as classic pcap. Only meaningful when all interfaces
    /// share interface 0's link type; the largest snaplen is kept.
    pub fn flattened(&self) -> Capture {
        let mut interfaces = self.interfaces.iter().take(1).cloned().collect::<Vec<_>>();
        if let Some(first) = interfaces.first_mut() {
            first.snaplen = self
                .interfaces
                .iter()
                .map(|i| i.snaplen)
                .max()
                .unwrap_or(first.snaplen);
        }
        let frames = self
            .frames
            .iter()
            .map(|f| Frame {
                interface: 0,
                ..f.clone()
            })
            .collect();
        Capture {
            interfaces,
            frames,
            expected: self.expected.clone(),
        }
    }
}

/// Cuts a serialized capture at `at` bytes (for truncated-file tests).
pub fn truncate_bytes(bytes: &[u8], at: usize) -> Vec<u8> {
    bytes[..at.min(bytes.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn temp_path(tag: &str, ext: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        std::env::temp_dir().join(format!(
            "edgewise-gen-{tag}-{}-{nanos}.{ext}",
            std::process::id()
        ))
    }

    fn tshark_available() -> bool {
        Command::new("tshark")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Runs tshark with a display filter and returns the number of matching packets.
    fn tshark_count(path: &std::path::Path, filter: &str) -> usize {
        let out = Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(path)
            .arg("-Y")
            .arg(filter)
            .output()
            .expect("tshark runs");
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    }

    #[test]
    fn tshark_decodes_edge_sample() -> std::io::Result<()> {
        if !tshark_available() {
            eprintln!("tshark not installed; skipping");
            return Ok(());
        }
        let cap = scenario("edge-sample").expect("scenario");
        let path = temp_path("edge-sample", "pcapng");
        write_pcapng(
            std::fs::File::create(&path)?,
            &cap,
            &PcapNgOptions {
                write_direction_flags: true,
                ..Default::default()
            },
        )?;
        let sni = tshark_count(&path, "tls.handshake.type == 1 && tls.handshake.extensions_server_name == \"sip.contoso.com\"");
        let fed = tshark_count(
            &path,
            "tls.handshake.extensions_server_name == \"sip.fabrikam.com\"",
        );
        let certreq = tshark_count(&path, "tls.handshake.type == 13");
        let stun = tshark_count(&path, "stun");
        let dns_srv = tshark_count(&path, "dns.srv.target == \"sip.fabrikam.com\"");
        let crl = tshark_count(&path, "http.request.uri == \"/pki/contoso.crl\"");
        let malformed = tshark_count(&path, "_ws.malformed || _ws.expert.severity == error");
        std::fs::remove_file(&path)?;
        assert!(sni >= 2, "ClientHello with SNI sip.contoso.com: {sni}");
        assert!(fed >= 1);
        assert!(certreq >= 1);
        assert!(stun >= 6, "stun packets: {stun}");
        assert_eq!(dns_srv, 1);
        assert_eq!(crl, 1);
        assert_eq!(malformed, 0, "malformed packets");
        Ok(())
    }

    #[test]
    fn tshark_reads_every_scenario_and_format() -> std::io::Result<()> {
        if !tshark_available() {
            eprintln!("tshark not installed; skipping");
            return Ok(());
        }
        for name in scenario_names() {
            let cap = scenario(name).expect("scenario");
            let path = temp_path(name, "pcapng");
            let res: Vec<u8> = (0..cap.interfaces.len())
                .map(|i| if i % 2 == 0 { 6 } else { 9 })
                .collect();
            let opts = PcapNgOptions {
                big_endian: name.len() % 2 == 0,
                write_direction_flags: true,
                ..Default::default()
            };
            write_pcapng_with_tsresol(std::fs::File::create(&path)?, &cap, &opts, &res)?;
            let n = tshark_count(&path, "frame");
            std::fs::remove_file(&path)?;
            assert_eq!(n, cap.frames.len(), "{name}: tshark frame count");
        }
        let cap = scenario("tcp-states").expect("scenario");
        for fl in PcapFlavor::ALL {
            let path = temp_path("tcp-states", "pcap");
            write_pcap(std::fs::File::create(&path)?, &cap, fl)?;
            let n = tshark_count(&path, "tcp");
            std::fs::remove_file(&path)?;
            assert_eq!(n, cap.frames.len(), "{fl:?}");
        }
        Ok(())
    }

    #[test]
    fn tshark_reads_pcapng_option_combinations() -> std::io::Result<()> {
        if !tshark_available() {
            eprintln!("tshark not installed; skipping");
            return Ok(());
        }
        let cap = scenario("tcp-states").expect("scenario");
        let first = cap.frames[0].ts_ns;
        let last = cap.frames[cap.frames.len() - 1].ts_ns;
        let combos = [
            PcapNgOptions::default(),
            PcapNgOptions {
                big_endian: true,
                tsresol: 9,
                write_direction_flags: true,
                ..Default::default()
            },
            PcapNgOptions {
                tsresol: 0x80 | 24,
                tsoffset_s: 1_700_000_000,
                ..Default::default()
            },
            PcapNgOptions {
                use_obsolete_packet_blocks: true,
                write_direction_flags: true,
                ..Default::default()
            },
            PcapNgOptions {
                use_simple_packet_blocks: true,
                big_endian: true,
                ..Default::default()
            },
        ];
        for opts in &combos {
            let path = temp_path("opts", "pcapng");
            write_pcapng(std::fs::File::create(&path)?, &cap, opts)?;
            let out = Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args([
                    "-T",
                    "fields",
                    "-e",
                    "frame.time_epoch",
                    "-e",
                    "frame.packet_flags_direction",
                ])
                .output()?;
            std::fs::remove_file(&path)?;
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), cap.frames.len(), "{opts:?}");
            if !opts.use_simple_packet_blocks {
                for (line, want) in [(lines[0], first), (lines[lines.len() - 1], last)] {
                    let epoch: f64 = line
                        .split('\t')
                        .next()
                        .and_then(|t| t.parse().ok())
                        .expect("epoch");
                    assert!(
                        (epoch - want as f64 / 1e9).abs() < 2e-6,
                        "{opts:?}: {line} vs {want}"
                    );
                }
            }
            if opts.write_direction_flags {
                // First frame is an inbound SYN from a remote user.
                assert!(
                    lines[0].ends_with("\t1")
                        || lines[0].ends_with("\t0x1")
                        || lines[0].ends_with("\t0x00000001"),
                    "{opts:?}: {}",
                    lines[0]
                );
            }
        }
        Ok(())
    }

    #[test]
    #[ignore]
    fn print_flow_summary() {
        for name in scenario_names() {
            let cap = scenario(name).expect("scenario");
            let mut by_t = std::collections::BTreeMap::new();
            for e in &cap.expected {
                *by_t.entry(e.transport).or_insert(0) += 1;
            }
            eprintln!(
                "{name}: {} frames, {} flows {by_t:?}",
                cap.frames.len(),
                cap.expected.len()
            );
            for e in &cap.expected {
                eprintln!(
                    "  {:2} {} -> {} {}/{} {}/{} {} {}",
                    e.transport,
                    e.initiator,
                    e.responder,
                    e.orig_packets,
                    e.resp_packets,
                    e.orig_wire_bytes,
                    e.resp_wire_bytes,
                    e.conn_state,
                    e.label
                );
            }
        }
    }

    /// Writes every scenario to $EDGEWISE_GEN_DUMP (when set) for manual inspection.
    #[test]
    fn dump_scenarios_when_asked() -> std::io::Result<()> {
        let Some(dir) = std::env::var_os("EDGEWISE_GEN_DUMP") else {
            return Ok(());
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        for name in scenario_names() {
            let cap = scenario(name).expect("scenario");
            let res: Vec<u8> = (0..cap.interfaces.len())
                .map(|i| if i % 2 == 0 { 6 } else { 9 })
                .collect();
            write_pcapng_with_tsresol(
                std::fs::File::create(dir.join(format!("{name}.pcapng")))?,
                &cap,
                &PcapNgOptions::default(),
                &res,
            )?;
        }
        write_bulk_pcap(std::fs::File::create(dir.join("bulk.pcap"))?, 3_000_000, 7)?;
        Ok(())
    }
}
