//! Bounded IPv4/IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5).
//!
//! Every limit is named in [`DefragLimits`]; over a limit the pool drops the datagram
//! concerned (the oldest, for the pool-wide limits) and counts its fragments under a
//! reason. Overlapping data is resolved "first copy wins" and counted: a later fragment
//! never rewrites bytes already held (RFC 5722 asks IPv6 receivers to drop such
//! datagrams; keeping the first copy gives the same answer as tshark on benign
//! retransmissions while staying immune to rewriting).
//!
//! Time is packet time: a datagram expires `max_age` after its first fragment.

use std::collections::VecDeque;
use std::net::IpAddr;

use hashbrown::HashMap;

use super::error::{DecodeCounters, FragDropReason};
use super::ip::Frag;
use crate::time::{Duration, Timestamp};

/// Datagrams in flight. Linux keeps up to 4 MiB of fragments (`ipfrag_high_thresh`),
/// which at a typical 2–4 KiB per datagram in flight is about a thousand.
pub const DEFAULT_MAX_DATAGRAMS: usize = 1024;
/// Bytes held across all datagrams: Linux's `ipfrag_high_thresh` default.
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Largest reassembled payload: an IPv4 total length and an IPv6 payload length are
/// 16-bit fields (jumbograms cannot be fragmented, RFC 2675 §3).
pub const DEFAULT_MAX_DATAGRAM_SIZE: usize = 65_535;
/// Fragments per datagram: a 64 KiB datagram cut at IPv4's minimum MTU of 576 bytes
/// needs 117 fragments; 128 allows that and refuses tiny-fragment floods.
pub const DEFAULT_MAX_FRAGMENTS: usize = 128;
/// Age of a datagram in packet time: Linux's `ipfrag_time` default.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30);

/// The pool's caps. `Default` gives the named defaults above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub max_datagram_size: usize,
    pub max_fragments: usize,
    pub max_age: Duration,
}

