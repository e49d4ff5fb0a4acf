//! Security: the key travels only in `X-API-KEY` and never shows in `Debug`, `Display`,
//! errors or diagnostics; redirects are not followed; payloads are logged only in debug.

use std::time::Duration;

use modelmetry_tests::{
    Delta, Diagnostics, Harness, Reply, Server, TEST_KEY, config_for, expect_lost, record_trace,
    record_trace_with_input,
};

#[test]
fn the_key_never_shows_in_debug_display_errors_or_diagnostics() {
    let h = Harness::start();
    // Every kind of failure the transport can report.
    h.server.script([
        Reply::problem(400, "bad body"),
        Reply::problem(400, "bad body"),
        Reply::problem(400, "bad body"),
        Reply::status(307).header("Location", "http://127.0.0.1:9/elsewhere"),
        Reply::problem(500, "boom"),
        Reply::Reset,
        Reply::Reset,
    ]);
    h.server.fallback(Reply::Hang);
    let config = h.config().export_timeout(Duration::from_millis(600));
    let shown = format!("{config:?}");
    assert!(!shown.contains(TEST_KEY), "{shown}");
    let guard = config.init().expect("init");
    assert!(!format!("{guard:?}").contains(TEST_KEY));
    // Refused, redirected, failed, reset then timed out: each export ends within 600 ms.
    for (i, counter) in ["rejected", "network", "network", "network"]
        .into_iter()
        .enumerate()
    {
        record_trace(&format!("security.{i}"), 1);
        expect_lost(guard.flush(Duration::from_secs(2)), counter);
    }
    // A hanging server: flush and shutdown time out.
    record_trace("security.hang", 1);
    let mut errors = Vec::new();
    errors.extend(guard.flush(Duration::from_millis(200)).err());
    errors.extend(modelmetry::shutdown(Duration::from_millis(200)).err());
    drop(guard);
    h.server.stop();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for e in &errors {
        assert!(!e.to_string().contains(TEST_KEY) && !format!("{e:?}").contains(TEST_KEY));
    }
    let lines = h.diag.lines();
    for expected in ["bad body", "307", "boom", "timed out"] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "{expected}: {lines:?}"
        );
    }
    for line in &lines {
        assert!(!line.contains(TEST_KEY), "{line}");
    }
    // A misconfiguration error names the setting, not the key.
    let bad = modelmetry::Config::default()
        .api_key(TEST_KEY)
        .base_url("http://api.example.com")
        .init()
        .expect_err("plain http to a remote host");
    assert!(!bad.to_string().contains(TEST_KEY) && !format!("{bad:?}").contains(TEST_KEY));
}

#[test]
fn a_redirect_is_not_followed() {
    let elsewhere = Server::start();
    let h = Harness::start();
    h.server.fallback(Reply::status(307).header(
        "Location",
        &format!("{}/signals/ingest/v1", elsewhere.base_url()),
    ));
    let guard = h.init();
    let n = record_trace("security.redirect", 1) as i64;
    expect_lost(guard.flush(Duration::from_secs(2)), "network");
    drop(guard);

    assert_eq!(
        elsewhere.request_count(),
        0,
        "the key must not travel to the redirect"
    );
    assert_eq!(
        h.server.request_count(),
        1,
        "a redirect is not retried either"
    );
    assert_eq!(
        h.delta(),
        Delta {
            produced: n,
            network: n,
            ..Delta::default()
        }
    );
    assert_eq!(h.diag.matching("307").len(), 1, "{:?}", h.diag.lines());
}

#[test]
fn payloads_are_logged_only_when_debug_output_is_on() {
    let _lock = modelmetry::testing::lock();
    let marker = "PAYLOAD-7f3a-the-user-s-prompt";
    let server = Server::start();
    server.fallback(Reply::problem(422, "unprocessable"));
    let quiet = Diagnostics::new();
    let guard = config_for(&server.base_url(), &quiet).init().expect("init");
    record_trace_with_input("security.quiet", marker);
    expect_lost(guard.flush(Duration::from_secs(2)), "rejected");
    drop(guard);
    assert!(!quiet.lines().is_empty(), "the refusal is reported");
    assert!(
        quiet.lines().iter().all(|l| !l.contains(marker)),
        "{:?}",
        quiet.lines()
    );

    let server = Server::start();
    let loud = Diagnostics::new();
    let guard = config_for(&server.base_url(), &loud)
        .debug(true)
        .init()
        .expect("init");
    record_trace_with_input("security.debug", marker);
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    let shown = loud.matching(marker);
    assert_eq!(shown.len(), 1, "{:?}", loud.lines());
    assert!(
        shown[0].starts_with("debug: sending 2 record(s)"),
        "{}",
        shown[0]
    );
    assert!(loud.lines().iter().all(|l| !l.contains(TEST_KEY)));
}
