//! [`Context`]: the current trace and span, carried to another thread so that spans there nest
//! under the right parent.

use std::marker::PhantomData;
use std::sync::Arc;

use super::stack::{self, SharedTrace};
use crate::dispatch::{self, DefaultGuard};
use crate::id::{SpanId, TraceId};

/// The current trace and span, as a value that can cross threads.
///
/// Take it where the work is handed off and attach it where the work runs: spans opened there
/// nest under the span that was current when the context was taken, and join its trace.
///
/// ```
/// # let _guard = modelmetry::testing::Recorder::install();
/// let _trace = modelmetry::start_trace("batch");
/// let ctx = modelmetry::Context::current();
/// std::thread::scope(|s| {
///     for i in 0..4 {
///         let ctx = ctx.clone();
///         s.spawn(move || {
///             let _attached = ctx.attach();
///             let _span = modelmetry::start_span(format!("item {i}"), modelmetry::Kind::Tool);
///         });
///     }
/// });
/// ```
///
/// With rayon or any pool, wrap the closure: `ctx.in_scope(|| work())`; with
/// `tokio::task::spawn_blocking`, `ctx.wrap(f)`.
///
/// In async code, do not hold [`Context::attach`]'s guard across an `.await`: it is not `Send`
/// (it belongs to the thread it attached to, and the task may move). Give the future the
/// context instead, with [`Instrument::in_context`](crate::Instrument::in_context) (or
/// [`Instrument::in_current_span`](crate::Instrument::in_current_span)), which attaches it on
/// every poll and is `Send` when the future is. An attributed `async fn` needs neither: it
/// takes the current context when it is called.
///
/// Spans recorded under a context join their trace when the attachment ends. If the trace has
/// already been delivered by then (a detached task that outlived its request), they are
/// delivered on their own, with the same trace id and the right parent: never dropped.
#[derive(Clone, Default)]
pub struct Context {
    inner: Option<(Arc<SharedTrace>, SpanId)>,
}

impl Context {
    /// The trace and span current on this thread (an empty context if none).
    pub fn current() -> Context {
        if !dispatch::enabled() || !stack::in_trace() {
            return Context::default();
        }
        Context {
            inner: stack::current_shared(),
        }
    }

    /// A context that continues a trace started elsewhere (another service), under the remote
    /// span `parent`. Spans recorded under it are delivered as part of that trace. With a
    /// sample rate below 1, head sampling decides from the trace id, as the caller did.
    pub fn remote(trace_id: TraceId, parent: SpanId) -> Context {
        Context::remote_with_state(trace_id, parent, None, None)
    }

    /// `sampled`: the caller's decision (a `traceparent`'s flag), followed; `None`: decided
    /// here from the trace id.
    pub(crate) fn remote_with_state(
        trace_id: TraceId,
        parent: SpanId,
        state: Option<String>,
        sampled: Option<bool>,
    ) -> Context {
        if trace_id.0 == 0 || parent.0 == 0 {
            return Context::default();
        }
        let sampled = sampled.unwrap_or_else(|| {
            crate::sampling::head_keeps(trace_id.0, crate::capture::sample_rate())
        });
        Context {
            inner: Some((SharedTrace::new_remote(trace_id, state, sampled), parent)),
        }
    }

    /// True if this context names no trace: attaching it does nothing.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// The trace id, if any.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.inner.as_ref().map(|(t, _)| t.trace_id)
    }

    /// The id of the span that work attached here nests under, if any.
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|(_, s)| *s)
    }

    /// Make this context current on this thread until the guard drops.
    pub fn attach(&self) -> ContextGuard {
        let Some((shared, parent)) = &self.inner else {
            return ContextGuard::default();
        };
        // A trace opened under a test's recorder takes the recorder along.
        let dispatch = dispatch::carry(shared.dispatch.as_ref());
        if dispatch.is_none() && !dispatch::enabled() {
            return ContextGuard::default();
        }
        ContextGuard {
            serial: stack::attach(shared.clone(), *parent, None),
            _dispatch: dispatch,
            _not_send: PhantomData,
        }
    }

    /// Run `f` with this context attached.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _attached = self.attach();
        f()
    }

    /// Wrap `f` so that it runs with this context attached, wherever it is called: for
    /// `std::thread::spawn` and thread pools.
    pub fn wrap<R>(self, f: impl FnOnce() -> R) -> impl FnOnce() -> R {
        move || self.in_scope(f)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some((t, s)) => f
                .debug_struct("Context")
                .field("trace_id", &t.trace_id)
                .field("span_id", s)
                .finish(),
            None => f.write_str("Context(empty)"),
        }
    }
}

/// Keeps a [`Context`] attached to this thread; detaches it when dropped.
#[must_use = "the context is detached as soon as this guard is dropped"]
pub struct ContextGuard {
    serial: Option<u64>,
    /// The dispatch the trace was opened under, current here while attached (dropped after
    /// the frame is detached).
    _dispatch: Option<DefaultGuard>,
    _not_send: PhantomData<*const ()>,
}

impl Default for ContextGuard {
    fn default() -> Self {
        ContextGuard {
            serial: None,
            _dispatch: None,
            _not_send: PhantomData,
        }
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(serial) = self.serial {
            stack::detach(serial);
        }
    }
}

impl std::fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextGuard")
            .field("attached", &self.serial.is_some())
            .finish()
    }
}
