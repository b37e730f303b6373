//! Zeek `conn.log`, TSV with `#separator`/`#fields` headers (re-read wherever they appear) and
//! NDJSON (one object a line, keys as in `#fields`). Definitions: Zeek's `base/protocols/conn`
//! (research/ecosystem.md 1.3 and 2.1(h)).
//!
//! Zeek records what a sensor saw, not a firewall decision: every connection is `allowed`.
//! A TCP connection's `conn_state` and `history` are Zeek's own words for how it went, the
//! same ones the capture path computes: they are kept as they are ([`TcpEnd::Zeek`]).
//! `orig_*`/`resp_*` counts give both directions, so one-way sessions stay visible. The
//! originator is certain for TCP when the history starts with the originator's SYN (`S`).

use std::net::IpAddr;

use super::state::{zeek_state, TcpEnd};
use super::{port, protocol_number, time, Action, Header, Outcome, Record};

pub const DEFAULT_FIELDS: [&str; 20] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
];

pub fn update_header(h: &mut Header, line: &str) {
    if let Some(sep) = line.strip_prefix("#separator ") {
        let sep = sep.trim();
        h.separator = match sep
            .strip_prefix("\\x")
            .and_then(|x| u8::from_str_radix(x, 16).ok())
        {
            Some(b) => char::from(b),
            None => sep.chars().next().unwrap_or('\t'),
        };
        return;
    }
    let sep = h.separator;
    let mut it = line.split(sep);
    let key = it.next().unwrap_or("");
    match key {
        "#fields" => h.fields = it.map(str::to_string).collect(),
        "#unset_field" => h.unset = it.next().unwrap_or("-").to_string(),
        "#empty_field" => h.empty = it.next().unwrap_or("(empty)").to_string(),
        _ => {}
    }
}

struct Conn<'a> {
    ts: Option<&'a str>,
    oh: Option<&'a str>,
    op: Option<&'a str>,
    rh: Option<&'a str>,
    rp: Option<&'a str>,
    proto: Option<&'a str>,
    duration: Option<f64>,
    ob: Option<u64>,
    rb: Option<u64>,
    opk: Option<u64>,
    rpk: Option<u64>,
    history: Option<&'a str>,
    conn_state: Option<&'a str>,
    uid: Option<&'a str>,
}

fn record(line_no: u64, c: Conn<'_>) -> Outcome {
    let Some(transport) = c.proto.and_then(protocol_number) else {
        return Outcome::Unparsable("bad_protocol");
    };
    let (Some(oh), Some(rh)) = (
        c.oh.and_then(|s| s.parse::<IpAddr>().ok()),
        c.rh.and_then(|s| s.parse::<IpAddr>().ok()),
    ) else {
        return Outcome::Unparsable("bad_address");
    };
    let (Some(op), Some(rp)) = (c.op.and_then(port), c.rp.and_then(port)) else {
        return Outcome::Unparsable("bad_port");
    };
    let ts = match c.ts.map(time::epoch_secs) {
        Some(Ok(ts)) => ts,
        Some(Err(e)) => return Outcome::Unparsable(e.bucket()),
        None => return Outcome::Unparsable("bad_timestamp"),
    };
    let duration_ns = match c.duration {
        Some(d) => match time::float_secs_to_ns(d) {
            Some(ns) => Some(ns),
            None => return Outcome::Unparsable("bad_duration"),
        },
        None => None,
    };
    let mut r = Record::new(line_no, Action::Allowed, transport, (oh, op), (rh, rp));
    r.ts_ns = Some(ts);
    r.bytes = c.ob;
    r.resp_bytes = c.rb;
    r.packets = c.opk;
    r.resp_packets = c.rpk;
    r.duration_ns = duration_ns;
    // The originator is certain when Zeek saw its SYN, or the responder's SYN-ACK (a history
    // Zeek flipped, `^`).
    r.tcp_opened = transport == 6
        && c.history
            .is_some_and(|h| h.starts_with('S') || (h.starts_with('^') && h.contains('h')));
    if transport == 6 {
        r.end = c.conn_state.and_then(zeek_state).map(|state| TcpEnd::Zeek {
            state,
            history: c.history.map(Into::into),
        });
    }
    // The uid is not a number; the session join is by five-tuple for Zeek.
    let _ = c.uid;
    Outcome::Used(r)
}

