//! `-o FILE`: size rotation under load loses and splits no line; SIGHUP makes c2tap
//! reopen the file by name (logrotate's rename + `postrotate` kill -HUP).

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

/// The frames of DNS exchanges `from..to`: query and answer, each name unique.
fn dns_frames(from: u32, to: u32) -> Vec<(u32, Vec<u8>)> {
    dns_exchange_frames("file-test.example", from, to)
}

/// Parses every line of a file; panics on a line that is not JSON or a file that does
/// not end with a newline (a split line).
fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    if !text.is_empty() {
        assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
    }
    text.lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad JSON line {l:?}: {e}", path.display()))
        })
        .collect()
}

fn dns_names(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|v| v["EventID"] == 22)
        .map(|v| v["QueryName"].as_str().unwrap().to_owned())
        .collect()
}

fn state(v: &serde_json::Value) -> Option<&str> {
    (v["EventID"] == 4).then(|| v["State"].as_str().unwrap_or(""))
}

#[test]
fn rotation_under_load_loses_and_splits_nothing() {
    const EXCHANGES: u32 = 5000;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "dns.pcap", &pcap_of(&dns_frames(0, EXCHANGES)));
    let out = dir.path().join("events.json");
    let res = run(c2tap()
        .args([
            "replay",
            "--events",
            "all",
            "-w",
            "2",
            "--rotate-size",
            "64k",
        ])
        .args(["--rotate-keep", "10000", "-o"])
        .arg(&out)
        .arg(&input));
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );

    // Oldest first: events.json.N … events.json.1, then events.json.
    let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let n = p
                .file_name()?
                .to_str()?
                .strip_prefix("events.json.")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    assert!(rotated.len() >= 10, "only {} rotations", rotated.len());
    assert_eq!(rotated.last().map(|r| r.0), Some(1));
    let mut lines = Vec::new();
    for (_, p) in &rotated {
        let part = json_lines(p);
        assert!(!part.is_empty(), "{} is empty", p.display());
        lines.extend(part);
    }
    lines.extend(json_lines(&out));

    // A DNS event, a network connection event and its end per exchange, start and stop.
    assert_eq!(lines.len(), 3 * EXCHANGES as usize + 2);
    assert_eq!(lines.first().and_then(state), Some("start"));
    assert_eq!(lines.last().and_then(state), Some("stop"));
    let names: HashSet<String> = dns_names(&lines).into_iter().collect();
    assert_eq!(
        names.len(),
        EXCHANGES as usize,
        "a DNS event is missing or doubled"
    );
}

#[test]
fn sighup_reopens_the_file_after_a_rename() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let old = dir.path().join("events.json.old");
    let part1 = pcap_of(&dns_frames(0, 1000));
    // The second part continues the same stream: frames only, no file header.
    let part2 = pcap_of(&dns_frames(1000, 2000))[24..].to_vec();

    let mut child = c2tap()
        .args(["replay", "--events", "all", "-w", "1", "-o"])
        .arg(&out)
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&part1).unwrap();
    stdin.flush().unwrap();

    // The first part is parsed and written (all but the last partial batch) while c2tap
    // waits for more input.
    let count = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&out) < 1000 {
        assert!(Instant::now() < deadline, "the first part was not written");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_millis(300));

    // logrotate: rename, then SIGHUP; c2tap reopens within its 200 ms idle tick.
    std::fs::rename(&out, &old).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !out.exists() {
        assert!(Instant::now() < deadline, "no new file after SIGHUP");
        sleep(Duration::from_millis(20));
    }

    stdin.write_all(&part2).unwrap();
    drop(stdin);
    let res = child.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );

    let before = json_lines(&old);
    let after = json_lines(&out);
    assert_eq!(before.first().and_then(state), Some("start"));
    assert_eq!(after.last().and_then(state), Some("stop"));
    // Nothing lost or doubled across the reopen.
    assert_eq!(before.len() + after.len(), 3 * 2000 + 2);
    let old_names: HashSet<String> = dns_names(&before).into_iter().collect();
    let new_names: HashSet<String> = dns_names(&after).into_iter().collect();
    assert_eq!(old_names.len() + new_names.len(), 2000);
    assert!(old_names.is_disjoint(&new_names));
    // Everything parsed after the SIGHUP went to the new file.
    for i in 1000..2000 {
        let name = format!("host{i}.file-test.example");
        assert!(new_names.contains(&name), "{name} not in the new file");
    }
    assert!(
        old_names.len() >= 400,
        "only {} before the rename",
        old_names.len()
    );
}
