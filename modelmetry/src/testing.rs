//! Capture finished traces in memory, for tests of code instrumented with this crate.
//!
//! A [`Recorder`] records the traces made on the thread that installed it, and what is
//! carried from there (a [`Context`](crate::Context), an instrumented future polled anywhere),
//! and nothing else: tests that each install one run in parallel, as `cargo test` runs them,
//! without a lock. It needs no [`init`](crate::init), and leaves a running client alone.
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

use crate::client::InitGuard;
use crate::config::{Config, Delivery};
use crate::dispatch::{self, DefaultGuard, Dispatch};
use crate::export::batch::{self, Encoded, Section};
use crate::export::{Exporter, Settle, Tally, console, ingest};
use crate::pipeline::Pipeline;
use crate::record::FinishedTrace;
use crate::unversioned::wire::IngestSignalsV1RequestBody;

static LOCK: Mutex<()> = Mutex::new(());

/// Serialise tests that change the SDK's process-wide state (`init`, `shutdown`) or read
/// its process-wide counters ([`stats`](crate::stats)). A [`Recorder`] needs no lock.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A finished trace as recorded: its tree, and the ingest records it becomes, as the bytes the
/// HTTP exporter would send.
#[derive(Debug, Clone)]
pub struct RecordedTrace {
    tree: String,
    /// Each record's JSON, as the encoder wrote it.
    records: Vec<Encoded>,
    /// The same bytes, read back.
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
    /// each record cut to the per-record limit, as the HTTP exporter sends it. It is the
    /// exporter's own bytes ([`records`](Self::records)) read back with `serde_json` (whose
    /// `float_roundtrip` feature makes every number read back exactly as written).
    pub fn ingest(&self) -> &IngestSignalsV1RequestBody {
        &self.body
    }

    /// Each record's JSON, exactly as the HTTP exporter writes it: sessions, traces, spans,
    /// events, findings, in that order.
    pub fn records(&self) -> Vec<&str> {
        self.records
            .iter()
            .map(|r| std::str::from_utf8(&r.json).unwrap_or("<not UTF-8>"))
            .collect()
    }

    /// The request bodies (JSON) the HTTP exporter would send for this trace, packed by the
    /// configured [`max_batch_records`](Config::max_batch_records) and
    /// [`max_batch_bytes`](Config::max_batch_bytes).
    pub fn requests(&self) -> Vec<String> {
        batch::pack(&self.records, self.max_batch_records, self.max_batch_bytes)
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect()
    }
}

/// Records every finished trace of this thread in memory, synchronously, until dropped.
///
/// Installing a recorder makes it current on this thread (as `tracing`'s `set_default` does):
/// traces opened here, and spans carried from here to other threads or tasks, are recorded by
/// it, whatever client runs for the rest of the process. Traces made on other threads are not.
/// It is not `Send`: drop it on the thread that installed it.
#[must_use = "the recorder stops recording when dropped"]
pub struct Recorder {
    traces: Arc<Mutex<Vec<RecordedTrace>>>,
    _current: Installed,
}

enum Installed {
    /// Current on the thread that installed it.
    Thread { _current: DefaultGuard },
    /// The process's client, with the lock that keeps other such tests out.
    Process {
        _client: InitGuard,
        _lock: MutexGuard<'static, ()>,
    },
}

struct RecordingExporter {
    traces: Arc<Mutex<Vec<RecordedTrace>>>,
    record_limit: usize,
    max_batch_records: usize,
    max_batch_bytes: usize,
}

impl Exporter for RecordingExporter {
    fn export(&self, traces: &[FinishedTrace], _deadline: Instant, _: &dyn Settle) -> Tally {
        let recorded = traces.iter().map(|t| {
            let (records, _unencodable) =
                ingest::encode_traces(std::slice::from_ref(t), self.record_limit);
            RecordedTrace {
                tree: console::render(t, false),
                body: read_back(&records),
                records,
                max_batch_records: self.max_batch_records,
                max_batch_bytes: self.max_batch_bytes,
            }
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

/// The body the encoder's bytes make, read back (a record that did not read back would be
/// left out; the contract tests check that none is).
fn read_back(records: &[Encoded]) -> IngestSignalsV1RequestBody {
    let mut body = IngestSignalsV1RequestBody::default();
    for r in records {
        let _ = match r.section {
            Section::Sessions => serde_json::from_slice(&r.json).map(|v| body.sessions.push(v)),
            Section::Traces => serde_json::from_slice(&r.json).map(|v| body.traces.push(v)),
            Section::Spans => serde_json::from_slice(&r.json).map(|v| body.spans.push(v)),
            Section::Events => serde_json::from_slice(&r.json).map(|v| body.events.push(v)),
            Section::Findings => serde_json::from_slice(&r.json).map(|v| body.findings.push(v)),
        };
    }
    body
}

impl Recorder {
    /// Record with the default settings.
    pub fn install() -> Recorder {
        Recorder::install_with(Config::default())
    }

    /// Record with `config` (its exporter is replaced by the recorder, and delivery made
    /// synchronous so that a trace is recorded as soon as it closes). Its capture settings
    /// and redaction hook apply to what this recorder records.
    pub fn install_with(config: Config) -> Recorder {
        let traces = Arc::new(Mutex::new(Vec::new()));
        let config = config.delivery(Delivery::Synchronous);
        let capture = RecordingExporter {
            traces: traces.clone(),
            record_limit: config.record_limit(),
            max_batch_records: config.max_batch_records,
            max_batch_bytes: config.max_batch_bytes,
        };
        crate::time::calibrate();
        let settings = crate::client::capture_settings(&config);
        let pipeline = Pipeline::start(config, Box::new(capture));
        Recorder {
            traces,
            _current: Installed::Thread {
                _current: dispatch::set_default(Dispatch::scoped(pipeline, settings)),
            },
        }
    }

    /// Record the traces of every thread, as the process's client (replacing any that runs),
    /// for tests of threads that carry no [`Context`](crate::Context) (a trace delivered at
    /// thread exit, say). Holds [`lock`] until dropped, so such tests run one at a time.
    pub fn install_global() -> Recorder {
        let lock = lock();
        let traces = Arc::new(Mutex::new(Vec::new()));
        let config = Config::default().delivery(Delivery::Synchronous);
        let capture = RecordingExporter {
            traces: traces.clone(),
            record_limit: config.record_limit(),
            max_batch_records: config.max_batch_records,
            max_batch_bytes: config.max_batch_bytes,
        };
        let guard = crate::client::install_exporter(config, Some(Box::new(capture)));
        Recorder {
            traces,
            _current: Installed::Process {
                _client: guard,
                _lock: lock,
            },
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

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}
