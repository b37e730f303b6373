//! Check Point Log Exporter, syslog format: an RFC 5424 header (app name `CheckPoint`) and a
//! body of `[key:"value"; key:"value"; ...]`, values escaping `\"`, `\\` and `\]`, a `;` inside
//! quotes being the value's ([`super::syslog`] reads the header). The same pairs written as RFC
//! 5424 structured data (`[Fields@1.3.6.1.4.1.2620 key="value" ...]`, as some gateways send
//! them) are read alike. The exporter's CEF and LEEF forms are read by [`super::cef`] and
//! [`super::leef`].
//!
//! Keys read (Check Point's log field dictionary; research/ecosystem.md 2.1(g)): `action`,
//! `src`, `dst`, `s_port` (or `sport_svc`), `service` (the destination port; or `svc`),
//! `proto` (the IP protocol number), `icmp_type` and `icmp_code`, `time` (epoch seconds),
//! `rule_name` (else `rule_uid`) with `layer_name` (the rule), `loguid` (the connection's
//! session), `tcp_flags`, `tcp_packet_out_of_state`, and the accounting of an accepted
//! connection: `client_outbound_bytes` and `client_outbound_packets` (what the client, the
//! originator, sent; else `sent_bytes`), `server_outbound_bytes` and `server_outbound_packets`
//! (what the server sent; else `received_bytes`), `elapsed` (seconds, or `h:mm:ss`). `origin`
//! (the gateway), `ifdir` and `ifname` (the interface and its direction at the gateway) do not
//! change which side is the source; `xlate*` (NAT) is not read.
//!
//! Decision ([`ACTIONS`]): Accept, and Encrypt or Decrypt (a connection let into or out of a
//! VPN tunnel), are allowed; Drop and Block denied; Reject denied with an answer (REJ). Key
//! Install (an IKE exchange between gateways) is not a connection and is skipped. Other actions
//! (Detect, Prevent, Inform, Ask, Bypass, Redirect...) are a threat-prevention or UserCheck
//! verdict on a connection's content, not the access decision: [`Action::Logged`], and FW1/FW2
//! are listed as skipped for their flows.
//!
//! How a TCP connection went: a dropped or rejected first packet (its flags SYN, or no flags
//! given) is an attempt left unanswered (S0) or refused (REJ); a drop whose packet was out of
//! state (`tcp_packet_out_of_state`, `tcp_flags` without SYN) tells no outcome. An accepted
//! connection tells none either: its accounting, when enabled, gives the server's replies.
//!
//! Times: `time` (UTC); without it the header's, an RFC 5424 time as written (a BSD header,
//! with no year and no zone, as the other syslog formats take it).

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, syslog, time, Action, Outcome, Record};

/// Characters of a rule name kept as the flow's rule.
const RULE_KEPT: usize = 80;

/// What an action says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Said {
    Allowed,
    Dropped,
    Rejected,
    /// Not a connection (an IKE key exchange): skipped.
    NotTraffic,
    Nothing,
}

/// Check Point actions (any case) and what they say; others tell no decision.
const ACTIONS: [(&str, Said); 7] = [
    ("accept", Said::Allowed),
    ("encrypt", Said::Allowed),
    ("decrypt", Said::Allowed),
    ("drop", Said::Dropped),
    ("block", Said::Dropped),
    ("reject", Said::Rejected),
    ("key install", Said::NotTraffic),
];

/// Where the body starts: the first `[` that opens `key:"` (or structured data's
/// `[Fields@...`), after the header.
fn body_start(s: &str) -> Option<usize> {
    s.match_indices('[').map(|(i, _)| i).find(|&i| {
        let rest = s.get(i + 1..).unwrap_or("");
        if rest.starts_with("Fields@") {
            return true;
        }
        let key = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        key > 0 && rest.get(key..).is_some_and(|r| r.starts_with(":\""))
    })
}

/// Whether a line is a Check Point Log Exporter line (for detection): the `CheckPoint` app
/// name, or a body that opens with `[action:"` or another `key:"`.
pub fn is_line(l: &str) -> bool {
    let h = syslog::split(l);
    if h.app.is_some_and(|a| a.eq_ignore_ascii_case("checkpoint")) {
        return true;
    }
    body_start(l).is_some_and(|i| l.get(i..).is_some_and(|b| b.contains(":\"")))
}

