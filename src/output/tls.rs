//! `-o tls://HOST:PORT`: JSON lines to a collector over TLS (rustls client, ring).
//!
//! The writer thread calls this sink synchronously, so nothing here may block for long:
//! connecting (TCP + handshake) is bounded by [`CONNECT_TIMEOUT`], each socket write by
//! [`WRITE_TIMEOUT`]. While the collector is unreachable, lines wait in a bounded
//! in-memory backlog ([`DEFAULT_BUFFER_BYTES`], `--tls-buffer`) and the sink retries with
//! exponential backoff ([`BACKOFF_MIN`] doubling up to [`BACKOFF_MAX`]); when the backlog
//! would pass its cap, the oldest buffers of whole lines are dropped and counted
//! ([`TlsSink::drops`], the `output_drops` counter). While connected, a slow collector
//! back-pressures the writer as a slow disk would.
//!
//! Delivery: JSON lines over TLS has no acknowledgement, so a buffer counts as delivered
//! once it was written and the connection was still open afterwards (no close_notify, no
//! EOF, no error). A buffer in flight when the connection breaks is sent again on the
//! next connection (at-least-once: the collector may see a few lines twice, and must
//! ignore an unterminated last line of a connection). Bytes the kernel accepted before a
//! collector crashed without closing are lost without our knowing; a collector that
//! closes cleanly (restart) loses nothing.
//!
//! Certificates: the server is verified against `--tls-ca FILE` or the system bundle
//! ([`SYSTEM_CA_FILES`], parsed with rustls-pki-types' PEM reader) under the name
//! `--tls-server-name` or HOST. A TLS error on the first connection (unknown CA, wrong
//! name, client certificate refused, not a TLS server) fails the start: it is a
//! configuration error and retrying will not fix it. Network errors at start, and any
//! error later, are retried.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::OutputError;
use super::backlog::{Backlog, Redelivery, human_size};

/// Backlog cap while the collector is away: at ~500 bytes a line, about 130k events, a
/// few minutes of a busy sensor, at a memory cost a sensor host can always afford.
pub const DEFAULT_BUFFER_BYTES: u64 = 64 << 20;
/// TCP connect plus handshake: a collector that has not answered in 5 s is down, and the
/// writer must get back to its queue.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A socket write that makes no progress for 10 s means a stalled collector: treat the
/// connection as broken rather than stall the pipeline behind it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// First retry delay: a restarting collector is usually back within a second.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest retry delay: a collector back after an outage is found within 30 s.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// At shutdown, time given to deliver the backlog before it is counted as dropped: long
/// enough for one reconnect, short enough for a service manager's stop timeout.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);
/// At startup, how long to listen after the handshake for the collector's verdict on our
/// certificate: in TLS 1.3 a server rejects a client certificate only after the client's
/// handshake is done. Session tickets or an alert come within a round trip; a collector
/// that sends nothing costs this delay once.
pub const STARTUP_PROBE: Duration = Duration::from_millis(300);
/// Where the system CA bundle lives (Debian/Ubuntu, Fedora/RHEL, Alpine/BSD);
/// `SSL_CERT_FILE` comes first when set, as in OpenSSL.
pub const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// `-o tls://HOST:PORT` and its options, validated by the config module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsTarget {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Name the server certificate must carry (default: `host`).
    pub server_name: String,
    /// CA bundle (PEM); `None`: the system bundle.
    pub ca: Option<PathBuf>,
    /// Client certificate chain and key (PEM) for collectors that require one.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    /// Backlog cap in bytes.
    pub buffer_bytes: u64,
}

impl TlsTarget {
    /// `host:port` for messages, IPv6 in brackets.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

pub struct TlsSink {
    target: TlsTarget,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    backlog: Backlog,
    conn: Option<Conn>,
    /// Delay before the next attempt after this one fails.
    backoff: Duration,
    next_attempt: Instant,
    /// The outage was reported on stderr: report the recovery, not every failed retry.
    down_reported: bool,
    drops: u64,
}

impl TlsSink {
    /// Loads the certificates and makes the first connection. Fails on bad files and on
    /// a TLS error from the collector; a collector that cannot be reached is retried.
    pub fn open(target: &TlsTarget) -> Result<TlsSink, OutputError> {
        let setup = |reason: String| OutputError::Tls {
            endpoint: target.endpoint(),
            reason,
        };
        let config = client_config(target).map_err(setup)?;
        let name = ServerName::try_from(target.server_name.clone())
            .map_err(|e| setup(format!("server name {:?}: {e}", target.server_name)))?;
        let mut sink = TlsSink {
            target: target.clone(),
            config,
            name,
            backlog: Backlog::new(target.buffer_bytes),
            conn: None,
            backoff: BACKOFF_MIN,
            next_attempt: Instant::now(),
            down_reported: false,
            drops: 0,
        };
        let first = sink
            .connect(Instant::now() + CONNECT_TIMEOUT)
            .and_then(|mut conn| conn.probe(STARTUP_PROBE).map(|()| conn));
        match first {
            Ok(conn) => sink.conn = Some(conn),
            Err(ConnectError::Tls(e)) => return Err(setup(e.to_string())),
            Err(ConnectError::Io(e)) => sink.went_down(&format!("cannot connect: {e}")),
        }
        Ok(sink)
    }

