//! Initial keys of versions whose salt rustls does not offer (IETF drafts 27 and 28,
//! Google's Q050, T050 and T051),
//! from ring's building blocks: HKDF-SHA256 (RFC 5869) with TLS 1.3's HKDF-Expand-Label
//! (RFC 8446 §7.1), AES-128-GCM, and QUIC's AES header-protection mask. The key schedule
//! is RFC 9001 §5.2's — the drafts differ from it only in the salt — and the nonce and
//! mask are applied as §5.3 and §5.4 say. rustls' `Suite::keys` does the same for the
//! salts it knows; its key types cannot be built from raw bytes, hence this path.
//!
//! The tests hold this path to rustls': with rustls' draft-29 salt, both derive the same
//! keys (a packet one seals, the other opens).

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic};
use ring::hkdf;

use super::QuicError;

/// draft-ietf-quic-tls-27 §5.2 (also -23 to -28).
pub const SALT_DRAFT_27: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

/// Chromium's `kT050Salt` (quic_versions / Wireshark's `handshake_salt_t050`).
pub const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];

/// Chromium's `kQ050Salt` (`CreateInitialObfuscators`: the same HKDF labels and
/// AES-128-GCM with a 16-byte tag as RFC 9001, only the salt differs).
pub const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];

/// Chromium's `kT051Salt`.
pub const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

const SECRET_LEN: usize = 32;
const KEY_LEN: usize = 16;
const IV_LEN: usize = 12;
/// The header-protection sample (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;

/// An output length for ring's HKDF expand.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1).
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Result<(), QuicError> {
    const PREFIX: &[u8] = b"tls13 ";
    let len = u16::try_from(out.len())
        .map_err(|_| QuicError::NoSuite)?
        .to_be_bytes();
    let label_len = [
        u8::try_from(PREFIX.len().saturating_add(label.len())).map_err(|_| QuicError::NoSuite)?
    ];
    let info: [&[u8]; 5] = [&len, &label_len, PREFIX, label, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| QuicError::NoSuite)
}

/// One direction's Initial packet and header keys.
pub struct SaltedKeys {
    packet: LessSafeKey,
    iv: [u8; IV_LEN],
    header: quic::HeaderProtectionKey,
}

impl SaltedKeys {
    /// The client's Initial keys for `dcid` under `salt` (RFC 9001 §5.2: "client in").
    pub fn client(salt: &[u8], dcid: &[u8]) -> Result<SaltedKeys, QuicError> {
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
        let mut secret = [0u8; SECRET_LEN];
        expand_label(&initial, b"client in", &mut secret)?;
        let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let (mut key, mut iv, mut hp) = ([0u8; KEY_LEN], [0u8; IV_LEN], [0u8; KEY_LEN]);
        expand_label(&client, b"quic key", &mut key)?;
        expand_label(&client, b"quic iv", &mut iv)?;
        expand_label(&client, b"quic hp", &mut hp)?;
        let packet = UnboundKey::new(&aead::AES_128_GCM, &key).map_err(|_| QuicError::NoSuite)?;
        let header =
            quic::HeaderProtectionKey::new(&quic::AES_128, &hp).map_err(|_| QuicError::NoSuite)?;
        Ok(SaltedKeys {
            packet: LessSafeKey::new(packet),
            iv,
            header,
        })
    }

    /// The 5-byte header-protection mask of `sample` (RFC 9001 §5.4.1).
    pub fn mask(&self, sample: &[u8]) -> Result<[u8; 5], QuicError> {
        self.header.new_mask(sample).map_err(|_| QuicError::Length)
    }

    /// The AEAD nonce of packet number `pn`: the IV XOR the packet number (§5.3).
    fn nonce(&self, pn: u64) -> Nonce {
        let mut n = self.iv;
        for (b, p) in n.iter_mut().rev().zip(pn.to_le_bytes()) {
            *b ^= p;
        }
        Nonce::assume_unique_for_key(n)
    }

    /// Decrypts `payload` (ciphertext and tag) in place; the plaintext's length.
    pub fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<usize, QuicError> {
        self.packet
            .open_in_place(self.nonce(pn), Aad::from(header), payload)
            .map(|plain| plain.len())
            .map_err(|_| QuicError::Auth)
    }

    /// Encrypts `payload` in place; the tag (for tests and benches: a sensor never seals).
    pub fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Result<aead::Tag, QuicError> {
        self.packet
            .seal_in_place_separate_tag(self.nonce(pn), Aad::from(header), payload)
            .map_err(|_| QuicError::Auth)
    }
}
