//! Firewall logs as audit input: each line parsed into a [`Record`], records turned into the
//! same [`crate::flow::Flow`] values that captures produce, so that [`crate::audit::audit`]
//! judges them unchanged. This module only reads: the two findings only a log can give (FW1,
//! FW2) are in [`crate::diagnose::firewall`], the log's report in `report/log.rs`.
//!
//! Formats (layouts and public sample lines: research/ecosystem.md section 2.1): Windows
//! Firewall `pfirewall.log` (W3C), Cisco ASA/FTD syslog, PAN-OS TRAFFIC CSV, FortiGate
//! `key=value`, Zeek `conn.log` (TSV and NDJSON), Linux netfilter `LOG` lines (iptables,
//! nftables; [`netfilter`]) and pfSense/OPNsense `filterlog` ([`filterlog`]), the last two
//! behind a syslog header ([`syslog`]), and the SIEM formats many firewalls export: ArcSight CEF
//! ([`cef`]), QRadar LEEF 1.0 and 2.0 ([`leef`]) and Check Point's Log Exporter syslog
//! ([`checkpoint`]), with or without a syslog header.
//!
//! Every line ends in exactly one outcome: `used`, `comment`, `skipped{reason}` or
//! `unparsable{reason}`, so the summary's counts add up to the file's line count. Lines are read
//! with a bounded length ([`MAX_LINE`]) by one thread, parsed in parallel batches by the pool
//! while the records of the batches before are counted and handed on in file order (an audit
//! joins them into flows as they come: [`read_flows`]), so the result does not depend on the
//! number of threads and what is held follows the distinct flows, not the lines.

pub mod asa;
pub mod cef;
pub mod checkpoint;
pub mod detect;
pub mod facts;
pub mod filterlog;
pub mod fortigate;
pub mod leef;
pub mod netfilter;
pub mod netflow;
pub mod panos;
pub mod pfirewall;
pub mod sniff;
pub mod state;
pub mod syslog;
pub mod time;
pub mod to_flow;
pub mod zeek;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

/// Longest line kept; longer lines are counted as `unparsable{line_too_long}`.
pub const MAX_LINE: usize = 64 * 1024;
/// Lines per parse batch.
const BATCH_LINES: usize = 8 * 1024;
/// Unparsable lines quoted in the summary.
const EXAMPLES: usize = 10;
/// Non-empty lines looked at to detect the format.
const DETECT_LINES: usize = 20;

/// A supported log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Windows Firewall `pfirewall.log` (W3C extended, `#Fields` header).
    Pfirewall,
    /// Cisco ASA / Firepower Threat Defense syslog (302013-302016, 106001, 106015, 106023, 106100).
    Asa,
    /// Palo Alto PAN-OS TRAFFIC log, syslog CSV.
    Panos,
    /// Fortinet FortiGate traffic log, `key=value`.
    Fortigate,
    /// Zeek `conn.log`, tab-separated with `#fields` header.
    ZeekTsv,
    /// Zeek `conn.log`, one JSON object a line.
    ZeekJson,
    /// NetFlow v5/v9 or IPFIX records, from a capture of export packets ([`netflow`]).
    Netflow,
    /// nfdump's CSV output (`nfdump -o csv`), records paired as NetFlow's ([`netflow::nfdump`]).
    NfdumpCsv,
    /// Linux netfilter `LOG` lines (iptables `-j LOG`, nftables `log`) from the kernel log.
    Netfilter,
    /// pfSense / OPNsense `filterlog` CSV lines.
    Filterlog,
    /// ArcSight Common Event Format (`CEF:0|...`), any vendor's.
    Cef,
    /// QRadar Log Event Extended Format (`LEEF:1.0|...`, `LEEF:2.0|...`), any vendor's.
    Leef,
    /// Check Point Log Exporter syslog (`[key:"value"; ...]`).
    Checkpoint,
}

