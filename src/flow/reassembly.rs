//! TCP stream-prefix reassembly for one direction of a connection (DESIGN §1).
//!
//! The stream starts at the SYN's ISN+1 (data on the SYN — TCP Fast Open, RFC 7413
//! §3 — starts there too), or at the first data segment seen when the connection is
//! picked up mid-stream. Offsets are relative to that start and computed with serial
//! arithmetic (RFC 1982 / RFC 9293 §3.4), so sequence numbers may wrap at 2^32.
//!
//! - In-order bytes are appended to one contiguous buffer: [`readable`] is the unread
//!   part, the parser [`consume`]s what it used.
//! - Out-of-order bytes are held (at most [`OOO_MAX_SEGMENTS`] pieces, at most
//!   [`OOO_MAX_BYTES`] bytes) and joined when the hole before them fills.
//! - Retransmissions and overlaps: the **first copy wins**; overlapping bytes that
//!   differ from the first copy are counted (`overlap_conflicts`), as Suricata's
//!   "first" policy and Zeek's do.
//! - A hole that never fills — the held data exceeds its cap, the peer ACKed past
//!   it (the capture lost it, the receiver did not) or the flow ends ([`flush`]) —
//!   is skipped: the unread bytes before it are dropped (they are half a message),
//!   [`gap_at`] tells the parser where to resynchronise, `gaps` is counted.
//! - Only the first [`STREAM_PREFIX_CAP`] bytes of the stream are ever buffered;
//!   bytes beyond are dropped and the stream says so ([`is_truncated`]).
//! - [`stop`] (the parser has what it needs) frees everything; afterwards a segment
//!   costs one comparison.
//!
//! Memory: everything kept lies inside the window `[0, STREAM_PREFIX_CAP)` and held
//! pieces never overlap each other or the delivered bytes. The in-order buffer's
//! capacity never exceeds the window (64 KiB), held bytes never exceed
//! [`OOO_MAX_BYTES`] (16 KiB, checked after each segment, so at most one more segment
//! transiently), plus `OOO_MAX_SEGMENTS + 1` piece headers of 32 B: ≤ ~82 KiB per
//! direction whatever the traffic ([`StreamReassembler::memory_bytes`] measures it).
//!
//! [`readable`]: StreamReassembler::readable
//! [`consume`]: StreamReassembler::consume
//! [`flush`]: StreamReassembler::flush
//! [`gap_at`]: StreamReassembler::gap_at
//! [`is_truncated`]: StreamReassembler::is_truncated
//! [`stop`]: StreamReassembler::stop

/// Bytes of each direction's stream prefix that are reassembled (consumed plus
/// buffered). 64 KiB holds any TLS ClientHello/ServerHello flight (a record is at most
/// 16 KiB + 2 KiB, a post-quantum ClientHello is ~2 KiB), an HTTP/1 head at its 16 KiB
/// cap and several pipelined requests; C2 detection needs nothing deeper.
pub const STREAM_PREFIX_CAP: u32 = 64 * 1024;
/// Out-of-order pieces held per direction. A prefix of 64 KiB is ~45 full-size
/// segments; real reordering at a capture point spans a few segments, so 32 pieces
/// covers it while bounding the O(pieces) insertion cost per segment.
pub const OOO_MAX_SEGMENTS: usize = 32;
/// Out-of-order bytes held per direction before the hole in front is declared lost.
/// 16 KiB covers a full TLS record arriving after one lost segment; a larger hole is
/// capture loss, and waiting longer only holds memory.
pub const OOO_MAX_BYTES: u32 = 16 * 1024;
/// A fully consumed buffer whose capacity exceeds this is released rather than kept
/// for reuse: most flows carry one small message per direction.
const SHRINK_ABOVE: usize = 4 * 1024;

/// Consumed bytes kept for comparing retransmissions with (see `consume`): a typical
/// ClientHello or request head; larger reads are freed at once.
const RETAIN_CONSUMED: usize = 4 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Neither a SYN nor a data segment seen: the stream start is unknown.
    Unset,
    Active,
    /// The parser is done: nothing is kept.
    Stopped,
}

/// A piece of out-of-order data at stream offset `off`.
#[derive(Clone, Debug)]
struct Held {
    off: u32,
    data: Vec<u8>,
}

