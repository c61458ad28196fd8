//! A finished DNS transaction: one question, its query (if seen) and its response (if
//! seen), with the answers decoded into owned values. Built by [`super::DnsState`],
//! turned into EventID 22 by `event::dns`, and read by the answer cache.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use super::parse::{Name, RData, Record};
use crate::flow::Transport;
use crate::time::Timestamp;

/// Most answers kept from one response. Round-robin sets stay under a few dozen
/// records; 64 bounds the results text and the cache inserts of one response.
pub const MAX_ANSWERS: usize = 64;
/// Most names followed along a CNAME chain when mapping addresses back to the query
/// name. Resolvers give up after 8–16 links (BIND: 16); so do we.
pub const MAX_CNAME_CHAIN: usize = 16;

/// `QueryStatus` values (Sysmon reports Windows' `DnsQueryEx` status codes).
pub mod status {
    /// `ERROR_SUCCESS`.
    pub const SUCCESS: u32 = 0;
    /// `DNS_ERROR_RESPONSE_CODES_BASE`: a response with RCODE r gives `9000 + r`
    /// (`9003` is `DNS_ERROR_RCODE_NAME_ERROR`, NXDOMAIN).
    pub const RCODE_BASE: u32 = 9000;
    /// `DNS_INFO_NO_RECORDS`: NOERROR but no answer of the asked type.
    pub const NO_RECORDS: u32 = 9501;
    /// `ERROR_TIMEOUT`: no response was seen.
    pub const TIMEOUT: u32 = 1460;
}

/// Decoded RDATA of one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// NS, CNAME, PTR, DNAME name; MX exchange; SRV target (presentation text).
    Name(Box<str>),
    /// SVCB/HTTPS target (empty for the root, "same as owner") and address hints.
    Svcb {
        target: Box<str>,
        hints: Vec<IpAddr>,
    },
    /// Any other type, or RDATA that did not decode.
    Other,
}

/// One answer-section record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Owner name text (no trailing dot).
    pub owner: Box<str>,
    pub rtype: u16,
    pub ttl: u32,
    pub data: AnswerData,
}

impl Answer {
    /// Builds an owned answer; returns it and whether a name was cut. Bad RDATA gives
    /// `Other` and is reported through the `Err` of `Record::data` by the caller.
    /// `scratch` is a reused buffer: each name is written there and then copied into
    /// an allocation of its exact size (rather than shrinking a fresh `String`, which
    /// costs a `realloc` per name).
    ///
    /// `owner`: the last owner text of this response, reused when this record's owner
    /// is the same name (see [`OwnerText`]).
    pub(super) fn from_record(
        r: &Record<'_>,
        scratch: &mut String,
        owner: &mut OwnerText,
    ) -> (Answer, bool) {
        let mut cut = false;
        let start = r.name.label_start();
        if owner.start != Some(start) {
            owner.text.clear();
            owner.cut = r.name.push_text(&mut owner.text);
            owner.start = Some(start);
        }
        cut |= owner.cut;
        let owner = Box::<str>::from(owner.text.as_str());
        let mut text = |n: Name<'_>, cut: &mut bool| {
            scratch.clear();
            *cut |= n.push_text(scratch);
            Box::<str>::from(scratch.as_str())
        };
        let data = match r.data() {
            Ok(RData::A(a)) => AnswerData::A(a),
            Ok(RData::Aaaa(a)) => AnswerData::Aaaa(a),
            Ok(RData::Name(n)) => AnswerData::Name(text(n, &mut cut)),
            Ok(RData::Svcb(s)) => AnswerData::Svcb {
                target: text(s.target, &mut cut),
                hints: s.hints(),
            },
            Ok(RData::Other(_)) | Err(_) => AnswerData::Other,
        };
        (
            Answer {
                owner,
                rtype: r.rtype,
                ttl: r.ttl,
                data,
            },
            cut,
        )
    }
}

/// The text of the last answer owner decoded in a response, by the owner's label start
/// ([`Name::label_start`]), seeded with the question's. Answers nearly always name the
/// question or the previous answer's owner (a compression pointer to it): their owner
/// text is copied rather than decoded again.
#[derive(Debug, Default)]
pub(super) struct OwnerText {
    pub start: Option<usize>,
    pub text: String,
    pub cut: bool,
}

