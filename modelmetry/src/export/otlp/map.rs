//! A finished trace as OpenTelemetry spans, following the GenAI semantic conventions.
//!
//! | our kind | `gen_ai.operation.name` | span name | OTel kind |
//! | --- | --- | --- | --- |
//! | llm | `chat` | `chat {model}` | CLIENT |
//! | embeddings | `embeddings` | `embeddings {model}` | CLIENT |
//! | retriever | `retrieval` | `retrieval {name}` | CLIENT |
//! | tool | `execute_tool` | `execute_tool {name}` | INTERNAL |
//! | agent | `invoke_agent` | `invoke_agent {name}` | INTERNAL |
//! | chain | `invoke_workflow` | `invoke_workflow {name}` | INTERNAL |
//! | other | (none) | `{name}` | INTERNAL |
//!
//! The name the user gave is kept in `modelmetry.span.name`. The trace itself becomes the root
//! span. Findings become `gen_ai.evaluation.result` events; our events become span events.
//! Captured values keep their JSON type where OTLP has one (a number is an int or a double, a
//! boolean a bool, text a string); objects and arrays are JSON text, as the conventions allow.
//!
//! `gen_ai.provider.name` is the provider the span names ([`set_provider`], `provider = ..`).
//! When it names none, it is inferred from the model's name, by the prefixes of the model ids
//! each provider's own API uses:
//!
//! | model name | `gen_ai.provider.name` |
//! | --- | --- |
//! | `gpt-…`, `chatgpt-…`, `o1`, `o3`, `o4` (alone or followed by `-`), `text-embedding-…`, `dall-e-…`, `whisper-…`, `tts-…` | `openai` |
//! | `claude-…` | `anthropic` |
//! | `gemini-…` | `gcp.gemini` |
//! | `mistral-…`, `mixtral-…`, `codestral-…`, `ministral-…`, `magistral-…`, `pixtral-…`, `open-mistral-…`, `open-mixtral-…` | `mistral_ai` |
//! | `command-…`, `embed-english-…`, `embed-multilingual-…` | `cohere` |
//! | `grok-…` | `x_ai` |
//! | `deepseek-…` | `deepseek` |
//! | `sonar`, `sonar-…` | `perplexity` |
//!
//! It stays absent when the model is unknown, when there is no model, and for open-weight
//! models (`llama-…`, `qwen-…`, …) and ids in another provider's form (`anthropic.claude-…` on
//! Bedrock, `openai/gpt-4o` through a router): those are served by many providers, and the
//! name says which model, not who served it. Name the provider to have it then.
//!
//! [`set_provider`]: crate::llm::set_provider

use std::collections::{HashMap, HashSet};
use std::time::UNIX_EPOCH;

use crate::metadata_keys as keys;
use crate::time::Tick;

use serde_json::{Value, json};

use super::proto::{self, KeyValue, Span, SpanEvent, Status, any_value::Value as V};
use super::semconv as sc;
use crate::config::otlp::MapOptions;
use crate::id::SpanId;
use crate::record::{FinishedTrace, Kind, Signal, SignalBody, SpanRecord};
use crate::values::{FindingValue, Message, Part};

