//! What a file holds, told from its content and never from its name: a capture, a firewall or
//! flow log of a format edgewise reads, other text, or other bytes.
//!
//! `-r` sends a log to the log reader and everything else to the capture reader (which names
//! the conversion for the trace formats it cannot read); `--log` refuses a capture or binary
//! file with the option that reads it; and a log that yields no usable line is explained by
//! what its lines look like, with the fix. Nothing is ever guessed: text whose first lines match
//! no format is said to be so, not read as the first format on the list.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::{detect, LogFormat, Summary};
use crate::source::format::{self as capture_format, Detected, Unreadable};
use crate::source::input::InputSpec;

/// Bytes read from the front of a file (after gzip) to tell what it holds.
const HEAD: usize = 64 * 1024;
/// Non-empty lines of the head the format is detected from (as the log reader does).
const DETECT_LINES: usize = 20;
/// Characters of a line quoted in a message.
const QUOTE: usize = 120;

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// No bytes (after decompression).
    Empty,
    /// A capture, or a trace format whose conversion the capture reader names.
    Capture(&'static str),
    /// A log of this format.
    Log(LogFormat),
    /// Text that no format's signature matches; its first non-empty line.
    Text(String),
    /// Bytes of no known kind; the first of them.
    Binary(Vec<u8>),
}

impl Content {
    /// In words, for messages: "a pcapng capture", "a Cisco ASA/FTD syslog".
    pub fn describe(&self) -> String {
        match self {
            Content::Empty => "an empty file".into(),
            Content::Capture(kind) => format!("a {kind}"),
            Content::Log(f) => format!("a {}", f.description()),
            Content::Text(_) => "text in no format edgewise reads".into(),
            Content::Binary(_) => "binary data".into(),
        }
    }
}

/// Reads the front of `path` (through gzip) and tells what it holds.
pub fn sniff(path: &Path) -> io::Result<Content> {
    let mut f = File::open(path)?;
    let mut head = Vec::with_capacity(HEAD);
    (&mut f).take(HEAD as u64).read_to_end(&mut head)?;
    if capture_format::detect(&head) == Detected::Gzip {
        let mut inner = Vec::with_capacity(HEAD);
        let file = File::open(path)?;
        // A damaged gzip stream still shows what it starts with.
        let _ = MultiGzDecoder::new(BufReader::new(file))
            .take(HEAD as u64)
            .read_to_end(&mut inner);
        if inner.is_empty() {
            return Ok(Content::Capture("gzip file that does not decompress"));
        }
        return Ok(exports(path, classify(&inner)));
    }
    Ok(exports(path, classify(&head)))
}

/// A capture whose packets are mostly NetFlow/IPFIX export datagrams is read as their records.
fn exports(path: &Path, content: Content) -> Content {
    match content {
        Content::Capture("pcap capture" | "pcapng capture")
            if super::netflow::detect::probe(path).is_some_and(|p| p.is_exports()) =>
        {
            Content::Log(LogFormat::Netflow)
        }
        c => c,
    }
}

