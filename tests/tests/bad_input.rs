//! Bad input through the public API: each case of the README's bad-input table, what the SDK
//! sends for it (always a body the spec accepts) and what it counts.

mod openapi;

use std::collections::HashMap;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{FamilyData, IngestSignalsV1RequestBody};
use modelmetry::{
    Config, Cost, DataPart, Document, Finding, Kind, Message, Money, Options, Part, RetrievalQuery,
    Stats, ToolCall, Usage, UsageValue, UserMessage,
};
use serde_json::{Value, json};

/// Record one trace with `config`, run `body` inside it, and return the recorded trace, its
/// ingest body as JSON (checked against the spec) and the change in the counters.
fn record(config: Config, body: impl FnOnce()) -> (RecordedTrace, Value, Stats, Stats) {
    let recorder = Recorder::install_with(config);
    let before = modelmetry::stats();
    {
        let _trace = modelmetry::start_trace("bad.input");
        body();
    }
    let after = modelmetry::stats();
    let mut traces = recorder.take();
    assert_eq!(traces.len(), 1);
    let trace = traces.remove(0);
    let json = serde_json::to_value(trace.ingest()).expect("the body serialises");
    openapi::assert_valid(&json);
    (trace, json, before, after)
}

fn span<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["Spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["Name"] == name))
        .unwrap_or_else(|| panic!("a span named {name}"))
}

