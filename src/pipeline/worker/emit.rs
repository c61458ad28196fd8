//! The end of a worker's data path: each event is matched against the rules, kept or
//! not by `--events`, and serialized into the worker's output buffer.

use std::sync::Arc;

use crate::config::EventsMode;
use crate::detect::Engine;
use crate::event::{Alert, Event, json::EventWriter};
use crate::telemetry::summary::Tally;
use crate::telemetry::{Counter, Counts};

/// Room reserved for serialized events: the worker sends them on at 256 KiB
/// (`OUT_FLUSH_BYTES`), plus room for the event that crosses that mark.
const OUT_CAPACITY: usize = 272 * 1024;

pub struct Emitter {
    events: EventsMode,
    engine: Arc<Engine>,
    /// The alerts of the event being matched; its buffer serves the next event.
    alerts: Vec<Alert>,
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
            engine,
            alerts: Vec::new(),
            writer: EventWriter::default(),
            out: Vec::with_capacity(OUT_CAPACITY),
            out_events: 0,
            tally: Tally::default(),
        }
    }

    /// Matches the event against the rules and writes it if `--events` wants it. The
    /// event comes back, for its buffers to serve the next one.
    pub fn emit(&mut self, mut ev: Event, counts: &mut Counts) -> Event {
        self.alerts.clear();
        self.engine.evaluate(&ev, &mut self.alerts);
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
            self.writer.write(&mut self.out, &ev);
            self.out_events += 1;
        }
        let mut alerts = std::mem::take(&mut ev.alerts);
        if alerts.capacity() > self.alerts.capacity() {
            alerts.clear();
            self.alerts = alerts;
        }
        ev
    }
}
