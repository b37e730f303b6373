//! Application-layer payload builders: TLS 1.2 handshake records, a minimal but
//! well-formed X.509 certificate and CRL in DER, MS-TURN pseudo-TLS, STUN/MS-TURN
//! messages, RTP/RTCP, DNS and HTTP.

use super::packets::{crc32, Rng};
use std::net::{IpAddr, SocketAddr};

// ---------------------------------------------------------------- TLS

pub const TLS_HANDSHAKE: u8 = 22;
pub const TLS_CCS: u8 = 20;
pub const TLS_APPDATA: u8 = 23;

fn push_u16(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&(x as u16).to_be_bytes());
}
fn push_u24(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&(x as u32).to_be_bytes()[1..]);
}

/// One TLS record: type, version, 16-bit length, body.
pub fn tls_record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + body.len());
    v.push(content_type);
    v.extend_from_slice(&version.to_be_bytes());
    push_u16(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

/// One handshake message: type, 24-bit length, body.
pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len());
    v.push(msg_type);
    push_u24(&mut v, body.len());
    v.extend_from_slice(body);
    v
}

fn extension(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut v = typ.to_be_bytes().to_vec();
    push_u16(&mut v, data.len());
    v.extend_from_slice(data);
    v
}

/// Cipher suites offered by a TLS 1.2 Windows/Lync client.
pub const CLIENT_SUITES: [u16; 8] = [
    0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009e, 0x009f, 0x003c, 0x003d,
];

/// TLS 1.2 ClientHello record (record version 0x0301, hello version 0x0303) with SNI,
/// supported_groups, ec_point_formats, signature_algorithms, extended_master_secret
/// and renegotiation_info. No ALPN (SIP/PSOM clients do not send it).
pub fn client_hello(sni: &str, random: &[u8; 32], session_id: &[u8]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(random);
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    push_u16(&mut body, CLIENT_SUITES.len() * 2);
    for s in CLIENT_SUITES {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    // server_name
    let mut sn = Vec::new();
    push_u16(&mut sn, sni.len() + 3);
    sn.push(0);
    push_u16(&mut sn, sni.len());
    sn.extend_from_slice(sni.as_bytes());
    exts.extend(extension(0x0000, &sn));
    // supported_groups: x25519, secp256r1, secp384r1
    exts.extend(extension(
        0x000a,
        &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    ));
    // ec_point_formats: uncompressed
    exts.extend(extension(0x000b, &[1, 0]));
    // signature_algorithms
    let sigs: [u16; 8] = [
        0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503,
    ];
    let mut sa = Vec::new();
    push_u16(&mut sa, sigs.len() * 2);
    for s in sigs {
        sa.extend_from_slice(&s.to_be_bytes());
    }
    exts.extend(extension(0x000d, &sa));
    exts.extend(extension(0x0017, &[]));
    exts.extend(extension(0xff01, &[0]));
    push_u16(&mut body, exts.len());
    body.extend_from_slice(&exts);
    tls_record(TLS_HANDSHAKE, 0x0301, &handshake(1, &body))
}

/// ServerHello body choosing TLS_RSA_WITH_AES_128_CBC_SHA256 (0x003c), which needs
/// no ServerKeyExchange, keeping the flight to Hello/Certificate/[Request]/Done.
pub fn server_hello_msg(random: &[u8; 32], session_id: &[u8; 32]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(random);
    body.push(32);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&0x003cu16.to_be_bytes());
    body.push(0);
    let mut exts = extension(0xff01, &[0]);
    exts.extend(extension(0x0017, &[]));
    push_u16(&mut body, exts.len());
    body.extend_from_slice(&exts);
    handshake(2, &body)
}

pub fn certificate_msg(certs: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = certs.iter().map(|c| c.len() + 3).sum();
    let mut body = Vec::with_capacity(total + 3);
    push_u24(&mut body, total);
    for c in certs {
        push_u24(&mut body, c.len());
        body.extend_from_slice(c);
    }
    handshake(11, &body)
}

