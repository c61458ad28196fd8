//! The door through which detection reads an event: [`FieldSource`], implemented for
//! c2tap's [`Event`] and for [`JsonEvent`] (events read from JSON lines by `rules test`,
//! in any of the field namings that [`fields::resolve`] knows).

use std::net::IpAddr;

use crate::event::{Event, Field, FieldValue};

use super::fields::{self, EventKind, FieldKey, Virtual};

/// Anything detection can read fields from.
pub trait FieldSource {
    /// The value of a canonical field, `None` when absent (absent is null).
    fn get(&self, f: Field) -> Option<FieldValue<'_>>;

    /// A field c2tap does not produce, by its normalized name (JSON events only).
    fn get_other(&self, _name: &str) -> Option<FieldValue<'_>> {
        None
    }

    /// The value the source carries under exactly this name (lower-cased), when it
    /// names a field by an alias of another vendor (`cs-uri` beside `c-uri`): JSON
    /// events keep their own values; c2tap's events have only canonical names.
    fn get_named(&self, _lower_name: &str) -> Option<FieldValue<'_>> {
        None
    }

    /// A virtual field given explicitly by the source (a proxy log's own `c-uri-stem`);
    /// when `None`, detection computes it from `HttpUri`.
    fn get_virtual(&self, _v: Virtual) -> Option<FieldValue<'_>> {
        None
    }

    /// The event kind, which routes the event to the rules of that kind.
    fn kind(&self) -> Option<EventKind> {
        match self.get(Field::EventId)? {
            FieldValue::Int(i) => EventKind::from_event_id(i),
            FieldValue::Str(s) => s.trim().parse().ok().and_then(EventKind::from_event_id),
            FieldValue::Ip(_) => None,
        }
    }

    /// Every value of the event, for field-less keyword searches.
    fn for_each_value(&self, f: &mut dyn FnMut(FieldValue<'_>)) {
        for field in Field::ALL {
            if let Some(v) = self.get(*field) {
                f(v);
            }
        }
    }
}

impl FieldSource for Event {
    fn get(&self, f: Field) -> Option<FieldValue<'_>> {
        Event::get(self, f)
    }
}

/// Reads the field a mapped key denotes.
pub fn lookup<'a>(src: &'a dyn FieldSource, key: &FieldKey) -> Option<FieldValue<'a>> {
    match key {
        FieldKey::Event(f) => src.get(*f),
        FieldKey::Virtual(v) => src
            .get_virtual(*v)
            .or_else(|| match src.get(Field::HttpUri)? {
                FieldValue::Str(uri) => v.compute(uri).map(FieldValue::Str),
                _ => None,
            }),
        FieldKey::HostOnly(name) | FieldKey::Unproduced(name) | FieldKey::Other(name) => {
            src.get_other(name)
        }
    }
}

/// An owned JSON value, as detection sees it.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
}

impl Val {
    fn view(&self) -> FieldValue<'_> {
        match self {
            Val::Str(s) => FieldValue::Str(s),
            Val::Int(i) => FieldValue::Int(*i),
        }
    }
}

/// An event read from a JSON object, its keys mapped through the rules' name table.
/// Unknown keys are kept under their literal name, so rules that name them match.
#[derive(Clone, Debug, Default)]
pub struct JsonEvent {
    known: Vec<(Field, Val)>,
    /// Keys that are aliases of event fields, lower-cased, with their own values.
    named: Vec<(String, Val)>,
    virtuals: Vec<(Virtual, Val)>,
    others: Vec<(String, Val)>,
}

impl JsonEvent {
    /// Maps one JSON object. Nested objects are flattened with dots (`dns.question.name`),
    /// arrays of scalars are joined with commas, `null` is absent.
    pub fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> JsonEvent {
        let mut ev = JsonEvent::default();
        ev.add_map("", map, 0);
        ev
    }

