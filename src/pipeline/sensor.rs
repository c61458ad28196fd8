//! SensorState events (EventID 4) and the replay progress bar: the capture thread's
//! wall-clock duties, called from the dispatch loop's ticks.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;

use super::dispatch::Ticker;
use crate::capture::{CaptureError, Source};
use crate::event::json::Obj;
use crate::telemetry::{Counter, Counts, Registry};
use crate::time::Timestamp;

/// Why a SensorState event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Start,
    Stats,
    Stop,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Start => "start",
            State::Stats => "stats",
            State::Stop => "stop",
        }
    }
}

/// Appends one SensorState line. Its `UtcTime` is the wall clock: sensor health is about
/// the sensor's time, not the traffic's.
pub fn write_sensor_state(
    out: &mut Vec<u8>,
    computer: &str,
    source: &str,
    state: State,
    counts: &Counts,
) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ts = Timestamp::from_secs_nanos(now.as_secs() as i64, now.subsec_nanos());
    let mut o = Obj::start(out);
    o.num("EventID", 4);
    o.str("EventType", "SensorState");
    o.display("UtcTime", ts.sysmon());
    o.str("Computer", computer);
    o.str("Source", source);
    o.str("State", state.as_str());
    o.key("Counters");
    let mut c = Obj::start(o.out);
    for counter in Counter::ALL {
        c.num(counter.name(), counts.get(*counter));
    }
    c.out.push(b'}');
    o.end();
}

/// The capture thread's ticker: periodic SensorState events and the progress bar.
pub struct SensorTicker {
    pub computer: Arc<str>,
    pub registry: Arc<Registry>,
    pub writer: Sender<Vec<u8>>,
    pub interval: Option<Duration>,
    last_stats: Instant,
    progress: Option<Progress>,
}

impl SensorTicker {
    pub fn new(
        computer: Arc<str>,
        registry: Arc<Registry>,
        writer: Sender<Vec<u8>>,
        interval: Option<Duration>,
        show_progress: bool,
    ) -> SensorTicker {
        let progress = show_progress.then(Progress::new);
        SensorTicker {
            computer,
            registry,
            writer,
            interval,
            last_stats: Instant::now(),
            progress,
        }
    }

    pub fn emit(&self, source: &str, state: State) {
        let mut buf = Vec::with_capacity(1024);
        write_sensor_state(
            &mut buf,
            &self.computer,
            source,
            state,
            &self.registry.totals(),
        );
        let _ = self.writer.send(buf);
    }

    /// Clears the progress line so that messages after it start on a clean line.
    pub fn finish(&mut self) {
        if let Some(p) = &mut self.progress {
            p.clear();
        }
    }
}

/// Whether a replay shows its progress bar: only on a terminal, and not when the events
/// go to that same terminal (the bar would cut into them).
pub fn progress_wanted(events_to_stdout: bool) -> bool {
    let stderr = std::io::stderr();
    if !stderr.is_terminal() {
        return false;
    }
    !(events_to_stdout && std::io::stdout().is_terminal() && same_terminal())
}

/// True when stdout and stderr are the same terminal device.
fn same_terminal() -> bool {
    fn device(fd: i32) -> Option<(u64, u64)> {
        // SAFETY: fstat fills a zeroed, live stat struct for an fd we only read.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::fstat(fd, &mut st) };
        (rc == 0).then_some((st.st_dev, st.st_rdev))
    }
    match (device(1), device(2)) {
        (Some(a), Some(b)) => a == b,
        // Unknown: assume the worst, that they share a screen.
        _ => true,
    }
}

impl Ticker for SensorTicker {
    fn input_failed(&mut self, error: &CaptureError) {
        // The progress line is cleared first so the message starts on its own line;
        // the next tick redraws it.
        if let Some(p) = &mut self.progress {
            p.clear();
        }
        let _ = writeln!(std::io::stderr(), "c2tap: {error}");
    }