impl Default for DefragLimits {
    fn default() -> DefragLimits {
        DefragLimits {
            max_datagrams: DEFAULT_MAX_DATAGRAMS,
            max_bytes: DEFAULT_MAX_BYTES,
            max_datagram_size: DEFAULT_MAX_DATAGRAM_SIZE,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

/// A datagram's identity: RFC 791 §3.2 (source, destination, protocol, identification);
/// RFC 8200 §4.5 (source, destination, identification; `proto` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

#[derive(Debug)]
struct Datagram {
    /// Insertion serial: matches the entry in `order` that is this datagram's.
    serial: u64,
    first_seen: Timestamp,
    buf: Vec<u8>,
    /// Byte ranges held, sorted, merged, disjoint; at most one per fragment.
    ranges: Vec<(u32, u32)>,
    /// Payload length, known once the last fragment (more-fragments clear) arrived.
    total: Option<u32>,
    /// Upper-layer protocol (IPv6: from the first fragment's fragment header).
    proto: Option<u8>,
    fragments: u64,
}

/// One fragment as the pool sees it.
pub(crate) struct Piece<'d> {
    pub key: FragKey,
    pub frag: Frag,
    /// Protocol from the IPv4 header, or the IPv6 fragment header's next header.
    pub proto: u8,
    /// The fragment's payload.
    pub data: &'d [u8],
    /// The snaplen cut it.
    pub truncated: bool,
}

/// What happened to a fragment the pool was given.
pub(crate) enum Offer<'p> {
    Held,
    /// The datagram is complete: its protocol and payload (borrowed from the pool until
    /// the next call).
    Complete(u8, &'p [u8]),
    Dropped(FragDropReason),
}

#[derive(Debug)]
pub(crate) struct DefragPool {
    limits: DefragLimits,
    map: HashMap<FragKey, Datagram>,
    /// Keys in insertion (hence packet-time) order; entries whose serial no longer
    /// matches the map are stale and skipped. Compacted when it outgrows the map.
    order: VecDeque<(FragKey, u64)>,
    next_serial: u64,
    bytes_held: usize,
    /// The last completed datagram, lent to the caller.
    done: Vec<u8>,
}

impl DefragPool {
    pub(crate) fn new(limits: DefragLimits) -> DefragPool {
        DefragPool {
            limits,
            map: HashMap::new(),
            order: VecDeque::new(),
            next_serial: 0,
            bytes_held: 0,
            done: Vec::new(),
        }
    }

    pub(crate) fn datagrams_in_flight(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn bytes_held(&self) -> usize {
        self.bytes_held
    }

    /// Offers one fragment.
    pub(crate) fn offer(
        &mut self,
        ts: Timestamp,
        piece: Piece<'_>,
        counters: &mut DecodeCounters,
    ) -> Offer<'_> {
        let Piece {
            key,
            frag,
            proto,
            data,
            truncated,
        } = piece;
        counters.fragments_received = counters.fragments_received.saturating_add(1);
        self.expire(ts, counters);
        if truncated {
            return self.reject(key, FragDropReason::Truncated, counters);
        }
        let start = frag.offset;
        let Some(end) = u32::try_from(data.len())
            .ok()
            .and_then(|n| start.checked_add(n))
        else {
            return self.reject(key, FragDropReason::TooBig, counters);
        };
        if usize::try_from(end).map_or(true, |e| e > self.limits.max_datagram_size) {
            return self.reject(key, FragDropReason::TooBig, counters);
        }

        // Room for a new datagram, then for its bytes, evicting the oldest others.
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.limits.max_datagrams.max(1) {
                if !self.evict_oldest(None, FragDropReason::DatagramsCap, counters) {
                    break;
                }
            }
            let serial = self.next_serial;
            self.next_serial = self.next_serial.wrapping_add(1);
            self.map.insert(
                key,
                Datagram {
                    serial,
                    first_seen: ts,
                    buf: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    proto: None,
                    fragments: 0,
                },
            );
            self.order.push_back((key, serial));
            self.compact_order();
        }
        // The buffer doubles (so in-order fragments are not copied again and again) but
        // never past the largest datagram; the growth is planned before it is made so
        // that the byte cap holds exactly.
        let end_len = usize::try_from(end).unwrap_or(usize::MAX);
        let cap = self.map.get(&key).map_or(0, |d| d.buf.capacity());
        let new_cap = if end_len <= cap {
            cap
        } else {
            end_len.max(cap.saturating_mul(2).min(self.limits.max_datagram_size))
        };
        let grow = new_cap.saturating_sub(cap);
        while self.bytes_held.saturating_add(grow) > self.limits.max_bytes {
            if !self.evict_oldest(Some(key), FragDropReason::MemoryCap, counters) {
                return self.reject(key, FragDropReason::MemoryCap, counters);
            }
        }

        let Some(d) = self.map.get_mut(&key) else {
            // Unreachable: the datagram was inserted above and only others were evicted.
            return self.reject(key, FragDropReason::Inconsistent, counters);
        };
        d.fragments = d.fragments.saturating_add(1);
        if usize::try_from(d.fragments).map_or(true, |n| n > self.limits.max_fragments) {
            return self.reject(key, FragDropReason::TooManyFragments, counters);
        }
        // Lengths must agree: one end, and no data past it.
        let consistent = match (frag.more, d.total) {
            (false, Some(t)) => t == end,
            (false, None) => d.ranges.last().is_none_or(|&(_, e)| e <= end),
            (true, Some(t)) => end <= t,
            (true, None) => true,
        };
        if !consistent {
            return self.reject(key, FragDropReason::Inconsistent, counters);
        }
        if !frag.more {
            d.total = Some(end);
        }
        if start == 0 {
            d.proto.get_or_insert(proto);
        }
        if end_len > d.buf.len() {
            d.buf.reserve_exact(new_cap.saturating_sub(d.buf.len()));
            d.buf.resize(end_len, 0);
            let added = d.buf.capacity().saturating_sub(cap);
            self.bytes_held = self.bytes_held.saturating_add(added);
        }
        if copy_holes(d, start, end, data) {
            counters.fragments_overlapping = counters.fragments_overlapping.saturating_add(1);
        }

        let complete = matches!((d.total, d.ranges.as_slice()), (Some(t), [(0, e)]) if *e == t);
        if !complete {
            return Offer::Held;
        }
        let Some(mut d) = self.remove(&key) else {
            return Offer::Held;
        };
        counters.datagrams_reassembled = counters.datagrams_reassembled.saturating_add(1);
        counters.fragments_reassembled = counters.fragments_reassembled.saturating_add(d.fragments);
        let proto = key_proto(&key, d.proto);
        std::mem::swap(&mut self.done, &mut d.buf);
        let len = usize::try_from(d.total.unwrap_or(0)).unwrap_or(0);
        Offer::Complete(proto, self.done.get(..len).unwrap_or(&[]))
    }

    /// Drops the current fragment, and the datagram it belongs to when held.
    fn reject(
        &mut self,
        key: FragKey,
        reason: FragDropReason,
        c: &mut DecodeCounters,
    ) -> Offer<'_> {
        // The fragment being offered is counted here; held ones when their datagram goes.
        let held = self.remove(&key).map_or(0, |d| d.fragments);
        let this_one_counted = matches!(
            reason,
            FragDropReason::TooManyFragments | FragDropReason::Inconsistent
        );
        c.add_dropped(
            reason,
            if this_one_counted {
                held
            } else {
                held.saturating_add(1)
            },
        );
        Offer::Dropped(reason)
    }

