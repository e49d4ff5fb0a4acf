//! The `tracing` bridge with the real rig-core and rig-agent crates (0.44.0): rig-core's OpenAI
//! client on its reqwest transport, over real HTTP to the loopback server answering with
//! OpenAI's documented chat completions, inside a registry with Modelmetry's layer and under a
//! `#[trace]` and a `#[span]` of ours. The span shapes `tests/tests/tracing_bridge.rs` copies
//! from rig's source are checked here against what rig actually writes.
//!
//! What rig writes (rig-core `src/telemetry/mod.rs`, rig-agent `src/agent/telemetry.rs`): a
//! `chat` span per model call (target `rig::completions`, `gen_ai.operation.name = "chat"`,
//! provider, request model, then the response id and model and the usage recorded after the
//! answer); an agent run adds an `invoke_agent` span (`parent: None` when no `tracing` span is
//! current: the bridge puts it under our innermost span) and an `execute_tool` span per tool
//! call, filled with the tool's name, call id, arguments and result.

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{CompletionFamilyData, CreateSpanParams, FamilyData};
use modelmetry::{Message, Usage, span, trace};
use modelmetry_tests::shapes::{self, json_reply};
use modelmetry_tests::{Reply, Server, assert_tree_eq};
use rig_agent::AgentBuilder;
use rig_core::completion::CompletionRequest;
use rig_core::providers::openai::OpenAIConfig;
use rig_core::tool::PortableTool;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;

/// `f` on a current-thread runtime, in a registry with Modelmetry's layer (this thread only).
fn bridged<R>(f: impl std::future::Future<Output = R>) -> R {
    // reqwest, with rustls and no provider of its own chosen, needs one installed (an error
    // here only says one is installed already).
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

/// rig-core's OpenAI client aimed at the loopback server (Chat Completions).
fn openai(server: &Server) -> rig_core::providers::openai::OpenAI {
    OpenAIConfig::new("sk-test")
        .with_base_url(format!("{}/v1", server.base_url()))
        .client()
}

/// The one trace recorded.
fn one_trace(rec: &Recorder) -> RecordedTrace {
    let mut traces = rec.take();
    assert_eq!(traces.len(), 1, "one trace: {traces:?}");
    traces.remove(0)
}

/// The llm spans, in the order they started.
fn llm_spans(trace: &RecordedTrace) -> Vec<(&CreateSpanParams, &CompletionFamilyData)> {
    let mut llm: Vec<_> = trace
        .ingest()
        .spans
        .iter()
        .filter_map(|s| match &s.family_data {
            Some(FamilyData::Completion(c)) => Some((s, c)),
            _ => None,
        })
        .collect();
    llm.sort_by(|a, b| a.0.start.cmp(&b.0.start));
    llm
}

#[trace(name = "support.turn")]
async fn chat_turn(server: &Server) -> String {
    ask(server).await
}

#[span(kind = "agent")]
async fn ask(server: &Server) -> String {
    let model = openai(server).chat("gpt-4o-mini");
    let response = model
        .call(CompletionRequest::new("Where is my order A-1042?"))
        .await
        .expect("the chat call");
    format!("{:?}", response.choice)
}

#[test]
fn a_rig_core_chat_call_is_an_llm_span_with_model_and_usage_under_our_spans() {
    let server = Server::start();
    let mut answer = shapes::chat_answer("It ships tomorrow.");
    answer["usage"]["prompt_tokens_details"]["cached_tokens"] = json!(64);
    answer["usage"]["completion_tokens_details"]["reasoning_tokens"] = json!(12);
    server.fallback(json_reply(&answer));
    let rec = Recorder::install();
    let text = bridged(chat_turn(&server));
    assert!(text.contains("It ships tomorrow."), "{text}");
    // The call went over HTTP to the loopback server, as OpenAI's chat completions API.
    let sent = server.requests();
    assert_eq!(sent.len(), 1, "one chat completion request");
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].json()["model"], json!("gpt-4o-mini"));

    // One trace, one tree: rig's `chat` span (kind llm, from `gen_ai.operation.name`) under
    // our `#[span]` under our `#[trace]`, priced from the usage rig recorded after the answer
    // (gpt-4o-mini: 100 input tokens at $0.15/M, 64 cached at $0.075/M, 27 output at $0.60/M).
    let trace = one_trace(&rec);
    assert_tree_eq(
        trace.tree(),
        "\
trace support.turn  cost 0.000036 USD
└── agent ask
    └── llm chat gpt-4o-mini  gpt-4o-mini  tokens 164→27  cost 0.000036 USD
",
    );
    let llm = llm_spans(&trace);
    assert_eq!(llm.len(), 1);
    let (span, c) = llm[0];
    let options = c.options.as_ref().expect("options");
    assert_eq!(options.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(options.provider.as_deref(), Some("openai"));
    assert_eq!(c.usage, Some(Usage::tokens(164, 27)));
    assert_eq!(span.metadata["usage.cache_read_tokens"], json!(64));
    assert_eq!(span.metadata["usage.reasoning_tokens"], json!(12));
    assert_eq!(
        span.metadata["response_model"],
        json!("gpt-4o-mini-2024-07-18")
    );
}

