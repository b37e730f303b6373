//! The syslog header in front of a firewall's message, for the formats whose lines carry no
//! time of their own (netfilter `LOG` lines, pfSense/OPNsense `filterlog`):
//!
//! - RFC 3164 (BSD) `[<PRI>]Mmm dd hh:mm:ss [host] tag[pid]: message`, as rsyslog, syslog-ng
//!   and `journalctl -o short` write it: no year and no zone;
//! - the same with an RFC 3339 time in place of the BSD one (rsyslog's
//!   `RSYSLOG_FileFormat`, `journalctl -o short-iso` / `short-iso-precise`);
//! - RFC 5424 `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] message` (OPNsense's own log files);
//! - the kernel ring buffer as `dmesg` prints it: `[ 12345.678901] message` (seconds since boot:
//!   no wall time) or, with `dmesg -T`, `[Sat Dec  5 10:12:01 2026] message` (local time).
//!
//! A line that starts with none of these is all message, without a time. Nothing here indexes
//! past what it checked: a line is any text.

use super::time::{self, Civil, TimeError, Tz};

/// Slack for a clock that runs ahead of the file's: a BSD time up to a day after the reference
/// is still taken to be in the reference's year.
const SKEW_NS: i64 = 86_400 * 1_000_000_000;

/// The time a header gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// No wall-clock time: no header, RFC 5424's `-`, dmesg's seconds since boot.
    None,
    /// BSD syslog `Mmm dd hh:mm:ss[.fraction]`: no year, no zone.
    NoYear {
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        ns: u32,
    },
    /// A full date and time, with its offset east of UTC when the text gives one (otherwise
    /// the device's local time).
    Full(Civil, Option<i32>),
    /// Shaped like a time, but not one (`2026-13-05T...`).
    Bad(TimeError),
}

impl Stamp {
    /// UTC nanoseconds. A time with an offset is read as written; one without, as local time
    /// in the clock `tz`; a BSD time, in the year that puts it at or before
    /// `reference` (when the log was last written, as local time at `tz`), allowing a day of
    /// clock skew: a December line in a file last written in January is of the year before.
    /// `Ok(None)` for no wall time, and for a BSD time when there is no reference.
    pub fn resolve(
        self,
        tz: impl Into<Tz>,
        reference: Option<i64>,
    ) -> Result<Option<i64>, TimeError> {
        let tz: Tz = tz.into();
        match self {
            Stamp::None => Ok(None),
            Stamp::Bad(e) => Err(e),
            Stamp::Full(c, Some(offset)) => c.at(offset).map(Some),
            Stamp::Full(c, None) => c.at(tz).map(Some),
            Stamp::NoYear {
                mo,
                d,
                h,
                mi,
                s,
                ns,
            } => {
                let Some(r) = reference else {
                    // No year to take; a date that cannot be in any is still counted.
                    time::to_ns(2000, mo, d, h, mi, s, ns, 0)?;
                    return Ok(None);
                };
                let local =
                    r.saturating_add(i64::from(tz.offset_at_utc(r)).saturating_mul(1_000_000_000));
                let (y, ..) = time::date_of(local);
                let t = time::to_ns(y, mo, d, h, mi, s, ns, tz)?;
                if t > r.saturating_add(SKEW_NS) {
                    time::to_ns(y.saturating_sub(1), mo, d, h, mi, s, ns, tz).map(Some)
                } else {
                    Ok(Some(t))
                }
            }
        }
    }
}

/// A line's header and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub stamp: Stamp,
    pub host: Option<&'a str>,
    /// The program (`kernel`, `filterlog`), without its process id and colon.
    pub app: Option<&'a str>,
    /// The program came with a process id (`filterlog[123]:`, RFC 5424's PROCID).
    pub pid: bool,
    /// The text after the host name, the tag included (after the time when there is no host).
    pub after_host: &'a str,
    /// The message: after the tag, or after the host when no tag could be told.
    pub msg: &'a str,
}

