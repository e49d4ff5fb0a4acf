//! Permanent refusals: a 4xx other than 413 and 429 is not retried, its problem+json
//! `detail` is reported (once) through `Config::on_error`, and the records are counted as
//! rejected.

use std::time::Duration;

use modelmetry_tests::{Delta, Harness, Reply, expect_lost, record_trace};

#[test]
fn a_400_problem_json_is_surfaced_with_its_detail_and_counted_as_rejected() {
    let h = Harness::start();
    let detail = "Spans[0].Name: expected string, got null";
    h.server.fallback(Reply::problem(400, detail));
    let guard = h.init();
    let n = record_trace("rejected.400", 1); // a trace and its span
    expect_lost(guard.flush(Duration::from_secs(2)), "rejected");
    drop(guard);

    // The batch of two was split to find which record the server refuses: both, alone.
    let sizes: Vec<usize> = h.server.requests().iter().map(|r| r.xids().len()).collect();
    assert_eq!(sizes, [2, 1, 1]);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            rejected: n as i64,
            ..Delta::default()
        }
    );
    let lines = h.diag.matching(detail);
    assert_eq!(lines.len(), 1, "reported once: {:?}", h.diag.lines());
    assert!(lines[0].contains("status 400"), "{}", lines[0]);
    assert!(lines[0].contains("2 record(s)"), "{}", lines[0]);
}

#[test]
fn a_401_is_permanent_for_the_whole_batch_and_reported_once() {
    let h = Harness::start();
    h.server.fallback(Reply::problem(401, "invalid API key"));
    let guard = h.init();
    let a = record_trace("rejected.401.a", 3);
    expect_lost(guard.flush(Duration::from_secs(2)), "rejected");
    let b = record_trace("rejected.401.b", 1);
    expect_lost(guard.flush(Duration::from_secs(2)), "rejected");
    drop(guard);

    // Neither retried nor split: splitting cannot fix a key.
    let sizes: Vec<usize> = h.server.requests().iter().map(|r| r.xids().len()).collect();
    assert_eq!(sizes, [a as usize, b as usize]);
    assert_eq!(
        h.delta(),
        Delta {
            produced: (a + b) as i64,
            rejected: (a + b) as i64,
            ..Delta::default()
        }
    );
    assert_eq!(
        h.diag.matching("invalid API key").len(),
        1,
        "{:?}",
        h.diag.lines()
    );
}
