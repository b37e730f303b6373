//! Streaming firewall logs shaped like a busy Edge's day: Windows Firewall `pfirewall.log` on
//! the Edge Server itself, or the syslog of a Cisco ASA in front of both of its perimeter
//! networks, for the site of `captures/topology.toml`.
//!
//! The number of **distinct flows** and the number of **lines** are separate parameters: a
//! flow's lines repeat its five-tuple (a dropped SYN retried, a datagram flow logged again, an
//! ASA Built and its Teardown, a scanner that keeps knocking), so a log can hold many lines per
//! flow. "Distinct" is what [`crate::logs::to_flow::flows`] counts: every flow is one flow
//! there (ASA sessions join on their connection id, other lines on the directional five-tuple
//! and the action), and no two flows share a key.
//!
//! The traffic mix (shares of the flows in `KINDS`): remote users' SIP/TLS 443 to the Access
//! Edge, PSOM 443 to Web Conferencing, STUN/TURN UDP 3478 and TCP 443 and relay media
//! 50000-59999 to the A/V Edge; federation SIP/MTLS 5061 both ways with fabrikam.com (the
//! topology's partner) and 23 other partners, A/V Edge to partner A/V Edge on UDP 3478; failing
//! federation (the Edge's SYNs to 8 unreachable partners time out, partners whose SRV record
//! names the Web Conferencing address are dropped on 5061); DNS from the Access Edge; on the
//! internal side 5061 both ways between the Front Ends (and their pool address) and the Edge's
//! internal interface, 5062, 8057, CMS replication 4443 from the Central Management store's Front
//! End, CLS 50001-50003, internal clients' TURN 443 and STUN 3478; and the Internet's noise,
//! dropped: TCP and UDP scans, SIP scanners on 5060, pings, Teams clients trying 3479-3481.
//!
//! Lines per flow: every flow has one line; then each gets its *natural* lines (an ASA session
//! its Teardown, a dropped SYN its retries, a datagram flow or a scanner a few more); whatever the
//! line count asks beyond that goes to the flows that can repeat without end (datagram flows, and
//! denied ones), in proportion to a weight of their kind. Fewer lines than that: the natural lines
//! are shared out in proportion (an ASA session may then be a Built alone, still open when the log
//! ends). An ASA session is at most two lines, so at many lines a flow an ASA log is mostly
//! denied datagrams; a `pfirewall.log` logs its datagram flows again instead.
//!
//! Time: one day (2026-03-02, local time as written), flows starting along a working day's curve;
//! a flow's lines follow its own pace (retries after 3, 6, 12 s; datagram lines every few
//! seconds or minutes; a session's Teardown after its length), squeezed to end by midnight
//! (unless more than [`MAX_OPEN`] flows are open at once, when new ones wait).
//!
//! Memory: the flows are planned one at a time from the seed and the flow's index (a first pass
//! adds up their weights, a second writes them), and at most [`MAX_OPEN`] flows with lines still
//! to come are held; nothing grows with the line count or the flow count.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;

use super::packets::Rng;
use crate::logs::time::{civil_from_days, days_from_civil};

/// Most distinct flows a log may ask for.
pub const MAX_DISTINCT_FLOWS: u64 = 100_000_000;
/// Flows with lines still to come, at most; past it a new flow waits for one to end.
pub const MAX_OPEN: usize = 1 << 16;

/// The log's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogBenchFormat {
    /// Windows Firewall `pfirewall.log` on the Edge Server (W3C, 17 fields).
    Pfirewall,
    /// Cisco ASA syslog (302013-302016, 106023).
    Asa,
}

impl LogBenchFormat {
    pub const ALL: [LogBenchFormat; 2] = [LogBenchFormat::Pfirewall, LogBenchFormat::Asa];

    pub fn name(self) -> &'static str {
        match self {
            LogBenchFormat::Pfirewall => "pfirewall",
            LogBenchFormat::Asa => "asa",
        }
    }

    pub fn parse(s: &str) -> Option<LogBenchFormat> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Header lines before the first traffic line.
    pub fn header_lines(self) -> u64 {
        match self {
            LogBenchFormat::Pfirewall => PFIREWALL_HEADER.lines().count() as u64,
            LogBenchFormat::Asa => 0,
        }
    }
}

const PFIREWALL_HEADER: &str = "#Version: 1.5\n#Software: Microsoft Windows Firewall\n\
#Time Format: Local\n#Fields: date time action protocol src-ip dst-ip src-port dst-port size \
tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path\n";

/// What to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBenchOptions {
    pub format: LogBenchFormat,
    /// Lines in the file, header lines included.
    pub lines: u64,
    /// Distinct flows, at least 1 and at most one per traffic line.
    pub distinct_flows: u64,
    pub seed: u64,
}

impl LogBenchOptions {
    /// `lines` lines holding `distinct_flows` flows, seed 1.
    pub fn new(format: LogBenchFormat, lines: u64, distinct_flows: u64) -> LogBenchOptions {
        LogBenchOptions {
            format,
            lines,
            distinct_flows,
            seed: 1,
        }
    }

    /// The fewest lines that hold the flows: the header and one line a flow.
    pub fn min_lines(&self) -> u64 {
        self.format
            .header_lines()
            .saturating_add(self.distinct_flows)
    }

    /// Why these options cannot be written, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.distinct_flows == 0 {
            return Err("distinct flows must be at least 1".into());
        }
        if self.distinct_flows > MAX_DISTINCT_FLOWS {
            return Err(format!(
                "{} distinct flows is more than the {MAX_DISTINCT_FLOWS} the generator writes",
                self.distinct_flows
            ));
        }
        if self.lines < self.min_lines() {
            return Err(format!(
                "{} lines cannot hold {} distinct flows: it takes at least {} ({} header lines \
                 and one line a flow)",
                self.lines,
                self.distinct_flows,
                self.min_lines(),
                self.format.header_lines()
            ));
        }
        Ok(())
    }
}

/// Totals of a written log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBenchStats {
    /// Lines written, header lines included.
    pub lines: u64,
    /// Traffic lines: the lines an audit uses (the rest are the header's comments).
    pub used_lines: u64,
    /// Lines of denied (dropped) traffic.
    pub denied_lines: u64,
    pub bytes: u64,
    /// Distinct flows written, as the log's reader joins lines into flows.
    pub distinct_flows: u64,
}

// ---------------------------------------------------------------- the site

