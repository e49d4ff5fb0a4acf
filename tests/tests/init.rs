//! `init` twice, and a guard dropped at once: one client runs at a time, and tracing never
//! goes off without a word.

use std::time::Duration;

use modelmetry::Error;
use modelmetry_tests::{Harness, all_sent_xids, record_trace};

#[test]
fn a_second_init_leaves_the_running_client_in_place() {
    let h = Harness::start();
    let first = h.init();
    assert!(first.is_active());

    // From code: an error, and the first client keeps running.
    let second = h.config().init();
    assert!(
        matches!(second, Err(Error::AlreadyInitialized)),
        "{second:?}"
    );
    // From the environment: one line, and a guard that does nothing.
    let third = modelmetry::init();
    assert!(!third.is_active());
    assert_eq!(
        h.diag.matching("already initialised").len(),
        1,
        "{:?}",
        h.diag.lines()
    );
    drop(third);

    // Dropping the second guard changed nothing: traces still go to the first client.
    record_trace("after.second.init", 1);
    first.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(all_sent_xids(&h.server).len(), 2, "the trace and its span");
    drop(first);
    h.server.stop();
}

#[test]
fn a_guard_dropped_at_once_says_so_the_first_time_a_span_opens() {
    let h = Harness::start();
    // What `let _ = modelmetry::init();` does: the guard drops at the end of the statement.
    let _ = h.init();
    record_trace("after.drop.1", 1);
    record_trace("after.drop.2", 1);
    let said = h.diag.matching("after the client shut down");
    assert_eq!(said.len(), 1, "said once: {:?}", h.diag.lines());
    assert!(said[0].contains("let _guard"), "{}", said[0]);
    assert!(all_sent_xids(&h.server).is_empty());

    // A new init works as the first did.
    let guard = h.config().init().expect("init again");
    record_trace("after.reinit", 0);
    guard.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(all_sent_xids(&h.server).len(), 1);
    drop(guard);
    h.server.stop();
}