pub(crate) fn spans(trace: &FinishedTrace, opts: MapOptions) -> Vec<Span> {
    let nanos = |at: Tick| {
        trace
            .anchor
            .wall(at)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    };
    let trace_id = trace.trace_id.0.to_be_bytes().to_vec();
    let local: HashSet<SpanId> = trace.spans.iter().map(|s| s.id).collect();
    let mut by_target: HashMap<SpanId, Vec<&Signal>> = HashMap::new();
    for sig in &trace.signals {
        by_target.entry(sig.target).or_default().push(sig);
    }
    let mut out = Vec::with_capacity(trace.spans.len() + 1);

    if let Some(info) = &trace.info {
        let mut attrs = Attrs::default();
        attrs.str(sc::MM_TRACE_NAME, &info.name);
        if let Some(s) = &info.session_id {
            attrs.str(sc::GEN_AI_CONVERSATION_ID, s);
        }
        if let Some(u) = &info.user_id {
            attrs.str(sc::USER_ID, u);
        }
        if !info.tags.is_empty() {
            attrs.strs(sc::MM_TAGS, &info.tags);
        }
        attrs.metadata(&info.metadata);
        if opts.content {
            attrs.json_opt(sc::MM_INPUT, info.input.as_ref());
            attrs.json_opt(sc::MM_OUTPUT, info.output.as_ref());
        }
        if opts.confident {
            attrs.str(sc::CONFIDENT_TRACE_NAME, &info.name);
            if !info.tags.is_empty() {
                attrs.strs(sc::CONFIDENT_TRACE_TAGS, &info.tags);
            }
            if let Some(s) = &info.session_id {
                attrs.str(sc::CONFIDENT_TRACE_THREAD_ID, s);
            }
            if let Some(u) = &info.user_id {
                attrs.str(sc::CONFIDENT_TRACE_USER_ID, u);
            }
            if opts.content {
                attrs.json_opt(sc::CONFIDENT_TRACE_INPUT, info.input.as_ref());
                attrs.json_opt(sc::CONFIDENT_TRACE_OUTPUT, info.output.as_ref());
            }
        }
        let status = error_status(
            info.severity,
            info.message.as_deref(),
            info.panicked,
            &mut attrs,
        );
        let start = nanos(info.start);
        out.push(Span {
            trace_id: trace_id.clone(),
            span_id: trace.root_span.0.to_be_bytes().to_vec(),
            name: info.name.to_string(),
            kind: proto::SPAN_KIND_INTERNAL,
            start_time_unix_nano: start,
            end_time_unix_nano: info.end.map_or(start, nanos),
            attributes: attrs.0,
            events: signal_events(by_target.get(&SpanId::NONE), &nanos),
            status,
            flags: proto::FLAGS_SAMPLED | proto::FLAGS_HAS_IS_REMOTE,
            ..Span::default()
        });
    }

    for rec in &trace.spans {
        let remote_parent = trace.root_span == SpanId::NONE && !local.contains(&rec.parent);
        let mut span = span(rec, opts, &nanos);
        span.trace_id = trace_id.clone();
        if rec.parent != SpanId::NONE {
            span.parent_span_id = rec.parent.0.to_be_bytes().to_vec();
        }
        span.flags = proto::FLAGS_SAMPLED
            | proto::FLAGS_HAS_IS_REMOTE
            | if remote_parent {
                proto::FLAGS_IS_REMOTE
            } else {
                0
            };
        span.events
            .extend(signal_events(by_target.get(&rec.id), &nanos));
        out.push(span);
    }

    // Signals addressed to the trace in a fragment that does not carry the trace (spans that
    // outlived it): hang them on the fragment's first span rather than lose them.
    if trace.info.is_none() {
        if let (Some(sigs), Some(first)) = (by_target.get(&SpanId::NONE), out.first_mut()) {
            first.events.extend(signal_events(Some(sigs), &nanos));
        }
    }
    out
}

