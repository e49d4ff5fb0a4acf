//! Span ids are made lazily (from the span's index and a per-frame random base, at the trace's
//! close or when a child context first names the span): whatever is asked of them before, and
//! wherever the spans were recorded, the exported ids are distinct and every parent, signal
//! and propagated context names the span it should.

use std::collections::{HashMap, HashSet};

use modelmetry::testing::Recorder;
use modelmetry::{Context, Finding, Kind, start_span, start_trace};

/// The span id (16 hex digits) inside a span's `XID`: the UUID's last 64 bits.
fn span_hex(xid: &str) -> String {
    xid.replace('-', "")[16..].to_owned()
}

#[test]
fn every_span_has_a_distinct_id_and_its_parent_is_the_span_it_opened_under() {
    let rec = Recorder::install();
    {
        let _t = start_trace("many");
        for i in 0..300 {
            let _p = start_span(format!("p{i}"), Kind::Agent);
            let c = start_span(format!("c{i}"), Kind::Llm);
            let g = start_span(format!("g{i}"), Kind::Tool);
            // Out of order: the parent closes before its child; the next sibling still opens
            // under `p{i}`.
            drop(c);
            drop(g);
            let _s = start_span(format!("s{i}"), Kind::Tool);
        }
    }
    let traces = rec.take();
    let body = traces[0].ingest();
    assert_eq!(body.spans.len(), 1200);
    let by_name: HashMap<&str, &str> = body
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.xid.as_str()))
        .collect();
    let ids: HashSet<&str> = by_name.values().copied().collect();
    assert_eq!(ids.len(), 1200, "span XIDs repeat");
    for s in &body.spans {
        assert!(span_hex(&s.xid) != "0000000000000000", "{s:?}");
        let want = match &s.name[..1] {
            "p" => None,
            "c" | "s" => Some(by_name[format!("p{}", &s.name[1..]).as_str()]),
            "g" => Some(by_name[format!("c{}", &s.name[1..]).as_str()]),
            _ => unreachable!(),
        };
        assert_eq!(s.parent_id.as_deref(), want, "{}", s.name);
    }
}

#[test]
fn a_traceparent_taken_inside_a_span_names_the_id_it_is_exported_with() {
    let rec = Recorder::install();
    let (outer_tp, inner_tp) = {
        let _t = start_trace("propagating");
        let _outer = start_span("outer", Kind::Agent);
        let outer_tp = modelmetry::propagation::traceparent().expect("a trace is open");
        let inner_tp = {
            let _inner = start_span("inner", Kind::Llm);
            modelmetry::propagation::traceparent().expect("a trace is open")
        };
        (outer_tp, inner_tp)
    };
    let traces = rec.take();
    let body = traces[0].ingest();
    let xid = |name: &str| {
        body.spans
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.xid.clone())
            .expect(name)
    };
    // 00-{trace}-{span}-{flags}
    assert_eq!(&outer_tp[36..52], span_hex(&xid("outer")));
    assert_eq!(&inner_tp[36..52], span_hex(&xid("inner")));
    assert_ne!(outer_tp, inner_tp);
}

#[test]
fn spans_on_other_threads_parent_under_the_span_the_context_was_taken_in() {
    let rec = Recorder::install();
    {
        let _t = start_trace("fan-out");
        let _outer = start_span("outer", Kind::Agent);
        let ctx = Context::current();
        std::thread::scope(|scope| {
            for w in 0..4 {
                let ctx = ctx.clone();
                scope.spawn(move || {
                    let _attached = ctx.attach();
                    for i in 0..50 {
                        let _a = start_span(format!("w{w}.{i}"), Kind::Tool);
                        let _b = start_span(format!("w{w}.{i}.child"), Kind::Llm);
                    }
                });
            }
        });
    }
    let traces = rec.take();
    let body = traces[0].ingest();
    assert_eq!(body.spans.len(), 1 + 4 * 50 * 2);
    let by_name: HashMap<&str, &str> = body
        .spans
        .iter()
        .map(|s| (s.name.as_str(), s.xid.as_str()))
        .collect();
    assert_eq!(
        by_name.values().collect::<HashSet<_>>().len(),
        body.spans.len(),
        "ids made on different threads clash"
    );
    for s in &body.spans {
        if let Some(parent) = s.name.strip_suffix(".child") {
            assert_eq!(s.parent_id.as_deref(), Some(by_name[parent]), "{}", s.name);
        } else if s.name != "outer" {
            assert_eq!(s.parent_id.as_deref(), Some(by_name["outer"]), "{}", s.name);
        }
    }
}

