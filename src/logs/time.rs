//! Civil dates and times of log lines to nanoseconds since the Unix epoch.

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A local wall-clock time to UTC nanoseconds, given the zone's offset east of UTC. Years
/// outside 0..=9999 give no time (nanoseconds in an i64 end in 2262 anyway, and a year read
/// from a line can be any number).
#[allow(clippy::too_many_arguments)]
pub fn to_ns(
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    frac_ns: u32,
    tz: i32,
) -> Option<i64> {
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        - i64::from(tz);
    secs.checked_mul(1_000_000_000)?
        .checked_add(i64::from(frac_ns))
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` or `YYYY/MM/DD`.
pub fn date(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.split(['-', '/']);
    let y = num(it.next()?)?;
    let m = num(it.next()?)?;
    let d = num(it.next()?)?;
    if it.next().is_some() || y < 1000 {
        return None;
    }
    Some((i64::from(y), m, d))
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
pub fn date_clock(d: &str, c: &str, tz: i32) -> Option<i64> {
    let (y, mo, dd) = date(d)?;
    let (h, mi, s, ns) = clock(c)?;
    to_ns(y, mo, dd, h, mi, s, ns, tz)
}

/// Month abbreviation (`Jan`...) to its number.
pub fn month(s: &str) -> Option<u32> {
    const M: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let l = s.to_ascii_lowercase();
    M.iter().position(|m| *m == l).map(|i| i as u32 + 1)
}

/// Epoch seconds with an optional fraction (`1258531221.486539`) to nanoseconds.
pub fn epoch_secs(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let neg = whole.starts_with('-');
    let w: i64 = whole.parse().ok()?;
    let mut ns: i64 = 0;
    if !frac.is_empty() {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let f = &frac[..frac.len().min(9)];
        ns = f.parse::<i64>().ok()? * 10i64.pow(9 - f.len() as u32);
    }
    let base = w.checked_mul(1_000_000_000)?;
    Some(if neg { base - ns } else { base + ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2019-05-10 11:37:47 UTC is 1557488267.
        assert_eq!(
            date_clock("2019-05-10", "11:37:47", 0),
            Some(1_557_488_267_000_000_000)
        );
        // The same wall clock at +01:00 is an hour earlier in UTC.
        assert_eq!(
            date_clock("2019/05/10", "11:37:47", 3600),
            Some(1_557_484_667_000_000_000)
        );
        assert_eq!(
            epoch_secs("1258531221.486539"),
            Some(1_258_531_221_486_539_000)
        );
        assert_eq!(
            clock("25:00:00").and_then(|(h, ..)| to_ns(2000, 1, 1, h, 0, 0, 0, 0)),
            None
        );
    }
}
