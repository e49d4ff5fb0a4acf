//! The `chatbot.turn` of the Modelmetry tracing design: a customer asks where their order is;
//! the model decides to call the `GetOrderInformation` tool, the tool answers, the model writes
//! the final answer, and a check scores the answer's safety.
//!
//! Each step is a plain function with one attribute: `#[trace]` makes the turn a trace,
//! `#[span]` makes each step a span under it, with the arguments as input and the return value
//! as output. `modelmetry::llm` fills in what a model call sent and used; its cost is computed
//! from the usage when the trace is exported, and the turn's total is on the trace. The final
//! answer is streamed (`#[span(stream)]`): it prints as it arrives, and its span lasts until
//! the last chunk, with the time to the first one.
//!
//! The model calls go over HTTP to OpenAI's chat completions API and are recorded from the
//! API's own JSON (`llm::record_openai_request`, `llm::record_openai_response`, and
//! `llm::StreamAccumulator` for the streamed answer). Runs offline: with no `OPENAI_API_KEY` a
//! stand-in on 127.0.0.1 answers in the API's shapes (`mock_openai.rs`); with one, the real
//! API answers. With no Modelmetry key the trace prints to stderr, and its waterfall is
//! written as a self-contained HTML page (`modelmetry-chatbot.html` in the temporary
//! directory, or `MODELMETRY_HTML`) whose path is printed; with `MODELMETRY_API_KEY` (and
//! optionally `MODELMETRY_BASE_URL`) it is delivered before exit.
//!
//! ```sh
//! cargo run --example chatbot
//! ```

use std::io::{BufRead, BufReader, Write};
use std::sync::OnceLock;
use std::time::Duration;

use modelmetry::{ToolCall, event, finding, llm, span, trace};
use serde::Serialize;
use serde_json::{Value, json};

#[path = "mock_openai.rs"]
mod mock_openai;

fn main() {
    let (guard, page) = start();
    let api = API.get_or_init(Api::from_env);
    println!("model API: {}", api.base);
    let question = "Hi! Where is my order #A-1042? It was due yesterday.";
    println!("user: {question}");
    handle_turn("conversation-42", question); // prints the answer as it streams in
    drop(guard); // delivers what is left (within the shutdown timeout) before we report
    let s = modelmetry::stats();
    println!(
        "modelmetry: {} record(s) produced, {} delivered, {} lost",
        s.produced,
        s.sent,
        s.dropped.total()
    );
    if let Some(page) = page {
        println!("trace view: {} (open it in a browser)", page.display());
    }
}

/// `modelmetry::init()`, plus, with no API key (the console tree), the HTML view of the trace
/// beside it. Returns the page's path when one is written.
fn start() -> (modelmetry::InitGuard, Option<std::path::PathBuf>) {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if set("MODELMETRY_API_KEY") || set("MODELMETRY_EXPORTER") {
        return (modelmetry::init(), None);
    }
    let page = std::env::var_os("MODELMETRY_HTML").map_or_else(
        || std::env::temp_dir().join("modelmetry-chatbot.html"),
        std::path::PathBuf::from,
    );
    match modelmetry::Config::from_env().html(&page).init() {
        Ok(guard) => (guard, Some(page)),
        Err(e) => {
            eprintln!("modelmetry: {e}; tracing is off");
            (modelmetry::init(), None)
        }
    }
}

/// One turn of the conversation: the trace. Its input is the user's message (the session id
/// is skipped: it is the trace's session already), its output the answer.
#[trace(
    name = "chatbot.turn",
    session = session_id,
    user = "customer-7",
    tags = ["support", "orders"],
    skip(session_id)
)]
fn handle_turn(session_id: &str, user_msg: &str) -> String {
    let call = match generate(user_msg) {
        Ok(call) => call,
        Err(e) => return format!("Sorry, I cannot look that up right now ({e})."),
    };
    let order = get_order_information(&call);
    let mut answer = String::new();
    print!("assistant: ");
    for chunk in generate_final(user_msg, &call, &order) {
        let text = delta_text(&chunk);
        print!("{text}");
        let _ = std::io::stdout().flush(); // show each chunk as it arrives
        answer.push_str(text);
    }
    println!();
    let check = response_check(&answer);
    finding!(response_safe_score = check.score; comment = "stand-in moderation model");
    answer
}

/// Where the model calls go: OpenAI with `OPENAI_API_KEY`, else the stand-in on 127.0.0.1.
struct Api {
    base: String,
    key: Option<String>,
    agent: ureq::Agent,
}

static API: OnceLock<Api> = OnceLock::new();

impl Api {
    fn from_env() -> Api {
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty());
        let base = match &key {
            Some(_) => std::env::var("OPENAI_BASE_URL")
                .unwrap_or_else(|_| "https://api.openai.com/v1".to_owned()),
            None => match mock_openai::MockOpenAi::start() {
                Ok(mock) => mock.base_url(),
                Err(e) => {
                    eprintln!("cannot start the stand-in model API: {e}");
                    std::process::exit(1);
                }
            },
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None) // the stand-in is on loopback: nothing between us and it
            .build()
            .into();
        Api { base, key, agent }
    }

    /// POST a chat completions request.
    fn post(&self, body: &Value) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut req = self
            .agent
            .post(format!("{}/chat/completions", self.base))
            .header("Content-Type", "application/json");
        if let Some(key) = &self.key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        req.send(body.to_string()).map_err(|e| e.to_string())
    }
}

