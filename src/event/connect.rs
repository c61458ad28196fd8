//! EventID 3 (NetworkConnect) from what the application stage knew of a connection when
//! its event was due: the protocol, the first HTTP request, the ClientHello (over TLS or
//! QUIC) or a Google QUIC CHLO, the QUIC version. `event::http` and `event::tls` fill their fields; the
//! precedence between them (an SNI names the destination before a Host header does)
//! lives there.

use super::NetworkConnect;
use super::http::apply_http;
use super::quic::{apply_chlo, version_text};
use super::tls::apply_tls;
use crate::app::ConnFacts;

impl NetworkConnect {
    /// The NetworkConnect of a connection. The request goes first: a CONNECT proxy
    /// request is followed by the tunnel's ClientHello, whose SNI then names the
    /// destination.
    pub fn from_facts(facts: &ConnFacts) -> NetworkConnect {
        let mut conn = NetworkConnect {
            app_protocol: facts.protocol,
            ..NetworkConnect::default()
        };
        if let Some(request) = &facts.first_request {
            apply_http(request, &mut conn);
        }
        if let Some(hello) = &facts.hello {
            apply_tls(&hello.facts, hello.quic, &mut conn);
        }
        if let Some(chlo) = &facts.chlo {
            apply_chlo(chlo, &mut conn);
        }
        if let Some(version) = facts.quic_version {
            conn.quic_version = Some(version_text(version));
        }
        conn
    }
}
