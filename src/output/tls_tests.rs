//! Tests of `tls.rs`.

use super::*;

#[test]
fn default_buffer_reads_in_mebibytes() {
    assert_eq!(human_size(DEFAULT_BUFFER_BYTES), "64 MiB");
}

#[test]
fn endpoint_brackets_ipv6() {
    let mut t = TlsTarget {
        host: "::1".into(),
        port: 6514,
        server_name: "::1".into(),
        ca: None,
        client_auth: None,
        buffer_bytes: DEFAULT_BUFFER_BYTES,
    };
    assert_eq!(t.endpoint(), "[::1]:6514");
    t.host = "collector".into();
    assert_eq!(t.endpoint(), "collector:6514");
}

#[test]
fn missing_ca_file_is_a_setup_error() {
    let t = TlsTarget {
        host: "127.0.0.1".into(),
        port: 1,
        server_name: "localhost".into(),
        ca: Some("/nonexistent/ca.pem".into()),
        client_auth: None,
        buffer_bytes: 1 << 20,
    };
    let Err(e) = TlsSink::open(&t) else {
        panic!("opened with a missing CA file")
    };
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
