//! From link-layer bytes to what the flow table needs: addresses, transport, ports, TCP fields
//! and the payload slice.
//!
//! No-panic contract: any byte string in, a [`Decoded`] out. Every early stop is named by layer
//! and reason (`link.truncated`, `ipv4.bad_header`...), because each one is a bucket in the
//! packet accounting that users read.
//!
//! Ethernet, VLAN/QinQ and IP go through etherparse's *lax* slicer, which keeps the headers of
//! frames cut by the snaplen. Linux SLL/SLL2 and NULL/LOOP framing are ours (etherparse's SLL
//! parser rejects ARPHRD types common in "any" captures). Transport headers are read here too,
//! from the IP payload, so that first fragments and truncated headers still give their ports.

pub mod link;
mod transport;

use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket};

pub use link::LinkType;
pub use transport::{
    IcmpInfo, QuotedTuple, TcpFlags, TcpHeaderFields, TcpSegment, Transport, UdpDatagram,
};

/// Where a fragment sits in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    /// Not fragmented.
    Whole,
    /// Offset 0 with more to come: carries the transport header.
    First { id: u32 },
    /// Any later fragment: no transport header, belongs to the flow of its first fragment.
    Later { id: u32 },
}

/// An IP packet as the flow table sees it.
#[derive(Debug, Clone)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub protocol: u8,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    pub fragment: Fragment,
    pub transport: Transport<'a>,
    /// The frame was cut before the end of the IP packet (snaplen).
    pub truncated: bool,
    /// IP length fields disagreed with the frame (lax decoding used the frame length).
    pub len_mismatch: bool,
    /// The IP packet's length, header included, as its header declares it (IPv4 total
    /// length, IPv6 payload length + 40); what was present when the header says 0 (TSO/GSO,
    /// jumbograms). A frame cut by the snaplen keeps its declared length: Zeek's
    /// `orig_ip_bytes` and tshark's `ip.len` count it so.
    pub ip_len: u32,
}

/// The decoder's answer for one frame.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    Ip(IpPacket<'a>),
    /// A frame that is not IP (ARP, LLDP...), named for the accounting.
    NonIp(&'static str, u16),
    /// Decoding stopped: `layer.reason`.
    Undecodable(&'static str),
    /// A link type edgewise does not decode.
    UnsupportedLink(u16),
}

/// Decodes one frame of the given link type.
pub fn decode(link_type: u16, data: &[u8]) -> Decoded<'_> {
    match LinkType::from_u16(link_type) {
        Some(LinkType::Ethernet) => match LaxSlicedPacket::from_ethernet(data) {
            Ok(sliced) => from_sliced(sliced),
            Err(_) => Decoded::Undecodable("link.truncated"),
        },
        Some(lt) => match link::strip(lt, data) {
            link::Stripped::EtherType(ether_type, rest) => from_sliced(
                LaxSlicedPacket::from_ether_type(etherparse::EtherType(ether_type), rest),
            ),
            link::Stripped::Ip(rest) => match LaxSlicedPacket::from_ip(rest) {
                Ok(sliced) => from_sliced(sliced),
                Err(e) => Decoded::Undecodable(ip_error_bucket(&e)),
            },
            link::Stripped::NonIp(name, code) => Decoded::NonIp(name, code),
            link::Stripped::Truncated => Decoded::Undecodable("link.truncated"),
        },
        None => Decoded::UnsupportedLink(link_type),
    }
}

fn ip_error_bucket(e: &etherparse::err::ip::LaxHeaderSliceError) -> &'static str {
    use etherparse::err::ip::{HeaderError, LaxHeaderSliceError};
    match e {
        LaxHeaderSliceError::Len(_) => "ip.truncated_header",
        LaxHeaderSliceError::Content(HeaderError::UnsupportedIpVersion { .. }) => "ip.bad_version",
        LaxHeaderSliceError::Content(HeaderError::Ipv4HeaderLengthSmallerThanHeader { .. }) => {
            "ipv4.bad_header_len"
        }
    }
}

