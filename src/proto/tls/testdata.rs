#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
//! Test fixtures: real ClientHello records (TCP payloads, record header included)
//! taken with `tshark -T fields -e tcp.payload` from captures in FoxIO's ja4
//! repository (shared/corpus/public), and a builder for synthetic hellos.
//!
//! Expected values were computed by others: JA4 by FoxIO's own tools
//! (python/test/testdata/*.json in FoxIO-LLC/ja4), JA3 by tshark 4.0.17.

/// Edge 120 to edge.microsoft.com (ja4_browsers-x509.pcapng frame 4), with GREASE.
/// JA4 `t13d1516h2_8daaf6152771_e5627efa2ab1`, JA3 `34fcb8e0ef812f18e760b52314a54fd0`.
pub(crate) const EDGE_RECORD: &[&str] = &[
    "1603010200010001fc0303528b4e00213672e534980dfed836dd5b375ab164dcc65ba6a3c87e7e2a1f9d61201bf29c9d",
    "ffaa31ed2df524d3a113edb4e6fd3b7fb3d6d57d5d9aafb213e83c420020aaaa130113021303c02bc02fc02cc030cca9",
    "cca8c013c014009c009d002f0035010001936a6a0000000d001200100403080404010503080505010806060100000017",
    "0015000012656467652e6d6963726f736f66742e636f6d000a000a00084a4a001d00170018000500050100000000000b",
    "00020100002b0007069a9a03040303001b0003020002ff010001000033002b00294a4a000100001d0020c4ce4268d58f",
    "0c703855163f4754b883742487a5ce87a6016a30208c18e07f69446900050003026832002d0002010100230000001700",
    "00001200000010000e000c02683208687474702f312e310a0a000100001500c500000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000000",
];

/// Firefox to contile.services.mozilla.com (ja4_tls12.pcap frame 1).
/// JA4 `t13d1715h2_5b57614c22b0_3d5424432f57`, JA3 `579ccef312d18482fc42e2b822ca2430`.
pub(crate) const FIREFOX_RECORD: &[&str] = &[
    "1603010200010001fc0303ecb2691addb2bf6c599c7aaae23de5f42561cc04eb41029acc6fc050a16ac1d22046f8617b",
    "580ac9358e2aa44e306d52466bcc989c87c8ca64309f5faf50ba7b4d0022130113031302c02bc02fcca9cca8c02cc030",
    "c00ac009c013c014009c009d002f00350100019100000021001f00001c636f6e74696c652e73657276696365732e6d6f",
    "7a696c6c612e636f6d00170000ff01000100000a000e000c001d00170018001901000101000b00020100002300000010",
    "000e000c02683208687474702f312e310005000501000000000022000a000804030503060302030033006b0069001d00",
    "208909858fbeb6ed2f1248ba5b9e2978bead0e840110192c61daed0096798b184400170041044d183d91f5eed35791fa",
    "982464e3b0214aaa5f5d1b78616d9b9fbebc22d11f535b2f94c686143136aa795e6e5a875d6c08064ad5b76d44caad76",
    "6e2483012748002b00050403040303000d0018001604030503060308040805080604010501060102030201002d000201",
    "01001c000240010015007a00000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "00000000000000000000000000000000000000000000000000000000000000000000000000",
];

/// TLS 1.2-only client to discovery.cem.cloud.us (ja4_latest.pcapng frame 75).
/// JA4 `t12d190800_d83cc789557e_7af1ed941c26`, JA3 `a0e9f5d64349fb13191bc781f81f42e1`.
pub(crate) const TLS12_RECORD: &[&str] = &[
    "16030300b8010000b4030364960ddb84e92e8d5a9be477e2f7112257269dc742143793732813c25ec65af0000026c02c",
    "c02bc030c02fc024c023c028c027c00ac009c014c013009d009c003d003c0035002f000a010000650000001b00190000",
    "16646973636f766572792e63656d2e636c6f75642e7573000500050100000000000a00080006001d00170018000b0002",
    "0100000d001a00180804080508060401050102010403050302030202060106030023000000170000ff01000100",
];

/// Bytes of a hex fixture.
pub(crate) fn unhex(parts: &[&str]) -> Vec<u8> {
    let s: String = parts.concat();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A synthetic ClientHello message (handshake header included).
pub(crate) struct HelloBuilder {
    pub version: u16,
    pub session_id: Vec<u8>,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<(u16, Vec<u8>)>,
    /// Raw bytes appended to the extension block (after a correct block length).
    pub ext_tail: Vec<u8>,
}

impl Default for HelloBuilder {
    fn default() -> Self {
        HelloBuilder {
            version: 0x0303,
            session_id: vec![7; 32],
            ciphers: vec![0x1301, 0x1302, 0xc02b],
            extensions: Vec::new(),
            ext_tail: Vec::new(),
        }
    }
}

impl HelloBuilder {
    pub fn ext(mut self, kind: u16, data: Vec<u8>) -> Self {
        self.extensions.push((kind, data));
        self
    }

    pub fn body(&self) -> Vec<u8> {
        let mut b = self.version.to_be_bytes().to_vec();
        b.extend_from_slice(&[0x42; 32]);
        b.push(self.session_id.len() as u8);
        b.extend_from_slice(&self.session_id);
        b.extend_from_slice(&((self.ciphers.len() * 2) as u16).to_be_bytes());
        for c in &self.ciphers {
            b.extend_from_slice(&c.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]);
        let mut block = Vec::new();
        for (kind, data) in &self.extensions {
            block.extend_from_slice(&kind.to_be_bytes());
            block.extend_from_slice(&(data.len() as u16).to_be_bytes());
            block.extend_from_slice(data);
        }
        block.extend_from_slice(&self.ext_tail);
        b.extend_from_slice(&(block.len() as u16).to_be_bytes());
        b.extend_from_slice(&block);
        b
    }

    /// The handshake message: type 1, 24-bit length, body.
    pub fn message(&self) -> Vec<u8> {
        let body = self.body();
        let mut m = vec![1];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(&body);
        m
    }
}

/// Extension data helpers.
pub(crate) fn sni_ext(name: &[u8]) -> Vec<u8> {
    let mut entry = vec![0];
    entry.extend_from_slice(&(name.len() as u16).to_be_bytes());
    entry.extend_from_slice(name);
    let mut d = (entry.len() as u16).to_be_bytes().to_vec();
    d.extend_from_slice(&entry);
    d
}

pub(crate) fn u16_list_ext(values: &[u16]) -> Vec<u8> {
    let mut d = ((values.len() * 2) as u16).to_be_bytes().to_vec();
    for v in values {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d
}

pub(crate) fn alpn_ext(names: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for n in names {
        list.push(n.len() as u8);
        list.extend_from_slice(n);
    }
    let mut d = (list.len() as u16).to_be_bytes().to_vec();
    d.extend_from_slice(&list);
    d
}

pub(crate) fn versions_ext(values: &[u16]) -> Vec<u8> {
    let mut d = vec![(values.len() * 2) as u8];
    for v in values {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d
}

/// Wraps a handshake message into records of at most `max` payload bytes each.
pub(crate) fn records(msg: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in msg.chunks(max) {
        out.extend_from_slice(&[0x16, 3, 1]);
        out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}