#[test]
fn findings_name_the_span_they_were_recorded_on() {
    let rec = Recorder::install();
    {
        let _t = start_trace("judged");
        let a = start_span("a", Kind::Llm);
        modelmetry::current_span().record_finding(Finding::new("on_a", 1.0));
        {
            let _b = start_span("b", Kind::Tool);
            modelmetry::current_span().record_finding(Finding::new("on_b", 2.0));
            // A handle to a span that is not innermost.
            a.record_finding(Finding::new("on_a_from_b", 3.0));
        }
    }
    let traces = rec.take();
    let body = traces[0].ingest();
    let xid = |name: &str| {
        body.spans
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.xid.clone())
    };
    let on = |finding: &str| {
        body.findings
            .iter()
            .find(|f| f.name == finding)
            .and_then(|f| f.span_id.clone())
    };
    assert_eq!(on("on_a"), xid("a"));
    assert_eq!(on("on_b"), xid("b"));
    assert_eq!(on("on_a_from_b"), xid("a"));
}

#[modelmetry::span]
fn cleanup_step() -> u32 {
    7
}

struct CleansUp;

impl Drop for CleansUp {
    fn drop(&mut self) {
        // Runs while a panic unwinds: a span that opens and returns here is not the panic's.
        std::hint::black_box(cleanup_step());
    }
}

#[modelmetry::span]
fn fails() {
    let _c = CleansUp;
    panic!("boom");
}

#[test]
fn a_span_that_returns_while_a_panic_unwinds_is_not_marked_as_the_panics() {
    let rec = Recorder::install();
    let _ = std::panic::catch_unwind(|| {
        let _t = start_trace("unwinding");
        fails();
    });
    let traces = rec.take();
    let tree = traces[0].tree();
    let line = |name: &str| {
        tree.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {tree}"))
    };
    assert!(line("fails").contains("error: panicked: boom"), "{tree}");
    assert!(
        line("cleanup_step").ends_with("other cleanup_step"),
        "{tree}"
    );
}

#[test]
fn a_trace_larger_than_any_kept_arena_keeps_every_span() {
    let rec = Recorder::install();
    for round in 0..2 {
        let _t = start_trace(format!("big{round}"));
        for _ in 0..70_000 {
            let _s = start_span("s", Kind::Other);
        }
    }
    let traces = rec.take();
    assert_eq!(traces.len(), 2);
    for t in &traces {
        let spans = &t.ingest().spans;
        assert_eq!(spans.len(), 70_000);
        assert_eq!(
            spans.iter().map(|s| &s.xid).collect::<HashSet<_>>().len(),
            70_000
        );
    }
}

struct OpensASpanWhenDropped;

impl Drop for OpensASpanWhenDropped {
    fn drop(&mut self) {
        let _late = start_span("late", Kind::Tool);
    }
}

thread_local! {
    static LATE: OpensASpanWhenDropped = const { OpensASpanWhenDropped };
}

#[test]
fn a_span_opened_in_a_thread_local_destructor_after_the_exit_flush_is_counted_not_recorded() {
    let rec = Recorder::install_global();
    let before = modelmetry::stats().dropped.context_unavailable;
    std::thread::spawn(|| {
        // Registered before the SDK's own thread-locals: its destructor runs after the one
        // that delivers this thread's open frames.
        LATE.with(|_| ());
        let trace = start_trace("leaky");
        std::mem::forget(start_span("forgotten", Kind::Tool));
        std::mem::forget(trace);
    })
    .join()
    .expect("no panic at thread exit");
    let traces = rec.take();
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_eq!(traces[0].tree(), "trace leaky\n└── tool forgotten\n");
    // The late span found the stack already delivered: refused, and counted.
    let after = modelmetry::stats().dropped.context_unavailable;
    assert_eq!(after - before, 1);
}
