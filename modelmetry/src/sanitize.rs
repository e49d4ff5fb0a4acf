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

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::values::{
    Cost, DataPart, Document, FindingValue, Message, Money, Options, Part, RetrievalQuery,
    ToolCall, Usage, UsageValue,
};

/// The metadata key under which refused values are listed.
pub(crate) const INVALID_KEY: &str = crate::metadata_keys::INVALID;

/// The longest id the SDK sends (session ids, tool call ids), in bytes.
pub(crate) const MAX_ID_BYTES: usize = 1024;

const UNKNOWN: &str = "unknown";
const UNKNOWN_MIME: &str = "application/octet-stream";

/// What the checks of one record found: the entries the encoder lists under [`INVALID_KEY`]
/// (and counts in `Stats::sanitized`).
#[derive(Default, Debug)]
pub(crate) struct Notes(Vec<Value>);

impl Notes {
    fn add(&mut self, field: impl Into<String>, value: Value, rule: &str) {
        self.0
            .push(json!({"field": field.into(), "value": value, "rule": rule}));
    }

    pub(crate) fn list(&self) -> &[Value] {
        &self.0
    }

    pub(crate) fn count(&self) -> u64 {
        self.0.len() as u64
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

// Every check below reads the borrowed value and copies it (`Cow::to_mut`) only to change it:
// a record that breaks no rule is encoded straight from the finished trace, and the finished
// trace itself is never changed. Nothing here counts or reports: the encoder counts the notes.

/// A trace's session id, cut to [`MAX_ID_BYTES`].
pub(crate) fn session_id(id: &mut Cow<'_, str>, notes: &mut Notes) {
    if let Some(cut) = capped_id(id, || "SessionID".to_owned(), notes) {
        *id = Cow::Owned(cut);
    }
}

/// The id cut to [`MAX_ID_BYTES`] if it is longer, with the whole in a note.
fn capped_id(id: &str, field: impl FnOnce() -> String, notes: &mut Notes) -> Option<String> {
    if id.len() <= MAX_ID_BYTES {
        return None;
    }
    let mut end = MAX_ID_BYTES;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    notes.add(
        field(),
        Value::String(id.to_owned()),
        "at most 1024 bytes (the SDK's limit for ids)",
    );
    Some(id[..end].to_owned())
}

/// `stand_in` for an empty required string, with the old value in a note.
fn required(
    value: &str,
    stand_in: &str,
    field: impl FnOnce() -> String,
    notes: &mut Notes,
) -> Option<String> {
    if !value.trim().is_empty() {
        return None;
    }
    notes.add(
        field(),
        Value::String(value.to_owned()),
        "non-empty (required)",
    );
    Some(stand_in.to_owned())
}

/// A number field of [`Options`]: how to read it, how to clear it, its rule.
struct OptionField {
    name: &'static str,
    get: fn(&Options) -> Option<f64>,
    slot: fn(&mut Options) -> &mut Option<f64>,
    ok: fn(f64) -> bool,
    rule: &'static str,
}

const OPTION_FIELDS: [OptionField; 5] = [
    OptionField {
        name: "Temperature",
        get: |o| o.temperature,
        slot: |o| &mut o.temperature,
        ok: |v| (0.0..=1.0).contains(&v),
        rule: "between 0 and 1",
    },
    OptionField {
        name: "TopP",
        get: |o| o.top_p,
        slot: |o| &mut o.top_p,
        ok: |v| (0.0..=1.0).contains(&v),
        rule: "between 0 and 1",
    },
    OptionField {
        name: "Timeout",
        get: |o| o.timeout,
        slot: |o| &mut o.timeout,
        ok: |v| v >= 0.0,
        rule: "at least 0",
    },
    OptionField {
        name: "FrequencyPenalty",
        get: |o| o.frequency_penalty,
        slot: |o| &mut o.frequency_penalty,
        ok: |_| true,
        rule: "",
    },
    OptionField {
        name: "PresencePenalty",
        get: |o| o.presence_penalty,
        slot: |o| &mut o.presence_penalty,
        ok: |_| true,
        rule: "",
    },
];

/// A request's options, at `path` (`FamilyData.Options`).
pub(crate) fn options(o: &mut Cow<'_, Options>, path: &str, notes: &mut Notes) {
    for f in &OPTION_FIELDS {
        let Some(v) = (f.get)(o) else { continue };
        let rule = if !v.is_finite() {
            "a finite number"
        } else if !(f.ok)(v) {
            f.rule
        } else {
            continue;
        };
        *(f.slot)(o.to_mut()) = None;
        notes.add(format!("{path}.{}", f.name), number(v), rule);
    }
    for i in 0..o.tools.as_ref().map_or(0, Vec::len) {
        let name = o
            .tools
            .as_ref()
            .and_then(|t| t.get(i))
            .map(|t| t.name.as_str());
        let field = || format!("{path}.Tools[{i}].Name");
        if let Some(new) = name.and_then(|n| required(n, UNKNOWN, field, notes)) {
            if let Some(tool) = o.to_mut().tools.as_mut().and_then(|t| t.get_mut(i)) {
                tool.name = new;
            }
        }
    }
}

/// True when every number in `o` is finite: what metadata needs of options kept there (a
/// model call's details on a span of another kind), where no other rule applies.
pub(crate) fn options_finite(o: &Options) -> bool {
    OPTION_FIELDS
        .iter()
        .filter_map(|f| (f.get)(o))
        .all(f64::is_finite)
}

type UsageSlot = (
    &'static str,
    fn(&Usage) -> Option<&UsageValue>,
    fn(&mut Usage) -> &mut Option<UsageValue>,
);

const USAGE_SLOTS: [UsageSlot; 3] = [
    ("Input", |u| u.input.as_ref(), |u| &mut u.input),
    ("Output", |u| u.output.as_ref(), |u| &mut u.output),
    ("Total", |u| u.total.as_ref(), |u| &mut u.total),
];

/// Token usage, at `path` (`FamilyData.Usage`).
pub(crate) fn usage(u: &mut Cow<'_, Usage>, path: &str, notes: &mut Notes) {
    for (name, get, slot) in USAGE_SLOTS {
        let Some(v) = get(u) else { continue };
        if !v.amount.is_finite() {
            let amount = v.amount;
            let unit = slot(u.to_mut()).take().map(|v| v.unit).unwrap_or_default();
            notes.add(
                format!("{path}.{name}"),
                json!({"Amount": number(amount), "Unit": unit}),
                "a finite amount",
            );
        } else if v.unit.trim().is_empty() {
            notes.add(
                format!("{path}.{name}.Unit"),
                Value::String(v.unit.clone()),
                "non-empty (required)",
            );
            if let Some(v) = slot(u.to_mut()) {
                v.unit = "tokens".to_owned();
            }
        }
    }
}

/// True when every amount in `u` is finite (see [`options_finite`]).
pub(crate) fn usage_finite(u: &Usage) -> bool {
    USAGE_SLOTS
        .iter()
        .filter_map(|(_, get, _)| get(u))
        .all(|v| v.amount.is_finite())
}

type MoneySlot = (
    &'static str,
    fn(&Cost) -> Option<&Money>,
    fn(&mut Cost) -> &mut Option<Money>,
);

const MONEY_SLOTS: [MoneySlot; 3] = [
    ("Input", |c| c.input.as_ref(), |c| &mut c.input),
    ("Output", |c| c.output.as_ref(), |c| &mut c.output),
    ("Total", |c| c.total.as_ref(), |c| &mut c.total),
];

/// A call's cost, at `path` (`FamilyData.Cost`).
pub(crate) fn cost(c: &mut Cow<'_, Cost>, path: &str, notes: &mut Notes) {
    for (name, get, slot) in MONEY_SLOTS {
        let Some(m) = get(c) else { continue };
        if let Some(fixed) = money(m, || format!("{path}.{name}"), notes) {
            *slot(c.to_mut()) = fixed;
        }
    }
}

/// True when every amount in `c` is finite (see [`options_finite`]).
pub(crate) fn cost_finite(c: &Cost) -> bool {
    MONEY_SLOTS
        .iter()
        .filter_map(|(_, get, _)| get(c))
        .all(|m| m.amount.is_finite())
}

pub(crate) fn is_currency(c: &str) -> bool {
    c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
}

/// What an amount of money becomes: `None` when it is kept as it is, `Some(None)` when it
/// moves to a note, `Some(Some(m))` when its currency was upper-cased.
fn money(m: &Money, path: impl FnOnce() -> String, notes: &mut Notes) -> Option<Option<Money>> {
    if !m.amount.is_finite() {
        notes.add(
            path(),
            json!({"Amount": number(m.amount), "Currency": m.currency}),
            "a finite amount",
        );
        return Some(None);
    }
    if is_currency(&m.currency) {
        return None;
    }
    let upper = m.currency.trim().to_ascii_uppercase();
    if is_currency(&upper) {
        notes.add(
            format!("{}.Currency", path()),
            Value::String(m.currency.clone()),
            "three capital letters (ISO 4217): upper-cased",
        );
        Some(Some(Money {
            amount: m.amount,
            currency: upper,
        }))
    } else {
        notes.add(
            path(),
            json!({"Amount": number(m.amount), "Currency": m.currency}),
            "a currency of three capital letters (ISO 4217)",
        );
        Some(None)
    }
}

/// A retrieval step's queries, at `path` (`FamilyData.Queries`).
pub(crate) fn queries(list: &mut Cow<'_, [RetrievalQuery]>, path: &str, notes: &mut Notes) {
    for i in 0..list.len() {
        let q = &list[i];
        if q.embeddings
            .as_ref()
            .is_some_and(|e| e.iter().any(|x| !x.is_finite()))
        {
            let moved: Vec<Value> = q
                .embeddings
                .iter()
                .flatten()
                .map(|x| number(f64::from(*x)))
                .collect();
            notes.add(
                format!("{path}[{i}].Embeddings"),
                Value::Array(moved),
                "finite numbers",
            );
            list.to_mut()[i].embeddings = None;
        }
    }
}

/// Documents, at `path` (`FamilyData.Documents`).
pub(crate) fn documents(list: &mut Cow<'_, [Document]>, path: &str, notes: &mut Notes) {
    for i in 0..list.len() {
        let d = &list[i];
        let identifier = required(
            &d.identifier,
            UNKNOWN,
            || format!("{path}[{i}].Identifier"),
            notes,
        );
        let title_stand_in = identifier.as_deref().unwrap_or(&d.identifier);
        let title = required(
            &d.title,
            title_stand_in,
            || format!("{path}[{i}].Title"),
            notes,
        );
        let content_type = required(
            &d.content_type,
            UNKNOWN_MIME,
            || format!("{path}[{i}].ContentType"),
            notes,
        );
        if identifier.is_none() && title.is_none() && content_type.is_none() {
            continue;
        }
        let d = &mut list.to_mut()[i];
        if let Some(v) = identifier {
            d.identifier = v;
        }
        if let Some(v) = title {
            d.title = v;
        }
        if let Some(v) = content_type {
            d.content_type = v;
        }
    }
}

/// Messages, at `path` (`FamilyData.Messages`).
pub(crate) fn messages(list: &mut Cow<'_, [Message]>, path: &str, notes: &mut Notes) {
    for i in 0..list.len() {
        let fixed = {
            let mut one = Cow::Borrowed(&list[i]);
            message(&mut one, &|| format!("{path}[{i}]"), notes);
            match one {
                Cow::Owned(m) => Some(m),
                Cow::Borrowed(_) => None,
            }
        };
        if let Some(m) = fixed {
            list.to_mut()[i] = m;
        }
    }
}

fn contents(m: &Message) -> &[Part] {
    match m {
        Message::System(s) => &s.contents,
        Message::User(u) => &u.contents,
        Message::Assistant(a) => &a.contents,
        Message::Tool(t) => &t.contents,
    }
}

fn contents_mut(m: &mut Message) -> &mut Vec<Part> {
    match m {
        Message::System(s) => &mut s.contents,
        Message::User(u) => &mut u.contents,
        Message::Assistant(a) => &mut a.contents,
        Message::Tool(t) => &mut t.contents,
    }
}

fn message(m: &mut Cow<'_, Message>, path: &dyn Fn() -> String, notes: &mut Notes) {
    let calls = match &**m {
        Message::Assistant(a) => a.tool_calls.as_ref().map_or(0, Vec::len),
        _ => 0,
    };
    for j in 0..calls {
        let fixed = match &**m {
            Message::Assistant(a) => a
                .tool_calls
                .as_ref()
                .and_then(|c| c.get(j))
                .and_then(|c| tool_call(c, &|| format!("{}.ToolCalls[{j}]", path()), notes)),
            _ => None,
        };
        if let (Some(fixed), Message::Assistant(a)) = (fixed, m.to_mut()) {
            if let Some(slot) = a.tool_calls.as_mut().and_then(|c| c.get_mut(j)) {
                *slot = fixed;
            }
        }
    }
    if let Message::Tool(t) = &**m {
        let field = || format!("{}.ToolCallID", path());
        let id = match required(&t.tool_call_id, UNKNOWN, field, notes) {
            Some(id) => Some(id),
            None => capped_id(&t.tool_call_id, field, notes),
        };
        if let (Some(id), Message::Tool(t)) = (id, m.to_mut()) {
            t.tool_call_id = id;
        }
    }
    for k in 0..contents(m).len() {
        let fixed = match &contents(m)[k] {
            Part::Data(d) => data_part(d, &|| format!("{}.Contents[{k}]", path()), notes),
            Part::Text(_) => None,
        };
        if let Some(fixed) = fixed {
            contents_mut(m.to_mut())[k] = Part::Data(fixed);
        }
    }
}

/// A tool call's id and function name: the call fixed, if anything needed fixing.
fn tool_call(call: &ToolCall, path: &dyn Fn() -> String, notes: &mut Notes) -> Option<ToolCall> {
    let id_field = || format!("{}.ID", path());
    let id = match required(&call.id, UNKNOWN, id_field, notes) {
        Some(id) => Some(id),
        None => capped_id(&call.id, id_field, notes),
    };
    let name = required(
        &call.function.name,
        UNKNOWN,
        || format!("{}.Function.Name", path()),
        notes,
    );
    if id.is_none() && name.is_none() {
        return None;
    }
    let mut fixed = call.clone();
    if let Some(id) = id {
        fixed.id = id;
    }
    if let Some(name) = name {
        fixed.function.name = name;
    }
    Some(fixed)
}

/// A data part's payload (standard base64; a `data:` URL unwrapped) and MIME type: the part
/// fixed, if anything needed fixing.
fn data_part(d: &DataPart, path: &dyn Fn() -> String, notes: &mut Notes) -> Option<DataPart> {
    let mut data: Cow<'_, str> = Cow::Borrowed(&d.data);
    let mut mime: Cow<'_, str> = Cow::Borrowed(&d.mime_type);
    if let Some((url_mime, payload)) = data_url(&d.data) {
        if is_base64(payload) {
            if mime.trim().is_empty() && !url_mime.is_empty() {
                mime = Cow::Borrowed(url_mime);
            }
            let head: String = d.data.chars().take(64).collect();
            notes.add(
                format!("{}.Data", path()),
                Value::String(format!("{head}…")),
                "base64, not a data: URL: unwrapped",
            );
            data = Cow::Borrowed(payload);
        }
    }
    if !is_base64(&data) {
        notes.add(
            format!("{}.Data", path()),
            Value::String(data.into_owned()),
            "standard base64, padded",
        );
        data = Cow::Borrowed("");
    }
    if let Some(m) = required(
        &mime,
        UNKNOWN_MIME,
        || format!("{}.MimeType", path()),
        notes,
    ) {
        mime = Cow::Owned(m);
    }
    if data == d.data.as_str() && mime == d.mime_type.as_str() {
        return None;
    }
    Some(DataPart {
        mime_type: mime.into_owned(),
        data: data.into_owned(),
        detail: d.detail,
    })
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

/// A finding's value: a non-finite number is written as text (findings recorded through the
/// API are dropped before this; one read back from elsewhere is not).
pub(crate) fn finding_value(v: &mut Cow<'_, FindingValue>, notes: &mut Notes) {
    if let FindingValue::Number(n) = **v {
        if !n.is_finite() {
            let text = non_finite_text(n);
            notes.add(
                "Value",
                Value::String(text.clone()),
                "a finite number: written as text",
            );
            *v = Cow::Owned(FindingValue::Text(text));
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
        let given = Options {
            temperature: Some(1.7),
            top_p: Some(f64::NAN),
            timeout: Some(-1.0),
            presence_penalty: Some(0.3),
            ..Options::default()
        };
        let mut o = Cow::Borrowed(&given);
        let mut notes = Notes::default();
        options(&mut o, "FamilyData.Options", &mut notes);
        assert_eq!((o.temperature, o.top_p, o.timeout), (None, None, None));
        assert_eq!(
            given.temperature,
            Some(1.7),
            "the finished trace is left as it was"
        );
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
    fn a_valid_record_is_not_copied() {
        let mut notes = Notes::default();
        let usage = Usage::tokens(1, 2);
        let mut u = Cow::Borrowed(&usage);
        super::usage(&mut u, "FamilyData.Usage", &mut notes);
        assert!(matches!(u, Cow::Borrowed(_)) && notes.count() == 0);
        let list = [Message::user("hi")];
        let mut m = Cow::Borrowed(&list[..]);
        messages(&mut m, "FamilyData.Messages", &mut notes);
        assert!(matches!(m, Cow::Borrowed(_)) && notes.count() == 0);
    }

    #[test]
    fn currencies_are_upper_cased_or_moved() {
        let mut notes = Notes::default();
        let m = money(&Money::new(1.0, "usd"), || "Cost.Total".into(), &mut notes);
        assert_eq!(m.flatten().map(|m| m.currency).as_deref(), Some("USD"));
        let m = money(
            &Money::new(1.0, "dollars"),
            || "Cost.Total".into(),
            &mut notes,
        );
        assert_eq!(m, Some(None));
        assert!(money(&Money::new(1.0, "EUR"), || "Cost.Total".into(), &mut notes).is_none());
        assert_eq!(notes.0.len(), 2);
        assert_eq!(notes.0[1]["value"]["Currency"], json!("dollars"));
    }
}