fn span(rec: &SpanRecord, opts: MapOptions, nanos: &impl Fn(Tick) -> u64) -> Span {
    let mut a = Attrs::default();
    let data = rec.data.as_deref();
    let llm = data.map(|d| &d.llm);
    let options = llm.and_then(|l| l.options.as_ref());
    let model = options.and_then(|o| o.model.as_deref());
    let name = rec.name.as_ref();

    let (op, otel_name, kind) = match rec.kind {
        Kind::Llm => (
            Some(sc::OP_CHAT),
            joined(sc::OP_CHAT, model.unwrap_or(name)),
            proto::SPAN_KIND_CLIENT,
        ),
        Kind::Embeddings => (
            Some(sc::OP_EMBEDDINGS),
            joined(sc::OP_EMBEDDINGS, model.unwrap_or(name)),
            proto::SPAN_KIND_CLIENT,
        ),
        Kind::Retriever => (
            Some(sc::OP_RETRIEVAL),
            joined(sc::OP_RETRIEVAL, name),
            proto::SPAN_KIND_CLIENT,
        ),
        Kind::Tool => (
            Some(sc::OP_EXECUTE_TOOL),
            joined(sc::OP_EXECUTE_TOOL, name),
            proto::SPAN_KIND_INTERNAL,
        ),
        Kind::Agent => (
            Some(sc::OP_INVOKE_AGENT),
            joined(sc::OP_INVOKE_AGENT, name),
            proto::SPAN_KIND_INTERNAL,
        ),
        Kind::Chain => (
            Some(sc::OP_INVOKE_WORKFLOW),
            joined(sc::OP_INVOKE_WORKFLOW, name),
            proto::SPAN_KIND_INTERNAL,
        ),
        _ => (None, name.to_owned(), proto::SPAN_KIND_INTERNAL),
    };
    if let Some(op) = op {
        a.str(sc::GEN_AI_OPERATION_NAME, op);
    }
    a.str(sc::MM_SPAN_NAME, name);
    a.str(sc::MM_SPAN_KIND, rec.kind.as_str());
    match rec.kind {
        Kind::Tool => {
            a.str(sc::GEN_AI_TOOL_NAME, name);
            a.str(sc::GEN_AI_TOOL_TYPE, "function");
        }
        Kind::Agent => a.str(sc::GEN_AI_AGENT_NAME, name),
        Kind::Chain => a.str(sc::GEN_AI_WORKFLOW_NAME, name),
        Kind::Retriever => a.str(sc::GEN_AI_DATA_SOURCE_ID, name),
        _ => {}
    }

    let mut provider = None;
    if let Some(o) = options {
        let inferred = || {
            let response = llm.and_then(|l| l.response_model.as_deref());
            o.model.as_deref().or(response).and_then(infer_provider)
        };
        provider = o.provider.as_deref().or_else(inferred);
        if let Some(p) = provider {
            a.str(sc::GEN_AI_PROVIDER_NAME, p);
            // Still read by backends older than v1.37.
            a.str(sc::GEN_AI_SYSTEM_DEPRECATED, p);
        }
        if let Some(m) = &o.model {
            a.str(sc::GEN_AI_REQUEST_MODEL, m);
        }
        a.f64_opt(sc::GEN_AI_REQUEST_TEMPERATURE, o.temperature);
        a.f64_opt(sc::GEN_AI_REQUEST_TOP_P, o.top_p);
        a.f64_opt(sc::GEN_AI_REQUEST_FREQUENCY_PENALTY, o.frequency_penalty);
        a.f64_opt(sc::GEN_AI_REQUEST_PRESENCE_PENALTY, o.presence_penalty);
        a.i64_opt(sc::GEN_AI_REQUEST_MAX_TOKENS, o.max_tokens);
        a.i64_opt(sc::GEN_AI_REQUEST_SEED, o.seed);
        if let Some(n) = o.n.filter(|&n| n != 1) {
            a.int(sc::GEN_AI_REQUEST_CHOICE_COUNT, n);
        }
        if o.stream == Some(true) {
            a.push(sc::GEN_AI_REQUEST_STREAM, V::BoolValue(true));
        }
        if opts.content {
            if let Some(tools) = o.tools.as_ref().filter(|t| !t.is_empty()) {
                let defs: Vec<Value> = tools
                    .iter()
                    .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}))
                    .collect();
                a.json(sc::GEN_AI_TOOL_DEFINITIONS, &Value::Array(defs));
            }
        }
    }
    if let Some(l) = llm {
        if let Some(id) = &l.response_id {
            a.str(sc::GEN_AI_RESPONSE_ID, id);
        }
        if let Some(m) = &l.response_model {
            a.str(sc::GEN_AI_RESPONSE_MODEL, m);
        }
        if !l.finish_reasons.is_empty() {
            a.strs(sc::GEN_AI_RESPONSE_FINISH_REASONS, &l.finish_reasons);
        }
        if let Some(u) = &l.usage {
            let tokens = |v: &Option<crate::values::UsageValue>| {
                v.as_ref()
                    .filter(|v| v.unit == "tokens" && v.amount.is_finite())
                    .map(|v| v.amount as i64)
            };
            a.i64_opt(sc::GEN_AI_USAGE_INPUT_TOKENS, tokens(&u.input));
            a.i64_opt(sc::GEN_AI_USAGE_OUTPUT_TOKENS, tokens(&u.output));
            let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
            a.i64_opt(
                sc::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                count(u.cache_read),
            );
            let created = match (u.cache_write, u.cache_write_1h) {
                (None, None) => None,
                (w, h) => Some(w.unwrap_or(0).saturating_add(h.unwrap_or(0))),
            };
            a.i64_opt(sc::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, count(created));
            a.i64_opt(sc::MM_USAGE_CACHE_WRITE_1H, count(u.cache_write_1h));
            a.i64_opt(sc::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, count(u.reasoning));
        }
        if let Some(tier) = &l.service_tier {
            a.str(sc::MM_SERVICE_TIER, tier);
            if provider.is_some_and(|p| p.eq_ignore_ascii_case(sc::PROVIDER_OPENAI)) {
                a.str(sc::OPENAI_RESPONSE_SERVICE_TIER, tier);
            }
        }
        if let Some(total) = l.cost.as_ref().and_then(|c| c.total.as_ref()) {
            a.f64_opt(sc::MM_COST_TOTAL, Some(total.amount));
            a.str(sc::MM_COST_CURRENCY, &total.currency);
        }
        if rec.kind == Kind::Embeddings {
            if let Some(dim) = l
                .queries
                .iter()
                .find_map(|q| q.embeddings.as_ref())
                .map(Vec::len)
            {
                a.int(sc::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, dim as i64);
            }
        }
        if rec.kind == Kind::Retriever && !l.documents.is_empty() {
            a.int(sc::GEN_AI_REQUEST_TOP_K, l.documents.len() as i64);
        }
        if opts.content {
            let (system, input, output) = split_messages(&l.messages);
            if !system.is_empty() {
                a.json(sc::GEN_AI_SYSTEM_INSTRUCTIONS, &Value::Array(system));
            }
            if !input.is_empty() {
                a.json(sc::GEN_AI_INPUT_MESSAGES, &Value::Array(input));
            }
            if !output.is_empty() {
                let reasons = &l.finish_reasons;
                let out: Vec<Value> = output
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut m)| {
                        let has_calls = m["parts"]
                            .as_array()
                            .is_some_and(|p| p.iter().any(|p| p["type"] == "tool_call"));
                        let reason = reasons.get(i).cloned().unwrap_or_else(|| {
                            if has_calls {
                                "tool_call".into()
                            } else {
                                "stop".into()
                            }
                        });
                        m["finish_reason"] = reason.into();
                        m
                    })
                    .collect();
                a.json(sc::GEN_AI_OUTPUT_MESSAGES, &Value::Array(out));
            }
            if let Some(q) = l.queries.first() {
                a.str(sc::GEN_AI_RETRIEVAL_QUERY_TEXT, &q.text_representation);
            }
            if rec.kind == Kind::Retriever && !l.documents.is_empty() {
                let docs: Vec<Value> = l
                    .documents
                    .iter()
                    .map(|d| match d.metadata.get("score") {
                        Some(score) => json!({"id": d.identifier, "score": score}),
                        None => json!({"id": d.identifier}),
                    })
                    .collect();
                a.json(sc::GEN_AI_RETRIEVAL_DOCUMENTS, &Value::Array(docs));
            }
        }
    }
    if let Some(d) = data {
        // Time to first token of a streamed span (see `Traced`): no `gen_ai.*` span attribute
        // exists for it, so it gets a name of ours beside the `first_token` span event.
        a.f64_opt(
            sc::MM_TTFT_MS,
            d.metadata.get(keys::TTFT_MS).and_then(Value::as_f64),
        );
        a.metadata(&d.metadata);
        if opts.content {
            if rec.kind == Kind::Tool {
                a.json_opt(sc::GEN_AI_TOOL_CALL_ARGUMENTS, d.input.as_ref());
                a.json_opt(sc::GEN_AI_TOOL_CALL_RESULT, d.output.as_ref());
            } else {
                a.json_opt(sc::MM_INPUT, d.input.as_ref());
                a.json_opt(sc::MM_OUTPUT, d.output.as_ref());
            }
        }
    }
    if opts.confident {
        confident(rec, opts.content, &mut a);
    }
    let status = error_status(
        rec.severity,
        data.and_then(|d| d.message.as_deref()),
        data.is_some_and(|d| d.panicked),
        &mut a,
    );
    let mut events = Vec::new();
    if opts.per_message_events && opts.content {
        if let Some(l) = llm {
            let at = nanos(rec.start);
            let provider = options.and_then(|o| o.provider.clone());
            events = per_message_events(
                &l.messages,
                provider.as_deref(),
                at,
                rec.end.map_or(at, nanos),
            );
        }
    }
    let start = nanos(rec.start);
    Span {
        span_id: rec.id.0.to_be_bytes().to_vec(),
        name: otel_name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: rec.end.map_or(start, nanos),
        attributes: a.0,
        events,
        status,
        ..Span::default()
    }
}

