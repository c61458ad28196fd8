//! Tests of `tls.rs`.

use super::*;

#[test]
fn backlog_drops_oldest_whole_buffers_and_counts_lines() {
    let mut b = Backlog::new(20);
    assert_eq!(b.push(b"a\nb\n".to_vec()), 0);
    assert_eq!(b.push(b"cccccccc\n".to_vec()), 0);
    assert_eq!(b.lines, 3);
    // 4 + 9 + 10 > 20: the oldest buffer (two lines) goes.
    assert_eq!(b.push(b"dddddddd\ne".to_vec()), 2);
    assert_eq!(b.front(), Some(&b"cccccccc\n"[..]));
    assert_eq!((b.bytes, b.lines), (19, 2));
    // Bigger than the cap on its own: everything goes, itself included.
    assert_eq!(b.push(vec![b'x'; 30]), 2);
    assert!(b.is_empty());
    assert_eq!((b.bytes, b.lines), (0, 0));
}

#[test]
fn backlog_clear_reports_lines() {
    let mut b = Backlog::new(1 << 20);
    b.push(b"1\n2\n".to_vec());
    b.push(b"3\n".to_vec());
    assert_eq!(b.pop_front(), 2);
    assert_eq!(b.clear(), 1);
    assert_eq!(b.clear(), 0);
}

#[test]
fn sizes_for_messages() {
    assert_eq!(human_size(DEFAULT_BUFFER_BYTES), "64 MiB");
    assert_eq!(human_size(8 << 10), "8 KiB");
    assert_eq!(human_size(1500), "1500 bytes");
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
