//! Configuration: the TOML file (`-c/--config`) and the command-line flags become one
//! validated [`RuntimeConfig`]. Flags win over the file; the file wins over defaults.
//! Unknown keys are refused (`deny_unknown_fields`): a typo must not silently do nothing.
//!
//! Two stages, as in ripgrep: raw values ([`FileConfig`], [`Overrides`]) are checked
//! once here; everything after works with a config that cannot be wrong.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::analyze::allow::AllowList;
use crate::analyze::beacon::TrackerConfig;
use crate::analyze::dns_tunnel::TunnelConfig;
use crate::analyze::stage::AnalyticsConfig;
use crate::output::redis::{self, Password};
use crate::output::{OutputTarget, Rotation};
use crate::time::Duration;

mod outputs;

use outputs::{kafka_properties, kafka_target, redis_target, tls_target, without_userinfo};

/// Which events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EventsMode {
    /// Only events that matched a rule (and SensorState).
    Alerts,
    /// Every event; matched ones carry their alerts.
    All,
}

/// Defaults, each with its reason.
pub mod defaults {
    /// A DNS query unanswered after 5 s of packet time is reported as `1460` (no
    /// response): resolvers give up and retry around then (glibc's default timeout).
    pub const DNS_TIMEOUT_MS: u64 = 5_000;
    /// libpcap's largest snaplen: the whole frame, as tcpdump -s 0.
    pub const SNAPLEN: i32 = 262_144;
    /// Kernel ring of 64 MiB: about 130 ms of a saturated 1 Gbit/s link, enough to ride
    /// out a worker pause without kernel drops.
    pub const BUFFER_MIB: i32 = 64;
    /// Keep this many rotated files by default.
    pub const ROTATE_KEEP: u32 = 5;
}

/// The TOML file, as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub sensor_name: Option<String>,
    pub workers: Option<usize>,
    pub events: Option<EventsMode>,
    pub output: Option<String>,
    pub rotate_size: Option<String>,
    pub rotate_keep: Option<u32>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub tls_buffer: Option<String>,
    pub kafka_buffer: Option<String>,
    /// `[kafka]`: librdkafka properties for `-o kafka://…`, passed through verbatim.
    pub kafka: Option<toml::Table>,
    pub rules: Option<Vec<PathBuf>>,
    pub stats_interval: Option<u64>,
    pub dns_timeout_ms: Option<u64>,
    pub flow_table_cap: Option<usize>,
    pub connection_summaries: Option<bool>,
    /// `mappings = false`: alerts without their techniques' `Mappings`.
    pub mappings: Option<bool>,
    #[serde(default)]
    pub live: LiveFileConfig,
    #[serde(default)]
    pub analytics: AnalyticsFileConfig,
    #[serde(default)]
    pub redis: RedisFileConfig,
}

/// `[redis]`: settings of `-o redis://` and `rediss://`. Names follow Suricata 8's
/// eve-log redis options (`stream-maxlen`, `stream-trim-exact`, `username`,
/// `password`) in this file's snake_case. There is no flag for the password: a flag
/// shows in the process list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisFileConfig {
    /// ACL user; `C2TAP_REDIS_USERNAME` wins over it.
    pub username: Option<String>,
    /// `C2TAP_REDIS_PASSWORD` wins over it.
    pub password: Option<Password>,
    /// Entries the stream keeps (XADD MAXLEN); 0: no trimming.
    pub stream_maxlen: Option<u64>,
    /// `MAXLEN =` instead of `MAXLEN ~`.
    pub stream_trim_exact: Option<bool>,
    /// The entry field that holds the line (Suricata: `eve`).
    pub field: Option<String>,
    /// Memory for lines while the server is away (default 64M).
    pub buffer: Option<String>,
    /// `rediss://`: CA bundle (PEM); default the system store.
    pub ca: Option<PathBuf>,
    /// `rediss://`: client certificate chain and key (PEM), together.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The credentials from the environment (`C2TAP_REDIS_USERNAME`, `C2TAP_REDIS_PASSWORD`),
