//! The RAII guards that open and close spans and traces, and the handles that set their data.

use std::fmt::Display;
use std::marker::PhantomData;

use serde::Serialize;

use super::stack::{self, Slot, TraceOpen};
use super::target::Target;
use crate::record::{Kind, Name, Severity};
use crate::signal::{Event, Finding};
use crate::values;

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
    open_span(name, kind)
}

/// Open a span, tracing being on (the caller checked).
#[inline]
pub(crate) fn open_span(name: impl Into<Name>, kind: Kind) -> SpanGuard {
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
        target: Target::CurrentTrace,
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

    /// Close the span: the code it covered returned (it did not unwind), even if a panic is
    /// unwinding through the caller (a span opened and closed inside a `Drop` that runs during
    /// unwinding is not the panic's span).
    #[inline(always)]
    pub(crate) fn close_on_return(self) {
        let slot = self.span.slot;
        std::mem::forget(self);
        if let Some(slot) = slot {
            stack::close_span(slot, false);
        }
    }
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
            stack::close_span(slot, std::thread::panicking());
        }
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
    /// Where this handle's setters write.
    pub(crate) fn target(&self) -> Target {
        self.slot.map_or(Target::Off, Target::Span)
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

    /// True if this handle points at a span whose content (inputs, outputs) is captured:
    /// content capture was on and head sampling kept the trace when its frame opened on this
    /// thread. A test of the handle's bits, no stack access.
    #[inline]
    pub(crate) fn captures_content(&self) -> bool {
        self.slot.is_some_and(Slot::captures_content)
    }

    /// Record the span's input (captured as JSON; skipped when content capture is off).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        self.target().set_input(input);
    }

    /// Record the span's output (captured as JSON; skipped when content capture is off).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        self.target().set_output(output);
    }

    /// Set one metadata entry (always recorded: metadata is not content).
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        self.target().set_metadata(key, value);
    }

    /// Set the span's severity.
    pub fn set_severity(&self, severity: Severity) {
        self.target().set_severity(severity);
    }

    /// Set the span's message.
    pub fn set_message(&self, message: impl Into<String>) {
        self.target().set_message(message.into());
    }

    /// Mark the span as failed: severity `error`, and the error's text as its message.
    pub fn record_error(&self, error: &dyn Display) {
        self.target().record_error(error);
    }

    /// The model requested, e.g. `gpt-4o` (completion and embeddings spans).
    pub fn set_model(&self, model: impl Into<String>) {
        self.target().set_model(model.into());
    }

    /// The provider, e.g. `openai`.
    pub fn set_provider(&self, provider: impl Into<String>) {
        self.target().set_provider(provider.into());
    }

    /// The request's options. A model or provider set before and missing here is kept.
    pub fn set_options(&self, options: values::Options) {
        self.target().set_options(options);
    }

    /// Replace the messages sent to and received from the model (content: skipped when
    /// content capture is off).
    pub fn set_messages(&self, messages: Vec<values::Message>) {
        self.target().set_messages(messages);
    }

    /// Append one message (content: skipped when content capture is off).
    pub fn add_message(&self, message: values::Message) {
        self.target().add_message(message);
    }

    /// Token usage.
    pub fn set_usage(&self, usage: values::Usage) {
        self.target().set_usage(usage);
    }

    /// The call's cost.
    pub fn set_cost(&self, cost: values::Cost) {
        self.target().set_cost(cost);
    }

    /// Add a document (retrieved, or given to the model as context).
    pub fn add_document(&self, document: values::Document) {
        self.target().add_document(document);
    }

    /// Add a retrieval query.
    pub fn add_query(&self, query: values::RetrievalQuery) {
        self.target().add_query(query);
    }

    /// The texts an embeddings call embedded.
    pub fn set_embedding_inputs(&self, inputs: Vec<String>) {
        self.target().set_embedding_inputs(inputs);
    }

    /// The provider's id of the response (`chatcmpl-…`), the model that actually answered, and
    /// why generation stopped (`stop`, `length`, `tool_calls`, …), one reason per choice.
    pub fn set_response(&self, id: Option<&str>, model: Option<&str>, finish_reasons: &[&str]) {
        self.target().set_response(id, model, finish_reasons);
    }

    /// Record a finding on this span.
    pub fn record_finding(&self, finding: Finding) {
        self.target().record_finding(finding);
    }

    /// Record an event on this span.
    pub fn record_event(&self, event: Event) {
        self.target().record_event(event);
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
    /// A handle for setting the trace's data (the enclosing trace's, when nested).
    pub fn handle(&self) -> TraceRef {
        TraceRef {
            target: self.trace_target(),
            _not_send: PhantomData,
        }
    }

    /// Where input, output, metadata and errors go: the trace, or the child span when nested.
    pub(crate) fn target(&self) -> Target {
        match self.target {
            TraceTarget::Root(serial) => Target::Trace(serial),
            TraceTarget::Nested(slot) => Target::Span(slot),
            TraceTarget::Inactive => Target::Off,
        }
    }

    /// Where session, user and tags go: the trace, or the enclosing trace when nested.
    pub(crate) fn trace_target(&self) -> Target {
        match self.target {
            TraceTarget::Root(serial) => Target::Trace(serial),
            TraceTarget::Nested(slot) => Target::Trace(slot.frame_serial()),
            TraceTarget::Inactive => Target::Off,
        }
    }

    /// True if this guard opened a root trace (not a child span of a trace already open).
    pub(crate) fn is_root(&self) -> bool {
        matches!(self.target, TraceTarget::Root(_))
    }

    /// Set the session (conversation) this trace belongs to.
    pub fn set_session_id(&self, session_id: impl Into<String>) {
        self.handle().set_session_id(session_id);
    }

    /// Set the end user this trace served.
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        self.handle().set_user_id(user_id);
    }

    /// Add tags to the trace.
    pub fn add_tags<I, S>(&self, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.handle().add_tags(tags);
    }

    /// Set one metadata entry of the trace (of the child span, when nested).
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        self.target().set_metadata(key, value);
    }

    /// Record the trace's input (of the child span, when nested).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        self.target().set_input(input);
    }

    /// Record the trace's output (of the child span, when nested).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        self.target().set_output(output);
    }

    /// Mark the trace (the child span, when nested) as failed with the error's text.
    pub fn record_error(&self, error: &dyn Display) {
        self.target().record_error(error);
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

/// A handle to a trace, for setting its data: a specific trace ([`TraceGuard::handle`]), or
/// whichever trace is open on this thread when a setter runs ([`current_trace`]).
#[derive(Clone, Copy)]
pub struct TraceRef {
    target: Target,
    _not_send: NotSend,
}

impl std::fmt::Debug for TraceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceRef").finish_non_exhaustive()
    }
}