/// The body's `key:"value"` (or `key="value"`) pairs, values without their escapes. `Err`
/// for a value whose quote never closes, or a key without a value.
pub fn pairs(body: &str) -> Result<Vec<(&str, String)>, &'static str> {
    let b = body.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'['));
    // Structured data's id (`Fields@1.3.6.1.4.1.2620`) is not a pair.
    if body.get(i..).is_some_and(|r| r.starts_with("Fields@")) {
        while b.get(i).is_some_and(|c| *c != b' ' && *c != b']') {
            i += 1;
        }
    }
    let mut out = Vec::new();
    loop {
        while b.get(i).is_some_and(|c| matches!(c, b' ' | b';' | b'\t')) {
            i += 1;
        }
        match b.get(i) {
            None | Some(b']') => break,
            _ => {}
        }
        let ks = i;
        while b
            .get(i)
            .is_some_and(|c| !matches!(c, b':' | b'=' | b' ' | b';' | b']'))
        {
            i += 1;
        }
        let key = body.get(ks..i).ok_or("bad_body")?;
        if !matches!(b.get(i), Some(b':' | b'=')) {
            return Err("bad_body");
        }
        // `key:"`; system messages write `sys_message::"`.
        while matches!(b.get(i), Some(b':' | b'=')) {
            i += 1;
        }
        if b.get(i) != Some(&b'"') {
            return Err("bad_body");
        }
        i += 1;
        let mut value = String::new();
        loop {
            match b.get(i) {
                None => return Err("unterminated_quote"),
                Some(b'"') => break,
                Some(b'\\') => {
                    // The escaped character, whole (it may be more than one byte).
                    let ch = body.get(i + 1..).and_then(|r| r.chars().next());
                    match ch {
                        Some(c) => {
                            value.push(c);
                            i += 1 + c.len_utf8();
                        }
                        None => return Err("unterminated_quote"),
                    }
                }
                Some(_) => {
                    let ch = body
                        .get(i..)
                        .and_then(|r| r.chars().next())
                        .ok_or("bad_body")?;
                    value.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
        i += 1;
        out.push((key, value));
    }
    Ok(out)
}

/// The pairs, looked up by key (the first of a key wins).
struct Fields<'a> {
    kv: Vec<(&'a str, String)>,
}

impl Fields<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.kv
            .iter()
            .find(|(a, _)| *a == k)
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

/// `elapsed`: whole seconds or `h:mm:ss`.
fn elapsed(v: &str) -> Option<i64> {
    if v.contains(':') {
        time::hms_to_ns(v)
    } else {
        time::secs_to_ns(v.parse().ok()?)
    }
}

/// FNV-1a of the connection's `loguid`, as the session id the lines of one connection share.
fn session_of(loguid: &str) -> u64 {
    loguid.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One line. `reference`: when the log was last written, for the year of a BSD header's time.
pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>, reference: Option<i64>) -> Outcome {
    let tz: Tz = tz.into();
    let h = syslog::split(line);
    let from = line.len().saturating_sub(h.after_host.len());
    let Some(start) = line.get(from..).and_then(body_start).map(|i| from + i) else {
        return Outcome::Skipped("not_checkpoint");
    };
    let f = match pairs(line.get(start..).unwrap_or("")) {
        Ok(kv) => Fields { kv },
        Err(why) => return Outcome::Unparsable(why),
    };
    let said = match f.get("action") {
        Some(a) => ACTIONS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(a))
            .map_or(Said::Nothing, |(_, s)| *s),
        None => Said::Nothing,
    };
    if said == Said::NotTraffic {
        return Outcome::Skipped("not_traffic");
    }
    let addr = |k: &str| f.get(k).map(|v| v.parse::<IpAddr>());
    let (src, dst) = match (addr("src"), addr("dst")) {
        (Some(Ok(s)), Some(Ok(d))) => (s, d),
        (Some(_), Some(_)) => return Outcome::Unparsable("bad_address"),
        // Audit, system and accounting-only lines name no connection.
        _ => return Outcome::Skipped("not_traffic"),
    };
    let dport = f.any(&["service", "svc"]);
    let transport = match f.get("proto") {
        Some(p) => match protocol_number(p) {
            Some(n) => n,
            None => return Outcome::Unparsable("bad_protocol"),
        },
        None if dport.is_none() => return Outcome::Skipped("not_traffic"),
        None => return Outcome::Skipped("no_protocol"),
    };
    let (sp, dp) = match transport {
        6 | 17 | 132 => match (f.any(&["s_port", "sport_svc"]), dport) {
            (Some(a), Some(b)) => match (port(a), port(b)) {
                (Some(a), Some(b)) => (a, b),
                _ => return Outcome::Unparsable("bad_port"),
            },
            _ => return Outcome::Unparsable("no_port"),
        },
        // ICMP: type and code in the port columns, as Zeek reports them.
        1 | 58 => match (f.get("icmp_type"), f.get("icmp_code")) {
            (Some(t), Some(c)) => match (t.parse::<u8>(), c.parse::<u8>()) {
                (Ok(t), Ok(c)) => (u16::from(t), u16::from(c)),
                _ => return Outcome::Unparsable("bad_icmp"),
            },
            _ => (0, 0),
        },
        _ => (0, 0),
    };
    let ts = match f.get("time") {
        Some(t) => match time::epoch_any(t) {
            Ok(ns) => Some(ns),
            Err(e) => return Outcome::Unparsable(e.bucket()),
        },
        None => match h.stamp.resolve(tz, reference) {
            Ok(t) => t,
            Err(e) => return Outcome::Unparsable(e.bucket()),
        },
    };
    let action = match said {
        Said::Allowed => Action::Allowed,
        Said::Dropped | Said::Rejected => Action::Denied,
        Said::NotTraffic | Said::Nothing => Action::Logged,
    };
    let mut r = Record::new(line_no, action, transport, (src, sp), (dst, dp));
    r.ts_ns = ts;
    r.bytes = f.number(&["client_outbound_bytes", "sent_bytes"]);
    r.packets = f.number(&["client_outbound_packets"]);
    r.resp_bytes = f.number(&["server_outbound_bytes", "received_bytes"]);
    r.resp_packets = f.number(&["server_outbound_packets"]);
    r.duration_ns = match f.get("elapsed") {
        Some(v) => match elapsed(v) {
            Some(d) => Some(d),
            None => return Outcome::Unparsable("bad_duration"),
        },
        None => None,
    };
    let rule = f
        .any(&["rule_name", "rule_uid"])
        .map(|name| match f.get("layer_name") {
            Some(layer) => format!("{name} (layer {layer})"),
            None => name.to_string(),
        });
    r.rule = rule.map(|s| s.chars().take(RULE_KEPT).collect());
    // A denied connection has no session: its lines join on the tuple, as retries do.
    if action == Action::Allowed {
        r.session = f.get("loguid").map(session_of);
    }
    if transport == 6 {
        let flags = f.get("tcp_flags").map(str::to_ascii_uppercase);
        let out_of_state = f.get("tcp_packet_out_of_state").is_some()
            || flags
                .as_deref()
                .is_some_and(|fl| !fl.contains("SYN") || fl.contains("ACK"));
        r.tcp_opened = match action {
            Action::Allowed => true,
            Action::Denied => !out_of_state,
            _ => false,
        };
        r.end = match said {
            Said::Dropped if !out_of_state => Some(TcpEnd::Unanswered),
            Said::Rejected if !out_of_state => Some(TcpEnd::Refused),
            _ => None,
        };
    }
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(line: &str) -> Record {
        match parse(5, line, 0, None) {
            Outcome::Used(r) => r,
            o => panic!("{line}: {o:?}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn body_pairs_and_escapes() {
        let kv = pairs(r#"[action:"Accept"; a:"x; y"; b:"q\"uote\\d"; c:"Standard\]"; e:""]"#)
            .expect("pairs");
        assert_eq!(kv[0], ("action", "Accept".to_string()));
        assert_eq!(kv[1], ("a", "x; y".to_string()));
        assert_eq!(kv[2], ("b", "q\"uote\\d".to_string()));
        assert_eq!(kv[3], ("c", "Standard]".to_string()));
        assert_eq!(kv[4], ("e", String::new()));
        let kv = pairs(r#"[product:"System Monitor"; sys_message::"installed Standard"]"#)
            .expect("double colon");
        assert_eq!(kv[1], ("sys_message", "installed Standard".to_string()));
        let kv = pairs(r#"[Fields@1.3.6.1.4.1.2620 src="81.2.69.192" svc="443" ]"#).expect("sd");
        assert_eq!(kv[1], ("svc", "443".to_string()));
        assert_eq!(
            pairs(r#"[action:"Accept"; src:"1.2"#),
            Err("unterminated_quote")
        );
        assert_eq!(pairs(r#"[action:"Accept"; src]"#), Err("bad_body"));
        for cut in ["[", "[a", "[a:", "[a:\"\\", "[a:\"é\\é\"]"] {
            let _ = pairs(cut);
        }
    }

    /// The Drop sample of research/ecosystem.md 2.1(g) (elastic/integrations packages/checkpoint
    /// test-checkpoint.log): FIN-ACK, out of state, so no outcome.
    #[test]
    fn drop_out_of_state() {
        let r = used(
            r#"<134>1 2020-03-30T06:13:42Z gw-da58d3 CheckPoint 8363 - [action:"Drop"; flags:"425984"; ifdir:"outbound"; ifname:"eth0"; dst:"2.21.41.118"; product:"VPN-1 & FireWall-1"; proto:"6"; s_port:"65488"; service:"80"; src:"192.168.1.100"; tcp_flags:"FIN-ACK"; tcp_packet_out_of_state:"First packet isn't SYN"]"#,
        );
        assert_eq!(r.line, 5);
        assert_eq!((r.action, r.transport), (Action::Denied, 6));
        assert_eq!(r.src, (ip("192.168.1.100"), 65488));
        assert_eq!(r.dst, (ip("2.21.41.118"), 80));
        assert!(!r.tcp_opened);
        assert_eq!(r.end, None);
        assert_eq!(r.ts_ns, time::date_clock("2020-03-30", "06:13:42", 0).ok());
    }

    /// An accepted connection's accounting (elastic/integrations test-r81x.log, cut to the
    /// fields read, with src, dst, ports and protocol added).
    #[test]
    fn accept_with_accounting() {
        let r = used(
            r#"<134>1 2022-07-16T18:51:20Z fw1 CheckPoint 15190 - [action:"Accept"; ifdir:"inbound"; ifname:"eth0.11"; loguid:"{0x8f6ff124,0xbeef4db4,0xbad40b,0xa9525929}"; origin:"81.2.69.144"; time:"1657997480"; __policy_id_tag:"product=VPN-1 & FireWall-1[db_tag={2A2FD8C0-A383-3DE4-A515-13D2CB28A798};mgmt=Client_Server_1;date=1657919347;policy_name=Standard\]"; client_inbound_bytes:"7475"; client_outbound_bytes:"6345"; client_outbound_packets:"22"; elapsed:"0"; server_outbound_bytes:"7475"; server_outbound_packets:"30"; src:"198.51.100.10"; dst:"10.45.16.10"; proto:"6"; s_port:"51000"; service:"5061"; rule_name:"Federation"; layer_name:"Network"]"#,
        );
        assert_eq!(r.action, Action::Allowed);
        assert_eq!(r.ts_ns, Some(1_657_997_480_000_000_000));
        assert_eq!(
            (r.bytes, r.packets, r.resp_bytes, r.resp_packets),
            (Some(6345), Some(22), Some(7475), Some(30))
        );
        assert_eq!(r.duration_ns, Some(0));
        assert_eq!(r.rule.as_deref(), Some("Federation (layer Network)"));
        assert_eq!(
            r.session,
            Some(session_of("{0x8f6ff124,0xbeef4db4,0xbad40b,0xa9525929}"))
        );
        assert!(r.tcp_opened);
    }

    #[test]
    fn actions_and_icmp() {
        let a = |act: &str, extra: &str| {
            let r = used(&format!(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"{act}"; src:"198.51.100.10"; dst:"10.45.16.10"; proto:"6"; s_port:"51000"; service:"5061"{extra}]"#
            ));
            (r.action, r.end, r.tcp_opened)
        };
        assert_eq!(
            a("Drop", ""),
            (Action::Denied, Some(TcpEnd::Unanswered), true)
        );
        assert_eq!(
            a("Reject", ""),
            (Action::Denied, Some(TcpEnd::Refused), true)
        );
        assert_eq!(
            a("Reject", r#"; tcp_flags:"SYN""#),
            (Action::Denied, Some(TcpEnd::Refused), true)
        );
        assert_eq!(
            a("Block", r#"; tcp_flags:"RST""#),
            (Action::Denied, None, false)
        );
        assert_eq!(a("Encrypt", ""), (Action::Allowed, None, true));
        assert_eq!(a("Detect", ""), (Action::Logged, None, false));
        let r = used(
            r#"<134>1 2023-03-01T07:58:40Z gw-0b8ccd CheckPoint 16700 - [action:"Accept"; dst:"10.0.0.1"; icmp:"Echo Request"; icmp_code:"0"; icmp_type:"8"; proto:"1"; src:"10.0.0.2"]"#,
        );
        assert_eq!((r.transport, r.src.1, r.dst.1), (1, 8, 0));
        // Structured-data form.
        let r = used(
            r#"<85>1 2023-01-13T10:10:16-05:00 172.16.2.9 CP-GW - Log [Fields@1.3.6.1.4.1.2620 src="81.2.69.192" dst="81.2.69.142" proto="6" action="Accept" svc="443" sport_svc="56530"]"#,
        );
        assert_eq!(r.dst, (ip("81.2.69.142"), 443));
        assert_eq!(r.ts_ns, time::date_clock("2023-01-13", "15:10:16", 0).ok());
    }

    #[test]
    fn other_lines_are_counted() {
        let p = |l: &str| parse(1, l, 0, None);
        assert_eq!(
            p("Dec  5 10:12:01 gw sshd[1]: hi"),
            Outcome::Skipped("not_checkpoint")
        );
        assert_eq!(
            p(
                r#"<134>1 2023-03-01T02:15:54Z gw-0b8ccd CheckPoint 16700 - [action:"Accept"; flags:"163872"; administrator:"WEB_API"; operation:"Log In"]"#
            ),
            Outcome::Skipped("not_traffic")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Key Install"; src:"192.0.2.1"; dst:"192.0.2.2"; proto:"17"; s_port:"500"; service:"500"]"#
            ),
            Outcome::Skipped("not_traffic")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"; src:"192.0.2.x"; dst:"192.0.2.2"; proto:"6"; s_port:"1"; service:"2"]"#
            ),
            Outcome::Unparsable("bad_address")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"; src:"192.0.2.1"; dst:"192.0.2.2"; proto:"6"; s_port:"1"; service:"https"]"#
            ),
            Outcome::Unparsable("bad_port")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"; src:"192.0.2.1"; dst:"192.0.2.2"; proto:"6"; s_port:"1"; service:"2"; time:"99999999999999999999"]"#
            ),
            Outcome::Unparsable("time_out_of_range")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"; src:"192.0.2.1"; dst:"192.0.2.2"; proto:"6"; s_port:"1"; service:"2"; elapsed:"forever"]"#
            ),
            Outcome::Unparsable("bad_duration")
        );
        assert_eq!(
            p(
                r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"; src:"192.0.2.1"; dst:"192.0.2.2"; proto:"6"; s_port:"1"; service:"2"#
            ),
            Outcome::Unparsable("unterminated_quote")
        );
        assert!(is_line(
            r#"<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - [action:"Drop"]"#
        ));
        assert!(is_line(
            r#"Dec  5 10:12:01 gw fw: [action:"Drop"; src:"1.2.3.4"]"#
        ));
        assert!(!is_line("Dec  5 10:12:01 gw kernel: [12.5] x"));
    }
}
