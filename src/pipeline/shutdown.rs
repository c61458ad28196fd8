//! Signals: SIGINT and SIGTERM ask the run to stop (capture stops, queues drain, flows
//! flush, exit 0); SIGHUP asks the writer to reopen its file (logrotate).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Flags set from signal handlers and read by the threads of a run.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
}

impl Signals {
    /// Flags with no handler installed (tests, `rules` subcommands).
    pub fn new() -> Signals {
        Signals::default()
    }

    /// Installs the handlers. A second SIGINT while stopping still only stops: the drain
    /// is quick, and a forced exit would lose parsed events.
    pub fn install() -> io::Result<Signals> {
        let s = Signals::new();
        signal_hook::flag::register(SIGINT, s.stop.clone())?;
        signal_hook::flag::register(SIGTERM, s.stop.clone())?;
        signal_hook::flag::register(SIGHUP, s.reopen.clone())?;
        Ok(s)
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True once per SIGHUP.
    pub fn take_reopen(&self) -> bool {
        self.reopen.swap(false, Ordering::Relaxed)
    }
}
