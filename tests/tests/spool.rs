//! The disk spool: what cannot be delivered in time is kept on disk and delivered on the next
//! start or by `replay_spool`; corrupt files are skipped and counted; the spool is bounded.

use std::time::Duration;

use modelmetry_tests::{
    Delta, Diagnostics, Harness, Reply, Server, TempDir, assert_each_delivered_once, config_for,
    record_trace, record_trace_with_input, spooled_xids, wait_until,
};

#[test]
fn a_server_down_at_first_gets_everything_after_a_client_restart() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("restart");
    let port = Server::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let diag = Diagnostics::new();

    // First run: nobody listens.
    let before = modelmetry::stats();
    let guard = config_for(&url, &diag)
        .spool_dir(spool.path())
        .init()
        .expect("init");
    let n = (record_trace("spool.restart.a", 2) + record_trace("spool.restart.b", 1)) as i64;
    let _ = modelmetry::shutdown(Duration::from_millis(600));
    drop(guard);
    assert!(wait_until(Duration::from_secs(3), || {
        Delta::since(&before).buffered == 0
    }));
    let d = Delta::since(&before);
    assert_eq!(
        d,
        Delta {
            produced: n,
            spooled: n,
            retried: d.retried,
            ..Delta::default()
        }
    );
    let kept = spooled_xids(&spool);
    assert_eq!(kept.len() as i64, n);

    // Second run: the server is up; the new client sends what the first one kept.
    let server = Server::start_on(port);
    let before = modelmetry::stats();
    let guard = config_for(&url, &diag)
        .spool_dir(spool.path())
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    assert_each_delivered_once(&server, &kept);
    assert!(spool.files().is_empty(), "{:?}", spool.files());
    assert_eq!(
        Delta::since(&before),
        Delta {
            produced: n,
            replayed: n,
            sent: n,
            ..Delta::default()
        }
    );
}

#[test]
fn shutdown_against_a_hanging_server_loses_nothing_with_the_spool_on() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("hang");
    let server = Server::start();
    server.fallback(Reply::Hang);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .export_timeout(Duration::from_secs(1))
        .init()
        .expect("init");
    let a = record_trace("spool.hang.a", 1) as i64;
    assert!(
        guard.flush(Duration::from_millis(200)).is_err(),
        "a hangs in flight"
    );
    let b = record_trace("spool.hang.b", 2) as i64; // buffered behind the stuck flusher
    let _ = modelmetry::shutdown(Duration::from_millis(400));
    drop(guard);
    // By shutdown's deadline both are on disk: a written before it was sent, b at shutdown.
    assert_eq!(spooled_xids(&spool).len() as i64, a + b);
    let port = server.port();
    server.stop();
    assert!(wait_until(Duration::from_secs(3), || {
        Delta::since(&before).buffered == 0
    }));
    let d = Delta::since(&before);
    assert_eq!(
        d,
        Delta {
            produced: a + b,
            spooled: a + b,
            retried: d.retried,
            ..Delta::default()
        }
    );

    let kept = spooled_xids(&spool);
    // The same destination (key and URL): spool files are replayed only there.
    let server = Server::start_on(port);
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    assert_each_delivered_once(&server, &kept);
    assert!(spool.files().is_empty());
    assert_eq!(
        Delta::since(&before),
        Delta {
            produced: a + b,
            replayed: a + b,
            sent: a + b,
            ..Delta::default()
        }
    );
}

