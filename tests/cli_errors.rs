//! Bad input gives one clear error line and a non-zero status, and every event parsed
//! before the fault is still written (issue: sensor spine, "Bad input").

mod common;

use common::*;

fn two_queries() -> Vec<Vec<u8>> {
    vec![
        udp_frame(
            [10, 0, 0, 1],
            40000,
            [10, 0, 0, 53],
            53,
            &dns_query(1, "first.example", 1),
        ),
        udp_frame(
            [10, 0, 0, 53],
            53,
            [10, 0, 0, 1],
            40000,
            &dns_answer_a(1, "first.example", [192, 0, 2, 1], 60),
        ),
        udp_frame(
            [10, 0, 0, 1],
            40001,
            [10, 0, 0, 53],
            53,
            &dns_query(2, "second.example", 1),
        ),
    ]
}

fn good_pcap() -> Vec<u8> {
    let frames = two_queries();
    pcap(
        1,
        &frames
            .iter()
            .enumerate()
            .map(|(i, f)| (1_700_000_000 + i as u32, f.as_slice()))
            .collect::<Vec<_>>(),
    )
}

fn stderr_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn good_pcap_gives_both_queries() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "good.pcap", &good_pcap());
    let out = run(c2tap().args(["replay", "--events", "all"]).arg(&p));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out.stdout);
    let names: Vec<_> = ev
        .iter()
        .filter(|e| e["EventID"] == 22)
        .map(|e| e["QueryName"].as_str().unwrap().to_owned())
        .collect();
    let first = ev
        .iter()
        .find(|e| e["QueryName"] == "first.example")
        .unwrap();
    assert_eq!(first["QueryStatus"], "0");
    assert_eq!(first["QueryResults"], "::ffff:192.0.2.1;");
    assert_eq!(first["SourceIp"], "10.0.0.1");
    assert_eq!(first["DestinationPort"], 53);
    let second = ev
        .iter()
        .find(|e| e["QueryName"] == "second.example")
        .unwrap();
    assert_eq!(
        second["QueryStatus"], "1460",
        "no response: Sysmon's timeout status"
    );
    assert!(names.contains(&"first.example".to_owned()), "{names:?}");
    assert!(names.contains(&"second.example".to_owned()), "{names:?}");
}

#[test]
fn truncated_pcap_writes_what_came_before_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = good_pcap();
    bytes.truncate(bytes.len() - 10); // in the middle of the last packet
    let p = write(dir.path(), "cut.pcap", &bytes);
    let out = run(c2tap().args(["replay", "--events", "all"]).arg(&p));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("cut.pcap") && err[0].contains("truncated"),
        "{err:?}"
    );
    let ev = events(&out.stdout);
    assert!(
        ev.iter().any(|e| e["QueryName"] == "first.example"),
        "{ev:?}"
    );
}

#[test]
fn not_a_pcap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "notes.txt",
        b"this is not a capture file at all\n",
    );
    let out = run(c2tap().args(["replay"]).arg(&p));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("notes.txt") && err[0].contains("not a pcap"),
        "{err:?}"
    );
}

#[test]
fn unsupported_link_type_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "usb.pcap",
        &pcap(189, &[(1, b"\x00\x01\x02\x03")]),
    );
    let out = run(c2tap().args(["replay"]).arg(&p));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("usb.pcap") && err[0].contains("link type 189"),
        "{err:?}"
    );
}

#[test]
fn missing_file_is_an_error() {
    let out = run(c2tap().args(["replay", "/nonexistent/x.pcap"]));
    assert!(matches!(out.status.code(), Some(1 | 2)));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn missing_interface_is_an_error() {
    let out = run(c2tap().args(["live", "-i", "c2tapnosuch0"]));
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");
    let err = stderr_lines(&out);
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(err[0].contains("c2tapnosuch0"), "{err:?}");
}

#[test]
fn bad_usage_exits_2() {
    let out = run(c2tap().args(["replay", "--workers", "0", "x.pcap"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(c2tap().args(["replay", "--no-such-flag", "x.pcap"]));
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "c.toml", b"workerz = 2\n");
    let out = run(c2tap().args(["replay", "-c"]).arg(&cfg).arg("x.pcap"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("workerz"));
}

#[test]
fn broken_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<u8>> = (0..5000u16)
        .map(|i| {
            udp_frame(
                [10, 0, 0, 1],
                1024 + i,
                [10, 0, 0, 53],
                53,
                &dns_query(i, &format!("n{i}.example"), 1),
            )
        })
        .collect();
    let p = write(
        dir.path(),
        "many.pcap",
        &pcap(
            1,
            &frames
                .iter()
                .map(|f| (1u32, f.as_slice()))
                .collect::<Vec<_>>(),
        ),
    );
    let mut child = c2tap()
        .args(["replay", "--events", "all"])
        .arg(&p)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
