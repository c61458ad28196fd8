//! A total, zero-copy view of one DNS message (RFC 1035 §4.1).
//!
//! [`Message::parse`] checks only the 12-byte header; questions and records are then
//! read lazily by iterators that stop at the first malformed item after yielding its
//! error, so everything that parsed before it stays usable (a truncated response keeps
//! its question). No accessor can panic and no loop can run away:
//! - a compression pointer (RFC 1035 §4.1.4) must point strictly before the start of the
//!   run of labels that contains it, so each hop moves backwards and a loop is
//!   impossible; [`MAX_POINTER_HOPS`] bounds the work anyway;
//! - a name has at most [`MAX_LABELS`] labels, its text at most [`MAX_NAME_TEXT`] bytes
//!   (longer text is cut and flagged, never rejected);
//! - at most [`MAX_QUESTIONS`] questions and [`MAX_RECORDS`] records are looked at.
//!
//! Every record type is accepted: RDATA is skipped by RDLENGTH, and only the types the
//! events need are decoded ([`RData`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use super::types::{TypeName, type_mnemonic};

/// Fixed header length (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Longest name text kept, escapes included: what dnsmasq uses (Suricata's cap too).
/// A wire name is at most 255 octets (RFC 1035 §2.3.4) so only escaped binary labels or
/// hostile names reach this; the text is cut and flagged.
pub const MAX_NAME_TEXT: usize = 1025;
/// Most labels in a name: 127 one-octet labels fill the 255-octet limit of RFC 1035
/// §2.3.4. More can only be an attack on the decoder.
pub const MAX_LABELS: usize = 127;
/// Most compression pointers followed in one name. Real encoders chain at most a few
/// (a pointer to a suffix that itself ends in a pointer); pointers only go backwards, so
/// this is a bound on work, not what prevents loops.
pub const MAX_POINTER_HOPS: usize = 32;
/// Most questions looked at in one message. Servers answer only QDCOUNT=1 in practice
/// (RFC 9619); a few more covers odd clients, more is a resource attack.
pub const MAX_QUESTIONS: usize = 16;
/// Most resource records looked at in one message, all sections together. A 64 KiB TCP
/// message could hold ~5900 minimal records; real answers (round-robin sets, DNSSEC
/// signatures, glue) stay far below 512.
pub const MAX_RECORDS: usize = 512;
/// Most SVCB/HTTPS address hints decoded from one record.
pub const MAX_HINTS: usize = 16;

/// Why a message, or part of it, could not be read. Each is a counter (see `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message shorter than the 12-byte header")]
    ShortHeader,
    #[error("question or record runs past the end of the message")]
    Truncated,
    #[error("compression pointer does not point backwards")]
    ForwardPointer,
    #[error("more than MAX_POINTER_HOPS compression pointers in one name")]
    TooManyHops,
    #[error("name has more than MAX_LABELS labels")]
    TooManyLabels,
    #[error("reserved label type (0x40/0x80)")]
    BadLabelType,
    #[error("RDATA does not match its RDLENGTH")]
    BadRdata,
    #[error("more than MAX_QUESTIONS questions: records cannot be located")]
    TooManyQuestions,
}

impl ParseError {
    /// Every kind, in counter order.
    pub const ALL: [ParseError; 8] = [
        ParseError::ShortHeader,
        ParseError::Truncated,
        ParseError::ForwardPointer,
        ParseError::TooManyHops,
        ParseError::TooManyLabels,
        ParseError::BadLabelType,
        ParseError::BadRdata,
        ParseError::TooManyQuestions,
    ];

