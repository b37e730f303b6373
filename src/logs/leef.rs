//! IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0: one event a line, behind a syslog
//! header or none ([`super::syslog`]).
//!
//! Layout (IBM, "Log Event Extended Format (LEEF)"): `LEEF:1.0|Vendor|Product|Version|EventID|`
//! then `key=value` attributes separated by tabs; LEEF 2.0 adds a field after the event id that
//! names the separator, one character (`^`, a space) or its code in hex (`x5E`, `0x5E`), the
//! tab when empty. A separator rsyslog wrote as `#011` (its escape of a tab) is read as the tab.
//! An attribute without `=` continues the value before it (a value holding the separator, as
//! space-separated 2.0 lines have).
//!
//! Keys read (any case): `src`, `dst`, `srcPort`, `dstPort`, `proto` (a name or a number),
//! `action` (or `act`), `devTime` with `devTimeFormat` (a Java date pattern; without one, epoch
//! milliseconds, `MMM dd yyyy HH:mm:ss` or ISO 8601), `srcBytes` and `srcPackets` (from the
//! source, the originator), `dstBytes` and `dstPackets` (from the destination, the
//! responder), the rule from `policy`, `rule`, `ruleName` or `policyName`, a session id from
//! `SessionID` (PAN-OS), a duration in seconds from `SessionDuration` or `duration`. Check
//! Point's exporter and others use their own names, read where LEEF's are missing: `s_port`
//! or `spt` (the source port), `service` (when a number) or `dpt` (the destination port),
//! `rule_name` (the rule), `elapsed` (seconds). NAT fields (`srcPostNAT`...) are not read.
//!
//! Decision: the action, by the word lists CEF's is read with ([`super::cef`]): accept,
//! allow, permit, pass... allowed; deny, drop, block... denied; reject and resets to the
//! client denied with an answer; anything else, or no action, tells no decision
//! ([`Action::Logged`]). A denied TCP line is an attempt left unanswered (S0), a rejected one
//! refused (REJ); an allowed line tells no outcome. The replies are `dstBytes`/`dstPackets`.
//!
//! Times: `devTime` as its format says; a time without a zone is the device's local time
//! (`--tz-offset`), one without a year in the year that puts it at or before the file's last
//! write; without `devTime`, the syslog header's.
//!
//! A line without both addresses is skipped as `not_traffic`, as is one without a protocol and
//! a destination port.

use std::net::IpAddr;

use super::cef::{action_of, decision, denied_end, Said};
use super::time::Tz;
use super::{port, protocol_number, syslog, time, Action, Outcome, Record};

/// Characters of a rule name kept as the flow's rule.
const RULE_KEPT: usize = 80;

/// Where `LEEF:` starts: at the start of the text or after a space or a syslog priority's `>`,
/// followed by a version and a `|`.
fn locate(line: &str) -> Option<usize> {
    line.match_indices("LEEF:").map(|(i, _)| i).find(|&i| {
        let before = i
            .checked_sub(1)
            .and_then(|j| line.as_bytes().get(j))
            .copied();
        let ok_before = matches!(before, None | Some(b' ' | b'\t' | b'>'));
        let rest = line.get(i + 5..).unwrap_or("").trim_start_matches(' ');
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        ok_before && digits > 0 && rest.as_bytes().get(digits) == Some(&b'|')
    })
}

/// Whether a line is a LEEF event (for detection).
pub fn is_line(l: &str) -> bool {
    locate(l).is_some()
}

/// A separator as LEEF 2.0 names it: one character, or `xHH` / `0xHH`.
fn separator(field: &str) -> Option<char> {
    let mut chars = field.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(c);
    }
    let hex = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
        .or_else(|| field.strip_prefix('x'))
        .or_else(|| field.strip_prefix('X'))?;
    if hex.is_empty() || hex.len() > 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok().map(char::from)
}