const ACCESS: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 10);
const WEBCONF: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 20);
const AV: Ipv4Addr = Ipv4Addr::new(10, 45, 16, 30);
const EDGE_INTERNAL: Ipv4Addr = Ipv4Addr::new(172, 25, 33, 10);
const FRONT_ENDS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 10, 90),
    Ipv4Addr::new(192, 168, 10, 91),
];
const POOL_VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 190);
/// The Front End holding the Central Management store.
const CMS_MASTER: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 90);
const RESOLVERS: [Ipv4Addr; 2] = [Ipv4Addr::new(4, 2, 2, 2), Ipv4Addr::new(208, 67, 222, 222)];
const EXTERNAL: [Ipv4Addr; 3] = [ACCESS, WEBCONF, AV];

/// The NAT's public address of an Edge external address (the ASA's mapped address).
fn public(ip: Ipv4Addr) -> Ipv4Addr {
    match ip {
        ACCESS => Ipv4Addr::new(131, 107, 155, 10),
        WEBCONF => Ipv4Addr::new(131, 107, 155, 20),
        AV => Ipv4Addr::new(131, 107, 155, 30),
        other => other,
    }
}

/// Federated partners: fabrikam.com (the topology's) and 23 others in 198.18.0.0/24 (Access
/// Edges) and 198.19.0.0/24 (A/V Edges); fabrikam carries 8 shares in 31.
const PARTNERS: usize = 24;
const PARTNER_WEIGHTS: [u64; PARTNERS] = {
    let mut w = [1u64; PARTNERS];
    w[0] = 8;
    w
};

fn partner_access(p: usize) -> Ipv4Addr {
    if p == 0 {
        Ipv4Addr::new(198, 51, 100, 10)
    } else {
        Ipv4Addr::new(198, 18, 0, p as u8)
    }
}

fn partner_av(p: usize) -> Ipv4Addr {
    if p == 0 {
        Ipv4Addr::new(198, 51, 100, 30)
    } else {
        Ipv4Addr::new(198, 19, 0, p as u8)
    }
}

/// Partners whose Access Edge never answers (198.18.1.1-8).
const DEAD_PARTNERS: usize = 8;

/// An odd multiplier: a bijection on the 16,384 ephemeral ports and the 10,000 relay ports.
const SCRAMBLE: u64 = 7_919;
/// Coprime with every pool size below (2, 127, 257 are their only odd factors).
const SPREAD: u64 = 2_654_435_761;
/// Internet hosts: 203.0.113.0/24, then 256 /24s of 198.18.128.0/17 and 198.19.128.0/17.
const EXT_HOSTS: u64 = 254 * 257;
const EPHEMERAL: u64 = 16_384;
const RELAY: u64 = 10_000;

fn ephemeral(i: u64) -> u16 {
    49_152 + (i % EPHEMERAL * SCRAMBLE % EPHEMERAL) as u16
}

fn relay(i: u64) -> u16 {
    50_000 + (i % RELAY * SCRAMBLE % RELAY) as u16
}

/// The `h`-th Internet host (`h < EXT_HOSTS`).
fn ext_host(h: u64) -> Ipv4Addr {
    let host = (h % 254) as u8 + 1;
    match h / 254 {
        0 => Ipv4Addr::new(203, 0, 113, host),
        b => {
            let b = b - 1;
            Ipv4Addr::new(198, 18 + (b / 128) as u8, 128 + (b % 128) as u8, host)
        }
    }
}

/// The `c`-th Internet endpoint: every `c` below `EXT_HOSTS * EPHEMERAL` gives another
/// (address, port), spread over the hosts.
fn ext_endpoint(c: u64) -> (Ipv4Addr, u16) {
    let n = EXT_HOSTS * EPHEMERAL;
    let s = (c % n) * SPREAD % n;
    (ext_host(s % EXT_HOSTS), 49_152 + (s / EXT_HOSTS) as u16)
}

/// The `c`-th internal client endpoint (192.168.20.1-254, ephemeral ports).
fn client_endpoint(c: u64) -> Option<(Ipv4Addr, u16)> {
    let n = 254 * EPHEMERAL;
    (c < n).then(|| {
        let s = c * SPREAD % n;
        (
            Ipv4Addr::new(192, 168, 20, (s % 254) as u8 + 1),
            49_152 + (s / 254) as u16,
        )
    })
}

/// The `c`-th pick among weighted remotes, with an index unique within that remote: slots
/// `0..sum(w)` repeat, remote `r` owns `w[r]` of them. `None` past `per_remote` indices.
fn weighted(c: u64, w: &[u64], per_remote: u64) -> Option<(usize, u64)> {
    let total: u64 = w.iter().sum();
    let (round, mut slot) = (c / total, c % total);
    for (r, &wr) in w.iter().enumerate() {
        if slot < wr {
            let idx = round * wr + slot;
            return (idx < per_remote).then_some((r, idx));
        }
        slot -= wr;
    }
    None
}

// ---------------------------------------------------------------- the traffic mix

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Remote user -> Access Edge 443 (SIP/TLS).
    ClientSip,
    /// Remote user -> Web Conferencing Edge 443 (PSOM/TLS).
    ClientPsom,
    /// Remote user -> A/V Edge 443 (TURN over TCP).
    ClientTurnTcp,
    /// Remote user -> A/V Edge UDP 3478 (STUN/TURN).
    ClientStun,
    /// Remote user -> A/V Edge relay port (UDP 50000-59999).
    ClientMedia,
    /// Partner A/V Edge -> A/V Edge UDP 3478.
    FedAvIn,
    /// A/V Edge relay port -> partner A/V Edge UDP 3478.
    FedAvOut,
    /// Partner Access Edge -> Access Edge 5061.
    FedSipIn,
    /// Access Edge -> partner 5061.
    FedSipOut,
    /// Access Edge -> an unreachable partner's 5061: the SYN times out.
    FedSipDead,
    /// A partner whose SRV record names the Web Conferencing address: 5061 there, dropped.
    FedSipMisdirected,
    /// Access Edge -> resolver UDP 53.
    Dns,
    /// Internet -> an Edge external address, a closed TCP port: dropped.
    ScanTcp,
    /// Internet -> an Edge external address, UDP (SIP scanners on 5060 among them): dropped.
    ScanUdp,
    /// Internet ping to an Edge external address: dropped.
    Ping,
    /// Teams clients trying UDP 3479-3481 on the A/V Edge: dropped.
    TeamsPorts,
    /// Front End -> Edge internal 5061.
    FeSip,
    /// Edge internal -> Front End (or pool address) 5061.
    EdgeSip,
    /// Front End -> Edge internal 5062 (A/V authentication).
    AvAuth,
    /// Front End -> Edge internal 8057 (PSOM/MTLS).
    Psom,
    /// CMS master -> Edge internal 4443 (replication).
    Cms,
    /// Front End -> Edge internal 50001-50003 (Centralized Logging Service).
    Cls,
    /// Internal client -> Edge internal 443 (TURN over TCP).
    IntTurnTcp,
    /// Internal client -> Edge internal UDP 3478.
    IntStun,
    /// Internal client -> Edge internal, a closed management port: dropped.
    IntDenied,
}

