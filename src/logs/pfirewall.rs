//! Windows Firewall `pfirewall.log`: W3C extended layout, space-separated, `-` for empty.
//!
//! The column order comes from the `#Fields:` header (read again wherever it appears); without
//! one, the Windows default order is assumed: `date time action protocol src-ip dst-ip src-port
//! dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path` (newer Windows
//! append `pid`). `#Time Format: UTC` switches times to UTC; otherwise they are local time.
//! Layout and samples: log2timeline/plaso `winfirewall.py`, research/ecosystem.md 2.1(a).
//!
//! `ALLOW` lines are connections Windows Filtering Platform let through (one line per
//! connection, not per packet); `DROP` lines are dropped packets. `size` is the packet's size.
//! An `ALLOW` says nothing of how the connection went (answered, refused, unanswered); a
//! dropped TCP SYN went unanswered, as the peer saw it.

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, time, Action, Header, Outcome, Record};

pub const DEFAULT_FIELDS: [&str; 17] = [
    "date", "time", "action", "protocol", "src-ip", "dst-ip", "src-port", "dst-port", "size",
    "tcpflags", "tcpsyn", "tcpack", "tcpwin", "icmptype", "icmpcode", "info", "path",
];

pub fn update_header(h: &mut Header, line: &str) {
    let Some(rest) = line.strip_prefix('#') else {
        return;
    };
    if let Some((key, val)) = rest.split_once(':') {
        match key.trim().to_ascii_lowercase().as_str() {
            "fields" => {
                h.fields = val.split_ascii_whitespace().map(str::to_string).collect();
                h.columns = columns(&h.fields);
            }
            "time format" => h.utc = val.trim().eq_ignore_ascii_case("utc"),
            _ => {}
        }
    }
}

/// Columns of the default layout: each field where Windows writes it.
pub const fn default_columns() -> [Option<u8>; DEFAULT_FIELDS.len()] {
    let mut c = [None; DEFAULT_FIELDS.len()];
    let mut i = 0;
    while i < c.len() {
        c[i] = Some(i as u8);
        i += 1;
    }
    c
}

/// The column of each of [`DEFAULT_FIELDS`] in a `#Fields` layout (names in any case).
fn columns(fields: &[String]) -> [Option<u8>; DEFAULT_FIELDS.len()] {
    if fields.is_empty() {
        return default_columns();
    }
    DEFAULT_FIELDS.map(|name| {
        fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .and_then(|i| u8::try_from(i).ok())
    })
}

/// Index in [`DEFAULT_FIELDS`] of each field a line is read for.
mod col {
    pub const DATE: usize = 0;
    pub const TIME: usize = 1;
    pub const ACTION: usize = 2;
    pub const PROTOCOL: usize = 3;
    pub const SRC_IP: usize = 4;
    pub const DST_IP: usize = 5;
    pub const SRC_PORT: usize = 6;
    pub const DST_PORT: usize = 7;
    pub const SIZE: usize = 8;
    pub const TCPFLAGS: usize = 9;
    pub const TCPSYN: usize = 10;
    pub const ICMPTYPE: usize = 13;
    pub const ICMPCODE: usize = 14;
}

/// Columns split without a heap block for the usual layouts.
const COLS_INLINE: usize = 32;

