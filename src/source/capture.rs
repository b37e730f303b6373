//! Streaming reader for pcap and pcapng, built on `pcap-parser`'s block parsers.
//!
//! pcap-parser parses a block it is given; this module owns the framing around it, because the
//! checks a trusted reader needs are ours to make (pcap-parser does not make them):
//! - every length field is checked against a bound *before* we buffer that many bytes, so no input
//!   makes us allocate from a length field (records: 262144 bytes, like libpcap and wiretap;
//!   other pcapng blocks: 16 MiB, like wiretap);
//! - caplen is checked against the snaplen and the original length, and reported;
//! - the pcapng interface id of every packet is checked;
//! - a file that ends inside a record keeps every complete packet and says where it was cut.
//!
//! No input can make this loop forever: every iteration either consumes at least one block
//! header's worth of bytes or ends the read.

use std::io::{self, Read};

use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};

use super::format::{detect, Detected, Unreadable};

/// Largest packet record we accept (libpcap's and wiretap's MAXIMUM_SNAPLEN).
pub const MAX_RECORD_LEN: u32 = 262_144;
/// Largest non-packet pcapng block we accept (wiretap's MAX_BLOCK_SIZE).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

const PCAP_HEADER_LEN: usize = 24;
const SHB_TYPE: u32 = 0x0A0D_0D0A;
const EPB_TYPE: u32 = 0x0000_0006;
const SPB_TYPE: u32 = 0x0000_0003;
const OBSOLETE_PB_TYPE: u32 = 0x0000_0002;
const IDB_TYPE: u32 = 0x0000_0001;
const EPB_FLAGS_OPTION: u16 = 2;
/// Link type field bit saying the FCS length bits are meaningful (pcap spec, "F" bit).
const LINKTYPE_FCS_PRESENT: u32 = 0x0400_0000;

/// Direction recorded in a pcapng EPB `epb_flags` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CapturedDirection {
    Inbound,
    Outbound,
}

/// One packet record as read from the file, borrowing its bytes from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// 1-based index of this packet record in its file (tshark's frame number).
    pub number: u64,
    pub ts_ns: i64,
    /// Captured bytes (caplen, less any FCS the link type says is present).
    pub data: &'a [u8],
    /// Length on the wire as the capture recorded it (origlen).
    pub orig_len: u32,
    /// pcapng interface id; 0 for pcap.
    pub interface: u32,
    /// Index of the interface in [`CaptureReader::interfaces`] (all sections of the file).
    pub interface_seq: u32,
    /// Link type with the FCS bits masked off.
    pub link_type: u16,
    pub direction: Option<CapturedDirection>,
    /// The timestamp was inherited (Simple Packet Blocks carry none).
    pub ts_unknown: bool,
}

/// An interface as described by a pcapng IDB (or the pcap file header).
#[derive(Debug, Clone, serde::Serialize)]
pub struct InterfaceInfo {
    pub id: u32,
    pub name: Option<String>,
    pub link_type: u16,
    pub snaplen: u32,
    /// Timestamp units per second.
    #[serde(skip)]
    ts_units_per_sec: u64,
    #[serde(skip)]
    ts_offset_s: i64,
    #[serde(skip)]
    fcs_len: usize,
}

/// What a reader noticed about the container, in the same `layer.reason` style as the decoder.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerNotes {
    pub caplen_gt_snaplen: u64,
    pub caplen_gt_origlen: u64,
    pub bad_ts_fraction: u64,
    pub unknown_ts: u64,
    /// Non-packet pcapng blocks skipped (NRB, ISB, DSB, custom...), by block type.
    pub skipped_blocks: std::collections::BTreeMap<String, u64>,
    pub sections: u64,
    pub unusual_version: u64,
}

/// Why a packet record could not be handed on even though it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordProblem {
    /// EPB or obsolete PB naming an interface no IDB described.
    UnknownInterface,
    /// caplen 0: nothing was captured.
    EmptyRecord,
    /// caplen above 262144 in a block whose framing is intact.
    Oversized,
    /// A packet block whose framing is intact but whose fields did not parse.
    MalformedBlock,
}

