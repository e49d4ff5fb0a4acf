//! The RAII guards that open and close spans and traces, and the handles that set their data.

use std::fmt::Display;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::stack::{self, Slot, TraceOpen};
use crate::capture::{self, Captured};
use crate::record::{Kind, Name, Severity, SpanRecord, TraceInfo};
use crate::signal::{Event, Finding};
use crate::wire;

/// Note each cut field (`(field, original_bytes)`) in `metadata`.
fn note_cuts(metadata: &mut serde_json::Map<String, Value>, cut: &[(String, usize)]) {
    for (field, original) in cut {
        capture::note_truncated(metadata, field, *original);
    }
}

/// Guards and handles point into a thread-local stack, so they must stay on their thread.
type NotSend = PhantomData<*const ()>;

/// Open a span named `name` of kind `kind` under the current span.
///
/// With no trace open on this thread, a trace of the same name is opened around the span and
/// closed with it, so a span is never lost for want of a trace. When tracing is disabled
/// (no [`init`](crate::init), or the `none` exporter) this costs one atomic load and a test.
///
/// ```
/// let span = modelmetry::start_span("llm.generate", modelmetry::Kind::Llm);
/// span.set_model("gpt-4o");
/// span.set_output(&"Hello!");
/// drop(span); // or let it go out of scope: early returns, `?` and panics close it too
/// ```
#[inline]
pub fn start_span(name: impl Into<Name>, kind: Kind) -> SpanGuard {
    if !crate::dispatch::enabled() {
        return SpanGuard::inactive();
    }
    open_span(name.into(), kind)
}

fn open_span(name: Name, kind: Kind) -> SpanGuard {
    SpanGuard {
        span: SpanRef {
            slot: stack::open_span(name, kind),
            _not_send: PhantomData,
        },
    }
}

/// Open a trace named `name`: the root of everything recorded on this thread until the
/// returned guard drops, when the whole trace moves to the exporters.
///
/// If a trace is already open on this thread, this opens a child span instead (kind `other`,
/// marked `nested_trace` in its metadata): traces do not nest, and the work still shows where
/// it happened. The guard's session, user and tags then apply to the enclosing trace.
///
/// ```
/// let trace = modelmetry::start_trace("chatbot.turn");
/// trace.set_session_id("conversation-42");
/// trace.set_user_id("user-7");
/// ```
pub fn start_trace(name: impl Into<Name>) -> TraceGuard {
    if !crate::dispatch::enabled() {
        return TraceGuard {
            target: TraceTarget::Inactive,
            _not_send: PhantomData,
        };
    }
    let target = match stack::open_trace(name.into()) {
        Some(TraceOpen::Root(serial)) => TraceTarget::Root(serial),
        Some(TraceOpen::Nested(slot)) => TraceTarget::Nested(slot),
        None => TraceTarget::Inactive,
    };
    TraceGuard {
        target,
        _not_send: PhantomData,
    }
}

/// The innermost open span on this thread (a handle that does nothing if there is none).
pub fn current_span() -> SpanRef {
    SpanRef {
        slot: stack::current_slot(),
        _not_send: PhantomData,
    }
}

/// The trace open on this thread (a handle that does nothing if there is none).
pub fn current_trace() -> TraceRef {
    TraceRef {
        root: None,
        _not_send: PhantomData,
    }
}

/// Closes its span when dropped: at the end of scope, on early `return`, on `?`, and while a
/// panic unwinds (the span then gets severity `error`). Dereferences to [`SpanRef`] for the
/// setters.
///
/// The guard belongs to the thread that opened the span (it is `!Send`), so it cannot be held
/// across an `.await` in a `Send` future: give a future its span with
/// [`Instrument::in_span`](crate::Instrument::in_span) instead, which follows it across polls
/// and threads.
#[must_use = "the span closes as soon as this guard is dropped; bind it with `let _span = ...`"]
pub struct SpanGuard {
    span: SpanRef,
}

