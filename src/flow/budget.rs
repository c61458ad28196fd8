//! The reassembly budget of one worker: the bytes of TCP reassembly buffers all its
//! flows hold together, against a cap. Each direction is capped at ~82 KiB by its
//! reassembler; this bounds the sum, so that a crowd of flows that each keep an unparsed
//! prefix cannot exhaust memory. The caller (the application stage) tallies each
//! connection's [`TcpConn::memory_bytes`](super::TcpConn::memory_bytes) before and after
//! a segment, and stops the connection's reassembly when told it is over.

/// Bytes of TCP reassembly buffers one worker may hold across all its flows. 48 MiB
/// per worker keeps two workers well inside DESIGN §6's 256 MiB together with the flow
/// tables, while ordinary traffic (parsers consume bytes as they arrive and stop once
/// they have their facts) stays far below it.
pub const REASSEMBLY_BUDGET: usize = 48 << 20;

#[derive(Clone, Debug)]
pub struct ReassemblyBudget {
    held: usize,
    cap: usize,
    /// Connections stopped because the budget was spent.
    stops: u64,
}

impl ReassemblyBudget {
    pub const fn new(cap: usize) -> ReassemblyBudget {
        ReassemblyBudget {
            held: 0,
            cap,
            stops: 0,
        }
    }

    /// One connection's buffers went from `before` to `after` bytes. True when the
    /// worker is now over its cap and this connection holds something: the caller
    /// stops it (as Suricata does when its stream memcap is reached), and its bytes are
    /// no longer counted here.
    pub fn charge(&mut self, before: usize, after: usize) -> bool {
        self.held = self.held.saturating_sub(before).saturating_add(after);
        if self.held > self.cap && after > 0 {
            self.stops = self.stops.saturating_add(1);
            self.held = self.held.saturating_sub(after);
            return true;
        }
        false
    }

    /// A connection ended holding `bytes`.
    pub fn release(&mut self, bytes: usize) {
        self.held = self.held.saturating_sub(bytes);
    }

    pub fn held(&self) -> usize {
        self.held
    }

    pub fn stops(&self) -> u64 {
        self.stops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_that_crosses_the_cap_is_stopped_and_uncounted() {
        let mut b = ReassemblyBudget::new(100);
        assert!(!b.charge(0, 60));
        assert!(!b.charge(0, 40), "at the cap is not over it");
        assert_eq!(b.held(), 100);
        // A third connection grows past the cap: it is the one stopped.
        assert!(b.charge(0, 10));
        assert_eq!((b.held(), b.stops()), (100, 1));
        // The first one shrinks: room again.
        assert!(!b.charge(60, 20));
        assert!(!b.charge(0, 40));
        assert_eq!(b.held(), 100);
        // A connection that holds nothing after its segment is never stopped.
        assert!(!b.charge(0, 0));
        b.release(20);
        assert_eq!(b.held(), 80);
        b.release(1000);
        assert_eq!((b.held(), b.stops()), (0, 1));
    }
}
