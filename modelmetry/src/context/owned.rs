//! A span owned by a value that lives across calls (a future, a stream) rather than by a
//! scope: the record stays with its owner and is lent to the thread's stack while the owner
//! runs, so that it is the current span there (nested spans, findings and setters land on it).
//!
//! A stream's span is *watched*: between its calls its record waits in a cell that a registry
//! of open streams can reach too, so that a stream that is never dropped (`mem::forget`, a
//! reference cycle) or still open at shutdown is exported as it stands then
//! ([`unfinished`]), rather than lost with its children pointing at a parent that never
//! arrives. Futures are not watched: one is made per `async` span, and the registry's lock
//! would be on their path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::stack::{self, SharedTrace};
use crate::dispatch::{self, DefaultGuard};
use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, Kind, Name, SpanRecord};
use crate::time::Tick;

/// The span (and, when it started one, the trace) owned by a long-lived value.
pub(crate) struct Owned {
    home: Home,
}

enum Home {
    /// Tracing was off, or the span has closed (or moved out).
    Gone,
    /// The span lives in this value.
    Here(State),
    /// The span waits in a cell the open-stream registry can reach.
    Watched(Arc<Watched>),
}

struct State {
    shared: Arc<SharedTrace>,
    /// The owned span; `None` for a value that is only a trace's root, or while lent.
    record: Option<SpanRecord>,
    /// Closing the span finishes `shared`: a trace of its own, or the continuation of a
    /// trace that shipped while the stream was still open.
    owns_trace: bool,
}

struct Watched {
    key: u64,
    parked: Mutex<Parked>,
}

struct Parked {
    /// `None` while lent to a thread's stack, or once exported at shutdown.
    state: Option<State>,
    /// The stream's item count as of its last call, for an export at shutdown.
    items: u64,
}

impl Watched {
    fn lock(&self) -> MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The streams whose span is open, by key.
static OPEN: Mutex<BTreeMap<u64, Arc<Watched>>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn open_streams() -> MutexGuard<'static, BTreeMap<u64, Arc<Watched>>> {
    OPEN.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Owned {
    /// A span that opens now, under the current span (or in a trace of its own).
    pub(crate) fn span(name: Name, kind: Kind) -> Owned {
        if !dispatch::enabled() {
            return Owned { home: Home::Gone };
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
            home: Home::Here(State {
                shared,
                record: Some(record),
                owns_trace,
            }),
        }
    }

    /// A stream's span: like [`span`](Owned::span), and watched (see the module's docs).
    pub(crate) fn watched_span(name: Name, kind: Kind) -> Owned {
        let mut owned = Owned::span(name, kind);
        let Home::Here(state) = std::mem::replace(&mut owned.home, Home::Gone) else {
            return owned;
        };
        let watched = Arc::new(Watched {
            key: NEXT_KEY.fetch_add(1, Relaxed),
            parked: Mutex::new(Parked {
                state: Some(state),
                items: 0,
            }),
        });
        open_streams().insert(watched.key, watched.clone());
        Owned {
            home: Home::Watched(watched),
        }
    }

    /// A trace of its own; a child span (marked `nested_trace`) when a trace is open.
    pub(crate) fn trace(name: Name) -> Owned {
        if !dispatch::enabled() {
            return Owned { home: Home::Gone };
        }
        if stack::in_trace() {
            let mut owned = Owned::span(name, Kind::Other);
            owned.with_record(|rec| {
                rec.data_mut()
                    .metadata
                    .insert(keys::NESTED_TRACE.into(), true.into());
            });
            return owned;
        }
        let shared = SharedTrace::new_root(name);
        Owned {
            home: Home::Here(State {
                shared,
                record: None,
                owns_trace: true,
            }),
        }
    }

    /// Move the span out, leaving this one closed (and with nothing to close).
    pub(crate) fn take(&mut self) -> Owned {
        Owned {
            home: std::mem::replace(&mut self.home, Home::Gone),
        }
    }

    /// True while the span is open.
    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.home, Home::Gone)
    }

    /// Run `f` on the owned span's record, while it is not lent (and not yet closed).
    pub(crate) fn with_record<R>(&mut self, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        match &mut self.home {
            Home::Gone => None,
            Home::Here(state) => state.record.as_mut().map(f),
            Home::Watched(w) => w.lock().state.as_mut()?.record.as_mut().map(f),
        }
    }

    /// Lend the span to this thread's stack until the returned guard drops (even by a panic).
    pub(crate) fn enter(&mut self) -> Entered<'_> {
        match &mut self.home {
            Home::Gone => Entered::inactive(),
            Home::Here(state) => Entered {
                _dispatch: dispatch::carry(state.shared.dispatch.as_ref()),
                serial: lend(state),
                lent: Lent::Here(state),
                items: None,
            },
            Home::Watched(w) => {
                let Some(mut state) = w.lock().state.take() else {
                    // Exported at shutdown: what follows is not recorded.
                    return Entered::inactive();
                };
                // The trace shipped while the stream was still open (the stream was returned
                // out of its trace, or its context came from another service): what it
                // records from now on is held together and delivered as one continuation
                // when it closes, not as a fragment per item.
                if !state.owns_trace && state.shared.is_shipped() {
                    state.shared = state.shared.continuation();
                    state.owns_trace = true;
                }
                Entered {
                    _dispatch: dispatch::carry(state.shared.dispatch.as_ref()),
                    serial: lend(&mut state),
                    lent: Lent::Watched(w, state),
                    items: None,
                }
            }
        }
    }

    /// Close the span (and the trace it owns), stamping the end now unless it has one.
    pub(crate) fn close(&mut self) {
        let state = match std::mem::replace(&mut self.home, Home::Gone) {
            Home::Gone => return,
            Home::Here(state) => state,
            Home::Watched(w) => {
                open_streams().remove(&w.key);
                let Some(state) = w.lock().state.take() else {
                    return;
                };
                state
            }
        };
        close_state(state, std::thread::panicking());
    }
}