impl SpanGuard {
    #[inline]
    pub(crate) fn inactive() -> Self {
        SpanGuard {
            span: SpanRef {
                slot: None,
                _not_send: PhantomData,
            },
        }
    }

    /// Close the span now (the same as dropping the guard).
    pub fn end(self) {}
}

impl std::ops::Deref for SpanGuard {
    type Target = SpanRef;
    fn deref(&self) -> &SpanRef {
        &self.span
    }
}

impl Drop for SpanGuard {
    #[inline]
    fn drop(&mut self) {
        // Inline, so that an inactive guard (tracing off) costs a test and nothing more.
        if let Some(slot) = self.span.slot {
            close_span(slot);
        }
    }
}

#[inline(never)]
fn close_span(slot: Slot) {
    let panicking = std::thread::panicking();
    stack::close_span(slot, panicking);
    if slot.opened_trace() {
        stack::close_trace(slot.frame_serial(), panicking);
    }
}

impl std::fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanGuard")
            .field("active", &self.span.slot.is_some())
            .finish()
    }
}

/// A handle to an open span, for setting its data. Every setter does nothing once the span
/// has closed, or if the handle points at no span.
#[derive(Clone, Copy)]
pub struct SpanRef {
    slot: Option<Slot>,
    _not_send: NotSend,
}

impl std::fmt::Debug for SpanRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanRef")
            .field("active", &self.slot.is_some())
            .finish()
    }
}

impl SpanRef {
    fn update(&self, f: impl FnOnce(&mut SpanRecord)) {
        if let Some(slot) = self.slot {
            stack::with_span(slot, f);
        }
    }

    /// True if this handle points at an open span.
    pub fn is_recording(&self) -> bool {
        self.slot
            .is_some_and(|slot| stack::with_span(slot, |_| ()).is_some())
    }

    /// True if this handle points at a span (open or closed): a cheap test, no stack access.
    pub(crate) fn is_active(&self) -> bool {
        self.slot.is_some()
    }

    /// The input, already captured (the macros check content capture before capturing),
    /// with the fields that were cut.
    pub(crate) fn put_input(&self, input: Value, cut: &[(String, usize)]) {
        self.update(|r| {
            let d = r.data_mut();
            note_cuts(&mut d.metadata, cut);
            d.input = Some(input);
        });
    }

    /// The output, already captured.
    pub(crate) fn put_output(&self, output: Captured) {
        self.update(|r| {
            let d = r.data_mut();
            d.output = Some(output.noted(&mut d.metadata, "Metadata.output"));
        });
    }

    /// One metadata entry, already captured.
    pub(crate) fn put_metadata(&self, key: &str, value: Captured) {
        self.update(|r| value.insert_into(&mut r.data_mut().metadata, key));
    }

    /// Mark the span as failed with `message` (an error's text, already formatted).
    pub(crate) fn put_error(&self, message: String) {
        self.update(|r| {
            r.severity = Some(Severity::Error);
            r.data_mut().message = Some(message);
        });
    }