impl LogFormat {
    /// What the format is, in words for messages.
    pub fn description(self) -> &'static str {
        match self {
            LogFormat::Pfirewall => "Windows Firewall pfirewall.log",
            LogFormat::Asa => "Cisco ASA/FTD syslog",
            LogFormat::Panos => "PAN-OS TRAFFIC log",
            LogFormat::Fortigate => "FortiGate traffic log",
            LogFormat::ZeekTsv => "Zeek conn.log (TSV)",
            LogFormat::ZeekJson => "Zeek conn.log (JSON)",
            LogFormat::Netflow => "capture of NetFlow/IPFIX export packets",
            LogFormat::NfdumpCsv => "nfdump CSV output",
            LogFormat::Netfilter => "Linux netfilter (iptables/nftables) log",
            LogFormat::Filterlog => "pfSense/OPNsense filter log",
            LogFormat::Cef => "CEF (ArcSight Common Event Format) log",
            LogFormat::Leef => "LEEF (QRadar Log Event Extended Format) log",
            LogFormat::Checkpoint => "Check Point Log Exporter syslog",
        }
    }

    /// The name `--log-format` takes.
    pub fn label(self) -> &'static str {
        match self {
            LogFormat::Pfirewall => "pfirewall",
            LogFormat::Asa => "asa",
            LogFormat::Panos => "panos",
            LogFormat::Fortigate => "fortigate",
            LogFormat::ZeekTsv => "zeek-tsv",
            LogFormat::ZeekJson => "zeek-json",
            LogFormat::Netflow => "netflow",
            LogFormat::NfdumpCsv => "nfdump-csv",
            LogFormat::Netfilter => "netfilter",
            LogFormat::Filterlog => "filterlog",
            LogFormat::Cef => "cef",
            LogFormat::Leef => "leef",
            LogFormat::Checkpoint => "checkpoint",
        }
    }

    /// Formats whose timestamps are wall-clock time of the device, with no zone in the line
    /// (for the syslog formats, the lines whose header gives none).
    pub fn local_time(self) -> bool {
        matches!(
            self,
            LogFormat::Pfirewall
                | LogFormat::Asa
                | LogFormat::Panos
                | LogFormat::Fortigate
                | LogFormat::NfdumpCsv
                | LogFormat::Netfilter
                | LogFormat::Filterlog
                | LogFormat::Cef
                | LogFormat::Leef
                | LogFormat::Checkpoint
        )
    }

    /// Formats whose lines carry a syslog header ([`syslog`]) for their time, whose BSD form
    /// has no year (for CEF, LEEF and Check Point, the time when the line's own fields give
    /// none; CEF's and LEEF's dates without a year are read alike).
    pub fn syslog_time(self) -> bool {
        matches!(
            self,
            LogFormat::Netfilter
                | LogFormat::Filterlog
                | LogFormat::Asa
                | LogFormat::Cef
                | LogFormat::Leef
                | LogFormat::Checkpoint
        )
    }

    /// What the line's own time fields are, for the formats that have them beside the syslog
    /// header's ([`Summary::time_basis`]).
    pub fn own_times(self) -> Option<&'static str> {
        match self {
            LogFormat::Asa => Some("the ASA's own timestamp (Mmm dd yyyy hh:mm:ss), local time"),
            LogFormat::Cef => Some(
                "CEF's start, rt or end: epoch milliseconds as UTC, dates with a zone as written, \
                 others as the device's local time (dtz when it is UTC or an offset)",
            ),
            LogFormat::Leef => Some(
                "LEEF's devTime as devTimeFormat says: epoch milliseconds as UTC, dates with a \
                 zone as written, others as the device's local time",
            ),
            LogFormat::Checkpoint => Some("Check Point's time field: epoch seconds, UTC"),
            _ => None,
        }
    }
}

/// What the firewall did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A session or packet let through (W3C ALLOW, ASA Built / permitted, PAN-OS allow, Zeek,
    /// a netfilter prefix's ACCEPT, filterlog pass, CEF's and LEEF's accept or allow, Check
    /// Point Accept).
    Allowed,
    /// Blocked (W3C DROP, ASA Deny / denied, PAN-OS deny/drop/reset, FortiGate deny, a
    /// netfilter prefix's DROP or REJECT, filterlog block or reject, CEF's and LEEF's deny,
    /// drop, block or reject, Check Point Drop, Block or Reject).
    Denied,
    /// The end of a session whose start may be in another line (ASA Teardown).
    Teardown,
    /// A packet a logging rule matched, with no word of what the firewall then did (a
    /// netfilter `LOG` rule whose prefix names no decision, a CEF or LEEF action of no
    /// decision's word, a Check Point Detect): never read as denied, and the checks that need
    /// the decision are listed as skipped for its flow.
    Logged,
}