/// Each kind's share of the flows, in ten-thousandths.
const KINDS: [(Kind, u64); 25] = [
    (Kind::ClientSip, 1_500),
    (Kind::ClientPsom, 800),
    (Kind::ClientTurnTcp, 600),
    (Kind::ClientStun, 1_400),
    (Kind::ClientMedia, 1_400),
    (Kind::FedAvIn, 200),
    (Kind::FedAvOut, 200),
    (Kind::FedSipIn, 250),
    (Kind::FedSipOut, 250),
    (Kind::FedSipDead, 80),
    (Kind::FedSipMisdirected, 80),
    (Kind::Dns, 690),
    (Kind::ScanTcp, 400),
    (Kind::ScanUdp, 300),
    (Kind::Ping, 100),
    (Kind::TeamsPorts, 300),
    (Kind::FeSip, 300),
    (Kind::EdgeSip, 300),
    (Kind::AvAuth, 200),
    (Kind::Psom, 150),
    (Kind::Cms, 50),
    (Kind::Cls, 50),
    (Kind::IntTurnTcp, 150),
    (Kind::IntStun, 150),
    (Kind::IntDenied, 100),
];
/// The kind that takes a flow whose own kind has used up its addresses.
const FALLBACK: Kind = Kind::ClientMedia;

impl Kind {
    /// Its place in [`KINDS`], which lists the kinds in their order here.
    fn index(self) -> usize {
        self as usize
    }

    fn transport(self) -> u8 {
        use Kind::*;
        match self {
            ClientStun | ClientMedia | FedAvIn | FedAvOut | Dns | ScanUdp | TeamsPorts
            | IntStun => 17,
            Ping => 1,
            _ => 6,
        }
    }

    fn denied(self) -> bool {
        use Kind::*;
        matches!(
            self,
            FedSipMisdirected | ScanTcp | ScanUdp | Ping | TeamsPorts | IntDenied
        )
    }

    /// Dropped SYNs, retried on the same port.
    fn retries(self) -> bool {
        self.denied() && self.transport() == 6
    }

    /// Lines beyond the first by nature, and the weight for lines beyond those, in `format`.
    fn lines(self, format: LogBenchFormat, rng: &mut Rng) -> (u64, u64) {
        use Kind::*;
        match self {
            ScanTcp => (rng.range(0, 2), 0),
            FedSipMisdirected => (rng.range(2, 5), 0),
            IntDenied => (rng.range(0, 3), 0),
            ScanUdp => (rng.range(1, 5), 6),
            Ping => (rng.range(0, 4), 3),
            TeamsPorts => (rng.range(1, 5), 4),
            // An ASA session: Built, then Teardown.
            _ if format == LogBenchFormat::Asa => (1, 0),
            ClientStun | FedAvIn | FedAvOut | IntStun => (rng.range(0, 3), 2),
            ClientMedia => (rng.range(0, 4), 4),
            // One ALLOW line a connection.
            _ => (0, 0),
        }
    }

    /// Seconds between repeated lines.
    fn gap(self, rng: &mut Rng) -> u64 {
        use Kind::*;
        match self {
            ScanUdp => rng.range(2, 31),
            Ping => rng.range(1, 11),
            TeamsPorts => rng.range(10, 121),
            _ => rng.range(60, 601),
        }
    }

    /// A session's length in seconds (Built to Teardown).
    fn session(self, rng: &mut Rng) -> u64 {
        use Kind::*;
        match self {
            ClientSip => spread(rng, 60, 28_800),
            ClientPsom | Psom => spread(rng, 60, 5_400),
            ClientTurnTcp | ClientMedia | FedAvIn | FedAvOut | IntTurnTcp => spread(rng, 30, 3_600),
            ClientStun | IntStun => spread(rng, 5, 600),
            FedSipIn | FedSipOut => spread(rng, 300, 28_800),
            FeSip | EdgeSip => spread(rng, 600, 28_800),
            FedSipDead => 30,
            Dns => rng.range(0, 3),
            AvAuth => spread(rng, 1, 30),
            Cms => spread(rng, 5, 120),
            Cls => spread(rng, 60, 3_600),
            _ => 0,
        }
    }

    /// Bytes a session carries: (fixed, per second).
    fn volume(self) -> (u64, u64) {
        use Kind::*;
        match self {
            ClientSip => (9_000, 40),
            ClientPsom | Psom => (7_000, 2_000),
            ClientTurnTcp | IntTurnTcp => (6_000, 12_000),
            ClientStun | IntStun => (300, 200),
            ClientMedia | FedAvIn | FedAvOut => (500, 16_000),
            FedSipIn | FedSipOut => (12_000, 120),
            FeSip | EdgeSip => (8_000, 500),
            AvAuth => (4_000, 100),
            Cms => (30_000, 2_000),
            Cls => (5_000, 50),
            Dns => (60, 100),
            _ => (0, 0),
        }
    }
}

/// A value in `lo..=hi`, spread evenly over the powers of two between them (a log-uniform
/// draw in integers: many short sessions, some long ones).
fn spread(rng: &mut Rng, lo: u64, hi: u64) -> u64 {
    let lo = lo.max(1);
    let octaves = u64::from((hi / lo).max(1).ilog2()) + 1;
    let base = lo << rng.range(0, octaves);
    rng.range(base, (base * 2).min(hi + 1).max(base + 1))
}

/// Addresses each kind has used, so that no two flows share a key.
#[derive(Default)]
struct Counters {
    /// Internet endpoints (all kinds with an Internet client or scanner).
    ext: u64,
    kind: [u64; KINDS.len()],
}

