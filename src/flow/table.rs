//! The per-worker flow table: bounded, clocked by packet time (DESIGN §1).
//!
//! Storage is a slab of nodes indexed by a `hashbrown::HashTable<u32>` (a keyed
//! multiply-fold hash with a random key, so crafted tuples cannot aim at one bucket
//! chain). Each node sits in one intrusive doubly linked list per [`TimeoutClass`],
//! in the order the nodes were linked; a node remembers its `last_seen` at linking
//! (`linked`). A hit only stores counts and the time: the node moves to its list's
//! tail only when its class changes or a second ([`RELINK_INTERVAL`]) of packet time
//! has passed since it was linked, so the bulk packets of a busy flow cost a hash
//! probe and a few stores, not six pointer writes across three nodes. The lists are
//! therefore ordered by `linked` (≤ `last_seen`), which is enough for:
//! - [`FlowTable::expire`]: pops list heads while they are idle longer than their
//!   class's timeout; a head whose `linked` is stale but whose `last_seen` is not is
//!   given a second chance (moved to the tail), and the loop stops at the first head
//!   whose `linked` is within the timeout, since every node behind it was linked
//!   later. O(1) when nothing expires; the expired flows of a class are then sorted
//!   by their last touch, which is exactly the order of an exact LRU list;
//! - eviction at the cap: list heads touched since they were linked are moved to the
//!   tail (second chance) until each head is untouched, then the oldest of the five
//!   heads goes: that is the flow with the oldest `last_seen` (among flows with the
//!   very same `last_seen`, which one goes is not specified). Amortized O(1): each
//!   move answers one earlier hit;
//! - [`FlowTable::drain_all`] hands out every flow sorted by (`last_seen`, class,
//!   last touch), so end-of-input output is deterministic whatever the hash key.
//!
//! When packet time goes backwards (merged captures), `last_seen = max(last_seen,
//! now)`; a list is then only nearly sorted, and a flow may expire a little later
//! than its timeout — never earlier. Removed flows (evicted, expired, drained) are
//! handed to the caller, never dropped: their events must still be flushed.

use hashbrown::HashTable;

use super::conn::{TcpFlags, TcpLifecycle};
use super::history::{History, HistoryText};
use super::key::{Direction, Endpoint, FlowKey, KeyHasher, Transport};
use super::timeout::{ALL_CLASSES, CLASSES};
pub use super::timeout::{
    TCP_CLOSED_TIMEOUT, TCP_ESTABLISHED_TIMEOUT, TCP_HALF_CLOSED_TIMEOUT, TCP_SYN_ONLY_TIMEOUT,
    TimeoutClass, Timeouts, UDP_TIMEOUT,
};
use crate::time::{Duration, Timestamp};

/// Default flows per worker. Fixed cost per flow: the node (`Node<()>` = 160 B plus
/// the worker's state `S`, ≈ 400 B with a `TcpConn` and parser states: ≈ 560 B) plus
/// ≈ 10 B of hash index (4 B slot + 1 control byte at ≤ 87.5 % load, rounded up to a
/// power of two) ≈ 570 B → 65 536 × 570 B ≈ 36 MiB per worker, 72 MiB for the two
/// workers of the 2-core target, leaving half of the 128 MiB budget for in-flight
/// reassembly buffers, batches, the DNS cache and output. 65 536 concurrent flows per
/// worker is well above a busy office uplink (a few thousand concurrent flows); a
/// SYN flood beyond it evicts the oldest flows instead of growing.
pub const FLOW_TABLE_CAP: usize = 1 << 16;

/// A hit moves its flow to the tail of its list at most this often (packet time).
/// The lists only need to be ordered well enough that expiry and eviction rarely
/// have to give a second chance; one second is far below the smallest timeout (5 s),
/// and a flow carrying thousands of packets a second is relinked once a second
/// instead of once a packet.
pub const RELINK_INTERVAL: Duration = Duration::from_secs(1);

/// How the client (initiator) of a flow was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// A SYN without ACK: its sender is the client.
    Syn,
    /// A SYN+ACK seen before any SYN: its receiver is the client.
    SynAck,
    /// No handshake seen: the first packet's sender is taken as the client. A later
    /// SYN or SYN+ACK corrects it.
    FirstPacket,
    /// No handshake seen, and the first packet came from a server port
    /// ([`SERVER_PORTS`]) to another port: its receiver is the client. A later SYN or
    /// SYN+ACK corrects it.
    ServerPort,
}

/// Ports whose side of a flow is the server even when its packet is seen first: DNS
/// (RFC 1035 §4.2), where a sensor in the middle often sees a response first (the
/// capture began mid-transaction, or the query took another path) and the resolver
/// must not be named the client. A flow between two such ports keeps the first packet's
/// sender.
pub const SERVER_PORTS: &[u16] = &[53];

