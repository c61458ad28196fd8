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
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        out: &mut impl FnMut(&[u8]),
    ) -> Result<(), FramingError> {
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn collect(f: &mut TcpDnsFramer, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<FramingError>) {
        let mut msgs = Vec::new();
        let mut errs = Vec::new();
        for c in chunks {
            if let Err(e) = f.feed(c, &mut |m: &[u8]| msgs.push(m.to_vec())) {
                errs.push(e);
            }
        }
        (msgs, errs)
    }

    #[test]
    fn two_messages_in_one_chunk() {
        let (a, b) = ([1u8; 12], [2u8; 20]);
        let mut chunk = frame(&a);
        chunk.extend(frame(&b));
        let mut f = TcpDnsFramer::new();
        let (msgs, errs) = collect(&mut f, &[&chunk]);
        assert_eq!(msgs, vec![a.to_vec(), b.to_vec()]);
        assert!(errs.is_empty());
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn one_message_split_in_three() {
        let body: Vec<u8> = (0..40).collect();
        let s = frame(&body);
        let mut f = TcpDnsFramer::new();
        // Split inside the prefix, then inside the body.
        let (msgs, errs) = collect(&mut f, &[&s[..1], &s[1..17], &s[17..]]);
        assert_eq!(msgs, vec![body]);
        assert!(errs.is_empty());
        // A second message split right after its prefix.
        let s2 = frame(&[9u8; 12]);
        let (msgs, _) = collect(&mut f, &[&s2[..2], &s2[2..]]);
        assert_eq!(msgs, vec![vec![9u8; 12]]);
    }

    #[test]
    fn bad_length_stops_the_stream() {
        let mut chunk = frame(&[1u8; 12]);
        chunk.extend([0, 5, 1, 2, 3, 4, 5]);
        chunk.extend(frame(&[3u8; 12]));
        let mut f = TcpDnsFramer::new();
        let (msgs, errs) = collect(&mut f, &[&chunk]);
        assert_eq!(msgs.len(), 1);
        assert_eq!(errs, vec![FramingError::BadLength(5)]);
        assert!(f.is_stopped());
        let (msgs, errs) = collect(&mut f, &[&frame(&[4u8; 12])]);
        assert!(msgs.is_empty() && errs.is_empty());
        // A bad length learnt from a prefix split over two chunks.
        let mut f = TcpDnsFramer::new();
        let (_, errs) = collect(&mut f, &[&[0], &[0, 0, 0]]);
        assert_eq!(errs, vec![FramingError::BadLength(0)]);
    }

    #[test]
    fn largest_message_is_buffered_and_freed() {
        let body = vec![7u8; u16::MAX as usize];
        let s = frame(&body);
        let mut f = TcpDnsFramer::new();
        let chunks: Vec<&[u8]> = s.chunks(1460).collect();
        let (msgs, errs) = collect(&mut f, &chunks);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].len(), u16::MAX as usize);
        assert!(errs.is_empty());
        assert!(f.buf.capacity() <= KEEP_CAPACITY);
    }
}