/// read once at load; a parameter of [`redis_target`] so that tests need no process
/// environment.
#[derive(Debug, Default, Clone)]
pub struct RedisEnv {
    pub username: Option<String>,
    pub password: Option<Password>,
}

impl RedisEnv {
    fn read() -> RedisEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        RedisEnv {
            username: var(redis::USERNAME_ENV),
            password: var(redis::PASSWORD_ENV).map(Password),
        }
    }
}

/// `[analytics]`: behavioural detection (beacons, DNS tunnels).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsFileConfig {
    pub beacons: Option<bool>,
    pub beacon_window: Option<u64>,
    pub beacon_alert_score: Option<f64>,
    pub beacon_max_pairs: Option<usize>,
    pub exchange_gap: Option<f64>,
    pub long_connection_after: Option<u64>,
    pub long_connection_max_bytes: Option<u64>,
    pub dns_tunnels: Option<bool>,
    pub dns_tunnel_window: Option<u64>,
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveFileConfig {
    pub interface: Option<String>,
    pub filter: Option<String>,
    pub snaplen: Option<i32>,
    pub buffer_mib: Option<i32>,
    pub promiscuous: Option<bool>,
}

/// Values given on the command line (all optional; `None` = not given).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub workers: Option<usize>,
    pub events: Option<EventsMode>,
    pub output: Option<String>,
    pub rotate_size: Option<String>,
    pub rotate_keep: Option<u32>,
    pub tls: TlsOverrides,
    /// `--kafka-buffer`.
    pub kafka_buffer: Option<String>,
    pub rules: Vec<PathBuf>,
    pub stats_interval: Option<u64>,
    pub sensor_name: Option<String>,
    pub interface: Option<String>,
    pub filter: Option<String>,
    pub snaplen: Option<i32>,
    pub buffer_mib: Option<i32>,
    pub no_promiscuous: bool,
    pub no_connection_summaries: bool,
    pub no_analytics: bool,
    pub no_mappings: bool,
    /// `--set KEY=VALUE`: any key of the config file, applied over it
    /// (`analytics.beacon_window=3600`).
    pub sets: Vec<String>,
}

/// `--tls-*` flags.
#[derive(Debug, Default, Clone)]
pub struct TlsOverrides {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub server_name: Option<String>,
    pub buffer: Option<String>,
}

/// The validated configuration every other module reads.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub sensor_name: Arc<str>,
    pub workers: usize,
    pub events: EventsMode,
    pub output: OutputTarget,
    /// Empty: the built-in rule set.
    pub rules: Vec<PathBuf>,
    /// Seconds between periodic SensorState events; `None`: only at start and stop.
    pub stats_interval: Option<u64>,
    pub dns_timeout_ms: u64,
    /// Flows per worker; `None`: the flow module's default.
    pub flow_table_cap: Option<usize>,
    /// A ConnectionEnd event (EventID 101) for every flow.
    pub connection_summaries: bool,
    /// Behavioural detection.
    pub analytics: AnalyticsConfig,
    /// Alerts carry their techniques' mappings (VERIS, NIST 800-53, cloud).
    pub mappings: bool,
    pub live: LiveSettings,
}

#[derive(Clone, Debug)]
pub struct LiveSettings {
    pub interface: Option<String>,
    pub filter: Option<String>,
    pub snaplen: i32,
    pub buffer_bytes: i32,
    pub promiscuous: bool,
}

/// Workers when none is asked for: every core but the one the capture thread uses.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// Most workers c2tap accepts: more than this is a typo, not a machine.
const MAX_WORKERS: usize = 256;

