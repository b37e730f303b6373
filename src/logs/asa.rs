//! Cisco ASA / Firepower Threat Defense syslog (`%ASA-` or `%FTD-`, same message bodies).
//!
//! Messages used (Cisco ASA syslog guide; research/ecosystem.md 2.1(c)):
//! - 302013/302015 `Built {inbound|outbound} TCP|UDP connection <id> for <if>:<ip>/<port>
//!   (<mapped>) to <if>:<ip>/<port> (<mapped>)`: the first ("for") socket is on the
//!   lower-security interface, so the originator is the first socket for `inbound` and the
//!   second for `outbound`.
//! - 302014/302016 `Teardown ... connection <id> for ... to ... duration h:mm:ss bytes N`: same
//!   socket order as its Built message (joined on the connection id when flows are made).
//! - 106023 `Deny <proto> src <if>:<ip>/<port> dst <if>:<ip>/<port> ... by access-group "<acl>"`.
//! - 106100 `access-list <acl> {permitted|denied|est-allowed} <proto> <if>/<ip>(<port>) ->
//!   <if>/<ip>(<port>) hit-cnt <n> ...`.
//! - 106015 `Deny TCP (no connection) from <ip>/<port> to <ip>/<port> flags ...` and 106001
//!   `Inbound TCP connection denied from <ip>/<port> to <ip>/<port> flags ...`.
//!
//! How a TCP connection ended is the Teardown's reason ([`TEARDOWN_REASONS`]; Cisco's list for
//! 302014): "TCP FINs" is a completed connection, "SYN Timeout" an unanswered SYN, "TCP
//! Reset-O"/"-I" a reset from the lower-/higher-security side, or from the interface named by
//! `from <interface>` in newer versions. A denied SYN (106001, 106023, 106100 denied) went
//! unanswered. UDP teardowns count both directions' bytes together: a UDP session's answer is
//! not told.
//!
//! Tolerated variants seen in public samples: `%ASA-session-5-106100`, no colon after the id,
//! user names in parentheses after a socket. Sockets naming a host instead of an address
//! (`dmz:OCSP_Server/5678`) cannot be placed: skipped as `host_name`.
//! Times: `Mon DD YYYY HH:MM:SS` before the message id, in the device's local time; a syslog
//! time without a year gives no time (the line is still used).

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, syslog, time, Action, Outcome, Record};

/// How a teardown reason says the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Completed,
    Unanswered,
    Established,
    /// A reset from the lower-security ("outside", the `for` socket's) side.
    ResetOutside,
    /// A reset from the higher-security ("inside", the `to` socket's) side.
    ResetInside,
    /// A reset whose side only `from <interface>` tells.
    Reset,
}

/// 302014 teardown reasons that tell how the peers' connection ended. The others (Deny
/// Terminate, Flow closed by inspection, IPS, TCP Reset-APPLIANCE, Failover, Xlate Clear,
/// Invalid SYN, SYN Control...) are the firewall's own doing and tell nothing of the peers.
const TEARDOWN_REASONS: &[(&str, Ended)] = &[
    ("TCP FINs", Ended::Completed),
    ("SYN Timeout", Ended::Unanswered),
    ("TCP Reset-O", Ended::ResetOutside),
    ("TCP Reset-I", Ended::ResetInside),
    ("TCP Reset", Ended::Reset),
    ("FIN Timeout", Ended::Established),
    ("Conn-timeout", Ended::Established),
    ("Idle Timeout", Ended::Established),
    ("Flow timed out", Ended::Established),
    ("Flow timed out with reset", Ended::Established),
];

/// The reason after `bytes N`, up to a user name in parentheses, and the interface of a
/// trailing `from <interface>`.
fn teardown_reason<'a>(w: &[&'a str]) -> (String, Option<&'a str>) {
    let Some(at) = w.iter().position(|x| *x == "bytes") else {
        return (String::new(), None);
    };
    let rest = w.get(at + 2..).unwrap_or(&[]);
    let mut words = Vec::new();
    let mut from = None;
    for (i, x) in rest.iter().enumerate() {
        if x.starts_with('(') {
            break;
        }
        if *x == "from" {
            from = rest.get(i + 1).copied();
            break;
        }
        words.push(*x);
    }
    (words.join(" "), from)
}