    fn remove(&mut self, key: &FragKey) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.bytes_held = self.bytes_held.saturating_sub(d.buf.capacity());
        Some(d)
    }

    /// Drops the oldest live datagram other than `keep`. False when there is none.
    fn evict_oldest(
        &mut self,
        keep: Option<FragKey>,
        reason: FragDropReason,
        c: &mut DecodeCounters,
    ) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((key, serial)) = self.order.pop_front() {
            if self.map.get(&key).is_none_or(|d| d.serial != serial) {
                continue; // stale
            }
            if Some(key) == keep {
                kept = Some((key, serial));
                continue;
            }
            if let Some(d) = self.remove(&key) {
                c.add_dropped(reason, d.fragments);
            }
            evicted = true;
            break;
        }
        if let Some(k) = kept {
            self.order.push_front(k);
        }
        evicted
    }

    /// Drops every held datagram (end of input), counted as `flushed`.
    pub(crate) fn flush(&mut self, c: &mut DecodeCounters) {
        for (_, d) in self.map.drain() {
            c.add_dropped(FragDropReason::Flushed, d.fragments);
        }
        self.order.clear();
        self.bytes_held = 0;
    }

    /// Drops datagrams older than the age limit, oldest first.
    pub(crate) fn expire(&mut self, now: Timestamp, c: &mut DecodeCounters) {
        while let Some(&(key, serial)) = self.order.front() {
            match self.map.get(&key) {
                Some(d) if d.serial == serial => {
                    if now.since(d.first_seen) <= self.limits.max_age {
                        return;
                    }
                    if let Some(d) = self.remove(&key) {
                        c.add_dropped(FragDropReason::Timeout, d.fragments);
                    }
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Keeps `order` within twice the map's cap by dropping stale entries.
    fn compact_order(&mut self) {
        let limit = self
            .limits
            .max_datagrams
            .saturating_mul(2)
            .saturating_add(64);
        if self.order.len() > limit {
            let map = &self.map;
            self.order
                .retain(|(k, s)| map.get(k).is_some_and(|d| d.serial == *s));
        }
    }
}

fn key_proto(key: &FragKey, first: Option<u8>) -> u8 {
    match key.src {
        IpAddr::V4(_) => key.proto,
        IpAddr::V6(_) => first.unwrap_or(59), // 59: no next header
    }
}

/// Copies the parts of `[start, end)` not yet held, records the range, and answers whether
/// some of it was already held (an overlap).
fn copy_holes(d: &mut Datagram, start: u32, end: u32, data: &[u8]) -> bool {
    let mut overlap = false;
    let mut cursor = start;
    for &(hs, he) in &d.ranges {
        if he <= cursor {
            continue;
        }
        if hs >= end {
            break;
        }
        if hs > cursor {
            copy(&mut d.buf, cursor, hs, start, data);
        }
        overlap = true;
        cursor = he;
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        copy(&mut d.buf, cursor, end, start, data);
    }
    insert_range(&mut d.ranges, start, end);
    overlap
}

fn copy(buf: &mut [u8], from: u32, to: u32, start: u32, data: &[u8]) {
    let (Ok(f), Ok(t), Ok(s)) = (
        usize::try_from(from),
        usize::try_from(to),
        usize::try_from(start),
    ) else {
        return;
    };
    let (Some(dst), Some(src)) = (
        buf.get_mut(f..t),
        data.get(f.saturating_sub(s)..t.saturating_sub(s)),
    ) else {
        return;
    };
    if dst.len() == src.len() {
        dst.copy_from_slice(src);
    }
}

/// Adds `[start, end)` to sorted disjoint `ranges`, merging touching neighbours.
fn insert_range(ranges: &mut Vec<(u32, u32)>, start: u32, end: u32) {
    if start >= end {
        return;
    }
    let (mut s, mut e) = (start, end);
    ranges.retain(|&(rs, re)| {
        if re < s || rs > e {
            true
        } else {
            s = s.min(rs);
            e = e.max(re);
            false
        }
    });
    let at = ranges.partition_point(|&(rs, _)| rs < s);
    ranges.insert(at, (s, e));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id,
            proto: 17,
        }
    }

    fn frag(offset: u32, more: bool) -> Frag {
        Frag {
            id: 1,
            offset,
            more,
            v6: false,
        }
    }

    fn piece(k: u32, off: u32, more: bool, data: &[u8], truncated: bool) -> Piece<'_> {
        Piece {
            key: key(k),
            frag: frag(off, more),
            proto: 17,
            data,
            truncated,
        }
    }

    fn offer(
        p: &mut DefragPool,
        c: &mut DecodeCounters,
        t: i64,
        k: u32,
        off: u32,
        more: bool,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        match p.offer(Timestamp::from_secs(t), piece(k, off, more, data, false), c) {
            Offer::Held => None,
            Offer::Complete(proto, b) => {
                assert_eq!(proto, 17);
                Some(b.to_vec())
            }
            Offer::Dropped(r) => panic!("dropped {r}"),
        }
    }

    #[test]
    fn ranges_merge() {
        let mut r = Vec::new();
        insert_range(&mut r, 8, 16);
        insert_range(&mut r, 24, 32);
        insert_range(&mut r, 0, 8);
        assert_eq!(r, [(0, 16), (24, 32)]);
        insert_range(&mut r, 10, 30);
        assert_eq!(r, [(0, 32)]);
    }

    #[test]
    fn in_order_and_reverse() {
        let mut c = DecodeCounters::default();
        let mut p = DefragPool::new(DefragLimits::default());
        assert_eq!(offer(&mut p, &mut c, 0, 1, 0, true, &[1; 8]), None);
        assert_eq!(offer(&mut p, &mut c, 0, 1, 8, true, &[2; 8]), None);
        assert_eq!(
            offer(&mut p, &mut c, 0, 1, 16, false, &[3; 3]).unwrap(),
            [[1u8; 8], [2; 8]]
                .concat()
                .into_iter()
                .chain([3; 3])
                .collect::<Vec<_>>()
        );
        assert_eq!(offer(&mut p, &mut c, 0, 2, 16, false, &[3; 3]), None);
        assert_eq!(offer(&mut p, &mut c, 0, 2, 8, true, &[2; 8]), None);
        assert_eq!(
            offer(&mut p, &mut c, 0, 2, 0, true, &[1; 8]).unwrap().len(),
            19
        );
        assert_eq!((c.datagrams_reassembled, c.fragments_reassembled), (2, 6));
        assert_eq!((p.datagrams_in_flight(), p.bytes_held()), (0, 0));
    }

    #[test]
    fn overlap_first_copy_wins() {
        let mut c = DecodeCounters::default();
        let mut p = DefragPool::new(DefragLimits::default());
        assert_eq!(offer(&mut p, &mut c, 0, 1, 8, true, &[2; 8]), None);
        // covers [0,16): the second half overlaps the held [8,16)
        assert_eq!(offer(&mut p, &mut c, 0, 1, 0, true, &[9; 16]), None);
        let out = offer(&mut p, &mut c, 0, 1, 16, false, &[3; 8]).unwrap();
        assert_eq!(&out[..8], &[9; 8]);
        assert_eq!(&out[8..16], &[2; 8]);
        assert_eq!(c.fragments_overlapping, 1);
    }

    #[test]
    fn missing_piece_expires() {
        let mut c = DecodeCounters::default();
        let mut p = DefragPool::new(DefragLimits::default());
        assert_eq!(offer(&mut p, &mut c, 0, 1, 0, true, &[1; 8]), None);
        assert_eq!(offer(&mut p, &mut c, 1, 1, 16, false, &[1; 8]), None);
        // 31 s later an unrelated fragment arrives: the first datagram is gone
        assert_eq!(offer(&mut p, &mut c, 31, 2, 0, true, &[1; 8]), None);
        assert_eq!(c.fragments_dropped_timeout, 2);
        assert_eq!(p.datagrams_in_flight(), 1);
        // the missing piece of datagram 1 now starts a new, incomplete datagram
        assert_eq!(offer(&mut p, &mut c, 31, 1, 8, true, &[1; 8]), None);
    }

    #[test]
    fn datagram_and_memory_caps() {
        let mut c = DecodeCounters::default();
        let limits = DefragLimits {
            max_datagrams: 4,
            max_bytes: 64,
            ..DefragLimits::default()
        };
        let mut p = DefragPool::new(limits);
        for id in 0..6 {
            assert_eq!(offer(&mut p, &mut c, 0, id, 0, true, &[1; 8]), None);
        }
        assert_eq!(p.datagrams_in_flight(), 4);
        assert_eq!(c.fragments_dropped_datagrams_cap, 2);
        // a 48-byte fragment forces the memory cap: older datagrams go first
        assert_eq!(offer(&mut p, &mut c, 0, 9, 0, true, &[1; 48]), None);
        assert!(p.bytes_held() <= 64);
        assert!(c.fragments_dropped_memory_cap >= 1);
        // datagrams 0 and 1 were evicted: completing 0 does not happen
        assert_eq!(offer(&mut p, &mut c, 0, 0, 8, false, &[1; 8]), None);
    }

    #[test]
    fn too_big_too_many_inconsistent() {
        let mut c = DecodeCounters::default();
        let limits = DefragLimits {
            max_fragments: 3,
            ..DefragLimits::default()
        };
        let mut p = DefragPool::new(limits);
        let r = p.offer(
            Timestamp::ZERO,
            piece(1, 65_528, false, &[0; 16], false),
            &mut c,
        );
        assert!(matches!(r, Offer::Dropped(FragDropReason::TooBig)));
        for i in 0..3 {
            assert_eq!(offer(&mut p, &mut c, 0, 2, i * 8, true, &[1; 8]), None);
        }
        let r = p.offer(Timestamp::ZERO, piece(2, 24, true, &[0; 8], false), &mut c);
        assert!(matches!(
            r,
            Offer::Dropped(FragDropReason::TooManyFragments)
        ));
        assert_eq!(c.fragments_dropped_too_many_fragments, 4);
        assert_eq!(offer(&mut p, &mut c, 0, 3, 16, false, &[1; 8]), None);
        let r = p.offer(Timestamp::ZERO, piece(3, 8, false, &[0; 8], false), &mut c);
        assert!(matches!(r, Offer::Dropped(FragDropReason::Inconsistent)));
        assert_eq!(c.fragments_dropped_inconsistent, 2);
        let r = p.offer(Timestamp::ZERO, piece(4, 0, true, &[0; 8], true), &mut c);
        assert!(matches!(r, Offer::Dropped(FragDropReason::Truncated)));
        assert_eq!(p.datagrams_in_flight(), 0);
    }
}
