//! EventID 22 (`DnsQuery`) bodies from finished DNS transactions, in Sysmon's forms.
//!
//! - `QueryName`: the question name without trailing dot (`-` for the root); binary
//!   bytes are already escaped by the parser as `\DDD`, `.` and `\` inside a label as
//!   `\.` and `\\`.
//! - `QueryType`: the type mnemonic (`A`, `HTTPS`), `TYPE<n>` when it has none.
//! - `QueryStatus`: see [`DnsTransaction::status`] (`0`, `9000+rcode`, `9501`, `1460`).
//! - `QueryResults`: every answer-section record in order, each ending in `;`:
//!   A as `::ffff:1.2.3.4;` and AAAA as `2001:db8::1;` (as Windows prints them);
//!   NS/CNAME/PTR/DNAME/MX/SRV as `type:  N name;` (MX the exchange, SRV the target);
//!   SVCB/HTTPS as `type:  N target;` (`.` for the root target, "same as the owner");
//!   any other type as `type:  N;` (its RDATA has no name to show). `-` when there is
//!   none; cut at [`MAX_RESULTS_TEXT`] at a record boundary, with the event's
//!   `truncated` flag set.
//! - `Rcode` (with EDNS extended bits) and `Ttl` (smallest answer TTL): absent when no
//!   response or no answer.

use super::DnsQuery;
use super::ascii::{push_ipv4, push_ipv6, push_u64};
use crate::proto::dns::{AnswerData, DnsTransaction, type_mnemonic};

/// Longest `QueryResults` text: 64 answers (the parser's cap) of typical length fit;
/// hostile long names are cut here rather than bloat every event.
pub const MAX_RESULTS_TEXT: usize = 4096;

/// The EventID 22 body of one transaction.
pub fn dns_query_body(tx: &DnsTransaction) -> DnsQuery {
    let mut body = DnsQuery::default();
    fill_dns_query(tx, &mut body);
    body
}

/// Writes the EventID 22 body of `tx` over `body`, reusing its strings' buffers (the
/// worker recycles one body from event to event instead of allocating four strings).
pub fn fill_dns_query(tx: &DnsTransaction, body: &mut DnsQuery) {
    let resp = tx.response.as_deref();
    body.query_name.clear();
    body.query_name
        .push_str(if tx.qname.is_empty() { "-" } else { &tx.qname });
    body.query_type.clear();
    match type_mnemonic(tx.qtype) {
        Some(m) => body.query_type.push_str(m),
        None => {
            body.query_type.push_str("TYPE");
            push_u64(&mut body.query_type, u64::from(tx.qtype));
        }
    }
    body.query_status.clear();
    push_u64(&mut body.query_status, u64::from(tx.status()));
    let results_cut = push_query_results(tx, &mut body.query_results);
    body.rcode = resp.map(|r| r.rcode);
    body.flags = tx.flags;
    body.qclass = tx.qclass;
    body.ttl = resp.and_then(|r| r.min_ttl);
    body.truncated =
        tx.qname_truncated || results_cut || resp.is_some_and(|r| r.answers_incomplete);
}

/// Zeek's `rcode_name` for an RCODE (RFC 6895 §2.3; Zeek's `base/protocols/dns/consts`).
pub fn rcode_name(rcode: u16) -> Option<&'static str> {
    Some(match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return None,
    })
}

/// The header flag bits Zeek's dns.log reports (RFC 1035 §4.1.1, RFC 4035 §3.2).
pub mod flag {
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    /// Zeek's `Z`: the three bits after RA (Z, AD, CD), `(flags & 0x0070) >> 4`.
    pub fn z(flags: u16) -> u16 {
        (flags & 0x0070) >> 4
    }
}

/// `QueryResults` text and whether it was cut at [`MAX_RESULTS_TEXT`].
pub fn query_results(tx: &DnsTransaction) -> (String, bool) {
    let mut out = String::new();
    let cut = push_query_results(tx, &mut out);
    (out, cut)
}

