//! The hot path: the thread-local stack of open spans.
//!
//! Each thread keeps a stack of *frames*. A frame is one trace's work on this thread: the root
//! frame of a trace opened here, or a frame attached from a [`Context`](super::Context) taken on
//! another thread (or carried by a future between polls). A frame owns an arena of span records
//! (the index is the span's handle). The spans still open form a chain through the records:
//! the frame knows its innermost open span, and each record the span that was innermost when it
//! opened, so no separate stack of open spans is kept.
//!
//! Opening a span pushes one record (a clock tick, the kind, the name, usually a
//! `&'static str`, and the index of the span it opened under) onto the innermost frame's arena;
//! closing it stamps the end and, when it was the innermost open span (nearly always: guards
//! drop in reverse order), steps the chain back to its parent. No lock, no string formatting,
//! no clock other than [`Tick::now`] (a counter read, no system call), and no id: a span's id
//! is made from its index and a per-frame random base ([`span_id_at`]) when something first
//! needs it, a child's propagated context or the frame's close, where [`Frame::resolve_ids`]
//! fills in every id and parent at once. The arena of a new trace starts with the capacity the
//! thread's previous trace needed, and is one the exporter emptied when there is one, so a
//! thread that records traces of a steady shape neither regrows nor reallocates its arenas.
//! Closing a root frame hands the whole trace to the [`dispatch`](crate::dispatch); closing an
//! attached frame moves its spans into the trace's [`SharedTrace`], under one lock.
//!
//! The common open and close ([`open_span`], [`close_span`]) are inlined where the guard is:
//! one thread-local access (the stack has no destructor, so the access is an offset from the
//! thread pointer, with no state to check), one `RefCell` borrow, and the innermost frame. All
//! else (no trace open, a full arena, a span of an outer frame, a panic, a span that opened its
//! own trace) takes the out-of-line slow path. Frames still open when the thread exits are
//! delivered by [`ExitFlush`], a second thread-local whose destructor empties the stack.
//!
//! Every access uses `try_with` and `try_borrow_mut`: at thread exit, or if user code
//! re-enters the SDK while the stack is borrowed, the call does nothing and the miss is
//! counted. Nothing here can panic the application.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::dispatch::{self, Dispatch};
use crate::id::{IdGen, SpanId, TraceId, span_id_at};
use crate::metadata_keys as keys;
use crate::record::{
    FinishedTrace, Kind, Name, Severity, Signal, SpanRecord, TraceInfo, reuse_arena,
};
use crate::stats::{self, Loss};
use crate::time::{Anchor, Tick};

thread_local! {
    // No destructor (the frames are in a `ManuallyDrop`), so that every access on the hot path
    // is a plain thread-local access; `EXIT_FLUSH` empties it when the thread exits.
    static STACK: RefCell<Stack> = const {
        RefCell::new(Stack {
            frames: ManuallyDrop::new(Vec::new()),
            ids: IdGen::unseeded(),
            serial: 0,
            spans_hint: 0,
            exiting: false,
        })
    };
    /// Registered when this thread first opens or attaches a frame: its destructor delivers
    /// the frames still open when the thread exits.
    static EXIT_FLUSH: ExitFlush = const { ExitFlush };
}

struct Stack {
    /// Emptied by [`ExitFlush`], never dropped (see `STACK`).
    frames: ManuallyDrop<Vec<Frame>>,
    ids: IdGen,
    /// Frame serials, so a handle from a frame that has closed never touches a newer one.
    serial: u64,
    /// How many spans the last root frame closed on this thread held: the next one's arena
    /// starts at that capacity.
    spans_hint: usize,
    /// The thread is exiting and its frames were delivered: no new frame opens.
    exiting: bool,
}

/// A frame's serial: never zero, so that `Option<Slot>` is two words.
type Serial = NonZeroU64;

/// The largest arena a new trace starts with (65,536 records, 4.5 MiB); beyond it the arena
/// grows as it fills. Kept arenas are capped apart from this (`record::reuse_arena`).
const MAX_SPANS_HINT: usize = 1 << 16;

/// Where a span lives: its frame's serial and its index in that frame's arena. Two words with
/// its `Option`, so a guard is returned and passed in two registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Slot {
    frame: Serial,
    /// The index (low 32 bits), [`OPENED_TRACE`] and [`CONTENT`].
    bits: u64,
}

/// In a slot's bits: the span opened a trace of its own around itself (no trace was open), so
/// closing the span closes that trace too. Only the span's guard acts on it.
const OPENED_TRACE: u64 = 1 << 32;