    /// The counter name (snake_case).
    pub fn kind(self) -> &'static str {
        match self {
            ParseError::ShortHeader => "short_header",
            ParseError::Truncated => "truncated",
            ParseError::ForwardPointer => "forward_pointer",
            ParseError::TooManyHops => "too_many_hops",
            ParseError::TooManyLabels => "too_many_labels",
            ParseError::BadLabelType => "bad_label_type",
            ParseError::BadRdata => "bad_rdata",
            ParseError::TooManyQuestions => "too_many_questions",
        }
    }

    /// Position in [`ParseError::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The fixed header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// QR: true for a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }
    /// TC: the message was truncated by the sender.
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    /// The 4-bit header RCODE (EDNS may extend it, see [`Record::ext_rcode`]).
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xF) as u8
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    let s = b.get(at..end)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let hi = be16(b, at)?;
    let lo = be16(b, at.checked_add(2)?)?;
    Some((u32::from(hi) << 16) | u32::from(lo))
}

/// Walks the name starting at `start`, calling `label` with each label's bytes in
/// order, and returns the offset just past the name where it starts (after the first
/// pointer when compressed). Fails on every malformation listed in the module doc.
fn walk_name(msg: &[u8], start: usize, mut label: impl FnMut(&[u8])) -> Result<usize, ParseError> {
    let mut pos = start;
    // Start of the run of labels being read: a pointer must land strictly before it.
    let mut run_start = start;
    let mut end = None;
    let mut hops = 0usize;
    let mut labels = 0usize;
    // Each turn either consumes a label (at most MAX_LABELS) or a pointer (at most
    // MAX_POINTER_HOPS), so the loop is bounded by their sum.
    loop {
        let len = *msg.get(pos).ok_or(ParseError::Truncated)?;
        let next = pos.checked_add(1).ok_or(ParseError::Truncated)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(end.unwrap_or(next)),
            0x00 => {
                labels = labels.saturating_add(1);
                if labels > MAX_LABELS {
                    return Err(ParseError::TooManyLabels);
                }
                let to = next
                    .checked_add(usize::from(len))
                    .ok_or(ParseError::Truncated)?;
                label(msg.get(next..to).ok_or(ParseError::Truncated)?);
                pos = to;
            }
            0xC0 => {
                let lo = *msg.get(next).ok_or(ParseError::Truncated)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(lo);
                if target >= run_start {
                    return Err(ParseError::ForwardPointer);
                }
                hops = hops.saturating_add(1);
                if hops > MAX_POINTER_HOPS {
                    return Err(ParseError::TooManyHops);
                }
                if end.is_none() {
                    end = Some(next.checked_add(1).ok_or(ParseError::Truncated)?);
                }
                run_start = target;
                pos = target;
            }
            _ => return Err(ParseError::BadLabelType),
        }
    }
}

/// Appends one label in presentation form, escaping as dig does (RFC 4343 §2.1):
/// `.` and `\` as `\.` and `\\`, bytes outside printable ASCII (0x21..=0x7E) as `\DDD`
/// (three decimal digits). Nothing is dropped, and the text is plain ASCII.
/// Returns false when the text would pass `limit` (nothing more is appended then).
/// A byte written as itself in a name's text (printable ASCII other than `.` and `\\`).
fn is_plain(b: &u8) -> bool {
    matches!(b, 0x21..=0x7E) && *b != b'.' && *b != b'\\'
}

/// Stack buffer of [`Name::push_plain`]: a name on the wire is at most 255 bytes
/// (RFC 1035 §3.1), so its plain text is at most 253; longer texts (only through
/// compression loops within the label cap) take the slow path.
const PLAIN_NAME_BUF: usize = 256;

fn push_label(out: &mut String, label: &[u8], limit: usize) -> bool {
    // Almost every label is letters, digits and `-`: copied whole, not byte by byte.
    if label.iter().all(is_plain) && out.len().saturating_add(label.len()) <= limit {
        // ASCII only, so each byte is its own char (no UTF-8 check needed).
        out.extend(label.iter().map(|&b| char::from(b)));
        return true;
    }
    for &b in label {
        let width = match b {
            b'.' | b'\\' => 2,
            0x21..=0x7E => 1,
            _ => 4,
        };
        if out.len().saturating_add(width) > limit {
            return false;
        }
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7E => out.push(char::from(b)),
            _ => {
                out.push('\\');
                out.push(char::from(b'0'.saturating_add(b / 100)));
                out.push(char::from(b'0'.saturating_add(b / 10 % 10)));
                out.push(char::from(b'0'.saturating_add(b % 10)));
            }
        }
    }
    true
}

