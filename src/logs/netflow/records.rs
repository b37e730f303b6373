//! The flow records of one parsed export packet (netflow_parser's types) as [`FlowRecord`]s:
//! addresses, ports, protocol, counters, TCP flags and times in UTC nanoseconds.
//!
//! Times: NetFlow v5 and v9 give a flow's first and last packet in milliseconds of the
//! exporter's uptime (`FIRST_SWITCHED`/`LAST_SWITCHED`), anchored here on the export header's
//! `sysUptime` and `unix_secs`. IPFIX gives them either absolute (`flowStart/End` Seconds,
//! Milliseconds, Microseconds, Nanoseconds) or as uptime (`flowStart/EndSysUpTime`), anchored
//! on the `systemInitTimeMilliseconds` the exporter sends in an options record; without one,
//! such a record has no time.
//!
//! IPFIX biflow records (RFC 5103 reverse elements, softflowd `-b`) carry both directions and
//! become two records here, as two unidirectional records would be.

use std::net::IpAddr;

use netflow_parser::variable_versions::field_value::{DurationValue, FieldValue};
use netflow_parser::variable_versions::ipfix::lookup::{
    IANAIPFixField, IPFixField, ReverseInformationElement,
};
use netflow_parser::variable_versions::v9::lookup::V9Field;

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_UNIX_S: i64 = 2_208_988_800;

/// One direction of a flow as one record tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    /// 1-based number of this record among the file's flow records.
    pub no: u64,
    /// Index of the exporter in [`super::ExportSummary::exporters`].
    pub exporter: usize,
    pub src: (IpAddr, u16),
    pub dst: (IpAddr, u16),
    pub protocol: u8,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub packets: u64,
    pub bytes: u64,
    /// TCP flags ORed over the direction's packets; `None` when the template has none.
    pub flags: Option<u8>,
}

/// Information element ids this reader uses (IANA; NetFlow v9 numbers agree below 128).
mod ie {
    pub const BYTES: u16 = 1;
    pub const PACKETS: u16 = 2;
    pub const PROTOCOL: u16 = 4;
    pub const TCP_FLAGS: u16 = 6;
    pub const SRC_PORT: u16 = 7;
    pub const SRC_V4: u16 = 8;
    pub const DST_PORT: u16 = 11;
    pub const DST_V4: u16 = 12;
    pub const LAST_UPTIME: u16 = 21;
    pub const FIRST_UPTIME: u16 = 22;
    pub const OUT_BYTES: u16 = 23;
    pub const OUT_PACKETS: u16 = 24;
    pub const SRC_V6: u16 = 27;
    pub const DST_V6: u16 = 28;
    pub const ICMP_V4: u16 = 32;
    pub const BYTES_TOTAL: u16 = 85;
    pub const PACKETS_TOTAL: u16 = 86;
    pub const ICMP_V6: u16 = 139;
    pub const START_S: u16 = 150;
    pub const END_S: u16 = 151;
    pub const START_MS: u16 = 152;
    pub const END_MS: u16 = 153;
    pub const START_US: u16 = 154;
    pub const END_US: u16 = 155;
    pub const START_NS: u16 = 156;
    pub const END_NS: u16 = 157;
    pub const SYSTEM_INIT_MS: u16 = 160;
}

fn iana_id(f: &IANAIPFixField) -> Option<u16> {
    use IANAIPFixField as F;
    Some(match f {
        F::OctetDeltaCount => ie::BYTES,
        F::PacketDeltaCount => ie::PACKETS,
        F::ProtocolIdentifier => ie::PROTOCOL,
        F::TcpControlBits => ie::TCP_FLAGS,
        F::SourceTransportPort => ie::SRC_PORT,
        F::SourceIpv4address => ie::SRC_V4,
        F::DestinationTransportPort => ie::DST_PORT,
        F::DestinationIpv4address => ie::DST_V4,
        F::FlowEndSysUpTime => ie::LAST_UPTIME,
        F::FlowStartSysUpTime => ie::FIRST_UPTIME,
        F::SourceIpv6address => ie::SRC_V6,
        F::DestinationIpv6address => ie::DST_V6,
        F::IcmpTypeCodeIpv4 => ie::ICMP_V4,
        F::OctetTotalCount => ie::BYTES_TOTAL,
        F::PacketTotalCount => ie::PACKETS_TOTAL,
        F::IcmpTypeCodeIpv6 => ie::ICMP_V6,
        F::FlowStartSeconds => ie::START_S,
        F::FlowEndSeconds => ie::END_S,
        F::FlowStartMilliseconds => ie::START_MS,
        F::FlowEndMilliseconds => ie::END_MS,
        F::FlowStartMicroseconds => ie::START_US,
        F::FlowEndMicroseconds => ie::END_US,
        F::FlowStartNanoseconds => ie::START_NS,
        F::FlowEndNanoseconds => ie::END_NS,
        F::SystemInitTimeMilliseconds => ie::SYSTEM_INIT_MS,
        _ => return None,
    })
}

