//! Modelmetry next to `tracing`: a turn traced with `#[trace]`, whose model call is a
//! `tracing` span written as genai (feature `otel`) writes it, with a `#[span]` tool inside and
//! a `tracing` span inside that. One registry serves both `tracing_subscriber::fmt` (the log
//! lines on stdout) and Modelmetry (the trace tree on stderr, or delivered with an API key).
//!
//! ```sh
//! cargo run --example tracing_bridge
//! ```

use modelmetry::{span, trace};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

fn main() {
    // Your subscriber, your choice: Modelmetry is one layer of it and installs nothing itself.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().without_time())
        .with(modelmetry::tracing::layer());
    tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");

    let guard = modelmetry::init();
    let answer = handle_turn("Where is my order #A-1042?");
    println!("assistant: {answer}");
    drop(guard); // delivers what is left
}

#[trace(name = "chatbot.turn", session = "conversation-42")]
fn handle_turn(question: &str) -> String {
    tracing::info!(chars = question.len(), "turn started"); // also an event on the trace
    let order = chat(question);
    format!("Order {order} ships tomorrow.")
}

/// A model call as genai 0.7 records it: the span, then the response and usage recorded on it.
fn chat(question: &str) -> String {
    let span = tracing::info_span!(
        "genai.chat",
        "otel.name" = "chat gpt-4o-mini",
        "otel.kind" = "client",
        "otel.status_code" = Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = "openai",
        "gen_ai.request.model" = "gpt-4o-mini",
        "gen_ai.request.temperature" = 0.2,
        "gen_ai.input.messages" = Empty,
        "gen_ai.output.messages" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
    );
    let _entered = span.enter();
    let messages =
        serde_json::json!([{"role": "user", "parts": [{"type": "text", "content": question}]}]);
    span.record("gen_ai.input.messages", messages.to_string().as_str());
    let order = get_order("A-1042"); // a `#[span]` inside a `tracing` span: nested under it
    span.record(
        "gen_ai.output.messages",
        r#"[{"role":"assistant","parts":[{"type":"text","content":"Let me check."}],"finish_reason":"stop"}]"#,
    );
    span.record("gen_ai.usage.input_tokens", 42);
    span.record("gen_ai.usage.output_tokens", 7);
    order
}

#[span(kind = "tool", name = "GetOrderInformation")]
fn get_order(id: &str) -> String {
    // A `tracing` span inside a `#[span]`: nested under it.
    let _query = tracing::info_span!("db.query", table = "orders").entered();
    tracing::info!(order = id, "order found");
    id.to_owned()
}
