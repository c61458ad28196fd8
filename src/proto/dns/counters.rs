//! Counters of everything traffic can do to the DNS parser and transaction table.
//! One struct per worker, owned by [`super::DnsState`]; telemetry sums them.

use super::parse::ParseError;

/// Plain `u64` counters (DESIGN §6: parse errors per protocol). Names as reported by
/// [`DnsCounters::for_each`]; telemetry adds a `dns_` prefix if it wants one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsCounters {
    /// Messages whose header parsed (UDP datagrams and TCP-framed messages).
    pub messages_parsed: u64,
    /// First error met in a message, per [`ParseError::kind`], in [`ParseError::ALL`]
    /// order; bad RDATA is counted per record.
    pub parse_errors: [u64; ParseError::ALL.len()],
    /// Questions seen in queries (duplicates excluded).
    pub queries: u64,
    /// Response messages.
    pub responses: u64,
    /// Transactions finished (one per question): joined, response-only or timed out.
    pub transactions: u64,
    /// Responses (per question) with no pending query: emitted on their own.
    pub unmatched_responses: u64,
    /// Retransmitted queries (same flow, ID and question while pending): ignored.
    pub duplicate_queries: u64,
    /// Queries that got no response within the timeout (status 1460).
    pub timeouts: u64,
    /// Pending queries evicted by the table cap, emitted as no-response.
    pub evictions: u64,
    /// Pending queries emitted as no-response at shutdown.
    pub flushed: u64,
    /// Responses without a question that parsed: nothing to report.
    pub responses_without_question: u64,
    /// Names cut at `MAX_NAME_TEXT`.
    pub names_truncated: u64,
    /// Responses with more answers than `MAX_ANSWERS` (the rest are not kept).
    pub answers_capped: u64,
    /// Messages delivered by the TCP framer.
    pub tcp_messages: u64,
    /// TCP streams given up after a bad length prefix.
    pub tcp_framing_errors: u64,
}

impl DnsCounters {
    pub fn parse_error(&mut self, e: ParseError) {
        if let Some(c) = self.parse_errors.get_mut(e.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// Total parse errors of every kind.
    pub fn parse_errors_total(&self) -> u64 {
        self.parse_errors
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Calls `f(name, value)` for every counter, parse errors as `parse_error_<kind>`.
    pub fn for_each(&self, mut f: impl FnMut(&str, u64)) {
        f("messages_parsed", self.messages_parsed);
        for e in ParseError::ALL {
            let v = self.parse_errors.get(e.index()).copied().unwrap_or(0);
            f(&format!("parse_error_{}", e.kind()), v);
        }
        f("queries", self.queries);
        f("responses", self.responses);
        f("transactions", self.transactions);
        f("unmatched_responses", self.unmatched_responses);
        f("duplicate_queries", self.duplicate_queries);
        f("timeouts", self.timeouts);
        f("evictions", self.evictions);
        f("flushed", self.flushed);
        f(
            "responses_without_question",
            self.responses_without_question,
        );
        f("names_truncated", self.names_truncated);
        f("answers_capped", self.answers_capped);
        f("tcp_messages", self.tcp_messages);
        f("tcp_framing_errors", self.tcp_framing_errors);
    }

    /// Adds `other` into `self` (summing workers).
    pub fn add(&mut self, other: &DnsCounters) {
        let sum = |a: &mut u64, b: u64| *a = a.saturating_add(b);
        sum(&mut self.messages_parsed, other.messages_parsed);
        for (a, b) in self.parse_errors.iter_mut().zip(other.parse_errors.iter()) {
            sum(a, *b);
        }
        sum(&mut self.queries, other.queries);
        sum(&mut self.responses, other.responses);
        sum(&mut self.transactions, other.transactions);
        sum(&mut self.unmatched_responses, other.unmatched_responses);
        sum(&mut self.duplicate_queries, other.duplicate_queries);
        sum(&mut self.timeouts, other.timeouts);
        sum(&mut self.evictions, other.evictions);
        sum(&mut self.flushed, other.flushed);
        sum(
            &mut self.responses_without_question,
            other.responses_without_question,
        );
        sum(&mut self.names_truncated, other.names_truncated);
        sum(&mut self.answers_capped, other.answers_capped);
        sum(&mut self.tcp_messages, other.tcp_messages);
        sum(&mut self.tcp_framing_errors, other.tcp_framing_errors);
    }
}
