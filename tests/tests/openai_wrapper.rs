//! `modelmetry::openai::TracedChat`: async-openai's own client, over real HTTP to a loopback
//! server answering with OpenAI's documented shapes; each call's span read back field by field.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionStreamOptions, ChatCompletionTools,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs, FunctionObjectArgs,
};
use futures::StreamExt;
use modelmetry::openai::TracedChat;
use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{CompletionFamilyData, CreateSpanParams, FamilyData};
use modelmetry::{Message, Severity};
use modelmetry_tests::Server;
use modelmetry_tests::shapes::{self, error_reply, json_reply, sse, sse_reply};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(server: &Server) -> Client<OpenAIConfig> {
    // Needed only when a workspace build unifies the examples' `rustls-no-provider` in.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = OpenAIConfig::new()
        .with_api_base(format!("{}/v1", server.base_url()))
        .with_api_key("sk-test");
    Client::with_config(config)
}

fn request(stream_options: Option<ChatCompletionStreamOptions>) -> CreateChatCompletionRequest {
    let messages: Vec<ChatCompletionRequestMessage> = serde_json::from_value(json!([
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "Where is my order A-1042?"}
    ]))
    .unwrap();
    let tool = FunctionObjectArgs::default()
        .name("GetOrderInformation")
        .description("Look an order up")
        .parameters(json!({"type": "object", "properties": {"order_id": {"type": "string"}}}))
        .build()
        .unwrap();
    let mut args = CreateChatCompletionRequestArgs::default();
    args.model("gpt-4o-mini")
        .temperature(0.2)
        .max_completion_tokens(200u32)
        .messages(messages)
        .tools(vec![ChatCompletionTools::Function(
            async_openai::types::chat::ChatCompletionTool { function: tool },
        )]);
    if let Some(o) = stream_options {
        args.stream_options(o);
    }
    args.build().unwrap()
}

fn llm_span(t: &RecordedTrace) -> (&CreateSpanParams, &CompletionFamilyData) {
    let span = &t.ingest().spans[0];
    let Some(FamilyData::Completion(c)) = &span.family_data else {
        panic!("completion data expected: {:?}", span.family_data);
    };
    (span, c)
}