    /// Queues whole lines and sends what it can. Never fails: an unreachable collector
    /// means buffering, then counted drops.
    pub fn write_lines(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.drops += self.backlog.push(bytes.to_vec());
        self.pump(None);
    }

    /// Sends the backlog, reconnecting when the backoff allows; notices a collector that
    /// closed while idle.
    pub fn flush(&mut self) {
        self.pump(None);
    }

    /// End of the run: tries to deliver the backlog for at most [`SHUTDOWN_FLUSH`],
    /// closes the connection cleanly, and counts what is left as dropped.
    pub fn close(&mut self) {
        self.drain_until(Instant::now() + SHUTDOWN_FLUSH);
        if let Some(mut conn) = self.conn.take() {
            conn.tls.send_close_notify();
            let _ = conn.sock.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = conn.write_out();
            let _ = conn.sock.shutdown(std::net::Shutdown::Write);
        }
        let left = self.backlog.clear();
        if left > 0 {
            self.drops += left;
            eprintln!(
                "c2tap: tls output {}: {left} buffered lines not delivered at shutdown",
                self.target.endpoint()
            );
        }
    }

    /// Lines dropped so far (backlog overflow, undelivered at shutdown).
    pub fn drops(&self) -> u64 {
        self.drops
    }

    /// Lines waiting for the collector.
    pub fn buffered_lines(&self) -> u64 {
        self.backlog.lines()
    }

    fn pump(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        if self.conn.is_none() {
            if now < self.next_attempt {
                return;
            }
            let limit = clamp(now + CONNECT_TIMEOUT, deadline);
            match self.connect(limit) {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.backoff = BACKOFF_MIN;
                    if self.down_reported {
                        self.down_reported = false;
                        eprintln!(
                            "c2tap: tls output {}: connected, sending {} buffered lines",
                            self.target.endpoint(),
                            self.backlog.lines()
                        );
                    }
                }
                Err(e) => {
                    self.went_down(&e.to_string());
                    return;
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut failure = conn.check_open().err();
        while failure.is_none() {
            let Some(front) = self.backlog.front() else {
                break;
            };
            let timeout = clamp(Instant::now() + WRITE_TIMEOUT, deadline)
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            // A buffer counts as delivered only if the connection was still open after
            // it was written; otherwise it is sent again on the next connection.
            failure = match conn.send(front, timeout) {
                Ok(()) => conn.check_open().err(),
                Err(e) => Some(format!("write failed: {e}")),
            };
            if failure.is_none() {
                self.backlog.pop_front();
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
                "c2tap: tls output {}: {reason}; buffering up to {}, retrying",
                self.target.endpoint(),
                human_size(self.backlog.cap())
            );
        }
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn connect(&self, deadline: Instant) -> Result<Conn, ConnectError> {
        let addrs = (self.target.host.as_str(), self.target.port)
            .to_socket_addrs()
            .map_err(ConnectError::Io)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no address");
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                break;
            }
            match TcpStream::connect_timeout(&addr, left) {
                Ok(sock) => return self.handshake(sock, deadline),
                Err(e) => last = e,
            }
        }
        Err(ConnectError::Io(last))
    }

    fn handshake(&self, sock: TcpStream, deadline: Instant) -> Result<Conn, ConnectError> {
        let tls = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(ConnectError::Tls)?;
        let mut conn = Conn { tls, sock };
        conn.sock.set_nodelay(true).map_err(ConnectError::Io)?;
        while conn.tls.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnectError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                )));
            }
            conn.sock
                .set_read_timeout(Some(left))
                .map_err(ConnectError::Io)?;
            conn.sock
                .set_write_timeout(Some(left))
                .map_err(ConnectError::Io)?;
            if conn.tls.wants_write() {
                conn.write_out().map_err(ConnectError::Io)?;
            } else if conn.tls.wants_read() {
                let n = conn
                    .tls
                    .read_tls(&mut conn.sock)
                    .map_err(ConnectError::Io)?;
                if n == 0 {
                    return Err(ConnectError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed during the TLS handshake",
                    )));
                }
                if let Err(e) = conn.tls.process_new_packets() {
                    // Tell the server why (the alert rustls queued), then give up.
                    let _ = conn.write_out();
                    return Err(ConnectError::Tls(e));
                }
            }
        }
        conn.write_out().map_err(ConnectError::Io)?;
        conn.sock.set_read_timeout(None).map_err(ConnectError::Io)?;
        Ok(conn)
    }
}

