//! Handshake facts: what a TLS ClientHello says, in one struct that TLS over TCP
//! (`proto::tls`) and QUIC (`proto::quic`, from CRYPTO frames) both fill, and from
//! which JA3 (`proto::ja3`) and JA4 (`proto::ja4`) are computed once.
//!
//! The fixed part of the ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) is read by
//! `tls-parser`; the extension block is walked here, because `tls-parser` silently
//! stops at the first malformed extension. Our walk checks that every extension and
//! every list inside one ends exactly where its length says, and sets
//! [`HandshakeFacts::partial`] when it does not, when the message was cut at
//! [`MAX_CLIENT_HELLO`], or when bytes are left over: the facts are then what could be
//! read, never a silent guess.
//!
//! What it does not do: records and TCP segments (that is `proto::tls::state`), QUIC
//! CRYPTO frames (that is `proto::quic`). Pure: bytes in, facts out.
//! Where it sits: below `proto::tls`, `proto::quic`, `proto::ja3`, `proto::ja4`;
//! imports nothing from c2tap.

use thiserror::Error;
use tls_parser::{Err as NomErr, parse_tls_handshake_client_hello};

/// Longest ClientHello body c2tap reads, in bytes. Browsers send 0.5–2 KB (post-quantum
/// key shares bring Chrome to ~1.8 KB); nDPI's corpus has an 11 KB one. 16 KiB is the
/// largest TLS record plaintext (RFC 8446 §5.1) and bounds every list below: each
/// element takes at least one byte of the message, so no list can grow beyond it.
/// Past it, the facts come from the first 16 KiB and are marked partial.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// Length of a handshake message header: type (1) and length (3), RFC 8446 §4.
pub const HANDSHAKE_HEADER_LEN: usize = 4;

/// Handshake type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;

/// Extension code points c2tap reads (IANA "TLS ExtensionType Values").
pub mod ext {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// Why a ClientHello could not be read at all (a damaged extension is not an error:
/// it gives partial facts).
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum TlsError {
    #[error("handshake message is not a ClientHello")]
    NotClientHello,
    #[error("ClientHello ends before its fixed fields")]
    Truncated,
    #[error("ClientHello fixed fields are malformed")]
    Malformed,
}

/// What a ClientHello offers, in wire order. Lists keep GREASE values (RFC 8701) so
/// that each fingerprint can drop them by its own rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandshakeFacts {
    /// `legacy_version` of the ClientHello (not of the record).
    pub legacy_version: u16,
    /// The `supported_versions` extension (0x002b), GREASE included; empty when absent.
    pub supported_versions: Vec<u16>,
    /// Highest non-GREASE value of `supported_versions`, else `legacy_version`.
    pub highest_version: u16,
    pub cipher_suites: Vec<u16>,
    /// Extension types in the client's order, GREASE included.
    pub extensions: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    /// ALPN protocol names (raw bytes), in the client's order.
    pub alpn: Vec<Vec<u8>>,
    /// First `host_name` of the server_name extension, raw bytes.
    pub sni: Option<Vec<u8>>,
    /// The encrypted_client_hello extension (0xfe0d) is present: `sni` is then the
    /// outer (public) name.
    pub ech: bool,
    /// The walk did not end exactly at the end of the message, an extension was
    /// malformed, or the message was cut at [`MAX_CLIENT_HELLO`].
    pub partial: bool,
}

/// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Reads one handshake message starting at its 4-byte header (type 1, 24-bit length).
///
/// `msg` may be shorter than the header says (a capped or cut message: the facts are
/// from what is there, marked partial) or longer (bytes after the message are not
/// looked at). At most [`MAX_CLIENT_HELLO`] bytes of body are read.
pub fn parse_client_hello(msg: &[u8]) -> Result<HandshakeFacts, TlsError> {
    let (&kind, rest) = msg.split_first().ok_or(TlsError::Truncated)?;
    if kind != CLIENT_HELLO {
        return Err(TlsError::NotClientHello);
    }
    let len_bytes = rest.get(..3).ok_or(TlsError::Truncated)?;
    let declared = len_bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let available = rest.get(3..).unwrap_or(&[]);
    let take = declared.min(available.len()).min(MAX_CLIENT_HELLO);
    let body = available.get(..take).unwrap_or(&[]);
    let mut facts = parse_body(body)?;
    if take < declared {
        facts.partial = true;
    }
    Ok(facts)
}

