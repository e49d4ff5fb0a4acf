//! Splitting: a 413 halves a batch until it fits; a 400 for a batch of many records halves
//! it until the refused records are isolated, and only those are lost; a record over the
//! request byte limit is never sent.

use std::collections::HashSet;
use std::time::Duration;

use modelmetry_tests::{
    Delta, Harness, Reply, all_sent_xids, assert_each_delivered_once, expect_lost, record_trace,
    record_trace_with_input,
};

#[test]
fn a_413_splits_the_batch_until_it_fits() {
    let h = Harness::start();
    h.server
        .rule(|r| (r.records > 2).then(|| Reply::problem(413, "request body too large")));
    let guard = h.init();
    let n = record_trace("split.413", 7);
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);

    let sizes: Vec<usize> = h.server.requests().iter().map(|r| r.records).collect();
    assert_eq!(sizes, [8, 4, 2, 2, 4, 2, 2]);
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
fn a_413_for_one_record_counts_it_too_large() {
    let h = Harness::start();
    h.server
        .fallback(Reply::problem(413, "request body too large"));
    let guard = h.init();
    let n = record_trace("split.413.alone", 0);
    expect_lost(guard.flush(Duration::from_secs(2)), "too_large");
    drop(guard);

    assert_eq!(h.server.request_count(), 1);
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            too_large: n as i64,
            ..Delta::default()
        }
    );
    assert_eq!(h.diag.matching("request body too large").len(), 1);
}

#[test]
fn one_bad_record_costs_no_other() {
    let h = Harness::start();
    let detail = "Spans[17].Metadata.input: value refused";
    h.server.refuse_containing("BAD-RECORD-MARKER", detail);
    let guard = h.init();
    let mut n = 0;
    for i in 0..10 {
        n += record_trace(&format!("split.good.{i}"), 3);
    }
    n += record_trace_with_input("split.bad", "BAD-RECORD-MARKER");
    expect_lost(guard.flush(Duration::from_secs(3)), "rejected");
    drop(guard);

    let refused: Vec<_> = h
        .server
        .requests()
        .into_iter()
        .filter(|r| r.status == Some(400))
        .collect();
    let alone: Vec<_> = refused.iter().filter(|r| r.records == 1).collect();
    assert_eq!(alone.len(), 1, "the bad record, isolated");
    let bad = alone[0].xids().remove(0);
    let expected: HashSet<String> = all_sent_xids(&h.server)
        .into_iter()
        .filter(|x| *x != bad)
        .collect();
    assert_eq!(expected.len() as u64, n - 1);
    assert_each_delivered_once(&h.server, &expected);
    // log2(42) rounds of halving, two requests each, plus the first: a handful, not 42.
    assert!(
        h.server.request_count() <= 14,
        "{}",
        h.server.request_count()
    );
    assert_eq!(
        h.delta(),
        Delta {
            produced: n as i64,
            sent: n as i64 - 1,
            rejected: 1,
            ..Delta::default()
        }
    );
    let lines = h.diag.matching(detail);
    assert_eq!(lines.len(), 1, "{:?}", h.diag.lines());
    assert!(lines[0].contains("1 record(s)"), "{}", lines[0]);
}

#[test]
fn no_request_over_the_byte_limit_is_ever_sent() {
    let h = Harness::start();
    let limit = 2048;
    let guard = h.config().max_batch_bytes(limit).init().expect("init");
    let small = record_trace("split.small", 2);
    let big = record_trace_with_input("split.big", &"y".repeat(5000));
    expect_lost(guard.flush(Duration::from_secs(2)), "too_large");
    drop(guard);

    for r in h.server.requests() {
        assert!(r.body.len() <= limit, "a body of {} bytes", r.body.len());
    }
    let d = h.delta();
    // The oversized span is dropped as too large, unless record-side truncation cut it to
    // fit first; either way nothing over the limit travels and every record is counted.
    assert!(d.too_large <= 1, "{d:?}");
    assert_eq!(
        d,
        Delta {
            produced: (small + big) as i64,
            sent: (small + big) as i64 - d.too_large,
            too_large: d.too_large,
            ..Delta::default()
        }
    );
    assert_eq!(all_sent_xids(&h.server).len() as i64, d.sent);
    if d.too_large == 1 {
        assert_eq!(h.diag.matching("over the request limit").len(), 1);
    }
}
