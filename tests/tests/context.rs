//! The thread-local context: nesting, early exits, panics, threads and futures.
//!
//! Each test records through `testing::Recorder` (which serialises the tests of this binary)
//! and compares the span tree as a text snapshot.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll, Wake, Waker};

use modelmetry::testing::Recorder;
use modelmetry::{Context, Event, Finding, Instrument, Kind, Severity, start_span, start_trace};
use modelmetry_tests::block_on;

fn span(name: &'static str) -> modelmetry::SpanGuard {
    start_span(name, Kind::Other)
}

#[test]
fn spans_nest_under_the_innermost_open_span() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let _a = start_span("a", Kind::Agent);
        {
            let _b = start_span("b", Kind::Llm);
            let _c = start_span("c", Kind::Tool);
        }
        let _d = start_span("d", Kind::Retriever);
    }
    assert_eq!(
        rec.take_trees(),
        "trace turn\n\
         └── agent a\n    \
             ├── llm b\n    \
             │   └── tool c\n    \
             └── retriever d\n"
    );
}

#[test]
fn spans_closed_out_of_order_leave_the_innermost_open_span_current() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let a = span("a");
        let b = span("b");
        let c = span("c");
        // `b` closes before `c`, its child: `c` stays the current span.
        drop(b);
        let d = span("d");
        drop(d);
        // Closing `c` steps past the closed `b` to `a`.
        drop(c);
        let e = span("e");
        drop(e);
        // `a` closes while nothing is open inside it: the next span is the trace's.
        drop(a);
        let _f = span("f");
    }
    assert_eq!(
        rec.take_trees(),
        "trace turn\n\
         ├── other a\n\
         │   ├── other b\n\
         │   │   └── other c\n\
         │   │       └── other d\n\
         │   └── other e\n\
         └── other f\n"
    );
}

#[test]
fn parent_ids_on_the_wire_follow_the_tree() {
    let rec = Recorder::install();
    {
        let _t = start_trace("turn");
        let _a = span("a");
        let _b = span("b");
    }
    let traces = rec.take();
    let body = traces[0].ingest();
    let trace_xid = &body.traces[0].xid;
    let a = body.spans.iter().find(|s| s.name == "a").expect("a");
    let b = body.spans.iter().find(|s| s.name == "b").expect("b");
    assert_eq!(
        a.parent_id, None,
        "a span directly under the trace has no parent"
    );
    assert_eq!(b.parent_id.as_ref(), Some(&a.xid));
    assert!(body.spans.iter().all(|s| &s.trace_id == trace_xid));
    assert!(a.start <= b.start && b.end <= a.end, "{a:?} {b:?}");
}

fn early(flag: bool) -> u32 {
    let _s = span("early");
    if flag {
        return 1;
    }
    let _after = span("after");
    2
}

fn question_mark(input: &str) -> Result<u32, std::num::ParseIntError> {
    let s = span("parse");
    let n: u32 = input.parse().inspect_err(|e| s.record_error(e))?;
    Ok(n)
}

#[test]
fn early_return_and_question_mark_close_their_spans() {
    let rec = Recorder::install();
    {
        let _t = start_trace("t");
        assert_eq!(early(true), 1);
        assert_eq!(early(false), 2);
        assert!(question_mark("x").is_err());
        assert_eq!(question_mark("7"), Ok(7));
        let _last = span("last");
    }
    assert_eq!(
        rec.take_trees(),
        "trace t\n\
         ├── other early\n\
         ├── other early\n\
         │   └── other after\n\
         ├── other parse  error: invalid digit found in string\n\
         ├── other parse\n\
         └── other last\n"
    );
}

#[test]
fn a_panic_closes_spans_as_errors_and_the_trace_is_still_delivered() {
    let rec = Recorder::install();
    let result = std::panic::catch_unwind(|| {
        let _t = start_trace("doomed");
        let _outer = span("outer");
        let _inner = span("inner");
        panic!("boom");
    });
    assert!(result.is_err());
    let traces = rec.take();
    assert_eq!(traces.len(), 1);
    assert_eq!(
        traces[0].tree(),
        "trace doomed  error: panicked: boom\n\
         └── other outer  error: panicked: boom\n    \
             └── other inner  error: panicked: boom\n"
    );
    let spans = &traces[0].ingest().spans;
    assert!(spans.iter().all(|s| s.severity == Some(Severity::Error)));

    // The stack is clean: nothing is open, and the next trace owes nothing to the last one.
    assert!(!modelmetry::current_span().is_recording());
    {
        let _t = start_trace("after");
        let _s = span("fine");
    }
    assert_eq!(rec.take_trees(), "trace after\n└── other fine\n");
}

