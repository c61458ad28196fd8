//! Wires the threads of a run (DESIGN §1): the capture thread (the caller of [`run`]),
//! the parser workers and the writer.
//!
//! ```text
//! capture thread ──batches──▶ worker 0..N ──JSON lines──▶ writer ──▶ sink
//!        ▲                        │
//!        └──── emptied batches ◀──┘
//! ```
//!
//! The only module besides the binary that sees every other one.

pub mod dispatch;
pub mod sensor;
pub mod shutdown;
pub mod worker;
pub mod writer;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use crate::capture::{CaptureStats, Source};
use crate::config::RuntimeConfig;
use crate::detect::Engine;
use crate::output::Sink;
use crate::proto::dns::cache::DnsCache;
use crate::report::Aggregator;
use crate::telemetry::summary::{Summary, Tally};
use crate::telemetry::{Counts, Registry};
use dispatch::Dispatcher;
use sensor::{SensorTicker, State};
use shutdown::Signals;
use worker::Worker;
use writer::{WriterEnd, WriterReport};

/// Batches queued per worker. With 128-packet batches this is 4k packets (~6 MiB of
/// frames) per worker: about 8 ms at 500k packets/s, enough to absorb a worker's hiccup
/// without letting queues hold much memory.
pub const WORKER_QUEUE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Lossless: full queues make the capture thread wait.
    Replay,
    /// Never blocks the kernel ring: full queues drop batches (counted).
    Live,
}

/// How a run ended.
pub struct RunReport {
    /// Inputs that failed (corrupt files, an interface gone), each reported on stderr
    /// when it happened; everything read before and after was processed and written.
    pub failed_inputs: u64,
    pub writer: WriterEnd,
    /// Lines handed to the output (the sink dropped `OutputDrops` of them).
    pub output_lines: u64,
    pub totals: Counts,
    /// Events by kind and alerts by rule, all workers together.
    pub tally: Tally,
    pub capture: CaptureStats,
    /// The run's name (its SensorState `Source`).
    pub run_name: Arc<str>,
    /// Wall time from start to the last event written.
    pub wall: Duration,
    /// The report's aggregator, fed every line written ([`run_with_report`]).
    pub report: Option<Box<Aggregator>>,
}

impl RunReport {
    /// The summary for people ([`crate::telemetry::summary`]).
    pub fn summary(&self) -> Summary<'_> {
        Summary {
            run: &self.run_name,
            wall: self.wall,
            totals: &self.totals,
            tally: &self.tally,
            files: self.capture.files,
            input_bytes: self.capture.input_bytes_read,
            failed_inputs: self.failed_inputs,
        }
    }

    /// True when the output lost every line the run produced (a collector never
    /// reached): DESIGN §5 counts that run as failed.
    pub fn delivered_nothing(&self) -> bool {
        let drops = self.totals.get(crate::telemetry::Counter::OutputDrops);
        self.output_lines > 0 && drops >= self.output_lines
    }
}

/// Runs a capture to its end (end of input, a stop signal, or an error), then drains
/// every queue, flushes every flow and writes every event.
pub fn run(
    cfg: &RuntimeConfig,
    mode: Mode,
    source: &mut dyn Source,
    engine: Arc<Engine>,
    sink: Sink,
    signals: &Signals,
) -> RunReport {
    run_with_report(cfg, mode, source, engine, sink, signals, None)
}

/// [`run`], with every line written also fed to the report's aggregator (on the
/// writer thread: the workers' path is the same), which comes back in the report.
pub fn run_with_report(
    cfg: &RuntimeConfig,
    mode: Mode,
    source: &mut dyn Source,
    engine: Arc<Engine>,
    mut sink: Sink,
    signals: &Signals,
    report: Option<Box<Aggregator>>,
) -> RunReport {
    if mode == Mode::Live {
        sink.drop_when_full();
    }
    let started = Instant::now();
    let run_name = source.run_name();
    let registry = Arc::new(Registry::default());
    let dns_cache = Arc::new(DnsCache::default());
    let (out_tx, out_rx) = bounded::<Vec<u8>>(writer::WRITER_QUEUE);
    let (recycle_tx, recycle_rx) = bounded(cfg.workers * WORKER_QUEUE + cfg.workers);

    let writer = {
        let signals = signals.clone();
        let slot = registry.slot();
        thread::Builder::new()
            .name("c2tap-writer".into())
            .spawn(move || writer::run(sink, out_rx, signals, slot, report))
    };
    let Ok(writer) = writer else {
        return RunReport {
            failed_inputs: 0,
            writer: WriterEnd::Failed(crate::output::OutputError::Write(std::io::Error::other(
                "cannot start the writer thread",
            ))),
            output_lines: 0,
            totals: Counts::default(),
            tally: Tally::default(),
            capture: CaptureStats::default(),
            run_name,
            wall: started.elapsed(),
            report: None,
        };
    };

    let mut queues = Vec::with_capacity(cfg.workers);
    let mut workers = Vec::with_capacity(cfg.workers);
    for index in 0..cfg.workers {
        let (tx, rx) = bounded(WORKER_QUEUE);
        queues.push(tx);
        let worker = Worker::new(
            index,
            mode,
            cfg,
            engine.clone(),
            dns_cache.clone(),
            registry.slot(),
        );
        let out = out_tx.clone();
        let recycle = recycle_tx.clone();
        let spawned = thread::Builder::new()
            .name(format!("c2tap-worker-{index}"))
            .spawn(move || worker.run(rx, recycle, out));
        match spawned {
            Ok(h) => workers.push(h),
            Err(_) => break,
        }
    }
    queues.truncate(workers.len());
    drop(recycle_tx);

    let mut ticker = SensorTicker::new(
        cfg.sensor_name.clone(),
        registry.clone(),
        out_tx.clone(),
        cfg.stats_interval.map(Duration::from_secs),
        mode == Mode::Replay
            && sensor::progress_wanted(matches!(cfg.output, crate::output::OutputTarget::Stdout)),
    );
    ticker.emit(&run_name, State::Start);
    let end = if queues.is_empty() {
        None
    } else {
        let mut dispatcher = Dispatcher::new(mode, queues, recycle_rx, registry.slot());
        Some(dispatcher.run(source, signals, &mut ticker))
        // The dispatcher drops here, closing the queues: workers drain and flush.
    };
    let mut tally = Tally::default();
    for h in workers {
        if let Ok(t) = h.join() {
            tally.merge(t);
        }
    }
    ticker.finish();
    ticker.emit(&run_name, State::Stop);
    drop(ticker);
    drop(out_tx);
    let writer = writer.join().unwrap_or_else(|_| WriterReport {
        end: WriterEnd::Failed(crate::output::OutputError::Write(std::io::Error::other(
            "writer thread panicked",
        ))),
        lines: 0,
        report: None,
    });
    RunReport {
        failed_inputs: end.map_or(0, |e| e.failed_inputs),
        writer: writer.end,
        output_lines: writer.lines,
        totals: registry.totals(),
        tally,
        capture: source.stats(),
        run_name,
        wall: started.elapsed(),
        report: writer.report,
    }
}
