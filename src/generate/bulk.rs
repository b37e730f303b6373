//! Streaming benchmark capture: an Edge traffic mix written frame by frame.
//!
//! Protocol payloads (ClientHello, server flight, TURN messages, DNS) are built once
//! as templates; per frame only headers are written into one reused buffer, payload
//! bytes are copied from the templates or from a pre-generated random pool, and the
//! checksums are computed. About 256 flows are active at once and interleaved in
//! time through a min-heap, so memory stays small whatever the target size.

use super::packets::*;
use super::proto::*;
use super::writer::{write_pcap_header, write_pcap_record_header, PcapFlavor};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Totals for a bulk capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkStats {
    pub packets: u64,
    /// Bytes of pcap output including the global header.
    pub bytes_written: u64,
    /// Flows started (a flow cut off by the size target still counts).
    pub flows: u64,
}

const POOL_LEN: usize = 1 << 20;
const ACTIVE_FLOWS: usize = 256;
const MSS: usize = 1460;

#[derive(Clone, Copy, Debug)]
enum Payload {
    Empty,
    /// Slice of a template.
    Tmpl(u16, u32, u32),
    /// TLS application-data record with this many body bytes from the pool.
    TlsApp(u16),
}

#[derive(Clone, Copy, Debug)]
struct Step {
    dir: u8,
    flags: u8,
    payload: Payload,
    gap_ns: i64,
}

enum Kind {
    Tcp {
        seq: [u32; 2],
        steps: Vec<Step>,
        pos: usize,
    },
    Udp {
        steps: Vec<Step>,
        pos: usize,
    },
    Rtp {
        left: u32,
        turn: u8,
        pt: u8,
        size: u16,
        ssrc: [u32; 2],
        seq: [u16; 2],
        ts: [u32; 2],
    },
}

struct Flow {
    ends: [SocketAddr; 2],
    next_ts: i64,
    kind: Kind,
    ip_id: [u16; 2],
}

struct Templates {
    t: Vec<Vec<u8>>,
}

// Template indices.
const T_CH_SIP: u16 = 0;
const T_CH_WEB: u16 = 1;
const T_SRV_FLIGHT: u16 = 2;
const T_CLI_FIN: u16 = 3;
const T_SRV_FIN: u16 = 4;
const T_PTLS_C: u16 = 5;
const T_PTLS_S: u16 = 6;
const T_TURN_REQ_TCP: u16 = 7;
const T_TURN_401_TCP: u16 = 8;
const T_TURN_AUTH_TCP: u16 = 9;
const T_TURN_OK_TCP: u16 = 10;
const T_TURN_REQ: u16 = 11;
const T_TURN_401: u16 = 12;
const T_TURN_AUTH: u16 = 13;
const T_TURN_OK: u16 = 14;
const T_DNS_Q: u16 = 15;
const T_DNS_R: u16 = 16;
const T_CH_FED: u16 = 17;
const T_SRV_FLIGHT_MTLS: u16 = 18;
const T_CLI_FIN_MTLS: u16 = 19;

