//! Skipping message bodies without buffering them (RFC 9112 §6–7).
//!
//! A body is never kept: a Content-Length body is a counter, a chunked body a small
//! byte-at-a-time state machine over the chunk-size lines (extensions and trailers are
//! read past, never stored) with bulk skips over chunk data.

use super::InvalidKind;

/// Longest chunk-size line, extensions included. Real clients send the hex size alone;
/// 4 KiB is far above any legitimate extension and bounds how long we read a line that
/// never ends before calling the stream invalid.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Longest trailer line; a trailer is a header line, so the head cap applies.
pub const MAX_TRAILER_LINE: usize = super::MAX_HEAD_BYTES;

/// Where a body skip is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodySkip {
    /// `remaining` bytes of a Content-Length body.
    Length(u64),
    Chunked(Chunk),
    /// A response body delimited by the connection's end (RFC 9112 §6.3 rule 8).
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// At the start of a chunk-size line: at least one hex digit must come.
    SizeStart,
    /// Reading hex digits of the size.
    Size { value: u64, line: usize },
    /// Past the size: extensions or whitespace until the line's `\n`.
    Ext { value: u64, line: usize },
    /// Inside chunk data.
    Data(u64),
    /// After chunk data: `\r\n` (or a bare `\n`) must follow.
    DataEnd { cr: bool },
    /// Trailer section (after the last chunk) until an empty line; `line` counts the
    /// bytes of the current line other than `\r`.
    Trailer { line: usize },
}

/// Result of one skip call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Bytes of `data` consumed.
    pub consumed: usize,
    /// Body bytes (chunk data or length-delimited data) among them, for the counter.
    pub body_bytes: u64,
    pub end: SkipEnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipEnd {
    /// All of `data` consumed; the body goes on.
    More,
    /// The body ended after `consumed` bytes.
    Done,
    /// The chunked framing broke at `consumed`.
    Invalid(InvalidKind),
}

impl BodySkip {
    /// Skips body bytes at the start of `data`.
    pub fn skip(&mut self, data: &[u8]) -> Skipped {
        match self {
            BodySkip::Length(remaining) => {
                let avail = u64::try_from(data.len()).unwrap_or(u64::MAX);
                let take = (*remaining).min(avail);
                *remaining = remaining.saturating_sub(take);
                Skipped {
                    consumed: usize::try_from(take).unwrap_or(data.len()),
                    body_bytes: take,
                    end: if *remaining == 0 {
                        SkipEnd::Done
                    } else {
                        SkipEnd::More
                    },
                }
            }
            BodySkip::UntilClose => Skipped {
                consumed: data.len(),
                body_bytes: u64::try_from(data.len()).unwrap_or(u64::MAX),
                end: SkipEnd::More,
            },
            BodySkip::Chunked(state) => skip_chunked(state, data),
        }
    }
}

fn hex(b: u8) -> Option<u64> {
    char::from(b).to_digit(16).map(u64::from)
}

