//! 429: `Retry-After` as seconds or an HTTP date, and the gate: after a 429 nothing is sent
//! until that time passes; what cannot wait (shutdown) is skipped and counted.

use std::time::{Duration, Instant, SystemTime};

use modelmetry_tests::{
    Delta, Harness, Reply, all_sent_xids, assert_each_delivered_once, expect_lost, record_trace,
};

#[test]
fn retry_after_in_seconds_is_waited_for() {
    let h = Harness::start();
    h.server
        .script([Reply::status(429).header("Retry-After", "1")]);
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    let n = record_trace("ratelimit.seconds", 2);
    guard.flush(Duration::from_secs(3)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(950));
    assert_each_delivered_once(&h.server, &all_sent_xids(&h.server));
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
fn retry_after_as_an_http_date_is_waited_for() {
    let h = Harness::start();
    let at = SystemTime::now() + Duration::from_secs(2);
    h.server
        .script([Reply::status(429).header("Retry-After", &http_date(at))]);
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(4))
        .init()
        .expect("init");
    let n = record_trace("ratelimit.date", 1);
    guard.flush(Duration::from_secs(4)).expect("flush");
    drop(guard);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    // The date has whole seconds: the wait lies between one and two seconds.
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(950) && gap < Duration::from_millis(2600),
        "{gap:?}"
    );
    assert_each_delivered_once(&h.server, &all_sent_xids(&h.server));
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
fn after_a_429_nothing_is_sent_until_the_time_passes() {
    let h = Harness::start();
    h.server
        .script([Reply::status(429).header("Retry-After", "1")]);
    let guard = h
        .config()
        .export_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    let a = record_trace("ratelimit.gate.a", 1);
    let start = Instant::now();
    // The flusher is waiting out the 429: this flush times out, its records stay in flight.
    assert!(guard.flush(Duration::from_millis(200)).is_err());
    let b = record_trace("ratelimit.gate.b", 2);
    assert!(guard.flush(Duration::from_millis(200)).is_err());
    assert_eq!(
        h.server.request_count(),
        1,
        "nothing sent while the gate is closed"
    );
    guard
        .flush(Duration::from_secs(3))
        .expect("flush after the gate");
    drop(guard);

    let requests = h.server.requests();
    assert_eq!(requests.len(), 3, "the 429, a's retry, then b");
    let opened = requests[0].at + Duration::from_millis(950);
    assert!(requests[1..].iter().all(|r| r.at >= opened));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_each_delivered_once(&h.server, &all_sent_xids(&h.server));
    assert_eq!(
        h.delta(),
        Delta {
            produced: (a + b) as i64,
            sent: (a + b) as i64,
            retried: a as i64,
            ..Delta::default()
        }
    );
}

#[test]
fn sends_the_gate_outlasts_are_skipped_and_counted() {
    let h = Harness::start();
    h.server
        .fallback(Reply::status(429).header("Retry-After", "30"));
    let guard = h.init();
    let a = record_trace("ratelimit.skip.a", 1);
    // 30 s is past the export's deadline: a's retry is skipped at once.
    let _ = guard.flush(Duration::from_secs(2));
    let b = record_trace("ratelimit.skip.b", 1);
    // The flusher waits for the gate rather than send b.
    assert!(guard.flush(Duration::from_millis(200)).is_err());
    assert_eq!(h.delta().buffered, b as i64, "b waits in the buffer");
    let start = Instant::now();
    expect_lost(
        modelmetry::shutdown(Duration::from_millis(500)),
        "rate_limited",
    );
    assert!(start.elapsed() < Duration::from_millis(750));
    drop(guard);

    assert_eq!(
        h.server.request_count(),
        1,
        "only a's first try reached the server"
    );
    assert_eq!(
        h.delta(),
        Delta {
            produced: (a + b) as i64,
            rate_limited: (a + b) as i64,
            skipped_sends: 2,
            ..Delta::default()
        }
    );
    assert!(
        h.diag.lines().iter().any(|l| l.contains("rate limit")),
        "{:?}",
        h.diag.lines()
    );
}

/// An IMF-fixdate, as `Retry-After` carries it.
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {name} {year} {:02}:{:02}:{:02} GMT",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}
