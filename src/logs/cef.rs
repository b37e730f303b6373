//! ArcSight Common Event Format (CEF): one event a line, as firewalls, SIEM forwarders and Check
//! Point's Log Exporter write it, behind a syslog header or none ([`super::syslog`]).
//!
//! Layout (Micro Focus / OpenText, "Implementing ArcSight Common Event Format", CEF 0 and 1):
//! `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
//! In the seven header fields `\|` and `\\` are escaped; the extension is `key=value` pairs
//! separated by spaces, a value running to the space before the next `key=` (values hold
//! spaces), with `\=`, `\\`, `\n` and `\r` escaped. Fortinet writes `CEF: 0` with a space.
//!
//! Keys read: `src`, `dst` (or, without them, `c6a2` and `c6a3`, which CEF's dictionary labels
//! "Source IPv6 Address" and "Destination IPv6 Address", as PAN-OS and Check Point fill them),
//! `spt`, `dpt`, `proto` (a name or a number), `act`, `rt`, `start`, `end`, `out`, `in`, `cnt`,
//! the rule from a `cs1`..`cs6` whose `csNLabel` names a rule or policy (`Rule`, `Rule Name`,
//! `Policy Id`...), a session id from a `cnN` labelled `SessionID`, a duration from a `cnN`
//! whose label says `Duration` (seconds). Check Point's exporter adds its own names, read where
//! CEF's are missing: `s_port` (`spt`), `service` (`dpt`, when a number), `rule_name`,
//! `rule_uid` and `layer_name` (the rule). `deviceDirection` (inbound or outbound at the
//! device) does not change which side is the source; translated addresses and ports
//! (`sourceTranslatedAddress`...) are not read.
//!
//! Bytes: CEF's dictionary defines `in` as bytes "inbound relative to the source to destination
//! relationship, meaning that data was flowing from source to destination", and `out` as the
//! bytes "flowing from the destination to the source". The firewalls that write CEF count the
//! other way round, from the originator's side: Fortinet's own CEF sample carries `sentbyte`
//! as `out` and `rcvdbyte` as `in`, and PAN-OS's log forwarder writes a dropped session's bytes
//! as `out=1292 in=0`. `out` is read as the originator's bytes and `in` as the responder's.
//! Read the other way, a line would only ever show a silent responder as answering: a swap
//! can hide an unanswered datagram, never invent one.
//!
//! Decision: `act`, in any case: accept, allow, permit, pass (and their past forms), FortiGate's
//! session words close, start, timeout, client-rst, server-rst, Check Point's encrypt and
//! decrypt (a connection let into or out of a VPN tunnel) are allowed ([`decision`]); deny,
//! drop, block, discard are denied; reject and the resets sent to the client (reset-client,
//! reset-both) are denied with an answer. Any other word (alert, detect, sinkhole, bypass...),
//! or none, tells no decision: [`Action::Logged`], and FW1/FW2 are listed as skipped.
//!
//! How a TCP connection went: CEF defines no TCP flags nor end reason. A session firewall logs
//! a denied connection by its first packet, so a denied TCP line is an attempt left unanswered
//! (S0) and a rejected one refused (REJ), as in the other firewall formats; an allowed line
//! tells no outcome. The responder's replies are `in` (see above). A line standing for several
//! events (`cnt`) counts that many denied packets.
//!
//! Times: `start` (else `rt`, else `end`) in epoch milliseconds, or `MMM dd [yyyy] HH:mm:ss[.SSS]
//! [zone]`, or ISO 8601 ([`time::device_time`]); a date without a zone is the device's local
//! time (`--tz-offset`, or a `dtz` that is UTC or an offset), one without a year is in the year
//! that puts it at or before the file's last write. A line without any of these takes the
//! syslog header's time. `end` minus `start` is the duration.
//!
//! What is not traffic: a line without both addresses (a login, a system event) is skipped as
//! `not_traffic`, and so is one without a protocol and a destination port.

use std::borrow::Cow;
use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, syslog, time, Action, Outcome, Record};

