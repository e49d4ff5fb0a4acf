//! The cost of a span, side by side with fastrace, tracing and the OpenTelemetry SDK.
//!
//! Every traced case runs the same work: a root, then `SPANS` calls of a small function (one
//! `&str` argument, a `String` return) each inside a span. Criterion reports the time per
//! iteration (throughput in elements: spans). `cargo bench -p modelmetry-benches -- --quick`
//! runs everything in a few minutes and ends with the table of BENCHMARKS.md: per-span medians
//! with the bare work subtracted, and the ratios.
//!
//! Memory per buffered span is measured with a counting allocator before the criterion runs.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput};
use modelmetry::Kind;
use modelmetry_benches::{Counting, NoReport, live_bytes, otel_provider};

const SPANS: u64 = 100;

// ---- a counting allocator, for memory per buffered span ------------------------------------

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

#[modelmetry::span]
#[inline(never)]
fn mm_span(s: &str) -> String {
    work(s)
}

/// Work that allocates nothing, for the paths that should cost almost nothing: measured
/// against the bare allocation, their few nanoseconds would drown in its noise.
#[inline(never)]
fn len(s: &str) -> usize {
    s.len()
}

#[modelmetry::span]
#[inline(never)]
fn mm_span_len(s: &str) -> usize {
    len(s)
}

