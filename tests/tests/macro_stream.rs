//! `#[span(stream)]`: a function's span lives as long as the iterator or stream it returns,
//! through the macro. Each case compares the span tree as a text snapshot.

use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::unversioned::wire::CreateSpanParams;
use modelmetry::{Config, Usage, finding, fold, llm, span, start_trace, trace};
use modelmetry_tests::block_on;
use serde::Serialize;
use serde_json::json;

fn span_named<'a>(t: &'a RecordedTrace, name: &str) -> &'a CreateSpanParams {
    t.ingest()
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in\n{}", t.tree()))
}

fn only(recorder: &Recorder) -> RecordedTrace {
    let mut traces = recorder.take();
    assert_eq!(traces.len(), 1, "{traces:?}");
    traces.remove(0)
}

/// Milliseconds between two RFC 3339 times of the same day.
fn millis_between(start: &str, end: &str) -> f64 {
    let secs = |t: &str| {
        let mut parts = t[11..t.len() - 1].split(':');
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        next() * 3600.0 + next() * 60.0 + next()
    };
    (secs(end) - secs(start)) * 1000.0
}

// ---- an iterator consumed to the end ---------------------------------------------------------

#[span(kind = "llm", stream, model = "gpt-4o-mini", provider = "openai")]
fn answer(prompt: &str) -> impl Iterator<Item = &'static str> {
    // The request: runs when the function is called, inside the span.
    std::thread::sleep(Duration::from_millis(20));
    llm::set_usage(Usage::tokens(prompt.len() as u64, 4));
    ["Your ", "order ", "ships ", "tomorrow."]
        .into_iter()
        .inspect(|_| std::thread::sleep(Duration::from_millis(10)))
}

#[trace(name = "turn")]
fn turn_consumed() -> String {
    let answer: String = answer("where is it?").collect();
    first_after(&answer)
}

#[span(kind = "tool")]
fn first_after(text: &str) -> String {
    text.chars().take(4).collect()
}

#[test]
fn a_stream_consumed_to_the_end_closes_after_its_last_item() {
    let recorder = Recorder::install();
    assert_eq!(turn_consumed(), "Your");
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn  cost 0.0000042 USD
├── llm answer  gpt-4o-mini  tokens 12→4  cost 0.0000042 USD
│   └── event first_token
└── tool first_after
"
    );
    let s = span_named(&t, "answer");
    assert_eq!(s.metadata["input"], json!({"prompt": "where is it?"}));
    assert_eq!(s.metadata["output"], json!("Your order ships tomorrow."));
    assert_eq!(s.metadata["items"], json!(4));
    assert!(s.metadata.get("cancelled").is_none(), "{:?}", s.metadata);
    let duration = millis_between(&s.start, &s.end);
    assert!(
        duration >= 55.0,
        "the span covers the request and the four items: {duration} ms"
    );
    let ttft = s.metadata["ttft_ms"].as_f64().expect("ttft_ms");
    assert!(
        (29.0..duration).contains(&ttft),
        "first token after the request's 20 ms and the first item's 10 ms: {ttft} ms"
    );
    let tool = span_named(&t, "first_after");
    assert!(
        tool.start >= s.end,
        "the next step starts after the stream ended"
    );
}

// ---- dropped after one item ------------------------------------------------------------------

#[span(kind = "llm", stream)]
fn endless() -> impl Iterator<Item = String> {
    (1..).map(|n| format!("chunk {n}. "))
}

#[test]
fn a_stream_dropped_after_one_item_is_closed_and_marked_cancelled() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut stream = endless();
        assert_eq!(stream.next().as_deref(), Some("chunk 1. "));
        // The caller hangs up.
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "trace turn\n└── llm endless  cancelled\n    └── event first_token\n"
    );
    let s = span_named(&t, "endless");
    assert_eq!(s.metadata["cancelled"], json!(true));
    assert_eq!(s.metadata["items"], json!(1));
    assert_eq!(s.metadata["output"], json!("chunk 1. "));
}

