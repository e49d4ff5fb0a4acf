//! W3C Trace Context across processes: a caller injects `traceparent` into a request to
//! another process over loopback; both processes export (to the Modelmetry API and over OTLP);
//! the spans form one trace, with the service's span under the caller's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use modelmetry::{ExporterKind, Kind, OtlpConfig};
use modelmetry_tests::{Diagnostics, Server, config_for};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

const INGEST_ENV: &str = "MODELMETRY_TEST_SERVICE_INGEST";
const COLLECTOR_ENV: &str = "MODELMETRY_TEST_SERVICE_COLLECTOR";

fn config(ingest: &str, collector: &str) -> modelmetry::Config {
    config_for(ingest, &Diagnostics::new())
        .exporters([ExporterKind::Http, ExporterKind::Otlp])
        .otlp(OtlpConfig::default().endpoint(format!("{collector}/v1/traces")))
}

/// The service process. It does nothing in a normal test run; the test below starts this
/// binary again with the environment set, and this function then serves one request.
#[test]
fn service_process() {
    let (Ok(ingest), Ok(collector)) = (std::env::var(INGEST_ENV), std::env::var(COLLECTOR_ENV))
    else {
        return;
    };
    let guard = config(&ingest, &collector).init().expect("init");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("\nPORT {}", listener.local_addr().expect("addr").port());
    std::io::stdout().flush().ok();

    let (stream, _) = listener.accept().expect("a request");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let ctx = modelmetry::propagation::extract(|name| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    });
    assert!(
        !ctx.is_empty(),
        "the request carried a traceparent: {headers:?}"
    );
    {
        let _attached = ctx.attach();
        let _handle = modelmetry::start_span("service.handle", Kind::Agent);
        let _lookup = modelmetry::start_span("service.lookup", Kind::Tool);
    }
    let mut stream = stream;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        .expect("answer");
    guard
        .flush(Duration::from_secs(3))
        .expect("the service's spans delivered");
}

fn otlp_spans(server: &Server) -> Vec<Span> {
    server
        .requests()
        .iter()
        .flat_map(|r| {
            ExportTraceServiceRequest::decode(r.body.as_slice())
                .expect("decodes")
                .resource_spans
        })
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

#[test]
fn a_trace_continues_in_the_process_a_request_reaches() {
    if std::env::var(INGEST_ENV).is_ok() {
        return;
    }
    let _lock = modelmetry::testing::lock();
    let ingest = Server::start();
    let collector = Server::start();
    let mut service = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "service_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INGEST_ENV, ingest.base_url())
        .env(COLLECTOR_ENV, collector.base_url())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the service process");
    let mut lines = BufReader::new(service.stdout.take().expect("stdout")).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        // libtest may print `test service_process ... ` on the same line first.
        .find_map(|l| l.split("PORT ").nth(1).and_then(|p| p.trim().parse().ok()))
        .expect("the service says its port");

    let guard = config(&ingest.base_url(), &collector.base_url())
        .init()
        .expect("init");
    {
        let _trace = modelmetry::start_trace("frontend.request");
        let _call = modelmetry::start_span("call service", Kind::Tool);
        let mut request = String::from("GET /answer HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        modelmetry::propagation::inject(|name, value| {
            request.push_str(&format!("{name}: {value}\r\n"))
        });
        request.push_str("\r\n");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        assert!(answer.ends_with("ok"), "{answer}");
    }
    guard
        .flush(Duration::from_secs(3))
        .expect("the caller's spans delivered");
    drop(guard);
    assert!(service.wait().expect("the service exits").success());

    // The Modelmetry API: one trace record (the caller's), the service's spans under the
    // caller's span, by XID.
    let bodies: Vec<_> = ingest.requests().iter().map(|r| r.ingest()).collect();
    let traces: Vec<_> = bodies.iter().flat_map(|b| &b.traces).collect();
    let spans: Vec<_> = bodies.iter().flat_map(|b| &b.spans).collect();
    assert_eq!(
        traces.len(),
        1,
        "the service does not create a second trace"
    );
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .copied()
            .unwrap_or_else(|| panic!("{n} in {spans:?}"))
    };
    let call = by_name("call service");
    let handle = by_name("service.handle");
    let lookup = by_name("service.lookup");
    assert!(spans.iter().all(|s| s.trace_id == traces[0].xid));
    assert_eq!(handle.parent_id.as_ref(), Some(&call.xid));
    assert_eq!(lookup.parent_id.as_ref(), Some(&handle.xid));

    // OpenTelemetry: the same tree by trace and span ids, the service's root marked as having
    // a remote parent.
    let spans = otlp_spans(&collector);
    let find = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let call = find("execute_tool call service");
    let handle = find("invoke_agent service.handle");
    assert_eq!(handle.trace_id, call.trace_id);
    assert_eq!(handle.parent_span_id, call.span_id);
    assert_eq!(handle.flags & 0x300, 0x300, "parent is remote");
    assert_eq!(call.flags & 0x300, 0x100, "parent is local");
}

#[test]
fn a_malformed_traceparent_starts_a_fresh_trace() {
    let _rec = modelmetry::testing::Recorder::install();
    for bad in [
        "",
        "garbage",
        "00-00000000000000000000000000000000-0000000000000000-01",
    ] {
        let ctx = modelmetry::propagation::extract(|name| {
            (name == "traceparent").then(|| bad.to_owned())
        });
        assert!(ctx.is_empty(), "{bad:?}");
    }
    let ctx = modelmetry::propagation::from_headers(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        Some("vendor=opaque"),
    );
    let _attached = ctx.attach();
    let mut seen = Vec::new();
    modelmetry::propagation::inject(|k, v| seen.push((k.to_owned(), v.to_owned())));
    assert_eq!(
        seen[0],
        (
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()
        )
    );
    assert_eq!(
        seen[1],
        ("tracestate".into(), "vendor=opaque".into()),
        "tracestate passed through"
    );
}