/// One log line that describes traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number in the file.
    pub line: u64,
    /// Nanoseconds since the Unix epoch (UTC), when the line has a usable time.
    pub ts_ns: Option<i64>,
    pub action: Action,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6...).
    pub transport: u8,
    /// The session's originator (see `oriented`).
    pub src: (IpAddr, u16),
    pub dst: (IpAddr, u16),
    /// `src` is known to be the originator. False only for an ASA teardown, whose socket order
    /// is that of its Built message; the merge takes the orientation from there.
    pub oriented: bool,
    /// Bytes from the originator, or the session's total when `bytes_total` is set.
    pub bytes: Option<u64>,
    /// `bytes` counts both directions (ASA teardown, W3C `size`): the split is unknown.
    pub bytes_total: bool,
    pub packets: Option<u64>,
    /// Bytes and packets from the responder, when the format gives them.
    pub resp_bytes: Option<u64>,
    pub resp_packets: Option<u64>,
    /// Session length, when the line gives one.
    pub duration_ns: Option<i64>,
    /// The rule, ACL or policy that decided: held inline up to 24 bytes, so that most lines
    /// allocate nothing on the parsing threads for the joining thread to free.
    pub rule: Option<compact_str::CompactString>,
    /// The device's session id (ASA connection id, PAN-OS / FortiGate session id).
    pub session: Option<u64>,
    /// The firewall built a TCP session for this (or saw the originator's SYN).
    pub tcp_opened: bool,
    /// How the TCP session ended, when the line says (a teardown reason, a session end reason,
    /// a denied SYN, Zeek's `conn_state`); `None` when it does not.
    pub end: Option<state::TcpEnd>,
    /// How the originator is known, when the format says more than "the logged source"
    /// (NetFlow records paired by [`netflow::pair`]).
    pub evidence: Option<crate::flow::InitiatorEvidence>,
    /// How the line's local time fit the named zone it was read in (`--tz-offset ZONE`):
    /// in the hour repeated or skipped at a daylight-saving change, or not.
    pub time_fit: time::Fit,
}

impl Record {
    /// A record with the fields every parser fills; the rest empty.
    pub fn new(
        line: u64,
        action: Action,
        transport: u8,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
    ) -> Record {
        Record {
            line,
            ts_ns: None,
            action,
            transport,
            src,
            dst,
            oriented: true,
            bytes: None,
            bytes_total: false,
            packets: None,
            resp_bytes: None,
            resp_packets: None,
            duration_ns: None,
            rule: None,
            session: None,
            tcp_opened: false,
            end: None,
            evidence: None,
            time_fit: time::Fit::Exact,
        }
    }
}

/// The outcome of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // Most lines are used: a box each was an allocation a line.
pub enum Outcome {
    Used(Record),
    /// A header or comment line (`#Fields`, `#Version`...).
    Comment,
    /// A well-formed line that carries nothing the audit uses (another message id, an empty line).
    Skipped(&'static str),
    /// A line of the format that could not be read.
    Unparsable(&'static str),
}

/// Layout state that header lines set and later lines use (`#Fields` of W3C and Zeek).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub fields: Vec<String>,
    /// W3C (`pfirewall.log`): the column of each of [`pfirewall::DEFAULT_FIELDS`] in `fields`,
    /// found once when the `#Fields` line is read rather than for each line.
    pub columns: [Option<u8>; pfirewall::DEFAULT_FIELDS.len()],
    /// W3C `#Time Format: UTC` (otherwise local time).
    pub utc: bool,
    /// Zeek `#separator`.
    pub separator: char,
    pub unset: String,
    pub empty: String,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            fields: Vec::new(),
            columns: pfirewall::default_columns(),
            utc: false,
            separator: '\t',
            unset: "-".into(),
            empty: "(empty)".into(),
        }
    }
}

/// How to read a log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// The format; detected from the first non-empty lines when `None`.
    pub format: Option<LogFormat>,
    /// Offset of the device's local time from UTC, in seconds (`+01:00` is 3600).
    pub tz: time::Tz,
    /// When the log was last written (ns since the epoch, UTC): a BSD syslog time, which has no
    /// year, is taken in the year that puts it at or before this. [`parse_file`] takes the
    /// file's modification time; without one, the time of the run.
    pub reference_ns: Option<i64>,
}

/// A quoted unparsable line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BadLine {
    pub line: u64,
    pub reason: &'static str,
    /// The line, cut at 200 characters.
    pub text: String,
}

/// Counts of what happened to the lines of a log.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub format: Option<LogFormat>,
    /// The format was detected rather than given.
    pub detected: bool,
    /// Lines in the file (a last line without a newline counts).
    pub lines: u64,
    pub used: u64,
    pub comment: u64,
    pub skipped: BTreeMap<&'static str, u64>,
    pub unparsable: BTreeMap<&'static str, u64>,
    /// The first unparsable lines, with their numbers.
    pub examples: Vec<BadLine>,
    /// How line times were read, in words ("local time at +01:00 (--tz-offset)", "UTC").
    pub time_basis: String,
    /// Used lines without a usable time.
    pub no_timestamp: u64,
    /// Used lines whose local time fell in the hour a named zone repeats when daylight saving
    /// ends (read as its first pass).
    pub times_in_repeated_hour: u64,
    /// Used lines whose local time fell in the hour a named zone skips when daylight saving
    /// starts (no such time there: the zone named is likely not the device's).
    pub times_in_skipped_hour: u64,
    /// What the format tells of a connection and what it cannot ([`facts::FORMATS`]).
    pub facts: Option<&'static facts::FormatFacts>,
    /// NetFlow/IPFIX only: the exporters, export datagrams and what could not be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exports: Option<netflow::ExportSummary>,
}

