//! Both cores: the reader decodes each packet far enough to know its flow's two addresses,
//! and hands it to the shard that owns that address pair, where a flow table of its own
//! places it, and identifies and records its flows as they finish.
//!
//! Sharding by the unordered address pair (not the five-tuple) keeps together everything that
//! must meet in one table: both directions of a flow, the later fragments of a datagram (they
//! carry no ports), and ICMP errors (they quote the flow's addresses). The reader keeps the one
//! packet clock and sends its time with every packet, so every shard expires flows on the same
//! time as a single table would; flow ids are the frame of a flow's first packet in a shard and
//! are made dense after the merge. The output is the same as one thread's, in the same order,
//! except where the flow cap is reached: the shards count their open flows together against
//! `--max-flows`, but each evicts its own least recently seen flows.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rustc_hash::FxHasher;

use super::Finished;
use crate::accounting::Tally;
use crate::decode::{self, Decoded, IpPacket, Transport};
use crate::flow::{FlowConfig, FlowCounts, FlowTable, Placed};

/// Packets per batch: large enough that the channel costs nothing per packet.
const BATCH_PACKETS: usize = 2048;
/// Bytes a batch is sized for (it flushes when full): about 2048 packets of a busy Edge.
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight per shard: bounds the memory between the reader and a shard.
const BATCHES_IN_FLIGHT: usize = 8;

/// One packet's place in a batch.
struct Meta {
    now: i64,
    ts_ns: i64,
    frame: u64,
    wire: u32,
    interface: u32,
    link_type: u16,
    start: usize,
    len: usize,
}

#[derive(Default)]
struct Batch {
    meta: Vec<Meta>,
    data: Vec<u8>,
}

impl Batch {
    fn sized() -> Batch {
        Batch {
            meta: Vec::with_capacity(BATCH_PACKETS),
            data: Vec::with_capacity(BATCH_BYTES),
        }
    }
}

enum Message {
    Packets(Batch),
    /// The capture ended at this time.
    End(Option<i64>),
}

/// What a shard hands back.
pub(super) struct ShardResult {
    pub finished: Finished,
    pub counts: FlowCounts,
    pub notes: std::collections::BTreeMap<&'static str, u64>,
    pub joined_late: Tally,
    pub unattributed: Vec<(u64, u32)>,
    pub placed_flow: Tally,
    pub placed_icmp: u64,
    pub icmp_bucket: Tally,
    pub truncated_transport: Tally,
    /// Packets the reader routed on a glance at their headers that did not decode as IP
    /// after all, by accounting bucket.
    pub other_buckets: std::collections::BTreeMap<String, Tally>,
}

/// The running shards, fed by the reader.
pub(super) struct Shards {
    senders: Vec<SyncSender<Message>>,
    /// Emptied batches coming back from the shards, to be filled again: a fresh megabyte
    /// for every batch would cost its page faults each time.
    returned: Vec<Receiver<Batch>>,
    pending: Vec<Batch>,
    workers: Vec<JoinHandle<ShardResult>>,
}

