//! `-w FILE`: the packets of the flows a report shows, written as pcapng, as tshark's `-w`
//! writes the packets it kept. `audit -r x.pcapng -Y 'verdict != permitted' -w bad.pcapng`
//! hands the violating flows to Wireshark.
//!
//! The flow table keeps counts, not packets, so the packets are found by a second pass over
//! the same capture files: each packet is numbered as the first pass numbered it (frames count
//! every packet record across the inputs, in order), decoded, and kept when its direction-free
//! five-tuple is that of a selected flow and its frame number lies within that flow's first and
//! last frame. The frame span tells apart flows that reuse a five-tuple after an idle timeout,
//! since one ends before the next begins. Besides its own packets, a flow brings:
//! - the later fragments of its fragmented datagrams (found through their first fragment);
//! - the ICMP errors counted against it, up to the eight whose frames the flow records.
//!
//! Packets are written in capture order, with their original timestamps (nanosecond
//! resolution), lengths and link types, except later fragments seen before their first
//! fragment: they wait (up to 1024, as in the flow table) and follow it. Each capture interface
//! that contributes a packet becomes an interface of the output. ICMP errors beyond a flow's
//! eighth are not written (the flow counts them but keeps the frames of eight).
//!
//! The writer is ours: pcapng needs three block types here (section header, interface
//! description, enhanced packet), and it streams packets as the second pass finds them.

use std::io::{self, Write};
use std::net::IpAddr;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::Analysis;
use crate::decode::{self, Decoded, Fragment, Transport};
use crate::flow::FlowKey;
use crate::select::{shown, Selection};
use crate::source::capture::Next;
use crate::source::input::{self, InputError, InputSpec};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exported {
    /// Flows whose packets were looked for.
    pub flows: usize,
    pub packets: u64,
    /// Interfaces written to the file.
    pub interfaces: u32,
}

/// Why the packets could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Input(InputError),
    #[error(
        "{0}: the file changed since it was read (it could not be read again): {1}; the packet \
         file is incomplete"
    )]
    Changed(String, String),
    #[error("cannot write the packets: {0}")]
    Write(#[from] io::Error),
}

type FragKey = (IpAddr, IpAddr, u8, u32);

/// The flows to write, as the second pass looks them up.
struct Wanted {
    /// Frame spans of the selected flows, by five-tuple.
    spans: FxHashMap<FlowKey, Vec<(u64, u64)>>,
    /// Frames of the ICMP errors the selected flows record.
    icmp_errors: FxHashSet<u64>,
    /// The last frame any selected flow needs: reading stops there.
    last: u64,
    flows: usize,
}

impl Wanted {
    fn new(analysis: &Analysis, selection: Option<&Selection>) -> Wanted {
        let mut w = Wanted {
            spans: FxHashMap::default(),
            icmp_errors: FxHashSet::default(),
            last: 0,
            flows: 0,
        };
        for i in shown(selection, analysis.flows.len()) {
            let Some(f) = analysis.flows.get(i) else {
                continue;
            };
            w.flows += 1;
            let first = [f.orig.first_frame(), f.resp.first_frame()]
                .into_iter()
                .flatten()
                .min();
            let last = [f.orig.last_frame(), f.resp.last_frame()]
                .into_iter()
                .flatten()
                .max();
            if let (Some(a), Some(b)) = (first, last) {
                w.spans.entry(f.key()).or_default().push((a, b));
                w.last = w.last.max(b);
            }
            for n in &f.icmp_notes {
                w.icmp_errors.insert(n.frame);
                w.last = w.last.max(n.frame);
            }
        }
        w
    }

    fn holds(&self, key: &FlowKey, frame: u64) -> bool {
        self.spans
            .get(key)
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= frame && frame <= b))
    }
}