/// The provider of a model, by its name's prefix (see the module's docs), when that is sure.
pub(crate) fn infer_provider(model: &str) -> Option<&'static str> {
    let m = model.trim().to_ascii_lowercase();
    // `o1` alone, or followed by `-` (`o1-mini`), never `o1x`.
    let family = |name: &str| {
        m.strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    };
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| m.starts_with(p));
    if starts(&[
        "gpt-",
        "chatgpt-",
        "text-embedding-",
        "dall-e-",
        "whisper-",
        "tts-",
    ]) || ["o1", "o3", "o4"].into_iter().any(family)
    {
        Some(sc::PROVIDER_OPENAI)
    } else if starts(&["claude-"]) {
        Some(sc::PROVIDER_ANTHROPIC)
    } else if starts(&["gemini-"]) {
        Some(sc::PROVIDER_GCP_GEMINI)
    } else if starts(&[
        "mistral-",
        "mixtral-",
        "codestral-",
        "ministral-",
        "magistral-",
        "pixtral-",
        "open-mistral-",
        "open-mixtral-",
    ]) {
        Some(sc::PROVIDER_MISTRAL_AI)
    } else if starts(&["command-", "embed-english-", "embed-multilingual-"]) {
        Some(sc::PROVIDER_COHERE)
    } else if starts(&["grok-"]) {
        Some(sc::PROVIDER_X_AI)
    } else if starts(&["deepseek-"]) {
        Some(sc::PROVIDER_DEEPSEEK)
    } else if family("sonar") {
        Some(sc::PROVIDER_PERPLEXITY)
    } else {
        None
    }
}