fn from_sliced(sliced: LaxSlicedPacket<'_>) -> Decoded<'_> {
    let vlan = sliced.vlan_ids().first().map(|v| v.value());
    let Some(net) = sliced.net.as_ref() else {
        if let Some((err, layer)) = &sliced.stop_err {
            return Decoded::Undecodable(stop_bucket(err, *layer));
        }
        return match sliced.ether_payload() {
            Some(p) if p.ether_type.0 == PPPOE_SESSION => pppoe_session(p.payload),
            Some(p) => {
                let (name, code) = link::name_ether_type(p.ether_type.0);
                Decoded::NonIp(name, code)
            }
            None => Decoded::Undecodable("link.no_payload"),
        };
    };
    let (src, dst, payload, fragment, declared_len, ip_len) = match net {
        LaxNetSlice::Arp(_) => return Decoded::NonIp("arp", 0x0806),
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let frag = if h.is_fragmenting_payload() {
                let id = u32::from(h.identification());
                if h.fragments_offset().value() == 0 {
                    Fragment::First { id }
                } else {
                    Fragment::Later { id }
                }
            } else {
                Fragment::Whole
            };
            let header_bytes =
                usize::from(h.ihl()) * 4 + v4.extensions().auth.map_or(0, |a| a.slice().len());
            let total = usize::from(h.total_len());
            // Total length 0 is TSO/GSO: the frame length is the truth.
            let declared = (total != 0).then(|| total.saturating_sub(header_bytes));
            let ip_len = if total != 0 {
                total
            } else {
                header_bytes + v4.payload().payload.len()
            };
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                v4.payload(),
                frag,
                declared,
                ip_len,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let exts = v6.extensions();
            // Walked by hand: etherparse's extension iterator trusts lengths that its lax
            // parser may not have checked (an out-of-bounds read on tcpdump's
            // ipv6-next-header-oobr captures).
            let frag = ipv6_fragment(h.next_header().0, exts.slice());
            let plen = usize::from(h.payload_length());
            let declared = (plen != 0).then(|| plen.saturating_sub(exts.slice().len()));
            const IPV6_HEADER: usize = 40;
            let ip_len = IPV6_HEADER
                + if plen != 0 {
                    plen
                } else {
                    exts.slice().len() + v6.payload().payload.len()
                };
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                v6.payload(),
                frag,
                declared,
                ip_len,
            )
        }
    };
    let protocol = payload.ip_number.0;
    let truncated = payload.incomplete;
    let len_mismatch = declared_len.is_some_and(|d| d != payload.payload.len()) && !truncated;
    // The payload length the IP header claims, for TCP/UDP payload byte counts on cut frames.
    let ip_payload_len = if truncated {
        declared_len.unwrap_or(payload.payload.len())
    } else {
        payload.payload.len()
    };
    let transport = match fragment {
        Fragment::Later { .. } => Transport::Fragment,
        _ => transport::parse(protocol, payload.payload, ip_payload_len),
    };
    Decoded::Ip(IpPacket {
        src,
        dst,
        protocol,
        vlan,
        fragment,
        transport,
        truncated,
        len_mismatch,
        ip_len: u32::try_from(ip_len).unwrap_or(u32::MAX),
    })
}

/// Finds a fragment header in an IPv6 extension chain, bounded by the bytes present.
fn ipv6_fragment(mut next: u8, mut chain: &[u8]) -> Fragment {
    for _ in 0..16 {
        let len = match next {
            0 | 43 | 60 => match chain.get(1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => return Fragment::Whole,
            },
            51 => match chain.get(1) {
                Some(&l) => (usize::from(l) + 2) * 4,
                None => return Fragment::Whole,
            },
            44 => {
                let Some(h) = chain.get(..8) else {
                    return Fragment::Whole;
                };
                let offset = u16::from_be_bytes([h[2], h[3]]) >> 3;
                let more = h[3] & 1 != 0;
                let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                return match (offset, more) {
                    (0, false) => Fragment::Whole,
                    (0, true) => Fragment::First { id },
                    _ => Fragment::Later { id },
                };
            }
            _ => return Fragment::Whole,
        };
        let Some(&n) = chain.first() else {
            return Fragment::Whole;
        };
        let Some(rest) = chain.get(len..) else {
            return Fragment::Whole;
        };
        next = n;
        chain = rest;
    }
    Fragment::Whole
}

const PPPOE_SESSION: u16 = 0x8864;

/// PPPoE session frames (DSL uplinks) carry IP after a 6-byte PPPoE and a 2-byte PPP header.
fn pppoe_session(p: &[u8]) -> Decoded<'_> {
    if p.len() < 8 {
        return Decoded::Undecodable("pppoe.truncated");
    }
    match u16::from_be_bytes([p[6], p[7]]) {
        0x0021 | 0x0057 => match LaxSlicedPacket::from_ip(&p[8..]) {
            Ok(sliced) => from_sliced(sliced),
            Err(e) => Decoded::Undecodable(ip_error_bucket(&e)),
        },
        other => Decoded::NonIp("pppoe.non_ip", other),
    }
}

