//! Which header fields are kept, and how body framing is decided from them; shared by
//! the httparse fast path and the lenient parser.

use super::InvalidKind;
use super::head::{Framing, RequestHead};

/// Collects the headers c2tap keeps, from either parser.
#[derive(Default)]
pub(super) struct HeadBuilder {
    pub(super) head: RequestHead,
    /// The last header line was one we keep, so a folded continuation extends it.
    last: Option<Slot>,
    framing: FramingBuilder,
}

#[derive(Clone, Copy)]
enum Slot {
    Host,
    UserAgent,
    Referer,
    Cookie,
    ContentLength,
    TransferEncoding,
}

#[derive(Default)]
struct FramingBuilder {
    content_length: Option<Vec<u8>>,
    length_conflict: bool,
    transfer_encoding: Option<Vec<u8>>,
}

impl HeadBuilder {
    pub(super) fn header(&mut self, name: &[u8], value: &[u8]) {
        let slot = if name.eq_ignore_ascii_case(b"host") {
            Slot::Host
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            Slot::UserAgent
        } else if name.eq_ignore_ascii_case(b"referer") {
            Slot::Referer
        } else if name.eq_ignore_ascii_case(b"cookie") {
            Slot::Cookie
        } else if name.eq_ignore_ascii_case(b"content-length") {
            Slot::ContentLength
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            Slot::TransferEncoding
        } else {
            self.last = None;
            return;
        };
        let h = &mut self.head;
        let f = &mut self.framing;
        // First Host/User-Agent/Referer wins, as tshark and most servers read them; a
        // later duplicate is not kept, nor extended by its folded lines.
        let kept = match slot {
            Slot::Host => set_first(&mut h.host, value),
            Slot::UserAgent => set_first(&mut h.user_agent, value),
            Slot::Referer => set_first(&mut h.referer, value),
            Slot::Cookie => {
                join(&mut h.cookie, value, b"; ");
                true
            }
            Slot::ContentLength => {
                match &f.content_length {
                    Some(prev) if prev.as_slice() != value => f.length_conflict = true,
                    Some(_) => {}
                    None => f.content_length = Some(value.to_vec()),
                }
                true
            }
            Slot::TransferEncoding => {
                join(&mut f.transfer_encoding, value, b", ");
                true
            }
        };
        self.last = kept.then_some(slot);
    }

    /// A folded continuation line (RFC 9112 §5.2: replace the fold with a space).
    pub(super) fn continuation(&mut self, value: &[u8]) {
        let h = &mut self.head;
        let target = match self.last {
            None => return,
            Some(Slot::Host) => &mut h.host,
            Some(Slot::UserAgent) => &mut h.user_agent,
            Some(Slot::Referer) => &mut h.referer,
            Some(Slot::Cookie) => &mut h.cookie,
            Some(Slot::ContentLength) => &mut self.framing.content_length,
            Some(Slot::TransferEncoding) => &mut self.framing.transfer_encoding,
        };
        join(target, value, b" ");
    }

    pub(super) fn finish(mut self) -> RequestHead {
        self.head.framing = self.framing.finish();
        self.head
    }

    pub(super) fn finish_framing(self) -> Framing {
        self.framing.finish()
    }
}

fn set_first(slot: &mut Option<Vec<u8>>, value: &[u8]) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value.to_vec());
    true
}

fn join(slot: &mut Option<Vec<u8>>, value: &[u8], sep: &[u8]) {
    match slot {
        Some(v) => {
            v.extend_from_slice(sep);
            v.extend_from_slice(value);
        }
        None => *slot = Some(value.to_vec()),
    }
}

impl FramingBuilder {
    fn finish(self) -> Framing {
        let mut out = Framing::default();
        if let Some(te) = self.transfer_encoding {
            // RFC 9112 §6.3: chunked must be the final coding; any other final coding
            // leaves a request's length unknown.
            let last = te
                .rsplit(|&b| b == b',')
                .next()
                .map(trim)
                .unwrap_or_default();
            if last.eq_ignore_ascii_case(b"chunked") {
                out.chunked = true;
            } else {
                out.invalid = Some(InvalidKind::TransferEncoding);
            }
            return out;
        }
        if let Some(cl) = self.content_length {
            match parse_decimal(trim(&cl)) {
                Some(n) if !self.length_conflict => out.content_length = Some(n),
                _ => out.invalid = Some(InvalidKind::ContentLength),
            }
        }
        out
    }
}

/// A decimal u64 of digits only (RFC 9110 §8.6: `1*DIGIT`); `None` on overflow.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Strips optional whitespace (SP, HTAB) at both ends.
pub(super) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}
