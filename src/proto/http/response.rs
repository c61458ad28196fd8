//! The server→client side of [`HttpState`]: status lines matched in order to pending
//! requests, response bodies, the answers that end HTTP/1 (101) or start a tunnel (2xx
//! to CONNECT).

use super::body::BodySkip;
use super::feed::{Feed, Outcome};
use super::parse::{
    ResponseHead, find_head_end, parse_response_head, parse_truncated_response_head, probe_response,
};
use super::state::HttpState;
use super::stream::{
    After, Dir, after_body, fed, leading_crlf, nl_state, start_resync, step_common,
};
use super::{HttpCounters, InvalidKind, MAX_HEAD_BYTES};
use crate::proto::Verdict;

impl HttpState {
    /// Feeds server→client bytes, like [`HttpState::feed_request`].
    pub fn feed_response(&mut self, data: &[u8], counters: &mut HttpCounters) -> Feed {
        let feed = self.run_response(data, counters);
        self.resp_offset = self
            .resp_offset
            .saturating_add(u64::try_from(feed.consumed).unwrap_or(u64::MAX));
        feed
    }

    fn run_response(&mut self, data: &[u8], counters: &mut HttpCounters) -> Feed {
        let mut pos = 0usize;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            let Dir::Head { scanned } = self.resp else {
                let (used, dir, outcome) = step_common(self.resp, rest, counters, probe_response);
                pos = pos.saturating_add(used);
                self.resp = dir;
                if let Some(outcome) = outcome {
                    return fed(pos, outcome);
                }
                continue;
            };
            let crlf = leading_crlf(rest);
            if crlf > 0 {
                pos = pos.saturating_add(crlf);
                self.resp = Dir::Head { scanned: 0 };
                continue;
            }
            match probe_response(rest) {
                Verdict::NeedMore => return fed(pos, Outcome::NeedMore),
                Verdict::NoMatch => {
                    self.resp = self.response_invalid(InvalidKind::StatusLine, false, counters);
                    continue;
                }
                Verdict::Match => {}
            }
            let window = rest.get(..MAX_HEAD_BYTES).unwrap_or(rest);
            if let Some(end) = find_head_end(window, scanned.saturating_sub(2)) {
                pos = pos.saturating_add(end);
                self.resp = match parse_response_head(window.get(..end).unwrap_or_default()) {
                    Ok(r) => self.on_response(&r, pos, counters).dir(),
                    Err(kind) => self.response_invalid(kind, true, counters),
                };
            } else if rest.len() >= MAX_HEAD_BYTES {
                pos = pos.saturating_add(window.len());
                self.resp = match parse_truncated_response_head(window) {
                    Ok(r) => Dir::SkipHeadRest {
                        nl: nl_state(window),
                        then: self.on_response(&r, pos, counters),
                    },
                    Err(kind) => self.response_invalid(kind, nl_state(window) != 0, counters),
                };
            } else {
                self.resp = Dir::Head {
                    scanned: rest.len(),
                };
                return fed(pos, Outcome::NeedMore);
            }
        }
    }

    /// Invalid server data: responses can no longer be matched in order, so every
    /// pending request is emitted without a status, then the stream resynchronises.
    fn response_invalid(
        &mut self,
        kind: InvalidKind,
        line_start: bool,
        counters: &mut HttpCounters,
    ) -> Dir {
        self.flush(counters);
        self.owed = 0;
        start_resync(kind, line_start, counters)
    }

    /// Matches response `r` (head ending at `pos`) to its request; returns where the
    /// server stream goes next.
    fn on_response(&mut self, r: &ResponseHead, pos: usize, counters: &mut HttpCounters) -> After {
        counters.responses = counters.responses.saturating_add(1);
        if r.truncated {
            counters.truncated_heads = counters.truncated_heads.saturating_add(1);
        }
        if r.lenient {
            counters.lenient_heads = counters.lenient_heads.saturating_add(1);
        }
        let status = r.status;
        // 1xx other than 101 are interim: the final response follows (RFC 9110 §15.2).
        if (100..200).contains(&status) && status != 101 {
            return After::Head;
        }
        let request = if self.owed > 0 {
            self.owed = self.owed.saturating_sub(1);
            None
        } else {
            let p = self.pending.pop_front();
            match &p {
                Some(p) => {
                    self.pending_bytes = self.pending_bytes.saturating_sub(p.request.heap_bytes())
                }
                None => {
                    counters.responses_unmatched = counters.responses_unmatched.saturating_add(1)
                }
            }
            p
        };
        let (is_head, is_connect) = request.as_ref().map_or((false, false), |p| {
            (p.request.is_head(), p.request.is_connect())
        });
        if let Some(p) = request {
            self.emit(p, Some(status), counters);
        }
        if status == 101 {
            // The connection now speaks another protocol (WebSocket, h2c) in both
            // directions: nothing more to read as HTTP/1.
            counters.upgrades = counters.upgrades.saturating_add(1);
            self.req = Dir::Stopped;
            self.flush(counters);
            return After::Stopped;
        }
        let success = (200..300).contains(&status);
        if is_connect {
            if success {
                counters.tunnels = counters.tunnels.saturating_add(1);
                if self.tunnel.to_server.is_none() {
                    self.tunnel.to_server = self.connect_offset;
                }
                self.tunnel.to_client = Some(self.resp_offset.saturating_add(pos as u64));
                self.flush(counters);
                return After::Tunnel;
            }
            if self.req == Dir::AwaitConnect {
                self.req = Dir::Head { scanned: 0 };
            }
        }
        // RFC 9112 §6.3 rules 1–2: no body after HEAD, 1xx, 204, 304.
        if is_head || status == 204 || status == 304 {
            return After::Head;
        }
        if r.framing.chunked || r.framing.content_length.is_some() {
            after_body(&r.framing, counters)
        } else {
            if let Some(kind) = r.framing.invalid {
                counters.count_invalid(kind);
            }
            // Rule 8: the body runs to the connection's end; no later response comes.
            self.flush(counters);
            After::Body(BodySkip::UntilClose)
        }
    }
}
