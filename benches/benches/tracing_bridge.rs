//! The cost of the `tracing` bridge per bridged span, next to tracing-opentelemetry's, in one
//! run. Each iteration opens a root span and `SPANS` GenAI spans under it, shaped as rig-core
//! writes a chat span (operation, provider, model; usage recorded after creation), each
//! entered once and closed. Criterion reports time per iteration, throughput in spans:
//! `cargo bench -p modelmetry-benches --bench tracing_bridge -- --quick`.

use criterion::{Criterion, Throughput};
use modelmetry_benches::{otel_provider, rig_chat_span};
use tracing_subscriber::layer::SubscriberExt as _;

const SPANS: u64 = 100;

fn run() {
    let root = tracing::info_span!("root", gen_ai.operation.name = "invoke_agent");
    let _e = root.enter();
    for _ in 0..SPANS {
        rig_chat_span();
    }
}

fn bridge(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing bridge");
    g.throughput(Throughput::Elements(SPANS));

    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        g.bench_function("registry only", |b| b.iter(run));
    });

    let with_layer = || tracing_subscriber::registry().with(modelmetry::tracing::layer());
    tracing::subscriber::with_default(with_layer(), || {
        // No `init()`: the layer's callbacks each read one atomic and return.
        g.bench_function("registry + modelmetry layer, not initialised", |b| {
            b.iter(run)
        });
    });
    {
        let _on = modelmetry::bench_support::install_discarding(false);
        tracing::subscriber::with_default(with_layer(), || {
            g.bench_function("registry + modelmetry layer, bridged", |b| b.iter(run));
        });
    }
    {
        let _on = modelmetry::bench_support::install_discarding(true);
        tracing::subscriber::with_default(with_layer(), || {
            g.bench_function("registry + modelmetry layer, bridged, capture on", |b| {
                b.iter(run)
            });
        });
    }

    let provider = otel_provider();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
    let otel =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::with_default(otel, || {
        g.bench_function("registry + tracing-opentelemetry", |b| b.iter(run));
    });
    let _ = provider.shutdown();
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bridge(&mut c);
    c.final_summary();
}
