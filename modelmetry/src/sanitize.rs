//! The spec's constraints that our types cannot express, checked on each record before it is
//! sent, so that one bad value never gets a whole batch refused.
//!
//! A value the spec would refuse is taken out of its field and listed in the record's metadata
//! under `modelmetry.invalid` as `{"field": ..., "value": ..., "rule": ...}`, and counted in
//! [`Stats::sanitized`](crate::Stats). Where the field is required, it gets a stand-in that
//! says "unknown" in the field's own terms; the note keeps what was there. Nothing is dropped.
//!
//! | field | rule (spec, or what the server's decoder needs) | what happens |
//! | --- | --- | --- |
//! | `Options.Temperature`, `Options.TopP` | a number in [0, 1] | moved to the note, field unset |
//! | `Options.Timeout` | a number ≥ 0 | moved, unset |
//! | `Options.FrequencyPenalty`, `PresencePenalty` | a finite number | moved, unset |
//! | `Usage.*.Amount`, `Cost.*.Amount` | a finite number | the usage value or money moved, unset |
//! | `Money.Currency` | `^[A-Z]{3}$` | upper-cased if that fixes it, else the money moved, unset |
//! | `UsageValue.Unit` | present (empty means unknown) | set to `tokens`, the spec's default |
//! | `RetrievalQuery.Embeddings` | finite numbers | the vector moved (non-finite as text), unset |
//! | `DataPart.Data` | standard base64, padded | a `data:` URL is unwrapped; anything else moved, data set to `""` |
//! | `DataPart.MimeType`, `Document.ContentType` | a MIME type | empty: `application/octet-stream` |
//! | `Document.Identifier`, `Tool.Name`, `ToolCall.ID`, `Function.Name`, `ToolMessage.ToolCallID` | non-empty | empty: `unknown` |
//! | `Document.Title` | non-empty | empty: the identifier |
//! | session ids, tool call ids | at most 1 KiB (the SDK's limit: they are keys) | cut, the full value in the note |
//! | a finding's number | finite | written as text (the API drops such findings before this) |

use serde_json::{Map, Value, json};

use crate::stats;
use crate::wire::{
    CompletionFamilyData, Cost, CreateFindingParams, CreateSpanParams, CreateTraceParams, Document,
    FamilyData, FindingValue, Message, Money, Options, Part, RetrievalQuery, Usage, UsageValue,
};

/// The metadata key under which refused values are listed.
pub(crate) const INVALID_KEY: &str = "modelmetry.invalid";

/// The longest id the SDK sends (session ids, tool call ids), in bytes.
pub(crate) const MAX_ID_BYTES: usize = 1024;

const UNKNOWN: &str = "unknown";
const UNKNOWN_MIME: &str = "application/octet-stream";

/// The notes of one record, written to its metadata at the end.
#[derive(Default)]
struct Notes(Vec<Value>);

impl Notes {
    fn add(&mut self, field: impl Into<String>, value: Value, rule: &str) {
        self.0
            .push(json!({"field": field.into(), "value": value, "rule": rule}));
    }

    fn write(self, metadata: &mut Map<String, Value>) {
        if self.0.is_empty() {
            return;
        }
        stats::count_sanitized(self.0.len() as u64);
        match metadata.get_mut(INVALID_KEY) {
            Some(Value::Array(list)) => list.extend(self.0),
            _ => {
                metadata.insert(INVALID_KEY.to_owned(), Value::Array(self.0));
            }
        }
    }
}

/// A number as JSON; a non-finite one as the text serde_json would have lost.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| Value::String(non_finite_text(v)), Value::Number)
}

fn non_finite_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v > 0.0 {
        "Infinity".to_owned()
    } else {
        "-Infinity".to_owned()
    }
}

pub(crate) fn trace(t: &mut CreateTraceParams) {
    let mut notes = Notes::default();
    if let Some(id) = &mut t.session_id {
        cap_id(id, "SessionID", &mut notes);
    }
    notes.write(&mut t.metadata);
}