/// Later fragments held until their first fragment, as many as the flow table holds.
const PENDING_CAP: usize = 1024;

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    No,
    Write,
    /// A first fragment: write it, then the later fragments of its datagram that came first.
    WriteFirstFragment(FragKey),
    /// A later fragment whose first fragment has not come yet.
    Hold(FragKey),
    /// The first fragment of a datagram of another flow: its held fragments are not wanted.
    Forget(FragKey),
}

/// Is this packet one of the wanted flows'? Mirrors where the flow table put it.
fn take(
    w: &Wanted,
    fragments: &mut FxHashMap<FragKey, FlowKey>,
    link_type: u16,
    data: &[u8],
    frame: u64,
) -> Take {
    let Decoded::Ip(pkt) = decode::decode(link_type, data) else {
        return Take::No;
    };
    let ports = match &pkt.transport {
        Transport::Tcp(t) => (t.src_port, t.dst_port),
        Transport::Udp(u) => (u.src_port, u.dst_port),
        Transport::Icmp(i) => {
            if i.is_error && w.icmp_errors.contains(&frame) {
                return Take::Write;
            }
            (0, 0)
        }
        Transport::Fragment => {
            let Fragment::Later { id } = pkt.fragment else {
                return Take::No;
            };
            let fk = (pkt.src, pkt.dst, pkt.protocol, id);
            return match fragments.get(&fk) {
                Some(key) if w.holds(key, frame) => Take::Write,
                Some(_) => Take::No,
                None => Take::Hold(fk),
            };
        }
        Transport::Truncated => return Take::No,
        Transport::Other => (0, 0),
    };
    let (key, _) = FlowKey::new((pkt.src, ports.0), (pkt.dst, ports.1), pkt.protocol);
    match (w.holds(&key, frame), pkt.fragment) {
        (false, Fragment::First { id }) => Take::Forget((pkt.src, pkt.dst, pkt.protocol, id)),
        (false, _) => Take::No,
        (true, Fragment::First { id }) => {
            let fk = (pkt.src, pkt.dst, pkt.protocol, id);
            fragments.insert(fk, key);
            Take::WriteFirstFragment(fk)
        }
        (true, _) => Take::Write,
    }
}

/// A packet copied out of its reader, with what its interface description needs.
struct Held {
    fragment: FragKey,
    input: usize,
    seq: u32,
    ts_ns: i64,
    orig_len: u32,
    link_type: u16,
    snaplen: u32,
    name: Option<String>,
    data: Vec<u8>,
}