// ---- errors: an `Err` item, and a request that fails before the stream -----------------------

#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream reset")
    }
}

#[span(kind = "llm", stream)]
fn flaky() -> impl Iterator<Item = Result<String, Reset>> {
    vec![Ok("partial ".to_owned()), Err(Reset), Ok("late".to_owned())].into_iter()
}

/// An error with no `Display`: described by its `Debug` text, as a returned error would be.
#[derive(Debug)]
struct Overloaded {
    #[allow(dead_code)] // read through Debug
    retry_after: u8,
}

#[span(kind = "llm", stream)]
fn overloaded() -> impl Iterator<Item = Result<&'static str, Overloaded>> {
    [Err(Overloaded { retry_after: 3 })].into_iter()
}

#[span(kind = "llm", stream)]
fn connect(up: bool) -> Result<impl Iterator<Item = &'static str>, String> {
    if !up {
        return Err("503 from the provider".to_owned());
    }
    let n: usize = "2"
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    Ok(["a", "b", "c"].into_iter().take(n))
}

#[test]
fn an_err_item_closes_the_span_as_an_error_and_the_stream_goes_on() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let items: Vec<_> = flaky().collect();
        assert_eq!(items.len(), 3, "the stream itself is unchanged");
        assert_eq!(overloaded().count(), 1);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn
├── llm flaky  error: upstream reset
│   └── event first_token
└── llm overloaded  error: Overloaded { retry_after: 3 }
    └── event first_token
"
    );
    let s = span_named(&t, "flaky");
    assert_eq!(s.metadata["output"], json!("partial "));
    assert_eq!(s.metadata["items"], json!(2));
}

#[test]
fn a_request_that_fails_before_streaming_closes_the_span_as_an_error_at_once() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        assert_eq!(
            connect(false).err().as_deref(),
            Some("503 from the provider")
        );
        let ok = connect(true).expect("up");
        assert_eq!(ok.collect::<String>(), "ab");
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn
├── llm connect  error: 503 from the provider
└── llm connect
    └── event first_token
"
    );
    let failed = &t.ingest().spans[0];
    assert!(
        failed.metadata.get("cancelled").is_none(),
        "failed, not cancelled: {:?}",
        failed.metadata
    );
    assert!(failed.metadata.get("output").is_none());
}

// ---- a stream inside a stream ----------------------------------------------------------------

#[span(kind = "llm", stream)]
fn spell(word: &'static str) -> impl Iterator<Item = char> {
    word.chars()
}

#[span(kind = "agent", stream)]
fn shout(words: Vec<&'static str>) -> impl Iterator<Item = String> {
    words
        .into_iter()
        .map(|w| spell(w).map(|c| c.to_ascii_uppercase()).collect())
}

#[test]
fn a_stream_inside_a_stream_nests_under_it() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let out: Vec<String> = shout(vec!["ok", "go"]).collect();
        assert_eq!(out, ["OK", "GO"]);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn
└── agent shout
    ├── llm spell
    │   └── event first_token
    ├── event first_token
    └── llm spell
        └── event first_token
"
    );
    // `String` items are text chunks: joined.
    assert_eq!(span_named(&t, "shout").metadata["output"], json!("OKGO"));
    // `char` items are not text chunks (`AsRef<str>`) but are `Serialize`: a JSON array.
    assert_eq!(
        span_named(&t, "spell").metadata["output"],
        json!(["o", "k"])
    );
}

// ---- findings and usage while streaming ------------------------------------------------------

/// A provider's chunk: text, and the usage in the last one.
#[derive(Serialize)]
struct Chunk {
    delta: &'static str,
    usage: Option<(u64, u64)>,
}

