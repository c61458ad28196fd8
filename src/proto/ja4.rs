//! JA4, the TLS client fingerprint of FoxIO's JA4+ suite (BSD-3-Clause; only JA4 is
//! under that licence — JA4S, JA4H, JA4X and the others are under the FoxIO License
//! and are not implemented here). Specification: FoxIO-LLC/ja4,
//! `technical_details/JA4.md`.
//!
//! `t13d1516h2_8daaf6152771_e5627efa2ab1` is
//! - `t` TLS over TCP (`q` QUIC, `d` DTLS);
//! - `13` the highest non-GREASE `supported_versions` value, else legacy_version;
//! - `d` SNI extension present (`i` absent);
//! - `15` cipher suites and `16` extensions, GREASE removed, capped at 99;
//! - `h2` first and last character of the first ALPN value (`00` without one; when
//!   its first or last byte is not ASCII alphanumeric: first and last hex digit of
//!   the whole value);
//! - SHA-256 (first 12 hex digits) of the cipher suites as 4-digit hex, sorted,
//!   comma-joined;
//! - SHA-256 (first 12) of the extensions sorted without SNI (0x0000) and ALPN
//!   (0x0010), then `_` and the signature algorithms in wire order (no `_` when there
//!   are none). An empty list gives `000000000000`.
//!
//! GREASE is removed everywhere, signature algorithms included: the specification
//! says "ignore GREASE values anywhere", and FoxIO's implementations were aligned on
//! that in 2026 (FoxIO-LLC/ja4 issue 305) after Chrome started to put GREASE in
//! signature_algorithms.
//!
//! SHA-256 comes from `ring::digest` (ring is already built for rustls). The text is
//! written digit by digit, not through `core::fmt`: this runs for every ClientHello on
//! the worker, and `write!` cost more than the two hashes.
//! Pure: facts in, a string out. Imports `proto::handshake` only.

use crate::proto::handshake::{HandshakeFacts, ext, is_grease};

/// JA4's "protocol" (its first character): what carried the ClientHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Quic,
    Dtls,
}

/// Two-digit counts are capped here by the specification.
const MAX_COUNT: usize = 99;

/// What an empty list hashes to.
const EMPTY_HASH: &str = "000000000000";

/// The JA4 fingerprint of a ClientHello.
pub fn ja4(facts: &HandshakeFacts, transport: Protocol) -> String {
    ja4_with(facts, transport, &mut sha256_6)
}

/// The first 6 bytes of SHA-256(`text`), the part JA4 shows.
pub fn sha256_6(text: &[u8]) -> [u8; 6] {
    let digest = ring::digest::digest(&ring::digest::SHA256, text);
    let mut out = [0u8; 6];
    for (o, &b) in out.iter_mut().zip(digest.as_ref()) {
        *o = b;
    }
    out
}

/// [`ja4`] with the digest supplied by the caller: a worker that sees the same
/// cipher and extension lists again and again passes a memo of [`sha256_6`] (the two
/// digests are most of a fingerprint's cost). `digest` must return [`sha256_6`]'s
/// answer for every text.
pub fn ja4_with(
    facts: &HandshakeFacts,
    transport: Protocol,
    digest: &mut dyn FnMut(&[u8]) -> [u8; 6],
) -> String {
    let mut out = String::with_capacity(36);
    out.push(match transport {
        Protocol::Tcp => 't',
        Protocol::Quic => 'q',
        Protocol::Dtls => 'd',
    });
    out.push_str(version_code(facts));
    out.push(if facts.extensions.contains(&ext::SERVER_NAME) {
        'd'
    } else {
        'i'
    });
    let mut ciphers: Vec<u16> = facts
        .cipher_suites
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let mut exts: Vec<u16> = facts
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    push_count(&mut out, ciphers.len());
    push_count(&mut out, exts.len());
    push_alpn(&mut out, facts.alpn.first().map(Vec::as_slice));

    out.push('_');
    ciphers.sort_unstable();
    // One buffer for both hashed lists: 5 bytes per value (`xxxx,`).
    let sigs = &facts.signature_algorithms;
    let most = ciphers.len().max(exts.len().saturating_add(sigs.len()));
    let mut text = Vec::with_capacity(most.saturating_mul(5).saturating_add(1));
    push_hex_list(&mut text, ciphers.iter().copied());
    push_hash12(&mut out, &text, digest);

    out.push('_');
    exts.retain(|&e| e != ext::SERVER_NAME && e != ext::ALPN);
    if exts.is_empty() {
        out.push_str(EMPTY_HASH);
    } else {
        exts.sort_unstable();
        text.clear();
        push_hex_list(&mut text, exts.iter().copied());
        let mut sigs = sigs.iter().copied().filter(|v| !is_grease(*v)).peekable();
        if sigs.peek().is_some() {
            text.push(b'_');
            push_hex_list(&mut text, sigs);
        }
        push_hash12(&mut out, &text, digest);
    }
    out
}