impl Templates {
    fn new(rng: &mut Rng) -> Self {
        let tx1 = txid(rng);
        let tx2 = txid(rng);
        let client = SocketAddr::from(([203, 0, 113, 25], 50010));
        let relay = SocketAddr::from(([131, 107, 155, 30], 52010));
        let req = msturn_allocate_request(rng, tx1, false);
        let auth = msturn_allocate_request(rng, tx2, true);
        let ok = msturn_allocate_success(rng, tx2, client, relay);
        let e401 = msturn_allocate_401(tx1);
        let sans = ["sip.contoso.com", "webcon.contoso.com", "av.contoso.com"];
        let t = vec![
            client_hello("sip.contoso.com", &rng.array32(), &[]),
            client_hello("webcon.contoso.com", &rng.array32(), &[]),
            server_flight(rng, "sip.contoso.com", &sans, false),
            client_finish_flight(rng, None),
            server_finish_flight(rng),
            pseudo_tls_client_hello(&rng.array32()),
            pseudo_tls_server_hello(&rng.array32()),
            msturn_tcp_frame(&req),
            msturn_tcp_frame(&e401),
            msturn_tcp_frame(&auth),
            msturn_tcp_frame(&ok),
            req,
            e401,
            auth,
            ok,
            dns_query(0x4d2, "_sipfederationtls._tcp.fabrikam.com", DNS_SRV),
            dns_response(
                0x4d2,
                "_sipfederationtls._tcp.fabrikam.com",
                DNS_SRV,
                &[DnsAnswer::Srv {
                    priority: 0,
                    weight: 0,
                    port: 5061,
                    target: "sip.fabrikam.com",
                }],
            ),
            client_hello("sip.fabrikam.com", &rng.array32(), &[]),
            server_flight(rng, "sip.fabrikam.com", &["sip.fabrikam.com"], true),
            client_finish_flight(rng, Some("sip.contoso.com")),
        ];
        Templates { t }
    }
    fn len(&self, i: u16) -> usize {
        self.t[usize::from(i)].len()
    }
}

/// Builds a step list while tracking capture-point timing (see `packets::Timing`).
struct Script<'a> {
    steps: Vec<Step>,
    last: Option<u8>,
    local: [bool; 2],
    rtt: i64,
    tm: &'a Templates,
}

impl Script<'_> {
    fn gap(&mut self, dir: u8) -> i64 {
        let g = match self.last {
            None => 0,
            Some(l) if l == dir => 40_000,
            Some(_) if self.local[usize::from(dir)] => 250_000,
            Some(_) => self.rtt,
        };
        self.last = Some(dir);
        g
    }
    fn push(&mut self, dir: u8, flags: u8, payload: Payload, extra_gap: i64) {
        let gap = self.gap(dir) + extra_gap;
        self.steps.push(Step {
            dir,
            flags,
            payload,
            gap_ns: gap,
        });
    }
    fn tmpl(&mut self, dir: u8, idx: u16) {
        let len = self.tm.len(idx);
        let mut start = 0;
        while start < len {
            let end = (start + MSS).min(len);
            let flags = if end == len {
                TCP_PSH | TCP_ACK
            } else {
                TCP_ACK
            };
            self.push(dir, flags, Payload::Tmpl(idx, start as u32, end as u32), 0);
            start = end;
        }
    }
    fn udp_tmpl(&mut self, dir: u8, idx: u16) {
        let len = self.tm.len(idx) as u32;
        self.push(dir, 0, Payload::Tmpl(idx, 0, len), 0);
    }
    fn app(&mut self, dir: u8, len: usize, think: i64) {
        let mut left = len;
        let mut first = true;
        while left > 0 {
            // Records are sent whole; each record fits one segment here.
            let body = left.min(MSS - 5);
            left -= body;
            let flags = if left == 0 {
                TCP_PSH | TCP_ACK
            } else {
                TCP_ACK
            };
            self.push(
                dir,
                flags,
                Payload::TlsApp(body as u16),
                if first { think } else { 0 },
            );
            first = false;
        }
    }
    fn ctl(&mut self, dir: u8, flags: u8) {
        self.push(dir, flags, Payload::Empty, 0);
    }
}

fn rand_remote(rng: &mut Rng) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, rng.range(2, 254) as u8)),
        rng.range(49152, 65535) as u16,
    )
}

