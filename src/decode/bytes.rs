//! Checked big- and little-endian reads: the only way the decoder touches wire bytes.
//! Each returns `None` when the read would run past the captured data.
//!
//! Multi-byte reads take a named field range (smoltcp's `wire::field`): each header
//! file has a `mod field` of such ranges, one-byte fields as plain indexes, and `Rest`
//! for what follows a header. A read takes its width from its type and its place from
//! the range's start, exactly as the plain offsets it replaced did, so the code (and
//! the fast path through `transport::udp`) is the same instruction for instruction;
//! the range's end is checked against the width in debug builds, where the tests run.

use std::ops::{Range, RangeFrom};

/// The bytes of one header field.
pub(crate) type Field = Range<usize>;
/// What follows a header (or a field), to the end of the buffer.
pub(crate) type Rest = RangeFrom<usize>;

#[inline]
pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

#[inline]
pub(crate) fn be16(b: &[u8], f: Field) -> Option<u16> {
    debug_assert_eq!(f.len(), 2, "field width");
    b.get(f.start..)?
        .first_chunk::<2>()
        .map(|c| u16::from_be_bytes(*c))
}

#[inline]
pub(crate) fn le16(b: &[u8], f: Field) -> Option<u16> {
    debug_assert_eq!(f.len(), 2, "field width");
    b.get(f.start..)?
        .first_chunk::<2>()
        .map(|c| u16::from_le_bytes(*c))
}

#[inline]
pub(crate) fn be32(b: &[u8], f: Field) -> Option<u32> {
    debug_assert_eq!(f.len(), 4, "field width");
    b.get(f.start..)?
        .first_chunk::<4>()
        .map(|c| u32::from_be_bytes(*c))
}

#[inline]
pub(crate) fn le32(b: &[u8], f: Field) -> Option<u32> {
    debug_assert_eq!(f.len(), 4, "field width");
    b.get(f.start..)?
        .first_chunk::<4>()
        .map(|c| u32::from_le_bytes(*c))
}

#[inline]
pub(crate) fn arr4(b: &[u8], f: Field) -> Option<[u8; 4]> {
    debug_assert_eq!(f.len(), 4, "field width");
    b.get(f.start..)?.first_chunk::<4>().copied()
}

#[inline]
pub(crate) fn arr16(b: &[u8], f: Field) -> Option<[u8; 16]> {
    debug_assert_eq!(f.len(), 16, "field width");
    b.get(f.start..)?.first_chunk::<16>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 0..2), Some(0x0102));
        assert_eq!(le16(&b, 0..2), Some(0x0201));
        assert_eq!(be32(&b, 1..5), Some(0x0203_0405));
        assert_eq!(le32(&b, 1..5), Some(0x0504_0302));
        assert_eq!(be32(&b, 2..6), None);
        assert_eq!(be16(&b, 4..6), None);
        assert_eq!(be16(&b, usize::MAX - 2..usize::MAX), None);
        assert_eq!(u8_at(&b, 5), None);
        assert_eq!(arr16(&b, 0..16), None);
        assert_eq!(arr4(&b, 1..5), Some([2, 3, 4, 5]));
    }
}
