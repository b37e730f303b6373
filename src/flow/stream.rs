//! A bounded, in-order prefix of each direction of a flow, for payload identification.
//!
//! Only the first bytes matter (TLS handshakes, STUN, SIP start lines), so reassembly stops at a
//! cap. TCP segments are placed by sequence number: retransmitted bytes are not added twice,
//! and a few out-of-order segments wait for the hole before them to fill. A hole that never
//! fills ends the prefix (`gap`). UDP keeps the first datagrams whole.

/// Bytes kept per TCP direction: a TLS ClientHello plus a typical server certificate chain.
pub const TCP_PREFIX_CAP: usize = 16 * 1024;
/// Datagrams kept per UDP direction, and bytes kept of each: the first one whole (a SIP or
/// DNS message, a STUN request), later RTP data packets only their headers, the rest whole, so
/// a busy Edge's hundreds of thousands of open media flows stay small.
pub const UDP_DATAGRAMS: usize = 8;
pub const UDP_DATAGRAM_CAP: usize = 2048;
const UDP_WHOLE_DATAGRAMS: usize = 1;
const UDP_HEADER_CAP: usize = 48;
/// STUN/TURN control messages kept per UDP direction past the first datagrams: a TURN
/// session's later requests (CreatePermission, ChannelBind, Refresh, deallocation) say which
/// peers and relay it served, and they are rare beside the media they set up.
pub const UDP_CONTROL_MESSAGES: usize = 40;
/// Bytes kept of each control message (attributes that matter come first).
pub const UDP_CONTROL_CAP: usize = 512;
/// Send/Data indications kept among them: each carries media, all name the same few peers.
const UDP_INDICATIONS: usize = 4;
/// Out-of-order segments held while waiting for a hole to fill (and at most TCP_PREFIX_CAP
/// bytes of them).
const MAX_PENDING: usize = 8;

/// One direction's reassembled TCP prefix.
#[derive(Debug, Clone, Default)]
pub struct TcpPrefix {
    data: Vec<u8>,
    /// Sequence number of the next byte expected in order.
    next_seq: Option<u32>,
    pending: Vec<(u32, Vec<u8>)>,
    /// A hole was left that could not be filled; nothing after it is kept.
    pub gap: bool,
}

impl TcpPrefix {
    /// The SYN fixes the initial sequence number: data starts one after it.
    pub fn on_syn(&mut self, seq: u32) {
        if self.next_seq.is_none() && self.data.is_empty() {
            self.next_seq = Some(seq.wrapping_add(1));
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Bytes waiting in out-of-order segments (bounded by the prefix cap).
    fn pending_bytes(&self) -> usize {
        self.pending.iter().map(|(_, b)| b.len()).sum()
    }

    /// Every byte this prefix holds, in order or waiting.
    pub fn held_bytes(&self) -> usize {
        self.data.len() + self.pending_bytes()
    }

    pub fn is_full(&self) -> bool {
        self.data.len() >= TCP_PREFIX_CAP
    }

    /// Adds a segment's payload; returns how many bytes were appended (for the global memcap).
    pub fn add(&mut self, seq: u32, payload: &[u8]) -> usize {
        if payload.is_empty() || self.gap || self.is_full() {
            return 0;
        }
        let next = *self.next_seq.get_or_insert(seq);
        let before = self.data.len();
        let offset = seq.wrapping_sub(next) as i32;
        if offset <= 0 {
            let skip = offset.unsigned_abs() as usize;
            if skip < payload.len() {
                self.append(&payload[skip..]);
            }
            self.drain_pending();
        } else if self.pending.len() < MAX_PENDING
            && self.pending_bytes() + payload.len() <= TCP_PREFIX_CAP
        {
            self.pending.push((seq, payload.to_vec()));
        } else {
            self.gap = true;
            self.pending.clear();
        }
        self.data.len() - before
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = TCP_PREFIX_CAP - self.data.len();
        let take = bytes.len().min(room);
        self.data.extend_from_slice(&bytes[..take]);
        if let Some(n) = self.next_seq.as_mut() {
            *n = n.wrapping_add(bytes.len() as u32);
        }
    }

    fn drain_pending(&mut self) {
        loop {
            let Some(next) = self.next_seq else { return };
            let Some(i) = self
                .pending
                .iter()
                .position(|(s, _)| (s.wrapping_sub(next) as i32) <= 0)
            else {
                return;
            };
            let (seq, bytes) = self.pending.swap_remove(i);
            let skip = next.wrapping_sub(seq) as usize;
            if skip < bytes.len() {
                self.append(&bytes[skip..]);
            }
        }
    }

    /// Called when the flow ends: segments still waiting mean a hole never filled.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            self.gap = true;
            self.pending.clear();
        }
    }
}

