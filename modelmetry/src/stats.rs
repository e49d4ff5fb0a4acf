//! Counters of everything the SDK produced, delivered and lost, readable with [`stats`].

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why records were lost. Every loss is counted under exactly one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loss {
    BufferFull,
    Rejected,
    Network,
    TooLarge,
    ExporterPanic,
    Shutdown,
    NonFinite,
    NoActiveTrace,
    ContextUnavailable,
    RateLimited,
    SpoolFull,
    SpoolWriteFailed,
    RedactionFailed,
    InCallback,
    TraceTooLarge,
    WriteFailed,
}

const REASONS: usize = 16;

/// One set of counters: the process's, or a test recorder's (see [`scoped`]).
#[derive(Debug)]
pub(crate) struct Counters {
    produced: AtomicU64,
    also_sent: AtomicU64,
    also_rejected: AtomicU64,
    also_dropped: AtomicU64,
    also_spooled: AtomicU64,
    sent: AtomicU64,
    retried: AtomicU64,
    buffered: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    skipped_sends: AtomicU64,
    spool_corrupt_files: AtomicU64,
    sanitized: AtomicU64,
    truncated: AtomicU64,
    capture_panics: AtomicU64,
    dropped: [AtomicU64; REASONS],
    sampled_kept: AtomicU64,
    sampled_kept_by_rule: AtomicU64,
    sampled_out: [AtomicU64; 6],
    redacted_values: AtomicU64,
    redaction_dropped: AtomicU64,
}

impl Counters {
    pub(crate) const fn new() -> Counters {
        Counters {
            produced: AtomicU64::new(0),
            also_sent: AtomicU64::new(0),
            also_rejected: AtomicU64::new(0),
            also_dropped: AtomicU64::new(0),
            also_spooled: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            buffered: AtomicU64::new(0),
            spooled: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            skipped_sends: AtomicU64::new(0),
            spool_corrupt_files: AtomicU64::new(0),
            sanitized: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            capture_panics: AtomicU64::new(0),
            dropped: [const { AtomicU64::new(0) }; REASONS],
            sampled_kept: AtomicU64::new(0),
            sampled_kept_by_rule: AtomicU64::new(0),
            sampled_out: [const { AtomicU64::new(0) }; 6],
            redacted_values: AtomicU64::new(0),
            redaction_dropped: AtomicU64::new(0),
        }
    }
}

/// The process's counters.
static GLOBAL: Counters = Counters::new();

thread_local! {
    /// The counters of the dispatch scoped to this thread (a test's recorder), if any.
    static SCOPED: RefCell<Option<Arc<Counters>>> = const { RefCell::new(None) };
}

/// Count on this thread's counters: its scoped ones, else the process's (also when the
/// thread is exiting and its thread-locals are gone: a thread-local destructor that traces
/// is counted too, never lost).
#[inline]
fn with(f: impl FnOnce(&Counters)) {
    let mut f = Some(f);
    let _ = SCOPED.try_with(|s| {
        if let Ok(Some(c)) = s.try_borrow().as_deref() {
            if let Some(f) = f.take() {
                f(c);
            }
        }
    });
    if let Some(f) = f {
        f(&GLOBAL);
    }
}

/// Make `counters` this thread's (`None`: the process's again).
pub(crate) fn scoped(counters: Option<Arc<Counters>>) {
    let _ = SCOPED.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = counters;
        }
    });
}

pub(crate) fn count_drop(reason: Loss, records: u64) {
    with(|c| {
        c.dropped[reason as usize].fetch_add(records, Relaxed);
    });
}

pub(crate) fn count_produced(records: u64) {
    with(|c| {
        c.produced.fetch_add(records, Relaxed);
    });
}

pub(crate) fn count_sent(records: u64) {
    with(|c| {
        c.sent.fetch_add(records, Relaxed);
    });
}

pub(crate) fn count_retried(records: u64) {
    with(|c| {
        c.retried.fetch_add(records, Relaxed);
    });
}

pub(crate) fn count_sanitized(values: u64) {
    with(|c| {
        c.sanitized.fetch_add(values, Relaxed);
    });
}

pub(crate) fn count_truncated(values: u64) {
    with(|c| {
        c.truncated.fetch_add(values, Relaxed);
    });
}

pub(crate) fn count_spooled(records: u64) {
    with(|c| {
        c.spooled.fetch_add(records, Relaxed);
    });
}

pub(crate) fn count_replayed(records: u64) {
    with(|c| {
        c.replayed.fetch_add(records, Relaxed);
    });
}

pub(crate) fn buffered_add(records: u64) {
    with(|c| {
        c.buffered.fetch_add(records, Relaxed);
    });
}

