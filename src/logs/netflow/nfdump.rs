//! nfdump's CSV output (`nfdump -r nfcapd.FILE -o csv`): one line per flow record as nfcapd
//! stored it, paired into connections as export packets are ([`super::pair`]).
//!
//! The columns read are nfdump's first fifteen, the same in 1.6 and 1.7: `ts,te,td,sa,da,sp,
//! dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt`. `flg` is eight characters, `CEUAPRSF`, a dot for a
//! flag not set. Times are nfdump's local time (of the machine that ran nfdump, without a zone:
//! `--tz-offset` applies). The header line is a comment; the `Summary` block nfdump appends
//! is skipped.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;

use super::pair::Pairs;
use super::records::FlowRecord;
use super::MAX_FLOWS;
use crate::logs::time::Tz;
use crate::logs::{
    self, time, Action, BadLine, LogFormat, LogOptions, Outcome, ParsedLog, Record, Summary,
};

/// The header nfdump writes first.
pub const HEADER: &str = "ts,te,td,sa,da,sp,dp,pr,flg";

/// Whether a line is nfdump CSV: its header, or a data line (two `YYYY-MM-DD HH:MM:SS` times
/// then at least a dozen more columns).
pub fn is_line(l: &str) -> bool {
    if l.starts_with(HEADER) {
        return true;
    }
    let mut f = l.split(',');
    let is_time = |s: Option<&str>| {
        s.and_then(|s| s.split_once(' '))
            .is_some_and(|(d, c)| time::date(d).is_some() && time::clock(c).is_some())
    };
    is_time(f.next()) && is_time(f.next()) && l.matches(',').count() >= 14
}

/// TCP flags from nfdump's `CEUAPRSF` string (or a number, as older versions write).
fn flags(s: &str) -> Option<u8> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x") {
        return u8::from_str_radix(hex, 16).ok();
    }
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    if s.len() != 8 {
        return None;
    }
    let mut f = 0u8;
    for (i, c) in s.bytes().enumerate() {
        if c != b'.' {
            f |= 0x80 >> i;
        }
    }
    Some(f)
}

/// One data line as a flow record, or why it cannot be one.
fn record(no: u64, l: &str, tz: Tz) -> Result<FlowRecord, &'static str> {
    let f: Vec<&str> = l.split(',').map(str::trim).collect();
    if f.len() < 15 {
        return Err("too_few_fields");
    }
    let when = |s: &str| -> Result<i64, &'static str> {
        let (d, c) = s.split_once(' ').ok_or("bad_timestamp")?;
        time::date_clock(d, c, tz).map_err(time::TimeError::bucket)
    };
    let first = when(f[0])?;
    let last = when(f[1])?;
    let ip = |s: &str| s.parse::<IpAddr>().map_err(|_| "bad_address");
    let port = |s: &str| -> Result<u16, &'static str> {
        // ICMP: nfdump writes `type.code` in dp and 0 in sp.
        s.split('.').next().and_then(logs::port).ok_or("bad_port")
    };
    let protocol = logs::protocol_number(f[7]).ok_or("bad_protocol")?;
    let (mut sp, mut dp) = (port(f[5])?, port(f[6])?);
    if matches!(protocol, 1 | 58) {
        if let Some((t, c)) = f[6].split_once('.') {
            sp = t.parse().map_err(|_| "bad_port")?;
            dp = c.parse().map_err(|_| "bad_port")?;
        }
    }
    let count = |s: &str| -> Result<u64, &'static str> {
        // 1.6 may abbreviate large counts ("1.2 M").
        s.parse::<u64>().map_err(|_| "bad_count")
    };
    let (ipkt, ibyt, opkt, obyt) = (count(f[11])?, count(f[12])?, count(f[13])?, count(f[14])?);
    Ok(FlowRecord {
        no,
        exporter: 0,
        src: (ip(f[3])?, sp),
        dst: (ip(f[4])?, dp),
        protocol,
        first_ns: Some(first),
        last_ns: Some(last.max(first)),
        // Ingress counters, or egress ones when only those were exported.
        packets: if ipkt > 0 { ipkt } else { opkt },
        bytes: if ibyt > 0 { ibyt } else { obyt },
        flags: if protocol == 6 { flags(f[8]) } else { None },
    })
}