/// CertificateRequest (type 13) naming one acceptable CA by its DER Name.
pub fn certificate_request_msg(ca_name_der: &[u8]) -> Vec<u8> {
    let mut body = vec![2, 1, 64]; // rsa_sign, ecdsa_sign
    let sigs: [u16; 4] = [0x0401, 0x0501, 0x0403, 0x0201];
    push_u16(&mut body, sigs.len() * 2);
    for s in sigs {
        body.extend_from_slice(&s.to_be_bytes());
    }
    push_u16(&mut body, ca_name_der.len() + 2);
    push_u16(&mut body, ca_name_der.len());
    body.extend_from_slice(ca_name_der);
    handshake(13, &body)
}

pub fn server_hello_done_msg() -> Vec<u8> {
    handshake(14, &[])
}

/// The server's first flight as one handshake record (large; TCP splits it at the MSS).
pub fn server_flight(
    rng: &mut Rng,
    cert_host: &str,
    sans: &[&str],
    request_client_cert: bool,
) -> Vec<u8> {
    server_flight_with_eku(rng, cert_host, sans, request_client_cert, &[])
}

/// As [`server_flight`], the server's certificate listing the extended key usages `eku`.
pub fn server_flight_with_eku(
    rng: &mut Rng,
    cert_host: &str,
    sans: &[&str],
    request_client_cert: bool,
    eku: &[[u8; 8]],
) -> Vec<u8> {
    let random = rng.array32();
    let sid = rng.array32();
    let mut hs = server_hello_msg(&random, &sid);
    let cert = x509_certificate_with_eku(rng, cert_host, sans, "Contoso Issuing CA 01", eku);
    let ca = x509_certificate(rng, "Contoso Issuing CA 01", &[], "Contoso Root CA");
    hs.extend(certificate_msg(&[cert, ca]));
    if request_client_cert {
        hs.extend(certificate_request_msg(&name_cn("Contoso Issuing CA 01")));
    }
    hs.extend(server_hello_done_msg());
    tls_record(TLS_HANDSHAKE, 0x0303, &hs)
}

/// Client's second flight: [Certificate], ClientKeyExchange (RSA, 256-byte encrypted
/// pre-master), [CertificateVerify], ChangeCipherSpec, encrypted Finished.
pub fn client_finish_flight(rng: &mut Rng, client_cert_host: Option<&str>) -> Vec<u8> {
    client_finish_flight_with_eku(rng, client_cert_host, &[])
}

/// As [`client_finish_flight`], the client's certificate listing the extended key usages `eku`.
pub fn client_finish_flight_with_eku(
    rng: &mut Rng,
    client_cert_host: Option<&str>,
    eku: &[[u8; 8]],
) -> Vec<u8> {
    let mut hs = Vec::new();
    if let Some(h) = client_cert_host {
        let cert = x509_certificate_with_eku(rng, h, &[h], "Contoso Issuing CA 01", eku);
        hs.extend(certificate_msg(&[cert]));
    }
    let mut cke = Vec::new();
    push_u16(&mut cke, 256);
    cke.extend(rng.bytes(256));
    hs.extend(handshake(16, &cke));
    if client_cert_host.is_some() {
        let mut cv = vec![0x04, 0x01];
        push_u16(&mut cv, 256);
        cv.extend(rng.bytes(256));
        hs.extend(handshake(15, &cv));
    }
    let mut v = tls_record(TLS_HANDSHAKE, 0x0303, &hs);
    v.extend(tls_record(TLS_CCS, 0x0303, &[1]));
    v.extend(tls_record(TLS_HANDSHAKE, 0x0303, &rng.bytes(80)));
    v
}

/// Server's ChangeCipherSpec + encrypted Finished.
pub fn server_finish_flight(rng: &mut Rng) -> Vec<u8> {
    let mut v = tls_record(TLS_CCS, 0x0303, &[1]);
    v.extend(tls_record(TLS_HANDSHAKE, 0x0303, &rng.bytes(80)));
    v
}

/// Application data record with `len` random-looking bytes.
pub fn app_data(rng: &mut Rng, len: usize) -> Vec<u8> {
    tls_record(TLS_APPDATA, 0x0303, &rng.bytes(len))
}

// ---------------------------------------------------------------- MS-TURN pseudo-TLS

/// The exact 50-byte pseudo-TLS ClientHello an MS-TURN client sends on TCP 443.
pub fn pseudo_tls_client_hello(random: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01,
    ];
    v.extend_from_slice(random);
    v.push(0);
    v.extend_from_slice(&[0x00, 0x02, 0x00, 0x18]);
    v.extend_from_slice(&[0x01, 0x00]);
    v
}

