//! JA3 (Salesforce, BSD-3-Clause; github.com/salesforce/ja3): the ClientHello as
//! `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`, each
//! list in wire order, decimal, `-`-joined, GREASE values (RFC 8701) removed; and the
//! MD5 of that string in lower-case hex. `SSLVersion` is the ClientHello's
//! legacy_version (so TLS 1.3 clients show 771), as in the reference implementation
//! and Wireshark's `tls.handshake.ja3`.
//!
//! Pure: facts in, strings out. Imports `proto::handshake` only.

use std::fmt::Write as _;

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
    let mut s = String::with_capacity(items.saturating_mul(6).saturating_add(16));
    let _ = write!(s, "{},", facts.legacy_version);
    push_list(&mut s, facts.cipher_suites.iter().copied());
    s.push(',');
    push_list(&mut s, facts.extensions.iter().copied());
    s.push(',');
    push_list(&mut s, facts.supported_groups.iter().copied());
    s.push(',');
    // Point formats are one byte: GREASE (two equal bytes) cannot occur.
    push_list(&mut s, facts.ec_point_formats.iter().map(|&p| u16::from(p)));
    s
}

/// MD5 of `ja3`, 32 lower-case hex digits.
pub fn ja3_hash(ja3: &str) -> String {
    let digest = Md5::digest(ja3.as_bytes());
    let mut out = String::with_capacity(32);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn push_list(s: &mut String, values: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in values.filter(|v| !is_grease(*v)) {
        if !first {
            s.push('-');
        }
        first = false;
        let _ = write!(s, "{v}");
    }
}
