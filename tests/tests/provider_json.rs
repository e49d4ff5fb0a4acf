//! `llm::record_openai_*`, `llm::record_anthropic_*` and `llm::StreamAccumulator`, used as an
//! application with its own HTTP client uses them: a real request to a loopback server that
//! answers with the providers' documented shapes, the bodies handed over as they are, and the
//! span that results read back field by field from the ingest body.

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{CompletionFamilyData, CreateSpanParams, FamilyData};
use modelmetry::{Kind, Message, Traced, llm};
use modelmetry_tests::Server;
use modelmetry_tests::shapes::{self, error_reply, json_reply, sse, sse_reply, sse_typed};
use serde_json::{Value, json};

use genai_prices::{PriceRequest, UsageKey};

/// The span's cost, checked against genai-prices' own answer for this usage: the buckets the
/// JSON gave are the ones priced.
fn assert_priced(
    c: &CompletionFamilyData,
    model: &str,
    provider: &str,
    usage: &[(UsageKey, f64)],
    tier: Option<&str>,
) {
    let u: genai_prices::Usage = usage.iter().cloned().collect();
    let mut r = PriceRequest::new(model, &u)
        .with_provider_id(provider)
        .with_timestamp(std::time::SystemTime::now());
    if let Some(t) = tier {
        r = r.with_price_context("service_tier", t);
    }
    let e = genai_prices::calculate(&r).expect("genai-prices prices it");
    let cost = c.cost.as_ref().expect("a computed cost");
    let total = cost.total.as_ref().unwrap();
    assert_eq!(total.currency, "USD");
    assert!(e.total_price > 0.0);
    assert!(
        (total.amount - e.total_price).abs() <= 1e-12,
        "{cost:?} vs {e:?}"
    );
}

/// POST `body` to the loopback server the way an application's own client would; the status
/// and the body's text.
fn post(server: &Server, path: &str, body: &Value) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(&format!("{}{path}", server.base_url()))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .expect("loopback request");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("body");
    (status, text)
}

/// The `data:` payloads of an event stream, in order.
fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.trim().to_owned())
        .collect()
}

fn llm_span<'a>(
    t: &'a RecordedTrace,
    name: &str,
) -> (&'a CreateSpanParams, &'a CompletionFamilyData) {
    let span = t
        .ingest()
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}: {}", t.tree()));
    let Some(FamilyData::Completion(c)) = &span.family_data else {
        panic!("completion data expected: {:?}", span.family_data);
    };
    (span, c)
}

fn tokens(c: &CompletionFamilyData) -> (f64, f64, f64) {
    let u = c.usage.as_ref().expect("usage");
    (
        u.input.as_ref().unwrap().amount,
        u.output.as_ref().unwrap().amount,
        u.total.as_ref().unwrap().amount,
    )
}

