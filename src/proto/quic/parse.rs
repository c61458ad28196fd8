//! Pure QUIC wire parsing: variable-length integers (RFC 9000 §16), long headers
//! (RFC 9000 §17.2, RFC 9369 §3.2 for v2's packet type bits), the cheap [`probe`], and
//! the frames an Initial packet may carry (RFC 9000 §12.4 table 3, §19).
//!
//! Contract: every function takes borrowed bytes and returns a view or an error;
//! nothing here allocates, decrypts or panics.

use super::QuicError;
use crate::proto::Verdict;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369 §3.1).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// IETF drafts whose Initial keys c2tap derives: draft-27 and -28 use the salt
/// `c3eef712…` (not in rustls: derived with ring's HKDF, see `keys.rs`), draft-29 to -32
/// the draft salt `afbfec28…` (rustls' `Version::V1Draft`), draft-33 and -34 already
/// RFC 9001's salt. Older drafts changed the packet format too: they are recognized as
/// QUIC but not read (counted `unsupported_versions`).
pub const DRAFT_27: u32 = 0xff00_001b;
pub const DRAFT_28: u32 = 0xff00_001c;
pub const DRAFT_29: u32 = 0xff00_001d;
pub const DRAFT_32: u32 = 0xff00_0020;
pub const DRAFT_33: u32 = 0xff00_0021;
pub const DRAFT_34: u32 = 0xff00_0022;
/// Google QUIC with TLS 1.3 (Chromium's `T050`, `T051`): the IETF invariant long header,
/// Initial protection with their own salts (`salted.rs`), but Google's frame types in
/// the Initial (CRYPTO is 0x08, PING 0x07). Their CRYPTO stream is a TLS ClientHello.
pub const VERSION_T050: u32 = 0x5430_3530;
pub const VERSION_T051: u32 = 0x5430_3531;
/// Google QUIC `Q050` (QUIC Crypto): the same invariant long header, Initial protection
/// with Chromium's `kQ050Salt` and Google's frame types, but its CRYPTO stream carries
/// Google's own client hello, a `CHLO` tag/value message (`chlo.rs`), not TLS. Older
/// `Q0xx` versions have another header format and no Initial protection: not read.
pub const VERSION_Q050: u32 = 0x5130_3530;

/// Longest connection ID a QUIC v1/v2 packet may carry (RFC 9000 §17.2: "MUST NOT
/// exceed 20 bytes" in version 1; v2 keeps the rule).
pub const MAX_CID_LEN: usize = 20;

/// Length of the fixed part of a long header: first byte, version, DCID length.
const LONG_FIXED: usize = 6;

/// The keys a version's Initial packets are protected with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyVersion {
    /// Drafts 27–28 (salt `c3eef712…`, draft-ietf-quic-tls-27 §5.2).
    Draft27,
    /// Drafts 29–32 (salt `afbfec28…`).
    Draft,
    /// RFC 9000 and drafts 33–34.
    V1,
    /// RFC 9369.
    V2,
    /// Google QUIC T050 (salt `7ff579e5…`).
    T050,
    /// Google QUIC T051 (salt `7a4edef4…`).
    T051,
    /// Google QUIC Q050 (salt `504574ef…`), whose CRYPTO stream is a CHLO.
    Q050,
}

impl KeyVersion {
    /// Google's frame types in the Initial, not RFC 9000's.
    pub fn google_frames(self) -> bool {
        matches!(self, KeyVersion::T050 | KeyVersion::T051 | KeyVersion::Q050)
    }

    /// The CRYPTO stream holds Google's CHLO message, not a TLS ClientHello.
    pub fn carries_chlo(self) -> bool {
        matches!(self, KeyVersion::Q050)
    }
}

/// Which Initial keys a version uses; `None` for versions c2tap cannot decrypt.
pub fn key_version(version: u32) -> Option<KeyVersion> {
    match version {
        VERSION_1 | DRAFT_33..=DRAFT_34 => Some(KeyVersion::V1),
        VERSION_2 => Some(KeyVersion::V2),
        DRAFT_29..=DRAFT_32 => Some(KeyVersion::Draft),
        DRAFT_27..=DRAFT_28 => Some(KeyVersion::Draft27),
        VERSION_T050 => Some(KeyVersion::T050),
        VERSION_T051 => Some(KeyVersion::T051),
        VERSION_Q050 => Some(KeyVersion::Q050),
        _ => None,
    }
}

