//! The two small contracts every protocol module keeps with the application stage
//! (`app`): how it is recognized ([`Probe`], answering a [`Verdict`]), and what one feed
//! of its streaming parser did ([`Progress`]).
//!
//! Recognition is by content, on any port (Retina's way): ports decide only where a
//! protocol owns them outright (DNS on 53). The application stage holds the probes in
//! the order it tries them; this module only says what a probe is.
//!
//! Pure: no state, no I/O. Imports `flow` (for [`Transport`]) only.

use crate::flow::Transport;

/// What a probe says of the first bytes of a stream, or of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes start like this protocol.
    Match,
    /// Every byte so far fits; more are needed to tell (streams only: a datagram is
    /// whole, so datagram probes never answer this).
    NeedMore,
    /// Not this protocol.
    NoMatch,
}

impl Verdict {
    /// `Match` when `yes`, else `NoMatch`: for tests that are yes-or-no by nature
    /// (a whole datagram).
    pub const fn from_bool(yes: bool) -> Verdict {
        if yes {
            Verdict::Match
        } else {
            Verdict::NoMatch
        }
    }
}

/// How a protocol offers itself: the transport that carries it, the ports on which it
/// is taken without looking (on either side of the flow), and a test of the content
/// for every other port.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// For tests and diagnostics.
    pub name: &'static str,
    pub transport: Transport,
    /// Ports that decide by themselves; empty when only the content decides.
    pub ports: &'static [u16],
    /// The content test; `None` when the protocol is known by its ports alone.
    pub content: Option<fn(&[u8]) -> Verdict>,
}

impl Probe {
    /// Whether either port of a flow is one of the protocol's own.
    pub fn owns_port(&self, a: u16, b: u16) -> bool {
        self.ports.contains(&a) || self.ports.contains(&b)
    }

    /// The content test's verdict (`NoMatch` for a protocol known by port only).
    pub fn content(&self, bytes: &[u8]) -> Verdict {
        self.content.map_or(Verdict::NoMatch, |test| test(bytes))
    }
}

/// What one feed of a protocol's parser did (STYLE rule 4: parsed, need more, invalid),
/// the same for every parser. `T` is what the parser delivers when it is done (the
/// handshake facts of a ClientHello); `E` why it broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<T, E> {
    /// Everything so far fits; feed more bytes.
    NeedMore,
    /// The parser delivered its result; it is finished and reads no more.
    Done(T),
    /// The bytes (from the feed's consumed count on) are not this parser's: a CONNECT
    /// tunnel begins, or the stream never was this protocol. The application stage
    /// probes them again.
    Handoff,
    /// It started as this protocol but broke (already counted). Finished.
    Invalid(E),
    /// Finished without a result (a cap was reached, the protocol changed, or an
    /// earlier feed already gave the final answer): later bytes are not read.
    Stopped,
}

impl<T, E> Progress<T, E> {
    /// True for every answer after which the parser reads nothing more.
    pub fn is_final(&self) -> bool {
        !matches!(self, Progress::NeedMore)
    }
}
