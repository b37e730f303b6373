//! Fortinet FortiGate traffic log: `key=value` pairs, values optionally double-quoted (FortiOS
//! log reference; research/ecosystem.md 2.1(e)). The key set varies by FortiOS version, so the
//! line is tokenized generically and the keys below looked up.
//!
//! `action=deny` (and `ip-conn`, `blocked`) is denied; `accept`, `close`, `timeout`,
//! `server-rst`, `client-rst` are sessions the policy allowed. `eventtime` (UTC epoch, in s, ms,
//! us or ns by FortiOS version) is preferred over `date`/`time` (device local time).
//!
//! How a TCP session ended is the action ([`ACTIONS`]; `status` in older FortiOS) with the
//! packets received from the server (`rcvdpkt`).

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, time, Action, Outcome, Record};

/// What an action says of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    Denied,
    /// Allowed, with no word on how it ended (`accept`, `start`).
    Allowed,
    Closed,
    ClientReset,
    /// A reset from the server: a refusal when the reset is all it sent.
    ServerReset,
    /// Timed out: unanswered when the server sent nothing.
    Timeout,
}

/// FortiGate actions (and older `status` values). Others (dns, tunnel-stats...) are not traffic
/// decisions and are skipped.
const ACTIONS: &[(&str, Said)] = &[
    ("deny", Said::Denied),
    ("ip-conn", Said::Denied),
    ("blocked", Said::Denied),
    ("accept", Said::Allowed),
    ("start", Said::Allowed),
    ("close", Said::Closed),
    ("client-rst", Said::ClientReset),
    ("server-rst", Said::ServerReset),
    ("timeout", Said::Timeout),
];

/// How a TCP session ended, from what its action said and the packets the server sent.
fn tcp_end(said: Said, rcvd: Option<u64>) -> Option<TcpEnd> {
    Some(match said {
        Said::Denied => TcpEnd::Unanswered,
        Said::Allowed => return None,
        Said::Closed => TcpEnd::Completed,
        Said::ClientReset => TcpEnd::Reset {
            by_src: true,
            established: true,
        },
        Said::ServerReset => TcpEnd::Reset {
            by_src: false,
            established: rcvd? > 1,
        },
        Said::Timeout if rcvd? == 0 => TcpEnd::Unanswered,
        Said::Timeout => TcpEnd::Established,
    })
}

/// Splits `k=v k="quoted v"` into pairs.
pub fn pairs(line: &str) -> Result<Vec<(&str, &str)>, &'static str> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            // A word without `=` (a syslog header before the pairs): ignored.
            continue;
        }
        let key = &line[ks..i];
        i += 1;
        let val = if i < b.len() && b[i] == b'"' {
            i += 1;
            let vs = i;
            while i < b.len() && b[i] != b'"' {
                i += 1;
            }
            if i >= b.len() {
                return Err("unterminated_quote");
            }
            let v = &line[vs..i];
            i += 1;
            v
        } else {
            let vs = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            &line[vs..i]
        };
        out.push((key, val));
    }
    Ok(out)
}

/// `eventtime` in the unit its digit count implies; `None` (the date and time fields are used
/// instead) when negative or beyond 64-bit nanoseconds.
fn eventtime(s: &str) -> Option<i64> {
    let n: i64 = s.parse().ok().filter(|n| *n >= 0)?;
    Some(match s.len() {
        0..=10 => n.checked_mul(1_000_000_000)?,
        11..=13 => n.checked_mul(1_000_000)?,
        14..=16 => n.checked_mul(1_000)?,
        _ => n,
    })
}

pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>) -> Outcome {
    let tz: Tz = tz.into();
    let kv = match pairs(line) {
        Ok(kv) => kv,
        Err(e) => return Outcome::Unparsable(e),
    };
    let get = |k: &str| kv.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
    match get("type") {
        Some("traffic") => {}
        Some(_) => return Outcome::Skipped("other_log_type"),
        None => return Outcome::Unparsable("no_type"),
    }
    let said = match get("action").or_else(|| get("status")) {
        Some(a) => match ACTIONS.iter().find(|(k, _)| *k == a) {
            Some((_, said)) => *said,
            None => return Outcome::Skipped("other_action"),
        },
        None => return Outcome::Unparsable("no_action"),
    };
    let action = if said == Said::Denied {
        Action::Denied
    } else {
        Action::Allowed
    };
    let Some(proto) = get("proto").and_then(protocol_number) else {
        return Outcome::Unparsable("bad_protocol");
    };
    let (Some(src), Some(dst)) = (
        get("srcip").and_then(|s| s.parse::<IpAddr>().ok()),
        get("dstip").and_then(|s| s.parse::<IpAddr>().ok()),
    ) else {
        return Outcome::Unparsable("bad_address");
    };
    let ports = matches!(proto, 6 | 17 | 132);
    let (sp, dp) = match (get("srcport").map(port), get("dstport").map(port)) {
        (Some(Some(a)), Some(Some(b))) => (a, b),
        (None, None) if !ports => (0, 0),
        _ => return Outcome::Unparsable("bad_port"),
    };
    let ts = match get("eventtime").and_then(eventtime) {
        Some(t) => Some(t),
        None => match (get("date"), get("time")) {
            (Some(d), Some(t)) => match time::date_clock(d, t, tz) {
                Ok(ns) => Some(ns),
                Err(e) => return Outcome::Unparsable(e.bucket()),
            },
            _ => None,
        },
    };
    let mut r = Record::new(line_no, action, proto, (src, sp), (dst, dp));
    r.ts_ns = ts;
    let n = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
    r.bytes = n("sentbyte");
    r.resp_bytes = n("rcvdbyte");
    r.packets = n("sentpkt");
    r.resp_packets = n("rcvdpkt");
    r.duration_ns = match n("duration") {
        Some(s) => match time::secs_to_ns(s) {
            Some(ns) => Some(ns),
            None => return Outcome::Unparsable("bad_duration"),
        },
        None => None,
    };
    r.session = n("sessionid");
    r.rule = get("policyname")
        .map(Into::into)
        .or_else(|| get("policyid").map(|p| compact_str::format_compact!("policy {p}")));
    r.tcp_opened = proto == 6 && action == Action::Allowed;
    if proto == 6 {
        r.end = tcp_end(said, r.resp_packets);
    }
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_in_sample() {
        let l = r#"date=2019-05-10 time=11:50:48 logid="0001000014" type="traffic" subtype="local" level="notice" vd="vdom1" eventtime=1557514248379911176 srcip=172.16.200.254 srcport=62024 srcintf="port11" srcintfrole="undefined" dstip=172.16.200.2 dstport=443 dstintf="vdom1" dstintfrole="undefined" sessionid=107478 proto=6 action="server-rst" policyid=0 policytype="local-in-policy" service="HTTPS" dstcountry="Reserved" srccountry="Reserved" trandisp="noop" app="Web Management(HTTPS)" duration=5 sentbyte=1247 rcvdbyte=1719 sentpkt=5 rcvdpkt=6 appcat="unscanned""#;
        let Outcome::Used(r) = parse(1, l, 0) else {
            panic!()
        };
        assert_eq!(r.action, Action::Allowed);
        assert_eq!(r.ts_ns, Some(1_557_514_248_379_911_176));
        assert_eq!(r.src, ("172.16.200.254".parse().expect("ip"), 62024));
        assert_eq!(r.dst, ("172.16.200.2".parse().expect("ip"), 443));
        assert_eq!(
            (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
            (Some(1247), Some(1719), Some(5), Some(6))
        );
        assert_eq!(r.rule.as_deref(), Some("policy 0"));
    }
}