    /// Record the span's input (captured as JSON; skipped when content capture is off).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        if self.slot.is_some() {
            if let Some(c) = capture::content(input) {
                self.update(|r| {
                    let d = r.data_mut();
                    d.input = Some(c.noted(&mut d.metadata, "Metadata.input"));
                });
            }
        }
    }

    /// Record the span's output (captured as JSON; skipped when content capture is off).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        if self.slot.is_some() {
            if let Some(c) = capture::content(output) {
                self.update(|r| {
                    let d = r.data_mut();
                    d.output = Some(c.noted(&mut d.metadata, "Metadata.output"));
                });
            }
        }
    }

    /// Set one metadata entry (always recorded: metadata is not content).
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        if self.slot.is_some() {
            let c = capture::metadata(value);
            self.update(|r| c.insert_into(&mut r.data_mut().metadata, key));
        }
    }

    /// Set the span's severity.
    pub fn set_severity(&self, severity: Severity) {
        self.update(|r| r.severity = Some(severity));
    }

    /// Set the span's message.
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        self.update(|r| r.data_mut().message = Some(message));
    }

    /// Mark the span as failed: severity `error`, and the error's text as its message.
    pub fn record_error(&self, error: &dyn Display) {
        if self.slot.is_some() {
            let text = error.to_string();
            self.update(|r| {
                r.severity = Some(Severity::Error);
                r.data_mut().message = Some(text);
            });
        }
    }

    /// The model requested, e.g. `gpt-4o` (completion and embeddings spans).
    pub fn set_model(&self, model: impl Into<String>) {
        let model = model.into();
        self.update(|r| r.data_mut().llm.options_mut().model = Some(model));
    }

    /// The provider, e.g. `openai`.
    pub fn set_provider(&self, provider: impl Into<String>) {
        let provider = provider.into();
        self.update(|r| r.data_mut().llm.options_mut().provider = Some(provider));
    }

    /// The request's options. A model or provider set before and missing here is kept.
    pub fn set_options(&self, options: wire::Options) {
        self.update(|r| {
            let llm = &mut r.data_mut().llm;
            let old = llm.options.take().unwrap_or_default();
            let mut options = options;
            options.model = options.model.or(old.model);
            options.provider = options.provider.or(old.provider);
            llm.options = Some(options);
        });
    }

    /// Replace the messages sent to and received from the model (content: skipped when
    /// content capture is off).
    pub fn set_messages(&self, messages: Vec<wire::Message>) {
        if capture::content_enabled() {
            self.update(|r| r.data_mut().llm.messages = messages);
        }
    }

    /// Append one message (content: skipped when content capture is off).
    pub fn add_message(&self, message: wire::Message) {
        if capture::content_enabled() {
            self.update(|r| r.data_mut().llm.messages.push(message));
        }
    }

    /// Token usage.
    pub fn set_usage(&self, usage: wire::Usage) {
        self.update(|r| r.data_mut().llm.usage = Some(usage));
    }

    /// The call's cost.
    pub fn set_cost(&self, cost: wire::Cost) {
        self.update(|r| r.data_mut().llm.cost = Some(cost));
    }

    /// Add a document (retrieved, or given to the model as context).
    pub fn add_document(&self, document: wire::Document) {
        if capture::content_enabled() {
            self.update(|r| r.data_mut().llm.documents.push(document));
        }
    }

    /// Add a retrieval query.
    pub fn add_query(&self, query: wire::RetrievalQuery) {
        if capture::content_enabled() {
            self.update(|r| r.data_mut().llm.queries.push(query));
        }
    }

    /// The texts an embeddings call embedded.
    pub fn set_embedding_inputs(&self, inputs: Vec<String>) {
        if capture::content_enabled() {
            self.update(|r| r.data_mut().llm.embedding_inputs = inputs);
        }
    }

    /// The provider's id of the response (`chatcmpl-…`), the model that actually answered, and
    /// why generation stopped (`stop`, `length`, `tool_calls`, …), one reason per choice.
    pub fn set_response(&self, id: Option<&str>, model: Option<&str>, finish_reasons: &[&str]) {
        self.update(|r| {
            let llm = &mut r.data_mut().llm;
            llm.response_id = id.map(str::to_owned).or(llm.response_id.take());
            llm.response_model = model.map(str::to_owned).or(llm.response_model.take());
            if !finish_reasons.is_empty() {
                llm.finish_reasons = finish_reasons.iter().map(|s| (*s).to_owned()).collect();
            }
        });
    }

    /// Record a finding on this span.
    pub fn record_finding(&self, finding: Finding) {
        if let Some(slot) = self.slot {
            finding.record_at(Some(slot));
        }
    }

    /// Record an event on this span.
    pub fn record_event(&self, event: Event) {
        if let Some(slot) = self.slot {
            event.record_at(Some(slot));
        }
    }
}

/// Closes its trace when dropped and hands it, whole, to the exporters.
#[must_use = "the trace closes as soon as this guard is dropped; bind it with `let _trace = ...`"]
pub struct TraceGuard {
    target: TraceTarget,
    _not_send: NotSend,
}

