//! `-o redis://HOST:PORT/STREAM` (`rediss://` for TLS): each JSON line becomes one entry
//! of a Redis stream, `XADD STREAM MAXLEN ~ N * eve LINE`, as Suricata 8's redis output
//! writes its EVE records in `mode: stream` (same field name, same default cap).
//!
//! Where it sits: the writer thread calls it synchronously, like the TLS sink, and it
//! behaves the same way (read `tls.rs` first): lines wait in the shared bounded
//! [`Backlog`] while the server is away (oldest buffers dropped past the cap and
//! counted, [`RedisSink::drops`] → `output_drops`), the sink reconnects with backoff
//! ([`BACKOFF_MIN`] doubling to [`BACKOFF_MAX`]), and every network step is bounded:
//! connect, TLS handshake and AUTH by [`CONNECT_TIMEOUT`], each pipeline's writes and
//! replies by [`REPLY_TIMEOUT`], the last flush by [`SHUTDOWN_FLUSH`].
//!
//! Delivery: one backlog buffer (a batch of whole lines from a worker) is one pipeline,
//! one round trip. A buffer counts as delivered only when the server has answered every
//! XADD in it without an error; otherwise (connection lost, timeout, an error reply such
//! as OOM) the whole buffer is sent again on the next connection. At-least-once: a
//! consumer may see the entries of one buffer twice after a restart, never a gap. With
//! `appendfsync always` a server answers only what is on disk, so a crash loses nothing
//! the sensor counted as delivered.
//!
//! Start: a server that refuses the credentials (WRONGPASS), wants a password none was
//! given (NOAUTH), forbids a command to this user (NOPERM), fails the TLS handshake, or
//! holds the key as something other than a stream (WRONGTYPE) fails the start: these are
//! configuration errors and retrying will not fix them. An unreachable server at start
//! is retried, as the TLS sink does. Later, every error is retried.
//!
//! The password is never printed: [`Password`]'s `Debug` is redacted, and a server or
//! library message is scrubbed of it before it reaches stderr.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, RedisError, TlsCertificates,
};
use serde::Deserialize;

use super::OutputError;
use super::backlog::{Backlog, Redelivery, count_lines, human_size};
use super::tls;

/// Suricata's `stream-maxlen` default (`REDIS_MAX_STREAM_LENGTH_DEFAULT`): a stream
/// that nobody reads stays bounded (about 50 MB of ~500-byte events) instead of eating
/// the server's memory.
pub const DEFAULT_MAXLEN: u64 = 100_000;
/// Suricata's stream field name: a consumer written for Suricata's stream finds the
/// line where it looks.
pub const DEFAULT_FIELD: &str = "eve";
/// Redis' own port.
pub const DEFAULT_PORT: u16 = 6379;
/// Backlog cap while the server is away: the TLS sink's, for the same reasons.
pub const DEFAULT_BUFFER_BYTES: u64 = tls::DEFAULT_BUFFER_BYTES;
/// TCP connect, TLS handshake and AUTH together: the TLS sink's bound.
pub const CONNECT_TIMEOUT: Duration = tls::CONNECT_TIMEOUT;
/// Writing one pipeline and reading its replies: a server that has not answered a
/// batch in 10 s is stalled (the TLS sink's write bound); the batch is sent again.
pub const REPLY_TIMEOUT: Duration = tls::WRITE_TIMEOUT;
pub const BACKOFF_MIN: Duration = tls::BACKOFF_MIN;
pub const BACKOFF_MAX: Duration = tls::BACKOFF_MAX;
pub const SHUTDOWN_FLUSH: Duration = tls::SHUTDOWN_FLUSH;
/// Environment variables read for the credentials (they win over the config file).
pub const PASSWORD_ENV: &str = "C2TAP_REDIS_PASSWORD";
pub const USERNAME_ENV: &str = "C2TAP_REDIS_USERNAME";

/// A secret that `Debug` never shows.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// How XADD trims the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// No MAXLEN: the stream grows until someone trims it (Suricata's `stream-maxlen: 0`).
    None,
    /// `MAXLEN ~ N`: Redis removes whole internal nodes, so the stream keeps N entries
    /// or somewhat more, at a fraction of the cost (Suricata's default).
    Approx(u64),
    /// `MAXLEN = N` (Suricata's `stream-trim-exact: yes`).
    Exact(u64),
}

