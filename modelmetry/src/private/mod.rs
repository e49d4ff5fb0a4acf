//! What the macros' expansions call. **Not a stable API**: it changes with the macros, in any
//! release, without notice. Use the macros, or the public API they are built on.
//!
//! The macros' whole contract with the runtime is here, and nothing else in the crate calls it:
//!
//! | file | what the expansions use |
//! | --- | --- |
//! | `mod.rs` | [`Scope`] and [`SpanScope`] (the span or trace a function opened, and its setters), [`AsyncScope`], [`Input`], names, tags, [`is_enabled`] |
//! | `capture.rs` | the compile-time choice of how a value is captured (JSON, `Debug` text or a placeholder) and how an error is described, by autoref method resolution |
//! | `fold.rs` | the same choice for the fold of a `#[span(stream)]`'s items |
//!
//! Every item here is cheap when tracing is off: [`is_enabled`] is one atomic load, and the
//! expansions test it (through [`Scope::is_active`]) before they capture or format anything.

use serde_json::{Map, Value};

mod capture;
mod fold;

pub use self::capture::{
    Capture, CaptureDebug, CaptureOpaque, CaptureSerialize, ErrorBoxed, ErrorChain, ErrorDebug,
    ErrorDisplay, ErrorOpaque, ErrorText, NoError, Outcome, OutcomeOfResult, OutcomeOfValue,
};
#[cfg(not(feature = "stream"))]
pub use self::fold::StreamFeature;
pub use self::fold::{
    DescribeBoxed, DescribeChain, DescribeDebug, DescribeDisplay, DescribeOpaque, FoldJson,
    FoldNothing, FoldText, OfType, PlainShape, ResultItems, ResultShape, SplitPlain, SplitResult,
    iter_items, stream_items, user_fold,
};
pub use crate::capture::Captured;
pub use crate::context::future::{Instrument, Instrumented};
pub use crate::context::stream::StreamSpan;
pub use crate::fold::Nothing;
pub use crate::record::Kind;
pub use crate::signal::{Event, Finding};

use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;

use crate::context::future::FutureSpan;
use crate::context::guard::{self, SpanGuard, TraceGuard};
use crate::context::owned::Owned;
use crate::context::stack;
use crate::context::target::Target;
use crate::{client, diag};

/// True when tracing is on: one atomic load.
#[inline]
pub fn is_enabled() -> bool {
    crate::dispatch::enabled()
}

/// True when tracing is on and content (inputs, outputs) is captured.
#[inline]
pub fn content_enabled() -> bool {
    crate::dispatch::enabled() && crate::capture::content_enabled()
}

/// True when a trace is open on this thread (an async `#[trace]` asks before it opens its own,
/// to know whether it will be the root).
pub fn in_trace() -> bool {
    crate::dispatch::enabled() && stack::in_trace()
}

/// A function's arguments, captured: one JSON object, and the fields that were cut.
#[derive(Debug)]
pub struct Input {
    value: Value,
    cut: Vec<(String, usize)>,
}

/// False inside a trace head sampling dropped: the macros' `metadata(...)` values are then not
/// captured at all.
#[inline]
pub fn metadata_enabled() -> bool {
    !crate::capture::sampled_out()
}

/// A parameter named in `redact(...)`: its type's name only, never its value.
pub fn redacted<T: ?Sized>(_: &T) -> Captured {
    Captured {
        value: Value::String(format!("<redacted: {}>", std::any::type_name::<T>())),
        original_bytes: None,
    }
}

/// Input fields as one JSON object. Fields are captured by [`Capture`], each capped.
pub fn input<const N: usize>(fields: [(&'static str, Captured); N]) -> Input {
    let mut m = Map::new();
    let mut cut = Vec::new();
    for (k, c) in fields {
        if let Some(original) = c.original_bytes {
            cut.push((format!("Metadata.input.{k}"), original));
        }
        m.insert(k.to_owned(), c.value);
    }
    Input {
        value: Value::Object(m),
        cut,
    }
}

/// A text option of `finding!`.
pub fn tag(tag: impl Into<String>) -> String {
    tag.into()
}

/// A tag of `#[trace(tags = [...])]`, taken by reference so that a variable is not moved.
pub fn tag_ref<T: Clone + Into<String>>(tag: &T) -> String {
    tag.clone().into()
}

/// A `name = <expr>` that is not a literal: evaluated only when tracing is on (an empty name,
/// never recorded, when it is off). The expression is taken by reference, so a variable is
/// not moved.
#[inline]
pub fn lazy_name(name: impl FnOnce() -> String) -> Cow<'static, str> {
    if crate::dispatch::enabled() {
        Cow::Owned(name())
    } else {
        Cow::Borrowed("")
    }
}

/// The text of a `name = <expr>`: anything `Display`.
pub fn name_text<T: Display + ?Sized>(name: &T) -> String {
    name.to_string()
}

/// Names lifetimes in an opaque type's bounds, so that the future an attributed `async fn`
/// returns captures every lifetime its arguments have, in edition 2021 as in 2024. Every type
/// implements it.
pub trait Captures<T: ?Sized> {}

impl<T: ?Sized, U: ?Sized> Captures<T> for U {}

/// The span (or trace) of an attributed `async fn`, opened when the function is called, so
/// that its parent is the span current at the call, wherever the future is polled. Nothing is
/// opened when tracing is off.
#[must_use]
pub struct AsyncScope {
    span: FutureSpan,
}

impl AsyncScope {
    /// `#[span]`: a span under the current one.
    #[inline]
    pub fn span(name: impl Into<Cow<'static, str>>, kind: Kind) -> AsyncScope {
        AsyncScope {
            span: FutureSpan::new(Owned::span(name.into(), kind)),
        }
    }

    /// `#[trace]`: a trace, or a child span when a trace is open.
    #[inline]
    pub fn trace(name: impl Into<Cow<'static, str>>) -> AsyncScope {
        AsyncScope {
            span: FutureSpan::new(Owned::trace(name.into())),
        }
    }

    /// The function's body, which the span now follows across polls.
    #[inline]
    pub fn wrap<F: Future>(self, body: F) -> Instrumented<F> {
        self.span.wrap(body)
    }
}

impl std::fmt::Debug for AsyncScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncScope").finish_non_exhaustive()
    }
}

