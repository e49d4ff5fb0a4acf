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
//! Runs offline: a stand-in plays the LLM. With no API key the trace prints to stderr; with
//! `MODELMETRY_API_KEY` (and optionally `MODELMETRY_BASE_URL`) it is delivered before exit.
//!
//! ```sh
//! cargo run --example chatbot
//! ```

use std::io::Write;
use std::time::Duration;

use modelmetry::{Message, ToolCall, Usage, event, finding, llm, span, trace};
use serde::Serialize;
use serde_json::json;

fn main() {
    let guard = modelmetry::init();
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
    let call = generate(user_msg);
    let order = get_order_information(&call);
    let mut answer = String::new();
    print!("assistant: ");
    for chunk in generate_final(user_msg, &call, &order) {
        print!("{chunk}");
        let _ = std::io::stdout().flush(); // show each chunk as it arrives
        answer.push_str(&chunk);
    }
    println!();
    let check = response_check(&answer);
    finding!(response_safe_score = check.score; comment = "stand-in moderation model");
    answer
}

/// The first model call: it decides which tool to call.
#[span(
    kind = "llm",
    name = "llm.generate",
    model = "gpt-4o-mini",
    provider = "openai"
)]
fn generate(user_msg: &str) -> ToolCall {
    let call = ToolCall::function(
        "call_1",
        "GetOrderInformation",
        json!({"order_id": "A-1042"}),
    );
    llm::set_messages(vec![
        Message::system("You are a support agent. Use tools to look orders up."),
        Message::user(user_msg),
        Message::assistant_tool_calls(vec![call.clone()]),
    ]);
    stand_in_latency(40);
    event!(
        "tool_selected",
        tool = "GetOrderInformation",
        tools_offered = ["GetOrderInformation", "RequestRefund", "Escalate"],
    );
    // The cost is computed from the usage at export (genai-prices' gpt-4o-mini rates).
    llm::set_usage(Usage::tokens(120, 18));
    finding!(input_tokens = 120, output_tokens = 18);
    call
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
/// chunks. The span lives until the last chunk; the answer joined is its output. Like a
/// provider's API, the stand-in reports usage with the last chunk.
#[span(
    kind = "llm",
    name = "llm.generate_final",
    model = "gpt-4o-mini",
    provider = "openai",
    stream
)]
fn generate_final(user_msg: &str, call: &ToolCall, order: &Order) -> impl Iterator<Item = String> {
    let answer = format!(
        "Your order {} is {} with {} and should arrive {}. Sorry for the delay!",
        order.order_id, order.status, order.carrier, order.eta,
    );
    let order_json = serde_json::to_string(order).unwrap_or_default();
    llm::set_messages(vec![
        Message::user(user_msg),
        Message::assistant_tool_calls(vec![call.clone()]),
        Message::tool(call.id.clone(), order_json),
    ]);
    stand_in_latency(30); // until the first chunk
    let chunks: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let last = chunks.len() - 1;
    chunks.into_iter().enumerate().map(move |(i, chunk)| {
        stand_in_latency(2);
        if i == last {
            llm::add_message(Message::assistant(answer.clone()));
            llm::set_usage(Usage::tokens(164, 27));
            finding!(input_tokens = 164, output_tokens = 27);
        }
        chunk
    })
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

/// The stand-in model's "thinking" time, so the trace's durations look like a real call's.
fn stand_in_latency(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