fn chat_request() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 300,
        "seed": 7,
        "stop": ["\n\n"],
        "service_tier": "auto",
        "response_format": {"type": "json_object"},
        "tool_choice": "auto",
        "tools": [{"type": "function", "function": {
            "name": "GetOrderInformation", "description": "Look an order up",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                           "required": ["order_id"]}}}],
        "messages": [
            {"role": "developer", "content": "You are a support agent."},
            {"role": "user", "content": [
                {"type": "text", "text": "Where is my order?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/receipt.png"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
                "function": {"name": "GetOrderInformation", "arguments": "{\"order_id\":\"A-1\"}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "{\"status\":\"lost\"}"},
            {"role": "user", "content": "And order A-1042?"}
        ]
    })
}

#[test]
fn a_chat_completion_with_a_tool_call_fills_the_span_field_by_field() {
    let server = Server::start();
    server.script([json_reply(&shapes::chat_tool_call())]);
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("chat gpt-4o-mini", Kind::Llm);
        let request = chat_request();
        llm::record_openai_request(&request);
        let (status, body) = post(&server, "/v1/chat/completions", &request);
        assert_eq!(status, 200);
        llm::record_openai_response(&serde_json::from_str(&body).unwrap());
    }
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0], "chat gpt-4o-mini");
    assert_eq!(server.requests()[0].json()["model"], "gpt-4o-mini");

    let o = c.options.as_ref().unwrap();
    assert_eq!(o.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(o.provider.as_deref(), Some("openai"));
    assert_eq!(o.temperature, Some(0.2));
    assert_eq!(o.top_p, Some(0.9));
    assert_eq!(o.max_tokens, Some(300));
    assert_eq!(o.seed, Some(7));
    assert_eq!(o.stop.as_ref().unwrap()["sequences"], json!(["\n\n"]));
    assert_eq!(o.tool_choice.as_deref(), Some("auto"));
    assert_eq!(o.response_format.as_ref().unwrap()["type"], "json_object");
    let tools = o.tools.as_ref().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "GetOrderInformation");
    assert_eq!(tools[0].description, "Look an order up");
    assert_eq!(tools[0].parameters["required"], json!(["order_id"]));

    // Every role, in order, then the output message.
    let roles: Vec<&str> = c.messages.iter().map(Message::role).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "user", "assistant"]
    );
    let Message::User(user) = &c.messages[1] else {
        panic!()
    };
    assert_eq!(user.contents.len(), 3);
    assert_eq!(
        c.messages[1].text(),
        "Where is my order?\n[image: https://example.com/receipt.png]"
    );
    let image = serde_json::to_value(&user.contents[1]).unwrap();
    assert_eq!(
        image,
        json!({"MimeType": "image/png", "Data": "iVBORw0KGgo=", "Detail": "low"})
    );
    let Message::Assistant(asked) = &c.messages[2] else {
        panic!()
    };
    let call = &asked.tool_calls.as_ref().unwrap()[0];
    assert_eq!(
        (call.id.as_str(), call.function.name.as_str()),
        ("call_0", "GetOrderInformation")
    );
    assert_eq!(call.function.arguments, json!({"order_id": "A-1"}));
    let Message::Tool(result) = &c.messages[3] else {
        panic!()
    };
    assert_eq!(result.tool_call_id, "call_0");
    assert_eq!(c.messages[3].text(), "{\"status\":\"lost\"}");
    let Message::Assistant(out) = &c.messages[5] else {
        panic!()
    };
    assert!(out.contents.is_empty());
    let call = &out.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
    assert_eq!(call.function.arguments, json!({"order_id": "A-1042"}));

    // Usage: OpenAI's prompt tokens include the cached ones; the buckets in metadata.
    assert_eq!(tokens(c), (2006.0, 300.0, 2306.0));
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 1920);
    assert_eq!(m["usage.reasoning_tokens"], 256);
    assert_eq!(m["response_id"], "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
    assert_eq!(m["response_model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(m["finish_reasons"], json!(["tool_calls"]));
    // Requested `auto`, served by `default`.
    assert_eq!(m["service_tier"], "default");
    assert_eq!(m["service_tier_requested"], "auto");
    assert!(m.get("provider_json_unmapped").is_none(), "{m:?}");
    assert_eq!(span.severity, None);
    // Priced from the JSON's buckets, at the tier that served it.
    assert_priced(
        c,
        "gpt-4o-mini",
        "openai",
        &[
            (UsageKey::INPUT_TOKENS, 2006.0),
            (UsageKey::OUTPUT_TOKENS, 300.0),
            (UsageKey::CACHE_READ_TOKENS, 1920.0),
        ],
        Some("default"),
    );
    assert_eq!(m["modelmetry.cost.source"], "genai-prices 0.2.1");
}

#[test]
fn an_openai_error_answer_marks_the_span_with_the_provider_s_error_body() {
    let server = Server::start();
    server.script([error_reply(401, &shapes::openai_401())]);
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("chat gpt-4o-mini", Kind::Llm);
        let request =
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
        llm::record_openai_request(&request);
        let (status, body) = post(&server, "/v1/chat/completions", &request);
        llm::record_provider_error(Some(status), &serde_json::from_str(&body).unwrap());
    }
    let traces = rec.take();
    let (span, _) = llm_span(&traces[0], "chat gpt-4o-mini");
    assert_eq!(span.severity, Some(modelmetry::Severity::Error));
    assert_eq!(
        span.message.as_deref(),
        Some(
            "401 invalid_request_error: Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys. (code: invalid_api_key)"
        )
    );
    let e = &span.metadata["provider_error"];
    assert_eq!(e["status"], 401);
    assert_eq!(e["type"], "invalid_request_error");
    assert_eq!(e["code"], "invalid_api_key");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect API key")
    );
}

