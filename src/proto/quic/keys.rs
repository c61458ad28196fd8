//! Client Initial keys and packet unprotection (RFC 9001 §5.2 initial secrets, §5.3
//! AEAD, §5.4 header protection; RFC 9369 §3.3 for v2's salt and labels). No
//! cryptography is written here: ring does HKDF, AES-128-GCM and AES header
//! protection; this file only writes the labels and masks the RFC spells out. Only the
//! client's half of the key schedule is derived (rustls' `Keys::initial` derives both
//! directions, twice the cost for a sensor that never reads the server's Initials).
//!
//! [`seal_client_initial`] builds a protected client Initial with the `.local` keys of a
//! rustls `Side::Client` key set, as a client would: for tests, benches and fuzz seeds;
//! that opening it works checks these keys against rustls' schedule.

use std::ops::Range;

use rustls::Side;
use rustls::quic::{Keys, Suite, Version};

use super::QuicError;
use super::parse::{KeyVersion, LongHeader, VERSION_1, VERSION_2};

/// Bytes of packet number the header-protection sample is taken after (RFC 9001 §5.4.2:
/// the sample starts 4 bytes after the start of the Packet Number field).
const PN_MAX_LEN: usize = 4;

/// The Initial cipher suite: TLS_AES_128_GCM_SHA256 (RFC 9001 §5.2, RFC 9369 §3.3).
fn initial_suite() -> Option<Suite> {
    rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()?
        .quic_suite()
}

fn rustls_version(v: KeyVersion) -> Version {
    match v {
        KeyVersion::Draft => Version::V1Draft,
        KeyVersion::V1 => Version::V1,
        KeyVersion::V2 => Version::V2,
    }
}

/// Both directions' Initial keys for `dcid`, seen from `side`.
fn keys(version: KeyVersion, dcid: &[u8], side: Side) -> Result<Keys, QuicError> {
    let suite = initial_suite().ok_or(QuicError::NoSuite)?;
    Ok(suite.keys(dcid, side, rustls_version(version)))
}

/// Initial salts (RFC 9001 §5.2; draft-ietf-quic-tls-29 §5.2 for drafts 29–32;
/// RFC 9369 §3.3.1 for v2), the same as rustls'.
fn initial_salt(v: KeyVersion) -> &'static [u8; 20] {
    match v {
        KeyVersion::Draft => &[
            0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
            0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
        ],
        KeyVersion::V1 => &[
            0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
        ],
        KeyVersion::V2 => &[
            0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
            0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
        ],
    }
}

/// The HKDF-Extract salts as HMAC keys, one per version. A salt's key schedule (two
/// SHA-256 blocks) was an eighth of a derivation, and the salts are constants: they are
/// keyed once per process, on first use (read-only afterwards, shared by workers).
struct Salts {
    draft: ring::hkdf::Salt,
    v1: ring::hkdf::Salt,
    v2: ring::hkdf::Salt,
}

impl Salts {
    fn get(&self, v: KeyVersion) -> &ring::hkdf::Salt {
        match v {
            KeyVersion::Draft => &self.draft,
            KeyVersion::V1 => &self.v1,
            KeyVersion::V2 => &self.v2,
        }
    }
}

static SALTS: std::sync::LazyLock<Salts> = std::sync::LazyLock::new(|| {
    let salt = |v| ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, initial_salt(v));
    Salts {
        draft: salt(KeyVersion::Draft),
        v1: salt(KeyVersion::V1),
        v2: salt(KeyVersion::V2),
    }
});

