//! A parser worker: owns its flows (no locks on the hot path) and takes each frame
//! through the stages, in order: `decode` → flow lookup (`flow`) → the application
//! stage (`app`: reassembly and parsers, giving facts) → `event` building → rule
//! matching (`detect`) → JSON (`emit`). The writer thread only writes the bytes. This
//! file only calls the stages; what each does lives in its own module.
//!
//! Time is packet time: flows expire and DNS queries time out by the timestamps of the
//! frames this worker sees, so replay and live give the same events. One exception, live
//! only: when no frame came for [`IDLE_CLOCK_AFTER`], the clock moves on from the last
//! packet time by the wall-clock time since it came, so that on a quiet link an
//! unanswered query is reported within its timeout and a second, not at the next packet.

mod emit;

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::Mode;
use crate::analyze::stage::{self, Analytics, ExchangeSeen};
use crate::app::{AppConfig, AppFlow, AppStage, EndReason, Exchange, Fact, FlowRef};
use crate::capture::{self, PacketBatch, PacketMeta};
use crate::config::RuntimeConfig;
use crate::decode::{DecodeError, Decoder, DefragLimits, L4, Packet};
use crate::detect::Engine;
use crate::event::build::EventBuilder;
use crate::event::{Body, Event};
use crate::flow::{
    Entry, FLOW_TABLE_CAP, FlowKey, FlowTable, PacketSeen, REASSEMBLY_BUDGET, Timeouts, Transport,
};
use crate::proto::dns::{DnsCache, DnsConfig};
use crate::telemetry::summary::Tally;
use crate::telemetry::{self, Counter, CounterSlot, Counts};
use crate::time::{Duration, Timestamp};
use emit::Emitter;

/// Serialized output kept before it is handed to the writer: one batch's events
/// normally; past this the worker sends early so a burst of events cannot grow it.
const OUT_FLUSH_BYTES: usize = 256 * 1024;

/// Live: how long a worker goes without a frame before it advances its clock from the
/// wall clock. Within a second of its due time, an idle link reports a DNS timeout or an
/// idle flow.
pub const IDLE_CLOCK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Live: how often a worker without frames wakes to look at the clock. A quarter second
/// keeps a report within [`IDLE_CLOCK_AFTER`] of due, at four wake-ups a second on a
/// quiet link.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Worker {
    mode: Mode,
    decoder: Decoder,
    flows: FlowTable<AppFlow>,
    app: AppStage,
    events: EventBuilder,
    analytics: Analytics,
    /// Behavioural events found by `analytics`, matched and written after the event
    /// that completed them (scratch, reused).
    found: Vec<Event>,
    /// ConnectionEnd events are written (they are built for the analytics either way).
    write_summaries: bool,
    emit: Emitter,
    counts: Counts,
    slot: Arc<CounterSlot>,
    /// The newest packet time seen: the clock for expiry (a frame older than the
    /// newest never moves time backwards).
    now: Timestamp,
    /// Flows that left the table (expired, evicted, end of input), reused across batches.
    ended: Vec<Entry<AppFlow>>,
    /// The thread's CPU clock when it started work, for `worker_cpu_us`.
    cpu_start_ns: u64,
    /// Live: the wall clock when the last batch came, and the packet time then; the idle
    /// clock counts from them.
    last_batch: Option<(Instant, Timestamp)>,
}

