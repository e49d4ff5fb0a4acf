//! The pieces the ingest encoder writes records with: JSON text straight into a byte buffer,
//! ids and timestamps formatted on the stack, and metadata merged from borrowed parts.
//!
//! Everything here writes exactly what `serde_json` writes for the wire types (compact, keys in
//! `serde_json::Map`'s sorted order), so a record written here and the same record built as a
//! wire struct and serialised are the same bytes; debug builds check it on every record.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::time::{Anchor, RFC3339_LEN, Tick, write_rfc3339};
use crate::wire::{Cost, Options, Usage};

pub(crate) use crate::id::write_uuid as uuid;

/// A JSON object being written: keys are added in the order the wire type declares them.
pub(crate) struct Obj<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> Obj<'w> {
    pub(crate) fn start(out: &'w mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Start the value of `key` (a wire field name: plain ASCII, never escaped).
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        str(self.key(key), value);
    }

    /// A string that needs no escaping (ids, timestamps, enum values).
    pub(crate) fn raw_str(&mut self, key: &str, value: &str) {
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    pub(crate) fn uuid(&mut self, key: &str, bits: u128) {
        self.raw_str(key, uuid(bits, &mut [0; 36]));
    }

    pub(crate) fn time(&mut self, key: &str, anchor: &Anchor, at: Tick) {
        self.raw_str(key, write_rfc3339(anchor.wall(at), &mut [0; RFC3339_LEN]));
    }

    pub(crate) fn serde<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        serde(self.key(key), value);
    }

    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

/// A JSON string, escaped as `serde_json` escapes it.
pub(crate) fn str(out: &mut Vec<u8>, s: &str) {
    serde(out, s);
}

/// Any serialisable value, as `serde_json` writes it.
pub(crate) fn serde<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a Vec cannot fail, and every type we write serialises (string keys only).
    let _ = serde_json::to_writer(out, value);
}