/// What a response said, shared by the transactions of its questions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsResponse {
    pub ts: Timestamp,
    /// RCODE, extended by the OPT record's upper bits when present (RFC 6891 §6.1.3).
    pub rcode: u16,
    /// The TC bit.
    pub tc: bool,
    /// The header flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    pub flags: u16,
    /// Answer-section records, at most [`MAX_ANSWERS`].
    pub answers: Vec<Answer>,
    /// More answers than [`MAX_ANSWERS`], or a record that did not parse, was dropped.
    pub answers_incomplete: bool,
    /// Smallest TTL over every answer record that parsed (kept or not).
    pub min_ttl: Option<u32>,
}

/// One question's transaction. Oriented by the query: `client` sent the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsTransaction {
    /// The caller's flow id, passed through.
    pub flow_id: u64,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub id: u16,
    /// Question name text as the client sent it (no trailing dot, empty for the root).
    /// Shared with the pending-query table and the answer cache, which keep it too.
    pub qname: Arc<str>,
    /// The name was cut at `MAX_NAME_TEXT`.
    pub qname_truncated: bool,
    pub qtype: u16,
    pub qclass: u16,
    /// Header flags of the transaction's last message: the response's, or the
    /// query's when none came (what Zeek's dns.log reports `AA`, `TC`, `RD`, `RA`, `Z`
    /// from).
    pub flags: u16,
    /// When the query was seen; `None` for a response whose query was not seen.
    pub query_ts: Option<Timestamp>,
    /// `None` when no response came in time.
    pub response: Option<Arc<DnsResponse>>,
}

impl DnsTransaction {
    /// The event time: the packet that completed the transaction (the response), or
    /// the query when none came.
    pub fn time(&self) -> Timestamp {
        match (&self.response, self.query_ts) {
            (Some(r), _) => r.ts,
            (None, Some(q)) => q,
            (None, None) => Timestamp::ZERO,
        }
    }

    /// `QueryStatus` as Windows reports it, by this rule:
    /// - no response: `1460`;
    /// - RCODE r ≠ 0: `9000 + r`;
    /// - NOERROR and the answer section holds a record of the asked type (any record
    ///   for QTYPE ANY): `0`;
    /// - NOERROR otherwise (NODATA, or a CNAME chain that ends without the asked type):
    ///   `9501`.
    pub fn status(&self) -> u32 {
        let Some(r) = &self.response else {
            return status::TIMEOUT;
        };
        if r.rcode != 0 {
            return status::RCODE_BASE.saturating_add(u32::from(r.rcode));
        }
        let found = r
            .answers
            .iter()
            .any(|a| self.qtype == 255 || a.rtype == self.qtype);
        if found {
            status::SUCCESS
        } else {
            status::NO_RECORDS
        }
    }

    /// Addresses this transaction resolved `qname` to, with their TTLs: A and AAAA
    /// records and SVCB/HTTPS hints whose owner is the query name or is reached from it
    /// through CNAMEs (at most [`MAX_CNAME_CHAIN`] links, names compared without case).
    /// Empty unless RCODE is NOERROR.
    pub fn resolved_addrs(&self) -> Vec<(IpAddr, u32)> {
        let mut out = Vec::new();
        let Some(r) = &self.response else { return out };
        if r.rcode != 0 || self.qname_truncated {
            return out;
        }
        // The chain lives on the stack (it is capped): this runs for every response.
        let mut names: [&str; MAX_CNAME_CHAIN] = [""; MAX_CNAME_CHAIN];
        names[0] = &self.qname;
        let mut len = 1;
        let known = |names: &[&str], len: usize, n: &str| {
            names
                .get(..len)
                .unwrap_or(&[])
                .iter()
                .any(|c| c.eq_ignore_ascii_case(n))
        };
        // Each pass adds at least one name or stops, and the chain is capped.
        for _ in 0..MAX_CNAME_CHAIN {
            let mut grew = false;
            for a in &r.answers {
                if let (5, AnswerData::Name(t)) = (a.rtype, &a.data)
                    && len < MAX_CNAME_CHAIN
                    && known(&names, len, &a.owner)
                    && !known(&names, len, t)
                    && let Some(slot) = names.get_mut(len)
                {
                    *slot = t;
                    len = len.saturating_add(1);
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        out.reserve(r.answers.len());
        for a in &r.answers {
            if !known(&names, len, &a.owner) {
                continue;
            }
            match &a.data {
                AnswerData::A(ip) => out.push((IpAddr::V4(*ip), a.ttl)),
                AnswerData::Aaaa(ip) => out.push((IpAddr::V6(*ip), a.ttl)),
                AnswerData::Svcb { hints, .. } => out.extend(hints.iter().map(|h| (*h, a.ttl))),
                _ => {}
            }
        }
        out
    }
}
