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

/// `cached_call`'s usage as genai-prices takes Anthropic's.
fn cached_call_buckets() -> Vec<(UsageKey, f64)> {
    vec![
        (UsageKey::INPUT_TOKENS, 3050.0),
        (UsageKey::OUTPUT_TOKENS, 80.0),
        (UsageKey::CACHE_READ_TOKENS, 1000.0),
        (UsageKey::CACHE_WRITE_TOKENS, 2000.0),
        (UsageKey::CACHE_WRITE_5M_TOKENS, 500.0),
        (UsageKey::CACHE_WRITE_1H_TOKENS, 1500.0),
        (UsageKey::OUTPUT_REASONING_TOKENS, 30.0),
    ]
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
    // The cost computed from those buckets travels too, as the spec's `Cost`.
    let e = expected(
        "claude-sonnet-4-5",
        "anthropic",
        &cached_call_buckets(),
        Some("priority"),
    );
    let sent = span["FamilyData"]["Cost"]["Total"]["Amount"]
        .as_f64()
        .expect("a cost");
    assert!((sent - e.total_price).abs() < 1e-12, "{sent} vs {e:?}");
    assert_eq!(meta["modelmetry.cost.source"], json!("genai-prices 0.2.1"));
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
    let e = expected(
        "claude-sonnet-4-5",
        "anthropic",
        &cached_call_buckets(),
        Some("priority"),
    );
    match attr(anthropic, "modelmetry.cost.total") {
        Some(Any::DoubleValue(v)) => assert!((v - e.total_price).abs() < 1e-12, "{v} {e:?}"),
        other => panic!("no computed cost attribute: {other:?}"),
    }

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

// ---- cost computed from usage ------------------------------------------------------------

use std::time::SystemTime;

use genai_prices::{PriceRequest, UsageKey};
use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{CreateSpanParams as Span, FamilyData};
use modelmetry::{Cost, Money};

/// genai-prices' own answer for this usage, computed directly.
fn expected(
    model: &str,
    provider: &str,
    usage: &[(UsageKey, f64)],
    tier: Option<&str>,
) -> genai_prices::PriceCalculation {
    let usage: genai_prices::Usage = usage.iter().cloned().collect();
    let mut r = PriceRequest::new(model, &usage)
        .with_provider_id(provider)
        .with_timestamp(SystemTime::now());
    if let Some(t) = tier {
        r = r.with_price_context("service_tier", t);
    }
    genai_prices::calculate(&r).expect("genai-prices prices it")
}

fn llm_spans(t: &RecordedTrace) -> Vec<&Span> {
    t.ingest().spans.iter().collect()
}

fn cost_of(s: &Span) -> Option<&Cost> {
    match &s.family_data {
        Some(FamilyData::Completion(c)) => c.cost.as_ref(),
        _ => None,
    }
}

fn amount(m: &Option<Money>) -> f64 {
    let m = m.as_ref().expect("an amount");
    assert_eq!(m.currency, "USD");
    m.amount
}

fn assert_same(c: &Cost, e: &genai_prices::PriceCalculation) {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(amount(&c.input), e.input_price), "{c:?} vs {e:?}");
    assert!(close(amount(&c.output), e.output_price), "{c:?} vs {e:?}");
    assert!(close(amount(&c.total), e.total_price), "{c:?} vs {e:?}");
    assert!(e.total_price > 0.0);
}

/// One llm span of `model` from `provider` with `usage` (and a tier), in a trace.
fn one_call(model: &str, provider: Option<&str>, usage: Usage, tier: Option<&str>) {
    let span = modelmetry::start_span("llm.call", modelmetry::Kind::Llm);
    span.set_model(model);
    if let Some(p) = provider {
        span.set_provider(p);
    }
    span.set_usage(usage);
    if let Some(t) = tier {
        llm::set_service_tier(t);
    }
}

fn record_one(
    model: &str,
    provider: Option<&str>,
    usage: Usage,
    tier: Option<&str>,
) -> RecordedTrace {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("priced");
        one_call(model, provider, usage, tier);
    }
    recorder.take().remove(0)
}

#[test]
fn gpt_4o_is_priced_as_genai_prices_prices_it() {
    let t = record_one(
        "gpt-4o",
        Some("openai"),
        Usage::tokens(1000, 200).cache_read(400),
        None,
    );
    let e = expected(
        "gpt-4o",
        "openai",
        &[
            (UsageKey::INPUT_TOKENS, 1000.0),
            (UsageKey::OUTPUT_TOKENS, 200.0),
            (UsageKey::CACHE_READ_TOKENS, 400.0),
        ],
        None,
    );
    let span = llm_spans(&t)[0];
    assert_same(cost_of(span).expect("a computed cost"), &e);
    assert_eq!(
        span.metadata["modelmetry.cost.source"],
        json!("genai-prices 0.2.1")
    );
    assert_eq!(
        span.metadata["modelmetry.cost.model"],
        json!("openai/gpt-4o")
    );
    assert!(!span.metadata.contains_key("modelmetry.cost.unpriced"));
    // Cached reads are cheaper than the same tokens uncached: the bucket was priced.
    let uncached = expected(
        "gpt-4o",
        "openai",
        &[
            (UsageKey::INPUT_TOKENS, 1000.0),
            (UsageKey::OUTPUT_TOKENS, 200.0),
        ],
        None,
    );
    assert!(e.total_price < uncached.total_price);
}

