//! A stand-in for OpenAI's chat completions API on 127.0.0.1, for the examples to run with no
//! account: it answers `POST /v1/chat/completions` in the API's own shapes (a completion, or
//! server-sent chunks ending with a usage chunk when `stream_options.include_usage` is set).
//!
//! It plays a support agent: offered tools and not yet given a tool's answer, it calls
//! `GetOrderInformation` for the order named in the last user message; given a tool's answer,
//! it writes the reply from it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// The server; it lives as long as the process (its thread is detached).
pub(crate) struct MockOpenAi {
    port: u16,
}

impl MockOpenAi {
    /// Listen on a free loopback port.
    pub(crate) fn start() -> std::io::Result<MockOpenAi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || serve(stream));
            }
        });
        Ok(MockOpenAi { port })
    }

    /// The API base, as a client takes it: `http://127.0.0.1:<port>/v1`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

fn serve(stream: TcpStream) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut len = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !path.ends_with("/chat/completions") {
            let error = json!({"error": {"message": format!("Unknown request URL: POST {path}."),
                "type": "invalid_request_error", "param": null, "code": "unknown_url"}});
            if respond(&mut out, 404, "application/json", &error.to_string()).is_err() {
                return;
            }
            continue;
        }
        thread::sleep(Duration::from_millis(30)); // the model reading the prompt
        let answer = answer(&request);
        if request["stream"] == true {
            let usage = request["stream_options"]["include_usage"] == true;
            let _ = stream_answer(&mut out, &answer, usage);
            return; // the stream ends with the connection
        }
        if respond(
            &mut out,
            200,
            "application/json",
            &completion(&answer).to_string(),
        )
        .is_err()
        {
            return;
        }
    }
}

fn respond(out: &mut TcpStream, status: u16, kind: &str, body: &str) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

/// What the stand-in model says: a tool call, or text.
enum Answer {
    Call { order_id: String },
    Text(String),
}

fn answer(request: &Value) -> Answer {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let tool_result = messages.iter().rev().find(|m| m["role"] == "tool");
    let offered = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    match tool_result {
        Some(result) => {
            let order: Value = result["content"]
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Value::Null);
            let field = |k: &str| order[k].as_str().unwrap_or("unknown").to_owned();
            Answer::Text(format!(
                "Your order {} is {} with {} and should arrive {}. Sorry for the delay!",
                field("order_id"),
                field("status"),
                field("carrier"),
                field("eta"),
            ))
        }
        None if offered => {
            let user = messages
                .iter()
                .rev()
                .find(|m| m["role"] == "user")
                .and_then(|m| m["content"].as_str())
                .unwrap_or_default();
            Answer::Call {
                order_id: order_id(user).unwrap_or_else(|| "unknown".to_owned()),
            }
        }
        None => Answer::Text("How can I help with your order?".to_owned()),
    }
}

/// `A-1042` out of "Where is my order #A-1042?".
fn order_id(text: &str) -> Option<String> {
    let start = text.find("A-")?;
    let digits: String = text[start + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("A-{digits}"))
}

const MODEL: &str = "gpt-4o-mini-2024-07-18";

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
           "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
}

fn completion(answer: &Answer) -> Value {
    let (message, finish, tokens) = match answer {
        Answer::Call { order_id } => (
            json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
                   "tool_calls": [{"id": "call_Xq3b5e8Fz1kQ2wR7", "type": "function",
                       "function": {"name": "GetOrderInformation",
                                    "arguments": json!({"order_id": order_id}).to_string()}}]}),
            "tool_calls",
            usage(120, 18),
        ),
        Answer::Text(text) => (
            json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
            "stop",
            usage(164, 27),
        ),
    };
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": tokens,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    })
}

fn stream_answer(out: &mut TcpStream, answer: &Answer, with_usage: bool) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    )?;
    let chunk = |choices: Value, usage: Value| {
        json!({"id": "chatcmpl-B9MFtBSp3a4JYGgd3pNuSm2fAcgHu", "object": "chat.completion.chunk",
               "created": 1741570193, "model": MODEL, "service_tier": "default",
               "system_fingerprint": "fp_06737a9306", "choices": choices, "usage": usage})
    };
    let usage_field = |u: Value| if with_usage { u } else { Value::Null };
    let mut send = |v: Value| -> std::io::Result<()> {
        write!(out, "data: {v}\n\n")?;
        out.flush()?;
        thread::sleep(Duration::from_millis(3));
        Ok(())
    };
    send(chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null},
                "logprobs": null, "finish_reason": null}]),
        usage_field(Value::Null),
    ))?;
    let (finish, tokens) = match answer {
        Answer::Text(text) => {
            for piece in text.split_inclusive(' ') {
                send(chunk(
                    json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]),
                    Value::Null,
                ))?;
            }
            ("stop", usage(164, 27))
        }
        Answer::Call { order_id } => {
            let args = json!({"order_id": order_id}).to_string();
            let (a, b) = args.split_at(args.len() / 2);
            for (i, part) in ["", a, b].iter().enumerate() {
                let mut call = json!({"index": 0, "function": {"arguments": part}});
                if i == 0 {
                    call["id"] = "call_Xq3b5e8Fz1kQ2wR7".into();
                    call["type"] = "function".into();
                    call["function"]["name"] = "GetOrderInformation".into();
                }
                send(chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [call]}, "logprobs": null, "finish_reason": null}]),
                    Value::Null,
                ))?;
            }
            ("tool_calls", usage(120, 18))
        }
    };
    send(chunk(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish}]),
        Value::Null,
    ))?;
    if with_usage {
        send(chunk(json!([]), tokens))?;
    }
    write!(out, "data: [DONE]\n\n")?;
    out.flush()
}
