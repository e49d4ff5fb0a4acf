//! Retries: network errors and 502/503/504 are retried with backoff until the deadline, every
//! record arriving once; other statuses are not retried.

use std::time::{Duration, Instant};

use modelmetry_tests::{
    Delta, Harness, Reply, all_sent_xids, assert_each_delivered_once, expect_lost, record_trace,
    wait_until,
};

#[test]
fn after_503_503_200_every_xid_arrives_exactly_once() {
    let h = Harness::start();
    h.server.script([Reply::status(503), Reply::status(503)]);
    let guard = h.init();
    let n = record_trace("retry.a", 2) + record_trace("retry.b", 1);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    let statuses: Vec<Option<u16>> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    // The same bytes each time: a retry never re-encodes, so XIDs cannot change.
    assert_eq!(requests[0].body, requests[2].body);
    let sent = all_sent_xids(&h.server);
    assert_eq!(sent.len() as u64, n);
    assert_each_delivered_once(&h.server, &sent);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64,
            retried: 2 * n as i64,
            ..Delta::default()
        }
    );
}

#[test]
fn bad_gateways_and_gateway_timeouts_are_retried_and_retry_after_is_honoured() {
    let h = Harness::start();
    h.server.script([
        Reply::status(502),
        Reply::status(504),
        Reply::status(503).header("Retry-After", "1"),
    ]);
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    let n = record_trace("retry.gateways", 1);
    guard.flush(Duration::from_secs(4)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 4);
    let gap = |i: usize| requests[i + 1].at - requests[i].at;
    // Backoff with full jitter: at most 100 ms, then 200 ms (plus scheduling).
    assert!(gap(0) < Duration::from_millis(600), "{:?}", gap(0));
    assert!(gap(1) < Duration::from_millis(800), "{:?}", gap(1));
    // Retry-After: 1 on the 503.
    assert!(gap(2) >= Duration::from_millis(950), "{:?}", gap(2));
    assert_each_delivered_once(&h.server, &all_sent_xids(&h.server));
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64,
            retried: 3 * n as i64,
            ..Delta::default()
        }
    );
}

#[test]
fn a_connection_reset_is_retried() {
    let h = Harness::start();
    h.server.script([Reply::Reset]);
    let guard = h.init();
    let n = record_trace("retry.reset", 2);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].status, None, "the first connection was reset");
    assert_eq!(requests[1].xids().len() as u64, n);
    assert_each_delivered_once(&h.server, &requests[1].xids().into_iter().collect());
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64,
            retried: n as i64,
            ..Delta::default()
        }
    );
}

#[test]
fn a_500_is_not_retried_and_counted_as_undelivered() {
    let h = Harness::start();
    h.server
        .fallback(Reply::problem(500, "database unavailable"));
    let guard = h.init();
    let n = record_trace("retry.500", 1);
    expect_lost(guard.flush(Duration::from_secs(2)), "network");
    drop(guard);

    assert_eq!(h.server.request_count(), 1);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            network: n as i64,
            ..Delta::default()
        }
    );
    let lines = h.diag.matching("not delivered");
    assert_eq!(lines.len(), 1, "{:?}", h.diag.lines());
    assert!(lines[0].contains("500") && lines[0].contains("database unavailable"));
}

#[test]
fn retries_stop_at_the_shutdown_deadline() {
    let h = Harness::start();
    h.server.fallback(Reply::status(503));
    let _guard = h.init();
    let n = record_trace("retry.deadline", 1) as i64;
    let start = Instant::now();
    let _ = modelmetry::shutdown(Duration::from_millis(600));
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    assert!(wait_until(Duration::from_secs(3), || h.delta().buffered == 0));

    let d = h.delta();
    let attempts = h.server.request_count() as i64;
    assert!(
        attempts >= 2,
        "backoff starts at 100 ms: several tries in 600 ms"
    );
    // Either the next backoff would pass the deadline (network), or the retry was still
    // waiting when shutdown cut it (shutdown): counted once, by the time shutdown returned.
    assert_eq!(d.network + d.shutdown, n, "{d:?}");
    assert_eq!(
        d,
        Delta {
            produced: n,
            network: d.network,
            shutdown: d.shutdown,
            retried: (attempts - 1) * n,
            ..Delta::default()
        }
    );
}