#[test]
fn a_claude_model_s_cache_writes_are_priced_by_their_lifetime() {
    // Anthropic's own numbers, converted as `Usage`'s docs say.
    let (input, read, five, hour, output) = (200u64, 3000u64, 1000u64, 4000u64, 500u64);
    let usage = Usage::tokens(input + read + five + hour, output)
        .cache_read(read)
        .cache_write(five)
        .cache_write_1h(hour);
    let t = record_one("claude-sonnet-4-5", Some("anthropic"), usage, None);
    let all = (input + read + five + hour) as f64;
    let e = expected(
        "claude-sonnet-4-5",
        "anthropic",
        &[
            (UsageKey::INPUT_TOKENS, all),
            (UsageKey::OUTPUT_TOKENS, output as f64),
            (UsageKey::CACHE_READ_TOKENS, read as f64),
            (UsageKey::CACHE_WRITE_TOKENS, (five + hour) as f64),
            (UsageKey::CACHE_WRITE_5M_TOKENS, five as f64),
            (UsageKey::CACHE_WRITE_1H_TOKENS, hour as f64),
        ],
        None,
    );
    let span = llm_spans(&t)[0];
    assert_same(cost_of(span).expect("a computed cost"), &e);
    // Had the 1-hour writes been taken for 5-minute ones, the cost would differ.
    let all_five = expected(
        "claude-sonnet-4-5",
        "anthropic",
        &[
            (UsageKey::INPUT_TOKENS, all),
            (UsageKey::OUTPUT_TOKENS, output as f64),
            (UsageKey::CACHE_READ_TOKENS, read as f64),
            (UsageKey::CACHE_WRITE_TOKENS, (five + hour) as f64),
        ],
        None,
    );
    assert!(
        e.total_price > all_five.total_price,
        "{e:?} vs {all_five:?}"
    );
}

#[test]
fn an_openai_flex_call_is_priced_at_the_flex_tier() {
    let usage = Usage::tokens(20_000, 5_000)
        .cache_read(8_000)
        .reasoning(3_000);
    let t = record_one("o3", Some("openai"), usage, Some("flex"));
    let buckets = [
        (UsageKey::INPUT_TOKENS, 20_000.0),
        (UsageKey::OUTPUT_TOKENS, 5_000.0),
        (UsageKey::CACHE_READ_TOKENS, 8_000.0),
        (UsageKey::OUTPUT_REASONING_TOKENS, 3_000.0),
    ];
    let flex = expected("o3", "openai", &buckets, Some("flex"));
    let standard = expected("o3", "openai", &buckets, None);
    assert!(
        flex.total_price < standard.total_price,
        "{flex:?} {standard:?}"
    );
    let span = llm_spans(&t)[0];
    assert_same(cost_of(span).expect("a computed cost"), &flex);
    assert_eq!(span.metadata["service_tier"], json!("flex"));
}

#[test]
fn a_cost_set_by_hand_is_kept() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("hand");
        let span = modelmetry::start_span("llm.call", modelmetry::Kind::Llm);
        span.set_model("gpt-4o");
        span.set_usage(Usage::tokens(1000, 200));
        span.set_cost(Cost::new(1.0, 2.0, "USD"));
    }
    let t = recorder.take().remove(0);
    let span = llm_spans(&t)[0];
    assert_eq!(cost_of(span), Some(&Cost::new(1.0, 2.0, "USD")));
    assert!(!span.metadata.contains_key("modelmetry.cost.source"));
    assert_eq!(
        t.ingest().traces[0].metadata["modelmetry.total.cost_usd"],
        json!(3.0)
    );
}

#[test]
fn an_unknown_model_is_marked_unpriced_never_zero() {
    let t = record_one(
        "acme-llm-9000",
        Some("openai"),
        Usage::tokens(1000, 200),
        None,
    );
    let span = llm_spans(&t)[0];
    assert_eq!(cost_of(span), None, "no Cost, not $0");
    let reason = span.metadata["modelmetry.cost.unpriced"]
        .as_str()
        .expect("a reason");
    assert!(reason.contains("model not found"), "{reason}");
    assert!(
        t.tree()
            .contains("acme-llm-9000  tokens 1000→200  unpriced"),
        "{}",
        t.tree()
    );
    let totals = &t.ingest().traces[0].metadata;
    assert_eq!(totals["modelmetry.total.spans_without_cost"], json!(1));
    assert!(!totals.contains_key("modelmetry.total.cost_usd"));
}

