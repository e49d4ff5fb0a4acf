//! One record over the per-record byte limit is cut field by field until it fits, never
//! dropped whole.
//!
//! 1. The largest strings go first, and evenly: every string longer than a common length is cut
//!    to that length (ending in `…`), the length chosen so that the record just fits. Inputs,
//!    outputs, message texts and metadata strings are what is large, so they are what is cut;
//!    ids, timestamps and enum values never are. Base64 data and embedding vectors are kept
//!    whole or emptied, since half of either means nothing.
//! 2. If strings were not enough (a map of a million small entries, a long array of numbers),
//!    whole fields go, the largest first: a metadata entry keeps its first entries, a list of
//!    messages or documents keeps its first items, anything else optional is left out.
//!
//! What was cut is listed in the record's metadata under `modelmetry.truncated`, as
//! `{"field": "Metadata.input", "original_bytes": 5242880}` (at most eight entries and one that
//! sums up the rest), so the marker itself always fits.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::capture::{TRUNCATED_KEY, cut_str, fit_value, json_len, json_str_len};

/// The most entries the marker lists one by one.
const MARKER_ENTRIES: usize = 8;
/// The longest field name the marker writes (a metadata key can be long).
const MARKER_FIELD_BYTES: usize = 64;
/// What is kept of a record's `Name` at the least (JSON bytes): it labels the record.
const NAME_FLOOR: usize = 130;

/// Keys whose values are ids, times or enum values: never cut (outside free-form values).
const PROTECTED: &[&str] = &[
    "XID",
    "TraceID",
    "SpanID",
    "ParentID",
    "EntryID",
    "SessionID",
    "Start",
    "End",
    "At",
    "Family",
    "Severity",
    "Source",
    "Role",
    "Type",
    "Detail",
    "Currency",
    "Unit",
    "ID",
    "ToolCallID",
    "MimeType",
];

/// Keys whose values are free-form JSON: inside them, any string may be cut.
const FREE_FORM: &[&str] = &[
    "Metadata",
    "Content",
    "Arguments",
    "Parameters",
    "LogitBias",
    "ResponseFormat",
    "Stop",
];