/// The pseudo-TLS server answer: ServerHello + ServerHelloDone in one record, no certificate.
pub fn pseudo_tls_server_hello(random: &[u8; 32]) -> Vec<u8> {
    let mut sh = vec![0x03, 0x01];
    sh.extend_from_slice(random);
    sh.push(0);
    sh.extend_from_slice(&[0x00, 0x18, 0x00]);
    let mut hs = handshake(2, &sh);
    hs.extend(handshake(14, &[]));
    tls_record(TLS_HANDSHAKE, 0x0301, &hs)
}

/// MS-TURN TCP framing: `02 00 LL LL` (control message) + message.
pub fn msturn_tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0x00];
    push_u16(&mut v, msg.len());
    v.extend_from_slice(msg);
    v
}

// ---------------------------------------------------------------- DER / X.509

pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}
fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}
fn int_bytes(b: &[u8]) -> Vec<u8> {
    let mut c = b.to_vec();
    if c.first().is_some_and(|x| x & 0x80 != 0) {
        c.insert(0, 0);
    }
    der(0x02, &c)
}
const OID_SHA256_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_CN: [u8; 3] = [0x55, 0x04, 0x03];
const OID_SAN: [u8; 3] = [0x55, 0x1d, 0x11];

fn alg_sha256_rsa() -> Vec<u8> {
    seq(&[der(0x06, &OID_SHA256_RSA), der(0x05, &[])])
}

/// X.501 Name with a single CN (UTF8String).
pub fn name_cn(cn: &str) -> Vec<u8> {
    seq(&[der(
        0x31,
        &seq(&[der(0x06, &OID_CN), der(0x0c, cn.as_bytes())]),
    )])
}

/// id-kp-serverAuth (1.3.6.1.5.5.7.3.1), DER content of the OID.
pub const EKU_SERVER_AUTH: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// id-kp-clientAuth (1.3.6.1.5.5.7.3.2), DER content of the OID.
pub const EKU_CLIENT_AUTH: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
const OID_EKU: [u8; 3] = [0x55, 0x1d, 0x25];

/// A structurally valid X.509 v3 certificate (1024-bit made-up RSA key, random
/// signature): subject/issuer CN, validity 2026-01-01..2028-01-01, SAN dNSNames.
pub fn x509_certificate(
    rng: &mut Rng,
    subject_cn: &str,
    sans: &[&str],
    issuer_cn: &str,
) -> Vec<u8> {
    x509_certificate_with_eku(rng, subject_cn, sans, issuer_cn, &[])
}

/// As [`x509_certificate`], with an extended key usage extension listing `eku` (OIDs such as
/// [`EKU_SERVER_AUTH`]) when it is not empty.
pub fn x509_certificate_with_eku(
    rng: &mut Rng,
    subject_cn: &str,
    sans: &[&str],
    issuer_cn: &str,
    eku: &[[u8; 8]],
) -> Vec<u8> {
    let mut serial = rng.bytes(16);
    serial[0] &= 0x7f;
    serial[0] |= 0x10;
    let mut modulus = rng.bytes(128);
    modulus[0] |= 0x80;
    modulus[127] |= 1;
    let rsa_key = seq(&[int_bytes(&modulus), int_bytes(&[0x01, 0x00, 0x01])]);
    let mut bits = vec![0u8];
    bits.extend(rsa_key);
    let spki = seq(&[
        seq(&[der(0x06, &OID_RSA), der(0x05, &[])]),
        der(0x03, &bits),
    ]);
    let validity = seq(&[der(0x17, b"260101000000Z"), der(0x17, b"280101000000Z")]);
    let mut parts = vec![
        der(0xa0, &int_bytes(&[2])),
        int_bytes(&serial),
        alg_sha256_rsa(),
        name_cn(issuer_cn),
        validity,
        name_cn(subject_cn),
        spki,
    ];
    let mut exts = Vec::new();
    if !sans.is_empty() {
        let names: Vec<Vec<u8>> = sans.iter().map(|s| der(0x82, s.as_bytes())).collect();
        exts.push(seq(&[der(0x06, &OID_SAN), der(0x04, &seq(&names))]));
    }
    if !eku.is_empty() {
        let oids: Vec<Vec<u8>> = eku.iter().map(|o| der(0x06, o)).collect();
        exts.push(seq(&[der(0x06, &OID_EKU), der(0x04, &seq(&oids))]));
    }
    if !exts.is_empty() {
        parts.push(der(0xa3, &seq(&exts)));
    }
    let tbs = seq(&parts);
    let mut sig = vec![0u8];
    sig.extend(rng.bytes(128));
    seq(&[tbs, alg_sha256_rsa(), der(0x03, &sig)])
}