fn close_state(mut st: State, panicking: bool) {
    let now = Tick::now();
    if let Some(mut rec) = st.record.take() {
        rec.end.get_or_insert(now);
        stack::submit_detached(&st.shared, rec, panicking);
    }
    if st.owns_trace {
        if panicking {
            st.shared.with_info(stack::mark_trace_panicked);
        }
        st.shared.finish(now);
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.close();
    }
}

fn lend(state: &mut State) -> Option<u64> {
    let parent = match &state.record {
        Some(rec) => rec.parent,
        None => state.shared.root_span,
    };
    stack::attach(state.shared.clone(), parent, state.record.take())
}

/// The spans that live across calls and are still open, exported as they stand (called at
/// shutdown): the streams, and those of the [sources](export_at_shutdown) registered.
pub(crate) fn unfinished() -> Vec<FinishedTrace> {
    let mut out = unfinished_streams();
    let sources = SOURCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for source in sources {
        out.extend(source());
    }
    out
}

/// Other owners of spans that live across calls, asked for theirs at shutdown as the streams
/// are (the `tracing` bridge's spans that opened a trace).
static SOURCES: Mutex<Vec<Source>> = Mutex::new(Vec::new());

/// What a source of spans open at shutdown gives: their traces, as they stand.
type Source = fn() -> Vec<FinishedTrace>;

/// Have [`unfinished`] also export what `source` returns (called once per source).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) fn export_at_shutdown(source: Source) {
    SOURCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(source);
}

/// The streams still open, exported as they stand. Each span ends now, marked `unfinished`
/// with `closed_by: "shutdown"` and its `items`, in the trace it owns, or in a continuation of
/// its trace when that has shipped (with what its items recorded since; a trace still open
/// carries it when it closes). A stream lent to a thread at this instant stays registered, and
/// closes by itself; so does a stream recorded by a test's recorder.
fn unfinished_streams() -> Vec<FinishedTrace> {
    let open = std::mem::take(&mut *open_streams());
    let mut out = Vec::new();
    let mut busy = Vec::new();
    for w in open.into_values() {
        let (state, items) = {
            let mut parked = w.lock();
            (parked.state.take(), parked.items)
        };
        let Some(mut st) = state else {
            busy.push(w);
            continue;
        };
        if st
            .shared
            .dispatch
            .as_ref()
            .is_some_and(dispatch::Dispatch::is_scoped)
        {
            // A test's recorder's stream: not the process client's to export.
            w.lock().state = Some(st);
            busy.push(w);
            continue;
        }
        let now = Tick::now();
        if let Some(rec) = st.record.as_mut() {
            let data = rec.data_mut();
            data.metadata.insert(keys::UNFINISHED.into(), true.into());
            data.metadata
                .insert(keys::CLOSED_BY.into(), "shutdown".into());
            data.metadata.insert(keys::ITEMS.into(), items.into());
        }
        if !st.owns_trace && st.shared.is_shipped() {
            st.shared = st.shared.continuation();
            st.owns_trace = true;
        }
        if let Some(mut rec) = st.record.take() {
            rec.end.get_or_insert(now);
            stack::submit_detached(&st.shared, rec, false);
        }
        if st.owns_trace {
            out.extend(st.shared.take_finished(now));
        }
    }
    let mut open = open_streams();
    for w in busy {
        open.insert(w.key, w);
    }
    out
}

/// The span lent to the stack; taken back when this drops.
pub(crate) struct Entered<'a> {
    serial: Option<u64>,
    lent: Lent<'a>,
    items: Option<u64>,
    /// The dispatch the trace was opened under, current while the span is lent (dropped
    /// after the span is taken back).
    _dispatch: Option<DefaultGuard>,
}

enum Lent<'a> {
    None,
    Here(&'a mut State),
    /// Taken from its cell; put back when the guard drops.
    Watched(&'a Watched, State),
}

impl Entered<'_> {
    fn inactive() -> Self {
        Entered {
            serial: None,
            lent: Lent::None,
            items: None,
            _dispatch: None,
        }
    }

    /// The stream's item count, kept with a watched span for an export at shutdown.
    pub(crate) fn set_items(&mut self, items: u64) {
        self.items = Some(items);
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let back = self.serial.and_then(stack::detach);
        match std::mem::replace(&mut self.lent, Lent::None) {
            Lent::None => {}
            Lent::Here(state) => {
                if state.record.is_none() {
                    state.record = back;
                }
            }
            Lent::Watched(w, mut state) => {
                if state.record.is_none() {
                    state.record = back;
                }
                let mut parked = w.lock();
                parked.state = Some(state);
                if let Some(items) = self.items {
                    parked.items = items;
                }
            }
        }
    }
}