pub(crate) fn buffered_sub(records: u64) {
    with(|c| {
        c.buffered.fetch_sub(records, Relaxed);
    });
}

pub(crate) fn count_capture_panic() {
    with(|c| {
        c.capture_panics.fetch_add(1, Relaxed);
    });
}

pub(crate) fn count_skipped_send() {
    with(|c| {
        c.skipped_sends.fetch_add(1, Relaxed);
    });
}

pub(crate) fn count_spool_corrupt_file() {
    with(|c| {
        c.spool_corrupt_files.fetch_add(1, Relaxed);
    });
}

/// What a trace dropped by sampling held (see `sampling.rs`).
pub(crate) struct SampledOut {
    pub(crate) traces: u64,
    pub(crate) records: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) total_tokens: u64,
    pub(crate) cost_usd_nanos: u64,
}

pub(crate) fn count_sampled_out(out: SampledOut) {
    with(|c| {
        let values = [
            out.traces,
            out.records,
            out.input_tokens,
            out.output_tokens,
            out.total_tokens,
            out.cost_usd_nanos,
        ];
        for (counter, v) in c.sampled_out.iter().zip(values) {
            counter.fetch_add(v, Relaxed);
        }
    });
}

/// A trace kept while sampling (rate below 1), `by_rule` when a tail rule kept it.
pub(crate) fn count_sampled_kept(by_rule: bool) {
    with(|c| {
        c.sampled_kept.fetch_add(1, Relaxed);
        if by_rule {
            c.sampled_kept_by_rule.fetch_add(1, Relaxed);
        }
    });
}

/// Strings a redaction pattern replaced (`values`), and values dropped because redacting
/// them failed (`dropped`).
pub(crate) fn count_redaction(values: u64, dropped: u64) {
    with(|c| {
        c.redacted_values.fetch_add(values, Relaxed);
        c.redaction_dropped.fetch_add(dropped, Relaxed);
    });
}

/// What the SDK has done since the process started: records (traces, spans, events and
/// findings) produced, delivered and lost, by reason.
///
/// For delivery, `produced == sent + spooled + dropped.delivery_total() + buffered` holds at
/// every moment that no export is half-way through being counted ([`Stats::unaccounted`] is
/// then zero). Losses on the recording side (`non_finite`, `no_active_trace`,
/// `context_unavailable`, `in_callback`) happen before a record exists, so they are not part of `produced`.
/// Records read back from the disk spool are produced again (and counted in `replayed` too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Records handed to the exporters' buffer, and records read back from the spool.
    pub produced: u64,
    /// Records the exporter delivered (accepted by the server, or printed by the console).
    pub sent: u64,
    /// Records sent again after a retryable failure.
    pub retried: u64,
    /// Records waiting in the buffer or being sent right now.
    pub buffered: u64,
    /// Records that could not be delivered in time and were kept in the disk spool, to be
    /// sent on the next start or by [`replay_spool`](crate::replay_spool). Not lost.
    pub spooled: u64,
    /// Records read back from the disk spool (also counted in `produced`).
    pub replayed: u64,
    /// Requests not sent because the server's rate limit (a 429's `Retry-After`) was still in
    /// force when their deadline came.
    pub skipped_sends: u64,
    /// Spool files that could not be read back (renamed `*.corrupt`, skipped).
    pub spool_corrupt_files: u64,
    /// Records lost, by reason.
    pub dropped: Dropped,
    /// Values the SDK changed so that their record stays valid, instead of losing the record
    /// (not losses: what was there is kept, changed or moved). A non-finite number captured as
    /// the text `"NaN"`, `"Infinity"` or `"-Infinity"`; a value the spec refuses (a temperature
    /// above 1, a currency that is not three capital letters, an empty required field, data
    /// that is not base64, …) moved to the record's metadata under `modelmetry.invalid`.
    pub sanitized: u64,
    /// Values cut to fit a size limit: a captured value over
    /// [`Config::max_value_bytes`](crate::Config::max_value_bytes), or a field of a record over
    /// [`Config::max_record_bytes`](crate::Config::max_record_bytes). Each is listed in the
    /// record's metadata under `modelmetry.truncated` with its original size.
    pub truncated: u64,
    /// Values whose `Serialize`, `Debug` or `Display` panicked while the SDK captured them:
    /// each was recorded as a placeholder saying so, and your function went on as without
    /// the SDK.
    pub capture_panics: u64,
    /// What the second destination did with the same records, when two run together (the
    /// Modelmetry API or the console, and OpenTelemetry): the counters above are the first
    /// destination's.
    pub also: AlsoDelivered,
    /// Traces kept and dropped by sampling ([`Config::sample_rate`](crate::Config::sample_rate)),
    /// with the usage and cost of those dropped. Dropped traces are never produced: they are
    /// not part of the delivery balance.
    pub sampling: Sampling,
    /// What redaction ([`Config::redact_patterns`](crate::Config::redact_patterns), the hook,
    /// [`Redacted`](crate::Redacted)) did.
    pub redaction: Redaction,
}

