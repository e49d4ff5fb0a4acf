//! Hostile or slow servers: every record is delivered once or counted, by the time `flush` or
//! `shutdown` returns, and the counters agree with what the server accepted (counted by XID);
//! a destination that hangs never delays another; losses come back as an error that says how
//! many records were lost and why.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use modelmetry::{Error, ExporterKind, OtlpConfig};
use modelmetry_tests::{
    Delta, Diagnostics, Harness, Reply, Server, TempDir, config_for, expect_lost, record_trace,
    record_trace_with_input, wait_until,
};

// Room for a loaded CI machine; a hang would overshoot by seconds.
const SLACK: Duration = Duration::from_millis(300);

/// The XIDs the server accepted, as a count of distinct records.
fn accepted(server: &Server) -> usize {
    server.accepted_xids().len()
}

fn hanging_collector_test(order: [ExporterKind; 2]) {
    let _lock = modelmetry::testing::lock();
    let modelmetry_api = Server::start();
    let collector = Server::start();
    collector.fallback(Reply::Hang);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&modelmetry_api.base_url(), &diag)
        // Long enough that a destination waiting on the other would wait for seconds.
        .request_timeout(Duration::from_secs(20))
        .export_timeout(Duration::from_secs(20))
        .exporters(order)
        .otlp(OtlpConfig::default().endpoint(format!("{}/v1/traces", collector.base_url())))
        .init()
        .expect("init");

    let a = record_trace("hostile.hang.a", 2) as usize;
    // The collector hangs: the flush times out on it, not on Modelmetry.
    assert!(matches!(
        guard.flush(Duration::from_millis(300)),
        Err(Error::Timeout { .. })
    ));
    assert!(
        wait_until(Duration::from_secs(2), || accepted(&modelmetry_api) == a),
        "Modelmetry got {} of {a} records while the collector hangs",
        accepted(&modelmetry_api)
    );
    let b = record_trace("hostile.hang.b", 1) as usize;
    let _ = guard.flush(Duration::from_millis(300));
    assert!(
        wait_until(Duration::from_secs(2), || accepted(&modelmetry_api)
            == a + b),
        "Modelmetry got {} of {} records while the collector hangs",
        accepted(&modelmetry_api),
        a + b
    );

    // Shutdown holds its deadline; the collector's records are counted there by then.
    let start = Instant::now();
    let shut = modelmetry::shutdown(Duration::from_millis(500));
    assert!(start.elapsed() < Duration::from_millis(500) + SLACK);
    let lost = expect_lost(shut, "OpenTelemetry");
    assert_eq!(lost as usize, a + b);
    drop(guard);
    let after = modelmetry::stats();
    let (main, also) = match order[0] {
        ExporterKind::Http => (
            after.sent - before.sent,
            after.also.dropped - before.also.dropped,
        ),
        _ => (
            after.also.sent - before.also.sent,
            after.dropped.delivery_total() - before.dropped.delivery_total(),
        ),
    };
    assert_eq!(main as usize, a + b, "Modelmetry's records, all sent");
    assert_eq!(also as usize, a + b, "the collector's, all counted lost");
    assert_eq!(Delta::since(&before).unaccounted(), 0);
    assert_eq!(Delta::since(&before).buffered, 0);
}

#[test]
fn a_hanging_collector_second_never_delays_modelmetry() {
    hanging_collector_test([ExporterKind::Http, ExporterKind::Otlp]);
}

#[test]
fn a_hanging_collector_first_never_delays_modelmetry() {
    hanging_collector_test([ExporterKind::Otlp, ExporterKind::Http]);
}

