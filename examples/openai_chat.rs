//! A support assistant on async-openai, traced with `modelmetry::openai::TracedChat`: the
//! model calls a tool, the tool answers, and the model's final answer is streamed. Each model
//! call is an llm span (`chat gpt-4o-mini`) filled from the request and the response: messages
//! with the tool call and its result, options, tools offered, finish reason, usage (the
//! streamed answer's too: `create_stream` asks for it), and the time to the first token.
//!
//! Runs offline: with no `OPENAI_API_KEY` a stand-in on 127.0.0.1 answers in the API's shapes
//! (`mock_openai.rs`); with one, OpenAI answers (or `OPENAI_BASE_URL`'s server: vLLM, Ollama,
//! …). The trace prints to stderr, or goes to Modelmetry with `MODELMETRY_API_KEY`.
//!
//! ```sh
//! cargo run --example openai_chat
//! ```

use std::io::Write;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{ChatCompletionMessageToolCalls, CreateChatCompletionRequest};
use futures::StreamExt;
use modelmetry::openai::TracedChat;
use modelmetry::{span, trace};
use serde_json::{Value, json};

#[path = "mock_openai.rs"]
mod mock_openai;

fn main() {
    let guard = modelmetry::init();
    // async-openai's TLS without a default crypto provider: rustls on ring, as ureq uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match std::env::var("OPENAI_API_KEY") {
        Ok(key) if !key.trim().is_empty() => match std::env::var("OPENAI_BASE_URL") {
            Ok(base) => OpenAIConfig::new().with_api_base(base),
            Err(_) => OpenAIConfig::new(),
        },
        _ => match mock_openai::MockOpenAi::start() {
            Ok(mock) => OpenAIConfig::new()
                .with_api_base(mock.base_url())
                .with_api_key("sk-stand-in"),
            Err(e) => {
                eprintln!("cannot start the stand-in model API: {e}");
                std::process::exit(1);
            }
        },
    };
    println!(
        "model API: {}",
        async_openai::config::Config::api_base(&config)
    );
    let client = Client::with_config(config);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let question = "Hi! Where is my order #A-1042? It was due yesterday.";
    println!("user: {question}");
    if let Err(e) = runtime.block_on(turn(&client, question)) {
        eprintln!("the model API failed: {e}");
    }
    drop(guard); // delivers what is left before the process ends
}

/// One turn: a trace with the two model calls and the tool call under it.
#[trace(name = "openai_chat.turn", session = "conversation-42", skip(client))]
async fn turn(client: &Client<OpenAIConfig>, question: &str) -> Result<String, OpenAIError> {
    let chat = TracedChat::new(client);
    let mut messages = vec![
        json!({"role": "system", "content": "You are a support agent. Use tools to look orders up."}),
        json!({"role": "user", "content": question}),
    ];
    let tools = json!([{"type": "function", "function": {
        "name": "GetOrderInformation",
        "description": "Look an order up by its id",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                       "required": ["order_id"]}}}]);

    // 1. The model picks a tool.
    let response = chat
        .create(request(json!({
            "model": "gpt-4o-mini", "temperature": 0.2, "messages": messages, "tools": tools,
        }))?)
        .await?;
    let message = &response.choices[0].message;
    messages.push(serde_json::to_value(message).unwrap_or(Value::Null));
    for call in message.tool_calls.iter().flatten() {
        if let ChatCompletionMessageToolCalls::Function(call) = call {
            let args: Value = serde_json::from_str(&call.function.arguments).unwrap_or_default();
            let order = get_order_information(args["order_id"].as_str().unwrap_or("?"));
            messages.push(
                json!({"role": "tool", "tool_call_id": call.id, "content": order.to_string()}),
            );
        }
    }

    // 2. The answer, streamed.
    let mut stream = chat
        .create_stream(request(json!({
            "model": "gpt-4o-mini", "messages": messages, "tools": tools,
        }))?)
        .await?;
    let mut answer = String::new();
    print!("assistant: ");
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            let text = choice.delta.content.unwrap_or_default();
            print!("{text}");
            let _ = std::io::stdout().flush();
            answer.push_str(&text);
        }
    }
    println!();
    Ok(answer)
}

/// A chat request from its JSON, as the API reference writes it.
fn request(body: Value) -> Result<CreateChatCompletionRequest, OpenAIError> {
    serde_json::from_value(body).map_err(|e| OpenAIError::InvalidArgument(e.to_string()))
}

/// The order system (a stand-in).
#[span(kind = "tool", name = "GetOrderInformation")]
fn get_order_information(order_id: &str) -> Value {
    json!({"order_id": order_id, "status": "in transit", "carrier": "DHL", "eta": "tomorrow"})
}