/// Writes the packets of the flows shown (all, or the selection's) from `inputs`, the files
/// the analysis read, stopping after `count` packets as the analysis did.
pub fn write_packets(
    inputs: &[InputSpec],
    count: Option<u64>,
    analysis: &Analysis,
    selection: Option<&Selection>,
    out: &mut dyn Write,
) -> Result<Exported, ExportError> {
    let w = Wanted::new(analysis, selection);
    let mut pcapng = PcapNgWriter::new(out)?;
    let mut fragments: FxHashMap<FragKey, FlowKey> = FxHashMap::default();
    let mut frame = 0u64;
    let mut packets = 0u64;
    let stop_at = count.map_or(w.last, |c| c.min(w.last));
    let mut data = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    for (idx, spec) in inputs.iter().enumerate() {
        if frame >= stop_at {
            break;
        }
        // An input the analysis could not open gave it no frames.
        let report = analysis.inputs.get(idx);
        if report.is_none_or(|r| r.error.is_some()) {
            continue;
        }
        let mut reader = input::open(spec, |r| r)
            .map_err(|e| ExportError::Changed(spec.display_name(), e.problem.to_string()))?;
        let no_snaplen = report.is_some_and(|r| r.container.caplen_gt_snaplen > 0);
        while frame < stop_at {
            let (todo, seq, ts_ns, orig_len, link_type) = match reader.next_record() {
                Next::Packet(p) => {
                    frame += 1;
                    let todo = take(&w, &mut fragments, p.link_type, p.data, frame);
                    match todo {
                        Take::No => continue,
                        Take::Forget(fk) => {
                            held.retain(|h| h.fragment != fk);
                            continue;
                        }
                        _ => {}
                    }
                    data.clear();
                    data.extend_from_slice(p.data);
                    (todo, p.interface_seq, p.ts_ns, p.orig_len, p.link_type)
                }
                Next::Problem { .. } => {
                    frame += 1;
                    continue;
                }
                Next::End | Next::Stop(_) => break,
            };
            let info = reader.all_interfaces().get(seq as usize);
            // A file whose records outgrow its snaplen gets "no limit" (pcapng's 0).
            let snaplen = match (no_snaplen, info) {
                (false, Some(i)) => i.snaplen,
                _ => 0,
            };
            let name = info.and_then(|i| i.name.clone());
            if let Take::Hold(fragment) = todo {
                if held.len() < PENDING_CAP {
                    held.push(Held {
                        fragment,
                        input: idx,
                        seq,
                        ts_ns,
                        orig_len,
                        link_type,
                        snaplen,
                        name,
                        data: data.clone(),
                    });
                }
                continue;
            }
            let interface = match pcapng.interface(idx, seq) {
                Some(id) => id,
                None => pcapng.add_interface(idx, seq, link_type, snaplen, name.as_deref())?,
            };
            pcapng.packet(interface, ts_ns, &data, orig_len)?;
            packets += 1;
            if let Take::WriteFirstFragment(fk) = todo {
                let (mine, rest): (Vec<Held>, Vec<Held>) =
                    held.drain(..).partition(|h| h.fragment == fk);
                held = rest;
                for h in mine {
                    let interface = match pcapng.interface(h.input, h.seq) {
                        Some(id) => id,
                        None => pcapng.add_interface(
                            h.input,
                            h.seq,
                            h.link_type,
                            h.snaplen,
                            h.name.as_deref(),
                        )?,
                    };
                    pcapng.packet(interface, h.ts_ns, &h.data, h.orig_len)?;
                    packets += 1;
                }
            }
        }
    }
    let interfaces = pcapng.interfaces.len() as u32;
    pcapng.out.flush()?;
    Ok(Exported {
        flows: w.flows,
        packets,
        interfaces,
    })
}

/// A little-endian pcapng stream of one section: interfaces are described as they are first
/// needed, packets carry nanosecond timestamps.
struct PcapNgWriter<'w> {
    out: &'w mut dyn Write,
    /// (input, interface in that input) -> interface id in the output.
    interfaces: FxHashMap<(usize, u32), u32>,
    block: Vec<u8>,
}

mod block {
    pub const SECTION_HEADER: u32 = 0x0A0D_0D0A;
    pub const INTERFACE: u32 = 0x0000_0001;
    pub const ENHANCED_PACKET: u32 = 0x0000_0006;
    pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
    pub const OPT_END: u16 = 0;
    pub const SHB_USERAPPL: u16 = 4;
    pub const IF_NAME: u16 = 2;
    pub const IF_TSRESOL: u16 = 9;
    /// if_tsresol: 10^-9 s.
    pub const NANOSECONDS: u8 = 9;
}

