//! Civil dates and times of log lines to nanoseconds since the Unix epoch.
//!
//! Every value comes from an input line, so every step is bounded: a year outside [`YEARS`]
//! or a duration beyond [`MAX_DURATION_NS`] is refused with a [`TimeError`] that names the
//! line's bucket, never wrapped into a garbage time (nor, in debug builds, a panic).

use std::ops::RangeInclusive;

/// Years a log time may carry: from the Unix epoch to 2262, the last year that nanoseconds
/// since 1970 reach in 64 bits. An earlier year is a clock that was never set or a damaged line.
pub const YEARS: RangeInclusive<i64> = 1970..=2262;

/// Longest session a line may report (ten years): beyond it the line is damaged.
pub const MAX_DURATION_NS: i64 = 10 * 366 * 86_400 * 1_000_000_000;

/// Why a line's time could not be used; each is its own unparsable bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not a date or time: letters, month 13, hour 25.
    Malformed,
    /// Well formed, but outside [`YEARS`] (year 0, year 99999, an epoch in the far future).
    OutOfRange,
}

impl TimeError {
    /// The line's unparsable bucket.
    pub fn bucket(self) -> &'static str {
        match self {
            TimeError::Malformed => "bad_timestamp",
            TimeError::OutOfRange => "time_out_of_range",
        }
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
/// Callers bound the year ([`YEARS`]); the arithmetic saturates rather than overflow anyway.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y.saturating_sub(1) } else { y };
    let era = if y >= 0 { y } else { y.saturating_sub(399) } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.saturating_mul(146_097)
        .saturating_add(doe)
        .saturating_sub(719_468)
}

/// A time zone by name (`Europe/Berlin`), from the time zone database built into edgewise
/// (IANA tzdb, the same on every machine: no system files needed).
#[derive(Debug)]
pub struct Zone {
    pub name: String,
    tz: jiff::tz::TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Zone {
    /// The zone of this name (any case); `None` when the database has no such zone.
    pub fn named(name: &str) -> Option<Zone> {
        let tz = jiff::tz::TimeZone::get(name).ok()?;
        let name = tz.iana_name().unwrap_or(name).to_string();
        Some(Zone { name, tz })
    }

    /// Zone names that look like `name`: the same last part (`Berlin`), or containing it.
    pub fn like(name: &str) -> Vec<String> {
        let want = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
        if want.len() < 3 {
            return Vec::new();
        }
        let mut found: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.to_string())
            .filter(|n| {
                let last = n.rsplit('/').next().unwrap_or(n).to_ascii_lowercase();
                last == want
                    || (want.len() >= 4 && last.contains(&want))
                    || (want.len() >= 5 && edits(&last, &want) <= 2)
            })
            .collect();
        found.sort();
        found.truncate(5);
        found
    }

    /// Seconds east of UTC at a UTC instant (ns since the epoch).
    pub fn offset_at_utc(&self, ns: i64) -> i32 {
        jiff::Timestamp::from_nanosecond(i128::from(ns))
            .map(|t| self.tz.to_offset(t).seconds())
            .unwrap_or(0)
    }

    /// How a wall-clock time fits the zone: the offset to read it at, and whether the time
    /// is one of the hour repeated when daylight saving ends or the hour skipped when it
    /// starts.
    fn fit(&self, y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> (i32, Fit) {
        use jiff::tz::AmbiguousOffset;
        let dt = (|| {
            jiff::civil::DateTime::new(
                i16::try_from(y).ok()?,
                i8::try_from(mo).ok()?,
                i8::try_from(d).ok()?,
                i8::try_from(h).ok()?,
                i8::try_from(mi).ok()?,
                // A leap second is read as the second before it.
                i8::try_from(s.min(59)).ok()?,
                0,
            )
            .ok()
        })();
        let Some(dt) = dt else {
            return (0, Fit::Exact);
        };
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => (offset.seconds(), Fit::Exact),
            // The first pass of a repeated hour, as clocks that write it once mean it.
            AmbiguousOffset::Fold { before, .. } => (before.seconds(), Fit::Repeated),
            // A time that does not exist: the clock had not changed yet (as if before).
            AmbiguousOffset::Gap { before, .. } => (before.seconds(), Fit::Skipped),
        }
    }
}