impl RecordProblem {
    pub fn bucket(self) -> &'static str {
        match self {
            RecordProblem::UnknownInterface => "container.unknown_interface",
            RecordProblem::EmptyRecord => "container.empty_record",
            RecordProblem::Oversized => "container.oversized_record",
            RecordProblem::MalformedBlock => "container.malformed_packet_block",
        }
    }
}

/// One step of reading.
pub enum Next<'a> {
    Packet(RawPacket<'a>),
    /// A packet record was read but cannot be decoded; it still counts as a packet.
    Problem {
        number: u64,
        orig_len: u32,
        caplen: u32,
        problem: RecordProblem,
    },
    /// The file ended cleanly.
    End,
    /// The file is damaged or cut short here; every packet before this point was delivered.
    Stop(ReadStop),
}

/// Where and why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReadStop {
    /// Packets delivered before the stop.
    pub after_packet: u64,
    /// Byte offset in the (decompressed) stream of the record that could not be read.
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for ReadStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cut short after packet {} at byte offset {}: {}",
            self.after_packet, self.offset, self.reason
        )
    }
}

/// Errors that make an input unusable before any packet was read.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Unreadable(Unreadable),
    #[error("truncated file header: {0} bytes, a pcap header needs 24")]
    TruncatedHeader(usize),
    #[error("the pcap file header did not parse: {0}")]
    BadHeader(String),
    #[error("gzip stream is damaged: {0}")]
    Gzip(io::Error),
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
    },
    PcapNg {
        big_endian: bool,
    },
}

/// Reads packet records one at a time from any `Read`, with a buffer that grows only to the
/// largest block the bounds allow.
pub struct CaptureReader<R: Read> {
    input: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Stream offset of `buf[start]`.
    offset: u64,
    format: Format,
    interfaces: Vec<InterfaceInfo>,
    /// Every interface seen in the file, across sections (for reporting).
    all_interfaces: Vec<InterfaceInfo>,
    pub notes: ContainerNotes,
    records: u64,
    last_ts_ns: i64,
    finished: bool,
}

const INITIAL_BUF: usize = 1 << 20;

impl<R: Read> CaptureReader<R> {
    /// Opens a capture: reads and checks the file header. `Gzip` input must be unwrapped by the
    /// caller (see [`super::input`]); it is reported as `OpenError::Unreadable` here only if
    /// nested.
    pub fn open(input: R) -> Result<Self, OpenError> {
        let mut reader = CaptureReader {
            input,
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::PcapNg { big_endian: false },
            interfaces: Vec::new(),
            all_interfaces: Vec::new(),
            notes: ContainerNotes::default(),
            records: 0,
            last_ts_ns: 0,
            finished: false,
        };
        reader.fill_to(PCAP_HEADER_LEN)?;
        let head = &reader.buf[reader.start..reader.end];
        match detect(head) {
            Detected::Pcap => reader.open_pcap()?,
            Detected::PcapNg => {
                // The section header is read as the first block.
            }
            Detected::Gzip => {
                return Err(OpenError::Unreadable(Unreadable::BadMagic([
                    0x1f, 0x8b, 0, 0,
                ])))
            }
            Detected::Unreadable(u) => return Err(OpenError::Unreadable(u)),
        }
        Ok(reader)
    }

    fn open_pcap(&mut self) -> Result<(), OpenError> {
        let avail = self.end - self.start;
        if avail < PCAP_HEADER_LEN {
            return Err(OpenError::TruncatedHeader(avail));
        }
        let head = &self.buf[self.start..self.start + PCAP_HEADER_LEN];
        let (_, header) = pcap_parser::parse_pcap_header(head)
            .map_err(|e| OpenError::BadHeader(format!("{e:?}")))?;
        if header.version_major != 2 || header.version_minor != 4 {
            self.notes.unusual_version += 1;
        }
        let raw_lt = header.network.0 as u32;
        self.format = Format::Pcap {
            big_endian: header.is_bigendian(),
            nanos: header.is_nanosecond_precision(),
            modified: header.is_modified_format(),
        };
        let info = InterfaceInfo {
            id: 0,
            name: None,
            link_type: (raw_lt & 0xFFFF) as u16,
            snaplen: header.snaplen,
            ts_units_per_sec: if header.is_nanosecond_precision() {
                1_000_000_000
            } else {
                1_000_000
            },
            ts_offset_s: 0,
            fcs_len: fcs_len(raw_lt),
        };
        self.interfaces.push(info.clone());
        self.all_interfaces.push(info);
        self.consume(PCAP_HEADER_LEN);
        Ok(())
    }

