//! One input of a replay: the formats ask for "the next n bytes" and get a contiguous
//! slice, never the whole file. Regular files are mapped a window at a time
//! ([`super::mapped`]); pipes, stdin and small files go through a growable read buffer.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::mapped::{MappedInput, Window};

/// Bytes asked of `read()` at a time (the buffer's starting size). One read per MiB
/// keeps syscall cost negligible at disk speed while the buffer stays small; it also
/// holds any ordinary frame (the libpcap snaplen limit is 256 KiB) without growing.
pub const READ_CHUNK: usize = 1 << 20;

/// Largest record (pcap packet record or pcapng block) the reader accepts. Packet records
/// are at most [`MAX_SNAPLEN`] bytes plus a header in any sane file; pcapng non-packet
/// blocks (name resolution, decryption secrets, custom blocks) can be bigger, and 16 MiB
/// is Wireshark's own ceiling for a block. Anything larger is a corrupt length field,
/// reported as an error instead of allocating what it claims.
pub const MAX_RECORD: usize = 16 * 1024 * 1024 + MAX_SNAPLEN;

/// libpcap's MAXIMUM_SNAPLEN: the longest frame a capture can hold. A record whose caplen
/// exceeds the file's snaplen (or this, when the snaplen is 0 or larger) is a corrupt
/// file.
pub const MAX_SNAPLEN: usize = 262_144;

pub(super) enum Input {
    Read(ReadInput),
    Mapped(MappedInput),
}

impl Input {
    /// Gives the read buffer back for the next file (a mapped input has none).
    pub fn into_buf(self) -> Vec<u8> {
        match self {
            Input::Read(r) => r.into_buf(),
            Input::Mapped(_) => Vec::new(),
        }
    }

    /// File offset of the first unconsumed byte.
    pub fn offset(&self) -> u64 {
        match self {
            Input::Read(r) => r.offset(),
            Input::Mapped(m) => m.offset(),
        }
    }

    /// The unconsumed bytes at hand.
    #[inline]
    pub fn avail(&self) -> &[u8] {
        match self {
            Input::Read(r) => r.avail(),
            Input::Mapped(m) => m.avail(),
        }
    }

    /// The mapped window `avail()` lies in, when the input is mapped: frames from it can
    /// be shared instead of copied.
    pub fn window(&self) -> Option<&Arc<Window>> {
        match self {
            Input::Read(_) => None,
            Input::Mapped(m) => m.window(),
        }
    }

    /// Drops `n` bytes from the front (at most what is available).
    pub fn consume(&mut self, n: usize) {
        match self {
            Input::Read(r) => r.consume(n),
            Input::Mapped(m) => m.consume(n),
        }
    }

    /// Makes `n` bytes (`n <= MAX_RECORD + READ_CHUNK`) available at the front. `Ok(false)`
    /// when the input ends first; `avail()` then holds what there was. Every byte newly
    /// read or mapped is added to `bytes_read`.
    #[inline]
    pub fn fill(&mut self, n: usize, bytes_read: &mut u64) -> io::Result<bool> {
        match self {
            Input::Read(r) => r.fill(n, bytes_read),
            Input::Mapped(m) => m.fill(n, bytes_read),
        }
    }
}

/// A growable read buffer over a `Read`.
pub(super) struct ReadInput {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not consumed.
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`, for error messages.
    offset: u64,
    /// Bytes taken from the input itself, when `reader` decompresses it: what
    /// `bytes_read` counts then (see [`ReadInput::counting`]).
    raw: Option<Arc<AtomicU64>>,
}

impl ReadInput {
    /// Wraps `reader`, reusing `buf` (the previous file's buffer) to avoid reallocating.
    pub fn new(reader: Box<dyn Read + Send>, mut buf: Vec<u8>) -> ReadInput {
        if buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        ReadInput {
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            raw: None,
        }
    }

    /// Counts `bytes_read` from `raw` (bytes the input gave, before decompression)
    /// instead of the bytes `reader` returns.
    pub fn counting(mut self, raw: Arc<AtomicU64>) -> ReadInput {
        self.raw = Some(raw);
        self
    }

    /// Gives the buffer back for the next file.
    pub fn into_buf(self) -> Vec<u8> {
        self.buf
    }

    /// File offset of the first unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The unconsumed bytes read so far.
    pub fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Drops `n` bytes from the front (at most what is available).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// [`Input::fill`], reading and growing the buffer as needed.
    pub fn fill(&mut self, n: usize, bytes_read: &mut u64) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        // Move the partial record to the front so the read lands after it.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            // Double rather than grow to exactly n: a file of big records then
            // reallocates a handful of times, not once per record.
            let want = n.max(
                self.buf
                    .len()
                    .saturating_mul(2)
                    .min(MAX_RECORD + READ_CHUNK),
            );
            self.buf.resize(want, 0);
        }
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            let space = self.buf.get_mut(self.end..).unwrap_or(&mut []);
            let room = space.len();
            if room == 0 {
                // Cannot happen (the buffer holds n bytes), but never spin on it.
                return Ok(false);
            }
            match self.reader.read(space) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    // A reader claiming more than it was given is not trusted.
                    self.end += k.min(room);
                    match &self.raw {
                        Some(raw) => *bytes_read += raw.swap(0, Ordering::Relaxed),
                        None => *bytes_read += k as u64,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most 3 bytes per call, like a pipe.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let rest = &self.0[self.1..];
            let k = rest.len().min(3).min(out.len());
            out[..k].copy_from_slice(&rest[..k]);
            self.1 += k;
            Ok(k)
        }
    }

    #[test]
    fn fill_consume_and_grow() {
        let data: Vec<u8> = (0..=255u8).cycle().take(READ_CHUNK + 100).collect();
        let mut inp = ReadInput::new(Box::new(Trickle(data.clone(), 0)), Vec::new());
        let mut n = 0;
        assert!(inp.fill(10, &mut n).unwrap());
        assert_eq!(&inp.avail()[..10], &data[..10]);
        inp.consume(5);
        assert_eq!(inp.offset(), 5);
        // More than the initial buffer: it grows and keeps the bytes in order.
        assert!(inp.fill(READ_CHUNK + 50, &mut n).unwrap());
        assert_eq!(&inp.avail()[..READ_CHUNK + 50], &data[5..READ_CHUNK + 55]);
        inp.consume(READ_CHUNK + 50);
        assert!(!inp.fill(100, &mut n).unwrap());
        assert_eq!(inp.avail(), &data[READ_CHUNK + 55..]);
        assert_eq!(n, data.len() as u64);
    }
}
