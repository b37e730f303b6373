//! pcap and pcapng serialisation.

use super::packets::{frame_src_ip, is_edge_ip, EDGE_EXT_MAC, EDGE_INT_MAC, LINKTYPE_ETHERNET};
use super::{Capture, Frame, Interface};
use std::io::{self, Write};

/// Classic pcap flavours: microsecond (0xa1b2c3d4) or nanosecond (0xa1b23c4d)
/// magic, written little- or big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcapFlavor {
    MicroLe,
    MicroBe,
    NanoLe,
    NanoBe,
}

impl PcapFlavor {
    pub const ALL: [PcapFlavor; 4] = [
        PcapFlavor::MicroLe,
        PcapFlavor::MicroBe,
        PcapFlavor::NanoLe,
        PcapFlavor::NanoBe,
    ];
    fn big_endian(self) -> bool {
        matches!(self, PcapFlavor::MicroBe | PcapFlavor::NanoBe)
    }
    fn nanos(self) -> bool {
        matches!(self, PcapFlavor::NanoLe | PcapFlavor::NanoBe)
    }
}

/// pcapng writer options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapNgOptions {
    pub big_endian: bool,
    /// if_tsresol byte: 6 = µs, 9 = ns, 0x80|n = 2^-n.
    pub tsresol: u8,
    /// if_tsoffset in seconds; written timestamps are relative to it.
    pub tsoffset_s: i64,
    /// Add epb_flags (option 2) with inbound=1/outbound=2, outbound when the source
    /// IP (or, for non-IP Ethernet frames, the source MAC) is the Edge's.
    pub write_direction_flags: bool,
    /// Simple Packet Blocks (single interface only; caplen must be min(orig_len, snaplen)).
    pub use_simple_packet_blocks: bool,
    /// Obsolete Packet Blocks (type 0x00000002).
    pub use_obsolete_packet_blocks: bool,
}