/// A minimal, well-formed X.509 v2 CRL with no revoked certificates.
pub fn x509_crl(rng: &mut Rng, issuer_cn: &str) -> Vec<u8> {
    let tbs = seq(&[
        int_bytes(&[1]),
        alg_sha256_rsa(),
        name_cn(issuer_cn),
        der(0x17, b"261101000000Z"),
        der(0x17, b"261108000000Z"),
    ]);
    let mut sig = vec![0u8];
    sig.extend(rng.bytes(128));
    seq(&[tbs, alg_sha256_rsa(), der(0x03, &sig)])
}

// ---------------------------------------------------------------- STUN / MS-TURN

pub const STUN_COOKIE: u32 = 0x2112_a442;
pub const STUN_BINDING_REQUEST: u16 = 0x0001;
pub const STUN_BINDING_SUCCESS: u16 = 0x0101;
pub const STUN_ALLOCATE_REQUEST: u16 = 0x0003;
pub const STUN_ALLOCATE_SUCCESS: u16 = 0x0103;
pub const STUN_ALLOCATE_ERROR: u16 = 0x0113;
// RFC 5766 (TURN) methods in their request/success/indication classes.
pub const TURN_REFRESH_REQUEST: u16 = 0x0004;
pub const TURN_REFRESH_SUCCESS: u16 = 0x0104;
pub const TURN_SEND_INDICATION: u16 = 0x0016;
pub const TURN_DATA_INDICATION: u16 = 0x0017;
pub const TURN_CREATE_PERMISSION_REQUEST: u16 = 0x0008;
pub const TURN_CREATE_PERMISSION_SUCCESS: u16 = 0x0108;
pub const TURN_CHANNEL_BIND_REQUEST: u16 = 0x0009;
pub const TURN_CHANNEL_BIND_SUCCESS: u16 = 0x0109;
/// RFC 5766 §11: channel numbers 0x4000-0x7FFF.
pub const TURN_FIRST_CHANNEL: u16 = 0x4000;

/// Builder for one STUN message; attributes are padded to 4 bytes.
#[derive(Clone, Debug)]
pub struct Stun {
    msg_type: u16,
    txid: [u8; 12],
    attrs: Vec<u8>,
}

