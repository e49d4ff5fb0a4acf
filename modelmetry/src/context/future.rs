//! Spans and traces that follow a future across polls, on any executor.
//!
//! The span's record is owned by the future. Each poll lends it to the thread's stack (it is
//! the current span while the future runs, so nested spans, findings and setters land on it)
//! and takes it back when the poll returns. The span closes when the future completes, or when
//! it is dropped before completing (then marked `cancelled` in its metadata, with the number of
//! polls it had).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use super::owned::Owned;
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

/// Wrap futures in spans or traces. Implemented for every future.
///
/// ```
/// use modelmetry::{Instrument, Kind};
/// async fn answer() -> &'static str { "42" }
/// let fut = answer().in_span("llm.answer", Kind::Llm);
/// # drop(fut);
/// ```
pub trait Instrument: Future + Sized {
    /// Run this future inside a span that opens now, under the current span.
    fn in_span(self, name: impl Into<Name>, kind: Kind) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            owner: FutureSpan {
                owned: Owned::span(name.into(), kind),
                polls: 0,
            },
        }
    }

    /// Run this future as a trace of its own (a child span when a trace is already open).
    fn in_trace(self, name: impl Into<Name>) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            owner: FutureSpan {
                owned: Owned::trace(name.into()),
                polls: 0,
            },
        }
    }
}

impl<F: Future> Instrument for F {}

struct FutureSpan {
    owned: Owned,
    polls: u64,
}

impl Drop for FutureSpan {
    fn drop(&mut self) {
        // Still open here: the future was dropped before it completed.
        if self.owned.is_open() && !std::thread::panicking() {
            let polls = self.polls;
            self.owned.with_record(|rec| {
                let data = rec.data_mut();
                data.metadata.insert("cancelled".into(), true.into());
                data.metadata.insert("polls".into(), polls.into());
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

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("recording", &self.owner.owned.is_open())
            .finish()
    }
}
