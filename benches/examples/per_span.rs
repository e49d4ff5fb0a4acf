//! What one span costs, modelmetry against fastrace (and tracing, and the OpenTelemetry SDK),
//! each library in its own process, alternating, so that neither inherits the other's caches,
//! allocator state or thread-locals, and the machine's load falls on both alike.
//!
//! Per process: one root, `CALLS` calls of a non-inlined `fn(u64) -> u64` each inside a span,
//! capture off, only the loop timed; the root closes and the trace is exported between rounds.
//!
//! ```text
//! cargo build --profile bench -p modelmetry-benches --example per_span
//! target/release/examples/per_span compare        # 5 alternating processes each, medians, ratios
//! target/release/examples/per_span run fastrace   # one process: ns per span for each round
//! valgrind --tool=callgrind --toggle-collect='per_span::counted' \
//!     target/release/examples/per_span once modelmetry   # instructions in the loop / CALLS
//! ```
//!
//! `once` runs a warm-up round and then the round callgrind counts (`counted`): the steady
//! state, as in `run`, where each library's first trace has grown its buffers and later
//! traces reuse them.
//!
//! `compare` also takes `--processes N` and a list of libraries (default: all four and the
//! bare loop). `modelmetry-off` (never initialised) and `tracing-off` (no subscriber) are the
//! disabled paths.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use modelmetry_benches::{NoReport, otel_provider};

const CALLS: u64 = 10_000;
const ROUNDS: usize = 12;
const WARMUP: usize = 2;
const LIBRARIES: [&str; 4] = ["modelmetry", "fastrace", "tracing", "opentelemetry"];

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x.wrapping_mul(31).wrapping_add(7))
}

#[modelmetry::span]
#[inline(never)]
fn mm_traced(x: u64) -> u64 {
    plain(x)
}

