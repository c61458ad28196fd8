//! `-o kafka://BROKERS/TOPIC` against a real Kafka-protocol broker: tansu (Apache-2.0, a
//! Kafka-compatible broker written in Rust), started on 127.0.0.1 by each test, and read
//! back with a real consumer (rdkafka's `BaseConsumer`, the same librdkafka c2tap uses).
//!
//! The broker is the `tansu` binary that `scripts/install-deps.sh test` installs in
//! /usr/local/bin (see there for which build and why), or `$C2TAP_TANSU`; tests skip
//! with a message when it is missing. Storage is tansu's SQLite engine in a temporary
//! folder when the binary has it (the restart test needs a broker that keeps its data),
//! else its memory engine.
//!
//! Covers: the project's pcaps arrive line for line, keyed by CommunityId, each key in
//! order; zstd compression; a broker restart in the middle of a replay loses nothing;
//! an unknown topic, refused authentication and a bad property fail the start with
//! status 2; unreachable brokers are not fatal at start, and a run that delivered
//! nothing fails; live drops lines at a full queue; `c2tap live` on a namespace's
//! loopback delivers (root only).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use common::*;

// ---------------------------------------------------------------- the broker

/// The tansu binary: `$C2TAP_TANSU`, /usr/local/bin/tansu, or `tansu` on PATH.
fn tansu_bin() -> Option<PathBuf> {
    let candidates = std::env::var_os("C2TAP_TANSU")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/usr/local/bin/tansu")]);
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    have("tansu").then(|| PathBuf::from("tansu"))
}

