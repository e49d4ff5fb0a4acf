//! Never a hang: `flush` and `shutdown` hold their deadline against a server that accepts
//! the connection and never answers, and against one that answers a byte at a time.

use std::time::{Duration, Instant};

use modelmetry_tests::{Delta, Diagnostics, Reply, Server, config_for, record_trace, wait_until};

// Room for a loaded CI machine; a hang would overshoot by seconds.
const SLACK: Duration = Duration::from_millis(250);

#[test]
fn flush_and_shutdown_return_by_their_deadline_when_the_server_never_answers() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.fallback(Reply::Hang);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
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
    assert!(modelmetry::shutdown(Duration::from_millis(300)).is_err());
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    drop(guard);
    assert!(server.request_count() >= 1);

    // Once the server goes away the stuck request fails and the records are counted.
    server.stop();
    assert!(wait_until(Duration::from_secs(4), || {
        Delta::since(&before).buffered == 0
    }));
    let d = Delta::since(&before);
    assert_eq!(
        d,
        Delta {
            produced: n,
            network: n,
            retried: d.retried,
            ..Delta::default()
        }
    );
}

#[test]
fn flush_and_shutdown_return_by_their_deadline_against_a_trickling_server() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    server.fallback(Reply::Trickle {
        interval: Duration::from_millis(100),
    });
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .export_timeout(Duration::from_secs(1))
        .init()
        .expect("init");
    let n = record_trace("deadline.trickle", 1) as i64;

    let start = Instant::now();
    assert!(guard.flush(Duration::from_millis(300)).is_err());
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    let start = Instant::now();
    let _ = modelmetry::shutdown(Duration::from_millis(400));
    assert!(start.elapsed() < Duration::from_millis(400) + SLACK);
    drop(guard);

    // The transport's own timeout (800 ms here) ends each trickling answer: the flusher
    // finishes by itself, without the server stopping.
    assert!(wait_until(Duration::from_secs(4), || {
        Delta::since(&before).buffered == 0
    }));
    let d = Delta::since(&before);
    assert_eq!(
        d,
        Delta {
            produced: n,
            network: n,
            retried: d.retried,
            ..Delta::default()
        }
    );
    assert!(
        diag.lines().iter().any(|l| l.contains("timed out")),
        "{:?}",
        diag.lines()
    );
}