#[test]
fn replay_spool_sends_on_demand_and_says_what_is_left() {
    let spool = TempDir::new("replay");
    let h = Harness::start();
    h.server.fallback(Reply::status(503));
    let guard = h
        .config()
        .spool_dir(spool.path())
        .export_timeout(Duration::from_millis(300))
        .init()
        .expect("init");
    let n = record_trace("spool.replay", 2) as i64;
    guard.flush(Duration::from_secs(2)).expect("flush");
    let kept = spooled_xids(&spool);
    assert_eq!(kept.len() as i64, n);

    // Still failing: the records stay on disk and the call says how many.
    match modelmetry::replay_spool(Duration::from_millis(300)) {
        Err(modelmetry::Error::Timeout { pending }) => assert_eq!(pending as i64, n),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(spooled_xids(&spool), kept);

    h.server.fallback(Reply::ok());
    modelmetry::replay_spool(Duration::from_secs(2)).expect("replayed");
    drop(guard);
    assert!(spool.files().is_empty());
    assert_each_delivered_once(&h.server, &kept);
    let d = h.delta();
    // Each replay reads the records back (produced again); the failed one kept them again.
    assert_eq!(
        d,
        Delta {
            produced: 3 * n,
            replayed: 2 * n,
            spooled: 2 * n,
            sent: n,
            retried: d.retried,
            ..Delta::default()
        }
    );
}

#[test]
fn a_corrupt_spool_file_is_skipped_and_counted() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("corrupt");
    // Spool files are named for their destination (a hash of key and URL): make one the
    // usual way to learn the name, then put hand-made files under the same destination.
    let server = Server::start();
    server.fallback(Reply::status(500));
    {
        let diag = Diagnostics::new();
        let guard = config_for(&server.base_url(), &diag)
            .spool_dir(spool.path())
            .init()
            .expect("init");
        record_trace("spool.corrupt.tag", 0);
        let _ = modelmetry::shutdown(Duration::from_millis(500));
        drop(guard);
    }
    let first = spool.files().into_iter().next().expect("a spool file");
    let tag = first
        .split('.')
        .nth(1)
        .expect("<stem>.<destination>.json")
        .to_owned();
    std::fs::remove_file(spool.path().join(&first)).expect("remove");
    server.fallback(Reply::ok());
    let bad = format!("0000000000001-1-000001.{tag}.json");
    let good = r#"{"Traces":[{"XID":"6f1c0a52-8c2e-4d1b-9a57-3d2f1e0b4c11","Name":"kept","Start":"2026-01-01T00:00:00Z"}]}"#;
    std::fs::write(spool.path().join(&bad), b"{\"Spans\":[{tru").expect("write");
    std::fs::write(
        spool
            .path()
            .join(format!("0000000000002-1-000002.{tag}.json")),
        good,
    )
    .expect("write");
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .init()
        .expect("a corrupt spool never stops init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);

    let accepted = server.accepted_xids();
    assert_eq!(
        accepted.get("6f1c0a52-8c2e-4d1b-9a57-3d2f1e0b4c11"),
        Some(&1),
        "{accepted:?}"
    );
    assert_eq!(spool.files(), [format!("{bad}.corrupt")]);
    assert_eq!(
        Delta::since(&before),
        Delta {
            produced: 1,
            replayed: 1,
            sent: 1,
            spool_corrupt_files: 1,
            ..Delta::default()
        }
    );
    assert_eq!(diag.matching(&bad).len(), 1);
}

#[test]
fn the_spool_is_bounded_in_bytes() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("bound");
    let url = format!("http://127.0.0.1:{}", Server::free_port());
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let limit = 3000;
    let guard = config_for(&url, &diag)
        .spool_dir(spool.path())
        .max_spool_bytes(limit)
        .max_batch_records(2)
        .init()
        .expect("init");
    let text = "z".repeat(1000);
    let n: u64 = (0..5)
        .map(|i| record_trace_with_input(&format!("spool.bound.{i}"), &text))
        .sum();
    let _ = modelmetry::shutdown(Duration::from_millis(400));
    drop(guard);
    assert!(wait_until(Duration::from_secs(3), || {
        Delta::since(&before).buffered == 0
    }));

    let on_disk: u64 = spool
        .files()
        .iter()
        .map(|f| std::fs::metadata(spool.path().join(f)).expect("stat").len())
        .sum();
    assert!(on_disk <= limit, "{on_disk} bytes on disk");
    let d = Delta::since(&before);
    let kept = spooled_xids(&spool).len() as i64;
    assert!(
        kept > 0 && kept < n as i64,
        "some, not all, fit in {limit} bytes: {kept}"
    );
    assert_eq!(
        d,
        Delta {
            produced: n as i64,
            spooled: kept,
            spool_full: n as i64 - kept,
            retried: d.retried,
            ..Delta::default()
        }
    );
    assert_eq!(
        diag.matching("spool is full").len(),
        1,
        "{:?}",
        diag.lines()
    );
}

#[modelmetry::span(kind = "tool")]
fn instrumented(n: u32) -> u32 {
    n + 1
}

/// With a spool, the closing thread redacts each trace before journaling it: the hook runs
/// there as user code (what it traces is not recorded) and once per value, not again at export.
#[test]
fn the_journal_redacts_once_on_the_closing_thread_and_the_hook_is_not_traced() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("journal-hook");
    let server = Server::start();
    let diag = Diagnostics::new();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .redact(move |_, value| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            instrumented(1);
            modelmetry::redact_strings(value, |s| *s = s.replace("secret", "<redacted>"));
        })
        .init()
        .expect("init");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let n: u64 = (0..3)
            .map(|i| record_trace_with_input(&format!("journal.hook.{i}"), "a secret"))
            .sum();
        let _ = tx.send(n);
    });
    let n = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("recording returned: the hook neither hangs nor loops") as i64;
    let calls_when_closed = calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!(calls_when_closed > 0, "redacted before the close returned");
    let journal: String = spool
        .files()
        .iter()
        .map(|f| {
            String::from_utf8_lossy(&std::fs::read(spool.path().join(f)).expect("read"))
                .into_owned()
        })
        .collect();
    assert!(
        journal.contains("<redacted>") && !journal.contains("a secret"),
        "{journal}"
    );
    guard.flush(Duration::from_secs(5)).expect("flush");
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        calls_when_closed,
        "the export does not redact again"
    );
    drop(guard);
    let sent = modelmetry_tests::all_sent_xids(&server);
    assert_eq!(sent.len() as i64, n, "only the traces and their spans");
    assert!(spool.files().is_empty(), "{:?}", spool.files());
    let d = Delta::since(&before);
    assert_eq!((d.produced, d.sent, d.unaccounted()), (n, n, 0), "{d:?}");
    assert!(modelmetry::stats().dropped.in_callback > before.dropped.in_callback);
}

/// A hook that panics loses its trace, counted, before anything reaches the disk.
#[test]
fn a_panicking_hook_keeps_the_trace_off_the_disk_and_counts_it() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("journal-panic");
    let server = Server::start();
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .redact(|_, _| panic!("hook failed"))
        .init()
        .expect("init");
    let n = record_trace_with_input("journal.panic", "a secret") as i64;
    assert!(
        spool.files().iter().all(|f| {
            !String::from_utf8_lossy(&std::fs::read(spool.path().join(f)).expect("read"))
                .contains("secret")
        }),
        "nothing unredacted on disk"
    );
    let _ = guard.flush(Duration::from_secs(2));
    drop(guard);
    assert_eq!(server.request_count(), 0);
    let after = modelmetry::stats();
    assert_eq!(
        after.dropped.redaction_failed - before.dropped.redaction_failed,
        n as u64
    );
    assert_eq!(after.unaccounted(), before.unaccounted());
    assert!(spool.files().is_empty(), "{:?}", spool.files());
}
