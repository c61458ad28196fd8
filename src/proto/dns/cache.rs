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
            shards: (0..CACHE_SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: foldhash::fast::FixedState::with_seed(0x6332_7461_7064_6e73),
            counters: DnsCacheCounters::default(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> Option<std::sync::MutexGuard<'_, Shard>> {
        let h = self.hasher.hash_one(ip);
        let i = usize::try_from(h.checked_rem(CACHE_SHARDS as u64).unwrap_or(0)).unwrap_or(0);
        // A poisoned shard only means another worker panicked mid-insert; the map is
        // still a valid map, so keep using it.
        self.shards.get(i).map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Remembers that `ip` was the answer for `name` at packet time `ts`.
    pub fn insert(&self, ip: IpAddr, name: Arc<str>, ts: Timestamp, ttl: u32) {
        let Some(mut s) = self.shard(&ip) else { return };
        let life = Duration::from_secs(i64::from(ttl.clamp(MIN_TTL_SECS, MAX_TTL_SECS)));
        let seq = s.next_seq;
        s.next_seq = s.next_seq.wrapping_add(1);
        if !s.map.contains_key(&ip) && s.map.len() >= MAX_ENTRIES_PER_SHARD {
            // Oldest insertion first: with clamped TTLs it is close to earliest expiry.
            while let Some((old, old_seq)) = s.order.pop_front() {
                if s.map.get(&old).is_some_and(|e| e.seq == old_seq) {
                    s.map.remove(&old);
                    self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        s.map.insert(ip, Entry { name, expires: ts.saturating_add(life), seq });
        s.order.push_back((ip, seq));
        if s.order.len() > MAX_ENTRIES_PER_SHARD.saturating_mul(ORDER_SLACK) {
            let Shard { map, order, .. } = &mut *s;
            order.retain(|(ip, seq)| map.get(ip).is_some_and(|e| e.seq == *seq));
        }
        self.counters.inserts.fetch_add(1, Ordering::Relaxed);
    }

    /// The name `ip` was last resolved from, if that answer is still alive at `ts`.
    pub fn lookup(&self, ip: IpAddr, ts: Timestamp) -> Option<Arc<str>> {
        let found = self
            .shard(&ip)
            .and_then(|s| s.map.get(&ip).filter(|e| e.expires > ts).map(|e| Arc::clone(&e.name)));
        let c = if found.is_some() { &self.counters.hits } else { &self.counters.misses };
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
        let name: Arc<str> = Arc::from(&*tx.qname);
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
