//! The redaction hook: every captured value of a finished trace passes through the user's
//! [`Config::redact`](crate::Config::redact) callback before any exporter sees it.
//!
//! Why here, once per finished trace, and not where values are captured: a trace's content
//! arrives through many doors (the macros, every setter of the manual API, findings, events,
//! messages built by hand), and a hook at each door is a hook that some door forgets. At the
//! pipeline's single exit nothing can slip past, the hook runs off the application's path (on
//! the flusher thread in background delivery), and it runs only when a trace is exported.
//! With a spool in background delivery it runs on the closing thread instead, once, before
//! the trace is journaled: nothing unredacted reaches the disk.
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
use crate::record::{FinishedTrace, SignalBody, SpanData, TraceInfo};
use crate::stats::{self, Loss};
use crate::values::FindingValue;

/// The user's redaction callback.
pub(crate) type RedactHook = Arc<dyn Fn(&str, &mut Value) + Send + Sync>;

/// Redact every trace in `traces` in place. A trace whose redaction panics is removed and
/// counted; returns the number of records removed that way.
pub(crate) fn apply(hook: Option<&RedactHook>, traces: &mut Vec<FinishedTrace>) -> u64 {
    apply_counted(hook, traces, Destination::First)
}

/// [`apply`] for a second destination's own copy of the traces: a trace whose redaction
/// panics is removed and counted in `stats().also.dropped`, not in the main counters.
pub(crate) fn apply_for_second_destination(
    hook: Option<&RedactHook>,
    traces: &mut Vec<FinishedTrace>,
) -> u64 {
    apply_counted(hook, traces, Destination::Second)
}

/// Whose counters a trace lost to a panicking hook goes to.
#[derive(Clone, Copy)]
enum Destination {
    First,
    Second,
    /// As `First` and `Second`, counted by the caller.
    FirstUncounted,
    SecondUncounted,
}

/// [`apply`] (or, with `second`, [`apply_for_second_destination`]) that does not count the
/// records it removes: the caller counts them as `redaction_failed` (or in
/// `stats().also.dropped`), unless shutdown has counted them already (the flusher redacts the
/// batch in flight, which shutdown's deadline may claim while the hook runs).
pub(crate) fn apply_uncounted(
    hook: Option<&RedactHook>,
    traces: &mut Vec<FinishedTrace>,
    second: bool,
) -> u64 {
    let destination = if second {
        Destination::SecondUncounted
    } else {
        Destination::FirstUncounted
    };
    apply_counted(hook, traces, destination)
}

fn apply_counted(
    hook: Option<&RedactHook>,
    traces: &mut Vec<FinishedTrace>,
    destination: Destination,
) -> u64 {
    let Some(hook) = hook else {
        return 0;
    };
    let mut lost = 0;
    traces.retain_mut(|trace| {
        let ok = redacted(hook, trace);
        if !ok {
            let records = trace.record_count();
            lost += records;
            let (to, counted_in) = match destination {
                Destination::First => {
                    stats::count_drop(Loss::RedactionFailed, records);
                    ("", "stats().dropped.redaction_failed")
                }
                Destination::Second => {
                    stats::count_also(0, 0, 0, records);
                    (" to the second destination", "stats().also.dropped")
                }
                Destination::FirstUncounted => ("", "stats().dropped.redaction_failed"),
                Destination::SecondUncounted => {
                    (" to the second destination", "stats().also.dropped")
                }
            };
            diag::report(format_args!(
                "the redaction hook panicked; the trace ({records} record(s)) was dropped rather than sent unredacted{to} (counted in {counted_in})"
            ));
        }
        ok
    });
    lost
}

/// Run the hook over `trace`; false if it panicked. The hook is user code: tracing is off on
/// this thread while it runs (a hook that calls an instrumented function must not make traces
/// of its own traces), and a panic is caught.
fn redacted(hook: &RedactHook, trace: &mut FinishedTrace) -> bool {
    crate::switch::user_code(|| redact_trace(hook.as_ref(), trace)).is_ok()
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