/// The first packet, sent in `dir`, came from a server port to a port that is not one.
fn from_server_port(key: &FlowKey, dir: Direction) -> bool {
    SERVER_PORTS.contains(&key.sender(dir).port) && !SERVER_PORTS.contains(&key.receiver(dir).port)
}

/// What the worker knows about the packet it is filing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketSeen {
    pub now: Timestamp,
    pub dir: Direction,
    /// Bytes counted for the flow (the transport payload, as Zeek's orig/resp_bytes).
    pub bytes: u32,
    /// Length of the frame on the wire (its original length, link header included).
    pub wire: u32,
    /// TCP flags; `None` for UDP.
    pub tcp_flags: Option<TcpFlags>,
}

/// Table counters (DESIGN §6 "flows created/evicted").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    pub flows_created: u64,
    /// Removed at the cap to make room (oldest `last_seen` first).
    pub flows_evicted: u64,
    /// Removed because idle past their timeout.
    pub flows_expired: u64,
    /// Removed by the worker (`remove`) or at end of input (`drain_all`).
    pub flows_closed: u64,
    /// Closed flows replaced by a new connection (a SYN) on the same tuple.
    pub flows_reused: u64,
}

/// One flow. Counts are kept per canonical direction and read per role, so a late
/// re-orientation never has to move them.
#[derive(Clone, Debug)]
pub struct Entry<S> {
    pub key: FlowKey,
    /// Unique within a run: worker index in the top 8 bits, a counter below.
    pub flow_id: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    client: Direction,
    orientation: Orientation,
    packets: [u64; 2],
    bytes: [u64; 2],
    wire: [u64; 2],
    history: History,
    tcp: TcpLifecycle,
    class: TimeoutClass,
    /// The table's packet counter at the flow's last packet: the order of an exact
    /// LRU list, restored when flows are handed out in batches.
    touched: u64,
    pub state: S,
}

impl<S> Entry<S> {
    /// The direction of packets the client sends.
    pub fn client_dir(&self) -> Direction {
        self.client
    }
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }
    pub fn is_from_client(&self, dir: Direction) -> bool {
        dir == self.client
    }
    pub fn client(&self) -> Endpoint {
        self.key.sender(self.client)
    }
    pub fn server(&self) -> Endpoint {
        self.key.receiver(self.client)
    }
    pub fn packets(&self, dir: Direction) -> u64 {
        self.packets.get(dir.index()).copied().unwrap_or(0)
    }
    pub fn bytes(&self, dir: Direction) -> u64 {
        self.bytes.get(dir.index()).copied().unwrap_or(0)
    }
    pub fn client_packets(&self) -> u64 {
        self.packets(self.client)
    }
    pub fn server_packets(&self) -> u64 {
        self.packets(self.client.reverse())
    }
    pub fn client_bytes(&self) -> u64 {
        self.bytes(self.client)
    }
    pub fn server_bytes(&self) -> u64 {
        self.bytes(self.client.reverse())
    }
    /// Frame bytes on the wire sent in `dir`.
    pub fn wire_bytes(&self, dir: Direction) -> u64 {
        self.wire.get(dir.index()).copied().unwrap_or(0)
    }
    pub fn tcp(&self) -> TcpLifecycle {
        self.tcp
    }
    /// What each side did, in Zeek's `history` letters, seen from the client.
    pub fn history(&self) -> HistoryText {
        self.history.text(self.client)
    }
    /// Zeek's `conn_state`, seen from the client.
    pub fn conn_state(&self) -> &'static str {
        self.history.conn_state(self.key.proto, self.client)
    }
    pub fn timeout_class(&self) -> TimeoutClass {
        self.class
    }

    fn new(key: FlowKey, flow_id: u64, p: &PacketSeen, touched: u64, state: S) -> Self {
        let (client, orientation) = match p.tcp_flags {
            Some(f) if f.is_syn_only() => (p.dir, Orientation::Syn),
            Some(f) if f.is_syn_ack() => (p.dir.reverse(), Orientation::SynAck),
            _ if from_server_port(&key, p.dir) => (p.dir.reverse(), Orientation::ServerPort),
            _ => (p.dir, Orientation::FirstPacket),
        };
        let mut e = Entry {
            key,
            flow_id,
            first_seen: p.now,
            last_seen: p.now,
            client,
            orientation,
            packets: [0; 2],
            bytes: [0; 2],
            wire: [0; 2],
            history: History::default(),
            tcp: TcpLifecycle::default(),
            class: TimeoutClass::Udp,
            touched,
            state,
        };
        e.observe(p);
        e
    }

    #[inline(always)]
    fn observe(&mut self, p: &PacketSeen) {
        self.last_seen = self.last_seen.max(p.now);
        if let Some(n) = self.packets.get_mut(p.dir.index()) {
            *n = n.saturating_add(1);
        }
        if let Some(n) = self.bytes.get_mut(p.dir.index()) {
            *n = n.saturating_add(u64::from(p.bytes));
        }
        if let Some(n) = self.wire.get_mut(p.dir.index()) {
            *n = n.saturating_add(u64::from(p.wire));
        }
        self.history.observe(p.dir, p.tcp_flags, p.bytes);
        // The bulk of a TCP flow: no SYN, FIN or RST on a flow already past its
        // handshake changes neither the lifecycle, the orientation nor the class.
        if let Some(f) = p.tcp_flags
            && f.0 & (TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST) == 0
            && self.tcp.handshake_done()
        {
            return;
        }
        self.class = match p.tcp_flags {
            Some(f) if self.key.proto == Transport::Tcp => {
                self.tcp.observe(p.dir, f);
                if matches!(
                    self.orientation,
                    Orientation::FirstPacket | Orientation::ServerPort
                ) {
                    if f.is_syn_only() {
                        (self.client, self.orientation) = (p.dir, Orientation::Syn);
                    } else if f.is_syn_ack() {
                        (self.client, self.orientation) = (p.dir.reverse(), Orientation::SynAck);
                    }
                } else if self.orientation == Orientation::SynAck && f.is_syn_only() {
                    (self.client, self.orientation) = (p.dir, Orientation::Syn);
                }
                self.tcp.timeout_class()
            }
            _ if self.key.proto == Transport::Tcp => self.tcp.timeout_class(),
            _ => TimeoutClass::Udp,
        };
    }
}