fn reverse_id(f: &ReverseInformationElement) -> Option<u16> {
    use ReverseInformationElement as R;
    Some(match f {
        R::ReverseOctetDeltaCount => ie::BYTES,
        R::ReversePacketDeltaCount => ie::PACKETS,
        R::ReverseTcpControlBits => ie::TCP_FLAGS,
        R::ReverseFlowEndSysUpTime => ie::LAST_UPTIME,
        R::ReverseFlowStartSysUpTime => ie::FIRST_UPTIME,
        R::ReverseOctetTotalCount => ie::BYTES_TOTAL,
        R::ReversePacketTotalCount => ie::PACKETS_TOTAL,
        R::ReverseFlowStartSeconds => ie::START_S,
        R::ReverseFlowEndSeconds => ie::END_S,
        R::ReverseFlowStartMilliseconds => ie::START_MS,
        R::ReverseFlowEndMilliseconds => ie::END_MS,
        _ => return None,
    })
}

/// A field of a record: its element id, whether it is a reverse (RFC 5103) element, its value.
pub type Field<'a> = (u16, bool, &'a FieldValue);

/// The fields of an IPFIX record this reader uses.
pub fn ipfix_fields(rec: &[(IPFixField, FieldValue)]) -> Vec<Field<'_>> {
    rec.iter()
        .filter_map(|(f, v)| match f {
            IPFixField::IANA(x) => iana_id(x).map(|id| (id, false, v)),
            IPFixField::ReverseInformationElement(x) => reverse_id(x).map(|id| (id, true, v)),
            _ => None,
        })
        .collect()
}

/// The fields of a NetFlow v9 record (or a v9-style record inside IPFIX).
pub fn v9_fields(rec: &[(V9Field, FieldValue)]) -> Vec<Field<'_>> {
    rec.iter()
        .map(|(f, v)| (u16::from(*f), false, v))
        .filter(|(id, ..)| *id <= ie::SYSTEM_INIT_MS)
        .collect()
}

fn number(v: &FieldValue) -> Option<u64> {
    match v {
        FieldValue::TcpControlBits(bits, _) => Some(u64::from(u16::from(*bits))),
        FieldValue::ProtocolType(_) => v.as_u8().map(u64::from),
        FieldValue::Duration(_) => None,
        _ => v.as_u64(),
    }
}

/// Milliseconds of uptime, as a number or as the parser's duration.
fn uptime_ms(v: &FieldValue) -> Option<u64> {
    v.as_u64()
}

/// A time field as nanoseconds since the Unix epoch (absolute fields) or milliseconds of
/// uptime (uptime fields), by element id.
fn absolute_ns(id: u16, v: &FieldValue) -> Option<i64> {
    let ns = |s: i64, sub: i64| s.checked_mul(1_000_000_000)?.checked_add(sub);
    match v {
        FieldValue::Duration(d) => {
            let dur = d.as_duration();
            let secs = i64::try_from(dur.as_secs()).ok()?;
            let sub = i64::from(dur.subsec_nanos());
            match (id, d) {
                (
                    ie::START_US | ie::END_US | ie::START_NS | ie::END_NS,
                    DurationValue::MicrosNtp { .. } | DurationValue::NanosNtp { .. },
                ) => ns(secs - NTP_UNIX_S, sub),
                _ => ns(secs, sub),
            }
        }
        // Seconds or milliseconds given as plain numbers.
        _ => {
            let n = i64::try_from(v.as_u64()?).ok()?;
            match id {
                ie::START_S | ie::END_S => ns(n, 0),
                ie::START_MS | ie::END_MS => n.checked_mul(1_000_000),
                _ => None,
            }
        }
    }
}

