//! `-o kafka://BROKER[,BROKER…]/TOPIC`: one Kafka message per JSON line, through
//! librdkafka (the `rdkafka` crate's `BaseProducer`, polled from the writer thread).
//!
//! Messages: the line without its newline, keyed by the line's `CommunityId` so that one
//! flow's events go to one partition and stay in order there; lines without one
//! (SensorState) have no key and are spread by librdkafka's partitioner.
//!
//! Defaults ([`DEFAULTS`]), each overridable from the config's `[kafka]` table, whose keys
//! are librdkafka properties passed through verbatim: batching (`linger.ms` 100),
//! compression lz4, `acks=all` and `enable.idempotence=true` (a retried batch after a
//! broker restart is neither duplicated nor reordered within a partition), and
//! `message.timeout.ms` of 5 minutes, long enough to ride out a broker restart.
//!
//! Buffer: librdkafka's own queue holds what the brokers have not acknowledged, capped at
//! `--kafka-buffer` (`queue.buffering.max.kbytes`, 64 MiB like `--tls-buffer`). When it is
//! full, a replay waits for room (back-pressure: nothing lost, see [`Fullness`]); a live
//! sensor drops the line and counts it. A message librdkafka finally gives up on (its
//! `message.timeout.ms` passed, the broker refused it) comes back as a failed delivery
//! report and is counted as dropped too: [`KafkaSink::drops`] is `output_drops`.
//!
//! Start: the sink fetches the topic's metadata ([`METADATA_TIMEOUT`]). A property
//! librdkafka does not know, an unknown topic (brokers that do not create topics), a
//! topic or cluster we are not authorized for, failed authentication or a TLS error
//! fail the start as usage errors (exit 2). Brokers that cannot be reached at all are
//! not fatal, as with `-o tls://`: the sink starts, says so once, and librdkafka keeps
//! reconnecting while lines wait in the queue.
//!
//! Delivery is at-least-once: a message counts as delivered when the broker acknowledged
//! it with `acks=all`; at the end [`KafkaSink::close`] waits at most [`SHUTDOWN_FLUSH`]
//! for the rest and counts what is left as dropped.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::types::RDKafkaRespErr;

use super::OutputError;

/// Queue cap while the brokers are away: the same 64 MiB as the TLS output's backlog.
pub const DEFAULT_BUFFER_BYTES: u64 = 64 << 20;
/// librdkafka also caps the queue in messages (default 100000, about 50 MB of our lines);
/// set it high enough that the byte cap is the one that binds: 64 MiB of lines of at
/// least 64 bytes.
pub const MAX_QUEUED_MESSAGES: u64 = 1 << 20;
/// Start: how long to wait for the topic's metadata. A reachable broker answers within
/// milliseconds; past this the brokers are taken as unreachable (not fatal).
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// End of the run: time given to deliver what is queued before it is counted as
/// dropped: a broker restart (seconds) fits, a service manager's stop timeout (90 s) too.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(15);
/// At start, after the metadata request, time to take the client errors it raised.
const ERROR_POLL: Duration = Duration::from_millis(200);
/// Delivery-report events served per write or flush. A poll serves one event (the
/// reports of one batch) and librdkafka frees a message's room in the queue only once its
/// report was served, so the sink serves what is ready, up to this many: more batches
/// than a write produces (a few partitions per `linger.ms`), and a bound on the call.
const SERVE_MAX_EVENTS: usize = 64;
/// A replay whose queue is full polls for delivery reports this long between tries.
const FULL_POLL: Duration = Duration::from_millis(100);
/// Longest a replay waits for room for one line. librdkafka fails messages older than
/// `message.timeout.ms` (5 min by default), which frees room; a queue still full after
/// twice that means the brokers will not take anything, and the line is dropped.
pub const FULL_WAIT_MAX: Duration = Duration::from_secs(600);

/// librdkafka properties set before the `[kafka]` table's (which win).
pub const DEFAULTS: &[(&str, &str)] = &[
    // Batches of up to 100 ms: fewer, larger, better compressed requests.
    ("linger.ms", "100"),
    ("compression.type", "lz4"),
    ("acks", "all"),
    // Retries after a broker restart keep each partition's order and add no duplicate.
    ("enable.idempotence", "true"),
    // A broker restart (or a short outage) passes within 5 minutes.
    ("message.timeout.ms", "300000"),
    // Look for a restarted broker at least every 2 s (librdkafka's default backs off to 10).
    ("reconnect.backoff.max.ms", "2000"),
];

