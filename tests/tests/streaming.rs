//! Streamed answers: a span that lives exactly as long as its stream, with time to first token.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll, Wake, Waker};
use std::time::Duration;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::{Finding, Kind, StreamSpan, Traced, Usage, fold, start_span, start_trace};
use serde_json::json;

fn only_span<'a>(
    t: &'a RecordedTrace,
    name: &str,
) -> &'a modelmetry::unversioned::wire::CreateSpanParams {
    t.ingest()
        .spans
        .iter()
        .find(|s| s.name == name)
        .expect("span present")
}

fn millis_between(start: &str, end: &str) -> f64 {
    // RFC 3339 with microseconds, same day: compare the seconds-of-day parts.
    let secs = |t: &str| {
        let time = &t[11..t.len() - 1];
        let mut parts = time.split(':');
        let h: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        let m: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        let s: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
        h * 3600.0 + m * 60.0 + s
    };
    (secs(end) - secs(start)) * 1000.0
}

fn slow_chunks() -> impl Iterator<Item = &'static str> {
    ["Your ", "order ", "ships ", "tomorrow."]
        .into_iter()
        .inspect(|_| std::thread::sleep(Duration::from_millis(15)))
}

#[test]
fn a_consumed_stream_closes_after_its_last_item() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let stream = Traced::new(
            slow_chunks(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        );
        let answer: String = stream.collect();
        assert_eq!(answer, "Your order ships tomorrow.");
        let _after = start_span("after", Kind::Other);
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n├── llm llm.stream\n│   └── event first_token\n└── other after\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["output"], json!("Your order ships tomorrow."));
    assert_eq!(span.metadata["items"], json!(4));
    assert!(span.metadata.get("cancelled").is_none());
    let duration = millis_between(&span.start, &span.end);
    assert!(
        duration >= 55.0,
        "the span covers the consumption of all four items: {duration} ms"
    );
    let ttft = span.metadata["ttft_ms"].as_f64().expect("ttft_ms");
    assert!(
        (14.0..duration).contains(&ttft),
        "first token after the first item's 15 ms: {ttft}"
    );
    let event = traces[0]
        .ingest()
        .events
        .iter()
        .find(|e| e.name == "first_token")
        .expect("event");
    assert_eq!(event.span_id.as_ref(), Some(&span.xid));
    assert!(millis_between(&span.start, event.at.as_deref().expect("at")) >= 14.0);
}

#[test]
fn a_stream_dropped_early_is_closed_and_marked_cancelled() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut stream = Traced::new(
            slow_chunks(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        );
        assert_eq!(stream.next(), Some("Your "));
        drop(stream); // the caller hung up
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["cancelled"], json!(true));
    assert_eq!(span.metadata["items"], json!(1));
    assert_eq!(span.metadata["output"], json!("Your "));
}

#[test]
fn an_error_item_closes_the_span_as_an_error() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let items: Vec<Result<&str, String>> =
            vec![Ok("partial "), Err("upstream reset".into()), Ok("late")];
        let stream = Traced::new(
            items.into_iter(),
            "llm.stream",
            Kind::Llm,
            fold::Results(fold::Text::default()),
        );
        let seen: Vec<_> = stream.collect();
        assert_eq!(seen.len(), 3, "the stream itself is unchanged");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n└── llm llm.stream  error: upstream reset\n    └── event first_token\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["output"], json!("partial "));
    assert_eq!(span.metadata["items"], json!(2));
}

#[test]
fn work_done_while_streaming_lands_on_the_stream_span() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let chunks = ["a", "b", "c"].into_iter().enumerate().map(|(i, c)| {
            // Runs inside next(): the stream's span is current.
            Finding::new("chunk", i as f64).record();
            if i == 2 {
                modelmetry::current_span().set_usage(Usage::tokens(10, 3));
            }
            let _tool = start_span(format!("tokenize {c}"), Kind::Tool);
            c
        });
        let stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
        assert_eq!(stream.collect::<String>(), "abc");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         └── llm llm.stream  tokens 10→3  unpriced\n    \
             ├── finding chunk = 0\n    \
             ├── tool tokenize a\n    \
             ├── event first_token\n    \
             ├── finding chunk = 1\n    \
             ├── tool tokenize b\n    \
             ├── finding chunk = 2\n    \
             └── tool tokenize c\n"
    );
}

