//! `init` twice, and a guard dropped at once: one client runs at a time, and tracing never
//! goes off without a word.

use std::time::Duration;

use modelmetry::Error;
use modelmetry_tests::{Diagnostics, Server, all_sent_xids, config_for, record_trace};

#[test]
fn a_second_init_leaves_the_running_client_in_place() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let first = config_for(&server.base_url(), &diag).init().expect("init");
    assert!(first.is_active());

    // From code: an error, and the first client keeps running.
    let second = config_for(&server.base_url(), &diag).init();
    assert!(
        matches!(second, Err(Error::AlreadyInitialized)),
        "{second:?}"
    );
    // From the environment: one line, and a guard that does nothing.
    let third = modelmetry::init();
    assert!(!third.is_active());
    assert_eq!(
        diag.matching("already initialised").len(),
        1,
        "{:?}",
        diag.lines()
    );
    drop(third);

    // Dropping the second guard changed nothing: traces still go to the first client.
    record_trace("after.second.init", 1);
    first.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(all_sent_xids(&server).len(), 2, "the trace and its span");
    drop(first);
    server.stop();
}

#[test]
fn a_guard_dropped_at_once_says_so_the_first_time_a_span_opens() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    // What `let _ = modelmetry::init();` does: the guard drops at the end of the statement.
    let _ = config_for(&server.base_url(), &diag).init().expect("init");
    record_trace("after.drop.1", 1);
    record_trace("after.drop.2", 1);
    let said = diag.matching("after the client shut down");
    assert_eq!(said.len(), 1, "said once: {:?}", diag.lines());
    assert!(said[0].contains("let _guard"), "{}", said[0]);
    assert!(all_sent_xids(&server).is_empty());

    // A new init works as the first did.
    let guard = config_for(&server.base_url(), &diag)
        .init()
        .expect("init again");
    record_trace("after.reinit", 0);
    guard.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(all_sent_xids(&server).len(), 1);
    drop(guard);
    server.stop();
}
