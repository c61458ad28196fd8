//! DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by
//! a two-byte length. Input is the in-order byte stream of one direction, in chunks of
//! any size: a chunk may hold several messages, a message may span several chunks.
//!
//! Zero-copy when a message lies within one chunk; only a message split over chunks
//! is copied, into a buffer bounded by [`MAX_FRAME`]. A length prefix shorter than a
//! DNS header cannot start a message, and after it the framing is lost for good (the
//! length of the next message is unknowable), so the stream stops being parsed. The
//! caller stops the framer on a reassembly gap for the same reason ([`TcpDnsFramer::stop`]).

use super::parse::HEADER_LEN;

/// Largest frame: the 2-byte prefix plus the largest length it can state.
pub const MAX_FRAME: usize = 2 + u16::MAX as usize;

/// Buffer capacity kept between split messages; larger buffers are freed once used.
const KEEP_CAPACITY: usize = 4096;

/// Why a stream stopped being parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("length prefix {0} is shorter than a DNS header")]
    BadLength(u16),
}

/// Framer state of one direction of one TCP connection.
#[derive(Debug, Default)]
pub struct TcpDnsFramer {
    /// Bytes of a frame split over chunks (prefix included); at most [`MAX_FRAME`].
    buf: Vec<u8>,
    stopped: bool,
}

impl TcpDnsFramer {
    pub fn new() -> TcpDnsFramer {
        TcpDnsFramer::default()
    }

    /// True once the stream has been given up.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Gives the stream up (after a gap in reassembly) and frees the buffer.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.buf = Vec::new();
    }

    /// Bytes held of an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Consumes `bytes`, calling `out` with each complete message (without its prefix).
    /// Returns the error once, on the bad length that stops the stream; bytes fed
    /// after that are ignored.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut impl FnMut(&[u8])) -> Result<(), FramingError> {
        if self.stopped {
            return Ok(());
        }
        // Each turn consumes at least one byte or returns.
        while !bytes.is_empty() {
            if self.buf.is_empty() {
                let Some(len) = prefix(bytes) else {
                    self.buf.extend_from_slice(bytes);
                    return Ok(());
                };
                self.check(len)?;
                let end = 2usize.saturating_add(usize::from(len));
                match (bytes.get(2..end), bytes.get(end..)) {
                    (Some(message), Some(rest)) => {
                        out(message);
                        bytes = rest;
                    }
                    _ => {
                        self.buf.reserve_exact(end);
                        self.buf.extend_from_slice(bytes);
                        return Ok(());
                    }
                }
            } else {
                // Complete the prefix first, then the message.
                let want = match prefix(&self.buf) {
                    Some(len) => 2usize.saturating_add(usize::from(len)),
                    None => 2,
                };
                let take = want.saturating_sub(self.buf.len()).min(bytes.len());
                let (head, rest) = bytes.split_at_checked(take).unwrap_or((bytes, &[]));
                self.buf.extend_from_slice(head);
                bytes = rest;
                if want == 2 {
                    if let Some(len) = prefix(&self.buf) {
                        self.check(len)?;
                    }
                    continue;
                }
                if self.buf.len() == want {
                    out(self.buf.get(2..).unwrap_or(&[]));
                    self.buf.clear();
                    // Do not keep a 64 KiB allocation per idle connection.
                    if self.buf.capacity() > KEEP_CAPACITY {
                        self.buf = Vec::new();
                    }
                }
            }
        }
        Ok(())
    }

    fn check(&mut self, len: u16) -> Result<(), FramingError> {
        if usize::from(len) < HEADER_LEN {
            self.stop();
            return Err(FramingError::BadLength(len));
        }
        Ok(())
    }
}

fn prefix(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}