impl RuntimeConfig {
    /// Reads the file (if any) and applies the flags. Errors here are usage errors
    /// (exit status 2).
    pub fn load(o: Overrides) -> anyhow::Result<RuntimeConfig> {
        // Checked before the file is read, so that no message repeats the value.
        if o.sets.iter().any(|set| {
            set.split_once('=')
                .is_some_and(|(key, _)| key.trim() == "redis.password")
        }) {
            bail!(
                "--set redis.password: the Redis password is never a flag (the process list \
                 shows flags); use [redis] password in the config file or {}",
                redis::PASSWORD_ENV
            );
        }
        let file = read_file(o.config.as_deref(), &o.sets)?;
        let workers = o.workers.or(file.workers).unwrap_or_else(default_workers);
        if workers == 0 || workers > MAX_WORKERS {
            bail!("--workers must be between 1 and {MAX_WORKERS}, not {workers}");
        }
        let rotate_size = o.rotate_size.or(file.rotate_size);
        let rotate = match rotate_size {
            Some(s) => Some(Rotation {
                max_bytes: parse_size(&s).with_context(|| format!("--rotate-size {s:?}"))?,
                keep: o
                    .rotate_keep
                    .or(file.rotate_keep)
                    .unwrap_or(defaults::ROTATE_KEEP),
            }),
            None => None,
        };
        let tls = TlsOverrides {
            ca: o.tls.ca.or(file.tls_ca),
            cert: o.tls.cert.or(file.tls_cert),
            key: o.tls.key.or(file.tls_key),
            server_name: o.tls.server_name.or(file.tls_server_name),
            buffer: o.tls.buffer.or(file.tls_buffer),
        };
        let output_arg = o.output.or(file.output);
        let is_tls = output_arg
            .as_deref()
            .is_some_and(|s| s.starts_with("tls://"));
        if !is_tls
            && (tls.ca.is_some()
                || tls.cert.is_some()
                || tls.key.is_some()
                || tls.server_name.is_some()
                || tls.buffer.is_some())
        {
            bail!(
                "the --tls-* options need -o tls://HOST:PORT (rediss:// takes its \
                 certificates from [redis] ca, cert and key)"
            );
        }
        let kafka_buffer = o.kafka_buffer.or(file.kafka_buffer);
        let is_kafka = output_arg
            .as_deref()
            .is_some_and(|s| s.starts_with("kafka://"));
        if !is_kafka && (kafka_buffer.is_some() || file.kafka.is_some()) {
            bail!("--kafka-buffer and [kafka] need -o kafka://BROKER[,BROKER...]/TOPIC");
        }
        let output = match output_arg.as_deref() {
            None | Some("-") => {
                if rotate.is_some() {
                    bail!("--rotate-size needs -o FILE");
                }
                OutputTarget::Stdout
            }
            Some(s) if s.starts_with("tls://") => {
                if rotate.is_some() {
                    bail!("--rotate-size needs -o FILE, not {s}");
                }
                OutputTarget::Tls(tls_target(s, tls).with_context(|| format!("-o {s}"))?)
            }
            Some(s) if s.starts_with("redis://") || s.starts_with("rediss://") => {
                if rotate.is_some() {
                    bail!("--rotate-size needs -o FILE, not {s}");
                }
                OutputTarget::Redis(
                    redis_target(s, &file.redis, RedisEnv::read())
                        .with_context(|| format!("-o {}", without_userinfo(s)))?,
                )
            }
            Some(s) if s.starts_with("kafka://") => {
                if rotate.is_some() {
                    bail!("--rotate-size needs -o FILE, not {s}");
                }
                let properties = kafka_properties(file.kafka.as_ref())?;
                OutputTarget::Kafka(
                    kafka_target(s, properties, kafka_buffer.as_deref())
                        .with_context(|| format!("-o {s}"))?,
                )
            }
            Some(path) => OutputTarget::File {
                path: PathBuf::from(path),
                rotate,
            },
        };
        let snaplen = o.snaplen.or(file.live.snaplen).unwrap_or(defaults::SNAPLEN);
        if !(64..=262_144).contains(&snaplen) {
            bail!("--snaplen must be between 64 and 262144, not {snaplen}");
        }
        let buffer_mib = o
            .buffer_mib
            .or(file.live.buffer_mib)
            .unwrap_or(defaults::BUFFER_MIB);
        if !(1..=2047).contains(&buffer_mib) {
            bail!("--buffer-mib must be between 1 and 2047, not {buffer_mib}");
        }
        let stats_interval = o.stats_interval.or(file.stats_interval).filter(|s| *s > 0);
        let sensor_name = o.sensor_name.or(file.sensor_name).unwrap_or_else(hostname);
        let rules = if o.rules.is_empty() {
            file.rules.unwrap_or_default()
        } else {
            o.rules
        };
        Ok(RuntimeConfig {
            sensor_name: sensor_name.into(),
            workers,
            events: o.events.or(file.events).unwrap_or(EventsMode::Alerts),
            output,
            rules,
            stats_interval,
            dns_timeout_ms: file.dns_timeout_ms.unwrap_or(defaults::DNS_TIMEOUT_MS),
            flow_table_cap: file.flow_table_cap,
            connection_summaries: !o.no_connection_summaries
                && file.connection_summaries.unwrap_or(true),
            analytics: analytics_config(&file.analytics, o.no_analytics)?,
            mappings: !o.no_mappings && file.mappings.unwrap_or(true),
            live: LiveSettings {
                interface: o.interface.or(file.live.interface),
                filter: o.filter.or(file.live.filter),
                snaplen,
                buffer_bytes: buffer_mib.saturating_mul(1 << 20),
                promiscuous: !o.no_promiscuous && file.live.promiscuous.unwrap_or(true),
            },
        })
    }
}