/// A metadata value that lives outside the record's own map.
#[derive(Clone, Copy)]
pub(crate) enum Extra<'a> {
    Str(&'a str),
    Value(&'a Value),
    Strs(&'a [String]),
    /// A wire struct captured as metadata (`capture::metadata`): the same JSON as the struct
    /// as long as its fields are declared in sorted order and it fits the capture limit.
    Options(&'a Options),
    Usage(&'a Usage),
    Cost(&'a Cost),
}

impl Extra<'_> {
    /// Write the value; `false` if it is a captured struct longer than `capped` bytes.
    fn write(self, out: &mut Vec<u8>, capped: usize) -> bool {
        let start = out.len();
        match self {
            Extra::Str(s) => str(out, s),
            Extra::Value(v) => serde(out, v),
            Extra::Strs(list) => serde(out, list),
            Extra::Options(o) => serde(out, o),
            Extra::Usage(u) => serde(out, u),
            Extra::Cost(c) => serde(out, c),
        }
        match self {
            Extra::Options(_) | Extra::Usage(_) | Extra::Cost(_) => out.len() - start <= capped,
            _ => true,
        }
    }
}

/// An entry merged into a record's metadata: a default replaced by an entry of the same key
/// in the map, or an override that replaces it.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: Extra<'a>,
    pub(crate) overrides: bool,
}

impl Entry<'static> {
    /// A placeholder, for arrays filled as entries are found.
    pub(crate) const NONE: Entry<'static> = Entry {
        key: "",
        value: Extra::Str(""),
        overrides: false,
    };
}

/// Write `map` with `extra` merged in as one JSON object, in the sorted key order of
/// `serde_json::Map`. The keys of `extra` must be distinct. Returns `false` when a captured
/// struct is longer than `capped` bytes (it would have been cut: the record must take the
/// slow path).
pub(crate) fn merged(
    out: &mut Vec<u8>,
    map: Option<&Map<String, Value>>,
    extra: &mut [Entry<'_>],
    capped: usize,
) -> bool {
    let empty = Map::new();
    let map = map.unwrap_or(&empty);
    let mut fits = true;
    extra.sort_unstable_by(|a, b| a.key.cmp(b.key));
    out.push(b'{');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, key: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        str(out, key);
        out.push(b':');
    };
    let mut entries = map.iter().peekable();
    let mut extras = extra.iter().peekable();
    loop {
        let order = match (entries.peek(), extras.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((k, _)), Some(e)) => k.as_str().cmp(e.key),
        };
        match order {
            Ordering::Less => {
                if let Some((k, v)) = entries.next() {
                    put(out, k);
                    serde(out, v);
                }
            }
            Ordering::Greater => {
                if let Some(e) = extras.next() {
                    put(out, e.key);
                    fits &= e.value.write(out, capped);
                }
            }
            Ordering::Equal => {
                if let (Some((k, v)), Some(e)) = (entries.next(), extras.next()) {
                    put(out, k);
                    if e.overrides {
                        fits &= e.value.write(out, capped);
                    } else {
                        serde(out, v);
                    }
                }
            }
        }
    }
    out.push(b'}');
    fits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_layout() {
        assert_eq!(
            uuid(0x0123_4567_89ab_cdef_0011_2233_4455_6677, &mut [0; 36]),
            "01234567-89ab-cdef-0011-223344556677"
        );
    }

    #[test]
    fn merged_metadata_is_what_a_map_would_serialise() {
        let mut map = Map::new();
        map.insert("b".into(), 1.into());
        map.insert("kind".into(), "mine".into());
        map.insert("input".into(), "old".into());
        map.insert("é\"".into(), Value::Null);
        let input = Value::from("new");
        let tags = vec!["x".to_owned()];
        let mut extra = [
            Entry {
                key: "kind",
                value: Extra::Str("tool"),
                overrides: false,
            },
            Entry {
                key: "input",
                value: Extra::Value(&input),
                overrides: true,
            },
            Entry {
                key: "tags",
                value: Extra::Strs(&tags),
                overrides: true,
            },
            Entry {
                key: "a",
                value: Extra::Str("first"),
                overrides: true,
            },
        ];
        let mut out = Vec::new();
        assert!(merged(&mut out, Some(&map), &mut extra, usize::MAX));
        let mut expected = map.clone();
        expected.insert("input".into(), input.clone());
        expected.insert("tags".into(), tags.clone().into());
        expected.insert("a".into(), "first".into());
        assert_eq!(
            String::from_utf8(out).ok(),
            serde_json::to_string(&expected).ok()
        );
    }

    /// `Extra::Options`, `Usage` and `Cost` write the struct where `capture::metadata` would
    /// write a map: the same bytes only while the fields are declared in sorted order.
    #[test]
    fn captured_structs_serialise_in_sorted_key_order() {
        use crate::wire::{Money, UsageValue};
        let options = Options {
            api_version: Some("v".into()),
            base_url: Some("u".into()),
            deployment_id: Some("d".into()),
            frequency_penalty: Some(0.1),
            function_call: Some("f".into()),
            functions: Some(vec!["f".into()]),
            logit_bias: Some(Map::new()),
            logprobs: Some(true),
            max_tokens: Some(1),
            model: Some("m".into()),
            model_list: Some(vec!["m".into()]),
            n: Some(1),
            presence_penalty: Some(0.2),
            provider: Some("p".into()),
            response_format: Some(Map::new()),
            seed: Some(1),
            stop: Some(Map::new()),
            stream: Some(false),
            temperature: Some(0.3),
            timeout: Some(1.5),
            tool_choice: Some("auto".into()),
            tools: None,
            top_logprobs: Some(2),
            top_p: Some(0.9),
            user: Some("u".into()),
        };
        let usage = Usage {
            input: Some(UsageValue::tokens(1)),
            output: Some(UsageValue::tokens(2)),
            total: Some(UsageValue::tokens(3)),
        };
        let cost = Cost {
            input: Some(Money::new(0.1, "USD")),
            output: Some(Money::new(0.2, "USD")),
            total: Some(Money::new(0.3, "USD")),
        };
        fn same<T: Serialize>(v: &T) {
            let direct = serde_json::to_string(v).ok();
            let as_map = serde_json::to_value(v).ok().map(|m| m.to_string());
            assert_eq!(direct, as_map);
        }
        same(&options);
        same(&usage);
        same(&cost);
    }
}