/// In a slot's bits: content is captured in the span's frame (content capture on, and head
/// sampling kept the trace), so a macro's expansion decides without another lookup.
const CONTENT: u64 = 1 << 33;

impl Slot {
    #[inline]
    fn new(frame: &Frame, index: u32, opened_trace: bool) -> Slot {
        let mut bits = u64::from(index);
        if opened_trace {
            bits |= OPENED_TRACE;
        }
        if frame.content {
            bits |= CONTENT;
        }
        Slot {
            frame: frame.serial,
            bits,
        }
    }

    #[inline]
    fn index(self) -> u32 {
        self.bits as u32
    }

    #[inline]
    pub(crate) fn opened_trace(self) -> bool {
        self.bits & OPENED_TRACE != 0
    }

    /// True if content is captured for this span (see [`CONTENT`]).
    #[inline]
    pub(crate) fn captures_content(self) -> bool {
        self.bits & CONTENT != 0
    }

    pub(crate) fn frame_serial(self) -> u64 {
        self.frame.get()
    }
}

/// The index of no span: a frame's `current` when none of its spans is open, a record's `prev`
/// when it opened with none open.
pub(crate) const NO_SPAN: u32 = u32::MAX;

struct Frame {
    serial: Serial,
    /// The innermost open span (its index in `spans`), or [`NO_SPAN`].
    current: u32,
    trace_id: TraceId,
    root_span: SpanId,
    /// The parent of a span opened while none of this frame's spans is open.
    parent: SpanId,
    anchor: Anchor,
    spans: Vec<SpanRecord>,
    signals: Vec<Signal>,
    owner: Owner,
    /// Head sampling kept the trace (else it is recorded without content).
    sampled: bool,
    /// Content is captured here: `sampled`, and the content switch was on when the frame
    /// opened (see [`CONTENT`]).
    content: bool,
    /// The random base the ids of this frame's spans are made from ([`span_id_at`]).
    id_base: u64,
}

enum Owner {
    /// The trace was opened on this thread. Its data stays here until a `Context` is taken,
    /// then moves into the shared state so that other threads can reach it.
    Root {
        info: Option<Box<TraceInfo>>,
        shared: Option<Arc<SharedTrace>>,
    },
    /// Attached from a `Context`. With `carried`, `spans[0]` is a span lent by its owner (an
    /// instrumented future) for the duration of one poll, and goes back to it at detach.
    Attached {
        shared: Arc<SharedTrace>,
        carried: bool,
    },
}

/// The part of a trace that other threads can reach: spans and signals recorded on them, and
/// the trace's own data once a `Context` exists.
pub(crate) struct SharedTrace {
    pub(crate) trace_id: TraceId,
    pub(crate) root_span: SpanId,
    pub(crate) anchor: Anchor,
    /// The W3C `tracestate` that came with a remote parent, passed on unchanged.
    pub(crate) trace_state: Option<String>,
    /// Where the trace goes when it finishes, wherever that happens: the dispatch current
    /// where it was opened (a test's recorder reaches work carried to other threads).
    pub(crate) dispatch: Option<Dispatch>,
    state: Mutex<SharedState>,
    /// `SharedState::shipped`, readable without the lock (a stream asks on every item).
    shipped: AtomicBool,
    /// Head sampling kept the trace (or the incoming `traceparent` said it was sampled).
    pub(crate) sampled: bool,
}

#[derive(Default)]
struct SharedState {
    info: Option<Box<TraceInfo>>,
    spans: Vec<SpanRecord>,
    signals: Vec<Signal>,
    /// The trace has been handed to the exporters; later spans travel as fragments.
    shipped: bool,
}

impl SharedTrace {
    fn new(
        trace_id: TraceId,
        root_span: SpanId,
        anchor: Anchor,
        info: Option<Box<TraceInfo>>,
        sampled: bool,
    ) -> Self {
        SharedTrace {
            sampled,
            trace_id,
            root_span,
            anchor,
            trace_state: None,
            dispatch: dispatch::current(),
            state: Mutex::new(SharedState {
                info,
                ..Default::default()
            }),
            shipped: AtomicBool::new(false),
        }
    }

    /// Mark the trace handed to the exporters (under its lock).
    fn mark_shipped(&self, st: &mut SharedState) {
        st.shipped = true;
        self.shipped.store(true, Ordering::Release);
    }

    /// True once the trace has been handed to the exporters.
    pub(crate) fn is_shipped(&self) -> bool {
        self.shipped.load(Ordering::Acquire)
    }