/// The header's fields (version, vendor, product, version, event id) and the attributes with
/// their separator. `None` when the header is cut short.
pub fn header(leef: &str) -> Option<([&str; 5], &str, char)> {
    let mut fields = [""; 5];
    let mut rest = leef;
    for f in &mut fields {
        let (a, b) = rest.split_once('|')?;
        *f = a;
        rest = b;
    }
    let two = fields[0]
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 2);
    if two {
        if let Some((d, attrs)) = rest.split_once('|') {
            if d.is_empty() {
                return Some((fields, attrs, '\t'));
            }
            if let Some(c) = separator(d) {
                return Some((fields, attrs, c));
            }
        }
    }
    Some((fields, rest, '\t'))
}

/// The attributes' `key=value` pairs in order. A piece without `=` continues the value before
/// it; `Err` when the first piece has none.
pub fn attributes(attrs: &str, sep: char) -> Result<Vec<(&str, String)>, &'static str> {
    let attrs = attrs.trim_end_matches(['\r', '\n']);
    let pieces: Vec<&str> = if sep == '\t' && !attrs.contains('\t') && attrs.contains("#011") {
        attrs.split("#011").collect()
    } else {
        attrs.split(sep).collect()
    };
    let mut out: Vec<(&str, String)> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains(' ') => out.push((k, v.to_string())),
            _ if p.trim().is_empty() && sep != ' ' => {}
            _ => match out.last_mut() {
                Some((_, v)) => {
                    v.push(sep);
                    v.push_str(p);
                }
                None if p.trim().is_empty() => {}
                None => return Err("bad_attributes"),
            },
        }
    }
    Ok(out)
}

/// The attributes, looked up by key in any case (the first of a key wins).
struct Attrs<'a> {
    kv: Vec<(&'a str, String)>,
}

impl Attrs<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.kv
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.get(k))
    }

    fn number(&self, keys: &[&str]) -> Option<u64> {
        self.any(keys).and_then(|v| v.parse().ok())
    }
}