/// Two characters for the version, from the specification's table.
fn version_code(facts: &HandshakeFacts) -> &'static str {
    match facts.highest_version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

fn push_alpn(out: &mut String, first: Option<&[u8]>) {
    let (Some(&a), Some(&z)) = (first.and_then(<[u8]>::first), first.and_then(<[u8]>::last)) else {
        out.push_str("00");
        return;
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        out.push(char::from(a));
        out.push(char::from(z));
    } else {
        // First hex digit of the first byte, last hex digit of the last byte.
        out.push(hex_digit(a >> 4));
        out.push(hex_digit(z & 0x0f));
    }
}

/// The hex digit of the low four bits of `n`.
fn hex_digit(n: u8) -> char {
    char::from(hex_byte(n))
}

fn hex_byte(n: u8) -> u8 {
    // `n & 0x0f` is always an index of the table.
    b"0123456789abcdef"
        .get(usize::from(n & 0x0f))
        .copied()
        .unwrap_or(b'0')
}

/// A count as two decimal digits, capped at [`MAX_COUNT`].
fn push_count(out: &mut String, n: usize) {
    // `min` keeps `n` under 100, so both digits are 0..=9.
    let n = n.min(MAX_COUNT) as u8;
    out.push(char::from(b'0'.wrapping_add(n / 10)));
    out.push(char::from(b'0'.wrapping_add(n % 10)));
}

/// `values` as 4-digit lower-case hex, comma-separated.
fn push_hex_list(text: &mut Vec<u8>, values: impl Iterator<Item = u16>) {
    for (i, v) in values.enumerate() {
        // `,xxxx` assembled on the stack and appended in one go (the comma skipped
        // for the first value), rather than five pushes.
        let [hi, lo] = v.to_be_bytes();
        let item = [
            b',',
            hex_byte(hi >> 4),
            hex_byte(hi),
            hex_byte(lo >> 4),
            hex_byte(lo),
        ];
        text.extend_from_slice(item.get(usize::from(i == 0)..).unwrap_or(&[]));
    }
}