fn joined(op: &str, target: &str) -> String {
    format!("{op} {target}")
}

fn error_status(
    severity: Option<crate::Severity>,
    message: Option<&str>,
    panicked: bool,
    a: &mut Attrs,
) -> Option<Status> {
    if severity != Some(crate::Severity::Error) {
        return None;
    }
    a.str(
        sc::ERROR_TYPE,
        if panicked {
            "panic"
        } else {
            sc::ERROR_TYPE_OTHER
        },
    );
    Some(Status {
        message: message.unwrap_or_default().to_owned(),
        code: proto::STATUS_CODE_ERROR,
    })
}

fn signal_events(sigs: Option<&Vec<&Signal>>, nanos: &impl Fn(Tick) -> u64) -> Vec<SpanEvent> {
    sigs.into_iter()
        .flatten()
        .map(|sig| match &sig.body {
            SignalBody::Event { name, metadata } => {
                let mut a = Attrs::default();
                for (k, v) in metadata {
                    a.value(k, v);
                }
                SpanEvent {
                    time_unix_nano: nanos(sig.at),
                    name: name.to_string(),
                    attributes: a.0,
                }
            }
            SignalBody::Finding(f) => {
                let mut a = Attrs::default();
                a.str(sc::GEN_AI_EVALUATION_NAME, &f.name);
                match &f.value {
                    FindingValue::Number(n) => {
                        a.f64_opt(sc::GEN_AI_EVALUATION_SCORE_VALUE, Some(*n))
                    }
                    FindingValue::Bool(b) => a.str(
                        sc::GEN_AI_EVALUATION_SCORE_LABEL,
                        if *b { "true" } else { "false" },
                    ),
                    FindingValue::Text(t) => a.str(sc::GEN_AI_EVALUATION_SCORE_LABEL, t),
                }
                if let Some(c) = &f.comment {
                    a.str(sc::GEN_AI_EVALUATION_EXPLANATION, c);
                }
                for (k, v) in &f.metadata {
                    a.value(&format!("{}{k}", sc::MM_METADATA_PREFIX), v);
                }
                SpanEvent {
                    time_unix_nano: nanos(sig.at),
                    name: sc::EVENT_EVALUATION_RESULT.to_owned(),
                    attributes: a.0,
                }
            }
        })
        .collect()
}