#[test]
fn a_stream_inside_a_stream_nests() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let outer = ["x", "y"].into_iter().map(|c| {
            let inner = Traced::new(
                vec![c, c].into_iter(),
                "inner",
                Kind::Llm,
                fold::Text::default(),
            );
            inner.collect::<String>()
        });
        let stream = Traced::new(outer, "outer", Kind::Agent, fold::Json::default());
        assert_eq!(stream.collect::<Vec<_>>(), vec!["xx", "yy"]);
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         └── agent outer\n    \
             ├── llm inner\n    \
             │   └── event first_token\n    \
             ├── event first_token\n    \
             └── llm inner\n        \
                 └── event first_token\n"
    );
    let outer = only_span(&traces[0], "outer");
    assert_eq!(outer.metadata["output"], json!(["xx", "yy"]));
}

#[test]
fn a_span_opened_before_its_stream_covers_the_set_up() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut span = StreamSpan::open("llm.stream", Kind::Llm);
        let chunks = span.in_scope(|| {
            modelmetry::current_span().set_model("gpt-4o");
            std::thread::sleep(Duration::from_millis(20)); // the request before the first byte
            vec!["hi"].into_iter()
        });
        let stream = span.wrap(chunks, fold::Text::default());
        assert_eq!(stream.count(), 1);
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert!(
        span.metadata["ttft_ms"].as_f64().is_some_and(|t| t >= 20.0),
        "{:?}",
        span.metadata
    );
    assert_eq!(
        traces[0].tree(),
        "trace turn\n└── llm llm.stream  gpt-4o\n    └── event first_token\n"
    );
}

#[test]
fn a_span_never_given_its_stream_is_cancelled_unless_it_failed() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut gave_up = StreamSpan::open("gave_up", Kind::Llm);
        gave_up.in_scope(|| Finding::new("requested", 1.0).record());
        drop(gave_up); // the caller left before the provider answered
        let failed = StreamSpan::open("failed", Kind::Llm);
        failed.fail(&"429 from the provider");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         ├── llm gave_up  cancelled\n\
         │   └── finding requested = 1\n\
         └── llm failed  error: 429 from the provider\n"
    );
    let gave_up = only_span(&traces[0], "gave_up");
    assert_eq!(gave_up.metadata["cancelled"], json!(true));
    assert_eq!(gave_up.metadata["items"], json!(0));
    let failed = only_span(&traces[0], "failed");
    assert!(
        failed.metadata.get("cancelled").is_none(),
        "{:?}",
        failed.metadata
    );
}

#[test]
fn in_future_keeps_the_span_current_across_the_requests_polls() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut span = StreamSpan::open("llm.stream", Kind::Llm);
        let request = async {
            modelmetry::current_span().set_model("gpt-4o");
            Pending(false).await; // suspended: the span is lent back and forth
            Finding::new("after_await", 1.0).record();
            vec!["a", "b"]
        };
        let mut request = std::pin::pin!(span.in_future(request));
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = TaskCx::from_waker(&waker);
        assert!(request.as_mut().poll(&mut cx).is_pending());
        let _between = start_span("between polls", Kind::Other); // not under the stream's span
        drop(_between);
        let Poll::Ready(chunks) = request.as_mut().poll(&mut cx) else {
            panic!("ready on the second poll");
        };
        let stream = span.wrap(chunks.into_iter(), fold::Text::default());
        assert_eq!(stream.collect::<String>(), "ab");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         ├── llm llm.stream  gpt-4o\n\
         │   ├── finding after_await = 1\n\
         │   └── event first_token\n\
         └── other between polls\n"
    );
}

/// Pending once, then ready.
struct Pending(bool);

impl std::future::Future for Pending {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn a_custom_fold_keeps_what_it_wants() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let chunks = vec![("he", None), ("llo", Some((12u64, 2u64)))].into_iter();
        let last_usage = fold::FromFn::new(
            |out: &mut serde_json::Value, chunk: &(&str, Option<(u64, u64)>)| {
                if let Some((input, output)) = chunk.1 {
                    // Providers send usage in the last chunk: record it on the stream's span.
                    modelmetry::current_span().set_usage(Usage::tokens(input, output));
                    *out = json!({"input_tokens": input, "output_tokens": output});
                }
                Ok(())
            },
        );
        let stream = Traced::new(chunks, "llm.stream", Kind::Llm, last_usage);
        assert_eq!(stream.count(), 2);
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(
        span.metadata["output"],
        json!({"input_tokens": 12, "output_tokens": 2})
    );
    assert!(
        traces[0].tree().contains("tokens 12→2"),
        "{}",
        traces[0].tree()
    );
}