/// Characters of a rule name kept as the flow's rule.
const RULE_KEPT: usize = 80;

/// What an action word says the firewall did; shared with LEEF ([`super::leef`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Said {
    Allowed,
    Dropped,
    /// Denied with an answer to the client (a reset, an ICMP error).
    Rejected,
    /// No word of a decision.
    Nothing,
}

/// Action words that say the connection was let through: the plain words, FortiGate's session
/// words (a session its policy allowed, by how it ended) and Check Point's VPN actions.
const ALLOW_WORDS: [&str; 17] = [
    "accept",
    "accepted",
    "allow",
    "allowed",
    "permit",
    "permitted",
    "pass",
    "passed",
    "close",
    "start",
    "timeout",
    "client-rst",
    "server-rst",
    "encrypt",
    "decrypt",
    "success",
    "ok",
];
/// Action words that say it was denied without an answer.
const DROP_WORDS: [&str; 11] = [
    "deny",
    "denied",
    "drop",
    "dropped",
    "block",
    "blocked",
    "discard",
    "discarded",
    "reset-server",
    "ip-conn",
    "failure",
];
/// Action words that say it was denied with an answer to the client.
const REJECT_WORDS: [&str; 5] = [
    "reject",
    "rejected",
    "reset-client",
    "reset-both",
    "drop-icmp",
];

/// The decision an action word names (whole word, any case); the word lists are above.
pub(crate) fn decision(word: &str) -> Said {
    let w = word.trim();
    let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(w));
    if is(&ALLOW_WORDS) {
        Said::Allowed
    } else if is(&DROP_WORDS) {
        Said::Dropped
    } else if is(&REJECT_WORDS) {
        Said::Rejected
    } else {
        Said::Nothing
    }
}

/// The action and, for TCP, how the attempt ended, from what the line said: a denied attempt
/// unanswered, a rejected one refused.
pub(crate) fn action_of(said: Said) -> Action {
    match said {
        Said::Allowed => Action::Allowed,
        Said::Dropped | Said::Rejected => Action::Denied,
        Said::Nothing => Action::Logged,
    }
}

/// How a TCP attempt ended by the decision alone (a denied first packet); `None` when the line
/// does not say.
pub(crate) fn denied_end(said: Said) -> Option<TcpEnd> {
    match said {
        Said::Dropped => Some(TcpEnd::Unanswered),
        Said::Rejected => Some(TcpEnd::Refused),
        _ => None,
    }
}

/// Where `CEF:` starts: at the start of the text or after a space or a syslog priority's `>`,
/// followed by a version (digits) and a `|`.
fn locate(line: &str) -> Option<usize> {
    line.match_indices("CEF:").map(|(i, _)| i).find(|&i| {
        let before = i
            .checked_sub(1)
            .and_then(|j| line.as_bytes().get(j))
            .copied();
        let ok_before = matches!(before, None | Some(b' ' | b'\t' | b'>'));
        let rest = line.get(i + 4..).unwrap_or("").trim_start_matches(' ');
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        ok_before && digits > 0 && rest.as_bytes().get(digits) == Some(&b'|')
    })
}

/// Whether a line is a CEF event (for detection).
pub fn is_line(l: &str) -> bool {
    locate(l).is_some()
}