fn new_flow(rng: &mut Rng, tm: &Templates, now: i64) -> Flow {
    let roll = rng.range(0, 100);
    let rtt = rng.range(30, 80) as i64 * 1_000_000;
    let edge_port = rng.range(50000, 59999) as u16;
    let (ends, kind) = if roll < 45 {
        // RTP media through the A/V Edge; a quarter are video-sized.
        let video = roll < 12;
        let ends = [
            rand_remote(rng),
            SocketAddr::from(([10, 45, 16, 30], edge_port)),
        ];
        let kind = Kind::Rtp {
            left: rng.range(100, 1500) as u32 * 2,
            turn: 0,
            pt: if video {
                122
            } else if roll & 1 == 0 {
                0
            } else {
                8
            },
            size: if video {
                rng.range(900, 1200) as u16
            } else {
                160
            },
            ssrc: [rng.next_u32(), rng.next_u32()],
            seq: [rng.next_u32() as u16, rng.next_u32() as u16],
            ts: [rng.next_u32(), rng.next_u32()],
        };
        (ends, kind)
    } else if roll < 75 {
        let (ends, ch, flight, cfin, int) = match roll % 5 {
            0 => (
                [
                    SocketAddr::from(([10, 45, 16, 10], edge_port)),
                    SocketAddr::from(([198, 51, 100, 10], 5061)),
                ],
                T_CH_FED,
                T_SRV_FLIGHT_MTLS,
                T_CLI_FIN_MTLS,
                false,
            ),
            1 => (
                [rand_remote(rng), SocketAddr::from(([10, 45, 16, 20], 443))],
                T_CH_WEB,
                T_SRV_FLIGHT,
                T_CLI_FIN,
                false,
            ),
            2 => (
                [
                    SocketAddr::from(([192, 168, 10, 90], rng.range(49152, 65535) as u16)),
                    SocketAddr::from(([172, 25, 33, 10], 5061)),
                ],
                T_CH_SIP,
                T_SRV_FLIGHT_MTLS,
                T_CLI_FIN_MTLS,
                true,
            ),
            _ => (
                [rand_remote(rng), SocketAddr::from(([10, 45, 16, 10], 443))],
                T_CH_SIP,
                T_SRV_FLIGHT,
                T_CLI_FIN,
                false,
            ),
        };
        let rtt = if int { 1_000_000 } else { rtt };
        let mut s = Script {
            steps: Vec::new(),
            last: None,
            local: [is_edge_ip(ends[0].ip()), is_edge_ip(ends[1].ip())],
            rtt,
            tm,
        };
        s.ctl(0, TCP_SYN);
        s.ctl(1, TCP_SYN | TCP_ACK);
        s.ctl(0, TCP_ACK);
        s.tmpl(0, ch);
        s.tmpl(1, flight);
        s.ctl(0, TCP_ACK);
        s.tmpl(0, cfin);
        s.tmpl(1, T_SRV_FIN);
        for i in 0..rng.range(2, 24) {
            let d = (i % 2) as u8;
            s.app(
                d,
                rng.range(300, 4000) as usize,
                rng.range(50, 2000) as i64 * 1_000_000,
            );
            s.app(1 - d, rng.range(200, 900) as usize, 0);
            s.ctl(d, TCP_ACK);
        }
        s.ctl(0, TCP_FIN | TCP_ACK);
        s.ctl(1, TCP_FIN | TCP_ACK);
        s.ctl(0, TCP_ACK);
        (
            ends,
            Kind::Tcp {
                seq: [rng.next_u32(), rng.next_u32()],
                steps: s.steps,
                pos: 0,
            },
        )
    } else if roll < 83 {
        let ends = [rand_remote(rng), SocketAddr::from(([10, 45, 16, 30], 3478))];
        let mut s = Script {
            steps: Vec::new(),
            last: None,
            local: [false, true],
            rtt,
            tm,
        };
        for (d, t) in [
            (0, T_TURN_REQ),
            (1, T_TURN_401),
            (0, T_TURN_AUTH),
            (1, T_TURN_OK),
        ] {
            s.udp_tmpl(d, t);
        }
        (
            ends,
            Kind::Udp {
                steps: s.steps,
                pos: 0,
            },
        )
    } else if roll < 88 {
        let ends = [rand_remote(rng), SocketAddr::from(([10, 45, 16, 30], 443))];
        let mut s = Script {
            steps: Vec::new(),
            last: None,
            local: [false, true],
            rtt,
            tm,
        };
        s.ctl(0, TCP_SYN);
        s.ctl(1, TCP_SYN | TCP_ACK);
        s.ctl(0, TCP_ACK);
        for (d, t) in [
            (0, T_PTLS_C),
            (1, T_PTLS_S),
            (0, T_TURN_REQ_TCP),
            (1, T_TURN_401_TCP),
            (0, T_TURN_AUTH_TCP),
            (1, T_TURN_OK_TCP),
        ] {
            s.tmpl(d, t);
        }
        s.ctl(0, TCP_ACK);
        s.ctl(0, TCP_FIN | TCP_ACK);
        s.ctl(1, TCP_FIN | TCP_ACK);
        s.ctl(0, TCP_ACK);
        (
            ends,
            Kind::Tcp {
                seq: [rng.next_u32(), rng.next_u32()],
                steps: s.steps,
                pos: 0,
            },
        )
    } else if roll < 96 {
        let ends = [
            SocketAddr::from(([10, 45, 16, 10], rng.range(49152, 65535) as u16)),
            SocketAddr::from(([10, 45, 16, 1], 53)),
        ];
        let mut s = Script {
            steps: Vec::new(),
            last: None,
            local: [true, false],
            rtt: 2_000_000,
            tm,
        };
        s.udp_tmpl(0, T_DNS_Q);
        s.udp_tmpl(1, T_DNS_R);
        (
            ends,
            Kind::Udp {
                steps: s.steps,
                pos: 0,
            },
        )
    } else {
        // Unanswered federation SYN with retransmissions.
        let ends = [
            SocketAddr::from(([10, 45, 16, 10], rng.range(49152, 65535) as u16)),
            SocketAddr::from(([198, 51, 100, 10], 5061)),
        ];
        let steps = [0, 1_000_000_000, 2_000_000_000, 4_000_000_000]
            .iter()
            .map(|&g| Step {
                dir: 0,
                flags: TCP_SYN,
                payload: Payload::Empty,
                gap_ns: g,
            })
            .collect();
        (
            ends,
            Kind::Tcp {
                seq: [rng.next_u32(), rng.next_u32()],
                steps,
                pos: 0,
            },
        )
    };
    Flow {
        ends,
        next_ts: now,
        kind,
        ip_id: [rng.next_u32() as u16, rng.next_u32() as u16],
    }
}

