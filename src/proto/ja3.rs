//! JA3 (Salesforce, BSD-3-Clause; github.com/salesforce/ja3): the ClientHello as
//! `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, each
//! list in wire order, decimal, `-`-joined, GREASE values (RFC 8701) removed; and the
//! MD5 of that string in lower-case hex. `SSLVersion` is the ClientHello's
//! legacy_version (so TLS 1.3 clients show 771), as in the reference implementation
//! and Wireshark's `tls.handshake.ja3`.
//!
//! Digits are written by hand, not through `core::fmt` (once per ClientHello on the
//! worker, where `write!` cost more than the MD5).
//! Pure: facts in, strings out. Imports `proto::handshake` only.

use md5::{Digest, Md5};

use crate::proto::handshake::{HandshakeFacts, is_grease};

/// The JA3 string of a ClientHello.
pub fn ja3_string(facts: &HandshakeFacts) -> String {
    // Each value is at most 5 digits and a dash.
    let items = facts
        .cipher_suites
        .len()
        .saturating_add(facts.extensions.len())
        .saturating_add(facts.supported_groups.len())
        .saturating_add(facts.ec_point_formats.len());
    // Built as bytes (a digit run is appended in one go) and checked once at the end.
    let mut s = Vec::with_capacity(items.saturating_mul(6).saturating_add(16));
    push_decimal(&mut s, facts.legacy_version);
    s.push(b',');
    push_list(&mut s, facts.cipher_suites.iter().copied());
    s.push(b',');
    push_list(&mut s, facts.extensions.iter().copied());
    s.push(b',');
    push_list(&mut s, facts.supported_groups.iter().copied());
    s.push(b',');
    // Point formats are one byte: GREASE (two equal bytes) cannot occur.
    push_list(&mut s, facts.ec_point_formats.iter().map(|&p| u16::from(p)));
    // Only ASCII digits, commas and dashes were written.
    String::from_utf8(s).unwrap_or_default()
}

/// MD5 of `ja3`, 32 lower-case hex digits.
pub fn ja3_hash(ja3: &str) -> String {
    let digest = Md5::digest(ja3.as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b));
    }
    out
}

/// The hex digit of the low four bits of `n`.
fn hex_digit(n: u8) -> char {
    // `n & 0x0f` is always an index of the table.
    char::from(
        b"0123456789abcdef"
            .get(usize::from(n & 0x0f))
            .copied()
            .unwrap_or(b'0'),
    )
}

/// `v` in decimal, no leading zeros.
fn push_decimal(s: &mut Vec<u8>, v: u16) {
    let mut digits = [0u8; 5];
    let mut n = v;
    let mut start = digits.len();
    for d in digits.iter_mut().rev() {
        *d = b'0'.wrapping_add((n % 10) as u8);
        n /= 10;
        start = start.saturating_sub(1);
        if n == 0 {
            break;
        }
    }
    s.extend_from_slice(digits.get(start..).unwrap_or(&[]));
}

fn push_list(s: &mut Vec<u8>, values: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in values.filter(|v| !is_grease(*v)) {
        if !first {
            s.push(b'-');
        }
        first = false;
        push_decimal(s, v);
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

    // Expected strings and hashes: tshark 4.0.17 `tls.handshake.ja3_full` / `ja3`.
    #[test]
    fn edge_matches_tshark() {
        let s = ja3_string(&facts(EDGE_RECORD));
        assert_eq!(
            s,
            "771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,\
             13-0-10-5-11-43-27-65281-51-17513-45-35-23-18-16-21,29-23-24,0"
        );
        assert_eq!(ja3_hash(&s), "34fcb8e0ef812f18e760b52314a54fd0");
    }

    #[test]
    fn firefox_and_tls12_match_tshark() {
        assert_eq!(
            ja3_hash(&ja3_string(&facts(FIREFOX_RECORD))),
            "579ccef312d18482fc42e2b822ca2430"
        );
        assert_eq!(
            ja3_hash(&ja3_string(&facts(TLS12_RECORD))),
            "a0e9f5d64349fb13191bc781f81f42e1"
        );
    }

    #[test]
    fn empty_lists_keep_their_commas() {
        let f = HandshakeFacts {
            legacy_version: 0x0301,
            cipher_suites: vec![0x0a0a, 0x002f],
            ..HandshakeFacts::default()
        };
        assert_eq!(ja3_string(&f), "769,47,,,");
        // MD5 of the empty string, to pin the hex form.
        assert_eq!(ja3_hash(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn decimal_digits() {
        for v in [0u16, 7, 10, 99, 100, 771, 9999, 10000, 65535] {
            let mut s = Vec::new();
            push_decimal(&mut s, v);
            assert_eq!(s, v.to_string().into_bytes());
        }
    }
}