/// How a 302014 teardown says the connection ended; `src_if`/`dst_if` are the interfaces of
/// its `for` and `to` sockets (the record's source and destination).
fn teardown_end(w: &[&str], bytes: Option<u64>, src_if: &str, dst_if: &str) -> Option<TcpEnd> {
    let (reason, from) = teardown_reason(w);
    let ended = TEARDOWN_REASONS
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(&reason))?
        .1;
    let established = bytes.is_some_and(|b| b > 0);
    let by_src = match (ended, from) {
        (Ended::Completed, _) => return Some(TcpEnd::Completed),
        (Ended::Unanswered, _) => return Some(TcpEnd::Unanswered),
        (Ended::Established, _) => return Some(TcpEnd::Established),
        (_, Some(f)) if f.eq_ignore_ascii_case(src_if) => true,
        (_, Some(f)) if f.eq_ignore_ascii_case(dst_if) => false,
        (Ended::ResetOutside, _) => true,
        (Ended::ResetInside, _) => false,
        (Ended::Reset, _) => return None,
    };
    Some(TcpEnd::Reset {
        by_src,
        established,
    })
}

/// The interface of `<if>:<ip>/<port>`.
fn interface(s: &str) -> &str {
    s.split_once(':').map_or("", |(i, _)| i)
}

/// Finds the time `Mon DD YYYY HH:MM:SS` among the words before the message. `Ok(None)` when
/// the prefix has no such time (a syslog time without a year); an error when it has one that
/// cannot be a time (year 0, year 99999, a 25th hour), so the line is counted, not misdated.
fn timestamp(prefix: &str, tz: Tz) -> Result<Option<i64>, time::TimeError> {
    let mut inline = [""; WORDS_INLINE];
    let mut spilled = Vec::new();
    let w = words(
        prefix
            .split_ascii_whitespace()
            .map(|s| s.trim_end_matches(':'))
            // A syslog priority glued to the month: `<167>Jun`.
            .map(
                |s| match s.strip_prefix('<').and_then(|r| r.split_once('>')) {
                    Some((pri, rest)) if pri.bytes().all(|b| b.is_ascii_digit()) => rest,
                    _ => s,
                },
            ),
        &mut inline,
        &mut spilled,
    );
    for i in 0..w.len().saturating_sub(3) {
        let Some(mo) = time::month(w[i]) else {
            continue;
        };
        let (Ok(d), Some(y)) = (w[i + 1].parse::<u32>(), time::syslog_year(w[i + 2])) else {
            continue;
        };
        if let Some((h, mi, s, ns)) = time::clock(w[i + 3]) {
            return time::to_ns(y, mo, d, h, mi, s, ns, tz).map(Some);
        }
    }
    Ok(None)
}

enum Sock {
    Ok((IpAddr, u16)),
    Host,
    NoPort,
    Bad,
}

/// `<if>:<ip>/<port>[(user)]` (or without the interface when `iface` is false).
fn socket(s: &str, iface: bool, need_port: bool) -> Sock {
    let s = s.split('(').next().unwrap_or(s);
    let addr = if iface {
        match s.split_once(':') {
            Some((_, a)) => a,
            None => return Sock::Bad,
        }
    } else {
        s
    };
    let (ip, p) = match addr.rsplit_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (addr, None),
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        let looks_like_name = !ip.is_empty()
            && ip
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        return if looks_like_name {
            Sock::Host
        } else {
            Sock::Bad
        };
    };
    match p {
        Some(p) => match port(p) {
            Some(p) => Sock::Ok((ip, p)),
            None => Sock::Bad,
        },
        None if need_port => Sock::NoPort,
        None => Sock::Ok((ip, 0)),
    }
}

macro_rules! sock {
    ($e:expr) => {
        match $e {
            Sock::Ok(v) => v,
            Sock::Host => return Outcome::Skipped("host_name"),
            Sock::NoPort => return Outcome::Skipped("no_port"),
            Sock::Bad => return Outcome::Unparsable("bad_socket"),
        }
    };
}

/// Words of a line kept without a heap block (a line with more spills into a vector).
const WORDS_INLINE: usize = 40;

