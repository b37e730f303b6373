//! How a TCP connection ended, as a log line tells it, mapped onto the states the capture path
//! computes: Zeek's `conn_state` and the handshake outcome the checks read
//! ([`crate::flow::tcp::Handshake`]). A log flow whose line says how it ended gets the same
//! [`TcpSummary`] a captured flow would, so F1-F3, A2, A4, I5 and the call timelines judge it by
//! the same rules; a flow whose lines do not say stays without one, and no check reads it as
//! unanswered (see [`super::facts`]).
//!
//! What each format's words mean is in the format's own table (ASA teardown reasons in
//! `asa.rs`, PAN-OS session end reasons in `panos.rs`, FortiGate actions in `fortigate.rs`);
//! this module only maps the resulting [`TcpEnd`] onto Zeek's vocabulary.

use crate::flow::tcp::Handshake;
use crate::flow::TcpSummary;

/// How a TCP session ended, in terms a line can state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpEnd {
    /// Zeek's own words: one of Zeek's `conn_state` values, and the `history` when given.
    Zeek {
        state: &'static str,
        history: Option<Box<str>>,
    },
    /// The SYN got no answer (S0): an ASA SYN Timeout, a denied or dropped SYN, a session aged
    /// out with nothing received.
    Unanswered,
    /// The SYN was refused with a reset (REJ): a firewall's reset-client.
    Refused,
    /// The SYN was answered by an ICMP error (PAN-OS drop-icmp).
    Unreachable,
    /// Established and closed by both sides (SF): ASA "TCP FINs", PAN-OS tcp-fin, FortiGate
    /// close.
    Completed,
    /// Established, and not closed or closed by a timeout (S1).
    Established,
    /// A reset, sent by the line's source socket (`by_src`) or its destination: ASA teardowns
    /// keep the socket order of their Built line, so whether the source is the originator is
    /// known only when the flow is made. `established`: the connection carried traffic before
    /// the reset (a responder's reset of a connection that never did is a refusal, REJ).
    Reset { by_src: bool, established: bool },
}

/// Zeek's `conn_state` values (base/protocols/conn/main.zeek).
pub const ZEEK_STATES: [&str; 13] = [
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
];

/// A `conn_state` as one of Zeek's values; `None` for anything else.
pub fn zeek_state(s: &str) -> Option<&'static str> {
    ZEEK_STATES.iter().copied().find(|z| *z == s)
}

fn syn_unanswered(orig_packets: u64) -> Handshake {
    Handshake::SynUnanswered {
        syn_retransmissions: u32::try_from(orig_packets.saturating_sub(1)).unwrap_or(u32::MAX),
    }
}

/// The handshake outcome Zeek's words imply, by the capture path's rules
/// (`TcpState::handshake`): the responder's SYN-ACK (`h`) means established; the originator's
/// SYN (`S`) answered by the responder's reset (`r`) is a refusal; a SYN alone went unanswered,
/// each of the originator's packets counted as a SYN. Without a history the state decides.
pub fn handshake(conn_state: &str, history: &str, orig_packets: u64) -> Handshake {
    if !history.is_empty() {
        let h = history.trim_start_matches('^');
        return if h.contains('h') {
            Handshake::Established
        } else if h.contains('S') && h.contains('r') {
            Handshake::RefusedByRst
        } else if h.contains('S') {
            syn_unanswered(orig_packets)
        } else {
            Handshake::NotSeen
        };
    }
    match conn_state {
        "S0" | "SH" | "RSTOS0" => syn_unanswered(orig_packets),
        "REJ" => Handshake::RefusedByRst,
        "OTH" => Handshake::NotSeen,
        _ => Handshake::Established,
    }
}

impl TcpEnd {
    /// The capture path's summary of this ending, for a flow whose originator is the line's
    /// source socket when `src_is_orig`, and which sent `orig_packets` packets. The history is
    /// Zeek's when the line gave one, and empty otherwise: a log does not show the packets.
    pub fn summary(&self, src_is_orig: bool, orig_packets: u64) -> TcpSummary {
        let (conn_state, history, handshake): (&'static str, Box<str>, Handshake) = match self {
            TcpEnd::Zeek { state, history } => {
                let h = history.as_deref().unwrap_or("");
                (state, h.into(), handshake(state, h, orig_packets))
            }
            TcpEnd::Unanswered => ("S0", "".into(), syn_unanswered(orig_packets)),
            TcpEnd::Refused => ("REJ", "".into(), Handshake::RefusedByRst),
            TcpEnd::Unreachable => ("S0", "".into(), Handshake::UnreachableByIcmp),
            TcpEnd::Completed => ("SF", "".into(), Handshake::Established),
            TcpEnd::Established => ("S1", "".into(), Handshake::Established),
            TcpEnd::Reset {
                by_src,
                established,
            } => {
                let by_orig = *by_src == src_is_orig;
                match (by_orig, established) {
                    (true, _) => ("RSTO", "".into(), Handshake::Established),
                    (false, true) => ("RSTR", "".into(), Handshake::Established),
                    (false, false) => ("REJ", "".into(), Handshake::RefusedByRst),
                }
            }
        };
        TcpSummary {
            conn_state,
            history,
            handshake,
            retransmissions: [0, 0],
            gaps: [0, 0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_words_map_as_the_capture_path_computes_them() {
        // The histories edgewise writes for the Edge sample's federation flows.
        assert_eq!(
            handshake("S0", "S", 4),
            Handshake::SynUnanswered {
                syn_retransmissions: 3
            }
        );
        assert_eq!(handshake("REJ", "Sr", 1), Handshake::RefusedByRst);
        assert_eq!(handshake("SF", "ShADdaFf", 12), Handshake::Established);
        assert_eq!(handshake("SF", "^hADdaFf", 12), Handshake::Established);
        assert_eq!(handshake("OTH", "Dd", 3), Handshake::NotSeen);
        // Without a history, the state alone.
        assert_eq!(handshake("REJ", "", 1), Handshake::RefusedByRst);
        assert_eq!(handshake("RSTR", "", 5), Handshake::Established);
        assert!(matches!(
            handshake("S0", "", 2),
            Handshake::SynUnanswered {
                syn_retransmissions: 1
            }
        ));
        assert_eq!(zeek_state("RSTOS0"), Some("RSTOS0"));
        assert_eq!(zeek_state("XX"), None);
    }

    #[test]
    fn a_reset_is_placed_once_the_originator_is_known() {
        let r = TcpEnd::Reset {
            by_src: true,
            established: true,
        };
        assert_eq!(r.summary(true, 5).conn_state, "RSTO");
        assert_eq!(r.summary(false, 5).conn_state, "RSTR");
        let refused = TcpEnd::Reset {
            by_src: false,
            established: false,
        };
        let s = refused.summary(true, 1);
        assert_eq!(
            (s.conn_state, s.handshake),
            ("REJ", Handshake::RefusedByRst)
        );
        let s = TcpEnd::Unanswered.summary(true, 3);
        assert_eq!(s.conn_state, "S0");
        assert_eq!(
            s.handshake,
            Handshake::SynUnanswered {
                syn_retransmissions: 2
            }
        );
    }
}
