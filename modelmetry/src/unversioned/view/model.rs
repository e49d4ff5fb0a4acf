//! OTLP/JSON spans read generically, and laid out for a waterfall: depth-first rows and lanes
//! of concurrent spans.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::export::otlp::semconv::MM_METADATA_PREFIX;
use crate::metadata_keys as keys;

/// One span as read from OTLP/JSON, times in nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
pub(crate) struct RawSpan {
    pub(crate) trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: String,
    start: u64,
    end: u64,
    attributes: Map<String, Value>,
    events: Vec<(u64, String, Map<String, Value>)>,
    status_error: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RawTrace {
    pub(crate) trace_id: String,
    pub(crate) spans: Vec<RawSpan>,
}

/// The lane a span is drawn on: spans of one lane nest properly (each inside the one it is
/// drawn under, or after it), so concurrent siblings get lanes of their own.
pub type Lane = u32;

/// A trace, summarised for the list and laid out for the waterfall.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TraceView {
    /// The trace id, 32 hex digits.
    pub id: String,
    /// The root span's name (the first span's when the root is missing).
    pub name: String,
    /// Start, in milliseconds since the Unix epoch.
    pub start_ms: f64,
    /// From the first span's start to the last one's end.
    pub duration_ms: f64,
    /// The sum of the spans' `modelmetry.cost.total`, if any has one.
    pub cost: Option<f64>,
    /// The cost's currency (the first one found).
    pub currency: Option<String>,
    /// The sum of the spans' `gen_ai.usage.input_tokens`.
    pub input_tokens: i64,
    /// The sum of the spans' `gen_ai.usage.output_tokens`.
    pub output_tokens: i64,
    /// Spans whose status is ERROR.
    pub errors: usize,
    /// `gen_ai.conversation.id`.
    pub session: Option<String>,
    /// `user.id`.
    pub user: Option<String>,
    /// `modelmetry.sample_rate` (trace metadata): the share of traces head sampling keeps,
    /// when this trace was kept while sampling (a rate below 1).
    pub sample_rate: Option<f64>,
    /// `modelmetry.kept_by` (trace metadata): the tail rule (`error`, `finding:<name>`, ...)
    /// that kept a trace head sampling had dropped.
    pub kept_by: Option<String>,
    /// `modelmetry.redacted` (trace metadata): how many strings a redaction pattern changed.
    pub redacted: Option<u64>,
    /// The most lanes the spans needed.
    pub lanes: Lane,
    /// The spans in waterfall order.
    pub spans: Vec<SpanView>,
}

/// A span laid out: its row is its index in [`TraceView::spans`].
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SpanView {
    /// The span id, 16 hex digits.
    pub id: String,
    /// The parent's id, when the parent is in the trace.
    pub parent: Option<String>,
    /// The name the user gave (`modelmetry.span.name`), else the OTLP name.
    pub name: String,
    /// The OTLP span name (`chat gpt-4o`).
    pub otel_name: String,
    /// `modelmetry.span.kind`, else one read from `gen_ai.operation.name`; `trace` for a
    /// root.
    pub kind: String,
    /// Nesting depth: 0 for a root.
    pub depth: u32,
    /// The lane it is drawn on (see [`Lane`]).
    pub lane: Lane,
    /// Start, in milliseconds after the trace's start.
    pub start_ms: f64,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// The status message of an ERROR span (`"error"` when it has none).
    pub error: Option<String>,
    /// `modelmetry.ttft_ms`: time to first token of a streamed span.
    pub ttft_ms: Option<f64>,
    /// `gen_ai.request.model`, else `gen_ai.response.model`.
    pub model: Option<String>,
    /// `modelmetry.cost.total`.
    pub cost: Option<f64>,
    /// Every attribute, as plain JSON (64-bit integers as numbers).
    pub attributes: Map<String, Value>,
    /// The span's events, findings (`gen_ai.evaluation.result`) among them.
    pub events: Vec<EventView>,
}

