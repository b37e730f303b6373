//! What each log format can and cannot tell about a connection, as data: where its lines give
//! the firewall's decision, a TCP connection's outcome and the responder's replies, and which
//! checks need which of these. The audit runs every check on the flows whose lines give what
//! it needs, lists it as skipped (with the reason from this table) where they do not, and never
//! reads a fact the log lacks as a failure: a Windows Firewall `ALLOW` of outbound 5061 is a
//! connection let through, not a connection unanswered.
//!
//! The words each format uses for an outcome are mapped in the format's own table (ASA
//! teardown reasons in `asa.rs`, PAN-OS session end reasons in `panos.rs`, FortiGate actions in
//! `fortigate.rs`, Zeek's `conn_state` in `state.rs`, netfilter prefix words in `netfilter.rs`,
//! filterlog actions in `filterlog.rs`, CEF's and LEEF's action words in `cef.rs`, Check Point
//! actions in `checkpoint.rs`).

use serde::Serialize;

use super::LogFormat;

/// A fact about a connection, beyond its addresses, ports and transport, that a check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fact {
    /// What the firewall decided (allowed or denied), on each of a flow's lines: a netfilter
    /// `LOG` line whose prefix names no decision does not say, nor does a CEF, LEEF or Check
    /// Point line whose action is no decision's word.
    Decision,
    /// How a TCP connection attempt ended: answered, refused or unanswered.
    TcpOutcome,
    /// Whether the responder answered datagrams (UDP): the packets it sent back.
    Replies,
    /// The bytes carried: TLS handshakes, STUN/TURN messages, DNS answers.
    Payload,
}

/// Whether a format tells a fact: the fields it is read from, or why it cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tells {
    By(&'static str),
    Not(&'static str),
}

impl Tells {
    pub fn tells(self) -> bool {
        matches!(self, Tells::By(_))
    }
}

/// What one format tells.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FormatFacts {
    pub format: LogFormat,
    /// The firewall's decision: allowed or denied.
    pub decision: Tells,
    pub tcp_outcome: Tells,
    pub replies: Tells,
    /// Why one flow may still lack its outcome when the format can tell it.
    pub partial: &'static str,
}

