//! Filling a NetworkConnect (EventID 3) from the handshake facts of a TLS or QUIC
//! ClientHello: `TlsSni`, `TlsAlpn`, `TlsVersion`, `TlsEch`, `Ja3`, `Ja3Hash`, `Ja4`,
//! `AppProtocol`, and `DestinationHostname` / `HostnameSource` from the SNI (SNI is
//! the first choice for the hostname, DESIGN §3). Partial facts (a ClientHello cut,
//! capped or with a malformed extension) set `truncated` and give no JA3/JA4.
//!
//! Imports `proto::handshake`, `proto::ja3`, `proto::ja4`.

use std::cell::RefCell;

use hashbrown::HashMap;

use super::text::{push_wire_text, wire_text};
use super::{AppProtocol, HostnameSource, NetworkConnect};
use crate::proto::handshake::HandshakeFacts;
use crate::proto::{ja3, ja4};

/// Digests remembered per worker thread. Clients of one kind send the same cipher,
/// extension and signature lists in every hello, so a few hundred distinct texts
/// cover a busy link; when the memo is full it is emptied and refills (the worst case
/// is the cost without a memo).
const MEMO_ENTRIES: usize = 512;

/// Longest text remembered: a hello with 99 ciphers and 99 extensions writes about
/// 1,000 bytes; longer texts (odd or hostile hellos) are digested without the memo,
/// which bounds the memo at 512 × 2 KiB.
const MEMO_MAX_TEXT: usize = 2048;

/// Text → digest, bounded by [`MEMO_ENTRIES`] and [`MEMO_MAX_TEXT`].
struct DigestMemo<V> {
    map: HashMap<Box<[u8]>, V, foldhash::fast::FixedState>,
}

impl<V: Clone> DigestMemo<V> {
    fn new() -> Self {
        DigestMemo {
            map: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0x1a4)),
        }
    }

    /// `digest(text)`, computed once per distinct text while it is remembered.
    fn get(&mut self, text: &[u8], digest: impl FnOnce(&[u8]) -> V) -> V {
        if let Some(v) = self.map.get(text) {
            return v.clone();
        }
        let v = digest(text);
        if text.len() <= MEMO_MAX_TEXT {
            if self.map.len() >= MEMO_ENTRIES {
                self.map.clear();
            }
            self.map.insert(text.into(), v.clone());
        }
        v
    }
}

/// The fingerprint digests of this thread (a worker's: events are built on workers).
/// Thread-local rather than passed in so that callers of [`apply_tls`] need not carry
/// it; each worker fills its own, and results do not depend on it.
struct Memos {
    ja3: DigestMemo<String>,
    ja4: DigestMemo<[u8; 6]>,
}

thread_local! {
    static MEMOS: RefCell<Memos> = RefCell::new(Memos {
        ja3: DigestMemo::new(),
        ja4: DigestMemo::new(),
    });
}

/// Fills `conn` from `facts`. `quic`: the ClientHello came in QUIC Initial packets
/// (JA4 `q`, `HostnameSource` `quic_sni`), else TLS over TCP.
pub fn apply_tls(facts: &HandshakeFacts, quic: bool, conn: &mut NetworkConnect) {
    let mut truncated = facts.partial;
    conn.app_protocol = if quic {
        AppProtocol::Quic
    } else {
        AppProtocol::Tls
    };
    if let Some(sni) = &facts.sni {
        let (text, cut) = wire_text(sni);
        truncated |= cut;
        if !text.is_empty() {
            conn.destination_hostname = Some(text.clone());
            conn.hostname_source = Some(if quic {
                HostnameSource::QuicSni
            } else {
                HostnameSource::TlsSni
            });
        }
        conn.tls_sni = Some(text);
    }
    if !facts.alpn.is_empty() {
        let mut alpn = String::new();
        for (i, proto) in facts.alpn.iter().enumerate() {
            if i > 0 {
                alpn.push(',');
            }
            if push_wire_text(&mut alpn, proto) {
                truncated = true;
                break;
            }
        }
        conn.tls_alpn = Some(alpn);
    }
    conn.tls_version = Some(version_name(facts.highest_version));
    conn.tls_ech = Some(facts.ech);
    // A fingerprint of partial lists would be a wrong fingerprint, one that rules could
    // match by accident: none is given (as Suricata and tshark give none for a hello
    // they could not read whole). `truncated` says why it is missing.
    if !facts.partial {
        let ja3_string = ja3::ja3_string(facts);
        let transport = if quic {
            ja4::Protocol::Quic
        } else {
            ja4::Protocol::Tcp
        };
        MEMOS.with(|m| {
            let mut m = m.borrow_mut();
            let m = &mut *m;
            conn.ja3_hash = Some(
                m.ja3
                    .get(ja3_string.as_bytes(), |_| ja3::ja3_hash(&ja3_string)),
            );
            conn.ja4 = Some(ja4::ja4_with(facts, transport, &mut |t| {
                m.ja4.get(t, ja4::sha256_6)
            }));
        });
        conn.ja3 = Some(ja3_string);
    }
    conn.truncated |= truncated;
}