/// Cut `record` to at most `limit` bytes of JSON if it is larger. Returns the number of fields
/// cut (0 when it already fitted, or could not be read back).
pub(crate) fn record<T: Serialize + DeserializeOwned>(record: &mut T, limit: usize) -> u64 {
    if json_len(record) <= limit {
        return 0;
    }
    let Ok(mut value) = serde_json::to_value(&*record) else {
        return 0;
    };
    let cut = fit(&mut value, limit);
    // Cutting keeps every field's type, so the record reads back; if it ever did not, the
    // record goes uncut (alone in its request) rather than lost.
    match serde_json::from_value(value) {
        Ok(r) => {
            *record = r;
            cut
        }
        Err(_) => 0,
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(mut v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    for step in path {
        v = match (step, v) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A top-level unit of a record, as the marker names it.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: String,
    path: Vec<Step>,
    original: usize,
}

fn fields(record: &Map<String, Value>) -> Vec<Field> {
    let mut out = Vec::new();
    for (k, v) in record {
        match (k.as_str(), v) {
            ("Metadata" | "FamilyData", Value::Object(m)) => {
                for (k2, v2) in m {
                    if k == "Metadata" && k2 == TRUNCATED_KEY {
                        continue;
                    }
                    out.push(Field {
                        name: format!("{k}.{k2}"),
                        path: vec![Step::Key(k.clone()), Step::Key(k2.clone())],
                        original: json_len(v2),
                    });
                }
            }
            (key, Value::String(_)) if !PROTECTED.contains(&key) => out.push(Field {
                name: k.clone(),
                path: vec![Step::Key(k.clone())],
                original: json_len(v),
            }),
            _ => {}
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LeafKind {
    /// A string, cut to any length.
    Text,
    /// The record's `Name`: cut, but to no less than [`NAME_FLOOR`].
    Name,
    /// Base64 data: whole or `""`.
    Base64,
    /// An embedding vector: whole or `null`.
    Vector,
}

struct Leaf {
    path: Vec<Step>,
    size: usize,
    kind: LeafKind,
}

impl Leaf {
    /// The leaf's size once emptied.
    fn floor(&self) -> usize {
        match self.kind {
            LeafKind::Name => NAME_FLOOR,
            LeafKind::Text | LeafKind::Base64 => 2,
            LeafKind::Vector => 4,
        }
    }

    /// Bytes saved by bringing the leaf to `level`.
    fn saving(&self, level: usize) -> usize {
        if self.size <= level {
            return 0;
        }
        match self.kind {
            LeafKind::Text | LeafKind::Name => self.size.saturating_sub(level.max(self.floor())),
            LeafKind::Base64 | LeafKind::Vector => self.size.saturating_sub(self.floor()),
        }
    }
}

fn leaves(v: &Value, path: &mut Vec<Step>, free: bool, out: &mut Vec<Leaf>) {
    match v {
        Value::String(s) => out.push(Leaf {
            path: path.clone(),
            size: json_str_len(s),
            kind: LeafKind::Text,
        }),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Step::Index(i));
                leaves(x, path, free, out);
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if !free && path.len() == 1 && k == TRUNCATED_KEY {
                    continue;
                }
                path.push(Step::Key(k.clone()));
                match (free, k.as_str(), x) {
                    (false, key, _) if PROTECTED.contains(&key) => {}
                    (false, "Name", Value::String(s)) if path.len() == 1 => out.push(Leaf {
                        path: path.clone(),
                        size: json_str_len(s),
                        kind: LeafKind::Name,
                    }),
                    (false, "Data", Value::String(s)) => out.push(Leaf {
                        path: path.clone(),
                        size: json_str_len(s),
                        kind: LeafKind::Base64,
                    }),
                    (false, "Embeddings", Value::Array(_)) => out.push(Leaf {
                        path: path.clone(),
                        size: json_len(x),
                        kind: LeafKind::Vector,
                    }),
                    (false, key, _) => leaves(x, path, FREE_FORM.contains(&key), out),
                    (true, _, _) => leaves(x, path, true, out),
                }
                path.pop();
            }
        }
        _ => {}
    }
}

/// Cut strings evenly, largest first, to save at least `excess` bytes if they can.
fn cut_leaves(v: &mut Value, excess: usize) {
    let mut found = Vec::new();
    leaves(v, &mut Vec::new(), false, &mut found);
    let saving = |level: usize| found.iter().map(|l| l.saving(level)).sum::<usize>();
    let max = found.iter().map(|l| l.size).max().unwrap_or(0);
    if saving(0) < excess {
        // Not enough in strings: empty them all, and let the fields go next.
        apply(v, &found, 0);
        return;
    }
    // The highest level that still saves enough.
    let (mut lo, mut hi) = (0, max);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if saving(mid) >= excess {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    apply(v, &found, lo);
}

fn apply(v: &mut Value, found: &[Leaf], level: usize) {
    for leaf in found.iter().filter(|l| l.saving(level) > 0) {
        let Some(slot) = at(v, &leaf.path) else {
            continue;
        };
        *slot = match (leaf.kind, &*slot) {
            (LeafKind::Text, Value::String(s)) => Value::String(cut_str(s, level.max(2))),
            (LeafKind::Name, Value::String(s)) => Value::String(cut_str(s, level.max(NAME_FLOOR))),
            (LeafKind::Base64, _) => Value::String(String::new()),
            (LeafKind::Vector, _) => Value::Null,
            _ => continue,
        };
    }
}

/// Shrink or drop whole fields, the largest first, until the record fits `target`.
fn cut_fields(v: &mut Value, target: usize) {
    let Some(obj) = v.as_object() else { return };
    let mut order = fields(obj);
    for f in &mut order {
        f.original = at(v, &f.path).map_or(0, |x| json_len(x));
    }
    order.sort_by_key(|f| std::cmp::Reverse(f.original));
    // Tracked, not measured again: each saving below is exact or an underestimate, so the
    // record is no larger than `total`.
    let mut total = json_len(v);
    for f in order {
        if total <= target {
            return;
        }
        let size = f.original;
        let budget = size.saturating_sub(total - target);
        let Some(record) = v.as_object_mut() else {
            return;
        };
        match f.path.as_slice() {
            [Step::Key(k)] if k == "Name" || k == "Value" => {
                let floor = if k == "Name" { NAME_FLOOR } else { 2 };
                let kept = record
                    .get(k)
                    .and_then(Value::as_str)
                    .map(|s| cut_str(s, floor))
                    .unwrap_or_default();
                total -= size.saturating_sub(json_str_len(&kept));
                record.insert(k.clone(), Value::String(kept));
            }
            [Step::Key(k)] => {
                record.remove(k);
                total -= size + json_str_len(k) + 1;
            }
            [Step::Key(top), Step::Key(key)] => {
                let Some(parent) = record.get_mut(top).and_then(Value::as_object_mut) else {
                    continue;
                };
                let shrunk = match (top.as_str(), key.as_str(), parent.get_mut(key)) {
                    ("Metadata", _, Some(x)) if budget >= 16 => fit_value(x, budget),
                    ("FamilyData", "Options", Some(_)) => Some(json!({})),
                    ("FamilyData", _, Some(Value::Array(items))) => {
                        // Keep the first items that fit.
                        let mut used = 2;
                        let mut keep = 0;
                        for (i, item) in items.iter().enumerate() {
                            let add = json_len(item) + usize::from(i > 0);
                            if used + add > budget {
                                break;
                            }
                            used += add;
                            keep += 1;
                        }
                        items.truncate(keep);
                        Some(Value::Array(std::mem::take(items)))
                    }
                    _ => None,
                };
                match shrunk {
                    Some(x) => {
                        total -= size.saturating_sub(json_len(&x));
                        parent.insert(key.clone(), x);
                    }
                    None => {
                        parent.remove(key);
                        total -= size + json_str_len(key) + 1;
                    }
                }
            }
            _ => {}
        }
    }
}

/// The marker: earlier entries (cut at capture), then this cut's, largest first; at most
/// [`MARKER_ENTRIES`] listed and the rest summed up. A field cut at capture and again here is
/// listed once, with its size before the first cut (the second would only know the first's).
fn marker(mut entries: Vec<Value>, cut: &[(String, usize)]) -> Value {
    let earlier: Vec<String> = entries
        .iter()
        .filter_map(|e| e.get("field").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut cut: Vec<&(String, usize)> = cut
        .iter()
        .filter(|(name, _)| !earlier.contains(name))
        .collect();
    cut.sort_by_key(|(_, original)| std::cmp::Reverse(*original));
    entries.extend(cut.into_iter().map(|(name, original)| {
        json!({"field": cut_str(name, MARKER_FIELD_BYTES + 2), "original_bytes": original})
    }));
    if entries.len() > MARKER_ENTRIES {
        let rest = entries.split_off(MARKER_ENTRIES - 1);
        let bytes: u64 = rest
            .iter()
            .filter_map(|e| e.get("original_bytes").and_then(Value::as_u64))
            .sum();
        entries
            .push(json!({"field": format!("{} more fields", rest.len()), "original_bytes": bytes}));
    }
    for e in &mut entries {
        // An earlier entry may come from the user's own metadata: keep it small too.
        if json_len(e) > 128 {
            *e = json!({"field": "…", "original_bytes": e.get("original_bytes").cloned().unwrap_or(Value::Null)});
        }
    }
    Value::Array(entries)
}

/// The most bytes a marker can take.
fn marker_reserve() -> usize {
    let key = json_str_len(TRUNCATED_KEY) + 2; // the key, its colon and a comma
    key + 2 + MARKER_ENTRIES * (128 + 1)
}

/// Cut the record `v` (a JSON object) to at most `limit` bytes; the number of fields cut.
fn fit(v: &mut Value, limit: usize) -> u64 {
    let Some(obj) = v.as_object_mut() else {
        return 0;
    };
    // Earlier marker entries travel into the new marker.
    let earlier = match obj
        .get_mut("Metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove(TRUNCATED_KEY))
    {
        Some(Value::Array(list)) => list,
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let before = fields(obj);
    let target = limit.saturating_sub(marker_reserve());
    let total = json_len(v);
    if total > target {
        cut_leaves(v, total - target);
    }
    if json_len(v) > target {
        cut_fields(v, target);
    }
    let Some(obj) = v.as_object_mut() else {
        return 0;
    };
    let cut: Vec<(String, usize)> = before
        .into_iter()
        .filter(|f| {
            let Some(Step::Key(top)) = f.path.first() else {
                return false;
            };
            let now = match f.path.get(1) {
                Some(Step::Key(k)) => obj.get(top).and_then(|p| p.get(k)),
                _ => obj.get(top),
            };
            now.is_none_or(|x| json_len(x) != f.original)
        })
        .map(|f| (f.name, f.original))
        .collect();
    let n = cut.len() as u64;
    let metadata = obj
        .entry("Metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = metadata {
        m.insert(TRUNCATED_KEY.to_owned(), marker(earlier, &cut));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(metadata: Value, name: &str) -> Value {
        json!({
            "XID": "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
            "TraceID": "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
            "Name": name,
            "Start": "2026-11-22T03:14:57Z",
            "End": "2026-11-22T03:14:57Z",
            "Family": "completion",
            "FamilyData": {"Messages": [
                {"Role": "user", "Contents": [{"Text": "q".repeat(30_000)}]},
                {"Role": "user", "Contents": [{"MimeType": "image/png", "Data": "AAAA".repeat(5_000)}]}
            ]},
            "Metadata": metadata,
        })
    }

    #[test]
    fn the_largest_strings_are_cut_evenly_and_listed() {
        let mut v = span(
            json!({"input": "i".repeat(100_000), "output": "o".repeat(60_000), "kind": "llm"}),
            "llm",
        );
        let n = fit(&mut v, 64 * 1024);
        assert!(json_len(&v) <= 64 * 1024, "{}", json_len(&v));
        let input = v["Metadata"]["input"].as_str().unwrap_or_default();
        let output = v["Metadata"]["output"].as_str().unwrap_or_default();
        assert!(input.ends_with('…') && output.ends_with('…'));
        // Evenly: both were cut to about the same length.
        assert!(
            input.len().abs_diff(output.len()) <= 8,
            "{} {}",
            input.len(),
            output.len()
        );
        assert_eq!(v["Metadata"]["kind"], "llm", "small fields are kept");
        assert_eq!(v["XID"], "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b");
        let marked: Vec<&str> = v["Metadata"][TRUNCATED_KEY]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(marked.contains(&"Metadata.input") && marked.contains(&"Metadata.output"));
        assert_eq!(n as usize, marked.len());
    }

    #[test]
    fn a_field_cut_at_capture_and_again_here_is_listed_once_with_its_first_size() {
        let marked_at_capture = json!([{"field": "Metadata.output", "original_bytes": 200_000}]);
        let mut v = span(
            json!({"output": "o".repeat(60_000), TRUNCATED_KEY: marked_at_capture}),
            "llm",
        );
        fit(&mut v, 16 * 1024);
        let outputs: Vec<&Value> = v["Metadata"][TRUNCATED_KEY]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["field"] == "Metadata.output")
            .collect();
        assert_eq!(
            outputs,
            vec![&json!({"field": "Metadata.output", "original_bytes": 200_000})]
        );
    }

    #[test]
    fn many_small_entries_go_whole_and_the_record_fits() {
        let big: Map<String, Value> = (0..20_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let mut v = span(json!({"numbers": big, "kind": "llm"}), &"n".repeat(10_000));
        fit(&mut v, 4096);
        assert!(json_len(&v) <= 4096, "{}", json_len(&v));
        assert!(
            v["Metadata"][TRUNCATED_KEY]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
    }

    #[test]
    fn a_record_that_fits_is_untouched() {
        let mut v = span(json!({"kind": "llm"}), "llm");
        let before = v.clone();
        assert_eq!(record(&mut v, 1 << 20), 0);
        assert_eq!(v, before);
    }
}