fn skip_chunked(state: &mut Chunk, data: &[u8]) -> Skipped {
    let mut i = 0usize;
    let mut body_bytes = 0u64;
    let done = |consumed, body_bytes, end| Skipped {
        consumed,
        body_bytes,
        end,
    };
    while let Some(rest) = data.get(i..) {
        let Some(&b) = rest.first() else { break };
        if let Chunk::Data(remaining) = *state {
            let avail = u64::try_from(rest.len()).unwrap_or(u64::MAX);
            let take = remaining.min(avail);
            body_bytes = body_bytes.saturating_add(take);
            i = i.saturating_add(usize::try_from(take).unwrap_or(rest.len()));
            let left = remaining.saturating_sub(take);
            *state = if left == 0 {
                Chunk::DataEnd { cr: false }
            } else {
                Chunk::Data(left)
            };
            continue;
        }
        i = i.saturating_add(1);
        let next = match *state {
            Chunk::SizeStart => match hex(b) {
                Some(d) => Chunk::Size { value: d, line: 1 },
                None => return done(i, body_bytes, SkipEnd::Invalid(InvalidKind::ChunkSize)),
            },
            Chunk::Size { value, line } | Chunk::Ext { value, line } => {
                let line = line.saturating_add(1);
                if line > MAX_CHUNK_LINE {
                    return done(
                        i,
                        body_bytes,
                        SkipEnd::Invalid(InvalidKind::ChunkLineTooLong),
                    );
                }
                let in_size = matches!(*state, Chunk::Size { .. });
                match (b, hex(b)) {
                    (b'\n', _) if value == 0 => Chunk::Trailer { line: 0 },
                    (b'\n', _) => Chunk::Data(value),
                    (_, Some(d)) if in_size => {
                        // More than 16 hex digits cannot be a real size.
                        match value.checked_mul(16).and_then(|v| v.checked_add(d)) {
                            Some(v) => Chunk::Size { value: v, line },
                            None => {
                                return done(
                                    i,
                                    body_bytes,
                                    SkipEnd::Invalid(InvalidKind::ChunkSize),
                                );
                            }
                        }
                    }
                    (b';' | b' ' | b'\t' | b'\r', _) => Chunk::Ext { value, line },
                    _ if !in_size => Chunk::Ext { value, line },
                    _ => return done(i, body_bytes, SkipEnd::Invalid(InvalidKind::ChunkSize)),
                }
            }
            Chunk::DataEnd { cr } => match b {
                b'\r' if !cr => Chunk::DataEnd { cr: true },
                b'\n' => Chunk::SizeStart,
                _ => return done(i, body_bytes, SkipEnd::Invalid(InvalidKind::ChunkFraming)),
            },
            Chunk::Trailer { line } => match b {
                b'\n' if line == 0 => {
                    *state = Chunk::SizeStart;
                    return done(i, body_bytes, SkipEnd::Done);
                }
                b'\n' => Chunk::Trailer { line: 0 },
                b'\r' => Chunk::Trailer { line },
                _ if line >= MAX_TRAILER_LINE => {
                    return done(
                        i,
                        body_bytes,
                        SkipEnd::Invalid(InvalidKind::ChunkLineTooLong),
                    );
                }
                _ => Chunk::Trailer {
                    line: line.saturating_add(1),
                },
            },
            // Handled above the match.
            Chunk::Data(_) => *state,
        };
        *state = next;
    }
    done(data.len(), body_bytes, SkipEnd::More)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn length_body_across_feeds() {
        let mut s = BodySkip::Length(5);
        assert_eq!(s.skip(b"abc").end, SkipEnd::More);
        let r = s.skip(b"deGET");
        assert_eq!((r.consumed, r.body_bytes, r.end), (2, 2, SkipEnd::Done));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let body = b"4;name=\"v\"\r\nWiki\r\n5 ; x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: t\r\n\r\nNEXT";
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        let r = s.skip(body);
        assert_eq!(r.end, SkipEnd::Done);
        assert_eq!(&body[r.consumed..], b"NEXT");
        assert_eq!(r.body_bytes, 4 + 5 + 14);
    }

    #[test]
    fn chunked_byte_by_byte() {
        let body = b"a\r\n0123456789\r\n0\r\n\r\n";
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        for (i, b) in body.iter().enumerate() {
            let r = s.skip(std::slice::from_ref(b));
            assert_eq!(r.consumed, 1);
            let last = i + 1 == body.len();
            assert_eq!(r.end == SkipEnd::Done, last, "at {i}");
        }
    }

    #[test]
    fn chunked_errors() {
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        assert_eq!(
            s.skip(b"zz\r\n").end,
            SkipEnd::Invalid(InvalidKind::ChunkSize)
        );
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        assert_eq!(
            s.skip(b"11111111111111111\r\n").end,
            SkipEnd::Invalid(InvalidKind::ChunkSize)
        );
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        assert_eq!(
            s.skip(b"1\r\nabc").end,
            SkipEnd::Invalid(InvalidKind::ChunkFraming)
        );
        let mut s = BodySkip::Chunked(Chunk::SizeStart);
        let long = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert_eq!(
            s.skip(&long).end,
            SkipEnd::Invalid(InvalidKind::ChunkLineTooLong)
        );
    }

    proptest::proptest! {
        #[test]
        fn random_chunked_never_overreads(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            split in 1usize..64,
        ) {
            let mut s = BodySkip::Chunked(Chunk::SizeStart);
            for part in bytes.chunks(split) {
                let r = s.skip(part);
                proptest::prop_assert!(r.consumed <= part.len());
                proptest::prop_assert!(r.body_bytes <= r.consumed as u64);
                if r.end != SkipEnd::More {
                    break;
                }
            }
        }
    }
}
