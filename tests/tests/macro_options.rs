//! Options that take expressions take them by reference (an owned `String` stays usable in the
//! body), and `name` takes an expression, evaluated only when tracing is on.

use std::sync::atomic::{AtomicUsize, Ordering};

use modelmetry::testing::{self, Recorder};
use modelmetry::{span, trace};
use serde_json::json;

#[trace(name = "turn", session = session_id, user = user_id, tags = [tenant],
        metadata(tenant = tenant))]
fn turn(session_id: String, user_id: String, tenant: String, text: &str) -> String {
    // Each option's variable is still ours here: none was moved by the attribute.
    tool(format!("{session_id}/{user_id}/{tenant}"), text)
}

#[span(kind = "tool", name = format!("tool.{}", name.len()), model = model)]
fn tool(name: String, model: &str) -> String {
    name
}

#[trace(name = format!("agent.{agent}"), session = agent)]
async fn run_agent(agent: String) -> usize {
    agent.len()
}

#[test]
fn owned_options_are_not_moved_and_names_are_expressions() {
    let recorder = Recorder::install();
    let out = turn("s-1".into(), "u-1".into(), "acme".into(), "gpt-4o");
    assert_eq!(out, "s-1/u-1/acme");
    let n = futures::executor_free_block_on(run_agent("planner".into()));
    assert_eq!(n, 7);
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "trace turn  session=s-1  user=u-1  tags=[acme]\n└── tool tool.12  gpt-4o\n"
    );
    assert_eq!(
        traces[0].ingest().traces[0].metadata["tenant"],
        json!("acme")
    );
    assert_eq!(traces[1].tree(), "trace agent.planner  session=planner\n");
}

static NAMED: AtomicUsize = AtomicUsize::new(0);

fn counted_name() -> String {
    NAMED.fetch_add(1, Ordering::SeqCst);
    "counted".to_owned()
}

#[span(name = counted_name())]
fn counted() -> u8 {
    1
}

#[test]
fn a_name_expression_is_not_evaluated_when_tracing_is_off() {
    {
        // No recorder, no `init()`: tracing is off on this thread.
        let _lock = testing::lock();
        assert_eq!(counted(), 1);
        assert_eq!(NAMED.load(Ordering::SeqCst), 0);
    }
    let recorder = Recorder::install();
    assert_eq!(counted(), 1);
    assert_eq!(NAMED.load(Ordering::SeqCst), 1);
    assert_eq!(recorder.take_trees(), "trace counted\n└── other counted\n");
}

mod futures {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    pub(crate) fn executor_free_block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