/// One flow, planned from the seed and its index alone.
struct Plan {
    kind: Kind,
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    natural: u64,
    bulk: u64,
    /// Seconds between repeated lines, or the session's length.
    pace: u64,
    /// Teardown reason (index into `REASONS`).
    reason: usize,
    /// TCP sequence number of a dropped SYN (the same in its retries).
    isn: u32,
    rng: Rng,
}

/// ASA teardown reasons, in ten-thousandths of the TCP sessions that end.
const REASONS: [(&str, u64); 5] = [
    ("TCP FINs", 8_200),
    ("TCP Reset-O", 600),
    ("TCP Reset-I", 400),
    ("Idle Timeout", 500),
    ("FIN Timeout", 300),
];
const SYN_TIMEOUT: usize = usize::MAX;

fn pick<T: Copy>(rng: &mut Rng, table: &[(T, u64)]) -> (usize, T) {
    let total: u64 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.range(0, total);
    for (i, (t, w)) in table.iter().enumerate() {
        if x < *w {
            return (i, *t);
        }
        x -= w;
    }
    (0, table[0].0)
}

/// The addresses of the next flow of `kind`; `None` when the kind has used up its own.
fn endpoints(
    kind: Kind,
    c: &mut Counters,
    rng: &mut Rng,
) -> Option<((Ipv4Addr, u16), (Ipv4Addr, u16))> {
    use Kind::*;
    let n = c.kind[kind.index()];
    let fe = |n: u64| -> Option<(Ipv4Addr, u16)> {
        (n < 2 * EPHEMERAL).then(|| (FRONT_ENDS[(n % 2) as usize], ephemeral(n / 2)))
    };
    let ends = match kind {
        ClientSip | ClientPsom | ClientTurnTcp | ClientStun | ClientMedia | ScanTcp | ScanUdp
        | TeamsPorts => {
            let src = ext_endpoint(c.ext);
            c.ext += 1;
            let dst = match kind {
                ClientSip => (ACCESS, 443),
                ClientPsom => (WEBCONF, 443),
                ClientTurnTcp => (AV, 443),
                ClientStun => (AV, 3478),
                ClientMedia => (AV, relay(rng.next_u64())),
                TeamsPorts => (AV, 3479 + rng.range(0, 3) as u16),
                ScanTcp => {
                    const PORTS: [u16; 16] = [
                        21, 22, 23, 25, 80, 135, 445, 1433, 1723, 3306, 3389, 5060, 5900, 5985,
                        8080, 8443,
                    ];
                    let port = if rng.range(0, 10) < 7 {
                        PORTS[rng.range(0, PORTS.len() as u64) as usize]
                    } else {
                        // A closed port of the registered range (5061 and 3478 are open).
                        match rng.range(1_024, 49_152) as u16 {
                            5061 | 3478 => 5062,
                            p => p,
                        }
                    };
                    (EXTERNAL[rng.range(0, 3) as usize], port)
                }
                _ => {
                    const PORTS: [u16; 8] = [5060, 5060, 5060, 5060, 53, 123, 161, 1900];
                    let port = PORTS[rng.range(0, PORTS.len() as u64) as usize];
                    (EXTERNAL[rng.range(0, 3) as usize], port)
                }
            };
            return Some((src, dst));
        }
        Ping => {
            // ICMP has no ports: one flow a host and address. Type 8 code 0 in the port places.
            (n < EXT_HOSTS * 3).then(|| {
                let host = ext_host((n / 3) * SPREAD % EXT_HOSTS);
                ((host, 8), (EXTERNAL[(n % 3) as usize], 0))
            })
        }
        FedSipIn | FedSipMisdirected | FedAvIn => {
            weighted(n, &PARTNER_WEIGHTS, EPHEMERAL).map(|(p, i)| match kind {
                FedSipIn => ((partner_access(p), ephemeral(i)), (ACCESS, 5061)),
                FedSipMisdirected => ((partner_access(p), ephemeral(i)), (WEBCONF, 5061)),
                _ => ((partner_av(p), ephemeral(i)), (AV, 3478)),
            })
        }
        FedSipOut => weighted(n, &PARTNER_WEIGHTS, EPHEMERAL)
            .map(|(p, i)| ((ACCESS, ephemeral(i)), (partner_access(p), 5061))),
        FedAvOut => weighted(n, &PARTNER_WEIGHTS, RELAY)
            .map(|(p, i)| ((AV, relay(i)), (partner_av(p), 3478))),
        FedSipDead => weighted(n, &[1; DEAD_PARTNERS], EPHEMERAL).map(|(p, i)| {
            (
                (ACCESS, ephemeral(i)),
                (Ipv4Addr::new(198, 18, 1, p as u8 + 1), 5061),
            )
        }),
        Dns => weighted(n, &[1; 2], EPHEMERAL)
            .map(|(r, i)| ((ACCESS, ephemeral(i)), (RESOLVERS[r], 53))),
        FeSip => fe(n).map(|s| (s, (EDGE_INTERNAL, 5061))),
        AvAuth => fe(n).map(|s| (s, (EDGE_INTERNAL, 5062))),
        Psom => fe(n).map(|s| (s, (EDGE_INTERNAL, 8057))),
        Cls => fe(n / 3).map(|s| (s, (EDGE_INTERNAL, 50_001 + (n % 3) as u16))),
        EdgeSip => {
            const NEXT_HOPS: [Ipv4Addr; 3] = [FRONT_ENDS[0], FRONT_ENDS[1], POOL_VIP];
            weighted(n, &[1; 3], EPHEMERAL)
                .map(|(h, i)| ((EDGE_INTERNAL, ephemeral(i)), (NEXT_HOPS[h], 5061)))
        }
        Cms => (n < EPHEMERAL).then(|| ((CMS_MASTER, ephemeral(n)), (EDGE_INTERNAL, 4443))),
        IntTurnTcp => client_endpoint(n).map(|s| (s, (EDGE_INTERNAL, 443))),
        IntStun => client_endpoint(n).map(|s| (s, (EDGE_INTERNAL, 3478))),
        IntDenied => {
            const PORTS: [u16; 5] = [22, 135, 445, 3389, 5985];
            client_endpoint(n).map(|s| {
                let port = PORTS[rng.range(0, PORTS.len() as u64) as usize];
                (s, (EDGE_INTERNAL, port))
            })
        }
    };
    if ends.is_some() {
        c.kind[kind.index()] += 1;
    }
    ends
}

