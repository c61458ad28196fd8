//! A parser worker: owns its flows (no locks on the hot path), decodes each frame,
//! files it in its flow table, runs the protocol parsers, and turns what they find into
//! events that it matches against the rules and serializes. The writer thread only
//! writes the bytes.
//!
//! Time is packet time: flows expire and DNS queries time out by the timestamps of the
//! frames this worker sees, so replay and live give the same events.

mod emit;
mod state;
mod tcp;
mod udp;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::Mode;
use crate::capture::{self, PacketBatch};
use crate::config::RuntimeConfig;
use crate::decode::{DecodeError, Decoder, DefragLimits, Transport};
use crate::detect::Engine;
use crate::flow::{Entry, FLOW_TABLE_CAP, FlowTable, Timeouts};
use crate::proto::dns::{DnsCache, DnsConfig, DnsState, DnsTransaction};
use crate::telemetry::{self, Counter, CounterSlot};
use crate::time::{Duration, Timestamp};
use emit::Emitter;
use state::FlowState;

/// Serialized output kept before it is handed to the writer: one batch's events
/// normally; past this the worker sends early so a burst of events cannot grow it.
const OUT_FLUSH_BYTES: usize = 256 * 1024;

pub struct Worker {
    decoder: Decoder,
    flows: FlowTable<FlowState>,
    dns: DnsState,
    emit: Emitter,
    /// The newest packet time seen: the clock for expiry (a frame older than the
    /// newest never moves time backwards).
    now: Timestamp,
    /// Scratch vectors, reused across batches.
    ended: Vec<Entry<FlowState>>,
    dns_done: Vec<DnsTransaction>,
    /// The thread's CPU clock when it started work, for `worker_cpu_us`.
    cpu_start_ns: u64,
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
        Worker {
            decoder: Decoder::new(DefragLimits::default()),
            flows: FlowTable::new(index as u8, cap, Timeouts::default()),
            dns: DnsState::new(DnsConfig {
                timeout: Duration::from_millis(cfg.dns_timeout_ms as i64),
                ..DnsConfig::default()
            }),
            emit: Emitter::new(mode, cfg, engine, dns_cache, slot),
            now: Timestamp::ZERO,
            ended: Vec::new(),
            dns_done: Vec::new(),
            cpu_start_ns: 0,
        }
    }

    /// Processes batches until the capture thread closes the queue, then flushes every
    /// flow and pending DNS query, and sends the last events.
    pub fn run(
        mut self,
        batches: Receiver<PacketBatch>,
        recycle: Sender<PacketBatch>,
        out: Sender<Vec<u8>>,
    ) {
        // Read here, on the worker's own thread (new() runs on the spawning one).
        self.cpu_start_ns = telemetry::thread_cpu_ns();
        for batch in batches.iter() {
            self.process(&batch);
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
    }

    fn process(&mut self, batch: &PacketBatch) {
        if !Arc::ptr_eq(&self.emit.source, &batch.source) {
            self.emit.source = batch.source.clone();
        }
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
                Ok(pkt) => match pkt.transport {
                    Transport::Udp(dgram) => udp::on_datagram(
                        &mut self.flows,
                        &mut self.dns,
                        &mut self.emit,
                        meta.ts,
                        pkt.src,
                        pkt.dst,
                        &dgram,
                        &mut self.ended,
                        &mut self.dns_done,
                    ),
                    Transport::Tcp(seg) => tcp::on_segment(
                        &mut self.flows,
                        &mut self.dns,
                        &mut self.emit,
                        meta.ts,
                        pkt.src,
                        pkt.dst,
                        &seg,
                        &mut self.ended,
                        &mut self.dns_done,
                    ),
                    Transport::Other { .. } => {}
                },
                Err(DecodeError::FragmentHeld) => {}
                Err(_) => self.emit.counts.incr(Counter::DecodeErrors),
            }
            // Flows evicted to make room are finished like expired ones.
            self.finish_ended();
        }
    }

    /// Expires idle flows and unanswered DNS queries at the newest packet time.
    fn expire(&mut self) {
        self.decoder.expire_fragments(self.now);
        self.flows.expire(self.now, &mut self.ended);
        self.finish_ended();
        self.dns.expire(self.now, &mut self.dns_done);
        self.emit.dns_transactions(&mut self.dns_done);
    }

    /// End of input: every flow and every pending DNS query is reported.
    fn finish(&mut self) {
        // Fragments still waiting for their missing pieces are dropped (and counted).
        self.decoder.flush_fragments();
        self.flows.drain_all(&mut self.ended);
        self.finish_ended();
        self.dns.flush_all(&mut self.dns_done);
        self.emit.dns_transactions(&mut self.dns_done);
    }

    fn finish_ended(&mut self) {
        for mut entry in self.ended.drain(..) {
            state::finish_flow(
                &mut entry,
                &mut self.dns,
                &mut self.emit,
                &mut self.dns_done,
            );
        }
    }

    fn publish(&mut self) {
        let c = &mut self.emit.counts;
        c.set(
            Counter::WorkerCpuUs,
            telemetry::thread_cpu_ns().saturating_sub(self.cpu_start_ns) / 1000,
        );
        let d = self.decoder.counters();
        c.set(Counter::FragmentsReassembled, d.fragments_reassembled);
        c.set(Counter::FragmentsDropped, d.fragments_dropped());
        let f = self.flows.counters();
        c.set(Counter::FlowsCreated, f.flows_created);
        c.set(Counter::FlowsEvicted, f.flows_evicted);
        c.set(Counter::FlowsExpired, f.flows_expired);
        let dns = self.dns.counters();
        c.set(Counter::DnsMessages, dns.messages_parsed);
        c.set(Counter::DnsParseErrors, dns.parse_errors_total());
        c.set(Counter::DnsTimeouts, dns.timeouts);
        c.set(Counter::DnsEvictions, dns.evictions);
        self.emit.publish();
    }

    /// Hands the serialized events to the writer. Replay waits for room (lossless);
    /// live drops them when the writer is behind, and counts the events.
    fn send(&mut self, out: &Sender<Vec<u8>>, last: bool) {
        // Live sends every batch's events at once (latency); replay gathers them into
        // larger writes.
        let due = last || self.emit.mode == Mode::Live || self.emit.out.len() >= OUT_FLUSH_BYTES;
        if self.emit.out.is_empty() || !due {
            return;
        }
        let buf = std::mem::take(&mut self.emit.out);
        let events = std::mem::take(&mut self.emit.out_events);
        match self.emit.mode {
            Mode::Replay => {
                let _ = out.send(buf);
            }
            Mode::Live => {
                if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
                    out.try_send(buf)
                {
                    self.emit.counts.add(Counter::OutputDrops, events);
                }
            }
        }
        self.publish();
    }
}
