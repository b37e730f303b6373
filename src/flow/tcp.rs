//! TCP connection state, as Zeek reports it: `conn_state` and `history`.
//!
//! Network teams read Zeek's vocabulary (S0 = no answer to the SYN, REJ = refused, SF = normal),
//! so we compute the same values by the same rules: the per-endpoint state machine of Zeek's TCP
//! analyzer (`TCPSessionAdapter::UpdateStateMachine`) and the `conn_state` function of
//! `base/protocols/conn/main.zeek`. History letters follow Zeek's recording rules: `a d i q` at
//! most once per direction, `s h f r` again only when the sequence number changes, `t w g`
//! logarithmically (1st, 10th, 100th... event).

use serde::Serialize;

use crate::decode::{TcpFlags, TcpHeaderFields};

/// Zeek's TCP endpoint states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Per-direction TCP bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct TcpEndpoint {
    pub state: EndpointState,
    prev_state: EndpointState,
    last_syn_seq: Option<u32>,
    last_synack_seq: Option<u32>,
    last_fin_seq: Option<u32>,
    last_rst_seq: Option<u32>,
    /// Highest sequence number end sent so far (for retransmission detection).
    max_seq_end: Option<u32>,
    pub syn_packets: u32,
    pub retransmissions: u64,
    pub retransmitted_bytes: u64,
    pub zero_windows: u64,
    pub gaps: u64,
    once: u8,
}

impl TcpEndpoint {
    fn set_state(&mut self, s: EndpointState) {
        self.prev_state = self.state;
        self.state = s;
    }
}

const ONCE_A: u8 = 1;
const ONCE_D: u8 = 2;
const ONCE_I: u8 = 4;
const ONCE_Q: u8 = 8;

/// Longest history kept (Zeek's is unbounded; a flow that long is summarised by its counters).
const HISTORY_CAP: usize = 48;

/// TCP state for one connection.
#[derive(Debug, Clone, Default)]
pub struct TcpState {
    pub orig: TcpEndpoint,
    pub resp: TcpEndpoint,
    pub history: String,
}

/// How the TCP handshake ended, in the words of a failed-call diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Handshake {
    /// SYN, SYN-ACK (and usually ACK) seen.
    Established,
    /// SYNs sent, nothing came back.
    SynUnanswered { syn_retransmissions: u32 },
    /// The responder answered the SYN with a reset.
    RefusedByRst,
    /// An ICMP error came back instead of a SYN-ACK.
    UnreachableByIcmp,
    /// The capture starts after the handshake.
    NotSeen,
}

fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Logarithmic recording for `t`, `w` and `g`: the 1st, 10th, 100th... event adds a letter.
fn log_mark(count: u64) -> bool {
    let mut threshold = 1u64;
    while threshold < count {
        threshold = threshold.saturating_mul(10);
    }
    threshold == count
}

impl TcpState {
    fn push(&mut self, letter: char, from_orig: bool) {
        if self.history.len() < HISTORY_CAP {
            self.history.push(if from_orig {
                letter.to_ascii_uppercase()
            } else {
                letter
            });
        }
    }

    /// Marks that the roles were flipped relative to the first packet (Zeek's `^`).
    pub fn mark_flipped(&mut self) {
        self.history.insert(0, '^');
    }

    /// Updates state and history with one segment. Returns true when it retransmits payload.
    pub fn on_segment(
        &mut self,
        from_orig: bool,
        h: &TcpHeaderFields,
        payload_len: u32,
        orig_payload_bytes: u64,
        resp_payload_bytes: u64,
    ) -> bool {
        let flags = h.flags;
        self.record_history(from_orig, h, payload_len);
        let retransmit = self.track_retransmission(from_orig, h, payload_len);
        self.update_state_machine(
            from_orig,
            flags,
            payload_len,
            orig_payload_bytes,
            resp_payload_bytes,
        );
        retransmit
    }

