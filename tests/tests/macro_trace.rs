//! `#[trace]`: its options, a trace opened inside another, and `flush`.

use std::time::Duration;

use modelmetry::testing::Recorder;
use modelmetry::{Config, Delivery, ExporterKind, span, trace};
use serde_json::json;

struct Conversation {
    id: String,
    user: String,
}

#[trace(
    name = "chatbot.turn",
    session = conversation.id.clone(),
    user = &conversation.user,
    tags = ["support", String::from("orders")],
    metadata(channel = "web", attempt = 2),
    skip(conversation)
)]
fn handle_turn(conversation: &Conversation, message: &str) -> String {
    step(message)
}

#[span(kind = "llm")]
fn step(message: &str) -> String {
    message.to_uppercase()
}

#[test]
fn options_land_on_the_trace() {
    let recorder = Recorder::install();
    let c = Conversation {
        id: "conversation-42".into(),
        user: "customer-7".into(),
    };
    assert_eq!(handle_turn(&c, "hi"), "HI");
    let traces = recorder.take();
    assert_eq!(traces.len(), 1);
    let t = &traces[0];
    assert_eq!(
        t.tree(),
        "\
trace chatbot.turn  session=conversation-42  user=customer-7  tags=[support, orders]
└── llm step
"
    );
    let body = t.ingest();
    let trace = &body.traces[0];
    assert_eq!(trace.session_id.as_deref(), Some("conversation-42"));
    assert_eq!(trace.metadata["user_id"], json!("customer-7"));
    assert_eq!(trace.metadata["tags"], json!(["support", "orders"]));
    assert_eq!(trace.metadata["channel"], json!("web"));
    assert_eq!(trace.metadata["attempt"], json!(2));
    assert_eq!(trace.metadata["input"], json!({"message": "hi"}));
    assert_eq!(trace.metadata["output"], json!("HI"));
    assert_eq!(body.sessions[0].xid, "conversation-42");
}

#[trace]
fn default_name() -> Result<(), String> {
    Err("refused".to_owned())
}

#[test]
fn the_default_name_is_the_functions_and_an_err_marks_the_trace() {
    let recorder = Recorder::install();
    let _ = default_name();
    assert_eq!(
        recorder.take_trees(),
        "trace default_name  error: refused\n"
    );
}

#[trace(name = "inner.job", session = "inner-session", tags = ["inner"], flush)]
fn inner_job(n: u8) -> u8 {
    n + 1
}

#[trace(name = "outer")]
fn outer() -> u8 {
    inner_job(1)
}

#[test]
fn a_trace_inside_a_trace_is_a_child_span_and_its_session_goes_to_the_enclosing_trace() {
    let recorder = Recorder::install();
    assert_eq!(outer(), 2);
    let traces = recorder.take();
    assert_eq!(traces.len(), 1, "one trace, not two");
    let t = &traces[0];
    assert_eq!(
        t.tree(),
        "trace outer  session=inner-session  tags=[inner]\n└── other inner.job\n"
    );
    let child = &t.ingest().spans[0];
    assert_eq!(child.metadata["nested_trace"], json!(true));
    assert_eq!(child.metadata["input"], json!({"n": 1}));
    assert_eq!(child.metadata["output"], json!(2));
    assert!(t.ingest().traces[0].metadata.get("input").is_none());
}

#[trace(name = "job.flushed", flush)]
fn flushed_job() -> u8 {
    1
}

#[trace(name = "job.buffered")]
fn buffered_job() -> u8 {
    1
}

#[test]
fn flush_delivers_before_the_function_returns() {
    let _lock = modelmetry::testing::lock();
    // Background delivery with an interval far away: only a flush delivers now.
    let guard = Config::default()
        .exporter(ExporterKind::Console)
        .delivery(Delivery::Background)
        .flush_interval(Duration::from_secs(3600))
        .init()
        .unwrap();
    let before = modelmetry::stats();
    buffered_job();
    let mid = modelmetry::stats();
    assert_eq!(
        mid.sent, before.sent,
        "without flush the trace waits in the buffer"
    );
    assert!(mid.buffered > 0);
    flushed_job();
    let after = modelmetry::stats();
    assert_eq!(after.buffered, 0, "flush delivered everything buffered");
    assert_eq!(
        after.sent,
        before.sent + 2,
        "both traces (one record each) were delivered"
    );
    drop(guard);
}