/// Versions that are IETF QUIC but whose Initial keys c2tap cannot derive (older
/// drafts): they are counted, not silently called "not QUIC".
pub fn is_unreadable_ietf_draft(version: u32) -> bool {
    (0xff00_0000..DRAFT_27).contains(&version)
}

/// Long-header packet types (RFC 9000 §17.2 table 5; RFC 9369 §3.2 permutes the bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl PacketType {
    fn from_bits(bits: u8, v2: bool) -> PacketType {
        match (bits & 0x03, v2) {
            (0, false) | (1, true) => PacketType::Initial,
            (1, false) | (2, true) => PacketType::ZeroRtt,
            (2, false) | (3, true) => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }
}

/// Reads a variable-length integer (RFC 9000 §16) at the start of `buf`: the value
/// and the bytes it took.
pub fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &b in bytes.get(1..)? {
        v = (v << 8) | u64::from(b);
    }
    Some((v, len))
}

/// A cursor over wire bytes that can only move forward and never panics.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos = self.pos.checked_add(1)?;
        Some(b)
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_be_bytes([
            *b.first()?,
            *b.get(1)?,
            *b.get(2)?,
            *b.get(3)?,
        ]))
    }
    pub fn varint(&mut self) -> Option<u64> {
        let (v, n) = varint(self.rest())?;
        self.pos = self.pos.checked_add(n)?;
        Some(v)
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }
    /// `n` bytes where `n` is a varint on the wire.
    pub fn varint_bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.bytes(n)
    }
}

/// A long-header packet at the start of a datagram (or of the rest of one, when packets
/// are coalesced, RFC 9000 §12.2). Header protection is still on: the packet number
/// and the low bits of `first` are not readable yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader<'a> {
    pub first: u8,
    pub version: u32,
    pub packet_type: PacketType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Initial packets only (RFC 9000 §17.2.2); empty otherwise.
    pub token: &'a [u8],
    /// Offset of the (protected) packet number from the packet's first byte.
    pub pn_offset: usize,
    /// Bytes of the datagram this packet takes (header through the end of its payload).
    /// A Retry has no Length field and takes the rest of the datagram.
    pub packet_len: usize,
}

/// Parses the long header at the start of `buf` (RFC 9000 §17.2). Version negotiation
/// (version 0) is `QuicError::VersionNegotiation`; a short header is `NotLongHeader`.
/// Unknown versions still parse as far as the version-independent fields go (RFC 8999),
/// so the caller can skip them by `packet_len` only when the version is known.
pub fn long_header(buf: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let mut r = Reader::new(buf);
    let first = r.u8().ok_or(QuicError::Truncated)?;
    if first & 0x80 == 0 {
        return Err(QuicError::NotLongHeader);
    }
    let version = r.u32().ok_or(QuicError::Truncated)?;
    if version == 0 {
        return Err(QuicError::VersionNegotiation);
    }
    // RFC 9000 §17.2: the fixed bit is 1 in every v1 long header (RFC 9287 lets a peer
    // clear it only after transport parameters are exchanged, never in the first
    // Initial). A cleared bit is the cheapest sign of "not QUIC".
    if first & 0x40 == 0 {
        return Err(QuicError::FixedBit);
    }
    let dcid_len = usize::from(r.u8().ok_or(QuicError::Truncated)?);
    if dcid_len > MAX_CID_LEN {
        return Err(QuicError::CidTooLong);
    }
    let dcid = r.bytes(dcid_len).ok_or(QuicError::Truncated)?;
    let scid_len = usize::from(r.u8().ok_or(QuicError::Truncated)?);
    if scid_len > MAX_CID_LEN {
        return Err(QuicError::CidTooLong);
    }
    let scid = r.bytes(scid_len).ok_or(QuicError::Truncated)?;
    let packet_type = PacketType::from_bits(first >> 4, version == VERSION_2);
    let mut token: &[u8] = &[];
    match packet_type {
        PacketType::Retry => {
            return Ok(LongHeader {
                first,
                version,
                packet_type,
                dcid,
                scid,
                token,
                pn_offset: r.pos(),
                packet_len: buf.len(),
            });
        }
        PacketType::Initial => token = r.varint_bytes().ok_or(QuicError::Truncated)?,
        PacketType::ZeroRtt | PacketType::Handshake => {}
    }
    let length =
        usize::try_from(r.varint().ok_or(QuicError::Truncated)?).map_err(|_| QuicError::Length)?;
    let pn_offset = r.pos();
    let packet_len = pn_offset.checked_add(length).ok_or(QuicError::Length)?;
    if packet_len > buf.len() {
        return Err(QuicError::Length);
    }
    Ok(LongHeader {
        first,
        version,
        packet_type,
        dcid,
        scid,
        token,
        pn_offset,
        packet_len,
    })
}