impl Summary {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn unparsable_total(&self) -> u64 {
        self.unparsable.values().sum()
    }

    /// used + comment + skipped + unparsable, which equals `lines`.
    pub fn accounted(&self) -> u64 {
        self.used + self.comment + self.skipped_total() + self.unparsable_total()
    }

    fn count(&mut self, line: u64, text: &str, o: &Outcome) {
        match o {
            Outcome::Used(r) => {
                self.used += 1;
                if r.ts_ns.is_none() {
                    self.no_timestamp += 1;
                }
                match r.time_fit {
                    time::Fit::Exact => {}
                    time::Fit::Repeated => self.times_in_repeated_hour += 1,
                    time::Fit::Skipped => self.times_in_skipped_hour += 1,
                }
            }
            Outcome::Comment => self.comment += 1,
            Outcome::Skipped(r) => *self.skipped.entry(r).or_default() += 1,
            Outcome::Unparsable(r) => {
                *self.unparsable.entry(r).or_default() += 1;
                if self.examples.len() < EXAMPLES {
                    self.examples.push(BadLine {
                        line,
                        reason: r,
                        text: text.chars().take(200).collect(),
                    });
                }
            }
        }
    }
}

/// A parsed log: the summary and the records in file order.
#[derive(Debug, Clone)]
pub struct ParsedLog {
    pub summary: Summary,
    pub records: Vec<Record>,
}

/// The clock `--tz-offset` names: a UTC offset ([`parse_tz_offset`]) or a time zone name
/// (`Europe/Berlin`, any case), whose daylight-saving rules then apply line by line. The zone
/// lives for the rest of the run.
pub fn parse_tz(s: &str) -> Result<time::Tz, String> {
    let t = s.trim();
    let looks_offset = t
        .bytes()
        .next()
        .is_some_and(|b| b == b'+' || b == b'-' || b.is_ascii_digit())
        || t.eq_ignore_ascii_case("z")
        || t.eq_ignore_ascii_case("utc");
    if looks_offset {
        return parse_tz_offset(t).map(time::Tz::Fixed);
    }
    match time::Zone::named(t) {
        Some(z) => Ok(time::Tz::Zone(Box::leak(Box::new(z)))),
        None => {
            let like = time::Zone::like(t);
            Err(if like.is_empty() {
                format!(
                    "{t:?} is neither a UTC offset such as +01:00 nor a time zone name such as \
                     Europe/Berlin or America/New_York"
                )
            } else {
                format!(
                    "{t:?} is not a time zone name; did you mean {}?",
                    like.join(" or ")
                )
            })
        }
    }
}

/// Parses `+HH:MM`, `-HH:MM`, `+HHMM`, `Z` or `UTC` into seconds east of UTC.
pub fn parse_tz_offset(s: &str) -> Result<i32, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let bad = || format!("{s:?} is not a UTC offset such as +01:00 or -05:30");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let h: i32 = digits[..2].parse().map_err(|_| bad())?;
    let m: i32 = digits[2..].parse().map_err(|_| bad())?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// How a syslog format's times were read: local times as `local` says, times with an offset as
/// written, BSD times in the year of `reference` (or the year before).
fn syslog_basis(local: &str, reference: Option<i64>, from_file: bool) -> String {
    let year = match reference {
        Some(r) => {
            let (y, m, d) = time::date_of(r);
            format!(
                "in the year that puts them at or before {y:04}-{m:02}-{d:02} ({})",
                if from_file {
                    "the log's last write"
                } else {
                    "the date of this run: the log has no file time"
                }
            )
        }
        None => "without a time (no year to take them in)".to_string(),
    };
    format!(
        "{local} where the syslog header gives no UTC offset; times with one (RFC 3339, RFC 5424, \
         journald short-iso) as written; BSD syslog times, which carry no year, {year}"
    )
}

/// How local times were read, in words: `what` ("device local time") read as UTC, at a fixed
/// offset, or in a named zone.
pub(crate) fn local_basis(what: &str, tz: time::Tz) -> String {
    match tz {
        time::Tz::Fixed(0) => format!("{what} read as UTC (no --tz-offset given)"),
        time::Tz::Fixed(o) => format!(
            "{what} at UTC{} (--tz-offset): one offset for every line, daylight-saving changes \
             not applied (name the zone, e.g. --tz-offset Europe/Berlin, to apply them)",
            offset_label(o)
        ),
        time::Tz::Zone(z) => format!(
            "{what} in {} (--tz-offset), at the zone's offset on each line's date (daylight \
             saving applied)",
            z.name
        ),
    }
}