#[test]
fn a_span_with_no_trace_open_starts_its_own() {
    let rec = Recorder::install();
    {
        let s = start_span("lonely", Kind::Llm);
        s.set_model("gpt-4o");
    }
    assert_eq!(rec.take_trees(), "trace lonely\n└── llm lonely  gpt-4o\n");
}

#[test]
fn a_trace_inside_a_trace_becomes_a_child_span() {
    let rec = Recorder::install();
    {
        let outer = start_trace("outer");
        let _s = span("step");
        let inner = start_trace("inner");
        inner.set_session_id("s-1");
        inner.set_metadata("k", &1);
        drop(inner);
        drop(outer);
    }
    let traces = rec.take();
    assert_eq!(traces.len(), 1, "one trace, not two");
    assert_eq!(
        traces[0].tree(),
        "trace outer  session=s-1\n└── other step\n    └── other inner\n"
    );
    let inner = traces[0]
        .ingest()
        .spans
        .iter()
        .find(|s| s.name == "inner")
        .cloned()
        .expect("inner");
    assert_eq!(
        inner.metadata.get("nested_trace"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(inner.metadata.get("k"), Some(&serde_json::json!(1)));
}

#[test]
fn findings_and_events_land_on_the_current_span_or_the_trace() {
    let rec = Recorder::install();
    {
        let _t = start_trace("t");
        Finding::new("on_trace", true).record();
        {
            let _s = span("s");
            Finding::new("score", 0.5).comment("c").record();
            Event::new("ev").with("k", "v").record();
            Finding::new("label", "good").record();
        }
    }
    assert_eq!(
        rec.take_trees(),
        "trace t\n\
         ├── finding on_trace = true\n\
         └── other s\n    \
             ├── finding score = 0.5  (c)\n    \
             ├── event ev {\"k\":\"v\"}\n    \
             └── finding label = \"good\"\n"
    );
}

#[test]
fn recording_with_no_trace_is_counted_not_silent() {
    let _rec = Recorder::install();
    let before = modelmetry::stats().dropped;
    assert!(!Finding::new("orphan", 1).record());
    assert!(!Event::new("orphan").record());
    assert!(!Finding::new("nan", f64::NAN).record());
    let after = modelmetry::stats().dropped;
    assert_eq!(after.no_active_trace - before.no_active_trace, 2);
    assert_eq!(after.non_finite - before.non_finite, 1);
}

#[test]
fn a_context_carries_the_parent_to_scoped_threads() {
    let rec = Recorder::install();
    {
        let _t = start_trace("fan-out");
        let _a = span("dispatch");
        let ctx = Context::current();
        std::thread::scope(|s| {
            for name in ["w1", "w2", "w3"] {
                let ctx = ctx.clone();
                s.spawn(move || {
                    let _attached = ctx.attach();
                    let _w = span(name);
                    let _inner = span("inner");
                });
            }
        });
        let _after = span("after");
    }
    let traces = rec.take();
    assert_eq!(traces.len(), 1, "the workers' spans join the trace");
    let tree = traces[0].tree();
    for w in ["w1", "w2", "w3"] {
        assert!(tree.contains(&format!("other {w}\n")), "{tree}");
    }
    let spans = &traces[0].ingest().spans;
    let dispatch = spans
        .iter()
        .find(|s| s.name == "dispatch")
        .expect("dispatch");
    for w in spans.iter().filter(|s| s.name.starts_with('w')) {
        assert_eq!(
            w.parent_id.as_ref(),
            Some(&dispatch.xid),
            "{} nests under dispatch",
            w.name
        );
        let inner: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_id.as_ref() == Some(&w.xid))
            .collect();
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].name, "inner");
    }
    assert_eq!(spans.len(), 8);
}

