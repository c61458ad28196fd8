//! Bad input gives one clear error line and a non-zero status, and every event parsed
//! before the fault is still written (issue: sensor spine, "Bad input"). The exit status
//! follows one rule (DESIGN §5, README "Exit status"; issue 17): 2 when the command
//! cannot work as written, 1 when the run failed, 0 otherwise, including a closed stdout.

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

/// Exactly one stderr line, `OS error` in it once (issue 17: it was printed twice).
fn assert_one_line_once(out: &std::process::Output, code: i32, what: &[&str], os: &str) {
    let err = stderr_lines(out);
    assert_eq!(out.status.code(), Some(code), "{err:?}");
    assert_eq!(err.len(), 1, "{err:?}");
    for w in what {
        assert!(err[0].contains(w), "{err:?} should say {w:?}");
    }
    assert_eq!(err[0].matches(os).count(), 1, "{err:?}: {os:?} once");
}

#[test]
fn missing_input_is_one_line_and_exit_2() {
    let out = run(c2tap().args(["replay", "/nonexistent/x.pcap"]));
    assert_one_line_once(
        &out,
        2,
        &["c2tap: /nonexistent/x.pcap: "],
        "No such file or directory (os error 2)",
    );
}

#[test]
fn missing_output_folder_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "good.pcap", &good_pcap());
    let out = run(c2tap()
        .args(["replay", "-o", "/nonexistent-dir/out.jsonl"])
        .arg(&p));
    assert_one_line_once(
        &out,
        2,
        &["/nonexistent-dir/out.jsonl"],
        "No such file or directory (os error 2)",
    );
}

#[test]
fn full_disk_is_one_line_and_exit_1() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipping: no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "good.pcap", &good_pcap());
    let out = run(c2tap()
        .args(["replay", "--events", "all", "-o", "/dev/full"])
        .arg(&p));
    assert_one_line_once(
        &out,
        1,
        &["writing events"],
        "No space left on device (os error 28)",
    );
}

#[test]
fn output_that_delivers_nothing_fails_the_run() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "good.pcap", &good_pcap());
    let out = run(c2tap()
        .args(["replay", "--events", "all", "-o"])
        .arg(format!("tls://127.0.0.1:{port}"))
        .arg(&p));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .last()
            .is_some_and(|l| l.starts_with("c2tap: the output delivered none of the ")),
        "{err}"
    );
}

#[test]
fn unknown_technique_is_usage_not_empty_tables() {
    for (technique, says) in [
        ("T9999", "no loaded rule is tagged with technique T9999"),
        ("web", "is not an ATT&CK technique id"),
    ] {
        let out = run(c2tap().args(["rules", "coverage", "--technique", technique]));
        assert_eq!(out.status.code(), Some(2), "{technique}");
        assert!(out.stdout.is_empty(), "{technique}: no tables");
        let err = stderr_lines(&out);
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(err[0].contains(says), "{err:?}");
    }
    // The techniques the message offers exist: one of them gives tables.
    let out = run(c2tap().args(["rules", "coverage", "--technique", "T1071.001"]));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("T1071.001"));
}

/// `rules check|coverage|test ... | head`: a reader that goes away is not an error
/// (issue 17: they failed with "Broken pipe" and exit 1, unlike replay).
#[test]
fn rules_tools_exit_0_quietly_on_a_closed_pipe() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"EventID":22,"QueryName":"x.trycloudflare.com","SourceIp":"10.0.0.1"}"#;
    let events = write(
        dir.path(),
        "events.jsonl",
        format!("{line}\n").repeat(20_000).as_bytes(),
    );
    let events = events.to_str().unwrap().to_owned();
    for args in [
        vec!["rules", "check"],
        vec!["rules", "coverage"],
        vec!["rules", "coverage", "--format", "json"],
        vec!["rules", "test", events.as_str()],
    ] {
        let mut child = c2tap()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before the tool has loaded its rules: its first write meets EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: quiet");
    }
}