/// First 12 hex digits of SHA-256(`text`); `000000000000` for empty text.
fn push_hash12(out: &mut String, text: &[u8], digest: &mut dyn FnMut(&[u8]) -> [u8; 6]) {
    if text.is_empty() {
        out.push_str(EMPTY_HASH);
        return;
    }
    for b in digest(text) {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::proto::handshake::parse_client_hello;
    use crate::proto::tls::testdata::*;

    fn facts(record: &[&str]) -> HandshakeFacts {
        parse_client_hello(&unhex(record)[5..]).unwrap()
    }

    /// The specification's worked example (JA4.md, "Example").
    fn spec_example() -> HandshakeFacts {
        HandshakeFacts {
            legacy_version: 0x0303,
            supported_versions: vec![0x0304, 0x0303],
            highest_version: 0x0304,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            alpn: vec![b"h2".to_vec()],
            sni: Some(b"example.com".to_vec()),
            ..HandshakeFacts::default()
        }
    }

    #[test]
    fn specification_example() {
        assert_eq!(
            ja4(&spec_example(), Protocol::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        // "If there are no signature algorithms ... = 6d807ffa2a79".
        let mut f = spec_example();
        f.signature_algorithms.clear();
        assert_eq!(
            ja4(&f, Protocol::Tcp),
            "t13d1516h2_8daaf6152771_6d807ffa2a79"
        );
    }

    // Expected values: FoxIO's python/test/testdata/{browsers-x509.pcapng,tls12.pcap,
    // latest.pcapng}.json and rust snapshots.
    #[test]
    fn real_hellos_match_foxio() {
        assert_eq!(
            ja4(&facts(EDGE_RECORD), Protocol::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        assert_eq!(
            ja4(&facts(FIREFOX_RECORD), Protocol::Tcp),
            "t13d1715h2_5b57614c22b0_3d5424432f57"
        );
        assert_eq!(
            ja4(&facts(TLS12_RECORD), Protocol::Tcp),
            "t12d190800_d83cc789557e_7af1ed941c26"
        );
    }

    #[test]
    fn grease_removed_everywhere() {
        let mut f = spec_example();
        f.cipher_suites.insert(0, 0x2a2a);
        f.extensions.insert(3, 0x3a3a);
        f.signature_algorithms.insert(0, 0xfafa);
        f.supported_versions.insert(0, 0x5a5a);
        assert_eq!(
            ja4(&f, Protocol::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn transport_sni_and_version() {
        let mut f = spec_example();
        assert!(ja4(&f, Protocol::Quic).starts_with("q13d"));
        assert!(ja4(&f, Protocol::Dtls).starts_with("d13d"));
        f.extensions.retain(|&e| e != 0);
        assert!(ja4(&f, Protocol::Tcp).starts_with("t13i1515h2_"));
        for (v, code) in [
            (0x0303, "12"),
            (0x0302, "11"),
            (0x0301, "10"),
            (0x0300, "s3"),
            (0x0002, "s2"),
            (0xfeff, "d1"),
            (0xfefd, "d2"),
            (0xfefc, "d3"),
            (0x7f17, "00"),
        ] {
            f.highest_version = v;
            assert_eq!(&ja4(&f, Protocol::Tcp)[1..3], code);
        }
    }

    #[test]
    fn alpn_characters() {
        let code = |alpn: Vec<Vec<u8>>| {
            let f = HandshakeFacts {
                alpn,
                ..spec_example()
            };
            ja4(&f, Protocol::Tcp)[8..10].to_string()
        };
        assert_eq!(code(vec![]), "00");
        assert_eq!(code(vec![vec![]]), "00");
        assert_eq!(code(vec![b"http/1.1".to_vec(), b"h2".to_vec()]), "h1");
        assert_eq!(code(vec![b"h".to_vec()]), "hh");
        // The specification's examples for non-alphanumeric bytes.
        assert_eq!(code(vec![vec![0xab]]), "ab");
        assert_eq!(code(vec![vec![0xab, 0xcd]]), "ad");
        assert_eq!(code(vec![vec![0x30, 0xab]]), "3b");
        assert_eq!(code(vec![vec![0x30, 0x31, 0xab, 0xcd]]), "3d");
        assert_eq!(code(vec![vec![0x30, 0xab, 0xcd, 0x31]]), "01");
    }

    #[test]
    fn empty_lists_and_caps() {
        let f = HandshakeFacts {
            highest_version: 0x0303,
            ..HandshakeFacts::default()
        };
        assert_eq!(
            ja4(&f, Protocol::Tcp),
            "t12i000000_000000000000_000000000000"
        );
        // Only SNI and ALPN: the sorted list is empty.
        let f = HandshakeFacts {
            extensions: vec![0, 0x10],
            signature_algorithms: vec![0x0403],
            ..f
        };
        assert!(ja4(&f, Protocol::Tcp).ends_with("_000000000000"));
        let f = HandshakeFacts {
            cipher_suites: (1..=150).collect(),
            extensions: (0x100..0x200).collect(),
            ..HandshakeFacts::default()
        };
        assert_eq!(&ja4(&f, Protocol::Tcp)[4..8], "9999");
    }
}