/// A span event.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EventView {
    /// The event's name.
    pub name: String,
    /// When, in milliseconds after the trace's start.
    pub at_ms: f64,
    /// Its attributes, as plain JSON.
    pub attributes: Map<String, Value>,
}

/// The spans of an `ExportTraceServiceRequest` in OTLP/JSON; spans without ids are skipped.
pub(crate) fn spans_of(request: &Value) -> Vec<RawSpan> {
    let mut out = Vec::new();
    let resource_spans = request["resourceSpans"].as_array().map_or(&[][..], |v| v);
    for rs in resource_spans {
        let scopes = rs["scopeSpans"].as_array().map_or(&[][..], |v| v);
        for ss in scopes {
            for s in ss["spans"].as_array().map_or(&[][..], |v| v) {
                if let Some(span) = raw_span(s) {
                    out.push(span);
                }
            }
        }
    }
    out
}

fn raw_span(s: &Value) -> Option<RawSpan> {
    let trace_id = s["traceId"].as_str().filter(|t| !t.is_empty())?.to_owned();
    let span_id = s["spanId"].as_str().filter(|t| !t.is_empty())?.to_owned();
    let start = nanos(&s["startTimeUnixNano"]);
    let end = nanos(&s["endTimeUnixNano"]).max(start);
    let status_error = (s["status"]["code"].as_i64() == Some(2)
        || s["status"]["code"].as_str() == Some("STATUS_CODE_ERROR"))
    .then(|| {
        s["status"]["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("error")
            .to_owned()
    });
    let events = s["events"]
        .as_array()
        .map_or(&[][..], |v| v)
        .iter()
        .map(|e| {
            (
                nanos(&e["timeUnixNano"]),
                e["name"].as_str().unwrap_or_default().to_owned(),
                attributes(&e["attributes"]),
            )
        })
        .collect();
    Some(RawSpan {
        trace_id,
        span_id,
        parent: s["parentSpanId"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        name: s["name"].as_str().unwrap_or_default().to_owned(),
        start,
        end,
        attributes: attributes(&s["attributes"]),
        events,
        status_error,
    })
}

/// A `fixed64` in OTLP/JSON: a decimal string, or a number from a lenient writer.
fn nanos(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn attributes(list: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for kv in list.as_array().map_or(&[][..], |v| v) {
        if let Some(key) = kv["key"].as_str() {
            out.insert(key.to_owned(), any_value(&kv["value"]));
        }
    }
    out
}

/// An OTLP `AnyValue` as plain JSON.
fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = obj.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = obj.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = obj.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map_or_else(|_| i.clone(), Value::from),
            other => other.clone(),
        };
    }
    if let Some(d) = obj.get("doubleValue") {
        return d.clone();
    }
    if let Some(a) = obj.get("arrayValue") {
        return Value::Array(
            a["values"]
                .as_array()
                .map_or(&[][..], |v| v)
                .iter()
                .map(any_value)
                .collect(),
        );
    }
    if let Some(l) = obj.get("kvlistValue") {
        return Value::Object(attributes(&l["values"]));
    }
    if let Some(b) = obj.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}

fn str_attr(a: &Map<String, Value>, key: &str) -> Option<String> {
    a.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A trace metadata entry (a `modelmetry.*` key of `metadata_keys`): the OTLP mapping writes
/// trace metadata as `modelmetry.metadata.<key>` attributes of the root span; the bare key is
/// read too (another writer may put it there).
fn trace_meta<'a>(a: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    a.get(&format!("{MM_METADATA_PREFIX}{key}"))
        .or_else(|| a.get(key))
        .filter(|v| !v.is_null())
}

