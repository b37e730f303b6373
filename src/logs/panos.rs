//! Palo Alto PAN-OS TRAFFIC log, syslog CSV (field order of PAN-OS 9.1+, "Traffic Log Fields";
//! research/ecosystem.md 2.1(d)). Columns are read by index for the first 47; later versions
//! append more, which are ignored. The first column carries the syslog header when present.
//!
//! Subtype `start`/`end` with action `allow` is an allowed session (`end` has the byte and
//! packet counts per direction); subtype `deny`/`drop` or a deny/drop/reset action is denied.
//! Times are the device's local "Generated Time".
//!
//! How a TCP session ended: the Session End Reason of an `end` line ([`END_REASONS`]) with the
//! packets the responder sent, or the deny action ([`DENY_ACTIONS`]).

use std::net::IpAddr;

use super::state::TcpEnd;
use super::time::Tz;
use super::{port, protocol_number, time, Action, Outcome, Record};

const TYPE: usize = 3;
const SUBTYPE: usize = 4;
const GENERATED: usize = 6;
const SRC: usize = 7;
const DST: usize = 8;
const RULE: usize = 11;
const SESSION: usize = 22;
const SPORT: usize = 24;
const DPORT: usize = 25;
const PROTO: usize = 29;
const ACTION: usize = 30;
const BYTES_SENT: usize = 32;
const BYTES_RCVD: usize = 33;
const ELAPSED: usize = 36;
const PKTS_SENT: usize = 44;
const PKTS_RCVD: usize = 45;
const END_REASON: usize = 46;
/// Fewest columns a TRAFFIC line has (through Session End Reason).
pub const MIN_COLUMNS: usize = 47;

/// How a Session End Reason says an allowed session ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Completed,
    ResetByClient,
    /// A reset from the server: a refusal when the reset is all it sent.
    ResetByServer,
    /// Aged out: unanswered when the server sent nothing.
    AgedOut,
}

/// Session End Reasons that tell how the peers' session ended; the others (threat,
/// policy-deny, decrypt-*, resources-unavailable, tcp-reuse, decoder, unknown, n/a) are the
/// firewall's doing or say nothing.
const END_REASONS: &[(&str, Ended)] = &[
    ("tcp-fin", Ended::Completed),
    ("tcp-rst-from-client", Ended::ResetByClient),
    ("tcp-rst-from-server", Ended::ResetByServer),
    ("aged-out", Ended::AgedOut),
];

/// Deny actions and what the client saw.
const DENY_ACTIONS: &[(&str, TcpEnd)] = &[
    ("reset-client", TcpEnd::Refused),
    ("reset-both", TcpEnd::Refused),
    ("drop-icmp", TcpEnd::Unreachable),
    ("reset-server", TcpEnd::Unanswered),
    ("deny", TcpEnd::Unanswered),
    ("drop", TcpEnd::Unanswered),
];

/// How a TCP session ended, from its line's action, subtype, end reason and received packets.
fn tcp_end(denied: bool, action: &str, reason: &str, rcvd: Option<u64>) -> Option<TcpEnd> {
    if denied {
        return Some(
            DENY_ACTIONS
                .iter()
                .find(|(a, _)| *a == action)
                .map_or(TcpEnd::Unanswered, |(_, e)| e.clone()),
        );
    }
    let ended = END_REASONS.iter().find(|(r, _)| *r == reason)?.1;
    Some(match ended {
        Ended::Completed => TcpEnd::Completed,
        Ended::ResetByClient => TcpEnd::Reset {
            by_src: true,
            established: true,
        },
        Ended::ResetByServer => TcpEnd::Reset {
            by_src: false,
            established: rcvd? > 1,
        },
        Ended::AgedOut if rcvd? == 0 => TcpEnd::Unanswered,
        Ended::AgedOut => TcpEnd::Established,
    })
}