impl Held {
    fn end(&self) -> u32 {
        // `data.len()` ≤ STREAM_PREFIX_CAP − off by construction.
        self.off.saturating_add(len_u32(&self.data))
    }
}

/// What one `push` (or `ack_hint`, `flush`) did: the worker adds it to
/// [`ReassemblyCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Bytes that became readable.
    pub readable_added: u32,
    /// Some bytes were held out of order.
    pub held: bool,
    /// The segment carried only bytes already seen (delivered or held).
    pub retransmission: bool,
    /// Overlapping bytes that differed from the first copy (first copy kept).
    pub overlap_conflicts: u32,
    /// Holes skipped.
    pub gaps: u32,
    /// Bytes past [`STREAM_PREFIX_CAP`] were dropped.
    pub truncated: bool,
    /// This segment started the stream in the middle (no SYN seen).
    pub midstream: bool,
    /// The stream was stopped: the segment was ignored.
    pub stopped: bool,
    /// In-order bytes dropped unread under [`StreamReassembler::drop_ahead`]: the
    /// caller tells the parser, which counts them as read.
    pub dropped: u32,
}

impl PushOutcome {
    pub fn merge(&mut self, o: PushOutcome) {
        self.readable_added = self.readable_added.saturating_add(o.readable_added);
        self.held |= o.held;
        self.retransmission |= o.retransmission;
        self.overlap_conflicts = self.overlap_conflicts.saturating_add(o.overlap_conflicts);
        self.gaps = self.gaps.saturating_add(o.gaps);
        self.truncated |= o.truncated;
        self.midstream |= o.midstream;
        self.stopped |= o.stopped;
        self.dropped = self.dropped.saturating_add(o.dropped);
    }
}

/// Reassembly counters a worker owns (DESIGN §6 "reassembly gaps").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    pub segments: u64,
    pub out_of_order_segments: u64,
    pub retransmissions: u64,
    pub overlap_conflicts: u64,
    pub gaps: u64,
    pub truncated_segments: u64,
    pub midstream_pickups: u64,
}

impl ReassemblyCounters {
    pub fn record(&mut self, o: &PushOutcome) {
        if o.stopped {
            return;
        }
        self.segments = self.segments.saturating_add(1);
        self.out_of_order_segments = self.out_of_order_segments.saturating_add(u64::from(o.held));
        self.retransmissions = self
            .retransmissions
            .saturating_add(u64::from(o.retransmission));
        self.overlap_conflicts = self
            .overlap_conflicts
            .saturating_add(u64::from(o.overlap_conflicts));
        self.gaps = self.gaps.saturating_add(u64::from(o.gaps));
        self.truncated_segments = self
            .truncated_segments
            .saturating_add(u64::from(o.truncated));
        self.midstream_pickups = self
            .midstream_pickups
            .saturating_add(u64::from(o.midstream));
    }
}

/// A hole skipped in a stream (see [`StreamReassembler::last_hole`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hole {
    /// Stream offset just after the hole.
    pub end: u64,
    /// Missing bytes.
    pub len: u64,
}

/// One direction of a TCP connection, reassembled up to [`STREAM_PREFIX_CAP`].
#[derive(Clone, Debug)]
pub struct StreamReassembler {
    phase: Phase,
    /// Sequence number of stream offset 0.
    base: u32,
    /// Stream offset of the next expected byte: the end of the contiguous data.
    next: u32,
    /// Contiguous bytes ending at `next`; `buf[head..]` is unread.
    buf: Vec<u8>,
    head: usize,
    /// Sorted, non-overlapping, every `off > next`.
    ooo: Vec<Held>,
    ooo_bytes: u32,
    /// Stream offset of the FIN (first FIN wins); bytes at or past it are ignored.
    fin_at: Option<u32>,
    /// Stream offset just after the most recent skipped hole (absolute: rebasing does
    /// not move it).
    gap_at: Option<u64>,
    /// Bytes missing in the most recent skipped hole.
    hole_len: u32,
    midstream: bool,
    truncated: bool,
    /// Follow mode: the window slides with what the parser consumed instead of ending
    /// at [`STREAM_PREFIX_CAP`] (see [`StreamReassembler::follow`]).
    follow: bool,
    /// Stream offset removed from the relative offsets by rebasing (follow mode only).
    rebased: u64,
    /// The parser's word that it will skip this many next bytes unread (a message
    /// body): in-order bytes within it are counted and dropped instead of copied in.
    drop_ahead: u32,
}