/// Messages in the GenAI JSON schema: system instructions (their parts), input messages, and
/// output messages (the assistant messages after the last message of another role).
fn split_messages(messages: &[Message]) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut system = Vec::new();
    let rest: Vec<&Message> = messages
        .iter()
        .filter(|m| match m {
            Message::System(s) => {
                system.extend(s.contents.iter().map(part_json));
                false
            }
            _ => true,
        })
        .collect();
    let first_output = rest
        .iter()
        .rposition(|m| !matches!(m, Message::Assistant(_)))
        .map_or(0, |i| i + 1);
    let input = rest[..first_output]
        .iter()
        .map(|m| message_json(m))
        .collect();
    let output = rest[first_output..]
        .iter()
        .map(|m| message_json(m))
        .collect();
    (system, input, output)
}

fn part_json(p: &Part) -> Value {
    match p {
        Part::Text(t) => json!({"type": "text", "content": t.text}),
        Part::Data(d) => {
            let modality = d.mime_type.split('/').next().unwrap_or("");
            json!({"type": "blob", "mime_type": d.mime_type, "modality": modality, "content": d.data})
        }
    }
}

fn message_json(m: &Message) -> Value {
    let mut parts: Vec<Value> = match m {
        Message::Tool(t) => {
            vec![json!({"type": "tool_call_response", "id": t.tool_call_id, "response": m.text()})]
                .into_iter()
                .chain(
                    t.contents
                        .iter()
                        .filter(|p| matches!(p, Part::Data(_)))
                        .map(part_json),
                )
                .collect()
        }
        _ => m.contents().iter().map(part_json).collect(),
    };
    let mut name = None;
    if let Message::Assistant(a) = m {
        for call in a.tool_calls.iter().flatten() {
            parts.push(json!({"type": "tool_call", "id": call.id, "name": call.function.name, "arguments": call.function.arguments}));
        }
        name = a.name.clone();
    }
    if let Message::User(u) = m {
        name = u.name.clone();
    }
    let mut v = json!({"role": m.role(), "parts": parts});
    if let Some(n) = name {
        v["name"] = n.into();
    }
    v
}

/// The per-message events of the conventions before v1.37, for backends that still read them.
fn per_message_events(
    messages: &[Message],
    provider: Option<&str>,
    start: u64,
    end: u64,
) -> Vec<SpanEvent> {
    let first_output = messages
        .iter()
        .rposition(|m| !matches!(m, Message::Assistant(_)))
        .map_or(0, |i| i + 1);
    let mut events = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let mut a = Attrs::default();
        if let Some(p) = provider {
            a.str(sc::GEN_AI_SYSTEM_DEPRECATED, p);
        }
        let calls = match m {
            Message::Assistant(x) => x.tool_calls.clone().unwrap_or_default(),
            _ => Vec::new(),
        };
        let calls_json = || {
            Value::Array(
                calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}))
                    .collect(),
            )
        };
        if i >= first_output {
            a.int(sc::EVENT_ATTR_INDEX, (i - first_output) as i64);
            a.str(
                sc::EVENT_ATTR_FINISH_REASON,
                if calls.is_empty() {
                    "stop"
                } else {
                    "tool_calls"
                },
            );
            let mut msg = json!({"content": m.text()});
            if !calls.is_empty() {
                msg["tool_calls"] = calls_json();
            }
            a.json(sc::EVENT_ATTR_MESSAGE, &msg);
            events.push(SpanEvent {
                time_unix_nano: end,
                name: sc::EVENT_CHOICE.to_owned(),
                attributes: a.0,
            });
            continue;
        }
        a.str(sc::EVENT_ATTR_CONTENT, &m.text());
        let name = match m {
            Message::System(_) => sc::EVENT_SYSTEM_MESSAGE,
            Message::User(_) => sc::EVENT_USER_MESSAGE,
            Message::Assistant(_) => {
                if !calls.is_empty() {
                    a.json(sc::EVENT_ATTR_TOOL_CALLS, &calls_json());
                }
                sc::EVENT_ASSISTANT_MESSAGE
            }
            Message::Tool(t) => {
                a.str(sc::EVENT_ATTR_ID, &t.tool_call_id);
                sc::EVENT_TOOL_MESSAGE
            }
        };
        events.push(SpanEvent {
            time_unix_nano: start,
            name: name.to_owned(),
            attributes: a.0,
        });
    }
    events
}