fn run_len(f: fn(&str) -> usize) {
    for _ in 0..SPANS {
        black_box(f(black_box("hello")));
    }
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

/// The work between two readings of the clock modelmetry times spans with, kept as a span
/// record would keep them: the floor under any span that records its start and end.
#[inline(never)]
fn clock_work(s: &str) -> String {
    let start = modelmetry::bench_support::clock_read();
    let out = work(s);
    let end = modelmetry::bench_support::clock_read();
    black_box((start, end));
    out
}

fn run(f: fn(&str) -> String) {
    for _ in 0..SPANS {
        black_box(f(black_box("hello")));
    }
}

// ---- competitors' set-up -----------------------------------------------------------------

// ---- benchmarks ----------------------------------------------------------------------------

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span");
    g.throughput(Throughput::Elements(SPANS));

    g.bench_function("baseline: no tracing at all", |b| b.iter(|| run(work)));

    g.bench_function("baseline: empty fn", |b| b.iter(|| run_len(len)));
    g.bench_function("floor: two clock reads around the work", |b| {
        b.iter(|| run(clock_work))
    });
    // Nothing initialised yet: the path of a program that never calls `init`.
    g.bench_function("modelmetry: #[span] empty fn, not initialised", |b| {
        b.iter(|| {
            let _t = modelmetry::start_trace("root");
            run_len(mm_span_len)
        })
    });
    {
        let _off = modelmetry::Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .init();
        g.bench_function("modelmetry: #[span] empty fn, exporter none", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run_len(mm_span_len)
            })
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(false);
        g.bench_function("modelmetry: #[span], capture off", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_span)
            })
        });
        g.bench_function("modelmetry: manual, capture off", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_manual)
            })
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(true);
        g.bench_function("modelmetry: #[span], capture on", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_span)
            })
        });
        g.bench_function("modelmetry: manual, capture on", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                run(mm_manual_capture)
            })
        });
        g.bench_function("modelmetry: finding! (number)", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                for _ in 0..SPANS {
                    modelmetry::finding!(score = black_box(0.93));
                }
            })
        });
        g.bench_function("modelmetry: finding! (string)", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                for _ in 0..SPANS {
                    modelmetry::finding!(verdict = black_box("pass"));
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

/// Returns the bytes each contender writes, for the table.
fn serialisation(c: &mut Criterion) -> (usize, usize) {
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
    (bytes, plain_bytes)
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
fn memory_per_buffered_span() -> f64 {
    const N: usize = 100_000;
    let guard = modelmetry::bench_support::install_holding();
    let before = live_bytes();
    {
        let _t = modelmetry::start_trace("root");
        for _ in 0..N {
            let _s = modelmetry::start_span("work", Kind::Other);
        }
    }
    let after = live_bytes();
    let per_span = (after - before) as f64 / N as f64;
    println!(
        "memory per buffered span (no content): {per_span:.1} bytes ({N} spans, {} bytes live)",
        after - before
    );
    drop(guard);
    per_span
}

// ---- end to end: 10,000 spans to a loopback server --------------------------------------

/// From a closed 10,000-span trace to every request answered: encoding, packing, HTTP over
/// loopback (the recording of the spans is not timed).
fn flush_to_loopback(c: &mut Criterion) {
    const N: u64 = 10_000;
    let url = modelmetry_benches::loopback_server();
    let guard = modelmetry::Config::default()
        .api_key("bench")
        .base_url(url)
        .capture_content(false)
        .init();
    let guard = match guard {
        Ok(g) => g,
        Err(e) => panic!("cannot start the client: {e}"),
    };
    let mut g = c.benchmark_group("end to end");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("modelmetry: flush 10k spans to a loopback server", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let trace = modelmetry::start_trace("root");
                for _ in 0..N {
                    let _s = modelmetry::start_span("work", Kind::Other);
                }
                let start = Instant::now();
                drop(trace);
                if let Err(e) = modelmetry::flush(Duration::from_secs(30)) {
                    panic!("flush failed: {e}");
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    drop(guard);
    println!(
        "loopback server received {:.1} MB in all",
        modelmetry_benches::received_bytes() as f64 / 1e6
    );
}

// ---- the table ------------------------------------------------------------------------------

/// Criterion's median for each benchmark of this run, by its full id.
fn medians(since: SystemTime) -> Vec<(String, f64)> {
    let root = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if !path.ends_with("new/estimates.json") {
                continue;
            }
            let fresh = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            let read = |p: &Path| -> Option<serde_json::Value> {
                serde_json::from_slice(&std::fs::read(p).ok()?).ok()
            };
            let (Some(est), Some(meta)) =
                (read(&path), read(&path.with_file_name("benchmark.json")))
            else {
                continue;
            };
            if let (true, Some(id), Some(median)) = (
                fresh,
                meta["full_id"].as_str(),
                est["median"]["point_estimate"].as_f64(),
            ) {
                out.push((id.to_owned(), median));
            }
        }
    }
    out
}

/// Print the table of BENCHMARKS.md from this run's medians.
fn table(since: SystemTime, memory: f64, ingest_bytes: usize, plain_bytes: usize) {
    let all = medians(since);
    let get = |id: &str| all.iter().find(|(k, _)| k == id).map(|(_, v)| *v);
    let per = SPANS as f64;
    let Some(base) = get("span/baseline: no tracing at all").map(|b| b / per) else {
        println!("(no baseline in this run: the table needs the `span` group)");
        return;
    };
    let span = |name: &str| get(&format!("span/{name}")).map(|v| v / per - base);
    let empty = get("span/baseline: empty fn").map(|b| b / per);
    let reference = span("modelmetry: #[span], capture off");
    println!(
        "\n| case | per span or finding (ns, median; bare work subtracted from spans) | × modelmetry #[span] capture off |"
    );
    println!("| --- | ---: | ---: |");
    println!("| bare work (`s.to_owned()`), no tracing | {base:.1} (not subtracted) | |");
    if let Some(e) = empty {
        println!("| bare empty fn (`s.len()`), no tracing | {e:.1} (not subtracted) | |");
        for name in [
            "modelmetry: #[span] empty fn, not initialised",
            "modelmetry: #[span] empty fn, exporter none",
        ] {
            if let Some(v) = get(&format!("span/{name}")) {
                println!("| {name} | {:.1} | |", v / per - e);
            }
        }
    }
    for name in [
        "floor: two clock reads around the work",
        "modelmetry: #[span], capture off",
        "modelmetry: manual, capture off",
        "modelmetry: #[span], capture on",
        "modelmetry: manual, capture on",
        "modelmetry: finding! (number)",
        "modelmetry: finding! (string)",
        "fastrace: #[trace] under a root",
        "tracing: #[instrument], registry",
        "tracing: #[instrument], tracing-opentelemetry",
        "opentelemetry sdk: span, batch processor",
    ] {
        // A finding loop runs no work: nothing to subtract.
        let value = if name.contains("finding!") {
            get(&format!("span/{name}")).map(|v| v / per)
        } else {
            span(name)
        };
        if let Some(v) = value {
            let ratio = match reference {
                Some(r)
                    if r > 0.0 && !name.starts_with("modelmetry") && !name.starts_with("floor") =>
                {
                    format!("{:.1}×", v / r)
                }
                _ => String::new(),
            };
            println!("| {name} | {v:.1} | {ratio} |");
        }
    }
    let mib = |bytes: usize, ns: f64| bytes as f64 / (1024.0 * 1024.0) / (ns / 1e9);
    let ingest = get("serialise 10k spans/modelmetry: finished trace to ingest requests");
    let plain = get("serialise 10k spans/serde_json: plain structs of the same shape");
    if let (Some(i), Some(p)) = (ingest, plain) {
        let (i, p) = (mib(ingest_bytes, i), mib(plain_bytes, p));
        println!(
            "| serialise 10k spans: modelmetry to ingest requests | {i:.0} MiB/s | {:.2}× serde_json |",
            i / p
        );
        println!("| serialise 10k spans: serde_json, plain structs | {p:.0} MiB/s | |");
    }
    if let Some(f) = get("end to end/modelmetry: flush 10k spans to a loopback server") {
        println!(
            "| flush 10k spans to a loopback server | {:.1} ms ({:.0} ns per span) | |",
            f / 1e6,
            f / 10_000.0
        );
    }
    println!("| memory per buffered span, no content | {memory:.1} bytes | |");
}

fn main() {
    let since = SystemTime::now();
    let memory = memory_per_buffered_span();
    let mut c = Criterion::default().configure_from_args();
    spans(&mut c);
    let (ingest_bytes, plain_bytes) = serialisation(&mut c);
    flush_to_loopback(&mut c);
    c.final_summary();
    table(since, memory, ingest_bytes, plain_bytes);
}
