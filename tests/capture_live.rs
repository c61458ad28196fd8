//! Live capture on the loopback interface (needs root; skipped otherwise), and the
//! errors a user sees for a missing interface or a bad filter.

use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use c2tap::capture::{CaptureError, Live, LiveConfig, Next, Source};

fn ethernet_or_raw(lt: u32) -> bool {
    matches!(lt, 1 | 101 | 113 | 276)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn missing_interface_fails_at_open() {
    let err = Live::open(&LiveConfig::new("eth9-c2tap-none"), ethernet_or_raw)
        .err()
        .expect("no such interface");
    assert!(matches!(err, CaptureError::NoSuchInterface { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("eth9-c2tap-none: no such interface (available: "),
        "{err}"
    );
}

#[test]
fn loopback_frames_filter_and_idle() {
    if !is_root() {
        eprintln!("skipping: live capture needs root");
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();

    // A filter libpcap cannot compile is reported with its message.
    let mut bad = LiveConfig::new("lo");
    bad.bpf = Some("udp port ((".into());
    let err = Live::open(&bad, ethernet_or_raw).err().expect("bad filter");
    assert!(matches!(err, CaptureError::BadFilter { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("lo: invalid BPF filter \"udp port ((\": "),
        "{err}"
    );

    let mut cfg = LiveConfig::new("lo");
    cfg.bpf = Some(format!("udp dst port {port}"));
    let mut live = Live::open(&cfg, ethernet_or_raw).unwrap();
    assert_eq!(live.current_name().as_ref(), "lo");

    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    const N: usize = 5;
    for i in 0..N {
        tx.send_to(format!("c2tap-live-{i}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
    }
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let mut seen = [false; N];
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.iter().any(|s| !s) && Instant::now() < deadline {
        match live.next_frame().unwrap() {
            Next::Frame(f) => {
                assert!(f.data.len() <= f.origlen as usize);
                assert!(
                    (f.ts.as_nanos() - now_ns).abs() < 10_000_000_000,
                    "packet time"
                );
                let text = String::from_utf8_lossy(f.data);
                let i = text
                    .find("c2tap-live-")
                    .and_then(|at| text[at + 11..].parse::<usize>().ok())
                    .expect("only our datagrams pass the filter");
                seen[i] = true;
            }
            Next::Idle => {}
            Next::End => panic!("live capture ended"),
        }
    }
    assert!(seen.iter().all(|s| *s), "frames seen: {seen:?}");
    let stats = live.stats();
    assert!(stats.packets >= N as u64);
    assert_eq!(stats.kernel_drops, 0);

    // Nothing else matches the filter: Idle comes back, each within about a poll timeout,
    // and (once the ring is drained) only after waiting for it, not by spinning.
    for round in 0..4 {
        let start = Instant::now();
        loop {
            match live.next_frame().unwrap() {
                Next::Idle => break,
                Next::Frame(_) => {}
                Next::End => panic!("live capture ended"),
            }
            assert!(start.elapsed() < Duration::from_secs(1));
        }
        let took = start.elapsed();
        assert!(took < Duration::from_secs(1), "idle took {took:?}");
        if round >= 2 {
            assert!(
                took >= Duration::from_millis(50),
                "idle after {took:?}: not waiting"
            );
        }
    }
}
