//! Identification that holds on any traffic (issue #14): each probe is certain only on evidence
//! that rules out its neighbours on the same framing, and unsure only with nothing against it.
//! Every test names the label and the confidence it expects.

use super::*;

fn assert_id(id: &Identification, protocol: Protocol, confidence: Confidence) {
    assert_eq!(
        (id.protocol, id.confidence),
        (protocol, confidence),
        "{}",
        id.summary
    );
}

fn unknown(id: &Identification) {
    assert_id(id, Protocol::Unknown, Confidence::Unsure);
}

// --- RDP and the other ISO-on-TCP protocols (TPKT + COTP) -------------------------------------

/// S7comm's COTP Connection Request (port 102): TPDU size, calling and called TSAP parameters.
const S7_CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02,
    0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
];
/// Its Connection Confirm.
const S7_CC: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xd0, 0x00, 0x01, 0x00, 0x02, 0x00, 0xc0, 0x01, 0x0a, 0xc1, 0x02,
    0x01, 0x00, 0xc2, 0x02, 0x01, 0x02,
];
/// S7comm Setup Communication in a COTP DT TPDU, after the connection.
const S7_SETUP: [u8; 25] = [
    0x03, 0x00, 0x00, 0x19, 0x02, 0xf0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x00, 0xf0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xe0,
];
/// MMS (IEC 61850) over RFC 1006: a Connection Request with the TSAPs first.
const MMS_CR: [u8; 22] = [
    0x03, 0x00, 0x00, 0x16, 0x11, 0xe0, 0x00, 0x00, 0x00, 0x01, 0x00, 0xc1, 0x02, 0x00, 0x01, 0xc2,
    0x02, 0x00, 0x01, 0xc0, 0x01, 0x0a,
];

fn tpkt_cr(variable: &[u8]) -> Vec<u8> {
    let len = 11 + variable.len();
    let mut v = vec![3, 0];
    v.extend_from_slice(&(len as u16).to_be_bytes());
    v.extend_from_slice(&[(len - 5) as u8, 0xe0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(variable);
    v
}

#[test]
fn s7comm_and_mms_on_port_102_are_not_rdp() {
    let mut c = S7_CR.to_vec();
    c.extend_from_slice(&S7_SETUP);
    unknown(&tcp(50000, 102, &c, &S7_CC));
    unknown(&tcp(50000, 102, &S7_CR, b""));
    unknown(&tcp(50000, 102, &MMS_CR, b""));
    // The same bytes on RDP's port are still not RDP: the port is no evidence.
    unknown(&tcp(50000, 3389, &S7_CR, &S7_CC));
}

#[test]
fn rdp_is_certain_on_its_cookie_or_negotiation() {
    // mstsc: "Cookie: mstshash=user" then an RDP Negotiation Request for TLS | CredSSP.
    let mut var = b"Cookie: mstshash=alice\r\n".to_vec();
    var.extend_from_slice(&[0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
    let cr = tpkt_cr(&var);
    // Connection Confirm with an RDP Negotiation Response selecting CredSSP (2).
    let cc = [
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x1f, 0x08, 0x00,
        0x02, 0x00, 0x00, 0x00,
    ];
    let id = tcp(50000, 3389, &cr, &cc);
    assert_id(&id, Protocol::Rdp, Confidence::Certain);
    assert!(id.summary.contains("mstshash=alice"), "{}", id.summary);
    // The negotiation request alone, the routing-token cookie alone, the server's answer alone.
    let neg = tpkt_cr(&[0x01, 0x00, 0x08, 0x00, 0x0b, 0x00, 0x00, 0x00]);
    assert_id(
        &tcp(50000, 3389, &neg, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
    let token = tpkt_cr(b"Cookie: msts=3640205228.15629.0000\r\n");
    assert_id(
        &tcp(50000, 3389, &token, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
    assert_id(
        &tcp(50000, 3389, b"", &cc),
        Protocol::Rdp,
        Confidence::Certain,
    );
    // Any port: the evidence is in the bytes.
    assert_id(
        &tcp(50000, 102, &neg, b""),
        Protocol::Rdp,
        Confidence::Certain,
    );
}

#[test]
fn a_bare_connection_request_is_only_unsure_rdp() {
    let bare = tpkt_cr(&[]);
    assert_id(
        &tcp(50000, 3389, &bare, b""),
        Protocol::Rdp,
        Confidence::Unsure,
    );
    // Another cookie than RDP's is another protocol.
    let other = tpkt_cr(b"Cookie: something=else\r\n");
    unknown(&tcp(50000, 3389, &other, b""));
}
