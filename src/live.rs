//! Live capture from a network interface (`-i IFACE`), through libpcap (cargo feature `live`).
//!
//! Packets go through the same decode -> flows -> identify stages as a file, one at a time.
//! The flow table is bounded as for files, and the finished flows kept for the report are
//! bounded too (older ones fold into the totals), so an endless run keeps a flat memory.
//! Timestamps come from the capture; the wall clock only decides when --duration is up.

use crate::analysis::Analysis;
use crate::flow::FlowConfig;

/// Finished flows kept for the report of a live run.
pub const KEEP_FLOWS: usize = 100_000;

/// What to capture and when to stop (Ctrl-C always stops).
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub interface: String,
    /// BPF capture filter, as tcpdump writes it.
    pub capture_filter: Option<String>,
    /// Stop after this many seconds.
    pub duration: Option<u64>,
    /// Stop after this many packets.
    pub count: Option<u64>,
}

#[cfg(feature = "live")]
pub fn capture(read: &LiveOptions, config: FlowConfig) -> Result<Analysis, String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::analysis::LiveSession;

    let iface = read.interface.as_str();
    let snaplen = 262_144;
    let inactive = pcap::Capture::from_device(iface).map_err(|e| format!("{iface}: {e}"))?;
    let cap = inactive
        .promisc(true)
        .snaplen(snaplen)
        .timeout(200)
        .immediate_mode(true)
        .open()
        .map_err(|e| {
            format!("{iface}: cannot capture: {e} (capturing needs root or CAP_NET_RAW)")
        })?;
    // Non-blocking, polled: libpcap's read timeout does not fire on an idle Linux interface,
    // and --duration and Ctrl-C must end the run even when nothing arrives.
    let mut cap = cap
        .setnonblock()
        .map_err(|e| format!("{iface}: cannot capture: {e}"))?;
    if let Some(f) = &read.capture_filter {
        cap.filter(f, true)
            .map_err(|e| format!("capture filter '{f}': {e}"))?;
    }
    let link_type = u16::try_from(cap.get_datalink().0).unwrap_or(u16::MAX);
    let mut session = LiveSession::new(iface, link_type, snaplen as u32, config, KEEP_FLOWS);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second handler cannot be installed (tests run several captures): then Ctrl-C
        // simply ends the process, which is what it would do anyway.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let started = Instant::now();
    let limit = read.duration.map(Duration::from_secs);
    let mut seen = 0u64;
    loop {
        if stop.load(Ordering::SeqCst)
            || limit.is_some_and(|l| started.elapsed() >= l)
            || read.count.is_some_and(|c| seen >= c)
        {
            break;
        }
        match cap.next_packet() {
            Ok(p) => {
                seen += 1;
                let ts = &p.header.ts;
                let ts_ns = i64::from(ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(ts.tv_usec).saturating_mul(1_000));
                session.packet(link_type, p.data, ts_ns, p.header.len);
            }
            Err(pcap::Error::TimeoutExpired) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("{iface}: capture failed: {e}")),
        }
    }
    let dropped = cap
        .stats()
        .ok()
        .map(|s| u64::from(s.dropped) + u64::from(s.if_dropped));
    Ok(session.finish(dropped))
}

#[cfg(not(feature = "live"))]
pub fn capture(_read: &LiveOptions, _config: FlowConfig) -> Result<Analysis, String> {
    Err(
        "this edgewise was built without live capture: build it with \
         `cargo build --release --features live` (needs libpcap-dev), or capture with \
         tcpdump/dumpcap and read the file with -r"
            .into(),
    )
}
