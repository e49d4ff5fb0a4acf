//! The `tracing` bridge: spans written exactly as rig and genai write them, `#[span]` and
//! `tracing` spans nested both ways (sync, and async on a multi-thread runtime), events,
//! filters, the content switch and the redaction hook.
//!
//! The real crates are tested end to end in `tests/genai` (genai 0.7.2; a crate of its own: its
//! serde_json turns on `preserve_order`) and `tests/rig` (rig-core and rig-agent 0.44.0, the
//! newest that build with this workspace's toolchain: 0.46 needs rustc 1.97.1). Here, each
//! span is written field for field as their source writes it, so that every variant (errors,
//! streams, filters, threads) is covered without a server:
//!
//! - rig-core 0.44.0, `src/telemetry/mod.rs`: `__rig_canonical_completion_span!` (target
//!   `rig::completions`, name `chat`), `record_model_input`/`record_model_output` (message
//!   JSON) and `SpanCombinator::record_response` (`gen_ai.usage.cache_read.input_tokens`,
//!   `gen_ai.usage.reasoning_tokens`, all recorded after creation).
//! - rig-agent 0.44.0, `src/agent/telemetry.rs`: `acquire_agent_span` (`invoke_agent`,
//!   `parent: None`, `gen_ai.prompt`/`gen_ai.completion`) and `new_execute_tool_span`, filled
//!   by `run_single_tool` in `src/agent/engine.rs`.
//! - genai 0.7.2 with `otel`, `src/otel/span.rs`: `chat_request_span` (`genai.chat`,
//!   `otel.name = "chat {model}"`, `gen_ai.usage.reasoning.output_tokens`,
//!   `gen_ai.response.time_to_first_chunk`), `record_error` (`otel.status_code = "error"`),
//!   and `src/otel/agent.rs` (`genai.execute_tool`).

use std::sync::OnceLock;

use modelmetry::testing::Recorder;
use modelmetry::unversioned::wire::FamilyData;
use modelmetry::{Config, Message, Usage, span, trace};
use modelmetry_tests::assert_tree_eq;
use serde_json::json;
use tracing::field::Empty;
use tracing::{Instrument as _, info_span};
use tracing_subscriber::layer::SubscriberExt;

/// A registry with the bridge, for this thread only.
fn with_bridge<R>(layer: modelmetry::tracing::ModelmetryLayer, f: impl FnOnce() -> R) -> R {
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, f)
}

/// The same, for every thread (the multi-thread runtime's workers): installed once.
fn global_bridge() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(modelmetry::tracing::layer());
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
}

fn completion(
    span: &modelmetry::unversioned::wire::CreateSpanParams,
) -> &modelmetry::unversioned::wire::CompletionFamilyData {
    match &span.family_data {
        Some(FamilyData::Completion(c)) => c,
        other => panic!("completion data expected, got {other:?}"),
    }
}

// ---- rig-core 0.44.0 ------------------------------------------------------------------------

/// `new_completion_span!("chat", provider, model, "chat", system)` as rig-core expands it.
fn rig_chat_span(provider: &str, model: &str, system: Option<&str>) -> tracing::Span {
    info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider,
        gen_ai.request.model = model,
        gen_ai.system_instructions = system,
        gen_ai.request.stream = Empty,
        gen_ai.response.id = Empty,
        gen_ai.response.model = Empty,
        rig.provider_request_id = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
        gen_ai.usage.tool_use_prompt_tokens = Empty,
        gen_ai.usage.reasoning_tokens = Empty,
        gen_ai.input.messages = Empty,
        gen_ai.output.messages = Empty
    )
}

/// `SpanCombinator::record_response`: id, model, then each usage counter reported.
fn rig_record_response(span: &tracing::Span, input: u64, output: u64, cached: u64, reasoning: u64) {
    span.record("gen_ai.response.id", "chatcmpl-42");
    span.record("gen_ai.response.model", "gpt-4o-2024-08-06");
    span.record("gen_ai.usage.input_tokens", input);
    span.record("gen_ai.usage.output_tokens", output);
    span.record("gen_ai.usage.cache_read.input_tokens", cached);
    span.record("gen_ai.usage.reasoning_tokens", reasoning);
}

