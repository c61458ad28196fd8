//! The client's CRYPTO stream in the Initial space (RFC 9000 §19.6, RFC 9001 §4.1.3),
//! put back together from frames that arrive in any order, any number of times,
//! spread over any number of packets (Chrome scatters its ClientHello over many small
//! CRYPTO frames in two or more Initials, mixed with PING and PADDING).
//!
//! Pieces are kept as they came (sorted by offset), so memory follows the bytes that
//! really arrived, never a claimed offset. Only the first
//! `HANDSHAKE_HEADER_LEN + MAX_CLIENT_HELLO` bytes of the stream are kept: that is all
//! `parse_client_hello` reads. Bounded by [`MAX_CRYPTO_BYTES`] and [`MAX_PIECES`].

use crate::proto::handshake::{HANDSHAKE_HEADER_LEN, MAX_CLIENT_HELLO};

/// CRYPTO bytes held per connection, duplicates and overlaps included. The useful
/// prefix is at most 16 KiB + 4 (what `parse_client_hello` reads); 64 KiB leaves room
/// for a client that resends its whole hello three times (loss, PTO, Retry) with
/// different frame boundaries before it is complete, and still bounds a hostile flow.
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;

/// Pieces held per connection. Chrome splits a 1.8 KB hello into ~10–20 CRYPTO frames;
/// pieces that touch are merged, so a real hello never comes close. 128 pieces of a few
/// bytes each is what a hostile sender needs to reach the cap: cheap to scan.
pub const MAX_PIECES: usize = 128;

/// End of the stream prefix c2tap keeps (header + the most `parse_client_hello` reads).
const KEEP_END: u64 = (HANDSHAKE_HEADER_LEN + MAX_CLIENT_HELLO) as u64;

/// What became of one CRYPTO frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// New bytes stored (how many).
    Stored(usize),
    /// Every byte was already held, or it lies past what c2tap reads.
    Ignored,
    /// Refused: a cap would be passed.
    Capped,
}

/// CRYPTO stream reassembly for one connection's client Initials.
#[derive(Debug, Default)]
pub struct CryptoReassembly {
    /// (offset, bytes), sorted by offset; may overlap.
    pieces: Vec<(u64, Vec<u8>)>,
    held: usize,
}

