//! A trace larger than the whole buffer: in background delivery it cannot be held without
//! breaking the buffer's bound, so it is dropped under its own reason with a message that
//! says so (not "the buffer is full" while the buffer is empty); synchronous delivery, which
//! has no buffer, sends it in several requests.

use std::time::Duration;

use modelmetry::Delivery;
use modelmetry_tests::{Delta, Diagnostics, Server, config_for, expect_lost, record_trace};

#[test]
fn a_trace_larger_than_the_buffer_is_dropped_under_its_own_reason() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .max_buffer_records(100)
        .init()
        .expect("init");
    let large = record_trace("large.whole", 150);
    let small = record_trace("large.small", 5);
    let lost = expect_lost(guard.flush(Duration::from_secs(5)), "trace_too_large");
    assert_eq!(lost, large);
    let delta = Delta::since(&before);
    assert_eq!(delta.trace_too_large, large as i64, "{delta:?}");
    assert_eq!(delta.buffer_full, 0, "{delta:?}");
    assert_eq!(delta.sent, small as i64, "{delta:?}");
    assert_eq!(delta.unaccounted(), 0, "{delta:?}");
    let lines = diag.matching("larger than the whole buffer");
    assert_eq!(lines.len(), 1, "{:?}", diag.lines());
    assert!(
        lines[0].contains("a trace of 151 records")
            && lines[0].contains("max_buffer_records 100")
            && lines[0].contains("stats().dropped.trace_too_large"),
        "{}",
        lines[0]
    );
    assert!(
        diag.matching("buffer is full").is_empty(),
        "{:?}",
        diag.lines()
    );
    let delivered: usize = server.requests().iter().map(|r| r.xids().len()).sum();
    assert_eq!(delivered as u64, small);
    drop(guard);
}

#[test]
fn synchronous_delivery_sends_a_trace_larger_than_the_buffer_in_parts() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .delivery(Delivery::Synchronous)
        .max_buffer_records(100)
        .max_batch_records(50)
        .init()
        .expect("init");
    let large = record_trace("large.sync", 150);
    guard.flush(Duration::from_secs(5)).expect("delivered");
    let delta = Delta::since(&before);
    assert_eq!(delta.sent, large as i64, "{delta:?}");
    assert_eq!(delta.dropped(), 0, "{delta:?}");
    let requests = server.requests();
    assert!(requests.len() >= 4, "{} request(s)", requests.len());
    let delivered: usize = requests.iter().map(|r| r.xids().len()).sum();
    assert_eq!(delivered as u64, large);
    drop(guard);
}