/// The next whitespace-separated word and the text after it (starting at the whitespace).
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    Some((s.get(..end)?, s.get(end..)?))
}

/// A syslog tag, `name:` or `name[pid]:`: the name and whether a pid came with it.
fn tag(w: &str) -> Option<(&str, bool)> {
    let t = w.strip_suffix(':')?;
    let (name, pid) = match t.split_once('[') {
        Some((n, rest)) => {
            let pid = rest.strip_suffix(']')?;
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (n, true)
        }
        None => (t, false),
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    ok.then_some((name, pid))
}

/// A number of 1-2 digits (a BSD day of the month).
fn day(s: &str) -> Option<u32> {
    (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// An ISO time word: its stamp (a bad time when it has the shape but not the values).
fn iso_stamp(w: &str) -> Stamp {
    match time::iso(w) {
        Some((c, off)) => Stamp::Full(c, off),
        None => Stamp::Bad(TimeError::Malformed),
    }
}

/// The inside of dmesg's brackets: seconds since boot (`   12.345678`) or `dmesg -T`'s
/// `Sat Dec  5 10:12:01 2026`.
fn dmesg(inside: &str) -> Option<Stamp> {
    let t = inside.trim();
    if let Some((a, b)) = t.split_once('.') {
        if !a.is_empty()
            && a.bytes().all(|x| x.is_ascii_digit())
            && b.bytes().all(|x| x.is_ascii_digit())
        {
            return Some(Stamp::None);
        }
    }
    let w: Vec<&str> = t.split_ascii_whitespace().collect();
    let [_, mo, d, clock, y] = w.as_slice() else {
        return None;
    };
    let mo = time::month(mo)?;
    let d = day(d)?;
    let (h, mi, s, ns) = time::clock(clock)?;
    let y = time::syslog_year(y)?;
    Some(Stamp::Full(
        Civil {
            y,
            mo,
            d,
            h,
            mi,
            s,
            ns,
        },
        None,
    ))
}

/// RFC 5424 after `1 TIMESTAMP`: `HOST APP PROCID MSGID SD MSG`.
fn rfc5424<'a>(stamp: Stamp, rest: &'a str) -> Header<'a> {
    let nil = |w: &'a str| (w != "-").then_some(w);
    let mut h = Header {
        stamp,
        host: None,
        app: None,
        pid: false,
        after_host: rest,
        msg: "",
    };
    let Some((host, r)) = word(rest) else {
        return h;
    };
    h.host = nil(host);
    h.after_host = r;
    let Some((app, r)) = word(r) else {
        return h;
    };
    h.app = nil(app);
    let Some((procid, r)) = word(r) else {
        return h;
    };
    h.pid = procid != "-";
    let Some((_msgid, r)) = word(r) else {
        return h;
    };
    h.msg = structured_data_end(r.trim_start()).trim_start_matches('\u{feff}');
    h
}

/// What follows RFC 5424's structured data (`-`, or `[id k="v" ...]` elements, `\]` and `\"`
/// escaped inside values), and the space after it.
fn structured_data_end(s: &str) -> &str {
    if let Some(r) = s.strip_prefix('-') {
        return r.strip_prefix(' ').unwrap_or(r);
    }
    let b = s.as_bytes();
    let mut i = 0usize;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let r = s.get(i.min(s.len())..).unwrap_or("");
    r.strip_prefix(' ').unwrap_or(r)
}

/// Splits a line into its syslog header and message.
pub fn split(line: &str) -> Header<'_> {
    let s = line.trim_start();
    // A priority glued to what follows: `<134>Dec`, `<134>1 2026-...`.
    let s = match s.strip_prefix('<').and_then(|r| r.split_once('>')) {
        Some((pri, rest)) if !pri.is_empty() && pri.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => s,
    };
    let none = Header {
        stamp: Stamp::None,
        host: None,
        app: None,
        pid: false,
        after_host: s,
        msg: s,
    };
    if let Some(rest) = s.strip_prefix("1 ") {
        if let Some((ts, r)) = word(rest) {
            if ts == "-" {
                return rfc5424(Stamp::None, r);
            }
            if time::looks_iso(ts) {
                return rfc5424(iso_stamp(ts), r);
            }
        }
    }
    if let Some(inner) = s.strip_prefix('[') {
        if let Some((inside, after)) = inner.split_once(']') {
            if let Some(stamp) = dmesg(inside) {
                return Header {
                    stamp,
                    after_host: after,
                    msg: after.trim_start(),
                    ..none
                };
            }
        }
        return none;
    }
    let Some((w1, r1)) = word(s) else {
        return none;
    };
    let (stamp, rest) = if time::looks_iso(w1) {
        (iso_stamp(w1), r1)
    } else if let Some(mo) = time::month(w1) {
        let Some((w2, r2)) = word(r1) else {
            return none;
        };
        let Some((w3, r3)) = word(r2) else {
            return none;
        };
        let Some(d) = day(w2) else {
            return none;
        };
        if let Some((h, mi, sec, ns)) = time::clock(w3) {
            (
                Stamp::NoYear {
                    mo,
                    d,
                    h,
                    mi,
                    s: sec,
                    ns,
                },
                r3,
            )
        } else {
            // `Mmm dd yyyy hh:mm:ss`, as Cisco devices write it.
            let (Some(y), Some((w4, r4))) = (time::syslog_year(w3), word(r3)) else {
                return none;
            };
            let Some((h, mi, sec, ns)) = time::clock(w4) else {
                return none;
            };
            let c = Civil {
                y,
                mo,
                d,
                h,
                mi,
                s: sec,
                ns,
            };
            (Stamp::Full(c, None), r4)
        }
    } else {
        return none;
    };
    let mut h = Header {
        stamp,
        after_host: rest,
        msg: rest.trim_start(),
        ..none
    };
    let Some((w, r)) = word(rest) else {
        return h;
    };
    if let Some((app, pid)) = tag(w) {
        h.app = Some(app);
        h.pid = pid;
        h.msg = r.trim_start();
        return h;
    }
    h.host = Some(w);
    h.after_host = r;
    h.msg = r.trim_start();
    if let Some((w2, r2)) = word(r) {
        if let Some((app, pid)) = tag(w2) {
            h.app = Some(app);
            h.pid = pid;
            h.msg = r2.trim_start();
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(d: &str, t: &str, tz: i32) -> Option<i64> {
        time::date_clock(d, t, tz).ok()
    }

    #[test]
    fn bsd_header_with_host_and_tag() {
        let h = split("Dec  5 10:12:01 edge-fw kernel: [12345.678901] EDGE-DROP IN=eth0 OUT=");
        assert_eq!(h.host, Some("edge-fw"));
        assert_eq!(h.app, Some("kernel"));
        assert!(!h.pid);
        assert_eq!(h.msg, "[12345.678901] EDGE-DROP IN=eth0 OUT=");
        let h = split("<134>Dec  5 10:12:01 pfsense filterlog[12345]: 5,,,1000000103");
        assert_eq!(
            (h.app, h.pid, h.msg),
            (Some("filterlog"), true, "5,,,1000000103")
        );
        // pfSense's remote BSD format has no host.
        let h = split("Dec  5 10:12:01 filterlog[7]: 5,,,1");
        assert_eq!((h.host, h.app, h.msg), (None, Some("filterlog"), "5,,,1"));
        // No tag (ulogd's LOGEMU): the message starts after the host.
        let h = split("Dec  5 10:12:01 fw EDGE-DROP IN=eth0 OUT=");
        assert_eq!(
            (h.host, h.app, h.msg),
            (Some("fw"), None, "EDGE-DROP IN=eth0 OUT=")
        );
    }

    #[test]
    fn bsd_year_from_the_reference() {
        let h = split("Dec  5 10:12:01 fw kernel: x");
        // Written in December 2026: that year.
        let r = ns("2026-12-31", "23:00:00", 0);
        assert_eq!(h.stamp.resolve(0, r), Ok(ns("2026-12-05", "10:12:01", 0)));
        // Rotated in January 2027: still the December before.
        let r = ns("2027-01-02", "00:05:00", 0);
        assert_eq!(h.stamp.resolve(0, r), Ok(ns("2026-12-05", "10:12:01", 0)));
        // --tz-offset applies to the wall clock.
        assert_eq!(
            h.stamp.resolve(3600, r),
            Ok(ns("2026-12-05", "09:12:01", 0))
        );
        // A line a few hours after the file's time (clock skew) stays in its year.
        let r = ns("2026-12-05", "08:00:00", 0);
        assert_eq!(h.stamp.resolve(0, r), Ok(ns("2026-12-05", "10:12:01", 0)));
        // Without a reference, no time rather than a guess.
        assert_eq!(h.stamp.resolve(0, None), Ok(None));
        // A day that cannot be: counted, not guessed.
        let h = split("Dec 35 10:12:01 fw kernel: x");
        assert_eq!(h.stamp.resolve(0, r), Err(TimeError::Malformed));
        // Before 1970 there is no year to take.
        let h = split("Dec  5 10:12:01 fw kernel: x");
        assert_eq!(h.stamp.resolve(0, Some(0)), Err(TimeError::OutOfRange));
    }

    #[test]
    fn iso_and_rfc5424_headers() {
        let h = split("2026-12-05T10:12:01.123456+01:00 edge-fw kernel: EDGE-DROP IN=eth0");
        assert_eq!(h.app, Some("kernel"));
        assert_eq!(
            h.stamp.resolve(7200, None),
            time::date_clock("2026-12-05", "09:12:01.123456", 0).map(Some)
        );
        // journald short-iso: an offset without a colon.
        let h = split("2026-12-05T10:12:01+0100 edge-fw kernel: x");
        assert_eq!(
            h.stamp.resolve(0, None),
            Ok(ns("2026-12-05", "09:12:01", 0))
        );
        let h = split(
            "<134>1 2026-12-05T10:12:01+01:00 opnsense filterlog 12345 - [meta sequenceId=\"1\"] 5,,,x",
        );
        assert_eq!(
            (h.host, h.app, h.pid, h.msg),
            (Some("opnsense"), Some("filterlog"), true, "5,,,x")
        );
        assert_eq!(
            h.stamp.resolve(0, None),
            Ok(ns("2026-12-05", "09:12:01", 0))
        );
        let h = split("<13>1 - host app - - [a x=\"q]\\\"\"][b] msg");
        assert_eq!((h.stamp, h.msg), (Stamp::None, "msg"));
        let h = split("<13>1 2026-13-05T10:12:01Z host app - - - msg");
        assert_eq!(h.stamp.resolve(0, None), Err(TimeError::Malformed));
        let h = split("2026-12-05T10:12:01+25:00 host kernel: msg");
        assert_eq!(h.stamp, Stamp::Bad(TimeError::Malformed));
        // Cut short anywhere: no panic.
        for cut in [
            "<13>1 2026-12-05T10:12:01Z",
            "<13>1 - h a 1 - [x \\",
            "Dec",
            "Dec 5",
        ] {
            let _ = split(cut);
        }
    }

    #[test]
    fn dmesg_lines() {
        let h = split("[   12.345678] EDGE-DROP IN=eth0 OUT=");
        assert_eq!((h.stamp, h.msg), (Stamp::None, "EDGE-DROP IN=eth0 OUT="));
        let h = split("[Sat Dec  5 10:12:01 2026] EDGE-DROP IN=eth0 OUT=");
        assert_eq!(
            h.stamp.resolve(0, None),
            Ok(ns("2026-12-05", "10:12:01", 0))
        );
        let h = split("[UFW BLOCK] IN=eth0 OUT=");
        assert_eq!((h.stamp, h.msg), (Stamp::None, "[UFW BLOCK] IN=eth0 OUT="));
    }
}
