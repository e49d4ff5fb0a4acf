//! The capture switches: whether content (inputs, outputs, messages, documents) is recorded,
//! and the cap on one value. Global (set by the process-wide client), or per thread for a
//! dispatch scoped to it (a test's recorder).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// The default cap on one captured value, in bytes of JSON.
pub(crate) const DEFAULT_MAX_VALUE_BYTES: usize = 256 * 1024;

static CONTENT: AtomicBool = AtomicBool::new(true);
static VALUE_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_VALUE_BYTES);
static DEBUG: AtomicBool = AtomicBool::new(false);
/// The head sampling rate's bits (an `f64` in 0..=1).
static SAMPLE_RATE: AtomicU64 = AtomicU64::new(ONE_BITS);
/// Some dispatch samples (rate below 1): only then is the thread's sampled-out flag read.
static SAMPLING: AtomicBool = AtomicBool::new(false);
const ONE_BITS: u64 = 0x3FF0_0000_0000_0000; // 1.0f64.to_bits()

thread_local! {
    /// The settings of a dispatch scoped to this thread (a test's recorder), over the global
    /// ones.
    static THREAD_SETTINGS: Cell<Option<Settings>> = const { Cell::new(None) };
    /// The innermost trace open on this thread was dropped by head sampling: nothing of its
    /// content is captured (the stack sets it as frames come and go).
    static SAMPLED_OUT: Cell<bool> = const { Cell::new(false) };
}

/// What is captured, and how much of each value: set by the dispatch that records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Inputs, outputs, messages and documents are recorded.
    pub(crate) content: bool,
    /// The cap on one captured value, in bytes of JSON.
    pub(crate) value_limit: usize,
    /// A value that is not `Serialize` is captured as its `Debug` text (else a placeholder
    /// with its type name).
    pub(crate) debug: bool,
    /// The head sampling rate, 0..=1.
    pub(crate) sample_rate: f64,
}

impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        self.content == other.content
            && self.value_limit == other.value_limit
            && self.debug == other.debug
            && self.sample_rate.to_bits() == other.sample_rate.to_bits()
    }
}

impl Eq for Settings {}

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
    content_switch() && !sampled_out()
}

/// The content switch of the dispatch recording on this thread, head sampling aside: a trace
/// reads it once per thread it runs on, when it opens or is attached there.
#[inline]
pub(crate) fn content_switch() -> bool {
    match thread_settings() {
        Some(s) => s.content,
        None => CONTENT.load(Relaxed),
    }
}

/// True while the innermost trace on this thread was dropped by head sampling: one atomic
/// load while no dispatch samples.
#[inline]
pub(crate) fn sampled_out() -> bool {
    SAMPLING.load(Relaxed) && SAMPLED_OUT.try_with(Cell::get).unwrap_or(false)
}

/// Say whether the innermost trace on this thread was dropped by head sampling.
#[inline]
pub(crate) fn set_sampled_out(out: bool) {
    if SAMPLING.load(Relaxed) {
        let _ = SAMPLED_OUT.try_with(|c| c.set(out));
    }
}

/// Whether a value that is not `Serialize` is captured as its `Debug` text
/// (`MODELMETRY_CAPTURE_DEBUG`, [`Config::capture_debug`](crate::Config::capture_debug)).
pub(crate) fn debug_enabled() -> bool {
    match thread_settings() {
        Some(s) => s.debug,
        None => DEBUG.load(Relaxed),
    }
}

/// The head sampling rate of the dispatch recording on this thread.
pub(crate) fn sample_rate() -> f64 {
    match thread_settings() {
        Some(s) => s.sample_rate,
        None => f64::from_bits(SAMPLE_RATE.load(Relaxed)),
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
    DEBUG.store(settings.debug, Relaxed);
    SAMPLE_RATE.store(settings.sample_rate.to_bits(), Relaxed);
    note_sampling(settings);
}

/// Once any dispatch samples, threads keep their sampled-out flag (never turned back off:
/// the cost is one thread-local read per capture).
fn note_sampling(settings: Settings) {
    if settings.sample_rate < 1.0 {
        SAMPLING.store(true, Relaxed);
    }
}

/// The settings of the dispatch scoped to this thread (`None`: the global ones).
pub(crate) fn set_thread_settings(settings: Option<Settings>) {
    if let Some(s) = settings {
        note_sampling(s);
    }
    let _ = THREAD_SETTINGS.try_with(|c| c.set(settings));
}
