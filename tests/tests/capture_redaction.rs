//! The redaction hook sees every captured value before export, wherever it came from.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use modelmetry::testing::Recorder;
use modelmetry::{
    Config, Document, Message, Options, RetrievalQuery, ToolCall, event, finding, llm, span, trace,
};
use serde_json::{Value, json};

#[derive(serde::Serialize)]
struct Ticket {
    email: &'static str,
}

#[span(kind = "llm", metadata(customer = "secret-metadata"))]
fn generate(prompt: &str) -> String {
    llm::set_options(Options::new().user("secret-options-user"));
    llm::set_messages(vec![
        Message::user(prompt),
        Message::assistant_tool_calls(vec![ToolCall::function(
            "c1",
            "Lookup",
            json!({"email": "secret-tool-argument"}),
        )]),
    ]);
    llm::add_document(Document::new("d1", "secret-document").title("t"));
    event!("looked_up", who = "secret-event-metadata");
    finding!(verdict = "secret-finding-value"; comment = "secret-comment",
             description = "secret-description", metadata(by = "secret-finding-metadata"));
    format!("answer to {prompt}")
}

#[span(kind = "retriever")]
fn retrieve(ticket: Ticket) -> usize {
    let span = modelmetry::current_span();
    span.add_query(RetrievalQuery::new("secret-query"));
    ticket.email.len()
}

#[span(kind = "embeddings")]
fn embed() {
    llm::set_embedding_inputs(vec!["secret-embedding-input".into()]);
}

#[span(kind = "tool")]
fn failing() -> Result<(), String> {
    Err("secret-span-error".into())
}

#[trace(
    session = "secret-session",
    user = "secret-user",
    tags = ["secret-tag"],
    metadata(note = "secret-trace-metadata")
)]
fn turn(question: &str) -> String {
    retrieve(Ticket {
        email: "secret-input@example.com",
    });
    embed();
    let _ = failing();
    generate(question)
}

#[trace]
fn failing_trace() -> Result<(), String> {
    Err("secret-trace-error".into())
}

/// A hook that scrubs "secret" everywhere and remembers the paths it was shown.
fn scrubbing(seen: Arc<Mutex<BTreeSet<String>>>) -> Config {
    Config::default().redact(move |path, value| {
        // Keys of metadata maps are part of the path; keep only the place.
        let place = path.split('.').take(2).collect::<Vec<_>>().join(".");
        seen.lock().unwrap().insert(place);
        modelmetry::redact_strings(value, |s| {
            if s.contains("secret") {
                *s = "[redacted]".to_owned();
            }
        });
    })
}

#[test]
fn every_captured_value_passes_the_hook() {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let recorder = Recorder::install_with(scrubbing(seen.clone()));
    turn("secret-question");
    let _ = failing_trace();
    let traces = recorder.take();
    assert_eq!(traces.len(), 2);
    for t in &traces {
        let json = serde_json::to_string(t.ingest()).unwrap();
        assert!(!json.contains("secret"), "unredacted content left: {json}");
        assert!(!t.tree().contains("secret"), "{}", t.tree());
    }
    let body = traces[0].ingest();
    let json = serde_json::to_value(body).unwrap();
    // Redacted, not removed: each place still holds its (scrubbed) value.
    assert_eq!(body.traces[0].session_id.as_deref(), Some("[redacted]"));
    assert_eq!(
        body.traces[0].metadata["input"],
        json!({"question": "[redacted]"})
    );
    assert_eq!(json["Findings"][0]["Value"], json!("[redacted]"));
    let generate = body.spans.iter().find(|s| s.name == "generate").unwrap();
    let messages = serde_json::to_value(&generate.family_data).unwrap()["Messages"].clone();
    assert_eq!(messages[0]["Contents"][0]["Text"], json!("[redacted]"));
    assert_eq!(
        messages[1]["ToolCalls"][0]["Function"]["Arguments"],
        json!({"email": "[redacted]"})
    );
    assert_eq!(
        traces[1].ingest().traces[0].metadata["message"],
        json!("[redacted]")
    );

    let seen: Vec<String> = seen.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        seen,
        [
            "event.metadata",
            "finding.comment",
            "finding.description",
            "finding.metadata",
            "finding.value",
            "span.documents",
            "span.embedding_inputs",
            "span.input",
            "span.message",
            "span.messages",
            "span.metadata",
            "span.options",
            "span.output",
            "span.queries",
            "trace.input",
            "trace.message",
            "trace.metadata",
            "trace.output",
            "trace.session_id",
            "trace.tags",
            "trace.user_id",
        ]
    );
}

#[test]
fn null_removes_a_value_and_a_broken_shape_removes_it_too() {
    let config = Config::default().redact(|path, value| match path {
        "span.input" | "span.metadata.customer" => *value = Value::Null,
        "span.messages" => *value = json!("not messages any more"),
        _ => {}
    });
    let recorder = Recorder::install_with(config);
    {
        let _t = modelmetry::start_trace("t");
        generate("hello");
    }
    let traces = recorder.take();
    let span = &traces[0].ingest().spans[0];
    assert!(span.metadata.get("input").is_none());
    assert!(span.metadata.get("customer").is_none());
    assert_eq!(span.metadata["output"], json!("answer to hello"));
    let data = serde_json::to_value(&span.family_data).unwrap();
    assert!(data.get("Messages").is_none(), "{data}");
    assert!(data.get("Options").is_some(), "other fields are untouched");
}

#[test]
fn a_panicking_hook_drops_the_trace_rather_than_export_it_unredacted() {
    let config = Config::default().on_error(|_| {}).redact(|path, _| {
        if path == "span.output" {
            panic!("hook bug");
        }
    });
    let recorder = Recorder::install_with(config);
    let before = modelmetry::stats().dropped.redaction_failed;
    {
        let _t = modelmetry::start_trace("t");
        generate("hello");
    }
    {
        let _t = modelmetry::start_trace("no output, no panic");
    }
    let traces = recorder.take();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].tree(), "trace no output, no panic\n");
    // The trace, its span, its event and its finding.
    assert_eq!(modelmetry::stats().dropped.redaction_failed, before + 4);
}

#[test]
fn content_capture_off_records_no_input_output_or_messages() {
    let recorder = Recorder::install_with(Config::default().capture_content(false));
    turn("hello");
    let traces = recorder.take();
    let json = serde_json::to_string(traces[0].ingest()).unwrap();
    for gone in [
        "\"input\"",
        "\"output\"",
        "Messages",
        "secret-document",
        "secret-query",
    ] {
        assert!(!json.contains(gone), "{gone} in {json}");
    }
    // Metadata, findings and errors are not content: they stay.
    assert!(json.contains("secret-trace-metadata") && json.contains("secret-span-error"));
}
