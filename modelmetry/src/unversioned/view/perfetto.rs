//! The Chrome Trace Event format (the JSON object form): what ui.perfetto.dev and
//! chrome://tracing open.

use serde_json::{Value, json};

use super::TraceView;

/// One process per trace (named after it), one thread per lane, one complete event per span.
pub(super) fn render(traces: &[TraceView]) -> Value {
    let mut events = Vec::new();
    // Oldest first, as a timeline reads.
    for (n, t) in traces.iter().rev().enumerate() {
        let pid = n + 1;
        events.push(json!({
            "name": "process_name", "ph": "M", "ts": 0, "dur": 0, "pid": pid, "tid": 0,
            "args": { "name": format!("{} {}", t.name, t.id) },
        }));
        for lane in 0..t.lanes.max(1) {
            events.push(json!({
                "name": "thread_name", "ph": "M", "ts": 0, "dur": 0, "pid": pid, "tid": lane + 1,
                "args": { "name": format!("lane {}", lane + 1) },
            }));
        }
        let t0_us = t.start_ms * 1000.0;
        for s in &t.spans {
            let mut args = serde_json::Map::new();
            args.insert("span_id".into(), s.id.clone().into());
            if let Some(p) = &s.parent {
                args.insert("parent_span_id".into(), p.clone().into());
            }
            if let Some(m) = &s.model {
                args.insert("model".into(), m.clone().into());
            }
            // Input and output tokens by short names; other usage buckets (cache reads and
            // writes, reasoning) under their attribute's name.
            for (key, v) in &s.attributes {
                match key.strip_prefix("gen_ai.usage.") {
                    Some(short @ ("input_tokens" | "output_tokens")) => {
                        args.insert(short.into(), v.clone());
                    }
                    Some(_) => {
                        args.insert(key.clone(), v.clone());
                    }
                    None => {}
                }
            }
            if let Some(c) = s.cost {
                args.insert("cost".into(), c.into());
                if let Some(cur) = s.attributes.get("modelmetry.cost.currency") {
                    args.insert("currency".into(), cur.clone());
                }
            }
            if let Some(ttft) = s.ttft_ms {
                args.insert("ttft_ms".into(), ttft.into());
            }
            if let Some(e) = &s.error {
                args.insert("error".into(), e.clone().into());
            }
            events.push(json!({
                "name": s.name,
                "cat": s.kind,
                "ph": "X",
                "ts": t0_us + s.start_ms * 1000.0,
                "dur": s.duration_ms * 1000.0,
                "pid": pid,
                "tid": s.lane + 1,
                "args": args,
            }));
        }
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
}
