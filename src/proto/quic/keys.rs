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
use super::parse::{DRAFT_28, KeyVersion, LongHeader, VERSION_1, VERSION_2};
use super::salted::{SALT_DRAFT_27, SALT_Q050, SALT_T050, SALT_T051, SAMPLE_LEN, SaltedKeys};

/// Bytes of packet number the header-protection sample is taken after (RFC 9001 §5.4.2:
/// the sample starts 4 bytes after the start of the Packet Number field).
const PN_MAX_LEN: usize = 4;

/// The Initial cipher suite: TLS_AES_128_GCM_SHA256 (RFC 9001 §5.2, RFC 9369 §3.3).
fn initial_suite() -> Option<Suite> {
    rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()?
        .quic_suite()
}

/// rustls' name of a version's key schedule; `None` for a salt rustls does not offer.
fn rustls_version(v: KeyVersion) -> Option<Version> {
    match v {
        KeyVersion::Draft27 | KeyVersion::T050 | KeyVersion::T051 | KeyVersion::Q050 => None,
        KeyVersion::Draft => Some(Version::V1Draft),
        KeyVersion::V1 => Some(Version::V1),
        KeyVersion::V2 => Some(Version::V2),
    }
}

/// The salt of a version rustls has no key schedule for.
fn other_salt(v: KeyVersion) -> &'static [u8] {
    match v {
        KeyVersion::Draft27 => &SALT_DRAFT_27,
        KeyVersion::T050 => &SALT_T050,
        KeyVersion::T051 => &SALT_T051,
        KeyVersion::Q050 => &SALT_Q050,
        // rustls' versions never come here; a draft-29 salt would be as good as any.
        KeyVersion::Draft | KeyVersion::V1 | KeyVersion::V2 => &SALT_DRAFT_27,
    }
}

/// Both directions' Initial keys for `dcid`, seen from `side` (rustls' versions).
fn keys(version: Version, dcid: &[u8], side: Side) -> Result<Keys, QuicError> {
    let suite = initial_suite().ok_or(QuicError::NoSuite)?;
    Ok(suite.keys(dcid, side, version))
}

/// The client's Initial keys: rustls' where it knows the version's salt, else ring's
/// (`salted.rs`).
enum Protection {
    Rustls(DirectionalKeys),
    /// Boxed like rustls' keys: ring's key schedules are 800 bytes.
    Salted(Box<SaltedKeys>),
}

impl Protection {
    /// The client's keys, as the client (`Side::Client`, `.local`) or as the server that
    /// reads them (`Side::Server`, `.remote`): the same keys either way.
    fn client(version: KeyVersion, dcid: &[u8], side: Side) -> Result<Protection, QuicError> {
        Ok(match rustls_version(version) {
            Some(v) => {
                let k = keys(v, dcid, side)?;
                Protection::Rustls(match side {
                    Side::Client => k.local,
                    Side::Server => k.remote,
                })
            }
            None => Protection::Salted(Box::new(SaltedKeys::client(other_salt(version), dcid)?)),
        })
    }

    fn sample_len(&self) -> usize {
        match self {
            Protection::Rustls(k) => k.header.sample_len(),
            Protection::Salted(_) => SAMPLE_LEN,
        }
    }

    /// Removes header protection: `first` is the first byte, `pn_bytes` the (up to 4)
    /// bytes of the packet number field.
    fn unmask(&self, sample: &[u8], first: &mut u8, pn_bytes: &mut [u8]) -> Result<(), QuicError> {
        match self {
            Protection::Rustls(k) => k
                .header
                .decrypt_in_place(sample, first, pn_bytes)
                .map_err(|_| QuicError::Length),
            Protection::Salted(k) => {
                let mask = k.mask(sample)?;
                // Long header: the low 4 bits of the first byte (RFC 9001 §5.4.1).
                *first ^= mask.first().copied().unwrap_or(0) & 0x0f;
                let pn_len = usize::from(*first & 0x03).saturating_add(1);
                for (b, m) in pn_bytes.iter_mut().take(pn_len).zip(mask.iter().skip(1)) {
                    *b ^= m;
                }
                Ok(())
            }
        }
    }