fn api() -> &'static Api {
    API.get_or_init(Api::from_env)
}

const SYSTEM: &str = "You are a support agent. Use tools to look orders up.";

fn tools() -> Value {
    let tool = |name: &str, description: &str, param: &str| {
        json!({"type": "function", "function": {"name": name, "description": description,
            "parameters": {"type": "object", "properties": {param: {"type": "string"}},
                           "required": [param]}}})
    };
    json!([
        tool(
            "GetOrderInformation",
            "Look an order up by its id",
            "order_id"
        ),
        tool("RequestRefund", "Refund an order", "order_id"),
        tool("Escalate", "Hand the conversation to a person", "reason"),
    ])
}

/// The first model call: it decides which tool to call. The request and the API's answer are
/// recorded as they are, from their JSON: model, options, tools offered, messages, the tool
/// call, finish reason, response id and usage.
#[span(kind = "llm", name = "llm.generate")]
fn generate(user_msg: &str) -> Result<ToolCall, String> {
    let request = json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user_msg}],
        "tools": tools(),
        "tool_choice": "auto",
    });
    llm::record_openai_request(&request);
    let mut answer = api().post(&request)?;
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    let body: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if status != 200 {
        llm::record_provider_error(Some(status), &body);
        return Err(format!("the model API answered {status}"));
    }
    llm::record_openai_response(&body);
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    let name = call["function"]["name"].as_str().unwrap_or_default();
    event!(
        "tool_selected",
        tool = name,
        tools_offered = ["GetOrderInformation", "RequestRefund", "Escalate"],
    );
    let usage = &body["usage"];
    finding!(
        input_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as f64,
        output_tokens = usage["completion_tokens"].as_u64().unwrap_or(0) as f64
    );
    let arguments = call["function"]["arguments"]
        .as_str()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(Value::Null);
    Ok(ToolCall::function(
        call["id"].as_str().unwrap_or_default(),
        name,
        arguments,
    ))
}

/// What the order system knows about an order.
#[derive(Serialize)]
struct Order {
    order_id: String,
    status: &'static str,
    carrier: &'static str,
    eta: &'static str,
}

/// The tool the model called. Its input (the call) and output (the order) are captured as
/// JSON because both types implement `Serialize`.
#[span(kind = "tool", name = "GetOrderInformation")]
fn get_order_information(call: &ToolCall) -> Order {
    stand_in_latency(15);
    Order {
        order_id: call.function.arguments["order_id"]
            .as_str()
            .unwrap_or("?")
            .to_owned(),
        status: "in transit",
        carrier: "DHL",
        eta: "tomorrow",
    }
}

/// The second model call: the answer, written from the tool's result and streamed back in
/// chunks. The span lives until the last chunk; `StreamAccumulator` (the fold) joins the
/// chunks' text deltas into the answer, takes usage from the last chunk (asked for with
/// `include_usage`) and records both, with the time to the first chunk.
#[span(
    kind = "llm",
    name = "llm.generate_final",
    stream,
    fold = llm::StreamAccumulator::new()
)]
fn generate_final(user_msg: &str, call: &ToolCall, order: &Order) -> impl Iterator<Item = Value> {
    let order_json = serde_json::to_string(order).unwrap_or_default();
    let request = json!({
        "model": "gpt-4o-mini",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user_msg},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call.id, "type": "function",
                "function": {"name": call.function.name,
                             "arguments": call.function.arguments.to_string()}}]},
            {"role": "tool", "tool_call_id": call.id, "content": order_json},
        ],
    });
    llm::record_openai_request(&request);
    let lines: Box<dyn Iterator<Item = String>> = match api().post(&request) {
        Ok(answer) => Box::new(
            BufReader::new(answer.into_body().into_reader())
                .lines()
                .map_while(Result::ok),
        ),
        Err(e) => {
            llm::record_provider_error(None, &json!({"error": {"message": e}}));
            Box::new(std::iter::empty())
        }
    };
    // One chunk per server-sent event's `data`, up to `[DONE]`.
    lines
        .filter_map(|line| line.strip_prefix("data:").map(|d| d.trim().to_owned()))
        .take_while(|data| data != "[DONE]")
        .filter_map(|data| serde_json::from_str::<Value>(&data).ok())
}

/// The text a chunk adds to the answer.
fn delta_text(chunk: &Value) -> &str {
    chunk["choices"][0]["delta"]["content"]
        .as_str()
        .unwrap_or_default()
}

/// A moderation model's verdict.
#[derive(Serialize)]
struct Moderation {
    flagged: bool,
    score: f64,
}

/// A moderation check of the answer.
#[span(
    kind = "llm",
    name = "llm.response_check",
    model = "omni-moderation-latest"
)]
fn response_check(answer: &str) -> Moderation {
    stand_in_latency(20);
    let score = if answer.to_lowercase().contains("refund") {
        0.71
    } else {
        0.93
    };
    Moderation {
        flagged: false,
        score,
    }
}

/// The stand-in moderation model's "thinking" time, so the trace's durations look like a real
/// call's.
fn stand_in_latency(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
