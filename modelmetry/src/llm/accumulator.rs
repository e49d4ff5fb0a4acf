//! A streamed response, assembled from its chunks' JSON: OpenAI chat completion chunks, the
//! Responses API's events, Anthropic's Messages events.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::call::{self, ProviderError, Response, parse_arguments, str_of, tool_call, u64_of};
use super::{anthropic_json, openai_json};
use crate::context::target::Target;
use crate::fold::{Fold, FoldOutput};
use crate::values::{AssistantMessage, Message, Part};

/// Notes on chunks not understood, kept per stream (the first few are enough to diagnose).
const MAX_NOTES: usize = 8;

/// Assembles a streamed model response from each server-sent event's JSON, and records it on
/// the current span: the text deltas joined, tool-call arguments assembled from their
/// fragments (by index), the finish reason, the response id and model, and usage from the
/// chunk that carries it.
///
/// It reads OpenAI chat completion chunks (`chat.completion.chunk`, with `n` choices), the
/// Responses API's events (`response.output_text.delta`, `response.completed`, …) and
/// Anthropic's Messages events (`message_start`, `content_block_delta`, `message_delta`, …),
/// telling them apart chunk by chunk. Anthropic's cache counts are added to input, as in
/// [`record_anthropic_response`](super::record_anthropic_response).
///
/// **As a fold** (`#[span(stream, fold = ...)]`, [`Traced::new`](crate::Traced::new),
/// [`StreamSpan::wrap`](crate::StreamSpan::wrap)) it records as the chunks arrive: the
/// response id, finish reason and usage as soon as a chunk carries them, the assembled
/// assistant message when the stream closes (at its end, at an error, or when dropped early:
/// then with what had arrived); the span's output is the answer's text. Items may be
/// `serde_json::Value`s, a client's typed chunks (anything `Serialize`) or the events' `data`
/// text. An error event in the stream (Anthropic's `error`, OpenAI's `{"error": {...}}`)
/// ends the span there as an error with the provider's error body, with what had arrived.
/// For a stream of `Result`s use [`fold::Results`](crate::fold::Results)`(StreamAccumulator::new())`:
/// an `Err` item then ends the span before the accumulator sees it, so what had arrived is
/// the span's output but is not added as a message.
/// Time to first token is the stream's: the first chunk received.
///
/// **By hand**, feed it with [`push`](Self::push) or [`push_sse_data`](Self::push_sse_data)
/// and call [`record`](Self::record) once, at the end, inside the span.
///
/// Odd input never panics: a chunk that is not JSON, or of a shape it does not know, is
/// skipped and named (the first few) in the span's metadata under `provider_json_unmapped`;
/// fragments of tool-call arguments that never became valid JSON (a stream cut short) are
/// kept as the text received.
///
/// ```
/// # let rec = modelmetry::testing::Recorder::install();
/// use modelmetry::{Kind, Traced, llm::StreamAccumulator};
/// use serde_json::json;
///
/// let chunks = vec![
///     json!({"id": "chatcmpl-1", "model": "gpt-4o-mini", "object": "chat.completion.chunk",
///            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "It "}}]}),
///     json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
///            "choices": [{"index": 0, "delta": {"content": "ships."}, "finish_reason": "stop"}]}),
///     json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
///            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}),
/// ];
/// let stream = Traced::new(chunks.into_iter(), "chat gpt-4o-mini", Kind::Llm, StreamAccumulator::new());
/// assert_eq!(stream.count(), 3);
/// # let t = &rec.take()[0];
/// # assert!(t.tree().contains("tokens 12→3"), "{}", t.tree());
/// ```
#[derive(Debug, Default, Clone)]
pub struct StreamAccumulator {
    id: Option<String>,
    model: Option<String>,
    service_tier: Option<String>,
    choices: BTreeMap<u64, Choice>,
    /// Usage as sent; Anthropic's later counts overlay its `message_start` ones.
    usage: Option<(Shape, Map<String, Value>)>,
    /// The Responses API's final `response` object, which holds everything.
    done: Option<Response>,
    error: Option<ProviderError>,
    unmapped: Vec<String>,
    chunks: u64,
    /// Something worth recording (id, finish reason, usage, error) arrived with the last chunk.
    news: bool,
    /// The assembled messages were added to the span (as a fold: at an error, or at the end).
    messages_added: bool,
    /// An error chunk was reported to the stream (as a fold).
    error_reported: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Shape {
    #[default]
    OpenAi,
    Anthropic,
}

#[derive(Debug, Default, Clone)]
struct Choice {
    text: String,
    refusal: String,
    /// By the provider's index: a chat tool call's `index`, an Anthropic content block's, a
    /// Responses output item's.
    calls: BTreeMap<u64, Call>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct Call {
    id: String,
    name: String,
    arguments: String,
    /// Arguments given whole (an Anthropic `tool_use` block's non-empty `input`).
    whole: Option<Value>,
}

impl StreamAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        StreamAccumulator::default()
    }