    /// Interfaces seen so far (all sections).
    pub fn all_interfaces(&self) -> &[InterfaceInfo] {
        &self.all_interfaces
    }

    /// Packet records read so far (including ones with a [`RecordProblem`]).
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn is_pcapng(&self) -> bool {
        matches!(self.format, Format::PcapNg { .. })
    }

    /// Stream bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `n` bytes available from `start`, unless the input ends first.
    /// `n` is always bounded by the caller (at most MAX_BLOCK_LEN).
    fn fill_to(&mut self, n: usize) -> io::Result<()> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n && !self.eof {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn available(&self) -> usize {
        self.end - self.start
    }

    fn stop(&mut self, reason: impl Into<String>) -> Next<'_> {
        self.finished = true;
        Next::Stop(ReadStop {
            after_packet: self.records,
            offset: self.offset,
            reason: reason.into(),
        })
    }

    /// Reads the next packet record.
    pub fn next_record(&mut self) -> Next<'_> {
        if self.finished {
            return Next::End;
        }
        match self.format {
            Format::Pcap {
                big_endian,
                nanos,
                modified,
            } => self.next_pcap(big_endian, nanos, modified),
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self, big_endian: bool, nanos: bool, modified: bool) -> Next<'_> {
        let header_len = if modified { 24 } else { 16 };
        if let Err(e) = self.fill_to(header_len) {
            return self.stop(format!("read error: {e}"));
        }
        let avail = self.available();
        if avail == 0 {
            self.finished = true;
            return Next::End;
        }
        if avail < header_len {
            return self.stop(format!(
                "the file ends inside a record header ({avail} of {header_len} bytes)"
            ));
        }
        let h = &self.buf[self.start..self.start + 16];
        let word = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = word(8);
        if caplen > MAX_RECORD_LEN {
            return self.stop(format!(
                "record {} claims {caplen} captured bytes (more than {MAX_RECORD_LEN}): damaged file",
                self.records + 1
            ));
        }
        let total = header_len + caplen as usize;
        if let Err(e) = self.fill_to(total) {
            return self.stop(format!("read error: {e}"));
        }
        if self.available() < total {
            let have = self.available() - header_len;
            return self.stop(format!(
                "the file ends inside record {} ({have} of {caplen} bytes)",
                self.records + 1
            ));
        }
        let slice = &self.buf[self.start..self.start + total];
        let parsed = if modified {
            parse_pcap_frame_modified(slice)
        } else if big_endian {
            parse_pcap_frame_be(slice)
        } else {
            parse_pcap_frame(slice)
        };
        let (ts_sec, ts_frac, orig_len) = match parsed {
            Ok((_, block)) => (block.ts_sec, block.ts_usec, block.origlen),
            Err(e) => {
                let reason = format!("record {} did not parse: {e:?}", self.records + 1);
                return self.stop(reason);
            }
        };
        self.consume(total);
        self.records += 1;
        let number = self.records;
        if caplen == 0 {
            return Next::Problem {
                number,
                orig_len,
                caplen,
                problem: RecordProblem::EmptyRecord,
            };
        }
        let iface = &self.interfaces[0];
        let (units, fcs, link_type, snaplen) = (
            iface.ts_units_per_sec,
            iface.fcs_len,
            iface.link_type,
            iface.snaplen,
        );
        if snaplen != 0 && caplen > snaplen {
            self.notes.caplen_gt_snaplen += 1;
        }
        if caplen > orig_len {
            self.notes.caplen_gt_origlen += 1;
        }
        let limit = if nanos { 1_000_000_000 } else { 1_000_000 };
        if ts_frac >= limit {
            self.notes.bad_ts_fraction += 1;
        }
        let ts_ns = i64::from(ts_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(scale_to_ns(u64::from(ts_frac), units));
        self.last_ts_ns = ts_ns;
        let begin = self.start - caplen as usize;
        let data_end = begin + strip_fcs(caplen as usize, fcs);
        Next::Packet(RawPacket {
            number,
            ts_ns,
            data: &self.buf[begin..data_end],
            orig_len,
            interface: 0,
            interface_seq: 0,
            link_type,
            direction: None,
            ts_unknown: false,
        })
    }

