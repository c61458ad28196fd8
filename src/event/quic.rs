//! `QuicVersion` in the `0x00000001` form tshark and Zeek print. The rest of a QUIC
//! connection's NetworkConnect is what `event::tls` fills from its ClientHello (with
//! `quic: true`: `AppProtocol` `quic`, JA4 with the `q` transport prefix,
//! `HostnameSource` `quic_sni`).
//!
//! A Google QUIC `Q050` connection has no ClientHello but a CHLO ([`apply_chlo`]): its
//! `SNI` fills `TlsSni` and `DestinationHostname` (`HostnameSource` `quic_sni`) as a TLS
//! SNI would, its `UAID` (the browser's user agent) `HttpUserAgent`. No `TlsVersion`,
//! `TlsAlpn`, JA3 or JA4: those describe a TLS ClientHello, and a CHLO is none.

use super::ascii::push_hex_fixed;
use super::text::wire_text;
use super::{AppProtocol, HostnameSource, NetworkConnect};
use crate::proto::quic::chlo::ChloFacts;

/// `0x00000001`, `0x6b3343cf`, `0xff00001d` (as `{:#010x}`, without `core::fmt`).
pub fn version_text(version: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push_str("0x");
    push_hex_fixed(&mut s, version, 8);
    s
}

/// Fills `conn` from a Q050 client's CHLO.
pub fn apply_chlo(chlo: &ChloFacts, conn: &mut NetworkConnect) {
    let mut truncated = chlo.partial;
    conn.app_protocol = AppProtocol::Quic;
    if let Some(sni) = &chlo.sni {
        let (text, cut) = wire_text(sni);
        truncated |= cut;
        if !text.is_empty() {
            conn.destination_hostname = Some(text.clone());
            conn.hostname_source = Some(HostnameSource::QuicSni);
        }
        conn.tls_sni = Some(text);
    }
    if let Some(ua) = &chlo.uaid {
        let (text, cut) = wire_text(ua);
        truncated |= cut;
        conn.http_user_agent = Some(text);
    }
    conn.truncated |= truncated;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{ConnFacts, Hello};
    use crate::event::{AppProtocol, HostnameSource, NetworkConnect};
    use crate::proto::handshake::HandshakeFacts;

    #[test]
    fn quic_fields() {
        let facts = HandshakeFacts {
            legacy_version: 0x0303,
            supported_versions: vec![0x0304],
            highest_version: 0x0304,
            cipher_suites: vec![0x1301],
            extensions: vec![0x0000, 0x0010, 0x002b, 0x0039],
            alpn: vec![b"argotunnel".to_vec()],
            sni: Some(b"quic.cftunnel.com".to_vec()),
            ..HandshakeFacts::default()
        };
        let conn = NetworkConnect::from_facts(&ConnFacts {
            protocol: AppProtocol::Quic,
            hello: Some(Hello {
                facts: Box::new(facts),
                quic: true,
            }),
            quic_version: Some(0x6b33_43cf),
            ..ConnFacts::default()
        });
        assert_eq!(conn.quic_version.as_deref(), Some("0x6b3343cf"));
        assert_eq!(conn.app_protocol, AppProtocol::Quic);
        assert_eq!(
            conn.destination_hostname.as_deref(),
            Some("quic.cftunnel.com")
        );
        assert_eq!(conn.hostname_source, Some(HostnameSource::QuicSni));
        assert_eq!(conn.tls_alpn.as_deref(), Some("argotunnel"));
        // JA4 ALPN part: first and last character of the first ALPN value.
        let ja4 = conn.ja4.unwrap();
        assert!(ja4.starts_with("q13d0104al_"), "{ja4}");
        assert_eq!(version_text(1), "0x00000001");
        assert_eq!(version_text(0x6b33_43cf), "0x6b3343cf");
        assert_eq!(version_text(0xff00_001d), "0xff00001d");
    }

    #[test]
    fn chlo_fields() {
        let chlo = ChloFacts {
            sni: Some(b"www.google.com".to_vec()),
            uaid: Some(b"Chrome/80.0.3987.163 Windows NT 10.0; Win64; x64".to_vec()),
            versions: vec![*b"Q050"],
            ..ChloFacts::default()
        };
        let conn = NetworkConnect::from_facts(&ConnFacts {
            protocol: AppProtocol::Quic,
            chlo: Some(Box::new(chlo)),
            quic_version: Some(0x5130_3530),
            ..ConnFacts::default()
        });
        assert_eq!(conn.quic_version.as_deref(), Some("0x51303530"));
        assert_eq!(conn.app_protocol, AppProtocol::Quic);
        assert_eq!(conn.tls_sni.as_deref(), Some("www.google.com"));
        assert_eq!(conn.destination_hostname.as_deref(), Some("www.google.com"));
        assert_eq!(conn.hostname_source, Some(HostnameSource::QuicSni));
        assert_eq!(
            conn.http_user_agent.as_deref(),
            Some("Chrome/80.0.3987.163 Windows NT 10.0; Win64; x64")
        );
        // A CHLO is no TLS ClientHello: no TLS version, ALPN or fingerprint.
        assert!(conn.ja3.is_none() && conn.ja4.is_none() && conn.ja3_hash.is_none());
        assert!(conn.tls_version.is_none() && conn.tls_alpn.is_none());
        assert!(!conn.truncated);
    }
}