/// `acquire_agent_span` with no ambient span (rig-agent 0.44.0).
fn rig_agent_span(agent_name: &str, system_instructions: Option<&str>) -> tracing::Span {
    info_span!(
        parent: None,
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = agent_name,
        gen_ai.system_instructions = system_instructions,
        gen_ai.prompt = tracing::field::Empty,
        gen_ai.completion = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
        gen_ai.usage.cache_creation.input_tokens = tracing::field::Empty,
        gen_ai.usage.tool_use_prompt_tokens = tracing::field::Empty,
        gen_ai.usage.reasoning_tokens = tracing::field::Empty,
    )
}

/// `new_execute_tool_span` (rig-agent 0.44.0).
fn rig_tool_span() -> tracing::Span {
    info_span!(
        "execute_tool",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.type = "function",
        gen_ai.tool.name = tracing::field::Empty,
        gen_ai.tool.call.id = tracing::field::Empty,
        gen_ai.tool.call.arguments = tracing::field::Empty,
        gen_ai.tool.call.result = tracing::field::Empty,
        gen_ai.tool.call.outcome = tracing::field::Empty,
        gen_ai.tool.error.type = tracing::field::Empty
    )
}

#[test]
fn a_rig_chat_span_becomes_an_llm_span_with_model_usage_and_messages() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            // `system_instructions_json`: the instructions as a list of parts.
            let system = r#"[{"type":"text","content":"Be brief."}]"#;
            let span = rig_chat_span("openai", "gpt-4o", Some(system));
            span.record("gen_ai.request.stream", false);
            // `record_model_input` / `record_model_output`, after the request.
            span.record(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Where is my order?"}]}]"#,
            );
            span.record(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"It ships tomorrow."}],"finish_reason":"unknown"}]"#,
            );
            rig_record_response(&span, 120, 18, 100, 7);
        }
        let traces = rec.take();
        assert_eq!(traces.len(), 1);
        assert_eq!(
            traces[0].tree(),
            "trace chat gpt-4o  cost 0.000355 USD\n└── llm chat gpt-4o  gpt-4o  tokens 120→18  cost 0.000355 USD\n"
        );
        // Priced from the usage, cache reads at their own rate (gpt-4o: 20 input tokens at
        // $2.50/M, 100 cached at $1.25/M, 18 output at $10/M).
        let s = &traces[0].ingest().spans[0];
        let c = completion(s);
        let options = c.options.as_ref().unwrap();
        assert_eq!(options.model.as_deref(), Some("gpt-4o"));
        assert_eq!(options.provider.as_deref(), Some("openai"));
        assert_eq!(options.stream, Some(false));
        assert_eq!(c.usage, Some(Usage::tokens(120, 18)));
        assert_eq!(
            c.messages,
            vec![
                Message::system("Be brief."),
                Message::user("Where is my order?"),
                Message::assistant("It ships tomorrow."),
            ]
        );
        // The usage's buckets travel in the span's metadata (the spec's `Usage` has no place
        // for them), under the SDK's keys, not the frameworks' field names.
        assert_eq!(s.metadata["usage.cache_read_tokens"], json!(100));
        assert_eq!(s.metadata["usage.reasoning_tokens"], json!(7));
        assert_eq!(s.metadata["response_model"], json!("gpt-4o-2024-08-06"));
        assert!(!s.metadata.contains_key("gen_ai.usage.reasoning_tokens"));
        assert!(
            !s.metadata
                .contains_key("gen_ai.usage.cache_read.input_tokens")
        );
    });
}

