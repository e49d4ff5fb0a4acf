//! The ingest records as borrowed views of a finished trace: each view writes the record's JSON
//! in one pass ([`WriteJson`]), with nothing copied but what `sanitize` had to change; the
//! values inside (family data, metadata) are `Serialize`, written by serde_json.
//!
//! Ids and timestamps are formatted into stack buffers as they are written, and written with
//! the spec's field names as they are: they hold nothing to escape, and skipping serde_json's
//! escaping scan for them is most of what keeps this at or above the speed of `serde_json` on
//! plain structs. A record's
//! `Metadata` is the user's map merged with the SDK's own entries by one explicit rule (see
//! [`Metadata`]) that never relies on the order in which `serde_json::Map` iterates, so the
//! bytes are valid, with no key twice, whether or not some crate in the build turns on
//! serde_json's `preserve_order`.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::id::write_uuid;
use crate::record::Severity;
use crate::sanitize::INVALID_KEY;
use crate::time::{Anchor, RFC3339_LEN, Tick, write_rfc3339};
use crate::values::{Cost, Document, FindingValue, Message, Options, RetrievalQuery, Usage};

/// A UUID, written from its bits through a stack buffer.
#[derive(Clone, Copy)]
pub(crate) struct Uuid(pub(crate) u128);

/// A tick as RFC 3339 UTC text, written through a stack buffer.
#[derive(Clone, Copy)]
pub(crate) struct Time<'a>(pub(crate) &'a Anchor, pub(crate) Tick);

/// A value the SDK puts in a record's metadata, borrowed from the finished trace.
#[derive(Clone, Copy)]
pub(crate) enum MetaValue<'a> {
    Str(&'a str),
    Value(&'a Value),
    Strs(&'a [String]),
    /// A count (a usage bucket).
    Count(u64),
    /// A model call's details on a span of another kind, every number finite.
    Options(&'a Options),
    Usage(&'a Usage),
    Cost(&'a Cost),
}

impl Serialize for MetaValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            MetaValue::Str(v) => s.serialize_str(v),
            MetaValue::Value(v) => v.serialize(s),
            MetaValue::Strs(v) => v.serialize(s),
            MetaValue::Count(v) => s.serialize_u64(v),
            MetaValue::Options(v) => v.serialize(s),
            MetaValue::Usage(v) => v.serialize(s),
            MetaValue::Cost(v) => v.serialize(s),
        }
    }
}

/// The most entries the SDK adds to one record's metadata.
pub(crate) const MAX_ENTRIES: usize = 14;

/// A record's `Metadata`: the user's map, the SDK's entries and the notes of `sanitize`.
///
/// The rule, applied key by key whatever order the map iterates in:
/// 1. each of the SDK's `entries` is written, and replaces the map's entry of the same key;
/// 2. then the map's other entries;
/// 3. then each `default` whose key neither the map nor `entries` holds (a span's `kind`:
///    the user's own `kind` wins);
/// 4. then, when `sanitize` noted anything, [`INVALID_KEY`]: the map's own list under that
///    key (if it holds one) followed by the notes.
///
/// The SDK's keys are distinct, so no key is ever written twice.
pub(crate) struct Metadata<'a> {
    pub(crate) map: Option<&'a Map<String, Value>>,
    pub(crate) entries: [(&'static str, MetaValue<'a>); MAX_ENTRIES],
    pub(crate) len: usize,
    pub(crate) default: Option<(&'static str, MetaValue<'a>)>,
    pub(crate) invalid: &'a [Value],
}

impl<'a> Metadata<'a> {
    pub(crate) fn new(map: Option<&'a Map<String, Value>>) -> Self {
        Metadata {
            map,
            entries: [("", MetaValue::Str("")); MAX_ENTRIES],
            len: 0,
            default: None,
            invalid: &[],
        }
    }

    /// Add one of the SDK's entries (its key distinct from every other the SDK adds).
    pub(crate) fn put(&mut self, key: &'static str, value: MetaValue<'a>) {
        debug_assert!(self.len < MAX_ENTRIES && !self.sdk_key(key));
        if let Some(slot) = self.entries.get_mut(self.len) {
            *slot = (key, value);
            self.len += 1;
        }
    }

    fn entries(&self) -> &[(&'static str, MetaValue<'a>)] {
        &self.entries[..self.len]
    }

    fn sdk_key(&self, key: &str) -> bool {
        self.entries().iter().any(|(k, _)| *k == key)
    }

    fn default_applies(&self) -> Option<(&'static str, MetaValue<'a>)> {
        self.default
            .filter(|(k, _)| !self.sdk_key(k) && !self.map.is_some_and(|m| m.contains_key(*k)))
    }

    /// True when nothing would be written: the record leaves `Metadata` out.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_none_or(Map::is_empty)
            && self.len == 0
            && self.default.is_none()
            && self.invalid.is_empty()
    }
}

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.entries() {
            m.serialize_entry(k, v)?;
        }
        let noted = !self.invalid.is_empty();
        for (k, v) in self.map.into_iter().flatten() {
            if self.sdk_key(k) || (noted && k == INVALID_KEY) {
                continue;
            }
            m.serialize_entry(k, v)?;
        }
        if let Some((k, v)) = self.default_applies() {
            m.serialize_entry(k, &v)?;
        }
        if noted {
            let prior = match self.map.and_then(|m| m.get(INVALID_KEY)) {
                Some(Value::Array(list)) => list.as_slice(),
                _ => &[],
            };
            m.serialize_entry(INVALID_KEY, &Chain(prior, self.invalid))?;
        }
        m.end()
    }
}