/// Confident AI's attributes (their OpenTelemetry ingestion reads span types from these).
fn confident(rec: &SpanRecord, content: bool, a: &mut Attrs) {
    let data = rec.data.as_deref();
    let llm = data.map(|d| &d.llm);
    let model = llm
        .and_then(|l| l.options.as_ref())
        .and_then(|o| o.model.clone());
    let ty = match rec.kind {
        Kind::Llm => "llm",
        Kind::Agent => "agent",
        Kind::Retriever => "retriever",
        Kind::Tool => "tool",
        _ => "span",
    };
    a.str(sc::CONFIDENT_SPAN_TYPE, ty);
    if let Some(d) = data {
        if let Some(mc) = d.metadata.get("metric_collection").and_then(Value::as_str) {
            a.str(sc::CONFIDENT_SPAN_METRIC_COLLECTION, mc);
        }
        if rec.severity == Some(crate::Severity::Error) {
            a.str(
                sc::CONFIDENT_SPAN_ERROR,
                d.message.as_deref().unwrap_or("error"),
            );
        }
        if content {
            a.json_opt(sc::CONFIDENT_SPAN_INPUT, d.input.as_ref());
            a.json_opt(sc::CONFIDENT_SPAN_OUTPUT, d.output.as_ref());
        }
    }
    match rec.kind {
        Kind::Llm => {
            if let Some(m) = &model {
                a.str(sc::CONFIDENT_LLM_MODEL, m);
            }
            if let Some(l) = llm {
                let tokens = l.usage.as_ref().map(|u| {
                    (
                        u.input.as_ref().map(|v| v.amount),
                        u.output.as_ref().map(|v| v.amount),
                    )
                });
                if let Some((input, output)) = tokens {
                    a.i64_opt(
                        sc::CONFIDENT_LLM_INPUT_TOKENS,
                        input.filter(|v| v.is_finite()).map(|v| v as i64),
                    );
                    a.i64_opt(
                        sc::CONFIDENT_LLM_OUTPUT_TOKENS,
                        output.filter(|v| v.is_finite()).map(|v| v as i64),
                    );
                    if let Some(cost) = &l.cost {
                        let per = |c: Option<&crate::values::Money>, n: Option<f64>| match (c, n) {
                            (Some(c), Some(n)) if n > 0.0 => Some(c.amount / n),
                            _ => None,
                        };
                        a.f64_opt(
                            sc::CONFIDENT_LLM_COST_PER_INPUT_TOKEN,
                            per(cost.input.as_ref(), input),
                        );
                        a.f64_opt(
                            sc::CONFIDENT_LLM_COST_PER_OUTPUT_TOKEN,
                            per(cost.output.as_ref(), output),
                        );
                    }
                }
                if content && !l.messages.is_empty() {
                    let (_, _, output) = split_messages(&l.messages);
                    let first_output = l.messages.len() - output.len();
                    let input: Vec<String> = l.messages[..first_output]
                        .iter()
                        .map(|m| json!({"role": m.role(), "content": m.text()}).to_string())
                        .collect();
                    a.strs(sc::CONFIDENT_LLM_INPUT, &input);
                    let text: Vec<String> = l.messages[first_output..]
                        .iter()
                        .map(Message::text)
                        .collect();
                    a.str(sc::CONFIDENT_LLM_OUTPUT, &text.join("\n"));
                }
            }
        }
        Kind::Tool => {
            a.str(sc::CONFIDENT_TOOL_NAME, &rec.name);
            if let Some(desc) = data
                .and_then(|d| d.metadata.get("description"))
                .and_then(Value::as_str)
            {
                a.str(sc::CONFIDENT_TOOL_DESCRIPTION, desc);
            }
            if content {
                if let Some(d) = data {
                    a.json_opt(sc::CONFIDENT_TOOL_INPUT_PARAMETERS, d.input.as_ref());
                    a.json_opt(sc::CONFIDENT_TOOL_OUTPUT, d.output.as_ref());
                }
            }
        }
        Kind::Retriever => {
            a.str(
                sc::CONFIDENT_RETRIEVER_EMBEDDER,
                model.as_deref().unwrap_or("unknown"),
            );
            if let Some(l) = llm {
                a.int(sc::CONFIDENT_RETRIEVER_TOP_K, l.documents.len() as i64);
                if content {
                    if let Some(q) = l.queries.first() {
                        a.str(sc::CONFIDENT_RETRIEVER_INPUT, &q.text_representation);
                    }
                    let context: Vec<String> = l
                        .documents
                        .iter()
                        .map(|d| match &d.content {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                            None => d.title.clone(),
                        })
                        .collect();
                    a.strs(sc::CONFIDENT_RETRIEVER_CONTEXT, &context);
                }
            }
        }
        Kind::Agent => {
            a.str(sc::CONFIDENT_AGENT_NAME, &rec.name);
            if let Some(tools) = llm
                .and_then(|l| l.options.as_ref())
                .and_then(|o| o.tools.as_ref())
            {
                let names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
                a.strs(sc::CONFIDENT_AGENT_TOOLS, &names);
            }
            if let Some(h) = data
                .and_then(|d| d.metadata.get("handoffs"))
                .and_then(Value::as_array)
            {
                let names: Vec<String> = h
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                a.strs(sc::CONFIDENT_AGENT_HANDOFFS, &names);
            }
            if content {
                if let Some(d) = data {
                    a.json_opt(sc::CONFIDENT_AGENT_INPUT, d.input.as_ref());
                    a.json_opt(sc::CONFIDENT_AGENT_OUTPUT, d.output.as_ref());
                }
            }
        }
        _ => {}
    }
}