/// `[analytics]` validated: windows of at least a minute, a score in (0, 1], an
/// allow-list whose every entry parses.
fn analytics_config(f: &AnalyticsFileConfig, off: bool) -> anyhow::Result<AnalyticsConfig> {
    let allow = AllowList::parse(f.allow.iter().flatten().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("[analytics] {e}"))?;
    let window = |secs: Option<u64>, what: &str| -> anyhow::Result<Option<Duration>> {
        match secs {
            Some(s) if !(60..=30 * 86_400).contains(&s) => {
                bail!("[analytics] {what} must be between 60 and 2592000 seconds, not {s}")
            }
            Some(s) => Ok(Some(Duration::from_secs(s as i64))),
            None => Ok(None),
        }
    };
    let beacon_window = window(f.beacon_window, "beacon_window")?;
    let tunnel_window = window(f.dns_tunnel_window, "dns_tunnel_window")?;
    if let Some(score) = f.beacon_alert_score
        && !(score > 0.0 && score <= 1.0)
    {
        bail!("[analytics] beacon_alert_score must be in (0, 1], not {score}");
    }
    let exchange_gap = match f.exchange_gap {
        Some(s) if !(0.1..=3600.0).contains(&s) => {
            bail!("[analytics] exchange_gap must be between 0.1 and 3600 seconds, not {s}")
        }
        Some(s) => Some(Duration::from_millis((s * 1000.0).round() as i64)),
        None => None,
    };
    let long_after = window(f.long_connection_after, "long_connection_after")?;
    let beacons = (!off && f.beacons.unwrap_or(true)).then(|| {
        let mut t = TrackerConfig::default();
        if let Some(w) = beacon_window {
            t.window = w;
        }
        if let Some(score) = f.beacon_alert_score {
            t.alert_score = score;
        }
        if let Some(n) = f.beacon_max_pairs {
            t.max_pairs = n;
        }
        if let Some(gap) = exchange_gap {
            t.exchange_gap = gap;
        }
        if let Some(after) = long_after {
            t.long_connection_after = after;
        }
        if let Some(bytes) = f.long_connection_max_bytes {
            t.long_connection_max_bytes = bytes;
        }
        t
    });
    let dns_tunnels = (!off && f.dns_tunnels.unwrap_or(true)).then(|| {
        let mut t = TunnelConfig::default();
        if let Some(w) = tunnel_window {
            t.window = w;
        }
        t
    });
    Ok(AnalyticsConfig {
        beacons,
        dns_tunnels,
        allow,
    })
}