#[derive(Clone, Copy)]
enum TraceTarget {
    Root(u64),
    Nested(Slot),
    Inactive,
}

impl TraceGuard {
    /// A handle for setting the trace's data.
    pub fn handle(&self) -> TraceRef {
        TraceRef {
            root: match self.target {
                TraceTarget::Root(serial) => Some(serial),
                _ => None,
            },
            _not_send: PhantomData,
        }
    }

    /// The nested span this guard opened, when a trace was already open.
    fn nested(&self) -> Option<SpanRef> {
        match self.target {
            TraceTarget::Nested(slot) => Some(SpanRef {
                slot: Some(slot),
                _not_send: PhantomData,
            }),
            _ => None,
        }
    }

    /// True unless tracing was off when the guard was made.
    pub(crate) fn is_active(&self) -> bool {
        !matches!(self.target, TraceTarget::Inactive)
    }

    /// True if this guard opened a root trace (not a child span of a trace already open).
    pub(crate) fn is_root(&self) -> bool {
        matches!(self.target, TraceTarget::Root(_))
    }

    /// Hand `value` to the trace, or to the child span when nested.
    fn put<V>(
        &self,
        value: V,
        on_span: impl FnOnce(SpanRef, V),
        on_trace: impl FnOnce(&mut TraceInfo, V),
    ) {
        match self.target {
            TraceTarget::Inactive => {}
            TraceTarget::Nested(slot) => on_span(
                SpanRef {
                    slot: Some(slot),
                    _not_send: PhantomData,
                },
                value,
            ),
            TraceTarget::Root(serial) => {
                stack::with_root_info(serial, |t| on_trace(t, value));
            }
        }
    }

    pub(crate) fn put_input(&self, input: Value, cut: &[(String, usize)]) {
        self.put(
            input,
            |s, v| s.put_input(v, cut),
            |t, v| {
                note_cuts(&mut t.metadata, cut);
                t.input = Some(v);
            },
        );
    }

    pub(crate) fn put_output(&self, output: Captured) {
        self.put(
            output,
            |s, v| s.put_output(v),
            |t, v| t.output = Some(v.noted(&mut t.metadata, "Metadata.output")),
        );
    }

    pub(crate) fn put_metadata(&self, key: &str, value: Captured) {
        self.put(
            value,
            |s, v| s.put_metadata(key, v),
            |t, v| v.insert_into(&mut t.metadata, key),
        );
    }

    pub(crate) fn put_error(&self, message: String) {
        self.put(
            message,
            |s, m| s.put_error(m),
            |t, m| {
                t.severity = Some(Severity::Error);
                t.message = Some(m);
            },
        );
    }

    /// Set the session (conversation) this trace belongs to.
    pub fn set_session_id(&self, session_id: impl Into<String>) {
        if !matches!(self.target, TraceTarget::Inactive) {
            self.handle().set_session_id(session_id);
        }
    }

    /// Set the end user this trace served.
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        if !matches!(self.target, TraceTarget::Inactive) {
            self.handle().set_user_id(user_id);
        }
    }

    /// Add tags to the trace.
    pub fn add_tags<I, S>(&self, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if !matches!(self.target, TraceTarget::Inactive) {
            self.handle().add_tags(tags);
        }
    }

    /// Set one metadata entry of the trace (of the child span, when nested).
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        match (self.target, self.nested()) {
            (TraceTarget::Inactive, _) => {}
            (_, Some(span)) => span.set_metadata(key, value),
            _ => self.handle().set_metadata(key, value),
        }
    }

    /// Record the trace's input (of the child span, when nested).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        match (self.target, self.nested()) {
            (TraceTarget::Inactive, _) => {}
            (_, Some(span)) => span.set_input(input),
            _ => self.handle().set_input(input),
        }
    }

    /// Record the trace's output (of the child span, when nested).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        match (self.target, self.nested()) {
            (TraceTarget::Inactive, _) => {}
            (_, Some(span)) => span.set_output(output),
            _ => self.handle().set_output(output),
        }
    }

    /// Mark the trace (the child span, when nested) as failed with the error's text.
    pub fn record_error(&self, error: &dyn Display) {
        match (self.target, self.nested()) {
            (TraceTarget::Inactive, _) => {}
            (_, Some(span)) => span.record_error(error),
            _ => self.handle().record_error(error),
        }
    }

    /// Close the trace now (the same as dropping the guard).
    pub fn end(self) {}
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        match self.target {
            TraceTarget::Root(serial) => stack::close_trace(serial, panicking),
            TraceTarget::Nested(slot) => stack::close_span(slot, panicking),
            TraceTarget::Inactive => {}
        }
    }
}