    /// A continuation of this trace: spans recorded after it shipped, held together until
    /// their owner finishes it, then delivered as one fragment (no trace data of its own).
    pub(crate) fn continuation(&self) -> Arc<SharedTrace> {
        let mut c = SharedTrace::new(
            self.trace_id,
            self.root_span,
            self.anchor,
            None,
            self.sampled,
        );
        c.trace_state = self.trace_state.clone();
        Arc::new(c)
    }

    fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panic while holding this lock cannot leave the state half-written in a way that
        // matters more than losing the trace, so poisoning is ignored.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new trace owned by whoever holds the returned handle (an instrumented future).
    pub(crate) fn new_root(name: Name) -> Arc<SharedTrace> {
        let (trace_id, root_span) =
            with(|s| (s.ids.trace_id(), s.ids.span_id())).unwrap_or_else(|| {
                let mut g = IdGen::unseeded();
                (g.trace_id(), g.span_id())
            });
        let anchor = Anchor::now();
        let info = TraceInfo::new(name, Tick::now());
        Arc::new(SharedTrace::new(
            trace_id,
            root_span,
            anchor,
            Some(Box::new(info)),
            head_keeps(trace_id),
        ))
    }

    /// A trace continued from a remote parent: spans recorded under it travel as fragments.
    /// Its root span is "none": every span here has a parent, local or remote.
    /// `sampled`: the incoming `traceparent`'s flag, which this service follows.
    pub(crate) fn new_remote(
        trace_id: TraceId,
        trace_state: Option<String>,
        sampled: bool,
    ) -> Arc<SharedTrace> {
        let mut shared = SharedTrace::new(trace_id, SpanId::NONE, Anchor::now(), None, sampled);
        shared.trace_state = trace_state;
        let mut st = shared.lock();
        shared.mark_shipped(&mut st);
        drop(st);
        Arc::new(shared)
    }

    /// Add spans and signals recorded elsewhere; once the trace has shipped they go on alone.
    fn absorb(&self, spans: Vec<SpanRecord>, signals: Vec<Signal>) {
        if spans.is_empty() && signals.is_empty() {
            return;
        }
        let mut st = self.lock();
        if st.shipped {
            drop(st);
            self.submit(FinishedTrace {
                trace_id: self.trace_id,
                root_span: self.root_span,
                anchor: self.anchor,
                info: None,
                spans,
                signals,
                sampled: self.sampled,
            });
        } else {
            st.spans.extend(spans);
            st.signals.extend(signals);
        }
    }

    /// Close the trace owned by this handle and hand it to the exporters.
    pub(crate) fn finish(&self, end: Tick) {
        if let Some(trace) = self.take_finished(end) {
            self.submit(trace);
        }
    }

    /// Close the trace owned by this handle and return it (`None` if it had shipped).
    pub(crate) fn take_finished(&self, end: Tick) -> Option<FinishedTrace> {
        let mut st = self.lock();
        if st.shipped {
            return None;
        }
        self.mark_shipped(&mut st);
        let mut info = st.info.take();
        if let Some(info) = info.as_mut() {
            info.end.get_or_insert(end);
        }
        let spans = std::mem::take(&mut st.spans);
        let signals = std::mem::take(&mut st.signals);
        drop(st);
        Some(FinishedTrace {
            trace_id: self.trace_id,
            root_span: self.root_span,
            anchor: self.anchor,
            info,
            spans,
            signals,
            sampled: self.sampled,
        })
    }

    pub(crate) fn with_info<R>(&self, f: impl FnOnce(&mut TraceInfo) -> R) -> Option<R> {
        self.lock().info.as_deref_mut().map(f)
    }

    /// Hand a finished trace or fragment to the dispatch the trace was opened under.
    pub(crate) fn submit(&self, trace: FinishedTrace) {
        match &self.dispatch {
            Some(d) => d.submit(trace),
            None => dispatch::submit(trace),
        }
    }
}

/// Run `f` on this thread's stack, or do nothing (and count it) when the stack is unreachable:
/// during thread exit, or when the SDK is re-entered from inside itself.
#[inline]
fn with<R>(f: impl FnOnce(&mut Stack) -> R) -> Option<R> {
    let r = STACK.try_with(|cell| cell.try_borrow_mut().ok().map(|mut s| f(&mut s)));
    match r {
        Ok(Some(v)) => Some(v),
        _ => unavailable(),
    }
}

#[cold]
#[inline(never)]
fn unavailable<R>() -> Option<R> {
    stats::count_drop(Loss::ContextUnavailable, 1);
    None
}