/// Read an event stream from the server, chunk by chunk through a traced stream whose fold is
/// the accumulator (as `#[span(stream, fold = ...)]` does), stopping after `take` chunks.
fn stream_through_accumulator(
    server: &Server,
    path: &str,
    request: &Value,
    take: usize,
    anthropic: bool,
) -> Vec<RecordedTrace> {
    let rec = Recorder::install();
    {
        let mut span = modelmetry::StreamSpan::open("stream", Kind::Llm);
        let data = span.in_scope(|| {
            if anthropic {
                llm::record_anthropic_request(request);
            } else {
                llm::record_openai_request(request);
            }
            let (status, body) = post(server, path, request);
            assert_eq!(status, 200);
            sse_data(&body)
        });
        let stream = span.wrap(data.into_iter(), llm::StreamAccumulator::new());
        let seen = stream.take(take).count();
        assert!(seen > 0);
    }
    rec.take()
}

#[test]
fn a_streamed_chat_answer_joins_its_deltas_and_takes_usage_from_the_last_chunk() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(
        &["It ", "ships ", "tomorrow."],
        true,
    )))]);
    let request = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
                         "messages": [{"role": "user", "content": "Where is my order?"}]});
    let traces =
        stream_through_accumulator(&server, "/v1/chat/completions", &request, usize::MAX, false);
    let (span, c) = llm_span(&traces[0], "stream");
    assert_eq!(c.options.as_ref().unwrap().stream, Some(true));
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.messages[1].role(), "assistant");
    assert_eq!(c.messages[1].text(), "It ships tomorrow.");
    assert_eq!(tokens(c), (164.0, 27.0, 191.0));
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 128);
    assert!(
        m.get("usage.reasoning_tokens").is_none(),
        "zero buckets are left out"
    );
    assert_eq!(m["finish_reasons"], json!(["stop"]));
    assert_eq!(m["response_id"], "chatcmpl-B9MFtBSp3a4JYGgd3pNuSm2fAcgHu");
    assert_eq!(m["output"], "It ships tomorrow.");
    assert!(m["ttft_ms"].as_f64().is_some(), "{m:?}");
    assert_eq!(m["items"], 7); // role, three deltas, finish, usage, and `[DONE]` (skipped)
    assert!(traces[0].tree().contains("event first_token"));
}

#[test]
fn a_streamed_chat_answer_without_usage_records_none() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_text(
        &["Hi", "!"],
        false,
    )))]);
    let request = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let traces =
        stream_through_accumulator(&server, "/v1/chat/completions", &request, usize::MAX, false);
    let (span, c) = llm_span(&traces[0], "stream");
    assert!(c.usage.is_none());
    assert_eq!(c.messages[1].text(), "Hi!");
    assert_eq!(span.metadata["finish_reasons"], json!(["stop"]));
}

#[test]
fn tool_call_arguments_split_across_chunks_are_assembled_by_index() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_tool_calls()))]);
    let request = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "A-1042?"}]});
    let traces =
        stream_through_accumulator(&server, "/v1/chat/completions", &request, usize::MAX, false);
    let (span, c) = llm_span(&traces[0], "stream");
    let Message::Assistant(a) = &c.messages[1] else {
        panic!("{:?}", c.messages)
    };
    let calls = a.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].function.name.as_str()),
        ("call_A", "GetOrderInformation")
    );
    assert_eq!(calls[0].function.arguments, json!({"order_id": "A-1042"}));
    assert_eq!(
        (calls[1].id.as_str(), calls[1].function.name.as_str()),
        ("call_B", "GetShippingStatus")
    );
    assert_eq!(calls[1].function.arguments, json!({"carrier": "DHL"}));
    assert_eq!(span.metadata["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(tokens(c), (80.0, 40.0, 120.0));
}

#[test]
fn a_stream_dropped_early_keeps_what_had_arrived_and_is_cancelled() {
    let server = Server::start();
    server.script([sse_reply(&sse(&shapes::chat_stream_tool_calls()))]);
    let request = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "A-1042?"}]});
    // The role, the first call's start, and two of its argument fragments.
    let traces = stream_through_accumulator(&server, "/v1/chat/completions", &request, 5, false);
    let (span, c) = llm_span(&traces[0], "stream");
    assert_eq!(span.metadata["cancelled"], true);
    assert_eq!(span.metadata["items"], 5);
    assert!(span.metadata["ttft_ms"].as_f64().is_some());
    assert!(c.usage.is_none());
    assert!(span.metadata.get("finish_reasons").is_none());
    let Message::Assistant(a) = &c.messages[1] else {
        panic!("{:?}", c.messages)
    };
    let calls = a.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    // Arguments cut short are kept as the text received.
    assert_eq!(calls[0].function.arguments, json!("{\"order_id\": \"A-"));
    assert_eq!(calls[1].function.arguments, json!({}));
}