impl Default for PcapNgOptions {
    fn default() -> Self {
        PcapNgOptions {
            big_endian: false,
            tsresol: 6,
            tsoffset_s: 0,
            write_direction_flags: false,
            use_simple_packet_blocks: false,
            use_obsolete_packet_blocks: false,
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// Endian-aware byte sink over a reusable buffer.
struct Out {
    be: bool,
    buf: Vec<u8>,
}

impl Out {
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn i64(&mut self, v: i64) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }
    fn pad4(&mut self) {
        while self.buf.len() & 3 != 0 {
            self.buf.push(0);
        }
    }
    fn patch_u32(&mut self, at: usize, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.buf[at..at + 4].copy_from_slice(&b);
    }
    /// pcapng option: code, length, value padded to 4 bytes.
    fn opt(&mut self, code: u16, value: &[u8]) {
        self.u16(code);
        self.u16(value.len() as u16);
        self.buf.extend_from_slice(value);
        self.pad4();
    }
    /// Starts a block; returns the offset of its total-length field.
    fn begin(&mut self, block_type: u32) -> usize {
        self.buf.clear();
        self.u32(block_type);
        self.u32(0);
        4
    }
    /// Closes a block: writes trailing length and patches the leading one.
    fn end(&mut self, len_at: usize) -> io::Result<()> {
        let total = self.buf.len() + 4;
        let total32 = u32::try_from(total).map_err(|_| invalid("block too large"))?;
        self.u32(total32);
        self.patch_u32(len_at, total32);
        Ok(())
    }
}

/// Writes the 24-byte pcap global header.
pub fn write_pcap_header<W: Write>(
    w: &mut W,
    link_type: u16,
    snaplen: u32,
    flavor: PcapFlavor,
) -> io::Result<()> {
    let mut o = Out {
        be: flavor.big_endian(),
        buf: Vec::with_capacity(24),
    };
    o.u32(if flavor.nanos() {
        0xa1b2_3c4d
    } else {
        0xa1b2_c3d4
    });
    o.u16(2);
    o.u16(4);
    o.u32(0);
    o.u32(0);
    o.u32(snaplen);
    o.u32(u32::from(link_type));
    w.write_all(&o.buf)
}

/// Writes one pcap record header (16 bytes); the caller writes `caplen` data bytes.
pub fn write_pcap_record_header<W: Write>(
    w: &mut W,
    ts_ns: i64,
    caplen: u32,
    orig_len: u32,
    flavor: PcapFlavor,
) -> io::Result<()> {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let sub = ts_ns.rem_euclid(1_000_000_000);
    let secs = u32::try_from(secs).map_err(|_| invalid("timestamp outside the pcap range"))?;
    let frac = if flavor.nanos() { sub } else { sub / 1000 } as u32;
    let mut b = [0u8; 16];
    let enc = |v: u32| {
        if flavor.big_endian() {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    b[0..4].copy_from_slice(&enc(secs));
    b[4..8].copy_from_slice(&enc(frac));
    b[8..12].copy_from_slice(&enc(caplen));
    b[12..16].copy_from_slice(&enc(orig_len));
    w.write_all(&b)
}

fn check_frame(f: &Frame) -> io::Result<u32> {
    let caplen = u32::try_from(f.data.len()).map_err(|_| invalid("frame too large"))?;
    if f.orig_len < caplen {
        return Err(invalid("orig_len smaller than captured length"));
    }
    Ok(caplen)
}

/// Classic pcap. Uses `interfaces[0]`; frames on any other interface are an error.
pub fn write_pcap<W: Write>(mut w: W, cap: &Capture, flavor: PcapFlavor) -> io::Result<()> {
    let iface = cap
        .interfaces
        .first()
        .ok_or_else(|| invalid("capture has no interface"))?;
    if cap.frames.iter().any(|f| f.interface != 0) {
        return Err(invalid(
            "pcap holds a single interface; frame on another interface",
        ));
    }
    write_pcap_header(&mut w, iface.link_type, iface.snaplen, flavor)?;
    for f in &cap.frames {
        let caplen = check_frame(f)?;
        write_pcap_record_header(&mut w, f.ts_ns, caplen, f.orig_len, flavor)?;
        w.write_all(&f.data)?;
    }
    w.flush()
}

/// pcapng with the same if_tsresol on every interface.
pub fn write_pcapng<W: Write>(w: W, cap: &Capture, opts: &PcapNgOptions) -> io::Result<()> {
    write_pcapng_with_tsresol(w, cap, opts, &[])
}

/// Converts a Unix-ns timestamp into if_tsresol units relative to `offset_s`.
pub fn ts_units(ts_ns: i64, tsresol: u8, offset_s: i64) -> io::Result<u64> {
    let rel = i128::from(ts_ns) - i128::from(offset_s) * 1_000_000_000;
    let exp = u32::from(tsresol & 0x7f);
    let per_sec: i128 = if tsresol & 0x80 != 0 {
        if exp > 64 {
            return Err(invalid("if_tsresol too fine"));
        }
        1i128 << exp
    } else {
        10i128
            .checked_pow(exp)
            .ok_or_else(|| invalid("if_tsresol too fine"))?
    };
    let units = rel
        .checked_mul(per_sec)
        .ok_or_else(|| invalid("timestamp overflow"))?
        .div_euclid(1_000_000_000);
    u64::try_from(units).map_err(|_| invalid("timestamp before if_tsoffset or too large"))
}

fn outbound(iface: &Interface, data: &[u8]) -> bool {
    if let Some(ip) = frame_src_ip(iface.link_type, data) {
        return is_edge_ip(ip);
    }
    iface.link_type == LINKTYPE_ETHERNET
        && data.len() >= 12
        && (data[6..12] == EDGE_EXT_MAC || data[6..12] == EDGE_INT_MAC)
}

/// pcapng; `per_interface_tsresol[i]`, when present, overrides `opts.tsresol` for
/// interface `i` (lets one file mix resolutions).
pub fn write_pcapng_with_tsresol<W: Write>(
    mut w: W,
    cap: &Capture,
    opts: &PcapNgOptions,
    per_interface_tsresol: &[u8],
) -> io::Result<()> {
    if opts.use_simple_packet_blocks && opts.use_obsolete_packet_blocks {
        return Err(invalid("choose simple or obsolete packet blocks, not both"));
    }
    let mut o = Out {
        be: opts.big_endian,
        buf: Vec::with_capacity(4096),
    };
    // Section Header Block.
    let at = o.begin(0x0a0d_0d0a);
    o.u32(0x1a2b_3c4d);
    o.u16(1);
    o.u16(0);
    o.i64(-1);
    o.end(at)?;
    w.write_all(&o.buf)?;
    let resol: Vec<u8> = (0..cap.interfaces.len())
        .map(|i| {
            per_interface_tsresol
                .get(i)
                .copied()
                .unwrap_or(opts.tsresol)
        })
        .collect();
    for (iface, &res) in cap.interfaces.iter().zip(&resol) {
        let at = o.begin(1);
        o.u16(iface.link_type);
        o.u16(0);
        o.u32(iface.snaplen);
        o.opt(2, iface.name.as_bytes());
        if res != 6 {
            o.opt(9, &[res]);
        }
        if opts.tsoffset_s != 0 {
            let b = if o.be {
                opts.tsoffset_s.to_be_bytes()
            } else {
                opts.tsoffset_s.to_le_bytes()
            };
            o.opt(14, &b);
        }
        o.opt(0, &[]);
        o.end(at)?;
        w.write_all(&o.buf)?;
    }
    for f in &cap.frames {
        let caplen = check_frame(f)?;
        let iface = cap
            .interfaces
            .get(f.interface as usize)
            .ok_or_else(|| invalid("frame references a missing interface"))?;
        let flags =
            opts.write_direction_flags
                .then(|| if outbound(iface, &f.data) { 2u32 } else { 1u32 });
        if opts.use_simple_packet_blocks {
            let snap = if iface.snaplen == 0 {
                u32::MAX
            } else {
                iface.snaplen
            };
            if f.interface != 0 || caplen != f.orig_len.min(snap) {
                return Err(invalid(
                    "simple packet blocks need one interface and caplen = min(orig_len, snaplen)",
                ));
            }
            let at = o.begin(3);
            o.u32(f.orig_len);
            o.buf.extend_from_slice(&f.data);
            o.pad4();
            o.end(at)?;
        } else {
            let units = ts_units(f.ts_ns, resol[f.interface as usize], opts.tsoffset_s)?;
            let obsolete = opts.use_obsolete_packet_blocks;
            let at = o.begin(if obsolete { 2 } else { 6 });
            if obsolete {
                o.u16(u16::try_from(f.interface).map_err(|_| invalid("interface id too large"))?);
                o.u16(0);
            } else {
                o.u32(f.interface);
            }
            o.u32((units >> 32) as u32);
            o.u32(units as u32);
            o.u32(caplen);
            o.u32(f.orig_len);
            o.buf.extend_from_slice(&f.data);
            o.pad4();
            if let Some(fl) = flags {
                let b = if o.be {
                    fl.to_be_bytes()
                } else {
                    fl.to_le_bytes()
                };
                o.opt(2, &b);
                o.opt(0, &[]);
            }
            o.end(at)?;
        }
        w.write_all(&o.buf)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap() -> Capture {
        Capture {
            interfaces: vec![Interface {
                name: "ext".into(),
                link_type: 1,
                snaplen: 262_144,
            }],
            frames: vec![
                Frame {
                    ts_ns: 1_793_610_000_123_456_789,
                    interface: 0,
                    data: vec![0xaa; 61],
                    orig_len: 61,
                },
                Frame {
                    ts_ns: 1_793_610_001_000_000_001,
                    interface: 0,
                    data: vec![0xbb; 64],
                    orig_len: 1500,
                },
            ],
            expected: vec![],
        }
    }

    fn rd32(b: &[u8], be: bool) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn rd16(b: &[u8], be: bool) -> u16 {
        if be {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    }

    #[test]
    fn pcap_headers_every_flavor() -> io::Result<()> {
        let c = cap();
        for fl in PcapFlavor::ALL {
            let mut v = Vec::new();
            write_pcap(&mut v, &c, fl)?;
            let be = fl.big_endian();
            let magic = rd32(&v, be);
            assert_eq!(magic, if fl.nanos() { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
            if be {
                assert_eq!(v[0], 0xa1);
            } else {
                assert_eq!(v[3], 0xa1);
            }
            assert_eq!(rd16(&v[4..], be), 2);
            assert_eq!(rd16(&v[6..], be), 4);
            assert_eq!(rd32(&v[16..], be), 262_144);
            assert_eq!(rd32(&v[20..], be), 1);
            let r = &v[24..];
            assert_eq!(rd32(r, be), 1_793_610_000);
            assert_eq!(
                rd32(&r[4..], be),
                if fl.nanos() { 123_456_789 } else { 123_456 }
            );
            assert_eq!(rd32(&r[8..], be), 61);
            assert_eq!(rd32(&r[12..], be), 61);
            let r2 = &r[16 + 61..];
            assert_eq!(rd32(&r2[8..], be), 64);
            assert_eq!(rd32(&r2[12..], be), 1500);
            assert_eq!(v.len(), 24 + 16 + 61 + 16 + 64);
        }
        Ok(())
    }

    #[test]
    fn pcap_rejects_second_interface() {
        let mut c = cap();
        c.frames[1].interface = 1;
        let e = write_pcap(Vec::new(), &c, PcapFlavor::MicroLe).expect_err("must fail");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    /// Walks blocks, checking framing; returns (type, body) pairs.
    pub(crate) fn walk_blocks(v: &[u8]) -> (bool, Vec<(u32, Vec<u8>)>) {
        let be = v[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
        let mut out = Vec::new();
        let mut p = 0;
        while p < v.len() {
            let t = rd32(&v[p..], be);
            let len = rd32(&v[p + 4..], be) as usize;
            assert_eq!(len % 4, 0, "block length aligned");
            assert!(len >= 12);
            assert_eq!(rd32(&v[p + len - 4..], be) as usize, len, "trailing length");
            out.push((t, v[p + 8..p + len - 4].to_vec()));
            p += len;
        }
        assert_eq!(p, v.len());
        (be, out)
    }

    #[test]
    fn pcapng_blocks_every_option_combo() -> io::Result<()> {
        let c = cap();
        for be in [false, true] {
            for (tsresol, off) in [(6u8, 0i64), (9, 0), (0x80 | 20, 0), (6, 1_700_000_000)] {
                for flags in [false, true] {
                    for kind in 0..3 {
                        let opts = PcapNgOptions {
                            big_endian: be,
                            tsresol,
                            tsoffset_s: off,
                            write_direction_flags: flags,
                            use_simple_packet_blocks: kind == 1,
                            use_obsolete_packet_blocks: kind == 2,
                        };
                        let mut c2 = c.clone();
                        if kind == 1 {
                            c2.interfaces[0].snaplen = 64;
                        }
                        let mut v = Vec::new();
                        write_pcapng(&mut v, &c2, &opts)?;
                        let (rbe, blocks) = walk_blocks(&v);
                        assert_eq!(rbe, be);
                        assert_eq!(blocks[0].0, 0x0a0d_0d0a);
                        assert_eq!(rd16(&blocks[0].1[4..], be), 1);
                        assert_eq!(blocks[1].0, 1);
                        let idb = &blocks[1].1;
                        assert_eq!(rd16(idb, be), 1);
                        // options: if_name first
                        assert_eq!(rd16(&idb[8..], be), 2);
                        assert_eq!(&idb[12..15], b"ext");
                        let has = |code: u16| {
                            let mut q = 8;
                            while q + 4 <= idb.len() {
                                let c = rd16(&idb[q..], be);
                                let l = rd16(&idb[q + 2..], be) as usize;
                                if c == code {
                                    return Some(idb[q + 4..q + 4 + l].to_vec());
                                }
                                if c == 0 {
                                    break;
                                }
                                q += 4 + l.div_ceil(4) * 4;
                            }
                            None
                        };
                        assert_eq!(has(9), (tsresol != 6).then(|| vec![tsresol]));
                        assert_eq!(has(14).is_some(), off != 0);
                        let pkts = &blocks[2..];
                        assert_eq!(pkts.len(), 2);
                        for (i, (t, body)) in pkts.iter().enumerate() {
                            let f = &c2.frames[i];
                            match kind {
                                1 => {
                                    assert_eq!(*t, 3);
                                    assert_eq!(rd32(body, be), f.orig_len);
                                    assert_eq!(body.len(), 4 + f.data.len().div_ceil(4) * 4);
                                }
                                _ => {
                                    assert_eq!(*t, if kind == 2 { 2 } else { 6 });
                                    let units = (u64::from(rd32(&body[4..], be)) << 32)
                                        | u64::from(rd32(&body[8..], be));
                                    assert_eq!(units, ts_units(f.ts_ns, tsresol, off)?);
                                    assert_eq!(rd32(&body[12..], be) as usize, f.data.len());
                                    assert_eq!(rd32(&body[16..], be), f.orig_len);
                                    let padded = f.data.len().div_ceil(4) * 4;
                                    assert_eq!(&body[20..20 + f.data.len()], &f.data[..]);
                                    let opt_len = if flags { 12 } else { 0 };
                                    assert_eq!(body.len(), 20 + padded + opt_len);
                                    if flags {
                                        assert_eq!(rd16(&body[20 + padded..], be), 2);
                                        assert_eq!(rd32(&body[24 + padded..], be), 1);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn ts_units_resolutions() -> io::Result<()> {
        assert_eq!(ts_units(1_500_000_000, 6, 0)?, 1_500_000);
        assert_eq!(ts_units(1_500_000_000, 9, 0)?, 1_500_000_000);
        assert_eq!(ts_units(1_500_000_000, 0x80 | 10, 0)?, 1536);
        assert_eq!(ts_units(11_000_000_000, 6, 10)?, 1_000_000);
        assert!(ts_units(1, 6, 10).is_err());
        Ok(())
    }
}