/// Cut an id longer than [`MAX_ID_BYTES`], keeping the whole in a note.
fn cap_id(id: &mut String, field: &str, notes: &mut Notes) {
    if id.len() > MAX_ID_BYTES {
        let mut end = MAX_ID_BYTES;
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        let full = std::mem::replace(id, id[..end].to_owned());
        notes.add(
            field,
            Value::String(full),
            "at most 1024 bytes (the SDK's limit for ids)",
        );
    }
}

/// Replace an empty required string with `stand_in`.
fn require(value: &mut String, stand_in: &str, field: &str, notes: &mut Notes) {
    if value.trim().is_empty() {
        let old = std::mem::replace(value, stand_in.to_owned());
        notes.add(field, Value::String(old), "non-empty (required)");
    }
}

pub(crate) fn span(s: &mut CreateSpanParams) {
    let mut notes = Notes::default();
    match &mut s.family_data {
        Some(FamilyData::Completion(c)) => completion(c, &mut notes),
        Some(FamilyData::Embeddings(e)) => {
            options(&mut e.options, "FamilyData.Options", &mut notes)
        }
        Some(FamilyData::Retrieval(r)) => {
            for (i, q) in r.queries.iter_mut().enumerate() {
                query(q, &format!("FamilyData.Queries[{i}]"), &mut notes);
            }
            for (i, d) in r.documents.iter_mut().enumerate() {
                document(d, &format!("FamilyData.Documents[{i}]"), &mut notes);
            }
        }
        Some(FamilyData::Other(_)) | None => {}
    }
    notes.write(&mut s.metadata);
}

fn completion(c: &mut CompletionFamilyData, notes: &mut Notes) {
    for (i, m) in c.messages.iter_mut().enumerate() {
        message(m, &format!("FamilyData.Messages[{i}]"), notes);
    }
    if let Some(o) = &mut c.options {
        options(o, "FamilyData.Options", notes);
    }
    if let Some(u) = &mut c.usage {
        usage(u, notes);
    }
    if let Some(cost) = &mut c.cost {
        money_fields(cost, notes);
    }
    for (i, d) in c.documents.iter_mut().enumerate() {
        document(d, &format!("FamilyData.Documents[{i}]"), notes);
    }
}

fn options(o: &mut Options, path: &str, notes: &mut Notes) {
    let mut check = |slot: &mut Option<f64>, name: &str, ok: fn(f64) -> bool, rule: &str| {
        if let Some(v) = *slot {
            if !v.is_finite() {
                *slot = None;
                notes.add(format!("{path}.{name}"), number(v), "a finite number");
            } else if !ok(v) {
                *slot = None;
                notes.add(format!("{path}.{name}"), number(v), rule);
            }
        }
    };
    let unit = |v: f64| (0.0..=1.0).contains(&v);
    check(&mut o.temperature, "Temperature", unit, "between 0 and 1");
    check(&mut o.top_p, "TopP", unit, "between 0 and 1");
    check(&mut o.timeout, "Timeout", |v| v >= 0.0, "at least 0");
    check(&mut o.frequency_penalty, "FrequencyPenalty", |_| true, "");
    check(&mut o.presence_penalty, "PresencePenalty", |_| true, "");
    for (i, tool) in o.tools.iter_mut().flatten().enumerate() {
        require(
            &mut tool.name,
            UNKNOWN,
            &format!("{path}.Tools[{i}].Name"),
            notes,
        );
    }
}

fn usage(u: &mut Usage, notes: &mut Notes) {
    for (name, slot) in [
        ("Input", &mut u.input),
        ("Output", &mut u.output),
        ("Total", &mut u.total),
    ] {
        let path = format!("FamilyData.Usage.{name}");
        if let Some(v) = slot {
            if !v.amount.is_finite() {
                let UsageValue { amount, unit } =
                    slot.take().unwrap_or_else(|| UsageValue::tokens(0));
                notes.add(
                    path,
                    json!({"Amount": number(amount), "Unit": unit}),
                    "a finite amount",
                );
            } else if v.unit.trim().is_empty() {
                notes.add(
                    format!("{path}.Unit"),
                    Value::String(std::mem::take(&mut v.unit)),
                    "non-empty (required)",
                );
                v.unit = "tokens".to_owned();
            }
        }
    }
}

