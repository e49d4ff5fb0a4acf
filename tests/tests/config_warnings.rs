//! Configuration that says what it ignores: unknown `MODELMETRY_*` names, a blank API key,
//! `none` listed with other exporters, a base URL with a query, privacy switches with
//! unreadable values (they fail closed), and one destination's invalid setting turning off
//! that destination only.
//!
//! The environment is read by `modelmetry::init()` in a child process (this test binary,
//! started again with the variables set): a test never changes its own process's environment.

use std::process::Command;
use std::time::Duration;

use modelmetry::{Config, ExporterKind, OtlpConfig};
use modelmetry_tests::{Diagnostics, Server, TEST_KEY, config_for, record_trace};

/// Set (to anything) in the child: run `modelmetry::init()` from the environment.
const CHILD: &str = "CONFIG_WARNINGS_CHILD";
/// The captured input the child records, to find in (or miss from) what is sent.
const PROMPT: &str = "config-warnings-secret-prompt";

/// The child's side: `init()` from the environment, one trace with an input, the guard
/// dropped (delivering the trace). Does nothing unless a test below started it.
#[test]
fn child_inits_from_the_environment() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let guard = modelmetry::init();
    println!("active={}", guard.is_active());
    modelmetry_tests::record_trace_with_input("child.turn", PROMPT);
    drop(guard);
}