pub fn parse(h: &Header, line_no: u64, line: &str, tz: impl Into<Tz>) -> Outcome {
    let tz: Tz = tz.into();
    if line.starts_with('#') {
        return Outcome::Comment;
    }
    let mut inline = [""; COLS_INLINE];
    let mut n = 0usize;
    let mut spilled: Vec<&str> = Vec::new();
    for (i, c) in line.split_ascii_whitespace().enumerate() {
        match inline.get_mut(i) {
            Some(slot) => *slot = c,
            None => {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push(c);
            }
        }
        n = i + 1;
    }
    let cols: &[&str] = if spilled.is_empty() {
        &inline[..n]
    } else {
        &spilled
    };
    let want = if h.fields.is_empty() {
        DEFAULT_FIELDS.len()
    } else {
        h.fields.len()
    };
    // Without a header, Windows versions that append `pid` give one more column.
    let ok_count = cols.len() == want || (h.fields.is_empty() && cols.len() == want + 1);
    if cols.len() < want && !ok_count {
        return Outcome::Unparsable("short");
    }
    if !ok_count {
        return Outcome::Unparsable("extra_fields");
    }
    let get = |field: usize| {
        h.columns
            .get(field)
            .copied()
            .flatten()
            .and_then(|i| cols.get(usize::from(i)).copied())
            .filter(|v| *v != "-")
    };
    let action = match get(col::ACTION) {
        Some(a) if a.eq_ignore_ascii_case("allow") => Action::Allowed,
        Some(a) if a.eq_ignore_ascii_case("drop") => Action::Denied,
        // INFO-EVENTS-LOST and other non-traffic actions.
        Some(_) => return Outcome::Skipped("not_traffic"),
        None => return Outcome::Unparsable("no_action"),
    };
    let Some(transport) = get(col::PROTOCOL).and_then(protocol_number) else {
        return Outcome::Unparsable("bad_protocol");
    };
    let (Some(src), Some(dst)) = (
        get(col::SRC_IP).and_then(|s| s.parse::<IpAddr>().ok()),
        get(col::DST_IP).and_then(|s| s.parse::<IpAddr>().ok()),
    ) else {
        return Outcome::Unparsable("bad_address");
    };
    let has_ports = matches!(transport, 6 | 17 | 132);
    let (sp, dp) = if has_ports {
        match (get(col::SRC_PORT).map(port), get(col::DST_PORT).map(port)) {
            (Some(Some(a)), Some(Some(b))) => (a, b),
            _ => return Outcome::Unparsable("bad_port"),
        }
    } else {
        // ICMP: type and code in the port columns, as Zeek reports them.
        let t = get(col::ICMPTYPE)
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(0);
        let c = get(col::ICMPCODE)
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(0);
        (u16::from(t), u16::from(c))
    };
    let ts = match (get(col::DATE), get(col::TIME)) {
        (Some(d), Some(t)) => match time::date_clock(d, t, if h.utc { Tz::Fixed(0) } else { tz }) {
            Ok(ns) => Some(ns),
            Err(e) => return Outcome::Unparsable(e.bucket()),
        },
        _ => None,
    };
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    r.bytes = get(col::SIZE).and_then(|s| s.parse().ok());
    r.bytes_total = true;
    r.packets = Some(1);
    let syn = get(col::TCPFLAGS).is_some_and(|f| f.contains('S') && !f.contains('A'))
        || get(col::TCPSYN).is_some_and(|s| s != "0");
    // An ALLOW line is a connection WFP authorized: the firewall built the session.
    r.tcp_opened = transport == 6 && (action == Action::Allowed || syn);
    // A dropped TCP packet is a connection attempt left unanswered, unless its flags say it
    // was not a SYN (a stray ACK or RST of a connection already gone).
    let not_syn = get(col::TCPFLAGS).is_some_and(|f| !f.contains('S'));
    r.end = (transport == 6 && action == Action::Denied && !not_syn).then_some(TcpEnd::Unanswered);
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaso_sample() {
        let h = Header::default();
        let o = parse(
            &h,
            7,
            "2005-04-11 08:05:57 DROP UDP 123.45.78.90 123.156.78.255 137 137 78 - - - - - - - RECEIVE",
            0,
        );
        let Outcome::Used(r) = o else { panic!("{o:?}") };
        assert_eq!(r.action, Action::Denied);
        assert_eq!(r.transport, 17);
        assert_eq!(r.src, ("123.45.78.90".parse().expect("ip"), 137));
        assert_eq!(r.dst, ("123.156.78.255".parse().expect("ip"), 137));
        assert_eq!(r.bytes, Some(78));
        assert_eq!(r.line, 7);
        assert_eq!(r.ts_ns, time::date_clock("2005-04-11", "08:05:57", 0).ok());
    }

    #[test]
    fn header_and_utc() {
        let mut h = Header::default();
        update_header(&mut h, "#Time Format: UTC");
        update_header(
            &mut h,
            "#Fields: date time action protocol src-ip dst-ip src-port dst-port",
        );
        assert!(h.utc);
        assert_eq!(h.fields.len(), 8);
        let o = parse(
            &h,
            1,
            "2019-11-06 12:35:19 ALLOW TCP 10.0.0.1 10.0.0.2 50000 443",
            3600,
        );
        let Outcome::Used(r) = o else { panic!("{o:?}") };
        assert_eq!(r.ts_ns, time::date_clock("2019-11-06", "12:35:19", 0).ok());
        assert!(r.tcp_opened);
        assert_eq!(
            parse(
                &h,
                2,
                "2019-11-06 12:35:19 ALLOW TCP 10.0.0.1 10.0.0.2 50000 443 9",
                0
            ),
            Outcome::Unparsable("extra_fields")
        );
    }
}