/// Every format, in the order of [`LogFormat`].
pub const FORMATS: [FormatFacts; 13] = [
    FormatFacts {
        format: LogFormat::Pfirewall,
        decision: Tells::By("action: ALLOW or DROP"),
        tcp_outcome: Tells::Not(
            "pfirewall.log records that Windows Firewall allowed a connection (ALLOW), not whether it was answered; \
             only a dropped SYN (DROP) tells how an attempt ended",
        ),
        replies: Tells::Not(
            "pfirewall.log has one line per allowed connection or dropped packet, and nothing of what the responder sent",
        ),
        partial: "an ALLOW line tells no outcome",
    },
    FormatFacts {
        format: LogFormat::Asa,
        decision: Tells::By("Built, Deny (106001, 106015, 106023), access-list permitted/denied (106100)"),
        tcp_outcome: Tells::By(
            "the reason of a 302014 Teardown: TCP FINs, TCP Reset-I/-O, SYN Timeout, FIN Timeout, idle timeouts; \
             and a denied SYN",
        ),
        replies: Tells::Not(
            "ASA teardowns count the bytes of both directions together, so a UDP session's answer is not told",
        ),
        partial: "a Built line without its Teardown, or a teardown reason that is the firewall's own (inspection, \
                  failover, xlate clear)",
    },
    FormatFacts {
        format: LogFormat::Panos,
        decision: Tells::By("Action, and the deny and drop subtypes"),
        tcp_outcome: Tells::By(
            "Session End Reason (tcp-fin, tcp-rst-from-client, tcp-rst-from-server, aged-out) with Packets Received; \
             the deny actions (reset-client, drop-icmp, drop)",
        ),
        replies: Tells::By("Packets Received"),
        partial: "a session start line without its end, or an end reason about the firewall (threat, decrypt, \
                  policy-deny)",
    },
    FormatFacts {
        format: LogFormat::Fortigate,
        decision: Tells::By("action (or status): accept, close, ..., deny"),
        tcp_outcome: Tells::By("action (or status): close, client-rst, server-rst, timeout with rcvdpkt; deny"),
        replies: Tells::By("rcvdpkt"),
        partial: "an accept line without a close reason",
    },
    FormatFacts {
        format: LogFormat::ZeekTsv,
        decision: Tells::Not("Zeek is a sensor: it records what it saw and decides nothing"),
        tcp_outcome: Tells::By("conn_state and history"),
        replies: Tells::By("resp_pkts"),
        partial: "a connection without conn_state",
    },
    FormatFacts {
        format: LogFormat::ZeekJson,
        decision: Tells::Not("Zeek is a sensor: it records what it saw and decides nothing"),
        tcp_outcome: Tells::By("conn_state and history"),
        replies: Tells::By("resp_pkts"),
        partial: "a connection without conn_state",
    },
    FormatFacts {
        format: LogFormat::Netflow,
        decision: Tells::Not(
            "NetFlow/IPFIX records what an exporter metered, not what a firewall decided: a flow exported was let through \
             at that point, a blocked one may not have been metered at all",
        ),
        tcp_outcome: Tells::By(
            "the TCP flags ORed over each direction's packets (tcpControlBits), the two directions' records paired: \
             SYN alone is unanswered (S0), SYN answered by RST refused (REJ), SYN with ACK and FIN completed (SF)",
        ),
        replies: Tells::By(
            "the record of the reverse direction, paired with the forward one; a direction without a record is silence \
             only when the exporters meter both directions",
        ),
        partial: "a template without TCP flags, or exporters that never exported both directions of any flow (a SYN \
                  alone then tells nothing: its answer may be in the direction no exporter sent)",
    },
    FormatFacts {
        format: LogFormat::NfdumpCsv,
        decision: Tells::Not(
            "nfdump stores what NetFlow/IPFIX exporters metered, not what a firewall decided",
        ),
        tcp_outcome: Tells::By(
            "flg, the TCP flags of each direction's record, the two directions' lines paired: SYN alone is \
             unanswered (S0), SYN answered by RST refused (REJ), SYN with ACK and FIN completed (SF)",
        ),
        replies: Tells::By(
            "the line of the reverse direction; a direction without a line is silence only when some flow has both",
        ),
        partial: "a record without TCP flags, or a file where no flow has lines of both directions",
    },
    FormatFacts {
        format: LogFormat::Netfilter,
        decision: Tells::By(
            "the log prefix's words: DROP, REJECT, BLOCK or DENY is denied, ACCEPT, ALLOW or PASS allowed; \
             a prefix with neither tells no decision",
        ),
        tcp_outcome: Tells::Not(
            "a netfilter LOG line records one packet a rule matched, not how the connection went; \
             only a dropped SYN (unanswered) or a rejected one (refused) tells how an attempt ended",
        ),
        replies: Tells::Not(
            "a netfilter LOG line is one packet: the responder's packets are logged only if a rule logs them, \
             and their absence proves nothing",
        ),
        partial: "a line that is not a dropped or rejected SYN tells no outcome",
    },
    FormatFacts {
        format: LogFormat::Filterlog,
        decision: Tells::By("action: pass, block or reject"),
        tcp_outcome: Tells::Not(
            "filterlog records the packet a logged rule matched (for a pass rule, the one that created the state), \
             not how the connection went; only a blocked SYN (unanswered) or a rejected one (refused) tells how \
             an attempt ended",
        ),
        replies: Tells::Not(
            "filterlog logs the packet a rule matched, not the state's later packets: nothing of what the responder sent",
        ),
        partial: "a pass line tells no outcome",
    },
    FormatFacts {
        format: LogFormat::Cef,
        decision: Tells::By(
            "act: accept, allow, permit or pass (and FortiGate's close, timeout, client-rst, server-rst) is allowed; \
             deny, drop, block or discard denied; reject, reset-client or reset-both denied with an answer; \
             another word, or none, tells no decision",
        ),
        tcp_outcome: Tells::Not(
            "CEF defines no TCP flags nor session end reason: a line tells that a connection was let through, \
             not how it went; only a denied attempt (unanswered) or a rejected one (refused) tells how it ended",
        ),
        replies: Tells::By(
            "in, the bytes the responder sent (as the firewalls that write CEF count it: out is the originator's)",
        ),
        partial: "an allowed line tells no outcome; a line without in says nothing of the responder",
    },
    FormatFacts {
        format: LogFormat::Leef,
        decision: Tells::By(
            "action: accept, allow, permit or pass is allowed; deny, drop, block or discard denied; \
             reject denied with an answer; another word, or none, tells no decision",
        ),
        tcp_outcome: Tells::Not(
            "LEEF defines no TCP flags nor session end reason: a line tells that a connection was let through, \
             not how it went; only a denied attempt (unanswered) or a rejected one (refused) tells how it ended",
        ),
        replies: Tells::By("dstBytes and dstPackets, what the destination sent"),
        partial: "an allowed line tells no outcome; a line without dstBytes or dstPackets says nothing of the responder",
    },
    FormatFacts {
        format: LogFormat::Checkpoint,
        decision: Tells::By(
            "action: Accept, Encrypt or Decrypt is allowed; Drop or Block denied; Reject denied with an answer; \
             a threat-prevention verdict (Detect, Prevent, Inform...) tells no access decision",
        ),
        tcp_outcome: Tells::Not(
            "a Check Point connection log records the access decision, not how the connection went; only a \
             dropped first packet (unanswered) or a rejected one (refused) tells how an attempt ended",
        ),
        replies: Tells::By(
            "server_outbound_bytes and server_outbound_packets (or received_bytes), when accounting is enabled",
        ),
        partial: "an Accept line tells no outcome; one without accounting says nothing of the responder",
    },
];

