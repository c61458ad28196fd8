//! Exchanges inside a connection: a *burst* is client payload after at least the
//! exchange gap of client silence (or the flow's first client payload). Each burst is a
//! beacon check-in (issue 12): an implant that keeps one TLS, QUIC or WebSocket
//! connection alive checks in by sending after a quiet spell, which connection starts
//! alone (RITA's view, from conn.log) never show.
//!
//! Only the client's payload counts: a server pushing data, and TCP's bare ACKs, start
//! no burst. A TCP segment that ends at or before the highest sequence number the client
//! already sent is a retransmission and is ignored (a retransmission timer backing off
//! past the gap would otherwise look like a check-in).
//!
//! A burst's size is known only when it ends, so it is handed on when the next one
//! starts, or when the flow ends: a check-in reaches the tracker one interval late, on
//! its own start time. HTTP and DNS flows time themselves (each request, each query), so
//! a burst in which an HTTP request was handed on, or read while the client's parser is
//! HTTP or DNS, is not handed on; a WebSocket's or a CONNECT tunnel's later bursts are.
//!
//! The gap is the beacon tracker's (`analyze::beacon::DEFAULT_EXCHANGE_GAP`, 5 s by
//! default); the worker passes it in [`super::AppConfig::exchange_gap`].
//!
//! Cost: the flow's clock is 40 bytes in its table entry; a client packet in a burst
//! costs a comparison and two stores, on done flows too.

use crate::time::{Duration, Timestamp};

/// A burst that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Burst {
    pub(super) start: Timestamp,
    /// Client payload bytes in it (retransmissions not counted).
    pub(super) bytes: u64,
    /// Bursts of the flow before this one.
    pub(super) index: u32,
    /// The connection's HTTP requests handed on when it started.
    pub(super) http_before: u32,
}

/// The burst a flow's client is in.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ExchangeClock {
    /// The open burst: started, and no silence of the gap since.
    open: Option<Open>,
    /// Bursts ended so far.
    ended: u32,
    /// One past the highest client sequence number seen (TCP), valid once `seq_known`.
    next_seq: u32,
    seq_known: bool,
}

#[derive(Clone, Copy, Debug)]
struct Open {
    start: Timestamp,
    last: Timestamp,
    bytes: u64,
    http_before: u32,
}

impl ExchangeClock {
    /// `len` (> 0) bytes of client payload at `ts`; `seq_end` is one past the segment's
    /// last sequence number (TCP) or `None` (UDP). Returns the burst this one ended.
    #[inline]
    pub(super) fn on_payload(
        &mut self,
        ts: Timestamp,
        len: usize,
        seq_end: Option<u32>,
        gap: Duration,
        http_requests: u32,
    ) -> Option<Burst> {
        if let Some(end) = seq_end {
            // Sequence space wraps: "after" is a positive signed distance.
            if self.seq_known && (end.wrapping_sub(self.next_seq) as i32) <= 0 {
                return None;
            }
            self.next_seq = end;
            self.seq_known = true;
        }
        let len = len as u64;
        if let Some(open) = &mut self.open
            && ts.since(open.last) < gap
        {
            open.bytes = open.bytes.saturating_add(len);
            open.last = open.last.max(ts);
            return None;
        }
        let ended = self.take();
        self.open = Some(Open {
            start: ts,
            last: ts,
            bytes: len,
            http_before: http_requests,
        });
        ended
    }

    /// The open burst, ended now (the flow ends).
    pub(super) fn take(&mut self) -> Option<Burst> {
        let open = self.open.take()?;
        let index = self.ended;
        self.ended = self.ended.saturating_add(1);
        Some(Burst {
            start: open.start,
            bytes: open.bytes,
            index,
            http_before: open.http_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_secs(5);

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn bursts_are_split_by_client_silence_and_handed_on_when_the_next_starts() {
        let mut c = ExchangeClock::default();
        assert_eq!(c.on_payload(at(0), 500, None, GAP, 0), None);
        assert_eq!(c.on_payload(at(40), 100, None, GAP, 0), None);
        // 4.9 s after the last client byte: still the same exchange.
        assert_eq!(c.on_payload(at(4_940), 10, None, GAP, 0), None);
        let first = c.on_payload(at(9_940), 90, None, GAP, 1);
        assert_eq!(
            first,
            Some(Burst {
                start: at(0),
                bytes: 610,
                index: 0,
                http_before: 0
            })
        );
        assert_eq!(
            c.take(),
            Some(Burst {
                start: at(9_940),
                bytes: 90,
                index: 1,
                http_before: 1
            })
        );
        assert_eq!(c.take(), None);
    }

    #[test]
    fn tcp_retransmissions_start_no_burst_and_add_no_bytes() {
        let mut c = ExchangeClock::default();
        assert_eq!(c.on_payload(at(0), 100, Some(1100), GAP, 0), None);
        // The same segment again after 6 s (a backed-off retransmission timer).
        assert_eq!(c.on_payload(at(6_000), 100, Some(1100), GAP, 0), None);
        // Sequence numbers wrap: 0xFFFF_FFF0 + 0x20 is after 1100 only if it is newer.
        let mut w = ExchangeClock::default();
        assert_eq!(w.on_payload(at(0), 16, Some(0xFFFF_FFF0), GAP, 0), None);
        assert!(w.on_payload(at(60_000), 32, Some(0x10), GAP, 0).is_some());
        assert_eq!(c.take().map(|b| b.bytes), Some(100));
    }

    #[test]
    fn time_going_back_stays_in_the_burst() {
        let mut c = ExchangeClock::default();
        assert_eq!(c.on_payload(at(10_000), 1, None, GAP, 0), None);
        assert_eq!(c.on_payload(at(0), 1, None, GAP, 0), None);
        assert_eq!(c.take().map(|b| (b.start, b.bytes)), Some((at(10_000), 2)));
    }
}