#[span(kind = "llm", stream, model = "gpt-4o")]
fn chunks() -> impl Iterator<Item = Chunk> {
    finding!(request_sent = true);
    let deltas = [("Hi", None), (" there", Some((9, 2)))];
    deltas.into_iter().enumerate().map(|(i, (delta, usage))| {
        // Runs inside next(): the stream's span is current.
        finding!(chunk = i as u32);
        if let Some((input, output)) = usage {
            llm::set_usage(Usage::tokens(input, output));
        }
        Chunk { delta, usage }
    })
}

#[test]
fn findings_and_usage_recorded_while_streaming_land_on_the_stream_span() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let text: String = chunks().map(|c| c.delta).collect();
        assert_eq!(text, "Hi there");
        finding!(after = 1);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn  cost 0.0000425 USD
├── llm chunks  gpt-4o  tokens 9→2  cost 0.0000425 USD
│   ├── finding request_sent = true
│   ├── finding chunk = 0
│   ├── event first_token
│   └── finding chunk = 1
└── finding after = 1
"
    );
    assert_eq!(
        span_named(&t, "chunks").metadata["output"],
        json!([{"delta": "Hi", "usage": null}, {"delta": " there", "usage": [9, 2]}])
    );
}

// ---- the other shapes and options ------------------------------------------------------------

#[span(stream, name = "llm.boxed", kind = "llm")]
fn boxed<'a>(words: &'a [&'a str]) -> Box<dyn Iterator<Item = &'a str> + 'a> {
    Box::new(words.iter().copied())
}

#[span(kind = "llm", stream, output = false)]
fn secret() -> impl Iterator<Item = Result<&'static str, String>> {
    [Ok("top secret"), Err("cut off".to_owned())].into_iter()
}

#[span(
    kind = "llm",
    stream,
    fold = fold::FromFn::new(|out: &mut serde_json::Value, chunk: &Chunk| {
        if let Some((input, output)) = chunk.usage {
            *out = json!({"input_tokens": input, "output_tokens": output});
        }
        Ok(())
    })
)]
fn usage_only() -> impl Iterator<Item = Chunk> {
    [
        Chunk {
            delta: "a",
            usage: None,
        },
        Chunk {
            delta: "b",
            usage: Some((3, 1)),
        },
    ]
    .into_iter()
}

#[test]
fn boxed_returns_output_false_and_a_fold_of_ones_own() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        assert_eq!(boxed(&["x", "y"]).collect::<String>(), "xy");
        assert_eq!(secret().count(), 2);
        assert_eq!(usage_only().count(), 2);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn
├── llm llm.boxed
│   └── event first_token
├── llm secret  error: cut off
│   └── event first_token
└── llm usage_only
    └── event first_token
"
    );
    assert_eq!(span_named(&t, "llm.boxed").metadata["output"], json!("xy"));
    assert_eq!(
        span_named(&t, "llm.boxed").metadata["input"],
        json!({"words": ["x", "y"]})
    );
    assert!(span_named(&t, "secret").metadata.get("output").is_none());
    assert_eq!(
        span_named(&t, "usage_only").metadata["output"],
        json!({"input_tokens": 3, "output_tokens": 1})
    );
}

/// Serialises, counting how often.
struct Counted<'a>(&'a Cell<u32>);

impl Serialize for Counted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.set(self.0.get() + 1);
        s.serialize_str("counted")
    }
}

#[span(stream, skip_all)]
fn counted(calls: &Cell<u32>) -> impl Iterator<Item = Counted<'_>> {
    [Counted(calls), Counted(calls)].into_iter()
}

#[test]
fn with_tracing_off_items_pass_through_untouched() {
    let _lock = modelmetry::testing::lock();
    let calls = Cell::new(0);
    {
        let _off = Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .init()
            .unwrap();
        assert_eq!(counted(&calls).count(), 2);
        assert_eq!(calls.get(), 0, "tracing off: no item serialised");
    }
    drop(_lock);
    let recorder = Recorder::install();
    assert_eq!(counted(&calls).count(), 2);
    assert_eq!(
        calls.get(),
        2,
        "tracing on: each item once, into the output"
    );
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "trace counted\n└── other counted\n    └── event first_token\n"
    );
}

