//! Property tests: random trace trees (any unicode, strings up to megabytes, NaN, ±Inf and
//! extreme numbers, nested metadata, findings of every type) recorded through the public API
//! always give a body that validates against the OpenAPI schema, and every record and every
//! request stays within its byte limit, with nothing lost but non-finite findings (counted).

mod openapi;

use std::collections::BTreeMap;

use modelmetry::testing::Recorder;
use modelmetry::{
    Config, Cost, Document, Event, Finding, Kind, Message, Money, Options, RetrievalQuery,
    ToolCall, Usage,
};
use modelmetry::{DataPart, Part, Tool, UsageValue, UserMessage};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde::Serialize;

/// Any JSON-like value, with floats that JSON cannot carry.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Wide(u128),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(-0.0),
        2 => 0.0..=1.0f64,
        1 => 1.0..2.0f64,
    ]
}

/// Any unicode, now and then repeated up to about `big` bytes.
fn text(big: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        24 => any::<String>(),
        3 => "\\PC{0,40}",
        4 => (any::<String>(), 0..=big).prop_map(|(s, n)| {
            let unit = if s.is_empty() { "\"\\\u{0}é😀".to_owned() } else { s };
            unit.repeat(n / unit.len() + 1)
        }),
    ]
}

fn json(big: usize) -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::Int),
        any::<u128>().prop_map(J::Wide),
        float().prop_map(J::Num),
        text(big).prop_map(J::Str),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            prop::collection::btree_map(any::<String>(), inner, 0..6).prop_map(J::Obj),
        ]
    })
}

#[derive(Clone, Debug)]
enum FindingGen {
    Num(f64),
    Bool(bool),
    Text(String),
}

#[derive(Clone, Debug)]
struct SpanGen {
    name: String,
    kind: usize,
    input: Option<J>,
    output: Option<J>,
    metadata: Vec<(String, J)>,
    temperature: f64,
    top_p: f64,
    timeout: f64,
    penalty: f64,
    amount: f64,
    currency: String,
    id: String,
    data: String,
    texts: Vec<String>,
    doc: (String, String, String, J),
    embedding: Vec<f32>,
    findings: Vec<(String, FindingGen, Option<J>)>,
    events: Vec<(String, J)>,
    children: Vec<SpanGen>,
}

fn finding() -> impl Strategy<Value = FindingGen> {
    prop_oneof![
        float().prop_map(FindingGen::Num),
        any::<bool>().prop_map(FindingGen::Bool),
        text(4096).prop_map(FindingGen::Text),
    ]
}

const BIG: usize = 1_500_000;

fn span_gen() -> impl Strategy<Value = SpanGen> {
    let currency = prop_oneof![
        Just("USD".to_owned()),
        Just("usd".to_owned()),
        Just(String::new()),
        any::<String>(),
    ];
    let leaf = (
        (
            text(BIG),
            0..Kind::ALL.len(),
            prop::option::of(json(BIG)),
            prop::option::of(json(BIG)),
            prop::collection::vec((text(200), json(BIG)), 0..4),
        ),
        (float(), float(), float(), float(), float(), currency),
        (
            text(2048),
            prop_oneof![
                Just("AAEC".to_owned()),
                Just("data:image/png;base64,AAEC".to_owned()),
                text(BIG)
            ],
            prop::collection::vec(text(BIG), 0..3),
            (text(100), text(100), text(40), json(4096)),
            prop::collection::vec(any::<f32>(), 0..8),
        ),
        (
            prop::collection::vec((text(64), finding(), prop::option::of(json(4096))), 0..3),
            prop::collection::vec((text(64), json(4096)), 0..2),
        ),
    )
        .prop_map(
            |(
                (name, kind, input, output, metadata),
                (temperature, top_p, timeout, penalty, amount, currency),
                (id, data, texts, doc, embedding),
                (findings, events),
            )| SpanGen {
                name,
                kind,
                input,
                output,
                metadata,
                temperature,
                top_p,
                timeout,
                penalty,
                amount,
                currency,
                id,
                data,
                texts,
                doc,
                embedding,
                findings,
                events,
                children: Vec::new(),
            },
        );
    leaf.prop_recursive(3, 12, 3, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut s, children)| {
            s.children = children;
            s
        })
    })
}

