//! `-o redis://HOST:PORT/STREAM` against a real `redis-server` (Debian's, installed by
//! `scripts/install-deps.sh test`): each test starts its own server on a free loopback
//! port with a temporary directory (AOF on, `appendfsync always`, so a restart keeps
//! what it acknowledged), reads the stream back with the `redis` crate (XRANGE), and
//! stops the server. Skipped with a message when `redis-server` is not installed.
//!
//! Covers: the project's pcaps arrive as `-o FILE` writes them, in order; MAXLEN trims
//! approximately (and exactly when asked); a password from the environment or an ACL
//! user from the config file works, a wrong or missing one and a key of another type
//! fail the start with status 2 and never print the password; a server restart in the
//! middle of a replay loses nothing, and a stalled one times out and gets the batch
//! again; no server at all: buffered, then counted drops;
//! `rediss://` with a CA and a client certificate made by `openssl`.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------- the server

/// A `redis-server` of the test's own, stopped when dropped.
struct Server {
    port: u16,
    /// The TLS port when started with certificates.
    tls_port: Option<u16>,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when redis-server can run here; says why not otherwise.
fn have_redis() -> bool {
    if have("redis-server") {
        return true;
    }
    eprintln!("skipping: redis-server is not installed (scripts/install-deps.sh test)");
    false
}

impl Server {
    /// Starts a server in `dir` with `extra` settings (`--requirepass x`).
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server {
            port: free_port(),
            tls_port: None,
            dir: dir.to_path_buf(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        s.spawn_on_free_ports();
        s
    }

    /// Starts a server that also listens with TLS, verifying clients against `ca.pem`.
    fn start_tls(dir: &Path, certs: &Path) -> Server {
        let cert = |name: &str| certs.join(name).display().to_string();
        let mut s = Server {
            port: free_port(),
            tls_port: Some(free_port()),
            dir: dir.to_path_buf(),
            args: vec![
                "--tls-cert-file".into(),
                cert("server.pem"),
                "--tls-key-file".into(),
                cert("server.key"),
                "--tls-ca-cert-file".into(),
                cert("ca.pem"),
                "--tls-auth-clients".into(),
                "yes".into(),
            ],
            child: None,
        };
        s.spawn_on_free_ports();
        s
    }

    /// Another test may take a "free" port before this server binds it: try others.
    fn spawn_on_free_ports(&mut self) {
        for _ in 0..4 {
            match self.try_spawn() {
                Ok(()) => return,
                Err(why) => {
                    eprintln!("redis-server on {} exited ({why}), another port", self.port);
                    self.port = free_port();
                    self.tls_port = self.tls_port.map(|_| free_port());
                }
            }
        }
        self.spawn();
    }

    /// Starts the server again on its own port and directory.
    fn spawn(&mut self) {
        if let Err(why) = self.try_spawn() {
            panic!("redis-server on {} did not start: {why}", self.port);
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--dir", &self.dir.display().to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--daemonize", "no", "--logfile", "redis.log"]);
        if let Some(p) = self.tls_port {
            cmd.args(["--tls-port", &p.to_string()]);
        }
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = self
            .child
            .insert(cmd.spawn().expect("starting redis-server"));
        // Ready when it answers (with a password set, NOAUTH is an answer too).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answered = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            match answered {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == Some("NOAUTH") => return Ok(()),
                Err(e) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        self.child = None;
                        return Err(format!("{status}: {}", self.log()));
                    }
                    if Instant::now() > deadline {
                        return Err(format!("{e}: {}", self.log()));
                    }
                    sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Stops the server (SIGTERM: it writes and syncs its AOF, then exits).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                sleep(Duration::from_millis(20));
            }
        }
    }

    /// A connection of the test's own (plain port), authenticated with `password`.
    fn client(&self, password: Option<&str>) -> redis::Connection {
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        };
        redis::Client::open(url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------- helpers

/// The lines of the stream, oldest first, read with XRANGE a page at a time; each entry
/// must hold exactly the one field `field`.
fn read_stream(conn: &mut redis::Connection, key: &str, field: &str) -> Vec<String> {
    const PAGE: usize = 10_000;
    let mut lines = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let page: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query(conn)
            .unwrap();
        let n = page.len();
        for (id, fields) in page {
            assert_eq!(fields.len(), 1, "entry {id}: {fields:?}");
            assert_eq!(fields[0].0, field, "entry {id}");
            lines.push(fields[0].1.clone());
            start = format!("({id}");
        }
        if n < PAGE {
            return lines;
        }
    }
}

fn xlen(conn: &mut redis::Connection, key: &str) -> u64 {
    redis::cmd("XLEN").arg(key).query(conn).unwrap()
}

fn is_state(line: &str) -> bool {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
    v["EventID"] == 4
}

