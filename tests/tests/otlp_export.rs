//! The OpenTelemetry exporter against a real HTTP server on loopback: what it sends (read back
//! with opentelemetry-proto, a decoder we did not write), and the same retry, size and
//! counting rules as the Modelmetry transport.

use std::time::{Duration, Instant};

use modelmetry::{Config, ExporterKind, Finding, Kind, OtlpCompression, OtlpConfig, OtlpProtocol};
use modelmetry_tests::{Delta, Diagnostics, Reply, Server, config_for, expect_lost, record_trace};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

fn otlp_only(server: &Server, diag: &Diagnostics) -> Config {
    config_for(&server.base_url(), diag)
        .exporter(ExporterKind::Otlp)
        .otlp(
            OtlpConfig::default()
                .endpoint(format!("{}/v1/traces", server.base_url()))
                .header("authorization", "Bearer collector-token")
                .service_name("otlp-tests"),
        )
}

fn decode(body: &[u8]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(body).expect("our protobuf decodes with opentelemetry-proto")
}

fn span_names(req: &ExportTraceServiceRequest) -> Vec<String> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

#[test]
fn sends_protobuf_to_v1_traces_with_the_configured_headers() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag).init().expect("init");
    let n = record_trace("otlp.a", 2);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/v1/traces");
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("authorization"), Some("Bearer collector-token"));
    assert!(
        r.header("x-api-key").is_none(),
        "the Modelmetry key never goes to a collector"
    );
    let req = decode(&r.body);
    let resource = req.resource_spans[0].resource.as_ref().expect("resource");
    assert!(
        resource
            .attributes
            .iter()
            .any(|kv| kv.key == "service.name" && format!("{:?}", kv.value).contains("otlp-tests"))
    );
    let mut names = span_names(&req);
    names.sort();
    assert_eq!(
        names,
        [
            "execute_tool otlp.a.step0",
            "execute_tool otlp.a.step1",
            "otlp.a"
        ]
    );
    let d = Delta::since(&before);
    assert_eq!(
        (d.produced, d.sent, d.unaccounted()),
        (n as i64, n as i64, 0)
    );
}

#[test]
fn json_encoding_reads_back_with_the_serde_types() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let config = otlp_only(&server, &diag).otlp(
        OtlpConfig::default()
            .endpoint(format!("{}/v1/traces", server.base_url()))
            .protocol(OtlpProtocol::HttpJson),
    );
    let guard = config.init().expect("init");
    record_trace("otlp.json", 1);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    let r = &server.requests()[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    let req: ExportTraceServiceRequest =
        serde_json::from_slice(&r.body).expect("their serde types read our JSON");
    assert_eq!(span_names(&req).len(), 2);
}

#[test]
fn retries_503_and_never_retries_a_partial_success() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.script([
        Reply::status(503),
        Reply::ok()
            .body_json(r#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"span too old"}}"#),
    ]);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag).init().expect("init");
    let n = record_trace("otlp.partial", 2);
    expect_lost(guard.flush(Duration::from_secs(3)), "rejected");
    drop(guard);

    let statuses: Vec<Option<u16>> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Some(503), Some(200)],
        "one retry for the 503, none for the partial success"
    );
    let d = Delta::since(&before);
    assert_eq!(d.sent, n as i64 - 1);
    assert_eq!(d.rejected, 1);
    assert_eq!(d.retried, n as i64);
    assert_eq!(d.unaccounted(), 0);
    assert_eq!(diag.matching("span too old").len(), 1, "{:?}", diag.lines());
}

#[test]
fn a_400_is_permanent() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.fallback(Reply::status(400));
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag).init().expect("init");
    let n = record_trace("otlp.bad", 1);
    expect_lost(guard.flush(Duration::from_secs(3)), "rejected");
    drop(guard);
    assert_eq!(server.request_count(), 1);
    let d = Delta::since(&before);
    assert_eq!((d.rejected, d.unaccounted()), (n as i64, 0));
}

#[test]
fn a_429_is_waited_out_before_anything_else_is_sent() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.script([Reply::status(429).header("Retry-After", "1")]);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag)
        .export_timeout(Duration::from_secs(4))
        .init()
        .expect("init");
    let n = record_trace("otlp.429", 1);
    guard.flush(Duration::from_secs(5)).expect("flush");
    drop(guard);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After obeyed: {waited:?}"
    );
    assert_eq!(Delta::since(&before).sent, n as i64);
}