#[test]
fn a_responses_api_call_fills_the_span() {
    let server = Server::start();
    server.script([json_reply(&shapes::responses_function_call())]);
    let request = json!({
        "model": "o4-mini",
        "instructions": "You are a weather bot.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Boston?"}]},
            {"type": "function_call", "call_id": "call_0", "name": "get_current_weather", "arguments": "{\"location\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_0", "output": "{\"temp\":18}"}
        ],
        "max_output_tokens": 500,
        "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_schema", "name": "weather", "schema": {"type": "object"}}},
        "tools": [{"type": "function", "name": "get_current_weather", "description": "Weather by city",
                   "parameters": {"type": "object"}}, {"type": "web_search"}],
        "tool_choice": {"type": "function", "name": "get_current_weather"}
    });
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("responses o4-mini", Kind::Llm);
        llm::record_openai_request(&request);
        let (_, body) = post(&server, "/v1/responses", &request);
        llm::record_openai_response(&serde_json::from_str(&body).unwrap());
    }
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0], "responses o4-mini");
    let o = c.options.as_ref().unwrap();
    assert_eq!(o.max_tokens, Some(500));
    assert_eq!(o.response_format.as_ref().unwrap()["name"], "weather");
    assert_eq!(o.tool_choice.as_deref(), Some("get_current_weather"));
    let names: Vec<&str> = o
        .tools
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["get_current_weather", "web_search"]);
    let roles: Vec<&str> = c.messages.iter().map(Message::role).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant"]);
    assert_eq!(c.messages[0].text(), "You are a weather bot.");
    let Message::Assistant(out) = &c.messages[4] else {
        panic!()
    };
    let call = &out.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "call_unLAR8MvFNptuiZK6K6HCy5k");
    assert_eq!(
        call.function.arguments,
        json!({"location": "Boston, MA", "unit": "celsius"})
    );
    assert_eq!(tokens(c), (291.0, 23.0, 314.0));
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 256);
    assert_eq!(m["usage.reasoning_tokens"], 64);
    assert_eq!(m["finish_reasons"], json!(["tool_calls"]));
    assert_eq!(m["reasoning_effort"], "low");
    assert_eq!(
        m["response_id"],
        "resp_67ca09c5efe0819096d0511c92b8c890096610f474011cc0"
    );
}

#[test]
fn a_streamed_responses_api_answer_is_assembled_from_its_events() {
    let server = Server::start();
    server.script([sse_reply(&sse_typed(&shapes::responses_stream(&[
        "Hello", " there", "!",
    ])))]);
    let request = json!({"model": "gpt-4.1", "input": "Say hello", "stream": true});
    let traces = stream_through_accumulator(&server, "/v1/responses", &request, usize::MAX, false);
    let (span, c) = llm_span(&traces[0], "stream");
    assert_eq!(c.messages[0].text(), "Say hello");
    assert_eq!(c.messages[1].text(), "Hello there!");
    assert_eq!(tokens(c), (37.0, 11.0, 48.0));
    assert_eq!(span.metadata["finish_reasons"], json!(["stop"]));
    assert_eq!(span.metadata["output"], "Hello there!");
}

fn anthropic_request() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "temperature": 0.5,
        "top_k": 40,
        "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "You are a support agent.", "cache_control": {"type": "ephemeral"}}],
        "metadata": {"user_id": "customer-7"},
        "tools": [{"name": "GetOrderInformation", "description": "Look an order up",
                   "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}}}],
        "tool_choice": {"type": "auto"},
        "messages": [
            {"role": "user", "content": "Where is order A-1?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Look it up.", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_0", "name": "GetOrderInformation", "input": {"order_id": "A-1"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_0", "content": "lost"},
                {"type": "text", "text": "And A-1042?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}]}
        ]
    })
}