/// Writes the `QueryResults` text over `out`; true when it was cut at
/// [`MAX_RESULTS_TEXT`].
fn push_query_results(tx: &DnsTransaction, out: &mut String) -> bool {
    out.clear();
    let Some(resp) = tx.response.as_deref() else {
        out.push('-');
        return false;
    };
    for a in &resp.answers {
        // Each piece is appended whole, then taken back if it went over the cap, so
        // that the text is cut at a record boundary.
        let before = out.len();
        match &a.data {
            AnswerData::A(ip) => {
                out.push_str("::ffff:");
                push_ipv4(out, *ip);
            }
            AnswerData::Aaaa(ip) => push_ipv6(out, *ip),
            AnswerData::Name(n) => type_prefix(out, a.rtype, n),
            AnswerData::Svcb { target, .. } if target.is_empty() => {
                type_prefix(out, a.rtype, ".");
            }
            AnswerData::Svcb { target, .. } => type_prefix(out, a.rtype, target),
            AnswerData::Other => {
                out.push_str("type:  ");
                push_u64(out, u64::from(a.rtype));
            }
        }
        out.push(';');
        if out.len() > MAX_RESULTS_TEXT {
            out.truncate(before);
            return true;
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    false
}

/// `type:  N name` (Sysmon's form, two spaces).
fn type_prefix(out: &mut String, rtype: u16, name: &str) {
    out.push_str("type:  ");
    push_u64(out, u64::from(rtype));
    out.push(' ');
    out.push_str(name);
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::proto::dns::parse::tests::{PTR_Q, message, question, record};
    use crate::proto::dns::state::tests::{pkt, query, response};
    use crate::proto::dns::{DnsConfig, DnsState};
    use crate::time::Timestamp;

    /// Runs a query (when given) and a response through a fresh table.
    fn body_of(q: Option<&[u8]>, r: &[u8]) -> DnsQuery {
        let mut st = DnsState::new(DnsConfig::default());
        let mut out = Vec::new();
        if let Some(q) = q {
            st.on_message(&pkt(true), Timestamp::from_secs(1), q, &mut out)
                .unwrap();
        }
        st.on_message(&pkt(false), Timestamp::from_secs(2), r, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        dns_query_body(&out[0])
    }

    #[test]
    fn cname_chain_and_a() {
        let cname = record(&PTR_Q, 5, 60, &[1, b'x', 0]);
        let a = record(&[1, b'x', 0], 1, 30, &[1, 2, 3, 4]);
        let r = response(1, "www.example.com", 1, 0, &[cname, a]);
        let body = body_of(Some(&query(1, "www.example.com", 1)), &r);
        assert_eq!(body.query_name, "www.example.com");
        assert_eq!(body.query_type, "A");
        assert_eq!(body.query_status, "0");
        assert_eq!(body.query_results, "type:  5 x;::ffff:1.2.3.4;");
        assert_eq!(body.rcode, Some(0));
        assert_eq!(body.ttl, Some(30));
        assert!(!body.truncated);
    }

    #[test]
    fn a_reused_body_is_overwritten_whole() {
        let cname = record(&PTR_Q, 5, 60, &[1, b'x', 0]);
        let a = record(&[1, b'x', 0], 1, 30, &[1, 2, 3, 4]);
        let long = body_of(None, &response(1, "www.example.com", 1, 0, &[cname, a]));
        let mut st = DnsState::new(DnsConfig::default());
        let mut out = Vec::new();
        st.on_message(
            &pkt(true),
            Timestamp::from_secs(1),
            &query(1, "gone.example", 65280),
            &mut out,
        )
        .unwrap();
        st.flush_all(&mut out);
        let mut reused = long;
        fill_dns_query(&out[0], &mut reused);
        assert_eq!(reused, dns_query_body(&out[0]));
        assert_eq!(reused.query_results, "-");
        assert_eq!(reused.query_type, "TYPE65280");
    }

    #[test]
    fn nxdomain_is_9003() {
        let body = body_of(None, &response(1, "nope.example", 1, 3, &[]));
        assert_eq!(body.query_status, "9003");
        assert_eq!(body.query_results, "-");
        assert_eq!(body.rcode, Some(3));
        assert_eq!(body.ttl, None);
    }

    #[test]
    fn no_answer_of_the_asked_type_is_9501() {
        // NODATA.
        let body = body_of(None, &response(1, "v4only.example", 28, 0, &[]));
        assert_eq!(
            (body.query_status.as_str(), body.query_type.as_str()),
            ("9501", "AAAA")
        );
        // A CNAME that leads to no AAAA.
        let cname = record(&PTR_Q, 5, 60, &[1, b'y', 0]);
        let body = body_of(None, &response(1, "alias.example", 28, 0, &[cname]));
        assert_eq!(body.query_status, "9501");
        assert_eq!(body.query_results, "type:  5 y;");
    }

    #[test]
    fn timeout_is_1460() {
        let mut st = DnsState::new(DnsConfig::default());
        let mut out = Vec::new();
        st.on_message(
            &pkt(true),
            Timestamp::from_secs(1),
            &query(1, "gone.example", 65280),
            &mut out,
        )
        .unwrap();
        st.flush_all(&mut out);
        let body = dns_query_body(&out[0]);
        assert_eq!(body.query_status, "1460");
        assert_eq!(body.query_type, "TYPE65280");
        assert_eq!(body.query_results, "-");
        assert_eq!(body.rcode, None);
    }

    #[test]
    fn aaaa_https_and_other_forms() {
        let aaaa = record(
            &PTR_Q,
            28,
            10,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        let https = record(&PTR_Q, 65, 10, &[0, 1, 0]);
        let txt = record(&PTR_Q, 16, 10, b"\x02hi");
        let r = response(1, "e.example", 255, 0, &[aaaa, https, txt]);
        let body = body_of(None, &r);
        assert_eq!(body.query_results, "2001:db8::1;type:  65 .;type:  16;");
        assert_eq!(body.query_type, "ANY");
        assert_eq!(body.query_status, "0");
    }

    #[test]
    fn root_query_name_and_extended_rcode() {
        // Root question, OPT record raising RCODE 0 to BADVERS (16): 9016.
        let mut body = question(".", 2);
        body.extend(record(&[0], 41, 0x0100_0000, &[]));
        let m = message(1, 0x8180, [1, 0, 0, 1], &body);
        let b = body_of(None, &m);
        assert_eq!(b.query_name, "-");
        assert_eq!(b.rcode, Some(16));
        assert_eq!(b.query_status, "9016");
    }

    #[test]
    fn results_are_cut_at_a_record_boundary() {
        let mut target = Vec::new();
        for _ in 0..2 {
            target.push(60u8);
            target.extend([b'z'; 60]);
        }
        target.push(0);
        let answers: Vec<_> = (0..64).map(|_| record(&PTR_Q, 5, 5, &target)).collect();
        let body = body_of(None, &response(1, "many.example", 1, 0, &answers));
        assert!(body.truncated);
        assert!(body.query_results.len() <= MAX_RESULTS_TEXT);
        assert!(body.query_results.ends_with(';'));
        let piece = "type:  5 ".len() + 121 + 1;
        assert_eq!(body.query_results.len(), MAX_RESULTS_TEXT / piece * piece);
    }
}