    fn tick(&mut self, now: Instant, source: &mut dyn Source) {
        if let Some(interval) = self.interval
            && now.duration_since(self.last_stats) >= interval
        {
            self.last_stats = now;
            let name = source.current_name().clone();
            self.emit(&name, State::Stats);
        }
        if let Some(p) = &mut self.progress {
            let st = source.stats();
            p.draw(now, st.input_bytes_read, st.input_bytes_total, st.packets);
        }
    }
}

/// A one-line progress bar on stderr (bytes of input read), drawn at most 5 times a
/// second, only when stderr is a terminal ([`progress_wanted`]).
struct Progress {
    started: Instant,
    last_draw: Option<Instant>,
}

const DRAW_EVERY: Duration = Duration::from_millis(200);
const BAR_WIDTH: usize = 30;
/// The rate is shown once the run is this old: before, it measures how fast the first
/// mapped window (4 MiB, mapped at once) appeared, not the replay (`4194 MB/s`).
const RATE_AFTER: Duration = Duration::from_secs(1);

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            last_draw: None,
        }
    }

    fn draw(&mut self, now: Instant, read: u64, total: Option<u64>, packets: u64) {
        if let Some(line) = self.line(now, read, total, packets) {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    /// The line to draw now, if one is due.
    fn line(
        &mut self,
        now: Instant,
        read: u64,
        total: Option<u64>,
        packets: u64,
    ) -> Option<String> {
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < DRAW_EVERY)
        {
            return None;
        }
        if self.last_draw.is_none() && now.duration_since(self.started) < DRAW_EVERY {
            // Short runs end before a bar would help; long ones start it a moment later.
            return None;
        }
        self.last_draw = Some(now);
        let elapsed = now.duration_since(self.started);
        let rate = if elapsed >= RATE_AFTER {
            format!(", {:.0} MB/s", read as f64 / elapsed.as_secs_f64() / 1e6)
        } else {
            String::new()
        };
        let line = match total {
            Some(total) if total > 0 => {
                let frac = (read as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (frac * BAR_WIDTH as f64) as usize;
                format!(
                    "\r[{}{}] {:5.1}% {} / {} MB, {} packets{} ",
                    "#".repeat(filled),
                    " ".repeat(BAR_WIDTH - filled),
                    frac * 100.0,
                    read / 1_000_000,
                    total / 1_000_000,
                    packets,
                    rate
                )
            }
            _ => format!("\r{} MB, {} packets{} ", read / 1_000_000, packets, rate),
        };
        Some(line)
    }

    fn clear(&mut self) {
        if self.last_draw.take().is_some() {
            let _ = std::io::stderr().write_all(format!("\r{}\r", " ".repeat(100)).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 17: the first reading said `4194 MB/s` (the first 4 MiB window, mapped in
    /// no time). Now no bar in the first 200 ms, no rate in the first second, then the
    /// average since the start.
    #[test]
    fn progress_rate_waits_for_a_second_of_data() {
        let mut p = Progress::new();
        let t0 = p.started;
        let total = Some(100_000_000);
        assert_eq!(
            p.line(t0 + Duration::from_millis(5), 4 << 20, total, 10),
            None
        );
        let early = p
            .line(t0 + Duration::from_millis(300), 4 << 20, total, 10)
            .unwrap();
        assert!(!early.contains("MB/s"), "{early}");
        assert!(early.contains("4 / 100 MB, 10 packets"), "{early}");
        assert_eq!(
            p.line(t0 + Duration::from_millis(350), 5 << 20, total, 11),
            None
        );
        let later = p
            .line(t0 + Duration::from_secs(2), 50_000_000, total, 99)
            .unwrap();
        assert!(
            later.contains("50.0% 50 / 100 MB, 99 packets, 25 MB/s"),
            "{later}"
        );
    }

    #[test]
    fn sensor_state_is_one_json_line_with_every_counter() {
        let mut counts = Counts::default();
        counts.add(Counter::Packets, 7);
        let mut out = Vec::new();
        write_sensor_state(&mut out, "sensor1", "eth0", State::Stop, &counts);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["EventID"], 4);
        assert_eq!(v["State"], "stop");
        assert_eq!(v["Counters"]["packets"], 7);
        assert_eq!(v["Counters"].as_object().unwrap().len(), Counter::ALL.len());
    }
}