/// Reads a ClientHello body (after the handshake header).
fn parse_body(body: &[u8]) -> Result<HandshakeFacts, TlsError> {
    let (rest, ch) = match parse_tls_handshake_client_hello(body) {
        Ok(ok) => ok,
        Err(NomErr::Incomplete(_)) => return Err(TlsError::Truncated),
        // tls-parser reports a list that runs past the end as an error, not as
        // Incomplete; when the body is short that is a cut, not a malformation.
        Err(_) if body.len() < MIN_BODY_WITH_LISTS => return Err(TlsError::Truncated),
        Err(_) => return Err(TlsError::Malformed),
    };
    let mut facts = HandshakeFacts {
        legacy_version: ch.version.0,
        cipher_suites: ch.ciphers.iter().map(|c| c.0).collect(),
        ..HandshakeFacts::default()
    };
    match ch.ext {
        // Extensions present and complete: anything after them is left over.
        Some(block) => {
            walk_extensions(block, &mut facts);
            if !rest.is_empty() {
                facts.partial = true;
            }
        }
        // No extension block (legal before TLS 1.3), or one whose length runs past the
        // end, which tls-parser reports as absent: read what is there.
        None => {
            if let Some(declared) = read_u16(rest) {
                let block = rest.get(2..).unwrap_or(&[]);
                let take = usize::from(declared).min(block.len());
                walk_extensions(block.get(..take).unwrap_or(&[]), &mut facts);
                facts.partial = true;
            } else if !rest.is_empty() {
                facts.partial = true;
            }
        }
    }
    facts.highest_version = facts
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(facts.legacy_version);
    Ok(facts)
}

/// version (2) + random (32) + session id length (1) + cipher list length (2) +
/// compression list length (1): a body shorter than this is cut, not malformed.
const MIN_BODY_WITH_LISTS: usize = 38;