/// `-o redis://HOST:PORT/STREAM` and its `[redis]` settings, validated by the config
/// module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisTarget {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The stream's key.
    pub stream: String,
    /// `rediss://`: TLS, verified against `ca` or the system store under the name HOST.
    pub tls: bool,
    pub ca: Option<PathBuf>,
    /// Client certificate chain and key (PEM), for servers with `tls-auth-clients yes`.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    /// ACL user (Redis 6+); `None`: the default user.
    pub username: Option<String>,
    pub password: Option<Password>,
    pub trim: Trim,
    /// The entry's field that holds the line.
    pub field: String,
    /// Backlog cap in bytes.
    pub buffer_bytes: u64,
}

impl RedisTarget {
    /// `redis://host:port/stream` for messages (never the credentials), IPv6 in
    /// brackets.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}/{}", self.host, self.port, self.stream)
        } else {
            format!("{scheme}://{}:{}/{}", self.host, self.port, self.stream)
        }
    }

    /// The message as it may be shown: the password, should a server or a library
    /// ever echo it, replaced.
    fn scrub(&self, msg: String) -> String {
        match &self.password {
            Some(Password(p)) if !p.is_empty() && msg.contains(p.as_str()) => {
                msg.replace(p.as_str(), "<redacted>")
            }
            _ => msg,
        }
    }
}

pub struct RedisSink {
    target: RedisTarget,
    client: Client,
    backlog: Backlog,
    conn: Option<redis::Connection>,
    /// Delay before the next attempt after this one fails.
    backoff: Duration,
    next_attempt: Instant,
    /// The outage was reported on stderr: report the recovery, not every failed retry.
    down_reported: bool,
    drops: u64,
}

impl RedisSink {
    /// Reads the certificates, connects, authenticates and checks the key. Fails on a
    /// configuration error (see the module doc); a server that cannot be reached is
    /// retried.
    pub fn open(target: &RedisTarget) -> Result<RedisSink, OutputError> {
        let setup = |reason: String| OutputError::Redis {
            endpoint: target.endpoint(),
            reason: target.scrub(reason),
        };
        let client = client(target).map_err(setup)?;
        let mut sink = RedisSink {
            target: target.clone(),
            client,
            backlog: Backlog::new(target.buffer_bytes),
            conn: None,
            backoff: BACKOFF_MIN,
            next_attempt: Instant::now(),
            down_reported: false,
            drops: 0,
        };
        match sink.connect_checked() {
            Ok(conn) => sink.conn = Some(conn),
            Err(Start::Config(reason)) => return Err(setup(reason)),
            Err(Start::Down(reason)) => sink.went_down(&reason),
        }
        Ok(sink)
    }

    /// Queues whole lines and sends what it can. Never fails: an unreachable server
    /// means buffering, then counted drops.
    pub fn write_lines(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.drops += self.backlog.push(bytes.to_vec());
        self.pump(None);
    }

    /// Sends the backlog, reconnecting when the backoff allows.
    pub fn flush(&mut self) {
        self.pump(None);
    }

    /// End of the run: tries to deliver the backlog for at most [`SHUTDOWN_FLUSH`], then
    /// counts what is left as dropped.
    pub fn close(&mut self) {
        self.drain_until(Instant::now() + SHUTDOWN_FLUSH);
        self.conn = None;
        let left = self.backlog.clear();
        if left > 0 {
            self.drops += left;
            eprintln!(
                "c2tap: redis output {}: {left} buffered lines not delivered at shutdown",
                self.target.endpoint()
            );
        }
    }

    /// Lines dropped so far (backlog overflow, undelivered at shutdown).
    pub fn drops(&self) -> u64 {
        self.drops
    }

    /// Lines waiting for the server.
    pub fn buffered_lines(&self) -> u64 {
        self.backlog.lines()
    }