/// `-o kafka://…` and the `[kafka]` table, validated by the config module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaTarget {
    /// `host:port` each, as librdkafka's `bootstrap.servers` takes them.
    pub brokers: Vec<String>,
    pub topic: String,
    /// librdkafka properties from the config, applied over [`DEFAULTS`].
    pub properties: BTreeMap<String, String>,
    /// Queue cap in bytes (`--kafka-buffer`).
    pub buffer_bytes: u64,
}

impl KafkaTarget {
    /// `kafka://b1:9092,b2:9092/topic` for messages.
    pub fn url(&self) -> String {
        format!("kafka://{}/{}", self.brokers.join(","), self.topic)
    }

    /// The producer's configuration: defaults, the queue cap, then the user's properties.
    fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.brokers.join(","));
        for (k, v) in DEFAULTS {
            c.set(*k, *v);
        }
        let kbytes = (self.buffer_bytes / 1024).clamp(1, i32::MAX as u64);
        c.set("queue.buffering.max.kbytes", kbytes.to_string());
        c.set(
            "queue.buffering.max.messages",
            MAX_QUEUED_MESSAGES.to_string(),
        );
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// What a full queue does to a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fullness {
    /// Replay: wait for room (delivery reports free it), up to [`FULL_WAIT_MAX`].
    Wait,
    /// Live: drop the line and count it; the capture must not stall.
    Drop,
}

/// Delivery reports and client errors, filled by librdkafka's callbacks (which run
/// inside our own `poll` calls, on the writer thread).
#[derive(Default)]
struct Reports {
    /// The output's URL, for messages.
    url: String,
    /// `[kafka] debug` was set: show librdkafka's log on stderr.
    verbose: bool,
    /// Every broker is down (reported on stderr once per outage; the recovery too).
    down: AtomicBool,
    delivered: AtomicU64,
    failed: AtomicU64,
    /// The first failure's reason is printed once per outage.
    failure_reported: AtomicBool,
    /// The first client error that retrying will not fix ([`is_setup_error`]), and its
    /// text: later "all brokers down" errors must not hide it.
    setup_error: Mutex<Option<(RDKafkaErrorCode, String)>>,
}

impl ClientContext for Reports {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        // librdkafka logs every reconnect attempt; the sink reports outages itself, and
        // shows the log only when asked to (`[kafka] debug = "broker,msg"`).
        if self.verbose {
            eprintln!("c2tap: librdkafka {fac}: {msg}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown)
            && !self.down.swap(true, Ordering::Relaxed)
        {
            eprintln!(
                "c2tap: kafka output {}: all brokers down ({reason}); lines wait in the \
                 queue, retrying",
                self.url
            );
        }
        if let Some(code) = error.rdkafka_error_code().filter(|c| is_setup_error(*c))
            && let Ok(mut first) = self.setup_error.lock()
            && first.is_none()
        {
            *first = Some((code, reason.to_owned()));
        }
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                if self.down.swap(false, Ordering::Relaxed) {
                    eprintln!("c2tap: kafka output {}: brokers back, delivering", self.url);
                }
                self.failure_reported.store(false, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if !self.failure_reported.swap(true, Ordering::Relaxed) {
                    eprintln!("c2tap: kafka output: a message was not delivered: {e}");
                }
            }
        }
    }
}

pub struct KafkaSink {
    target: KafkaTarget,
    producer: BaseProducer<Reports>,
    fullness: Fullness,
    /// Lines never queued: the queue was full (live), a line too large, a fatal error.
    refused: u64,
    /// The queue-full condition was reported on stderr (once a run: in a replay against
    /// a slower broker it is the normal state).
    full_reported: bool,
}

