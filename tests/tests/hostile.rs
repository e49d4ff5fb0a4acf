//! Hostile user code: hooks that call back into the SDK, captures that panic. The application
//! must never crash, hang or loop because of the SDK.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelmetry::testing::Recorder;
use modelmetry::{Config, Delivery, Error, span};
use modelmetry_tests::{
    Diagnostics, Harness, Reply, Server, all_sent_xids, config_for, record_trace,
};

#[span(kind = "tool")]
fn instrumented(n: u32) -> u32 {
    n + 1
}

/// Run `f` on a thread and fail (instead of hanging the test run) if it takes over `limit`.
fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("returned in time (the hook must not hang the application)")
}

#[test]
fn a_redaction_hook_that_traces_in_synchronous_delivery_neither_overflows_nor_loops() {
    let h = Harness::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let config = h
        .config()
        .delivery(Delivery::Synchronous)
        .redact(move |_, _| {
            seen.fetch_add(1, Ordering::Relaxed);
            instrumented(1);
        });
    let before = modelmetry::stats();
    let guard = config.init().expect("init");
    within(Duration::from_secs(20), || record_trace("hooked", 1));
    drop(guard);
    let after = modelmetry::stats();
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert_eq!(
        all_sent_xids(&h.server).len(),
        2,
        "only the trace and its span"
    );
    assert!(after.dropped.in_callback > before.dropped.in_callback);
    // Said once per process (another test may have said it first), counted every time.
    assert!(
        h.diag.matching("inside a callback").len() <= 1,
        "{:?}",
        h.diag.lines()
    );
    h.server.stop();
}

#[test]
fn a_redaction_hook_that_traces_in_background_delivery_makes_no_traces_of_its_own() {
    let h = Harness::start();
    let config = h
        .config()
        .flush_interval(Duration::from_millis(50))
        .redact(|_, _| {
            instrumented(1);
        });
    let guard = config.init().expect("init");
    for i in 0..3 {
        record_trace(&format!("bg.{i}"), 1);
    }
    guard.flush(Duration::from_secs(5)).expect("flush");
    // Several more flush intervals: nothing new may appear.
    std::thread::sleep(Duration::from_millis(400));
    guard.flush(Duration::from_secs(5)).expect("flush");
    drop(guard);
    assert_eq!(
        all_sent_xids(&h.server).len(),
        6,
        "3 traces of 2 records, no more"
    );
    h.server.stop();
}

#[test]
fn an_on_error_hook_that_traces_while_the_server_fails_returns() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.fallback(Reply::problem(500, "always failing"));
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let seen = hook_calls.clone();
    let config = config_for(&server.base_url(), &Diagnostics::new())
        .delivery(Delivery::Synchronous)
        .on_error(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
            instrumented(2);
        });
    let guard = config.init().expect("init");
    within(Duration::from_secs(20), || {
        for i in 0..3 {
            record_trace(&format!("failing.{i}"), 0);
        }
    });
    drop(guard);
    assert!(hook_calls.load(Ordering::Relaxed) >= 1);
    // Only our three traces were ever sent: the hook's spans were not traced.
    assert_eq!(all_sent_xids(&server).len(), 3);
    server.stop();
}

#[test]
fn flush_from_inside_a_hook_returns_at_once_with_an_error() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let results: Arc<Mutex<Vec<Result<(), Error>>>> = Arc::default();
    let out = results.clone();
    let config = config_for(&server.base_url(), &Diagnostics::new())
        .delivery(Delivery::Synchronous)
        .redact(move |_, _| {
            let mut out = out.lock().unwrap();
            out.push(modelmetry::flush(Duration::from_secs(30)));
            out.push(modelmetry::shutdown(Duration::from_secs(30)));
        });
    let guard = config.init().expect("init");
    within(Duration::from_secs(10), || record_trace("flushing.hook", 1));
    drop(guard);
    let results = results.lock().unwrap();
    assert!(!results.is_empty());
    assert!(
        results.iter().all(|r| matches!(r, Err(Error::InCallback))),
        "{results:?}"
    );
    server.stop();
}

// ---- captures that panic ------------------------------------------------------------------

struct PanicsInSerialize;
impl serde::Serialize for PanicsInSerialize {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize exploded")
    }
}

struct PanicsInDebug;
impl std::fmt::Debug for PanicsInDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("debug exploded")
    }
}

#[derive(Debug)]
struct PanicsInDisplay;
impl std::fmt::Display for PanicsInDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("display exploded")
    }
}

#[span]
fn takes_hostile_args(a: &PanicsInSerialize, b: &PanicsInDebug) -> u32 {
    let _ = (a, b);
    7
}

#[span]
fn fails_with_hostile_error() -> Result<u32, PanicsInDisplay> {
    Err(PanicsInDisplay)
}

#[span]
fn returns_hostile_output() -> PanicsInSerialize {
    PanicsInSerialize
}

#[test]
fn panicking_captures_never_reach_the_caller() {
    // Debug capture on, so that the panicking Debug is run.
    let rec = Recorder::install_with(Config::default().capture_debug(true));
    let before = modelmetry::stats();
    // Each call returns exactly as it would without the SDK.
    assert_eq!(takes_hostile_args(&PanicsInSerialize, &PanicsInDebug), 7);
    assert!(fails_with_hostile_error().is_err());
    let _ = returns_hostile_output();
    let after = modelmetry::stats();
    assert_eq!(after.capture_panics - before.capture_panics, 4);
    let traces = rec.take();
    assert_eq!(traces.len(), 3);
    let input = &traces[0].ingest().spans[0].metadata;
    let text = serde_json::to_string(input).unwrap();
    assert!(
        text.contains("<capture panicked: serialize exploded>"),
        "{text}"
    );
    assert!(
        text.contains("<capture panicked: debug exploded>"),
        "{text}"
    );
    let failed = &traces[1].ingest().spans[0];
    assert_eq!(
        failed.message.as_deref(),
        Some("<capture panicked: display exploded>")
    );
    let out = serde_json::to_string(&traces[2].ingest().spans[0].metadata).unwrap();
    assert!(
        out.contains("<capture panicked: serialize exploded>"),
        "{out}"
    );
}
