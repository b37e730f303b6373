//! One run over the inputs: read -> decode -> flows, with the packet accounting.
//!
//! [`Analysis`] is plain data: every report renders it, none reaches back into the stages.

use serde::Serialize;

use crate::accounting::{Accounting, Tally, FLOW, FLOW_ICMP_ERROR};
use crate::decode::{self, Decoded};
use crate::flow::{Clock, Flow, FlowConfig, FlowCounts, FlowSink, FlowTable, OpenFlow, Placed};

mod shard;
use crate::identify::{identify, Identification};
use crate::source::capture::{CaptureReader, ContainerNotes, Next, ReadStop};
use crate::source::input::{self, DynRead, InputError, InputSpec};

/// An interface of one input, numbered across the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct InterfaceEntry {
    /// Global index (what flows' `interfaces` refer to).
    pub index: u32,
    pub input: usize,
    pub name: Option<String>,
    pub link_type: u16,
    pub snaplen: u32,
    /// Packets on this interface whose link type edgewise does not decode.
    pub unsupported_packets: u64,
}

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    pub format: Option<&'static str>,
    pub packets: u64,
    /// The read stopped early: damaged or cut short. Every packet before it was used.
    pub stop: Option<ReadStop>,
    /// The input could not be used at all.
    pub error: Option<String>,
    /// Part of the input could not be used though the read went on to its end (a firewall
    /// log's unparsable lines), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
    pub container: ContainerNotes,
}

/// How the run ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Completeness {
    /// Every input read to its end.
    Complete,
    /// Some input was damaged, cut short or unusable; the others were read.
    Partial,
    /// No input could be used.
    Unusable,
}

/// Everything a report needs.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub inputs: Vec<InputReport>,
    pub interfaces: Vec<InterfaceEntry>,
    #[serde(skip)]
    pub flows: Vec<Flow>,
    /// The payload identification of each flow, aligned with `flows`.
    #[serde(skip)]
    pub identifications: Vec<Identification>,
    pub flow_counts: FlowCounts,
    pub accounting: Accounting,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
}

impl Analysis {
    /// The payload identification of a flow of this analysis (flows are sorted by first packet
    /// and id, so this is a binary search).
    pub fn identification(&self, flow: &Flow) -> Option<&Identification> {
        self.identifications.get(self.index_of(flow)?)
    }

    /// The index of a flow of this analysis (a binary search, as for [`Self::identification`]).
    pub fn index_of(&self, flow: &Flow) -> Option<usize> {
        let key = (flow.first_ts_ns(), flow.id);
        self.flows
            .binary_search_by(|f| (f.first_ts_ns(), f.id).cmp(&key))
            .ok()
    }

    pub fn completeness(&self) -> Completeness {
        let unusable = self.inputs.iter().filter(|i| i.error.is_some()).count();
        if !self.inputs.is_empty() && unusable == self.inputs.len() {
            Completeness::Unusable
        } else if unusable > 0
            || self
                .inputs
                .iter()
                .any(|i| i.stop.is_some() || i.lost.is_some())
        {
            Completeness::Partial
        } else {
            Completeness::Complete
        }
    }
}

