//! The chatbot example, run as its own process with `MODELMETRY_API_KEY` and
//! `MODELMETRY_BASE_URL`, delivers its trace to the server before it exits.

use std::process::Command;

use modelmetry_tests::{Server, TEST_KEY};

#[test]
fn the_chatbot_example_delivers_its_trace() {
    let server = Server::start();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args([
            "run",
            "-q",
            "-p",
            "modelmetry-examples",
            "--example",
            "chatbot",
        ])
        .env("MODELMETRY_API_KEY", TEST_KEY)
        .env("MODELMETRY_BASE_URL", server.base_url());
    for (name, _) in std::env::vars() {
        let ours = name.starts_with("MODELMETRY_")
            && name != "MODELMETRY_API_KEY"
            && name != "MODELMETRY_BASE_URL";
        // What cargo set for this test binary (its package's name and paths) would make the
        // inner cargo see build scripts' inputs as changed and rebuild half the tree.
        let cargo_set = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&name.as_str());
        if ours || cargo_set {
            command.env_remove(name);
        }
    }
    let out = command.output().expect("run the chatbot example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains(TEST_KEY) && !stdout.contains(TEST_KEY));

    let requests = server.requests();
    assert!(!requests.is_empty(), "nothing delivered:\n{stderr}");
    let mut traces = Vec::new();
    let mut spans = Vec::new();
    let mut findings = Vec::new();
    let mut records = 0;
    for r in &requests {
        assert_eq!(r.path, "/signals/ingest/v1");
        assert_eq!(r.header("X-API-KEY"), Some(TEST_KEY));
        assert!(r.accepted());
        let body = r.ingest();
        records += r.xids().len();
        traces.extend(body.traces.into_iter().map(|t| t.name.unwrap_or_default()));
        spans.extend(body.spans.into_iter().map(|s| s.name));
        findings.extend(body.findings.into_iter().map(|f| f.name));
    }
    assert_eq!(traces, ["chatbot.turn"]);
    assert!(
        spans.iter().any(|s| s == "GetOrderInformation"),
        "{spans:?}"
    );
    for f in ["input_tokens", "output_tokens", "response_safe_score"] {
        assert!(
            findings.iter().any(|x| x == f),
            "{f} missing from {findings:?}"
        );
    }
    // The example reports its own counters: all delivered, none lost.
    let summary = format!("{records} record(s) produced, {records} delivered, 0 lost");
    assert!(stdout.contains(&summary), "{stdout}");
}
