//! Recognising what a byte stream is from its first bytes, never from a file name.
//!
//! A capture from an Edge Server arrives as pcap or pcapng (Wireshark, dumpcap, tcpdump, or
//! `pktmon etl2pcap`), but admins also hand over Network Monitor `.cap` files and raw ETL traces
//! from `netsh trace` / `pktmon`. Those we cannot read; we say so and name the conversion.

use std::fmt;

/// pcap magic numbers as they appear in the first four bytes of the file.
const PCAP_MICRO_LE: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
const PCAP_MICRO_BE: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
const PCAP_NANO_LE: [u8; 4] = [0x4d, 0x3c, 0xb2, 0xa1];
const PCAP_NANO_BE: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
const PCAP_MODIFIED_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];
const PCAP_MODIFIED_BE: [u8; 4] = [0xa1, 0xb2, 0xcd, 0x34];
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const GZIP: [u8; 2] = [0x1f, 0x8b];
const ZSTD: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const NETMON2: [u8; 4] = *b"GMBU";
const NETMON1: [u8; 4] = *b"RTSS";

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Pcap,
    PcapNg,
    Gzip,
    /// Something we recognise but cannot read; the value explains what to do.
    Unreadable(Unreadable),
}

/// Known formats we cannot read, each with the conversion the user should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    Empty,
    TooShort,
    NetMon,
    Etl,
    Zstd,
    BadMagic([u8; 4]),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Empty => write!(f, "empty file (0 bytes): neither a capture nor a log"),
            Unreadable::TooShort => write!(
                f,
                "file is shorter than any capture file header: not a capture, or cut short while copying"
            ),
            Unreadable::NetMon => write!(
                f,
                "this is a Microsoft Network Monitor capture (.cap), which edgewise does not read; \
                 open it in Wireshark and save it as pcapng (or run `tshark -r FILE.cap -w FILE.pcapng`), then read that"
            ),
            Unreadable::Etl => write!(
                f,
                "this looks like an ETL trace from `netsh trace` or `pktmon`, which edgewise does not read; \
                 convert it on the Edge with `pktmon etl2pcap FILE.etl --out FILE.pcapng` \
                 (or Microsoft's `etl2pcapng FILE.etl FILE.pcapng`), then read the pcapng"
            ),
            Unreadable::Zstd => write!(
                f,
                "this file is zstd-compressed: decompress it first (`zstd -d FILE`), then read the result"
            ),
            Unreadable::BadMagic(m) => write!(
                f,
                "not a capture: the first four bytes {:02x} {:02x} {:02x} {:02x} are neither a pcap magic \
                 (a1b2c3d4 or a1b23c4d, either byte order) nor a pcapng section header (0a0d0d0a); \
                 if this is a capture in another format, convert it with `editcap -F pcapng IN OUT`",
                m[0], m[1], m[2], m[3]
            ),
        }
    }
}

/// Classifies an input from its first bytes (`head` may be shorter than 4 bytes).
pub fn detect(head: &[u8]) -> Detected {
    if head.is_empty() {
        return Detected::Unreadable(Unreadable::Empty);
    }
    if head.len() >= 2 && head[..2] == GZIP {
        return Detected::Gzip;
    }
    if head.len() < 4 {
        return Detected::Unreadable(Unreadable::TooShort);
    }
    let magic = [head[0], head[1], head[2], head[3]];
    match magic {
        PCAP_MICRO_LE | PCAP_MICRO_BE | PCAP_NANO_LE | PCAP_NANO_BE | PCAP_MODIFIED_LE
        | PCAP_MODIFIED_BE => Detected::Pcap,
        PCAPNG_SHB => Detected::PcapNg,
        ZSTD => Detected::Unreadable(Unreadable::Zstd),
        NETMON1 | NETMON2 => Detected::Unreadable(Unreadable::NetMon),
        _ if looks_like_etl(head) => Detected::Unreadable(Unreadable::Etl),
        _ => Detected::Unreadable(Unreadable::BadMagic(magic)),
    }
}

/// ETL files have no magic number; they start with a WMI buffer header whose first fields are
/// the buffer size (a power of two, 64 KiB for pktmon and netsh) and the saved and current
/// offsets inside that buffer. Real captures never start like that.
fn looks_like_etl(head: &[u8]) -> bool {
    let word = |i: usize| -> Option<u32> {
        head.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(buffer_size), Some(saved), Some(current)) = (word(0), word(4), word(8)) else {
        return false;
    };
    buffer_size.is_power_of_two()
        && (4096..=(1 << 24)).contains(&buffer_size)
        && saved <= buffer_size
        && current <= buffer_size
        && saved > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_magics_in_both_byte_orders() {
        for m in [
            PCAP_MICRO_LE,
            PCAP_MICRO_BE,
            PCAP_NANO_LE,
            PCAP_NANO_BE,
            PCAP_MODIFIED_LE,
        ] {
            assert_eq!(detect(&m), Detected::Pcap);
        }
        assert_eq!(detect(&PCAPNG_SHB), Detected::PcapNg);
    }

    #[test]
    fn unreadable_inputs_name_the_fix() {
        assert_eq!(detect(&[]), Detected::Unreadable(Unreadable::Empty));
        assert_eq!(
            detect(b"GMBU\x00\x02"),
            Detected::Unreadable(Unreadable::NetMon)
        );
        let etl = [0u8, 0, 1, 0, 0x48, 0x20, 0, 0, 0x48, 0x20, 0, 0, 1, 0, 0, 0];
        let Detected::Unreadable(u) = detect(&etl) else {
            panic!("ETL not recognised")
        };
        assert!(u.to_string().contains("pktmon etl2pcap"));
        let Detected::Unreadable(u) = detect(b"hello world") else {
            panic!("text accepted")
        };
        assert!(u.to_string().contains("68 65 6c 6c"));
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Detected::Gzip);
    }
}
