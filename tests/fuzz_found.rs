//! Bugs the fuzz targets found (or that issue 15 named), each as a plain test of the behaviour
//! expected; the raw reproducers are replayed by `fuzz_replay` from `fuzz/regressions/`.

use edgewise::logs::{self, LogFormat, LogOptions, Outcome};

/// An ASA line whose year is a huge number (it overflowed the date arithmetic: a panic in debug
/// builds, a garbage time in release) is counted as unparsable `time_out_of_range`, and the
/// run goes on.
#[test]
fn an_asa_line_with_a_huge_year_is_counted_out_of_range() {
    for year in ["9223372036854775807", "99999999999", "10000"] {
        let line = format!(
            "Apr 29 {year} 12:59:50: %ASA-6-302016: Teardown UDP connection 89743275 for \
             outside:192.0.2.222/53 to inside:10.123.1.35/52925 duration 1:23:45 bytes 140"
        );
        let o = logs::parse_line(LogFormat::Asa, &Default::default(), 1, &line, 0);
        assert!(
            matches!(o, Outcome::Unparsable("time_out_of_range")),
            "year {year}: {o:?}"
        );
    }
    let parsed = logs::parse_reader(
        "Apr 29 9223372036854775807 12:59:50: %ASA-6-302016: Teardown UDP connection 1 for \
         outside:192.0.2.222/53 to inside:10.123.1.35/52925 duration 1:23:45 bytes 140\n\
         Apr 29 2024 12:59:50: %ASA-6-302016: Teardown UDP connection 2 for \
         outside:192.0.2.222/53 to inside:10.123.1.35/52926 duration 0:00:01 bytes 140\n"
            .as_bytes(),
        LogOptions {
            format: Some(LogFormat::Asa),
            tz: (-14 * 3600).into(),
            reference_ns: None,
        },
    )
    .expect("from memory");
    assert_eq!(parsed.summary.lines, 2);
    assert_eq!(parsed.summary.used, 1);
    assert_eq!(parsed.summary.unparsable.get("time_out_of_range"), Some(&1));
}

/// Input nested 20,000 deep, where a recursive parser would overflow a test thread's 2 MiB
/// stack: each is refused or read (checked by hand at 100,000 deep for docs/FUZZING.md).
#[test]
fn deeply_nested_inputs_do_not_overflow_the_stack() {
    use edgewise::fuzzing;
    const N: usize = 20_000;
    for filter in [
        format!("{}port == 1{}", "(".repeat(N), ")".repeat(N)),
        format!("{}port == 1", "not ".repeat(N)),
        vec!["port == 1"; N].join(" and "),
    ] {
        fuzzing::filter(filter.as_bytes());
    }
    for toml in [
        format!("x = {}{}\n", "[".repeat(N), "]".repeat(N)),
        format!("x = {}1{}\n", "{a=".repeat(N), "}".repeat(N)),
        format!("[{}]\n", vec!["a"; N].join(".")),
    ] {
        fuzzing::topology(toml.as_bytes());
    }
    for json in [
        format!("{}1{}\n", "{\"a\":".repeat(N), "}".repeat(N)),
        format!("{{\"ts\":{}{}}}\n", "[".repeat(N), "]".repeat(N)),
    ] {
        // Zeek JSON (format 6), audited too (top bit), at UTC.
        fuzzing::log(&[&[6 | 0x80, 56][..], json.as_bytes()].concat());
    }
}
