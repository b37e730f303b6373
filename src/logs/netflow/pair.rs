//! Unidirectional flow records paired into connections, and TCP flags read as a connection
//! state.
//!
//! NetFlow and most IPFIX exporters send one record per direction: the records of A->B and
//! B->A on one five-tuple are one connection, as a capture's flow is. Records of one direction
//! (an active timeout splits a long flow) add up.
//!
//! Who opened it: the side whose record has SYN without ACK (certain, as a SYN seen in a
//! capture), or the side that never sent a SYN when the other did (it only answered, or
//! refused). Otherwise as the capture path infers it: the side whose records start first (the
//! first record when both start together, as softflowd's do), turned round when that side
//! sends from a service port to a port that is not one.
//!
//! How it ended, from the flags ORed over each direction (NetFlow keeps no order of packets):
//! - no SYN either way: the records began mid-connection, `OTH`;
//! - established (the responder's SYN with ACK, or the originator's ACK after its SYN): a RST
//!   from either side is `RSTO`/`RSTR`, FINs `SF` (both, or the originator's when the responder's
//!   direction has no record), one side's FIN `S2`/`S3`, else `S1`;
//! - the originator's SYN answered by the responder's RST: `REJ`;
//! - a SYN with no record of the other direction: `S0` (`RSTOS0` with the originator's own
//!   RST), but only when the exporters meter both directions (some flow was exported both
//!   ways); otherwise the answer may be in a direction no exporter sent, and the outcome is not
//!   recorded.
//!
//! A template without TCP flags gives no outcome, and no check reads one.

use std::collections::HashMap;
use std::net::IpAddr;

use super::records::FlowRecord;
use crate::flow::InitiatorEvidence;
use crate::logs::state::TcpEnd;
use crate::logs::{Action, Record};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One direction's records added up.
#[derive(Debug, Clone)]
struct Dir {
    records: u64,
    packets: u64,
    bytes: u64,
    flags: Option<u8>,
    first: Option<i64>,
    last: Option<i64>,
    first_no: u64,
}

impl Dir {
    fn new(r: &FlowRecord) -> Dir {
        Dir {
            records: 0,
            packets: 0,
            bytes: 0,
            flags: None,
            first: None,
            last: None,
            first_no: r.no,
        }
    }

    fn add(&mut self, r: &FlowRecord) {
        self.records += 1;
        self.packets = self.packets.saturating_add(r.packets);
        self.bytes = self.bytes.saturating_add(r.bytes);
        if let Some(f) = r.flags {
            self.flags = Some(self.flags.unwrap_or(0) | f);
        }
        self.first = min_opt(self.first, r.first_ns);
        self.last = max_opt(self.last, r.last_ns.or(r.first_ns));
        self.first_no = self.first_no.min(r.no);
    }

    fn flags(&self) -> u8 {
        self.flags.unwrap_or(0)
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

type Endpoint = (IpAddr, u16);
type Key = (Endpoint, Endpoint, u8);

/// A connection being built: `a` is the lower endpoint, `dirs[0]` the records from `a` to `b`.
#[derive(Debug)]
struct Build {
    a: Endpoint,
    b: Endpoint,
    protocol: u8,
    dirs: [Option<Dir>; 2],
}

/// Counts for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub paired: u64,
    pub one_way: u64,
}

/// Records paired into connections, at most `cap` of them.
#[derive(Debug)]
pub struct Pairs {
    cap: usize,
    index: HashMap<Key, usize>,
    builds: Vec<Build>,
}

impl Pairs {
    pub fn new(cap: usize) -> Pairs {
        Pairs {
            cap,
            index: HashMap::new(),
            builds: Vec::new(),
        }
    }

    /// Adds a record to its connection; false when the table is full and the record starts a
    /// connection it has no room for.
    pub fn add(&mut self, r: FlowRecord) -> bool {
        let forward = r.src <= r.dst;
        let (a, b) = if forward {
            (r.src, r.dst)
        } else {
            (r.dst, r.src)
        };
        let key = (a, b, r.protocol);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                if self.builds.len() >= self.cap {
                    return false;
                }
                self.builds.push(Build {
                    a,
                    b,
                    protocol: r.protocol,
                    dirs: [None, None],
                });
                self.index.insert(key, self.builds.len() - 1);
                self.builds.len() - 1
            }
        };
        let d = &mut self.builds[i].dirs[usize::from(!forward)];
        d.get_or_insert_with(|| Dir::new(&r)).add(&r);
        true
    }

    /// One [`Record`] per connection, in order of its first record; the records used; counts.
    pub fn finish(self) -> (Vec<Record>, u64, Stats) {
        let both_ways = self
            .builds
            .iter()
            .any(|b| b.dirs.iter().all(Option::is_some));
        let mut stats = Stats::default();
        let mut used = 0u64;
        let mut out: Vec<Record> = self
            .builds
            .into_iter()
            .map(|b| {
                if b.dirs.iter().all(Option::is_some) {
                    stats.paired += 1;
                } else {
                    stats.one_way += 1;
                }
                used += b.dirs.iter().flatten().map(|d| d.records).sum::<u64>();
                connection(b, both_ways)
            })
            .collect();
        out.sort_by_key(|r| r.line);
        (out, used, stats)
    }
}

