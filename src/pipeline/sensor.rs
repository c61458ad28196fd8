//! SensorState events (EventID 4) and the replay progress bar: the capture thread's
//! wall-clock duties, called from the dispatch loop's ticks.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::Sender;

use super::dispatch::Ticker;
use crate::capture::Source;
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
        let progress = (show_progress && std::io::stderr().is_terminal()).then(Progress::new);
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

impl Ticker for SensorTicker {
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
/// second, only when stderr is a terminal.
struct Progress {
    started: Instant,
    last_draw: Option<Instant>,
}

const DRAW_EVERY: Duration = Duration::from_millis(200);
const BAR_WIDTH: usize = 30;

impl Progress {
    fn new() -> Progress {
        Progress {
            started: Instant::now(),
            last_draw: None,
        }
    }

    fn draw(&mut self, now: Instant, read: u64, total: Option<u64>, packets: u64) {
        if self
            .last_draw
            .is_some_and(|t| now.duration_since(t) < DRAW_EVERY)
        {
            return;
        }
        self.last_draw = Some(now);
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = read as f64 / secs / 1e6;
        let line = match total {
            Some(total) if total > 0 => {
                let frac = (read as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (frac * BAR_WIDTH as f64) as usize;
                format!(
                    "\r[{}{}] {:5.1}% {} / {} MB, {} packets, {:.0} MB/s ",
                    "#".repeat(filled),
                    " ".repeat(BAR_WIDTH - filled),
                    frac * 100.0,
                    read / 1_000_000,
                    total / 1_000_000,
                    packets,
                    rate
                )
            }
            _ => format!(
                "\r{} MB, {} packets, {:.0} MB/s ",
                read / 1_000_000,
                packets,
                rate
            ),
        };
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn clear(&mut self) {
        if self.last_draw.is_some() {
            let _ = std::io::stderr().write_all(format!("\r{}\r", " ".repeat(100)).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
