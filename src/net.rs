//! Network vocabulary that every stage shares: IP protocol numbers and their names. It sits at
//! the bottom so that judging, diagnosing, filtering and rendering all name a transport the
//! same way without reaching into each other.

use std::borrow::Cow;

/// An IP protocol number (the IPv4 protocol field, the IPv6 next header of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProto(pub u8);

impl IpProto {
    pub const ICMP: IpProto = IpProto(1);
    pub const TCP: IpProto = IpProto(6);
    pub const UDP: IpProto = IpProto(17);
    pub const GRE: IpProto = IpProto(47);
    pub const ESP: IpProto = IpProto(50);
    pub const ICMPV6: IpProto = IpProto(58);

    /// The lower-case name reports and display filters use: `tcp`, `udp`, `icmp`, `icmpv6`,
    /// `gre`, `esp`, else `ip-N`.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            IpProto::TCP => "tcp".into(),
            IpProto::UDP => "udp".into(),
            IpProto::ICMP => "icmp".into(),
            IpProto::ICMPV6 => "icmpv6".into(),
            IpProto::GRE => "gre".into(),
            IpProto::ESP => "esp".into(),
            IpProto(n) => format!("ip-{n}").into(),
        }
    }

    /// Zeek's `transport_proto` enum: tcp, udp, icmp (ICMPv6 too), unknown_transport.
    pub fn zeek_name(self) -> &'static str {
        match self {
            IpProto::TCP => "tcp",
            IpProto::UDP => "udp",
            IpProto::ICMP | IpProto::ICMPV6 => "icmp",
            _ => "unknown_transport",
        }
    }
}

/// Written by its name (see [`IpProto::name`]), in text and in JSON.
impl std::fmt::Display for IpProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl serde::Serialize for IpProto {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An address and port: `{"ip": ..., "port": N}` in the machine formats, as flows write their
/// ends, and `ip:port` (IPv6 without brackets) in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct HostPort {
    pub ip: std::net::IpAddr,
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// The name of a transport by its protocol number (see [`IpProto::name`]).
pub fn transport_name(protocol: u8) -> String {
    IpProto(protocol).name().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_the_filter_vocabulary_and_zeek() {
        assert_eq!(transport_name(6), "tcp");
        assert_eq!(transport_name(58), "icmpv6");
        assert_eq!(transport_name(132), "ip-132");
        assert_eq!(IpProto(58).zeek_name(), "icmp");
        assert_eq!(IpProto(132).zeek_name(), "unknown_transport");
    }
}