/// A finding's metadata entry, already captured.
pub fn finding_metadata(finding: Finding, key: &str, value: Captured) -> Finding {
    finding.metadata_value(key, value)
}

/// An event's metadata entry, already captured.
pub fn event_metadata(event: Event, key: &str, value: Captured) -> Event {
    event.with_value(key, value)
}

/// `Box::new`, for `#[span(stream)]` on a function returning `Box<dyn Iterator<..>>`: the box
/// of the wrapped stream is coerced to the declared one where the function returns it.
pub fn boxed<T>(value: T) -> Box<T> {
    Box::new(value)
}

/// `Box::pin`, for `Pin<Box<dyn Stream<..>>>`.
pub fn boxed_pin<T>(value: T) -> std::pin::Pin<Box<T>> {
    Box::pin(value)
}

/// A value that is not `Copy`, moved into the closure that runs a function's body: the move
/// makes the closure `FnOnce`, so a body may return borrows of what it captured (a
/// `&mut self` method returning `&mut self.field`), exactly as it could without the macro.
#[derive(Debug, Default)]
pub struct Once(());

impl Once {
    /// Make one.
    #[inline]
    pub fn new() -> Once {
        Once(())
    }

    /// Consume it.
    #[inline]
    pub fn take(self) {}
}

/// The span a synchronous `#[span]` function opened: the macro's hot path, so a type of its
/// own with nothing to match on.
///
/// The expansion tests [`is_enabled`] itself and, when tracing is on, hands the function's
/// body (a closure taking the scope) to [`SpanScope::run`]: the span opens, the body runs, the
/// span closes, in one function of its own that the body is inlined into. The user's function
/// keeps only the test and the call, and when tracing is off runs the body with
/// [`SpanScope::off`], whose every setter and test the compiler folds away.
#[must_use]
pub struct SpanScope {
    guard: SpanGuard,
}

impl SpanScope {
    /// Run `work` in a span named `name` (`#[span]` on a function that is not `async`), tracing
    /// being on. If `work` unwinds, the span closes as the panic's (severity `error`).
    #[inline(never)]
    pub fn run<R>(name: &'static str, kind: Kind, work: impl FnOnce(&SpanScope) -> R) -> R {
        let scope = SpanScope {
            guard: guard::open_span(name, kind),
        };
        let ret = work(&scope);
        scope.end();
        ret
    }

    /// [`SpanScope::run`] for a name that is an expression ([`lazy_name`]).
    #[inline(never)]
    pub fn run_named<R>(
        name: Cow<'static, str>,
        kind: Kind,
        work: impl FnOnce(&SpanScope) -> R,
    ) -> R {
        let scope = SpanScope {
            guard: guard::open_span(name, kind),
        };
        let ret = work(&scope);
        scope.end();
        ret
    }

    /// No span: what the body gets when tracing is off.
    #[inline(always)]
    pub fn off() -> SpanScope {
        SpanScope {
            guard: SpanGuard::inactive(),
        }
    }

    /// Close the span: the body returned.
    #[inline(always)]
    fn end(self) {
        self.guard.close_on_return();
    }

    /// True when something is being recorded: test this before capturing anything.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.guard.is_active()
    }

    /// True when the span's content (the arguments, the return value) is captured: test
    /// this before capturing them. Decided when the trace opened on this thread.
    #[inline]
    pub fn captures_content(&self) -> bool {
        self.guard.captures_content()
    }

    /// The function's arguments.
    pub fn set_input(&self, input: Input) {
        self.guard.target().put_input(input.value, &input.cut);
    }

    /// The function's return value (`null`, from `()` or `None`, is not recorded).
    pub fn set_output(&self, output: Captured) {
        if !output.value.is_null() {
            self.guard.target().put_output(output);
        }
    }

    /// The function returned `Err`: severity `error`, and the error's text as the message.
    pub fn set_error(&self, message: String) {
        self.guard.target().put_error(message);
    }

    /// One `metadata(key = value)` entry.
    pub fn set_metadata(&self, key: &str, value: Captured) {
        self.guard.target().put_metadata(key, value);
    }

    /// `model = ...`, by reference.
    pub fn set_model<T: Clone + Into<String>>(&self, model: &T) {
        self.guard.target().set_model(model.clone().into());
    }

    /// `provider = ...`, by reference.
    pub fn set_provider<T: Clone + Into<String>>(&self, provider: &T) {
        self.guard.target().set_provider(provider.clone().into());
    }
}

