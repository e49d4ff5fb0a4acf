//! Redaction, as one boundary: every finished trace (and fragment) passes [`boundary`] in the
//! pipeline, after sampling and before the fan-out to the exporters, so that no exporter
//! (ingest, OTLP, console, file, a test's recorder) can see what did not pass it. It runs the
//! user's [`Config::redact`](crate::Config::redact) hook over every captured value, then the
//! [`Config::redact_patterns`](crate::Config::redact_patterns) over every string the SDK is
//! about to send or write (`patterns.rs`).
//!
//! Why here, once per finished trace, and not where values are captured: a trace's content
//! arrives through many doors (the macros, every setter of the manual API, findings, events,
//! messages built by hand), and a hook at each door is a hook that some door forgets. At the
//! pipeline's single entrance nothing can slip past. It runs on the thread that closed the
//! trace, once (not once per destination), so nothing unredacted reaches a buffer or the
//! spool's journal.
//!
//! Each value is handed to the hook with a path that names its place:
//!
//! | path | value |
//! | --- | --- |
//! | `trace.input`, `trace.output` | the trace's captured input and output |
//! | `trace.metadata.<key>` | one metadata entry of the trace |
//! | `trace.message` | the trace's message (an error's text), as a string |
//! | `trace.session_id`, `trace.user_id` | the ids, as strings |
//! | `trace.tags` | the tags, as an array of strings |
//! | `span.input`, `span.output` | a span's captured input and output |
//! | `span.metadata.<key>` | one metadata entry of a span |
//! | `span.message` | a span's message (an error's text), as a string |
//! | `span.messages` | a completion's messages, as their wire JSON (an array) |
//! | `span.options` | a model call's options (`User` may name an end user) |
//! | `span.documents`, `span.queries`, `span.embedding_inputs` | retrieval and embeddings content |
//! | `event.metadata.<key>` | one metadata entry of an event |
//! | `finding.value` | a finding's value (number, bool or string) |
//! | `finding.comment`, `finding.description` | a finding's texts, as strings |
//! | `finding.metadata.<key>` | one metadata entry of a finding |
//!
//! The hook edits the value in place. Setting it to `null` removes an optional value (a
//! finding's value, which is required, becomes an empty string). A typed
//! value (messages, options, documents, ...) that no longer has its shape after the hook is
//! removed rather than sent half-redacted. A hook that panics loses the trace (counted in
//! `stats().dropped.redaction_failed`): nothing unredacted is ever exported.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::diag;
use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, SignalBody, SpanData, TraceInfo};
use crate::stats;
use crate::values::FindingValue;

mod patterns;

use patterns::Pass;
pub use patterns::RedactPattern;
#[cfg(feature = "regex")]
pub use patterns::RegexPattern;

/// The user's redaction callback.
pub(crate) type RedactHook = Arc<dyn Fn(&str, &mut Value) + Send + Sync>;

/// Everything redaction does to a finished trace: the user's hook, then the patterns over every
/// string. Built from the `Config`.
#[derive(Clone, Default)]
pub(crate) struct Redaction {
    pub(crate) hook: Option<RedactHook>,
    pub(crate) patterns: Vec<RedactPattern>,
}

impl Redaction {
    pub(crate) fn is_off(&self) -> bool {
        self.hook.is_none() && self.patterns.is_empty()
    }
}

/// The one redaction boundary: run on every finished trace (and fragment) before the fan-out
/// to the exporters, so that no exporter (ingest, OTLP, console, file, a test's recorder) sees
/// anything that did not pass it. `Ok` when the trace may go on; `Err(records)` when it must
/// be dropped (the hook or a pattern panicked): the caller counts the records in
/// `stats().dropped.redaction_failed`; this function has counted them in
/// `stats().redaction.dropped` and said why.
///
/// A separate step of the pipeline, run after pricing and sampling (which read model names,
/// usage and findings, not content).
pub(crate) fn boundary(redaction: &Redaction, trace: &mut FinishedTrace) -> Result<(), u64> {
    if redaction.is_off() {
        return Ok(());
    }
    if let Some(hook) = &redaction.hook {
        if crate::switch::user_code(|| redact_trace(hook.as_ref(), trace)).is_err() {
            return Err(lost(trace, "the redaction hook panicked"));
        }
    }
    if !redaction.patterns.is_empty() {
        let patterns = &redaction.patterns;
        let scrubbed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut pass = Pass {
                patterns,
                changed: 0,
            };
            pass.trace(trace);
            pass.changed
        }));
        match scrubbed {
            Ok(changed) => {
                stats::count_redaction(changed, 0);
                if changed > 0 {
                    if let Some(info) = trace.info.as_deref_mut() {
                        info.metadata.insert(
                            keys::REDACTED.into(),
                            serde_json::json!({ "values": changed }),
                        );
                    }
                }
            }
            Err(_) => {
                return Err(lost(
                    trace,
                    "a redaction pattern failed (a panic in the SDK)",
                ));
            }
        }
    }
    Ok(())
}

/// Count and report a trace lost to redaction; returns its records.
fn lost(trace: &FinishedTrace, why: &str) -> u64 {
    let records = trace.record_count();
    stats::count_redaction(0, records);
    diag::report(format_args!(
        "{why}; the trace ({records} record(s)) was dropped rather than sent unredacted (counted in stats().dropped.redaction_failed)"
    ));
    records
}

type Hook<'a> = &'a (dyn Fn(&str, &mut Value) + Send + Sync);

