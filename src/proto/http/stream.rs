//! Moving along one direction of a connection: what a direction is doing, and the
//! steps both directions share (body skipping, the rest of an over-long head,
//! resynchronisation after invalid data).

use super::body::{BodySkip, Chunk, SkipEnd};
use super::feed::{Feed, MAX_RESYNC_BYTES, Outcome};
use super::head::Framing;
use super::{HttpCounters, InvalidKind};
use crate::proto::Verdict;

/// What a direction is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    /// At a message start; `scanned` bytes were already searched for the head's end.
    Head {
        scanned: usize,
    },
    /// Past the first [`MAX_HEAD_BYTES`] of a long head, up to its empty line: `nl` is
    /// 1 after a `\n`, 2 after `\n\r`, 0 otherwise.
    SkipHeadRest {
        nl: u8,
        then: After,
    },
    Body(BodySkip),
    /// Looking for a line start that begins a message.
    Resync {
        line_start: bool,
        skipped: u64,
    },
    /// Client side after a CONNECT head, until the proxy answers.
    AwaitConnect,
    Tunnel,
    Stopped,
}

/// Where a direction goes after a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    Head,
    Body(BodySkip),
    AwaitConnect,
    Tunnel,
    Stopped,
}

impl After {
    pub(super) fn dir(self) -> Dir {
        match self {
            After::Head => Dir::Head { scanned: 0 },
            After::Body(b) => Dir::Body(b),
            After::AwaitConnect => Dir::AwaitConnect,
            After::Tunnel => Dir::Tunnel,
            After::Stopped => Dir::Stopped,
        }
    }
}

pub(super) fn after_body(framing: &Framing, counters: &mut HttpCounters) -> After {
    if let Some(kind) = framing.invalid {
        // Length unknown: read no body; if one follows, the next head fails to parse
        // and resynchronisation skips it.
        counters.count_invalid(kind);
    }
    if framing.chunked {
        After::Body(BodySkip::Chunked(Chunk::SizeStart))
    } else {
        match framing.content_length {
            Some(n) if n > 0 => After::Body(BodySkip::Length(n)),
            _ => After::Head,
        }
    }
}

pub(super) fn fed(consumed: usize, outcome: Outcome) -> Feed {
    Feed { consumed, outcome }
}

/// Number of CR/LF bytes at the start (stray line ends between messages).
pub(super) fn leading_crlf(data: &[u8]) -> usize {
    data.iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()
}

/// The `nl` state of [`Dir::SkipHeadRest`] after `tail`.
pub(super) fn nl_state(tail: &[u8]) -> u8 {
    match tail {
        [.., b'\n', b'\r'] => 2,
        [.., b'\n'] => 1,
        _ => 0,
    }
}

/// Starts skipping invalid data in a direction.
pub(super) fn start_resync(
    kind: InvalidKind,
    line_start: bool,
    counters: &mut HttpCounters,
) -> Dir {
    counters.count_invalid(kind);
    counters.resyncs = counters.resyncs.saturating_add(1);
    Dir::Resync {
        line_start,
        skipped: 0,
    }
}