/// Two lists written as one.
struct Chain<'a>(&'a [Value], &'a [Value]);

impl Serialize for Chain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() + self.1.len()))?;
        for v in self.0.iter().chain(self.1) {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

/// A record's JSON, written into the encoder's buffer: what every view implements.
pub(crate) trait WriteJson {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

/// A JSON object being written. Keys are the spec's field names (plain ASCII, written as
/// they are); ids and timestamps are our own ASCII text (written as they are); everything
/// else goes through serde_json, escaped.
struct Object<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> Object<'w> {
    fn start(out: &'w mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// Text we formatted ourselves: ids, timestamps, enum values (no character to escape).
    fn ascii(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    fn uuid(&mut self, key: &str, id: Uuid) {
        self.ascii(key, write_uuid(id.0, &mut [0; 36]));
    }

    fn time(&mut self, key: &str, t: Time<'_>) {
        self.ascii(key, write_rfc3339(t.0.wall(t.1), &mut [0; RFC3339_LEN]));
    }

    fn value<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), serde_json::Error> {
        serde_json::to_writer(self.key(key), v)
    }

    fn metadata(&mut self, m: &Metadata<'_>) -> Result<(), serde_json::Error> {
        if m.is_empty() {
            return Ok(());
        }
        self.value("Metadata", m)
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// `CreateSessionParams`.
pub(crate) struct SessionView<'a> {
    pub(crate) xid: &'a str,
}

impl WriteJson for SessionView<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut o = Object::start(out);
        o.value("XID", self.xid)?;
        o.end();
        Ok(())
    }
}

/// `CreateTraceParams`.
pub(crate) struct TraceView<'a> {
    /// The trace's UUID, as text.
    pub(crate) xid: &'a str,
    pub(crate) name: &'a str,
    pub(crate) session_id: Option<Cow<'a, str>>,
    pub(crate) start: Time<'a>,
    pub(crate) end: Time<'a>,
    pub(crate) metadata: Metadata<'a>,
}

impl WriteJson for TraceView<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut o = Object::start(out);
        o.ascii("XID", self.xid);
        o.value("Name", self.name)?;
        if let Some(id) = &self.session_id {
            o.value("SessionID", id)?;
        }
        o.time("Start", self.start);
        o.time("End", self.end);
        o.metadata(&self.metadata)?;
        o.end();
        Ok(())
    }
}

/// `CreateSpanParams`.
pub(crate) struct SpanView<'a> {
    pub(crate) xid: Uuid,
    /// The trace's UUID, as text.
    pub(crate) trace_id: &'a str,
    pub(crate) parent_id: Option<Uuid>,
    pub(crate) name: &'a str,
    pub(crate) start: Time<'a>,
    pub(crate) end: Time<'a>,
    pub(crate) family: &'static str,
    pub(crate) family_data: Option<FamilyView<'a>>,
    pub(crate) message: Option<&'a str>,
    pub(crate) severity: Option<Severity>,
    pub(crate) metadata: Metadata<'a>,
}

impl WriteJson for SpanView<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut o = Object::start(out);
        o.uuid("XID", self.xid);
        o.ascii("TraceID", self.trace_id);
        if let Some(parent) = self.parent_id {
            o.uuid("ParentID", parent);
        }
        o.value("Name", self.name)?;
        o.time("Start", self.start);
        o.time("End", self.end);
        o.ascii("Family", self.family);
        if let Some(data) = &self.family_data {
            o.value("FamilyData", data)?;
        }
        if let Some(m) = self.message {
            o.value("Message", m)?;
        }
        if let Some(sev) = self.severity {
            o.ascii("Severity", sev.as_str());
        }
        o.metadata(&self.metadata)?;
        o.end();
        Ok(())
    }
}