#[test]
fn an_anthropic_message_fills_the_span_with_cache_counts_added_to_input() {
    let server = Server::start();
    server.script([json_reply(&shapes::anthropic_tool_use())]);
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("chat claude-sonnet-4-5", Kind::Llm);
        let request = anthropic_request();
        llm::record_anthropic_request(&request);
        let (_, body) = post(&server, "/v1/messages", &request);
        llm::record_anthropic_response(&serde_json::from_str(&body).unwrap());
    }
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0], "chat claude-sonnet-4-5");
    let o = c.options.as_ref().unwrap();
    assert_eq!(o.provider.as_deref(), Some("anthropic"));
    assert_eq!(o.model.as_deref(), Some("claude-sonnet-4-5"));
    assert_eq!((o.max_tokens, o.temperature), (Some(1024), Some(0.5)));
    assert_eq!(o.user.as_deref(), Some("customer-7"));
    assert_eq!(o.tool_choice.as_deref(), Some("auto"));
    assert_eq!(o.tools.as_ref().unwrap()[0].parameters["type"], "object");
    assert_eq!(o.stop.as_ref().unwrap()["sequences"], json!(["END"]));
    let roles: Vec<&str> = c.messages.iter().map(Message::role).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "user", "assistant"]
    );
    assert_eq!(c.messages[3].text(), "lost");
    let Message::User(u) = &c.messages[4] else {
        panic!()
    };
    assert_eq!(
        serde_json::to_value(&u.contents[1]).unwrap(),
        json!({"MimeType": "image/jpeg", "Data": "/9j/4AAQ"})
    );
    let Message::Assistant(out) = &c.messages[5] else {
        panic!()
    };
    assert_eq!(c.messages[5].text(), "I'll look that order up.");
    assert_eq!(
        out.tool_calls.as_ref().unwrap()[0].function.arguments,
        json!({"order_id": "A-1042"})
    );
    // input = 12 + 1800 read + 200 written.
    assert_eq!(tokens(c), (2012.0, 40.0, 2052.0));
    let m = &span.metadata;
    assert_eq!(m["usage.cache_read_tokens"], 1800);
    assert_eq!(m["usage.cache_write_tokens"], 150);
    assert_eq!(m["usage.cache_write_1h_tokens"], 50);
    assert_eq!(m["finish_reasons"], json!(["tool_use"]));
    assert_eq!(m["service_tier"], "standard");
    assert_eq!(m["top_k"], 40);
    assert_priced(
        c,
        "claude-sonnet-4-5",
        "anthropic",
        &[
            (UsageKey::INPUT_TOKENS, 2012.0),
            (UsageKey::OUTPUT_TOKENS, 40.0),
            (UsageKey::CACHE_READ_TOKENS, 1800.0),
            (UsageKey::CACHE_WRITE_TOKENS, 200.0),
            (UsageKey::CACHE_WRITE_5M_TOKENS, 150.0),
            (UsageKey::CACHE_WRITE_1H_TOKENS, 50.0),
        ],
        Some("standard"),
    );
    assert_eq!(m["response_id"], "msg_01Aq9w938a90dw8q");
}

#[test]
fn a_streamed_anthropic_answer_assembles_text_and_tool_input() {
    let server = Server::start();
    server.script([sse_reply(&sse_typed(&shapes::anthropic_stream()))]);
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
                         "messages": [{"role": "user", "content": "Where is A-1042?"}]});
    let traces = stream_through_accumulator(&server, "/v1/messages", &request, usize::MAX, true);
    let (span, c) = llm_span(&traces[0], "stream");
    let Message::Assistant(a) = &c.messages[1] else {
        panic!("{:?}", c.messages)
    };
    assert_eq!(c.messages[1].text(), "Okay, let me check.");
    let call = &a.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(call.function.arguments, json!({"order_id": "A-1042"}));
    // 472 + 1024 read; output from message_delta.
    assert_eq!(tokens(c), (1496.0, 89.0, 1585.0));
    assert_eq!(span.metadata["usage.cache_read_tokens"], 1024);
    assert_eq!(span.metadata["finish_reasons"], json!(["tool_use"]));
    assert_eq!(span.metadata["response_id"], "msg_014p7gG3wDgGV9EUtLvnow3U");
}

#[test]
fn an_anthropic_error_answer_marks_the_span() {
    let server = Server::start();
    server.script([error_reply(529, &shapes::anthropic_overloaded())]);
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("chat claude", Kind::Llm);
        let (status, body) = post(&server, "/v1/messages", &json!({}));
        let body: Value = serde_json::from_str(&body).unwrap();
        llm::record_anthropic_response(&body);
        llm::record_provider_error(Some(status), &body);
    }
    let traces = rec.take();
    let (span, _) = llm_span(&traces[0], "chat claude");
    assert_eq!(
        span.message.as_deref(),
        Some("529 overloaded_error: Overloaded")
    );
    assert_eq!(span.metadata["provider_error"]["type"], "overloaded_error");
    assert_eq!(span.metadata["provider_error"]["status"], 529);
}

