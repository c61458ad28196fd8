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

/// Issue 14, the live idle clock: one unanswered query on loopback and then no packet at
/// all. Flow and DNS clocks run on packet time, but live, after a second without frames,
/// a worker advances its clock from the wall clock: the timeout event (QueryStatus 1460)
/// is written within the DNS timeout + 1 s of the query, while c2tap still runs.
#[test]
fn live_idle_link_reports_an_unanswered_query_before_sigint() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping live capture test: {why}");
        return;
    }
    if !have("python3") {
        eprintln!("skipping live idle clock test: python3 not installed");
        return;
    }
    const TIMEOUT_MS: u64 = 2000;
    let ns = Netns::new("c2tap-idle");
    let dir = tempfile::tempdir().unwrap();
    let events_path = dir.path().join("events.json");
    let config = write(
        dir.path(),
        "c2tap.toml",
        format!("dns_timeout_ms = {TIMEOUT_MS}\n").as_bytes(),
    );
    // A resolver that reads and never answers (without it the kernel would answer with
    // ICMP port unreachable: a packet).
    let mut silent = ns
        .exec(&[
            "python3",
            "-c",
            "import socket,time\n\
             s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
             s.bind(('127.0.0.1',53))\n\
             time.sleep(60)",
        ])
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
            "-c",
        ])
        .arg(&config)
        .arg("-o")
        .arg(&events_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&events_path)
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "c2tap did not start");
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_millis(300));

    // One query, one datagram, then silence.
    let query: String = dns_query(0x4242, "unanswered.example", 1)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sent = Instant::now();
    let ok = ns
        .exec(&[
            "python3",
            "-c",
            &format!(
                "import socket\n\
                 s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                 s.sendto(bytes.fromhex('{query}'),('127.0.0.1',53))"
            ),
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);

    // The timeout event must come while c2tap runs, within the bound (plus slack for a
    // loaded test machine: the bound itself is what the log of the wait shows).
    let bound = Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(1);
    let give_up = sent + bound + Duration::from_secs(3);
    let mut arrived = None;
    while Instant::now() < give_up {
        let text = std::fs::read_to_string(&events_path).unwrap_or_default();
        if events(text.as_bytes())
            .iter()
            .any(|e| e["EventID"] == 22 && e["QueryName"] == "unanswered.example")
        {
            arrived = Some(sent.elapsed());
            break;
        }
        sleep(Duration::from_millis(50));
    }
    let pid = sensor.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = sensor.wait().unwrap();
    let _ = silent.kill();
    let _ = silent.wait();
    assert!(status.success(), "exit {status:?}");
    let arrived = arrived.expect("no DNS timeout event before SIGINT");
    eprintln!("timeout event after {arrived:?} (bound {bound:?})");
    assert!(arrived <= bound, "{arrived:?} > {bound:?}");
    // Not before its timeout either: the clock does not run ahead of the wall clock.
    assert!(arrived >= Duration::from_millis(TIMEOUT_MS), "{arrived:?}");
    let text = std::fs::read_to_string(&events_path).unwrap();
    let q = events(text.as_bytes())
        .into_iter()
        .find(|e| e["EventID"] == 22 && e["QueryName"] == "unanswered.example")
        .unwrap();
    assert_eq!(q["QueryStatus"], "1460", "{q:#}");
}