/// Labels of the packet key, IV and header-protection key (RFC 9001 §5.1; RFC 9369
/// §3.3.2 renames them for v2).
fn labels(v: KeyVersion) -> [&'static [u8]; 3] {
    match v {
        KeyVersion::Draft | KeyVersion::V1 => [b"quic key", b"quic iv", b"quic hp"],
        KeyVersion::V2 => [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"],
    }
}

/// Bytes of an AEAD nonce (and of the QUIC IV): 96 bits for AES-GCM.
const IV_LEN: usize = 12;

/// An output length for ring's HKDF-Expand.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, into `out`.
fn expand_label(prk: &ring::hkdf::Prk, label: &[u8], out: &mut [u8]) -> Result<(), QuicError> {
    const PREFIX: &[u8] = b"tls13 ";
    let len = u16::try_from(out.len()).map_err(|_| QuicError::NoSuite)?;
    let label_len =
        u8::try_from(PREFIX.len().saturating_add(label.len())).map_err(|_| QuicError::NoSuite)?;
    let len = len.to_be_bytes();
    let info: [&[u8]; 5] = [&len, &[label_len], PREFIX, label, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| QuicError::NoSuite)
}

/// The keys that protect a client's Initial packets, derived from the Destination
/// Connection ID of the client's first Initial (or of its first Initial after a Retry).
pub struct ClientInitialKeys {
    packet: ring::aead::LessSafeKey,
    iv: [u8; IV_LEN],
    header: ring::aead::quic::HeaderProtectionKey,
}

impl ClientInitialKeys {
    /// Derives the client's Initial keys for `dcid` (RFC 9001 §5.2): only the client
    /// half. rustls' `Keys::initial` derives both directions, and the server's half
    /// (two HKDF expansions and two AES key schedules) was 40% of the cost of a QUIC
    /// flow's first packet. The tests check these keys against rustls' on every version.
    pub fn derive(version: KeyVersion, dcid: &[u8]) -> Result<Self, QuicError> {
        let initial = SALTS.get(version).extract(dcid);
        let mut secret = [0u8; 32];
        expand_label(&initial, b"client in", &mut secret)?;
        let client = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &secret);
        let [key_label, iv_label, hp_label] = labels(version);
        let mut key = [0u8; 16];
        expand_label(&client, key_label, &mut key)?;
        let mut iv = [0u8; IV_LEN];
        expand_label(&client, iv_label, &mut iv)?;
        let mut hp = [0u8; 16];
        expand_label(&client, hp_label, &mut hp)?;
        let packet = ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key)
            .map_err(|_| QuicError::NoSuite)?;
        let header = ring::aead::quic::HeaderProtectionKey::new(&ring::aead::quic::AES_128, &hp)
            .map_err(|_| QuicError::NoSuite)?;
        Ok(ClientInitialKeys {
            packet: ring::aead::LessSafeKey::new(packet),
            iv,
            header,
        })
    }

    /// Removes header protection (RFC 9001 §5.4.1) and decrypts the packet `hdr`
    /// describes, in place in `packet` (a copy of exactly `hdr.packet_len` bytes).
    /// Returns the packet number and where the plaintext is in `packet`. `Err(Auth)`
    /// when the AEAD tag does not verify: wrong keys or damaged bytes.
    ///
    /// The packet number is taken as its truncated value (RFC 9000 §A.3 with no
    /// packet acknowledged yet): client Initial packet numbers start at 0 and stay
    /// small, and a wrong guess only fails authentication.
    pub fn open(
        &self,
        hdr: &LongHeader<'_>,
        packet: &mut [u8],
    ) -> Result<(u64, Range<usize>), QuicError> {
        let pn_offset = hdr.pn_offset;
        let sample_at = pn_offset.checked_add(PN_MAX_LEN).ok_or(QuicError::Length)?;
        let sample_len = self.header.algorithm().sample_len();
        let (head, tail) = packet
            .split_at_mut_checked(sample_at)
            .ok_or(QuicError::Length)?;
        let sample = tail.get(..sample_len).ok_or(QuicError::Length)?;
        let mask = self
            .header
            .new_mask(sample)
            .map_err(|_| QuicError::Length)?;
        let (first_part, pn_bytes) = head
            .split_at_mut_checked(pn_offset)
            .ok_or(QuicError::Length)?;
        let first = first_part.first_mut().ok_or(QuicError::Length)?;
        let [first_mask, pn_mask @ ..] = mask;
        // Long header: the low 4 bits of the first byte are protected.
        *first ^= first_mask & 0x0f;
        let pn_len = usize::from(*first & 0x03).saturating_add(1);
        let mut pn = 0u64;
        for (b, m) in pn_bytes.iter_mut().zip(pn_mask).take(pn_len) {
            *b ^= m;
            pn = (pn << 8) | u64::from(*b);
        }
        let payload_at = pn_offset.checked_add(pn_len).ok_or(QuicError::Length)?;
        let (header, payload) = packet
            .split_at_mut_checked(payload_at)
            .ok_or(QuicError::Length)?;
        // RFC 9001 §5.3: the nonce is the IV XORed with the packet number, right-aligned.
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        let plain = self
            .packet
            .open_in_place(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&*header),
                payload,
            )
            .map_err(|_| QuicError::Auth)?;
        let end = payload_at
            .checked_add(plain.len())
            .ok_or(QuicError::Length)?;
        Ok((pn, payload_at..end))
    }
}

/// The version number a [`KeyVersion`] is written as in [`seal_client_initial`].
pub fn wire_version(v: KeyVersion) -> u32 {
    match v {
        KeyVersion::Draft => super::parse::DRAFT_29,
        KeyVersion::V1 => VERSION_1,
        KeyVersion::V2 => VERSION_2,
    }
}

