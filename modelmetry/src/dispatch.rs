//! Where finished traces go, and whether anything is recorded at all: the one thing the hot
//! path asks of the layers above it.
//!
//! Modelled on `tracing_core::dispatcher`. A [`Dispatch`] is a [`Sink`] (the client's pipeline,
//! or a test's recorder) with the capture settings that go with it. The client installs one
//! for the whole process ([`set_global`]); a test installs one for its own thread
//! ([`set_default`]), which wins there and nowhere else, so tests run in parallel, each with its
//! own recorder. A trace remembers the dispatch it was opened under, so work carried to another
//! thread (a `Context`, a future) reaches the same sink.
//!
//! The hot path pays one atomic load ([`enabled`]) while no thread has a state of its own;
//! while one does (a test's recorder, or the SDK running a user callback), every thread also
//! reads its own thread-local state.
//!
//! User callbacks (redaction, `on_error`, a captured value's `Serialize`, `Debug` or `Display`)
//! run through [`switch::user_code`]: tracing is off on that thread while they run (a span
//! opened there is not recorded, and counted), and a panic in them is caught.

use std::cell::RefCell;
use std::sync::{Arc, PoisonError, RwLock};

use crate::capture;
use crate::record::FinishedTrace;
use crate::stats::{self, Loss};
use crate::switch;

/// What finished traces are handed to.
pub(crate) trait Sink: Send + Sync + 'static {
    /// Take a finished trace (or a fragment of one recorded after it shipped).
    fn submit(&self, trace: FinishedTrace);
}

/// A sink and the capture settings that go with it.
#[derive(Clone)]
pub(crate) struct Dispatch {
    sink: Arc<dyn Sink>,
    settings: capture::Settings,
    /// For a dispatch installed for one thread (a test's recorder), not for the process: its
    /// own counters.
    scoped: Option<Arc<stats::Counters>>,
}

impl Dispatch {
    /// The process-wide dispatch of a client.
    pub(crate) fn global(sink: Arc<dyn Sink>, settings: capture::Settings) -> Dispatch {
        Dispatch {
            sink,
            settings,
            scoped: None,
        }
    }

    /// A dispatch for one thread (and what is carried from it): a test's `Recorder`.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn scoped(sink: Arc<dyn Sink>, settings: capture::Settings) -> Dispatch {
        Dispatch {
            sink,
            settings,
            scoped: Some(Arc::new(stats::Counters::new())),
        }
    }

    /// Hand a finished trace to this dispatch's sink.
    pub(crate) fn submit(&self, trace: FinishedTrace) {
        // A scoped dispatch's sink counts on its own counters, wherever the trace finishes.
        let _current = self.is_scoped().then(|| set_default(self.clone()));
        self.sink.submit(trace);
    }

    /// True for a dispatch installed for one thread.
    pub(crate) fn is_scoped(&self) -> bool {
        self.scoped.is_some()
    }
}

// ---- the process-wide state ---------------------------------------------------------------

static GLOBAL: RwLock<Option<Dispatch>> = RwLock::new(None);

/// True when a span opened now would be recorded: one atomic load while no thread has a state
/// of its own.
#[inline]
pub(crate) fn enabled() -> bool {
    match switch::state() {
        0 => false,
        switch::ON => !switch::in_user_code() || in_callback(),
        state => enabled_slow(state),
    }
}

/// A span opened inside a user callback: not recorded, counted, said once. Returns `false`.
#[cold]
#[inline(never)]
fn in_callback() -> bool {
    note_callback_tracing();
    false
}

#[cold]
#[inline(never)]
fn enabled_slow(state: u8) -> bool {
    if switch::in_user_code() {
        return in_callback();
    }
    if state & switch::LOCAL != 0 {
        if let Ok(true) = THREAD.try_with(|t| !t.scoped.borrow().is_empty()) {
            return true;
        }
    }
    if state & switch::ON != 0 {
        return true;
    }
    if state & switch::SHUT != 0 {
        note_use_after_shutdown();
    }
    false
}

/// Install `dispatch` for the whole process, replacing none: the caller checked that none
/// runs.
pub(crate) fn set_global(dispatch: Dispatch) {
    watch_panics();
    capture::set_global_settings(dispatch.settings);
    *GLOBAL.write().unwrap_or_else(PoisonError::into_inner) = Some(dispatch);
    switch::clear(switch::SHUT);
    switch::set(switch::ON);
}