    /// Adds header protection (the packet number length is read before masking).
    fn mask(&self, sample: &[u8], first: &mut u8, pn_bytes: &mut [u8]) -> Result<(), QuicError> {
        match self {
            Protection::Rustls(k) => k
                .header
                .encrypt_in_place(sample, first, pn_bytes)
                .map_err(|_| QuicError::Length),
            Protection::Salted(k) => {
                let mask = k.mask(sample)?;
                let pn_len = usize::from(*first & 0x03).saturating_add(1);
                *first ^= mask.first().copied().unwrap_or(0) & 0x0f;
                for (b, m) in pn_bytes.iter_mut().take(pn_len).zip(mask.iter().skip(1)) {
                    *b ^= m;
                }
                Ok(())
            }
        }
    }

    /// Decrypts `payload` in place; the plaintext's length.
    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, QuicError> {
        match self {
            Protection::Rustls(k) => k
                .packet
                .decrypt_in_place(pn, header, payload)
                .map(|plain| plain.len())
                .map_err(|_| QuicError::Auth),
            Protection::Salted(k) => k.open(pn, header, payload),
        }
    }

    fn tag_len(&self) -> usize {
        match self {
            Protection::Rustls(k) => k.packet.tag_len(),
            Protection::Salted(_) => ring::aead::AES_128_GCM.tag_len(),
        }
    }

    /// Encrypts `payload` in place; the tag.
    fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<Vec<u8>, QuicError> {
        match self {
            Protection::Rustls(k) => k
                .packet
                .encrypt_in_place(pn, header, payload)
                .map(|t| t.as_ref().to_vec())
                .map_err(|_| QuicError::Auth),
            Protection::Salted(k) => k.seal(pn, header, payload).map(|t| t.as_ref().to_vec()),
        }
    }
}

/// The keys that protect a client's Initial packets, derived from the Destination
/// Connection ID of the client's first Initial (or of its first Initial after a Retry).
pub struct ClientInitialKeys {
    keys: Protection,
}

