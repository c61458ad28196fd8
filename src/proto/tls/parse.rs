//! TLS record header (RFC 8446 §5.1, RFC 5246 §6.2.1) and the content probe.

use crate::proto::Verdict;

/// Record header: content type (1), legacy record version (2), length (2).
pub const RECORD_HEADER_LEN: usize = 5;

/// Content type of handshake records.
pub const CONTENT_HANDSHAKE: u8 = 22;

/// Longest record c2tap accepts while looking for the ClientHello. A plaintext
/// record is at most 2^14 bytes (RFC 8446 §5.1); RFC 5246 §6.2.3 lets a TLS 1.2
/// record carry up to 2^14 + 2048, and we accept that so an odd but valid peer is not
/// called invalid. Anything longer is not TLS.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

/// A record header, read from exactly [`RECORD_HEADER_LEN`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub len: u16,
}

impl RecordHeader {
    pub fn new(b: [u8; RECORD_HEADER_LEN]) -> Self {
        let [content_type, v0, v1, l0, l1] = b;
        RecordHeader {
            content_type,
            version: u16::from_be_bytes([v0, v1]),
            len: u16::from_be_bytes([l0, l1]),
        }
    }

    /// Reads the header at the start of `b`, if `b` holds one.
    pub fn read(b: &[u8]) -> Option<Self> {
        let head: [u8; RECORD_HEADER_LEN] = b.get(..RECORD_HEADER_LEN)?.try_into().ok()?;
        Some(Self::new(head))
    }

    /// A version c2tap accepts for a record: major 3 (SSL 3.0 to TLS 1.3 all write
    /// 0x03xx; TLS 1.3 clients write 0x0301 or 0x0303).
    pub fn version_ok(&self) -> bool {
        self.version >> 8 == 3
    }

    /// A length a handshake record can have.
    pub fn len_ok(&self) -> bool {
        self.len != 0 && usize::from(self.len) <= MAX_RECORD_LEN
    }
}

/// Bytes [`probe`] needs to decide: the record header and the handshake type.
pub const PROBE_LEN: usize = RECORD_HEADER_LEN + 1;

/// Whether a stream starts like a TLS ClientHello: record type 22, record version
/// 0x0300..=0x0304, a record length a handshake record can have, handshake type 1.
/// Used on every port, so it is strict: six bytes that fit are rare in other protocols.
pub fn probe(first_bytes: &[u8]) -> Verdict {
    let fits = |i: usize, ok: fn(u8) -> bool| first_bytes.get(i).is_none_or(|&b| ok(b));
    if !fits(0, |b| b == CONTENT_HANDSHAKE) || !fits(1, |b| b == 3) || !fits(2, |b| b <= 4) {
        return Verdict::NoMatch;
    }
    if let Some(h) = RecordHeader::read(first_bytes)
        && !h.len_ok()
    {
        return Verdict::NoMatch;
    }
    match first_bytes.get(RECORD_HEADER_LEN) {
        None => Verdict::NeedMore,
        Some(&1) => Verdict::Match,
        Some(_) => Verdict::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_accepts_clienthello_start() {
        assert_eq!(probe(&[0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc]), Verdict::Match);
        assert_eq!(probe(&[0x16, 3, 0, 0, 50, 1]), Verdict::Match);
        assert_eq!(probe(&[0x16, 3, 4, 0, 50, 1]), Verdict::Match);
    }

    #[test]
    fn probe_waits_for_six_bytes() {
        assert_eq!(probe(&[]), Verdict::NeedMore);
        assert_eq!(probe(&[0x16]), Verdict::NeedMore);
        assert_eq!(probe(&[0x16, 3, 1, 2, 0]), Verdict::NeedMore);
    }

    #[test]
    fn probe_rejects_other_protocols() {
        assert_eq!(probe(b"GET / HTTP/1.1\r\n"), Verdict::NoMatch);
        assert_eq!(probe(b"SSH-2.0-OpenSSH"), Verdict::NoMatch);
        // SSLv2-format hello.
        assert_eq!(probe(&[0x80, 0x2e, 1, 3, 1]), Verdict::NoMatch);
        // Version 3.5, 2.0, zero length, over-long record, ServerHello.
        assert_eq!(probe(&[0x16, 3, 5]), Verdict::NoMatch);
        assert_eq!(probe(&[0x16, 2, 0]), Verdict::NoMatch);
        assert_eq!(probe(&[0x16, 3, 1, 0, 0, 1]), Verdict::NoMatch);
        assert_eq!(probe(&[0x16, 3, 1, 0xff, 0xff, 1]), Verdict::NoMatch);
        assert_eq!(probe(&[0x16, 3, 3, 0, 80, 2]), Verdict::NoMatch);
        // Application data record.
        assert_eq!(probe(&[0x17, 3, 3, 0, 80]), Verdict::NoMatch);
    }

    #[test]
    fn record_header_fields() {
        let h = RecordHeader::new([0x16, 3, 1, 2, 0]);
        assert_eq!(h.content_type, 22);
        assert_eq!(h.version, 0x0301);
        assert_eq!(h.len, 512);
        assert!(h.version_ok() && h.len_ok());
        assert!(RecordHeader::read(&[0x16, 3, 1, 2]).is_none());
    }
}