/// `modelmetry.redacted`: `{"values": n}`, as an object or as its JSON text (the OTLP mapping
/// writes a non-scalar metadata value as JSON text); a bare number is taken as `n`.
fn redacted_count(v: &Value) -> Option<u64> {
    let v = match v {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    v.get("values").unwrap_or(&v).as_u64()
}

fn kind_of(span: &RawSpan, is_root: bool) -> String {
    if let Some(k) = str_attr(&span.attributes, "modelmetry.span.kind") {
        return k;
    }
    if is_root {
        return "trace".into();
    }
    let kind = match span
        .attributes
        .get("gen_ai.operation.name")
        .and_then(Value::as_str)
    {
        Some("chat" | "text_completion" | "generate_content") => "llm",
        Some("embeddings") => "embeddings",
        Some("retrieval") => "retriever",
        Some("execute_tool") => "tool",
        Some("invoke_agent" | "create_agent") => "agent",
        Some("invoke_workflow") => "chain",
        _ => "other",
    };
    kind.into()
}

impl RawTrace {
    pub(crate) fn new(trace_id: String) -> Self {
        RawTrace {
            trace_id,
            spans: Vec::new(),
        }
    }

    /// The summary and the waterfall rows (see [`TraceView`]).
    pub(crate) fn layout(&self) -> TraceView {
        let spans = &self.spans;
        let t0 = spans.iter().map(|s| s.start).min().unwrap_or(0);
        let t1 = spans.iter().map(|s| s.end).max().unwrap_or(t0);
        let ids: HashMap<&str, usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let parent_of = |i: usize| -> Option<usize> {
            spans[i]
                .parent
                .as_deref()
                .and_then(|p| ids.get(p).copied())
                .filter(|&p| p != i)
        };
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for i in 0..spans.len() {
            match parent_of(i) {
                Some(p) => children.entry(p).or_default().push(i),
                None => roots.push(i),
            }
        }
        let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| (spans[i].start, i));
        by_start(&mut roots);
        for v in children.values_mut() {
            by_start(v);
        }

        // Depth first, children by start; a parent cycle (malformed input) cannot loop: a
        // span is visited once.
        let mut order: Vec<(usize, u32)> = Vec::with_capacity(spans.len());
        let mut seen = HashSet::new();
        let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&r| (r, 0)).collect();
        loop {
            while let Some((i, depth)) = stack.pop() {
                if !seen.insert(i) {
                    continue;
                }
                order.push((i, depth));
                if let Some(kids) = children.get(&i) {
                    stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
                }
            }
            // Spans caught in a parent cycle are reachable from no root: show them as roots.
            match (0..spans.len()).find(|i| !seen.contains(i)) {
                Some(i) => stack.push((i, 0)),
                None => break,
            }
        }

        let lanes = assign_lanes(spans, &order, &parent_of);
        let ms = |ns: u64| ns as f64 / 1e6;
        let rel = |ns: u64| ns.saturating_sub(t0) as f64 / 1e6;
        let root = order
            .first()
            .map(|&(i, _)| i)
            .filter(|&i| parent_of(i).is_none());
        let mut view = TraceView {
            id: self.trace_id.clone(),
            name: root.map_or_else(String::new, |i| {
                str_attr(&spans[i].attributes, "modelmetry.trace.name")
                    .unwrap_or_else(|| spans[i].name.clone())
            }),
            start_ms: ms(t0),
            duration_ms: rel(t1),
            cost: None,
            currency: None,
            input_tokens: 0,
            output_tokens: 0,
            errors: 0,
            session: None,
            user: None,
            sample_rate: None,
            kept_by: None,
            redacted: None,
            lanes: lanes.iter().copied().max().map_or(0, |l| l + 1),
            spans: Vec::with_capacity(spans.len()),
        };
        for &(i, depth) in &order {
            let s = &spans[i];
            let a = &s.attributes;
            let cost = a.get("modelmetry.cost.total").and_then(Value::as_f64);
            if let Some(c) = cost {
                *view.cost.get_or_insert(0.0) += c;
                if view.currency.is_none() {
                    view.currency = str_attr(a, "modelmetry.cost.currency");
                }
            }
            let int = |k: &str| a.get(k).and_then(Value::as_i64).unwrap_or(0);
            view.input_tokens += int("gen_ai.usage.input_tokens");
            view.output_tokens += int("gen_ai.usage.output_tokens");
            if s.status_error.is_some() {
                view.errors += 1;
            }
            if view.session.is_none() {
                view.session = str_attr(a, "gen_ai.conversation.id");
            }
            if view.user.is_none() {
                view.user = str_attr(a, "user.id");
            }
            // Trace metadata sits on the root span; the first span (root first) that has an
            // entry gives it, so a trace whose root is missing still shows what another says.
            if view.sample_rate.is_none() {
                view.sample_rate = trace_meta(a, keys::SAMPLE_RATE).and_then(Value::as_f64);
            }
            if view.kept_by.is_none() {
                view.kept_by = trace_meta(a, keys::KEPT_BY)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            if view.redacted.is_none() {
                view.redacted = trace_meta(a, keys::REDACTED).and_then(redacted_count);
            }
            view.spans.push(SpanView {
                id: s.span_id.clone(),
                parent: parent_of(i).map(|p| spans[p].span_id.clone()),
                name: str_attr(a, "modelmetry.span.name").unwrap_or_else(|| s.name.clone()),
                otel_name: s.name.clone(),
                kind: kind_of(s, parent_of(i).is_none() && s.parent.is_none()),
                depth,
                lane: lanes[i],
                start_ms: rel(s.start),
                duration_ms: (s.end - s.start) as f64 / 1e6,
                error: s.status_error.clone(),
                ttft_ms: a.get("modelmetry.ttft_ms").and_then(Value::as_f64),
                model: str_attr(a, "gen_ai.request.model")
                    .or_else(|| str_attr(a, "gen_ai.response.model")),
                cost,
                attributes: a.clone(),
                events: s
                    .events
                    .iter()
                    .map(|(at, name, attrs)| EventView {
                        name: name.clone(),
                        at_ms: rel(*at),
                        attributes: attrs.clone(),
                    })
                    .collect(),
            });
        }
        view
    }
}