    fn pump(&mut self, deadline: Option<Instant>) {
        if self.backlog.is_empty() {
            return;
        }
        if self.conn.is_none() {
            let now = Instant::now();
            if now < self.next_attempt {
                return;
            }
            let limit = clamp(now + CONNECT_TIMEOUT, deadline)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            match self.client.get_connection_with_timeout(limit) {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.backoff = BACKOFF_MIN;
                    if self.down_reported {
                        self.down_reported = false;
                        eprintln!(
                            "c2tap: redis output {}: connected, sending {} buffered lines",
                            self.target.endpoint(),
                            self.backlog.lines()
                        );
                    }
                }
                Err(e) => {
                    let reason = format!("cannot connect: {}", describe(&e));
                    self.went_down(&reason);
                    return;
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut failure = None;
        while let Some(front) = self.backlog.front() {
            let timeout = clamp(Instant::now() + REPLY_TIMEOUT, deadline)
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            match send(conn, &xadd_pipeline(&self.target, front), timeout) {
                // Every XADD of the buffer answered: delivered.
                Ok(()) => {
                    self.backlog.pop_front();
                }
                Err(e) => {
                    failure = Some(format!("pipeline failed: {}", describe(&e)));
                    break;
                }
            }
        }
        if let Some(reason) = failure {
            self.went_down(&reason);
        }
    }

    /// Drops the connection (if any) and schedules the next attempt.
    fn went_down(&mut self, reason: &str) {
        self.conn = None;
        self.next_attempt = Instant::now() + self.backoff;
        if !self.down_reported {
            self.down_reported = true;
            eprintln!(
                "c2tap: redis output {}: {}; buffering up to {}, retrying",
                self.target.endpoint(),
                self.target.scrub(reason.to_owned()),
                human_size(self.backlog.cap())
            );
        }
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// The first connection: connect, authenticate, and ask the key's type, which also
    /// tells whether this user may work at all (NOAUTH, NOPERM).
    fn connect_checked(&self) -> Result<redis::Connection, Start> {
        let mut conn = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| classify_connect(&e))?;
        conn.set_read_timeout(Some(CONNECT_TIMEOUT))
            .map_err(|e| Start::Down(describe(&e)))?;
        conn.set_write_timeout(Some(CONNECT_TIMEOUT))
            .map_err(|e| Start::Down(describe(&e)))?;
        let kind: Result<String, RedisError> =
            redis::cmd("TYPE").arg(&self.target.stream).query(&mut conn);
        match kind {
            Ok(kind) if kind == "none" || kind == "stream" => Ok(conn),
            Ok(kind) => Err(Start::Config(format!(
                "WRONGTYPE: key {:?} holds a {kind}, not a stream; choose another STREAM \
                 or delete the key",
                self.target.stream
            ))),
            Err(e) => Err(classify_reply(&e)),
        }
    }
}

impl Redelivery for RedisSink {
    fn deliver(&mut self, deadline: Option<Instant>) {
        self.pump(deadline);
    }

    fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    fn retry_now(&mut self) {
        self.next_attempt = Instant::now();
        self.backoff = BACKOFF_MIN;
    }

    fn next_attempt(&self) -> Instant {
        self.next_attempt
    }
}

/// How a first attempt failed.
enum Start {
    /// Retrying cannot help.
    Config(String),
    /// Network trouble: buffer and retry.
    Down(String),
}

/// A failed connect: credentials refused, a TLS failure, or settings the library
/// rejects are configuration; the rest is network trouble.
fn classify_connect(e: &RedisError) -> Start {
    let reason = describe(e);
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return Start::Config(format!(
            "WRONGPASS: the server refused the credentials ([redis] username/password or \
             {PASSWORD_ENV})"
        ));
    }
    if e.kind() == redis::ErrorKind::InvalidClientConfig || is_tls_failure(e) {
        return Start::Config(reason);
    }
    match classify_reply(e) {
        Start::Down(_) if e.code().is_none() => Start::Down(format!("cannot connect: {reason}")),
        other => other,
    }
}

/// A server's error reply to the first commands: those about who we are are
/// configuration, others (LOADING while the server reads its AOF) are waited out.
fn classify_reply(e: &RedisError) -> Start {
    let reason = describe(e);
    match e.code() {
        Some("NOAUTH") => Start::Config(format!(
            "NOAUTH: the server requires a password; set [redis] password in the config \
             or {PASSWORD_ENV}"
        )),
        Some("WRONGPASS") => Start::Config(format!(
            "the server refused the credentials ([redis] username/password or \
             {PASSWORD_ENV}): {reason}"
        )),
        Some("NOPERM") => Start::Config(format!(
            "this user may not run TYPE/XADD on the stream: {reason}"
        )),
        _ => Start::Down(reason),
    }
}

/// True when the connection failed inside TLS (unknown CA, wrong name, a client
/// certificate refused): rustls reports its errors as `InvalidData` I/O errors, which
/// the library keeps behind an `Arc` as the error's source.
fn is_tls_failure(e: &RedisError) -> bool {
    type Shared = Arc<dyn std::error::Error + Send + Sync>;
    let Some(source) = std::error::Error::source(e) else {
        return false;
    };
    let io = source.downcast_ref::<io::Error>().or_else(|| {
        source
            .downcast_ref::<Shared>()
            .and_then(|inner| (**inner).downcast_ref::<io::Error>())
    });
    let Some(io) = io else {
        return false;
    };
    io.kind() == io::ErrorKind::InvalidData
        && io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// The error for people: the library's text, with the server's code when there is one;
/// a socket timeout says so (the OS calls it "Resource temporarily unavailable").
fn describe(e: &RedisError) -> String {
    let text = e.to_string();
    if e.is_timeout() {
        return format!("no answer in time ({text})");
    }
    match e.code() {
        Some(code) if !text.contains(code) => format!("{code}: {text}"),
        _ => text,
    }
}

/// Runs one pipeline, every write and every reply bounded by `timeout`.
fn send(
    conn: &mut redis::Connection,
    pipe: &redis::Pipeline,
    timeout: Duration,
) -> Result<(), RedisError> {
    conn.set_write_timeout(Some(timeout))?;
    conn.set_read_timeout(Some(timeout))?;
    pipe.exec(conn)
}

/// `at`, but no later than `deadline`.
fn clamp(at: Instant, deadline: Option<Instant>) -> Instant {
    deadline.map_or(at, |d| at.min(d))
}

/// One XADD per line of `buf`, in order. The trailing newline is not part of the entry
/// (Redis stores values, not lines); a buffer holds whole lines only.
fn xadd_pipeline(t: &RedisTarget, buf: &[u8]) -> redis::Pipeline {
    let mut pipe = redis::Pipeline::with_capacity(count_lines(buf) as usize + 1);
    for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let cmd = pipe.cmd("XADD").arg(&t.stream);
        match t.trim {
            Trim::None => {}
            Trim::Approx(n) => {
                cmd.arg("MAXLEN").arg("~").arg(n);
            }
            Trim::Exact(n) => {
                cmd.arg("MAXLEN").arg("=").arg(n);
            }
        }
        cmd.arg("*").arg(&t.field).arg(line);
    }
    pipe
}

fn client(t: &RedisTarget) -> Result<Client, String> {
    let addr = if t.tls {
        ConnectionAddr::TcpTls {
            host: t.host.clone(),
            port: t.port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(t.host.clone(), t.port)
    };
    let mut redis = RedisConnectionInfo::default();
    if let Some(user) = &t.username {
        redis = redis.set_username(user);
    }
    if let Some(Password(p)) = &t.password {
        redis = redis.set_password(p);
    }
    let info: ConnectionInfo = addr
        .into_connection_info()
        .map_err(|e| e.to_string())?
        .set_redis_settings(redis);
    if !t.tls {
        return Client::open(info).map_err(|e| e.to_string());
    }
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let root_cert = t.ca.as_ref().map(read).transpose()?;
    let client_tls = match &t.client_auth {
        Some((cert, key)) => Some(ClientTlsConfig {
            client_cert: read(cert)?,
            client_key: read(key)?,
        }),
        None => None,
    };
    Client::build_with_tls(
        info,
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(|e| format!("TLS settings: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> RedisTarget {
        RedisTarget {
            host: "127.0.0.1".into(),
            port: 6379,
            stream: "c2tap".into(),
            tls: false,
            ca: None,
            client_auth: None,
            username: None,
            password: Some(Password("s3cret-value".into())),
            trim: Trim::Approx(1000),
            field: "eve".into(),
            buffer_bytes: 1 << 20,
        }
    }

    #[test]
    fn one_xadd_per_line_with_the_trim() {
        let mut t = target();
        let packed = |t: &RedisTarget| {
            String::from_utf8(xadd_pipeline(t, b"{\"a\":1}\n{\"b\":2}\n").get_packed_pipeline())
                .unwrap()
        };
        let approx = packed(&t);
        assert_eq!(approx.matches("XADD").count(), 2);
        assert!(approx.contains("$6\r\nMAXLEN\r\n$1\r\n~\r\n$4\r\n1000\r\n$1\r\n*\r\n$3\r\neve\r\n$7\r\n{\"a\":1}\r\n"), "{approx:?}");
        t.trim = Trim::Exact(5);
        assert!(packed(&t).contains("MAXLEN\r\n$1\r\n=\r\n$1\r\n5\r\n"));
        t.trim = Trim::None;
        assert!(!packed(&t).contains("MAXLEN"));
    }

    #[test]
    fn the_password_is_never_shown() {
        let t = target();
        assert!(!format!("{t:?}").contains("s3cret-value"));
        assert!(!t.endpoint().contains("s3cret-value"));
        assert_eq!(
            t.scrub("AUTH s3cret-value failed".into()),
            "AUTH <redacted> failed"
        );
    }

    #[test]
    fn endpoint_brackets_ipv6() {
        let mut t = target();
        t.host = "::1".into();
        t.tls = true;
        assert_eq!(t.endpoint(), "rediss://[::1]:6379/c2tap");
    }

    #[test]
    fn missing_ca_file_is_a_setup_error() {
        let mut t = target();
        t.tls = true;
        t.ca = Some("/nonexistent/ca.pem".into());
        let Err(e) = RedisSink::open(&t) else {
            panic!("opened with a missing CA file")
        };
        assert!(e.is_usage());
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