/// A name inside a message, not yet decoded. Valid by construction: it is only handed
/// out after [`walk_name`] accepted it.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    msg: &'a [u8],
    start: usize,
}

impl<'a> Name<'a> {
    /// Appends the presentation text (labels joined by `.`, no trailing dot, empty for
    /// the root) to `out`. Returns true when it was cut at [`MAX_NAME_TEXT`].
    pub fn push_text(&self, out: &mut String) -> bool {
        if self.push_plain(out) {
            return false;
        }
        let limit = out.len().saturating_add(MAX_NAME_TEXT);
        let mut first = true;
        let mut cut = false;
        // The name was walked successfully before, so this walk cannot fail.
        let _ = walk_name(self.msg, self.start, |label| {
            if cut {
                return;
            }
            if !first {
                if out.len() >= limit {
                    cut = true;
                    return;
                }
                out.push('.');
            }
            first = false;
            cut = !push_label(out, label, limit);
        });
        cut
    }

    /// Where the name's first label is, after the pointers it starts with. Two names of
    /// one message with the same label start have the same text (the walk from there
    /// is the same), so a decoded text can be reused for the other.
    pub fn label_start(&self) -> usize {
        let mut pos = self.start;
        for _ in 0..=MAX_POINTER_HOPS {
            match (self.msg.get(pos), self.msg.get(pos.saturating_add(1))) {
                (Some(&hi), Some(&lo)) if hi & 0xC0 == 0xC0 => {
                    pos = (usize::from(hi & 0x3F) << 8) | usize::from(lo);
                }
                _ => break,
            }
        }
        pos
    }

    /// The common case of [`Self::push_text`]: every label plain (nothing to escape)
    /// and the text within [`PLAIN_NAME_BUF`]. The labels are copied into a stack
    /// buffer and appended with one UTF-8 check, not a char push per byte (this runs
    /// for every question and answer name). False, with `out` untouched, otherwise.
    fn push_plain(&self, out: &mut String) -> bool {
        let mut buf = [0u8; PLAIN_NAME_BUF];
        let mut n = 0usize;
        let mut plain = true;
        let _ = walk_name(self.msg, self.start, |label| {
            if !plain {
                return;
            }
            // Labels are never empty (a zero length ends the name): `n > 0` means a
            // label was written before this one.
            let dot = usize::from(n > 0);
            let end = n.saturating_add(dot).saturating_add(label.len());
            match buf.get_mut(n..end) {
                Some(dst) if label.iter().all(is_plain) => {
                    if let Some((first, rest)) = dst.split_first_mut()
                        && dot == 1
                    {
                        *first = b'.';
                        rest.copy_from_slice(label);
                    } else {
                        dst.copy_from_slice(label);
                    }
                    n = end;
                }
                _ => plain = false,
            }
        });
        if !plain {
            return false;
        }
        match std::str::from_utf8(buf.get(..n).unwrap_or(&[])) {
            Ok(text) => {
                out.push_str(text);
                true
            }
            Err(_) => false,
        }
    }

    /// The presentation text and whether it was cut.
    pub fn text(&self) -> (String, bool) {
        // Most names fit in 64 bytes: one allocation instead of one per label.
        let mut s = String::with_capacity(64);
        let cut = self.push_text(&mut s);
        (s, cut)
    }
}

/// One question (RFC 1035 §4.1.2).
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    pub name: Name<'a>,
    pub qtype: u16,
    pub qclass: u16,
}

/// The section a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// One resource record (RFC 1035 §4.1.3) with its RDATA still raw.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub section: Section,
    pub name: Name<'a>,
    pub rtype: u16,
    pub rclass: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
    msg: &'a [u8],
    rdata_start: usize,
}