/// How a record's uptime milliseconds become UTC: the export header's clock.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// NetFlow v5 and v9: the header's uptime (ms) at its `unix` time (ns).
    Uptime { uptime_ms: u32, unix_ns: i64 },
    /// IPFIX: the exporter's init time (ms since the epoch), when an options record gave it.
    Init(Option<i64>),
}

impl Clock {
    fn at(self, uptime_ms: u64) -> Option<i64> {
        match self {
            Clock::Uptime {
                uptime_ms: now,
                unix_ns,
            } => {
                // Uptime counters wrap at 2^32 ms (49.7 days): the difference, taken as a
                // signed 32-bit value, is how long before the export the packet was seen.
                let then = u32::try_from(uptime_ms & 0xffff_ffff).ok()?;
                let ago = i64::from(now.wrapping_sub(then) as i32);
                unix_ns.checked_sub(ago.checked_mul(1_000_000)?)
            }
            Clock::Init(Some(init_ms)) => init_ms
                .checked_add(i64::try_from(uptime_ms).ok()?)?
                .checked_mul(1_000_000),
            Clock::Init(None) => None,
        }
    }
}

/// Why a record was not made into a [`FlowRecord`].
pub const NO_ADDRESSES: &str = "no_addresses";

/// The record(s) one template-based data record gives: one, or two for a biflow record.
pub fn from_fields(fields: &[Field<'_>], clock: Clock) -> Result<Vec<Part>, &'static str> {
    let mut fwd = Part::default();
    let mut rev = Part::default();
    let mut src: Option<IpAddr> = None;
    let mut dst: Option<IpAddr> = None;
    let (mut sport, mut dport, mut proto, mut icmp) = (0u16, 0u16, 0u8, None::<u16>);
    let mut has_rev = false;
    for &(id, reverse, v) in fields {
        let part = if reverse {
            has_rev = true;
            &mut rev
        } else {
            &mut fwd
        };
        match id {
            ie::SRC_V4 | ie::SRC_V6 if !reverse => src = ip(v),
            ie::DST_V4 | ie::DST_V6 if !reverse => dst = ip(v),
            ie::SRC_PORT if !reverse => {
                sport = number(v).and_then(|n| n.try_into().ok()).unwrap_or(0)
            }
            ie::DST_PORT if !reverse => {
                dport = number(v).and_then(|n| n.try_into().ok()).unwrap_or(0)
            }
            ie::PROTOCOL if !reverse => {
                proto = number(v).and_then(|n| n.try_into().ok()).unwrap_or(0)
            }
            ie::ICMP_V4 | ie::ICMP_V6 if !reverse => {
                icmp = number(v).and_then(|n| n.try_into().ok())
            }
            ie::BYTES | ie::BYTES_TOTAL => part.bytes = part.bytes.or(number(v)),
            ie::OUT_BYTES => part.out_bytes = number(v),
            ie::PACKETS | ie::PACKETS_TOTAL => part.packets = part.packets.or(number(v)),
            ie::OUT_PACKETS => part.out_packets = number(v),
            ie::TCP_FLAGS => part.flags = number(v).map(|n| (n & 0xff) as u8),
            ie::FIRST_UPTIME => part.first = part.first.or(uptime_ms(v).and_then(|n| clock.at(n))),
            ie::LAST_UPTIME => part.last = part.last.or(uptime_ms(v).and_then(|n| clock.at(n))),
            ie::START_S | ie::START_MS | ie::START_US | ie::START_NS => {
                part.first = absolute_ns(id, v).or(part.first)
            }
            ie::END_S | ie::END_MS | ie::END_US | ie::END_NS => {
                part.last = absolute_ns(id, v).or(part.last)
            }
            _ => {}
        }
    }
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err(NO_ADDRESSES);
    };
    if matches!(proto, 1 | 58) {
        // As Zeek and the capture path key ICMP: the type as the source port, the code as
        // the destination port.
        let tc = icmp.unwrap_or(dport);
        sport = tc >> 8;
        dport = tc & 0xff;
    }
    for p in [&mut fwd, &mut rev] {
        p.src = (src, sport);
        p.dst = (dst, dport);
        p.protocol = proto;
    }
    std::mem::swap(&mut rev.src, &mut rev.dst);
    if rev.first.is_none() {
        rev.first = fwd.first;
        rev.last = fwd.last;
    }
    let mut out = vec![fwd];
    if has_rev && (rev.packets.unwrap_or(0) > 0 || rev.bytes.unwrap_or(0) > 0) {
        out.push(rev);
    }
    Ok(out)
}

fn ip(v: &FieldValue) -> Option<IpAddr> {
    match v {
        FieldValue::Ip4Addr(a) => Some(IpAddr::V4(*a)),
        FieldValue::Ip6Addr(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// A record's fields, before it is numbered.
#[derive(Debug, Clone)]
pub struct Part {
    pub src: (IpAddr, u16),
    pub dst: (IpAddr, u16),
    pub protocol: u8,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    pub out_packets: Option<u64>,
    pub out_bytes: Option<u64>,
    pub flags: Option<u8>,
}

impl Default for Part {
    fn default() -> Self {
        let none = (IpAddr::from([0, 0, 0, 0]), 0);
        Part {
            src: none,
            dst: none,
            protocol: 0,
            first: None,
            last: None,
            packets: None,
            bytes: None,
            out_packets: None,
            out_bytes: None,
            flags: None,
        }
    }
}

impl Part {
    pub fn into_record(self, no: u64, exporter: usize) -> FlowRecord {
        let mut first = self.first;
        let mut last = self.last;
        if let (Some(a), Some(b)) = (first, last) {
            if b < a {
                // A last time before the first: trust neither order, keep both as bounds.
                first = Some(b);
                last = Some(a);
            }
        }
        FlowRecord {
            no,
            exporter,
            src: self.src,
            dst: self.dst,
            protocol: self.protocol,
            first_ns: first,
            last_ns: last.or(first),
            // Some exporters count egress only (OUT_BYTES/OUT_PKTS).
            packets: self.packets.or(self.out_packets).unwrap_or(0),
            bytes: self.bytes.or(self.out_bytes).unwrap_or(0),
            flags: self.flags,
        }
    }
}

/// NetFlow v5: fixed records.
pub fn v5_records(p: &netflow_parser::static_versions::v5::V5) -> Vec<Part> {
    let h = &p.header;
    let unix_ns = i64::from(h.unix_secs) * 1_000_000_000 + i64::from(h.unix_nsecs.min(999_999_999));
    let clock = Clock::Uptime {
        uptime_ms: h.sys_up_time,
        unix_ns,
    };
    p.flowsets
        .iter()
        .map(|f| {
            let proto = f.protocol_number;
            let (sport, dport) = (f.src_port, f.dst_port);
            let (sport, dport) = if matches!(proto, 1 | 58) {
                (dport >> 8, dport & 0xff)
            } else {
                (sport, dport)
            };
            Part {
                src: (IpAddr::V4(f.src_addr), sport),
                dst: (IpAddr::V4(f.dst_addr), dport),
                protocol: proto,
                first: clock.at(u64::from(f.first)),
                last: clock.at(u64::from(f.last)),
                packets: Some(u64::from(f.d_pkts)),
                bytes: Some(u64::from(f.d_octets)),
                out_packets: None,
                out_bytes: None,
                flags: Some(f.tcp_flags),
            }
        })
        .collect()
}

/// The exporter's init time an IPFIX options record gives.
pub fn system_init_ms(fields: &[Field<'_>]) -> Option<i64> {
    fields.iter().find_map(|&(id, rev, v)| {
        (id == ie::SYSTEM_INIT_MS && !rev)
            .then(|| absolute_ns(ie::START_MS, v).map(|ns| ns / 1_000_000))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_anchored_on_the_header_and_wraps() {
        let c = Clock::Uptime {
            uptime_ms: 10_000,
            unix_ns: 1_000_000_000_000,
        };
        assert_eq!(c.at(9_000), Some(999_000_000_000));
        // The counter wrapped between the packet and the export.
        let c = Clock::Uptime {
            uptime_ms: 500,
            unix_ns: 1_000_000_000_000,
        };
        assert_eq!(c.at(u64::from(u32::MAX) - 499), Some(999_000_000_000));
        assert_eq!(Clock::Init(None).at(5), None);
        assert_eq!(Clock::Init(Some(1_000)).at(5), Some(1_005_000_000));
    }
}
