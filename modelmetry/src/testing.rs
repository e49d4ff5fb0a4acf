//! Capture finished traces in memory, for tests of code instrumented with this crate.
//!
//! ```
//! let recorder = modelmetry::testing::Recorder::install();
//! {
//!     let _trace = modelmetry::start_trace("turn");
//!     let _span = modelmetry::start_span("llm.generate", modelmetry::Kind::Llm);
//! }
//! let traces = recorder.take();
//! assert_eq!(traces[0].tree(), "trace turn\n└── llm llm.generate\n");
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::client::{self, Guard};
use crate::config::{Config, Delivery};
use crate::export::{Exporter, Tally, console, ingest};
use crate::record::FinishedTrace;
use crate::wire::IngestSignalsV1RequestBody;

static LOCK: Mutex<()> = Mutex::new(());

/// Serialise tests that change the SDK's global state (`init`, `shutdown`, a [`Recorder`]).
/// [`Recorder::install`] takes it for you.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A finished trace as recorded: its tree and the ingest body it becomes.
#[derive(Debug, Clone)]
pub struct RecordedTrace {
    tree: String,
    body: IngestSignalsV1RequestBody,
    max_batch_records: usize,
    max_batch_bytes: usize,
}

impl RecordedTrace {
    /// The trace as the console prints it, without durations (stable across runs).
    pub fn tree(&self) -> &str {
        &self.tree
    }

    /// The ingest body this trace becomes: checked against the spec's constraints and with
    /// each record cut to the per-record limit, as the HTTP exporter sends it.
    pub fn ingest(&self) -> &IngestSignalsV1RequestBody {
        &self.body
    }

    /// The request bodies (JSON) the HTTP exporter would send for this trace, packed by the
    /// configured [`max_batch_records`](Config::max_batch_records) and
    /// [`max_batch_bytes`](Config::max_batch_bytes).
    pub fn requests(&self) -> Vec<String> {
        let (records, _unencodable) = ingest::encode(&self.body);
        ingest::pack(&records, self.max_batch_records, self.max_batch_bytes)
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }
}

/// Records every finished trace in memory, synchronously, until dropped.
///
/// Installing a recorder replaces the running client, and holds [`lock`] so that tests using
/// recorders in one binary run one at a time.
#[must_use = "the recorder stops recording when dropped"]
pub struct Recorder {
    traces: Arc<Mutex<Vec<RecordedTrace>>>,
    guard: Option<Guard>,
    _lock: MutexGuard<'static, ()>,
}

struct Capture {
    traces: Arc<Mutex<Vec<RecordedTrace>>>,
    record_limit: usize,
    max_batch_records: usize,
    max_batch_bytes: usize,
}

impl Exporter for Capture {
    fn export(&self, traces: &[FinishedTrace], _deadline: Instant) -> Tally {
        let recorded = traces.iter().map(|t| RecordedTrace {
            tree: console::render(t, false),
            body: ingest::to_body(std::slice::from_ref(t), self.record_limit),
            max_batch_records: self.max_batch_records,
            max_batch_bytes: self.max_batch_bytes,
        });
        self.traces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(recorded);
        Tally {
            sent: traces.iter().map(FinishedTrace::record_count).sum(),
            ..Tally::default()
        }
    }
}

impl Recorder {
    /// Record with the default settings.
    pub fn install() -> Recorder {
        Recorder::install_with(Config::default())
    }

    /// Record with `config` (its exporter is replaced by the recorder, and delivery made
    /// synchronous so that a trace is recorded as soon as it closes).
    pub fn install_with(config: Config) -> Recorder {
        let lock = lock();
        let traces = Arc::new(Mutex::new(Vec::new()));
        let config = config.delivery(Delivery::Synchronous);
        let capture = Capture {
            traces: traces.clone(),
            record_limit: config.record_limit(),
            max_batch_records: config.max_batch_records,
            max_batch_bytes: config.max_batch_bytes,
        };
        let guard = client::install_exporter(config, Some(Box::new(capture)));
        Recorder {
            traces,
            guard: Some(guard),
            _lock: lock,
        }
    }

    /// Take the traces recorded so far, oldest first.
    pub fn take(&self) -> Vec<RecordedTrace> {
        std::mem::take(&mut *self.traces.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The trees of the traces recorded so far, joined (taking them).
    pub fn take_trees(&self) -> String {
        self.take().iter().map(|t| t.tree.as_str()).collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Shut down while still holding the lock.
        drop(self.guard.take());
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}