fn offset_label(s: i32) -> String {
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.abs();
    format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

/// Parses one line of `format`, with the header in force. `tz` is the clock of local times.
/// A BSD syslog time (no year) gives no time here: [`parse_line_at`] takes the year from when
/// the log was written.
pub fn parse_line(
    format: LogFormat,
    header: &Header,
    line_no: u64,
    line: &str,
    tz: impl Into<time::Tz>,
) -> Outcome {
    parse_line_at(format, header, line_no, line, tz, None)
}

/// [`parse_line`], with when the log was last written (`reference_ns`, see [`LogOptions`]) for
/// the year of BSD syslog times.
pub fn parse_line_at(
    format: LogFormat,
    header: &Header,
    line_no: u64,
    line: &str,
    tz: impl Into<time::Tz>,
    reference_ns: Option<i64>,
) -> Outcome {
    let tz: time::Tz = tz.into();
    time::take_fit();
    let mut o = parse_format(format, header, line_no, line, tz, reference_ns);
    if let Outcome::Used(r) = &mut o {
        r.time_fit = time::take_fit();
    }
    o
}

fn parse_format(
    format: LogFormat,
    header: &Header,
    line_no: u64,
    line: &str,
    tz: time::Tz,
    reference_ns: Option<i64>,
) -> Outcome {
    if line.contains('\0') {
        return Outcome::Unparsable("nul_byte");
    }
    if line.trim().is_empty() {
        return Outcome::Skipped("empty");
    }
    match format {
        LogFormat::Pfirewall => pfirewall::parse(header, line_no, line, tz),
        LogFormat::Asa => asa::parse(line_no, line, tz, reference_ns),
        LogFormat::Panos => panos::parse(line_no, line, tz),
        LogFormat::Fortigate => fortigate::parse(line_no, line, tz),
        LogFormat::ZeekTsv => zeek::parse_tsv(header, line_no, line),
        LogFormat::ZeekJson => zeek::parse_json(line_no, line),
        // Export packets are binary: read by `netflow::read_file`, never line by line.
        LogFormat::Netflow => Outcome::Unparsable("not_netflow_exports"),
        // Line by line, each direction's record stays its own; `parse_file` pairs them.
        LogFormat::NfdumpCsv => netflow::nfdump::parse_line(line_no, line, tz),
        LogFormat::Netfilter => netfilter::parse(line_no, line, tz, reference_ns),
        LogFormat::Filterlog => filterlog::parse(line_no, line, tz, reference_ns),
        LogFormat::Cef => cef::parse(line_no, line, tz, reference_ns),
        LogFormat::Leef => leef::parse(line_no, line, tz, reference_ns),
        LogFormat::Checkpoint => checkpoint::parse(line_no, line, tz, reference_ns),
    }
}

/// Applies a header line to the layout; true when the line is a header the format knows.
fn update_header(format: LogFormat, header: &mut Header, line: &str) {
    match format {
        LogFormat::Pfirewall => pfirewall::update_header(header, line),
        LogFormat::ZeekTsv => zeek::update_header(header, line),
        _ => {}
    }
}

/// Reads lines of at most [`MAX_LINE`] bytes; the rest of a longer line is read and dropped.
pub(crate) struct LineReader<R> {
    r: BufReader<R>,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(r: R) -> LineReader<R> {
        LineReader {
            r: BufReader::with_capacity(1 << 20, r),
        }
    }

    /// Appends the next line (without `\n` / `\r\n`) to `out`. `None` at the end of the input;
    /// `Some(true)` when the line was longer than the limit (only its head was kept).
    pub(crate) fn next_into(&mut self, out: &mut Vec<u8>) -> io::Result<Option<bool>> {
        let start = out.len();
        let mut seen = false;
        let mut len = 0usize;
        loop {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                if !seen {
                    return Ok(None);
                }
                break;
            }
            seen = true;
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = (MAX_LINE + 1).saturating_sub(len);
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            len += chunk.len();
            let used = done.unwrap_or(buf.len());
            self.r.consume(used);
            if done.is_some() {
                break;
            }
        }
        if len > MAX_LINE {
            out.truncate(start + MAX_LINE.min(out.len() - start));
            return Ok(Some(true));
        }
        if out.len() > start && out[out.len() - 1] == b'\r' {
            out.pop();
        }
        Ok(Some(false))
    }
}

/// A batch of lines sharing one header.
struct Batch {
    header: Arc<Header>,
    data: Vec<u8>,
    /// (line number, start, end, too long)
    lines: Vec<(u64, usize, usize, bool)>,
    /// Each line's outcome, once parsed.
    outcomes: Vec<Outcome>,
}