#[fastrace::trace]
#[inline(never)]
fn fastrace_traced(x: u64) -> u64 {
    plain(x)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn tracing_traced(x: u64) -> u64 {
    plain(x)
}

/// The round callgrind counts: `--toggle-collect='per_span::counted'`.
#[inline(never)]
fn counted(f: &mut dyn FnMut() -> u64) -> u64 {
    f()
}

// One loop per library.

#[inline(never)]
fn calls_modelmetry() -> u64 {
    (0..CALLS).fold(0, |acc, i| acc ^ mm_traced(black_box(i)))
}

#[inline(never)]
fn calls_fastrace() -> u64 {
    (0..CALLS).fold(0, |acc, i| acc ^ fastrace_traced(black_box(i)))
}

#[inline(never)]
fn calls_tracing() -> u64 {
    (0..CALLS).fold(0, |acc, i| acc ^ tracing_traced(black_box(i)))
}

#[inline(never)]
fn calls_opentelemetry(tracer: &opentelemetry_sdk::trace::SdkTracer) -> u64 {
    use opentelemetry::trace::Tracer as _;
    (0..CALLS).fold(0, |acc, i| {
        acc ^ tracer.in_span("plain", |_| plain(black_box(i)))
    })
}

#[inline(never)]
fn calls_baseline() -> u64 {
    (0..CALLS).fold(0, |acc, i| acc ^ plain(black_box(i)))
}

/// Runs `rounds` rounds of one library in this process; returns ns per span for each. With
/// `count_last`, the last round runs inside [`counted`].
fn rounds(library: &str, rounds: usize, count_last: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(rounds);
    let mut round = 0;
    let mut timed = |f: &mut dyn FnMut() -> u64| {
        round += 1;
        let start = Instant::now();
        if count_last && round == rounds {
            black_box(counted(f));
        } else {
            black_box(f());
        }
        start.elapsed().as_nanos() as f64 / CALLS as f64
    };
    match library {
        "modelmetry" => {
            let _on = modelmetry::bench_support::install_discarding(false);
            for _ in 0..rounds {
                let root = modelmetry::start_trace("root");
                out.push(timed(&mut calls_modelmetry));
                drop(root);
                let _ = modelmetry::flush(std::time::Duration::from_secs(5));
            }
        }
        "fastrace" => {
            fastrace::set_reporter(NoReport, fastrace::collector::Config::default());
            for _ in 0..rounds {
                let root = fastrace::Span::root("root", fastrace::prelude::SpanContext::random());
                let guard = root.set_local_parent();
                out.push(timed(&mut calls_fastrace));
                drop(guard);
                drop(root);
                fastrace::flush();
            }
        }
        "tracing" => {
            // The registry and one layer that does nothing: tracing's cost of a span.
            use tracing_subscriber::layer::SubscriberExt as _;
            struct Noop;
            impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}
            let subscriber = tracing_subscriber::registry().with(Noop);
            tracing::subscriber::with_default(subscriber, || {
                for _ in 0..rounds {
                    let root = tracing::info_span!("root");
                    let entered = root.enter();
                    out.push(timed(&mut calls_tracing));
                    drop(entered);
                }
            });
        }
        "opentelemetry" => {
            use opentelemetry::trace::{Tracer as _, TracerProvider as _};
            let provider = otel_provider();
            let tracer = provider.tracer("bench");
            for _ in 0..rounds {
                tracer.in_span("root", |_| {
                    out.push(timed(&mut || calls_opentelemetry(&tracer)));
                });
                let _ = provider.force_flush();
            }
            let _ = provider.shutdown();
        }
        // The disabled paths: modelmetry never initialised, tracing with no subscriber.
        "modelmetry-off" => {
            for _ in 0..rounds {
                out.push(timed(&mut calls_modelmetry));
            }
        }
        "tracing-off" => {
            for _ in 0..rounds {
                out.push(timed(&mut calls_tracing));
            }
        }
        "baseline" => {
            for _ in 0..rounds {
                out.push(timed(&mut calls_baseline));
            }
        }
        other => {
            eprintln!(
                "per_span: unknown library {other:?} (one of {LIBRARIES:?}, modelmetry-off, \
                 tracing-off or baseline)"
            );
            std::process::exit(2);
        }
    }
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One child process: its rounds after warm-up, the median.
fn child(library: &str) -> f64 {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let output = Command::new(exe)
        .args(["run", library])
        .output()
        .expect("run a child process");
    let text = String::from_utf8_lossy(&output.stdout);
    let per_round: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    if !output.status.success() || per_round.is_empty() {
        eprintln!(
            "per_span: child {library} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::process::exit(1);
    }
    median(per_round)
}

fn compare(args: &[String]) {
    let mut processes = 5;
    let mut libraries: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--processes" {
            processes = it.next().and_then(|n| n.parse().ok()).unwrap_or(processes);
        } else {
            libraries.push(arg.clone());
        }
    }
    if libraries.is_empty() {
        libraries = LIBRARIES.iter().map(|s| s.to_string()).collect();
        libraries.push("baseline".into());
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); libraries.len()];
    for _ in 0..processes {
        for (i, library) in libraries.iter().enumerate() {
            results[i].push(child(library));
        }
    }
    let medians: Vec<f64> = results.iter().cloned().map(median).collect();
    let reference = libraries
        .iter()
        .position(|l| l == "fastrace")
        .map(|i| medians[i]);
    println!(
        "per span: one root, {CALLS} calls of fn(u64) -> u64, capture off; \
         {processes} processes per library, alternating; median of their medians"
    );
    println!(
        "{:<16} {:>10} {:>12}  per process",
        "library", "ns/span", "vs fastrace"
    );
    for (i, library) in libraries.iter().enumerate() {
        let ratio = reference.map_or(String::from("-"), |r| format!("{:.2}x", medians[i] / r));
        let each: Vec<String> = results[i].iter().map(|v| format!("{v:.1}")).collect();
        println!(
            "{library:<16} {:>10.1} {ratio:>12}  {}",
            medians[i],
            each.join(" ")
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => {
            let library = args.get(1).map_or("modelmetry", String::as_str);
            let all = rounds(library, WARMUP + ROUNDS, false);
            let kept: Vec<String> = all[WARMUP..].iter().map(|v| format!("{v:.2}")).collect();
            println!("{}", kept.join(" "));
        }
        Some("once") => {
            // A warm-up round, then the one callgrind counts.
            let library = args.get(1).map_or("modelmetry", String::as_str);
            rounds(library, 2, true);
        }
        Some("compare") | None => compare(args.get(1..).unwrap_or(&[])),
        Some(other) => {
            eprintln!(
                "per_span: unknown command {other:?} (compare, run <library>, once <library>)"
            );
            std::process::exit(2);
        }
    }
}