impl Stack {
    /// The frame `serial`: nearly always the innermost, else one further out.
    #[inline]
    fn frame_mut(&mut self, serial: u64) -> Option<&mut Frame> {
        if self.frames.last().is_some_and(|f| f.serial.get() == serial) {
            return self.frames.last_mut();
        }
        self.outer_frame_mut(serial)
    }

    #[cold]
    #[inline(never)]
    fn outer_frame_mut(&mut self, serial: u64) -> Option<&mut Frame> {
        self.frames
            .iter_mut()
            .rev()
            .find(|f| f.serial.get() == serial)
    }

    /// Where the frame `serial` is on the stack.
    fn position(&self, serial: u64) -> Option<usize> {
        self.frames.iter().rposition(|f| f.serial.get() == serial)
    }

    fn next_serial(&mut self) -> Serial {
        self.serial += 1;
        Serial::MIN.saturating_add(self.serial - 1)
    }

    /// Whether a frame may be pushed: not once the thread's exit has emptied the stack (the
    /// frame would never be delivered; the refusal is counted). Registers the exit flush.
    fn may_push(&mut self) -> bool {
        if !self.exiting && EXIT_FLUSH.try_with(|_| ()).is_ok() {
            return true;
        }
        self.exiting = true;
        stats::count_drop(Loss::ContextUnavailable, 1);
        false
    }

    fn push_root(&mut self, name: Name, now: Tick) -> Option<u64> {
        if !self.may_push() {
            return None;
        }
        let serial = self.next_serial();
        let trace_id = self.ids.trace_id();
        let root_span = self.ids.span_id();
        let sampled = head_keeps(trace_id);
        self.frames.push(Frame {
            serial,
            current: NO_SPAN,
            trace_id,
            root_span,
            parent: root_span,
            anchor: Anchor::now(),
            spans: reuse_arena(self.spans_hint),
            signals: Vec::new(),
            owner: Owner::Root {
                info: Some(Box::new(TraceInfo::new(name, now))),
                shared: None,
            },
            sampled,
            content: sampled && crate::capture::content_switch(),
            id_base: self.ids.next_u64(),
        });
        self.sync_sampled();
        Some(serial.get())
    }

    /// Tell the capture layer whether the innermost trace is dropped by head sampling: its
    /// content is then not captured at all.
    #[inline]
    fn sync_sampled(&self) {
        let out = self.frames.last().is_some_and(|f| !f.sampled);
        crate::capture::set_sampled_out(out);
    }
}

impl Frame {
    /// The innermost open span's id, or `parent` when none is open: the parent of the next
    /// span.
    #[inline]
    fn current_span(&self) -> SpanId {
        self.span_id(self.current)
    }

    /// The id of the span at `index` (made from the index, unless the record came with one:
    /// a carried span), or `parent` for [`NO_SPAN`].
    fn span_id(&self, index: u32) -> SpanId {
        match self.spans.get(index as usize) {
            Some(rec) if rec.id != SpanId::NONE => rec.id,
            Some(_) => span_id_at(self.id_base, index),
            None => self.parent,
        }
    }

    /// Give every span opened here its id and its parent's (a span's parent is the one that
    /// was innermost when it opened: `prev`). Before anything leaves the frame.
    fn resolve_ids(&mut self) {
        for index in 0..self.spans.len() {
            if self.spans[index].id != SpanId::NONE {
                continue;
            }
            let parent = self.span_id(self.spans[index].prev);
            let rec = &mut self.spans[index];
            rec.id = span_id_at(self.id_base, index as u32);
            rec.parent = parent;
        }
    }

    /// Push a span record if the arena has room (else hand the name back: the slow path grows
    /// the arena and comes back).
    #[inline]
    fn try_open(
        &mut self,
        name: Name,
        kind: Kind,
        now: Tick,
        opened_trace: bool,
    ) -> Result<Slot, Name> {
        let index = self.spans.len();
        if index == self.spans.capacity() {
            return Err(name);
        }
        self.spans.push(SpanRecord {
            id: SpanId::NONE,
            parent: SpanId::NONE,
            start: now,
            end: None,
            name,
            kind,
            severity: None,
            prev: self.current,
            data: None,
        });
        // The slow path never lets the arena grow past `NO_SPAN` records.
        let index = index as u32;
        self.current = index;
        Ok(Slot::new(self, index, opened_trace))
    }

    /// Close the span at `index`, unless it has closed already. Returns it if it was open.
    #[inline]
    fn close(&mut self, index: u32, now: Tick) -> Option<&mut SpanRecord> {
        let rec = self.spans.get_mut(index as usize)?;
        if rec.end.is_some() {
            return None;
        }
        rec.end = Some(now);
        let prev = rec.prev;
        self.closed(index, prev);
        self.spans.get_mut(index as usize)
    }

