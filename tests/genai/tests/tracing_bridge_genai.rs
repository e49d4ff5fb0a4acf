//! The `tracing` bridge with the real genai crate (0.7.2, feature `otel`, which writes the
//! OpenTelemetry GenAI `tracing` spans itself): its OpenAI client, over real HTTP to the
//! loopback server answering with OpenAI's documented chat completion (and its event stream),
//! inside a registry with Modelmetry's layer and under a `#[trace]` and a `#[span]` of ours.
//! The span shapes `tests/tests/tracing_bridge.rs` copies from genai's source are checked here
//! against what genai actually writes.
//!
//! What genai 0.7.2 writes (`src/otel/span.rs`, `src/client/client_impl.rs`,
//! `src/chat/chat_stream.rs`): a span named `genai.chat` with `otel.name = "chat {model}"`,
//! `gen_ai.operation.name = "chat"`, `gen_ai.provider.name = "openai"`, the request model and
//! `gen_ai.request.stream`; after the answer `gen_ai.response.model`, the usage
//! (`gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.reasoning.output_tokens`) and, for a
//! stream, `gen_ai.response.time_to_first_chunk` at its first chunk and the rest at its end.
//! Messages (`gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`)
//! only when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is true, read once per
//! process: so each call runs in a child process of this test binary, with the variable set
//! (or removed) by the parent test.
//!
//! (rig-core and rig-agent are tested the same way in `tests/rig`.)

use std::process::Command;

use futures::StreamExt as _;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint};
use genai::{Client, ModelIden, ServiceTarget};
use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{CompletionFamilyData, CreateSpanParams, FamilyData};
use modelmetry::{Message, Usage, span, trace};
use modelmetry_tests::shapes::{self, json_reply, sse, sse_reply};
use modelmetry_tests::{Server, assert_tree_eq};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

/// Set by the parent test: the child tests below do nothing without it.
const CHILD: &str = "MODELMETRY_GENAI_TEST_CHILD";
/// genai's switch for message content on its spans (`genai::otel::CAPTURE_CONTENT_ENV`).
const CAPTURE: &str = genai::otel::CAPTURE_CONTENT_ENV;

/// Run the child test `name` in a process of its own, with genai's content capture on or off.
fn run_child(name: &str, capture_content: bool) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(CHILD, "1");
    if capture_content {
        command.env(CAPTURE, "true");
    } else {
        command.env_remove(CAPTURE);
    }
    let out = command.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // It ran (a misspelt name would pass with 0 tests).
    assert!(stdout.contains("1 passed"), "{stdout}\n{stderr}");
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// genai's OpenAI client aimed at the loopback server.
fn openai_target(server: &Server) -> ServiceTarget {
    ServiceTarget {
        endpoint: Endpoint::from_owned(format!("{}/v1/", server.base_url())),
        auth: AuthData::from_single("sk-test"),
        model: ModelIden::new(AdapterKind::OpenAI, "gpt-4o-mini"),
    }
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("Be brief."),
        ChatMessage::user("Where is my order A-1042?"),
    ])
}

/// `f` on a current-thread runtime, in a registry with Modelmetry's layer (this thread only).
fn bridged<R>(f: impl std::future::Future<Output = R>) -> R {
    // reqwest, with the workspace's `rustls-no-provider` unified in, needs a crypto provider
    // (an error here only says one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let subscriber = tracing_subscriber::registry().with(modelmetry::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    })
}

#[trace(name = "support.turn")]
async fn turn(server: &Server, stream: bool) -> String {
    answer(server, stream).await
}

#[span(kind = "agent")]
async fn answer(server: &Server, stream: bool) -> String {
    let client = Client::new().expect("a genai client");
    if !stream {
        let response = client
            .exec_chat(openai_target(server), request(), None)
            .await
            .expect("the chat call");
        return response.first_text().unwrap_or_default().to_owned();
    }
    // Usage and content of a stream are kept by genai (and so recorded on its span) only when
    // asked for.
    let options = ChatOptions::default()
        .with_capture_usage(true)
        .with_capture_content(true);
    let response = client
        .exec_chat_stream(openai_target(server), request(), Some(&options))
        .await
        .expect("the stream call");
    let mut events = response.stream;
    let mut text = String::new();
    while let Some(event) = events.next().await {
        if let ChatStreamEvent::Chunk(chunk) = event.expect("a stream event") {
            text.push_str(&chunk.content);
        }
    }
    text
}

/// The one trace recorded, with its tree.
fn one_trace(rec: &Recorder) -> RecordedTrace {
    let mut traces = rec.take();
    assert_eq!(traces.len(), 1, "one trace: {traces:?}");
    traces.remove(0)
}

/// genai's span, bridged: the only llm span.
fn genai_span(trace: &RecordedTrace) -> (&CreateSpanParams, &CompletionFamilyData) {
    let llm: Vec<_> = trace
        .ingest()
        .spans
        .iter()
        .filter_map(|s| match &s.family_data {
            Some(FamilyData::Completion(c)) => Some((s, c)),
            _ => None,
        })
        .collect();
    assert_eq!(llm.len(), 1, "{}", trace.tree());
    llm[0]
}

/// OpenAI's documented chat completion, with cached and reasoning tokens in its usage.
fn chat_answer() -> serde_json::Value {
    let mut answer = shapes::chat_answer("It ships tomorrow.");
    answer["usage"]["prompt_tokens_details"]["cached_tokens"] = json!(64);
    answer["usage"]["completion_tokens_details"]["reasoning_tokens"] = json!(12);
    answer
}