/// What `format` tells.
pub fn of(format: LogFormat) -> &'static FormatFacts {
    FORMATS
        .iter()
        .find(|f| f.format == format)
        .unwrap_or(&FORMATS[0])
}

/// Checks that need more than addresses, ports and the firewall's decision.
#[derive(Debug, Clone, Copy)]
pub struct Needing {
    pub fact: Fact,
    pub ids: &'static str,
    pub title: &'static str,
}

/// The checks by the fact they need. Verdicts, hairpins (A12), sources and sides (F11, I1, I4,
/// R1, N6) need none of these and run on every log; the firewall's own findings (FW1, FW2) need
/// its decision, which every line of a firewall's format gives but a netfilter `LOG` line whose
/// prefix names none (and a sensor's records, Zeek's or NetFlow's, record traffic seen: nothing
/// is denied there, and FW1 and FW2 have nothing to read).
pub const NEEDING: [Needing; 9] = [
    Needing {
        fact: Fact::TcpOutcome,
        ids: "F1-F3, D2, CRL1, A2, A4, A11, A13-A15, I2, I3, I5",
        title: "TCP connections unanswered or refused",
    },
    Needing {
        fact: Fact::Replies,
        ids: "A1, A3, A5, A7, A15, D2, A11, N5",
        title: "Datagrams the responder never answered",
    },
    Needing {
        fact: Fact::Payload,
        ids: "F4-F10, F12, F14",
        title: "Federation TLS handshake, certificate and retry-loop checks",
    },
    Needing {
        fact: Fact::Payload,
        ids: "TL1-TL5",
        title: "TLS handshake and certificate checks of the Edge's other services",
    },
    Needing {
        fact: Fact::Payload,
        ids: "D1, D3-D5, D7",
        title: "DNS answer checks",
    },
    Needing {
        fact: Fact::Payload,
        ids: "A8, N1, N3",
        title: "TURN Allocate rejected, relay address and NAT mapping checks",
    },
    Needing {
        fact: Fact::Payload,
        ids: "M1, protocol-mismatch",
        title: "Which service a flow's payload belongs to (another service's traffic at an address or on a port)",
    },
    Needing {
        fact: Fact::Payload,
        ids: "calls, A9",
        title: "Media legs of call timelines (joined through the TURN relay addresses) and the calls whose media failed",
    },
    Needing {
        fact: Fact::Decision,
        ids: "FW1, FW2",
        title: "Traffic the firewall denied, documented or not",
    },
];

/// Why a flow whose lines name no decision cannot be checked for FW1 and FW2.
pub const UNDECIDED: &str =
    "their lines name no decision: a netfilter LOG rule whose prefix has no word such as DROP, REJECT or ACCEPT \
     records the packets it matched, not what a later rule did with them; a CEF or LEEF action, or a Check \
     Point action, that is no word of a decision (alert, detect, none) does not say either";

/// Why a log never gives [`Fact::Payload`].
pub const NO_PAYLOAD: &str =
    "payloads (TLS handshakes, STUN/TURN messages, DNS answers), which no firewall log, conn.log or NetFlow/IPFIX record carries";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_its_row() {
        for f in [
            LogFormat::Pfirewall,
            LogFormat::Asa,
            LogFormat::Panos,
            LogFormat::Fortigate,
            LogFormat::ZeekTsv,
            LogFormat::ZeekJson,
            LogFormat::Netflow,
            LogFormat::NfdumpCsv,
            LogFormat::Netfilter,
            LogFormat::Filterlog,
            LogFormat::Cef,
            LogFormat::Leef,
            LogFormat::Checkpoint,
        ] {
            assert_eq!(of(f).format, f);
        }
        assert!(!of(LogFormat::Pfirewall).tcp_outcome.tells());
        assert!(of(LogFormat::Asa).tcp_outcome.tells());
        assert!(!of(LogFormat::Asa).replies.tells());
    }
}