struct Builder {
    l4: Vec<u8>,
    ip: Vec<u8>,
    frame: Vec<u8>,
    payload: Vec<u8>,
    link: Link,
}

impl Builder {
    fn finish_ip(&mut self, src: SocketAddr, dst: SocketAddr, proto: u8, id: u16) {
        self.ip.clear();
        push_ip(
            &mut self.ip,
            src.ip(),
            dst.ip(),
            proto,
            id,
            ttl_for(src.ip()),
            &self.l4,
        );
        self.frame.clear();
        self.link
            .push_frame(&mut self.frame, is_edge_ip(src.ip()), &self.ip);
    }
}

/// Emits the flow's next frame into `b.frame`; returns false when the flow is done.
fn step_flow(f: &mut Flow, b: &mut Builder, tm: &Templates, pool: &[u8], rng: &mut Rng) -> bool {
    match &mut f.kind {
        Kind::Rtp {
            left,
            turn,
            pt,
            size,
            ssrc,
            seq,
            ts,
        } => {
            if *left == 0 {
                return false;
            }
            let k = usize::from(*turn);
            b.payload.clear();
            push_rtp_header(&mut b.payload, *pt, false, seq[k], ts[k], ssrc[k]);
            let off = rng.range(0, (POOL_LEN - 2048) as u64) as usize;
            b.payload
                .extend_from_slice(&pool[off..off + usize::from(*size)]);
            seq[k] = seq[k].wrapping_add(1);
            ts[k] = ts[k].wrapping_add(if *pt == 122 { 1500 } else { 160 });
            let (src, dst) = (f.ends[k], f.ends[1 - k]);
            b.l4.clear();
            push_udp(&mut b.l4, src, dst, &b.payload);
            f.ip_id[k] = f.ip_id[k].wrapping_add(1);
            b.finish_ip(src, dst, 17, f.ip_id[k]);
            *left -= 1;
            *turn = 1 - *turn;
            f.next_ts += if *turn == 1 { 7_000_000 } else { 13_000_000 };
            true
        }
        Kind::Tcp { seq, steps, pos } => {
            let Some(st) = steps.get(*pos).copied() else {
                return false;
            };
            let d = usize::from(st.dir);
            b.payload.clear();
            fill_payload(&mut b.payload, st.payload, tm, pool, rng);
            let (src, dst) = (f.ends[d], f.ends[1 - d]);
            let is_retx_syn = st.flags == TCP_SYN && *pos > 0;
            let s = if is_retx_syn {
                seq[d].wrapping_sub(1)
            } else {
                seq[d]
            };
            let ack = if st.flags & TCP_ACK != 0 {
                seq[1 - d]
            } else {
                0
            };
            let opts: &[u8] = if st.flags & TCP_SYN != 0 {
                &SYN_OPTIONS
            } else {
                &[]
            };
            let win = if st.flags & TCP_SYN != 0 {
                64240
            } else {
                0x0201
            };
            b.l4.clear();
            push_tcp(&mut b.l4, src, dst, s, ack, st.flags, win, opts, &b.payload);
            if !is_retx_syn {
                let mut adv = b.payload.len() as u32;
                if st.flags & (TCP_SYN | TCP_FIN) != 0 {
                    adv += 1;
                }
                seq[d] = seq[d].wrapping_add(adv);
            }
            f.ip_id[d] = f.ip_id[d].wrapping_add(1);
            b.finish_ip(src, dst, 6, f.ip_id[d]);
            *pos += 1;
            if let Some(n) = steps.get(*pos) {
                f.next_ts += n.gap_ns.max(1);
            }
            true
        }
        Kind::Udp { steps, pos } => {
            let Some(st) = steps.get(*pos).copied() else {
                return false;
            };
            let d = usize::from(st.dir);
            b.payload.clear();
            fill_payload(&mut b.payload, st.payload, tm, pool, rng);
            let (src, dst) = (f.ends[d], f.ends[1 - d]);
            b.l4.clear();
            push_udp(&mut b.l4, src, dst, &b.payload);
            f.ip_id[d] = f.ip_id[d].wrapping_add(1);
            b.finish_ip(src, dst, 17, f.ip_id[d]);
            *pos += 1;
            if let Some(n) = steps.get(*pos) {
                f.next_ts += n.gap_ns.max(1);
            }
            true
        }
    }
}

