//! Anthropic's Messages API JSON (`/v1/messages`), read into [`Request`] and [`Response`].

use serde_json::{Map, Value};

use super::call::{
    ProviderError, Request, Response, Tokens, f64_of, i64_of, kind_of, not_an_object, reference,
    stop, str_of, tool_call, u64_of,
};
use crate::values::{AssistantMessage, DataPart, Message, Part, Tool, ToolMessage, UserMessage};

/// Read a Messages API request.
pub(crate) fn request(v: &Value) -> Request {
    let mut req = Request::read("anthropic", v);
    if req.unreadable {
        return req;
    }
    let o = &mut req.options;
    o.model = str_of(v, "model").map(str::to_owned);
    o.max_tokens = i64_of(v, "max_tokens");
    o.temperature = f64_of(v, "temperature");
    o.top_p = f64_of(v, "top_p");
    o.stop = v.get("stop_sequences").and_then(stop);
    o.stream = v.get("stream").and_then(Value::as_bool);
    o.user = v
        .get("metadata")
        .and_then(|m| str_of(m, "user_id"))
        .map(str::to_owned);
    o.tool_choice = v.get("tool_choice").and_then(|c| match str_of(c, "type") {
        Some("tool") => str_of(c, "name").map(str::to_owned),
        other => other.map(str::to_owned),
    });
    if let Some(tools) = v.get("tools").and_then(Value::as_array) {
        o.tools = Some(
            tools
                .iter()
                .filter_map(|t| {
                    let name = str_of(t, "name").or_else(|| str_of(t, "type"))?;
                    let schema = t
                        .get("input_schema")
                        .cloned()
                        .unwrap_or_else(|| Value::Object(Map::new()));
                    Some(Tool::new(
                        name,
                        str_of(t, "description").unwrap_or_default(),
                        schema,
                    ))
                })
                .collect(),
        );
    }
    req.service_tier = str_of(v, "service_tier").map(str::to_owned);
    if let Some(k) = i64_of(v, "top_k") {
        req.extra.insert("top_k".into(), k.into());
    }
    if let Some(budget) = v.get("thinking").and_then(|t| u64_of(t, "budget_tokens")) {
        req.extra
            .insert("thinking_budget_tokens".into(), budget.into());
    }
    match v.get("system") {
        Some(Value::String(s)) => req.messages.push(Message::system(s.as_str())),
        Some(Value::Array(blocks)) => {
            let text: Vec<&str> = blocks.iter().filter_map(|b| str_of(b, "text")).collect();
            req.messages.push(Message::system(text.join("\n")));
        }
        _ => {}
    }
    match v.get("messages").and_then(Value::as_array) {
        Some(list) => {
            for (i, m) in list.iter().enumerate() {
                message(
                    m,
                    &mut req.messages,
                    &mut req.unmapped,
                    &format!("messages[{i}]"),
                );
            }
        }
        None => req.unmapped.push("messages: missing".to_owned()),
    }
    req
}

/// Read a Messages API response (or an error body).
pub(crate) fn response(v: &Value) -> Response {
    let mut resp = Response::default();
    if str_of(v, "type") == Some("error") {
        resp.error = Some(ProviderError::from_body(None, v));
        return resp;
    }
    if not_an_object("response", v, &mut resp.unmapped) {
        return resp;
    }
    resp.id = str_of(v, "id").map(str::to_owned);
    resp.model = str_of(v, "model").map(str::to_owned);
    if let Some(r) = str_of(v, "stop_reason") {
        resp.finish_reasons.push(r.to_owned());
    }
    let usage = v.get("usage");
    resp.usage = usage.and_then(tokens);
    resp.service_tier = usage
        .and_then(|u| str_of(u, "service_tier"))
        .map(str::to_owned);
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    m.insert(
        "content".into(),
        v.get("content").cloned().unwrap_or(Value::Null),
    );
    message(
        &Value::Object(m),
        &mut resp.messages,
        &mut resp.unmapped,
        "response",
    );
    resp
}