    /// The span at `index`, just closed, opened when `prev` was innermost. If it was the
    /// innermost open span, the innermost becomes the nearest enclosing span still open
    /// (stepping past spans that closed out of order), or none.
    #[inline]
    fn closed(&mut self, index: u32, prev: u32) {
        if self.current != index {
            // Closed out of order: it stays in the chain and is stepped over when reached.
            return;
        }
        let mut at = prev;
        while let Some(rec) = self.spans.get(at as usize) {
            if rec.end.is_none() {
                break;
            }
            at = rec.prev;
        }
        // Past a frame's first span, `at` is NO_SPAN.
        self.current = at;
    }

    fn with_info<R>(&mut self, f: impl FnOnce(&mut TraceInfo) -> R) -> Option<R> {
        match &mut self.owner {
            Owner::Root {
                info: Some(info), ..
            } => Some(f(info)),
            Owner::Root {
                info: None,
                shared: Some(shared),
            }
            | Owner::Attached { shared, .. } => shared.with_info(f),
            Owner::Root {
                info: None,
                shared: None,
            } => None,
        }
    }

    /// Turn a closed frame into what it hands on: a finished trace (root frames) or spans for
    /// the shared state (attached frames). Returns the carried span for its owner.
    fn finish(mut self, end: Tick) -> (Option<FinishedTrace>, Option<SpanRecord>) {
        self.resolve_ids();
        let carries = matches!(self.owner, Owner::Attached { carried: true, .. });
        // Spans still open here had their guards leaked or outlive the frame: close them now.
        // Every open span is on the chain from `current` (a span leaves it only once closed),
        // so a frame whose spans all closed walks nothing. The carried span stays open.
        let mut at = self.current;
        while let Some(rec) = self.spans.get_mut(at as usize) {
            let prev = rec.prev;
            if rec.end.is_none() && !(carries && at == 0) {
                rec.end = Some(end);
                rec.data_mut()
                    .metadata
                    .insert(keys::CLOSED_BY.into(), "enclosing trace".into());
            }
            at = prev;
        }
        let carried = (carries && !self.spans.is_empty()).then(|| self.spans.remove(0));
        match self.owner {
            Owner::Root { info, shared } => {
                let mut info = match (info, &shared) {
                    (Some(info), _) => Some(info),
                    (None, Some(sh)) => sh.lock().info.take(),
                    (None, None) => None,
                };
                if let Some(info) = info.as_mut() {
                    info.end.get_or_insert(end);
                }
                let mut spans = self.spans;
                let mut signals = self.signals;
                if let Some(sh) = shared {
                    let mut st = sh.lock();
                    sh.mark_shipped(&mut st);
                    spans.append(&mut st.spans);
                    signals.append(&mut st.signals);
                }
                let trace = FinishedTrace {
                    trace_id: self.trace_id,
                    root_span: self.root_span,
                    anchor: self.anchor,
                    info,
                    spans,
                    signals,
                    sampled: self.sampled,
                };
                (Some(trace), carried)
            }
            Owner::Attached { shared, .. } => {
                shared.absorb(self.spans, self.signals);
                (None, carried)
            }
        }
    }
}

// ---- spans --------------------------------------------------------------------------------

/// Open a span under the innermost open span. With no trace open on this thread, a trace of
/// the same name is opened around it, and the slot says so: closing the span must then close
/// that trace too.
///
/// Inlined: the clock, one thread-local access and one borrow, and a push onto the innermost
/// frame's arena. Everything else is [`open_span_slow`].
#[inline]
pub(crate) fn open_span(name: impl Into<Name>, kind: Kind) -> Option<Slot> {
    let now = Tick::now();
    let name = name.into();
    let fast = STACK.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => match s.frames.last_mut() {
            Some(frame) => frame.try_open(name, kind, now, false).map_err(Some),
            None => Err(Some(name)),
        },
        // Re-entered from inside the SDK.
        Err(_) => Err(None),
    });
    match fast {
        Ok(Ok(slot)) => Some(slot),
        Ok(Err(Some(name))) => open_span_slow(name, kind, now),
        _ => unavailable(),
    }
}

