//! A fixed workload for callgrind: rig-shaped GenAI spans through the `tracing` bridge, or
//! through tracing-opentelemetry, in one registry. Instruction counts do not move with the
//! machine's load, as timings do. `bridge_loop mm|otel|off|noop|registry`.

use modelmetry_benches::{otel_provider, rig_chat_span};
use tracing_subscriber::layer::SubscriberExt as _;

/// 100 traces of a root and 100 chat spans.
#[inline(never)]
fn spans() {
    for _ in 0..100 {
        let root = tracing::info_span!("root", gen_ai.operation.name = "invoke_agent");
        let _e = root.enter();
        for _ in 0..100 {
            rig_chat_span();
        }
    }
}

/// A layer that does nothing: what any layer costs in a registry.
struct Noop;
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    match which.as_str() {
        "mm" | "off" => {
            let _on = (which == "mm").then(|| modelmetry::bench_support::install_discarding(false));
            let s = tracing_subscriber::registry().with(modelmetry::tracing::layer());
            tracing::subscriber::with_default(s, spans);
        }
        "otel" => {
            let provider = otel_provider();
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
            let s = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(tracer));
            tracing::subscriber::with_default(s, spans);
            let _ = provider.shutdown();
        }
        "noop" => {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(Noop), spans)
        }
        _ => tracing::subscriber::with_default(tracing_subscriber::registry(), spans),
    }
}
