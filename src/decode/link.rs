//! Link-layer framing that edgewise decodes itself: Linux cooked capture (SLL, SLL2),
//! BSD NULL/LOOP and raw IP. Ethernet goes straight to etherparse.

/// Link types edgewise reads (pcap LINKTYPE_* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1), with 802.1Q/QinQ tags.
    Ethernet,
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): 4-byte address family in network byte order.
    Loop,
    /// LINKTYPE_RAW (101), and the DLT_RAW values 12 and 14 some systems write.
    Raw,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
}

impl LinkType {
    pub fn from_u16(v: u16) -> Option<LinkType> {
        Some(match v {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// Link types supported, for messages.
pub const SUPPORTED: &str = "0 (NULL), 1 (Ethernet), 101/12/14 (raw IP), 108 (LOOP), 113 (Linux SLL), 228 (IPv4), 229 (IPv6), 276 (Linux SLL2)";

pub(super) enum Stripped<'a> {
    EtherType(u16, &'a [u8]),
    Ip(&'a [u8]),
    NonIp(&'static str, u16),
    Truncated,
}

/// ARPHRD_NETLINK: netlink messages captured on the "any" device.
const ARPHRD_NETLINK: u16 = 824;

pub(super) fn strip(lt: LinkType, data: &[u8]) -> Stripped<'_> {
    let be16 = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
    match lt {
        LinkType::Ethernet => Stripped::Truncated, // handled by the caller
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Stripped::Ip(data),
        LinkType::Null | LinkType::Loop => {
            if data.len() < 4 {
                return Stripped::Truncated;
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let family = if lt == LinkType::Loop {
                u32::from_be_bytes(raw)
            } else {
                // Written in the capturing host's byte order: small values tell which.
                let le = u32::from_le_bytes(raw);
                if le <= 0xFFFF {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                // AF_INET everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
                2 | 10 | 24 | 28 | 30 => Stripped::Ip(&data[4..]),
                _ => Stripped::NonIp("null.other_family", family as u16),
            }
        }
        LinkType::LinuxSll => {
            if data.len() < 16 {
                return Stripped::Truncated;
            }
            if be16(2) == ARPHRD_NETLINK {
                return Stripped::NonIp("netlink", be16(14));
            }
            ether_or_other(be16(14), &data[16..])
        }
        LinkType::LinuxSll2 => {
            if data.len() < 20 {
                return Stripped::Truncated;
            }
            if be16(8) == ARPHRD_NETLINK {
                return Stripped::NonIp("netlink", be16(0));
            }
            ether_or_other(be16(0), &data[20..])
        }
    }
}

/// SLL protocol values below 0x0600 are not EtherTypes (802.2 LLC, 802.3, CAN...).
fn ether_or_other(protocol: u16, rest: &[u8]) -> Stripped<'_> {
    if protocol >= 0x0600 {
        Stripped::EtherType(protocol, rest)
    } else {
        Stripped::NonIp("sll.non_ethertype", protocol)
    }
}

/// Names a non-IP EtherType for the accounting.
pub(super) fn name_ether_type(t: u16) -> (&'static str, u16) {
    let name = match t {
        0x0806 => "arp",
        0x8035 => "rarp",
        0x88cc => "lldp",
        0x888e => "eapol",
        0x8809 => "slow_protocols",
        0x8863 | 0x8864 => "pppoe",
        0x88e5 => "macsec",
        0x8100 | 0x88a8 | 0x9100 => "vlan.too_many_tags",
        0x9000 => "loopback",
        0x22f0..=0x22f4 => "avb",
        0x88f7 => "ptp",
        0x8847 | 0x8848 => "mpls",
        t if t < 0x0600 => "llc",
        _ => "other",
    };
    (name, t)
}
