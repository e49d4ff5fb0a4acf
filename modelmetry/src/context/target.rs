//! Where a setter writes, and the one setter for each field.
//!
//! Every way of setting a span's or a trace's data (the public handles [`SpanRef`],
//! [`TraceRef`] and [`TraceGuard`], the macros' scopes, `llm::`) resolves to a [`Target`] and
//! calls its setter: how a field is captured, capped and noted when cut is written once, here.
//!
//! [`SpanRef`]: crate::SpanRef
//! [`TraceRef`]: crate::TraceRef
//! [`TraceGuard`]: crate::TraceGuard

use std::fmt::Display;

use serde::Serialize;
use serde_json::{Map, Value};

use super::stack::{self, Slot};
use crate::capture::{self, Captured};
use crate::record::{Severity, SpanRecord, TraceInfo};
use crate::signal::{At, Event, Finding};
use crate::values;

/// A span, a trace, or nothing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// Nothing is recorded (tracing off, or no span to record on).
    Off,
    /// The span in this slot.
    Span(Slot),
    /// The trace of the frame with this serial (the root frame of a trace opened on this
    /// thread, or a frame attached from a `Context`).
    Trace(u64),
    /// Whichever trace is innermost on this thread when the setter runs.
    CurrentTrace,
}

/// The fields spans and traces share, borrowed for one setter.
struct Common<'a> {
    input: &'a mut Option<Value>,
    output: &'a mut Option<Value>,
    metadata: &'a mut Map<String, Value>,
    severity: &'a mut Option<Severity>,
    message: &'a mut Option<String>,
}