/// Single-character insertions, deletions and substitutions between two short names.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The clock a log's local times are written in: a fixed offset east of UTC, in seconds
/// (`--tz-offset +01:00`), or a named zone, whose offset follows its daylight-saving rules at
/// each line's date (`--tz-offset Europe/Berlin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tz {
    Fixed(i32),
    Zone(&'static Zone),
}

impl Default for Tz {
    fn default() -> Tz {
        Tz::Fixed(0)
    }
}

impl From<i32> for Tz {
    fn from(s: i32) -> Tz {
        Tz::Fixed(s)
    }
}

impl Tz {
    /// Seconds east of UTC at a UTC instant.
    pub fn offset_at_utc(self, ns: i64) -> i32 {
        match self {
            Tz::Fixed(s) => s,
            Tz::Zone(z) => z.offset_at_utc(ns),
        }
    }

    /// How a wall-clock time written in this clock fits it ([`Fit::Exact`] at a fixed offset).
    #[allow(clippy::too_many_arguments)]
    pub fn fit(self, y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> (i32, Fit) {
        match self {
            Tz::Fixed(o) => (o, Fit::Exact),
            Tz::Zone(z) => z.fit(y, mo, d, h, mi, s),
        }
    }
}

/// How a wall-clock time fits a named zone around its daylight-saving changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    #[default]
    Exact,
    /// In the hour that repeats when daylight saving ends: read as its first pass.
    Repeated,
    /// In the hour skipped when daylight saving starts (no such time in the zone): read at
    /// the offset before the change.
    Skipped,
}

thread_local! {
    /// The fit of the last wall-clock time read in a named zone on this thread that was not
    /// exact: the parsers convert times deep inside; [`crate::logs::parse_line_at`] clears it
    /// before a line and takes it after, for the line's record.
    static LAST_FIT: std::cell::Cell<Fit> = const { std::cell::Cell::new(Fit::Exact) };
}

/// The fit noted since the last call ([`LAST_FIT`]), cleared.
pub(crate) fn take_fit() -> Fit {
    LAST_FIT.replace(Fit::Exact)
}