impl Stun {
    pub fn new(msg_type: u16, txid: [u8; 12]) -> Self {
        Stun {
            msg_type,
            txid,
            attrs: Vec::new(),
        }
    }
    pub fn attr(mut self, typ: u16, value: &[u8]) -> Self {
        self.attrs.extend_from_slice(&typ.to_be_bytes());
        push_u16(&mut self.attrs, value.len());
        self.attrs.extend_from_slice(value);
        while self.attrs.len() & 3 != 0 {
            self.attrs.push(0);
        }
        self
    }
    /// MS-TURN MAGIC-COOKIE attribute (0x000F), which MS-TURN puts first.
    pub fn ms_magic_cookie(self) -> Self {
        self.attr(0x000f, &[0x72, 0xc6, 0x4b, 0xc6])
    }
    /// MS-VERSION (0x8008).
    pub fn ms_version(self, v: u32) -> Self {
        self.attr(0x8008, &v.to_be_bytes())
    }
    fn xor_addr(&self, addr: SocketAddr) -> Vec<u8> {
        let cookie = STUN_COOKIE.to_be_bytes();
        let mut v = vec![0];
        let port = addr.port() ^ 0x2112;
        match addr.ip() {
            IpAddr::V4(ip) => {
                v.push(1);
                v.extend_from_slice(&port.to_be_bytes());
                for (i, b) in ip.octets().iter().enumerate() {
                    v.push(b ^ cookie[i]);
                }
            }
            IpAddr::V6(ip) => {
                v.push(2);
                v.extend_from_slice(&port.to_be_bytes());
                let mut key = cookie.to_vec();
                key.extend_from_slice(&self.txid);
                for (i, b) in ip.octets().iter().enumerate() {
                    v.push(b ^ key[i]);
                }
            }
        }
        v
    }
    pub fn xor_mapped(self, addr: SocketAddr) -> Self {
        let v = self.xor_addr(addr);
        self.attr(0x0020, &v)
    }
    pub fn xor_relayed(self, addr: SocketAddr) -> Self {
        let v = self.xor_addr(addr);
        self.attr(0x0016, &v)
    }
    /// XOR-PEER-ADDRESS (RFC 5766 §14.3).
    pub fn xor_peer(self, addr: SocketAddr) -> Self {
        let v = self.xor_addr(addr);
        self.attr(0x0012, &v)
    }
    /// CHANNEL-NUMBER (RFC 5766 §14.1): the number and two reserved bytes.
    pub fn channel_number(self, channel: u16) -> Self {
        let c = channel.to_be_bytes();
        self.attr(0x000c, &[c[0], c[1], 0, 0])
    }
    /// LIFETIME in seconds (RFC 5766 §14.2); 0 deletes the allocation.
    pub fn lifetime(self, secs: u32) -> Self {
        self.attr(0x000d, &secs.to_be_bytes())
    }
    /// DATA (RFC 5766 §14.4): the relayed datagram of a Send or Data indication.
    pub fn data(self, payload: &[u8]) -> Self {
        self.attr(0x0013, payload)
    }
    /// REQUESTED-TRANSPORT (RFC 5766 §14.7): the IP protocol number, 17 for UDP.
    pub fn requested_transport(self, protocol: u8) -> Self {
        self.attr(0x0019, &[protocol, 0, 0, 0])
    }
    pub fn error_code(self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(0x0009, &v)
    }
    /// MESSAGE-INTEGRITY (0x0008); the HMAC value is opaque to readers, so random.
    pub fn integrity(self, rng: &mut Rng) -> Self {
        let mac = rng.bytes(20);
        self.attr(0x0008, &mac)
    }
    fn header(&self, attr_len: usize) -> Vec<u8> {
        let mut v = self.msg_type.to_be_bytes().to_vec();
        push_u16(&mut v, attr_len);
        v.extend_from_slice(&STUN_COOKIE.to_be_bytes());
        v.extend_from_slice(&self.txid);
        v
    }
    pub fn build(&self) -> Vec<u8> {
        let mut v = self.header(self.attrs.len());
        v.extend_from_slice(&self.attrs);
        v
    }
    /// Builds with a trailing FINGERPRINT (CRC-32 of everything before it, XOR 0x5354554e;
    /// the header length already includes the fingerprint attribute).
    pub fn build_with_fingerprint(&self) -> Vec<u8> {
        let mut v = self.header(self.attrs.len() + 8);
        v.extend_from_slice(&self.attrs);
        let fp = crc32(&v) ^ 0x5354_554e;
        v.extend_from_slice(&[0x80, 0x28, 0x00, 0x04]);
        v.extend_from_slice(&fp.to_be_bytes());
        v
    }
}

pub fn txid(rng: &mut Rng) -> [u8; 12] {
    let mut t = [0u8; 12];
    rng.fill(&mut t);
    t
}

/// MS-TURN Allocate request (MS-VERSION 6), optionally with credentials.
pub fn msturn_allocate_request(rng: &mut Rng, tx: [u8; 12], with_auth: bool) -> Vec<u8> {
    let mut s = Stun::new(STUN_ALLOCATE_REQUEST, tx)
        .ms_magic_cookie()
        .ms_version(6);
    if with_auth {
        let user = rng.bytes(48);
        s = s
            .attr(0x0006, &user) // USERNAME: opaque MRAS token
            .attr(0x0014, b"\"SIP Communications Service\"")
            .attr(0x0015, b"\"5a7c9f1d2e3b4a6c8d0e1f2a3b4c5d6e\"");
        s = s.attr(0x000d, &480u32.to_be_bytes()); // LIFETIME
        s.integrity(rng).build()
    } else {
        s.build()
    }
}

pub fn msturn_allocate_401(tx: [u8; 12]) -> Vec<u8> {
    Stun::new(STUN_ALLOCATE_ERROR, tx)
        .ms_magic_cookie()
        .error_code(401, "Unauthorized")
        .attr(0x0014, b"\"SIP Communications Service\"")
        .attr(0x0015, b"\"5a7c9f1d2e3b4a6c8d0e1f2a3b4c5d6e\"")
        .ms_version(6)
        .build()
}