fn money_fields(c: &mut Cost, notes: &mut Notes) {
    for (name, slot) in [
        ("Input", &mut c.input),
        ("Output", &mut c.output),
        ("Total", &mut c.total),
    ] {
        money(slot, &format!("FamilyData.Cost.{name}"), notes);
    }
}

pub(crate) fn is_currency(c: &str) -> bool {
    c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
}

fn money(slot: &mut Option<Money>, path: &str, notes: &mut Notes) {
    let Some(m) = slot else { return };
    if !m.amount.is_finite() {
        let amount = m.amount;
        let currency = std::mem::take(&mut m.currency);
        *slot = None;
        notes.add(
            path,
            json!({"Amount": number(amount), "Currency": currency}),
            "a finite amount",
        );
        return;
    }
    if is_currency(&m.currency) {
        return;
    }
    let upper = m.currency.trim().to_ascii_uppercase();
    if is_currency(&upper) {
        let old = std::mem::replace(&mut m.currency, upper);
        notes.add(
            format!("{path}.Currency"),
            Value::String(old),
            "three capital letters (ISO 4217): upper-cased",
        );
    } else {
        let Money { amount, currency } = slot.take().unwrap_or_else(|| Money::new(0.0, ""));
        notes.add(
            path,
            json!({"Amount": number(amount), "Currency": currency}),
            "a currency of three capital letters (ISO 4217)",
        );
    }
}

fn query(q: &mut RetrievalQuery, path: &str, notes: &mut Notes) {
    if q.embeddings
        .as_ref()
        .is_some_and(|e| e.iter().any(|x| !x.is_finite()))
    {
        let moved: Vec<Value> = q
            .embeddings
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(|x| number(f64::from(x)))
            .collect();
        notes.add(
            format!("{path}.Embeddings"),
            Value::Array(moved),
            "finite numbers",
        );
    }
}

fn document(d: &mut Document, path: &str, notes: &mut Notes) {
    require(
        &mut d.identifier,
        UNKNOWN,
        &format!("{path}.Identifier"),
        notes,
    );
    let title_stand_in = d.identifier.clone();
    require(
        &mut d.title,
        &title_stand_in,
        &format!("{path}.Title"),
        notes,
    );
    require(
        &mut d.content_type,
        UNKNOWN_MIME,
        &format!("{path}.ContentType"),
        notes,
    );
}

fn message(m: &mut Message, path: &str, notes: &mut Notes) {
    let contents = match m {
        Message::System(s) => &mut s.contents,
        Message::User(u) => &mut u.contents,
        Message::Assistant(a) => {
            for (i, call) in a.tool_calls.iter_mut().flatten().enumerate() {
                let p = format!("{path}.ToolCalls[{i}]");
                require(&mut call.id, UNKNOWN, &format!("{p}.ID"), notes);
                cap_id(&mut call.id, &format!("{p}.ID"), notes);
                require(
                    &mut call.function.name,
                    UNKNOWN,
                    &format!("{p}.Function.Name"),
                    notes,
                );
            }
            &mut a.contents
        }
        Message::Tool(t) => {
            require(
                &mut t.tool_call_id,
                UNKNOWN,
                &format!("{path}.ToolCallID"),
                notes,
            );
            cap_id(&mut t.tool_call_id, &format!("{path}.ToolCallID"), notes);
            &mut t.contents
        }
    };
    for (i, part) in contents.iter_mut().enumerate() {
        if let Part::Data(d) = part {
            let p = format!("{path}.Contents[{i}]");
            if let Some((mime, payload)) = data_url(&d.data) {
                if is_base64(payload) {
                    let (mime, payload) = (mime.to_owned(), payload.to_owned());
                    let url = std::mem::replace(&mut d.data, payload);
                    if d.mime_type.trim().is_empty() && !mime.is_empty() {
                        d.mime_type = mime;
                    }
                    let head: String = url.chars().take(64).collect();
                    notes.add(
                        format!("{p}.Data"),
                        Value::String(format!("{head}…")),
                        "base64, not a data: URL: unwrapped",
                    );
                }
            }
            if !is_base64(&d.data) {
                let old = std::mem::take(&mut d.data);
                notes.add(
                    format!("{p}.Data"),
                    Value::String(old),
                    "standard base64, padded",
                );
            }
            require(
                &mut d.mime_type,
                UNKNOWN_MIME,
                &format!("{p}.MimeType"),
                notes,
            );
        }
    }
}

