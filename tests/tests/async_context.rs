//! A span's parent is where its function was called, not where its future is first polled:
//! attributed `async fn`s handed to `tokio::spawn` (on a current-thread and a multi-thread
//! runtime), async blocks carrying `in_current_span`, `spawn_blocking` with `ctx.wrap(f)`,
//! `join_all` and rayon all land in one trace, each under the right parent.
//!
//! The trace is opened and closed on the test's own thread (`block_on` polls the root future
//! there); everything that runs on another thread carries its context explicitly, which is
//! what these tests are about.

use std::collections::BTreeMap;

use modelmetry::testing::{RecordedTrace, Recorder};
use modelmetry::{Context, Instrument, Kind, span, trace};
use modelmetry_tests::block_on;
use rayon::prelude::*;
use serde_json::json;

#[span(kind = "tool", name = format!("lookup.{topic}"))]
async fn lookup(topic: &'static str) -> usize {
    tokio::task::yield_now().await;
    topic.len()
}

#[span(kind = "agent", name = format!("research.{topic}"))]
async fn research(topic: &'static str) -> usize {
    tokio::task::yield_now().await;
    lookup(topic).await
}

#[span(kind = "tool", name = format!("embed.{text}"))]
fn embed(text: &str) -> usize {
    text.len()
}

#[span(kind = "tool", name = format!("score.{i}"))]
fn score(i: u32) -> u32 {
    i * 2
}

#[trace(name = "agent")]
async fn agent() -> usize {
    // Attributed async fns, spawned: each takes its parent here, at the call.
    let a = tokio::spawn(research("a"));
    let b = tokio::spawn(research("b"));
    let mut total = a.await.unwrap() + b.await.unwrap();

    // The same, called inside a context attached for the call only.
    let ctx = Context::current();
    total += tokio::spawn(ctx.in_scope(|| research("scoped")))
        .await
        .unwrap();

    // An async block with no span of its own: it carries the context taken here.
    total += tokio::spawn(
        async {
            tokio::task::yield_now().await;
            let _step = modelmetry::start_span("block.step", Kind::Chain);
            embed("in_block")
        }
        .in_current_span(),
    )
    .await
    .unwrap();

    // Blocking work on tokio's blocking pool.
    total += tokio::task::spawn_blocking(Context::current().wrap(|| embed("blocking")))
        .await
        .unwrap();

    // Futures polled together by `join_all`.
    let joined = futures::future::join_all(["j1", "j2"].map(research)).await;
    total += joined.iter().sum::<usize>();

    // Rayon: each item runs with the context attached, on whichever pool thread takes it.
    let ctx = Context::current();
    let scores: u32 = (0..3u32)
        .into_par_iter()
        .map(|i| ctx.in_scope(|| score(i)))
        .sum();
    total + scores as usize
}

/// Each span's name, with the name of its parent (the trace's, for a span under the trace).
fn parents(trace: &RecordedTrace) -> BTreeMap<String, String> {
    let body = trace.ingest();
    let trace_name = body.traces[0].name.clone().unwrap_or_default();
    body.spans
        .iter()
        .map(|s| {
            let parent = match &s.parent_id {
                None => trace_name.clone(),
                Some(id) => body
                    .spans
                    .iter()
                    .find(|p| &p.xid == id)
                    .map_or_else(|| format!("<missing {id}>"), |p| p.name.clone()),
            };
            (s.name.clone(), parent)
        })
        .collect()
}

fn expected() -> BTreeMap<String, String> {
    [
        ("research.a", "agent"),
        ("lookup.a", "research.a"),
        ("research.b", "agent"),
        ("lookup.b", "research.b"),
        ("research.scoped", "agent"),
        ("lookup.scoped", "research.scoped"),
        ("block.step", "agent"),
        ("embed.in_block", "block.step"),
        ("embed.blocking", "agent"),
        ("research.j1", "agent"),
        ("lookup.j1", "research.j1"),
        ("research.j2", "agent"),
        ("lookup.j2", "research.j2"),
        ("score.0", "agent"),
        ("score.1", "agent"),
        ("score.2", "agent"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

fn check(recorder: &Recorder, total: usize) {
    // 1+1 (a, b) + 6 (scoped) + 8 (in_block) + 8 (blocking) + 2+2 (j1, j2) + 0+2+4 (scores)
    assert_eq!(total, 34);
    let traces = recorder.take();
    let names: Vec<&str> = traces
        .iter()
        .map(|t| t.tree().lines().next().unwrap_or(""))
        .collect();
    assert_eq!(traces.len(), 1, "one trace, not one per task: {names:?}");
    assert_eq!(parents(&traces[0]), expected());
}

#[test]
fn spawned_work_nests_under_its_caller_on_a_current_thread_runtime() {
    let recorder = Recorder::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let total = rt.block_on(agent());
    check(&recorder, total);
}

#[test]
fn spawned_work_nests_under_its_caller_on_a_multi_thread_runtime() {
    let recorder = Recorder::install();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let total = rt.block_on(agent());
    check(&recorder, total);
}

#[test]
fn a_future_polled_on_another_thread_keeps_the_parent_of_its_call() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("turn");
        let _caller = modelmetry::start_span("caller", Kind::Chain);
        let fut = lookup("far");
        // Polled on a thread where no trace is current: it still nests under `caller`.
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                assert_eq!(rt.block_on(fut), 3);
            });
        });
    }
    assert_eq!(
        recorder.take_trees(),
        "trace turn\n└── chain caller\n    └── tool lookup.far\n"
    );
}

#[test]
fn a_future_dropped_unpolled_closes_its_span_as_cancelled() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("turn");
        drop(lookup("never"));
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn\n└── tool lookup.never  cancelled\n"
    );
    let span = &traces[0].ingest().spans[0];
    assert_eq!(span.metadata["cancelled"], json!(true));
    assert_eq!(span.metadata["polls"], json!(0));
}

#[test]
fn in_context_carries_a_context_into_a_send_future() {
    fn assert_send<T: Send>(_: &T) {}
    let recorder = Recorder::install();
    let ctx = {
        let _t = modelmetry::start_trace("turn");
        let ctx = Context::current();
        // A `ContextGuard` cannot be held across an `.await` in a `Send` future; this can.
        let fut = async {
            tokio::task::yield_now().await;
            embed("carried")
        }
        .in_context(ctx.clone());
        assert_send(&fut);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(fut), 7);
        // With no context current, `in_current_span` carries none: a trace of its own.
        ctx
    };
    drop(ctx);
    assert_eq!(block_on(async { embed("alone") }.in_current_span()), 5);
    assert_eq!(
        recorder.take_trees(),
        "trace turn\n└── tool embed.carried\ntrace embed.alone\n└── tool embed.alone\n"
    );
}