pub fn msturn_allocate_success(
    rng: &mut Rng,
    tx: [u8; 12],
    mapped: SocketAddr,
    relayed: SocketAddr,
) -> Vec<u8> {
    Stun::new(STUN_ALLOCATE_SUCCESS, tx)
        .ms_magic_cookie()
        .xor_relayed(relayed)
        .xor_mapped(mapped)
        .attr(0x000d, &480u32.to_be_bytes())
        .ms_version(6)
        .integrity(rng)
        .build()
}

/// Appends a TURN ChannelData message (RFC 5766 §11.4): channel, length, data; `pad` rounds
/// it to 4 bytes, as TCP requires (over UDP the padding is optional).
pub fn push_channel_data(out: &mut Vec<u8>, channel: u16, data: &[u8], pad: bool) {
    out.extend_from_slice(&channel.to_be_bytes());
    push_u16(out, data.len());
    out.extend_from_slice(data);
    if pad {
        out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
    }
}

pub fn stun_binding_request(tx: [u8; 12]) -> Vec<u8> {
    Stun::new(STUN_BINDING_REQUEST, tx)
        .attr(0x8022, b"edgewise-client")
        .build_with_fingerprint()
}

pub fn stun_binding_success(tx: [u8; 12], mapped: SocketAddr) -> Vec<u8> {
    Stun::new(STUN_BINDING_SUCCESS, tx)
        .xor_mapped(mapped)
        .build_with_fingerprint()
}

// ---------------------------------------------------------------- RTP / RTCP

pub fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + payload.len());
    push_rtp_header(&mut v, pt, marker, seq, ts, ssrc);
    v.extend_from_slice(payload);
    v
}

pub fn push_rtp_header(v: &mut Vec<u8>, pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32) {
    v.push(0x80);
    v.push(pt | if marker { 0x80 } else { 0 });
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
}

/// RTCP Sender Report (PT 200, no report blocks, length 6) followed by an SDES CNAME
/// chunk, as a compound packet must start with SR/RR and carry a CNAME.
pub fn rtcp_sr(
    ssrc: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
    cname: &str,
) -> Vec<u8> {
    let mut v = vec![0x80, 200, 0, 6];
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(&ntp.to_be_bytes());
    v.extend_from_slice(&rtp_ts.to_be_bytes());
    v.extend_from_slice(&packets.to_be_bytes());
    v.extend_from_slice(&octets.to_be_bytes());
    // SDES: header, SSRC, CNAME item, END, padded to 32 bits.
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.push(1);
    chunk.push(cname.len() as u8);
    chunk.extend_from_slice(cname.as_bytes());
    chunk.push(0);
    while chunk.len() & 3 != 0 {
        chunk.push(0);
    }
    let words = (chunk.len() / 4) as u16;
    v.extend_from_slice(&[0x81, 202]);
    v.extend_from_slice(&words.to_be_bytes());
    v.extend_from_slice(&chunk);
    v
}