/// One step of a direction in a state both directions share. Returns the bytes used,
/// the next state, and `Some(outcome)` when the feed should return.
pub(super) fn step_common(
    dir: Dir,
    rest: &[u8],
    counters: &mut HttpCounters,
    starts_message: fn(&[u8]) -> Verdict,
) -> (usize, Dir, Option<Outcome>) {
    match dir {
        Dir::SkipHeadRest { nl, then } => match skip_head_rest(nl, rest) {
            (used, Ok(())) => (used, then.dir(), None),
            (used, Err(nl)) => (
                used,
                Dir::SkipHeadRest { nl, then },
                Some(Outcome::NeedMore),
            ),
        },
        Dir::Body(mut skip) => {
            let r = skip.skip(rest);
            counters.bodies_skipped_bytes =
                counters.bodies_skipped_bytes.saturating_add(r.body_bytes);
            match r.end {
                SkipEnd::More => (r.consumed, Dir::Body(skip), Some(Outcome::NeedMore)),
                SkipEnd::Done => (r.consumed, Dir::Head { scanned: 0 }, None),
                SkipEnd::Invalid(kind) => (r.consumed, start_resync(kind, false, counters), None),
            }
        }
        Dir::Resync {
            line_start,
            skipped,
        } => {
            let (used, found, line_start) = resync_scan(rest, line_start, starts_message);
            let skipped = skipped.saturating_add(used as u64);
            if found {
                (used, Dir::Head { scanned: 0 }, None)
            } else if skipped > MAX_RESYNC_BYTES {
                counters.resyncs_abandoned = counters.resyncs_abandoned.saturating_add(1);
                (used, Dir::Stopped, None)
            } else {
                (
                    used,
                    Dir::Resync {
                        line_start,
                        skipped,
                    },
                    Some(Outcome::NeedMore),
                )
            }
        }
        Dir::Tunnel => (0, Dir::Tunnel, Some(Outcome::Handoff)),
        Dir::Stopped => (rest.len(), Dir::Stopped, Some(Outcome::Stopped)),
        // Only reached through the request loop, which handles these itself.
        Dir::Head { .. } | Dir::AwaitConnect => (0, dir, Some(Outcome::NeedMore)),
    }
}

/// Skips the rest of an over-long head up to its empty line. Returns the bytes used and
/// `Ok` at the end of the head, or `Err(nl)` (the line-end state) when more is needed.
pub(super) fn skip_head_rest(mut nl: u8, rest: &[u8]) -> (usize, Result<(), u8>) {
    for (i, &b) in rest.iter().enumerate() {
        nl = match (nl, b) {
            (1 | 2, b'\n') => return (i.saturating_add(1), Ok(())),
            (1, b'\r') => 2,
            (_, b'\n') => 1,
            _ => 0,
        };
    }
    (rest.len(), Err(nl))
}

/// Looks for a line start where `starts_message` says yes. Returns the bytes to skip,
/// whether a message start was found there, and whether the scan stopped at a line
/// start (a partial message prefix left unconsumed, or the last byte was `\n`).
pub(super) fn resync_scan(
    rest: &[u8],
    mut line_start: bool,
    starts_message: fn(&[u8]) -> Verdict,
) -> (usize, bool, bool) {
    let mut i = 0usize;
    loop {
        let tail = rest.get(i..).unwrap_or_default();
        if line_start {
            match starts_message(tail) {
                Verdict::Match => return (i, true, true),
                Verdict::NeedMore => return (i, false, true),
                Verdict::NoMatch => {}
            }
        }
        match tail.iter().position(|&b| b == b'\n') {
            Some(n) => {
                i = i.saturating_add(n).saturating_add(1);
                line_start = true;
            }
            None => return (rest.len(), false, false),
        }
    }
}

/// A direction after a reassembly hole of `len` bytes. A body whose remaining length
/// covers the hole stays in step (the hole was body); anything else resynchronises.
/// Returns the new state and whether the direction lost its place.
pub(super) fn after_gap(dir: Dir, len: u64, counters: &mut HttpCounters) -> (Dir, bool) {
    let lost = |counters: &mut HttpCounters| {
        counters.resyncs = counters.resyncs.saturating_add(1);
        (
            Dir::Resync {
                line_start: false,
                skipped: 0,
            },
            true,
        )
    };
    match dir {
        Dir::Body(BodySkip::Length(n)) if n > len => {
            (Dir::Body(BodySkip::Length(n.saturating_sub(len))), false)
        }
        Dir::Body(BodySkip::Chunked(Chunk::Data(n))) if n > len => (
            Dir::Body(BodySkip::Chunked(Chunk::Data(n.saturating_sub(len)))),
            false,
        ),
        Dir::Body(BodySkip::UntilClose) | Dir::Tunnel | Dir::Stopped | Dir::AwaitConnect => {
            (dir, false)
        }
        Dir::Resync {
            line_start: _,
            skipped,
        } => (
            Dir::Resync {
                line_start: false,
                skipped: skipped.saturating_add(len),
            },
            false,
        ),
        Dir::Head { .. } | Dir::SkipHeadRest { .. } | Dir::Body(_) => lost(counters),
    }
}
