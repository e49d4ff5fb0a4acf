//! A `Recorder` sees exactly the traces of the test that installed it: its thread, and what
//! is carried from it. These tests take no lock and run in parallel, as `cargo test` runs them.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use modelmetry::testing::Recorder;
use modelmetry::{Context, Instrument, Kind, span, start_span, start_trace, trace};

#[trace]
fn job(n: u32) -> u32 {
    step(n) + 1
}

#[span(kind = "tool")]
fn step(n: u32) -> u32 {
    n * 2
}

/// Many tests at once, each with its own recorder: none sees another's traces, and a thread
/// with no recorder records into none of them.
#[test]
fn parallel_recorders_each_see_only_their_own_traces() {
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            std::thread::spawn(move || {
                if t == 7 {
                    // No recorder here: these traces reach no one's recorder.
                    for i in 0..50 {
                        job(1000 + i);
                    }
                    return Vec::new();
                }
                let rec = Recorder::install();
                for i in 0..50 {
                    let _t = start_trace(format!("thread-{t}"));
                    job(i);
                }
                rec.take()
            })
        })
        .collect();
    for (t, handle) in threads.into_iter().enumerate() {
        let traces = handle.join().expect("thread");
        if t == 7 {
            continue;
        }
        assert_eq!(traces.len(), 50, "thread {t}");
        for trace in traces {
            assert_eq!(
                trace.tree(),
                format!("trace thread-{t}\n└── other job\n    └── tool step\n")
            );
        }
    }
}

#[test]
fn a_recorder_sees_its_own_counters() {
    let rec = Recorder::install();
    let before = modelmetry::stats();
    job(1);
    let after = modelmetry::stats();
    assert_eq!(after.produced - before.produced, 2, "a trace and its span");
    assert_eq!(after.sent - before.sent, 2);
    assert_eq!(rec.take().len(), 1);
}

#[test]
fn work_carried_to_another_thread_reaches_the_recorder() {
    let rec = Recorder::install();
    {
        let _t = start_trace("carried");
        let ctx = Context::current();
        std::thread::spawn(move || {
            let _attached = ctx.attach();
            step(1);
        })
        .join()
        .expect("thread");
        // A thread that carries nothing records into no recorder.
        std::thread::spawn(|| {
            step(2);
        })
        .join()
        .expect("thread");
    }
    let traces = rec.take();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].tree(), "trace carried\n└── tool step\n");
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn poll_to_end<F: std::future::Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = TaskContext::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn a_future_made_here_and_polled_elsewhere_reaches_the_recorder() {
    let rec = Recorder::install();
    let fut = async {
        let _s = start_span("inside", Kind::Tool);
        7
    }
    .in_trace("task");
    let out = std::thread::spawn(move || poll_to_end(fut))
        .join()
        .expect("thread");
    assert_eq!(out, 7);
    let traces = rec.take();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].tree(), "trace task\n└── tool inside\n");
}