impl CryptoReassembly {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held (for the caps and for memory accounting).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Adds the frame's bytes at `offset`.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Insert {
        if offset >= KEEP_END || data.is_empty() {
            return Insert::Ignored;
        }
        // Clip to the prefix c2tap reads; `offset < KEEP_END` so the difference fits.
        let room = usize::try_from(KEEP_END.saturating_sub(offset)).unwrap_or(usize::MAX);
        let data = data.get(..room.min(data.len())).unwrap_or(data);
        let len = data.len() as u64;
        let end = offset.saturating_add(len);
        if self.covered(offset, end) {
            return Insert::Ignored;
        }
        if self.pieces.len() >= MAX_PIECES
            || self.held.saturating_add(data.len()) > MAX_CRYPTO_BYTES
        {
            return Insert::Capped;
        }
        let at = self.pieces.partition_point(|(o, _)| *o <= offset);
        self.pieces.insert(at, (offset, data.to_vec()));
        self.held = self.held.saturating_add(data.len());
        Insert::Stored(data.len())
    }

    /// Whether `[start, end)` is entirely held already.
    fn covered(&self, start: u64, end: u64) -> bool {
        let mut reach = start;
        for (o, d) in &self.pieces {
            if *o > reach {
                break;
            }
            reach = reach.max(o.saturating_add(d.len() as u64));
            if reach >= end {
                return true;
            }
        }
        false
    }

    /// Bytes of the stream held contiguously from offset 0.
    pub fn contiguous(&self) -> u64 {
        let mut reach = 0u64;
        for (o, d) in &self.pieces {
            if *o > reach {
                break;
            }
            reach = reach.max(o.saturating_add(d.len() as u64));
        }
        reach
    }

    /// The stream's first `len` bytes, when they are all held.
    pub fn prefix(&self, len: usize) -> Option<Vec<u8>> {
        let want = len as u64;
        if self.contiguous() < want {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        for (o, d) in &self.pieces {
            let have = out.len() as u64;
            if have >= want {
                break;
            }
            let end = o.saturating_add(d.len() as u64);
            if end <= have {
                continue;
            }
            // `o <= have` (contiguous) and `have - o < d.len()`.
            let skip = usize::try_from(have.saturating_sub(*o)).ok()?;
            let take = usize::try_from(want.min(end).saturating_sub(have)).ok()?;
            out.extend_from_slice(d.get(skip..skip.checked_add(take)?)?);
        }
        (out.len() == len).then_some(out)
    }

    /// Length of the whole handshake message at the start of the stream (header
    /// included), as far as c2tap reads it: `4 + min(declared, MAX_CLIENT_HELLO)`,
    /// once its 4-byte header is held.
    pub fn message_len(&self) -> Option<usize> {
        let head = self.prefix(HANDSHAKE_HEADER_LEN)?;
        let declared = head
            .get(1..4)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        HANDSHAKE_HEADER_LEN.checked_add(declared.min(MAX_CLIENT_HELLO))
    }

    /// Drops everything held (after the hello was read, or the flow gave up).
    pub fn clear(&mut self) {
        self.pieces = Vec::new();
        self.held = 0;
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
    fn out_of_order_duplicates_overlaps() {
        let stream: Vec<u8> = (0..100u8).collect();
        let mut r = CryptoReassembly::new();
        assert_eq!(r.insert(50, &stream[50..80]), Insert::Stored(30));
        assert_eq!(r.contiguous(), 0);
        assert_eq!(r.insert(60, &stream[60..70]), Insert::Ignored);
        assert_eq!(r.insert(0, &stream[0..20]), Insert::Stored(20));
        assert_eq!(r.insert(10, &stream[10..55]), Insert::Stored(45));
        assert_eq!(r.contiguous(), 80);
        assert_eq!(r.insert(70, &stream[70..100]), Insert::Stored(30));
        assert_eq!(r.prefix(100).unwrap(), stream);
        assert_eq!(r.prefix(101), None);
        assert_eq!(r.prefix(33).unwrap(), &stream[..33]);
    }

    #[test]
    fn message_len_from_header() {
        let mut r = CryptoReassembly::new();
        assert_eq!(r.message_len(), None);
        r.insert(0, &[1, 0, 1]);
        assert_eq!(r.message_len(), None);
        r.insert(3, &[0x02]);
        assert_eq!(r.message_len(), Some(4 + 0x102));
        let mut big = CryptoReassembly::new();
        big.insert(0, &[1, 0xff, 0xff, 0xff]);
        assert_eq!(big.message_len(), Some(4 + MAX_CLIENT_HELLO));
    }

    #[test]
    fn caps() {
        let mut r = CryptoReassembly::new();
        for i in 0..MAX_PIECES as u64 {
            assert_eq!(r.insert(i * 10, &[1]), Insert::Stored(1));
        }
        assert_eq!(r.insert(5, &[1]), Insert::Capped);
        assert_eq!(r.insert(KEEP_END, &[1]), Insert::Ignored);
        // A piece running past what c2tap reads is clipped.
        let mut r = CryptoReassembly::new();
        assert_eq!(r.insert(KEEP_END - 2, &[1, 2, 3, 4]), Insert::Stored(2));
        // The byte cap counts overlapping resends.
        let mut r = CryptoReassembly::new();
        let chunk = vec![7u8; 8000];
        let mut stored = 0;
        for round in 0..20u64 {
            if let Insert::Stored(n) = r.insert(round * 800, &chunk) {
                stored += n;
            }
        }
        assert!(stored <= MAX_CRYPTO_BYTES);
        assert!(r.held() <= MAX_CRYPTO_BYTES);
    }
}