fn redact_trace(hook: Hook<'_>, trace: &mut FinishedTrace) {
    if let Some(info) = trace.info.as_deref_mut() {
        redact_info(hook, info);
    }
    for span in &mut trace.spans {
        if let Some(data) = span.data.as_deref_mut() {
            redact_span(hook, data);
        }
    }
    for signal in &mut trace.signals {
        match &mut signal.body {
            SignalBody::Event { metadata, .. } => map(hook, "event.metadata", metadata),
            SignalBody::Finding(f) => {
                let mut v = finding_value(&f.value);
                hook("finding.value", &mut v);
                f.value = match v {
                    Value::Bool(b) => FindingValue::Bool(b),
                    Value::Number(n) => n
                        .as_f64()
                        .map_or_else(|| FindingValue::Text(n.to_string()), FindingValue::Number),
                    Value::String(s) => FindingValue::Text(s),
                    // A finding is one record: removing it here would unbalance the
                    // counters, so a value redacted to `null` is sent as an empty string.
                    Value::Null => FindingValue::Text(String::new()),
                    other => FindingValue::Text(other.to_string()),
                };
                text(hook, "finding.comment", &mut f.comment);
                text(hook, "finding.description", &mut f.description);
                map(hook, "finding.metadata", &mut f.metadata);
            }
        }
    }
}

fn redact_info(hook: Hook<'_>, info: &mut TraceInfo) {
    value(hook, "trace.input", &mut info.input);
    value(hook, "trace.output", &mut info.output);
    map(hook, "trace.metadata", &mut info.metadata);
    text(hook, "trace.message", &mut info.message);
    text(hook, "trace.session_id", &mut info.session_id);
    text(hook, "trace.user_id", &mut info.user_id);
    typed(hook, "trace.tags", &mut info.tags);
}

fn redact_span(hook: Hook<'_>, data: &mut SpanData) {
    value(hook, "span.input", &mut data.input);
    value(hook, "span.output", &mut data.output);
    map(hook, "span.metadata", &mut data.metadata);
    text(hook, "span.message", &mut data.message);
    let llm = &mut data.llm;
    typed(hook, "span.messages", &mut llm.messages);
    if let Some(options) = llm.options.take() {
        let mut v = Some(options);
        typed_option(hook, "span.options", &mut v);
        llm.options = v;
    }
    typed(hook, "span.documents", &mut llm.documents);
    typed(hook, "span.queries", &mut llm.queries);
    typed(hook, "span.embedding_inputs", &mut llm.embedding_inputs);
}

/// A captured JSON value (input, output).
fn value(hook: Hook<'_>, path: &str, slot: &mut Option<Value>) {
    if let Some(v) = slot.as_mut() {
        hook(path, v);
        if v.is_null() {
            *slot = None;
        }
    }
}

/// Each entry of a metadata map, as `<prefix>.<key>`. An entry set to `null` is removed.
fn map(hook: Hook<'_>, prefix: &str, m: &mut Map<String, Value>) {
    if m.is_empty() {
        return;
    }
    let mut path = String::with_capacity(prefix.len() + 16);
    m.retain(|key, v| {
        path.clear();
        path.push_str(prefix);
        path.push('.');
        path.push_str(key);
        hook(&path, v);
        !v.is_null()
    });
}

/// A text field, handed over as a JSON string.
fn text(hook: Hook<'_>, path: &str, slot: &mut Option<String>) {
    if let Some(s) = slot.take() {
        let mut v = Value::String(s);
        hook(path, &mut v);
        *slot = match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        };
    }
}

/// A list of typed wire values, handed over as their JSON array.
fn typed<T: Serialize + DeserializeOwned>(hook: Hook<'_>, path: &str, list: &mut Vec<T>) {
    if list.is_empty() {
        return;
    }
    let mut v = serde_json::to_value(&*list).unwrap_or(Value::Null);
    hook(path, &mut v);
    *list = back(path, v).unwrap_or_default();
}

fn typed_option<T: Serialize + DeserializeOwned>(hook: Hook<'_>, path: &str, slot: &mut Option<T>) {
    if let Some(t) = slot.as_ref() {
        let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
        hook(path, &mut v);
        *slot = back(path, v);
    }
}

/// The typed value back from the hook's JSON; removed (and reported once) if it lost its shape.
fn back<T: DeserializeOwned>(path: &str, v: Value) -> Option<T> {
    if v.is_null() {
        return None;
    }
    match serde_json::from_value(v) {
        Ok(t) => Some(t),
        Err(e) => {
            diag::once(
                "redaction_shape",
                format_args!(
                    "the redaction hook changed `{path}` into something that is no longer valid ({e}); it was removed"
                ),
            );
            None
        }
    }
}

fn finding_value(v: &FindingValue) -> Value {
    match v {
        FindingValue::Number(n) => {
            serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        FindingValue::Bool(b) => Value::Bool(*b),
        FindingValue::Text(t) => Value::String(t.clone()),
    }
}

/// Visit every string inside `value` (object keys excluded), for hooks that scrub text
/// wherever it is:
///
/// ```
/// let _ = modelmetry::Config::from_env().redact(|_path, value| {
///     modelmetry::redact_strings(value, |s| {
///         if s.contains('@') {
///             *s = "<email>".to_owned();
///         }
///     })
/// });
/// ```
pub fn redact_strings(value: &mut Value, mut f: impl FnMut(&mut String)) {
    fn walk(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
        match v {
            Value::String(s) => f(s),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, f)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    walk(value, &mut f);
}