/// A local wall-clock time to UTC nanoseconds, in the clock `tz` (a fixed offset east of UTC,
/// or a named zone). Years outside [`YEARS`] are out of range (a year read from a line can be
/// any number).
#[allow(clippy::too_many_arguments)]
pub fn to_ns(
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    frac_ns: u32,
    tz: impl Into<Tz>,
) -> Result<i64, TimeError> {
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
        || frac_ns >= 1_000_000_000
    {
        return Err(TimeError::Malformed);
    }
    if !YEARS.contains(&y) {
        return Err(TimeError::OutOfRange);
    }
    let (tz, fit) = tz.into().fit(y, mo, d, h, mi, s);
    if fit != Fit::Exact {
        LAST_FIT.set(fit);
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        - i64::from(tz);
    secs.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(i64::from(frac_ns)))
        .filter(|n| *n >= 0)
        .ok_or(TimeError::OutOfRange)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A year of digits: any count of digits is a year (to be refused by [`to_ns`] when absurd);
/// more than a `u32` holds reads as `i64::MAX`, out of every range.
fn year(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<i64>().unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD` or `YYYY/MM/DD`: the shape only (a year of at least four digits); the range is
/// [`to_ns`]'s to check.
pub fn date(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.split(['-', '/']);
    let y = it.next()?;
    if y.len() < 4 {
        return None;
    }
    let y = year(y)?;
    let m = num(it.next()?)?;
    let d = num(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some((y, m, d))
}

/// A year written in a syslog prefix (`Apr 29 2013 ...`), any number of digits.
pub fn syslog_year(s: &str) -> Option<i64> {
    year(s)
}

/// `HH:MM:SS[.fraction]`, the fraction as nanoseconds.
pub fn clock(s: &str) -> Option<(u32, u32, u32, u32)> {
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut it = hms.split(':');
    let h = num(it.next()?)?;
    let m = num(it.next()?)?;
    let sec = num(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    let ns = match frac {
        Some(f) if !f.is_empty() && f.len() <= 9 => num(f)? * 10u32.pow(9 - f.len() as u32),
        Some(_) => return None,
        None => 0,
    };
    Some((h, m, sec, ns))
}

/// A date and a clock in separate fields, in local time at `tz`.
pub fn date_clock(d: &str, c: &str, tz: impl Into<Tz>) -> Result<i64, TimeError> {
    let (y, mo, dd) = date(d).ok_or(TimeError::Malformed)?;
    let (h, mi, s, ns) = clock(c).ok_or(TimeError::Malformed)?;
    to_ns(y, mo, dd, h, mi, s, ns, tz)
}

/// A civil date and wall-clock time, as a log line writes it (no zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub y: i64,
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
    pub ns: u32,
}

impl Civil {
    /// UTC nanoseconds of this wall-clock time in the clock `tz` ([`to_ns`]).
    pub fn at(self, tz: impl Into<Tz>) -> Result<i64, TimeError> {
        to_ns(
            self.y, self.mo, self.d, self.h, self.mi, self.s, self.ns, tz,
        )
    }
}

/// Whether `s` starts like an ISO 8601 date and time (`YYYY-MM-DDT`): a time to read, or to
/// count as a bad one, rather than a word of the message.
pub fn looks_iso(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
}

/// An RFC 3339 / ISO 8601 date and time, `YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|+HHMM]`
/// (rsyslog's high-precision template, RFC 5424, journald's `short-iso`), with its offset east
/// of UTC in seconds when it gives one. `None` when it is not of this shape.
pub fn iso(s: &str) -> Option<(Civil, Option<i32>)> {
    let (date_s, rest) = s.split_once('T')?;
    let (y, mo, d) = date(date_s)?;
    let (clock_s, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, Some(0))
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let off = super::parse_tz_offset(rest.get(i..)?).ok()?;
        (rest.get(..i)?, Some(off))
    } else {
        (rest, None)
    };
    let (h, mi, sec, ns) = clock(clock_s)?;
    Some((
        Civil {
            y,
            mo,
            d,
            h,
            mi,
            s: sec,
            ns,
        },
        offset,
    ))
}

/// The civil date (year, month, day) of a count of days since 1970-01-01 (H. Hinnant's
/// `civil_from_days`), for the day counts an `i64` of nanoseconds can reach.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.saturating_add(719_468);
    let era = if z >= 0 { z } else { z.saturating_sub(146_096) } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The UTC date of an instant in nanoseconds since the epoch.
pub fn date_of(ns: i64) -> (i64, u32, u32) {
    civil_from_days(ns.div_euclid(86_400_000_000_000))
}

/// Month abbreviation (`Jan`...) to its number.
pub fn month(s: &str) -> Option<u32> {
    const M: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    // Every line of a syslog has one: compared in place, not lowered into a new string.
    if s.len() != 3 {
        return None;
    }
    M.iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

/// Epoch seconds with an optional fraction (`1258531221.486539`) to nanoseconds; a time before
/// 1970 or beyond 2262 is out of range.
pub fn epoch_secs(s: &str) -> Result<i64, TimeError> {
    let (whole, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::Malformed);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::Malformed);
    }
    if whole.starts_with('-') {
        return Err(TimeError::OutOfRange);
    }
    let w: i64 = whole.parse().map_err(|_| TimeError::OutOfRange)?;
    let mut ns: i64 = 0;
    if !frac.is_empty() {
        let f = &frac[..frac.len().min(9)];
        ns = f.parse::<i64>().map_err(|_| TimeError::Malformed)? * 10i64.pow(9 - f.len() as u32);
    }
    w.checked_mul(1_000_000_000)
        .and_then(|b| b.checked_add(ns))
        .ok_or(TimeError::OutOfRange)
}

/// Whole seconds of a session's length to nanoseconds; `None` beyond [`MAX_DURATION_NS`].
pub fn secs_to_ns(secs: u64) -> Option<i64> {
    i64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)
        .filter(|n| *n <= MAX_DURATION_NS)
}

/// Fractional seconds (Zeek's `duration`) to nanoseconds; `None` when negative, not a number,
/// or beyond [`MAX_DURATION_NS`].
pub fn float_secs_to_ns(secs: f64) -> Option<i64> {
    let ns = secs * 1e9;
    (ns.is_finite() && ns >= 0.0 && ns <= MAX_DURATION_NS as f64).then_some(ns as i64)
}

/// `h:mm:ss` (ASA teardowns) to nanoseconds; `None` when malformed or beyond
/// [`MAX_DURATION_NS`].
pub fn hms_to_ns(s: &str) -> Option<i64> {
    let mut it = s.split(':');
    let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let n = |x: &str| -> Option<u64> {
        (!x.is_empty() && x.len() <= 12 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    let (h, m, sec) = (n(h)?, n(m)?, n(sec)?);
    if m > 59 || sec > 59 {
        return None;
    }
    secs_to_ns(h.checked_mul(3600)?.checked_add(m * 60 + sec)?)
}

/// An epoch count in the unit its digit count implies: seconds up to 10 digits, milliseconds up
/// to 13, microseconds up to 16, nanoseconds beyond (CEF's `rt` is milliseconds by its
/// dictionary, but devices write seconds too); a fraction after a dot is allowed on seconds.
pub fn epoch_any(s: &str) -> Result<i64, TimeError> {
    if s.contains('.') {
        return epoch_secs(s);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeError::Malformed);
    }
    let n: i64 = s.parse().map_err(|_| TimeError::OutOfRange)?;
    let scale = match s.trim_start_matches('0').len() {
        0..=10 => 1_000_000_000,
        11..=13 => 1_000_000,
        14..=16 => 1_000,
        _ => 1,
    };
    n.checked_mul(scale).ok_or(TimeError::OutOfRange)
}

/// A date and time as a line wrote it: the year may be missing (a pattern without one), the
/// offset east of UTC is the one the text names (`None`: no zone, or one named that is not
/// UTC and has no offset, such as `CET`: the device's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub y: Option<i64>,
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
    pub ns: u32,
    pub offset: Option<i32>,
}

impl Written {
    /// UTC nanoseconds: with the text's offset, else at `tz`; a time without a year in the year
    /// that puts it at or before `reference` ([`super::syslog::Stamp::resolve`]).
    pub fn resolve(
        self,
        tz: impl Into<Tz>,
        reference: Option<i64>,
    ) -> Result<Option<i64>, TimeError> {
        let tz: Tz = match self.offset {
            Some(o) => Tz::Fixed(o),
            None => tz.into(),
        };
        let stamp = match self.y {
            Some(y) => super::syslog::Stamp::Full(
                Civil {
                    y,
                    mo: self.mo,
                    d: self.d,
                    h: self.h,
                    mi: self.mi,
                    s: self.s,
                    ns: self.ns,
                },
                None,
            ),
            None => super::syslog::Stamp::NoYear {
                mo: self.mo,
                d: self.d,
                h: self.h,
                mi: self.mi,
                s: self.s,
                ns: self.ns,
            },
        };
        stamp.resolve(tz, reference)
    }
}

/// A zone word: `UTC`, `GMT`, `UT`, `Z` (offset 0), an offset (`+01:00`, `-0500`,
/// `GMT+01:00`), or a name of letters with no offset (`CET`, `Europe/Berlin`): `Some(None)`,
/// local time. `None` when it is none of these.
pub fn zone(s: &str) -> Option<Option<i32>> {
    let u = s.to_ascii_uppercase();
    if matches!(u.as_str(), "UTC" | "GMT" | "UT" | "Z") {
        return Some(Some(0));
    }
    let rest = u
        .strip_prefix("GMT")
        .or_else(|| u.strip_prefix("UTC"))
        .unwrap_or(&u);
    if rest.starts_with(['+', '-']) {
        return super::parse_tz_offset(rest).ok().map(Some);
    }
    let named = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphabetic() || matches!(b, b'/' | b'_'));
    named.then_some(None)
}

/// One piece of a date pattern: a run of one pattern letter, or literal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Field(u8, usize),
    Text(&'a str),
}

/// A Java `SimpleDateFormat` pattern (LEEF's `devTimeFormat`, CEF's date forms) in pieces;
/// `None` for an unterminated quote.
fn pieces(pattern: &str) -> Option<Vec<Piece<'_>>> {
    let b = pattern.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_alphabetic() {
            let start = i;
            while b.get(i) == Some(&c) {
                i += 1;
            }
            out.push(Piece::Field(c, i - start));
        } else if c == b'\'' {
            // 'literal', '' is a quote.
            if b.get(i + 1) == Some(&b'\'') {
                out.push(Piece::Text("'"));
                i += 2;
                continue;
            }
            let start = i + 1;
            let len = b.get(start..)?.iter().position(|&x| x == b'\'')?;
            out.push(Piece::Text(pattern.get(start..start + len)?));
            i = start + len + 1;
        } else {
            let start = i;
            while b
                .get(i)
                .is_some_and(|x| !x.is_ascii_alphabetic() && *x != b'\'')
            {
                i += 1;
            }
            out.push(Piece::Text(pattern.get(start..i)?));
        }
    }
    Some(out)
}

/// Whether a pattern letter reads digits.
fn numeric(c: u8) -> bool {
    matches!(
        c,
        b'y' | b'd' | b'H' | b'h' | b'k' | b'K' | b'm' | b's' | b'S'
    )
}

/// Reads a date and time written as a Java `SimpleDateFormat` pattern says: letters `y`, `M`
/// (digits, or a month name from `MMM`), `d`, `H`, `h`/`K`/`k` with `a`, `m`, `s`, `S` (a
/// fraction of the second), `E` (a day name, skipped), `z`, `Z`, `X` (the zone) and quoted or
/// plain literals; a space matches one or more. `None` when the text does not fit the pattern
/// or the pattern has a letter not listed; the values' ranges are [`to_ns`]'s to check.
pub fn java_date(text: &str, pattern: &str) -> Option<Written> {
    let pieces = pieces(pattern)?;
    let t = text.as_bytes();
    let mut at = 0usize;
    let mut w = Written {
        y: None,
        mo: 1,
        d: 1,
        h: 0,
        mi: 0,
        s: 0,
        ns: 0,
        offset: None,
    };
    let mut pm: Option<bool> = None;
    let mut twelve = false;
    for (k, piece) in pieces.iter().enumerate() {
        match *piece {
            Piece::Text(lit) => {
                for &c in lit.as_bytes() {
                    if c == b' ' {
                        let start = at;
                        while t.get(at) == Some(&b' ') {
                            at += 1;
                        }
                        if at == start {
                            return None;
                        }
                    } else if t.get(at) == Some(&c) {
                        at += 1;
                    } else {
                        return None;
                    }
                }
            }
            Piece::Field(c, len) => {
                let next_numeric = matches!(pieces.get(k + 1),
                    Some(Piece::Field(n, l)) if numeric(*n) || (*n == b'M' && *l < 3));
                let digits = |at: &mut usize, max: usize| -> Option<(u64, usize)> {
                    let start = *at;
                    while *at - start < max && t.get(*at).is_some_and(u8::is_ascii_digit) {
                        *at += 1;
                    }
                    let n = *at - start;
                    if n == 0 {
                        return None;
                    }
                    let v = text.get(start..*at)?.parse::<u64>().ok()?;
                    Some((v, n))
                };
                let max = if next_numeric { len.max(1) } else { 9 };
                let small = |v: u64| u32::try_from(v).ok();
                match c {
                    b'y' => {
                        let (v, n) = digits(&mut at, if len == 2 { 2 } else { max })?;
                        let v = i64::try_from(v).ok()?;
                        w.y = Some(if len == 2 && n == 2 { 2000 + v } else { v });
                    }
                    b'M' if len >= 3 => {
                        let start = at;
                        while t.get(at).is_some_and(u8::is_ascii_alphabetic) {
                            at += 1;
                        }
                        w.mo = month(text.get(start..(start + 3).min(at))?)?;
                    }
                    b'M' => w.mo = small(digits(&mut at, max.min(2))?.0)?,
                    b'd' => w.d = small(digits(&mut at, max.min(2))?.0)?,
                    b'H' | b'k' => w.h = small(digits(&mut at, max.min(2))?.0)?,
                    b'h' | b'K' => {
                        w.h = small(digits(&mut at, max.min(2))?.0)?;
                        twelve = true;
                    }
                    b'm' => w.mi = small(digits(&mut at, max.min(2))?.0)?,
                    b's' => w.s = small(digits(&mut at, max.min(2))?.0)?,
                    b'S' => {
                        let (v, n) = digits(&mut at, max)?;
                        w.ns = small(v)?
                            .checked_mul(10u32.checked_pow(9u32.checked_sub(n as u32)?)?)?;
                    }
                    b'a' => {
                        let word = text.get(at..at + 2)?;
                        pm = Some(match word.to_ascii_uppercase().as_str() {
                            "AM" => false,
                            "PM" => true,
                            _ => return None,
                        });
                        at += 2;
                    }
                    b'E' => {
                        while t.get(at).is_some_and(u8::is_ascii_alphabetic) {
                            at += 1;
                        }
                    }
                    b'z' | b'Z' | b'X' => {
                        let start = at;
                        while t
                            .get(at)
                            .is_some_and(|x| x.is_ascii_alphanumeric() || b"+-:/_".contains(x))
                        {
                            at += 1;
                        }
                        w.offset = zone(text.get(start..at)?)?;
                    }
                    _ => return None,
                }
            }
        }
    }
    if at != t.len() {
        return None;
    }
    if twelve {
        if w.h == 0 || w.h > 12 {
            return None;
        }
        w.h = match pm {
            Some(true) if w.h < 12 => w.h + 12,
            Some(false) if w.h == 12 => 0,
            _ => w.h,
        };
    }
    Some(w)
}

/// The date forms CEF's dictionary gives for its time fields (`MMM dd [yyyy] HH:mm:ss[.SSS]
/// [zone]`), also LEEF's default `devTime` form.
const DEVICE_DATES: [&str; 8] = [
    "MMM dd yyyy HH:mm:ss.SSS zzz",
    "MMM dd yyyy HH:mm:ss.SSS",
    "MMM dd yyyy HH:mm:ss zzz",
    "MMM dd yyyy HH:mm:ss",
    "MMM dd HH:mm:ss.SSS zzz",
    "MMM dd HH:mm:ss.SSS",
    "MMM dd HH:mm:ss zzz",
    "MMM dd HH:mm:ss",
];

/// A device's time field as CEF and LEEF write it: epoch milliseconds (or another unit by its
/// digit count, [`epoch_any`]), one of CEF's date forms, or an ISO 8601 date and time. `Err`
/// for a value of none of these shapes, or out of range.
pub fn device_time(
    s: &str,
    tz: impl Into<Tz>,
    reference: Option<i64>,
) -> Result<Option<i64>, TimeError> {
    let tz: Tz = tz.into();
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch_any(s).map(Some);
    }
    if looks_iso(s) {
        let (c, off) = iso(s).ok_or(TimeError::Malformed)?;
        return c.at(off.map_or(tz, Tz::Fixed)).map(Some);
    }
    for p in DEVICE_DATES {
        if let Some(w) = java_date(s, p) {
            return w.resolve(tz, reference);
        }
    }
    Err(TimeError::Malformed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_named_zone_applies_its_daylight_saving_at_each_date() {
        let berlin = Tz::Zone(Box::leak(Box::new(
            Zone::named("europe/berlin").expect("zone"),
        )));
        let utc = |y, mo, d, h, mi| to_ns(y, mo, d, h, mi, 0, 0, 0).expect("utc");
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            to_ns(2026, 1, 15, 12, 0, 0, 0, berlin),
            Ok(utc(2026, 1, 15, 11, 0))
        );
        assert_eq!(
            to_ns(2026, 7, 1, 12, 0, 0, 0, berlin),
            Ok(utc(2026, 7, 1, 10, 0))
        );
        assert_eq!(take_fit(), Fit::Exact);
        // 2026-10-25 02:30 happens twice: read as the first pass (still summer time).
        assert_eq!(
            to_ns(2026, 10, 25, 2, 30, 0, 0, berlin),
            Ok(utc(2026, 10, 25, 0, 30))
        );
        assert_eq!(take_fit(), Fit::Repeated);
        assert_eq!(take_fit(), Fit::Exact, "taken once");
        // 2026-03-29 02:30 never happens: read at the offset before the change.
        assert_eq!(
            to_ns(2026, 3, 29, 2, 30, 0, 0, berlin),
            Ok(utc(2026, 3, 29, 1, 30))
        );
        assert_eq!(take_fit(), Fit::Skipped);
        // A fixed offset is the same all year.
        assert_eq!(
            to_ns(2026, 7, 1, 12, 0, 0, 0, 3600),
            Ok(utc(2026, 7, 1, 11, 0))
        );
        assert_eq!(berlin.offset_at_utc(utc(2026, 7, 1, 0, 0)), 7200);
        assert_eq!(berlin.offset_at_utc(utc(2026, 12, 1, 0, 0)), 3600);
    }

    #[test]
    fn zone_names_close_to_a_wrong_one_are_suggested() {
        assert!(Zone::named("Europe/Berln").is_none());
        assert!(Zone::like("Europe/Berln").contains(&"Europe/Berlin".to_string()));
        assert!(Zone::like("Berlin").contains(&"Europe/Berlin".to_string()));
        assert!(Zone::like("xy").is_empty());
    }

    use super::*;

    #[test]
    fn civil() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2019-05-10 11:37:47 UTC is 1557488267.
        assert_eq!(
            date_clock("2019-05-10", "11:37:47", 0),
            Ok(1_557_488_267_000_000_000)
        );
        // The same wall clock at +01:00 is an hour earlier in UTC.
        assert_eq!(
            date_clock("2019/05/10", "11:37:47", 3600),
            Ok(1_557_484_667_000_000_000)
        );
        assert_eq!(
            epoch_secs("1258531221.486539"),
            Ok(1_258_531_221_486_539_000)
        );
        assert_eq!(
            clock("25:00:00")
                .ok_or(TimeError::Malformed)
                .and_then(|(h, ..)| to_ns(2000, 1, 1, h, 0, 0, 0, 0)),
            Err(TimeError::Malformed)
        );
    }

    #[test]
    fn absurd_values_are_out_of_range_never_wrapped() {
        for y in ["0000", "1969", "2263", "99999", "99999999999999999999999"] {
            assert_eq!(
                date_clock(&format!("{y}-01-01"), "00:00:00", 0),
                Err(TimeError::OutOfRange),
                "{y}"
            );
        }
        assert!(date_clock("2262-04-11", "00:00:00", 0).is_ok());
        // Extreme values straight into the arithmetic: no panic, no wrap.
        assert_eq!(
            days_from_civil(i64::MAX, 1, 1),
            days_from_civil(i64::MAX, 1, 1)
        );
        assert_eq!(
            to_ns(i64::MAX, 12, 31, 23, 59, 60, 999_999_999, -50_400),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            epoch_secs("99999999999999999999"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(epoch_secs("9999999999999"), Err(TimeError::OutOfRange));
        assert_eq!(epoch_secs("-5"), Err(TimeError::OutOfRange));
        assert_eq!(epoch_secs("12a"), Err(TimeError::Malformed));
        assert_eq!(hms_to_ns("0:01:08"), Some(68_000_000_000));
        assert_eq!(hms_to_ns("999999999999:00:00"), None);
        assert_eq!(hms_to_ns("1:99:00"), None);
        assert_eq!(secs_to_ns(u64::MAX), None);
        assert_eq!(float_secs_to_ns(f64::NAN), None);
        assert_eq!(float_secs_to_ns(-1.0), None);
        assert_eq!(float_secs_to_ns(1e300), None);
        assert_eq!(float_secs_to_ns(1.5), Some(1_500_000_000));
    }

    #[test]
    fn iso_times_and_dates_of_instants() {
        let (c, off) = iso("2026-12-05T10:12:01.123456+01:00").expect("iso");
        assert_eq!(off, Some(3600));
        assert_eq!(
            (c.y, c.mo, c.d, c.h, c.mi, c.s, c.ns),
            (2026, 12, 5, 10, 12, 1, 123_456_000)
        );
        assert_eq!(c.at(3600), date_clock("2026-12-05", "09:12:01.123456", 0));
        assert_eq!(
            iso("2026-12-05T10:12:01+0100").map(|x| x.1),
            Some(Some(3600))
        );
        assert_eq!(iso("2026-12-05T09:12:01Z").map(|x| x.1), Some(Some(0)));
        assert_eq!(iso("2026-12-05T10:12:01").map(|x| x.1), Some(None));
        assert_eq!(iso("2026-12-05T10:12:01+99:00"), None);
        assert_eq!(iso("2026-12-05 10:12:01"), None);
        assert!(looks_iso("2026-12-05T10:12:01") && !looks_iso("Dec"));
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(date_of(1_557_488_267_000_000_000), (2019, 5, 10));
        assert_eq!(date_of(-1), (1969, 12, 31));
        // The extremes an i64 of nanoseconds reaches: no overflow.
        assert_eq!(date_of(i64::MAX).0, 2262);
        assert_eq!(date_of(i64::MIN).0, 1677);
    }

    #[test]
    fn device_times_and_java_patterns() {
        let ns = |d: &str, t: &str| date_clock(d, t, 0).ok();
        assert_eq!(epoch_any("1543270652000"), Ok(1_543_270_652_000_000_000));
        assert_eq!(epoch_any("1657997480"), Ok(1_657_997_480_000_000_000));
        assert_eq!(
            epoch_any("99999999999999999999"),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(epoch_any("12x"), Err(TimeError::Malformed));
        let r = ns("2026-12-31", "00:00:00");
        assert_eq!(
            device_time("Sep 29 2026 13:34:38", 0, None),
            Ok(ns("2026-09-29", "13:34:38"))
        );
        assert_eq!(
            device_time("Sep 29 2026 13:34:38.250 UTC", 3600, None),
            Ok(ns("2026-09-29", "13:34:38").map(|t| t + 250_000_000))
        );
        // A zone the text names with no offset: local time, --tz-offset.
        assert_eq!(
            device_time("Sep 29 2026 13:34:38 CET", 3600, None),
            Ok(ns("2026-09-29", "12:34:38"))
        );
        assert_eq!(
            device_time("Dec  5 10:12:01 GMT+01:00", 0, r),
            Ok(ns("2026-12-05", "09:12:01"))
        );
        assert_eq!(
            device_time("2026-12-05T10:12:01Z", 3600, None),
            Ok(ns("2026-12-05", "10:12:01"))
        );
        assert_eq!(
            device_time("Sep 99 2026 13:34:38", 0, None),
            Err(TimeError::Malformed)
        );
        assert_eq!(device_time("yesterday", 0, None), Err(TimeError::Malformed));
        let w = java_date("2026-12-05 10:12:01.5 +0100", "yyyy-MM-dd HH:mm:ss.S Z").expect("date");
        assert_eq!((w.y, w.ns, w.offset), (Some(2026), 500_000_000, Some(3600)));
        let w = java_date("20261205101201", "yyyyMMddHHmmss").expect("packed");
        assert_eq!(
            (w.y, w.mo, w.d, w.h, w.mi, w.s),
            (Some(2026), 12, 5, 10, 12, 1)
        );
        let w = java_date(
            "Sat, 05 Dec 2026 01:12:01 PM",
            "EEE, dd MMM yyyy hh:mm:ss a",
        )
        .expect("12 hour");
        assert_eq!((w.mo, w.h), (12, 13));
        let w = java_date("2026-12-05T10 h'", "yyyy-MM-dd'T'HH' h'''");
        assert_eq!(w.map(|w| (w.d, w.h)), Some((5, 10)));
        assert_eq!(java_date("2026-12-05", "yyyy-MM-dd HH"), None);
        assert_eq!(java_date("2026-12-05", "yyyy-MM-dd'"), None);
        assert_eq!(java_date("2026-12-05", "yyyy-MM-ddQ"), None);
        assert_eq!(java_date("99999999999999999999-01-01", "yyyy-MM-dd"), None);
    }
}