/// Traces kept and dropped by sampling, and what the dropped ones used and cost, so that the
/// usage and cost of a day stay right at any sample rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sampling {
    /// Traces sent while the rate was below 1 (by the head decision or a tail rule).
    pub kept: u64,
    /// Of `kept`, the traces the head dropped and a tail rule kept (an error, a finding, cost
    /// or duration).
    pub kept_by_rule: u64,
    /// Traces dropped (not sent to any destination).
    pub dropped_traces: u64,
    /// Records (the trace, its spans, events and findings) of the dropped traces and of
    /// dropped fragments.
    pub dropped_records: u64,
    /// Input tokens the dropped traces' spans used (usage in the unit `tokens`).
    pub dropped_input_tokens: u64,
    /// Output tokens the dropped traces' spans used.
    pub dropped_output_tokens: u64,
    /// Total tokens the dropped traces' spans used (their total, or input + output).
    pub dropped_total_tokens: u64,
    /// What the dropped traces' spans cost, in billionths of a US dollar (costs in `USD`
    /// only; see [`dropped_cost_usd`](Sampling::dropped_cost_usd)).
    pub dropped_cost_usd_nanos: u64,
}

impl Sampling {
    /// What the dropped traces' spans cost, in US dollars.
    pub fn dropped_cost_usd(&self) -> f64 {
        self.dropped_cost_usd_nanos as f64 / 1e9
    }
}

/// What redaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redaction {
    /// Strings in which a redaction pattern replaced something.
    pub values: u64,
    /// Values (or whole traces, counted by their records) dropped because redacting them
    /// failed (a pattern or a hook panicked): sent without that content, never raw.
    pub dropped: u64,
}

/// What a second destination (OpenTelemetry next to the Modelmetry API or the console) did
/// with the records it was given: every record given is counted once, here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlsoDelivered {
    /// Records delivered.
    pub sent: u64,
    /// Records the destination refused (a 4xx, or a partial success's rejected spans).
    pub rejected: u64,
    /// Records lost on the way: network, deadline, rate limit, too large, a full buffer,
    /// shutdown, or a panic.
    pub dropped: u64,
    /// Records kept in the disk spool for a later delivery (when the second destination is
    /// the Modelmetry API with a spool).
    pub spooled: u64,
}

/// Records lost, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dropped {
    /// The buffer was full (records or bytes) when a trace finished.
    pub buffer_full: u64,
    /// The server refused them (a 4xx other than 413 and 429); its `detail` was reported.
    pub rejected: u64,
    /// The server could not be reached, kept failing until the deadline, or answered with a
    /// status nothing can be done about (a redirect, a 500), and the spool was off.
    pub network: u64,
    /// The server's rate limit (a 429's `Retry-After`) outlasted the deadline, and the spool
    /// was off.
    pub rate_limited: u64,
    /// Too large to send even alone (over the request byte limit, or refused with 413).
    pub too_large: u64,
    /// The exporter panicked while handling them (the panic was caught).
    pub exporter_panic: u64,
    /// Still unsent when the client shut down, or produced after it had.
    pub shutdown: u64,
    /// Findings whose number was NaN or infinite (JSON cannot carry them).
    pub non_finite: u64,
    /// Findings or events recorded with no trace open on the thread.
    pub no_active_trace: u64,
    /// Calls made while the thread's context was unreachable (during thread exit, or from
    /// inside the SDK itself); what they carried was not recorded.
    pub context_unavailable: u64,
    /// Undeliverable in time, and the spool had no room for them (see `max_spool_bytes`).
    pub spool_full: u64,
    /// Undeliverable in time, and writing them to the spool failed (an I/O error).
    pub spool_write_failed: u64,
    /// The redaction hook ([`Config::redact`](crate::Config::redact)) panicked on their
    /// trace: it was dropped rather than exported unredacted.
    pub redaction_failed: u64,
    /// Spans, findings or events recorded from inside a callback the SDK was running
    /// (redaction, `on_error`, a captured value's `Serialize`, `Debug` or `Display`): tracing
    /// is off there, so that a hook cannot trace itself without end.
    pub in_callback: u64,
    /// A single trace held more records or bytes than the whole buffer
    /// ([`max_buffer_records`](crate::Config::max_buffer_records),
    /// [`max_buffer_bytes`](crate::Config::max_buffer_bytes)) in background delivery: it
    /// could never fit, so it was dropped whole (synchronous delivery has no such bound).
    pub trace_too_large: u64,
    /// The file or HTML exporter could not write them (an I/O error: a full disk, a
    /// directory that is gone, no permission); the error was reported once.
    pub write_failed: u64,
}

