//! A span owned by a value that lives across calls (a future, a stream) rather than by a
//! scope: the record stays with its owner and is lent to the thread's stack while the owner
//! runs, so that it is the current span there (nested spans, findings and setters land on it).

use std::sync::Arc;

use super::stack::{self, SharedTrace};
use crate::dispatch::{self, DefaultGuard};
use crate::record::{Kind, Name, SpanRecord};
use crate::time::Tick;

/// The span (and, when it started one, the trace) owned by a long-lived value.
pub(crate) struct Owned {
    state: Option<State>,
}

struct State {
    shared: Arc<SharedTrace>,
    /// The owned span; `None` for a value that is only a trace's root, or while lent.
    record: Option<SpanRecord>,
    owns_trace: bool,
}

impl Owned {
    /// A span that opens now, under the current span (or in a trace of its own).
    pub(crate) fn span(name: Name, kind: Kind) -> Owned {
        if !dispatch::enabled() {
            return Owned { state: None };
        }
        // `current_shared` is `None` when no trace is open on this thread.
        let (shared, parent, owns_trace) = match stack::current_shared() {
            Some((shared, parent)) => (shared, parent, false),
            None => {
                let shared = SharedTrace::new_root(name.clone());
                let parent = shared.root_span;
                (shared, parent, true)
            }
        };
        let record = stack::new_detached_span(name, kind, parent);
        Owned {
            state: Some(State {
                shared,
                record: Some(record),
                owns_trace,
            }),
        }
    }

    /// A trace of its own; a child span (marked `nested_trace`) when a trace is open.
    pub(crate) fn trace(name: Name) -> Owned {
        if !dispatch::enabled() {
            return Owned { state: None };
        }
        if stack::in_trace() {
            let mut owned = Owned::span(name, Kind::Other);
            if let Some(rec) = owned.record_mut() {
                rec.data_mut()
                    .metadata
                    .insert("nested_trace".into(), true.into());
            }
            return owned;
        }
        let shared = SharedTrace::new_root(name);
        Owned {
            state: Some(State {
                shared,
                record: None,
                owns_trace: true,
            }),
        }
    }

    /// Move the span out, leaving this one closed (and with nothing to close).
    pub(crate) fn take(&mut self) -> Owned {
        Owned {
            state: self.state.take(),
        }
    }

    /// True while the span is open.
    pub(crate) fn is_open(&self) -> bool {
        self.state.is_some()
    }

    /// The owned span's record, while it is not lent.
    pub(crate) fn record_mut(&mut self) -> Option<&mut SpanRecord> {
        self.state.as_mut().and_then(|s| s.record.as_mut())
    }

    /// Lend the span to this thread's stack until the returned guard drops (even by a panic).
    pub(crate) fn enter(&mut self) -> Entered<'_> {
        let Some(state) = self.state.as_mut() else {
            return Entered {
                serial: None,
                state: None,
                _dispatch: None,
            };
        };
        let parent = match &state.record {
            Some(rec) => rec.parent,
            None => state.shared.root_span,
        };
        let dispatch = dispatch::carry(state.shared.dispatch.as_ref());
        let serial = stack::attach(state.shared.clone(), parent, state.record.take());
        Entered {
            serial,
            state: Some(state),
            _dispatch: dispatch,
        }
    }

    /// Close the span (and the trace it owns), stamping the end now.
    pub(crate) fn close(&mut self) {
        let Some(mut st) = self.state.take() else {
            return;
        };
        let now = Tick::now();
        let panicking = std::thread::panicking();
        if let Some(mut rec) = st.record.take() {
            rec.end = Some(now);
            stack::submit_detached(&st.shared, rec, panicking);
        }
        if st.owns_trace {
            if panicking {
                st.shared.with_info(stack::mark_trace_panicked);
            }
            st.shared.finish(now);
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.close();
    }
}

/// The span lent to the stack; taken back when this drops.
pub(crate) struct Entered<'a> {
    serial: Option<u64>,
    state: Option<&'a mut State>,
    /// The dispatch the trace was opened under, current while the span is lent (dropped
    /// after the span is taken back).
    _dispatch: Option<DefaultGuard>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let (Some(serial), Some(state)) = (self.serial, self.state.as_mut()) {
            let back = stack::detach(serial);
            if state.record.is_none() {
                state.record = back;
            }
        }
    }
}
