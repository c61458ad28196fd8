//! Client Initial keys and packet unprotection, through rustls' QUIC key schedule
//! (RFC 9001 §5.2 initial secrets, §5.3 AEAD, §5.4 header protection; RFC 9369 §3.3 for
//! v2's salt and labels). No cryptography is written here: rustls derives the keys
//! (`Suite::keys(dcid, Side::Server, version)`, whose `.remote` half is the client's)
//! and ring does AES-128-GCM and AES header protection.
//!
//! [`seal_client_initial`] builds a protected client Initial with the `.local` keys of a
//! `Side::Client` key set, as a client would: for tests, benches and fuzz seeds.

use std::ops::Range;

use rustls::Side;
use rustls::quic::{DirectionalKeys, Keys, Suite, Version};

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

/// The keys that protect a client's Initial packets, derived from the Destination
/// Connection ID of the client's first Initial (or of its first Initial after a Retry).
pub struct ClientInitialKeys {
    keys: DirectionalKeys,
}

impl ClientInitialKeys {
    /// Derives the client's Initial keys for `dcid` as a server would (`.remote`).
    /// Costs two HKDF extract/expand rounds and two AES key schedules (see the bench).
    pub fn derive(version: KeyVersion, dcid: &[u8]) -> Result<Self, QuicError> {
        Ok(ClientInitialKeys {
            keys: keys(version, dcid, Side::Server)?.remote,
        })
    }

    /// Removes header protection and decrypts the packet `hdr` describes, in place in
    /// `packet` (a copy of exactly `hdr.packet_len` bytes). Returns the packet number
    /// and where the plaintext is in `packet`. `Err(Auth)` when the AEAD tag does not
    /// verify: wrong keys or damaged bytes.
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
        let sample_len = self.keys.header.sample_len();
        let (head, tail) = packet
            .split_at_mut_checked(sample_at)
            .ok_or(QuicError::Length)?;
        let sample = tail.get(..sample_len).ok_or(QuicError::Length)?;
        let (first_part, pn_bytes) = head
            .split_at_mut_checked(pn_offset)
            .ok_or(QuicError::Length)?;
        let first = first_part.first_mut().ok_or(QuicError::Length)?;
        self.keys
            .header
            .decrypt_in_place(sample, first, pn_bytes)
            .map_err(|_| QuicError::Length)?;
        let pn_len = usize::from(*first & 0x03).saturating_add(1);
        let pn = pn_bytes
            .get(..pn_len)
            .ok_or(QuicError::Length)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let payload_at = pn_offset.checked_add(pn_len).ok_or(QuicError::Length)?;
        let (header, payload) = packet
            .split_at_mut_checked(payload_at)
            .ok_or(QuicError::Length)?;
        let plain = self
            .keys
            .packet
            .decrypt_in_place(pn, header, payload)
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