/// Many threads, small batches, a server that fails one way or another on most requests,
/// and a request hanging when shutdown's deadline comes: when `shutdown` returns, every
/// record is in exactly one counter, and `sent` is exactly what the server accepted.
#[test]
fn under_load_with_faults_the_counters_agree_with_the_server_by_xid() {
    let h = Harness::start();
    let n = Arc::new(AtomicUsize::new(0));
    let hang = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let n = n.clone();
        let hang = hang.clone();
        h.server.rule(move |_| {
            if hang.load(Ordering::SeqCst) {
                return Some(Reply::Hang);
            }
            Some(match n.fetch_add(1, Ordering::SeqCst) % 7 {
                0 => Reply::status(503),
                1 => Reply::Reset,
                2 => Reply::problem(500, "boom"),
                3 => Reply::ok().after(Duration::from_millis(20)),
                4 => Reply::problem(400, "refused"),
                _ => Reply::ok(),
            })
        });
    }
    let guard = h
        .config()
        .flush_interval(Duration::from_millis(10))
        .max_batch_records(40)
        .request_timeout(Duration::from_secs(20))
        .export_timeout(Duration::from_secs(20))
        .init()
        .expect("init");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut n = 0;
                for i in 0..150 {
                    n += record_trace(&format!("hostile.load.{t}.{i}"), 2);
                }
                n
            })
        })
        .collect();
    let mut produced: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    // Every request answered before the server hangs, however long a loaded machine takes
    // (the faults cost retries and backoff): a request the server accepted while shutdown
    // claimed its records would be counted as lost, not sent (the README says when).
    let mut flushed = guard.flush(Duration::from_secs(10));
    for _ in 0..11 {
        if !matches!(flushed, Err(Error::Timeout { .. })) {
            break;
        }
        flushed = guard.flush(Duration::from_secs(10));
    }
    assert!(
        !matches!(flushed, Err(Error::Timeout { .. })),
        "the flush never ended: {flushed:?}"
    );
    // Now the server hangs: what is in flight at the deadline must be cut and counted.
    hang.store(true, Ordering::SeqCst);
    for i in 0..20 {
        produced += record_trace(&format!("hostile.load.last.{i}"), 1);
    }
    let start = Instant::now();
    let shut = modelmetry::shutdown(Duration::from_millis(600));
    assert!(start.elapsed() < Duration::from_millis(600) + SLACK);
    assert!(matches!(shut, Err(Error::Lost { .. })), "{shut:?}");
    // No waiting: everything is counted by the time shutdown returns.
    let d = h.delta();
    assert_eq!(d.produced as u64, produced);
    assert_eq!(d.buffered, 0, "{d:?}");
    assert_eq!(d.unaccounted(), 0, "{d:?}");
    assert!(
        d.shutdown > 0,
        "the hanging request was cut and counted: {d:?}"
    );
    let by_xid = h.server.accepted_xids();
    assert!(by_xid.values().all(|&n| n == 1), "a record accepted twice");
    assert_eq!(d.sent as usize, by_xid.len(), "{d:?}");
    drop(guard);
}

/// Redaction runs on the thread that closes a trace, before the trace reaches any buffer
/// (`redact::boundary` in `Pipeline::submit`): a redaction hook that hangs holds only that
/// thread, never the flusher or shutdown. Shutdown keeps its deadline; the trace, let go
/// afterwards, is counted once (as lost to shutdown) and never sent.
#[test]
fn a_redaction_hook_held_past_shutdown_holds_neither_the_flusher_nor_shutdown() {
    let h = Harness::start();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(Some(entered_tx));
    let release_rx = Mutex::new(release_rx);
    let guard = h
        .config()
        .redact(move |_, _| {
            let first = entered_tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(entered) = first {
                let _ = entered.send(());
                // Bounded, so that a failing test cannot hold the thread for ever.
                let _ = release_rx
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .recv_timeout(Duration::from_secs(60));
            }
        })
        .init()
        .expect("init");
    let held = std::thread::spawn(|| record_trace_with_input("hostile.held", "x"));
    entered_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the closing thread runs the hook");

    let start = Instant::now();
    let shut = modelmetry::shutdown(Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_millis(300) + SLACK);
    assert!(shut.is_ok(), "nothing was buffered: {shut:?}");

    release_tx.send(()).expect("the hook waits");
    let n = held.join().expect("the closing thread returns");
    drop(guard);
    let d = h.delta();
    assert_eq!(d.produced, n as i64, "{d:?}");
    assert_eq!(d.shutdown, n as i64, "{d:?}");
    assert_eq!(d.unaccounted(), 0, "{d:?}");
    assert!(h.server.accepted_xids().is_empty());
}

#[test]
fn flush_says_how_many_records_a_401_a_404_or_a_redirect_lost() {
    let h = Harness::start();
    let guard = h.init();
    for (reply, counter, words) in [
        (Reply::problem(401, "invalid API key"), "rejected", "401"),
        (Reply::problem(404, "no such route"), "rejected", "404"),
        (
            Reply::status(301).header("Location", "https://elsewhere.example/"),
            "network",
            "301",
        ),
    ] {
        h.server.script([reply]);
        let n = record_trace("hostile.lost", 2);
        match guard.flush(Duration::from_secs(2)) {
            Err(e @ Error::Lost { records, .. }) => {
                assert_eq!(records, n);
                let text = e.to_string();
                assert!(
                    text.contains(&format!("{n} record(s) were lost"))
                        && text.contains(counter)
                        && text.contains(words),
                    "{text}"
                );
            }
            other => panic!("expected the loss reported, got {other:?}"),
        }
    }
    // Once reported, a loss is not reported again; a clean flush is Ok.
    record_trace("hostile.fine", 1);
    guard
        .flush(Duration::from_secs(2))
        .expect("nothing lost since");
    drop(guard);
}

#[test]
fn shutdown_says_when_the_spool_cannot_be_written() {
    let _lock = modelmetry::testing::lock();
    let dir = TempDir::new("unwritable");
    // A file where the spool's directory should be: nothing can be written under it.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").expect("write");
    let url = format!("http://127.0.0.1:{}", Server::free_port());
    let diag = Diagnostics::new();
    let guard = config_for(&url, &diag)
        .spool_dir(blocker.join("spool"))
        .export_timeout(Duration::from_millis(500))
        .init()
        .expect("init");
    let n = record_trace("hostile.spool", 1);
    let lost = expect_lost(
        modelmetry::shutdown(Duration::from_secs(2)),
        "spool_write_failed",
    );
    assert_eq!(lost, n);
    drop(guard);
}
