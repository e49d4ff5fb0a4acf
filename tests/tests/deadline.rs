//! Never a hang: `flush` and `shutdown` hold their deadline against a server that accepts
//! the connection and never answers, and against one that answers a byte at a time.

use std::time::{Duration, Instant};

use modelmetry_tests::{Delta, Harness, Reply, record_trace};

// Room for a loaded CI machine; a hang would overshoot by seconds.
const SLACK: Duration = Duration::from_millis(250);

#[test]
fn flush_and_shutdown_return_by_their_deadline_when_the_server_never_answers() {
    let h = Harness::start();
    h.server.fallback(Reply::Hang);
    let before = modelmetry::stats();
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(1))
        .init()
        .expect("init");
    let n = record_trace("deadline.hang", 2) as i64;

    let start = Instant::now();
    let flushed = guard.flush(Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    match flushed {
        Err(modelmetry::Error::Timeout { pending }) => assert_eq!(pending, n as u64),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let start = Instant::now();
    let shut = modelmetry::shutdown(Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    // The request in flight is cut at the deadline: its records are counted before
    // `shutdown` returns, and the error says how many were lost and why.
    match shut {
        Err(modelmetry::Error::Lost { records, reason }) => {
            assert_eq!(records, n as u64);
            assert!(reason.contains("shutdown"), "{reason}");
        }
        other => panic!("expected the records lost at shutdown, got {other:?}"),
    }
    let d = Delta::since(&before);
    assert_eq!(
        d,
        Delta {
            produced: n,
            shutdown: n,
            retried: d.retried,
            ..Delta::default()
        }
    );
    drop(guard);
    assert!(h.server.request_count() >= 1);
    // The server never answered: it accepted nothing, and nothing was counted as sent.
    assert!(h.server.accepted_xids().is_empty());
}

#[test]
fn flush_and_shutdown_return_by_their_deadline_against_a_trickling_server() {
    let h = Harness::start();
    h.server.fallback(Reply::Trickle {
        interval: Duration::from_millis(100),
    });
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(1))
        .init()
        .expect("init");
    let n = record_trace("deadline.trickle", 1) as i64;

    let start = Instant::now();
    assert!(guard.flush(Duration::from_millis(300)).is_err());
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    let start = Instant::now();
    let shut = modelmetry::shutdown(Duration::from_millis(400));
    assert!(start.elapsed() < Duration::from_millis(400) + SLACK);
    drop(guard);

    // The trickling answer is cut at shutdown's deadline (sooner than the transport's own
    // 800 ms timeout) and its records counted by then.
    assert!(
        matches!(shut, Err(modelmetry::Error::Lost { records, .. }) if records == n as u64),
        "{shut:?}"
    );
    let d = h.delta();
    assert_eq!(d.produced, n);
    assert_eq!(d.buffered, 0);
    assert_eq!(d.unaccounted(), 0);
    assert_eq!(d.sent + d.shutdown + d.network, n, "{d:?}");
}