/// The config file (none: every key at its default) with the `--set` values over it.
fn read_file(path: Option<&Path>, sets: &[String]) -> anyhow::Result<FileConfig> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("config {}", path.display()))?
        }
        None => toml::Table::new(),
    };
    for set in sets {
        apply_set(&mut table, set).with_context(|| format!("--set {set}"))?;
    }
    let what = match (path, sets.is_empty()) {
        (Some(p), true) => format!("config {}", p.display()),
        (Some(p), false) => format!("config {} with --set", p.display()),
        (None, _) => "--set".to_string(),
    };
    toml::Value::Table(table).try_into().context(what)
}

/// `KEY=VALUE` into the table: KEY is a dotted path (`analytics.allow`), VALUE a TOML
/// value (`3600`, `0.8`, `true`, `["*.example.com"]`) or else a bare string.
fn apply_set(table: &mut toml::Table, set: &str) -> anyhow::Result<()> {
    let Some((key, value)) = set.split_once('=') else {
        bail!("expected KEY=VALUE");
    };
    let value = value.trim();
    let value = match format!("v = {value}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or(toml::Value::String(value.to_string())),
        Err(_) => toml::Value::String(value.to_string()),
    };
    let mut parts = key.trim().split('.').peekable();
    let mut at = table;
    while let Some(part) = parts.next() {
        if part.is_empty() {
            bail!("empty part in key {key:?}");
        }
        if parts.peek().is_none() {
            at.insert(part.to_string(), value);
            return Ok(());
        }
        let next = at
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = next else {
            bail!("{part} is not a section");
        };
        at = next;
    }
    bail!("empty key")
}

/// `10M`, `512k`, `1G` or plain bytes.
pub fn parse_size(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: u64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                _ => bail!("unknown size suffix {c:?} (use k, M or G)"),
            };
            (&s[..i], mult)
        }
        _ => (s, 1),
    };
    let n: u64 = num.trim().parse().context("not a number")?;
    let bytes = n.checked_mul(mult).context("size too large")?;
    if bytes < 1024 {
        bail!("size must be at least 1k");
    }
    Ok(bytes)
}