fn stop_bucket(
    err: &etherparse::err::packet::SliceError,
    layer: etherparse::err::Layer,
) -> &'static str {
    use etherparse::err::packet::SliceError;
    use etherparse::err::Layer;
    let is_len = matches!(err, SliceError::Len(_));
    match (layer, is_len) {
        (Layer::Ethernet2Header, _) => "link.truncated",
        (Layer::VlanHeader, _) => "vlan.truncated",
        (Layer::MacsecHeader | Layer::MacsecPacket, _) => "macsec.undecodable",
        (Layer::LinuxSllHeader, _) => "link.truncated",
        (Layer::Ipv4Header | Layer::Ipv4Packet, true) => "ipv4.truncated_header",
        (Layer::Ipv4Header | Layer::Ipv4Packet, false) => "ipv4.bad_header",
        (Layer::Ipv6Header | Layer::Ipv6Packet, true) => "ipv6.truncated_header",
        (Layer::Ipv6Header | Layer::Ipv6Packet, false) => "ipv6.bad_header",
        (Layer::IpHeader, true) => "ip.truncated_header",
        (Layer::IpHeader, false) => "ip.bad_version",
        (_, true) => "ip.truncated_ext_header",
        (_, false) => "ip.bad_ext_header",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 45, 16, 30], [203, 0, 113, 5], 64)
            .udp(3478, 50000);
        let mut v = Vec::new();
        b.write(&mut v, payload).expect("vec write");
        v
    }

    #[test]
    fn udp_over_ethernet_gives_ports_and_payload() {
        let f = udp_frame(b"hello");
        let Decoded::Ip(p) = decode(1, &f) else {
            panic!("not ip")
        };
        assert_eq!(p.src.to_string(), "10.45.16.30");
        let Transport::Udp(u) = p.transport else {
            panic!("not udp")
        };
        assert_eq!(
            (u.src_port, u.dst_port, u.payload),
            (3478, 50000, &b"hello"[..])
        );
    }

    #[test]
    fn snaplen_cut_frame_keeps_its_five_tuple() {
        let f = udp_frame(&[7u8; 400]);
        let Decoded::Ip(p) = decode(1, &f[..60]) else {
            panic!("not ip")
        };
        assert!(p.truncated);
        let Transport::Udp(u) = p.transport else {
            panic!("not udp")
        };
        assert_eq!(u.dst_port, 50000);
        assert_eq!(u.payload_len, 400);
    }

    #[test]
    fn every_prefix_of_a_frame_decodes_without_panic() {
        let f = udp_frame(&[1u8; 64]);
        for cut in 0..f.len() {
            let _ = decode(1, &f[..cut]);
            let _ = decode(113, &f[..cut]);
            let _ = decode(276, &f[..cut]);
            let _ = decode(0, &f[..cut]);
            let _ = decode(101, &f[14..cut.max(14)]);
        }
    }

    proptest::proptest! {
        /// Seeded mutation in plain `cargo test`: any bytes, any supported link type, no panic
        /// (etherparse's own checks included: this found its IPv6 extension iterator's
        /// out-of-bounds read).
        #[test]
        fn random_frames_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            lt in proptest::sample::select(vec![0u16, 1, 12, 101, 108, 113, 228, 229, 276]),
        ) {
            let _ = decode(lt, &data);
        }

        /// Mutating one byte of a valid IPv6 frame with extension headers never panics.
        #[test]
        fn mutated_ipv6_frames_never_panic(pos in 0usize..120, val in proptest::prelude::any::<u8>()) {
            let mut f = vec![0x60, 0, 0, 0, 0, 40, 0, 64];
            f.extend([0x20, 1, 0xd, 0xb8].iter().chain([0u8; 12].iter()));
            f.extend([0x20, 1, 0xd, 0xb8].iter().chain([1u8; 12].iter()));
            // Hop-by-hop (8 bytes) -> destination options (8 bytes) -> UDP
            f.extend([60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0]);
            f.extend([0x0d, 0x96, 0x0d, 0x96, 0, 24, 0, 0]);
            f.extend([0u8; 16]);
            if pos < f.len() {
                f[pos] = val;
            }
            let _ = decode(229, &f);
        }
    }

    #[test]
    fn arp_and_unknown_link_types_are_named() {
        let mut arp = vec![0xff; 6];
        arp.extend([2; 6]);
        arp.extend([0x08, 0x06]);
        arp.extend([0u8; 28]);
        assert!(matches!(decode(1, &arp), Decoded::NonIp("arp", 0x0806)));
        assert!(matches!(decode(147, &arp), Decoded::UnsupportedLink(147)));
    }
}