#[test]
fn a_huge_stream_is_bounded_and_the_cut_marked() {
    let rec = Recorder::install_with(modelmetry::Config::default().max_value_bytes(1024));
    {
        let _t = start_trace("turn");
        let chunks = std::iter::repeat_n("0123456789", 1000);
        let stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
        assert_eq!(stream.count(), 1000);
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    let out = span.metadata["output"].as_str().expect("text");
    assert!(out.len() <= 1024, "{}", out.len());
    let cut = span.metadata["modelmetry.truncated"]
        .as_array()
        .expect("marked");
    let marks: Vec<_> = cut
        .iter()
        .filter(|c| c["field"] == "Metadata.output")
        .collect();
    assert_eq!(
        marks,
        vec![&json!({"field": "Metadata.output", "original_bytes": 10_000})],
        "one cut, one mark, with the size of everything the stream yielded: {cut:?}"
    );
}

#[test]
fn with_content_capture_off_nothing_is_collected() {
    let rec = Recorder::install_with(modelmetry::Config::default().capture_content(false));
    {
        let _t = start_trace("turn");
        let stream = Traced::new(
            slow_chunks(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        );
        assert_eq!(stream.count(), 4);
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert!(span.metadata.get("output").is_none(), "{:?}", span.metadata);
    assert_eq!(span.metadata["items"], json!(4));
}

// ---- at the edges: leaked, panicking and failing streams (issue 21) -------------------------

/// Three chunks; producing each opens a child span `fetch {i}` under whatever is current.
fn chunks_with_children() -> impl Iterator<Item = &'static str> {
    ["a", "b", "c"].into_iter().enumerate().map(|(i, c)| {
        let _fetch = start_span(format!("fetch {i}"), Kind::Tool);
        c
    })
}

#[test]
fn a_panic_inside_next_is_recorded_on_the_span_when_the_caller_catches_it() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let chunks = ["a", "b", "c"].into_iter().inspect(|&c| {
            assert!(c != "b", "the provider's decoder choked on {c}");
        });
        let mut stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
        assert_eq!(stream.next(), Some("a"));
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stream.next())).is_err();
        assert!(caught);
        assert_eq!(stream.next(), Some("c"), "the caller reads on");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         └── llm llm.stream  cancelled  error: panicked in next(): the provider's decoder choked on b\n    \
             └── event first_token\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["items"], json!(2));
}

#[test]
fn a_panic_inside_next_is_recorded_when_the_stream_is_dropped_after_it() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let chunks = ["a", "b"].into_iter().inspect(|&c| {
            assert!(c != "b", "boom at {c}");
        });
        let mut stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
        stream.next();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stream.next()));
        drop(stream);
    }
    let span_tree = rec.take()[0].tree().to_owned();
    assert!(
        span_tree.contains("llm llm.stream  cancelled  error: panicked in next(): boom at b"),
        "{span_tree}"
    );
}

#[test]
fn a_panicking_fold_hands_the_item_over_and_is_counted_on_the_span() {
    let rec = Recorder::install();
    let seen: Vec<&str>;
    {
        let _t = start_trace("turn");
        let picky = fold::FromFn::new(|out: &mut serde_json::Value, chunk: &&str| {
            assert!(*chunk != "b", "the fold cannot read {chunk}");
            *out = json!(chunk);
            Ok(())
        });
        let stream = Traced::new(["a", "b", "c"].into_iter(), "llm.stream", Kind::Llm, picky);
        seen = stream.collect();
    }
    assert_eq!(seen, vec!["a", "b", "c"], "the caller gets every item");
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["items"], json!(3));
    assert_eq!(span.metadata["fold_failures"], json!(1));
    assert_eq!(
        span.metadata["fold_failure"],
        json!("panicked: the fold cannot read b")
    );
    assert_eq!(span.metadata["output"], json!("c"));
    assert!(
        !traces[0].tree().contains("error"),
        "the stream itself did not fail: {}",
        traces[0].tree()
    );
}

