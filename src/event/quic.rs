//! `QuicVersion` in the `0x00000001` form tshark and Zeek print. The rest of a QUIC
//! connection's NetworkConnect is what `event::tls` fills from its ClientHello (with
//! `quic: true`: `AppProtocol` `quic`, JA4 with the `q` transport prefix,
//! `HostnameSource` `quic_sni`).

use super::ascii::push_hex_fixed;

/// `0x00000001`, `0x6b3343cf`, `0xff00001d` (as `{:#010x}`, without `core::fmt`).
pub fn version_text(version: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push_str("0x");
    push_hex_fixed(&mut s, version, 8);
    s
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
}
