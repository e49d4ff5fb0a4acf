//! The export-side cost of pricing: computing each span's cost from its usage, on the finished
//! trace, before any exporter (what the flusher does per trace; the application's threads
//! never do it in background delivery).
//!
//! `cargo bench -p modelmetry-benches --bench pricing`. Each iteration prices a fresh copy of
//! a 100-span trace (every span a gpt-4o-mini call with usage); the copy is made outside the
//! timed part. Criterion reports the time per iteration and the throughput in spans.

use criterion::{BatchSize, Criterion, Throughput};
use modelmetry::bench_support::{Synthetic, warm_prices};

const SPANS: usize = 100;

fn pricing(c: &mut Criterion) {
    // The table is decoded once per process (at init, or by the flusher when first needed).
    let decode = warm_prices();
    eprintln!("decoding the embedded price table took {decode:?}");
    let traces = Synthetic::record(SPANS);
    let mut g = c.benchmark_group("pricing");
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("genai-prices table, per 100-span trace", |b| {
        b.iter_batched(
            || traces.clone(),
            |mut t| t.price(false),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("Config::price, per 100-span trace", |b| {
        b.iter_batched(
            || traces.clone(),
            |mut t| t.price(true),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    pricing(&mut c);
    c.final_summary();
}