#[test]
fn a_rig_agent_run_is_one_tree_of_agent_chat_and_tool_spans() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let agent = rig_agent_span("support", None);
            let _in_agent = agent.enter();
            agent.record("gen_ai.prompt", "weather in Paris?");
            {
                let chat = rig_chat_span("openai", "gpt-4o", None);
                let _c = chat.enter();
                chat.record(
                    "gen_ai.output.messages",
                    r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#,
                );
                rig_record_response(&chat, 50, 9, 0, 0);
            }
            {
                // `run_single_tool` fills the current tool span.
                let tool = rig_tool_span();
                let _t = tool.enter();
                let current = tracing::Span::current();
                current.record("gen_ai.tool.name", "get_weather");
                current.record("gen_ai.tool.call.id", tracing::field::display("call_1"));
                current.record("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#);
                current.record("gen_ai.tool.call.outcome", "success");
                current.record("gen_ai.tool.call.result", "rain, 12°C");
            }
            agent.record("gen_ai.completion", "It rains in Paris.");
            agent.record("gen_ai.usage.input_tokens", 50u64);
            agent.record("gen_ai.usage.output_tokens", 9u64);
        }
        let traces = rec.take();
        assert_eq!(traces.len(), 1, "one trace: {}", rec.take_trees());
        assert_eq!(
            traces[0].tree(),
            "\
trace invoke_agent support  cost 0.000215 USD
└── agent invoke_agent support
    ├── llm chat gpt-4o  gpt-4o  tokens 50→9  cost 0.000215 USD
    └── tool execute_tool get_weather
"
        );
        let body = traces[0].ingest();
        let agent = body
            .spans
            .iter()
            .find(|s| s.name == "invoke_agent support")
            .unwrap();
        let tool = body
            .spans
            .iter()
            .find(|s| s.name == "execute_tool get_weather")
            .unwrap();
        let chat = body.spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
        // The run's total usage stays metadata: its calls' usage is counted (and priced) once.
        assert_eq!(agent.metadata["gen_ai.usage.input_tokens"], json!(50));
        assert_eq!(agent.metadata["input"], json!("weather in Paris?"));
        assert_eq!(agent.metadata["output"], json!("It rains in Paris."));
        assert_eq!(tool.metadata["input"], json!({"city": "Paris"}));
        assert_eq!(tool.metadata["output"], json!("rain, 12°C"));
        assert_eq!(tool.metadata["gen_ai.tool.call.id"], json!("call_1"));
        assert_eq!(tool.parent_id, Some(agent.xid.clone()));
        assert_eq!(chat.parent_id, Some(agent.xid.clone()));
        let calls = match &completion(chat).messages[0] {
            Message::Assistant(a) => a.tool_calls.clone().unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(calls[0].id, "call_1");
        assert_eq!(calls[0].function.arguments, json!({"city": "Paris"}));
    });
}

// ---- genai 0.7.2 (feature `otel`) ------------------------------------------------------------

/// `chat_request_span` as genai writes it.
fn genai_chat_span(provider: &str, model: &str, stream: bool) -> tracing::Span {
    let span_name = format!("chat {model}");
    info_span!(
        "genai.chat",
        "otel.name" = span_name.as_str(),
        "otel.kind" = "client",
        "otel.status_code" = Empty,
        "error.type" = Empty,
        "gen_ai.operation.name" = "chat",
        "gen_ai.provider.name" = provider,
        "gen_ai.request.model" = model,
        "gen_ai.request.stream" = stream,
        "gen_ai.request.temperature" = Empty,
        "gen_ai.request.max_tokens" = Empty,
        "gen_ai.request.top_p" = Empty,
        "gen_ai.request.seed" = Empty,
        "gen_ai.request.stop_sequences" = Empty,
        "gen_ai.output.type" = Empty,
        "server.address" = Empty,
        "server.port" = Empty,
        "gen_ai.response.id" = Empty,
        "gen_ai.response.model" = Empty,
        "gen_ai.response.finish_reasons" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "gen_ai.usage.cache_read.input_tokens" = Empty,
        "gen_ai.usage.cache_creation.input_tokens" = Empty,
        "gen_ai.usage.reasoning.output_tokens" = Empty,
        "gen_ai.response.time_to_first_chunk" = Empty,
        "gen_ai.system_instructions" = Empty,
        "gen_ai.input.messages" = Empty,
        "gen_ai.output.messages" = Empty,
        "gen_ai.tool.definitions" = Empty,
    )
}

