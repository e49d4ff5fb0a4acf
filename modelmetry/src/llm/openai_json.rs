//! OpenAI's JSON: chat completions (`/v1/chat/completions`) and the Responses API
//! (`/v1/responses`), read into [`Request`] and [`Response`]. Which one a value is, is told by
//! its shape: a request with `messages` is a chat completion, one with `input` or
//! `instructions` a Responses request; a response with `choices` is a chat completion, one
//! with `output` (or `"object": "response"`) a Responses response.

use serde_json::{Map, Value};

use super::call::{
    ProviderError, Request, Response, Tokens, arguments, data_url, f64_of, i64_of, kind_of,
    not_an_object, reference, stop, str_of, tool_call, u64_of,
};
use crate::values::{
    AssistantMessage, DataPart, Detail, Message, Part, SystemMessage, Tool, ToolCall, ToolMessage,
    UserMessage,
};

/// Read a chat completions or Responses API request.
pub(crate) fn request(v: &Value) -> Request {
    let mut req = Request::read("openai", v);
    if req.unreadable {
        return req;
    }
    let o = &mut req.options;
    o.model = str_of(v, "model").map(str::to_owned);
    o.temperature = f64_of(v, "temperature");
    o.top_p = f64_of(v, "top_p");
    o.max_tokens = i64_of(v, "max_completion_tokens")
        .or_else(|| i64_of(v, "max_tokens"))
        .or_else(|| i64_of(v, "max_output_tokens"));
    o.n = i64_of(v, "n");
    o.seed = i64_of(v, "seed");
    o.frequency_penalty = f64_of(v, "frequency_penalty");
    o.presence_penalty = f64_of(v, "presence_penalty");
    o.stop = v.get("stop").and_then(stop);
    o.user = str_of(v, "user")
        .or_else(|| str_of(v, "safety_identifier"))
        .map(str::to_owned);
    o.logprobs = v.get("logprobs").and_then(Value::as_bool);
    o.top_logprobs = i64_of(v, "top_logprobs");
    o.logit_bias = v.get("logit_bias").and_then(Value::as_object).cloned();
    o.stream = v.get("stream").and_then(Value::as_bool);
    o.tool_choice = v.get("tool_choice").and_then(tool_choice);
    o.response_format = v
        .get("response_format")
        .or_else(|| v.get("text").and_then(|t| t.get("format")))
        .and_then(Value::as_object)
        .cloned();
    if let Some(tools) = v.get("tools").and_then(Value::as_array) {
        o.tools = Some(tools.iter().filter_map(tool).collect());
    }
    req.service_tier = str_of(v, "service_tier").map(str::to_owned);
    if let Some(effort) = v
        .get("reasoning_effort")
        .or_else(|| v.get("reasoning").and_then(|r| r.get("effort")))
        .and_then(Value::as_str)
    {
        req.extra.insert("reasoning_effort".into(), effort.into());
    }
    if let Some(messages) = v.get("messages") {
        chat_messages(messages, &mut req.messages, &mut req.unmapped);
    } else {
        if let Some(instructions) = str_of(v, "instructions") {
            req.messages.push(Message::system(instructions));
        }
        match v.get("input") {
            Some(Value::String(s)) => req.messages.push(Message::user(s.as_str())),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    response_item(
                        item,
                        &mut req.messages,
                        &mut req.unmapped,
                        &format!("input[{i}]"),
                    );
                }
            }
            None | Some(Value::Null) => {}
            Some(other) => req.unmapped.push(format!("input: {}", kind_of(other))),
        }
    }
    req
}

