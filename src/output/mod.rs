//! Sinks for JSON lines: stdout, a file (append, SIGHUP reopen, rotation by size), a
//! TLS connection to a collector, a Redis stream (both with a bounded backlog and
//! reconnect with backoff), and Kafka (librdkafka: one message per line, keyed by
//! CommunityId).
//!
//! Where it sits: the last stage. The writer thread owns one [`Sink`] and only writes
//! bytes that workers already serialized, so a slow sink back-pressures the workers
//! (replay) or is counted as output drops (live). Lines the sink itself has to drop (the
//! TLS or Redis backlog overflowing) are reported by [`Sink::drops`]. Imports nothing from the
//! data path.

mod backlog;
mod file;
pub mod kafka;
pub mod redis;
pub mod tls;

use std::io::{self, Write};
use std::path::PathBuf;

pub use file::FileSink;
pub use kafka::{Fullness, KafkaSink, KafkaTarget};
pub use redis::{RedisSink, RedisTarget};
pub use tls::{TlsSink, TlsTarget};

/// Where events go, as given by `-o`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    File {
        path: PathBuf,
        rotate: Option<Rotation>,
    },
    /// `tls://HOST:PORT`.
    Tls(TlsTarget),
    /// `redis://HOST:PORT/STREAM`, `rediss://…`.
    Redis(RedisTarget),
    /// `kafka://BROKER[,BROKER…]/TOPIC`.
    Kafka(KafkaTarget),
}

/// Built-in rotation: when the file would grow past `max_bytes`, it is renamed to
/// `FILE.1` (older ones shift to `.2` … `.keep`) and a new file is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub max_bytes: u64,
    pub keep: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("writing events: {0}")]
    Write(#[source] io::Error),
    #[error("tls output {endpoint}: {reason}")]
    Tls { endpoint: String, reason: String },
    #[error("redis output {endpoint}: {reason}")]
    Redis { endpoint: String, reason: String },
    /// `usage`: a setup error (bad property, unknown topic, authentication refused).
    #[error("kafka output {url}: {reason}")]
    Kafka {
        url: String,
        reason: String,
        usage: bool,
    },
}

impl OutputError {
    /// True when the output cannot work as configured: its folder does not exist, or
    /// the TLS settings (certificates, names) are wrong, or the Redis server refuses our
    /// credentials or holds the key as another type. The binary exits 2 for these
    /// (DESIGN §5); a write that fails later (disk full) is a runtime failure.
    pub fn is_usage(&self) -> bool {
        match self {
            OutputError::Open { source, .. } => source.kind() == io::ErrorKind::NotFound,
            OutputError::Tls { .. } | OutputError::Redis { .. } => true,
            OutputError::Kafka { usage, .. } => *usage,
            OutputError::Write(_) => false,
        }
    }
}

/// An opened output.
pub enum Sink {
    Stdout(io::BufWriter<io::Stdout>),
    File(FileSink),
    Tls(Box<TlsSink>),
    Redis(Box<RedisSink>),
    Kafka(Box<KafkaSink>),
}

impl Sink {
    pub fn open(target: &OutputTarget) -> Result<Sink, OutputError> {
        Ok(match target {
            OutputTarget::Stdout => {
                Sink::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout()))
            }
            OutputTarget::File { path, rotate } => Sink::File(FileSink::open(path, *rotate)?),
            OutputTarget::Tls(t) => Sink::Tls(Box::new(TlsSink::open(t)?)),
            OutputTarget::Redis(t) => Sink::Redis(Box::new(RedisSink::open(t)?)),
            OutputTarget::Kafka(t) => Sink::Kafka(Box::new(KafkaSink::open(t)?)),
        })
    }

    /// Writes whole lines: `bytes` holds complete JSON lines and is never split across
    /// a rotation.
    pub fn write_lines(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(w) => w.write_all(bytes).map_err(OutputError::Write),
            Sink::File(f) => f.write_lines(bytes),
            Sink::Tls(t) => {
                t.write_lines(bytes);
                Ok(())
            }
            Sink::Redis(r) => {
                r.write_lines(bytes);
                Ok(())
            }
            Sink::Kafka(k) => {
                k.write_lines(bytes);
                Ok(())
            }
        }
    }

    /// Live: a sink whose buffer is full drops lines (counted in [`Sink::drops`])
    /// instead of waiting for room, which would stall the capture. Replay keeps the
    /// default, waiting (back-pressure).
    pub fn drop_when_full(&mut self) {
        if let Sink::Kafka(k) = self {
            k.set_fullness(Fullness::Drop);
        }
    }

    pub fn flush(&mut self) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(w) => w.flush().map_err(OutputError::Write),
            Sink::File(f) => f.flush(),
            Sink::Tls(t) => {
                t.flush();
                Ok(())
            }
            Sink::Redis(r) => {
                r.flush();
                Ok(())
            }
            Sink::Kafka(k) => k.flush(),
        }
    }

    /// End of the run: the last flush. The TLS and Redis sinks try to deliver their
    /// backlog for a bounded time ([`tls::SHUTDOWN_FLUSH`]) and count what is left as
    /// dropped.
    pub fn close(&mut self) -> Result<(), OutputError> {
        match self {
            Sink::Tls(t) => {
                t.close();
                Ok(())
            }
            Sink::Redis(r) => {
                r.close();
                Ok(())
            }
            Sink::Kafka(k) => {
                k.close();
                Ok(())
            }
            _ => self.flush(),
        }
    }

    /// Lines this sink dropped so far (the TLS, Redis and Kafka sinks drop).
    pub fn drops(&self) -> u64 {
        match self {
            Sink::Tls(t) => t.drops(),
            Sink::Redis(r) => r.drops(),
            Sink::Kafka(k) => k.drops(),
            Sink::Stdout(_) | Sink::File(_) => 0,
        }
    }

    /// Lines the output's server acknowledged, and lines it finally did not take: the
    /// Kafka sink's delivery reports. `None` for outputs without acknowledgements.
    pub fn delivery_reports(&self) -> Option<(u64, u64)> {
        match self {
            Sink::Kafka(k) => Some((k.delivered(), k.failed())),
            _ => None,
        }
    }

    /// SIGHUP: reopen the file by name so that logrotate's rename takes effect.
    pub fn reopen(&mut self) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(_) | Sink::Tls(_) | Sink::Redis(_) | Sink::Kafka(_) => Ok(()),
            Sink::File(f) => f.reopen(),
        }
    }
}

/// True for the error a closed pipe gives (`c2tap ... | head`): not a failure.
pub fn is_broken_pipe(e: &OutputError) -> bool {
    matches!(e, OutputError::Write(io) if io.kind() == io::ErrorKind::BrokenPipe)
}
