//! Sinks for JSON lines: stdout, a file (append, SIGHUP reopen, rotation by size), and
//! later a TLS connection to a collector.
//!
//! Where it sits: the last stage. The writer thread owns one [`Sink`] and only writes
//! bytes that workers already serialized, so a slow sink back-pressures the workers
//! (replay) or is counted as output drops (live). Imports nothing from the data path.

mod file;

use std::io::{self, Write};
use std::path::PathBuf;

pub use file::FileSink;

/// Where events go, as given by `-o`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    File {
        path: PathBuf,
        rotate: Option<Rotation>,
    },
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
}

/// An opened output.
pub enum Sink {
    Stdout(io::BufWriter<io::Stdout>),
    File(FileSink),
}

impl Sink {
    pub fn open(target: &OutputTarget) -> Result<Sink, OutputError> {
        Ok(match target {
            OutputTarget::Stdout => {
                Sink::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout()))
            }
            OutputTarget::File { path, rotate } => Sink::File(FileSink::open(path, *rotate)?),
        })
    }

    /// Writes whole lines: `bytes` holds complete JSON lines and is never split across
    /// a rotation.
    pub fn write_lines(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(w) => w.write_all(bytes).map_err(OutputError::Write),
            Sink::File(f) => f.write_lines(bytes),
        }
    }

    pub fn flush(&mut self) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(w) => w.flush().map_err(OutputError::Write),
            Sink::File(f) => f.flush(),
        }
    }

    /// SIGHUP: reopen the file by name so that logrotate's rename takes effect.
    pub fn reopen(&mut self) -> Result<(), OutputError> {
        match self {
            Sink::Stdout(_) => Ok(()),
            Sink::File(f) => f.reopen(),
        }
    }
}

/// True for the error a closed pipe gives (`c2tap ... | head`): not a failure.
pub fn is_broken_pipe(e: &OutputError) -> bool {
    matches!(e, OutputError::Write(io) if io.kind() == io::ErrorKind::BrokenPipe)
}
