//! Linux netfilter packet logging: iptables/ip6tables `-j LOG` and the nftables `log`
//! statement, as the kernel writes them to its log (read with `dmesg`, `journalctl -k`, or the
//! syslog file rsyslog/syslog-ng keep: `kern.log`, `messages`, `syslog`).
//!
//! Layout (the kernel's `net/netfilter/nf_log_syslog.c`; iptables-extensions(8), `LOG`;
//! nft(8), "LOG STATEMENT"): `<prefix>IN=<if> OUT=<if> [MAC=...] SRC=<ip> DST=<ip> LEN=<n> ...
//! PROTO=<TCP|UDP|UDPLITE|ICMP|ICMPv6|n> ...`, then for TCP `SPT= DPT= WINDOW= RES= <flags>
//! URGP=`, for UDP `SPT= DPT= LEN=`, for ICMP `TYPE= CODE=`. IPv4 adds `TOS= PREC= TTL= ID=` and
//! `DF`; IPv6 `TC= HOPLIMIT= FLOWLBL=`. An ICMP error quotes the packet it answers in `[...]`,
//! whose fields are not the line's. The prefix is the rule's `--log-prefix` (nftables
//! `log prefix`), glued to `IN=` when it ends without a space. In front: a syslog header
//! ([`super::syslog`]: BSD, RFC 3339, RFC 5424) and the kernel's `[seconds since boot]`, or
//! neither (`dmesg`).
//!
//! What a line tells: one packet a logging rule matched: its addresses, ports (ICMP type and
//! code), transport, IP length (`LEN`, headers included) and, for TCP, its flags. `LOG` does
//! not decide (rule traversal goes on), so the firewall's decision is read from the prefix's
//! words, which the administrator chose: DROP, REJECT, BLOCK or DENY (any case, any
//! punctuation around them: `[UFW BLOCK]`, `EDGE-DROP`, firewalld's `FINAL_REJECT`) is denied;
//! ACCEPT, ALLOW or PASS allowed. A prefix with neither (or both) tells no decision: the line is
//! [`Action::Logged`], never read as denied, and the checks that need the decision (FW1, FW2)
//! are listed as skipped for its flows.
//!
//! What a line cannot tell: how a connection went (no session, no teardown, no counts beyond
//! the one packet): only a dropped SYN (unanswered, S0) or a rejected one (REJ: `REJECT`
//! answers with a reset or an ICMP error, which the line does not tell apart) says how an
//! attempt ended; and nothing of what the responder sent back. A SYN without ACK is a
//! connection attempt, its source the originator.
//!
//! Times: the syslog header's; a BSD time has no year (see [`super::syslog::Stamp::resolve`]:
//! the year that puts it at or before the file's last write) and, like a zone-less RFC 3339
//! time, is the device's local time (`--tz-offset`). `dmesg` without `-T` gives no wall time.

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, syslog, Action, Outcome, Record};

/// Prefix words that say the rule denied the packet.
const DENY_WORDS: [&str; 8] = [
    "DROP", "DROPPED", "REJECT", "REJECTED", "BLOCK", "BLOCKED", "DENY", "DENIED",
];
/// Prefix words that say the rule let it through.
const ALLOW_WORDS: [&str; 6] = ["ACCEPT", "ACCEPTED", "ALLOW", "ALLOWED", "PASS", "PASSED"];
/// Characters of the prefix kept as the flow's rule.
const PREFIX_KEPT: usize = 64;

/// What the prefix says the rule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    Dropped,
    /// Denied with an answer (a reset or an ICMP error).
    Rejected,
    Allowed,
    /// No word of a decision, or words of both kinds.
    Nothing,
}

