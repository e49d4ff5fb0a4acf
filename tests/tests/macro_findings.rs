//! `finding!` and `event!`: every value type, the detail options, where they land, and the
//! non-finite case.

use modelmetry::FindingValue;
use modelmetry::testing::Recorder;
use modelmetry::{event, finding, span};
use serde_json::json;

#[test]
fn findings_of_every_value_type() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        let score = 0.93;
        let label = String::from("safe");
        finding!(f64_value = score, f32_value = 0.5f32);
        finding!(
            i32_value = -3,
            u64_value = 120u64,
            usize_value = 4usize,
            i64_value = -9i64
        );
        finding!(bool_value = true);
        finding!(str_value = "ok", string_value = label);
        finding!("dotted.name" = 1, r#type = 2);
    }
    let traces = recorder.take();
    let values: Vec<(String, FindingValue)> = traces[0]
        .ingest()
        .findings
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            ("f64_value".into(), FindingValue::Number(0.93)),
            ("f32_value".into(), FindingValue::Number(0.5)),
            ("i32_value".into(), FindingValue::Number(-3.0)),
            ("u64_value".into(), FindingValue::Number(120.0)),
            ("usize_value".into(), FindingValue::Number(4.0)),
            ("i64_value".into(), FindingValue::Number(-9.0)),
            ("bool_value".into(), FindingValue::Bool(true)),
            ("str_value".into(), FindingValue::Text("ok".into())),
            ("string_value".into(), FindingValue::Text("safe".into())),
            ("dotted.name".into(), FindingValue::Number(1.0)),
            ("type".into(), FindingValue::Number(2.0)),
        ]
    );
    for f in &traces[0].ingest().findings {
        assert_eq!(f.span_id, None, "no span open: on the trace");
    }
}

#[test]
fn comment_description_and_metadata_apply_to_each_finding_of_the_call() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        finding!(input_tokens = 120, output_tokens = 45;
                 comment = "from the provider", description = String::from("token counts"),
                 metadata(model = "gpt-4o-mini", "billing.tier" = 2));
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "\
trace t
├── finding input_tokens = 120  (from the provider)
└── finding output_tokens = 45  (from the provider)
"
    );
    for f in &traces[0].ingest().findings {
        assert_eq!(f.comment.as_deref(), Some("from the provider"));
        assert_eq!(f.description.as_deref(), Some("token counts"));
        assert_eq!(f.metadata["model"], json!("gpt-4o-mini"));
        assert_eq!(f.metadata["billing.tier"], json!(2));
    }
}

#[span(kind = "llm")]
fn generate() {
    finding!(response_safe_score = 0.93);
    event!("tool_selected", tool = "GetOrderInformation");
}

#[test]
fn findings_and_events_land_on_the_current_span() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        generate();
        finding!(after = 1);
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "\
trace t
├── llm generate
│   ├── finding response_safe_score = 0.93
│   └── event tool_selected {\"tool\":\"GetOrderInformation\"}
└── finding after = 1
"
    );
    let body = traces[0].ingest();
    let span_xid = &body.spans[0].xid;
    assert_eq!(body.findings[0].span_id.as_ref(), Some(span_xid));
    assert_eq!(body.events[0].span_id.as_ref(), Some(span_xid));
}

#[test]
fn a_non_finite_number_is_dropped_and_counted_never_sent_never_a_panic() {
    let recorder = Recorder::install();
    let before = modelmetry::stats().dropped.non_finite;
    {
        let _t = modelmetry::start_trace("t");
        finding!(
            nan = f64::NAN,
            inf = f64::INFINITY,
            neg = f32::NEG_INFINITY,
            fine = 1.5
        );
    }
    assert_eq!(modelmetry::stats().dropped.non_finite, before + 3);
    let traces = recorder.take();
    assert_eq!(traces[0].tree(), "trace t\n└── finding fine = 1.5\n");
    let json = serde_json::to_string(traces[0].ingest()).unwrap();
    assert!(!json.contains("null") && !json.contains("NaN"), "{json}");
}

#[derive(serde::Serialize)]
struct Offer {
    tools: Vec<&'static str>,
}

#[derive(Debug)]
struct DebugOnly;

struct Opaque;

#[test]
fn events_capture_fields_as_json_debug_or_a_placeholder() {
    // Debug text is opt-in (a placeholder with the type's name otherwise).
    let recorder = Recorder::install_with(modelmetry::Config::default().capture_debug(true));
    {
        let _t = modelmetry::start_trace("t");
        let attempt = 2;
        event!(tool_selected);
        event!(
            "offered",
            offer = Offer {
                tools: vec!["a", "b"]
            },
            attempt,
            "debug.value" = DebugOnly,
            opaque = Opaque,
        );
    }
    let traces = recorder.take();
    let events = &traces[0].ingest().events;
    assert_eq!(events[0].name, "tool_selected");
    assert!(events[0].metadata.is_empty());
    let m = &events[1].metadata;
    assert_eq!(m["offer"], json!({"tools": ["a", "b"]}));
    assert_eq!(m["attempt"], json!(2));
    assert_eq!(m["debug.value"], json!("DebugOnly"));
    assert!(m["opaque"].as_str().unwrap().contains("Opaque"));
}

#[test]
fn with_tracing_off_the_values_are_not_even_evaluated() {
    let _lock = modelmetry::testing::lock();
    let _off = modelmetry::Config::default()
        .exporter(modelmetry::ExporterKind::None)
        .init()
        .unwrap();
    let mut evaluated = 0;
    let mut eval = |v: f64| {
        evaluated += 1;
        v
    };
    finding!(score = eval(1.0));
    event!("e", value = eval(2.0));
    assert_eq!(evaluated, 0);
}

#[test]
fn with_no_trace_open_they_are_counted_as_dropped() {
    let _recorder = Recorder::install();
    let before = modelmetry::stats().dropped.no_active_trace;
    finding!(orphan = 1);
    event!("orphan");
    assert_eq!(modelmetry::stats().dropped.no_active_trace, before + 2);
}