impl TraceRef {
    /// Set the session (conversation) this trace belongs to.
    pub fn set_session_id(&self, session_id: impl Into<String>) {
        if !self.target.is_off() {
            self.target.set_session_id(session_id.into());
        }
    }

    /// Set the end user this trace served.
    pub fn set_user_id(&self, user_id: impl Into<String>) {
        if !self.target.is_off() {
            self.target.set_user_id(user_id.into());
        }
    }

    /// Add tags (a tag already present is not added twice).
    pub fn add_tags<I, S>(&self, tags: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if !self.target.is_off() {
            self.target
                .add_tags(tags.into_iter().map(Into::into).collect());
        }
    }

    /// Set one metadata entry.
    pub fn set_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        self.target.set_metadata(key, value);
    }

    /// Record the trace's input (skipped when content capture is off).
    pub fn set_input<T: Serialize + ?Sized>(&self, input: &T) {
        self.target.set_input(input);
    }

    /// Record the trace's output (skipped when content capture is off).
    pub fn set_output<T: Serialize + ?Sized>(&self, output: &T) {
        self.target.set_output(output);
    }

    /// Mark the trace as failed with the error's text.
    pub fn record_error(&self, error: &dyn Display) {
        self.target.record_error(error);
    }

    /// Record a finding on the trace itself (the trace this handle names, whatever is
    /// innermost on the thread).
    pub fn record_finding(&self, finding: Finding) {
        self.target.record_finding(finding);
    }
}