/// One direction's first UDP datagrams, then only the STUN/TURN control messages among the
/// rest (bounded).
#[derive(Debug, Clone, Default)]
pub struct DatagramPrefix {
    pub datagrams: Vec<Vec<u8>>,
    later_control: u16,
    later_indications: u16,
}

/// A datagram that is one whole STUN message: the top two bits clear and the length field
/// covering the rest exactly (RTP starts with version bits 10; ChannelData with 01).
pub fn is_stun_message(d: &[u8]) -> bool {
    d.len() >= 20
        && d[0] & 0xC0 == 0
        && usize::from(u16::from_be_bytes([d[2], d[3]])) + 20 == d.len()
}

/// An RTP data packet (version 2, a payload type outside RTCP's 192-223): its header is what
/// identification reads; RTCP, DTLS and the rest are kept whole.
fn is_rtp_data(d: &[u8]) -> bool {
    matches!(d, [b0, b1, ..] if b0 & 0xC0 == 0x80 && !(192..=223).contains(b1))
}

/// STUN message types of Send and Data indications (RFC 5766; MS-TURN's Data indication).
fn is_indication(d: &[u8]) -> bool {
    matches!(u16::from_be_bytes([d[0], d[1]]), 0x0016 | 0x0017 | 0x0115)
}

impl DatagramPrefix {
    /// Keeps a datagram if it is among the first, or a control message within the bounds;
    /// returns the bytes now held for it (what the table's memcap counts).
    pub fn add(&mut self, payload: &[u8]) -> usize {
        if self.datagrams.len() < UDP_DATAGRAMS {
            let cap = if self.datagrams.len() < UDP_WHOLE_DATAGRAMS {
                UDP_DATAGRAM_CAP
            } else if is_stun_message(payload) {
                UDP_CONTROL_CAP
            } else if is_rtp_data(payload) {
                UDP_HEADER_CAP
            } else {
                UDP_DATAGRAM_CAP
            };
            let keep = payload.len().min(cap);
            self.datagrams.push(payload[..keep].to_vec());
            return keep;
        }
        if !is_stun_message(payload) || usize::from(self.later_control) >= UDP_CONTROL_MESSAGES {
            return 0;
        }
        if is_indication(payload) {
            if usize::from(self.later_indications) >= UDP_INDICATIONS {
                return 0;
            }
            self.later_indications += 1;
        }
        self.later_control += 1;
        let keep = payload.len().min(UDP_CONTROL_CAP);
        self.datagrams.push(payload[..keep].to_vec());
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retransmitted_bytes_are_not_added_twice() {
        let mut p = TcpPrefix::default();
        p.on_syn(999);
        p.add(1000, b"hello ");
        p.add(1000, b"hello ");
        p.add(1003, b"lo world");
        assert_eq!(p.bytes(), b"hello world");
    }

    #[test]
    fn out_of_order_segments_wait_for_the_hole() {
        let mut p = TcpPrefix::default();
        p.on_syn(0);
        p.add(7, b"world");
        assert_eq!(p.bytes(), b"");
        p.add(1, b"hello ");
        assert_eq!(p.bytes(), b"hello world");
        assert!(!p.gap);
    }

    #[test]
    fn a_hole_that_never_fills_is_a_gap() {
        let mut p = TcpPrefix::default();
        p.on_syn(0);
        p.add(1, b"a");
        p.add(10, b"b");
        p.finish();
        assert!(p.gap);
        assert_eq!(p.bytes(), b"a");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut p = TcpPrefix::default();
        p.on_syn(u32::MAX - 2);
        p.add(u32::MAX - 1, b"ab");
        p.add(0, b"cd");
        assert_eq!(p.bytes(), b"abcd");
    }

    proptest! {
        /// Any segmentation and any order of delivery within the pending bound gives the same stream.
        #[test]
        fn any_segmentation_gives_the_same_prefix(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(1usize..400, 1..6),
            swap in any::<bool>(),
            isn in any::<u32>(),
        ) {
            let mut segments = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < data.len() {
                let len = cuts[i % cuts.len()].min(data.len() - at);
                segments.push((isn.wrapping_add(1).wrapping_add(at as u32), &data[at..at + len]));
                at += len;
                i += 1;
            }
            if swap && segments.len() >= 2 {
                segments.swap(0, 1);
            }
            let mut p = TcpPrefix::default();
            p.on_syn(isn);
            for (seq, s) in &segments {
                p.add(*seq, s);
            }
            p.finish();
            let want = &data[..data.len().min(TCP_PREFIX_CAP)];
            prop_assert_eq!(p.bytes(), want);
        }
    }
}