/// In follow mode, relative offsets are rebased once they pass 1 GiB, so that serial
/// arithmetic (±2^31 around the base) stays valid on streams of any length.
/// (Tests use 1 MiB so that rebasing is exercised without gigabytes of data.)
const REBASE_AT: u32 = if cfg!(test) { 1 << 20 } else { 1 << 30 };

impl Default for StreamReassembler {
    fn default() -> Self {
        Self::new()
    }
}

fn len_u32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

/// Bytes `[from, to)` of a slice that starts at stream offset `at` (all i64 offsets
/// already clipped by the caller to lie inside it; `get` keeps it total anyway).
fn sub(data: &[u8], at: i64, from: i64, to: i64) -> &[u8] {
    let lo = usize::try_from(from.saturating_sub(at)).unwrap_or(0);
    let hi = usize::try_from(to.saturating_sub(at)).unwrap_or(0);
    data.get(lo..hi).unwrap_or(&[])
}

/// Whether two copies of the same stream bytes disagree. A conflict is counted once
/// per overlapping (segment, earlier copy) pair, not per byte.
fn differs(a: &[u8], b: &[u8]) -> bool {
    a != b
}

impl StreamReassembler {
    pub const fn new() -> Self {
        StreamReassembler {
            phase: Phase::Unset,
            base: 0,
            next: 0,
            buf: Vec::new(),
            head: 0,
            ooo: Vec::new(),
            ooo_bytes: 0,
            fin_at: None,
            gap_at: None,
            hole_len: 0,
            follow: false,
            rebased: 0,
            midstream: false,
            truncated: false,
            drop_ahead: 0,
        }
    }

    /// Feeds one segment of this direction. `syn`: the segment carries SYN (its
    /// payload, if any, starts at `seq + 1`); `fin`: it carries FIN.
    pub fn push(&mut self, seq: u32, payload: &[u8], syn: bool, fin: bool) -> PushOutcome {
        let mut out = PushOutcome::default();
        match self.phase {
            Phase::Stopped => {
                out.stopped = true;
                return out;
            }
            Phase::Unset => {
                if syn {
                    self.base = seq.wrapping_add(1);
                } else if !payload.is_empty() {
                    self.base = seq;
                    self.midstream = true;
                    out.midstream = true;
                } else {
                    // A bare ACK or FIN says nothing reliable about where data starts.
                    return out;
                }
                self.phase = Phase::Active;
            }
            Phase::Active => {}
        }
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        // Serial arithmetic: offsets within ±2^31 of the start are meaningful.
        let rel = i64::from(data_seq.wrapping_sub(self.base) as i32);
        let end = rel.saturating_add(i64::try_from(payload.len()).unwrap_or(i64::MAX));
        let window_end = self.window_end();
        if fin && self.fin_at.is_none() && (0..=window_end).contains(&end) {
            self.fin_at = u32::try_from(end).ok();
        }
        if payload.is_empty() {
            return out;
        }
        let next = i64::from(self.next);
        // Bytes already delivered: compare what is still buffered, keep the first copy.
        if rel < next {
            let buffered_from = next.saturating_sub(i64::try_from(self.buf.len()).unwrap_or(0));
            let lo = rel.max(buffered_from);
            let hi = end.min(next);
            if lo < hi {
                let old = sub(&self.buf, buffered_from, lo, hi);
                if differs(old, sub(payload, rel, lo, hi)) {
                    out.overlap_conflicts = out.overlap_conflicts.saturating_add(1);
                }
            }
            if end <= next {
                out.retransmission = true;
                return out;
            }
        }
        let cap = window_end;
        let limit = self.fin_at.map_or(cap, |f| i64::from(f).min(cap));
        if end > cap {
            self.truncated = true;
            out.truncated = true;
        }
        let start = rel.max(next);
        let stop = end.min(limit);
        if start >= stop {
            return out;
        }
        let piece = sub(payload, rel, start, stop);
        let fits_before_held = self.ooo.first().is_none_or(|h| stop <= i64::from(h.off));
        if start == next && fits_before_held {
            // The common case: in order, nothing held in the way.
            let piece = self.drop_front(piece, &mut out);
            if !piece.is_empty() {
                self.append(piece);
            }
            // A held piece may start right where this one ends.
            let added = self.drain_held();
            out.readable_added = len_u32(piece).saturating_add(added);
        } else {
            self.hold(start, piece, &mut out);
            let added = self.drain_held();
            out.readable_added = out.readable_added.saturating_add(added);
            self.enforce_caps(&mut out);
        }
        out
    }

