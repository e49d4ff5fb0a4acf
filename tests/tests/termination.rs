//! A process that ends without its guard: `std::process::exit`, SIGTERM, SIGINT, `kill -9`.
//!
//! Each test re-runs this test binary as a child (an environment variable selects what the
//! child does), lets it record traces, ends it, and checks what a next start delivers, record
//! by record (by `XID`), against the loopback server.
//!
//! - With a spool, every finished trace is on disk before the call that finished it returns:
//!   the next start delivers every record exactly once, those that were in the buffer and those
//!   of a request hanging when the process died; nothing unredacted ever reaches the disk.
//! - Without a spool, an exit loses what was buffered, unless `install_signal_flush` was
//!   called: then SIGTERM and SIGINT deliver it first, and the process still ends by the signal.

#![cfg(unix)]

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use modelmetry_tests::{
    Delta, Diagnostics, Reply, Server, TempDir, config_for, record_trace, record_trace_with_input,
    wait_until,
};

/// Selects the child's part: `spool` or `no-spool`, then how it ends (`exit` or `wait`).
const CHILD_MODE: &str = "MODELMETRY_TEST_TERMINATION_MODE";
const CHILD_SPOOL: &str = "MODELMETRY_TEST_TERMINATION_SPOOL";
const CHILD_URL: &str = "MODELMETRY_TEST_TERMINATION_URL";
/// A file the child creates once its traces are recorded.
const CHILD_READY: &str = "MODELMETRY_TEST_TERMINATION_READY";
/// Set: the child calls `install_signal_flush`.
const CHILD_SIGNAL_FLUSH: &str = "MODELMETRY_TEST_TERMINATION_SIGNAL_FLUSH";

/// Traces the spooling child sends before the server hangs (one request, in flight when it
/// dies), and traces it leaves in the buffer.
const IN_FLIGHT: usize = 5;
const BUFFERED: usize = 20;
/// In flight: a trace and 2 spans each; buffered: a trace and its span carrying the secret.
const SPOOLED_RECORDS: usize = IN_FLIGHT * 3 + BUFFERED * 2;
const SECRET: &str = "hunter2";

/// Not a test of its own: the child process of the tests below (it does nothing unless one of
/// them started it).
#[test]
fn child_process_records_then_ends() {
    let (Ok(mode), Ok(url), Ok(ready)) = (
        std::env::var(CHILD_MODE),
        std::env::var(CHILD_URL),
        std::env::var(CHILD_READY),
    ) else {
        return;
    };
    let diag = Diagnostics::new();
    let mut config = config_for(&url, &diag)
        // Long enough that the request in flight is still hanging when the process dies.
        .request_timeout(Duration::from_secs(60))
        .export_timeout(Duration::from_secs(60))
        .redact(|_, value| {
            modelmetry::redact_strings(value, |s| {
                if s.contains(SECRET) {
                    *s = s.replace(SECRET, "<password>");
                }
            })
        });
    if let Ok(dir) = std::env::var(CHILD_SPOOL) {
        config = config.spool_dir(dir);
    }
    let guard = config.init().expect("init");
    if std::env::var(CHILD_SIGNAL_FLUSH).is_ok() {
        modelmetry::install_signal_flush().expect("signal handlers");
    }
    if mode.starts_with("spool") {
        for i in 0..IN_FLIGHT {
            record_trace(&format!("termination.in_flight.{i}"), 2);
        }
        // The server hangs: this request stays in flight until the process dies.
        assert!(guard.flush(Duration::from_millis(300)).is_err());
    }
    for i in 0..BUFFERED {
        record_trace_with_input(
            &format!("termination.buffered.{i}"),
            &format!("my password is {SECRET}"),
        );
    }
    std::fs::write(&ready, b"ready").expect("write the ready file");
    if mode.ends_with("exit") {
        // No destructor runs: the guard does not flush.
        std::process::exit(3);
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Start the child in `mode`, sending to `url`, spooling to `spool` if given.
fn start_child(
    mode: &str,
    url: &str,
    spool: Option<&Path>,
    signal_flush: bool,
) -> (Child, TempDir) {
    let marker = TempDir::new("termination-ready");
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "child_process_records_then_ends",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env(CHILD_URL, url)
        .env(CHILD_READY, marker.path().join("ready"))
        .stdout(Stdio::null());
    if let Some(spool) = spool {
        command.env(CHILD_SPOOL, spool);
    }
    if signal_flush {
        command.env(CHILD_SIGNAL_FLUSH, "1");
    }
    let child = command.spawn().expect("start the child");
    (child, marker)
}

/// Wait until the child has recorded its traces.
fn wait_ready(child: &mut Child, marker: &TempDir) {
    let ready = marker.path().join("ready");
    let up = wait_until(Duration::from_secs(60), || {
        ready.exists() || child.try_wait().ok().flatten().is_some()
    });
    assert!(up && ready.exists(), "the child did not get ready");
}

/// Send `signal` (`TERM`, `INT`) with the `kill` command.
fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
}

/// The names of the traces the server accepted.
fn accepted_trace_names(server: &Server) -> Vec<String> {
    server
        .accepted_bodies()
        .into_iter()
        .flat_map(|b| b.traces)
        .filter_map(|t| t.name)
        .collect()
}

/// The trace names the spooling child records.
fn spooled_names() -> HashSet<String> {
    (0..IN_FLIGHT)
        .map(|i| format!("termination.in_flight.{i}"))
        .chain((0..BUFFERED).map(|i| format!("termination.buffered.{i}")))
        .collect()
}

/// Run the spooling child, end it with `end` (which returns how it ended), and check that a
/// next start delivers every record it recorded exactly once.
fn every_record_once_after(mode: &str, end: impl FnOnce(&mut Child) -> ExitStatus) -> ExitStatus {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("termination");
    let server = Server::start();
    server.fallback(Reply::Hang);
    let (mut child, marker) = start_child(mode, &server.base_url(), Some(spool.path()), false);
    wait_ready(&mut child, &marker);
    let status = end(&mut child);

    // What the child left on disk: its buffer and its request in flight, redacted.
    let on_disk: Vec<String> = spool
        .files()
        .iter()
        .map(|f| {
            String::from_utf8_lossy(&std::fs::read(spool.path().join(f)).expect("read"))
                .into_owned()
        })
        .collect();
    assert!(!on_disk.is_empty(), "nothing on disk");
    assert!(
        on_disk.iter().all(|text| !text.contains(SECRET)),
        "an unredacted value reached the disk"
    );

    // The next start, with the same spool: the server answers now.
    server.fallback(Reply::ok());
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&server.base_url(), &diag)
        .spool_dir(spool.path())
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(10)).expect("flush");
    drop(guard);

    let by_xid = server.accepted_xids();
    let twice: Vec<_> = by_xid.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(by_xid.len(), SPOOLED_RECORDS, "{:?}", diag.lines());
    let names = accepted_trace_names(&server);
    assert_eq!(names.len(), IN_FLIGHT + BUFFERED);
    assert_eq!(names.into_iter().collect::<HashSet<_>>(), spooled_names());
    let d = Delta::since(&before);
    assert_eq!(
        (d.produced, d.replayed, d.sent, d.unaccounted()),
        (
            SPOOLED_RECORDS as i64,
            SPOOLED_RECORDS as i64,
            SPOOLED_RECORDS as i64,
            0
        ),
        "{d:?}"
    );
    assert!(spool.files().is_empty(), "{:?}", spool.files());
    status
}

