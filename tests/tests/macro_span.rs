//! `#[span]`: the tree each function shape produces, inputs and outputs, results, panics,
//! early returns, `?`, methods, generics, skip and the options.

use std::cell::Cell;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::CreateSpanParams;
use modelmetry::{Config, span, trace};
use serde::Serialize;
use serde_json::{Value, json};

fn span<'a>(t: &'a RecordedTrace, name: &str) -> &'a CreateSpanParams {
    t.ingest()
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in\n{}", t.tree()))
}

fn only(recorder: &Recorder) -> RecordedTrace {
    let mut traces = recorder.take();
    assert_eq!(traces.len(), 1, "expected one trace");
    traces.remove(0)
}

#[span(
    kind = "llm",
    name = "llm.generate",
    model = "gpt-4o-mini",
    provider = "openai"
)]
fn generate(prompt: &str) -> String {
    format!("echo: {prompt}")
}

#[span(kind = "tool")]
fn lookup(id: u32) -> Result<u32, String> {
    if id == 0 {
        return Err("no such order".to_owned());
    }
    Ok(id * 10)
}

#[span(kind = "chain")]
fn pipeline(text: &str) -> Result<u32, String> {
    let reply = generate(text);
    let n = lookup(reply.len() as u32)?;
    let m = lookup(0)?;
    Ok(n + m)
}

#[trace(name = "turn")]
fn turn(text: &str) -> Result<u32, String> {
    pipeline(text)
}

#[test]
fn nested_spans_form_the_tree_and_an_err_marks_each_level() {
    let recorder = Recorder::install();
    assert_eq!(turn("hi"), Err("no such order".to_owned()));
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn  error: no such order
└── chain pipeline  error: no such order
    ├── llm llm.generate  gpt-4o-mini
    ├── tool lookup
    └── tool lookup  error: no such order
"
    );
    let gen_span = span(&t, "llm.generate");
    assert_eq!(gen_span.metadata["input"], json!({"prompt": "hi"}));
    assert_eq!(gen_span.metadata["output"], json!("echo: hi"));
    let options = serde_json::to_value(&gen_span.family_data).unwrap();
    assert_eq!(options["Options"]["Model"], "gpt-4o-mini");
    assert_eq!(options["Options"]["Provider"], "openai");
    let ok_lookup = &t
        .ingest()
        .spans
        .iter()
        .filter(|s| s.name == "lookup")
        .collect::<Vec<_>>();
    assert_eq!(ok_lookup[0].metadata["input"], json!({"id": 8}));
    assert_eq!(
        ok_lookup[0].metadata["output"],
        json!(80),
        "Ok(v) records v"
    );
    assert_eq!(ok_lookup[1].message.as_deref(), Some("no such order"));
    assert!(
        ok_lookup[1].metadata.get("output").is_none(),
        "an Err records no output"
    );
}

#[derive(Serialize)]
struct Order {
    id: String,
    total: f64,
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)] // read through Debug
    code: u8,
}

struct Opaque;

#[span]
fn capture_kinds(order: &Order, debug: DebugOnly, opaque: Opaque, count: usize) -> Vec<u8> {
    let _ = (debug, opaque);
    vec![count as u8]
}

#[test]
fn inputs_are_json_else_debug_else_a_placeholder() {
    let recorder = Recorder::install_with(Config::default().capture_debug(true));
    capture_kinds(
        &Order {
            id: "A-1".into(),
            total: 9.5,
        },
        DebugOnly { code: 7 },
        Opaque,
        3,
    );
    let t = only(&recorder);
    let input = &span(&t, "capture_kinds").metadata["input"];
    assert_eq!(input["order"], json!({"id": "A-1", "total": 9.5}));
    assert_eq!(input["debug"], json!("DebugOnly { code: 7 }"));
    let placeholder = input["opaque"].as_str().unwrap();
    assert!(
        placeholder.contains("Opaque") && placeholder.contains("neither Serialize nor Debug"),
        "{placeholder}"
    );
    assert_eq!(input["count"], json!(3));
    assert_eq!(span(&t, "capture_kinds").metadata["output"], json!([3]));
}

/// A value that is `Debug` but not `Serialize` is not captured by its `Debug` text unless
/// `capture_debug` is on (its fields may be anything): a placeholder names its type.
#[test]
fn debug_text_is_opt_in() {
    let recorder = Recorder::install();
    capture_kinds(
        &Order {
            id: "A-1".into(),
            total: 9.5,
        },
        DebugOnly { code: 7 },
        Opaque,
        3,
    );
    let t = only(&recorder);
    let input = &span(&t, "capture_kinds").metadata["input"];
    assert_eq!(input["order"], json!({"id": "A-1", "total": 9.5}));
    assert_eq!(
        input["debug"],
        json!("<debug capture off: macro_span::DebugOnly>")
    );
    assert!(!t.records().concat().contains("code: 7"));
}