/// Open a span when the fast path cannot: no trace is open (one is opened around the span),
/// or the arena is full (it grows, to at most [`NO_SPAN`] records: a span past that is
/// dropped and counted as `trace_too_large`).
#[cold]
#[inline(never)]
fn open_span_slow(name: Name, kind: Kind, now: Tick) -> Option<Slot> {
    with(|s| {
        let implicit = s.frames.is_empty();
        if implicit {
            s.push_root(name.clone(), now)?;
        }
        let frame = s.frames.last_mut()?;
        let len = frame.spans.len();
        let Some(grow) = arena_growth(len) else {
            stats::count_drop(Loss::TraceTooLarge, 1);
            return None;
        };
        if len == frame.spans.capacity() {
            frame.spans.reserve_exact(grow);
        }
        frame.try_open(name, kind, now, implicit).ok()
    })
    .flatten()
}

/// How many records to add to a full arena of `len`: doubling, as `push` would, but never past
/// [`NO_SPAN`] records (the index of a span must fit below it); `None` once there.
fn arena_growth(len: usize) -> Option<usize> {
    let room = (NO_SPAN as usize).checked_sub(len).filter(|&r| r > 0)?;
    Some(len.max(4).min(room))
}

/// Close a span. `panicking` marks it as closed by an unwinding panic.
///
/// Inlined: a span of the innermost frame, closed without a panic, that did not open a trace
/// of its own is stamped and stepped past here. Everything else is [`close_span_slow`].
#[inline]
pub(crate) fn close_span(slot: Slot, panicking: bool) {
    if !panicking && !slot.opened_trace() {
        let now = Tick::now();
        let closed = STACK.try_with(|cell| {
            let Ok(mut s) = cell.try_borrow_mut() else {
                return false;
            };
            match s.frames.last_mut() {
                Some(frame) if frame.serial == slot.frame => {
                    frame.close(slot.index(), now);
                    true
                }
                _ => false,
            }
        });
        if closed == Ok(true) {
            return;
        }
    }
    close_span_slow(slot, panicking);
}

#[cold]
#[inline(never)]
fn close_span_slow(slot: Slot, panicking: bool) {
    let now = Tick::now();
    with(|s| {
        let Some(frame) = s.frame_mut(slot.frame_serial()) else {
            return;
        };
        if let Some(rec) = frame.close(slot.index(), now) {
            if panicking {
                mark_panicked(rec);
            }
        }
    });
    if slot.opened_trace() {
        close_trace(slot.frame_serial(), panicking);
    }
}

/// Mark a span closed by an unwinding panic: severity `error`, the panic's text as its
/// message (unless it has one), and the flag exporters read.
pub(crate) fn mark_panicked(rec: &mut SpanRecord) {
    rec.severity = Some(Severity::Error);
    let data = rec.data_mut();
    data.panicked = true;
    data.message.get_or_insert_with(dispatch::panic_message);
}

/// The same, for a trace.
pub(crate) fn mark_trace_panicked(info: &mut TraceInfo) {
    info.severity = Some(Severity::Error);
    info.panicked = true;
    info.message.get_or_insert_with(dispatch::panic_message);
}

/// Run `f` on the span in `slot`, if it is still open.
pub(crate) fn with_span<R>(slot: Slot, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
    with(|s| {
        let rec = s
            .frame_mut(slot.frame_serial())?
            .spans
            .get_mut(slot.index() as usize)?;
        rec.end.is_none().then(|| f(rec))
    })
    .flatten()
}

/// The innermost open span on this thread, if any.
pub(crate) fn current_slot() -> Option<Slot> {
    with(|s| {
        let frame = s.frames.last()?;
        if frame.current == NO_SPAN {
            return None;
        }
        Some(Slot::new(frame, frame.current, false))
    })
    .flatten()
}

/// Record an event or finding on the innermost open span, or on the trace (or the remote
/// parent) when no span is open. Returns `false` when no trace is open on this thread.
pub(crate) fn push_signal(make: impl FnOnce(SpanId) -> Signal) -> bool {
    with(|s| {
        let Some(frame) = s.frames.last_mut() else {
            return false;
        };
        let target = if frame.current != NO_SPAN {
            frame.current_span()
        } else if frame.parent == frame.root_span {
            SpanId::NONE
        } else {
            frame.parent
        };
        frame.signals.push(make(target));
        true
    })
    .unwrap_or(false)
}

// ---- traces -------------------------------------------------------------------------------

/// What `open_trace` did: opened a root trace, or (a trace being open already) a child span.
pub(crate) enum TraceOpen {
    Root(u64),
    Nested(Slot),
}

pub(crate) fn open_trace(name: Name) -> Option<TraceOpen> {
    let nested = with(|s| !s.frames.is_empty())?;
    if nested {
        let slot = open_span(name, Kind::Other)?;
        with_span(slot, |rec| {
            rec.data_mut()
                .metadata
                .insert(keys::NESTED_TRACE.into(), true.into());
        });
        return Some(TraceOpen::Nested(slot));
    }
    with(|s| s.push_root(name, Tick::now()).map(TraceOpen::Root)).flatten()
}

