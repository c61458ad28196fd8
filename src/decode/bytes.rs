//! Checked big- and little-endian reads: the only way the decoder touches wire bytes.
//! Each returns `None` when the read would run past the captured data.

#[inline]
pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?
        .first_chunk::<2>()
        .map(|c| u16::from_be_bytes(*c))
}

#[inline]
pub(crate) fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..)?
        .first_chunk::<2>()
        .map(|c| u16::from_le_bytes(*c))
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?
        .first_chunk::<4>()
        .map(|c| u32::from_be_bytes(*c))
}

#[inline]
pub(crate) fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..)?
        .first_chunk::<4>()
        .map(|c| u32::from_le_bytes(*c))
}

#[inline]
pub(crate) fn arr4(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..)?.first_chunk::<4>().copied()
}

#[inline]
pub(crate) fn arr16(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..)?.first_chunk::<16>().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&b, 0), Some(0x0102));
        assert_eq!(le16(&b, 0), Some(0x0201));
        assert_eq!(be32(&b, 1), Some(0x0203_0405));
        assert_eq!(le32(&b, 1), Some(0x0504_0302));
        assert_eq!(be32(&b, 2), None);
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be16(&b, usize::MAX), None);
        assert_eq!(u8_at(&b, 5), None);
        assert_eq!(arr16(&b, 0), None);
        assert_eq!(arr4(&b, 1), Some([2, 3, 4, 5]));
    }
}