#[test]
fn a_fine_tuned_model_is_priced_by_a_custom_price() {
    let model = "ft:gpt-4o-mini-2024-07-18:acme::9aBcD";
    let recorder = Recorder::install_with(
        modelmetry::Config::default()
            .price(model, "openai", 0.30, 1.20)
            // Custom prices take precedence over the embedded table.
            .price("gpt-4o", "", 1.0, 1.0),
    );
    {
        let _t = modelmetry::start_trace("custom");
        one_call(model, Some("openai"), Usage::tokens(10_000, 2_000), None);
        one_call("gpt-4o", None, Usage::tokens(1_000_000, 0), None);
    }
    let t = recorder.take().remove(0);
    let spans = llm_spans(&t);
    let c = cost_of(spans[0]).expect("priced by the custom price");
    assert_eq!(amount(&c.input), 10_000.0 * 0.30 / 1e6);
    assert_eq!(amount(&c.output), 2_000.0 * 1.20 / 1e6);
    assert_eq!(
        spans[0].metadata["modelmetry.cost.source"],
        json!("Config::price")
    );
    assert_eq!(
        spans[0].metadata["modelmetry.cost.model"],
        json!(format!("openai/{model}"))
    );
    assert_eq!(amount(&cost_of(spans[1]).expect("custom").total), 1.0);
}

#[test]
fn trace_totals_sum_the_spans_and_the_tree_shows_them() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("turn");
        one_call(
            "gpt-4o",
            Some("openai"),
            Usage::tokens(1000, 100).cache_read(200),
            None,
        );
        one_call(
            "gpt-4o-mini",
            Some("openai"),
            Usage::tokens(3000, 300).reasoning(50),
            None,
        );
        let tool = modelmetry::start_span("lookup", modelmetry::Kind::Tool);
        drop(tool);
    }
    let t = recorder.take().remove(0);
    let spans = llm_spans(&t);
    let sum: f64 = spans
        .iter()
        .filter_map(|s| cost_of(s))
        .map(|c| amount(&c.total))
        .sum();
    let totals = &t.ingest().traces[0].metadata;
    assert_eq!(totals["modelmetry.total.input_tokens"], json!(4000));
    assert_eq!(totals["modelmetry.total.output_tokens"], json!(400));
    assert_eq!(totals["modelmetry.total.cache_read_tokens"], json!(200));
    assert_eq!(totals["modelmetry.total.reasoning_tokens"], json!(50));
    let total = totals["modelmetry.total.cost_usd"]
        .as_f64()
        .expect("a total");
    assert!(
        (total - sum).abs() < 1e-15 && total > 0.0,
        "{total} vs {sum}"
    );
    assert!(!totals.contains_key("modelmetry.total.spans_without_cost"));
    let tree = t.tree();
    let first = tree.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("trace turn  cost ") && first.ends_with(" USD"),
        "{tree}"
    );
    assert_eq!(
        tree.lines()
            .filter(|l| l.contains("llm llm.call") && l.contains(" USD"))
            .count(),
        2,
        "{tree}"
    );
}

#[test]
fn odd_input_is_unpriced_never_a_panic() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("odd");
        let nan = Usage::new()
            .input(modelmetry::UsageValue::new(f64::NAN, "tokens"))
            .output(modelmetry::UsageValue::tokens(3));
        one_call("gpt-4o", Some("openai"), nan, None);
        one_call("", Some("openai"), Usage::tokens(1, 1), None);
        one_call(
            "gpt-4o",
            Some("openai"),
            Usage::tokens(u64::MAX, u64::MAX).cache_read(u64::MAX),
            None,
        );
        let chars = Usage::new().input(modelmetry::UsageValue::new(1e3, "characters"));
        one_call("gpt-4o", Some("openai"), chars, None);
        // More cached tokens than input tokens: inconsistent.
        one_call(
            "gpt-4o",
            Some("openai"),
            Usage::tokens(10, 1).cache_read(20),
            None,
        );
        one_call(
            "gpt-4o",
            Some("no-such-provider"),
            Usage::tokens(10, 1),
            Some("\u{0}"),
        );
    }
    let t = recorder.take().remove(0);
    let spans = llm_spans(&t);
    assert_eq!(spans.len(), 6);
    for s in &spans {
        match cost_of(s) {
            Some(c) => assert!(
                amount(&c.total).is_finite() && amount(&c.total) > 0.0,
                "{c:?}"
            ),
            None => assert!(
                s.metadata["modelmetry.cost.unpriced"].is_string(),
                "{:?}",
                s.metadata
            ),
        }
    }
    assert!(
        spans[1].metadata["modelmetry.cost.unpriced"]
            .as_str()
            .is_some_and(|r| r.contains("no model"))
    );
    // An unknown provider falls back to the one the model's name implies.
    assert!(cost_of(spans[5]).is_some(), "{:?}", spans[5].metadata);
}

#[test]
fn a_price_that_cannot_price_is_ignored_and_init_says_so() {
    let h = Harness::start();
    let guard = h
        .config()
        .price("my-model", "", f64::NAN, 1.0)
        .price("", "", 1.0, 1.0)
        .init()
        .expect("init");
    drop(guard);
    let lines = h.diag.matching("Config::price");
    assert_eq!(lines.len(), 2, "{:?}", h.diag.lines());
    assert!(lines[0].contains("\"my-model\""), "{lines:?}");
}