/// A CEF header field without its escapes (`\|`, `\\`).
fn unescape_header(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('|' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CEF extension value without its escapes: `\=`, `\\`, `\|`, `\n` (a new line), `\r`;
/// another backslash stays as written.
fn unescape_value(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(n @ ('=' | '\\' | '|')) => out.push(n),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// The header's seven fields and the extension: split at the first seven `|` that no
/// backslash escapes. `None` when there are fewer.
pub fn header(cef: &str) -> Option<([Cow<'_, str>; 7], &str)> {
    let b = cef.as_bytes();
    let mut cuts = [0usize; 7];
    let mut n = 0usize;
    let mut i = 0usize;
    while n < 7 {
        match b.get(i)? {
            b'\\' => i += 2,
            b'|' => {
                cuts[n] = i;
                n += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    let field = |k: usize| -> Option<Cow<'_, str>> {
        let start = if k == 0 { 0 } else { cuts[k - 1] + 1 };
        Some(unescape_header(cef.get(start..cuts[k])?))
    };
    let fields = [
        field(0)?,
        field(1)?,
        field(2)?,
        field(3)?,
        field(4)?,
        field(5)?,
        field(6)?,
    ];
    Some((fields, cef.get(cuts[6] + 1..)?))
}

/// Characters of an extension key (CEF's own are letters and digits; vendors add `_`, `.`, `-`).
fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The extension's `key=value` pairs in order, values without their escapes. A value runs to
/// the space before the next `key=`; an `=` not preceded by a key that follows a space (an
/// unescaped `=` inside a URL) stays in its value. `Err` when text comes before the first key.
pub fn extension(ext: &str) -> Result<Vec<(&str, Cow<'_, str>)>, &'static str> {
    let s = ext.trim_start();
    let b = s.as_bytes();
    // (key start, the `=`) of each pair.
    let mut keys: Vec<(usize, usize)> = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            i += 2;
            continue;
        }
        if c == b'=' {
            let mut k = i;
            while k > 0 && b.get(k - 1).copied().is_some_and(key_char) {
                k -= 1;
            }
            let after_space = k == 0 || b.get(k - 1) == Some(&b' ');
            if k < i && after_space {
                keys.push((k, i));
            }
        }
        i += 1;
    }
    match keys.first() {
        None if s.trim().is_empty() => return Ok(Vec::new()),
        Some((0, _)) => {}
        _ => return Err("bad_extension"),
    }
    let mut out = Vec::with_capacity(keys.len());
    for (n, &(k, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(s.len(), |&(next, _)| next);
        let key = s.get(k..eq).ok_or("bad_extension")?;
        let value = s.get(eq + 1..end).ok_or("bad_extension")?;
        out.push((key, unescape_value(value.trim_end_matches([' ', '\t']))));
    }
    Ok(out)
}

/// A custom-field label reduced to its letters and digits, lower case (`Rule Name` is
/// `rulename`).
fn label_word(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The extension, looked up by key (the first of a key wins).
struct Ext<'a> {
    kv: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Ext<'a> {
    fn get(&self, k: &str) -> Option<&str> {
        self.kv
            .iter()
            .find(|(a, _)| *a == k)
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.trim().is_empty())
    }

    /// The value of the custom field (`cs1`..`cs6`, `cn1`..`cn3`) whose label is one of
    /// `labels` (as [`label_word`] reduces them), with that label.
    fn labelled(&self, prefix: &str, count: u8, labels: &[&str]) -> Option<(String, &str)> {
        (1..=count).find_map(|n| {
            let label = self.get(&format!("{prefix}{n}Label"))?;
            let word = label_word(label);
            if !labels.iter().any(|l| word == *l) {
                return None;
            }
            Some((label.to_string(), self.get(&format!("{prefix}{n}"))?))
        })
    }
}

/// An address field: `None` when absent or empty, `Some(Err)` when not an address.
fn address(v: Option<&str>) -> Option<Result<IpAddr, ()>> {
    v.map(|s| s.trim().parse::<IpAddr>().map_err(|_| ()))
}

/// The IPv6 field `c6aN` when its label (if any) names the `side` ("source", "destination").
fn ipv6_field<'e>(e: &'e Ext<'_>, n: u8, side: &str) -> Option<&'e str> {
    let label_ok = e
        .get(&format!("c6a{n}Label"))
        .is_none_or(|l| l.to_ascii_lowercase().contains(side));
    label_ok.then(|| e.get(&format!("c6a{n}"))).flatten()
}

/// Rule labels of `csN` fields that name the rule or policy by name, and those that give a
/// number or id.
const RULE_NAMES: [&str; 6] = [
    "rule",
    "rulename",
    "policy",
    "policyname",
    "aclname",
    "accesscontrolrule",
];
const RULE_IDS: [&str; 3] = ["ruleid", "policyid", "ruleuid"];

/// The rule of the line: a named rule or policy field, else a numbered one, else Check Point's
/// `rule_name` / `rule_uid` with its `layer_name`.
fn rule(e: &Ext<'_>) -> Option<String> {
    let named = e
        .labelled("cs", 6, &RULE_NAMES)
        .map(|(_, v)| v.to_string())
        .or_else(|| {
            e.labelled("cs", 6, &RULE_IDS)
                .map(|(label, v)| format!("{label} {v}"))
        })
        .or_else(|| {
            let name = e.get("rule_name").or_else(|| e.get("rule_uid"))?;
            Some(match e.get("layer_name") {
                Some(layer) => format!("{name} (layer {layer})"),
                None => name.to_string(),
            })
        })?;
    Some(named.chars().take(RULE_KEPT).collect())
}

/// The time of the line: `start`, else `rt`, else `end` (see the module's notes), at the
/// zone the value names, else `dtz` when it is UTC or an offset, else `tz`.
fn line_time(
    e: &Ext<'_>,
    tz: Tz,
    reference: Option<i64>,
) -> Result<(Option<i64>, Option<i64>), time::TimeError> {
    let tz = e
        .get("dtz")
        .and_then(time::zone)
        .flatten()
        .map_or(tz, Tz::Fixed);
    let at = |k: &str| match e.get(k) {
        Some(v) => time::device_time(v, tz, reference),
        None => Ok(None),
    };
    let start = at("start")?;
    let end = at("end")?;
    let ts = match start {
        Some(t) => Some(t),
        None => match at("rt")? {
            Some(t) => Some(t),
            None => end,
        },
    };
    let duration = match (start, end) {
        (Some(s), Some(e)) => e.checked_sub(s).filter(|d| *d >= 0),
        _ => None,
    };
    Ok((ts, duration))
}

/// One line. `reference`: when the log was last written, for the year of a time without one.
pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let Some(at) = locate(line) else {
        return Outcome::Skipped("not_cef");
    };
    let cef = line
        .get(at + 4..)
        .unwrap_or("")
        .trim_start_matches(' ')
        .trim_end();
    // The version is digits: `locate` checked it.
    let Some((_, ext)) = header(cef) else {
        return Outcome::Unparsable("short_header");
    };
    let e = match extension(ext) {
        Ok(kv) => Ext { kv },
        Err(why) => return Outcome::Unparsable(why),
    };
    read(line_no, line, &e, tz, reference)
}

/// The record of a parsed line.
fn read(line_no: u64, line: &str, e: &Ext<'_>, tz: Tz, reference: Option<i64>) -> Outcome {
    let src = address(e.get("src").or_else(|| ipv6_field(e, 2, "source")));
    let dst = address(e.get("dst").or_else(|| ipv6_field(e, 3, "destination")));
    let (src, dst) = match (src, dst) {
        (Some(Ok(s)), Some(Ok(d))) => (s, d),
        (Some(_), Some(_)) => return Outcome::Unparsable("bad_address"),
        _ => return Outcome::Skipped("not_traffic"),
    };
    let dpt = e.get("dpt").or_else(|| {
        e.get("service")
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    });
    let transport = match e.get("proto") {
        Some(p) => match protocol_number(p.trim()) {
            Some(n) => n,
            None => return Outcome::Unparsable("bad_protocol"),
        },
        None if dpt.is_none() => return Outcome::Skipped("not_traffic"),
        None => return Outcome::Skipped("no_protocol"),
    };
    let spt = e.get("spt").or_else(|| e.get("s_port"));
    let (sp, dp) = match (transport, spt, dpt) {
        (6 | 17 | 132, Some(a), Some(b)) => match (port(a.trim()), port(b.trim())) {
            (Some(a), Some(b)) => (a, b),
            _ => return Outcome::Unparsable("bad_port"),
        },
        (6 | 17 | 132, ..) => return Outcome::Unparsable("no_port"),
        _ => (0, 0),
    };
    let (ts, duration) = match line_time(e, tz, reference) {
        Ok((Some(t), d)) => (Some(t), d),
        Ok((None, d)) => match syslog::split(line).stamp.resolve(tz, reference) {
            Ok(t) => (t, d),
            Err(err) => return Outcome::Unparsable(err.bucket()),
        },
        Err(err) => return Outcome::Unparsable(err.bucket()),
    };
    let said = e.get("act").map_or(Said::Nothing, decision);
    let action = action_of(said);
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    let n = |k: &str| e.get(k).and_then(|v| v.trim().parse::<u64>().ok());
    r.bytes = n("out");
    r.resp_bytes = n("in");
    let labelled_secs = e
        .labelled(
            "cn",
            3,
            &[
                "duration",
                "durationinseconds",
                "sessionduration",
                "elapsed",
            ],
        )
        .and_then(|(_, v)| v.trim().parse::<u64>().ok());
    r.duration_ns = match (duration, labelled_secs) {
        (Some(d), _) if d <= time::MAX_DURATION_NS => Some(d),
        (Some(_), _) => return Outcome::Unparsable("bad_duration"),
        (None, Some(s)) => match time::secs_to_ns(s) {
            Some(d) => Some(d),
            None => return Outcome::Unparsable("bad_duration"),
        },
        (None, None) => None,
    };
    if action == Action::Denied {
        r.packets = n("cnt").filter(|c| *c > 0);
    }
    r.rule = rule(e).map(Into::into);
    // A denied connection has no session: its lines join on the tuple, as retries do.
    if action != Action::Denied {
        r.session = e
            .labelled("cn", 3, &["sessionid"])
            .and_then(|(_, v)| v.trim().parse::<u64>().ok());
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

    fn used(line: &str) -> Record {
        match parse(
            3,
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
    fn header_and_escapes() {
        let (f, ext) = header(r"0|Acme\|Corp|Fire\\wall|1.0|100|Denied \| blocked|5|src=1.2.3.4")
            .expect("header");
        assert_eq!(f[1], "Acme|Corp");
        assert_eq!(f[2], r"Fire\wall");
        assert_eq!(f[5], "Denied | blocked");
        assert_eq!(f[6], "5");
        assert_eq!(ext, "src=1.2.3.4");
        // A pipe in the extension is not a header's.
        let (_, ext) = header("0|a|b|c|d|e|f|msg=x|y").expect("header");
        assert_eq!(ext, "msg=x|y");
        assert!(header("0|a|b|c|d|e").is_none());
        assert!(header(r"0|a|b|c|d|e|f\|").is_none());
    }

    #[test]
    fn extension_values_hold_spaces_and_escapes() {
        let kv = extension(
            r"cs1=Deny Quic cs1Label=Rule msg=a\=b c\\d\nnext url=http://x/?a=b&c=d duser= app=quic-base",
        )
        .expect("pairs");
        let get = |k: &str| kv.iter().find(|(a, _)| *a == k).map(|(_, v)| v.as_ref());
        assert_eq!(get("cs1"), Some("Deny Quic"));
        assert_eq!(get("cs1Label"), Some("Rule"));
        assert_eq!(get("msg"), Some("a=b c\\d\nnext"));
        // An unescaped `=` inside a value stays there.
        assert_eq!(get("url"), Some("http://x/?a=b&c=d"));
        assert_eq!(get("duser"), Some(""));
        assert_eq!(get("app"), Some("quic-base"));
        assert_eq!(kv.len(), 6);
        assert_eq!(extension("junk src=1.2.3.4"), Err("bad_extension"));
        assert_eq!(extension("  ").map(|v| v.len()), Ok(0));
        // Cut anywhere: no panic.
        for cut in ["a=", "=", "=b", "a\\", "a=\\", " a=b\\"] {
            let _ = extension(cut);
        }
    }

    /// Fortinet's own CEF sample of a forward traffic log (FortiOS Log Message Reference,
    /// "Traffic log support for CEF"), cut to the fields read.
    #[test]
    fn fortinet_sample() {
        let r = used("Dec 27 11:07:55 FGT-A-LOG CEF: 0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward close|3|deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0000000013 cat=traffic:forward FTNTFGTsubtype=forward FTNTFGTlevel=notice FTNTFGTvd=vdom1 FTNTFGTeventtime=1545937675 src=10.1.100.11 spt=54190 deviceInboundInterface=port12 dst=52.53.140.235 dpt=443 deviceOutboundInterface=port11 externalId=402 proto=6 act=close FTNTFGTpolicyid=1 app=HTTPS FTNTFGTdstcountry=United States out=3652 in=146668 FTNTFGTsentpkt=58 FTNTFGTrcvdpkt=105");
        assert_eq!(r.line, 3);
        assert_eq!((r.action, r.transport), (Action::Allowed, 6));
        assert_eq!(r.src, (ip("10.1.100.11"), 54190));
        assert_eq!(r.dst, (ip("52.53.140.235"), 443));
        // sentbyte is `out`, rcvdbyte `in`.
        assert_eq!((r.bytes, r.resp_bytes), (Some(3652), Some(146_668)));
        assert!(r.tcp_opened);
        assert_eq!(r.end, None);
        // No time field: the syslog header's, in the reference's year.
        assert_eq!(r.ts_ns, time::date_clock("2026-12-27", "11:07:55", 0).ok());
    }

    /// PAN-OS's log forwarder (CEF TRAFFIC drop), cut to the fields read.
    #[test]
    fn panos_forwarder_sample() {
        let r = used("<14>Sep 29 13:34:42 1494111629-log-forwarder-logfwd01 logforwarder CEF:0|Palo Alto Networks|LF|2.0|TRAFFIC|deny|3|dtz=UTC rt=Sep 29 2026 13:34:38 start=Sep 29 2026 13:34:36 src=10.167.40.72 c6a2=10.167.40.72 c6a2Label=Source IPv6 Address dst=203.0.113.10 c6a3=203.0.113.10 c6a3Label=Destination IPv6 Address cs1=Deny Quic cs1Label=Rule cn1=7916107 cn1Label=SessionID cnt=1 spt=49876 dpt=443 proto=udp act=drop out=1292 in=0 cn3=0 cn3Label=SessionDuration");
        assert_eq!((r.action, r.transport), (Action::Denied, 17));
        assert_eq!(r.src, (ip("10.167.40.72"), 49876));
        assert_eq!(r.dst, (ip("203.0.113.10"), 443));
        assert_eq!(r.rule.as_deref(), Some("Deny Quic"));
        assert_eq!(
            (r.bytes, r.resp_bytes, r.packets),
            (Some(1292), Some(0), Some(1))
        );
        // Denied: no session to join on.
        assert_eq!(r.session, None);
        assert_eq!(r.duration_ns, Some(0));
        assert_eq!(r.ts_ns, time::date_clock("2026-09-29", "13:34:36", 0).ok());
    }

    /// Check Point's exporter (elastic/integrations packages/cef test-checkpoint.json): IPv6 in
    /// `c6a2`/`c6a3`, epoch milliseconds, Check Point's own rule keys.
    #[test]
    fn check_point_sample_and_ipv6() {
        let r = used("CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Accept destinationTranslatedAddress=0.0.0.0 destinationTranslatedPort=0 deviceDirection=0 rt=1543270652000 sourceTranslatedAddress=192.168.103.254 sourceTranslatedPort=35398 spt=49363 dpt=443 cs2Label=Rule Name layer_name=Network layer_uuid=b406b732-2437-4848-9741-6eae1f5bf112 match_id=4 parent_rule=0 rule_action=Accept rule_uid=9e5e6e74-aa9a-4693-b9fe-53712dd27bea ifname=eth0 logid=0 origin=192.168.101.254 originsicname=CN\\=R80,O\\=R80_M..6u6bdo sequencenum=1 version=5 dst=89.160.20.156 inzone=Internal outzone=External product=VPN-1 & FireWall-1 proto=6 service_id=https src=192.168.101.100");
        assert_eq!(r.action, Action::Allowed);
        assert_eq!(r.src, (ip("192.168.101.100"), 49363));
        assert_eq!(r.dst, (ip("89.160.20.156"), 443));
        assert_eq!(r.ts_ns, Some(1_543_270_652_000_000_000));
        assert_eq!(
            r.rule.as_deref(),
            Some("9e5e6e74-aa9a-4693-b9fe-53712dd27bea (layer Network)")
        );
        let r = used("CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Drop c6a2=fd00::555 c6a2Label=Source IPv6 Address c6a3=::1 c6a3Label=Destination IPv6 Address proto=6 spt=40000 dpt=5061 cn2=5 cn2Label=Duration in Seconds");
        assert_eq!(r.src, (ip("fd00::555"), 40000));
        assert_eq!(r.dst, (ip("::1"), 5061));
        assert_eq!(
            (r.action, r.end.clone()),
            (Action::Denied, Some(TcpEnd::Unanswered))
        );
        assert_eq!(r.duration_ns, Some(5_000_000_000));
    }

    #[test]
    fn actions_decide() {
        let a = |act: &str| {
            let r = used(&format!(
                "CEF:0|V|P|1|1|n|1|src=1.2.3.4 dst=5.6.7.8 spt=1 dpt=5061 proto=TCP act={act}"
            ));
            (r.action, r.end)
        };
        assert_eq!(a("DENY"), (Action::Denied, Some(TcpEnd::Unanswered)));
        assert_eq!(a("reject"), (Action::Denied, Some(TcpEnd::Refused)));
        assert_eq!(a("reset-client"), (Action::Denied, Some(TcpEnd::Refused)));
        assert_eq!(a("Permit"), (Action::Allowed, None));
        assert_eq!(a("alert"), (Action::Logged, None));
        assert_eq!(a("denied by policy"), (Action::Logged, None));
        let r = used("CEF:0|V|P|1|1|n|1|src=1.2.3.4 dst=5.6.7.8 spt=1 dpt=5061 proto=6");
        assert_eq!((r.action, r.tcp_opened), (Action::Logged, false));
    }

    #[test]
    fn other_lines_are_counted() {
        let p = |l: &str| parse(1, l, 0, None);
        assert_eq!(
            p("Dec 27 11:07:55 fw sshd[1]: hello"),
            Outcome::Skipped("not_cef")
        );
        assert_eq!(p("CEF:0|a|b|c|d"), Outcome::Unparsable("short_header"));
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|junk src=1.2.3.4"),
            Outcome::Unparsable("bad_extension")
        );
        assert_eq!(
            p("CEF:0|Fortinet|Fortigate|v5.6.0|32001|event:system login success|2|duser=admin act=login"),
            Outcome::Skipped("not_traffic")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.999 dst=5.6.7.8 proto=6 spt=1 dpt=2"),
            Outcome::Unparsable("bad_address")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 proto=6 spt=1 dpt=70000"),
            Outcome::Unparsable("bad_port")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 proto=6 dpt=5061"),
            Outcome::Unparsable("no_port")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 proto=quic spt=1 dpt=2"),
            Outcome::Unparsable("bad_protocol")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 spt=1 dpt=2"),
            Outcome::Skipped("no_protocol")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 proto=6 spt=1 dpt=2 rt=Dec 45 2026 10:00:00"),
            Outcome::Unparsable("bad_timestamp")
        );
        assert_eq!(
            p("CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=5.6.7.8 proto=6 spt=1 dpt=2 rt=99999999999999999999"),
            Outcome::Unparsable("time_out_of_range")
        );
        assert_eq!(
            p("CEF:x|a|b|c|d|e|f|src=1.2.3.4"),
            Outcome::Skipped("not_cef")
        );
        assert!(is_line("<134>CEF:0|a|b|c|d|e|f|"));
        assert!(is_line("Dec 27 11:07:55 FGT CEF: 0|a|"));
        assert!(!is_line("msg=CEF:0|a|"));
    }
}
