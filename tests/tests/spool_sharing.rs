//! A spool directory shared by several processes, or by clients of other tenants: each file
//! is replayed by one process only, only with the key and URL it was spooled for, and a file
//! too large for the spool is skipped without being read.

use std::process::Command;
use std::time::Duration;

use modelmetry_tests::{
    Delta, Diagnostics, Server, TempDir, assert_each_delivered_once, config_for, record_trace,
    spooled_xids, wait_until,
};

const CHILD_SPOOL: &str = "MODELMETRY_TEST_CHILD_SPOOL";
const CHILD_URL: &str = "MODELMETRY_TEST_CHILD_URL";

/// Spool `traces` traces (one request each) for `key` at a URL where nobody listens.
fn spool_some(dir: &TempDir, url: &str, key: &str, traces: usize) {
    let diag = Diagnostics::new();
    let guard = config_for(url, &diag)
        .api_key(key)
        .spool_dir(dir.path())
        .max_batch_records(2)
        .init()
        .expect("init");
    for i in 0..traces {
        record_trace(&format!("sharing.{key}.{i}"), 1);
    }
    let _ = modelmetry::shutdown(Duration::from_millis(800));
    drop(guard);
}

/// Not a test of its own: the child process of
/// `two_processes_sharing_a_spool_deliver_each_record_once` (it does nothing unless that
/// test started it).
#[test]
fn child_process_replays_the_spool() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_SPOOL), std::env::var(CHILD_URL)) else {
        return;
    };
    let _lock = modelmetry::testing::lock();
    let diag = Diagnostics::new();
    let guard = config_for(&url, &diag).spool_dir(dir).init().expect("init");
    let _ = modelmetry::replay_spool(Duration::from_secs(5));
    drop(guard);
}

#[test]
fn two_processes_sharing_a_spool_deliver_each_record_once() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("shared");
    let port = Server::free_port();
    let url = format!("http://127.0.0.1:{port}");
    spool_some(&spool, &url, modelmetry_tests::TEST_KEY, 40);
    let kept = spooled_xids(&spool);
    assert_eq!(kept.len(), 80);

    let server = Server::start_on(port);
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_process_replays_the_spool",
            "--test-threads=1",
        ])
        .env(CHILD_SPOOL, spool.path())
        .env(CHILD_URL, &url)
        .spawn()
        .expect("start the second process");
    let diag = Diagnostics::new();
    let guard = config_for(&url, &diag)
        .spool_dir(spool.path())
        .init()
        .expect("init");
    let _ = modelmetry::replay_spool(Duration::from_secs(5));
    assert!(child.wait().expect("the second process").success());
    drop(guard);
    assert_each_delivered_once(&server, &kept);
    assert!(spool.files().is_empty(), "{:?}", spool.files());
}

#[test]
fn records_spooled_for_one_key_are_never_sent_with_another() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("tenants");
    let port = Server::free_port();
    let url = format!("http://127.0.0.1:{port}");
    spool_some(&spool, &url, "mm_tenant_a_key", 3);
    let kept = spooled_xids(&spool);
    assert_eq!(kept.len(), 6);

    let server = Server::start_on(port);
    let diag = Diagnostics::new();
    let guard = config_for(&url, &diag)
        .api_key("mm_tenant_b_key")
        .spool_dir(spool.path())
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    assert_eq!(
        server.request_count(),
        0,
        "tenant A's records went out as tenant B"
    );
    assert_eq!(spooled_xids(&spool), kept, "left in place");
    assert_eq!(
        diag.matching("another API key or URL").len(),
        1,
        "{:?}",
        diag.lines()
    );

    // Tenant A's next start sends them, with tenant A's key.
    let guard = config_for(&url, &diag)
        .api_key("mm_tenant_a_key")
        .spool_dir(spool.path())
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    assert_each_delivered_once(&server, &kept);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some("mm_tenant_a_key"))
    );
}

#[test]
fn an_oversize_spool_file_is_skipped_without_being_read() {
    let _lock = modelmetry::testing::lock();
    let spool = TempDir::new("oversize");
    let port = Server::free_port();
    let url = format!("http://127.0.0.1:{port}");
    spool_some(&spool, &url, modelmetry_tests::TEST_KEY, 1);
    // Grow the spooled file past the bound the next client sets (64 KiB).
    let name = spool.files().into_iter().next().expect("one spool file");
    let path = spool.path().join(&name);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    file.set_len(1 << 20).expect("grow to 1 MiB");

    let server = Server::start_on(port);
    let diag = Diagnostics::new();
    let before = modelmetry::stats();
    let guard = config_for(&url, &diag)
        .spool_dir(spool.path())
        .max_spool_bytes(64 * 1024)
        .init()
        .expect("init");
    guard.flush(Duration::from_secs(2)).expect("flush");
    drop(guard);
    assert!(wait_until(Duration::from_secs(2), || Delta::since(&before)
        .buffered
        == 0));
    assert_eq!(server.request_count(), 0);
    assert_eq!(spool.files(), [format!("{name}.oversize")]);
    assert_eq!(Delta::since(&before).spool_corrupt_files, 1);
    assert_eq!(diag.matching("larger than the spool's byte bound").len(), 1);
}
