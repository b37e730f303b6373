//! UTC timestamps as RFC 3339 text, from nanoseconds since the Unix epoch (no time zone data
//! needed: captures store UTC), and tshark's `-t` formats for the text flows table.

use chrono::{DateTime, Local, Utc};

/// tshark's `-t` formats that a flow's start time can take (`man tshark`, `-t`). The packet
/// deltas (`d`, `dd`) are left out: a flow table has no previous packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `a`: local time of day.
    Absolute,
    /// `ad`: local date and time.
    AbsoluteDate,
    /// `adoy`: local year/day-of-year and time.
    AbsoluteDoy,
    /// `u`: UTC time of day.
    Utc,
    /// `ud`: UTC date and time.
    UtcDate,
    /// `udoy`: UTC year/day-of-year and time.
    UtcDoy,
    /// `r`: seconds since the first packet read.
    Relative,
    /// `e`: seconds since the Unix epoch.
    Epoch,
}

impl TimeFormat {
    /// Parses tshark's letters; a value that looks like a file is the old `-t FILE` habit
    /// (`-t` once meant `--topology`) and is pointed there.
    pub fn parse(s: &str) -> Result<TimeFormat, String> {
        Ok(match s {
            "a" => TimeFormat::Absolute,
            "ad" => TimeFormat::AbsoluteDate,
            "adoy" => TimeFormat::AbsoluteDoy,
            "u" => TimeFormat::Utc,
            "ud" => TimeFormat::UtcDate,
            "udoy" => TimeFormat::UtcDoy,
            "r" => TimeFormat::Relative,
            "e" => TimeFormat::Epoch,
            "d" | "dd" => {
                return Err(format!(
                    "`{s}` is a delta from the previous packet, which a flow table does not \
                     have; use r (seconds since the first packet)"
                ))
            }
            _ => {
                return Err(format!(
                    "`{s}` is not a time format (a, ad, adoy, u, ud, udoy, r, e); -t is \
                     tshark's time format here: give a topology file with --topology {s}"
                ))
            }
        })
    }

    /// A flow's start, `ts_ns`, in this format; `first_ns` is the run's first packet (for `r`).
    /// Microseconds, as tshark shows a microsecond capture, truncated rather than rounded so
    /// that a time of day never reads 60 seconds.
    pub fn format(self, ts_ns: i64, first_ns: i64) -> String {
        let micros = |ns: i64| {
            let us = ns.div_euclid(1000);
            format!(
                "{}{}.{:06}",
                if us < 0 { "-" } else { "" },
                us.abs() / 1_000_000,
                us.abs() % 1_000_000
            )
        };
        let pattern = match self {
            TimeFormat::Relative => return micros(ts_ns - first_ns),
            TimeFormat::Epoch => return micros(ts_ns),
            TimeFormat::Absolute | TimeFormat::Utc => "%H:%M:%S%.6f",
            TimeFormat::AbsoluteDate | TimeFormat::UtcDate => "%Y-%m-%d %H:%M:%S%.6f",
            TimeFormat::AbsoluteDoy | TimeFormat::UtcDoy => "%Y/%j %H:%M:%S%.6f",
        };
        let utc = DateTime::<Utc>::from_timestamp(
            ts_ns.div_euclid(1_000_000_000),
            ts_ns.rem_euclid(1_000_000_000) as u32,
        )
        .unwrap_or_default();
        match self {
            TimeFormat::Absolute | TimeFormat::AbsoluteDate | TimeFormat::AbsoluteDoy => {
                utc.with_timezone(&Local).format(pattern).to_string()
            }
            _ => utc.format(pattern).to_string(),
        }
    }

    /// The column's heading.
    pub fn heading(self) -> &'static str {
        match self {
            TimeFormat::Relative => "start (s)",
            TimeFormat::Epoch => "start (epoch)",
            TimeFormat::Utc | TimeFormat::UtcDate | TimeFormat::UtcDoy => "start (UTC)",
            _ => "start (local)",
        }
    }
}

/// Formats `ns` since the epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
///
/// Every flow record writes six of these: the digits are put in place directly rather than
/// through `format!`'s padding machinery (a 650,000-flow JSON Lines report spent more time
/// formatting times than serializing them).
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // An i64 of nanoseconds spans 1677-2262: four digits, always.
    let Ok(y @ 0..=9999) = u32::try_from(y) else {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        );
    };
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    // `sod` is in 0..86_400 and `frac` in 0..10^9: both fit u32.
    let sod = sod as u32;
    put(11, 2, sod / 3600);
    put(14, 2, (sod % 3600) / 60);
    put(17, 2, sod % 60);
    put(20, 9, frac as u32);
    b.iter().map(|&c| char::from(c)).collect()
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tshark_time_formats_in_utc() {
        let t = 1_793_610_000_002_000_999;
        let first = 1_793_610_000_000_000_000;
        assert_eq!(TimeFormat::Utc.format(t, first), "09:00:00.002000");
        assert_eq!(
            TimeFormat::UtcDate.format(t, first),
            "2026-11-02 09:00:00.002000"
        );
        assert_eq!(
            TimeFormat::UtcDoy.format(t, first),
            "2026/306 09:00:00.002000"
        );
        assert_eq!(TimeFormat::Epoch.format(t, first), "1793610000.002000");
        assert_eq!(TimeFormat::Relative.format(t, first), "0.002000");
        assert_eq!(TimeFormat::Relative.format(first, t), "-0.002001");
    }

    #[test]
    fn time_format_letters() {
        assert_eq!(TimeFormat::parse("ad"), Ok(TimeFormat::AbsoluteDate));
        assert_eq!(TimeFormat::parse("e"), Ok(TimeFormat::Epoch));
        let Err(e) = TimeFormat::parse("site.toml") else {
            panic!("a file is no time format")
        };
        assert!(e.contains("--topology site.toml"), "{e}");
        assert!(TimeFormat::parse("dd").is_err());
    }

    #[test]
    fn digits_put_in_place_agree_with_format() {
        let reference = |ns: i64| {
            let secs = ns.div_euclid(1_000_000_000);
            let sod = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
                sod / 3600,
                (sod % 3600) / 60,
                sod % 60,
                ns.rem_euclid(1_000_000_000)
            )
        };
        let mut ns = i64::MIN;
        while let Some(next) = ns.checked_add(7_919_000_000_123_457) {
            assert_eq!(rfc3339(ns), reference(ns));
            ns = next;
        }
        for ns in [i64::MIN, i64::MAX, 0, -1, 1] {
            assert_eq!(rfc3339(ns), reference(ns));
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_793_610_000_123_456_789),
            "2026-11-02T09:00:00.123456789Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