fn decision(prefix: &str) -> Said {
    let (mut deny, mut reject, mut allow) = (false, false, false);
    for w in prefix
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if DENY_WORDS.iter().any(|d| d.eq_ignore_ascii_case(w)) {
            deny = true;
            reject |= w.get(..6).is_some_and(|h| h.eq_ignore_ascii_case("reject"));
        } else if ALLOW_WORDS.iter().any(|a| a.eq_ignore_ascii_case(w)) {
            allow = true;
        }
    }
    match (deny, allow) {
        (true, false) if reject => Said::Rejected,
        (true, false) => Said::Dropped,
        (false, true) => Said::Allowed,
        _ => Said::Nothing,
    }
}

/// Where `IN=<interface> OUT=` starts: the packet's fields begin there, the prefix ends.
fn locate(s: &str) -> Option<usize> {
    s.match_indices("IN=").map(|(i, _)| i).find(|&i| {
        let rest = s.get(i + 3..).unwrap_or("");
        let end = rest.find(' ').unwrap_or(rest.len());
        rest.get(end..).is_some_and(|r| r.starts_with(" OUT="))
    })
}

/// Whether a line is a netfilter log line (for detection).
pub fn is_line(l: &str) -> bool {
    locate(l).is_some_and(|at| l.get(at..).is_some_and(|r| r.contains(" SRC=")))
}

/// The kernel's `[ seconds.micros]` in front of the message.
fn strip_uptime(s: &str) -> &str {
    let t = s.trim_start();
    if let Some((inside, rest)) = t.strip_prefix('[').and_then(|r| r.split_once(']')) {
        let inside = inside.trim();
        if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return rest.trim_start();
        }
    }
    t
}

/// The packet's `KEY=value` fields and bare words (flags), outside the `[...]` an ICMP error
/// quotes: the first of each key is the line's own.
struct Fields<'a> {
    kv: Vec<(&'a str, &'a str)>,
    words: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(s: &'a str) -> Fields<'a> {
        let mut f = Fields {
            kv: Vec::new(),
            words: Vec::new(),
        };
        let mut depth = 0u32;
        for tok in s.split_ascii_whitespace() {
            if tok.starts_with('[') {
                depth = depth.saturating_add(1);
            }
            if depth == 0 {
                match tok.split_once('=') {
                    Some((k, v)) => f.kv.push((k, v)),
                    None => f.words.push(tok),
                }
            }
            if tok.ends_with(']') {
                depth = depth.saturating_sub(1);
            }
        }
        f
    }

    fn get(&self, k: &str) -> Option<&'a str> {
        self.kv.iter().find(|(a, _)| *a == k).map(|(_, v)| *v)
    }

    fn has(&self, w: &str) -> bool {
        self.words.contains(&w)
    }
}

