//! The bounded in-memory backlog of the network sinks (`-o tls://`, `-o redis://`): whole
//! buffers of JSON lines that wait, oldest first, for the collector to be reachable.
//!
//! Where it sits: inside a sink, on the writer thread. Capped in bytes (the sink's
//! `buffer_bytes`); past the cap the oldest buffers are dropped whole and their lines
//! returned to the caller to be counted as output drops. A buffer is never split, so a
//! sink can treat one buffer as one unit of delivery (one TLS write, one Redis
//! pipeline) and send it again whole when that delivery was not confirmed.

use std::collections::VecDeque;
use std::thread;
use std::time::{Duration, Instant};

/// A sink that keeps a [`Backlog`] while its server is away and delivers it a step at
/// a time: the drain at shutdown is the same for every such sink.
pub(super) trait Redelivery {
    /// Connects when the backoff allows and sends what it can, until `deadline`.
    fn deliver(&mut self, deadline: Option<Instant>);
    fn backlog(&self) -> &Backlog;
    /// The next connection attempt is due now, the backoff back at its shortest.
    fn retry_now(&mut self);
    /// When the next connection attempt is due.
    fn next_attempt(&self) -> Instant;

    /// Delivers the backlog until it is empty or `deadline` has passed, trying again
    /// right away and then often, whatever the backoff had grown to: a server back
    /// within the window still gets the backlog.
    fn drain_until(&mut self, deadline: Instant) {
        self.retry_now();
        loop {
            self.deliver(Some(deadline));
            let now = Instant::now();
            if self.backlog().is_empty() || now >= deadline {
                break;
            }
            let wake = self.next_attempt().min(deadline);
            thread::sleep(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(10)),
            );
        }
    }
}

/// Buffers of whole lines waiting to be sent, oldest first, capped in bytes.
pub(super) struct Backlog {
    bufs: VecDeque<Vec<u8>>,
    bytes: u64,
    lines: u64,
    cap: u64,
}

impl Backlog {
    pub(super) fn new(cap: u64) -> Backlog {
        Backlog {
            bufs: VecDeque::new(),
            bytes: 0,
            lines: 0,
            cap,
        }
    }

    /// Appends a buffer; returns the lines dropped (oldest buffers first) to stay under
    /// the cap. A buffer bigger than the whole cap is itself dropped.
    pub(super) fn push(&mut self, buf: Vec<u8>) -> u64 {
        self.bytes += buf.len() as u64;
        self.lines += count_lines(&buf);
        self.bufs.push_back(buf);
        let mut dropped = 0;
        while self.bytes > self.cap {
            dropped += self.pop_front();
        }
        dropped
    }

    pub(super) fn front(&self) -> Option<&[u8]> {
        self.bufs.front().map(Vec::as_slice)
    }

    /// Removes the oldest buffer; returns its line count.
    pub(super) fn pop_front(&mut self) -> u64 {
        let Some(buf) = self.bufs.pop_front() else {
            return 0;
        };
        let n = count_lines(&buf);
        self.bytes -= buf.len() as u64;
        self.lines -= n;
        n
    }

    pub(super) fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    /// Empties the backlog; returns the lines it held.
    pub(super) fn clear(&mut self) -> u64 {
        let n = self.lines;
        self.bufs.clear();
        self.bytes = 0;
        self.lines = 0;
        n
    }

    /// Lines waiting.
    pub(super) fn lines(&self) -> u64 {
        self.lines
    }

    /// The cap in bytes.
    pub(super) fn cap(&self) -> u64 {
        self.cap
    }
}

/// `64 MiB`, `8 KiB`, `1500 bytes`: for messages.
pub(super) fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

pub(super) fn count_lines(buf: &[u8]) -> u64 {
    buf.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_drops_oldest_whole_buffers_and_counts_lines() {
        let mut b = Backlog::new(20);
        assert_eq!(b.push(b"a\nb\n".to_vec()), 0);
        assert_eq!(b.push(b"cccccccc\n".to_vec()), 0);
        assert_eq!(b.lines, 3);
        // 4 + 9 + 10 > 20: the oldest buffer (two lines) goes.
        assert_eq!(b.push(b"dddddddd\ne".to_vec()), 2);
        assert_eq!(b.front(), Some(&b"cccccccc\n"[..]));
        assert_eq!((b.bytes, b.lines), (19, 2));
        // Bigger than the cap on its own: everything goes, itself included.
        assert_eq!(b.push(vec![b'x'; 30]), 2);
        assert!(b.is_empty());
        assert_eq!((b.bytes, b.lines), (0, 0));
    }

    #[test]
    fn backlog_clear_reports_lines() {
        let mut b = Backlog::new(1 << 20);
        b.push(b"1\n2\n".to_vec());
        b.push(b"3\n".to_vec());
        assert_eq!(b.pop_front(), 2);
        assert_eq!(b.clear(), 1);
        assert_eq!(b.clear(), 0);
    }

    #[test]
    fn sizes_for_messages() {
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(8 << 10), "8 KiB");
        assert_eq!(human_size(1500), "1500 bytes");
    }
}