#[test]
fn help_shows_every_default() {
    use c2tap::config::defaults;
    let live = String::from_utf8(run(c2tap().args(["live", "--help"])).stdout).unwrap();
    let flat = live.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "[default: alerts]".to_string(),
        format!("[default: {}, the whole frame]", defaults::SNAPLEN),
        format!("[default: {}]", defaults::BUFFER_MIB),
        format!("[default: {}]", defaults::ROTATE_KEEP),
        "appended to".to_string(),
    ] {
        assert!(flat.contains(&want), "live --help lacks {want:?}:\n{live}");
    }
    for sub in ["check", "coverage", "test"] {
        let help = String::from_utf8(run(c2tap().args(["rules", sub, "--help"])).stdout).unwrap();
        for line in help.lines().filter(|l| l.trim_start().starts_with('-')) {
            let described = line.trim().split("  ").filter(|p| !p.is_empty()).count() > 1;
            assert!(
                described,
                "rules {sub}: option without a description: {line:?}"
            );
        }
    }
}

/// Two files of one replay: the start and stop SensorState name the run (both inputs),
/// the periodic ones the file being read.
#[test]
fn sensor_state_names_the_run_not_the_last_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.pcap", &good_pcap());
    let b = write(dir.path(), "b.pcap", &good_pcap());
    let out = run(c2tap()
        .args(["replay", "--stats-interval", "3600"])
        .arg(&a)
        .arg(&b));
    assert!(out.status.success());
    let states: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["EventID"] == 4)
        .collect();
    let name = format!("{} {}", a.display(), b.display());
    assert_eq!(states.len(), 2, "{states:?}");
    for s in &states {
        assert_eq!(s["Source"], name.as_str(), "{s}");
    }
    assert_eq!(states[1]["State"], "stop");
}

#[test]
fn summary_for_people_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "good.pcap", &good_pcap());
    let out = run(c2tap().args(["replay", "--summary"]).arg(&p));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let name = p.display().to_string();
    for want in [
        format!("c2tap: summary of {name}"),
        "read     1 file, 0.0 MB, 3 packets in ".into(),
        "flows    2 ".into(),
        "events   6 produced, 0 written: 2 NetworkConnect, 2 DnsQuery, 2 ConnectionEnd".into(),
        "alerts   none".into(),
        "errors   0 frames not decoded; parse errors: dns 0, http 0, tls 0, quic 0".into(),
        "drops    none".into(),
    ] {
        assert!(err.contains(&want), "{want:?} not in:\n{err}");
    }
    // Without --summary and with stderr not a terminal: nothing.
    let out = run(c2tap().args(["replay"]).arg(&p));
    assert!(out.stderr.is_empty());
}

/// `rules test` writes each event back with its keys where the input had them, also
/// when it replaces the input's own `RuleName`/`Alerts` (c2tap's output, tested again).
#[test]
fn rules_test_keeps_the_input_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"Zeta":1,"EventID":22,"RuleName":"old","QueryName":"a.trycloudflare.com","Alerts":[],"Alpha":"x"}"#;
    let events = write(dir.path(), "e.jsonl", format!("{line}\n").as_bytes());
    let out = run(c2tap().args(["rules", "test"]).arg(&events));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<&str> = [
        "\"Zeta\"",
        "\"EventID\"",
        "\"RuleName\"",
        "\"QueryName\"",
        "\"Alerts\"",
        "\"Alpha\"",
    ]
    .into_iter()
    .collect();
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("technique_id=T1071.001"), "{text}");
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

/// Issue 17: on a terminal the progress bar cut into the events written to the same
/// terminal. Run under `script` (a pseudo-terminal for stdout and stderr): with the
/// events on that terminal there is no bar; with them in a file the bar is drawn.
#[test]
fn progress_bar_stays_out_of_events_on_the_same_terminal() {
    if !have("script") {
        eprintln!("skipping: script (util-linux) not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Long enough (over a second in a debug build) for the bar's first draw at 200 ms.
    let p = write(
        dir.path(),
        "many.pcap",
        &pcap_of(&dns_exchange_frames("example.org", 0, 50_000)),
    );
    let bin = env!("CARGO_BIN_EXE_c2tap");
    let on_terminal = |redirect: &str| {
        let cmd = format!("{bin} replay --events all {} {redirect}", p.display());
        let out = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shared = on_terminal("");
    assert!(
        shared.contains("\"EventID\":22"),
        "events reach the terminal"
    );
    // The bar is redrawn over itself: "\r[###   ]  12.5% ...".
    assert!(!shared.contains("\r["), "no progress bar among the events");
    let events_file = dir.path().join("events.jsonl");
    let apart = on_terminal(&format!("-o {}", events_file.display()));
    assert!(apart.contains("\r[") && apart.contains("% "), "{apart}");
}