impl<'a> Common<'a> {
    fn of_span(r: &'a mut SpanRecord) -> Common<'a> {
        let d = r.data.get_or_insert_with(Default::default);
        Common {
            input: &mut d.input,
            output: &mut d.output,
            metadata: &mut d.metadata,
            severity: &mut r.severity,
            message: &mut d.message,
        }
    }

    fn of_trace(t: &'a mut TraceInfo) -> Common<'a> {
        Common {
            input: &mut t.input,
            output: &mut t.output,
            metadata: &mut t.metadata,
            severity: &mut t.severity,
            message: &mut t.message,
        }
    }
}

impl Target {
    /// The innermost open span on this thread.
    pub(crate) fn current_span() -> Target {
        stack::current_slot().map_or(Target::Off, Target::Span)
    }

    pub(crate) fn is_off(self) -> bool {
        matches!(self, Target::Off)
    }

    /// Run `f` on the fields a span and a trace share.
    fn common(self, f: impl FnOnce(Common<'_>)) {
        match self {
            Target::Off => {}
            Target::Span(slot) => {
                stack::with_span(slot, |r| f(Common::of_span(r)));
            }
            Target::Trace(serial) => {
                stack::with_root_info(serial, |t| f(Common::of_trace(t)));
            }
            Target::CurrentTrace => {
                stack::with_trace_info(|t| f(Common::of_trace(t)));
            }
        }
    }

    /// Run `f` on a span's record (a trace has no model-call data).
    fn span(self, f: impl FnOnce(&mut SpanRecord)) {
        if let Target::Span(slot) = self {
            stack::with_span(slot, f);
        }
    }

    /// Run `f` on a trace's data (a span has no session, user or tags).
    fn trace(self, f: impl FnOnce(&mut TraceInfo)) {
        match self {
            Target::Trace(serial) => {
                stack::with_root_info(serial, f);
            }
            Target::CurrentTrace => {
                stack::with_trace_info(f);
            }
            Target::Off | Target::Span(_) => {}
        }
    }

    // ---- input, output, metadata, error: captured here or by the macros --------------------

    /// The input, already captured (the macros check content capture before capturing), with
    /// the fields that were cut.
    pub(crate) fn put_input(self, input: Value, cut: &[(String, usize)]) {
        self.common(|c| {
            for (field, original) in cut {
                capture::note_truncated(c.metadata, field, *original);
            }
            *c.input = Some(input);
        });
    }

    /// The input, captured as JSON (skipped when content capture is off).
    pub(crate) fn set_input<T: Serialize + ?Sized>(self, input: &T) {
        if self.is_off() {
            return;
        }
        if let Some(Captured {
            value,
            original_bytes,
        }) = capture::content(input)
        {
            match original_bytes {
                Some(original) => self.put_input(value, &[("Metadata.input".into(), original)]),
                None => self.put_input(value, &[]),
            }
        }
    }

    /// The output, already captured.
    pub(crate) fn put_output(self, output: Captured) {
        self.common(|c| *c.output = Some(output.noted(c.metadata, "Metadata.output")));
    }

    /// The output, captured as JSON (skipped when content capture is off).
    pub(crate) fn set_output<T: Serialize + ?Sized>(self, output: &T) {
        if self.is_off() {
            return;
        }
        if let Some(captured) = capture::content(output) {
            self.put_output(captured);
        }
    }

    /// One metadata entry, already captured.
    pub(crate) fn put_metadata(self, key: &str, value: Captured) {
        self.common(|c| value.insert_into(c.metadata, key));
    }

    /// One metadata entry, captured as JSON (metadata is not content, but a trace dropped by
    /// head sampling captures none).
    pub(crate) fn set_metadata<T: Serialize + ?Sized>(self, key: &str, value: &T) {
        if !self.is_off() && !capture::sampled_out() {
            self.put_metadata(key, capture::metadata(value));
        }
    }

    /// Add strings to the list under `key` (made a list if it held something else), keeping at
    /// most `max` of them and no duplicates: notes from several calls on one span.
    pub(crate) fn append_metadata(self, key: &str, items: &[String], max: usize) {
        self.common(|c| {
            let entry = c
                .metadata
                .entry(key.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(list) = entry {
                for item in items {
                    if list.len() >= max {
                        break;
                    }
                    if !list.iter().any(|v| v.as_str() == Some(item)) {
                        list.push(Value::String(item.clone()));
                    }
                }
            }
        });
    }

    /// Failed, with `message` (an error's text, already formatted).
    pub(crate) fn put_error(self, message: String) {
        let message = (!capture::sampled_out()).then_some(message);
        self.common(|c| {
            *c.severity = Some(Severity::Error);
            *c.message = message;
        });
    }

    /// Failed, with the error's text (not formatted in a trace dropped by head sampling:
    /// only its severity is kept, for the tail rules).
    pub(crate) fn record_error(self, error: &dyn Display) {
        if self.is_off() {
        } else if capture::sampled_out() {
            self.set_severity(Severity::Error);
        } else {
            self.put_error(error.to_string());
        }
    }

    pub(crate) fn set_severity(self, severity: Severity) {
        self.common(|c| *c.severity = Some(severity));
    }

    pub(crate) fn set_message(self, message: String) {
        self.common(|c| *c.message = Some(message));
    }

    // ---- findings and events ----------------------------------------------------------------

    /// A finding on this span, or on this trace itself.
    pub(crate) fn record_finding(self, finding: Finding) {
        if let Some(at) = self.at() {
            finding.record_at(at);
        }
    }

    /// An event on this span, or on this trace itself.
    pub(crate) fn record_event(self, event: Event) {
        if let Some(at) = self.at() {
            event.record_at(at);
        }
    }

    fn at(self) -> Option<At> {
        match self {
            Target::Off => None,
            Target::Span(slot) => Some(At::Span(slot)),
            Target::Trace(serial) => Some(At::Trace(serial)),
            Target::CurrentTrace => Some(At::InnermostTrace),
        }
    }

    // ---- a trace's own data -----------------------------------------------------------------

    pub(crate) fn set_session_id(self, session_id: String) {
        self.trace(|t| t.session_id = Some(session_id));
    }

    pub(crate) fn set_user_id(self, user_id: String) {
        self.trace(|t| t.user_id = Some(user_id));
    }

    /// Add tags (a tag already present is not added twice).
    pub(crate) fn add_tags(self, tags: Vec<String>) {
        self.trace(|t| {
            for tag in tags {
                if !t.tags.contains(&tag) {
                    t.tags.push(tag);
                }
            }
        });
    }

    // ---- a model call's data (spans only) ---------------------------------------------------

    pub(crate) fn set_model(self, model: String) {
        self.span(|r| r.data_mut().llm.options_mut().model = Some(model));
    }

    pub(crate) fn set_provider(self, provider: String) {
        self.span(|r| r.data_mut().llm.options_mut().provider = Some(provider));
    }

    /// The provider, unless the span names one already (a provider's JSON implies one; the
    /// user's own choice, e.g. a self-hosted server, wins).
    pub(crate) fn set_provider_if_unset(self, provider: &str) {
        self.span(|r| {
            let options = r.data_mut().llm.options_mut();
            if options.provider.is_none() {
                options.provider = Some(provider.to_owned());
            }
        });
    }

    /// The request's options. A model or provider set before and missing here is kept.
    pub(crate) fn set_options(self, mut options: values::Options) {
        self.span(|r| {
            let llm = &mut r.data_mut().llm;
            let old = llm.options.take().unwrap_or_default();
            options.model = options.model.or(old.model);
            options.provider = options.provider.or(old.provider);
            llm.options = Some(options);
        });
    }

    /// Content on a span: skipped when content capture is off.
    fn span_content(self, f: impl FnOnce(&mut SpanRecord)) {
        if !self.is_off() && capture::content_enabled() {
            self.span(f);
        }
    }

    pub(crate) fn set_messages(self, messages: Vec<values::Message>) {
        self.span_content(|r| r.data_mut().llm.messages = messages);
    }

    pub(crate) fn add_message(self, message: values::Message) {
        self.span_content(|r| r.data_mut().llm.messages.push(message));
    }

    pub(crate) fn add_document(self, document: values::Document) {
        self.span_content(|r| r.data_mut().llm.documents.push(document));
    }

    pub(crate) fn add_query(self, query: values::RetrievalQuery) {
        self.span_content(|r| r.data_mut().llm.queries.push(query));
    }

    pub(crate) fn set_embedding_inputs(self, inputs: Vec<String>) {
        self.span_content(|r| r.data_mut().llm.embedding_inputs = inputs);
    }

    pub(crate) fn set_usage(self, usage: values::Usage) {
        self.span(|r| r.data_mut().llm.usage = Some(usage));
    }

    pub(crate) fn set_cost(self, cost: values::Cost) {
        self.span(|r| r.data_mut().llm.cost = Some(cost));
    }

    pub(crate) fn set_service_tier(self, tier: String) {
        self.span(|r| r.data_mut().llm.service_tier = Some(tier));
    }

    /// The provider's response id, the model that answered, and why generation stopped.
    pub(crate) fn set_response(
        self,
        id: Option<&str>,
        model: Option<&str>,
        finish_reasons: &[&str],
    ) {
        self.span(|r| {
            let llm = &mut r.data_mut().llm;
            llm.response_id = id.map(str::to_owned).or(llm.response_id.take());
            llm.response_model = model.map(str::to_owned).or(llm.response_model.take());
            if !finish_reasons.is_empty() {
                llm.finish_reasons = finish_reasons.iter().map(|s| (*s).to_owned()).collect();
            }
        });
    }
}