/// Remove the process-wide dispatch. With `said_once`, the first span opened afterwards says
/// (once) that tracing was shut down.
pub(crate) fn take_global(said_once: bool) -> Option<Dispatch> {
    switch::clear(switch::ON);
    if said_once {
        switch::set(switch::SHUT);
    }
    GLOBAL
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

/// The process-wide dispatch, if one is installed.
pub(crate) fn global() -> Option<Dispatch> {
    GLOBAL
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The dispatch current on this thread: its scoped one, else the global one.
pub(crate) fn current() -> Option<Dispatch> {
    if switch::state() & switch::LOCAL != 0 {
        if let Ok(Some(d)) = THREAD.try_with(|t| t.scoped.borrow().last().cloned()) {
            return Some(d);
        }
    }
    global()
}

/// Hand a finished trace to the dispatch current on this thread, or count it lost.
pub(crate) fn submit(trace: FinishedTrace) {
    match current() {
        Some(d) => d.submit(trace),
        None => drop_unsinkable(trace),
    }
}

/// Count a trace that finished with nowhere to go (the client shut down while it was open).
pub(crate) fn drop_unsinkable(trace: FinishedTrace) {
    let n = trace.record_count();
    stats::count_produced(n);
    stats::count_drop(Loss::Shutdown, n);
}

// ---- per-thread state ---------------------------------------------------------------------

struct Thread {
    /// Scoped dispatches, innermost last.
    scoped: RefCell<Vec<Dispatch>>,
}

thread_local! {
    static THREAD: Thread = const {
        Thread { scoped: RefCell::new(Vec::new()) }
    };
}

/// Make `dispatch` current on this thread until the guard drops.
pub(crate) fn set_default(dispatch: Dispatch) -> DefaultGuard {
    watch_panics();
    let pushed = THREAD
        .try_with(|t| {
            capture::set_thread_settings(Some(dispatch.settings));
            stats::scoped(dispatch.scoped.clone());
            t.scoped.borrow_mut().push(dispatch);
        })
        .is_ok();
    if pushed {
        switch::local_begin();
    }
    DefaultGuard {
        pushed,
        _not_send: std::marker::PhantomData,
    }
}

/// Keeps a scoped dispatch current on its thread; restores the previous one when dropped.
pub(crate) struct DefaultGuard {
    pushed: bool,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        if !self.pushed {
            return;
        }
        let _ = THREAD.try_with(|t| {
            let mut scoped = t.scoped.borrow_mut();
            scoped.pop();
            capture::set_thread_settings(scoped.last().map(|d| d.settings));
            stats::scoped(scoped.last().and_then(|d| d.scoped.clone()));
        });
        switch::local_end();
    }
}

/// Carry `dispatch` onto this thread while work of a trace opened under it runs here (a
/// `Context` attached, a future polled): only a scoped dispatch needs carrying.
pub(crate) fn carry(dispatch: Option<&Dispatch>) -> Option<DefaultGuard> {
    match dispatch {
        Some(d) if d.is_scoped() => Some(set_default(d.clone())),
        _ => None,
    }
}

#[cold]
fn note_callback_tracing() {
    stats::count_drop(Loss::InCallback, 1);
    crate::diag::once(
        "in_callback",
        format_args!(
            "a span was opened inside a callback the SDK runs (redaction, on_error, a captured value's Serialize/Debug/Display); it is not recorded (counted in stats().dropped.in_callback)"
        ),
    );
}

#[cold]
fn note_use_after_shutdown() {
    // Say it once, then stop looking: tracing stays off at the cost of one load.
    if switch::clear(switch::SHUT) & switch::SHUT != 0 {
        crate::diag::report(format_args!(
            "a span was opened after the client shut down (the guard from init() was dropped: \
             `let _ = modelmetry::init();` drops it at once; keep it with `let _guard = modelmetry::init();`); \
             tracing stays off"
        ));
    }
}

// ---- panics -------------------------------------------------------------------------------

thread_local! {
    /// The text of the last panic on this thread while tracing was on: spans closed by its
    /// unwinding record it.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Chain a panic hook (once per process) that keeps the panic's text for the spans its
/// unwinding closes. The hook that was installed before runs as it did; one installed after
/// replaces this one, and spans then say only that they were closed by a panic.
fn watch_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if enabled_quietly() {
                let text = switch::panic_text(info.payload()).to_owned();
                let _ = LAST_PANIC.try_with(|p| {
                    if let Ok(mut p) = p.try_borrow_mut() {
                        *p = Some(text);
                    }
                });
            }
            previous(info);
        }));
    });
}

/// [`enabled`] without its one-time notes (the panic hook must say nothing).
fn enabled_quietly() -> bool {
    let state = switch::state();
    state & switch::ON != 0
        || (state & switch::LOCAL != 0
            && THREAD
                .try_with(|t| t.scoped.try_borrow().is_ok_and(|s| !s.is_empty()))
                .unwrap_or(false))
}

/// The message of a span or trace closed by an unwinding panic: the panic's text.
pub(crate) fn panic_message() -> String {
    let text = LAST_PANIC
        .try_with(|p| p.try_borrow().ok().and_then(|p| p.clone()))
        .ok()
        .flatten();
    match text {
        Some(text) => format!("panicked: {text}"),
        None => "panicked: the span was closed while the thread unwound".to_owned(),
    }
}