fn read_u16(b: &[u8]) -> Option<u16> {
    match b {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// Walks the extension block: type (2), length (2), data. Stops at the first
/// extension whose length runs past the block and marks the facts partial.
fn walk_extensions(mut block: &[u8], facts: &mut HandshakeFacts) {
    // At most one extension per 4 bytes (the block is capped with the hello): one
    // allocation instead of regrowing per extension.
    facts.extensions.reserve(block.len() / 4);
    while !block.is_empty() {
        let (Some(kind), Some(len)) = (read_u16(block), block.get(2..).and_then(read_u16)) else {
            facts.partial = true;
            return;
        };
        // The type was on the wire even when its data is cut: fingerprints count it.
        facts.extensions.push(kind);
        let end = 4usize.saturating_add(usize::from(len));
        let Some(data) = block.get(4..end) else {
            facts.partial = true;
            return;
        };
        if !read_extension(kind, data, facts) {
            facts.partial = true;
        }
        block = block.get(end..).unwrap_or(&[]);
    }
}

/// Reads one extension's data; false when it is malformed (the values read before the
/// fault are kept). A repeated extension (a protocol violation) is read once.
fn read_extension(kind: u16, data: &[u8], facts: &mut HandshakeFacts) -> bool {
    match kind {
        ext::SERVER_NAME if facts.sni.is_none() => read_server_name(data, facts),
        ext::SUPPORTED_GROUPS if facts.supported_groups.is_empty() => {
            read_u16_list(vec16(data), &mut facts.supported_groups)
        }
        ext::EC_POINT_FORMATS if facts.ec_point_formats.is_empty() => match vec8(data) {
            Some(list) => {
                facts.ec_point_formats.extend_from_slice(list);
                true
            }
            None => false,
        },
        ext::SIGNATURE_ALGORITHMS if facts.signature_algorithms.is_empty() => {
            read_u16_list(vec16(data), &mut facts.signature_algorithms)
        }
        ext::ALPN if facts.alpn.is_empty() => read_alpn(data, facts),
        ext::SUPPORTED_VERSIONS if facts.supported_versions.is_empty() => {
            read_u16_list(vec8(data), &mut facts.supported_versions)
        }
        ext::ENCRYPTED_CLIENT_HELLO => {
            facts.ech = true;
            true
        }
        _ => true,
    }
}

/// The single vector that must fill `data` exactly, with a 1-byte length.
fn vec8(data: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = data.split_first()?;
    (rest.len() == usize::from(len)).then_some(rest)
}

/// The single vector that must fill `data` exactly, with a 2-byte length.
fn vec16(data: &[u8]) -> Option<&[u8]> {
    let len = read_u16(data)?;
    let rest = data.get(2..)?;
    (rest.len() == usize::from(len)).then_some(rest)
}

fn read_u16_list(list: Option<&[u8]>, out: &mut Vec<u16>) -> bool {
    let Some(list) = list else { return false };
    let mut pairs = list.chunks_exact(2);
    // `filter_map` hides the length from `extend`: size the list once.
    out.reserve(pairs.len());
    out.extend(pairs.by_ref().filter_map(read_u16));
    pairs.remainder().is_empty()
}

/// RFC 6066 §3: a list of (name_type, opaque name<1..2^16-1>); the first host_name (0).
fn read_server_name(data: &[u8], facts: &mut HandshakeFacts) -> bool {
    let Some(mut list) = vec16(data) else {
        return false;
    };
    while let Some((&name_type, rest)) = list.split_first() {
        let Some(len) = read_u16(rest) else {
            return false;
        };
        let end = 2usize.saturating_add(usize::from(len));
        let Some(name) = rest.get(2..end) else {
            return false;
        };
        if name_type == 0 && facts.sni.is_none() {
            facts.sni = Some(name.to_vec());
        }
        list = rest.get(end..).unwrap_or(&[]);
    }
    true
}

/// RFC 7301 §3.1: ProtocolName protocol_name_list<2..2^16-1>, each <1..2^8-1>.
fn read_alpn(data: &[u8], facts: &mut HandshakeFacts) -> bool {
    let Some(mut list) = vec16(data) else {
        return false;
    };
    while let Some((&len, rest)) = list.split_first() {
        let Some(name) = rest.get(..usize::from(len)) else {
            return false;
        };
        facts.alpn.push(name.to_vec());
        list = rest.get(usize::from(len)..).unwrap_or(&[]);
    }
    true
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use crate::proto::tls::testdata::*;

    fn edge_msg() -> Vec<u8> {
        unhex(EDGE_RECORD)[5..].to_vec()
    }

    #[test]
    fn grease_values() {
        let all: Vec<u16> = (0..=0xffffu16).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all[0], 0x0a0a);
        assert_eq!(all[15], 0xfafa);
        assert!(
            all.iter()
                .all(|v| v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff)
        );
        assert!(!is_grease(0x0a1a) && !is_grease(0x0000) && !is_grease(0x1301));
    }

    #[test]
    fn real_edge_hello() {
        let f = parse_client_hello(&edge_msg()).unwrap();
        assert_eq!(f.legacy_version, 0x0303);
        assert_eq!(f.supported_versions, vec![0x9a9a, 0x0304, 0x0303]);
        assert_eq!(f.highest_version, 0x0304);
        assert_eq!(f.cipher_suites.len(), 16);
        assert_eq!(f.cipher_suites[0], 0xaaaa);
        assert_eq!(f.cipher_suites[1], 0x1301);
        assert_eq!(
            f.extensions,
            vec![
                0x6a6a, 13, 0, 10, 5, 11, 43, 27, 65281, 51, 17513, 45, 35, 23, 18, 16, 0x0a0a, 21
            ]
        );
        assert_eq!(f.supported_groups, vec![0x4a4a, 0x001d, 0x0017, 0x0018]);
        assert_eq!(f.ec_point_formats, vec![0]);
        assert_eq!(
            f.signature_algorithms,
            vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601
            ]
        );
        assert_eq!(f.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(f.sni.as_deref(), Some(&b"edge.microsoft.com"[..]));
        assert!(!f.ech);
        assert!(!f.partial);
    }

    #[test]
    fn bytes_after_the_message_are_ignored() {
        let mut m = edge_msg();
        m.extend_from_slice(&[0x14, 3, 3, 0, 1, 1]);
        let f = parse_client_hello(&m).unwrap();
        assert!(!f.partial);
    }

    #[test]
    fn cut_message_gives_partial_facts() {
        let m = edge_msg();
        // Cut inside the ALPN extension: everything before it is still read.
        let cut = m.windows(8).position(|w| w == b"http/1.1").unwrap();
        let f = parse_client_hello(&m[..cut]).unwrap();
        assert!(f.partial);
        assert_eq!(f.sni.as_deref(), Some(&b"edge.microsoft.com"[..]));
        assert_eq!(*f.extensions.last().unwrap(), ext::ALPN);
        assert!(f.alpn.is_empty());
        assert_eq!(f.highest_version, 0x0304);
    }

    #[test]
    fn malformed_extension_marks_partial_and_walk_goes_on() {
        // SNI list length says 40 but the data has 14 bytes.
        let mut bad_sni = sni_ext(b"example.com");
        bad_sni[1] = 40;
        let m = HelloBuilder::default()
            .ext(0, bad_sni)
            .ext(0x0010, alpn_ext(&[b"h2"]))
            .message();
        let f = parse_client_hello(&m).unwrap();
        assert!(f.partial);
        assert_eq!(f.sni, None);
        assert_eq!(f.extensions, vec![0, 0x0010]);
        assert_eq!(f.alpn, vec![b"h2".to_vec()]);
    }

    #[test]
    fn odd_list_and_bad_vectors_are_partial() {
        for (kind, data) in [
            (0x000a, vec![0, 3, 0, 0x1d, 0]),    // odd u16 list
            (0x000b, vec![2, 0]),                // point formats shorter than said
            (0x002b, vec![4, 3, 4]),             // versions shorter than said
            (0x000d, vec![0]),                   // no room for the length
            (0x0010, vec![0, 3, 5, b'h', b'2']), // ALPN name longer than the list
        ] {
            let m = HelloBuilder::default().ext(kind, data).message();
            let f = parse_client_hello(&m).unwrap();
            assert!(f.partial, "extension {kind:#06x}");
            assert_eq!(f.extensions, vec![kind]);
        }
    }

    #[test]
    fn extension_running_past_the_block_is_partial() {
        // A well-formed SNI, then a header claiming 100 bytes with 2 present.
        let m = HelloBuilder {
            ext_tail: vec![0x00, 0x15, 0, 100, 0, 0],
            ..HelloBuilder::default()
        }
        .ext(0, sni_ext(b"a.example"))
        .message();
        let f = parse_client_hello(&m).unwrap();
        assert!(f.partial);
        assert_eq!(f.extensions, vec![0, 0x15]);
        assert_eq!(f.sni.as_deref(), Some(&b"a.example"[..]));
        // Three stray bytes: not even an extension header.
        let m = HelloBuilder {
            ext_tail: vec![0, 0x15, 0],
            ..HelloBuilder::default()
        }
        .message();
        assert!(parse_client_hello(&m).unwrap().partial);
    }

    #[test]
    fn block_length_past_the_message_is_partial() {
        let mut m = HelloBuilder::default().ext(0, sni_ext(b"x.test")).message();
        // The extension block length is the last 2 bytes before its data.
        let block_at = m.len() - sni_ext(b"x.test").len() - 4 - 2;
        m[block_at + 1] += 10;
        let f = parse_client_hello(&m).unwrap();
        assert!(f.partial);
        assert_eq!(f.sni.as_deref(), Some(&b"x.test"[..]));
    }

    #[test]
    fn leftover_after_block_is_partial() {
        let mut m = HelloBuilder::default().ext(0, sni_ext(b"x.test")).message();
        m.extend_from_slice(&[9, 9]);
        // Grow the declared message length to cover the stray bytes.
        m[3] += 2;
        assert!(parse_client_hello(&m).unwrap().partial);
    }

    #[test]
    fn no_extensions_is_complete() {
        let mut m = HelloBuilder::default().message();
        // Drop the (empty) extension block entirely: SSL 3.0 style.
        m.truncate(m.len() - 2);
        m[3] -= 2;
        let f = parse_client_hello(&m).unwrap();
        assert!(!f.partial);
        assert!(f.extensions.is_empty());
        assert_eq!(f.highest_version, 0x0303);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_client_hello(&[]), Err(TlsError::Truncated));
        assert_eq!(parse_client_hello(&[1, 0]), Err(TlsError::Truncated));
        assert_eq!(
            parse_client_hello(&[2, 0, 0, 0]),
            Err(TlsError::NotClientHello)
        );
        assert_eq!(parse_client_hello(&[1, 0, 0, 0]), Err(TlsError::Truncated));
        let m = HelloBuilder::default().message();
        assert_eq!(parse_client_hello(&m[..20]), Err(TlsError::Truncated));
        let m = HelloBuilder {
            session_id: vec![0; 33],
            ..HelloBuilder::default()
        }
        .message();
        assert_eq!(parse_client_hello(&m), Err(TlsError::Malformed));
    }

    #[test]
    fn over_the_cap_reads_the_first_16k() {
        let m = HelloBuilder::default()
            .ext(0, sni_ext(b"big.example"))
            .ext(0x0015, vec![0; 20_000])
            .ext(0x0010, alpn_ext(&[b"h2"]))
            .message();
        assert!(m.len() > MAX_CLIENT_HELLO + 4);
        let f = parse_client_hello(&m).unwrap();
        assert!(f.partial);
        assert_eq!(f.sni.as_deref(), Some(&b"big.example"[..]));
        // The padding was cut: ALPN after it was never seen.
        assert_eq!(f.extensions, vec![0, 0x0015]);
    }

    #[test]
    fn repeated_extension_read_once_and_ech() {
        let m = HelloBuilder::default()
            .ext(0, sni_ext(b"first.example"))
            .ext(0, sni_ext(b"second.example"))
            .ext(0xfe0d, vec![0; 8])
            .ext(0x002b, versions_ext(&[0x7f17, 0x0303]))
            .message();
        let f = parse_client_hello(&m).unwrap();
        assert_eq!(f.sni.as_deref(), Some(&b"first.example"[..]));
        assert_eq!(f.extensions, vec![0, 0, 0xfe0d, 0x002b]);
        assert!(f.ech);
        assert_eq!(f.highest_version, 0x7f17);
        assert!(!f.partial);
    }

    #[test]
    fn grease_is_kept_in_facts_and_skipped_for_the_version() {
        let m = HelloBuilder {
            ciphers: vec![0x3a3a, 0x1301],
            ..HelloBuilder::default()
        }
        .ext(0x0a0a, vec![])
        .ext(0x000a, u16_list_ext(&[0x2a2a, 0x001d]))
        .ext(0x000d, u16_list_ext(&[0xbaba, 0x0403]))
        .ext(0x002b, versions_ext(&[0xfafa, 0x0304]))
        .message();
        let f = parse_client_hello(&m).unwrap();
        assert_eq!(f.cipher_suites, vec![0x3a3a, 0x1301]);
        assert_eq!(f.extensions, vec![0x0a0a, 0x000a, 0x000d, 0x002b]);
        assert_eq!(f.supported_groups, vec![0x2a2a, 0x001d]);
        assert_eq!(f.signature_algorithms, vec![0xbaba, 0x0403]);
        assert_eq!(f.highest_version, 0x0304);
        // Only GREASE in supported_versions: fall back to legacy_version.
        let m = HelloBuilder::default()
            .ext(0x002b, versions_ext(&[0xfafa]))
            .message();
        assert_eq!(parse_client_hello(&m).unwrap().highest_version, 0x0303);
    }

    #[test]
    fn sni_skips_other_name_types() {
        let mut entry = vec![1, 0, 1, b'z'];
        entry.extend_from_slice(&[0, 0, 3]);
        entry.extend_from_slice(b"a.b");
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&entry);
        let f = parse_client_hello(&HelloBuilder::default().ext(0, data).message()).unwrap();
        assert_eq!(f.sni.as_deref(), Some(&b"a.b"[..]));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse_client_hello(&bytes);
            let mut m = vec![1, 0, (bytes.len() >> 8) as u8, bytes.len() as u8];
            m.extend_from_slice(&bytes);
            let _ = parse_client_hello(&m);
        }

        #[test]
        fn mutated_real_hello_never_panics(
            edits in proptest::collection::vec((0usize..600, proptest::prelude::any::<u8>()), 1..8),
            cut in 0usize..600,
        ) {
            let mut m = edge_msg();
            for (at, b) in edits {
                let n = m.len();
                m[at % n] = b;
            }
            m.truncate(cut.max(1));
            if let Ok(f) = parse_client_hello(&m) {
                // Facts can never hold more than the message.
                proptest::prop_assert!(f.extensions.len() * 4 <= m.len());
                let _ = crate::proto::ja3::ja3_string(&f);
                let _ = crate::proto::ja4::ja4(&f, crate::proto::ja4::Protocol::Tcp);
            }
        }
    }
}