#[test]
fn work_after_an_error_item_stays_under_the_streams_span_in_a_trace() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let items = chunks_with_children().map(|c| {
            if c == "b" {
                Err("upstream reset")
            } else {
                Ok(c)
            }
        });
        let stream = Traced::new(
            items,
            "llm.stream",
            Kind::Llm,
            fold::Results(fold::Text::default()),
        );
        assert_eq!(stream.count(), 3, "the caller reads past the error");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n\
         └── llm llm.stream  error: upstream reset\n    \
             ├── tool fetch 0\n    \
             ├── event first_token\n    \
             ├── tool fetch 1\n    \
             └── tool fetch 2\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["items"], json!(2));
    assert_eq!(span.metadata["items_after_error"], json!(1));
    assert_eq!(span.metadata["output"], json!("a"));
    assert!(span.metadata.get("cancelled").is_none());
    let late = only_span(&traces[0], "fetch 2");
    assert!(
        late.start >= span.end,
        "the span ended at the error; later work only keeps it as parent"
    );
}

#[test]
fn work_after_an_error_item_stays_under_the_streams_span_without_a_trace() {
    let rec = Recorder::install();
    let items = chunks_with_children().map(|c| if c == "a" { Err("refused") } else { Ok(c) });
    let mut stream = Traced::new(
        items,
        "llm.stream",
        Kind::Llm,
        fold::Results(fold::Text::default()),
    );
    assert!(stream.next().is_some_and(|r| r.is_err()));
    assert_eq!(stream.next(), Some(Ok("b")));
    drop(stream); // dropped after the error: not a cancellation
    let traces = rec.take();
    assert_eq!(traces.len(), 1, "one trace, no stray ones: {traces:#?}");
    assert_eq!(
        traces[0].tree(),
        "trace llm.stream\n\
         └── llm llm.stream  error: refused\n    \
             ├── tool fetch 0\n    \
             ├── event first_token\n    \
             └── tool fetch 1\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["items_after_error"], json!(1));
    assert!(span.metadata.get("cancelled").is_none());
}

#[test]
fn a_stream_that_outlives_its_trace_arrives_as_one_continuation() {
    let rec = Recorder::install();
    let stream = {
        let _t = start_trace("turn");
        Traced::new(
            chunks_with_children(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        )
    }; // the trace closes here; the stream is read after
    assert_eq!(stream.collect::<String>(), "abc");
    let traces = rec.take();
    assert_eq!(traces.len(), 2, "the trace, then one continuation");
    assert_eq!(traces[0].tree(), "trace turn\n");
    let continuation = traces[1].ingest();
    let mut names: Vec<&str> = continuation.spans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["fetch 0", "fetch 1", "fetch 2", "llm.stream"]);
    let stream_span = only_span(&traces[1], "llm.stream");
    assert_eq!(stream_span.metadata["items"], json!(3));
    for s in continuation.spans.iter().filter(|s| s.name != "llm.stream") {
        assert_eq!(s.parent_id.as_ref(), Some(&stream_span.xid));
    }
    assert_eq!(continuation.events.len(), 1, "first_token");
    let root = traces[0].ingest().traces[0].xid.clone();
    assert_eq!(
        continuation.traces.len(),
        0,
        "a continuation, not a new trace"
    );
    assert!(
        continuation.spans.iter().all(|s| s.trace_id == root),
        "in the first trace"
    );
}

#[test]
fn a_leaked_stream_is_delivered_unfinished_at_shutdown_so_its_children_have_their_parent() {
    use modelmetry_tests::Harness;

    let h = Harness::start();
    let guard = h.init();
    {
        let _t = start_trace("turn");
        let mut stream = Traced::new(
            chunks_with_children(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        );
        assert_eq!(stream.next(), Some("a"));
        std::mem::forget(stream); // never dropped: its span never closes by itself
    }
    // And one with no trace around it: the trace it opened never closes either.
    let mut alone = Traced::new(["x", "y"].into_iter(), "alone", Kind::Llm, fold::Nothing);
    assert_eq!(alone.next(), Some("x"));
    std::mem::forget(alone);
    drop(guard); // shutdown

    let bodies = h.server.accepted_bodies();
    let spans: Vec<_> = bodies.iter().flat_map(|b| &b.spans).collect();
    let span = |name: &str| {
        *spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} delivered: {spans:#?}"))
    };
    let stream = span("llm.stream");
    assert_eq!(stream.metadata["unfinished"], json!(true));
    assert_eq!(stream.metadata["closed_by"], json!("shutdown"));
    assert_eq!(stream.metadata["items"], json!(1));
    assert_eq!(span("fetch 0").parent_id.as_ref(), Some(&stream.xid));
    let alone = span("alone");
    assert_eq!(alone.metadata["unfinished"], json!(true));
    assert_eq!(alone.metadata["items"], json!(1));
    assert!(
        bodies
            .iter()
            .flat_map(|b| &b.traces)
            .any(|t| t.name.as_deref() == Some("alone")),
        "the trace the lone stream opened is delivered too"
    );
    let d = h.delta();
    // turn, fetch 0, its first_token and the stream's span; alone's trace, span and event.
    assert_eq!((d.produced, d.sent, d.unaccounted()), (7, 7, 0), "{d:?}");
}

#[test]
fn ttft_counts_the_callers_wait_before_its_first_poll() {
    // Documented: the stream is lazy, so time to first token runs from the span's opening to
    // the first item's arrival, including any time the caller waits before its first poll.
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let mut stream = Traced::new(["a"].into_iter(), "llm.stream", Kind::Llm, fold::Nothing);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(stream.next(), Some("a"));
    }
    let traces = rec.take();
    let span = only_span(&traces[0], "llm.stream");
    assert!(span.metadata["ttft_ms"].as_f64().is_some_and(|t| t >= 20.0));
}

// ---- async streams --------------------------------------------------------------------------

/// Yields its chunks, pending once before each: a stream that really suspends.
struct Chunks {
    left: Vec<&'static str>,
    ready: bool,
}

impl futures_core::Stream for Chunks {
    type Item = &'static str;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Option<&'static str>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        Poll::Ready(if self.left.is_empty() {
            None
        } else {
            Some(self.left.remove(0))
        })
    }
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Drain a stream on this thread, counting the polls.
fn drain<S: futures_core::Stream + Unpin>(mut s: S) -> (Vec<S::Item>, usize) {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = TaskCx::from_waker(&waker);
    let (mut items, mut polls) = (Vec::new(), 0);
    loop {
        polls += 1;
        match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(Some(item)) => items.push(item),
            Poll::Ready(None) => return (items, polls),
            Poll::Pending => {}
        }
    }
}

