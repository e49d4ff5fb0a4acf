//! The file exporter (`MODELMETRY_EXPORTER=file`) and the HTML exporter
//! (`MODELMETRY_EXPORTER=html`): what they write, read back with opentelemetry-proto's serde
//! types (a decoder we did not write), rotation, write errors, content capture, redaction,
//! and running beside another destination.

use std::time::Duration;

use modelmetry::{Config, Cost, Delivery, ExporterKind, Kind, Message, ToolCall, Usage};
use modelmetry_tests::{Diagnostics, Harness, TempDir, expect_lost};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as TheirValue;
use opentelemetry_proto::tonic::trace::v1::Span as TheirSpan;

fn local(exporters: &[ExporterKind], dir: &TempDir, diag: &Diagnostics) -> Config {
    Config::default()
        .exporters(exporters.iter().copied())
        .file(dir.path().join("traces.jsonl"))
        .html(dir.path().join("traces.html"))
        .delivery(Delivery::Synchronous)
        .on_error(diag.hook())
}

/// A turn like the chatbot's: an LLM call with messages, a tool call and its result, usage
/// and cost. 3 records.
fn turn(question: &str) -> u64 {
    let trace = modelmetry::start_trace("chatbot.turn");
    trace.set_session_id("conversation-42");
    trace.set_user_id("customer-7");
    {
        let llm = modelmetry::start_span("llm.generate", Kind::Llm);
        llm.set_model("gpt-4o-mini");
        llm.set_messages(vec![
            Message::system("be brief"),
            Message::user(question),
            Message::assistant_tool_calls(vec![ToolCall::function(
                "call_1",
                "GetOrderInformation",
                serde_json::json!({"order_id": "A-1042"}),
            )]),
        ]);
        llm.set_usage(Usage::tokens(120, 18));
        llm.set_cost(Cost::new(0.000_018, 0.000_010_8, "USD"));
    }
    {
        let tool = modelmetry::start_span("GetOrderInformation", Kind::Tool);
        tool.set_input(&serde_json::json!({"order_id": "A-1042"}));
        tool.set_output(&serde_json::json!({"status": "in transit"}));
    }
    drop(trace);
    3
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn read_back(line: &str) -> ExportTraceServiceRequest {
    serde_json::from_str(line).expect("opentelemetry-proto's serde types read our line")
}

fn spans(req: &ExportTraceServiceRequest) -> Vec<&TheirSpan> {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect()
}

fn attr<'a>(span: &'a TheirSpan, key: &str) -> Option<&'a TheirValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text<'a>(span: &'a TheirSpan, key: &str) -> Option<&'a str> {
    match attr(span, key) {
        Some(TheirValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

#[test]
fn each_trace_is_one_otlp_json_line_that_opentelemetry_proto_reads() {
    let h = Harness::start();
    let dir = TempDir::new("file-export");
    let guard = local(&[ExporterKind::File], &dir, &h.diag)
        .init()
        .expect("init");
    let records = turn("Where is my order?") + turn("And the other one?");
    drop(guard);

    let lines = lines(&dir.path().join("traces.jsonl"));
    assert_eq!(lines.len(), 2, "one line a trace: {lines:?}");
    let mut trace_ids = Vec::new();
    for line in &lines {
        let req = read_back(line);
        let spans = spans(&req);
        assert_eq!(spans.len(), 3);
        let root = spans
            .iter()
            .find(|s| s.parent_span_id.is_empty())
            .expect("root");
        let llm = spans
            .iter()
            .find(|s| s.name == "chat gpt-4o-mini")
            .expect("llm span");
        let tool = spans
            .iter()
            .find(|s| s.name == "execute_tool GetOrderInformation")
            .expect("tool span");
        assert_eq!(llm.parent_span_id, root.span_id);
        assert_eq!(tool.parent_span_id, root.span_id);
        assert_eq!(
            text(root, "gen_ai.conversation.id"),
            Some("conversation-42")
        );
        assert_eq!(text(root, "user.id"), Some("customer-7"));
        assert_eq!(text(llm, "gen_ai.operation.name"), Some("chat"));
        assert_eq!(
            attr(llm, "gen_ai.usage.input_tokens"),
            Some(&TheirValue::IntValue(120))
        );
        assert!(matches!(
            attr(llm, "modelmetry.cost.total"),
            Some(TheirValue::DoubleValue(c)) if (c - 0.000_028_8).abs() < 1e-12
        ));
        let input = text(llm, "gen_ai.input.messages").expect("input messages");
        assert!(input.contains("Where is my order?") || input.contains("And the other one?"));
        let output = text(llm, "gen_ai.output.messages").expect("output messages");
        assert!(output.contains("GetOrderInformation"), "{output}");
        assert_eq!(
            text(tool, "gen_ai.tool.call.arguments"),
            Some(r#"{"order_id":"A-1042"}"#)
        );
        trace_ids.push(root.trace_id.clone());
    }
    assert_ne!(trace_ids[0], trace_ids[1]);
    let d = h.delta();
    assert_eq!(d.sent, records as i64);
    assert_eq!(d.unaccounted(), 0);
}

#[test]
fn the_file_is_rotated_past_its_bound() {
    let h = Harness::start();
    let dir = TempDir::new("file-rotate");
    let path = dir.path().join("traces.jsonl");
    let guard = local(&[ExporterKind::File], &dir, &h.diag)
        .file_max_bytes(6_000)
        .init()
        .expect("init");
    for i in 0..12 {
        turn(&format!("question {i}"));
    }
    drop(guard);

    let current = lines(&path);
    let older = lines(&dir.path().join("traces.jsonl.1"));
    assert!(!older.is_empty(), "rotated once at least");
    assert!(std::fs::metadata(&path).expect("file").len() <= 6_000);
    assert!(
        std::fs::metadata(dir.path().join("traces.jsonl.1"))
            .expect("rotated")
            .len()
            <= 6_000
    );
    for line in current.iter().chain(&older) {
        read_back(line);
    }
    let last = spans(&read_back(current.last().expect("a line")))
        .iter()
        .find_map(|s| text(s, "gen_ai.input.messages").map(str::to_owned))
        .expect("messages");
    assert!(
        last.contains("question 11"),
        "the newest trace is in the file: {last}"
    );
    assert_eq!(h.delta().unaccounted(), 0);
}

#[test]
fn a_write_error_is_counted_and_reported_never_a_panic() {
    let h = Harness::start();
    let dir = TempDir::new("file-unwritable");
    let config = Config::default()
        .exporter(ExporterKind::File)
        .file(dir.path().join("no-such-dir").join("traces.jsonl"))
        .delivery(Delivery::Synchronous)
        .on_error(h.diag.hook());
    let guard = config.init().expect("init");
    let records = turn("q") + turn("q2");
    let lost = expect_lost(guard.flush(Duration::from_secs(2)), "write_failed");
    assert_eq!(lost, records);
    drop(guard);
    let d = h.delta();
    assert_eq!(d.write_failed, records as i64);
    assert_eq!(d.dropped(), records as i64);
    assert_eq!(d.unaccounted(), 0);
    let said = h.diag.lines();
    assert_eq!(
        said.iter()
            .filter(|l| l.contains("cannot write traces"))
            .count(),
        1,
        "reported once: {said:?}"
    );
}

#[test]
fn content_capture_off_and_redaction_apply_to_the_file() {
    let h = Harness::start();
    let dir = TempDir::new("file-content");
    let guard = local(&[ExporterKind::File], &dir, &h.diag)
        .redact(|_, value| {
            modelmetry::redact_strings(value, |s| {
                if s.contains("secret") {
                    *s = "[redacted]".to_owned();
                }
            });
        })
        .init()
        .expect("init");
    turn("my secret question");
    drop(guard);
    let line = lines(&dir.path().join("traces.jsonl")).remove(0);
    assert!(!line.contains("secret"), "{line}");
    assert!(line.contains("[redacted]"), "{line}");

    let dir = TempDir::new("file-no-content");
    let guard = local(&[ExporterKind::File], &dir, &h.diag)
        .capture_content(false)
        .init()
        .expect("init");
    turn("what the user typed");
    drop(guard);
    let line = lines(&dir.path().join("traces.jsonl")).remove(0);
    assert!(!line.contains("what the user typed"), "{line}");
    let req = read_back(&line);
    for span in spans(&req) {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
        ] {
            assert!(attr(span, key).is_none(), "{key} on {}", span.name);
        }
    }
}

#[test]
fn beside_the_modelmetry_api_each_destination_gets_every_trace() {
    let h = Harness::start();
    let dir = TempDir::new("file-beside");
    let path = dir.path().join("traces.jsonl");
    let guard = h
        .config()
        .exporters([ExporterKind::Http, ExporterKind::File])
        .file(&path)
        .init()
        .expect("init");
    let records = turn("a") + turn("b");
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);
    assert_eq!(lines(&path).len(), 2);
    let xids: usize = h.server.requests().iter().map(|r| r.xids().len()).sum();
    assert!(xids >= records as usize, "the API got the traces too");
    let d = h.delta();
    assert!(
        d.sent > records as i64,
        "the API's records, the session's among them"
    );
    assert_eq!(d.unaccounted(), 0);
    assert!(
        modelmetry::stats().also.sent >= records,
        "the file's, counted as the second"
    );
}

#[test]
fn the_file_is_on_by_default_beside_the_console_when_a_path_is_given() {
    let h = Harness::start();
    let dir = TempDir::new("file-default");
    let path = dir.path().join("t.jsonl");
    let guard = Config::default()
        .file(&path)
        .delivery(Delivery::Synchronous)
        .on_error(h.diag.hook())
        .init()
        .expect("init");
    turn("q");
    drop(guard);
    assert_eq!(lines(&path).len(), 1);
}

#[test]
fn the_html_exporter_rewrites_one_page_atomically_as_traces_finish() {
    let h = Harness::start();
    let dir = TempDir::new("html-export");
    let page = dir.path().join("traces.html");
    let guard = local(&[ExporterKind::Html], &dir, &h.diag)
        .html_max_traces(2)
        .init()
        .expect("init");
    turn("first question");
    let first = std::fs::read_to_string(&page).expect("the page after the first trace");
    assert!(first.contains("first question"));
    assert!(first.starts_with("<!DOCTYPE html>") && first.trim_end().ends_with("</html>"));
    turn("second question");
    turn("third question");
    drop(guard);
    let last = std::fs::read_to_string(&page).expect("page");
    assert!(last.contains("second question") && last.contains("third question"));
    assert!(!last.contains("first question"), "only the latest 2 kept");
    assert!(
        !last.contains("<link") && !last.contains(" src="),
        "nothing loaded from elsewhere"
    );
    assert_eq!(
        dir.files(),
        vec!["traces.html".to_owned()],
        "no temporary file left"
    );
    assert_eq!(h.delta().unaccounted(), 0);
}

#[test]
fn an_html_page_that_cannot_be_written_is_counted() {
    let h = Harness::start();
    let dir = TempDir::new("html-unwritable");
    let guard = Config::default()
        .exporter(ExporterKind::Html)
        .html(dir.path().join("gone").join("traces.html"))
        .delivery(Delivery::Synchronous)
        .on_error(h.diag.hook())
        .init()
        .expect("init");
    let records = turn("q");
    drop(guard);
    assert_eq!(h.delta().write_failed, records as i64);
    assert!(
        h.diag
            .lines()
            .iter()
            .any(|l| l.contains("cannot write the HTML view"))
    );
}
