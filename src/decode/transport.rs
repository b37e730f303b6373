//! TCP, UDP and ICMP headers read from an IP payload, bounded by the bytes present.

use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket};

/// TCP flag bits as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    /// `None` when the header was cut before the sequence numbers (only ports are known).
    pub header: Option<TcpHeaderFields>,
    /// Payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire (from the IP length), at least `payload.len()`.
    pub payload_len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeaderFields {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
}

#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub payload_len: u32,
}

/// The five-tuple of the packet an ICMP error quotes, as the original sender sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedTuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpInfo {
    pub icmp_type: u8,
    pub code: u8,
    /// For errors (destination unreachable, time exceeded...): what they quote.
    pub quoted: Option<QuotedTuple>,
    pub is_error: bool,
    /// Bytes after the 8-byte ICMP header, from the IP length (what Zeek counts as an ICMP
    /// connection's bytes).
    pub payload_len: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    Icmp(IcmpInfo),
    /// A non-first fragment: no transport header.
    Fragment,
    /// TCP or UDP with fewer than 4 bytes of header: not even the ports.
    Truncated,
    /// Any other IP protocol: keyed without ports.
    Other,
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

pub(super) fn parse(protocol: u8, p: &[u8], ip_payload_len: usize) -> Transport<'_> {
    let be16 = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    match protocol {
        TCP | UDP if p.len() < 4 => Transport::Truncated,
        TCP => {
            let (src_port, dst_port) = (be16(0), be16(2));
            if p.len() < 20 {
                return Transport::Tcp(TcpSegment {
                    src_port,
                    dst_port,
                    header: None,
                    payload: &[],
                    payload_len: 0,
                });
            }
            let header_len = usize::from(p[12] >> 4) * 4;
            let fields = TcpHeaderFields {
                seq: be32(4),
                ack: be32(8),
                flags: TcpFlags(p[13]),
                window: be16(14),
            };
            let (payload, payload_len) = if header_len >= 20 && header_len <= p.len() {
                (
                    &p[header_len..],
                    ip_payload_len
                        .saturating_sub(header_len)
                        .max(p.len() - header_len),
                )
            } else if header_len >= 20 {
                // Options cut by the snaplen: the payload length is still known from IP.
                (&p[p.len()..], ip_payload_len.saturating_sub(header_len))
            } else {
                (&p[p.len()..], 0)
            };
            Transport::Tcp(TcpSegment {
                src_port,
                dst_port,
                header: Some(fields),
                payload,
                payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
            })
        }
        UDP => {
            let (src_port, dst_port) = (be16(0), be16(2));
            let payload = p.get(8..).unwrap_or(&[]);
            let payload_len = ip_payload_len.saturating_sub(8).max(payload.len());
            Transport::Udp(UdpDatagram {
                src_port,
                dst_port,
                payload,
                payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
            })
        }
        ICMP | ICMPV6 if p.len() >= 2 => {
            let (icmp_type, code) = (p[0], p[1]);
            let is_error = if protocol == ICMP {
                matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
            } else {
                matches!(icmp_type, 1..=4)
            };
            let quoted = if is_error {
                p.get(8..).and_then(quoted_tuple)
            } else {
                None
            };
            Transport::Icmp(IcmpInfo {
                icmp_type,
                code,
                quoted,
                is_error,
                payload_len: u32::try_from(ip_payload_len.max(p.len()).saturating_sub(8))
                    .unwrap_or(u32::MAX),
            })
        }
        ICMP | ICMPV6 => Transport::Truncated,
        _ => Transport::Other,
    }
}

/// Reads the five-tuple of the IP packet quoted inside an ICMP error.
fn quoted_tuple(q: &[u8]) -> Option<QuotedTuple> {
    let sliced = LaxSlicedPacket::from_ip(q).ok()?;
    let (src, dst, payload) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.payload().clone(),
        ),
        LaxNetSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.payload().clone(),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    let protocol = payload.ip_number.0;
    let b = payload.payload;
    let (src_port, dst_port) = if matches!(protocol, TCP | UDP) {
        if b.len() < 4 {
            return None;
        }
        (
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
        )
    } else {
        (0, 0)
    };
    Some(QuotedTuple {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
    })
}