fn fill_payload(out: &mut Vec<u8>, p: Payload, tm: &Templates, pool: &[u8], rng: &mut Rng) {
    match p {
        Payload::Empty => {}
        Payload::Tmpl(i, s, e) => {
            out.extend_from_slice(&tm.t[usize::from(i)][s as usize..e as usize])
        }
        Payload::TlsApp(n) => {
            out.extend_from_slice(&[TLS_APPDATA, 3, 3]);
            out.extend_from_slice(&n.to_be_bytes());
            let off = rng.range(0, (POOL_LEN - 2048) as u64) as usize;
            out.extend_from_slice(&pool[off..off + usize::from(n)]);
        }
    }
}

/// Writes a classic pcap (µs, little-endian, Ethernet, snaplen 262144) of about
/// `target_bytes` bytes (stops at the first frame that reaches the target).
pub fn write_bulk_pcap<W: Write>(w: W, target_bytes: u64, seed: u64) -> io::Result<BulkStats> {
    let mut w = BufWriter::with_capacity(1 << 20, w);
    let mut rng = Rng::new(seed);
    let tm = Templates::new(&mut rng);
    let pool = rng.bytes(POOL_LEN);
    let flavor = PcapFlavor::MicroLe;
    write_pcap_header(&mut w, LINKTYPE_ETHERNET, 262_144, flavor)?;
    let mut stats = BulkStats {
        packets: 0,
        bytes_written: 24,
        flows: 0,
    };
    let mut b = Builder {
        l4: Vec::with_capacity(2048),
        ip: Vec::with_capacity(2048),
        frame: Vec::with_capacity(2048),
        payload: Vec::with_capacity(2048),
        link: Link::eth(EDGE_EXT_MAC, EXT_GW_MAC),
    };
    let mut flows: Vec<Flow> = Vec::with_capacity(ACTIVE_FLOWS);
    let mut heap = BinaryHeap::new();
    let mut now = START_NS;
    for i in 0..ACTIVE_FLOWS {
        // Stagger starts over the first few seconds.
        let f = new_flow(&mut rng, &tm, now + i as i64 * 37_000_000);
        heap.push(Reverse((f.next_ts, i)));
        flows.push(f);
        stats.flows += 1;
    }
    let mut last_ts = i64::MIN;
    while stats.bytes_written < target_bytes {
        let Some(Reverse((ts, slot))) = heap.pop() else {
            break;
        };
        now = now.max(ts);
        if !step_flow(&mut flows[slot], &mut b, &tm, &pool, &mut rng) {
            // Replace the finished flow after a short pause.
            let start = now + rng.range(1, 300) as i64 * 1_000_000;
            flows[slot] = new_flow(&mut rng, &tm, start);
            stats.flows += 1;
            heap.push(Reverse((flows[slot].next_ts, slot)));
            continue;
        }
        let ts_out = ts.max(last_ts + 1_000);
        last_ts = ts_out;
        let len = b.frame.len() as u32;
        write_pcap_record_header(&mut w, ts_out, len, len, flavor)?;
        w.write_all(&b.frame)?;
        stats.packets += 1;
        stats.bytes_written += 16 + u64::from(len);
        heap.push(Reverse((flows[slot].next_ts, slot)));
    }
    w.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_5mb_counts_match_file() -> io::Result<()> {
        let mut v = Vec::new();
        let st = write_bulk_pcap(&mut v, 5_000_000, 42)?;
        assert_eq!(st.bytes_written, v.len() as u64);
        assert!(
            v.len() >= 5_000_000 && v.len() < 5_000_000 + 2000,
            "size {}",
            v.len()
        );
        assert_eq!(&v[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        let mut p = 24;
        let mut n = 0u64;
        let mut last = 0u64;
        while p < v.len() {
            let rd = |o: usize| u32::from_le_bytes([v[o], v[o + 1], v[o + 2], v[o + 3]]);
            let ts = u64::from(rd(p)) * 1_000_000 + u64::from(rd(p + 4));
            assert!(ts > last, "timestamps increase");
            last = ts;
            let cap = rd(p + 8) as usize;
            assert_eq!(rd(p + 12) as usize, cap);
            let frame = &v[p + 16..p + 16 + cap];
            assert!(etherparse::SlicedPacket::from_ethernet(frame).is_ok());
            p += 16 + cap;
            n += 1;
        }
        assert_eq!(p, v.len());
        assert_eq!(n, st.packets);
        assert!(st.flows >= ACTIVE_FLOWS as u64);
        // Deterministic for a seed.
        let mut v2 = Vec::new();
        write_bulk_pcap(&mut v2, 5_000_000, 42)?;
        assert_eq!(v, v2);
        Ok(())
    }

    /// Throughput check: `cargo test --release -- --ignored bulk_100mb_speed --nocapture`.
    #[test]
    #[ignore]
    fn bulk_100mb_speed() -> io::Result<()> {
        let t = std::time::Instant::now();
        let st = write_bulk_pcap(io::sink(), 100_000_000, 1)?;
        eprintln!("{st:?} in {:?}", t.elapsed());
        Ok(())
    }
}