impl Dropped {
    /// Records lost after they were produced (the delivery side of the balance).
    pub fn delivery_total(&self) -> u64 {
        self.buffer_full
            + self.rejected
            + self.network
            + self.too_large
            + self.exporter_panic
            + self.shutdown
            + self.rate_limited
            + self.spool_full
            + self.spool_write_failed
            + self.redaction_failed
            + self.trace_too_large
            + self.write_failed
    }

    /// Every loss, on both sides.
    pub fn total(&self) -> u64 {
        self.delivery_total()
            + self.non_finite
            + self.no_active_trace
            + self.context_unavailable
            + self.in_callback
    }
}

impl Stats {
    /// `produced - (sent + spooled + dropped.delivery_total() + buffered)`: zero whenever no
    /// export is half-way through being counted. Anything else is a record unaccounted for.
    pub fn unaccounted(&self) -> i128 {
        i128::from(self.produced)
            - i128::from(self.sent)
            - i128::from(self.spooled)
            - i128::from(self.dropped.delivery_total())
            - i128::from(self.buffered)
    }
}

/// Count what a second destination did with `records` records: the rest of them is dropped.
pub(crate) fn count_also(sent: u64, rejected: u64, spooled: u64, records: u64) {
    with(|c| {
        c.also_sent.fetch_add(sent, Relaxed);
        c.also_rejected.fetch_add(rejected, Relaxed);
        c.also_spooled.fetch_add(spooled, Relaxed);
        c.also_dropped
            .fetch_add(records.saturating_sub(sent + rejected + spooled), Relaxed);
    });
}

/// The counters now: the process's, or, on a thread where a test's
/// `testing::Recorder` (feature `testing`) is installed, that recorder's own (so tests that
/// run in parallel each see their own).
pub fn stats() -> Stats {
    let mut out = Stats::default();
    with(|c| out = c.read());
    out
}

impl Counters {
    fn read(&self) -> Stats {
        let d = |r: Loss| self.dropped[r as usize].load(Relaxed);
        Stats {
            produced: self.produced.load(Relaxed),
            sent: self.sent.load(Relaxed),
            retried: self.retried.load(Relaxed),
            buffered: self.buffered.load(Relaxed),
            sanitized: self.sanitized.load(Relaxed),
            truncated: self.truncated.load(Relaxed),
            capture_panics: self.capture_panics.load(Relaxed),
            spooled: self.spooled.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            skipped_sends: self.skipped_sends.load(Relaxed),
            spool_corrupt_files: self.spool_corrupt_files.load(Relaxed),
            also: AlsoDelivered {
                sent: self.also_sent.load(Relaxed),
                rejected: self.also_rejected.load(Relaxed),
                dropped: self.also_dropped.load(Relaxed),
                spooled: self.also_spooled.load(Relaxed),
            },
            sampling: Sampling {
                kept: self.sampled_kept.load(Relaxed),
                kept_by_rule: self.sampled_kept_by_rule.load(Relaxed),
                dropped_traces: self.sampled_out[0].load(Relaxed),
                dropped_records: self.sampled_out[1].load(Relaxed),
                dropped_input_tokens: self.sampled_out[2].load(Relaxed),
                dropped_output_tokens: self.sampled_out[3].load(Relaxed),
                dropped_total_tokens: self.sampled_out[4].load(Relaxed),
                dropped_cost_usd_nanos: self.sampled_out[5].load(Relaxed),
            },
            redaction: Redaction {
                values: self.redacted_values.load(Relaxed),
                dropped: self.redaction_dropped.load(Relaxed),
            },
            dropped: Dropped {
                buffer_full: d(Loss::BufferFull),
                rejected: d(Loss::Rejected),
                network: d(Loss::Network),
                too_large: d(Loss::TooLarge),
                exporter_panic: d(Loss::ExporterPanic),
                shutdown: d(Loss::Shutdown),
                non_finite: d(Loss::NonFinite),
                no_active_trace: d(Loss::NoActiveTrace),
                context_unavailable: d(Loss::ContextUnavailable),
                rate_limited: d(Loss::RateLimited),
                spool_full: d(Loss::SpoolFull),
                spool_write_failed: d(Loss::SpoolWriteFailed),
                redaction_failed: d(Loss::RedactionFailed),
                in_callback: d(Loss::InCallback),
                trace_too_large: d(Loss::TraceTooLarge),
                write_failed: d(Loss::WriteFailed),
            },
        }
    }
}