#[test]
fn a_413_splits_the_request_down_to_what_the_collector_takes() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    // The collector takes at most two spans per request.
    server.rule(|r| {
        (decode(&r.body).resource_spans[0].scope_spans[0].spans.len() > 2)
            .then(|| Reply::status(413))
    });
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag).init().expect("init");
    let n = record_trace("otlp.big", 6);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    let delivered: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.status == Some(200))
        .flat_map(|r| span_names(&decode(&r.body)))
        .collect();
    assert_eq!(
        delivered.len(),
        7,
        "every span delivered once: {delivered:?}"
    );
    let d = Delta::since(&before);
    assert_eq!((d.sent, d.unaccounted()), (n as i64, 0));
}

#[test]
fn a_collector_that_never_answers_cannot_hold_flush_past_its_deadline() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.fallback(Reply::Hang);
    let diag = Diagnostics::new();
    let guard = otlp_only(&server, &diag).init().expect("init");
    record_trace("otlp.hang", 1);
    let start = Instant::now();
    let result = guard.flush(Duration::from_millis(700));
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert!(result.is_err());
    drop(guard);
}

#[test]
fn modelmetry_and_opentelemetry_together_get_the_same_traces() {
    let _lock = modelmetry::testing::lock();
    let ingest = Server::start();
    let collector = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let config = config_for(&ingest.base_url(), &diag)
        .exporters([ExporterKind::Http, ExporterKind::Otlp])
        .otlp(OtlpConfig::default().endpoint(format!("{}/v1/traces", collector.base_url())));
    let guard = config.init().expect("init");
    let n = record_trace("both", 2);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let ingest_body = ingest.requests()[0].ingest();
    let otlp = decode(&collector.requests()[0].body);
    let spans = &otlp.resource_spans[0].scope_spans[0].spans;
    assert_eq!(
        ingest_body.traces.len() + ingest_body.spans.len(),
        spans.len()
    );
    // One trace, one id, in both: the trace XID is the OTel trace id as a UUID.
    let trace_hex: String = spans[0]
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(ingest_body.traces[0].xid.replace('-', ""), trace_hex);
    let d = Delta::since(&before);
    assert_eq!(
        (d.produced, d.sent, d.unaccounted()),
        (n as i64, n as i64, 0)
    );
    let also = modelmetry::stats().also;
    assert!(
        also.sent >= n && also.sent - before.also.sent == n,
        "{also:?}"
    );
}

// ---- timeout, compression, partial success in records, typed attributes (issue 21) -------

fn spans_of(req: &ExportTraceServiceRequest) -> Vec<&opentelemetry_proto::tonic::trace::v1::Span> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn attr<'a>(
    span: &'a opentelemetry_proto::tonic::trace::v1::Span,
    key: &str,
) -> Option<&'a opentelemetry_proto::tonic::common::v1::any_value::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

#[test]
fn the_otlp_timeout_bounds_a_batch_against_a_collector_that_hangs() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    // Answers, but only after 4 s: without the OTLP timeout the request would wait for it
    // (the request timeout and the export deadline here are 10 s).
    server.fallback(Reply::ok().after(Duration::from_secs(4)));
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let config = otlp_only(&server, &diag)
        .request_timeout(Duration::from_secs(10))
        .export_timeout(Duration::from_secs(10))
        .shutdown_timeout(Duration::from_secs(10));
    let otlp = config_otlp(&server).timeout(Duration::from_millis(300));
    let guard = config.otlp(otlp).init().expect("init");
    let n = record_trace("otlp.timeout", 1);
    let start = Instant::now();
    let _ = guard.flush(Duration::from_secs(10));
    let took = start.elapsed();
    drop(guard);
    assert!(
        took < Duration::from_millis(3500),
        "given up after the 300 ms timeout (and the retries within it), not the 4 s answer: {took:?}"
    );
    let d = Delta::since(&before);
    assert_eq!(
        (d.sent, d.network, d.unaccounted()),
        (0, n as i64, 0),
        "{d:?}"
    );
}

fn config_otlp(server: &Server) -> OtlpConfig {
    OtlpConfig::default()
        .endpoint(format!("{}/v1/traces", server.base_url()))
        .service_name("otlp-tests")
}