/// One line. `reference`: when the log was last written, for the year of a time without one.
pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let Some(at) = locate(line) else {
        return Outcome::Skipped("not_leef");
    };
    let leef = line.get(at + 5..).unwrap_or("").trim_start_matches(' ');
    let Some((_, attrs, sep)) = header(leef) else {
        return Outcome::Unparsable("short_header");
    };
    let a = match attributes(attrs, sep) {
        Ok(kv) => Attrs { kv },
        Err(why) => return Outcome::Unparsable(why),
    };
    let addr = |k: &str| a.get(k).map(|v| v.parse::<IpAddr>());
    let (src, dst) = match (addr("src"), addr("dst")) {
        (Some(Ok(s)), Some(Ok(d))) => (s, d),
        (Some(_), Some(_)) => return Outcome::Unparsable("bad_address"),
        _ => return Outcome::Skipped("not_traffic"),
    };
    let dpt = a.any(&["dstPort", "dpt"]).or_else(|| {
        a.get("service")
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    });
    let transport = match a.get("proto") {
        Some(p) => match protocol_number(p) {
            Some(n) => n,
            None => return Outcome::Unparsable("bad_protocol"),
        },
        None if dpt.is_none() => return Outcome::Skipped("not_traffic"),
        None => return Outcome::Skipped("no_protocol"),
    };
    let spt = a.any(&["srcPort", "spt", "s_port"]);
    let (sp, dp) = match (transport, spt, dpt) {
        (6 | 17 | 132, Some(x), Some(y)) => match (port(x), port(y)) {
            (Some(x), Some(y)) => (x, y),
            _ => return Outcome::Unparsable("bad_port"),
        },
        (6 | 17 | 132, ..) => return Outcome::Unparsable("no_port"),
        _ => (0, 0),
    };
    let ts = match a.get("devTime") {
        Some(v) => {
            let read = match a.get("devTimeFormat") {
                Some(f) => match time::java_date(v, f) {
                    Some(w) => w.resolve(tz, reference),
                    None => Err(time::TimeError::Malformed),
                },
                None => time::device_time(v, tz, reference),
            };
            match read {
                Ok(t) => t,
                Err(e) => return Outcome::Unparsable(e.bucket()),
            }
        }
        None => match syslog::split(line).stamp.resolve(tz, reference) {
            Ok(t) => t,
            Err(e) => return Outcome::Unparsable(e.bucket()),
        },
    };
    let said = a.any(&["action", "act"]).map_or(Said::Nothing, decision);
    let action = action_of(said);
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    r.bytes = a.number(&["srcBytes"]);
    r.packets = a.number(&["srcPackets"]);
    r.resp_bytes = a.number(&["dstBytes"]);
    r.resp_packets = a.number(&["dstPackets"]);
    r.duration_ns = match a.number(&["SessionDuration", "duration", "elapsed"]) {
        Some(s) => match time::secs_to_ns(s) {
            Some(d) => Some(d),
            None => return Outcome::Unparsable("bad_duration"),
        },
        None => None,
    };
    r.rule = a
        .any(&["policy", "rule", "ruleName", "policyName", "rule_name"])
        .map(|v| v.chars().take(RULE_KEPT).collect());
    // A denied connection has no session: its lines join on the tuple, as retries do.
    if action != Action::Denied {
        r.session = a.number(&["SessionID", "sessionId", "session_id"]);
    }
    if transport == 6 {
        r.tcp_opened = action != Action::Logged;
        r.end = denied_end(said);
    }
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::state::TcpEnd;

    fn used(line: &str) -> Record {
        match parse(
            2,
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
    fn headers_and_separators() {
        let (f, attrs, sep) =
            header("1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.1\tdst=172.50.123.1")
                .expect("1.0");
        assert_eq!((f[1], f[4], sep), ("Microsoft", "15345", '\t'));
        assert_eq!(attrs, "src=192.0.2.1\tdst=172.50.123.1");
        let (_, attrs, sep) =
            header("2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5").expect("2.0");
        assert_eq!((attrs, sep), ("src=10.0.1.8^dst=10.0.0.5", '^'));
        for d in ["x5E", "0x5E", "0x5e"] {
            let (_, _, sep) = header(&format!("2.0|V|P|1|41|{d}|src=1")).expect("hex");
            assert_eq!(sep, '^', "{d}");
        }
        let (_, _, sep) = header("2.0|V|P|1|41||src=1").expect("empty");
        assert_eq!(sep, '\t');
        // No separator field: the attributes follow, tab-separated.
        let (_, attrs, sep) = header("2.0|V|P|1|41|src=1\tdst=2").expect("none");
        assert_eq!((attrs, sep), ("src=1\tdst=2", '\t'));
        assert!(header("1.0|V|P|1").is_none());
        assert_eq!(separator("0x"), None);
        assert_eq!(separator("x123"), None);
    }

    #[test]
    fn attributes_split() {
        let kv = attributes("src=1.2.3.4#011dst=5.6.7.8#011url=http://x/?a=b", '\t').expect("#011");
        assert_eq!(kv[2], ("url", "http://x/?a=b".to_string()));
        let kv = attributes("cat=traffic Location=United States Rule=deny", ' ').expect("spaces");
        assert_eq!(kv[1], ("Location", "United States".to_string()));
        assert_eq!(kv[2], ("Rule", "deny".to_string()));
        assert_eq!(attributes("junk\tsrc=1", '\t'), Err("bad_attributes"));
        assert_eq!(attributes("", '\t').map(|v| v.len()), Ok(0));
    }

    /// IBM's LEEF 2.0 example (a StealthWatch event, `^`-separated), given an action and a
    /// protocol.
    #[test]
    fn leef2_caret() {
        let r = used("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21^proto=TCP^action=block^devTime=Dec 05 2026 10:12:01");
        assert_eq!(r.line, 2);
        assert_eq!((r.action, r.transport), (Action::Denied, 6));
        assert_eq!(r.src, (ip("10.0.1.8"), 81));
        assert_eq!(r.dst, (ip("10.0.0.5"), 21));
        assert_eq!(r.end, Some(TcpEnd::Unanswered));
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "10:12:01", 0).ok());
    }

    /// The Strata Logging Service's LEEF traffic example (PAN-OS, space-separated), cut to
    /// the fields read, its masked addresses replaced by documentation ones and an `action`
    /// added (the example carries its action only in the event id, `drop-reset`).
    #[test]
    fn panos_space_separated() {
        let r = used("<14>1 2021-09-21T01:47:21.059Z stream-logfwd20 logforwarder - panwlogs - LEEF:2.0|Palo Alto Networks|Next Generation Firewall|10.1|drop-reset| |TimeReceived=2021-09-21T01:47:20.000000Z cat=traffic SubType=end devTime=2021-09-21T01:47:18.000000Z src=198.51.100.20 dst=10.45.16.10 Rule=deny-attackers SessionID=378400 srcPort=30217 dstPort=19224 proto=tcp srcBytes=1011460 dstBytes=651331 SessionDuration=21 SourceLocation=CN srcPackets=773 dstPackets=523 action=allow");
        assert_eq!((r.action, r.transport), (Action::Allowed, 6));
        assert_eq!(r.src, (ip("198.51.100.20"), 30217));
        assert_eq!(
            (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
            (Some(1_011_460), Some(651_331), Some(773), Some(523))
        );
        assert_eq!(r.rule.as_deref(), Some("deny-attackers"));
        assert_eq!(r.session, Some(378_400));
        assert_eq!(r.duration_ns, Some(21_000_000_000));
        assert_eq!(r.ts_ns, time::date_clock("2021-09-21", "01:47:18", 0).ok());
        assert!(r.tcp_opened);
        assert_eq!(r.end, None);
    }

    #[test]
    fn times_and_undecided() {
        let r = used("Dec  5 10:12:01 fw LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=17\tsrcPort=1\tdstPort=3478\tdevTime=05/12/2026 11:12:01 +0100\tdevTimeFormat=dd/MM/yyyy HH:mm:ss Z");
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "10:12:01", 0).ok());
        assert_eq!(r.action, Action::Logged);
        // Epoch milliseconds.
        let r = used("LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=6\tsrcPort=1\tdstPort=5061\tdevTime=1764929521000\taction=REJECT");
        assert_eq!(r.ts_ns, Some(1_764_929_521_000_000_000));
        assert_eq!(r.end, Some(TcpEnd::Refused));
        // No devTime: the syslog header's, in the reference's year.
        let r = used("Dec  5 10:12:01 fw LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=6\tsrcPort=1\tdstPort=5061");
        assert_eq!(r.ts_ns, time::date_clock("2026-12-05", "10:12:01", 0).ok());
    }

    #[test]
    fn other_lines_are_counted() {
        let p = |l: &str| parse(1, l, 0, None);
        assert_eq!(
            p("Dec  5 10:12:01 fw sshd[1]: hi"),
            Outcome::Skipped("not_leef")
        );
        assert_eq!(p("LEEF:1.0|V|P|1"), Outcome::Unparsable("short_header"));
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|junk\tsrc=1.2.3.4"),
            Outcome::Unparsable("bad_attributes")
        );
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|usrName=joe"),
            Outcome::Skipped("not_traffic")
        );
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.x\tproto=6\tsrcPort=1\tdstPort=2"),
            Outcome::Unparsable("bad_address")
        );
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=6\tsrcPort=1\tdstPort=99999"),
            Outcome::Unparsable("bad_port")
        );
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=6\tsrcPort=1\tdstPort=2\tdevTime=05/12/2026\tdevTimeFormat=yyyy-MM-dd"),
            Outcome::Unparsable("bad_timestamp")
        );
        assert_eq!(
            p("LEEF:1.0|V|P|1|1|src=1.2.3.4\tdst=5.6.7.8\tproto=6\tsrcPort=1\tdstPort=2\tSessionDuration=99999999999999"),
            Outcome::Unparsable("bad_duration")
        );
        assert!(is_line("<13>Dec  5 10:12:01 fw LEEF:2.0|V|P|1|1|^|src=1"));
        assert!(!is_line("xLEEF:1.0|V|"));
    }
}
