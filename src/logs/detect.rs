//! Format detection from the first non-empty lines: each line votes for the format whose
//! signature it carries; the most votes wins (ties in the order of research/ecosystem.md 2.3).
//! The SIEM formats are looked for first, whatever follows their signature: a FortiGate or
//! PAN-OS event exported as CEF or LEEF carries that vendor's words in its extension
//! (`FTNTFGTlogid=`, `subtype=`), and is read as CEF or LEEF.

use super::LogFormat;

/// The format a single line looks like.
pub fn line_format(l: &str) -> Option<LogFormat> {
    let t = l.trim_start();
    if t.starts_with("#Software: Microsoft Windows Firewall")
        || t.starts_with("#Fields: date time action")
    {
        return Some(LogFormat::Pfirewall);
    }
    if t.starts_with("#separator") || t.starts_with("#fields\t") || t.starts_with("#path\tconn") {
        return Some(LogFormat::ZeekTsv);
    }
    if super::cef::is_line(t) {
        return Some(LogFormat::Cef);
    }
    if super::leef::is_line(t) {
        return Some(LogFormat::Leef);
    }
    if super::checkpoint::is_line(t) {
        return Some(LogFormat::Checkpoint);
    }
    if t.starts_with('{') && t.contains("\"id.orig_h\"") {
        return Some(LogFormat::ZeekJson);
    }
    if t.contains("%ASA-") || t.contains("%FTD-") {
        return Some(LogFormat::Asa);
    }
    if t.contains(",TRAFFIC,") || t.contains(",THREAT,") || t.contains(",SYSTEM,") {
        return Some(LogFormat::Panos);
    }
    if (t.contains("logid=") || t.contains("devid=")) && t.contains("type=") {
        return Some(LogFormat::Fortigate);
    }
    if super::netflow::nfdump::is_line(t) {
        return Some(LogFormat::NfdumpCsv);
    }
    if super::filterlog::is_line(t) {
        return Some(LogFormat::Filterlog);
    }
    if super::netfilter::is_line(t) {
        return Some(LogFormat::Netfilter);
    }
    // A W3C data line: date, time, ALLOW/DROP.
    let mut w = t.split_ascii_whitespace();
    if let (Some(d), Some(_), Some(a)) = (w.next(), w.next(), w.next()) {
        if super::time::date(d).is_some() && matches!(a, "ALLOW" | "DROP") {
            return Some(LogFormat::Pfirewall);
        }
    }
    // A Zeek TSV data line without a header: epoch time then tab-separated columns.
    let mut tabs = t.split('\t');
    if let (Some(ts), Some(_)) = (tabs.next(), tabs.next()) {
        if super::time::epoch_secs(ts).is_ok() && t.matches('\t').count() >= 10 {
            return Some(LogFormat::ZeekTsv);
        }
    }
    None
}

/// The most likely format of these lines; `None` when no line carries any format's signature
/// (a capture, a log of another product): guessing would read every line as a bad line of the
/// guessed format, or worse, print binary as if it were one.
pub fn detect<'a>(lines: impl Iterator<Item = &'a str>) -> Option<LogFormat> {
    const ORDER: [LogFormat; 12] = [
        LogFormat::Pfirewall,
        LogFormat::Asa,
        LogFormat::Panos,
        LogFormat::Fortigate,
        LogFormat::ZeekTsv,
        LogFormat::ZeekJson,
        LogFormat::NfdumpCsv,
        LogFormat::Netfilter,
        LogFormat::Filterlog,
        LogFormat::Cef,
        LogFormat::Leef,
        LogFormat::Checkpoint,
    ];
    let mut votes = [0usize; 12];
    for l in lines {
        if let Some(f) = line_format(l) {
            if let Some(i) = ORDER.iter().position(|o| *o == f) {
                votes[i] += 1;
            }
        }
    }
    let best = votes.iter().copied().max().unwrap_or(0);
    ORDER
        .iter()
        .zip(votes)
        .find(|(_, v)| *v == best && best > 0)
        .map(|(f, _)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        assert_eq!(
            detect(["#Version: 1.5", "#Software: Microsoft Windows Firewall"].into_iter()),
            Some(LogFormat::Pfirewall)
        );
        assert_eq!(
            detect(["Apr 29 2013 12:59:50: %ASA-6-302013: Built"].into_iter()),
            Some(LogFormat::Asa)
        );
        assert_eq!(
            detect(
                ["date=2019-05-10 time=11:37:47 logid=\"0000000013\" type=\"traffic\""].into_iter()
            ),
            Some(LogFormat::Fortigate)
        );
        assert_eq!(
            detect(["#separator \\x09"].into_iter()),
            Some(LogFormat::ZeekTsv)
        );
        assert_eq!(
            detect(["{\"ts\":1.0,\"id.orig_h\":\"1.2.3.4\"}"].into_iter()),
            Some(LogFormat::ZeekJson)
        );
        assert_eq!(
            detect(
                [
                    "Dec  5 10:12:00 edge-fw systemd[1]: Started Session 4.",
                    "Dec  5 10:12:01 edge-fw kernel: [12345.678901] [UFW BLOCK] IN=eth0 OUT= MAC=00:11 SRC=203.0.113.7 DST=198.51.100.10 LEN=60 PROTO=TCP SPT=51514 DPT=5061 SYN URGP=0",
                ]
                .into_iter()
            ),
            Some(LogFormat::Netfilter)
        );
        assert_eq!(
            detect(
                ["<134>1 2026-12-05T10:12:01+01:00 opnsense filterlog 12345 - [meta sequenceId=\"1\"] 5,,,fae5,vtnet0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.7,10.45.16.10,51514,5061,0,S,1,,64240,,mss"]
                    .into_iter()
            ),
            Some(LogFormat::Filterlog)
        );
        // Fortinet's CEF carries FortiGate's keys: CEF all the same.
        assert_eq!(
            detect(
                ["Dec 27 11:07:55 FGT-A-LOG CEF: 0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward close|3|FTNTFGTlogid=0000000013 FTNTFGTsubtype=forward src=10.1.100.11"]
                    .into_iter()
            ),
            Some(LogFormat::Cef)
        );
        assert_eq!(
            detect(
                ["LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5"].into_iter()
            ),
            Some(LogFormat::Leef)
        );
        assert_eq!(
            detect(
                [
                    "<134>1 2020-03-29T13:19:22Z gw-da58d3 CheckPoint 1930 - [action:\"Accept\"; ifdir:\"outbound\"]",
                    "Dec  5 10:12:01 gw sshd[1]: Accepted publickey for admin",
                ]
                .into_iter()
            ),
            Some(LogFormat::Checkpoint)
        );
        // Check Point's exporter in CEF form is CEF.
        assert_eq!(
            detect(
                ["<134>1 2026-12-05T10:12:01Z gw CheckPoint 1 - - CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Drop"]
                    .into_iter()
            ),
            Some(LogFormat::Cef)
        );
        assert_eq!(detect(["hello", "world"].into_iter()), None);
    }
}
