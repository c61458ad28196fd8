//! One event line, as the report reads it: only the fields it uses, borrowed from the
//! line where the JSON has no escapes, every other key skipped unparsed.
//!
//! The report reads c2tap's own output, but also lines that went through other tools
//! (a SIEM export, `jq`), so a field of an unexpected type does not make the line
//! malformed: [`Text`] takes any scalar (a number where a name was expected is shown
//! as written) and [`Num`] takes a number or a numeric string. A line is malformed
//! only when it is not a JSON object, or when `Alerts` is not a list of objects.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A scalar read as text; `None` for a list or an object.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
}

/// A number, or a string holding one; `None` for anything else.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Num(pub Option<f64>);

impl Num {
    pub fn get(self) -> Option<f64> {
        self.0.filter(|v| v.is_finite())
    }

    /// As a count: a finite, non-negative number, rounded down.
    pub fn count(self) -> Option<u64> {
        self.get().filter(|v| *v >= 0.0).map(|v| v as u64)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = d.deserialize_any(TextVisitor)?;
        Ok(Num(t.as_str().and_then(|s| s.trim().parse::<f64>().ok())))
    }
}

/// The alert entries of an event (`Alerts`).
#[allow(non_snake_case)]
#[derive(Debug, Default, Deserialize)]
pub struct AlertIn<'a> {
    #[serde(borrow, default)]
    pub RuleId: Text<'a>,
    #[serde(borrow, default)]
    pub RuleTitle: Text<'a>,
    #[serde(borrow, default)]
    pub RuleLevel: Text<'a>,
    #[serde(borrow, default)]
    pub RuleTags: Option<Vec<Text<'a>>>,
    /// Technique mappings (VERIS, NIST, clouds), parsed only the first time a rule is
    /// seen with them: they are the same on every alert of a rule.
    #[serde(borrow, default)]
    pub Mappings: Option<&'a RawValue>,
}

/// The fields of an event line the report uses. Field names are the JSON keys.
#[allow(non_snake_case)]
#[derive(Debug, Default, Deserialize)]
pub struct Line<'a> {
    #[serde(default)]
    pub EventID: Num,
    #[serde(borrow, default)]
    pub EventType: Text<'a>,
    #[serde(borrow, default)]
    pub UtcTime: Text<'a>,
    #[serde(borrow, default)]
    pub Computer: Text<'a>,
    #[serde(borrow, default)]
    pub Source: Text<'a>,
    #[serde(borrow, default)]
    pub SourceIp: Text<'a>,
    #[serde(borrow, default)]
    pub DestinationIp: Text<'a>,
    #[serde(default)]
    pub DestinationPort: Num,
    #[serde(borrow, default)]
    pub DestinationHostname: Text<'a>,
    #[serde(borrow, default)]
    pub QueryName: Text<'a>,
    #[serde(borrow, default)]
    pub TlsSni: Text<'a>,
    #[serde(borrow, default)]
    pub Ja4: Text<'a>,
    #[serde(borrow, default)]
    pub Ja3Hash: Text<'a>,
    #[serde(borrow, default)]
    pub AppProtocol: Text<'a>,
    #[serde(borrow, default)]
    pub Alerts: Option<Vec<AlertIn<'a>>>,
    // SensorState (4).
    #[serde(borrow, default)]
    pub State: Text<'a>,
    #[serde(default)]
    pub Counters: Option<BTreeMap<String, Num>>,
    // Beacon (110).
    #[serde(borrow, default)]
    pub BeaconKind: Text<'a>,
    #[serde(default)]
    pub Score: Num,
    #[serde(default)]
    pub TimingScore: Num,
    #[serde(default)]
    pub SizeScore: Num,
    #[serde(default)]
    pub HistogramScore: Num,
    #[serde(default)]
    pub DurationScore: Num,
    #[serde(default)]
    pub CheckIns: Num,
    #[serde(default)]
    pub Connections: Num,
    #[serde(default)]
    pub MedianInterval: Num,
    #[serde(borrow, default)]
    pub FirstSeen: Text<'a>,
    #[serde(borrow, default)]
    pub LastSeen: Text<'a>,
    #[serde(borrow, default)]
    pub Reason: Text<'a>,
    #[serde(default)]
    pub CheckInHistogram: Option<Vec<Num>>,
    // DnsTunnel (111).
    #[serde(borrow, default)]
    pub TunnelKind: Text<'a>,
    #[serde(borrow, default)]
    pub Domain: Text<'a>,
    #[serde(default)]
    pub Queries: Num,
    #[serde(default)]
    pub DistinctSubdomains: Num,
    #[serde(default)]
    pub MeanNameLength: Num,
    #[serde(default)]
    pub LabelEntropy: Num,
    #[serde(default)]
    pub NameBytesPerMinute: Num,
    #[serde(default)]
    pub OddTypeShare: Num,
    #[serde(default)]
    pub NxdomainDomains: Num,
    #[serde(default)]
    pub QueryHistogram: Option<Vec<Num>>,
}

