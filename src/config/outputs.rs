//! The network outputs' settings: `-o tls://`, `redis://`, `kafka://` URLs with their
//! options checked into the targets the sinks open. Pure: text and tables in, a target
//! or a message saying what is wrong out.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use super::{RedisEnv, RedisFileConfig, TlsOverrides, parse_size};
use crate::output::kafka::{self, KafkaTarget};
use crate::output::redis::{self, RedisTarget, Trim};
use crate::output::tls::{self, TlsTarget};

/// `tls://HOST:PORT` (IPv6 as `[::1]:PORT`) and the `--tls-*` options.
pub(super) fn tls_target(url: &str, o: TlsOverrides) -> anyhow::Result<TlsTarget> {
    let rest = url.strip_prefix("tls://").unwrap_or(url);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let Some((host, port)) = rest.rsplit_once(':') else {
        bail!("expected tls://HOST:PORT");
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['/', '@', '[', ']']) {
        bail!("bad host {host:?} (expected tls://HOST:PORT)");
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .with_context(|| format!("bad port {port:?}"))?;
    let client_auth = match (o.cert, o.key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let buffer_bytes = match o.buffer {
        Some(s) => parse_size(&s).with_context(|| format!("--tls-buffer {s:?}"))?,
        None => tls::DEFAULT_BUFFER_BYTES,
    };
    Ok(TlsTarget {
        host: host.to_owned(),
        port,
        server_name: o.server_name.unwrap_or_else(|| host.to_owned()),
        ca: o.ca,
        client_auth,
        buffer_bytes,
    })
}

/// `redis://HOST[:PORT]/STREAM` or `rediss://…` (IPv6 as `[::1]`), with the `[redis]`
/// settings and the credentials from the environment over the file's.
pub(super) fn redis_target(
    url: &str,
    f: &RedisFileConfig,
    env: RedisEnv,
) -> anyhow::Result<RedisTarget> {
    let (tls, rest) = match url.strip_prefix("rediss://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("redis://").unwrap_or(url)),
    };
    const SHAPE: &str = "expected redis://HOST:PORT/STREAM";
    let Some((authority, stream)) = rest.split_once('/') else {
        bail!("no stream name ({SHAPE})");
    };
    if authority.contains('@') {
        bail!(
            "credentials do not go in the URL, where the process list shows them: set \
             [redis] username/password in the config file or {} / {}",
            redis::USERNAME_ENV,
            redis::PASSWORD_ENV
        );
    }
    if stream.is_empty() {
        bail!("empty stream name ({SHAPE})");
    }
    if stream.contains(|c: char| c.is_control() || c.is_whitespace() || c == '?' || c == '#') {
        bail!("bad stream name {stream:?}: no spaces, control characters, '?' or '#'");
    }
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(['/', '[', ']']) {
        bail!("bad host {host:?} ({SHAPE})");
    }
    let port: u16 = match port {
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .with_context(|| format!("bad port {p:?}"))?,
        None => redis::DEFAULT_PORT,
    };
    if !tls && (f.ca.is_some() || f.cert.is_some() || f.key.is_some()) {
        bail!("[redis] ca, cert and key need rediss:// (Redis over TLS)");
    }
    let client_auth = match (&f.cert, &f.key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => bail!("[redis] cert and key go together"),
    };
    let maxlen = f.stream_maxlen.unwrap_or(redis::DEFAULT_MAXLEN);
    let trim = match (maxlen, f.stream_trim_exact.unwrap_or(false)) {
        (0, _) => Trim::None,
        (n, false) => Trim::Approx(n),
        (n, true) => Trim::Exact(n),
    };
    let field = f
        .field
        .clone()
        .unwrap_or_else(|| redis::DEFAULT_FIELD.to_owned());
    if field.is_empty() {
        bail!("[redis] field must not be empty");
    }
    let buffer_bytes = match &f.buffer {
        Some(s) => parse_size(s).with_context(|| format!("[redis] buffer {s:?}"))?,
        None => redis::DEFAULT_BUFFER_BYTES,
    };
    let password = env.password.or_else(|| f.password.clone());
    let username = env.username.or_else(|| f.username.clone());
    if username.is_some() && password.is_none() {
        bail!(
            "a Redis username needs a password ([redis] password or {})",
            redis::PASSWORD_ENV
        );
    }
    Ok(RedisTarget {
        host: host.to_owned(),
        port,
        stream: stream.to_owned(),
        tls,
        ca: f.ca.clone(),
        client_auth,
        username,
        password,
        trim,
        field,
        buffer_bytes,
    })
}

/// `kafka://BROKER[,BROKER…]/TOPIC` (IPv6 brokers as `[::1]:9092`), the `[kafka]`
/// properties and `--kafka-buffer`.
pub(super) fn kafka_target(
    url: &str,
    properties: BTreeMap<String, String>,
    buffer: Option<&str>,
) -> anyhow::Result<KafkaTarget> {
    const FORM: &str = "expected kafka://BROKER:PORT[,BROKER:PORT...]/TOPIC";
    let rest = url.strip_prefix("kafka://").unwrap_or(url);
    let Some((brokers, topic)) = rest.split_once('/') else {
        bail!("no topic ({FORM})");
    };
    let mut list = Vec::new();
    for broker in brokers.split(',') {
        let Some((host, port)) = broker.rsplit_once(':') else {
            bail!("broker {broker:?} has no port ({FORM})");
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() || bare.contains(['/', '@', '[', ']', ' ']) {
            bail!("bad broker host {host:?} ({FORM})");
        }
        if port.parse::<u16>().ok().filter(|p| *p != 0).is_none() {
            bail!("bad port {port:?} of broker {broker:?}");
        }
        list.push(broker.to_owned());
    }
    // Kafka's own rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty()
        || topic.len() > 249
        || !topic.chars().all(valid)
        || topic == "."
        || topic == ".."
    {
        bail!("bad topic {topic:?} (1 to 249 letters, digits, '.', '_' or '-')");
    }
    if properties.contains_key("bootstrap.servers") {
        bail!("[kafka] bootstrap.servers: the brokers come from -o kafka://BROKERS/TOPIC");
    }
    let buffer_bytes = match buffer {
        Some(s) => parse_size(s).with_context(|| format!("--kafka-buffer {s:?}"))?,
        None => kafka::DEFAULT_BUFFER_BYTES,
    };
    Ok(KafkaTarget {
        brokers: list,
        topic: topic.to_owned(),
        properties,
        buffer_bytes,
    })
}

/// `redis://user:pass@host/s` as `redis://…@host/s`: a URL that carries a password is
/// refused, and the message that says so must not repeat it.
pub(super) fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// `[kafka]` as librdkafka properties. TOML reads `security.protocol = "SASL_SSL"` as a
/// nested table: nested keys are joined back with dots. Values are strings, numbers or
/// booleans (librdkafka parses them all from text).
pub(super) fn kafka_properties(
    table: Option<&toml::Table>,
) -> anyhow::Result<BTreeMap<String, String>> {
    fn walk(
        prefix: &str,
        table: &toml::Table,
        out: &mut BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let text = match v {
                toml::Value::Table(t) => {
                    walk(&key, t, out)?;
                    continue;
                }
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "[kafka] {key}: {} is not a property value",
                    other.type_str()
                ),
            };
            out.insert(key, text);
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    if let Some(t) = table {
        walk("", t, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::{Overrides, RuntimeConfig};

    #[test]
    fn tls_urls() {
        let t = tls_target("tls://collector.example:6514", TlsOverrides::default()).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("collector.example", 6514));
        assert_eq!(t.server_name, "collector.example");
        assert_eq!(t.buffer_bytes, tls::DEFAULT_BUFFER_BYTES);
        let t = tls_target(
            "tls://[::1]:7000",
            TlsOverrides {
                server_name: Some("localhost".into()),
                buffer: Some("1M".into()),
                ..TlsOverrides::default()
            },
        )
        .unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 7000));
        assert_eq!(t.server_name, "localhost");
        assert_eq!(t.buffer_bytes, 1 << 20);
        for bad in ["tls://host", "tls://host:0", "tls://:80", "tls://h:99999"] {
            assert!(tls_target(bad, TlsOverrides::default()).is_err(), "{bad}");
        }
        let half = TlsOverrides {
            cert: Some("c.pem".into()),
            ..TlsOverrides::default()
        };
        assert!(tls_target("tls://h:1", half).is_err());
    }

    #[test]
    fn redis_urls() {
        let f = RedisFileConfig::default();
        let t = redis_target("redis://10.0.0.5:6380/c2tap", &f, RedisEnv::default()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.stream.as_str()),
            ("10.0.0.5", 6380, "c2tap")
        );
        assert!(!t.tls);
        assert_eq!(t.trim, Trim::Approx(redis::DEFAULT_MAXLEN));
        assert_eq!(t.field, "eve");
        assert_eq!(t.buffer_bytes, redis::DEFAULT_BUFFER_BYTES);
        let t = redis_target("rediss://[::1]/sensors:edge", &f, RedisEnv::default()).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.stream.as_str()),
            ("::1", 6379, "sensors:edge")
        );
        assert!(t.tls);
        assert_eq!(t.endpoint(), "rediss://[::1]:6379/sensors:edge");
        for bad in [
            "redis://host",
            "redis://host:6379/",
            "redis://host:0/s",
            "redis://:6379/s",
            "redis://h:99999/s",
            "redis://h/a b",
            "redis://h/s?db=1",
        ] {
            assert!(redis_target(bad, &f, RedisEnv::default()).is_err(), "{bad}");
        }
        let err = redis_target("redis://u:hunter2@h/s", &f, RedisEnv::default()).unwrap_err();
        assert!(err.to_string().contains("C2TAP_REDIS_PASSWORD"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // Nor does the context that names the -o value.
        let err = RuntimeConfig::load(Overrides {
            output: Some("redis://u:hunter2@h:1/s".into()),
            ..Overrides::default()
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("redis://…@h:1/s"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
        // Nor is a password taken from --set.
        let err = RuntimeConfig::load(Overrides {
            output: Some("redis://h:1/s".into()),
            sets: vec!["redis.password=hunter2".into()],
            ..Overrides::default()
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("never a flag"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn kafka_urls() {
        let t = kafka_target(
            "kafka://k1:9092,[::1]:9093/c2tap.events",
            BTreeMap::new(),
            None,
        )
        .unwrap();
        assert_eq!(t.brokers, ["k1:9092", "[::1]:9093"]);
        assert_eq!(t.topic, "c2tap.events");
        assert_eq!(t.buffer_bytes, kafka::DEFAULT_BUFFER_BYTES);
        let t = kafka_target("kafka://k1:9092/t", BTreeMap::new(), Some("8M")).unwrap();
        assert_eq!(t.buffer_bytes, 8 << 20);
        for bad in [
            "kafka://k1:9092",
            "kafka://k1:9092/",
            "kafka://k1/t",
            "kafka://k1:0/t",
            "kafka://:9092/t",
            "kafka://k1:9092,/t",
            "kafka://k1:9092/a b",
            "kafka://k1:9092/a/b",
        ] {
            assert!(kafka_target(bad, BTreeMap::new(), None).is_err(), "{bad}");
        }
        let servers = BTreeMap::from([("bootstrap.servers".into(), "x:1".into())]);
        assert!(kafka_target("kafka://k1:9092/t", servers, None).is_err());
    }
}