/// Record `s` and its children through the public API; the number of findings it tried to
/// record with a non-finite number.
fn play(s: &SpanGen) -> u64 {
    let kind = Kind::ALL[s.kind];
    let span = modelmetry::start_span(s.name.clone(), kind);
    if let Some(input) = &s.input {
        span.set_input(input);
    }
    if let Some(output) = &s.output {
        span.set_output(output);
    }
    for (k, v) in &s.metadata {
        span.set_metadata(k, v);
    }
    span.set_options(
        Options::new()
            .model(s.name.clone())
            .temperature(s.temperature)
            .top_p(s.top_p)
            .timeout(s.timeout)
            .presence_penalty(s.penalty)
            .tools(vec![Tool::new(
                s.id.clone(),
                s.name.clone(),
                serde_json::json!({"type": "object"}),
            )]),
    );
    span.set_usage(Usage::tokens(1, 2).input(UsageValue::new(s.amount, s.currency.clone())));
    span.set_cost(Cost::new(0.1, 0.2, "EUR").total(Money::new(s.amount, &s.currency)));
    let mut messages = vec![
        Message::User(UserMessage::new(vec![
            Part::text(s.name.clone()),
            Part::Data(DataPart::new(s.currency.clone(), s.data.clone())),
        ])),
        Message::assistant_tool_calls(vec![ToolCall::function(
            s.id.clone(),
            s.id.clone(),
            serde_json::to_value(&s.doc.3).unwrap_or_default(),
        )]),
        Message::tool(s.id.clone(), s.id.clone()),
    ];
    messages.extend(s.texts.iter().map(|t| Message::assistant(t.clone())));
    span.set_messages(messages);
    span.add_document(
        Document::new(
            s.doc.0.clone(),
            serde_json::to_value(&s.doc.3).unwrap_or_default(),
        )
        .title(s.doc.1.clone())
        .content_type(s.doc.2.clone()),
    );
    span.add_query(RetrievalQuery::new(s.doc.0.clone()).embeddings(s.embedding.clone()));
    span.set_embedding_inputs(s.texts.clone());
    let mut non_finite = 0;
    for (name, value, metadata) in &s.findings {
        let mut f = match value {
            FindingGen::Num(n) => {
                non_finite += u64::from(!n.is_finite());
                Finding::new(name.clone(), *n)
            }
            FindingGen::Bool(b) => Finding::new(name.clone(), *b),
            FindingGen::Text(t) => Finding::new(name.clone(), t.clone()).comment(t.clone()),
        };
        if let Some(m) = metadata {
            f = f.metadata(name, m);
        }
        f.record();
    }
    for (name, value) in &s.events {
        Event::new(name.clone()).with(name, value).record();
    }
    for child in &s.children {
        non_finite += play(child);
    }
    non_finite
}

#[derive(Clone, Debug)]
struct Limits {
    value: usize,
    record: usize,
    batch: usize,
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits {
            value: 256 * 1024,
            record: 512 * 1024,
            batch: 1024 * 1024,
        }),
        (
            4096usize..64 * 1024,
            4096usize..128 * 1024,
            8192usize..256 * 1024
        )
            .prop_map(|(value, record, batch)| Limits {
                value,
                record,
                batch
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_traces_validate_and_fit(
        root in span_gen(),
        session in text(4096),
        trace_meta in json(BIG),
        limits in limits(),
    ) {
        let recorder = Recorder::install_with(
            Config::default()
                .max_value_bytes(limits.value)
                .max_record_bytes(limits.record)
                .max_batch_bytes(limits.batch),
        );
        let before = modelmetry::stats();
        let non_finite = {
            let trace = modelmetry::start_trace(root.name.clone());
            trace.set_session_id(session.clone());
            trace.set_user_id(root.id.clone());
            trace.add_tags([root.doc.0.clone()]);
            trace.set_metadata(&root.id, &trace_meta);
            trace.set_input(&root.input);
            play(&root)
        };
        let after = modelmetry::stats();
        let traces = recorder.take();
        drop(recorder);
        prop_assert_eq!(traces.len(), 1);
        let trace = &traces[0];

        let body = serde_json::to_value(trace.ingest()).expect("the body serialises");
        let errors = openapi::body_errors(&body);
        prop_assert!(errors.is_empty(), "{}\n{}", errors.join("\n"), openapi::preview(&body));

        // Every record within its limit (the limit in force is never above the batch's).
        let record_limit = limits.record.min(limits.batch - 16).max(4096);
        for section in ["Traces", "Spans", "Events", "Findings", "Sessions"] {
            for r in body[section].as_array().into_iter().flatten() {
                let len = serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
                prop_assert!(len <= record_limit, "{section} record of {len} > {record_limit}");
            }
        }
        // Every request within the batch limit, valid, and all records in exactly one.
        let mut sent = 0;
        for request in trace.requests() {
            prop_assert!(request.len() <= limits.batch, "request of {} > {}", request.len(), limits.batch);
            let v: serde_json::Value = serde_json::from_str(&request).expect("a request is JSON");
            let errors = openapi::body_errors(&v);
            prop_assert!(errors.is_empty(), "{}", errors.join("\n"));
            sent += v.as_object().map_or(0, |o| o.values().filter_map(|a| a.as_array()).map(Vec::len).sum::<usize>());
        }
        prop_assert_eq!(sent, trace.ingest().record_count());
        // Nothing lost but the non-finite findings, and those counted.
        prop_assert_eq!(after.dropped.non_finite - before.dropped.non_finite, non_finite);
        prop_assert_eq!(after.dropped.delivery_total(), before.dropped.delivery_total());
        prop_assert_eq!(after.sent - before.sent, after.produced - before.produced);
    }
}