#[test]
fn a_genai_chat_span_takes_its_otel_name_options_usage_and_tools() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = genai_chat_span("openai", "gpt-4o-mini", true);
            // `record_server`, `record_chat_request_options`.
            span.record("server.address", "api.openai.com");
            span.record("server.port", 443i64);
            span.record("gen_ai.request.temperature", 0.2f64);
            span.record("gen_ai.request.max_tokens", 100i64);
            span.record("gen_ai.request.seed", 7i64);
            span.record("gen_ai.request.stop_sequences", r#"["END"]"#);
            span.record(
                "gen_ai.tool.definitions",
                r#"[{"type":"function","name":"get_weather","description":"Get the weather","parameters":{"type":"object"}}]"#,
            );
            span.record(
                "gen_ai.system_instructions",
                r#"[{"type":"text","content":"You are a translator."}]"#,
            );
            span.record(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Bonjour"}]}]"#,
            );
            // `record_time_to_first_chunk`, then `record_stream_end`.
            span.record("gen_ai.response.time_to_first_chunk", 0.25f64);
            span.record("gen_ai.response.id", "resp_1");
            span.record("gen_ai.response.finish_reasons", r#"["stop"]"#);
            span.record("gen_ai.usage.input_tokens", 30i64);
            span.record("gen_ai.usage.output_tokens", 12i64);
            span.record("gen_ai.usage.reasoning.output_tokens", 4i64);
            span.record(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"stop"}]"#,
            );
        }
        let traces = rec.take();
        assert_eq!(
            traces[0].tree(),
            "trace chat gpt-4o-mini  cost 0.0000117 USD\n└── llm chat gpt-4o-mini  gpt-4o-mini  tokens 30→12  cost 0.0000117 USD\n"
        );
        let s = &traces[0].ingest().spans[0];
        let c = completion(s);
        let o = c.options.as_ref().unwrap();
        assert_eq!(
            (o.temperature, o.max_tokens, o.seed, o.stream),
            (Some(0.2), Some(100), Some(7), Some(true))
        );
        assert_eq!(o.tools.as_ref().unwrap()[0].name, "get_weather");
        assert_eq!(c.messages.len(), 3);
        assert_eq!(c.messages[0], Message::system("You are a translator."));
        assert_eq!(s.metadata["usage.reasoning_tokens"], json!(4));
        assert_eq!(
            s.metadata["gen_ai.response.time_to_first_chunk"],
            json!(0.25)
        );
        assert_eq!(s.metadata["server.address"], json!("api.openai.com"));
        assert_eq!(s.metadata["finish_reasons"], json!(["stop"]));
        assert!(!s.metadata.contains_key("otel.kind"));
    });
}

#[test]
fn a_failed_genai_call_is_an_error_with_its_error_type() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = genai_chat_span("anthropic", "claude-3-5-haiku", false);
            // `record_error`.
            span.record("otel.status_code", "error");
            span.record("error.type", "RateLimited");
        }
        let traces = rec.take();
        let s = &traces[0].ingest().spans[0];
        assert_eq!(s.severity, Some(modelmetry::Severity::Error));
        assert_eq!(s.message.as_deref(), Some("RateLimited"));
        assert_eq!(
            completion(s).options.as_ref().unwrap().provider.as_deref(),
            Some("anthropic")
        );
    });
}

#[test]
fn a_genai_tool_span_records_arguments_and_result_as_input_and_output() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = info_span!(
                "genai.execute_tool",
                "otel.name" = "execute_tool lookup",
                "otel.kind" = "internal",
                "otel.status_code" = Empty,
                "error.type" = Empty,
                "gen_ai.operation.name" = "execute_tool",
                "gen_ai.tool.name" = "lookup",
                "gen_ai.tool.call.id" = Empty,
                "gen_ai.tool.description" = Empty,
                "gen_ai.tool.type" = Empty,
                "gen_ai.tool.call.arguments" = Empty,
                "gen_ai.tool.call.result" = Empty,
            );
            span.record("gen_ai.tool.call.arguments", r#"{"order":"A-1"}"#);
            span.record("gen_ai.tool.call.result", r#"{"status":"shipped"}"#);
        }
        let traces = rec.take();
        assert_eq!(
            traces[0].tree(),
            "trace execute_tool lookup\n└── tool execute_tool lookup\n"
        );
        let s = &traces[0].ingest().spans[0];
        assert_eq!(s.metadata["input"], json!({"order": "A-1"}));
        assert_eq!(s.metadata["output"], json!({"status": "shipped"}));
    });
}

