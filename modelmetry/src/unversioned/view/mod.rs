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
//! // One line of a file the file exporter wrote: an ExportTraceServiceRequest in OTLP/JSON.
//! let line = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
//!     "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
//!     "name": "chatbot.turn", "kind": 1,
//!     "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000",
//! }]}]}]})
//! .to_string();
//! let (view, skipped) = View::from_jsonl(&line);
//! assert_eq!((view.trace_count(), skipped), (1, 0));
//! assert!(view.html().contains("chatbot.turn"));
//! let perfetto = view.perfetto();
//! let events = perfetto["traceEvents"].as_array().unwrap();
//! assert!(events.iter().any(|e| e["ph"] == "X" && e["name"] == "chatbot.turn"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A span in OTLP/JSON; times in milliseconds after a fixed start.
    fn span(id: &str, parent: &str, name: &str, start_ms: u64, end_ms: u64) -> Value {
        let base: u64 = 1_700_000_000_000_000_000;
        json!({
            "traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": id,
            "parentSpanId": parent,
            "name": name,
            "kind": 1,
            "startTimeUnixNano": (base + start_ms * 1_000_000).to_string(),
            "endTimeUnixNano": (base + end_ms * 1_000_000).to_string(),
            "attributes": [
                {"key": "modelmetry.span.kind", "value": {"stringValue": "llm"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
                {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "8"}},
                {"key": "modelmetry.cost.total", "value": {"doubleValue": 0.5}},
                {"key": "modelmetry.ttft_ms", "value": {"doubleValue": 3.0}},
            ],
        })
    }

    fn request(spans: Vec<Value>) -> Value {
        json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    }

    /// root [0,100]: a [0,50] and b [10,60] run at once; a1 [5,20] inside a; c [70,90] after.
    fn concurrent() -> View {
        let mut v = View::new();
        v.add_request(&request(vec![
            span("00000000000000aa", "", "root", 0, 100),
            span("00000000000000a1", "00000000000000bb", "b", 10, 60),
            span("00000000000000a0", "00000000000000aa", "a", 0, 50),
            span("00000000000000bb", "00000000000000aa", "b-parent", 5, 65),
            span("00000000000000c0", "00000000000000aa", "c", 70, 90),
        ]));
        v.add_request(&request(vec![span(
            "00000000000000d0",
            "00000000000000a0",
            "a-child",
            5,
            20,
        )]));
        v
    }

    #[test]
    fn fragments_of_a_trace_are_one_trace_laid_out_depth_first() {
        let v = concurrent();
        assert_eq!(v.trace_count(), 1);
        let t = &v.traces()[0];
        let rows: Vec<(&str, u32)> = t.spans.iter().map(|s| (s.name.as_str(), s.depth)).collect();
        assert_eq!(
            rows,
            [
                ("root", 0),
                ("a", 1),
                ("a-child", 2),
                ("b-parent", 1),
                ("b", 2),
                ("c", 1)
            ]
        );
        assert_eq!(t.cost, Some(3.0));
        assert_eq!(t.input_tokens, 72);
    }

    #[test]
    fn concurrent_siblings_get_lanes_of_their_own_and_sequential_ones_share() {
        let t = &concurrent().traces()[0];
        let lane = |name: &str| t.spans.iter().find(|s| s.name == name).expect(name).lane;
        assert_eq!(lane("root"), 0);
        assert_eq!(lane("a"), 0);
        assert_eq!(lane("a-child"), 0);
        assert_ne!(lane("b-parent"), lane("a"), "b-parent overlaps a");
        assert_eq!(lane("b"), lane("b-parent"), "b nests in b-parent");
        assert_eq!(lane("c"), 0, "c comes after a: back on the root's lane");
        // Every lane nests properly: two spans of a lane are disjoint or one holds the other.
        for x in &t.spans {
            for y in &t.spans {
                if x.id == y.id || x.lane != y.lane {
                    continue;
                }
                let (xs, xe) = (x.start_ms, x.start_ms + x.duration_ms);
                let (ys, ye) = (y.start_ms, y.start_ms + y.duration_ms);
                let disjoint = xe <= ys || ye <= xs;
                let nested = (xs <= ys && ye <= xe) || (ys <= xs && xe <= ye);
                assert!(
                    disjoint || nested,
                    "{} and {} cross on lane {}",
                    x.name,
                    y.name,
                    x.lane
                );
            }
        }
    }

    #[test]
    fn perfetto_events_carry_the_trace_event_formats_required_fields() {
        let v = concurrent();
        let out = v.perfetto();
        let events = out["traceEvents"].as_array().expect("traceEvents");
        let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(complete.len(), v.span_count());
        for e in events {
            for field in ["name", "ph", "ts", "dur", "pid", "tid"] {
                assert!(e.get(field).is_some(), "{field} missing in {e}");
            }
            assert!(e["name"].is_string() && e["ph"].is_string());
            assert!(e["ts"].is_number() && e["dur"].as_f64().is_some_and(|d| d >= 0.0));
            assert!(e["pid"].is_u64() && e["tid"].is_u64());
        }
        let b = complete
            .iter()
            .find(|e| e["name"] == "b-parent")
            .expect("b-parent");
        let a = complete.iter().find(|e| e["name"] == "a").expect("a");
        assert_ne!(a["tid"], b["tid"], "concurrent siblings on separate tracks");
        assert_eq!(a["args"]["model"], "gpt-4o");
        assert_eq!(a["args"]["input_tokens"], 12);
        assert_eq!(a["args"]["gen_ai.usage.cache_read.input_tokens"], 8);
        assert!(
            a["args"].get("gen_ai.usage.input_tokens").is_none(),
            "not twice"
        );
        assert_eq!(a["args"]["cost"], 0.5);
        assert_eq!(a["args"]["ttft_ms"], 3.0);
        assert_eq!(a["dur"], 50_000.0, "microseconds");
    }

    #[test]
    fn a_parent_cycle_and_garbage_lines_neither_loop_nor_panic() {
        let text = format!(
            "not json\n{}\n{{}}\n\n",
            request(vec![
                span("0000000000000001", "0000000000000002", "x", 0, 10),
                span("0000000000000002", "0000000000000001", "y", 0, 10),
            ])
        );
        let (v, skipped) = View::from_jsonl(&text);
        assert_eq!(skipped, 2);
        assert_eq!(v.traces()[0].spans.len(), 2);
        assert!(v.html().contains("modelmetry-data"));
    }

    #[test]
    fn five_hundred_spans_lay_out_one_row_each() {
        let mut spans = vec![span("0000000000000000", "", "root", 0, 10_000)];
        for i in 1..500u64 {
            // Ten at a time run at once, under the root.
            let start = (i / 10) * 200;
            spans.push(span(
                &format!("{i:016x}"),
                "0000000000000000",
                &format!("call {i}"),
                start,
                start + 150,
            ));
        }
        let mut v = View::new();
        v.add_request(&request(spans));
        let t = &v.traces()[0];
        assert_eq!(t.spans.len(), 500);
        assert!(
            t.lanes >= 10,
            "ten concurrent calls need ten lanes: {}",
            t.lanes
        );
    }

    /// The lines the file exporter writes (`file::otlp_json`, one per finished trace) for the
    /// traces `work` makes under `config`, through the real pipeline (sampling, then the
    /// redaction boundary, then the exporter).
    fn exported_lines(config: crate::Config, work: impl FnOnce()) -> String {
        use crate::export::otlp::OtlpConfig;
        use crate::export::{Exporter, Settle, Tally};
        use crate::record::FinishedTrace;
        use std::sync::{Arc, Mutex, PoisonError};

        struct Lines(Arc<Mutex<Vec<String>>>);
        impl Exporter for Lines {
            fn export(
                &self,
                traces: &[FinishedTrace],
                _: std::time::Instant,
                _: &dyn Settle,
            ) -> Tally {
                let otlp = OtlpConfig::default();
                let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                for t in traces {
                    lines.push(crate::export::file::otlp_json(&otlp, t).to_string());
                }
                Tally {
                    sent: traces.iter().map(FinishedTrace::record_count).sum(),
                    ..Tally::default()
                }
            }
        }

        let _lock = crate::testing::lock();
        let out = Arc::new(Mutex::new(Vec::new()));
        let guard = crate::client::install_exporter(
            config.delivery(crate::config::Delivery::Synchronous),
            Some(Box::new(Lines(out.clone()))),
        );
        work();
        drop(guard);
        let lines = out.lock().unwrap_or_else(PoisonError::into_inner);
        lines.join("\n")
    }

    #[test]
    fn a_sampled_trace_kept_by_a_tail_rule_is_marked_from_the_exported_line() {
        let text = exported_lines(crate::Config::default().sample_rate(0.0), || {
            let _trace = crate::start_trace("kept.turn");
            let tool = crate::start_span("lookup", crate::Kind::Tool);
            tool.record_error(&"not found");
        });
        let (v, skipped) = View::from_jsonl(&text);
        assert_eq!((v.trace_count(), skipped), (1, 0), "{text}");
        let t = &v.traces()[0];
        assert_eq!(t.name, "kept.turn");
        assert_eq!(t.sample_rate, Some(0.0), "{text}");
        assert_eq!(t.kept_by.as_deref(), Some("error"));
        assert_eq!(t.redacted, None);
        let html = v.html();
        assert!(
            html.contains("\"sample_rate\":0.0"),
            "the page's data has it"
        );
        assert!(html.contains("\"kept_by\":\"error\""));
    }

    #[test]
    fn a_trace_whose_text_a_pattern_changed_is_marked_with_the_count() {
        let config =
            crate::Config::default().redact_patterns([crate::RedactPattern::literal("hunter2")]);
        let text = exported_lines(config, || {
            let trace = crate::start_trace("login");
            trace.set_user_id("hunter2");
            let llm = crate::start_span("llm", crate::Kind::Llm);
            llm.set_input(&"my password is hunter2");
        });
        assert!(!text.contains("hunter2"), "{text}");
        let (v, _) = View::from_jsonl(&text);
        let t = &v.traces()[0];
        assert_eq!(t.redacted, Some(2), "{text}");
        assert_eq!(
            (t.sample_rate, t.kept_by.as_deref()),
            (None, None),
            "not sampled"
        );
    }

    #[test]
    fn markers_are_read_as_an_object_or_bare_keys_and_absent_ones_stay_absent() {
        let mut root = span("00000000000000aa", "", "root", 0, 10);
        root["attributes"] = json!([
            {"key": "modelmetry.sample_rate", "value": {"doubleValue": 0.25}},
            {"key": "modelmetry.metadata.modelmetry.redacted",
             "value": {"kvlistValue": {"values": [{"key": "values", "value": {"intValue": "3"}}]}}},
        ]);
        let mut v = View::new();
        v.add_request(&request(vec![root]));
        let t = &v.traces()[0];
        assert_eq!(
            (t.sample_rate, t.redacted, t.kept_by.as_deref()),
            (Some(0.25), Some(3), None)
        );
        let plain = &concurrent().traces()[0];
        assert_eq!(
            (plain.sample_rate, plain.redacted, plain.kept_by.as_deref()),
            (None, None, None)
        );
    }
}