    /// Take one chunk's JSON (the `data` of one server-sent event).
    pub fn push(&mut self, chunk: &Value) {
        self.chunks += 1;
        let n = self.chunks;
        if !chunk.is_object() {
            self.note(format!("chunk {n}: {}", call::kind_of(chunk)));
            return;
        }
        if chunk.get("choices").is_some()
            || str_of(chunk, "object") == Some("chat.completion.chunk")
        {
            self.chat_chunk(chunk);
        } else if let Some(kind) = str_of(chunk, "type") {
            self.event(kind, chunk);
        } else if chunk.get("error").is_some() {
            self.error = Some(ProviderError::from_body(None, chunk));
            self.news = true;
        } else {
            self.note(format!("chunk {n}: no `choices` and no `type`"));
        }
    }

    /// Take one server-sent event's `data` as text (a leading `data:` is stripped; `[DONE]` and
    /// blank data are ignored; text that is not JSON is skipped and noted).
    pub fn push_sse_data(&mut self, data: &str) {
        let data = data.trim();
        let data = data.strip_prefix("data:").map_or(data, str::trim_start);
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(v) => self.push(&v),
            Err(e) => {
                self.chunks += 1;
                self.note(format!("chunk {}: not JSON ({e})", self.chunks));
            }
        }
    }

    /// The answer's text so far (the first choice's).
    pub fn text(&self) -> String {
        match &self.done {
            Some(done) => done.messages.iter().map(Message::text).collect(),
            None => self
                .choices
                .values()
                .next()
                .map(|c| c.text.clone())
                .unwrap_or_default(),
        }
    }

    /// Record what was assembled on the current span: the response id, model and finish
    /// reasons, the assistant message(s) (appended after the request's messages), usage, and
    /// an error the stream carried. Call it once, at the end of the stream.
    pub fn record(&self) {
        call::apply_response(super::span(), self.response());
    }

    /// Everything assembled, as one response.
    fn response(&self) -> Response {
        let mut resp = self.response_meta();
        if let Some(done) = &self.done {
            resp.messages = done.messages.clone();
        } else {
            resp.messages = self.choices.values().filter_map(Choice::message).collect();
        }
        resp
    }

    /// All but the messages.
    fn response_meta(&self) -> Response {
        let mut resp = match &self.done {
            Some(done) => Response {
                messages: Vec::new(),
                ..done.clone()
            },
            None => Response::default(),
        };
        resp.id = resp.id.or_else(|| self.id.clone());
        resp.model = resp.model.or_else(|| self.model.clone());
        resp.service_tier = resp.service_tier.or_else(|| self.service_tier.clone());
        if resp.finish_reasons.is_empty() {
            resp.finish_reasons = self
                .choices
                .values()
                .filter_map(|c| c.finish_reason.clone())
                .collect();
        }
        if resp.usage.is_none() {
            resp.usage = self.usage.as_ref().and_then(|(shape, u)| {
                let u = Value::Object(u.clone());
                match shape {
                    Shape::OpenAi => openai_json::tokens(&u),
                    Shape::Anthropic => anthropic_json::tokens(&u),
                }
            });
        }
        if resp.error.is_none() {
            resp.error = self.error.clone();
        }
        resp.unmapped.extend(self.unmapped.iter().cloned());
        resp
    }

    /// Add the assembled messages to `t`, once (a span that has ended takes no more: a fold
    /// adds them before its stream's error item ends the span).
    pub(crate) fn add_messages(&mut self, t: Target) {
        if std::mem::replace(&mut self.messages_added, true) {
            return;
        }
        for m in self.response().messages {
            t.add_message(m);
        }
    }

    fn note(&mut self, text: String) {
        if self.unmapped.len() < MAX_NOTES {
            self.unmapped.push(text);
        }
    }

    fn chat_chunk(&mut self, c: &Value) {
        if self.id.is_none() {
            self.id = str_of(c, "id").map(str::to_owned);
            self.news |= self.id.is_some();
        }
        if self.model.is_none() {
            self.model = str_of(c, "model").map(str::to_owned);
        }
        if let Some(t) = str_of(c, "service_tier") {
            self.service_tier = Some(t.to_owned());
        }
        if let Some(u) = c.get("usage").and_then(Value::as_object) {
            self.usage = Some((Shape::OpenAi, u.clone()));
            self.news = true;
        }
        let Some(choices) = c.get("choices").and_then(Value::as_array) else {
            return;
        };
        for ch in choices {
            let index = u64_of(ch, "index").unwrap_or(0);
            let choice = self.choices.entry(index).or_default();
            if let Some(r) = str_of(ch, "finish_reason") {
                choice.finish_reason = Some(r.to_owned());
                self.news = true;
            }
            let Some(delta) = ch.get("delta") else {
                continue;
            };
            if let Some(t) = str_of(delta, "content") {
                choice.text.push_str(t);
            }
            if let Some(t) = str_of(delta, "refusal") {
                choice.refusal.push_str(t);
            }
            for (i, tc) in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let key = u64_of(tc, "index").unwrap_or(i as u64);
                let call = choice.calls.entry(key).or_default();
                if let Some(id) = str_of(tc, "id") {
                    call.id = id.to_owned();
                }
                let f = tc.get("function").unwrap_or(&Value::Null);
                if let Some(name) = str_of(f, "name") {
                    call.name.push_str(name);
                }
                if let Some(args) = str_of(f, "arguments") {
                    call.arguments.push_str(args);
                }
            }
        }
    }

    /// A typed event: Anthropic's or the Responses API's.
    fn event(&mut self, kind: &str, e: &Value) {
        let index = u64_of(e, "index")
            .or_else(|| u64_of(e, "output_index"))
            .unwrap_or(0);
        match kind {
            // ---- Anthropic Messages ----
            "message_start" => {
                let m = e.get("message").unwrap_or(&Value::Null);
                self.id = str_of(m, "id").map(str::to_owned).or(self.id.take());
                self.model = str_of(m, "model").map(str::to_owned).or(self.model.take());
                if let Some(u) = m.get("usage").and_then(Value::as_object) {
                    self.overlay_usage(Shape::Anthropic, u);
                }
                self.news = true;
            }
            "content_block_start" => {
                let b = e.get("content_block").unwrap_or(&Value::Null);
                let choice = self.choices.entry(0).or_default();
                match str_of(b, "type") {
                    Some("text") => choice.text.push_str(str_of(b, "text").unwrap_or_default()),
                    Some("tool_use" | "server_tool_use") => {
                        let whole = b
                            .get("input")
                            .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
                            .cloned();
                        choice.calls.insert(
                            index,
                            Call {
                                id: str_of(b, "id").unwrap_or_default().to_owned(),
                                name: str_of(b, "name").unwrap_or_default().to_owned(),
                                arguments: String::new(),
                                whole,
                            },
                        );
                    }
                    Some("thinking" | "redacted_thinking") => {}
                    other => {
                        let text = format!("content_block_start: block of type {other:?}");
                        self.note(text);
                    }
                }
            }
            "content_block_delta" => {
                let d = e.get("delta").unwrap_or(&Value::Null);
                let choice = self.choices.entry(0).or_default();
                match str_of(d, "type") {
                    Some("text_delta") => {
                        choice.text.push_str(str_of(d, "text").unwrap_or_default());
                    }
                    Some("input_json_delta") => {
                        let call = choice.calls.entry(index).or_default();
                        call.arguments
                            .push_str(str_of(d, "partial_json").unwrap_or_default());
                    }
                    Some("thinking_delta" | "signature_delta" | "citations_delta") => {}
                    other => {
                        let text = format!("content_block_delta: delta of type {other:?}");
                        self.note(text);
                    }
                }
            }
            "message_delta" => {
                if let Some(r) = e.get("delta").and_then(|d| str_of(d, "stop_reason")) {
                    self.choices.entry(0).or_default().finish_reason = Some(r.to_owned());
                }
                if let Some(u) = e.get("usage").and_then(Value::as_object) {
                    self.overlay_usage(Shape::Anthropic, u);
                }
                self.news = true;
            }
            "content_block_stop" | "message_stop" | "ping" => {}
            "error" => {
                self.error = Some(ProviderError::from_body(None, e));
                self.news = true;
            }
            // ---- OpenAI Responses API ----
            "response.created" | "response.in_progress" | "response.queued" => {
                if let Some(r) = e.get("response") {
                    self.id = str_of(r, "id").map(str::to_owned).or(self.id.take());
                    self.model = str_of(r, "model").map(str::to_owned).or(self.model.take());
                    self.news = true;
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                let item = e.get("item").unwrap_or(&Value::Null);
                if matches!(
                    str_of(item, "type"),
                    Some("function_call" | "custom_tool_call")
                ) {
                    let call = self
                        .choices
                        .entry(0)
                        .or_default()
                        .calls
                        .entry(index)
                        .or_default();
                    call.id = str_of(item, "call_id")
                        .or_else(|| str_of(item, "id"))
                        .unwrap_or_default()
                        .to_owned();
                    call.name = str_of(item, "name").unwrap_or_default().to_owned();
                    if let Some(args) = str_of(item, "arguments").filter(|a| !a.is_empty()) {
                        call.arguments = args.to_owned();
                    }
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let choice = self.choices.entry(0).or_default();
                let delta = str_of(e, "delta").unwrap_or_default();
                if kind == "response.refusal.delta" {
                    choice.refusal.push_str(delta);
                } else {
                    choice.text.push_str(delta);
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                let call = self
                    .choices
                    .entry(0)
                    .or_default()
                    .calls
                    .entry(index)
                    .or_default();
                call.arguments
                    .push_str(str_of(e, "delta").unwrap_or_default());
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(r) = e.get("response") {
                    let done = openai_json::response(r);
                    self.done = Some(done);
                    self.news = true;
                }
            }
            k if k.starts_with("response.") => {} // done events and progress of built-in tools
            other => {
                let text = format!("chunk {}: event of type {other:?}", self.chunks);
                self.note(text);
            }
        }
    }

    fn overlay_usage(&mut self, shape: Shape, u: &Map<String, Value>) {
        let (_, usage) = self.usage.get_or_insert_with(|| (shape, Map::new()));
        for (k, v) in u {
            if !v.is_null() {
                usage.insert(k.clone(), v.clone());
            }
        }
    }
}

impl Choice {
    fn message(&self) -> Option<Message> {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(Part::text(self.text.as_str()));
        }
        if !self.refusal.is_empty() {
            parts.push(Part::text(self.refusal.as_str()));
        }
        let calls: Vec<_> = self
            .calls
            .values()
            .map(|c| {
                let args = match (&c.whole, c.arguments.is_empty()) {
                    (Some(whole), true) => whole.clone(),
                    _ => parse_arguments(&c.arguments),
                };
                tool_call(&c.id, &c.name, args)
            })
            .collect();
        if parts.is_empty() && calls.is_empty() {
            return None;
        }
        let mut a = AssistantMessage::new(parts);
        if !calls.is_empty() {
            a.tool_calls = Some(calls);
        }
        Some(Message::Assistant(a))
    }
}

impl<T: Serialize> Fold<T> for StreamAccumulator {
    fn item(&mut self, item: &T) -> Result<(), String> {
        match serde_json::to_value(item) {
            Ok(Value::String(data)) => self.push_sse_data(&data),
            Ok(v) => self.push(&v),
            Err(e) => {
                self.chunks += 1;
                self.note(format!("chunk {}: not serialisable ({e})", self.chunks));
            }
        }
        if std::mem::take(&mut self.news) {
            // The stream's span is current while a fold sees an item (with tracing off for
            // user code: the span is written to directly).
            let t = Target::current_span();
            call::apply_response_meta(t, &self.response_meta());
            if let Some(e) = self.error.as_ref().filter(|_| !self.error_reported) {
                // An error event ends the span: what had arrived goes with it.
                let text = e.text();
                self.error_reported = true;
                self.add_messages(t);
                return Err(text);
            }
        }
        Ok(())
    }
}

impl FoldOutput for StreamAccumulator {
    /// Runs when the stream closes, with its span current (and only when content capture is
    /// on): the assembled message is added to the span, and its text is the span's output.
    fn output(&mut self) -> Option<Value> {
        self.add_messages(Target::current_span());
        let text = self.text();
        (!text.is_empty()).then_some(Value::String(text))
    }
}
