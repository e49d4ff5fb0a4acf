//! The cost per streamed item of a traced stream, next to the bare iterator.
//!
//! Each case consumes `ITEMS` text chunks; criterion reports the time per iteration and the
//! throughput in items. The traced cases open one trace per iteration, so the span's own open
//! and close (and the trace's hand-off to a discarding exporter) are spread over the items, as
//! they are over a streamed answer. `cargo bench -p modelmetry-benches --bench stream`.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use modelmetry::{Fold, Kind, Traced, fold, span};

const ITEMS: u64 = 1_000;

/// The chunks of a streamed answer.
fn chunks() -> impl Iterator<Item = &'static str> {
    ["The ", "order ", "ships ", "today. "]
        .into_iter()
        .cycle()
        .take(ITEMS as usize)
}

#[span(kind = "llm", stream)]
fn streamed() -> impl Iterator<Item = &'static str> {
    chunks()
}

/// Consume the items as a caller printing them would: look at each.
#[inline(never)]
fn consume(items: impl Iterator<Item = &'static str>) -> usize {
    items.map(|c| black_box(c).len()).sum()
}

/// The chunks, traced with `fold`.
fn traced<F: Fold<&'static str>>(fold: F) -> usize {
    consume(Traced::new(chunks(), "llm.stream", Kind::Llm, fold))
}

/// The same, inside a root opened for the iteration.
fn traced_in_root<F: Fold<&'static str>>(fold: F) -> usize {
    let _t = modelmetry::start_trace("root");
    traced(fold)
}

fn stream(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(ITEMS));

    g.bench_function("baseline: the bare iterator", |b| {
        b.iter(|| consume(chunks()))
    });
    {
        let _off = modelmetry::Config::default()
            .exporter(modelmetry::ExporterKind::None)
            .init();
        g.bench_function("Traced, tracing off", |b| {
            b.iter(|| traced(fold::Text::default()))
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(false);
        g.bench_function("Traced, capture off", |b| {
            b.iter(|| traced_in_root(fold::Text::default()))
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(true);
        g.bench_function("Traced, fold::Nothing", |b| {
            b.iter(|| traced_in_root(fold::Nothing))
        });
        g.bench_function("Traced, fold::Text (text joined)", |b| {
            b.iter(|| traced_in_root(fold::Text::default()))
        });
        g.bench_function("Traced, fold::Json (each item as JSON)", |b| {
            b.iter(|| traced_in_root(fold::Json::default()))
        });
        g.bench_function("#[span(stream)], text joined", |b| {
            b.iter(|| {
                let _t = modelmetry::start_trace("root");
                consume(streamed())
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    stream(&mut c);
    c.final_summary();
}
