//! The shared DNS answer cache (DESIGN §1): address → the name that was asked for, so
//! that a later connection to the address can carry the name it was resolved from.
//!
//! Only DNS responses insert and only new flows look up, so it stays off the
//! per-packet path. It is sharded by address; each shard is a small map behind its own
//! mutex, bounded by [`MAX_ENTRIES_PER_SHARD`] (oldest insertion evicted first), with
//! expiry on packet time: an entry lives for its answer's TTL clamped into
//! [[`MIN_TTL_SECS`], [`MAX_TTL_SECS`]]. When several names resolve to one address
//! (CDNs), the most recent answer wins.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hashbrown::HashMap;

use super::transaction::DnsTransaction;
use crate::time::{Duration, Timestamp};

/// Shards: enough that workers rarely contend (≤ 16 workers on the machines we aim at).
pub const CACHE_SHARDS: usize = 16;
/// Entries per shard: 16 × 4096 = 65 536 addresses, a day of a busy office's distinct
/// answers; at most a few MiB with names up to the 1025-byte cap.
pub const MAX_ENTRIES_PER_SHARD: usize = 4096;
/// Shortest life of an entry. Connections often start after a short TTL ran out (CDN
/// answers of 0–30 s are common and clients keep using the address), so a minute.
pub const MIN_TTL_SECS: u32 = 60;
/// Longest life of an entry: one day, resolvers' usual cache ceiling (Unbound's
/// `cache-max-ttl` default is 86400).
pub const MAX_TTL_SECS: u32 = 86_400;
/// Stale entries of the insertion-order queue tolerated before it is compacted.
const ORDER_SLACK: usize = 2;

struct Entry {
    name: Arc<str>,
    expires: Timestamp,
    seq: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<IpAddr, Entry>,
    /// Insertion order: (address, seq); stale when the map's seq differs.
    order: VecDeque<(IpAddr, u64)>,
    next_seq: u64,
}

/// Counters of the cache (atomics: the cache is shared by all workers).
#[derive(Debug, Default)]
pub struct DnsCacheCounters {
    pub inserts: AtomicU64,
    pub evictions: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

/// The cache; share it as `Arc<DnsCache>`.
pub struct DnsCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::fast::FixedState,
    pub counters: DnsCacheCounters,
}

impl Default for DnsCache {
    fn default() -> Self {
        DnsCache::new()
    }
}