    fn add_map(
        &mut self,
        prefix: &str,
        map: &serde_json::Map<String, serde_json::Value>,
        depth: usize,
    ) {
        // Deeper nesting than ECS's few levels is not a field anyone names in a rule.
        const MAX_DEPTH: usize = 8;
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                serde_json::Value::Object(m) if depth < MAX_DEPTH => {
                    self.add_map(&name, m, depth + 1)
                }
                _ => {
                    if let Some(val) = to_val(v) {
                        self.add(&name, val);
                    }
                }
            }
        }
    }

    fn add(&mut self, name: &str, val: Val) {
        match fields::resolve(name) {
            FieldKey::Event(f) => {
                if !name.eq_ignore_ascii_case(f.name()) {
                    self.named.push((name.to_ascii_lowercase(), val.clone()));
                }
                if !self.known.iter().any(|(g, _)| *g == f) {
                    self.known.push((f, val));
                }
            }
            FieldKey::Virtual(v) => self.virtuals.push((v, val)),
            FieldKey::HostOnly(n) | FieldKey::Unproduced(n) | FieldKey::Other(n) => {
                self.others.push((n, val))
            }
        }
    }

    /// The kind inferred from the fields when the JSON has no `EventID`.
    fn inferred_kind(&self) -> Option<EventKind> {
        let has = |f: Field| self.known.iter().any(|(g, _)| *g == f);
        if has(Field::QueryName) {
            Some(EventKind::Dns)
        } else if (has(Field::HttpUri) || has(Field::HttpMethod) || !self.virtuals.is_empty())
            && !has(Field::Initiated)
            && !has(Field::TlsSni)
        {
            Some(EventKind::Http)
        } else if has(Field::DestinationIp) || has(Field::DestinationHostname) || has(Field::TlsSni)
        {
            Some(EventKind::Connect)
        } else {
            None
        }
    }
}

fn to_val(v: &serde_json::Value) -> Option<Val> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Val::Str(s.clone())),
        serde_json::Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Val::Int(i),
            None => Val::Str(n.to_string()),
        }),
        serde_json::Value::Bool(b) => Some(Val::Str(b.to_string())),
        serde_json::Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| match to_val(i)? {
                    Val::Str(s) => Some(s),
                    Val::Int(n) => Some(n.to_string()),
                })
                .collect();
            Some(Val::Str(parts.join(",")))
        }
        serde_json::Value::Object(_) => Some(Val::Str(v.to_string())),
    }
}

impl FieldSource for JsonEvent {
    fn get(&self, f: Field) -> Option<FieldValue<'_>> {
        self.known
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.view())
    }

    fn get_other(&self, name: &str) -> Option<FieldValue<'_>> {
        self.others
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.view())
    }

    fn get_named(&self, lower_name: &str) -> Option<FieldValue<'_>> {
        self.named
            .iter()
            .find(|(n, _)| n == lower_name)
            .map(|(_, v)| v.view())
    }

    fn get_virtual(&self, v: Virtual) -> Option<FieldValue<'_>> {
        self.virtuals
            .iter()
            .find(|(w, _)| *w == v)
            .map(|(_, v)| v.view())
    }

    fn kind(&self) -> Option<EventKind> {
        let explicit = match self.get(Field::EventId) {
            Some(FieldValue::Int(i)) => EventKind::from_event_id(i),
            Some(FieldValue::Str(s)) => s.trim().parse().ok().and_then(EventKind::from_event_id),
            _ => None,
        };
        explicit.or_else(|| self.inferred_kind())
    }

    fn for_each_value(&self, f: &mut dyn FnMut(FieldValue<'_>)) {
        for (_, v) in &self.known {
            f(v.view());
        }
        for (_, v) in &self.virtuals {
            f(v.view());
        }
        for (_, v) in &self.others {
            f(v.view());
        }
    }
}

/// Parses an IP from a string field (JSON events carry addresses as text).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix("::ffff:")
        .filter(|r| r.contains('.'))
        .unwrap_or(s);
    s.parse().ok()
}