/// Read a chat completion or Responses API response (not a stream's chunk: see the
/// accumulator).
pub(crate) fn response(v: &Value) -> Response {
    let mut resp = Response::default();
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        resp.error = Some(ProviderError::from_body(
            None,
            &Value::Object([("error".to_owned(), e.clone())].into_iter().collect()),
        ));
    }
    if not_an_object("response", v, &mut resp.unmapped) {
        return resp;
    }
    resp.id = str_of(v, "id").map(str::to_owned);
    resp.model = str_of(v, "model").map(str::to_owned);
    resp.service_tier = str_of(v, "service_tier").map(str::to_owned);
    resp.usage = v.get("usage").and_then(tokens);
    if let Some(choices) = v.get("choices").and_then(Value::as_array) {
        let mut sorted: Vec<&Value> = choices.iter().collect();
        sorted.sort_by_key(|c| u64_of(c, "index").unwrap_or(0));
        for (i, c) in sorted.into_iter().enumerate() {
            if let Some(reason) = str_of(c, "finish_reason") {
                resp.finish_reasons.push(reason.to_owned());
            }
            match c.get("message") {
                Some(m) if m.is_object() => {
                    let at = format!("choices[{i}].message");
                    if let Some(m) = chat_message(m, &mut resp.unmapped, &at) {
                        resp.messages.push(m);
                    }
                }
                _ => resp.unmapped.push(format!("choices[{i}]: no message")),
            }
        }
    } else if let Some(output) = v.get("output").and_then(Value::as_array) {
        let mut messages = Vec::new();
        for (i, item) in output.iter().enumerate() {
            response_item(
                item,
                &mut messages,
                &mut resp.unmapped,
                &format!("output[{i}]"),
            );
        }
        let calls = messages.iter().any(|m| {
            matches!(m, Message::Assistant(a) if a.tool_calls.as_ref().is_some_and(|c| !c.is_empty()))
        });
        resp.messages = messages;
        match str_of(v, "status") {
            Some("completed") => {
                resp.finish_reasons
                    .push(if calls { "tool_calls" } else { "stop" }.to_owned());
            }
            Some("incomplete") => resp.finish_reasons.push(
                v.get("incomplete_details")
                    .and_then(|d| str_of(d, "reason"))
                    .unwrap_or("incomplete")
                    .to_owned(),
            ),
            Some(other) => resp.finish_reasons.push(other.to_owned()),
            None => {}
        }
    } else if resp.error.is_none() {
        resp.unmapped
            .push("response: neither `choices` nor `output`".to_owned());
    }
    resp
}

/// Usage in either API's names: chat's `prompt_tokens`/`completion_tokens` with
/// `prompt_tokens_details.cached_tokens` and `completion_tokens_details.reasoning_tokens`, or
/// the Responses API's `input_tokens`/`output_tokens` with `input_tokens_details` and
/// `output_tokens_details`. OpenAI's input counts include the cached tokens already.
pub(crate) fn tokens(u: &Value) -> Option<Tokens> {
    if !u.is_object() {
        return None;
    }
    let input = u64_of(u, "prompt_tokens").or_else(|| u64_of(u, "input_tokens"));
    let output = u64_of(u, "completion_tokens").or_else(|| u64_of(u, "output_tokens"));
    if input.is_none() && output.is_none() {
        return None;
    }
    let in_details = u
        .get("prompt_tokens_details")
        .or_else(|| u.get("input_tokens_details"));
    let out_details = u
        .get("completion_tokens_details")
        .or_else(|| u.get("output_tokens_details"));
    Some(Tokens {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
        total: u64_of(u, "total_tokens"),
        cache_read: in_details
            .and_then(|d| u64_of(d, "cached_tokens"))
            .filter(|n| *n > 0),
        cache_write: None,
        cache_write_1h: None,
        reasoning: out_details
            .and_then(|d| u64_of(d, "reasoning_tokens"))
            .filter(|n| *n > 0),
    })
}

fn tool_choice(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => str_of(v, "name")
            .or_else(|| v.get("function").and_then(|f| str_of(f, "name")))
            .or_else(|| str_of(v, "type"))
            .map(str::to_owned),
        _ => None,
    }
}

/// A tool offered: chat's `{"type": "function", "function": {...}}`, the Responses API's flat
/// `{"type": "function", "name", ...}`, or a built-in tool (`web_search`, …), named by its type.
fn tool(v: &Value) -> Option<Tool> {
    let f = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    let name = str_of(f, "name").or_else(|| str_of(v, "type"))?;
    let parameters = f
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    Some(Tool::new(
        name,
        str_of(f, "description").unwrap_or_default(),
        parameters,
    ))
}