/// Anthropic's usage, with its cache counts **added** to input: `input_tokens` counts only the
/// tokens after the last cache breakpoint, so input = `input_tokens` +
/// `cache_read_input_tokens` + `cache_creation_input_tokens`. Cache writes are split by
/// lifetime when `cache_creation` says so (`ephemeral_5m_input_tokens` are `cache_write`,
/// `ephemeral_1h_input_tokens` `cache_write_1h`).
pub(crate) fn tokens(u: &Value) -> Option<Tokens> {
    if !u.is_object() {
        return None;
    }
    let base = u64_of(u, "input_tokens");
    let output = u64_of(u, "output_tokens");
    if base.is_none() && output.is_none() {
        return None;
    }
    let read = u64_of(u, "cache_read_input_tokens").unwrap_or(0);
    let created = u64_of(u, "cache_creation_input_tokens");
    let (write, write_1h) = match u.get("cache_creation").filter(|c| c.is_object()) {
        Some(c) => (
            u64_of(c, "ephemeral_5m_input_tokens").unwrap_or(0),
            u64_of(c, "ephemeral_1h_input_tokens").unwrap_or(0),
        ),
        None => (created.unwrap_or(0), 0),
    };
    let input = base.unwrap_or(0) + read + created.unwrap_or(write + write_1h);
    let output = output.unwrap_or(0);
    Some(Tokens {
        input,
        output,
        total: Some(input + output),
        cache_read: (read > 0).then_some(read),
        cache_write: (write > 0).then_some(write),
        cache_write_1h: (write_1h > 0).then_some(write_1h),
        reasoning: None,
    })
}

/// One message: a user's text and images become one user message, each `tool_result` block
/// a tool message (in order); an assistant's text and `tool_use` blocks one assistant message.
/// Thinking blocks are skipped (the model's, not the conversation's).
fn message(m: &Value, out: &mut Vec<Message>, unmapped: &mut Vec<String>, at: &str) {
    let role = str_of(m, "role");
    let blocks: Vec<Value> = match m.get("content") {
        Some(Value::String(s)) => {
            let mut b = Map::new();
            b.insert("type".into(), "text".into());
            b.insert("text".into(), s.as_str().into());
            vec![Value::Object(b)]
        }
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            unmapped.push(format!("{at}.content: {}", kind_of(other)));
            Vec::new()
        }
    };
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let kind = str_of(b, "type").unwrap_or_default();
        match kind {
            "text" => parts.push(Part::text(str_of(b, "text").unwrap_or_default())),
            "image" | "document" => match source(b.get("source")) {
                Some(p) => parts.push(p),
                None => unmapped.push(format!("{at}.content[{i}]: {kind} source")),
            },
            "tool_use" | "server_tool_use" => calls.push(tool_call(
                str_of(b, "id").unwrap_or_default(),
                str_of(b, "name").unwrap_or_default(),
                b.get("input")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            )),
            "tool_result" => {
                let contents = match b.get("content") {
                    Some(Value::String(s)) => vec![Part::text(s.as_str())],
                    Some(Value::Array(inner)) => inner
                        .iter()
                        .filter_map(|x| match str_of(x, "type") {
                            Some("text") => str_of(x, "text").map(Part::text),
                            _ => source(x.get("source")),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                out.push(Message::Tool(ToolMessage::new(
                    str_of(b, "tool_use_id").unwrap_or_default(),
                    contents,
                )));
            }
            "thinking" | "redacted_thinking" => {}
            other => unmapped.push(format!("{at}.content[{i}]: block of type {other:?}")),
        }
    }
    match role {
        Some("assistant") => {
            if parts.is_empty() && calls.is_empty() {
                return;
            }
            let mut a = AssistantMessage::new(parts);
            if !calls.is_empty() {
                a.tool_calls = Some(calls);
            }
            out.push(Message::Assistant(a));
        }
        Some("user") => {
            if !parts.is_empty() {
                out.push(Message::User(UserMessage::new(parts)));
            }
        }
        other => unmapped.push(format!(
            "{at}: role {}",
            other.map_or("missing".to_owned(), |r| format!("{r:?}"))
        )),
    }
}

/// An image's or document's `source`: base64 data, plain text, or a URL (named in a text part).
fn source(s: Option<&Value>) -> Option<Part> {
    let s = s?;
    match str_of(s, "type")? {
        "base64" => Some(Part::Data(DataPart::new(
            str_of(s, "media_type").unwrap_or("application/octet-stream"),
            str_of(s, "data")?,
        ))),
        "text" => str_of(s, "data").map(Part::text),
        "url" => str_of(s, "url").map(|u| reference("image", u)),
        "file" => str_of(s, "file_id").map(|u| reference("file", u)),
        _ => None,
    }
}
