//! The wire contract: what the SDK sends validates against the Modelmetry OpenAPI spec's
//! schemas (JSON Schema 2020-12, `$ref`s resolved inside the spec), not only against our own
//! serde types. Batches are produced through the public API and recorded with
//! `testing::Recorder`; hand-built wire values cover what the API never fills.

mod openapi;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::{
    CompletionFamilyData, CreateEventParams, CreateFindingParams, CreateSessionParams,
    CreateSpanParams, CreateTraceParams, Family, FamilyData, FindingSource,
    IngestSignalsV1RequestBody, OtherFamilyData,
};
use modelmetry::{
    AssistantMessage, Cost, DataPart, Detail, Document, Event, Finding, FindingValue, Kind,
    Message, Money, Options, Part, RetrievalQuery, Severity, SystemMessage, Tool, ToolCall,
    ToolMessage, Usage, UsageValue, UserMessage,
};
use openapi::{Component, assert_valid, body_errors};
use serde_json::{Value, json};

/// A one-pixel PNG, base64 (standard alphabet, padded).
const PIXEL_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

fn object(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn full_options() -> Options {
    Options::new()
        .api_version("2024-06-01")
        .base_url("https://api.openai.com/v1")
        .deployment_id("prod-eu")
        .frequency_penalty(0.5)
        .function_call("auto")
        .functions(vec!["GetOrderInformation".into()])
        .logit_bias(object(json!({"50256": -100})))
        .logprobs(true)
        .max_tokens(512)
        .model("gpt-4o-mini")
        .model_list(vec!["gpt-4o-mini".into(), "gpt-4o".into()])
        .n(1)
        .presence_penalty(-0.25)
        .provider("openai")
        .response_format(object(json!({"type": "json_object"})))
        .seed(42)
        .stop(object(json!({"sequences": ["\n\n"]})))
        .stream(false)
        .temperature(0.7)
        .timeout(30.0)
        .tool_choice("auto")
        .tools(vec![Tool::new(
            "GetOrderInformation",
            "Look an order up by its id",
            json!({"type": "object", "properties": {"order_id": {"type": "string"}}}),
        )])
        .top_logprobs(3)
        .top_p(0.9)
        .user("customer-7")
}

fn document(id: &str) -> Document {
    Document::new(format!("kb://orders/{id}"), "Orders ship within two days.")
        .title(format!("Order {id}"))
        .metadata("score", 0.82)
}

/// One trace through the public API with every span family, every message role, text and data
/// parts, tool calls, options, usage, cost, documents, queries, events on spans and on the
/// trace, findings of all three value types, an error span and a session.
fn record_everything() -> IngestSignalsV1RequestBody {
    record_everything_as_sent().ingest().clone()
}

fn record_everything_as_sent() -> RecordedTrace {
    let recorder = Recorder::install();
    {
        let trace = modelmetry::start_trace("chatbot.turn");
        trace.set_session_id("conversation-42");
        trace.set_user_id("customer-7");
        trace.add_tags(["support", "orders"]);
        trace.set_metadata("release", "2026.11");
        trace.set_input("Where is my order #A-1042?");
        {
            let llm = modelmetry::start_span("llm.generate", Kind::Llm);
            llm.set_options(full_options());
            let call = ToolCall::function(
                "call_1",
                "GetOrderInformation",
                json!({"order_id": "A-1042"}),
            );
            llm.set_messages(vec![
                Message::system("You are a support agent."),
                UserMessage::new(vec![
                    Part::text("Where is my order? Here is the receipt:"),
                    DataPart::new("image/png", PIXEL_PNG)
                        .detail(Detail::Low)
                        .into(),
                ])
                .name("customer")
                .into(),
                Message::assistant_tool_calls(vec![call]),
                Message::tool("call_1", r#"{"status":"shipped"}"#),
                Message::assistant("It shipped yesterday."),
            ]);
            llm.set_usage(Usage::tokens(120, 18));
            llm.set_cost(Cost::new(0.000_018, 0.000_010_8, "USD"));
            llm.add_document(document("A-1042"));
            llm.set_input("Where is my order #A-1042?");
            llm.set_output("It shipped yesterday.");
            Event::new("tool_selected")
                .with("tool", "GetOrderInformation")
                .record();
            Finding::new("input_tokens", 120).record();
            Finding::new("grounded", true)
                .description("answer cites a document")
                .record();
            Finding::new("verdict", "pass")
                .comment("rule-based")
                .metadata("rule", "r1")
                .record();
        }
        {
            let emb = modelmetry::start_span("embed.query", Kind::Embeddings);
            emb.set_model("text-embedding-3-small");
            emb.set_provider("openai");
            emb.set_embedding_inputs(vec!["order A-1042 status".into()]);
            let ret = modelmetry::start_span("kb.search", Kind::Retriever);
            ret.add_query(
                RetrievalQuery::new("order A-1042 status").embeddings(vec![0.1, -0.2, 0.3]),
            );
            ret.add_document(document("A-1042"));
            ret.add_document(document("shipping-policy"));
        }
        {
            let tool = modelmetry::start_span("GetOrderInformation", Kind::Tool);
            tool.set_input(&json!({"order_id": "A-1042"}));
            tool.set_output(&json!({"status": "shipped"}));
            tool.set_usage(Usage::tokens(1, 1)); // kept in metadata: a tool has no usage field
            tool.record_error(&"upstream timed out once");
        }
        for kind in [Kind::Agent, Kind::Chain, Kind::Other] {
            let span = modelmetry::start_span(kind.as_str(), kind);
            span.set_severity(Severity::Warning);
            span.set_message("slow");
        }
        // Signals on the trace itself.
        modelmetry::current_trace().record_finding(Finding::new("response_safe_score", 0.93));
        Event::new("turn_done").record();
    }
    let mut traces = recorder.take();
    assert_eq!(traces.len(), 1, "one trace recorded");
    traces.remove(0)
}

/// The keys that appear twice in one object, anywhere in `json`.
fn repeated_keys(json: &str) -> Vec<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Walk<'r>(&'r mut Vec<String>);
    impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = a.next_key::<String>()? {
                if !seen.insert(k.clone()) {
                    self.0.push(k);
                }
                a.next_value_seed(Walk(self.0))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            while a.next_element_seed(Walk(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    serde::de::DeserializeSeed::deserialize(Walk(&mut found), &mut de)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    let _ = IgnoredAny;
    found
}

#[test]
fn the_repeated_key_check_finds_one() {
    assert_eq!(repeated_keys(r#"{"a":1,"b":[{"k":1,"k":2}]}"#), ["k"]);
    assert!(repeated_keys(r#"{"a":{"a":1}}"#).is_empty());
}

/// What is sent, byte for byte (not a re-encoding): every request body has no key twice, at
/// any depth, and validates against the spec, whatever order `serde_json::Map` iterates in.
/// `cargo test --workspace` runs it with serde_json's `preserve_order` on (genai's serde_json,
/// in tests/genai, turns it on for the whole build, as any crate in a user's build may), and CI
/// once more without it (`cargo test -p modelmetry-tests`, whose build has no genai).
#[test]
fn the_bytes_sent_have_no_repeated_key_and_validate_against_the_spec() {
    let everything = record_everything_as_sent();
    // And a span whose metadata names the SDK's own keys, with a value `sanitize` moves, so
    // that every rule of the metadata merge is in the bytes.
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("keys");
        let tool = modelmetry::start_span("tool", Kind::Tool);
        tool.set_metadata("kind", "mine");
        tool.set_metadata("input", "overridden");
        tool.set_metadata("modelmetry.invalid", &json!([{"field": "x"}]));
        tool.set_metadata("zeta", &1);
        tool.set_metadata("alpha", &2);
        tool.set_input("the input");
        tool.set_usage(Usage::tokens(1, 2));
        let llm = modelmetry::start_span("llm", Kind::Llm);
        llm.set_metadata("kind", "mine");
        llm.set_options(Options::new().temperature(1.7));
        llm.set_cost(Cost::new(0.1, 0.2, "usd"));
    }
    let keys = recorder.take().remove(0);
    let mut bodies = 0;
    for recorded in [&everything, &keys] {
        for body in recorded.requests() {
            bodies += 1;
            assert_eq!(repeated_keys(&body), Vec::<String>::new(), "{body}");
            let value: Value = serde_json::from_str(&body).expect("a body is JSON");
            assert_valid(&value);
        }
        for record in recorded.records() {
            assert!(repeated_keys(record).is_empty(), "{record}");
        }
    }
    assert!(bodies >= 2);
    let spans = &keys.ingest().spans;
    let tool = &spans[0].metadata;
    assert_eq!(tool["kind"], "mine", "the user's kind wins");
    assert_eq!(tool["input"], "the input", "the SDK's input wins");
    assert_eq!(
        (tool["zeta"].clone(), tool["alpha"].clone()),
        (json!(1), json!(2))
    );
    let llm = &spans[1].metadata;
    let notes = llm["modelmetry.invalid"].as_array().expect("notes");
    assert_eq!(
        notes.len(),
        4,
        "temperature and three currencies: {notes:?}"
    );
    assert_eq!(
        keys.ingest().spans[0].metadata["modelmetry.invalid"],
        json!([{"field": "x"}])
    );
}

fn families(body: &IngestSignalsV1RequestBody) -> Vec<Option<Family>> {
    body.spans.iter().map(|s| s.family).collect()
}

#[test]
fn a_trace_of_every_family_validates_against_the_spec() {
    let body = record_everything();
    // The batch really holds what this test claims to check.
    let fam = families(&body);
    for f in [
        Family::Completion,
        Family::Embeddings,
        Family::Retrieval,
        Family::Other,
    ] {
        assert!(fam.contains(&Some(f)), "a {f:?} span in {fam:?}");
    }
    let completion = body
        .spans
        .iter()
        .find_map(|s| match &s.family_data {
            Some(FamilyData::Completion(c)) => Some(c),
            _ => None,
        })
        .expect("a completion span");
    let roles: Vec<&str> = completion.messages.iter().map(Message::role).collect();
    for role in ["system", "user", "assistant", "tool"] {
        assert!(roles.contains(&role), "a {role} message in {roles:?}");
    }
    assert!(completion.options.is_some() && completion.usage.is_some());
    assert!(completion.cost.is_some() && !completion.documents.is_empty());
    let values: Vec<&FindingValue> = body.findings.iter().map(|f| &f.value).collect();
    assert!(values.iter().any(|v| matches!(v, FindingValue::Number(_))));
    assert!(values.iter().any(|v| matches!(v, FindingValue::Bool(_))));
    assert!(values.iter().any(|v| matches!(v, FindingValue::Text(_))));
    assert!(
        body.events.iter().any(|e| e.span_id.is_none()),
        "an event on the trace"
    );
    assert!(
        body.findings.iter().any(|f| f.span_id.is_none()),
        "a finding on the trace"
    );
    assert_eq!(body.sessions.len(), 1);
    assert_eq!(body.traces.len(), 1);

    let json = serde_json::to_value(&body).expect("the body serialises");
    assert_valid(&json);
}

#[test]
fn each_record_validates_against_its_own_component() {
    let body = serde_json::to_value(record_everything()).expect("serialises");
    for (section, component) in [
        ("Traces", "CreateTraceParams"),
        ("Spans", "CreateSpanParams"),
        ("Events", "CreateEventParams"),
        ("Findings", "CreateFindingParams"),
        ("Sessions", "CreateSessionParams"),
    ] {
        let schema = Component::new(component);
        let records = body[section].as_array().expect("every section is present");
        assert!(!records.is_empty(), "{section} is not empty");
        for r in records {
            let errors = schema.errors(r);
            assert!(
                errors.is_empty(),
                "{section} record breaks {component}: {errors:?}\n{r}"
            );
        }
    }
}

#[test]
fn spans_with_nothing_set_still_carry_their_familys_required_fields() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("bare");
        for kind in Kind::ALL {
            let _s = modelmetry::start_span(kind.as_str(), kind);
        }
    }
    let body = serde_json::to_value(recorder.take()[0].ingest()).expect("serialises");
    assert_eq!(
        body["Spans"].as_array().map(Vec::len),
        Some(Kind::ALL.len())
    );
    assert_valid(&body);
}

/// Every field the API never fills (EntryID, event/finding ids, a session name and metadata,
/// Message names, `Detail`, null-able arrays) still validates when set by hand.
fn hand_built() -> IngestSignalsV1RequestBody {
    let trace = "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b".to_owned();
    let span = "0190a3c4-5b6d-7e8f-9a0b-000000000001".to_owned();
    let at = "2026-11-22T03:14:57.123456Z".to_owned();
    IngestSignalsV1RequestBody {
        traces: vec![CreateTraceParams {
            xid: trace.clone(),
            name: Some("batch".into()),
            session_id: Some("s-1".into()),
            start: at.clone(),
            end: Some("2026-11-22T03:14:58Z".into()),
            metadata: json!({"nested": {"a": [1, 2.5, null, "x"]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }],
        spans: vec![
            CreateSpanParams {
                xid: span.clone(),
                trace_id: trace.clone(),
                parent_id: None,
                name: "llm".into(),
                start: at.clone(),
                end: at.clone(),
                family: Some(Family::Completion),
                family_data: Some(FamilyData::Completion(CompletionFamilyData {
                    messages: vec![
                        SystemMessage::new(vec![Part::text("be brief")])
                            .name("policy")
                            .into(),
                        AssistantMessage::new(vec![])
                            .name("bot")
                            .tool_calls(vec![ToolCall::function("c", "f", Value::Null)])
                            .into(),
                        ToolMessage::new(
                            "c",
                            vec![
                                DataPart::new("application/octet-stream", "AAEC")
                                    .detail(Detail::Auto)
                                    .into(),
                            ],
                        )
                        .into(),
                    ],
                    options: Some(Options::new().temperature(0.0).top_p(1.0).timeout(0.0)),
                    usage: Some(Usage::new().input(UsageValue::new(0.5, "characters"))),
                    cost: Some(Cost::default().total(Money::new(1e-9, "EUR"))),
                    documents: vec![Document::new("d", json!({"k": [1, 2]})).title("t")],
                })),
                message: Some("ok".into()),
                severity: Some(Severity::Debug),
                metadata: Default::default(),
            },
            CreateSpanParams {
                xid: "0190a3c4-5b6d-7e8f-9a0b-000000000002".into(),
                trace_id: trace.clone(),
                parent_id: Some(span.clone()),
                name: "noop".into(),
                start: at.clone(),
                end: at.clone(),
                family: Some(Family::Other),
                family_data: Some(FamilyData::Other(OtherFamilyData {})),
                message: None,
                severity: Some(Severity::Info),
                metadata: Default::default(),
            },
        ],
        events: vec![CreateEventParams {
            xid: "0190a3c4-5b6d-7e8f-9a0b-00000000000e".into(),
            name: "e".into(),
            at: Some(at.clone()),
            trace_id: Some(trace.clone()),
            span_id: Some(span.clone()),
            entry_id: Some("entry-1".into()),
            metadata: Default::default(),
        }],
        findings: vec![CreateFindingParams {
            xid: "0190a3c4-5b6d-7e8f-9a0b-00000000000f".into(),
            name: "f".into(),
            value: FindingValue::Number(-0.0),
            at: Some(at),
            comment: Some("c".into()),
            description: Some("d".into()),
            source: Some(FindingSource::Annotation),
            trace_id: Some(trace),
            span_id: None,
            entry_id: Some("entry-1".into()),
            metadata: Default::default(),
        }],
        sessions: vec![CreateSessionParams {
            xid: "s-1".into(),
            name: Some("support chat".into()),
            metadata: json!({"channel": "web"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        }],
    }
}

#[test]
fn hand_built_wire_values_validate_and_round_trip() {
    let body = hand_built();
    let json = serde_json::to_value(&body).expect("serialises");
    assert_valid(&json);
    let back: IngestSignalsV1RequestBody = serde_json::from_value(json).expect("deserialises");
    assert_eq!(back, body);
}

/// Each bad change to a valid body, and the JSON pointer of the value it changes.
fn breakages() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "temperature above 1",
            "/Spans/0/FamilyData/Options/Temperature",
            json!(1.5),
        ),
        (
            "negative top_p",
            "/Spans/0/FamilyData/Options/TopP",
            json!(-0.1),
        ),
        (
            "negative timeout",
            "/Spans/0/FamilyData/Options/Timeout",
            json!(-1),
        ),
        (
            "lower-case currency",
            "/Spans/0/FamilyData/Cost/Total/Currency",
            json!("eur"),
        ),
        (
            "a NaN turned null",
            "/Spans/0/FamilyData/Usage/Input/Amount",
            Value::Null,
        ),
        (
            "a date that is not RFC 3339",
            "/Traces/0/Start",
            json!("yesterday"),
        ),
        ("a finding value of null", "/Findings/0/Value", Value::Null),
        (
            "an unknown role",
            "/Spans/0/FamilyData/Messages/0/Role",
            json!("robot"),
        ),
        (
            "data that is not base64",
            "/Spans/0/FamilyData/Messages/2/Contents/0/Data",
            json!("not base64!"),
        ),
        (
            "an unknown detail",
            "/Spans/0/FamilyData/Messages/2/Contents/0/Detail",
            json!("max"),
        ),
        (
            "a tool call of another type",
            "/Spans/0/FamilyData/Messages/1/ToolCalls/0/Type",
            json!("code"),
        ),
        (
            "an unknown finding source",
            "/Findings/0/Source",
            json!("robot"),
        ),
        (
            "a session XID that is a number",
            "/Sessions/0/XID",
            json!(7),
        ),
        (
            "other-family data with a field",
            "/Spans/1/FamilyData/Messages",
            json!([]),
        ),
    ]
}

#[test]
fn the_validator_rejects_known_bad_bodies() {
    let good = serde_json::to_value(hand_built()).expect("serialises");
    assert!(body_errors(&good).is_empty(), "the starting body is valid");
    for (what, pointer, bad) in breakages() {
        let mut body = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
        let slot = body
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{what}: {parent} is an object"));
        slot.insert(key.to_owned(), bad);
        let errors = body_errors(&body);
        // Refused, and for this change: an error points at the value or at its parent.
        let at_the_change = errors.iter().any(|e| {
            let path = e.split(':').next().unwrap_or("");
            !path.is_empty() && pointer.starts_with(path)
        });
        assert!(
            at_the_change,
            "{what}: not refused at {pointer}: {errors:?}"
        );
    }
}

#[test]
fn the_validator_rejects_missing_required_fields_and_unknown_ones() {
    let good = serde_json::to_value(hand_built()).expect("serialises");
    for (what, pointer) in [
        ("a span without Name", "/Spans/0/Name"),
        ("a span without End", "/Spans/0/End"),
        ("a trace without Start", "/Traces/0/Start"),
        ("a finding without Value", "/Findings/0/Value"),
        ("an event without XID", "/Events/0/XID"),
        (
            "a document without Title",
            "/Spans/0/FamilyData/Documents/0/Title",
        ),
        (
            "a tool message without ToolCallID",
            "/Spans/0/FamilyData/Messages/2/ToolCallID",
        ),
        (
            "a usage value without Unit",
            "/Spans/0/FamilyData/Usage/Input/Unit",
        ),
    ] {
        let mut body = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
        let removed = body
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|o| o.remove(key));
        assert!(removed.is_some(), "{what}: {pointer} was there to remove");
        assert!(
            !body_errors(&body).is_empty(),
            "{what}: the validator accepted it"
        );
    }
    let mut body = good.clone();
    body["Spans"][0]["Colour"] = json!("blue");
    assert!(
        !body_errors(&body).is_empty(),
        "an unknown span field is refused"
    );
    let mut body = good;
    body["Spans"][0]["FamilyData"]["Options"]["APIKey"] = json!("sk-1");
    assert!(
        body_errors(&body).is_empty(),
        "APIKey is in the spec (the SDK never sends it, which wire.rs tests)"
    );
}

#[test]
fn the_spec_copy_matches_the_shared_reference() {
    // The tests carry their own copy so that they run from the repository alone; when the
    // shared reference sits beside the repository (as in CI), the copy must not have drifted.
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/modelmetry-openapi.yaml"
    );
    match std::fs::read_to_string(shared) {
        Ok(text) => assert!(
            text == openapi::SPEC_YAML,
            "tests/fixtures/modelmetry-openapi.yaml differs from {shared}: copy it again"
        ),
        Err(e) => eprintln!("note: {shared} not readable ({e}); the fixture is used alone"),
    }
    // Either way the fixture is the spec: it holds the ingest body and its components.
    let doc = openapi::document();
    assert!(doc["components"]["schemas"]["IngestSignalsV1RequestBody"].is_object());
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
}