/// Lanes such that the spans of one lane nest properly: a span stays on its parent's lane when
/// it lies within the parent and overlaps nothing on that lane but its ancestors; otherwise it
/// takes the first lane it overlaps nothing on, or a new one. Visiting in `order` (depth
/// first) puts sequential children on their parent's lane and concurrent ones beside it.
fn assign_lanes(
    spans: &[RawSpan],
    order: &[(usize, u32)],
    parent_of: &dyn Fn(usize) -> Option<usize>,
) -> Vec<Lane> {
    // `None` until placed: in a parent cycle (malformed input) a parent may come later.
    let mut lane_of: Vec<Option<Lane>> = vec![None; spans.len()];
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    let overlaps =
        |a: usize, b: usize| spans[a].start < spans[b].end && spans[b].start < spans[a].end;
    let ancestors = |mut i: usize| {
        let mut set = HashSet::new();
        while let Some(p) = parent_of(i) {
            if !set.insert(p) {
                break;
            }
            i = p;
        }
        set
    };
    for &(i, _) in order {
        let up = ancestors(i);
        let encloses = |j: usize| spans[j].start <= spans[i].start && spans[i].end <= spans[j].end;
        let free = |lane: &Vec<usize>| {
            lane.iter()
                .all(|&j| !overlaps(i, j) || (up.contains(&j) && encloses(j)))
        };
        let parent_lane = parent_of(i)
            .filter(|&p| spans[i].start >= spans[p].start && spans[i].end <= spans[p].end)
            .and_then(|p| lane_of[p])
            .map(|l| l as usize)
            .filter(|&l| free(&lanes[l]));
        let lane = match parent_lane.or_else(|| lanes.iter().position(free)) {
            Some(l) => l,
            None => {
                lanes.push(Vec::new());
                lanes.len() - 1
            }
        };
        lanes[lane].push(i);
        lane_of[i] = Some(lane as Lane);
    }
    lane_of.into_iter().map(Option::unwrap_or_default).collect()
}