    /// The peer acknowledged up to `ack` (a sequence number of this direction).
    /// Held data at or below it proves the hole in front was received by the peer and
    /// lost only by the capture: skip it now rather than wait for the caps.
    pub fn ack_hint(&mut self, ack: u32) -> PushOutcome {
        let mut out = PushOutcome::default();
        if self.phase != Phase::Active {
            return out;
        }
        let rel = ack.wrapping_sub(self.base) as i32;
        let Ok(rel) = u32::try_from(rel) else {
            return out;
        };
        while self.ooo.first().is_some_and(|h| h.off <= rel) {
            self.skip_gap(&mut out);
        }
        out
    }

    /// The flow is ending: skip every hole and deliver everything held.
    pub fn flush(&mut self) -> PushOutcome {
        let mut out = PushOutcome::default();
        while !self.ooo.is_empty() {
            self.skip_gap(&mut out);
        }
        out
    }

    /// Contiguous unread bytes.
    pub fn readable(&self) -> &[u8] {
        self.buf.get(self.head..).unwrap_or(&[])
    }

    /// The parser used `n` bytes of [`readable`](Self::readable) (clamped to it).
    pub fn consume(&mut self, n: usize) {
        self.consume_bytes(n);
        self.rebase();
    }

    fn consume_bytes(&mut self, n: usize) {
        let unread = self.buf.len().saturating_sub(self.head);
        self.head = self.head.saturating_add(n.min(unread));
        // Bytes just read stay (up to RETAIN_CONSUMED) so that a retransmission of them
        // is still compared with the first copy: a conflicting overlap is counted even
        // when the parser was quick. The next append compacts them away.
        if self.head >= self.buf.len() && self.buf.len() > RETAIN_CONSUMED {
            self.head = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        }
    }

    /// Stream offset of the first unread byte (bytes since ISN+1, or since the first
    /// data segment for a mid-stream pickup, skipped holes included).
    pub fn stream_offset(&self) -> u64 {
        let unread = self.buf.len().saturating_sub(self.head);
        u64::from(self.next)
            .saturating_sub(u64::try_from(unread).unwrap_or(0))
            .saturating_add(self.rebased)
    }

    /// Stream offset just after the most recent skipped hole: when it is ≥ the offset
    /// the parser last resynchronised at, the parser must look for a message start.
    pub fn gap_at(&self) -> Option<u64> {
        self.gap_at
    }

    /// The most recent skipped hole: where the bytes after it start, and how many were
    /// missing. Unread bytes before a hole are dropped when it is skipped, so a parser
    /// that sees a new hole resynchronises at the start of [`readable`](Self::readable).
    pub fn last_hole(&self) -> Option<Hole> {
        self.gap_at.map(|end| Hole {
            end,
            len: u64::from(self.hole_len),
        })
    }

    /// The parser is done with this direction: free everything; later segments are
    /// ignored after one comparison.
    pub fn stop(&mut self) {
        self.phase = Phase::Stopped;
        self.buf = Vec::new();
        self.ooo = Vec::new();
        self.head = 0;
        self.ooo_bytes = 0;
    }

    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Picked up without seeing the SYN.
    pub fn is_midstream(&self) -> bool {
        self.midstream
    }

