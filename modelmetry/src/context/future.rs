//! Spans and traces that follow a future across polls, on any executor.
//!
//! The span's record is owned by the future. Each poll lends it to the thread's stack (it is
//! the current span while the future runs, so nested spans, findings and setters land on it)
//! and takes it back when the poll returns. The span closes when the future completes, or when
//! it is dropped before completing (then marked `cancelled` in its metadata).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use super::stack::{self, SharedTrace};
use crate::record::{Kind, Name, SpanRecord};

pin_project_lite::pin_project! {
    /// A future wrapped in a span (or a trace): see [`Instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        owner: Owner,
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
            owner: Owner::span(name.into(), kind),
        }
    }

    /// Run this future as a trace of its own (a child span when a trace is already open).
    fn in_trace(self, name: impl Into<Name>) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            owner: Owner::trace(name.into()),
        }
    }
}

impl<F: Future> Instrument for F {}

/// What an instrumented future owns: its span (and its trace, when it started one).
struct Owner {
    state: Option<OwnerState>,
}

struct OwnerState {
    shared: Arc<SharedTrace>,
    /// The span the future carries; `None` for a future that is only a trace's root.
    record: Option<SpanRecord>,
    owns_trace: bool,
    polls: u64,
}

impl Owner {
    fn span(name: Name, kind: Kind) -> Owner {
        if !crate::client::is_enabled() {
            return Owner { state: None };
        }
        let (shared, parent, owns_trace) = match stack::current_shared() {
            Some((shared, parent)) if stack::in_trace() => (shared, parent, false),
            _ => {
                let shared = SharedTrace::new_root(name.clone());
                let parent = shared.root_span;
                (shared, parent, true)
            }
        };
        let record = stack::new_detached_span(name, kind, parent);
        Owner {
            state: Some(OwnerState {
                shared,
                record: Some(record),
                owns_trace,
                polls: 0,
            }),
        }
    }

    fn trace(name: Name) -> Owner {
        if !crate::client::is_enabled() {
            return Owner { state: None };
        }
        if stack::in_trace() {
            let mut owner = Owner::span(name, Kind::Other);
            if let Some(rec) = owner.state.as_mut().and_then(|s| s.record.as_mut()) {
                rec.data_mut()
                    .metadata
                    .insert("nested_trace".into(), true.into());
            }
            return owner;
        }
        let shared = SharedTrace::new_root(name);
        Owner {
            state: Some(OwnerState {
                shared,
                record: None,
                owns_trace: true,
                polls: 0,
            }),
        }
    }

    /// Close the span (and the trace it owns). `cancelled`: dropped before completion.
    fn close(&mut self, cancelled: bool) {
        let Some(mut st) = self.state.take() else {
            return;
        };
        let now = Instant::now();
        let panicking = std::thread::panicking();
        if let Some(mut rec) = st.record.take() {
            rec.end = Some(now);
            if cancelled && !panicking {
                let data = rec.data_mut();
                data.metadata.insert("cancelled".into(), true.into());
                data.metadata.insert("polls".into(), st.polls.into());
            }
            stack::submit_detached(&st.shared, rec, panicking);
        }
        if st.owns_trace {
            if panicking {
                st.shared.with_info(|info| {
                    info.severity = Some(crate::Severity::Error);
                    info.message
                        .get_or_insert_with(|| stack::PANIC_MESSAGE.to_owned());
                });
            }
            st.shared.finish(now);
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.close(true);
    }
}

/// Lends the carried span to the stack for one poll, and takes it back even if the poll panics.
struct Entered<'a> {
    serial: Option<u64>,
    owner: &'a mut OwnerState,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Some(serial) = self.serial {
            let back = stack::detach(serial);
            if self.owner.record.is_none() {
                self.owner.record = back;
            }
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(state) = this.owner.state.as_mut() else {
            return this.inner.poll(cx);
        };
        state.polls += 1;
        let parent = match &state.record {
            Some(rec) => rec.parent,
            None => state.shared.root_span,
        };
        let carried = state.record.take();
        let had_record = carried.is_some();
        let serial = stack::attach(state.shared.clone(), parent, carried);
        if serial.is_none() && had_record {
            // The stack was unreachable: the record is gone with the failed attach. Counted
            // by the stack; the future still runs.
            state.record = None;
        }
        let entered = Entered {
            serial,
            owner: state,
        };
        let poll = this.inner.poll(cx);
        drop(entered);
        if poll.is_ready() {
            this.owner.close(false);
        }
        poll
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("recording", &self.owner.state.is_some())
            .finish()
    }
}