impl KafkaSink {
    /// Creates the producer and checks the topic. Fails on bad properties, an unknown
    /// topic, refused authentication or TLS errors; brokers that cannot be reached are
    /// retried by librdkafka.
    /// The sink starts lossless ([`Fullness::Wait`]); a live run calls
    /// [`KafkaSink::set_fullness`].
    pub fn open(target: &KafkaTarget) -> Result<KafkaSink, OutputError> {
        let setup = |reason: String| OutputError::Kafka {
            url: target.url(),
            reason,
            usage: true,
        };
        let producer: BaseProducer<Reports> = target
            .client_config()
            .create_with_context(Reports {
                url: target.url(),
                verbose: target.properties.contains_key("debug"),
                ..Reports::default()
            })
            .map_err(|e| setup(client_creation_reason(&e)))?;
        let sink = KafkaSink {
            target: target.clone(),
            producer,
            fullness: Fullness::Wait,
            refused: 0,
            full_reported: false,
        };
        sink.check_topic().map_err(setup)?;
        Ok(sink)
    }

    /// Start-up check: the topic's metadata. `Err` is fatal; unreachable brokers are
    /// reported and tolerated.
    fn check_topic(&self) -> Result<(), String> {
        let topic = self.target.topic.as_str();
        let fetched = self
            .producer
            .client()
            .fetch_metadata(Some(topic), METADATA_TIMEOUT);
        if fetched.is_err() {
            // The start message below reports the outage; librdkafka's "all brokers
            // down" would say it twice.
            self.producer.context().down.store(true, Ordering::Relaxed);
        }
        // Client errors (authentication, TLS) reach the context in a poll, one event a
        // turn: serve what is there.
        self.producer.poll(ERROR_POLL);
        if let Some(reason) = self.fatal_client_error() {
            return Err(reason);
        }
        let metadata = match fetched {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "c2tap: kafka output {}: brokers not reachable ({e}); buffering up to {} \
                     and retrying",
                    self.target.url(),
                    human_size(self.target.buffer_bytes)
                );
                return Ok(());
            }
        };
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(format!(
                "the brokers returned no metadata for topic {topic:?}"
            ));
        };
        match t.error() {
            None => Ok(()),
            Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) => Err(format!(
                "topic {topic:?} does not exist (and the brokers do not create topics \
                 automatically): create it first"
            )),
            Some(code) => Err(format!("topic {topic:?}: {}", RDKafkaErrorCode::from(code))),
        }
    }

    /// A client error that retrying will not fix: authentication refused, TLS failure,
    /// an authorization error, a fatal idempotent-producer error.
    fn fatal_client_error(&self) -> Option<String> {
        if let Some((code, reason)) = self.producer.client().fatal_error() {
            return Some(format!("{code}: {reason}"));
        }
        let first = self.producer.context().setup_error.lock().ok()?.clone();
        first.map(|(code, reason)| format!("{code}: {reason}"))
    }

    pub fn set_fullness(&mut self, fullness: Fullness) {
        self.fullness = fullness;
    }

    /// Queues every line of `bytes` (whole lines) and serves delivery reports.
    pub fn write_lines(&mut self, bytes: &[u8]) {
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            self.send(line);
        }
        self.serve_reports();
    }

    /// Serves the delivery reports that are ready, without waiting.
    fn serve_reports(&self) {
        let reports = |s: &Self| s.delivered() + s.failed();
        for _ in 0..SERVE_MAX_EVENTS {
            let before = reports(self);
            self.producer.poll(Duration::ZERO);
            if reports(self) == before {
                break;
            }
        }
    }

    fn send(&mut self, line: &[u8]) {
        let key = community_id(line);
        let mut waiting_since: Option<Instant> = None;
        loop {
            let mut record = BaseRecord::<[u8], [u8]>::to(&self.target.topic).payload(line);
            if let Some(k) = key {
                record = record.key(k);
            }
            let err = match self.producer.send(record) {
                Ok(()) => return,
                Err((e, _)) => e,
            };
            let full = err.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull);
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if full && self.fullness == Fullness::Wait && since.elapsed() < FULL_WAIT_MAX {
                if !self.full_reported {
                    self.full_reported = true;
                    eprintln!(
                        "c2tap: kafka output {}: {} queued for the brokers; waiting",
                        self.target.url(),
                        human_size(self.target.buffer_bytes)
                    );
                }
                // Delivery reports (or expiries) free room.
                self.producer.poll(FULL_POLL);
                continue;
            }
            self.refused += 1;
            if !(full && self.full_reported) {
                self.full_reported |= full;
                eprintln!(
                    "c2tap: kafka output {}: line dropped: {err}",
                    self.target.url()
                );
            }
            return;
        }
    }

    /// Serves delivery reports without waiting. librdkafka sends on its own threads
    /// (batching by `linger.ms`), so there is nothing to push.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.serve_reports();
        match self.producer.client().fatal_error() {
            Some((code, reason)) => Err(OutputError::Kafka {
                url: self.target.url(),
                reason: format!("{code}: {reason}"),
                usage: false,
            }),
            None => Ok(()),
        }
    }

    /// End of the run: waits up to [`SHUTDOWN_FLUSH`] for every queued line to be
    /// acknowledged; what is left is purged and counted as dropped.
    pub fn close(&mut self) {
        let _ = self.producer.flush(SHUTDOWN_FLUSH);
        let left = self.producer.in_flight_count();
        if left > 0 {
            self.producer
                .purge(PurgeConfig::default().queue().inflight());
            // The purged messages come back as failed delivery reports.
            let _ = self.producer.flush(Duration::from_secs(1));
            eprintln!(
                "c2tap: kafka output {}: {left} queued lines not delivered at shutdown",
                self.target.url()
            );
        }
        // Anything whose report did not come even after the purge is lost as well.
        self.refused += self.producer.in_flight_count().max(0) as u64;
    }

    /// Lines dropped so far: never queued, or finally not delivered.
    pub fn drops(&self) -> u64 {
        self.refused + self.producer.context().failed.load(Ordering::Relaxed)
    }

    /// Lines the brokers acknowledged.
    pub fn delivered(&self) -> u64 {
        self.producer.context().delivered.load(Ordering::Relaxed)
    }

    /// Lines the brokers finally did not take (delivery reports with an error).
    pub fn failed(&self) -> u64 {
        self.producer.context().failed.load(Ordering::Relaxed)
    }
}

