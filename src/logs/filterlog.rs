//! pfSense and OPNsense `filterlog`: pf's log, one comma-separated line per logged packet,
//! behind a syslog header (BSD `Dec  5 10:12:01 pfsense filterlog[123]: ...`, or RFC 5424
//! `<134>1 2026-12-05T10:12:01+01:00 opnsense filterlog 123 - [meta sequenceId="1"] ...` as
//! OPNsense writes its own files; [`super::syslog`]).
//!
//! Layout (Netgate, "Raw Filter Log Format",
//! <https://docs.netgate.com/pfsense/en/latest/monitoring/logs/raw-filter-format.html>; OPNsense
//! keeps the same fields, its rule label in place of pfSense's tracker):
//! `rule,subrule,anchor,tracker,interface,reason,action,direction,ipversion,` then for IPv4
//! `tos,ecn,ttl,id,offset,flags,protocol-id,protocol-text,length,src,dst,` and for IPv6
//! `class,flow-label,hop-limit,protocol-text,protocol-id,length,src,dst,` (the protocol's text
//! and number swap places), then for TCP `sport,dport,data-length,tcp-flags,seq,ack,window,
//! urg,options`, for UDP `sport,dport,data-length`, for ICMP a type word (`request`, `reply`,
//! `unreachport`...) and its details.
//!
//! What a line tells: the packet a logged rule matched (for a pass rule without `log all`, the
//! packet that created the state: a TCP SYN), its addresses, ports, transport, IP length and
//! TCP flags, the interface and direction, and the firewall's decision: `pass` is allowed,
//! `block` denied, `reject` denied with an answer (a TCP reset, an ICMP unreachable). The rule
//! is kept as `rule N (tracker T)`; the interface is not kept (a flow has no interface field).
//!
//! What it cannot tell: how a connection went (pf logs no state's end nor its counts): only a
//! blocked SYN (unanswered, S0) or a rejected one (refused by the reset pf sends, REJ) says
//! how an attempt ended; and nothing of what the responder sent back. Other actions pf logs
//! (`nat`, `rdr`, `binat`, `scrub`...) are not traffic decisions and are skipped.
//!
//! ICMP: the type word gives the type and code (code 0 where the word names none); another
//! word, or ICMPv6 (whose type filterlog does not print), leaves both 0.
//!
//! Times: the syslog header's; a BSD time has no year (the year that puts it at or before the
//! file's last write, [`super::syslog::Stamp::resolve`]) and is the firewall's local time
//! (`--tz-offset`), as is an RFC 3339 time without an offset.

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, syslog, Action, Outcome, Record};

/// Characters of the rule number and tracker kept as the flow's rule.
const RULE_KEPT: usize = 80;

/// ICMP type words of filterlog (pfSense's `icmp_print`) and the type and code they mean.
const ICMP_WORDS: &[(&str, u8, u8)] = &[
    ("reply", 0, 0),
    ("unreach", 3, 0),
    ("unreachproto", 3, 2),
    ("unreachport", 3, 3),
    ("needfrag", 3, 4),
    ("redirect", 5, 0),
    ("request", 8, 0),
    ("routeradv", 9, 0),
    ("timexceed", 11, 0),
    ("paramprob", 12, 0),
    ("tstamp", 13, 0),
    ("tstampreply", 14, 0),
    ("maskreply", 18, 0),
];

/// The CSV after the `filterlog` tag, or a line that is that CSV without a header.
fn body<'a>(h: &syslog::Header<'a>) -> Option<&'a str> {
    match h.app {
        Some("filterlog") => Some(h.msg),
        _ if h.host.is_none() && h.app.is_none() && looks_like_body(h.msg) => Some(h.msg),
        _ => None,
    }
}

/// The common fields' shape: a direction and an IP version where they belong.
fn looks_like_body(b: &str) -> bool {
    let c: Vec<&str> = b.splitn(10, ',').collect();
    matches!(c.get(7), Some(&("in" | "out"))) && matches!(c.get(8), Some(&("4" | "6")))
}

/// Whether a line is a filterlog line (for detection).
pub fn is_line(l: &str) -> bool {
    let h = syslog::split(l);
    h.app == Some("filterlog") && looks_like_body(h.msg)
}