fn broker_or_skip() -> Option<PathBuf> {
    let bin = tansu_bin();
    if bin.is_none() {
        eprintln!(
            "skipping: no tansu broker (scripts/install-deps.sh test installs it in \
             /usr/local/bin; or set C2TAP_TANSU)"
        );
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Broker {
    bin: PathBuf,
    port: u16,
    storage: String,
    /// More `tansu broker` arguments (`--authentication`).
    extra: Vec<&'static str>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// A broker on a free port with its own storage.
    fn start(bin: &Path) -> Broker {
        Broker::start_with(bin, &[])
    }

    fn start_with(bin: &Path, extra: &[&'static str]) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        // tansu reads a sqlite:// URL as a path relative to its working folder.
        let storage = if supports_sqlite(bin) {
            "sqlite://tansu.db".to_owned()
        } else {
            "memory://tansu/".to_owned()
        };
        let mut b = Broker {
            bin: bin.to_owned(),
            port: free_port(),
            storage,
            extra: extra.to_vec(),
            child: None,
            _dir: dir,
        };
        b.restart();
        b
    }

    fn persistent(&self) -> bool {
        self.storage.starts_with("sqlite:")
    }

    /// Starts the process (again) and waits until it accepts connections.
    fn restart(&mut self) {
        assert!(self.child.is_none());
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .args(&self.extra)
            .current_dir(self._dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start listening");
            sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, topic: &str) -> String {
        format!("kafka://127.0.0.1:{}/{topic}", self.port)
    }

    fn create_topic(&self, topic: &str, partitions: u32) {
        let out = Command::new(&self.bin)
            .args(["topic", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .args(["--partitions", &partitions.to_string(), topic])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu topic create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every message of `topic` from its beginning, partition by partition, until
    /// `want` messages came or nothing new arrived for `idle`.
    fn consume(&self, topic: &str, want: usize, idle: Duration) -> Vec<Msg> {
        consume_at(self.port, topic, want, idle)
    }
}

/// Every message of `topic` on the broker at 127.0.0.1:`port` from its beginning,
/// partition by partition, until `want` messages came or nothing new for `idle`.
fn consume_at(port: u16, topic: &str, want: usize, idle: Duration) -> Vec<Msg> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", "c2tap-test")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .unwrap();
        }
    }
    assert!(tpl.count() > 0, "topic {topic} has no partitions");
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut last_new = Instant::now();
    while out.len() < want && last_new.elapsed() < idle {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                out.push(Msg {
                    partition: m.partition(),
                    key: m.key().map(|k| String::from_utf8(k.to_vec()).unwrap()),
                    line: String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap(),
                });
                last_new = Instant::now();
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    out
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether this tansu build has the SQLite storage engine: it says so in its help, or
/// refuses a sqlite:// URL at once.
fn supports_sqlite(bin: &Path) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "sqlite://probe.db"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting tansu");
    let deadline = Instant::now() + Duration::from_secs(10);
    let ok = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    ok
}

#[derive(Debug)]
struct Msg {
    partition: i32,
    key: Option<String>,
    line: String,
}

// ---------------------------------------------------------------- helpers

fn project_pcaps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    v
}

fn replay(inputs: &[PathBuf], output: &str, extra: &[&str]) -> Output {
    run(c2tap()
        .args(["replay", "--events", "all", "-w", "1", "-o", output])
        .args(extra)
        .args(inputs))
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"))
}

fn is_state(line: &str) -> bool {
    json(line)["EventID"] == 4
}

/// The lines of a replay to a file, SensorState left out, in order.
fn file_lines(inputs: &[PathBuf], dir: &Path) -> Vec<String> {
    let path = dir.join("events.json");
    let out = replay(inputs, path.to_str().unwrap(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !is_state(l))
        .map(str::to_owned)
        .collect()
}

fn multiset<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l).or_insert(0) += 1;
    }
    m
}

/// `n` DNS queries, each answered: `2n` events with `--events all`.
fn dns_pcap(dir: &Path, n: u32) -> PathBuf {
    let frames = dns_exchange_frames("kafka-test.example", 0, n);
    write(dir, "dns.pcap", &pcap_of(&frames))
}

// ---------------------------------------------------------------- tests

#[test]
fn project_pcaps_arrive_keyed_by_community_id_in_order() {
    let Some(bin) = broker_or_skip() else { return };
    let broker = Broker::start(&bin);
    broker.create_topic("c2tap", 3);
    let dir = tempfile::tempdir().unwrap();
    let pcaps = project_pcaps();
    let expected = file_lines(&pcaps, dir.path());
    assert!(expected.len() > 500, "only {} lines", expected.len());

    let out = replay(&pcaps, &broker.url("c2tap"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let msgs = broker.consume("c2tap", expected.len() + 2, Duration::from_secs(10));

    // The same lines: the events, plus the start and stop SensorState.
    let events: Vec<&Msg> = msgs.iter().filter(|m| !is_state(&m.line)).collect();
    assert_eq!(msgs.len() - events.len(), 2, "SensorState lines");
    assert_eq!(
        multiset(events.iter().map(|m| m.line.as_str())),
        multiset(expected.iter().map(String::as_str)),
        "the lines from kafka differ from -o FILE"
    );

    // Keyed by CommunityId (none for the lines without one), one partition per key, and
    // each key's lines in the order of the file.
    let mut partition_of: HashMap<&str, i32> = HashMap::new();
    let mut by_key: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in &msgs {
        let v = json(&m.line);
        assert_eq!(m.key.as_deref(), v["CommunityId"].as_str(), "{}", m.line);
        if let Some(k) = m.key.as_deref() {
            let p = *partition_of.entry(k).or_insert(m.partition);
            assert_eq!(p, m.partition, "key {k} in two partitions");
            by_key.entry(k).or_default().push(&m.line);
        }
    }
    assert!(by_key.len() > 50, "only {} keys", by_key.len());
    let partitions: std::collections::HashSet<i32> = partition_of.values().copied().collect();
    assert!(partitions.len() > 1, "every key in one partition");
    let mut file_by_key: HashMap<&str, Vec<&str>> = HashMap::new();
    for l in &expected {
        if let Some(k) = json(l)["CommunityId"].as_str() {
            // The key borrowed from the message map: same text.
            let k = partition_of.get_key_value(k).map(|(k, _)| *k).unwrap();
            file_by_key.entry(k).or_default().push(l);
        }
    }
    assert_eq!(by_key, file_by_key, "a key's lines out of order");
}

#[test]
fn zstd_compression_is_read_back() {
    let Some(bin) = broker_or_skip() else { return };
    let broker = Broker::start(&bin);
    broker.create_topic("zstd", 1);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 300);
    let expected = file_lines(std::slice::from_ref(&pcap), dir.path());
    let out = replay(
        std::slice::from_ref(&pcap),
        &broker.url("zstd"),
        &["--set", "kafka.compression.type=zstd"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = broker.consume("zstd", expected.len() + 2, Duration::from_secs(10));
    let lines: Vec<&str> = msgs
        .iter()
        .map(|m| m.line.as_str())
        .filter(|l| !is_state(l))
        .collect();
    // One partition: the order of the file exactly.
    assert_eq!(lines, expected);
}

#[test]
fn broker_restart_in_the_middle_loses_nothing() {
    let Some(bin) = broker_or_skip() else { return };
    let mut broker = Broker::start(&bin);
    if !broker.persistent() {
        eprintln!("skipping: this tansu build has no SQLite engine (its memory engine forgets)");
        return;
    }
    broker.create_topic("restart", 3);
    let dir = tempfile::tempdir().unwrap();
    // 30k lines (~9 MB) through a 1 MiB queue: the replay waits for the broker
    // (back-pressure) and so is still running when the broker goes away.
    let pcap = dns_pcap(dir.path(), 10_000);
    let expected = file_lines(std::slice::from_ref(&pcap), dir.path());
    let child = c2tap()
        .args([
            "replay",
            "--events",
            "all",
            "-w",
            "1",
            "-o",
            &broker.url("restart"),
            "--kafka-buffer",
            "1M",
        ])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the broker holds some of the run, then kill it (SIGKILL: a crash) and
    // start it again 2 s later on the same storage. Not SIGTERM: tansu 0.6 answers the
    // requests it gets while shutting down with UNKNOWN_SERVER_ERROR, which librdkafka
    // (rightly) does not retry.
    let deadline = Instant::now() + Duration::from_secs(120);
    while broker
        .consume("restart", 1000, Duration::from_secs(5))
        .len()
        < 1000
    {
        assert!(Instant::now() < deadline, "the first 1000 lines never came");
    }
    broker.stop();
    sleep(Duration::from_secs(2));
    broker.restart();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("dropped"), "{stderr}");
    // The outage happened while c2tap was running, and it saw the brokers come back.
    assert!(stderr.contains("all brokers down"), "{stderr}");
    assert!(stderr.contains("brokers back, delivering"), "{stderr}");

    let msgs = broker.consume("restart", usize::MAX, Duration::from_secs(10));
    let got = multiset(
        msgs.iter()
            .map(|m| m.line.as_str())
            .filter(|l| !is_state(l)),
    );
    let want = multiset(expected.iter().map(String::as_str));
    let missing: Vec<&&str> = want.keys().filter(|l| !got.contains_key(*l)).collect();
    let extra = got.keys().filter(|l| !want.contains_key(*l)).count();
    let duplicates: usize = got
        .iter()
        .map(|(l, n)| n.saturating_sub(*want.get(l).unwrap_or(&0)))
        .sum();
    eprintln!(
        "{} messages for {} lines: {duplicates} duplicates; c2tap said:\n{stderr}",
        msgs.len(),
        expected.len()
    );
    assert!(
        missing.is_empty(),
        "{} lines lost, first {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(extra, 0, "lines that were not in the replay");
}

#[test]
fn unknown_topic_fails_the_start() {
    let Some(bin) = broker_or_skip() else { return };
    let broker = Broker::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 10);
    let out = replay(&[pcap], &broker.url("no-such-topic"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("topic \"no-such-topic\" does not exist"),
        "{stderr}"
    );
}

#[test]
fn refused_authentication_fails_the_start() {
    let Some(bin) = broker_or_skip() else { return };
    // A broker that requires SASL and knows no user: every login is refused.
    let broker = Broker::start_with(&bin, &["--authentication"]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 10);
    let out = replay(
        &[pcap],
        &broker.url("c2tap"),
        &[
            "--set",
            "kafka.security.protocol=SASL_PLAINTEXT",
            "--set",
            "kafka.sasl.mechanism=SCRAM-SHA-256",
            "--set",
            "kafka.sasl.username=sensor",
            "--set",
            "kafka.sasl.password=wrong",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SASL authentication error"), "{stderr}");
}

#[test]
fn bad_property_fails_the_start() {
    let Some(bin) = broker_or_skip() else { return };
    let broker = Broker::start(&bin);
    broker.create_topic("props", 1);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 10);
    let out = replay(
        &[pcap],
        &broker.url("props"),
        &["--set", "kafka.lingerr.ms=5"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lingerr.ms"), "{stderr}");
}

#[test]
fn bad_urls_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 1);
    for (url, says) in [
        ("kafka://127.0.0.1:9092", "no topic"),
        ("kafka://127.0.0.1/t", "has no port"),
        ("kafka://127.0.0.1:9092/bad topic", "bad topic"),
    ] {
        let out = replay(std::slice::from_ref(&pcap), url, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
    }
}

#[test]
fn unreachable_brokers_are_not_fatal_but_a_run_that_delivered_nothing_fails() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 20);
    // 20 exchanges: 60 events (connection, query, connection end each), 2 SensorState.
    // A port nobody listens on; messages expire after 2 s instead of 5 min.
    let url = format!("kafka://127.0.0.1:{}/t", free_port());
    let out = replay(
        &[pcap],
        &url,
        &["--set", "kafka.message.timeout.ms=2000", "--summary"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("brokers not reachable"), "{stderr}");
    assert!(
        stderr.contains("delivered none of the 62 lines"),
        "{stderr}"
    );
}

/// Live: a full queue drops the line (counted) instead of waiting; at close what is left
/// is counted too. Through the library, against brokers that are not there: no root, no
/// interface, no broker needed.
#[test]
fn live_drops_lines_when_the_queue_is_full() {
    use c2tap::output::{Fullness, KafkaSink, KafkaTarget};
    let target = KafkaTarget {
        brokers: vec![format!("127.0.0.1:{}", free_port())],
        topic: "t".into(),
        properties: BTreeMap::from([("linger.ms".to_owned(), "5".to_owned())]),
        // librdkafka's smallest queue: 1 KiB.
        buffer_bytes: 1024,
    };
    let mut sink = KafkaSink::open(&target).expect("unreachable brokers are not fatal");
    sink.set_fullness(Fullness::Drop);
    let line = format!(
        "{{\"CommunityId\":\"1:x=\",\"Pad\":\"{}\"}}\n",
        "x".repeat(200)
    );
    let started = Instant::now();
    sink.write_lines(line.repeat(100).as_bytes());
    // Dropped at once, not after a wait.
    assert!(started.elapsed() < Duration::from_secs(5));
    let dropped = sink.drops();
    assert!(dropped > 50 && dropped < 100, "{dropped} of 100 dropped");
    sink.close();
    assert_eq!(sink.drops(), 100, "the queued rest counted at close");
    assert_eq!(sink.delivered(), 0);
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `consume_at` from inside the network namespace `ns`: a thread of its own enters it
/// (setns), and librdkafka's threads, started from there, are in it too.
fn consume_in(ns: &Netns, port: u16, topic: &str, want: usize, idle: Duration) -> Vec<Msg> {
    use std::os::fd::AsRawFd;
    let path = format!("/var/run/netns/{}", ns.0);
    let topic = topic.to_owned();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on a namespace file this thread opened; it changes only the
        // calling thread's network namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        consume_at(port, &topic, want, idle)
    })
    .join()
    .unwrap()
}

/// `c2tap live -i lo` in a fresh network namespace, with tansu and dnsmasq there too:
/// the DNS events of `dig` reach the topic. Needs root, ip, dig and dnsmasq.
#[test]
fn live_capture_delivers_to_kafka() {
    let Some(bin) = broker_or_skip() else { return };
    if !is_root() || !["ip", "dig", "dnsmasq"].iter().all(|t| have(t)) {
        eprintln!("skipping live kafka test: needs root, ip, dig and dnsmasq");
        return;
    }
    let ns = Netns::new("c2tap-kafka");
    let dir = tempfile::tempdir().unwrap();
    let port = 9092;
    let listener = format!("tcp://127.0.0.1:{port}");
    let tansu = bin.to_str().unwrap();
    let _broker = KillOnDrop(
        ns.exec(&[tansu, "broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let listening = || {
        ns.exec(&["bash", "-c", &probe])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    while !listening() {
        assert!(Instant::now() < deadline, "tansu did not start listening");
        sleep(Duration::from_millis(100));
    }
    let created = ns
        .exec(&[tansu, "topic", "create", "--broker", &listener])
        .args(["--partitions", "1", "live"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let _dnsmasq = KillOnDrop(
        ns.exec(&[
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--user=root",
            "--pid-file=",
            "--address=/live-kafka.example/192.0.2.9",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let url = format!("kafka://127.0.0.1:{port}/live");
    let mut sensor = ns
        .exec(&[
            env!("CARGO_BIN_EXE_c2tap"),
            "live",
            "-i",
            "lo",
            "--events",
            "all",
        ])
        .args(["-w", "1", "-o", &url, "--set", "live.filter=udp port 53"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The start SensorState is written once the capture is open.
    let started = consume_in(&ns, port, "live", 1, Duration::from_secs(20));
    assert_eq!(started.len(), 1, "no start SensorState on the topic");
    let out = ns
        .exec(&[
            "dig",
            "@127.0.0.1",
            "+tries=1",
            "+time=1",
            "live-kafka.example",
            "A",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "dig failed: {out:?}");
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
    let mut stderr = String::new();
    use std::io::Read;
    sensor
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");

    let msgs = consume_in(&ns, port, "live", usize::MAX, Duration::from_secs(3));
    let q = msgs
        .iter()
        .find(|m| {
            let v = json(&m.line);
            v["EventID"] == 22 && v["QueryName"] == "live-kafka.example"
        })
        .unwrap_or_else(|| panic!("no DNS event on the topic: {msgs:?}\n{stderr}"));
    assert_eq!(q.key.as_deref(), json(&q.line)["CommunityId"].as_str());
    let states: Vec<String> = msgs
        .iter()
        .filter(|m| is_state(&m.line))
        .map(|m| json(&m.line)["State"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(states.first().map(String::as_str), Some("start"));
    assert_eq!(states.last().map(String::as_str), Some("stop"));
}