/// A tool as rig-agent runs it: the order lookup the loopback model asks for.
struct GetOrderInformation;

#[derive(serde::Deserialize)]
struct OrderArgs {
    order_id: String,
}

#[derive(Debug)]
struct NoSuchOrder;

impl std::fmt::Display for NoSuchOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such order")
    }
}

impl std::error::Error for NoSuchOrder {}

impl PortableTool for GetOrderInformation {
    const NAME: &'static str = "GetOrderInformation";
    type Args = OrderArgs;
    type Output = String;
    type Error = NoSuchOrder;

    fn description(&self) -> String {
        "Look up an order by its id.".to_owned()
    }

    fn parameters(&self) -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"]
        })
    }

    async fn call(&self, args: OrderArgs) -> Result<String, NoSuchOrder> {
        if args.order_id == "A-1042" {
            Ok("shipped, arriving tomorrow".to_owned())
        } else {
            Err(NoSuchOrder)
        }
    }
}

#[trace(name = "support.agent_turn")]
async fn agent_turn(server: &Server) -> String {
    let agent = AgentBuilder::new(openai(server).chat("gpt-4o-mini"))
        .name("support")
        .preamble("Answer order questions with the tool.")
        .tool(GetOrderInformation)
        .record_content_telemetry(true)
        .build();
    let response = agent
        .prompt("Where is my order A-1042?")
        .max_turns(3)
        .await
        .expect("the agent run");
    response.output().to_owned()
}

#[test]
fn a_rig_agent_run_is_one_tree_of_agent_chat_tool_and_chat_spans() {
    let server = Server::start();
    // The model asks for the tool, then answers with its result.
    server.script([
        json_reply(&shapes::chat_tool_call()),
        json_reply(&shapes::chat_answer("It ships tomorrow.")),
    ]);
    server.fallback(Reply::status(500));
    let rec = Recorder::install();
    let text = bridged(agent_turn(&server));
    assert_eq!(text, "It ships tomorrow.");
    let sent = server.requests();
    assert_eq!(sent.len(), 2, "two chat completion requests");
    // The second request carries the tool's result back to the model.
    assert!(
        sent[1]
            .json()
            .to_string()
            .contains("shipped, arriving tomorrow"),
        "{}",
        sent[1].json()
    );

    let trace = one_trace(&rec);
    // rig-agent's `invoke_agent` span under our trace (its explicit `parent: None` taken as
    // the work of the innermost span on the thread), its two model calls, its tool call, and
    // the agent loop's `tracing` events, as they happened; both calls priced from the usage.
    assert_tree_eq(
        trace.tree(),
        r#"trace support.agent_turn  cost 0.0003777 USD
└── agent invoke_agent support
    ├── event Current conversation Turns: 1/3 {"level":"INFO","target":"rig_agent::agent::engine"}
    ├── llm chat gpt-4o-mini  gpt-4o-mini  tokens 2006→300  cost 0.0003369 USD
    ├── tool execute_tool GetOrderInformation
    ├── event Current conversation Turns: 2/3 {"level":"INFO","target":"rig_agent::agent::engine"}
    ├── llm chat gpt-4o-mini  gpt-4o-mini  tokens 164→27  cost 0.0000408 USD
    └── event Agent run finished {"level":"INFO","target":"rig_agent::agent::engine","turn":2,"max_turns":3}
"#,
    );
    let llm = llm_spans(&trace);
    assert_eq!(llm.len(), 2);
    assert_eq!(llm[0].1.usage, Some(Usage::tokens(2006, 300)));
    assert_eq!(llm[0].0.metadata["usage.cache_read_tokens"], json!(1920));
    assert_eq!(llm[0].0.metadata["usage.reasoning_tokens"], json!(256));
    // The second call's messages as rig recorded them (content telemetry on): the preamble
    // once (rig writes it as the instructions and again as the first input message), the
    // question, the tool call, its result, the answer.
    let messages = &llm[1].1.messages;
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert_eq!(
        messages[0],
        Message::system("Answer order questions with the tool.")
    );
    assert_eq!(messages[1], Message::user("Where is my order A-1042?"));
    assert!(matches!(messages[2], Message::Assistant(_)), "{messages:?}");
    assert_eq!(
        messages[3],
        Message::tool(
            "call_DdmO9pD3xa9XTPNJ32zg2hcA",
            "shipped, arriving tomorrow"
        )
    );
    assert_eq!(messages[4], Message::assistant("It ships tomorrow."));
    // The tool span: the arguments and result as its input and output.
    let spans = &trace.ingest().spans;
    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool GetOrderInformation")
        .expect("the tool span");
    assert_eq!(tool.metadata["input"], json!({"order_id": "A-1042"}));
    assert_eq!(tool.metadata["output"], json!("shipped, arriving tomorrow"));
    assert_eq!(
        tool.metadata["gen_ai.tool.call.id"],
        json!("call_DdmO9pD3xa9XTPNJ32zg2hcA")
    );
    // The agent span: the prompt and the answer.
    let agent = spans
        .iter()
        .find(|s| s.name == "invoke_agent support")
        .expect("the agent span");
    assert_eq!(agent.metadata["input"], json!("Where is my order A-1042?"));
    assert_eq!(agent.metadata["output"], json!("It ships tomorrow."));
}
