//! The `chatbot.turn` of the Modelmetry tracing design: a customer asks where their order is;
//! the model decides to call the `GetOrderInformation` tool, the tool answers, the model writes
//! the final answer, and a check scores the answer's safety.
//!
//! Runs offline: a stand-in plays the LLM. With no API key the trace prints to stderr; with
//! `MODELMETRY_API_KEY` (and optionally `MODELMETRY_BASE_URL`) it is delivered before exit.
//!
//! ```sh
//! cargo run --example chatbot
//! ```

use std::time::Duration;

use modelmetry::{Cost, Event, Finding, Kind, Message, ToolCall, Usage};
use serde_json::json;

fn main() {
    let guard = modelmetry::init();
    let question = "Hi! Where is my order #A-1042? It was due yesterday.";
    println!("user: {question}");
    let answer = handle_turn("conversation-42", question);
    println!("assistant: {answer}");
    drop(guard); // delivers what is left (within the shutdown timeout) before we report
    let s = modelmetry::stats();
    println!(
        "modelmetry: {} record(s) produced, {} delivered, {} lost",
        s.produced,
        s.sent,
        s.dropped.total()
    );
}

/// One turn of the conversation: the trace.
fn handle_turn(session_id: &str, user_msg: &str) -> String {
    let trace = modelmetry::start_trace("chatbot.turn");
    trace.set_session_id(session_id);
    trace.set_user_id("customer-7");
    trace.add_tags(["support", "orders"]);
    trace.set_input(user_msg);

    let call = generate(user_msg);
    let order = get_order_information(&call);
    let answer = generate_final(user_msg, &call, &order);
    let score = response_check(&answer);
    Finding::new("response_safe_score", score)
        .comment("stand-in moderation model")
        .record();

    trace.set_output(&answer);
    answer
}

/// The first model call: it decides which tool to call.
fn generate(user_msg: &str) -> ToolCall {
    let span = modelmetry::start_span("llm.generate", Kind::Llm);
    span.set_model("gpt-4o-mini");
    span.set_provider("openai");
    let call = ToolCall::function(
        "call_1",
        "GetOrderInformation",
        json!({"order_id": "A-1042"}),
    );
    span.set_messages(vec![
        Message::system("You are a support agent. Use tools to look orders up."),
        Message::user(user_msg),
        Message::assistant_tool_calls(vec![call.clone()]),
    ]);
    stand_in_latency(40);
    Event::new("tool_selected")
        .with("tool", "GetOrderInformation")
        .with(
            "tools_offered",
            &["GetOrderInformation", "RequestRefund", "Escalate"],
        )
        .record();
    span.set_usage(Usage::tokens(120, 18));
    span.set_cost(Cost::new(0.000_018, 0.000_010_8, "USD"));
    Finding::new("input_tokens", 120).record();
    Finding::new("output_tokens", 18).record();
    call
}

/// The tool the model called.
fn get_order_information(call: &ToolCall) -> serde_json::Value {
    let span = modelmetry::start_span("GetOrderInformation", Kind::Tool);
    span.set_input(&call.function.arguments);
    stand_in_latency(15);
    let order =
        json!({"order_id": "A-1042", "status": "in transit", "carrier": "DHL", "eta": "tomorrow"});
    span.set_output(&order);
    order
}

/// The second model call: the answer, written from the tool's result.
fn generate_final(user_msg: &str, call: &ToolCall, order: &serde_json::Value) -> String {
    let span = modelmetry::start_span("llm.generate_final", Kind::Llm);
    span.set_model("gpt-4o-mini");
    span.set_provider("openai");
    stand_in_latency(60);
    let answer = format!(
        "Your order {} is {} with {} and should arrive {}. Sorry for the delay!",
        order["order_id"].as_str().unwrap_or("?"),
        order["status"].as_str().unwrap_or("on its way"),
        order["carrier"].as_str().unwrap_or("the carrier"),
        order["eta"].as_str().unwrap_or("soon"),
    );
    span.set_messages(vec![
        Message::user(user_msg),
        Message::assistant_tool_calls(vec![call.clone()]),
        Message::tool(call.id.clone(), order.to_string()),
        Message::assistant(answer.clone()),
    ]);
    span.set_usage(Usage::tokens(164, 27));
    span.set_cost(Cost::new(0.000_024_6, 0.000_016_2, "USD"));
    Finding::new("input_tokens", 164).record();
    Finding::new("output_tokens", 27).record();
    answer
}

/// A moderation check of the answer.
fn response_check(answer: &str) -> f64 {
    let span = modelmetry::start_span("llm.response_check", Kind::Llm);
    span.set_model("omni-moderation-latest");
    span.set_input(answer);
    stand_in_latency(20);
    let score = if answer.to_lowercase().contains("refund") {
        0.71
    } else {
        0.93
    };
    span.set_output(&json!({"flagged": false, "score": score}));
    score
}

/// The stand-in model's "thinking" time, so the trace's durations look like a real call's.
fn stand_in_latency(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