impl Redelivery for TlsSink {
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

/// `at`, but no later than `deadline`.
fn clamp(at: Instant, deadline: Option<Instant>) -> Instant {
    deadline.map_or(at, |d| at.min(d))
}

enum ConnectError {
    /// Network trouble: retried.
    Io(io::Error),
    /// The collector answered but TLS failed (certificate, name, protocol).
    Tls(rustls::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Io(e) => write!(f, "cannot connect: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS error: {e}"),
        }
    }
}

/// One established connection.
struct Conn {
    tls: ClientConnection,
    sock: TcpStream,
}

impl Conn {
    /// Waits up to `wait` for what the collector says right after the handshake: a TLS
    /// alert (client certificate refused) is an error.
    fn probe(&mut self, wait: Duration) -> Result<(), ConnectError> {
        self.sock
            .set_read_timeout(Some(wait))
            .map_err(ConnectError::Io)?;
        let res = match self.tls.read_tls(&mut self.sock) {
            Ok(0) => Err(ConnectError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the collector closed the connection after the handshake",
            ))),
            Ok(_) => match self.tls.process_new_packets() {
                Ok(state) => {
                    let unread = state.plaintext_bytes_to_read() as u64;
                    let _ = io::copy(&mut self.tls.reader().take(unread), &mut io::sink());
                    Ok(())
                }
                Err(e) => Err(ConnectError::Tls(e)),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(ConnectError::Io(e)),
        };
        self.sock.set_read_timeout(None).map_err(ConnectError::Io)?;
        res
    }

    /// Writes `data` and waits until the kernel took all of it.
    fn send(&mut self, mut data: &[u8], timeout: Duration) -> io::Result<()> {
        self.sock.set_write_timeout(Some(timeout))?;
        while !data.is_empty() {
            let n = self.tls.writer().write(data)?;
            data = data.get(n..).unwrap_or_default();
            if n == 0 && !self.tls.wants_write() {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.write_out()?;
        }
        self.write_out()
    }

    /// Pushes rustls' pending records to the socket.
    fn write_out(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.sock)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Reads whatever the collector sent without waiting: session tickets are taken,
    /// application data is discarded, and a close_notify, EOF or error means the
    /// connection is over.
    fn check_open(&mut self) -> Result<(), String> {
        self.sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let res = self.read_available();
        self.sock
            .set_nonblocking(false)
            .map_err(|e| e.to_string())?;
        res
    }

    fn read_available(&mut self) -> Result<(), String> {
        loop {
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err("the collector closed the connection".into()),
                Ok(_) => {
                    let state = self
                        .tls
                        .process_new_packets()
                        .map_err(|e| format!("TLS error: {e}"))?;
                    let unread = state.plaintext_bytes_to_read() as u64;
                    let _ = io::copy(&mut self.tls.reader().take(unread), &mut io::sink());
                    if state.peer_has_closed() {
                        return Err("the collector closed the connection".into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("connection lost: {e}")),
            }
        }
    }
}

fn client_config(t: &TlsTarget) -> Result<Arc<ClientConfig>, String> {
    let ca_path = match &t.ca {
        Some(p) => p.clone(),
        None => system_ca_file()?,
    };
    let mut roots = RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(load_certs(&ca_path)?);
    if added == 0 {
        return Err(format!("{}: no usable CA certificate", ca_path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match &t.client_auth {
        Some((cert, key)) => {
            let chain = load_certs(cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn system_ca_file() -> Result<PathBuf, String> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(SYSTEM_CA_FILES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no system CA bundle ({}); give one with --tls-ca",
                SYSTEM_CA_FILES.join(", ")
            )
        })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