impl std::fmt::Debug for SpanScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanScope")
            .field("active", &self.is_active())
            .finish()
    }
}

/// Where a macro records: the span or trace it opened (and closes when dropped), or, in an
/// async function, the span or trace that the instrumented future carries.
#[must_use]
pub struct Scope {
    /// The trace a synchronous `#[trace]` opened, closed when the scope drops.
    guard: Option<TraceGuard>,
    /// Where input, output, metadata and errors go.
    target: Target,
    /// Where session, user and tags go.
    trace: Target,
    flush: bool,
}

impl Scope {
    /// Open a trace (`#[trace]` on a function); `flush`: flush when it closes, if it was the
    /// root.
    #[inline]
    pub fn trace(name: impl Into<Cow<'static, str>>, flush: bool) -> Scope {
        if !crate::dispatch::enabled() {
            return Scope::off();
        }
        let guard = guard::start_trace(name);
        Scope {
            target: guard.target(),
            trace: guard.trace_target(),
            guard: Some(guard),
            flush,
        }
    }

    /// The span an async `#[span]` carries (valid during its poll).
    #[inline]
    pub fn current_span() -> Scope {
        if !crate::dispatch::enabled() {
            return Scope::off();
        }
        Scope {
            guard: None,
            target: Target::current_span(),
            trace: Target::Off,
            flush: false,
        }
    }

    /// The trace (or child span) an async `#[trace]` carries (valid during its poll): its
    /// child span when nested, the trace itself when it is the root.
    #[inline]
    pub fn current_trace() -> Scope {
        if !crate::dispatch::enabled() {
            return Scope::off();
        }
        let target = match Target::current_span() {
            Target::Off => Target::CurrentTrace,
            span => span,
        };
        Scope {
            guard: None,
            target,
            trace: Target::CurrentTrace,
            flush: false,
        }
    }

    fn off() -> Scope {
        Scope {
            guard: None,
            target: Target::Off,
            trace: Target::Off,
            flush: false,
        }
    }

    /// True when something is being recorded: test this before capturing anything.
    #[inline]
    pub fn is_active(&self) -> bool {
        !self.target.is_off()
    }

    /// True when content (the arguments, the return value) is captured here.
    #[inline]
    pub fn captures_content(&self) -> bool {
        self.is_active() && crate::capture::content_enabled()
    }

    /// The function's arguments.
    pub fn set_input(&self, input: Input) {
        self.target.put_input(input.value, &input.cut);
    }

    /// The function's return value (`null`, from `()` or `None`, is not recorded).
    pub fn set_output(&self, output: Captured) {
        if !output.value.is_null() {
            self.target.put_output(output);
        }
    }

    /// The function returned `Err`: severity `error`, and the error's text as the message.
    pub fn set_error(&self, message: String) {
        self.target.put_error(message);
    }

    /// One `metadata(key = value)` entry.
    pub fn set_metadata(&self, key: &str, value: Captured) {
        self.target.put_metadata(key, value);
    }

    /// `model = ...` of `#[span]`, by reference.
    pub fn set_model<T: Clone + Into<String>>(&self, model: &T) {
        self.target.set_model(model.clone().into());
    }

    /// `provider = ...` of `#[span]`, by reference.
    pub fn set_provider<T: Clone + Into<String>>(&self, provider: &T) {
        self.target.set_provider(provider.clone().into());
    }

    /// `session = ...` of `#[trace]` (always the trace's, even when nested), by reference: an
    /// owned `String` the body uses afterwards is not moved.
    pub fn set_session<T: Clone + Into<String>>(&self, session_id: &T) {
        self.trace.set_session_id(session_id.clone().into());
    }

    /// `user = ...` of `#[trace]`, by reference.
    pub fn set_user<T: Clone + Into<String>>(&self, user_id: &T) {
        self.trace.set_user_id(user_id.clone().into());
    }

    /// `tags = [...]` of `#[trace]`.
    pub fn add_tags<const N: usize>(&self, tags: [String; N]) {
        self.trace.add_tags(tags.into());
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let flush = self.flush && self.guard.as_ref().is_some_and(TraceGuard::is_root);
        drop(self.guard.take());
        if flush {
            flush_now();
        }
    }
}

/// `#[trace(flush)]` on an async function: flush once its trace, if it was the root, closed.
pub fn flush_if_root(root: bool) {
    if root && crate::dispatch::enabled() {
        flush_now();
    }
}

fn flush_now() {
    if let Err(e) = client::flush_with_configured_timeout() {
        diag::report(format_args!("#[trace(flush)]: {e}"));
    }
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("active", &self.is_active())
            .finish()
    }
}