/// Cheap test, on any UDP port, that a datagram starts with a QUIC long-header packet
/// c2tap can read: long form and fixed bit set, a version whose Initial keys are known,
/// connection IDs ≤ 20 bytes and a Length that fits the datagram. No allocation, no
/// cryptography; for random bytes it almost always stops at the first byte or the
/// version.
pub fn probe(payload: &[u8]) -> Verdict {
    Verdict::from_bool(long_header_readable(payload))
}

fn long_header_readable(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    if first & 0xc0 != 0xc0 || payload.len() < LONG_FIXED {
        return false;
    }
    let version = match payload.get(1..5) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => return false,
    };
    if key_version(version).is_none() {
        return false;
    }
    long_header(payload).is_ok()
}

/// A frame of an Initial packet's plaintext, as far as c2tap needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING frames (one byte each), merged.
    Padding(usize),
    Ping,
    Ack,
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    ConnectionClose,
}

/// Frame types an Initial may carry (RFC 9000 §12.4 table 3).
mod frame_type {
    pub const PADDING: u64 = 0x00;
    pub const PING: u64 = 0x01;
    pub const ACK: u64 = 0x02;
    pub const ACK_ECN: u64 = 0x03;
    pub const CRYPTO: u64 = 0x06;
    pub const CONNECTION_CLOSE: u64 = 0x1c;
}

/// Google QUIC's frame types in a T05x or Q050 Initial (Chromium's `quic_framer.cc`): one byte,
/// CRYPTO with a varint offset and length as in RFC 9000. Its ACK frames (0b01xxxxxx)
/// come only in later Initials, after the hello; they end the walk of a packet.
mod google_frame_type {
    pub const PADDING: u8 = 0x00;
    pub const PING: u8 = 0x07;
    pub const CRYPTO: u8 = 0x08;
}

/// Iterates over the frames of a decrypted Initial payload. Yields `Err` once (then
/// stops) on a frame type not allowed in an Initial (RFC 9000 §12.4: a
/// PROTOCOL_VIOLATION) or a frame cut short. Terminates: every step consumes at least
/// one byte of a finite slice.
pub struct Frames<'a> {
    r: Reader<'a>,
    stopped: bool,
    google: bool,
}

impl<'a> Frames<'a> {
    pub fn new(plaintext: &'a [u8]) -> Self {
        Frames {
            r: Reader::new(plaintext),
            stopped: false,
            google: false,
        }
    }

    /// The frames of a version's Initial: Google's types for T050/T051.
    pub fn of_version(plaintext: &'a [u8], version: KeyVersion) -> Self {
        Frames {
            google: version.google_frames(),
            ..Frames::new(plaintext)
        }
    }