    /// Bytes past [`STREAM_PREFIX_CAP`] were seen and dropped.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The FIN was seen and every byte before it was delivered.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Active && self.fin_at.is_some_and(|f| self.next >= f)
    }

    /// The whole prefix window was delivered: nothing more will ever be readable
    /// beyond what is buffered now.
    pub fn is_full(&self) -> bool {
        !self.follow && self.next >= STREAM_PREFIX_CAP
    }

    /// The parser will skip the next `n` bytes of this stream unread (the rest of a
    /// message body): while nothing unread is buffered, in-order bytes within them are
    /// dropped — counted in [`PushOutcome::dropped`], never copied — and the parser is
    /// told instead of fed. Reset by every skipped hole; the caller sets it again after
    /// each parser step.
    pub fn drop_ahead(&mut self, n: u64) {
        self.drop_ahead = u32::try_from(n).unwrap_or(u32::MAX);
    }

    /// Follow mode, for parsers that read a whole connection (HTTP keep-alive, DNS over
    /// TCP): instead of ending at [`STREAM_PREFIX_CAP`], the window slides with what the
    /// parser consumed, so at most that many unread bytes are ever buffered and every
    /// later message is still delivered.
    pub fn follow(&mut self) {
        self.follow = true;
    }

    /// End of the window of offsets kept: the prefix cap, or in follow mode the cap
    /// past the first unread byte.
    fn window_end(&self) -> i64 {
        if self.follow {
            let unread = self.buf.len().saturating_sub(self.head);
            i64::from(self.next)
                .saturating_sub(i64::try_from(unread).unwrap_or(0))
                .saturating_add(i64::from(STREAM_PREFIX_CAP))
        } else {
            i64::from(STREAM_PREFIX_CAP)
        }
    }

    /// Follow mode: moves offset 0 to the first unread byte once offsets grow large.
    fn rebase(&mut self) {
        if !self.follow || self.next < REBASE_AT {
            return;
        }
        let unread = u32::try_from(self.buf.len().saturating_sub(self.head)).unwrap_or(u32::MAX);
        let shift = self.next.saturating_sub(unread);
        self.base = self.base.wrapping_add(shift);
        self.next = self.next.saturating_sub(shift);
        for h in &mut self.ooo {
            h.off = h.off.saturating_sub(shift);
        }
        self.fin_at = self.fin_at.map(|f| f.saturating_sub(shift));
        self.rebased = self.rebased.saturating_add(u64::from(shift));
    }

    /// Bytes held out of order now.
    pub fn held_bytes(&self) -> u32 {
        self.ooo_bytes
    }

    /// Heap bytes this stream owns (buffer capacities and piece headers).
    pub fn memory_bytes(&self) -> usize {
        let held: usize = self.ooo.iter().map(|h| h.data.capacity()).sum();
        self.buf
            .capacity()
            .saturating_add(held)
            .saturating_add(self.ooo.capacity().saturating_mul(size_of::<Held>()))
    }

    /// Drops the front of an in-order piece within the drop-ahead budget, when the
    /// parser has read everything before it. Returns the rest, to append.
    fn drop_front<'p>(&mut self, piece: &'p [u8], out: &mut PushOutcome) -> &'p [u8] {
        if self.drop_ahead == 0 || self.head < self.buf.len() {
            return piece;
        }
        let n = len_u32(piece).min(self.drop_ahead);
        self.drop_ahead = self.drop_ahead.saturating_sub(n);
        // The read bytes kept for comparing retransmissions end at `next`; after the
        // jump they would not.
        self.buf.clear();
        self.head = 0;
        self.next = self.next.saturating_add(n);
        out.dropped = out.dropped.saturating_add(n);
        self.rebase();
        piece
            .get(usize::try_from(n).unwrap_or(usize::MAX)..)
            .unwrap_or(&[])
    }

    fn append(&mut self, piece: &[u8]) {
        // Compact once half the buffer is consumed, so memmoves stay amortised.
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        let need = self.buf.len().saturating_add(piece.len());
        if need > self.buf.capacity() {
            // Grow by doubling but never past the window: the buffer only ever holds
            // offsets below STREAM_PREFIX_CAP.
            let window = usize::try_from(STREAM_PREFIX_CAP).unwrap_or(usize::MAX);
            let target = self
                .buf
                .capacity()
                .saturating_mul(2)
                .max(256)
                .min(window)
                .max(need);
            self.buf
                .reserve_exact(target.saturating_sub(self.buf.len()));
        }
        self.buf.extend_from_slice(piece);
        self.next = self.next.saturating_add(len_u32(piece));
    }

    /// Holds `piece` (stream offset `start`, ≥ `next`) out of order. It is merged with
    /// every held piece it overlaps or touches into one piece, the held bytes winning
    /// (first copy), so held pieces are always separated by real holes and their
    /// number grows by at most one per segment.
    fn hold(&mut self, start: i64, piece: &[u8], out: &mut PushOutcome) {
        let stop = start.saturating_add(i64::try_from(piece.len()).unwrap_or(0));
        let (Ok(off), Ok(_)) = (u32::try_from(start), u32::try_from(stop)) else {
            return;
        };
        let first = self.ooo.partition_point(|h| i64::from(h.end()) < start);
        let last = self.ooo.partition_point(|h| i64::from(h.off) <= stop);
        let touching = self.ooo.get(first..last).unwrap_or(&[]);
        if touching.is_empty() {
            if self.ooo.len() == self.ooo.capacity() {
                // Grow by doubling up to the cap + 1 (the transient piece before
                // `enforce_caps`), never to the next power of two past it.
                let want = self
                    .ooo
                    .capacity()
                    .saturating_mul(2)
                    .clamp(4, OOO_MAX_SEGMENTS + 1);
                self.ooo
                    .reserve_exact(want.saturating_sub(self.ooo.len()).max(1));
            }
            self.ooo_bytes = self.ooo_bytes.saturating_add(len_u32(piece));
            self.ooo.insert(
                first,
                Held {
                    off,
                    data: piece.to_vec(),
                },
            );
            out.held = true;
            return;
        }
        // First copy wins: count disagreements, and see whether anything is new.
        let mut cursor = start;
        let mut fresh = false;
        for h in touching {
            let (h_off, h_end) = (i64::from(h.off), i64::from(h.end()));
            let (lo, hi) = (start.max(h_off), stop.min(h_end));
            if lo < hi && differs(sub(&h.data, h_off, lo, hi), sub(piece, start, lo, hi)) {
                out.overlap_conflicts = out.overlap_conflicts.saturating_add(1);
            }
            fresh |= h_off > cursor;
            cursor = cursor.max(h_end);
        }
        fresh |= cursor < stop;
        if !fresh {
            out.retransmission = true;
            return;
        }
        out.held = true;
        let old: Vec<Held> = self.ooo.drain(first..last).collect();
        let m_off = old.first().map_or(start, |h| start.min(i64::from(h.off)));
        let m_end = old.last().map_or(stop, |h| stop.max(i64::from(h.end())));
        let mut merged =
            Vec::with_capacity(usize::try_from(m_end.saturating_sub(m_off)).unwrap_or(0));
        let mut pos = m_off;
        for h in &old {
            // The holes between touching pieces lie inside [start, stop]: the new
            // piece covers them.
            merged.extend_from_slice(sub(piece, start, pos, i64::from(h.off)));
            merged.extend_from_slice(&h.data);
            pos = i64::from(h.end());
            self.ooo_bytes = self.ooo_bytes.saturating_sub(len_u32(&h.data));
        }
        merged.extend_from_slice(sub(piece, start, pos, m_end));
        let Ok(m_off) = u32::try_from(m_off) else {
            return;
        };
        self.ooo_bytes = self.ooo_bytes.saturating_add(len_u32(&merged));
        self.ooo.insert(
            first,
            Held {
                off: m_off,
                data: merged,
            },
        );
    }

    /// Moves held pieces that now start at `next` into the buffer.
    fn drain_held(&mut self) -> u32 {
        let mut added = 0u32;
        while self.ooo.first().is_some_and(|h| h.off <= self.next) {
            let h = self.ooo.remove(0);
            self.ooo_bytes = self.ooo_bytes.saturating_sub(len_u32(&h.data));
            // Held pieces start above `next` (they were trimmed against it) until
            // `next` reaches them, so `skip` is 0; `get` keeps this total regardless.
            let skip = usize::try_from(self.next.saturating_sub(h.off)).unwrap_or(0);
            let rest = h.data.get(skip..).unwrap_or(&[]);
            added = added.saturating_add(len_u32(rest));
            self.append(rest);
        }
        added
    }

    fn enforce_caps(&mut self, out: &mut PushOutcome) {
        while self.ooo.len() > OOO_MAX_SEGMENTS || self.ooo_bytes > OOO_MAX_BYTES {
            self.skip_gap(out);
        }
    }

    /// Declares the hole before the first held piece lost: drops the unread bytes
    /// before it (an incomplete message) and delivers from the piece on.
    fn skip_gap(&mut self, out: &mut PushOutcome) {
        let Some(first) = self.ooo.first().map(|h| h.off) else {
            return;
        };
        self.buf.clear();
        self.head = 0;
        self.drop_ahead = 0;
        self.hole_len = first.saturating_sub(self.next);
        self.next = first;
        self.gap_at = Some(self.rebased.saturating_add(u64::from(first)));
        out.gaps = out.gaps.saturating_add(1);
        let added = self.drain_held();
        out.readable_added = out.readable_added.saturating_add(added);
    }
}

#[cfg(test)]
mod tests;