/// One line. `reference`: when the log was last written, for the year of a BSD time.
pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let h = syslog::split(line);
    // After the kernel's tag; a tag of another kind may be the prefix itself (`nft-drop:`).
    let text = match h.app {
        Some("kernel") => h.msg,
        Some(_) if h.pid => h.msg,
        _ => h.after_host,
    };
    let text = strip_uptime(text);
    let Some(at) = locate(text) else {
        return Outcome::Skipped("not_netfilter");
    };
    let prefix = text.get(..at).unwrap_or("").trim();
    let f = Fields::new(text.get(at..).unwrap_or(""));
    let (Some(s), Some(d)) = (f.get("SRC"), f.get("DST")) else {
        return if f.has("ARP") {
            Outcome::Skipped("not_ip")
        } else {
            Outcome::Unparsable("no_address")
        };
    };
    let (Ok(src), Ok(dst)) = (s.parse::<IpAddr>(), d.parse::<IpAddr>()) else {
        return Outcome::Unparsable("bad_address");
    };
    let transport = match f.get("PROTO") {
        None => return Outcome::Unparsable("no_protocol"),
        Some("UDPLITE") => 136,
        Some(p) => match protocol_number(p) {
            Some(n) => n,
            None => return Outcome::Unparsable("bad_protocol"),
        },
    };
    let (sp, dp) = match transport {
        6 | 17 | 136 => match (f.get("SPT"), f.get("DPT")) {
            (Some(a), Some(b)) => match (port(a), port(b)) {
                (Some(a), Some(b)) => (a, b),
                _ => return Outcome::Unparsable("bad_port"),
            },
            // A fragment after the first, or a header cut short (`INCOMPLETE [n bytes]`).
            (None, None) => return Outcome::Skipped("no_transport_header"),
            _ => return Outcome::Unparsable("bad_port"),
        },
        // ICMP: type and code in the port columns, as Zeek reports them.
        1 | 58 => match (f.get("TYPE"), f.get("CODE")) {
            (Some(t), Some(c)) => match (t.parse::<u8>(), c.parse::<u8>()) {
                (Ok(t), Ok(c)) => (u16::from(t), u16::from(c)),
                _ => return Outcome::Unparsable("bad_icmp"),
            },
            (None, None) => return Outcome::Skipped("no_transport_header"),
            _ => return Outcome::Unparsable("bad_icmp"),
        },
        _ => (0, 0),
    };
    let ts = match h.stamp.resolve(tz, reference) {
        Ok(ts) => ts,
        Err(e) => return Outcome::Unparsable(e.bucket()),
    };
    let said = decision(prefix);
    let action = match said {
        Said::Dropped | Said::Rejected => Action::Denied,
        Said::Allowed => Action::Allowed,
        Said::Nothing => Action::Logged,
    };
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    // The IP length, headers included: wire bytes of the one packet, not payload.
    r.bytes = f.get("LEN").and_then(|v| v.parse().ok());
    r.bytes_total = true;
    r.packets = Some(1);
    r.rule = (!prefix.is_empty()).then(|| prefix.chars().take(PREFIX_KEPT).collect());
    if transport == 6 {
        let syn_only = f.has("SYN") && !f.has("ACK");
        r.tcp_opened = syn_only;
        r.end = match said {
            Said::Dropped if syn_only => Some(TcpEnd::Unanswered),
            Said::Rejected if syn_only => Some(TcpEnd::Refused),
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
            1,
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
    fn tcp_syn_dropped() {
        let r = used("Dec  5 10:12:01 edge-fw kernel: [12345.678901] EDGE-DROP IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.7 DST=198.51.100.10 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=54321 DF PROTO=TCP SPT=51514 DPT=5061 WINDOW=64240 RES=0x00 SYN URGP=0");
        assert_eq!(r.action, Action::Denied);
        assert_eq!(r.transport, 6);
        assert_eq!(r.src, (ip("203.0.113.7"), 51514));
        assert_eq!(r.dst, (ip("198.51.100.10"), 5061));
        assert_eq!((r.bytes, r.packets), (Some(60), Some(1)));
        assert_eq!(r.rule.as_deref(), Some("EDGE-DROP"));
        assert!(r.tcp_opened);
        assert_eq!(r.end, Some(TcpEnd::Unanswered));
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "10:12:01", 0).ok());
    }

    #[test]
    fn prefixes_decide() {
        let l = |p: &str| {
            format!("{p}IN=eth0 OUT= SRC=203.0.113.7 DST=198.51.100.10 LEN=60 PROTO=TCP SPT=1 DPT=5061 SYN URGP=0")
        };
        let a = |p: &str| (used(&l(p)).action, used(&l(p)).end);
        assert_eq!(
            a("[UFW BLOCK] "),
            (Action::Denied, Some(TcpEnd::Unanswered))
        );
        assert_eq!(a("FINAL_REJECT: "), (Action::Denied, Some(TcpEnd::Refused)));
        assert_eq!(a("nft-accept: "), (Action::Allowed, None));
        assert_eq!(a("[UFW AUDIT] "), (Action::Logged, None));
        assert_eq!(a(""), (Action::Logged, None));
        assert_eq!(a("ACCEPT-OR-DROP "), (Action::Logged, None));
        // A prefix glued to IN=.
        assert_eq!(a("edge-drop"), (Action::Denied, Some(TcpEnd::Unanswered)));
        // DROPS is not DROP; UNBLOCKED is not BLOCKED.
        assert_eq!(a("DROPS UNBLOCKED "), (Action::Logged, None));
        // An ACK is not an attempt: denied, but no outcome.
        let r = used("EDGE-DROP IN=eth0 OUT= SRC=203.0.113.7 DST=198.51.100.10 LEN=52 PROTO=TCP SPT=1 DPT=5061 ACK URGP=0");
        assert!(!r.tcp_opened);
        assert_eq!(r.end, None);
    }

    #[test]
    fn udp_icmp_and_ipv6() {
        let r = used("2026-12-05T10:12:01.123456+01:00 edge-fw kernel: EDGE-ACCEPT IN=eth0 OUT=eth1 SRC=203.0.113.44 DST=10.45.16.30 LEN=128 TOS=0x00 PREC=0x00 TTL=60 ID=1 PROTO=UDP SPT=50060 DPT=3478 LEN=108");
        assert_eq!((r.action, r.transport), (Action::Allowed, 17));
        assert_eq!(r.dst, (ip("10.45.16.30"), 3478));
        // The first LEN is the IP length, not UDP's.
        assert_eq!(r.bytes, Some(128));
        assert_eq!(
            r.ts_ns,
            time::date_clock("2026-12-05", "09:12:01.123456", 0).ok()
        );
        // An ICMP error: its own type and code, not the quoted packet's fields.
        let r = used("[ 99.000001] EDGE-DROP IN=eth0 OUT= SRC=192.0.2.1 DST=10.45.16.10 LEN=88 PROTO=ICMP TYPE=3 CODE=3 [SRC=10.45.16.10 DST=198.51.100.10 LEN=60 PROTO=UDP SPT=5000 DPT=5001 LEN=40 ] ");
        assert_eq!((r.transport, r.src.1, r.dst.1), (1, 3, 3));
        assert_eq!(r.dst.0, ip("10.45.16.10"));
        assert_eq!(r.ts_ns, None);
        let r = used("Dec  5 10:12:01 edge-fw kernel: EDGE-DROP IN=eth0 OUT= MAC= SRC=2001:db8::1 DST=2001:db8:1::10 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=12345 PROTO=TCP SPT=51514 DPT=5061 WINDOW=64800 RES=0x00 SYN URGP=0");
        assert_eq!(r.src, (ip("2001:db8::1"), 51514));
        assert_eq!(r.dst, (ip("2001:db8:1::10"), 5061));
        let r = used("EDGE-DROP IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=104 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=1 SEQ=1");
        assert_eq!((r.transport, r.src.1), (58, 128));
    }

    #[test]
    fn other_lines_are_counted() {
        let p = |l: &str| parse(1, l, 0, None);
        assert_eq!(
            p("Dec  5 10:12:01 fw kernel: usb 1-1: new high-speed USB device"),
            Outcome::Skipped("not_netfilter")
        );
        assert_eq!(
            p("X IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1"),
            Outcome::Skipped("not_ip")
        );
        assert_eq!(
            p("X IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=1500 MF FRAG:185 PROTO=TCP"),
            Outcome::Skipped("no_transport_header")
        );
        assert_eq!(
            p("X IN=eth0 OUT= SRC=10.0.0.999 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=2"),
            Outcome::Unparsable("bad_address")
        );
        assert_eq!(
            p("X IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=70000"),
            Outcome::Unparsable("bad_port")
        );
        assert_eq!(
            p("X IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=SCTPX"),
            Outcome::Unparsable("bad_protocol")
        );
        assert_eq!(
            p("X IN=eth0 OUT= TRUNCATED"),
            Outcome::Unparsable("no_address")
        );
        assert_eq!(
            p("Dec 32 10:12:01 fw kernel: X IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=UDP SPT=1 DPT=2"),
            Outcome::Unparsable("bad_timestamp")
        );
    }
}