impl ClientInitialKeys {
    /// Derives the client's Initial keys for `dcid` as a server would (`.remote`).
    /// Costs two HKDF extract/expand rounds and two AES key schedules (see the bench).
    pub fn derive(version: KeyVersion, dcid: &[u8]) -> Result<Self, QuicError> {
        Ok(ClientInitialKeys {
            keys: Protection::client(version, dcid, Side::Server)?,
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
        let sample_len = self.keys.sample_len();
        let (head, tail) = packet
            .split_at_mut_checked(sample_at)
            .ok_or(QuicError::Length)?;
        let sample = tail.get(..sample_len).ok_or(QuicError::Length)?;
        let (first_part, pn_bytes) = head
            .split_at_mut_checked(pn_offset)
            .ok_or(QuicError::Length)?;
        let first = first_part.first_mut().ok_or(QuicError::Length)?;
        self.keys.unmask(sample, first, pn_bytes)?;
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
        let plain_len = self.keys.open(pn, header, payload)?;
        let end = payload_at.checked_add(plain_len).ok_or(QuicError::Length)?;
        Ok((pn, payload_at..end))
    }
}

/// The version number a [`KeyVersion`] is written as in [`seal_client_initial`].
pub fn wire_version(v: KeyVersion) -> u32 {
    match v {
        KeyVersion::Draft27 => DRAFT_28,
        KeyVersion::T050 => super::parse::VERSION_T050,
        KeyVersion::T051 => super::parse::VERSION_T051,
        KeyVersion::Q050 => super::parse::VERSION_Q050,
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
    seal_client_initial_as(wire_version(version), dcid, scid, pn, frames, pad_to)
}

/// [`seal_client_initial`] with the version number written on the wire (`0xff00001b`
/// for draft-27): its keys are that version's ([`super::parse::key_version`]).
pub fn seal_client_initial_as(
    wire: u32,
    dcid: &[u8],
    scid: &[u8],
    pn: u32,
    frames: &[u8],
    pad_to: usize,
) -> Result<Vec<u8>, QuicError> {
    let version = super::parse::key_version(wire).ok_or(QuicError::NoSuite)?;
    let keys = Protection::client(version, dcid, Side::Client)?;
    let tag_len = keys.tag_len();
    let v2 = matches!(version, KeyVersion::V2);
    // Initial type bits (0 in v1, 1 in v2) and a 4-byte packet number (0b11).
    let first = 0xc3 | if v2 { 0x10 } else { 0x00 };
    let mut p = Vec::with_capacity(pad_to.max(64));
    p.push(first);
    p.extend_from_slice(&wire.to_be_bytes());
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
    let tag = keys.seal(u64::from(pn), header, body)?;
    p.extend_from_slice(&tag);
    let sample_at = pn_offset.saturating_add(PN_MAX_LEN);
    let (head, tail) = p.split_at_mut_checked(sample_at).ok_or(QuicError::Length)?;
    let sample = tail.get(..16).ok_or(QuicError::Length)?;
    let (first_part, pn_bytes) = head
        .split_at_mut_checked(pn_offset)
        .ok_or(QuicError::Length)?;
    let first = first_part.first_mut().ok_or(QuicError::Length)?;
    keys.mask(sample, first, pn_bytes)?;
    Ok(p)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::proto::quic::parse::long_header;

    /// draft-ietf-quic-tls-29 §5.2: the salt rustls calls `Version::V1Draft`.
    const SALT_DRAFT_29: [u8; 20] = [
        0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11,
        0xe0, 0x43, 0x90, 0xa8, 0x99,
    ];

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    const FRAMES: &[u8] = &[0x06, 0x00, 0x04, b'a', b'b', b'c', b'd'];

    fn open_with(keys: ClientInitialKeys, packet: &[u8]) -> Result<Vec<u8>, QuicError> {
        let hdr = long_header(packet).unwrap();
        let mut buf = packet[..hdr.packet_len].to_vec();
        let (pn, range) = keys.open(&hdr, &mut buf)?;
        assert_eq!(pn, 7);
        Ok(buf[range].to_vec())
    }

    #[test]
    fn ring_path_derives_what_rustls_derives() {
        // Sealed by rustls with the draft-29 salt, opened by the ring path with that salt.
        let p = seal_client_initial(KeyVersion::Draft, &DCID, &[1, 2], 7, FRAMES, 1200).unwrap();
        let ring_keys = ClientInitialKeys {
            keys: Protection::Salted(Box::new(SaltedKeys::client(&SALT_DRAFT_29, &DCID).unwrap())),
        };
        let plain = open_with(ring_keys, &p).unwrap();
        assert_eq!(&plain[..FRAMES.len()], FRAMES);
        // The draft-27 salt gives other keys: the tag does not verify.
        let wrong = ClientInitialKeys {
            keys: Protection::Salted(Box::new(SaltedKeys::client(&SALT_DRAFT_27, &DCID).unwrap())),
        };
        assert_eq!(open_with(wrong, &p).err(), Some(QuicError::Auth));
    }

    #[test]
    fn draft_27_and_28_round_trip() {
        let p = seal_client_initial(KeyVersion::Draft27, &DCID, &[1, 2], 7, FRAMES, 1200).unwrap();
        assert_eq!(long_header(&p).unwrap().version, DRAFT_28);
        let keys = ClientInitialKeys::derive(KeyVersion::Draft27, &DCID).unwrap();
        let plain = open_with(keys, &p).unwrap();
        assert_eq!(&plain[..FRAMES.len()], FRAMES);
        // Not readable with v1's keys.
        let v1 = ClientInitialKeys::derive(KeyVersion::V1, &DCID).unwrap();
        assert!(open_with(v1, &p).is_err());
    }
}