// ---- nesting both ways -----------------------------------------------------------------------

#[span(kind = "tool")]
fn lookup(order: &str) -> String {
    // A `tracing` span inside a `#[span]`: nests under it (no gen_ai field needed inside a
    // trace).
    let inner = info_span!("db.query", table = "orders");
    let _e = inner.enter();
    format!("{order}: shipped")
}

#[trace(name = "turn")]
fn turn() -> String {
    // A `#[span]` inside a `tracing` span: nests under it.
    let outer = info_span!("handler", route = "/chat");
    let _e = outer.enter();
    let chat = rig_chat_span("openai", "gpt-4o", None);
    let answer = chat.in_scope(|| {
        modelmetry::llm::set_usage(Usage::tokens(3, 2)); // lands on the bridged span
        lookup("A-1")
    });
    tracing::info!(answer = %answer, "answered");
    answer
}

#[test]
fn span_and_tracing_spans_nest_both_ways_in_one_tree() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        turn();
        let traces = rec.take();
        assert_eq!(traces.len(), 1);
        // The event's fields compared as JSON (their order is serde_json's `Map`'s).
        assert_tree_eq(
            traces[0].tree(),
            "\
trace turn  cost 0.0000275 USD
└── other handler
    ├── llm chat gpt-4o  gpt-4o  tokens 3→2  cost 0.0000275 USD
    │   └── tool lookup
    │       └── other db.query
    └── event answered {\"answer\":\"A-1: shipped\",\"level\":\"INFO\",\"target\":\"tracing_bridge\"}
"
        );
        let spans = &traces[0].ingest().spans;
        let handler = spans.iter().find(|s| s.name == "handler").unwrap();
        assert_eq!(handler.metadata["route"], json!("/chat"));
    });
}

#[test]
fn an_explicit_parent_is_followed_unless_it_is_entered_here() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let _t = modelmetry::start_trace("t");
            let a = info_span!("a");
            let b = info_span!("b");
            let _in_a = a.enter();
            let _inner = modelmetry::start_span("inner", modelmetry::Kind::Tool);
            // rig's `completion_parent_span!` writes `parent: Span::current()`: `a` is entered
            // here, and `inner` opened inside it since, so `c` nests under `inner`.
            let c = info_span!(parent: tracing::Span::current(), "c");
            // `b` is not entered: `d` nests under it, as `tracing` says.
            let d = info_span!(parent: &b, "d");
            drop((c, d));
        }
        assert_eq!(
            rec.take_trees(),
            "\
trace t
├── other a
│   └── tool inner
│       └── other c
└── other b
    └── other d
"
        );
    });
}

#[span(kind = "agent")]
async fn research(topic: &'static str) -> usize {
    // A tracing span inside an async `#[span]`, polled on a worker.
    let chat = rig_chat_span("openai", "gpt-4o", None);
    async {
        tokio::task::yield_now().await;
        summarize(topic).await
    }
    .instrument(chat)
    .await
}

#[span(kind = "tool")]
async fn summarize(topic: &'static str) -> usize {
    tokio::task::yield_now().await;
    topic.len()
}

#[trace(name = "agent")]
async fn agent_run() -> usize {
    // `tracing` spans around spawned work: `.instrument` enters them on each poll.
    let a = tokio::spawn(
        async {
            tokio::task::yield_now().await;
            research("a").await
        }
        .instrument(info_span!("task", n = 1u64)),
    );
    let b = tokio::spawn(research("bb").instrument(info_span!("task", n = 2u64)));
    a.await.unwrap() + b.await.unwrap()
}

#[test]
fn async_spans_nest_across_a_multi_thread_runtime() {
    global_bridge();
    let rec = Recorder::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(agent_run()), 3);
    drop(rt);
    let traces = rec.take();
    assert_eq!(traces.len(), 1, "{}", rec.take_trees());
    // `research("bb")` is called (and takes its parent) before the `task` span it is
    // `.instrument`ed with exists, as an `#[instrument]` async fn would: it nests under
    // `agent`, beside its empty `task`.
    assert_eq!(
        traces[0].tree(),
        "\
trace agent
├── other task
│   └── agent research
│       └── llm chat gpt-4o  gpt-4o
│           └── tool summarize
├── agent research
│   └── llm chat gpt-4o  gpt-4o
│       └── tool summarize
└── other task
"
    );
    let spans = &traces[0].ingest().spans;
    assert!(spans.iter().all(|s| s.trace_id == spans[0].trace_id));
}