/// Decoded RDATA of the types the events use; everything else is `Other`.
#[derive(Clone, Copy, Debug)]
pub enum RData<'a> {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// NS, CNAME, PTR, DNAME: the name; MX: the exchange; SRV: the target.
    Name(Name<'a>),
    /// SVCB/HTTPS (RFC 9460): the target and the raw SvcParams.
    Svcb(Svcb<'a>),
    Other(&'a [u8]),
}

/// SVCB/HTTPS RDATA (RFC 9460 §2.2).
#[derive(Clone, Copy, Debug)]
pub struct Svcb<'a> {
    pub priority: u16,
    pub target: Name<'a>,
    params: &'a [u8],
}

impl Svcb<'_> {
    /// Addresses of the `ipv4hint` (key 4) and `ipv6hint` (key 6) parameters, at most
    /// [`MAX_HINTS`]; a malformed parameter list ends the walk quietly.
    pub fn hints(&self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        let mut rest = self.params;
        while let (Some(key), Some(len)) = (be16(rest, 0), be16(rest, 2)) {
            let end = 4usize.saturating_add(usize::from(len));
            let Some(value) = rest.get(4..end) else { break };
            let width = match key {
                4 => 4,
                6 => 16,
                _ => 0,
            };
            if width != 0 {
                for chunk in value.chunks_exact(width) {
                    if out.len() >= MAX_HINTS {
                        return out;
                    }
                    if let Ok(a) = <[u8; 4]>::try_from(chunk) {
                        out.push(IpAddr::from(a));
                    } else if let Ok(a) = <[u8; 16]>::try_from(chunk) {
                        out.push(IpAddr::from(a));
                    }
                }
            }
            rest = rest.get(end..).unwrap_or(&[]);
        }
        out
    }
}

impl<'a> Record<'a> {
    /// Decodes the RDATA of the types listed in [`RData`]; a name inside RDATA must end
    /// within RDLENGTH.
    pub fn data(&self) -> Result<RData<'a>, ParseError> {
        let rdata_end = self.rdata_start.saturating_add(self.rdata.len());
        let name_at = |skip: usize| -> Result<Name<'a>, ParseError> {
            let start = self.rdata_start.saturating_add(skip);
            if start >= rdata_end {
                return Err(ParseError::BadRdata);
            }
            let end = walk_name(self.msg, start, |_| {})?;
            if end > rdata_end {
                return Err(ParseError::BadRdata);
            }
            Ok(Name {
                msg: self.msg,
                start,
            })
        };
        Ok(match self.rtype {
            1 => RData::A(Ipv4Addr::from(
                <[u8; 4]>::try_from(self.rdata).map_err(|_| ParseError::BadRdata)?,
            )),
            28 => RData::Aaaa(Ipv6Addr::from(
                <[u8; 16]>::try_from(self.rdata).map_err(|_| ParseError::BadRdata)?,
            )),
            2 | 5 | 12 | 39 => RData::Name(name_at(0)?),
            15 => RData::Name(name_at(2)?),
            33 => RData::Name(name_at(6)?),
            64 | 65 => {
                let priority = be16(self.rdata, 0).ok_or(ParseError::BadRdata)?;
                let target = name_at(2)?;
                let end = walk_name(self.msg, target.start, |_| {})?;
                let params_at = end.saturating_sub(self.rdata_start);
                let params = self.rdata.get(params_at..).unwrap_or(&[]);
                RData::Svcb(Svcb {
                    priority,
                    target,
                    params,
                })
            }
            _ => RData::Other(self.rdata),
        })
    }

    /// For an OPT record (RFC 6891 §6.1.3): the upper 8 bits of the extended RCODE.
    pub fn ext_rcode(&self) -> Option<u8> {
        (self.rtype == 41).then_some((self.ttl >> 24) as u8)
    }
}

/// A DNS message: the header, checked; the rest read on demand.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    pub header: Header,
}