impl Batch {
    fn new(header: Arc<Header>) -> Batch {
        Batch {
            header,
            data: Vec::new(),
            lines: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    fn text(&self, i: usize) -> std::borrow::Cow<'_, str> {
        let (_, s, e, _) = self.lines[i];
        String::from_utf8_lossy(&self.data[s..e])
    }

    /// Each line's outcome, into `outcomes`; without a format (none could be detected) every
    /// line that is not empty is `unknown_format`.
    fn parse(&mut self, format: Option<LogFormat>, tz: time::Tz, reference: Option<i64>) {
        let mut outcomes = std::mem::take(&mut self.outcomes);
        outcomes.clear();
        outcomes.extend(self.lines.iter().map(|&(no, s, e, too_long)| {
            if too_long {
                return Outcome::Unparsable("line_too_long");
            }
            match (format, std::str::from_utf8(&self.data[s..e])) {
                (_, Err(_)) => Outcome::Unparsable("not_utf8"),
                (Some(f), Ok(t)) => parse_line_at(f, &self.header, no, t, tz, reference),
                (None, Ok(t)) if t.trim().is_empty() => Outcome::Skipped("empty"),
                (None, Ok(_)) => Outcome::Unparsable("unknown_format"),
            }
        }));
        self.outcomes = outcomes;
    }
}

/// Parses a log file, gzip-compressed or not (rotated logs are often kept as `.gz`), keeping
/// every record. A capture of NetFlow/IPFIX export packets (named by `--log-format netflow`, or
/// told by its content) is read by [`netflow::read_file`].
pub fn parse_file(path: &Path, opts: LogOptions) -> io::Result<ParsedLog> {
    let mut records = Vec::new();
    let summary = match open(path, opts)? {
        Opened::Parsed(p) => return Ok(*p),
        Opened::Text(r, opts) => parse_reader_into(r, opts, |v| records.extend_from_slice(v))?,
    };
    Ok(ParsedLog { summary, records })
}

/// Reads a log file as flows, joining its records as they are parsed (on one core while the
/// others parse the next lines): memory follows the log's distinct flows, not its lines.
pub fn read_flows(path: &Path, opts: LogOptions) -> io::Result<to_flow::LogFlows> {
    let mut joiner = to_flow::Joiner::default();
    let summary = match open(path, opts)? {
        Opened::Parsed(p) => return Ok((*p).into()),
        Opened::Text(r, opts) => {
            parse_reader_into(r, opts, |v| v.iter().for_each(|r| joiner.push(r)))?
        }
    };
    let (flows, info) = joiner.finish();
    Ok(to_flow::LogFlows {
        summary,
        flows,
        info,
    })
}

/// A log file opened: text lines to parse (gunzipped when need be), or a file of another kind
/// already read whole (NetFlow exports and nfdump's CSV, whose records are paired first).
enum Opened {
    Text(Box<dyn Read + Send>, LogOptions),
    Parsed(Box<ParsedLog>),
}

fn open(path: &Path, mut opts: LogOptions) -> io::Result<Opened> {
    if opts.reference_ns.is_none() {
        opts.reference_ns = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(epoch_ns);
    }
    let special = match opts.format {
        Some(f) => Some(f),
        None => match sniff::sniff(path)? {
            sniff::Content::Log(f) => Some(f),
            _ => None,
        },
    };
    match special {
        Some(LogFormat::Netflow) => {
            let mut parsed = netflow::read_file(path)?;
            parsed.summary.detected = opts.format.is_none();
            return Ok(Opened::Parsed(Box::new(parsed)));
        }
        Some(LogFormat::NfdumpCsv) => {
            return netflow::nfdump::read_file(path, opts).map(|p| Opened::Parsed(Box::new(p)))
        }
        _ => {}
    }
    let mut f = BufReader::new(std::fs::File::open(path)?);
    if f.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        return Ok(Opened::Text(
            Box::new(flate2::read::MultiGzDecoder::new(f)),
            opts,
        ));
    }
    Ok(Opened::Text(Box::new(f), opts))
}

/// Nanoseconds since the epoch of a system time; `None` before 1970 or beyond 2262.
fn epoch_ns(t: std::time::SystemTime) -> Option<i64> {
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_nanos()).ok()
}

/// Parses a log from any reader, in parallel batches, merged in file order, keeping every
/// record (for tests and tools that look at lines; an audit joins them as they come with
/// [`read_flows`]).
pub fn parse_reader<R: Read + Send>(r: R, opts: LogOptions) -> io::Result<ParsedLog> {
    let mut records = Vec::new();
    let summary = parse_reader_into(r, opts, |v| records.extend_from_slice(v))?;
    Ok(ParsedLog { summary, records })
}