/// Close the root frame `serial` and hand its trace to the dispatch.
pub(crate) fn close_trace(serial: u64, panicking: bool) {
    let end = Tick::now();
    let finished = with(|s| {
        let pos = s.position(serial)?;
        let mut frame = s.frames.remove(pos);
        s.sync_sampled();
        if matches!(frame.owner, Owner::Root { .. }) {
            s.spans_hint = frame.spans.len().min(MAX_SPANS_HINT);
        }
        if panicking {
            frame.with_info(mark_trace_panicked);
        }
        frame.finish(end).0
    })
    .flatten();
    // Outside the borrow: a synchronous export may run user callbacks that trace.
    if let Some(trace) = finished {
        #[cfg(feature = "__bench")]
        if BENCH_TAKE.with(std::cell::Cell::get) {
            BENCH_TAKEN.with(|c| *c.borrow_mut() = Some(trace));
            return;
        }
        dispatch::submit(trace);
    }
}

/// Run `f` on the data of the trace open on this thread (the innermost frame's trace).
pub(crate) fn with_trace_info<R>(f: impl FnOnce(&mut TraceInfo) -> R) -> Option<R> {
    with(|s| s.frames.last_mut()?.with_info(f)).flatten()
}

/// Run `f` on the data of the root frame `serial`.
pub(crate) fn with_root_info<R>(serial: u64, f: impl FnOnce(&mut TraceInfo) -> R) -> Option<R> {
    with(|s| s.frame_mut(serial)?.with_info(f)).flatten()
}

/// The current trace id, the span to parent remote work under, and the `tracestate` to pass
/// on, for W3C propagation.
pub(crate) fn current_propagation() -> Option<(TraceId, SpanId, Option<String>, bool)> {
    with(|s| {
        let frame = s.frames.last()?;
        let state = match &frame.owner {
            Owner::Attached { shared, .. } => shared.trace_state.clone(),
            Owner::Root { .. } => None,
        };
        Some((frame.trace_id, frame.current_span(), state, frame.sampled))
    })
    .flatten()
}

/// The head decision for a new trace, at the rate of the dispatch recording on this thread.
#[inline]
fn head_keeps(trace_id: TraceId) -> bool {
    crate::sampling::head_keeps(trace_id.0, crate::capture::sample_rate())
}

// ---- contexts -----------------------------------------------------------------------------

/// The shared state of the innermost trace and the span to parent under, creating the shared
/// state on first use.
pub(crate) fn current_shared() -> Option<(Arc<SharedTrace>, SpanId)> {
    with(|s| {
        let frame = s.frames.last_mut()?;
        let parent = frame.current_span();
        let shared = match &mut frame.owner {
            Owner::Attached { shared, .. } => shared.clone(),
            Owner::Root { info, shared } => shared
                .get_or_insert_with(|| {
                    Arc::new(SharedTrace::new(
                        frame.trace_id,
                        frame.root_span,
                        frame.anchor,
                        info.take(),
                        frame.sampled,
                    ))
                })
                .clone(),
        };
        Some((shared, parent))
    })
    .flatten()
}

/// Push a frame attached to `shared`, under `parent`. With `carried`, that span is lent to the
/// frame (it becomes the current span) and handed back by [`detach`].
pub(crate) fn attach(
    shared: Arc<SharedTrace>,
    parent: SpanId,
    carried: Option<SpanRecord>,
) -> Option<u64> {
    with(|s| {
        if !s.may_push() {
            return None;
        }
        let serial = s.next_serial();
        let (spans, current) = match carried {
            Some(mut rec) => {
                rec.prev = NO_SPAN;
                (vec![rec], 0)
            }
            None => (Vec::new(), NO_SPAN),
        };
        let is_carried = current == 0;
        s.frames.push(Frame {
            serial,
            current,
            trace_id: shared.trace_id,
            root_span: shared.root_span,
            parent,
            anchor: shared.anchor,
            spans,
            signals: Vec::new(),
            sampled: shared.sampled,
            content: shared.sampled && crate::capture::content_switch(),
            id_base: s.ids.next_u64(),
            owner: Owner::Attached {
                shared,
                carried: is_carried,
            },
        });
        s.sync_sampled();
        Some(serial.get())
    })
    .flatten()
}

