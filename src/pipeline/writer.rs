//! The writer thread: takes buffers of complete JSON lines from the workers and the
//! capture thread and writes them to the sink. It never parses or formats anything, so
//! its speed is the sink's. Lines the sink drops (TLS or Redis backlog overflow, Kafka) are
//! published as `output_drops` in the writer's own counter slot, with Kafka's delivery
//! reports. With `replay --report` it also hands each buffer to the report's aggregator
//! (the same lines the sink got); without it the loop is untouched but for one `None`
//! check per buffer.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::shutdown::Signals;
use crate::output::{OutputError, Sink, is_broken_pipe};
use crate::report::Aggregator;
use crate::telemetry::{Counter, CounterSlot, Counts};

/// Buffers of lines in flight between workers and the writer. Each holds a batch's
/// events (tens of KiB at most), so the queue bounds output memory to a few MiB.
pub const WRITER_QUEUE: usize = 256;

/// How often an idle writer wakes to flush and to look at SIGHUP.
const IDLE_TICK: Duration = Duration::from_millis(200);

/// How a writer ended.
pub enum WriterEnd {
    /// Every buffer was written.
    Done,
    /// The reader of stdout went away (`| head`): not an error; the run stops.
    BrokenPipe,
    Failed(OutputError),
}

/// What the writer did: how it ended, and the lines it handed to the sink (delivered,
/// or dropped by the sink: [`Sink::drops`]).
pub struct WriterReport {
    pub end: WriterEnd,
    pub lines: u64,
    /// The report's aggregator, fed every line written (`replay --report`).
    pub report: Option<Box<Aggregator>>,
}

pub fn run(
    mut sink: Sink,
    rx: Receiver<Vec<u8>>,
    signals: Signals,
    slot: Arc<CounterSlot>,
    mut report: Option<Box<Aggregator>>,
) -> WriterReport {
    let mut lines = 0u64;
    let mut counts = Counts::default();
    let mut publish = |sink: &Sink| {
        let drops = sink.drops();
        let (delivered, failed) = sink.delivery_reports().unwrap_or_default();
        if drops != counts.get(Counter::OutputDrops)
            || delivered != counts.get(Counter::OutputDelivered)
            || failed != counts.get(Counter::OutputDeliveryFailures)
        {
            counts.set(Counter::OutputDrops, drops);
            counts.set(Counter::OutputDelivered, delivered);
            counts.set(Counter::OutputDeliveryFailures, failed);
            slot.publish(&counts);
        }
    };
    let end = loop {
        publish(&sink);
        if signals.take_reopen()
            && let Err(e) = sink.reopen()
        {
            break WriterEnd::Failed(e);
        }
        match rx.recv_timeout(IDLE_TICK) {
            Ok(buf) => {
                // Buffers hold whole lines: one newline each.
                lines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
                if let Some(agg) = report.as_mut() {
                    agg.feed_lines(&buf);
                }
                if let Err(e) = sink.write_lines(&buf) {
                    break classify(e);
                }
                // Flush when nothing else is waiting, so a live sensor's events leave
                // promptly while a replay still writes in large chunks.
                if rx.is_empty()
                    && let Err(e) = sink.flush()
                {
                    break classify(e);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = sink.flush() {
                    break classify(e);
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                break match sink.close() {
                    Ok(()) => WriterEnd::Done,
                    Err(e) => classify(e),
                };
            }
        }
    };
    publish(&sink);
    if !matches!(end, WriterEnd::Done) {
        // Producers must not block on a writer that is gone: stop the run and drain.
        signals.request_stop();
        while rx.recv().is_ok() {}
    }
    WriterReport { end, lines, report }
}

fn classify(e: OutputError) -> WriterEnd {
    if is_broken_pipe(&e) {
        WriterEnd::BrokenPipe
    } else {
        WriterEnd::Failed(e)
    }
}