// ---- events, filters, content ------------------------------------------------------------------

#[test]
fn events_below_the_event_level_are_left_out() {
    with_bridge(
        modelmetry::tracing::layer().event_level(tracing_subscriber::filter::LevelFilter::WARN),
        || {
            let rec = Recorder::install();
            {
                let span = rig_chat_span("openai", "gpt-4o", None);
                let _e = span.enter();
                tracing::info!("not kept");
                tracing::warn!(code = 429u64, "rate limited");
            }
            assert_tree_eq(
                &rec.take_trees(),
                "\
trace chat gpt-4o
└── llm chat gpt-4o  gpt-4o
    └── event rate limited {\"code\":429,\"level\":\"WARN\",\"target\":\"tracing_bridge\"}
",
            );
        },
    );
}

#[test]
fn plain_spans_outside_a_trace_and_skipped_targets_are_not_bridged() {
    with_bridge(modelmetry::tracing::layer().skip_target("rig"), || {
        let rec = Recorder::install();
        {
            let _plain = info_span!("http.request").entered();
            let _rig = rig_chat_span("openai", "gpt-4o", None).entered();
        }
        assert_eq!(rec.take_trees(), "");
        // The same spans with the default filter: the GenAI one is bridged (a trace of its
        // own), the plain one outside any trace is not.
    });
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let _plain = info_span!("http.request").entered();
            let _rig = rig_chat_span("openai", "gpt-4o", None).entered();
        }
        assert_eq!(
            rec.take_trees(),
            "trace chat gpt-4o\n└── llm chat gpt-4o  gpt-4o\n"
        );
    });
}

#[test]
fn gen_ai_only_leaves_plain_spans_inside_a_trace_out_and_keeps_the_tree() {
    with_bridge(modelmetry::tracing::layer().gen_ai_only(true), || {
        let rec = Recorder::install();
        {
            let _t = modelmetry::start_trace("t");
            let plain = info_span!("middleware");
            let _p = plain.enter();
            let _rig = rig_chat_span("openai", "gpt-4o", None).entered();
        }
        assert_eq!(rec.take_trees(), "trace t\n└── llm chat gpt-4o  gpt-4o\n");
    });
}

#[test]
fn content_follows_the_content_switch_and_the_redaction_hook() {
    let messages =
        r#"[{"role":"user","parts":[{"type":"text","content":"my card is SECRET-CARD"}]}]"#;
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install_with(Config::default().capture_content(false));
        {
            let span = rig_chat_span("openai", "gpt-4o", None);
            span.record("gen_ai.input.messages", messages);
            let tool = rig_tool_span();
            tool.record("gen_ai.tool.call.arguments", "SECRET-CARD");
        }
        let traces = rec.take();
        let json = traces.iter().flat_map(|t| t.records()).collect::<String>();
        assert!(
            !json.contains("SECRET-CARD"),
            "content kept with capture off: {json}"
        );
    });
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install_with(Config::default().redact(|_, value| {
            modelmetry::redact_strings(value, |s| {
                if s.contains("SECRET-CARD") {
                    *s = "[card]".to_owned();
                }
            });
        }));
        {
            let span = rig_chat_span("openai", "gpt-4o", None);
            span.record("gen_ai.input.messages", messages);
        }
        let traces = rec.take();
        let c = completion(&traces[0].ingest().spans[0]).clone();
        assert_eq!(c.messages, vec![Message::user("[card]")]);
    });
}

#[test]
fn an_event_with_an_explicit_parent_lands_on_it_from_another_thread() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = rig_chat_span("openai", "gpt-4o", None);
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            std::thread::scope(|s| {
                s.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        tracing::info!(parent: &span, "from a worker");
                    })
                });
            });
        }
        assert_tree_eq(
            &rec.take_trees(),
            "\
trace chat gpt-4o
└── llm chat gpt-4o  gpt-4o
    └── event from a worker {\"level\":\"INFO\",\"target\":\"tracing_bridge\"}
",
        );
    });
}