/// Tells what these first bytes of a file are.
pub fn classify(head: &[u8]) -> Content {
    match capture_format::detect(head) {
        Detected::Pcap => return Content::Capture("pcap capture"),
        Detected::PcapNg => return Content::Capture("pcapng capture"),
        Detected::Gzip => return Content::Capture("gzip file inside a gzip file"),
        Detected::Unreadable(Unreadable::Empty) => return Content::Empty,
        Detected::Unreadable(Unreadable::NetMon) => {
            return Content::Capture("Microsoft Network Monitor capture")
        }
        Detected::Unreadable(Unreadable::Etl) => return Content::Capture("ETL trace"),
        Detected::Unreadable(Unreadable::Zstd) => return Content::Capture("zstd-compressed file"),
        Detected::Unreadable(Unreadable::TooShort | Unreadable::BadMagic(_)) => {}
    }
    let Some(text) = as_text(head) else {
        return Content::Binary(head.iter().take(8).copied().collect());
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(DETECT_LINES)
        .collect();
    match detect::detect(lines.iter().copied()) {
        Some(f) => Content::Log(f),
        None => Content::Text(quote(lines.first().copied().unwrap_or(""))),
    }
}

/// The head as text: UTF-8 (a character cut by the end of the head allowed) without NUL.
fn as_text(head: &[u8]) -> Option<&str> {
    if head.contains(&0) {
        return None;
    }
    match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

fn quote(line: &str) -> String {
    let mut q: String = line.chars().take(QUOTE).collect();
    if line.chars().count() > QUOTE {
        q.push_str("...");
    }
    q
}

/// Every format, as `--log-format` names them.
fn format_names() -> String {
    [
        LogFormat::Pfirewall,
        LogFormat::Asa,
        LogFormat::Panos,
        LogFormat::Fortigate,
        LogFormat::ZeekTsv,
        LogFormat::ZeekJson,
        LogFormat::NfdumpCsv,
        LogFormat::Netflow,
        LogFormat::Netfilter,
        LogFormat::Filterlog,
        LogFormat::Cef,
        LogFormat::Leef,
        LogFormat::Checkpoint,
    ]
    .iter()
    .map(|f| f.label())
    .collect::<Vec<_>>()
    .join(", ")
}

/// A file named as a log that cannot be read as one; the message names the file, what it
/// holds and the option that reads it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct LogInputError {
    pub path: PathBuf,
    pub problem: LogProblem,
}

#[derive(Debug)]
pub enum LogProblem {
    NotFound,
    Io(io::Error),
    Empty,
    /// A capture or trace given to `--log`.
    IsCapture(&'static str),
    Binary(Vec<u8>),
    /// Text whose first lines match no format, and no `--log-format`.
    Undetected(String),
    /// A log among other inputs of `-r`.
    Mixed(LogFormat),
}

impl fmt::Display for LogProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogProblem::NotFound => write!(f, "no such file (check the path given to --log)"),
            LogProblem::Io(e) => write!(f, "cannot be read: {e}"),
            LogProblem::Empty => write!(f, "empty file (0 bytes): no log lines to audit"),
            LogProblem::IsCapture(kind) => write!(
                f,
                "this is a {kind}, not a firewall log: give it to -r instead of --log"
            ),
            LogProblem::Binary(b) => {
                let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
                write!(
                    f,
                    "binary data (it starts {}), not a text log: --log reads pfirewall.log, ASA/FTD syslog, \
                     PAN-OS, FortiGate, netfilter (iptables/nftables LOG), pfSense/OPNsense filterlog, \
                     CEF, LEEF, Check Point Log Exporter and Zeek conn.log text files; a capture goes to -r",
                    hex.join(" ")
                )
            }
            LogProblem::Undetected(first) => write!(
                f,
                "neither a capture nor a log: its first lines match none of the log formats edgewise \
                 reads (first line: {first:?}); if it is one of them, name it: \
                 `edgewise audit --log FILE --log-format FORMAT` (FORMAT: {})",
                format_names()
            ),
            LogProblem::Mixed(fmt) => write!(
                f,
                "this is a {}, given to -r with other inputs: audit a log on its own \
                 (`edgewise audit -r FILE`), and captures in another run",
                fmt.description()
            ),
        }
    }
}

fn open_error(path: &Path, e: io::Error) -> LogInputError {
    LogInputError {
        path: path.to_path_buf(),
        problem: if e.kind() == io::ErrorKind::NotFound {
            LogProblem::NotFound
        } else {
            LogProblem::Io(e)
        },
    }
}

/// Checks a file given to `--log` before it is parsed: it exists, it is not empty, it is not a
/// capture or other binary, and its format is known (detected, or `given`).
pub fn check_log(path: &Path, given: Option<LogFormat>) -> Result<Content, LogInputError> {
    let content = sniff(path).map_err(|e| open_error(path, e))?;
    let problem = match &content {
        Content::Log(_) => return Ok(content),
        Content::Text(_) if given.is_some() => return Ok(content),
        // Named as exports: every UDP datagram whose header is an export's is read.
        Content::Capture(_) if given == Some(LogFormat::Netflow) => return Ok(content),
        Content::Empty => LogProblem::Empty,
        Content::Capture(kind) => LogProblem::IsCapture(kind),
        Content::Binary(b) => LogProblem::Binary(b.clone()),
        Content::Text(first) => LogProblem::Undetected(first.clone()),
    };
    Err(LogInputError {
        path: path.to_path_buf(),
        problem,
    })
}

/// What the files of `-r` are: captures (for the capture reader, which reports those it cannot
/// read), or one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Captures,
    Log(PathBuf),
}