impl Shards {
    pub fn start(n: usize, config: FlowConfig) -> Shards {
        // The flow cap is the run's (the shards count their open flows together); the
        // prefix memory cap is split.
        let per_shard = FlowConfig {
            prefix_memcap: config.prefix_memcap / n,
            ..config
        };
        let open_in_run = Arc::new(AtomicUsize::new(0));
        let mut senders = Vec::with_capacity(n);
        let mut returned = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = sync_channel(BATCHES_IN_FLIGHT);
            let (back_tx, back_rx) = sync_channel(BATCHES_IN_FLIGHT + 1);
            senders.push(tx);
            returned.push(back_rx);
            let open_in_run = Arc::clone(&open_in_run);
            workers.push(std::thread::spawn(move || {
                work(rx, back_tx, per_shard, open_in_run)
            }));
        }
        Shards {
            senders,
            returned,
            pending: (0..n).map(|_| Batch::sized()).collect(),
            workers,
        }
    }

    /// The shard of a decoded IP packet: the owner of its flow's address pair (for an ICMP
    /// error, of the flow it quotes).
    pub fn shard_of(&self, pkt: &IpPacket<'_>) -> usize {
        let (a, b) = match &pkt.transport {
            Transport::Icmp(i) if i.is_error => match i.quoted {
                Some(q) => (q.src, q.dst),
                None => (pkt.src, pkt.dst),
            },
            _ => (pkt.src, pkt.dst),
        };
        owner(a, b, self.senders.len())
    }

    /// The shard of an Ethernet frame read at a glance (VLAN tags, then the IPv4 or IPv6
    /// addresses), without decoding it; `None` when a full decode must decide (other links,
    /// ICMP, IPv6 extension headers, anything short or odd).
    pub fn glance(&self, link_type: u16, d: &[u8]) -> Option<usize> {
        const ETHERNET: u16 = 1;
        if link_type != ETHERNET {
            return None;
        }
        let be16 = |i: usize| d.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let mut at = 12;
        let mut ethertype = be16(at)?;
        for _ in 0..2 {
            if ethertype != 0x8100 && ethertype != 0x88a8 {
                break;
            }
            at += 4;
            ethertype = be16(at)?;
        }
        let ip = at + 2;
        let (a, b): (IpAddr, IpAddr) = match ethertype {
            0x0800 => {
                let h = d.get(ip..ip + 20)?;
                if h[0] >> 4 != 4 || h[0] & 0x0f < 5 || h[9] == 1 {
                    return None;
                }
                let src: [u8; 4] = h[12..16].try_into().ok()?;
                let dst: [u8; 4] = h[16..20].try_into().ok()?;
                (src.into(), dst.into())
            }
            0x86dd => {
                let h = d.get(ip..ip + 40)?;
                // TCP and UDP only; anything else (ICMPv6, extension headers) is decoded.
                if h[0] >> 4 != 6 || !matches!(h[6], 6 | 17) {
                    return None;
                }
                let src: [u8; 16] = h[8..24].try_into().ok()?;
                let dst: [u8; 16] = h[24..40].try_into().ok()?;
                (src.into(), dst.into())
            }
            _ => return None,
        };
        Some(owner(a, b, self.senders.len()))
    }

    /// Queues a packet for a shard.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        shard: usize,
        data: &[u8],
        link_type: u16,
        now: i64,
        ts_ns: i64,
        frame: u64,
        wire: u32,
        interface: u32,
    ) {
        let batch = &mut self.pending[shard];
        let start = batch.data.len();
        batch.data.extend_from_slice(data);
        batch.meta.push(Meta {
            now,
            ts_ns,
            frame,
            wire,
            interface,
            link_type,
            start,
            len: data.len(),
        });
        if batch.meta.len() >= BATCH_PACKETS || batch.data.len() >= BATCH_BYTES {
            self.flush(shard);
        }
    }

    fn flush(&mut self, shard: usize) {
        let next = match self.returned[shard].try_recv() {
            Ok(mut b) => {
                b.meta.clear();
                b.data.clear();
                b
            }
            Err(_) => Batch::sized(),
        };
        let batch = std::mem::replace(&mut self.pending[shard], next);
        if !batch.meta.is_empty() {
            // A shard that is gone has panicked; its join below reports it.
            let _ = self.senders[shard].send(Message::Packets(batch));
        }
    }

    /// Ends the run at `now` and collects what every shard finished, and how many shards
    /// failed (their packets are then missing from the flows, and the accounting says so).
    pub fn finish(mut self, now: Option<i64>) -> (Vec<ShardResult>, usize) {
        for s in 0..self.senders.len() {
            self.flush(s);
            let _ = self.senders[s].send(Message::End(now));
        }
        drop(self.senders);
        let mut failed = 0;
        let mut results = Vec::new();
        for w in self.workers {
            match w.join() {
                Ok(r) => results.push(r),
                Err(_) => failed += 1,
            }
        }
        (results, failed)
    }
}

/// The shard of an address pair, the same whichever way the packet goes.
fn owner(a: IpAddr, b: IpAddr, n: usize) -> usize {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = FxHasher::default();
    lo.hash(&mut h);
    hi.hash(&mut h);
    // The high bits of an Fx hash are the well-mixed ones.
    ((h.finish() >> 32) as usize) % n
}

fn work(
    rx: Receiver<Message>,
    back: SyncSender<Batch>,
    config: FlowConfig,
    open_in_run: Arc<AtomicUsize>,
) -> ShardResult {
    let mut table = FlowTable::new(config).as_shard(open_in_run);
    let mut finished = Finished::default();
    let mut placed_flow = Tally::default();
    let mut placed_icmp = 0u64;
    let mut icmp_bucket = Tally::default();
    let mut truncated_transport = Tally::default();
    let mut other_buckets: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut end = None;
    while let Ok(msg) = rx.recv() {
        let batch = match msg {
            Message::Packets(b) => b,
            Message::End(now) => {
                end = now;
                break;
            }
        };
        for m in &batch.meta {
            let Some(data) = batch.data.get(m.start..m.start + m.len) else {
                continue;
            };
            let bucket = match decode::decode(m.link_type, data) {
                Decoded::Ip(pkt) => Ok(pkt),
                Decoded::NonIp(name, _) => Err(format!("non_ip.{name}")),
                Decoded::Undecodable(reason) => Err(format!("undecodable.{reason}")),
                Decoded::UnsupportedLink(lt) => Err(format!("unsupported_link.{lt}")),
            };
            let pkt = match bucket {
                Ok(pkt) => pkt,
                Err(name) => {
                    other_buckets.entry(name).or_default().add(m.wire);
                    continue;
                }
            };
            match table.add_at(
                m.now,
                &pkt,
                m.ts_ns,
                m.frame,
                m.wire,
                m.interface,
                &mut finished,
            ) {
                Placed::Flow => placed_flow.add(m.wire),
                Placed::IcmpError => {
                    placed_icmp += 1;
                    icmp_bucket.add(m.wire);
                }
                Placed::FragmentPending | Placed::FragmentUnattributed => {}
                Placed::TruncatedTransport => truncated_transport.add(m.wire),
            }
        }
        // Back to the reader for reuse; when its queue is full the batch is simply freed.
        let _ = back.try_send(batch);
    }
    let unattributed = table.finish_at(end, &mut finished);
    ShardResult {
        finished,
        counts: table.counts.clone(),
        notes: std::mem::take(&mut table.notes),
        joined_late: table.joined_late,
        unattributed,
        placed_flow,
        placed_icmp,
        icmp_bucket,
        truncated_transport,
        other_buckets,
    }
}
