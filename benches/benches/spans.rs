//! The cost of a span, side by side with fastrace, tracing and the OpenTelemetry SDK.
//!
//! Every traced case runs the same work: a root, then `SPANS` calls of a small function (one
//! `&str` argument, a `String` return) each inside a span. Criterion reports the time per
//! span (throughput in elements). `cargo bench -p modelmetry-benches -- --quick` for a fast run.
//!
//! Memory per buffered span is measured with a counting allocator and printed before the
//! criterion runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use criterion::{Criterion, Throughput};
use modelmetry::{Finding, Kind};

const SPANS: u64 = 100;

// ---- a counting allocator, for memory per buffered span -----------------------------------

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

// ---- the work, instrumented each way -------------------------------------------------------

#[inline(never)]
fn work(s: &str) -> String {
    s.to_owned()
}

#[inline(never)]
fn mm_manual(s: &str) -> String {
    let _span = modelmetry::start_span("work", Kind::Other);
    work(s)
}

#[inline(never)]
fn mm_manual_capture(s: &str) -> String {
    let span = modelmetry::start_span("work", Kind::Other);
    span.set_input(s);
    let out = work(s);
    span.set_output(&out);
    out
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_work(s: &str) -> String {
    work(s)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn tracing_work(s: &str) -> String {
    work(s)
}

fn run(f: fn(&str) -> String) {
    for _ in 0..SPANS {
        black_box(f(black_box("hello")));
    }
}

// ---- competitors' set-up -----------------------------------------------------------------

struct NoReport;
impl fastrace::collector::Reporter for NoReport {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

#[derive(Debug)]
struct NoExport;
impl opentelemetry_sdk::trace::SpanExporter for NoExport {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn otel_provider() -> opentelemetry_sdk::trace::SdkTracerProvider {
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(NoExport)
        .build()
}

// ---- benchmarks ----------------------------------------------------------------------------

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    g.throughput(Throughput::Elements(SPANS));

    g.bench_function("baseline: no tracing at all", |b| b.iter(|| run(work)));

    {
        let _off = modelmetry::Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .init();
        g.bench_function("modelmetry: exporter none", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_manual)
            })
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(false);
        g.bench_function("modelmetry: manual, capture off", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_manual)
            })
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(true);
        g.bench_function("modelmetry: manual, capture on", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_manual_capture)
            })
        });
        g.bench_function("modelmetry: finding (number)", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                for _ in 0..SPANS {
                    black_box(Finding::new("score", black_box(0.93)).record());
                }
            })
        });
        g.bench_function("modelmetry: finding (string)", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                for _ in 0..SPANS {
                    black_box(Finding::new("verdict", black_box("pass")).record());
                }
            })
        });
    }

    fastrace::set_reporter(NoReport, fastrace::collector::Config::default());
    g.bench_function("fastrace: #[trace] under a root", |b| {
        b.iter(|| {
            let root = fastrace::Span::root("root", fastrace::prelude::SpanContext::random());
            let _g = root.set_local_parent();
            run(fastrace_work)
        })
    });

    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let registry = tracing_subscriber::registry();
        tracing::subscriber::with_default(registry, || {
            g.bench_function("tracing: #[instrument], registry", |b| {
                b.iter(|| {
                    let root = tracing::info_span!("root");
                    let _e = root.enter();
                    run(tracing_work)
                })
            });
        });

        let provider = otel_provider();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::with_default(subscriber, || {
            g.bench_function("tracing: #[instrument], tracing-opentelemetry", |b| {
                b.iter(|| {
                    let root = tracing::info_span!("root");
                    let _e = root.enter();
                    run(tracing_work)
                })
            });
        });
        let _ = provider.shutdown();
    }

    {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        let provider = otel_provider();
        let tracer = provider.tracer("bench");
        g.bench_function("opentelemetry sdk: span, batch processor", |b| {
            b.iter(|| {
                tracer.in_span("root", |_| {
                    for _ in 0..SPANS {
                        tracer.in_span("work", |_| black_box(work(black_box("hello"))));
                    }
                })
            })
        });
        let _ = provider.shutdown();
    }
    g.finish();
}

fn serialisation(c: &mut Criterion) {
    const N: usize = 10_000;
    let synthetic = modelmetry::bench_support::Synthetic::record(N);
    let bytes = synthetic.encode_ingest(1 << 20);
    let plain = plain_spans(N);
    let plain_bytes = serde_json::to_vec(&plain).map(|v| v.len()).unwrap_or(0);

    let mut g = c.benchmark_group("serialise 10k spans");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("modelmetry: finished trace to ingest requests", |b| {
        b.iter(|| black_box(synthetic.encode_ingest(1 << 20)))
    });
    g.throughput(Throughput::Bytes(plain_bytes as u64));
    g.bench_function("serde_json: plain structs of the same shape", |b| {
        b.iter(|| black_box(serde_json::to_vec(&plain).map(|v| v.len()).unwrap_or(0)))
    });
    g.finish();
}

/// Spans as plain structs with every field already text, serialised by serde_json alone: the
/// ceiling for the ingest encoder, which also formats ids and timestamps and packs requests.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlainSpan {
    #[serde(rename = "XID")]
    xid: String,
    #[serde(rename = "TraceID")]
    trace_id: String,
    name: String,
    start: String,
    end: String,
    family: &'static str,
    family_data: PlainFamilyData,
    metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlainFamilyData {
    options: serde_json::Value,
    usage: serde_json::Value,
}

fn plain_spans(n: usize) -> Vec<PlainSpan> {
    (0..n)
        .map(|i| {
            let mut metadata = serde_json::Map::new();
            metadata.insert("kind".into(), "llm".into());
            metadata.insert("input".into(), "What is the status of order A-1042?".into());
            metadata.insert("output".into(), "Your order is in transit and arrives tomorrow.".into());
            PlainSpan {
                xid: format!("4f0c6c1e-8a2b-4c1d-{:04x}-{:012x}", i % 65536, i),
                trace_id: "4f0c6c1e-8a2b-4c1d-9e3f-0123456789ab".into(),
                name: "llm.generate".into(),
                start: "2026-11-22T03:00:00.123456Z".into(),
                end: "2026-11-22T03:00:00.223456Z".into(),
                family: "completion",
                family_data: PlainFamilyData {
                    options: serde_json::json!({"Model": "gpt-4o-mini", "Provider": "openai"}),
                    usage: serde_json::json!({"Input": {"Amount": 120.0, "Unit": "tokens"}, "Output": {"Amount": 18.0, "Unit": "tokens"}}),
                },
                metadata,
            }
        })
        .collect()
}

/// Live heap bytes per span of a finished trace waiting in the buffer, without content.
fn memory_per_buffered_span() {
    const N: usize = 100_000;
    let guard = modelmetry::bench_support::install_holding();
    let before = LIVE.load(Relaxed);
    {
        let _t = modelmetry::start_trace("root");
        for _ in 0..N {
            let _s = modelmetry::start_span("work", Kind::Other);
        }
    }
    let after = LIVE.load(Relaxed);
    println!(
        "memory per buffered span (no content): {:.1} bytes ({} spans, {} bytes live)",
        (after - before) as f64 / N as f64,
        N,
        after - before
    );
    drop(guard);
}

fn main() {
    memory_per_buffered_span();
    let mut c = Criterion::default().configure_from_args();
    spans(&mut c);
    serialisation(&mut c);
    c.final_summary();
}
