//! A fixed workload for callgrind: rig-shaped GenAI spans through the `tracing` bridge, or
//! through tracing-opentelemetry, in one registry. Instruction counts do not move with the
//! machine's load, as timings do. `bridge_loop mm|otel|off|noop|registry`.

use std::hint::black_box;

use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt as _;

#[inline(never)]
fn chat_span() {
    let span = tracing::info_span!(
        target: "rig::completions",
        "chat",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "openai",
        gen_ai.request.model = "gpt-4o",
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
    );
    let _e = span.enter();
    span.record("gen_ai.usage.input_tokens", black_box(120u64));
    span.record("gen_ai.usage.output_tokens", black_box(18u64));
}

/// 100 traces of a root and 100 chat spans.
#[inline(never)]
fn spans() {
    for _ in 0..100 {
        let root = tracing::info_span!("root", gen_ai.operation.name = "invoke_agent");
        let _e = root.enter();
        for _ in 0..100 {
            chat_span();
        }
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
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(NoExport)
                .build();
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
