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
//! SHA-256 comes from `ring::digest` (ring is already built for rustls).
//! Pure: facts in, a string out. Imports `proto::handshake` only.

use std::fmt::Write as _;

use crate::proto::handshake::{HandshakeFacts, ext, is_grease};

/// Which transport carried the ClientHello (first character of JA4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Quic,
    Dtls,
}

/// Two-digit counts are capped here by the specification.
const MAX_COUNT: usize = 99;

/// What an empty list hashes to.
const EMPTY_HASH: &str = "000000000000";

/// The JA4 fingerprint of a ClientHello.
pub fn ja4(facts: &HandshakeFacts, transport: Transport) -> String {
    let mut out = String::with_capacity(36);
    out.push(match transport {
        Transport::Tcp => 't',
        Transport::Quic => 'q',
        Transport::Dtls => 'd',
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
    let _ = write!(
        out,
        "{:02}{:02}",
        ciphers.len().min(MAX_COUNT),
        exts.len().min(MAX_COUNT)
    );
    push_alpn(&mut out, facts.alpn.first().map(Vec::as_slice));

    out.push('_');
    ciphers.sort_unstable();
    let mut text = String::with_capacity(ciphers.len().saturating_mul(5));
    push_hex_list(&mut text, &ciphers);
    push_hash12(&mut out, &text);

    out.push('_');
    exts.retain(|&e| e != ext::SERVER_NAME && e != ext::ALPN);
    exts.sort_unstable();
    text.clear();
    push_hex_list(&mut text, &exts);
    let sigs: Vec<u16> = facts
        .signature_algorithms
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    if exts.is_empty() {
        out.push_str(EMPTY_HASH);
    } else {
        if !sigs.is_empty() {
            text.push('_');
            push_hex_list(&mut text, &sigs);
        }
        push_hash12(&mut out, &text);
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
    let (Some(&a), Some(&z)) = (
        first.and_then(<[u8]>::first),
        first.and_then(<[u8]>::last),
    ) else {
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

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n & 0x0f), 16).unwrap_or('0')
}

fn push_hex_list(s: &mut String, values: &[u16]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
}

/// First 12 hex digits of SHA-256(`text`); `000000000000` for empty text.
fn push_hash12(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str(EMPTY_HASH);
        return;
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    for b in digest.as_ref().iter().take(6) {
        let _ = write!(out, "{b:02x}");
    }
}