mod slab;

use slab::{EMPTY, List, NIL, Node, slot_key};

/// A bounded flow table whose per-flow state is `S`.
pub struct FlowTable<S> {
    index: HashTable<u32>,
    hasher: KeyHasher,
    slots: Vec<Option<Node<S>>>,
    free: Vec<u32>,
    lists: [List; CLASSES],
    cap: usize,
    timeouts: Timeouts,
    worker: u8,
    next_id: u64,
    /// Packets filed so far: stamps each hit (`Entry::touched`).
    touches: u64,
    counters: FlowCounters,
}

/// Flow ids keep the worker index in the top 8 bits: 56 bits of counter.
const FLOW_ID_COUNTER_MASK: u64 = (1 << 56) - 1;

impl<S> FlowTable<S> {
    /// A table for worker `worker` holding at most `cap` flows (clamped to
    /// `1..=u32::MAX - 1`, the slab's index range).
    pub fn new(worker: u8, cap: usize, timeouts: Timeouts) -> Self {
        let cap = cap.clamp(1, usize::try_from(NIL - 1).unwrap_or(usize::MAX));
        FlowTable {
            index: HashTable::new(),
            hasher: KeyHasher::random(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY; CLASSES],
            cap,
            timeouts,
            worker,
            next_id: 0,
            touches: 0,
            counters: FlowCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    pub fn cap(&self) -> usize {
        self.cap
    }
    pub fn counters(&self) -> FlowCounters {
        self.counters
    }

    /// Files one packet: finds the flow or creates it (with `init()` as its state).
    /// Creating a flow in a full table first evicts the flow with the oldest
    /// `last_seen` into `evicted`. A SYN (without ACK) on a TCP flow that was closed
    /// (FIN both ways or RST) starts a new connection on the same tuple — clients
    /// reuse ports within seconds behind NAT — so the old flow goes to `evicted` too
    /// (counted in `flows_reused`). Returns the entry and whether it is new; `None`
    /// only if the slab's invariants were broken, which no input can cause.
    pub fn get_or_insert(
        &mut self,
        key: FlowKey,
        p: PacketSeen,
        init: impl FnOnce() -> S,
        evicted: &mut Vec<Entry<S>>,
    ) -> Option<(&mut Entry<S>, bool)> {
        let hash = self.hasher.hash(&key);
        self.touches = self.touches.wrapping_add(1);
        let touched = self.touches;
        let mut found = {
            let slots = &self.slots;
            self.index
                .find(hash, |&i| slot_key(slots, i) == Some(&key))
                .copied()
        };
        if let Some(idx) = found
            && p.tcp_flags.is_some_and(TcpFlags::is_syn_only)
            && self.node(idx)?.entry.tcp.is_closed()
            && let Some(old) = self.remove_idx(idx)
        {
            self.counters.flows_reused = self.counters.flows_reused.saturating_add(1);
            evicted.push(old);
            found = None;
        }
        let Some(idx) = found else {
            return self.insert(key, hash, touched, &p, init, evicted);
        };
        let node = self.node_mut(idx)?;
        let old_class = node.entry.class;
        node.entry.observe(&p);
        node.entry.touched = touched;
        let e = &node.entry;
        // The common hit ends here: counts and time stored, links untouched.
        if e.class != old_class || e.last_seen.since(node.linked) >= RELINK_INTERVAL {
            let class = e.class;
            self.unlink(idx, old_class);
            self.link_tail(idx, class);
        }
        self.node_mut(idx).map(|n| (&mut n.entry, false))
    }

    /// The miss path of [`FlowTable::get_or_insert`], out of line so that the hit path
    /// stays small.
    #[inline(never)]
    fn insert(
        &mut self,
        key: FlowKey,
        hash: u64,
        touched: u64,
        p: &PacketSeen,
        init: impl FnOnce() -> S,
        evicted: &mut Vec<Entry<S>>,
    ) -> Option<(&mut Entry<S>, bool)> {
        if self.index.len() >= self.cap
            && let Some(e) = self.remove_oldest()
        {
            self.counters.flows_evicted = self.counters.flows_evicted.saturating_add(1);
            evicted.push(e);
        }
        let flow_id = u64::from(self.worker) << 56 | (self.next_id & FLOW_ID_COUNTER_MASK);
        self.next_id = self.next_id.wrapping_add(1);
        let entry = Entry::new(key, flow_id, p, touched, init());
        let class = entry.class;
        let idx = self.alloc(Node {
            linked: entry.last_seen,
            entry,
            prev: NIL,
            next: NIL,
        })?;
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, idx, |&i| {
            slot_key(slots, i).map_or(0, |k| hasher.hash(k))
        });
        self.counters.flows_created = self.counters.flows_created.saturating_add(1);
        self.link_tail(idx, class);
        self.node_mut(idx).map(|n| (&mut n.entry, true))
    }

    /// The flow's entry, without touching it.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Entry<S>> {
        let idx = self.find(key)?;
        self.node_mut(idx).map(|n| &mut n.entry)
    }

