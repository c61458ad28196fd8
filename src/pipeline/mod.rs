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
use std::time::Duration;

use crossbeam_channel::bounded;

use crate::capture::{CaptureError, Source};
use crate::config::RuntimeConfig;
use crate::detect::Engine;
use crate::output::Sink;
use crate::proto::dns::cache::DnsCache;
use crate::telemetry::{Counts, Registry};
use dispatch::Dispatcher;
use sensor::{SensorTicker, State};
use shutdown::Signals;
use worker::Worker;
use writer::WriterEnd;

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
    /// The source failed (corrupt file, interface gone); everything read before it was
    /// processed and written.
    pub capture_error: Option<CaptureError>,
    pub writer: WriterEnd,
    pub totals: Counts,
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
    let registry = Arc::new(Registry::default());
    let dns_cache = Arc::new(DnsCache::default());
    let (out_tx, out_rx) = bounded::<Vec<u8>>(writer::WRITER_QUEUE);
    let (recycle_tx, recycle_rx) = bounded(cfg.workers * WORKER_QUEUE + cfg.workers);

    let writer = {
        let signals = signals.clone();
        let slot = registry.slot();
        thread::Builder::new()
            .name("c2tap-writer".into())
            .spawn(move || writer::run(sink, out_rx, signals, slot))
    };
    let Ok(writer) = writer else {
        return RunReport {
            capture_error: None,
            writer: WriterEnd::Failed(crate::output::OutputError::Write(std::io::Error::other(
                "cannot start the writer thread",
            ))),
            totals: Counts::default(),
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
        mode == Mode::Replay,
    );
    ticker.emit(&source.current_name().clone(), State::Start);
    let end = if queues.is_empty() {
        None
    } else {
        let mut dispatcher = Dispatcher::new(mode, queues, recycle_rx, registry.slot());
        Some(dispatcher.run(source, signals, &mut ticker))
        // The dispatcher drops here, closing the queues: workers drain and flush.
    };
    for h in workers {
        let _ = h.join();
    }
    ticker.finish();
    ticker.emit(&source.current_name().clone(), State::Stop);
    drop(ticker);
    drop(out_tx);
    let writer = writer.join().unwrap_or_else(|_| {
        WriterEnd::Failed(crate::output::OutputError::Write(std::io::Error::other(
            "writer thread panicked",
        )))
    });
    RunReport {
        capture_error: end.and_then(|e| e.error),
        writer,
        totals: registry.totals(),
    }
}