#[test]
fn odd_json_never_panics_and_says_what_it_skipped() {
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("odd", Kind::Llm);
        llm::record_openai_request(&json!({"model": 5, "messages": [
            {"role": "wizard", "content": "abracadabra"},
            {"role": "user", "content": [{"type": "hologram"}, {"type": "text", "text": "hi"}]},
            {"role": "assistant", "tool_calls": [{"function": {"arguments": "{not json"}}]},
            "not a message"
        ]}));
        llm::record_openai_response(&json!([1, 2, 3]));
        llm::record_anthropic_request(&Value::Null);
        llm::record_anthropic_response(
            &json!({"content": "text?", "usage": {"input_tokens": "many"}}),
        );
        let mut acc = llm::StreamAccumulator::new();
        acc.push_sse_data("data: {truncated");
        acc.push_sse_data("data: [DONE]");
        acc.push(&json!({"type": "mystery"}));
        acc.push(
            &json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": 3}}]}}]}),
        );
        acc.push(&json!(null));
        acc.record();
    }
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0], "odd");
    let roles: Vec<&str> = c.messages.iter().map(Message::role).collect();
    // The user's text without the unknown part, the call with its unreadable arguments, then
    // Anthropic's text content and the stream's call; the request that is no object
    // replaced nothing.
    assert_eq!(roles, ["user", "assistant", "assistant", "assistant"]);
    assert_eq!(c.messages[0].text(), "hi");
    assert_eq!(c.messages[2].text(), "text?");
    let Message::Assistant(a) = &c.messages[1] else {
        panic!()
    };
    assert_eq!(
        a.tool_calls.as_ref().unwrap()[0].function.arguments,
        json!("{not json")
    );
    let notes = span.metadata["provider_json_unmapped"].as_array().unwrap();
    let notes: Vec<&str> = notes.iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notes.iter().any(|n| n.contains("chunk 1: not JSON")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("\"mystery\"")), "{notes:?}");
    for expected in [
        "messages[0]: role \"wizard\"",
        "messages[1].content[0]: part of type \"hologram\"",
        "messages[3]: role missing",
        "response: not a JSON object (an array)",
        "request: not a JSON object (null)",
        "chunk 4: null",
    ] {
        assert!(notes.contains(&expected), "{expected} not in {notes:?}");
    }
}

#[test]
fn a_provider_named_by_the_span_is_kept() {
    let rec = Recorder::install();
    {
        let _span = modelmetry::start_span("vllm", Kind::Llm);
        modelmetry::current_span().set_provider("vllm");
        llm::record_openai_request(
            &json!({"model": "meta-llama/Llama-3.1-8B-Instruct", "messages": []}),
        );
    }
    let traces = rec.take();
    let (_, c) = llm_span(&traces[0], "vllm");
    assert_eq!(
        c.options.as_ref().unwrap().provider.as_deref(),
        Some("vllm")
    );
}

#[test]
fn with_content_capture_off_usage_and_finish_reasons_still_arrive() {
    let config = modelmetry::Config::from_env().capture_content(false);
    let rec = Recorder::install_with(config);
    {
        let chunks = shapes::chat_stream_text(&["secret"], true);
        let stream = Traced::new(
            chunks.into_iter(),
            "s",
            Kind::Llm,
            llm::StreamAccumulator::new(),
        );
        assert_eq!(stream.count(), 4);
    }
    let traces = rec.take();
    let (span, c) = llm_span(&traces[0], "s");
    assert!(c.messages.is_empty());
    assert_eq!(tokens(c), (164.0, 27.0, 191.0));
    assert_eq!(span.metadata["finish_reasons"], json!(["stop"]));
    assert!(span.metadata.get("output").is_none());
}

#[test]
fn an_error_event_in_an_anthropic_stream_ends_the_span_with_what_had_arrived() {
    let server = Server::start();
    let mut events = shapes::anthropic_stream();
    events.truncate(4); // message_start, the text block, a ping, one text delta
    events.push(shapes::anthropic_overloaded());
    server.script([sse_reply(&sse_typed(&events))]);
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
                         "messages": [{"role": "user", "content": "Where is A-1042?"}]});
    let traces = stream_through_accumulator(&server, "/v1/messages", &request, usize::MAX, true);
    let (span, c) = llm_span(&traces[0], "stream");
    assert_eq!(span.severity, Some(modelmetry::Severity::Error));
    assert_eq!(
        span.message.as_deref(),
        Some("overloaded_error: Overloaded")
    );
    assert_eq!(span.metadata["provider_error"]["type"], "overloaded_error");
    assert_eq!(c.messages.last().unwrap().text(), "Okay, let me ");
    assert!(span.metadata.get("cancelled").is_none());
}