    /// Removes a flow the worker has finished with (e.g. both parsers done and FIN
    /// seen); counted in `flows_closed`.
    pub fn remove(&mut self, key: &FlowKey) -> Option<Entry<S>> {
        let idx = self.find(key)?;
        let e = self.remove_idx(idx)?;
        self.counters.flows_closed = self.counters.flows_closed.saturating_add(1);
        Some(e)
    }

    /// Moves every flow idle longer than its class's timeout at packet time `now`
    /// into `out` (per class, least recently touched first). Returns how many expired.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<Entry<S>>) -> usize {
        let mut n = 0usize;
        for class in ALL_CLASSES {
            let timeout = self.timeouts.get(class);
            let start = out.len();
            // Bounded by twice the table's size: each round removes a flow, or moves
            // one whose `last_seen` is within the timeout to the tail, where the loop
            // stops if it comes round to it again.
            while let Some(head) = self.list(class).map(|l| l.head).filter(|&h| h != NIL) {
                let (linked, last_seen) = match self.node(head) {
                    Some(node) => (node.linked, node.entry.last_seen),
                    None => break,
                };
                if now.since(linked) <= timeout {
                    break; // every flow behind it was linked later
                }
                if now.since(last_seen) <= timeout {
                    self.relink(head, class);
                    continue;
                }
                let Some(e) = self.remove_idx(head) else {
                    break;
                };
                out.push(e);
                n = n.saturating_add(1);
            }
            // Touched last is unique per flow: the unstable sort is deterministic and
            // does not allocate.
            if let Some(batch) = out.get_mut(start..) {
                batch.sort_unstable_by_key(|e| e.touched);
            }
        }
        self.counters.flows_expired = self.counters.flows_expired.saturating_add(n as u64);
        n
    }

    /// End of input: every flow into `out`, oldest `last_seen` first (ties: in
    /// [`TimeoutClass`] order, then least recently touched first — the order in which
    /// exact LRU lists would be merged).
    pub fn drain_all(&mut self, out: &mut Vec<Entry<S>>) {
        let start = out.len();
        for node in std::mem::take(&mut self.slots).into_iter().flatten() {
            self.counters.flows_closed = self.counters.flows_closed.saturating_add(1);
            out.push(node.entry);
        }
        if let Some(batch) = out.get_mut(start..) {
            batch.sort_unstable_by_key(|e| (e.last_seen, e.class.index(), e.touched));
        }
        self.index.clear();
        self.lists = [EMPTY; CLASSES];
        self.free = Vec::new();
    }

    fn find(&self, key: &FlowKey) -> Option<u32> {
        let hash = self.hasher.hash(key);
        let slots = &self.slots;
        self.index
            .find(hash, |&i| slot_key(slots, i) == Some(key))
            .copied()
    }
}

#[cfg(test)]
mod tests;