/// Attributes under construction.
#[derive(Default)]
struct Attrs(Vec<KeyValue>);

impl Attrs {
    fn push(&mut self, key: &str, v: V) {
        self.0.push(KeyValue::new(key, v));
    }
    fn str(&mut self, key: &str, v: &str) {
        self.push(key, V::StringValue(v.to_owned()));
    }
    fn strs(&mut self, key: &str, v: &[String]) {
        let values = v
            .iter()
            .map(|s| proto::AnyValue {
                value: Some(V::StringValue(s.clone())),
            })
            .collect();
        self.push(key, V::ArrayValue(proto::ArrayValue { values }));
    }
    fn int(&mut self, key: &str, v: i64) {
        self.push(key, V::IntValue(v));
    }
    fn i64_opt(&mut self, key: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.int(key, v);
        }
    }
    fn f64_opt(&mut self, key: &str, v: Option<f64>) {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.push(key, V::DoubleValue(v));
        }
    }
    /// Structured content as a JSON string, as the conventions allow on spans.
    fn json(&mut self, key: &str, v: &Value) {
        self.str(key, &v.to_string());
    }
    /// A captured value: a scalar keeps its type (`0` is an int, not the text `"0"`),
    /// anything else is JSON text; `null` writes nothing.
    fn json_opt(&mut self, key: &str, v: Option<&Value>) {
        if let Some(v) = v {
            self.value(key, v);
        }
    }
    /// A metadata value: primitives keep their type, anything else is a JSON string.
    fn value(&mut self, key: &str, v: &Value) {
        match v {
            Value::Null => {}
            Value::Bool(b) => self.push(key, V::BoolValue(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => self.int(key, i),
                None => self.f64_opt(key, n.as_f64()),
            },
            Value::String(s) => self.str(key, s),
            other => self.json(key, other),
        }
    }
    fn metadata(&mut self, m: &serde_json::Map<String, Value>) {
        for (k, v) in m {
            self.value(&format!("{}{k}", sc::MM_METADATA_PREFIX), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::infer_provider;

    #[test]
    fn providers_inferred_from_model_names() {
        for (model, provider) in [
            ("gpt-4o", Some("openai")),
            ("gpt-4o-mini-2024-07-18", Some("openai")),
            ("o1", Some("openai")),
            ("o3-mini", Some("openai")),
            ("o4-mini-high", Some("openai")),
            ("text-embedding-3-small", Some("openai")),
            ("claude-3-5-sonnet-20241022", Some("anthropic")),
            ("Claude-Opus-4", Some("anthropic")),
            ("gemini-2.0-flash", Some("gcp.gemini")),
            ("mistral-large-latest", Some("mistral_ai")),
            ("mixtral-8x7b", Some("mistral_ai")),
            ("command-r-plus", Some("cohere")),
            ("grok-2", Some("x_ai")),
            ("deepseek-chat", Some("deepseek")),
            ("sonar-pro", Some("perplexity")),
            ("o1x", None),
            ("omni", None),
            ("llama-3.1-70b", None),
            ("anthropic.claude-3-sonnet-20240229-v1:0", None),
            ("openai/gpt-4o", None),
            ("", None),
        ] {
            assert_eq!(infer_provider(model), provider, "{model}");
        }
    }
}