/// Observes progress: bytes of raw input read so far are reported by the wrapped reader.
pub trait Progress {
    /// Wraps an input's raw reader so that reads can be counted.
    fn wrap(&self, r: DynRead) -> DynRead {
        r
    }
    fn finish(&self) {}
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Reads all inputs into flows, on `config.threads` threads (flow tables sharded by address
/// pair; the same result as one thread's, see [`shard`]).
pub fn analyze(inputs: &[InputSpec], config: FlowConfig, progress: &dyn Progress) -> Analysis {
    analyze_count(inputs, config, None, progress)
}

/// The accounting note that says a run stopped at `-c N` (its value is N).
pub const COUNT_LIMIT_NOTE: &str = "read.stopped_at_count";

/// [`analyze`], stopping after the first `count` packets read (tshark's `-c`), counted across
/// the inputs in order; inputs after the one where the count ran out are not opened. Stopping
/// there is what the user asked for, so it does not make the run partial: the accounting
/// says it in the note [`COUNT_LIMIT_NOTE`].
pub fn analyze_count(
    inputs: &[InputSpec],
    config: FlowConfig,
    count: Option<u64>,
    progress: &dyn Progress,
) -> Analysis {
    let mut run = Run::new(config, None);
    run.count = count;
    if config.threads > 1 {
        run.shards = Some(shard::Shards::start(config.threads, config));
    }
    let mut reports = Vec::new();
    for (idx, spec) in inputs.iter().enumerate() {
        if run.count_reached() {
            break;
        }
        reports.push(run.read_input(idx, spec, progress));
    }
    if let (true, Some(n)) = (run.count_reached(), count) {
        run.acc.note(COUNT_LIMIT_NOTE, n);
    }
    progress.finish();
    run.finish(reports)
}

/// Reads byte streams already at hand (each a named pcap or pcapng, gzip-wrapped or not) into
/// flows, as [`analyze`] reads files: what the fuzz targets and in-memory callers use.
pub fn analyze_streams(inputs: Vec<(String, DynRead)>, config: FlowConfig) -> Analysis {
    let mut run = Run::new(config, None);
    if config.threads > 1 {
        run.shards = Some(shard::Shards::start(config.threads, config));
    }
    let mut reports = Vec::new();
    for (idx, (name, raw)) in inputs.into_iter().enumerate() {
        let opened = input::open_stream(&name, raw);
        reports.push(run.read_opened(idx, name, opened));
    }
    run.finish(reports)
}

/// A live capture fed packet by packet (`-i IFACE`), with memory bounded for an endless run.
pub struct LiveSession {
    run: Run,
    name: String,
    packets: u64,
}

impl LiveSession {
    /// `keep_flows` bounds the finished flows kept for the report; older ones fold into totals.
    pub fn new(
        name: &str,
        link_type: u16,
        snaplen: u32,
        config: FlowConfig,
        keep_flows: usize,
    ) -> LiveSession {
        let mut run = Run::new(config, Some(keep_flows.max(1)));
        run.interfaces.push(InterfaceEntry {
            index: 0,
            input: 0,
            name: Some(name.to_string()),
            link_type,
            snaplen,
            unsupported_packets: 0,
        });
        LiveSession {
            run,
            name: name.to_string(),
            packets: 0,
        }
    }

    /// One packet as libpcap delivered it.
    pub fn packet(&mut self, link_type: u16, data: &[u8], ts_ns: i64, orig_len: u32) {
        self.packets += 1;
        let r = &mut self.run;
        r.frame += 1;
        r.acc.read(orig_len, data.len());
        r.first_ts = Some(r.first_ts.map_or(ts_ns, |t| t.min(ts_ns)));
        r.last_ts = Some(r.last_ts.map_or(ts_ns, |t| t.max(ts_ns)));
        let frame = r.frame;
        r.place(link_type, data, ts_ns, frame, orig_len, 0);
    }

    /// Flows currently open.
    pub fn open_flows(&self) -> usize {
        self.run.table.len()
    }

    /// Ends the capture: every open flow is finished and the accounting checked.
    pub fn finish(mut self, kernel_dropped: Option<u64>) -> Analysis {
        if let Some(d) = kernel_dropped {
            self.run.acc.note("live.kernel_dropped", d);
        }
        let report = InputReport {
            name: format!("live:{}", self.name),
            format: Some("live"),
            packets: self.packets,
            stop: None,
            error: None,
            lost: None,
            container: ContainerNotes::default(),
        };
        self.run.finish(vec![report])
    }
}

/// Finished flows, identified from their full payload prefix before it is released. With a
/// bound (live capture), the oldest finished flows are folded into `dropped` so that the
/// accounting still balances.
#[derive(Default)]
struct Finished {
    /// Finished flows and their identifications, in the order they finished.
    flows: std::collections::VecDeque<Flow>,
    ids: std::collections::VecDeque<Identification>,
    keep: Option<usize>,
    dropped: Tally,
    dropped_flows: u64,
    dropped_icmp: u64,
}

impl FlowSink for Finished {
    fn reserve(&mut self, additional: usize) {
        if self.keep.is_none() {
            self.flows.reserve_exact(additional);
            self.ids.reserve_exact(additional);
        }
    }

    fn finish(&mut self, open: OpenFlow) {
        let id = identify(&open);
        self.flows.push_back(open.close());
        self.ids.push_back(id);
        if let Some(keep) = self.keep {
            while self.flows.len() > keep {
                self.ids.pop_front();
                if let Some(old) = self.flows.pop_front() {
                    self.dropped.packets += old.packets();
                    self.dropped.wire_bytes += old.wire_bytes();
                    self.dropped_icmp += old.icmp_errors;
                    self.dropped_flows += 1;
                }
            }
        }
    }
}

/// Reorders so that position `i` holds what was at `order[i]`, by following each cycle of the
/// permutation once with `swap`; `order` is used up.
fn permute_in_place(order: &mut [usize], mut swap: impl FnMut(usize, usize)) {
    const DONE: usize = usize::MAX;
    for start in 0..order.len() {
        if order[start] == DONE {
            continue;
        }
        let mut cur = start;
        loop {
            let next = order[cur];
            order[cur] = DONE;
            if next == start || next == DONE {
                break;
            }
            swap(cur, next);
            cur = next;
        }
    }
}

impl Run {
    /// Ends the shards at the reader's time and takes in what they finished and counted, as
    /// if one table had done it; returns the fragments that never found their flow.
    fn merge(&mut self, shards: shard::Shards) -> Vec<(u64, u32)> {
        let mut unattributed = Vec::new();
        let (mut results, failed) = shards.finish(self.clock.now());
        if failed > 0 {
            self.acc.mismatches.push(format!(
                "{failed} flow-table thread(s) failed: their packets are missing from the flows"
            ));
        }
        // Room for exactly every shard's flows: doubling a table of hundreds of thousands of
        // records would leave a third of it unused.
        let total: usize = results.iter().map(|r| r.finished.flows.len()).sum();
        // The largest shard's records become the run's, moved rather than copied; growing
        // them to the total remaps the pages, so only the other shards' records are copied.
        if self.flows.flows.is_empty() {
            if let Some(big) = (0..results.len()).max_by_key(|&i| results[i].finished.flows.len()) {
                let r = &mut results[big];
                std::mem::swap(&mut self.flows.flows, &mut r.finished.flows);
                std::mem::swap(&mut self.flows.ids, &mut r.finished.ids);
            }
        }
        let have = self.flows.flows.len();
        self.flows.reserve(total - have);
        for r in results {
            let mut finished = r.finished;
            self.flows.flows.append(&mut finished.flows);
            self.flows.ids.append(&mut finished.ids);
            let c = &mut self.table.counts;
            c.created += r.counts.created;
            c.active_at_end += r.counts.active_at_end;
            c.expired_idle += r.counts.expired_idle;
            c.evicted_cap += r.counts.evicted_cap;
            for (name, n) in r.notes {
                *self.table.notes.entry(name).or_insert(0) += n;
            }
            self.table.joined_late.packets += r.joined_late.packets;
            self.table.joined_late.wire_bytes += r.joined_late.wire_bytes;
            unattributed.extend(r.unattributed);
            self.placed_flow.packets += r.placed_flow.packets;
            self.placed_flow.wire_bytes += r.placed_flow.wire_bytes;
            self.placed_icmp += r.placed_icmp;
            let named = [
                (FLOW_ICMP_ERROR.to_string(), r.icmp_bucket),
                (
                    "transport.truncated_header".to_string(),
                    r.truncated_transport,
                ),
            ];
            for (name, t) in named.into_iter().chain(r.other_buckets) {
                let name = name.as_str();
                let mut sum = self.acc.buckets.get(name).copied().unwrap_or_default();
                sum.packets += t.packets;
                sum.wire_bytes += t.wire_bytes;
                self.acc.set_bucket(name, sum);
            }
        }
        for (name, n) in [
            ("time.jump", self.clock.jumps),
            ("time.backwards", self.clock.backwards),
        ] {
            if n > 0 {
                *self.table.notes.entry(name).or_insert(0) += n;
            }
        }
        // A single table finishes its open flows in id order; the order does not matter here,
        // the records are sorted below.
        unattributed.sort_unstable();
        unattributed
    }
}

struct Run {
    table: FlowTable,
    /// With several threads: the shards that own the flow tables, and the one packet clock
    /// they all run on.
    shards: Option<shard::Shards>,
    clock: Clock,
    flows: Finished,
    acc: Accounting,
    interfaces: Vec<InterfaceEntry>,
    /// Packets placed in flows, counted one by one (checked against Σ flows at the end).
    placed_flow: Tally,
    placed_icmp: u64,
    /// Packets of unsupported link types, by global interface index.
    unsupported: std::collections::HashMap<u32, u64>,
    frame: u64,
    /// `-c N`: read no record past frame N.
    count: Option<u64>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl Run {
    /// `-c N` ran out: every record up to frame N has been read.
    fn count_reached(&self) -> bool {
        self.count.is_some_and(|n| self.frame >= n)
    }

    fn new(config: FlowConfig, keep_flows: Option<usize>) -> Run {
        Run {
            table: FlowTable::new(config),
            shards: None,
            clock: Clock::default(),
            flows: Finished {
                keep: keep_flows,
                ..Finished::default()
            },
            acc: Accounting::default(),
            interfaces: Vec::new(),
            placed_flow: Tally::default(),
            placed_icmp: 0,
            unsupported: Default::default(),
            frame: 0,
            count: None,
            first_ts: None,
            last_ts: None,
        }
    }

    fn read_input(&mut self, idx: usize, spec: &InputSpec, progress: &dyn Progress) -> InputReport {
        let name = spec.display_name();
        let opened = input::open(spec, |r| progress.wrap(r));
        self.read_opened(idx, name, opened)
    }

    fn read_opened(
        &mut self,
        idx: usize,
        name: String,
        opened: Result<CaptureReader<DynRead>, InputError>,
    ) -> InputReport {
        let mut reader = match opened {
            Ok(r) => r,
            Err(InputError { problem, .. }) => {
                return InputReport {
                    name,
                    format: None,
                    packets: 0,
                    stop: None,
                    error: Some(problem.to_string()),
                    lost: None,
                    container: ContainerNotes::default(),
                }
            }
        };
        let format = if reader.is_pcapng() { "pcapng" } else { "pcap" };
        let base = self.interfaces.len() as u32;
        let mut stop = None;
        loop {
            if self.count_reached() {
                break;
            }
            match reader.next_record() {
                Next::Packet(p) => {
                    self.frame += 1;
                    self.acc.read(p.orig_len, p.data.len());
                    if p.ts_unknown {
                        self.acc.note("container.unknown_timestamp", 1);
                    }
                    self.first_ts = Some(self.first_ts.map_or(p.ts_ns, |t| t.min(p.ts_ns)));
                    self.last_ts = Some(self.last_ts.map_or(p.ts_ns, |t| t.max(p.ts_ns)));
                    let frame = self.frame;
                    let iface = base + p.interface_seq;
                    self.place(p.link_type, p.data, p.ts_ns, frame, p.orig_len, iface);
                }
                Next::Problem {
                    orig_len,
                    caplen,
                    problem,
                    ..
                } => {
                    self.frame += 1;
                    self.acc.read(orig_len, caplen as usize);
                    self.acc.bucket(problem.bucket(), orig_len);
                }
                Next::End => break,
                Next::Stop(s) => {
                    stop = Some(s);
                    break;
                }
            }
        }
        // Interfaces are known once read (pcapng IDBs can appear anywhere in the file).
        for info in reader.all_interfaces() {
            let index = self.interfaces.len() as u32;
            self.interfaces.push(InterfaceEntry {
                index,
                input: idx,
                name: info.name.clone(),
                link_type: info.link_type,
                snaplen: info.snaplen,
                unsupported_packets: self.unsupported.remove(&index).unwrap_or(0),
            });
        }
        InputReport {
            name,
            format: Some(format),
            packets: reader.records(),
            stop,
            error: None,
            lost: None,
            container: reader.notes.clone(),
        }
    }

    fn place(
        &mut self,
        link_type: u16,
        data: &[u8],
        ts_ns: i64,
        frame: u64,
        wire: u32,
        iface: u32,
    ) {
        if let Some(shards) = self.shards.as_mut() {
            // Most packets are routed on a glance at their headers, and decoded once, by
            // their shard.
            if let Some(shard) = shards.glance(link_type, data) {
                let now = self.clock.advance(ts_ns);
                shards.send(shard, data, link_type, now, ts_ns, frame, wire, iface);
                return;
            }
        }
        match decode::decode(link_type, data) {
            Decoded::Ip(pkt) if self.shards.is_some() => {
                let now = self.clock.advance(ts_ns);
                if let Some(shards) = self.shards.as_mut() {
                    let shard = shards.shard_of(&pkt);
                    shards.send(shard, data, link_type, now, ts_ns, frame, wire, iface);
                }
            }
            Decoded::Ip(pkt) => {
                match self
                    .table
                    .add(&pkt, ts_ns, frame, wire, iface, &mut self.flows)
                {
                    Placed::Flow => self.placed_flow.add(wire),
                    Placed::IcmpError => {
                        self.placed_icmp += 1;
                        self.acc.bucket(FLOW_ICMP_ERROR, wire);
                    }
                    // Settled at the end: joins its flow or becomes unattributed.
                    Placed::FragmentPending => {}
                    Placed::FragmentUnattributed => {}
                    Placed::TruncatedTransport => {
                        self.acc.bucket("transport.truncated_header", wire)
                    }
                }
            }
            Decoded::NonIp(name, _) => self.acc.bucket(&format!("non_ip.{name}"), wire),
            Decoded::Undecodable(reason) => self.acc.bucket(&format!("undecodable.{reason}"), wire),
            Decoded::UnsupportedLink(lt) => {
                *self.unsupported.entry(iface).or_insert(0) += 1;
                self.acc.bucket(&format!("unsupported_link.{lt}"), wire);
            }
        }
    }

    fn finish(mut self, inputs: Vec<InputReport>) -> Analysis {
        let sharded = self.shards.is_some();
        let unattributed = match self.shards.take() {
            None => self.table.finish(&mut self.flows),
            Some(shards) => self.merge(shards),
        };
        let mut frag = Tally::default();
        for (_, wire) in &unattributed {
            frag.add(*wire);
        }
        self.acc.set_bucket("ip.fragment_unattributed", frag);
        // Fragments that waited and then joined their flow were not counted when read.
        let mut flows: Vec<Flow> = std::mem::take(&mut self.flows.flows).into();
        let mut identifications: Vec<Identification> = std::mem::take(&mut self.flows.ids).into();
        // Flows come out sorted by first packet, as a conversation list reads naturally; the
        // permutation is applied in place, so no second copy of the records is ever made.
        if sharded {
            // Shards number flows by their first frame: make the ids dense, in that order, as
            // one table numbers them.
            let mut by_frame: Vec<usize> = (0..flows.len()).collect();
            by_frame.sort_unstable_by_key(|&i| flows[i].id);
            for (rank, &i) in by_frame.iter().enumerate() {
                flows[i].id = rank as u64 + 1;
            }
        }
        let mut order: Vec<usize> = (0..flows.len()).collect();
        order.sort_unstable_by_key(|&i| (flows[i].first_ts_ns(), flows[i].id));
        permute_in_place(&mut order, |a, b| {
            flows.swap(a, b);
            identifications.swap(a, b);
        });
        // Flows folded away by a live run's bound still count.
        let dropped = self.flows.dropped;
        let flows_total = flows.iter().fold(dropped, |mut t, f| {
            t.packets += f.packets();
            t.wire_bytes += f.wire_bytes();
            t
        });
        self.acc
            .note("flows.folded_out_of_report", self.flows.dropped_flows);
        let icmp_total: u64 =
            flows.iter().map(|f| f.icmp_errors).sum::<u64>() + self.flows.dropped_icmp;
        // The flow bucket is what was placed packet by packet plus the fragments that joined
        // their flow later; checking it against Σ flows catches a packet counted twice or lost.
        let joined = self.table.joined_late;
        let flow_bucket = Tally {
            packets: self.placed_flow.packets + joined.packets,
            wire_bytes: self.placed_flow.wire_bytes + joined.wire_bytes,
        };
        self.acc.set_bucket(FLOW, flow_bucket);
        self.acc.note("ip.fragment_joined_late", joined.packets);
        for (name, n) in &self.table.notes {
            self.acc.note(name, *n);
        }
        for i in &inputs {
            let c = &i.container;
            self.acc
                .note("container.caplen_gt_snaplen", c.caplen_gt_snaplen);
            self.acc
                .note("container.caplen_gt_origlen", c.caplen_gt_origlen);
            self.acc
                .note("container.bad_ts_fraction", c.bad_ts_fraction);
            for (b, n) in &c.skipped_blocks {
                self.acc.note(&format!("container.skipped_block.{b}"), *n);
            }
        }
        if self.placed_icmp != icmp_total {
            self.acc.mismatches.push(format!(
                "{} ICMP errors placed but the flows record {icmp_total}",
                self.placed_icmp
            ));
        }
        self.acc.check(flows_total, icmp_total);
        Analysis {
            inputs,
            interfaces: self.interfaces,
            flows,
            identifications,
            flow_counts: self.table.counts.clone(),
            accounting: self.acc,
            first_ts_ns: self.first_ts,
            last_ts_ns: self.last_ts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::permute_in_place;
    use proptest::prelude::*;

    proptest! {
        /// Applying a sort's permutation in place gives the sorted order.
        #[test]
        fn permuting_in_place_sorts(mut v in proptest::collection::vec(any::<u16>(), 0..200)) {
            let mut order: Vec<usize> = (0..v.len()).collect();
            order.sort_by_key(|&i| (v[i], i));
            let mut expected = v.clone();
            expected.sort();
            permute_in_place(&mut order, |a, b| v.swap(a, b));
            prop_assert_eq!(v, expected);
        }
    }
}