/// A span's `FamilyData`, written as the bare object (its `Family` says which).
#[derive(Serialize)]
#[serde(untagged)]
// A `Cow<Options>` makes the completion variant large; a view lives on the stack for one
// record, and boxing it would cost an allocation per span for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum FamilyView<'a> {
    Completion(CompletionView<'a>),
    Embeddings(EmbeddingsView<'a>),
    Retrieval(RetrievalView<'a>),
}

/// `CompletionFamilyData`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CompletionView<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) messages: Cow<'a, [Message]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) options: Option<Cow<'a, Options>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Cow<'a, Usage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cost: Option<Cow<'a, Cost>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) documents: Cow<'a, [Document]>,
}

/// `EmbeddingsFamilyData` (both fields required by the spec).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EmbeddingsView<'a> {
    pub(crate) inputs: &'a [String],
    pub(crate) options: Cow<'a, Options>,
}

/// `RetrievalFamilyData` (both lists required by the spec).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RetrievalView<'a> {
    pub(crate) queries: Cow<'a, [RetrievalQuery]>,
    pub(crate) documents: Cow<'a, [Document]>,
}

/// `CreateEventParams`.
pub(crate) struct EventView<'a> {
    pub(crate) xid: Uuid,
    pub(crate) name: &'a str,
    pub(crate) at: Time<'a>,
    pub(crate) trace_id: &'a str,
    pub(crate) span_id: Option<Uuid>,
    pub(crate) metadata: Metadata<'a>,
}

impl WriteJson for EventView<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut o = Object::start(out);
        o.uuid("XID", self.xid);
        o.value("Name", self.name)?;
        o.time("At", self.at);
        o.ascii("TraceID", self.trace_id);
        if let Some(span) = self.span_id {
            o.uuid("SpanID", span);
        }
        o.metadata(&self.metadata)?;
        o.end();
        Ok(())
    }
}

/// `CreateFindingParams` (`Source` is always `sdk`).
pub(crate) struct FindingView<'a> {
    pub(crate) xid: Uuid,
    pub(crate) name: &'a str,
    pub(crate) value: Cow<'a, FindingValue>,
    pub(crate) at: Time<'a>,
    pub(crate) comment: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) trace_id: &'a str,
    pub(crate) span_id: Option<Uuid>,
    pub(crate) metadata: Metadata<'a>,
}

impl WriteJson for FindingView<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut o = Object::start(out);
        o.uuid("XID", self.xid);
        o.value("Name", self.name)?;
        o.value("Value", &*self.value)?;
        o.time("At", self.at);
        if let Some(c) = self.comment {
            o.value("Comment", c)?;
        }
        if let Some(d) = self.description {
            o.value("Description", d)?;
        }
        o.ascii("Source", "sdk");
        o.ascii("TraceID", self.trace_id);
        if let Some(span) = self.span_id {
            o.uuid("SpanID", span);
        }
        o.metadata(&self.metadata)?;
        o.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_layout() {
        let mut out = Vec::new();
        let mut o = Object::start(&mut out);
        o.uuid("XID", Uuid(0x0123_4567_89ab_cdef_0011_2233_4455_6677));
        o.end();
        assert_eq!(out, br#"{"XID":"01234567-89ab-cdef-0011-223344556677"}"#);
    }

    /// The merge rule, checked on the bytes: no key twice, whatever order the map iterates.
    #[test]
    fn metadata_merges_without_repeating_a_key() {
        let mut map = Map::new();
        map.insert("b".into(), 1.into());
        map.insert("kind".into(), "mine".into());
        map.insert("input".into(), "old".into());
        map.insert(INVALID_KEY.into(), Value::Array(vec!["prior".into()]));
        map.insert("é\"".into(), Value::Null);
        let input = Value::from("new");
        let tags = vec!["x".to_owned()];
        let notes = [Value::from("note")];
        let mut m = Metadata::new(Some(&map));
        m.default = Some(("kind", MetaValue::Str("tool")));
        m.put("input", MetaValue::Value(&input));
        m.put("tags", MetaValue::Strs(&tags));
        m.invalid = &notes;
        let text = serde_json::to_string(&m).unwrap_or_default();
        let keys = top_level_keys(&text);
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(keys.len(), unique.len(), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["kind"], "mine", "the user's kind wins over the default");
        assert_eq!(v["input"], "new", "the SDK's entry replaces the user's");
        assert_eq!(v["b"], 1);
        assert_eq!(v[INVALID_KEY], serde_json::json!(["prior", "note"]));
        let mut alone = Metadata::new(None);
        alone.default = Some(("kind", MetaValue::Str("tool")));
        assert_eq!(
            serde_json::to_string(&alone).ok().as_deref(),
            Some(r#"{"kind":"tool"}"#)
        );
    }

    /// The keys of a flat JSON object, in the order written.
    fn top_level_keys(text: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        struct Keys<'k>(&'k mut Vec<String>);
        impl<'de> serde::de::Visitor<'de> for Keys<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
                while let Some(k) = a.next_key::<String>()? {
                    a.next_value::<serde::de::IgnoredAny>()?;
                    self.0.push(k);
                }
                Ok(())
            }
        }
        let _ = serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys));
        keys
    }
}