#[test]
fn a_pool_thread_keeps_no_context_between_jobs() {
    let rec = Recorder::install();
    let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let pool = std::thread::spawn(move || {
        for job in rx {
            job();
        }
    });
    for turn in ["first", "second"] {
        let _t = start_trace(turn);
        let ctx = Context::current();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tx.send(Box::new(move || {
            ctx.in_scope(|| drop(span("job")));
            // Signalled after the context is detached, so the span has joined the trace.
            done_tx.send(()).ok();
        }))
        .ok();
        done_rx.recv().ok();
    }
    drop(tx);
    pool.join().ok();
    // Each job's span lands in its own trace, and nothing of the first job leaks into the
    // second.
    let traces = rec.take();
    assert_eq!(traces.len(), 2);
    for t in &traces {
        assert_eq!(t.ingest().spans.len(), 1, "{}", t.tree());
        assert_eq!(t.ingest().spans[0].trace_id, t.ingest().traces[0].xid);
    }
}

#[test]
fn spans_that_outlive_their_trace_are_delivered_as_a_continuation() {
    let rec = Recorder::install();
    let ctx = {
        let _t = start_trace("request");
        let _s = span("handler");
        Context::current()
    };
    let first = rec.take();
    assert_eq!(first.len(), 1);
    let handler = first[0].ingest().spans[0].clone();
    // The detached task runs after the request's trace has been delivered.
    std::thread::spawn(move || {
        let _attached = ctx.attach();
        let _late = span("late");
    })
    .join()
    .ok();
    let later = rec.take();
    assert_eq!(later.len(), 1, "delivered, not dropped");
    let body = later[0].ingest();
    assert!(body.traces.is_empty(), "the trace record is not sent twice");
    assert_eq!(body.spans[0].name, "late");
    assert_eq!(body.spans[0].trace_id, handler.trace_id);
    assert_eq!(body.spans[0].parent_id.as_ref(), Some(&handler.xid));
    assert!(later[0].tree().contains("(continued)"));
}

#[test]
fn many_threads_never_mix_their_traces() {
    // The threads carry no context: only a recorder of the whole process sees them.
    let rec = Recorder::install_global();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..100 {
                    let trace = start_trace(format!("t{t}"));
                    trace.set_metadata("thread", &t);
                    let _a = start_span(format!("t{t}.a{i}"), Kind::Agent);
                    for j in 0..3 {
                        let _b = start_span(format!("t{t}.b{i}.{j}"), Kind::Tool);
                    }
                }
            })
        })
        .collect();
    for h in threads {
        h.join().expect("worker");
    }
    // Other tests of this binary that record without a recorder of their own land here too.
    let traces: Vec<_> = rec
        .take()
        .into_iter()
        .filter(|t| {
            let name = t.ingest().traces[0].name.clone().unwrap_or_default();
            name.len() == 2 && name.starts_with('t')
        })
        .collect();
    assert_eq!(traces.len(), 800);
    let mut xids = HashSet::new();
    for t in &traces {
        let body = t.ingest();
        let name = body.traces[0].name.clone().expect("name");
        assert_eq!(body.spans.len(), 4);
        for s in &body.spans {
            assert!(
                s.name.starts_with(&format!("{name}.")),
                "{} in {name}",
                s.name
            );
            assert!(xids.insert(s.xid.clone()), "span XIDs are unique");
        }
        assert!(xids.insert(body.traces[0].xid.clone()));
    }
}

#[test]
fn a_leaked_guard_is_delivered_at_thread_exit() {
    let rec = Recorder::install_global();
    std::thread::spawn(|| {
        let t = start_trace("leaky");
        std::mem::forget(start_span("forgotten", Kind::Tool));
        std::mem::forget(t);
    })
    .join()
    .ok();
    let traces = rec.take();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].tree(), "trace leaky\n└── tool forgotten\n");
    assert_eq!(
        traces[0].ingest().spans[0].metadata.get("closed_by"),
        Some(&serde_json::json!("enclosing trace"))
    );
}

#[test]
fn spans_left_open_are_closed_by_their_trace_and_only_they() {
    let rec = Recorder::install();
    {
        let _t = start_trace("leaky");
        let a = span("a");
        std::mem::forget(span("leaked.outer"));
        let b = span("b");
        std::mem::forget(span("leaked.inner"));
        drop(b); // out of order: the inner leaked span stays open above it
        drop(a);
    }
    let traces = rec.take();
    let body = traces[0].ingest();
    for s in &body.spans {
        let closed_by_trace =
            s.metadata.get("closed_by") == Some(&serde_json::json!("enclosing trace"));
        assert_eq!(closed_by_trace, s.name.starts_with("leaked."), "{}", s.name);
        assert!(s.end >= s.start, "{} ends after it starts", s.name);
    }
    assert_eq!(body.spans.len(), 4);
}