#[test]
fn gzip_compression_sends_content_encoding_and_a_body_that_decodes() {
    use std::io::Read as _;

    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let guard = otlp_only(&server, &diag)
        .otlp(config_otlp(&server).compression(OtlpCompression::Gzip))
        .init()
        .expect("init");
    let long_input = "Where is my order #A-1042? ".repeat(200);
    let n = modelmetry_tests::record_trace_with_input("otlp.gzip", &long_input);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{:?}", diag.lines());
    let r = &requests[0];
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut body)
        .expect("a gzip body");
    assert!(
        r.body.len() * 5 < body.len(),
        "compressed {} of {} bytes",
        r.body.len(),
        body.len()
    );
    let req = decode(&body);
    assert_eq!(spans_of(&req).len(), n as usize);
}

#[test]
fn without_compression_there_is_no_content_encoding() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let guard = otlp_only(&server, &diag).init().expect("init");
    record_trace("otlp.plain", 1);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    let r = &server.requests()[0];
    assert!(r.header("content-encoding").is_none());
    decode(&r.body);
}

#[test]
fn a_partial_success_rejecting_every_span_counts_every_record() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    // 1 trace + 19 spans = 20 OTLP spans; 10 spans carry a finding: 30 records.
    server.fallback(
        Reply::ok()
            .body_json(r#"{"partialSuccess":{"rejectedSpans":"20","errorMessage":"quota"}}"#),
    );
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = otlp_only(&server, &diag).init().expect("init");
    {
        let _t = modelmetry::start_trace("otlp.partial.all");
        for i in 0..19 {
            let _s = modelmetry::start_span(format!("step {i}"), Kind::Tool);
            if i % 2 == 0 {
                Finding::new("score", 1.0).record();
            }
        }
    }
    // flush says what was lost, in records.
    assert_eq!(
        expect_lost(guard.flush(Duration::from_secs(3)), "rejected"),
        30
    );
    drop(guard);

    assert_eq!(spans_of(&decode(&server.requests()[0].body)).len(), 20);
    let d = Delta::since(&before);
    assert_eq!(
        (d.produced, d.sent, d.rejected, d.unaccounted()),
        (30, 0, 30, 0),
        "20 of 20 spans rejected: all 30 records lost, none sent"
    );
    let said = diag.matching("rejected 20 of 20 span(s) (30 record(s)");
    assert_eq!(said.len(), 1, "{:?}", diag.lines());
}

#[test]
fn scalar_values_keep_their_type_and_the_provider_is_inferred_from_the_model() {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;

    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let guard = otlp_only(&server, &diag).init().expect("init");
    {
        let _t = modelmetry::start_trace("otlp.typed");
        let count = modelmetry::start_span("count", Kind::Other);
        count.set_output(&0u64);
        count.set_input(&true);
        drop(count);
        let ratio = modelmetry::start_span("ratio", Kind::Other);
        ratio.set_output(&0.25f64);
        drop(ratio);
        let claude = modelmetry::start_span("answer", Kind::Llm);
        claude.set_model("claude-3-5-sonnet-20241022");
        drop(claude);
        let named = modelmetry::start_span("named", Kind::Llm);
        named.set_model("gpt-4o");
        named.set_provider("azure.ai.openai");
        drop(named);
        let open = modelmetry::start_span("open weights", Kind::Llm);
        open.set_model("llama-3.1-70b");
        drop(open);
    }
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let req = decode(&server.requests()[0].body);
    let spans = spans_of(&req);
    let by_name = |name: &str| {
        *spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(
        attr(by_name("count"), "modelmetry.output"),
        Some(&Any::IntValue(0))
    );
    assert_eq!(
        attr(by_name("count"), "modelmetry.input"),
        Some(&Any::BoolValue(true))
    );
    assert_eq!(
        attr(by_name("ratio"), "modelmetry.output"),
        Some(&Any::DoubleValue(0.25))
    );
    let provider = |name: &str| match attr(by_name(name), "gen_ai.provider.name") {
        Some(Any::StringValue(p)) => Some(p.clone()),
        _ => None,
    };
    assert_eq!(
        provider("chat claude-3-5-sonnet-20241022").as_deref(),
        Some("anthropic")
    );
    assert_eq!(
        provider("chat gpt-4o").as_deref(),
        Some("azure.ai.openai"),
        "the provider named wins"
    );
    assert_eq!(
        provider("chat llama-3.1-70b"),
        None,
        "served by many: absent"
    );
}