/// Client errors that retrying will not fix: refused authentication, TLS failures,
/// missing authorization.
fn is_setup_error(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as E;
    matches!(
        code,
        E::Authentication
            | E::SaslAuthenticationFailed
            | E::SSL
            | E::ClusterAuthorizationFailed
            | E::TopicAuthorizationFailed
            | E::UnsupportedSASLMechanism
            | E::IllegalSASLState
    )
}

/// The text of a producer that could not be created: librdkafka names the property.
fn client_creation_reason(e: &KafkaError) -> String {
    match e {
        KafkaError::ClientConfig(_, desc, key, value) => {
            format!("property {key} = {value:?}: {desc}")
        }
        other => other.to_string(),
    }
}

/// `64 MiB`, `8 KiB`, `1500 bytes`: for messages.
fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The value of the line's `CommunityId` field, the message key. Lines are c2tap's own
/// serialization: the field is top-level, its value a plain string (`1:…=`, no escapes).
pub fn community_id(line: &[u8]) -> Option<&[u8]> {
    const FIELD: &[u8] = b"\"CommunityId\":\"";
    let at = line.windows(FIELD.len()).position(|w| w == FIELD)? + FIELD.len();
    let rest = line.get(at..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    rest.get(..end).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_the_community_id() {
        let line = br#"{"CommunityId":"1:abc+/=","EventID":3}"#;
        assert_eq!(community_id(line), Some(&b"1:abc+/="[..]));
        assert_eq!(community_id(br#"{"EventID":4,"State":"start"}"#), None);
        assert_eq!(community_id(br#"{"CommunityId":""}"#), None);
        assert_eq!(community_id(br#"{"CommunityId":"unterminated"#), None);
    }

    #[test]
    fn properties_go_over_the_defaults() {
        let t = KafkaTarget {
            brokers: vec!["k1:9092".into(), "k2:9092".into()],
            topic: "c2tap".into(),
            properties: BTreeMap::from([("compression.type".into(), "zstd".into())]),
            buffer_bytes: 16 << 20,
        };
        let c = t.client_config();
        assert_eq!(c.get("bootstrap.servers"), Some("k1:9092,k2:9092"));
        assert_eq!(c.get("compression.type"), Some("zstd"));
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("queue.buffering.max.kbytes"), Some("16384"));
        assert_eq!(t.url(), "kafka://k1:9092,k2:9092/c2tap");
    }
}
