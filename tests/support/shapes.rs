//! Provider responses as the providers' API references show them (OpenAI chat completions and
//! Responses API, Anthropic Messages), for a loopback server to replay, and SSE framing.

use serde_json::{Value, json};

use crate::Reply;

/// `data: {json}` events, ended by `data: [DONE]` (OpenAI's framing).
pub fn sse(chunks: &[Value]) -> String {
    let mut out = String::new();
    for c in chunks {
        out.push_str(&format!("data: {c}\n\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

/// `event: {type}` + `data: {json}` events (Anthropic's and the Responses API's framing).
pub fn sse_typed(events: &[Value]) -> String {
    let mut out = String::new();
    for e in events {
        let kind = e["type"].as_str().unwrap_or("message");
        out.push_str(&format!("event: {kind}\ndata: {e}\n\n"));
    }
    out
}

/// A 200 answer carrying a JSON body.
pub fn json_reply(body: &Value) -> Reply {
    Reply::ok().body_json(&body.to_string())
}

/// A 200 answer carrying an event stream.
pub fn sse_reply(body: &str) -> Reply {
    Reply::Answer {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/event-stream".into()),
            ("Cache-Control".into(), "no-cache".into()),
        ],
        body: body.as_bytes().to_vec(),
        delay: std::time::Duration::ZERO,
    }
}

/// An error answer with an OpenAI- or Anthropic-shaped JSON body.
pub fn error_reply(status: u16, body: &Value) -> Reply {
    Reply::Answer {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        delay: std::time::Duration::ZERO,
    }
}

/// OpenAI's 401 for a wrong key.
pub fn openai_401() -> Value {
    json!({"error": {
        "message": "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})
}

/// A chat completion that calls one tool, with cached and reasoning tokens.
pub fn chat_tool_call() -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                    "type": "function",
                    "function": {"name": "GetOrderInformation", "arguments": "{\"order_id\":\"A-1042\"}"}
                }],
                "refusal": null,
                "annotations": []
            },
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": {
            "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 256, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

/// A plain chat completion answer.
pub fn chat_answer(text: &str) -> Value {
    json!({
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 164, "completion_tokens": 27, "total_tokens": 191,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

fn chunk(choices: Value, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-B9MFtBSp3a4JYGgd3pNuSm2fAcgHu",
        "object": "chat.completion.chunk",
        "created": 1741570193,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": choices,
        "usage": usage
    })
}

/// A streamed answer: the role, text deltas, the finish reason, then (with usage) the usage
/// chunk whose `choices` are empty.
pub fn chat_stream_text(pieces: &[&str], with_usage: bool) -> Vec<Value> {
    let u = |v: Value| if with_usage { v } else { Value::Null };
    let mut out = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null},
                "logprobs": null, "finish_reason": null}]),
        u(Value::Null),
    )];
    for p in pieces {
        out.push(chunk(
            json!([{"index": 0, "delta": {"content": p}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ));
    }
    out.push(chunk(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
        Value::Null,
    ));
    if with_usage {
        out.push(chunk(
            json!([]),
            json!({"prompt_tokens": 164, "completion_tokens": 27, "total_tokens": 191,
                   "prompt_tokens_details": {"cached_tokens": 128, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                       "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}),
        ));
    }
    out
}

/// A streamed answer calling two tools in parallel, each call's arguments split across chunks.
pub fn chat_stream_tool_calls() -> Vec<Value> {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut f = json!({"arguments": args});
        if let Some(n) = name {
            f["name"] = n.into();
        }
        let mut c = json!({"index": index, "function": f});
        if let Some(id) = id {
            c["id"] = id.into();
            c["type"] = "function".into();
        }
        chunk(
            json!([{"index": 0, "delta": {"tool_calls": [c]}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        )
    };
    vec![
        chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": null}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        call(0, Some("call_A"), Some("GetOrderInformation"), ""),
        call(0, None, None, "{\"order"),
        call(1, Some("call_B"), Some("GetShippingStatus"), ""),
        call(0, None, None, "_id\": \"A-"),
        call(1, None, None, "{\"carrier\":"),
        call(0, None, None, "1042\"}"),
        call(1, None, None, " \"DHL\"}"),
        chunk(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}]),
            Value::Null,
        ),
        chunk(
            json!([]),
            json!({"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120}),
        ),
    ]
}

/// A Responses API response that calls a function after some reasoning.
pub fn responses_function_call() -> Value {
    json!({
        "id": "resp_67ca09c5efe0819096d0511c92b8c890096610f474011cc0",
        "object": "response",
        "created_at": 1741294021,
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": 500,
        "model": "o4-mini-2025-04-16",
        "output": [
            {"type": "reasoning", "id": "rs_67ca09c6", "summary": []},
            {"type": "function_call", "id": "fc_67ca09c6bedc8190a7abfec07b1a1332",
             "call_id": "call_unLAR8MvFNptuiZK6K6HCy5k", "name": "get_current_weather",
             "arguments": "{\"location\":\"Boston, MA\",\"unit\":\"celsius\"}", "status": "completed"}
        ],
        "parallel_tool_calls": true,
        "reasoning": {"effort": "low", "summary": null},
        "store": true,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {"input_tokens": 291, "input_tokens_details": {"cached_tokens": 256},
                  "output_tokens": 23, "output_tokens_details": {"reasoning_tokens": 64},
                  "total_tokens": 314},
        "user": null,
        "metadata": {}
    })
}

/// A Responses API text answer, as the `response.completed` event carries it.
pub fn responses_text(text: &str) -> Value {
    json!({
        "id": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
        "object": "response",
        "created_at": 1741290958,
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "model": "gpt-4.1-2025-04-14",
        "output": [{"id": "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654", "type": "message",
                    "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "service_tier": "default",
        "usage": {"input_tokens": 37, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": 11, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": 48}
    })
}

/// The Responses API's events for a streamed text answer.
pub fn responses_stream(pieces: &[&str]) -> Vec<Value> {
    let full: String = pieces.concat();
    let done = responses_text(&full);
    let mut created = done.clone();
    created["status"] = "in_progress".into();
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let item = "msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654";
    let mut out = vec![
        json!({"type": "response.created", "sequence_number": 0, "response": created}),
        json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
               "item": {"id": item, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "sequence_number": 2, "item_id": item,
               "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    for (i, p) in pieces.iter().enumerate() {
        out.push(
            json!({"type": "response.output_text.delta", "sequence_number": 3 + i,
                        "item_id": item, "output_index": 0, "content_index": 0, "delta": p}),
        );
    }
    out.push(
        json!({"type": "response.output_text.done", "item_id": item, "output_index": 0,
                    "content_index": 0, "text": full}),
    );
    out.push(json!({"type": "response.completed", "response": done}));
    out
}

/// An Anthropic Messages answer with text and a tool call, read partly from the cache.
pub fn anthropic_tool_use() -> Value {
    json!({
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [
            {"type": "text", "text": "I'll look that order up."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
             "name": "GetOrderInformation", "input": {"order_id": "A-1042"}}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 200,
            "cache_read_input_tokens": 1800,
            "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
            "output_tokens": 40,
            "service_tier": "standard"
        }
    })
}

/// Anthropic's events for a streamed answer: text, then a tool call whose input arrives in
/// fragments.
pub fn anthropic_stream() -> Vec<Value> {
    let delta =
        |index: u64, d: Value| json!({"type": "content_block_delta", "index": index, "delta": d});
    vec![
        json!({"type": "message_start", "message": {
            "id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 1024, "output_tokens": 2}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        delta(0, json!({"type": "text_delta", "text": "Okay, let me "})),
        delta(0, json!({"type": "text_delta", "text": "check."})),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block":
            {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "GetOrderInformation", "input": {}}}),
        delta(1, json!({"type": "input_json_delta", "partial_json": ""})),
        delta(
            1,
            json!({"type": "input_json_delta", "partial_json": "{\"order_id\":"}),
        ),
        delta(
            1,
            json!({"type": "input_json_delta", "partial_json": " \"A-1042\"}"}),
        ),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"output_tokens": 89}}),
        json!({"type": "message_stop"}),
    ]
}

/// Anthropic's error body for an overloaded API.
pub fn anthropic_overloaded() -> Value {
    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
           "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
}