    fn record_history(&mut self, from_orig: bool, h: &TcpHeaderFields, payload_len: u32) {
        let flags = h.flags;
        let ep = if from_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        let mut letters: [Option<char>; 6] = [None; 6];
        let mut n = 0;
        let mut add = |c: char, letters: &mut [Option<char>; 6]| {
            if n < letters.len() {
                letters[n] = Some(c);
                n += 1;
            }
        };
        if flags.syn() {
            ep.syn_packets = ep.syn_packets.saturating_add(1);
            if flags.ack() {
                if ep.last_synack_seq != Some(h.seq) {
                    ep.last_synack_seq = Some(h.seq);
                    add('h', &mut letters);
                }
            } else if ep.last_syn_seq != Some(h.seq) {
                ep.last_syn_seq = Some(h.seq);
                add('s', &mut letters);
            }
            if (flags.fin() || flags.rst()) && ep.once & ONCE_Q == 0 {
                ep.once |= ONCE_Q;
                add('q', &mut letters);
            }
        }
        if flags.fin() && flags.rst() && ep.once & ONCE_I == 0 {
            ep.once |= ONCE_I;
            add('i', &mut letters);
        }
        if flags.fin() && ep.last_fin_seq != Some(h.seq) {
            ep.last_fin_seq = Some(h.seq);
            add('f', &mut letters);
        }
        if flags.rst() && ep.last_rst_seq != Some(h.seq) {
            ep.last_rst_seq = Some(h.seq);
            add('r', &mut letters);
        }
        if payload_len > 0 {
            if ep.once & ONCE_D == 0 {
                ep.once |= ONCE_D;
                add('d', &mut letters);
            }
        } else if flags.ack()
            && !flags.syn()
            && !flags.fin()
            && !flags.rst()
            && ep.once & ONCE_A == 0
        {
            ep.once |= ONCE_A;
            add('a', &mut letters);
        }
        if h.window == 0 && !flags.syn() && !flags.rst() && !flags.fin() {
            ep.zero_windows += 1;
            if log_mark(ep.zero_windows) {
                add('w', &mut letters);
            }
        }
        for c in letters.into_iter().flatten() {
            self.push(c, from_orig);
        }
    }

    fn track_retransmission(
        &mut self,
        from_orig: bool,
        h: &TcpHeaderFields,
        payload_len: u32,
    ) -> bool {
        let ep = if from_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        if payload_len == 0 {
            if h.flags.syn() || h.flags.fin() {
                let end = h.seq.wrapping_add(1);
                if ep.max_seq_end.is_none_or(|m| seq_lt(m, end)) {
                    ep.max_seq_end = Some(end);
                }
            }
            return false;
        }
        let start = if h.flags.syn() {
            h.seq.wrapping_add(1)
        } else {
            h.seq
        };
        let end = start.wrapping_add(payload_len);
        let retransmit = match ep.max_seq_end {
            Some(m) => !seq_lt(m, end) && seq_lt(start, m),
            None => false,
        };
        if retransmit {
            ep.retransmissions += 1;
            ep.retransmitted_bytes += u64::from(payload_len);
            let mark = log_mark(ep.retransmissions);
            if mark {
                self.push('t', from_orig);
            }
        } else if ep.max_seq_end.is_none_or(|m| seq_lt(m, end)) {
            ep.max_seq_end = Some(end);
        }
        retransmit
    }

    /// Records a content gap (a hole in the stream that never filled).
    pub fn on_gap(&mut self, from_orig: bool) {
        let ep = if from_orig {
            &mut self.orig
        } else {
            &mut self.resp
        };
        ep.gaps += 1;
        if log_mark(ep.gaps) {
            self.push('g', from_orig);
        }
    }