/// Plans flow `i`. Flows are planned in index order, once to add up their lines' weights and
/// once to write them, from fresh counters each time: both passes see the same flows.
fn plan(i: u64, seed: u64, format: LogBenchFormat, c: &mut Counters) -> Plan {
    let mut rng = Rng::new(seed ^ (i.wrapping_add(1)).wrapping_mul(0xd6e8_feb8_6659_fd93));
    // The first flow is a UDP scanner, which may take any number of lines.
    let mut kind = if i == 0 {
        Kind::ScanUdp
    } else {
        pick(&mut rng, &KINDS).1
    };
    let (src, dst) = match endpoints(kind, c, &mut rng) {
        Some(e) => e,
        None => {
            kind = FALLBACK;
            endpoints(kind, c, &mut rng).unwrap_or(((ACCESS, 0), (AV, 0)))
        }
    };
    let (natural, bulk) = kind.lines(format, &mut rng);
    let pace = if format == LogBenchFormat::Asa && !kind.denied() {
        kind.session(&mut rng)
    } else {
        kind.gap(&mut rng)
    };
    let reason = if kind == Kind::FedSipDead {
        SYN_TIMEOUT
    } else {
        pick(&mut rng, &REASONS).0
    };
    let isn = rng.next_u32();
    Plan {
        kind,
        src,
        dst,
        natural,
        bulk,
        pace,
        reason,
        isn,
        rng,
    }
}

/// `part`'s share of `total` when the weights before it add up to `before` and all of them to
/// `sum`, such that the shares of all the parts add up to `total` exactly.
fn share(total: u64, before: u64, part: u64, sum: u64) -> u64 {
    if sum == 0 {
        return 0;
    }
    let at = |w: u64| (u128::from(total) * u128::from(w) / u128::from(sum)) as u64;
    at(before + part) - at(before)
}

// ---------------------------------------------------------------- time

/// 2026-03-02 00:00:00, the day the log covers.
fn day_start() -> i64 {
    days_from_civil(2026, 3, 2) * 86_400
}

/// Flows started per hour of the day, relative.
const HOURS: [u64; 24] = [
    3, 2, 2, 2, 2, 3, 6, 12, 18, 20, 20, 18, 15, 18, 20, 20, 17, 12, 8, 6, 5, 4, 4, 3,
];

/// When flow `i` of `n` starts: spread along the day's curve.
struct Starts {
    n: u64,
    hour: usize,
    /// Weighted seconds before `hour`.
    before: u128,
    /// Weighted seconds of the day.
    total: u128,
}

impl Starts {
    fn new(n: u64) -> Starts {
        Starts {
            n: n.max(1),
            hour: 0,
            before: 0,
            total: HOURS.iter().map(|&w| u128::from(w) * 3_600).sum(),
        }
    }

    fn at(&mut self, i: u64) -> i64 {
        let target = (2 * u128::from(i) + 1) * self.total / (2 * u128::from(self.n));
        while self.hour + 1 < HOURS.len()
            && self.before + u128::from(HOURS[self.hour]) * 3_600 <= target
        {
            self.before += u128::from(HOURS[self.hour]) * 3_600;
            self.hour += 1;
        }
        let within = ((target - self.before) / u128::from(HOURS[self.hour])).min(3_599) as i64;
        day_start() + self.hour as i64 * 3_600 + within
    }
}

/// The time of line `j` of `total` of a flow, in seconds after its start, given that its last
/// line may come no later than `room` seconds after it.
fn offset(p: &Plan, asa_session: bool, j: u64, total: u64, room: i64) -> i64 {
    let raw = |j: u64| -> u64 {
        if asa_session {
            if j == 0 {
                0
            } else {
                p.pace
            }
        } else if p.kind.retries() {
            // SYN retries after 3, 6, 12, 24 and 48 seconds, then a minute apart.
            if j <= 5 {
                3 * ((1 << j) - 1)
            } else {
                93 + 60 * (j - 5)
            }
        } else {
            p.pace.saturating_mul(j)
        }
    };
    let (at, last) = (raw(j), raw(total - 1));
    let room = room.max(0) as u64;
    if last <= room {
        at as i64
    } else {
        (u128::from(at) * u128::from(room) / u128::from(last.max(1))) as i64
    }
}

// ---------------------------------------------------------------- the writer

struct Open {
    plan: Plan,
    start: i64,
    total: u64,
    next: u64,
    session: u64,
}

struct Lines<W: Write> {
    out: BufWriter<W>,
    format: LogBenchFormat,
    buf: Vec<u8>,
    stamp_at: i64,
    stamp: Vec<u8>,
    stats: LogBenchStats,
}

impl<W: Write> Lines<W> {
    fn stamp(&mut self, t: i64) {
        if t == self.stamp_at && !self.stamp.is_empty() {
            return;
        }
        self.stamp_at = t;
        self.stamp.clear();
        let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
        let s = t.rem_euclid(86_400);
        let (h, mi, sec) = (s / 3_600, s % 3_600 / 60, s % 60);
        let _ = match self.format {
            LogBenchFormat::Pfirewall => {
                write!(self.stamp, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{sec:02}")
            }
            LogBenchFormat::Asa => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let m = MONTHS[(mo as usize).clamp(1, 12) - 1];
                write!(
                    self.stamp,
                    "{m} {d:02} {y:04} {h:02}:{mi:02}:{sec:02} edge-fw01 : %ASA-"
                )
            }
        };
    }

    fn emit(&mut self, denied: bool) -> io::Result<()> {
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.stats.bytes += self.buf.len() as u64;
        self.stats.lines += 1;
        self.stats.used_lines += 1;
        self.stats.denied_lines += u64::from(denied);
        self.buf.clear();
        Ok(())
    }

    /// Line `j` (of `o.total`) of an open flow, at `t`.
    fn line(&mut self, o: &mut Open, t: i64) -> io::Result<()> {
        self.stamp(t);
        self.buf.clear();
        self.buf.extend_from_slice(&self.stamp);
        match self.format {
            LogBenchFormat::Pfirewall => pfirewall_line(&mut self.buf, &mut o.plan),
            LogBenchFormat::Asa => asa_line(&mut self.buf, o, t),
        }
        self.emit(o.plan.kind.denied())
    }
}

