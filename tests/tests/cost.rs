//! Usage token buckets (cache reads, cache writes, reasoning) and the service tier, as they
//! reach the ingest bytes and the OTLP attributes.

use std::time::Duration;

use modelmetry::{Config, ExporterKind, OtlpConfig, Usage, llm, span};
use modelmetry_tests::{Harness, Server};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message as _;
use serde_json::json;

/// An Anthropic call with cached reads and 5-minute and 1-hour cache writes, its input counted
/// as the SDK's rule says (Anthropic's `input_tokens` + cache reads + cache creation).
#[span(kind = "llm", model = "claude-sonnet-4-5", provider = "anthropic")]
fn cached_call() {
    let (input, read, created, one_hour, output) = (50, 1000, 2000, 1500, 80);
    llm::set_usage(
        Usage::tokens(input + read + created, output)
            .cache_read(read)
            .cache_write(created - one_hour)
            .cache_write_1h(one_hour)
            .reasoning(30),
    );
    llm::set_service_tier("priority");
}

#[test]
fn usage_buckets_and_the_service_tier_reach_the_ingest_bytes() {
    let h = Harness::start();
    let guard = h.init();
    {
        let _t = modelmetry::start_trace("buckets");
        cached_call();
    }
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    let requests = h.server.requests();
    let body = requests
        .iter()
        .map(|r| r.json())
        .find(|b| b["Spans"].as_array().is_some_and(|s| !s.is_empty()))
        .expect("a request with the span");
    let span = &body["Spans"][0];
    assert_eq!(
        span["FamilyData"]["Usage"],
        json!({"Input": {"Amount": 3050.0, "Unit": "tokens"},
               "Output": {"Amount": 80.0, "Unit": "tokens"},
               "Total": {"Amount": 3130.0, "Unit": "tokens"}}),
        "the spec's Usage keeps its three fields: {span}"
    );
    let meta = &span["Metadata"];
    assert_eq!(meta["usage.cache_read_tokens"], json!(1000), "{meta}");
    assert_eq!(meta["usage.cache_write_tokens"], json!(500), "{meta}");
    assert_eq!(meta["usage.cache_write_1h_tokens"], json!(1500), "{meta}");
    assert_eq!(meta["usage.reasoning_tokens"], json!(30), "{meta}");
    assert_eq!(meta["service_tier"], json!("priority"), "{meta}");
    // The body still reads as the spec's model.
    for r in &requests {
        let _ = r.ingest();
    }
}

fn attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone()?.value)
}

#[span(kind = "llm", model = "o3", provider = "openai")]
fn openai_call() {
    llm::set_usage(Usage::tokens(1200, 300).cache_read(1024).reasoning(200));
    llm::set_service_tier("flex");
}

#[test]
fn usage_buckets_and_the_service_tier_reach_the_otlp_attributes() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let config = Config::default()
        .flush_interval(Duration::from_secs(3600))
        .exporter(ExporterKind::Otlp)
        .otlp(OtlpConfig::default().endpoint(format!("{}/v1/traces", server.base_url())));
    let guard = config.init().expect("init");
    {
        let _t = modelmetry::start_trace("otlp.buckets");
        cached_call();
        openai_call();
    }
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    let requests = server.requests();
    let req = ExportTraceServiceRequest::decode(&requests[0].body[..]).expect("protobuf");
    let spans: Vec<_> = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let anthropic = spans
        .iter()
        .find(|s| s.name.contains("claude"))
        .expect("the Anthropic span");
    let int = |n: i64| Some(Any::IntValue(n));
    assert_eq!(attr(anthropic, "gen_ai.usage.input_tokens"), int(3050));
    assert_eq!(attr(anthropic, "gen_ai.usage.output_tokens"), int(80));
    assert_eq!(
        attr(anthropic, "gen_ai.usage.cache_read.input_tokens"),
        int(1000)
    );
    // 5-minute and 1-hour writes together, the 1-hour part on its own as well.
    assert_eq!(
        attr(anthropic, "gen_ai.usage.cache_creation.input_tokens"),
        int(2000)
    );
    assert_eq!(
        attr(anthropic, "modelmetry.usage.cache_creation_1h.input_tokens"),
        int(1500)
    );
    assert_eq!(
        attr(anthropic, "gen_ai.usage.reasoning.output_tokens"),
        int(30)
    );
    assert_eq!(
        attr(anthropic, "modelmetry.service_tier"),
        Some(Any::StringValue("priority".into()))
    );
    assert_eq!(attr(anthropic, "openai.response.service_tier"), None);

    let openai = spans
        .iter()
        .find(|s| s.name.contains("o3"))
        .expect("the OpenAI span");
    assert_eq!(
        attr(openai, "gen_ai.usage.cache_read.input_tokens"),
        int(1024)
    );
    assert_eq!(
        attr(openai, "gen_ai.usage.cache_creation.input_tokens"),
        None
    );
    assert_eq!(
        attr(openai, "gen_ai.usage.reasoning.output_tokens"),
        int(200)
    );
    assert_eq!(
        attr(openai, "openai.response.service_tier"),
        Some(Any::StringValue("flex".into()))
    );
}

#[test]
fn huge_counts_neither_panic_nor_wrap() {
    let u = Usage::tokens(u64::MAX, u64::MAX).cache_read(u64::MAX);
    assert_eq!(u.total.as_ref().map(|t| t.amount), Some(u64::MAX as f64));
    assert_eq!(u.cache_read_tokens(), Some(u64::MAX));
    let nan = Usage::new().input(modelmetry::UsageValue::new(f64::NAN, "tokens"));
    assert_eq!(nan.input_tokens(), None);
}