pub fn parse_tsv(h: &Header, line_no: u64, line: &str) -> Outcome {
    if line.starts_with('#') {
        return Outcome::Comment;
    }
    let cols: Vec<&str> = line.split(h.separator).collect();
    let fields: Vec<&str> = if h.fields.is_empty() {
        DEFAULT_FIELDS.to_vec()
    } else {
        h.fields.iter().map(String::as_str).collect()
    };
    if cols.len() < fields.len() {
        return Outcome::Unparsable("short");
    }
    if cols.len() > fields.len() {
        return Outcome::Unparsable("extra_fields");
    }
    let get = |name: &str| {
        fields
            .iter()
            .position(|f| *f == name)
            .map(|i| cols[i])
            .filter(|v| *v != h.unset && *v != h.empty)
    };
    let n = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
    record(
        line_no,
        Conn {
            ts: get("ts"),
            oh: get("id.orig_h"),
            op: get("id.orig_p"),
            rh: get("id.resp_h"),
            rp: get("id.resp_p"),
            proto: get("proto"),
            duration: get("duration").and_then(|d| d.parse().ok()),
            ob: n("orig_bytes"),
            rb: n("resp_bytes"),
            opk: n("orig_pkts"),
            rpk: n("resp_pkts"),
            history: get("history"),
            conn_state: get("conn_state"),
            uid: get("uid"),
        },
    )
}

pub fn parse_json(line_no: u64, line: &str) -> Outcome {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return Outcome::Unparsable("bad_json");
    };
    let Some(o) = v.as_object() else {
        return Outcome::Unparsable("bad_json");
    };
    // Numbers and strings both appear (ports are numbers, `ts` is a number or an ISO string).
    let s = |k: &str| -> Option<String> {
        match o.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let ts = match o.get("ts") {
        Some(serde_json::Value::String(iso)) => iso_ts(iso).map(|ns| {
            let secs = ns.div_euclid(1_000_000_000);
            let frac = ns.rem_euclid(1_000_000_000);
            format!("{secs}.{frac:09}")
        }),
        _ => s("ts"),
    };
    let (oh, op, rh, rp, proto, hist, state) = (
        s("id.orig_h"),
        s("id.orig_p"),
        s("id.resp_h"),
        s("id.resp_p"),
        s("proto"),
        s("history"),
        s("conn_state"),
    );
    let n = |k: &str| o.get(k).and_then(serde_json::Value::as_u64);
    record(
        line_no,
        Conn {
            ts: ts.as_deref(),
            oh: oh.as_deref(),
            op: op.as_deref(),
            rh: rh.as_deref(),
            rp: rp.as_deref(),
            proto: proto.as_deref(),
            duration: o.get("duration").and_then(serde_json::Value::as_f64),
            ob: n("orig_bytes"),
            rb: n("resp_bytes"),
            opk: n("orig_pkts"),
            rpk: n("resp_pkts"),
            history: hist.as_deref(),
            conn_state: state.as_deref(),
            uid: None,
        },
    )
}

/// `2009-11-18T08:00:21.486539Z` (Zeek's JSON ISO8601 time option).
fn iso_ts(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (d, t) = s.split_once('T')?;
    time::date_clock(d, t, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_tsv_sample() {
        let h = Header::default();
        let l = "1258531221.486539\tPii6cUUq1v4\t192.168.1.102\t68\t192.168.1.1\t67\tudp\t-\t0.163820\t301\t300\tSF\t-\t0\tDd\t1\t329\t1\t328\t(empty)";
        let Outcome::Used(r) = parse_tsv(&h, 9, l) else {
            panic!()
        };
        assert_eq!(r.ts_ns, Some(1_258_531_221_486_539_000));
        assert_eq!(r.src, ("192.168.1.102".parse().expect("ip"), 68));
        assert_eq!(r.dst, ("192.168.1.1".parse().expect("ip"), 67));
        assert_eq!(
            (r.bytes, r.resp_bytes, r.packets, r.resp_packets),
            (Some(301), Some(300), Some(1), Some(1))
        );
    }

    #[test]
    fn json_line() {
        let l = r#"{"ts":1258531221.486539,"uid":"Pii6cUUq1v4","id.orig_h":"192.168.1.102","id.orig_p":68,"id.resp_h":"192.168.1.1","id.resp_p":67,"proto":"udp","duration":0.16382,"orig_bytes":301,"resp_bytes":300,"conn_state":"SF","history":"Dd","orig_pkts":1,"resp_pkts":1}"#;
        let Outcome::Used(r) = parse_json(1, l) else {
            panic!()
        };
        assert_eq!(r.src.1, 68);
        assert_eq!(r.resp_bytes, Some(300));
        assert_eq!(r.ts_ns, Some(1_258_531_221_486_539_000));
    }
}