pub fn parse(line_no: u64, line: &str, tz: impl Into<Tz>) -> Outcome {
    let tz: Tz = tz.into();
    let c: Vec<&str> = line.split(',').collect();
    match c.get(TYPE) {
        Some(&"TRAFFIC") => {}
        Some(t) if t.chars().all(|c| c.is_ascii_uppercase()) && !t.is_empty() => {
            return Outcome::Skipped("other_log_type")
        }
        _ => return Outcome::Unparsable("short"),
    }
    if c.len() < MIN_COLUMNS {
        return Outcome::Unparsable("short");
    }
    let Some(proto) = protocol_number(c[PROTO]) else {
        return Outcome::Unparsable("bad_protocol");
    };
    let (Ok(src), Ok(dst)) = (c[SRC].parse::<IpAddr>(), c[DST].parse::<IpAddr>()) else {
        return Outcome::Unparsable("bad_address");
    };
    let (Some(sp), Some(dp)) = (port(c[SPORT]), port(c[DPORT])) else {
        return Outcome::Unparsable("bad_port");
    };
    let denied = matches!(c[SUBTYPE], "deny" | "drop")
        || c[ACTION].starts_with("deny")
        || c[ACTION].starts_with("drop")
        || c[ACTION].starts_with("reset");
    let action = if denied {
        Action::Denied
    } else if matches!(c[SUBTYPE], "start" | "end") {
        Action::Allowed
    } else {
        return Outcome::Skipped("other_subtype");
    };
    let ts = match c[GENERATED].split_once(' ') {
        Some((d, t)) => match time::date_clock(d, t, tz) {
            Ok(ns) => Some(ns),
            Err(e) => return Outcome::Unparsable(e.bucket()),
        },
        None => return Outcome::Unparsable("bad_timestamp"),
    };
    let mut r = Record::new(line_no, action, proto, (src, sp), (dst, dp));
    r.ts_ns = ts;
    let n = |i: usize| c[i].parse::<u64>().ok();
    r.bytes = n(BYTES_SENT);
    r.resp_bytes = n(BYTES_RCVD);
    r.packets = n(PKTS_SENT);
    r.resp_packets = n(PKTS_RCVD);
    if c[SUBTYPE] == "start" && !denied {
        // Counted when the session had just begun: a responder yet to send is not silent.
        r.resp_bytes = r.resp_bytes.filter(|b| *b > 0);
        r.resp_packets = r.resp_packets.filter(|p| *p > 0);
    }
    r.duration_ns = match n(ELAPSED) {
        Some(s) => match time::secs_to_ns(s) {
            Some(ns) => Some(ns),
            None => return Outcome::Unparsable("bad_duration"),
        },
        None => None,
    };
    r.rule = Some(c[RULE].into()).filter(|s: &compact_str::CompactString| !s.is_empty());
    r.session = n(SESSION);
    r.tcp_opened = proto == 6 && action == Action::Allowed;
    if proto == 6 && (denied || c[SUBTYPE] == "end") {
        r.end = tcp_end(denied, c[ACTION], c[END_REASON], r.resp_packets);
    }
    Outcome::Used(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elastic_sample_end() {
        let l = "Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 16:09:07,192.168.15.207,175.16.199.1,192.168.1.63,175.16.199.1,new_outbound_from_trust,,,apple-maps,vsys1,trust,untrust,ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 16:09:07,22751,1,55113,443,16418,443,0x400053,tcp,allow,7734,1758,5976,36,2018/11/30 15:59:04,586,computer-and-internet-info,0,32091112,0x0,192.168.0.0-192.168.255.255,United States,0,16,20,tcp-fin,0,0,0,0,,PA-220,from-policy,,,0,,0,,N/A,0,0,0,0";
        let Outcome::Used(r) = parse(3, l, 0) else {
            panic!()
        };
        assert_eq!(r.action, Action::Allowed);
        assert_eq!(r.src.1, 55113);
        assert_eq!(r.dst.1, 443);
        assert_eq!((r.bytes, r.resp_bytes), (Some(1758), Some(5976)));
        assert_eq!((r.packets, r.resp_packets), (Some(16), Some(20)));
        assert_eq!(r.rule.as_deref(), Some("new_outbound_from_trust"));
        assert_eq!(r.session, Some(22751));
    }

    #[test]
    fn a_start_line_does_not_say_the_responder_was_silent() {
        let end = "Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 16:09:07,192.168.15.207,175.16.199.1,192.168.1.63,175.16.199.1,new_outbound_from_trust,,,apple-maps,vsys1,trust,untrust,ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 16:09:07,22751,1,55113,443,16418,443,0x400053,tcp,allow,7734,1758,5976,36,2018/11/30 15:59:04,586,computer-and-internet-info,0,32091112,0x0,192.168.0.0-192.168.255.255,United States,0,16,20,tcp-fin,0,0,0,0,,PA-220,from-policy,,,0,,0,,N/A,0,0,0,0";
        // The same session logged at its start, over UDP, nothing received yet.
        let start = end
            .replace("TRAFFIC,end,", "TRAFFIC,start,")
            .replace(",tcp,allow,7734,1758,5976,", ",udp,allow,66,66,0,")
            .replace(",0,16,20,tcp-fin,", ",0,1,0,n/a,");
        let Outcome::Used(r) = parse(3, &start, 0) else {
            panic!("{start}")
        };
        assert_eq!(r.transport, 17);
        assert_eq!((r.bytes, r.packets), (Some(66), Some(1)));
        assert_eq!((r.resp_bytes, r.resp_packets), (None, None));
    }
}
