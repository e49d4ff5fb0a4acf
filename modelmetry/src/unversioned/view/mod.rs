//! Traces in OTLP/JSON (the file exporter's lines, or any `ExportTraceServiceRequest` in the
//! OTLP/JSON mapping) as a self-contained HTML page or as Chrome Trace Event JSON for Perfetto
//! (cargo feature `html`).
//!
//! The `modelmetry` command (`modelmetry-cli`) and the HTML exporter
//! (`MODELMETRY_EXPORTER=html`) both render through [`View`]; it reads spans generically (any
//! OTLP span shows, GenAI attributes get their own panes), so files written by other tools
//! open too.
//!
//! ```
//! use modelmetry::unversioned::view::View;
//!
//! let line = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",
//!   "spanId":"b7ad6b7169203331","name":"chatbot.turn","kind":1,
//!   "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000100000000"}]}]}]}"#;
//! let (view, skipped) = View::from_jsonl(line);
//! assert_eq!((view.trace_count(), skipped), (1, 0));
//! assert!(view.html().contains("chatbot.turn"));
//! assert_eq!(view.perfetto()["traceEvents"][1]["ph"], "X");
//! ```

mod model;
mod page;
mod perfetto;

use std::collections::HashMap;

use serde_json::Value;

pub use model::{Lane, SpanView, TraceView};

/// Traces read from OTLP/JSON requests, grouped by trace id (a trace written over several
/// lines, as fragments, is one trace), in the order they were first seen.
#[derive(Debug, Default, Clone)]
pub struct View {
    traces: Vec<model::RawTrace>,
    index: HashMap<String, usize>,
}

impl View {
    /// An empty view.
    pub fn new() -> Self {
        View::default()
    }

    /// Read OTLP/JSON lines (one `ExportTraceServiceRequest` a line; blank lines are
    /// skipped). Returns the view and how many lines could not be read as one.
    pub fn from_jsonl(text: &str) -> (View, usize) {
        let mut view = View::new();
        let skipped = view.add_jsonl(text);
        (view, skipped)
    }

    /// Add OTLP/JSON lines (see [`from_jsonl`](View::from_jsonl)); returns how many lines
    /// could not be read as a request.
    pub fn add_jsonl(&mut self, text: &str) -> usize {
        let mut skipped = 0;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match serde_json::from_str::<Value>(line) {
                Ok(req) if req.get("resourceSpans").is_some() => self.add_request(&req),
                _ => skipped += 1,
            }
        }
        skipped
    }

    /// Add the spans of one `ExportTraceServiceRequest` in the OTLP/JSON mapping.
    pub fn add_request(&mut self, request: &Value) {
        for span in model::spans_of(request) {
            let slot = match self.index.get(&span.trace_id) {
                Some(&i) => i,
                None => {
                    self.index.insert(span.trace_id.clone(), self.traces.len());
                    self.traces
                        .push(model::RawTrace::new(span.trace_id.clone()));
                    self.traces.len() - 1
                }
            };
            self.traces[slot].spans.push(span);
        }
    }

    /// Keep only the `n` traces seen last.
    pub fn retain_latest(&mut self, n: usize) {
        if self.traces.len() > n {
            self.traces.drain(..self.traces.len() - n);
            self.index = self
                .traces
                .iter()
                .enumerate()
                .map(|(i, t)| (t.trace_id.clone(), i))
                .collect();
        }
    }

    /// How many traces it holds.
    pub fn trace_count(&self) -> usize {
        self.traces.len()
    }

    /// How many spans it holds, over all traces.
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }

    /// Each trace laid out: its summary, and its spans in waterfall order (depth first,
    /// children by start time) with their depth and lane. The newest trace first.
    pub fn traces(&self) -> Vec<TraceView> {
        let mut out: Vec<TraceView> = self.traces.iter().map(model::RawTrace::layout).collect();
        out.sort_by(|a, b| b.start_ms.total_cmp(&a.start_ms));
        out
    }

    /// The self-contained HTML page: inline CSS and script, the data as JSON in a
    /// `<script type="application/json">`, no request to any network.
    pub fn html(&self) -> String {
        page::render(&self.traces())
    }

    /// The traces in the Chrome Trace Event format (JSON object form), which
    /// ui.perfetto.dev and chrome://tracing open: one process per trace, one thread per lane
    /// of concurrent spans, a complete (`"ph": "X"`) event per span with its model, tokens,
    /// cost and time to first token in `args`.
    pub fn perfetto(&self) -> Value {
        perfetto::render(&self.traces())
    }
}