impl DnsCache {
    pub fn new() -> DnsCache {
        DnsCache {
            shards: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x6332_7461_7064_6e73),
            counters: DnsCacheCounters::default(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> Option<std::sync::MutexGuard<'_, Shard>> {
        let h = self.hasher.hash_one(ip);
        let i = usize::try_from(h.checked_rem(CACHE_SHARDS as u64).unwrap_or(0)).unwrap_or(0);
        // A poisoned shard only means another worker panicked mid-insert; the map is
        // still a valid map, so keep using it.
        self.shards
            .get(i)
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Remembers that `ip` was the answer for `name` at packet time `ts`.
    pub fn insert(&self, ip: IpAddr, name: Arc<str>, ts: Timestamp, ttl: u32) {
        let Some(mut s) = self.shard(&ip) else { return };
        let life = Duration::from_secs(i64::from(ttl.clamp(MIN_TTL_SECS, MAX_TTL_SECS)));
        let seq = s.next_seq;
        s.next_seq = s.next_seq.wrapping_add(1);
        // The length test first: the lookup is only needed when the shard is full.
        if s.map.len() >= MAX_ENTRIES_PER_SHARD && !s.map.contains_key(&ip) {
            // Oldest insertion first: with clamped TTLs it is close to earliest expiry.
            while let Some((old, old_seq)) = s.order.pop_front() {
                if s.map.get(&old).is_some_and(|e| e.seq == old_seq) {
                    s.map.remove(&old);
                    self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        s.map.insert(
            ip,
            Entry {
                name,
                expires: ts.saturating_add(life),
                seq,
            },
        );
        s.order.push_back((ip, seq));
        if s.order.len() > MAX_ENTRIES_PER_SHARD.saturating_mul(ORDER_SLACK) {
            let Shard { map, order, .. } = &mut *s;
            order.retain(|(ip, seq)| map.get(ip).is_some_and(|e| e.seq == *seq));
        }
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
    }

    /// The name `ip` was last resolved from, if that answer is still alive at `ts`.
    pub fn lookup(&self, ip: IpAddr, ts: Timestamp) -> Option<Arc<str>> {
        let found = self.shard(&ip).and_then(|s| {
            s.map
                .get(&ip)
                .filter(|e| e.expires > ts)
                .map(|e| Arc::clone(&e.name))
        });
        let c = if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        c.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Inserts every address a finished transaction resolved its query name to
    /// ([`DnsTransaction::resolved_addrs`]), dated by its response.
    pub fn learn(&self, tx: &DnsTransaction) {
        let Some(resp) = &tx.response else { return };
        let addrs = tx.resolved_addrs();
        if addrs.is_empty() {
            return;
        }
        let name = Arc::clone(&tx.qname);
        for (ip, ttl) in addrs {
            self.insert(ip, Arc::clone(&name), resp.ts, ttl);
        }
    }

    /// Entries held (live or expired-but-not-evicted), for telemetry and tests.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|m| m.lock().map_or(0, |s| s.map.len()))
            .fold(0usize, usize::saturating_add)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
mod tests {
    use super::super::parse::tests::{PTR_Q, record};
    use super::super::state::tests::{a_record, pkt, response};
    use super::super::{DnsConfig, DnsState};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ttl_expiry_on_packet_time_with_clamp() {
        let c = DnsCache::new();
        let t0 = Timestamp::from_secs(1000);
        c.insert(ip("1.2.3.4"), Arc::from("short.example"), t0, 5);
        c.insert(ip("5.6.7.8"), Arc::from("long.example"), t0, 10_000_000);
        // TTL 5 is raised to MIN_TTL_SECS.
        let at = |s: i64| Timestamp::from_secs(1000 + s);
        assert_eq!(
            c.lookup(ip("1.2.3.4"), at(59)).as_deref(),
            Some("short.example")
        );
        assert_eq!(c.lookup(ip("1.2.3.4"), at(60)), None);
        // A huge TTL is lowered to MAX_TTL_SECS.
        assert!(
            c.lookup(ip("5.6.7.8"), at(i64::from(MAX_TTL_SECS) - 1))
                .is_some()
        );
        assert!(
            c.lookup(ip("5.6.7.8"), at(i64::from(MAX_TTL_SECS)))
                .is_none()
        );
        assert_eq!(c.counters.hits.load(Ordering::Relaxed), 2);
        assert_eq!(c.counters.misses.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn cap_evicts_oldest_per_shard() {
        let c = DnsCache::new();
        let t0 = Timestamp::from_secs(1);
        let n = CACHE_SHARDS * MAX_ENTRIES_PER_SHARD * 2;
        for i in 0..n as u32 {
            c.insert(IpAddr::from(i.to_be_bytes()), Arc::from("x"), t0, 300);
        }
        assert_eq!(c.len(), CACHE_SHARDS * MAX_ENTRIES_PER_SHARD);
        assert_eq!(
            c.counters.evictions.load(Ordering::Relaxed),
            (n - c.len()) as u64
        );
        // The newest survive, the oldest are gone.
        let last = IpAddr::from((n as u32 - 1).to_be_bytes());
        assert!(c.lookup(last, t0).is_some());
        assert!(c.lookup(IpAddr::from(0u32.to_be_bytes()), t0).is_none());
        // Re-inserting an address many times does not grow the order queue unbounded.
        for _ in 0..3 * MAX_ENTRIES_PER_SHARD {
            c.insert(last, Arc::from("y"), t0, 300);
        }
        assert!(
            c.shards
                .iter()
                .all(|s| s.lock().unwrap().order.len() <= 2 * MAX_ENTRIES_PER_SHARD + 1)
        );
        assert_eq!(c.lookup(last, t0).as_deref(), Some("y"));
    }

    #[test]
    fn learn_follows_cname_chain_back_to_the_query_name() {
        // www.example.com CNAME edge.cdn; edge.cdn A 1.2.3.4; unrelated A 9.9.9.9.
        let edge = [4, b'e', b'd', b'g', b'e', 3, b'c', b'd', b'n', 0];
        let cname = record(&PTR_Q, 5, 60, &edge);
        let a = record(&edge, 1, 120, &[1, 2, 3, 4]);
        let other = record(&[5, b'o', b't', b'h', b'e', b'r', 0], 1, 120, &[9, 9, 9, 9]);
        let direct = a_record(30, [4, 3, 2, 1]);
        let r = response(1, "WWW.example.com", 1, 0, &[cname, a, other, direct]);
        let mut st = DnsState::new(DnsConfig::default());
        let mut out = Vec::new();
        st.on_message(&pkt(false), Timestamp::from_secs(10), &r, &mut out)
            .unwrap();
        let c = DnsCache::new();
        c.learn(&out[0]);
        let now = Timestamp::from_secs(11);
        assert_eq!(
            c.lookup(ip("1.2.3.4"), now).as_deref(),
            Some("WWW.example.com")
        );
        assert_eq!(
            c.lookup(ip("4.3.2.1"), now).as_deref(),
            Some("WWW.example.com")
        );
        assert_eq!(c.lookup(ip("9.9.9.9"), now), None);
        // NXDOMAIN teaches nothing.
        let mut out = Vec::new();
        let r = response(2, "bad.example", 1, 3, &[a_record(30, [7, 7, 7, 7])]);
        st.on_message(&pkt(false), Timestamp::from_secs(10), &r, &mut out)
            .unwrap();
        c.learn(&out[0]);
        assert_eq!(c.lookup(ip("7.7.7.7"), now), None);
    }
}