/// Pop the attached frame `serial`; its spans join the trace. Returns the carried span.
pub(crate) fn detach(serial: u64) -> Option<SpanRecord> {
    let frame = with(|s| {
        let pos = s.position(serial)?;
        let frame = s.frames.remove(pos);
        s.sync_sampled();
        Some(frame)
    })
    .flatten()?;
    // Outside the borrow: absorbing may submit a fragment.
    frame.finish(Tick::now()).1
}

/// A new span record for an owner outside the stack (an instrumented future), parented under
/// the current span.
pub(crate) fn new_detached_span(name: Name, kind: Kind, parent: SpanId) -> SpanRecord {
    let id = with(|s| s.ids.span_id()).unwrap_or_else(|| IdGen::unseeded().span_id());
    SpanRecord {
        id,
        parent,
        start: Tick::now(),
        end: None,
        name,
        kind,
        severity: None,
        prev: NO_SPAN,
        data: None,
    }
}

/// Hand a span closed outside the stack to its trace.
pub(crate) fn submit_detached(shared: &SharedTrace, rec: SpanRecord, panicking: bool) {
    let mut rec = rec;
    rec.end.get_or_insert_with(Tick::now);
    if panicking {
        mark_panicked(&mut rec);
    }
    shared.absorb(vec![rec], Vec::new());
}

/// True when a trace is open on this thread.
pub(crate) fn in_trace() -> bool {
    STACK
        .try_with(|c| {
            c.try_borrow()
                .map(|s| !s.frames.is_empty())
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// The destructor of `EXIT_FLUSH`: at thread exit, frames still open (their guards leaked, or
/// the thread ended inside them) are closed and delivered, innermost first, not lost. Frames
/// opened after it ran are refused ([`Stack::may_push`]).
struct ExitFlush;

impl Drop for ExitFlush {
    fn drop(&mut self) {
        let frames = STACK
            .try_with(|cell| {
                let mut s = cell.try_borrow_mut().ok()?;
                s.exiting = true;
                Some(std::mem::take(&mut *s.frames))
            })
            .ok()
            .flatten()
            .unwrap_or_default();
        let end = Tick::now();
        for frame in frames.into_iter().rev() {
            if let (Some(trace), _) = frame.finish(end) {
                dispatch::submit(trace);
            }
        }
    }
}

/// Record a signal on the span in `slot` (or wherever its frame points, if it has closed).
pub(crate) fn push_signal_at(slot: Slot, make: impl FnOnce(SpanId) -> Signal) -> bool {
    with(|s| {
        let Some(frame) = s.frame_mut(slot.frame_serial()) else {
            return false;
        };
        if slot.index() as usize >= frame.spans.len() {
            return false;
        }
        let target = frame.span_id(slot.index());
        frame.signals.push(make(target));
        true
    })
    .unwrap_or(false)
}

/// Record a signal on a trace itself: the frame `serial`'s, or the innermost frame's (`None`).
pub(crate) fn push_trace_signal(serial: Option<u64>, make: impl FnOnce(SpanId) -> Signal) -> bool {
    with(|s| {
        let frame = match serial {
            Some(serial) => s.frame_mut(serial),
            None => s.frames.last_mut(),
        };
        let Some(frame) = frame else {
            return false;
        };
        frame.signals.push(make(SpanId::NONE));
        true
    })
    .unwrap_or(false)
}

/// Run `f` (which opens and closes one trace on this thread) and return that trace instead of
/// submitting it. For the benchmarks' synthetic data only.
#[cfg(feature = "__bench")]
pub(crate) fn record_for_bench(f: impl FnOnce()) -> Option<FinishedTrace> {
    BENCH_TAKE.with(|c| c.set(true));
    f();
    BENCH_TAKE.with(|c| c.set(false));
    BENCH_TAKEN.with(|c| c.borrow_mut().take())
}

#[cfg(feature = "__bench")]
thread_local! {
    static BENCH_TAKE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static BENCH_TAKEN: RefCell<Option<FinishedTrace>> = const { RefCell::new(None) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arena_doubles_up_to_the_last_index_and_no_further() {
        assert_eq!(arena_growth(0), Some(4));
        assert_eq!(arena_growth(3), Some(4));
        assert_eq!(arena_growth(1000), Some(1000));
        let last = NO_SPAN as usize;
        assert_eq!(arena_growth(last - 1), Some(1));
        assert_eq!(arena_growth(last - 3), Some(3));
        assert_eq!(arena_growth(last / 2 + 10), Some(last - (last / 2 + 10)));
        assert_eq!(arena_growth(last), None);
        assert_eq!(arena_growth(last + 1), None);
    }
}