#[test]
fn with_a_spool_process_exit_loses_nothing() {
    let status = every_record_once_after("spool-exit", |child| child.wait().expect("wait"));
    assert_eq!(status.code(), Some(3));
}

#[test]
fn with_a_spool_sigterm_loses_nothing() {
    let status = every_record_once_after("spool-wait", |child| {
        send(child, "TERM");
        child.wait().expect("wait")
    });
    assert_eq!(status.signal(), Some(15));
}

#[test]
fn with_a_spool_sigint_loses_nothing() {
    let status = every_record_once_after("spool-wait", |child| {
        send(child, "INT");
        child.wait().expect("wait")
    });
    assert_eq!(status.signal(), Some(2));
}

#[test]
fn with_a_spool_kill_9_loses_nothing() {
    let status = every_record_once_after("spool-wait", |child| {
        child.kill().expect("SIGKILL");
        child.wait().expect("wait")
    });
    assert_eq!(status.signal(), Some(9));
}

/// Without a spool: the child records `BUFFERED` traces (2 records each) into its buffer and
/// gets `signal`; what the server has once the child has ended.
fn without_a_spool(signal: &str, signal_flush: bool) -> (ExitStatus, Server) {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let (mut child, marker) = start_child("no-spool-wait", &server.base_url(), None, signal_flush);
    wait_ready(&mut child, &marker);
    send(&child, signal);
    let status = child.wait().expect("wait");
    (status, server)
}

#[test]
fn without_a_spool_sigterm_loses_the_buffer() {
    let (status, server) = without_a_spool("TERM", false);
    assert_eq!(status.signal(), Some(15));
    assert_eq!(server.request_count(), 0, "the README says these are lost");
}

#[test]
fn install_signal_flush_delivers_the_buffer_on_sigterm_then_ends_by_it() {
    let (status, server) = without_a_spool("TERM", true);
    assert_eq!(status.signal(), Some(15), "ended as SIGTERM would have");
    let by_xid = server.accepted_xids();
    assert!(by_xid.values().all(|&n| n == 1));
    assert_eq!(by_xid.len(), BUFFERED * 2);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains(SECRET)),
        "redacted"
    );
}

#[test]
fn install_signal_flush_delivers_the_buffer_on_sigint_then_ends_by_it() {
    let (status, server) = without_a_spool("INT", true);
    assert_eq!(status.signal(), Some(2), "ended as SIGINT would have");
    assert_eq!(server.accepted_xids().len(), BUFFERED * 2);
}