/// Parses a log from any reader and hands its records to `sink` in file order, a group of
/// batches at a time. Batches of lines are parsed on all cores while the records of the
/// group before go to `sink`, so what is held at once is a few batches of lines, whatever the
/// log's length.
pub fn parse_reader_into<R: Read + Send>(
    r: R,
    opts: LogOptions,
    mut sink: impl FnMut(&[Record]) + Send,
) -> io::Result<Summary> {
    let reference = opts
        .reference_ns
        .or_else(|| epoch_ns(std::time::SystemTime::now()));
    let mut summary = Summary {
        detected: opts.format.is_none(),
        ..Summary::default()
    };
    // Three stages at once: a thread reads groups of batches, the pool parses one group while
    // the records of the group before go to the sink. Emptied batches go back to the reader.
    let (groups_tx, groups_rx) = std::sync::mpsc::sync_channel::<Group>(1);
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Batch>();
    let read = std::thread::scope(|scope| {
        let reading = scope.spawn(move || read_groups(r, opts.format, &groups_tx, &spare_rx));
        // Batches parsed but not yet counted and handed to the sink.
        let mut parsed: Vec<Batch> = Vec::new();
        // A group's records on their way to the sink (its room kept from group to group).
        let mut records: Vec<Record> = Vec::new();
        for group in groups_rx.iter() {
            let mut now = group.batches;
            let ((), emptied) = rayon::join(
                || {
                    now.par_iter_mut()
                        .for_each(|b| b.parse(group.format, opts.tz, reference))
                },
                || {
                    deliver(
                        std::mem::take(&mut parsed),
                        &mut summary,
                        &mut records,
                        &mut sink,
                    )
                },
            );
            parsed = now;
            for b in emptied {
                // The reader may be done: the batch is then dropped.
                let _ = spare_tx.send(b);
            }
        }
        deliver(parsed, &mut summary, &mut records, &mut sink);
        match reading.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })?;
    let (line_no, format, header) = (read.lines, read.format, read.header);
    summary.lines = line_no;
    summary.format = format;
    summary.facts = format.map(facts::of);
    summary.time_basis = match format {
        Some(f) if f.local_time() => {
            let utc_header = format == Some(LogFormat::Pfirewall) && header.utc;
            let local = if utc_header {
                "UTC (the log's #Time Format header)".to_string()
            } else {
                local_basis("device local time", opts.tz)
            };
            if f.syslog_time() {
                let basis = syslog_basis(&local, reference, opts.reference_ns.is_some());
                match f.own_times() {
                    Some(own) => format!("{own}; else the syslog header's: {basis}"),
                    None => basis,
                }
            } else {
                local
            }
        }
        Some(_) => "UTC (epoch seconds in the log)".to_string(),
        None if line_no == 0 => "no lines".to_string(),
        None => "unknown (the format could not be detected)".to_string(),
    };
    Ok(summary)
}

/// Batches of lines to parse together, with the format they are of.
struct Group {
    batches: Vec<Batch>,
    format: Option<LogFormat>,
}

/// What reading the lines found: their count, the format, the header in force at the end.
struct LinesRead {
    lines: u64,
    format: Option<LogFormat>,
    header: Header,
}

/// The reading stage: lines into batches of [`BATCH_LINES`], cut where a header line changes
/// the layout, sent a group at a time once the format is known. Batches come back emptied
/// over `spare` to be filled again.
fn read_groups<R: Read>(
    r: R,
    given: Option<LogFormat>,
    groups: &std::sync::mpsc::SyncSender<Group>,
    spare: &std::sync::mpsc::Receiver<Batch>,
) -> io::Result<LinesRead> {
    let mut reader = LineReader {
        r: BufReader::with_capacity(1 << 20, r),
    };
    let mut header = Header::default();
    let mut line_no = 0u64;
    let mut format = given;
    // Detection has run on the first lines (whether or not it found a format).
    let mut decided = format.is_some();
    let group = rayon::current_num_threads().max(1) * 2;
    let mut pending: Vec<Batch> = Vec::new();
    let fresh = |header: &Header| match spare.try_recv() {
        Ok(mut b) => {
            if *b.header != *header {
                b.header = Arc::new(header.clone());
            }
            b
        }
        Err(_) => Batch::new(Arc::new(header.clone())),
    };
    let mut batch = fresh(&header);
    let mut eof = false;
    while !eof {
        // Fill up to `group` batches, cutting a batch where a header line changes the layout.
        while pending.len() < group {
            let start = batch.data.len();
            match reader.next_into(&mut batch.data)? {
                None => {
                    eof = true;
                    break;
                }
                Some(too_long) => {
                    line_no += 1;
                    let end = batch.data.len();
                    batch.lines.push((line_no, start, end, too_long));
                    if !decided {
                        let nonempty = batch
                            .lines
                            .iter()
                            .filter(|(_, s, e, _)| e > s)
                            .take(DETECT_LINES + 1)
                            .count();
                        if nonempty > DETECT_LINES {
                            format = detect_from(&batch);
                            decided = true;
                        }
                    }
                    let first = batch.data.get(start).copied();
                    if let (Some(fmt), Some(b'#')) = (format, first) {
                        let mut h = header.clone();
                        update_header(fmt, &mut h, &String::from_utf8_lossy(&batch.data[start..]));
                        if h != header {
                            header = h;
                            let next = fresh(&header);
                            pending.push(std::mem::replace(&mut batch, next));
                            continue;
                        }
                    }
                    if batch.lines.len() >= BATCH_LINES {
                        let next = fresh(&header);
                        pending.push(std::mem::replace(&mut batch, next));
                    }
                }
            }
        }
        if eof && !batch.lines.is_empty() {
            let next = fresh(&header);
            pending.push(std::mem::replace(&mut batch, next));
        }
        if pending.is_empty() {
            break;
        }
        if !decided {
            format = pending.first().and_then(detect_from);
            decided = true;
        }
        // Batches read before the format was known were cut without header tracking: replay
        // their header lines now (detection happens within the first batch, so this is cheap).
        let now = std::mem::take(&mut pending);
        let now = match format {
            Some(f) => rehead(f, now, &mut header),
            None => now,
        };
        batch.header = Arc::new(header.clone());
        if groups
            .send(Group {
                batches: now,
                format,
            })
            .is_err()
        {
            break;
        }
    }
    Ok(LinesRead {
        lines: line_no,
        format,
        header,
    })
}