impl<'a> Message<'a> {
    /// Checks the header only; questions and records are read by the iterators.
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let f = |at| be16(bytes, at).ok_or(ParseError::ShortHeader);
        let header = Header {
            id: f(0)?,
            flags: f(2)?,
            qdcount: f(4)?,
            ancount: f(6)?,
            nscount: f(8)?,
            arcount: f(10)?,
        };
        Ok(Message { bytes, header })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The questions, at most [`MAX_QUESTIONS`]; after an error, nothing more.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            msg: self.bytes,
            pos: HEADER_LEN,
            left: usize::from(self.header.qdcount).min(MAX_QUESTIONS),
        }
    }

    /// The records of all three sections in order, at most [`MAX_RECORDS`]; yields
    /// `TooManyQuestions` or the questions' error first when the records cannot be
    /// located.
    pub fn records(&self) -> Records<'a> {
        let h = &self.header;
        let mut recs = Records {
            msg: self.bytes,
            pos: 0,
            counts: [h.ancount, h.nscount, h.arcount],
            seen: 0,
            capped: false,
            pending_error: None,
        };
        if usize::from(h.qdcount) > MAX_QUESTIONS {
            recs.pending_error = Some(ParseError::TooManyQuestions);
            return recs;
        }
        let mut qs = self.questions();
        for q in qs.by_ref() {
            if let Err(e) = q {
                recs.pending_error = Some(e);
                return recs;
            }
        }
        recs.pos = qs.pos;
        recs
    }
}

/// Iterator over questions; see [`Message::questions`].
pub struct Questions<'a> {
    msg: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Result<Question<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let res = (|| {
            let start = self.pos;
            let end = walk_name(self.msg, start, |_| {})?;
            let qtype = be16(self.msg, end).ok_or(ParseError::Truncated)?;
            let qclass = be16(self.msg, end.saturating_add(2)).ok_or(ParseError::Truncated)?;
            self.pos = end.saturating_add(4);
            Ok(Question {
                name: Name {
                    msg: self.msg,
                    start,
                },
                qtype,
                qclass,
            })
        })();
        if res.is_err() {
            self.left = 0;
        }
        Some(res)
    }
}

/// Iterator over records; see [`Message::records`].
pub struct Records<'a> {
    msg: &'a [u8],
    pos: usize,
    /// Records still to read in the answer, authority and additional sections.
    counts: [u16; 3],
    seen: usize,
    capped: bool,
    pending_error: Option<ParseError>,
}

impl Records<'_> {
    /// True when iteration stopped at [`MAX_RECORDS`] with records left.
    pub fn capped(&self) -> bool {
        self.capped
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            self.counts = [0; 3];
            return Some(Err(e));
        }
        let (idx, section) = match self.counts {
            [a, _, _] if a > 0 => (0, Section::Answer),
            [_, n, _] if n > 0 => (1, Section::Authority),
            [_, _, r] if r > 0 => (2, Section::Additional),
            _ => return None,
        };
        if self.seen >= MAX_RECORDS {
            self.capped = true;
            self.counts = [0; 3];
            return None;
        }
        self.seen = self.seen.saturating_add(1);
        if let Some(c) = self.counts.get_mut(idx) {
            *c = c.saturating_sub(1);
        }
        let res = (|| {
            let start = self.pos;
            let end = walk_name(self.msg, start, |_| {})?;
            let fixed = |off: usize| end.saturating_add(off);
            let rtype = be16(self.msg, end).ok_or(ParseError::Truncated)?;
            let rclass = be16(self.msg, fixed(2)).ok_or(ParseError::Truncated)?;
            let ttl = be32(self.msg, fixed(4)).ok_or(ParseError::Truncated)?;
            let rdlen = be16(self.msg, fixed(8)).ok_or(ParseError::Truncated)?;
            let rdata_start = fixed(10);
            let rdata_end = rdata_start.saturating_add(usize::from(rdlen));
            let rdata = self
                .msg
                .get(rdata_start..rdata_end)
                .ok_or(ParseError::Truncated)?;
            self.pos = rdata_end;
            Ok(Record {
                section,
                name: Name {
                    msg: self.msg,
                    start,
                },
                rtype,
                rclass,
                ttl,
                rdata,
                msg: self.msg,
                rdata_start,
            })
        })();
        if res.is_err() {
            self.counts = [0; 3];
        }
        Some(res)
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(crate) mod tests;