/// `TLS 1.3` form; TLS 1.3 drafts as `TLS 1.3 (draft 23)`; unknown values in hex.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "TLS 1.3".into(),
        0x0303 => "TLS 1.2".into(),
        0x0302 => "TLS 1.1".into(),
        0x0301 => "TLS 1.0".into(),
        0x0300 => "SSL 3.0".into(),
        0x0002 => "SSL 2.0".into(),
        0xfeff => "DTLS 1.0".into(),
        0xfefd => "DTLS 1.2".into(),
        0xfefc => "DTLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 (draft {})", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HandshakeFacts {
        HandshakeFacts {
            legacy_version: 0x0303,
            supported_versions: vec![0x1a1a, 0x0304, 0x0303],
            highest_version: 0x0304,
            cipher_suites: vec![0x1301, 0x1302],
            extensions: vec![0x0000, 0x0010, 0x002b, 0xfe0d],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            sni: Some(b"example.com".to_vec()),
            ech: true,
            ..HandshakeFacts::default()
        }
    }

    #[test]
    fn fills_tls_fields() {
        let mut conn = NetworkConnect::default();
        apply_tls(&facts(), false, &mut conn);
        assert_eq!(conn.tls_sni.as_deref(), Some("example.com"));
        assert_eq!(conn.destination_hostname.as_deref(), Some("example.com"));
        assert_eq!(conn.hostname_source, Some(HostnameSource::TlsSni));
        assert_eq!(conn.app_protocol, AppProtocol::Tls);
        assert_eq!(conn.tls_alpn.as_deref(), Some("h2,http/1.1"));
        assert_eq!(conn.tls_version.as_deref(), Some("TLS 1.3"));
        assert_eq!(conn.tls_ech, Some(true));
        assert_eq!(conn.ja3.as_deref(), Some("771,4865-4866,0-16-43-65037,,"));
        assert_eq!(conn.ja3_hash.as_ref().map(String::len), Some(32));
        assert!(
            conn.ja4
                .as_deref()
                .is_some_and(|j| j.starts_with("t13d0204h2_"))
        );
        assert!(!conn.truncated);
    }

    #[test]
    fn quic_and_partial_and_odd_bytes() {
        let mut f = facts();
        f.partial = true;
        f.sni = Some(b"bad\xffname".to_vec());
        let mut conn = NetworkConnect::default();
        apply_tls(&f, true, &mut conn);
        assert_eq!(conn.tls_sni.as_deref(), Some("bad\\xffname"));
        assert_eq!(conn.hostname_source, Some(HostnameSource::QuicSni));
        assert_eq!(conn.app_protocol, AppProtocol::Quic);
        assert_eq!((conn.ja3, conn.ja3_hash, conn.ja4), (None, None, None));
        assert!(conn.truncated);
        f.partial = false;
        let mut conn = NetworkConnect::default();
        apply_tls(&f, true, &mut conn);
        assert!(conn.ja4.as_deref().is_some_and(|j| j.starts_with("q13d")));
        // Escaping a byte is not cutting: not truncated.
        assert!(!conn.truncated);
    }

    #[test]
    fn no_sni_leaves_hostname_alone() {
        let mut f = facts();
        f.sni = None;
        let mut conn = NetworkConnect {
            destination_hostname: Some("from.dns".into()),
            hostname_source: Some(HostnameSource::Dns),
            ..NetworkConnect::default()
        };
        apply_tls(&f, false, &mut conn);
        assert_eq!(conn.destination_hostname.as_deref(), Some("from.dns"));
        assert_eq!(conn.hostname_source, Some(HostnameSource::Dns));
        assert_eq!(conn.tls_sni, None);
    }

    #[test]
    fn memo_gives_the_direct_digests() {
        let f = facts();
        let mut other = facts();
        other.cipher_suites.push(0x1303);
        // Twice each, so that the second pass is answered by the memo.
        for _ in 0..2 {
            for (facts, quic) in [(&f, false), (&other, true), (&f, true)] {
                let mut conn = NetworkConnect::default();
                apply_tls(facts, quic, &mut conn);
                let transport = if quic {
                    ja4::Protocol::Quic
                } else {
                    ja4::Protocol::Tcp
                };
                let ja3 = ja3::ja3_string(facts);
                assert_eq!(conn.ja3_hash, Some(ja3::ja3_hash(&ja3)));
                assert_eq!(conn.ja4, Some(ja4::ja4(facts, transport)));
            }
        }
    }

    #[test]
    fn memo_stays_bounded() {
        let mut memo = DigestMemo::new();
        for i in 0..MEMO_ENTRIES * 2 + 3 {
            let text = i.to_string();
            assert_eq!(memo.get(text.as_bytes(), |t| t.len()), text.len());
            assert!(memo.map.len() <= MEMO_ENTRIES);
        }
        let long = vec![b'a'; MEMO_MAX_TEXT + 1];
        memo.map.clear();
        assert_eq!(memo.get(&long, |t| t.len()), long.len());
        assert!(memo.map.is_empty());
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0300), "SSL 3.0");
        assert_eq!(version_name(0x7f17), "TLS 1.3 (draft 23)");
        assert_eq!(version_name(0x1234), "0x1234");
    }
}
