//! Secrets never travel in clear and never show: plain `http://` to a remote OTLP endpoint
//! with headers is refused as it is for the base URL; a proxy from the environment is not
//! used for a loopback URL; a key or header value that HTTP cannot carry is refused at
//! `init`, not retried; `Debug` shows no header value or URL password.

use std::process::Command;
use std::time::{Duration, Instant};

use modelmetry::{Config, Error, ExporterKind, OtlpConfig};
use modelmetry_tests::{Server, TEST_KEY};

const REMOTE: &str = "http://collector.example.com:4318/v1/traces";
const TOKEN: &str = "Bearer otlp-token-0123456789";

fn setting_of(result: Result<modelmetry::InitGuard, Error>) -> &'static str {
    match result {
        Err(Error::Config { setting, reason }) => {
            assert!(
                !reason.contains(TOKEN) && !reason.contains(TEST_KEY),
                "{reason}"
            );
            setting
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

fn otlp_only(otlp: OtlpConfig) -> Config {
    Config::default().exporter(ExporterKind::Otlp).otlp(otlp)
}

#[test]
fn plain_http_to_a_remote_otlp_endpoint_with_headers_is_refused_unless_allowed() {
    let _lock = modelmetry::testing::lock();
    let with_token = OtlpConfig::default()
        .endpoint(REMOTE)
        .header("authorization", TOKEN);
    let e = otlp_only(with_token.clone()).init();
    assert!(
        matches!(&e, Err(Error::Config { reason, .. }) if reason.contains("would send the OTLP headers in clear")),
        "{e:?}"
    );
    assert_eq!(setting_of(e), "OTEL_EXPORTER_OTLP_ENDPOINT");

    // Allowed on the OTLP settings or on the whole config; no headers, or loopback, need no leave.
    for allowed in [
        otlp_only(with_token.clone().allow_insecure_http(true)),
        otlp_only(with_token.clone()).allow_insecure_http(true),
        otlp_only(OtlpConfig::default().endpoint(REMOTE)),
        otlp_only(
            OtlpConfig::default()
                .endpoint("http://[::1]:4318/v1/traces")
                .header("authorization", TOKEN),
        ),
        otlp_only(
            OtlpConfig::default()
                .endpoint("https://collector.example.com/v1/traces")
                .header("authorization", TOKEN),
        ),
    ] {
        let shown = format!("{allowed:?}");
        let guard = allowed.shutdown_timeout(Duration::ZERO).init();
        assert!(guard.is_ok(), "{shown}: {guard:?}");
    }
}

#[test]
fn a_key_or_header_with_a_control_character_is_refused_at_init() {
    let _lock = modelmetry::testing::lock();
    let started = Instant::now();
    for key in ["mm_abc\ndef", "mm_abc\r\nX-Other: 1", "mm_\u{7f}abc"] {
        let e = Config::default()
            .api_key(key)
            .base_url("http://127.0.0.1:9")
            .init();
        assert_eq!(setting_of(e), "MODELMETRY_API_KEY", "{key:?}");
    }
    let e = otlp_only(OtlpConfig::default().header("authorization", "Bearer a\nb"));
    let e = e.init();
    match &e {
        Err(Error::Config { reason, .. }) => {
            assert!(reason.contains("header `authorization`"), "{reason}");
            assert!(!reason.contains("Bearer"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(setting_of(e), "OTEL_EXPORTER_OTLP_HEADERS");
    let e = otlp_only(OtlpConfig::default().header("bad name", "v")).init();
    assert_eq!(setting_of(e), "OTEL_EXPORTER_OTLP_HEADERS");
    // Refused at once, not retried until a deadline.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn debug_shows_no_header_value_and_no_url_password() {
    let otlp = OtlpConfig::default()
        .endpoint("https://user:url-password@collector.example.com/v1/traces")
        .header("authorization", TOKEN)
        .header("x-honeycomb-team", "hc-team-secret");
    let config = Config::default()
        .api_key(TEST_KEY)
        .base_url("https://u:base-password@api.example.com")
        .otlp(otlp.clone());
    for shown in [
        format!("{otlp:?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
    ] {
        for secret in [
            TOKEN,
            "hc-team-secret",
            "url-password",
            "base-password",
            TEST_KEY,
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("authorization"), "{shown}");
        assert!(shown.contains("x-honeycomb-team"), "{shown}");
        assert!(shown.contains("collector.example.com"), "{shown}");
    }
}

/// Set in the child: send one trace to this base URL (from the environment, with a proxy).
const CHILD_URL: &str = "CLEARTEXT_CHILD_URL";

#[test]
fn child_sends_through_the_environment() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let guard = Config::default()
        .api_key(TEST_KEY)
        .base_url(url)
        .request_timeout(Duration::from_secs(2))
        .export_timeout(Duration::from_secs(3))
        .init()
        .expect("init");
    modelmetry_tests::record_trace("cleartext.proxy", 1);
    let result = guard.flush(Duration::from_secs(5));
    println!("flush={result:?}");
    drop(guard);
}

#[test]
fn a_proxy_from_the_environment_is_not_used_for_a_loopback_url() {
    let server = Server::start();
    let proxy = Server::start();
    let proxy_url = proxy.base_url();
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command.args([
        "--exact",
        "child_sends_through_the_environment",
        "--test-threads=1",
        "--nocapture",
    ]);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.to_ascii_uppercase().ends_with("_PROXY") {
            command.env_remove(name);
        }
    }
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
    ] {
        command.env(var, &proxy_url);
    }
    command.env(CHILD_URL, server.base_url());
    let out = command.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("flush=Ok(())"), "{stdout}\n{stderr}");
    let through_proxy = proxy.requests();
    assert!(
        through_proxy.is_empty(),
        "the key went to the proxy: {through_proxy:?}"
    );
    let direct = server.requests();
    assert_eq!(direct.len(), 1, "{stderr}");
    assert_eq!(direct[0].header("X-API-KEY"), Some(TEST_KEY));
}
