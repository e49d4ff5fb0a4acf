//! What goes on the wire: the path, the headers, the body, and how records are packed into
//! requests by count and by bytes.

use std::collections::HashSet;
use std::time::Duration;

use modelmetry_tests::{
    Delta, Diagnostics, Harness, Server, TEST_KEY, all_sent_xids, assert_each_delivered_once,
    config_for, record_trace, record_trace_with_input, wait_until,
};

#[test]
fn a_trace_is_posted_to_the_ingest_path_with_the_key_and_json_headers() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    // A trailing slash on the base URL must not double the path's slash.
    let guard = config_for(&format!("{}/", server.base_url()), &diag)
        .init()
        .expect("init");
    let n = record_trace("request.shape", 3);
    guard.flush(Duration::from_secs(2)).expect("flush");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one trace, one request");
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/signals/ingest/v1");
    assert_eq!(r.header("X-API-KEY"), Some(TEST_KEY));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.header("User-Agent"),
        Some(concat!("modelmetry-rust/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(
        r.header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok()),
        Some(r.body.len())
    );
    // The key travels in its header and nowhere else.
    for (name, value) in &r.headers {
        assert!(name == "x-api-key" || !value.contains(TEST_KEY), "{name}");
    }
    assert!(!String::from_utf8_lossy(&r.body).contains(TEST_KEY));

    let body = r.ingest();
    assert_eq!(body.traces.len(), 1);
    let trace = &body.traces[0];
    assert_eq!(trace.name.as_deref(), Some("request.shape"));
    let names: Vec<&str> = body.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "request.shape.step0",
            "request.shape.step1",
            "request.shape.step2"
        ]
    );
    for (i, span) in body.spans.iter().enumerate() {
        assert_eq!(span.trace_id, trace.xid);
        assert_eq!(
            span.metadata["input"],
            format!("input {i} of request.shape")
        );
    }
    drop(guard);
    assert_eq!(
        Delta::since(&before),
        Delta {
            produced: n as i64,
            sent: n as i64,
            ..Delta::default()
        }
    );
    assert!(diag.lines().is_empty(), "{:?}", diag.lines());
}

#[test]
fn the_flusher_wakes_early_only_once_the_buffer_is_a_quarter_full() {
    let h = Harness::start();
    // The interval is an hour: only the early wake can send before the flush below.
    let guard = h
        .config()
        .max_buffer_records(40)
        .max_batch_records(4)
        .init()
        .expect("init");
    // 9 records: more than two requests' worth, less than a quarter of the buffer (10).
    let mut n = record_trace("wake.a", 2) + record_trace("wake.b", 2) + record_trace("wake.c", 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        h.server.request_count(),
        0,
        "below a quarter of the buffer the flusher waits for its interval"
    );
    // The 10th record makes a quarter: the flusher wakes at once and sends all ten.
    n += record_trace("wake.d", 0);
    let sent = || all_sent_xids(&h.server).len() as u64;
    assert!(
        wait_until(Duration::from_secs(3), || sent() == n),
        "a quarter of the buffer wakes the flusher: {} of {n} records sent",
        sent()
    );
    guard.flush(Duration::from_secs(2)).expect("flush");
    assert!(h.diag.lines().is_empty(), "{:?}", h.diag.lines());
}

#[test]
fn requests_are_closed_by_record_count() {
    let h = Harness::start();
    let guard = h.config().max_batch_records(5).init().expect("init");
    let n: u64 = (0..4).map(|i| record_trace(&format!("count.{i}"), 3)).sum();
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);

    // How the 16 records fall into requests depends on how the traces split across export
    // rounds ([5, 5, 5, 1] or [5, 3, 5, 3], …); what must hold is the bound.
    let sizes: Vec<usize> = h.server.requests().iter().map(|r| r.xids().len()).collect();
    assert!(
        sizes.iter().all(|&s| (1..=5).contains(&s)),
        "at most 5 records a request: {sizes:?}"
    );
    assert_eq!(sizes.iter().sum::<usize>(), 16, "{sizes:?}");
    assert!(
        sizes.len() >= 4,
        "16 records need at least 4 requests: {sizes:?}"
    );
    for r in h.server.requests() {
        let _ = r.ingest(); // each one a valid body on its own
    }
    let sent = all_sent_xids(&h.server);
    assert_eq!(sent.len() as u64, n);
    assert_each_delivered_once(&h.server, &sent);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64,
            ..Delta::default()
        }
    );
}

#[test]
fn requests_are_closed_by_bytes() {
    let h = Harness::start();
    let limit = 4096;
    let guard = h.config().max_batch_bytes(limit).init().expect("init");
    let big = "x".repeat(1500);
    let n: u64 = (0..6)
        .map(|i| record_trace_with_input(&format!("bytes.{i}"), &big))
        .sum();
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    assert!(
        requests.len() >= 3,
        "12 records of ~2 KB cannot fit in 4 KiB requests"
    );
    for r in &requests {
        assert!(r.body.len() <= limit, "a body of {} bytes", r.body.len());
        let _ = r.ingest();
    }
    let sent: HashSet<String> = all_sent_xids(&h.server);
    assert_eq!(sent.len() as u64, n);
    assert_each_delivered_once(&h.server, &sent);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64,
            ..Delta::default()
        }
    );
}