impl<'w> PcapNgWriter<'w> {
    fn new(out: &'w mut dyn Write) -> io::Result<PcapNgWriter<'w>> {
        let mut w = PcapNgWriter {
            out,
            interfaces: FxHashMap::default(),
            block: Vec::with_capacity(2048),
        };
        w.begin(block::SECTION_HEADER);
        w.u32(block::BYTE_ORDER_MAGIC);
        w.u16(1);
        w.u16(0);
        // Section length: not given.
        w.block.extend_from_slice(&(-1i64).to_le_bytes());
        let appl = format!("edgewise {}", env!("CARGO_PKG_VERSION"));
        w.option(block::SHB_USERAPPL, appl.as_bytes());
        w.option(block::OPT_END, &[]);
        w.end()?;
        Ok(w)
    }

    fn interface(&self, input: usize, seq: u32) -> Option<u32> {
        self.interfaces.get(&(input, seq)).copied()
    }

    fn add_interface(
        &mut self,
        input: usize,
        seq: u32,
        link_type: u16,
        snaplen: u32,
        name: Option<&str>,
    ) -> io::Result<u32> {
        let id = self.interfaces.len() as u32;
        self.begin(block::INTERFACE);
        self.u16(link_type);
        self.u16(0);
        self.u32(snaplen);
        if let Some(n) = name.filter(|n| n.len() < usize::from(u16::MAX)) {
            self.option(block::IF_NAME, n.as_bytes());
        }
        self.option(block::IF_TSRESOL, &[block::NANOSECONDS]);
        self.option(block::OPT_END, &[]);
        self.end()?;
        self.interfaces.insert((input, seq), id);
        Ok(id)
    }

    fn packet(&mut self, interface: u32, ts_ns: i64, data: &[u8], orig_len: u32) -> io::Result<()> {
        // pcapng timestamps are unsigned: a time before 1970 (a damaged clock) is written as 0.
        let ts = u64::try_from(ts_ns).unwrap_or(0);
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "packet too large"))?;
        self.begin(block::ENHANCED_PACKET);
        self.u32(interface);
        self.u32((ts >> 32) as u32);
        self.u32(ts as u32);
        self.u32(caplen);
        self.u32(orig_len.max(caplen));
        self.block.extend_from_slice(data);
        self.pad();
        self.end()
    }

    fn begin(&mut self, block_type: u32) {
        self.block.clear();
        self.u32(block_type);
        // The total length, filled in by `end`.
        self.u32(0);
    }

    fn end(&mut self) -> io::Result<()> {
        let total = u32::try_from(self.block.len() + 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "block too large"))?;
        self.u32(total);
        self.block[4..8].copy_from_slice(&total.to_le_bytes());
        self.out.write_all(&self.block)
    }

    fn u16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn pad(&mut self) {
        while self.block.len() % 4 != 0 {
            self.block.push(0);
        }
    }

    /// An option: code, length, value padded to 32 bits. Values are short (checked by callers).
    fn option(&mut self, code: u16, value: &[u8]) {
        self.u16(code);
        self.u16(value.len() as u16);
        self.block.extend_from_slice(value);
        self.pad();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::capture::CaptureReader;

    /// What we write, our reader reads back: interfaces, timestamps to the nanosecond, lengths.
    #[test]
    fn written_pcapng_reads_back() {
        let mut buf = Vec::new();
        {
            let mut w = PcapNgWriter::new(&mut buf).expect("vec");
            let a = w
                .add_interface(0, 0, 1, 262_144, Some("eth0"))
                .expect("vec");
            let b = w.add_interface(1, 3, 113, 0, None).expect("vec");
            assert_eq!((a, b), (0, 1));
            assert_eq!(w.interface(1, 3), Some(1));
            w.packet(a, 1_793_610_000_123_456_789, &[0xaa; 61], 61)
                .expect("vec");
            w.packet(b, 1_793_610_001_000_000_001, &[0xbb; 64], 1500)
                .expect("vec");
        }
        let mut r = CaptureReader::open(io::Cursor::new(buf)).expect("opens");
        let mut seen = Vec::new();
        loop {
            match r.next_record() {
                Next::Packet(p) => seen.push((p.ts_ns, p.data.len(), p.orig_len, p.link_type)),
                Next::End => break,
                Next::Problem { .. } | Next::Stop(_) => panic!("damaged"),
            }
        }
        assert_eq!(
            seen,
            vec![
                (1_793_610_000_123_456_789, 61, 61, 1),
                (1_793_610_001_000_000_001, 64, 1500, 113)
            ]
        );
        assert_eq!(r.all_interfaces()[0].name.as_deref(), Some("eth0"));
        assert_eq!(r.all_interfaces()[1].snaplen, 0);
    }
}