#[span(skip(api_key))]
fn skip_one(api_key: &str, question: &str) -> usize {
    api_key.len() + question.len()
}

#[span(skip_all)]
fn skip_everything(api_key: &str) -> usize {
    api_key.len()
}

#[span(output = false, metadata(version = 2, "route.name" = "orders"))]
fn no_output(x: u8) -> String {
    format!("secret-{x}")
}

#[span(output = false)]
fn no_output_but_errors() -> Result<String, String> {
    Err("still an error".to_owned())
}

#[test]
fn skip_skip_all_output_false_and_metadata() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        skip_one("sk-123", "why");
        skip_everything("sk-123");
        no_output(1);
        let _ = no_output_but_errors();
    }
    let t = only(&recorder);
    assert_eq!(
        span(&t, "skip_one").metadata["input"],
        json!({"question": "why"})
    );
    assert!(span(&t, "skip_everything").metadata.get("input").is_none());
    assert_eq!(span(&t, "skip_everything").metadata["output"], json!(6));
    let n = span(&t, "no_output");
    assert!(n.metadata.get("output").is_none());
    assert_eq!(n.metadata["version"], json!(2));
    assert_eq!(n.metadata["route.name"], json!("orders"));
    assert_eq!(n.metadata["input"], json!({"x": 1}));
    let e = span(&t, "no_output_but_errors");
    assert_eq!(e.message.as_deref(), Some("still an error"));
    assert!(e.metadata.get("output").is_none());
    assert!(
        !serde_json::to_string(t.ingest())
            .unwrap()
            .contains("sk-123")
    );
}

#[span]
fn boom(n: u8) -> u8 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[trace]
fn traced_boom() -> u8 {
    boom(1)
}

#[test]
fn a_panic_closes_the_span_as_an_error_and_keeps_unwinding() {
    let recorder = Recorder::install();
    let caught = std::panic::catch_unwind(traced_boom);
    let payload = caught.expect_err("the panic keeps unwinding");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom 1")
    );
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace traced_boom  error: panicked: boom 1
└── other boom  error: panicked: boom 1
"
    );
    // The stack is clean: the next trace starts fresh.
    {
        let _t = modelmetry::start_trace("after");
    }
    assert_eq!(recorder.take_trees(), "trace after\n");
}

#[span]
fn early_return(n: i32) -> &'static str {
    if n < 0 {
        return "negative";
    }
    "non-negative"
}

#[span]
fn breaks(values: &[i32]) -> i32 {
    let mut i = 0;
    loop {
        if values[i] > 2 {
            break values[i] * 10;
        }
        i += 1;
    }
}

#[span]
fn question_mark_option(values: &[u8]) -> Option<u8> {
    let first = values.first()?;
    Some(*first)
}

#[span]
fn parse(text: &str) -> Result<i64, std::num::ParseIntError> {
    let n: i64 = text.trim().parse()?;
    Ok(n)
}

#[test]
fn return_break_and_question_mark_behave_as_without_the_macro() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        assert_eq!(early_return(-1), "negative");
        assert_eq!(early_return(1), "non-negative");
        assert_eq!(breaks(&[1, 2, 3, 4]), 30);
        assert_eq!(question_mark_option(&[]), None);
        assert_eq!(question_mark_option(&[4]), Some(4));
        assert_eq!(parse(" 12 "), Ok(12));
        assert!(parse("x").is_err());
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace t
├── other early_return
├── other early_return
├── other breaks
├── other question_mark_option
├── other question_mark_option
├── other parse
└── other parse  error: invalid digit found in string
"
    );
    let outputs: Vec<Option<&Value>> = t
        .ingest()
        .spans
        .iter()
        .map(|s| s.metadata.get("output"))
        .collect();
    assert_eq!(
        outputs,
        vec![
            Some(&json!("negative")),
            Some(&json!("non-negative")),
            Some(&json!(30)),
            None, // None is null: not recorded
            Some(&json!(4)),
            Some(&json!(12)),
            None,
        ]
    );
}

#[derive(Debug)]
struct Client {
    name: String,
    calls: u32,
}

impl Client {
    #[span]
    fn new(name: &str) -> Self {
        Client {
            name: name.to_owned(),
            calls: 0,
        }
    }

    #[span(kind = "llm")]
    fn name(&self) -> &str {
        &self.name
    }

    #[span]
    fn calls_mut(&mut self) -> &mut u32 {
        self.calls += 1;
        &mut self.calls
    }