/// Which direction opened the connection (0: from `a`), and how that is known.
fn opener(b: &Build) -> (usize, InitiatorEvidence) {
    let d = &b.dirs;
    if b.protocol == 6 {
        let syn_only = |i: usize| {
            d[i].as_ref()
                .and_then(|x| x.flags)
                .is_some_and(|f| f & (SYN | ACK) == SYN)
        };
        let syn = |i: usize| d[i].as_ref().is_some_and(|x| x.flags() & SYN != 0);
        let silent_or_no_syn = |i: usize| {
            d[i].as_ref()
                .is_none_or(|x| x.flags.is_some() && x.flags() & SYN == 0)
        };
        for i in 0..2 {
            let j = 1 - i;
            if syn_only(i) && !syn_only(j) {
                return (i, InitiatorEvidence::Syn);
            }
            if syn(i) && d[j].is_some() && silent_or_no_syn(j) {
                return (i, InitiatorEvidence::Syn);
            }
        }
    }
    // The first to send: by time, then by the first record.
    let first = match (&d[0], &d[1]) {
        (Some(x), Some(y)) => match (x.first, y.first) {
            (Some(s), Some(t)) if s != t => usize::from(t < s),
            _ => usize::from(y.first_no < x.first_no),
        },
        (Some(_), None) => 0,
        _ => 1,
    };
    let (from, to) = if first == 0 { (b.a, b.b) } else { (b.b, b.a) };
    if crate::flow::is_service_port(from.1) && !crate::flow::is_service_port(to.1) {
        (1 - first, InitiatorEvidence::WellKnownPort)
    } else {
        (first, InitiatorEvidence::FirstPacket)
    }
}

/// How a TCP connection ended, from the flags of its originator's (`o`) and responder's (`r`)
/// records; `None` when the flags cannot tell.
pub fn tcp_end(o: Option<u8>, r: Option<u8>, resp_seen: bool, both_ways: bool) -> Option<TcpEnd> {
    if o.is_none() && r.is_none() {
        return None;
    }
    let (o, r) = (o.unwrap_or(0), r.unwrap_or(0));
    let zeek = |state: &'static str| TcpEnd::Zeek {
        state,
        history: None,
    };
    if o & SYN == 0 && r & SYN == 0 {
        return Some(zeek("OTH"));
    }
    let established = (r & SYN != 0 && r & ACK != 0) || (o & SYN != 0 && o & ACK != 0);
    Some(if established {
        if o & RST != 0 {
            TcpEnd::Reset {
                by_src: true,
                established: true,
            }
        } else if r & RST != 0 {
            TcpEnd::Reset {
                by_src: false,
                established: true,
            }
        } else if o & FIN != 0 && (r & FIN != 0 || !resp_seen) {
            TcpEnd::Completed
        } else if o & FIN != 0 {
            zeek("S2")
        } else if r & FIN != 0 {
            zeek("S3")
        } else {
            TcpEnd::Established
        }
    } else if r & RST != 0 {
        TcpEnd::Refused
    } else if resp_seen {
        zeek("OTH")
    } else if !both_ways {
        return None;
    } else if o & RST != 0 {
        zeek("RSTOS0")
    } else {
        TcpEnd::Unanswered
    })
}