fn chat_call(capture_content: bool) {
    let server = Server::start();
    server.fallback(json_reply(&chat_answer()));
    let rec = Recorder::install();
    let text = bridged(turn(&server, false));
    assert_eq!(text, "It ships tomorrow.");
    // The call went over HTTP to the loopback server, as OpenAI's chat completions API.
    let sent = server.requests();
    assert_eq!(sent.len(), 1, "one chat completion request");
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].json()["model"], json!("gpt-4o-mini"));

    // One trace, one tree: genai's span (named by its `otel.name`, kind llm from
    // `gen_ai.operation.name = "chat"`) under our `#[span]` under our `#[trace]`; priced from
    // its usage (gpt-4o-mini: 100 input tokens at $0.15/M, 64 cached at $0.075/M, 27 output at
    // $0.60/M).
    let trace = one_trace(&rec);
    assert_tree_eq(
        trace.tree(),
        "\
trace support.turn  cost 0.000036 USD
└── agent answer
    └── llm chat gpt-4o-mini  gpt-4o-mini  tokens 164→27  cost 0.000036 USD
",
    );
    let (span, c) = genai_span(&trace);
    assert_eq!(span.name, "chat gpt-4o-mini");
    let options = c.options.as_ref().expect("options");
    assert_eq!(options.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(options.provider.as_deref(), Some("openai"));
    assert_eq!(options.stream, Some(false));
    // The usage as genai read it from the answer; its cache and reasoning buckets travel in
    // the span's metadata (the spec's `Usage` has no place for them).
    assert_eq!(c.usage, Some(Usage::tokens(164, 27)));
    assert_eq!(span.metadata["usage.cache_read_tokens"], json!(64));
    assert_eq!(span.metadata["usage.reasoning_tokens"], json!(12));
    assert_eq!(
        span.metadata["response_model"],
        json!("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(span.metadata["finish_reasons"], json!(["stop"]));
    assert_eq!(span.metadata["server.address"], json!("127.0.0.1"));
    if capture_content {
        // genai's `gen_ai.system_instructions`, `gen_ai.input.messages` and
        // `gen_ai.output.messages`, read back as our messages.
        assert_eq!(
            c.messages,
            vec![
                Message::system("Be brief."),
                Message::user("Where is my order A-1042?"),
                Message::assistant("It ships tomorrow."),
            ]
        );
    } else {
        // genai's default: no content on its spans, so none here.
        assert!(c.messages.is_empty(), "{:?}", c.messages);
    }
}

#[test]
fn child_chat_with_content() {
    if in_child() {
        chat_call(true);
    }
}

#[test]
fn child_chat_without_content() {
    if in_child() {
        chat_call(false);
    }
}

#[test]
fn a_real_genai_chat_call_is_an_llm_span_in_the_tree_with_model_usage_and_messages() {
    if !in_child() {
        run_child("child_chat_with_content", true);
    }
}

#[test]
fn a_real_genai_chat_call_without_genais_content_capture_has_usage_but_no_messages() {
    if !in_child() {
        run_child("child_chat_without_content", false);
    }
}

#[test]
fn child_stream() {
    if !in_child() {
        return;
    }
    let server = Server::start();
    server.fallback(sse_reply(&sse(&shapes::chat_stream_text(
        &["It ships ", "tomorrow."],
        true,
    ))));
    let rec = Recorder::install();
    let text = bridged(turn(&server, true));
    assert_eq!(text, "It ships tomorrow.");
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["stream"], json!(true));

    let trace = one_trace(&rec);
    // gpt-4o-mini: 36 input tokens at $0.15/M, 128 cached at $0.075/M, 27 output at $0.60/M.
    // genai logs a warning for OpenAI's first chunk (a role and empty content): its stream is
    // polled outside its span (genai enters it nowhere), so the event is our span's.
    assert_tree_eq(
        trace.tree(),
        "\
trace support.turn  cost 0.0000312 USD
└── agent answer
    ├── llm chat gpt-4o-mini  gpt-4o-mini  tokens 164→27  cost 0.0000312 USD
    └── event EMPTY CHOICE CONTENT {\"level\":\"WARN\",\"target\":\"genai::adapter::adapters::openai::streamer\"}
"
    );
    let (span, c) = genai_span(&trace);
    assert_eq!(span.name, "chat gpt-4o-mini");
    let options = c.options.as_ref().expect("options");
    assert_eq!(options.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(options.stream, Some(true));
    // Recorded by genai at the stream's end.
    assert_eq!(c.usage, Some(Usage::tokens(164, 27)));
    assert_eq!(span.metadata["usage.cache_read_tokens"], json!(128));
    assert_eq!(
        c.messages,
        vec![
            Message::system("Be brief."),
            Message::user("Where is my order A-1042?"),
            Message::assistant("It ships tomorrow."),
        ]
    );
    // Recorded by genai at the first chunk: seconds since the call, kept as metadata.
    let first_chunk = span.metadata["gen_ai.response.time_to_first_chunk"].as_f64();
    assert!(
        first_chunk.is_some_and(|s| s.is_finite() && s >= 0.0),
        "{:?}",
        span.metadata
    );
}

#[test]
fn a_real_genai_stream_is_an_llm_span_with_time_to_first_chunk_usage_and_messages() {
    if !in_child() {
        run_child("child_stream", true);
    }
}
