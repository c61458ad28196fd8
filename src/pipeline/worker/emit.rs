//! The end of a worker's data path: each event is matched against the rules, filed in
//! the correlations its rules feed, kept or not by `--events`, and serialized into the
//! worker's output buffer; a correlation that fires is written as its own event
//! (EventID 120) right after the event that completed it.

use std::sync::Arc;

use crate::config::EventsMode;
use crate::detect::Engine;
use crate::detect::correlate::{Correlator, Fired};
use crate::event::{Alert, Body, Event, json::EventWriter};
use crate::telemetry::summary::Tally;
use crate::telemetry::{Counter, Counts};

/// Room reserved for serialized events: the worker sends them on at 256 KiB
/// (`OUT_FLUSH_BYTES`), plus room for the event that crosses that mark.
const OUT_CAPACITY: usize = 272 * 1024;

pub struct Emitter {
    events: EventsMode,
    engine: Arc<Engine>,
    /// This worker's correlation state (shared tables are the engine's).
    correlator: Correlator,
    /// The alerts of the event being matched; its buffer serves the next event.
    alerts: Vec<Alert>,
    /// Matched rules that feed correlations, and what fired (scratch, reused).
    hits: Vec<u32>,
    fired: Vec<Fired>,
    writer: EventWriter,
    /// Serialized events not yet handed to the writer, and how many.
    pub out: Vec<u8>,
    pub out_events: u64,
    /// Events by kind and alerts by rule, for the run summary.
    pub tally: Tally,
}

impl Emitter {
    pub fn new(events: EventsMode, engine: Arc<Engine>) -> Emitter {
        Emitter {
            events,
            correlator: engine.correlator(),
            engine,
            alerts: Vec::new(),
            hits: Vec::new(),
            fired: Vec::new(),
            writer: EventWriter::default(),
            out: Vec::with_capacity(OUT_CAPACITY),
            out_events: 0,
            tally: Tally::default(),
        }
    }

    /// Matches the event against the rules and writes it if `--events` wants it, then
    /// the correlations it completed. The event comes back, for its buffers to serve
    /// the next one.
    pub fn emit(&mut self, mut ev: Event, counts: &mut Counts) -> Event {
        self.alerts.clear();
        self.hits.clear();
        self.engine
            .evaluate_hits(&ev, &mut self.alerts, Some(&mut self.hits));
        if !self.hits.is_empty() {
            self.correlator.observe(
                &ev,
                ev.header.time,
                Some(&ev.header),
                &self.hits,
                &mut self.fired,
            );
            let c = self.correlator.counts();
            counts.set(Counter::CorrelationEvictions, c.evicted);
            counts.set(Counter::CorrelationDrops, c.dropped);
            counts.set(Counter::CorrelationUngrouped, c.ungrouped);
        }
        self.write(&mut ev, counts);
        let mut fired = std::mem::take(&mut self.fired);
        for f in fired.drain(..) {
            self.emit_correlation(&ev, &f, counts);
        }
        self.fired = fired;
        let mut alerts = std::mem::take(&mut ev.alerts);
        if alerts.capacity() > self.alerts.capacity() {
            alerts.clear();
            self.alerts = alerts;
        }
        ev
    }

    /// A Correlation event: the header of the window's newest event (the completing
    /// one's when the correlator kept none), the correlation first in
    /// its alerts, then the rules that match the Correlation event itself (which feed
    /// no correlation, so a correlation cannot count its own alerts).
    fn emit_correlation(&mut self, trigger: &Event, f: &Fired, counts: &mut Counts) {
        let set = self.engine.correlations();
        let (Some(body), Some(own)) = (set.alert_body(f), set.alert(f)) else {
            return;
        };
        let header = f.header.clone().unwrap_or_else(|| trigger.header.clone());
        let mut ev = Event::new(header, Body::Correlation(Box::new(body)));
        self.alerts.clear();
        self.alerts.push(own.clone());
        self.engine.evaluate(&ev, &mut self.alerts);
        self.write(&mut ev, counts);
    }

    /// Counts the event, takes `self.alerts` as its alerts, and serializes it if
    /// `--events` wants it.
    fn write(&mut self, ev: &mut Event, counts: &mut Counts) {
        counts.incr(Counter::Events);
        if !self.alerts.is_empty() {
            counts.incr(Counter::Alerts);
            for a in &self.alerts {
                self.tally.alert(&a.rule_id, &a.rule_title, &a.rule_level);
            }
            ev.alerts = std::mem::take(&mut self.alerts);
        }
        let written = self.events == EventsMode::All || !ev.alerts.is_empty();
        self.tally
            .event(ev.event_id(), ev.body.event_type(), written);
        if written {
            if self.out.capacity() == 0 {
                // The worker hands `out` to the writer and leaves an empty Vec: size it
                // once rather than grow it by doubling (and copying) from nothing.
                self.out.reserve(OUT_CAPACITY);
            }
            self.writer.write(&mut self.out, ev);
            self.out_events += 1;
        }
    }
}