fn connection(b: Build, both_ways: bool) -> Record {
    let (i, evidence) = opener(&b);
    let (src, dst) = if i == 0 { (b.a, b.b) } else { (b.b, b.a) };
    let [d0, d1] = b.dirs;
    let (orig, resp) = if i == 0 { (d0, d1) } else { (d1, d0) };
    let line = orig
        .iter()
        .chain(resp.iter())
        .map(|d| d.first_no)
        .min()
        .unwrap_or(0);
    let mut r = Record::new(line, Action::Allowed, b.protocol, src, dst);
    let first = min_opt(
        orig.as_ref().and_then(|d| d.first),
        resp.as_ref().and_then(|d| d.first),
    );
    let last = max_opt(
        orig.as_ref().and_then(|d| d.last),
        resp.as_ref().and_then(|d| d.last),
    );
    r.ts_ns = first;
    r.duration_ns = match (first, last) {
        (Some(a), Some(z)) if z > a => Some(z - a),
        _ => None,
    };
    r.packets = Some(orig.as_ref().map_or(0, |d| d.packets));
    r.bytes = Some(orig.as_ref().map_or(0, |d| d.bytes));
    match &resp {
        Some(d) => {
            r.resp_packets = Some(d.packets);
            r.resp_bytes = Some(d.bytes);
        }
        // Nothing came back, if the exporters meter both directions; else unknown.
        None if both_ways => {
            r.resp_packets = Some(0);
            r.resp_bytes = Some(0);
        }
        None => {}
    }
    r.tcp_opened = evidence == InitiatorEvidence::Syn;
    r.evidence = Some(evidence);
    if b.protocol == 6 {
        r.end = tcp_end(
            orig.as_ref().and_then(|d| d.flags),
            resp.as_ref().and_then(|d| d.flags),
            resp.is_some(),
            both_ways,
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(no: u64, src: Endpoint, dst: Endpoint, packets: u64, flags: u8) -> FlowRecord {
        FlowRecord {
            no,
            exporter: 0,
            src,
            dst,
            protocol: 6,
            first_ns: Some(1_000),
            last_ns: Some(2_000),
            packets,
            bytes: packets * 60,
            flags: Some(flags),
        }
    }

    fn ep(s: &str, p: u16) -> Endpoint {
        (s.parse().expect("ip"), p)
    }

    fn state(end: Option<TcpEnd>) -> &'static str {
        end.map_or("-", |e| e.summary(true, 1).conn_state)
    }

    #[test]
    fn flags_give_the_capture_states() {
        // SYN only: S0 when both directions are metered, unknown otherwise.
        assert_eq!(state(tcp_end(Some(SYN), None, false, true)), "S0");
        assert_eq!(state(tcp_end(Some(SYN), None, false, false)), "-");
        // SYN answered by RST: REJ.
        assert_eq!(
            state(tcp_end(Some(SYN), Some(RST | ACK), true, true)),
            "REJ"
        );
        // SYN, ACK and FIN: SF, from one direction's record as from both.
        let all = SYN | ACK | FIN;
        assert_eq!(state(tcp_end(Some(all), Some(all), true, true)), "SF");
        assert_eq!(state(tcp_end(Some(all), None, false, false)), "SF");
        assert_eq!(
            state(tcp_end(Some(SYN | ACK | RST), Some(SYN | ACK), true, true)),
            "RSTO"
        );
        assert_eq!(state(tcp_end(Some(ACK), Some(ACK), true, true)), "OTH");
        assert_eq!(state(tcp_end(None, None, true, true)), "-");
    }

    #[test]
    fn two_directions_make_one_connection_opened_by_the_syn() {
        let mut p = Pairs::new(10);
        // softflowd exports the responder's direction first, with the same times.
        assert!(p.add(rec(
            1,
            ep("10.45.16.10", 5061),
            ep("198.51.100.10", 60200),
            1,
            RST | ACK
        )));
        assert!(p.add(rec(
            2,
            ep("198.51.100.10", 60200),
            ep("10.45.16.10", 5061),
            1,
            SYN
        )));
        let (out, used, stats) = p.finish();
        assert_eq!((out.len(), used, stats.paired), (1, 2, 1));
        let r = &out[0];
        assert_eq!(r.src, ep("198.51.100.10", 60200));
        assert_eq!(r.evidence, Some(InitiatorEvidence::Syn));
        assert_eq!(r.resp_packets, Some(1));
        assert_eq!(state(r.end.clone()), "REJ");
        assert_eq!(r.line, 1);
    }

    #[test]
    fn established_connections_are_opened_from_the_ephemeral_port() {
        let all = SYN | ACK | FIN;
        let mut p = Pairs::new(10);
        p.add(rec(
            1,
            ep("10.45.16.10", 443),
            ep("203.0.113.25", 51234),
            11,
            all,
        ));
        p.add(rec(
            2,
            ep("203.0.113.25", 51234),
            ep("10.45.16.10", 443),
            15,
            all,
        ));
        let (out, ..) = p.finish();
        assert_eq!(out[0].src, ep("203.0.113.25", 51234));
        assert_eq!(out[0].evidence, Some(InitiatorEvidence::WellKnownPort));
        assert_eq!((out[0].packets, out[0].resp_packets), (Some(15), Some(11)));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut p = Pairs::new(1);
        assert!(p.add(rec(1, ep("192.0.2.1", 1000), ep("192.0.2.2", 80), 1, SYN)));
        assert!(p.add(rec(
            2,
            ep("192.0.2.2", 80),
            ep("192.0.2.1", 1000),
            1,
            SYN | ACK
        )));
        assert!(!p.add(rec(3, ep("192.0.2.3", 1000), ep("192.0.2.2", 80), 1, SYN)));
    }
}
