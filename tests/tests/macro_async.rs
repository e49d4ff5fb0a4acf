//! `async fn` under `#[span]` and `#[trace]`: the span follows the future across polls, on an
//! executor written here (the library depends on none).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use modelmetry::testing::Recorder;
use modelmetry::{finding, span, trace};
use modelmetry_tests::block_on;
use serde_json::json;

/// Pending once, then ready: forces the caller to be polled again.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn yield_now() -> YieldNow {
    YieldNow(false)
}

#[span(kind = "llm", model = "gpt-4o-mini")]
async fn generate(prompt: &str) -> String {
    yield_now().await;
    // Recorded after a suspension: lands on this span, which is current again in this poll.
    finding!(output_tokens = 7);
    format!("echo: {prompt}")
}

#[span(kind = "tool")]
async fn lookup(id: u32) -> Result<u32, String> {
    yield_now().await;
    if id == 0 {
        return Err("no such order".to_owned());
    }
    Ok(id)
}

#[span(kind = "chain")]
async fn pipeline(text: &str) -> Result<u32, String> {
    let reply = generate(text).await;
    yield_now().await;
    let n = lookup(reply.len() as u32).await?;
    lookup(0).await?;
    Ok(n)
}

#[trace(name = "turn", session = "s-1")]
async fn turn(text: &str) -> Result<u32, String> {
    pipeline(text).await
}

#[test]
fn the_span_tree_of_async_functions_matches_the_sync_one() {
    let recorder = Recorder::install();
    assert_eq!(block_on(turn("hi")), Err("no such order".to_owned()));
    let traces = recorder.take();
    assert_eq!(traces.len(), 1);
    let t = &traces[0];
    assert_eq!(
        t.tree(),
        "\
trace turn  session=s-1  error: no such order
└── chain pipeline  error: no such order
    ├── llm generate  gpt-4o-mini
    │   └── finding output_tokens = 7
    ├── tool lookup
    └── tool lookup  error: no such order
"
    );
    let body = t.ingest();
    let generate = body.spans.iter().find(|s| s.name == "generate").unwrap();
    assert_eq!(generate.metadata["input"], json!({"prompt": "hi"}));
    assert_eq!(generate.metadata["output"], json!("echo: hi"));
    assert_eq!(body.traces[0].metadata["input"], json!({"text": "hi"}));
    assert!(
        generate.metadata.get("cancelled").is_none(),
        "completed, not cancelled"
    );
}

#[span]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[test]
fn a_future_dropped_before_completion_closes_its_span_as_cancelled() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        let mut fut = Box::pin(never_finishes());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "trace t\n└── other never_finishes  cancelled\n"
    );
    let span = &traces[0].ingest().spans[0];
    assert_eq!(span.metadata["cancelled"], json!(true));
    assert_eq!(span.metadata["polls"], json!(2));
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[span(kind = "retriever")]
    async fn first(&self) -> Option<&String> {
        yield_now().await;
        self.items.first()
    }

    #[span]
    async fn push(&mut self, item: String) -> &mut Vec<String> {
        self.items.push(item);
        &mut self.items
    }
}

#[span]
async fn boom() -> u8 {
    yield_now().await;
    panic!("async boom")
}

#[test]
fn async_methods_and_panics() {
    let recorder = Recorder::install();
    {
        let _t = modelmetry::start_trace("t");
        let mut store = Store {
            items: vec!["x".into()],
        };
        assert_eq!(block_on(store.first()).map(String::as_str), Some("x"));
        assert_eq!(block_on(store.push("y".into())).len(), 2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(boom())));
        assert!(caught.is_err(), "the panic keeps unwinding");
    }
    let traces = recorder.take();
    assert_eq!(
        traces[0].tree(),
        "\
trace t
├── retriever first
├── other push
└── other boom  error: panicked: async boom
"
    );
    let push = &traces[0].ingest().spans[1];
    assert_eq!(push.metadata["input"], json!({"item": "y"}));
    assert_eq!(push.metadata["output"], json!(["x", "y"]));
}

#[trace(name = "async.root", user = "u-1", flush)]
async fn root_trace(n: u8) -> u8 {
    yield_now().await;
    n * 2
}

#[test]
fn an_async_trace_as_the_root_and_nested() {
    let recorder = Recorder::install();
    assert_eq!(block_on(root_trace(2)), 4);
    {
        let _outer = modelmetry::start_trace("outer");
        assert_eq!(block_on(root_trace(3)), 6);
    }
    let traces = recorder.take();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0].tree(), "trace async.root  user=u-1\n");
    let root = &traces[0].ingest().traces[0];
    assert_eq!(root.metadata["input"], json!({"n": 2}));
    assert_eq!(root.metadata["output"], json!(4));
    assert_eq!(
        traces[1].tree(),
        "trace outer  user=u-1\n└── other async.root\n"
    );
    let child = &traces[1].ingest().spans[0];
    assert_eq!(child.metadata["nested_trace"], json!(true));
    assert_eq!(child.metadata["input"], json!({"n": 3}));
    assert_eq!(child.metadata["output"], json!(6));
}

#[test]
fn instrumented_futures_stay_send() {
    fn assert_send<T: Send>(_: &T) {}
    // Calling an attributed `async fn` opens its span (dropped here unpolled: cancelled); the
    // recorder keeps it from landing anywhere else.
    let _recorder = Recorder::install();
    let fut = turn("x");
    assert_send(&fut);
    let store = Store { items: Vec::new() };
    assert_send(&store.first());
}
