//! Numbers and sentences as the text reports write them: thousands separators, bytes with a
//! unit, a noun that agrees with its count ("1 flow", "2 flows"), and paragraphs wrapped at word
//! boundaries to fit the terminal. Machine formats never use these: their numbers stay integers.

/// The width the text reports fit by default; `--wide` lifts it.
pub const WIDTH: usize = 100;

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The plural of a noun the reports count (flow, packet, byte, entry, match...).
pub fn plural(noun: &str) -> String {
    let consonant_y = noun.len() > 1
        && noun.ends_with('y')
        && !noun[..noun.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with(['s', 'x']) || noun.ends_with("ch") || noun.ends_with("sh") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// The noun that agrees with `n`: `noun` for 1, its plural otherwise.
pub fn noun(n: u64, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        plural(noun)
    }
}

/// A count and its noun: `1 flow`, `158,017 flows`.
pub fn count(n: u64, what: &str) -> String {
    format!("{} {}", thousands(n), noun(n, what))
}

/// A count of bytes in a unit a reader takes in at a glance: `812 bytes`, `4.4 kB`, `46.2 MB`
/// (decimal units, as capinfos and Wireshark write them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return count(n, "byte");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 999.95 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The exact count of bytes: `46,217,291 bytes`.
pub fn bytes_exact(n: u64) -> String {
    count(n, "byte")
}

/// The display width of a text (characters; the reports write no double-width text).
pub fn width(s: &str) -> usize {
    s.chars().count()
}

/// `text` wrapped at word boundaries into lines of at most `width` characters (a word longer
/// than a line keeps a line of its own, unbroken): the first line starts with `first`, the
/// others with `rest`. The spacing within a line is kept as written (aligned columns stay
/// aligned); a break drops the spaces it falls on. Without a width (`--wide`), one line.
pub fn wrap(text: &str, width: Option<usize>, first: &str, rest: &str) -> Vec<String> {
    let text = text.trim_end();
    let Some(width) = width else {
        return vec![format!("{first}{text}")];
    };
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    // Each word with the spaces before it.
    let mut rest_text = text.trim_start();
    let mut gap = "";
    while !rest_text.is_empty() {
        let end = rest_text
            .find(char::is_whitespace)
            .unwrap_or(rest_text.len());
        let word = &rest_text[..end];
        let after = &rest_text[end..];
        let next = after.trim_start();
        let room = self::width(&line) + self::width(gap) + self::width(word);
        if !empty && room > width {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push_str(gap);
        }
        line.push_str(word);
        empty = false;
        gap = &after[..after.len() - next.len()];
        rest_text = next;
    }
    lines.push(line);
    lines
}

/// Writes `text` wrapped as [`wrap`] does.
pub fn write_wrapped(
    out: &mut dyn std::io::Write,
    text: &str,
    width: Option<usize>,
    first: &str,
    rest: &str,
) -> std::io::Result<()> {
    for line in wrap(text, width, first, rest) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `text` cut to `max` characters, ending with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut t: String = text.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(158_017), "158,017");
        assert_eq!(thousands(46_217_291), "46,217,291");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn nouns_agree_with_their_count() {
        assert_eq!(count(1, "flow"), "1 flow");
        assert_eq!(count(0, "flow"), "0 flows");
        assert_eq!(count(158_017, "violation"), "158,017 violations");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "day"), "2 days");
        assert_eq!(count(3, "match"), "3 matches");
        assert_eq!(count(1, "byte"), "1 byte");
    }

    #[test]
    fn bytes_with_units() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(1000), "1.0 kB");
        assert_eq!(bytes(4370), "4.4 kB");
        assert_eq!(bytes(46_217_291), "46.2 MB");
        assert_eq!(bytes(999_960), "1.0 MB");
        assert_eq!(bytes(300_000_176), "300.0 MB");
        assert_eq!(bytes_exact(46_217_291), "46,217,291 bytes");
    }

    #[test]
    fn wrapping_keeps_words_whole_and_lines_short() {
        let text = "internal hosts must use the internal interface (172.25.33.10) with no NAT";
        let lines = wrap(text, Some(30), "  ", "      ");
        assert_eq!(
            lines,
            [
                "  internal hosts must use the",
                "      internal interface",
                "      (172.25.33.10) with no",
                "      NAT",
            ]
        );
        assert!(lines.iter().all(|l| width(l) <= 30));
        assert_eq!(
            lines
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text
        );
        // A word longer than the line stands alone, unbroken.
        let long = wrap("a 0123456789abcdef b", Some(8), "", "");
        assert_eq!(long, ["a", "0123456789abcdef", "b"]);
        // Spacing within a line is kept.
        assert_eq!(
            wrap("+  0.000 s  x", Some(40), "  ", ""),
            ["  +  0.000 s  x"]
        );
        // --wide: one line.
        assert_eq!(wrap(text, None, "> ", "").len(), 1);
        assert_eq!(wrap("", Some(10), "  ", "  "), ["  "]);
    }

    #[test]
    fn truncation_says_so() {
        assert_eq!(truncate("external", 8), "external");
        assert_eq!(truncate("external VIP", 8), "externa…");
    }
}