/// Builds a protected client Initial packet as a client would: `frames` is the
/// plaintext payload (CRYPTO, PING, PADDING frames, already encoded), padded with
/// PADDING so that the packet is at least `pad_to` bytes; 4-byte packet number `pn`.
/// For tests, benches and fuzz seeds: a sensor never encrypts.
pub fn seal_client_initial(
    version: KeyVersion,
    dcid: &[u8],
    scid: &[u8],
    pn: u32,
    frames: &[u8],
    pad_to: usize,
) -> Result<Vec<u8>, QuicError> {
    let keys = keys(version, dcid, Side::Client)?.local;
    let tag_len = keys.packet.tag_len();
    let v2 = matches!(version, KeyVersion::V2);
    // Initial type bits (0 in v1, 1 in v2) and a 4-byte packet number (0b11).
    let first = 0xc3 | if v2 { 0x10 } else { 0x00 };
    let mut p = Vec::with_capacity(pad_to.max(64));
    p.push(first);
    p.extend_from_slice(&wire_version(version).to_be_bytes());
    p.push(u8::try_from(dcid.len()).map_err(|_| QuicError::CidTooLong)?);
    p.extend_from_slice(dcid);
    p.push(u8::try_from(scid.len()).map_err(|_| QuicError::CidTooLong)?);
    p.extend_from_slice(scid);
    p.push(0); // no token
    // Length as a 2-byte varint: header so far + 2 + pn + payload + tag ≥ pad_to.
    let fixed = p.len().saturating_add(2).saturating_add(PN_MAX_LEN);
    let mut payload = frames.to_vec();
    let min_payload = pad_to.saturating_sub(fixed.saturating_add(tag_len));
    // The sample needs 16 bytes after the 4-byte packet number.
    let min_payload = min_payload.max(16usize.saturating_sub(tag_len));
    if payload.len() < min_payload {
        payload.resize(min_payload, 0);
    }
    let length = PN_MAX_LEN
        .saturating_add(payload.len())
        .saturating_add(tag_len);
    let length = u16::try_from(length)
        .ok()
        .filter(|&l| l < 0x4000)
        .ok_or(QuicError::Length)?;
    p.extend_from_slice(&(0x4000 | length).to_be_bytes());
    let pn_offset = p.len();
    p.extend_from_slice(&pn.to_be_bytes());
    let header_len = p.len();
    p.extend_from_slice(&payload);
    let (header, body) = p
        .split_at_mut_checked(header_len)
        .ok_or(QuicError::Length)?;
    let tag = keys
        .packet
        .encrypt_in_place(u64::from(pn), header, body)
        .map_err(|_| QuicError::Auth)?;
    p.extend_from_slice(tag.as_ref());
    let sample_at = pn_offset.saturating_add(PN_MAX_LEN);
    let (head, tail) = p.split_at_mut_checked(sample_at).ok_or(QuicError::Length)?;
    let sample = tail.get(..16).ok_or(QuicError::Length)?;
    let (first_part, pn_bytes) = head
        .split_at_mut_checked(pn_offset)
        .ok_or(QuicError::Length)?;
    let first = first_part.first_mut().ok_or(QuicError::Length)?;
    keys.header
        .encrypt_in_place(sample, first, pn_bytes)
        .map_err(|_| QuicError::Length)?;
    Ok(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::proto::quic::parse::long_header;

    /// Packets sealed with rustls' client keys open with the keys derived here, on
    /// every version, for several DCID lengths and packet numbers; a wrong DCID fails.
    #[test]
    fn client_half_matches_rustls() {
        let frames = [0x06, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];
        for v in [KeyVersion::Draft, KeyVersion::V1, KeyVersion::V2] {
            for (dcid, pn) in [(&[0x83u8; 8][..], 0u32), (&[1; 20][..], 7), (&[][..], 300)] {
                let pkt = seal_client_initial(v, dcid, &[9; 4], pn, &frames, 1200).unwrap();
                let hdr = long_header(&pkt).unwrap();
                let mut buf = pkt.clone();
                let keys = ClientInitialKeys::derive(v, dcid).unwrap();
                let (got_pn, range) = keys.open(&hdr, &mut buf).unwrap();
                assert_eq!(got_pn, u64::from(pn));
                assert_eq!(&buf[range.clone()][..frames.len()], &frames);
                assert!(buf[range].iter().skip(frames.len()).all(|&b| b == 0));
                let wrong = ClientInitialKeys::derive(v, &[0x55; 8]).unwrap();
                let mut buf = pkt.clone();
                assert!(matches!(wrong.open(&hdr, &mut buf), Err(QuicError::Auth)));
            }
        }
    }
}