fn is_edge(ip: Ipv4Addr) -> bool {
    ip == EDGE_INTERNAL || EXTERNAL.contains(&ip)
}

/// The fields after the time of a `pfirewall.log` line.
fn pfirewall_line(b: &mut Vec<u8>, p: &mut Plan) {
    let k = p.kind;
    let action = if k.denied() { "DROP" } else { "ALLOW" };
    let path = if is_edge(p.dst.0) { "RECEIVE" } else { "SEND" };
    let (s, d) = (p.src, p.dst);
    let _ = match (k.transport(), k.denied()) {
        (6, false) => write!(
            b,
            " ALLOW TCP {} {} {} {} 0 - 0 0 0 - - - {path}",
            s.0, d.0, s.1, d.1
        ),
        (17, false) => write!(
            b,
            " ALLOW UDP {} {} {} {} 0 - - - - - - - {path}",
            s.0, d.0, s.1, d.1
        ),
        (6, true) => {
            // Scanners send bare 44-byte SYNs with a small window; clients Windows' 52-byte one.
            let (size, win) = if k == Kind::ScanTcp {
                (44, 1_024)
            } else {
                (52, 64_240)
            };
            write!(
                b,
                " {action} TCP {} {} {} {} {size} S {} 0 {win} - - - {path}",
                s.0, d.0, s.1, d.1, p.isn
            )
        }
        (17, true) => {
            let size = match (k, d.1) {
                (Kind::ScanUdp, 5060) => p.rng.range(380, 620),
                (Kind::TeamsPorts, _) => p.rng.range(100, 240),
                _ => p.rng.range(40, 120),
            };
            write!(
                b,
                " {action} UDP {} {} {} {} {size} - - - - - - - {path}",
                s.0, d.0, s.1, d.1
            )
        }
        _ => write!(
            b,
            " {action} ICMP {} {} - - 60 - - - - {} {} - {path}",
            s.0, d.0, s.1, d.1
        ),
    };
}

/// The ASA interface an address is on: the Internet, the Edge's external perimeter network,
/// its internal one, the corporate network; with its security level.
fn interface(ip: Ipv4Addr) -> (&'static str, u8) {
    if EXTERNAL.contains(&ip) {
        ("edge-ext", 50)
    } else if ip == EDGE_INTERNAL {
        ("edge-int", 50)
    } else if ip.octets()[0] == 192 && ip.octets()[1] == 168 {
        ("inside", 100)
    } else {
        ("outside", 0)
    }
}

/// The message after the time of an ASA line.
fn asa_line(b: &mut Vec<u8>, o: &mut Open, t: i64) {
    let p = &mut o.plan;
    let k = p.kind;
    let (s, d) = (p.src, p.dst);
    let (sif, ssec) = interface(s.0);
    let (dif, dsec) = interface(d.0);
    let (proto, lower) = match k.transport() {
        6 => ("TCP", "tcp"),
        17 => ("UDP", "udp"),
        _ => ("ICMP", "icmp"),
    };
    if k.denied() {
        let acl = if sif == "inside" {
            ("inside_access_in", 0x91b2_c3d4u32)
        } else {
            ("outside_access_in", 0x4f1c_7a21u32)
        };
        let _ = if k.transport() == 1 {
            write!(
                b,
                "4-106023: Deny icmp src {sif}:{} dst {dif}:{} (type {}, code {}) \
                 by access-group \"{}\" [0x{:08x}, 0x0]",
                s.0, d.0, s.1, d.1, acl.0, acl.1
            )
        } else {
            write!(
                b,
                "4-106023: Deny {} src {sif}:{}/{} dst {dif}:{}/{} \
                 by access-group \"{}\" [0x{:08x}, 0x0]",
                lower, s.0, s.1, d.0, d.1, acl.0, acl.1
            )
        };
        return;
    }
    // The "for" socket is the lower-security interface's: inbound when the originator is there.
    let inbound = ssec < dsec;
    let ((fi, f), (ti, to)) = if inbound {
        ((sif, s), (dif, d))
    } else {
        ((dif, d), (sif, s))
    };
    let (built, teardown) = if proto == "TCP" {
        ("302013", "302014")
    } else {
        ("302015", "302016")
    };
    if o.next == 0 {
        let _ = write!(
            b,
            "6-{built}: Built {} {proto} connection {} \
             for {fi}:{}/{} ({}/{}) to {ti}:{}/{} ({}/{})",
            if inbound { "inbound" } else { "outbound" },
            o.session,
            f.0,
            f.1,
            public(f.0),
            f.1,
            to.0,
            to.1,
            public(to.0),
            to.1
        );
        return;
    }
    let secs = (t - o.start).max(0) as u64;
    let (fixed, rate) = k.volume();
    let bytes = if p.reason == SYN_TIMEOUT {
        0
    } else {
        let v = fixed + rate * secs;
        v / 2 + p.rng.range(0, v + 1)
    };
    let _ = write!(
        b,
        "6-{teardown}: Teardown {proto} connection {} for {fi}:{}/{} to {ti}:{}/{} \
         duration {}:{:02}:{:02} bytes {bytes}",
        o.session,
        f.0,
        f.1,
        to.0,
        to.1,
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    );
    if proto == "TCP" {
        let reason = if p.reason == SYN_TIMEOUT {
            "SYN Timeout"
        } else {
            REASONS[p.reason].0
        };
        b.push(b' ');
        b.extend_from_slice(reason.as_bytes());
    }
}