/// Parses one line; the error is the reason it is malformed.
pub fn parse(line: &[u8]) -> Result<Line<'_>, String> {
    // serde's derived structs also accept a JSON list (fields in order): refuse it.
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    serde_json::from_slice::<Line>(line).map_err(|e| e.to_string())
}

/// One entry of a mapping list: a name (`"SI-4"`, `"action.malware.variety.C2"`) or a
/// cloud capability with its score.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum MappingItem {
    Name(String),
    Capability {
        #[serde(default)]
        capability: String,
        #[serde(default)]
        category: String,
        #[serde(default)]
        value: String,
    },
    Other(IgnoredAny),
}

/// One technique's mappings, as the `Mappings` object of an alert carries them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MappingSet {
    #[serde(default)]
    pub veris: Vec<MappingItem>,
    #[serde(default)]
    pub nist_800_53: Vec<MappingItem>,
    #[serde(default)]
    pub aws: Vec<MappingItem>,
    #[serde(default)]
    pub azure: Vec<MappingItem>,
    #[serde(default)]
    pub gcp: Vec<MappingItem>,
}

/// Parses an alert's `Mappings` (technique id → its mappings).
pub fn parse_mappings(raw: &RawValue) -> Result<BTreeMap<String, MappingSet>, String> {
    serde_json::from_str(raw.get()).map_err(|e| e.to_string())
}

pub(super) fn text<'a>(t: &'a Text<'_>) -> &'a str {
    t.as_str().unwrap_or("")
}

/// A name worth counting: known (not `-`) and not empty.
pub(super) fn known<'a>(t: &'a Text<'_>) -> Option<&'a str> {
    t.as_str().filter(|s| !s.is_empty() && *s != "-")
}

/// `s` cut at `max` bytes on a character boundary, marked with `…`.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_borrowed_fields_and_skips_the_rest() {
        let l = parse(br#"{"EventID":3,"Other":{"deep":[1,2]},"DestinationHostname":"a.example","DestinationPort":"443"}"#).unwrap();
        assert_eq!(l.EventID.count(), Some(3));
        assert!(matches!(
            l.DestinationHostname.0,
            Some(Cow::Borrowed("a.example"))
        ));
        assert_eq!(l.DestinationPort.count(), Some(443));
    }

    #[test]
    fn odd_types_are_not_malformed_but_a_non_object_is() {
        let l = parse(br#"{"EventID":"22","QueryName":12,"TlsSni":["x"],"Score":"n/a"}"#).unwrap();
        assert_eq!(l.EventID.count(), Some(22));
        assert_eq!(l.QueryName.as_str(), Some("12"));
        assert_eq!(l.TlsSni.as_str(), None);
        assert_eq!(l.Score.get(), None);
        assert!(parse(b"[1,2]").is_err());
        assert!(parse(b"{\"EventID\":3").is_err());
        assert!(parse(br#"{"Alerts":"x"}"#).is_err());
    }

    #[test]
    fn mappings_read_names_and_capabilities() {
        let raw = r#"{"T1071.001":{"veris":["action.malware.variety.C2"],"nist_800_53":["SI-4"],
            "aws":[{"capability":"Amazon GuardDuty","category":"detect","value":"partial"}],"later":1}}"#;
        let raw: Box<RawValue> = serde_json::from_str(raw).unwrap();
        let m = parse_mappings(&raw).unwrap();
        let t = &m["T1071.001"];
        assert_eq!(
            t.veris,
            [MappingItem::Name("action.malware.variety.C2".into())]
        );
        assert!(
            matches!(&t.aws[0], MappingItem::Capability { capability, .. } if capability == "Amazon GuardDuty")
        );
    }
}