    fn next_pcapng(&mut self) -> Next<'_> {
        loop {
            if let Err(e) = self.fill_to(12) {
                return self.stop(format!("read error: {e}"));
            }
            let avail = self.available();
            if avail == 0 {
                self.finished = true;
                return Next::End;
            }
            if avail < 12 {
                return self.stop(format!(
                    "the file ends inside a block header ({avail} of 12 bytes)"
                ));
            }
            let h = &self.buf[self.start..self.start + 12];
            let raw_type = [h[0], h[1], h[2], h[3]];
            let mut big_endian = match self.format {
                Format::PcapNg { big_endian } => big_endian,
                Format::Pcap { .. } => false,
            };
            let is_shb = u32::from_le_bytes(raw_type) == SHB_TYPE;
            if is_shb {
                // The byte-order magic follows the block length in a section header.
                big_endian = match [h[8], h[9], h[10], h[11]] {
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    other => {
                        return self.stop(format!(
                        "section header with an invalid byte-order magic {:02x}{:02x}{:02x}{:02x}",
                        other[0], other[1], other[2], other[3]
                    ))
                    }
                };
                self.format = Format::PcapNg { big_endian };
            } else if self.records == 0 && self.notes.sections == 0 {
                return self.stop("pcapng file does not start with a section header block");
            }
            let read_u32 = |b: &[u8]| {
                let a = [b[0], b[1], b[2], b[3]];
                if big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            };
            let block_type = read_u32(&h[0..4]);
            let block_len = read_u32(&h[4..8]);
            let is_packet_block = matches!(block_type, EPB_TYPE | SPB_TYPE | OBSOLETE_PB_TYPE);
            if block_len < 12 || block_len % 4 != 0 {
                return self.stop(format!(
                    "block of type 0x{block_type:08x} has an invalid length {block_len} \
                     (a multiple of 4, at least 12, is required)"
                ));
            }
            let bound = if is_packet_block {
                MAX_RECORD_LEN + 4096
            } else {
                MAX_BLOCK_LEN
            };
            if block_len > bound {
                let what = if is_packet_block {
                    format!("packet block {}", self.records + 1)
                } else {
                    format!("block of type 0x{block_type:08x}")
                };
                return self.stop(format!(
                    "{what} claims {block_len} bytes (more than {bound}): damaged file"
                ));
            }
            let len = block_len as usize;
            if let Err(e) = self.fill_to(len) {
                return self.stop(format!("read error: {e}"));
            }
            if self.available() < len {
                let have = self.available();
                let what = if is_packet_block {
                    format!("packet block {}", self.records + 1)
                } else {
                    format!("block of type 0x{block_type:08x}")
                };
                return self.stop(format!(
                    "the file ends inside {what} ({have} of {block_len} bytes)"
                ));
            }
            let trailer = read_u32(&self.buf[self.start + len - 4..self.start + len]);
            if trailer != block_len {
                return self.stop(format!(
                    "block of type 0x{block_type:08x} has a trailing length {trailer} that differs \
                     from its leading length {block_len}"
                ));
            }
            // The block is complete and framed: whatever happens below, we move past it.
            let block_start = self.start;
            self.consume(len);
            let bytes = &self.buf[block_start..block_start + len];
            match block_type {
                SHB_TYPE => {
                    self.notes.sections += 1;
                    self.interfaces.clear();
                    continue;
                }
                IDB_TYPE => {
                    let parsed = if big_endian {
                        parse_block_be(bytes)
                    } else {
                        parse_block_le(bytes)
                    };
                    match parsed {
                        Ok((_, Block::InterfaceDescription(idb))) => {
                            let units = ts_units_per_sec(idb.if_tsresol).unwrap_or(1_000_000);
                            let info = InterfaceInfo {
                                id: self.interfaces.len() as u32,
                                name: idb.if_name().and_then(|r| r.ok()).map(str::to_owned),
                                link_type: idb.linktype.0 as u16,
                                snaplen: idb.snaplen,
                                ts_units_per_sec: units,
                                ts_offset_s: idb.ts_offset(),
                                fcs_len: idb_fcs_len(&idb.options),
                            };
                            self.interfaces.push(info.clone());
                            self.all_interfaces.push(info);
                        }
                        _ => {
                            return self.stop(format!(
                                "interface description block {} did not parse",
                                self.interfaces.len()
                            ))
                        }
                    }
                    continue;
                }
                EPB_TYPE | SPB_TYPE | OBSOLETE_PB_TYPE => {
                    self.records += 1;
                    return self.packet_block(block_start, len, block_type, big_endian);
                }
                other => {
                    *self
                        .notes
                        .skipped_blocks
                        .entry(block_name(other))
                        .or_insert(0) += 1;
                    continue;
                }
            }
        }
    }

    /// Turns a framed packet block (already consumed) into a packet.
    fn packet_block(
        &mut self,
        block_start: usize,
        len: usize,
        block_type: u32,
        big_endian: bool,
    ) -> Next<'_> {
        let number = self.records;
        let bytes = &self.buf[block_start..block_start + len];
        let rd32 = |b: &[u8], i: usize| {
            let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        // Fields common to EPB and the obsolete PB, which pcap-parser does not know.
        let (if_id, ts_raw, caplen, orig_len, data_off, options_off);
        let mut ts_unknown = false;
        match block_type {
            EPB_TYPE | OBSOLETE_PB_TYPE => {
                if len < 32 {
                    return Next::Problem {
                        number,
                        orig_len: 0,
                        caplen: 0,
                        problem: RecordProblem::MalformedBlock,
                    };
                }
                if_id = if block_type == EPB_TYPE {
                    rd32(bytes, 8)
                } else {
                    let b = [bytes[8], bytes[9]];
                    u32::from(if big_endian {
                        u16::from_be_bytes(b)
                    } else {
                        u16::from_le_bytes(b)
                    })
                };
                ts_raw = (u64::from(rd32(bytes, 12)) << 32) | u64::from(rd32(bytes, 16));
                caplen = rd32(bytes, 20);
                orig_len = rd32(bytes, 24);
                data_off = 28usize;
                options_off = data_off.saturating_add(pad4(caplen as usize));
            }
            _ => {
                // Simple Packet Block: interface 0, no timestamp, caplen implied.
                if len < 16 {
                    return Next::Problem {
                        number,
                        orig_len: 0,
                        caplen: 0,
                        problem: RecordProblem::MalformedBlock,
                    };
                }
                if_id = 0;
                ts_raw = 0;
                ts_unknown = true;
                orig_len = rd32(bytes, 8);
                let room = (len - 16) as u32;
                let snap = self
                    .interfaces
                    .first()
                    .map(|i| i.snaplen)
                    .filter(|s| *s != 0)
                    .unwrap_or(u32::MAX);
                caplen = orig_len.min(snap).min(room);
                data_off = 12;
                options_off = len - 4;
            }
        }
        if caplen > MAX_RECORD_LEN {
            return Next::Problem {
                number,
                orig_len,
                caplen,
                problem: RecordProblem::Oversized,
            };
        }
        if data_off + caplen as usize > len - 4 || options_off > len - 4 {
            return Next::Problem {
                number,
                orig_len,
                caplen,
                problem: RecordProblem::MalformedBlock,
            };
        }
        let Some(iface) = self.interfaces.get(if_id as usize) else {
            return Next::Problem {
                number,
                orig_len,
                caplen,
                problem: RecordProblem::UnknownInterface,
            };
        };
        if caplen == 0 {
            return Next::Problem {
                number,
                orig_len,
                caplen,
                problem: RecordProblem::EmptyRecord,
            };
        }
        let (units, offset_s, fcs, link_type, snaplen) = (
            iface.ts_units_per_sec,
            iface.ts_offset_s,
            iface.fcs_len,
            iface.link_type,
            iface.snaplen,
        );
        let direction = if block_type == EPB_TYPE {
            epb_direction(&bytes[options_off..len - 4], big_endian)
        } else {
            None
        };
        if snaplen != 0 && caplen > snaplen {
            self.notes.caplen_gt_snaplen += 1;
        }
        if caplen > orig_len {
            self.notes.caplen_gt_origlen += 1;
        }
        let ts_ns = if ts_unknown {
            self.notes.unknown_ts += 1;
            self.last_ts_ns
        } else {
            let secs = ts_raw / units.max(1);
            let frac = ts_raw % units.max(1);
            i64::try_from(secs)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_add(offset_s)
                .saturating_mul(1_000_000_000)
                .saturating_add(scale_to_ns(frac, units))
        };
        self.last_ts_ns = ts_ns;
        let interface_seq = (self.all_interfaces.len() - self.interfaces.len()) as u32 + if_id;
        let data_start = block_start + data_off;
        let data_end = data_start + strip_fcs(caplen as usize, fcs);
        Next::Packet(RawPacket {
            number,
            ts_ns,
            data: &self.buf[data_start..data_end],
            orig_len,
            interface: if_id,
            interface_seq,
            link_type,
            direction,
            ts_unknown,
        })
    }
}

