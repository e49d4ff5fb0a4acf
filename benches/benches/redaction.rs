//! The redaction pass (issue 19): every preset pattern over every string of a finished trace,
//! as `Pipeline::submit` runs it before the fan-out, on the thread that closed the trace.
//!
//! The trace is the serialisation benchmarks' synthetic one (a root and 10 model-call spans
//! with model, provider, a short input and output, usage: 11 records, no secret in it, the
//! common case); each iteration redacts a fresh copy (the copy is not timed). Three cases:
//! patterns only, patterns and a user hook that changes nothing (the hook's own cost: every
//! value handed over as JSON), and, for scale, the ingest encoding of the same trace.
//!
//! `cargo bench -p modelmetry-benches --bench redaction`

use criterion::{BatchSize, Criterion};
use modelmetry::bench_support::Synthetic;

const SPANS: usize = 10;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let synthetic = Synthetic::record(SPANS);
    let mut group = c.benchmark_group("redaction");
    group.bench_function("presets, 10 spans", |b| {
        b.iter_batched(
            || synthetic.copy(),
            |mut t| t.redact(false),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("presets and a no-op hook, 10 spans", |b| {
        b.iter_batched(
            || synthetic.copy(),
            |mut t| t.redact(true),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("ingest encoding, 10 spans (for scale)", |b| {
        b.iter(|| synthetic.encode_ingest(1 << 20))
    });
    group.finish();
    c.final_summary();
}