/// The `modelmetry.invalid` notes of a record, by field.
fn invalid(record: &Value) -> HashMap<String, (Value, String)> {
    record["Metadata"]["modelmetry.invalid"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["field"].as_str().unwrap_or_default().to_owned(),
                (
                    n["value"].clone(),
                    n["rule"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

fn truncated(record: &Value) -> HashMap<String, u64> {
    record["Metadata"]["modelmetry.truncated"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            (
                n["field"].as_str().unwrap_or_default().to_owned(),
                n["original_bytes"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn options_outside_the_spec_move_to_metadata() {
    let (_, body, before, after) = record(Config::default(), || {
        let llm = modelmetry::start_span("llm", Kind::Llm);
        llm.set_options(
            Options::new()
                .model("gpt-4o")
                .temperature(1.5) // OpenAI accepts up to 2; the spec only [0, 1]
                .top_p(f64::NAN)
                .timeout(-3.0)
                .frequency_penalty(f64::INFINITY)
                .max_tokens(100),
        );
    });
    let s = span(&body, "llm");
    let options = &s["FamilyData"]["Options"];
    assert_eq!(options["Model"], "gpt-4o", "valid options stay");
    assert_eq!(options["MaxTokens"], 100);
    for gone in ["Temperature", "TopP", "Timeout", "FrequencyPenalty"] {
        assert!(
            options.get(gone).is_none(),
            "{gone} left the options: {options}"
        );
    }
    let notes = invalid(s);
    assert_eq!(notes["FamilyData.Options.Temperature"].0, json!(1.5));
    assert_eq!(notes["FamilyData.Options.Temperature"].1, "between 0 and 1");
    assert_eq!(notes["FamilyData.Options.TopP"].0, json!("NaN"));
    assert_eq!(notes["FamilyData.Options.Timeout"].0, json!(-3.0));
    assert_eq!(
        notes["FamilyData.Options.FrequencyPenalty"].0,
        json!("Infinity")
    );
    assert_eq!(after.sanitized - before.sanitized, 4);
    assert_eq!(
        after.dropped.total(),
        before.dropped.total(),
        "nothing lost"
    );
}

#[test]
fn bad_money_and_usage_are_fixed_or_moved() {
    let (_, body, before, after) = record(Config::default(), || {
        let llm = modelmetry::start_span("llm", Kind::Llm);
        llm.set_cost(
            Cost::default()
                .input(Money::new(0.01, "usd"))
                .output(Money::new(0.02, "dollars"))
                .total(Money::new(f64::INFINITY, "USD")),
        );
        llm.set_usage(
            Usage::new()
                .input(UsageValue::new(f64::NAN, "tokens"))
                .output(UsageValue::new(3.0, "")),
        );
    });
    let s = span(&body, "llm");
    let data = &s["FamilyData"];
    assert_eq!(
        data["Cost"],
        json!({"Input": {"Amount": 0.01, "Currency": "USD"}})
    );
    assert_eq!(
        data["Usage"],
        json!({"Output": {"Amount": 3.0, "Unit": "tokens"}})
    );
    let notes = invalid(s);
    assert_eq!(notes["FamilyData.Cost.Input.Currency"].0, json!("usd"));
    assert_eq!(
        notes["FamilyData.Cost.Output"].0,
        json!({"Amount": 0.02, "Currency": "dollars"})
    );
    assert_eq!(
        notes["FamilyData.Cost.Total"].0,
        json!({"Amount": "Infinity", "Currency": "USD"})
    );
    assert_eq!(
        notes["FamilyData.Usage.Input"].0,
        json!({"Amount": "NaN", "Unit": "tokens"})
    );
    assert!(notes.contains_key("FamilyData.Usage.Output.Unit"));
    assert_eq!(after.sanitized - before.sanitized, 5);
}

#[test]
fn bad_parts_documents_tool_calls_and_embeddings_are_repaired() {
    let (_, body, _, _) = record(Config::default(), || {
        let llm = modelmetry::start_span("llm", Kind::Llm);
        llm.set_messages(vec![
            Message::User(UserMessage::new(vec![
                Part::Data(DataPart::new("", "data:image/png;base64,AAEC")),
                Part::Data(DataPart::new("image/png", "https://example.com/cat.png")),
            ])),
            Message::assistant_tool_calls(vec![ToolCall::function("", "", json!({}))]),
            Message::tool("", "done"),
        ]);
        llm.add_document(Document::new("", serde_json::Value::Null));
        let ret = modelmetry::start_span("search", Kind::Retriever);
        ret.add_query(RetrievalQuery::new("q").embeddings(vec![0.5, f32::NAN]));
    });
    let s = span(&body, "llm");
    let messages = &s["FamilyData"]["Messages"];
    assert_eq!(
        messages[0]["Contents"][0],
        json!({"MimeType": "image/png", "Data": "AAEC"}),
        "a data: URL is unwrapped"
    );
    assert_eq!(
        messages[0]["Contents"][1]["Data"], "",
        "a URL is not base64: moved out"
    );
    assert_eq!(messages[1]["ToolCalls"][0]["ID"], "unknown");
    assert_eq!(messages[1]["ToolCalls"][0]["Function"]["Name"], "unknown");
    assert_eq!(messages[2]["ToolCallID"], "unknown");
    let doc = &s["FamilyData"]["Documents"][0];
    assert_eq!(
        (&doc["Identifier"], &doc["Title"], &doc["ContentType"]),
        (
            &json!("unknown"),
            &json!("unknown"),
            &json!("application/octet-stream")
        )
    );
    let notes = invalid(s);
    assert_eq!(
        notes["FamilyData.Messages[0].Contents[1].Data"].0,
        json!("https://example.com/cat.png")
    );
    let r = span(&body, "search");
    assert!(r["FamilyData"]["Queries"][0].get("Embeddings").is_none());
    assert_eq!(
        invalid(r)["FamilyData.Queries[0].Embeddings"].0,
        json!([0.5, "NaN"])
    );
}

#[test]
fn non_finite_numbers_in_content_and_metadata_become_text() {
    #[derive(serde::Serialize)]
    struct Scores {
        mean: f64,
        all: Vec<f32>,
    }
    let (trace, body, before, after) = record(Config::default(), || {
        let s = modelmetry::start_span("scored", Kind::Other);
        s.set_input(&Scores {
            mean: f64::NAN,
            all: vec![1.0, f32::INFINITY],
        });
        s.set_metadata("ratio", &f64::NEG_INFINITY);
        modelmetry::Event::new("e").with("nan", &f64::NAN).record();
        // A finding's value cannot be text by accident: a non-finite one is dropped, counted.
        assert!(!Finding::new("score", f64::NAN).record());
        Finding::new("ok", 1)
            .metadata("inf", &f64::INFINITY)
            .record();
    });
    let s = span(&body, "scored");
    assert_eq!(
        s["Metadata"]["input"],
        json!({"mean": "NaN", "all": [1.0, "Infinity"]})
    );
    assert_eq!(s["Metadata"]["ratio"], "-Infinity");
    assert_eq!(body["Events"][0]["Metadata"]["nan"], "NaN");
    assert_eq!(body["Findings"][0]["Metadata"]["inf"], "Infinity");
    assert_eq!(trace.ingest().findings.len(), 1);
    assert!(!body.to_string().contains("null"), "no silent null: {body}");
    assert_eq!(after.sanitized - before.sanitized, 5);
    assert_eq!(after.dropped.non_finite - before.dropped.non_finite, 1);
}

#[test]
fn a_huge_value_is_cut_when_captured() {
    let prompt = "ü".repeat(3 << 20); // 6 MiB of two-byte characters
    let (_, body, before, after) = record(Config::default().max_value_bytes(64 * 1024), || {
        let s = modelmetry::start_span("llm", Kind::Llm);
        s.set_input(&prompt);
        s.set_metadata("rows", &vec!["row"; 100_000]);
    });
    let s = span(&body, "llm");
    let input = s["Metadata"]["input"].as_str().expect("the input is text");
    assert!(
        input.len() <= 64 * 1024 && input.len() > 60 * 1024,
        "{}",
        input.len()
    );
    assert!(prompt.starts_with(input.trim_end_matches('…')));
    assert!(
        s["Metadata"]["rows"]
            .as_array()
            .is_some_and(|r| r.len() < 20_000)
    );
    let marks = truncated(s);
    assert_eq!(marks["Metadata.input"], (prompt.len() + 2) as u64);
    assert_eq!(marks["Metadata.rows"], 100_000 * 6 + 1);
    assert_eq!(after.truncated - before.truncated, 2);
}

#[test]
fn a_record_over_the_limit_is_cut_field_by_field_not_dropped() {
    let config = Config::default()
        .max_value_bytes(200 * 1024)
        .max_record_bytes(256 * 1024)
        .max_batch_bytes(300 * 1024);
    let question = "q".repeat(150 * 1024);
    let (trace, body, before, after) = record(config, || {
        let s = modelmetry::start_span("llm", Kind::Llm);
        s.set_input(&"i".repeat(190 * 1024));
        s.set_output(&"o".repeat(100 * 1024));
        s.set_metadata("small", "kept");
        s.set_messages(vec![
            Message::user(question.clone()),
            Message::assistant("fine"),
        ]);
    });
    let s = span(&body, "llm");
    let len = serde_json::to_vec(s).map(|v| v.len()).unwrap_or(usize::MAX);
    assert!(len <= 256 * 1024, "the span fits: {len}");
    assert_eq!(s["Metadata"]["small"], "kept");
    let messages = &s["FamilyData"]["Messages"];
    assert_eq!(
        messages[1]["Contents"][0]["Text"], "fine",
        "short texts are kept"
    );
    let marks = truncated(s);
    for field in ["Metadata.input", "Metadata.output", "FamilyData.Messages"] {
        assert!(marks.contains_key(field), "{field} marked: {marks:?}");
    }
    // Evenly: the three big strings were cut to about the same length.
    let lens = [
        s["Metadata"]["input"].as_str().map_or(0, str::len),
        s["Metadata"]["output"].as_str().map_or(0, str::len),
        messages[0]["Contents"][0]["Text"]
            .as_str()
            .map_or(0, str::len),
    ];
    assert!(
        lens.iter().max().unwrap_or(&0) - lens.iter().min().unwrap_or(&0) < 64,
        "{lens:?}"
    );
    assert_eq!(after.truncated - before.truncated, 3);
    assert_eq!(after.dropped.too_large, before.dropped.too_large);
    for request in trace.requests() {
        assert!(request.len() <= 300 * 1024, "{}", request.len());
        let v: Value = serde_json::from_str(&request).expect("a request is JSON");
        openapi::assert_valid(&v);
    }
}

#[test]
fn a_session_id_that_is_too_long_is_cut_the_same_everywhere() {
    let long = "s".repeat(5000);
    let (_, body, _, _) = record(Config::default(), || {
        modelmetry::current_trace().set_session_id(long.clone());
    });
    let trace = &body["Traces"][0];
    assert_eq!(trace["SessionID"].as_str().map(str::len), Some(1024));
    assert_eq!(body["Sessions"][0]["XID"], trace["SessionID"]);
    assert_eq!(invalid(trace)["SessionID"].0, json!(long));
}

#[test]
fn values_serde_cannot_write_become_a_note() {
    let by_pair: HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
    let (_, body, _, _) = record(Config::default(), || {
        modelmetry::current_span().set_metadata("pairs", &by_pair);
        modelmetry::current_trace().set_metadata("pairs", &by_pair);
    });
    let text = body["Traces"][0]["Metadata"]["pairs"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("<not serialisable"), "{text}");
}

#[test]
fn many_metadata_entries_and_a_huge_name_still_fit() {
    let name = "n".repeat(600 * 1024);
    let (_, body, _, _) = record(Config::default(), || {
        let s = modelmetry::start_span(name.clone(), Kind::Tool);
        for i in 0..40_000 {
            s.set_metadata(&format!("key-{i}"), &i);
        }
    });
    let spans = body["Spans"].as_array().expect("spans");
    let s = &spans[0];
    let len = serde_json::to_vec(s).map(|v| v.len()).unwrap_or(usize::MAX);
    assert!(len <= 512 * 1024, "{len}");
    assert!(s["Name"].as_str().is_some_and(|n| n.starts_with("nnn")));
    assert!(truncated(s).contains_key("Name"));
    // The recorded body still parses into the wire types.
    let _: IngestSignalsV1RequestBody = serde_json::from_value(body.clone()).expect("reads back");
    assert!(matches!(
        serde_json::from_value::<IngestSignalsV1RequestBody>(body)
            .map(|b| b.spans[0].family_data.clone()),
        Ok(None | Some(FamilyData::Other(_)))
    ));
}

#[test]
fn wide_integers_are_exact_text_and_provider_keys_never_travel() {
    let options: Options =
        serde_json::from_value(json!({"Model": "gpt-4o", "APIKey": "sk-live-123"}))
            .expect("options read");
    let (_, body, _, _) = record(Config::default(), || {
        let s = modelmetry::start_span("llm", Kind::Llm);
        s.set_metadata("id", &u128::MAX);
        s.set_options(options);
    });
    let s = span(&body, "llm");
    assert_eq!(s["Metadata"]["id"], json!(u128::MAX.to_string()));
    assert_eq!(s["FamilyData"]["Options"], json!({"Model": "gpt-4o"}));
    assert!(!body.to_string().contains("sk-live-123"));
}

#[test]
fn findings_and_events_with_no_trace_open_are_dropped_and_counted() {
    let _recorder = Recorder::install();
    let before = modelmetry::stats();
    assert!(!Finding::new("orphan", 1).record());
    assert!(!modelmetry::Event::new("orphan").record());
    let after = modelmetry::stats();
    assert_eq!(
        after.dropped.no_active_trace - before.dropped.no_active_trace,
        2
    );
}
