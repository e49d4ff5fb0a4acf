//! The on/off switch the hot path reads: one atomic word for the process, and, per thread,
//! whether that thread is running a user callback for the SDK.
//!
//! The bottom of the crate: `diag` runs the user's `on_error` hook through [`user_code`], and
//! [`dispatch`](crate::dispatch) builds the rest (sinks, per-thread dispatches) on these bits.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

/// A global dispatch is installed.
pub(crate) const ON: u8 = 1;
/// Some thread has a dispatch of its own (a test's recorder): every thread must look at its
/// own before recording.
pub(crate) const LOCAL: u8 = 2;
/// The client was shut down by its guard: the first span opened afterwards says so, once.
pub(crate) const SHUT: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(0);
/// How many threads have a state of their own.
static LOCAL_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// How deep in user callbacks this thread is.
    static CALLBACKS: Cell<u32> = const { Cell::new(0) };
}

/// The switch's bits.
#[inline]
pub(crate) fn state() -> u8 {
    STATE.load(Relaxed)
}

pub(crate) fn set(bits: u8) {
    STATE.fetch_or(bits, Relaxed);
}

/// Clear `bits`; returns the bits as they were.
pub(crate) fn clear(bits: u8) -> u8 {
    STATE.fetch_and(!bits, Relaxed)
}

/// A thread takes a state of its own (until [`local_end`]).
pub(crate) fn local_begin() {
    if LOCAL_THREADS.fetch_add(1, Relaxed) == 0 {
        set(LOCAL);
    }
}

pub(crate) fn local_end() {
    if LOCAL_THREADS.fetch_sub(1, Relaxed) == 1 {
        clear(LOCAL);
    }
}

/// True while this thread runs a user callback for the SDK: a read of a thread-local
/// counter, no shared memory (captures run it for every value, on every thread).
#[inline]
pub(crate) fn in_user_code() -> bool {
    CALLBACKS.try_with(|c| c.get() > 0).unwrap_or(false)
}

/// Run user code for the SDK (a hook, a value's `Serialize` or `Debug`): tracing is off on
/// this thread while it runs, and a panic is caught and returned. Only this thread's counter
/// changes: the process's word, read by every span on every thread, is left alone.
pub(crate) fn user_code<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    let entered = CALLBACKS.try_with(|c| c.set(c.get() + 1)).is_ok();
    let result = catch_unwind(AssertUnwindSafe(f));
    if entered {
        let _ = CALLBACKS.try_with(|c| c.set(c.get() - 1));
    }
    result
}

/// The text of a panic's payload (`panic!("boom")` gives `boom`).
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a panic whose payload is not text"
    }
}