/// Routes the inputs of `-r` by content: one file that is a log is read as a log; a log among
/// several inputs is refused (a run reads captures or one log); a lone text file in no known
/// format is refused with what it starts with. Files that cannot be opened stay with the
/// capture reader, which reports them as it always has.
pub fn route(inputs: &[InputSpec]) -> Result<Route, LogInputError> {
    let mut log: Option<(PathBuf, LogFormat)> = None;
    for spec in inputs {
        let InputSpec::File(path) = spec else {
            continue;
        };
        match sniff(path) {
            Ok(Content::Log(f)) if log.is_none() => log = Some((path.clone(), f)),
            Ok(Content::Log(f)) => {
                return Err(LogInputError {
                    path: path.clone(),
                    problem: LogProblem::Mixed(f),
                })
            }
            Ok(Content::Text(first)) if inputs.len() == 1 => {
                return Err(LogInputError {
                    path: path.clone(),
                    problem: LogProblem::Undetected(first),
                })
            }
            _ => {}
        }
    }
    match log {
        None => Ok(Route::Captures),
        Some((path, _)) if inputs.len() == 1 => Ok(Route::Log(path)),
        Some((path, f)) => Err(LogInputError {
            path,
            problem: LogProblem::Mixed(f),
        }),
    }
}

/// Why a parsed log gives nothing to audit, with the fix; `None` when a line was used.
/// `content` is what the file's first lines look like ([`sniff`]).
pub fn unusable(path: &Path, s: &Summary, content: Option<&Content>) -> Option<String> {
    if s.used > 0 {
        return None;
    }
    let name = path.display();
    if let Some(x) = &s.exports {
        let dropped: Vec<String> = x.dropped.iter().map(|(k, v)| format!("{v} {k}")).collect();
        return Some(if x.packets == 0 {
            format!(
                "{name}: no NetFlow/IPFIX export datagram among its {} packets: capture the UDP \
                 datagrams the exporter sends to its collector (port 2055, 4739, 9995...)",
                x.other_packets
            )
        } else {
            format!(
                "{name}: {} export datagrams, but no flow record could be read from them ({}): \
                 templates arrive every few minutes, so capture for longer than the exporter's \
                 template timeout",
                x.packets,
                if dropped.is_empty() {
                    "they held only templates and options".to_string()
                } else {
                    dropped.join(", ")
                }
            )
        });
    }
    if s.lines == 0 {
        return Some(format!(
            "{name}: empty file (0 bytes): no log lines to audit"
        ));
    }
    let Some(format) = s.format else {
        let first = match content {
            Some(Content::Text(first)) => format!(" (first line: {first:?})"),
            _ => String::new(),
        };
        return Some(format!(
            "{name}: its first lines match none of the log formats edgewise reads{first}; \
             if it is one of them, name it: `edgewise audit --log FILE --log-format FORMAT` (FORMAT: {})",
            format_names()
        ));
    };
    if s.skipped_total() + s.unparsable_total() == s.skipped.get("empty").copied().unwrap_or(0) {
        return Some(format!(
            "{name}: {} lines, none of them traffic (headers and comments only): enable logging of \
             allowed and dropped traffic on the firewall, then audit a fresh log",
            s.lines
        ));
    }
    let mut why: Vec<String> = s
        .skipped
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .chain(s.unparsable.iter().map(|(k, v)| format!("{v} {k}")))
        .collect();
    if s.comment > 0 {
        why.push(format!("{} comment", s.comment));
    }
    let mut msg = format!(
        "{name}: none of its {} lines is a {} traffic line ({})",
        s.lines,
        format.description(),
        why.join(", ")
    );
    match content {
        Some(Content::Log(other)) if *other != format => msg.push_str(&format!(
            "; its lines look like a {}: drop --log-format to detect the format, or give --log-format {}",
            other.description(),
            other.label()
        )),
        Some(c @ (Content::Capture(_) | Content::Binary(_))) => msg.push_str(&format!(
            "; the file is {}, not a log",
            c.describe()
        )),
        _ => {
            if let Some(b) = s.examples.first() {
                msg.push_str(&format!(
                    "; line {} ({}): {}",
                    b.line,
                    b.reason,
                    quote(&b.text)
                ));
            }
        }
    }
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_content() {
        assert_eq!(classify(b""), Content::Empty);
        assert_eq!(
            classify(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]),
            Content::Capture("pcapng capture")
        );
        assert_eq!(
            classify(b"#Version: 1.5\n#Software: Microsoft Windows Firewall\n"),
            Content::Log(LogFormat::Pfirewall)
        );
        assert_eq!(classify(b"hello\nworld\n"), Content::Text("hello".into()));
        assert!(matches!(classify(&[1, 2, 3, 4, 0, 9]), Content::Binary(_)));
        // A multi-byte character cut by the end of the head is still text.
        let mut t = b"Apr 29 2013 12:59:50: %ASA-6-302013: Built \xc3".to_vec();
        assert_eq!(classify(&t), Content::Log(LogFormat::Asa));
        t.push(0xff);
        assert!(matches!(classify(&t), Content::Binary(_)));
    }
}
