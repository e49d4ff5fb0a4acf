//! The capture switches: whether content (inputs, outputs, messages, documents) is recorded,
//! and the cap on one value. Global (set by the process-wide client), or per thread for a
//! dispatch scoped to it (a test's recorder).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// The default cap on one captured value, in bytes of JSON.
pub(crate) const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;

static CONTENT: AtomicBool = AtomicBool::new(true);
static VALUE_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_VALUE_BYTES);

thread_local! {
    /// The settings of a dispatch scoped to this thread (a test's recorder), over the global
    /// ones.
    static THREAD_SETTINGS: Cell<Option<Settings>> = const { Cell::new(None) };
}

/// What is captured, and how much of each value: set by the dispatch that records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Inputs, outputs, messages and documents are recorded.
    pub(crate) content: bool,
    /// The cap on one captured value, in bytes of JSON.
    pub(crate) value_limit: usize,
}

/// The settings of this thread's scoped dispatch, if it has one. While no thread has one (the
/// switch's `LOCAL` bit is clear: every process that is not a test), no thread-local is read.
#[inline]
fn thread_settings() -> Option<Settings> {
    if crate::switch::state() & crate::switch::LOCAL == 0 {
        return None;
    }
    THREAD_SETTINGS.try_with(Cell::get).ok().flatten()
}

/// Whether inputs, outputs, messages and documents are recorded
/// (`MODELMETRY_CAPTURE_CONTENT`, [`Config::capture_content`](crate::Config::capture_content)).
#[inline]
pub fn content_enabled() -> bool {
    match thread_settings() {
        Some(s) => s.content,
        None => CONTENT.load(Relaxed),
    }
}

/// The cap on one captured value, in bytes of JSON.
pub(crate) fn value_limit() -> usize {
    match thread_settings() {
        Some(s) => s.value_limit,
        None => VALUE_LIMIT.load(Relaxed),
    }
}

/// The settings of the process-wide client.
pub(crate) fn set_global_settings(settings: Settings) {
    CONTENT.store(settings.content, Relaxed);
    VALUE_LIMIT.store(settings.value_limit, Relaxed);
}

/// The settings of the dispatch scoped to this thread (`None`: the global ones).
pub(crate) fn set_thread_settings(settings: Option<Settings>) {
    let _ = THREAD_SETTINGS.try_with(|c| c.set(settings));
}