impl Worker {
    pub fn new(
        index: usize,
        mode: Mode,
        cfg: &RuntimeConfig,
        engine: Arc<Engine>,
        dns_cache: Arc<DnsCache>,
        slot: Arc<CounterSlot>,
    ) -> Worker {
        let cap = cfg.flow_table_cap.unwrap_or(FLOW_TABLE_CAP);
        // A flow's names are kept for its summary, which beacon check-ins need too (a
        // connection attempt is one; an exchange is named like its connection).
        let summaries_built = cfg.connection_summaries || cfg.analytics.beacons.is_some();
        let dns = DnsConfig {
            timeout: Duration::from_millis(cfg.dns_timeout_ms as i64),
            ..DnsConfig::default()
        };
        Worker {
            mode,
            decoder: Decoder::new(DefragLimits::default()),
            flows: FlowTable::new(index as u8, cap, Timeouts::default()),
            app: AppStage::new(AppConfig {
                dns,
                reassembly_budget: REASSEMBLY_BUDGET,
                connection_summaries: summaries_built,
                exchange_gap: cfg.analytics.beacons.as_ref().map(|b| b.exchange_gap),
            }),
            events: EventBuilder::new(cfg.sensor_name.clone(), dns_cache, summaries_built),
            analytics: Analytics::new(cfg.analytics.clone()),
            found: Vec::new(),
            write_summaries: cfg.connection_summaries,
            emit: Emitter::new(cfg.events, engine),
            counts: Counts::default(),
            slot,
            now: Timestamp::ZERO,
            ended: Vec::new(),
            cpu_start_ns: 0,
            last_batch: None,
        }
    }