/// Writes a firewall log of `opts.lines` lines holding `opts.distinct_flows` flows to `w`,
/// buffered, and returns what it wrote. The same options give the same bytes.
pub fn write_firewall_log<W: Write>(w: W, opts: &LogBenchOptions) -> io::Result<LogBenchStats> {
    opts.check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (format, flows, seed) = (opts.format, opts.distinct_flows, opts.seed);
    let traffic = opts.lines - format.header_lines();
    let extra = traffic - flows;

    // First pass: the weights of every flow's lines.
    let (mut natural_sum, mut bulk_sum) = (0u64, 0u64);
    let mut c = Counters::default();
    for i in 0..flows {
        let p = plan(i, seed, format, &mut c);
        natural_sum += p.natural;
        bulk_sum += p.bulk;
    }
    let beyond = extra.saturating_sub(natural_sum);

    let mut out = Lines {
        out: BufWriter::with_capacity(1 << 18, w),
        format,
        buf: Vec::with_capacity(512),
        stamp_at: 0,
        stamp: Vec::with_capacity(64),
        stats: LogBenchStats::default(),
    };
    if format == LogBenchFormat::Pfirewall {
        out.out.write_all(PFIREWALL_HEADER.as_bytes())?;
        out.stats.bytes += PFIREWALL_HEADER.len() as u64;
        out.stats.lines += format.header_lines();
    }

    let mut c = Counters::default();
    let mut starts = Starts::new(flows);
    // Flows start at their place on the day's curve, up to the mean spacing later.
    let spacing = (86_400 / flows).max(1);
    let jitter = |i: u64| {
        Rng::new(seed ^ i.wrapping_add(1).wrapping_mul(0x9fb2_1c65_1e98_df25)).range(0, spacing)
            as i64
    };
    let day_end = day_start() + 86_399;
    let (mut natural_before, mut bulk_before) = (0u64, 0u64);
    let mut session = 400_000_000 + seed % 100_000_000;
    let mut open: Vec<Option<Open>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut queue: BinaryHeap<Reverse<(i64, u64, u32)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut next = 0u64;
    let mut now = day_start();
    loop {
        let start_at =
            (next < flows).then(|| (starts.at(next) + jitter(next)).min(day_end).max(now));
        let head = queue.peek().map(|Reverse((t, ..))| *t);
        let start = match (start_at, head) {
            (Some(s), Some(h)) => s <= h && queue.len() < MAX_OPEN,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if start {
            let t = start_at.unwrap_or(now);
            let p = plan(next, seed, format, &mut c);
            let more = if extra <= natural_sum {
                share(extra, natural_before, p.natural, natural_sum)
            } else {
                p.natural + share(beyond, bulk_before, p.bulk, bulk_sum)
            };
            natural_before += p.natural;
            bulk_before += p.bulk;
            next += 1;
            let asa_session = format == LogBenchFormat::Asa && !p.kind.denied();
            let mut o = Open {
                plan: p,
                start: t,
                total: 1 + more,
                next: 0,
                session: 0,
            };
            if asa_session {
                session += 1;
                o.session = session;
            }
            out.line(&mut o, t)?;
            now = t;
            o.next = 1;
            if o.next < o.total {
                let at = t + offset(&o.plan, asa_session, 1, o.total, day_end - t);
                let slot = match free.pop() {
                    Some(s) => {
                        open[s as usize] = Some(o);
                        s
                    }
                    None => {
                        open.push(Some(o));
                        (open.len() - 1) as u32
                    }
                };
                order += 1;
                queue.push(Reverse((at, order, slot)));
            }
        } else if let Some(Reverse((t, _, slot))) = queue.pop() {
            let Some(mut o) = open[slot as usize].take() else {
                continue;
            };
            out.line(&mut o, t)?;
            now = t;
            o.next += 1;
            if o.next < o.total {
                let asa_session = format == LogBenchFormat::Asa && !o.plan.kind.denied();
                let at = o.start + offset(&o.plan, asa_session, o.next, o.total, day_end - o.start);
                open[slot as usize] = Some(o);
                order += 1;
                queue.push(Reverse((at.max(t), order, slot)));
            } else {
                free.push(slot);
            }
        }
    }
    out.out.flush()?;
    out.stats.distinct_flows = flows;
    Ok(out.stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{parse_reader, to_flow, LogFormat, LogOptions};

    fn write(opts: &LogBenchOptions) -> (Vec<u8>, LogBenchStats) {
        let mut v = Vec::new();
        let stats = write_firewall_log(&mut v, opts).expect("writes");
        (v, stats)
    }

    fn opts(format: LogBenchFormat, lines: u64, flows: u64) -> LogBenchOptions {
        LogBenchOptions::new(format, lines, flows)
    }

    #[test]
    fn same_seed_same_bytes() {
        for f in LogBenchFormat::ALL {
            let o = opts(f, 3_000, 400);
            let (a, sa) = write(&o);
            let (b, sb) = write(&o);
            assert_eq!(a, b, "{f:?}");
            assert_eq!(sa, sb);
            let (c, _) = write(&LogBenchOptions { seed: 2, ..o });
            assert_ne!(a, c, "{f:?}: another seed, another log");
        }
    }

    #[test]
    fn writes_the_lines_asked() {
        for f in LogBenchFormat::ALL {
            for (lines, flows) in [
                (f.header_lines() + 1, 1),
                (f.header_lines() + 7, 7),
                (100, 3),
                (1_000, 999 - f.header_lines()),
                (5_000, 200),
                (20_000, 2_000),
            ] {
                let (v, s) = write(&opts(f, lines, flows));
                let count = v.iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(count, lines, "{f:?} {lines} lines, {flows} flows");
                assert_eq!(s.lines, lines);
                assert_eq!(s.bytes, v.len() as u64);
                assert_eq!(s.used_lines, lines - f.header_lines());
                assert_eq!(s.distinct_flows, flows);
                assert!(v.ends_with(b"\n"));
            }
        }
    }

    /// Read back: no unparsable line, every traffic line used, the flows the generator meant,
    /// times in order.
    #[test]
    fn reads_back_as_the_flows_written() {
        for f in LogBenchFormat::ALL {
            for (lines, flows) in [
                (6_000, 300),
                (3_000, 2_500),
                (4_000, 4_000 - f.header_lines()),
            ] {
                let (v, s) = write(&opts(f, lines, flows));
                let format = match f {
                    LogBenchFormat::Pfirewall => LogFormat::Pfirewall,
                    LogBenchFormat::Asa => LogFormat::Asa,
                };
                let log = parse_reader(
                    v.as_slice(),
                    LogOptions {
                        format: Some(format),
                        ..LogOptions::default()
                    },
                )
                .expect("reads");
                let sum = &log.summary;
                assert_eq!(sum.unparsable_total(), 0, "{f:?}: {:?}", sum.examples);
                assert_eq!(sum.lines, lines);
                assert_eq!(sum.used, s.used_lines, "{f:?}");
                assert_eq!(sum.comment, f.header_lines());
                let distinct = to_flow::flows(&log).0.len() as u64;
                assert_eq!(distinct, flows, "{f:?} {lines}/{flows}");
            }
        }
    }

    /// The day's lines in time order, all on 2026-03-02, whatever the flows' lengths.
    #[test]
    fn one_day_in_time_order() {
        for f in LogBenchFormat::ALL {
            for (lines, flows) in [(30, 1), (20_000, 500), (8_000, 6_000)] {
                let (v, _) = write(&opts(f, lines, flows));
                let text = String::from_utf8(v).expect("text");
                let times: Vec<&str> = text
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| match f {
                        LogBenchFormat::Pfirewall => {
                            assert!(l.starts_with("2026-03-02 "), "{l}");
                            &l[11..19]
                        }
                        LogBenchFormat::Asa => {
                            assert!(l.starts_with("Mar 02 2026 "), "{l}");
                            &l[12..20]
                        }
                    })
                    .collect();
                assert!(
                    times.windows(2).all(|w| w[0] <= w[1]),
                    "{f:?} {lines}/{flows}"
                );
            }
        }
    }

    /// Detected from its content, as `edgewise audit -r FILE` reads it.
    #[test]
    fn format_detected() {
        for (f, want) in [
            (LogBenchFormat::Pfirewall, LogFormat::Pfirewall),
            (LogBenchFormat::Asa, LogFormat::Asa),
        ] {
            let (v, _) = write(&opts(f, 500, 50));
            let log = parse_reader(v.as_slice(), LogOptions::default()).expect("reads");
            assert_eq!(log.summary.format, Some(want));
        }
    }

    #[test]
    fn the_mix_is_there() {
        let (v, s) = write(&opts(LogBenchFormat::Asa, 40_000, 4_000));
        let text = String::from_utf8(v).expect("text");
        for needle in [
            "Built inbound TCP connection",
            "Built outbound TCP connection",
            "Built inbound UDP connection",
            "TCP FINs",
            "SYN Timeout",
            "TCP Reset-I",
            "%ASA-6-302016: Teardown UDP",
            "%ASA-4-106023: Deny udp",
            "%ASA-4-106023: Deny tcp",
            "Deny icmp",
            "(131.107.155.10/443)",
            "outside:198.51.100.10/",
            "edge-int:172.25.33.10/5061",
            "inside:192.168.10.90/",
            "/4443 ",
        ] {
            assert!(text.contains(needle), "asa: no {needle:?}");
        }
        assert!(s.denied_lines > 0 && s.denied_lines < s.lines);
        let (v, _) = write(&opts(LogBenchFormat::Pfirewall, 40_000, 4_000));
        let text = String::from_utf8(v).expect("text");
        // (action, protocol, destination, destination port, path) of every traffic line.
        let seen: std::collections::HashSet<(String, String, String, String, String)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let c: Vec<&str> = l.split(' ').collect();
                assert_eq!(c.len(), 17, "{l}");
                let s = |i: usize| c[i].to_string();
                (s(2), s(3), s(5), s(7), s(16))
            })
            .collect();
        let has = |a: &str, p: &str, d: &str, port: &str, path: &str| {
            let k = (a.into(), p.into(), d.into(), port.into(), path.into());
            assert!(seen.contains(&k), "pfirewall: no {k:?}");
        };
        has("ALLOW", "TCP", "10.45.16.10", "443", "RECEIVE");
        has("ALLOW", "TCP", "10.45.16.20", "443", "RECEIVE");
        has("ALLOW", "TCP", "10.45.16.30", "443", "RECEIVE");
        has("ALLOW", "UDP", "10.45.16.30", "3478", "RECEIVE");
        has("ALLOW", "TCP", "10.45.16.10", "5061", "RECEIVE");
        has("ALLOW", "TCP", "198.51.100.10", "5061", "SEND");
        has("ALLOW", "UDP", "198.51.100.30", "3478", "SEND");
        has("ALLOW", "UDP", "4.2.2.2", "53", "SEND");
        has("ALLOW", "TCP", "172.25.33.10", "5061", "RECEIVE");
        has("ALLOW", "TCP", "192.168.10.190", "5061", "SEND");
        has("ALLOW", "TCP", "172.25.33.10", "5062", "RECEIVE");
        has("ALLOW", "TCP", "172.25.33.10", "8057", "RECEIVE");
        has("ALLOW", "TCP", "172.25.33.10", "4443", "RECEIVE");
        has("ALLOW", "UDP", "172.25.33.10", "3478", "RECEIVE");
        has("DROP", "TCP", "10.45.16.20", "5061", "RECEIVE");
        has("DROP", "UDP", "10.45.16.10", "5060", "RECEIVE");
        has("DROP", "UDP", "10.45.16.30", "3480", "RECEIVE");
        has("DROP", "ICMP", "10.45.16.10", "-", "RECEIVE");
        assert!(seen.iter().any(|(a, p, _, port, _)| a == "ALLOW"
            && p == "UDP"
            && port.starts_with('5')
            && port.len() == 5));
    }

    #[test]
    fn bad_options_are_refused() {
        let mut v = Vec::new();
        for (lines, flows) in [(10, 0), (4, 1), (10, 7), (10, MAX_DISTINCT_FLOWS + 1)] {
            let o = opts(LogBenchFormat::Pfirewall, lines, flows);
            assert!(o.check().is_err(), "{lines}/{flows}");
            let e = write_firewall_log(&mut v, &o).expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        assert!(v.is_empty());
        assert!(opts(LogBenchFormat::Asa, 1, 1).check().is_ok());
    }

    #[test]
    fn pools_are_bijections() {
        let n = EXT_HOSTS * EPHEMERAL;
        let mut seen = std::collections::HashSet::new();
        for c in (0..n).step_by(997).take(100_000) {
            assert!(seen.insert(ext_endpoint(c)));
        }
        let mut ports = std::collections::HashSet::new();
        for i in 0..EPHEMERAL {
            assert!(ports.insert(ephemeral(i)));
        }
        let mut ports = std::collections::HashSet::new();
        for i in 0..RELAY {
            assert!(ports.insert(relay(i)));
        }
        let mut seen = std::collections::HashSet::new();
        for c in 0..254 * EPHEMERAL {
            assert!(seen.insert(client_endpoint(c)));
        }
        assert_eq!(client_endpoint(254 * EPHEMERAL), None);
        let mut seen = std::collections::HashSet::new();
        for c in 0..40_000 {
            if let Some(x) = weighted(c, &PARTNER_WEIGHTS, EPHEMERAL) {
                assert!(seen.insert(x));
            }
        }
        let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
        assert_eq!(total, 10_000, "shares in ten-thousandths");
        for (i, (k, _)) in KINDS.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
    }
}
