//! Spans, traces and contexts that follow a future across polls, on any executor.
//!
//! The span's record is owned by the future. Each poll lends it to the thread's stack (it is
//! the current span while the future runs, so nested spans, findings and setters land on it)
//! and takes it back when the poll returns. The span closes when the future completes, or when
//! it is dropped before completing (then marked `cancelled` in its metadata, with the number of
//! polls it had, 0 for a future never polled).
//!
//! The span opens, and so takes its parent, when the wrapper is made: an attributed `async fn`
//! makes it when it is called, so `tokio::spawn(research(topic))` nests `research` under the
//! caller, whichever thread polls it. [`WithContext`] carries a [`Context`] the same way, for
//! a future that needs no span of its own.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::handle::Context;
use super::owned::Owned;
use crate::metadata_keys as keys;
use crate::record::{Kind, Name};

pin_project_lite::pin_project! {
    /// A future wrapped in a span (or a trace): see [`Instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        owner: FutureSpan,
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with a [`Context`] attached on every poll: see
    /// [`Instrument::in_context`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        context: Context,
    }
}

/// Wrap futures in spans or traces, or make them carry the current context. Implemented for
/// every future.
///
/// ```
/// use modelmetry::{Instrument, Kind};
/// async fn answer() -> &'static str { "42" }
/// let fut = answer().in_span("llm.answer", Kind::Llm);
/// # drop(fut);
/// ```
///
/// A span opens (and takes the current span as its parent) when `in_span` is called, not when
/// the future is first polled: wrap the future where it is made, then hand it to any task or
/// thread.
pub trait Instrument: Future + Sized {
    /// Run this future inside a span that opens now, under the current span.
    fn in_span(self, name: impl Into<Name>, kind: Kind) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            owner: FutureSpan::new(Owned::span(name.into(), kind)),
        }
    }

    /// Run this future as a trace of its own (a child span when a trace is already open).
    fn in_trace(self, name: impl Into<Name>) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            owner: FutureSpan::new(Owned::trace(name.into())),
        }
    }

    /// Run this future with the current context (trace and span) attached on every poll,
    /// whichever thread polls it: spans it opens nest under the span current here. No span of
    /// its own. The way to hand an async block to `tokio::spawn`:
    ///
    /// ```
    /// use modelmetry::Instrument;
    /// # let recorder = modelmetry::testing::Recorder::install();
    /// let _trace = modelmetry::start_trace("turn");
    /// let task = async {
    ///     let _span = modelmetry::start_span("tool", modelmetry::Kind::Tool);
    /// }
    /// .in_current_span(); // taken here, where the trace is current
    /// # drop(task);
    /// ```
    fn in_current_span(self) -> WithContext<Self> {
        self.in_context(Context::current())
    }

    /// Run this future with `ctx` attached on every poll (see [`Instrument::in_current_span`]).
    /// A [`ContextGuard`](crate::ContextGuard) is not `Send` and must not be held across an
    /// `.await`; this is what to use instead: the returned future is `Send` when `self` is.
    fn in_context(self, ctx: Context) -> WithContext<Self> {
        WithContext {
            inner: self,
            context: ctx,
        }
    }
}

impl<F: Future> Instrument for F {}

/// The span (or trace) an instrumented future owns. The macros open it when an attributed
/// `async fn` is called, then hand it the function's body.
pub(crate) struct FutureSpan {
    owned: Owned,
    polls: u64,
}

impl FutureSpan {
    pub(crate) fn new(owned: Owned) -> FutureSpan {
        FutureSpan { owned, polls: 0 }
    }

    /// Hand the span the future it follows.
    pub(crate) fn wrap<F: Future>(self, inner: F) -> Instrumented<F> {
        Instrumented { inner, owner: self }
    }
}

impl Drop for FutureSpan {
    fn drop(&mut self) {
        // Still open here: the future was dropped before it completed (perhaps never polled).
        if self.owned.is_open() && !std::thread::panicking() {
            let polls = self.polls;
            self.owned.with_record(|rec| {
                let data = rec.data_mut();
                data.metadata.insert(keys::CANCELLED.into(), true.into());
                data.metadata.insert(keys::POLLS.into(), polls.into());
            });
        }
        self.owned.close();
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !this.owner.owned.is_open() {
            return this.inner.poll(cx);
        }
        this.owner.polls += 1;
        let entered = this.owner.owned.enter();
        let poll = this.inner.poll(cx);
        drop(entered);
        if poll.is_ready() {
            this.owner.owned.close();
        }
        poll
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if this.context.is_empty() {
            return this.inner.poll(cx);
        }
        let _attached = this.context.attach();
        this.inner.poll(cx)
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("recording", &self.owner.owned.is_open())
            .finish()
    }
}

impl<F> std::fmt::Debug for WithContext<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithContext")
            .field("context", &self.context)
            .finish()
    }
}