fn states(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| is_state(l))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["State"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn events_only(lines: Vec<String>) -> Vec<String> {
    lines.into_iter().filter(|l| !is_state(l)).collect()
}

/// `replay --events all -w 1` of `inputs` with `args`, and `env` set.
fn replay(inputs: &[PathBuf], args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = c2tap();
    cmd.args(["replay", "--events", "all", "-w", "1"])
        .args(args)
        .args(inputs)
        .env_remove("C2TAP_REDIS_PASSWORD")
        .env_remove("C2TAP_REDIS_USERNAME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The event lines (SensorState left out) of `inputs` replayed to a file.
fn file_lines(dir: &Path, inputs: &[PathBuf]) -> Vec<String> {
    let path = dir.join("events.json");
    let _ = std::fs::remove_file(&path);
    let out = replay(inputs, &["-o", &path.display().to_string()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    events_only(text.lines().map(str::to_owned).collect())
}

/// `n` answered DNS queries: `3n` events with `--events all`.
fn dns_pcap(dir: &Path, n: u32) -> PathBuf {
    let frames = dns_exchange_frames("redis-test.example", 0, n);
    write(dir, "dns.pcap", &pcap_of(&frames))
}

fn url(port: u16, stream: &str) -> String {
    format!("redis://127.0.0.1:{port}/{stream}")
}

// ---------------------------------------------------------------- tests

#[test]
fn project_pcaps_arrive_as_the_file_output_has_them() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(repo().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() > 10, "pcaps/ has {} captures", pcaps.len());
    let expected = file_lines(dir.path(), &pcaps);
    // The default MAXLEN (100000, approximate) keeps them all: nothing trimmed here.
    assert!(
        expected.len() > 1000 && expected.len() < 90_000,
        "{}",
        expected.len()
    );
    let out = replay(&pcaps, &["-o", &url(server.port, "c2tap")], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("dropped"), "{stderr}");
    let lines = read_stream(&mut server.client(None), "c2tap", "eve");
    assert_eq!(states(&lines), ["start", "stop"]);
    let events = events_only(lines);
    assert_eq!(events.len(), expected.len());
    assert!(events == expected, "the stream differs from -o FILE");
}

#[test]
fn maxlen_trims_the_stream() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let pcap = dns_pcap(dir.path(), 3000);
    let expected = file_lines(dir.path(), std::slice::from_ref(&pcap));
    assert_eq!(expected.len(), 9000);
    let mut conn = server.client(None);

    // Approximate (the default): Redis drops whole internal nodes (100 entries by
    // default), so the stream keeps at least 1000 and not many more.
    let out = replay(
        std::slice::from_ref(&pcap),
        &[
            "-o",
            &url(server.port, "approx"),
            "--set",
            "redis.stream_maxlen=1000",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = xlen(&mut conn, "approx");
    assert!(
        (1000..=1200).contains(&n),
        "approximate MAXLEN 1000 kept {n}"
    );
    // What is kept is the newest: the tail of the run, ending with its stop state.
    let kept = read_stream(&mut conn, "approx", "eve");
    assert_eq!(states(&kept).last().map(String::as_str), Some("stop"));
    let kept_events = events_only(kept);
    assert!(expected.ends_with(&kept_events), "not the newest lines");

    // Exact, and another field name.
    let out = replay(
        std::slice::from_ref(&pcap),
        &[
            "-o",
            &url(server.port, "exact"),
            "--set",
            "redis.stream_maxlen=1000",
            "--set",
            "redis.stream_trim_exact=true",
            "--set",
            "redis.field=event",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(xlen(&mut conn, "exact"), 1000);
    let kept = events_only(read_stream(&mut conn, "exact", "event"));
    assert!(expected.ends_with(&kept));

    // 0: no trimming at all.
    let out = replay(
        std::slice::from_ref(&pcap),
        &[
            "-o",
            &url(server.port, "all"),
            "--set",
            "redis.stream_maxlen=0",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(xlen(&mut conn, "all"), 9002);
}

#[test]
fn password_from_the_environment_or_an_acl_user_from_the_config() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--requirepass", "env-Secret-1"]);
    let pcap = dns_pcap(dir.path(), 100);
    let out = replay(
        std::slice::from_ref(&pcap),
        &["-o", &url(server.port, "c2tap")],
        &[("C2TAP_REDIS_PASSWORD", "env-Secret-1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut admin = server.client(Some("env-Secret-1"));
    assert_eq!(xlen(&mut admin, "c2tap"), 302);

    // An ACL user that may only add to and inspect keys under sensors:.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("sensor")
        .arg("on")
        .arg(">file-Secret-2")
        .arg("~sensors:*")
        .arg("+xadd")
        .arg("+type")
        .query(&mut admin)
        .unwrap();
    let config = write(
        dir.path(),
        "c2tap.toml",
        b"[redis]\nusername = \"sensor\"\npassword = \"file-Secret-2\"\n",
    );
    let config = config.display().to_string();
    let out = replay(
        std::slice::from_ref(&pcap),
        &["-c", &config, "-o", &url(server.port, "sensors:edge")],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(xlen(&mut admin, "sensors:edge"), 302);

    // The same user on a key outside its pattern: NOPERM at start, a config error.
    let out = replay(
        std::slice::from_ref(&pcap),
        &["-c", &config, "-o", &url(server.port, "elsewhere")],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("NOPERM"), "{stderr}");
    assert!(!stderr.contains("file-Secret-2"), "{stderr}");
}

#[test]
fn refused_credentials_fail_the_start_without_showing_the_password() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--requirepass", "the-right-one"]);
    let pcap = dns_pcap(dir.path(), 10);
    let target = url(server.port, "c2tap");
    // (what, environment, what stderr must say)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 2] = [
        (
            "wrong password",
            &[("C2TAP_REDIS_PASSWORD", "Wrong-Pass-42")],
            "refused the credentials",
        ),
        ("no password", &[], "NOAUTH"),
    ];
    for (what, env, needle) in cases {
        let started = Instant::now();
        let out = replay(std::slice::from_ref(&pcap), &["-o", &target], env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(needle), "{what}: {stderr}");
        assert!(
            stderr.contains("redis output redis://127.0.0.1:"),
            "{what}: {stderr}"
        );
        assert!(!stderr.contains("Wrong-Pass-42"), "{what}: {stderr}");
        assert!(!stderr.contains("the-right-one"), "{what}: {stderr}");
        // Refused at once, not after retries.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: not fast"
        );
    }
    let mut admin = server.client(Some("the-right-one"));
    assert_eq!(xlen(&mut admin, "c2tap"), 0);
}

#[test]
fn key_of_another_type_fails_the_start() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut conn = server.client(None);
    let _: () = redis::cmd("SET")
        .arg("taken")
        .arg("a string")
        .query(&mut conn)
        .unwrap();
    let pcap = dns_pcap(dir.path(), 10);
    let out = replay(
        std::slice::from_ref(&pcap),
        &["-o", &url(server.port, "taken")],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("WRONGTYPE"), "{stderr}");
    assert!(stderr.contains("not a stream"), "{stderr}");
    let kept: String = redis::cmd("GET").arg("taken").query(&mut conn).unwrap();
    assert_eq!(kept, "a string");
}

#[test]
fn server_restart_in_the_middle_loses_nothing() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let port = server.port;
    // 60k lines: long enough to stop the server in the middle.
    let pcap = dns_pcap(dir.path(), 20_000);
    let expected = file_lines(dir.path(), std::slice::from_ref(&pcap));
    let mut child = c2tap()
        .args([
            "replay",
            "--events",
            "all",
            "-w",
            "1",
            "-o",
            &url(port, "c2tap"),
        ])
        // Keep every entry, and room for every line while the server is away (the
        // overflow is another test's).
        .args([
            "--set",
            "redis.stream_maxlen=0",
            "--set",
            "redis.buffer=256M",
        ])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        )
    };
    let mut conn = server.client(None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while xlen(&mut conn, "c2tap") < 1000 {
        assert!(Instant::now() < deadline, "the first 1000 lines never came");
        sleep(Duration::from_millis(10));
    }
    // Freeze the sensor so that it is surely in the middle, stop the server under it,
    // let the sensor find it gone, then start it again on the same port and directory.
    kill("-STOP");
    drop(conn);
    server.stop();
    kill("-CONT");
    sleep(Duration::from_millis(1500));
    server.spawn();
    assert_eq!(server.port, port);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("connected, sending"),
        "no reconnection: {stderr}"
    );
    assert!(!stderr.contains("dropped"), "{stderr}");

    let lines = read_stream(&mut server.client(None), "c2tap", "eve");
    let repeated = assert_at_least_once(&expected, lines);
    eprintln!("{repeated} lines repeated; c2tap said:\n{stderr}");
}

/// At-least-once: the stream is the expected lines in order, where a buffer whose
/// replies did not all come back may repeat; no line is ever skipped. Returns the
/// lines seen twice.
fn assert_at_least_once(expected: &[String], lines: Vec<String>) -> usize {
    let all_states = states(&lines);
    assert_eq!(all_states.first().map(String::as_str), Some("start"));
    assert_eq!(all_states.last().map(String::as_str), Some("stop"));
    let index: HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    assert_eq!(index.len(), expected.len(), "expected lines are not unique");
    let mut pos = 0;
    let mut repeated = 0;
    for line in events_only(lines) {
        let i = *index
            .get(line.as_str())
            .unwrap_or_else(|| panic!("a line the replay never wrote: {line}"));
        assert!(i <= pos, "lines {pos}..{i} lost");
        if i < pos {
            repeated += 1;
        }
        pos = pos.max(i + 1);
    }
    assert_eq!(pos, expected.len(), "lines missing at the end");
    repeated
}

#[test]
fn stalled_server_times_out_and_the_batch_is_sent_again() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let pcap = dns_pcap(dir.path(), 20_000);
    let expected = file_lines(dir.path(), std::slice::from_ref(&pcap));
    let mut child = c2tap()
        .args([
            "replay",
            "--events",
            "all",
            "-w",
            "1",
            "-o",
            &url(server.port, "c2tap"),
        ])
        .args([
            "--set",
            "redis.stream_maxlen=0",
            "--set",
            "redis.buffer=256M",
        ])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = server.client(None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while xlen(&mut conn, "c2tap") < 1000 {
        assert!(Instant::now() < deadline, "the first 1000 lines never came");
        sleep(Duration::from_millis(10));
    }
    drop(conn);
    // Freeze the server under a sensor that is sending: its pipeline gets no replies,
    // the reply timeout (10 s) gives up on it and the writer goes back to its queue;
    // thawed, the server answers the next connection and the batch is sent again.
    let redis_pid = server.child.as_ref().unwrap().id().to_string();
    let signal = |sig: &str| {
        assert!(
            Command::new("kill")
                .args([sig, &redis_pid])
                .status()
                .unwrap()
                .success()
        )
    };
    signal("-STOP");
    sleep(Duration::from_secs(12));
    signal("-CONT");
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("no answer in time"), "{stderr}");
    assert!(stderr.contains("connected, sending"), "{stderr}");
    assert!(!stderr.contains("dropped"), "{stderr}");
    let lines = read_stream(&mut server.client(None), "c2tap", "eve");
    let repeated = assert_at_least_once(&expected, lines);
    eprintln!("{repeated} lines repeated; c2tap said:\n{stderr}");
}

#[test]
fn no_server_buffers_then_counts_every_line_dropped() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dns_pcap(dir.path(), 500);
    let started = Instant::now();
    let out = replay(
        std::slice::from_ref(&pcap),
        &["-o", &url(free_port(), "c2tap"), "--set", "redis.buffer=8k"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unreachable at start is not a configuration error: the sink buffers and retries,
    // and at the end nothing was delivered, so the run failed (as -o tls:// does).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(stderr.contains("buffering up to 8 KiB"), "{stderr}");
    assert!(
        stderr.contains("c2tap: the output delivered none of the 1502 lines this run produced"),
        "{stderr}"
    );
    // The shutdown flush is bounded (5 s).
    assert!(started.elapsed() < Duration::from_secs(30));
}

// ---------------------------------------------------------------- TLS

#[test]
fn rediss_with_a_ca_and_a_client_certificate() {
    if !have_redis() {
        return;
    }
    if !have("openssl") {
        eprintln!("skipping: the openssl command is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::certs::make(d);
    let server = Server::start_tls(d, d);
    let tls_port = server.tls_port.unwrap();
    let pcap = dns_pcap(d, 500);
    let expected = file_lines(d, std::slice::from_ref(&pcap));
    let path = |name: &str| d.join(name).display().to_string();
    let target = format!("rediss://127.0.0.1:{tls_port}/c2tap");
    let set = |key: &str, file: &str| format!("redis.{key}={}", path(file));
    let (ca, cert, key) = (
        set("ca", "ca.pem"),
        set("cert", "client.pem"),
        set("key", "client.key"),
    );

    let out = replay(
        std::slice::from_ref(&pcap),
        &["-o", &target, "--set", &ca, "--set", &cert, "--set", &key],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines = read_stream(&mut server.client(None), "c2tap", "eve");
    assert_eq!(states(&lines), ["start", "stop"]);
    assert!(
        events_only(lines) == expected,
        "the stream differs from -o FILE"
    );

    // A server certificate from another CA, and no client certificate where the server
    // requires one: TLS failures at start are configuration errors.
    let other_ca = set("ca", "other-ca.pem");
    let cases: [(&str, Vec<&str>, &str); 2] = [
        (
            "unknown CA",
            vec!["--set", &other_ca, "--set", &cert, "--set", &key],
            "UnknownIssuer",
        ),
        (
            "no client certificate",
            vec!["--set", &ca],
            "redis output rediss://",
        ),
    ];
    for (what, extra, needle) in cases {
        let mut args = vec!["-o", target.as_str()];
        args.extend(extra);
        let started = Instant::now();
        let out = replay(std::slice::from_ref(&pcap), &args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(needle), "{what}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{what}: not fast"
        );
    }
    assert_eq!(xlen(&mut server.client(None), "c2tap"), 1502);
}