    #[span]
    fn into_calls(self) -> u32 {
        self.calls
    }
}

#[span]
fn generic_debug<T: std::fmt::Debug>(value: T) -> T {
    value
}

#[span]
fn generic_unbounded<T>(value: T) -> usize {
    std::mem::size_of_val(&value)
}

#[span]
fn generic_where<T>(items: &[T]) -> usize
where
    T: Serialize,
{
    items.len()
}

#[test]
fn methods_and_generics() {
    let recorder = Recorder::install_with(Config::default().capture_debug(true));
    {
        let _t = modelmetry::start_trace("t");
        let mut c = Client::new("alpha");
        assert_eq!(c.name(), "alpha");
        *c.calls_mut() += 5;
        assert_eq!(c.into_calls(), 6);
        generic_debug(Some(1));
        generic_unbounded(2u16);
        generic_where(&["a", "b"]);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace t
├── other new
├── llm name
├── other calls_mut
├── other into_calls
├── other generic_debug
├── other generic_unbounded
└── other generic_where
"
    );
    // `self` is never captured; the other arguments are.
    assert!(span(&t, "name").metadata.get("input").is_none());
    assert_eq!(span(&t, "name").metadata["output"], json!("alpha"));
    // A `Client` returned by `new` is captured by its Debug text (no Serialize).
    assert_eq!(
        span(&t, "new").metadata["output"],
        json!("Client { name: \"alpha\", calls: 0 }")
    );
    // Generic parameters are captured as their bounds allow.
    assert_eq!(
        span(&t, "generic_debug").metadata["input"],
        json!({"value": "Some(1)"})
    );
    let unbounded = span(&t, "generic_unbounded").metadata["input"]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(unbounded.contains("u16"), "{unbounded}");
    assert_eq!(
        span(&t, "generic_where").metadata["input"],
        json!({"items": ["a", "b"]})
    );
}

/// Serialises, counting how often: shows what is captured, and when.
struct Counted<'a>(&'a Cell<u32>);

impl Serialize for Counted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.set(self.0.get() + 1);
        s.serialize_str("counted")
    }
}

#[span(metadata(tag = Counted(calls)))]
fn counted<'a>(calls: &'a Cell<u32>, arg: Counted<'a>) -> Counted<'a> {
    arg
}

#[test]
fn nothing_is_captured_when_tracing_is_off_or_content_capture_is_off() {
    let _lock = modelmetry::testing::lock();
    let calls = Cell::new(0);
    {
        let _off = Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .init()
            .unwrap();
        counted(&calls, Counted(&calls));
        assert_eq!(calls.get(), 0, "tracing off: nothing serialised");
    }
    drop(_lock);

    let recorder = Recorder::install_with(Config::default().capture_content(false));
    counted(&calls, Counted(&calls));
    assert_eq!(
        calls.get(),
        1,
        "content off: only the metadata is serialised"
    );
    let t = only(&recorder);
    let s = span(&t, "counted");
    assert!(s.metadata.get("input").is_none() && s.metadata.get("output").is_none());
    assert_eq!(s.metadata["tag"], json!("counted"));
    drop(recorder);

    let recorder = Recorder::install();
    counted(&calls, Counted(&calls));
    assert_eq!(calls.get(), 1 + 3, "input, output and metadata, once each");
    let t = only(&recorder);
    assert_eq!(span(&t, "counted").metadata["output"], json!("counted"));
}

#[derive(Debug)]
struct BigDebug(#[allow(dead_code)] String); // read through Debug

#[span]
fn huge(prompt: String, notes: BigDebug) -> String {
    drop(notes);
    prompt
}

#[test]
fn huge_arguments_and_outputs_are_capped_and_the_cut_is_noted() {
    let recorder =
        Recorder::install_with(Config::default().max_value_bytes(1024).capture_debug(true));
    let big = "x".repeat(10_000);
    huge(big.clone(), BigDebug(big));
    let t = only(&recorder);
    let s = span(&t, "huge");
    let prompt = s.metadata["input"]["prompt"].as_str().unwrap();
    assert!(
        prompt.len() <= 1024 && prompt.ends_with('…'),
        "{}",
        prompt.len()
    );
    let notes = s.metadata["input"]["notes"].as_str().unwrap();
    assert!(
        notes.len() <= 1024 + 4 && notes.ends_with('…'),
        "{}",
        notes.len()
    );
    let cut: Vec<&str> = s.metadata["modelmetry.truncated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        cut,
        [
            "Metadata.input.prompt",
            "Metadata.input.notes",
            "Metadata.output"
        ]
    );
}