/// Run the child with only `vars` among the SDK's, OpenTelemetry's and proxy variables; its
/// stdout and stderr (where diagnostics go without a hook).
fn child(vars: &[(&str, &str)]) -> (String, String) {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command.args([
        "--exact",
        "child_inits_from_the_environment",
        "--test-threads=1",
        "--nocapture",
    ]);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let upper = name.to_ascii_uppercase();
        if upper.starts_with("MODELMETRY_")
            || upper.starts_with("OTEL_")
            || upper.ends_with("_PROXY")
        {
            command.env_remove(name);
        }
    }
    command.env(CHILD, "1").envs(vars.iter().copied());
    let out = command.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn an_unknown_modelmetry_variable_is_named_with_the_closest_setting() {
    let (stdout, stderr) = child(&[("MODELMETRY_APIKEY", TEST_KEY)]);
    assert!(
        stderr.contains(
            "MODELMETRY_APIKEY is not a modelmetry setting and is ignored; did you mean MODELMETRY_API_KEY?"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(TEST_KEY) && !stdout.contains(TEST_KEY));
    // Without a key the console runs, and the warning says why.
    assert!(stdout.contains("active=true"), "{stdout}");
}

#[test]
fn a_blank_api_key_is_no_key_and_says_so() {
    let (stdout, stderr) = child(&[("MODELMETRY_API_KEY", "   ")]);
    assert!(stdout.contains("active=true"), "{stdout}");
    let line = stderr
        .lines()
        .find(|l| l.contains("API key"))
        .unwrap_or_else(|| panic!("no word on the blank key: {stderr}"));
    assert!(
        line.contains("empty") && line.contains("no key") && line.contains("stderr"),
        "{line}"
    );
    // The console printed the trace, as the warning said.
    assert!(stderr.contains("child.turn"), "{stderr}");
}

#[test]
fn none_listed_with_other_exporters_is_warned_about() {
    let (stdout, stderr) = child(&[("MODELMETRY_EXPORTER", "none,console")]);
    assert!(stdout.contains("active=false"), "{stdout}");
    assert!(
        stderr.contains("list `none` with others: `none` wins, nothing is recorded"),
        "{stderr}"
    );
    assert!(!stderr.contains("child.turn"), "{stderr}");
}

#[test]
fn capture_content_with_an_unreadable_value_fails_closed() {
    let server = Server::start();
    let (stdout, stderr) = child(&[
        ("MODELMETRY_API_KEY", TEST_KEY),
        ("MODELMETRY_BASE_URL", &server.base_url()),
        ("MODELMETRY_CAPTURE_CONTENT", "maybe"),
    ]);
    assert!(stdout.contains("active=true"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "MODELMETRY_CAPTURE_CONTENT=`maybe` is not a boolean (true/false, 1/0, yes/no, on/off); content capture is off"
        ),
        "{stderr}"
    );
    let requests = server.requests();
    let records: usize = requests.iter().map(|r| r.xids().len()).sum();
    assert_eq!(records, 2, "the trace and its span are delivered");
    for r in &requests {
        assert!(!String::from_utf8_lossy(&r.body).contains(PROMPT));
    }
}

#[test]
fn the_genai_content_switch_with_an_unreadable_value_fails_closed() {
    let collector = Server::start();
    let (stdout, stderr) = child(&[
        ("MODELMETRY_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base_url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "maybe",
        ),
    ]);
    assert!(stdout.contains("active=true"), "{stdout}\n{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=`maybe`"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(warning.contains("no content attributes"), "{warning}");
    let requests = collector.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let body = String::from_utf8_lossy(&requests[0].body);
    assert!(body.contains("child.turn"), "{body}");
    assert!(!body.contains(PROMPT), "{body}");
}

#[test]
fn an_invalid_otlp_setting_turns_off_the_otlp_exporter_only() {
    let server = Server::start();
    let (stdout, stderr) = child(&[
        ("MODELMETRY_API_KEY", TEST_KEY),
        ("MODELMETRY_BASE_URL", &server.base_url()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert!(stdout.contains("active=true"), "{stdout}\n{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| panic!("the OTLP problem is not reported: {stderr}"));
    assert!(
        line.contains("`grpc` is not supported")
            && line.contains("the Otlp exporter is off, the others run"),
        "{line}"
    );
    let records: usize = server.requests().iter().map(|r| r.xids().len()).sum();
    assert_eq!(records, 2, "Modelmetry still gets the trace\n{stderr}");
}

#[test]
fn an_invalid_otlp_endpoint_is_found_at_init_and_turns_off_otlp_only() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let guard = config_for(&server.base_url(), &diag)
        .exporters([ExporterKind::Http, ExporterKind::Otlp])
        .otlp(OtlpConfig::default().endpoint("localhost:4318/v1/traces"))
        .init()
        .expect("the Modelmetry exporter runs");
    let lines = diag.matching("OTEL_EXPORTER_OTLP_ENDPOINT");
    assert_eq!(lines.len(), 1, "{:?}", diag.lines());
    assert!(
        lines[0].contains("`localhost:4318/v1/traces` is not an absolute http(s) URL")
            && lines[0].contains("the Otlp exporter is off"),
        "{}",
        lines[0]
    );
    let records = record_trace("cfg.otlp_off", 1);
    guard.flush(Duration::from_secs(5)).expect("delivered");
    let delivered: usize = server.requests().iter().map(|r| r.xids().len()).sum();
    assert_eq!(delivered as u64, records);
    drop(guard);

    // Alone, the invalid exporter is an error from `init`.
    let e = Config::default()
        .exporter(ExporterKind::Otlp)
        .otlp(OtlpConfig::default().endpoint("localhost:4318/v1/traces"))
        .init()
        .expect_err("nothing would run");
    assert!(
        matches!(
            e,
            modelmetry::Error::Config {
                setting: "OTEL_EXPORTER_OTLP_ENDPOINT",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_base_url_with_a_query_is_warned_about_and_the_query_left_out() {
    let _lock = modelmetry::testing::lock();
    let server = Server::start();
    let diag = Diagnostics::new();
    let url = format!("{}/?tenant=a#top", server.base_url());
    let guard = config_for(&url, &diag).init().expect("init");
    let lines = diag.matching("MODELMETRY_BASE_URL has a query or fragment");
    assert_eq!(lines.len(), 1, "{:?}", diag.lines());
    assert!(
        lines[0].ends_with(&format!("{}/signals/ingest/v1", server.base_url())),
        "{}",
        lines[0]
    );
    record_trace("cfg.query", 1);
    guard.flush(Duration::from_secs(5)).expect("delivered");
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.path == "/signals/ingest/v1"),
        "{:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    drop(guard);
}

#[test]
fn settings_from_code_warn_through_the_hook_before_init_fails() {
    let _lock = modelmetry::testing::lock();
    let diag = Diagnostics::new();
    // A blank key with the http exporter chosen: an error that says the key is empty.
    let e = Config::default()
        .api_key(" ")
        .exporter(ExporterKind::Http)
        .on_error(diag.hook())
        .init()
        .expect_err("no key");
    assert!(e.to_string().contains("the one given is empty"), "{e}");
    // `none` with others: the warning reaches the hook even though nothing runs.
    let guard = Config::default()
        .exporters([ExporterKind::None, ExporterKind::Console])
        .on_error(diag.hook())
        .init()
        .expect("init");
    assert!(!guard.is_active());
    assert_eq!(diag.matching("`none` wins").len(), 1, "{:?}", diag.lines());
    drop(guard);
}
