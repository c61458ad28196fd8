//! Live capture on a loopback interface: in a fresh network namespace, `c2tap live -i lo`
//! runs while `dig` asks a local dnsmasq; SIGINT; the events are there, exit status 0.
//! Needs root, `ip`, `dig` and `dnsmasq`: skipped with a message otherwise.

mod common;

use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    for tool in ["ip", "dig", "dnsmasq"] {
        if !have(tool) {
            return Some(format!("{tool} not installed (make test installs it)"));
        }
    }
    None
}

#[test]
fn live_loopback_dns_then_sigint() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping live capture test: {why}");
        return;
    }
    let ns = Netns::new("c2tap-live");
    let dir = tempfile::tempdir().unwrap();
    let events_path = dir.path().join("events.json");

    let mut dnsmasq = ns
        .exec(&[
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
            "--address=/live-test.example/192.0.2.9",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut sensor = ns
        .exec(&[
            env!("CARGO_BIN_EXE_c2tap"),
            "live",
            "-i",
            "lo",
            "--events",
            "all",
            "-w",
            "2",
            "-o",
        ])
        .arg(&events_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for the start SensorState: capture is open from then on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&events_path)
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "c2tap did not start");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_millis(300));
    for name in ["live-test.example", "region1.v2.argotunnel.com"] {
        let out = ns
            .exec(&["dig", "@127.0.0.1", "+tries=1", "+time=1", name, "A"])
            .output()
            .unwrap();
        assert!(
            out.status.success() || name != "live-test.example",
            "dig failed: {out:?}"
        );
    }
    sleep(Duration::from_millis(500));

    let pid = sensor.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = sensor.wait().unwrap();
    let _ = dnsmasq.kill();
    let _ = dnsmasq.wait();
    let mut stderr = String::new();
    use std::io::Read;
    sensor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");

    let text = std::fs::read_to_string(&events_path).unwrap();
    let all = events(text.as_bytes());
    let q = all
        .iter()
        .find(|e| e["EventID"] == 22 && e["QueryName"] == "live-test.example")
        .unwrap_or_else(|| panic!("no DNS event for live-test.example in {text}"));
    assert_eq!(q["QueryStatus"], "0");
    assert_eq!(q["QueryResults"], "::ffff:192.0.2.9;");
    assert_eq!(q["Source"], "lo");
    assert_eq!(q["DestinationPort"], 53);
    assert!(
        all.iter()
            .any(|e| e["EventID"] == 22 && e["QueryName"] == "region1.v2.argotunnel.com")
    );
    let states: Vec<_> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["EventID"] == 4)
        .map(|v| v["State"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(states.first().map(String::as_str), Some("start"));
    assert_eq!(states.last().map(String::as_str), Some("stop"));
}