/// One line on its own, as [`crate::logs::parse_line`] reads lines: the record of one direction,
/// unpaired and without a state.
pub fn parse_line(no: u64, l: &str, tz: impl Into<Tz>) -> Outcome {
    let tz: Tz = tz.into();
    let t = l.trim();
    if t.starts_with(HEADER) {
        return Outcome::Comment;
    }
    if !is_line(t) {
        return Outcome::Skipped("summary");
    }
    match record(no, t, tz) {
        Ok(r) => {
            let mut x = Record::new(no, Action::Allowed, r.protocol, r.src, r.dst);
            x.ts_ns = r.first_ns;
            x.duration_ns = match (r.first_ns, r.last_ns) {
                (Some(a), Some(z)) if z > a => Some(z - a),
                _ => None,
            };
            x.packets = Some(r.packets);
            x.bytes = Some(r.bytes);
            Outcome::Used(x)
        }
        Err(why) => Outcome::Unparsable(why),
    }
}

/// Reads nfdump CSV (gzip allowed) into paired flows; every line ends in one outcome.
pub fn read_file(path: &Path, opts: LogOptions) -> io::Result<ParsedLog> {
    let mut f = BufReader::new(std::fs::File::open(path)?);
    if f.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        return read(flate2::read::MultiGzDecoder::new(f), opts);
    }
    read(f, opts)
}

/// Reads nfdump CSV from any reader.
pub fn read<R: Read>(r: R, opts: LogOptions) -> io::Result<ParsedLog> {
    let mut lines = logs::LineReader::new(r);
    let mut buf = Vec::new();
    let mut s = Summary {
        format: Some(LogFormat::NfdumpCsv),
        detected: opts.format.is_none(),
        facts: Some(logs::facts::of(LogFormat::NfdumpCsv)),
        ..Summary::default()
    };
    let mut skipped: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut unparsable: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut pairs = Pairs::new(MAX_FLOWS);
    let mut in_summary = false;
    while let Some(too_long) = lines.next_into(&mut buf)? {
        s.lines += 1;
        let no = s.lines;
        let text = String::from_utf8_lossy(&buf).into_owned();
        buf.clear();
        let bad = |why: &'static str, s: &mut Summary, u: &mut BTreeMap<&'static str, u64>| {
            *u.entry(why).or_default() += 1;
            if s.examples.len() < 10 {
                s.examples.push(BadLine {
                    line: no,
                    reason: why,
                    text: text.chars().take(200).collect(),
                });
            }
        };
        let t = text.trim();
        if too_long {
            bad("line_too_long", &mut s, &mut unparsable);
        } else if t.is_empty() {
            *skipped.entry("empty").or_default() += 1;
        } else if t.starts_with(HEADER) {
            s.comment += 1;
        } else if t == "Summary" || in_summary {
            // nfdump's totals after the records.
            in_summary = true;
            *skipped.entry("summary").or_default() += 1;
        } else {
            match record(no, t, opts.tz) {
                Ok(r) => {
                    if pairs.add(r) {
                        s.used += 1;
                    } else {
                        *skipped.entry("flow_table_full").or_default() += 1;
                    }
                }
                Err(why) => bad(why, &mut s, &mut unparsable),
            }
        }
    }
    let (records, _, _) = pairs.finish();
    s.skipped = skipped;
    s.unparsable = unparsable;
    s.time_basis = crate::logs::local_basis("nfdump's local time", opts.tz);
    Ok(ParsedLog {
        summary: s,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_flags() {
        assert_eq!(flags("...A.R.."), Some(0x14));
        assert_eq!(flags("......S."), Some(0x02));
        assert_eq!(flags("...AP.SF"), Some(0x1b));
        assert_eq!(flags("0x12"), Some(0x12));
        let l = "2026-11-02 09:00:47,2026-11-02 09:00:47,0.001,198.51.100.10,10.45.16.10,60200,5061,TCP,......S.,0,0,1,52,0,0,0,0,0,0,0,0,0,1";
        assert!(is_line(l));
        assert!(is_line("ts,te,td,sa,da,sp,dp,pr,flg,fwd"));
        assert!(!is_line("2026-11-02 09:00:47 ALLOW TCP"));
        let r = record(3, l, Tz::Fixed(3600)).expect("record");
        assert_eq!(r.src.1, 60200);
        assert_eq!(r.flags, Some(0x02));
        assert_eq!((r.packets, r.bytes), (1, 52));
        assert_eq!(
            r.first_ns,
            time::date_clock("2026-11-02", "08:00:47", 0).ok()
        );
        assert_eq!(
            record(1, "2026-11-02 09:00:47,x", Tz::Fixed(0)),
            Err("too_few_fields")
        );
    }
}