/// The sensor's name for the `Computer` field: the host name, as Sysmon reports it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "c2tap".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::redis::Trim;

    #[test]
    fn set_values_go_over_the_file() {
        let mut t: toml::Table = "workers = 2\n[analytics]\nbeacons = false\n"
            .parse()
            .unwrap();
        apply_set(&mut t, "analytics.beacon_window=3600").unwrap();
        apply_set(
            &mut t,
            "analytics.allow=[\"*.example.com\", \"10.0.0.0/8\"]",
        )
        .unwrap();
        apply_set(&mut t, "sensor_name = edge one").unwrap();
        apply_set(&mut t, "live.filter=tcp port 443").unwrap();
        let f: FileConfig = toml::Value::Table(t.clone()).try_into().unwrap();
        assert_eq!(f.workers, Some(2));
        assert_eq!(f.analytics.beacons, Some(false));
        assert_eq!(f.analytics.beacon_window, Some(3600));
        assert_eq!(f.analytics.allow.unwrap(), ["*.example.com", "10.0.0.0/8"]);
        // A value that is no TOML value is a string.
        assert_eq!(f.sensor_name.as_deref(), Some("edge one"));
        assert_eq!(f.live.filter.as_deref(), Some("tcp port 443"));
        assert!(apply_set(&mut t, "workers.x=1").is_err(), "not a section");
        assert!(apply_set(&mut t, "analytics..x=1").is_err());
        assert!(apply_set(&mut t, "workers").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10M").unwrap(), 10 << 20);
        assert_eq!(parse_size("2048").unwrap(), 2048);
        assert!(parse_size("10X").is_err());
        assert!(parse_size("12").is_err());
    }

    #[test]
    fn tls_options_need_a_tls_output() {
        let err = RuntimeConfig::load(Overrides {
            output: Some("events.json".into()),
            tls: TlsOverrides {
                ca: Some("ca.pem".into()),
                ..TlsOverrides::default()
            },
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("tls://"), "{err}");
    }

    #[test]
    fn tls_keys_in_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "output = \"tls://10.0.0.5:6514\"\ntls_ca = \"/etc/c2tap/ca.pem\"\n\
             tls_server_name = \"collector\"\ntls_buffer = \"16M\"\n",
        )
        .unwrap();
        let cfg = RuntimeConfig::load(Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .unwrap();
        let OutputTarget::Tls(t) = cfg.output else {
            panic!("not a TLS output: {:?}", cfg.output)
        };
        assert_eq!(t.endpoint(), "10.0.0.5:6514");
        assert_eq!(t.server_name, "collector");
        assert_eq!(t.ca, Some(PathBuf::from("/etc/c2tap/ca.pem")));
        assert_eq!(t.buffer_bytes, 16 << 20);
    }

    #[test]
    fn redis_settings_and_credentials() {
        let f: FileConfig = toml::from_str(
            "[redis]\nusername = \"sensor\"\npassword = \"from-file\"\n\
             stream_maxlen = 5000\nstream_trim_exact = true\nfield = \"event\"\n\
             buffer = \"16M\"\n",
        )
        .unwrap();
        let t = redis_target("redis://h/s", &f.redis, RedisEnv::default()).unwrap();
        assert_eq!(t.trim, Trim::Exact(5000));
        assert_eq!(t.field, "event");
        assert_eq!(t.buffer_bytes, 16 << 20);
        assert_eq!(t.username.as_deref(), Some("sensor"));
        assert_eq!(t.password, Some(Password("from-file".into())));
        // The environment wins over the file.
        let env = RedisEnv {
            username: None,
            password: Some(Password("from-env".into())),
        };
        let t = redis_target("redis://h/s", &f.redis, env).unwrap();
        assert_eq!(t.password, Some(Password("from-env".into())));
        // The file's Debug form (and so the config's) never shows the password.
        assert!(!format!("{f:?}").contains("from-file"));
        let off = RedisFileConfig {
            stream_maxlen: Some(0),
            ..RedisFileConfig::default()
        };
        let t = redis_target("redis://h/s", &off, RedisEnv::default()).unwrap();
        assert_eq!(t.trim, Trim::None);
        let tls_only = RedisFileConfig {
            ca: Some("ca.pem".into()),
            ..RedisFileConfig::default()
        };
        assert!(redis_target("redis://h/s", &tls_only, RedisEnv::default()).is_err());
        assert!(redis_target("rediss://h/s", &tls_only, RedisEnv::default()).is_ok());
        let user_only = RedisFileConfig {
            username: Some("sensor".into()),
            ..RedisFileConfig::default()
        };
        assert!(redis_target("redis://h/s", &user_only, RedisEnv::default()).is_err());
    }

    #[test]
    fn kafka_table_in_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "output = \"kafka://k1:9092,k2:9092/c2tap\"\nkafka_buffer = \"16M\"\n\
             [kafka]\nsecurity.protocol = \"SASL_SSL\"\n\"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\
             \"linger.ms\" = 50\nenable.idempotence = true\n",
        )
        .unwrap();
        let cfg = RuntimeConfig::load(Overrides {
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .unwrap();
        let OutputTarget::Kafka(t) = cfg.output else {
            panic!("not a Kafka output: {:?}", cfg.output)
        };
        assert_eq!(t.buffer_bytes, 16 << 20);
        let props: Vec<(&str, &str)> = t
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            props,
            [
                ("enable.idempotence", "true"),
                ("linger.ms", "50"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("security.protocol", "SASL_SSL"),
            ]
        );
        // [kafka] without a Kafka output is a mistake, not a no-op.
        let err = RuntimeConfig::load(Overrides {
            config: Some(path),
            output: Some("-".into()),
            ..Overrides::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("kafka://"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<FileConfig>("workerz = 3").unwrap_err();
        assert!(err.to_string().contains("workerz"), "{err}");
    }

    #[test]
    fn flags_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "workers = 3\nevents = \"all\"\n[live]\nsnaplen = 1500\n",
        )
        .unwrap();
        let cfg = RuntimeConfig::load(Overrides {
            config: Some(path),
            workers: Some(2),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(cfg.workers, 2);
        assert_eq!(cfg.events, EventsMode::All);
        assert_eq!(cfg.live.snaplen, 1500);
    }
}