/// Units per second of a pcapng `if_tsresol` byte: 10^-n, or 2^-n when the high bit is set.
/// (pcap-parser 0.17's `ts_resolution` rejects every 2^-n value: it bounds the byte before
/// masking the high bit.)
fn ts_units_per_sec(tsresol: u8) -> Option<u64> {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

/// Converts `frac` units of 1/`units_per_sec` second to nanoseconds without overflow.
fn scale_to_ns(frac: u64, units_per_sec: u64) -> i64 {
    if units_per_sec == 0 {
        return 0;
    }
    let ns = u128::from(frac) * 1_000_000_000 / u128::from(units_per_sec);
    i64::try_from(ns).unwrap_or(i64::MAX)
}

fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Bytes of frame check sequence at the end of each packet, from the link type's FCS bits.
fn fcs_len(raw_link_type: u32) -> usize {
    if raw_link_type & LINKTYPE_FCS_PRESENT != 0 {
        ((raw_link_type >> 28) as usize) * 2
    } else {
        0
    }
}

/// pcapng carries the FCS length per interface in the `if_fcslen` option (code 13, in bits).
fn idb_fcs_len(options: &[pcap_parser::pcapng::PcapNGOption<'_>]) -> usize {
    options
        .iter()
        .find(|o| o.code.0 == 13)
        .and_then(|o| o.value().first().copied())
        .map_or(0, |bits| usize::from(bits) / 8)
}

fn strip_fcs(caplen: usize, fcs: usize) -> usize {
    caplen.saturating_sub(fcs)
}

/// Reads the direction bits of an EPB's `epb_flags` option, walking the options bounded.
fn epb_direction(mut opts: &[u8], big_endian: bool) -> Option<CapturedDirection> {
    let rd16 = |b: &[u8]| {
        let a = [b[0], b[1]];
        if big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    };
    while opts.len() >= 4 {
        let code = rd16(&opts[0..2]);
        let len = rd16(&opts[2..4]) as usize;
        if code == 0 {
            return None;
        }
        let body = opts.get(4..4 + len)?;
        if code == EPB_FLAGS_OPTION && len == 4 {
            let flags = if big_endian {
                u32::from_be_bytes([body[0], body[1], body[2], body[3]])
            } else {
                u32::from_le_bytes([body[0], body[1], body[2], body[3]])
            };
            return match flags & 0b11 {
                1 => Some(CapturedDirection::Inbound),
                2 => Some(CapturedDirection::Outbound),
                _ => None,
            };
        }
        opts = opts.get(pad4(4 + len)..)?;
    }
    None
}

fn block_name(block_type: u32) -> String {
    match block_type {
        0x0000_0004 => "name_resolution".into(),
        0x0000_0005 => "interface_statistics".into(),
        0x0000_0009 => "systemd_journal_export".into(),
        0x0000_000A => "decryption_secrets".into(),
        0x0000_0BAD | 0x4000_0BAD => "custom".into(),
        0x8000_0001 => "process_information".into(),
        other => format!("0x{other:08x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&link.to_le_bytes());
        v
    }

    fn record(v: &mut Vec<u8>, caplen: u32, orig: u32, fill: u8) {
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&5u32.to_le_bytes());
        v.extend_from_slice(&caplen.to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.extend(std::iter::repeat_n(fill, caplen as usize));
    }

    fn read_all(bytes: &[u8]) -> (u64, Option<ReadStop>) {
        let mut r = CaptureReader::open(bytes).expect("opens");
        let mut n = 0;
        loop {
            match r.next_record() {
                Next::Packet(_) | Next::Problem { .. } => n += 1,
                Next::End => return (n, None),
                Next::Stop(s) => return (n, Some(s)),
            }
        }
    }

    #[test]
    fn huge_caplen_is_reported_not_allocated() {
        let mut v = pcap_header(1);
        record(&mut v, 60, 60, 0);
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        let (n, stop) = read_all(&v);
        assert_eq!(n, 1);
        let stop = stop.expect("stops");
        assert_eq!(stop.after_packet, 1);
        assert_eq!(stop.offset, 24 + 16 + 60);
        assert!(stop.reason.contains("4294967295"), "{}", stop.reason);
    }

    #[test]
    fn truncated_last_record_keeps_earlier_packets() {
        let mut v = pcap_header(1);
        record(&mut v, 60, 60, 1);
        record(&mut v, 60, 60, 2);
        v.truncate(v.len() - 10);
        let (n, stop) = read_all(&v);
        assert_eq!(n, 1);
        let s = stop.expect("cut short");
        assert_eq!(
            s.to_string(),
            "cut short after packet 1 at byte offset 100: the file ends inside record 2 (50 of 60 bytes)"
        );
    }

    #[test]
    fn timestamps_scale_for_every_resolution() {
        assert_eq!(scale_to_ns(5, 1_000_000), 5_000);
        assert_eq!(scale_to_ns(5, 1_000_000_000), 5);
        assert_eq!(scale_to_ns(1, 1 << 10), 976_562);
        assert_eq!(scale_to_ns(u64::MAX, 1), i64::MAX);
    }

    proptest::proptest! {
        /// Random bytes after a valid header: the reader ends or stops, never panics or loops.
        #[test]
        fn random_records_never_panic_or_hang(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            ng in proptest::prelude::any::<bool>(),
        ) {
            let mut v = if ng {
                let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
                shb.extend([0xff; 8]);
                shb.extend([28, 0, 0, 0]);
                shb
            } else {
                pcap_header(1)
            };
            v.extend(body);
            let mut r = CaptureReader::open(&v[..]).expect("header is valid");
            let mut steps = 0;
            loop {
                steps += 1;
                proptest::prop_assert!(steps < 10_000);
                match r.next_record() {
                    Next::End | Next::Stop(_) => break,
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn tsresol_powers_of_ten_and_two() {
        assert_eq!(ts_units_per_sec(6), Some(1_000_000));
        assert_eq!(ts_units_per_sec(9), Some(1_000_000_000));
        assert_eq!(ts_units_per_sec(0x80 | 20), Some(1 << 20));
        assert_eq!(ts_units_per_sec(0x80 | 64), None);
        assert_eq!(ts_units_per_sec(20), None);
    }

    #[test]
    fn fcs_bits_are_masked_and_stripped() {
        assert_eq!(fcs_len(0x2400_0001), 4);
        assert_eq!(fcs_len(1), 0);
    }
}