#[test]
fn create_records_the_request_the_tool_call_and_usage() {
    let server = Server::start();
    server.script([json_reply(&shapes::chat_tool_call())]);
    let client = client(&server);
    let rec = Recorder::install();
    let response = runtime()
        .block_on(TracedChat::new(&client).create(request(None)))
        .unwrap();
    assert_eq!(response.id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    assert_eq!(span.name, "chat gpt-4o-mini");
    assert_eq!(server.requests()[0].path, "/v1/chat/completions");

    let o = c.options.as_ref().unwrap();
    assert_eq!(o.model.as_deref(), Some("gpt-4o-mini"));
    // The loopback host names the provider; the base URL is kept.
    assert_eq!(o.provider.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        o.base_url.as_deref(),
        Some(format!("{}/v1", server.base_url()).as_str())
    );
    assert_eq!(o.temperature, Some(0.2));
    assert_eq!(o.max_tokens, Some(200));
    assert_eq!(o.tools.as_ref().unwrap()[0].name, "GetOrderInformation");
    let roles: Vec<&str> = c.messages.iter().map(Message::role).collect();
    assert_eq!(roles, ["system", "user", "assistant"]);
    let Message::Assistant(a) = &c.messages[2] else {
        panic!()
    };
    let call = &a.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "GetOrderInformation");
    assert_eq!(call.function.arguments, json!({"order_id": "A-1042"}));
    let u = c.usage.as_ref().unwrap();
    assert_eq!(
        (u.input_tokens(), u.output_tokens()),
        (Some(2006), Some(300))
    );
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 1920);
    assert_eq!(m["usage.reasoning_tokens"], 256);
    assert_eq!(m["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(m["response_id"], "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    assert_eq!(m["service_tier"], "default");
    assert_eq!(span.severity, None);
}

#[test]
fn an_api_error_marks_the_span_with_status_type_code_and_message() {
    let server = Server::start();
    server.script([error_reply(401, &shapes::openai_401())]);
    let client = client(&server);
    let rec = Recorder::install();
    let result = runtime().block_on(TracedChat::new(&client).create(request(None)));
    assert!(
        matches!(result, Err(OpenAIError::ApiError(_))),
        "{result:?}"
    );
    let traces = rec.take();
    let (span, _) = llm_span(&traces[0]);
    assert_eq!(span.severity, Some(Severity::Error));
    assert!(
        span.message
            .as_deref()
            .unwrap()
            .starts_with("401 invalid_request_error: Incorrect API key provided"),
        "{:?}",
        span.message
    );
    let e = &span.metadata["provider_error"];
    assert_eq!(
        (e["status"].as_u64(), e["type"].as_str(), e["code"].as_str()),
        (
            Some(401),
            Some("invalid_request_error"),
            Some("invalid_api_key")
        )
    );
}

#[test]
fn create_stream_asks_for_usage_and_records_the_streamed_answer() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(
        &["It ", "ships ", "tomorrow."],
        true,
    )))]);
    let client = client(&server);
    let rec = Recorder::install();
    let text = runtime().block_on(async {
        let mut stream = TracedChat::new(&client)
            .create_stream(request(None))
            .await
            .unwrap();
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            for choice in chunk.unwrap().choices {
                text.push_str(choice.delta.content.as_deref().unwrap_or_default());
            }
        }
        text
    });
    assert_eq!(text, "It ships tomorrow.");
    // The request as sent asks for usage.
    let sent = server.requests()[0].json();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    assert_eq!(span.name, "chat gpt-4o-mini");
    assert_eq!(c.options.as_ref().unwrap().stream, Some(true));
    assert_eq!(c.messages.last().unwrap().text(), "It ships tomorrow.");
    let u = c.usage.as_ref().unwrap();
    assert_eq!((u.input_tokens(), u.output_tokens()), (Some(164), Some(27)));
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 128);
    assert_eq!(m["finish_reasons"], json!(["stop"]));
    assert_eq!(m["items"], 6);
    assert!(m["ttft_ms"].as_f64().is_some_and(|t| t >= 0.0), "{m:?}");
    assert_eq!(m["output"], "It ships tomorrow.");
    assert!(m.get("cancelled").is_none());
    assert!(
        traces[0].tree().contains("event first_token"),
        "{}",
        traces[0].tree()
    );
}

#[test]
fn a_request_that_turns_usage_off_is_left_alone() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(&["Hi"], false)))]);
    let client = client(&server);
    let rec = Recorder::install();
    let off = ChatCompletionStreamOptions {
        include_usage: Some(false),
        include_obfuscation: None,
    };
    runtime().block_on(async {
        let stream = TracedChat::new(&client)
            .create_stream(request(Some(off)))
            .await
            .unwrap();
        assert_eq!(stream.count().await, 3);
    });
    assert_eq!(
        server.requests()[0].json()["stream_options"]["include_usage"],
        false
    );
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    assert!(c.usage.is_none());
    assert_eq!(c.messages.last().unwrap().text(), "Hi");
    assert_eq!(span.metadata["finish_reasons"], json!(["stop"]));
}