impl std::fmt::Debug for TraceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.target {
            TraceTarget::Root(_) => "root",
            TraceTarget::Nested(_) => "nested",
            TraceTarget::Inactive => "inactive",
        };
        f.debug_struct("TraceGuard").field("state", &state).finish()
    }
}

/// A handle to a trace, for setting its data: a specific root trace, or whichever trace is
/// open on this thread ([`current_trace`]).
#[derive(Clone, Copy)]
pub struct TraceRef {
    root: Option<u64>,
    _not_send: NotSend,
}

impl std::fmt::Debug for TraceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceRef").finish_non_exhaustive()
    }
}

impl TraceRef {
    fn update(&self, f: impl FnOnce(&mut TraceInfo)) {
        match self.root {
            Some(serial) => stack::with_root_info(serial, f),
            None => stack::with_trace_info(f),
        };
    }

    pub(crate) fn put_input(&self, input: Value, cut: &[(String, usize)]) {
        self.update(|t| {
            note_cuts(&mut t.metadata, cut);
            t.input = Some(input);
        });
    }

    pub(crate) fn put_output(&self, output: Captured) {
        self.update(|t| t.output = Some(output.noted(&mut t.metadata, "Metadata.output")));
    }

    pub(crate) fn put_metadata(&self, key: &str, value: Captured) {
        self.update(|t| value.insert_into(&mut t.metadata, key));
    }

    pub(crate) fn put_error(&self, message: String) {
        self.update(|t| {
            t.severity = Some(Severity::Error);
            t.message = Some(message);
        });
    }

    /// Set the session (conversation) this trace belongs to.
    pub fn set_session_id(&self, session_id: impl Into<String>) {
        let id = session_id.into();
        self.update(|t| t.session_id = Some(id));
    }

    /// Set the end user this trace served.
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        let id = user_id.into();
        self.update(|t| t.user_id = Some(id));
    }

    /// Add tags (a tag already present is not added twice).
    pub fn add_tags<I, S>(&self, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tags: Vec<String> = tags.into_iter().map(Into::into).collect();
        self.update(|t| {
            for tag in tags {
                if !t.tags.contains(&tag) {
                    t.tags.push(tag);
                }
            }
        });
    }

    /// Set one metadata entry.
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        let c = capture::metadata(value);
        self.update(|t| c.insert_into(&mut t.metadata, key));
    }

    /// Record the trace's input (skipped when content capture is off).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        if let Some(c) = capture::content(input) {
            self.update(|t| t.input = Some(c.noted(&mut t.metadata, "Metadata.input")));
        }
    }

    /// Record the trace's output (skipped when content capture is off).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        if let Some(c) = capture::content(output) {
            self.update(|t| t.output = Some(c.noted(&mut t.metadata, "Metadata.output")));
        }
    }

    /// Mark the trace as failed with the error's text.
    pub fn record_error(&self, error: &dyn Display) {
        let text = error.to_string();
        self.update(|t| {
            t.severity = Some(Severity::Error);
            t.message = Some(text);
        });
    }

    /// Record a finding on the trace itself.
    pub fn record_finding(&self, finding: Finding) {
        finding.record_on_trace();
    }
}