/// A line's words, in `inline` when they fit, else in `spilled`.
fn words<'a, 'b>(
    all: impl Iterator<Item = &'a str>,
    inline: &'b mut [&'a str; WORDS_INLINE],
    spilled: &'b mut Vec<&'a str>,
) -> &'b [&'a str] {
    let mut n = 0usize;
    for word in all {
        match inline.get_mut(n) {
            Some(slot) => *slot = word,
            None => {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline[..]);
                }
                spilled.push(word);
            }
        }
        n += 1;
    }
    if spilled.is_empty() {
        &inline[..n]
    } else {
        spilled
    }
}

/// The word after `key`.
fn after<'a>(w: &[&'a str], key: &str) -> Option<&'a str> {
    w.iter()
        .position(|x| *x == key)
        .and_then(|i| w.get(i + 1).copied())
}

/// One line. `reference`: when the log was last written, for the year of a syslog header's
/// BSD time when the ASA's own timestamp is off (`no logging timestamp`).
/// Where `%ASA-` (or FTD's `%FTD-`) starts: the first `%` that opens one.
fn message_at(line: &str) -> Option<usize> {
    memchr::memchr_iter(b'%', line.as_bytes()).find(|&i| {
        let tag = line.as_bytes().get(i..i + 5);
        tag == Some(b"%ASA-") || tag == Some(b"%FTD-")
    })
}

pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let Some(at) = message_at(line) else {
        return Outcome::Skipped("not_asa");
    };
    let ts = match timestamp(&line[..at], tz) {
        Ok(Some(ts)) => Some(ts),
        // Only the syslog server's header: its time (a BSD one has no year: the year of the
        // log's last write). A header that only looks like a time gives none, as before.
        Ok(None) => syslog::split(&line[..at])
            .stamp
            .resolve(tz, reference)
            .ok()
            .flatten(),
        Err(e) => return Outcome::Unparsable(e.bucket()),
    };
    let rest = &line[at + 5..];
    // `[facility-]sev-msgid[:]`
    let (tag, body) = rest.split_once(' ').unwrap_or((rest, ""));
    let tag = tag.trim_end_matches(':');
    let Some(id) = tag
        .rsplit('-')
        .next()
        .filter(|id| id.len() == 6 && id.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Outcome::Unparsable("bad_message_id");
    };
    let mut inline = [""; WORDS_INLINE];
    let mut spilled = Vec::new();
    let w = words(body.split_ascii_whitespace(), &mut inline, &mut spilled);
    let mut r = match id {
        "302013" | "302015" => {
            let transport = if id == "302013" { 6 } else { 17 };
            let inbound = match w.get(1) {
                Some(&"inbound") => true,
                Some(&"outbound") => false,
                _ => return Outcome::Unparsable("built_direction"),
            };
            let (Some(f), Some(t)) = (after(w, "for"), after(w, "to")) else {
                return Outcome::Unparsable("short");
            };
            let f = sock!(socket(f, true, true));
            let t = sock!(socket(t, true, true));
            let (src, dst) = if inbound { (f, t) } else { (t, f) };
            let mut r = Record::new(line_no, Action::Allowed, transport, src, dst);
            r.session = after(w, "connection").and_then(|c| c.parse().ok());
            r.tcp_opened = transport == 6;
            r
        }
        "302014" | "302016" => {
            let transport = if id == "302014" { 6 } else { 17 };
            let (Some(f), Some(t)) = (after(w, "for"), after(w, "to")) else {
                return Outcome::Unparsable("short");
            };
            let f = sock!(socket(f, true, true));
            let t = sock!(socket(t, true, true));
            let (src_if, dst_if) = (
                interface(after(w, "for").unwrap_or("")),
                interface(after(w, "to").unwrap_or("")),
            );
            let mut r = Record::new(line_no, Action::Teardown, transport, f, t);
            r.oriented = false;
            r.session = after(w, "connection").and_then(|c| c.parse().ok());
            r.bytes = after(w, "bytes").and_then(|b| b.parse().ok());
            r.bytes_total = true;
            if transport == 6 {
                r.end = teardown_end(w, r.bytes, src_if, dst_if);
            }
            r.duration_ns = match after(w, "duration") {
                Some(d) => match time::hms_to_ns(d) {
                    Some(ns) => Some(ns),
                    None => return Outcome::Unparsable("bad_duration"),
                },
                None => None,
            };
            r
        }
        "106023" => {
            let Some(proto) = w.get(1).and_then(|p| protocol_number(p)) else {
                return Outcome::Unparsable("bad_protocol");
            };
            let (Some(s), Some(d)) = (after(w, "src"), after(w, "dst")) else {
                return Outcome::Unparsable("short");
            };
            let ports = matches!(proto, 6 | 17);
            let mut src = sock!(socket(s, true, ports));
            let mut dst = sock!(socket(d, true, ports));
            if matches!(proto, 1 | 58) {
                // `(type 8, code 0)`: in the port columns, as Zeek and the other logs give them.
                let num = |k: &str| {
                    after(w, k).and_then(|v| v.trim_matches([',', ')']).parse::<u8>().ok())
                };
                if let (Some(t), Some(c)) = (num("(type"), num("code")) {
                    (src.1, dst.1) = (u16::from(t), u16::from(c));
                }
            }
            let mut r = Record::new(line_no, Action::Denied, proto, src, dst);
            r.rule = after(w, "access-group").map(|a| a.trim_matches('"').into());
            r.packets = Some(1);
            // An access group is checked on a connection's first packet: a denied SYN.
            r.end = (proto == 6).then_some(TcpEnd::Unanswered);
            r
        }
        "106100" => {
            let (Some(acl), Some(verb), Some(proto)) = (w.get(1), w.get(2), w.get(3)) else {
                return Outcome::Unparsable("short");
            };
            let action = match *verb {
                "permitted" | "est-allowed" => Action::Allowed,
                "denied" => Action::Denied,
                _ => return Outcome::Unparsable("acl_verb"),
            };
            let Some(proto) = protocol_number(proto) else {
                return Outcome::Unparsable("bad_protocol");
            };
            let (Some(s), Some(d)) = (w.get(4), after(w, "->")) else {
                return Outcome::Unparsable("short");
            };
            // `<if>/<ip>(<port>)`
            let one = |x: &str| -> Sock {
                let (left, p) = match x.split_once('(') {
                    Some((l, p)) => (l, p.trim_end_matches(')')),
                    None => (x, "0"),
                };
                let ip = left.rsplit_once('/').map_or(left, |(_, ip)| ip);
                socket(&format!("{ip}/{p}"), false, true)
            };
            let src = sock!(one(s));
            let dst = sock!(one(d));
            let mut r = Record::new(line_no, action, proto, src, dst);
            r.rule = Some((*acl).into());
            r.packets = after(w, "hit-cnt").and_then(|h| h.parse().ok());
            r.tcp_opened = proto == 6 && *verb == "permitted";
            r.end = (proto == 6 && action == Action::Denied).then_some(TcpEnd::Unanswered);
            r
        }
        "106015" | "106001" => {
            let (Some(s), Some(d)) = (after(w, "from"), after(w, "to")) else {
                return Outcome::Unparsable("short");
            };
            let src = sock!(socket(s, false, true));
            let dst = sock!(socket(d, false, true));
            let mut r = Record::new(line_no, Action::Denied, 6, src, dst);
            r.packets = Some(1);
            // 106015 is a packet outside any connection (not a SYN): the originator is uncertain,
            // and nothing was attempted. 106001 is a denied SYN.
            r.tcp_opened = id == "106001";
            r.end = (id == "106001").then_some(TcpEnd::Unanswered);
            r
        }
        _ => return Outcome::Skipped("other_message_id"),
    };
    r.ts_ns = ts;
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsd_syslog_header_dates_a_line_without_the_asa_timestamp() {
        let line = "Dec  5 10:12:01 edge-fw : %ASA-6-302013: Built outbound TCP connection 7 \
                    for outside:192.0.2.10/5061 (192.0.2.10/5061) to inside:10.0.0.5/50000 \
                    (203.0.113.5/50000)";
        // Last written 2027-01-03: a December line is of 2026.
        let written = time::to_ns(2027, 1, 3, 0, 0, 0, 0, 0).expect("time");
        let Outcome::Used(r) = parse(1, line, 3600, Some(written)) else {
            panic!("not used: {line}");
        };
        assert_eq!(r.ts_ns, time::to_ns(2026, 12, 5, 9, 12, 1, 0, 0).ok());
        // Without a time of writing there is no year to take: no time, the line still used.
        let Outcome::Used(r) = parse(1, line, 3600, None) else {
            panic!("not used: {line}");
        };
        assert_eq!(r.ts_ns, None);
    }

    fn used(line: &str) -> Record {
        match parse(1, line, 0, None) {
            Outcome::Used(r) => r,
            o => panic!("{line}: {o:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn built_outbound_orients_to_the_second_socket() {
        let r = used("Apr 29 2013 12:59:50: %ASA-6-302013: Built outbound TCP connection 89743274 for outside:192.0.2.43/443 (192.0.2.43/443) to outside:10.123.3.42/4952 (10.123.3.42/12834)");
        assert_eq!(r.src, (ip("10.123.3.42"), 4952));
        assert_eq!(r.dst, (ip("192.0.2.43"), 443));
        assert_eq!(r.session, Some(89_743_274));
        assert_eq!(r.ts_ns, time::date_clock("2013-04-29", "12:59:50", 0).ok());
        assert!(r.tcp_opened);
    }

    #[test]
    fn teardown_reasons_tell_how_it_ended() {
        let t = |reason: &str| {
            used(&format!("Jun 20 2018 12:00:50 : %ASA-6-302014: Teardown TCP connection 9 for outside:198.51.100.10/5061 to inside:10.45.16.10/51700 duration 0:00:30 bytes 0 {reason}")).end
        };
        assert_eq!(t("SYN Timeout"), Some(TcpEnd::Unanswered));
        assert_eq!(t("TCP FINs"), Some(TcpEnd::Completed));
        assert_eq!(t("TCP FINs from INSIDE"), Some(TcpEnd::Completed));
        assert_eq!(
            t("TCP Reset-O"),
            Some(TcpEnd::Reset {
                by_src: true,
                established: false
            })
        );
        assert_eq!(
            t("TCP Reset-I (user1)"),
            Some(TcpEnd::Reset {
                by_src: false,
                established: false
            })
        );
        // The interface named overrides the side.
        assert_eq!(
            t("TCP Reset-I from outside"),
            Some(TcpEnd::Reset {
                by_src: true,
                established: false
            })
        );
        assert_eq!(t("TCP Reset"), None);
        assert_eq!(t("TCP Reset-APPLIANCE"), None);
        assert_eq!(t("Deny Terminate"), None);
        assert_eq!(t(""), None);
        assert_eq!(t("Conn-timeout"), Some(TcpEnd::Established));
    }

    #[test]
    fn teardown_and_denies() {
        let r = used("Dec 11 2018 08:01:38 <IP>: %ASA-6-302014: Teardown TCP connection 447234 for outside:192.0.2.222/1234 to dmz:192.168.1.35/5678 duration 0:01:08 bytes 134781 TCP FINs");
        assert_eq!(r.action, Action::Teardown);
        assert_eq!(r.bytes, Some(134_781));
        assert_eq!(r.duration_ns, Some(68_000_000_000));
        let icmp = used("Apr 30 2013 09:23:41: %ASA-4-106023: Deny icmp src outside:192.0.2.126 dst inside:10.0.0.132 (type 8, code 0) by access-group \"acl_out\" [0x71761f18, 0x0]");
        assert_eq!((icmp.transport, icmp.src.1, icmp.dst.1), (1, 8, 0));
        let r = used("Apr 30 2013 09:23:40: %ASA-4-106023: Deny tcp src outside:192.0.2.126/53638 dst inside:10.0.0.132/8111 by access-group \"acl_out\" [0x71761f18, 0x0]");
        assert_eq!(r.action, Action::Denied);
        assert_eq!(r.rule.as_deref(), Some("acl_out"));
        assert_eq!(r.dst, (ip("10.0.0.132"), 8111));
        let r = used("Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list inside denied udp inside/172.29.2.101(1039) -> outside/192.0.2.10(53) hit-cnt 1 first hit [0xd820e56a, 0x0]");
        assert_eq!(r.src, (ip("172.29.2.101"), 1039));
        assert_eq!(r.dst, (ip("192.0.2.10"), 53));
        assert_eq!(r.transport, 17);
        assert_eq!(
            parse(1, "Apr 29 2013 12:59:50: %ASA-6-302016 Teardown UDP connection 1 for outside:192.0.2.222/53 to dmz:OCSP_Server/5678 duration 0:00:01 bytes 1", 0, None),
            Outcome::Skipped("host_name")
        );
        assert_eq!(
            parse(1, "Apr 29 2013 12:59:50: %ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.1 to inside:10.0.0.1/80", 0, None),
            Outcome::Skipped("no_port")
        );
    }
}