#[test]
fn streamed_tool_calls_are_assembled_from_their_fragments() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_tool_calls()))]);
    let client = client(&server);
    let rec = Recorder::install();
    runtime().block_on(async {
        let stream = TracedChat::new(&client)
            .create_stream(request(None))
            .await
            .unwrap();
        stream
            .for_each(|c| async move {
                c.unwrap();
            })
            .await;
    });
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    let Message::Assistant(a) = c.messages.last().unwrap() else {
        panic!()
    };
    let calls = a.tool_calls.as_ref().unwrap();
    assert_eq!(calls[0].function.arguments, json!({"order_id": "A-1042"}));
    assert_eq!(calls[1].function.arguments, json!({"carrier": "DHL"}));
    assert_eq!(
        (calls[0].id.as_str(), calls[1].id.as_str()),
        ("call_A", "call_B")
    );
    assert_eq!(span.metadata["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(c.usage.as_ref().unwrap().input_tokens(), Some(80));
}

#[test]
fn a_stream_dropped_early_is_cancelled_with_what_had_arrived() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(
        &["It ", "ships ", "tomorrow."],
        true,
    )))]);
    let client = client(&server);
    let rec = Recorder::install();
    runtime().block_on(async {
        let mut stream = TracedChat::new(&client)
            .create_stream(request(None))
            .await
            .unwrap();
        stream.next().await.unwrap().unwrap(); // the role
        stream.next().await.unwrap().unwrap(); // "It "
        drop(stream);
    });
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    let m = &span.metadata;
    assert_eq!(m["cancelled"], true);
    assert_eq!(m["items"], 2);
    assert!(m["ttft_ms"].as_f64().is_some());
    assert!(c.usage.is_none());
    assert!(m.get("finish_reasons").is_none());
    assert_eq!(c.messages.last().unwrap().text(), "It ");
    assert_eq!(m["output"], "It ");
    assert_eq!(span.severity, None);
}

#[test]
fn a_stream_refused_by_the_api_is_an_error_span_and_the_error_is_returned() {
    let server = Server::start();
    server.script([error_reply(
        400,
        &json!({"error": {
        "message": "Invalid 'messages': empty array.", "type": "invalid_request_error",
        "param": "messages", "code": "empty_array"}}),
    )]);
    let client = client(&server);
    let rec = Recorder::install();
    let result = runtime().block_on(TracedChat::new(&client).create_stream(request(None)));
    assert!(matches!(result, Err(OpenAIError::ApiError(_))));
    let traces = rec.take();
    let (span, _) = llm_span(&traces[0]);
    assert_eq!(span.severity, Some(Severity::Error));
    assert_eq!(
        span.message.as_deref(),
        Some("400 invalid_request_error: Invalid 'messages': empty array. (code: empty_array)")
    );
    assert_eq!(span.metadata["provider_error"]["param"], "messages");
    assert!(span.metadata.get("cancelled").is_none());
}

#[test]
fn an_error_sent_inside_the_stream_closes_the_span_as_an_error() {
    let server = Server::start();
    let mut chunks = shapes::chat_stream_text(&["It "], false);
    chunks.truncate(2);
    chunks.push(
        json!({"error": {"message": "The server had an error while processing your request.",
                                 "type": "server_error", "param": null, "code": null}}),
    );
    server.script([sse_reply(&sse(&chunks))]);
    let client = client(&server);
    let rec = Recorder::install();
    runtime().block_on(async {
        let stream = TracedChat::new(&client)
            .create_stream(request(None))
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert!(items[2].is_err());
    });
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0]);
    assert_eq!(span.severity, Some(Severity::Error));
    assert_eq!(
        span.message.as_deref(),
        Some("server_error: The server had an error while processing your request.")
    );
    assert_eq!(span.metadata["provider_error"]["type"], "server_error");
    assert_eq!(c.messages.last().unwrap().text(), "It ");
}

#[test]
fn with_tracing_off_the_wrapper_is_the_bare_client() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(&["Hi"], false)))]);
    let client = client(&server);
    // No recorder and no client: tracing is off on this thread.
    let n = runtime().block_on(async {
        let stream = TracedChat::new(&client)
            .create_stream(request(None))
            .await
            .unwrap();
        stream.count().await
    });
    assert_eq!(n, 3);
    // The request goes out as the caller made it: no usage asked for.
    assert!(server.requests()[0].json().get("stream_options").is_none());
}