// ---- async: an `async fn` returning a stream, on an executor written here --------------------

/// Yields its chunks, pending once before each: a stream that really suspends.
struct Chunks {
    left: Vec<Result<&'static str, String>>,
    ready: bool,
}

impl futures_core::Stream for Chunks {
    type Item = Result<&'static str, String>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        if self.left.is_empty() {
            return Poll::Ready(None);
        }
        // Produced inside poll_next: lands on the stream's span.
        finding!(polled_chunk = true);
        Poll::Ready(Some(self.left.remove(0)))
    }
}

/// Pending once, then ready.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Drain a stream on this thread.
fn drain<S: futures_core::Stream>(s: S) -> Vec<S::Item> {
    let mut s = std::pin::pin!(s);
    let mut cx = Context::from_waker(Waker::noop());
    let mut items = Vec::new();
    loop {
        match s.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => items.push(item),
            Poll::Ready(None) => return items,
            Poll::Pending => {}
        }
    }
}

#[span(kind = "llm", stream, model = "gpt-4o-mini")]
async fn stream_answer(
    prompt: &str,
) -> Result<impl futures_core::Stream<Item = Result<&'static str, String>>, String> {
    // The request, awaited inside the span.
    YieldNow(false).await;
    finding!(connected = true);
    if prompt.is_empty() {
        return Err("empty prompt".to_owned());
    }
    Ok(Chunks {
        left: vec![Ok("Ships "), Ok("today.")],
        ready: false,
    })
}

#[span(kind = "llm", stream)]
fn boxed_stream() -> Pin<Box<dyn futures_core::Stream<Item = Result<&'static str, String>> + Send>>
{
    Box::pin(Chunks {
        left: vec![Ok("a"), Err("dropped connection".to_owned())],
        ready: false,
    })
}

#[test]
fn an_async_fn_returning_a_stream_keeps_its_span_until_the_stream_ends() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let stream = block_on(assert_send(stream_answer("when?"))).expect("connected");
        let items = drain(assert_send(stream));
        assert_eq!(items, [Ok("Ships "), Ok("today.")]);
        assert_eq!(
            block_on(stream_answer("")).err().as_deref(),
            Some("empty prompt")
        );
        assert_eq!(drain(boxed_stream()).len(), 2);
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "\
trace turn
├── llm stream_answer  gpt-4o-mini
│   ├── finding connected = true
│   ├── finding polled_chunk = true
│   ├── event first_token
│   └── finding polled_chunk = true
├── llm stream_answer  gpt-4o-mini  error: empty prompt
│   └── finding connected = true
└── llm boxed_stream  error: dropped connection
    ├── finding polled_chunk = true
    ├── event first_token
    └── finding polled_chunk = true
"
    );
    let s = &t.ingest().spans[0];
    assert_eq!(s.metadata["output"], json!("Ships today."));
    assert_eq!(s.metadata["input"], json!({"prompt": "when?"}));
    assert_eq!(s.metadata["items"], json!(2));
}

#[test]
fn an_async_fn_dropped_before_its_stream_exists_closes_its_span_as_cancelled() {
    let recorder = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut fut = Box::pin(stream_answer("when?"));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            fut.as_mut().poll(&mut cx).is_pending(),
            "waiting on the request"
        );
        // The caller gives up before the provider answered.
    }
    let t = only(&recorder);
    assert_eq!(
        t.tree(),
        "trace turn\n└── llm stream_answer  gpt-4o-mini  cancelled\n"
    );
    let s = &t.ingest().spans[0];
    assert_eq!(s.metadata["cancelled"], json!(true));
    assert_eq!(s.metadata["items"], json!(0));
}