/// NTP timestamp (seconds since 1900 in the high word) for a Unix time in ns.
pub fn ntp_from_unix_ns(ns: i64) -> u64 {
    let secs = (ns / 1_000_000_000) as u64 + 2_208_988_800;
    let frac = (((ns % 1_000_000_000) as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

// ---------------------------------------------------------------- DNS

fn push_name(v: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
}

pub const DNS_A: u16 = 1;
pub const DNS_SRV: u16 = 33;

pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    push_name(&mut v, name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v
}

/// Answer record data for `dns_response`.
pub enum DnsAnswer<'a> {
    A(std::net::Ipv4Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: &'a str,
    },
}

/// Response echoing the question; each answer's owner name is a compression pointer
/// to the question name (offset 12).
pub fn dns_response(id: u16, name: &str, qtype: u16, answers: &[DnsAnswer<'_>]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x81, 0x80, 0, 1]);
    push_u16(&mut v, answers.len());
    v.extend_from_slice(&[0, 0, 0, 0]);
    push_name(&mut v, name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    for a in answers {
        v.extend_from_slice(&[0xc0, 0x0c]);
        let (t, rdata) = match a {
            DnsAnswer::A(ip) => (DNS_A, ip.octets().to_vec()),
            DnsAnswer::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                let mut r = priority.to_be_bytes().to_vec();
                r.extend_from_slice(&weight.to_be_bytes());
                r.extend_from_slice(&port.to_be_bytes());
                // RFC 2782: the SRV target is never compressed.
                push_name(&mut r, target);
                (DNS_SRV, r)
            }
        };
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&300u32.to_be_bytes());
        push_u16(&mut v, rdata.len());
        v.extend_from_slice(&rdata);
    }
    v
}

// ---------------------------------------------------------------- HTTP

pub fn http_get(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nCache-Control: no-cache\r\nConnection: Keep-Alive\r\nAccept: */*\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\nHost: {host}\r\n\r\n").into_bytes()
}

pub fn http_200(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nLast-Modified: Sun, 01 Nov 2026 00:00:00 GMT\r\nAccept-Ranges: bytes\r\nServer: Microsoft-IIS/10.0\r\nDate: Mon, 02 Nov 2026 09:00:30 GMT\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_tls_hello_is_50_bytes() {
        let h = pseudo_tls_client_hello(&[7; 32]);
        assert_eq!(h.len(), 50);
        assert_eq!(
            &h[..11],
            &[0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01]
        );
        assert_eq!(&h[43..], &[0, 0, 2, 0, 0x18, 1, 0]);
        let s = pseudo_tls_server_hello(&[9; 32]);
        assert_eq!(usize::from(u16::from_be_bytes([s[3], s[4]])), s.len() - 5);
    }

    #[test]
    fn client_hello_lengths_consistent() {
        let ch = client_hello("sip.contoso.com", &[1; 32], &[]);
        assert_eq!(
            usize::from(u16::from_be_bytes([ch[3], ch[4]])),
            ch.len() - 5
        );
        let hl = u32::from_be_bytes([0, ch[6], ch[7], ch[8]]) as usize;
        assert_eq!(hl, ch.len() - 9);
        assert!(ch.windows(15).any(|w| w == b"sip.contoso.com"));
    }

    #[test]
    fn stun_lengths_and_xor() {
        let m = msturn_allocate_success(
            &mut Rng::new(1),
            [3; 12],
            "203.0.113.7:50123".parse().expect("lit"),
            "131.107.155.30:51000".parse().expect("lit"),
        );
        assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len() - 20);
        assert_eq!(&m[4..8], &STUN_COOKIE.to_be_bytes());
        // First attribute is MS-TURN MAGIC-COOKIE.
        assert_eq!(&m[20..22], &[0x00, 0x0f]);
        let b = stun_binding_request([1; 12]);
        assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len() - 20);
        let fp = u32::from_be_bytes([
            b[b.len() - 4],
            b[b.len() - 3],
            b[b.len() - 2],
            b[b.len() - 1],
        ]);
        assert_eq!(fp, crc32(&b[..b.len() - 8]) ^ 0x5354_554e);
    }

    #[test]
    fn der_lengths() {
        let c = x509_certificate(
            &mut Rng::new(2),
            "sip.contoso.com",
            &["sip.contoso.com"],
            "CA",
        );
        assert_eq!(c[0], 0x30);
        assert_eq!(c[1], 0x82);
        assert_eq!(usize::from(u16::from_be_bytes([c[2], c[3]])), c.len() - 4);
    }

    #[test]
    fn extended_key_usage_reads_back() {
        let c = x509_certificate_with_eku(
            &mut Rng::new(2),
            "sip.contoso.com",
            &["sip.contoso.com"],
            "CA",
            &[EKU_SERVER_AUTH],
        );
        let info = crate::identify::tls::cert_info(&c);
        assert_eq!(info.san_dns, ["sip.contoso.com"]);
        let eku = info.eku.expect("an EKU extension");
        assert!(eku.server_auth && !eku.allows_client_auth());
        let both = x509_certificate_with_eku(
            &mut Rng::new(2),
            "sip.contoso.com",
            &[],
            "CA",
            &[EKU_SERVER_AUTH, EKU_CLIENT_AUTH],
        );
        let eku = crate::identify::tls::cert_info(&both).eku.expect("EKU");
        assert!(eku.allows_client_auth());
        assert_eq!(eku.words(), "Server Authentication, Client Authentication");
        // No extension: any purpose, nothing to read.
        let none = x509_certificate(&mut Rng::new(2), "sip.contoso.com", &[], "CA");
        assert_eq!(crate::identify::tls::cert_info(&none).eku, None);
    }
}