#[test]
fn tracing_off_records_nothing() {
    // Off for the whole process: no other test may have a client running meanwhile.
    let _lock = modelmetry::testing::lock();
    let rec = Recorder::install();
    drop(rec);
    let before = modelmetry::stats();
    {
        let _t = start_trace("off");
        let s = start_span("off", Kind::Llm);
        assert!(!s.is_recording());
        assert!(!Finding::new("x", 1).record());
        assert!(Context::current().is_empty());
    }
    assert_eq!(modelmetry::stats().produced, before.produced);
}

// ---- futures ------------------------------------------------------------------------------

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Pending once, then ready: a future that really suspends.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut TaskCx<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

async fn llm_call() -> &'static str {
    modelmetry::current_span().set_model("gpt-4o");
    YieldOnce(false).await;
    // A guard must not be held across an `.await` (it is !Send, by design): nest a future's
    // spans with `in_span`, or scope sync spans between awaits as here.
    drop(span("inside"));
    Finding::new("tokens", 3).record();
    YieldOnce(false).await;
    "done"
}

#[test]
fn a_future_keeps_its_span_across_polls() {
    let rec = Recorder::install();
    let out = block_on(
        async {
            let a = llm_call().in_span("first", Kind::Llm).await;
            let b = llm_call().in_span("second", Kind::Llm).await;
            (a, b)
        }
        .in_trace("async turn"),
    );
    assert_eq!(out, ("done", "done"));
    assert_eq!(
        rec.take_trees(),
        "trace async turn\n\
         ├── llm first  gpt-4o\n\
         │   ├── other inside\n\
         │   └── finding tokens = 3\n\
         └── llm second  gpt-4o\n    \
             ├── other inside\n    \
             └── finding tokens = 3\n"
    );
}

#[test]
fn a_dropped_future_closes_its_span_as_cancelled() {
    let rec = Recorder::install();
    {
        let _t = start_trace("t");
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = TaskCx::from_waker(&waker);
        let mut fut = Box::pin(llm_call().in_span("abandoned", Kind::Llm));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
        assert!(
            !modelmetry::current_span().is_recording(),
            "the future's span is not left current"
        );
    }
    let traces = rec.take();
    assert_eq!(
        traces[0].tree(),
        "trace t\n└── llm abandoned  gpt-4o  cancelled\n"
    );
    let span = &traces[0].ingest().spans[0];
    assert_eq!(
        span.metadata.get("cancelled"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(span.metadata.get("polls"), Some(&serde_json::json!(1)));
}

#[test]
fn a_future_polled_on_several_threads_keeps_its_parent() {
    let rec = Recorder::install();
    {
        let _t = start_trace("hop");
        let waker = Waker::from(Arc::new(Noop));
        let fut = Box::pin(llm_call().in_span("hopper", Kind::Llm));
        // First poll here, the rest on another thread: like a work-stealing executor.
        let mut fut = fut;
        let mut cx = TaskCx::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::thread::spawn(move || {
            let waker = Waker::from(Arc::new(Noop));
            let mut cx = TaskCx::from_waker(&waker);
            while fut.as_mut().poll(&mut cx).is_pending() {}
        })
        .join()
        .ok();
    }
    assert_eq!(
        rec.take_trees(),
        "trace hop\n└── llm hopper  gpt-4o\n    ├── other inside\n    └── finding tokens = 3\n"
    );
}

#[test]
fn a_trace_handle_records_findings_on_the_trace_it_names() {
    let rec = Recorder::install();
    {
        let t = start_trace("a");
        let handle = t.handle();
        // Another trace's context, attached on top of this thread's: the handle still names
        // trace `a`, whatever is innermost.
        let remote = modelmetry::propagation::extract(|name| {
            (name == "traceparent")
                .then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned())
        });
        let _attached = remote.attach();
        handle.record_finding(Finding::new("verdict", "ok"));
    }
    assert_eq!(
        rec.take_trees(),
        "trace a\n\
         └── finding verdict = \"ok\"\n"
    );
}