fn chat_messages(v: &Value, out: &mut Vec<Message>, unmapped: &mut Vec<String>) {
    let Some(list) = v.as_array() else {
        unmapped.push(format!("messages: {}", kind_of(v)));
        return;
    };
    for (i, m) in list.iter().enumerate() {
        if let Some(m) = chat_message(m, unmapped, &format!("messages[{i}]")) {
            out.push(m);
        }
    }
}

/// One chat message, of any role. `None` (noted) for a role we do not know.
fn chat_message(m: &Value, unmapped: &mut Vec<String>, at: &str) -> Option<Message> {
    let name = str_of(m, "name").map(str::to_owned);
    let mut contents = parts(m.get("content"), unmapped, at);
    let message = match str_of(m, "role") {
        Some("system" | "developer") => {
            let mut s = SystemMessage::new(contents);
            s.name = name;
            Message::System(s)
        }
        Some("user") => {
            let mut u = UserMessage::new(contents);
            u.name = name;
            Message::User(u)
        }
        Some("assistant") => {
            if let Some(r) = str_of(m, "refusal") {
                contents.push(Part::text(r));
            }
            if let Some(audio) = m.get("audio").and_then(|a| str_of(a, "transcript")) {
                contents.push(Part::text(audio));
            }
            let mut calls: Vec<ToolCall> = m
                .get("tool_calls")
                .and_then(Value::as_array)
                .map(|calls| calls.iter().map(chat_tool_call).collect())
                .unwrap_or_default();
            if let Some(f) = m.get("function_call").filter(|f| f.is_object()) {
                let name = str_of(f, "name").unwrap_or_default();
                calls.push(tool_call(name, name, arguments(f.get("arguments"))));
            }
            let mut a = AssistantMessage::new(contents);
            a.name = name;
            if !calls.is_empty() {
                a.tool_calls = Some(calls);
            }
            Message::Assistant(a)
        }
        Some("tool") => Message::Tool(ToolMessage::new(
            str_of(m, "tool_call_id").unwrap_or_default(),
            contents,
        )),
        // The legacy function result answers the call of that name.
        Some("function") => Message::Tool(ToolMessage::new(name.unwrap_or_default(), contents)),
        other => {
            unmapped.push(format!(
                "{at}: role {}",
                other.map_or("missing".to_owned(), |r| format!("{r:?}"))
            ));
            return None;
        }
    };
    Some(message)
}

fn chat_tool_call(c: &Value) -> ToolCall {
    let f = c.get("function").unwrap_or(&Value::Null);
    let name = str_of(f, "name")
        .or_else(|| c.get("custom").and_then(|x| str_of(x, "name")))
        .unwrap_or_default();
    let args = match c.get("custom").and_then(|x| x.get("input")) {
        Some(input) => input.clone(),
        None => arguments(f.get("arguments")),
    };
    tool_call(str_of(c, "id").unwrap_or_default(), name, args)
}

/// A message's content: a string, or a list of parts of either API (`text`, `input_text`,
/// `output_text`, `refusal`, `image_url`, `input_image`, `input_audio`, `file`, `input_file`).
/// Content given by reference (an image URL, a file id) becomes a text part naming it; a
/// `data:` URL becomes a data part.
pub(crate) fn parts(content: Option<&Value>, unmapped: &mut Vec<String>, at: &str) -> Vec<Part> {
    match content {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![Part::text(s.as_str())],
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for (i, p) in list.iter().enumerate() {
                match part(p) {
                    Some(part) => out.push(part),
                    None => unmapped.push(format!("{at}.content[{i}]: {}", part_kind(p))),
                }
            }
            out
        }
        Some(other) => {
            unmapped.push(format!("{at}.content: {}", kind_of(other)));
            Vec::new()
        }
    }
}