    /// Zeek's `UpdateStateMachine` for one packet from `from_orig`'s side.
    fn update_state_machine(
        &mut self,
        from_orig: bool,
        flags: TcpFlags,
        len: u32,
        _orig_bytes: u64,
        _resp_bytes: u64,
    ) {
        use EndpointState::*;
        let (ep, peer) = if from_orig {
            (&mut self.orig, &mut self.resp)
        } else {
            (&mut self.resp, &mut self.orig)
        };
        match ep.state {
            Inactive => {
                if flags.syn() {
                    if from_orig {
                        ep.set_state(if flags.ack() { SynAckSent } else { SynSent });
                    } else {
                        if peer.state == SynSent {
                            peer.set_state(Established);
                        }
                        ep.set_state(Established);
                    }
                }
                if flags.fin() {
                    ep.set_state(Closed);
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
                if ep.state == Inactive {
                    // Our orig is always `self.orig`; Zeek's check reads the originator here.
                    let orig_syn_sent = if from_orig {
                        false
                    } else {
                        peer.state == SynSent
                    };
                    if !from_orig && len == 0 && orig_syn_sent {
                        // An ACK of the SYN before the SYN-ACK: not a partial connection.
                    } else if flags.ack() && peer.state == Established {
                        ep.set_state(Established);
                    } else {
                        ep.set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if flags.fin() {
                    ep.set_state(Closed);
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
            }
            Established | Partial => {
                if flags.syn() && ep.state == Partial && peer.state == Inactive && !flags.ack() {
                    ep.set_state(SynSent);
                }
                if flags.fin() && !flags.rst() {
                    ep.set_state(Closed);
                    if peer.state == Reset && peer.prev_state == Closed {
                        peer.set_state(Closed);
                    }
                }
                if flags.rst() {
                    ep.set_state(Reset);
                }
            }
            Closed => {
                if flags.rst() && peer.state != Closed {
                    ep.set_state(Reset);
                }
            }
            Reset => {}
        }
    }

    /// Zeek's `conn_state` for TCP. `orig_size`/`resp_size` are payload bytes per side.
    pub fn conn_state(&self, orig_size: u64, resp_size: u64) -> &'static str {
        use EndpointState::*;
        let os = self.orig.state;
        let rs = self.resp.state;
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent)
                || (os == Reset && orig_size == 0 && resp_size == 0)
            {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                if history_is_rstos0(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }

    /// How the handshake went, for failure diagnosis.
    pub fn handshake(&self, icmp_error_seen: bool) -> Handshake {
        let saw_syn = self.orig.syn_packets > 0;
        let saw_synack = self.resp.last_synack_seq.is_some();
        if saw_synack {
            Handshake::Established
        } else if saw_syn && self.resp.state == EndpointState::Reset {
            Handshake::RefusedByRst
        } else if saw_syn && icmp_error_seen {
            Handshake::UnreachableByIcmp
        } else if saw_syn && self.resp.state == EndpointState::Inactive {
            Handshake::SynUnanswered {
                syn_retransmissions: self.orig.syn_packets.saturating_sub(1),
            }
        } else if saw_syn {
            // The responder sent something other than a SYN-ACK (e.g. a bare ACK).
            Handshake::SynUnanswered {
                syn_retransmissions: self.orig.syn_packets.saturating_sub(1),
            }
        } else {
            Handshake::NotSeen
        }
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/` test on the history, written out.
fn history_is_rstos0(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u8, seq: u32) -> TcpHeaderFields {
        TcpHeaderFields {
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 1000,
        }
    }
    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const F: u8 = TcpFlags::FIN;
    const R: u8 = TcpFlags::RST;
    const P: u8 = TcpFlags::PSH;

    fn run(packets: &[(bool, u8, u32, u32)]) -> TcpState {
        let mut t = TcpState::default();
        for &(o, f, seq, len) in packets {
            t.on_segment(o, &seg(f, seq), len, 0, 0);
        }
        t
    }

    #[test]
    fn normal_connection_is_sf_with_zeek_history() {
        let t = run(&[
            (true, S, 100, 0),
            (false, S | A, 500, 0),
            (true, A, 101, 0),
            (true, P | A, 101, 10),
            (false, P | A, 501, 20),
            (true, F | A, 111, 0),
            (false, F | A, 521, 0),
            (true, A, 112, 0),
        ]);
        assert_eq!(t.conn_state(10, 20), "SF");
        assert_eq!(t.history, "ShADdFf");
        assert_eq!(t.handshake(false), Handshake::Established);
    }

    #[test]
    fn unanswered_syns_are_s0_with_retransmissions_counted() {
        let t = run(&[(true, S, 1, 0), (true, S, 1, 0), (true, S, 1, 0)]);
        assert_eq!(t.conn_state(0, 0), "S0");
        assert_eq!(t.history, "S");
        assert_eq!(
            t.handshake(false),
            Handshake::SynUnanswered {
                syn_retransmissions: 2
            }
        );
    }

    #[test]
    fn rst_answer_to_syn_is_rej() {
        let t = run(&[(true, S, 1, 0), (false, R | A, 0, 0)]);
        assert_eq!(t.conn_state(0, 0), "REJ");
        assert_eq!(t.history, "Sr");
        assert_eq!(t.handshake(false), Handshake::RefusedByRst);
    }

    #[test]
    fn originator_abort_is_rsto_and_syn_then_rst_is_rstos0() {
        let t = run(&[
            (true, S, 1, 0),
            (false, S | A, 9, 0),
            (true, A, 2, 0),
            (true, P | A, 2, 5),
            (true, R | A, 7, 0),
        ]);
        assert_eq!(t.conn_state(5, 0), "RSTO");
        let t = run(&[(true, S, 1, 0), (true, R, 2, 0)]);
        assert_eq!(t.conn_state(0, 0), "RSTOS0");
    }

    #[test]
    fn retransmitted_payload_is_counted_and_marked() {
        let t = run(&[
            (true, S, 1, 0),
            (false, S | A, 9, 0),
            (true, P | A, 2, 5),
            (true, P | A, 2, 5),
        ]);
        assert_eq!(t.orig.retransmissions, 1);
        assert!(t.history.contains('T'), "{}", t.history);
    }

    #[test]
    fn midstream_is_oth() {
        let t = run(&[(true, P | A, 2, 5), (false, A, 9, 0)]);
        assert_eq!(t.conn_state(5, 0), "OTH");
        assert_eq!(t.handshake(false), Handshake::NotSeen);
    }

    #[test]
    fn log_marks_are_powers_of_ten() {
        let marks: Vec<u64> = (1..=1000).filter(|c| log_mark(*c)).collect();
        assert_eq!(marks, vec![1, 10, 100, 1000]);
    }
}