    /// Processes batches until the capture thread closes the queue, then flushes every
    /// flow and pending DNS query, and sends the last events. Returns what it produced,
    /// for the run summary.
    pub fn run(
        mut self,
        batches: Receiver<PacketBatch>,
        recycle: Sender<PacketBatch>,
        out: Sender<Vec<u8>>,
    ) -> Tally {
        // Read here, on the worker's own thread (new() runs on the spawning one).
        self.cpu_start_ns = telemetry::thread_cpu_ns();
        loop {
            let batch = match self.mode {
                Mode::Replay => match batches.recv() {
                    Ok(b) => b,
                    Err(_) => break,
                },
                Mode::Live => match batches.recv_timeout(IDLE_POLL) {
                    Ok(b) => b,
                    Err(RecvTimeoutError::Timeout) => {
                        self.idle_tick(&out);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            self.process(&batch);
            if self.mode == Mode::Live {
                self.last_batch = Some((Instant::now(), self.now));
            }
            self.expire();
            self.publish();
            self.send(&out, false);
            // Cleared here, not when the capture thread reuses it: a batch waiting in the
            // pool must not keep a mapped file window alive, since the reader may be
            // waiting for exactly that memory (capture::MAX_MAPPED_BYTES).
            let mut batch = batch;
            batch.clear();
            // The pool is bounded; a full pool just frees the batch.
            let _ = recycle.try_send(batch);
        }
        self.finish();
        self.publish();
        self.send(&out, true);
        std::mem::take(&mut self.emit.tally)
    }

    /// decode → flow lookup → app (reassembly and parsers) → events → rules → JSON.
    fn process(&mut self, batch: &PacketBatch) {
        self.events.set_source(&batch.source);
        let mut frames = batch.iter().peekable();
        while let Some((meta, frame)) = frames.next() {
            // The capture thread touched the next frame last, on another core: start
            // loading its headers now rather than wait for them (perf showed that first
            // read as the worker's largest single stall).
            if let Some((_, next)) = frames.peek() {
                capture::prefetch_headers(next);
            }
            self.now = self.now.max(meta.ts);
            match self.decoder.decode(meta.linktype, meta.ts, frame) {
                Ok(pkt) => {
                    let filed =
                        file_packet(&mut self.flows, &mut self.ended, &mut self.app, meta, &pkt);
                    self.counts.incr(if filed {
                        Counter::PacketsDecoded
                    } else {
                        Counter::UndecodedOtherTransport
                    });
                }
                Err(DecodeError::FragmentHeld) => self.counts.incr(Counter::FragmentsHeld),
                Err(e) => {
                    self.counts.incr(Counter::DecodeErrors);
                    self.counts.incr(undecoded_reason(e));
                }
            }
            // Flows evicted to make room are finished like expired ones. (Both tests
            // first: most packets end no flow and give no fact.)
            if !self.ended.is_empty() {
                self.end_flows(EndReason::Eviction);
            }
            if self.app.has_facts() {
                self.emit_facts();
            }
        }
    }

    /// Live, no frame for [`IDLE_CLOCK_AFTER`]: the clock is the last packet time plus the
    /// wall-clock time since its batch came (never backwards), and what is due by then
    /// expires and is sent.
    fn idle_tick(&mut self, out: &Sender<Vec<u8>>) {
        let Some((wall, packet_time)) = self.last_batch else {
            return;
        };
        let idle = wall.elapsed();
        if idle < IDLE_CLOCK_AFTER {
            return;
        }
        let idle = i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX);
        self.now = self.now.max(packet_time.saturating_add(Duration(idle)));
        self.expire();
        self.publish();
        self.send(out, false);
    }

    /// Expires idle flows and unanswered DNS queries at the newest packet time.
    fn expire(&mut self) {
        self.decoder.expire_fragments(self.now);
        self.flows.expire(self.now, &mut self.ended);
        self.end_flows(EndReason::IdleTimeout);
        self.app.expire(self.now);
        self.emit_facts();
    }

    /// End of input: every flow and every pending DNS query is reported.
    fn finish(&mut self) {
        // Fragments still waiting for their missing pieces are dropped (and counted).
        self.decoder.flush_fragments();
        self.flows.drain_all(&mut self.ended);
        self.end_flows(match self.mode {
            Mode::Replay => EndReason::EndOfInput,
            Mode::Live => EndReason::Shutdown,
        });
        self.app.flush();
        self.emit_facts();
    }

    /// Flows that left the table deliver what their parsers hold; `why` they left
    /// (a flow closed by FIN or RST says so itself).
    fn end_flows(&mut self, why: EndReason) {
        let mut ended = std::mem::take(&mut self.ended);
        for mut entry in ended.drain(..) {
            self.app.end_flow(&mut entry, why);
            // Their events are built before the flow's Community ID is forgotten.
            self.emit_facts();
            self.events.flow_ended(entry.flow_id);
        }
        self.ended = ended;
    }

    /// Turns the application stage's facts into events, has the behavioural stage read
    /// them, then matches and writes them and what that stage found.
    fn emit_facts(&mut self) {
        for fact in self.app.take_facts() {
            if let Fact::Exchange(flow, x) = &fact {
                let seen = exchange_seen(&self.events, flow, x);
                if let Some(finding) = self.analytics.exchange(&seen) {
                    let header = self.events.header_of(flow);
                    let ev = stage::beacon_event(header, &finding);
                    let _ = self.emit.emit(ev, &mut self.counts);
                }
                continue;
            }
            let Some(ev) = self.events.build(fact) else {
                continue;
            };
            self.analytics.observe(&ev, &mut self.found);
            let ev = if self.write_summaries || !matches!(ev.body, Body::End(_)) {
                self.emit.emit(ev, &mut self.counts)
            } else {
                ev
            };
            self.events.recycle(ev);
            for found in self.found.drain(..) {
                let _ = self.emit.emit(found, &mut self.counts);
            }
        }
    }

    fn publish(&mut self) {
        let c = &mut self.counts;
        c.set(
            Counter::WorkerCpuUs,
            telemetry::thread_cpu_ns().saturating_sub(self.cpu_start_ns) / 1000,
        );
        let d = self.decoder.counters();
        c.set(Counter::FragmentsReassembled, d.fragments_reassembled);
        c.set(Counter::FragmentsDropped, d.fragments_dropped());
        c.set(Counter::TunnelsDecapsulated, d.tunnels_decapsulated);
        c.set(Counter::TunnelsUndecodable, d.tunnels_undecodable);
        let f = self.flows.counters();
        c.set(Counter::FlowsCreated, f.flows_created);
        c.set(Counter::FlowsEvicted, f.flows_evicted);
        c.set(Counter::FlowsExpired, f.flows_expired);
        self.app.publish(c);
        self.analytics.publish(c);
        self.slot.publish(c);
    }

    /// Hands the serialized events to the writer. Replay waits for room (lossless);
    /// live drops them when the writer is behind, and counts the events.
    fn send(&mut self, out: &Sender<Vec<u8>>, last: bool) {
        // Live sends every batch's events at once (latency); replay gathers them into
        // larger writes.
        let due = last || self.mode == Mode::Live || self.emit.out.len() >= OUT_FLUSH_BYTES;
        if self.emit.out.is_empty() || !due {
            return;
        }
        let buf = std::mem::take(&mut self.emit.out);
        let events = std::mem::take(&mut self.emit.out_events);
        match self.mode {
            Mode::Replay => {
                let _ = out.send(buf);
            }
            Mode::Live => {
                if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                    out.try_send(buf)
                {
                    self.counts.add(Counter::OutputDrops, events);
                }
            }
        }
        self.publish();
    }
}

/// An exchange of a flow, with the flow's server named as its events name it.
fn exchange_seen(events: &EventBuilder, flow: &FlowRef, x: &Exchange) -> ExchangeSeen {
    let name = events.server_of(flow);
    ExchangeSeen {
        at: flow.time,
        client: flow.client.ip(),
        server: flow.server.ip(),
        port: flow.server.port(),
        transport: flow.transport,
        name,
        client_bytes: x.client_bytes,
        first: x.first,
        open_for: x.open_for,
    }
}

/// The counter of the reason a frame did not decode: every frame read ends as decoded,
/// held (a fragment), or under one of these (`Counter::UNDECODED`).
fn undecoded_reason(e: DecodeError) -> Counter {
    match e {
        DecodeError::UnsupportedLinkType(_) => Counter::UnsupportedLinktype,
        DecodeError::NotIp => Counter::UndecodedNotIp,
        DecodeError::Unsupported { .. } => Counter::UndecodedUnsupported,
        DecodeError::WlanNotData => Counter::UndecodedWlanNotData,
        DecodeError::WlanProtected => Counter::UndecodedWlanProtected,
        DecodeError::WlanAmsdu => Counter::UndecodedWlanAmsdu,
        DecodeError::Truncated { .. } => Counter::UndecodedTruncated,
        DecodeError::Malformed { .. } => Counter::UndecodedMalformed,
        DecodeError::TooDeep { .. } => Counter::UndecodedTooDeep,
        // Held fragments are not an error; the caller counts them as fragments_held.
        DecodeError::FragmentHeld => Counter::FragmentsHeld,
        DecodeError::FragmentDropped(_) => Counter::UndecodedFragmentDropped,
    }
}

/// Files a decoded packet in its flow (flows evicted to make room go to `ended`) and
/// hands it to the application stage. False when the packet is neither TCP nor UDP
/// (no flow for it).
fn file_packet(
    flows: &mut FlowTable<AppFlow>,
    ended: &mut Vec<Entry<AppFlow>>,
    app: &mut AppStage,
    meta: &PacketMeta,
    pkt: &Packet<'_>,
) -> bool {
    let ts = meta.ts;
    let (transport, sport, dport, bytes, tcp_flags) = match &pkt.l4 {
        L4::Tcp(seg) => (
            Transport::Tcp,
            seg.src_port,
            seg.dst_port,
            seg.payload.len(),
            Some(seg.flags),
        ),
        L4::Udp(d) => (
            Transport::Udp,
            d.src_port,
            d.dst_port,
            d.payload.len(),
            None,
        ),
        L4::Other { .. } => return false,
    };
    let (key, dir) = FlowKey::new(transport, pkt.src, sport, pkt.dst, dport);
    let seen = PacketSeen {
        now: ts,
        dir,
        bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        wire: meta.origlen,
        tcp_flags,
    };
    // `None` only if the table's invariants broke, which no input can cause: the packet
    // was decoded all the same.
    if let Some((entry, _new)) = flows.get_or_insert(key, seen, AppFlow::default, ended) {
        match &pkt.l4 {
            L4::Tcp(seg) => app.on_segment(entry, dir, seg, ts),
            L4::Udp(d) => app.on_datagram(entry, dir, d.payload, ts),
            L4::Other { .. } => {}
        }
    }
    true
}