#[test]
fn a_span_entered_on_two_threads_at_once_parents_the_work_of_both() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = rig_agent_span("fan-out", None);
            let _here = span.enter(); // lent to this thread's stack
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            std::thread::scope(|s| {
                s.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        // Entered on a second thread while entered here.
                        span.in_scope(|| info_span!("worker").in_scope(|| ()));
                    })
                });
            });
            let _s = modelmetry::start_span("local", modelmetry::Kind::Tool);
        }
        assert_eq!(
            rec.take_trees(),
            "\
trace invoke_agent fan-out
└── agent invoke_agent fan-out
    ├── other worker
    └── tool local
"
        );
    });
}

#[test]
fn the_conversation_id_is_the_traces_session() {
    with_bridge(modelmetry::tracing::layer(), || {
        let rec = Recorder::install();
        {
            let span = rig_chat_span("openai", "gpt-4o", None);
            let _e = span.enter();
            // Any field the conventions name, recorded on a span of the trace.
            let inner = info_span!("turn", gen_ai.conversation.id = "conversation-42");
            drop(inner);
        }
        let traces = rec.take();
        assert_eq!(
            traces[0].ingest().traces[0].session_id.as_deref(),
            Some("conversation-42")
        );
    });
}

#[test]
fn a_span_opened_in_the_redaction_hook_is_not_recorded_even_under_a_bridged_parent() {
    use std::sync::{Arc, Mutex};
    with_bridge(modelmetry::tracing::layer(), || {
        let parent: Arc<Mutex<Option<tracing::Span>>> = Arc::default();
        let in_hook = parent.clone();
        let rec = Recorder::install_with(Config::default().redact(move |_, _| {
            if let Some(p) = in_hook.lock().unwrap().as_ref() {
                drop(info_span!(parent: p, "in the hook"));
            }
        }));
        let a = rig_chat_span("openai", "gpt-4o", None);
        *parent.lock().unwrap() = Some(a.clone());
        let other = modelmetry::start_trace("other");
        other.set_input(&"x");
        drop(other); // exported now: the hook runs on its input
        parent.lock().unwrap().take();
        drop(a);
        assert_eq!(
            rec.take_trees(),
            "trace other\ntrace chat gpt-4o\n└── llm chat gpt-4o  gpt-4o\n"
        );
    });
}