#[test]
fn an_async_stream_keeps_its_span_until_it_ends() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let chunks = Chunks {
            left: vec!["a", "b", "c"],
            ready: false,
        };
        let stream = Traced::new(chunks, "llm.stream", Kind::Llm, fold::Text::default());
        let (items, polls) = drain(stream);
        assert_eq!(items, vec!["a", "b", "c"]);
        assert_eq!(polls, 8, "pending before every item and before the end");
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n└── llm llm.stream\n    └── event first_token\n"
    );
    let span = only_span(&traces[0], "llm.stream");
    assert_eq!(span.metadata["output"], json!("abc"));
    assert_eq!(span.metadata["items"], json!(3));
    assert!(
        span.metadata.get("cancelled").is_none(),
        "pending is not the end"
    );
}

// ---- OpenTelemetry ---------------------------------------------------------------------------

#[test]
fn the_otlp_exporter_sends_time_to_first_token_and_the_first_token_event() {
    use modelmetry::{ExporterKind, OtlpConfig};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;

    let _lock = modelmetry::testing::lock();
    let server = modelmetry_tests::Server::start();
    let diag = modelmetry_tests::Diagnostics::new();
    let guard = modelmetry_tests::config_for(&server.base_url(), &diag)
        .exporter(ExporterKind::Otlp)
        .otlp(OtlpConfig::default().endpoint(format!("{}/v1/traces", server.base_url())))
        .init()
        .expect("init");
    {
        let _t = start_trace("turn");
        let stream = Traced::new(
            slow_chunks(),
            "llm.stream",
            Kind::Llm,
            fold::Text::default(),
        );
        assert_eq!(stream.count(), 4);
    }
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{:?}", diag.lines());
    let req = ExportTraceServiceRequest::decode(&requests[0].body[..]).expect("decodes");
    let span = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .find(|s| s.name.contains("llm.stream"))
        .expect("the stream's span");
    let ttft = span
        .attributes
        .iter()
        .find(|kv| kv.key == "modelmetry.ttft_ms")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .expect("modelmetry.ttft_ms");
    assert!(
        matches!(ttft, Any::DoubleValue(ms) if *ms >= 14.0),
        "after the first item's 15 ms: {ttft:?}"
    );
    let first = span
        .events
        .iter()
        .find(|e| e.name == "first_token")
        .expect("first_token event");
    assert!(first.time_unix_nano > span.start_time_unix_nano);
    assert!(first.time_unix_nano < span.end_time_unix_nano);
}