fn part(p: &Value) -> Option<Part> {
    if let Value::String(s) = p {
        return Some(Part::text(s.as_str()));
    }
    let kind = str_of(p, "type")?;
    match kind {
        "text" | "input_text" | "output_text" => str_of(p, "text").map(Part::text),
        "refusal" => str_of(p, "refusal").map(Part::text),
        "image_url" | "input_image" => {
            let (url, detail) = match p.get("image_url") {
                Some(Value::Object(_)) => {
                    let iu = &p["image_url"];
                    (str_of(iu, "url"), str_of(iu, "detail"))
                }
                Some(Value::String(s)) => (Some(s.as_str()), str_of(p, "detail")),
                _ => (None, str_of(p, "detail")),
            };
            match url {
                Some(url) => Some(match data_url(url) {
                    Some(d) => Part::Data(with_detail(d, detail)),
                    None => reference("image", url),
                }),
                None => str_of(p, "file_id").map(|id| reference("image", id)),
            }
        }
        "input_audio" => {
            let a = p.get("input_audio")?;
            let format = str_of(a, "format").unwrap_or("wav");
            str_of(a, "data").map(|d| Part::Data(DataPart::new(format!("audio/{format}"), d)))
        }
        "file" | "input_file" => {
            let f = p.get("file").filter(|f| f.is_object()).unwrap_or(p);
            if let Some(d) = str_of(f, "file_data").and_then(data_url) {
                return Some(Part::Data(d));
            }
            str_of(f, "file_url")
                .or_else(|| str_of(f, "file_id"))
                .or_else(|| str_of(f, "filename"))
                .map(|at| reference("file", at))
        }
        _ => None,
    }
}

fn with_detail(d: DataPart, detail: Option<&str>) -> DataPart {
    match detail {
        Some("low") => d.detail(Detail::Low),
        Some("high") => d.detail(Detail::High),
        Some("auto") => d.detail(Detail::Auto),
        _ => d,
    }
}

/// One item of a Responses API `input` or `output`: a message, a function call (added to the
/// assistant message before it, or a new one), a function call's output, a reasoning item
/// (skipped: it is the model's, not the conversation's), or another kind (noted).
pub(crate) fn response_item(
    item: &Value,
    out: &mut Vec<Message>,
    unmapped: &mut Vec<String>,
    at: &str,
) {
    let kind = str_of(item, "type").unwrap_or(if item.get("role").is_some() {
        "message"
    } else {
        ""
    });
    match kind {
        "message" => {
            if let Some(m) = chat_message(item, unmapped, at) {
                // Output messages come one per item; keep an assistant's text and calls together.
                if let (Message::Assistant(new), Some(Message::Assistant(prev))) =
                    (&m, out.last_mut())
                {
                    if prev.contents.is_empty() && new.tool_calls.is_none() {
                        prev.contents.extend(new.contents.iter().cloned());
                        return;
                    }
                }
                out.push(m);
            }
        }
        "function_call" | "custom_tool_call" => {
            let args = match item.get("input") {
                Some(input) if kind == "custom_tool_call" => input.clone(),
                _ => arguments(item.get("arguments")),
            };
            let call = tool_call(
                str_of(item, "call_id")
                    .or_else(|| str_of(item, "id"))
                    .unwrap_or_default(),
                str_of(item, "name").unwrap_or_default(),
                args,
            );
            if let Some(Message::Assistant(prev)) = out.last_mut() {
                prev.tool_calls.get_or_insert_with(Vec::new).push(call);
            } else {
                out.push(Message::assistant_tool_calls(vec![call]));
            }
        }
        "function_call_output" | "custom_tool_call_output" => {
            let mut contents = Vec::new();
            match item.get("output") {
                Some(Value::String(s)) => contents.push(Part::text(s.as_str())),
                Some(Value::Array(_)) => contents = parts(item.get("output"), unmapped, at),
                Some(Value::Null) | None => {}
                Some(other) => contents.push(Part::text(other.to_string())),
            }
            out.push(Message::Tool(ToolMessage::new(
                str_of(item, "call_id").unwrap_or_default(),
                contents,
            )));
        }
        "reasoning" => {}
        other => unmapped.push(format!("{at}: item of type {other:?}")),
    }
}

fn part_kind(p: &Value) -> String {
    match str_of(p, "type") {
        Some(t) => format!("part of type {t:?}"),
        None => kind_of(p).to_owned(),
    }
}