/// The MIME type and payload of a `data:<mime>;base64,<payload>` URL.
fn data_url(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("data:")?;
    let (head, payload) = rest.split_once(',')?;
    let mime = head.strip_suffix(";base64")?;
    Some((mime, payload))
}

/// Standard base64 (RFC 4648 §4) with padding and canonical trailing bits: what both the Go
/// server's decoder and a strict validator accept.
pub(crate) fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() % 4 != 0 {
        return false;
    }
    let value = |c: u8| -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return false;
    }
    let body = &b[..b.len() - pad];
    if !body.iter().all(|&c| value(c).is_some()) {
        return false;
    }
    // The bits after the last whole byte must be zero.
    match (pad, body.last().and_then(|&c| value(c))) {
        (1, Some(last)) => last & 0b11 == 0,
        (2, Some(last)) => last & 0b1111 == 0,
        _ => true,
    }
}

pub(crate) fn finding(f: &mut CreateFindingParams) {
    if let FindingValue::Number(n) = f.value {
        if !n.is_finite() {
            let text = non_finite_text(n);
            f.value = FindingValue::Text(text.clone());
            let mut notes = Notes::default();
            notes.add(
                "Value",
                Value::String(text),
                "a finite number: written as text",
            );
            notes.write(&mut f.metadata);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_checked_as_the_server_decodes_it() {
        for ok in ["", "AAEC", "iVBORw==", "aGk=", "+/+/"] {
            assert!(is_base64(ok), "{ok}");
        }
        for bad in [
            "AAE", "aGk", "a-_b", "aGl=", "aG==", "====", "AA=A", "data:x",
        ] {
            assert!(!is_base64(bad), "{bad}");
        }
    }

    #[test]
    fn options_out_of_range_move_to_a_note() {
        let mut o = Options {
            temperature: Some(1.7),
            top_p: Some(f64::NAN),
            timeout: Some(-1.0),
            presence_penalty: Some(0.3),
            ..Options::default()
        };
        let mut notes = Notes::default();
        options(&mut o, "FamilyData.Options", &mut notes);
        assert_eq!((o.temperature, o.top_p, o.timeout), (None, None, None));
        assert_eq!(o.presence_penalty, Some(0.3));
        let fields: Vec<&str> = notes.0.iter().filter_map(|n| n["field"].as_str()).collect();
        assert_eq!(
            fields,
            [
                "FamilyData.Options.Temperature",
                "FamilyData.Options.TopP",
                "FamilyData.Options.Timeout"
            ]
        );
        assert_eq!(notes.0[0]["value"], json!(1.7));
        assert_eq!(notes.0[1]["value"], json!("NaN"));
    }

    #[test]
    fn currencies_are_upper_cased_or_moved() {
        let mut notes = Notes::default();
        let mut m = Some(Money::new(1.0, "usd"));
        money(&mut m, "Cost.Total", &mut notes);
        assert_eq!(m.map(|m| m.currency).as_deref(), Some("USD"));
        let mut m = Some(Money::new(1.0, "dollars"));
        money(&mut m, "Cost.Total", &mut notes);
        assert!(m.is_none());
        assert_eq!(notes.0.len(), 2);
        assert_eq!(notes.0[1]["value"]["Currency"], json!("dollars"));
    }
}