    fn next_google_frame(&mut self) -> Result<Frame<'a>, QuicError> {
        let r = &mut self.r;
        match r.u8().ok_or(QuicError::FrameTruncated)? {
            google_frame_type::PADDING => {
                let zeros = r.rest().iter().take_while(|&&b| b == 0).count();
                r.bytes(zeros).ok_or(QuicError::FrameTruncated)?;
                Ok(Frame::Padding(zeros.saturating_add(1)))
            }
            google_frame_type::PING => Ok(Frame::Ping),
            google_frame_type::CRYPTO => {
                let offset = r.varint().ok_or(QuicError::FrameTruncated)?;
                let data = r.varint_bytes().ok_or(QuicError::FrameTruncated)?;
                Ok(Frame::Crypto { offset, data })
            }
            _ => Err(QuicError::FrameNotAllowed),
        }
    }

    fn next_frame(&mut self) -> Result<Frame<'a>, QuicError> {
        if self.google {
            return self.next_google_frame();
        }
        let r = &mut self.r;
        let kind = r.varint().ok_or(QuicError::FrameTruncated)?;
        match kind {
            frame_type::PADDING => {
                let zeros = r.rest().iter().take_while(|&&b| b == 0).count();
                r.bytes(zeros).ok_or(QuicError::FrameTruncated)?;
                Ok(Frame::Padding(zeros.saturating_add(1)))
            }
            frame_type::PING => Ok(Frame::Ping),
            frame_type::ACK | frame_type::ACK_ECN => {
                // Largest Acknowledged, ACK Delay, ACK Range Count, First ACK Range
                // (RFC 9000 §19.3).
                r.varint().ok_or(QuicError::FrameTruncated)?;
                r.varint().ok_or(QuicError::FrameTruncated)?;
                let ranges = r.varint().ok_or(QuicError::FrameTruncated)?;
                r.varint().ok_or(QuicError::FrameTruncated)?;
                // Each further range is two varints (≥ 2 bytes): a count larger than
                // half the bytes left is a lie, refused before looping.
                let left = u64::try_from(r.rest().len()).unwrap_or(u64::MAX);
                if ranges > left / 2 {
                    return Err(QuicError::FrameTruncated);
                }
                for _ in 0..ranges {
                    r.varint().ok_or(QuicError::FrameTruncated)?;
                    r.varint().ok_or(QuicError::FrameTruncated)?;
                }
                if kind == frame_type::ACK_ECN {
                    for _ in 0..3 {
                        r.varint().ok_or(QuicError::FrameTruncated)?;
                    }
                }
                Ok(Frame::Ack)
            }
            frame_type::CRYPTO => {
                let offset = r.varint().ok_or(QuicError::FrameTruncated)?;
                let data = r.varint_bytes().ok_or(QuicError::FrameTruncated)?;
                Ok(Frame::Crypto { offset, data })
            }
            frame_type::CONNECTION_CLOSE => {
                // Error Code, Frame Type, Reason Phrase (RFC 9000 §19.19).
                r.varint().ok_or(QuicError::FrameTruncated)?;
                r.varint().ok_or(QuicError::FrameTruncated)?;
                r.varint_bytes().ok_or(QuicError::FrameTruncated)?;
                Ok(Frame::ConnectionClose)
            }
            _ => Err(QuicError::FrameNotAllowed),
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, QuicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped || self.r.rest().is_empty() {
            return None;
        }
        let item = self.next_frame();
        if item.is_err() {
            self.stopped = true;
        }
        Some(item)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn varints_rfc9000_a1() {
        // RFC 9000 §A.1 examples.
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15_293, 2)));
        assert_eq!(varint(&[0x25]), Some((37, 1)));
        assert_eq!(varint(&[0x40, 0x25]), Some((37, 2)));
        assert_eq!(varint(&[0x7b]), None);
        assert_eq!(varint(&[]), None);
    }

    fn initial(version: u32, type_bits: u8, dcid: &[u8], length: u16, body: usize) -> Vec<u8> {
        let mut p = vec![0xc0 | (type_bits << 4)];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.push(0); // SCID
        p.push(0); // token
        p.extend_from_slice(&(0x4000 | length).to_be_bytes());
        p.resize(p.len() + body, 0xaa);
        p
    }

    #[test]
    fn google_frames_of_t051() {
        // PADDING, PING (0x07), CRYPTO (0x08) at offset 3, then a Google ACK (0x40): stop.
        let p = [0x00, 0x00, 0x07, 0x08, 0x03, 0x02, b'h', b'i', 0x40, 1, 2];
        let got: Vec<_> = Frames::of_version(&p, KeyVersion::T051).collect();
        assert_eq!(
            got,
            vec![
                Ok(Frame::Padding(2)),
                Ok(Frame::Ping),
                Ok(Frame::Crypto {
                    offset: 3,
                    data: b"hi"
                }),
                Err(QuicError::FrameNotAllowed),
            ]
        );
        // The same bytes under RFC 9000's types: 0x07 is not allowed in an Initial.
        let ietf: Vec<_> = Frames::of_version(&p, KeyVersion::V1).collect();
        assert_eq!(ietf.last(), Some(&Err(QuicError::FrameNotAllowed)));
        assert_eq!(ietf.len(), 2);
    }

    #[test]
    fn long_header_v1_and_v2_types() {
        let p = initial(VERSION_1, 0, &[1, 2, 3, 4], 30, 30);
        let h = long_header(&p).unwrap();
        assert_eq!(h.packet_type, PacketType::Initial);
        assert_eq!(h.dcid, &[1, 2, 3, 4]);
        assert_eq!(h.pn_offset, 1 + 4 + 1 + 4 + 1 + 1 + 2);
        assert_eq!(h.packet_len, p.len());
        assert_eq!(Verdict::Match, probe(&p));
        // Type bits 0 are Retry in v2, Initial bits are 1.
        let p2 = initial(VERSION_2, 1, &[9; 8], 30, 30);
        assert_eq!(long_header(&p2).unwrap().packet_type, PacketType::Initial);
        let r2 = initial(VERSION_2, 0, &[9; 8], 30, 30);
        assert_eq!(long_header(&r2).unwrap().packet_type, PacketType::Retry);
    }

    #[test]
    fn long_header_refusals() {
        let p = initial(VERSION_1, 0, &[1; 8], 30, 29);
        assert_eq!(long_header(&p), Err(QuicError::Length));
        assert_eq!(Verdict::NoMatch, probe(&p));
        let mut p = initial(VERSION_1, 0, &[1; 8], 30, 30);
        p[0] &= !0x40;
        assert_eq!(long_header(&p), Err(QuicError::FixedBit));
        let p = initial(VERSION_1, 0, &[1; 21], 30, 30);
        assert_eq!(long_header(&p), Err(QuicError::CidTooLong));
        let p = initial(0, 0, &[1; 8], 30, 30);
        assert_eq!(long_header(&p), Err(QuicError::VersionNegotiation));
        let p = initial(0x1a2a_3a4a, 0, &[1; 8], 30, 30);
        assert_eq!(Verdict::NoMatch, probe(&p));
        assert_eq!(Verdict::NoMatch, probe(&[0x40, 0, 0, 0, 1]));
        // A DNS query header (id 0xc0de, flags 0x0100): first byte looks long-header,
        // the "version" is not one.
        assert_eq!(
            Verdict::NoMatch,
            probe(&[0xc0, 0xde, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        );
    }

    #[test]
    fn versions() {
        assert_eq!(key_version(0xff00_001d), Some(KeyVersion::Draft));
        assert_eq!(key_version(0xff00_0020), Some(KeyVersion::Draft));
        assert_eq!(key_version(0xff00_0022), Some(KeyVersion::V1));
        assert_eq!(key_version(0xff00_001c), Some(KeyVersion::Draft27));
        assert_eq!(key_version(0xff00_001b), Some(KeyVersion::Draft27));
        assert_eq!(key_version(0xff00_001a), None);
        assert!(is_unreadable_ietf_draft(0xff00_001a));
        assert!(!is_unreadable_ietf_draft(0xff00_001c));
        assert_eq!(key_version(VERSION_T051), Some(KeyVersion::T051));
        assert_eq!(key_version(VERSION_T050), Some(KeyVersion::T050));
        // Q050 carries Google's CHLO, read by `chlo.rs`; Q046 has another header.
        assert_eq!(key_version(0x5130_3530), Some(KeyVersion::Q050));
        assert!(KeyVersion::Q050.carries_chlo() && KeyVersion::Q050.google_frames());
        assert!(!KeyVersion::T051.carries_chlo());
        assert_eq!(key_version(0x5130_3436), None);
        assert!(!is_unreadable_ietf_draft(VERSION_1));
    }

    #[test]
    fn frames_of_an_initial() {
        let mut p = vec![0x01, 0x00, 0x00, 0x00];
        p.extend_from_slice(&[0x06, 0x40, 0x10, 0x03, b'a', b'b', b'c']);
        p.extend_from_slice(&[0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x02, 0x01, 0x02, 0x03]);
        p.extend_from_slice(&[0x1c, 0x0a, 0x06, 0x02, b'n', b'o']);
        p.extend_from_slice(&[0x00, 0x00]);
        let frames: Vec<_> = Frames::new(&p).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            frames,
            vec![
                Frame::Ping,
                Frame::Padding(3),
                Frame::Crypto {
                    offset: 16,
                    data: b"abc"
                },
                Frame::Ack,
                Frame::ConnectionClose,
                Frame::Padding(2),
            ]
        );
    }

    #[test]
    fn forbidden_and_cut_frames_stop() {
        // STREAM (0x08) is not allowed in an Initial.
        let p = [0x01, 0x08, 0x00, 0x01];
        let items: Vec<_> = Frames::new(&p).collect();
        assert_eq!(
            items,
            vec![Ok(Frame::Ping), Err(QuicError::FrameNotAllowed)]
        );
        let p = [0x06, 0x00, 0x05, 1, 2];
        let items: Vec<_> = Frames::new(&p).collect();
        assert_eq!(items, vec![Err(QuicError::FrameTruncated)]);
        // An ACK claiming a huge range count is refused without looping.
        let p = [
            0x02, 0x00, 0x00, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ];
        let items: Vec<_> = Frames::new(&p).collect();
        assert_eq!(items, vec![Err(QuicError::FrameTruncated)]);
    }
}