/// Counts parsed batches' lines, in file order, and hands their records to the sink. The
/// batches come back emptied, for their buffers to be filled again.
fn deliver(
    parsed: Vec<Batch>,
    summary: &mut Summary,
    records: &mut Vec<Record>,
    sink: &mut impl FnMut(&[Record]),
) -> Vec<Batch> {
    if parsed.is_empty() {
        return Vec::new();
    }
    let mut emptied = Vec::with_capacity(parsed.len());
    records.clear();
    for mut b in parsed {
        let mut outcomes = std::mem::take(&mut b.outcomes);
        for (i, o) in outcomes.drain(..).enumerate() {
            let (no, ..) = b.lines[i];
            let text = if matches!(o, Outcome::Unparsable(_)) {
                b.text(i).into_owned()
            } else {
                String::new()
            };
            summary.count(no, &text, &o);
            if let Outcome::Used(r) = o {
                records.push(r);
            }
        }
        b.outcomes = outcomes;
        b.data.clear();
        b.lines.clear();
        emptied.push(b);
    }
    sink(records);
    records.clear();
    emptied
}

/// Re-splits batches read before the format was known so that each has its header in force.
fn rehead(fmt: LogFormat, batches: Vec<Batch>, header: &mut Header) -> Vec<Batch> {
    if !matches!(fmt, LogFormat::Pfirewall | LogFormat::ZeekTsv) {
        return batches;
    }
    let needs = batches.iter().any(|b| {
        *b.header == Header::default() && b.lines.iter().any(|l| b.data.get(l.1) == Some(&b'#'))
    });
    if !needs {
        return batches;
    }
    let mut out = Vec::new();
    let mut h = if let Some(b) = batches.first() {
        (*b.header).clone()
    } else {
        return batches;
    };
    for b in batches {
        let mut cur = Batch::new(Arc::new(h.clone()));
        for &(no, s, e, tl) in &b.lines {
            let start = cur.data.len();
            cur.data.extend_from_slice(&b.data[s..e]);
            cur.lines.push((no, start, cur.data.len(), tl));
            if b.data.get(s) == Some(&b'#') {
                let mut nh = h.clone();
                update_header(fmt, &mut nh, &String::from_utf8_lossy(&b.data[s..e]));
                if nh != h {
                    h = nh;
                    let next = Batch::new(Arc::new(h.clone()));
                    out.push(std::mem::replace(&mut cur, next));
                }
            }
        }
        if !cur.lines.is_empty() {
            out.push(cur);
        }
    }
    *header = h;
    out
}

fn detect_from(b: &Batch) -> Option<LogFormat> {
    let lines: Vec<std::borrow::Cow<'_, str>> = (0..b.lines.len())
        .map(|i| b.text(i))
        .filter(|t| !t.trim().is_empty())
        .take(DETECT_LINES)
        .collect();
    detect::detect(lines.iter().map(|c| c.as_ref()))
}

/// An IP protocol name or number as its number.
pub(crate) fn protocol_number(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    // One per line: lowered on the stack, not into a new string.
    let mut low = [0u8; 9];
    let name = low.get_mut(..s.len())?;
    name.copy_from_slice(s.as_bytes());
    name.make_ascii_lowercase();
    Some(match &*name {
        b"tcp" => 6,
        b"udp" => 17,
        b"icmp" => 1,
        b"icmpv6" | b"ipv6-icmp" | b"icmp6" => 58,
        b"gre" => 47,
        b"esp" => 50,
        b"ah" => 51,
        b"sctp" => 132,
        _ => return None,
    })
}

/// A port field: digits only, 0-65535.
pub(crate) fn port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