/// One line. `reference`: when the log was last written, for the year of a BSD time.
pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let h = syslog::split(line);
    let Some(body) = body(&h) else {
        return Outcome::Skipped("not_filterlog");
    };
    let c: Vec<&str> = body.trim_end().split(',').collect();
    let at = |i: usize| c.get(i).copied();
    let (Some(action), Some(dir), Some(version)) = (at(6), at(7), at(8)) else {
        return Outcome::Unparsable("short");
    };
    let (action, rejected) = match action {
        "pass" => (Action::Allowed, false),
        "block" => (Action::Denied, false),
        "reject" => (Action::Denied, true),
        "" => return Outcome::Unparsable("no_action"),
        _ => return Outcome::Skipped("other_action"),
    };
    if !matches!(dir, "in" | "out") {
        return Outcome::Unparsable("bad_direction");
    }
    // Protocol number, length, source, destination, and where the protocol's fields start.
    let (proto, len, src, dst, rest) = match version {
        "4" => (at(15), at(17), at(18), at(19), 20),
        "6" => (at(13), at(14), at(15), at(16), 17),
        _ => return Outcome::Unparsable("bad_ip_version"),
    };
    let (Some(proto), Some(len), Some(src), Some(dst)) = (proto, len, src, dst) else {
        return Outcome::Unparsable("short");
    };
    let Ok(transport) = proto.parse::<u8>() else {
        return Outcome::Unparsable("bad_protocol");
    };
    let (Ok(src), Ok(dst)) = (src.parse::<IpAddr>(), dst.parse::<IpAddr>()) else {
        return Outcome::Unparsable("bad_address");
    };
    let (sp, dp) = match transport {
        6 | 17 => match (at(rest), at(rest + 1)) {
            (Some(a), Some(b)) => match (port(a), port(b)) {
                (Some(a), Some(b)) => (a, b),
                _ => return Outcome::Unparsable("bad_port"),
            },
            _ => return Outcome::Unparsable("short"),
        },
        1 => at(rest)
            .and_then(|w| ICMP_WORDS.iter().find(|(k, ..)| *k == w))
            .map_or((0, 0), |(_, t, c)| (u16::from(*t), u16::from(*c))),
        _ => (0, 0),
    };
    let ts = match h.stamp.resolve(tz, reference) {
        Ok(ts) => ts,
        Err(e) => return Outcome::Unparsable(e.bucket()),
    };
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    // The IP length, headers included: wire bytes of the one packet, not payload.
    r.bytes = len.parse().ok();
    r.bytes_total = true;
    r.packets = Some(1);
    let number = at(0).unwrap_or("");
    let tracker = at(3).unwrap_or("");
    let rule = match (number.is_empty(), tracker.is_empty()) {
        (false, false) => Some(format!("rule {number} (tracker {tracker})")),
        (false, true) => Some(format!("rule {number}")),
        (true, false) => Some(format!("tracker {tracker}")),
        (true, true) => None,
    };
    r.rule = rule.map(|s| s.chars().take(RULE_KEPT).collect());
    if transport == 6 {
        let flags = at(rest + 3).unwrap_or("");
        let syn_only = flags.contains('S') && !flags.contains('A');
        r.tcp_opened = syn_only;
        r.end = match (action, rejected) {
            (Action::Denied, false) if syn_only => Some(TcpEnd::Unanswered),
            (Action::Denied, true) if syn_only => Some(TcpEnd::Refused),
            _ => None,
        };
    }
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::time;

    fn used(line: &str) -> Record {
        match parse(
            4,
            line,
            0,
            time::date_clock("2026-12-31", "00:00:00", 0).ok(),
        ) {
            Outcome::Used(r) => r,
            o => panic!("{line}: {o:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn tcp_block_field_by_field() {
        let r = used("Dec  5 10:12:01 pfsense filterlog[12345]: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,12345,0,DF,6,tcp,60,203.0.113.7,198.51.100.10,51514,5061,0,S,1234567890,,64240,,mss;sackOK;TS;nop;wscale");
        assert_eq!(r.line, 4);
        assert_eq!(r.action, Action::Denied);
        assert_eq!(r.transport, 6);
        assert_eq!(r.src, (ip("203.0.113.7"), 51514));
        assert_eq!(r.dst, (ip("198.51.100.10"), 5061));
        assert_eq!((r.bytes, r.packets), (Some(60), Some(1)));
        assert_eq!(r.rule.as_deref(), Some("rule 5 (tracker 1000000103)"));
        assert!(r.tcp_opened);
        assert_eq!(r.end, Some(TcpEnd::Unanswered));
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "10:12:01", 0).ok());
    }

    #[test]
    fn udp_icmp_ipv6_and_opnsense() {
        let r = used("Dec  5 10:12:02 pfsense filterlog[12345]: 77,,,1600000001,igb1,match,pass,out,4,0x0,,63,4321,0,none,17,udp,128,10.45.16.30,203.0.113.44,3478,50060,108");
        assert_eq!((r.action, r.transport), (Action::Allowed, 17));
        assert_eq!(r.src, (ip("10.45.16.30"), 3478));
        assert_eq!(r.dst, (ip("203.0.113.44"), 50060));
        assert_eq!(r.bytes, Some(128));
        let r = used("Dec  5 10:12:03 pfsense filterlog[12345]: 5,,,1000000103,igb0,match,block,in,4,0x0,,56,0,0,none,1,icmp,84,192.0.2.1,10.45.16.10,request,3245,1");
        assert_eq!((r.transport, r.src.1, r.dst.1), (1, 8, 0));
        let r = used("Dec  5 10:12:04 pfsense filterlog[12345]: 5,,,1000000103,igb0,match,reject,in,6,0x00,0x00000,57,tcp,6,80,2001:db8::1,2001:db8:1::10,51514,5061,0,S,1,,64800,,mss");
        assert_eq!(r.src, (ip("2001:db8::1"), 51514));
        assert_eq!(r.dst, (ip("2001:db8:1::10"), 5061));
        assert_eq!(
            (r.action, r.end.clone()),
            (Action::Denied, Some(TcpEnd::Refused))
        );
        assert_eq!(r.bytes, Some(80));
        let r = used("<134>1 2026-12-05T10:12:01+01:00 opnsense filterlog 12345 - [meta sequenceId=\"1\"] 96,,,fae559338f65e11c53669fc3642c93c2,vtnet0,match,pass,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.7,10.45.16.10,51514,5061,0,S,1,,64240,,mss");
        assert_eq!(r.action, Action::Allowed);
        assert!(r.tcp_opened);
        assert_eq!(r.end, None);
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "09:12:01", 0).ok());
        assert_eq!(
            r.rule.as_deref(),
            Some("rule 96 (tracker fae559338f65e11c53669fc3642c93c2)")
        );
    }

    #[test]
    fn other_lines_are_counted() {
        let p = |l: &str| parse(1, l, 0, None);
        assert_eq!(
            p("Dec  5 10:12:01 pfsense sshd[1]: Accepted publickey for admin"),
            Outcome::Skipped("not_filterlog")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,rdr,in,4,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2,0,S"),
            Outcome::Skipped("other_action")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block"),
            Outcome::Unparsable("short")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4"),
            Outcome::Unparsable("short")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,up,4,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2,0,S"),
            Outcome::Unparsable("bad_direction")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,5,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,2,0,S"),
            Outcome::Unparsable("bad_ip_version")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4,5.6.7.x,1,2,0,S"),
            Outcome::Unparsable("bad_address")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,6,tcp,60,1.2.3.4,5.6.7.8,1,99999,0,S"),
            Outcome::Unparsable("bad_port")
        );
        assert_eq!(
            p("Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0,,64,1,0,DF,tcp,6,60,1.2.3.4,5.6.7.8,1,2,0,S"),
            Outcome::Unparsable("bad_protocol")
        );
        // Without a header (a bare CSV line): read, with no time.
        let o = p(
            "5,,,1000000103,igb0,match,block,in,4,0x0,,64,1,0,DF,17,udp,60,1.2.3.4,5.6.7.8,1,2,40",
        );
        assert!(
            matches!(&o, Outcome::Used(r) if r.ts_ns.is_none() && r.transport == 17),
            "{o:?}"
        );
        assert!(is_line(
            "Dec  5 10:12:01 pfsense filterlog[1]: 5,,,1,igb0,match,block,in,4,0x0"
        ));
        assert!(!is_line("5,,,1,igb0,match,block,in,4,0x0"));
    }
}