/// Counts the spans it sees open and close: another layer of the same registry.
#[derive(Default, Clone)]
struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counting {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn on_close(&self, _: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1000, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn other_layers_of_the_registry_see_every_span_as_before() {
    let counting = Counting::default();
    let subscriber = tracing_subscriber::registry()
        .with(counting.clone())
        .with(modelmetry::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let rec = Recorder::install();
        let _t = modelmetry::start_trace("t");
        let _a = rig_chat_span("openai", "gpt-4o", None).entered();
        drop(info_span!("plain").entered());
        drop(rec);
    });
    // Two spans opened, two closed: the bridge neither hides nor adds any.
    assert_eq!(counting.0.load(std::sync::atomic::Ordering::Relaxed), 2002);
}

#[test]
fn without_a_client_or_recorder_nothing_is_recorded_and_spans_still_work() {
    // No client in the process meanwhile: the tests that start one hold this lock.
    let _no_client = modelmetry::testing::lock();
    with_bridge(modelmetry::tracing::layer(), || {
        let span = rig_chat_span("openai", "gpt-4o", None);
        span.record("gen_ai.usage.input_tokens", 1u64);
        let _e = span.enter();
        tracing::info!("hello");
        assert!(modelmetry::Context::current().is_empty());
    });
}

/// Two Modelmetry layers in one subscriber (a library's and the application's, say): the
/// outermost one bridges, the other stands aside. Before, the second one's `on_new_span`
/// panicked in the user's `span!` (the span's extensions already held the first one's state),
/// and each event would have been recorded twice.
#[test]
fn a_second_modelmetry_layer_in_the_same_subscriber_stands_aside() {
    use tracing_subscriber::Layer as _;
    fn check(dispatch: tracing::Dispatch) {
        tracing::dispatcher::with_default(&dispatch, || {
            let rec = Recorder::install();
            {
                let _t = modelmetry::start_trace("turn");
                let span = rig_chat_span("openai", "gpt-4o", None);
                rig_record_response(&span, 10, 2, 0, 0);
                let _e = span.enter();
                tracing::info!(order = "A-1", "looked up");
            }
            let traces = rec.take();
            assert_eq!(traces.len(), 1);
            // One span, and one event line whose fields parse as one object (the key order
            // follows serde_json's `preserve_order`, which the workspace's build turns on).
            let tree = traces[0].tree();
            let (spans, fields) = tree
                .split_once("    └── event looked up ")
                .unwrap_or_else(|| panic!("the event is recorded: {tree}"));
            assert_eq!(
                spans,
                "trace turn  cost 0.000045 USD\n└── llm chat gpt-4o  gpt-4o  tokens 10→2  cost 0.000045 USD\n"
            );
            let fields: serde_json::Value = serde_json::from_str(fields.trim_end())
                .unwrap_or_else(|e| panic!("one event, recorded once ({e}): {tree}"));
            assert_eq!(
                fields,
                json!({"level": "INFO", "order": "A-1", "target": "tracing_bridge"})
            );
        });
    }
    // Stacked, ...
    check(tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(modelmetry::tracing::layer())
            .with(modelmetry::tracing::layer()),
    ));
    // ... composed into one layer first, ...
    check(tracing::Dispatch::new(tracing_subscriber::registry().with(
        modelmetry::tracing::layer().and_then(modelmetry::tracing::layer()),
    )));
    // ... and behind a per-layer filter.
    check(tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(
                modelmetry::tracing::layer()
                    .with_filter(tracing::level_filters::LevelFilter::TRACE),
            )
            .with(modelmetry::tracing::layer()),
    ));
}

/// A `tracing` span that opened a trace and is still open when the client shuts down (a leaked
/// span, or a task still running) is exported as it stands, as a stream is: its trace goes
/// with every span under it that has closed, and the span is marked `unfinished`, closed by
/// shutdown. Before, the trace waited for a close that never came, and was lost uncounted.
#[test]
fn a_bridged_span_still_open_at_shutdown_is_delivered_as_it_stands() {
    use modelmetry_tests::Harness;

    let subscriber = tracing_subscriber::registry().with(modelmetry::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        let h = Harness::start();
        let guard = h.init();
        let span = rig_chat_span("openai", "gpt-4o", None);
        rig_record_response(&span, 10, 2, 0, 0);
        {
            let _e = span.enter();
            let _tool = info_span!("lookup").entered();
        }
        std::mem::forget(span); // never closed
        // One entered across the shutdown: it closes by itself afterwards, counted.
        let late = info_span!("late", gen_ai.operation.name = "chat");
        let entered = late.enter();
        drop(guard); // shutdown
        drop(entered);
        drop(late);

        let bodies = h.server.accepted_bodies();
        let traces: Vec<_> = bodies.iter().flat_map(|b| &b.traces).collect();
        let spans: Vec<_> = bodies.iter().flat_map(|b| &b.spans).collect();
        assert_eq!(traces.len(), 1, "{traces:#?}");
        assert_eq!(traces[0].name.as_deref(), Some("chat gpt-4o"));
        let chat = spans
            .iter()
            .find(|s| s.name == "chat gpt-4o")
            .unwrap_or_else(|| panic!("the open span is delivered: {spans:#?}"));
        assert_eq!(chat.metadata["unfinished"], json!(true));
        assert_eq!(chat.metadata["closed_by"], json!("shutdown"));
        assert_eq!(completion(chat).usage, Some(Usage::tokens(10, 2)));
        let tool = spans.iter().find(|s| s.name == "lookup").expect("lookup");
        assert_eq!(tool.parent_id.as_ref(), Some(&chat.xid));
        let d = h.delta();
        // The trace, chat and lookup delivered; `late`'s trace and span, produced after the
        // shutdown, counted as dropped by it.
        assert_eq!((d.sent, d.shutdown, d.unaccounted()), (3, 2, 0), "{d:?}");
    });
}
